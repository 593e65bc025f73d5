/* tests/unit/gateway/test_jwt.c: the ES256 identity assertion: key file, JWKS, round trip, the per-session assertion cache, and every way a token must be refused. */
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/store.h"
#include "gateway/jwt.h"
#include "tests/lib/testdb.h"

#define NOW 1800000000
#define ISS "https://gw.example.cn"
#define AUD "hall"

static char tmpdir[256];

struct fx {
	struct testdb db;
	struct store *st;
	struct gw_jwt *j;
	char key[600];
	char *jwks;
	char *tok;
};

static void
ident(struct gw_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->kind, sizeof(id->kind), "%s", GW_KIND_OPERATOR);
	id->principal_id = 7;
	snprintf(id->unit, sizeof(id->unit), "%s", "320100001");
	snprintf(id->login, sizeof(id->login), "%s", "zhangsan");
	snprintf(id->name, sizeof(id->name), "%s", "\xe5\xbc\xa0\xe4\xb8\x89");
	snprintf(id->roles, sizeof(id->roles), "%s", "maker  checker");
	snprintf(id->method, sizeof(id->method), "%s", "cert");
	snprintf(id->scope, sizeof(id->scope), "%s", "full");
	snprintf(id->request_id, sizeof(id->request_id), "%s",
	    "00112233445566778899aabbccddeeff");
}

static int
setup(void **state)
{
	struct gw_identity id;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	testdb_new(&f->db, STORE_SQLITE, tmpdir, "jwt");
	assert_int_equal(store_open(f->db.loc, &f->st), 0);
	snprintf(f->key, sizeof(f->key), "%s/assert.pem", f->db.dir);
	assert_int_equal(gw_jwt_open(f->st, f->key, ISS, AUD, 60, &f->j), 0);
	assert_int_equal(gw_jwks_json(f->st, &f->jwks), 0);
	ident(&id);
	assert_int_equal(gw_jwt_assertion(f->j, &id, NOW, &f->tok), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_jwt_free(f->j);
	store_close(f->st);
	testdb_drop(&f->db);
	free(f->jwks);
	free(f->tok);
	free(f);
	return 0;
}

/* Splits a token into its three parts (copies). */
static void
split(const char *tok, char *h, char *p, char *s, size_t n)
{
	const char *d1 = strchr(tok, '.'), *d2;

	assert_non_null(d1);
	d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_true(
	    (size_t)(d1 - tok) < n && (size_t)(d2 - d1) < n && strlen(d2) < n);
	memcpy(h, tok, (size_t)(d1 - tok));
	h[d1 - tok] = '\0';
	memcpy(p, d1 + 1, (size_t)(d2 - d1 - 1));
	p[d2 - d1 - 1] = '\0';
	snprintf(s, n, "%s", d2 + 1);
}

static json_t *
decode_part(const char *part)
{
	unsigned char *b;
	size_t len;
	json_t *j;

	assert_int_equal(b64_decode(part, 8192, 1, &b, &len), 0);
	j = json_loadb((const char *)b, len, 0, NULL);
	free(b);
	assert_non_null(j);
	return j;
}

static char *
encode_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT), *e;

	assert_non_null(s);
	e = b64_encode((const unsigned char *)s, strlen(s), 1);
	free(s);
	assert_non_null(e);
	return e;
}

static char *
join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "%s.%s.%s", a, b, c);
	return t;
}

static int
verify(struct fx *f, const char *tok, int64_t now)
{
	return gw_jwt_verify(tok, f->jwks, ISS, AUD, now, 0);
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	char *claims = NULL;
	const char *why = NULL;
	json_t *c, *hdr, *roles;
	char h[2048], p[2048], s[2048];

	assert_int_equal(gw_jwt_verify_ex(f->tok, f->jwks, ISS, AUD, NOW + 1, 0,
	                     &claims, &why),
	    0);
	assert_string_equal(why, "");
	c = json_loads(claims, 0, NULL);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "iss")), ISS);
	assert_string_equal(json_string_value(json_object_get(c, "aud")), AUD);
	assert_string_equal(json_string_value(json_object_get(c, "sub")),
	    "operator:zhangsan");
	assert_string_equal(json_string_value(json_object_get(c, "unit")),
	    "320100001");
	assert_string_equal(json_string_value(json_object_get(c, "name")),
	    "\xe5\xbc\xa0\xe4\xb8\x89");
	assert_string_equal(json_string_value(json_object_get(c, "method")),
	    "cert");
	assert_string_equal(json_string_value(json_object_get(c, "scope")),
	    "full");
	/* the request id is not a claim: an assertion serves several
	 * requests (it travels in X-Ukey-Request-Id) */
	assert_null(json_object_get(c, "rid"));
	assert_int_equal(json_integer_value(json_object_get(c, "exp")),
	    NOW + 60);
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), NOW);
	assert_int_equal(json_integer_value(json_object_get(c, "nbf")), NOW);
	assert_int_equal(strlen(json_string_value(json_object_get(c, "jti"))),
	    32);
	roles = json_object_get(c, "roles");
	assert_int_equal(json_array_size(roles), 2);
	assert_string_equal(json_string_value(json_array_get(roles, 0)),
	    "maker");
	assert_string_equal(json_string_value(json_array_get(roles, 1)),
	    "checker");
	json_decref(c);
	free(claims);

	split(f->tok, h, p, s, sizeof(h));
	hdr = decode_part(h);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	    "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "typ")),
	    "JWT");
	assert_int_equal(json_object_size(hdr), 3);
	json_decref(hdr);
	assert_int_equal(strlen(s), 86); /* 64 bytes */
}

static void
test_unique_jti(void **state)
{
	struct fx *f = *state;
	struct gw_identity id;
	char *t2 = NULL, h[2048], p1[2048], p2[2048], s[2048];
	json_t *a, *b;

	ident(&id);
	assert_int_equal(gw_jwt_assertion(f->j, &id, NOW, &t2), 0);
	split(f->tok, h, p1, s, sizeof(h));
	split(t2, h, p2, s, sizeof(h));
	a = decode_part(p1);
	b = decode_part(p2);
	assert_string_not_equal(json_string_value(json_object_get(a, "jti")),
	    json_string_value(json_object_get(b, "jti")));
	json_decref(a);
	json_decref(b);
	free(t2);
}

/* The claims' jti of tok. */
static char *
jti_of(const char *tok)
{
	char h[2048], p[2048], s[2048], *r;
	json_t *c;

	split(tok, h, p, s, sizeof(h));
	c = decode_part(p);
	r = strdup(json_string_value(json_object_get(c, "jti")));
	assert_non_null(r);
	json_decref(c);
	return r;
}

/* Reused for min(ttl / 2, 30) seconds per session and identity; any
 * change of the identity or the session makes a new one. */
static void
test_cached(void **state)
{
	struct fx *f = *state;
	struct gw_identity id, other;
	char *t1 = NULL, *t2 = NULL, *j1, *j2;
	uint64_t h0, m0, h, m;

	ident(&id);
	gw_jwt_cache_stats(f->j, &h0, &m0);
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &id, NOW, &t1),
	    0);
	gw_jwt_cache_stats(f->j, &h, &m);
	assert_int_equal(h, h0);
	assert_int_equal(m, m0 + 1);
	/* the next request (another request id): the same assertion */
	snprintf(id.request_id, sizeof(id.request_id), "%s", "another");
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &id, NOW + 29,
	                     &t2),
	    0);
	assert_string_equal(t1, t2);
	assert_true(t1 != t2); /* a copy of its own */
	gw_jwt_cache_stats(f->j, &h, &m);
	assert_int_equal(h, h0 + 1);
	assert_int_equal(m, m0 + 1);
	/* and it still verifies then, with half its life left */
	assert_int_equal(verify(f, t2, NOW + 29), 0);
	free(t2);
	/* 30 seconds on: a new one, with a new jti */
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &id, NOW + 30,
	                     &t2),
	    0);
	assert_string_not_equal(t1, t2);
	j1 = jti_of(t1);
	j2 = jti_of(t2);
	assert_string_not_equal(j1, j2);
	free(j1);
	free(j2);
	assert_int_equal(verify(f, t2, NOW + 30), 0);
	free(t2);
	/* a clock set back: not handed out before it was made */
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &id, NOW - 1,
	                     &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t2);
	/* another session, other roles, a step-up, another scope */
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-2", &id, NOW, &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t2);
	other = id;
	snprintf(other.roles, sizeof(other.roles), "%s", "maker");
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &other, NOW,
	                     &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t2);
	other = id;
	other.cert_sig_at = NOW;
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &other, NOW,
	                     &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t2);
	other = id;
	snprintf(other.scope, sizeof(other.scope), "%s", "query");
	assert_int_equal(gw_jwt_assertion_cached(f->j, "sid-1", &other, NOW,
	                     &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t2);
	gw_jwt_cache_stats(NULL, &h, &m);
	assert_int_equal(h + m, 0);
	free(t1);
}

/* Bounded: many sessions later the first one's assertion is gone. */
static void
test_cache_bounded(void **state)
{
	struct fx *f = *state;
	struct gw_identity id;
	char *t1 = NULL, *t2 = NULL, sid[32];
	int i;

	ident(&id);
	assert_int_equal(gw_jwt_assertion_cached(f->j, "first", &id, NOW, &t1),
	    0);
	for (i = 0; i < 5000; i++) {
		snprintf(sid, sizeof(sid), "sid-%d", i);
		id.principal_id = 1000 + i;
		assert_int_equal(gw_jwt_assertion_cached(f->j, sid, &id, NOW,
		                     &t2),
		    0);
		free(t2);
	}
	ident(&id);
	assert_int_equal(gw_jwt_assertion_cached(f->j, "first", &id, NOW, &t2),
	    0);
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);
}

/* No reuse when the assertion lives 1 second (ttl / 2 is 0). */
static void
test_cache_short_ttl(void **state)
{
	struct fx *f = *state;
	struct gw_jwt *j = NULL;
	struct gw_identity id;
	char *t1 = NULL, *t2 = NULL;

	ident(&id);
	assert_int_equal(gw_jwt_open(f->st, f->key, ISS, AUD, 1, &j), 0);
	assert_int_equal(gw_jwt_assertion_cached(j, "s", &id, NOW, &t1), 0);
	assert_int_equal(gw_jwt_assertion_cached(j, "s", &id, NOW, &t2), 0);
	assert_string_not_equal(t1, t2);
	free(t1);
	free(t2);
	gw_jwt_free(j);
}

/* Many threads asking for the same and for different sessions. */
struct asker {
	struct fx *f;
	int n;
	int fail;
};

static void *
ask(void *arg)
{
	struct asker *a = arg;
	struct gw_identity id;
	char *t, sid[16];
	int i;

	ident(&id);
	for (i = 0; i < 200; i++) {
		snprintf(sid, sizeof(sid), "s%d", (a->n + i) % 8);
		if (gw_jwt_assertion_cached(a->f->j, sid, &id, NOW + i / 50,
		        &t) != 0 ||
		    verify(a->f, t, NOW + i / 50) != 0)
			a->fail = 1;
		free(t);
	}
	return NULL;
}

static void
test_cache_threads(void **state)
{
	struct fx *f = *state;
	struct asker a[4];
	pthread_t th[4];
	uint64_t h, m;
	int i;

	for (i = 0; i < 4; i++) {
		a[i].f = f;
		a[i].n = i;
		a[i].fail = 0;
		assert_int_equal(pthread_create(&th[i], NULL, ask, &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_false(a[i].fail);
	}
	gw_jwt_cache_stats(f->j, &h, &m);
	assert_int_equal(h + m, 800);
	assert_true(h >= 700); /* 8 sessions, 4 distinct seconds */
}

static void
test_times(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify(f, f->tok, NOW), 0);
	assert_int_equal(verify(f, f->tok, NOW + 59), 0);
	assert_int_equal(verify(f, f->tok, NOW + 60), UK_ERR_JWT_INVALID);
	assert_int_equal(verify(f, f->tok, NOW + 3600), UK_ERR_JWT_INVALID);
	assert_int_equal(verify(f, f->tok, NOW - 1), UK_ERR_JWT_INVALID);
	/* leeway both ways */
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, AUD, NOW + 64, 5),
	    0);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, AUD, NOW + 65, 5),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, AUD, NOW - 5, 5),
	    0);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, AUD, NOW - 6, 5),
	    UK_ERR_JWT_INVALID);
}

static void
test_iss_aud(void **state)
{
	struct fx *f = *state;

	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, "other", AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, "halls", NOW, 0),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS, "", NOW, 0),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, f->jwks, ISS ".", AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
}

static void
test_tampered(void **state)
{
	struct fx *f = *state;
	char h[2048], p[2048], s[2048], *t, *e;
	unsigned char *sig;
	size_t slen;
	json_t *j;

	split(f->tok, h, p, s, sizeof(h));

	/* payload: another login */
	j = decode_part(p);
	json_object_set_new(j, "login", json_string("admin"));
	e = encode_json(j);
	t = join3(h, e, s);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	free(t);
	free(e);
	json_decref(j);

	/* header: same meaning, other bytes (members reordered) */
	j = decode_part(h);
	{
		json_t *o = json_pack("{s:s,s:s,s:O}", "typ", "JWT", "alg",
		    "ES256", "kid", json_object_get(j, "kid"));

		e = encode_json(o);
		json_decref(o);
	}
	json_decref(j);
	assert_string_not_equal(e, h);
	t = join3(e, p, s);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	free(t);
	free(e);

	/* signature: one bit of s flipped; r and s swapped; all zero */
	assert_int_equal(b64_decode(s, 200, 1, &sig, &slen), 0);
	assert_int_equal(slen, 64);
	sig[63] ^= 1;
	e = b64_encode(sig, 64, 1);
	t = join3(h, p, e);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	free(t);
	free(e);
	sig[63] ^= 1;
	{
		unsigned char sw[64];

		memcpy(sw, sig + 32, 32);
		memcpy(sw + 32, sig, 32);
		e = b64_encode(sw, 64, 1);
		t = join3(h, p, e);
		assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
		free(t);
		free(e);
		memset(sw, 0, sizeof(sw));
		e = b64_encode(sw, 64, 1);
		t = join3(h, p, e);
		assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
		free(t);
		free(e);
	}
	/* 63 and 65 bytes */
	e = b64_encode(sig, 63, 1);
	t = join3(h, p, e);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	free(t);
	free(e);
	free(sig);

	/* padding, extra part, missing part, whitespace */
	slen = strlen(f->tok) + 8;
	t = malloc(slen);
	assert_non_null(t);
	snprintf(t, slen, "%s=", f->tok);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	snprintf(t, slen, "%s.", f->tok);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	snprintf(t, slen, " %s", f->tok);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	snprintf(t, slen, "%s.%s", h, p);
	assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
	free(t);
	assert_int_equal(verify(f, "", NOW), UK_ERR_JWT_INVALID);
	assert_int_equal(verify(f, "..", NOW), UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(NULL, f->jwks, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
}

/* A header h2 with the original claims and signature s. */
static int
with_header(struct fx *f, json_t *hdr, const char *p, const char *s)
{
	char *e = encode_json(hdr), *t = join3(e, p, s);
	int r = verify(f, t, NOW);

	free(e);
	free(t);
	return r;
}

static void
test_header_rules(void **state)
{
	struct fx *f = *state;
	char h[2048], p[2048], s[2048];
	const char *kid;
	json_t *j, *o;

	split(f->tok, h, p, s, sizeof(h));
	o = decode_part(h);
	kid = json_string_value(json_object_get(o, "kid"));

	j = json_pack("{s:s,s:s,s:s}", "alg", "none", "typ", "JWT", "kid", kid);
	assert_int_equal(with_header(f, j, p, ""), UK_ERR_JWT_INVALID);
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s}", "alg", "none", "typ", "JWT");
	assert_int_equal(with_header(f, j, p, ""), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s}", "alg", "es256", "typ", "JWT", "kid",
	    kid);
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s}", "alg", "ES384", "typ", "JWT", "kid",
	    kid);
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s}", "alg", "ES256", "typ", "JWT");
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid",
	    "unknown");
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JOSE", "kid",
	    kid);
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s,s:[s]}", "alg", "ES256", "typ", "JWT",
	    "kid", kid, "crit", "exp");
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	j = json_pack("{s:s,s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid",
	    kid, "jku", "https://evil.example/jwks.json");
	assert_int_equal(with_header(f, j, p, s), UK_ERR_JWT_INVALID);
	json_decref(j);
	json_decref(o);
}

/* alg HS256 with the public key (its JWK text, or its PEM) as the secret:
 * the classic confusion; must never pass. */
static void
test_hs256_confusion(void **state)
{
	struct fx *f = *state;
	char h[2048], p[2048], s[2048], *e, *hs, *t, in[4096];
	unsigned char mac[32];
	unsigned int maclen = 0;
	json_t *o, *j;
	const char *secrets[2];
	size_t i;

	split(f->tok, h, p, s, sizeof(h));
	o = decode_part(h);
	j = json_pack("{s:s,s:s,s:O}", "alg", "HS256", "typ", "JWT", "kid",
	    json_object_get(o, "kid"));
	hs = encode_json(j);
	json_decref(j);
	json_decref(o);
	secrets[0] = f->jwks;
	secrets[1] = "-----BEGIN PUBLIC KEY-----";
	for (i = 0; i < 2; i++) {
		snprintf(in, sizeof(in), "%s.%s", hs, p);
		assert_non_null(
		    HMAC(EVP_sha256(), secrets[i], (int)strlen(secrets[i]),
		        (unsigned char *)in, strlen(in), mac, &maclen));
		e = b64_encode(mac, maclen, 1);
		t = join3(hs, p, e);
		assert_int_equal(verify(f, t, NOW), UK_ERR_JWT_INVALID);
		free(t);
		free(e);
	}
	free(hs);
}

/* The signature checked by hand with OpenSSL against the key file's public
 * half, and the kid recomputed (RFC 7638). */
static void
test_openssl_verifiable(void **state)
{
	struct fx *f = *state;
	char h[2048], p[2048], s[2048], in[4096], tp[512];
	unsigned char *sig, *pem, *der = NULL, d[32];
	size_t slen, pemlen;
	unsigned int dlen;
	BIO *bio;
	EVP_PKEY *k;
	EVP_MD_CTX *ctx;
	ECDSA_SIG *es;
	int derlen;
	json_t *jw, *key, *hdr;
	char *kid;

	split(f->tok, h, p, s, sizeof(h));
	assert_int_equal(b64_decode(s, 200, 1, &sig, &slen), 0);
	assert_int_equal(file_read_all(f->key, 65536, &pem, &pemlen), 0);
	assert_non_null(strstr((char *)pem, "BEGIN PRIVATE KEY"));
	bio = BIO_new_mem_buf(pem, (int)pemlen);
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(k);
	BIO_free(bio);
	free(pem);
	es = ECDSA_SIG_new();
	ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
	    BN_bin2bn(sig + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	assert_true(derlen > 0);
	snprintf(in, sizeof(in), "%s.%s", h, p);
	ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k),
	    1);
	assert_int_equal(EVP_DigestVerify(ctx, der, (size_t)derlen,
	                     (unsigned char *)in, strlen(in)),
	    1);
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_PKEY_free(k);
	free(sig);

	jw = json_loads(f->jwks, 0, NULL);
	assert_non_null(jw);
	assert_int_equal(json_array_size(json_object_get(jw, "keys")), 1);
	key = json_array_get(json_object_get(jw, "keys"), 0);
	assert_null(json_object_get(key, "d")); /* no private part */
	snprintf(tp, sizeof(tp),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
	    json_string_value(json_object_get(key, "x")),
	    json_string_value(json_object_get(key, "y")));
	assert_int_equal(EVP_Digest(tp, strlen(tp), d, &dlen, EVP_sha256(),
	                     NULL),
	    1);
	kid = b64_encode(d, 32, 1);
	assert_string_equal(json_string_value(json_object_get(key, "kid")),
	    kid);
	hdr = decode_part(h);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
	    kid);
	json_decref(hdr);
	free(kid);
	json_decref(jw);
}

static void
test_key_file(void **state)
{
	struct fx *f = *state;
	struct gw_jwt *j2 = NULL;
	struct store_res *res = NULL;
	struct stat sb;
	char *jwks2 = NULL, path[700];
	const char *bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END "
	                  "PRIVATE KEY-----\n";
	EVP_PKEY *p384;
	BIO *bio;
	char *data;
	long n;

	assert_int_equal(stat(f->key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Opened again: same key, same kid, one row. */
	assert_int_equal(gw_jwt_open(f->st, f->key, ISS, AUD, 0, &j2), 0);
	assert_int_equal(gw_jwks_json(f->st, &jwks2), 0);
	assert_string_equal(jwks2, f->jwks);
	assert_int_equal(gw_jwt_verify(f->tok, jwks2, ISS, AUD, NOW, 0), 0);
	free(jwks2);
	gw_jwt_free(j2);
	assert_int_equal(store_exec(f->st, &res,
	                     "SELECT COUNT(*) FROM assertion_keys", ""),
	    0);
	assert_int_equal(store_res_int(res, 0, 0), 1);
	store_res_free(res);

	/* A second gateway: its key joins the JWKS; both verify. */
	snprintf(path, sizeof(path), "%s/second.pem", f->db.dir);
	assert_int_equal(gw_jwt_open(f->st, path, ISS, AUD, 0, &j2), 0);
	assert_int_equal(gw_jwks_json(f->st, &jwks2), 0);
	{
		json_t *jw = json_loads(jwks2, 0, NULL);
		struct gw_identity id;
		char *t2 = NULL;

		assert_int_equal(json_array_size(json_object_get(jw, "keys")),
		    2);
		json_decref(jw);
		ident(&id);
		snprintf(id.kind, sizeof(id.kind), "%s", GW_KIND_STAFF);
		id.unit[0] = '\0';
		assert_int_equal(gw_jwt_assertion(j2, &id, NOW, &t2), 0);
		assert_int_equal(gw_jwt_verify(t2, jwks2, ISS, AUD, NOW, 0), 0);
		/* not with the first key alone */
		assert_int_equal(gw_jwt_verify(t2, f->jwks, ISS, AUD, NOW, 0),
		    UK_ERR_JWT_INVALID);
		free(t2);
	}
	free(jwks2);
	gw_jwt_free(j2);

	/* Retired keys leave the JWKS. */
	assert_int_equal(store_exec(f->st, NULL,
	                     "UPDATE assertion_keys SET retired_at = 1", ""),
	    0);
	assert_int_equal(gw_jwks_json(f->st, &jwks2), 0);
	assert_string_equal(jwks2, "{\"keys\":[]}");
	assert_int_equal(gw_jwt_verify(f->tok, jwks2, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	free(jwks2);

	/* Unreadable keys. */
	snprintf(path, sizeof(path), "%s/bad.pem", f->db.dir);
	assert_int_equal(file_write_new(path, bad, strlen(bad), 0600), 0);
	assert_int_equal(gw_jwt_open(f->st, path, ISS, AUD, 0, &j2),
	    UK_ERR_CA_KEY);
	assert_null(j2);
	p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(p384);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PKCS8PrivateKey(bio, p384, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &data);
	snprintf(path, sizeof(path), "%s/p384.pem", f->db.dir);
	assert_int_equal(file_write_new(path, data, (size_t)n, 0600), 0);
	BIO_free(bio);
	EVP_PKEY_free(p384);
	assert_int_equal(gw_jwt_open(f->st, path, ISS, AUD, 0, &j2),
	    UK_ERR_CA_KEY);
	snprintf(path, sizeof(path), "%s/no/such/dir/k.pem", f->db.dir);
	assert_int_equal(gw_jwt_open(f->st, path, ISS, AUD, 0, &j2), UK_ERR_IO);
}

static void
test_jwks_rules(void **state)
{
	struct fx *f = *state;
	json_t *jw, *key;
	char *s;

	assert_int_equal(gw_jwt_verify(f->tok, "", ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, "{\"keys\":{}}", ISS, AUD, NOW,
	                     0),
	    UK_ERR_JWT_INVALID);
	assert_int_equal(gw_jwt_verify(f->tok, NULL, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	/* The key marked for another algorithm is not used for ES256. */
	jw = json_loads(f->jwks, 0, NULL);
	key = json_array_get(json_object_get(jw, "keys"), 0);
	json_object_set_new(key, "alg", json_string("ES384"));
	s = json_dumps(jw, JSON_COMPACT);
	assert_int_equal(gw_jwt_verify(f->tok, s, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	free(s);
	json_object_set_new(key, "alg", json_string("ES256"));
	json_object_set_new(key, "crv", json_string("P-384"));
	s = json_dumps(jw, JSON_COMPACT);
	assert_int_equal(gw_jwt_verify(f->tok, s, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	free(s);
	json_object_set_new(key, "crv", json_string("P-256"));
	json_object_set_new(key, "y", json_string("AAAA"));
	s = json_dumps(jw, JSON_COMPACT);
	assert_int_equal(gw_jwt_verify(f->tok, s, ISS, AUD, NOW, 0),
	    UK_ERR_JWT_INVALID);
	free(s);
	json_decref(jw);
}

static void
test_postgres(void **state)
{
	struct testdb db;
	struct store *st = NULL;
	struct gw_jwt *j = NULL;
	char *jwks = NULL;
	struct fx *f = *state;

	if (getenv("UKEY_TEST_PG_URL") == NULL)
		return; /* tests/run.sh always gives one */
	memset(&db, 0, sizeof(db));
	testdb_new(&db, STORE_POSTGRES, tmpdir, "jwt");
	assert_int_equal(store_open(db.loc, &st), 0);
	assert_int_equal(gw_jwt_open(st, f->key, ISS, AUD, 60, &j), 0);
	gw_jwt_free(j);
	assert_int_equal(gw_jwt_open(st, f->key, ISS, AUD, 60, &j), 0);
	gw_jwt_free(j);
	assert_int_equal(gw_jwks_json(st, &jwks), 0);
	assert_int_equal(gw_jwt_verify(f->tok, jwks, ISS, AUD, NOW, 0), 0);
	free(jwks);
	store_close(st);
	testdb_drop(&db);
	testdb_pg_close();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unique_jti, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cache_short_ttl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cache_threads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iss_aud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_rules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hs256_confusion, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_openssl_verifiable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_rules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_postgres, setup, teardown),
	};
	int r;

	if (testdb_tmpdir("test_jwt", tmpdir, sizeof(tmpdir)) != 0) {
		perror("mkdtemp");
		return 1;
	}
	r = cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
	testdb_rmtree(tmpdir);
	return r;
}
