/* gateway/httputil.h: the request parsing the gateway must get exactly right: path normalisation, cookies, header name classes. Pure functions, each with a fuzz target. */
#ifndef UK_GW_HTTPUTIL_H
#define UK_GW_HTTPUTIL_H

#include <stddef.h>

/*
 * Normalises a raw request target's path (the part before '?', as it came
 * on the wire, not yet percent-decoded) into out: percent-decoding once;
 * refusing (UK_ERR_BAD_PATH) an encoded '/', '\\', NUL or '%' (so that
 * nothing can be decoded twice), an encoded '?' or '#' (the upstream would
 * split the path elsewhere than the policy did), ';' in any form (path
 * parameters: "..;/" climbs a segment in some servlet containers),
 * control characters, a segment "." or
 * "..", a path not starting with '/', invalid UTF-8, and more than size - 1
 * bytes; collapsing "//" to "/". Returns 0 or UK_ERR_BAD_PATH.
 */
int gw_path_normalise(const char *raw, char *out, size_t size);

/*
 * Finds cookie name in a Cookie header value (RFC 6265 "a=b; c=d") and
 * copies its value into out. A cookie given twice is refused
 * (UK_ERR_BAD_COOKIE: a sibling domain may have planted one); so are
 * values with characters outside the cookie-octet set or longer than
 * size - 1. Returns 0, UK_ERR_NOT_FOUND, UK_ERR_BAD_COOKIE.
 */
int gw_cookie_get(const char *header, const char *name, char *out, size_t size);

/* 1 when name is an identity header in any spelling: case-insensitive,
 * '_' read as '-', starting with "x-ukey-". */
int gw_hdr_is_identity(const char *name);

/* 1 when name is a hop-by-hop header (Connection, Keep-Alive,
 * Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-Connection) or is listed in the
 * request's Connection header value conn (may be NULL). */
int gw_hdr_is_hop_by_hop(const char *name, const char *conn);

#endif
