/* tests/unit/gateway/test_helpdesk.c: the helpdesk's explanation table against the error catalogue, masking, event numbers, and its store reads (search, an operator's events, the operator behind an event) on SQLite and PostgreSQL. */
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
#include "common/store.h"
#include "gateway/helpdesk.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"
#include "tests/lib/testgw.h"

static const struct gw_pwhash_params small = { 1, 64, 1 };

/* --- the explanation table --- */

static void
test_table_sorted_known(void **state)
{
	const struct gw_hd_explain *t;
	size_t n, i;

	(void)state;
	t = gw_hd_explain_table(&n);
	assert_true(n > 50);
	for (i = 0; i < n; i++) {
		const struct uk_error_info *info = uk_error_info(t[i].code);

		/* every entry is a code of the catalogue, in order */
		assert_int_equal(info->code, t[i].code);
		if (i > 0)
			assert_true(t[i - 1].code < t[i].code);
		assert_non_null(t[i].what_zh);
		assert_non_null(t[i].what_en);
		assert_true(strlen(t[i].what_zh) > 0);
		assert_true(strlen(t[i].what_en) > 0);
		/* both remedies or neither */
		assert_true(
		    (t[i].remedy_zh == NULL) == (t[i].remedy_en == NULL));
		assert_ptr_equal(gw_hd_explain_find(t[i].code), &t[i]);
	}
	assert_null(gw_hd_explain_find(UK_ERR_CONFIG_SYNTAX));
	assert_null(gw_hd_explain_find(99999));
}

/* Every code an operator can meet at login has its explanation, and the
 * explanation (with the catalogue's remedy when it has none) says what to
 * do in both languages. */
static void
test_login_codes_explained(void **state)
{
	const struct uk_error_info *cat;
	unsigned n, i, checked = 0;

	(void)state;
	cat = uk_error_table(&n);
	for (i = 0; i < n; i++) {
		struct gw_hd_text d;

		if (!gw_hd_login_code(cat[i].code) && cat[i].seed == NULL)
			continue;
		if (gw_hd_explain_find(cat[i].code) == NULL)
			fail_msg("%s (%s) can appear in a login refusal but "
			         "has "
			         "no explanation",
			    cat[i].id, cat[i].name);
		gw_hd_describe("login.password.refused", cat[i].id, &d);
		assert_int_equal(d.code, cat[i].code);
		assert_non_null(d.remedy_zh);
		assert_non_null(d.remedy_en);
		assert_true(strlen(d.remedy_zh) > 0 && strlen(d.remedy_en) > 0);
		checked++;
	}
	assert_true(checked > 60);
	assert_true(gw_hd_login_code(UK_ERR_LOGIN_FROZEN));
	assert_true(gw_hd_login_code(UK_ERR_TOKEN_PIN_LOCKED));
	assert_true(gw_hd_login_code(UK_ERR_POLICY_HALL_UNAUTHORISED));
	assert_false(gw_hd_login_code(UK_ERR_CSR_MALFORMED));
	assert_false(gw_hd_login_code(UK_ERR_ADMIN_FORM_REQUIRED));
}

/* The seed FAQs' answers are what the helpdesk says. */
static void
test_seed_remedies(void **state)
{
	static const struct {
		int code;
		const char *zh, *en;
	} cases[] = {
		{ UK_ERR_LOGIN_FROZEN, "解除冻结", "unfreeze" },
		{ UK_ERR_LOGIN_FROZEN, "次日", "midnight" },
		{ UK_ERR_TOKEN_PIN_LOCKED, "柜面解锁", "unblock" },
		{ UK_ERR_CERT_EXPIRED, "换发", "reissued" },
		{ UK_ERR_POLICY_HALL_UNAUTHORISED, "缴存单位网厅用户授权",
		    "authorisation" },
		{ UK_ERR_POLICY_AGREEMENT, "网上自主协议", "agreement" },
		{ UK_ERR_CERT_UNBOUND, "绑定证书", "bind" },
		{ UK_ERR_POLICY_EMPLOYEE_PHONE, "缴存人清册", "register" },
		{ UK_ERR_LOGIN_SCAN_FAILED, "经办人", "operator" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gw_hd_text d;
		char id[16];

		snprintf(id, sizeof(id), "UK-%d", cases[i].code);
		gw_hd_describe("login.password.refused", id, &d);
		if (strstr(d.remedy_zh, cases[i].zh) == NULL)
			fail_msg("%s: remedy \"%s\" lacks \"%s\"", id,
			    d.remedy_zh, cases[i].zh);
		if (strstr(d.remedy_en, cases[i].en) == NULL)
			fail_msg("%s: remedy \"%s\" lacks \"%s\"", id,
			    d.remedy_en, cases[i].en);
	}
}

static void
test_describe(void **state)
{
	struct gw_hd_text d;

	(void)state;
	gw_hd_describe("login.cert", "ok", &d);
	assert_int_equal(d.code, 0);
	assert_string_equal(d.kind_zh, "UKey证书登录");
	assert_string_equal(d.what_zh, "成功");
	assert_null(d.remedy_zh);
	gw_hd_describe("login.password", NULL, &d);
	assert_string_equal(d.what_en, "Done");
	gw_hd_describe("login.password.refused", "UK-4103", &d);
	assert_int_equal(d.code, UK_ERR_LOGIN_FROZEN);
	assert_string_equal(d.kind_zh, "账号密码登录");
	assert_non_null(strstr(d.what_zh, "用户已暂时冻结"));
	/* a code without an entry: the catalogue's words */
	gw_hd_describe("policy.refused", "UK-1207", &d);
	assert_int_equal(d.code, UK_ERR_STORE_AUDIT_CHAIN);
	assert_string_equal(d.what_zh, uk_error_info(1207)->zh);
	assert_string_equal(d.remedy_en, uk_error_info(1207)->remedy_en);
	/* an unknown event is named by itself; an unknown result shown */
	gw_hd_describe("something.new", "UK-9999", &d);
	assert_string_equal(d.kind_en, "something.new");
	assert_int_equal(d.code, 0);
	assert_string_equal(d.what_zh, "UK-9999");
}

static void
test_parse_code(void **state)
{
	int c = 0;

	(void)state;
	assert_int_equal(gw_hd_parse_code("UK-4103", &c), 0);
	assert_int_equal(c, 4103);
	assert_int_equal(gw_hd_parse_code("uk4103", &c), 0);
	assert_int_equal(gw_hd_parse_code("5002", &c), 0);
	assert_int_equal(c, 5002);
	assert_int_equal(gw_hd_parse_code("UK-9999", &c), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_hd_parse_code("UK-41035", &c), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_hd_parse_code("UK-41", &c), UK_ERR_NOT_FOUND);
	assert_int_equal(gw_hd_parse_code("alice", &c), UK_ERR_NOT_FOUND);
}

static void
test_mask(void **state)
{
	char b[32];

	(void)state;
	gw_mask_resident_id("11010519491231002X", b, sizeof(b));
	assert_string_equal(b, "110105********002X");
	gw_mask_phone("13800138000", b, sizeof(b));
	assert_string_equal(b, "138****8000");
	gw_mask_phone("", b, sizeof(b));
	assert_string_equal(b, "");
	gw_mask_phone("1234567", b, sizeof(b));
	assert_string_equal(b, "*******");
	gw_mask_resident_id("11010519491231002X", b, 8);
	assert_string_equal(b, "110105*");
}

static void
test_event_number(void **state)
{
	char n[33];

	(void)state;
	assert_int_equal(gw_hd_event_number("e8f3 a1b2-c3d4", n), 0);
	assert_string_equal(n, "E8F3A1B2C3D4");
	assert_int_equal(gw_hd_event_number("0123456789abcdef0123456789ABCDEF",
	                     n),
	    0);
	assert_string_equal(n, "0123456789ABCDEF0123456789ABCDEF");
	assert_int_equal(gw_hd_event_number("E8F3A1B", n), UK_ERR_INPUT);
	assert_int_equal(gw_hd_event_number("0123456789abcdef0123456789ABCDEF0",
	                     n),
	    UK_ERR_INPUT);
	assert_int_equal(gw_hd_event_number("zhangsan", n), UK_ERR_INPUT);
}

/* --- the store --- */

static void
audit(struct store *st, const char *event, const char *actor,
    const char *subject, const char *detail, const char *result, char id[33])
{
	struct audit_event ev = { event, actor, subject, detail, "192.0.2.7",
		"test", result };

	assert_int_equal(audit_append_ex(st, &ev, id), 0);
}

/* A self-signed certificate's DER (malloc'd) and its SHA-256 in hex. */
static unsigned char *
make_cert(int *len, char sha[65])
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0, i;

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"wang", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)*len, md, &mdlen, EVP_sha256(),
	                     NULL),
	    1);
	for (i = 0; i < mdlen; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	X509_free(x);
	EVP_PKEY_free(key);
	return der;
}

/* 1 when the event id is among v. */
static int
has(const struct gw_hd_event *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return 1;
	return 0;
}

static void
test_store(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = fx->st;
	struct gw_operator o, w;
	struct gw_hd_event *v = NULL;
	struct gw_hd_cert *c = NULL;
	const struct gw_actor clerk = { .who = "staff:hd1",
		.ip = "192.0.2.1",
		.user_agent = "t" };
	char refused[33], attempt[33], ok[33], viewrow[33], other[33];
	char byactor[33], bycert[33], byscan[33], byunit[33], pfx[9];
	char sha[65], detail[200];
	unsigned char *der;
	int64_t id, id2, *ids = NULL, now = (int64_t)time(NULL);
	size_t n = 0, i;
	int more = 0, len = 0;

	assert_int_equal(gw_unit_add(st, &testgw_counter, "U1", "一号单位",
	                     NULL),
	    0);
	assert_int_equal(gw_unit_add(st, &testgw_counter, "U2", "二号公司",
	                     NULL),
	    0);
	id = testgw_add_op(st, "WangFang", "U1", "11010519491231002X",
	    "13800138000", NULL);
	id2 = testgw_add_op(st, "lisi", "U2", NULL, "13900139000", NULL);
	assert_int_equal(gw_operator_get(st, id, &o), 0);
	assert_int_equal(gw_operator_bind_openid(st,
	                     &(struct gw_actor){ .who = "operator:WangFang" },
	                     id, "oWang_1"),
	    0);
	assert_int_equal(gw_operator_get(st, id, &o), 0);
	der = make_cert(&len, sha);
	assert_int_equal(gw_binding_add(st, &testgw_counter, der, (size_t)len,
	                     id, 0, NULL),
	    0);
	free(der);

	/* the audit rows a refused password login leaves, typed in
	 * another case; and other rows about her and someone else */
	audit(st, "login.password", "ip:192.0.2.7", "operator:WangFang",
	    "{\"result\":\"UK-4103\",\"ip\":\"192.0.2.7\"}", NULL, attempt);
	audit(st, "login.password.refused", NULL, "wangfang", NULL, "UK-4103",
	    refused);
	audit(st, "login.password", "ip:192.0.2.7", "operator:WangFang",
	    "{\"result\":\"ok\",\"ip\":\"192.0.2.8\"}", NULL, ok);
	audit(st, "policy.refused", "operator:WangFang", "/hall/x", NULL,
	    "UK-5002", byactor);
	audit(st, "login.cert", NULL, sha, "CN=wang: expired", "UK-3101",
	    bycert);
	snprintf(detail, sizeof(detail),
	    "{\"kind\":\"login\",\"openid\":\"oWang_1\"}");
	audit(st, "scan.refused", "browser", "scan:0011", detail, "UK-4203",
	    byscan);
	audit(st, "admin.unit.authorize", "staff:c", "unit:U1", NULL, "ok",
	    byunit);
	audit(st, "login.password.refused", NULL, "lisi", NULL, "UK-4101",
	    other);
	assert_int_equal(gw_hd_audit(st, &clerk, "helpdesk.view",
	                     "operator:WangFang", "{}"),
	    0);
	assert_int_equal(testgw_int(st,
	                     "SELECT count(*) FROM audit WHERE "
	                     "event = 'helpdesk.view' AND actor = "
	                     "'staff:hd1' AND result = 'ok' AND "
	                     "ip = '192.0.2.1'"),
	    1);
	{
		char *e = testgw_text_t(st,
		    "SELECT event_id FROM audit WHERE event = ?",
		    "helpdesk.view");
		memcpy(viewrow, e, 33);
		free(e);
	}

	/* the event number finds the row and the operator behind it */
	assert_int_equal(gw_hd_events_by_number(st, refused, 10, &v, &n, &more),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(more, 0);
	assert_string_equal(v[0].result, "UK-4103");
	assert_string_equal(v[0].event, "login.password.refused");
	assert_int_equal(gw_hd_event_operator(st, &v[0], &w), 0);
	assert_int_equal(w.id, id);
	free(v);
	v = NULL;
	/* a prefix of 8 digits */
	memcpy(pfx, refused, 8);
	pfx[8] = '\0';
	assert_int_equal(gw_hd_events_by_number(st, pfx, 10, &v, &n, &more), 0);
	assert_true(n >= 1 && has(v, n, refused));
	free(v);
	v = NULL;
	/* the attempt's own row: result and IP from its detail */
	assert_int_equal(gw_hd_events_by_number(st, ok, 10, &v, &n, &more), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].result, "ok");
	assert_string_equal(v[0].ip, "192.0.2.7"); /* the column wins */
	free(v);
	v = NULL;
	/* the certificate's SHA-256, the scan's openid-less detail */
	assert_int_equal(gw_hd_events_by_number(st, bycert, 1, &v, &n, &more),
	    0);
	assert_int_equal(gw_hd_event_operator(st, &v[0], &w), 0);
	assert_int_equal(w.id, id);
	free(v);
	v = NULL;
	assert_int_equal(gw_hd_events_by_number(st, other, 1, &v, &n, &more),
	    0);
	assert_int_equal(gw_hd_event_operator(st, &v[0], &w), 0);
	assert_int_equal(w.id, id2);
	free(v);
	v = NULL;
	assert_int_equal(gw_hd_events_by_number(st, byunit, 1, &v, &n, &more),
	    0);
	assert_int_equal(gw_hd_event_operator(st, &v[0], &w), UK_ERR_NOT_FOUND);
	free(v);
	v = NULL;
	assert_int_equal(gw_hd_events_by_number(st,
	                     "00000000000000000000000000000000", 10, &v, &n,
	                     &more),
	    0);
	assert_int_equal(n, 0);

	/* her certificates: the bound one */
	assert_int_equal(gw_hd_operator_certs(st, &o, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].sha256, sha);
	assert_string_equal(c[0].status, "bound");

	/* her events: newest first, without the helpdesk's reads, the
	 * attempt row a refusal repeats, or other operators' rows */
	assert_int_equal(gw_hd_operator_events(st, &o, c, 1, now, 50, &v, &n,
	                     &more),
	    0);
	assert_true(has(v, n, refused));
	assert_true(has(v, n, ok));
	assert_true(has(v, n, byactor));
	assert_true(has(v, n, bycert));
	assert_true(has(v, n, byscan));
	assert_true(has(v, n, byunit));
	assert_false(has(v, n, attempt));
	assert_false(has(v, n, viewrow));
	assert_false(has(v, n, other));
	for (i = 1; i < n; i++)
		assert_true(v[i - 1].seq > v[i].seq);
	assert_int_equal(more, 0);
	free(v);
	v = NULL;
	/* the limit and "more" */
	assert_int_equal(gw_hd_operator_events(st, &o, c, 1, now, 2, &v, &n,
	                     &more),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	free(v);
	v = NULL;
	/* the window: nothing from a year ahead */
	assert_int_equal(gw_hd_operator_events(st, &o, c, 1,
	                     now + 2 * GW_HD_EVENTS_WINDOW, 50, &v, &n, &more),
	    0);
	assert_int_equal(n, 0);
	free(c);

	/* search: login any case, name, exact phone and resident ID, unit */
	assert_int_equal(gw_hd_search_operators(st, "wangf", 50, &ids, &n,
	                     &more),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id);
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "138 0013 8000", 50, &ids,
	                     &n, &more),
	    0);
	assert_int_equal(n, 1);
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "1380013", 50, &ids, &n,
	                     &more),
	    0);
	assert_int_equal(n, 0); /* phones exact only */
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "11010519491231002x", 50,
	                     &ids, &n, &more),
	    0);
	assert_int_equal(n, 1);
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "110105", 50, &ids, &n,
	                     &more),
	    0);
	assert_int_equal(n, 0); /* resident IDs exact only */
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "二号", 50, &ids, &n,
	                     &more),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id2);
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "张三", 1, &ids, &n, &more),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(more, 1);
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "%", 50, &ids, &n, &more),
	    0);
	assert_int_equal(n, 0); /* no wildcards */
	free(ids);
	assert_int_equal(gw_hd_search_operators(st, "", 50, &ids, &n, &more),
	    UK_ERR_INPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sorted_known),
		cmocka_unit_test(test_login_codes_explained),
		cmocka_unit_test(test_seed_remedies),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_parse_code),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_event_number),
		TESTGW_BOTH(test_store),
	};
	int r;

	gw_model_set_pwhash(&small);
	if (testgw_begin("helpdesk") != 0)
		return 1;
	r = cmocka_run_group_tests_name("gateway helpdesk", tests, NULL, NULL);
	return testgw_end(r);
}
