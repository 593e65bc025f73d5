/* tests/unit/gateway/test_authcert.c: the UKey login verification on SQLite and PostgreSQL: challenges (read, then taken once, also under concurrency), token format, certificate checks, signatures for ES256/RS256/PS256/SM2, bindings, the parsed-certificate cache. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/authcert.h"
#include "tests/lib/testdb.h"

#define ORIGIN "https://gjj.example.cn"
#define EVIL "https://gjj.example.cn.evil.test"
#define BROWSER "browser-cookie-1"

struct fixture {
	enum store_backend kind;
	struct testdb db;
	struct store *st;
	struct ca *ca;
	struct secret *pass, *opass;
	struct gw_authcert *ac;
	int64_t now;
};

static char tmpdir[256];
static EVP_PKEY *ec_key, *rsa_key, *sm2_key, *ec_key2;
/* An external CA (configured as an anchor, with a CRL revoking ext_bad)
 * and another CA nobody configured. */
static EVP_PKEY *ext_ca_key, *other_ca_key;
static X509 *ext_ca, *ext_good, *ext_bad, *ext_server, *other_ca, *other_leaf;
static char ext_ca_file[400], ext_crl_file[400];

static struct fixture fx_sqlite = { .kind = STORE_SQLITE };
static struct fixture fx_pg = { .kind = STORE_POSTGRES };

/* ---- keys and an external CA ---- */

static EVP_PKEY *
gen(const char *type, const char *group, int bits)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(kctx);
	assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
	if (group != NULL)
		assert_int_equal(EVP_PKEY_CTX_set_group_name(kctx, group), 1);
	if (bits > 0)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, bits),
		    1);
	assert_int_equal(EVP_PKEY_keygen(kctx, &k), 1);
	EVP_PKEY_CTX_free(kctx);
	return k;
}

static void
add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(c, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for k named cn, signed by issuer/ikey (NULL: self-signed
 * CA). eku: the leaf's extendedKeyUsage. */
static X509 *
make_cert(const char *cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *ikey,
    const char *eku, long serial)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	int ca = issuer == NULL;

	assert_non_null(c);
	assert_int_equal(X509_set_version(c, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, ca ? n : X509_get_subject_name(issuer));
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 365);
	X509_set_pubkey(c, k);
	if (ca) {
		add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(c, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(c, issuer, NID_ext_key_usage, eku);
	}
	add_ext(c, ca ? c : issuer, NID_subject_key_identifier, "hash");
	add_ext(c, ca ? c : issuer, NID_authority_key_identifier, "keyid");
	assert_true(X509_sign(c, ca ? k : ikey, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return c;
}

/* Writes the external CA and a CRL revoking ext_bad to files. */
static void
make_external(void)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	FILE *f;

	ext_ca_key = gen("EC", "P-256", 0);
	other_ca_key = gen("EC", "P-256", 0);
	ext_ca = make_cert("External CA", ext_ca_key, NULL, NULL, NULL, 1);
	ext_good = make_cert("ext good", ec_key, ext_ca, ext_ca_key,
	    "clientAuth", 1001);
	ext_bad = make_cert("ext revoked", ec_key, ext_ca, ext_ca_key,
	    "clientAuth", 1002);
	ext_server = make_cert("ext server", ec_key, ext_ca, ext_ca_key,
	    "serverAuth", 1003);
	other_ca = make_cert("Other CA", other_ca_key, NULL, NULL, NULL, 1);
	other_leaf =
	    make_cert("other", ec_key, other_ca, other_ca_key, "clientAuth", 7);

	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ext_ca));
	X509_gmtime_adj(t, -3600);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400L * 30);
	X509_CRL_set1_nextUpdate(crl, t);
	X509_gmtime_adj(t, -1800);
	X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(ext_bad));
	X509_REVOKED_set_revocationDate(rv, t);
	X509_CRL_add0_revoked(crl, rv);
	ASN1_INTEGER_set(num, 1);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	X509V3_set_ctx(&ctx, ext_ca, NULL, NULL, crl, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid");
	assert_non_null(e);
	X509_CRL_add_ext(crl, e, -1);
	X509_EXTENSION_free(e);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, ext_ca_key, EVP_sha256()) > 0);

	snprintf(ext_ca_file, sizeof(ext_ca_file), "%s/ext-ca.pem", tmpdir);
	snprintf(ext_crl_file, sizeof(ext_crl_file), "%s/ext.crl", tmpdir);
	assert_non_null(f = fopen(ext_ca_file, "w"));
	PEM_write_X509(f, ext_ca);
	fclose(f);
	assert_non_null(f = fopen(ext_crl_file, "w"));
	PEM_write_X509_CRL(f, crl);
	fclose(f);
	X509_CRL_free(crl);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
}

/* ---- the store ---- */

static void
sql(struct fixture *f, const char *q, const char *types, ...)
{
	va_list ap;
	const char *s;
	int64_t i;
	int r;

	/* only the shapes used below: up to three parameters */
	va_start(ap, types);
	if (strcmp(types, "") == 0) {
		r = store_exec(f->st, NULL, q, "");
	} else if (strcmp(types, "t") == 0) {
		s = va_arg(ap, const char *);
		r = store_exec(f->st, NULL, q, "t", s);
	} else if (strcmp(types, "it") == 0) {
		i = va_arg(ap, int64_t);
		s = va_arg(ap, const char *);
		r = store_exec(f->st, NULL, q, "it", i, s);
	} else {
		r = -1;
	}
	va_end(ap);
	if (r != 0)
		print_message("# %s: %s\n", q, store_last_error(f->st));
	assert_int_equal(r, 0);
}

/* A unit with its agreement signed (authorised when auth). */
static void
add_unit(struct fixture *f, const char *unit, int auth)
{
	assert_int_equal(store_exec(f->st, NULL,
	                     "INSERT INTO units (id, name, created_at) VALUES "
	                     "(?, ?, ?) ON CONFLICT (id) DO NOTHING",
	                     "tti", unit, "Unit", f->now),
	    0);
	sql(f,
	    "UPDATE units SET agreement_at = 1, agreement_form = 'F' WHERE "
	    "id = ?",
	    "t", unit);
	if (auth)
		sql(f, "UPDATE units SET authorized_at = 2 WHERE id = ?", "t",
		    unit);
}

/* An active operator login of unit; returns its id. */
static int64_t
add_operator(struct fixture *f, const char *unit, const char *login)
{
	struct store_res *res = NULL;
	int64_t id;

	assert_int_equal(store_exec(f->st, NULL,
	                     "INSERT INTO operators (login, login_lc, "
	                     "unit_id, name, roles, status, created_at) "
	                     "VALUES (?, ?, ?, ?, 'maker checker', "
	                     "'active', ?)",
	                     "tttti", login, login, unit, "Zhang San", f->now),
	    0);
	assert_int_equal(store_exec(f->st, &res,
	                     "SELECT id FROM operators WHERE login_lc = ?", "t",
	                     login),
	    0);
	id = store_res_int(res, 0, 0);
	store_res_free(res);
	assert_true(id > 0);
	return id;
}

static void
sha256_hex_der(X509 *x, char out[65])
{
	unsigned char *der = NULL, md[32];
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
	hex_encode(md, sizeof(md), out);
	OPENSSL_free(der);
}

/* A cert_bindings row for x: to operator op or (op 0) staff staff. */
static void
bind(struct fixture *f, X509 *x, int64_t op, int64_t staff)
{
	char sha[65], is[200];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *serial = BN_bn2hex(bn);
	char issuer[120];

	sha256_hex_der(x, sha);
	X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	snprintf(is, sizeof(is), "%s/%s", issuer, serial);
	assert_int_equal(store_exec(f->st, NULL,
	                     op != 0
	                         ? "INSERT INTO cert_bindings (operator_id, "
	                           "issuer_serial, sha256, subject, not_after, "
	                           "source, created_at) VALUES (?, ?, ?, 's', "
	                           "0, 'external', ?)"
	                         : "INSERT INTO cert_bindings (staff_id, "
	                           "issuer_serial, sha256, subject, not_after, "
	                           "source, created_at) VALUES (?, ?, ?, 's', "
	                           "0, 'external', ?)",
	                     "itti", op != 0 ? op : staff, is, sha, f->now),
	    0);
	OPENSSL_free(serial);
	BN_free(bn);
}

/* Issues a certificate for k by the store's CA to operator login of unit.
 * days 0: default. profile 0: operator. */
static X509 *
issue(struct fixture *f, const char *unit, const char *login, EVP_PKEY *k,
    int days, enum ca_profile profile, char serial[CA_SERIAL_HEX_MAX])
{
	struct ca_issue_req req;
	struct ca_issued out;
	X509 *x;

	memset(&req, 0, sizeof(req));
	req.unit = unit;
	req.operator= login;
	req.days = days;
	req.profile = profile;
	req.actor = "test";
	if (ca_issue_key(f->ca, k, NULL, &req, &out) != 0)
		print_message("# ca_issue_key: %s\n", ca_errmsg(f->ca));
	x = out.cert;
	out.cert = NULL;
	if (serial != NULL)
		memcpy(serial, out.serial, CA_SERIAL_HEX_MAX);
	ca_issued_clear(&out);
	assert_non_null(x);
	return x;
}

/* ---- fixtures ---- */

static int
fx_setup(void **state)
{
	struct fixture *f = *state;
	struct gw_authcert_conf conf;
	struct ca_init_params p;
	const char *anchors[] = { ext_ca_file, NULL };
	const char *crls[] = { ext_crl_file, NULL };
	char err[512], key[1100];

	f->st = NULL;
	f->ca = NULL;
	f->ac = NULL;
	f->now = (int64_t)time(NULL);
	testdb_new(&f->db, f->kind, tmpdir, "authcert");
	if (store_open(f->db.loc, &f->st) != 0)
		return -1;
	f->pass = secret_from("test passphrase", 15);
	f->opass = secret_from("ocsp passphrase", 15);
	memset(&p, 0, sizeof(p));
	snprintf(key, sizeof(key), "%s/ca.key", f->db.dir);
	p.name = "Test CA";
	p.key_file = key;
	p.pass = f->pass;
	p.ocsp_pass = f->opass;
	p.actor = "test";
	if (ca_init(f->st, NULL, &p, &f->ca, err, sizeof(err)) != 0) {
		print_message("# ca_init: %s\n", err);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	conf.origin = ORIGIN;
	conf.anchors = anchors;
	conf.crls = crls;
	if (gw_authcert_new(f->st, &conf, &f->ac) != 0)
		return -1;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fixture *f = *state;

	gw_authcert_free(f->ac);
	f->ac = NULL;
	ca_free(f->ca);
	f->ca = NULL;
	store_close(f->st);
	f->st = NULL;
	secret_free(f->pass);
	secret_free(f->opass);
	return testdb_drop(&f->db);
}

/* ---- tokens ---- */

/* What a token says and how it was signed. */
struct spec {
	const char *alg;
	EVP_PKEY *key;
	X509 *cert;
	const char *signed_origin; /* NULL: ORIGIN */
	const char *origin_field;  /* NULL: none */
	const char *sm2_id;        /* NULL: the default */
	const char *nonce_signed;  /* NULL: the challenge's */
};

static void
hash2(const char *alg, const char *origin, const char *nonce,
    unsigned char out[64])
{
	const EVP_MD *md = strcmp(alg, "SM2") == 0 ? EVP_sm3() : EVP_sha256();

	assert_int_equal(EVP_Digest(origin, strlen(origin), out, NULL, md,
	                     NULL),
	    1);
	assert_int_equal(EVP_Digest(nonce, strlen(nonce), out + 32, NULL, md,
	                     NULL),
	    1);
}

/* DER ECDSA / SM2 signature to raw r||s of 64 bytes. */
static size_t
der_to_raw(const unsigned char *der, size_t len, unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *ss;

	assert_non_null(s);
	ECDSA_SIG_get0(s, &r, &ss);
	assert_int_equal(BN_bn2binpad(r, out, 32), 32);
	assert_int_equal(BN_bn2binpad(ss, out + 32, 32), 32);
	ECDSA_SIG_free(s);
	return 64;
}

/* Signs tbs as an agent does for alg; returns the signature's length. */
static size_t
sign(const struct spec *s, const unsigned char *tbs, unsigned char *sig)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char der[600];
	size_t len = sizeof(der);
	const char *id = s->sm2_id != NULL ? s->sm2_id : CA_SM2_DEFAULT_ID;

	assert_non_null(mctx);
	if (strcmp(s->alg, "SM2") == 0) {
		pctx = EVP_PKEY_CTX_new(s->key, NULL);
		assert_int_equal(EVP_PKEY_CTX_set1_id(pctx, id, strlen(id)), 1);
		EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
		assert_int_equal(EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL,
		                     s->key),
		    1);
	} else {
		assert_int_equal(EVP_DigestSignInit(mctx, &pctx, EVP_sha256(),
		                     NULL, s->key),
		    1);
		if (strcmp(s->alg, "PS256") == 0) {
			EVP_PKEY_CTX_set_rsa_padding(pctx,
			    RSA_PKCS1_PSS_PADDING);
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
			EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
		}
		pctx = NULL; /* owned by mctx */
	}
	assert_int_equal(EVP_DigestSign(mctx, der, &len, tbs, 64), 1);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	if (strcmp(s->alg, "ES256") == 0 || strcmp(s->alg, "SM2") == 0)
		return der_to_raw(der, len, sig);
	memcpy(sig, der, len);
	return len;
}

/* The token object for s and nonce (with "nonce", as the page sends it). */
static json_t *
token_obj(const struct spec *s, const char *nonce)
{
	unsigned char tbs[64], sig[600], *der = NULL;
	char *cb64, *sb64;
	size_t siglen;
	int n;
	json_t *j;

	hash2(s->alg, s->signed_origin != NULL ? s->signed_origin : ORIGIN,
	    s->nonce_signed != NULL ? s->nonce_signed : nonce, tbs);
	siglen = sign(s, tbs, sig);
	n = i2d_X509(s->cert, &der);
	assert_true(n > 0);
	cb64 = b64_encode(der, (size_t)n, 0);
	sb64 = b64_encode(sig, siglen, 0);
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "format", "ukey-auth:1.0",
	    "unverifiedCertificate", cb64, "algorithm", s->alg, "signature",
	    sb64, "appVersion", "ukey-agent/1.0", "nonce", nonce);
	assert_non_null(j);
	if (s->origin_field != NULL)
		json_object_set_new(j, "origin", json_string(s->origin_field));
	free(cb64);
	free(sb64);
	OPENSSL_free(der);
	return j;
}

/* A challenge for browser at f->now + dt. */
static void
challenge(struct fixture *f, const char *browser, int64_t dt, char nonce[45])
{
	assert_int_equal(gw_challenge_new(f->ac, f->st, browser, f->now + dt,
	                     nonce),
	    0);
	assert_int_equal(strlen(nonce), 44);
}

/* Verifies j (consumed) as browser at f->now + dt; returns the code. */
static int
verify_obj(struct fixture *f, json_t *j, const char *browser, int64_t dt,
    struct gw_identity *id)
{
	struct gw_authcert_result res;
	struct gw_identity tmp;
	char *text = json_dumps(j, JSON_COMPACT);
	int r;

	assert_non_null(text);
	r = gw_authcert_verify(f->ac, f->st, browser, text, strlen(text),
	    f->now + dt, id != NULL ? id : &tmp, &res);
	assert_int_equal(r, 0);
	if (res.code != 0)
		print_message("# refused %d: %s\n", res.code, res.detail);
	free(text);
	json_decref(j);
	return res.code;
}

/* Challenge, token for s, verification, all at f->now + dt. */
static int
login(struct fixture *f, const struct spec *s, int64_t dt,
    struct gw_identity *id)
{
	char nonce[45];

	challenge(f, BROWSER, dt, nonce);
	return verify_obj(f, token_obj(s, nonce), BROWSER, dt, id);
}

/* ---- tests ---- */

/* Each algorithm logs in, giving the full identity. */
static void
test_success_algs(void **state)
{
	struct fixture *f = *state;
	struct {
		const char *alg;
		EVP_PKEY **key;
	} v[] = {
		{ "ES256", &ec_key },
		{ "RS256", &rsa_key },
		{ "PS256", &rsa_key },
		{ "SM2", &sm2_key },
	};
	struct gw_identity id;
	struct spec s;
	char unit[16], login_[16];
	int64_t op;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(unit, sizeof(unit), "U%zu", i);
		snprintf(login_, sizeof(login_), "op%zu", i);
		add_unit(f, unit, i % 2);
		op = add_operator(f, unit, login_);
		memset(&s, 0, sizeof(s));
		s.alg = v[i].alg;
		s.key = *v[i].key;
		s.cert = issue(f, unit, login_, s.key, 0, 0, NULL);
		memset(&id, 0x55, sizeof(id));
		snprintf(id.request_id, sizeof(id.request_id), "req-%zu", i);
		assert_int_equal(login(f, &s, 0, &id), 0);
		assert_string_equal(id.kind, GW_KIND_OPERATOR);
		assert_int_equal(id.principal_id, op);
		assert_string_equal(id.unit, unit);
		assert_string_equal(id.login, login_);
		assert_string_equal(id.name, "Zhang San");
		assert_string_equal(id.roles, "maker checker");
		assert_string_equal(id.method, "cert");
		assert_string_equal(id.scope, "full");
		assert_int_equal(id.unit_authorised, (int)(i % 2));
		assert_int_equal(id.cert_sig_at, f->now);
		snprintf(login_, sizeof(login_), "req-%zu", i);
		assert_string_equal(id.request_id, login_);
		/* "origin" equal to ours is fine too */
		s.origin_field = ORIGIN;
		assert_int_equal(login(f, &s, 0, NULL), 0);
		X509_free(s.cert);
	}
}

/* The result names the certificate. */
static void
test_result(void **state)
{
	struct fixture *f = *state;
	struct gw_authcert_result res;
	struct gw_identity id;
	struct spec s = { .alg = "ES256", .key = ec_key };
	char nonce[45], sha[65], *text;
	json_t *j;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	sha256_hex_der(s.cert, sha);
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	/* the nonce may come from the caller instead of the token */
	json_object_del(j, "nonce");
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(gw_authcert_verify_nonce(f->ac, f->st, BROWSER, nonce,
	                     text, strlen(text), f->now, &id, &res),
	    0);
	assert_int_equal(res.code, 0);
	assert_string_equal(res.sha256, sha);
	assert_non_null(strstr(res.subject, "CN=li"));
	/* without one anywhere: malformed */
	challenge(f, BROWSER, 0, nonce);
	assert_int_equal(gw_authcert_verify(f->ac, f->st, BROWSER, text,
	                     strlen(text), f->now, &id, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_AUTH_TOKEN_MALFORMED);
	free(text);
	json_decref(j);
	X509_free(s.cert);
}

/* Single use, bound to the browser, expiring. */
static void
test_challenge(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	char nonce[45], *text;
	json_t *j;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	/* replay */
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(verify_obj(f, json_incref(j), BROWSER, 0, NULL), 0);
	assert_int_equal(verify_obj(f, json_incref(j), BROWSER, 0, NULL),
	    UK_ERR_CHALLENGE_UNKNOWN);
	json_decref(j);
	free(text);
	/* another browser's nonce; taken all the same */
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	assert_int_equal(verify_obj(f, json_incref(j), "browser-2", 0, NULL),
	    UK_ERR_CHALLENGE_BROWSER);
	assert_int_equal(verify_obj(f, j, BROWSER, 0, NULL),
	    UK_ERR_CHALLENGE_UNKNOWN);
	/* expiry: 300 s inclusive */
	challenge(f, BROWSER, 0, nonce);
	assert_int_equal(verify_obj(f, token_obj(&s, nonce), BROWSER, 300,
	                     NULL),
	    0);
	challenge(f, BROWSER, 0, nonce);
	assert_int_equal(verify_obj(f, token_obj(&s, nonce), BROWSER, 301,
	                     NULL),
	    UK_ERR_CHALLENGE_UNKNOWN);
	/* a nonce never issued */
	assert_int_equal(
	    verify_obj(f,
	        token_obj(&s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
	        BROWSER, 0, NULL),
	    UK_ERR_CHALLENGE_UNKNOWN);
	/* no browser */
	assert_int_equal(gw_challenge_new(f->ac, f->st, "", f->now, nonce),
	    UK_ERR_INPUT);
	/* expired ones are swept now and then */
	for (int i = 0; i < 130; i++)
		challenge(f, BROWSER, -1000, nonce);
	for (int i = 0; i < 64; i++)
		challenge(f, BROWSER, 0, nonce);
	{
		struct store_res *res = NULL;

		assert_int_equal(store_exec(f->st, &res,
		                     "SELECT COUNT(*) FROM challenges", ""),
		    0);
		assert_true(store_res_int(res, 0, 0) <= 70);
		store_res_free(res);
	}
	X509_free(s.cert);
}

/* The origin the token names, and the origin the signature covers. */
static void
test_origin(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	s.signed_origin = EVIL;
	s.origin_field = EVIL;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_AUTH_TOKEN_ORIGIN);
	/* signed for another origin, saying nothing about it */
	s.origin_field = NULL;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_SIGNATURE_INVALID);
	/* claiming ours while signed for another */
	s.origin_field = ORIGIN;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_SIGNATURE_INVALID);
	/* another nonce signed */
	s.signed_origin = NULL;
	s.origin_field = NULL;
	s.nonce_signed = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_SIGNATURE_INVALID);
	/* another key */
	s.nonce_signed = NULL;
	s.key = ec_key2;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_SIGNATURE_INVALID);
	X509_free(s.cert);
}

/* SM2 signed with another distinguishing ID. */
static void
test_sm2_id(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "SM2", .key = sm2_key };

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", sm2_key, 0, 0, NULL);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	s.sm2_id = "ALICE123@YAHOO.COM";
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_SIGNATURE_INVALID);
	X509_free(s.cert);
}

/* Validity of the certificate at the verification time. */
static void
test_cert_time(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 1, 0, NULL);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	assert_int_equal(login(f, &s, 3 * 86400, NULL), UK_ERR_CERT_EXPIRED);
	assert_int_equal(login(f, &s, -3 * 86400, NULL),
	    UK_ERR_CERT_NOT_YET_VALID);
	X509_free(s.cert);
}

/* A revocation is seen by the very next login. */
static void
test_revoked(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	char serial[CA_SERIAL_HEX_MAX];

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, serial);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	assert_int_equal(ca_revoke(f->ca, serial, CA_REASON_KEY_COMPROMISE,
	                     "test", NULL),
	    0);
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_REVOKED);
	X509_free(s.cert);
	/* a certificate of our CA that the store does not know: fail closed
	 * (the CA certifies a revoked key no more) */
	s.key = ec_key2;
	s.cert = issue(f, "U", "li", ec_key2, 0, 0, serial);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	sql(f, "DELETE FROM certs WHERE serial = ?", "t", serial);
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_REVOCATION_UNKNOWN);
	X509_free(s.cert);
}

/* Trust, purpose and revocation of external certificates. */
static void
test_external(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	int64_t op;

	add_unit(f, "EXT", 0);
	op = add_operator(f, "EXT", "ext");
	bind(f, ext_good, op, 0);
	bind(f, ext_bad, op, 0);
	bind(f, ext_server, op, 0);
	s.cert = ext_good;
	assert_int_equal(login(f, &s, 0, NULL), 0);
	s.cert = ext_bad;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_REVOKED);
	s.cert = ext_server;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_PURPOSE);
	s.cert = other_leaf;
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_UNTRUSTED);
}

/* Bindings, operator status and the unit's agreement. */
static void
test_principal(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	struct gw_identity id;
	int64_t staff;
	struct store_res *res = NULL;

	add_unit(f, "U", 0);
	/* issued for an operator who is not registered */
	s.cert = issue(f, "U", "ghost", ec_key, 0, 0, NULL);
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_UNBOUND);
	X509_free(s.cert);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	sql(f, "UPDATE operators SET status = 'left' WHERE login_lc = ?", "t",
	    "li");
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_LOGIN_OPERATOR_LEFT);
	sql(f, "UPDATE operators SET status = 'disabled' WHERE login_lc = ?",
	    "t", "li");
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_LOGIN_DISABLED);
	sql(f, "UPDATE operators SET status = 'active' WHERE login_lc = ?", "t",
	    "li");
	sql(f, "UPDATE units SET agreement_at = NULL WHERE id = ?", "t", "U");
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_POLICY_AGREEMENT);
	X509_free(s.cert);
	/* staff log in with their own certificates */
	assert_int_equal(store_exec(f->st, NULL,
	                     "INSERT INTO staff (login, login_lc, name, roles, "
	                     "created_at) VALUES ('wang', 'wang', 'Wang Wu', "
	                     "'counter', ?)",
	                     "i", f->now),
	    0);
	assert_int_equal(store_exec(f->st, &res,
	                     "SELECT id FROM staff WHERE login_lc = 'wang'",
	                     ""),
	    0);
	staff = store_res_int(res, 0, 0);
	store_res_free(res);
	s.cert =
	    issue(f, "CENTRE", "staff-wang", ec_key, 0, CA_PROFILE_STAFF, NULL);
	bind(f, s.cert, 0, staff);
	assert_int_equal(login(f, &s, 0, &id), 0);
	assert_string_equal(id.kind, GW_KIND_STAFF);
	assert_int_equal(id.principal_id, staff);
	assert_string_equal(id.login, "wang");
	assert_string_equal(id.unit, "");
	assert_string_equal(id.roles, "counter");
	assert_string_equal(id.scope, "full");
	sql(f, "UPDATE staff SET status = 'disabled' WHERE login_lc = ?", "t",
	    "wang");
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_LOGIN_DISABLED);
	X509_free(s.cert);
}

/* Token structure: every refusal is a malformed token, the challenge is
 * used up. */
static void
test_malformed(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	struct spec rs = { .alg = "RS256", .key = rsa_key };
	struct gw_authcert_result res;
	struct gw_identity id;
	char nonce[45], *big, *text;
	const char *cb;
	json_t *j;
	size_t n;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	rs.cert = s.cert; /* an EC certificate with an RSA signature */
#define MAL(mutation)                                                          \
	do {                                                                   \
		challenge(f, BROWSER, 0, nonce);                               \
		j = token_obj(&s, nonce);                                      \
		mutation;                                                      \
		assert_int_equal(verify_obj(f, j, BROWSER, 0, NULL),           \
		    UK_ERR_AUTH_TOKEN_MALFORMED);                              \
	} while (0)
	MAL(json_object_set_new(j, "format", json_string("ukey-auth:1.1")));
	MAL(json_object_set_new(j, "format", json_string("UKEY-AUTH:1.0")));
	MAL(json_object_del(j, "format"));
	MAL(json_object_set_new(j, "algorithm", json_string("ES384")));
	MAL(json_object_set_new(j, "algorithm", json_string("es256")));
	MAL(json_object_set_new(j, "algorithm", json_integer(1)));
	MAL(json_object_set_new(j, "algorithm", json_string("RS256")));
	MAL(json_object_set_new(j, "algorithm", json_string("SM2")));
	MAL(json_object_set_new(j, "signature", json_string("AAAA AAAA")));
	MAL(json_object_set_new(j, "signature", json_string("AAA")));
	MAL(json_object_set_new(j, "signature", json_string("")));
	MAL(json_object_set_new(j, "unverifiedCertificate",
	    json_string("MIIB!!!!")));
	MAL(json_object_set_new(j, "unverifiedCertificate",
	    json_string("AAAA")));
	MAL(json_object_del(j, "unverifiedCertificate"));
	MAL(json_object_set_new(j, "origin", json_integer(5)));
	MAL({
		/* trailing bytes after the certificate */
		unsigned char *d = NULL;
		size_t dl;
		cb = json_string_value(
		    json_object_get(j, "unverifiedCertificate"));
		assert_int_equal(b64_decode(cb, 20000, 0, &d, &dl), 0);
		assert_non_null(d = realloc(d, dl + 3));
		memset(d + dl, 0, 3);
		text = b64_encode(d, dl + 3, 0);
		json_object_set_new(j, "unverifiedCertificate",
		    json_string(text));
		free(text);
		free(d);
	});
	/* a certificate over 8 KiB */
	MAL({
		unsigned char *d = calloc(1, 9000);
		text = b64_encode(d, 9000, 0);
		json_object_set_new(j, "unverifiedCertificate",
		    json_string(text));
		free(text);
		free(d);
	});
	/* the algorithm does not fit the key */
	challenge(f, BROWSER, 0, nonce);
	assert_int_equal(verify_obj(f, token_obj(&rs, nonce), BROWSER, 0, NULL),
	    UK_ERR_AUTH_TOKEN_MALFORMED);
	/* unknown members are ignored */
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	json_object_set_new(j, "extra", json_pack("{s:i}", "a", 1));
	assert_int_equal(verify_obj(f, j, BROWSER, 0, NULL), 0);
	/* oversized: over 16 KiB */
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	big = malloc(17000);
	memset(big, 'a', 16999);
	big[16999] = '\0';
	json_object_set_new(j, "pad", json_string(big));
	assert_int_equal(verify_obj(f, j, BROWSER, 0, NULL),
	    UK_ERR_AUTH_TOKEN_MALFORMED);
	free(big);
	/* not JSON, duplicate keys, not an object */
	{
		static const char *const bad[] = {
			"{",
			"[]",
			"null",
			"{\"format\":1,\"format\":2}",
			"{\"nonce\":\"x\"} trailing",
			"",
		};
		for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
			assert_int_equal(gw_authcert_verify(f->ac, f->st,
			                     BROWSER, bad[n], strlen(bad[n]),
			                     f->now, &id, &res),
			    0);
			assert_int_equal(res.code, UK_ERR_AUTH_TOKEN_MALFORMED);
		}
	}
	/* the challenge went with the malformed token */
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	json_object_set_new(j, "format", json_string("x"));
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(gw_authcert_verify(f->ac, f->st, BROWSER, text,
	                     strlen(text), f->now, &id, &res),
	    0);
	assert_int_equal(res.code, UK_ERR_AUTH_TOKEN_MALFORMED);
	json_object_set_new(j, "format", json_string("ukey-auth:1.0"));
	assert_int_equal(verify_obj(f, j, BROWSER, 0, NULL),
	    UK_ERR_CHALLENGE_UNKNOWN);
	free(text);
#undef MAL
	X509_free(s.cert);
}

/* The number of challenges of nonce in the store (0 or 1). */
static int64_t
challenges_of(struct fixture *f, const char *nonce)
{
	struct store_res *res = NULL;
	unsigned char md[32];
	char nh[65];
	int64_t n;

	EVP_Digest(nonce, strlen(nonce), md, NULL, EVP_sha256(), NULL);
	hex_encode(md, sizeof(md), nh);
	assert_int_equal(store_exec(f->st, &res,
	                     "SELECT COUNT(*) FROM challenges WHERE "
	                     "nonce_hash = ?",
	                     "t", nh),
	    0);
	n = store_res_int(res, 0, 0);
	store_res_free(res);
	return n;
}

/* The split login: the check reads the challenge, the take (in the
 * caller's durable transaction) uses it up, once. */
static void
test_check_take(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	struct gw_authcert_result r1, r2;
	struct gw_identity id1, id2;
	char nonce[45], *text;
	json_t *j;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	text = json_dumps(j, JSON_COMPACT);
	/* two posts of one token both pass the read-only checks ... */
	assert_int_equal(gw_authcert_check(f->ac, f->st, BROWSER, NULL, text,
	                     strlen(text), f->now, &id1, &r1),
	    0);
	assert_int_equal(r1.code, 0);
	assert_int_equal(strlen(r1.nonce_hash), 64);
	assert_int_equal(challenges_of(f, nonce), 1);
	assert_int_equal(gw_authcert_check(f->ac, f->st, BROWSER, NULL, text,
	                     strlen(text), f->now, &id2, &r2),
	    0);
	assert_int_equal(r2.code, 0);
	assert_string_equal(id1.login, "li");
	/* ... but only the first take wins */
	assert_int_equal(store_begin(f->st, STORE_TX_WRITE_GROUP), 0);
	assert_int_equal(gw_authcert_take(f->st, &r1), 0);
	assert_int_equal(r1.code, 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(challenges_of(f, nonce), 0);
	assert_int_equal(store_begin(f->st, STORE_TX_WRITE_GROUP), 0);
	assert_int_equal(gw_authcert_take(f->st, &r2), 0);
	assert_int_equal(r2.code, UK_ERR_CHALLENGE_UNKNOWN);
	store_rollback(f->st);
	/* a result that was not accepted cannot be taken */
	assert_int_equal(gw_authcert_take(f->st, &r2), UK_ERR_INTERNAL);
	/* and the token is now a replay for the checks too */
	assert_int_equal(gw_authcert_check(f->ac, f->st, BROWSER, NULL, text,
	                     strlen(text), f->now, &id1, &r1),
	    0);
	assert_int_equal(r1.code, UK_ERR_CHALLENGE_UNKNOWN);
	free(text);
	json_decref(j);
	/* a refused check burns its challenge: a wrong signature ... */
	challenge(f, BROWSER, 0, nonce);
	s.key = ec_key2;
	j = token_obj(&s, nonce);
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(gw_authcert_check(f->ac, f->st, BROWSER, NULL, text,
	                     strlen(text), f->now, &id1, &r1),
	    0);
	assert_int_equal(r1.code, UK_ERR_SIGNATURE_INVALID);
	assert_string_equal(r1.nonce_hash, "");
	assert_int_equal(challenges_of(f, nonce), 0);
	free(text);
	json_decref(j);
	/* ... and another browser's post */
	s.key = ec_key;
	challenge(f, BROWSER, 0, nonce);
	j = token_obj(&s, nonce);
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(gw_authcert_check(f->ac, f->st, "browser-2", NULL,
	                     text, strlen(text), f->now, &id1, &r1),
	    0);
	assert_int_equal(r1.code, UK_ERR_CHALLENGE_BROWSER);
	assert_int_equal(challenges_of(f, nonce), 0);
	free(text);
	json_decref(j);
	X509_free(s.cert);
}

/* Concurrent posts of one token, each on its own connection as the
 * gateway's threads: exactly one login. */
struct racer {
	struct fixture *f;
	const char *text;
	pthread_barrier_t *bar;
	int won;  /* 1: took the challenge and committed */
	int fail; /* an unexpected error */
};

static void *
race(void *arg)
{
	struct racer *rc = arg;
	struct gw_authcert_result res;
	struct gw_identity id;
	struct store *st = NULL;
	int r;

	if (store_open(rc->f->db.loc, &st) != 0) {
		rc->fail = 1;
		pthread_barrier_wait(rc->bar);
		return NULL;
	}
	pthread_barrier_wait(rc->bar);
	r = gw_authcert_check(rc->f->ac, st, BROWSER, NULL, rc->text,
	    strlen(rc->text), rc->f->now, &id, &res);
	if (r != 0)
		rc->fail = 1;
	else if (res.code == 0) {
		if (store_begin(st, STORE_TX_WRITE_GROUP) != 0 ||
		    gw_authcert_take(st, &res) != 0)
			rc->fail = 1;
		else if (res.code == 0 && store_commit(st) == 0)
			rc->won = 1;
		store_rollback(st);
		if (!rc->won && res.code != UK_ERR_CHALLENGE_UNKNOWN)
			rc->fail = 1;
	} else if (res.code != UK_ERR_CHALLENGE_UNKNOWN) {
		rc->fail = 1;
	}
	store_close(st);
	return NULL;
}

static void
test_replay_race(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	enum { RACERS = 4, ROUNDS = 10 };
	struct racer rc[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t bar;
	char nonce[45], *text;
	int round, i, won;
	json_t *j;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, NULL);
	for (round = 0; round < ROUNDS; round++) {
		challenge(f, BROWSER, 0, nonce);
		j = token_obj(&s, nonce);
		text = json_dumps(j, JSON_COMPACT);
		assert_int_equal(pthread_barrier_init(&bar, NULL, RACERS), 0);
		for (i = 0; i < RACERS; i++) {
			memset(&rc[i], 0, sizeof(rc[i]));
			rc[i].f = f;
			rc[i].text = text;
			rc[i].bar = &bar;
			assert_int_equal(pthread_create(&th[i], NULL, race,
			                     &rc[i]),
			    0);
		}
		for (won = 0, i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			assert_false(rc[i].fail);
			won += rc[i].won;
		}
		pthread_barrier_destroy(&bar);
		assert_int_equal(won, 1);
		assert_int_equal(challenges_of(f, nonce), 0);
		free(text);
		json_decref(j);
	}
	X509_free(s.cert);
}

/* The parsed-certificate cache: a certificate seen again is a hit; a
 * revocation after it was cached is still seen; SM2 is never kept. */
static void
test_certcache(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "ES256", .key = ec_key };
	struct spec sm = { .alg = "SM2", .key = sm2_key };
	char serial[CA_SERIAL_HEX_MAX];
	uint64_t h0, m0, h1, m1;
	size_t e0, e1;

	add_unit(f, "U", 0);
	add_operator(f, "U", "li");
	s.cert = issue(f, "U", "li", ec_key, 0, 0, serial);
	gw_authcert_cache_stats(f->ac, &h0, &m0, &e0);
	assert_int_equal(login(f, &s, 0, NULL), 0);
	gw_authcert_cache_stats(f->ac, &h1, &m1, &e1);
	assert_int_equal(h1, h0);
	assert_int_equal(m1, m0 + 1);
	assert_int_equal(e1, e0 + 1);
	/* the same certificate again: parsed no more */
	assert_int_equal(login(f, &s, 0, NULL), 0);
	gw_authcert_cache_stats(f->ac, &h1, &m1, &e1);
	assert_int_equal(h1, h0 + 1);
	assert_int_equal(m1, m0 + 1);
	assert_int_equal(e1, e0 + 1);
	/* revoked once cached: a hit, and refused */
	assert_int_equal(ca_revoke(f->ca, serial, CA_REASON_KEY_COMPROMISE,
	                     "test", NULL),
	    0);
	assert_int_equal(login(f, &s, 0, NULL), UK_ERR_CERT_REVOKED);
	gw_authcert_cache_stats(f->ac, &h1, NULL, NULL);
	assert_int_equal(h1, h0 + 2);
	X509_free(s.cert);
	/* SM2: never kept, so never a hit */
	add_operator(f, "U", "sm");
	sm.cert = issue(f, "U", "sm", sm2_key, 0, 0, NULL);
	gw_authcert_cache_stats(f->ac, &h0, &m0, &e0);
	assert_int_equal(login(f, &sm, 0, NULL), 0);
	assert_int_equal(login(f, &sm, 0, NULL), 0);
	gw_authcert_cache_stats(f->ac, &h1, &m1, &e1);
	assert_int_equal(h1, h0);
	assert_int_equal(m1, m0 + 2);
	assert_int_equal(e1, e0);
	X509_free(sm.cert);
	gw_authcert_cache_stats(NULL, &h1, &m1, &e1);
	assert_int_equal(h1 + m1 + e1, 0);
}

/* gw_authtoken_parse alone, and the configuration. */
static void
test_parse(void **state)
{
	struct fixture *f = *state;
	struct spec s = { .alg = "SM2", .key = sm2_key };
	struct gw_authtoken t;
	struct gw_authcert_conf conf;
	struct gw_authcert *ac = NULL;
	const char *none[] = { "/nonexistent/anchor.pem", NULL };
	unsigned char tbs[64], want[64];
	char *text;
	json_t *j;

	s.cert = issue(f, "U", "li", sm2_key, 0, 0, NULL);
	j = token_obj(&s, "nonce-text");
	json_object_set_new(j, "origin", json_string(ORIGIN));
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(gw_authtoken_parse(text, strlen(text), &t), 0);
	assert_string_equal(t.alg, "SM2");
	assert_int_equal(t.sig_len, 64);
	assert_true(t.has_origin);
	assert_string_equal(t.origin, ORIGIN);
	assert_true(t.has_nonce);
	assert_string_equal(t.nonce, "nonce-text");
	assert_int_equal(X509_cmp(t.cert, s.cert), 0);
	gw_authtoken_clear(&t);
	gw_authtoken_clear(NULL);
	assert_int_equal(gw_authtoken_parse(text, strlen(text) - 1, &t),
	    UK_ERR_AUTH_TOKEN_MALFORMED);
	assert_null(t.cert);
	free(text);
	json_decref(j);
	/* the signed value */
	assert_int_equal(gw_authcert_tbs("ES256", ORIGIN, "n", tbs), 0);
	hash2("ES256", ORIGIN, "n", want);
	assert_memory_equal(tbs, want, 64);
	assert_int_equal(gw_authcert_tbs("SM2", ORIGIN, "n", tbs), 0);
	hash2("SM2", ORIGIN, "n", want);
	assert_memory_equal(tbs, want, 64);
	/* configuration */
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(gw_authcert_new(f->st, &conf, &ac),
	    UK_ERR_CONFIG_VALUE);
	conf.origin = ORIGIN;
	conf.anchors = none;
	assert_int_equal(gw_authcert_new(f->st, &conf, &ac),
	    UK_ERR_CONFIG_VALUE);
	assert_null(ac);
	conf.anchors = NULL;
	assert_int_equal(gw_authcert_new(NULL, &conf, &ac), 0);
	gw_authcert_free(ac);
	gw_authcert_free(NULL);
	X509_free(s.cert);
}

int
main(void)
{
	char err[512];
	int r, pg;

#define LITE(t)                                                                \
	cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown,     \
	    &fx_sqlite)
#define PG(t)                                                                  \
	cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown,     \
	    &fx_pg)
	const struct CMUnitTest tests[] = {
		LITE(test_success_algs),
		LITE(test_result),
		LITE(test_challenge),
		LITE(test_origin),
		LITE(test_sm2_id),
		LITE(test_cert_time),
		LITE(test_revoked),
		LITE(test_external),
		LITE(test_principal),
		LITE(test_malformed),
		LITE(test_check_take),
		LITE(test_replay_race),
		LITE(test_certcache),
		LITE(test_parse),
	};
	const struct CMUnitTest pg_tests[] = {
		PG(test_success_algs),
		PG(test_result),
		PG(test_challenge),
		PG(test_origin),
		PG(test_sm2_id),
		PG(test_cert_time),
		PG(test_revoked),
		PG(test_external),
		PG(test_principal),
		PG(test_malformed),
		PG(test_check_take),
		PG(test_replay_race),
		PG(test_certcache),
	};

	if (testdb_tmpdir("test_authcert", tmpdir, sizeof(tmpdir)) != 0)
		return 1;
	pg = testdb_pg_connect(err, sizeof(err)) == 0;
	ec_key = gen("EC", "P-256", 0);
	ec_key2 = gen("EC", "P-256", 0);
	rsa_key = gen("RSA", NULL, 2048);
	sm2_key = gen("SM2", NULL, 0);
	make_external();
	r = cmocka_run_group_tests_name("authcert", tests, NULL, NULL);
	if (pg)
		r |= cmocka_run_group_tests_name("authcert-postgresql",
		    pg_tests, NULL, NULL);
	else
		printf("# %s\n", err);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ec_key2);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(sm2_key);
	EVP_PKEY_free(ext_ca_key);
	EVP_PKEY_free(other_ca_key);
	X509_free(ext_ca);
	X509_free(ext_good);
	X509_free(ext_bad);
	X509_free(ext_server);
	X509_free(other_ca);
	X509_free(other_leaf);
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}
