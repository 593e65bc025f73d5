/* tests/unit/gateway/test_httputil.c: path normalisation, cookie lookup and header name classes, as tables of cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/errors.h"
#include "gateway/httputil.h"

struct path_case {
	const char *raw;
	int rc;
	const char *want; /* when rc == 0 */
};

static const struct path_case paths[] = {
	{ "/", 0, "/" },
	{ "/hall/index.html", 0, "/hall/index.html" },
	{ "/hall//x///y", 0, "/hall/x/y" },
	{ "//hall", 0, "/hall" },
	{ "/hall/", 0, "/hall/" },
	{ "/a%20b", 0, "/a b" },
	{ "/%41%62c", 0, "/Abc" },
	{ "/%e5%85%ac%e7%a7%af%e9%87%91", 0,
	    "/\xe5\x85\xac\xe7\xa7\xaf\xe9\x87\x91" },
	{ "/\xe5\x85\xac", 0, "/\xe5\x85\xac" },
	{ "/a.b/.c/..d/...", 0, "/a.b/.c/..d/..." },
	{ "/a/%2e%2ex", 0, "/a/..x" },
	{ "/a:b@c,d=e", 0, "/a:b@c,d=e" },
	/* What the upstream would split or climb elsewhere than the policy
	 * matched: path parameters, an encoded '?' or '#'. */
	{ "/a:b@c;d=e,f", UK_ERR_BAD_PATH, NULL },
	{ "/hall/query/..;/maker/x", UK_ERR_BAD_PATH, NULL },
	{ "/hall/query/%3b/x", UK_ERR_BAD_PATH, NULL },
	{ "/hall/maker%3Fx=1", UK_ERR_BAD_PATH, NULL },
	{ "/hall/maker%23frag", UK_ERR_BAD_PATH, NULL },
	{ "/\xf0\x9f\x98\x80", 0, "/\xf0\x9f\x98\x80" },
	/* refused */
	{ "", UK_ERR_BAD_PATH, NULL },
	{ "hall", UK_ERR_BAD_PATH, NULL },
	{ "*", UK_ERR_BAD_PATH, NULL },
	{ "http://x/", UK_ERR_BAD_PATH, NULL },
	{ "/..", UK_ERR_BAD_PATH, NULL },
	{ "/.", UK_ERR_BAD_PATH, NULL },
	{ "/a/../b", UK_ERR_BAD_PATH, NULL },
	{ "/a/./b", UK_ERR_BAD_PATH, NULL },
	{ "/a/..", UK_ERR_BAD_PATH, NULL },
	{ "/a/.", UK_ERR_BAD_PATH, NULL },
	{ "/a//../b", UK_ERR_BAD_PATH, NULL },
	{ "/%2e%2e/etc", UK_ERR_BAD_PATH, NULL },
	{ "/a/%2E%2E", UK_ERR_BAD_PATH, NULL },
	{ "/a/.%2e/b", UK_ERR_BAD_PATH, NULL },
	{ "/a/%2e/b", UK_ERR_BAD_PATH, NULL },
	{ "/a%2Fb", UK_ERR_BAD_PATH, NULL },
	{ "/a%2fb", UK_ERR_BAD_PATH, NULL },
	{ "/a%252Fb", UK_ERR_BAD_PATH, NULL },
	{ "/a%25", UK_ERR_BAD_PATH, NULL },
	{ "/a%5cb", UK_ERR_BAD_PATH, NULL },
	{ "/a\\b", UK_ERR_BAD_PATH, NULL },
	{ "/a\\..\\b", UK_ERR_BAD_PATH, NULL },
	{ "/a%00b", UK_ERR_BAD_PATH, NULL },
	{ "/a%0d%0aSet-Cookie:x", UK_ERR_BAD_PATH, NULL },
	{ "/a%09", UK_ERR_BAD_PATH, NULL },
	{ "/a%7f", UK_ERR_BAD_PATH, NULL },
	{ "/a\tb", UK_ERR_BAD_PATH, NULL },
	{ "/a%", UK_ERR_BAD_PATH, NULL },
	{ "/a%4", UK_ERR_BAD_PATH, NULL },
	{ "/a%zz", UK_ERR_BAD_PATH, NULL },
	{ "/a%%41", UK_ERR_BAD_PATH, NULL },
	/* overlong "/" and "." */
	{ "/%c0%af", UK_ERR_BAD_PATH, NULL },
	{ "/%c0%ae%c0%ae/x", UK_ERR_BAD_PATH, NULL },
	{ "/\xc0\xae\xc0\xae/x", UK_ERR_BAD_PATH, NULL },
	{ "/%e0%80%af", UK_ERR_BAD_PATH, NULL },
	{ "/%f0%80%80%af", UK_ERR_BAD_PATH, NULL },
	/* surrogates, beyond U+10FFFF, truncated, stray continuation */
	{ "/%ed%a0%80", UK_ERR_BAD_PATH, NULL },
	{ "/%f4%90%80%80", UK_ERR_BAD_PATH, NULL },
	{ "/%e5%85", UK_ERR_BAD_PATH, NULL },
	{ "/%80", UK_ERR_BAD_PATH, NULL },
	{ "/%ff", UK_ERR_BAD_PATH, NULL },
	{ "/%e5%85/", UK_ERR_BAD_PATH, NULL },
};

static void
test_paths(void **state)
{
	char out[128], msg[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		rc = gw_path_normalise(paths[i].raw, out, sizeof(out));
		snprintf(msg, sizeof(msg), "case %zu", i);
		if (rc != paths[i].rc)
			fail_msg("%s: rc %d want %d", msg, rc, paths[i].rc);
		if (rc == 0)
			assert_string_equal(out, paths[i].want);
		else
			assert_string_equal(out, "");
	}
}

static void
test_path_size(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(gw_path_normalise("/abcdef", out, sizeof(out)), 0);
	assert_string_equal(out, "/abcdef");
	assert_int_equal(gw_path_normalise("/abcdefg", out, sizeof(out)),
	    UK_ERR_BAD_PATH);
	/* collapsing happens before the size check */
	assert_int_equal(gw_path_normalise("//////abcdef", out, sizeof(out)),
	    0);
	assert_string_equal(out, "/abcdef");
	assert_int_equal(gw_path_normalise("/%41", out, 1), UK_ERR_BAD_PATH);
	assert_int_equal(gw_path_normalise(NULL, out, sizeof(out)),
	    UK_ERR_BAD_PATH);
}

struct cookie_case {
	const char *header;
	const char *name;
	int rc;
	const char *want;
};

static const struct cookie_case cookies[] = {
	{ "sid=abc", "sid", 0, "abc" },
	{ "a=1; sid=abc; b=2", "sid", 0, "abc" },
	{ "a=1;sid=abc;b=2", "sid", 0, "abc" },
	{ "  sid = abc  ", "sid", 0, "abc" },
	{ "sid=\"abc\"", "sid", 0, "abc" },
	{ "sid=", "sid", 0, "" },
	{ "sidx=1; xsid=2", "sid", UK_ERR_NOT_FOUND, NULL },
	{ "SID=1", "sid", UK_ERR_NOT_FOUND, NULL },
	{ "", "sid", UK_ERR_NOT_FOUND, NULL },
	{ "garbage; sid=ok", "sid", 0, "ok" },
	{ "a=x y; sid=ok", "sid", 0, "ok" },
	{ "__Host-sid=Zm9v_-.~", "__Host-sid", 0, "Zm9v_-.~" },
	/* duplicates: a sibling domain may have planted one */
	{ "sid=a; sid=b", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a; x=1; sid=a", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a;sid=", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a; sid=a; sid=a", "sid", UK_ERR_BAD_COOKIE, NULL },
	/* characters outside cookie-octet */
	{ "sid=a b", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a,b", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a\\b", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a\"b", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=\"abc", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=\xe5\x85\xac", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=a\x01", "sid", UK_ERR_BAD_COOKIE, NULL },
	/* too long for out (16 bytes) */
	{ "sid=0123456789abcdef", "sid", UK_ERR_BAD_COOKIE, NULL },
	{ "sid=0123456789abcde", "sid", 0, "0123456789abcde" },
};

static void
test_cookies(void **state)
{
	char out[16];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		rc = gw_cookie_get(cookies[i].header, cookies[i].name, out,
		    sizeof(out));
		if (rc != cookies[i].rc)
			fail_msg("cookie case %zu: rc %d want %d", i, rc,
			    cookies[i].rc);
		if (rc == 0)
			assert_string_equal(out, cookies[i].want);
		else
			assert_string_equal(out, "");
	}
}

static void
test_identity(void **state)
{
	static const char *const yes[] = { "X-Ukey-Operator", "x-ukey-operator",
		"X_Ukey_Operator", "X-UKEY-ASSERTION", "x_ukey-unit", "X-Ukey-",
		"x-uKey-Roles", NULL };
	static const char *const no[] = { "X-Ukey", "X-Ukeys-Operator",
		"Ukey-Operator", "X-Forwarded-For", "", "X Ukey Operator",
		NULL };
	size_t i;

	(void)state;
	for (i = 0; yes[i] != NULL; i++)
		if (!gw_hdr_is_identity(yes[i]))
			fail_msg("%s should be an identity header", yes[i]);
	for (i = 0; no[i] != NULL; i++)
		if (gw_hdr_is_identity(no[i]))
			fail_msg("%s should not be an identity header", no[i]);
	/* "X-Ukey_" reads as "x-ukey-": an identity header too */
	assert_true(gw_hdr_is_identity("X-Ukey_"));
	assert_false(gw_hdr_is_identity(NULL));
}

static void
test_hop_by_hop(void **state)
{
	static const char *const fixed[] = { "Connection", "keep-alive",
		"Proxy-Authenticate", "proxy-authorization", "TE", "Trailer",
		"Transfer-Encoding", "upgrade", "Proxy-Connection",
		"Transfer_Encoding", NULL };
	size_t i;

	(void)state;
	for (i = 0; fixed[i] != NULL; i++)
		if (!gw_hdr_is_hop_by_hop(fixed[i], NULL))
			fail_msg("%s should be hop-by-hop", fixed[i]);
	assert_false(gw_hdr_is_hop_by_hop("Accept", NULL));
	assert_false(gw_hdr_is_hop_by_hop("Cookie", "close"));
	assert_false(gw_hdr_is_hop_by_hop("TEx", NULL));
	assert_false(gw_hdr_is_hop_by_hop("Keep", NULL));
	assert_true(gw_hdr_is_hop_by_hop("X-Secret", "close, X-Secret"));
	assert_true(gw_hdr_is_hop_by_hop("x-secret", "keep-alive,x-Secret"));
	assert_true(gw_hdr_is_hop_by_hop("X-Other", " a ,\tX-Other\t, b"));
	assert_false(gw_hdr_is_hop_by_hop("X-Sec", "X-Secret"));
	assert_false(gw_hdr_is_hop_by_hop("X-Secret", "X-Sec"));
	assert_false(gw_hdr_is_hop_by_hop("X-Secret", ",,,"));
	assert_false(gw_hdr_is_hop_by_hop("", ",,,"));
	assert_false(gw_hdr_is_hop_by_hop(NULL, "x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_size),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_hop_by_hop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
