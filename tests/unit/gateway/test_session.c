/* tests/unit/gateway/test_session.c: server-side sessions on SQLite and PostgreSQL: hashed ids, timeouts, revocation, CSRF and pre-login tokens, cookie attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/session.h"
#include "tests/lib/testdb.h"

struct backend {
	enum store_backend kind;
};

static struct backend be_sqlite = { STORE_SQLITE };
static struct backend be_pg = { STORE_POSTGRES };

struct fixture {
	struct testdb db;
	struct store *st;
	int64_t op_id, staff_id;
};

static char tmpdir[256];
static const struct gw_session_conf conf = { 1800, 28800 };
#define T0 ((int64_t)1800000000)

static void
exec(struct store *st, const char *sql)
{
	if (store_exec(st, NULL, sql, "") != 0)
		fail_msg("%s: %s", sql, store_last_error(st));
}

static int64_t
query_int(struct store *st, const char *sql)
{
	struct store_res *res = NULL;
	int64_t v;

	if (store_exec(st, &res, sql, "") != 0)
		fail_msg("%s: %s", sql, store_last_error(st));
	v = store_res_int(res, 0, 0);
	store_res_free(res);
	return v;
}

static int
setup_db(void **state)
{
	struct backend *be = *state;
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	*state = fx;
	testdb_new(&fx->db, be->kind, tmpdir, "session");
	if (store_open(fx->db.loc, &fx->st) != 0)
		fail_msg("store_open: %s", store_last_error(NULL));
	exec(fx->st,
	    "INSERT INTO units (id, name, created_at, authorized_at)"
	    " VALUES ('U1', 'Unit one', 1, 5)");
	exec(fx->st,
	    "INSERT INTO operators (login, login_lc, unit_id, name, roles,"
	    " created_at) VALUES ('Zhang', 'zhang', 'U1', '张三',"
	    " 'maker checker', 1)");
	exec(fx->st,
	    "INSERT INTO staff (login, login_lc, name, roles, created_at)"
	    " VALUES ('li', 'li', '李四', 'counter', 1)");
	fx->op_id = query_int(fx->st, "SELECT id FROM operators");
	fx->staff_id = query_int(fx->st, "SELECT id FROM staff");
	return 0;
}

static int
teardown_db(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL || fx == (void *)&be_sqlite || fx == (void *)&be_pg)
		return 0;
	store_close(fx->st);
	testdb_drop(&fx->db);
	free(fx);
	return 0;
}

static void
op_identity(const struct fixture *fx, struct gw_identity *id, const char *scope)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->kind, sizeof(id->kind), "%s", GW_KIND_OPERATOR);
	id->principal_id = fx->op_id;
	snprintf(id->unit, sizeof(id->unit), "U1");
	snprintf(id->scope, sizeof(id->scope), "%s", scope);
	snprintf(id->method, sizeof(id->method), "%s",
	    strcmp(scope, "full") == 0 ? "cert" : "password");
	id->cert_sig_at = strcmp(scope, "full") == 0 ? T0 : 0;
}

static void
test_create_lookup(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE], hash[65];
	struct store_res *res = NULL;
	struct gw_identity id;
	struct gw_session se;

	op_identity(fx, &id, "full");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, "10.0.0.1",
	                     "test", T0, cookie, csrf),
	    0);
	assert_true(gw_token_form(cookie));
	assert_true(gw_token_form(csrf));
	assert_string_not_equal(cookie, csrf);
	/* The store has the hash, never the value. */
	gw_sha256_hex(cookie, hash);
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT id_hash FROM sessions", ""),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 0), hash);
	assert_string_not_equal(store_res_text(res, 0, 0), cookie);
	store_res_free(res);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0 + 10, &se),
	    0);
	assert_string_equal(se.id.kind, "operator");
	assert_string_equal(se.id.login, "Zhang");
	assert_string_equal(se.id.name, "张三");
	assert_string_equal(se.id.roles, "maker checker");
	assert_string_equal(se.id.unit, "U1");
	assert_string_equal(se.id.scope, "full");
	assert_string_equal(se.id.method, "cert");
	assert_int_equal(se.id.cert_sig_at, T0);
	assert_true(se.id.unit_authorised);
	assert_string_equal(se.csrf, csrf);
	assert_int_equal(se.expires_at, T0 + conf.absolute);
}

static void
test_unknown_and_malformed(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE];
	struct gw_session se;

	assert_int_equal(gw_token_new(cookie), 0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0, &se),
	    UK_ERR_SESSION_NONE);
	assert_int_equal(gw_session_lookup(fx->st, &conf, "", T0, &se),
	    UK_ERR_SESSION_NONE);
	assert_int_equal(gw_session_lookup(fx->st, &conf, "x' OR '1'='1", T0,
	                     &se),
	    UK_ERR_SESSION_NONE);
	assert_int_equal(gw_session_lookup(fx->st, &conf, NULL, T0, &se),
	    UK_ERR_SESSION_NONE);
}

static void
test_timeouts(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	struct gw_identity id;
	struct gw_session se;
	int64_t t;

	op_identity(fx, &id, "query");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     cookie, csrf),
	    0);
	/* Idle: 1800 s without a request. */
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie,
	                     T0 + conf.idle + 1, &se),
	    UK_ERR_SESSION_EXPIRED);
	/* Activity keeps it alive, up to the absolute end. */
	for (t = T0 + 1000; t < T0 + conf.absolute; t += 1000)
		assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, t,
		                     &se),
		    0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie,
	                     T0 + conf.absolute, &se),
	    UK_ERR_SESSION_EXPIRED);
}

static void
test_touch_rate(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	struct gw_identity id;
	struct gw_session se;

	op_identity(fx, &id, "query");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     cookie, csrf),
	    0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0 + 30, &se),
	    0);
	assert_int_equal(query_int(fx->st, "SELECT last_seen FROM sessions"),
	    T0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie,
	                     T0 + GW_SESSION_TOUCH, &se),
	    0);
	assert_int_equal(query_int(fx->st, "SELECT last_seen FROM sessions"),
	    T0 + GW_SESSION_TOUCH);
}

static void
test_revocation(void **state)
{
	struct fixture *fx = *state;
	char c1[GW_TOKEN_SIZE], c2[GW_TOKEN_SIZE], c3[GW_TOKEN_SIZE],
	    csrf[GW_TOKEN_SIZE];
	struct gw_identity id;
	struct gw_session se;

	op_identity(fx, &id, "full");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     c1, csrf),
	    0);
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     c2, csrf),
	    0);
	/* Logout ends one session only. */
	assert_int_equal(gw_session_logout(fx->st, c1, T0 + 5), 0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, c1, T0 + 6, &se),
	    UK_ERR_SESSION_REVOKED);
	assert_int_equal(gw_session_lookup(fx->st, &conf, c2, T0 + 6, &se), 0);
	/* An admin revocation is seen by the very next request. */
	exec(fx->st, "UPDATE sessions SET revoked_at = 1800000007");
	assert_int_equal(gw_session_lookup(fx->st, &conf, c2, T0 + 8, &se),
	    UK_ERR_SESSION_REVOKED);
	/* An operator who left: no longer served. */
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     c3, csrf),
	    0);
	exec(fx->st, "UPDATE operators SET status = 'left'");
	assert_int_equal(gw_session_lookup(fx->st, &conf, c3, T0 + 8, &se),
	    UK_ERR_SESSION_REVOKED);
	/* Unknown cookies are ignored by logout. */
	assert_int_equal(gw_session_logout(fx->st, "nope", T0), 0);
}

static void
test_unit_authorisation_live(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	struct gw_identity id;
	struct gw_session se;

	op_identity(fx, &id, "full");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     cookie, csrf),
	    0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0, &se), 0);
	assert_true(se.id.unit_authorised);
	exec(fx->st, "UPDATE units SET authorized_at = NULL");
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0, &se), 0);
	assert_false(se.id.unit_authorised);
}

static void
test_staff_and_step_up(void **state)
{
	struct fixture *fx = *state;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	struct gw_identity id;
	struct gw_session se;
	int64_t n;

	memset(&id, 0, sizeof(id));
	snprintf(id.kind, sizeof(id.kind), "%s", GW_KIND_STAFF);
	id.principal_id = fx->staff_id;
	snprintf(id.scope, sizeof(id.scope), "full");
	snprintf(id.method, sizeof(id.method), "cert");
	assert_int_equal(gw_session_create(fx->st, &conf, &id, NULL, NULL, T0,
	                     cookie, csrf),
	    0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0, &se), 0);
	assert_string_equal(se.id.kind, "staff");
	assert_string_equal(se.id.login, "li");
	assert_string_equal(se.id.roles, "counter");
	assert_string_equal(se.id.unit, "");
	assert_false(se.id.unit_authorised);
	assert_int_equal(se.id.cert_sig_at, 0);
	assert_int_equal(gw_session_cert_sig(fx->st, se.id_hash, T0 + 100), 0);
	assert_int_equal(gw_session_lookup(fx->st, &conf, cookie, T0 + 101,
	                     &se),
	    0);
	assert_int_equal(se.id.cert_sig_at, T0 + 100);
	assert_int_equal(gw_sessions_active(fx->st, &conf, T0 + 101, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gw_sessions_active(fx->st, &conf, T0 + 5000, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(gw_sessions_purge(fx->st, T0 + 40000), 0);
	assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM sessions"), 1);
	assert_int_equal(gw_sessions_purge(fx->st, T0 + 28800 + 86401), 0);
	assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM sessions"), 0);
}

/* --- no store --- */

static void
test_tokens(void **state)
{
	char a[GW_TOKEN_SIZE], b[GW_TOKEN_SIZE], p1[GW_TOKEN_SIZE],
	    p2[GW_TOKEN_SIZE];

	(void)state;
	assert_int_equal(gw_token_new(a), 0);
	assert_int_equal(gw_token_new(b), 0);
	assert_int_equal(strlen(a), GW_TOKEN_LEN);
	assert_string_not_equal(a, b);
	assert_false(gw_token_form("abc"));
	assert_false(
	    gw_token_form("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	assert_false(
	    gw_token_form("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_true(
	    gw_token_form("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-"));
	/* The pre-login CSRF token: fixed for a cookie, different per
	 * cookie, not the cookie. */
	gw_pre_csrf(a, p1);
	gw_pre_csrf(a, p2);
	assert_string_equal(p1, p2);
	assert_true(gw_token_form(p1));
	assert_string_not_equal(p1, a);
	gw_pre_csrf(b, p2);
	assert_string_not_equal(p1, p2);
	/* CSRF comparison. */
	assert_int_equal(gw_csrf_check(p1, p1), 0);
	assert_int_equal(gw_csrf_check(p1, p2), UK_ERR_CSRF);
	assert_int_equal(gw_csrf_check(p1, NULL), UK_ERR_CSRF);
	assert_int_equal(gw_csrf_check(p1, ""), UK_ERR_CSRF);
	assert_int_equal(gw_csrf_check("", ""), UK_ERR_CSRF);
	assert_int_equal(gw_csrf_check(NULL, NULL), UK_ERR_CSRF);
}

static void
test_cookies(void **state)
{
	char buf[256];

	(void)state;
	gw_cookie_session("VAL", buf, sizeof(buf));
	assert_string_equal(buf,
	    "__Host-ukey-session=VAL; Path=/; Secure; "
	    "HttpOnly; SameSite=Lax");
	gw_cookie_pre("P", 3600, buf, sizeof(buf));
	assert_string_equal(buf,
	    "__Host-ukey-pre=P; Path=/; Max-Age=3600; "
	    "Secure; HttpOnly; SameSite=Lax");
	gw_cookie_clear("__Host-ukey-session", buf, sizeof(buf));
	assert_non_null(strstr(buf, "Max-Age=0"));
	assert_null(strstr(buf, "Domain"));
}

#define BOTH(f)                                                                \
	{ "sqlite_" #f, f, setup_db, teardown_db, &be_sqlite },                \
	{                                                                      \
		"pg_" #f, f, setup_db, teardown_db, &be_pg                     \
	}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_cookies),
		BOTH(test_create_lookup),
		BOTH(test_unknown_and_malformed),
		BOTH(test_timeouts),
		BOTH(test_touch_rate),
		BOTH(test_revocation),
		BOTH(test_unit_authorisation_live),
		BOTH(test_staff_and_step_up),
	};
	int r;

	if (testdb_tmpdir("test_session", tmpdir, sizeof(tmpdir)) != 0) {
		perror("mkdtemp");
		return 1;
	}
	r = cmocka_run_group_tests_name("session", tests, NULL, NULL);
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}
