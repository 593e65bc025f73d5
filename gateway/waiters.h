/* gateway/waiters.h: held scan waits: suspended MHD connections keyed by ticket id with a deadline, woken by local transitions, by changes other gateways commit to the store (a listener thread) and by a timer. */
#ifndef UK_GW_WAITERS_H
#define UK_GW_WAITERS_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "gateway/scan.h"
#include "gateway/session.h"

struct gw_waiters;

/* Why a held wait was resumed. */
enum gw_wake {
	GW_WAKE_NONE = 0,
	GW_WAKE_CHANGED = 1,  /* its ticket changed (or may have) */
	GW_WAKE_DEADLINE = 2, /* its deadline passed */
	GW_WAKE_STOP = 3,     /* the gateway is stopping */
};

/* One held wait: about 200 bytes, no thread. Made by gw_waiters_hold,
 * owned by the request that holds it, freed by gw_waiter_free. The
 * public fields are read-only for the owner. */
struct gw_waiter {
	char id[GW_SCAN_ID_LEN + 1]; /* the ticket */
	char cookie[GW_TOKEN_SIZE];  /* the binding browser's pre cookie */
	enum gw_scan_state seen;     /* the state the browser knows */
	int64_t deadline_ms;         /* CLOCK_MONOTONIC milliseconds */
	enum gw_wake why;            /* set when resumed */
	int64_t expires_at;          /* the owner's: the ticket's expiry */
	/* Internal: guarded by the set's lock. */
	char id_hash[65]; /* SHA-256 hex of id, as the store keys it */
	struct MHD_Connection *c;
	int held;
	unsigned int gen;
	struct gw_waiter *hnext, *hprev; /* the ticket's bucket */
	struct gw_waiter *next, *prev;   /* every held wait */
};

/*
 * Makes the set and starts its thread, which opens its own store at
 * store_loc and subscribes to changes (store_listen): every poll_ms (about
 * 50) it ends held waits past their deadline and, when store_changed
 * says another connection committed something (PostgreSQL LISTEN/NOTIFY,
 * SQLite data_version), reads the live tickets that are no longer
 * waiting (one query, clock time(NULL) + clock_offset) and wakes the held
 * waits whose state differs from theirs.
 * Every purge_s seconds (0: never) it purges old tickets (gw_scan_purge).
 * At most max waits are held at once. *out belongs to the caller
 * (gw_waiters_free). Returns 0 or an enum uk_err code (logged).
 */
int gw_waiters_new(const char *store_loc, int64_t clock_offset, size_t max,
    int poll_ms, int purge_s, struct gw_waiters **out);

/* Resumes every held wait (GW_WAKE_STOP), refuses new ones and stops the
 * thread. Call before MHD_stop_daemon. NULL is a no-op. */
void gw_waiters_stop(struct gw_waiters *w);

/* Stops (gw_waiters_stop) and frees w. NULL is a no-op. */
void gw_waiters_free(struct gw_waiters *w);

/*
 * Holds c, from its access handler: makes a waiter for ticket id of
 * browser cookie that knows state seen, until deadline_ms
 * (CLOCK_MONOTONIC), and suspends c. When MHD calls the handler again,
 * wt->why says why; the handler answers, or holds again with
 * gw_waiters_rehold. Returns 0 and *out (owned by the caller), or
 * UK_ERR_LIMIT (max reached, or stopping).
 */
int gw_waiters_hold(struct gw_waiters *w, struct MHD_Connection *c,
    const char *id, const char *cookie, enum gw_scan_state seen,
    int64_t deadline_ms, struct gw_waiter **out);

/* Holds wt again (a wake-up that brought nothing new). Returns 0 or
 * UK_ERR_LIMIT (stopping: answer now). */
int gw_waiters_rehold(struct gw_waiters *w, struct MHD_Connection *c,
    struct gw_waiter *wt);

/* Wakes (GW_WAKE_CHANGED) every wait held on ticket id: a local
 * transition. */
void gw_waiters_wake(struct gw_waiters *w, const char *id);

/* Frees wt, first taking it out of the set if still held (the request
 * ended); its cookie is wiped. NULL is a no-op. */
void gw_waiter_free(struct gw_waiters *w, struct gw_waiter *wt);

/* Waits held now. */
size_t gw_waiters_count(struct gw_waiters *w);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t gw_waiters_now_ms(void);

#endif
