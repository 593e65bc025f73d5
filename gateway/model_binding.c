/* gateway/model_binding.c: which certificate logs in as which operator or staff account: explicit bindings and our own CA's issued certificates. */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/store.h"
#include "gateway/model.h"

/* Largest certificate accepted. */
#define GW_CERT_MAX (64 * 1024)

/* Most bindings gw_binding_list returns. */
#define GW_BINDINGS_CAP 1000

/* What gw_binding_add needs from a certificate. */
struct cert_facts {
	char sha256[65];
	char issuer_serial[200];
	char subject[256];
	int64_t not_after;
};

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

/* RFC 2253 text of name into buf (truncated). */
static int
name_text(const X509_NAME *name, char *buf, size_t n)
{
	BIO *bio;
	char *p = NULL;
	long len;
	int r = UK_ERR_NOMEM;

	buf[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(bio, name, 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		r = UK_ERR_CERT_MALFORMED;
		goto out;
	}
	len = BIO_get_mem_data(bio, &p);
	if (len < 0)
		goto out;
	snprintf(buf, n, "%.*s", (int)len, p != NULL ? p : "");
	r = 0;
out:
	BIO_free(bio);
	return r;
}

/*
 * The facts of certificates parsed before, by SHA-256 of the DER (and the
 * DER compared): a login through our CA's implicit binding would parse the
 * certificate from the certs table every time (d2i_X509 of a P-256
 * certificate costs about two signature checks). The facts are a function
 * of the DER alone, so they never go stale. Process-wide, bounded, least
 * recently used out.
 */
#define FACTS_CACHE 128

struct facts_entry {
	unsigned char md[32];
	unsigned char *der; /* NULL: free slot */
	size_t len;
	struct cert_facts f;
	uint64_t used;
};

static pthread_mutex_t facts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct facts_entry facts_cache[FACTS_CACHE];
static uint64_t facts_tick;

/* Copies the cached facts of der (digest md) into *f: 1, or 0 if none. */
static int
facts_get(const unsigned char *der, size_t len, const unsigned char md[32],
    struct cert_facts *f)
{
	struct facts_entry *e;
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&facts_lock);
	for (i = 0; i < FACTS_CACHE; i++) {
		e = &facts_cache[i];
		if (e->der == NULL || e->len != len ||
		    memcmp(e->md, md, 32) != 0 || memcmp(e->der, der, len) != 0)
			continue;
		*f = e->f;
		e->used = ++facts_tick;
		hit = 1;
		break;
	}
	pthread_mutex_unlock(&facts_lock);
	return hit;
}

/* Keeps the facts of der (digest md); out of memory: not kept. */
static void
facts_put(const unsigned char *der, size_t len, const unsigned char md[32],
    const struct cert_facts *f)
{
	struct facts_entry *e, *lru;
	unsigned char *copy;
	size_t i;

	if ((copy = malloc(len)) == NULL)
		return;
	memcpy(copy, der, len);
	pthread_mutex_lock(&facts_lock);
	lru = &facts_cache[0];
	for (i = 0; i < FACTS_CACHE; i++) {
		e = &facts_cache[i];
		if (e->der == NULL) {
			lru = e;
			break;
		}
		if (e->used < lru->used)
			lru = e;
	}
	free(lru->der);
	memcpy(lru->md, md, 32);
	lru->der = copy;
	lru->len = len;
	lru->f = *f;
	lru->used = ++facts_tick;
	pthread_mutex_unlock(&facts_lock);
}

/* Parses der and fills *f. Returns 0 or UK_ERR_CERT_MALFORMED. */
static int
cert_facts(const unsigned char *der, size_t len, struct cert_facts *f)
{
	const unsigned char *p = der;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char issuer[160], *hex = NULL;
	BIGNUM *bn = NULL;
	X509 *x = NULL;
	struct tm tm;
	int r = UK_ERR_CERT_MALFORMED;

	memset(f, 0, sizeof(*f));
	if (der == NULL || len == 0 || len > GW_CERT_MAX)
		goto out;
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if (facts_get(der, len, md, f)) {
		r = 0;
		goto out;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	hex_encode(md, 32, f->sha256);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	        NULL ||
	    (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	if ((r = name_text(X509_get_issuer_name(x), issuer, sizeof(issuer))) !=
	    0)
		goto out;
	snprintf(f->issuer_serial, sizeof(f->issuer_serial), "%s#%s", issuer,
	    hex);
	if ((r = name_text(X509_get_subject_name(x), f->subject,
	         sizeof(f->subject))) != 0)
		goto out;
	r = UK_ERR_CERT_MALFORMED;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto out;
	f->not_after = (int64_t)timegm(&tm);
	facts_put(der, len, md, f);
	r = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return r;
}

/* Lowercases a 64-digit hex SHA-256 into out; UK_ERR_INPUT if it is not. */
static int
sha_norm(const char *in, char out[65])
{
	size_t i;

	if (in == NULL || strlen(in) != 64 ||
	    strspn(in, "0123456789abcdefABCDEF") != 64)
		return UK_ERR_INPUT;
	for (i = 0; i < 64; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[64] = '\0';
	return 0;
}

#define BIND_COLS                                                              \
	"id, operator_id, staff_id, issuer_serial, sha256, subject, "          \
	"not_after, source"

static void
bind_row(const struct store_res *res, size_t i, struct gw_binding *b)
{
	memset(b, 0, sizeof(*b));
	b->id = store_res_int(res, i, 0);
	b->operator_id = store_res_int(res, i, 1);
	b->staff_id = store_res_int(res, i, 2);
	copy(b->issuer_serial, sizeof(b->issuer_serial),
	    store_res_text(res, i, 3));
	copy(b->sha256, sizeof(b->sha256), store_res_text(res, i, 4));
	copy(b->subject, sizeof(b->subject), store_res_text(res, i, 5));
	b->not_after = store_res_int(res, i, 6);
	copy(b->source, sizeof(b->source), store_res_text(res, i, 7));
}

/* Our CA's certificates count as bound to the operator they were issued
 * for: same login (any case) in the same unit, still active. Columns: der,
 * not_after, subject, operator id. */
#define CA_BOUND                                                               \
	"SELECT c.der, c.not_after, c.subject, o.id FROM certs c "             \
	"JOIN operators o ON o.login_lc = lower(c.operator) AND "              \
	"o.unit_id = c.unit_id WHERE c.status = 'active' AND "

/* An implicit binding from a CA_BOUND row. */
static int
ca_row(const struct store_res *res, size_t i, struct gw_binding *b)
{
	struct cert_facts f;
	const unsigned char *der;
	size_t len = 0;
	int r;

	memset(b, 0, sizeof(*b));
	der = store_res_blob(res, i, 0, &len);
	if ((r = cert_facts(der, len, &f)) != 0)
		return r;
	b->operator_id = store_res_int(res, i, 3);
	copy(b->issuer_serial, sizeof(b->issuer_serial), f.issuer_serial);
	copy(b->sha256, sizeof(b->sha256), f.sha256);
	copy(b->subject, sizeof(b->subject), store_res_text(res, i, 2));
	b->not_after = store_res_int(res, i, 1);
	copy(b->source, sizeof(b->source), "ca");
	return 0;
}

int
gw_binding_add(struct store *st, const struct gw_actor *a,
    const unsigned char *der, size_t len, int64_t operator_id, int64_t staff_id,
    const char *source)
{
	struct store_res *res = NULL;
	struct gw_operator o;
	struct gw_staff s;
	struct cert_facts f;
	char subject[GW_LOGIN_MAX + 16];
	int own = 0, r;

	if ((operator_id == 0) == (staff_id == 0)) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = gw_model_actor(a, operator_id != 0)) != 0)
		goto out;
	if (source != NULL && strcmp(source, "ca") != 0 &&
	    strcmp(source, "external") != 0) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = cert_facts(der, len, &f)) != 0)
		goto out;
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if (operator_id != 0) {
		if ((r = gw_operator_get(st, operator_id, &o)) != 0) {
			if (r == UK_ERR_NOT_FOUND)
				r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
			goto out;
		}
		if (strcmp(o.status, "left") == 0) {
			r = UK_ERR_ADMIN_OPERATOR_LEFT;
			goto out;
		}
		snprintf(subject, sizeof(subject), "operator:%s", o.login);
	} else {
		if ((r = gw_staff_get(st, staff_id, &s)) != 0) {
			if (r == UK_ERR_NOT_FOUND)
				r = UK_ERR_ADMIN_STAFF_UNKNOWN;
			goto out;
		}
		snprintf(subject, sizeof(subject), "staff:%s", s.login);
	}
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM cert_bindings WHERE sha256 = ? OR "
	         "issuer_serial = ?",
	         "tt", f.sha256, f.issuer_serial)) != 0)
		goto out;
	if (store_res_int(res, 0, 0) != 0) {
		r = UK_ERR_ADMIN_BINDING;
		goto out;
	}
	store_res_free(res);
	res = NULL;
	/* our CA issued it: bound to whom it was issued for, if anyone */
	if ((r = store_exec(st, &res,
	         "SELECT c.operator, o.id FROM certs c LEFT JOIN operators o "
	         "ON o.login_lc = lower(c.operator) AND o.unit_id = c.unit_id "
	         "WHERE c.sha256 = ?",
	         "t", f.sha256)) != 0)
		goto out;
	if (store_res_rows(res) > 0) {
		if (!store_res_isnull(res, 0, 1) &&
		    store_res_int(res, 0, 1) != operator_id) {
			r = UK_ERR_ADMIN_BINDING;
			goto out;
		}
		if (source == NULL)
			source = "ca";
	}
	if (source == NULL)
		source = "external";
	r = store_exec(st, NULL,
	    operator_id != 0
	        ? "INSERT INTO cert_bindings (operator_id, issuer_serial, "
	          "sha256, subject, not_after, source, form, created_at) "
	          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	        : "INSERT INTO cert_bindings (staff_id, issuer_serial, "
	          "sha256, subject, not_after, source, form, created_at) "
	          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    "itttitti", operator_id != 0 ? operator_id : staff_id,
	    f.issuer_serial, f.sha256, f.subject, f.not_after, source, a->form,
	    (int64_t)time(NULL));
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_BINDING;
	if (r != 0)
		goto out;
	r = gw_model_audit(st, a, "admin.binding.add", subject, "sha256",
	    f.sha256);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_binding_remove(struct store *st, const struct gw_actor *a,
    const char *sha256_hex)
{
	struct store_res *res = NULL;
	struct gw_operator o;
	struct gw_staff s;
	struct gw_binding b;
	char sha[65], subject[GW_LOGIN_MAX + 16];
	int own = 0, r;

	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	if ((r = sha_norm(sha256_hex, sha)) != 0)
		goto out;
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT " BIND_COLS " FROM cert_bindings WHERE sha256 = ? "
	         "FOR UPDATE",
	         "t", sha)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	bind_row(res, 0, &b);
	if (b.operator_id != 0 && gw_operator_get(st, b.operator_id, &o) == 0)
		snprintf(subject, sizeof(subject), "operator:%s", o.login);
	else if (b.staff_id != 0 && gw_staff_get(st, b.staff_id, &s) == 0)
		snprintf(subject, sizeof(subject), "staff:%s", s.login);
	else
		snprintf(subject, sizeof(subject), "binding:%lld",
		    (long long)b.id);
	if ((r = store_exec(st, NULL, "DELETE FROM cert_bindings WHERE id = ?",
	         "i", b.id)) != 0)
		goto out;
	r = gw_model_audit(st, a, "admin.binding.remove", subject, "sha256",
	    sha);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_binding_find(struct store *st, const char *sha256_hex,
    struct gw_binding *out)
{
	struct store_res *res = NULL;
	char sha[65];
	int r = UK_ERR_INPUT;

	if (st == NULL || out == NULL)
		goto out;
	memset(out, 0, sizeof(*out));
	if (sha_norm(sha256_hex, sha) != 0) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = store_exec(st, &res,
	         "SELECT " BIND_COLS " FROM cert_bindings WHERE sha256 = ?",
	         "t", sha)) != 0)
		goto out;
	if (store_res_rows(res) == 1) {
		bind_row(res, 0, out);
		r = 0;
		goto out;
	}
	store_res_free(res);
	res = NULL;
	if ((r = store_exec(st, &res, CA_BOUND "c.sha256 = ?", "t", sha)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	r = ca_row(res, 0, out);
out:
	store_res_free(res);
	return r;
}

int
gw_binding_list(struct store *st, int64_t operator_id, int64_t staff_id,
    struct gw_binding **out, size_t *n)
{
	struct store_res *res = NULL, *ca = NULL;
	struct gw_binding *v = NULL;
	size_t i, rows, carows = 0;
	int r = UK_ERR_INPUT;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL ||
	    (operator_id == 0) == (staff_id == 0))
		goto out;
	if ((r = store_exec(st, &res,
	         operator_id != 0 ? "SELECT " BIND_COLS " FROM cert_bindings "
	                            "WHERE operator_id = ? ORDER BY id LIMIT ?"
	                          : "SELECT " BIND_COLS " FROM cert_bindings "
	                            "WHERE staff_id = ? ORDER BY id LIMIT ?",
	         "ii", operator_id != 0 ? operator_id : staff_id,
	         (int64_t)GW_BINDINGS_CAP)) != 0)
		goto out;
	if (operator_id != 0 &&
	    (r = store_exec(st, &ca,
	         CA_BOUND "o.id = ? AND c.sha256 NOT IN "
	                  "(SELECT sha256 FROM cert_bindings) "
	                  "ORDER BY c.issued_at LIMIT ?",
	         "ii", operator_id, (int64_t)GW_BINDINGS_CAP)) != 0)
		goto out;
	rows = store_res_rows(res);
	carows = ca != NULL ? store_res_rows(ca) : 0;
	if (rows + carows > 0 &&
	    (v = calloc(rows + carows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		bind_row(res, i, &v[i]);
	for (i = 0; i < carows; i++)
		if ((r = ca_row(ca, i, &v[rows + i])) != 0)
			goto out;
	*out = v;
	*n = rows + carows;
	v = NULL; /* transferred */
	r = 0;
out:
	free(v);
	store_res_free(ca);
	store_res_free(res);
	return r;
}
