/* certs/ca_key.h: CA signing keys: encrypted PEM files and PKCS#11 token keys (generation, loading, signing). */
#ifndef UK_CERTS_CA_KEY_H
#define UK_CERTS_CA_KEY_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "common/secret.h"

/*
 * A struct ca_key is a private key the CA signs with: either an EVP_PKEY
 * read from an encrypted PKCS#8 PEM file, or a key on a PKCS#11 token
 * reached through libp11 (the key never leaves the token). Key files are
 * written with O_EXCL and mode 0600, encrypted with AES-256-CBC under the
 * passphrase (PBES2 with scrypt, N = CA_KEY_SCRYPT_N, r = 8,
 * p = CA_KEY_SCRYPT_P). Signing uses SHA-256 (EC, RSA PKCS#1 v1.5) or SM3
 * with the distinguishing ID CA_SM2_DEFAULT_ID (SM2).
 *
 * Tokens are named by RFC 7512 URIs: path attributes token, object, id,
 * serial, manufacturer, model (others ignored) and the query attribute
 * module-path (required). pin-value and pin-source are refused: the PIN is
 * always given as a struct secret.
 */

/* scrypt cost of new key files (see ca_key_generate_file). */
#define CA_KEY_SCRYPT_N 16384
#define CA_KEY_SCRYPT_P 4

struct ca_key;
struct ca_token;

/* A parsed PKCS#11 URI; every field may be NULL except module. */
struct ca_p11_uri {
	char *module; /* module-path */
	char *token;  /* token label */
	char *object; /* object label */
	char *serial; /* token serial */
	char *manufacturer;
	char *model;
	unsigned char *id; /* CKA_ID bytes */
	size_t id_len;
};

/* Parses uri. On success *out is owned by the caller (ca_p11_uri_free).
 * Returns 0 or UK_ERR_USAGE with a reason in err. */
int ca_p11_uri_parse(const char *uri, struct ca_p11_uri **out, char *err,
    size_t errlen);

/* Frees u; NULL is a no-op. */
void ca_p11_uri_free(struct ca_p11_uri *u);

/* Whether ref is a PKCS#11 URI ("pkcs11:") rather than a file path. */
int ca_key_ref_is_token(const char *ref);

/*
 * Generates a new key of type (rsa_bits for CA_KEY_RSA) in memory and
 * writes it encrypted with pass to path (O_EXCL, mode 0600). On success *out
 * (may be NULL) is the key, owned by the caller (ca_key_free). Returns 0,
 * UK_ERR_EXISTS (path exists), UK_ERR_IO, UK_ERR_CA_KEY_TYPE or UK_ERR_NOMEM.
 */
int ca_key_generate_file(enum ca_key_type type, int rsa_bits, const char *path,
    const struct secret *pass, struct ca_key **out, char *err, size_t errlen);

/* Reads the encrypted key file at path with pass. *out is owned by the
 * caller. Returns 0, UK_ERR_IO (unreadable), UK_ERR_CA_KEY (wrong passphrase
 * or not a key) or UK_ERR_CA_KEY_TYPE (a key type the CA does not use). */
int ca_key_load_file(const char *path, const struct secret *pass,
    struct ca_key **out, char *err, size_t errlen);

/*
 * Generates key pairs on the token named by uri, one per label in labels
 * (n of them), of type CA_KEY_EC or CA_KEY_RSA, through the module's own
 * PKCS#11 interface (log out, log in with pin, C_GenerateKeyPair with
 * CKA_TOKEN, private keys sensitive and not extractable, a fresh random
 * CKA_ID per pair, log out). Refuses with UK_ERR_EXISTS when a private key
 * with one of the labels exists. Returns 0, UK_ERR_CA_KEY_TYPE,
 * UK_ERR_TOKEN_*, UK_ERR_EXISTS or UK_ERR_USAGE.
 */
int ca_token_generate(const char *uri, const struct secret *pin,
    const char *const *labels, size_t n, enum ca_key_type type, int rsa_bits,
    char *err, size_t errlen);

/*
 * Opens the token named by uri through libp11 and logs in with pin (after
 * logging out). On success *out is owned by the caller (ca_token_free); keys
 * taken from it keep it alive. Returns 0, UK_ERR_TOKEN_MODULE,
 * UK_ERR_TOKEN_NOT_PRESENT, UK_ERR_TOKEN_PIN_INCORRECT,
 * UK_ERR_TOKEN_PIN_LOCKED or UK_ERR_USAGE.
 */
int ca_token_open(const char *uri, const struct secret *pin,
    struct ca_token **out, char *err, size_t errlen);

/* Drops the caller's reference to t; the module is unloaded with the last
 * reference. NULL is a no-op. */
void ca_token_free(struct ca_token *t);

/* The object label of t's URI (NULL if it has none). Borrowed. */
const char *ca_token_object(const struct ca_token *t);

/*
 * Finds the private key labelled label on t (and, when id is not NULL, with
 * that CKA_ID). On success *out is owned by the caller (ca_key_free) and
 * holds a reference to t. Returns 0, UK_ERR_TOKEN_KEY_NOT_FOUND or
 * UK_ERR_CA_KEY_TYPE.
 */
int ca_token_key(struct ca_token *t, const char *label, const unsigned char *id,
    size_t id_len, struct ca_key **out, char *err, size_t errlen);

/* Frees k (wiping a file key) and its token reference; NULL is a no-op. */
void ca_key_free(struct ca_key *k);

/* The key's type. */
enum ca_key_type ca_key_get_type(const struct ca_key *k);

/* The private key for signing (borrowed; for a token key it only works
 * while the token is open). */
EVP_PKEY *ca_key_private(const struct ca_key *k);

/* The public key (borrowed). */
EVP_PKEY *ca_key_public(const struct ca_key *k);

/* Whether k is the key of cert's public key: 1 yes, 0 no. */
int ca_key_matches(const struct ca_key *k, X509 *cert);

/* Signs x / crl with k (setting the signature algorithm, SM2 with its ID).
 * Returns 0, UK_ERR_CA_KEY or UK_ERR_TOKEN_SIGN (token keys). */
int ca_key_sign_cert(const struct ca_key *k, X509 *x);
int ca_key_sign_crl(const struct ca_key *k, X509_CRL *crl);

/* Signs len bytes of data with k the way certificates are signed (SHA-256,
 * SM3 with the SM2 ID, PKCS#1 v1.5), for structures encoded by the caller.
 * On success *sig (malloc'd, caller frees) holds *siglen bytes in the
 * X.509 signature encoding (DER ECDSA / SM2 signature, RSA block). Returns
 * 0, UK_ERR_CA_KEY, UK_ERR_TOKEN_SIGN or UK_ERR_NOMEM. */
int ca_key_sign_data(const struct ca_key *k, const unsigned char *data,
    size_t len, unsigned char **sig, size_t *siglen);

/* Sets the SM2 distinguishing ID CA_SM2_DEFAULT_ID on x when it is signed
 * with SM2 and has none yet (OpenSSL 3 verifies an SM2-signed certificate
 * only with the ID set on it); the CA and the verifier both use it. Returns
 * 0 or UK_ERR_NOMEM. */
int ca_cert_set_sm2_id(X509 *x);

#endif
