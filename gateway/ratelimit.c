/* gateway/ratelimit.c: fixed-window counters in the store's rate_limits table, shared by every gateway. */
#include <stdint.h>

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
