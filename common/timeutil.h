/* common/timeutil.h: time zones, local midnight, RFC 3339. */
#ifndef UK_TIMEUTIL_H
#define UK_TIMEUTIL_H

#include <stddef.h>
#include <time.h>

#define UK_DEFAULT_TZ "Asia/Shanghai"

/* The first instant after now that is 00:00 local time in the IANA zone tz
 * (e.g. "Asia/Shanghai"; NULL means UK_DEFAULT_TZ). Used for the daily
 * password freeze. Returns 0 and sets *out, or UK_ERR_CONFIG_VALUE for an
 * unknown zone. Thread-safe. */
int time_next_midnight(const char *tz, time_t now, time_t *out);

/* Checks that tz names a zone in the system's zone database. */
int time_zone_valid(const char *tz);

/* Formats t as "2026-11-23T12:00:00Z" into out (at least 21 bytes). */
void time_rfc3339(time_t t, char *out, size_t outlen);

/* Parses RFC 3339 ("2011-04-15T00:00:00Z", "...+08:00", optional fraction).
 * Returns 0 or UK_ERR_INPUT. */
int time_parse_rfc3339(const char *s, time_t *out);

#endif
