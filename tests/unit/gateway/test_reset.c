/* tests/unit/gateway/test_reset.c: the SMS password reset flow (code, token, new password) on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"
#include "gateway/reset.h"
#include "gateway/sms_provider.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"

#define T0 ((int64_t)1718000000)
#define PHONE "13800138000"

struct fixture {
	struct testgw_db g; /* first: testgw_teardown frees the fixture */
	struct secret *key;
	struct gw_reset_conf conf;
	int64_t op;
};

static int64_t
add_op(struct store *st, const char *login, const char *phone, const char *pw)
{
	return testgw_add_op(st, login, "U1", NULL, phone, pw);
}

static int
setup_db(void **state)
{
	struct fixture *fx = testgw_new(state, sizeof(*fx), 1);

	fx->key = secret_from("test-code-key-0123456789", 24);
	fx->conf.code_key = fx->key;
	fx->conf.ip_limit = 100000;
	fx->conf.login_limit = 100000;
	fx->conf.floor_ms = -1;
	assert_int_equal(gw_unit_add(fx->g.st, &testgw_counter, "U1", "单位",
	                     NULL),
	    0);
	fx->op = add_op(fx->g.st, "op1", PHONE, "Initial123");
	return 0;
}

static int
teardown_db(void **state)
{
	struct fixture *fx = testgw_fixture(state);

	if (fx != NULL)
		secret_free(fx->key);
	return testgw_teardown(state);
}

/* The code in the outbox row id. */
static void
code_of(struct store *st, int64_t id, char code[7])
{
	struct store_res *res = NULL;
	json_t *o;

	assert_true(id > 0);
	assert_int_equal(store_exec(st, &res,
	                     "SELECT params, template, phone FROM sms_outbox"
	                     " WHERE id = ?",
	                     "i", id),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 1), GW_SMS_TPL_RESET_CODE);
	o = json_loads(store_res_text(res, 0, 0), 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "minutes")),
	    "5");
	snprintf(code, 7, "%s", json_string_value(json_object_get(o, "code")));
	assert_int_equal(strlen(code), 6);
	json_decref(o);
	store_res_free(res);
}

/* A request at now that must send; the code into code. */
static void
request_ok(struct fixture *fx, int64_t now, char code[7])
{
	struct gw_reset_result res;

	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op1",
	                     "10.0.0.1", "ua", now, &res),
	    0);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.public_code, 0);
	assert_int_equal(res.operator_id, fx->op);
	code_of(fx->g.st, res.sms_id, code);
}

/* A verification at now: its internal code; the token when right. */
static int
verify(struct fixture *fx, const char *code, int64_t now, struct secret **tok)
{
	struct gw_reset_result res;
	struct secret *t = NULL;

	assert_int_equal(gw_reset_verify(fx->g.st, &fx->conf, "OP1", code,
	                     "10.0.0.1", "ua", now, &res, &t),
	    0);
	if (res.code == 0) {
		assert_non_null(t);
		assert_int_equal(t->len, GW_RESET_TOKEN_LEN);
		assert_int_equal(res.public_code, 0);
	} else {
		assert_null(t);
		assert_int_equal(res.public_code,
		    res.code == UK_ERR_RESET_RATE ? UK_ERR_RESET_RATE
		                                  : UK_ERR_RESET_CODE_WRONG);
	}
	if (tok != NULL)
		*tok = t;
	else
		secret_free(t);
	return res.code;
}

static void
wrong_of(const char *code, char wrong[7])
{
	memcpy(wrong, code, 7);
	wrong[5] = (char)('0' + (code[5] - '0' + 1) % 10);
}

static void
test_request_sends(void **state)
{
	struct fixture *fx = *state;
	struct store_res *res = NULL;
	char code[7];

	request_ok(fx, T0, code);
	/* stored as a 64-hex HMAC, never the code */
	assert_int_equal(store_exec(fx->g.st, &res,
	                     "SELECT code_hash, expires_at, checks, ip"
	                     " FROM reset_codes",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_int_equal(strlen(store_res_text(res, 0, 0)), 64);
	assert_null(strstr(store_res_text(res, 0, 0), code));
	assert_int_equal(store_res_int(res, 0, 1), T0 + 300);
	assert_int_equal(store_res_int(res, 0, 2), 0);
	assert_string_equal(store_res_text(res, 0, 3), "10.0.0.1");
	store_res_free(res);
	res = NULL;
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox WHERE phone = "
	                     "'" PHONE "' AND status = 'queued'"),
	    1);
	/* audited, without the code */
	assert_int_equal(store_exec(fx->g.st, &res,
	                     "SELECT actor, subject, detail, result, ip"
	                     " FROM audit WHERE event = 'reset.request'",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 1), "operator:op1");
	assert_string_equal(store_res_text(res, 0, 3), "ok");
	assert_null(strstr(store_res_text(res, 0, 2), code));
	store_res_free(res);
}

static void
test_same_public_answer(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;
	int64_t left;

	add_op(fx->g.st, "nophone", NULL, NULL);
	left = add_op(fx->g.st, "gone", "13900139000", NULL);
	assert_int_equal(gw_operator_leave(fx->g.st, &testgw_counter, left), 0);

	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "nobody",
	                     "1.1.1.1", NULL, T0, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_UNKNOWN_USER);
	assert_int_equal(res.public_code, 0);
	assert_int_equal(res.sms_id, 0);
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "nophone",
	                     "1.1.1.1", NULL, T0, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_NO_PHONE);
	assert_int_equal(res.public_code, 0);
	assert_int_equal(res.sms_id, 0);
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "gone",
	                     "1.1.1.1", NULL, T0, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_INACTIVE);
	assert_int_equal(res.public_code, 0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox"),
	    0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM reset_codes"),
	    0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event ="
	                     " 'reset.request' AND result = 'UK-4509'"),
	    1);
	/* verifying for an unknown login is the same public refusal */
	{
		struct secret *t = NULL;

		assert_int_equal(gw_reset_verify(fx->g.st, &fx->conf, "nobody",
		                     "123456", NULL, NULL, T0, &res, &t),
		    0);
		assert_int_equal(res.code, UK_ERR_RESET_NO_CODE);
		assert_int_equal(res.public_code, UK_ERR_RESET_CODE_WRONG);
		assert_null(t);
	}
}

static void
test_code_lifetime(void **state)
{
	struct fixture *fx = *state;
	struct secret *t = NULL;
	char code[7];

	request_ok(fx, T0, code);
	assert_int_equal(verify(fx, code, T0 + 300, NULL),
	    UK_ERR_RESET_CODE_EXPIRED);
	request_ok(fx, T0 + 400, code);
	assert_int_equal(verify(fx, code, T0 + 699, &t), 0);
	secret_free(t);
	/* used up */
	assert_int_equal(verify(fx, code, T0 + 699, NULL),
	    UK_ERR_RESET_CODE_USED);
}

static void
test_five_checks(void **state)
{
	struct fixture *fx = *state;
	char code[7], wrong[7];
	int i;

	request_ok(fx, T0, code);
	wrong_of(code, wrong);
	for (i = 0; i < 5; i++)
		assert_int_equal(verify(fx, wrong, T0 + 1 + i, NULL),
		    UK_ERR_RESET_CODE_WRONG);
	assert_int_equal(testgw_int(fx->g.st, "SELECT checks FROM reset_codes"),
	    5);
	/* dead: even the right code */
	assert_int_equal(verify(fx, code, T0 + 10, NULL),
	    UK_ERR_RESET_CODE_EXHAUSTED);
	/* a malformed code counts as a check too but never matches */
	request_ok(fx, T0 + 61, code);
	assert_int_equal(verify(fx, "12345", T0 + 62, NULL),
	    UK_ERR_RESET_CODE_WRONG);
}

static void
test_new_request_invalidates(void **state)
{
	struct fixture *fx = *state;
	struct secret *t = NULL;
	char c1[7], c2[7];

	request_ok(fx, T0, c1);
	request_ok(fx, T0 + 60, c2);
	if (strcmp(c1, c2) != 0)
		assert_int_equal(verify(fx, c1, T0 + 61, NULL),
		    UK_ERR_RESET_CODE_WRONG);
	assert_int_equal(verify(fx, c2, T0 + 62, &t), 0);
	secret_free(t);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM reset_codes"
	                     " WHERE used_at IS NULL"),
	    0);
}

static int
req_code(struct fixture *fx, int64_t now)
{
	struct gw_reset_result res;

	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op1", "9.9.9.9",
	                     NULL, now, &res),
	    0);
	assert_int_equal(res.public_code, 0);
	return res.code;
}

static void
test_phone_limits(void **state)
{
	struct fixture *fx = *state;
	int64_t t = T0;
	int i, sent = 0;

	/* 1 a minute */
	assert_int_equal(req_code(fx, t), 0);
	assert_int_equal(req_code(fx, t + 59), UK_ERR_RESET_PHONE_LIMIT);
	assert_int_equal(req_code(fx, t + 60), 0);
	/* 5 an hour: three more a minute apart, then refused */
	for (i = 2; i <= 4; i++)
		assert_int_equal(req_code(fx, t + 60 * i), 0);
	assert_int_equal(req_code(fx, t + 60 * 5), UK_ERR_RESET_PHONE_LIMIT);
	assert_int_equal(req_code(fx, t + 3599), UK_ERR_RESET_PHONE_LIMIT);
	/* next hour: 5 more = 10 a day */
	for (i = 0; i < 5; i++)
		assert_int_equal(req_code(fx, t + 3600 + 60 * i), 0);
	assert_int_equal(req_code(fx, t + 7200), UK_ERR_RESET_PHONE_LIMIT);
	assert_int_equal(req_code(fx, t + 86399), UK_ERR_RESET_PHONE_LIMIT);
	/* refused requests were not counted and sent nothing */
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox"),
	    10);
	/* next day */
	assert_int_equal(req_code(fx, t + 86400), 0);
	for (i = 0; i < 20; i++)
		sent += req_code(fx, t + 86400 + 61 * (i + 1)) == 0;
	assert_int_equal(sent, 4);
	/* the phone limit is shared by operators with the same phone */
	add_op(fx->g.st, "op2", PHONE, NULL);
	{
		struct gw_reset_result res;

		assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op2",
		                     "9.9.9.9", NULL, t + 86400 + 1300, &res),
		    0);
		assert_int_equal(res.code, UK_ERR_RESET_PHONE_LIMIT);
	}
}

static void
test_ip_login_limits(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;
	int i;

	fx->conf.ip_limit = 3;
	fx->conf.ip_window = 600;
	fx->conf.login_limit = 3;
	fx->conf.login_window = 3600;
	for (i = 0; i < 3; i++) {
		assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "x",
		                     "7.7.7.7", NULL, T0 + i, &res),
		    0);
		assert_int_equal(res.code, UK_ERR_RESET_UNKNOWN_USER);
	}
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op1", "7.7.7.7",
	                     NULL, T0 + 10, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_RATE);
	assert_int_equal(res.public_code, UK_ERR_RESET_RATE);
	assert_int_equal(res.retry_after, 590);
	assert_int_equal(res.sms_id, 0);
	/* verification counts against the same IP limit */
	{
		struct secret *t = NULL;

		assert_int_equal(gw_reset_verify(fx->g.st, &fx->conf, "op1",
		                     "000000", "7.7.7.7", NULL, T0 + 11, &res,
		                     &t),
		    0);
		assert_int_equal(res.public_code, UK_ERR_RESET_RATE);
	}
	/* window over */
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op1", "7.7.7.7",
	                     NULL, T0 + 600, &res),
	    0);
	assert_int_equal(res.code, 0);
	/* per login, from many addresses, any case */
	for (i = 0; i < 2; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "8.8.8.%d", i);
		assert_int_equal(gw_reset_request(fx->g.st, &fx->conf,
		                     i ? "OP1" : "op1", ip, NULL, T0 + 700 + i,
		                     &res),
		    0);
		assert_int_not_equal(res.code, UK_ERR_RESET_RATE);
	}
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "Op1", "8.8.8.9",
	                     NULL, T0 + 800, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_RATE);
	/* an unknown login is limited the same way (3 allowed) */
	for (i = 0; i < 3; i++)
		assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "ghost",
		                     i % 2 ? "6.6.6.1" : "6.6.6.2", NULL,
		                     T0 + 900 + i, &res),
		    0);
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "ghost",
	                     "6.6.6.3", NULL, T0 + 905, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_RATE);
}

static int
set_pw(struct fixture *fx, const char *tok, const char *pw, int64_t now,
    struct gw_reset_result *res)
{
	struct secret *p = secret_from(pw, strlen(pw));
	int r = gw_reset_password(fx->g.st, &fx->conf, tok, p, "10.0.0.2", "ua",
	    now, res);

	secret_free(p);
	return r;
}

static void
test_token(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;
	struct secret *t = NULL;
	char code[7], tok[GW_RESET_TOKEN_LEN + 1];

	request_ok(fx, T0, code);
	assert_int_equal(verify(fx, code, T0 + 10, &t), 0);
	snprintf(tok, sizeof(tok), "%s", (const char *)t->buf);
	secret_free(t);
	/* stored hashed */
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM reset_tokens WHERE"
	                     " length(token_hash) = 64"),
	    1);
	/* expiry: 10 minutes */
	assert_int_equal(set_pw(fx, tok, "NewPass2024", T0 + 610, &res), 0);
	assert_int_equal(res.code, UK_ERR_RESET_TOKEN);
	assert_int_equal(res.public_code, UK_ERR_RESET_TOKEN);
	assert_int_equal(set_pw(fx, tok, "NewPass2024", T0 + 609, &res), 0);
	assert_int_equal(res.code, 0);
	/* single use */
	assert_int_equal(set_pw(fx, tok, "Other2024x", T0 + 611, &res), 0);
	assert_int_equal(res.code, UK_ERR_RESET_TOKEN);
	/* garbage and unknown tokens */
	assert_int_equal(set_pw(fx, "short", "NewPass2024", T0, &res), 0);
	assert_int_equal(res.code, UK_ERR_RESET_TOKEN);
	assert_int_equal(set_pw(fx,
	                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	                     "NewPass2024", T0, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_RESET_TOKEN);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event ="
	                     " 'reset.password' AND result = 'UK-4506'"),
	    4);
}

static void
test_policy_and_effects(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;
	struct gw_operator op;
	struct gw_pwhash_params hp = { 1, 256, 1 };
	struct store_res *sr = NULL;
	struct secret *t = NULL, *pw;
	char code[7], tok[GW_RESET_TOKEN_LEN + 1];

	/* frozen for the day, two sessions open */
	assert_int_equal(store_exec(fx->g.st, NULL,
	                     "UPDATE operators SET fail_count = 6,"
	                     " frozen_until = ? WHERE id = ?",
	                     "ii", (int64_t)time(NULL) + 36000, fx->op),
	    0);
	assert_int_equal(store_exec(fx->g.st, NULL,
	                     "INSERT INTO sessions (id_hash, kind,"
	                     " principal_id, unit_id, scope, method, csrf,"
	                     " created_at, last_seen, expires_at) VALUES"
	                     " ('s1', 'operator', ?, 'U1', 'full', 'cert', 'c',"
	                     " 1, 1, 99999999999), ('s2', 'operator', ?, 'U1',"
	                     " 'query', 'password', 'c', 1, 1, 99999999999)",
	                     "ii", fx->op, fx->op),
	    0);
	request_ok(fx, T0, code);
	assert_int_equal(verify(fx, code, T0 + 10, &t), 0);
	snprintf(tok, sizeof(tok), "%s", (const char *)t->buf);
	secret_free(t);
	/* policy refusals keep the token */
	assert_int_equal(set_pw(fx, tok, "short1", T0 + 20, &res), 0);
	assert_int_equal(res.code, UK_ERR_PASSWORD_POLICY);
	assert_int_equal(res.public_code, UK_ERR_PASSWORD_POLICY);
	assert_int_equal(set_pw(fx, tok, "onlyletters", T0 + 21, &res), 0);
	assert_int_equal(res.code, UK_ERR_PASSWORD_POLICY);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sessions WHERE revoked_at"
	                     " IS NULL"),
	    2);
	assert_int_equal(set_pw(fx, tok, "NewPass2024", T0 + 22, &res), 0);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.public_code, 0);
	assert_true(res.sms_id > 0);
	/* sessions revoked, freeze cleared */
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sessions WHERE revoked_at"
	                     " IS NULL"),
	    0);
	assert_int_equal(gw_operator_get(fx->g.st, fx->op, &op), 0);
	assert_int_equal(op.fail_count, 0);
	assert_int_equal(op.frozen_until, 0);
	/* the new password works */
	assert_int_equal(store_exec(fx->g.st, &sr,
	                     "SELECT pw_hash FROM operators WHERE id = ?", "i",
	                     fx->op),
	    0);
	pw = secret_from("NewPass2024", 11);
	assert_int_equal(gw_pwhash_verify(&hp, store_res_text(sr, 0, 0), pw,
	                     NULL),
	    0);
	secret_free(pw);
	store_res_free(sr);
	sr = NULL;
	/* notice queued */
	assert_int_equal(store_exec(fx->g.st, &sr,
	                     "SELECT template, phone, params FROM sms_outbox"
	                     " WHERE id = ?",
	                     "i", res.sms_id),
	    0);
	assert_string_equal(store_res_text(sr, 0, 0), GW_SMS_TPL_RESET_NOTICE);
	assert_string_equal(store_res_text(sr, 0, 1), PHONE);
	store_res_free(sr);
	/* audited: the step, the set_password as the operator himself */
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event ="
	                     " 'reset.password' AND result = 'ok' AND subject"
	                     " = 'operator:op1'"),
	    1);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event ="
	                     " 'admin.operator.set_password' AND actor ="
	                     " 'operator:op1'"),
	    1);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event ="
	                     " 'reset.password' AND result = 'UK-4110'"),
	    2);
	/* no session was created */
	assert_int_equal(testgw_int(fx->g.st, "SELECT count(*) FROM sessions"),
	    2);
}

static void
test_timing_floor(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;
	struct timespec a, b;
	const char *logins[] = { "op1", "nobody" };
	double ms;
	int i;

	fx->conf.floor_ms = 150;
	for (i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(gw_reset_request(fx->g.st, &fx->conf,
		                     logins[i], "5.5.5.5", NULL, T0, &res),
		    0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		assert_true(ms >= 149.0);
		assert_true(ms < 1500.0);
	}
}

static void
test_no_key(void **state)
{
	struct fixture *fx = *state;
	struct gw_reset_result res;

	fx->conf.code_key = NULL;
	assert_int_equal(gw_reset_request(fx->g.st, &fx->conf, "op1", NULL,
	                     NULL, T0, &res),
	    UK_ERR_CONFIG_MISSING);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox"),
	    0);
}

static void
test_parse(void **state)
{
	char login[GW_LOGIN_MAX + 1], code[7], tok[GW_RESET_TOKEN_LEN + 1];
	struct secret *pw = NULL;
	const char *b;

	(void)state;
	b = "{\"login\":\"op1\"}";
	assert_int_equal(gw_reset_parse_request(b, strlen(b), login), 0);
	assert_string_equal(login, "op1");
	b = "{\"login\":\"op1\",\"x\":1}";
	assert_int_equal(gw_reset_parse_request(b, strlen(b), login),
	    UK_ERR_INPUT);
	b = "{\"login\":\"\"}";
	assert_int_equal(gw_reset_parse_request(b, strlen(b), login),
	    UK_ERR_INPUT);
	b = "[1]";
	assert_int_not_equal(gw_reset_parse_request(b, strlen(b), login), 0);
	b = "{\"login\":\"op1\",\"code\":\"012345\"}";
	assert_int_equal(gw_reset_parse_verify(b, strlen(b), login, code), 0);
	assert_string_equal(code, "012345");
	b = "{\"login\":\"op1\",\"code\":\"01234a\"}";
	assert_int_equal(gw_reset_parse_verify(b, strlen(b), login, code),
	    UK_ERR_INPUT);
	b = "{\"login\":\"op1\",\"code\":123456}";
	assert_int_equal(gw_reset_parse_verify(b, strlen(b), login, code),
	    UK_ERR_INPUT);
	b = "{\"login\":\"op1\",\"code\":\"1234567\"}";
	assert_int_equal(gw_reset_parse_verify(b, strlen(b), login, code),
	    UK_ERR_INPUT);
	b = "{\"token\":\"abcdefghijABCDEFGHIJ0123456789-_abcdefghijk\","
	    "\"password\":\"NewPass2024\"}";
	assert_int_equal(gw_reset_parse_password(b, strlen(b), tok, &pw), 0);
	assert_string_equal((const char *)pw->buf, "NewPass2024");
	secret_free(pw);
	b = "{\"token\":\"abc+efghijABCDEFGHIJ0123456789-_abcdefghijk\","
	    "\"password\":\"NewPass2024\"}";
	assert_int_equal(gw_reset_parse_password(b, strlen(b), tok, &pw),
	    UK_ERR_INPUT);
	assert_null(pw);
}

#define BOTH(f) TESTGW_BOTH_WITH(f, setup_db, teardown_db)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		BOTH(test_request_sends),
		BOTH(test_same_public_answer),
		BOTH(test_code_lifetime),
		BOTH(test_five_checks),
		BOTH(test_new_request_invalidates),
		BOTH(test_phone_limits),
		BOTH(test_ip_login_limits),
		BOTH(test_token),
		BOTH(test_policy_and_effects),
		BOTH(test_timing_floor),
		BOTH(test_no_key),
	};
	struct gw_pwhash_params hp = { 1, 256, 1 };
	int r;

	gw_model_set_pwhash(&hp);
	if (testgw_begin("reset") != 0)
		return 1;
	r = cmocka_run_group_tests_name("reset", tests, NULL, NULL);
	return testgw_end(r);
}
