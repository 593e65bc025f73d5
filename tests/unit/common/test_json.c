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

/* The wiping allocator is installed, and JSON still works through it. */
static void
test_wipe_on_free(void **state)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	json_t *j = NULL;

	(void)state;
	json_wipe_on_free();
	json_get_alloc_funcs(&m, &f);
	assert_non_null(m);
	assert_non_null(f);
	assert_true((void *)m != (void *)malloc);
	assert_true((void *)f != (void *)free);
	assert_int_equal(json_parse_object("{\"password\":\"Passw0rd\"}", 23,
	                     64, &j),
	    0);
	assert_string_equal(json_string_value(json_object_get(j, "password")),
	    "Passw0rd");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_wipe_on_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
