/* agent/errinfo.h: the agent's error answers: proposed codes, retries-aware messages, event ids, the PIN part. */
#ifndef UK_AGENT_ERRINFO_H
#define UK_AGENT_ERRINFO_H

#include <stddef.h>

#include <jansson.h>

#include "common/errors.h"

/* The catalogue entry for code (uk_error_info). Never NULL; static. */
const struct uk_error_info *ag_error_info(int code);

/* Whether lang (an Accept-Language value, may be NULL) asks for English
 * first; Chinese otherwise. */
int ag_lang_en(const char *lang);

/* Writes a fresh event id (16 upper-case hex digits) into out, which must
 * hold 17 bytes. The id is logged with the error it names, so the helpdesk
 * can find the log line. */
void ag_event_id(char *out);

/*
 * Builds the error body
 *   {"error":{"code":"UK-2003","message":…,"event":…,"remedy":…},
 *    "pin":{"state":…,"retriesLeft":n,"source":…}}
 * in Chinese (en = 0) or English. pin (may be NULL) is the PIN state
 * object; it is copied. For UK_ERR_TOKEN_PIN_INCORRECT with a known
 * retriesLeft the message says how many tries are left
 * (「PIN码错误，还可尝试2次」). event may be NULL. Returns a malloc'd string
 * (caller frees) or NULL when out of memory.
 */
char *ag_error_body(int code, int en, const char *event, const json_t *pin);

/* The message ag_error_body puts in the body, into out (size bytes). */
void
ag_error_message(int code, int en, const json_t *pin, char *out, size_t size);

#endif
