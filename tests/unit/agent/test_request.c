/* tests/unit/agent/test_request.c: request validation: bodies, nonces, ids, origins, Host, error answers with PIN state, the event queue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/conf.h"
#include "agent/errinfo.h"
#include "agent/evq.h"
#include "agent/http.h"
#include "agent/request.h"
#include "agent/tokop.h"
#include "common/errors.h"

/* 44 characters: base64 of 32 bytes. */
#define NONCE "q8G5mKJk0bV1nZ6lA3yX9cR2wT7eU4iO1pS8dF5gH0k="

static int
parse(enum ag_req_kind k, const char *body, struct ag_req *q)
{
	return ag_req_parse(k, body, strlen(body), q);
}

static void
test_auth(void **state)
{
	struct ag_req q;
	char body[512], nonce[200];

	(void)state;
	assert_int_equal(parse(AG_REQ_AUTH, "{\"nonce\":\"" NONCE "\"}", &q),
	    0);
	assert_string_equal(q.nonce, NONCE);
	assert_string_equal(q.cert, "");
	assert_null(q.pin);
	ag_req_clear(&q);

	assert_int_equal(parse(AG_REQ_AUTH,
	                     "{\"nonce\":\"" NONCE "\",\"certificate\":"
	                     "\"a1b2c3:0A01\",\"pin\":\"123456\"}",
	                     &q),
	    0);
	assert_string_equal(q.cert, "a1b2c3:0A01");
	assert_non_null(q.pin);
	assert_int_equal(q.pin->len, 6);
	assert_string_equal((char *)q.pin->buf, "123456");
	ag_req_clear(&q);
	assert_null(q.pin);

	/* Nonce length: 44 to 128 characters. */
	memset(nonce, 'A', sizeof(nonce));
	nonce[43] = '\0';
	snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", nonce);
	assert_int_equal(parse(AG_REQ_AUTH, body, &q), UK_ERR_INPUT);
	memset(nonce, 'A', sizeof(nonce));
	nonce[44] = '\0';
	snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", nonce);
	assert_int_equal(parse(AG_REQ_AUTH, body, &q), 0);
	ag_req_clear(&q);
	memset(nonce, 'A', sizeof(nonce));
	nonce[128] = '\0';
	snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", nonce);
	assert_int_equal(parse(AG_REQ_AUTH, body, &q), 0);
	ag_req_clear(&q);
	memset(nonce, 'A', sizeof(nonce));
	nonce[129] = '\0';
	snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", nonce);
	assert_int_equal(parse(AG_REQ_AUTH, body, &q), UK_ERR_INPUT);
	/* base64url is fine, anything else is not. */
	assert_int_equal(ag_nonce_valid("q8G5mKJk0bV1nZ6lA3yX9cR2wT7eU4iO1pS8d"
	                                "F5gH0k_-"),
	    0);
	assert_int_equal(ag_nonce_valid("q8G5mKJk0bV1nZ6lA3yX9cR2wT7eU4iO1pS8d"
	                                "F5gH0k=\""),
	    UK_ERR_INPUT);
	assert_int_equal(ag_nonce_valid("q8G5mKJk0bV1nZ6lA3yX9cR2wT7eU4iO1pS8d"
	                                "F5gH0k= "),
	    UK_ERR_INPUT);
	assert_int_equal(ag_nonce_valid(NULL), UK_ERR_INPUT);
}

static void
test_auth_refusals(void **state)
{
	static const struct {
		const char *body;
		int code;
	} cases[] = {
		{ "", UK_ERR_JSON },
		{ "[]", UK_ERR_JSON },
		{ "{\"nonce\":\"" NONCE "\"", UK_ERR_JSON },
		{ "{\"nonce\":\"" NONCE "\"} x", UK_ERR_JSON },
		{ "{\"nonce\":\"" NONCE "\",\"nonce\":\"" NONCE "\"}",
		    UK_ERR_JSON },
		{ "{}", UK_ERR_INPUT },
		{ "{\"nonce\":44}", UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"origin\":\"https://x\"}",
		    UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"data\":\"sign me\"}",
		    UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"pin\":123456}", UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"pin\":null}", UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"certificate\":\"xyz\"}",
		    UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"certificate\":\":01\"}",
		    UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"certificate\":\"a:b:01\"}",
		    UK_ERR_INPUT },
		{ "{\"nonce\":\"" NONCE "\",\"certificate\":\"01\"}", 0 },
		{ "{\"nonce\":\"a\\u0000b" NONCE "\"}", UK_ERR_JSON },
	};
	struct ag_req q;
	size_t i;
	char *big;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(AG_REQ_AUTH, cases[i].body, &q);
		if (r != cases[i].code)
			fail_msg("case %zu: %d, wanted %d", i, r,
			    cases[i].code);
		assert_null(q.pin);
		ag_req_clear(&q);
	}
	/* More than 8 KiB. */
	big = malloc(AG_BODY_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', AG_BODY_MAX + 1);
	big[0] = '{';
	big[AG_BODY_MAX] = '}';
	big[AG_BODY_MAX + 1] = '\0';
	assert_int_equal(parse(AG_REQ_AUTH, big, &q), UK_ERR_LIMIT);
	free(big);
}

static void
test_counter_bodies(void **state)
{
	struct ag_req q;

	(void)state;
	assert_int_equal(parse(AG_REQ_ENROLL,
	                     "{\"subject\":\"/CN=张三/O=Unit 1\","
	                     "\"token\":\"a1b2\",\"pin\":\"123456\"}",
	                     &q),
	    0);
	assert_string_equal(q.key_type, "EC");
	assert_string_equal(q.token, "a1b2");
	assert_non_null(q.pin);
	ag_req_clear(&q);
	assert_int_equal(parse(AG_REQ_ENROLL,
	                     "{\"subject\":\"CN=x\",\"keyType\":\"EC\"}", &q),
	    UK_ERR_INPUT);
	assert_int_equal(parse(AG_REQ_ENROLL,
	                     "{\"subject\":\"/CN=x\",\"keyType\":\"DSA\"}", &q),
	    UK_ERR_INPUT);
	assert_int_equal(parse(AG_REQ_ENROLL,
	                     "{\"subject\":\"/CN=x\\n\",\"keyType\":\"RSA\"}",
	                     &q),
	    UK_ERR_INPUT);

	assert_int_equal(
	    parse(AG_REQ_INSTALL,
	        "{\"id\":\"a1b2:01\",\"certificate\":\"MAMCAQA=\"}", &q),
	    0);
	assert_int_equal(q.der_len, 5);
	ag_req_clear(&q);
	assert_int_equal(parse(AG_REQ_INSTALL,
	                     "{\"id\":\"01\",\"certificate\":\"MAMCAQA=\"}",
	                     &q),
	    UK_ERR_INPUT); /* the token must be named */
	assert_int_equal(
	    parse(AG_REQ_INSTALL,
	        "{\"id\":\"a1b2:01\",\"certificate\":\"MAMC AQA=\"}", &q),
	    UK_ERR_INPUT);

	assert_int_equal(parse(AG_REQ_UNLOCK,
	                     "{\"token\":\"a1b2\",\"soPin\":\"12345678\","
	                     "\"newPin\":\"654321\"}",
	                     &q),
	    0);
	assert_non_null(q.so_pin);
	assert_non_null(q.new_pin);
	assert_null(q.pin);
	ag_req_clear(&q);
	assert_int_equal(parse(AG_REQ_UNLOCK, "{\"pin\":\"123456\"}", &q),
	    UK_ERR_INPUT);
	assert_int_equal(parse(AG_REQ_CHANGE_PIN,
	                     "{\"pin\":\"123456\",\"newPin\":\"654321\"}", &q),
	    0);
	ag_req_clear(&q);
	assert_int_equal(parse(AG_REQ_CHANGE_PIN,
	                     "{\"token\":\"a:b\",\"pin\":\"1\"}", &q),
	    UK_ERR_INPUT);
}

static void
test_ids(void **state)
{
	struct p11_id id;
	char serial[17];

	(void)state;
	assert_int_equal(ag_cert_id_parse("a1b2c3d4e5f60718:0a0B", serial, &id),
	    0);
	assert_string_equal(serial, "a1b2c3d4e5f60718");
	assert_int_equal(id.len, 2);
	assert_int_equal(id.b[1], 0x0b);
	assert_int_equal(ag_cert_id_parse("ff", serial, &id), 0);
	assert_string_equal(serial, "");
	assert_int_equal(ag_cert_id_parse("a1b2c3d4e5f607189:01", serial, &id),
	    UK_ERR_INPUT);
	assert_int_equal(ag_cert_id_parse("x:0", serial, &id), UK_ERR_INPUT);
	assert_int_equal(ag_cert_id_parse("x:", serial, &id), UK_ERR_INPUT);
	assert_int_equal(ag_serial_valid("ABC-1"), 0);
	assert_int_equal(ag_serial_valid("a b"), UK_ERR_INPUT);
	assert_int_equal(ag_serial_valid(""), UK_ERR_INPUT);
}

static void
test_origins_and_host(void **state)
{
	struct ag_list l = { NULL, 0 };
	char *v[] = { "https://hall.example.gov.cn", "http://127.0.0.1:8080",
		NULL };

	(void)state;
	l.v = v;
	l.n = 2;
	assert_int_equal(ag_origin_valid("https://hall.example.gov.cn"), 0);
	assert_int_equal(ag_origin_valid("http://[::1]:8080"), 0);
	assert_int_equal(ag_origin_valid("https://hall.example.gov.cn/"),
	    UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("https://a:0"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("https://a:65536"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("https://a:+1"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("ftp://a"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("null"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("https://a b"), UK_ERR_INPUT);
	assert_int_equal(ag_origin_valid("https://"), UK_ERR_INPUT);
	assert_true(ag_origin_allowed(&l, "https://hall.example.gov.cn"));
	/* Exact spelling only: what is signed is what the gateway expects. */
	assert_false(ag_origin_allowed(&l, "HTTPS://HALL.example.gov.cn"));
	assert_true(ag_origin_allowed(&l, "http://127.0.0.1:8080"));
	assert_false(ag_origin_allowed(&l, "http://127.0.0.1:8081"));
	assert_false(ag_origin_allowed(&l, "https://hall.example.gov.cn.evil"));
	assert_false(ag_origin_allowed(&l, "http://hall.example.gov.cn"));
	assert_false(ag_origin_allowed(&l, NULL));
	assert_false(ag_origin_allowed(&l, "null"));

	assert_true(ag_http_host_ok("127.0.0.1:24680", 24680));
	assert_true(ag_http_host_ok("localhost:24680", 24680));
	assert_true(ag_http_host_ok("LOCALHOST:24680", 24680));
	assert_true(ag_http_host_ok("[::1]:24680", 24680));
	assert_false(ag_http_host_ok("127.0.0.1", 24680));
	assert_false(ag_http_host_ok("127.0.0.1:24681", 24680));
	assert_false(ag_http_host_ok("evil.example:24680", 24680));
	assert_false(ag_http_host_ok("localhost.evil.example:24680", 24680));
	assert_false(ag_http_host_ok(NULL, 24680));
}

static void
test_error_body(void **state)
{
	json_t *pin = json_pack("{s:s,s:i,s:s}", "state", "COUNT_LOW",
	    "retriesLeft", 2, "source", "agent");
	json_t *b;
	char *s;

	(void)state;
	s = ag_error_body(UK_ERR_TOKEN_PIN_INCORRECT, 0, "E8F3", pin);
	assert_non_null(s);
	b = json_loads(s, 0, NULL);
	assert_non_null(b);
	assert_string_equal(json_string_value(
	                        json_object_get(json_object_get(b, "error"),
	                            "message")),
	    "PIN码错误，还可尝试2次");
	assert_string_equal(json_string_value(
	                        json_object_get(json_object_get(b, "error"),
	                            "code")),
	    "UK-2003");
	assert_string_equal(json_string_value(
	                        json_object_get(json_object_get(b, "error"),
	                            "event")),
	    "E8F3");
	assert_int_equal(json_integer_value(
	                     json_object_get(json_object_get(b, "pin"),
	                         "retriesLeft")),
	    2);
	json_decref(b);
	free(s);
	s = ag_error_body(UK_ERR_TOKEN_PIN_INCORRECT, 1, NULL, pin);
	assert_non_null(strstr(s, "Wrong PIN; 2 tries left"));
	free(s);
	/* Locked: the catalogue's remedy (the bank counter). */
	s = ag_error_body(UK_ERR_TOKEN_PIN_LOCKED, 0, NULL, NULL);
	assert_non_null(strstr(s, "柜面"));
	assert_null(strstr(s, "\"pin\""));
	free(s);
	/* The proposed codes answer with their own texts until the
	 * catalogue has them. */
	s = ag_error_body(UK_ERR_TOKEN_BUSY, 0, NULL, NULL);
	assert_non_null(strstr(s, "\"UK-2011\""));
	free(s);
	assert_int_equal(ag_error_info(UK_ERR_TOKEN_BUSY)->http_status, 409);
	assert_string_equal(ag_error_info(UK_ERR_TOKEN_PIN_ENTRY)->id,
	    "UK-2012");
	assert_string_equal(ag_error_info(99999)->id, "UK-1001");
	assert_true(ag_lang_en("en-US,en;q=0.9"));
	assert_false(ag_lang_en("zh-CN,zh;q=0.9,en;q=0.8"));
	assert_false(ag_lang_en(NULL));
	json_decref(pin);
}

static void
test_tbs(void **state)
{
	/* SHA-256 test vectors (FIPS 180-2): "abc" and "". */
	static const char *const want =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	unsigned char out[64];
	char hex[129];
	size_t i;

	(void)state;
	ag_tbs("abc", "", out);
	for (i = 0; i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	assert_string_equal(hex, want);
}

static void
test_evq(void **state)
{
	struct ag_evq *q = NULL;
	char *type, *json;
	uint64_t seq;
	int i;

	(void)state;
	assert_int_equal(ag_evq_new(4, &q), 0);
	seq = ag_evq_next(q);
	assert_int_equal(ag_evq_wait(q, &seq, 10, &type, &json),
	    UK_ERR_TIMEOUT);
	assert_int_equal(ag_evq_push(q, "inserted", "{\"a\":1}"), 0);
	assert_int_equal(ag_evq_wait(q, &seq, 10, &type, &json), 0);
	assert_string_equal(type, "inserted");
	assert_string_equal(json, "{\"a\":1}");
	free(type);
	free(json);
	/* Lines that would break the stream are refused. */
	assert_int_equal(ag_evq_push(q, "x", "{}\n\ndata: y"), UK_ERR_INPUT);
	assert_int_equal(ag_evq_push(q, "a b", "{}"), UK_ERR_INPUT);
	assert_int_equal(ag_evq_push(q, "a\nb", "{}"), UK_ERR_INPUT);
	/* A reader that fell behind gets the oldest kept. */
	for (i = 0; i < 10; i++)
		assert_int_equal(ag_evq_push(q, "pin-state", "{}"), 0);
	assert_int_equal(ag_evq_wait(q, &seq, 10, &type, &json), 0);
	free(type);
	free(json);
	assert_int_equal(seq, ag_evq_next(q) - 3);
	ag_evq_close(q);
	assert_int_equal(ag_evq_wait(q, &seq, 1000, &type, &json),
	    UK_ERR_CANCELLED);
	assert_int_equal(ag_evq_push(q, "x", "{}"), UK_ERR_CANCELLED);
	ag_evq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_refusals),
		cmocka_unit_test(test_counter_bodies),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_origins_and_host),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_tbs),
		cmocka_unit_test(test_evq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
