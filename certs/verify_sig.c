/* certs/verify_sig.c: login-signature checks (ES256, RS256, PS256, SM2) and the general signature verifier behind them. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "certs/verify.h"
#include "common/errors.h"

#define MAX_SIG 1024 /* RSA 8192 */

/* Whether pub is an EC key (not SM2) and, if so, its curve's NID. */
static int
ec_curve_nid(EVP_PKEY *pub, int *nid)
{
	char name[80];
	size_t len = 0;

	if (!EVP_PKEY_is_a(pub, "EC"))
		return 0;
	if (!EVP_PKEY_get_group_name(pub, name, sizeof(name), &len))
		return 0;
	if ((*nid = OBJ_txt2nid(name)) == NID_undef &&
	    (*nid = EC_curve_nist2nid(name)) == NID_undef)
		return 0;
	return 1;
}

/*
 * Converts raw r||s (each half nlen bytes) into a DER ECDSA-Sig-Value after
 * checking 1 <= r, s < order. *der is OPENSSL_malloc'd.
 */
static int
raw_to_der(const BIGNUM *order, const unsigned char *sig, size_t siglen,
    unsigned char **der, size_t *derlen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	size_t nlen = (size_t)BN_num_bytes(order);
	int len, ret = UK_ERR_SIGNATURE_INVALID;

	*der = NULL;
	if (siglen != 2 * nlen)
		goto out;
	if ((r = BN_bin2bn(sig, (int)nlen, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + nlen, (int)nlen, NULL)) == NULL) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	if (BN_is_zero(r) || BN_is_zero(s) || BN_cmp(r, order) >= 0 ||
	    BN_cmp(s, order) >= 0)
		goto out;
	if ((es = ECDSA_SIG_new()) == NULL) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	if (!ECDSA_SIG_set0(es, r, s)) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	r = s = NULL; /* transferred */
	if ((len = i2d_ECDSA_SIG(es, der)) <= 0) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	*derlen = (size_t)len;
	ret = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ret;
}

/* The order of pub's group (EC or SM2 key); *order is the caller's. */
static int
key_order(EVP_PKEY *pub, BIGNUM **order)
{
	EC_GROUP *g = NULL;
	char name[80];
	size_t len = 0;
	int nid, ret = UK_ERR_SIGNATURE_INVALID;

	*order = NULL;
	if (!EVP_PKEY_get_group_name(pub, name, sizeof(name), &len))
		goto out;
	if ((nid = OBJ_txt2nid(name)) == NID_undef &&
	    (nid = EC_curve_nist2nid(name)) == NID_undef)
		goto out;
	if ((g = EC_GROUP_new_by_curve_name(nid)) == NULL)
		goto out;
	if ((*order = BN_dup(EC_GROUP_get0_order(g))) == NULL) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	ret = 0;
out:
	EC_GROUP_free(g);
	return ret;
}

static int
scheme_fits_key(EVP_PKEY *pub, enum ca_sig_scheme scheme)
{
	int nid;

	switch (scheme) {
	case CA_SIG_ECDSA_DER:
	case CA_SIG_ECDSA_P1363:
		return ec_curve_nid(pub, &nid);
	case CA_SIG_RSA_PKCS1:
		return EVP_PKEY_is_a(pub, "RSA");
	case CA_SIG_RSA_PSS:
		return EVP_PKEY_is_a(pub, "RSA") ||
		    EVP_PKEY_is_a(pub, "RSA-PSS");
	case CA_SIG_SM2_DER:
	case CA_SIG_SM2_RAW:
		return EVP_PKEY_is_a(pub, "SM2");
	}
	return 0;
}

int
ca_verify_signature_ex(EVP_PKEY *pub, const struct ca_sig_params *p,
    const unsigned char *tbs, size_t tbslen, const unsigned char *sig,
    size_t siglen)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL, *own_pctx = NULL;
	BIGNUM *order = NULL;
	unsigned char *der = NULL;
	const unsigned char *s = sig;
	size_t slen = siglen;
	const char *id;
	size_t idlen;
	int sm2, ret = UK_ERR_INPUT;

	if (pub == NULL || p == NULL || p->md == NULL ||
	    (tbs == NULL && tbslen != 0) || sig == NULL)
		goto out;
	ret = UK_ERR_SIGNATURE_INVALID;
	if (siglen == 0 || siglen > MAX_SIG || !scheme_fits_key(pub, p->scheme))
		goto out;
	sm2 = p->scheme == CA_SIG_SM2_DER || p->scheme == CA_SIG_SM2_RAW;

	if (p->scheme == CA_SIG_ECDSA_P1363 || p->scheme == CA_SIG_SM2_RAW) {
		if ((ret = key_order(pub, &order)) != 0)
			goto out;
		if ((ret = raw_to_der(order, sig, siglen, &der, &slen)) != 0)
			goto out;
		s = der;
		ret = UK_ERR_SIGNATURE_INVALID;
	}

	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		ret = UK_ERR_NOMEM;
		goto out;
	}
	if (sm2) {
		id = p->sm2_id != NULL ? p->sm2_id : CA_SM2_DEFAULT_ID;
		idlen = p->sm2_id != NULL ? p->sm2_id_len
		                          : strlen(CA_SM2_DEFAULT_ID);
		if ((own_pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) ==
		    NULL) {
			ret = UK_ERR_NOMEM;
			goto out;
		}
		if (EVP_PKEY_CTX_set1_id(own_pctx, id, idlen) <= 0)
			goto out;
		/* mctx does not free a context set this way: own_pctx does */
		EVP_MD_CTX_set_pkey_ctx(mctx, own_pctx);
	}
	if (EVP_DigestVerifyInit_ex(mctx, sm2 ? NULL : &pctx, p->md, NULL, NULL,
	        pub, NULL) != 1)
		goto out;
	if (p->scheme == CA_SIG_RSA_PKCS1) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
			goto out;
	} else if (p->scheme == CA_SIG_RSA_PSS) {
		if (p->salt_len < 0 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <=
		        0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx,
		        p->mgf1_md != NULL ? p->mgf1_md : p->md, NULL) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, p->salt_len) <= 0)
			goto out;
	}
	if (EVP_DigestVerify(mctx, s, slen, tbs, tbslen) != 1)
		goto out;
	ret = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(own_pctx);
	OPENSSL_free(der);
	BN_free(order);
	return ret;
}

int
ca_verify_signature(EVP_PKEY *pub, const char *alg, const unsigned char *tbs,
    size_t tbslen, const unsigned char *sig, size_t siglen)
{
	struct ca_sig_params p;
	int nid;

	if (pub == NULL || alg == NULL)
		return UK_ERR_INPUT;
	memset(&p, 0, sizeof(p));
	p.md = "SHA256";
	if (strcmp(alg, "ES256") == 0) {
		if (!ec_curve_nid(pub, &nid) || nid != NID_X9_62_prime256v1)
			return UK_ERR_SIGNATURE_INVALID;
		if (siglen != 64)
			return UK_ERR_SIGNATURE_INVALID;
		p.scheme = CA_SIG_ECDSA_P1363;
	} else if (strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0) {
		if (!EVP_PKEY_is_a(pub, "RSA") &&
		    !EVP_PKEY_is_a(pub, "RSA-PSS"))
			return UK_ERR_SIGNATURE_INVALID;
		if (EVP_PKEY_get_bits(pub) < 2048)
			return UK_ERR_SIGNATURE_INVALID;
		if (alg[0] == 'R') {
			p.scheme = CA_SIG_RSA_PKCS1;
		} else {
			p.scheme = CA_SIG_RSA_PSS;
			p.mgf1_md = "SHA256";
			p.salt_len = 32;
		}
	} else if (strcmp(alg, "SM2") == 0) {
		if (siglen != 64)
			return UK_ERR_SIGNATURE_INVALID;
		p.scheme = CA_SIG_SM2_RAW;
		p.md = "SM3";
	} else {
		return UK_ERR_INPUT;
	}
	return ca_verify_signature_ex(pub, &p, tbs, tbslen, sig, siglen);
}

int
ca_verify_sm2(EVP_PKEY *pub, const char *id, size_t idlen,
    const unsigned char *msg, size_t msglen, const unsigned char *sig,
    size_t siglen)
{
	struct ca_sig_params p;

	memset(&p, 0, sizeof(p));
	p.scheme = CA_SIG_SM2_DER;
	p.md = "SM3";
	p.sm2_id = id;
	p.sm2_id_len = id != NULL ? idlen : 0;
	return ca_verify_signature_ex(pub, &p, msg, msglen, sig, siglen);
}
