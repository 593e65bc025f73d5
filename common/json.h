/* common/json.h: strict JSON intake over jansson, and the API's error body. */
#ifndef UK_JSON_H
#define UK_JSON_H

#include <stddef.h>
#include <jansson.h>

/* Parses len bytes as one JSON object: duplicate keys rejected, at most
 * maxlen bytes, nothing after the value. Returns 0 and a new reference in
 * *out, UK_ERR_LIMIT or UK_ERR_JSON. */
/* Makes jansson wipe every block it frees (PINs and passwords pass through
 * its parser buffers and strings). Call once at start-up, before any JSON
 * is handled and before threads start. */
void json_wipe_on_free(void);

int json_parse_object(const char *buf, size_t len, size_t maxlen, json_t **out);

/* Gets obj[key] as a string of at most maxlen bytes without NUL bytes.
 * Returns 0 and a pointer into obj, UK_ERR_NOT_FOUND when absent (and
 * required is 0 the caller may ignore it), or UK_ERR_INPUT for a wrong type
 * or length. */
int json_get_string(const json_t *obj, const char *key, size_t maxlen,
    const char **out);

/* Checks that obj has no keys other than the NULL-terminated list allowed.
 * Returns 0 or UK_ERR_INPUT. */
int json_only_keys(const json_t *obj, const char *const *allowed);

/* Builds {"error":{"code":"UK-4103","message":…,"event":…,"remedy":…}} for
 * code in language lang ("zh" or "en"); event may be NULL. Returns a
 * malloc'd string (caller frees) or NULL. */
char *json_error_body(int code, const char *lang, const char *event);

#endif
