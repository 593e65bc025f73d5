/* gateway/authcert.c: the UKey login: challenges bound to the browser, the token's structure, and its verification (certificate, revocation, signature, binding, operator, unit). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "certs/verify.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/store.h"
#include "gateway/authcert.h"
#include "gateway/model.h"

#define TOKEN_FORMAT "ukey-auth:1.0"
/* Base64 text of the largest DER and signature accepted. */
#define CERT_B64_MAX (4 * ((GW_AUTHCERT_DER_MAX + 2) / 3))
#define SIG_B64_MAX (4 * ((GW_AUTHSIG_MAX + 2) / 3))

static const char *const algs[] = { "ES256", "RS256", "PS256", "SM2" };

struct gw_authcert;
static int
certcache_get(struct gw_authcert *ac, const unsigned char *der, size_t len,
    const unsigned char md[32], X509 **x, char *subject, size_t sublen);

void
gw_authtoken_clear(struct gw_authtoken *t)
{
	if (t == NULL)
		return;
	X509_free(t->cert);
	free(t->der);
	OPENSSL_cleanse(t, sizeof(*t));
}

/* Whether the key of x fits alg (the same test the signature check makes,
 * made here so that a mismatch is a malformed token). */
static int
key_fits(X509 *x, const char *alg)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];
	size_t glen = 0;

	if (pk == NULL)
		return 0;
	if (strcmp(alg, "ES256") == 0)
		return EVP_PKEY_is_a(pk, "EC") &&
		    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) ==
		    1 &&
		    (strcmp(group, "prime256v1") == 0 ||
		        strcmp(group, "P-256") == 0);
	if (strcmp(alg, "RS256") == 0)
		return EVP_PKEY_is_a(pk, "RSA");
	if (strcmp(alg, "PS256") == 0)
		return EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS");
	if (strcmp(alg, "SM2") == 0)
		return EVP_PKEY_is_a(pk, "SM2");
	return 0;
}

/* An optional string member: absent (0, *present 0), a string within max
 * copied into out (0, *present 1), else UK_ERR_AUTH_TOKEN_MALFORMED. */
static int
opt_string(const json_t *j, const char *key, size_t max, char *out,
    int *present)
{
	const char *s = NULL;
	int r;

	*present = 0;
	out[0] = '\0';
	if ((r = json_get_string(j, key, max, &s)) == UK_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return UK_ERR_AUTH_TOKEN_MALFORMED;
	memcpy(out, s, strlen(s) + 1);
	*present = 1;
	return 0;
}

/* Takes the token apart from its parsed JSON j (see gw_authtoken_parse);
 * detail says what was wrong. */
static int
authtoken_from_json(struct gw_authcert *ac, const json_t *j,
    struct gw_authtoken *out, unsigned char md[32], char *subject,
    size_t sublen, int *hit, char *detail, size_t detlen)
{
	const char *fmt = NULL, *alg = NULL, *cert = NULL, *sig = NULL;
	const unsigned char *p;
	unsigned char *buf = NULL;
	size_t n = 0, i;
	int r = UK_ERR_AUTH_TOKEN_MALFORMED, d = 0;

	memset(out, 0, sizeof(*out));
	if (json_get_string(j, "format", 32, &fmt) != 0 ||
	    strcmp(fmt, TOKEN_FORMAT) != 0) {
		snprintf(detail, detlen, "format is not \"%s\"", TOKEN_FORMAT);
		goto out;
	}
	if (json_get_string(j, "algorithm", 8, &alg) != 0) {
		snprintf(detail, detlen, "no algorithm");
		goto out;
	}
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(alg, algs[i]) == 0)
			break;
	if (i == sizeof(algs) / sizeof(algs[0])) {
		snprintf(detail, detlen, "unknown algorithm");
		goto out;
	}
	memcpy(out->alg, algs[i], strlen(algs[i]) + 1);
	if (json_get_string(j, "unverifiedCertificate", CERT_B64_MAX, &cert) !=
	        0 ||
	    (d = b64_decode(cert, CERT_B64_MAX, 0, &out->der, &out->der_len)) !=
	        0 ||
	    out->der_len == 0 || out->der_len > GW_AUTHCERT_DER_MAX) {
		if (d == UK_ERR_NOMEM)
			r = UK_ERR_NOMEM;
		snprintf(detail, detlen,
		    "unverifiedCertificate is not base64 of at most %d bytes",
		    GW_AUTHCERT_DER_MAX);
		goto out;
	}
	*hit = 0;
	if (ac != NULL) {
		/* a certificate seen before and verified then: parsed once */
		if (EVP_Digest(out->der, out->der_len, md, NULL, EVP_sha256(),
		        NULL) != 1) {
			r = UK_ERR_INTERNAL;
			goto out;
		}
		*hit = certcache_get(ac, out->der, out->der_len, md, &out->cert,
		    subject, sublen);
	}
	p = out->der;
	if (!*hit &&
	    ((out->cert = d2i_X509(NULL, &p, (long)out->der_len)) == NULL ||
	        p != out->der + out->der_len)) {
		snprintf(detail, detlen,
		    "unverifiedCertificate is not one DER certificate");
		goto out;
	}
	d = 0;
	if (json_get_string(j, "signature", SIG_B64_MAX, &sig) != 0 ||
	    (d = b64_decode(sig, SIG_B64_MAX, 0, &buf, &n)) != 0 || n == 0 ||
	    n > GW_AUTHSIG_MAX) {
		if (d == UK_ERR_NOMEM)
			r = UK_ERR_NOMEM;
		snprintf(detail, detlen,
		    "signature is not base64 of 1 to %d bytes", GW_AUTHSIG_MAX);
		goto out;
	}
	memcpy(out->sig, buf, n);
	out->sig_len = n;
	if (opt_string(j, "origin", GW_ORIGIN_MAX, out->origin,
	        &out->has_origin) != 0 ||
	    opt_string(j, "nonce", GW_NONCE_MAX, out->nonce, &out->has_nonce) !=
	        0) {
		snprintf(detail, detlen,
		    "origin or nonce is not a short "
		    "string");
		goto out;
	}
	if (!key_fits(out->cert, out->alg)) {
		snprintf(detail, detlen,
		    "the certificate's key does not fit algorithm %s",
		    out->alg);
		goto out;
	}
	r = 0;
out:
	free(buf);
	if (r != 0)
		gw_authtoken_clear(out);
	return r;
}

int
gw_authtoken_parse(const char *json, size_t len, struct gw_authtoken *out)
{
	json_t *j = NULL;
	char detail[256];
	int r = UK_ERR_AUTH_TOKEN_MALFORMED, hit = 0;

	memset(out, 0, sizeof(*out));
	if (json == NULL ||
	    json_parse_object(json, len, GW_AUTHTOKEN_MAX, &j) != 0)
		goto out;
	r = authtoken_from_json(NULL, j, out, NULL, NULL, 0, &hit, detail,
	    sizeof(detail));
out:
	json_decref(j);
	return r;
}

int
gw_authcert_tbs(const char *alg, const char *origin, const char *nonce,
    unsigned char out[64])
{
	const EVP_MD *md = EVP_sha256();

	if (alg != NULL && strcmp(alg, "SM2") == 0)
		md = EVP_sm3();
	if (md == NULL || origin == NULL || nonce == NULL ||
	    EVP_Digest(origin, strlen(origin), out, NULL, md, NULL) != 1 ||
	    EVP_Digest(nonce, strlen(nonce), out + 32, NULL, md, NULL) != 1)
		return UK_ERR_INTERNAL;
	return 0;
}

/* ---- the verifier state ---- */

/* One pair of verifiers, used by one call at a time (the verification time
 * is set per call): own for certificates of the CA in the store, ext for
 * the external anchors (NULL when none are configured). */
struct vset {
	struct ca_verifier *own; /* NULL when the store has no CA */
	struct ca_verifier *ext;
	struct vset *next;
};

/*
 * Parsed certificates, so that a UKey that logs in again is not parsed
 * again (d2i_X509 of a P-256 certificate costs about as much as two
 * signature checks). Keyed by the SHA-256 of the DER (and the DER itself
 * compared); only certificates whose chain verified go in, so that strangers
 * cannot flush it; never SM2 ones. Entries hold a reference (X509_up_ref);
 * a caller gets its own. Nothing about trust is cached: chain, time,
 * revocation and the signature are checked at every login.
 */
#define CC_SIZE 256

struct cc_entry {
	unsigned char md[32];
	unsigned char *der;
	size_t len;
	X509 *x; /* NULL: free slot */
	char subject[256];
	uint64_t used;
};

struct gw_authcert {
	char *origin;
	int ttl;
	X509 *own_root, *own_issuing; /* NULL: no CA in the store */
	STACK_OF(X509) * anchors;     /* external */
	STACK_OF(X509_CRL) * crls;    /* for external anchors */
	char *ocsp_url;
	enum ca_revocation ext_rev;
	struct ca_sigcache *cache; /* shared by every vset */
	pthread_mutex_t lock;      /* guards pool */
	struct vset *pool;         /* idle verifier pairs */
	atomic_uint calls;         /* for the expired-challenge sweep */
	pthread_mutex_t cclock;    /* guards cc and cctick */
	struct cc_entry *cc;       /* CC_SIZE parsed certificates */
	uint64_t cctick;
	uint64_t cchits, ccmisses; /* lookups, for gw_authcert_cache_stats */
};

static void
vset_free(struct vset *vs)
{
	if (vs == NULL)
		return;
	ca_verifier_free(vs->own);
	ca_verifier_free(vs->ext);
	free(vs);
}

/* A new verifier pair from ac's configuration, or NULL (message in err). */
static struct vset *
vset_new(struct gw_authcert *ac, char *err, size_t errlen)
{
	struct vset *vs = calloc(1, sizeof(*vs));
	struct vset *ret = NULL;
	int i;

	if (vs == NULL)
		goto out;
	if (ac->own_issuing != NULL) {
		if ((vs->own = ca_verifier_new()) == NULL ||
		    ca_verifier_add_cert(vs->own, CA_LOAD_ANCHORS,
		        ac->own_root) != 0 ||
		    ca_verifier_add_cert(vs->own, CA_LOAD_ANCHORS,
		        ac->own_issuing) != 0)
			goto out;
		ca_verifier_set_sigcache(vs->own, ac->cache);
		/* revocation of our own certificates: the store, after
		 * ca_verify (see own_status) */
	}
	if (sk_X509_num(ac->anchors) > 0) {
		if ((vs->ext = ca_verifier_new()) == NULL)
			goto out;
		ca_verifier_set_sigcache(vs->ext, ac->cache);
		for (i = 0; i < sk_X509_num(ac->anchors); i++)
			if (ca_verifier_add_cert(vs->ext, CA_LOAD_ANCHORS,
			        sk_X509_value(ac->anchors, i)) != 0)
				goto out;
		for (i = 0; i < sk_X509_CRL_num(ac->crls); i++)
			if (ca_verifier_add_crl(vs->ext,
			        sk_X509_CRL_value(ac->crls, i)) != 0) {
				snprintf(err, errlen, "CRL: %s",
				    ca_verifier_errmsg(vs->ext));
				goto out;
			}
		if (ac->ext_rev == CA_REV_OCSP &&
		    ca_verifier_set_ocsp(vs->ext, ac->ocsp_url, 0, 0) != 0) {
			snprintf(err, errlen, "OCSP: %s",
			    ca_verifier_errmsg(vs->ext));
			goto out;
		}
		if (ca_verifier_set_revocation(vs->ext, ac->ext_rev, 0) != 0)
			goto out;
	}
	ret = vs;
	vs = NULL; /* transferred */
out:
	vset_free(vs);
	return ret;
}

static struct vset *
vset_take(struct gw_authcert *ac)
{
	struct vset *vs;
	char err[300];

	pthread_mutex_lock(&ac->lock);
	if ((vs = ac->pool) != NULL)
		ac->pool = vs->next;
	pthread_mutex_unlock(&ac->lock);
	if (vs == NULL)
		vs = vset_new(ac, err, sizeof(err));
	return vs;
}

static void
vset_give(struct gw_authcert *ac, struct vset *vs)
{
	if (vs == NULL)
		return;
	pthread_mutex_lock(&ac->lock);
	vs->next = ac->pool;
	ac->pool = vs;
	pthread_mutex_unlock(&ac->lock);
}

void
gw_authcert_free(struct gw_authcert *ac)
{
	struct vset *vs;
	size_t i;

	if (ac == NULL)
		return;
	while ((vs = ac->pool) != NULL) {
		ac->pool = vs->next;
		vset_free(vs);
	}
	pthread_mutex_destroy(&ac->lock);
	if (ac->cc != NULL) {
		for (i = 0; i < CC_SIZE; i++) {
			X509_free(ac->cc[i].x);
			free(ac->cc[i].der);
		}
		pthread_mutex_destroy(&ac->cclock);
		free(ac->cc);
	}
	free(ac->origin);
	free(ac->ocsp_url);
	X509_free(ac->own_root);
	X509_free(ac->own_issuing);
	sk_X509_pop_free(ac->anchors, X509_free);
	sk_X509_CRL_pop_free(ac->crls, X509_CRL_free);
	ca_sigcache_free(ac->cache);
	free(ac);
}

/* Appends the certificates (or CRLs) of every file of paths to ac. */
static int
load_files(struct gw_authcert *ac, const char *const *paths, int crl)
{
	STACK_OF(X509) *xs = NULL;
	STACK_OF(X509_CRL) *cs = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	char err[200];
	int r = 0;

	for (; paths != NULL && *paths != NULL && r == 0; paths++) {
		r = UK_ERR_CONFIG_VALUE;
		if (file_read_all(*paths, 16u << 20, &buf, &len) != 0) {
			uk_log_err(r, "cannot read %s", *paths);
			break;
		}
		if (!crl &&
		    ca_parse_certs(buf, len, &xs, err, sizeof(err)) == 0) {
			while (sk_X509_num(xs) > 0)
				if (!sk_X509_push(ac->anchors,
				        sk_X509_shift(xs)))
					break;
			r = sk_X509_num(xs) == 0 ? 0 : UK_ERR_NOMEM;
		} else if (crl &&
		    ca_parse_crls(buf, len, &cs, err, sizeof(err)) == 0) {
			while (sk_X509_CRL_num(cs) > 0)
				if (!sk_X509_CRL_push(ac->crls,
				        sk_X509_CRL_shift(cs)))
					break;
			r = sk_X509_CRL_num(cs) == 0 ? 0 : UK_ERR_NOMEM;
		} else {
			uk_log_err(r, "%s: %s", *paths, err);
		}
		sk_X509_pop_free(xs, X509_free);
		xs = NULL;
		sk_X509_CRL_pop_free(cs, X509_CRL_free);
		cs = NULL;
		free(buf);
		buf = NULL;
	}
	return r;
}

int
gw_authcert_new(struct store *st, const struct gw_authcert_conf *conf,
    struct gw_authcert **out)
{
	struct gw_authcert *ac = NULL;
	struct vset *vs = NULL;
	struct ca *ca = NULL;
	char err[300];
	int r = UK_ERR_NOMEM, cr;

	*out = NULL;
	if (conf == NULL || conf->origin == NULL || conf->origin[0] == '\0' ||
	    strlen(conf->origin) > GW_ORIGIN_MAX || conf->challenge_ttl < 0) {
		r = UK_ERR_CONFIG_VALUE;
		uk_log_err(r, "UKey login: no or bad origin");
		goto out;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		goto out;
	if (pthread_mutex_init(&ac->lock, NULL) != 0) {
		free(ac);
		ac = NULL;
		goto out;
	}
	atomic_init(&ac->calls, 0);
	if ((ac->cc = calloc(CC_SIZE, sizeof(*ac->cc))) == NULL)
		goto out;
	if (pthread_mutex_init(&ac->cclock, NULL) != 0) {
		free(ac->cc);
		ac->cc = NULL;
		goto out;
	}
	ac->ttl = conf->challenge_ttl > 0 ? conf->challenge_ttl : 300;
	if ((ac->origin = strdup(conf->origin)) == NULL ||
	    (conf->ocsp_url != NULL &&
	        (ac->ocsp_url = strdup(conf->ocsp_url)) == NULL) ||
	    (ac->anchors = sk_X509_new_null()) == NULL ||
	    (ac->crls = sk_X509_CRL_new_null()) == NULL ||
	    (ac->cache = ca_sigcache_new(0)) == NULL)
		goto out;
	if ((r = load_files(ac, conf->anchors, 0)) != 0 ||
	    (r = load_files(ac, conf->crls, 1)) != 0)
		goto out;
	/* External anchors: CRLs when given, else OCSP when configured,
	 * else CRL mode without CRLs, which refuses every such certificate
	 * (fail closed). */
	ac->ext_rev = sk_X509_CRL_num(ac->crls) == 0 && ac->ocsp_url != NULL
	    ? CA_REV_OCSP
	    : CA_REV_CRL;
	if (sk_X509_num(ac->anchors) > 0 && sk_X509_CRL_num(ac->crls) == 0 &&
	    ac->ocsp_url == NULL)
		uk_log(UK_LOG_WARN,
		    "UKey login: external anchors without CRLs or OCSP: "
		    "their certificates are refused (revocation unknown)");
	if (st != NULL) {
		cr = ca_open(st, &ca);
		if (cr == 0) {
			ac->own_root = ca_root_cert(ca);
			ac->own_issuing = ca_issuing_cert(ca);
			X509_up_ref(ac->own_root);
			X509_up_ref(ac->own_issuing);
		} else if (cr != UK_ERR_CA_NOT_INITIALISED) {
			r = cr;
			uk_log_err(r, "UKey login: the CA in the store");
			goto out;
		}
	}
	err[0] = '\0';
	if ((vs = vset_new(ac, err, sizeof(err))) == NULL) {
		r = err[0] != '\0' ? UK_ERR_CONFIG_VALUE : UK_ERR_NOMEM;
		if (err[0] != '\0')
			uk_log_err(r, "UKey login: %s", err);
		goto out;
	}
	vset_give(ac, vs);
	*out = ac;
	ac = NULL; /* transferred */
	r = 0;
out:
	ca_free(ca);
	gw_authcert_free(ac);
	return r;
}

/* ---- parsed certificates ---- */

/* Looks der (digest md) up: on a hit *x is a new reference to the parsed
 * certificate (the caller frees it), its subject is copied into subject
 * (when not NULL) and 1 is returned; else 0. */
static int
certcache_get(struct gw_authcert *ac, const unsigned char *der, size_t len,
    const unsigned char md[32], X509 **x, char *subject, size_t sublen)
{
	struct cc_entry *e;
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&ac->cclock);
	for (i = 0; i < CC_SIZE; i++) {
		e = &ac->cc[i];
		if (e->x == NULL || e->len != len ||
		    memcmp(e->md, md, 32) != 0 || memcmp(e->der, der, len) != 0)
			continue;
		if (X509_up_ref(e->x) != 1)
			break;
		*x = e->x;
		if (subject != NULL && sublen > 0)
			snprintf(subject, sublen, "%s", e->subject);
		e->used = ++ac->cctick;
		hit = 1;
		break;
	}
	if (hit)
		ac->cchits++;
	else
		ac->ccmisses++;
	pthread_mutex_unlock(&ac->cclock);
	return hit;
}

void
gw_authcert_cache_stats(struct gw_authcert *ac, uint64_t *hits,
    uint64_t *misses, size_t *entries)
{
	size_t i, n = 0;

	if (hits != NULL)
		*hits = 0;
	if (misses != NULL)
		*misses = 0;
	if (entries != NULL)
		*entries = 0;
	if (ac == NULL || ac->cc == NULL)
		return;
	pthread_mutex_lock(&ac->cclock);
	for (i = 0; i < CC_SIZE; i++)
		n += ac->cc[i].x != NULL;
	if (hits != NULL)
		*hits = ac->cchits;
	if (misses != NULL)
		*misses = ac->ccmisses;
	pthread_mutex_unlock(&ac->cclock);
	if (entries != NULL)
		*entries = n;
}

/* Keeps a reference to the token's certificate x (DER der, digest md,
 * subject text), whose chain has verified, evicting the least recently
 * used. Out of memory or an SM2 key: not kept. */
static void
certcache_put(struct gw_authcert *ac, const unsigned char *der, size_t len,
    const unsigned char md[32], X509 *x, const char *subject)
{
	struct cc_entry *e, *lru;
	EVP_PKEY *pk = X509_get0_pubkey(x);
	unsigned char *copy = NULL;
	size_t i;

	if (pk == NULL || EVP_PKEY_is_a(pk, "SM2") ||
	    (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, der, len);
	pthread_mutex_lock(&ac->cclock);
	lru = &ac->cc[0];
	for (i = 0; i < CC_SIZE; i++) {
		e = &ac->cc[i];
		if (e->x != NULL && e->len == len &&
		    memcmp(e->md, md, 32) == 0 && memcmp(e->der, der, len) == 0)
			goto out; /* another thread was quicker */
		if (e->x == NULL || e->used < lru->used)
			lru = e;
		if (e->x == NULL)
			break;
	}
	if (X509_up_ref(x) != 1)
		goto out;
	X509_free(lru->x);
	free(lru->der);
	memcpy(lru->md, md, 32);
	lru->der = copy;
	copy = NULL; /* transferred */
	lru->len = len;
	lru->x = x;
	snprintf(lru->subject, sizeof(lru->subject), "%s", subject);
	lru->used = ++ac->cctick;
out:
	pthread_mutex_unlock(&ac->cclock);
	free(copy);
}

/* ---- challenges ---- */

static int
sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];

	if (EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL) != 1)
		return UK_ERR_INTERNAL;
	hex_encode(md, sizeof(md), out);
	return 0;
}

int
gw_challenge_new(struct gw_authcert *ac, struct store *st, const char *browser,
    int64_t now, char nonce[45])
{
	unsigned char raw[32];
	char nh[65], bh[65], *b64 = NULL;
	int r, own = 0;

	nonce[0] = '\0';
	if (browser == NULL || browser[0] == '\0')
		return UK_ERR_INPUT;
	if ((r = rnd_bytes(raw, sizeof(raw))) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((b64 = b64_encode(raw, sizeof(raw), 0)) == NULL ||
	    strlen(b64) != 44)
		goto out;
	if ((r = sha256_hex(b64, nh)) != 0 ||
	    (r = sha256_hex(browser, bh)) != 0)
		goto out;
	/* A challenge lost in a power failure only means the page asks for
	 * another: no fsync of its own (STORE_TX_WRITE_RELAXED). */
	if (!store_in_transaction(st)) {
		if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) != 0)
			goto out;
		own = 1;
	}
	/* now and then, the expired ones go */
	if ((atomic_fetch_add(&ac->calls, 1) & 63) == 0 &&
	    (r = store_exec(st, NULL,
	         "DELETE FROM challenges WHERE expires_at < ?", "i", now)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "INSERT INTO challenges (nonce_hash, browser_hash, "
	         "expires_at) VALUES (?, ?, ?)",
	         "tti", nh, bh, now + (int64_t)ac->ttl)) != 0)
		goto out;
	if (own && (r = store_commit(st)) != 0) {
		own = 0;
		goto out;
	}
	own = 0;
	memcpy(nonce, b64, 45);
	r = 0;
out:
	if (own)
		store_rollback(st);
	free(b64);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

/* Reads the challenge of nonce (never takes it): *code says whether it is
 * there, for browser and unexpired; res->nonce_hash is set when it is
 * there at all (to be taken: gw_authcert_take, or challenge_burn on a
 * refusal). Returns 0 or a store error. */
static int
challenge_read(struct store *st, const char *nonce, const char *browser,
    int64_t now, int *code, struct gw_authcert_result *res)
{
	struct store_res *sr = NULL;
	const char *have;
	char nh[65], bh[65];
	int r;

	*code = UK_ERR_CHALLENGE_UNKNOWN;
	if ((r = sha256_hex(nonce, nh)) != 0 ||
	    (r = sha256_hex(browser != NULL ? browser : "", bh)) != 0)
		goto out;
	if ((r = store_exec(st, &sr,
	         "SELECT browser_hash, expires_at FROM challenges "
	         "WHERE nonce_hash = ?",
	         "t", nh)) != 0)
		goto out;
	if (store_res_rows(sr) != 1) {
		snprintf(res->detail, sizeof(res->detail),
		    "no such challenge (used, expired or never issued)");
		goto out;
	}
	memcpy(res->nonce_hash, nh, sizeof(nh));
	have = store_res_text(sr, 0, 0);
	if (browser == NULL || browser[0] == '\0' || have == NULL ||
	    strlen(have) != 64 || CRYPTO_memcmp(have, bh, 64) != 0) {
		*code = UK_ERR_CHALLENGE_BROWSER;
		snprintf(res->detail, sizeof(res->detail),
		    "the challenge belongs to another browser");
		goto out;
	}
	if (store_res_int(sr, 0, 1) < now) {
		snprintf(res->detail, sizeof(res->detail),
		    "the challenge expired");
		goto out;
	}
	*code = 0;
out:
	store_res_free(sr);
	return r;
}

/*
 * Deletes the challenge whose hash is nh: what a refused token costs (it
 * burns its challenge). Without the caller's transaction, a relaxed one of
 * its own: lost in a power failure, the challenge comes back, but only for
 * a login that was refused. Returns 0 or a store error.
 */
static int
challenge_burn(struct store *st, const char *nh)
{
	int r, own = 0;

	if (!store_in_transaction(st)) {
		if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) != 0)
			goto out;
		own = 1;
	}
	if ((r = store_exec(st, NULL,
	         "DELETE FROM challenges WHERE nonce_hash = ?", "t", nh)) != 0)
		goto out;
	if (own) {
		own = 0;
		r = store_commit(st);
	}
out:
	if (own)
		store_rollback(st);
	return r;
}

int
gw_authcert_take(struct store *st, struct gw_authcert_result *res)
{
	struct store_res *sr = NULL;
	int r;

	if (res->code != 0 || strlen(res->nonce_hash) != 64)
		return UK_ERR_INTERNAL;
	if ((r = store_exec(st, &sr,
	         "DELETE FROM challenges WHERE nonce_hash = ? "
	         "RETURNING nonce_hash",
	         "t", res->nonce_hash)) != 0)
		goto out;
	if (store_res_rows(sr) != 1) {
		/* another post of the same token was quicker */
		res->code = UK_ERR_CHALLENGE_UNKNOWN;
		snprintf(res->detail, sizeof(res->detail),
		    "the challenge was used by a concurrent login");
	}
	res->nonce_hash[0] = '\0';
out:
	store_res_free(sr);
	return r;
}

/* ---- the certificate ---- */

/* The status of our own CA's certificate x in the store (one indexed
 * SELECT, never cached): 0 active, or the refusal in *code. Returns 0 or a
 * store error. */
static int
own_status(struct store *st, X509 *x, const char *sha, int *code,
    struct gw_authcert_result *res)
{
	struct store_res *sr = NULL;
	BIGNUM *bn = NULL;
	char *serial = NULL;
	const char *status, *have;
	int r = UK_ERR_NOMEM;

	*code = UK_ERR_CERT_REVOCATION_UNKNOWN;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
	        NULL ||
	    (serial = BN_bn2hex(bn)) == NULL)
		goto out;
	if ((r = store_exec(st, &sr,
	         "SELECT status, sha256 FROM certs WHERE serial = ?", "t",
	         serial)) != 0)
		goto out;
	status = store_res_text(sr, 0, 0);
	have = store_res_text(sr, 0, 1);
	if (store_res_rows(sr) != 1 || status == NULL || have == NULL ||
	    strcmp(have, sha) != 0) {
		snprintf(res->detail, sizeof(res->detail),
		    "certificate %s is not in the CA's store", serial);
	} else if (strcmp(status, "revoked") == 0) {
		*code = UK_ERR_CERT_REVOKED;
		snprintf(res->detail, sizeof(res->detail),
		    "certificate %s is revoked", serial);
	} else if (strcmp(status, "active") == 0) {
		*code = 0;
	} else {
		snprintf(res->detail, sizeof(res->detail),
		    "certificate %s has status %.32s", serial, status);
	}
	r = 0;
out:
	store_res_free(sr);
	OPENSSL_free(serial);
	BN_free(bn);
	return r;
}

/* Chain, time, purpose and revocation of the token's certificate at now.
 * *code: 0 or the refusal. Returns 0 or a store / internal error. */
static int
cert_check(struct gw_authcert *ac, struct store *st, X509 *x, const char *sha,
    int64_t now, int *code, struct gw_authcert_result *res)
{
	struct ca_verify_result vr;
	struct vset *vs = NULL;
	int r = UK_ERR_NOMEM, own = 0, v;

	ca_verify_result_init(&vr);
	*code = UK_ERR_CERT_UNTRUSTED;
	if ((vs = vset_take(ac)) == NULL)
		goto out;
	if (vs->own != NULL &&
	    X509_NAME_cmp(X509_get_issuer_name(x),
	        X509_get_subject_name(ac->own_issuing)) == 0) {
		ca_verifier_set_time(vs->own, (time_t)now);
		v = ca_verify(vs->own, x, NULL, &vr);
		own = v == 0;
		/* another CA of the same name: maybe an external one */
		if (v == UK_ERR_CERT_UNTRUSTED && vs->ext != NULL) {
			ca_verifier_set_time(vs->ext, (time_t)now);
			v = ca_verify(vs->ext, x, NULL, &vr);
		}
	} else if (vs->ext != NULL) {
		ca_verifier_set_time(vs->ext, (time_t)now);
		v = ca_verify(vs->ext, x, NULL, &vr);
	} else {
		v = UK_ERR_CERT_UNTRUSTED;
		snprintf(vr.message, sizeof(vr.message),
		    "no trust anchor for the certificate's issuer");
	}
	if (v == UK_ERR_NOMEM)
		goto out;
	r = 0;
	if (v != 0) {
		*code = v;
		snprintf(res->detail, sizeof(res->detail), "%s", vr.message);
		goto out;
	}
	if (own) {
		/* the chain ends at our issuing CA or root */
		if (sk_X509_num(vr.chain) < 2 ||
		    (X509_cmp(sk_X509_value(vr.chain, 1), ac->own_issuing) !=
		            0 &&
		        X509_cmp(sk_X509_value(vr.chain, 1), ac->own_root) !=
		            0)) {
			snprintf(res->detail, sizeof(res->detail),
			    "unexpected chain under the own CA");
			goto out;
		}
		if ((r = own_status(st, x, sha, code, res)) != 0)
			goto out;
		goto out;
	}
	*code = 0;
out:
	ca_verify_result_clear(&vr);
	vset_give(ac, vs);
	return r;
}

/* ---- who it is ---- */

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/*
 * Who the certificate sha is bound to, with everything the login checks
 * about them, in one statement: an explicit binding (cert_bindings) first,
 * else our CA's own certificate counting as bound to the operator it was
 * issued for (same login in any case, same unit, certificate active), as
 * gw_binding_find decides; then that operator and their unit, or the staff
 * account. Columns: 0 which (0 explicit, 1 own CA), 1 operator id, 2 staff
 * id, 3-7 the operator's login, name, roles, status, unit, 8-11 the unit's
 * id, status, agreement_at, authorized_at, 12-15 the staff's login, name,
 * roles, status.
 */
#define PRINCIPAL_SQL                                                          \
	"SELECT p.k, p.op, p.sf, o.login, o.name, o.roles, o.status,"          \
	" o.unit_id, u.id, u.status, u.agreement_at, u.authorized_at,"         \
	" f.login, f.name, f.roles, f.status FROM"                             \
	" (SELECT 0 AS k, b.operator_id AS op, b.staff_id AS sf"               \
	"  FROM cert_bindings b WHERE b.sha256 = ?"                            \
	"  UNION ALL SELECT 1, o2.id, NULL FROM certs c JOIN operators o2"     \
	"  ON o2.login_lc = lower(c.operator) AND o2.unit_id = c.unit_id"      \
	"  WHERE c.status = 'active' AND c.sha256 = ?) p"                      \
	" LEFT JOIN operators o ON o.id = p.op"                                \
	" LEFT JOIN units u ON u.id = o.unit_id"                               \
	" LEFT JOIN staff f ON f.id = p.sf"

/* The principal bound to the certificate sha: active, of a unit with its
 * agreement. *code: 0 (id filled) or the refusal. Returns 0 or a store
 * error. */
static int
principal(struct store *st, const char *sha, int64_t now, int *code,
    struct gw_identity *id, struct gw_authcert_result *res)
{
	struct store_res *sr = NULL;
	char rid[sizeof(id->request_id)];
	const char *login, *status, *unit;
	size_t rows, i, row = 0, n[2] = { 0, 0 };
	int64_t op, sf;
	int r, k;

	*code = UK_ERR_CERT_UNBOUND;
	if ((r = store_exec(st, &sr, PRINCIPAL_SQL, "tt", sha, sha)) != 0)
		return r;
	rows = store_res_rows(sr);
	for (i = 0; i < rows; i++)
		n[store_res_int(sr, i, 0) != 0]++;
	/* an explicit binding when there is exactly one, else our CA's */
	k = n[0] == 1 ? 0 : 1;
	if (n[k] != 1) {
		snprintf(res->detail, sizeof(res->detail),
		    "the certificate is bound to nobody");
		goto out;
	}
	for (i = 0; i < rows; i++)
		if ((store_res_int(sr, i, 0) != 0) == k)
			row = i;
	memcpy(rid, id->request_id, sizeof(rid));
	rid[sizeof(rid) - 1] = '\0';
	op = store_res_isnull(sr, row, 1) ? 0 : store_res_int(sr, row, 1);
	sf = store_res_isnull(sr, row, 2) ? 0 : store_res_int(sr, row, 2);
	if (op != 0) {
		login = store_res_text(sr, row, 3);
		status = store_res_text(sr, row, 6);
		unit = store_res_text(sr, row, 7);
		if (login == NULL || status == NULL) {
			snprintf(res->detail, sizeof(res->detail),
			    "the bound operator %lld does not exist",
			    (long long)op);
			goto out;
		}
		if (strcmp(status, "left") == 0) {
			*code = UK_ERR_LOGIN_OPERATOR_LEFT;
			snprintf(res->detail, sizeof(res->detail),
			    "operator %s left the unit", login);
			goto out;
		}
		if (strcmp(status, "active") != 0) {
			*code = UK_ERR_LOGIN_DISABLED;
			snprintf(res->detail, sizeof(res->detail),
			    "operator %s is %.10s", login, status);
			goto out;
		}
		if (store_res_isnull(sr, row, 8)) {
			snprintf(res->detail, sizeof(res->detail),
			    "the operator's unit %s does not exist",
			    unit != NULL ? unit : "");
			goto out;
		}
		status = store_res_text(sr, row, 9);
		if (status == NULL || strcmp(status, "active") != 0) {
			*code = UK_ERR_LOGIN_DISABLED;
			snprintf(res->detail, sizeof(res->detail),
			    "unit %s is %.10s", store_res_text(sr, row, 8),
			    status != NULL ? status : "");
			goto out;
		}
		if (store_res_isnull(sr, row, 10) ||
		    store_res_int(sr, row, 10) == 0) {
			*code = UK_ERR_POLICY_AGREEMENT;
			snprintf(res->detail, sizeof(res->detail),
			    "unit %s has not signed the agreement",
			    store_res_text(sr, row, 8));
			goto out;
		}
		memset(id, 0, sizeof(*id));
		copy(id->kind, sizeof(id->kind), GW_KIND_OPERATOR);
		id->principal_id = op;
		copy(id->unit, sizeof(id->unit), unit);
		copy(id->login, sizeof(id->login), login);
		copy(id->name, sizeof(id->name), store_res_text(sr, row, 4));
		copy(id->roles, sizeof(id->roles), store_res_text(sr, row, 5));
		id->unit_authorised = !store_res_isnull(sr, row, 11) &&
		    store_res_int(sr, row, 11) != 0;
		snprintf(res->detail, sizeof(res->detail),
		    "operator %s of unit %s", id->login, id->unit);
	} else {
		login = store_res_text(sr, row, 12);
		status = store_res_text(sr, row, 15);
		if (login == NULL || status == NULL) {
			snprintf(res->detail, sizeof(res->detail),
			    "the bound staff account %lld does not exist",
			    (long long)sf);
			goto out;
		}
		if (strcmp(status, "active") != 0) {
			*code = strcmp(status, "left") == 0
			    ? UK_ERR_LOGIN_OPERATOR_LEFT
			    : UK_ERR_LOGIN_DISABLED;
			snprintf(res->detail, sizeof(res->detail),
			    "staff %s is %.10s", login, status);
			goto out;
		}
		memset(id, 0, sizeof(*id));
		copy(id->kind, sizeof(id->kind), GW_KIND_STAFF);
		id->principal_id = sf;
		copy(id->login, sizeof(id->login), login);
		copy(id->name, sizeof(id->name), store_res_text(sr, row, 13));
		copy(id->roles, sizeof(id->roles), store_res_text(sr, row, 14));
		snprintf(res->detail, sizeof(res->detail), "staff %s",
		    id->login);
	}
	copy(id->method, sizeof(id->method), "cert");
	copy(id->scope, sizeof(id->scope), "full");
	id->cert_sig_at = now;
	memcpy(id->request_id, rid, sizeof(rid));
	*code = 0;
out:
	store_res_free(sr);
	return 0;
}

/* ---- the verification ---- */

/* The certificate's subject (RFC 2253) and SHA-256 into res. */
static void
describe(const struct gw_authtoken *t, const unsigned char md[32],
    struct gw_authcert_result *res)
{
	BIO *b = NULL;
	int n;

	hex_encode(md, 32, res->sha256);
	if (res->subject[0] != '\0')
		return; /* from the cache */
	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    X509_NAME_print_ex(b, X509_get_subject_name(t->cert), 0,
	        XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, res->subject, sizeof(res->subject) - 1)) > 0)
		res->subject[n] = '\0';
	BIO_free(b);
}

int
gw_authcert_check(struct gw_authcert *ac, struct store *st, const char *browser,
    const char *nonce, const char *token_json, size_t len, int64_t now,
    struct gw_identity *id, struct gw_authcert_result *res)
{
	struct gw_authtoken tok;
	unsigned char tbs[64], md[32];
	json_t *j = NULL;
	const char *jn = NULL;
	int r = 0, code = UK_ERR_AUTH_TOKEN_MALFORMED, v, b, hit = 0;

	memset(&tok, 0, sizeof(tok));
	memset(res, 0, sizeof(*res));
	if (token_json == NULL ||
	    json_parse_object(token_json, len, GW_AUTHTOKEN_MAX, &j) != 0) {
		snprintf(res->detail, sizeof(res->detail),
		    "the token is not one JSON object of at most %d bytes",
		    GW_AUTHTOKEN_MAX);
		goto out;
	}
	if (nonce == NULL &&
	    json_get_string(j, "nonce", GW_NONCE_MAX, &jn) != 0) {
		snprintf(res->detail, sizeof(res->detail),
		    "the token has no nonce");
		goto out;
	}
	/* read only: taken by the caller's durable write on success, burnt
	 * below on a refusal */
	if ((r = challenge_read(st, nonce != NULL ? nonce : jn, browser, now,
	         &code, res)) != 0 ||
	    code != 0)
		goto out;
	if ((code = authtoken_from_json(ac, j, &tok, md, res->subject,
	         sizeof(res->subject), &hit, res->detail,
	         sizeof(res->detail))) != 0) {
		if (code == UK_ERR_NOMEM || code == UK_ERR_INTERNAL)
			r = code;
		goto out;
	}
	describe(&tok, md, res);
	if ((r = cert_check(ac, st, tok.cert, res->sha256, now, &code, res)) !=
	        0 ||
	    code != 0)
		goto out;
	if (!hit)
		certcache_put(ac, tok.der, tok.der_len, md, tok.cert,
		    res->subject);
	if (tok.has_origin && strcmp(tok.origin, ac->origin) != 0) {
		code = UK_ERR_AUTH_TOKEN_ORIGIN;
		snprintf(res->detail, sizeof(res->detail),
		    "signed for origin %.200s", tok.origin);
		goto out;
	}
	/* our own origin and the nonce we stored, never the token's */
	if ((r = gw_authcert_tbs(tok.alg, ac->origin,
	         nonce != NULL ? nonce : jn, tbs)) != 0)
		goto out;
	v = ca_verify_signature(X509_get0_pubkey(tok.cert), tok.alg, tbs,
	    sizeof(tbs), tok.sig, tok.sig_len);
	if (v == UK_ERR_NOMEM || v == UK_ERR_INPUT) {
		r = v == UK_ERR_NOMEM ? v : UK_ERR_INTERNAL;
		goto out;
	}
	if (v != 0) {
		code = UK_ERR_SIGNATURE_INVALID;
		snprintf(res->detail, sizeof(res->detail),
		    "the %s signature does not verify for %.180s", tok.alg,
		    ac->origin);
		goto out;
	}
	if ((r = principal(st, res->sha256, now, &code, id, res)) != 0)
		goto out;
out:
	/* single use: a refused token burns its challenge */
	if ((r != 0 || code != 0) && res->nonce_hash[0] != '\0') {
		b = challenge_burn(st, res->nonce_hash);
		res->nonce_hash[0] = '\0';
		if (r == 0 && b != 0) {
			r = b;
			res->detail[0] = '\0';
		}
	}
	if (r != 0) {
		code = r;
		if (res->detail[0] == '\0')
			snprintf(res->detail, sizeof(res->detail), "%s",
			    store_last_error(st));
	}
	res->code = code;
	gw_authtoken_clear(&tok);
	json_decref(j);
	OPENSSL_cleanse(tbs, sizeof(tbs));
	return r;
}

int
gw_authcert_verify_nonce(struct gw_authcert *ac, struct store *st,
    const char *browser, const char *nonce, const char *token_json, size_t len,
    int64_t now, struct gw_identity *id, struct gw_authcert_result *res)
{
	int r, own = 0;

	if ((r = gw_authcert_check(ac, st, browser, nonce, token_json, len, now,
	         id, res)) != 0 ||
	    res->code != 0)
		return r;
	/* Without the caller's transaction, a relaxed one of its own: the
	 * take becomes durable with the next durable commit, for an accepted
	 * login the caller's session and audit row. */
	if (!store_in_transaction(st)) {
		if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) != 0)
			goto out;
		own = 1;
	}
	if ((r = gw_authcert_take(st, res)) != 0)
		goto out;
	if (own) {
		own = 0;
		if ((r = store_commit(st)) != 0)
			goto out;
	}
out:
	if (own)
		store_rollback(st);
	if (r != 0) {
		res->code = r;
		snprintf(res->detail, sizeof(res->detail), "%s",
		    store_last_error(st));
	}
	return r;
}

int
gw_authcert_verify(struct gw_authcert *ac, struct store *st,
    const char *browser, const char *token_json, size_t len, int64_t now,
    struct gw_identity *id, struct gw_authcert_result *res)
{
	return gw_authcert_verify_nonce(ac, st, browser, NULL, token_json, len,
	    now, id, res);
}
