/* tests/unit/common/test_util.c: base64, hex, time zones and midnight, RFC 3339, secrets, atomic files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/secret.h"
#include "common/timeutil.h"

static void
test_b64_roundtrip(void **state)
{
	unsigned char in[70], *out;
	size_t len, n;
	char *e;
	int url;

	(void)state;
	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(n * 37 + 250);
	for (url = 0; url < 2; url++) {
		for (n = 0; n <= sizeof(in); n++) {
			e = b64_encode(in, n, url);
			assert_non_null(e);
			assert_int_equal(b64_decode(e, 1000, url, &out, &len),
			    0);
			assert_int_equal(len, n);
			assert_memory_equal(out, in, n);
			free(out);
			free(e);
		}
	}
}

static void
test_b64_strict(void **state)
{
	unsigned char *out;
	size_t len;
	char *e;

	(void)state;
	e = b64_encode((const unsigned char *)"\xfb\xff", 2, 0);
	assert_string_equal(e, "+/8=");
	free(e);
	e = b64_encode((const unsigned char *)"\xfb\xff", 2, 1);
	assert_string_equal(e, "-_8");
	free(e);
	assert_int_equal(b64_decode("Zm9v", 100, 0, &out, &len), 0);
	assert_memory_equal(out, "foo", 3);
	free(out);
	assert_int_equal(b64_decode("Zm9", 100, 0, &out, &len), UK_ERR_BASE64);
	assert_int_equal(b64_decode("Zm9=", 100, 0, &out, &len), UK_ERR_BASE64);
	assert_int_equal(b64_decode("Zg==", 100, 1, &out, &len), UK_ERR_BASE64);
	assert_int_equal(b64_decode("Zm 9v", 100, 0, &out, &len),
	    UK_ERR_BASE64);
	assert_int_equal(b64_decode("Zm9v", 3, 0, &out, &len), UK_ERR_LIMIT);
	assert_int_equal(b64_decode("A", 100, 1, &out, &len), UK_ERR_BASE64);
}

static void
test_hex(void **state)
{
	static const unsigned char in[] = { 0x00, 0x1f, 0xa0, 0xff, 0x5c };
	static const struct {
		const char *text;
		size_t len; /* digits passed */
		int want;
	} bad[] = {
		{ "abc", 3, UK_ERR_INPUT }, /* odd */
		{ "0g", 2, UK_ERR_INPUT },  /* not hex */
		{ "g0", 2, UK_ERR_INPUT }, { " 0", 2, UK_ERR_INPUT },
		{ "0x", 2, UK_ERR_INPUT }, { "-1", 2, UK_ERR_INPUT },
		{ "00\xff", 3, UK_ERR_INPUT },
		{ "", 0, 0 },       /* nothing: nothing written */
		{ "0a0A", 4, 0 },   /* either case */
		{ "0a0Azz", 4, 0 }, /* only len digits are read */
	};
	unsigned char out[8];
	char h[11];
	size_t i;

	(void)state;
	hex_encode(in, sizeof(in), h);
	assert_string_equal(h, "001fa0ff5c");
	hex_encode_upper(in, sizeof(in), h);
	assert_string_equal(h, "001FA0FF5C");
	hex_encode_upper(in, 0, h);
	assert_string_equal(h, "");
	assert_int_equal(hex_decode("001FA0ff5c", 10, out), 0);
	assert_memory_equal(out, in, sizeof(in));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hex_decode(bad[i].text, bad[i].len, out),
		    bad[i].want);
	assert_memory_equal(out, "\x0a\x0a", 2);
}

static void
test_midnight(void **state)
{
	time_t now, next;

	(void)state;
	/* 2026-11-23 15:59:59 UTC is 23:59:59 in Shanghai: midnight in 1 s. */
	assert_int_equal(time_parse_rfc3339("2026-11-23T15:59:59Z", &now), 0);
	assert_int_equal(time_next_midnight("Asia/Shanghai", now, &next), 0);
	assert_int_equal(next - now, 1);
	/* 16:00:00 UTC is 00:00 in Shanghai: the next one is a day later. */
	assert_int_equal(time_next_midnight("Asia/Shanghai", now + 1, &next),
	    0);
	assert_int_equal(next - (now + 1), 86400);
	assert_int_equal(time_next_midnight(NULL, now, &next), 0);
	assert_int_equal(next - now, 1);
	assert_int_equal(time_next_midnight("UTC", now, &next), 0);
	assert_int_equal(next - now, 8 * 3600 + 1);
	assert_int_equal(time_next_midnight("Mars/Olympus", now, &next),
	    UK_ERR_CONFIG_VALUE);
	assert_int_equal(time_next_midnight("../etc/passwd", now, &next),
	    UK_ERR_CONFIG_VALUE);
	assert_null(getenv("TZ"));
}

static void
test_rfc3339(void **state)
{
	time_t t;
	char buf[32];

	(void)state;
	assert_int_equal(time_parse_rfc3339("2011-04-15T00:00:00Z", &t), 0);
	assert_int_equal(t, 1302825600);
	assert_int_equal(time_parse_rfc3339("2011-04-15T08:00:00+08:00", &t),
	    0);
	assert_int_equal(t, 1302825600);
	assert_int_equal(time_parse_rfc3339("2011-04-15T00:00:00.5Z", &t), 0);
	time_rfc3339(1302825600, buf, sizeof(buf));
	assert_string_equal(buf, "2011-04-15T00:00:00Z");
	assert_int_equal(time_parse_rfc3339("2011-02-31T00:00:00Z", &t),
	    UK_ERR_INPUT);
	assert_int_equal(time_parse_rfc3339("2011-04-15 00:00:00Z", &t),
	    UK_ERR_INPUT);
	assert_int_equal(time_parse_rfc3339("2011-04-15T00:00:00", &t),
	    UK_ERR_INPUT);
	assert_int_equal(time_parse_rfc3339("2011-04-15T00:00:00Zjunk", &t),
	    UK_ERR_INPUT);
}

static void
test_secret_fd(void **state)
{
	struct secret *s, *t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "pa ss\r\nrest", 11), 11);
	close(p[1]);
	assert_int_equal(secret_read_fd(p[0], &s), 0);
	close(p[0]);
	assert_int_equal(s->len, 5);
	assert_string_equal((char *)s->buf, "pa ss");
	t = secret_from("pa ss", 5);
	assert_true(secret_equal(s, t));
	t->buf[0] = 'P';
	assert_false(secret_equal(s, t));
	secret_free(s);
	secret_free(t);
	secret_free(NULL);

	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(secret_read_fd(p[0], &s), UK_ERR_SECRET_EMPTY);
	assert_null(s);
	close(p[0]);
}

static void
test_atomic_file(void **state)
{
	char dir[] = "/tmp/uk-fileio-XXXXXX", path[256];
	unsigned char *buf;
	struct stat sb;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_write_atomic(path, "one", 3, 0600), 0);
	assert_int_equal(file_write_atomic(path, "two!", 4, 0644), 0);
	assert_int_equal(file_read_all(path, 100, &buf, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal((char *)buf, "two!");
	free(buf);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(file_read_all(path, 3, &buf, &len), UK_ERR_LIMIT);
	assert_int_equal(file_write_new(path, "x", 1, 0600), UK_ERR_EXISTS);
	unlink(path);
	assert_int_equal(file_write_new(path, "x", 1, 0600), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	unlink(path);
	snprintf(path, sizeof(path), "%s/missing/f", dir);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600), UK_ERR_IO);
	/* Never replace what is not a regular file. */
	assert_int_equal(file_write_atomic("/dev/null", "x", 1, 0600),
	    UK_ERR_IO);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600), UK_ERR_IO);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_strict),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_midnight),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_secret_fd),
		cmocka_unit_test(test_atomic_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
