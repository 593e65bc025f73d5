/* tests/unit/gateway/test_validate.c: USCC, resident ID, login, phone and role checks, the password policy, free text and the masking of personal data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/model.h"

/* The published GB 32100 algorithm, written out again for the test. */
static char
uscc_check(const char *s17)
{
	static const char cs[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	static const int w[17] = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13,
		8, 24, 10, 30, 28 };
	int i, sum = 0;

	for (i = 0; i < 17; i++)
		sum += (int)(strchr(cs, s17[i]) - cs) * w[i];
	return cs[(31 - sum % 31) % 31];
}

/* The published GB 11643 algorithm. */
static char
rid_check(const char *s17)
{
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
		8, 4, 2 };
	int i, sum = 0;

	for (i = 0; i < 17; i++)
		sum += (s17[i] - '0') * w[i];
	return "10X98765432"[sum % 11];
}

static void
test_uscc(void **state)
{
	static const char *const good[] = { "91350100M000100Y43",
		"91110000802100433B", "91440300708461136T",
		"9111000071093123XX", NULL };
	static const char *const bad[] = { "", "91350100M000100Y4",
		"91350100M000100Y44", "91350100M000100Y430",
		"91350100m000100Y43", "91350100I000100Y43",
		"91350100O000100Y43", "91350100S000100Y43",
		"91350100M000100Y4Z", "9135 100M000100Y43", NULL };
	static const char *const bodies[] = { "12100000400000003",
		"52100000MJ0000000", "91320583MA1MUPT9X", "31110000E00000000",
		NULL };
	char s[19];
	int i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_int_equal(gw_uscc_valid(good[i]), 0);
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(gw_uscc_valid(bad[i]), UK_ERR_INPUT);
	assert_int_equal(gw_uscc_valid(NULL), UK_ERR_INPUT);
	for (i = 0; bodies[i] != NULL; i++) {
		memcpy(s, bodies[i], 17);
		s[17] = uscc_check(bodies[i]);
		s[18] = '\0';
		assert_int_equal(gw_uscc_valid(s), 0);
		/* every other check character is refused */
		s[17] = s[17] == '0' ? '1' : '0';
		assert_int_equal(gw_uscc_valid(s), UK_ERR_INPUT);
	}
}

static void
test_resident_id(void **state)
{
	static const char *const good[] = { "11010519491231002X",
		"11010519491231002x", "110101199003077758", NULL };
	static const char *const bad[] = { "", "11010519491231002",
		"110105194912310021", "11010519491231002Y",
		"1101051949123100XX", "110105194913310024",
		"110105190002290029", "320311770706001", "11010519491231002X1",
		NULL };
	static const char *const bodies[] = { "11010519491231002",
		"11010119900307775", "44030420000229123", "65010220991231001",
		NULL };
	char s[19];
	int i;

	(void)state;
	for (i = 0; good[i] != NULL; i++)
		assert_int_equal(gw_resident_id_valid(good[i]), 0);
	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(gw_resident_id_valid(bad[i]), UK_ERR_INPUT);
	assert_int_equal(gw_resident_id_valid(NULL), UK_ERR_INPUT);
	/* born 1880: outside the accepted years */
	assert_int_equal(gw_resident_id_valid("440524188001010014"),
	    UK_ERR_INPUT);
	for (i = 0; bodies[i] != NULL; i++) {
		memcpy(s, bodies[i], 17);
		s[17] = rid_check(bodies[i]);
		s[18] = '\0';
		assert_int_equal(gw_resident_id_valid(s), 0);
		s[17] = s[17] == '0' ? '1' : '0';
		assert_int_equal(gw_resident_id_valid(s), UK_ERR_INPUT);
	}
}

static void
test_login_phone_roles(void **state)
{
	char longer[80];

	(void)state;
	assert_int_equal(gw_login_valid("zhang.san-01@U1_x"), 0);
	assert_int_equal(gw_login_valid("a"), 0);
	assert_int_equal(gw_login_valid(""), UK_ERR_INPUT);
	assert_int_equal(gw_login_valid(NULL), UK_ERR_INPUT);
	assert_int_equal(gw_login_valid("zhang san"), UK_ERR_INPUT);
	assert_int_equal(gw_login_valid("张三"), UK_ERR_INPUT);
	assert_int_equal(gw_login_valid("a%b"), UK_ERR_INPUT);
	memset(longer, 'a', 64);
	longer[64] = '\0';
	assert_int_equal(gw_login_valid(longer), 0);
	longer[64] = 'a';
	longer[65] = '\0';
	assert_int_equal(gw_login_valid(longer), UK_ERR_INPUT);

	assert_int_equal(gw_phone_valid("13800138000"), 0);
	assert_int_equal(gw_phone_valid("19912345678"), 0);
	assert_int_equal(gw_phone_valid("23800138000"), UK_ERR_INPUT);
	assert_int_equal(gw_phone_valid("1380013800"), UK_ERR_INPUT);
	assert_int_equal(gw_phone_valid("138001380001"), UK_ERR_INPUT);
	assert_int_equal(gw_phone_valid("1380013800a"), UK_ERR_INPUT);
	assert_int_equal(gw_phone_valid("+8613800138"), UK_ERR_INPUT);
	assert_int_equal(gw_phone_valid(NULL), UK_ERR_INPUT);

	assert_int_equal(gw_roles_valid("", 0), 0);
	assert_int_equal(gw_roles_valid("maker", 0), 0);
	assert_int_equal(gw_roles_valid("maker checker admin", 0), 0);
	assert_int_equal(gw_roles_valid(" checker  maker ", 0), 0);
	assert_int_equal(gw_roles_valid("maker maker", 0), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid("counter", 0), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid("makers", 0), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid("Maker", 0), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid("counter helpdesk admin", 1), 0);
	assert_int_equal(gw_roles_valid("maker", 1), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid("helpdesk helpdesk", 1), UK_ERR_INPUT);
	assert_int_equal(gw_roles_valid(NULL, 0), UK_ERR_INPUT);
}

static void
test_roles_normalise(void **state)
{
	char out[GW_ROLES_MAX + 1];

	(void)state;
	assert_int_equal(gw_roles_normalise("  checker   maker ", 0, out), 0);
	assert_string_equal(out, "checker maker");
	assert_int_equal(gw_roles_normalise("", 0, out), 0);
	assert_string_equal(out, "");
	assert_int_equal(gw_roles_normalise("maker x", 0, out), UK_ERR_INPUT);
}

static int
policy(const char *pw, const char *login, const char *rid)
{
	struct secret *s = secret_from(pw, strlen(pw));
	int r;

	assert_non_null(s);
	r = gw_password_policy(s, login, rid);
	secret_free(s);
	return r;
}

static void
test_password_policy(void **state)
{
	char big[200];

	(void)state;
	assert_int_equal(policy("abcd1234", "op1", NULL), 0);
	assert_int_equal(policy("密码很长很长很长1a", "op1", NULL), 0);
	assert_int_equal(policy("abc1234", "op1", NULL),
	    UK_ERR_PASSWORD_POLICY); /* 7 characters */
	assert_int_equal(policy("abcdefgh", "op1", NULL),
	    UK_ERR_PASSWORD_POLICY); /* no digit */
	assert_int_equal(policy("12345678", "op1", NULL),
	    UK_ERR_PASSWORD_POLICY); /* no letter */
	assert_int_equal(policy("zhangsan01", "ZhangSan01", NULL),
	    UK_ERR_PASSWORD_POLICY); /* the login */
	assert_int_equal(policy("11010519491231002x", "op1",
	                     "11010519491231002X"),
	    UK_ERR_PASSWORD_POLICY); /* the resident ID */
	assert_int_equal(policy("abcd\t1234", "op1", NULL),
	    UK_ERR_PASSWORD_POLICY); /* control character */
	/* 7 characters of which 3 are multi-byte: too short */
	assert_int_equal(policy("密码a1b2c", "op1", NULL),
	    UK_ERR_PASSWORD_POLICY);
	memset(big, 'a', sizeof(big));
	big[0] = '1';
	big[128] = '\0';
	assert_int_equal(policy(big, "op1", NULL), 0);
	big[128] = 'a';
	big[129] = '\0';
	assert_int_equal(policy(big, "op1", NULL), UK_ERR_PASSWORD_POLICY);
	assert_int_equal(gw_password_policy(NULL, "op1", NULL),
	    UK_ERR_PASSWORD_POLICY);
}

/* U+3000 IDEOGRAPHIC SPACE, the full-width space. */
#define FW "\xe3\x80\x80"

/* Free text: the blanks at the ends go (ASCII and the full-width space of
 * Chinese input methods), blank is none, control characters and broken
 * UTF-8 are refused wherever they are. */
static void
test_text_clean(void **state)
{
	static const struct {
		const char *in, *out;
		int want;
	} cases[] = {
		{ "F-1", "F-1", 0 },                       /* as it is */
		{ "  F-1\t", "F-1", 0 },                   /* ASCII blanks */
		{ FW "F-1" FW " ", "F-1", 0 },             /* U+3000 */
		{ "某某 公司", "某某 公司", 0 },           /* inside: kept */
		{ " 张" FW "三 ", "张" FW "三", 0 },       /* inside: kept */
		{ "F-1\n", "F-1", 0 },                     /* a line's end */
		{ "", "", UK_ERR_NOT_FOUND },              /* empty */
		{ "   ", "", UK_ERR_NOT_FOUND },           /* blank */
		{ " " FW "\t\r\n", "", UK_ERR_NOT_FOUND }, /* blank */
		{ "F\nX", "", UK_ERR_INPUT },              /* control */
		{ "F\tX", "", UK_ERR_INPUT },              /* control */
		{ "F\x7f", "", UK_ERR_INPUT },             /* DEL */
		{ "F\x01", "", UK_ERR_INPUT },             /* control */
		{ "F\xe3\x80", "", UK_ERR_INPUT },         /* cut short */
		{ "\xc0\xaf", "", UK_ERR_INPUT },          /* overlong '/' */
		{ "\xed\xa0\x80", "", UK_ERR_INPUT },      /* a surrogate */
		{ "\xb9\xab\xcb\xbe", "", UK_ERR_INPUT },  /* 公司 in GBK */
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'z', sizeof(out));
		if (gw_text_clean(cases[i].in, out, sizeof(out)) !=
		    cases[i].want)
			fail_msg("case %zu: want %d", i, cases[i].want);
		if (cases[i].want == 0 || cases[i].want == UK_ERR_NOT_FOUND)
			assert_string_equal(out, cases[i].out);
	}
	assert_int_equal(gw_text_clean(NULL, out, sizeof(out)),
	    UK_ERR_NOT_FOUND);
	assert_string_equal(out, "");
	/* what is left must fit: 9 bytes in 10, trimmed first */
	assert_int_equal(gw_text_clean(" 012345678 ", out, 10), 0);
	assert_string_equal(out, "012345678");
	assert_int_equal(gw_text_clean("0123456789", out, 10), UK_ERR_INPUT);
	assert_int_equal(gw_text_clean("名字名字", out, 10), UK_ERR_INPUT);
}

/* One masking rule for every console: the region (6) and the last 4 of a
 * resident ID, 3 + 4 of a phone; short values starred whole. */
static void
test_mask(void **state)
{
	char b[32];

	(void)state;
	gw_mask_resident_id("11010519491231002X", b, sizeof(b));
	assert_string_equal(b, "110105********002X");
	gw_mask_phone("13800138000", b, sizeof(b));
	assert_string_equal(b, "138****8000");
	gw_mask_resident_id("", b, sizeof(b));
	assert_string_equal(b, "");
	gw_mask_resident_id(NULL, b, sizeof(b));
	assert_string_equal(b, "");
	gw_mask_resident_id("1101050002", b, sizeof(b));
	assert_string_equal(b, "**********");
	gw_mask_phone("1234567", b, sizeof(b));
	assert_string_equal(b, "*******");
	gw_mask_phone("12345678", b, sizeof(b));
	assert_string_equal(b, "123*5678");
	gw_mask_resident_id("11010519491231002X", b, 8);
	assert_string_equal(b, "110105*");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uscc),
		cmocka_unit_test(test_resident_id),
		cmocka_unit_test(test_login_phone_roles),
		cmocka_unit_test(test_roles_normalise),
		cmocka_unit_test(test_password_policy),
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests_name("gateway validate", tests, NULL,
	    NULL);
}
