/* tests/unit/gateway/test_model.c: units, operators, staff and certificate bindings on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"
#include "gateway/pwlogin.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"

/* Small Argon2 parameters: the tests hash many passwords. */
static const struct gw_pwhash_params small = { 1, 64, 1 };

static const struct gw_actor noform = { .who = "staff:clerk1" };
static const struct gw_actor emptyform = { .who = "staff:clerk1", .form = "" };

/* Checks the newest audit row. */
static void
last_audit(struct store *st, const char *event, const char *actor,
    const char *subject, const char *form)
{
	struct store_res *res = NULL;

	assert_int_equal(store_exec(st, &res,
	                     "SELECT event, actor, subject, detail, result "
	                     "FROM audit ORDER BY seq DESC LIMIT 1",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 0), event);
	assert_string_equal(store_res_text(res, 0, 1), actor);
	assert_string_equal(store_res_text(res, 0, 2), subject);
	if (form != NULL && strstr(store_res_text(res, 0, 3), form) == NULL)
		fail_msg("detail %s lacks form %s", store_res_text(res, 0, 3),
		    form);
	assert_string_equal(store_res_text(res, 0, 4), "ok");
	store_res_free(res);
}

static void
add_unit(struct store *st, const char *id)
{
	assert_int_equal(gw_unit_add(st, &testgw_counter, id, "单位", NULL), 0);
}

static int64_t
add_op(struct store *st, const char *login, const char *unit, const char *rid)
{
	return testgw_add_op(st, login, unit, rid, "13800138000", NULL);
}

static void
test_units(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_unit u, *v = NULL;
	size_t n = 0;
	int64_t audits;

	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U1", "某某公司",
	                     "91350100m000100y43"),
	    0);
	last_audit(fx->st, "admin.unit.add", "staff:clerk1", "unit:U1",
	    "F-2024-001");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_string_equal(u.name, "某某公司");
	assert_string_equal(u.uscc, "91350100M000100Y43");
	assert_string_equal(u.status, "active");
	assert_int_equal(u.agreement_at, 0);
	assert_int_equal(u.authorized_at, 0);
	assert_int_equal(u.active_certs, 0);
	assert_true(u.created_at > 0);
	assert_int_equal(gw_unit_get(fx->st, "U9", &u), UK_ERR_NOT_FOUND);

	audits = testgw_int(fx->st, "SELECT count(*) FROM audit");
	/* refusals change nothing */
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U2", "x",
	                     "91350100M000100Y44"),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U 2", "x", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U2", "", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "u1", "x", NULL),
	    UK_ERR_EXISTS);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U2", "x",
	                     "91350100M000100Y43"),
	    UK_ERR_EXISTS);
	assert_int_equal(gw_unit_add(fx->st, NULL, "U2", "x", NULL),
	    UK_ERR_INPUT);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM units"), 1);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"),
	    audits);

	/* agreement, authorisation, revocation: the form is required */
	assert_int_equal(gw_unit_agreement(fx->st, &noform, "U1"),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_authorize(fx->st, &emptyform, "U1"),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_revoke_authorization(fx->st, &noform, "U1"),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_agreement(fx->st, &testgw_counter, "U9"),
	    UK_ERR_ADMIN_UNIT_UNKNOWN);
	/* the hall is authorised only after the agreement */
	assert_int_equal(gw_unit_authorize(fx->st, &testgw_counter, "U1"),
	    UK_ERR_POLICY_AGREEMENT);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"),
	    audits);
	assert_int_equal(gw_unit_agreement(fx->st, &testgw_counter, "U1"), 0);
	last_audit(fx->st, "admin.unit.agreement", "staff:clerk1", "unit:U1",
	    "F-2024-001");
	assert_int_equal(gw_unit_authorize(fx->st, &testgw_counter, "U1"), 0);
	last_audit(fx->st, "admin.unit.authorize", "staff:clerk1", "unit:U1",
	    "F-2024-001");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_true(u.agreement_at > 0);
	assert_string_equal(u.agreement_form, "F-2024-001");
	assert_true(u.authorized_at > 0);
	assert_string_equal(u.authorized_form, "F-2024-001");
	assert_int_equal(gw_unit_revoke_authorization(fx->st, &testgw_counter,
	                     "U1"),
	    0);
	last_audit(fx->st, "admin.unit.revoke_authorization", "staff:clerk1",
	    "unit:U1", "F-2024-001");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_int_equal(u.authorized_at, 0);
	assert_string_equal(u.authorized_form, "");
	assert_true(u.agreement_at > 0);

	/* lists: LIKE wildcards in the query are plain characters */
	add_unit(fx->st, "UA1");
	add_unit(fx->st, "U_1");
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "X1", "百分%之百",
	                     NULL),
	    0);
	assert_int_equal(gw_unit_list(fx->st, NULL, 100, &v, &n), 0);
	assert_int_equal(n, 4);
	free(v);
	assert_int_equal(gw_unit_list(fx->st, "U_1", 100, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "U_1");
	free(v);
	assert_int_equal(gw_unit_list(fx->st, "%", 100, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "X1");
	free(v);
	assert_int_equal(gw_unit_list(fx->st, "ua", 100, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(gw_unit_list(fx->st, "某某", 100, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "U1");
	free(v);
	assert_int_equal(gw_unit_list(fx->st, "100Y43", 100, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(gw_unit_list(fx->st, NULL, 2, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

/* A change joins the caller's transaction and rolls back with it. */
static void
test_join_tx(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_unit u;

	assert_int_equal(store_begin(fx->st, STORE_TX_WRITE), 0);
	add_unit(fx->st, "U1");
	assert_true(store_in_transaction(fx->st));
	store_rollback(fx->st);
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), UK_ERR_NOT_FOUND);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 0);
}

/* Registrations gw_operator_add refuses, changing nothing (name "张三";
 * pw "" for none). */
static const struct {
	const char *login, *unit, *rid, *phone, *roles, *pw;
	int want;
} refused[] = {
	/* logins are unique case-insensitively, across units too */
	{ "zhangsan", "U1", NULL, "13800138000", "maker", "",
	    UK_ERR_ADMIN_LOGIN_TAKEN },
	{ "ZHANGSAN", "U2", NULL, "13800138000", "maker", "",
	    UK_ERR_ADMIN_LOGIN_TAKEN },
	/* a resident ID belongs to one operator */
	{ "lisi", "U2", "11010519491231002X", NULL, "maker", "",
	    UK_ERR_ADMIN_LOGIN_TAKEN },
	/* a login may not be someone else's resident ID */
	{ "11010519491231002x", "U2", NULL, NULL, "maker", "",
	    UK_ERR_ADMIN_LOGIN_TAKEN },
	/* bad data */
	{ "lisi", "U2", "110105194912310021", NULL, "maker", "",
	    UK_ERR_ADMIN_INVALID },
	{ "lisi", "U2", NULL, "12345", "maker", "", UK_ERR_ADMIN_INVALID },
	{ "lisi", "U2", NULL, NULL, "maker counter", "", UK_ERR_ADMIN_INVALID },
	{ "li si", "U2", NULL, NULL, "maker", "", UK_ERR_ADMIN_INVALID },
	{ "lisi", "U9", NULL, NULL, "maker", "", UK_ERR_ADMIN_UNIT_UNKNOWN },
	{ "lisi", "U2", NULL, NULL, "maker", "short1", UK_ERR_PASSWORD_POLICY },
};

static void
test_operator_add(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_operator_new op = { "ZhangSan", "U1", "张三",
		"11010519491231002x", "13800138000", " checker  maker", NULL,
		0 };
	struct gw_operator o, *v = NULL;
	struct secret *pw;
	int64_t id = 0, id2 = 0, audits;
	size_t n = 0, i;

	add_unit(fx->st, "U1");
	add_unit(fx->st, "U2");
	assert_int_equal(gw_operator_add(fx->st, &noform, &op, &id),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_add(fx->st, &testgw_counter, &op, &id), 0);
	last_audit(fx->st, "admin.operator.add", "staff:clerk1",
	    "operator:ZhangSan", "F-2024-001");
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.login, "ZhangSan");
	assert_string_equal(o.unit, "U1");
	assert_string_equal(o.resident_id, "11010519491231002X");
	assert_string_equal(o.roles, "checker maker");
	assert_string_equal(o.status, "active");
	assert_int_equal(o.has_password, 0);
	assert_int_equal(gw_operator_get(fx->st, id + 100, &o),
	    UK_ERR_NOT_FOUND);

	/* found by login in any case and by resident ID */
	assert_int_equal(gw_operator_find(fx->st, "zhangsan", &o), 0);
	assert_int_equal(o.id, id);
	assert_int_equal(gw_operator_find(fx->st, "ZHANGSAN", &o), 0);
	assert_int_equal(gw_operator_find(fx->st, "11010519491231002x", &o), 0);
	assert_int_equal(o.id, id);
	assert_int_equal(gw_operator_find(fx->st, "nobody", &o),
	    UK_ERR_NOT_FOUND);

	audits = testgw_int(fx->st, "SELECT count(*) FROM audit");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct gw_operator_new bad = { refused[i].login,
			refused[i].unit, "张三", refused[i].rid,
			refused[i].phone, refused[i].roles, NULL, 0 };

		pw = NULL;
		if (refused[i].pw[0] != '\0')
			pw = secret_from(refused[i].pw, strlen(refused[i].pw));
		bad.password = pw;
		if (gw_operator_add(fx->st, &testgw_counter, &bad, &id2) !=
		    refused[i].want)
			fail_msg("refusal %zu: want %d", i, refused[i].want);
		secret_free(pw);
	}
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM operators"),
	    1);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"),
	    audits);

	/* with a temporary password */
	op.login = "lisi";
	op.unit = "U2";
	op.resident_id = NULL;
	op.phone = NULL;
	op.roles = "maker";
	pw = secret_from("Temp2024pass", 12);
	op.password = pw;
	op.must_change = 1;
	assert_int_equal(gw_operator_add(fx->st, &testgw_counter, &op, &id2),
	    0);
	secret_free(pw);
	assert_int_equal(gw_operator_get(fx->st, id2, &o), 0);
	assert_int_equal(o.has_password, 1);
	assert_int_equal(o.pw_must_change, 1);
	assert_string_equal(o.unit, "U2");

	assert_int_equal(gw_operator_list(fx->st, NULL, NULL, 10, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(gw_operator_list(fx->st, "U2", NULL, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].login, "lisi");
	free(v);
	assert_int_equal(gw_operator_list(fx->st, NULL, "ZHANG", 10, &v, &n),
	    0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(gw_operator_list(fx->st, NULL, "_", 10, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(gw_operator_list(fx->st, NULL, NULL, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

static void
add_session(struct store *st, const char *id, int64_t principal)
{
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO sessions (id_hash, kind, "
	                     "principal_id, unit_id, scope, method, csrf, "
	                     "created_at, last_seen, expires_at) VALUES "
	                     "(?, 'operator', ?, 'U1', 'full', 'cert', 'c', "
	                     "1, 1, 99999999999)",
	                     "ti", id, principal),
	    0);
}

static void
test_operator_change_leave(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_operator o;
	int64_t id, other;

	add_unit(fx->st, "U1");
	id = add_op(fx->st, "op1", "U1", NULL);
	other = add_op(fx->st, "op2", "U1", NULL);
	assert_int_equal(gw_operator_change(fx->st, &noform, id, "李四", NULL,
	                     NULL),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, NULL,
	                     "2380013800", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, NULL,
	                     NULL, "maker maker"),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id + 100,
	                     "x", NULL, NULL),
	    UK_ERR_ADMIN_OPERATOR_UNKNOWN);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, "李四",
	                     "13900139000", "checker admin"),
	    0);
	last_audit(fx->st, "admin.operator.change", "staff:clerk1",
	    "operator:op1", "F-2024-001");
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.name, "李四");
	assert_string_equal(o.phone, "13900139000");
	assert_string_equal(o.roles, "checker admin");
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, NULL,
	                     "", NULL),
	    0);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.phone, "");
	assert_string_equal(o.name, "李四");

	/* leaving revokes every session, and only that operator's */
	add_session(fx->st, "s1", id);
	add_session(fx->st, "s2", id);
	add_session(fx->st, "s3", other);
	assert_int_equal(gw_operator_leave(fx->st, &noform, id),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "revoked_at IS NOT NULL"),
	    0);
	assert_int_equal(gw_operator_leave(fx->st, &testgw_counter, id), 0);
	last_audit(fx->st, "admin.operator.leave", "staff:clerk1",
	    "operator:op1", "F-2024-001");
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "revoked_at IS NOT NULL"),
	    2);
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "id_hash = 's3' AND revoked_at IS NULL"),
	    1);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.status, "left");
	assert_true(o.left_at > 0);
	/* and nothing more can be done to them */
	assert_int_equal(gw_operator_leave(fx->st, &testgw_counter, id),
	    UK_ERR_ADMIN_OPERATOR_LEFT);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, "x",
	                     NULL, NULL),
	    UK_ERR_ADMIN_OPERATOR_LEFT);
	assert_int_equal(gw_operator_unfreeze(fx->st, &testgw_counter, id),
	    UK_ERR_ADMIN_OPERATOR_LEFT);
	/* the login stays taken */
	assert_int_equal(gw_operator_find(fx->st, "OP1", &o), 0);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

/* Closing a unit revokes the sessions of its operators, and only theirs. */
static void
test_unit_close(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_unit u;
	int64_t id, other;

	add_unit(fx->st, "U1");
	add_unit(fx->st, "U2");
	id = add_op(fx->st, "op1", "U1", NULL);
	other = add_op(fx->st, "op2", "U2", NULL);
	add_session(fx->st, "s1", id);
	add_session(fx->st, "s2", other);
	assert_int_equal(gw_unit_close(fx->st, &noform, "U1"),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_close(fx->st, &testgw_counter, "U9"),
	    UK_ERR_ADMIN_UNIT_UNKNOWN);
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "revoked_at IS NOT NULL"),
	    0);
	assert_int_equal(gw_unit_close(fx->st, &testgw_counter, "U1"), 0);
	last_audit(fx->st, "admin.unit.close", "staff:clerk1", "unit:U1",
	    "F-2024-001");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_string_equal(u.status, "closed");
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "id_hash = 's1' AND revoked_at IS NOT NULL"),
	    1);
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "id_hash = 's2' AND revoked_at IS NULL"),
	    1);
	assert_int_equal(gw_unit_close(fx->st, &testgw_counter, "U1"),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_get(fx->st, "U2", &u), 0);
	assert_string_equal(u.status, "active");
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

static void
test_operator_password(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_actor self = { .who = "operator:OP1",
		.ip = "10.0.0.1",
		.user_agent = "UA/1" };
	struct gw_actor other = { .who = "operator:op2" };
	struct store_res *res = NULL;
	struct secret *pw = secret_from("Newpass2024", 11);
	struct secret *weak = secret_from("abcdefghij", 10);
	struct gw_pwlogin_conf conf;
	struct gw_pwlogin_result lr;
	struct gw_operator o;
	int64_t id;

	memset(&conf, 0, sizeof(conf));
	add_unit(fx->st, "U1");
	id = add_op(fx->st, "op1", "U1", NULL);
	add_op(fx->st, "op2", "U1", NULL);
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE operators SET fail_count = 6, "
	                     "frozen_until = 99999999999 WHERE id = ?",
	                     "i", id),
	    0);
	add_session(fx->st, "s1", id);
	assert_int_equal(gw_operator_set_password(fx->st, &noform, id, pw, 1),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_set_password(fx->st, &other, id, pw, 0),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_set_password(fx->st, &testgw_counter, id,
	                     weak, 0),
	    UK_ERR_PASSWORD_POLICY);
	assert_int_equal(gw_operator_set_password(fx->st, &testgw_counter,
	                     id + 100, pw, 0),
	    UK_ERR_ADMIN_OPERATOR_UNKNOWN);
	assert_int_equal(gw_operator_set_password(fx->st, &testgw_counter, id,
	                     pw, 1),
	    0);
	last_audit(fx->st, "admin.operator.set_password", "staff:clerk1",
	    "operator:op1", "F-2024-001");
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_int_equal(o.has_password, 1);
	assert_int_equal(o.pw_must_change, 1);
	assert_int_equal(o.fail_count, 0);
	assert_int_equal(o.frozen_until, 0);
	assert_int_equal(testgw_int(fx->st,
	                     "SELECT count(*) FROM sessions WHERE "
	                     "revoked_at IS NULL"),
	    0);
	/* the stored hash checks the password */
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT pw_hash FROM operators WHERE id = ?", "i",
	                     id),
	    0);
	assert_int_equal(gw_pwhash_verify(&small, store_res_text(res, 0, 0), pw,
	                     NULL),
	    0);
	assert_int_equal(gw_pwhash_verify(&small, store_res_text(res, 0, 0),
	                     weak, NULL),
	    UK_ERR_LOGIN_PASSWORD);
	store_res_free(res);
	res = NULL;
	/* self service needs no form; ip and user agent are audited */
	assert_int_equal(gw_operator_set_password(fx->st, &self, id, pw, 0), 0);
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT actor, ip, user_agent FROM audit ORDER BY "
	                     "seq DESC LIMIT 1",
	                     ""),
	    0);
	assert_string_equal(store_res_text(res, 0, 0), "operator:OP1");
	assert_string_equal(store_res_text(res, 0, 1), "10.0.0.1");
	assert_string_equal(store_res_text(res, 0, 2), "UA/1");
	store_res_free(res);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_int_equal(o.pw_must_change, 0);

	/* unfreeze */
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE operators SET fail_count = 6, "
	                     "frozen_until = 99999999999 WHERE id = ?",
	                     "i", id),
	    0);
	assert_int_equal(gw_operator_unfreeze(fx->st, &noform, id),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_unfreeze(fx->st, &testgw_counter, id), 0);
	last_audit(fx->st, "admin.operator.unfreeze", "staff:clerk1",
	    "operator:op1", "F-2024-001");
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_int_equal(o.fail_count, 0);
	assert_int_equal(o.frozen_until, 0);

	/* the operator logs in with it until they leave */
	conf.hash = small;
	assert_int_equal(gw_unit_agreement(fx->st, &testgw_counter, "U1"), 0);
	assert_int_equal(gw_pwlogin_attempt(fx->st, &conf, "op1", pw,
	                     "10.0.0.1", "UA", (int64_t)time(NULL), &lr),
	    0);
	assert_int_equal(lr.code, 0);
	assert_int_equal(gw_operator_leave(fx->st, &testgw_counter, id), 0);
	assert_int_equal(gw_pwlogin_attempt(fx->st, &conf, "op1", pw,
	                     "10.0.0.1", "UA", (int64_t)time(NULL), &lr),
	    0);
	assert_int_equal(lr.code, UK_ERR_LOGIN_OPERATOR_LEFT);
	/* after leaving, no password can be set */
	assert_int_equal(gw_operator_set_password(fx->st, &testgw_counter, id,
	                     pw, 0),
	    UK_ERR_ADMIN_OPERATOR_LEFT);
	secret_free(pw);
	secret_free(weak);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

static void
test_openid(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_actor self = { .who = "operator:op1" };
	struct gw_operator o;
	int64_t id, id2;

	add_unit(fx->st, "U1");
	id = add_op(fx->st, "op1", "U1", NULL);
	id2 = add_op(fx->st, "op2", "U1", NULL);
	assert_int_equal(gw_operator_bind_openid(fx->st, &self, id, "oABC"), 0);
	last_audit(fx->st, "admin.operator.bind_openid", "operator:op1",
	    "operator:op1", NULL);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.openid, "oABC");
	assert_int_equal(gw_operator_bind_openid(fx->st, &self, id2, "oABC"),
	    UK_ERR_ADMIN_LOGIN_TAKEN);
	assert_int_equal(gw_operator_bind_openid(fx->st, &self, id, NULL), 0);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.openid, "");
	assert_int_equal(gw_operator_bind_openid(fx->st, &self, id2, "oABC"),
	    0);
}

static void
test_staff(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_staff s, *v = NULL;
	size_t n = 0;
	int64_t id = 0;

	assert_int_equal(gw_staff_add(fx->st, &noform, "Clerk1", "王五",
	                     "counter  helpdesk", &id),
	    0);
	last_audit(fx->st, "admin.staff.add", "staff:clerk1", "staff:Clerk1",
	    NULL);
	assert_int_equal(gw_staff_get(fx->st, id, &s), 0);
	assert_string_equal(s.roles, "counter helpdesk");
	assert_string_equal(s.status, "active");
	assert_int_equal(gw_staff_get(fx->st, id + 9, &s), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_staff_add(fx->st, &noform, "clerk1", "x", "counter",
	                     NULL),
	    UK_ERR_ADMIN_LOGIN_TAKEN);
	assert_int_equal(gw_staff_add(fx->st, &noform, "c2", "x", "maker",
	                     NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_staff_add(fx->st, &noform, "c2", "x", "", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_staff_add(fx->st, &noform, "c2", "x", "admin",
	                     NULL),
	    0);
	assert_int_equal(gw_staff_list(fx->st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].login, "c2");
	assert_string_equal(v[1].login, "Clerk1");
	free(v);
}

/* A self-signed P-256 certificate, DER, malloc'd. */
static unsigned char *
make_cert(const char *cn, long serial, int *len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL;

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	X509_free(x);
	EVP_PKEY_free(key);
	return der;
}

static void
sha_hex(const unsigned char *der, int len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	assert_int_equal(EVP_Digest(der, (size_t)len, md, &n, EVP_sha256(),
	                     NULL),
	    1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
test_bindings(void **state)
{
	struct testgw_db *fx = *state;
	struct gw_binding b, *v = NULL;
	unsigned char *der, *der2;
	char sha[65], sha2[65], upper[65];
	int64_t id, id2, sid = 0;
	size_t n = 0, i;
	int len, len2;

	add_unit(fx->st, "U1");
	id = add_op(fx->st, "op1", "U1", NULL);
	id2 = add_op(fx->st, "op2", "U1", NULL);
	assert_int_equal(gw_staff_add(fx->st, &noform, "clerk", "x", "counter",
	                     &sid),
	    0);
	der = make_cert("张三", 4660, &len);
	der2 = make_cert("Clerk", 4661, &len2);
	sha_hex(der, len, sha);
	sha_hex(der2, len2, sha2);

	assert_int_equal(gw_binding_find(fx->st, sha, &b), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_binding_add(fx->st, &noform, der, (size_t)len, id,
	                     0, NULL),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len, id, sid, NULL),
	    UK_ERR_INPUT);
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len - 1, id, 0, NULL),
	    UK_ERR_CERT_MALFORMED);
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len, id + 100, 0, NULL),
	    UK_ERR_ADMIN_OPERATOR_UNKNOWN);
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len, id, 0, NULL),
	    0);
	last_audit(fx->st, "admin.binding.add", "staff:clerk1", "operator:op1",
	    "F-2024-001");
	for (i = 0; i < 64; i++)
		upper[i] = (char)(sha[i] >= 'a' ? sha[i] - 32 : sha[i]);
	upper[64] = '\0';
	assert_int_equal(gw_binding_find(fx->st, upper, &b), 0);
	assert_int_equal(b.operator_id, id);
	assert_int_equal(b.staff_id, 0);
	assert_string_equal(b.sha256, sha);
	assert_string_equal(b.source, "external");
	assert_string_equal(b.subject, "CN=张三");
	assert_non_null(strstr(b.issuer_serial, "#1234"));
	assert_true(b.not_after > (int64_t)time(NULL));
	/* one principal per certificate */
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len, id2, 0, NULL),
	    UK_ERR_ADMIN_BINDING);
	assert_int_equal(gw_binding_add(fx->st, &noform, der, (size_t)len, 0,
	                     sid, NULL),
	    UK_ERR_ADMIN_BINDING);
	/* staff need no form */
	assert_int_equal(gw_binding_add(fx->st, &noform, der2, (size_t)len2, 0,
	                     sid, NULL),
	    0);
	assert_int_equal(gw_binding_find(fx->st, sha2, &b), 0);
	assert_int_equal(b.staff_id, sid);
	assert_int_equal(gw_binding_list(fx->st, 0, sid, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);

	/* removal needs the form */
	assert_int_equal(gw_binding_remove(fx->st, &noform, sha),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_binding_remove(fx->st, &testgw_counter, "00"),
	    UK_ERR_INPUT);
	assert_int_equal(gw_binding_remove(fx->st, &testgw_counter, upper), 0);
	last_audit(fx->st, "admin.binding.remove", "staff:clerk1",
	    "operator:op1", "F-2024-001");
	assert_int_equal(gw_binding_find(fx->st, sha, &b), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_binding_remove(fx->st, &testgw_counter, sha),
	    UK_ERR_NOT_FOUND);

	/* our own CA's certificate for op1 (login in another case) is bound
	 * without a row in cert_bindings while it is active */
	assert_int_equal(store_exec(fx->st, NULL,
	                     "INSERT INTO certs (serial, unit_id, operator, "
	                     "profile, subject, key_type, not_before, "
	                     "not_after, status, sha256, der, issued_at) "
	                     "VALUES ('1234', 'U1', 'OP1', 'operator', "
	                     "'CN=张三', 'ec', 1, 99999999999, 'active', ?, "
	                     "?, 1)",
	                     "tb", sha, der, (size_t)len),
	    0);
	assert_int_equal(gw_binding_find(fx->st, sha, &b), 0);
	assert_int_equal(b.operator_id, id);
	assert_int_equal(b.id, 0);
	assert_string_equal(b.source, "ca");
	assert_string_equal(b.sha256, sha);
	assert_int_equal(b.not_after, 99999999999LL);
	assert_int_equal(gw_binding_list(fx->st, id, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].sha256, sha);
	free(v);
	assert_int_equal(gw_binding_list(fx->st, id2, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	/* it cannot be bound to someone else */
	assert_int_equal(gw_binding_add(fx->st, &testgw_counter, der,
	                     (size_t)len, id2, 0, NULL),
	    UK_ERR_ADMIN_BINDING);
	/* the unit counts it */
	{
		struct gw_unit u;

		assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
		assert_int_equal(u.active_certs, 1);
	}
	/* revoked: no longer bound */
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE certs SET status = 'revoked' WHERE "
	                     "serial = '1234'",
	                     ""),
	    0);
	assert_int_equal(gw_binding_find(fx->st, sha, &b), UK_ERR_NOT_FOUND);
	/* issued in another unit's name: not this operator's */
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE certs SET status = 'active', unit_id = "
	                     "'U2' WHERE serial = '1234'",
	                     ""),
	    0);
	assert_int_equal(gw_binding_find(fx->st, sha, &b), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_binding_find(fx->st, "zz", &b), UK_ERR_NOT_FOUND);
	OPENSSL_free(der);
	OPENSSL_free(der2);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

/* Free text (names, forms) is stored and audited without the blanks at its
 * ends; a form of blanks is no form (UK-4604), a blank name a bad one
 * (UK-4605), a form with a control character a bad form (UK-4605); unit
 * ids are found in any case, as they are unique in any case. */
static void
test_text_and_case(void **state)
{
	static const struct gw_actor blankform = { .who = "staff:clerk1",
		.form = " \xe3\x80\x80 " };
	static const struct gw_actor ctlform = { .who = "staff:clerk1",
		.form = "F\nX" };
	static const struct gw_actor padform = { .who = "staff:clerk1",
		.form = "  F-7\xe3\x80\x80" };
	struct testgw_db *fx = *state;
	struct gw_operator_new op = { "lisi", "u1", "   ", NULL, NULL, "maker",
		NULL, 0 };
	struct gw_operator o, *v = NULL;
	struct gw_staff sf;
	struct gw_unit u;
	int64_t audits, id = 0;
	size_t n = 0;

	audits = testgw_int(fx->st, "SELECT count(*) FROM audit");
	assert_int_equal(gw_unit_add(fx->st, &blankform, "U1", "单位", NULL),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_add(fx->st, &noform, "U1", "单位", NULL),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_add(fx->st, &ctlform, "U1", "单位", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U1", "   ",
	                     NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U1",
	                     "\xe3\x80\x80\xe3\x80\x80", NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U1", "单\n位",
	                     NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_add(fx->st, &testgw_counter, "U1", NULL, NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM units"), 0);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"),
	    audits);

	/* trimmed; a blank USCC is none */
	assert_int_equal(gw_unit_add(fx->st, &padform, "U1",
	                     "  一号单位\xe3\x80\x80", "  "),
	    0);
	last_audit(fx->st, "admin.unit.add", "staff:clerk1", "unit:U1",
	    "{\"form\":\"F-7\",\"name\":\"一号单位\"}");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_string_equal(u.name, "一号单位");
	assert_string_equal(u.uscc, "");

	/* any case finds the unit, its own spelling answers */
	memset(&u, 0, sizeof(u));
	assert_int_equal(gw_unit_get(fx->st, "u1", &u), 0);
	assert_string_equal(u.id, "U1");
	assert_int_equal(gw_unit_get(fx->st, "u2", &u), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_unit_agreement(fx->st, &blankform, "u1"),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_unit_agreement(fx->st, &ctlform, "u1"),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_unit_agreement(fx->st, &padform, "u1"), 0);
	last_audit(fx->st, "admin.unit.agreement", "staff:clerk1", "unit:U1",
	    "{\"form\":\"F-7\"}");
	assert_int_equal(gw_unit_get(fx->st, "U1", &u), 0);
	assert_string_equal(u.agreement_form, "F-7");
	assert_int_equal(gw_unit_authorize(fx->st, &testgw_counter, "u1"), 0);
	assert_int_equal(gw_unit_agreement(fx->st, &testgw_counter, "u9"),
	    UK_ERR_ADMIN_UNIT_UNKNOWN);

	/* operators: a blank name refused; the rest trimmed, the unit in its
	 * own spelling */
	assert_int_equal(gw_operator_add(fx->st, &testgw_counter, &op, &id),
	    UK_ERR_ADMIN_INVALID);
	op.name = "\xe3\x80\x80";
	assert_int_equal(gw_operator_add(fx->st, &testgw_counter, &op, &id),
	    UK_ERR_ADMIN_INVALID);
	op.name = " 李四 ";
	assert_int_equal(gw_operator_add(fx->st, &blankform, &op, &id),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	op.resident_id = " 11010519491231002x ";
	op.phone = "13900139000 ";
	assert_int_equal(gw_operator_add(fx->st, &padform, &op, &id), 0);
	last_audit(fx->st, "admin.operator.add", "staff:clerk1",
	    "operator:lisi", "{\"form\":\"F-7\",\"unit\":\"U1\"}");
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.name, "李四");
	assert_string_equal(o.unit, "U1");
	assert_string_equal(o.resident_id, "11010519491231002X");
	assert_string_equal(o.phone, "13900139000");
	assert_int_equal(gw_operator_list(fx->st, "u1", NULL, 10, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);

	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id, "  ",
	                     NULL, NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_operator_change(fx->st, &ctlform, id, "李五", NULL,
	                     NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_operator_change(fx->st, &blankform, id, "李五",
	                     NULL, NULL),
	    UK_ERR_ADMIN_FORM_REQUIRED);
	assert_int_equal(gw_operator_change(fx->st, &testgw_counter, id,
	                     " 李 五\xe3\x80\x80", " ", NULL),
	    0);
	assert_int_equal(gw_operator_get(fx->st, id, &o), 0);
	assert_string_equal(o.name, "李 五");
	assert_string_equal(o.phone, "");

	/* staff */
	assert_int_equal(gw_staff_add(fx->st, &noform, "c9", "  ", "counter",
	                     NULL),
	    UK_ERR_ADMIN_INVALID);
	assert_int_equal(gw_staff_add(fx->st, &noform, "c9", " 王五 ",
	                     "counter", &id),
	    0);
	assert_int_equal(gw_staff_get(fx->st, id, &sf), 0);
	assert_string_equal(sf.name, "王五");
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TESTGW_BOTH(test_units),
		TESTGW_BOTH(test_join_tx),
		TESTGW_BOTH(test_operator_add),
		TESTGW_BOTH(test_operator_change_leave),
		TESTGW_BOTH(test_unit_close),
		TESTGW_BOTH(test_operator_password),
		TESTGW_BOTH(test_openid),
		TESTGW_BOTH(test_staff),
		TESTGW_BOTH(test_bindings),
		TESTGW_BOTH(test_text_and_case),
	};
	int r;

	gw_model_set_pwhash(&small);
	if (testgw_begin("model") != 0)
		return 1;
	r = cmocka_run_group_tests_name("gateway model", tests, NULL, NULL);
	return testgw_end(r);
}
