/* certs/ca.h: the CA library: init, issue, revoke, reissue, CRL and listing over the shared store. */
#ifndef UK_CERTS_CA_H
#define UK_CERTS_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/verify.h" /* CA_SM2_DEFAULT_ID */
#include "common/secret.h"
#include "common/store.h"

/*
 * One CA: a self-signed root, an issuing CA under it (pathlen 0) and a
 * delegated OCSP signer, kept in the store's `ca` row; the certificates it
 * issues are rows of `certs`, bound to a unit and an operator at issuance.
 * The issuing CA's key lives in an encrypted PKCS#8 PEM file (key_ref is its
 * absolute path; the root key is next to it as PATH.root, the OCSP signer's
 * as PATH.ocsp) or on a PKCS#11 token (key_ref is an RFC 7512 URI; the root
 * and OCSP keys carry the labels object-root and object-ocsp).
 *
 * Every change (issue, revoke, reissue, CRL) is one write transaction of the
 * store that also appends to the audit trail and is durable when the
 * function returns 0. Revocations call store_notify so that OCSP caches in
 * other processes drop their answers.
 *
 * A struct ca borrows the store it was opened on; like the store it is used
 * by one thread at a time. All functions return 0 or an enum uk_err code;
 * ca_errmsg() then says more.
 */

/* Longest serial as text: 20 octets as uppercase hex, and a NUL. Serials we
 * issue are 16 octets (32 characters). */
#define CA_SERIAL_HEX_MAX 41

/* Longest unit id and operator name accepted (bytes). */
#define CA_UNIT_MAX 64
#define CA_OPERATOR_MAX 128

/* Shortest passphrase accepted for new CA key files. */
#define CA_PASS_MIN 8

struct ca;
struct ca_csr;

enum ca_key_type {
	CA_KEY_EC = 1,  /* ECDSA P-256 with SHA-256 (default) */
	CA_KEY_RSA = 2, /* RSA PKCS#1 v1.5 with SHA-256 */
	CA_KEY_SM2 = 3, /* SM2 with SM3 (key files only) */
};

enum ca_profile {
	CA_PROFILE_OPERATOR = 1, /* KU digitalSignature (critical), EKU
				  * clientAuth, operator_days */
	CA_PROFILE_STAFF = 2,    /* KU digitalSignature nonRepudiation
				  * (critical), EKU clientAuth, staff_days */
	CA_PROFILE_OCSP = 3,     /* KU digitalSignature (critical), EKU
				  * OCSPSigning, id-pkix-ocsp-nocheck,
				  * ocsp_days */
};

/* RFC 5280 CRLReason values accepted by ca_revoke. */
enum ca_reason {
	CA_REASON_UNSPECIFIED = 0,
	CA_REASON_KEY_COMPROMISE = 1,
	CA_REASON_CA_COMPROMISE = 2,
	CA_REASON_AFFILIATION_CHANGED = 3,
	CA_REASON_SUPERSEDED = 4,
	CA_REASON_CESSATION = 5,
	CA_REASON_PRIVILEGE_WITHDRAWN = 9,
};

/*
 * Settings from the [ca] section of the configuration. Strings are
 * borrowed by ca_config_init's caller and copied by ca_set_config / ca_init.
 */
struct ca_config {
	const char *crl_url;        /* CRL distribution point; NULL: none */
	const char *ocsp_url;       /* AIA OCSP responder; NULL: none */
	long crl_next_update_secs;  /* default 24 h */
	long ocsp_next_update_secs; /* default 60 min */
	int operator_days;          /* default 365 */
	int staff_days;             /* default 365 */
	int ocsp_days;              /* default 30 */
	int min_rsa_bits;           /* default 2048 */
	/* PKCS#11 modules the CA may load. A token key's URI comes from the
	 * store, which other programs write: its module-path is used only
	 * when it equals pkcs11_module or one of the comma-separated
	 * absolute paths of pkcs11_module_allowlist (both from the
	 * configuration or the command line, never from the store); anything
	 * else is refused with UK_ERR_TOKEN_MODULE_NOT_ALLOWED before the
	 * module is loaded. NULL: none. */
	const char *pkcs11_module;
	const char *pkcs11_module_allowlist;
	long ocsp_http_max_age; /* Cache-Control max-age of OCSP answers,
				 * seconds; default 0 (no caching) */
};

/* Returns 1 when module (an absolute path, compared as given) equals
 * cfg's pkcs11_module or is on its pkcs11_module_allowlist, else 0: the
 * check token CA keys pass, for callers that load a module themselves. */
int ca_p11_module_allowed(const struct ca_config *cfg, const char *module);

/* Fills c with the defaults listed above (no URLs). */
void ca_config_init(struct ca_config *c);

/* What ca_init creates. */
struct ca_init_params {
	const char *name;          /* CA name, used in the subjects; required */
	enum ca_key_type key_type; /* 0 means CA_KEY_EC */
	int rsa_bits;              /* CA_KEY_RSA only; 0 means 3072 */
	const char *key_file;      /* exactly one of key_file ... */
	const char *pkcs11_uri;    /* ... and pkcs11_uri */
	const struct secret *pass; /* passphrase (key file) or PIN (token) */
	/* The OCSP signer's key is a file encrypted under its own passphrase,
	 * never the CA keys': the responder runs unattended and keeps it on
	 * disk or in a service manager, and must not be able to open the
	 * issuing or root key. With key_file it is PATH.ocsp; with
	 * pkcs11_uri it is ocsp_key_file when given (so that the responder
	 * never logs into the CA token), else the token key OBJECT-ocsp. */
	const struct secret *ocsp_pass; /* required for a file OCSP key;
					 * at least CA_PASS_MIN and not
					 * equal to pass */
	const char *ocsp_key_file;      /* pkcs11_uri only; NULL: on the
					 * token */
	const char *actor;              /* for the audit trail; NULL: "ca" */
};

/*
 * Creates the CA: generates the root key (20 years, self-signed), the issuing
 * CA key (10 years, pathlen 0) and the OCSP signer key (profile ocsp), writes
 * the key files (O_EXCL, mode 0600; UK_ERR_EXISTS if any exists) or
 * generates the keys on the token, and stores the ca row with an audit event
 * in one transaction. cfg and p are borrowed. On success *out (may be NULL
 * when the caller wants none) is an open CA with its signing key unlocked,
 * owned by the caller (ca_free). Returns 0, UK_ERR_CA_EXISTS when the store
 * already has a CA, UK_ERR_EXISTS, UK_ERR_CA_KEY_TYPE (SM2 on a token),
 * UK_ERR_CA_KEY, UK_ERR_TOKEN_*, UK_ERR_USAGE, UK_ERR_CONFIG_VALUE (cfg) or
 * a store error, with a one-line reason in err (may be NULL). Key files
 * written before a later failure are removed again; token keys stay.
 */
int ca_init(struct store *st, const struct ca_config *cfg,
    const struct ca_init_params *p, struct ca **out, char *err, size_t errlen);

/*
 * Opens the CA kept in st (borrowed; it must outlive the CA) with default
 * settings (see ca_set_config). The signing keys are not loaded yet.
 * On success *out is owned by the caller (ca_free). Returns 0,
 * UK_ERR_CA_NOT_INITIALISED, UK_ERR_CERT_MALFORMED (damaged ca row) or a
 * store error.
 */
int ca_open(struct store *st, struct ca **out);

/* Frees ca, its certificates and any loaded keys (wiping them); the store is
 * not closed. NULL is a no-op. */
void ca_free(struct ca *ca);

/* Replaces ca's settings with a copy of cfg. Returns 0 or UK_ERR_NOMEM. */
int ca_set_config(struct ca *ca, const struct ca_config *cfg);

/* One line of English saying why the last failing call on ca failed, or "".
 * Points into ca; valid until the next call. */
const char *ca_errmsg(const struct ca *ca);

/* Accessors. Certificates and strings are borrowed from ca and live as long
 * as it; callers that keep one take their own reference (X509_up_ref). */
const char *ca_name(const struct ca *ca);
enum ca_key_type ca_key_type(const struct ca *ca);
const char *ca_key_ref(const struct ca *ca);
int ca_key_on_token(const struct ca *ca); /* 1: PKCS#11, 0: key file */
/* 1 when the OCSP signer's key is on a token, 0 for a key file. */
int ca_ocsp_key_on_token(const struct ca *ca);
X509 *ca_root_cert(const struct ca *ca);
X509 *ca_issuing_cert(const struct ca *ca);
X509 *ca_ocsp_cert(const struct ca *ca); /* NULL if the CA has none */

/*
 * Loads the issuing CA's signing key with pass (passphrase of the key file,
 * or the token's user PIN) and keeps it in ca for ca_issue, ca_reissue and
 * ca_crl. Calling it again when the key is loaded is a no-op. pass is
 * borrowed. Returns 0, UK_ERR_CA_KEY (wrong passphrase, damaged file, key
 * does not match the certificate), UK_ERR_TOKEN_* or UK_ERR_IO.
 */
int ca_unlock(struct ca *ca, const struct secret *pass);

/*
 * Loads the OCSP signer's private key (PATH.ocsp or the token key
 * object-ocsp) with pass and checks it matches ca_ocsp_cert. On success *out
 * is a new reference owned by the caller (EVP_PKEY_free). A token key signs
 * through ca's PKCS#11 session: free it before ca. Returns 0,
 * UK_ERR_CA_NOT_INITIALISED (no OCSP signer), UK_ERR_CA_KEY, UK_ERR_TOKEN_*.
 */
int ca_load_ocsp_key(struct ca *ca, const struct secret *pass, EVP_PKEY **out);

/* What to issue. Strings are borrowed. */
struct ca_issue_req {
	const char *unit;        /* unit id, required, 1..CA_UNIT_MAX bytes */
	const char *operator;    /* operator, required, 1..CA_OPERATOR_MAX */
	enum ca_profile profile; /* 0 means CA_PROFILE_OPERATOR */
	int days;                /* validity; 0: the profile's default */
	const char *actor;       /* for the audit trail; NULL: "ca" */
};

/* What was issued. */
struct ca_issued {
	char serial[CA_SERIAL_HEX_MAX]; /* uppercase hex, as in the store */
	char event_id[33];              /* audit event of the issuance */
	time_t not_before, not_after;
	X509 *cert; /* owned by the caller: ca_issued_clear frees it */
};

/* Frees what out holds and zeroes it; NULL is a no-op. */
void ca_issued_clear(struct ca_issued *out);

/*
 * Issues a certificate for the key and subject of csr (see certs/csr.h; the
 * CSR's extensions are never copied) under req's profile, bound to req's unit
 * and operator: in one write transaction the unit row is created if missing
 * and locked, the unit's active, unexpired certificates are counted (at 2:
 * UK_ERR_UNIT_CERT_LIMIT), the certificate is signed, stored and audited,
 * and the transaction is committed durably. Needs ca_unlock first
 * (UK_ERR_CA_KEY otherwise). csr and req are borrowed. On success *out holds
 * the certificate. A busy store is retried a few times before
 * UK_ERR_STORE_BUSY is returned. Returns 0, UK_ERR_UNIT_CERT_LIMIT,
 * UK_ERR_USAGE (bad unit/operator/days), UK_ERR_CSR_KEY (key below
 * min_rsa_bits), UK_ERR_CA_KEY or a store error.
 */
int ca_issue(struct ca *ca, const struct ca_csr *csr,
    const struct ca_issue_req *req, struct ca_issued *out);

/*
 * The same for a public key and subject given directly (no CSR), for tests,
 * benchmarks and batch enrolment: pub (only its public part is used) and
 * subject are borrowed; subject NULL means "CN=<operator>, OU=<unit>".
 * The same key may be certified many times.
 */
int ca_issue_key(struct ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
    const struct ca_issue_req *req, struct ca_issued *out);

/*
 * Revokes the active certificate serial (any case, optional colons) with an
 * RFC 5280 reason (enum ca_reason) at the current time, in one durable write
 * transaction with its audit event and a store_notify. Does not need the CA
 * key. event_id (may be NULL) receives the audit event id. Returns 0,
 * UK_ERR_CERT_NOT_FOUND, UK_ERR_CERT_ALREADY_REVOKED, UK_ERR_CA_REASON,
 * UK_ERR_INPUT (malformed serial) or a store error.
 */
int ca_revoke(struct ca *ca, const char *serial, int reason, const char *actor,
    char event_id[33]);

/*
 * Reissues: in one write transaction revokes the active certificate serial
 * (reason superseded) and issues a new one for csr with the old one's unit,
 * operator and profile, recording replaces = old serial. Either both happen
 * or neither. Needs ca_unlock. Returns what ca_revoke and ca_issue return.
 */
int ca_reissue(struct ca *ca, const char *serial, const struct ca_csr *csr,
    const char *actor, struct ca_issued *out);

/*
 * Certifies the OCSP signer's key anew (profile ocsp, ocsp_days, a new
 * serial) and makes the new certificate the CA's OCSP signer, in one durable
 * write transaction with its audit event. For when the signer certificate
 * nears its end; the old one stays valid until it expires. Needs ca_unlock.
 * On success *out holds the new certificate. Returns 0,
 * UK_ERR_CA_NOT_INITIALISED (no OCSP signer), UK_ERR_CA_KEY or a store
 * error.
 */
int ca_renew_ocsp(struct ca *ca, const char *actor, struct ca_issued *out);

/*
 * Issues a full CRL: in one write transaction increments the CRLNumber kept
 * in the ca row, lists every revoked certificate (serial, revocation date,
 * reasonCode unless unspecified), signs with the issuing CA key
 * (thisUpdate now, nextUpdate now + crl_next_update_secs; AKI, CRLNumber),
 * audits and commits. Needs ca_unlock. On success *out is owned by the caller
 * (X509_CRL_free). Returns 0, UK_ERR_CA_KEY or a store error.
 */
int ca_crl(struct ca *ca, const char *actor, X509_CRL **out);

/* One row of the certs table. */
struct ca_cert_info {
	char serial[CA_SERIAL_HEX_MAX];
	char *unit_id;  /* NULL for the CA's own OCSP signer */
	char *operator; /* NULL likewise */
	char *profile;  /* "operator", "staff", "ocsp" */
	char *subject;  /* RFC 2253 text */
	char *key_type; /* "ec", "rsa", "sm2" */
	char *status;   /* "active" or "revoked" */
	char *sha256;   /* lowercase hex of the DER */
	char *replaces; /* serial this one superseded, or NULL */
	int64_t not_before, not_after, issued_at;
	int64_t revoked_at; /* 0 unless revoked */
	int reason;         /* CRLReason, -1 unless revoked */
	unsigned char *der; /* ca_show only, else NULL */
	size_t der_len;
};

/* Lists the certificates of unit (NULL: all), oldest first. On success *out
 * is an array of *n entries owned by the caller (ca_cert_info_free; NULL
 * when *n is 0). Returns 0 or a store error. */
int
ca_list(struct ca *ca, const char *unit, struct ca_cert_info **out, size_t *n);

/* The certificate serial with its DER. *out is owned by the caller
 * (ca_cert_info_free(*out, 1)). Returns 0, UK_ERR_CERT_NOT_FOUND,
 * UK_ERR_INPUT or a store error. */
int ca_show(struct ca *ca, const char *serial, struct ca_cert_info **out);

/* Frees an array of n entries from ca_list / ca_show; NULL is a no-op. */
void ca_cert_info_free(struct ca_cert_info *v, size_t n);

/* Names. The parse functions return 0 or UK_ERR_USAGE; the name functions
 * never return NULL ("?" for unknown values). */
int ca_key_type_parse(const char *s, enum ca_key_type *out); /* ec|rsa|sm2 */
const char *ca_key_type_name(enum ca_key_type t);
int ca_profile_parse(const char *s, enum ca_profile *out);
const char *ca_profile_name(enum ca_profile p);
/* RFC 5280 names ("keyCompromise", ...); UK_ERR_CA_REASON when unknown or
 * not accepted (certificateHold, removeFromCRL, aACompromise). */
int ca_reason_parse(const char *s, int *out);
const char *ca_reason_name(int reason);

/* Normalises a serial given by a person (hex, any case, optional ':'
 * separators, at most 20 octets, positive) into the store's spelling
 * (BN_bn2hex). Returns 0 or UK_ERR_INPUT. */
int ca_serial_normalise(const char *in, char out[CA_SERIAL_HEX_MAX]);

#endif
