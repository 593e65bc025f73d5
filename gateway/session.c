/* gateway/session.c: server-side sessions in table sessions: create, look up with timeouts and revocation, logout, CSRF and pre-login tokens, cookie attributes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/rnd.h"
#include "common/store.h"
#include "gateway/conf.h"
#include "gateway/session.h"

/* base64url of 32 bytes without padding into out (44 bytes). */
static void
b64url32(const unsigned char in[32], char out[GW_TOKEN_SIZE])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                         "qrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= 30; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = al[(v >> 6) & 63];
		out[o++] = al[v & 63];
	}
	/* The last two bytes: three characters. */
	v = (uint32_t)in[30] << 16 | (uint32_t)in[31] << 8;
	out[o++] = al[(v >> 18) & 63];
	out[o++] = al[(v >> 12) & 63];
	out[o++] = al[(v >> 6) & 63];
	out[o] = '\0';
}

int
gw_token_new(char out[GW_TOKEN_SIZE])
{
	unsigned char b[32];

	out[0] = '\0';
	if (rnd_bytes(b, sizeof(b)) != 0)
		return UK_ERR_INTERNAL;
	b64url32(b, out);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

int
gw_token_form(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (i >= GW_TOKEN_LEN)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return i == GW_TOKEN_LEN;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* read-only once fetched */

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
gw_sha256_hex(const char *s, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	/* SHA256() fetches the algorithm on every call; once is enough. */
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL ||
	    EVP_Digest(s, strlen(s), md, NULL, sha256_md, NULL) != 1)
		SHA256((const unsigned char *)s, strlen(s), md);
	hex_encode(md, sizeof(md), hex);
}

int
gw_csrf_check(const char *expected, const char *given)
{
	size_t n;

	if (expected == NULL || given == NULL)
		return UK_ERR_CSRF;
	n = strlen(expected);
	if (n == 0 || strlen(given) != n)
		return UK_ERR_CSRF;
	return CRYPTO_memcmp(expected, given, n) == 0 ? 0 : UK_ERR_CSRF;
}

void
gw_pre_csrf(const char *pre, char out[GW_TOKEN_SIZE])
{
	static const char label[] = "ukey-gateway pre-login csrf";
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *c;
	unsigned int mdlen = 0;

	memset(md, 0, sizeof(md));
	if ((c = EVP_MD_CTX_new()) != NULL) {
		/* The label with its NUL, then the cookie's value. */
		if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestUpdate(c, label, sizeof(label)) != 1 ||
		    EVP_DigestUpdate(c, pre, strlen(pre)) != 1 ||
		    EVP_DigestFinal_ex(c, md, &mdlen) != 1)
			mdlen = 0;
		EVP_MD_CTX_free(c);
	}
	if (mdlen != sizeof(md)) {
		/* Never a predictable token: one that matches nothing. */
		out[0] = '\0';
		return;
	}
	b64url32(md, out);
}

void
gw_cookie_session(const char *value, char *out, size_t size)
{
	snprintf(out, size, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Lax",
	    GW_COOKIE_SESSION, value);
}

void
gw_cookie_pre(const char *value, int max_age, char *out, size_t size)
{
	snprintf(out, size,
	    "%s=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Lax",
	    GW_COOKIE_PRE, value, max_age);
}

void
gw_cookie_clear(const char *name, char *out, size_t size)
{
	snprintf(out, size,
	    "%s=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax", name);
}

int
gw_session_create(struct store *st, const struct gw_session_conf *conf,
    const struct gw_identity *id, const char *ip, const char *user_agent,
    int64_t now, char cookie[GW_TOKEN_SIZE], char csrf[GW_TOKEN_SIZE])
{
	char hash[65];
	int r;

	cookie[0] = csrf[0] = '\0';
	if ((r = gw_token_new(cookie)) != 0 || (r = gw_token_new(csrf)) != 0)
		goto out;
	gw_sha256_hex(cookie, hash);
	r = store_exec(st, NULL,
	    "INSERT INTO sessions (id_hash, kind, principal_id, unit_id,"
	    " scope, method, csrf, created_at, last_seen, expires_at,"
	    " cert_sig_at, ip, user_agent) VALUES"
	    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    "ttittttiiiitt", hash, id->kind, id->principal_id,
	    id->unit[0] != '\0' ? id->unit : NULL, id->scope, id->method, csrf,
	    now, now, now + conf->absolute,
	    id->cert_sig_at > 0 ? id->cert_sig_at : (int64_t)0, ip, user_agent);
out:
	if (r != 0) {
		OPENSSL_cleanse(cookie, GW_TOKEN_SIZE);
		cookie[0] = csrf[0] = '\0';
	}
	return r;
}

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

int
gw_session_lookup(struct store *st, const struct gw_session_conf *conf,
    const char *cookie, int64_t now, struct gw_session *out)
{
	struct store_res *res = NULL;
	struct gw_identity *id = &out->id;
	const char *status;
	int staff, r;

	memset(out, 0, sizeof(*out));
	if (!gw_token_form(cookie))
		return UK_ERR_SESSION_NONE;
	gw_sha256_hex(cookie, out->id_hash);
	if ((r = store_exec(st, &res,
	         "SELECT s.kind, s.principal_id, s.unit_id, s.scope,"
	         " s.method, s.csrf, s.created_at, s.last_seen,"
	         " s.expires_at, s.cert_sig_at, s.revoked_at,"
	         " o.login, o.name, o.roles, o.status, u.authorized_at,"
	         " f.login, f.name, f.roles, f.status, o.pw_must_change"
	         " FROM sessions s"
	         " LEFT JOIN operators o ON s.kind = 'operator'"
	         "  AND o.id = s.principal_id"
	         " LEFT JOIN units u ON u.id = o.unit_id"
	         " LEFT JOIN staff f ON s.kind = 'staff'"
	         "  AND f.id = s.principal_id"
	         " WHERE s.id_hash = ?",
	         "t", out->id_hash)) != 0)
		goto out;
	r = UK_ERR_SESSION_NONE;
	if (store_res_rows(res) != 1)
		goto out;
	copy(id->kind, sizeof(id->kind), store_res_text(res, 0, 0));
	id->principal_id = store_res_int(res, 0, 1);
	copy(id->unit, sizeof(id->unit), store_res_text(res, 0, 2));
	copy(id->scope, sizeof(id->scope), store_res_text(res, 0, 3));
	copy(id->method, sizeof(id->method), store_res_text(res, 0, 4));
	copy(out->csrf, sizeof(out->csrf), store_res_text(res, 0, 5));
	out->created_at = store_res_int(res, 0, 6);
	out->last_seen = store_res_int(res, 0, 7);
	out->expires_at = store_res_int(res, 0, 8);
	id->cert_sig_at = store_res_int(res, 0, 9);
	r = UK_ERR_SESSION_REVOKED;
	if (!store_res_isnull(res, 0, 10))
		goto out;
	r = UK_ERR_SESSION_EXPIRED;
	if (now >= out->expires_at || now - out->last_seen > conf->idle ||
	    now - out->created_at > conf->absolute)
		goto out;
	staff = strcmp(id->kind, GW_KIND_STAFF) == 0;
	r = UK_ERR_SESSION_REVOKED;
	status = store_res_text(res, 0, staff ? 19 : 14);
	if (status == NULL || strcmp(status, "active") != 0)
		goto out;
	copy(id->login, sizeof(id->login),
	    store_res_text(res, 0, staff ? 16 : 11));
	copy(id->name, sizeof(id->name),
	    store_res_text(res, 0, staff ? 17 : 12));
	copy(id->roles, sizeof(id->roles),
	    store_res_text(res, 0, staff ? 18 : 13));
	id->unit_authorised = !staff && !store_res_isnull(res, 0, 15) &&
	    store_res_int(res, 0, 15) > 0;
	out->must_change = !staff && strcmp(id->method, "password") == 0 &&
	    !store_res_isnull(res, 0, 20) && store_res_int(res, 0, 20) != 0;
	if (now - out->last_seen >= GW_SESSION_TOUCH) {
		/* A failure to note activity does not refuse the request. */
		(void)store_exec(st, NULL,
		    "UPDATE sessions SET last_seen = ? WHERE id_hash = ?"
		    " AND last_seen < ?",
		    "iti", now, out->id_hash, now);
		out->last_seen = now;
	}
	r = out->must_change ? UK_ERR_PASSWORD_MUST_CHANGE : 0;
out:
	store_res_free(res);
	if (r != 0 && r != UK_ERR_PASSWORD_MUST_CHANGE) {
		char keep[65];
		memcpy(keep, out->id_hash, sizeof(keep));
		memset(out, 0, sizeof(*out));
		memcpy(out->id_hash, keep, sizeof(keep));
	}
	return r;
}

int
gw_session_cert_sig(struct store *st, const char *id_hash, int64_t now)
{
	return store_exec(st, NULL,
	    "UPDATE sessions SET cert_sig_at = ? WHERE id_hash = ?", "it", now,
	    id_hash);
}

int
gw_session_logout(struct store *st, const char *cookie, int64_t now)
{
	char hash[65];

	if (!gw_token_form(cookie))
		return 0;
	gw_sha256_hex(cookie, hash);
	return store_exec(st, NULL,
	    "UPDATE sessions SET revoked_at = ? WHERE id_hash = ?"
	    " AND revoked_at IS NULL",
	    "it", now, hash);
}

int
gw_sessions_active(struct store *st, const struct gw_session_conf *conf,
    int64_t now, int64_t *n)
{
	struct store_res *res = NULL;
	int r;

	*n = 0;
	if ((r = store_exec(st, &res,
	         "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL"
	         " AND expires_at > ? AND last_seen >= ?",
	         "ii", now, now - conf->idle)) != 0)
		return r;
	*n = store_res_int(res, 0, 0);
	store_res_free(res);
	return 0;
}

int
gw_sessions_purge(struct store *st, int64_t now)
{
	return store_exec(st, NULL, "DELETE FROM sessions WHERE expires_at < ?",
	    "i", now - 86400);
}
