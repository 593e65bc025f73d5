/* tests/unit/certs/test_csr.c: CSR intake: formats, size, signature, key policy, CA requests, subject filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca.h"
#include "certs/csr.h"
#include "common/errors.h"

static EVP_PKEY *key_p256, *key_p384, *key_rsa2048, *key_rsa1024, *key_sm2;

static EVP_PKEY *
gen(const char *alg, const char *group, int bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	if (group != NULL)
		assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, group), 1);
	if (bits > 0)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits),
		    1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static int
setup(void **state)
{
	(void)state;
	key_p256 = gen("EC", "P-256", 0);
	key_p384 = gen("EC", "P-384", 0);
	key_rsa2048 = gen("RSA", NULL, 2048);
	key_rsa1024 = gen("RSA", NULL, 1024);
	key_sm2 = gen("SM2", NULL, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key_p256);
	EVP_PKEY_free(key_p384);
	EVP_PKEY_free(key_rsa2048);
	EVP_PKEY_free(key_rsa1024);
	EVP_PKEY_free(key_sm2);
	return 0;
}

/* Options for make_csr. */
struct csr_opts {
	const char *cn;
	const char *ext_nid_value; /* e.g. "critical,CA:TRUE" */
	int ext_nid;
	int version;     /* 0: v1 */
	int extra_attrs; /* add L and ST, which must be dropped */
};

/* A DER CSR for k; *len receives the length. */
static unsigned char *
make_csr(EVP_PKEY *k, const struct csr_opts *o, int *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	int sm2 = EVP_PKEY_is_a(k, "SM2");

	assert_non_null(req);
	/* A plain UTF8String: OpenSSL's length limits do not apply. */
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING,
	    (const unsigned char *)(o->cn ? o->cn : "Zhang San"), -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Unit 001", -1, -1, 0));
	if (o->extra_attrs) {
		assert_true(X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8,
		    (const unsigned char *)"Wuhan", -1, -1, 0));
		assert_true(X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_UTF8,
		    (const unsigned char *)"Hubei", -1, -1, 0));
	}
	assert_true(X509_REQ_set_subject_name(req, n));
	assert_true(X509_REQ_set_pubkey(req, k));
	assert_true(X509_REQ_set_version(req, o->version));
	if (o->ext_nid != 0) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		X509_EXTENSION *e;

		e = X509V3_EXT_conf_nid(NULL, NULL, o->ext_nid,
		    o->ext_nid_value);
		assert_non_null(e);
		sk_X509_EXTENSION_push(exts, e);
		assert_true(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx,
	                     sm2 ? EVP_sm3() : EVP_sha256(), NULL, k),
	    1);
	if (sm2)
		assert_true(
		    EVP_PKEY_CTX_set1_id(pctx, CA_SM2_DEFAULT_ID, 16) > 0);
	assert_true(X509_REQ_sign_ctx(req, mctx) > 0);
	*len = i2d_X509_REQ(req, &der);
	assert_true(*len > 0);
	EVP_MD_CTX_free(mctx);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return der;
}

static int
parse(const void *buf, size_t len, struct ca_csr **out)
{
	char err[256];

	return ca_csr_parse(buf, len, 2048, out, err, sizeof(err));
}

static void
test_der_p256(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	int len;

	(void)state;
	o.extra_attrs = 1;
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	assert_int_equal(ca_csr_key_type(c), CA_KEY_EC);
	/* L and ST are dropped, CN and O kept. */
	assert_int_equal(X509_NAME_entry_count(ca_csr_subject(c)), 2);
	assert_true(X509_NAME_get_index_by_NID(ca_csr_subject(c),
	                NID_localityName, -1) < 0);
	assert_true(X509_NAME_get_index_by_NID(ca_csr_subject(c),
	                NID_commonName, -1) >= 0);
	assert_true(EVP_PKEY_eq(ca_csr_pubkey(c), key_p256) == 1);
	ca_csr_free(c);
	OPENSSL_free(der);
}

static void
test_pem_and_whitespace(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	X509_REQ *req;
	const unsigned char *p;
	char *buf;
	int len;

	(void)state;
	der = make_csr(key_p256, &o, &len);
	p = der;
	req = d2i_X509_REQ(NULL, &p, len);
	BIO_puts(bio, "\n  ");
	PEM_write_bio_X509_REQ(bio, req);
	BIO_puts(bio, "\n\n");
	BIO_get_mem_ptr(bio, &mem);
	assert_int_equal(parse(mem->data, mem->length, &c), 0);
	ca_csr_free(c);
	c = NULL;
	/* Text after the block is refused. */
	BIO_puts(bio, "junk\n");
	BIO_get_mem_ptr(bio, &mem);
	assert_int_equal(parse(mem->data, mem->length, &c),
	    UK_ERR_CSR_MALFORMED);
	assert_null(c);
	/* A PEM block of another type is refused. */
	buf = strdup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END "
	             "CERTIFICATE-----\n");
	assert_int_equal(parse(buf, strlen(buf), &c), UK_ERR_CSR_MALFORMED);
	free(buf);
	BIO_free(bio);
	X509_REQ_free(req);
	OPENSSL_free(der);
}

static void
test_malformed(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der, *big;
	int len;

	(void)state;
	assert_int_equal(parse("", 0, &c), UK_ERR_CSR_MALFORMED);
	assert_int_equal(parse("\x30\x03\x02\x01\x00", 5, &c),
	    UK_ERR_CSR_MALFORMED);
	der = make_csr(key_p256, &o, &len);
	/* Trailing byte after the DER. */
	big = malloc((size_t)len + 1);
	memcpy(big, der, (size_t)len);
	big[len] = 0;
	assert_int_equal(parse(big, (size_t)len + 1, &c), UK_ERR_CSR_MALFORMED);
	/* Truncated. */
	assert_int_equal(parse(der, (size_t)len - 1, &c), UK_ERR_CSR_MALFORMED);
	free(big);
	/* Too large. */
	big = calloc(1, CA_CSR_MAX + 1);
	assert_int_equal(parse(big, CA_CSR_MAX + 1, &c), UK_ERR_LIMIT);
	free(big);
	assert_null(c);
	OPENSSL_free(der);
}

static void
test_signature(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	int len;

	(void)state;
	der = make_csr(key_p256, &o, &len);
	/* The last bytes are the signature's s value. */
	der[len - 3] ^= 0x01;
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_SIGNATURE);
	assert_null(c);
	OPENSSL_free(der);
}

static void
test_version(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	int len;

	(void)state;
	o.version = 1;
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_MALFORMED);
	OPENSSL_free(der);
}

static void
test_key_policy(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	char err[256];
	int len;

	(void)state;
	der = make_csr(key_rsa2048, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	assert_int_equal(ca_csr_key_type(c), CA_KEY_RSA);
	ca_csr_free(c);
	c = NULL;
	/* min_rsa_bits from the configuration raises the floor. */
	assert_int_equal(ca_csr_parse(der, (size_t)len, 3072, &c, err,
	                     sizeof(err)),
	    UK_ERR_CSR_KEY);
	OPENSSL_free(der);
	der = make_csr(key_rsa1024, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_KEY);
	OPENSSL_free(der);
	der = make_csr(key_p384, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_KEY);
	OPENSSL_free(der);
	assert_null(c);
}

static void
test_sm2(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	int len;

	(void)state;
	der = make_csr(key_sm2, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	assert_int_equal(ca_csr_key_type(c), CA_KEY_SM2);
	ca_csr_free(c);
	OPENSSL_free(der);
}

static void
test_ca_requests(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	int len;

	(void)state;
	o.ext_nid = NID_basic_constraints;
	o.ext_nid_value = "critical,CA:TRUE";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_REQUEST);
	OPENSSL_free(der);
	o.ext_nid = NID_key_usage;
	o.ext_nid_value = "critical,keyCertSign";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_REQUEST);
	OPENSSL_free(der);
	o.ext_nid_value = "cRLSign,digitalSignature";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_REQUEST);
	OPENSSL_free(der);
	assert_null(c);
	/* Harmless requests are accepted (and ignored later). */
	o.ext_nid = NID_basic_constraints;
	o.ext_nid_value = "CA:FALSE";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	ca_csr_free(c);
	c = NULL;
	OPENSSL_free(der);
	o.ext_nid = NID_ext_key_usage;
	o.ext_nid_value = "serverAuth";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	ca_csr_free(c);
	OPENSSL_free(der);
}

static void
test_subject(void **state)
{
	struct csr_opts o = { 0 };
	struct ca_csr *c = NULL;
	unsigned char *der;
	char cn[80];
	int len;

	(void)state;
	o.cn = "张三";
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	ca_csr_free(c);
	c = NULL;
	OPENSSL_free(der);
	memset(cn, 'a', 65);
	cn[65] = '\0';
	o.cn = cn;
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), UK_ERR_CSR_REQUEST);
	OPENSSL_free(der);
	cn[64] = '\0';
	der = make_csr(key_p256, &o, &len);
	assert_int_equal(parse(der, (size_t)len, &c), 0);
	ca_csr_free(c);
	OPENSSL_free(der);
}

static void
test_check_key(void **state)
{
	enum ca_key_type t = 0;

	(void)state;
	assert_int_equal(ca_csr_check_key(key_p256, 2048, &t, NULL, 0), 0);
	assert_int_equal(t, CA_KEY_EC);
	assert_int_equal(ca_csr_check_key(key_sm2, 2048, &t, NULL, 0), 0);
	assert_int_equal(t, CA_KEY_SM2);
	assert_int_equal(ca_csr_check_key(key_rsa1024, 2048, &t, NULL, 0),
	    UK_ERR_CSR_KEY);
	assert_int_equal(ca_csr_check_key(NULL, 2048, &t, NULL, 0),
	    UK_ERR_CSR_KEY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_der_p256),
		cmocka_unit_test(test_pem_and_whitespace),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_key_policy),
		cmocka_unit_test(test_sm2),
		cmocka_unit_test(test_ca_requests),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_check_key),
	};

	return cmocka_run_group_tests_name("csr", tests, setup, teardown);
}
