/* tests/unit/certs/test_verify.c: the certificate verifier on an in-process P-256 CA: chain, time, purpose, leaf rules, CRL, callback and OCSP revocation, cache, login signatures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/verify.h"
#include "common/errors.h"

#define DAY 86400L

/*
 * Test PKI: root -> ica -> leaves, all EC P-256, made once.
 */
struct pki {
	EVP_PKEY *root_key, *ica_key, *leaf_key, *other_key;
	X509 *root, *ica, *other_root;
};

static struct pki P;

/* What a made certificate looks like; zero means "the normal leaf". */
struct opts {
	int version;          /* 0: v3; else X509_VERSION_1 etc. + 1 */
	int ca;               /* basicConstraints CA:TRUE */
	const char *ku;       /* NULL: digitalSignature; "-": none */
	const char *eku;      /* NULL: clientAuth; "-": none; "": empty */
	const char *serial;   /* hex; NULL: 1001 */
	int negative_serial;  /* serial is -serial */
	long not_before;      /* seconds from now; 0: -1 day */
	long not_after;       /* seconds from now; 0: +1 year */
	const char *aia_ocsp; /* OCSP URL for AIA, or NULL */
};

static int
add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

static X509 *
reparse(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = NULL;
	int len;

	if (x != NULL && (len = i2d_X509(x, &der)) > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const struct opts *o)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	EXTENDED_KEY_USAGE *empty = NULL;
	char ext[200];
	int ok, v3 = o->version == 0;

	assert_non_null(c);
	assert_non_null(n);
	ok = X509_set_version(c, v3 ? X509_VERSION_3 : o->version - 1);
	ok = ok && BN_hex2bn(&bn, o->serial != NULL ? o->serial : "1001") > 0;
	if (ok && o->negative_serial)
		BN_set_negative(bn, 1);
	ok = ok && (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(c, sn);
	ok = ok &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	        (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_subject_name(c, n) &&
	    X509_set_issuer_name(c,
	        issuer != NULL ? X509_get_subject_name(issuer) : n) &&
	    X509_gmtime_adj(X509_getm_notBefore(c),
	        o->not_before != 0 ? o->not_before : -DAY) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(c),
	        o->not_after != 0 ? o->not_after : 365 * DAY) != NULL &&
	    X509_set_pubkey(c, key);
	assert_true(ok);
	if (issuer == NULL)
		issuer = c;
	if (v3) {
		if (o->ca) {
			ok = add_ext(c, issuer, NID_basic_constraints,
			    "critical,CA:TRUE");
		} else {
			ok = add_ext(c, issuer, NID_basic_constraints,
			    "critical,CA:FALSE");
		}
		if (o->ku == NULL)
			ok = ok &&
			    add_ext(c, issuer, NID_key_usage,
			        o->ca ? "critical,keyCertSign,cRLSign"
			              : "critical,digitalSignature");
		else if (strcmp(o->ku, "-") != 0)
			ok = ok && add_ext(c, issuer, NID_key_usage, o->ku);
		if (o->eku == NULL && !o->ca)
			ok = ok &&
			    add_ext(c, issuer, NID_ext_key_usage, "clientAuth");
		else if (o->eku != NULL && o->eku[0] == '\0') {
			empty = sk_ASN1_OBJECT_new_null();
			ok = ok && empty != NULL &&
			    X509_add1_ext_i2d(c, NID_ext_key_usage, empty, 0,
			        0) == 1;
		} else if (o->eku != NULL && strcmp(o->eku, "-") != 0)
			ok =
			    ok && add_ext(c, issuer, NID_ext_key_usage, o->eku);
		ok = ok &&
		    add_ext(c, issuer, NID_subject_key_identifier, "hash") &&
		    add_ext(c, issuer, NID_authority_key_identifier, "keyid");
		if (o->aia_ocsp != NULL) {
			snprintf(ext, sizeof(ext), "OCSP;URI:%s", o->aia_ocsp);
			ok = ok && add_ext(c, issuer, NID_info_access, ext);
		}
		assert_true(ok);
	}
	assert_true(X509_sign(c, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	sk_ASN1_OBJECT_free(empty);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_NAME_free(n);
	return reparse(c);
}

static X509 *
leaf_with(const struct opts *o)
{
	return make_cert("operator 1", P.leaf_key, P.ica, P.ica_key, o);
}

static X509 *
good_leaf(void)
{
	struct opts o;

	memset(&o, 0, sizeof(o));
	return leaf_with(&o);
}

static int
setup(void **state)
{
	struct opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.not_after = 3650 * DAY;
	P.root_key = EVP_EC_gen("P-256");
	P.ica_key = EVP_EC_gen("P-256");
	P.leaf_key = EVP_EC_gen("P-256");
	P.other_key = EVP_EC_gen("P-256");
	if (P.root_key == NULL || P.ica_key == NULL || P.leaf_key == NULL ||
	    P.other_key == NULL)
		return -1;
	o.serial = "01";
	P.root = make_cert("Test Root", P.root_key, NULL, NULL, &o);
	o.serial = "02";
	P.ica = make_cert("Test Issuing CA", P.ica_key, P.root, P.root_key, &o);
	o.serial = "03";
	P.other_root = make_cert("Test Root", P.other_key, NULL, NULL, &o);
	/* curl must not send loopback requests to a proxy */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return P.root != NULL && P.ica != NULL && P.other_root != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(P.root);
	X509_free(P.ica);
	X509_free(P.other_root);
	EVP_PKEY_free(P.root_key);
	EVP_PKEY_free(P.ica_key);
	EVP_PKEY_free(P.leaf_key);
	EVP_PKEY_free(P.other_key);
	return 0;
}

static struct ca_verifier *
verifier(void)
{
	struct ca_verifier *v = ca_verifier_new();

	assert_non_null(v);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.root), 0);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, P.ica),
	    0);
	return v;
}

/* ca_verify of a leaf made with o (NULL: the good leaf); frees the leaf. */
static int
verify_leaf(struct ca_verifier *v, X509 *leaf)
{
	struct ca_verify_result res;
	int r;

	assert_non_null(leaf);
	ca_verify_result_init(&res);
	r = ca_verify(v, leaf, NULL, &res);
	print_message("# %s: %s (x509 %d, depth %d)\n",
	    r == 0 ? "ok" : uk_error_id(r), res.message, res.x509_error,
	    res.depth);
	if (r == 0)
		assert_int_equal(sk_X509_num(res.chain), 3);
	else
		assert_null(res.chain);
	ca_verify_result_clear(&res);
	X509_free(leaf);
	return r;
}

static int
verify_opts(const struct opts *o)
{
	struct ca_verifier *v = verifier();
	int r = verify_leaf(v, leaf_with(o));

	ca_verifier_free(v);
	return r;
}

static void
test_good_chain(void **state)
{
	struct ca_verifier *v = verifier();
	struct ca_verify_result res;
	X509 *leaf = good_leaf();

	(void)state;
	ca_verify_result_init(&res);
	assert_int_equal(ca_verify(v, leaf, NULL, &res), 0);
	assert_int_equal(res.x509_error, X509_V_OK);
	assert_int_equal(sk_X509_num(res.chain), 3);
	assert_int_equal(X509_cmp(sk_X509_value(res.chain, 0), leaf), 0);
	assert_int_equal(X509_cmp(sk_X509_value(res.chain, 2), P.root), 0);
	/* a second call frees the first chain (checked by ASan) */
	assert_int_equal(ca_verify(v, leaf, NULL, &res), 0);
	ca_verify_result_clear(&res);
	assert_null(res.chain);
	/* no result wanted */
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	X509_free(leaf);
	ca_verifier_free(v);
	ca_verifier_free(NULL);
}

static void
test_intermediate_per_call(void **state)
{
	struct ca_verifier *v = ca_verifier_new();
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *leaf = good_leaf();

	(void)state;
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.root), 0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_UNTRUSTED);
	assert_true(sk_X509_push(extra, P.ica));
	assert_int_equal(ca_verify(v, leaf, extra, NULL), 0);
	sk_X509_free(extra);
	X509_free(leaf);
	ca_verifier_free(v);
}

static void
test_time(void **state)
{
	struct opts o;
	struct ca_verifier *v;
	X509 *leaf;
	time_t na;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.not_before = -10 * DAY;
	o.not_after = -DAY;
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_EXPIRED);
	o.not_before = DAY;
	o.not_after = 10 * DAY;
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_NOT_YET_VALID);

	/* notAfter is inclusive: valid at that second, expired one later */
	o.not_before = -DAY;
	o.not_after = DAY;
	v = verifier();
	leaf = leaf_with(&o);
	{
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm),
		    1);
		na = timegm(&tm);
	}
	ca_verifier_set_time(v, na);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	ca_verifier_set_time(v, na + 1);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_EXPIRED);
	/* and the CA's validity counts too */
	ca_verifier_set_time(v, time(NULL) + 20 * 365 * DAY);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_EXPIRED);
	X509_free(leaf);
	ca_verifier_free(v);
}

static void
test_purpose(void **state)
{
	struct opts o;
	struct ca_verifier *v;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.eku = "serverAuth";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_PURPOSE);
	o.eku = "anyExtendedKeyUsage";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_PURPOSE);
	o.eku = "serverAuth,clientAuth";
	assert_int_equal(verify_opts(&o), 0);
	o.eku = "-"; /* no EKU: allowed */
	assert_int_equal(verify_opts(&o), 0);
	o.eku = NULL;
	o.ku = "critical,keyAgreement";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_PURPOSE);
	o.ku = "-"; /* no keyUsage: refused for login */
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_PURPOSE);
	o.ku = "critical,digitalSignature,nonRepudiation";
	assert_int_equal(verify_opts(&o), 0);

	/* CA_PURPOSE_ANY skips the usage checks, not the leaf rules */
	o.ku = "-";
	o.eku = "serverAuth";
	v = verifier();
	ca_verifier_set_purpose(v, CA_PURPOSE_ANY);
	assert_int_equal(verify_leaf(v, leaf_with(&o)), 0);
	ca_verifier_set_purpose(v, CA_PURPOSE_SERVER_AUTH);
	assert_int_equal(verify_leaf(v, leaf_with(&o)), 0);
	o.eku = "clientAuth";
	assert_int_equal(verify_leaf(v, leaf_with(&o)), UK_ERR_CERT_PURPOSE);
	ca_verifier_free(v);
}

static void
test_leaf_rules(void **state)
{
	struct opts o;
	X509 *x;
	char why[200];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.ku = "critical,digitalSignature";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	o.ca = 0;
	o.ku = "critical,digitalSignature,keyCertSign";
	assert_int_not_equal(verify_opts(&o), 0);
	o.ku = NULL;
	o.version = X509_VERSION_1 + 1;
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	o.version = 0;
	o.serial = "00";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	o.serial = "05";
	o.negative_serial = 1;
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	o.negative_serial = 0;
	/* 21 octets */
	o.serial = "010203040506070809101112131415161718192021";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	/* 20 octets of magnitude with the top bit set: 21 encoded */
	o.serial = "8102030405060708091011121314151617181920";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	/* 20 octets encoded: the largest allowed */
	o.serial = "7102030405060708091011121314151617181920";
	assert_int_equal(verify_opts(&o), 0);
	o.serial = NULL;
	o.eku = "";
	assert_int_equal(verify_opts(&o), UK_ERR_CERT_LEAF);
	x = leaf_with(&o);
	assert_int_equal(ca_check_leaf_rules(x, why, sizeof(why)),
	    UK_ERR_CERT_LEAF);
	assert_non_null(strstr(why, "extendedKeyUsage"));
	X509_free(x);
	assert_int_equal(ca_check_leaf_rules(NULL, why, sizeof(why)),
	    UK_ERR_CERT_LEAF);
	x = good_leaf();
	assert_int_equal(ca_check_leaf_rules(x, NULL, 0), 0);
	X509_free(x);
}

static void
test_weak_key(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	struct opts o;
	struct ca_verifier *v = verifier();
	X509 *leaf;

	(void)state;
	assert_non_null(rsa);
	memset(&o, 0, sizeof(o));
	leaf = make_cert("weak", rsa, P.ica, P.ica_key, &o);
	assert_int_equal(verify_leaf(v, leaf), UK_ERR_CERT_LEAF);
	/* the strict profile off (RFC 5280 only) lets it through */
	ca_verifier_set_strict(v, 0);
	leaf = make_cert("weak", rsa, P.ica, P.ica_key, &o);
	assert_int_equal(verify_leaf(v, leaf), 0);
	ca_verifier_free(v);
	EVP_PKEY_free(rsa);
}

/* CA rules of the strict profile: an intermediate with an empty
 * nameConstraints extension, or a weak key, breaks the chain. */
static void
test_ca_rules(void **state)
{
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	EVP_PKEY *weak = EVP_RSA_gen(1024);
	struct ca_verifier *v;
	struct opts o;
	X509 *ica, *leaf;

	(void)state;
	assert_non_null(nc);
	assert_non_null(weak);
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.serial = "0a";
	/* the same issuing CA with an empty nameConstraints added */
	ica = make_cert("Test Issuing CA", P.ica_key, P.root, P.root_key, &o);
	assert_int_equal(X509_add1_ext_i2d(ica, NID_name_constraints, nc, 1, 0),
	    1);
	assert_true(X509_sign(ica, P.root_key, EVP_sha256()) > 0);
	ica = reparse(ica);
	v = ca_verifier_new();
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.root), 0);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, ica),
	    0);
	leaf = good_leaf();
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_CHAIN);
	ca_verifier_set_strict(v, 0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	ca_verifier_free(v);
	X509_free(ica);
	X509_free(leaf);

	/* an intermediate with a 1024-bit RSA key */
	ica = make_cert("Weak CA", weak, P.root, P.root_key, &o);
	memset(&o, 0, sizeof(o));
	leaf = make_cert("operator 2", P.leaf_key, ica, weak, &o);
	v = ca_verifier_new();
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.root), 0);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, ica),
	    0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_CHAIN);
	ca_verifier_free(v);
	X509_free(ica);
	X509_free(leaf);
	EVP_PKEY_free(weak);
	NAME_CONSTRAINTS_free(nc);
}

static void
test_untrusted(void **state)
{
	struct ca_verifier *v = ca_verifier_new();
	struct ca_verify_result res;
	X509 *leaf = good_leaf();

	(void)state;
	ca_verify_result_init(&res);
	/* no anchors at all */
	assert_int_equal(ca_verify(v, leaf, NULL, &res), UK_ERR_CERT_UNTRUSTED);
	/* an anchor with the same name but another key */
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.other_root),
	    0);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, P.ica),
	    0);
	assert_int_not_equal(ca_verify(v, leaf, NULL, &res), 0);
	assert_int_not_equal(res.x509_error, X509_V_OK);
	assert_true(strlen(res.message) > 0);
	ca_verify_result_clear(&res);
	X509_free(leaf);
	ca_verifier_free(v);
}

static void
test_bad_signature(void **state)
{
	struct ca_sigcache *c = ca_sigcache_new(16);
	struct ca_verifier *v = ca_verifier_new();
	unsigned long hits, misses;
	struct opts o;
	X509 *bad_ica, *leaf;
	int i;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.serial = "02";
	/* "Test Issuing CA" signed by the wrong key under the root's name */
	bad_ica =
	    make_cert("Test Issuing CA", P.ica_key, P.root, P.other_key, &o);
	leaf = good_leaf();
	ca_verifier_set_sigcache(v, c);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_ANCHORS, P.root), 0);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES,
	                     bad_ica),
	    0);
	for (i = 0; i < 3; i++)
		assert_int_equal(ca_verify(v, leaf, NULL, NULL),
		    UK_ERR_CERT_SIGNATURE);
	ca_sigcache_stats(c, &hits, &misses);
	assert_int_equal(hits, 0); /* failures are never remembered */
	assert_int_equal(misses, 3);
	X509_free(bad_ica);
	X509_free(leaf);
	ca_verifier_free(v);
	ca_sigcache_free(c);
}

static void
test_cache(void **state)
{
	struct ca_sigcache *c = ca_sigcache_new(0);
	struct ca_verifier *v1 = verifier(), *v2 = verifier();
	unsigned long hits, misses;
	struct opts o;
	X509 *leaf = good_leaf();

	(void)state;
	ca_verifier_set_sigcache(v1, c);
	ca_verifier_set_sigcache(v2, c);
	ca_sigcache_free(c); /* the verifiers hold it now */
	assert_int_equal(ca_verify(v1, leaf, NULL, NULL), 0);
	assert_int_equal(ca_verify(v2, leaf, NULL, NULL), 0);
	assert_int_equal(ca_verify(v1, leaf, NULL, NULL), 0);
	ca_sigcache_stats(c, &hits, &misses);
	/* ica <- root and leaf <- ica once each, then both from the cache */
	assert_int_equal(misses, 2);
	assert_int_equal(hits, 4);
	/* a warm cache does not excuse the leaf's own checks */
	memset(&o, 0, sizeof(o));
	o.not_before = -10 * DAY;
	o.not_after = -DAY;
	assert_int_equal(verify_leaf(v1, leaf_with(&o)), UK_ERR_CERT_EXPIRED);
	/* nor a bad leaf signature: another DER is another key */
	X509_free(leaf);
	memset(&o, 0, sizeof(o));
	leaf = make_cert("operator 1", P.leaf_key, P.ica, P.other_key, &o);
	assert_int_equal(verify_leaf(v1, leaf), UK_ERR_CERT_SIGNATURE);
	/* caching off */
	ca_verifier_set_sigcache(v1, NULL);
	assert_int_equal(verify_leaf(v1, good_leaf()), 0);
	ca_verifier_free(v1);
	ca_verifier_free(v2);
}

/*
 * One verifier, several threads: ca_verify is safe to call concurrently.
 */

struct worker {
	struct ca_verifier *v;
	X509 *leaf;
	int failures;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct ca_verify_result res;
	int i;

	ca_verify_result_init(&res);
	for (i = 0; i < 100; i++) {
		if (ca_verify(w->v, w->leaf, NULL, &res) != 0 ||
		    sk_X509_num(res.chain) != 3)
			w->failures++;
	}
	ca_verify_result_clear(&res);
	return NULL;
}

static void
test_threads(void **state)
{
	struct ca_verifier *v = verifier();
	struct worker w[4];
	pthread_t t[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		w[i].v = v;
		w[i].leaf = good_leaf();
		w[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
		                     &w[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		X509_free(w[i].leaf);
	}
	ca_verifier_free(v);
}

/*
 * CRLs.
 */

static X509_CRL *
make_crl(X509 *issuer, EVP_PKEY *key, X509 *revoked, int reason,
    long next_update, int with_number)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *rev;
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ASN1_ENUMERATED *e;

	assert_non_null(crl);
	assert_true(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
	assert_true(
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)));
	assert_non_null(X509_gmtime_adj(t, -DAY));
	assert_true(X509_CRL_set1_lastUpdate(crl, t));
	assert_non_null(X509_gmtime_adj(t, next_update));
	assert_true(X509_CRL_set1_nextUpdate(crl, t));
	if (revoked != NULL) {
		rev = X509_REVOKED_new();
		assert_non_null(rev);
		assert_true(X509_REVOKED_set_serialNumber(rev,
		    X509_get_serialNumber(revoked)));
		assert_non_null(X509_gmtime_adj(t, -3600));
		assert_true(X509_REVOKED_set_revocationDate(rev, t));
		e = ASN1_ENUMERATED_new();
		assert_true(ASN1_ENUMERATED_set(e, reason));
		assert_true(
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0));
		ASN1_ENUMERATED_free(e);
		assert_true(X509_CRL_add0_revoked(crl, rev));
	}
	if (with_number) {
		assert_true(ASN1_INTEGER_set(num, 7));
		assert_true(
		    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0));
	}
	assert_true(X509_CRL_sort(crl));
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
}

/* Writes crl as PEM into a temporary file; returns its path (static). */
static const char *
crl_file(X509_CRL *crl)
{
	static char path[256];
	const char *dir = getenv("UKEY_TEST_TMP");
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/ukey-crl-XXXXXX",
	    dir != NULL ? dir : "/tmp");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_true(PEM_write_X509_CRL(f, crl));
	fclose(f);
	return path;
}

static void
test_crl(void **state)
{
	struct ca_verifier *v = verifier();
	struct ca_verify_result res;
	X509 *leaf = good_leaf();
	X509_CRL *root_crl, *ica_crl, *stale, *nonum;
	const char *path;

	(void)state;
	ca_verify_result_init(&res);
	root_crl = make_crl(P.root, P.root_key, NULL, 0, 7 * DAY, 1);
	ica_crl = make_crl(P.ica, P.ica_key, leaf, 1, 7 * DAY, 1);
	stale = make_crl(P.ica, P.ica_key, NULL, 0, -3600, 1);
	nonum = make_crl(P.ica, P.ica_key, NULL, 0, 7 * DAY, 0);

	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CRL, 0), 0);
	/* no CRL at all: fail closed */
	assert_int_equal(ca_verify(v, leaf, NULL, &res),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	assert_int_equal(ca_verifier_add_crl(v, root_crl), 0);
	path = crl_file(ica_crl);
	assert_int_equal(ca_verifier_load_file(v, CA_LOAD_CRLS, path), 0);
	unlink(path);
	assert_int_equal(ca_verify(v, leaf, NULL, &res), UK_ERR_CERT_REVOKED);
	assert_int_equal(res.revoked_reason, 1); /* keyCompromise */
	assert_int_equal(res.depth, 0);
	ca_verifier_free(v);

	/* another leaf of the same CA is fine */
	v = verifier();
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CRL, 0), 0);
	assert_int_equal(ca_verifier_add_crl(v, root_crl), 0);
	assert_int_equal(ca_verifier_add_crl(v, ica_crl), 0);
	{
		struct opts o;

		memset(&o, 0, sizeof(o));
		o.serial = "2002";
		assert_int_equal(verify_leaf(v, leaf_with(&o)), 0);
	}
	ca_verifier_free(v);

	/* a CRL past its nextUpdate is no CRL: fail closed */
	v = verifier();
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CRL, 0), 0);
	assert_int_equal(ca_verifier_add_crl(v, root_crl), 0);
	assert_int_equal(ca_verifier_add_crl(v, stale), 0);
	assert_int_equal(ca_verify(v, leaf, NULL, &res),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	/* a CRL without CRLNumber is refused */
	assert_int_equal(ca_verifier_add_crl(v, nonum), UK_ERR_CRL_MALFORMED);
	assert_non_null(strstr(ca_verifier_errmsg(v), "CRLNumber"));
	ca_verifier_free(v);

	/* leaf only: the intermediate needs no CRL */
	v = verifier();
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CRL,
	                     CA_REV_LEAF_ONLY),
	    0);
	assert_int_equal(ca_verifier_add_crl(v, ica_crl), 0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_REVOKED);
	ca_verifier_free(v);

	ca_verify_result_clear(&res);
	X509_CRL_free(root_crl);
	X509_CRL_free(ica_crl);
	X509_CRL_free(stale);
	X509_CRL_free(nonum);
	X509_free(leaf);
}

/*
 * Revocation callback.
 */

struct cbstate {
	int answer;
	int calls;
	int leaf_calls;
};

static int
rev_cb(void *arg, X509 *cert, X509 *issuer, int *reason)
{
	struct cbstate *s = arg;

	assert_non_null(cert);
	assert_non_null(issuer);
	s->calls++;
	if (X509_check_ca(cert) == 0)
		s->leaf_calls++;
	if (s->answer == UK_ERR_CERT_REVOKED)
		*reason = 4; /* superseded */
	return X509_check_ca(cert) == 0 ? s->answer : 0;
}

static void
test_callback(void **state)
{
	struct ca_verifier *v = verifier();
	struct ca_verify_result res;
	struct cbstate s;
	X509 *leaf = good_leaf();

	(void)state;
	ca_verify_result_init(&res);
	memset(&s, 0, sizeof(s));
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CALLBACK, 0), 0);
	/* no callback set: unknown, fail closed */
	assert_int_equal(ca_verify(v, leaf, NULL, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	ca_verifier_set_revocation_cb(v, rev_cb, &s);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	assert_int_equal(s.calls, 2); /* leaf and intermediate */
	assert_int_equal(s.leaf_calls, 1);
	s.answer = UK_ERR_CERT_REVOKED;
	assert_int_equal(ca_verify(v, leaf, NULL, &res), UK_ERR_CERT_REVOKED);
	assert_int_equal(res.revoked_reason, 4);
	assert_null(res.chain);
	s.answer = UK_ERR_STORE_OPEN; /* the store is down */
	assert_int_equal(ca_verify(v, leaf, NULL, &res),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	s.answer = 0;
	s.calls = 0;
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_CALLBACK,
	                     CA_REV_LEAF_ONLY),
	    0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(ca_verifier_set_revocation(v, 9, 0), UK_ERR_USAGE);
	ca_verify_result_clear(&res);
	X509_free(leaf);
	ca_verifier_free(v);
}

/*
 * OCSP against a small responder thread on 127.0.0.1.
 */

enum ocsp_mode {
	OCSP_GOOD,
	OCSP_REVOKED,
	OCSP_BAD_NONCE,
	OCSP_NO_NONCE,
	OCSP_WRONG_SIGNER,
	OCSP_STALE,
	OCSP_TRY_LATER,
};

struct responder {
	int fd;
	int port;
	atomic_int stop;
	atomic_int mode; /* enum ocsp_mode */
	atomic_int requests;
	pthread_t thread;
};

static unsigned char *
ocsp_answer(struct responder *r, const unsigned char *req, size_t reqlen,
    int *outlen)
{
	const unsigned char *p = req;
	OCSP_REQUEST *rq = d2i_OCSP_REQUEST(NULL, &p, (long)reqlen);
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp = NULL;
	OCSP_CERTID *id, *root_id;
	ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
	ASN1_TIME *revt = ASN1_TIME_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned char *out = NULL, junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	EVP_PKEY *key = P.ica_key;
	X509 *signer = P.ica;

	if (rq == NULL || bs == NULL || now == NULL || next == NULL)
		goto out;
	if (r->mode == OCSP_TRY_LATER) {
		resp =
		    OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
		goto encode;
	}
	id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(rq, 0));
	/* a question about the intermediate is answered by the root */
	if ((root_id = OCSP_cert_to_id(NULL, P.ica, P.root)) != NULL &&
	    OCSP_id_issuer_cmp(root_id, id) == 0) {
		key = P.root_key;
		signer = P.root;
	}
	OCSP_CERTID_free(root_id);
	X509_gmtime_adj(now, r->mode == OCSP_STALE ? -3 * DAY : -60);
	X509_gmtime_adj(next, r->mode == OCSP_STALE ? -2 * DAY : DAY);
	X509_gmtime_adj(revt, -DAY);
	OCSP_basic_add1_status(bs, id,
	    r->mode == OCSP_REVOKED ? V_OCSP_CERTSTATUS_REVOKED
	                            : V_OCSP_CERTSTATUS_GOOD,
	    r->mode == OCSP_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : 0,
	    r->mode == OCSP_REVOKED ? revt : NULL, now, next);
	if (r->mode == OCSP_BAD_NONCE)
		OCSP_basic_add1_nonce(bs, junk, sizeof(junk));
	else if (r->mode != OCSP_NO_NONCE)
		OCSP_copy_nonce(bs, rq);
	if (r->mode == OCSP_WRONG_SIGNER) {
		/* a self-signed stranger, not the issuer */
		key = P.other_key;
		signer = P.other_root;
	}
	sk_X509_push(certs, signer);
	OCSP_basic_sign(bs, signer, key, EVP_sha256(), certs, 0);
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
encode:
	*outlen = resp != NULL ? i2d_OCSP_RESPONSE(resp, &out) : 0;
out:
	sk_X509_free(certs);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	ASN1_TIME_free(revt);
	OCSP_REQUEST_free(rq);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return out;
}

static void
serve_one(struct responder *r, int c)
{
	char buf[8192], hdr[256], *end = NULL, *cl;
	unsigned char *body = NULL;
	size_t got = 0, want;
	ssize_t n;
	int outlen = 0;

	while (got < sizeof(buf) - 1) {
		if ((n = read(c, buf + got, sizeof(buf) - 1 - got)) <= 0)
			return;
		got += (size_t)n;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strcasestr(buf, "Content-Length:")) == NULL)
			return;
		want = (size_t)strtoul(cl + 15, NULL, 10) +
		    (size_t)(end + 4 - buf);
		if (want >= sizeof(buf))
			return;
		if (got >= want)
			break;
	}
	if (end == NULL)
		return;
	r->requests++;
	body = ocsp_answer(r, (unsigned char *)end + 4,
	    (size_t)(got - (size_t)(end + 4 - buf)), &outlen);
	snprintf(hdr, sizeof(hdr),
	    "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n",
	    outlen);
	if (write(c, hdr, strlen(hdr)) < 0 ||
	    (outlen > 0 && write(c, body, (size_t)outlen) < 0))
		print_message("# responder write failed\n");
	OPENSSL_free(body);
}

static void *
responder_main(void *arg)
{
	struct responder *r = arg;
	struct pollfd pfd;
	int c;

	while (!r->stop) {
		pfd.fd = r->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((c = accept(r->fd, NULL, NULL)) < 0)
			continue;
		serve_one(r, c);
		close(c);
	}
	return NULL;
}

static void
responder_start(struct responder *r, enum ocsp_mode mode)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(r, 0, sizeof(*r));
	atomic_init(&r->stop, 0);
	atomic_init(&r->requests, 0);
	atomic_init(&r->mode, (int)mode);
	assert_true((r->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(r->fd, 8), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &alen), 0);
	r->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, responder_main, r),
	    0);
}

static void
responder_stop(struct responder *r)
{
	r->stop = 1;
	pthread_join(r->thread, NULL);
	close(r->fd);
}

/* Verifies a fresh good leaf (serial serial) with OCSP at the responder;
 * where: 0 the responder URL is configured, 1 it is in the leaf's AIA, 2 it
 * is nowhere. */
static int
ocsp_verify(struct responder *r, const char *serial, unsigned flags, int where,
    int *reason)
{
	struct ca_verifier *v = verifier();
	struct ca_verify_result res;
	struct opts o;
	char url[64];
	X509 *leaf;
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ocsp", r->port);
	memset(&o, 0, sizeof(o));
	o.serial = serial;
	o.aia_ocsp = where == 1 ? url : NULL;
	leaf = leaf_with(&o);
	assert_int_equal(ca_verifier_set_ocsp(v, where == 0 ? url : NULL, 2000,
	                     flags),
	    0);
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_OCSP,
	                     CA_REV_LEAF_ONLY),
	    0);
	ca_verify_result_init(&res);
	rc = ca_verify(v, leaf, NULL, &res);
	print_message("# OCSP mode %d: %s %s\n", atomic_load(&r->mode),
	    rc == 0 ? "ok" : uk_error_id(rc), res.message);
	if (reason != NULL)
		*reason = res.revoked_reason;
	ca_verify_result_clear(&res);
	X509_free(leaf);
	ca_verifier_free(v);
	return rc;
}

static void
test_ocsp(void **state)
{
	struct responder r;
	struct ca_verifier *v;
	struct opts o;
	X509 *leaf;
	char url[64];
	int reason = 0;

	(void)state;
	responder_start(&r, OCSP_GOOD);
	assert_int_equal(ocsp_verify(&r, "3001", 0, 0, NULL), 0);
	assert_int_equal(ocsp_verify(&r, "3002", 0, 1, NULL), 0); /* AIA */
	assert_int_equal(r.requests, 2);
	r.mode = OCSP_REVOKED;
	assert_int_equal(ocsp_verify(&r, "3003", 0, 0, &reason),
	    UK_ERR_CERT_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	r.mode = OCSP_BAD_NONCE;
	assert_int_equal(ocsp_verify(&r, "3004", 0, 0, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	r.mode = OCSP_NO_NONCE;
	assert_int_equal(ocsp_verify(&r, "3005", 0, 0, NULL), 0);
	assert_int_equal(ocsp_verify(&r, "3006", CA_OCSP_REQUIRE_NONCE, 0,
	                     NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	r.mode = OCSP_WRONG_SIGNER;
	assert_int_equal(ocsp_verify(&r, "3007", 0, 0, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	r.mode = OCSP_STALE;
	assert_int_equal(ocsp_verify(&r, "3008", 0, 0, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	r.mode = OCSP_TRY_LATER;
	assert_int_equal(ocsp_verify(&r, "3009", 0, 0, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	/* no URL anywhere */
	assert_int_equal(ocsp_verify(&r, "300a", 0, 2, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);

	/* cached until nextUpdate: the responder may go away */
	r.mode = OCSP_GOOD;
	v = verifier();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ocsp", r.port);
	assert_int_equal(ca_verifier_set_ocsp(v, url, 2000, 0), 0);
	assert_int_equal(ca_verifier_set_revocation(v, CA_REV_OCSP, 0), 0);
	memset(&o, 0, sizeof(o));
	o.serial = "3010";
	leaf = leaf_with(&o);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	responder_stop(&r);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	X509_free(leaf);
	/* an uncached certificate with the responder gone: fail closed */
	o.serial = "3011";
	leaf = leaf_with(&o);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL),
	    UK_ERR_CERT_REVOCATION_UNKNOWN);
	X509_free(leaf);
	ca_verifier_free(v);
	assert_int_equal(ca_verifier_set_ocsp(NULL, NULL, 0, 0), UK_ERR_USAGE);
	v = ca_verifier_new();
	assert_int_equal(ca_verifier_set_ocsp(v, "ftp://x", 0, 0),
	    UK_ERR_INPUT);
	ca_verifier_free(v);
}

/*
 * Parsing and loading.
 */

static void
test_malformed(void **state)
{
	struct ca_verifier *v = ca_verifier_new();
	STACK_OF(X509) *sk = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	unsigned char *der = NULL, *der2;
	char err[200], pem[8192];
	BIO *b;
	X509 *x = NULL;
	long n;
	int len;

	(void)state;
	assert_int_equal(ca_verifier_load_mem(v, CA_LOAD_ANCHORS, "garbage", 7),
	    UK_ERR_CERT_MALFORMED);
	assert_true(strlen(ca_verifier_errmsg(v)) > 0);
	assert_int_equal(ca_verifier_load_mem(v, CA_LOAD_CRLS, "garbage", 7),
	    UK_ERR_CRL_MALFORMED);
	assert_int_equal(ca_verifier_load_mem(v, CA_LOAD_ANCHORS, "", 0),
	    UK_ERR_CERT_MALFORMED);
	assert_int_equal(ca_verifier_load_file(v, CA_LOAD_ANCHORS,
	                     "/nonexistent/ukey-test.pem"),
	    UK_ERR_IO);
	assert_int_equal(ca_verify(v, NULL, NULL, NULL), UK_ERR_CERT_MALFORMED);

	/* DER: exact, truncated, with trailing bytes */
	assert_true((len = i2d_X509(P.root, &der)) > 0);
	assert_int_equal(ca_parse_cert(der, (size_t)len, &x, err, sizeof(err)),
	    0);
	X509_free(x);
	assert_int_equal(ca_parse_cert(der, (size_t)len - 1, &x, err,
	                     sizeof(err)),
	    UK_ERR_CERT_MALFORMED);
	assert_null(x);
	der2 = malloc((size_t)len + 1);
	memcpy(der2, der, (size_t)len);
	der2[len] = 0;
	assert_int_equal(ca_parse_cert(der2, (size_t)len + 1, &x, err,
	                     sizeof(err)),
	    UK_ERR_CERT_MALFORMED);
	assert_non_null(strstr(err, "after"));
	free(der2);
	/* a DER certificate is not a CRL */
	assert_int_equal(ca_parse_crls(der, (size_t)len, &crls, err,
	                     sizeof(err)),
	    UK_ERR_CRL_MALFORMED);
	OPENSSL_free(der);

	/* PEM bundle of two; then with a foreign block */
	b = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_X509(b, P.root));
	assert_true(PEM_write_bio_X509(b, P.ica));
	n = BIO_read(b, pem, sizeof(pem) - 1);
	assert_true(n > 0);
	pem[n] = '\0';
	BIO_free(b);
	assert_int_equal(ca_parse_certs(pem, (size_t)n, &sk, err, sizeof(err)),
	    0);
	assert_int_equal(sk_X509_num(sk), 2);
	sk_X509_pop_free(sk, X509_free);
	assert_int_equal(ca_parse_cert(pem, (size_t)n, &x, err, sizeof(err)),
	    UK_ERR_CERT_MALFORMED);
	assert_int_equal(ca_verifier_load_mem(v, CA_LOAD_ANCHORS, pem,
	                     (size_t)n),
	    0);
	snprintf(pem + n, sizeof(pem) - (size_t)n,
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	assert_int_equal(ca_parse_certs(pem, strlen(pem), &sk, err,
	                     sizeof(err)),
	    UK_ERR_CERT_MALFORMED);
	assert_null(sk);
	/* broken base64 inside a CERTIFICATE block */
	snprintf(pem, sizeof(pem),
	    "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END "
	    "CERTIFICATE-----\n");
	assert_int_equal(ca_parse_certs(pem, strlen(pem), &sk, err,
	                     sizeof(err)),
	    UK_ERR_CERT_MALFORMED);
	assert_int_equal(ca_verifier_add_cert(v, CA_LOAD_CRLS, P.root),
	    UK_ERR_USAGE);
	{
		const char *bad[] = { "1.2.3", "not an oid" };

		assert_int_equal(ca_verifier_set_policy(v, bad, 2, 0),
		    UK_ERR_INPUT);
	}
	ca_verifier_free(v);
}

static void
test_policy(void **state)
{
	const char *oids[] = { "1.3.6.1.4.1.99999.1" };
	struct ca_verifier *v = verifier();
	X509 *leaf = good_leaf();

	(void)state;
	/* anyPolicy, nothing required: fine */
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	/* an explicit policy the chain does not carry */
	assert_int_equal(ca_verifier_set_policy(v, oids, 1, CA_POLICY_EXPLICIT),
	    0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), UK_ERR_CERT_POLICY);
	assert_int_equal(ca_verifier_set_policy(v, NULL, 0, 0), 0);
	assert_int_equal(ca_verify(v, leaf, NULL, NULL), 0);
	X509_free(leaf);
	ca_verifier_free(v);
}

/*
 * Login signatures.
 */

static size_t
sign(EVP_PKEY *k, const char *md, int pss_salt, const char *id,
    const unsigned char *m, size_t mlen, unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL, *own = NULL;
	size_t len = siglen;

	assert_non_null(c);
	if (id != NULL) {
		own = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		assert_int_equal(EVP_PKEY_CTX_set1_id(own, id, strlen(id)), 1);
		EVP_MD_CTX_set_pkey_ctx(c, own);
	}
	assert_int_equal(EVP_DigestSignInit_ex(c, id != NULL ? NULL : &pc, md,
	                     NULL, NULL, k, NULL),
	    1);
	if (pss_salt > 0) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pc,
		                RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, pss_salt) > 0);
	}
	assert_int_equal(EVP_DigestSign(c, sig, &len, m, mlen), 1);
	EVP_MD_CTX_free(c);
	EVP_PKEY_CTX_free(own);
	return len;
}

/* DER ECDSA/SM2 signature to raw r||s of 32-byte halves. */
static void
der_to_raw(const unsigned char *der, size_t len, unsigned char *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *ss;

	assert_non_null(s);
	ECDSA_SIG_get0(s, &r, &ss);
	assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
	assert_int_equal(BN_bn2binpad(ss, raw + 32, 32), 32);
	ECDSA_SIG_free(s);
}

static void
test_es256(void **state)
{
	static const unsigned char order[32] = { 0xff, 0xff, 0xff, 0xff, 0x00,
		0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3,
		0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51 };
	const unsigned char msg[] = "H(H(origin)||H(nonce))";
	unsigned char der[80], raw[64], bad[65];
	size_t dl;
	EVP_PKEY *k = P.leaf_key;

	(void)state;
	dl = sign(k, "SHA256", 0, NULL, msg, sizeof(msg), der, sizeof(der));
	der_to_raw(der, dl, raw);
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), raw,
	                     64),
	    0);
	/* only 64-byte raw signatures */
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), der,
	                     dl),
	    UK_ERR_SIGNATURE_INVALID);
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), raw,
	                     63),
	    UK_ERR_SIGNATURE_INVALID);
	memcpy(bad, raw, 64);
	bad[64] = 0;
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), bad,
	                     65),
	    UK_ERR_SIGNATURE_INVALID);
	/* r = 0, s = n */
	memcpy(bad, raw, 64);
	memset(bad, 0, 32);
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), bad,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	memcpy(bad, raw, 64);
	memcpy(bad + 32, order, 32);
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), bad,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	/* tampered message and signature */
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg) - 1,
	                     raw, 64),
	    UK_ERR_SIGNATURE_INVALID);
	memcpy(bad, raw, 64);
	bad[10] ^= 0x40;
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), bad,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	/* another key, algorithms that do not fit */
	assert_int_equal(ca_verify_signature(P.ica_key, "ES256", msg,
	                     sizeof(msg), raw, 64),
	    UK_ERR_SIGNATURE_INVALID);
	assert_int_equal(ca_verify_signature(k, "RS256", msg, sizeof(msg), raw,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	assert_int_equal(ca_verify_signature(k, "ES384", msg, sizeof(msg), raw,
	                     64),
	    UK_ERR_INPUT);
	assert_int_equal(ca_verify_signature(NULL, "ES256", msg, sizeof(msg),
	                     raw, 64),
	    UK_ERR_INPUT);
}

static void
test_rsa(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048), *weak = EVP_RSA_gen(1024);
	const unsigned char msg[] = "login challenge";
	unsigned char sig[512];
	size_t sl;

	(void)state;
	assert_non_null(k);
	assert_non_null(weak);
	sl = sign(k, "SHA256", 0, NULL, msg, sizeof(msg), sig, sizeof(sig));
	assert_int_equal(ca_verify_signature(k, "RS256", msg, sizeof(msg), sig,
	                     sl),
	    0);
	assert_int_equal(ca_verify_signature(k, "PS256", msg, sizeof(msg), sig,
	                     sl),
	    UK_ERR_SIGNATURE_INVALID);
	sig[sl - 1] ^= 1;
	assert_int_equal(ca_verify_signature(k, "RS256", msg, sizeof(msg), sig,
	                     sl),
	    UK_ERR_SIGNATURE_INVALID);

	sl = sign(k, "SHA256", 32, NULL, msg, sizeof(msg), sig, sizeof(sig));
	assert_int_equal(ca_verify_signature(k, "PS256", msg, sizeof(msg), sig,
	                     sl),
	    0);
	assert_int_equal(ca_verify_signature(k, "RS256", msg, sizeof(msg), sig,
	                     sl),
	    UK_ERR_SIGNATURE_INVALID);
	assert_int_equal(ca_verify_signature(k, "PS256", msg, sizeof(msg) - 1,
	                     sig, sl),
	    UK_ERR_SIGNATURE_INVALID);
	/* salt length must be exactly 32 */
	sl = sign(k, "SHA256", 20, NULL, msg, sizeof(msg), sig, sizeof(sig));
	assert_int_equal(ca_verify_signature(k, "PS256", msg, sizeof(msg), sig,
	                     sl),
	    UK_ERR_SIGNATURE_INVALID);
	/* 1024-bit RSA is refused for login */
	sl = sign(weak, "SHA256", 0, NULL, msg, sizeof(msg), sig, sizeof(sig));
	assert_int_equal(ca_verify_signature(weak, "RS256", msg, sizeof(msg),
	                     sig, sl),
	    UK_ERR_SIGNATURE_INVALID);
	EVP_PKEY_free(k);
	EVP_PKEY_free(weak);
}

static void
test_sm2(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	const unsigned char msg[] = "sm2 login";
	unsigned char der[80], raw[64];
	size_t dl;

	(void)state;
	assert_non_null(k);
	dl = sign(k, "SM3", 0, CA_SM2_DEFAULT_ID, msg, sizeof(msg), der,
	    sizeof(der));
	assert_int_equal(ca_verify_sm2(k, NULL, 0, msg, sizeof(msg), der, dl),
	    0);
	der_to_raw(der, dl, raw);
	assert_int_equal(ca_verify_signature(k, "SM2", msg, sizeof(msg), raw,
	                     64),
	    0);
	raw[5] ^= 1;
	assert_int_equal(ca_verify_signature(k, "SM2", msg, sizeof(msg), raw,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	/* signed under another ID */
	dl = sign(k, "SM3", 0, "ALICE123@YAHOO.COM", msg, sizeof(msg), der,
	    sizeof(der));
	assert_int_equal(ca_verify_sm2(k, NULL, 0, msg, sizeof(msg), der, dl),
	    UK_ERR_SIGNATURE_INVALID);
	assert_int_equal(ca_verify_sm2(k, "ALICE123@YAHOO.COM", 18, msg,
	                     sizeof(msg), der, dl),
	    0);
	assert_int_equal(ca_verify_signature(k, "ES256", msg, sizeof(msg), raw,
	                     64),
	    UK_ERR_SIGNATURE_INVALID);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_intermediate_per_call),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_purpose),
		cmocka_unit_test(test_leaf_rules),
		cmocka_unit_test(test_weak_key),
		cmocka_unit_test(test_ca_rules),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_callback),
		cmocka_unit_test(test_ocsp),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_es256),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_sm2),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
