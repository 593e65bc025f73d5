/* certs/verify.c: the certificate verifier used by the gateway and ukey-ca verify: OpenSSL path validation plus strict leaf rules, purpose, SM2 IDs, revocation and a signature cache. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca_key.h"
#include "certs/verify.h"
#include "certs/verify_int.h"
#include "certs/verify_ocsp.h"
#include "common/errors.h"
#include "common/fileio.h"

#define MAX_OBJECTS 4096
#define MAX_FILE (16 * 1024 * 1024)
#define HASHLEN 32

/* A certificate the verifier holds, with the SHA-256 of its encoding
 * computed once when it was added. */
struct owned {
	X509 *x;
	unsigned char h[HASHLEN];
	int ca_ok; /* passes ca_rules() */
};

struct ca_verifier {
	X509_STORE *store;
	STACK_OF(X509) * intermediates;
	STACK_OF(X509_CRL) * crls;
	struct owned *owned;
	size_t nowned, capowned;
	struct ca_sigcache *cache;
	EVP_MD *sha256;
	time_t at;
	enum ca_purpose purpose;
	int max_depth;
	STACK_OF(ASN1_OBJECT) * policies; /* initial policy set, never empty */
	unsigned long policy_vflags;
	int strict;
	enum ca_revocation rev;
	unsigned rev_flags;
	ca_revocation_cb rev_cb;
	void *rev_arg;
	struct ca_ocsp_client *ocsp;
	char err[256];
};

/* State of one ca_verify call, reachable from the X509_STORE_CTX. */
struct vcall {
	struct ca_verifier *v;
};

static void setmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
setmsg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* The reason text of the newest OpenSSL error, or a fallback. */
static const char *
ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e != 0 ? ERR_reason_error_string(e) : NULL;

	return s != NULL ? s : "unknown error";
}

void
ca_verify_result_init(struct ca_verify_result *res)
{
	if (res == NULL)
		return;
	memset(res, 0, sizeof(*res));
	res->x509_error = X509_V_OK;
	res->depth = -1;
	res->revoked_reason = -1;
}

void
ca_verify_result_clear(struct ca_verify_result *res)
{
	if (res == NULL)
		return;
	sk_X509_pop_free(res->chain, X509_free);
	ca_verify_result_init(res);
}

/*
 * Parsing.
 */

/* DER if the input starts like a SEQUENCE, else PEM. */
static int
looks_der(const unsigned char *p, size_t len)
{
	return len > 0 && p[0] == 0x30;
}

static int
der_cert(const unsigned char *der, size_t len, X509 **out, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509 *x;

	*out = NULL;
	if (len > LONG_MAX) {
		setmsg(err, errlen, "certificate too large");
		return UK_ERR_CERT_MALFORMED;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		setmsg(err, errlen, "certificate does not parse: %s",
		    ossl_reason());
		return UK_ERR_CERT_MALFORMED;
	}
	if (p != der + len) {
		X509_free(x);
		setmsg(err, errlen, "%zu bytes after the certificate",
		    (size_t)(der + len - p));
		return UK_ERR_CERT_MALFORMED;
	}
	*out = x;
	return 0;
}

static int
der_crl(const unsigned char *der, size_t len, X509_CRL **out, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_CRL *c;

	*out = NULL;
	if (len > LONG_MAX) {
		setmsg(err, errlen, "CRL too large");
		return UK_ERR_CRL_MALFORMED;
	}
	if ((c = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
		setmsg(err, errlen, "CRL does not parse: %s", ossl_reason());
		return UK_ERR_CRL_MALFORMED;
	}
	if (p != der + len) {
		X509_CRL_free(c);
		setmsg(err, errlen, "%zu bytes after the CRL",
		    (size_t)(der + len - p));
		return UK_ERR_CRL_MALFORMED;
	}
	*out = c;
	return 0;
}

/*
 * Walks the PEM blocks of buf, calling one(block DER) for each block named
 * want. Returns 0, bad (malformed), UK_ERR_LIMIT or UK_ERR_NOMEM.
 */
static int
pem_walk(const void *buf, size_t len, const char *want, int bad,
    int (*one)(void *arg, const unsigned char *der, size_t derlen, char *err,
        size_t errlen),
    void *arg, char *err, size_t errlen)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen;
	unsigned long e;
	int n = 0, r = bad;

	if (len > INT_MAX) {
		r = UK_ERR_LIMIT;
		goto out;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE && n > 0)
				break;
			if (n == 0 && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				setmsg(err, errlen, "no PEM %s block found",
				    want);
			else
				setmsg(err, errlen,
				    "PEM block %d unreadable: %s", n + 1,
				    ossl_reason());
			goto out;
		}
		if (strcmp(name, want) != 0) {
			setmsg(err, errlen, "unexpected PEM block \"%.40s\"",
			    name);
			goto out;
		}
		if (++n > MAX_OBJECTS) {
			setmsg(err, errlen, "more than %d objects",
			    MAX_OBJECTS);
			r = UK_ERR_LIMIT;
			goto out;
		}
		if ((r = one(arg, data, (size_t)dlen, err, errlen)) != 0)
			goto out;
		r = bad;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

static int
push_cert(void *arg, const unsigned char *der, size_t len, char *err,
    size_t errlen)
{
	STACK_OF(X509) *sk = arg;
	X509 *x = NULL;
	int r;

	if ((r = der_cert(der, len, &x, err, errlen)) != 0)
		return r;
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return UK_ERR_NOMEM;
	}
	return 0;
}

static int
push_crl(void *arg, const unsigned char *der, size_t len, char *err,
    size_t errlen)
{
	STACK_OF(X509_CRL) *sk = arg;
	X509_CRL *c = NULL;
	int r;

	if ((r = der_crl(der, len, &c, err, errlen)) != 0)
		return r;
	if (!sk_X509_CRL_push(sk, c)) {
		X509_CRL_free(c);
		return UK_ERR_NOMEM;
	}
	return 0;
}

int
ca_parse_certs(const void *buf, size_t len, STACK_OF(X509) * *out, char *err,
    size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	int r = UK_ERR_CERT_MALFORMED;

	*out = NULL;
	setmsg(err, errlen, "%s", "");
	if (buf == NULL || len == 0) {
		setmsg(err, errlen, "empty input");
		goto out;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (looks_der(buf, len))
		r = push_cert(sk, buf, len, err, errlen);
	else
		r = pem_walk(buf, len, "CERTIFICATE", UK_ERR_CERT_MALFORMED,
		    push_cert, sk, err, errlen);
	if (r != 0)
		goto out;
	*out = sk;
	sk = NULL; /* transferred */
out:
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	return r;
}

int
ca_parse_cert(const void *buf, size_t len, X509 **out, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = NULL;
	int r;

	*out = NULL;
	if ((r = ca_parse_certs(buf, len, &sk, err, errlen)) != 0)
		return r;
	if (sk_X509_num(sk) != 1) {
		setmsg(err, errlen, "%d certificates where one was expected",
		    sk_X509_num(sk));
		sk_X509_pop_free(sk, X509_free);
		return UK_ERR_CERT_MALFORMED;
	}
	*out = sk_X509_shift(sk);
	sk_X509_free(sk);
	return 0;
}

int
ca_parse_crls(const void *buf, size_t len, STACK_OF(X509_CRL) * *out, char *err,
    size_t errlen)
{
	STACK_OF(X509_CRL) *sk = NULL;
	int r = UK_ERR_CRL_MALFORMED;

	*out = NULL;
	setmsg(err, errlen, "%s", "");
	if (buf == NULL || len == 0) {
		setmsg(err, errlen, "empty input");
		goto out;
	}
	if ((sk = sk_X509_CRL_new_null()) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (looks_der(buf, len))
		r = push_crl(sk, buf, len, err, errlen);
	else
		r = pem_walk(buf, len, "X509 CRL", UK_ERR_CRL_MALFORMED,
		    push_crl, sk, err, errlen);
	if (r != 0)
		goto out;
	*out = sk;
	sk = NULL; /* transferred */
out:
	ERR_clear_error();
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return r;
}

/*
 * Strict leaf rules.
 */

/*
 * Key policy of the login profile: RSA of at least 2048 bits (a whole
 * number of bytes), EC on P-256, P-384 or P-521 (named), or SM2.
 */
static int
key_allowed(X509 *x, char *err, size_t errlen)
{
	X509_PUBKEY *spki = X509_get_X509_PUBKEY(x);
	const ASN1_OBJECT *alg = NULL, *curve;
	const void *pval = NULL;
	X509_ALGOR *a = NULL;
	EVP_PKEY *k;
	int ptype = V_ASN1_UNDEF, nid, bits;

	/* Decided from the SubjectPublicKeyInfo algorithm: no provider calls */
	if (spki == NULL ||
	    !X509_PUBKEY_get0_param(NULL, NULL, NULL, &a, spki) || a == NULL) {
		setmsg(err, errlen, "public key unreadable");
		return 0;
	}
	X509_ALGOR_get0(&alg, &ptype, &pval, a);
	switch ((nid = OBJ_obj2nid(alg))) {
	case NID_rsaEncryption:
	case NID_rsassaPss:
		if ((k = X509_get0_pubkey(x)) == NULL) {
			ERR_clear_error();
			setmsg(err, errlen, "RSA public key unusable");
			return 0;
		}
		bits = EVP_PKEY_get_bits(k);
		if (bits < 2048 || bits % 8 != 0) {
			setmsg(err, errlen,
			    "RSA key of %d bits (2048 or more, whole bytes)",
			    bits);
			return 0;
		}
		return 1;
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT || (curve = pval) == NULL) {
			setmsg(err, errlen, "EC key without a named curve");
			return 0;
		}
		nid = OBJ_obj2nid(curve);
		if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ||
		    nid == NID_secp521r1 || nid == NID_sm2)
			return 1;
		setmsg(err, errlen, "EC curve %.40s not accepted",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
		return 0;
	default:
		setmsg(err, errlen, "%.40s keys are not accepted",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
		return 0;
	}
}

/*
 * What the strict profile asks of the CA certificates of a chain beyond
 * OpenSSL: the key policy, and nameConstraints, if present, with permitted
 * or excluded subtrees that are not empty (RFC 5280 4.2.1.10: "MUST NOT be
 * an empty sequence"). Returns 1 or 0 with a message. (Issuance rules that
 * RFC 5280's validation algorithm does not enforce, such as critical
 * policyConstraints, are left out: PKITS's CAs break them.)
 */
static int
ca_rules(X509 *x, char *err, size_t errlen)
{
	NAME_CONSTRAINTS *nc;
	int crit = -1, ok;

	if (!key_allowed(x, err, errlen))
		return 0;
	if ((nc = X509_get_ext_d2i(x, NID_name_constraints, &crit, NULL)) !=
	    NULL) {
		ok = sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) > 0 ||
		    sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) > 0;
		NAME_CONSTRAINTS_free(nc);
		if (!ok) {
			setmsg(err, errlen, "nameConstraints without subtrees");
			return 0;
		}
	}
	ERR_clear_error();
	return 1;
}

/* Every CA certificate of the validated chain passes ca_rules(). */
static int
check_chain_cas(struct ca_verifier *v, STACK_OF(X509) * chain,
    struct ca_verify_result *res, char *err, size_t errlen)
{
	char why[120];
	X509 *x;
	size_t j;
	int i, ok, known;

	for (i = 1; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		known = 0;
		ok = 0;
		for (j = 0; j < v->nowned && !known; j++) {
			if (v->owned[j].x == x) {
				known = 1;
				ok = v->owned[j].ca_ok;
			}
		}
		if (!known || !ok)
			ok = ca_rules(x, why, sizeof(why));
		if (!ok) {
			res->depth = i;
			setmsg(err, errlen, "%s at depth %d", why, i);
			return UK_ERR_CERT_CHAIN;
		}
	}
	return 0;
}

/*
 * Extensions whose content OpenSSL does not check during validation but a
 * leaf must still get right: each must decode and, being a SEQUENCE OF,
 * hold at least one element (RFC 5280 4.2.1.4, 4.2.1.6, 4.2.2.1).
 */
static int
leaf_extensions_ok(X509 *x, char *err, size_t errlen)
{
	static const int nids[] = { NID_info_access, NID_subject_alt_name,
		NID_certificate_policies };
	AUTHORITY_INFO_ACCESS *aia;
	GENERAL_NAMES *gn;
	CERTIFICATEPOLICIES *cp;
	size_t i;
	int crit, n;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		crit = -1;
		n = -1;
		switch (nids[i]) {
		case NID_info_access:
			aia = X509_get_ext_d2i(x, nids[i], &crit, NULL);
			n = aia != NULL ? sk_ACCESS_DESCRIPTION_num(aia) : -1;
			AUTHORITY_INFO_ACCESS_free(aia);
			break;
		case NID_subject_alt_name:
			gn = X509_get_ext_d2i(x, nids[i], &crit, NULL);
			n = gn != NULL ? sk_GENERAL_NAME_num(gn) : -1;
			GENERAL_NAMES_free(gn);
			break;
		default:
			cp = X509_get_ext_d2i(x, nids[i], &crit, NULL);
			n = cp != NULL ? sk_POLICYINFO_num(cp) : -1;
			CERTIFICATEPOLICIES_free(cp);
			break;
		}
		if (crit == -1)
			continue; /* absent */
		if (n <= 0) {
			ERR_clear_error();
			setmsg(err, errlen, "%s extension %s",
			    OBJ_nid2ln(nids[i]),
			    n < 0 ? "malformed or repeated" : "is empty");
			return 0;
		}
	}
	return 1;
}

int
ca_check_leaf_rules(X509 *x, char *err, size_t errlen)
{
	static const int ca_only[] = { NID_name_constraints,
		NID_policy_constraints, NID_policy_mappings,
		NID_inhibit_any_policy };
	const ASN1_INTEGER *sn;
	const unsigned char *d;
	EXTENDED_KEY_USAGE *eku = NULL;
	uint32_t fl;
	int i, len, enc, crit = -1, r = UK_ERR_CERT_LEAF;

	if (x == NULL) {
		setmsg(err, errlen, "no certificate");
		goto out;
	}
	if (X509_get_version(x) != X509_VERSION_3) {
		setmsg(err, errlen, "not an X.509 v3 certificate (v%ld)",
		    X509_get_version(x) + 1);
		goto out;
	}
	fl = X509_get_extension_flags(x);
	if ((fl & EXFLAG_INVALID) != 0) {
		setmsg(err, errlen, "extensions are invalid or repeated");
		goto out;
	}
	if ((fl & EXFLAG_CA) != 0) {
		setmsg(err, errlen, "a CA certificate cannot be a leaf");
		goto out;
	}
	if ((fl & EXFLAG_KUSAGE) != 0 &&
	    (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0) {
		setmsg(err, errlen, "keyUsage keyCertSign on a leaf");
		goto out;
	}
	sn = X509_get0_serialNumber(x);
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER) {
		setmsg(err, errlen, "negative serial number");
		goto out;
	}
	d = ASN1_STRING_get0_data(sn);
	len = ASN1_STRING_length(sn);
	for (i = 0; i < len && d[i] == 0; i++)
		;
	if (i == len) {
		setmsg(err, errlen, "serial number is zero");
		goto out;
	}
	/* DER content octets: the magnitude plus a 0x00 if its top bit is set */
	enc = (len - i) + ((d[i] & 0x80) != 0 ? 1 : 0);
	if (enc > 20) {
		setmsg(err, errlen, "serial number of %d octets (at most 20)",
		    enc);
		goto out;
	}
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1) {
		setmsg(err, errlen, "extendedKeyUsage unreadable");
		goto out;
	}
	if (eku != NULL && sk_ASN1_OBJECT_num(eku) == 0) {
		setmsg(err, errlen, "extendedKeyUsage is empty");
		goto out;
	}
	/*
	 * Extensions RFC 5280 defines for CA certificates only. Refusing
	 * policyConstraints here, before OpenSSL builds the policy cache, also
	 * keeps clear of an OpenSSL 3.0 leak (policy_cache_new loses the
	 * decoded extension when certificatePolicies is absent; openssl#31678)
	 * that a client could otherwise trigger on every login attempt.
	 */
	for (i = 0; i < (int)(sizeof(ca_only) / sizeof(ca_only[0])); i++) {
		if (X509_get_ext_by_NID(x, ca_only[i], -1) >= 0) {
			setmsg(err, errlen, "%s on a leaf",
			    OBJ_nid2ln(ca_only[i]));
			goto out;
		}
	}
	if (!leaf_extensions_ok(x, err, errlen))
		goto out;
	if (!key_allowed(x, err, errlen))
		goto out;
	r = 0;
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return r;
}

static int
check_purpose(enum ca_purpose p, X509 *x, char *err, size_t errlen)
{
	uint32_t fl = X509_get_extension_flags(x);
	uint32_t xku = X509_get_extended_key_usage(x);

	switch (p) {
	case CA_PURPOSE_CLIENT_AUTH:
		if ((fl & EXFLAG_KUSAGE) == 0) {
			setmsg(err, errlen, "no keyUsage extension");
			return UK_ERR_CERT_PURPOSE;
		}
		if ((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0) {
			setmsg(err, errlen, "keyUsage lacks digitalSignature");
			return UK_ERR_CERT_PURPOSE;
		}
		if ((fl & EXFLAG_XKUSAGE) != 0 && (xku & XKU_SSL_CLIENT) == 0) {
			setmsg(err, errlen,
			    "extendedKeyUsage lacks clientAuth");
			return UK_ERR_CERT_PURPOSE;
		}
		break;
	case CA_PURPOSE_SERVER_AUTH:
		if ((fl & EXFLAG_XKUSAGE) != 0 && (xku & XKU_SSL_SERVER) == 0) {
			setmsg(err, errlen,
			    "extendedKeyUsage lacks serverAuth");
			return UK_ERR_CERT_PURPOSE;
		}
		break;
	case CA_PURPOSE_ANY:
		break;
	}
	return 0;
}

/*
 * Construction and configuration.
 */

struct ca_verifier *
ca_verifier_new(void)
{
	struct ca_verifier *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->max_depth = -1;
	v->purpose = CA_PURPOSE_CLIENT_AUTH;
	v->rev = CA_REV_NONE;
	v->strict = 1;
	if ((v->store = X509_STORE_new()) == NULL ||
	    (v->intermediates = sk_X509_new_null()) == NULL ||
	    (v->crls = sk_X509_CRL_new_null()) == NULL ||
	    (v->cache = ca_sigcache_new(0)) == NULL ||
	    (v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    ca_verifier_set_policy(v, NULL, 0, 0) != 0) {
		ca_verifier_free(v);
		return NULL;
	}
	return v;
}

void
ca_verifier_free(struct ca_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	sk_X509_pop_free(v->intermediates, X509_free);
	sk_X509_CRL_pop_free(v->crls, X509_CRL_free);
	for (i = 0; i < v->nowned; i++)
		X509_free(v->owned[i].x);
	free(v->owned);
	ca_sigcache_free(v->cache);
	EVP_MD_free(v->sha256);
	sk_ASN1_OBJECT_pop_free(v->policies, ASN1_OBJECT_free);
	ca_ocsp_client_free(v->ocsp);
	free(v);
}

const char *
ca_verifier_errmsg(const struct ca_verifier *v)
{
	return v != NULL ? v->err : "";
}

/* SHA-256 of x's DER encoding. */
static int
hash_cert(const EVP_MD *md, X509 *x, unsigned char *h)
{
	unsigned char *der = NULL;
	int len, r = UK_ERR_NOMEM;

	if ((len = i2d_X509(x, &der)) <= 0)
		goto out;
	if (!EVP_Digest(der, (size_t)len, h, NULL, md, NULL))
		goto out;
	r = 0;
out:
	OPENSSL_free(der);
	return r;
}

int
ca_verifier_add_cert(struct ca_verifier *v, enum ca_load what, X509 *x)
{
	struct owned *o;
	size_t cap;
	int r = UK_ERR_USAGE;

	if (v == NULL || x == NULL ||
	    (what != CA_LOAD_ANCHORS && what != CA_LOAD_INTERMEDIATES)) {
		if (v != NULL)
			setmsg(v->err, sizeof(v->err), "bad arguments");
		return r;
	}
	if (v->nowned == v->capowned) {
		cap = v->capowned ? v->capowned * 2 : 16;
		if ((o = realloc(v->owned, cap * sizeof(*o))) == NULL)
			return UK_ERR_NOMEM;
		v->owned = o;
		v->capowned = cap;
	}
	o = &v->owned[v->nowned];
	o->ca_ok = ca_rules(x, NULL, 0);
	if ((r = ca_cert_set_sm2_id(x)) != 0 ||
	    (r = hash_cert(v->sha256, x, o->h)) != 0)
		return r;
	if (what == CA_LOAD_ANCHORS) {
		if (!X509_STORE_add_cert(v->store, x))
			return UK_ERR_NOMEM;
	} else {
		if (!X509_up_ref(x))
			return UK_ERR_NOMEM;
		if (!sk_X509_push(v->intermediates, x)) {
			X509_free(x);
			return UK_ERR_NOMEM;
		}
	}
	if (!X509_up_ref(x))
		return UK_ERR_NOMEM;
	o->x = x;
	v->nowned++;
	return 0;
}

int
ca_verifier_add_crl(struct ca_verifier *v, X509_CRL *crl)
{
	ASN1_INTEGER *num;
	int crit = -1;

	if (v == NULL || crl == NULL)
		return UK_ERR_USAGE;
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL)) ==
	    NULL) {
		ERR_clear_error();
		setmsg(v->err, sizeof(v->err),
		    "CRL without a usable CRLNumber (RFC 5280 5.2.3)");
		return UK_ERR_CRL_MALFORMED;
	}
	ASN1_INTEGER_free(num);
	if (!X509_CRL_up_ref(crl))
		return UK_ERR_NOMEM;
	if (!sk_X509_CRL_push(v->crls, crl)) {
		X509_CRL_free(crl);
		return UK_ERR_NOMEM;
	}
	return 0;
}

int
ca_verifier_load_mem(struct ca_verifier *v, enum ca_load what, const void *buf,
    size_t len)
{
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	int i, r = UK_ERR_USAGE;

	if (v == NULL)
		return r;
	v->err[0] = '\0';
	if (what == CA_LOAD_CRLS) {
		if ((r = ca_parse_crls(buf, len, &crls, v->err,
		         sizeof(v->err))) != 0)
			goto out;
		for (i = 0; i < sk_X509_CRL_num(crls); i++) {
			if ((r = ca_verifier_add_crl(v,
			         sk_X509_CRL_value(crls, i))) != 0)
				goto out;
		}
	} else if (what == CA_LOAD_ANCHORS || what == CA_LOAD_INTERMEDIATES) {
		if ((r = ca_parse_certs(buf, len, &certs, v->err,
		         sizeof(v->err))) != 0)
			goto out;
		for (i = 0; i < sk_X509_num(certs); i++) {
			if ((r = ca_verifier_add_cert(v, what,
			         sk_X509_value(certs, i))) != 0)
				goto out;
		}
	} else {
		setmsg(v->err, sizeof(v->err), "bad arguments");
		goto out;
	}
	r = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return r;
}

int
ca_verifier_load_file(struct ca_verifier *v, enum ca_load what,
    const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char msg[sizeof(v->err)];
	int r;

	if (v == NULL || path == NULL)
		return UK_ERR_USAGE;
	if ((r = file_read_all(path, MAX_FILE, &buf, &len)) != 0) {
		setmsg(v->err, sizeof(v->err), "%s: cannot read (%s)", path,
		    r == UK_ERR_LIMIT ? "larger than 16 MiB" : "I/O error");
		return r;
	}
	if ((r = ca_verifier_load_mem(v, what, buf, len)) != 0 &&
	    v->err[0] != '\0') {
		ca_verify_strlcpy(msg, v->err, sizeof(msg));
		setmsg(v->err, sizeof(v->err), "%s: %s", path, msg);
	}
	free(buf);
	return r;
}

void
ca_verifier_set_time(struct ca_verifier *v, time_t t)
{
	if (v != NULL)
		v->at = t;
}

void
ca_verifier_set_purpose(struct ca_verifier *v, enum ca_purpose p)
{
	if (v != NULL)
		v->purpose = p;
}

void
ca_verifier_set_max_depth(struct ca_verifier *v, int depth)
{
	if (v != NULL)
		v->max_depth = depth < 0 ? -1 : depth;
}

int
ca_verifier_set_policy(struct ca_verifier *v, const char *const *oids, size_t n,
    unsigned flags)
{
	STACK_OF(ASN1_OBJECT) *sk = NULL;
	ASN1_OBJECT *o = NULL;
	size_t i;
	int any = n == 0, r = UK_ERR_NOMEM;

	if (v == NULL || (n > 0 && oids == NULL))
		return UK_ERR_USAGE;
	if ((sk = sk_ASN1_OBJECT_new_null()) == NULL)
		goto out;
	for (i = 0; i < n && !any; i++) {
		if ((o = OBJ_txt2obj(oids[i], 1)) == NULL) {
			setmsg(v->err, sizeof(v->err),
			    "not a dotted OID: \"%.60s\"", oids[i]);
			r = UK_ERR_INPUT;
			goto out;
		}
		if (OBJ_obj2nid(o) == NID_any_policy)
			any = 1; /* {anyPolicy, ...} is {anyPolicy} */
		else if (!sk_ASN1_OBJECT_push(sk, o))
			goto out;
		else
			o = NULL; /* transferred */
		ASN1_OBJECT_free(o);
		o = NULL;
	}
	/*
	 * OpenSSL computes the user-constrained policy set only when it is
	 * given one, and an explicit policy (from the caller or a certificate)
	 * needs that set: so {anyPolicy} is passed rather than nothing.
	 */
	if (any) {
		sk_ASN1_OBJECT_pop_free(sk, ASN1_OBJECT_free);
		if ((sk = sk_ASN1_OBJECT_new_null()) == NULL ||
		    (o = OBJ_nid2obj(NID_any_policy)) == NULL ||
		    !sk_ASN1_OBJECT_push(sk, o))
			goto out;
		o = NULL; /* static object, owned by the stack from here */
	}
	sk_ASN1_OBJECT_pop_free(v->policies, ASN1_OBJECT_free);
	v->policies = sk;
	sk = NULL; /* transferred */
	v->policy_vflags = 0;
	if ((flags & CA_POLICY_EXPLICIT) != 0)
		v->policy_vflags |= X509_V_FLAG_EXPLICIT_POLICY;
	if ((flags & CA_POLICY_INHIBIT_MAPPING) != 0)
		v->policy_vflags |= X509_V_FLAG_INHIBIT_MAP;
	if ((flags & CA_POLICY_INHIBIT_ANY) != 0)
		v->policy_vflags |= X509_V_FLAG_INHIBIT_ANY;
	r = 0;
out:
	ERR_clear_error();
	ASN1_OBJECT_free(o);
	sk_ASN1_OBJECT_pop_free(sk, ASN1_OBJECT_free);
	return r;
}

void
ca_verifier_set_strict(struct ca_verifier *v, int on)
{
	if (v != NULL)
		v->strict = on != 0;
}

int
ca_verifier_set_revocation(struct ca_verifier *v, enum ca_revocation mode,
    unsigned flags)
{
	if (v == NULL || mode < CA_REV_NONE || mode > CA_REV_CALLBACK ||
	    (flags & ~(unsigned)CA_REV_LEAF_ONLY) != 0)
		return UK_ERR_USAGE;
	if (mode == CA_REV_OCSP && v->ocsp == NULL &&
	    (v->ocsp = ca_ocsp_client_new(NULL, 0, 0)) == NULL)
		return UK_ERR_NOMEM;
	v->rev = mode;
	v->rev_flags = flags;
	return 0;
}

void
ca_verifier_set_revocation_cb(struct ca_verifier *v, ca_revocation_cb cb,
    void *arg)
{
	if (v == NULL)
		return;
	v->rev_cb = cb;
	v->rev_arg = arg;
}

int
ca_verifier_set_ocsp(struct ca_verifier *v, const char *url, long timeout_ms,
    unsigned flags)
{
	struct ca_ocsp_client *o;

	if (v == NULL)
		return UK_ERR_USAGE;
	if (url != NULL && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		setmsg(v->err, sizeof(v->err),
		    "OCSP URL must be http:// or https://");
		return UK_ERR_INPUT;
	}
	if ((o = ca_ocsp_client_new(url, timeout_ms, flags)) == NULL)
		return UK_ERR_NOMEM;
	ca_ocsp_client_free(v->ocsp);
	v->ocsp = o;
	return 0;
}

void
ca_verifier_set_sigcache(struct ca_verifier *v, struct ca_sigcache *c)
{
	if (v == NULL)
		return;
	ca_sigcache_up_ref(c);
	ca_sigcache_free(v->cache);
	v->cache = c;
}

/*
 * Signature checks with the cache. This replaces OpenSSL's internal_verify
 * (X509_STORE_CTX_set_verify) and does what it does, in the same order with
 * the same errors, except that a signature between two certificates whose
 * (issuer, subject, ID) key is in the cache is not verified again.
 */

static int
fail_cert(X509_STORE_CTX *ctx, X509 *x, int depth, int err)
{
	X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);

	X509_STORE_CTX_set_error_depth(ctx, depth);
	X509_STORE_CTX_set_current_cert(ctx, x);
	X509_STORE_CTX_set_error(ctx, err);
	return cb(0, ctx);
}

/*
 * X509_cmp_time without its cost (it formats the comparison time into a new
 * ASN1_TIME through BIO_snprintf on every call): the same RFC 5280 format
 * rules (UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ), then
 * -1 if ctm <= t, 1 if ctm > t, 0 if ctm is malformed.
 */
static int
cmp_time(const ASN1_TIME *ctm, time_t t)
{
	const unsigned char *d = ASN1_STRING_get0_data(ctm);
	int len = ASN1_STRING_length(ctm), type = ASN1_STRING_type(ctm), i;
	struct tm tm;
	time_t at;

	if (!(type == V_ASN1_UTCTIME && len == 13) &&
	    !(type == V_ASN1_GENERALIZEDTIME && len == 15))
		return 0;
	for (i = 0; i < len - 1; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	if (d[len - 1] != 'Z')
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(ctm, &tm))
		return 0;
	if ((at = timegm(&tm)) == (time_t)-1 && tm.tm_year != 69)
		return 0;
	return at <= t ? -1 : 1;
}

static int
check_cert_time(X509_STORE_CTX *ctx, X509 *x, int depth)
{
	X509_VERIFY_PARAM *vpm = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(vpm);
	time_t t;
	int i;

	if ((flags & X509_V_FLAG_USE_CHECK_TIME) != 0)
		t = X509_VERIFY_PARAM_get_time(vpm);
	else if ((flags & X509_V_FLAG_NO_CHECK_TIME) != 0)
		return 1;
	else
		t = time(NULL);
	i = cmp_time(X509_get0_notBefore(x), t);
	if (i == 0 &&
	    !fail_cert(ctx, x, depth,
	        X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD))
		return 0;
	if (i > 0 && !fail_cert(ctx, x, depth, X509_V_ERR_CERT_NOT_YET_VALID))
		return 0;
	/* RFC 5280 4.1.2.5: notAfter is inclusive; OpenSSL's is exclusive */
	i = cmp_time(X509_get0_notAfter(x), t - 1);
	if (i == 0 &&
	    !fail_cert(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD))
		return 0;
	if (i < 0 && !fail_cert(ctx, x, depth, X509_V_ERR_CERT_HAS_EXPIRED))
		return 0;
	return 1;
}

/* Whether issuer may sign subject as far as keyUsage goes. */
static int
signing_allowed(X509 *issuer, X509 *subject)
{
	if ((X509_get_extension_flags(subject) & EXFLAG_PROXY) != 0) {
		if ((X509_get_key_usage(issuer) & KU_DIGITAL_SIGNATURE) == 0)
			return X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
	} else if ((X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN) == 0) {
		return X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
	}
	return X509_V_OK;
}

/* The SHA-256 of x: remembered for the verifier's own certificates. */
static int
cert_digest(struct ca_verifier *v, X509 *x, unsigned char *h)
{
	size_t i;

	for (i = 0; i < v->nowned; i++) {
		if (v->owned[i].x == x) {
			memcpy(h, v->owned[i].h, HASHLEN);
			return 0;
		}
	}
	return hash_cert(v->sha256, x, h);
}

/* The cache key of "issuer signed subject (with subject's SM2 ID)". */
static int
pair_key(struct ca_verifier *v, X509 *issuer, X509 *subject, unsigned char *key)
{
	static const unsigned char tag[] = "ukeygate sigcache v1";
	unsigned char hi[HASHLEN], hs[HASHLEN], lenbuf[4];
	ASN1_OCTET_STRING *id = X509_get0_distinguishing_id(subject);
	EVP_MD_CTX *md = NULL;
	int idlen = id != NULL ? ASN1_STRING_length(id) : 0, r = UK_ERR_NOMEM;

	if ((r = cert_digest(v, issuer, hi)) != 0 ||
	    (r = cert_digest(v, subject, hs)) != 0)
		return r;
	r = UK_ERR_NOMEM;
	lenbuf[0] = (unsigned char)(idlen >> 24);
	lenbuf[1] = (unsigned char)(idlen >> 16);
	lenbuf[2] = (unsigned char)(idlen >> 8);
	lenbuf[3] = (unsigned char)idlen;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex2(md, v->sha256, NULL) ||
	    !EVP_DigestUpdate(md, tag, sizeof(tag)) ||
	    !EVP_DigestUpdate(md, hi, sizeof(hi)) ||
	    !EVP_DigestUpdate(md, hs, sizeof(hs)) ||
	    !EVP_DigestUpdate(md, lenbuf, sizeof(lenbuf)) ||
	    (idlen > 0 &&
	        !EVP_DigestUpdate(md, ASN1_STRING_get0_data(id),
	            (size_t)idlen)) ||
	    !EVP_DigestFinal_ex(md, key, NULL))
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

/* Checks that xi signed xs (xs at depth n). Returns 0 to stop. */
static int
check_signature(X509_STORE_CTX *ctx, struct ca_verifier *v, X509 *xi, X509 *xs,
    int n)
{
	unsigned char key[CA_SIGCACHE_KEYLEN];
	EVP_PKEY *pkey;
	int issuer_depth = n + (xs == xi ? 0 : 1), ret, cacheable;

	ret = xs == xi && (X509_get_extension_flags(xi) & EXFLAG_CA) == 0
	    ? X509_V_OK
	    : signing_allowed(xi, xs);
	if (ret != X509_V_OK && !fail_cert(ctx, xi, issuer_depth, ret))
		return 0;
	if ((pkey = X509_get0_pubkey(xi)) == NULL)
		return fail_cert(ctx, xi, issuer_depth,
		    X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY);
	/* Leaves too: the key names both certificates' exact DER (and the
	 * SM2 ID), so a hit is the same signature over the same bytes under
	 * the same key, and only successes are kept. An operator logging in
	 * again costs no signature check of the certificate. */
	cacheable = v->cache != NULL && pair_key(v, xi, xs, key) == 0;
	if (cacheable && ca_sigcache_lookup(v->cache, key))
		return 1;
	if (X509_verify(xs, pkey) <= 0)
		return fail_cert(ctx, xs, n, X509_V_ERR_CERT_SIGNATURE_FAILURE);
	if (cacheable)
		ca_sigcache_insert(v->cache, key);
	return 1;
}

static int
verify_sigs(X509_STORE_CTX *ctx)
{
	struct vcall *c = X509_STORE_CTX_get_app_data(ctx);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	X509_STORE_CTX_check_issued_fn check_issued =
	    X509_STORE_CTX_get_check_issued(ctx);
	unsigned long flags =
	    X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
	int n = sk_X509_num(chain) - 1, skip_sig = 0;
	X509 *xi, *xs;

	if (n < 0)
		return 0;
	xi = sk_X509_value(chain, n);
	if (check_issued(ctx, xi, xi)) {
		xs = xi;
	} else if ((flags & X509_V_FLAG_PARTIAL_CHAIN) != 0) {
		xs = xi;
		skip_sig = 1;
	} else if (n <= 0) {
		if (!fail_cert(ctx, xi, 0,
		        X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE))
			return 0;
		xs = xi;
		skip_sig = 1;
	} else {
		n--;
		X509_STORE_CTX_set_error_depth(ctx, n);
		xs = sk_X509_value(chain, n);
	}
	while (n >= 0) {
		/* A self-signed anchor's own signature adds nothing */
		if (!skip_sig &&
		    (xs != xi ||
		        ((flags & X509_V_FLAG_CHECK_SS_SIGNATURE) != 0 &&
		            (X509_get_extension_flags(xi) & EXFLAG_SS) != 0)) &&
		    !check_signature(ctx, c->v, xi, xs, n))
			return 0;
		skip_sig = 0;
		if (!check_cert_time(ctx, xs, n))
			return 0;
		X509_STORE_CTX_set_current_cert(ctx, xs);
		X509_STORE_CTX_set_error_depth(ctx, n);
		if (--n >= 0) {
			xi = xs;
			xs = sk_X509_value(chain, n);
		}
	}
	return 1;
}

/*
 * Results.
 */

static int
map_x509_error(int e)
{
	switch (e) {
	case X509_V_OK:
		return 0;
	case X509_V_ERR_OUT_OF_MEM:
		return UK_ERR_NOMEM;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return UK_ERR_CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return UK_ERR_CERT_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return UK_ERR_CERT_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return UK_ERR_CERT_REVOCATION_UNKNOWN;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
		return UK_ERR_CERT_SIGNATURE;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		return UK_ERR_CERT_UNTRUSTED;
	case X509_V_ERR_INVALID_PURPOSE:
		return UK_ERR_CERT_PURPOSE;
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:
		return UK_ERR_CERT_POLICY;
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
		return UK_ERR_CERT_NAME_CONSTRAINTS;
	default:
		return UK_ERR_CERT_CHAIN;
	}
}

/* The CRLReason of x's entry in v's CRLs, or -1. */
static int
crl_reason(struct ca_verifier *v, X509 *x)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *e;
	int i, crit = -1, reason = -1;

	if (x == NULL)
		return -1;
	for (i = 0; i < sk_X509_CRL_num(v->crls); i++) {
		if (X509_CRL_get0_by_cert(sk_X509_CRL_value(v->crls, i), &rev,
		        x) == 1 &&
		    rev != NULL)
			break;
		rev = NULL;
	}
	if (rev == NULL)
		return -1;
	if ((e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL)) !=
	    NULL) {
		reason = (int)ASN1_ENUMERATED_get(e);
		ASN1_ENUMERATED_free(e);
	}
	return reason;
}

static void
subject_text(X509 *x, char *buf, size_t len)
{
	if (x == NULL ||
	    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len) == NULL)
		ca_verify_strlcpy(buf, "?", len);
}

/* Revocation by callback or OCSP for chain[0 .. last]. */
static int
check_revocation(struct ca_verifier *v, STACK_OF(X509) * chain,
    STACK_OF(X509) * untrusted, time_t now, struct ca_verify_result *res)
{
	char msg[200];
	X509 *x, *issuer;
	int i, last, reason, r = 0;

	last = sk_X509_num(chain) - 2; /* the anchor is not checked */
	if ((v->rev_flags & CA_REV_LEAF_ONLY) != 0 && last > 0)
		last = 0;
	for (i = 0; i <= last; i++) {
		x = sk_X509_value(chain, i);
		issuer = sk_X509_value(chain, i + 1);
		reason = -1;
		msg[0] = '\0';
		if (v->rev == CA_REV_CALLBACK) {
			if (v->rev_cb == NULL) {
				r = UK_ERR_CERT_REVOCATION_UNKNOWN;
				ca_verify_strlcpy(msg,
				    "no revocation callback set", sizeof(msg));
			} else {
				r = v->rev_cb(v->rev_arg, x, issuer, &reason);
				if (r != 0 && r != UK_ERR_CERT_REVOKED) {
					r = UK_ERR_CERT_REVOCATION_UNKNOWN;
					ca_verify_strlcpy(msg,
					    "the revocation callback has no "
					    "answer",
					    sizeof(msg));
				} else if (r == UK_ERR_CERT_REVOKED) {
					ca_verify_strlcpy(msg,
					    "certificate revoked", sizeof(msg));
				}
			}
		} else {
			r = ca_ocsp_client_check(v->ocsp, x, issuer, v->store,
			    untrusted, now, &reason, msg, sizeof(msg));
		}
		if (r != 0) {
			res->depth = i;
			res->revoked_reason =
			    r == UK_ERR_CERT_REVOKED ? reason : -1;
			res->x509_error = r == UK_ERR_CERT_REVOKED
			    ? X509_V_ERR_CERT_REVOKED
			    : X509_V_ERR_UNABLE_TO_GET_CRL;
			setmsg(res->message, sizeof(res->message),
			    "%s at depth %d", msg, i);
			return r;
		}
	}
	return 0;
}

int
ca_verify(struct ca_verifier *v, X509 *leaf, STACK_OF(X509) * extra,
    struct ca_verify_result *res)
{
	struct ca_verify_result local;
	struct vcall call;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL, *merged = NULL;
	X509_VERIFY_PARAM *vpm;
	unsigned long flags;
	char why[160], subj[160];
	time_t now;
	int i, e, r = UK_ERR_NOMEM;

	if (res == NULL) {
		res = &local;
		ca_verify_result_init(res);
	} else {
		ca_verify_result_clear(res);
	}
	if (v == NULL || leaf == NULL) {
		r = UK_ERR_CERT_MALFORMED;
		ca_verify_strlcpy(res->message, "no certificate",
		    sizeof(res->message));
		goto out;
	}
	if (X509_get0_pubkey(leaf) == NULL) {
		r = UK_ERR_CERT_MALFORMED;
		ca_verify_strlcpy(res->message,
		    "the certificate's key is unusable", sizeof(res->message));
		goto out;
	}
	now = v->at != 0 ? v->at : time(NULL);

	/* The leaf's own defects first: they are the most specific answer */
	if (v->strict &&
	    (r = ca_check_leaf_rules(leaf, why, sizeof(why))) != 0) {
		res->depth = 0;
		setmsg(res->message, sizeof(res->message), "%s", why);
		goto out;
	}

	if ((r = ca_cert_set_sm2_id(leaf)) != 0)
		goto out;
	untrusted = v->intermediates;
	if (sk_X509_num(extra) > 0) {
		if ((merged = sk_X509_dup(v->intermediates)) == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < sk_X509_num(extra); i++) {
			if ((r = ca_cert_set_sm2_id(sk_X509_value(extra, i))) !=
			    0)
				goto out;
			if (!sk_X509_push(merged, sk_X509_value(extra, i))) {
				r = UK_ERR_NOMEM;
				goto out;
			}
		}
		untrusted = merged;
	}

	r = UK_ERR_NOMEM;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, v->store, leaf, untrusted))
		goto out;
	vpm = X509_STORE_CTX_get0_param(ctx);
	flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN |
	    X509_V_FLAG_POLICY_CHECK | v->policy_vflags;
	if (v->rev == CA_REV_CRL) {
		flags |= X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
		if ((v->rev_flags & CA_REV_LEAF_ONLY) == 0)
			flags |= X509_V_FLAG_CRL_CHECK_ALL;
		X509_STORE_CTX_set0_crls(ctx, v->crls);
	}
	if (!X509_VERIFY_PARAM_set_flags(vpm, flags))
		goto out;
	X509_VERIFY_PARAM_set_time(vpm, now);
	if (v->max_depth >= 0)
		X509_VERIFY_PARAM_set_depth(vpm, v->max_depth);
	if (!X509_VERIFY_PARAM_set1_policies(vpm, v->policies))
		goto out;
	if (v->purpose == CA_PURPOSE_CLIENT_AUTH &&
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
		goto out;
	if (v->purpose == CA_PURPOSE_SERVER_AUTH &&
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		goto out;
	call.v = v;
	if (!X509_STORE_CTX_set_app_data(ctx, &call))
		goto out;
	X509_STORE_CTX_set_verify(ctx, verify_sigs);

	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		if (e == X509_V_OK)
			e = X509_V_ERR_UNSPECIFIED;
		res->x509_error = e;
		res->depth = X509_STORE_CTX_get_error_depth(ctx);
		r = map_x509_error(e);
		if (r == 0)
			r = UK_ERR_CERT_CHAIN;
		if (r == UK_ERR_CERT_REVOKED)
			res->revoked_reason =
			    crl_reason(v, X509_STORE_CTX_get_current_cert(ctx));
		subject_text(X509_STORE_CTX_get_current_cert(ctx), subj,
		    sizeof(subj));
		setmsg(res->message, sizeof(res->message),
		    "%s at depth %d (%s)", X509_verify_cert_error_string(e),
		    res->depth, subj);
		goto out;
	}
	if ((v->strict &&
	        (r = check_chain_cas(v, X509_STORE_CTX_get0_chain(ctx), res,
	             why, sizeof(why))) != 0) ||
	    (r = check_purpose(v->purpose, leaf, why, sizeof(why))) != 0) {
		if (res->depth < 0)
			res->depth = 0;
		setmsg(res->message, sizeof(res->message), "%s", why);
		goto out;
	}
	if (v->rev == CA_REV_CALLBACK || v->rev == CA_REV_OCSP) {
		if ((r = check_revocation(v, X509_STORE_CTX_get0_chain(ctx),
		         untrusted, now, res)) != 0)
			goto out;
	}
	if (res != &local &&
	    (res->chain = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	res->x509_error = X509_V_OK;
	res->depth = -1;
	ca_verify_strlcpy(res->message, "ok", sizeof(res->message));
	r = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(merged);
	if (res == &local)
		ca_verify_result_clear(res);
	return r;
}
