/* agent/evq.h: the event queue behind GET /v1/events: a bounded ring of recent events, any number of waiting readers. */
#ifndef UK_AGENT_EVQ_H
#define UK_AGENT_EVQ_H

#include <stddef.h>
#include <stdint.h>

/* Longest event kept (JSON text). */
#define AG_EVQ_EVENT_MAX 4096

struct ag_evq;

/* A queue keeping the last cap events (cap >= 1). *out belongs to the
 * caller (ag_evq_free). Returns 0, UK_ERR_INPUT, UK_ERR_NOMEM. */
int ag_evq_new(size_t cap, struct ag_evq **out);

/* Frees q; no reader may be waiting (ag_evq_close first). NULL is a
 * no-op. */
void ag_evq_free(struct ag_evq *q);

/*
 * Adds an event: type ("inserted", "removed", "pin-state", … ; letters,
 * digits and '-' only, at most 32) and json (one line of JSON text, at
 * most AG_EVQ_EVENT_MAX bytes; a newline or CR refuses it). The oldest
 * event goes when the ring is full. Wakes every reader. Thread-safe.
 * Returns 0, UK_ERR_INPUT, UK_ERR_LIMIT, UK_ERR_NOMEM, UK_ERR_CANCELLED
 * (closed).
 */
int ag_evq_push(struct ag_evq *q, const char *type, const char *json);

/* The sequence number the next event will get: where a new reader
 * starts. */
uint64_t ag_evq_next(struct ag_evq *q);

/*
 * Waits up to timeout_ms for the event numbered *seq (or the oldest kept,
 * when the reader fell behind), then copies its type and JSON (malloc'd;
 * caller frees) and advances *seq past it. Returns 0, UK_ERR_TIMEOUT,
 * UK_ERR_CANCELLED (the queue was closed), UK_ERR_NOMEM. Thread-safe.
 */
int ag_evq_wait(struct ag_evq *q, uint64_t *seq, int timeout_ms, char **type,
    char **json);

/* Closes q: waiting and later readers get UK_ERR_CANCELLED at once. */
void ag_evq_close(struct ag_evq *q);

#endif
