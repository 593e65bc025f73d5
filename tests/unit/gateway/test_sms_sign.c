/* tests/unit/gateway/test_sms_sign.c: the SMS providers' request signatures against published examples, a Python reimplementation and the capture server. */
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/sms_provider.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"
#include "tests/lib/testsms.h"

#define HTTP_KEY TESTSMS_HTTP_KEY
#define ALI_KEY TESTSMS_ALI_KEY
#define TC_KEY TESTSMS_TC_KEY

/* Runs python3 with program prog (stdin closed) and returns its first
 * output line without the newline, malloc'd. */
static char *
python(const char *prog)
{
	char path[1024], line[4096];
	FILE *f, *p;
	size_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/prog.XXXXXX", testgw_tmpdir());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(prog, f);
	fclose(f);
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "python3 %s </dev/null", path);
		p = popen(cmd, "r");
	}
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	pclose(p);
	unlink(path);
	n = strcspn(line, "\n");
	line[n] = '\0';
	return strdup(line);
}

/* Aliyun's RPC signature document: ECS DescribeRegions with AccessKeyId
 * "testid" and secret "testsecret" signs to OLeaidS1JvxuMvnyHOwuJ+uX5qY=. */
static void
test_aliyun_published(void **state)
{
	const char *kv[] = { "Timestamp", "2016-02-23T12:46:24Z", "Format",
		"XML", "AccessKeyId", "testid", "Action", "DescribeRegions",
		"SignatureMethod", "HMAC-SHA1", "SignatureNonce",
		"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version", "2014-05-26",
		"SignatureVersion", "1.0" };
	struct secret *k = secret_from("testsecret", 10);
	char sig[29], *q = NULL;

	(void)state;
	assert_int_equal(gw_sms_aliyun_sign(kv, 8, k, sig, &q), 0);
	assert_string_equal(sig, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
	assert_string_equal(q,
	    "AccessKeyId=testid&Action=DescribeRegions&Format=XML"
	    "&SignatureMethod=HMAC-SHA1"
	    "&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
	    "&SignatureVersion=1.0&Timestamp=2016-02-23T12%3A46%3A24Z"
	    "&Version=2014-05-26&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D");
	free(q);
	secret_free(k);
}

/* Tencent Cloud's signature v3 document: cvm DescribeInstances at
 * 1551113065 with the (masked) example keys. */
static void
test_tencent_published(void **state)
{
	const char *payload = "{\"Limit\": 1, \"Filters\": [{\"Values\": "
	                      "[\"\\u672a\\u547d\\u540d\"], \"Name\": "
	                      "\"instance-name\"}]}";
	struct secret *k = secret_from("Gu5t9xGARNpq86cd98joQYCN3*******", 32);
	char sig[65], *auth = NULL;

	(void)state;
	assert_int_equal(gw_sms_tc3_sign("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
	                     k, "cvm", "cvm.tencentcloudapi.com",
	                     "application/json; charset=utf-8", 1551113065,
	                     payload, strlen(payload), sig, &auth),
	    0);
	assert_string_equal(sig,
	    "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c");
	assert_string_equal(auth,
	    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/"
	    "2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
	    "Signature="
	    "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c");
	free(auth);
	secret_free(k);
}

static void
test_pct_encode(void **state)
{
	char *s;

	(void)state;
	s = gw_sms_pct_encode("a b*c~d/e+f=g&\"中");
	assert_string_equal(s, "a%20b%2Ac~d%2Fe%2Bf%3Dg%26%22%E4%B8%AD");
	free(s);
}

/* The same three signatures recomputed by Python's hmac / hashlib /
 * urllib for inputs with UTF-8, JSON and a date near midnight UTC. */
static void
test_against_python(void **state)
{
	const char *params = "{\"code\":\"012345\",\"minutes\":\"5\"}";
	const char *kv[] = { "AccessKeyId", "LTAI-x", "Action", "SendSms",
		"PhoneNumbers", "13800138000", "SignName", "住房公积金",
		"TemplateCode", "SMS_1", "TemplateParam", params, "Timestamp",
		"2024-06-10T23:59:59Z", "SignatureNonce", "n 1+2" };
	struct secret *ak = secret_from(ALI_KEY, strlen(ALI_KEY));
	struct secret *tk = secret_from(TC_KEY, strlen(TC_KEY));
	struct secret *hk = secret_from(HTTP_KEY, strlen(HTTP_KEY));
	const char *body = "{\"phone\":\"13800138000\",\"id\":7}";
	char sig[29], tsig[65], hsig[65], *py;

	(void)state;
	assert_int_equal(gw_sms_aliyun_sign(kv, 8, ak, sig, NULL), 0);
	py = python(
	    "import hmac,hashlib,base64,urllib.parse\n"
	    "def pe(s): return urllib.parse.quote(s, safe='-_.~')\n"
	    "p={'AccessKeyId':'LTAI-x','Action':'SendSms',"
	    "'PhoneNumbers':'13800138000','SignName':'住房公积金',"
	    "'TemplateCode':'SMS_1',"
	    "'TemplateParam':'{\"code\":\"012345\",\"minutes\":\"5\"}',"
	    "'Timestamp':'2024-06-10T23:59:59Z','SignatureNonce':'n 1+2'}\n"
	    "c='&'.join(pe(k)+'='+pe(v) for k,v in sorted(p.items()))\n"
	    "s='GET&%2F&'+pe(c)\n"
	    "print(base64.b64encode(hmac.new(b'" ALI_KEY
	    "&',s.encode(),hashlib.sha1).digest()).decode())\n");
	assert_string_equal(sig, py);
	free(py);

	assert_int_equal(gw_sms_tc3_sign("AKID1", tk, "sms", "127.0.0.1:8080",
	                     "application/json; charset=utf-8", 1718063999,
	                     body, strlen(body), tsig, NULL),
	    0);
	py = python(
	    "import hmac,hashlib\n"
	    "b='{\"phone\":\"13800138000\",\"id\":7}'\n"
	    "cr='POST\\n/\\n\\ncontent-type:application/json; "
	    "charset=utf-8\\nhost:127.0.0.1:8080\\n\\ncontent-type;host\\n'"
	    "+hashlib.sha256(b.encode()).hexdigest()\n"
	    "d='2024-06-10'\n"
	    "s='TC3-HMAC-SHA256\\n1718063999\\n'+d+'/sms/tc3_request\\n'"
	    "+hashlib.sha256(cr.encode()).hexdigest()\n"
	    "h=lambda k,m: hmac.new(k,m.encode(),hashlib.sha256).digest()\n"
	    "k=h(h(h(b'TC3" TC_KEY "',d),'sms'),'tc3_request')\n"
	    "print(hmac.new(k,s.encode(),hashlib.sha256).hexdigest())\n");
	assert_string_equal(tsig, py);
	free(py);

	assert_int_equal(gw_sms_http_sign(hk, 1718000000, body, strlen(body),
	                     hsig),
	    0);
	py = python("import hmac,hashlib\n"
	            "print(hmac.new(b'" HTTP_KEY "',b'1718000000.'+"
	            "'{\"phone\":\"13800138000\",\"id\":7}'.encode(),"
	            "hashlib.sha256).hexdigest())\n");
	assert_string_equal(hsig, py);
	free(py);
	secret_free(ak);
	secret_free(tk);
	secret_free(hk);
}

/* Sends one message through kind to the capture server; returns the
 * provider's answer. */
static int
send_via(const char *kind, int port, const char *key, const char *tpl,
    char msgid[GW_SMS_MSGID_MAX + 1])
{
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct secret *k = secret_from(key, strlen(key));
	char url[128], err[256];
	int r;

	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", port, kind);
	c.kind = kind;
	c.url = url;
	c.key_id = "KEYID";
	c.secret = k;
	c.sign_name = "公积金中心";
	c.app_id = "1400000000";
	c.tpl_code = tpl;
	c.timeout_ms = 5000;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	r = gw_sms_provider_send(p,
	    &(struct gw_sms_msg){ 42, "13800138000", GW_SMS_TPL_RESET_CODE,
	        "{\"code\":\"654321\",\"minutes\":\"5\"}" },
	    (int64_t)time(NULL), msgid, err, sizeof(err));
	/* the error line never holds the secret */
	assert_null(strstr(err, key));
	gw_sms_provider_free(p);
	secret_free(k);
	return r;
}

static void
test_capture(void **state)
{
	char dir[512], msgid[GW_SMS_MSGID_MAX + 1];
	json_t *log, *e;
	pid_t pid = 0;
	int port = 0;

	(void)state;
	assert_int_equal(testdb_tmpdir("capture", dir, sizeof(dir)), 0);
	if (testsms_start(dir, &pid, &port) != 0)
		fail_msg("sms-capture did not start (make test-bins?)");
	assert_int_equal(send_via("http", port, HTTP_KEY, NULL, msgid), 0);
	assert_string_equal(msgid, "cap-1");
	assert_int_equal(send_via("aliyun", port, ALI_KEY, "SMS_100", msgid),
	    0);
	assert_string_equal(msgid, "cap-2");
	assert_int_equal(send_via("tencent", port, TC_KEY, "900001", msgid), 0);
	assert_string_equal(msgid, "cap-3");
	/* a wrong key is refused for good */
	assert_int_equal(send_via("http", port, "wrong", NULL, msgid),
	    UK_ERR_SMS_REJECTED);
	assert_int_equal(send_via("aliyun", port, "wrong", NULL, msgid),
	    UK_ERR_SMS_REJECTED);
	assert_int_equal(send_via("tencent", port, "wrong", NULL, msgid),
	    UK_ERR_SMS_REJECTED);
	/* a provider answering 500 is worth retrying */
	testsms_fail(port, 3);
	assert_int_equal(send_via("http", port, HTTP_KEY, NULL, msgid),
	    UK_ERR_SMS_TEMPORARY);
	assert_int_equal(send_via("aliyun", port, ALI_KEY, NULL, msgid),
	    UK_ERR_SMS_TEMPORARY);
	assert_int_equal(send_via("tencent", port, TC_KEY, NULL, msgid),
	    UK_ERR_SMS_TEMPORARY);
	testsms_stop(pid);
	/* nobody listening: temporary */
	assert_int_equal(send_via("http", port, HTTP_KEY, NULL, msgid),
	    UK_ERR_SMS_TEMPORARY);

	log = testsms_log(dir);
	assert_int_equal(json_array_size(log), 9);
	e = json_array_get(log, 0);
	assert_true(json_is_true(json_object_get(e, "ok")));
	assert_int_equal(json_integer_value(json_object_get(e, "id")), 42);
	assert_string_equal(json_string_value(json_object_get(e, "phone")),
	    "13800138000");
	e = json_array_get(log, 1);
	assert_true(json_is_true(json_object_get(e, "ok")));
	assert_string_equal(json_string_value(json_object_get(e, "id")), "42");
	assert_string_equal(json_string_value(json_object_get(e, "template")),
	    "SMS_100");
	assert_string_equal(json_string_value(json_object_get(e, "sign_name")),
	    "公积金中心");
	assert_string_equal(json_string_value(json_object_get(e, "params")),
	    "{\"code\":\"654321\",\"minutes\":\"5\"}");
	e = json_array_get(log, 2);
	assert_true(json_is_true(json_object_get(e, "ok")));
	assert_string_equal(json_string_value(json_object_get(e, "phone")),
	    "+8613800138000");
	assert_string_equal(json_string_value(json_object_get(e, "action")),
	    "SendSms");
	assert_string_equal(json_string_value(
	                        json_array_get(json_object_get(e, "params"),
	                            0)),
	    "654321");
	assert_string_equal(json_string_value(json_object_get(e, "id")), "42");
	for (size_t i = 3; i < 6; i++)
		assert_true(json_is_false(
		    json_object_get(json_array_get(log, i), "ok")));
	for (size_t i = 6; i < 9; i++)
		assert_int_equal(json_integer_value(
		                     json_object_get(json_array_get(log, i),
		                         "status")),
		    500);
	json_decref(log);
	testdb_rmtree(dir);
}

static void
test_provider_conf(void **state)
{
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct secret *k = secret_from("k", 1);

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_MISSING);
	c.path = "/tmp/x";
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_string_equal(gw_sms_provider_kind(p), "file");
	gw_sms_provider_free(p);
	c.kind = "carrier-pigeon";
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_VALUE);
	c.kind = "aliyun";
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_MISSING);
	c.key_id = "id";
	c.secret = k;
	c.sign_name = "s";
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	gw_sms_provider_free(p);
	c.kind = "tencent";
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_MISSING);
	c.app_id = "1400";
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	gw_sms_provider_free(p);
	c.url = "no-scheme";
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_VALUE);
	c.kind = "http";
	c.url = NULL;
	assert_int_equal(gw_sms_provider_new(&c, &p), UK_ERR_CONFIG_MISSING);
	secret_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliyun_published),
		cmocka_unit_test(test_tencent_published),
		cmocka_unit_test(test_pct_encode),
		cmocka_unit_test(test_against_python),
		cmocka_unit_test(test_provider_conf),
		cmocka_unit_test(test_capture),
	};
	int r;

	if (testgw_begin("sms_sign") != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests_name("sms_sign", tests, NULL, NULL);
	curl_global_cleanup();
	return testgw_end(r);
}
