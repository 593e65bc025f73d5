/* common/audit.h: the append-only, hash-chained audit trail in the store. */
#ifndef UK_AUDIT_H
#define UK_AUDIT_H

#include <stdint.h>

#include "common/errors.h"

struct store;

/*
 * Each row of table audit carries hash = SHA-256 (lowercase hex) over
 *   prev_hash (64 hex characters; 64 '0' for the first row)
 *   followed by, for each of at (decimal text), event_id, event, actor,
 *   subject, detail: 0x00 when SQL NULL, else 0x01, the length as 8 bytes
 *   big-endian, and the bytes,
 * and, only when at least one of ip, user_agent, result is not SQL NULL,
 * those three in the same encoding after detail (rows without them keep the
 * original formula); prev_hash is the hash of the row before it in seq
 * order. Changing,
 * inserting or deleting a row in the middle breaks the chain at that row or
 * the next; removing rows from the end is not detectable from the table
 * alone (compare with an exported last hash for that). Since migration 3
 * the database itself refuses UPDATE and DELETE on audit (triggers); the
 * chain still catches someone who drops them.
 */

/* One event. event is required; every other field may be NULL. */
struct audit_event {
	const char *event;   /* "admin.unit.add", "login.password", ... */
	const char *actor;   /* who did it: "staff:<login>", "cli:<user>" */
	const char *subject; /* what it was done to: "operator:<login>" */
	const char *detail;  /* JSON text */
	const char *ip;      /* the request's client address */
	const char *user_agent;
	const char *result; /* "ok" or an error id such as "UK-4101" */
};

/* Appends ev to the audit trail, as audit_append below (same transaction,
 * locking and event_id rules), with the request's ip, user agent and
 * result. Returns 0 or an enum uk_err code (UK_ERR_INPUT without event). */
int audit_append_ex(struct store *st, const struct audit_event *ev,
    char event_id[33]);

/* Appends one event to the audit trail (audit_append_ex with ip, user agent
 * and result NULL). event is required; actor, subject
 * and detail may be NULL. When st has a transaction open the row is part of
 * it (and vanishes if it rolls back); otherwise audit_append runs its own
 * write transaction. Concurrent appenders are serialised (a table lock on
 * PostgreSQL, the write lock on SQLite); inside a STORE_TX_READ transaction
 * on SQLite a concurrent append gives UK_ERR_STORE_BUSY. On success, when
 * event_id is not NULL, it receives the row's event id: 32 uppercase hex
 * characters of 16 random bytes, the number shown to people as "event".
 * Returns 0 or an enum uk_err code. */
int audit_append(struct store *st, const char *event, const char *actor,
    const char *subject, const char *detail, char event_id[33]);

/* Walks the whole audit table in seq order and checks every prev_hash and
 * hash. Returns 0 when the chain is intact (an empty table is); when it is
 * broken returns UK_ERR_STORE_AUDIT_CHAIN and sets *bad_seq to the seq of the first
 * row that does not verify; other failures return their enum uk_err code
 * with *bad_seq 0. bad_seq may be NULL. */
int audit_verify_chain(struct store *st, int64_t *bad_seq);

#endif
