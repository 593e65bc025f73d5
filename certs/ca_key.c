/* certs/ca_key.c: CA signing keys: encrypted PEM files and PKCS#11 token keys (generation, loading, signing). */
#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <libp11.h>
#include <p11-kit/pkcs11.h>

#include "certs/ca_key.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/rnd.h"
#include "pkcs11/token.h"

/* Largest key file read (an RSA 8192 key in encrypted PEM is ~7 KiB). */
#define KEY_FILE_MAX (64 * 1024)

/* Length of the random CKA_ID given to generated token keys. */
#define TOKEN_ID_LEN 16

struct ca_token {
	int refs;
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot; /* the token's slot, in slots */
	int loaded;        /* PKCS11_CTX_load succeeded */
	struct ca_p11_uri *uri;
};

struct ca_key {
	enum ca_key_type type;
	EVP_PKEY *priv; /* file key: the key; token key: libp11's handle */
	EVP_PKEY *pub;
	struct ca_token *token; /* NULL for a file key */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- RFC 7512 URIs ---- */

void
ca_p11_uri_free(struct ca_p11_uri *u)
{
	if (u == NULL)
		return;
	free(u->module);
	free(u->token);
	free(u->object);
	free(u->serial);
	free(u->manufacturer);
	free(u->model);
	free(u->id);
	free(u);
}

/* Percent-decodes s[0..len) into a new NUL-terminated buffer. */
static int
pct_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *b;
	size_t i, n = 0;

	*out = NULL;
	if ((b = malloc(len + 1)) == NULL)
		return UK_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len ||
			    hex_decode(s + i + 1, 2, b + n) != 0) {
				free(b);
				return UK_ERR_USAGE;
			}
			n++;
			i += 2;
		} else
			b[n++] = (unsigned char)s[i];
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
}

/* Stores one attribute's decoded value in *field (text: no NUL bytes). */
static int
uri_set(char **field, const char *v, size_t vlen, const char *name, char *err,
    size_t errlen)
{
	unsigned char *d;
	size_t dlen;

	if (*field != NULL) {
		seterr(err, errlen, "PKCS#11 URI: %s given twice", name);
		return UK_ERR_USAGE;
	}
	if (pct_decode(v, vlen, &d, &dlen) != 0 || dlen == 0 ||
	    memchr(d, '\0', dlen) != NULL) {
		free(d);
		seterr(err, errlen, "PKCS#11 URI: bad value for %s", name);
		return UK_ERR_USAGE;
	}
	*field = (char *)d;
	return 0;
}

/* One "name=value" of the path (query = 0) or the query (query = 1). */
static int
uri_attr(struct ca_p11_uri *u, const char *a, size_t len, int query, char *err,
    size_t errlen)
{
	const char *eq = memchr(a, '=', len);
	size_t nlen, vlen;
	const char *v;

	if (len == 0)
		return 0;
	if (eq == NULL) {
		seterr(err, errlen, "PKCS#11 URI: attribute without '='");
		return UK_ERR_USAGE;
	}
	nlen = (size_t)(eq - a);
	v = eq + 1;
	vlen = len - nlen - 1;
#define IS(s) (nlen == strlen(s) && memcmp(a, (s), nlen) == 0)
	if (query) {
		if (IS("module-path"))
			return uri_set(&u->module, v, vlen, "module-path", err,
			    errlen);
		if (IS("pin-value") || IS("pin-source")) {
			seterr(err, errlen,
			    "PKCS#11 URI: the PIN is never taken from the "
			    "URI; use --pin-fd or the terminal");
			return UK_ERR_USAGE;
		}
		if (IS("module-name")) {
			seterr(err, errlen,
			    "PKCS#11 URI: give module-path, not module-name");
			return UK_ERR_USAGE;
		}
		seterr(err, errlen, "PKCS#11 URI: unknown query attribute");
		return UK_ERR_USAGE;
	}
	if (IS("token"))
		return uri_set(&u->token, v, vlen, "token", err, errlen);
	if (IS("object"))
		return uri_set(&u->object, v, vlen, "object", err, errlen);
	if (IS("serial"))
		return uri_set(&u->serial, v, vlen, "serial", err, errlen);
	if (IS("manufacturer"))
		return uri_set(&u->manufacturer, v, vlen, "manufacturer", err,
		    errlen);
	if (IS("model"))
		return uri_set(&u->model, v, vlen, "model", err, errlen);
	if (IS("id")) {
		if (u->id != NULL ||
		    pct_decode(v, vlen, &u->id, &u->id_len) != 0 ||
		    u->id_len == 0) {
			seterr(err, errlen, "PKCS#11 URI: bad id");
			return UK_ERR_USAGE;
		}
		return 0;
	}
	if (IS("type") || IS("slot-id") || IS("slot-description") ||
	    IS("slot-manufacturer") || IS("library-manufacturer") ||
	    IS("library-description") || IS("library-version"))
		return 0;
#undef IS
	seterr(err, errlen, "PKCS#11 URI: unknown path attribute");
	return UK_ERR_USAGE;
}

int
ca_p11_uri_parse(const char *uri, struct ca_p11_uri **out, char *err,
    size_t errlen)
{
	struct ca_p11_uri *u = NULL;
	const char *p, *q, *end, *sep;
	int r = UK_ERR_USAGE;

	*out = NULL;
	if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0 ||
	    strlen(uri) > 4096) {
		seterr(err, errlen, "not a PKCS#11 URI (pkcs11:...)");
		goto out;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	p = uri + 7;
	q = strchr(p, '?');
	end = q != NULL ? q : p + strlen(p);
	while (p < end) {
		sep = memchr(p, ';', (size_t)(end - p));
		if (sep == NULL)
			sep = end;
		if ((r = uri_attr(u, p, (size_t)(sep - p), 0, err, errlen)) !=
		    0)
			goto out;
		p = sep + 1;
	}
	if (q != NULL) {
		p = q + 1;
		end = p + strlen(p);
		while (p < end) {
			sep = memchr(p, '&', (size_t)(end - p));
			if (sep == NULL)
				sep = end;
			if ((r = uri_attr(u, p, (size_t)(sep - p), 1, err,
			         errlen)) != 0)
				goto out;
			p = sep + 1;
		}
	}
	r = UK_ERR_USAGE;
	if (u->module == NULL || u->module[0] != '/') {
		seterr(err, errlen,
		    "PKCS#11 URI needs ?module-path=/absolute/path.so");
		goto out;
	}
	if (u->token == NULL && u->serial == NULL) {
		seterr(err, errlen, "PKCS#11 URI needs token= or serial=");
		goto out;
	}
	if (u->object == NULL) {
		seterr(err, errlen, "PKCS#11 URI needs object=");
		goto out;
	}
	*out = u;
	u = NULL;
	r = 0;
out:
	ca_p11_uri_free(u);
	return r;
}

int
ca_key_ref_is_token(const char *ref)
{
	return ref != NULL && strncmp(ref, "pkcs11:", 7) == 0;
}

/* ---- keys ---- */

void
ca_key_free(struct ca_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->priv);
	EVP_PKEY_free(k->pub);
	ca_token_free(k->token);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

enum ca_key_type
ca_key_get_type(const struct ca_key *k)
{
	return k->type;
}

EVP_PKEY *
ca_key_private(const struct ca_key *k)
{
	return k->priv;
}

EVP_PKEY *
ca_key_public(const struct ca_key *k)
{
	return k->pub;
}

int
ca_key_matches(const struct ca_key *k, X509 *cert)
{
	EVP_PKEY *cp = X509_get0_pubkey(cert);
	int r;

	if (k == NULL || cp == NULL)
		return 0;
	r = EVP_PKEY_eq(k->pub, cp) == 1;
	ERR_clear_error();
	return r;
}

/* The type of a key the CA can sign with, or 0. */
static enum ca_key_type
pkey_type(EVP_PKEY *pk)
{
	char group[64];
	size_t glen = 0;

	if (pk == NULL)
		return 0;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return CA_KEY_RSA;
	if (EVP_PKEY_is_a(pk, "SM2"))
		return CA_KEY_SM2;
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen)) {
		if (strcmp(group, "prime256v1") == 0)
			return CA_KEY_EC;
		if (strcmp(group, "SM2") == 0)
			return CA_KEY_SM2;
	}
	return 0;
}

/* Makes sure an SM2 key is an "SM2" EVP_PKEY (not ECDSA on the SM2
 * curve), converting it through its parameters when needed. */
static int
sm2_normalise(EVP_PKEY **pk)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *n = NULL;
	int r = UK_ERR_CA_KEY;

	if (EVP_PKEY_is_a(*pk, "SM2"))
		return 0;
	if (!EVP_PKEY_todata(*pk, EVP_PKEY_KEYPAIR, &params) &&
	    !EVP_PKEY_todata(*pk, EVP_PKEY_PUBLIC_KEY, &params))
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &n, EVP_PKEY_KEYPAIR, params) <= 0)
		goto out;
	EVP_PKEY_free(*pk);
	*pk = n;
	n = NULL;
	r = 0;
out:
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(n);
	ERR_clear_error();
	return r;
}

/* A public-only copy of pk. */
static EVP_PKEY *
public_copy(EVP_PKEY *pk)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int len;

	if ((len = i2d_PUBKEY(pk, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (pub != NULL && pkey_type(pub) == CA_KEY_SM2 &&
	    sm2_normalise(&pub) != 0) {
		EVP_PKEY_free(pub);
		pub = NULL;
	}
	return pub;
}

static int
generate_pkey(enum ca_key_type type, int rsa_bits, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	int r = UK_ERR_CA_KEY;

	*out = NULL;
	switch (type) {
	case CA_KEY_EC:
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_set_group_name(ctx, "prime256v1") <= 0)
			goto out;
		break;
	case CA_KEY_SM2:
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0)
			goto out;
		break;
	case CA_KEY_RSA:
		if (rsa_bits < 2048 || rsa_bits > 8192) {
			r = UK_ERR_CA_KEY_TYPE;
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, rsa_bits) <= 0)
			goto out;
		break;
	default:
		r = UK_ERR_CA_KEY_TYPE;
		goto out;
	}
	if (EVP_PKEY_keygen(ctx, out) <= 0)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Wraps a file key (takes pk). */
static int
key_wrap(EVP_PKEY *pk, struct ca_key **out)
{
	struct ca_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pk);
		return UK_ERR_NOMEM;
	}
	k->priv = pk;
	k->type = pkey_type(pk);
	if ((k->pub = public_copy(pk)) == NULL) {
		ca_key_free(k);
		return UK_ERR_CA_KEY;
	}
	*out = k;
	return 0;
}

/*
 * Writes pk to bio as an encrypted PKCS#8 PEM: PBES2 with scrypt
 * (N = CA_KEY_SCRYPT_N, r = 8, p = CA_KEY_SCRYPT_P: 16 MiB, about 0.2 s
 * here, within OpenSSL's default scrypt memory limit so that openssl pkey
 * reads the file) and AES-256-CBC. Every issue decrypts the key once, so
 * the cost stays well under a second. Returns 0, UK_ERR_CA_KEY or
 * UK_ERR_NOMEM.
 */
static int
encrypt_pkcs8(EVP_PKEY *pk, const struct secret *pass, BIO *bio)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *sig = NULL;
	int r = UK_ERR_CA_KEY;

	if (pass->len > INT_MAX)
		goto out;
	if ((pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL,
	         CA_KEY_SCRYPT_N, 8, CA_KEY_SCRYPT_P)) == NULL ||
	    (p8 = EVP_PKEY2PKCS8(pk)) == NULL)
		goto out;
	if ((sig = PKCS8_set0_pbe((const char *)pass->buf, (int)pass->len, p8,
	         pbe)) == NULL)
		goto out;
	pbe = NULL; /* transferred */
	if (!PEM_write_bio_PKCS8(bio, sig))
		goto out;
	r = 0;
out:
	X509_SIG_free(sig);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

int
ca_key_generate_file(enum ca_key_type type, int rsa_bits, const char *path,
    const struct secret *pass, struct ca_key **out, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	struct stat sb;
	int r;

	if (out != NULL)
		*out = NULL;
	if (pass == NULL || pass->len == 0) {
		seterr(err, errlen, "an empty passphrase is not accepted");
		r = UK_ERR_SECRET_EMPTY;
		goto out;
	}
	if (lstat(path, &sb) == 0) {
		seterr(err, errlen, "%s already exists", path);
		r = UK_ERR_EXISTS;
		goto out;
	}
	if ((r = generate_pkey(type, rsa_bits, &pk)) != 0) {
		seterr(err, errlen, "key generation failed");
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	if ((r = encrypt_pkcs8(pk, pass, bio)) != 0) {
		seterr(err, errlen, "cannot encrypt the key");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((r = file_write_new(path, mem->data, mem->length, 0600)) != 0) {
		seterr(err, errlen, "cannot write %s", path);
		goto out;
	}
	if (out != NULL) {
		r = key_wrap(pk, out);
		pk = NULL; /* transferred */
		if (r != 0) {
			(void)unlink(path);
			goto out;
		}
	}
	r = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return r;
}

/* PEM passphrase callback: u is the struct secret. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	const struct secret *s = u;

	(void)rwflag;
	if (s == NULL || s->len == 0 || s->len > (size_t)size)
		return -1;
	memcpy(buf, s->buf, s->len);
	return (int)s->len;
}

int
ca_key_load_file(const char *path, const struct secret *pass,
    struct ca_key **out, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, KEY_FILE_MAX, &buf, &len)) != 0) {
		seterr(err, errlen, "cannot read the key file %s", path);
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto out;
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, pass_cb,
	         (void *)(uintptr_t)pass)) == NULL) {
		seterr(err, errlen,
		    "wrong passphrase, or %s is not an encrypted key", path);
		r = UK_ERR_CA_KEY;
		goto out;
	}
	switch (pkey_type(pk)) {
	case CA_KEY_SM2:
		if ((r = sm2_normalise(&pk)) != 0)
			goto out;
		break;
	case CA_KEY_EC:
	case CA_KEY_RSA:
		break;
	default:
		seterr(err, errlen, "%s holds a key type the CA does not use",
		    path);
		r = UK_ERR_CA_KEY_TYPE;
		goto out;
	}
	r = key_wrap(pk, out);
	pk = NULL; /* transferred */
out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return r;
}

/* ---- signing ---- */

/* Prepares mctx for signing with k (SHA-256, or SM3 with the SM2 ID). */
static int
sign_init(const struct ca_key *k, EVP_MD_CTX *mctx)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;

	md = k->type == CA_KEY_SM2 ? EVP_sm3() : EVP_sha256();
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, k->priv) != 1)
		return UK_ERR_CA_KEY;
	if (k->type == CA_KEY_SM2 &&
	    EVP_PKEY_CTX_set1_id(pctx, CA_SM2_DEFAULT_ID,
	        strlen(CA_SM2_DEFAULT_ID)) <= 0)
		return UK_ERR_CA_KEY;
	if (k->type == CA_KEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		return UK_ERR_CA_KEY;
	return 0;
}

int
ca_key_sign_cert(const struct ca_key *k, X509 *x)
{
	EVP_MD_CTX *mctx;
	int r;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return UK_ERR_NOMEM;
	if ((r = sign_init(k, mctx)) == 0 && X509_sign_ctx(x, mctx) <= 0)
		r = k->token != NULL ? UK_ERR_TOKEN_SIGN : UK_ERR_CA_KEY;
	if (r == 0 && k->type == CA_KEY_SM2)
		r = ca_cert_set_sm2_id(x);
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return r;
}

int
ca_key_sign_crl(const struct ca_key *k, X509_CRL *crl)
{
	EVP_MD_CTX *mctx;
	int r;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return UK_ERR_NOMEM;
	if ((r = sign_init(k, mctx)) == 0 && X509_CRL_sign_ctx(crl, mctx) <= 0)
		r = k->token != NULL ? UK_ERR_TOKEN_SIGN : UK_ERR_CA_KEY;
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return r;
}

int
ca_key_sign_data(const struct ca_key *k, const unsigned char *data, size_t len,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *mctx;
	unsigned char *s = NULL;
	size_t n = 0;
	int r;

	*sig = NULL;
	*siglen = 0;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return UK_ERR_NOMEM;
	if ((r = sign_init(k, mctx)) != 0)
		goto out;
	r = k->token != NULL ? UK_ERR_TOKEN_SIGN : UK_ERR_CA_KEY;
	if (EVP_DigestSign(mctx, NULL, &n, data, len) != 1 || n == 0)
		goto out;
	if ((s = malloc(n)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(mctx, s, &n, data, len) != 1)
		goto out;
	*sig = s;
	*siglen = n;
	s = NULL;
	r = 0;
out:
	free(s);
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return r;
}

int
ca_cert_set_sm2_id(X509 *x)
{
	ASN1_OCTET_STRING *id;
	int nid = X509_get_signature_nid(x);

	/* An ID already set (a verifier's own) is kept. */
	if (nid != NID_SM2_with_SM3 || X509_get0_distinguishing_id(x) != NULL)
		return 0;
	if ((id = ASN1_OCTET_STRING_new()) == NULL)
		return UK_ERR_NOMEM;
	if (!ASN1_OCTET_STRING_set(id, (const unsigned char *)CA_SM2_DEFAULT_ID,
	        (int)strlen(CA_SM2_DEFAULT_ID))) {
		ASN1_OCTET_STRING_free(id);
		return UK_ERR_NOMEM;
	}
	X509_set0_distinguishing_id(x, id);
	return 0;
}

/* ---- PKCS#11 through the module's own interface (key generation) ---- */

/* Copies a space-padded token string into out, trimmed. */
static void
trim_copy(char *out, size_t outlen, const unsigned char *in, size_t inlen)
{
	while (inlen > 0 && (in[inlen - 1] == ' ' || in[inlen - 1] == '\0'))
		inlen--;
	if (inlen >= outlen)
		inlen = outlen - 1;
	memcpy(out, in, inlen);
	out[inlen] = '\0';
}

static int
rv_to_err(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return UK_ERR_TOKEN_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
		return UK_ERR_TOKEN_PIN_LOCKED;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
		return UK_ERR_TOKEN_NOT_PRESENT;
	default:
		return UK_ERR_TOKEN_MODULE;
	}
}

/* Finds the slot whose token matches u. */
static int
raw_find_slot(CK_FUNCTION_LIST *f, const struct ca_p11_uri *u, CK_SLOT_ID *out,
    char *err, size_t errlen)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	char label[33], serial[17], manuf[33], model[17];
	int r = UK_ERR_TOKEN_NOT_PRESENT;
	CK_RV rv;

	if ((rv = f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
		seterr(err, errlen, "C_GetSlotList failed: %s",
		    p11_rv_name(rv));
		r = rv_to_err(rv);
		goto out;
	}
	if (n == 0 || n > 1024 || (slots = calloc(n, sizeof(*slots))) == NULL)
		goto notfound;
	if ((rv = f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		r = rv_to_err(rv);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		trim_copy(label, sizeof(label), ti.label, sizeof(ti.label));
		trim_copy(serial, sizeof(serial), ti.serialNumber,
		    sizeof(ti.serialNumber));
		trim_copy(manuf, sizeof(manuf), ti.manufacturerID,
		    sizeof(ti.manufacturerID));
		trim_copy(model, sizeof(model), ti.model, sizeof(ti.model));
		if ((u->token && strcmp(u->token, label) != 0) ||
		    (u->serial && strcmp(u->serial, serial) != 0) ||
		    (u->manufacturer && strcmp(u->manufacturer, manuf) != 0) ||
		    (u->model && strcmp(u->model, model) != 0))
			continue;
		*out = slots[i];
		r = 0;
		goto out;
	}
notfound:
	seterr(err, errlen, "no token \"%s\" is present",
	    u->token ? u->token : (u->serial ? u->serial : "?"));
out:
	free(slots);
	return r;
}

/* 1 when a private key labelled label exists, 0 when not, < 0 on error. */
static int
raw_label_exists(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
	};
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;

	if (f->C_FindObjectsInit(s, t, 2) != CKR_OK)
		return -1;
	if (f->C_FindObjects(s, &h, 1, &n) != CKR_OK)
		n = (CK_ULONG)-1;
	f->C_FindObjectsFinal(s);
	return n == (CK_ULONG)-1 ? -1 : n > 0;
}

static int
raw_generate(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, const char *label,
    enum ca_key_type type, int rsa_bits, char *err, size_t errlen)
{
	/* DER of OID 1.2.840.10045.3.1.7 (prime256v1) */
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
		0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char e65537[] = { 0x01, 0x00, 0x01 };
	unsigned char id[TOKEN_ID_LEN];
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = (CK_ULONG)rsa_bits;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_ATTRIBUTE pub[8], priv[8];
	CK_ULONG npub = 0, npriv = 0;
	CK_RV rv;

	if (rnd_bytes(id, sizeof(id)) != 0)
		return UK_ERR_INTERNAL;
#define ATTR(arr, n, atype, ptr, len)                                          \
	do {                                                                   \
		(arr)[(n)].type = (atype);                                     \
		(arr)[(n)].pValue = (void *)(uintptr_t)(ptr);                  \
		(arr)[(n)].ulValueLen = (len);                                 \
		(n)++;                                                         \
	} while (0)
	ATTR(pub, npub, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(pub, npub, CKA_VERIFY, &yes, sizeof(yes));
	ATTR(pub, npub, CKA_LABEL, label, strlen(label));
	ATTR(pub, npub, CKA_ID, id, sizeof(id));
	ATTR(priv, npriv, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(priv, npriv, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(priv, npriv, CKA_SENSITIVE, &yes, sizeof(yes));
	ATTR(priv, npriv, CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(priv, npriv, CKA_SIGN, &yes, sizeof(yes));
	ATTR(priv, npriv, CKA_LABEL, label, strlen(label));
	ATTR(priv, npriv, CKA_ID, id, sizeof(id));
	if (type == CA_KEY_EC) {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		ATTR(pub, npub, CKA_EC_PARAMS, p256, sizeof(p256));
	} else {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		ATTR(pub, npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
		ATTR(pub, npub, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
	}
#undef ATTR
	rv = f->C_GenerateKeyPair(s, &mech, pub, npub, priv, npriv, &hpub,
	    &hpriv);
	if (rv != CKR_OK) {
		seterr(err, errlen, "C_GenerateKeyPair for %s failed: %s",
		    label, p11_rv_name(rv));
		return rv_to_err(rv);
	}
	return 0;
}

int
ca_token_generate(const char *uri, const struct secret *pin,
    const char *const *labels, size_t n, enum ca_key_type type, int rsa_bits,
    char *err, size_t errlen)
{
	struct ca_p11_uri *u = NULL;
	CK_C_INITIALIZE_ARGS args;
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST *f = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID slot = 0;
	void *dl = NULL;
	int r, inited = 0, e;
	size_t i;
	CK_RV rv;

	if (type != CA_KEY_EC && type != CA_KEY_RSA) {
		seterr(err, errlen, "tokens hold EC or RSA CA keys only");
		return UK_ERR_CA_KEY_TYPE;
	}
	if (type == CA_KEY_RSA && (rsa_bits < 2048 || rsa_bits > 8192))
		return UK_ERR_CA_KEY_TYPE;
	if ((r = ca_p11_uri_parse(uri, &u, err, errlen)) != 0)
		return r;
	r = UK_ERR_TOKEN_MODULE;
	/* Not closed: libp11 loads the same module again right after, and
	 * unloading some modules (SoftHSM2) from a process is unsafe. */
	if ((dl = dlopen(u->module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		seterr(err, errlen, "cannot load PKCS#11 module %s", u->module);
		goto out;
	}
	*(void **)(&getfl) = dlsym(dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&f) != CKR_OK || f == NULL) {
		seterr(err, errlen, "%s is not a PKCS#11 module", u->module);
		goto out;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		seterr(err, errlen, "C_Initialize failed: %s", p11_rv_name(rv));
		goto out;
	}
	inited = rv == CKR_OK;
	if ((r = raw_find_slot(f, u, &slot, err, errlen)) != 0)
		goto out;
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	         NULL, NULL, &s)) != CKR_OK) {
		seterr(err, errlen, "C_OpenSession failed: %s",
		    p11_rv_name(rv));
		r = rv_to_err(rv);
		goto out;
	}
	(void)f->C_Logout(s); /* log out before every login */
	rv = f->C_Login(s, CKU_USER, pin->buf, pin->len);
	if (rv != CKR_OK) {
		seterr(err, errlen, "login to the token failed: %s",
		    p11_rv_name(rv));
		r = rv_to_err(rv);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((e = raw_label_exists(f, s, labels[i])) != 0) {
			seterr(err, errlen,
			    e > 0 ? "a key labelled %s is already on the token"
			          : "cannot search the token for %s",
			    labels[i]);
			r = e > 0 ? UK_ERR_EXISTS : UK_ERR_TOKEN_MODULE;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if ((r = raw_generate(f, s, labels[i], type, rsa_bits, err,
		         errlen)) != 0)
			goto out;
	r = 0;
out:
	if (s != CK_INVALID_HANDLE) {
		(void)f->C_Logout(s);
		(void)f->C_CloseSession(s);
	}
	if (inited)
		(void)f->C_Finalize(NULL);
	ca_p11_uri_free(u);
	return r;
}

/* ---- PKCS#11 through libp11 (signing) ---- */

void
ca_token_free(struct ca_token *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	if (t->slot != NULL)
		(void)PKCS11_logout(t->slot);
	if (t->slots != NULL)
		PKCS11_release_all_slots(t->ctx, t->slots, t->nslots);
	if (t->ctx != NULL) {
		if (t->loaded)
			PKCS11_CTX_unload(t->ctx);
		PKCS11_CTX_free(t->ctx);
	}
	ca_p11_uri_free(t->uri);
	free(t);
}

const char *
ca_token_object(const struct ca_token *t)
{
	return t->uri->object;
}

/* The CK_RV libp11 recorded for its last failure, or 0. */
static unsigned long
libp11_last_rv(void)
{
	unsigned long e = ERR_peek_last_error();

	return e != 0 ? (unsigned long)ERR_GET_REASON(e) : 0;
}

int
ca_token_open(const char *uri, const struct secret *pin, struct ca_token **out,
    char *err, size_t errlen)
{
	struct ca_token *t = NULL;
	const struct ca_p11_uri *u;
	PKCS11_TOKEN *tok;
	unsigned int i;
	int r;

	*out = NULL;
	ERR_clear_error();
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return UK_ERR_NOMEM;
	t->refs = 1;
	if ((r = ca_p11_uri_parse(uri, &t->uri, err, errlen)) != 0)
		goto out;
	u = t->uri;
	r = UK_ERR_TOKEN_MODULE;
	if ((t->ctx = PKCS11_CTX_new()) == NULL)
		goto out;
	if (PKCS11_CTX_load(t->ctx, u->module) != 0) {
		seterr(err, errlen, "cannot load PKCS#11 module %s", u->module);
		goto out;
	}
	t->loaded = 1;
	if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->nslots) != 0) {
		seterr(err, errlen, "cannot list the module's slots");
		goto out;
	}
	for (i = 0; i < t->nslots; i++) {
		tok = t->slots[i].token;
		if (tok == NULL || !tok->initialized)
			continue;
		if ((u->token && strcmp(u->token, tok->label) != 0) ||
		    (u->serial && strcmp(u->serial, tok->serialnr) != 0) ||
		    (u->manufacturer &&
		        strcmp(u->manufacturer, tok->manufacturer) != 0) ||
		    (u->model && strcmp(u->model, tok->model) != 0))
			continue;
		t->slot = &t->slots[i];
		break;
	}
	if (t->slot == NULL) {
		seterr(err, errlen, "no token \"%s\" is present",
		    u->token ? u->token : (u->serial ? u->serial : "?"));
		r = UK_ERR_TOKEN_NOT_PRESENT;
		goto out;
	}
	if (PKCS11_open_session(t->slot, 0) != 0) {
		seterr(err, errlen, "cannot open a session on the token");
		goto out;
	}
	/* libp11 skips C_Login when it believes it is logged in. */
	(void)PKCS11_logout(t->slot);
	ERR_clear_error();
	if (PKCS11_login(t->slot, 0, (const char *)pin->buf) != 0) {
		unsigned long rv = libp11_last_rv();

		r = rv != 0 ? rv_to_err(rv) : UK_ERR_TOKEN_PIN_INCORRECT;
		if (r == UK_ERR_TOKEN_MODULE)
			r = UK_ERR_TOKEN_PIN_INCORRECT;
		seterr(err, errlen, "login to the token failed: %s",
		    rv != 0 ? p11_rv_name(rv) : "(no CK_RV)");
		goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	ca_token_free(t);
	ERR_clear_error();
	return r;
}

/* The public key object matching the private key priv (same CKA_ID and
 * label), as a new EVP_PKEY reference, or NULL. */
static EVP_PKEY *
token_public(struct ca_token *t, const PKCS11_KEY *priv)
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0, i;

	if (PKCS11_enumerate_public_keys(t->slot->token, &keys, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (keys[i].id_len != priv->id_len ||
		    memcmp(keys[i].id, priv->id, priv->id_len) != 0)
			continue;
		if (priv->label != NULL &&
		    (keys[i].label == NULL ||
		        strcmp(keys[i].label, priv->label) != 0))
			continue;
		return PKCS11_get_public_key(&keys[i]);
	}
	return NULL;
}

int
ca_token_key(struct ca_token *t, const char *label, const unsigned char *id,
    size_t id_len, struct ca_key **out, char *err, size_t errlen)
{
	PKCS11_KEY *keys = NULL, *key = NULL;
	EVP_PKEY *pub = NULL;
	unsigned int n = 0, i;
	struct ca_key *k = NULL;
	int r = UK_ERR_TOKEN_KEY_NOT_FOUND;

	*out = NULL;
	if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) != 0) {
		seterr(err, errlen, "cannot list the token's keys");
		r = UK_ERR_TOKEN_MODULE;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (keys[i].label == NULL || strcmp(keys[i].label, label) != 0)
			continue;
		if (id != NULL &&
		    (keys[i].id_len != id_len ||
		        memcmp(keys[i].id, id, id_len) != 0))
			continue;
		key = &keys[i];
		break;
	}
	if (key == NULL) {
		seterr(err, errlen, "no private key labelled %s on the token",
		    label);
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if ((k->priv = PKCS11_get_private_key(key)) == NULL) {
		seterr(err, errlen, "libp11 cannot use the key %s", label);
		goto out;
	}
	/* The public half: from the private key object when libp11 filled
	 * it in, else from the public key object with the same CKA_ID
	 * (PKCS11_get_public_key on a private key leaks in libp11 0.4.12). */
	if ((k->pub = public_copy(k->priv)) == NULL) {
		ERR_clear_error();
		if ((pub = token_public(t, key)) == NULL ||
		    (k->pub = public_copy(pub)) == NULL) {
			seterr(err, errlen, "no public key for %s on the token",
			    label);
			goto out;
		}
	}
	if ((k->type = pkey_type(k->pub)) != CA_KEY_EC &&
	    k->type != CA_KEY_RSA) {
		seterr(err, errlen, "%s is neither EC P-256 nor RSA", label);
		r = UK_ERR_CA_KEY_TYPE;
		goto out;
	}
	t->refs++;
	k->token = t;
	*out = k;
	k = NULL;
	r = 0;
out:
	EVP_PKEY_free(pub);
	ca_key_free(k);
	ERR_clear_error();
	return r;
}
