/* tests/unit/agent/test_events.c: card events against a private pcscd with vpcd and a virtual card, and against ukey-sim's removal file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/lib/testproc.h"
#include "tests/lib/testtok.h"
#include "agent/events.h"
#include "common/errors.h"
#include "common/log.h"

#define SOFTHSM TESTTOK_SOFTHSM
#define EV_MAX 256

extern char **environ;

static char tmpdir[512];
static char pcscdir[600];
static char simdir[600];
static char simmod[PATH_MAX];
static char helper[PATH_MAX];
static int pcsc_ok; /* the private pcscd can run here */
static int sim_ok;  /* ukey-sim and SoftHSM2 are there */

/* Every event the callback got, in order. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *ev[EV_MAX];
	size_t n;
} got = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { NULL }, 0 };

static void
on_event(void *arg, const char *json)
{
	(void)arg;
	pthread_mutex_lock(&got.mu);
	if (got.n < EV_MAX)
		got.ev[got.n++] = strdup(json);
	pthread_cond_broadcast(&got.cv);
	pthread_mutex_unlock(&got.mu);
}

static void
got_clear(void)
{
	size_t i;

	pthread_mutex_lock(&got.mu);
	for (i = 0; i < got.n; i++)
		free(got.ev[i]);
	got.n = 0;
	pthread_mutex_unlock(&got.mu);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits up to secs for an event (from index *from on) holding every one of
 * the NULL-terminated substrings; advances *from past it. Returns its text
 * (owned by got) or NULL. */
static const char *
wait_for(size_t *from, double secs, ...)
{
	const char *want[8], *hit = NULL, *s;
	double end = now_s() + secs;
	struct timespec ts;
	va_list ap;
	size_t nw = 0, i, j;

	va_start(ap, secs);
	while (nw < 8 && (s = va_arg(ap, const char *)) != NULL)
		want[nw++] = s;
	va_end(ap);
	pthread_mutex_lock(&got.mu);
	for (;;) {
		for (i = *from; i < got.n && hit == NULL; i++) {
			for (j = 0; j < nw; j++) {
				if (got.ev[i] == NULL ||
				    strstr(got.ev[i], want[j]) == NULL)
					break;
			}
			if (j == nw) {
				hit = got.ev[i];
				*from = i + 1;
			}
		}
		if (hit != NULL || now_s() >= end)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&got.cv, &got.mu, &ts);
	}
	pthread_mutex_unlock(&got.mu);
	return hit;
}

static size_t
got_count(void)
{
	size_t n;

	pthread_mutex_lock(&got.mu);
	n = got.n;
	pthread_mutex_unlock(&got.mu);
	return n;
}

/* Runs argv; the first line of its standard output goes into out. */
static int
run(const char *const argv[], char *out, size_t size)
{
	int rc = testproc_run(argv, out, size);

	if (out != NULL)
		out[strcspn(out, "\n")] = '\0';
	return rc;
}

static int
pcsc(const char *cmd, const char *extra, char *out, size_t size)
{
	const char *argv[] = { "sh", helper, cmd, pcscdir, extra, NULL };

	return run(argv, out, size);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	struct testtok tt;
	const char *init[] = { "softhsm2-util", "--init-token", "--free",
		"--label", "ev1", "--pin", "123456", "--so-pin", "12345678",
		NULL };

	(void)state;
	uk_log_init("test_events", UK_LOG_WARN);
	if (testtok_setup(&tt, "events") != 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tt.tmpdir);
	snprintf(pcscdir, sizeof(pcscdir), "%s", tt.pcscdir);
	snprintf(simdir, sizeof(simdir), "%s", tt.simdir);
	snprintf(simmod, sizeof(simmod), "%s", tt.simmod);
	snprintf(helper, sizeof(helper), "%s", tt.helper);
	pcsc_ok = access(helper, R_OK) == 0;
	sim_ok = access(simmod, R_OK) == 0 && access(SOFTHSM, R_OK) == 0 &&
	    run(init, NULL, 0) == 0;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (pcscdir[0] != '\0')
		pcsc("stop", NULL, NULL, 0);
	got_clear();
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Starts the private pcscd (skips the test when this machine cannot). */
static void
pcscd_start(const char *extra)
{
	char out[1024];
	int rc;

	if (!pcsc_ok)
		skip();
	rc = pcsc("start", extra, out, sizeof(out));
	if (rc == 77) {
		pcsc_ok = 0;
		skip();
	}
	assert_int_equal(rc, 0);
	assert_string_equal(out, getenv("PCSCLITE_CSOCK_NAME"));
}

static void
test_args(void **state)
{
	struct ag_events *ev = (struct ag_events *)1;

	(void)state;
	assert_int_equal(ag_events_start(&ev, NULL, NULL, NULL), UK_ERR_INPUT);
	assert_null(ev);
	assert_int_equal(ag_events_start(&ev, "relative/x.so", on_event, NULL),
	    UK_ERR_INPUT);
	assert_null(ev);
	ag_events_stop(NULL);
}

/* No pcscd at first: no event, no trouble; pcscd appears: its reader is
 * reported; a card goes in and out: inserted (with the ATR) and removed
 * within 2 s each; pcscd goes: the reader is reported gone; stop is
 * prompt. */
static void
test_pcsc_lifecycle(void **state)
{
	struct ag_events *ev = NULL;
	const char *e;
	size_t from = 0;
	double t0;

	(void)state;
	if (!pcsc_ok)
		skip();
	got_clear();
	assert_int_equal(ag_events_start(&ev, NULL, on_event, NULL), 0);
	usleep(700 * 1000);
	assert_int_equal(got_count(), 0);

	pcscd_start(NULL);
	e = wait_for(&from, AG_EVENTS_PCSC_RETRY_MS / 1000.0 + 3,
	    "\"type\":\"reader-added\"", "\"reader\":\"Virtual PCD 00 00\"",
	    "\"source\":\"pcsc\"", NULL);
	assert_non_null(e);

	t0 = now_s();
	assert_int_equal(pcsc("card-in", NULL, NULL, 0), 0);
	e = wait_for(&from, 2.0, "\"type\":\"inserted\"",
	    "\"reader\":\"Virtual PCD 00 00\"", NULL);
	assert_non_null(e);
	assert_non_null(strstr(e, "\"atr\":\"3b951381018073ff01000b\""));
	assert_true(now_s() - t0 < 2.0);

	t0 = now_s();
	assert_int_equal(pcsc("card-out", NULL, NULL, 0), 0);
	e = wait_for(&from, 2.0, "\"type\":\"removed\"",
	    "\"reader\":\"Virtual PCD 00 00\"", NULL);
	assert_non_null(e);
	assert_null(strstr(e, "atr"));
	assert_true(now_s() - t0 < 2.0);

	/* In and out again: each change once. */
	assert_int_equal(pcsc("card-in", NULL, NULL, 0), 0);
	assert_non_null(wait_for(&from, 2.0, "\"type\":\"inserted\"", NULL));
	assert_int_equal(pcsc("card-out", NULL, NULL, 0), 0);
	assert_non_null(wait_for(&from, 2.0, "\"type\":\"removed\"", NULL));
	usleep(600 * 1000);
	assert_int_equal(got_count(), from);

	assert_int_equal(pcsc("stop", NULL, NULL, 0), 0);
	assert_non_null(wait_for(&from, 3.0, "\"type\":\"reader-removed\"",
	    "\"reader\":\"Virtual PCD 00 00\"", NULL));

	t0 = now_s();
	ag_events_stop(ev);
	assert_true(now_s() - t0 < 1.5);
}

/* What is there at start is the baseline: a card already in is not
 * reported; its removal is. Stop is prompt while a wait is in progress. */
static void
test_pcsc_baseline(void **state)
{
	struct ag_events *ev = NULL;
	size_t from = 0;
	double t0;

	(void)state;
	pcscd_start(NULL);
	assert_int_equal(pcsc("card-in", NULL, NULL, 0), 0);
	usleep(800 * 1000); /* pcscd notices the card */
	got_clear();
	assert_int_equal(ag_events_start(&ev, NULL, on_event, NULL), 0);
	usleep(1000 * 1000);
	assert_int_equal(got_count(), 0);
	assert_int_equal(pcsc("card-out", NULL, NULL, 0), 0);
	assert_non_null(wait_for(&from, 2.0, "\"type\":\"removed\"",
	    "\"reader\":\"Virtual PCD 00 00\"", NULL));
	t0 = now_s();
	ag_events_stop(ev);
	assert_true(now_s() - t0 < 1.5);
	assert_int_equal(pcsc("stop", NULL, NULL, 0), 0);
}

/* A reader-less pcscd: nothing reported, nothing breaks. */
static void
test_pcsc_no_reader(void **state)
{
	struct ag_events *ev = NULL;

	(void)state;
	pcscd_start("noreader");
	got_clear();
	assert_int_equal(ag_events_start(&ev, NULL, on_event, NULL), 0);
	usleep(1200 * 1000);
	assert_int_equal(got_count(), 0);
	ag_events_stop(ev);
	assert_int_equal(pcsc("stop", NULL, NULL, 0), 0);
}

static void
touch_removed(int on)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/removed", simdir);
	if (on) {
		assert_non_null(f = fopen(path, "w"));
		fclose(f);
	} else {
		assert_int_equal(unlink(path), 0);
	}
}

/* A key pcscd never sees (ukey-sim): its removal and return are seen by
 * polling the module's slots, each within 2 s, and the key is found again
 * after the context was rebuilt. */
static void
test_p11_removal(void **state)
{
	struct ag_events *ev = NULL;
	const char *e;
	size_t from = 0;
	double t0;
	int round;

	(void)state;
	if (!sim_ok)
		skip();
	got_clear();
	assert_int_equal(ag_events_start(&ev, simmod, on_event, NULL), 0);
	usleep(1500 * 1000);
	assert_int_equal(got_count(), 0); /* the key there at start: baseline */

	for (round = 0; round < 2; round++) {
		t0 = now_s();
		touch_removed(1);
		e = wait_for(&from, 2.0, "\"type\":\"removed\"",
		    "\"source\":\"pkcs11\"", "\"label\":\"ev1\"", NULL);
		assert_non_null(e);
		assert_non_null(strstr(e, "\"serial\":\""));
		assert_true(now_s() - t0 < 2.0);

		t0 = now_s();
		touch_removed(0);
		e = wait_for(&from, 2.5, "\"type\":\"inserted\"",
		    "\"source\":\"pkcs11\"", "\"label\":\"ev1\"", NULL);
		assert_non_null(e);
		assert_true(now_s() - t0 < 2.5);
	}
	t0 = now_s();
	ag_events_stop(ev);
	assert_true(now_s() - t0 < 1.5);
}

/* While pcscd holds a card the slots are listed only every
 * AG_EVENTS_P11_SLOW_MS, but any PC/SC change has them listed at once. */
static void
test_p11_poked_by_pcsc(void **state)
{
	struct ag_events *ev = NULL;
	size_t from = 0;
	double t0;

	(void)state;
	if (!sim_ok)
		skip();
	pcscd_start(NULL);
	assert_int_equal(pcsc("card-in", NULL, NULL, 0), 0);
	usleep(800 * 1000);
	got_clear();
	assert_int_equal(ag_events_start(&ev, simmod, on_event, NULL), 0);
	usleep(1200 * 1000);
	assert_int_equal(got_count(), 0);
	touch_removed(1);
	usleep(1500 * 1000);
	assert_null(wait_for(&from, 0, "\"source\":\"pkcs11\"", NULL));
	t0 = now_s();
	assert_int_equal(pcsc("card-out", NULL, NULL, 0), 0);
	assert_non_null(wait_for(&from, 1.5, "\"type\":\"removed\"",
	    "\"source\":\"pkcs11\"", NULL));
	assert_true(now_s() - t0 < 1.5);
	touch_removed(0);
	ag_events_stop(ev);
	assert_int_equal(pcsc("stop", NULL, NULL, 0), 0);
}

/* A module that cannot be loaded is no error: it is tried again quietly. */
static void
test_p11_bad_module(void **state)
{
	struct ag_events *ev = NULL;
	char path[700];

	(void)state;
	snprintf(path, sizeof(path), "%s/nosuch.so", tmpdir);
	got_clear();
	assert_int_equal(ag_events_start(&ev, path, on_event, NULL), 0);
	usleep(500 * 1000);
	assert_int_equal(got_count(), 0);
	ag_events_stop(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_pcsc_lifecycle),
		cmocka_unit_test(test_pcsc_baseline),
		cmocka_unit_test(test_pcsc_no_reader),
		cmocka_unit_test(test_p11_removal),
		cmocka_unit_test(test_p11_poked_by_pcsc),
		cmocka_unit_test(test_p11_bad_module),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
