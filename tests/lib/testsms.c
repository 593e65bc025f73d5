/* tests/lib/testsms.c: the SMS capture server (build/tests/tools/sms-capture) driven from C tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "tests/lib/testsms.h"
#include "tests/lib/testtool.h"

int
testsms_start(const char *dir, pid_t *pid, int *port)
{
	char logp[1024], secp[1024];
	const char *args[] = { "--log", logp, "--secrets", secp, NULL };
	FILE *f;

	snprintf(logp, sizeof(logp), "%s/capture.log", dir);
	snprintf(secp, sizeof(secp), "%s/capture.secrets", dir);
	if ((f = fopen(secp, "w")) == NULL)
		return -1;
	fprintf(f, "http=%s\naliyun=%s\ntencent=%s\n", TESTSMS_HTTP_KEY,
	    TESTSMS_ALI_KEY, TESTSMS_TC_KEY);
	fclose(f);
	*pid = testtool_start("sms-capture", args, port);
	return *pid > 0 ? 0 : -1;
}

void
testsms_stop(pid_t pid)
{
	testtool_stop(pid);
}

json_t *
testsms_log(const char *dir)
{
	char p[1024], line[8192];
	json_t *a = json_array(), *o;
	FILE *f;

	snprintf(p, sizeof(p), "%s/capture.log", dir);
	if ((f = fopen(p, "r")) == NULL)
		return a;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((o = json_loads(line, 0, NULL)) != NULL)
			json_array_append_new(a, o);
	fclose(f);
	return a;
}

void
testsms_fail(int port, int n)
{
	char url[128];
	CURL *e = curl_easy_init();

	assert_non_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/control?fail=%d", port,
	    n);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, testtool_discard);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_cleanup(e);
}
