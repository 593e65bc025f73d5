/* gateway/waiters.c: held scan waits: a hash of suspended connections by ticket id hash, one thread for deadlines, store change notices and the ticket purge. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/store.h"
#include "gateway/waiters.h"

#define W_BUCKETS 4096 /* hash buckets (a power of two) */

struct gw_waiters {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gw_waiter *bucket[W_BUCKETS]; /* [mu] */
	struct gw_waiter *all;               /* [mu] every held wait */
	size_t n, max;                       /* [mu] */
	int stopping;                        /* [mu] */
	pthread_t th;
	int started;
	char *store_loc;
	int64_t clock_offset;
	int poll_ms, purge_s;
};

int64_t
gw_waiters_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static unsigned int
hash_id(const char *id)
{
	unsigned int h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (W_BUCKETS - 1);
}

/* Takes wt out of the set and resumes its connection. w->mu held. */
static void
unhold(struct gw_waiters *w, struct gw_waiter *wt, enum gw_wake why)
{
	unsigned int b;

	if (!wt->held)
		return;
	b = hash_id(wt->id_hash);
	if (wt->hnext != NULL)
		wt->hnext->hprev = wt->hprev;
	if (wt->hprev != NULL)
		wt->hprev->hnext = wt->hnext;
	else
		w->bucket[b] = wt->hnext;
	if (wt->next != NULL)
		wt->next->prev = wt->prev;
	if (wt->prev != NULL)
		wt->prev->next = wt->next;
	else
		w->all = wt->next;
	wt->hnext = wt->hprev = wt->next = wt->prev = NULL;
	wt->held = 0;
	wt->gen++;
	w->n--;
	wt->why = why;
	if (why != GW_WAKE_NONE && wt->c != NULL)
		MHD_resume_connection(wt->c);
}

/* Puts wt into the set and suspends c. w->mu held. */
static int
hold_locked(struct gw_waiters *w, struct MHD_Connection *c,
    struct gw_waiter *wt)
{
	unsigned int b = hash_id(wt->id_hash);

	if (w->stopping || w->n >= w->max)
		return UK_ERR_LIMIT;
	wt->c = c;
	wt->why = GW_WAKE_NONE;
	wt->held = 1;
	wt->hprev = NULL;
	wt->hnext = w->bucket[b];
	if (wt->hnext != NULL)
		wt->hnext->hprev = wt;
	w->bucket[b] = wt;
	wt->prev = NULL;
	wt->next = w->all;
	if (wt->next != NULL)
		wt->next->prev = wt;
	w->all = wt;
	w->n++;
	MHD_suspend_connection(c);
	return 0;
}

int
gw_waiters_hold(struct gw_waiters *w, struct MHD_Connection *c, const char *id,
    const char *cookie, enum gw_scan_state seen, int64_t deadline_ms,
    struct gw_waiter **out)
{
	struct gw_waiter *wt;
	int r;

	*out = NULL;
	if (strlen(id) > GW_SCAN_ID_LEN || strlen(cookie) >= GW_TOKEN_SIZE)
		return UK_ERR_INPUT;
	if ((wt = calloc(1, sizeof(*wt))) == NULL)
		return UK_ERR_NOMEM;
	memcpy(wt->id, id, strlen(id) + 1);
	memcpy(wt->cookie, cookie, strlen(cookie) + 1);
	gw_sha256_hex(wt->id, wt->id_hash);
	wt->seen = seen;
	wt->deadline_ms = deadline_ms;
	pthread_mutex_lock(&w->mu);
	r = hold_locked(w, c, wt);
	pthread_mutex_unlock(&w->mu);
	if (r != 0) {
		OPENSSL_cleanse(wt->cookie, sizeof(wt->cookie));
		free(wt);
		return r;
	}
	*out = wt;
	return 0;
}

int
gw_waiters_rehold(struct gw_waiters *w, struct MHD_Connection *c,
    struct gw_waiter *wt)
{
	int r;

	pthread_mutex_lock(&w->mu);
	/* Over max is allowed here: it was held a moment ago. */
	r = w->stopping ? UK_ERR_LIMIT : 0;
	if (r == 0) {
		size_t max = w->max;

		w->max = w->n + 1 > max ? w->n + 1 : max;
		r = hold_locked(w, c, wt);
		w->max = max;
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

/* Wakes the waits held on the ticket whose id hashes to h, those whose
 * seen state is not state (NULL: all). */
static void
wake_hash(struct gw_waiters *w, const char *h, const char *state)
{
	struct gw_waiter *wt, *nx;

	if (h == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	for (wt = w->bucket[hash_id(h)]; wt != NULL; wt = nx) {
		nx = wt->hnext;
		if (strcmp(wt->id_hash, h) == 0 &&
		    (state == NULL ||
		        strcmp(gw_scan_state_name(wt->seen), state) != 0))
			unhold(w, wt, GW_WAKE_CHANGED);
	}
	pthread_mutex_unlock(&w->mu);
}

void
gw_waiters_wake(struct gw_waiters *w, const char *id)
{
	char h[65];

	if (w == NULL || id == NULL)
		return;
	gw_sha256_hex(id, h);
	wake_hash(w, h, NULL);
}

void
gw_waiter_free(struct gw_waiters *w, struct gw_waiter *wt)
{
	if (wt == NULL)
		return;
	if (w != NULL) {
		pthread_mutex_lock(&w->mu);
		unhold(w, wt, GW_WAKE_NONE);
		pthread_mutex_unlock(&w->mu);
	}
	OPENSSL_cleanse(wt->cookie, sizeof(wt->cookie));
	free(wt);
}

size_t
gw_waiters_count(struct gw_waiters *w)
{
	size_t n;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	n = w->n;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Ends the waits past their deadline. */
static void
deadlines(struct gw_waiters *w, int64_t now_ms)
{
	struct gw_waiter *wt, *nx;

	pthread_mutex_lock(&w->mu);
	for (wt = w->all; wt != NULL; wt = nx) {
		nx = wt->next;
		if (wt->deadline_ms <= now_ms)
			unhold(w, wt, GW_WAKE_DEADLINE);
	}
	pthread_mutex_unlock(&w->mu);
}

/* Another connection committed something: one query on the thread's
 * own store for the tickets alive and no longer waiting (scan.c's table,
 * read here so that 10,000 held waits cost one query, not 10,000), and
 * the waits whose state differs are woken; each woken request checks its
 * own ticket and binding again (gw_scan_wait_state) and is held again
 * when nothing changed for it. A ticket that expires is answered at its
 * deadline, which a held wait never outlives. */
static void
sweep(struct gw_waiters *w, struct store *st)
{
	struct store_res *res = NULL;
	size_t i, rows;
	int64_t now = (int64_t)time(NULL) + w->clock_offset;

	if (gw_waiters_count(w) == 0)
		return;
	if (store_exec(st, &res,
	        "SELECT id_hash, state FROM scan_tickets "
	        "WHERE state <> 'waiting' AND expires_at > ?",
	        "i", now) != 0) {
		uk_log(UK_LOG_WARN, "waits: %s", store_last_error(st));
		return;
	}
	rows = store_res_rows(res);
	for (i = 0; i < rows; i++)
		wake_hash(w, store_res_text(res, i, 0),
		    store_res_text(res, i, 1));
	store_res_free(res);
}

static void *
thread_main(void *arg)
{
	struct gw_waiters *w = arg;
	struct store *st = NULL;
	struct timespec until;
	int64_t last_purge = 0, now_ms, next_sweep = 0, took;
	int r, stop = 0, pending = 0;

	if ((r = store_open(w->store_loc, &st)) != 0)
		uk_log_err(r,
		    "waits: store: %s: changes made by other "
		    "gateways are seen at the deadline only",
		    store_last_error(NULL));
	else if ((r = store_listen(st)) != 0)
		uk_log_err(r, "waits: store_listen: %s", store_last_error(st));
	while (!stop) {
		now_ms = gw_waiters_now_ms();
		deadlines(w, now_ms);
		if (st != NULL && store_changed(st) > 0)
			pending = 1;
		/* A sweep reads every held ticket: spaced by at least its own
		 * duration, so that a busy store cannot keep this thread (and
		 * the store) busy with them. */
		if (pending && now_ms >= next_sweep) {
			pending = 0;
			sweep(w, st);
			took = gw_waiters_now_ms() - now_ms;
			next_sweep = now_ms + 2 * took;
			if (took > 100)
				uk_log(UK_LOG_DEBUG,
				    "waits: sweep took %lld ms",
				    (long long)took);
		}
		if (st != NULL && w->purge_s > 0 &&
		    now_ms - last_purge >= (int64_t)w->purge_s * 1000) {
			last_purge = now_ms;
			if ((r = gw_scan_purge(st,
			         (int64_t)time(NULL) + w->clock_offset)) != 0)
				uk_log_err(r, "scan ticket purge: %s",
				    store_last_error(st));
		}
		pthread_mutex_lock(&w->mu);
		if (!w->stopping) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)w->poll_ms * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&w->cv, &w->mu, &until);
		}
		stop = w->stopping;
		pthread_mutex_unlock(&w->mu);
	}
	store_close(st);
	return NULL;
}

int
gw_waiters_new(const char *store_loc, int64_t clock_offset, size_t max,
    int poll_ms, int purge_s, struct gw_waiters **out)
{
	struct gw_waiters *w;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return UK_ERR_NOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->max = max > 0 ? max : 1;
	w->clock_offset = clock_offset;
	w->poll_ms = poll_ms > 0 ? poll_ms : 200;
	w->purge_s = purge_s;
	if ((w->store_loc = strdup(store_loc)) == NULL)
		goto out;
	if (pthread_create(&w->th, NULL, thread_main, w) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	w->started = 1;
	*out = w;
	w = NULL; /* transferred */
	r = 0;
out:
	gw_waiters_free(w);
	return r;
}

void
gw_waiters_stop(struct gw_waiters *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	while (w->all != NULL)
		unhold(w, w->all, GW_WAKE_STOP);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started) {
		pthread_join(w->th, NULL);
		w->started = 0;
	}
}

void
gw_waiters_free(struct gw_waiters *w)
{
	if (w == NULL)
		return;
	gw_waiters_stop(w);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->store_loc);
	free(w);
}
