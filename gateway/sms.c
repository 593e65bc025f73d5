/* gateway/sms.c: the SMS outbox in the store and the sender that delivers it through a provider, with leases, retries and backoff. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/store.h"
#include "gateway/sms.h"

int
gw_sms_enqueue(struct store *st, const char *phone, const char *template,
    const char *params, int64_t now, int64_t expires_at, int64_t *id)
{
	struct store_res *res = NULL;
	json_t *o = NULL;
	int own = 0, r = UK_ERR_INPUT;

	if (id != NULL)
		*id = 0;
	if (phone == NULL || *phone == '\0' || template == NULL ||
	    *template == '\0' || params == NULL)
		goto out;
	if ((o = json_loads(params, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(o))
		goto out;
	if (expires_at <= 0)
		expires_at = now + 86400;
	if (!store_in_transaction(st)) {
		if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
			goto out;
		own = 1;
	}
	if ((r = store_exec(st, &res,
	         "INSERT INTO sms_outbox (phone, template, params, created_at,"
	         " next_attempt_at, expires_at, attempts, status)"
	         " VALUES (?, ?, ?, ?, ?, ?, 0, 'queued') RETURNING id",
	         "tttiii", phone, template, params, now, now, expires_at)) != 0)
		goto out;
	if (id != NULL)
		*id = store_res_int(res, 0, 0);
	if (own) {
		r = store_commit(st);
		own = 0;
	}
out:
	if (own)
		store_rollback(st);
	store_res_free(res);
	json_decref(o);
	return r;
}

int64_t
gw_sms_backoff(int attempts)
{
	static const int64_t steps[] = { 5, 30, 120, 600, 1800, 3600, 7200 };

	if (attempts < 1)
		attempts = 1;
	if ((size_t)attempts > sizeof(steps) / sizeof(steps[0]))
		return 14400;
	return steps[attempts - 1];
}

/* One claimed row. */
struct claim {
	int64_t id, attempts, created_at, expires_at;
	char *phone, *template, *params;
};

static void
claim_clear(struct claim *c)
{
	free(c->phone);
	free(c->template);
	if (c->params != NULL) /* may hold a reset code */
		OPENSSL_cleanse(c->params, strlen(c->params));
	free(c->params);
	memset(c, 0, sizeof(*c));
}

static const char claim_sql_pg[] =
    "UPDATE sms_outbox SET status = 'sending', next_attempt_at = ?,"
    " attempts = attempts + 1"
    " WHERE id = (SELECT id FROM sms_outbox"
    " WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " AND status IN ('queued', 'sending') AND next_attempt_at <= ?"
    " RETURNING id, attempts, created_at, expires_at, phone, template,"
    " params";

static const char claim_sql_lite[] =
    "UPDATE sms_outbox SET status = 'sending', next_attempt_at = ?,"
    " attempts = attempts + 1"
    " WHERE id = (SELECT id FROM sms_outbox"
    " WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at, id LIMIT 1)"
    " AND status IN ('queued', 'sending') AND next_attempt_at <= ?"
    " RETURNING id, attempts, created_at, expires_at, phone, template,"
    " params";

/* Claims the next due row into *c (c->id 0 when none is due). */
static int
claim_one(struct store *st, int lease, int64_t now, struct claim *c)
{
	struct store_res *res = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		return r;
	r = store_exec(st, &res,
	    store_backend(st) == STORE_POSTGRES ? claim_sql_pg : claim_sql_lite,
	    "iii", now + lease, now, now);
	if (r != 0)
		goto out;
	if (store_res_rows(res) == 1) {
		c->id = store_res_int(res, 0, 0);
		c->attempts = store_res_int(res, 0, 1);
		c->created_at = store_res_int(res, 0, 2);
		c->expires_at = store_res_int(res, 0, 3);
		c->phone = strdup(store_res_text(res, 0, 4));
		c->template = strdup(store_res_text(res, 0, 5));
		c->params = strdup(store_res_text(res, 0, 6));
		if (c->phone == NULL || c->template == NULL ||
		    c->params == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
	}
	r = store_commit(st);
out:
	if (r != 0) {
		store_rollback(st);
		claim_clear(c);
	}
	store_res_free(res);
	return r;
}

/* Writes the outcome of claim c; *lost is set when the row was no longer
 * ours (another sender re-claimed it after our lease ran out). */
static int
finish(struct store *st, const struct claim *c, int outcome, int64_t next,
    const char *msgid, const char *err, int64_t now, int *lost)
{
	int r;

	*lost = 0;
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		return r;
	if (outcome == 0)
		r = store_exec(st, NULL,
		    "UPDATE sms_outbox SET status = 'sent', sent_at = ?,"
		    " provider_msg_id = ?, last_error = NULL, params = '{}'"
		    " WHERE id = ? AND status = 'sending' AND attempts = ?",
		    "itii", now, msgid, c->id, c->attempts);
	else if (next > 0)
		r = store_exec(st, NULL,
		    "UPDATE sms_outbox SET status = 'queued',"
		    " next_attempt_at = ?, last_error = ?"
		    " WHERE id = ? AND status = 'sending' AND attempts = ?",
		    "itii", next, err, c->id, c->attempts);
	else
		r = store_exec(st, NULL,
		    "UPDATE sms_outbox SET status = 'failed', last_error = ?,"
		    " params = '{}'"
		    " WHERE id = ? AND status = 'sending' AND attempts = ?",
		    "tii", err, c->id, c->attempts);
	if (r == 0 && store_changes(st) != 1)
		*lost = 1;
	if (r == 0)
		r = store_commit(st);
	else
		store_rollback(st);
	return r;
}

int
gw_sms_send_due(struct store *st, struct gw_sms_provider *p,
    const struct gw_sms_send_conf *conf, int64_t now, int max,
    struct gw_sms_stats *stats)
{
	struct gw_sms_stats s = { 0, 0, 0, 0 };
	struct claim c = { 0, 0, 0, 0, NULL, NULL, NULL };
	char msgid[GW_SMS_MSGID_MAX + 1], err[256];
	int lease = conf != NULL && conf->lease > 0 ? conf->lease : 60;
	int give_up = conf != NULL && conf->give_up > 0 ? conf->give_up : 86400;
	int i, out_r, lost, r;
	int64_t expiry, next;

	/* expired rows are dropped without being sent */
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "UPDATE sms_outbox SET status = 'failed', params = '{}',"
	         " last_error = 'expired before delivery'"
	         " WHERE status IN ('queued', 'sending')"
	         " AND next_attempt_at <= ?"
	         " AND COALESCE(expires_at, created_at + ?) <= ?",
	         "iii", now, (int64_t)give_up, now)) != 0) {
		store_rollback(st);
		goto out;
	}
	s.failed += (int)store_changes(st);
	if ((r = store_commit(st)) != 0)
		goto out;
	for (i = 0; i < max; i++) {
		if ((r = claim_one(st, lease, now, &c)) != 0)
			goto out;
		if (c.id == 0)
			break;
		err[0] = '\0';
		out_r = gw_sms_provider_send(p,
		    &(struct gw_sms_msg){ c.id, c.phone, c.template, c.params },
		    now, msgid, err, sizeof(err));
		next = 0;
		expiry =
		    c.expires_at > 0 ? c.expires_at : c.created_at + give_up;
		if (out_r != 0 && out_r != UK_ERR_SMS_REJECTED) {
			next = now + gw_sms_backoff((int)c.attempts);
			if (next >= expiry)
				next = 0; /* no later attempt would be useful */
		}
		if (out_r != 0)
			uk_log(UK_LOG_WARN,
			    "sms %lld to %.3s****%s: attempt %lld: %s: %s",
			    (long long)c.id, c.phone,
			    strlen(c.phone) > 4 ? c.phone + strlen(c.phone) - 4
			                        : "",
			    (long long)c.attempts, uk_error_id(out_r),
			    next > 0 ? "will retry" : "given up");
		if ((r = finish(st, &c, out_r, next, msgid,
		         err[0] != '\0' ? err : uk_error_id(out_r), now,
		         &lost)) != 0)
			goto out;
		if (lost)
			s.lost++;
		else if (out_r == 0)
			s.sent++;
		else if (next > 0)
			s.retried++;
		else
			s.failed++;
		claim_clear(&c);
	}
	r = 0;
out:
	claim_clear(&c);
	if (stats != NULL)
		*stats = s;
	return r;
}

struct gw_sms_sender {
	struct gw_sms_sender_conf c;
	struct store *st;
	struct gw_sms_provider *p;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, woken; /* guarded by mu */
	uint64_t sent;   /* guarded by mu */
};

static void *
sender_main(void *arg)
{
	struct gw_sms_sender *s = arg;
	struct gw_sms_stats stats;
	struct timespec ts;
	int r, busy;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		s->woken = 0;
		pthread_mutex_unlock(&s->mu);
		r = gw_sms_send_due(s->st, s->p, &s->c.send,
		    (int64_t)time(NULL), s->c.batch, &stats);
		if (r != 0)
			uk_log(UK_LOG_WARN, "sms sender: %s: %s",
			    uk_error_id(r), store_last_error(s->st));
		busy = r == 0 &&
		    stats.sent + stats.retried + stats.failed + stats.lost >=
		        s->c.batch;
		pthread_mutex_lock(&s->mu);
		s->sent += (uint64_t)stats.sent;
		if (!busy && !s->stop && !s->woken) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += s->c.interval_ms / 1000;
			ts.tv_nsec +=
			    (long)(s->c.interval_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (!s->stop && !s->woken &&
			    pthread_cond_timedwait(&s->cv, &s->mu, &ts) !=
			        ETIMEDOUT)
				;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

int
gw_sms_sender_new(const struct gw_sms_sender_conf *c,
    struct gw_sms_sender **out)
{
	struct gw_sms_sender *s;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return UK_ERR_NOMEM;
	s->c = *c;
	if (s->c.interval_ms <= 0)
		s->c.interval_ms = 1000;
	if (s->c.batch <= 0)
		s->c.batch = 20;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (c->store == NULL) {
		r = UK_ERR_CONFIG_MISSING;
		goto out;
	}
	if ((r = gw_sms_provider_new(&c->provider, &s->p)) != 0)
		goto out;
	if ((r = store_open(c->store, &s->st)) != 0)
		goto out;
	if (pthread_create(&s->th, NULL, sender_main, s) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	s->started = 1;
	*out = s;
	s = NULL;
	r = 0;
out:
	gw_sms_sender_free(s);
	return r;
}

void
gw_sms_sender_wake(struct gw_sms_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->woken = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

uint64_t
gw_sms_sender_sent(struct gw_sms_sender *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->sent;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void
gw_sms_sender_free(struct gw_sms_sender *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	store_close(s->st);
	gw_sms_provider_free(s->p);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
