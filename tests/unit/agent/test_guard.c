/* tests/unit/agent/test_guard.c: the lockout guard: counting, pending attempts, lock at six, damaged files, failed writes, merging with token flags. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/guard.h"
#include "common/errors.h"
#include "common/fileio.h"

#define SERIAL "a1b2c3d4e5f60718"

static char base[512];
static char dir[600];

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
	const char *t = getenv("UKEY_TEST_TMP");

	(void)state;
	snprintf(base, sizeof(base), "%s/guard.XXXXXX", t != NULL ? t : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/state/ukey-agent", base);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct ag_guard *
open_guard(void)
{
	struct ag_guard *g = NULL;

	assert_int_equal(ag_guard_new(dir, &g), 0);
	assert_non_null(g);
	return g;
}

/* The newest slot of the file as "failures N\npending N\n", NULL when
 * there is no file. */
static const char *
file_text(struct ag_guard *g, const char *serial, enum ag_pin_kind k)
{
	static char text[128];
	unsigned char *buf;
	size_t newer;
	char path[1024];
	size_t len;

	assert_int_equal(ag_guard_path(g, serial, k, path, sizeof(path)), 0);
	if (file_read_all(path, 200, &buf, &len) != 0)
		return NULL;
	assert_int_equal(len, 98);
	/* Fixed layout: the sequence number at 4, failures at 24, pending
	 * at 34 of each 49-byte slot. */
	newer = memcmp(buf + 4, buf + 49 + 4, 10) > 0 ? 0 : 49;
	snprintf(text, sizeof(text), "failures %c\npending %c\n",
	    buf[newer + 24], buf[newer + 34]);
	free(buf);
	return text;
}

static void
test_dir_created_0700(void **state)
{
	struct ag_guard *g;
	struct stat sb;

	(void)state;
	g = open_guard();
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	ag_guard_free(g);
	/* An existing directory open to others is tightened. */
	assert_int_equal(chmod(dir, 0755), 0);
	g = open_guard();
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_string_equal(ag_guard_dir(g), dir);
	ag_guard_free(g);
	/* Relative paths and files are refused. */
	assert_int_equal(ag_guard_new("relative/dir", &g), UK_ERR_IO);
	assert_null(g);
	ag_guard_free(NULL);
}

static void
test_count_and_reset(void **state)
{
	struct ag_guard_state st;
	struct ag_guard *g;

	(void)state;
	g = open_guard();
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.left, 6);
	assert_null(file_text(g, SERIAL, AG_PIN_USER));

	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 0\npending 1\n");
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_WRONG,
	                     &st),
	    0);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.left, 5);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 1\npending 0\n");

	/* A PIN that never reached the token changes nothing. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_NONE,
	                     &st),
	    0);
	assert_int_equal(st.failures, 1);

	/* A correct PIN resets. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_OK, &st),
	    0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.left, 6);

	/* The SO PIN is counted apart. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_SO, &st), 0);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_SO, AG_GUARD_WRONG,
	                     &st),
	    0);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_SO, &st), 0);
	assert_int_equal(st.failures, 1);
	assert_int_equal(ag_guard_reset(g, SERIAL, AG_PIN_SO), 0);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_SO, &st), 0);
	assert_int_equal(st.failures, 0);
	ag_guard_free(g);
}

static void
test_lock_at_six(void **state)
{
	struct ag_guard_state st;
	struct ag_guard *g;
	int i;

	(void)state;
	g = open_guard();
	for (i = 1; i <= 6; i++) {
		assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st),
		    0);
		assert_int_equal(st.left, 7 - i);
		assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER,
		                     AG_GUARD_WRONG, &st),
		    0);
		assert_int_equal(st.left, 6 - i);
		assert_string_equal(ag_guard_state_name(st.left),
		    i == 6 ? "LOCKED" : (i == 5 ? "FINAL_TRY" : "COUNT_LOW"));
	}
	/* Nothing more is attempted, a correct PIN included. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st),
	    UK_ERR_TOKEN_PIN_LOCKED);
	assert_int_equal(st.left, 0);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 6\npending 0\n");
	/* Another token is not concerned. */
	assert_int_equal(ag_guard_begin(g, "other", AG_PIN_USER, &st), 0);
	assert_int_equal(ag_guard_end(g, "other", AG_PIN_USER, AG_GUARD_OK,
	                     &st),
	    0);
	/* An unblock resets. */
	assert_int_equal(ag_guard_reset(g, SERIAL, AG_PIN_USER), 0);
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.left, 6);
	ag_guard_free(g);
}

static void
test_pending_counts_once(void **state)
{
	struct ag_guard_state st;
	struct ag_guard *g;

	(void)state;
	g = open_guard();
	/* A process dies between begin and end. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	ag_guard_free(g);
	g = open_guard();
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.left, 5);
	/* The next attempt folds it in: counted once, not twice. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 1\npending 1\n");
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_WRONG,
	                     &st),
	    0);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.left, 4);
	ag_guard_free(g);
}

static void
test_after_matches_end(void **state)
{
	static const enum ag_guard_outcome os[] = { AG_GUARD_WRONG,
		AG_GUARD_NONE, AG_GUARD_WRONG, AG_GUARD_OK, AG_GUARD_WRONG,
		AG_GUARD_WRONG, AG_GUARD_WRONG, AG_GUARD_WRONG, AG_GUARD_WRONG,
		AG_GUARD_WRONG };
	struct ag_guard_state before, predicted, written;
	struct ag_guard *g;
	size_t i;

	(void)state;
	g = open_guard();
	/* What is answered before the write is what the write records. */
	for (i = 0; i < sizeof(os) / sizeof(os[0]); i++) {
		assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER,
		                     &before),
		    0);
		ag_guard_after(&before, os[i], &predicted);
		assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, os[i],
		                     &written),
		    0);
		assert_int_equal(predicted.failures, written.failures);
		assert_int_equal(predicted.left, written.left);
		assert_int_equal(predicted.pending, 0);
	}
	assert_int_equal(written.left, 0);
	ag_guard_free(g);
}

static void
write_file(struct ag_guard *g, const char *text)
{
	char path[1024];

	assert_int_equal(ag_guard_path(g, SERIAL, AG_PIN_USER, path,
	                     sizeof(path)),
	    0);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600), 0);
}

/* A slot as the guard writes it, checksum (FNV-1a) included. */
static void
slot(char *out, unsigned long seq, int f, int p)
{
	uint32_t h = 2166136261u;
	int i, n;

	n = snprintf(out, 50, "seq %010lu failures %d pending %d", seq, f, p);
	for (i = 0; i < n; i++) {
		h ^= (unsigned char)out[i];
		h *= 16777619u;
	}
	snprintf(out + n, (size_t)(50 - n), " sum %08x\n", (unsigned)h);
}

#define S_A1 "seq 0000000001 failures 1 pending 0 sum "
#define S_B2 "seq 0000000002 failures 2 pending 1 sum "

static void
test_damaged_file_locks(void **state)
{
	/* Each a file no slot of which is whole. */
	static const char *const bad[] = {
		"failures 1\npending 0\n",
		"",
		/* A slot whose checksum does not match. */
		S_A1 "00000000\n" S_A1 "00000000\n",
		/* Short, long, or with a digit out of range. */
		"seq 0000000001 failures 1 pending 0\n",
		"seq 0000000001 failures 7 pending 0 sum 00000000\n"
		"seq 0000000000 failures 7 pending 0 sum 00000000\n",
	};
	struct ag_guard_state st;
	struct ag_guard *g;
	size_t i;

	(void)state;
	g = open_guard();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(g, bad[i]);
		assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st),
		    UK_ERR_IO);
		assert_int_equal(st.left, 0);
		assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st),
		    UK_ERR_IO);
	}
	/* An unblock replaces a damaged file. */
	assert_int_equal(ag_guard_reset(g, SERIAL, AG_PIN_USER), 0);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.left, 6);
	ag_guard_free(g);
}

/* The two slots: a write goes to the older one, a torn slot leaves the
 * other to read, and the sequence number starts again near its end. */
static void
test_slots(void **state)
{
	struct ag_guard_state st;
	struct ag_guard *g;
	unsigned char *buf;
	char path[1024], text[256], good[128];
	size_t len;

	(void)state;
	g = open_guard();
	assert_int_equal(ag_guard_path(g, SERIAL, AG_PIN_USER, path,
	                     sizeof(path)),
	    0);
	/* Made with both slots; begin writes seq 1 and 0, then 2. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(file_read_all(path, 200, &buf, &len), 0);
	assert_int_equal(len, 98);
	assert_memory_equal(buf, "seq 0000000001 failures 0 pending 1 sum ",
	    40);
	assert_memory_equal(buf + 49,
	    "seq 0000000000 failures 0 pending 1 sum ", 40);
	free(buf);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_WRONG,
	                     &st),
	    0);
	assert_int_equal(file_read_all(path, 200, &buf, &len), 0);
	assert_memory_equal(buf, "seq 0000000001 failures 0 pending 1 sum ",
	    40);
	assert_memory_equal(buf + 49,
	    "seq 0000000002 failures 1 pending 0 sum ", 40);
	/* The second slot torn by a crash: the first is read, pending. */
	memcpy(good, buf, 49);
	good[49] = '\0';
	free(buf);
	snprintf(text, sizeof(text), "%sseq 0000000002 failures 1 pen", good);
	write_file(g, text);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), UK_ERR_IO);
	snprintf(text, sizeof(text), "%s%.48s\n", good,
	    "seq 0000000002 failures 1 pendXXX 0 sum 00000000");
	write_file(g, text);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.pending, 1);
	/* The next write goes over the torn slot. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 1\npending 1\n");
	assert_int_equal(file_read_all(path, 200, &buf, &len), 0);
	assert_memory_equal(buf, good, 49);
	assert_memory_equal(buf + 49,
	    "seq 0000000002 failures 1 pending 1 sum ", 40);
	free(buf);
	/* Near the end of the sequence numbers both slots start again. */
	slot(text, 3999999999UL, 2, 0);
	slot(text + 49, 4000000000UL, 3, 0);
	write_file(g, text);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.failures, 3);
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(file_read_all(path, 200, &buf, &len), 0);
	slot(good, 1, 3, 1);
	assert_memory_equal(buf, good, 49);
	slot(good, 0, 3, 1);
	assert_memory_equal(buf + 49, good, 49);
	free(buf);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_OK, &st),
	    0);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 0\npending 0\n");
	ag_guard_free(g);
}

static void
test_write_failure_refuses(void **state)
{
	struct ag_guard_state st;
	struct rlimit old, none = { 0, 0 };
	struct ag_guard *g;
	void (*prev)(int);

	(void)state;
	g = open_guard();
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_WRONG,
	                     &st),
	    0);
	/* No byte can be written (as on a full disk): the attempt is refused
	 * and the count stays. */
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	none.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st),
	    UK_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_string_equal(file_text(g, SERIAL, AG_PIN_USER),
	    "failures 1\npending 0\n");
	/* A failed resolution leaves the pending record: it counts as a
	 * wrong PIN, never as nothing. */
	assert_int_equal(ag_guard_begin(g, SERIAL, AG_PIN_USER, &st), 0);
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
	assert_int_equal(ag_guard_end(g, SERIAL, AG_PIN_USER, AG_GUARD_OK, &st),
	    UK_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(st.failures, 2);
	assert_int_equal(ag_guard_read(g, SERIAL, AG_PIN_USER, &st), 0);
	assert_int_equal(st.failures, 2);
	ag_guard_free(g);
}

static void
test_paths(void **state)
{
	struct ag_guard *g;
	char path[1024], want[1024];

	(void)state;
	g = open_guard();
	assert_int_equal(ag_guard_path(g, "AB-12_x", AG_PIN_USER, path,
	                     sizeof(path)),
	    0);
	snprintf(want, sizeof(want), "%s/AB-12_x.user", dir);
	assert_string_equal(path, want);
	/* Other characters: hex, so that "a b" and "a_b" never share. */
	assert_int_equal(ag_guard_path(g, "a b", AG_PIN_SO, path, sizeof(path)),
	    0);
	snprintf(want, sizeof(want), "%s/x612062.so", dir);
	assert_string_equal(path, want);
	assert_int_equal(ag_guard_path(g, "../../etc", AG_PIN_USER, path,
	                     sizeof(path)),
	    0);
	assert_null(strstr(path + strlen(dir), "/.."));
	assert_int_equal(ag_guard_path(g, "", AG_PIN_USER, path, sizeof(path)),
	    UK_ERR_INPUT);
	assert_int_equal(ag_guard_path(g, "x", AG_PIN_USER, path, 8),
	    UK_ERR_LIMIT);
	ag_guard_free(g);
}

/* Checks the merged PIN object. */
static void
pin_is(const struct ag_guard_state *gs, const struct p11_status *st,
    const char *state, int left, const char *source)
{
	json_t *j = ag_guard_pin_json(gs, st, AG_PIN_USER);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    state);
	assert_int_equal(json_integer_value(json_object_get(j, "retriesLeft")),
	    left);
	assert_string_equal(json_string_value(json_object_get(j, "source")),
	    source);
	json_decref(j);
}

static void
test_merge(void **state)
{
	struct ag_guard_state gs;
	struct p11_status st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.user_retries = -1;
	gs.failures = 0;
	gs.pending = 0;
	gs.left = 6;
	pin_is(&gs, NULL, "OK", 6, "agent");
	pin_is(&gs, &st, "OK", 6, "agent");
	/* The token says more than the agent knows. */
	st.user = P11_PIN_COUNT_LOW;
	pin_is(&gs, &st, "COUNT_LOW", 5, "token");
	st.user = P11_PIN_FINAL_TRY;
	st.user_retries = 1;
	pin_is(&gs, &st, "FINAL_TRY", 1, "token");
	st.user = P11_PIN_LOCKED;
	st.user_retries = 0;
	pin_is(&gs, &st, "LOCKED", 0, "token");
	st.user = P11_PIN_TO_BE_CHANGED;
	st.user_retries = -1;
	pin_is(&gs, &st, "TO_BE_CHANGED", 6, "token");
	st.user = P11_PIN_NOT_INITIALISED;
	pin_is(&gs, &st, "NOT_INITIALISED", 0, "token");
	/* The agent knows more (plain SoftHSM2 never sets the flags). */
	st.user = P11_PIN_OK;
	gs.failures = 5;
	gs.left = 1;
	pin_is(&gs, &st, "FINAL_TRY", 1, "agent");
	gs.failures = 6;
	gs.left = 0;
	pin_is(&gs, &st, "LOCKED", 0, "agent");
	/* Both agree (ukey-sim): the agent's count is given. */
	gs.failures = 2;
	gs.left = 4;
	st.user = P11_PIN_COUNT_LOW;
	pin_is(&gs, &st, "COUNT_LOW", 4, "agent");
	gs.failures = 5;
	gs.left = 1;
	st.user = P11_PIN_FINAL_TRY;
	st.user_retries = 1;
	pin_is(&gs, &st, "FINAL_TRY", 1, "agent");
	/* The token locked while the agent still counts some left. */
	gs.failures = 3;
	gs.left = 3;
	st.user = P11_PIN_LOCKED;
	st.user_retries = 0;
	pin_is(&gs, &st, "LOCKED", 0, "token");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dir_created_0700, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_count_and_reset, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_at_six, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pending_counts_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_after_matches_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_file_locks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
