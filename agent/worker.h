/* agent/worker.h: the token worker process (the only one that loads the PKCS#11 module and holds PINs) and the HTTP front's handle on it. */
#ifndef UK_AGENT_WORKER_H
#define UK_AGENT_WORKER_H

#include <sys/types.h>

#include "agent/ipc.h"
#include "agent/tokop.h"

/* --- in the worker process --- */

/*
 * Answers one request message with a new AG_MSG_RESULT in *resp (caller
 * frees): CODE, and BODY, PINSTATE and SERIAL when there are. PIN fields
 * are accepted only when pin_in_request is set (pin_source = request);
 * otherwise a request carrying one is refused with UK_ERR_INPUT and
 * operations ask through t's pinentry. Returns 0 (the answer may carry an
 * error code) or UK_ERR_NOMEM.
 */
int ag_worker_handle(struct ag_tokop *t, int pin_in_request,
    const struct ag_msg *req, struct ag_msg **resp);

/* The worker's loop on fd: one request at a time until the front closes
 * its end. Returns 0 at end of file, or the code that broke the stream
 * (a malformed or oversized frame ends the worker: the front starts a new
 * one). */
int ag_worker_serve(int fd, struct ag_tokop *t, int pin_in_request);

/* --- in the HTTP front --- */

struct ag_worker;

/*
 * Starts the worker: exe (absolute path of ukey-agent) is run with
 * "-c config" (config may be NULL: built-in defaults) and the hidden
 * subcommand "__worker", with one end of a socketpair as descriptor 3 and
 * nothing else of ours. timeout_ms bounds each call. *out belongs to the
 * caller (ag_worker_free). Returns 0, UK_ERR_TOKEN_MODULE (cannot start),
 * UK_ERR_NOMEM.
 */
int ag_worker_new(const char *exe, const char *config, int timeout_ms,
    struct ag_worker **out);

/* Closes the worker's socket (it leaves), waits a moment, kills it if it
 * stays, frees w. NULL is a no-op. */
void ag_worker_free(struct ag_worker *w);

/* Claims the worker for one operation. Returns 0, or UK_ERR_TOKEN_BUSY while
 * another operation is in flight. Thread-safe. */
int ag_worker_begin(struct ag_worker *w);

/* Releases the claim of ag_worker_begin. */
void ag_worker_end(struct ag_worker *w);

/* Whether an operation is in flight now (for status answers). */
int ag_worker_busy(struct ag_worker *w);

/*
 * Sends req and waits for the answer (between ag_worker_begin and
 * ag_worker_end). A worker that is gone before the request reaches it is
 * started again and the request sent once more (no PIN was tried). A
 * worker that dies, answers nonsense or overstays after the request
 * reached it is killed and started again, and the call fails with
 * UK_ERR_TOKEN_MODULE (UK_ERR_TIMEOUT when it overstayed). *resp is an
 * AG_MSG_RESULT (caller frees).
 */
int ag_worker_call(struct ag_worker *w, const struct ag_msg *req,
    struct ag_msg **resp);

/* Card events said a UKey came or went: before its next request the
 * worker rebuilds its PKCS#11 context (sessions of a key that was pulled
 * out are useless with the key put back). Thread-safe. */
void ag_worker_hint_reload(struct ag_worker *w);

/* For shutting down: stops the worker at once (an operation under way is
 * aborted: its caller gets UK_ERR_TOKEN_MODULE) and starts no other, so
 * that threads waiting in ag_worker_call return. w stays to be freed with
 * ag_worker_free once they have. Thread-safe. */
void ag_worker_cancel(struct ag_worker *w);

/* The worker's process id, or -1 when none runs. */
pid_t ag_worker_pid(struct ag_worker *w);

#endif
