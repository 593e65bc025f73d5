/* certs/ca_crl.h: building and signing full CRLs from the store's revoked certificates. */
#ifndef UK_CERTS_CA_CRL_H
#define UK_CERTS_CA_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "certs/ca_key.h"

/* One revoked certificate. serial is hex text as in the store (borrowed). */
struct ca_crl_entry {
	const char *serial;
	int64_t revoked_at;
	int reason; /* CRLReason 0..10 but 7; 0: no reasonCode extension */
};

/*
 * Builds a v2 CRL issued by issuer and signed with key: thisUpdate
 * this_update, nextUpdate next_update, extensions authorityKeyIdentifier
 * (keyid of issuer) and CRLNumber number, one entry per element of v (n of
 * them), sorted by serial, the list written directly as DER (see
 * ca_crl.c) so that 100,000 entries take well under a second. v is
 * borrowed. On success *out is owned by the
 * caller (X509_CRL_free). Returns 0, UK_ERR_INPUT (an unusable serial),
 * UK_ERR_CA_KEY / UK_ERR_TOKEN_SIGN or UK_ERR_NOMEM.
 */
int ca_crl_build(const struct ca_key *key, X509 *issuer, int64_t number,
    time_t this_update, time_t next_update, const struct ca_crl_entry *v,
    size_t n, X509_CRL **out);

#endif
