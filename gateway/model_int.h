/* gateway/model_int.h: helpers the gateway/model_*.c files share: copying and case-folding row text, reading rows into structs, running one audited change. Not for other callers. */
#ifndef UK_GW_MODEL_INT_H
#define UK_GW_MODEL_INT_H

#include <stddef.h>

#include "gateway/model.h"

struct store;
struct store_res;

/* Most rows any list returns. */
#define GW_LIST_CAP 10000

/* Copies src (NULL: "") into dst of size n, truncating. */
void gw_model_copy(char *dst, size_t n, const char *src);

/* Lower-cases (ASCII) src into dst of size n, truncating. */
void gw_model_lower(char *dst, size_t n, const char *src);

/* Upper-cases (ASCII) src into dst of size n, truncating. */
void gw_model_upper(char *dst, size_t n, const char *src);

/* Fills the struct at out from row i of res. */
typedef void gw_model_row_fn(const struct store_res *res, size_t i, void *out);

/* Fills *out by row from the only row of res. res stays the caller's.
 * Returns 0, or UK_ERR_NOT_FOUND when res has no row or more than one. */
int gw_model_one(const struct store_res *res, gw_model_row_fn *row, void *out);

/* Fills a calloc'd array of every row of res, each size bytes, by row:
 * *out (caller frees; NULL when there are no rows) and *n. res stays the
 * caller's. Returns 0 or UK_ERR_NOMEM (then *out NULL, *n 0). */
int gw_model_rows(const struct store_res *res, gw_model_row_fn *row,
    size_t size, void **out, size_t *n);

/* The end of a read of one row: when r (what store_exec answered for res)
 * is 0, fills *out by row from res's only row (gw_model_one). Frees res.
 * Returns r, or gw_model_one's answer. */
int
gw_model_one_end(int r, struct store_res *res, gw_model_row_fn *row, void *out);

/* The end of a read of a list: when r (what store_exec answered for res) is
 * 0, fills *out and *n as gw_model_rows does. Frees res. Returns r, or
 * gw_model_rows' answer. */
int gw_model_rows_end(int r, struct store_res *res, gw_model_row_fn *row,
    size_t size, void **out, size_t *n);

/* The start of a search: caps *max at GW_LIST_CAP and makes *pat the LIKE
 * pattern of q (NULL: everything; see gw_model_like; caller frees).
 * Returns 0 or UK_ERR_NOMEM. */
int gw_model_search(const char *q, size_t *max, char **pat);

/* The audit row of one change, filled in by the change (see
 * gw_model_audit): event, subject, and the detail's key and value (key NULL:
 * only the form). The strings must outlive gw_model_change. */
struct gw_model_entry {
	const char *event;
	char subject[GW_LOGIN_MAX + 16];
	const char *key, *value;
};

/* One change: its reads, checks and writes in st's open transaction; fills
 * in *e. Returns 0 or an error code. */
typedef int gw_model_apply_fn(struct store *st, const struct gw_actor *a,
    void *arg, struct gw_model_entry *e);

/* Runs one change with its audit row: opens a write transaction or joins the
 * caller's (gw_model_begin), calls apply(st, a, arg, &e), appends the audit
 * row e describes when it succeeded, and ends the transaction
 * (gw_model_end). The actor is checked by the caller. Returns 0 or an error
 * code; on failure its own transaction was rolled back. */
int gw_model_change(struct store *st, const struct gw_actor *a,
    gw_model_apply_fn *apply, void *arg);

#endif
