/* gateway/jwt.h: the identity assertion passed to the business module: an ES256 JWT, and the JWKS it is checked with. */
#ifndef UK_GW_JWT_H
#define UK_GW_JWT_H

#include <stdint.h>

#include "gateway/identity.h"

struct store;
struct gw_jwt;

/*
 * Opens this gateway's assertion key: the EC P-256 private key in PEM at
 * key_path, created (mode 0600, O_EXCL) when missing. Its public half is
 * registered in the store's assertion_keys (kid = base64url of the SHA-256
 * of the key's JWK thumbprint input, RFC 7638), so that every gateway's
 * keys appear in the JWKS. issuer and audience are copied; ttl in seconds
 * (default 60). *out belongs to the caller. Returns 0, UK_ERR_IO,
 * UK_ERR_CA_KEY (unreadable key), store errors.
 */
int gw_jwt_open(struct store *st, const char *key_path, const char *issuer,
    const char *audience, int ttl, struct gw_jwt **out);
void gw_jwt_free(struct gw_jwt *j);

/* Makes a new assertion for id at now: header {alg:ES256, typ:JWT, kid},
 * claims iss, aud, sub ("<kind>:<login>"), unit, login, name, roles (array),
 * method, scope, iat, nbf, exp (now + ttl), jti (128-bit random, hex, new
 * for every assertion made). The request id is not a claim (an assertion
 * serves several requests, see gw_jwt_assertion_cached): the upstream gets
 * it in X-Ukey-Request-Id. *out is malloc'd. Thread-safe. Returns 0,
 * UK_ERR_NOMEM, UK_ERR_INTERNAL. */
int gw_jwt_assertion(struct gw_jwt *j, const struct gw_identity *id,
    int64_t now, char **out);

/*
 * As gw_jwt_assertion, but an assertion made for the same session sid (its
 * id hash; NULL: none known) and the same identity fields (kind,
 * principal_id, unit, login, name, roles, method, scope, unit_authorised,
 * cert_sig_at) at most min(ttl / 2, 30) seconds before now is handed out
 * again instead of signing a new one (one ES256 signature saved per
 * request): a reused assertion has the same jti and iat and at least
 * ttl / 2 seconds left. Any change of those fields (roles, a step-up
 * signature, ...) makes a new one. The cache is bounded (1,024 assertions,
 * least recently used replaced) and never consulted for a session the
 * caller has not just found valid: a session ended (logout, revocation,
 * timeout) is refused before an assertion is asked for. *out is malloc'd
 * (a copy). Thread-safe. Returns as gw_jwt_assertion.
 */
int gw_jwt_assertion_cached(struct gw_jwt *j, const char *sid,
    const struct gw_identity *id, int64_t now, char **out);

/* How many gw_jwt_assertion_cached calls reused an assertion (*hits) and
 * signed a new one (*misses); either pointer may be NULL. */
void gw_jwt_cache_stats(struct gw_jwt *j, uint64_t *hits, uint64_t *misses);

/* The JWKS document {"keys":[...]} of every key in assertion_keys not
 * retired, malloc'd into *out. Returns 0 or a store/memory error. */
int gw_jwks_json(struct store *st, char **out);

/* Verifies token (for tests and the demo hall's C counterpart): signature
 * against jwks_json, alg ES256 only, iss, aud, exp/nbf at now with leeway
 * seconds. Returns 0 or UK_ERR_JWT_INVALID. */
int gw_jwt_verify(const char *token, const char *jwks_json, const char *issuer,
    const char *audience, int64_t now, int leeway);

/* As gw_jwt_verify; also sets *claims (when not NULL) to the verified
 * claims as compact JSON (malloc'd, caller frees; NULL on failure) and *why
 * (when not NULL) to a static English reason ("" on success). */
int gw_jwt_verify_ex(const char *token, const char *jwks_json,
    const char *issuer, const char *audience, int64_t now, int leeway,
    char **claims, const char **why);

#endif
