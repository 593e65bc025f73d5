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

/* Makes the assertion for id at now: header {alg:ES256, typ:JWT, kid},
 * claims iss, aud, sub ("<kind>:<login>"), unit, login, name, roles (array),
 * method, scope, iat, nbf, exp (now + ttl), jti (128-bit random, hex),
 * rid (request id). *out is malloc'd. Thread-safe. Returns 0, UK_ERR_NOMEM,
 * UK_ERR_INTERNAL. */
int gw_jwt_assertion(struct gw_jwt *j, const struct gw_identity *id,
    int64_t now, char **out);

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
