/* tests/fuzz/fuzz_ocsp_req.c: fuzz target for OCSP request parsing (DER bodies and GET paths) and the response path. */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/ocsp.h"
#include "common/errors.h"
#include "common/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A fixed PKI so that the seed corpus names this issuer (a CertID holds the
 * issuer's name and key hashes). Test-only keys, made for this file and
 * used nowhere else. The store holds serials 1001 (good), 1002 (revoked,
 * keyCompromise) and 1003 (revoked, no reason); anything else is unknown.
 * Inputs starting with '/' are GET paths, anything else a DER body.
 */
static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUA/jTScqnrzLZdkUyCrrIp+uUfMEwCgYIKoZIzj0EAwIw\n"
    "GjEYMBYGA1UEAwwPRnV6eiBJc3N1aW5nIENBMCAXDTI2MTEyMzEyMzU1MVoYDzIx\n"
    "MjYxMDMwMTIzNTUxWjAaMRgwFgYDVQQDDA9GdXp6IElzc3VpbmcgQ0EwWTATBgcq\n"
    "hkjOPQIBBggqhkjOPQMBBwNCAARdY4NWnxB69HvcFuywSVe2Qe5ElLbftjrv6jYy\n"
    "MC6YYguIq9Nr3DGWtHwjZ5O/Vc/PN2KhIxfYoCGhxZKJ8Np5o2MwYTAdBgNVHQ4E\n"
    "FgQUb6De1FBPDOaXDqDxwpeFEFrH+vowHwYDVR0jBBgwFoAUb6De1FBPDOaXDqDx\n"
    "wpeFEFrH+vowDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIhAJa3AJN+C9XR7YTYGaKMo5hrzVKjLHPNvYlZ7dvjEUmVAiAq\n"
    "yp1DsvdaEmB+rRU5mZ21+te8dB2TpVWMDUd6AD9bgw==\n"
    "-----END CERTIFICATE-----\n";

static const char signer_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBnTCCAUKgAwIBAgICd3cwCgYIKoZIzj0EAwIwGjEYMBYGA1UEAwwPRnV6eiBJ\n"
    "c3N1aW5nIENBMCAXDTI2MTEyMzEyMzU1MVoYDzIxMjYxMDMwMTIzNTUxWjAbMRkw\n"
    "FwYDVQQDDBBGdXp6IE9DU1AgU2lnbmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n"
    "QgAEhhBbn89ef+AIqUHyhSZMBOQuwdH7ngBKuufzhclDCB3yaa6TzfvDkFmpeKRi\n"
    "aLDbNFw8zjQnxBhe6tHWWoyxEaN1MHMwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8E\n"
    "BAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwkwHQYDVR0OBBYEFLqBHLXAs/09D+uN\n"
    "/ZJyLkMqsObQMB8GA1UdIwQYMBaAFG+g3tRQTwzmlw6g8cKXhRBax/r6MAoGCCqG\n"
    "SM49BAMCA0kAMEYCIQCZKZhMVsIHOafjlE5XHCdMgeBGRJYPB68DDSB66b39NQIh\n"
    "ANz68TOuso0YvRlasi+Dv4DOLwLbwOeiJX05e/u3b8Kl\n"
    "-----END CERTIFICATE-----\n";

static const char signer_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgT+fHmMDD0VxqH09T\n"
    "hg513YO9mg0mzVl88MGMGrwowPahRANCAASGEFufz15/4AipQfKFJkwE5C7B0fue\n"
    "AEq65/OFyUMIHfJprpPN+8OQWal4pGJosNs0XDzONCfEGF7q0dZajLER\n"
    "-----END PRIVATE KEY-----\n";

static struct ca_ocsp *responder;
static struct store *st;
static X509_STORE *trust;
static char dir[512];
static char dbpath[600];

static void
cleanup(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char path[700];
	size_t i;

	ca_ocsp_free(responder);
	store_close(st);
	X509_STORE_free(trust);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, sfx[i]);
		unlink(path);
	}
	rmdir(dir);
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static int
add_row(const char *serial, const char *status, int64_t reason)
{
	static const unsigned char der[] = { 0x30, 0x00 };

	return store_exec(st, NULL,
	    "INSERT INTO certs (serial, unit_id, operator, profile, subject, "
	    "key_type, not_before, not_after, status, revoked_at, reason, "
	    "sha256, der, issued_at) VALUES (?, '100234', 'op', 'operator', "
	    "'CN=fuzz', 'ec-p256', 0, 4102444800, ?, ?, ?, ?, ?, 0)",
	    "ttiitb", serial, status, (int64_t)1700000000, reason, serial, der,
	    sizeof(der));
}

static int
init(void)
{
	const char *base = getenv("UKEY_TEST_TMP");
	X509 *ca = NULL, *signer = NULL;
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	int r = -1;

	snprintf(dir, sizeof(dir), "%s/fuzz_ocsp.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/ukey.db", dir);
	atexit(cleanup);
	if ((ca = pem_cert(ca_pem)) == NULL ||
	    (signer = pem_cert(signer_pem)) == NULL ||
	    (b = BIO_new_mem_buf(signer_key_pem, -1)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL)
		goto out;
	if (store_open(dbpath, &st) != 0 || add_row("1001", "active", 0) != 0 ||
	    add_row("1002", "revoked", 1) != 0 ||
	    add_row("1003", "revoked", 0) != 0)
		goto out;
	if ((trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(trust, ca) != 1)
		goto out;
	if (ca_ocsp_new(st, ca, signer, key, 3600, &responder) != 0)
		goto out;
	r = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(signer);
	return r;
}

/* Whatever came in, what goes out must be a well-formed OCSPResponse; a
 * successful one must verify against the CA through the included signer. */
static void
check_response(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;

	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	if (resp == NULL || p != der + len)
		abort();
	if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		if ((bs = OCSP_response_get1_basic(resp)) == NULL ||
		    OCSP_basic_verify(bs, NULL, trust, 0) != 1)
			abort();
		OCSP_BASICRESP_free(bs);
	}
	OCSP_RESPONSE_free(resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *resp = NULL, *der = NULL;
	size_t resplen = 0, derlen = 0;
	char *path;

	if (responder == NULL && init() != 0) {
		fprintf(stderr, "fuzz_ocsp_req: cannot set up the responder\n");
		abort();
	}
	if (size > 0 && data[0] == '/') {
		/* A GET path, as libmicrohttpd passes it: a C string. */
		if (size > 64 * 1024)
			return 0;
		if ((path = malloc(size + 1)) == NULL)
			return 0;
		memcpy(path, data, size);
		path[size] = '\0';
		if (ca_ocsp_get_decode(path, &der, &derlen) != 0)
			derlen = 0;
		free(path);
		if (ca_ocsp_respond(responder, der, derlen, &resp, &resplen) !=
		    0)
			abort();
	} else if (ca_ocsp_respond(responder, data, size, &resp, &resplen) != 0)
		abort();
	check_response(resp, resplen);
	free(resp);
	free(der);
	return 0;
}
