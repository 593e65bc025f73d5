/* gateway/authcert.h: the UKey login: challenges bound to the browser, and the verification of the agent's signed token (format, certificate, chain, revocation, signature, binding, operator, unit). */
#ifndef UK_GW_AUTHCERT_H
#define UK_GW_AUTHCERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "gateway/identity.h"

struct store;
struct gw_authcert;

/* Where the trust comes from. Own-CA certificates (the CA in the store)
 * are checked against the store's certs table for revocation; external
 * anchors by CRL files or OCSP, failing closed. */
struct gw_authcert_conf {
	const char *origin;         /* the gateway's own origin, exact:
	                               "https://gjj.example.cn" */
	const char *const *anchors; /* PEM files of external trust anchors
	                               (roots or intermediates), NULL-ended */
	const char *const *crls;    /* CRL files for external anchors */
	const char *ocsp_url;       /* OCSP for external anchors, or NULL */
	int challenge_ttl;          /* seconds, default 300 */
};

/* Makes the verifier state: loads the anchors and CRLs and the own CA from
 * st (when initialised). *out belongs to the caller. Thread-safe after
 * creation. Returns 0, UK_ERR_CONFIG_VALUE (an unreadable file, named in
 * the log), UK_ERR_NOMEM. */
int gw_authcert_new(struct store *st, const struct gw_authcert_conf *conf,
    struct gw_authcert **out);
void gw_authcert_free(struct gw_authcert *ac);

/* Issues a challenge bound to browser (the pre-login cookie's value): a
 * base64 text of 32 random bytes into nonce (45 bytes with the NUL),
 * stored as its SHA-256 with the browser's SHA-256 and now + ttl. Returns
 * 0 or a store error. */
int gw_challenge_new(struct gw_authcert *ac, struct store *st,
    const char *browser, int64_t now, char nonce[45]);

/* What a verification concluded, for the audit row and the answer. */
struct gw_authcert_result {
	int code;            /* 0 or the refusal's UK_ERR_* */
	char subject[256];   /* the certificate's subject, when parsed */
	char sha256[65];     /* of the certificate's DER, when parsed */
	char detail[256];    /* one line for the log and audit */
	char nonce_hash[65]; /* gw_authcert_check: the challenge to take
	                        (SHA-256 hex of its nonce) when accepted;
	                        "" otherwise */
};

/*
 * Verifies a login token (the agent's JSON answer, as sent by the page in
 * POST /auth/cert {"token": {...}}; token_json is the token object's JSON
 * text, at most 16 KiB) for browser at now: gw_authcert_check, then, when
 * accepted, gw_authcert_take in the caller's open transaction or else in a
 * relaxed one of its own (single use: a replay finds nothing,
 * UK_ERR_CHALLENGE_UNKNOWN; a refused token burns its challenge). The
 * challenge must belong to browser
 * (UK_ERR_CHALLENGE_BROWSER) and be unexpired; the format
 * (UK_ERR_AUTH_TOKEN_MALFORMED); the certificate's purpose, chain,
 * validity and revocation (UK_ERR_CERT_*); the token's "origin" (the
 * agent says which origin it signed for) when present must be the
 * configured one (UK_ERR_AUTH_TOKEN_ORIGIN); the signature over
 * H(H(origin) || H(nonce)) with the configured origin, never the token's
 * (UK_ERR_SIGNATURE_INVALID); the binding
 * (UK_ERR_CERT_UNBOUND); the operator active (UK_ERR_LOGIN_OPERATOR_LEFT,
 * UK_ERR_LOGIN_DISABLED); the unit's agreement (UK_ERR_POLICY_AGREEMENT).
 * On success *id is filled (method "cert", scope "full", cert_sig_at now).
 * Staff certificates give a staff identity. Returns 0 when decided
 * (res->code says how) or a store/internal error.
 */
int gw_authcert_verify(struct gw_authcert *ac, struct store *st,
    const char *browser, const char *token_json, size_t len, int64_t now,
    struct gw_identity *id, struct gw_authcert_result *res);

/*
 * The same with the nonce given by the caller (the "nonce" of the POST
 * body) instead of the token's own "nonce" member; nonce NULL means the
 * token's. gw_authcert_verify is this with nonce NULL: the page adds the
 * nonce it fetched from /auth/challenge to the agent's token object as
 * "nonce" (the agent's answer does not echo it). Returns as
 * gw_authcert_verify.
 */
int gw_authcert_verify_nonce(struct gw_authcert *ac, struct store *st,
    const char *browser, const char *nonce, const char *token_json, size_t len,
    int64_t now, struct gw_identity *id, struct gw_authcert_result *res);

/*
 * The first half of a UKey login, which writes nothing on success: the
 * checks of gw_authcert_verify_nonce with the challenge only read (SELECT
 * by the nonce's hash: there, for browser, unexpired), not taken. When
 * res->code is 0, *id is filled and res->nonce_hash names the challenge;
 * the caller then calls gw_authcert_take inside the durable write
 * transaction (STORE_TX_WRITE_GROUP) that records the login (audit row,
 * session), so that an accepted login costs one durable commit, and refuses
 * the login if the take finds the challenge gone. A refusal of a token whose
 * challenge exists burns the challenge all the same (single use), in the
 * caller's transaction when one is open, else in a relaxed one of its own;
 * a challenge that does not exist costs no write. Returns 0 when decided
 * (res->code says how) or a store/internal error (the challenge, if read,
 * burnt as for a refusal).
 */
int gw_authcert_check(struct gw_authcert *ac, struct store *st,
    const char *browser, const char *nonce, const char *token_json, size_t len,
    int64_t now, struct gw_identity *id, struct gw_authcert_result *res);

/*
 * The second half: inside the caller's open write transaction, takes the
 * challenge gw_authcert_check accepted (res->nonce_hash) out of the store in
 * one statement (DELETE ... RETURNING). When it is gone (another post of the
 * same token took it first: a replay), res->code becomes
 * UK_ERR_CHALLENGE_UNKNOWN and the caller must roll back and refuse; of two
 * concurrent posts of one token exactly one gets 0. res->nonce_hash is
 * cleared. Returns 0 (res->code says how), UK_ERR_INTERNAL when res is not an
 * accepted check, or a store error.
 */
int gw_authcert_take(struct store *st, struct gw_authcert_result *res);

/* What the parsed-certificate cache did since ac was made: lookups that
 * found the certificate (*hits), lookups that did not (*misses), and the
 * certificates held now (*entries). Any pointer may be NULL. */
void gw_authcert_cache_stats(struct gw_authcert *ac, uint64_t *hits,
    uint64_t *misses, size_t *entries);

/* Limits of the token's parts. */
#define GW_AUTHTOKEN_MAX 16384   /* the token's JSON text, bytes */
#define GW_AUTHCERT_DER_MAX 8192 /* the certificate's DER, bytes */
#define GW_AUTHSIG_MAX 512       /* the signature (RSA 4096), bytes */
#define GW_ORIGIN_MAX 255        /* an origin's text, bytes */
#define GW_NONCE_MAX 64          /* a nonce's text as sent, bytes */

/* A token taken apart by gw_authtoken_parse; release with
 * gw_authtoken_clear. */
struct gw_authtoken {
	char alg[6];        /* "ES256" | "RS256" | "PS256" | "SM2" */
	X509 *cert;         /* parsed from der; owned */
	unsigned char *der; /* the certificate's DER; owned */
	size_t der_len;
	unsigned char sig[GW_AUTHSIG_MAX];
	size_t sig_len;
	int has_origin; /* "origin" was present */
	char origin[GW_ORIGIN_MAX + 1];
	int has_nonce; /* "nonce" was present */
	char nonce[GW_NONCE_MAX + 1];
};

/*
 * Parses and checks the token's structure only (no store, no trust): one
 * JSON object of at most GW_AUTHTOKEN_MAX bytes without duplicate keys;
 * "format" exactly "ukey-auth:1.0"; "algorithm" exactly one of the four;
 * "unverifiedCertificate" strict base64 of one DER certificate of at most
 * GW_AUTHCERT_DER_MAX bytes with nothing after it; "signature" strict
 * base64 of 1..GW_AUTHSIG_MAX bytes; "origin" and "nonce", when present,
 * strings within their limits; the certificate's key fitting the algorithm
 * (ES256: P-256, RS256/PS256: RSA, SM2: SM2). Other members are ignored.
 * out is filled on success and zeroed on failure (nothing to clear then).
 * Returns 0, UK_ERR_AUTH_TOKEN_MALFORMED or UK_ERR_NOMEM.
 */
int gw_authtoken_parse(const char *json, size_t len, struct gw_authtoken *out);

/* Frees what t holds and zeroes it; NULL is a no-op. */
void gw_authtoken_clear(struct gw_authtoken *t);

/*
 * The value an agent signs for origin and nonce (the base64 text):
 * H(origin) || H(nonce), 64 bytes, with H SHA-256, or SM3 when alg is
 * "SM2"; the signature algorithm hashes it once more (SM2 with the
 * distinguishing ID "1234567812345678"). Returns 0 or UK_ERR_INTERNAL.
 */
int gw_authcert_tbs(const char *alg, const char *origin, const char *nonce,
    unsigned char out[64]);

#endif
