/* tests/unit/gateway/test_proxy.c: the reverse proxy end to end: a test gateway (MHD thread pool on epoll, suspended connections, gw_proxy_forward) in front of echo-upstream, driven with libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/httputil.h"
#include "gateway/jwt.h"
#include "gateway/proxy.h"
#include "tests/lib/testdb.h"

#define ISS "https://gw.test"
#define AUD "hall"
#define BIG (5 * 1024 * 1024)

extern char **environ;

/* A test gateway: an MHD daemon whose every request goes through px. */
struct gwd {
	struct MHD_Daemon *d;
	unsigned port;
	struct gw_proxy *px;
};

static char tmpdir[256];
static struct testdb db;
static struct store *st;
static struct gw_jwt *jwt;
static char *jwks;
static pid_t echo_pid = -1;
static unsigned echo_port;
static struct gwd gw_ok, gw_down, gw_slow;

struct treq {
	char *uri;
	unsigned char *body;
	size_t len, cap;
	int started; /* the first call, headers only, has been seen */
	struct gw_proxy_xfer *x; /* the exchange under way */
};

static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct treq *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (r != NULL)
		r->uri = strdup(uri);
	return r;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct treq *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r != NULL) {
		gw_proxy_abandon(r->x);
		free(r->uri);
		free(r->body);
		free(r);
	}
	*con_cls = NULL;
}

/* What the real gateway does, reduced: normalise the path, make the
 * assertion, forward. The JWKS is served here for echo-upstream. */
static enum MHD_Result
gw_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct gwd *g = cls;
	struct treq *r = *con_cls;
	struct gw_identity id;
	char path[2048], pq[4096], *tok = NULL;
	const char *q, *add[13];
	static const char *const extra[] = { "X-Request-Id", "req-1",
		"X-Frame-Options", "DENY", "X-Echo-Server", "gateway", NULL };
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t pl;

	(void)version;
	if (r == NULL || r->uri == NULL)
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		return MHD_YES;
	}
	if (r->x != NULL)
		return gw_proxy_continue(&r->x, c);
	if (*upload_data_size > 0) {
		if (r->len + *upload_data_size > r->cap) {
			size_t nc = (r->len + *upload_data_size) * 2;
			unsigned char *t = realloc(r->body, nc);

			if (t == NULL)
				return MHD_NO;
			r->body = t;
			r->cap = nc;
		}
		memcpy(r->body + r->len, upload_data, *upload_data_size);
		r->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/.well-known/jwks.json") == 0) {
		resp = MHD_create_response_from_buffer(strlen(jwks), jwks,
		    MHD_RESPMEM_MUST_COPY);
		ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	q = strchr(r->uri, '?');
	pl = q != NULL ? (size_t)(q - r->uri) : strlen(r->uri);
	if (pl >= sizeof(pq))
		return MHD_NO;
	memcpy(pq, r->uri, pl);
	pq[pl] = '\0';
	if (gw_path_normalise(pq, path, sizeof(path)) != 0) {
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(c, MHD_HTTP_BAD_REQUEST, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	snprintf(pq, sizeof(pq), "%s%s", path, q != NULL ? q : "");
	memset(&id, 0, sizeof(id));
	snprintf(id.kind, sizeof(id.kind), "%s", GW_KIND_OPERATOR);
	snprintf(id.unit, sizeof(id.unit), "%s", "U100");
	snprintf(id.login, sizeof(id.login), "%s", "lisi");
	snprintf(id.name, sizeof(id.name), "%s", "Li Si");
	snprintf(id.roles, sizeof(id.roles), "%s", "maker");
	snprintf(id.method, sizeof(id.method), "%s", "cert");
	snprintf(id.scope, sizeof(id.scope), "%s", "full");
	snprintf(id.request_id, sizeof(id.request_id), "%s", "req-1");
	if (gw_jwt_assertion(jwt, &id, (int64_t)time(NULL), &tok) != 0)
		return MHD_NO;
	add[0] = "X-Ukey-Operator";
	add[1] = "lisi";
	add[2] = "X-Ukey-Unit";
	add[3] = "U100";
	add[4] = "X-Ukey-Roles";
	add[5] = "maker";
	add[6] = "X-Ukey-Assertion";
	add[7] = tok;
	add[8] = NULL;
	ret = gw_proxy_forward(g->px, c, method, pq, r->body, r->len, add,
	    "192.0.2.7", 0, extra, &r->x);
	free(tok);
	return ret;
}

static void
gw_start(struct gwd *g, const char *upstream, long timeout_ms)
{
	struct gw_proxy_conf conf;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(&conf, 0, sizeof(conf));
	conf.upstream = upstream;
	conf.connect_timeout_ms = 1000;
	conf.timeout_ms = timeout_ms;
	conf.max_body = 1024 * 1024;
	conf.max_idle = 4;
	if (upstream != NULL)
		assert_int_equal(gw_proxy_new(&conf, &g->px), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, gw_handler, g, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned int)2, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	assert_non_null(g->d);
	info = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	g->port = info->port;
}

static void
gw_stop(struct gwd *g)
{
	gw_proxy_stop(g->px);
	if (g->d != NULL)
		MHD_stop_daemon(g->d);
	gw_proxy_free(g->px);
	memset(g, 0, sizeof(*g));
}

/* Starts echo-upstream and reads its port. */
static int
echo_start(const char *jwks_url)
{
	const char *b = getenv("UKEY_BUILD");
	char bin[1024], line[64];
	const char *argv[10];
	posix_spawn_file_actions_t fa;
	int p[2];
	ssize_t n;
	size_t got = 0;
	char *end;

	snprintf(bin, sizeof(bin), "%s/tests/tools/echo-upstream",
	    b != NULL && *b != '\0' ? b : "build");
	argv[0] = bin;
	argv[1] = "--port";
	argv[2] = "0";
	argv[3] = "--jwks-url";
	argv[4] = jwks_url;
	argv[5] = "--issuer";
	argv[6] = ISS;
	argv[7] = "--audience";
	argv[8] = AUD;
	argv[9] = NULL;
	if (pipe(p) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	if (posix_spawn(&echo_pid, bin, &fa, NULL, (char *const *)argv,
	        environ) != 0) {
		echo_pid = -1;
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		fprintf(stderr, "# cannot run %s\n", bin);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (got + 1 < sizeof(line) &&
	    (n = read(p[0], line + got, sizeof(line) - 1 - got)) > 0) {
		got += (size_t)n;
		line[got] = '\0';
		if (strchr(line, '\n') != NULL)
			break;
	}
	close(p[0]);
	line[got] = '\0';
	if (strncmp(line, "listening ", 10) != 0)
		return -1;
	echo_port = (unsigned)strtoul(line + 10, &end, 10);
	return echo_port > 0 ? 0 : -1;
}

static void
echo_stop(void)
{
	int stt;

	if (echo_pid > 0) {
		kill(echo_pid, SIGTERM);
		waitpid(echo_pid, &stt, 0);
		echo_pid = -1;
	}
}

/* A port nothing listens on. */
static unsigned
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(s);
	return port;
}

static int
group_setup(void **state)
{
	char key[700], url[256];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (testdb_tmpdir("test_proxy", tmpdir, sizeof(tmpdir)) != 0)
		return -1;
	testdb_new(&db, STORE_SQLITE, tmpdir, "proxy");
	if (store_open(db.loc, &st) != 0)
		return -1;
	snprintf(key, sizeof(key), "%s/assert.pem", db.dir);
	if (gw_jwt_open(st, key, ISS, AUD, 60, &jwt) != 0 ||
	    gw_jwks_json(st, &jwks) != 0)
		return -1;
	gw_start(&gw_ok, NULL, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/.well-known/jwks.json",
	    gw_ok.port);
	if (echo_start(url) != 0)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", echo_port);
	{
		struct gw_proxy_conf conf;

		memset(&conf, 0, sizeof(conf));
		conf.upstream = url;
		conf.max_body = 1024 * 1024;
		conf.max_idle = 4;
		if (gw_proxy_new(&conf, &gw_ok.px) != 0)
			return -1;
	}
	gw_start(&gw_slow, url, 700);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", closed_port());
	gw_start(&gw_down, url, 60000);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	gw_stop(&gw_ok);
	gw_stop(&gw_slow);
	gw_stop(&gw_down);
	echo_stop();
	gw_jwt_free(jwt);
	free(jwks);
	store_close(st);
	testdb_drop(&db);
	testdb_rmtree(tmpdir);
	curl_global_cleanup();
	return 0;
}

struct resp {
	long status;
	char *body;
	size_t len;
	char *hdrs;
	size_t hlen;
	double secs;
	curl_off_t clen;
};

static size_t
grow(char **buf, size_t *len, const char *b, size_t n)
{
	char *t = realloc(*buf, *len + n + 1);

	if (t == NULL)
		return 0;
	memcpy(t + *len, b, n);
	*len += n;
	t[*len] = '\0';
	*buf = t;
	return n;
}

static size_t
on_body(char *b, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;

	return grow(&r->body, &r->len, b, size * n);
}

static size_t
on_hdr(char *b, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;

	return grow(&r->hdrs, &r->hlen, b, size * n);
}

/* One request through gateway g; headers: NULL-terminated "Name: value". */
static void
request(struct gwd *g, const char *method, const char *target,
    const char *const *headers, const char *body, size_t body_len,
    struct resp *r)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4096];
	struct timespec t0, t1;
	size_t i;

	memset(r, 0, sizeof(*r));
	assert_non_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", g->port, target);
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->clen);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
}

static void
resp_free(struct resp *r)
{
	free(r->body);
	free(r->hdrs);
}

static json_t *
resp_json(const struct resp *r)
{
	json_t *j;

	assert_non_null(r->body);
	j = json_loads(r->body, 0, NULL);
	if (j == NULL)
		fail_msg("not JSON: %.200s", r->body);
	return j;
}

static int
fold(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	return c == '_' ? '-' : c;
}

static int
name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (fold((unsigned char)*a) != fold((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* How many headers echo-upstream saw under name in any spelling; *value
 * is the last one's value. */
static int
seen(json_t *echo, const char *name, const char **value)
{
	json_t *h = json_object_get(echo, "headers"), *v;
	const char *k;
	int n = 0;

	json_object_foreach(h, k, v)
	{
		if (!name_eq(k, name))
			continue;
		if (json_is_array(v)) {
			n += (int)json_array_size(v);
			if (value != NULL)
				*value = json_string_value(
				    json_array_get(v, json_array_size(v) - 1));
		} else {
			n++;
			if (value != NULL)
				*value = json_string_value(v);
		}
	}
	return n;
}

/* Counts response header lines named name (case-insensitive). */
static int
resp_has(const struct resp *r, const char *name)
{
	const char *p = r->hdrs;
	size_t nl = strlen(name);
	int n = 0;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			n++;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return n;
}

static void
test_identity_headers(void **state)
{
	static const char *const hdrs[] = { "X-Ukey-Operator: evil",
		"x-ukey-operator: evil2", "X_Ukey_Operator: evil3",
		"X-UKEY-ROLES: admin", "x_ukey_unit: U999",
		"X-Ukey-Assertion: forged", "X-Ukey-Login: admin",
		"X_UKEY-Scope: full", "X-Forwarded-For: 203.0.113.9",
		"X_Forwarded_For: 203.0.113.10", "X-Forwarded-Host: evil",
		"x-forwarded-proto: https", "Forwarded: for=203.0.113.11",
		"X-Keep: yes", NULL };
	struct resp r;
	json_t *j, *a;
	const char *v = NULL;

	(void)state;
	request(&gw_ok, "GET", "/hall/x?a=1&b=%20", hdrs, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_int_equal(seen(j, "X-Ukey-Operator", &v), 1);
	assert_string_equal(v, "lisi");
	assert_int_equal(seen(j, "X-Ukey-Unit", &v), 1);
	assert_string_equal(v, "U100");
	assert_int_equal(seen(j, "X-Ukey-Roles", &v), 1);
	assert_string_equal(v, "maker");
	assert_int_equal(seen(j, "X-Ukey-Assertion", &v), 1);
	assert_string_not_equal(v, "forged");
	assert_int_equal(seen(j, "X-Ukey-Login", NULL), 0);
	assert_int_equal(seen(j, "X-Ukey-Scope", NULL), 0);
	assert_int_equal(seen(j, "X-Forwarded-For", &v), 1);
	assert_string_equal(v, "192.0.2.7");
	assert_int_equal(seen(j, "X-Forwarded-Proto", &v), 1);
	assert_string_equal(v, "http");
	assert_int_equal(seen(j, "X-Forwarded-Host", NULL), 0);
	assert_int_equal(seen(j, "Forwarded", NULL), 0);
	assert_int_equal(seen(j, "X-Keep", &v), 1);
	assert_string_equal(v, "yes");
	assert_int_equal(seen(j, "Host", &v), 1);
	assert_non_null(strstr(v, "127.0.0.1:"));
	assert_string_equal(json_string_value(json_object_get(j, "method")),
	    "GET");
	assert_string_equal(json_string_value(json_object_get(j, "path")),
	    "/hall/x");
	assert_string_equal(json_string_value(json_object_get(j, "query")),
	    "a=1&b=%20");
	/* The assertion checks out upstream against the JWKS. */
	a = json_object_get(j, "assertion");
	if (!json_is_true(json_object_get(a, "valid")))
		fail_msg("assertion refused: %s",
		    json_string_value(json_object_get(a, "error")));
	assert_string_equal(json_string_value(
	                        json_object_get(json_object_get(a, "claims"),
	                            "login")),
	    "lisi");
	json_decref(j);
	resp_free(&r);
}

static void
test_hop_by_hop(void **state)
{
	static const char *const hdrs[] = { "Connection: keep-alive, X-Hop",
		"X-Hop: secret", "Keep-Alive: 300",
		"Proxy-Authorization: Basic x", "Proxy-Connection: keep-alive",
		"Upgrade: h2c", "TE: trailers", "X-Keep: yes", NULL };
	struct resp r;
	json_t *j;

	(void)state;
	request(&gw_ok, "GET", "/cookies", hdrs, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_int_equal(seen(j, "X-Hop", NULL), 0);
	assert_int_equal(seen(j, "Keep-Alive", NULL), 0);
	assert_int_equal(seen(j, "Proxy-Authorization", NULL), 0);
	assert_int_equal(seen(j, "Proxy-Connection", NULL), 0);
	assert_int_equal(seen(j, "Upgrade", NULL), 0);
	assert_int_equal(seen(j, "TE", NULL), 0);
	assert_int_equal(seen(j, "X-Keep", NULL), 1);
	json_decref(j);
	/* and on the way back */
	assert_int_equal(resp_has(&r, "Keep-Alive"), 0);
	assert_int_equal(resp_has(&r, "X-Echo-Server"), 1);
	assert_int_equal(resp_has(&r, "Set-Cookie"), 2);
	assert_int_equal(resp_has(&r, "Content-Length"), 1);
	assert_int_equal(resp_has(&r, "Date"), 1);
	assert_int_equal(resp_has(&r, "Connection"), 0);
	resp_free(&r);
}

static void
test_path_and_body(void **state)
{
	struct resp r;
	json_t *j;
	char *body;
	size_t n = 200000;

	(void)state;
	request(&gw_ok, "GET", "/hall/%e5%85%ac%20x//y?q=%E5", NULL, NULL, 0,
	    &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "path")),
	    "/hall/%E5%85%AC%20x/y");
	assert_string_equal(json_string_value(json_object_get(j, "query")),
	    "q=%E5");
	json_decref(j);
	resp_free(&r);

	body = malloc(n);
	assert_non_null(body);
	memset(body, 'z', n);
	request(&gw_ok, "POST", "/submit", NULL, body, n, &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "method")),
	    "POST");
	assert_int_equal(json_integer_value(json_object_get(j, "body_len")), n);
	json_decref(j);
	resp_free(&r);

	request(&gw_ok, "DELETE", "/item/1", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "method")),
	    "DELETE");
	json_decref(j);
	resp_free(&r);

	/* more than max_body */
	body = realloc(body, 2 * 1024 * 1024);
	assert_non_null(body);
	memset(body, 'z', 2 * 1024 * 1024);
	request(&gw_ok, "POST", "/submit", NULL, body, 2 * 1024 * 1024, &r);
	assert_int_equal(r.status, 413);
	resp_free(&r);
	free(body);
}

static void
test_status(void **state)
{
	struct resp r;
	json_t *j;

	(void)state;
	request(&gw_ok, "GET", "/status?code=418", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 418);
	j = resp_json(&r);
	json_decref(j);
	resp_free(&r);
	request(&gw_ok, "GET", "/status?code=404", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	request(&gw_ok, "HEAD", "/big?bytes=1000", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.clen, 1000);
	resp_free(&r);
	request(&gw_ok, "GET", "/status?code=302", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 302); /* not followed */
	resp_free(&r);
}

static void
check_big(const struct resp *r)
{
	size_t i;

	assert_int_equal(r->status, 200);
	assert_int_equal(r->len, BIG);
	for (i = 0; i < r->len; i++)
		if (r->body[i] != (char)('a' + i % 26))
			fail_msg("byte %zu differs", i);
}

static void
test_big_streamed(void **state)
{
	struct resp r;
	char target[64];
	json_t *j;
	json_int_t before;

	(void)state;
	request(&gw_ok, "GET", "/before", NULL, NULL, 0, &r);
	j = resp_json(&r);
	before = json_integer_value(json_object_get(j, "connections"));
	json_decref(j);
	resp_free(&r);
	snprintf(target, sizeof(target), "/big?bytes=%d", BIG);
	request(&gw_ok, "GET", target, NULL, NULL, 0, &r);
	check_big(&r);
	assert_int_equal(r.clen, BIG); /* the length is kept */
	assert_true(r.secs < 5.0);     /* no stall on a paused transfer */
	resp_free(&r);
	snprintf(target, sizeof(target), "/big?bytes=%d&chunked=1", BIG);
	request(&gw_ok, "GET", target, NULL, NULL, 0, &r);
	check_big(&r);
	resp_free(&r);
	/* The upstream connection was kept through both. */
	request(&gw_ok, "GET", "/after", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = resp_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "connections")),
	    before);
	json_decref(j);
	resp_free(&r);
}

static void
test_keep_alive(void **state)
{
	struct resp r;
	json_t *j;
	json_int_t first = 0, c;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		request(&gw_ok, "GET", "/ka", NULL, NULL, 0, &r);
		assert_int_equal(r.status, 200);
		j = resp_json(&r);
		c = json_integer_value(json_object_get(j, "connections"));
		json_decref(j);
		resp_free(&r);
		if (i == 0)
			first = c;
		else
			assert_int_equal(c, first);
	}
}

static void
test_upstream_down(void **state)
{
	static const char *const html[] = { "Accept: text/html", NULL };
	struct resp r;

	(void)state;
	request(&gw_down, "GET", "/hall/", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 502);
	assert_true(r.secs < 3.0);
	assert_non_null(strstr(r.body, "UK-5101"));
	resp_free(&r);
	request(&gw_down, "GET", "/hall/", html, NULL, 0, &r);
	assert_int_equal(r.status, 502);
	assert_non_null(strstr(r.body, "<html"));
	assert_non_null(strstr(r.body, "UK-5101"));
	resp_free(&r);
}

/* The caller's extra headers reach the client on proxied answers and on
 * error pages; a header the upstream set itself is not doubled. */
static void
test_response_headers(void **state)
{
	struct resp r;

	(void)state;
	request(&gw_ok, "GET", "/hall/x", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(resp_has(&r, "X-Request-Id"), 1);
	assert_non_null(strstr(r.hdrs, "X-Request-Id: req-1"));
	assert_int_equal(resp_has(&r, "X-Frame-Options"), 1);
	assert_int_equal(resp_has(&r, "X-Echo-Server"), 1);
	assert_null(strstr(r.hdrs, "X-Echo-Server: gateway"));
	resp_free(&r);
	request(&gw_down, "GET", "/hall/", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 502);
	assert_non_null(strstr(r.hdrs, "X-Request-Id: req-1"));
	assert_int_equal(resp_has(&r, "Cache-Control"), 1);
	resp_free(&r);
}

/* --- the real gateway in front of a slow upstream --- */

static pid_t gwbin_pid = -1;

static size_t
discard(char *b, size_t size, size_t n, void *ud)
{
	(void)b;
	(void)ud;
	return size * n;
}

static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Starts build/bin/ukey-gateway serve on port with echo-upstream behind
 * it; 0 once /auth/challenge answers. */
static int
gwbin_start(unsigned port)
{
	const char *b = getenv("UKEY_BUILD");
	char bin[1024], conf[1024], routes[1024], url[128];
	const char *argv[5];
	posix_spawn_file_actions_t fa;
	FILE *f;
	long code = 0;
	int i;

	snprintf(bin, sizeof(bin), "%s/bin/ukey-gateway",
	    b != NULL && *b != '\0' ? b : "build");
	snprintf(routes, sizeof(routes), "%s/routes", db.dir);
	snprintf(conf, sizeof(conf), "%s/gw.conf", db.dir);
	if ((f = fopen(routes, "w")) == NULL)
		return -1;
	fprintf(f, "/slow GET public\n/hall/ GET public\n");
	fclose(f);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f,
	    "[gateway]\nlisten = 127.0.0.1\nport = %u\n"
	    "public_origin = https://gw.test\nstore = %s/gw.db\n"
	    "threads = 2\nlog_level = warn\n"
	    "[proxy]\nupstream = http://127.0.0.1:%u\nroutes = %s\n"
	    "timeout_ms = 10000\n"
	    "[assertion]\nkey = %s/gw-assert.pem\n",
	    port, db.dir, echo_port, routes, db.dir);
	fclose(f);
	argv[0] = bin;
	argv[1] = "-c";
	argv[2] = conf;
	argv[3] = "serve";
	argv[4] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	i = posix_spawn(&gwbin_pid, bin, &fa, NULL, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	if (i != 0) {
		gwbin_pid = -1;
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/auth/challenge", port);
	for (i = 0; i < 100; i++) {
		CURL *e = curl_easy_init();

		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		if (curl_easy_perform(e) == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(e);
		if (code == 200)
			return 0;
		usleep(100000);
	}
	return -1;
}

static void
gwbin_stop(void)
{
	int stt;

	if (gwbin_pid > 0) {
		kill(gwbin_pid, SIGTERM);
		waitpid(gwbin_pid, &stt, 0);
		gwbin_pid = -1;
	}
}

/* 20 requests held 3 s each by the upstream do not delay anyone else: a
 * GET /auth/challenge meanwhile answers at once (it waited for a free
 * worker thread when the daemon had a small thread pool). */
static void
test_slow_upstream_no_stall(void **state)
{
	enum { NSLOW = 20 };
	CURLM *m;
	CURL *slow[NSLOW], *e;
	CURLMsg *msg;
	struct timespec t0, ts;
	char url[128];
	unsigned port = closed_port();
	long code = 0;
	double took;
	int running, q, i, ok = 0;

	(void)state;
	if (gwbin_start(port) != 0) {
		gwbin_stop();
		fail_msg("ukey-gateway did not start");
	}
	m = curl_multi_init();
	assert_non_null(m);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/slow?ms=3000", port);
	for (i = 0; i < NSLOW; i++) {
		slow[i] = curl_easy_init();
		curl_easy_setopt(slow[i], CURLOPT_URL, url);
		curl_easy_setopt(slow[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(slow[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(slow[i], CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(slow[i], CURLOPT_TIMEOUT_MS, 15000L);
		curl_multi_add_handle(m, slow[i]);
	}
	/* Let the 20 requests reach the gateway and the upstream. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (since(&ts) < 0.5) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/auth/challenge", port);
	e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	took = since(&t0);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	/* The slow ones all finish, with the upstream's answer. */
	do {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &q)) != NULL) {
			long sst = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &sst);
			if (msg->data.result == CURLE_OK && sst == 200)
				ok++;
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	} while (running > 0 && since(&ts) < 20);
	for (i = 0; i < NSLOW; i++) {
		curl_multi_remove_handle(m, slow[i]);
		curl_easy_cleanup(slow[i]);
	}
	curl_multi_cleanup(m);
	gwbin_stop();
	assert_int_equal(code, 200);
	if (took > 0.5)
		fail_msg("GET /auth/challenge took %.0f ms behind 20 slow "
		         "upstream requests",
		    took * 1000);
	assert_int_equal(ok, NSLOW);
	/* Side by side, not one after another. */
	took = since(&ts);
	if (took > 8.0)
		fail_msg("20 requests of 3 s took %.1f s", took);
}

static void
test_upstream_timeout(void **state)
{
	struct resp r;

	(void)state;
	request(&gw_slow, "GET", "/slow?ms=3000", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 504);
	assert_true(r.secs < 2.5);
	assert_non_null(strstr(r.body, "UK-5102"));
	resp_free(&r);
	request(&gw_slow, "GET", "/slow?ms=10", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void
test_conf(void **state)
{
	struct gw_proxy_conf conf;
	struct gw_proxy *p = NULL;

	(void)state;
	memset(&conf, 0, sizeof(conf));
	conf.upstream = "ftp://x";
	assert_int_equal(gw_proxy_new(&conf, &p), UK_ERR_CONFIG_VALUE);
	conf.upstream = "file:///etc/passwd";
	assert_int_equal(gw_proxy_new(&conf, &p), UK_ERR_CONFIG_VALUE);
	conf.upstream = NULL;
	assert_int_equal(gw_proxy_new(&conf, &p), UK_ERR_CONFIG_VALUE);
	assert_null(p);
	conf.upstream = "http://127.0.0.1:8081/";
	assert_int_equal(gw_proxy_new(&conf, &p), 0);
	gw_proxy_free(p);
	gw_proxy_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_identity_headers),
		cmocka_unit_test(test_hop_by_hop),
		cmocka_unit_test(test_path_and_body),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_big_streamed),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_upstream_down),
		cmocka_unit_test(test_upstream_timeout),
		cmocka_unit_test(test_response_headers),
		cmocka_unit_test(test_slow_upstream_no_stall),
	};

	return cmocka_run_group_tests_name("proxy", tests, group_setup,
	    group_teardown);
}
