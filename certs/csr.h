/* certs/csr.h: certificate signing request intake: bounded parsing, signature, key policy, subject filter. */
#ifndef UK_CERTS_CSR_H
#define UK_CERTS_CSR_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"

/*
 * A CSR is accepted when
 *   - it is at most CA_CSR_MAX bytes of PEM ("CERTIFICATE REQUEST" or
 *     "NEW CERTIFICATE REQUEST", one block, only white space around it) or
 *     of DER (exactly one PKCS#10 structure, nothing after it);
 *   - its version is v1 (0) and its self-signature verifies (SM2: with the
 *     distinguishing ID CA_SM2_DEFAULT_ID);
 *   - its key is EC on P-256, SM2, or RSA of min_rsa_bits to 8192 bits;
 *   - it does not ask to be a CA: an extensionRequest with basicConstraints
 *     cA TRUE or keyUsage keyCertSign / cRLSign is refused
 *     (UK_ERR_CSR_REQUEST). Other requested extensions are ignored, never
 *     copied.
 * Its subject is kept with only these attributes: CN, O, OU, C, serialNumber
 * (others are dropped), each at most 64 characters (C exactly 2). An
 * undecodable extensionRequest is a malformed CSR.
 */

#define CA_CSR_MAX (64 * 1024)
#define CA_RSA_MAX_BITS 8192

struct ca_csr;

/*
 * Parses and checks buf (len bytes) as above. min_rsa_bits: smallest RSA key
 * accepted (values below 2048 are raised to 2048). On success *out is owned
 * by the caller (ca_csr_free). err (may be NULL) receives a one-line reason
 * on failure. Returns 0, UK_ERR_CSR_MALFORMED, UK_ERR_CSR_SIGNATURE,
 * UK_ERR_CSR_KEY, UK_ERR_CSR_REQUEST, UK_ERR_LIMIT (too large) or
 * UK_ERR_NOMEM.
 */
int ca_csr_parse(const void *buf, size_t len, int min_rsa_bits,
    struct ca_csr **out, char *err, size_t errlen);

/* Frees csr; NULL is a no-op. */
void ca_csr_free(struct ca_csr *csr);

/* The requester's public key, borrowed from csr. */
EVP_PKEY *ca_csr_pubkey(const struct ca_csr *csr);

/* The filtered subject, borrowed from csr; it may be empty. */
const X509_NAME *ca_csr_subject(const struct ca_csr *csr);

/* The key's type. */
enum ca_key_type ca_csr_key_type(const struct ca_csr *csr);

/*
 * Checks a public key against the key policy above (also used for keys given
 * to ca_issue_key). Sets *type when not NULL. Returns 0 or UK_ERR_CSR_KEY
 * with a reason in err.
 */
int ca_csr_check_key(EVP_PKEY *pk, int min_rsa_bits, enum ca_key_type *type,
    char *err, size_t errlen);

/*
 * Copies the allowed attributes of name into a new name (*out, owned by the
 * caller, X509_NAME_free). Returns 0, UK_ERR_CSR_REQUEST (an allowed
 * attribute too long or not a string) or UK_ERR_NOMEM.
 */
int ca_csr_filter_subject(const X509_NAME *name, X509_NAME **out, char *err,
    size_t errlen);

#endif
