/* tests/unit/gateway/test_sms.c: the SMS outbox and sender (leases, retries, backoff, two senders) on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <pthread.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/sms.h"
#include "gateway/sms_provider.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"
#include "tests/lib/testsms.h"

#define T0 ((int64_t)1718000000)
#define HTTP_KEY TESTSMS_HTTP_KEY
#define ALI_KEY TESTSMS_ALI_KEY
#define TC_KEY TESTSMS_TC_KEY
#define PARAMS "{\"code\":\"123456\",\"minutes\":\"5\"}"

struct fixture {
	struct testgw_db g; /* first: testgw_teardown frees the fixture */
	char file[600];
	struct gw_sms_provider *fp; /* file provider */
};

static int
setup_db(void **state)
{
	struct fixture *fx = testgw_new(state, sizeof(*fx), 1);
	struct gw_sms_provider_conf c;

	snprintf(fx->file, sizeof(fx->file), "%s/sms.jsonl", fx->g.db.dir);
	memset(&c, 0, sizeof(c));
	c.path = fx->file;
	assert_int_equal(gw_sms_provider_new(&c, &fx->fp), 0);
	return 0;
}

static int
teardown_db(void **state)
{
	struct fixture *fx = testgw_fixture(state);

	if (fx != NULL)
		gw_sms_provider_free(fx->fp);
	return testgw_teardown(state);
}

/* Number of lines of the file provider's file naming outbox id id (id 0:
 * all lines). */
static int
file_count(const char *path, int64_t id)
{
	char line[4096];
	json_t *o;
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		o = json_loads(line, 0, NULL);
		assert_non_null(o);
		if (id == 0 ||
		    json_integer_value(json_object_get(o, "id")) == id)
			n++;
		json_decref(o);
	}
	fclose(f);
	return n;
}

static void
test_enqueue_send_file(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_stats s;
	int64_t id = 0;
	char *t;

	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_true(id > 0);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000", "t", "[1]", T0,
	                     0, NULL),
	    UK_ERR_INPUT);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "", "t", "{}", T0, 0, NULL),
	    UK_ERR_INPUT);
	/* not due yet */
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0 - 1, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0, 10, &s),
	    0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(file_count(fx->file, id), 1);
	t = testgw_text_i(fx->g.st,
	    "SELECT status FROM sms_outbox WHERE id = ?", id);
	assert_string_equal(t, "sent");
	free(t);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT attempts FROM sms_outbox WHERE id = ?",
	                     id),
	    1);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT sent_at FROM sms_outbox WHERE id = ?", id),
	    T0);
	/* nothing more to send */
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0 + 999, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent + s.retried + s.failed, 0);
	assert_int_equal(file_count(fx->file, 0), 1);
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(gw_sms_backoff(1), 5);
	assert_int_equal(gw_sms_backoff(2), 30);
	assert_int_equal(gw_sms_backoff(3), 120);
	assert_int_equal(gw_sms_backoff(4), 600);
	assert_int_equal(gw_sms_backoff(7), 7200);
	assert_int_equal(gw_sms_backoff(8), 14400);
	assert_int_equal(gw_sms_backoff(100), 14400);
}

/* The provider answers 500 twice, then recovers: delivered once, with
 * three attempts, at the backoff times. */
static void
test_outage_recovers(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct gw_sms_stats s;
	struct secret *k = secret_from(HTTP_KEY, strlen(HTTP_KEY));
	char dir[512], url[128], *t;
	json_t *log;
	pid_t pid = 0;
	int port = 0, ok = 0;
	int64_t id = 0;
	size_t i;

	assert_int_equal(testdb_tmpdir("capture", dir, sizeof(dir)), 0);
	if (testsms_start(dir, &pid, &port) != 0)
		fail_msg("sms-capture did not start");
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/http", port);
	c.kind = "http";
	c.url = url;
	c.secret = k;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	testsms_fail(port, 2);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT next_attempt_at FROM sms_outbox"
	                     " WHERE id = ?",
	                     id),
	    T0 + 5);
	t = testgw_text_i(fx->g.st,
	    "SELECT last_error FROM sms_outbox WHERE id = ?", id);
	assert_non_null(strstr(t, "500"));
	free(t);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 4, 10, &s), 0);
	assert_int_equal(s.sent + s.retried, 0);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 5, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT next_attempt_at FROM sms_outbox"
	                     " WHERE id = ?",
	                     id),
	    T0 + 35);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 35, 10, &s),
	    0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT attempts FROM sms_outbox WHERE id = ?",
	                     id),
	    3);
	t = testgw_text_i(fx->g.st,
	    "SELECT status || ' ' || provider_msg_id FROM sms_outbox"
	    " WHERE id = ?",
	    id);
	assert_string_equal(t, "sent cap-3");
	free(t);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 9999, 10, &s),
	    0);
	assert_int_equal(s.sent, 0);
	testsms_stop(pid);
	log = testsms_log(dir);
	assert_int_equal(json_array_size(log), 3);
	for (i = 0; i < 3; i++) {
		json_t *e = json_array_get(log, i);

		assert_int_equal(json_integer_value(json_object_get(e, "id")),
		    id);
		assert_true(json_is_true(json_object_get(e, "ok")));
		ok += json_integer_value(json_object_get(e, "status")) == 200;
	}
	assert_int_equal(ok, 1);
	json_decref(log);
	gw_sms_provider_free(p);
	secret_free(k);
	testdb_rmtree(dir);
}

/* A sender that claimed a row and died: the row is sent after its lease. */
static void
test_lease_expired(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_stats s;
	struct gw_sms_send_conf sc = { 60, 0 };
	int64_t id = 0;

	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	/* what a claim at T0 leaves behind when its sender is killed */
	assert_int_equal(store_exec(fx->g.st, NULL,
	                     "UPDATE sms_outbox SET status = 'sending',"
	                     " attempts = 1, next_attempt_at = ? WHERE id = ?",
	                     "ii", T0 + 60, id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, &sc, T0 + 59, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(file_count(fx->file, id), 0);
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, &sc, T0 + 60, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(file_count(fx->file, id), 1);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT attempts FROM sms_outbox WHERE id = ?",
	                     id),
	    2);
}

/* The outcome of a sender whose lease ran out and whose row was claimed by
 * another is not written over the other's. */
static void
test_lost_lease_outcome(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_stats s;
	int64_t id = 0;
	char *t;

	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0, 10, &s),
	    0);
	assert_int_equal(s.sent, 1);
	/* a stale sender cannot claim it again */
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0 + 3600, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent, 0);
	t = testgw_text_i(fx->g.st,
	    "SELECT status FROM sms_outbox WHERE id = ?", id);
	assert_string_equal(t, "sent");
	free(t);
}

static void
test_expiry_and_rejection(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct gw_sms_stats s;
	struct secret *k = secret_from("wrong", 5);
	int64_t a = 0, b = 0;
	char *t;

	/* a code SMS whose code expired is not sent */
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, T0 + 300, &a),
	    0);
	assert_int_equal(gw_sms_send_due(fx->g.st, fx->fp, NULL, T0 + 300, 10,
	                     &s),
	    0);
	assert_int_equal(s.failed, 1);
	assert_int_equal(file_count(fx->file, a), 0);
	t = testgw_text_i(fx->g.st,
	    "SELECT last_error FROM sms_outbox WHERE id = ?", a);
	assert_string_equal(t, "expired before delivery");
	free(t);
	/* nobody listening: retried until the backoff passes the expiry */
	memset(&c, 0, sizeof(c));
	c.kind = "http";
	c.url = "http://127.0.0.1:1/http";
	c.secret = k;
	c.timeout_ms = 2000;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, T0 + 100, &b),
	    0);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 5, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	/* 35 + 120 > 100: given up */
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0 + 35, 10, &s),
	    0);
	assert_int_equal(s.failed, 1);
	t = testgw_text_i(fx->g.st,
	    "SELECT status FROM sms_outbox WHERE id = ?", b);
	assert_string_equal(t, "failed");
	free(t);
	gw_sms_provider_free(p);
	secret_free(k);
}

static void
test_rejected_not_retried(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct gw_sms_stats s;
	struct secret *k = secret_from("wrong-key", 9);
	char dir[512], url[128], *t;
	pid_t pid = 0;
	int port = 0;
	int64_t id = 0;

	assert_int_equal(testdb_tmpdir("capture", dir, sizeof(dir)), 0);
	if (testsms_start(dir, &pid, &port) != 0)
		fail_msg("sms-capture did not start");
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/http", port);
	c.kind = "http";
	c.url = url;
	c.secret = k;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->g.st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.failed, 1);
	t = testgw_text_i(fx->g.st,
	    "SELECT status FROM sms_outbox WHERE id = ?", id);
	assert_string_equal(t, "failed");
	free(t);
	testsms_stop(pid);
	gw_sms_provider_free(p);
	secret_free(k);
	testdb_rmtree(dir);
}

struct worker {
	const char *loc, *file;
	struct gw_sms_stats s;
	int r;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct gw_sms_provider_conf c;
	struct gw_sms_provider *p = NULL;
	struct store *st = NULL;
	struct gw_sms_stats s;
	int i;

	memset(&c, 0, sizeof(c));
	c.path = w->file;
	if ((w->r = store_open(w->loc, &st)) != 0 ||
	    (w->r = gw_sms_provider_new(&c, &p)) != 0)
		goto out;
	for (i = 0; i < 100; i++) {
		if ((w->r = gw_sms_send_due(st, p, NULL, T0, 5, &s)) != 0)
			goto out;
		w->s.sent += s.sent;
		w->s.lost += s.lost;
		if (s.sent + s.retried + s.failed + s.lost == 0)
			break;
	}
out:
	gw_sms_provider_free(p);
	store_close(st);
	return NULL;
}

/* Two senders on one database never send one row twice. */
static void
test_two_senders(void **state)
{
	struct fixture *fx = *state;
	struct worker w[2];
	pthread_t th[2];
	int64_t ids[60];
	int i;

	for (i = 0; i < 60; i++)
		assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
		                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0,
		                     &ids[i]),
		    0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < 2; i++) {
		w[i].loc = fx->g.db.loc;
		w[i].file = fx->file;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main,
		                     &w[i]),
		    0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		if (w[i].r != 0)
			fail_msg("sender %d: %s", i, uk_error_id(w[i].r));
	}
	assert_int_equal(w[0].s.sent + w[1].s.sent, 60);
	assert_int_equal(w[0].s.lost + w[1].s.lost, 0);
	for (i = 0; i < 60; i++)
		assert_int_equal(file_count(fx->file, ids[i]), 1);
	assert_int_equal(file_count(fx->file, 0), 60);
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox WHERE"
	                     " status = 'sent' AND attempts = 1 AND id > ?",
	                     0),
	    60);
	/* A sent message keeps no parameters (a reset code) behind. */
	assert_int_equal(testgw_int_i(fx->g.st,
	                     "SELECT count(*) FROM sms_outbox WHERE"
	                     " params <> '{}' AND id > ?",
	                     0),
	    0);
}

static void
test_sender_thread(void **state)
{
	struct fixture *fx = *state;
	struct gw_sms_sender_conf c;
	struct gw_sms_sender *s = NULL;
	int64_t id = 0, now = (int64_t)time(NULL);
	int i;

	memset(&c, 0, sizeof(c));
	c.store = fx->g.db.loc;
	c.provider.path = fx->file;
	c.interval_ms = 50;
	assert_int_equal(gw_sms_sender_new(&c, &s), 0);
	assert_int_equal(gw_sms_enqueue(fx->g.st, "13800138000",
	                     GW_SMS_TPL_RESET_NOTICE, "{\"login\":\"op1\"}",
	                     now, 0, &id),
	    0);
	gw_sms_sender_wake(s);
	for (i = 0; i < 100 && file_count(fx->file, id) == 0; i++)
		usleep(50000);
	assert_int_equal(file_count(fx->file, id), 1);
	assert_int_equal(gw_sms_sender_sent(s), 1);
	gw_sms_sender_free(s);
	gw_sms_sender_free(NULL);
}

#define BOTH(f) TESTGW_BOTH_WITH(f, setup_db, teardown_db)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		BOTH(test_enqueue_send_file),
		BOTH(test_outage_recovers),
		BOTH(test_lease_expired),
		BOTH(test_lost_lease_outcome),
		BOTH(test_expiry_and_rejection),
		BOTH(test_rejected_not_retried),
		BOTH(test_two_senders),
		BOTH(test_sender_thread),
	};
	int r;

	if (testgw_begin("sms") != 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests_name("sms", tests, NULL, NULL);
	curl_global_cleanup();
	return testgw_end(r);
}
