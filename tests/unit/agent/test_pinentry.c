/* tests/unit/agent/test_pinentry.c: the Assuan reply parser, %-escaping, and whole PIN dialogs with tests/tools/fake-pinentry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/errinfo.h"
#include "agent/pinentry.h"
#include "common/errors.h"
#include "common/fileio.h"

static char dir[512];
static char program[PATH_MAX];

/* Feeds one line (a C string). */
static int
feed(struct ag_assuan *a, const char *line, enum ag_assuan_status *st)
{
	return ag_assuan_feed(a, line, strlen(line), st);
}

static void
test_parse_replies(void **state)
{
	struct ag_assuan *a = ag_assuan_new();
	enum ag_assuan_status st;
	struct secret *s;

	(void)state;
	assert_non_null(a);
	assert_int_equal(feed(a, "OK Pleased to meet you", &st), 0);
	assert_int_equal(st, AG_ASSUAN_OK);
	/* Nothing may follow the end of a reply. */
	assert_int_equal(feed(a, "OK", &st), UK_ERR_INPUT);
	ag_assuan_reset(a);

	assert_int_equal(feed(a, "# a comment", &st), 0);
	assert_int_equal(st, AG_ASSUAN_MORE);
	assert_int_equal(feed(a, "S PIN_REPEATED", &st), 0);
	assert_true(ag_assuan_repeated(a));
	assert_int_equal(feed(a, "D 12%253%0A4", &st), 0);
	assert_int_equal(feed(a, "D 56", &st), 0);
	assert_int_equal(feed(a, "OK", &st), 0);
	assert_int_equal(st, AG_ASSUAN_OK);
	s = ag_assuan_take(a);
	assert_non_null(s);
	assert_int_equal(s->len, 8);
	assert_memory_equal(s->buf, "12%3\n456", 8);
	secret_free(s);
	assert_false(ag_assuan_repeated(a)); /* take resets */

	assert_int_equal(feed(a, "ERR 83886179 Operation cancelled <Pinentry>",
	                     &st),
	    0);
	assert_int_equal(st, AG_ASSUAN_ERR);
	assert_int_equal(ag_assuan_errcode(a), 83886179UL);
	assert_int_equal(ag_assuan_errcode(a) & 0xffff, AG_GPG_ERR_CANCELED);
	ag_assuan_reset(a);
	assert_int_equal(feed(a, "ERR 62", &st), 0);
	assert_int_equal(ag_assuan_errcode(a), 62);
	ag_assuan_reset(a);
	/* Empty data is an empty PIN. */
	assert_int_equal(feed(a, "D ", &st), 0);
	assert_int_equal(feed(a, "OK", &st), 0);
	s = ag_assuan_take(a);
	assert_int_equal(s->len, 0);
	secret_free(s);
	ag_assuan_free(a);
	ag_assuan_free(NULL);
}

static void
test_parse_refusals(void **state)
{
	static const char *const bad[] = { "INQUIRE PINENTRY_LAUNCHED", "HELLO",
		"ERR", "ERR x", "ERR 12x", "ERR 12345678901", "D 1%2", "D 1%zz",
		"D %", "OKAY", "ok", "" };
	struct ag_assuan *a = ag_assuan_new();
	enum ag_assuan_status st;
	char line[AG_ASSUAN_LINE_MAX + 8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ag_assuan_reset(a);
		assert_int_equal(feed(a, bad[i], &st), UK_ERR_INPUT);
	}
	/* NUL inside a line. */
	ag_assuan_reset(a);
	assert_int_equal(ag_assuan_feed(a, "D 1\0002", 5, &st), UK_ERR_INPUT);
	/* A line at Assuan's limit. */
	memset(line, 'x', sizeof(line));
	line[0] = 'D';
	line[1] = ' ';
	assert_int_equal(ag_assuan_feed(a, line, AG_ASSUAN_LINE_MAX, &st),
	    UK_ERR_LIMIT);
	/* Data beyond SECRET_MAX. */
	ag_assuan_reset(a);
	for (i = 0; i < 2; i++)
		assert_int_equal(ag_assuan_feed(a, line, 500, &st), 0);
	assert_int_equal(ag_assuan_feed(a, line, 500, &st), UK_ERR_LIMIT);
	ag_assuan_free(a);
}

static void
test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(ag_assuan_escape("a%b\nc\rd", out, sizeof(out)), 13);
	assert_string_equal(out, "a%25b%0Ac%0Dd");
	assert_int_equal(ag_assuan_escape("\t", out, sizeof(out)), 3);
	assert_string_equal(out, "%09");
	/* UTF-8 is kept whole; a cut never splits a character or an
	 * escape. */
	ag_assuan_escape("证书", out, sizeof(out));
	assert_string_equal(out, "证书");
	assert_int_equal(ag_assuan_escape("证书", out, 6), 3);
	assert_string_equal(out, "证");
	assert_int_equal(ag_assuan_escape("ab%", out, 5), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(ag_assuan_escape("x", out, 1), 0);
	assert_string_equal(out, "");
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	const char *t = getenv("UKEY_TEST_TMP"), *root = getenv("UKEY_ROOT");
	char src[PATH_MAX];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pinentry.XXXXXX",
	    t != NULL ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/tests/tools/fake-pinentry",
	    root != NULL ? root : ".");
	if (realpath(src, program) == NULL)
		return -1;
	return setenv("FAKE_PINENTRY_DIR", dir, 1);
}

static int
teardown(void **state)
{
	(void)state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
control(const char *name, const char *value)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_write_atomic(path, value, strlen(value), 0600),
	    0);
}

static int
ask(int timeout_s, struct secret **pin)
{
	struct ag_pinentry_req req;

	memset(&req, 0, sizeof(req));
	req.program = program;
	req.timeout_s = timeout_s;
	req.title = "ukey-agent";
	req.desc =
	    "网站 https://hall.example 请求使用UKey登录。\n证书：CN=张三";
	req.prompt = "PIN码：";
	req.error = "还可尝试2次";
	return ag_pinentry_get(&req, pin);
}

/* Asks for a new PIN, to be typed twice. */
static int
ask_new(struct secret **pin)
{
	struct ag_pinentry_req req;

	memset(&req, 0, sizeof(req));
	req.program = program;
	req.timeout_s = 10;
	req.title = "ukey-agent";
	req.desc = "修改PIN码";
	req.prompt = "新PIN码：";
	req.repeat = "再次输入：";
	req.repeat_error = "两次输入不一致";
	return ag_pinentry_get(&req, pin);
}

static int
pid_alive(void)
{
	unsigned char *buf;
	size_t len;
	char path[1024];
	long pid;

	snprintf(path, sizeof(path), "%s/pid", dir);
	if (file_read_all(path, 32, &buf, &len) != 0)
		return 0;
	pid = strtol((char *)buf, NULL, 10);
	free(buf);
	return pid > 0 && kill((pid_t)pid, 0) == 0;
}

static void
test_dialogs(void **state)
{
	struct secret *pin = NULL;
	unsigned char *log;
	char path[1024];
	size_t len;
	time_t t0;

	(void)state;
	control("pin", "4321%x");
	assert_int_equal(ask(10, &pin), 0);
	assert_non_null(pin);
	assert_string_equal((char *)pin->buf, "4321%x");
	secret_free(pin);
	pin = NULL;
	/* What the dialog was told: origin and subject, escaped. */
	snprintf(path, sizeof(path), "%s/log", dir);
	assert_int_equal(file_read_all(path, 65536, &log, &len), 0);
	assert_non_null(strstr((char *)log,
	    "SETDESC 网站 https://hall.example "
	    "请求使用UKey登录。%0A证书：CN=张三"));
	assert_non_null(strstr((char *)log, "SETERROR 还可尝试2次"));
	assert_non_null(strstr((char *)log, "SETTIMEOUT 10"));
	assert_non_null(strstr((char *)log, "GETPIN"));
	free(log);

	control("mode", "cancel");
	assert_int_equal(ask(10, &pin), UK_ERR_CANCELLED);
	assert_null(pin);
	control("mode", "timeout");
	assert_int_equal(ask(10, &pin), UK_ERR_TIMEOUT);
	control("mode", "die");
	assert_int_equal(ask(10, &pin), UK_ERR_TOKEN_PIN_ENTRY);
	control("mode", "garbage");
	assert_int_equal(ask(10, &pin), UK_ERR_TOKEN_PIN_ENTRY);
	assert_false(pid_alive());
	/* A dialog that never answers is killed at the timeout. */
	control("mode", "hang");
	t0 = time(NULL);
	assert_int_equal(ask(1, &pin), UK_ERR_TIMEOUT);
	assert_true(time(NULL) - t0 <= 3);
	assert_false(pid_alive());
	assert_null(pin);

	/* A new PIN counts only when the dialog confirms it was typed twice. */
	control("mode", "pin");
	control("pin", "654321");
	assert_int_equal(ask_new(&pin), 0);
	assert_string_equal((char *)pin->buf, "654321");
	secret_free(pin);
	pin = NULL;
	control("mode", "norepeat");
	assert_int_equal(ask_new(&pin), UK_ERR_TOKEN_PIN_ENTRY);
	assert_null(pin);
}

static void
test_no_program(void **state)
{
	struct ag_pinentry_req req;
	struct secret *pin = NULL;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.timeout_s = 5;
	req.program = "/nonexistent/pinentry";
	assert_int_equal(ag_pinentry_get(&req, &pin), UK_ERR_TOKEN_PIN_ENTRY);
	req.program = "pinentry"; /* no PATH search */
	assert_int_equal(ag_pinentry_get(&req, &pin), UK_ERR_TOKEN_PIN_ENTRY);
	req.program = NULL;
	assert_int_equal(ag_pinentry_get(&req, &pin), UK_ERR_TOKEN_PIN_ENTRY);
	assert_null(pin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_replies),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup_teardown(test_dialogs, setup, teardown),
		cmocka_unit_test(test_no_program),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
