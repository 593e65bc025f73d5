/* certs/ca_profile.h: certificate profiles: the extensions, names and validity of CA, operator, staff and OCSP signer certificates. */
#ifndef UK_CERTS_CA_PROFILE_H
#define UK_CERTS_CA_PROFILE_H

#include <stddef.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "certs/ca.h"

/* What a certificate is, beyond the leaf profiles of enum ca_profile. */
enum ca_cert_kind {
	CA_KIND_ROOT = 1,    /* self-signed; CA:TRUE; keyCertSign, cRLSign */
	CA_KIND_ISSUING = 2, /* CA:TRUE, pathlen 0; keyCertSign, cRLSign */
	CA_KIND_LEAF = 3,    /* one of enum ca_profile */
};

/* Validity of the CA certificates, in days. */
#define CA_ROOT_DAYS (20 * 365 + 5)
#define CA_ISSUING_DAYS (10 * 365 + 3)

/* How far notBefore is set back from the time of issuance (clock skew). */
#define CA_BACKDATE_SECS 300

/* Length of the serials the CA issues, in octets. */
#define CA_SERIAL_LEN 16

/* Everything a new certificate is made of. All pointers are borrowed. */
struct ca_cert_spec {
	enum ca_cert_kind kind;
	enum ca_profile profile; /* CA_KIND_LEAF only */
	const BIGNUM *serial;
	time_t not_before, not_after;
	const X509_NAME *subject;
	EVP_PKEY *pub;        /* the subject's public key */
	X509 *issuer;         /* NULL for CA_KIND_ROOT (self-issued) */
	const char *crl_url;  /* leaves: CRL distribution point, or NULL */
	const char *ocsp_url; /* leaves: AIA OCSP, or NULL */
};

/*
 * Builds the unsigned X.509 v3 certificate described by s: version,
 * serial, names, validity (notAfter clamped to the issuer's notAfter), key,
 * and the extensions of its kind and profile: basicConstraints (critical),
 * keyUsage (critical), extendedKeyUsage, subjectKeyIdentifier,
 * authorityKeyIdentifier (keyid), and for leaves the CRL distribution point,
 * the AIA OCSP URL (not for OCSP signers) and id-pkix-ocsp-nocheck (OCSP
 * signers). Nothing is taken from any request. On success *out is owned by
 * the caller (X509_free). Returns 0, UK_ERR_CA_PROFILE or UK_ERR_NOMEM.
 */
int ca_profile_build(const struct ca_cert_spec *s, X509 **out);

/* A fresh random positive serial of exactly CA_SERIAL_LEN octets (the top
 * bit clear, the next one set, so that DER keeps all 16). *out is owned by
 * the caller (BN_free). Returns 0 or UK_ERR_INTERNAL. */
int ca_serial_new(BIGNUM **out);

/* Checks a URL for the CDP / AIA extensions: http:// or https://, printable
 * ASCII without spaces, commas or quotes, at most 1024 bytes. Returns 0 or
 * UK_ERR_CONFIG_VALUE. */
int ca_url_check(const char *url);

/* Builds the name "CN=<cn>" (UTF-8). *out is owned by the caller.
 * Returns 0, UK_ERR_USAGE (empty or over 64 characters) or UK_ERR_NOMEM. */
int ca_name_cn(const char *cn, X509_NAME **out);

#endif
