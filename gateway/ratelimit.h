/* gateway/ratelimit.h: fixed-window counters in the store's rate_limits table, shared by every gateway. */
#ifndef UK_GW_RATELIMIT_H
#define UK_GW_RATELIMIT_H

#include <stdint.h>

struct store;

/*
 * Counts one hit on key in a fixed window of window seconds that starts at
 * the key's first hit (a window that ended more than window seconds ago
 * starts again at now), in the caller's transaction if st has one open.
 * *over is set to the seconds left in the window (at least 1) when the
 * count now exceeds limit, else 0. Returns 0, or an enum uk_err code
 * (UK_ERR_INTERNAL when the store answers no row).
 */
int gw_rate_hit(struct store *st, const char *key, int64_t window,
    int64_t limit, int64_t now, int *over);

/* Per-address limits of the anonymous routes that write to the store, per
 * minute (a page reload asks for one challenge; a scan ticket lives two
 * minutes; a phone opens a ticket's link once or twice). */
#define GW_ANON_CHALLENGES 120
#define GW_ANON_TICKETS 30
#define GW_ANON_OAUTH 60

/*
 * Counts one anonymous write of kind what ("challenge", "ticket",
 * "oauth") from ip against limit per minute, in a relaxed write
 * transaction of its own (a lost count after a power failure only gives a
 * fresh window). *retry_after is set to the seconds left when over the
 * limit, else 0. Returns 0 or an enum uk_err code.
 */
int gw_rate_anon(struct store *st, const char *what, const char *ip,
    int64_t limit, int64_t now, int *retry_after);

#endif
