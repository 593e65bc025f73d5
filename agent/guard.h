/* agent/guard.h: the lockout guard: a persistent per-token count of consecutive wrong PINs. */
#ifndef UK_AGENT_GUARD_H
#define UK_AGENT_GUARD_H

#include <jansson.h>

#include "pkcs11/token.h"

/*
 * The guard keeps one small file per token serial number and PIN kind in
 * its directory (mode 0700), under an flock(2) on "lock" in the same
 * directory, so that the server and command-line uses never lose a count.
 * A file holds two checksummed slots, each a line
 *
 *     seq 0000000007 failures 1 pending 0 sum 5d1c3a2b
 *
 * the newest whole one being the count; a write goes to the other slot
 * and is fdatasync'd before the call returns (one flush: the file's size
 * never changes once made), so a write torn by a crash leaves the one
 * before it.
 *
 * Before a PIN goes to the token ag_guard_begin records "pending 1"; when
 * the token has answered ag_guard_end resolves it. A process that dies in
 * between leaves "pending 1", which counts as a wrong PIN: an attempt is
 * never lost, and one that was counted is never counted again. When the
 * pending record cannot be written (a full disk) the attempt is refused
 * before the token is touched. At AG_GUARD_TRIES consecutive failures the
 * token is locked for the agent, whatever the token itself says; a correct
 * PIN before that resets the count.
 */

#define AG_GUARD_TRIES 6

enum ag_pin_kind { AG_PIN_USER = 0, AG_PIN_SO = 1 };

enum ag_guard_outcome {
	AG_GUARD_OK = 0, /* the PIN was right: reset */
	AG_GUARD_WRONG,  /* the token said the PIN was wrong: count it */
	AG_GUARD_NONE,   /* the PIN never reached the token: no count */
};

/* A token's count as the guard sees it. */
struct ag_guard_state {
	int failures; /* consecutive wrong PINs, a pending attempt included */
	int pending;  /* an attempt was begun and not resolved */
	int left;     /* AG_GUARD_TRIES - failures, never below 0 */
};

struct ag_guard;

/* Opens the guard on directory dir (absolute), creating it (and missing
 * parents) with mode 0700, and tightening an existing one of ours to 0700.
 * *out belongs to the caller (ag_guard_free). Returns 0, UK_ERR_IO (cannot
 * create or use it; not a directory; owned by someone else),
 * UK_ERR_NOMEM. */
int ag_guard_new(const char *dir, struct ag_guard **out);

/* Frees g; NULL is a no-op. */
void ag_guard_free(struct ag_guard *g);

/* The guard's directory (owned by g). */
const char *ag_guard_dir(const struct ag_guard *g);

/* Reads the count of serial's PIN of kind into *st (no file: nothing
 * counted). Returns 0, UK_ERR_IO (unreadable or damaged file: callers
 * treat the token as locked rather than guess), UK_ERR_INPUT (empty
 * serial). */
int ag_guard_read(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st);

/* Begins an attempt: refuses when the count is used up
 * (UK_ERR_TOKEN_PIN_LOCKED), else folds an earlier unresolved attempt into
 * the count and durably records a pending one. *st gets the state before
 * this attempt. Returns 0, UK_ERR_TOKEN_PIN_LOCKED, UK_ERR_IO (could not be
 * recorded: do not try the PIN), UK_ERR_INPUT. */
int ag_guard_begin(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st);

/* Resolves the pending attempt with outcome o; *st (may be NULL) gets the
 * new state. When the write fails the pending record stays and counts as a
 * wrong PIN (the safe side); the new state is still reported. Returns 0 or
 * UK_ERR_IO. */
int ag_guard_end(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    enum ag_guard_outcome o, struct ag_guard_state *st);

/* The state ag_guard_end will record for outcome o of the attempt whose
 * ag_guard_begin reported before: to answer before the resolution is
 * written (a resolution lost in a crash counts as a wrong PIN). */
void ag_guard_after(const struct ag_guard_state *before,
    enum ag_guard_outcome o, struct ag_guard_state *after);

/* Sets serial's count of kind back to nothing (after an SO unblock set a
 * new user PIN). Returns 0, UK_ERR_IO, UK_ERR_INPUT. */
int ag_guard_reset(struct ag_guard *g, const char *serial, enum ag_pin_kind k);

/* Writes the path of serial's file of kind into out (size bytes), for
 * tests and doctor. Returns 0, UK_ERR_LIMIT, UK_ERR_INPUT. */
int ag_guard_path(const struct ag_guard *g, const char *serial,
    enum ag_pin_kind k, char *out, size_t size);

/* The state name for n tries left: "OK" (all), "COUNT_LOW" (2 to 5),
 * "FINAL_TRY" (1), "LOCKED" (0). Static. */
const char *ag_guard_state_name(int left);

/*
 * Merges the guard's view with the token's flags (st may be NULL when the
 * token could not be read) into the PIN object the API answers with:
 * {"state": …, "retriesLeft": n, "source": "agent"|"token"}. The stricter
 * view wins: "token" when the token's flags say less is left than the
 * guard does (or LOCKED, NOT_INITIALISED), else "agent"; retriesLeft is
 * the smaller known count. TO_BE_CHANGED from the token is kept when
 * nothing stricter applies. Returns a new reference or NULL (no memory).
 */
json_t *ag_guard_pin_json(const struct ag_guard_state *g,
    const struct p11_status *st, enum ag_pin_kind k);

#endif
