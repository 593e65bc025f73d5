/* certs/verify.h: the certificate verifier (chain, time, purpose, revocation, strict leaf rules, SM2 IDs) and login-signature checks. */
#ifndef UK_CERTS_VERIFY_H
#define UK_CERTS_VERIFY_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * One verifier holds the trust configuration: trust anchors, untrusted
 * intermediates, CRLs and options. It is configured from one thread; after
 * that ca_verify() may be called from several threads at once on the same
 * verifier (the revocation callback must then be thread-safe too).
 *
 * ca_verify() runs OpenSSL's RFC 5280 path validation (X509_verify_cert, in
 * X509_V_FLAG_X509_STRICT mode, partial chains allowed: any configured
 * anchor is a trust anchor, self-signed or not) and adds what a login
 * verifier needs on top:
 *   - strict leaf rules, checked before anything else: X.509 v3, not a CA
 *     (no basicConstraints cA, no keyCertSign, none of the CA-only
 *     extensions nameConstraints, policyConstraints, policyMappings,
 *     inhibitAnyPolicy), serial 1 to 20 octets, positive, non-zero,
 *     extendedKeyUsage (if present) not empty, AIA, SAN and
 *     certificatePolicies (if present) decodable and not empty, and a key
 *     the key policy accepts;
 *   - key policy for every certificate of the chain: RSA of 2048 bits or
 *     more (whole bytes), EC on P-256, P-384 or P-521, or SM2;
 *   - CA certificates: nameConstraints, if present, not empty (RFC 5280
 *     4.2.1.10);
 *   - notAfter is inclusive (RFC 5280 4.1.2.5; OpenSSL alone treats the
 *     notAfter second as expired);
 *   - CRLs must carry a CRLNumber (RFC 5280 5.2.3) to be accepted;
 *   - purpose (default CA_PURPOSE_CLIENT_AUTH): keyUsage present with
 *     digitalSignature, extendedKeyUsage, if present, containing clientAuth
 *     (anyExtendedKeyUsage alone is not enough);
 *   - SM2: the distinguishing ID "1234567812345678" is set on every
 *     SM2-signed certificate that has none before its signature is checked;
 *   - revocation (none, CRL, OCSP or a callback), always fail-closed: a
 *     status that cannot be established is UK_ERR_CERT_REVOCATION_UNKNOWN.
 *
 * Signatures between CA certificates that verified once are remembered in a
 * signature cache (struct ca_sigcache) keyed by SHA-256 of the issuer
 * certificate, the subject certificate and the subject's distinguishing ID,
 * so that logins under an already seen intermediate only pay for the leaf's
 * signature (the leaf's own signature is never cached). Only successful
 * checks are cached and only the signature check is skipped: time,
 * extensions, policies, name constraints and revocation are evaluated on
 * every call, so the cache cannot change a verdict. (The signature and time
 * loop of X509_verify_cert is replaced for this through
 * X509_STORE_CTX_set_verify, with or without a cache.)
 */

#define CA_SM2_DEFAULT_ID "1234567812345678"

struct ca_verifier;
struct ca_sigcache;

enum ca_purpose {
	CA_PURPOSE_CLIENT_AUTH = 0, /* login certificates (default) */
	CA_PURPOSE_SERVER_AUTH = 1, /* EKU, if present, has serverAuth */
	CA_PURPOSE_ANY = 2,         /* no usage check; leaf rules still apply */
};

enum ca_revocation {
	CA_REV_NONE = 0,     /* no revocation check (default) */
	CA_REV_CRL = 1,      /* the CRLs added with CA_LOAD_CRLS */
	CA_REV_OCSP = 2,     /* OCSP over HTTP, see ca_verifier_set_ocsp */
	CA_REV_CALLBACK = 3, /* the callback of ca_verifier_set_revocation_cb */
};

/* Flags for ca_verifier_set_revocation. */
#define CA_REV_LEAF_ONLY 0x01 /* check the leaf only, not the intermediates */

/* Flags for ca_verifier_set_policy. */
#define CA_POLICY_EXPLICIT 0x01        /* initial-explicit-policy */
#define CA_POLICY_INHIBIT_MAPPING 0x02 /* initial-policy-mapping-inhibit */
#define CA_POLICY_INHIBIT_ANY 0x04     /* initial-any-policy-inhibit */

/* Flags for ca_verifier_set_ocsp. */
#define CA_OCSP_REQUIRE_NONCE 0x01 /* refuse responses without our nonce */

/* What ca_verifier_load_file / _load_mem / _add_cert add. */
enum ca_load {
	CA_LOAD_ANCHORS = 0,
	CA_LOAD_INTERMEDIATES = 1,
	CA_LOAD_CRLS = 2,
};

/*
 * Revocation callback: answers for cert, issued by issuer (both borrowed for
 * the call). Returns 0 when cert is known not to be revoked,
 * UK_ERR_CERT_REVOKED when it is (with *revoked_reason set to the RFC 5280
 * CRLReason, or -1 if unknown), and any other value when the status cannot
 * be established (the verifier then fails closed).
 */
typedef int (*ca_revocation_cb)(void *arg, X509 *cert, X509 *issuer,
    int *revoked_reason);

/* What ca_verify found. Initialise with memset 0 or ca_verify_result_init;
 * release with ca_verify_result_clear. */
struct ca_verify_result {
	int x509_error;     /* X509_V_OK or the X509_V_ERR_* that failed */
	int depth;          /* depth of the offending certificate, -1: none */
	int revoked_reason; /* CRLReason when revoked, else -1 */
	char message[256];  /* English text saying what failed and where */
	STACK_OF(X509) * chain; /* on success: the validated chain, leaf
				* first, trust anchor last; owned by the
				* result (ca_verify_result_clear frees it) */
};

/* Sets res to "nothing found yet". */
void ca_verify_result_init(struct ca_verify_result *res);

/* Frees the chain held by res and re-initialises it; NULL is a no-op. A
 * caller that wants to keep the chain takes res->chain and sets it NULL. */
void ca_verify_result_clear(struct ca_verify_result *res);

/* A new verifier: no anchors, purpose CA_PURPOSE_CLIENT_AUTH, time "now",
 * no revocation checking, anyPolicy, its own signature cache of 1024
 * entries. Returns NULL when out of memory. Free with ca_verifier_free. */
struct ca_verifier *ca_verifier_new(void);

/* Frees v and everything it holds; NULL is a no-op. */
void ca_verifier_free(struct ca_verifier *v);

/* The message of the last failed configuration call on v (load, add, set),
 * or "" if none. Points into v; valid until the next call on v. */
const char *ca_verifier_errmsg(const struct ca_verifier *v);

/* Adds one certificate as a trust anchor or untrusted intermediate
 * (what is CA_LOAD_ANCHORS or CA_LOAD_INTERMEDIATES). v takes its own
 * reference; the caller keeps its own. Returns 0, UK_ERR_USAGE or
 * UK_ERR_NOMEM. */
int ca_verifier_add_cert(struct ca_verifier *v, enum ca_load what, X509 *x);

/* Adds one CRL (for CA_REV_CRL). v takes its own reference. Returns 0,
 * UK_ERR_CRL_MALFORMED (no CRLNumber; message in ca_verifier_errmsg) or
 * UK_ERR_NOMEM. */
int ca_verifier_add_crl(struct ca_verifier *v, X509_CRL *crl);

/* Adds every certificate (or CRL) in buf: PEM with one or more blocks, or one
 * DER object. Nothing is added unless all of buf parses. Returns 0,
 * UK_ERR_CERT_MALFORMED / UK_ERR_CRL_MALFORMED (message in
 * ca_verifier_errmsg), UK_ERR_LIMIT or UK_ERR_NOMEM. */
int ca_verifier_load_mem(struct ca_verifier *v, enum ca_load what,
    const void *buf, size_t len);

/* Like ca_verifier_load_mem for the file at path (at most 16 MiB). Also
 * returns UK_ERR_IO when the file cannot be read. */
int ca_verifier_load_file(struct ca_verifier *v, enum ca_load what,
    const char *path);

/* Verification time; 0 (the default) means the current time at each call. */
void ca_verifier_set_time(struct ca_verifier *v, time_t t);

/* Purpose the leaf must serve (default CA_PURPOSE_CLIENT_AUTH). */
void ca_verifier_set_purpose(struct ca_verifier *v, enum ca_purpose p);

/* Maximum number of intermediate CA certificates between leaf and anchor;
 * negative restores OpenSSL's default (100). */
void ca_verifier_set_max_depth(struct ca_verifier *v, int depth);

/* RFC 5280 policy inputs: the initial policy set (n dotted OIDs; n == 0 means
 * {anyPolicy}) and CA_POLICY_* flags. Policy processing always runs.
 * Returns 0, UK_ERR_INPUT for a malformed OID (message in
 * ca_verifier_errmsg) or UK_ERR_NOMEM. */
int ca_verifier_set_policy(struct ca_verifier *v, const char *const *oids,
    size_t n, unsigned flags);

/* Turns the login profile's own rules off (on == 0) or back on (the
 * default): the strict leaf rules, the key policy (RSA >= 2048 bits in whole
 * bytes, EC P-256/P-384/P-521, SM2, for every certificate of the chain) and
 * the CA rule above. Only for RFC 5280 conformance runs such as PKITS,
 * whose end-entities are sometimes CAs or DSA keys; a login verifier keeps
 * them. */
void ca_verifier_set_strict(struct ca_verifier *v, int on);

/* Revocation mode and CA_REV_* flags (default CA_REV_NONE). With CA_REV_CRL
 * a certificate without a current CRL from its issuer fails (a CRL past its
 * nextUpdate is not current). Returns 0 or UK_ERR_USAGE. */
int ca_verifier_set_revocation(struct ca_verifier *v, enum ca_revocation mode,
    unsigned flags);

/* The callback used by CA_REV_CALLBACK; arg is passed through. */
void ca_verifier_set_revocation_cb(struct ca_verifier *v, ca_revocation_cb cb,
    void *arg);

/* OCSP settings for CA_REV_OCSP. url: the responder for every certificate,
 * or NULL to use each certificate's AIA OCSP URL (http or https). timeout_ms:
 * whole request (0 means 5000). flags: CA_OCSP_*. Requests are POSTed with a
 * nonce; a nonce in the response must match; the response must be signed by
 * the issuer or a responder it delegated to (id-kp-OCSPSigning), be fresh
 * (thisUpdate not in the future, nextUpdate not past, 5 min leeway) and is
 * cached until its nextUpdate. Returns 0, UK_ERR_INPUT or UK_ERR_NOMEM. */
int ca_verifier_set_ocsp(struct ca_verifier *v, const char *url,
    long timeout_ms, unsigned flags);

/* Verifies leaf against v's configuration. extra_untrusted (may be NULL):
 * more intermediates for this call only (e.g. sent by the client); borrowed.
 * leaf is borrowed; an SM2 distinguishing ID may be set on it and on the
 * extra intermediates. res may be NULL; else it must have been initialised
 * (ca_verify_result_init or zeroed); any chain it holds is freed, then it
 * is filled in and on success holds the validated chain.
 * Returns 0 when the certificate is valid for v's purpose, or one of
 * UK_ERR_CERT_UNTRUSTED, _EXPIRED, _NOT_YET_VALID, _REVOKED, _PURPOSE,
 * _LEAF, _REVOCATION_UNKNOWN, _SIGNATURE, _POLICY, _NAME_CONSTRAINTS,
 * _CHAIN, _MALFORMED (leaf NULL or unusable), or UK_ERR_NOMEM. */
int ca_verify(struct ca_verifier *v, X509 *leaf,
    STACK_OF(X509) * extra_untrusted, struct ca_verify_result *res);

/* Signature cache shared by several verifiers (e.g. one per process while
 * verifiers come and go). entries: capacity (0 means 1024). Returns NULL
 * when out of memory. The creator holds one reference. */
struct ca_sigcache *ca_sigcache_new(size_t entries);

/* Drops one reference; the cache is freed with the last. NULL is a no-op. */
void ca_sigcache_free(struct ca_sigcache *c);

/* Makes v use c (v takes its own reference and drops its previous cache);
 * c NULL turns caching off for v. */
void ca_verifier_set_sigcache(struct ca_verifier *v, struct ca_sigcache *c);

/* Counters since creation: signature checks answered from the cache and
 * signatures actually verified (CA certificates only). */
void ca_sigcache_stats(struct ca_sigcache *c, unsigned long *hits,
    unsigned long *misses);

/* Parses buf as certificates: PEM (one or more CERTIFICATE blocks, other
 * text between blocks ignored, other block types refused) or exactly one DER
 * certificate with nothing after it. On success *out is a new stack of at
 * least one certificate, owned by the caller (sk_X509_pop_free(*out,
 * X509_free)). err (may be NULL) receives a message. Returns 0,
 * UK_ERR_CERT_MALFORMED, UK_ERR_LIMIT (more than 4096 certificates) or
 * UK_ERR_NOMEM. Used for anchors and by the gateway for the client's
 * certificate. */
int ca_parse_certs(const void *buf, size_t len, STACK_OF(X509) * *out,
    char *err, size_t errlen);

/* Parses buf as exactly one certificate (PEM or DER). *out is owned by the
 * caller (X509_free). Returns 0, UK_ERR_CERT_MALFORMED or UK_ERR_NOMEM. */
int ca_parse_cert(const void *buf, size_t len, X509 **out, char *err,
    size_t errlen);

/* Like ca_parse_certs for CRLs ("X509 CRL" blocks). *out is freed with
 * sk_X509_CRL_pop_free(*out, X509_CRL_free). Returns 0,
 * UK_ERR_CRL_MALFORMED, UK_ERR_LIMIT or UK_ERR_NOMEM. */
int ca_parse_crls(const void *buf, size_t len, STACK_OF(X509_CRL) * *out,
    char *err, size_t errlen);

/* Checks only the strict leaf rules above (version, CA, serial, EKU,
 * extensions, key). Returns 0 or UK_ERR_CERT_LEAF; err (may be NULL) says
 * which rule. */
int ca_check_leaf_rules(X509 *leaf, char *err, size_t errlen);

/*
 * Login signatures.
 *
 * ca_verify_signature checks sig over the message tbs (hashed inside) with
 * pub for a login algorithm:
 *   "ES256"  ECDSA P-256 with SHA-256; sig is exactly 64 bytes r||s with r
 *            and s in [1, n-1];
 *   "RS256"  RSASSA-PKCS1-v1_5 with SHA-256;
 *   "PS256"  RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length exactly 32;
 *   "SM2"    SM2 with SM3 and distinguishing ID "1234567812345678"; sig is
 *            exactly 64 bytes r||s (as tokens return it).
 * The key type must match the algorithm (P-256 for ES256, RSA of at least
 * 2048 bits for RS256/PS256, SM2 for SM2). Returns 0 when the signature
 * verifies, UK_ERR_SIGNATURE_INVALID when it does not or does not fit the
 * algorithm, UK_ERR_INPUT for an unknown algorithm or NULL argument,
 * UK_ERR_NOMEM.
 */
int
ca_verify_signature(EVP_PKEY *pub, const char *alg, const unsigned char *tbs,
    size_t tbslen, const unsigned char *sig, size_t siglen);

enum ca_sig_scheme {
	CA_SIG_ECDSA_DER = 0,   /* X9.62 ECDSA, DER Ecdsa-Sig-Value */
	CA_SIG_ECDSA_P1363 = 1, /* ECDSA, raw r||s, 2 * field-size bytes */
	CA_SIG_RSA_PKCS1 = 2,   /* RSASSA-PKCS1-v1_5 */
	CA_SIG_RSA_PSS = 3,     /* RSASSA-PSS with MGF1 */
	CA_SIG_SM2_DER = 4,     /* SM2, DER SEQUENCE { r, s } */
	CA_SIG_SM2_RAW = 5,     /* SM2, raw r||s, 64 bytes */
};

/* Parameters for ca_verify_signature_ex. */
struct ca_sig_params {
	enum ca_sig_scheme scheme;
	const char *md;      /* "SHA256", "SHA384", "SHA512", "SM3", ... */
	const char *mgf1_md; /* PSS only; NULL: same as md */
	int salt_len;        /* PSS only: exact salt length in bytes */
	const char *sm2_id;  /* SM2 only; NULL: CA_SM2_DEFAULT_ID */
	size_t sm2_id_len;   /* length of sm2_id (0 with NULL) */
};

/* The general form of ca_verify_signature (used by it and by the
 * conformance harnesses): sig over tbs with pub under params p. No key-size
 * policy is applied beyond the key type fitting the scheme. Returns 0,
 * UK_ERR_SIGNATURE_INVALID, UK_ERR_INPUT or UK_ERR_NOMEM. */
int ca_verify_signature_ex(EVP_PKEY *pub, const struct ca_sig_params *p,
    const unsigned char *tbs, size_t tbslen, const unsigned char *sig,
    size_t siglen);

/* Verifies a DER-encoded SM2 signature (SEQUENCE { r, s }, as in X.509)
 * over msg with SM3 and the distinguishing ID id/idlen (id NULL: the default
 * ID), through EVP_PKEY_CTX_set1_id. For raw r||s use
 * ca_verify_signature_ex with CA_SIG_SM2_RAW. Returns 0,
 * UK_ERR_SIGNATURE_INVALID, UK_ERR_INPUT or UK_ERR_NOMEM. */
int ca_verify_sm2(EVP_PKEY *pub, const char *id, size_t idlen,
    const unsigned char *msg, size_t msglen, const unsigned char *sig,
    size_t siglen);

#endif
