/* tests/unit/common/test_errors.c: every catalogue entry is complete, ordered and consistent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/errors.h"
#include "common/json.h"

static int
has_cjk(const char *s)
{
	/* A CJK ideograph in UTF-8 starts with 0xE3..0xE9. */
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0xe3 && c <= 0xe9)
			return 1;
	}
	return 0;
}

static void
test_every_entry_complete(void **state)
{
	const struct uk_error_info *t;
	unsigned n, i;
	char id[16];

	(void)state;
	t = uk_error_table(&n);
	assert_true(n > 40);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "UK-%d", t[i].code);
		assert_string_equal(t[i].id, id);
		assert_non_null(t[i].name);
		assert_true(t[i].zh != NULL && has_cjk(t[i].zh));
		assert_true(t[i].en != NULL && strlen(t[i].en) > 3);
		assert_true(t[i].remedy_zh != NULL && has_cjk(t[i].remedy_zh));
		assert_true(
		    t[i].remedy_en != NULL && strlen(t[i].remedy_en) > 3);
		assert_true(t[i].http_status >= 400 && t[i].http_status < 600);
		assert_true(t[i].code >= 1000 && t[i].code < 6000);
		if (i > 0)
			assert_true(t[i - 1].code < t[i].code);
		assert_ptr_equal(uk_error_info(t[i].code), &t[i]);
	}
}

static void
test_seed_messages(void **state)
{
	(void)state;
	/* The messages operators know today map to our codes. */
	assert_string_equal(uk_error_info(UK_ERR_LOGIN_PASSWORD)->seed,
	    "登录密码错误");
	assert_string_equal(uk_error_info(UK_ERR_LOGIN_UNKNOWN_USER)->seed,
	    "用户不存在或用户类型错误");
	assert_string_equal(uk_error_info(UK_ERR_LOGIN_FROZEN)->seed,
	    "用户已暂时冻结");
	assert_string_equal(uk_error_info(UK_ERR_LOGIN_SCAN_FAILED)->seed,
	    "扫码认证失败");
	assert_string_equal(uk_error_info(UK_ERR_POLICY_HALL_UNAUTHORISED)
	                        ->seed,
	    "缴存单位未办理网厅用户授权，不允许办理其他业务");
	assert_string_equal(uk_error_info(UK_ERR_CERT_EXPIRED)->seed,
	    "证书非法或者不存在");
}

static void
test_unknown_code(void **state)
{
	(void)state;
	assert_int_equal(uk_error_info(999999)->code, UK_ERR_INTERNAL);
	assert_string_equal(uk_error_id(UK_ERR_CSR_MALFORMED), "UK-3001");
	assert_string_equal(uk_strerror(0), "OK");
}

static void
test_error_body(void **state)
{
	char *s;

	(void)state;
	s = json_error_body(UK_ERR_LOGIN_FROZEN, "zh", "E8F3AA");
	assert_non_null(s);
	assert_non_null(strstr(s, "\"code\":\"UK-4103\""));
	assert_non_null(strstr(s, "\"event\":\"E8F3AA\""));
	assert_non_null(strstr(s, "用户已暂时冻结"));
	free(s);
	s = json_error_body(UK_ERR_LOGIN_FROZEN, "en", NULL);
	assert_non_null(s);
	assert_null(strstr(s, "event"));
	assert_non_null(strstr(s, "frozen"));
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_entry_complete),
		cmocka_unit_test(test_seed_messages),
		cmocka_unit_test(test_unknown_code),
		cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
