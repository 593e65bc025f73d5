/* gateway/session.h: server-side sessions (the cookie holds 256 random bits, the store their SHA-256), idle and absolute timeouts, revocation, CSRF tokens, and the pre-login cookie. */
#ifndef UK_GW_SESSION_H
#define UK_GW_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/identity.h"

struct store;

/* A cookie value or token: base64url of 32 random bytes, and its NUL. */
#define GW_TOKEN_LEN 43
#define GW_TOKEN_SIZE (GW_TOKEN_LEN + 1)

/* last_seen is written at most this often (seconds). */
#define GW_SESSION_TOUCH 60

struct gw_session_conf {
	int idle;     /* seconds without a request (default 1800) */
	int absolute; /* seconds after creation (default 28800) */
};

/* A session found by gw_session_lookup. */
struct gw_session {
	char id_hash[65]; /* SHA-256 hex of the cookie value */
	struct gw_identity id;
	char csrf[GW_TOKEN_SIZE];
	int64_t created_at;
	int64_t last_seen;
	int64_t expires_at; /* the absolute end */
	int must_change;    /* a password session of an operator whose
	                       password is temporary */
};

/*
 * Makes a session for id (kind, principal_id, unit, scope, method,
 * cert_sig_at are stored; the rest is read from the principal's row on each
 * lookup) at now: a fresh cookie value (32 random bytes, base64url) into
 * cookie and a fresh CSRF token into csrf. Only the SHA-256 of the cookie
 * value is stored. ip and user_agent (may be NULL) are kept for the
 * record. Returns 0 or a store error.
 */
int gw_session_create(struct store *st, const struct gw_session_conf *conf,
    const struct gw_identity *id, const char *ip, const char *user_agent,
    int64_t now, char cookie[GW_TOKEN_SIZE], char csrf[GW_TOKEN_SIZE]);

/*
 * Finds the session whose cookie value is cookie at now and fills *out
 * with its identity, read afresh from the operator (or staff) and unit
 * rows: login, name, roles, unit_authorised. A cookie that is not of the
 * right form, or unknown: UK_ERR_SESSION_NONE; past its absolute end or
 * idle longer than conf->idle: UK_ERR_SESSION_EXPIRED; revoked, or the
 * principal no longer active: UK_ERR_SESSION_REVOKED. A password
 * session of an operator whose password is temporary (set with
 * --temporary) answers UK_ERR_PASSWORD_MUST_CHANGE with *out filled in
 * and out->must_change set: only the password change (and logout, and
 * who-am-I) may go on with it; every other caller treats the code as a
 * refusal. last_seen is updated when it is GW_SESSION_TOUCH seconds old or
 * more. Returns 0 or one of those, or a store error.
 */
int gw_session_lookup(struct store *st, const struct gw_session_conf *conf,
    const char *cookie, int64_t now, struct gw_session *out);

/* Records a certificate signature seen at now in the session (step-up).
 * Returns 0 or a store error. */
int gw_session_cert_sig(struct store *st, const char *id_hash, int64_t now);

/* Ends the session with cookie value cookie (revoked_at = now). Unknown
 * cookies are ignored. Returns 0 or a store error. */
int gw_session_logout(struct store *st, const char *cookie, int64_t now);

/* Number of sessions neither revoked nor expired at now. Returns 0 and
 * *n, or a store error. */
int gw_sessions_active(struct store *st, const struct gw_session_conf *conf,
    int64_t now, int64_t *n);

/* Deletes sessions that ended more than a day before now. Returns 0 or a
 * store error. */
int gw_sessions_purge(struct store *st, int64_t now);

/* A fresh random token (32 bytes, base64url) into out. Returns 0 or
 * UK_ERR_INTERNAL. */
int gw_token_new(char out[GW_TOKEN_SIZE]);

/* 1 when s has the form of a token (43 base64url characters), else 0. */
int gw_token_form(const char *s);

/* Lowercase hex SHA-256 of the NUL-terminated s into hex. */
void gw_sha256_hex(const char *s, char hex[65]);

/* Constant-time check of a CSRF token given by the client against the
 * expected one. Returns 0 when they match, else UK_ERR_CSRF (given NULL or
 * of another length included). */
int gw_csrf_check(const char *expected, const char *given);

/*
 * The CSRF token for login requests made before a session exists: derived
 * from the pre-login cookie's value pre as base64url(SHA-256("ukey-gateway
 * pre-login csrf" NUL pre)). The page gets it from GET /auth/challenge and
 * sends it in X-CSRF-Token; a page on another origin can neither read the
 * HttpOnly __Host- cookie nor the challenge's answer, and cannot plant a
 * __Host- cookie, so it cannot produce a matching pair. No server key is
 * needed, so every gateway of a cluster agrees.
 */
void gw_pre_csrf(const char *pre, char out[GW_TOKEN_SIZE]);

/* Set-Cookie values: the session cookie (no Max-Age: it ends with the
 * browser; the server enforces the timeouts), the pre-login cookie
 * (Max-Age max_age) and one that deletes name. */
void gw_cookie_session(const char *value, char *out, size_t size);
void gw_cookie_pre(const char *value, int max_age, char *out, size_t size);
void gw_cookie_clear(const char *name, char *out, size_t size);

#endif
