/* gateway/authcert.h: the UKey login: challenges bound to the browser, and the verification of the agent's signed token (format, certificate, chain, revocation, signature, binding, operator, unit). */
#ifndef UK_GW_AUTHCERT_H
#define UK_GW_AUTHCERT_H

#include <stddef.h>
#include <stdint.h>

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
	int code;             /* 0 or the refusal's UK_ERR_* */
	char subject[256];    /* the certificate's subject, when parsed */
	char sha256[65];      /* of the certificate's DER, when parsed */
	char detail[256];     /* one line for the log and audit */
};

/*
 * Verifies a login token (the agent's JSON answer, as sent by the page in
 * POST /auth/cert {"token": {...}}; token_json is the token object's JSON
 * text, at most 16 KiB) for browser at now: the nonce is taken out of the
 * store in one step (single use: a replay finds nothing,
 * UK_ERR_CHALLENGE_UNKNOWN), must belong to browser
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

#endif
