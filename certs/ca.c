/* certs/ca.c: the CA library: init, issue, revoke, reissue, CRL and listing over the shared store. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "certs/ca_crl.h"
#include "certs/ca_key.h"
#include "certs/ca_profile.h"
#include "certs/csr.h"
#include "certs/verify.h"
#include "common/audit.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/store.h"

/* How often a write transaction that found the store busy is retried. */
#define CA_BUSY_RETRIES 5

/* Longest CA name (characters); the CA certificates' CNs add a suffix. */
#define CA_NAME_MAX 48

struct ca {
	struct store *st; /* borrowed */
	char *name;
	enum ca_key_type key_type;
	char *key_ref;
	char *ocsp_key_ref;
	X509 *root, *issuing, *ocsp;
	struct ca_config cfg;
	char *crl_url, *ocsp_url;     /* owned copies behind cfg */
	char *p11_module, *p11_allow; /* likewise */
	char *init_module;            /* module-path given to ca_init */
	struct ca_key *key;           /* issuing CA key once unlocked */
	struct ca_token *token;       /* open token, for token keys */
	char err[512];
};

static void ca_seterr(struct ca *ca, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ca_seterr(struct ca *ca, const char *fmt, ...)
{
	va_list ap;

	if (ca == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(ca->err, sizeof(ca->err), fmt, ap);
	va_end(ap);
}

/* Records a store failure on ca and passes its code on. */
static int
store_fail(struct ca *ca, int r, const char *what)
{
	ca_seterr(ca, "%s: %s", what, store_last_error(ca->st));
	return r;
}

const char *
ca_errmsg(const struct ca *ca)
{
	return ca != NULL ? ca->err : "";
}

/* ---- names ---- */

static const struct {
	const char *name;
	int value;
	int accepted;
} reasons[] = {
	{ "unspecified", 0, 1 },
	{ "keyCompromise", 1, 1 },
	{ "cACompromise", 2, 1 },
	{ "affiliationChanged", 3, 1 },
	{ "superseded", 4, 1 },
	{ "cessationOfOperation", 5, 1 },
	{ "certificateHold", 6, 0 },
	{ "removeFromCRL", 8, 0 },
	{ "privilegeWithdrawn", 9, 1 },
	{ "aACompromise", 10, 0 },
};

int
ca_reason_parse(const char *s, int *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(reasons) / sizeof(reasons[0]);
	     i++) {
		if (strcmp(s, reasons[i].name) != 0)
			continue;
		if (!reasons[i].accepted)
			return UK_ERR_CA_REASON;
		*out = reasons[i].value;
		return 0;
	}
	return UK_ERR_CA_REASON;
}

const char *
ca_reason_name(int reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].value == reason)
			return reasons[i].name;
	return "?";
}

/* Whether reason may be given to ca_revoke. */
static int
reason_accepted(int reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].value == reason)
			return reasons[i].accepted;
	return 0;
}

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A name for a value of an enum, in the tables below. */
struct ca_enum_name {
	int value;
	const char *name;
};

static const struct ca_enum_name key_type_names[] = {
	{ CA_KEY_EC, "ec" },
	{ CA_KEY_RSA, "rsa" },
	{ CA_KEY_SM2, "sm2" },
};

static const struct ca_enum_name profile_names[] = {
	{ CA_PROFILE_OPERATOR, "operator" },
	{ CA_PROFILE_STAFF, "staff" },
	{ CA_PROFILE_OCSP, "ocsp" },
};

/* Finds s among the n names of t and sets *out to its value. Returns 0 or
 * UK_ERR_USAGE. */
static int
enum_parse(const struct ca_enum_name *t, size_t n, const char *s, int *out)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++) {
		if (strcmp(s, t[i].name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return UK_ERR_USAGE;
}

/* The static name of value among the n of t, or "?". */
static const char *
enum_name(const struct ca_enum_name *t, size_t n, int value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return "?";
}

int
ca_key_type_parse(const char *s, enum ca_key_type *out)
{
	int v, r;

	r = enum_parse(key_type_names, NITEMS(key_type_names), s, &v);
	if (r == 0)
		*out = (enum ca_key_type)v;
	return r;
}

const char *
ca_key_type_name(enum ca_key_type t)
{
	return enum_name(key_type_names, NITEMS(key_type_names), (int)t);
}

int
ca_profile_parse(const char *s, enum ca_profile *out)
{
	int v, r;

	r = enum_parse(profile_names, NITEMS(profile_names), s, &v);
	if (r == 0)
		*out = (enum ca_profile)v;
	return r;
}

const char *
ca_profile_name(enum ca_profile p)
{
	return enum_name(profile_names, NITEMS(profile_names), (int)p);
}

int
ca_serial_normalise(const char *in, char out[CA_SERIAL_HEX_MAX])
{
	char hex[CA_SERIAL_HEX_MAX * 2];
	BIGNUM *bn = NULL;
	char *t = NULL;
	size_t i, n = 0;
	int r = UK_ERR_INPUT;

	if (in == NULL || strlen(in) > 80)
		goto out;
	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ':')
			continue;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		        (c >= 'A' && c <= 'F')))
			goto out;
		if (n >= 40)
			goto out;
		hex[n++] = (char)c;
	}
	hex[n] = '\0';
	if (n == 0 || BN_hex2bn(&bn, hex) != (int)n || BN_is_zero(bn) ||
	    BN_num_bytes(bn) > 20)
		goto out;
	if ((t = BN_bn2hex(bn)) == NULL || strlen(t) >= CA_SERIAL_HEX_MAX)
		goto out;
	memcpy(out, t, strlen(t) + 1);
	r = 0;
out:
	OPENSSL_free(t);
	BN_free(bn);
	return r;
}

void
ca_config_init(struct ca_config *c)
{
	memset(c, 0, sizeof(*c));
	c->crl_next_update_secs = 24 * 3600;
	c->ocsp_next_update_secs = 3600;
	c->operator_days = 365;
	c->staff_days = 365;
	c->ocsp_days = 30;
	c->min_rsa_bits = 2048;
	c->ocsp_http_max_age = 0;
}

/* Valid UTF-8 of 1..max bytes without control characters. */
static int
text_ok(const char *s, size_t max)
{
	size_t i, n, k, j;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i += k) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80)
			k = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 2;
		else if ((c & 0xf0) == 0xe0)
			k = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 4;
		else
			return 0;
		if (i + k > n)
			return 0;
		for (j = 1; j < k; j++)
			if (((unsigned char)s[i + j] & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* Number of UTF-8 characters of s (assumed valid). */
static size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

int
ca_set_config(struct ca *ca, const struct ca_config *cfg)
{
	char *crl = NULL, *ocsp = NULL, *mod = NULL, *allow = NULL;

	if (cfg->crl_url != NULL && ca_url_check(cfg->crl_url) != 0) {
		ca_seterr(ca, "crl_url is not a usable http(s) URL");
		return UK_ERR_CONFIG_VALUE;
	}
	if (cfg->ocsp_url != NULL && ca_url_check(cfg->ocsp_url) != 0) {
		ca_seterr(ca, "ocsp_url is not a usable http(s) URL");
		return UK_ERR_CONFIG_VALUE;
	}
	if (cfg->crl_next_update_secs <= 0 || cfg->ocsp_next_update_secs <= 0 ||
	    cfg->operator_days <= 0 || cfg->staff_days <= 0 ||
	    cfg->ocsp_days <= 0 || cfg->min_rsa_bits < 2048 ||
	    cfg->min_rsa_bits > CA_RSA_MAX_BITS) {
		ca_seterr(ca, "a CA setting is out of range");
		return UK_ERR_CONFIG_VALUE;
	}
	if (cfg->ocsp_http_max_age < 0) {
		ca_seterr(ca, "ocsp_http_max_age is out of range");
		return UK_ERR_CONFIG_VALUE;
	}
	if ((cfg->crl_url != NULL && (crl = strdup(cfg->crl_url)) == NULL) ||
	    (cfg->ocsp_url != NULL && (ocsp = strdup(cfg->ocsp_url)) == NULL) ||
	    (cfg->pkcs11_module != NULL &&
	        (mod = strdup(cfg->pkcs11_module)) == NULL) ||
	    (cfg->pkcs11_module_allowlist != NULL &&
	        (allow = strdup(cfg->pkcs11_module_allowlist)) == NULL)) {
		free(crl);
		free(ocsp);
		free(mod);
		return UK_ERR_NOMEM;
	}
	free(ca->crl_url);
	free(ca->ocsp_url);
	free(ca->p11_module);
	free(ca->p11_allow);
	ca->cfg = *cfg;
	ca->cfg.crl_url = ca->crl_url = crl;
	ca->cfg.ocsp_url = ca->ocsp_url = ocsp;
	ca->cfg.pkcs11_module = ca->p11_module = mod;
	ca->cfg.pkcs11_module_allowlist = ca->p11_allow = allow;
	return 0;
}

/* ---- objects ---- */

static struct ca *
ca_alloc(struct store *st)
{
	struct ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	ca->st = st;
	ca_config_init(&ca->cfg);
	return ca;
}

void
ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	ca_key_free(ca->key);
	ca_token_free(ca->token);
	X509_free(ca->root);
	X509_free(ca->issuing);
	X509_free(ca->ocsp);
	free(ca->name);
	free(ca->key_ref);
	free(ca->ocsp_key_ref);
	free(ca->crl_url);
	free(ca->ocsp_url);
	free(ca->p11_module);
	free(ca->p11_allow);
	free(ca->init_module);
	free(ca);
}

const char *
ca_name(const struct ca *ca)
{
	return ca->name;
}

enum ca_key_type
ca_key_type(const struct ca *ca)
{
	return ca->key_type;
}

const char *
ca_key_ref(const struct ca *ca)
{
	return ca->key_ref;
}

int
ca_key_on_token(const struct ca *ca)
{
	return ca_key_ref_is_token(ca->key_ref);
}

int
ca_ocsp_key_on_token(const struct ca *ca)
{
	return ca->ocsp_key_ref != NULL &&
	    ca_key_ref_is_token(ca->ocsp_key_ref);
}

X509 *
ca_root_cert(const struct ca *ca)
{
	return ca->root;
}

X509 *
ca_issuing_cert(const struct ca *ca)
{
	return ca->issuing;
}

X509 *
ca_ocsp_cert(const struct ca *ca)
{
	return ca->ocsp;
}

void
ca_issued_clear(struct ca_issued *out)
{
	if (out == NULL)
		return;
	X509_free(out->cert);
	memset(out, 0, sizeof(*out));
}

void
ca_cert_info_free(struct ca_cert_info *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].unit_id);
		free(v[i].operator);
		free(v[i].profile);
		free(v[i].subject);
		free(v[i].key_type);
		free(v[i].status);
		free(v[i].sha256);
		free(v[i].replaces);
		free(v[i].der);
	}
	free(v);
}

/* Decodes exactly one DER certificate. */
static int
cert_from_der(const unsigned char *der, size_t len, X509 **out)
{
	X509 *x;

	*out = NULL;
	/* Stored DER only: PEM text in the column is damage, not input. */
	if (der == NULL || len == 0 || der[0] != 0x30 ||
	    ca_parse_cert(der, len, &x, NULL, 0) != 0)
		return UK_ERR_CERT_MALFORMED;
	if (ca_cert_set_sm2_id(x) != 0) {
		X509_free(x);
		return UK_ERR_NOMEM;
	}
	*out = x;
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int
ca_open(struct store *st, struct ca **out)
{
	struct store_res *res = NULL;
	const unsigned char *der;
	struct ca *ca = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((ca = ca_alloc(st)) == NULL)
		return UK_ERR_NOMEM;
	if ((r = store_exec(st, &res,
	         "SELECT name, key_type, key_ref, root_der, issuing_der,"
	         " ocsp_der, ocsp_key_ref FROM ca WHERE id = 1",
	         "")) != 0) {
		ca_seterr(ca, "reading the CA: %s", store_last_error(st));
		goto out;
	}
	if (store_res_rows(res) != 1) {
		r = UK_ERR_CA_NOT_INITIALISED;
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((ca->name = dup_or_null(store_res_text(res, 0, 0))) == NULL ||
	    (ca->key_ref = dup_or_null(store_res_text(res, 0, 2))) == NULL)
		goto out;
	if (!store_res_isnull(res, 0, 6) &&
	    (ca->ocsp_key_ref = dup_or_null(store_res_text(res, 0, 6))) == NULL)
		goto out;
	if (ca_key_type_parse(store_res_text(res, 0, 1), &ca->key_type) != 0) {
		r = UK_ERR_CERT_MALFORMED;
		goto out;
	}
	der = store_res_blob(res, 0, 3, &len);
	if ((r = cert_from_der(der, len, &ca->root)) != 0)
		goto out;
	der = store_res_blob(res, 0, 4, &len);
	if ((r = cert_from_der(der, len, &ca->issuing)) != 0)
		goto out;
	if (!store_res_isnull(res, 0, 5)) {
		der = store_res_blob(res, 0, 5, &len);
		if ((r = cert_from_der(der, len, &ca->ocsp)) != 0)
			goto out;
	}
	*out = ca;
	ca = NULL;
	r = 0;
out:
	if (r == UK_ERR_CERT_MALFORMED && ca != NULL)
		ca_seterr(ca, "the store's ca row is damaged");
	store_res_free(res);
	ca_free(ca);
	return r;
}

/* ---- keys ---- */

/* Appends s percent-encoded (RFC 7512: unreserved and '/' kept). */
static int
pct_append(char *buf, size_t size, size_t *pos, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || c == '/';

		if (*pos + 4 >= size)
			return UK_ERR_LIMIT;
		if (keep)
			buf[(*pos)++] = (char)c;
		else {
			buf[(*pos)++] = '%';
			hex_encode_upper(&c, 1, buf + *pos);
			*pos += 2;
		}
	}
	buf[*pos] = '\0';
	return 0;
}

static int
lit_append(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + n + 1 >= size)
		return UK_ERR_LIMIT;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return 0;
}

/* The canonical URI of u's token with object label object (and u's id when
 * with_id). */
static int
token_uri(const struct ca_p11_uri *u, const char *object, int with_id,
    char *buf, size_t size)
{
	size_t pos = 0;
	int r = 0;

	r |= lit_append(buf, size, &pos, "pkcs11:");
	if (u->token != NULL) {
		r |= lit_append(buf, size, &pos, "token=");
		r |= pct_append(buf, size, &pos, u->token, strlen(u->token));
		r |= lit_append(buf, size, &pos, ";");
	}
	if (u->serial != NULL) {
		r |= lit_append(buf, size, &pos, "serial=");
		r |= pct_append(buf, size, &pos, u->serial, strlen(u->serial));
		r |= lit_append(buf, size, &pos, ";");
	}
	if (u->manufacturer != NULL) {
		r |= lit_append(buf, size, &pos, "manufacturer=");
		r |= pct_append(buf, size, &pos, u->manufacturer,
		    strlen(u->manufacturer));
		r |= lit_append(buf, size, &pos, ";");
	}
	if (u->model != NULL) {
		r |= lit_append(buf, size, &pos, "model=");
		r |= pct_append(buf, size, &pos, u->model, strlen(u->model));
		r |= lit_append(buf, size, &pos, ";");
	}
	r |= lit_append(buf, size, &pos, "object=");
	r |= pct_append(buf, size, &pos, object, strlen(object));
	if (with_id && u->id != NULL) {
		r |= lit_append(buf, size, &pos, ";id=");
		r |=
		    pct_append(buf, size, &pos, (const char *)u->id, u->id_len);
	}
	r |= lit_append(buf, size, &pos, "?module-path=");
	r |= pct_append(buf, size, &pos, u->module, strlen(u->module));
	return r != 0 ? UK_ERR_LIMIT : 0;
}

/* Whether module is in the comma-separated list. */
static int
module_listed(const char *list, const char *module)
{
	size_t n = strlen(module);
	const char *p, *e;

	for (p = list; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		while (*p == ' ' || *p == '\t')
			p++;
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == n && memcmp(p, module, n) == 0)
			return 1;
		while (*e != '\0' && *e != ',')
			e++;
	}
	return 0;
}

int
ca_p11_module_allowed(const struct ca_config *cfg, const char *module)
{
	if (cfg == NULL || module == NULL || module[0] != '/')
		return 0;
	return (cfg->pkcs11_module != NULL &&
	           strcmp(cfg->pkcs11_module, module) == 0) ||
	    module_listed(cfg->pkcs11_module_allowlist, module);
}

/*
 * Refuses the token URI ref unless its module-path is the configured
 * [ca] pkcs11_module, on [ca] pkcs11_module_allowlist, or the one given to
 * ca_init on the command line: the URI itself comes from the store, and
 * whoever can write the store must not choose the code ukey-ca loads (and
 * hands the PIN to).
 */
static int
module_check(struct ca *ca, const char *ref)
{
	struct ca_p11_uri *u = NULL;
	int r;

	if (!ca_key_ref_is_token(ref))
		return 0;
	if ((r = ca_p11_uri_parse(ref, &u, ca->err, sizeof(ca->err))) != 0)
		return r;
	if (ca_p11_module_allowed(&ca->cfg, u->module) ||
	    (ca->init_module != NULL &&
	        strcmp(ca->init_module, u->module) == 0))
		r = 0;
	else {
		ca_seterr(ca,
		    "the stored key names PKCS#11 module %.200s, which is "
		    "neither [ca] pkcs11_module nor on "
		    "[ca] pkcs11_module_allowlist",
		    u->module);
		r = UK_ERR_TOKEN_MODULE_NOT_ALLOWED;
	}
	ca_p11_uri_free(u);
	return r;
}

/* Opens ca's token with pin unless it is open. */
static int
token_ensure(struct ca *ca, const struct secret *pin)
{
	int r;

	if (ca->token != NULL)
		return 0;
	if (pin == NULL)
		return UK_ERR_SECRET_EMPTY;
	if ((r = module_check(ca, ca->key_ref)) != 0)
		return r;
	r = ca_token_open(ca->key_ref, pin, &ca->token, ca->err,
	    sizeof(ca->err));
	return r;
}

/* Loads the key at ref (file path or token URI) and checks it is cert's. */
static int
load_key(struct ca *ca, const char *ref, const struct secret *pass, X509 *cert,
    struct ca_key **out)
{
	struct ca_p11_uri *u = NULL;
	struct ca_key *k = NULL;
	int r;

	*out = NULL;
	if (pass == NULL || pass->len == 0) {
		ca_seterr(ca, "no passphrase or PIN given");
		return UK_ERR_SECRET_EMPTY;
	}
	if (ca_key_ref_is_token(ref)) {
		if ((r = module_check(ca, ref)) != 0)
			goto out;
		if ((r = ca_p11_uri_parse(ref, &u, ca->err, sizeof(ca->err))) !=
		    0)
			goto out;
		if ((r = token_ensure(ca, pass)) != 0)
			goto out;
		if ((r = ca_token_key(ca->token, u->object, u->id, u->id_len,
		         &k, ca->err, sizeof(ca->err))) != 0)
			goto out;
	} else if ((r = ca_key_load_file(ref, pass, &k, ca->err,
	                sizeof(ca->err))) != 0)
		goto out;
	if (!ca_key_matches(k, cert)) {
		ca_seterr(ca,
		    "the key at %s does not belong to the CA's "
		    "certificate",
		    ref);
		r = UK_ERR_CA_KEY;
		goto out;
	}
	*out = k;
	k = NULL;
	r = 0;
out:
	ca_key_free(k);
	ca_p11_uri_free(u);
	return r;
}

int
ca_unlock(struct ca *ca, const struct secret *pass)
{
	if (ca->key != NULL)
		return 0;
	return load_key(ca, ca->key_ref, pass, ca->issuing, &ca->key);
}

int
ca_load_ocsp_key(struct ca *ca, const struct secret *pass, EVP_PKEY **out)
{
	struct ca_key *k = NULL;
	int r;

	*out = NULL;
	if (ca->ocsp == NULL || ca->ocsp_key_ref == NULL) {
		ca_seterr(ca, "the CA has no OCSP signer");
		return UK_ERR_CA_NOT_INITIALISED;
	}
	if ((r = load_key(ca, ca->ocsp_key_ref, pass, ca->ocsp, &k)) != 0)
		return r;
	*out = ca_key_private(k);
	EVP_PKEY_up_ref(*out);
	/* The token (if any) stays open in ca->token for the EVP_PKEY. */
	ca_key_free(k);
	return 0;
}

/* ---- issuing ---- */

/* RFC 2253 text of name, UTF-8 kept. malloc'd. */
static char *
name_text(const X509_NAME *name)
{
	BIO *bio;
	BUF_MEM *mem;
	char *s = NULL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		BIO_get_mem_ptr(bio, &mem);
		if ((s = malloc(mem->length + 1)) != NULL) {
			memcpy(s, mem->data, mem->length);
			s[mem->length] = '\0';
		}
	}
	BIO_free(bio);
	return s;
}

/* The key type of a certificate's public key (0 when it is none of ours). */
static enum ca_key_type
pkey_kind(EVP_PKEY *pk)
{
	enum ca_key_type t = 0;

	if (ca_csr_check_key(pk, 2048, &t, NULL, 0) != 0)
		return 0;
	return t;
}

/* JSON text {"k1":"v1",...} from NULL-terminated key/value pairs (NULL
 * values left out). malloc'd. */
static char *
detail_json(const char *k, ...)
{
	json_t *o;
	va_list ap;
	const char *v;
	char *s = NULL;

	if ((o = json_object()) == NULL)
		return NULL;
	va_start(ap, k);
	for (; k != NULL; k = va_arg(ap, const char *)) {
		v = va_arg(ap, const char *);
		if (v != NULL && json_object_set_new(o, k, json_string(v)) != 0)
			goto out;
	}
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
out:
	va_end(ap);
	json_decref(o);
	return s;
}

/* Sleeps a little before retrying a busy transaction. */
static void
busy_wait(int attempt)
{
	struct timespec ts = { 0, (long)(20 + 40 * attempt) * 1000000L };

	nanosleep(&ts, NULL);
}

/* What insert_cert stored. */
struct stored_cert {
	char serial[CA_SERIAL_HEX_MAX];
	char sha256[65];
	char *subject; /* malloc'd RFC 2253 text */
	time_t not_before, not_after;
};

/* Inserts the signed certificate x as an active certs row. unit and
 * operator may be NULL (the CA's own OCSP signer). */
static int
insert_cert(struct ca *ca, X509 *x, const char *unit, const char *operator,
    enum ca_profile prof, const char *replaces, time_t now,
    struct stored_cert *sc)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	struct tm tm;
	int dlen, r = UK_ERR_NOMEM;

	memset(sc, 0, sizeof(*sc));
	if ((dlen = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)dlen, md, &mdlen, EVP_sha256(), NULL) ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	        NULL ||
	    (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= CA_SERIAL_HEX_MAX ||
	    (sc->subject = name_text(X509_get_subject_name(x))) == NULL)
		goto out;
	hex_encode(md, mdlen, sc->sha256);
	memcpy(sc->serial, hex, strlen(hex) + 1);
	r = UK_ERR_INTERNAL;
	if (!ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm))
		goto out;
	sc->not_before = timegm(&tm);
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		goto out;
	sc->not_after = timegm(&tm);
	if ((r = store_exec(ca->st, NULL,
	         "INSERT INTO certs (serial, unit_id, operator, profile,"
	         " subject, key_type, not_before, not_after, status,"
	         " revoked_at, reason, sha256, der, issued_at, replaces)"
	         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, NULL, ?,"
	         " ?, ?, ?)",
	         "ttttttiitbit", sc->serial, unit, operator,
	         ca_profile_name(prof), sc->subject,
	         ca_key_type_name(pkey_kind(X509_get0_pubkey(x))),
	         (int64_t)sc->not_before, (int64_t)sc->not_after, sc->sha256,
	         der, (size_t)dlen, (int64_t)now, replaces)) != 0) {
		r = store_fail(ca, r, "storing the certificate");
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		free(sc->subject);
		sc->subject = NULL;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	OPENSSL_free(der);
	return r;
}

/* SHA-256 of pub's SubjectPublicKeyInfo DER. Returns 0 or UK_ERR_NOMEM. */
static int
spki_sha256(EVP_PKEY *pub, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int dlen, r = UK_ERR_NOMEM;

	if ((dlen = i2d_PUBKEY(pub, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)dlen, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		goto out;
	r = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

/* Refuses pub when it is the key of a revoked certificate of unit (other
 * than replaces, the one a reissue supersedes in this transaction): a key
 * once revoked is never certified again. The caller holds the unit lock.
 * Returns 0, UK_ERR_CSR_KEY or a store error. */
static int
key_revoked_in_tx(struct ca *ca, EVP_PKEY *pub, const char *unit,
    const char *replaces)
{
	struct store_res *res = NULL;
	unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	const unsigned char *der;
	X509 *x = NULL;
	size_t i, len;
	int r;

	if ((r = spki_sha256(pub, want)) != 0)
		goto out;
	if ((r = store_exec(ca->st, &res,
	         "SELECT der FROM certs WHERE unit_id = ? AND"
	         " status = 'revoked' AND serial <> ?",
	         "tt", unit, replaces != NULL ? replaces : "")) != 0) {
		r = store_fail(ca, r,
		    "reading the unit's revoked certificates");
		goto out;
	}
	for (i = 0; i < store_res_rows(res); i++) {
		der = store_res_blob(res, i, 0, &len);
		if ((r = cert_from_der(der, len, &x)) != 0) {
			ca_seterr(ca,
			    "a stored certificate of unit %s is damaged", unit);
			goto out;
		}
		r = spki_sha256(X509_get0_pubkey(x), got);
		X509_free(x);
		x = NULL;
		if (r != 0)
			goto out;
		if (CRYPTO_memcmp(want, got, 32) == 0) {
			ca_seterr(ca,
			    "this key was revoked; generate a new key "
			    "on the UKey");
			r = UK_ERR_CSR_KEY;
			goto out;
		}
	}
	r = 0;
out:
	store_res_free(res);
	return r;
}

/* Signs and stores one certificate; the caller holds a write transaction.
 * The unit limit and revoked keys are checked here. */
static int
issue_in_tx(struct ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
    const struct ca_issue_req *req, const char *replaces, struct ca_issued *out)
{
	struct ca_cert_spec spec;
	struct stored_cert sc;
	struct store_res *res = NULL;
	BIGNUM *serial = NULL;
	X509 *x = NULL;
	char *detail = NULL, days[16];
	time_t now = time(NULL);
	enum ca_profile prof =
	    req->profile ? req->profile : CA_PROFILE_OPERATOR;
	int ndays, r;

	memset(&sc, 0, sizeof(sc));
	if ((r = store_exec(ca->st, NULL,
	         "INSERT INTO units (id, name, created_at) VALUES (?, NULL, ?)"
	         " ON CONFLICT DO NOTHING",
	         "ti", req->unit, (int64_t)now)) != 0) {
		r = store_fail(ca, r, "creating the unit");
		goto out;
	}
	if ((r = store_exec(ca->st, NULL,
	         "SELECT id FROM units WHERE id = ? FOR UPDATE", "t",
	         req->unit)) != 0) {
		r = store_fail(ca, r, "locking the unit");
		goto out;
	}
	if ((r = store_exec(ca->st, &res,
	         "SELECT COUNT(*) FROM certs WHERE unit_id = ? AND"
	         " status = 'active' AND not_after > ?",
	         "ti", req->unit, (int64_t)now)) != 0) {
		r = store_fail(ca, r, "counting the unit's certificates");
		goto out;
	}
	if (store_res_int(res, 0, 0) >= 2) {
		ca_seterr(ca, "unit %s already has %lld active certificates",
		    req->unit, (long long)store_res_int(res, 0, 0));
		r = UK_ERR_UNIT_CERT_LIMIT;
		goto out;
	}
	if ((r = key_revoked_in_tx(ca, pub, req->unit, replaces)) != 0)
		goto out;
	switch (prof) {
	case CA_PROFILE_STAFF:
		ndays = ca->cfg.staff_days;
		break;
	case CA_PROFILE_OCSP:
		ndays = ca->cfg.ocsp_days;
		break;
	default:
		ndays = ca->cfg.operator_days;
		break;
	}
	if (req->days > 0)
		ndays = req->days;
	if ((r = ca_serial_new(&serial)) != 0)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.kind = CA_KIND_LEAF;
	spec.profile = prof;
	spec.serial = serial;
	spec.not_before = now - CA_BACKDATE_SECS;
	spec.not_after = now + (time_t)ndays * 86400;
	spec.subject = subject;
	spec.pub = pub;
	spec.issuer = ca->issuing;
	spec.crl_url = ca->cfg.crl_url;
	spec.ocsp_url = ca->cfg.ocsp_url;
	if ((r = ca_profile_build(&spec, &x)) != 0) {
		ca_seterr(ca, "cannot build the certificate");
		goto out;
	}
	if ((r = ca_key_sign_cert(ca->key, x)) != 0) {
		ca_seterr(ca, "signing with the CA key failed");
		goto out;
	}
	if ((r = insert_cert(ca, x, req->unit, req->operator, prof, replaces,
	         now, &sc)) != 0)
		goto out;
	snprintf(days, sizeof(days), "%d", ndays);
	r = UK_ERR_NOMEM;
	if ((detail = detail_json("unit", req->unit, "operator", req->operator,
	         "profile", ca_profile_name(prof), "subject", sc.subject,
	         "sha256", sc.sha256, "days", days, "replaces", replaces,
	         NULL)) == NULL)
		goto out;
	if ((r = audit_append(ca->st, "cert.issue",
	         req->actor ? req->actor : "ca", sc.serial, detail,
	         out->event_id)) != 0) {
		r = store_fail(ca, r, "auditing the issuance");
		goto out;
	}
	memcpy(out->serial, sc.serial, sizeof(sc.serial));
	out->not_before = sc.not_before;
	out->not_after = sc.not_after;
	out->cert = x;
	x = NULL;
	r = 0;
out:
	free(detail);
	free(sc.subject);
	X509_free(x);
	BN_free(serial);
	store_res_free(res);
	return r;
}

static int
renew_ocsp_in_tx(struct ca *ca, const char *actor, struct ca_issued *out)
{
	struct ca_cert_spec spec;
	struct stored_cert sc;
	BIGNUM *serial = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	char *detail = NULL;
	time_t now = time(NULL);
	int dlen, r;

	memset(&sc, 0, sizeof(sc));
	if ((r = ca_serial_new(&serial)) != 0)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.kind = CA_KIND_LEAF;
	spec.profile = CA_PROFILE_OCSP;
	spec.serial = serial;
	spec.not_before = now - CA_BACKDATE_SECS;
	spec.not_after = now + (time_t)ca->cfg.ocsp_days * 86400;
	spec.subject = X509_get_subject_name(ca->ocsp);
	spec.pub = X509_get0_pubkey(ca->ocsp);
	spec.issuer = ca->issuing;
	if ((r = ca_profile_build(&spec, &x)) != 0 ||
	    (r = ca_key_sign_cert(ca->key, x)) != 0) {
		ca_seterr(ca, "cannot make the OCSP signer certificate");
		goto out;
	}
	if ((r = insert_cert(ca, x, NULL, NULL, CA_PROFILE_OCSP, NULL, now,
	         &sc)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((dlen = i2d_X509(x, &der)) <= 0)
		goto out;
	if ((r = store_exec(ca->st, NULL,
	         "UPDATE ca SET ocsp_der = ? WHERE id = 1", "b", der,
	         (size_t)dlen)) != 0) {
		r = store_fail(ca, r, "storing the OCSP signer");
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((detail = detail_json("profile", "ocsp", "subject", sc.subject,
	         "sha256", sc.sha256, NULL)) == NULL)
		goto out;
	if ((r = audit_append(ca->st, "ca.renew_ocsp", actor ? actor : "ca",
	         sc.serial, detail, out->event_id)) != 0) {
		r = store_fail(ca, r, "auditing the renewal");
		goto out;
	}
	if ((r = store_notify(ca->st)) != 0) {
		r = store_fail(ca, r, "notifying other processes");
		goto out;
	}
	memcpy(out->serial, sc.serial, sizeof(sc.serial));
	out->not_before = sc.not_before;
	out->not_after = sc.not_after;
	out->cert = x;
	x = NULL;
	r = 0;
out:
	free(detail);
	free(sc.subject);
	OPENSSL_free(der);
	X509_free(x);
	BN_free(serial);
	return r;
}

int
ca_renew_ocsp(struct ca *ca, const char *actor, struct ca_issued *out)
{
	int r, attempt;

	memset(out, 0, sizeof(*out));
	if (ca->ocsp == NULL) {
		ca_seterr(ca, "the CA has no OCSP signer");
		return UK_ERR_CA_NOT_INITIALISED;
	}
	if (ca->key == NULL) {
		ca_seterr(ca, "the CA key is not unlocked");
		return UK_ERR_CA_KEY;
	}
	for (attempt = 0;; attempt++) {
		if ((r = store_begin(ca->st, STORE_TX_WRITE)) != 0)
			r = store_fail(ca, r, "starting a transaction");
		else if ((r = renew_ocsp_in_tx(ca, actor, out)) == 0 &&
		    (r = store_commit(ca->st)) != 0)
			r = store_fail(ca, r, "committing the renewal");
		store_rollback(ca->st);
		if (r == 0)
			break;
		ca_issued_clear(out);
		if (r != UK_ERR_STORE_BUSY || attempt >= CA_BUSY_RETRIES)
			break;
		busy_wait(attempt);
	}
	if (r == 0) {
		X509_free(ca->ocsp);
		X509_up_ref(out->cert);
		ca->ocsp = out->cert;
	}
	return r;
}

/* Checks the parts of req a person typed. */
static int
req_check(struct ca *ca, const struct ca_issue_req *req)
{
	if (!text_ok(req->unit, CA_UNIT_MAX)) {
		ca_seterr(ca, "the unit must be 1 to %d bytes of text",
		    CA_UNIT_MAX);
		return UK_ERR_USAGE;
	}
	if (!text_ok(req->operator, CA_OPERATOR_MAX)) {
		ca_seterr(ca, "the operator must be 1 to %d bytes of text",
		    CA_OPERATOR_MAX);
		return UK_ERR_USAGE;
	}
	if (req->days < 0 || req->days > 3650) {
		ca_seterr(ca, "days must be 1 to 3650");
		return UK_ERR_USAGE;
	}
	if (req->profile == CA_PROFILE_OCSP) {
		ca_seterr(ca,
		    "OCSP signer certificates are made only by init and "
		    "renew-ocsp, never for a request");
		return UK_ERR_CA_PROFILE;
	}
	if (req->profile != 0 && req->profile != CA_PROFILE_OPERATOR &&
	    req->profile != CA_PROFILE_STAFF) {
		ca_seterr(ca, "unknown profile");
		return UK_ERR_USAGE;
	}
	return 0;
}

/* "CN=<operator>, OU=<unit>" for requests whose subject keeps nothing
 * (OU left out when the unit is too long for it). */
static int
default_subject(struct ca *ca, const struct ca_issue_req *req, X509_NAME **out)
{
	X509_NAME *n = NULL;
	int r = UK_ERR_USAGE;

	*out = NULL;
	if (utf8_len(req->operator) > 64 || (n = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	        (const unsigned char *)req->operator, - 1, -1, 0) ||
	    (utf8_len(req->unit) <= 64 &&
	        !X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName,
	            MBSTRING_UTF8, (const unsigned char *)req->unit, -1, -1,
	            0))) {
		ca_seterr(ca, "cannot make a subject from the operator's name");
		goto out;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	X509_NAME_free(n);
	ERR_clear_error();
	return r;
}

static int revoke_in_tx(struct ca *, const char *, int, const char *, char[33]);

/* Looks up the certificate a reissue replaces (locked), fills req with its
 * unit, operator and profile (pointing into *res, owned by the caller) and
 * revokes it as superseded. */
static int
supersede_in_tx(struct ca *ca, const char *sn, const char *actor,
    struct ca_issue_req *req, struct store_res **res)
{
	enum ca_profile prof;
	char ev[33];
	int r;

	if ((r = store_exec(ca->st, res,
	         "SELECT unit_id, operator, profile, status FROM certs"
	         " WHERE serial = ? FOR UPDATE",
	         "t", sn)) != 0)
		return store_fail(ca, r, "looking up the certificate");
	if (store_res_rows(*res) == 0) {
		ca_seterr(ca, "no certificate with serial %s", sn);
		return UK_ERR_CERT_NOT_FOUND;
	}
	if (strcmp(store_res_text(*res, 0, 3), "active") != 0) {
		ca_seterr(ca, "certificate %s is already revoked", sn);
		return UK_ERR_CERT_ALREADY_REVOKED;
	}
	if (store_res_isnull(*res, 0, 0) || store_res_isnull(*res, 0, 1) ||
	    ca_profile_parse(store_res_text(*res, 0, 2), &prof) != 0 ||
	    prof == CA_PROFILE_OCSP) {
		ca_seterr(ca, "certificate %s belongs to no unit and operator",
		    sn);
		return UK_ERR_USAGE;
	}
	memset(req, 0, sizeof(*req));
	req->unit = store_res_text(*res, 0, 0);
	req->operator= store_res_text(*res, 0, 1);
	req->profile = prof;
	req->actor = actor;
	return revoke_in_tx(ca, sn, CA_REASON_SUPERSEDED, actor, ev);
}

/* One issuance inside the caller's write transaction. With sn set (a
 * reissue) the certificate sn is revoked first and req comes from it; else
 * req is the caller's. filtered is the request's subject after
 * ca_csr_filter_subject (NULL or empty: CN=operator, OU=unit). */
static int
issue_tx(struct ca *ca, EVP_PKEY *pub, const X509_NAME *filtered,
    const struct ca_issue_req *creq, const char *sn, const char *actor,
    struct ca_issued *out)
{
	struct store_res *res = NULL;
	struct ca_issue_req rreq;
	const struct ca_issue_req *req = creq;
	const X509_NAME *subject = filtered;
	X509_NAME *fallback = NULL;
	char *detail = NULL;
	int r;

	if (sn != NULL) {
		if ((r = supersede_in_tx(ca, sn, actor, &rreq, &res)) != 0)
			goto out;
		req = &rreq;
	}
	if (filtered == NULL || X509_NAME_entry_count(filtered) == 0) {
		/* No usable subject: name the operator and the unit. */
		if ((r = default_subject(ca, req, &fallback)) != 0)
			goto out;
		subject = fallback;
	}
	if ((r = issue_in_tx(ca, pub, subject, req, sn, out)) != 0)
		goto out;
	if (sn != NULL) {
		r = UK_ERR_NOMEM;
		if ((detail = detail_json("replaces", sn, "unit", req->unit,
		         "operator", req->operator, NULL)) == NULL)
			goto out;
		if ((r = audit_append(ca->st, "cert.reissue",
		         actor ? actor : "ca", out->serial, detail, NULL)) !=
		    0) {
			r = store_fail(ca, r, "auditing the reissue");
			goto out;
		}
	}
	if ((r = store_notify(ca->st)) != 0) {
		r = store_fail(ca, r, "notifying other processes");
		goto out;
	}
	r = 0;
out:
	X509_NAME_free(fallback);
	free(detail);
	store_res_free(res);
	return r;
}

/* The one path of ca_issue, ca_issue_key and ca_reissue: checks the key and
 * the subject outside the transaction, then runs issue_tx, retrying while
 * the store is busy. req is the request (issue) or NULL with sn set
 * (reissue). */
static int
issue_common(struct ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
    const struct ca_issue_req *req, const char *sn, const char *actor,
    struct ca_issued *out)
{
	X509_NAME *filtered = NULL;
	enum ca_key_type kt;
	int r, attempt;

	memset(out, 0, sizeof(*out));
	if (req != NULL && (r = req_check(ca, req)) != 0)
		return r;
	if (ca->key == NULL) {
		ca_seterr(ca, "the CA key is not unlocked");
		return UK_ERR_CA_KEY;
	}
	if ((r = ca_csr_check_key(pub, ca->cfg.min_rsa_bits, &kt, ca->err,
	         sizeof(ca->err))) != 0)
		return r;
	if (subject != NULL &&
	    (r = ca_csr_filter_subject(subject, &filtered, ca->err,
	         sizeof(ca->err))) != 0)
		return r;
	for (attempt = 0;; attempt++) {
		if ((r = store_begin(ca->st, STORE_TX_WRITE)) != 0)
			r = store_fail(ca, r, "starting a transaction");
		else if ((r = issue_tx(ca, pub, filtered, req, sn, actor,
		              out)) == 0 &&
		    (r = store_commit(ca->st)) != 0)
			r = store_fail(ca, r, "committing the issuance");
		store_rollback(ca->st);
		if (r == 0)
			break;
		ca_issued_clear(out);
		if (r != UK_ERR_STORE_BUSY || attempt >= CA_BUSY_RETRIES)
			break;
		busy_wait(attempt);
	}
	X509_NAME_free(filtered);
	ERR_clear_error();
	return r;
}

int
ca_issue(struct ca *ca, const struct ca_csr *csr,
    const struct ca_issue_req *req, struct ca_issued *out)
{
	return issue_common(ca, ca_csr_pubkey(csr), ca_csr_subject(csr), req,
	    NULL, req->actor, out);
}

int
ca_issue_key(struct ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
    const struct ca_issue_req *req, struct ca_issued *out)
{
	return issue_common(ca, pub, subject, req, NULL, req->actor, out);
}

/* ---- revoking ---- */

/* Revokes serial inside the caller's write transaction. */
static int
revoke_in_tx(struct ca *ca, const char *serial, int reason, const char *actor,
    char event_id[33])
{
	struct store_res *res = NULL;
	char *detail = NULL, rs[8];
	int r;

	if ((r = store_exec(ca->st, NULL,
	         "UPDATE certs SET status = 'revoked', revoked_at = ?,"
	         " reason = ? WHERE serial = ? AND status = 'active'",
	         "iit", (int64_t)time(NULL), (int64_t)reason, serial)) != 0) {
		r = store_fail(ca, r, "revoking");
		goto out;
	}
	if (store_changes(ca->st) != 1) {
		if ((r = store_exec(ca->st, &res,
		         "SELECT status FROM certs WHERE serial = ?", "t",
		         serial)) != 0) {
			r = store_fail(ca, r, "looking up the certificate");
			goto out;
		}
		if (store_res_rows(res) == 0) {
			ca_seterr(ca, "no certificate with serial %s", serial);
			r = UK_ERR_CERT_NOT_FOUND;
		} else {
			ca_seterr(ca, "certificate %s is already revoked",
			    serial);
			r = UK_ERR_CERT_ALREADY_REVOKED;
		}
		goto out;
	}
	snprintf(rs, sizeof(rs), "%d", reason);
	if ((detail = detail_json("reason", ca_reason_name(reason), "code", rs,
	         NULL)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = audit_append(ca->st, "cert.revoke", actor ? actor : "ca",
	         serial, detail, event_id)) != 0) {
		r = store_fail(ca, r, "auditing the revocation");
		goto out;
	}
	if ((r = store_notify(ca->st)) != 0) {
		r = store_fail(ca, r, "notifying other processes");
		goto out;
	}
	r = 0;
out:
	free(detail);
	store_res_free(res);
	return r;
}

int
ca_revoke(struct ca *ca, const char *serial, int reason, const char *actor,
    char event_id[33])
{
	char sn[CA_SERIAL_HEX_MAX], ev[33];
	int r, attempt;

	if (ca_serial_normalise(serial, sn) != 0) {
		ca_seterr(ca, "not a certificate serial (hex)");
		return UK_ERR_INPUT;
	}
	if (!reason_accepted(reason)) {
		ca_seterr(ca, "revocation reason %d is not accepted", reason);
		return UK_ERR_CA_REASON;
	}
	for (attempt = 0;; attempt++) {
		if ((r = store_begin(ca->st, STORE_TX_WRITE)) != 0)
			r = store_fail(ca, r, "starting a transaction");
		else if ((r = revoke_in_tx(ca, sn, reason, actor, ev)) == 0 &&
		    (r = store_commit(ca->st)) != 0)
			r = store_fail(ca, r, "committing the revocation");
		store_rollback(ca->st);
		if (r != UK_ERR_STORE_BUSY || attempt >= CA_BUSY_RETRIES)
			break;
		busy_wait(attempt);
	}
	if (r == 0 && event_id != NULL)
		memcpy(event_id, ev, sizeof(ev));
	return r;
}

int
ca_reissue(struct ca *ca, const char *serial, const struct ca_csr *csr,
    const char *actor, struct ca_issued *out)
{
	char sn[CA_SERIAL_HEX_MAX];

	memset(out, 0, sizeof(*out));
	if (ca_serial_normalise(serial, sn) != 0) {
		ca_seterr(ca, "not a certificate serial (hex)");
		return UK_ERR_INPUT;
	}
	return issue_common(ca, ca_csr_pubkey(csr), ca_csr_subject(csr), NULL,
	    sn, actor, out);
}

/* ---- CRL ---- */

static int
crl_in_tx(struct ca *ca, const char *actor, X509_CRL **out)
{
	struct store_res *res = NULL, *nres = NULL;
	struct ca_crl_entry *v = NULL;
	char *detail = NULL, num[24], cnt[24];
	time_t now = time(NULL);
	int64_t number;
	size_t i, n;
	int r;

	if ((r = store_exec(ca->st, NULL,
	         "UPDATE ca SET crl_number = crl_number + 1 WHERE id = 1",
	         "")) != 0 ||
	    (r = store_exec(ca->st, &nres,
	         "SELECT crl_number FROM ca WHERE id = 1", "")) != 0) {
		r = store_fail(ca, r, "numbering the CRL");
		goto out;
	}
	number = store_res_int(nres, 0, 0);
	if ((r = store_exec(ca->st, &res,
	         "SELECT serial, revoked_at, reason FROM certs"
	         " WHERE status = 'revoked'",
	         "")) != 0) {
		r = store_fail(ca, r, "listing revoked certificates");
		goto out;
	}
	n = store_res_rows(res);
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		v[i].serial = store_res_text(res, i, 0);
		v[i].revoked_at = store_res_int(res, i, 1);
		v[i].reason = store_res_isnull(res, i, 2)
		    ? 0
		    : (int)store_res_int(res, i, 2);
	}
	if ((r = ca_crl_build(ca->key, ca->issuing, number, now,
	         now + ca->cfg.crl_next_update_secs, v, n, out)) != 0) {
		ca_seterr(ca, "cannot build or sign the CRL");
		goto out;
	}
	snprintf(num, sizeof(num), "%lld", (long long)number);
	snprintf(cnt, sizeof(cnt), "%zu", n);
	if ((detail = detail_json("crl_number", num, "entries", cnt, NULL)) ==
	    NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = audit_append(ca->st, "ca.crl", actor ? actor : "ca", num,
	         detail, NULL)) != 0) {
		r = store_fail(ca, r, "auditing the CRL");
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		X509_CRL_free(*out);
		*out = NULL;
	}
	free(detail);
	free(v);
	store_res_free(res);
	store_res_free(nres);
	return r;
}

int
ca_crl(struct ca *ca, const char *actor, X509_CRL **out)
{
	int r, attempt;

	*out = NULL;
	if (ca->key == NULL) {
		ca_seterr(ca, "the CA key is not unlocked");
		return UK_ERR_CA_KEY;
	}
	for (attempt = 0;; attempt++) {
		if ((r = store_begin(ca->st, STORE_TX_WRITE)) != 0)
			r = store_fail(ca, r, "starting a transaction");
		else if ((r = crl_in_tx(ca, actor, out)) == 0 &&
		    (r = store_commit(ca->st)) != 0)
			r = store_fail(ca, r, "committing the CRL number");
		store_rollback(ca->st);
		if (r == 0)
			break;
		X509_CRL_free(*out);
		*out = NULL;
		if (r != UK_ERR_STORE_BUSY || attempt >= CA_BUSY_RETRIES)
			break;
		busy_wait(attempt);
	}
	return r;
}

/* ---- listing ---- */

#define INFO_COLS                                                              \
	"serial, unit_id, operator, profile, subject, key_type, status,"       \
	" sha256, replaces, not_before, not_after, issued_at, revoked_at,"     \
	" reason"

static int
info_fill(const struct store_res *res, size_t row, struct ca_cert_info *e)
{
	const char *s = store_res_text(res, row, 0);

	if (s == NULL || strlen(s) >= CA_SERIAL_HEX_MAX)
		return UK_ERR_INTERNAL;
	memcpy(e->serial, s, strlen(s) + 1);
#define DUP(field, col)                                                        \
	do {                                                                   \
		if (!store_res_isnull(res, row, (col)) &&                      \
		    ((field) = strdup(store_res_text(res, row, (col)))) ==     \
		        NULL)                                                  \
			return UK_ERR_NOMEM;                                   \
	} while (0)
	DUP(e->unit_id, 1);
	DUP(e->operator, 2);
	DUP(e->profile, 3);
	DUP(e->subject, 4);
	DUP(e->key_type, 5);
	DUP(e->status, 6);
	DUP(e->sha256, 7);
	DUP(e->replaces, 8);
#undef DUP
	e->not_before = store_res_int(res, row, 9);
	e->not_after = store_res_int(res, row, 10);
	e->issued_at = store_res_int(res, row, 11);
	e->revoked_at =
	    store_res_isnull(res, row, 12) ? 0 : store_res_int(res, row, 12);
	e->reason = store_res_isnull(res, row, 13)
	    ? -1
	    : (int)store_res_int(res, row, 13);
	return 0;
}

int
ca_list(struct ca *ca, const char *unit, struct ca_cert_info **out, size_t *n)
{
	struct store_res *res = NULL;
	struct ca_cert_info *v = NULL;
	size_t i, rows = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (unit != NULL)
		r = store_exec(ca->st, &res,
		    "SELECT " INFO_COLS " FROM certs WHERE unit_id = ?"
		    " ORDER BY issued_at, serial",
		    "t", unit);
	else
		r = store_exec(ca->st, &res,
		    "SELECT " INFO_COLS " FROM certs"
		    " ORDER BY issued_at, serial",
		    "");
	if (r != 0) {
		r = store_fail(ca, r, "listing certificates");
		goto out;
	}
	rows = store_res_rows(res);
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		if ((r = info_fill(res, i, &v[i])) != 0)
			goto out;
	*out = v;
	*n = rows;
	v = NULL;
	r = 0;
out:
	ca_cert_info_free(v, rows);
	store_res_free(res);
	return r;
}

int
ca_show(struct ca *ca, const char *serial, struct ca_cert_info **out)
{
	struct store_res *res = NULL;
	struct ca_cert_info *v = NULL;
	const unsigned char *der;
	char sn[CA_SERIAL_HEX_MAX];
	size_t len;
	int r;

	*out = NULL;
	if (ca_serial_normalise(serial, sn) != 0) {
		ca_seterr(ca, "not a certificate serial (hex)");
		return UK_ERR_INPUT;
	}
	if ((r = store_exec(ca->st, &res,
	         "SELECT " INFO_COLS ", der FROM certs WHERE serial = ?", "t",
	         sn)) != 0) {
		r = store_fail(ca, r, "looking up the certificate");
		goto out;
	}
	if (store_res_rows(res) == 0) {
		ca_seterr(ca, "no certificate with serial %s", sn);
		r = UK_ERR_CERT_NOT_FOUND;
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto out;
	if ((r = info_fill(res, 0, v)) != 0)
		goto out;
	der = store_res_blob(res, 0, 14, &len);
	r = UK_ERR_NOMEM;
	if (der != NULL && len > 0) {
		if ((v->der = malloc(len)) == NULL)
			goto out;
		memcpy(v->der, der, len);
		v->der_len = len;
	}
	*out = v;
	v = NULL;
	r = 0;
out:
	ca_cert_info_free(v, 1);
	store_res_free(res);
	return r;
}

/* ---- init ---- */

/* Makes path absolute (its directory must exist). malloc'd. */
static char *
abs_path(const char *path)
{
	char dir[PATH_MAX], *slash, *out = NULL, *real = NULL;
	const char *base;
	size_t n;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(dir))
		return NULL;
	memcpy(dir, path, strlen(path) + 1);
	if ((slash = strrchr(dir, '/')) == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
		base = path;
	} else {
		base = path + (slash - dir) + 1;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return NULL;
	if ((real = realpath(dir, NULL)) == NULL)
		return NULL;
	n = strlen(real) + strlen(base) + 2;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s%s%s", real,
		    real[strlen(real) - 1] == '/' ? "" : "/", base);
	free(real);
	return out;
}

/* "<base><suffix>", malloc'd. */
static char *
str_cat2(const char *base, const char *suffix)
{
	size_t n = strlen(base) + strlen(suffix) + 1;
	char *s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s%s", base, suffix);
	return s;
}

/* The three keys of a new CA. */
struct init_keys {
	struct ca_key *root, *issuing, *ocsp;
	char *files[3]; /* key files written, to remove on failure */
};

static void
init_keys_clear(struct init_keys *k, int remove_files)
{
	int i;

	ca_key_free(k->root);
	ca_key_free(k->issuing);
	ca_key_free(k->ocsp);
	for (i = 0; i < 3; i++) {
		if (remove_files && k->files[i] != NULL)
			(void)unlink(k->files[i]);
		free(k->files[i]);
	}
	memset(k, 0, sizeof(*k));
}

static int
init_file_keys(struct ca *ca, const struct ca_init_params *p, int bits,
    struct init_keys *k)
{
	static const char *const sfx[3] = { ".root", "", ".ocsp" };
	struct ca_key **dst[3] = { &k->root, &k->issuing, &k->ocsp };
	struct stat sb;
	char *base = NULL;
	int i, r = UK_ERR_NOMEM;

	if ((base = abs_path(p->key_file)) == NULL) {
		ca_seterr(ca, "%s: its directory does not exist", p->key_file);
		r = UK_ERR_IO;
		goto out;
	}
	for (i = 0; i < 3; i++) {
		char *f = str_cat2(base, sfx[i]);

		if (f == NULL)
			goto out;
		if (lstat(f, &sb) == 0) {
			ca_seterr(ca, "%s already exists", f);
			free(f);
			r = UK_ERR_EXISTS;
			goto out;
		}
		free(f);
	}
	for (i = 0; i < 3; i++) {
		char *f = str_cat2(base, sfx[i]);

		if (f == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
		r = ca_key_generate_file(ca->key_type, bits, f,
		    i == 2 ? p->ocsp_pass : p->pass, dst[i], ca->err,
		    sizeof(ca->err));
		if (r == 0)
			k->files[i] = f;
		else
			free(f);
		if (r != 0)
			goto out;
	}
	if ((ca->key_ref = strdup(k->files[1])) == NULL ||
	    (ca->ocsp_key_ref = strdup(k->files[2])) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	free(base);
	return r;
}

static int
init_token_keys(struct ca *ca, const struct ca_init_params *p, int bits,
    struct init_keys *k)
{
	struct ca_p11_uri *u = NULL;
	char *labels[3] = { NULL, NULL, NULL }, ref[4096];
	int r;

	if ((r = ca_p11_uri_parse(p->pkcs11_uri, &u, ca->err,
	         sizeof(ca->err))) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	/* Given on the command line: this module may be loaded. */
	if ((ca->init_module = strdup(u->module)) == NULL)
		goto out;
	if ((labels[0] = str_cat2(u->object, "-root")) == NULL ||
	    (labels[1] = strdup(u->object)) == NULL ||
	    (labels[2] = str_cat2(u->object, "-ocsp")) == NULL)
		goto out;
	if ((r = ca_token_generate(p->pkcs11_uri, p->pass,
	         (const char *const *)labels, p->ocsp_key_file != NULL ? 2 : 3,
	         ca->key_type, bits, ca->err, sizeof(ca->err))) != 0)
		goto out;
	/* Generated keys carry fresh CKA_IDs: the references name labels. */
	if ((r = token_uri(u, labels[1], 0, ref, sizeof(ref))) != 0 ||
	    (ca->key_ref = strdup(ref)) == NULL)
		goto nomem;
	if (p->ocsp_key_file != NULL) {
		/* The responder's key off the CA token, under its own
		 * passphrase. */
		if ((k->files[2] = abs_path(p->ocsp_key_file)) == NULL) {
			ca_seterr(ca, "%s: its directory does not exist",
			    p->ocsp_key_file);
			r = UK_ERR_IO;
			goto out;
		}
		if ((r = ca_key_generate_file(ca->key_type, bits, k->files[2],
		         p->ocsp_pass, &k->ocsp, ca->err, sizeof(ca->err))) !=
		    0) {
			free(k->files[2]);
			k->files[2] = NULL;
			goto out;
		}
		if ((ca->ocsp_key_ref = strdup(k->files[2])) == NULL)
			goto nomem;
	} else if ((r = token_uri(u, labels[2], 0, ref, sizeof(ref))) != 0 ||
	    (ca->ocsp_key_ref = strdup(ref)) == NULL)
		goto nomem;
	if ((r = token_ensure(ca, p->pass)) != 0 ||
	    (r = ca_token_key(ca->token, labels[0], NULL, 0, &k->root, ca->err,
	         sizeof(ca->err))) != 0 ||
	    (r = ca_token_key(ca->token, labels[1], NULL, 0, &k->issuing,
	         ca->err, sizeof(ca->err))) != 0 ||
	    (k->ocsp == NULL &&
	        (r = ca_token_key(ca->token, labels[2], NULL, 0, &k->ocsp,
	             ca->err, sizeof(ca->err))) != 0))
		goto out;
	r = 0;
	goto out;
nomem:
	if (r == 0)
		r = UK_ERR_NOMEM;
out:
	free(labels[0]);
	free(labels[1]);
	free(labels[2]);
	ca_p11_uri_free(u);
	return r;
}

/* Builds and signs one CA-side certificate. */
static int
init_cert(struct ca *ca, enum ca_cert_kind kind, const char *suffix,
    struct ca_key *subject_key, X509 *issuer, struct ca_key *signer, time_t now,
    long days, X509 **out)
{
	struct ca_cert_spec spec;
	X509_NAME *name = NULL;
	BIGNUM *serial = NULL;
	char *cn = NULL;
	int r;

	*out = NULL;
	if ((cn = str_cat2(ca->name, suffix)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = ca_name_cn(cn, &name)) != 0 ||
	    (r = ca_serial_new(&serial)) != 0)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.kind = kind;
	spec.profile = CA_PROFILE_OCSP;
	spec.serial = serial;
	spec.not_before = now - CA_BACKDATE_SECS;
	spec.not_after = now + days * 86400;
	spec.subject = name;
	spec.pub = ca_key_public(subject_key);
	spec.issuer = issuer;
	if ((r = ca_profile_build(&spec, out)) != 0 ||
	    (r = ca_key_sign_cert(signer, *out)) != 0) {
		ca_seterr(ca, "cannot make the %s certificate", suffix + 1);
		X509_free(*out);
		*out = NULL;
		goto out;
	}
out:
	free(cn);
	BN_free(serial);
	X509_NAME_free(name);
	return r;
}

/* Stores the ca row, the OCSP signer's certs row and the audit event. */
static int
init_store(struct ca *ca, const char *actor)
{
	unsigned char *rd = NULL, *id = NULL, *od = NULL;
	int rl, il, ol, r = UK_ERR_NOMEM;
	char *detail = NULL;
	time_t now = time(NULL);
	struct stored_cert sc;

	memset(&sc, 0, sizeof(sc));
	if ((rl = i2d_X509(ca->root, &rd)) <= 0 ||
	    (il = i2d_X509(ca->issuing, &id)) <= 0 ||
	    (ol = i2d_X509(ca->ocsp, &od)) <= 0)
		goto out;
	if ((r = store_exec(ca->st, NULL,
	         "INSERT INTO ca (id, name, key_type, key_ref, root_der,"
	         " issuing_der, ocsp_der, ocsp_key_ref, crl_number,"
	         " created_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
	         "tttbbbti", ca->name, ca_key_type_name(ca->key_type),
	         ca->key_ref, rd, (size_t)rl, id, (size_t)il, od, (size_t)ol,
	         ca->ocsp_key_ref, (int64_t)now)) != 0) {
		if (r == UK_ERR_EXISTS) {
			ca_seterr(ca, "the store already has a CA");
			r = UK_ERR_CA_EXISTS;
		} else
			r = store_fail(ca, r, "storing the CA");
		goto out;
	}
	if ((r = insert_cert(ca, ca->ocsp, NULL, NULL, CA_PROFILE_OCSP, NULL,
	         now, &sc)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((detail = detail_json("name", ca->name, "key_type",
	         ca_key_type_name(ca->key_type), "key_ref", ca->key_ref,
	         "ocsp_serial", sc.serial, NULL)) == NULL)
		goto out;
	if ((r = audit_append(ca->st, "ca.init", actor ? actor : "ca", ca->name,
	         detail, NULL)) != 0) {
		r = store_fail(ca, r, "auditing the CA's creation");
		goto out;
	}
	r = 0;
out:
	free(detail);
	free(sc.subject);
	OPENSSL_free(rd);
	OPENSSL_free(id);
	OPENSSL_free(od);
	return r;
}

int
ca_init(struct store *st, const struct ca_config *cfg,
    const struct ca_init_params *p, struct ca **out, char *err, size_t errlen)
{
	struct init_keys keys;
	struct store_res *res = NULL;
	struct ca *ca = NULL;
	time_t now = time(NULL);
	int r, bits, token, created = 0;

	memset(&keys, 0, sizeof(keys));
	if (out != NULL)
		*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((ca = ca_alloc(st)) == NULL)
		return UK_ERR_NOMEM;
	if (cfg != NULL && (r = ca_set_config(ca, cfg)) != 0)
		goto out;
	r = UK_ERR_USAGE;
	if (p->name == NULL || !text_ok(p->name, CA_NAME_MAX * 4) ||
	    utf8_len(p->name) > CA_NAME_MAX) {
		ca_seterr(ca, "the CA name must be 1 to %d characters",
		    CA_NAME_MAX);
		goto out;
	}
	if ((p->key_file == NULL) == (p->pkcs11_uri == NULL)) {
		ca_seterr(ca, "give either a key file or a PKCS#11 URI");
		goto out;
	}
	if (p->pass == NULL || p->pass->len == 0) {
		ca_seterr(ca, "no passphrase or PIN given");
		r = UK_ERR_SECRET_EMPTY;
		goto out;
	}
	token = p->pkcs11_uri != NULL;
	if (!token && p->pass->len < CA_PASS_MIN) {
		ca_seterr(ca, "the passphrase must have at least %d characters",
		    CA_PASS_MIN);
		r = UK_ERR_USAGE;
		goto out;
	}
	if (p->ocsp_key_file != NULL && !token) {
		ca_seterr(ca,
		    "an OCSP key file of its own is for token CAs "
		    "(with a key file it is PATH.ocsp)");
		r = UK_ERR_USAGE;
		goto out;
	}
	if (!token || p->ocsp_key_file != NULL) {
		if (p->ocsp_pass == NULL || p->ocsp_pass->len < CA_PASS_MIN) {
			ca_seterr(ca,
			    "the OCSP signer key needs its own passphrase of "
			    "at least %d characters",
			    CA_PASS_MIN);
			r = UK_ERR_USAGE;
			goto out;
		}
		if (secret_equal(p->ocsp_pass, p->pass)) {
			ca_seterr(ca,
			    "the OCSP signer key's passphrase must differ from "
			    "the CA's: the responder keeps it on the machine "
			    "it runs on");
			r = UK_ERR_USAGE;
			goto out;
		}
	}
	ca->key_type = p->key_type ? p->key_type : CA_KEY_EC;
	bits = p->rsa_bits ? p->rsa_bits : 3072;
	if (ca->key_type == CA_KEY_RSA && (bits < 2048 || bits > 8192)) {
		ca_seterr(ca, "RSA keys are 2048 to 8192 bits");
		r = UK_ERR_CA_KEY_TYPE;
		goto out;
	}
	if (token && ca->key_type == CA_KEY_SM2) {
		ca_seterr(ca, "SM2 CA keys are supported in key files only");
		r = UK_ERR_CA_KEY_TYPE;
		goto out;
	}
	if ((ca->name = strdup(p->name)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = store_exec(st, &res, "SELECT id FROM ca", "")) != 0) {
		r = store_fail(ca, r, "reading the store");
		goto out;
	}
	if (store_res_rows(res) > 0) {
		ca_seterr(ca, "the store already has a CA");
		r = UK_ERR_CA_EXISTS;
		goto out;
	}
	if (token) {
		r = init_token_keys(ca, p, bits, &keys);
		created = keys.files[2] != NULL;
	} else {
		r = init_file_keys(ca, p, bits, &keys);
		created = 1;
	}
	if (r != 0)
		goto out;
	if ((r = init_cert(ca, CA_KIND_ROOT, " Root CA", keys.root, NULL,
	         keys.root, now, CA_ROOT_DAYS, &ca->root)) != 0 ||
	    (r = init_cert(ca, CA_KIND_ISSUING, " Issuing CA", keys.issuing,
	         ca->root, keys.root, now, CA_ISSUING_DAYS, &ca->issuing)) !=
	        0 ||
	    (r = init_cert(ca, CA_KIND_LEAF, " OCSP Responder", keys.ocsp,
	         ca->issuing, keys.issuing, now, ca->cfg.ocsp_days,
	         &ca->ocsp)) != 0)
		goto out;
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0) {
		r = store_fail(ca, r, "starting a transaction");
		goto out;
	}
	if ((r = init_store(ca, p->actor)) == 0 && (r = store_commit(st)) != 0)
		r = store_fail(ca, r, "committing the CA");
	store_rollback(st);
	if (r != 0)
		goto out;
	ca->key = keys.issuing;
	keys.issuing = NULL; /* transferred */
	created = 0;         /* keep the files */
	if (out != NULL) {
		*out = ca;
		ca = NULL;
	}
	r = 0;
out:
	if (r != 0 && ca != NULL && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", ca->err);
	init_keys_clear(&keys, created);
	store_res_free(res);
	ca_free(ca);
	return r;
}
