/* tests/unit/gateway/test_static.c: the static pages: what is loaded from a web root, what is owned, and the answers (types, ETag and 304, caching, CSP, 404) through a real libmicrohttpd daemon and libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "common/errors.h"
#include "gateway/static.h"

static char root[64];
static struct MHD_Daemon *daemon_;
static unsigned int port;

static void
put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rmtree(void)
{
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	if (*con_cls == NULL) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	return gw_static_serve(c, url, strcmp(method, "HEAD") == 0, "rid1", 1,
	    NULL);
}

struct answer {
	long status;
	char body[4096];
	size_t blen;
	char hdr[4096];
	size_t hlen;
};

static size_t
take(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	if (a->blen + len < sizeof(a->body)) {
		memcpy(a->body + a->blen, p, len);
		a->blen += len;
		a->body[a->blen] = '\0';
	}
	return len;
}

static size_t
take_hdr(char *p, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	if (a->hlen + len < sizeof(a->hdr)) {
		memcpy(a->hdr + a->hlen, p, len);
		a->hlen += len;
		a->hdr[a->hlen] = '\0';
	}
	return len;
}

/* GET (or HEAD) of path with an optional If-None-Match. */
static void
get(const char *path, const char *inm, int head, struct answer *a)
{
	struct curl_slist *h = NULL;
	char url[512], line[256];
	CURL *e = curl_easy_init();

	memset(a, 0, sizeof(*a));
	assert_non_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, take_hdr);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
	if (head)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (inm != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", inm);
		h = curl_slist_append(h, line);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	}
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
}

/* The value of header name in a (first one), "" when absent. */
static const char *
hval(const struct answer *a, const char *name, char *out, size_t size)
{
	const char *p = a->hdr;
	size_t n = strlen(name);

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end;
			while (*v == ' ')
				v++;
			end = strpbrk(v, "\r\n");
			n = end != NULL ? (size_t)(end - v) : strlen(v);
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return out;
}

static int
setup(void **state)
{
	char p[256];
	const union MHD_DaemonInfo *info;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/ukstatic.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/assets", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/assets/img", root);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/assets/.git", root);
	assert_int_equal(mkdir(p, 0700), 0);
	put("login.html", "<!DOCTYPE html><title>登录</title>");
	put("self.html", "<!DOCTYPE html><title>self</title>");
	put("secret.txt", "top-level files other than pages are not served");
	put("assets/app.css", "body{color:#000}");
	put("assets/app.js", "'use strict';");
	put("assets/img/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
	put("assets/.hidden.js", "hidden");
	put("assets/.git/config", "x");
	put("assets/run.sh", "#!/bin/sh");
	snprintf(p, sizeof(p), "%s/assets/passwd.txt", root);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/assets/up", root);
	assert_int_equal(symlink("..", p), 0);
	assert_int_equal(gw_static_init(root), 0);
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
	    NULL, handler, NULL, MHD_OPTION_END);
	assert_non_null(daemon_);
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	port = info->port;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	MHD_stop_daemon(daemon_);
	gw_static_free();
	rmtree();
	return 0;
}

static void
test_types(void **state)
{
	(void)state;
	assert_string_equal(gw_static_type("a.html"),
	    "text/html; charset=utf-8");
	assert_string_equal(gw_static_type("x/a.js"),
	    "text/javascript; charset=utf-8");
	assert_string_equal(gw_static_type("a.css"), "text/css; charset=utf-8");
	assert_string_equal(gw_static_type("a.svg"), "image/svg+xml");
	assert_null(gw_static_type("a.sh"));
	assert_null(gw_static_type(".js"));
	assert_null(gw_static_type("js"));
	assert_null(gw_static_type("a.html.bak"));
}

static void
test_owns(void **state)
{
	static const struct {
		const char *path;
		int owned;
	} cases[] = {
		{ "/login", 1 },
		{ "/self", 1 },
		{ "/assets/app.css", 1 },
		{ "/assets/none.js", 1 }, /* 404 from us, never proxied */
		{ "/counter", 0 },        /* no counter.html in this root */
		{ "/login/reset", 0 },
		{ "/loginx", 0 },
		{ "/login/", 0 },
		{ "/hall/login", 0 },
		{ "/secret.txt", 0 },
		{ "/login.html", 0 },
		{ "/", 0 },
		{ "/assets", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gw_static_owns(cases[i].path) != cases[i].owned)
			fail_msg("owns(%s) != %d", cases[i].path,
			    cases[i].owned);
	}
}

static void
test_page(void **state)
{
	struct answer a;
	char v[512];

	(void)state;
	get("/login", NULL, 0, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "<!DOCTYPE html><title>登录</title>");
	assert_string_equal(hval(&a, "Content-Type", v, sizeof(v)),
	    "text/html; charset=utf-8");
	assert_string_equal(hval(&a, "Cache-Control", v, sizeof(v)),
	    "no-cache");
	assert_string_equal(hval(&a, "Content-Security-Policy", v, sizeof(v)),
	    GW_STATIC_CSP);
	assert_non_null(strstr(v, "connect-src 'self' http://127.0.0.1:*"));
	assert_non_null(strstr(v, "frame-ancestors 'none'"));
	assert_string_equal(hval(&a, "X-Content-Type-Options", v, sizeof(v)),
	    "nosniff");
	assert_string_equal(hval(&a, "X-Request-Id", v, sizeof(v)), "rid1");
	assert_string_equal(hval(&a, "Strict-Transport-Security", v, sizeof(v)),
	    "max-age=31536000");
	hval(&a, "ETag", v, sizeof(v));
	assert_int_equal(strlen(v), 26);
	assert_int_equal(v[0], '"');
	assert_int_equal(v[25], '"');
}

static void
test_assets(void **state)
{
	struct answer a;
	char v[512];

	(void)state;
	get("/assets/app.css", NULL, 0, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "body{color:#000}");
	assert_string_equal(hval(&a, "Content-Type", v, sizeof(v)),
	    "text/css; charset=utf-8");
	assert_string_equal(hval(&a, "Cache-Control", v, sizeof(v)),
	    "public, max-age=300");
	get("/assets/img/logo.svg", NULL, 0, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(hval(&a, "Content-Type", v, sizeof(v)),
	    "image/svg+xml");
	get("/assets/app.js", NULL, 1, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.blen, 0);
	assert_string_equal(hval(&a, "Content-Length", v, sizeof(v)), "13");
}

static void
test_refused(void **state)
{
	static const char *const paths[] = {
		"/assets/.hidden.js",
		"/assets/.git/config",
		"/assets/run.sh",
		"/assets/passwd.txt", /* a symbolic link out of the root */
		"/assets/up/secret.txt",
		"/assets/up/login.html",
		"/assets/../secret.txt",
		"/assets/img/../app.css",
		"/assets//app.css",
		"/assets/app.css/",
		"/assets/",
		"/assets/none.js",
		"/secret.txt",
		"/login.html",
	};
	struct answer a;
	char v[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get(paths[i], NULL, 0, &a);
		if (a.status != 404)
			fail_msg("%s: %ld", paths[i], a.status);
		assert_null(strstr(a.body, "root:"));
		assert_non_null(strstr(a.body, "UK-1507"));
		assert_string_equal(hval(&a, "Cache-Control", v, sizeof(v)),
		    "no-store");
		assert_string_equal(hval(&a, "Content-Security-Policy", v,
		                        sizeof(v)),
		    GW_STATIC_CSP);
	}
}

static void
test_etag(void **state)
{
	struct answer a;
	char etag[64], weak[80], list[160], v[512];

	(void)state;
	get("/assets/app.js", NULL, 0, &a);
	hval(&a, "ETag", etag, sizeof(etag));
	get("/assets/app.js", etag, 0, &a);
	assert_int_equal(a.status, 304);
	assert_int_equal(a.blen, 0);
	assert_string_equal(hval(&a, "ETag", v, sizeof(v)), etag);
	assert_string_equal(hval(&a, "Content-Security-Policy", v, sizeof(v)),
	    GW_STATIC_CSP);
	snprintf(weak, sizeof(weak), "W/%s", etag);
	get("/assets/app.js", weak, 0, &a);
	assert_int_equal(a.status, 304);
	snprintf(list, sizeof(list), "\"abc\", %s ,\"def\"", etag);
	get("/assets/app.js", list, 0, &a);
	assert_int_equal(a.status, 304);
	get("/assets/app.js", "*", 0, &a);
	assert_int_equal(a.status, 304);
	get("/assets/app.js", "\"0123\"", 0, &a);
	assert_int_equal(a.status, 200);
	/* Another file's ETag does not match. */
	get("/assets/app.css", etag, 0, &a);
	assert_int_equal(a.status, 200);
	/* A prefix of the ETag does not match. */
	etag[10] = '\0';
	get("/assets/app.js", etag, 0, &a);
	assert_int_equal(a.status, 200);
}

static void
test_limits(void **state)
{
	char p[256], dir[64];
	FILE *f;
	int i;

	(void)state;
	assert_int_equal(gw_static_init("/nonexistent/web"), UK_ERR_IO);
	assert_int_equal(gw_static_owns("/login"), 0);
	snprintf(dir, sizeof(dir), "/tmp/ukstatic2.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/login.html", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	for (i = 0; i < GW_STATIC_FILE_MAX / 16 + 1; i++)
		fputs("0123456789abcdef", f);
	fclose(f);
	assert_int_equal(gw_static_init(dir), UK_ERR_LIMIT);
	assert_int_equal(gw_static_owns("/login"), 0);
	unlink(p);
	rmdir(dir);
	/* Back to the fixture's root for the other tests. */
	assert_int_equal(gw_static_init(root), 0);
	assert_int_equal(gw_static_owns("/login"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_owns),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_assets),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_limits),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
