/* tests/unit/agent/test_ipc.c: the front-worker framing: fields, limits, malformed frames, partial reads, timeouts, a peer that goes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/ipc.h"
#include "common/errors.h"

static void
test_fields(void **state)
{
	struct ag_msg *m = ag_msg_new(AG_MSG_AUTH);
	struct secret *pin = secret_from("123456", 6), *got = NULL;
	const void *d;
	uint32_t v;
	size_t n;

	(void)state;
	assert_non_null(m);
	assert_int_equal(ag_msg_type(m), AG_MSG_AUTH);
	assert_int_equal(ag_msg_put_str(m, AG_T_ORIGIN, "https://a.example"),
	    0);
	assert_int_equal(ag_msg_put_u32(m, AG_T_CODE, 2003), 0);
	assert_int_equal(ag_msg_put_secret(m, AG_T_PIN, pin), 0);
	assert_int_equal(ag_msg_put_secret(m, AG_T_SO_PIN, NULL), 0);
	assert_int_equal(ag_msg_put(m, AG_T_DER, "\0\1\2", 3), 0);
	/* A tag once only; tags 1..255. */
	assert_int_equal(ag_msg_put_str(m, AG_T_ORIGIN, "x"), UK_ERR_EXISTS);
	assert_int_equal(ag_msg_put(m, 0, "x", 1), UK_ERR_INPUT);
	assert_int_equal(ag_msg_put(m, 256, "x", 1), UK_ERR_INPUT);

	assert_string_equal(ag_msg_str(m, AG_T_ORIGIN), "https://a.example");
	assert_int_equal(ag_msg_u32(m, AG_T_CODE, &v), 0);
	assert_int_equal(v, 2003);
	assert_int_equal(ag_msg_secret(m, AG_T_PIN, &got), 0);
	assert_true(secret_equal(pin, got));
	secret_free(got);
	assert_int_equal(ag_msg_secret(m, AG_T_SO_PIN, &got), 0);
	assert_null(got);
	assert_int_equal(ag_msg_get(m, AG_T_DER, &d, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(d, "\0\1\2", 3);
	/* Wrong shapes. */
	assert_null(ag_msg_str(m, AG_T_DER));   /* NUL inside */
	assert_null(ag_msg_str(m, AG_T_PIN));   /* no NUL at the end */
	assert_null(ag_msg_str(m, AG_T_NONCE)); /* absent */
	assert_int_equal(ag_msg_u32(m, AG_T_ORIGIN, &v), UK_ERR_INPUT);
	assert_int_equal(ag_msg_u32(m, AG_T_NONCE, &v), UK_ERR_NOT_FOUND);
	assert_int_equal(ag_msg_get(m, AG_T_NONCE, &d, &n), UK_ERR_NOT_FOUND);
	secret_free(pin);
	ag_msg_free(m);
	ag_msg_free(NULL);
	assert_null(ag_msg_new(0));
	assert_null(ag_msg_new(256));
}

static void
test_limit(void **state)
{
	static unsigned char big[AG_IPC_MAX];
	struct ag_msg *m = ag_msg_new(AG_MSG_RESULT);
	const unsigned char *f;
	size_t len;

	(void)state;
	/* One field of 65535 bytes at most, a frame of AG_IPC_MAX. */
	assert_int_equal(ag_msg_put(m, 1, big, 65536), UK_ERR_LIMIT);
	assert_int_equal(ag_msg_put(m, 1, big, AG_IPC_MAX - AG_IPC_HEADER - 2),
	    UK_ERR_LIMIT);
	assert_int_equal(ag_msg_put(m, 1, big, AG_IPC_MAX - AG_IPC_HEADER - 3),
	    0);
	ag_msg_frame(m, &f, &len);
	assert_int_equal(len, AG_IPC_MAX);
	assert_int_equal(ag_msg_put(m, 2, big, 0), UK_ERR_LIMIT);
	ag_msg_free(m);
}

/* Decodes buf and expects code. */
static void
decode_is(const unsigned char *buf, size_t len, int code)
{
	struct ag_msg *m = NULL;

	assert_int_equal(ag_msg_decode(buf, len, &m), code);
	if (code == 0)
		assert_non_null(m);
	else
		assert_null(m);
	ag_msg_free(m);
}

static void
test_decode(void **state)
{
	unsigned char f[64];
	struct ag_msg *m = ag_msg_new(AG_MSG_LIST), *back = NULL;
	const unsigned char *p;
	size_t len;

	(void)state;
	assert_int_equal(ag_msg_put_str(m, AG_T_LANG, "zh"), 0);
	ag_msg_frame(m, &p, &len);
	assert_int_equal(len, 8 + 3 + 3);
	memcpy(f, p, len);
	assert_int_equal(ag_msg_decode(f, len, &back), 0);
	assert_int_equal(ag_msg_type(back), AG_MSG_LIST);
	assert_string_equal(ag_msg_str(back, AG_T_LANG), "zh");
	ag_msg_free(back);

	decode_is(f, 7, UK_ERR_INPUT);       /* shorter than a header */
	decode_is(f, len - 1, UK_ERR_INPUT); /* length disagrees */
	f[0] = 'X';
	decode_is(f, len, UK_ERR_INPUT); /* magic */
	f[0] = 'U';
	f[2] = 2;
	decode_is(f, len, UK_ERR_INPUT); /* version */
	f[2] = 1;
	f[3] = 0;
	decode_is(f, len, UK_ERR_INPUT); /* type 0 */
	f[3] = AG_MSG_LIST;
	f[8] = 0;
	decode_is(f, len, UK_ERR_INPUT); /* tag 0 */
	f[8] = AG_T_LANG;
	f[10] = 4;
	decode_is(f, len, UK_ERR_INPUT); /* field runs past the end */
	f[10] = 3;
	/* Two fields with one tag. */
	memcpy(f + len, f + 8, 6);
	f[7] = 12;
	decode_is(f, len + 6, UK_ERR_INPUT);
	/* A header claiming more than the limit. */
	f[4] = 0;
	f[5] = 1;
	f[6] = 0;
	f[7] = 0;
	decode_is(f, len, UK_ERR_LIMIT);
	decode_is(f, AG_IPC_MAX + 1, UK_ERR_LIMIT);
	ag_msg_free(m);
}

static void
test_socket(void **state)
{
	struct ag_msg *m = ag_msg_new(AG_MSG_AUTH), *got = NULL;
	const unsigned char *p;
	unsigned char hdr[8] = { 'U', 'A', 1, AG_MSG_LIST, 0, 1, 0, 0 };
	size_t len;
	int sv[2], st;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ag_msg_put_str(m, AG_T_NONCE, "abc"), 0);
	assert_int_equal(ag_msg_send(sv[0], m), 0);
	assert_int_equal(ag_msg_recv(sv[1], 1000, &got), 0);
	assert_int_equal(ag_msg_type(got), AG_MSG_AUTH);
	assert_string_equal(ag_msg_str(got, AG_T_NONCE), "abc");
	ag_msg_free(got);

	/* A frame arriving in pieces. */
	ag_msg_frame(m, &p, &len);
	assert_int_equal(write(sv[0], p, 3), 3);
	assert_int_equal(write(sv[0], p + 3, 7), 7);
	assert_int_equal(write(sv[0], p + 10, len - 10), (ssize_t)(len - 10));
	assert_int_equal(ag_msg_recv(sv[1], 1000, &got), 0);
	assert_string_equal(ag_msg_str(got, AG_T_NONCE), "abc");
	ag_msg_free(got);

	/* A frame already there is taken even with no time to wait. */
	assert_int_equal(ag_msg_send(sv[0], m), 0);
	assert_int_equal(ag_msg_recv(sv[1], 0, &got), 0);
	ag_msg_free(got);
	/* Nothing there: a timeout that reads nothing, the stream intact. */
	assert_int_equal(ag_msg_recv(sv[1], 50, &got), UK_ERR_TIMEOUT);
	assert_int_equal(ag_msg_send(sv[0], m), 0);
	assert_int_equal(ag_msg_recv(sv[1], 50, &got), 0);
	ag_msg_free(got);
	/* A frame's header at the very end of the caller's timeout: the
	 * rest is still read, never left to be taken for a header. */
	assert_int_equal(write(sv[0], p, 8), 8);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { 0, 300 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		_exit(
		    write(sv[0], p + 8, len - 8) == (ssize_t)(len - 8) ? 0 : 1);
	}
	assert_int_equal(ag_msg_recv(sv[1], 10, &got), 0);
	assert_string_equal(ag_msg_str(got, AG_T_NONCE), "abc");
	ag_msg_free(got);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* Half a frame, then silence: the stream is broken. */
	assert_int_equal(write(sv[0], p, 5), 5);
	assert_int_equal(ag_msg_recv(sv[1], 100, &got), UK_ERR_IO);
	assert_null(got);
	close(sv[0]);
	close(sv[1]);

	/* An oversized header is refused before its payload is read. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(ag_msg_recv(sv[1], 1000, &got), UK_ERR_LIMIT);
	/* A peer that goes: end of file, and no SIGPIPE when sending. */
	close(sv[0]);
	assert_int_equal(ag_msg_recv(sv[1], 1000, &got), UK_ERR_IO);
	assert_int_equal(ag_msg_send(sv[1], m), UK_ERR_IO);
	close(sv[1]);
	ag_msg_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
