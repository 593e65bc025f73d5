/* certs/verify_ocsp.h: the verifier's OCSP client (RFC 6960 over libcurl, with a response cache); used by certs/verify.c. */
#ifndef UK_CERTS_VERIFY_OCSP_H
#define UK_CERTS_VERIFY_OCSP_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct ca_ocsp_client;

/* A new client. url: responder for every certificate, or NULL to use each
 * certificate's AIA OCSP URL. timeout_ms: whole request (<= 0: 5000).
 * flags: CA_OCSP_* from certs/verify.h. Returns NULL when out of memory.
 * Free with ca_ocsp_client_free. */
struct ca_ocsp_client *
ca_ocsp_client_new(const char *url, long timeout_ms, unsigned flags);

/* Frees o and its cache; NULL is a no-op. */
void ca_ocsp_client_free(struct ca_ocsp_client *o);

/*
 * Asks for the status of cert (issued by issuer), answering from the cache
 * while a cached response is before its nextUpdate. The response must be
 * signed by issuer or by a responder certificate issued by issuer with
 * id-kp-OCSPSigning that chains to store (untrusted: more certificates for
 * that chain; may be NULL); it must be current at now (5 min leeway).
 * Everything is borrowed. Thread-safe.
 * Returns 0 (good), UK_ERR_CERT_REVOKED (with *reason set to the CRLReason
 * or -1), or UK_ERR_CERT_REVOCATION_UNKNOWN (responder unreachable, error
 * status, bad signature, stale, unknown certificate, nonce mismatch), with
 * a message in err (errlen > 0).
 */
int ca_ocsp_client_check(struct ca_ocsp_client *o, X509 *cert, X509 *issuer,
    X509_STORE *store, STACK_OF(X509) * untrusted, time_t now, int *reason,
    char *err, size_t errlen);

#endif
