/* tests/unit/certs/test_ca.c: the CA library on SQLite and PostgreSQL: init, profiles, unit limit, revoke, reissue, CRL. */
#include <sys/stat.h>
#include <sys/wait.h>

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
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca.h"
#include "certs/csr.h"
#include "common/audit.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "tests/lib/testdb.h"

#define CRL_URL "http://ca.test/crl/issuing.crl"
#define OCSP_URL "http://ca.test/ocsp"

struct fixture {
	enum store_backend kind;
	struct testdb db;
	struct store *st;
	struct ca *ca;
	struct secret *pass;
	struct secret *opass; /* the OCSP signer key's own passphrase */
	struct ca_config cfg;
};

static char tmpdir[256];
static EVP_PKEY *leaf_key; /* one P-256 key certified many times */

static struct fixture fx_sqlite = { .kind = STORE_SQLITE };
static struct fixture fx_pg = { .kind = STORE_POSTGRES };

/* A fresh store and a new CA in it, unlocked. */
static int
fx_setup(void **state)
{
	struct fixture *f = *state;
	char err[512], key[1100];
	struct ca_init_params p;

	f->st = NULL;
	f->ca = NULL;
	testdb_new(&f->db, f->kind, tmpdir, "ca");
	if (store_open(f->db.loc, &f->st) != 0)
		return -1;
	f->pass = secret_from("test passphrase", 15);
	f->opass = secret_from("ocsp passphrase", 15);
	ca_config_init(&f->cfg);
	f->cfg.crl_url = CRL_URL;
	f->cfg.ocsp_url = OCSP_URL;
	f->cfg.crl_next_update_secs = 7200;
	memset(&p, 0, sizeof(p));
	snprintf(key, sizeof(key), "%s/ca.key", f->db.dir);
	p.name = "Test CA";
	p.key_file = key;
	p.pass = f->pass;
	p.ocsp_pass = f->opass;
	p.actor = "test";
	if (ca_init(f->st, &f->cfg, &p, &f->ca, err, sizeof(err)) != 0) {
		print_message("# ca_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fixture *f = *state;

	ca_free(f->ca);
	f->ca = NULL;
	store_close(f->st);
	f->st = NULL;
	secret_free(f->pass);
	f->pass = NULL;
	secret_free(f->opass);
	f->opass = NULL;
	return testdb_drop(&f->db);
}

/* A new P-256 key (caller frees). */
static EVP_PKEY *
new_key(void)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(kctx);
	assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_group_name(kctx, "P-256"), 1);
	assert_int_equal(EVP_PKEY_keygen(kctx, &k), 1);
	EVP_PKEY_CTX_free(kctx);
	return k;
}

static int
issue_with(struct fixture *f, const char *unit, EVP_PKEY *k,
    struct ca_issued *out)
{
	struct ca_issue_req req;

	memset(&req, 0, sizeof(req));
	req.unit = unit;
	req.operator= "op-1";
	req.actor = "test";
	return ca_issue_key(f->ca, k, NULL, &req, out);
}

static int
issue(struct fixture *f, const char *unit, struct ca_issued *out)
{
	return issue_with(f, unit, leaf_key, out);
}

/* Verifies x against the CA's chain for client authentication. */
static int
chain_ok(struct fixture *f, X509 *x)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *un = sk_X509_new_null();
	int ok;

	X509_STORE_add_cert(store, ca_root_cert(f->ca));
	sk_X509_push(un, ca_issuing_cert(f->ca));
	X509_STORE_CTX_init(ctx, store, x, un);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("# verify: %s\n",
		    X509_verify_cert_error_string(
		        X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	sk_X509_free(un);
	X509_STORE_free(store);
	return ok == 1;
}

static int64_t
count(struct fixture *f, const char *sql)
{
	struct store_res *res = NULL;
	int64_t n;

	assert_int_equal(store_exec(f->st, &res, sql, ""), 0);
	n = store_res_int(res, 0, 0);
	store_res_free(res);
	return n;
}

/* ---- tests ---- */

static void
test_init_files(void **state)
{
	struct fixture *f = *state;
	struct ca_init_params p;
	struct store *st2 = NULL;
	char path[1200], err[512], loc[1200];
	unsigned char buf[64];
	struct stat sb;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ca.key", f->db.dir);
	assert_string_equal(ca_key_ref(f->ca), path);
	assert_int_equal(ca_key_on_token(f->ca), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/ca.key%s", f->db.dir,
		    i == 0       ? ""
		        : i == 1 ? ".root"
		                 : ".ocsp");
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		assert_non_null(fp = fopen(path, "r"));
		assert_true(fread(buf, 1, 37, fp) == 37);
		fclose(fp);
		assert_memory_equal(buf,
		    "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37);
	}
	/* A second init in the same store is refused. */
	memset(&p, 0, sizeof(p));
	snprintf(path, sizeof(path), "%s/other.key", f->db.dir);
	p.name = "Again";
	p.key_file = path;
	p.pass = f->pass;
	p.ocsp_pass = f->opass;
	assert_int_equal(ca_init(f->st, NULL, &p, NULL, err, sizeof(err)),
	    UK_ERR_CA_EXISTS);
	assert_int_not_equal(stat(path, &sb), 0);
	/* Existing key files are never overwritten; nothing is stored. */
	snprintf(loc, sizeof(loc), "%s/db2.sqlite", f->db.dir);
	assert_int_equal(store_open(loc, &st2), 0);
	snprintf(path, sizeof(path), "%s/ca.key", f->db.dir);
	p.key_file = path;
	assert_int_equal(ca_init(st2, NULL, &p, NULL, err, sizeof(err)),
	    UK_ERR_EXISTS);
	{
		struct ca *c2 = NULL;

		assert_int_equal(ca_open(st2, &c2), UK_ERR_CA_NOT_INITIALISED);
	}
	/* The OCSP key needs a passphrase of its own, not the CA's. */
	snprintf(path, sizeof(path), "%s/own.key", f->db.dir);
	p.key_file = path;
	p.ocsp_pass = NULL;
	assert_int_equal(ca_init(st2, NULL, &p, NULL, err, sizeof(err)),
	    UK_ERR_USAGE);
	p.ocsp_pass = f->pass;
	assert_int_equal(ca_init(st2, NULL, &p, NULL, err, sizeof(err)),
	    UK_ERR_USAGE);
	assert_non_null(strstr(err, "differ"));
	assert_int_not_equal(stat(path, &sb), 0);
	p.ocsp_pass = f->opass;
	/* Short passphrases are refused. */
	{
		struct secret *shortpw = secret_from("1234567", 7);

		snprintf(path, sizeof(path), "%s/short.key", f->db.dir);
		p.key_file = path;
		p.pass = shortpw;
		assert_int_equal(ca_init(st2, NULL, &p, NULL, err, sizeof(err)),
		    UK_ERR_USAGE);
		assert_int_not_equal(stat(path, &sb), 0);
		p.pass = f->pass;
		secret_free(shortpw);
	}
	/* SM2 keys are not generated on tokens. */
	p.key_file = NULL;
	p.pkcs11_uri = "pkcs11:token=x;object=y?module-path=/nonexistent.so";
	p.key_type = CA_KEY_SM2;
	assert_int_equal(ca_init(st2, NULL, &p, NULL, err, sizeof(err)),
	    UK_ERR_CA_KEY_TYPE);
	store_close(st2);
	unlink(loc);
	snprintf(loc, sizeof(loc), "%s/db2.sqlite-wal", f->db.dir);
	unlink(loc);
	snprintf(loc, sizeof(loc), "%s/db2.sqlite-shm", f->db.dir);
	unlink(loc);
}

static void
test_ca_certs(void **state)
{
	struct fixture *f = *state;
	X509 *root = ca_root_cert(f->ca), *iss = ca_issuing_cert(f->ca);
	X509 *ocsp = ca_ocsp_cert(f->ca);
	BASIC_CONSTRAINTS *bc;
	EXTENDED_KEY_USAGE *eku;
	int crit = -1;

	assert_non_null(root);
	assert_non_null(iss);
	assert_non_null(ocsp);
	assert_int_equal(X509_check_issued(root, root), X509_V_OK);
	assert_int_equal(X509_verify(root, X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_verify(iss, X509_get0_pubkey(root)), 1);
	assert_int_equal(X509_verify(ocsp, X509_get0_pubkey(iss)), 1);
	bc = X509_get_ext_d2i(iss, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(iss) & KU_KEY_CERT_SIGN);
	assert_true(X509_get_key_usage(iss) & KU_CRL_SIGN);
	/* The OCSP signer. */
	eku = X509_get_ext_d2i(ocsp, NID_ext_key_usage, NULL, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
	    NID_OCSP_sign);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	assert_true(
	    X509_get_ext_by_NID(ocsp, NID_id_pkix_OCSP_noCheck, -1) >= 0);
	assert_true(X509_get_ext_by_NID(ocsp, NID_info_access, -1) < 0);
	assert_int_equal(X509_check_ca(ocsp), 0);
	/* Root 20 years, issuing 10 years. */
	{
		int days = 0, secs = 0;

		assert_true(ASN1_TIME_diff(&days, &secs,
		    X509_get0_notBefore(root), X509_get0_notAfter(root)));
		assert_true(days >= 20 * 365 && days <= 20 * 365 + 6);
		assert_true(ASN1_TIME_diff(&days, &secs,
		    X509_get0_notBefore(iss), X509_get0_notAfter(iss)));
		assert_true(days >= 10 * 365 && days <= 10 * 365 + 4);
	}
	/* The signer is in the certs table, bound to no unit. */
	assert_int_equal(count(f,
	                     "SELECT COUNT(*) FROM certs WHERE profile = 'ocsp'"
	                     " AND unit_id IS NULL AND status = 'active'"),
	    1);
	assert_int_equal(audit_verify_chain(f->st, NULL), 0);
}

static void
test_issue_profile(void **state)
{
	struct fixture *f = *state;
	struct ca_issued is;
	struct ca_cert_info *info = NULL;
	const ASN1_INTEGER *sn;
	EXTENDED_KEY_USAGE *eku;
	STACK_OF(DIST_POINT) * cdp;
	AUTHORITY_INFO_ACCESS *aia;
	ASN1_BIT_STRING *ku;
	unsigned char md[32], *der = NULL;
	char hex[65];
	int crit = -1, len, days = 0, secs = 0;

	assert_int_equal(issue(f, "U001", &is), 0);
	assert_true(chain_ok(f, is.cert));
	assert_int_equal(X509_get_version(is.cert), X509_VERSION_3);
	sn = X509_get0_serialNumber(is.cert);
	assert_int_equal(sn->length, 16);
	assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
	assert_int_equal(strlen(is.serial), 32);
	ku = X509_get_ext_d2i(is.cert, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	assert_int_equal(X509_get_key_usage(is.cert), KU_DIGITAL_SIGNATURE);
	ASN1_BIT_STRING_free(ku);
	eku = X509_get_ext_d2i(is.cert, NID_ext_key_usage, NULL, NULL);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
	    NID_client_auth);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	assert_int_equal(X509_check_ca(is.cert), 0);
	cdp =
	    X509_get_ext_d2i(is.cert, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	{
		GENERAL_NAME *gn =
		    sk_GENERAL_NAME_value(sk_DIST_POINT_value(cdp, 0)
		                              ->distpoint->name.fullname,
		        0);

		assert_string_equal((const char *)ASN1_STRING_get0_data(
		                        gn->d.uniformResourceIdentifier),
		    CRL_URL);
	}
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	aia = X509_get_ext_d2i(is.cert, NID_info_access, NULL, NULL);
	assert_non_null(aia);
	assert_int_equal(OBJ_obj2nid(
	                     sk_ACCESS_DESCRIPTION_value(aia, 0)->method),
	    NID_ad_OCSP);
	AUTHORITY_INFO_ACCESS_free(aia);
	assert_non_null(X509_get0_subject_key_id(is.cert));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(
	                                           is.cert),
	                     X509_get0_subject_key_id(ca_issuing_cert(f->ca))),
	    0);
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(is.cert),
	    X509_get0_notAfter(is.cert)));
	assert_true(days == 365);
	/* The row. */
	assert_int_equal(ca_show(f->ca, is.serial, &info), 0);
	assert_string_equal(info->unit_id, "U001");
	assert_string_equal(info->operator, "op-1");
	assert_string_equal(info->profile, "operator");
	assert_string_equal(info->status, "active");
	assert_string_equal(info->key_type, "ec");
	assert_string_equal(info->subject, "OU=U001,CN=op-1");
	len = i2d_X509(is.cert, &der);
	assert_int_equal((size_t)len, info->der_len);
	assert_memory_equal(der, info->der, info->der_len);
	EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(info->sha256, hex);
	assert_int_equal(info->not_after, is.not_after);
	OPENSSL_free(der);
	ca_cert_info_free(info, 1);
	/* Lower-case and colons find it too. */
	{
		char lc[80];
		size_t i, j = 0;

		for (i = 0; is.serial[i]; i++) {
			if (i > 0 && i % 2 == 0)
				lc[j++] = ':';
			lc[j++] = (char)(is.serial[i] >= 'A' ? is.serial[i] + 32
			                                     : is.serial[i]);
		}
		lc[j] = '\0';
		assert_int_equal(ca_show(f->ca, lc, &info), 0);
		ca_cert_info_free(info, 1);
	}
	assert_int_equal(audit_verify_chain(f->st, NULL), 0);
	assert_int_equal(count(f,
	                     "SELECT COUNT(*) FROM audit WHERE event ="
	                     " 'cert.issue'"),
	    1);
	ca_issued_clear(&is);
}

static void
test_csr_extensions_ignored(void **state)
{
	struct fixture *f = *state;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	struct ca_issue_req ir;
	struct ca_issued is;
	struct ca_csr *csr = NULL;
	unsigned char *der = NULL;
	char err[256];
	int len;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"李四", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8,
	    (const unsigned char *)"Wuhan", -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, leaf_key);
	sk_X509_EXTENSION_push(exts,
	    X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
	        "serverAuth,codeSigning"));
	sk_X509_EXTENSION_push(exts,
	    X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	        "DNS:evil.example"));
	X509_REQ_add_extensions(req, exts);
	X509_REQ_sign(req, leaf_key, EVP_sha256());
	len = i2d_X509_REQ(req, &der);
	assert_int_equal(ca_csr_parse(der, (size_t)len, 2048, &csr, err,
	                     sizeof(err)),
	    0);
	memset(&ir, 0, sizeof(ir));
	ir.unit = "U-ext";
	ir.operator= "lisi";
	assert_int_equal(ca_issue(f->ca, csr, &ir, &is), 0);
	assert_true(X509_get_ext_by_NID(is.cert, NID_subject_alt_name, -1) < 0);
	assert_int_equal(X509_get_extended_key_usage(is.cert), XKU_SSL_CLIENT);
	assert_true(X509_NAME_get_index_by_NID(X509_get_subject_name(is.cert),
	                NID_localityName, -1) < 0);
	ca_issued_clear(&is);
	ca_csr_free(csr);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(req);
}

static void
test_unit_limit(void **state)
{
	struct fixture *f = *state;
	struct ca_issued a, b, c;

	assert_int_equal(issue(f, "U002", &a), 0);
	assert_int_equal(issue(f, "U002", &b), 0);
	assert_int_equal(issue(f, "U002", &c), UK_ERR_UNIT_CERT_LIMIT);
	assert_null(c.cert);
	assert_int_equal(count(f,
	                     "SELECT COUNT(*) FROM certs WHERE unit_id ="
	                     " 'U002'"),
	    2);
	/* Other units are not affected. */
	assert_int_equal(issue(f, "U003", &c), 0);
	ca_issued_clear(&c);
	/* Revoking one frees a place. */
	assert_int_equal(ca_revoke(f->ca, a.serial, CA_REASON_KEY_COMPROMISE,
	                     "test", NULL),
	    0);
	/* ... but never for the revoked key, in any unit. */
	assert_int_equal(issue(f, "U002", &c), UK_ERR_CSR_KEY);
	assert_non_null(strstr(ca_errmsg(f->ca),
	    "this key was revoked; generate a new key on the UKey"));
	assert_null(c.cert);
	{
		EVP_PKEY *k2 = new_key();

		assert_int_equal(issue_with(f, "U002", k2, &c), 0);
		ca_issued_clear(&c);
		assert_int_equal(issue_with(f, "U002", k2, &c),
		    UK_ERR_UNIT_CERT_LIMIT);
		EVP_PKEY_free(k2);
	}
	/* Bad requests. */
	{
		struct ca_issue_req req;

		memset(&req, 0, sizeof(req));
		req.unit = "";
		req.operator= "x";
		assert_int_equal(ca_issue_key(f->ca, leaf_key, NULL, &req, &c),
		    UK_ERR_USAGE);
		req.unit = "U\n1";
		assert_int_equal(ca_issue_key(f->ca, leaf_key, NULL, &req, &c),
		    UK_ERR_USAGE);
		req.unit = "U1";
		req.days = 5000;
		assert_int_equal(ca_issue_key(f->ca, leaf_key, NULL, &req, &c),
		    UK_ERR_USAGE);
	}
	ca_issued_clear(&a);
	ca_issued_clear(&b);
}

/* Expired certificates do not count toward the two-per-unit limit. */
static void
test_unit_limit_expired(void **state)
{
	struct fixture *f = *state;
	struct ca_issued a, b, c;

	assert_int_equal(issue(f, "U010", &a), 0);
	assert_int_equal(issue(f, "U010", &b), 0);
	/* Both still valid: a third is refused. */
	assert_int_equal(issue(f, "U010", &c), UK_ERR_UNIT_CERT_LIMIT);
	assert_null(c.cert);
	assert_int_equal(store_exec(f->st, NULL,
	                     "UPDATE certs SET not_after = ? WHERE unit_id = ?",
	                     "it", (int64_t)(time(NULL) - 3600), "U010"),
	    0);
	assert_int_equal(store_changes(f->st), 2);
	assert_int_equal(issue(f, "U010", &c), 0);
	assert_non_null(c.cert);
	ca_issued_clear(&c);
	ca_issued_clear(&a);
	ca_issued_clear(&b);
}

/* Waits up to ms milliseconds for pid; returns 1 when it ended (status in
 * *st), 0 when it is still running. */
static int
wait_ms(pid_t pid, int ms, int *st)
{
	struct timespec ts = { 0, 10 * 1000000L };
	int i;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 1;
		nanosleep(&ts, NULL);
	}
	return waitpid(pid, st, WNOHANG) == pid;
}

/*
 * The unit lock: while one connection holds a write transaction with the
 * unit row locked exactly as issue_in_tx does, an issue for that unit on
 * another connection (another process) waits; it completes once the lock
 * is released. Fails if BEGIN IMMEDIATE (SQLite) or FOR UPDATE (PostgreSQL)
 * were dropped: the child would finish at once.
 */
static void
test_unit_lock(void **state)
{
	struct fixture *f = *state;
	struct ca_issued a;
	pid_t pid;
	int st = 0, ready[2], go[2];
	char ch;

	/* The unit row exists from the first issue. */
	assert_int_equal(issue(f, "U020", &a), 0);
	ca_issued_clear(&a);
	/* The child opens its own connection first (opening migrates, which
	 * needs the write lock on SQLite), then waits for "go". */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st2 = NULL;
		struct ca *ca2 = NULL;
		struct ca_issue_req req;
		struct ca_issued out;
		char c;
		int r;

		close(ready[0]);
		close(go[1]);
		if (store_open(f->db.loc, &st2) != 0 ||
		    ca_open(st2, &ca2) != 0 || ca_unlock(ca2, f->pass) != 0)
			_exit(100);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(101);
		memset(&req, 0, sizeof(req));
		req.unit = "U020";
		req.operator= "op-2";
		req.actor = "child";
		r = ca_issue_key(ca2, leaf_key, NULL, &req, &out);
		ca_issued_clear(&out);
		ca_free(ca2);
		store_close(st2);
		_exit(r == 0 ? 0 : (r & 0x7f) + 1);
	}
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	assert_int_equal(store_begin(f->st, STORE_TX_WRITE), 0);
	assert_int_equal(store_exec(f->st, NULL,
	                     "SELECT id FROM units WHERE id = ? FOR UPDATE",
	                     "t", "U020"),
	    0);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(ready[0]);
	close(go[1]);
	/* Still waiting for the lock after 300 ms. */
	if (wait_ms(pid, 300, &st)) {
		store_rollback(f->st);
		fail_msg("the issue did not wait for the unit lock (status %d)",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	store_rollback(f->st);
	/* Released: the child completes. */
	assert_true(wait_ms(pid, 20000, &st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(count(f,
	                     "SELECT COUNT(*) FROM certs WHERE unit_id ="
	                     " 'U020' AND status = 'active'"),
	    2);
}

static void
test_revoke(void **state)
{
	struct fixture *f = *state;
	struct ca_issued a;
	struct ca_cert_info *info = NULL;
	char ev[33];

	assert_int_equal(issue(f, "U004", &a), 0);
	assert_int_equal(ca_revoke(f->ca, "0102030405", CA_REASON_SUPERSEDED,
	                     "test", NULL),
	    UK_ERR_CERT_NOT_FOUND);
	assert_int_equal(ca_revoke(f->ca, "zz", CA_REASON_SUPERSEDED, "test",
	                     NULL),
	    UK_ERR_INPUT);
	assert_int_equal(ca_revoke(f->ca, a.serial, 6, "test", NULL),
	    UK_ERR_CA_REASON);
	assert_int_equal(ca_revoke(f->ca, a.serial, CA_REASON_CESSATION, "test",
	                     ev),
	    0);
	assert_int_equal(strlen(ev), 32);
	assert_int_equal(ca_revoke(f->ca, a.serial, CA_REASON_CESSATION, "test",
	                     NULL),
	    UK_ERR_CERT_ALREADY_REVOKED);
	assert_int_equal(ca_show(f->ca, a.serial, &info), 0);
	assert_string_equal(info->status, "revoked");
	assert_int_equal(info->reason, CA_REASON_CESSATION);
	assert_true(info->revoked_at > 0);
	ca_cert_info_free(info, 1);
	assert_int_equal(audit_verify_chain(f->st, NULL), 0);
	ca_issued_clear(&a);
}

static struct ca_csr *
csr_for(EVP_PKEY *k, const char *cn)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	struct ca_csr *csr = NULL;
	unsigned char *der = NULL;
	char err[256];
	int len;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, k);
	X509_REQ_sign(req, k, EVP_sha256());
	len = i2d_X509_REQ(req, &der);
	assert_int_equal(ca_csr_parse(der, (size_t)len, 2048, &csr, err,
	                     sizeof(err)),
	    0);
	OPENSSL_free(der);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return csr;
}

static void
test_reissue(void **state)
{
	struct fixture *f = *state;
	struct ca_issued a, b, c;
	struct ca_cert_info *info = NULL;
	struct ca_csr *csr = csr_for(leaf_key, "Wang Wu");

	assert_int_equal(issue(f, "U005", &a), 0);
	assert_int_equal(issue(f, "U005", &b), 0);
	/* At the limit: the reissue revokes first, in the same transaction. */
	assert_int_equal(ca_reissue(f->ca, a.serial, csr, "test", &c), 0);
	assert_true(chain_ok(f, c.cert));
	assert_int_equal(ca_show(f->ca, a.serial, &info), 0);
	assert_string_equal(info->status, "revoked");
	assert_int_equal(info->reason, CA_REASON_SUPERSEDED);
	ca_cert_info_free(info, 1);
	assert_int_equal(ca_show(f->ca, c.serial, &info), 0);
	assert_string_equal(info->status, "active");
	assert_string_equal(info->unit_id, "U005");
	assert_string_equal(info->operator, "op-1");
	assert_string_equal(info->replaces, a.serial);
	assert_string_equal(info->subject, "CN=Wang Wu");
	ca_cert_info_free(info, 1);
	/* Twice: refused, and nothing changed. */
	ca_issued_clear(&c);
	assert_int_equal(ca_reissue(f->ca, a.serial, csr, "test", &c),
	    UK_ERR_CERT_ALREADY_REVOKED);
	assert_int_equal(ca_reissue(f->ca, "0A0B", csr, "test", &c),
	    UK_ERR_CERT_NOT_FOUND);
	assert_int_equal(count(f,
	                     "SELECT COUNT(*) FROM certs WHERE unit_id ="
	                     " 'U005' AND status = 'active'"),
	    2);
	/* The CA's own OCSP signer belongs to no operator. */
	{
		char sn[CA_SERIAL_HEX_MAX];
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(
		                                    ca_ocsp_cert(f->ca)),
		    NULL);
		char *h = BN_bn2hex(bn);

		snprintf(sn, sizeof(sn), "%s", h);
		assert_int_equal(ca_reissue(f->ca, sn, csr, "test", &c),
		    UK_ERR_USAGE);
		OPENSSL_free(h);
		BN_free(bn);
	}
	ca_csr_free(csr);
	/* A request whose subject keeps nothing gets CN=operator, OU=unit
	 * (a new key: leaf_key was revoked with a). */
	{
		EVP_PKEY *k2 = new_key();
		struct store_res *res = NULL;
		char ds[CA_SERIAL_HEX_MAX];
		X509_REQ *req = X509_REQ_new();
		X509_NAME *n = X509_NAME_new();
		unsigned char *der = NULL;
		char err[256];
		int len;

		X509_NAME_add_entry_by_txt(n, "L", MBSTRING_UTF8,
		    (const unsigned char *)"Wuhan", -1, -1, 0);
		X509_REQ_set_subject_name(req, n);
		X509_REQ_set_pubkey(req, k2);
		X509_REQ_sign(req, k2, EVP_sha256());
		len = i2d_X509_REQ(req, &der);
		assert_int_equal(ca_csr_parse(der, (size_t)len, 2048, &csr, err,
		                     sizeof(err)),
		    0);
		assert_int_equal(ca_reissue(f->ca, b.serial, csr, "test", &c),
		    0);
		assert_int_equal(ca_show(f->ca, c.serial, &info), 0);
		assert_string_equal(info->subject, "OU=U005,CN=op-1");
		ca_cert_info_free(info, 1);
		snprintf(ds, sizeof(ds), "%s", c.serial);
		ca_issued_clear(&c);
		ca_csr_free(csr);
		OPENSSL_free(der);
		X509_NAME_free(n);
		X509_REQ_free(req);
		/* Once revoked, k2 is refused, in issue and reissue alike. */
		assert_int_equal(ca_revoke(f->ca, ds, CA_REASON_KEY_COMPROMISE,
		                     "test", NULL),
		    0);
		csr = csr_for(k2, "Again");
		assert_int_equal(issue_with(f, "U005", k2, &c), UK_ERR_CSR_KEY);
		assert_non_null(
		    strstr(ca_errmsg(f->ca), "this key was revoked"));
		assert_null(c.cert);
		assert_int_equal(store_exec(f->st, &res,
		                     "SELECT serial FROM certs WHERE unit_id ="
		                     " 'U005' AND status = 'active'",
		                     ""),
		    0);
		assert_int_equal(store_res_rows(res), 1);
		assert_int_equal(ca_reissue(f->ca, store_res_text(res, 0, 0),
		                     csr, "test", &c),
		    UK_ERR_CSR_KEY);
		store_res_free(res);
		assert_non_null(
		    strstr(ca_errmsg(f->ca), "this key was revoked"));
		ca_csr_free(csr);
		EVP_PKEY_free(k2);
	}
	ca_issued_clear(&a);
	ca_issued_clear(&b);
}

static void
test_crl(void **state)
{
	struct fixture *f = *state;
	struct ca_issued v[3];
	X509_CRL *crl = NULL, *crl2 = NULL;
	ASN1_INTEGER *num;
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *rc;
	int days = 0, secs = 0, i;
	char unit[16];

	for (i = 0; i < 3; i++) {
		snprintf(unit, sizeof(unit), "U1%d", i);
		assert_int_equal(issue(f, unit, &v[i]), 0);
	}
	assert_int_equal(ca_revoke(f->ca, v[0].serial, CA_REASON_UNSPECIFIED,
	                     "t", NULL),
	    0);
	assert_int_equal(ca_revoke(f->ca, v[1].serial, CA_REASON_KEY_COMPROMISE,
	                     "t", NULL),
	    0);
	assert_int_equal(ca_crl(f->ca, "t", &crl), 0);
	assert_int_equal(X509_CRL_verify(crl,
	                     X509_get0_pubkey(ca_issuing_cert(f->ca))),
	    1);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	ASN1_INTEGER_free(num);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, v[1].cert), 1);
	rc = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	assert_int_equal(ASN1_ENUMERATED_get(rc), 1);
	ASN1_ENUMERATED_free(rc);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, v[0].cert), 1);
	assert_null(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL));
	assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, v[2].cert), 0);
	assert_true(ASN1_TIME_diff(&days, &secs, X509_CRL_get0_lastUpdate(crl),
	    X509_CRL_get0_nextUpdate(crl)));
	assert_int_equal(days * 86400 + secs, 7200);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier,
	                -1) >= 0);
	/* The number increases. */
	assert_int_equal(ca_crl(f->ca, "t", &crl2), 0);
	num = X509_CRL_get_ext_d2i(crl2, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 2);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	X509_CRL_free(crl2);
	for (i = 0; i < 3; i++)
		ca_issued_clear(&v[i]);
	assert_int_equal(audit_verify_chain(f->st, NULL), 0);
}

static void
test_profiles(void **state)
{
	struct fixture *f = *state;
	struct ca_issue_req req;
	struct ca_issued a;
	int days = 0, secs = 0;

	memset(&req, 0, sizeof(req));
	req.unit = "STAFF";
	req.operator= "clerk-7";
	req.profile = CA_PROFILE_STAFF;
	req.days = 30;
	assert_int_equal(ca_issue_key(f->ca, leaf_key, NULL, &req, &a), 0);
	assert_int_equal(X509_get_key_usage(a.cert),
	    KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	assert_int_equal(X509_get_extended_key_usage(a.cert), XKU_SSL_CLIENT);
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(a.cert),
	    X509_get0_notAfter(a.cert)));
	assert_int_equal(days, 30);
	ca_issued_clear(&a);
	/* OCSP signers come only from ca_init / ca_renew_ocsp. */
	req.profile = CA_PROFILE_OCSP;
	req.days = 0;
	assert_int_equal(ca_issue_key(f->ca, leaf_key, NULL, &req, &a),
	    UK_ERR_CA_PROFILE);
	assert_null(a.cert);
}

static void
test_keys(void **state)
{
	struct fixture *f = *state;
	struct ca *c2 = NULL;
	struct secret *bad = secret_from("wrong", 5);
	struct ca_issued a, r;
	EVP_PKEY *k = NULL;

	assert_int_equal(ca_open(f->st, &c2), 0);
	assert_string_equal(ca_name(c2), "Test CA");
	assert_int_equal(ca_key_type(c2), CA_KEY_EC);
	/* Not unlocked: no issuing. */
	{
		struct ca_issue_req req;

		memset(&req, 0, sizeof(req));
		req.unit = "U7";
		req.operator= "o";
		assert_int_equal(ca_issue_key(c2, leaf_key, NULL, &req, &a),
		    UK_ERR_CA_KEY);
	}
	assert_int_equal(ca_unlock(c2, bad), UK_ERR_CA_KEY);
	assert_int_equal(ca_load_ocsp_key(c2, bad, &k), UK_ERR_CA_KEY);
	assert_int_equal(ca_unlock(c2, f->pass), 0);
	/* The OCSP key opens with its own passphrase only. */
	assert_int_equal(ca_load_ocsp_key(c2, f->pass, &k), UK_ERR_CA_KEY);
	assert_int_equal(ca_load_ocsp_key(c2, f->opass, &k), 0);
	assert_int_equal(X509_check_private_key(ca_ocsp_cert(c2), k), 1);
	EVP_PKEY_free(k);
	/* A new OCSP signer certificate for the same key. */
	assert_int_equal(ca_renew_ocsp(c2, "test", &r), 0);
	assert_int_equal(X509_cmp(ca_ocsp_cert(c2), r.cert), 0);
	ca_free(c2);
	c2 = NULL;
	assert_int_equal(ca_open(f->st, &c2), 0);
	assert_int_equal(X509_cmp(ca_ocsp_cert(c2), r.cert), 0);
	ca_issued_clear(&r);
	ca_free(c2);
	secret_free(bad);
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	struct ca_cert_info *v = NULL;
	struct ca_issued a;
	size_t n = 0;

	assert_int_equal(issue(f, "U-L", &a), 0);
	ca_issued_clear(&a);
	assert_int_equal(ca_list(f->ca, "U-L", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].unit_id, "U-L");
	assert_null(v[0].der);
	ca_cert_info_free(v, n);
	assert_int_equal(ca_list(f->ca, NULL, &v, &n), 0);
	assert_int_equal(n, 2); /* with the OCSP signer */
	ca_cert_info_free(v, n);
	assert_int_equal(ca_list(f->ca, "nobody", &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
}

/* RSA and SM2 CAs (key files), issuing for an EC and an SM2 key. */
static void
test_other_ca_keys(void **state)
{
	static const enum ca_key_type types[] = { CA_KEY_RSA, CA_KEY_SM2 };
	struct ca_init_params p;
	struct ca_issue_req req;
	struct ca_issued a;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = secret_from("passphrase", 10);
	struct secret *opass = secret_from("ocsp passphrase", 15);
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *sm2 = NULL;
	char dir[600], loc[700], key[700], err[512];
	size_t i;

	(void)state;
	EVP_PKEY_keygen_init(kctx);
	assert_int_equal(EVP_PKEY_keygen(kctx, &sm2), 1);
	EVP_PKEY_CTX_free(kctx);
	for (i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/kt.XXXXXX", tmpdir);
		assert_non_null(mkdtemp(dir));
		snprintf(loc, sizeof(loc), "%s/db", dir);
		snprintf(key, sizeof(key), "%s/k", dir);
		assert_int_equal(store_open(loc, &st), 0);
		memset(&p, 0, sizeof(p));
		p.name = "K";
		p.key_type = types[i];
		p.rsa_bits = 2048;
		p.key_file = key;
		p.pass = pass;
		p.ocsp_pass = opass;
		assert_int_equal(ca_init(st, NULL, &p, &ca, err, sizeof(err)),
		    0);
		assert_int_equal(X509_get_signature_nid(ca_root_cert(ca)),
		    types[i] == CA_KEY_RSA ? NID_sha256WithRSAEncryption
		                           : NID_SM2_with_SM3);
		memset(&req, 0, sizeof(req));
		req.unit = "U";
		req.operator= "o";
		assert_int_equal(ca_issue_key(ca, leaf_key, NULL, &req, &a), 0);
		assert_int_equal(X509_verify(a.cert,
		                     X509_get0_pubkey(ca_issuing_cert(ca))),
		    1);
		ca_issued_clear(&a);
		assert_int_equal(ca_issue_key(ca, sm2, NULL, &req, &a), 0);
		ca_issued_clear(&a);
		ca_free(ca);
		ca = NULL;
		/* Re-opened and unlocked from the file. */
		assert_int_equal(ca_open(st, &ca), 0);
		assert_int_equal(ca_unlock(ca, pass), 0);
		assert_int_equal(ca_issue_key(ca, leaf_key, NULL, &req, &a),
		    UK_ERR_UNIT_CERT_LIMIT);
		ca_free(ca);
		ca = NULL;
		store_close(st);
		st = NULL;
	}
	EVP_PKEY_free(sm2);
	secret_free(pass);
	secret_free(opass);
}

static void
test_names(void **state)
{
	char out[CA_SERIAL_HEX_MAX];
	enum ca_profile pr;
	enum ca_key_type kt;
	int reason;

	(void)state;
	assert_int_equal(ca_serial_normalise("0a:0b:ff", out), 0);
	assert_string_equal(out, "0A0BFF");
	assert_int_equal(ca_serial_normalise("00ff", out), 0);
	assert_string_equal(out, "FF");
	assert_int_equal(ca_serial_normalise("", out), UK_ERR_INPUT);
	assert_int_equal(ca_serial_normalise("0", out), UK_ERR_INPUT);
	assert_int_equal(ca_serial_normalise("-1", out), UK_ERR_INPUT);
	assert_int_equal(ca_serial_normalise("12 34", out), UK_ERR_INPUT);
	assert_int_equal(ca_serial_normalise(
	                     "0102030405060708091011121314151617181920", out),
	    0);
	assert_int_equal(ca_serial_normalise(
	                     "010203040506070809101112131415161718192021", out),
	    UK_ERR_INPUT);
	assert_int_equal(ca_reason_parse("keyCompromise", &reason), 0);
	assert_int_equal(reason, 1);
	assert_int_equal(ca_reason_parse("certificateHold", &reason),
	    UK_ERR_CA_REASON);
	assert_int_equal(ca_reason_parse("keycompromise", &reason),
	    UK_ERR_CA_REASON);
	assert_string_equal(ca_reason_name(4), "superseded");
	assert_int_equal(ca_profile_parse("staff", &pr), 0);
	assert_int_equal(pr, CA_PROFILE_STAFF);
	assert_int_equal(ca_profile_parse("root", &pr), UK_ERR_USAGE);
	assert_int_equal(ca_key_type_parse("sm2", &kt), 0);
	assert_int_equal(kt, CA_KEY_SM2);
	assert_int_equal(ca_key_type_parse("dsa", &kt), UK_ERR_USAGE);
}

static void
test_config(void **state)
{
	struct fixture *f = *state;
	struct ca_config c;

	ca_config_init(&c);
	c.crl_url = "ftp://x/crl";
	assert_int_equal(ca_set_config(f->ca, &c), UK_ERR_CONFIG_VALUE);
	c.crl_url = "http://x/a,b";
	assert_int_equal(ca_set_config(f->ca, &c), UK_ERR_CONFIG_VALUE);
	c.crl_url = "http://x/crl";
	c.min_rsa_bits = 1024;
	assert_int_equal(ca_set_config(f->ca, &c), UK_ERR_CONFIG_VALUE);
	c.min_rsa_bits = 2048;
	assert_int_equal(ca_set_config(f->ca, &c), 0);
}

int
main(void)
{
	EVP_PKEY_CTX *kctx;
	char err[512];
	int r, pg;

#define LITE(t)                                                                \
	cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown,     \
	    &fx_sqlite)
#define PG(t)                                                                  \
	cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown,     \
	    &fx_pg)
	const struct CMUnitTest tests[] = {
		LITE(test_init_files),
		LITE(test_ca_certs),
		LITE(test_issue_profile),
		LITE(test_csr_extensions_ignored),
		LITE(test_unit_limit),
		LITE(test_unit_limit_expired),
		LITE(test_unit_lock),
		LITE(test_revoke),
		LITE(test_reissue),
		LITE(test_crl),
		LITE(test_profiles),
		LITE(test_keys),
		LITE(test_list),
		cmocka_unit_test(test_other_ca_keys),
		cmocka_unit_test(test_names),
		LITE(test_config),
	};
	/* The same on PostgreSQL, when the run provides one. */
	const struct CMUnitTest pg_tests[] = {
		PG(test_ca_certs),
		PG(test_issue_profile),
		PG(test_unit_limit),
		PG(test_unit_limit_expired),
		PG(test_unit_lock),
		PG(test_revoke),
		PG(test_reissue),
		PG(test_crl),
		PG(test_keys),
	};

	if (testdb_tmpdir("test_ca", tmpdir, sizeof(tmpdir)) != 0)
		return 1;
	pg = testdb_pg_connect(err, sizeof(err)) == 0;
	kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY_keygen_init(kctx);
	EVP_PKEY_CTX_set_group_name(kctx, "P-256");
	EVP_PKEY_keygen(kctx, &leaf_key);
	EVP_PKEY_CTX_free(kctx);
	r = cmocka_run_group_tests_name("ca", tests, NULL, NULL);
	if (pg)
		r |= cmocka_run_group_tests_name("ca-postgresql", pg_tests,
		    NULL, NULL);
	else
		printf("# %s\n", err);
	EVP_PKEY_free(leaf_key);
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}
