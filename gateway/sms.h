/* gateway/sms.h: the SMS outbox in the store and the sender that delivers it through a provider, with leases, retries and backoff. */
#ifndef UK_GW_SMS_H
#define UK_GW_SMS_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/sms_provider.h"

struct store;

/*
 * Messages are never sent from a request: the request inserts a row into
 * sms_outbox in its own transaction (gw_sms_enqueue), so a message exists
 * exactly when the change that asked for it committed. A sender then
 * claims due rows one at a time: status 'sending', attempts + 1 and
 * next_attempt_at = now + lease, committed before the provider is called
 * (on PostgreSQL the claim selects with FOR UPDATE SKIP LOCKED, on SQLite
 * under the write lock), so two senders never hold one row at once. The
 * outcome is written afterwards: 'sent' (sent_at, provider_msg_id), or back
 * to 'queued' with next_attempt_at = now + gw_sms_backoff(attempts) and
 * last_error, or 'failed' when the provider refused it for good or the
 * message expired (expires_at, default a day after created_at). A sender
 * that dies between claim and outcome leaves a 'sending' row whose lease
 * runs out; it is then claimed again. Delivery is therefore at least once:
 * a sender killed after the provider accepted a message but before the
 * outcome was written sends it again; the outbox id goes to the provider
 * as its idempotency key (http "id", Aliyun OutId, Tencent SessionContext).
 */

/* Queues one message at now: phone, template (GW_SMS_TPL_*), params (a
 * JSON object of strings, copied), expires_at (0: now + one day). Joins
 * st's open transaction, else runs its own. *id (may be NULL) gets the
 * row's id. Returns 0, UK_ERR_INPUT (params not a JSON object, empty
 * phone) or a store error. */
int gw_sms_enqueue(struct store *st, const char *phone, const char *template,
    const char *params, int64_t now, int64_t expires_at, int64_t *id);

/* The wait after a failed attempt number attempts (1, 2, ...): 5 s, 30 s,
 * 2 min, 10 min, 30 min, 1 h, 2 h, then 4 h each time. */
int64_t gw_sms_backoff(int attempts);

/* How gw_sms_send_due works; zero fields: the defaults. */
struct gw_sms_send_conf {
	int lease;   /* seconds a claim holds a row (default 60; must exceed
	                the provider's timeout) */
	int give_up; /* seconds after created_at a message without
	                expires_at is dropped (default 86400) */
};

/* What one gw_sms_send_due call did. */
struct gw_sms_stats {
	int sent;    /* accepted by the provider */
	int retried; /* temporary failure: queued again */
	int failed;  /* refused or expired: status 'failed' */
	int lost;    /* sent, but the row was meanwhile claimed by another
	                 sender (lease ran out during the send) */
};

/*
 * Claims and sends due rows (next_attempt_at <= now) through p, one at a
 * time, at most max of them, at time now (tests inject it). Each claim and
 * each outcome is its own durable transaction; st must have none open.
 * Rows past their expiry are marked 'failed' first, without sending.
 * stats (may be NULL) is filled. Returns 0 or a store error (rows claimed
 * before it are retried after their lease).
 */
int gw_sms_send_due(struct store *st, struct gw_sms_provider *p,
    const struct gw_sms_send_conf *c, int64_t now, int max,
    struct gw_sms_stats *stats);

/* The background sender: a thread with its own store connection. */
struct gw_sms_sender_conf {
	const char *store;                    /* location for store_open */
	struct gw_sms_provider_conf provider; /* strings must outlive it */
	struct gw_sms_send_conf send;
	int interval_ms; /* poll interval when idle (default 1000) */
	int batch;       /* rows per round (default 20) */
};

struct gw_sms_sender;

/* Opens the store, makes the provider and starts the thread. *out belongs
 * to the caller (gw_sms_sender_free). Returns 0 or an error code. */
int gw_sms_sender_new(const struct gw_sms_sender_conf *c,
    struct gw_sms_sender **out);

/* Wakes the thread at once (after an enqueue) instead of at its next
 * poll. Safe from any thread. */
void gw_sms_sender_wake(struct gw_sms_sender *s);

/* Messages sent by s since it started (for /metrics and tests). */
uint64_t gw_sms_sender_sent(struct gw_sms_sender *s);

/* Stops the thread (a send under way finishes first), closes its store
 * and frees s; NULL is a no-op. */
void gw_sms_sender_free(struct gw_sms_sender *s);

#endif
