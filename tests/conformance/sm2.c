/* tests/conformance/sm2.c: SM2 conformance: the GM/T 0003.5 Annex A signature KAT and the SM2 certificate chain of shared/suites/sm2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "certs/verify.h"
#include "common/errors.h"
#include "common/timeutil.h"
#include "tests/conformance/conformance.h"

/* Inside every certificate's validity window (the chain was made on
 * 2026-11-23 and its leaves last a month). */
#define CHAIN_TIME "2026-11-24T00:00:00Z"

static int tap, failed;

static void
check(int ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tap, what);
	if (!ok)
		failed++;
}

static EVP_PKEY *
sm2_key(const char *xhex, const char *yhex)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	unsigned char *x = NULL, *y = NULL, pub[65];
	size_t xl = 0, yl = 0;
	char group[] = "SM2";

	if (conf_unhex(xhex, &x, &xl) != 0 || conf_unhex(yhex, &y, &yl) != 0 ||
	    xl != 32 || yl != 32)
		goto out;
	pub[0] = 0x04;
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub));
	params[2] = OSSL_PARAM_construct_end();
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
out:
	EVP_PKEY_CTX_free(pc);
	free(x);
	free(y);
	return k;
}

/* DER SEQUENCE { r, s } from raw r||s; *der is OPENSSL_malloc'd. */
static int
rs_to_der(const unsigned char *rs, unsigned char **der, size_t *len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *ss = BN_bin2bn(rs + 32, 32, NULL);
	int n;

	*der = NULL;
	if (s == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(ss);
		return -1;
	}
	n = i2d_ECDSA_SIG(s, der);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

static void
kat(void)
{
	json_t *j = conf_load_json("sm2/gmt0003_5_annexA_sign.json");
	struct ca_sig_params p;
	EVP_PKEY *k = NULL;
	unsigned char *id = NULL, *r = NULL, *s = NULL, rs[64], *der = NULL;
	unsigned char msg[64];
	size_t idl = 0, rl = 0, sl = 0, derlen = 0, ml;
	const char *m;

	if (j == NULL ||
	    (k = sm2_key(json_string_value(json_object_get(j, "pub_x")),
	         json_string_value(json_object_get(j, "pub_y")))) == NULL ||
	    conf_unhex(json_string_value(json_object_get(j, "id_hex")), &id,
	        &idl) != 0 ||
	    conf_unhex(json_string_value(json_object_get(j, "r")), &r, &rl) !=
	        0 ||
	    conf_unhex(json_string_value(json_object_get(j, "s")), &s, &sl) !=
	        0 ||
	    rl != 32 || sl != 32 ||
	    (m = json_string_value(json_object_get(j, "msg_ascii"))) == NULL ||
	    (ml = strlen(m)) >= sizeof(msg)) {
		check(0, "SM2 KAT data loads");
		goto out;
	}
	memcpy(rs, r, 32);
	memcpy(rs + 32, s, 32);
	memcpy(msg, m, ml);
	if (rs_to_der(rs, &der, &derlen) != 0) {
		check(0, "SM2 KAT signature encodes");
		goto out;
	}
	check(ca_verify_sm2(k, (const char *)id, idl, msg, ml, der, derlen) ==
	        0,
	    "GM/T 0003.5 Annex A: DER signature verifies with its ID");
	check(ca_verify_sm2(k, NULL, 0, msg, ml, der, derlen) == 0,
	    "Annex A ID is the default ID 1234567812345678");
	memset(&p, 0, sizeof(p));
	p.scheme = CA_SIG_SM2_RAW;
	p.md = "SM3";
	p.sm2_id = (const char *)id;
	p.sm2_id_len = idl;
	check(ca_verify_signature_ex(k, &p, msg, ml, rs, sizeof(rs)) == 0,
	    "Annex A: raw r||s verifies");
	check(ca_verify_signature(k, "SM2", msg, ml, rs, sizeof(rs)) == 0,
	    "Annex A through ca_verify_signature(\"SM2\")");
	check(ca_verify_sm2(k, "ALICE123@YAHOO.COM", 18, msg, ml, der,
	          derlen) == UK_ERR_SIGNATURE_INVALID,
	    "Annex A with another ID fails");
	msg[0] ^= 1;
	check(ca_verify_sm2(k, NULL, 0, msg, ml, der, derlen) ==
	        UK_ERR_SIGNATURE_INVALID,
	    "Annex A with a changed message fails");
	msg[0] ^= 1;
	rs[63] ^= 1;
	check(ca_verify_signature(k, "SM2", msg, ml, rs, sizeof(rs)) ==
	        UK_ERR_SIGNATURE_INVALID,
	    "Annex A with a changed s fails");
	check(ca_verify_signature(k, "SM2", msg, ml, rs, 63) ==
	        UK_ERR_SIGNATURE_INVALID,
	    "SM2 raw signature of 63 bytes refused");
	check(ca_verify_signature(k, "ES256", msg, ml, rs, sizeof(rs)) ==
	        UK_ERR_SIGNATURE_INVALID,
	    "an SM2 key is not an ES256 key");
out:
	OPENSSL_free(der);
	free(id);
	free(r);
	free(s);
	EVP_PKEY_free(k);
	json_decref(j);
}

static X509 *
load_pem(const char *name)
{
	char rel[256], path[4096], err[200];
	unsigned char *buf = NULL;
	size_t len = 0;
	X509 *x = NULL;

	snprintf(rel, sizeof(rel), "sm2/%s", name);
	conf_suite_path(path, sizeof(path), rel);
	if (file_read_all(path, CONF_MAX_FILE, &buf, &len) != 0 ||
	    ca_parse_cert(buf, len, &x, err, sizeof(err)) != 0)
		printf("# cannot load %s\n", path);
	free(buf);
	return x;
}

/* Verifies leaf name with v; extra (may be NULL) as per-call intermediates;
 * id (may be NULL) preset on the leaf. Returns ca_verify's code. */
static int
verify_one(struct ca_verifier *v, const char *name, X509 *extra, const char *id,
    size_t idlen)
{
	struct ca_verify_result res;
	STACK_OF(X509) *sk = NULL;
	ASN1_OCTET_STRING *os;
	X509 *x = load_pem(name);
	int r = -1;

	ca_verify_result_init(&res);
	if (x == NULL)
		goto out;
	if (id != NULL) {
		if ((os = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(os, (const unsigned char *)id,
		        (int)idlen)) {
			ASN1_OCTET_STRING_free(os);
			goto out;
		}
		X509_set0_distinguishing_id(x, os);
	}
	if (extra != NULL) {
		if ((sk = sk_X509_new_null()) == NULL ||
		    !sk_X509_push(sk, extra))
			goto out;
	}
	r = ca_verify(v, x, sk, &res);
	printf("#   %s: %s (%s)\n", name, r == 0 ? "valid" : uk_error_id(r),
	    res.message);
	if (r == 0 && sk_X509_num(res.chain) < 2)
		r = -2;
out:
	ca_verify_result_clear(&res);
	sk_X509_free(sk);
	X509_free(x);
	return r;
}

static struct ca_verifier *
chain_verifier(time_t at, int with_ica, int strict)
{
	struct ca_verifier *v = ca_verifier_new();
	X509 *ca = load_pem("ca.pem"), *ica = load_pem("ica.pem");

	if (v == NULL || ca == NULL || ica == NULL ||
	    ca_verifier_add_cert(v, CA_LOAD_ANCHORS, ca) != 0 ||
	    (with_ica &&
	        ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, ica) != 0)) {
		ca_verifier_free(v);
		v = NULL;
	} else {
		ca_verifier_set_time(v, at);
		if (!strict) {
			ca_verifier_set_strict(v, 0);
			ca_verifier_set_purpose(v, CA_PURPOSE_ANY);
		}
	}
	X509_free(ca);
	X509_free(ica);
	return v;
}

static void
chain(void)
{
	struct ca_verifier *v = NULL, *v2 = NULL, *lax = NULL;
	struct ca_sigcache *cache = ca_sigcache_new(0);
	unsigned long hits = 0, misses = 0;
	X509 *ica = load_pem("ica.pem");
	time_t at;
	int round;

	if (time_parse_rfc3339(CHAIN_TIME, &at) != 0 ||
	    (v = chain_verifier(at, 1, 1)) == NULL ||
	    (v2 = chain_verifier(at, 0, 1)) == NULL ||
	    (lax = chain_verifier(at, 0, 0)) == NULL || ica == NULL ||
	    cache == NULL) {
		check(0, "SM2 chain loads");
		goto out;
	}
	ca_verifier_set_sigcache(v, cache);
	ca_verifier_set_sigcache(v2, cache);
	ca_verifier_set_sigcache(lax, cache);
	for (round = 1; round <= 2; round++) {
		printf("# round %d (%s cache)\n", round,
		    round == 1 ? "cold" : "warm");
		check(verify_one(v, "ee.pem", NULL, NULL, 0) == 0,
		    "ee.pem verifies to ca.pem");
		check(verify_one(v, "ee3.pem", NULL, NULL, 0) == 0,
		    "ee3.pem verifies through ica.pem to ca.pem");
		check(verify_one(v2, "ee3.pem", ica, NULL, 0) == 0,
		    "ee3.pem verifies with ica.pem given per call");
		check(verify_one(v, "ee-noid.pem", NULL, NULL, 0) != 0,
		    "ee-noid.pem (signed without ID) does not verify");
		check(verify_one(v, "ee-altid.pem", NULL, NULL, 0) != 0,
		    "ee-altid.pem (signed with another ID) does not verify");
		/* they are v1 certificates without extensions, which the
		 * login profile refuses anyway: the lax profile shows that
		 * it is the signature under the default ID that fails */
		check(verify_one(lax, "ee-noid.pem", NULL, NULL, 0) ==
		        UK_ERR_CERT_SIGNATURE,
		    "ee-noid.pem fails on its signature (lax profile)");
		check(verify_one(lax, "ee-altid.pem", NULL, NULL, 0) ==
		        UK_ERR_CERT_SIGNATURE,
		    "ee-altid.pem fails on its signature (lax profile)");
	}
	ca_sigcache_stats(cache, &hits, &misses);
	check(hits >= 2,
	    "warm round answered the ica.pem signature from the cache");
	printf("#   cache hits %lu, misses %lu\n", hits, misses);
	/* Controls: the two refused leaves are otherwise sound, so it is the
	 * ID alone that decides (they are v1 without extensions, hence the
	 * lax profile). */
	check(verify_one(lax, "ee-noid.pem", NULL, "", 0) == 0,
	    "control: ee-noid.pem verifies with an empty ID");
	check(verify_one(lax, "ee-altid.pem", NULL, "ALICE123@YAHOO.COM", 18) ==
	        0,
	    "control: ee-altid.pem verifies with ID ALICE123@YAHOO.COM");
out:
	X509_free(ica);
	ca_sigcache_free(cache);
	ca_verifier_free(v);
	ca_verifier_free(v2);
	ca_verifier_free(lax);
}

int
main(void)
{
	kat();
	chain();
	printf("# sm2: %d checks, %d failed\n", tap, failed);
	return failed == 0 ? 0 : 1;
}
