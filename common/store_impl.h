/* common/store_impl.h: private to the store: the backend vtable and result building. */
#ifndef UK_STORE_IMPL_H
#define UK_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "common/store.h"

/* Longest error message kept per store (bytes, including the NUL). */
#define STORE_ERR_MAX 512

/* One bound parameter, decoded from store_exec's type string. */
struct store_param {
	char type;                 /* 't', 'i' or 'b' */
	int isnull;                /* 't' or 'b' given a NULL pointer */
	const char *text;          /* 't' */
	int64_t i;                 /* 'i' */
	const unsigned char *blob; /* 'b' */
	size_t len;                /* 'b' */
};

/* What a backend provides. Every function gets a store whose impl field
 * the backend's open set. Errors are reported with store_set_error. */
struct store_ops {
	enum store_backend backend;
	/* Connects st->impl to location; on failure leaves st->impl NULL
	 * and the message in st->err. */
	int (*open)(struct store *st, const char *location);
	void (*close)(struct store *st);
	/* Open, commit (durably) or roll back a transaction; store.c keeps
	 * track of whether one is open. A failed commit leaves none open. */
	int (*begin)(struct store *st, enum store_tx kind);
	int (*commit)(struct store *st);
	void (*rollback)(struct store *st);
	/* Makes the open STORE_TX_WRITE_RELAXED transaction commit durably
	 * (as STORE_TX_WRITE_GROUP); a no-op for the other kinds. */
	int (*durable)(struct store *st);
	/* Runs one translated statement. *changes is set to the rows changed
	 * when the statement was an INSERT/UPDATE/DELETE (or other write),
	 * and left alone for a SELECT. res may be NULL. */
	int (*exec)(struct store *st, struct store_res **res, const char *sql,
	    const struct store_param *params, size_t nparams, int64_t *changes);
	/* Runs several ';'-separated statements without parameters
	 * (migrations). */
	int (*script)(struct store *st, const char *sql);
	int (*listen)(struct store *st);
	int (*notify)(struct store *st);
	int (*changed)(struct store *st);
};

/* The store handle shared by store.c and the backends. */
struct store {
	const struct store_ops *ops;
	void *impl;    /* the backend's connection state */
	int in_tx;     /* a transaction is open */
	int tx_failed; /* a statement failed inside it */
	int listening; /* store_listen was called */
	int schema_version;
	int64_t changes;
	char err[STORE_ERR_MAX];
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Records the reason for the last failure on st (printf-style); the text
 * is what store_last_error returns. Never fails. */
void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns a new empty result with ncols columns, or NULL when out of
 * memory. Owned by the caller (store_res_free). */
struct store_res *store_res_new(size_t ncols);

/* Appends an empty row (every cell SQL NULL) to res. Returns 0 or
 * UK_ERR_NOMEM. */
int store_res_add_row(struct store_res *res);

/* Makes cell (row, col) of res a non-NULL value of len bytes and returns
 * the buffer to fill, which has one more byte set to NUL after len (so text
 * is terminated). The buffer belongs to res. Returns NULL when out of memory
 * or out of range. */
unsigned char *
store_res_cell(struct store_res *res, size_t row, size_t col, size_t len);

/* Number of columns of res. */
size_t store_res_cols(const struct store_res *res);

#endif
