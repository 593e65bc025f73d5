/* tests/unit/gateway/test_pwlogin.c: password login and the daily freeze on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/pwhash.h"
#include "gateway/pwlogin.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"

/* 2024-06-10 14:13:20 in Shanghai; the next local midnight is
 * 2024-06-11 00:00 +08:00 = 2024-06-10 16:00:00 UTC. */
#define T0 ((int64_t)1718000000)
#define MIDNIGHT ((int64_t)1718035200)
#define RIGHT "Secret123"
#define WRONG "Wrong4567"

struct fixture {
	struct testgw_db g; /* first: testgw_teardown frees the fixture */
	struct gw_pwlogin_conf conf;
};

static int
setup_db(void **state)
{
	struct fixture *fx = testgw_new(state, sizeof(*fx), 1);

	fx->conf.tz = "Asia/Shanghai";
	fx->conf.ip_limit = 100000;
	fx->conf.ip_window = 300;
	fx->conf.hash.t_cost = 1;
	fx->conf.hash.m_cost_kib = 256;
	fx->conf.hash.parallelism = 1;
	return 0;
}

static void
add_unit(struct store *st, const char *id, int agreement)
{
	int r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at, agreement_at)"
	    " VALUES (?, 'unit', ?, ?)",
	    "tii", id, T0 - 1000, agreement ? T0 - 500 : (int64_t)0);

	if (r == 0 && !agreement)
		r = store_exec(st, NULL,
		    "UPDATE units SET agreement_at = NULL WHERE id = ?", "t",
		    id);
	if (r != 0)
		fail_msg("add unit: %s", store_last_error(st));
}

/* Adds an operator; pw NULL: no password. */
static void
add_op(struct store *st, const struct gw_pwhash_params *hp, const char *login,
    const char *unit, const char *resident, const char *status, const char *pw,
    int must_change)
{
	struct secret *s;
	char *phc = NULL;
	char lc[80];
	size_t i;
	int r;

	for (i = 0; login[i] != '\0' && i < sizeof(lc) - 1; i++)
		lc[i] = (char)(login[i] >= 'A' && login[i] <= 'Z'
		        ? login[i] - 'A' + 'a'
		        : login[i]);
	lc[i] = '\0';
	if (pw != NULL) {
		s = secret_from(pw, strlen(pw));
		assert_non_null(s);
		assert_int_equal(gw_pwhash(hp, s, &phc), 0);
		secret_free(s);
	}
	r = store_exec(st, NULL,
	    "INSERT INTO operators (login, login_lc, unit_id, name,"
	    " resident_id, status, pw_hash, pw_must_change, created_at)"
	    " VALUES (?, ?, ?, 'name', ?, ?, ?, ?, ?)",
	    "ttttttii", login, lc, unit, resident, status, phc,
	    (int64_t)must_change, T0 - 100);
	if (r != 0)
		fail_msg("add operator: %s", store_last_error(st));
	free(phc);
}

/* The standard fixture: unit U1 (agreement signed) with operator alice. */
static void
std_fixture(struct fixture *fx)
{
	add_unit(fx->g.st, "U1", 1);
	add_op(fx->g.st, &fx->conf.hash, "Alice", "U1", "11010519491231002X",
	    "active", RIGHT, 0);
}

static void
attempt(struct fixture *fx, const char *login, const char *pw, int64_t now,
    struct gw_pwlogin_result *res)
{
	struct secret *s = secret_from(pw, strlen(pw));
	int r;

	assert_non_null(s);
	r = gw_pwlogin_attempt(fx->g.st, &fx->conf, login, s, "192.0.2.1",
	    "test-agent", now, res);
	secret_free(s);
	if (r != 0)
		fail_msg("gw_pwlogin_attempt: %s: %s", uk_error_id(r),
		    store_last_error(fx->g.st));
}

static int64_t
fail_count(struct fixture *fx)
{
	return testgw_int_t(fx->g.st,
	    "SELECT fail_count FROM operators WHERE login_lc = ?", "alice");
}

static int64_t
frozen_until(struct fixture *fx)
{
	return testgw_int_t(fx->g.st,
	    "SELECT frozen_until FROM operators WHERE login_lc = ?", "alice");
}

static void
test_right(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	uint64_t c0;
	char *detail;

	std_fixture(fx);
	c0 = gw_pwhash_count();
	attempt(fx, "alice", RIGHT, T0, &res);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.hashed, 1);
	assert_int_equal(gw_pwhash_count() - c0, 1);
	assert_int_equal(res.tries_left, GW_PW_TRIES);
	assert_int_equal(res.frozen_until, 0);
	assert_int_equal(res.must_change, 0);
	assert_string_equal(res.op.login, "Alice");
	assert_string_equal(res.op.unit, "U1");
	assert_int_equal(fail_count(fx), 0);
	/* Audited. */
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = ?",
	                     "login.password"),
	    1);
	detail = testgw_text_t(fx->g.st,
	    "SELECT detail FROM audit WHERE subject = ?", "operator:Alice");
	assert_non_null(strstr(detail, "\"result\":\"ok\""));
	assert_non_null(strstr(detail, "\"ip\":\"192.0.2.1\""));
	assert_null(strstr(detail, RIGHT));
	free(detail);
	/* By resident ID with a lower-case x, and the login in any case. */
	attempt(fx, "11010519491231002x", RIGHT, T0, &res);
	assert_int_equal(res.code, 0);
	assert_string_equal(res.op.login, "Alice");
	attempt(fx, "ALICE", RIGHT, T0, &res);
	assert_int_equal(res.code, 0);
	assert_int_equal(audit_verify_chain(fx->g.st, NULL), 0);
}

static void
test_wrong(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	char *detail;

	std_fixture(fx);
	attempt(fx, "alice", WRONG, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(res.tries_left, 5);
	assert_int_equal(res.frozen_until, 0);
	assert_int_equal(res.hashed, 1);
	assert_int_equal(fail_count(fx), 1);
	detail = testgw_text_t(fx->g.st,
	    "SELECT detail FROM audit WHERE subject = ?", "operator:Alice");
	assert_non_null(strstr(detail, "\"result\":\"UK-4101\""));
	free(detail);
	/* A right password resets the count. */
	attempt(fx, "alice", WRONG, T0 + 1, &res);
	assert_int_equal(res.tries_left, 4);
	attempt(fx, "alice", RIGHT, T0 + 2, &res);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.tries_left, 6);
	assert_int_equal(fail_count(fx), 0);
}

/* Six wrong passwords freeze until the next local midnight; the seventh,
 * even with the right password, is refused without a hash; the next day
 * works. */
static void
test_freeze(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	uint64_t c0;
	int i;

	std_fixture(fx);
	for (i = 0; i < 5; i++) {
		attempt(fx, "alice", WRONG, T0 + i, &res);
		assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
		assert_int_equal(res.tries_left, 5 - i);
	}
	attempt(fx, "alice", WRONG, T0 + 10, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(res.tries_left, 0);
	assert_int_equal(res.frozen_until, MIDNIGHT);
	assert_int_equal(frozen_until(fx), MIDNIGHT);
	assert_int_equal(fail_count(fx), 6);

	c0 = gw_pwhash_count();
	attempt(fx, "alice", RIGHT, T0 + 20, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_FROZEN);
	assert_int_equal(res.hashed, 0);
	assert_int_equal(res.tries_left, 0);
	assert_int_equal(res.frozen_until, MIDNIGHT);
	assert_int_equal(gw_pwhash_count(), c0);
	assert_string_equal(uk_error_info(res.code)->seed, "用户已暂时冻结");
	attempt(fx, "alice", RIGHT, MIDNIGHT - 1, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_FROZEN);
	assert_int_equal(gw_pwhash_count(), c0);

	/* The next local day. */
	attempt(fx, "alice", RIGHT, MIDNIGHT, &res);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.tries_left, 6);
	assert_int_equal(fail_count(fx), 0);
	assert_int_equal(frozen_until(fx), 0);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = ?",
	                     "login.password"),
	    9);
}

/* A freeze made a minute before midnight lasts only until midnight; the
 * failures of one day do not carry into the next. */
static void
test_day_boundary(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	int i;

	std_fixture(fx);
	for (i = 0; i < 6; i++)
		attempt(fx, "alice", WRONG, MIDNIGHT - 60 + i, &res);
	assert_int_equal(res.frozen_until, MIDNIGHT);
	attempt(fx, "alice", WRONG, MIDNIGHT - 1, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_FROZEN);
	attempt(fx, "alice", WRONG, MIDNIGHT + 1, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(res.tries_left, 5);
	assert_int_equal(fail_count(fx), 1);
	assert_int_equal(frozen_until(fx), 0);
	/* Three wrong late in the day, one the next morning: 5 left. */
	for (i = 0; i < 2; i++)
		attempt(fx, "alice", WRONG, MIDNIGHT + 86400 - 10 + i, &res);
	assert_int_equal(res.tries_left, 3);
	attempt(fx, "alice", WRONG, MIDNIGHT + 86400 + 8 * 3600, &res);
	assert_int_equal(res.tries_left, 5);
}

struct worker {
	const char *loc;
	const struct gw_pwlogin_conf *conf;
	int n;
	int right_first; /* the first attempt uses the right password */
	int first_code;
	int codes[5]; /* 0, PASSWORD, FROZEN, other, error */
	int hashed;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct gw_pwlogin_result res;
	struct store *st = NULL;
	struct secret *s, *ok;
	int i, r;

	if (store_open(w->loc, &st) != 0) {
		w->codes[4] = w->n;
		return NULL;
	}
	s = secret_from(WRONG, strlen(WRONG));
	ok = secret_from(RIGHT, strlen(RIGHT));
	for (i = 0; i < w->n; i++) {
		r = gw_pwlogin_attempt(st, w->conf, "alice",
		    i == 0 && w->right_first ? ok : s, "198.51.100.7", NULL,
		    T0 + 5, &res);
		if (i == 0)
			w->first_code = r != 0 ? r : res.code;
		if (r != 0)
			w->codes[4]++;
		else if (res.code == 0)
			w->codes[0]++;
		else if (res.code == UK_ERR_LOGIN_PASSWORD)
			w->codes[1]++;
		else if (res.code == UK_ERR_LOGIN_FROZEN)
			w->codes[2]++;
		else
			w->codes[3]++;
		if (r == 0 && res.hashed)
			w->hashed++;
	}
	secret_free(s);
	secret_free(ok);
	store_close(st);
	return NULL;
}

/* Runs 8 threads of 25 attempts each, each with its own connection;
 * thread 0 begins with the right password when right_first. */
static void
run_threads(struct fixture *fx, int right_first, int codes[5], int *hashed,
    int *first_code)
{
	struct worker w[8];
	pthread_t th[8];
	int i, k;

	for (i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].loc = fx->g.db.loc;
		w[i].conf = &fx->conf;
		w[i].n = 25;
		w[i].right_first = i == 0 && right_first;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main,
		                     &w[i]),
		    0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		for (k = 0; k < 5; k++)
			codes[k] += w[i].codes[k];
		*hashed += w[i].hashed;
	}
	*first_code = w[0].first_code;
}

/* 200 wrong attempts from 8 threads, each with its own connection: exactly
 * six hashes. */
static void
test_concurrent(void **state)
{
	struct fixture *fx = *state;
	int codes[5] = { 0 }, hashed = 0, first;
	uint64_t c0;

	std_fixture(fx);
	c0 = gw_pwhash_count();
	run_threads(fx, 0, codes, &hashed, &first);
	assert_int_equal(codes[4], 0);
	assert_int_equal(codes[3], 0);
	assert_int_equal(codes[0], 0);
	assert_int_equal(codes[1], 6);
	assert_int_equal(codes[2], 194);
	assert_int_equal(hashed, 6);
	assert_int_equal(gw_pwhash_count() - c0, 6);
	assert_int_equal(fail_count(fx), 6);
	assert_int_equal(frozen_until(fx), MIDNIGHT);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = ?",
	                     "login.password"),
	    200);
	assert_int_equal(audit_verify_chain(fx->g.st, NULL), 0);
}

/* The right password racing with 199 wrong ones: the right attempt counts
 * before its hash like any other, so a refused one means exactly six
 * hashes; a success at reservation k forgives only the k attempts up to
 * it, so at most k + 6 hashes (12) happen and the operator ends frozen. */
static void
test_concurrent_right(void **state)
{
	struct fixture *fx = *state;
	int codes[5] = { 0 }, hashed = 0, first;
	uint64_t c0;

	std_fixture(fx);
	c0 = gw_pwhash_count();
	run_threads(fx, 1, codes, &hashed, &first);
	assert_int_equal(codes[4], 0);
	assert_int_equal(codes[3], 0);
	assert_true(first == 0 || first == UK_ERR_LOGIN_FROZEN);
	assert_int_equal(codes[0], first == 0 ? 1 : 0);
	assert_int_equal(gw_pwhash_count() - c0, (uint64_t)hashed);
	if (first == 0) {
		assert_true(hashed > 6 && hashed <= 12);
		assert_int_equal(codes[1], hashed - 1);
	} else {
		assert_int_equal(hashed, 6);
		assert_int_equal(codes[1], 6);
	}
	assert_int_equal(codes[0] + codes[1] + codes[2], 200);
	assert_int_equal(fail_count(fx), 6);
	assert_int_equal(frozen_until(fx), MIDNIGHT);
}

static void
test_ip_limit(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	uint64_t c0;
	int i;

	std_fixture(fx);
	fx->conf.ip_limit = 3;
	for (i = 0; i < 3; i++) {
		attempt(fx, "alice", RIGHT, T0 + i, &res);
		assert_int_equal(res.code, 0);
	}
	c0 = gw_pwhash_count();
	attempt(fx, "alice", RIGHT, T0 + 10, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_RATE);
	assert_int_equal(res.retry_after, 290);
	assert_int_equal(res.hashed, 0);
	attempt(fx, "nobody", RIGHT, T0 + 299, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_RATE);
	assert_int_equal(res.retry_after, 1);
	assert_int_equal(gw_pwhash_count(), c0);
	/* A new window. */
	attempt(fx, "alice", RIGHT, T0 + 300, &res);
	assert_int_equal(res.code, 0);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count FROM rate_limits WHERE key = ?",
	                     "ip:192.0.2.1"),
	    1);
}

static void
test_unknown(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	char long_login[200];
	uint64_t c0;

	std_fixture(fx);
	c0 = gw_pwhash_count();
	attempt(fx, "nobody", RIGHT, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_UNKNOWN_USER);
	assert_int_equal(res.tries_left, -1);
	assert_int_equal(res.hashed, 1);
	assert_int_equal(res.op.id, 0);
	assert_int_equal(gw_pwhash_count() - c0, 1);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE subject = ?",
	                     "operator:nobody"),
	    1);
	memset(long_login, 'a', sizeof(long_login) - 1);
	long_login[sizeof(long_login) - 1] = '\0';
	attempt(fx, long_login, RIGHT, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_UNKNOWN_USER);
	long_login[64] = '\0';
	{
		char subj[100];

		snprintf(subj, sizeof(subj), "operator:%.64s", long_login);
		assert_int_equal(testgw_int_t(fx->g.st,
		                     "SELECT count(*) FROM audit"
		                     " WHERE subject = ?",
		                     subj),
		    1);
	}
}

/* Left, disabled, no password: refused without a hash or a count. */
static void
test_status(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	uint64_t c0;

	add_unit(fx->g.st, "U1", 1);
	add_op(fx->g.st, &fx->conf.hash, "bob", "U1", NULL, "left", RIGHT, 0);
	add_op(fx->g.st, &fx->conf.hash, "carol", "U1", NULL, "disabled", RIGHT,
	    0);
	add_op(fx->g.st, &fx->conf.hash, "dave", "U1", NULL, "active", NULL, 0);
	c0 = gw_pwhash_count();
	attempt(fx, "bob", RIGHT, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_OPERATOR_LEFT);
	assert_string_equal(res.op.login, "bob");
	attempt(fx, "carol", RIGHT, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_DISABLED);
	attempt(fx, "dave", RIGHT, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_NO_PASSWORD);
	assert_int_equal(res.hashed, 0);
	assert_int_equal(gw_pwhash_count(), c0);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT sum(fail_count) FROM operators"
	                     " WHERE unit_id = ?",
	                     "U1"),
	    0);
}

static void
test_agreement(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;

	add_unit(fx->g.st, "U2", 0);
	add_op(fx->g.st, &fx->conf.hash, "alice", "U2", NULL, "active", RIGHT,
	    1);
	attempt(fx, "alice", WRONG, T0, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(fail_count(fx), 1);
	attempt(fx, "alice", RIGHT, T0 + 1, &res);
	assert_int_equal(res.code, UK_ERR_POLICY_AGREEMENT);
	assert_int_equal(res.must_change, 1);
	assert_int_equal(fail_count(fx), 0);
}

static void
test_rehash(void **state)
{
	struct fixture *fx = *state;
	struct gw_pwlogin_result res;
	char *h0, *h1, *h2;

	std_fixture(fx);
	h0 = testgw_text_t(fx->g.st,
	    "SELECT pw_hash FROM operators"
	    " WHERE login_lc = ?",
	    "alice");
	attempt(fx, "alice", RIGHT, T0, &res);
	assert_int_equal(res.code, 0);
	h1 = testgw_text_t(fx->g.st,
	    "SELECT pw_hash FROM operators"
	    " WHERE login_lc = ?",
	    "alice");
	assert_string_equal(h0, h1); /* same parameters: kept */
	fx->conf.hash.t_cost = 2;
	attempt(fx, "alice", RIGHT, T0 + 1, &res);
	assert_int_equal(res.code, 0);
	h2 = testgw_text_t(fx->g.st,
	    "SELECT pw_hash FROM operators"
	    " WHERE login_lc = ?",
	    "alice");
	assert_string_not_equal(h1, h2);
	assert_non_null(strstr(h2, "t=2"));
	/* The new hash works, and a wrong password still fails. */
	attempt(fx, "alice", RIGHT, T0 + 2, &res);
	assert_int_equal(res.code, 0);
	attempt(fx, "alice", WRONG, T0 + 3, &res);
	assert_int_equal(res.code, UK_ERR_LOGIN_PASSWORD);
	free(h0);
	free(h1);
	free(h2);
}

static void
test_tz(void **state)
{
	(void)state;
	assert_true(gw_tz_valid("Asia/Shanghai"));
	assert_true(gw_tz_valid("Asia/Urumqi"));
	assert_true(gw_tz_valid("UTC"));
	assert_true(gw_tz_valid("UTC+8"));
	assert_true(gw_tz_valid("UTC-11"));
	assert_true(gw_tz_valid("UTC+05:30"));
	assert_true(gw_tz_valid(NULL));
	assert_false(gw_tz_valid("Europe/Paris"));
	assert_false(gw_tz_valid("UTC+15"));
	assert_false(gw_tz_valid("UTC+"));
	assert_false(gw_tz_valid("UTC+8x"));
	assert_false(gw_tz_valid("utc"));
	assert_false(gw_tz_valid(""));
	assert_int_equal(gw_local_midnight_after("Asia/Shanghai", T0),
	    MIDNIGHT);
	assert_int_equal(gw_local_midnight_after("UTC+8", MIDNIGHT),
	    MIDNIGHT + 86400);
	assert_int_equal(gw_local_midnight_after("Asia/Shanghai", MIDNIGHT - 1),
	    MIDNIGHT);
	assert_int_equal(gw_local_midnight_after("Asia/Urumqi", T0),
	    MIDNIGHT + 2 * 3600);
	assert_int_equal(gw_local_midnight_after("UTC", T0),
	    MIDNIGHT + 8 * 3600);
	assert_int_equal(gw_local_day("Asia/Shanghai", MIDNIGHT - 1) + 1,
	    gw_local_day("Asia/Shanghai", MIDNIGHT));
	assert_int_equal(gw_local_day("UTC", 0), 0);
	assert_int_equal(gw_local_day("UTC", -1), -1);
	assert_int_equal(gw_local_midnight_after("UTC", -1), 0);
	assert_int_equal(gw_local_day("UTC-5", 3600), -1);
}

#define BOTH(f) TESTGW_BOTH_WITH(f, setup_db, testgw_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tz),
		BOTH(test_right),
		BOTH(test_wrong),
		BOTH(test_freeze),
		BOTH(test_day_boundary),
		BOTH(test_concurrent),
		BOTH(test_concurrent_right),
		BOTH(test_ip_limit),
		BOTH(test_unknown),
		BOTH(test_status),
		BOTH(test_agreement),
		BOTH(test_rehash),
	};
	int r;

	if (testgw_begin("pwlogin") != 0)
		return 1;
	r = cmocka_run_group_tests_name("pwlogin", tests, NULL, NULL);
	return testgw_end(r);
}
