/* tests/unit/certs/test_ocsp.c: the OCSP responder in-process, on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ocsp.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/store.h"
#include "tests/lib/testdb.h"

#define VALIDITY 600
#define SM2_ID "1234567812345678"

/* Which backend a test runs on; the cmocka initial state. */
struct backend {
	enum store_backend kind;
};

static struct backend be_sqlite = { STORE_SQLITE };
static struct backend be_pg = { STORE_POSTGRES };

/* One test's database, responder and a second connection that plays
 * `ukey-ca` in another process. */
struct fixture {
	enum store_backend kind;
	struct testdb db;
	struct store *st;  /* the responder's */
	struct store *st2; /* the "other process" */
	struct ca_ocsp *o;
};

/* The PKI, made once: issuing CA, its OCSP signer, another CA, leaves. */
static EVP_PKEY *ca_key, *signer_key, *other_key, *leaf_key;
static X509 *ca_cert, *signer_cert, *other_ca, *other_signer;

static char tmpdir[256];
static long serial_counter = 0x1000;

/* ---- PKI fixtures ---- */

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* Signs x with key: SHA-256, or SM3 with the default SM2 ID for SM2. */
static void
sign_cert(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int sm2 = EVP_PKEY_is_a(key, "SM2");

	assert_non_null(mctx);
	if (sm2) {
		pctx = EVP_PKEY_CTX_new(key, NULL);
		assert_non_null(pctx);
		assert_true(EVP_PKEY_CTX_set1_id(pctx, SM2_ID, 16) > 0);
		EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	}
	assert_int_equal(EVP_DigestSignInit(mctx, NULL,
	                     sm2 ? EVP_sm3() : EVP_sha256(), NULL, key),
	    1);
	assert_true(X509_sign_ctx(x, mctx) > 0);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
}

/* A certificate for key named cn, signed by issuer_key (self-signed when
 * issuer is NULL). kind: 0 leaf, 1 CA, 2 OCSP signer. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    int kind)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_new();

	assert_non_null(x);
	assert_non_null(name);
	assert_non_null(bn);
	assert_int_equal(X509_set_version(x, 2), 1);
	/* Large random-looking serials as the CA makes (16 bytes). */
	assert_int_equal(BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY),
	    1);
	assert_int_equal(BN_add_word(bn, (BN_ULONG)serial_counter++), 1);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                     (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x,
	                     issuer != NULL ? X509_get_subject_name(issuer)
	                                    : name),
	    1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 30));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	add_ext(x, issuer != NULL ? issuer : x, NID_subject_key_identifier,
	    "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (kind == 1) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, x, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, x, NID_key_usage, "critical,digitalSignature");
	}
	if (kind == 2) {
		add_ext(x, x, NID_ext_key_usage, "OCSPSigning");
		add_ext(x, x, NID_id_pkix_OCSP_noCheck, "ignored");
	}
	sign_cert(x, issuer_key);
	X509_NAME_free(name);
	BN_free(bn);
	return x;
}

static int
pki_setup(void **state)
{
	(void)state;
	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (signer_key = EVP_EC_gen("P-256")) == NULL ||
	    (other_key = EVP_EC_gen("P-256")) == NULL ||
	    (leaf_key = EVP_EC_gen("P-256")) == NULL)
		return -1;
	ca_cert = make_cert("Test Issuing CA", ca_key, NULL, ca_key, 1);
	signer_cert =
	    make_cert("Test OCSP Signer", signer_key, ca_cert, ca_key, 2);
	/* Same name as ours, another key: the key hash must tell them apart. */
	other_ca = make_cert("Test Issuing CA", other_key, NULL, other_key, 1);
	other_signer =
	    make_cert("Other OCSP Signer", signer_key, other_ca, other_key, 2);
	return 0;
}

static int
pki_free(void **state)
{
	(void)state;
	X509_free(ca_cert);
	X509_free(signer_cert);
	X509_free(other_ca);
	X509_free(other_signer);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}

static X509 *
new_leaf(const char *cn)
{
	return make_cert(cn, leaf_key, ca_cert, ca_key, 0);
}

/* BN_bn2hex of x's serial, as the CA stores it; caller OPENSSL_free()s. */
static char *
serial_hex(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), NULL);
	char *hex;

	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	assert_non_null(hex);
	BN_free(bn);
	return hex;
}

/* Inserts x as st's certs row with status, revoked_at and reason. */
static void
add_cert(struct store *st, X509 *x, const char *status, int64_t revoked_at,
    int64_t reason)
{
	unsigned char *der = NULL, md[32];
	char *serial = serial_hex(x), sha[65];
	int len = i2d_X509(x, &der), r;

	assert_true(len > 0);
	assert_non_null(SHA256(der, (size_t)len, md));
	hex_encode(md, sizeof(md), sha);
	if (strcmp(status, "revoked") == 0)
		r = store_exec(st, NULL,
		    "INSERT INTO certs (serial, unit_id, operator, profile, "
		    "subject, key_type, not_before, not_after, status, "
		    "revoked_at, reason, sha256, der, issued_at) VALUES (?, "
		    "'100234', 'op', 'operator', 'CN=t', 'ec-p256', ?, ?, ?, "
		    "?, "
		    "?, ?, ?, ?)",
		    "tiitiitbi", serial, (int64_t)0, (int64_t)4102444800LL,
		    status, revoked_at, reason, sha, der, (size_t)len,
		    (int64_t)time(NULL));
	else
		r = store_exec(st, NULL,
		    "INSERT INTO certs (serial, unit_id, operator, profile, "
		    "subject, key_type, not_before, not_after, status, sha256, "
		    "der, issued_at) VALUES (?, '100234', 'op', 'operator', "
		    "'CN=t', 'ec-p256', ?, ?, ?, ?, ?, ?)",
		    "tiittbi", serial, (int64_t)0, (int64_t)4102444800LL,
		    status, sha, der, (size_t)len, (int64_t)time(NULL));
	if (r != 0)
		fail_msg("insert cert: %s: %s", uk_error_id(r),
		    store_last_error(st));
	OPENSSL_free(serial);
	OPENSSL_free(der);
}

/* Revokes x the way ukey-ca does: in a transaction that notifies. */
static void
revoke_cert(struct store *st, X509 *x, int64_t at, int64_t reason)
{
	char *serial = serial_hex(x);

	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	assert_int_equal(store_exec(st, NULL,
	                     "UPDATE certs SET status = 'revoked', revoked_at "
	                     "= ?, reason = ? WHERE serial = ?",
	                     "iit", at, reason, serial),
	    0);
	assert_int_equal(store_changes(st), 1);
	assert_int_equal(store_notify(st), 0);
	assert_int_equal(store_commit(st), 0);
	OPENSSL_free(serial);
}

/* ---- requests and responses ---- */

static OCSP_CERTID *
cid_for(const EVP_MD *md, X509 *leaf, X509 *issuer)
{
	OCSP_CERTID *id = OCSP_cert_to_id(md, leaf, issuer);

	assert_non_null(id);
	return id;
}

/* A CertID for an arbitrary serial under issuer. */
static OCSP_CERTID *
cid_serial(const EVP_MD *md, X509 *issuer, long serial)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	OCSP_CERTID *id;

	assert_non_null(ai);
	assert_int_equal(ASN1_INTEGER_set(ai, serial), 1);
	id = OCSP_cert_id_new(md, X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), ai);
	assert_non_null(id);
	ASN1_INTEGER_free(ai);
	return id;
}

/* DER of a request for the n CertIDs in ids (consumed), with a nonce when
 * nonce is set. */
static unsigned char *
req_der(OCSP_CERTID **ids, int n, int nonce, size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int i, l;

	assert_non_null(req);
	for (i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req, ids[i]));
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, -1), 1);
	l = i2d_OCSP_REQUEST(req, &der);
	assert_true(l > 0);
	*len = (size_t)l;
	OCSP_REQUEST_free(req);
	return der;
}

static unsigned char *
req_one(OCSP_CERTID *id, size_t *len)
{
	return req_der(&id, 1, 0, len);
}

/* Asks o; returns the parsed response (caller frees) and its DER. */
static OCSP_RESPONSE *
ask(struct ca_ocsp *o, const unsigned char *req, size_t len,
    unsigned char **der_out, size_t *derlen_out)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t derlen = 0;
	OCSP_RESPONSE *resp;

	assert_int_equal(ca_ocsp_respond(o, req, len, &der, &derlen), 0);
	assert_non_null(der);
	p = der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen);
	assert_non_null(resp);
	assert_ptr_equal(p, der + derlen);
	if (der_out != NULL) {
		*der_out = der;
		*derlen_out = derlen;
	} else
		OPENSSL_free(der);
	return resp;
}

static int
resp_status(struct ca_ocsp *o, const unsigned char *req, size_t len)
{
	OCSP_RESPONSE *resp = ask(o, req, len, NULL, NULL);
	int s = OCSP_response_status(resp);

	OCSP_RESPONSE_free(resp);
	return s;
}

/* Checks the basic response is signed by our delegated signer (included)
 * and chains to the CA; returns it (owned by the caller). */
static OCSP_BASICRESP *
verified_basic(OCSP_RESPONSE *resp)
{
	OCSP_BASICRESP *bs;
	X509_STORE *xs = X509_STORE_new();
	const ASN1_OCTET_STRING *keyid = NULL;
	const X509_NAME *name = NULL;
	const STACK_OF(X509) * certs;

	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_non_null(xs);
	assert_int_equal(X509_STORE_add_cert(xs, ca_cert), 1);
	assert_int_equal(OCSP_basic_verify(bs, NULL, xs, 0), 1);
	certs = OCSP_resp_get0_certs(bs);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), signer_cert), 0);
	assert_int_equal(OCSP_resp_get0_id(bs, &keyid, &name), 1);
	assert_non_null(keyid); /* byKey */
	X509_STORE_free(xs);
	return bs;
}

/* The status of id in resp (verified), with reason and times. */
static int
single(OCSP_RESPONSE *resp, OCSP_CERTID *id, int *reason, time_t *revtime,
    time_t *thisupd, time_t *nextupd)
{
	OCSP_BASICRESP *bs = verified_basic(resp);
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
	struct tm tm;
	int status = -1, why = -2;

	assert_int_equal(OCSP_resp_find_status(bs, id, &status, &why, &rev, &tu,
	                     &nu),
	    1);
	assert_non_null(tu);
	assert_non_null(nu);
	if (reason != NULL)
		*reason = why;
	if (revtime != NULL) {
		*revtime = 0;
		if (rev != NULL) {
			assert_int_equal(ASN1_TIME_to_tm(rev, &tm), 1);
			*revtime = timegm(&tm);
		}
	}
	assert_int_equal(ASN1_TIME_to_tm(tu, &tm), 1);
	if (thisupd != NULL)
		*thisupd = timegm(&tm);
	if (nextupd != NULL) {
		assert_int_equal(ASN1_TIME_to_tm(nu, &tm), 1);
		*nextupd = timegm(&tm);
	}
	OCSP_BASICRESP_free(bs);
	return status;
}

/* Asks about one CertID and returns its status (reason etc. optional). */
static int
status_of(struct ca_ocsp *o, OCSP_CERTID *id, int *reason, time_t *revtime)
{
	OCSP_CERTID *copy = OCSP_CERTID_dup(id);
	unsigned char *req;
	size_t len;
	OCSP_RESPONSE *resp;
	int s;

	assert_non_null(copy);
	req = req_one(copy, &len);
	resp = ask(o, req, len, NULL, NULL);
	s = single(resp, id, reason, revtime, NULL, NULL);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	return s;
}

/* ---- fixtures ---- */

static struct store *
open_ok(const char *location)
{
	struct store *st = NULL;
	int r = store_open(location, &st);

	if (r != 0)
		fail_msg("store_open: %s: %s", uk_error_id(r),
		    store_last_error(NULL));
	return st;
}

/* A fresh database, two connections to it and a responder on the first. */
static int
setup(void **state)
{
	struct backend *be = *state;
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->kind = be->kind;
	*state = fx; /* teardown frees it if this fails */
	testdb_new(&fx->db, be->kind, tmpdir, "ocsp");
	fx->st = open_ok(fx->db.loc);
	fx->st2 = open_ok(fx->db.loc);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, signer_cert, signer_key,
	                     VALIDITY, &fx->o),
	    0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx == NULL || fx == (void *)&be_sqlite || fx == (void *)&be_pg)
		return 0;
	ca_ocsp_free(fx->o);
	store_close(fx->st);
	store_close(fx->st2);
	testdb_drop(&fx->db);
	free(fx);
	return 0;
}

/* ---- tests ---- */

/* good for an active certificate, with SHA-1 and SHA-256 CertIDs; signed
 * by the delegated signer; thisUpdate now, nextUpdate + validity. */
static void
test_good(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op good");
	OCSP_CERTID *id1 = cid_for(EVP_sha1(), leaf, ca_cert);
	OCSP_CERTID *id256 = cid_for(EVP_sha256(), leaf, ca_cert);
	OCSP_CERTID *copy = OCSP_CERTID_dup(id1);
	OCSP_RESPONSE *resp;
	unsigned char *req;
	size_t len;
	time_t before = time(NULL), tu, nu;
	int reason;

	add_cert(fx->st2, leaf, "active", 0, 0);
	req = req_one(copy, &len);
	resp = ask(fx->o, req, len, NULL, NULL);
	assert_int_equal(single(resp, id1, &reason, NULL, &tu, &nu),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_true(tu >= before && tu <= time(NULL));
	assert_int_equal(nu - tu, VALIDITY);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	assert_int_equal(status_of(fx->o, id256, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OCSP_CERTID_free(id256);
	id256 = cid_for(EVP_sha384(), leaf, ca_cert);
	assert_int_equal(status_of(fx->o, id256, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OCSP_CERTID_free(id1);
	OCSP_CERTID_free(id256);
	X509_free(leaf);
}

/* revoked with revocationTime and reason from the store; unspecified(0)
 * and a NULL reason leave the reason out. */
static void
test_revoked(void **state)
{
	struct fixture *fx = *state;
	X509 *a = new_leaf("op a"), *b = new_leaf("op b"),
	     *c = new_leaf("op c");
	OCSP_CERTID *ida = cid_for(EVP_sha1(), a, ca_cert);
	OCSP_CERTID *idb = cid_for(EVP_sha256(), b, ca_cert);
	OCSP_CERTID *idc = cid_for(EVP_sha1(), c, ca_cert);
	time_t rt;
	int reason;

	add_cert(fx->st2, a, "revoked", 1700000000, 1); /* keyCompromise */
	add_cert(fx->st2, b, "revoked", 1700000123, 0); /* unspecified */
	add_cert(fx->st2, c, "revoked", 1700000456, 4); /* superseded */
	assert_int_equal(status_of(fx->o, ida, &reason, &rt),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(rt, 1700000000);
	assert_int_equal(status_of(fx->o, idb, &reason, &rt),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_NOSTATUS);
	assert_int_equal(rt, 1700000123);
	assert_int_equal(status_of(fx->o, idc, &reason, &rt),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_SUPERSEDED);
	assert_int_equal(rt, 1700000456);
	OCSP_CERTID_free(ida);
	OCSP_CERTID_free(idb);
	OCSP_CERTID_free(idc);
	X509_free(a);
	X509_free(b);
	X509_free(c);
}

/* A serial of our issuer that is not in the store: unknown. */
static void
test_unknown_serial(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("never stored");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);
	OCSP_CERTID *small = cid_serial(EVP_sha256(), ca_cert, 1);
	OCSP_CERTID *neg = cid_serial(EVP_sha1(), ca_cert, -5);

	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	assert_int_equal(status_of(fx->o, small, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	assert_int_equal(status_of(fx->o, neg, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_CERTID_free(id);
	OCSP_CERTID_free(small);
	OCSP_CERTID_free(neg);
	X509_free(leaf);
}

/* Another issuer (same name, other key; or an unsupported hash): the
 * responder is not authoritative: unauthorized (RFC 5019 2.2.3), also when
 * mixed with a CertID of ours. */
static void
test_unknown_issuer(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op mixed");
	X509 *foreign = make_cert("foreign", leaf_key, other_ca, other_key, 0);
	OCSP_CERTID *ids[2];
	unsigned char *req;
	size_t len;

	add_cert(fx->st2, leaf, "active", 0, 0);
	/* The foreign serial is in the store too: still not ours to answer. */
	add_cert(fx->st2, foreign, "active", 0, 0);
	req = req_one(cid_for(EVP_sha1(), foreign, other_ca), &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OPENSSL_free(req);
	/* SHA-224 CertIDs are not matched. */
	req = req_one(cid_for(EVP_sha224(), leaf, ca_cert), &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OPENSSL_free(req);
	/* Our name hash with a wrong key hash. */
	req = req_one(cid_for(EVP_sha256(), leaf, other_ca), &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OPENSSL_free(req);

	ids[0] = cid_for(EVP_sha1(), leaf, ca_cert);
	ids[1] = cid_for(EVP_sha1(), foreign, other_ca);
	req = req_der(ids, 2, 0, &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OPENSSL_free(req);
	X509_free(foreign);
	X509_free(leaf);
}

/* Several CertIDs: all answered, up to CA_OCSP_MAX_CERTIDS; more is
 * malformedRequest. */
static void
test_multi(void **state)
{
	struct fixture *fx = *state;
	X509 *leaves[CA_OCSP_MAX_CERTIDS + 1];
	OCSP_CERTID *ids[CA_OCSP_MAX_CERTIDS + 1],
	    *mine[CA_OCSP_MAX_CERTIDS + 1];
	OCSP_RESPONSE *resp;
	unsigned char *req;
	size_t len;
	int i, n = CA_OCSP_MAX_CERTIDS;

	for (i = 0; i <= n; i++) {
		leaves[i] = new_leaf("multi");
		if (i % 3 == 0)
			add_cert(fx->st2, leaves[i], "active", 0, 0);
		else if (i % 3 == 1)
			add_cert(fx->st2, leaves[i], "revoked", 1700000000, 1);
		mine[i] = cid_for(i % 2 ? EVP_sha256() : EVP_sha1(), leaves[i],
		    ca_cert);
		ids[i] = OCSP_CERTID_dup(mine[i]);
	}
	req = req_der(ids, n, 1, &len);
	OCSP_CERTID_free(ids[n]); /* not in this request */
	resp = ask(fx->o, req, len, NULL, NULL);
	for (i = 0; i < n; i++)
		assert_int_equal(single(resp, mine[i], NULL, NULL, NULL, NULL),
		    i % 3 == 0       ? V_OCSP_CERTSTATUS_GOOD
		        : i % 3 == 1 ? V_OCSP_CERTSTATUS_REVOKED
		                     : V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);

	for (i = 0; i <= n; i++)
		ids[i] = OCSP_CERTID_dup(mine[i]);
	req = req_der(ids, n + 1, 0, &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OPENSSL_free(req);
	for (i = 0; i <= n; i++) {
		OCSP_CERTID_free(mine[i]);
		X509_free(leaves[i]);
	}
}

/* Junk of every kind gets malformedRequest, never a crash or an error. */
static void
test_malformed(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char junk[] = "GET / HTTP/1.0\r\n\r\n";
	static const unsigned char empty_seq[] = { 0x30, 0x00 };
	static const unsigned char no_ids[] = { 0x30, 0x04, 0x30, 0x02, 0x30,
		0x00 };
	X509 *leaf = new_leaf("op");
	unsigned char *req, *big, *resp = NULL;
	size_t len, resplen = 1;
	OCSP_REQUEST *r;
	const unsigned char *p;

	assert_int_equal(resp_status(fx->o, junk, sizeof(junk) - 1),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(resp_status(fx->o, empty_seq, sizeof(empty_seq)),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(resp_status(fx->o, no_ids, sizeof(no_ids)),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(ca_ocsp_respond(fx->o, NULL, 0, &resp, &resplen), 0);
	assert_int_equal(resplen, 5);
	assert_int_equal(resp[4], OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(resp);

	req = req_one(cid_for(EVP_sha1(), leaf, ca_cert), &len);
	/* A good request parses (and is our issuer's: successful). */
	p = req;
	r = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	assert_non_null(r);
	OCSP_REQUEST_free(r);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	/* Truncated, every length. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(resp_status(fx->o, req, cut),
		    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	/* Trailing bytes after the DER. */
	big = malloc(CA_OCSP_MAX_REQ_BYTES + 1);
	assert_non_null(big);
	memcpy(big, req, len);
	big[len] = 0;
	assert_int_equal(resp_status(fx->o, big, len + 1),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	/* Over the size limit (padding inside would not matter). */
	memset(big + len, 0, CA_OCSP_MAX_REQ_BYTES + 1 - len);
	assert_int_equal(resp_status(fx->o, big, CA_OCSP_MAX_REQ_BYTES + 1),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	/* A flipped tag. */
	memcpy(big, req, len);
	big[0] = 0x31;
	assert_int_equal(resp_status(fx->o, big, len),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(big);
	OPENSSL_free(req);
	X509_free(leaf);
}

/* Nonces are not echoed (RFC 5019): the cached response serves requests
 * with and without one. */
static void
test_nonce_not_echoed(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op nonce");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert), *copy;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_REQUEST *r;
	unsigned char *req, *d1, *d2;
	const unsigned char *p;
	size_t len, l1, l2;

	add_cert(fx->st2, leaf, "active", 0, 0);
	copy = OCSP_CERTID_dup(id);
	req = req_der(&copy, 1, 1, &len);
	resp = ask(fx->o, req, len, &d1, &l1);
	bs = verified_basic(resp);
	p = req;
	r = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	assert_non_null(r);
	assert_int_equal(OCSP_check_nonce(r, bs), -1); /* nonce not in resp */
	OCSP_REQUEST_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	/* Another nonce, then none: the same bytes from the cache. */
	copy = OCSP_CERTID_dup(id);
	req = req_der(&copy, 1, 1, &len);
	OCSP_RESPONSE_free(ask(fx->o, req, len, &d2, &l2));
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	OPENSSL_free(req);
	free(d2);
	copy = OCSP_CERTID_dup(id);
	req = req_der(&copy, 1, 0, &len);
	OCSP_RESPONSE_free(ask(fx->o, req, len, &d2, &l2));
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	OPENSSL_free(req);
	free(d1);
	free(d2);
	OCSP_CERTID_free(id);
	X509_free(leaf);
}

/* The status of id right after another connection committed a change.
 * SQLite: the very next request sees it (PRAGMA data_version). PostgreSQL:
 * as soon as the NOTIFY reaches the responder's connection, which the
 * server sends asynchronously after the commit returns (well under a
 * millisecond on loopback): allow it 2 s, and report how long it took. */
static int
settled_status(struct fixture *fx, OCSP_CERTID *id, int want, int *reason,
    time_t *revtime)
{
	struct timespec t0, t1;
	int s, tries = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		s = status_of(fx->o, id, reason, revtime);
		tries++;
		if (s == want || fx->kind == STORE_SQLITE)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= 2)
			break;
		usleep(200);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (tries > 1)
		printf("# change seen after %d requests, %ld us\n", tries,
		    (long)((t1.tv_sec - t0.tv_sec) * 1000000 +
		        (t1.tv_nsec - t0.tv_nsec) / 1000));
	return s;
}

/* Cached: the same bytes twice. A revocation committed on another
 * connection (ukey-ca revoke in another process) is seen by the very next
 * request; so is an issuance (unknown -> good). */
static void
test_cache_invalidation(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op cached"), *later = new_leaf("op later");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);
	OCSP_CERTID *lid = cid_for(EVP_sha256(), later, ca_cert);
	OCSP_CERTID *copy = OCSP_CERTID_dup(id);
	unsigned char *req, *d1, *d2;
	size_t len, l1, l2;
	time_t rt;
	int reason;

	add_cert(fx->st2, leaf, "active", 0, 0);
	req = req_one(copy, &len);
	OCSP_RESPONSE_free(ask(fx->o, req, len, &d1, &l1));
	OCSP_RESPONSE_free(ask(fx->o, req, len, &d2, &l2));
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1); /* from the cache */
	free(d1);
	free(d2);
	assert_int_equal(status_of(fx->o, lid, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);

	revoke_cert(fx->st2, leaf, 1700001234, 1);
	assert_int_equal(settled_status(fx, id, V_OCSP_CERTSTATUS_REVOKED,
	                     &reason, &rt),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(rt, 1700001234);

	/* An issuance in a transaction that notifies, as ukey-ca does. */
	assert_int_equal(store_begin(fx->st2, STORE_TX_WRITE), 0);
	add_cert(fx->st2, later, "active", 0, 0);
	assert_int_equal(store_notify(fx->st2), 0);
	assert_int_equal(store_commit(fx->st2), 0);
	assert_int_equal(settled_status(fx, lid, V_OCSP_CERTSTATUS_GOOD, NULL,
	                     NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OPENSSL_free(req);
	OCSP_CERTID_free(id);
	OCSP_CERTID_free(lid);
	X509_free(leaf);
	X509_free(later);
}

/* A change through the responder's own connection is not reported by
 * store_changed: ca_ocsp_invalidate is the way. */
static void
test_invalidate_same_connection(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op same");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);

	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	revoke_cert(fx->st, leaf, 1700000000, 5);
	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD); /* stale, as documented */
	ca_ocsp_invalidate(fx->o);
	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_REVOKED);
	ca_ocsp_invalidate(NULL);
	OCSP_CERTID_free(id);
	X509_free(leaf);
}

/* When the store fails, tryLater: not internalError, and never the cache. */
static void
test_store_failure(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op store");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);
	unsigned char *req;
	size_t len;

	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(store_exec(fx->st2, NULL,
	                     "ALTER TABLE certs RENAME "
	                     "TO certs_gone",
	                     ""),
	    0);
	assert_int_equal(store_notify(fx->st2), 0);
	req = req_one(OCSP_CERTID_dup(id), &len);
	/* PostgreSQL: the notification may take a moment to arrive. */
	for (int i = 0; i < 1000; i++) {
		if (resp_status(fx->o, req, len) ==
		    OCSP_RESPONSE_STATUS_TRYLATER)
			break;
		usleep(1000);
	}
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(store_exec(fx->st2, NULL,
	                     "ALTER TABLE certs_gone "
	                     "RENAME TO certs",
	                     ""),
	    0);
	assert_int_equal(status_of(fx->o, id, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OPENSSL_free(req);
	OCSP_CERTID_free(id);
	X509_free(leaf);
}

/* Past half of its validity a cached response is signed anew. */
static void
test_resign_at_half(void **state)
{
	struct fixture *fx = *state;
	struct ca_ocsp *o = NULL;
	X509 *leaf = new_leaf("op short");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);
	OCSP_CERTID *copy = OCSP_CERTID_dup(id);
	OCSP_RESPONSE *resp;
	unsigned char *req, *d1, *d2;
	size_t len, l1, l2;
	time_t t0, tu, nu;

	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, signer_cert, signer_key,
	                     2, &o),
	    0);
	req = req_one(copy, &len);
	/* Start right after a second ticks so that two asks share it. */
	t0 = time(NULL);
	while (time(NULL) == t0)
		usleep(10000);
	t0 = time(NULL);
	resp = ask(o, req, len, &d1, &l1);
	assert_int_equal(single(resp, id, NULL, NULL, &tu, &nu),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(nu - tu, 2);
	OCSP_RESPONSE_free(resp);
	OCSP_RESPONSE_free(ask(o, req, len, &d2, &l2));
	if (time(NULL) == t0)
		assert_memory_equal(d1, d2, l1);
	free(d2);
	while (time(NULL) < t0 + 1)
		usleep(10000);
	resp = ask(o, req, len, &d2, &l2);
	assert_int_equal(single(resp, id, NULL, NULL, &tu, &nu),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_true(tu >= t0 + 1);
	assert_true(l1 != l2 || memcmp(d1, d2, l1) != 0);
	OCSP_RESPONSE_free(resp);
	free(d1);
	free(d2);
	OPENSSL_free(req);
	ca_ocsp_free(o);
	OCSP_CERTID_free(id);
	X509_free(leaf);
}

/* Arguments checked; a signer that does not match its key or is not issued
 * by the CA is refused; ca_ocsp_free(NULL) is a no-op; the responder keeps
 * its own references. */
static void
test_new_args(void **state)
{
	struct fixture *fx = *state;
	struct ca_ocsp *o = (struct ca_ocsp *)&o;
	X509 *leaf = new_leaf("op refs");
	OCSP_CERTID *id = cid_for(EVP_sha1(), leaf, ca_cert);
	X509 *ca = X509_dup(ca_cert), *signer = X509_dup(signer_cert);
	X509 *plain = new_leaf("not a signer");
	EVP_PKEY *key = signer_key;
	assert_int_equal(ca_ocsp_new(NULL, ca_cert, signer_cert, signer_key, 60,
	                     &o),
	    UK_ERR_USAGE);
	assert_null(o);
	assert_int_equal(ca_ocsp_new(fx->st, NULL, signer_cert, signer_key, 60,
	                     &o),
	    UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, signer_cert, signer_key,
	                     -1, &o),
	    UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, signer_cert, ca_key, 60,
	                     &o),
	    UK_ERR_CA_KEY);
	assert_null(o);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, other_signer, signer_key,
	                     60, &o),
	    UK_ERR_CA_KEY);
	/* issued by the CA, but not for OCSPSigning */
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, plain, leaf_key, 60, &o),
	    UK_ERR_CA_KEY);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, signer_cert, signer_key,
	                     60, NULL),
	    UK_ERR_USAGE);
	ca_ocsp_free(NULL);

	/* The issuing CA signing its own responses is allowed. */
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, ca_cert, ca_key, 0, &o),
	    0);
	ca_ocsp_free(o);

	/* Own references: the caller's copies can go. */
	EVP_PKEY_up_ref(key);
	assert_int_equal(ca_ocsp_new(fx->st, ca, signer, key, 0, &o), 0);
	X509_free(ca);
	X509_free(signer);
	EVP_PKEY_free(key);
	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(status_of(o, id, NULL, NULL), V_OCSP_CERTSTATUS_GOOD);
	ca_ocsp_free(o);
	OCSP_CERTID_free(id);
	X509_free(leaf);
	X509_free(plain);
}

/* An SM2 CA and signer: SM2-with-SM3 responses, signed with the default
 * distinguishing ID (GM/T 0009), as every SM2 signature of the CA. */
static void
test_sm2(void **state)
{
	struct fixture *fx = *state;
	struct ca_ocsp *o = NULL;
	EVP_PKEY *cakey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	EVP_PKEY *skey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	X509 *ca, *signer, *leaf;
	OCSP_CERTID *id;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	const X509_ALGOR *alg;
	const ASN1_OBJECT *oid = NULL;
	EVP_MD_CTX *mctx;
	EVP_PKEY_CTX *pctx;
	unsigned char *req;
	size_t len;
	int status = -1;

	assert_non_null(cakey);
	assert_non_null(skey);
	ca = make_cert("SM2 Issuing CA", cakey, NULL, cakey, 1);
	signer = make_cert("SM2 OCSP Signer", skey, ca, cakey, 2);
	leaf = make_cert("sm2 op", skey, ca, cakey, 0);
	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(ca_ocsp_new(fx->st, ca, signer, skey, 60, &o), 0);
	id = cid_for(EVP_sm3(), leaf, ca);
	req = req_one(OCSP_CERTID_dup(id), &len);
	resp = ask(o, req, len, NULL, NULL);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_resp_find_status(bs, id, &status, NULL, NULL,
	                     NULL, NULL),
	    1);
	assert_int_equal(status, V_OCSP_CERTSTATUS_GOOD);
	alg = OCSP_resp_get0_tbs_sigalg(bs);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	assert_int_equal(OBJ_obj2nid(oid), NID_SM2_with_SM3);
	/* The signature checks out with the signer's key and the ID. */
	mctx = EVP_MD_CTX_new();
	pctx = EVP_PKEY_CTX_new(skey, NULL);
	assert_non_null(mctx);
	assert_non_null(pctx);
	assert_true(EVP_PKEY_CTX_set1_id(pctx, SM2_ID, 16) > 0);
	EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	assert_int_equal(EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL,
	                     skey),
	    1);
	assert_int_equal(ASN1_item_verify_ctx(ASN1_ITEM_rptr(OCSP_RESPDATA),
	                     alg, OCSP_resp_get0_signature(bs),
	                     OCSP_resp_get0_respdata(bs), mctx),
	    1);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OPENSSL_free(req);
	OCSP_CERTID_free(id);
	ca_ocsp_free(o);
	X509_free(ca);
	X509_free(signer);
	X509_free(leaf);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(skey);
}

/* ---- HTTP ---- */

struct server {
	struct ca_ocsp *o;
	char listen[64];
	int rc;
};

static void *
serve_thread(void *arg)
{
	struct server *s = arg;

	s->rc = ca_ocsp_serve(s->o, s->listen);
	return NULL;
}

struct http_result {
	long code;
	char ctype[128];
	char cache[160];
	unsigned char body[8192];
	size_t len;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_result *h = arg;
	size_t len = size * n;

	if (len > sizeof(h->body) - h->len)
		return 0;
	memcpy(h->body + h->len, p, len);
	h->len += len;
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_result *h = arg;
	size_t len = size * n;
	static const char cc[] = "cache-control: ";

	if (len > sizeof(cc) - 1 && strncasecmp(p, cc, sizeof(cc) - 1) == 0)
		snprintf(h->cache, sizeof(h->cache), "%.*s",
		    (int)(len - (sizeof(cc) - 1)), p + sizeof(cc) - 1);
	return len;
}

/* One HTTP exchange with curl; method NULL: GET, or POST when body set. */
static int
http(const char *url, const char *method, const char *ctype, const void *body,
    size_t bodylen, struct http_result *h)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char line[160];
	char *ct = NULL;
	CURLcode rc;

	memset(h, 0, sizeof(*h));
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)bodylen);
	}
	if (method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	/* "" sends no Content-Type at all. */
	if (ctype != NULL) {
		snprintf(line, sizeof(line), "Content-Type:%s%s",
		    *ctype != '\0' ? " " : "", ctype);
		hdr = curl_slist_append(hdr, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->code);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) ==
		        CURLE_OK &&
		    ct != NULL)
			snprintf(h->ctype, sizeof(h->ctype), "%s", ct);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

static int
ocsp_status_of_body(const struct http_result *h)
{
	const unsigned char *p = h->body;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)h->len);
	int s;

	assert_non_null(resp);
	s = OCSP_response_status(resp);
	OCSP_RESPONSE_free(resp);
	return s;
}

static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* The server: POST and GET (plain, URL-encoded, with a path prefix),
 * headers, 405, 413, 415, malformedRequest for junk, stop on SIGTERM. */
static void
test_http(void **state)
{
	struct fixture *fx = *state;
	struct server s;
	struct http_result h;
	pthread_t t;
	X509 *leaf = new_leaf("op http");
	unsigned char *req, *big;
	char base[64], url[4096], *b64, *esc;
	size_t len;
	int port, i, up = 0;
	CURL *c;

	add_cert(fx->st2, leaf, "active", 0, 0);
	req = req_one(cid_for(EVP_sha1(), leaf, ca_cert), &len);
	port = free_port();
	memset(&s, 0, sizeof(s));
	s.o = fx->o;
	s.rc = -1;
	snprintf(s.listen, sizeof(s.listen), "127.0.0.1:%d", port);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	assert_int_equal(pthread_create(&t, NULL, serve_thread, &s), 0);
	for (i = 0; i < 500 && !up; i++) {
		if (http(base, NULL, NULL, NULL, 0, &h) == 0)
			up = 1;
		else
			usleep(10000);
	}
	assert_true(up);
	/* GET / is junk: still an OCSP answer. */
	assert_int_equal(h.code, 200);
	assert_string_equal(h.ctype, "application/ocsp-response");
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_string_equal(h.cache, "no-store\r\n");

	/* POST */
	assert_int_equal(http(base, NULL, "application/ocsp-request", req, len,
	                     &h),
	    0);
	assert_int_equal(h.code, 200);
	assert_string_equal(h.ctype, "application/ocsp-response");
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(strstr(h.cache, "max-age="));
	assert_non_null(
	    strstr(h.cache, "public, no-transform, must-revalidate"));
	/* Not cached by HTTP caches unless configured: a proxy must not
	 * serve "good" after a revocation. */
	i = (int)strtol(h.cache + strlen("max-age="), NULL, 10);
	assert_int_equal(i, 0);
	/* POST without a Content-Type is accepted; a wrong one is not. */
	assert_int_equal(http(base, NULL, "", req, len, &h), 0);
	assert_int_equal(h.code, 200);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(http(base, "POST", NULL, req, len, &h), 0);
	assert_int_equal(h.code, 415); /* curl sends form-urlencoded */
	assert_int_equal(http(base, NULL, "text/plain", req, len, &h), 0);
	assert_int_equal(h.code, 415);
	assert_int_equal(http(base, NULL, "Application/OCSP-Request; x=y", req,
	                     len, &h),
	    0);
	assert_int_equal(h.code, 200);
	/* POST junk: malformedRequest */
	assert_int_equal(http(base, NULL, "application/ocsp-request", "junk", 4,
	                     &h),
	    0);
	assert_int_equal(h.code, 200);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	/* POST too large: 413 */
	big = calloc(1, CA_OCSP_MAX_REQ_BYTES + 1);
	assert_non_null(big);
	assert_int_equal(http(base, NULL, "application/ocsp-request", big,
	                     CA_OCSP_MAX_REQ_BYTES + 1, &h),
	    0);
	assert_int_equal(h.code, 413);
	/* exactly the limit: read, and malformed */
	assert_int_equal(http(base, NULL, "application/ocsp-request", big,
	                     CA_OCSP_MAX_REQ_BYTES, &h),
	    0);
	assert_int_equal(h.code, 200);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(big);
	/* other methods: 405 */
	assert_int_equal(http(base, "PUT", "application/ocsp-request", req, len,
	                     &h),
	    0);
	assert_int_equal(h.code, 405);
	assert_int_equal(http(base, "DELETE", NULL, NULL, 0, &h), 0);
	assert_int_equal(h.code, 405);

	/* GET: base64 URL-encoded, raw, with a path prefix, base64url. */
	b64 = b64_encode(req, len, 0);
	assert_non_null(b64);
	c = curl_easy_init();
	esc = curl_easy_escape(c, b64, 0);
	assert_non_null(esc);
	snprintf(url, sizeof(url), "%s/%s", base, esc);
	assert_int_equal(http(url, NULL, NULL, NULL, 0, &h), 0);
	assert_int_equal(h.code, 200);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(strstr(h.cache, "max-age="));
	snprintf(url, sizeof(url), "%s/ocsp/v1/%s", base, esc);
	assert_int_equal(http(url, NULL, NULL, NULL, 0, &h), 0);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	snprintf(url, sizeof(url), "%s/%s", base, b64);
	assert_int_equal(http(url, NULL, NULL, NULL, 0, &h), 0);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	curl_free(esc);
	free(b64);
	b64 = b64_encode(req, len, 1);
	snprintf(url, sizeof(url), "%s/ocsp/%s", base, b64);
	assert_int_equal(http(url, NULL, NULL, NULL, 0, &h), 0);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	free(b64);
	snprintf(url, sizeof(url), "%s/ocsp/%%ZZnot-base64!", base);
	assert_int_equal(http(url, NULL, NULL, NULL, 0, &h), 0);
	assert_int_equal(ocsp_status_of_body(&h),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	curl_easy_cleanup(c);

	assert_int_equal(pthread_kill(t, SIGTERM), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.rc, 0);
	assert_int_equal(http(base, NULL, NULL, NULL, 0, &h), -1);

	/* Bad listen addresses are refused at once. */
	assert_int_equal(ca_ocsp_serve(fx->o, "127.0.0.1"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, "localhost:80"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, "127.0.0.1:0"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, "127.0.0.1:70000"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, "[::1:80"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, "::1:80"), UK_ERR_USAGE);
	assert_int_equal(ca_ocsp_serve(fx->o, NULL), UK_ERR_USAGE);
	OPENSSL_free(req);
	X509_free(leaf);
}

#define BOTH(f)                                                                \
	{ "sqlite_" #f, f, setup, teardown, &be_sqlite },                      \
	{                                                                      \
		"pg_" #f, f, setup, teardown, &be_pg                           \
	}

/* stderr into path until log_restore (the responder logs there). */
static int
log_capture(const char *path)
{
	int saved, fd;

	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
	return saved;
}

static void
log_restore(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

/* Lines of path that contain needle. */
static int
lines_with(const char *path, const char *needle)
{
	char line[2048];
	FILE *fp = fopen(path, "r");
	int n = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(fp);
	return n;
}

/* The responder's own certificate revoked in the store: tryLater (no
 * longer signed, not even from the cache), one error logged for the
 * change; usable again when the revocation is undone. */
static void
test_signer_revoked(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op signer");
	OCSP_CERTID *id = cid_for(EVP_sha256(), leaf, ca_cert);
	unsigned char *req;
	char logp[600];
	size_t len;
	int i, s, saved;

	add_cert(fx->st2, leaf, "active", 0, 0);
	add_cert(fx->st2, signer_cert, "active", 0, 0);
	req = req_one(id, &len);
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	snprintf(logp, sizeof(logp), "%s/signer.log", fx->db.dir);
	saved = log_capture(logp);
	revoke_cert(fx->st2, signer_cert, (int64_t)time(NULL), 1);
	/* PostgreSQL: the NOTIFY arrives asynchronously. */
	for (i = 0; i < 2000; i++) {
		if ((s = resp_status(fx->o, req, len)) !=
		    OCSP_RESPONSE_STATUS_SUCCESSFUL)
			break;
		usleep(1000);
	}
	for (i = 0; i < 3; i++)
		s = s == OCSP_RESPONSE_STATUS_TRYLATER
		    ? resp_status(fx->o, req, len)
		    : s;
	log_restore(saved);
	assert_int_equal(s, OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(lines_with(logp, "level=error"), 1);
	assert_int_equal(lines_with(logp, "OCSP signer certificate"), 1);
	assert_int_equal(lines_with(logp, "is revoked"), 1);
	/* Undone (a restored store): signing again. */
	{
		char *sn = serial_hex(signer_cert);

		assert_int_equal(store_exec(fx->st2, NULL,
		                     "UPDATE certs SET status = 'active' WHERE"
		                     " serial = ?",
		                     "t", sn),
		    0);
		assert_int_equal(store_notify(fx->st2), 0);
		OPENSSL_free(sn);
	}
	for (i = 0; i < 2000; i++) {
		if ((s = resp_status(fx->o, req, len)) ==
		    OCSP_RESPONSE_STATUS_SUCCESSFUL)
			break;
		usleep(1000);
	}
	assert_int_equal(s, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OPENSSL_free(req); /* the request owned id */
	X509_free(leaf);
}

/* An expired signer certificate: tryLater, one error logged. */
static void
test_signer_expired(void **state)
{
	struct fixture *fx = *state;
	X509 *leaf = new_leaf("op expired signer");
	X509 *old =
	    make_cert("Old OCSP Signer", signer_key, ca_cert, ca_key, 2);
	OCSP_CERTID *id = cid_for(EVP_sha256(), leaf, ca_cert);
	struct ca_ocsp *o = NULL;
	unsigned char *req;
	char logp[600];
	size_t len;
	int saved;

	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(old), -7200));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(old), -60));
	sign_cert(old, ca_key);
	add_cert(fx->st2, leaf, "active", 0, 0);
	assert_int_equal(ca_ocsp_new(fx->st, ca_cert, old, signer_key, VALIDITY,
	                     &o),
	    0);
	req = req_one(id, &len);
	snprintf(logp, sizeof(logp), "%s/expired.log", fx->db.dir);
	saved = log_capture(logp);
	assert_int_equal(resp_status(o, req, len),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	assert_int_equal(resp_status(o, req, len),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	log_restore(saved);
	assert_int_equal(lines_with(logp, "level=error"), 1);
	assert_int_equal(lines_with(logp, "is not valid now"), 1);
	/* The valid signer on the same store still signs. */
	assert_int_equal(resp_status(fx->o, req, len),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	ca_ocsp_free(o);
	OPENSSL_free(req); /* the request owned id */
	X509_free(old);
	X509_free(leaf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_good),
		BOTH(test_revoked),
		BOTH(test_unknown_serial),
		BOTH(test_unknown_issuer),
		BOTH(test_multi),
		BOTH(test_malformed),
		BOTH(test_nonce_not_echoed),
		BOTH(test_cache_invalidation),
		BOTH(test_invalidate_same_connection),
		BOTH(test_store_failure),
		BOTH(test_resign_at_half),
		BOTH(test_new_args),
		BOTH(test_sm2),
		BOTH(test_http),
		BOTH(test_signer_revoked),
		BOTH(test_signer_expired),
	};
	int r;

	if (testdb_tmpdir("test_ocsp", tmpdir, sizeof(tmpdir)) != 0) {
		perror("mkdtemp");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests_name("ocsp", tests, pki_setup, pki_free);
	curl_global_cleanup();
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}
