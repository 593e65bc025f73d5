/* tests/unit/common/test_config.c: strict INI parsing: types, ranges, unknown keys, secrets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/secret.h"

static const struct cfg_key schema[] = {
	{ "ca", "database", CFG_STRING, "ca.db", 0, 0, NULL, 0, "store" },
	{ "ca", "hours", CFG_INT, "24", 1, 100, NULL, 0, "hours" },
	{ "ca", "strict", CFG_BOOL, "false", 0, 0, NULL, 0, "flag" },
	{ "ca", "mode", CFG_ENUM, "uniform", 0, 0, "uniform detailed", 0,
	    "messages" },
	{ "sms", "key", CFG_SECRET, NULL, 0, 0, NULL, 0, "key" },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

static int
load(const char *text, struct config **cfg, char *err, size_t errlen)
{
	return config_load_buffer(text, strlen(text), "t.conf", schema, cfg,
	    err, errlen);
}

static void
test_valid(void **state)
{
	struct config *cfg;
	char err[256];

	(void)state;
	assert_int_equal(
	    load("# c\n[ca]\n  database = \"/a b/c.db\"  \nhours=7\n"
	         "strict = on\nmode = detailed\n[sms]\nkey = hunter2\n",
	        &cfg, err, sizeof(err)),
	    0);
	assert_string_equal(config_str(cfg, "ca", "database"), "/a b/c.db");
	assert_int_equal(config_int(cfg, "ca", "hours"), 7);
	assert_true(config_bool(cfg, "ca", "strict"));
	assert_string_equal(config_str(cfg, "ca", "mode"), "detailed");
	assert_string_equal((const char *)config_secret(cfg, "sms", "key")->buf,
	    "hunter2");
	assert_true(config_is_set(cfg, "ca", "hours"));
	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config *cfg;
	char err[256];

	(void)state;
	assert_int_equal(load("[ca]\n", &cfg, err, sizeof(err)), 0);
	assert_string_equal(config_str(cfg, "ca", "database"), "ca.db");
	assert_int_equal(config_int(cfg, "ca", "hours"), 24);
	assert_false(config_bool(cfg, "ca", "strict"));
	assert_null(config_secret(cfg, "sms", "key"));
	assert_false(config_is_set(cfg, "ca", "hours"));
	config_free(cfg);
}

struct bad {
	const char *text;
	int code;
	const char *msg;
};

static void
test_errors(void **state)
{
	static const struct bad cases[] = {
		{ "[ca]\nnope = 1\n", UK_ERR_CONFIG_UNKNOWN,
		    "t.conf:2: unknown key nope" },
		{ "[zz]\n", UK_ERR_CONFIG_UNKNOWN,
		    "t.conf:1: unknown section" },
		{ "[ca]\nhours = 0\n", UK_ERR_CONFIG_VALUE, "t.conf:2:" },
		{ "[ca]\nhours = 101\n", UK_ERR_CONFIG_VALUE, "from 1 to 100" },
		{ "[ca]\nhours = 5x\n", UK_ERR_CONFIG_VALUE, "whole number" },
		{ "[ca]\nstrict = maybe\n", UK_ERR_CONFIG_VALUE,
		    "true or false" },
		{ "[ca]\nmode = loud\n", UK_ERR_CONFIG_VALUE,
		    "uniform detailed" },
		{ "[ca]\nhours = 1\nhours = 2\n", UK_ERR_CONFIG_SYNTAX,
		    "given twice" },
		{ "hours = 1\n", UK_ERR_CONFIG_SYNTAX,
		    "outside of a [section]" },
		{ "[ca\n", UK_ERR_CONFIG_SYNTAX, "section header" },
		{ "[ca]\njust words\n", UK_ERR_CONFIG_SYNTAX,
		    "expected key = value" },
		{ "[ca]\ndatabase = \"x\n", UK_ERR_CONFIG_SYNTAX,
		    "unterminated" },
	};
	struct config *cfg;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg = (struct config *)1;
		err[0] = '\0';
		assert_int_equal(load(cases[i].text, &cfg, err, sizeof(err)),
		    cases[i].code);
		assert_null(cfg);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err,
			    cases[i].msg);
	}
}

static void
test_secret_never_dumped(void **state)
{
	struct config *cfg;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load("[sms]\nkey = topsecretvalue\n", &cfg, err,
	                     sizeof(err)),
	    0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	config_dump(cfg, f);
	fclose(f);
	assert_null(strstr(buf, "topsecretvalue"));
	assert_non_null(strstr(buf, "key = (secret, set)"));
	free(buf);
	config_free(cfg);
}

static void
test_required_and_file(void **state)
{
	static const struct cfg_key req[] = {
		{ "a", "b", CFG_STRING, NULL, 0, 0, NULL, 1, "required" },
		{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
	};
	struct config *cfg;
	char err[256];

	(void)state;
	assert_int_equal(config_load_buffer("[a]\n", 4, "r", req, &cfg, err,
	                     sizeof(err)),
	    UK_ERR_CONFIG_MISSING);
	assert_non_null(strstr(err, "[a] b is required"));
	assert_int_equal(config_load("/nonexistent/x.conf", req, &cfg, err,
	                     sizeof(err)),
	    UK_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/x.conf"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_secret_never_dumped),
		cmocka_unit_test(test_required_and_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
