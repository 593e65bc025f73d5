/* tests/tools/echo-upstream.c: a stand-in business module on 127.0.0.1 that echoes each request as JSON and checks its identity assertion. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "gateway/jwt.h"
#include "tests/lib/testsrv.h"

/*
 * Usage: echo-upstream --port N [--jwks-url URL] [--issuer I --audience A]
 * Every request is answered with
 *   {"method","path","query","headers":{...},"body_len","connections",
 *    "assertion":{"valid","error","claims"}}
 * where path and query are as received (not decoded) and a header given
 * more than once is an array. Special paths: /slow?ms=N waits first;
 * /big?bytes=N[&chunked=1] streams N bytes ('a' + i % 26); /status?code=N
 * answers with that status; /cookies sets two cookies. Every answer also
 * carries "Keep-Alive" and "X-Echo-Server" headers. Prints "listening PORT"
 * when ready; stops on SIGTERM or SIGINT.
 */

static const char *jwks_url, *issuer = "ukeygate", *audience = "hall";
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long connections; /* guarded by mu */
static char *jwks_cache;          /* guarded by mu */
static time_t jwks_at;

struct req {
	char *uri; /* raw request target */
	size_t body_len;
	int started; /* the first call, headers only, has been seen */
};

static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (r != NULL && (r->uri = strdup(uri)) == NULL) {
		free(r);
		r = NULL;
	}
	return r;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r != NULL) {
		free(r->uri);
		free(r);
	}
	*con_cls = NULL;
}

static void
notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&mu);
		connections++;
		pthread_mutex_unlock(&mu);
	}
}

/* A decimal query argument, or dflt. */
static long
arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0)
		return dflt;
	return n;
}

struct fetch_buf {
	char *p;
	size_t n;
};

static size_t
fetch_cb(char *b, size_t size, size_t n, void *ud)
{
	struct fetch_buf *fb = ud;
	size_t len = size * n;
	char *t;

	if (fb->n + len > 1024 * 1024 ||
	    (t = realloc(fb->p, fb->n + len + 1)) == NULL)
		return 0;
	memcpy(t + fb->n, b, len);
	fb->n += len;
	t[fb->n] = '\0';
	fb->p = t;
	return len;
}

/* The JWKS from --jwks-url, fetched at most once a second; malloc'd copy. */
static char *
jwks_get(void)
{
	time_t now = time(NULL);
	char *out = NULL;
	struct fetch_buf buf = { NULL, 0 };
	CURL *e;
	long code = 0;

	pthread_mutex_lock(&mu);
	if (jwks_cache != NULL && now - jwks_at < 1) {
		out = strdup(jwks_cache);
		pthread_mutex_unlock(&mu);
		return out;
	}
	pthread_mutex_unlock(&mu);
	if ((e = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, jwks_url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &buf);
	if (curl_easy_perform(e) == CURLE_OK &&
	    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code == 200 && buf.p != NULL) {
		out = buf.p;
		buf.p = NULL;
		pthread_mutex_lock(&mu);
		free(jwks_cache);
		jwks_cache = out != NULL ? strdup(out) : NULL;
		jwks_at = now;
		pthread_mutex_unlock(&mu);
	}
	curl_easy_cleanup(e);
	free(buf.p);
	return out;
}

static json_t *
check_assertion(struct MHD_Connection *c)
{
	const char *tok =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ukey-Assertion");
	const char *why = "no assertion";
	char *jwks = NULL, *claims = NULL;
	json_t *o, *cl = NULL;
	int ok = 0;

	if (tok != NULL && jwks_url == NULL)
		why = "no --jwks-url";
	else if (tok != NULL && (jwks = jwks_get()) == NULL)
		why = "JWKS not fetched";
	else if (tok != NULL)
		ok = gw_jwt_verify_ex(tok, jwks, issuer, audience,
		         (int64_t)time(NULL), 5, &claims, &why) == 0;
	if (claims != NULL)
		cl = json_loads(claims, 0, NULL);
	o = json_pack("{s:b,s:s,s:o}", "valid", ok, "error", why, "claims",
	    cl != NULL ? cl : json_object());
	free(claims);
	free(jwks);
	return o;
}

static enum MHD_Result
add_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	json_t *h = cls, *old, *a;

	(void)kind;
	if (key == NULL || value == NULL)
		return MHD_YES;
	old = json_object_get(h, key);
	if (old == NULL)
		json_object_set_new(h, key, json_string(value));
	else if (json_is_array(old))
		json_array_append_new(old, json_string(value));
	else {
		a = json_array();
		json_array_append(a, old);
		json_array_append_new(a, json_string(value));
		json_object_set_new(h, key, a);
	}
	return MHD_YES;
}

static ssize_t
big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	uint64_t total = *(uint64_t *)cls, n, i;

	if (pos >= total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = total - pos < max ? total - pos : max;
	if (n > 10000)
		n = 10000; /* many small pieces */
	for (i = 0; i < n; i++)
		buf[i] = (char)('a' + (pos + i) % 26);
	return (ssize_t)n;
}

static void
big_free(void *cls)
{
	free(cls);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct MHD_Response *resp;
	json_t *o, *h;
	char *body, *q, path[4096];
	unsigned long nconn;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (r == NULL)
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		(void)upload_data;
		r->body_len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/slow") == 0) {
		long ms = arg_long(c, "ms", 1000);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (strcmp(url, "/big") == 0) {
		uint64_t *total = malloc(sizeof(*total));
		int chunked = arg_long(c, "chunked", 0) != 0;

		if (total == NULL)
			return MHD_NO;
		*total = (uint64_t)arg_long(c, "bytes", 0);
		resp =
		    MHD_create_response_from_callback(chunked ? MHD_SIZE_UNKNOWN
		                                              : *total,
		        64 * 1024, big_reader, total, big_free);
		if (resp == NULL) {
			free(total);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type",
		    "application/octet-stream");
		ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (strcmp(url, "/status") == 0)
		status = (unsigned int)arg_long(c, "code", 200);
	snprintf(path, sizeof(path), "%s", r->uri);
	if ((q = strchr(path, '?')) != NULL)
		*q++ = '\0';
	pthread_mutex_lock(&mu);
	nconn = connections;
	pthread_mutex_unlock(&mu);
	h = json_object();
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, h);
	o = json_pack("{s:s,s:s,s:s?,s:o,s:I,s:I,s:o}", "method", method,
	    "path", path, "query", q, "headers", h, "body_len",
	    (json_int_t)r->body_len, "connections", (json_int_t)nconn,
	    "assertion", check_assertion(c));
	if (o == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return MHD_NO;
	}
	json_decref(o);
	resp = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Echo-Server", "1");
	MHD_add_response_header(resp, "Keep-Alive", "timeout=30");
	if (strcmp(url, "/cookies") == 0) {
		MHD_add_response_header(resp, "Set-Cookie", "a=1; Path=/");
		MHD_add_response_header(resp, "Set-Cookie", "b=2; Path=/");
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int
main(int argc, char **argv)
{
	const struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d;
	sigset_t set;
	long port = -1;
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--port") == 0) {
			errno = 0;
			port = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || port < 0 ||
			    port > 65535)
				goto usage;
		} else if (strcmp(argv[i], "--jwks-url") == 0)
			jwks_url = argv[++i];
		else if (strcmp(argv[i], "--issuer") == 0)
			issuer = argv[++i];
		else if (strcmp(argv[i], "--audience") == 0)
			audience = argv[++i];
		else
			goto usage;
	}
	if (port < 0)
		goto usage;
	testsrv_signals(&set);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d = testsrv_start("echo-upstream", port, handler, NULL, 60, opts);
	if (d == NULL)
		return 1;
	testsrv_wait(d, &set);
	free(jwks_cache);
	curl_global_cleanup();
	return 0;
usage:
	fprintf(stderr,
	    "usage: echo-upstream --port N [--jwks-url URL] "
	    "[--issuer I --audience A]\n");
	return 2;
}
