/* pkcs11/token_key.c: keys on the token: generation, public keys, signatures (ES256, RS256, PS256), CSRs, certificates. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "common/errors.h"
#include "common/log.h"
#include "pkcs11/token_impl.h"

/* DER of the OID prime256v1, as CKA_EC_PARAMS holds it. */
static const unsigned char p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x03, 0x01, 0x07 };

/* DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1). */
static const unsigned char sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
	0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	0x04, 0x20 };

#define P256_LEN 32
#define RSA_MAX_BYTES 512
#define EXP_MAX_BYTES 8
#define EC_POINT_MAX 80
#define KEYGEN_ID_LEN 16
#define KEYGEN_ATTRS 8

enum sig_alg { ALG_ES256 = 1, ALG_RS256, ALG_PS256 };

static int
alg_parse(const char *alg, enum sig_alg *out)
{
	int r = 0;

	if (alg != NULL && strcmp(alg, "ES256") == 0)
		*out = ALG_ES256;
	else if (alg != NULL && strcmp(alg, "RS256") == 0)
		*out = ALG_RS256;
	else if (alg != NULL && strcmp(alg, "PS256") == 0)
		*out = ALG_PS256;
	else
		r = UK_ERR_INPUT;
	return r;
}

static int
id_ok(const struct p11_id *id)
{
	return id != NULL && id->len > 0 && id->len <= P11_ID_MAX;
}

static void
id_hex(const struct p11_id *id, char *buf, size_t size)
{
	if (p11_id_to_hex(id, buf, size) != 0 && size > 0)
		buf[0] = '\0';
}

/* Checks that the key obj suits alg: an EC key on P-256 for ES256, an RSA
 * key for RS256 and PS256. */
static int
key_suits(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    enum sig_alg alg)
{
	unsigned char params[32];
	CK_ULONG kt = 0;
	size_t len = 0;
	int r;

	if ((r = p11_attr_ulong(ctx, s, obj, CKA_KEY_TYPE, &kt)) != 0) {
		if (r == UK_ERR_NOT_FOUND || r == UK_ERR_LIMIT)
			r = P11_ERR_DEVICE;
		goto out;
	}
	r = UK_ERR_INPUT;
	if (kt != (alg == ALG_ES256 ? CKK_EC : CKK_RSA))
		goto out;
	r = 0;
	if (alg != ALG_ES256)
		goto out;
	/* Private EC keys carry CKA_EC_PARAMS; when a module hides it the
	 * signature's length still tells P-256 from the larger curves. */
	r = p11_attr(ctx, s, obj, CKA_EC_PARAMS, params, sizeof(params), &len);
	if (r == UK_ERR_NOT_FOUND) {
		r = 0;
		goto out;
	}
	if (r == UK_ERR_LIMIT ||
	    (r == 0 &&
	        (len != sizeof(p256_oid) ||
	            memcmp(params, p256_oid, len) != 0)))
		r = UK_ERR_INPUT;
out:
	return r;
}

/* Signs tbs with the private key obj: hashes, builds the mechanism and
 * input alg needs, and lets the token sign. */
static int
sign_with(struct p11_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    enum sig_alg alg, const unsigned char *tbs, size_t tbs_len,
    unsigned char *sig, size_t *siglen)
{
	struct p11_ctx *ctx = tok->ctx;
	unsigned char in[sizeof(sha256_prefix) + P256_LEN];
	unsigned char *md = in + sizeof(sha256_prefix);
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech;
	CK_ULONG inlen = P256_LEN, outlen = 0;
	CK_BYTE_PTR data = md;
	CK_RV rv;
	int r;

	if ((r = key_suits(ctx, s, obj, alg)) != 0) {
		if (r == UK_ERR_INPUT)
			uk_log_err(r,
			    "token %s: key does not suit the algorithm",
			    tok->serial);
		goto out;
	}
	r = UK_ERR_INTERNAL;
	if (EVP_Digest(tbs, tbs_len, md, NULL, EVP_sha256(), NULL) != 1)
		goto out;
	memset(&mech, 0, sizeof(mech));
	switch (alg) {
	case ALG_ES256:
		mech.mechanism = CKM_ECDSA;
		break;
	case ALG_RS256:
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(in, sha256_prefix, sizeof(sha256_prefix));
		data = in;
		inlen = sizeof(in);
		break;
	case ALG_PS256:
		pss.hashAlg = CKM_SHA256;
		pss.mgf = CKG_MGF1_SHA256;
		pss.sLen = P256_LEN;
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		break;
	}
	rv = p11_rv_set(ctx, ctx->fl->C_SignInit(s, &mech, obj));
	if (rv != CKR_OK)
		goto fail;
	rv = p11_rv_set(ctx, ctx->fl->C_Sign(s, data, inlen, NULL, &outlen));
	if (rv != CKR_OK)
		goto fail;
	/* An operation left active ends with the session, which the caller
	 * closes. */
	r = UK_ERR_LIMIT;
	if (outlen > *siglen || outlen > P11_SIG_MAX) {
		uk_log_err(r, "token %s: a %lu-byte signature", tok->serial,
		    outlen);
		goto out;
	}
	r = UK_ERR_INPUT;
	if (alg == ALG_ES256 && outlen != 2 * P256_LEN) {
		uk_log_err(r,
		    "token %s: ES256 with a %lu-byte ECDSA signature: "
		    "not a P-256 key",
		    tok->serial, outlen);
		goto out;
	}
	rv = p11_rv_set(ctx, ctx->fl->C_Sign(s, data, inlen, sig, &outlen));
	if (rv != CKR_OK)
		goto fail;
	r = UK_ERR_TOKEN_SIGN;
	if (outlen > *siglen || (alg == ALG_ES256 && outlen != 2 * P256_LEN)) {
		uk_log_err(r, "token %s: signature of %lu bytes", tok->serial,
		    outlen);
		goto out;
	}
	*siglen = outlen;
	r = 0;
	goto out;
fail:
	r = p11_rv_err(rv, UK_ERR_TOKEN_SIGN);
	uk_log_err(r, "token %s: sign: %s", tok->serial, p11_rv_name(rv));
out:
	return r;
}

/* Finds the private key with CKA_ID id. */
static int
find_private(struct p11_token *tok, CK_SESSION_HANDLE s,
    const struct p11_id *id, CK_OBJECT_HANDLE *obj)
{
	char hex[2 * P11_ID_MAX + 1];
	int r;

	r = p11_find(tok->ctx, s, CKO_PRIVATE_KEY, id, obj);
	if (r == UK_ERR_NOT_FOUND) {
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
		id_hex(id, hex, sizeof(hex));
		uk_log_err(r, "token %s: no private key %s (logged in?)",
		    tok->serial, hex);
	}
	return r;
}

int
p11_sign(struct p11_token *tok, const struct p11_id *id, const char *alg,
    const unsigned char *tbs, size_t tbs_len, unsigned char *sig,
    size_t *siglen)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key;
	PKCS11_SLOT *slot;
	enum sig_alg a;
	int r;

	if (!id_ok(id) || (tbs == NULL && tbs_len > 0) || sig == NULL ||
	    siglen == NULL || (r = alg_parse(alg, &a)) != 0) {
		r = UK_ERR_INPUT;
		uk_log_err(r, "p11_sign: bad arguments");
		goto out;
	}
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = p11_session_open(tok, 0, &s)) != 0)
		goto out;
	if ((r = find_private(tok, s, id, &key)) != 0)
		goto out;
	r = sign_with(tok, s, key, a, tbs, tbs_len, sig, siglen);
out:
	p11_session_close(tok->ctx, s);
	return r;
}

/* Returns 0 when no object of any kind has CKA_ID id. */
static int
id_unused(struct p11_token *tok, CK_SESSION_HANDLE s, const struct p11_id *id)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY,
		CKO_PUBLIC_KEY, CKO_CERTIFICATE };
	char hex[2 * P11_ID_MAX + 1];
	CK_OBJECT_HANDLE obj;
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < sizeof(classes) / sizeof(classes[0]); i++) {
		r = p11_find(tok->ctx, s, classes[i], id, &obj);
		if (r == UK_ERR_NOT_FOUND) {
			r = 0;
		} else if (r == 0) {
			r = UK_ERR_EXISTS;
			id_hex(id, hex, sizeof(hex));
			uk_log_err(r, "token %s: id %s is taken", tok->serial,
			    hex);
		}
	}
	return r;
}

/* Appends one attribute to a template of KEYGEN_ATTRS entries. */
static void
attr_add(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, const void *p,
    size_t len)
{
	if (*n >= KEYGEN_ATTRS)
		return;
	t[*n].type = type;
	t[*n].pValue = (void *)p;
	t[*n].ulValueLen = len;
	(*n)++;
}

int
p11_keygen(struct p11_token *tok, enum p11_key_type type, const char *label,
    const struct p11_id *id, struct p11_id *out_id)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pub, priv;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech;
	CK_ATTRIBUTE pt[KEYGEN_ATTRS], kt[KEYGEN_ATTRS];
	CK_ULONG npt = 0, nkt = 0;
	struct p11_id kid;
	PKCS11_SLOT *slot;
	size_t label_len;
	char hex[2 * P11_ID_MAX + 1];
	CK_RV rv;
	int r = UK_ERR_INPUT;

	if (label == NULL)
		label = "";
	if ((label_len = strlen(label)) > P11_LABEL_MAX ||
	    (type != P11_KEY_EC_P256 && type != P11_KEY_RSA_2048) ||
	    (id != NULL && !id_ok(id))) {
		uk_log_err(r, "p11_keygen: bad arguments");
		goto out;
	}
	if (id != NULL) {
		kid = *id;
	} else {
		r = UK_ERR_INTERNAL;
		if (RAND_bytes(kid.b, KEYGEN_ID_LEN) != 1)
			goto out;
		kid.len = KEYGEN_ID_LEN;
	}
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = p11_session_open(tok, 1, &s)) != 0)
		goto out;
	if ((r = id_unused(tok, s, &kid)) != 0)
		goto out;

	memset(&mech, 0, sizeof(mech));
	attr_add(pt, &npt, CKA_TOKEN, &yes, sizeof(yes));
	attr_add(pt, &npt, CKA_PRIVATE, &no, sizeof(no));
	attr_add(pt, &npt, CKA_VERIFY, &yes, sizeof(yes));
	attr_add(pt, &npt, CKA_ID, kid.b, kid.len);
	attr_add(pt, &npt, CKA_LABEL, label, label_len);
	attr_add(kt, &nkt, CKA_TOKEN, &yes, sizeof(yes));
	attr_add(kt, &nkt, CKA_PRIVATE, &yes, sizeof(yes));
	attr_add(kt, &nkt, CKA_SENSITIVE, &yes, sizeof(yes));
	attr_add(kt, &nkt, CKA_EXTRACTABLE, &no, sizeof(no));
	attr_add(kt, &nkt, CKA_SIGN, &yes, sizeof(yes));
	attr_add(kt, &nkt, CKA_ID, kid.b, kid.len);
	attr_add(kt, &nkt, CKA_LABEL, label, label_len);
	if (type == P11_KEY_EC_P256) {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		attr_add(pt, &npt, CKA_EC_PARAMS, p256_oid, sizeof(p256_oid));
	} else {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		attr_add(pt, &npt, CKA_MODULUS_BITS, &bits, sizeof(bits));
		attr_add(pt, &npt, CKA_PUBLIC_EXPONENT, exponent,
		    sizeof(exponent));
	}
	rv = p11_rv_set(ctx,
	    ctx->fl->C_GenerateKeyPair(s, &mech, pt, npt, kt, nkt, &pub,
	        &priv));
	if ((r = p11_rv_err(rv, P11_ERR_DEVICE)) != 0) {
		uk_log_err(r, "token %s: C_GenerateKeyPair: %s", tok->serial,
		    p11_rv_name(rv));
		goto out;
	}
	id_hex(&kid, hex, sizeof(hex));
	uk_log(UK_LOG_INFO, "token %s: %s key pair %s generated", tok->serial,
	    type == P11_KEY_EC_P256 ? "EC P-256" : "RSA 2048", hex);
	if (out_id != NULL)
		*out_id = kid;
	r = 0;
out:
	p11_session_close(ctx, s);
	return r;
}

/* An EC P-256 public key from CKA_EC_PARAMS and CKA_EC_POINT. */
static int
ec_pubkey(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    EVP_PKEY **out)
{
	static char group[] = "prime256v1";
	unsigned char params[32], point[EC_POINT_MAX], *pt = point;
	size_t plen = 0, len = 0;
	OSSL_PARAM op[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	r = p11_attr(ctx, s, obj, CKA_EC_PARAMS, params, sizeof(params), &plen);
	if (r == UK_ERR_NOT_FOUND || r == UK_ERR_LIMIT)
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (r != 0)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (plen != sizeof(p256_oid) || memcmp(params, p256_oid, plen) != 0) {
		uk_log_err(r, "EC key on a curve other than P-256");
		goto out;
	}
	r = p11_attr(ctx, s, obj, CKA_EC_POINT, point, sizeof(point), &len);
	if (r == UK_ERR_NOT_FOUND || r == UK_ERR_LIMIT)
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (r != 0)
		goto out;
	/* PKCS#11 wants the point DER-wrapped in an OCTET STRING; some
	 * modules give it bare. */
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (len == 2 + 1 + 2 * P256_LEN && point[0] == 0x04 &&
	    point[1] == 1 + 2 * P256_LEN) {
		pt = point + 2;
		len -= 2;
	}
	if (len != 1 + 2 * P256_LEN || pt[0] != 0x04) {
		uk_log_err(r, "malformed CKA_EC_POINT (%zu bytes)", len);
		goto out;
	}
	op[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0);
	op[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, len);
	op[2] = OSSL_PARAM_construct_end();
	r = UK_ERR_NOMEM;
	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, op) != 1)
		goto out;
	EVP_PKEY_CTX_free(pctx);
	r = UK_ERR_NOMEM;
	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (EVP_PKEY_public_check(pctx) != 1) {
		uk_log_err(r, "EC public key not on P-256");
		goto out;
	}
	*out = pkey;
	pkey = NULL; /* transferred */
	r = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return r;
}

/* An RSA public key from CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
static int
rsa_pubkey(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    EVP_PKEY **out)
{
	unsigned char mod[RSA_MAX_BYTES], exp[EXP_MAX_BYTES];
	size_t mlen = 0, elen = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *op = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	r = p11_attr(ctx, s, obj, CKA_MODULUS, mod, sizeof(mod), &mlen);
	if (r == 0)
		r = p11_attr(ctx, s, obj, CKA_PUBLIC_EXPONENT, exp, sizeof(exp),
		    &elen);
	if (r == UK_ERR_NOT_FOUND || r == UK_ERR_LIMIT)
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (r != 0)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (mlen == 0 || elen == 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((n = BN_bin2bn(mod, (int)mlen, NULL)) == NULL ||
	    (e = BN_bin2bn(exp, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (op = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL)
		goto out;
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	if (EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, op) != 1)
		goto out;
	*out = pkey;
	pkey = NULL; /* transferred */
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(op);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ERR_clear_error();
	return r;
}

int
p11_pubkey_from_object(struct p11_ctx *ctx, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE obj, EVP_PKEY **out)
{
	CK_ULONG kt = 0;
	int r;

	if ((r = p11_attr_ulong(ctx, s, obj, CKA_KEY_TYPE, &kt)) != 0) {
		if (r == UK_ERR_NOT_FOUND || r == UK_ERR_LIMIT)
			r = UK_ERR_TOKEN_KEY_NOT_FOUND;
		goto out;
	}
	if (kt == CKK_EC)
		r = ec_pubkey(ctx, s, obj, out);
	else if (kt == CKK_RSA)
		r = rsa_pubkey(ctx, s, obj, out);
	else {
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
		uk_log_err(r, "key type 0x%lx not supported", kt);
	}
out:
	return r;
}

int
p11_public_key(struct p11_token *tok, const struct p11_id *id, EVP_PKEY **out)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE obj;
	PKCS11_SLOT *slot;
	char hex[2 * P11_ID_MAX + 1];
	int r;

	*out = NULL;
	if (!id_ok(id)) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = p11_session_open(tok, 0, &s)) != 0)
		goto out;
	r = p11_find(tok->ctx, s, CKO_PUBLIC_KEY, id, &obj);
	/* Without a public key object, an RSA private key still shows its
	 * modulus and exponent. */
	if (r == UK_ERR_NOT_FOUND)
		r = p11_find(tok->ctx, s, CKO_PRIVATE_KEY, id, &obj);
	if (r == UK_ERR_NOT_FOUND) {
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
		id_hex(id, hex, sizeof(hex));
		uk_log_err(r, "token %s: no key %s", tok->serial, hex);
	}
	if (r != 0)
		goto out;
	r = p11_pubkey_from_object(tok->ctx, s, obj, out);
out:
	p11_session_close(tok->ctx, s);
	return r;
}

/* Turns a raw r||s ECDSA signature into the DER ECDSA-Sig-Value X.509
 * wants; *der is allocated. */
static int
ecdsa_raw_to_der(const unsigned char *sig, size_t len, unsigned char **der,
    int *der_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	int r = UK_ERR_TOKEN_SIGN;

	*der = NULL;
	if (len != 2 * P256_LEN)
		goto out;
	r = UK_ERR_NOMEM;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(sig, P256_LEN, NULL)) == NULL ||
	    (bs = BN_bin2bn(sig + P256_LEN, P256_LEN, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL; /* transferred */
	if ((*der_len = i2d_ECDSA_SIG(es, der)) <= 0) {
		*der = NULL;
		goto out;
	}
	r = 0;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return r;
}

int
p11_csr(struct p11_token *tok, const struct p11_id *id,
    const X509_NAME *subject, X509_REQ **out)
{
	unsigned char sig[P11_SIG_MAX], *tbs = NULL, *der = NULL;
	size_t siglen = sizeof(sig);
	int tbs_len, der_len = 0, ec, r;
	EVP_PKEY *pub = NULL;
	X509_REQ *req = NULL;
	X509_ALGOR *algor = NULL;
	ASN1_BIT_STRING *bits = NULL;

	*out = NULL;
	if (subject == NULL || !id_ok(id)) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = p11_public_key(tok, id, &pub)) != 0)
		goto out;
	ec = EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC;
	r = UK_ERR_NOMEM;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, subject) != 1 ||
	    X509_REQ_set_pubkey(req, pub) != 1 ||
	    (algor = X509_ALGOR_new()) == NULL)
		goto out;
	if (X509_ALGOR_set0(algor,
	        OBJ_nid2obj(
	            ec ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption),
	        ec ? V_ASN1_UNDEF : V_ASN1_NULL, NULL) != 1 ||
	    X509_REQ_set1_signature_algo(req, algor) != 1)
		goto out;
	if ((tbs_len = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0)
		goto out;
	r = p11_sign(tok, id, ec ? "ES256" : "RS256", tbs, (size_t)tbs_len, sig,
	    &siglen);
	if (r != 0)
		goto out;
	if (ec) {
		if ((r = ecdsa_raw_to_der(sig, siglen, &der, &der_len)) != 0)
			goto out;
	} else {
		r = UK_ERR_NOMEM;
		if ((der = OPENSSL_memdup(sig, siglen)) == NULL)
			goto out;
		der_len = (int)siglen;
	}
	r = UK_ERR_NOMEM;
	if ((bits = ASN1_BIT_STRING_new()) == NULL ||
	    ASN1_BIT_STRING_set(bits, der, der_len) != 1)
		goto out;
	/* No unused bits in the last byte. */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bits);
	bits = NULL; /* transferred */
	/* The token's word is not taken for it. */
	if (X509_REQ_verify(req, pub) != 1) {
		r = UK_ERR_TOKEN_SIGN;
		uk_log_err(r, "token %s: the CSR's signature does not verify",
		    tok->serial);
		goto out;
	}
	*out = req;
	req = NULL; /* transferred */
	r = 0;
out:
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(algor);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

int
p11_store_cert(struct p11_token *tok, const struct p11_id *id,
    const char *label, X509 *cert)
{
	struct p11_ctx *ctx = tok->ctx;
	char lab[P11_LABEL_MAX + 1], hex[2 * P11_ID_MAX + 1];
	unsigned char idb[P11_ID_MAX];
	EVP_PKEY *pub = NULL, *cert_key;
	PKCS11_SLOT *slot;
	size_t n = 0;
	CK_RV rv;
	int r = UK_ERR_INPUT;

	if (cert == NULL || !id_ok(id))
		goto out;
	if (label != NULL && (n = strlen(label)) > P11_LABEL_MAX)
		goto out;
	if (label != NULL)
		memcpy(lab, label, n + 1);
	if ((cert_key = X509_get0_pubkey(cert)) == NULL)
		goto out;
	if ((r = p11_public_key(tok, id, &pub)) != 0)
		goto out;
	id_hex(id, hex, sizeof(hex));
	if (EVP_PKEY_eq(pub, cert_key) != 1) {
		r = UK_ERR_TOKEN_KEY_NOT_FOUND;
		uk_log_err(r, "token %s: the certificate is not for key %s",
		    tok->serial, hex);
		goto out;
	}
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	memcpy(idb, id->b, id->len);
	p11_err_reset(ctx);
	if (slot->token == NULL ||
	    PKCS11_store_certificate(slot->token, cert,
	        label != NULL ? lab : NULL, idb, id->len, NULL) != 0) {
		rv = p11_err_take(ctx);
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: storing the certificate: %s",
		    tok->serial, p11_rv_name(rv));
		goto out;
	}
	uk_log(UK_LOG_INFO, "token %s: certificate stored for key %s",
	    tok->serial, hex);
	r = 0;
out:
	if (r == UK_ERR_INPUT)
		uk_log_err(r, "p11_store_cert: bad arguments");
	EVP_PKEY_free(pub);
	ERR_clear_error();
	return r;
}
