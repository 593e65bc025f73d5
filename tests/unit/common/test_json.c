/* tests/unit/common/test_json.c: strict JSON intake: objects only, no duplicates, limits, typed fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/json.h"

static int
parse(const char *s, json_t **j)
{
	return json_parse_object(s, strlen(s), 64, j);
}

static void
test_parse(void **state)
{
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"nonce\":\"abc\"}", &j), 0);
	json_decref(j);
	assert_int_equal(parse("{\"a\":1,\"a\":2}", &j), UK_ERR_JSON);
	assert_null(j);
	assert_int_equal(parse("[1,2]", &j), UK_ERR_JSON);
	assert_int_equal(parse("\"x\"", &j), UK_ERR_JSON);
	assert_int_equal(parse("{} {}", &j), UK_ERR_JSON);
	assert_int_equal(parse("{", &j), UK_ERR_JSON);
	assert_int_equal(parse("", &j), UK_ERR_JSON);
	assert_int_equal(parse("{\"k\":\"0123456789012345678901234567890123456"
	                       "789012345678901234567890\"}",
	                     &j),
	    UK_ERR_LIMIT);
}

static void
test_fields(void **state)
{
	static const char *const allowed[] = { "nonce", "pin", NULL };
	const char *s;
	json_t *j;

	(void)state;
	/* NUL inside a string never gets in. */
	assert_int_equal(parse("{\"z\":\"a\\u0000b\"}", &j), UK_ERR_JSON);
	assert_int_equal(parse("{\"nonce\":\"abc\",\"n\":3}", &j), 0);
	assert_int_equal(json_get_string(j, "nonce", 3, &s), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(json_get_string(j, "nonce", 2, &s), UK_ERR_INPUT);
	assert_int_equal(json_get_string(j, "n", 10, &s), UK_ERR_INPUT);
	assert_int_equal(json_get_string(j, "missing", 10, &s),
	    UK_ERR_NOT_FOUND);
	assert_int_equal(json_only_keys(j, allowed), UK_ERR_INPUT);
	json_decref(j);
	assert_int_equal(parse("{\"pin\":\"1\"}", &j), 0);
	assert_int_equal(json_only_keys(j, allowed), 0);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
