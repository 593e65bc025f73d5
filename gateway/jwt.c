/* gateway/jwt.c: the ES256 identity assertion (JWS compact form), its signing key, the JWKS, and a strict verifier. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/rnd.h"
#include "common/store.h"
#include "gateway/jwt.h"

#define JWT_MAX 16384      /* longest token looked at */
#define JWT_PART_MAX 8192  /* longest decoded header or claims */
#define KEY_FILE_MAX 16384 /* longest PEM key file */
#define KID_MAX 128

/*
 * Signed assertions kept for reuse (gw_jwt_assertion_cached): AC_SETS sets
 * of AC_WAYS entries, the set chosen by the key's first bytes, the least
 * recently used entry of a set replaced; one lock per set. An entry is
 * reused for at most j->life seconds (min(ttl / 2, AC_LIFE_MAX)), so a
 * reused assertion has at least ttl / 2 seconds left.
 */
#define AC_SETS 256
#define AC_WAYS 4
#define AC_LIFE_MAX 30

struct ac_entry {
	unsigned char key[SHA256_DIGEST_LENGTH];
	int64_t made; /* the assertion's iat */
	uint64_t used;
	char *token; /* NULL: free */
};

struct ac_set {
	pthread_mutex_t lock;
	uint64_t tick;
	struct ac_entry e[AC_WAYS];
};

struct gw_jwt {
	EVP_PKEY *key;
	char kid[KID_MAX];
	char *issuer;
	char *audience;
	int ttl;
	int life;              /* seconds an assertion is reused; 0: never */
	struct ac_set *sets;   /* AC_SETS, or NULL */
	pthread_mutex_t slock; /* guards hits and misses */
	uint64_t hits, misses;
};

/* Never prompts for a passphrase: an encrypted key file is unusable. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int
key_is_p256(EVP_PKEY *k)
{
	char group[64];
	size_t glen = 0;

	if (!EVP_PKEY_is_a(k, "EC"))
		return 0;
	if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
	        sizeof(group), &glen) != 1)
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* Makes a new P-256 key and writes it as PKCS#8 PEM to path (O_EXCL, 0600).
 * Returns 0, UK_ERR_EXISTS, UK_ERR_IO, UK_ERR_INTERNAL. */
static int
key_create(const char *path)
{
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	char *data;
	long n;
	int r = UK_ERR_INTERNAL;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		goto out;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	if (PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) !=
	    1)
		goto out;
	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	r = file_write_new(path, data, (size_t)n, 0600);
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	return r;
}

/* Reads the key at path, creating it first when missing. */
static int
key_load(const char *path, EVP_PKEY **out)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat sb;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	int r;

	*out = NULL;
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT)
			return UK_ERR_IO;
		r = key_create(path);
		if (r != 0 && r != UK_ERR_EXISTS)
			return r;
	}
	if ((r = file_read_all(path, KEY_FILE_MAX, &buf, &len)) != 0)
		return r == UK_ERR_LIMIT ? UK_ERR_CA_KEY : UK_ERR_IO;
	r = UK_ERR_CA_KEY;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) ==
	    NULL)
		goto out;
	if (!key_is_p256(k))
		goto out;
	*out = k;
	k = NULL; /* transferred */
	r = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return r;
}

/* The public JWK of k (compact JSON, malloc'd) and its RFC 7638 kid. */
static int
key_jwk(EVP_PKEY *k, char *kid, size_t kidlen, char **jwk)
{
	BIGNUM *x = NULL, *y = NULL;
	unsigned char xb[32], yb[32], d[32];
	unsigned int dlen = 0;
	char *xs = NULL, *ys = NULL, *ks = NULL, input[256];
	json_t *o = NULL;
	int n, r = UK_ERR_INTERNAL;

	*jwk = NULL;
	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
		goto out;
	if (BN_bn2binpad(x, xb, 32) != 32 || BN_bn2binpad(y, yb, 32) != 32)
		goto out;
	r = UK_ERR_NOMEM;
	if ((xs = b64_encode(xb, 32, 1)) == NULL ||
	    (ys = b64_encode(yb, 32, 1)) == NULL)
		goto out;
	/* RFC 7638: the required members, sorted, no whitespace. */
	n = snprintf(input, sizeof(input),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs,
	    ys);
	r = UK_ERR_INTERNAL;
	if (n < 0 || (size_t)n >= sizeof(input))
		goto out;
	if (EVP_Digest(input, (size_t)n, d, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != 32)
		goto out;
	r = UK_ERR_NOMEM;
	if ((ks = b64_encode(d, 32, 1)) == NULL)
		goto out;
	r = UK_ERR_INTERNAL;
	if (strlen(ks) >= kidlen)
		goto out;
	memcpy(kid, ks, strlen(ks) + 1);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
	    "P-256", "x", xs, "y", ys, "kid", ks, "use", "sig", "alg", "ES256");
	if (o == NULL)
		goto out;
	if ((*jwk = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	r = 0;
out:
	json_decref(o);
	BN_free(x);
	BN_free(y);
	free(xs);
	free(ys);
	free(ks);
	return r;
}

/* The assertion cache's sets, or NULL. */
static struct ac_set *
ac_sets_new(void)
{
	struct ac_set *sets;
	size_t i;

	if ((sets = calloc(AC_SETS, sizeof(*sets))) == NULL)
		return NULL;
	for (i = 0; i < AC_SETS; i++)
		if (pthread_mutex_init(&sets[i].lock, NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&sets[i].lock);
			free(sets);
			return NULL;
		}
	return sets;
}

static void
ac_sets_free(struct ac_set *sets)
{
	size_t i, w;

	if (sets == NULL)
		return;
	for (i = 0; i < AC_SETS; i++) {
		for (w = 0; w < AC_WAYS; w++)
			free(sets[i].e[w].token);
		pthread_mutex_destroy(&sets[i].lock);
	}
	free(sets);
}

int
gw_jwt_open(struct store *st, const char *key_path, const char *issuer,
    const char *audience, int ttl, struct gw_jwt **out)
{
	struct gw_jwt *j = NULL;
	char *jwk = NULL;
	int r;

	*out = NULL;
	if (key_path == NULL || issuer == NULL || audience == NULL ||
	    *issuer == '\0' || *audience == '\0' || ttl < 0)
		return UK_ERR_CONFIG_VALUE;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return UK_ERR_NOMEM;
	if (pthread_mutex_init(&j->slock, NULL) != 0) {
		free(j);
		return UK_ERR_NOMEM;
	}
	j->ttl = ttl > 0 ? ttl : 60;
	j->life = j->ttl / 2 < AC_LIFE_MAX ? j->ttl / 2 : AC_LIFE_MAX;
	r = UK_ERR_NOMEM;
	if ((j->sets = ac_sets_new()) == NULL)
		goto out;
	if ((j->issuer = strdup(issuer)) == NULL ||
	    (j->audience = strdup(audience)) == NULL)
		goto out;
	if ((r = key_load(key_path, &j->key)) != 0)
		goto out;
	if ((r = key_jwk(j->key, j->kid, sizeof(j->kid), &jwk)) != 0)
		goto out;
	if (st != NULL &&
	    (r = store_exec(st, NULL,
	         "INSERT INTO assertion_keys (kid, jwk, created_at)"
	         " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
	         "tti", j->kid, jwk, (int64_t)time(NULL))) != 0)
		goto out;
	*out = j;
	j = NULL; /* transferred */
	r = 0;
out:
	free(jwk);
	gw_jwt_free(j);
	return r;
}

void
gw_jwt_free(struct gw_jwt *j)
{
	if (j == NULL)
		return;
	ac_sets_free(j->sets);
	pthread_mutex_destroy(&j->slock);
	EVP_PKEY_free(j->key);
	free(j->issuer);
	free(j->audience);
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

/* base64url of the compact JSON of o; NULL when out of memory. */
static char *
b64_json(const json_t *o)
{
	char *s, *e;

	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		return NULL;
	e = b64_encode((const unsigned char *)s, strlen(s), 1);
	free(s);
	return e;
}

/* ES256 over msg with k: the raw r || s (RFC 7518 3.4) into sig. */
static int
es256_sign(EVP_PKEY *k, const char *msg, size_t len, unsigned char sig[64])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t dlen = 0;
	ECDSA_SIG *es = NULL;
	const BIGNUM *br, *bs;
	int r = UK_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(ctx, NULL, &dlen, (const unsigned char *)msg, len) !=
	        1)
		goto out;
	if ((der = malloc(dlen)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)msg, len) !=
	    1)
		goto out;
	p = der;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
		goto out;
	ECDSA_SIG_get0(es, &br, &bs);
	if (BN_bn2binpad(br, sig, 32) != 32 ||
	    BN_bn2binpad(bs, sig + 32, 32) != 32)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(es);
	free(der);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Splits a space-separated role list into a JSON array. */
static json_t *
roles_array(const char *roles)
{
	json_t *a;
	const char *p = roles, *e;

	if ((a = json_array()) == NULL)
		return NULL;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		if (e > p &&
		    json_array_append_new(a,
		        json_stringn(p, (size_t)(e - p))) != 0) {
			json_decref(a);
			return NULL;
		}
		p = e;
	}
	return a;
}

int
gw_jwt_assertion(struct gw_jwt *j, const struct gw_identity *id, int64_t now,
    char **out)
{
	json_t *hdr = NULL, *cl = NULL, *roles = NULL;
	char jti[33], sub[sizeof(id->kind) + GW_LOGIN_MAX + 2];
	char *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
	unsigned char sig[64];
	size_t hl, pl, sl;
	int r = UK_ERR_INTERNAL;

	*out = NULL;
	if (rnd_hex(jti, 16) != 0)
		goto out;
	/* The identity's strings are bounded arrays: read them bounded. */
	snprintf(sub, sizeof(sub), "%.*s:%.*s", (int)sizeof(id->kind) - 1,
	    id->kind, GW_LOGIN_MAX, id->login);
	if ((roles = roles_array(id->roles)) == NULL)
		goto out;
	hdr = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid",
	    j->kid);
	cl = json_pack("{s:s,s:s,s:s,s:s%,s:s%,s:s%,s:O,s:s%,s:s%,s:I,s:I,s:I,"
	               "s:s}",
	    "iss", j->issuer, "aud", j->audience, "sub", sub, "unit", id->unit,
	    strnlen(id->unit, sizeof(id->unit)), "login", id->login,
	    strnlen(id->login, sizeof(id->login)), "name", id->name,
	    strnlen(id->name, sizeof(id->name)), "roles", roles, "method",
	    id->method, strnlen(id->method, sizeof(id->method)), "scope",
	    id->scope, strnlen(id->scope, sizeof(id->scope)), "iat",
	    (json_int_t)now, "nbf", (json_int_t)now, "exp",
	    (json_int_t)(now + j->ttl), "jti", jti);
	if (hdr == NULL || cl == NULL)
		goto out;
	r = UK_ERR_NOMEM;
	if ((h64 = b64_json(hdr)) == NULL || (p64 = b64_json(cl)) == NULL)
		goto out;
	hl = strlen(h64);
	pl = strlen(p64);
	if ((input = malloc(hl + 1 + pl + 1 + 86 + 1)) == NULL)
		goto out;
	memcpy(input, h64, hl);
	input[hl] = '.';
	memcpy(input + hl + 1, p64, pl);
	input[hl + 1 + pl] = '\0';
	if ((r = es256_sign(j->key, input, hl + 1 + pl, sig)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((s64 = b64_encode(sig, sizeof(sig), 1)) == NULL)
		goto out;
	sl = strlen(s64); /* 86 */
	if (sl != 86) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	input[hl + 1 + pl] = '.';
	memcpy(input + hl + 1 + pl + 1, s64, sl + 1);
	*out = input;
	input = NULL; /* transferred */
	r = 0;
out:
	json_decref(hdr);
	json_decref(cl);
	json_decref(roles);
	free(h64);
	free(p64);
	free(s64);
	free(input);
	return r;
}

/* Appends the bounded string s (at most max bytes) and a NUL to the key
 * input buf (size bytes, *n used): strings hold no NUL, so the
 * concatenation is unambiguous. */
static void
key_str(unsigned char *buf, size_t size, size_t *n, const char *s, size_t max)
{
	size_t l = strnlen(s, max);

	if (*n + l + 1 > size)
		return;
	memcpy(buf + *n, s, l);
	buf[*n + l] = '\0';
	*n += l + 1;
}

static void
key_int(unsigned char *buf, size_t size, size_t *n, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	if (*n + 8 > size)
		return;
	for (i = 0; i < 8; i++)
		buf[(*n)++] = (unsigned char)(u >> (56 - 8 * i));
}

/* The cache key of sid and id: SHA-256 of every field the claims are made
 * from (and the session). */
static void
ac_key(const char *sid, const struct gw_identity *id,
    unsigned char key[SHA256_DIGEST_LENGTH])
{
	unsigned char buf[1024];
	size_t n = 0;

	key_str(buf, sizeof(buf), &n, sid != NULL ? sid : "", 128);
	key_str(buf, sizeof(buf), &n, id->kind, sizeof(id->kind));
	key_int(buf, sizeof(buf), &n, id->principal_id);
	key_str(buf, sizeof(buf), &n, id->unit, sizeof(id->unit));
	key_str(buf, sizeof(buf), &n, id->login, sizeof(id->login));
	key_str(buf, sizeof(buf), &n, id->name, sizeof(id->name));
	key_str(buf, sizeof(buf), &n, id->roles, sizeof(id->roles));
	key_str(buf, sizeof(buf), &n, id->method, sizeof(id->method));
	key_str(buf, sizeof(buf), &n, id->scope, sizeof(id->scope));
	key_int(buf, sizeof(buf), &n, id->unit_authorised);
	key_int(buf, sizeof(buf), &n, id->cert_sig_at);
	SHA256(buf, n, key);
}

/* Whether an assertion made at made may be handed out again at now. */
static int
ac_fresh(const struct gw_jwt *j, int64_t made, int64_t now)
{
	return now >= made && now - made < j->life;
}

int
gw_jwt_assertion_cached(struct gw_jwt *j, const char *sid,
    const struct gw_identity *id, int64_t now, char **out)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	struct ac_set *set;
	struct ac_entry *e, *lru;
	char *tok = NULL, *copy = NULL;
	size_t w;
	int r;

	*out = NULL;
	if (j->sets == NULL || j->life <= 0)
		return gw_jwt_assertion(j, id, now, out);
	ac_key(sid, id, key);
	set = &j->sets[((size_t)key[0] << 8 | key[1]) % AC_SETS];
	pthread_mutex_lock(&set->lock);
	for (w = 0; w < AC_WAYS; w++) {
		e = &set->e[w];
		if (e->token != NULL && memcmp(e->key, key, sizeof(key)) == 0 &&
		    ac_fresh(j, e->made, now)) {
			e->used = ++set->tick;
			copy = strdup(e->token);
			break;
		}
	}
	pthread_mutex_unlock(&set->lock);
	if (copy != NULL) {
		pthread_mutex_lock(&j->slock);
		j->hits++;
		pthread_mutex_unlock(&j->slock);
		*out = copy;
		return 0;
	}
	if ((r = gw_jwt_assertion(j, id, now, &tok)) != 0)
		return r;
	pthread_mutex_lock(&j->slock);
	j->misses++;
	pthread_mutex_unlock(&j->slock);
	/* kept for the next requests; out of memory: only not kept */
	if ((copy = strdup(tok)) != NULL) {
		pthread_mutex_lock(&set->lock);
		lru = &set->e[0];
		for (w = 0; w < AC_WAYS; w++) {
			e = &set->e[w];
			if (e->token != NULL &&
			    memcmp(e->key, key, sizeof(key)) == 0) {
				lru = e; /* the same key, older or newer */
				break;
			}
			if (e->token == NULL || e->used < lru->used)
				lru = e;
		}
		if (lru->token == NULL ||
		    memcmp(lru->key, key, sizeof(key)) != 0 ||
		    lru->made <= now) {
			free(lru->token);
			memcpy(lru->key, key, sizeof(key));
			lru->token = copy;
			copy = NULL; /* transferred */
			lru->made = now;
			lru->used = ++set->tick;
		}
		pthread_mutex_unlock(&set->lock);
		free(copy);
	}
	*out = tok;
	return 0;
}

void
gw_jwt_cache_stats(struct gw_jwt *j, uint64_t *hits, uint64_t *misses)
{
	if (hits != NULL)
		*hits = 0;
	if (misses != NULL)
		*misses = 0;
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->slock);
	if (hits != NULL)
		*hits = j->hits;
	if (misses != NULL)
		*misses = j->misses;
	pthread_mutex_unlock(&j->slock);
}

int
gw_jwks_json(struct store *st, char **out)
{
	struct store_res *res = NULL;
	json_t *doc = NULL, *keys, *k;
	size_t i, n;
	int r;

	*out = NULL;
	if ((r = store_exec(st, &res,
	         "SELECT jwk FROM assertion_keys WHERE retired_at IS NULL"
	         " ORDER BY created_at, kid",
	         "")) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((doc = json_object()) == NULL || (keys = json_array()) == NULL ||
	    json_object_set_new(doc, "keys", keys) != 0)
		goto out;
	n = store_res_rows(res);
	for (i = 0; i < n; i++) {
		const char *t = store_res_text(res, i, 0);

		if (t == NULL)
			continue;
		/* A row that is not a JSON object is skipped, not served. */
		if ((k = json_loads(t, JSON_REJECT_DUPLICATES, NULL)) == NULL)
			continue;
		if (!json_is_object(k) || json_array_append_new(keys, k) != 0) {
			if (!json_is_object(k))
				json_decref(k);
			continue;
		}
	}
	if ((*out = json_dumps(doc, JSON_COMPACT)) == NULL)
		goto out;
	r = 0;
out:
	json_decref(doc);
	store_res_free(res);
	return r;
}

/* The P-256 public key of the JWK whose kid is kid in jwks, or NULL. */
static EVP_PKEY *
jwks_find(const char *jwks, const char *kid, const char **why)
{
	json_t *doc = NULL, *keys, *k;
	const char *s, *xs, *ys;
	unsigned char *x = NULL, *y = NULL, pub[65];
	size_t xl = 0, yl = 0, i;
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	*why = "JWKS unreadable";
	if (jwks == NULL ||
	    (doc = json_loads(jwks, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		goto out;
	if (!json_is_object(doc) ||
	    !json_is_array(keys = json_object_get(doc, "keys")))
		goto out;
	*why = "kid not in the JWKS";
	for (i = 0; i < json_array_size(keys); i++) {
		k = json_array_get(keys, i);
		if (!json_is_object(k) ||
		    json_get_string(k, "kid", KID_MAX, &s) != 0 ||
		    strcmp(s, kid) != 0)
			continue;
		*why = "JWK not an ES256 P-256 signing key";
		if (json_get_string(k, "kty", 8, &s) != 0 ||
		    strcmp(s, "EC") != 0 ||
		    json_get_string(k, "crv", 8, &s) != 0 ||
		    strcmp(s, "P-256") != 0)
			goto out;
		if (json_object_get(k, "alg") != NULL &&
		    (json_get_string(k, "alg", 8, &s) != 0 ||
		        strcmp(s, "ES256") != 0))
			goto out;
		if (json_object_get(k, "use") != NULL &&
		    (json_get_string(k, "use", 8, &s) != 0 ||
		        strcmp(s, "sig") != 0))
			goto out;
		if (json_get_string(k, "x", 64, &xs) != 0 ||
		    json_get_string(k, "y", 64, &ys) != 0 ||
		    b64_decode(xs, 64, 1, &x, &xl) != 0 || xl != 32 ||
		    b64_decode(ys, 64, 1, &y, &yl) != 0 || yl != 32)
			goto out;
		pub[0] = 0x04;
		memcpy(pub + 1, x, 32);
		memcpy(pub + 33, y, 32);
		params[0] =
		    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		        group, 0);
		params[1] =
		    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
		        pub, sizeof(pub));
		params[2] = OSSL_PARAM_construct_end();
		*why = "JWK point not on P-256";
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ==
		        NULL ||
		    EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) !=
		        1) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
		goto out;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	json_decref(doc);
	return pk;
}

/* Checks a raw 64-byte ES256 signature over msg with pk. */
static int
es256_verify(EVP_PKEY *pk, const char *msg, size_t len,
    const unsigned char *sig)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx = NULL;
	int dlen, ok = 0;

	if ((es = ECDSA_SIG_new()) == NULL)
		goto out;
	if ((br = BN_bin2bn(sig, 32, NULL)) == NULL ||
	    (bs = BN_bin2bn(sig + 32, 32, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL; /* transferred */
	if ((dlen = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, der, (size_t)dlen,
	         (const unsigned char *)msg, len) == 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return ok;
}

/* An integer claim: 1 and *v when present and an integer, 0 when absent,
 * -1 when of another type. */
static int
claim_int(const json_t *c, const char *key, int64_t *v)
{
	json_t *x = json_object_get(c, key);

	if (x == NULL)
		return 0;
	if (!json_is_integer(x))
		return -1;
	*v = (int64_t)json_integer_value(x);
	return 1;
}

int
gw_jwt_verify_ex(const char *token, const char *jwks_json, const char *issuer,
    const char *audience, int64_t now, int leeway, char **claims,
    const char **why)
{
	static const char *const hdr_keys[] = { "alg", "typ", "kid", NULL };
	char *tok = NULL, *d1, *d2, *claims_s = NULL;
	unsigned char *hb = NULL, *pb = NULL, *sb = NULL;
	size_t hl = 0, pl = 0, sl = 0, tl;
	json_t *hdr = NULL, *cl = NULL, *aud;
	const char *s, *kid, *dummy;
	EVP_PKEY *pk = NULL;
	int64_t exp = 0, nbf = 0, iat = 0;
	int r = UK_ERR_JWT_INVALID, k;

	if (why == NULL)
		why = &dummy;
	*why = "malformed token";
	if (claims != NULL)
		*claims = NULL;
	if (token == NULL || issuer == NULL || audience == NULL || leeway < 0)
		goto out;
	if ((tl = strnlen(token, JWT_MAX + 1)) > JWT_MAX || tl == 0)
		goto out;
	if ((tok = strdup(token)) == NULL)
		goto out;
	if ((d1 = strchr(tok, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		goto out;
	*d1 = '\0';
	*d2 = '\0';
	if (b64_decode(tok, JWT_MAX, 1, &hb, &hl) != 0 ||
	    b64_decode(d1 + 1, JWT_MAX, 1, &pb, &pl) != 0 ||
	    b64_decode(d2 + 1, JWT_MAX, 1, &sb, &sl) != 0)
		goto out;
	*why = "malformed header";
	if (json_parse_object((const char *)hb, hl, JWT_PART_MAX, &hdr) != 0 ||
	    json_only_keys(hdr, hdr_keys) != 0)
		goto out;
	*why = "alg is not ES256";
	if (json_get_string(hdr, "alg", 16, &s) != 0 || strcmp(s, "ES256") != 0)
		goto out;
	*why = "typ is not JWT";
	if (json_get_string(hdr, "typ", 16, &s) != 0 || strcmp(s, "JWT") != 0)
		goto out;
	*why = "no kid";
	if (json_get_string(hdr, "kid", KID_MAX - 1, &kid) != 0 || *kid == '\0')
		goto out;
	*why = "signature is not 64 bytes";
	if (sl != 64)
		goto out;
	if ((pk = jwks_find(jwks_json, kid, why)) == NULL)
		goto out;
	*d1 = '.'; /* the signing input is header.claims as sent */
	*why = "bad signature";
	if (!es256_verify(pk, tok, (size_t)(d2 - tok), sb))
		goto out;
	*why = "malformed claims";
	if (json_parse_object((const char *)pb, pl, JWT_PART_MAX, &cl) != 0)
		goto out;
	*why = "wrong issuer";
	if (json_get_string(cl, "iss", 1024, &s) != 0 || strcmp(s, issuer) != 0)
		goto out;
	*why = "wrong audience";
	aud = json_object_get(cl, "aud");
	if (json_is_string(aud)) {
		if (strcmp(json_string_value(aud), audience) != 0)
			goto out;
	} else if (json_is_array(aud)) {
		size_t i, n = json_array_size(aud);

		for (i = 0; i < n; i++) {
			json_t *a = json_array_get(aud, i);

			if (json_is_string(a) &&
			    strcmp(json_string_value(a), audience) == 0)
				break;
		}
		if (i == n)
			goto out;
	} else
		goto out;
	*why = "no exp";
	if (claim_int(cl, "exp", &exp) != 1)
		goto out;
	*why = "expired";
	if (now >= exp + leeway)
		goto out;
	*why = "malformed nbf";
	if ((k = claim_int(cl, "nbf", &nbf)) < 0)
		goto out;
	*why = "not yet valid";
	if (k == 1 && now + leeway < nbf)
		goto out;
	*why = "malformed iat";
	if (claim_int(cl, "iat", &iat) < 0)
		goto out;
	if (claims != NULL) {
		*why = "out of memory";
		if ((claims_s = json_dumps(cl, JSON_COMPACT)) == NULL)
			goto out;
		*claims = claims_s;
	}
	*why = "";
	r = 0;
out:
	EVP_PKEY_free(pk);
	json_decref(hdr);
	json_decref(cl);
	free(hb);
	free(pb);
	free(sb);
	free(tok);
	return r;
}

int
gw_jwt_verify(const char *token, const char *jwks_json, const char *issuer,
    const char *audience, int64_t now, int leeway)
{
	return gw_jwt_verify_ex(token, jwks_json, issuer, audience, now, leeway,
	    NULL, NULL);
}
