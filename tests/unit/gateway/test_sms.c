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

extern char **environ;

#define T0 ((int64_t)1718000000)
#define HTTP_KEY "http-hook-key-1"
#define ALI_KEY "ali-secret-2"
#define TC_KEY "tc-secret-3"
#define PARAMS "{\"code\":\"123456\",\"minutes\":\"5\"}"

struct backend {
	enum store_backend kind;
};

static struct backend be_sqlite = { STORE_SQLITE };
static struct backend be_pg = { STORE_POSTGRES };

struct fixture {
	struct testdb db;
	struct store *st;
	char file[600];
	struct gw_sms_provider *fp; /* file provider */
};

static char tmpdir[256];

static size_t
discard(char *b, size_t s, size_t n, void *u)
{
	(void)b;
	(void)u;
	return s * n;
}

/* Starts build/tests/tools/sms-capture with log and secrets files in dir;
 * fills *pid and the port. Returns 0 or -1. */
static int
capture_start(const char *dir, pid_t *pid, int *port)
{
	char bin[1024], logp[1024], secp[1024], line[128];
	const char *b = getenv("UKEY_BUILD");
	char *argv[8];
	int fds[2], n = 0;
	posix_spawn_file_actions_t fa;
	FILE *f;
	char *end;
	long v;

	snprintf(bin, sizeof(bin), "%s/tests/tools/sms-capture",
	    b != NULL ? b : "build");
	snprintf(logp, sizeof(logp), "%s/capture.log", dir);
	snprintf(secp, sizeof(secp), "%s/capture.secrets", dir);
	if ((f = fopen(secp, "w")) == NULL)
		return -1;
	fprintf(f, "http=%s\naliyun=%s\ntencent=%s\n", HTTP_KEY, ALI_KEY,
	    TC_KEY);
	fclose(f);
	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	argv[n++] = bin;
	argv[n++] = "--log";
	argv[n++] = logp;
	argv[n++] = "--secrets";
	argv[n++] = secp;
	argv[n] = NULL;
	if (posix_spawn(pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    strncmp(line, "listening ", 10) != 0) {
		if (f != NULL)
			fclose(f);
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		return -1;
	}
	fclose(f);
	v = strtol(line + 10, &end, 10);
	*port = (int)v;
	return v > 0 ? 0 : -1;
}

static void
capture_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* The capture log's lines as a JSON array (caller decrefs). */
static json_t *
capture_log(const char *dir)
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

/* Tells the capture server to fail the next n requests. */
static void
capture_fail(int port, int n)
{
	char url[128];
	CURL *e = curl_easy_init();

	assert_non_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/control?fail=%d", port,
	    n);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_cleanup(e);
}

static int
setup_db(void **state)
{
	struct backend *be = *state;
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct gw_sms_provider_conf c;

	assert_non_null(fx);
	*state = fx;
	testdb_new(&fx->db, be->kind, tmpdir, "sms");
	if (store_open(fx->db.loc, &fx->st) != 0)
		fail_msg("store_open: %s", store_last_error(NULL));
	snprintf(fx->file, sizeof(fx->file), "%s/sms.jsonl", fx->db.dir);
	memset(&c, 0, sizeof(c));
	c.path = fx->file;
	assert_int_equal(gw_sms_provider_new(&c, &fx->fp), 0);
	return 0;
}

static int
teardown_db(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL || fx == (void *)&be_sqlite || fx == (void *)&be_pg)
		return 0;
	gw_sms_provider_free(fx->fp);
	store_close(fx->st);
	testdb_drop(&fx->db);
	free(fx);
	return 0;
}

static int64_t
q_int(struct store *st, const char *sql, int64_t id)
{
	struct store_res *res = NULL;
	int64_t v;

	if (store_exec(st, &res, sql, "i", id) != 0)
		fail_msg("%s: %s", sql, store_last_error(st));
	assert_int_equal(store_res_rows(res), 1);
	v = store_res_int(res, 0, 0);
	store_res_free(res);
	return v;
}

static char *
q_text(struct store *st, const char *sql, int64_t id)
{
	struct store_res *res = NULL;
	char *v;

	assert_int_equal(store_exec(st, &res, sql, "i", id), 0);
	assert_int_equal(store_res_rows(res), 1);
	v = strdup(
	    store_res_isnull(res, 0, 0) ? "" : store_res_text(res, 0, 0));
	store_res_free(res);
	return v;
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

	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_true(id > 0);
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000", "t", "[1]", T0,
	                     0, NULL),
	    UK_ERR_INPUT);
	assert_int_equal(gw_sms_enqueue(fx->st, "", "t", "{}", T0, 0, NULL),
	    UK_ERR_INPUT);
	/* not due yet */
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0 - 1, 10, &s),
	    0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0, 10, &s), 0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(file_count(fx->file, id), 1);
	t = q_text(fx->st, "SELECT status FROM sms_outbox WHERE id = ?", id);
	assert_string_equal(t, "sent");
	free(t);
	assert_int_equal(q_int(fx->st,
	                     "SELECT attempts FROM sms_outbox WHERE id = ?",
	                     id),
	    1);
	assert_int_equal(q_int(fx->st,
	                     "SELECT sent_at FROM sms_outbox WHERE id = ?", id),
	    T0);
	/* nothing more to send */
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0 + 999, 10,
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
	if (capture_start(dir, &pid, &port) != 0)
		fail_msg("sms-capture did not start");
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/http", port);
	c.kind = "http";
	c.url = url;
	c.secret = k;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	capture_fail(port, 2);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(q_int(fx->st,
	                     "SELECT next_attempt_at FROM sms_outbox"
	                     " WHERE id = ?",
	                     id),
	    T0 + 5);
	t = q_text(fx->st, "SELECT last_error FROM sms_outbox WHERE id = ?",
	    id);
	assert_non_null(strstr(t, "500"));
	free(t);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 4, 10, &s), 0);
	assert_int_equal(s.sent + s.retried, 0);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 5, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(q_int(fx->st,
	                     "SELECT next_attempt_at FROM sms_outbox"
	                     " WHERE id = ?",
	                     id),
	    T0 + 35);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 35, 10, &s), 0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(q_int(fx->st,
	                     "SELECT attempts FROM sms_outbox WHERE id = ?",
	                     id),
	    3);
	t = q_text(fx->st,
	    "SELECT status || ' ' || provider_msg_id FROM sms_outbox"
	    " WHERE id = ?",
	    id);
	assert_string_equal(t, "sent cap-3");
	free(t);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 9999, 10, &s),
	    0);
	assert_int_equal(s.sent, 0);
	capture_stop(pid);
	log = capture_log(dir);
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

	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	/* what a claim at T0 leaves behind when its sender is killed */
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE sms_outbox SET status = 'sending',"
	                     " attempts = 1, next_attempt_at = ? WHERE id = ?",
	                     "ii", T0 + 60, id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, &sc, T0 + 59, 10, &s),
	    0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(file_count(fx->file, id), 0);
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, &sc, T0 + 60, 10, &s),
	    0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(file_count(fx->file, id), 1);
	assert_int_equal(q_int(fx->st,
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

	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0, 10, &s), 0);
	assert_int_equal(s.sent, 1);
	/* a stale sender cannot claim it again */
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0 + 3600, 10,
	                     &s),
	    0);
	assert_int_equal(s.sent, 0);
	t = q_text(fx->st, "SELECT status FROM sms_outbox WHERE id = ?", id);
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
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, T0 + 300, &a),
	    0);
	assert_int_equal(gw_sms_send_due(fx->st, fx->fp, NULL, T0 + 300, 10,
	                     &s),
	    0);
	assert_int_equal(s.failed, 1);
	assert_int_equal(file_count(fx->file, a), 0);
	t = q_text(fx->st, "SELECT last_error FROM sms_outbox WHERE id = ?", a);
	assert_string_equal(t, "expired before delivery");
	free(t);
	/* nobody listening: retried until the backoff passes the expiry */
	memset(&c, 0, sizeof(c));
	c.kind = "http";
	c.url = "http://127.0.0.1:1/http";
	c.secret = k;
	c.timeout_ms = 2000;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, T0 + 100, &b),
	    0);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 5, 10, &s), 0);
	assert_int_equal(s.retried, 1);
	/* 35 + 120 > 100: given up */
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0 + 35, 10, &s), 0);
	assert_int_equal(s.failed, 1);
	t = q_text(fx->st, "SELECT status FROM sms_outbox WHERE id = ?", b);
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
	if (capture_start(dir, &pid, &port) != 0)
		fail_msg("sms-capture did not start");
	memset(&c, 0, sizeof(c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/http", port);
	c.kind = "http";
	c.url = url;
	c.secret = k;
	assert_int_equal(gw_sms_provider_new(&c, &p), 0);
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
	                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0, &id),
	    0);
	assert_int_equal(gw_sms_send_due(fx->st, p, NULL, T0, 10, &s), 0);
	assert_int_equal(s.failed, 1);
	t = q_text(fx->st, "SELECT status FROM sms_outbox WHERE id = ?", id);
	assert_string_equal(t, "failed");
	free(t);
	capture_stop(pid);
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
		assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
		                     GW_SMS_TPL_RESET_CODE, PARAMS, T0, 0,
		                     &ids[i]),
		    0);
	memset(w, 0, sizeof(w));
	for (i = 0; i < 2; i++) {
		w[i].loc = fx->db.loc;
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
	assert_int_equal(q_int(fx->st,
	                     "SELECT count(*) FROM sms_outbox WHERE"
	                     " status = 'sent' AND attempts = 1 AND id > ?",
	                     0),
	    60);
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
	c.store = fx->db.loc;
	c.provider.path = fx->file;
	c.interval_ms = 50;
	assert_int_equal(gw_sms_sender_new(&c, &s), 0);
	assert_int_equal(gw_sms_enqueue(fx->st, "13800138000",
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

#define BOTH(f)                                                                \
	{ "sqlite_" #f, f, setup_db, teardown_db, &be_sqlite },                \
	{                                                                      \
		"pg_" #f, f, setup_db, teardown_db, &be_pg                     \
	}

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

	if (testdb_tmpdir("test_sms", tmpdir, sizeof(tmpdir)) != 0) {
		perror("mkdtemp");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests_name("sms", tests, NULL, NULL);
	curl_global_cleanup();
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}
