/* common/store.h: the one store interface over SQLite (default) and PostgreSQL. */
#ifndef UK_STORE_H
#define UK_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A store is opened from a location: a file path (SQLite, WAL mode,
 * synchronous=FULL) or a "postgresql://" / "postgres://" URL (libpq).
 * Callers write portable SQL with '?' placeholders; the PostgreSQL backend
 * numbers them ($1, $2, ...). Two spellings are translated per backend:
 *   "FOR UPDATE" at the end of a SELECT is dropped on SQLite, where
 *   store_begin(st, STORE_TX_WRITE) already holds the write lock;
 *   "@BLOB@" becomes BLOB / BYTEA and "@ID@" becomes
 *   "INTEGER PRIMARY KEY AUTOINCREMENT" / "BIGSERIAL PRIMARY KEY" (migrations).
 *
 * Parameters are described by a type string, one letter each:
 *   't' const char * (NULL stores SQL NULL)
 *   'i' int64_t (pass int64_t, not int: write (int64_t)5 for a literal)
 *   'b' const unsigned char *, size_t (NULL pointer stores SQL NULL)
 * Results are copied into a struct store_res owned by the caller.
 *
 * A struct store is used by one thread at a time.
 * All functions return 0 or an enum uk_err code (UK_ERR_STORE_*).
 */

struct store;
struct store_res;

enum store_backend { STORE_SQLITE = 1, STORE_POSTGRES = 2 };

/*
 * Kinds of transaction. Every write kind takes the SQLite write lock at
 * BEGIN (BEGIN IMMEDIATE); they differ in how store_commit makes the
 * commit durable:
 *
 * STORE_TX_WRITE: durable when store_commit returns; on SQLite the fsync
 *   of the WAL happens under the write lock (synchronous=FULL), so commits
 *   are at most one per fsync.
 * STORE_TX_WRITE_GROUP: durable when store_commit returns, as
 *   STORE_TX_WRITE, but on SQLite the commit is written with
 *   synchronous=NORMAL and the write lock released before the fsync, which
 *   concurrent committers of the same process and database share (group
 *   commit: one fsync covers every commit written before it started). On
 *   PostgreSQL the same as STORE_TX_WRITE (the server groups WAL flushes).
 * STORE_TX_WRITE_RELAXED: NOT durable when store_commit returns. The
 *   commit is atomic and in order, and visible to every connection at once,
 *   but after a power failure or an operating-system crash (not a crash of
 *   this program) the last relaxed commits may be missing: on SQLite those
 *   written since the WAL was last synced (by the next durable commit of any
 *   connection, a checkpoint, or the kernel's write-back, about 30 s); on
 *   PostgreSQL (SET LOCAL synchronous_commit = off) up to three times
 *   wal_writer_delay (0.6 s by default). Only a tail is ever lost: a durable
 *   commit makes every earlier relaxed one durable too, so hash chains stay
 *   whole. Use it only for rows whose loss is harmless or on the safe side:
 *   challenges issued (lost: the login is asked again), refusals (their
 *   audit rows and per-IP counts). Never for an attempt that was let
 *   through or counted towards a freeze, never for a CA act, a session or a
 *   grant. store_tx_durable upgrades an open relaxed transaction once it
 *   turns out to need durability.
 */
enum store_tx {
	STORE_TX_READ = 0,          /* plain BEGIN */
	STORE_TX_WRITE = 1,         /* SQLite: BEGIN IMMEDIATE; PG: BEGIN */
	STORE_TX_WRITE_RELAXED = 2, /* see above: may be lost at power loss */
	STORE_TX_WRITE_GROUP = 3,   /* durable, fsync shared (group commit) */
};

/* Opens the store at location and applies every pending migration.
 * On success *out is owned by the caller (store_close). A location that is
 * neither a usable path nor a postgresql:// URL gives UK_ERR_STORE_URL; a
 * database written by a newer program gives UK_ERR_STORE_SCHEMA.
 * Several processes may open and migrate one database at the same time. A
 * new SQLite file is created with mode 0600, only in an existing directory;
 * store_last_error(NULL) says why an open failed. */
int store_open(const char *location, struct store **out);

/* Closes and frees st; NULL is a no-op. */
void store_close(struct store *st);

/* Which backend st is. */
enum store_backend store_backend(const struct store *st);

/* Highest migration number applied. */
int store_schema_version(struct store *st);

/* Transactions. store_begin may not nest. store_commit returns only once the
 * commit is durable. store_rollback is safe to call when no transaction is
 * open (no-op). */
int store_begin(struct store *st, enum store_tx kind);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Makes the open transaction commit durably: a STORE_TX_WRITE_RELAXED one
 * becomes STORE_TX_WRITE_GROUP (PostgreSQL: SET LOCAL synchronous_commit
 * TO DEFAULT); other kinds are left as they are. Returns 0, or
 * UK_ERR_INTERNAL when no transaction is open, or a store error (the
 * transaction is then aborted: roll it back). */
int store_tx_durable(struct store *st);

/* Returns 1 while a transaction opened by store_begin is open, else 0.
 * A failed store_exec inside a transaction aborts it on both backends (as
 * PostgreSQL does): later store_exec calls fail with UK_ERR_STORE_QUERY and
 * store_commit rolls back and fails; only store_rollback clears it. Use
 * "INSERT ... ON CONFLICT DO NOTHING" rather than catching UK_ERR_EXISTS
 * when the transaction must go on. */
int store_in_transaction(const struct store *st);

/* Runs sql with parameters described by types (see above) and returns the
 * rows in *res (may be NULL when the caller wants none). A unique-constraint
 * violation gives UK_ERR_EXISTS; a serialisation failure or lock timeout
 * gives UK_ERR_STORE_BUSY. */
int store_exec(struct store *st, struct store_res **res, const char *sql,
    const char *types, ...);

/* Number of rows changed by the last INSERT/UPDATE/DELETE of store_exec. */
int64_t store_changes(struct store *st);

/* Result access. Rows and columns count from 0. Out-of-range access returns
 * NULL / 0. Text and blobs point into res and live as long as it; both
 * backends give blobs as raw bytes, and every non-NULL value is followed by
 * a NUL byte. store_res_int parses decimal text (a PostgreSQL boolean t/f
 * reads as 1/0); anything else reads as 0. */
size_t store_res_rows(const struct store_res *res);
int store_res_isnull(const struct store_res *res, size_t row, size_t col);
const char *store_res_text(const struct store_res *res, size_t row, size_t col);
int64_t store_res_int(const struct store_res *res, size_t row, size_t col);
const unsigned char *store_res_blob(const struct store_res *res, size_t row,
    size_t col, size_t *len);
void store_res_free(struct store_res *res);

/* Change notification between processes, for caches (the OCSP responder).
 * store_listen subscribes st to changes announced by store_notify on any
 * connection. store_changed returns 1 when another connection committed a
 * change since the previous call (SQLite: PRAGMA data_version, any commit;
 * PostgreSQL: a NOTIFY on the "ukey_store" channel), 0 when not, or a
 * negative enum uk_err value on failure. Cheap enough to call per request. */
int store_listen(struct store *st);
int store_notify(struct store *st);
int store_changed(struct store *st);

/* Why the most recent failing call on st failed, as one line of English
 * text for logs ("" if none has failed). With st NULL: why the calling
 * thread's last store_open failed ("" if it succeeded). Never NULL; valid
 * until the next call on st (or the next store_open in this thread).
 * Contains no passwords; it may quote a value the database rejected. */
const char *store_last_error(const struct store *st);

/* 1 when loc is a libpq keyword/value connection string ("host=db
 * dbname=x ..."), which store_open refuses (UK_ERR_STORE_URL) rather than
 * take it for a file name; else 0. */
int store_location_is_conninfo(const char *loc);

/*
 * Writes loc into buf (size bytes, always NUL-terminated) for display, with
 * every password removed: a PostgreSQL URL or keyword string is parsed with
 * libpq and printed as its options, each password-like option (libpq's
 * dispchar "*") shown as "(secret, set)"; a URL whose authority holds more
 * than one '@' (an unescaped '@' in the password), or that libpq cannot
 * parse, is not shown at all. File paths are copied. Returns 0, or
 * UK_ERR_STORE_URL when the location was not shown (buf then says why).
 */
int store_location_redact(const char *loc, char *buf, size_t size);

#endif
