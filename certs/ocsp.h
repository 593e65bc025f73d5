/* certs/ocsp.h: the CA's OCSP responder (RFC 6960 / RFC 5019): request parsing, signed responses, cache, HTTP server. */
#ifndef UK_CERTS_OCSP_H
#define UK_CERTS_OCSP_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/store.h"

/*
 * The responder answers for the certificates of one issuing CA, looking
 * each serial up in the store's certs table: good (status 'active'),
 * revoked (revocationTime = revoked_at, revocationReason = reason unless it
 * is NULL or unspecified(0)), unknown (serial not in the store). Responses
 * are signed by a delegated OCSP signer (issued by the issuing CA, or the
 * issuing CA itself) and carry its certificate; the ResponderID is by key
 * hash; producedAt = thisUpdate = now, nextUpdate = now + next_update_secs.
 *
 * Requests:
 *  - at most CA_OCSP_MAX_REQ_BYTES of DER (POST bodies larger than that are
 *    refused with HTTP 413; GET paths decode to at most as much);
 *  - at most CA_OCSP_MAX_CERTIDS CertIDs; more gives malformedRequest;
 *  - CertIDs hashed with SHA-1, SHA-256, SHA-384, SHA-512 or SM3 are matched
 *    against the issuing CA's name and key hashes. A request with a CertID
 *    of another issuer (or another hash) is answered "unauthorized"
 *    (RFC 5019 2.2.3, RFC 6960 2.3): the responder is not authoritative for
 *    it, and a response must answer every CertID asked (RFC 6960 4.2.2.3)
 *    while a delegated signer's response may only name its own issuer;
 *  - nonces are not echoed (RFC 5019 lightweight profile): responses are
 *    cached and served to every client asking about the same CertID, so a
 *    nonce cannot be honoured without signing per request, which would turn
 *    the responder into a signing oracle for anyone who can reach it.
 *    Clients that insist on a nonce (openssl ocsp without -no_nonce) only
 *    warn;
 *  - request signatures and other request extensions are ignored.
 *
 * Cache: signed DER responses of single-CertID requests, keyed by the
 * CertID's DER, kept until half of their validity has passed (then the
 * next request re-signs). Before every answer the responder asks
 * store_changed, and drops the whole cache when another connection
 * committed a change (any issuance or revocation, e.g. `ukey-ca revoke` in
 * another process; issuance turns unknown into good). SQLite: the very next
 * request sees the change (PRAGMA data_version). PostgreSQL: the writer's
 * transaction must call store_notify (ca_issue and ca_revoke do), and the
 * change is seen once the NOTIFY has reached the responder's connection,
 * which the server sends right after the commit (well under a millisecond
 * on a LAN). Changes made through the responder's own store handle are not
 * reported: use ca_ocsp_invalidate.
 */

/* Largest request accepted, in bytes of DER. */
#define CA_OCSP_MAX_REQ_BYTES (16 * 1024)

/* Most CertIDs answered in one request. */
#define CA_OCSP_MAX_CERTIDS 10

/* Most cached responses; the cache is emptied when it is full. */
#define CA_OCSP_CACHE_MAX 65536

struct ca_ocsp;

/* Validity of a response when ca_ocsp_new is given 0 (seconds). */
#define CA_OCSP_DEFAULT_NEXT_UPDATE 3600

/*
 * Creates a responder answering from st for certificates issued by issuer,
 * signing with signer_key, whose certificate signer (issued by issuer with
 * extendedKeyUsage OCSPSigning, or issuer itself) is included in every
 * response. SM2 keys sign SM2-with-SM3 with the default distinguishing ID
 * "1234567812345678" (as certs/ca.h); other keys sign with SHA-256.
 * next_update_secs: validity of a response, 0..366 days in seconds (0 means
 * CA_OCSP_DEFAULT_NEXT_UPDATE).
 * st is borrowed and must outlive the responder; the responder calls
 * store_listen on it and then uses it from its own threads (ca_ocsp_serve),
 * so the caller must not use st while the responder exists. issuer, signer
 * and signer_key are borrowed: the responder takes its own references.
 * On success *out is owned by the caller (ca_ocsp_free).
 * Returns 0, UK_ERR_USAGE (bad arguments), UK_ERR_CA_KEY (signer_key does not
 * match signer, or signer is not a delegated OCSP signer of issuer), a store
 * error from store_listen / store_changed, or UK_ERR_NOMEM /
 * UK_ERR_INTERNAL.
 */
int ca_ocsp_new(struct store *st, X509 *issuer, X509 *signer,
    EVP_PKEY *signer_key, long next_update_secs, struct ca_ocsp **out);

/* Caps the HTTP Cache-Control max-age of successful answers at secs (0, the
 * default: max-age=0, nothing is cached by HTTP caches, so a revocation is
 * seen by the next request). Call before ca_ocsp_serve. */
void ca_ocsp_set_http_max_age(struct ca_ocsp *o, long secs);

/* Frees o, its cache and its references; NULL is a no-op. The store given
 * to ca_ocsp_new is not closed. */
void ca_ocsp_free(struct ca_ocsp *o);

/*
 * Answers the DER OCSP request req (reqlen bytes): sets *resp to a malloc'd
 * DER OCSPResponse owned by the caller (free) and *resplen to its length.
 * Every request gets a response: a signed successful one, or
 * malformedRequest (junk, trailing bytes, too large, too many CertIDs),
 * unauthorized (a CertID of another issuer), tryLater (the store failed or
 * is busy: no answer from the cache either) or internalError. Thread-safe.
 * Returns 0 when *resp is set, else UK_ERR_NOMEM (and *resp is NULL).
 */
int ca_ocsp_respond(struct ca_ocsp *o, const unsigned char *req, size_t reqlen,
    unsigned char **resp, size_t *resplen);

/*
 * Decodes the path of a GET request (RFC 6960 appendix A) as
 * libmicrohttpd hands it over, already URL-decoded: "/<base64>" or
 * "/prefix/.../<base64>" (each start after a '/' is tried, at most 8).
 * Lenient in what clients are known to send: the base64url alphabet,
 * missing padding, ' ' for a form-decoded '+'. The result must be one DER
 * SEQUENCE of at most CA_OCSP_MAX_REQ_BYTES. On success *der (malloc'd,
 * caller frees) and *derlen are set. Returns 0, UK_ERR_INPUT or
 * UK_ERR_NOMEM.
 */
int ca_ocsp_get_decode(const char *path, unsigned char **der, size_t *derlen);

/* Drops every cached response. For callers that change certificates through
 * the very store handle given to ca_ocsp_new (store_changed only reports
 * other connections' commits). Thread-safe. */
void ca_ocsp_invalidate(struct ca_ocsp *o);

/*
 * Serves OCSP over HTTP on listen ("127.0.0.1:PORT", "[::1]:PORT",
 * "0.0.0.0:PORT" or "[::]:PORT") until SIGINT or SIGTERM: POST with
 * Content-Type application/ocsp-request (body up to CA_OCSP_MAX_REQ_BYTES,
 * else 413), GET /[prefix/]<base64 of the DER request, URL-encoded>
 * (RFC 6960 appendix A). Answers Content-Type application/ocsp-response
 * with Cache-Control max-age up to ca_ocsp_set_http_max_age's cap (never past
 * nextUpdate; RFC 5019 6.2); 405 for other
 * methods. Blocks SIGINT and SIGTERM in the calling thread while it runs
 * (and restores the mask). One log line per request at debug level.
 * Returns 0 after a signal, UK_ERR_USAGE for a bad listen address,
 * UK_ERR_IO when the address cannot be bound.
 */
int ca_ocsp_serve(struct ca_ocsp *o, const char *listen);

#endif
