/* tests/unit/gateway/test_conf.c: ukey-gateway's configuration checks: [reset] needs its code key and a usable [sms] provider, [scan] needs [wechat]; secrets never appear in the messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/errors.h"
#include "gateway/conf.h"

#define BASE                                                                   \
	"[gateway]\npublic_origin = https://gjj.example.cn\n"                  \
	"store = /tmp/x.db\n"                                                  \
	"[proxy]\nroutes = /tmp/x.routes\n"                                    \
	"[assertion]\nkey = /tmp/k.pem\n"
#define KEY "k3y-of-exactly-thirty-two-bytes!"
#define RESET_ON "[reset]\nenabled = true\ncode_key = " KEY "\n"

struct tcase {
	const char *name;
	const char *text; /* after BASE */
	int want;         /* 0 or UK_ERR_CONFIG_* */
	const char *says; /* in the message, or NULL */
};

static const struct tcase cases[] = {
	{ "defaults: reset and scan off", "", 0, NULL },
	{ "reset with the file provider", RESET_ON "[sms]\npath = /tmp/s\n", 0,
	    NULL },
	{ "reset without code_key",
	    "[reset]\nenabled = true\n[sms]\npath = x\n", UK_ERR_CONFIG_MISSING,
	    "[reset] code_key" },
	{ "a 31-byte code_key",
	    "[reset]\nenabled = true\ncode_key = "
	    "0123456789012345678901234567890\n[sms]\npath = x\n",
	    UK_ERR_CONFIG_VALUE, "at least 32 bytes" },
	{ "file without path", RESET_ON, UK_ERR_CONFIG_MISSING, "[sms] path" },
	{ "http without url",
	    RESET_ON "[sms]\nprovider = http\nsecret = webhook-secret\n",
	    UK_ERR_CONFIG_MISSING, "[sms] url" },
	{ "http without secret",
	    RESET_ON "[sms]\nprovider = http\nurl = https://sms.example/\n",
	    UK_ERR_CONFIG_MISSING, "[sms] secret" },
	{ "http with a URL that is not one",
	    RESET_ON "[sms]\nprovider = http\nurl = ftp://x/\nsecret = s\n",
	    UK_ERR_CONFIG_VALUE, "[sms] url" },
	{ "http complete",
	    RESET_ON "[sms]\nprovider = http\nurl = https://sms.example/\n"
	             "secret = webhook-secret\n",
	    0, NULL },
	{ "aliyun without tpl_code",
	    RESET_ON "[sms]\nprovider = aliyun\nurl = https://a/\n"
	             "key_id = LTAI\nsecret = s\nsign_name = X\n"
	             "tpl_notice = SMS_2\n",
	    UK_ERR_CONFIG_MISSING, "[sms] tpl_code" },
	{ "aliyun complete",
	    RESET_ON "[sms]\nprovider = aliyun\nurl = https://a/\n"
	             "key_id = LTAI\nsecret = s\nsign_name = X\n"
	             "tpl_code = SMS_1\ntpl_notice = SMS_2\n",
	    0, NULL },
	{ "tencent without region",
	    RESET_ON "[sms]\nprovider = tencent\nurl = https://t/\n"
	             "key_id = AKID\nsecret = s\nsign_name = X\n"
	             "tpl_code = 1\ntpl_notice = 2\napp_id = 1400\n",
	    UK_ERR_CONFIG_MISSING, "[sms] region" },
	{ "tencent complete",
	    RESET_ON "[sms]\nprovider = tencent\nurl = https://t/\n"
	             "key_id = AKID\nsecret = s\nsign_name = X\n"
	             "tpl_code = 1\ntpl_notice = 2\napp_id = 1400\n"
	             "region = ap-guangzhou\n",
	    0, NULL },
	{ "provider keys are not needed with reset off",
	    "[sms]\nprovider = aliyun\n", 0, NULL },
	{ "scan without appid", "[scan]\nenabled = true\n",
	    UK_ERR_CONFIG_MISSING, "[wechat] appid" },
	{ "scan without secret",
	    "[scan]\nenabled = true\n[wechat]\nappid = wx1\n",
	    UK_ERR_CONFIG_MISSING, "[wechat] secret" },
	{ "scan complete",
	    "[scan]\nenabled = true\n[wechat]\nappid = wx1\nsecret = w\n", 0,
	    NULL },
};

static void
test_cases(void **state)
{
	char buf[2048], err[512];
	struct config *cfg;
	size_t i;
	int n, r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = snprintf(buf, sizeof(buf), "%s%s", BASE, cases[i].text);
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		err[0] = '\0';
		cfg = NULL;
		r = gw_conf_load_buffer(buf, (size_t)n, "t.conf", &cfg, err,
		    sizeof(err));
		if (r != cases[i].want)
			fail_msg("%s: got %d (%s), want %d", cases[i].name, r,
			    err, cases[i].want);
		if (cases[i].says != NULL && strstr(err, cases[i].says) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"",
			    cases[i].name, err, cases[i].says);
		/* the secrets are never in a message */
		assert_null(strstr(err, KEY));
		assert_null(strstr(err, "webhook-secret"));
		assert_true((r == 0) == (cfg != NULL));
		config_free(cfg);
	}
}

/* check-config's dump names secrets as set, never their values. */
static void
test_dump_hides_secrets(void **state)
{
	static const char text[] =
	    BASE RESET_ON "[sms]\nprovider = http\nurl = https://sms.example/\n"
	                  "secret = webhook-secret\n";
	struct config *cfg = NULL;
	char err[512], *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(gw_conf_load_buffer(text, sizeof(text) - 1, "t.conf",
	                     &cfg, err, sizeof(err)),
	    0);
	assert_non_null(f = open_memstream(&out, &len));
	config_dump(cfg, f);
	fclose(f);
	assert_non_null(strstr(out, "code_key = (secret, set)"));
	assert_non_null(strstr(out, "secret = (secret, set)"));
	assert_null(strstr(out, KEY));
	assert_null(strstr(out, "webhook-secret"));
	free(out);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_dump_hides_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
