/* examples/hall/hall.c: the demo business module behind ukey-gateway: shows the identity it received, verifies the X-Ukey-Assertion JWT against the gateway's JWKS, and has query-only and full-scope pages. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "gateway/jwt.h"

/*
 * Usage: hall --port N --jwks-url URL [--issuer I] [--audience A]
 *
 * Pages (the gateway's route policy decides who reaches them; the hall
 * checks the assertion again and refuses a query-scope assertion outside
 * /hall/query/ and /hall/authorise):
 *   /hall/                  the menu and who is logged in
 *   /hall/query/...         queries (password login is enough)
 *   /hall/declare, /hall/maker/..., /hall/checker/..., /hall/authorise
 * Every page shows the X-Ukey-* headers and the verified claims. Prints
 * "listening PORT" when ready; stops on SIGTERM or SIGINT. A demo, not a
 * hall.
 */

#define PAGE_MAX (64 * 1024)

static const char *jwks_url, *issuer, *audience = "ukey-hall";
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *jwks_cache; /* guarded by mu */
static time_t jwks_at;   /* guarded by mu */

struct page {
	char buf[PAGE_MAX];
	size_t len;
};

static void
put(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct page *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->len >= sizeof(p->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	p->len += (size_t)n;
	if (p->len >= sizeof(p->buf))
		p->len = sizeof(p->buf) - 1;
}

/* Appends s with &, <, >, " and ' escaped. */
static void
put_esc(struct page *p, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			put(p, "&amp;");
			break;
		case '<':
			put(p, "&lt;");
			break;
		case '>':
			put(p, "&gt;");
			break;
		case '"':
			put(p, "&quot;");
			break;
		case '\'':
			put(p, "&#39;");
			break;
		default:
			put(p, "%c", *s);
		}
	}
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

	if (fb->n + len > 256 * 1024 ||
	    (t = realloc(fb->p, fb->n + len + 1)) == NULL)
		return 0;
	memcpy(t + fb->n, b, len);
	fb->n += len;
	t[fb->n] = '\0';
	fb->p = t;
	return len;
}

/* The gateway's JWKS, fetched at most every 30 s (or again when refresh);
 * a malloc'd copy or NULL. */
static char *
jwks_get(int refresh)
{
	time_t now = time(NULL);
	struct fetch_buf buf = { NULL, 0 };
	char *out = NULL;
	long code = 0;
	CURL *e;

	pthread_mutex_lock(&mu);
	if (!refresh && jwks_cache != NULL && now - jwks_at < 30) {
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
		jwks_cache = strdup(out);
		jwks_at = now;
		pthread_mutex_unlock(&mu);
	}
	curl_easy_cleanup(e);
	free(buf.p);
	return out;
}

/* Verifies the request's assertion: 0 and *claims (json, caller decrefs),
 * or -1 and *why. A key the cached JWKS does not know yet is looked up
 * again once. */
static int
verify(struct MHD_Connection *c, json_t **claims, const char **why)
{
	const char *tok =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ukey-Assertion");
	char *jwks, *cl = NULL;
	int pass, r = -1;

	*claims = NULL;
	*why = "没有身份断言 / no assertion";
	if (tok == NULL)
		return -1;
	for (pass = 0; pass < 2 && r != 0; pass++) {
		if ((jwks = jwks_get(pass)) == NULL) {
			*why = "无法获取网关公钥 / JWKS not fetched";
			return -1;
		}
		r = gw_jwt_verify_ex(tok, jwks, issuer, audience,
		    (int64_t)time(NULL), 5, &cl, why);
		free(jwks);
	}
	if (r != 0)
		return -1;
	*claims = cl != NULL ? json_loads(cl, 0, NULL) : NULL;
	free(cl);
	if (*claims == NULL) {
		*why = "claims unreadable";
		return -1;
	}
	*why = "";
	return 0;
}

static enum MHD_Result
hdr_row(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct page *p = cls;

	(void)kind;
	if (key == NULL || strncasecmp(key, "X-Ukey-", 7) != 0)
		return MHD_YES;
	put(p, "<tr><th>");
	put_esc(p, key);
	put(p, "</th><td><code>");
	if (strcasecmp(key, "X-Ukey-Assertion") == 0 && value != NULL &&
	    strlen(value) > 48) {
		put(p, "%.40s…", value);
	} else
		put_esc(p, value);
	put(p, "</code></td></tr>\n");
	return MHD_YES;
}

static const char *
claim(const json_t *claims, const char *k)
{
	const char *v = json_string_value(json_object_get(claims, k));
	return v != NULL ? v : "";
}

static const struct {
	const char *path, *title, *scope;
} menu[] = {
	{ "/hall/query/contributions", "缴存明细查询", "query" },
	{ "/hall/query/employees", "职工信息查询", "query" },
	{ "/hall/declare", "汇缴申报", "full" },
	{ "/hall/base-adjust", "基数调整", "full" },
	{ "/hall/maker/entry", "业务录入（录入岗）", "full" },
	{ "/hall/checker/review", "业务复核（复核岗）", "full" },
	{ "/hall/authorise", "网厅用户授权", "query" },
};

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static int first;
	struct page *p;
	struct MHD_Response *resp;
	const char *why, *title = "网上业务大厅", *scope;
	json_t *claims = NULL;
	unsigned int status = MHD_HTTP_OK;
	enum MHD_Result ret;
	int ok, query_page, refused = 0;
	size_t i;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* forms are not kept */
		return MHD_YES;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MHD_NO;
	ok = verify(c, &claims, &why) == 0;
	scope = ok ? claim(claims, "scope") : "";
	query_page = strncmp(url, "/hall/query/", 12) == 0 ||
	    strcmp(url, "/hall/authorise") == 0 || strcmp(url, "/hall/") == 0 ||
	    strcmp(url, "/hall") == 0;
	for (i = 0; i < sizeof(menu) / sizeof(menu[0]); i++)
		if (strcmp(url, menu[i].path) == 0)
			title = menu[i].title;
	if (!ok) {
		status = MHD_HTTP_UNAUTHORIZED;
		refused = 1;
	} else if (!query_page && strcmp(scope, "full") != 0) {
		/* The gateway should have refused it already: defence in
		 * depth. */
		status = MHD_HTTP_FORBIDDEN;
		refused = 1;
	}
	put(p,
	    "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta "
	    "charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\"><title>");
	put_esc(p, title);
	put(p,
	    " - 演示网厅</title><style>"
	    "body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}"
	    "header{background:#1d5fa8;color:#fff;padding:.7rem 1.2rem}"
	    "header a{color:#fff}main{max-width:56rem;margin:1rem auto;"
	    "padding:0 1rem}table{border-collapse:collapse}td,th{border:"
	    "1px solid #ccc;padding:.3rem .6rem;text-align:left}"
	    ".ok{color:#1a7f37}.bad{color:#b4232a}nav a{display:inline-"
	    "block;margin:.2rem .8rem .2rem 0}</style></head><body>"
	    "<header><strong>演示单位网上业务大厅（业务系统示例）</strong> "
	    "· <a href=\"/self\">个人设置</a> · <a "
	    "href=\"/hall/\">首页</a></header><main>\n<h1>");
	put_esc(p, title);
	put(p, "</h1>\n");
	if (refused)
		put(p, "<p class=\"bad\">业务系统拒绝：%s</p>\n",
		    ok ? "账号密码登录只能办理查询业务（scope=query）"
		       : "身份断言无效");
	else if (ok)
		put(p, "<p class=\"ok\">您好，");
	if (ok && !refused) {
		put_esc(p, claim(claims, "name"));
		put(p, "（");
		put_esc(p, claim(claims, "login"));
		put(p, "，单位 ");
		put_esc(p, claim(claims, "unit"));
		put(p, "）。登录方式：");
		put_esc(p, claim(claims, "method"));
		put(p, "，业务范围：");
		put_esc(p, scope);
		put(p, "。</p>\n");
		if (strcmp(method, "POST") == 0)
			put(p,
			    "<p class=\"ok\">已受理（演示，不保存）。</p>\n");
	}
	put(p, "<nav>");
	for (i = 0; i < sizeof(menu) / sizeof(menu[0]); i++) {
		put(p, "<a href=\"%s\">%s</a>", menu[i].path, menu[i].title);
		put(p, "%s",
		    strcmp(menu[i].scope, "full") == 0
		        ? "<small>（须UKey登录）</small>"
		        : "");
	}
	put(p, "</nav>\n<h2>网关传来的身份</h2>\n<table>\n");
	MHD_get_connection_values(c, MHD_HEADER_KIND, hdr_row, p);
	put(p, "</table>\n<h2>身份断言（X-Ukey-Assertion）</h2>\n");
	if (ok) {
		char *text =
		    json_dumps(claims, JSON_INDENT(2) | JSON_SORT_KEYS);
		put(p, "<p class=\"ok\">签名有效（ES256，网关 JWKS）</p><pre>");
		put_esc(p, text);
		put(p, "</pre>\n");
		free(text);
	} else {
		put(p, "<p class=\"bad\">无效：");
		put_esc(p, why);
		put(p, "</p>\n");
	}
	put(p, "<p><small>");
	put_esc(p, method);
	put(p, " ");
	put_esc(p, url);
	put(p, "</small></p></main></body></html>\n");
	json_decref(claims);
	resp = MHD_create_response_from_buffer(p->len, p->buf,
	    MHD_RESPMEM_MUST_COPY);
	free(p);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	    "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	long port = -1;
	char *end;
	int i, sig;

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
	if (port < 0 || jwks_url == NULL || issuer == NULL)
		goto usage;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
	    (uint16_t)port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)60, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "hall: cannot listen on %ld\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n", info != NULL ? info->port : (unsigned)port);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	free(jwks_cache);
	curl_global_cleanup();
	return 0;
usage:
	fprintf(stderr,
	    "usage: hall --port N --jwks-url URL --issuer I [--audience A]\n");
	return 2;
}
