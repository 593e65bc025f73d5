/* gateway/ratelimit.c: fixed-window counters in the store's rate_limits table, shared by every gateway. */
#include <stdint.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/ratelimit.h"

int
gw_rate_hit(struct store *st, const char *key, int64_t window, int64_t limit,
    int64_t now, int *over)
{
	struct store_res *rs = NULL;
	int64_t expired = now - window, count, start, left;
	int r;

	*over = 0;
	r = store_exec(st, &rs,
	    "INSERT INTO rate_limits (key, window_start, count)"
	    " VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET"
	    " count = CASE WHEN rate_limits.window_start <= ? THEN 1"
	    " ELSE rate_limits.count + 1 END,"
	    " window_start = CASE WHEN rate_limits.window_start <= ?"
	    " THEN ? ELSE rate_limits.window_start END"
	    " RETURNING count, window_start",
	    "tiiii", key, now, expired, expired, now);
	if (r != 0)
		goto out;
	if (store_res_rows(rs) != 1) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	count = store_res_int(rs, 0, 0);
	start = store_res_int(rs, 0, 1);
	if (count > limit) {
		left = start + window - now;
		*over = left < 1 ? 1 : (int)left;
	}
out:
	store_res_free(rs);
	return r;
}

int
gw_rate_anon(struct store *st, const char *what, const char *ip, int64_t limit,
    int64_t now, int *retry_after)
{
	char key[128];
	int r;

	*retry_after = 0;
	if ((size_t)snprintf(key, sizeof(key), "anon:%s:%s", what,
	        ip != NULL ? ip : "-") >= sizeof(key))
		return UK_ERR_INPUT;
	if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) != 0)
		return r;
	if ((r = gw_rate_hit(st, key, 60, limit, now, retry_after)) != 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}
