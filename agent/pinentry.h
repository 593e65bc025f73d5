/* agent/pinentry.h: asking for a PIN through a pinentry program (Assuan protocol), and the reply parser. */
#ifndef UK_AGENT_PINENTRY_H
#define UK_AGENT_PINENTRY_H

#include <stddef.h>

#include "common/secret.h"

/* Longest Assuan line, the LF included (Assuan's own limit). */
#define AG_ASSUAN_LINE_MAX 1000

/* GPG error numbers (low 16 bits of an Assuan ERR code) that matter. */
#define AG_GPG_ERR_TIMEOUT 62
#define AG_GPG_ERR_CANCELED 99

/* What one PIN dialog shows. Strings are UTF-8; NULL leaves pinentry's
 * default. */
struct ag_pinentry_req {
	const char *program; /* absolute path of the pinentry program */
	int timeout_s;       /* the whole dialog, at most; 1..600 */
	const char *title;
	const char *desc;   /* who asks and for what (origin, certificate) */
	const char *prompt; /* "PIN:" */
	const char *error;  /* shown above the entry (tries left), or NULL */
	const char *repeat; /* when set: ask twice, this is the 2nd prompt */
	const char *repeat_error; /* shown when the two entries differ */
};

/*
 * Runs req->program (no shell; the environment is inherited; the child's
 * standard input and output are pipes to us, nothing else of ours is
 * inherited), says SETTITLE / SETDESC / SETPROMPT / SETERROR /
 * SETTIMEOUT / SETREPEAT with their texts %-escaped, then GETPIN. On
 * success *pin is a new secret (caller frees; may be empty when the
 * operator entered nothing). The child is waited for in every case, and
 * killed when it overstays. Returns 0, UK_ERR_CANCELLED (the operator
 * cancelled), UK_ERR_TIMEOUT (no answer in time), 2012 "PIN dialog
 * unavailable" (cannot be started, died, or spoke nonsense; logged),
 * UK_ERR_LIMIT (an over-long PIN), UK_ERR_NOMEM.
 */
int ag_pinentry_get(const struct ag_pinentry_req *req, struct secret **pin);

/* %-escapes text for an Assuan command parameter ('%', CR, LF and other
 * control characters become %XX) into out (size bytes), cutting at a UTF-8
 * character boundary so that the result fits. Returns the length
 * written. */
size_t ag_assuan_escape(const char *text, char *out, size_t size);

/* Parser of the server's replies, one line at a time. */
struct ag_assuan;

enum ag_assuan_status {
	AG_ASSUAN_MORE = 0, /* the reply goes on */
	AG_ASSUAN_OK,       /* "OK": the reply is complete */
	AG_ASSUAN_ERR,      /* "ERR n": the reply is complete */
};

/* A new parser, ready for a reply. NULL when out of memory. */
struct ag_assuan *ag_assuan_new(void);

/* Wipes (data may be a PIN) and frees a; NULL is a no-op. */
void ag_assuan_free(struct ag_assuan *a);

/*
 * Feeds one line of len bytes without its LF. "OK …" and "ERR n …" end a
 * reply; "D …" appends %-unescaped data (kept in a secret, at most
 * SECRET_MAX bytes in all); "S …" and "# …" are skipped. Anything else
 * (INQUIRE, unknown words, NUL bytes, bad %-escapes, a line longer than
 * AG_ASSUAN_LINE_MAX, a line after the reply ended) is refused. Returns 0
 * with *st set, UK_ERR_INPUT, UK_ERR_LIMIT, UK_ERR_NOMEM.
 */
int ag_assuan_feed(struct ag_assuan *a, const char *line, size_t len,
    enum ag_assuan_status *st);

/* The number of the last "ERR n" (0 when none). */
unsigned long ag_assuan_errcode(const struct ag_assuan *a);

/* Whether a "S PIN_REPEATED" status line was seen. */
int ag_assuan_repeated(const struct ag_assuan *a);

/* Hands over the data collected (a new secret, possibly empty; caller
 * frees) and makes a ready for the next reply. NULL when out of memory. */
struct secret *ag_assuan_take(struct ag_assuan *a);

/* Makes a ready for the next reply, dropping any data. */
void ag_assuan_reset(struct ag_assuan *a);

#endif
