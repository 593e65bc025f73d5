/* tests/unit/gateway/test_wechat.c: the WeChat OAuth2 client against tests/tools/wechat-stub, and the callback's parameter parsing. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/wechat.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testtool.h"

#define APPID "wx0123456789abcdef"
#define SECRET "s3cr3t-Ap9-\xe5\xaf\x86&=+"
#define OPENID "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
#define STATE "0123456789abcdef0123456789abcdef"

static char tmpdir[256];

struct stub {
	pid_t pid;
	int port;
	char base[64];
};

static struct stub stub, stub_short; /* code-ttl 300 s and 1 s */
static struct secret *good, *bad;

/* Starts wechat-stub with the secret file and code ttl. */
static void
stub_start(struct stub *s, const char *ttl)
{
	const char *args[] = { "--appid", APPID, "--secret-file", NULL,
		"--code-ttl", ttl, NULL };
	char secfile[512];
	int fd;

	snprintf(secfile, sizeof(secfile), "%s/secret", tmpdir);
	fd = open(secfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, SECRET "\n", strlen(SECRET) + 1),
	    (ssize_t)strlen(SECRET) + 1);
	close(fd);
	args[3] = secfile;
	if ((s->pid = testtool_start("wechat-stub", args, &s->port)) < 0)
		fail_msg("wechat-stub did not start");
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
}

static void
stub_stop(struct stub *s)
{
	testtool_stop(s->pid);
	s->pid = 0;
}

static int
setup(void **state)
{
	(void)state;
	stub_start(&stub, "300");
	stub_start(&stub_short, "1");
	good = secret_from(SECRET, strlen(SECRET));
	bad = secret_from("wrong-secret", 12);
	assert_non_null(good);
	assert_non_null(bad);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stub_stop(&stub);
	stub_stop(&stub_short);
	secret_free(good);
	secret_free(bad);
	return 0;
}

static struct gw_wechat_conf
conf_for(const struct stub *s, const struct secret *sec)
{
	struct gw_wechat_conf c;

	memset(&c, 0, sizeof(c));
	c.appid = APPID;
	c.secret = sec;
	c.open_base = s->base;
	c.api_base = s->base;
	c.timeout_ms = 3000;
	return c;
}

/* The phone: follows WeChat's authorize URL (as the user openid) to the
 * redirect and parses the callback's query into code and state. */
static void
phone_authorize(const struct stub *s, const char *state, const char *openid,
    char code[GW_WECHAT_CODE_MAX + 1], char got_state[GW_WECHAT_STATE_LEN + 1])
{
	struct gw_wechat_conf c = conf_for(s, good);
	char *url = NULL, full[2048], *hash;
	const char *loc = NULL, *q;
	long status = 0;
	CURL *e;

	assert_int_equal(gw_wechat_authorize_url(&c,
	                     "https://gjj.example.cn/qr/s/ab/cb", state, &url),
	    0);
	hash = strchr(url, '#');
	assert_non_null(hash);
	assert_string_equal(hash, "#wechat_redirect");
	*hash = '\0';
	snprintf(full, sizeof(full), "%s&stub_openid=%s", url, openid);
	free(url);
	e = curl_easy_init();
	assert_non_null(e);
	curl_easy_setopt(e, CURLOPT_URL, full);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, testtool_discard);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 302);
	curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &loc);
	assert_non_null(loc);
	assert_true(strncmp(loc, "https://gjj.example.cn/qr/s/ab/cb?",
	                strlen("https://gjj.example.cn/qr/s/ab/cb?")) == 0);
	q = strchr(loc, '?') + 1;
	assert_int_equal(gw_wechat_callback_parse(q, strlen(q), code,
	                     got_state),
	    0);
	curl_easy_cleanup(e);
}

static void
test_authorize_url(void **state)
{
	struct gw_wechat_conf c = conf_for(&stub, good);
	char *url = NULL;

	(void)state;
	c.open_base = NULL;
	assert_int_equal(gw_wechat_authorize_url(&c,
	                     "https://gjj.example.cn/qr/s/ab/cb?x=1&y=2", STATE,
	                     &url),
	    0);
	assert_string_equal(url,
	    "https://open.weixin.qq.com/connect/oauth2/authorize"
	    "?appid=" APPID "&redirect_uri=https%3A%2F%2Fgjj.example.cn%2Fqr"
	    "%2Fs%2Fab%2Fcb%3Fx%3D1%26y%3D2&response_type=code"
	    "&scope=snsapi_base&state=" STATE "#wechat_redirect");
	free(url);
	c.open_base = "http://127.0.0.1:9/";
	assert_int_equal(gw_wechat_authorize_url(&c, "https://a.example/cb",
	                     STATE, &url),
	    0);
	assert_true(
	    strncmp(url,
	        "http://127.0.0.1:9/connect/oauth2/authorize?appid=", 50) == 0);
	free(url);
	/* refused: a state not ours, a redirect not http(s), bad conf */
	assert_int_equal(gw_wechat_authorize_url(&c, "https://a.example/cb",
	                     "0123", &url),
	    UK_ERR_INPUT);
	assert_null(url);
	assert_int_equal(gw_wechat_authorize_url(&c, "javascript:alert(1)",
	                     STATE, &url),
	    UK_ERR_INPUT);
	c.appid = "wx 1";
	assert_int_equal(gw_wechat_authorize_url(&c, "https://a.example/cb",
	                     STATE, &url),
	    UK_ERR_CONFIG_VALUE);
	c.appid = APPID;
	c.secret = NULL;
	assert_int_equal(gw_wechat_conf_check(&c), UK_ERR_CONFIG_VALUE);
	c.secret = good;
	c.api_base = "ftp://x";
	assert_int_equal(gw_wechat_conf_check(&c), UK_ERR_CONFIG_VALUE);
}

static void
test_code_to_openid(void **state)
{
	struct gw_wechat_conf c = conf_for(&stub, good);
	char code[GW_WECHAT_CODE_MAX + 1], st[GW_WECHAT_STATE_LEN + 1];
	char openid[GW_WECHAT_OPENID_MAX + 1];

	(void)state;
	phone_authorize(&stub, STATE, OPENID, code, st);
	assert_string_equal(st, STATE);
	assert_int_equal(gw_wechat_code_to_openid(&c, code, openid), 0);
	assert_string_equal(openid, OPENID);
	/* a code works once: WeChat's 40163 */
	assert_int_equal(gw_wechat_code_to_openid(&c, code, openid),
	    UK_ERR_WECHAT_CODE);
	assert_string_equal(openid, "");
	/* another user */
	phone_authorize(&stub, STATE, "oOtherUser_123", code, st);
	assert_int_equal(gw_wechat_code_to_openid(&c, code, openid), 0);
	assert_string_equal(openid, "oOtherUser_123");
	/* a code never issued: 40029 */
	assert_int_equal(gw_wechat_code_to_openid(&c, "061NeverIssued", openid),
	    UK_ERR_WECHAT_CODE);
	/* a malformed code never leaves the gateway */
	assert_int_equal(gw_wechat_code_to_openid(&c, "a&secret=x", openid),
	    UK_ERR_INPUT);
	assert_int_equal(gw_wechat_code_to_openid(&c, "", openid),
	    UK_ERR_INPUT);
}

static void
test_code_expired(void **state)
{
	struct gw_wechat_conf c = conf_for(&stub_short, good);
	char code[GW_WECHAT_CODE_MAX + 1], st[GW_WECHAT_STATE_LEN + 1];
	char openid[GW_WECHAT_OPENID_MAX + 1];
	struct timespec ts = { 1, 200000000 };

	(void)state;
	phone_authorize(&stub_short, STATE, OPENID, code, st);
	nanosleep(&ts, NULL);
	assert_int_equal(gw_wechat_code_to_openid(&c, code, openid),
	    UK_ERR_WECHAT_CODE);
}

/* Runs code_to_openid with stderr (the log) captured into log. */
static int
logged_call(const struct gw_wechat_conf *c, const char *code, char *log,
    size_t size)
{
	char path[512], openid[GW_WECHAT_OPENID_MAX + 1];
	int fd, saved, r;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	r = gw_wechat_code_to_openid(c, code, openid);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, size - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	return r;
}

static void
test_bad_secret(void **state)
{
	struct gw_wechat_conf c = conf_for(&stub, bad);
	char code[GW_WECHAT_CODE_MAX + 1], st[GW_WECHAT_STATE_LEN + 1];
	char log[4096];

	(void)state;
	phone_authorize(&stub, STATE, OPENID, code, st);
	assert_int_equal(logged_call(&c, code, log, sizeof(log)),
	    UK_ERR_WECHAT_UNAVAILABLE);
	/* WeChat's error is logged; the secret and the URL are not */
	assert_non_null(strstr(log, "40125"));
	assert_non_null(strstr(log, "invalid appsecret"));
	assert_null(strstr(log, "wrong-secret"));
	assert_null(strstr(log, "secret="));
	assert_null(strstr(log, code));
	/* a wrong appid is answered the same */
	c.secret = good;
	c.appid = "wxOther";
	assert_int_equal(logged_call(&c, code, log, sizeof(log)),
	    UK_ERR_WECHAT_UNAVAILABLE);
	assert_null(strstr(log, "s3cr3t"));
	/* the code was not spent by the refused calls */
	c.appid = APPID;
	assert_int_equal(logged_call(&c, code, log, sizeof(log)), 0);
}

static void
test_unavailable(void **state)
{
	struct gw_wechat_conf c = conf_for(&stub, good);
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char base[128], log[4096];
	struct timespec t0, t1;
	int s;

	(void)state;
	/* 404 from the server: not WeChat's API */
	snprintf(base, sizeof(base), "%s/nope", stub.base);
	c.api_base = base;
	assert_int_equal(logged_call(&c, "061abc", log, sizeof(log)),
	    UK_ERR_WECHAT_UNAVAILABLE);
	assert_non_null(strstr(log, "HTTP 404"));
	/* a server that accepts and never answers: the timeout */
	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	c.timeout_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(logged_call(&c, "061abc", log, sizeof(log)),
	    UK_ERR_WECHAT_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_null(strstr(log, "s3cr3t"));
	close(s);
}

struct parse_case {
	const char *query;
	int rc;
	const char *code, *state;
};

static void
test_callback_parse(void **state)
{
	static const struct parse_case cases[] = {
		{ "code=061abc&state=" STATE, 0, "061abc", STATE },
		{ "state=" STATE "&code=0_1-A", 0, "0_1-A", STATE },
		{ "code=061abc&state=" STATE "&extra=1&x", 0, "061abc", STATE },
		{ "code=%30%36&state=" STATE, 0, "06", STATE },
		{ "state=" STATE, UK_ERR_WECHAT_CODE, "", "" },
		{ "code=&state=" STATE, UK_ERR_WECHAT_CODE, "", "" },
		{ "code&state=" STATE, UK_ERR_WECHAT_CODE, "", "" },
		{ "code=a&code=b&state=" STATE, UK_ERR_WECHAT_CODE, "", "" },
		{ "code=a+b&state=" STATE, UK_ERR_WECHAT_CODE, "", "" },
		{ "code=a%26secret%3Dx&state=" STATE, UK_ERR_WECHAT_CODE, "",
		    "" },
		{ "code=a", UK_ERR_SCAN_OAUTH_STATE, "", "" },
		{ "code=a&state=0123", UK_ERR_SCAN_OAUTH_STATE, "", "" },
		{ "code=a&state=" STATE "0", UK_ERR_SCAN_OAUTH_STATE, "", "" },
		{ "code=a&state=0123456789ABCDEF0123456789ABCDEF",
		    UK_ERR_SCAN_OAUTH_STATE, "", "" },
		{ "code=a&state=" STATE "&state=" STATE,
		    UK_ERR_SCAN_OAUTH_STATE, "", "" },
		{ "code=a%2&state=" STATE, UK_ERR_INPUT, "", "" },
		{ "code=a%zz&state=" STATE, UK_ERR_INPUT, "", "" },
		{ "code=a%00&state=" STATE, UK_ERR_INPUT, "", "" },
		{ "", UK_ERR_SCAN_OAUTH_STATE, "", "" },
	};
	char code[GW_WECHAT_CODE_MAX + 1], st[GW_WECHAT_STATE_LEN + 1];
	char big[GW_WECHAT_QUERY_MAX + 2];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = gw_wechat_callback_parse(cases[i].query,
		    strlen(cases[i].query), code, st);
		if (rc != cases[i].rc)
			fail_msg("%s: %d, want %d", cases[i].query, rc,
			    cases[i].rc);
		assert_string_equal(code, cases[i].code);
		assert_string_equal(st, cases[i].state);
	}
	/* a code of 128 characters is the longest */
	memset(big, 0, sizeof(big));
	memcpy(big, "state=" STATE "&code=", 6 + 32 + 6);
	memset(big + 44, 'A', 128);
	assert_int_equal(gw_wechat_callback_parse(big, strlen(big), code, st),
	    0);
	assert_int_equal(strlen(code), 128);
	big[44 + 128] = 'A';
	assert_int_equal(gw_wechat_callback_parse(big, strlen(big), code, st),
	    UK_ERR_WECHAT_CODE);
	/* embedded NUL, too long */
	assert_int_equal(gw_wechat_callback_parse("code=a\0b", 8, code, st),
	    UK_ERR_INPUT);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gw_wechat_callback_parse(big, strlen(big), code, st),
	    UK_ERR_LIMIT);
}

static void
test_forms(void **state)
{
	(void)state;
	assert_true(gw_wechat_code_valid("061AbC_-9"));
	assert_false(gw_wechat_code_valid(""));
	assert_false(gw_wechat_code_valid(NULL));
	assert_false(gw_wechat_code_valid("a b"));
	assert_false(gw_wechat_code_valid("a.b"));
	assert_true(gw_wechat_openid_valid(OPENID));
	assert_false(gw_wechat_openid_valid("o\"x"));
	assert_true(gw_wechat_state_valid(STATE));
	assert_false(gw_wechat_state_valid("0123456789abcdef0123456789abcde"));
	assert_false(gw_wechat_state_valid("0123456789abcdef0123456789abcdeg"));
	assert_false(gw_wechat_state_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorize_url),
		cmocka_unit_test(test_code_to_openid),
		cmocka_unit_test(test_code_expired),
		cmocka_unit_test(test_bad_secret),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_callback_parse),
		cmocka_unit_test(test_forms),
	};
	int rc;

	if (testdb_tmpdir("wechat", tmpdir, sizeof(tmpdir)) != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	testdb_rmtree(tmpdir);
	return rc;
}
