/* certs/ocsp.c: the CA's OCSP responder: request parsing, signed responses from the store, response cache, libmicrohttpd server. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ocsp.h"
#include "certs/verify.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/store.h"

/* CertID hash algorithms we can match against the issuer. */
#define MAX_HASHES 5
/* A CertID's DER (the cache key) is far shorter than this in practice. */
#define MAX_KEY 512
/* GET: candidate starts of the base64 after a path prefix. */
#define MAX_GET_TRIES 8
/* Base64 characters of a CA_OCSP_MAX_REQ_BYTES request. */
#define MAX_B64 (((CA_OCSP_MAX_REQ_BYTES + 2) / 3) * 4)
#define FIRST_BUCKETS 256
/* SM2 signatures use the default distinguishing ID of GM/T 0009-2012. */

/* The issuing CA's CertID hashes for one digest. */
struct issuer_hash {
	int nid;
	unsigned int len;
	unsigned char name[EVP_MAX_MD_SIZE];
	unsigned char key[EVP_MAX_MD_SIZE];
};

/* A cached response: key (a CertID's DER) then the response DER in data. */
struct cache_entry {
	struct cache_entry *next;
	uint64_t hash;
	time_t this_update;
	time_t next_update;
	time_t refresh_at; /* half of the validity: re-sign from then on */
	size_t keylen;
	size_t derlen;
	unsigned char data[];
};

struct ca_ocsp {
	struct store *st;
	pthread_mutex_t store_lock; /* st, and the clearing on its changes */
	pthread_mutex_t cache_lock; /* buckets, count, gen */
	X509 *issuer;
	X509 *signer;
	EVP_PKEY *key;
	const EVP_MD *md; /* NULL for keys that sign without one */
	int sm2;
	long validity;
	long http_max_age; /* Cache-Control max-age cap, seconds */
	struct issuer_hash hashes[MAX_HASHES];
	size_t nhashes;
	struct cache_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t gen; /* bumped whenever the cache is emptied */
	uint64_t seed;
	atomic_ulong requests;
	/* The signer's own state, under store_lock: its status is read from
	 * the store again after every change there. */
	char *signer_serial; /* hex, as the store keeps it */
	int signer_stale;    /* 1: read its status again */
	int signer_revoked;
	int signer_logged; /* the state last logged: enum signer_state */
};

enum signer_state { SIGNER_USABLE = 0, SIGNER_REVOKED, SIGNER_EXPIRED };

/* What answering one request did, for the HTTP layer and the log. */
struct answer {
	const char *status; /* good, revoked, unknown, multi or an error */
	int cached;         /* served from the cache */
	int successful;     /* a signed response (may be cached by HTTP) */
	time_t next_update;
};

/* Unsigned OCSPResponses carrying only an error status (RFC 6960 4.2.1). */
static const unsigned char resp_malformed[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
static const unsigned char resp_internal[] = { 0x30, 0x03, 0x0a, 0x01, 0x02 };
static const unsigned char resp_trylater[] = { 0x30, 0x03, 0x0a, 0x01, 0x03 };
static const unsigned char resp_unauth[] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };

static int
copy_out(const unsigned char *p, size_t len, unsigned char **out,
    size_t *outlen)
{
	if ((*out = malloc(len)) == NULL)
		return UK_ERR_NOMEM;
	memcpy(*out, p, len);
	*outlen = len;
	return 0;
}

/* FNV-1a over the key, started from a per-responder random seed. */
static uint64_t
key_hash(const struct ca_ocsp *o, const unsigned char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL ^ o->seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= key[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* Empties the cache. Called with cache_lock held. */
static void
cache_clear_locked(struct ca_ocsp *o)
{
	struct cache_entry *e, *next;
	size_t i;

	for (i = 0; i < o->nbuckets; i++) {
		for (e = o->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		o->buckets[i] = NULL;
	}
	o->count = 0;
	o->gen++;
}

/* Looks key up. On a fresh hit copies the response into *der (malloc'd) and
 * returns 1; on a miss returns 0 and sets *gen to the cache generation seen,
 * for cache_put. Returns -1 when out of memory. */
static int
cache_get(struct ca_ocsp *o, const unsigned char *key, size_t keylen,
    uint64_t hash, time_t now, unsigned char **der, size_t *derlen,
    time_t *next_update, uint64_t *gen)
{
	struct cache_entry *e;
	int r = 0;

	pthread_mutex_lock(&o->cache_lock);
	*gen = o->gen;
	for (e = o->buckets[hash & (o->nbuckets - 1)]; e != NULL; e = e->next) {
		if (e->hash != hash || e->keylen != keylen ||
		    memcmp(e->data, key, keylen) != 0)
			continue;
		/* Past half of its validity, or the clock went back. */
		if (now >= e->refresh_at || now < e->this_update)
			break;
		if ((*der = malloc(e->derlen)) == NULL) {
			r = -1;
			break;
		}
		memcpy(*der, e->data + keylen, e->derlen);
		*derlen = e->derlen;
		*next_update = e->next_update;
		r = 1;
		break;
	}
	pthread_mutex_unlock(&o->cache_lock);
	return r;
}

/* Doubles the bucket array when the table gets crowded. Called with
 * cache_lock held; on allocation failure the table stays as it is. */
static void
cache_grow_locked(struct ca_ocsp *o)
{
	struct cache_entry **nb, *e, *next;
	size_t n = o->nbuckets * 2, i;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < o->nbuckets; i++) {
		for (e = o->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(o->buckets);
	o->buckets = nb;
	o->nbuckets = n;
}

/* Stores a response for key unless the cache was emptied since gen was read
 * (the store changed meanwhile: the response may be stale). Out of memory
 * just means not caching. */
static void
cache_put(struct ca_ocsp *o, const unsigned char *key, size_t keylen,
    uint64_t hash, uint64_t gen, const unsigned char *der, size_t derlen,
    time_t this_update, time_t next_update)
{
	struct cache_entry *e, **pp;

	if ((e = malloc(sizeof(*e) + keylen + derlen)) == NULL)
		return;
	e->hash = hash;
	e->keylen = keylen;
	e->derlen = derlen;
	e->this_update = this_update;
	e->next_update = next_update;
	e->refresh_at = this_update + (next_update - this_update) / 2;
	memcpy(e->data, key, keylen);
	memcpy(e->data + keylen, der, derlen);

	pthread_mutex_lock(&o->cache_lock);
	if (gen != o->gen) {
		pthread_mutex_unlock(&o->cache_lock);
		free(e);
		return;
	}
	/* Replace an older response for the same CertID. */
	for (pp = &o->buckets[hash & (o->nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->next) {
		if ((*pp)->hash == hash && (*pp)->keylen == keylen &&
		    memcmp((*pp)->data, key, keylen) == 0) {
			struct cache_entry *old = *pp;

			*pp = old->next;
			free(old);
			o->count--;
			break;
		}
	}
	if (o->count >= CA_OCSP_CACHE_MAX)
		cache_clear_locked(o);
	else if (o->count >= o->nbuckets)
		cache_grow_locked(o);
	pp = &o->buckets[hash & (o->nbuckets - 1)];
	e->next = *pp;
	*pp = e;
	o->count++;
	pthread_mutex_unlock(&o->cache_lock);
}

void
ca_ocsp_invalidate(struct ca_ocsp *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->cache_lock);
	cache_clear_locked(o);
	pthread_mutex_unlock(&o->cache_lock);
}

/* Drops the cache when another connection committed a change to the store.
 * The store lock is held while clearing so that no request can pass its own
 * check and read the stale cache in between. */
static int
check_changes(struct ca_ocsp *o)
{
	int r;

	pthread_mutex_lock(&o->store_lock);
	r = store_changed(o->st);
	if (r != 0) {
		/* On failure we cannot know: answer from the store. */
		o->signer_stale = 1;
		pthread_mutex_lock(&o->cache_lock);
		cache_clear_locked(o);
		pthread_mutex_unlock(&o->cache_lock);
	}
	pthread_mutex_unlock(&o->store_lock);
	if (r < 0) {
		uk_log(UK_LOG_WARN, "ocsp: store change check failed: %s",
		    store_last_error(o->st));
		return -r;
	}
	return 0;
}

/* Whether the responder may sign: its own certificate neither revoked in
 * the store nor outside its validity. Logs an error each time that changes.
 * Returns 0 (usable), 1 (not usable: answer tryLater) or a store error. */
static int
signer_check(struct ca_ocsp *o, time_t now)
{
	struct store_res *res = NULL;
	enum signer_state state = SIGNER_USABLE;
	const char *s;
	int r;

	pthread_mutex_lock(&o->store_lock);
	if (o->signer_stale) {
		if ((r = store_exec(o->st, &res,
		         "SELECT status FROM certs WHERE serial = ?", "t",
		         o->signer_serial)) != 0) {
			uk_log(UK_LOG_ERROR,
			    "ocsp: signer status lookup failed: %s",
			    store_last_error(o->st));
			goto out;
		}
		/* Only a stored revocation counts: a signer the store does
		 * not list is judged on its validity alone. */
		s = store_res_text(res, 0, 0);
		o->signer_revoked = s != NULL && strcmp(s, "active") != 0;
		o->signer_stale = 0;
	}
	if (o->signer_revoked)
		state = SIGNER_REVOKED;
	else if (X509_cmp_time(X509_get0_notAfter(o->signer), &now) <= 0 ||
	    X509_cmp_time(X509_get0_notBefore(o->signer), &now) > 0)
		state = SIGNER_EXPIRED;
	if ((int)state != o->signer_logged) {
		if (state == SIGNER_REVOKED)
			uk_log_err(UK_ERR_CERT_REVOKED,
			    "ocsp: the OCSP signer certificate %s is revoked;"
			    " answering tryLater until it is replaced",
			    o->signer_serial);
		else if (state == SIGNER_EXPIRED)
			uk_log_err(UK_ERR_CERT_EXPIRED,
			    "ocsp: the OCSP signer certificate %s is not valid"
			    " now; answering tryLater until it is replaced",
			    o->signer_serial);
		else
			uk_log(UK_LOG_INFO,
			    "ocsp: the OCSP signer certificate %s is usable"
			    " again",
			    o->signer_serial);
		o->signer_logged = (int)state;
	}
	r = state == SIGNER_USABLE ? 0 : 1;
out:
	pthread_mutex_unlock(&o->store_lock);
	store_res_free(res);
	ERR_clear_error();
	return r;
}

/* 1 when cid names our issuing CA (name and key hash with a known digest). */
static int
is_our_issuer(const struct ca_ocsp *o, OCSP_CERTID *cid)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *alg = NULL;
	int nid;
	size_t i;

	if (OCSP_id_get0_info(&nh, &alg, &kh, NULL, cid) != 1 || nh == NULL ||
	    kh == NULL || alg == NULL)
		return 0;
	nid = OBJ_obj2nid(alg);
	for (i = 0; i < o->nhashes; i++) {
		const struct issuer_hash *h = &o->hashes[i];

		if (h->nid != nid)
			continue;
		return ASN1_STRING_length(nh) == (int)h->len &&
		    ASN1_STRING_length(kh) == (int)h->len &&
		    memcmp(ASN1_STRING_get0_data(nh), h->name, h->len) == 0 &&
		    memcmp(ASN1_STRING_get0_data(kh), h->key, h->len) == 0;
	}
	return 0;
}

/* The status of one serial from the store: V_OCSP_CERTSTATUS_*, with the
 * revocation time and reason (OCSP_REVOKED_STATUS_NOSTATUS for none).
 * Returns 0 or a store error. */
static int
lookup_status(struct ca_ocsp *o, OCSP_CERTID *cid, time_t now, int *status,
    time_t *revoked_at, int *reason)
{
	ASN1_INTEGER *serial = NULL;
	struct store_res *res = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	const char *s;
	int64_t why;
	int r = UK_ERR_INTERNAL;

	*status = V_OCSP_CERTSTATUS_UNKNOWN;
	*revoked_at = 0;
	*reason = OCSP_REVOKED_STATUS_NOSTATUS;
	if (OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) != 1 ||
	    serial == NULL)
		goto out;
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	/* Not an issued serial: negative, or longer than RFC 5280 allows. */
	if (BN_is_negative(bn) || BN_num_bytes(bn) > 20) {
		r = 0;
		goto out;
	}
	pthread_mutex_lock(&o->store_lock);
	r = store_exec(o->st, &res,
	    "SELECT status, revoked_at, reason FROM certs WHERE serial = ?",
	    "t", hex);
	if (r != 0)
		uk_log(UK_LOG_ERROR, "ocsp: certificate lookup failed: %s",
		    store_last_error(o->st));
	pthread_mutex_unlock(&o->store_lock);
	if (r != 0)
		goto out;
	if (store_res_rows(res) == 0) {
		r = 0;
		goto out;
	}
	s = store_res_text(res, 0, 0);
	if (s != NULL && strcmp(s, "active") == 0) {
		*status = V_OCSP_CERTSTATUS_GOOD;
		r = 0;
		goto out;
	}
	/* 'revoked', or a status this responder does not know: fail closed. */
	*status = V_OCSP_CERTSTATUS_REVOKED;
	*revoked_at = store_res_isnull(res, 0, 1)
	    ? now
	    : (time_t)store_res_int(res, 0, 1);
	why = store_res_isnull(res, 0, 2) ? 0 : store_res_int(res, 0, 2);
	/* unspecified(0) is left out (RFC 5280 5.3.1); 7 is not assigned. */
	if (why > 0 && why <= 10 && why != 7)
		*reason = (int)why;
	r = 0;
out:
	store_res_free(res);
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

/* Signs bs with the responder's key and encodes the OCSPResponse. */
static int
sign_encode(struct ca_ocsp *o, OCSP_BASICRESP *bs, unsigned char **der,
    size_t *derlen)
{
	OCSP_RESPONSE *resp = NULL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *p = NULL;
	int len, r = UK_ERR_INTERNAL;

	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (o->sm2) {
		if ((pctx = EVP_PKEY_CTX_new(o->key, NULL)) == NULL ||
		    EVP_PKEY_CTX_set1_id(pctx, CA_SM2_DEFAULT_ID,
		        strlen(CA_SM2_DEFAULT_ID)) <= 0)
			goto out;
		EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	}
	if (EVP_DigestSignInit(mctx, NULL, o->md, NULL, o->key) != 1)
		goto out;
	/* The signer's certificate goes in (no OCSP_NOCERTS); the responder
	 * is named by key hash. */
	if (OCSP_basic_sign_ctx(bs, o->signer, mctx, NULL, OCSP_RESPID_KEY) !=
	    1)
		goto out;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	         bs)) == NULL)
		goto out;
	if ((len = i2d_OCSP_RESPONSE(resp, &p)) <= 0)
		goto out;
	if ((r = copy_out(p, (size_t)len, der, derlen)) != 0)
		goto out;
	r = 0;
out:
	if (r == UK_ERR_INTERNAL)
		uk_log(UK_LOG_ERROR, "ocsp: signing the response failed: %s",
		    ERR_reason_error_string(ERR_peek_last_error())
		        ? ERR_reason_error_string(ERR_peek_last_error())
		        : "unknown");
	ERR_clear_error();
	OPENSSL_free(p);
	OCSP_RESPONSE_free(resp);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

static const char *
status_name(int status)
{
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		return "good";
	case V_OCSP_CERTSTATUS_REVOKED:
		return "revoked";
	default:
		return "unknown";
	}
}

/* Builds and signs the answer to req's CertIDs. Returns 0 with *der set,
 * UK_ERR_NOT_FOUND when a CertID does not name our issuer (unauthorized), a store
 * error, or UK_ERR_NOMEM / UK_ERR_INTERNAL. */
static int
build_response(struct ca_ocsp *o, OCSP_REQUEST *req, int n, time_t now,
    unsigned char **der, size_t *derlen, struct answer *a)
{
	OCSP_BASICRESP *bs = NULL;
	ASN1_TIME *thisupd = NULL, *nextupd = NULL, *revtime = NULL;
	OCSP_CERTID *cid;
	time_t revoked_at;
	int i, status, reason, r = UK_ERR_INTERNAL;

	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (thisupd = ASN1_TIME_set(NULL, now)) == NULL ||
	    (nextupd = ASN1_TIME_set(NULL, now + o->validity)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	/* Another issuer's certificate: not ours to answer. A response
	 * mixing issuers could not be checked against a delegated signer
	 * anyway (its CertIDs must all name the signer's issuer), so the
	 * whole request is unauthorized. */
	for (i = 0; i < n; i++) {
		cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
		if (!is_our_issuer(o, cid)) {
			r = UK_ERR_NOT_FOUND;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
		if ((r = lookup_status(o, cid, now, &status, &revoked_at,
		         &reason)) != 0)
			goto out;
		ASN1_TIME_free(revtime);
		revtime = NULL;
		if (status == V_OCSP_CERTSTATUS_REVOKED &&
		    (revtime = ASN1_TIME_set(NULL, revoked_at)) == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
		if (OCSP_basic_add1_status(bs, cid, status, reason, revtime,
		        thisupd, nextupd) == NULL) {
			r = UK_ERR_INTERNAL;
			goto out;
		}
		a->status = n == 1 ? status_name(status) : "multi";
	}
	if ((r = sign_encode(o, bs, der, derlen)) != 0)
		goto out;
	a->successful = 1;
	a->next_update = now + o->validity;
	r = 0;
out:
	ASN1_TIME_free(revtime);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	OCSP_BASICRESP_free(bs);
	return r;
}

/* 1 when req encodes back to exactly der (len bytes). */
static int
is_der(OCSP_REQUEST *req, const unsigned char *der, size_t len)
{
	unsigned char stackbuf[1024], *buf = stackbuf, *p;
	int n, ok = 0;

	n = i2d_OCSP_REQUEST(req, NULL);
	if (n <= 0 || (size_t)n != len)
		return 0;
	if (len > sizeof(stackbuf) && (buf = malloc(len)) == NULL)
		return 0;
	p = buf;
	if (i2d_OCSP_REQUEST(req, &p) == n && memcmp(buf, der, len) == 0)
		ok = 1;
	if (buf != stackbuf)
		free(buf);
	return ok;
}

/* ca_ocsp_respond, also telling the HTTP layer what it answered. */
static int
respond(struct ca_ocsp *o, const unsigned char *reqder, size_t reqlen,
    unsigned char **resp, size_t *resplen, struct answer *a)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *cid;
	const unsigned char *p = reqder;
	unsigned char keybuf[MAX_KEY], *kp;
	size_t keylen = 0;
	uint64_t hash = 0, gen = 0;
	time_t now = time(NULL);
	int n, len, hit, r;

	*resp = NULL;
	*resplen = 0;
	memset(a, 0, sizeof(*a));
	a->status = "malformed";
	if (reqder == NULL || reqlen == 0 || reqlen > CA_OCSP_MAX_REQ_BYTES ||
	    (req = d2i_OCSP_REQUEST(NULL, &p, (long)reqlen)) == NULL ||
	    p != reqder + reqlen)
		goto malformed;
	n = OCSP_request_onereq_count(req);
	if (n <= 0 || n > CA_OCSP_MAX_CERTIDS)
		goto malformed;
	/* DER only: what OpenSSL's decoder also takes (BER lengths, odd
	 * parameters) must encode back to exactly the bytes received, or
	 * the response could not repeat the CertIDs faithfully. */
	if (!is_der(req, reqder, reqlen))
		goto malformed;
	if ((r = check_changes(o)) != 0)
		goto error;
	/* Never sign (nor serve what was signed) with a revoked or expired
	 * signer. */
	if ((r = signer_check(o, now)) < 0 || r > 1)
		goto error;
	if (r == 1) {
		a->status = "trylater";
		r = copy_out(resp_trylater, sizeof(resp_trylater), resp,
		    resplen);
		goto out;
	}
	if (n == 1) {
		/* The cache key: the CertID exactly as asked (the response
		 * repeats it). Nonces are not part of it: not echoed. */
		cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
		len = i2d_OCSP_CERTID(cid, NULL);
		if (len > 0 && len <= MAX_KEY) {
			kp = keybuf;
			keylen = (size_t)i2d_OCSP_CERTID(cid, &kp);
			hash = key_hash(o, keybuf, keylen);
			hit = cache_get(o, keybuf, keylen, hash, now, resp,
			    resplen, &a->next_update, &gen);
			if (hit < 0) {
				r = UK_ERR_NOMEM;
				goto error;
			}
			if (hit) {
				a->status = "cached";
				a->cached = 1;
				a->successful = 1;
				r = 0;
				goto out;
			}
		}
	}
	r = build_response(o, req, n, now, resp, resplen, a);
	if (r == UK_ERR_NOT_FOUND) {
		a->status = "unauthorized";
		r = copy_out(resp_unauth, sizeof(resp_unauth), resp, resplen);
		goto out;
	}
	if (r != 0)
		goto error;
	if (keylen > 0)
		cache_put(o, keybuf, keylen, hash, gen, *resp, *resplen, now,
		    a->next_update);
	r = 0;
	goto out;

malformed:
	ERR_clear_error();
	r = copy_out(resp_malformed, sizeof(resp_malformed), resp, resplen);
	goto out;
error:
	/* The store unreachable or busy is temporary: tryLater (RFC 6960
	 * 4.2.1), and never an answer from a cache that may be stale. Out
	 * of memory too: the five bytes of internalError may fit. */
	if (r >= UK_ERR_STORE_URL && r <= UK_ERR_STORE_CONFLICT) {
		a->status = "trylater";
		r = copy_out(resp_trylater, sizeof(resp_trylater), resp,
		    resplen);
	} else {
		a->status = "internalerror";
		r = copy_out(resp_internal, sizeof(resp_internal), resp,
		    resplen);
	}
out:
	if (r != 0) {
		free(*resp);
		*resp = NULL;
		*resplen = 0;
	}
	OCSP_REQUEST_free(req);
	return r;
}

int
ca_ocsp_respond(struct ca_ocsp *o, const unsigned char *req, size_t reqlen,
    unsigned char **resp, size_t *resplen)
{
	struct answer a;

	return respond(o, req, reqlen, resp, resplen, &a);
}

/* Computes the issuer's name and key hashes for every digest we accept. */
static int
hash_issuer(struct ca_ocsp *o)
{
	static const int nids[MAX_HASHES] = { NID_sha1, NID_sha256, NID_sha384,
		NID_sha512, NID_sm3 };
	struct issuer_hash *h;
	const EVP_MD *md;
	unsigned int nlen, klen;
	size_t i;

	for (i = 0; i < MAX_HASHES; i++) {
		if ((md = EVP_get_digestbynid(nids[i])) == NULL)
			continue; /* not in this OpenSSL */
		h = &o->hashes[o->nhashes];
		if (X509_NAME_digest(X509_get_subject_name(o->issuer), md,
		        h->name, &nlen) != 1 ||
		    X509_pubkey_digest(o->issuer, md, h->key, &klen) != 1 ||
		    nlen != klen)
			return UK_ERR_INTERNAL;
		h->nid = nids[i];
		h->len = nlen;
		o->nhashes++;
	}
	return o->nhashes > 0 ? 0 : UK_ERR_INTERNAL;
}

void
ca_ocsp_set_http_max_age(struct ca_ocsp *o, long secs)
{
	o->http_max_age = secs > 0 ? secs : 0;
}

int
ca_ocsp_new(struct store *st, X509 *issuer, X509 *signer, EVP_PKEY *signer_key,
    long next_update_secs, struct ca_ocsp **out)
{
	struct ca_ocsp *o = NULL;
	int mdnid = NID_undef, locks = 0, r = UK_ERR_INTERNAL;

	if (out == NULL)
		return UK_ERR_USAGE;
	*out = NULL;
	if (st == NULL || issuer == NULL || signer == NULL ||
	    signer_key == NULL || next_update_secs < 0 ||
	    next_update_secs > 366L * 86400) {
		r = UK_ERR_USAGE;
		goto out;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (pthread_mutex_init(&o->store_lock, NULL) != 0)
		goto out;
	locks++;
	if (pthread_mutex_init(&o->cache_lock, NULL) != 0)
		goto out;
	locks++;
	o->st = st;
	o->validity = next_update_secs > 0 ? next_update_secs
	                                   : CA_OCSP_DEFAULT_NEXT_UPDATE;
	atomic_init(&o->requests, 0);
	if (!X509_up_ref(issuer))
		goto out;
	o->issuer = issuer;
	if (!X509_up_ref(signer))
		goto out;
	o->signer = signer;
	{
		BIGNUM *bn =
		    ASN1_INTEGER_to_BN(X509_get0_serialNumber(signer), NULL);

		o->signer_serial = bn != NULL ? BN_bn2hex(bn) : NULL;
		BN_free(bn);
		if (o->signer_serial == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
		o->signer_stale = 1;
	}
	if (!EVP_PKEY_up_ref(signer_key))
		goto out;
	o->key = signer_key;
	if (X509_check_private_key(signer, signer_key) != 1) {
		uk_log(UK_LOG_ERROR,
		    "ocsp: the signer key does not match the "
		    "OCSP signer certificate");
		r = UK_ERR_CA_KEY;
		goto out;
	}
	/* The issuing CA may sign its responses itself; a delegated signer
	 * must be issued by it for OCSPSigning (RFC 6960 4.2.2.2), or no
	 * client would accept what it signs. */
	if (X509_cmp(issuer, signer) != 0 &&
	    (X509_check_issued(issuer, signer) != X509_V_OK ||
	        (X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0 ||
	        (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0)) {
		uk_log(UK_LOG_ERROR,
		    "ocsp: the OCSP signer certificate is not "
		    "issued by the issuing CA for OCSPSigning");
		r = UK_ERR_CA_KEY;
		goto out;
	}
	ERR_clear_error();
	o->sm2 = EVP_PKEY_is_a(signer_key, "SM2");
	if (o->sm2)
		o->md = EVP_sm3();
	else if (EVP_PKEY_get_default_digest_nid(signer_key, &mdnid) > 0 &&
	    mdnid == NID_undef)
		o->md = NULL; /* Ed25519 and the like */
	else
		o->md = EVP_sha256();
	if ((r = hash_issuer(o)) != 0)
		goto out;
	o->nbuckets = FIRST_BUCKETS;
	if ((o->buckets = calloc(o->nbuckets, sizeof(*o->buckets))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = rnd_bytes(&o->seed, sizeof(o->seed))) != 0)
		goto out;
	if ((r = store_listen(st)) != 0) {
		uk_log(UK_LOG_ERROR,
		    "ocsp: cannot listen for store changes: %s",
		    store_last_error(st));
		goto out;
	}
	/* Changes before now are irrelevant: the cache is empty. */
	if (store_changed(st) < 0) {
		r = UK_ERR_STORE_QUERY;
		goto out;
	}
	*out = o;
	o = NULL; /* transferred */
	r = 0;
out:
	if (o != NULL) {
		X509_free(o->issuer);
		X509_free(o->signer);
		OPENSSL_free(o->signer_serial);
		EVP_PKEY_free(o->key);
		free(o->buckets);
		if (locks > 1)
			pthread_mutex_destroy(&o->cache_lock);
		if (locks > 0)
			pthread_mutex_destroy(&o->store_lock);
		free(o);
	}
	ERR_clear_error();
	return r;
}

void
ca_ocsp_free(struct ca_ocsp *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->cache_lock);
	cache_clear_locked(o);
	pthread_mutex_unlock(&o->cache_lock);
	free(o->buckets);
	pthread_mutex_destroy(&o->cache_lock);
	pthread_mutex_destroy(&o->store_lock);
	X509_free(o->issuer);
	X509_free(o->signer);
	OPENSSL_free(o->signer_serial);
	EVP_PKEY_free(o->key);
	free(o);
}

/* ---- HTTP ---- */

/* A POST body being received. */
struct post_body {
	unsigned char *buf;
	size_t len;
	size_t cap;
	int too_big;
};

/* The marker for requests other than POST that need no state. */
static int no_body;

int
ca_ocsp_get_decode(const char *url, unsigned char **der, size_t *derlen)
{
	const char *start = url, *slash;
	unsigned char *bin = NULL;
	const unsigned char *p;
	char *text = NULL;
	size_t len, i, binlen;
	long objlen;
	int tag, xclass, tries, r = UK_ERR_INPUT;

	*der = NULL;
	*derlen = 0;
	if (url == NULL)
		return UK_ERR_INPUT;
	if ((text = malloc(MAX_B64 + 4)) == NULL)
		return UK_ERR_NOMEM;
	for (tries = 0; tries < MAX_GET_TRIES && start != NULL; tries++) {
		while (*start == '/')
			start++;
		slash = strchr(start, '/');
		len = strlen(start);
		while (len > 0 && start[len - 1] == '/')
			len--;
		if (len == 0 || len > MAX_B64 || len % 4 == 1)
			goto next;
		for (i = 0; i < len; i++) {
			char c = start[i];

			text[i] = c == '-' ? '+'
			    : c == '_'     ? '/'
			    : c == ' '     ? '+'
			                   : c;
		}
		while (i % 4 != 0)
			text[i++] = '=';
		text[i] = '\0';
		if (b64_decode(text, MAX_B64, 0, &bin, &binlen) != 0)
			goto next;
		p = bin;
		if (binlen > 0 && binlen <= CA_OCSP_MAX_REQ_BYTES &&
		    bin[0] == 0x30 &&
		    (ASN1_get_object(&p, &objlen, &tag, &xclass, (long)binlen) &
		        0x80) == 0 &&
		    (size_t)(p - bin) + (size_t)objlen == binlen) {
			*der = bin;
			*derlen = binlen;
			bin = NULL; /* transferred */
			r = 0;
			break;
		}
	next:
		free(bin);
		bin = NULL;
		start = slash;
	}
	ERR_clear_error();
	free(bin);
	free(text);
	return r;
}

static enum MHD_Result
send_plain(struct MHD_Connection *c, unsigned int code, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers der (malloc'd; ownership passes to libmicrohttpd). */
static enum MHD_Result
send_ocsp(const struct ca_ocsp *o, struct MHD_Connection *c, unsigned char *der,
    size_t len, const struct answer *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char cc[96];
	long max_age;

	resp = MHD_create_response_from_buffer(len, der, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(der);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/ocsp-response");
	if (a->successful) {
		/* RFC 5019 6.2 allows caching until nextUpdate, but a proxy
		 * would then serve "good" that long after a revocation: at
		 * most http_max_age (0 by default). */
		max_age = (long)(a->next_update - time(NULL));
		if (max_age > o->http_max_age)
			max_age = o->http_max_age;
		if (max_age < 0)
			max_age = 0;
		snprintf(cc, sizeof(cc),
		    "max-age=%ld, public, no-transform, must-revalidate",
		    max_age);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    cc);
	} else
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers one DER request over HTTP, logging it at debug level. */
static enum MHD_Result
answer_der(struct ca_ocsp *o, struct MHD_Connection *c, const char *method,
    const unsigned char *req, size_t reqlen)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	struct answer a;
	unsigned long id;

	id = atomic_fetch_add(&o->requests, 1) + 1;
	if (respond(o, req, reqlen, &der, &derlen, &a) != 0) {
		uk_log(UK_LOG_ERROR,
		    "ocsp: out of memory answering request %lu", id);
		return send_plain(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	}
	uk_log(UK_LOG_DEBUG,
	    "ocsp req=%lu method=%s req_bytes=%zu status=%s cache=%s "
	    "resp_bytes=%zu",
	    id, method, reqlen, a.status, a.cached ? "hit" : "miss", derlen);
	return send_ocsp(o, c, der, derlen, &a);
}

/* 1 when the Content-Type is application/ocsp-request (parameters allowed). */
static int
is_ocsp_request_type(const char *ct)
{
	static const char want[] = "application/ocsp-request";
	size_t n = sizeof(want) - 1;

	if (strncasecmp(ct, want, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

static enum MHD_Result
on_get(struct ca_ocsp *o, struct MHD_Connection *c, const char *url)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum MHD_Result ret;
	int r;

	r = ca_ocsp_get_decode(url, &der, &derlen);
	if (r == UK_ERR_NOMEM)
		return send_plain(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	/* Junk still gets an OCSP answer: malformedRequest. */
	ret = answer_der(o, c, "GET", der, derlen);
	free(der);
	return ret;
}

static enum MHD_Result
on_post_start(struct MHD_Connection *c, void **con_cls)
{
	struct post_body *b;
	const char *v;
	unsigned long long cl;
	char *end;

	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v != NULL) {
		errno = 0;
		cl = strtoull(v, &end, 10);
		if (errno != 0 || end == v || cl > CA_OCSP_MAX_REQ_BYTES)
			return send_plain(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL);
	}
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (v != NULL && !is_ocsp_request_type(v))
		return send_plain(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return MHD_NO;
	*con_cls = b;
	return MHD_YES;
}

/* Appends a chunk of body; past the limit the body is dropped and the
 * request will be answered 413. */
static void
post_append(struct post_body *b, const char *data, size_t len)
{
	unsigned char *nb;
	size_t ncap;

	if (b->too_big)
		return;
	if (len > CA_OCSP_MAX_REQ_BYTES - b->len) {
		b->too_big = 1;
		free(b->buf);
		b->buf = NULL;
		b->len = b->cap = 0;
		return;
	}
	if (b->len + len > b->cap) {
		ncap = b->cap ? b->cap : 512;
		while (ncap < b->len + len)
			ncap *= 2;
		if (ncap > CA_OCSP_MAX_REQ_BYTES)
			ncap = CA_OCSP_MAX_REQ_BYTES;
		if ((nb = realloc(b->buf, ncap)) == NULL) {
			/* Treated like an oversized body: refused. */
			b->too_big = 1;
			free(b->buf);
			b->buf = NULL;
			b->len = b->cap = 0;
			return;
		}
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct ca_ocsp *o = cls;
	struct post_body *b;

	(void)version;
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
		*con_cls = &no_body;
		return on_get(o, c, url);
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		*con_cls = &no_body;
		return send_plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, POST");
	}
	if (*con_cls == NULL)
		return on_post_start(c, con_cls);
	b = *con_cls;
	if (*upload_data_size != 0) {
		post_append(b, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (b->too_big)
		return send_plain(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL);
	return answer_der(o, c, "POST", b->buf, b->len);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct post_body *b = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (b != NULL && (void *)b != (void *)&no_body) {
		free(b->buf);
		free(b);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	uk_log(UK_LOG_DEBUG, "ocsp: libmicrohttpd: %s", msg);
}

/* Parses "HOST:PORT" / "[HOST6]:PORT" with a numeric host and port 1-65535
 * into ss. Returns 0 or UK_ERR_USAGE. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, int *v6,
    unsigned short *port)
{
	struct addrinfo hints, *ai = NULL;
	char host[64];
	const char *h, *colon, *pstr;
	size_t hlen;
	long pnum;
	char *end;
	int r = UK_ERR_USAGE;

	if (listen == NULL)
		goto out;
	if (listen[0] == '[') {
		h = listen + 1;
		if ((colon = strchr(h, ']')) == NULL || colon[1] != ':')
			goto out;
		hlen = (size_t)(colon - h);
		pstr = colon + 2;
	} else {
		h = listen;
		if ((colon = strrchr(listen, ':')) == NULL ||
		    memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			goto out;
		hlen = (size_t)(colon - h);
		pstr = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto out;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	pnum = strtol(pstr, &end, 10);
	if (errno != 0 || end == pstr || *end != '\0' || pnum < 1 ||
	    pnum > 65535)
		goto out;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, pstr, &hints, &ai) != 0 || ai == NULL ||
	    ai->ai_addrlen > sizeof(*ss))
		goto out;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*v6 = ai->ai_family == AF_INET6;
	*port = (unsigned short)pnum;
	r = 0;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	return r;
}

int
ca_ocsp_serve(struct ca_ocsp *o, const char *listen)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d = NULL;
	sigset_t set, old;
	unsigned int flags, threads;
	unsigned short port;
	long ncpu;
	int v6 = 0, masked = 0, sig, r = UK_ERR_USAGE;

	if (o == NULL || parse_listen(listen, &ss, &v6, &port) != 0) {
		uk_log(UK_LOG_ERROR, "ocsp: bad listen address \"%s\"",
		    listen != NULL ? listen : "");
		goto out;
	}
	/* Blocked here, so also in libmicrohttpd's threads: sigwait below
	 * receives them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	masked = 1;
	/* One epoll thread per core, each accepting on the shared socket:
	 * OCSP clients open a new connection per request, so accepting
	 * is the hot path. Requests take the store lock only to check for
	 * changes (and to look a serial up on a cache miss). */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	threads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (unsigned int)ncpu;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	if (v6)
		flags |=
		    MHD_USE_IPv6; /* The logger first, so that libmicrohttpd's own messages about the
	 * other options go through it too. */
	d = MHD_start_daemon(flags, port, NULL, NULL, on_request, o,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (d == NULL) {
		uk_log(UK_LOG_ERROR,
		    "ocsp: cannot listen on %s (in use, or not an address "
		    "of this host)",
		    listen);
		r = UK_ERR_IO;
		goto out;
	}
	uk_log(UK_LOG_INFO, "ocsp: listening on %s (%u threads)", listen,
	    threads);
	for (;;) {
		if (sigwait(&set, &sig) == 0 &&
		    (sig == SIGINT || sig == SIGTERM))
			break;
	}
	uk_log(UK_LOG_INFO, "ocsp: stopping on signal %d", sig);
	r = 0;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	if (masked)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
