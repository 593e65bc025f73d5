/* tests/unit/pkcs11/test_token.c: the token layer against SoftHSM2 tokens made for the run, and against ukey-sim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "pkcs11/token.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

/* Sanitizer builds map shadow memory that a raw scan must not walk. */
#if defined(__SANITIZE_ADDRESS__)
#define RAW_SCAN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAW_SCAN 0
#endif
#endif
#ifndef RAW_SCAN
#define RAW_SCAN 1
#endif
#define USER_PIN "123456"
#define SO_PIN "12345678"

extern char **environ;

static char tmpdir[512];
static char simdir[600];
static char simmod[PATH_MAX];

/* One test's context and token, freed by the teardown whatever happened. */
struct fx {
	struct p11_ctx *ctx;
	struct p11_token *tok;
};

static int
run(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
init_token(const char *label)
{
	const char *argv[] = { "softhsm2-util", "--init-token", "--free",
		"--label", label, "--pin", USER_PIN, "--so-pin", SO_PIN, NULL };

	return run(argv);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	const char *base = getenv("UKEY_TEST_TMP"), *build;
	char path[700], real[PATH_MAX];
	FILE *f;

	(void)state;
	uk_log_init("test_token", UK_LOG_DEBUG);
	if (base == NULL || *base == '\0')
		base = "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/p11-XXXXXX", base) >=
	    sizeof(tmpdir))
		return -1;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(simdir, sizeof(simdir), "%s/sim", tmpdir);
	if (mkdir(simdir, 0700) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	    "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
	    "log.level = ERROR\n",
	    tmpdir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	setenv("UKEY_SIM_DIR", simdir, 1);
	setenv("UKEY_SIM_MODULE", SOFTHSM, 1);
	if ((build = getenv("UKEY_BUILD")) == NULL || *build == '\0')
		build = "build";
	snprintf(simmod, sizeof(simmod), "%s/lib/ukey-sim.so", build);
	if (realpath(simmod, real) != NULL)
		snprintf(simmod, sizeof(simmod), "%s", real);
	/* t1 for the direct tests, s1 for the ones through ukey-sim (its
	 * counters are kept per serial). */
	if (init_token("t1") != 0 || init_token("s1") != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct secret *
pin(const char *s)
{
	struct secret *p = secret_from(s, strlen(s));

	assert_non_null(p);
	return p;
}

static int
login(struct p11_token *tok, const char *s)
{
	struct secret *p = pin(s);
	int r = p11_login(tok, p);

	secret_free(p);
	return r;
}

static int
load(const char *module, struct p11_ctx **ctx)
{
	const char *allow[] = { SOFTHSM, simmod, NULL };

	return p11_ctx_new(module, allow, ctx);
}

/* The serial of the token labelled label, from p11_list. */
static void
serial_of(struct p11_ctx *ctx, const char *label, char *serial, size_t size)
{
	struct p11_token_list *l = NULL;
	size_t i;

	assert_int_equal(p11_list(ctx, &l), 0);
	serial[0] = '\0';
	for (i = 0; i < l->ntokens; i++) {
		if (strcmp(l->tokens[i].label, label) == 0)
			snprintf(serial, size, "%s", l->tokens[i].serial);
	}
	p11_token_list_free(l);
	assert_true(serial[0] != '\0');
}

static int
fx_open(void **state, const char *module, const char *label)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char serial[17];

	if (fx == NULL)
		return -1;
	*state = fx;
	if (load(module, &fx->ctx) != 0)
		return -1;
	serial_of(fx->ctx, label, serial, sizeof(serial));
	return p11_token_open(fx->ctx, serial, &fx->tok);
}

static int
setup_t1(void **state)
{
	return fx_open(state, SOFTHSM, "t1");
}

static int
setup_sim(void **state)
{
	if (access(simmod, R_OK) != 0) {
		/* Part of the tree: ukey-sim is built with everything else. */
		fprintf(stderr, "ukey-sim not found at %s (UKEY_BUILD)\n",
		    simmod);
		return -1;
	}
	return fx_open(state, simmod, "s1");
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx == NULL)
		return 0;
	if (fx->tok != NULL)
		(void)p11_logout(fx->tok);
	p11_token_free(fx->tok);
	p11_ctx_free(fx->ctx);
	free(fx);
	return 0;
}

/* Verifies a raw r||s ES256 signature over msg. */
static int
verify_es256(EVP_PKEY *pub, const char *msg, const unsigned char *raw,
    size_t len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int der_len, ok;

	assert_int_equal(len, 64);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL),
	                     BN_bin2bn(raw + 32, 32, NULL)),
	    1);
	der_len = i2d_ECDSA_SIG(es, &der);
	assert_true(der_len > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	                     pub),
	    1);
	ok = EVP_DigestVerify(md, der, (size_t)der_len,
	         (const unsigned char *)msg, strlen(msg)) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static int
verify_rsa(EVP_PKEY *pub, const char *msg, const unsigned char *sig, size_t len,
    int pss)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	                     pub),
	    1);
	if (pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
		                     RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx,
		                     EVP_sha256()),
		    1);
	}
	ok = EVP_DigestVerify(md, sig, len, (const unsigned char *)msg,
	         strlen(msg)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static X509_NAME *
name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	                     (const unsigned char *)"测试单位", -1, -1, 0),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	                     (const unsigned char *)cn, -1, -1, 0),
	    1);
	return n;
}

/* A certificate for the CSR's key, issued by a throwaway software CA. */
static X509 *
issue(X509_REQ *req)
{
	EVP_PKEY *ca = EVP_EC_gen("P-256");
	X509_NAME *issuer = name("Test CA");
	X509 *c = X509_new();

	assert_non_null(ca);
	assert_non_null(c);
	assert_int_equal(X509_set_version(c, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(c), 7), 1);
	assert_int_equal(X509_set_issuer_name(c, issuer), 1);
	assert_int_equal(X509_set_subject_name(c,
	                     X509_REQ_get_subject_name(req)),
	    1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), 86400));
	assert_int_equal(X509_set_pubkey(c, X509_REQ_get0_pubkey(req)), 1);
	assert_true(X509_sign(c, ca, EVP_sha256()) > 0);
	X509_NAME_free(issuer);
	EVP_PKEY_free(ca);
	return c;
}

static const struct p11_token_info *
find_label(const struct p11_token_list *l, const char *label)
{
	size_t i;

	for (i = 0; i < l->ntokens; i++) {
		if (strcmp(l->tokens[i].label, label) == 0)
			return &l->tokens[i];
	}
	return NULL;
}

static int
no_trailing_space(const char *s)
{
	size_t n = strlen(s);

	return n == 0 || s[n - 1] != ' ';
}

/* --- tests without a token --------------------------------------------- */

static void
test_allowlist(void **state)
{
	const char *none[] = { NULL };
	const char *other[] = { "/nonexistent/module.so", NULL };
	const char *soft[] = { SOFTHSM, NULL };
	const char *relative[] = { "libsofthsm2.so", NULL };
	const char *missing[] = { "/nonexistent/module.so", NULL };
	const char *crypto[] = { "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
		NULL };
	char link[PATH_MAX + 16], real[PATH_MAX];
	const char *via_link[] = { link, NULL };
	struct p11_ctx *ctx = (struct p11_ctx *)1;

	(void)state;
	assert_int_equal(p11_ctx_new(SOFTHSM, NULL, &ctx),
	    UK_ERR_TOKEN_MODULE_NOT_ALLOWED);
	assert_null(ctx);
	assert_int_equal(p11_ctx_new(SOFTHSM, none, &ctx),
	    UK_ERR_TOKEN_MODULE_NOT_ALLOWED);
	assert_int_equal(p11_ctx_new(SOFTHSM, other, &ctx),
	    UK_ERR_TOKEN_MODULE_NOT_ALLOWED);
	assert_int_equal(p11_ctx_new("libsofthsm2.so", relative, &ctx),
	    UK_ERR_TOKEN_MODULE_NOT_ALLOWED);
	/* A link pointing at a module not on the list does not pass. */
	snprintf(link, sizeof(link), "%s/evil.so", tmpdir);
	assert_int_equal(symlink(crypto[0], link), 0);
	assert_int_equal(p11_ctx_new(link, soft, &ctx),
	    UK_ERR_TOKEN_MODULE_NOT_ALLOWED);
	assert_int_equal(unlink(link), 0);
	/* Listed, but not there / not a PKCS#11 module: cannot load. */
	assert_int_equal(p11_ctx_new("/nonexistent/module.so", missing, &ctx),
	    UK_ERR_TOKEN_MODULE);
	if (access(crypto[0], R_OK) == 0)
		assert_int_equal(p11_ctx_new(crypto[0], crypto, &ctx),
		    UK_ERR_TOKEN_MODULE);
	assert_null(ctx);
	/* The same file under other names: both sides go through realpath. */
	assert_int_equal(p11_ctx_new("/usr/lib/softhsm/../softhsm/"
	                             "libsofthsm2.so",
	                     soft, &ctx),
	    0);
	assert_non_null(realpath(SOFTHSM, real));
	assert_string_equal(p11_ctx_module(ctx), real);
	p11_ctx_free(ctx);
	snprintf(link, sizeof(link), "%s/allowed.so", tmpdir);
	assert_int_equal(symlink(SOFTHSM, link), 0);
	assert_int_equal(p11_ctx_new(real, via_link, &ctx), 0);
	p11_ctx_free(ctx);
	assert_int_equal(unlink(link), 0);
}

static void
test_helpers(void **state)
{
	struct p11_id id;
	char hex[2 * P11_ID_MAX + 1];
	char long_hex[2 * P11_ID_MAX + 3];

	(void)state;
	assert_string_equal(p11_rv_name(CKR_OK), "CKR_OK");
	assert_string_equal(p11_rv_name(CKR_PIN_INCORRECT),
	    "CKR_PIN_INCORRECT");
	assert_string_equal(p11_rv_name(CKR_DEVICE_REMOVED),
	    "CKR_DEVICE_REMOVED");
	assert_string_equal(p11_rv_name(0x7777), "CKR_(unknown)");
	assert_string_equal(p11_rv_name(CKR_VENDOR_DEFINED | 5),
	    "CKR_VENDOR_DEFINED");
	assert_string_equal(p11_rv_name(P11_RV_NONE), "(no CK_RV)");
	assert_string_equal(p11_pin_state_name(P11_PIN_FINAL_TRY), "FINAL_TRY");
	assert_string_equal(p11_pin_state_name(P11_PIN_NOT_INITIALISED),
	    "NOT_INITIALISED");

	assert_int_equal(p11_id_from_hex("00A1ff", &id), 0);
	assert_int_equal(id.len, 3);
	assert_int_equal(id.b[1], 0xa1);
	assert_int_equal(p11_id_to_hex(&id, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "00a1ff");
	assert_int_equal(p11_id_to_hex(&id, hex, 6), UK_ERR_LIMIT);
	assert_int_equal(p11_id_from_hex("", &id), UK_ERR_INPUT);
	assert_int_equal(p11_id_from_hex("abc", &id), UK_ERR_INPUT);
	assert_int_equal(p11_id_from_hex("zz", &id), UK_ERR_INPUT);
	assert_int_equal(p11_id_from_hex(NULL, &id), UK_ERR_INPUT);
	memset(long_hex, 'a', sizeof(long_hex) - 1);
	long_hex[sizeof(long_hex) - 1] = '\0';
	assert_int_equal(p11_id_from_hex(long_hex, &id), UK_ERR_INPUT);

	p11_ctx_free(NULL);
	p11_token_free(NULL);
	p11_token_list_free(NULL);
}

/* --- SoftHSM2 directly -------------------------------------------------- */

static void
test_list(void **state)
{
	struct fx *fx = *state;
	struct p11_token_list *l = NULL;
	const struct p11_token_info *t;
	struct p11_token *first = NULL;
	struct p11_status st;
	size_t i;
	int uninit = 0;

	assert_int_equal(p11_list(fx->ctx, &l), 0);
	assert_true(l->ntokens >= 3);
	t = find_label(l, "t1");
	assert_non_null(t);
	assert_string_equal(t->manufacturer, "SoftHSM project");
	assert_string_equal(t->model, "SoftHSM v2");
	assert_int_equal(strnlen(t->serial, sizeof(t->serial)), 16);
	assert_true(t->initialized);
	assert_int_equal(t->error, 0);
	assert_int_equal(t->status.user, P11_PIN_OK);
	assert_int_equal(t->status.user_retries, -1);
	assert_int_equal(t->status.so, P11_PIN_OK);
	assert_true(t->status.flags & CKF_USER_PIN_INITIALIZED);
	assert_string_equal(t->serial, p11_token_serial(fx->tok));
	assert_string_equal(p11_token_label(fx->tok), "t1");
	for (i = 0; i < l->ntokens; i++) {
		assert_true(no_trailing_space(l->tokens[i].label));
		assert_true(no_trailing_space(l->tokens[i].manufacturer));
		assert_true(no_trailing_space(l->tokens[i].model));
		assert_true(no_trailing_space(l->tokens[i].serial));
		if (!l->tokens[i].initialized) {
			uninit = 1;
			assert_int_equal(l->tokens[i].status.user,
			    P11_PIN_NOT_INITIALISED);
			assert_int_equal(l->tokens[i].ncerts, 0);
		}
	}
	/* SoftHSM2 always offers one empty slot with a blank token. */
	assert_true(uninit);
	p11_token_list_free(l);

	assert_int_equal(p11_token_status(fx->tok, &st), 0);
	assert_int_equal(st.user, P11_PIN_OK);
	assert_true(st.min_pin >= 4);

	/* NULL serial: the first initialised token; unknown: not present. */
	assert_int_equal(p11_token_open(fx->ctx, NULL, &first), 0);
	assert_true(strcmp(p11_token_label(first), "t1") == 0 ||
	    strcmp(p11_token_label(first), "s1") == 0);
	p11_token_free(first);
	assert_int_equal(p11_token_open(fx->ctx, "nosuchserial", &first),
	    UK_ERR_TOKEN_NOT_PRESENT);
	assert_null(first);
}

static void
test_login_wrong_then_right(void **state)
{
	struct fx *fx = *state;
	struct p11_status st;
	struct secret *p;

	assert_int_equal(login(fx->tok, "000000"), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(p11_last_rv(fx->ctx), CKR_PIN_INCORRECT);
	assert_string_equal(p11_last_rv_name(fx->ctx), "CKR_PIN_INCORRECT");
	/* The flags were read again after the failure: SoftHSM2 marks a
	 * failed login with COUNT_LOW (and never locks). */
	p11_token_last_status(fx->tok, &st);
	assert_int_equal(st.user, P11_PIN_COUNT_LOW);
	assert_int_equal(st.user_retries, -1);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_last_rv(fx->ctx), CKR_OK);
	p11_token_last_status(fx->tok, &st);
	assert_int_equal(st.user, P11_PIN_OK);
	assert_int_equal(p11_logout(fx->tok), 0);
	assert_int_equal(p11_logout(fx->tok), 0); /* not logged in: fine */

	/* Malformed PINs never reach the token. */
	assert_int_equal(login(fx->tok, "12"), UK_ERR_TOKEN_PIN_FORMAT);
	assert_int_equal(login(fx->tok,
	                     "1234567890123456789012345678901234567890123456789"
	                     "0"
	                     "123456789012345"),
	    UK_ERR_TOKEN_PIN_FORMAT);
	p = secret_from("1234\0"
	                "56",
	    7);
	assert_non_null(p);
	assert_int_equal(p11_login(fx->tok, p), UK_ERR_TOKEN_PIN_FORMAT);
	secret_free(p);
	assert_int_equal(p11_login(fx->tok, NULL), UK_ERR_TOKEN_PIN_FORMAT);
}

static void
test_login_trap(void **state)
{
	struct fx *fx = *state;
	struct p11_id id;
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "trap", NULL,
	                     &id),
	    0);
	/* Logged in already: libp11 alone would skip C_Login and report
	 * success for any PIN. */
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_PIN_INCORRECT);
	/* ... and the failed login left the token logged out. */
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)"x", 1, sig, &siglen),
	    UK_ERR_TOKEN_KEY_NOT_FOUND);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)"x", 1, sig, &siglen),
	    0);
}

/* Sessions closed behind libp11's back (what a pulled-out key does): its
 * login mark survives, and a wrong PIN must still not "succeed". */
static void
test_login_after_sessions_lost(void **state)
{
	struct fx *fx = *state;
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR fl = NULL;
	struct p11_token_list *l = NULL;
	const struct p11_token_info *t;
	CK_SLOT_ID slot;
	void *dl, *sym;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_list(fx->ctx, &l), 0);
	assert_non_null(t = find_label(l, "t1"));
	slot = t->slot_id;
	p11_token_list_free(l);
	dl = dlopen(p11_ctx_module(fx->ctx), RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(dl);
	assert_non_null(sym = dlsym(dl, "C_GetFunctionList"));
	memcpy(&get, &sym, sizeof(get));
	assert_int_equal(get(&fl), CKR_OK);
	assert_int_equal(fl->C_CloseAllSessions(slot), CKR_OK);
	dlclose(dl);

	/* libp11's pooled session is dead and its login mark stays: the
	 * logout before the login fails, and so does the login. */
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_REMOVED);
	assert_int_equal(p11_ctx_reload(fx->ctx), 0);
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
}

static void
test_ec_keygen_csr_cert(void **state)
{
	struct fx *fx = *state;
	struct p11_id id, other;
	struct p11_token_list *l = NULL;
	const struct p11_token_info *t;
	const struct p11_cert_info *c = NULL;
	const struct p11_key_info *k = NULL;
	char hex[2 * P11_ID_MAX + 1];
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = name("张三");
	X509_REQ *req = NULL;
	X509 *cert, *parsed;
	const unsigned char *p;
	size_t i;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "operator", NULL,
	                     &id),
	    0);
	assert_int_equal(id.len, 16);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "dup", &id, NULL),
	    UK_ERR_EXISTS);
	assert_int_equal(p11_public_key(fx->tok, &id, &pub), 0);
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(pub), 256);

	assert_int_equal(p11_csr(fx->tok, &id, subject, &req), 0);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pub), 1);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req), subject),
	    0);

	cert = issue(req);
	/* Not this key's certificate: refused. */
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "other", NULL,
	                     &other),
	    0);
	assert_int_equal(p11_store_cert(fx->tok, &other, "wrong", cert),
	    UK_ERR_TOKEN_KEY_NOT_FOUND);
	assert_int_equal(p11_store_cert(fx->tok, &id, "operator", cert), 0);

	assert_int_equal(p11_id_to_hex(&id, hex, sizeof(hex)), 0);
	assert_int_equal(p11_list(fx->ctx, &l), 0);
	assert_non_null(t = find_label(l, "t1"));
	assert_int_equal(t->error, 0);
	for (i = 0; i < t->ncerts; i++) {
		if (strcmp(t->certs[i].id_hex, hex) == 0)
			c = &t->certs[i];
	}
	for (i = 0; i < t->nkeys; i++) {
		if (strcmp(t->keys[i].id_hex, hex) == 0)
			k = &t->keys[i];
	}
	assert_non_null(c);
	assert_non_null(k);
	assert_true(c->has_private_key);
	assert_string_equal(c->label, "operator");
	assert_non_null(strstr(c->subject, "CN=张三"));
	assert_non_null(strstr(c->issuer, "CN=Test CA"));
	p = c->der;
	parsed = d2i_X509(NULL, &p, (long)c->der_len);
	assert_non_null(parsed);
	assert_int_equal(X509_cmp(parsed, cert), 0);
	X509_free(parsed);
	assert_true(k->has_private_key && k->has_public_key && k->has_cert);
	assert_int_equal(k->type, EVP_PKEY_EC);
	assert_string_equal(k->label, "operator");
	p11_token_list_free(l);

	/* Logged out, the private key is out of sight. */
	assert_int_equal(p11_logout(fx->tok), 0);
	assert_int_equal(p11_list(fx->ctx, &l), 0);
	assert_non_null(t = find_label(l, "t1"));
	for (i = 0; i < t->ncerts; i++) {
		if (strcmp(t->certs[i].id_hex, hex) == 0)
			assert_false(t->certs[i].has_private_key);
	}
	p11_token_list_free(l);

	X509_free(cert);
	X509_REQ_free(req);
	X509_NAME_free(subject);
	EVP_PKEY_free(pub);
}

static void
test_sign_es256(void **state)
{
	struct fx *fx = *state;
	const char *msg = "origin-hash||nonce-hash";
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct p11_id id, unknown = { { 0xde, 0xad }, 2 };
	EVP_PKEY *pub = NULL;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "es", NULL, &id),
	    0);
	assert_int_equal(p11_public_key(fx->tok, &id, &pub), 0);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    0);
	assert_int_equal(siglen, 64);
	assert_true(verify_es256(pub, msg, sig, siglen));
	assert_false(verify_es256(pub, "something else", sig, siglen));

	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "RS256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_INPUT);
	assert_int_equal(p11_sign(fx->tok, &id, "ES384",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_INPUT);
	siglen = 10;
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_LIMIT);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &unknown, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_TOKEN_KEY_NOT_FOUND);
	EVP_PKEY_free(pub);
}

static void
test_rsa(void **state)
{
	struct fx *fx = *state;
	const char *msg = "rsa message";
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct p11_id id;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = name("李四");
	X509_REQ *req = NULL;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_RSA_2048, "rsa", NULL,
	                     &id),
	    0);
	assert_int_equal(p11_public_key(fx->tok, &id, &pub), 0);
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(pub), 2048);

	assert_int_equal(p11_sign(fx->tok, &id, "RS256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    0);
	assert_int_equal(siglen, 256);
	assert_true(verify_rsa(pub, msg, sig, siglen, 0));
	assert_false(verify_rsa(pub, msg, sig, siglen, 1));
	assert_false(verify_rsa(pub, "other", sig, siglen, 0));

	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "PS256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    0);
	assert_int_equal(siglen, 256);
	assert_true(verify_rsa(pub, msg, sig, siglen, 1));
	assert_false(verify_rsa(pub, msg, sig, siglen, 0));

	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_INPUT);

	assert_int_equal(p11_csr(fx->tok, &id, subject, &req), 0);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(X509_REQ_get_signature_nid(req),
	    NID_sha256WithRSAEncryption);
	X509_REQ_free(req);
	X509_NAME_free(subject);
	EVP_PKEY_free(pub);
}

static void
test_sign_needs_login(void **state)
{
	struct fx *fx = *state;
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct p11_id id;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "nl", NULL, &id),
	    0);
	assert_int_equal(p11_logout(fx->tok), 0);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)"m", 1, sig, &siglen),
	    UK_ERR_TOKEN_KEY_NOT_FOUND);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "nl2", NULL, &id),
	    UK_ERR_TOKEN_DEVICE);
}

static void
test_change_pin(void **state)
{
	struct fx *fx = *state;
	struct secret *a = pin(USER_PIN), *b = pin("654321"),
	              *bad = pin("000000"), *shortp = pin("12");

	assert_int_equal(p11_change_pin(fx->tok, bad, b),
	    UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(p11_change_pin(fx->tok, a, shortp),
	    UK_ERR_TOKEN_PIN_FORMAT);
	assert_int_equal(p11_change_pin(fx->tok, a, b), 0);
	assert_int_equal(login(fx->tok, USER_PIN), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, "654321"), 0);
	assert_int_equal(p11_change_pin(fx->tok, b, a), 0);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	secret_free(a);
	secret_free(b);
	secret_free(bad);
	secret_free(shortp);
}

static void
test_init_pin(void **state)
{
	struct fx *fx = *state;
	struct secret *so = pin(SO_PIN), *wrong = pin("87654321"),
	              *user = pin(USER_PIN), *fresh = pin("111111");

	assert_int_equal(p11_init_pin(fx->tok, wrong, fresh),
	    UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(p11_last_rv(fx->ctx), CKR_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	/* The SO login logs the user out first. */
	assert_int_equal(p11_init_pin(fx->tok, so, fresh), 0);
	assert_int_equal(login(fx->tok, USER_PIN), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, "111111"), 0);
	assert_int_equal(p11_init_pin(fx->tok, so, user), 0);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	secret_free(so);
	secret_free(wrong);
	secret_free(user);
	secret_free(fresh);
}

static void
test_reload(void **state)
{
	struct fx *fx = *state;
	struct p11_status st;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_ctx_reload(fx->ctx), 0);
	/* The handle finds its token again; the reload logged it out. */
	assert_int_equal(p11_token_status(fx->tok, &st), 0);
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
}

/* Counts the occurrences of needle in the process's writable memory other
 * than stacks: the heap and anonymous mappings (where valgrind's allocator
 * puts the heap). */
static int
heap_count(const char *needle)
{
	char line[512], *end;
	unsigned long lo, hi;
	const char *p, *stop, *perms;
	size_t n = strlen(needle);
	FILE *m = fopen("/proc/self/maps", "r");
	int hits = 0;

	assert_non_null(m);
	while (fgets(line, sizeof(line), m) != NULL) {
		if (strstr(line, "[stack") != NULL)
			continue;
		lo = strtoul(line, &end, 16);
		assert_true(*end == '-');
		hi = strtoul(end + 1, &end, 16);
		perms = end + 1;
		if (perms[0] != 'r' || perms[1] != 'w')
			continue;
		p = (const char *)lo;
		stop = (const char *)hi;
		while (p < stop &&
		    (p = memmem(p, (size_t)(stop - p), needle, n)) != NULL) {
			hits++;
			p += n;
		}
	}
	fclose(m);
	return hits;
}

/* Returns 1 when the process's memory cannot be scanned raw: under
 * valgrind (which reports every read outside a block) or AddressSanitizer. */
static int
no_raw_scan(void)
{
	char line[512];
	FILE *m;
	int found = !RAW_SCAN;

	if (found)
		return 1;
	m = fopen("/proc/self/maps", "r");
	assert_non_null(m);
	while (!found && fgets(line, sizeof(line), m) != NULL)
		found = strstr(line, "vgpreload") != NULL;
	fclose(m);
	return found;
}

/* libp11 copies the PIN on login; after p11_logout no copy is left. */
static void
test_pin_not_kept(void **state)
{
	struct fx *fx = *state;
	struct secret *so, *user, *p;
	char text[16];

	if (no_raw_scan()) {
		/* Not skip(): cmocka's TAP reports a skip as "not ok". */
		print_message("raw memory scan left out under valgrind/ASan\n");
		return;
	}
	so = pin(SO_PIN);
	user = pin(USER_PIN);

	/* Built at run time so that no copy sits in the binary's data. */
	snprintf(text, sizeof(text), "%d%d", 7391, 5286);
	p = pin(text);
	memset(text, 0, sizeof(text));
	assert_int_equal(heap_count("73915286"), 1); /* the scan sees p */
	assert_int_equal(p11_init_pin(fx->tok, so, p), 0);
	assert_int_equal(heap_count("73915286"), 1);
	assert_int_equal(p11_login(fx->tok, p), 0);
	secret_free(p);
	assert_int_equal(p11_logout(fx->tok), 0);
	assert_int_equal(heap_count("73915286"), 0);
	assert_int_equal(p11_init_pin(fx->tok, so, user), 0);
	secret_free(so);
	secret_free(user);
}

/* --- through ukey-sim --------------------------------------------------- */

static void
test_sim_lockout_unblock(void **state)
{
	struct fx *fx = *state;
	struct p11_status st;
	struct secret *so = pin(SO_PIN), *user = pin(USER_PIN);
	int i;

	assert_int_equal(p11_token_status(fx->tok, &st), 0);
	assert_int_equal(st.user, P11_PIN_OK);
	for (i = 1; i <= 6; i++) {
		assert_int_equal(login(fx->tok, "000000"),
		    UK_ERR_TOKEN_PIN_INCORRECT);
		p11_token_last_status(fx->tok, &st);
		if (i <= 4) {
			assert_int_equal(st.user, P11_PIN_COUNT_LOW);
			assert_int_equal(st.user_retries, -1);
		} else if (i == 5) {
			assert_int_equal(st.user, P11_PIN_FINAL_TRY);
			assert_int_equal(st.user_retries, 1);
		} else {
			assert_int_equal(st.user, P11_PIN_LOCKED);
			assert_int_equal(st.user_retries, 0);
		}
	}
	assert_true(st.flags & CKF_USER_PIN_LOCKED);
	/* Locked: even the right PIN is refused. */
	assert_int_equal(login(fx->tok, USER_PIN), UK_ERR_TOKEN_PIN_LOCKED);

	/* SO unblock. */
	assert_int_equal(p11_init_pin(fx->tok, so, user), 0);
	assert_int_equal(p11_token_status(fx->tok, &st), 0);
	assert_int_equal(st.user, P11_PIN_OK);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	secret_free(so);
	secret_free(user);
}

/* Makes the loaded module look at its slots, bypassing libp11. */
static void
module_poke(const char *module)
{
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR fl = NULL;
	CK_ULONG n = 0;
	void *dl, *sym;

	assert_non_null(dl = dlopen(module, RTLD_LAZY | RTLD_NOLOAD));
	assert_non_null(sym = dlsym(dl, "C_GetFunctionList"));
	memcpy(&get, &sym, sizeof(get));
	assert_int_equal(get(&fl), CKR_OK);
	assert_int_equal(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	dlclose(dl);
}

static void
test_sim_removal(void **state)
{
	struct fx *fx = *state;
	const char *msg = "after reinsertion";
	char removed[PATH_MAX + 16];
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct p11_token_list *l = NULL;
	struct p11_id id;
	EVP_PKEY *pub = NULL;
	FILE *f;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "rm", NULL, &id),
	    0);
	assert_int_equal(p11_public_key(fx->tok, &id, &pub), 0);

	snprintf(removed, sizeof(removed), "%s/removed", simdir);
	assert_non_null(f = fopen(removed, "w"));
	fclose(f);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    UK_ERR_TOKEN_REMOVED);
	assert_int_equal(login(fx->tok, USER_PIN), UK_ERR_TOKEN_REMOVED);
	assert_int_equal(p11_list(fx->ctx, &l), 0);
	assert_null(find_label(l, "s1"));
	p11_token_list_free(l);

	/* Back in. The list above saw the token gone and read the slots
	 * again, so libp11 starts afresh: the PIN reaches the token. */
	assert_int_equal(unlink(removed), 0);
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(p11_ctx_reload(fx->ctx), 0);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    0);
	assert_true(verify_es256(pub, msg, sig, siglen));

	/* Out and back in with no call through the token layer in between
	 * (the module sees it, libp11 does not): libp11 still holds the dead
	 * sessions and its login mark. */
	assert_non_null(f = fopen(removed, "w"));
	fclose(f);
	module_poke(p11_ctx_module(fx->ctx));
	assert_int_equal(unlink(removed), 0);
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_REMOVED);
	assert_int_equal(p11_ctx_reload(fx->ctx), 0);
	assert_int_equal(login(fx->tok, "999999"), UK_ERR_TOKEN_PIN_INCORRECT);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)msg, strlen(msg), sig,
	                     &siglen),
	    0);
	assert_true(verify_es256(pub, msg, sig, siglen));
	EVP_PKEY_free(pub);
}

/* Pulled out while the token is busy signing. */
static void
test_sim_removed_mid_sign(void **state)
{
	struct fx *fx = *state;
	char removed[PATH_MAX + 16], delay[PATH_MAX + 32], cmd[PATH_MAX + 64];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	unsigned char sig[P11_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct p11_id id;
	pid_t pid;
	int st = 0;
	FILE *f;

	assert_int_equal(login(fx->tok, USER_PIN), 0);
	assert_int_equal(p11_keygen(fx->tok, P11_KEY_EC_P256, "mid", NULL, &id),
	    0);
	snprintf(removed, sizeof(removed), "%s/removed", simdir);
	snprintf(delay, sizeof(delay), "%s/delay_sign_ms", simdir);
	assert_non_null(f = fopen(delay, "w"));
	fputs("3000\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "sleep 0.3; : >'%s'", removed);
	assert_int_equal(posix_spawnp(&pid, "sh", NULL, NULL,
	                     (char *const *)argv, environ),
	    0);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)"m", 1, sig, &siglen),
	    UK_ERR_TOKEN_REMOVED);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(unlink(delay), 0);
	assert_int_equal(unlink(removed), 0);
	assert_int_equal(p11_ctx_reload(fx->ctx), 0);
	assert_int_equal(login(fx->tok, USER_PIN), 0);
	siglen = sizeof(sig);
	assert_int_equal(p11_sign(fx->tok, &id, "ES256",
	                     (const unsigned char *)"m", 1, sig, &siglen),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test_setup_teardown(test_list, setup_t1, teardown),
		cmocka_unit_test_setup_teardown(test_login_wrong_then_right,
		    setup_t1, teardown),
		cmocka_unit_test_setup_teardown(test_login_trap, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_login_after_sessions_lost,
		    setup_t1, teardown),
		cmocka_unit_test_setup_teardown(test_ec_keygen_csr_cert,
		    setup_t1, teardown),
		cmocka_unit_test_setup_teardown(test_sign_es256, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rsa, setup_t1, teardown),
		cmocka_unit_test_setup_teardown(test_sign_needs_login, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_change_pin, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_init_pin, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pin_not_kept, setup_t1,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sim_lockout_unblock,
		    setup_sim, teardown),
		cmocka_unit_test_setup_teardown(test_sim_removal, setup_sim,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sim_removed_mid_sign,
		    setup_sim, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
