/* gateway/routes_auth.c: the gateway's own routes: UKey challenge and login, password login, logout, who-am-I, nginx auth_request verification, the JWKS and /metrics. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "common/timeutil.h"
#include "gateway/authcert.h"
#include "gateway/conf.h"
#include "gateway/httputil.h"
#include "gateway/jwt.h"
#include "gateway/metrics.h"
#include "gateway/model.h"
#include "gateway/policy.h"
#include "gateway/pwlogin.h"
#include "gateway/pwjobs.h"
#include "gateway/ratelimit.h"
#include "gateway/respond.h"
#include "gateway/routes_auth.h"
#include "gateway/routes_reset.h"
#include "gateway/session.h"

/* Seconds the pre-login cookie lives. */
#define PRE_MAX_AGE 3600
/* Bytes of all Cookie headers together. */
#define COOKIES_MAX 8192

enum route {
	R_CHALLENGE,
	R_CERT,
	R_PASSWORD,
	R_LOGOUT,
	R_PWCHANGE,
	R_SESSION,
	R_VERIFY,
	R_JWKS,
	R_METRICS,
	R_RESET,
};

static const struct {
	const char *path;
	int post; /* 1: POST with a JSON body; 0: GET/HEAD */
	enum route r;
} routes[] = {
	{ "/auth/challenge", 0, R_CHALLENGE },
	{ "/auth/cert", 1, R_CERT },
	{ "/auth/password", 1, R_PASSWORD },
	{ "/auth/logout", 1, R_LOGOUT },
	{ "/auth/password/change", 1, R_PWCHANGE },
	{ "/auth/session", 0, R_SESSION },
	{ "/auth/verify", 0, R_VERIFY },
	{ "/.well-known/jwks.json", 0, R_JWKS },
	{ "/metrics", 0, R_METRICS },
	{ GW_RESET_PATH_REQUEST, 1, R_RESET },
	{ GW_RESET_PATH_VERIFY, 1, R_RESET },
	{ GW_RESET_PATH_PASSWORD, 1, R_RESET },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

int
gw_auth_owns(const char *path)
{
	return strcmp(path, "/auth") == 0 || strncmp(path, "/auth/", 6) == 0 ||
	    strcmp(path, "/.well-known/jwks.json") == 0 ||
	    strcmp(path, "/metrics") == 0;
}

static int
find(const char *path, const char *method, size_t *idx, int *json_body)
{
	size_t i;

	*json_body = 0;
	for (i = 0; i < NROUTES; i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		*idx = i;
		if (routes[i].post) {
			if (strcmp(method, "POST") != 0)
				return UK_ERR_METHOD;
			*json_body = 1;
			return 0;
		}
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return UK_ERR_METHOD;
		return 0;
	}
	return UK_ERR_NO_ROUTE;
}

int
gw_auth_route(const char *path, const char *method, int *json_body)
{
	size_t i;

	return find(path, method, &i, json_body);
}

/* --- cookies and CSRF --- */

struct cookies {
	char buf[COOKIES_MAX];
	size_t len;
	int over;
};

static enum MHD_Result
cookie_cb(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct cookies *ck = cls;
	size_t n;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_COOKIE) != 0 || value == NULL)
		return MHD_YES;
	n = strlen(value);
	if (ck->len + n + 3 > sizeof(ck->buf)) {
		ck->over = 1;
		return MHD_NO;
	}
	if (ck->len > 0) {
		memcpy(ck->buf + ck->len, "; ", 2);
		ck->len += 2;
	}
	memcpy(ck->buf + ck->len, value, n);
	ck->len += n;
	ck->buf[ck->len] = '\0';
	return MHD_YES;
}

/* The value of cookie name over every Cookie header. Returns 0,
 * UK_ERR_NOT_FOUND or UK_ERR_BAD_COOKIE. */
static int
req_cookie(struct MHD_Connection *c, const char *name, char *out, size_t size)
{
	struct cookies ck;
	int r;

	ck.len = 0;
	ck.over = 0;
	ck.buf[0] = '\0';
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, cookie_cb, &ck);
	if (ck.over)
		return UK_ERR_BAD_COOKIE;
	if (ck.len == 0)
		return UK_ERR_NOT_FOUND;
	r = gw_cookie_get(ck.buf, name, out, size);
	OPENSSL_cleanse(ck.buf, sizeof(ck.buf));
	return r;
}

int
gw_req_session(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct gw_session *out)
{
	char cookie[128];
	struct store *st;
	int r;

	memset(out, 0, sizeof(*out));
	r = req_cookie(c, GW_COOKIE_SESSION, cookie, sizeof(cookie));
	if (r == UK_ERR_NOT_FOUND)
		return UK_ERR_SESSION_NONE;
	if (r != 0)
		return r;
	if ((st = gw_server_store(s)) == NULL) {
		r = UK_ERR_STORE_OPEN;
		goto out;
	}
	/* A session that must change its password is filled in too. */
	r = gw_session_lookup(st, &s->sess, cookie, gw_server_now(s), out);
	if (r != 0 && r != UK_ERR_PASSWORD_MUST_CHANGE)
		goto out;
	snprintf(rq->principal, sizeof(rq->principal), "%s:%s", out->id.kind,
	    out->id.login);
	snprintf(out->id.request_id, sizeof(out->id.request_id), "%s", rq->id);
out:
	OPENSSL_cleanse(cookie, sizeof(cookie));
	return r;
}

int
gw_req_csrf(struct MHD_Connection *c, const struct gw_session *se)
{
	const char *given =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");

	return gw_csrf_check(se->csrf, given);
}

/* The pre-login cookie (when valid) into pre; the login POSTs' CSRF
 * check against it. Returns 0 or UK_ERR_CSRF / UK_ERR_BAD_COOKIE. */
static int
pre_check(struct MHD_Connection *c, char pre[GW_TOKEN_SIZE])
{
	char want[GW_TOKEN_SIZE];
	int r;

	r = req_cookie(c, GW_COOKIE_PRE, pre, GW_TOKEN_SIZE);
	if (r == UK_ERR_BAD_COOKIE)
		return r;
	if (r != 0 || !gw_token_form(pre))
		return UK_ERR_CSRF;
	gw_pre_csrf(pre, want);
	return gw_csrf_check(want,
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"));
}

/* --- identity headers --- */

void
gw_idhdrs_free(struct gw_idhdrs *hb)
{
	if (hb == NULL)
		return;
	free(hb->assertion);
	hb->assertion = NULL;
}

int
gw_idhdrs_make(struct gw_server *s, const struct gw_identity *id,
    const char *request_id, struct gw_idhdrs *hb)
{
	size_t n = 0;
	int r = 0;

	memset(hb, 0, sizeof(*hb));
	snprintf(hb->pid, sizeof(hb->pid), "%lld", (long long)id->principal_id);
	/* One signed assertion serves the session's requests for a while
	 * (the request id travels in X-Ukey-Request-Id, not in it). The
	 * session's id hash is not known here: the key is the identity,
	 * whose fields are read afresh at every session lookup. */
	if (s->jwt != NULL &&
	    (r = gw_jwt_assertion_cached(s->jwt, NULL, id, gw_server_now(s),
	         &hb->assertion)) != 0)
		return r;
	hb->v[n++] = "X-Ukey-Kind";
	hb->v[n++] = id->kind;
	hb->v[n++] = "X-Ukey-Unit";
	hb->v[n++] = id->unit;
	hb->v[n++] = "X-Ukey-Operator";
	hb->v[n++] = hb->pid;
	hb->v[n++] = "X-Ukey-Login";
	hb->v[n++] = id->login;
	hb->v[n++] = "X-Ukey-Roles";
	hb->v[n++] = id->roles;
	hb->v[n++] = "X-Ukey-Method";
	hb->v[n++] = id->method;
	hb->v[n++] = "X-Ukey-Scope";
	hb->v[n++] = id->scope;
	hb->v[n++] = "X-Ukey-Request-Id";
	hb->v[n++] = request_id;
	if (hb->assertion != NULL) {
		hb->v[n++] = "X-Ukey-Assertion";
		hb->v[n++] = hb->assertion;
	}
	hb->v[n] = NULL;
	return 0;
}

/* --- answers --- */

static json_t *
roles_array(const char *roles)
{
	json_t *a = json_array();
	const char *p;
	size_t w;

	if (a == NULL)
		return NULL;
	for (p = roles; *p != '\0';) {
		p += strspn(p, " ,");
		if ((w = strcspn(p, " ,")) == 0)
			break;
		json_array_append_new(a, json_stringn(p, w));
		p += w;
	}
	return a;
}

/* The who-am-I object of a session. */
static json_t *
session_json(struct gw_server *s, const struct gw_identity *id,
    const char *csrf, int64_t created, int64_t last_seen, int64_t expires)
{
	int64_t end = last_seen + s->sess.idle;

	if (expires < end)
		end = expires;
	(void)created;
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:I,s:b,s:I}",
	    "kind", id->kind, "unit", id->unit, "login", id->login, "name",
	    id->name, "roles", roles_array(id->roles), "scope", id->scope,
	    "method", id->method, "csrf", csrf, "expires", (json_int_t)end,
	    "unitAuthorised", id->unit_authorised, "certSignedAt",
	    (json_int_t)id->cert_sig_at);
}

static enum MHD_Result
err_simple(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    int code, const char *event)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.event = event;
	return gw_respond_error(s, c, rq, &e);
}

/* The store or a 503. */
#define NEED_STORE(st)                                                         \
	do {                                                                   \
		if (((st) = gw_server_store(s)) == NULL)                       \
			return err_simple(s, c, rq, UK_ERR_STORE_OPEN, NULL);  \
	} while (0)

static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* --- GET /auth/challenge --- */

/* The per-address limit of an anonymous route that writes to the store:
 * 0 to go on, else non-zero with *ret the answer (429 with Retry-After, or
 * the store's error). */
int
gw_anon_limit(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st, const char *what, int64_t limit, enum MHD_Result *ret)
{
	const char *hdrs[3] = { MHD_HTTP_HEADER_RETRY_AFTER, NULL, NULL };
	struct gw_errans e;
	char retry[16];
	int r, over;

	if ((r = gw_rate_anon(st, what, rq->ip, limit, gw_server_now(s),
	         &over)) != 0) {
		*ret = err_simple(s, c, rq, r, NULL);
		return r;
	}
	if (over == 0)
		return 0;
	memset(&e, 0, sizeof(e));
	e.code = UK_ERR_LOGIN_RATE;
	snprintf(retry, sizeof(retry), "%d", over);
	hdrs[1] = retry;
	e.hdrs = hdrs;
	*ret = gw_respond_error(s, c, rq, &e);
	return UK_ERR_LOGIN_RATE;
}

static enum MHD_Result
challenge(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char pre[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE], nonce[45], set[256];
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct store *st;
	enum MHD_Result ret;
	int r;

	NEED_STORE(st);
	r = req_cookie(c, GW_COOKIE_PRE, pre, sizeof(pre));
	if (r == UK_ERR_BAD_COOKIE)
		return err_simple(s, c, rq, r, NULL);
	if (r != 0 || !gw_token_form(pre)) {
		if (gw_token_new(pre) != 0)
			return err_simple(s, c, rq, UK_ERR_INTERNAL, NULL);
		gw_cookie_pre(pre, PRE_MAX_AGE, set, sizeof(set));
		hdrs[0] = MHD_HTTP_HEADER_SET_COOKIE;
		hdrs[1] = set;
	}
	if (s->authcert == NULL)
		return err_simple(s, c, rq, UK_ERR_INTERNAL, NULL);
	if ((r = gw_anon_limit(s, c, rq, st, "challenge", GW_ANON_CHALLENGES,
	         &ret)) != 0)
		return ret;
	if ((r = gw_challenge_new(s->authcert, st, pre, gw_server_now(s),
	         nonce)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s challenge: %s: %s", rq->id,
		    uk_error_id(r), store_last_error(st));
		return err_simple(s, c, rq, r, NULL);
	}
	gw_pre_csrf(pre, csrf);
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:s,s:i,s:s}", "nonce", nonce, "expires_in",
	        s->challenge_ttl, "csrf", csrf),
	    hdrs);
	OPENSSL_cleanse(pre, sizeof(pre));
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

/*
 * Makes the session for id after a login and answers with it; an earlier
 * session of the browser is ended. Both writes are one durable transaction
 * (STORE_TX_WRITE_GROUP: concurrent logins share the fsync). When the
 * caller has a write transaction open (the UKey login: its challenge taken
 * and its audit row), the session joins it and login_ok commits it; on a
 * failure it is rolled back.
 */
static enum MHD_Result
login_ok(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st, const struct gw_identity *id, int must_change)
{
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE], set[256], old[128];
	const char *hdrs[3] = { MHD_HTTP_HEADER_SET_COOKIE, set, NULL };
	int64_t now = gw_server_now(s);
	enum MHD_Result ret;
	json_t *body;
	int r = 0;

	cookie[0] = '\0';
	if (!store_in_transaction(st))
		r = store_begin(st, STORE_TX_WRITE_GROUP);
	if (r == 0 && req_cookie(c, GW_COOKIE_SESSION, old, sizeof(old)) == 0)
		r = gw_session_logout(st, old, now);
	OPENSSL_cleanse(old, sizeof(old));
	if (r == 0)
		r = gw_session_create(st, &s->sess, id, rq->ip, rq->ua, now,
		    cookie, csrf);
	if (r == 0)
		r = store_commit(st);
	if (r != 0) {
		store_rollback(st);
		OPENSSL_cleanse(cookie, sizeof(cookie));
		uk_log(UK_LOG_ERROR, "rid=%s session not created: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		return err_simple(s, c, rq, r, NULL);
	}
	snprintf(rq->principal, sizeof(rq->principal), "%s:%s", id->kind,
	    id->login);
	gw_cookie_session(cookie, set, sizeof(set));
	OPENSSL_cleanse(cookie, sizeof(cookie));
	body = session_json(s, id, csrf, now, now, now + s->sess.absolute);
	if (body != NULL && must_change)
		json_object_set_new(body, "mustChangePassword", json_true());
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK, body, hdrs);
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

/* --- POST /auth/cert --- */

static enum MHD_Result
login_cert(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	static const char *const keys[] = { "token", "nonce", NULL };
	char pre[GW_TOKEN_SIZE], detail[600];
	struct gw_authcert_result res;
	struct gw_identity id;
	struct gw_errans e;
	struct store *st;
	json_t *j = NULL, *tok;
	const char *nonce = NULL;
	char *text = NULL;
	enum MHD_Result ret;
	int r;

	NEED_STORE(st);
	memset(&e, 0, sizeof(e));
	memset(&res, 0, sizeof(res));
	memset(&id, 0, sizeof(id));
	e.event = "login.cert";
	if ((r = pre_check(c, pre)) != 0) {
		/* Anyone can send these: audited within the anonymous
		 * limits only, so that they cannot flood the trail. */
		e.code = r;
		if (!gw_policy_audit_anon(rq->ip, gw_server_now(s)))
			e.event = NULL;
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	r = json_parse_object(rq->sbody != NULL ? (const char *)rq->sbody->buf
	                                        : "",
	    rq->sbody != NULL ? rq->sbody->len : 0, GW_AUTH_BODY_MAX, &j);
	if (r != 0 || json_only_keys(j, keys) != 0 ||
	    !json_is_object(tok = json_object_get(j, "token")) ||
	    (json_object_get(j, "nonce") != NULL &&
	        json_get_string(j, "nonce", GW_NONCE_MAX, &nonce) != 0)) {
		e.code = r == UK_ERR_JSON || r == UK_ERR_LIMIT
		    ? UK_ERR_JSON
		    : UK_ERR_AUTH_TOKEN_MALFORMED;
		e.event = e.code == UK_ERR_JSON ? NULL : e.event;
		gw_metrics_login(GW_MET_CERT, GW_RES_REFUSED,
		    since(&rq->start));
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	if ((text = json_dumps(tok, JSON_COMPACT)) == NULL) {
		ret = err_simple(s, c, rq, UK_ERR_NOMEM, NULL);
		goto out;
	}
	/* Reads only; a refusal burns the challenge (a relaxed write). */
	r = gw_authcert_check(s->authcert, st, pre, nonce, text, strlen(text),
	    gw_server_now(s), &id, &res);
	/* Accepted: one durable transaction takes the challenge (refused if a
	 * concurrent post of the same token took it first), appends the audit
	 * row and, in login_ok, makes the session. */
	if (r == 0 && res.code == 0 &&
	    (r = store_begin(st, STORE_TX_WRITE_GROUP)) == 0)
		r = gw_authcert_take(st, &res);
	if (r != 0 || res.code != 0) {
		store_rollback(st);
		e.code = r != 0 ? r : res.code;
		e.subject = res.sha256[0] != '\0' ? res.sha256 : NULL;
		snprintf(detail, sizeof(detail), "%s%s%s", res.subject,
		    res.subject[0] != '\0' && res.detail[0] != '\0' ? ": " : "",
		    res.detail);
		e.detail = detail[0] != '\0' ? detail : NULL;
		uk_log(UK_LOG_INFO, "rid=%s cert login refused: %s %s", rq->id,
		    uk_error_id(e.code), res.detail);
		gw_metrics_login(GW_MET_CERT,
		    r != 0 ? GW_RES_ERROR : GW_RES_REFUSED, since(&rq->start));
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	snprintf(id.request_id, sizeof(id.request_id), "%s", rq->id);
	{
		struct audit_event ev;
		char actor[GW_LOGIN_MAX + 16];

		snprintf(actor, sizeof(actor), "%s:%s", id.kind, id.login);
		memset(&ev, 0, sizeof(ev));
		ev.event = "login.cert";
		ev.actor = actor;
		ev.subject = res.sha256;
		ev.detail = res.subject;
		ev.ip = rq->ip;
		ev.user_agent = rq->ua;
		ev.result = "ok";
		if ((r = audit_append_ex(st, &ev, NULL)) != 0) {
			store_rollback(st);
			ret = err_simple(s, c, rq, r, NULL);
			goto out;
		}
	}
	gw_metrics_login(GW_MET_CERT, GW_RES_OK, since(&rq->start));
	ret = login_ok(s, c, rq, st, &id, 0);
out:
	free(text);
	json_decref(j);
	OPENSSL_cleanse(pre, sizeof(pre));
	return ret;
}

/* --- POST /auth/password --- */

/* Overwrites a JSON string's bytes in place before it is freed. */
static void
json_wipe_string(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((void *)json_string_value(v),
		    json_string_length(v));
}

static enum MHD_Result password_answer(struct gw_server *s,
    struct MHD_Connection *c, struct gw_req *rq, struct store *st,
    const char *login, int r, const struct gw_pwlogin_result *res);

static enum MHD_Result
login_password(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	static const char *const keys[] = { "login", "password", NULL };
	char pre[GW_TOKEN_SIZE];
	struct gw_errans e;
	struct secret *pw = NULL;
	struct store *st;
	const char *login = NULL, *pwtext = NULL;
	json_t *j = NULL;
	enum MHD_Result ret;
	int r;

	NEED_STORE(st);
	(void)st; /* the answer needs it: better refused before the hash */
	memset(&e, 0, sizeof(e));
	if ((r = pre_check(c, pre)) != 0) {
		e.code = r;
		e.event = gw_policy_audit_anon(rq->ip, gw_server_now(s))
		    ? "login.password"
		    : NULL;
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	r = json_parse_object(rq->sbody != NULL ? (const char *)rq->sbody->buf
	                                        : "",
	    rq->sbody != NULL ? rq->sbody->len : 0, GW_AUTH_BODY_MAX, &j);
	if (r != 0) {
		ret = err_simple(s, c, rq, UK_ERR_JSON, NULL);
		goto out;
	}
	if (json_only_keys(j, keys) != 0 ||
	    json_get_string(j, "login", GW_LOGIN_MAX, &login) != 0 ||
	    json_get_string(j, "password", SECRET_MAX, &pwtext) != 0 ||
	    login[0] == '\0' || pwtext[0] == '\0') {
		ret = err_simple(s, c, rq, UK_ERR_INPUT, NULL);
		goto out;
	}
	if ((pw = secret_from(pwtext, strlen(pwtext))) == NULL) {
		ret = err_simple(s, c, rq, UK_ERR_NOMEM, NULL);
		goto out;
	}
	json_wipe_string(json_object_get(j, "password"));
	/* The attempt (its counting and the Argon2 hash) runs on a password
	 * worker; this thread goes on with other connections meanwhile. */
	r = gw_pwjob_start(s->pwjobs, c, login, pw, rq->ip, rq->ua,
	    gw_server_now(s), &rq->pwjob);
	pw = NULL; /* taken */
	if (r != 0) {
		ret = err_simple(s, c, rq, r, NULL);
		goto out;
	}
	ret = MHD_YES;
out:
	secret_free(pw);
	if (j != NULL)
		json_wipe_string(json_object_get(j, "password"));
	json_decref(j);
	OPENSSL_cleanse(pre, sizeof(pre));
	return ret;
}

enum MHD_Result
gw_auth_password_continue(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq)
{
	struct gw_pwlogin_result res;
	const char *login = NULL;
	struct store *st;
	enum MHD_Result ret;
	int r = 0;

	if (!gw_pwjob_result(rq->pwjob, c, &r, &res, &login))
		return MHD_YES; /* not yet: suspended again */
	if ((st = gw_server_store(s)) == NULL)
		ret = err_simple(s, c, rq, UK_ERR_STORE_OPEN, NULL);
	else
		ret = password_answer(s, c, rq, st, login, r, &res);
	OPENSSL_cleanse(&res, sizeof(res));
	gw_pwjob_release(rq->pwjob);
	rq->pwjob = NULL;
	return ret;
}

/* The answer to a decided password attempt (r: gw_pwlogin_attempt's
 * return, res its outcome) for login as typed. */
static enum MHD_Result
password_answer(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, struct store *st, const char *login, int r,
    const struct gw_pwlogin_result *res)
{
	char zh[256], en[256], until[32], retry[16];
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct gw_session known;
	struct gw_identity id;
	struct gw_errans e;
	int shown, result;

	memset(&e, 0, sizeof(e));
	if (r != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s password login failed: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		gw_metrics_login(GW_MET_PASSWORD, GW_RES_ERROR,
		    since(&rq->start));
		return err_simple(s, c, rq, r, NULL);
	}
	if (res->code == 0) {
		memset(&id, 0, sizeof(id));
		snprintf(id.kind, sizeof(id.kind), "%s", GW_KIND_OPERATOR);
		id.principal_id = res->op.id;
		snprintf(id.unit, sizeof(id.unit), "%s", res->op.unit);
		snprintf(id.login, sizeof(id.login), "%s", res->op.login);
		snprintf(id.name, sizeof(id.name), "%s", res->op.name);
		snprintf(id.roles, sizeof(id.roles), "%s", res->op.roles);
		snprintf(id.method, sizeof(id.method), "password");
		snprintf(id.scope, sizeof(id.scope), "query");
		snprintf(id.request_id, sizeof(id.request_id), "%s", rq->id);
		gw_metrics_login(GW_MET_PASSWORD, GW_RES_OK, since(&rq->start));
		return login_ok(s, c, rq, st, &id, res->must_change);
	}
	/* A refusal. pwlogin wrote the attempt's own audit row; this one
	 * carries the answer's event number. */
	e.code = res->code;
	e.event = "login.password.refused";
	e.subject = login;
	result = res->code == UK_ERR_LOGIN_FROZEN ? GW_RES_FROZEN
	    : res->code == UK_ERR_LOGIN_RATE      ? GW_RES_RATE
	                                          : GW_RES_REFUSED;
	gw_metrics_login(GW_MET_PASSWORD, result, since(&rq->start));
	shown = s->detailed_pw;
	if (!s->detailed_pw &&
	    (res->code == UK_ERR_LOGIN_PASSWORD ||
	        res->code == UK_ERR_LOGIN_UNKNOWN_USER)) {
		/* One answer for both; the tries left only to a browser
		 * whose session is this very operator's. */
		e.code = UK_ERR_LOGIN_PASSWORD;
		e.msg_zh = "用户名或密码错误";
		e.msg_en = "Wrong login name or password";
		shown = gw_req_session(s, c, rq, &known) == 0 &&
		    strcasecmp(known.id.login, res->op.login) == 0 &&
		    res->op.login[0] != '\0';
	}
	if (e.code == UK_ERR_LOGIN_PASSWORD && shown && res->tries_left >= 0) {
		const struct uk_error_info *info = uk_error_info(e.code);
		snprintf(zh, sizeof(zh), "%s，还可尝试 %d 次",
		    e.msg_zh != NULL ? e.msg_zh : info->zh, res->tries_left);
		snprintf(en, sizeof(en), "%s; %d tries left",
		    e.msg_en != NULL ? e.msg_en : info->en, res->tries_left);
		e.msg_zh = zh;
		e.msg_en = en;
		e.extra = json_pack("{s:i}", "triesLeft", res->tries_left);
	}
	if (res->frozen_until > 0 &&
	    (res->code == UK_ERR_LOGIN_FROZEN || shown)) {
		time_rfc3339((time_t)res->frozen_until, until, sizeof(until));
		if (e.extra == NULL)
			e.extra = json_object();
		if (e.extra != NULL)
			json_object_set_new(e.extra, "frozenUntil",
			    json_string(until));
	}
	if (res->code == UK_ERR_LOGIN_RATE) {
		snprintf(retry, sizeof(retry), "%d",
		    res->retry_after > 0 ? res->retry_after : 60);
		hdrs[0] = MHD_HTTP_HEADER_RETRY_AFTER;
		hdrs[1] = retry;
		e.hdrs = hdrs;
	}
	return gw_respond_error(s, c, rq, &e);
}

/* --- POST /auth/logout, GET /auth/session --- */

static enum MHD_Result
logout(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char cookie[128], set[256];
	const char *hdrs[3] = { MHD_HTTP_HEADER_SET_COOKIE, set, NULL };
	struct gw_session se;
	struct store *st;
	int r;

	NEED_STORE(st);
	r = gw_req_session(s, c, rq, &se);
	if (r != 0 && r != UK_ERR_PASSWORD_MUST_CHANGE)
		return err_simple(s, c, rq, r, NULL);
	if (gw_req_csrf(c, &se) != 0)
		return err_simple(s, c, rq, UK_ERR_CSRF, "csrf.refused");
	if (req_cookie(c, GW_COOKIE_SESSION, cookie, sizeof(cookie)) == 0 &&
	    (r = gw_session_logout(st, cookie, gw_server_now(s))) != 0) {
		OPENSSL_cleanse(cookie, sizeof(cookie));
		return err_simple(s, c, rq, r, NULL);
	}
	OPENSSL_cleanse(cookie, sizeof(cookie));
	{
		struct audit_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.event = "logout";
		ev.actor = rq->principal;
		ev.ip = rq->ip;
		ev.user_agent = rq->ua;
		ev.result = "ok";
		(void)audit_append_ex(st, &ev, NULL);
	}
	gw_cookie_clear(GW_COOKIE_SESSION, set, sizeof(set));
	return gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:b}", "ok", 1), hdrs);
}

/* --- POST /auth/password/change --- */

/*
 * {"old","new"} in a session of an operator (the only thing a session with
 * a temporary password may do besides logout). Needs the session's CSRF
 * token. The old password is checked by gw_pwlogin_attempt, so it counts
 * towards the operator's daily freeze and the per-IP limit like a login:
 * a stolen session cannot be used to guess the password. The new one is
 * policy-checked before anything is counted. On success every session of
 * the operator is revoked (gw_operator_set_password) and this browser gets
 * a fresh session with the same identity, scope and method.
 */
static enum MHD_Result
password_change(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq)
{
	static const char *const keys[] = { "old", "new", NULL };
	char actor[GW_LOGIN_MAX + 16], zh[256], en[256], retry[16];
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE], set[256];
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct gw_pwlogin_result res;
	struct gw_operator op;
	struct gw_session se;
	struct gw_actor a;
	struct gw_errans e;
	struct secret *oldpw = NULL, *newpw = NULL;
	const char *otext = NULL, *ntext = NULL;
	struct store *st;
	json_t *j = NULL, *body;
	enum MHD_Result ret;
	int64_t now = gw_server_now(s);
	int r;

	NEED_STORE(st);
	memset(&e, 0, sizeof(e));
	memset(&res, 0, sizeof(res));
	cookie[0] = csrf[0] = set[0] = '\0';
	e.event = "password.change";
	r = gw_req_session(s, c, rq, &se);
	if (r != 0 && r != UK_ERR_PASSWORD_MUST_CHANGE) {
		ret = err_simple(s, c, rq, r, NULL);
		goto out;
	}
	if (gw_req_csrf(c, &se) != 0) {
		ret = err_simple(s, c, rq, UK_ERR_CSRF, "csrf.refused");
		goto out;
	}
	if (strcmp(se.id.kind, GW_KIND_OPERATOR) != 0 ||
	    (r = gw_operator_get(st, se.id.principal_id, &op)) != 0) {
		e.code = UK_ERR_POLICY_DENIED;
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	r = json_parse_object(rq->sbody != NULL ? (const char *)rq->sbody->buf
	                                        : "",
	    rq->sbody != NULL ? rq->sbody->len : 0, GW_AUTH_BODY_MAX, &j);
	if (r != 0) {
		ret = err_simple(s, c, rq, UK_ERR_JSON, NULL);
		goto out;
	}
	if (json_only_keys(j, keys) != 0 ||
	    json_get_string(j, "old", SECRET_MAX, &otext) != 0 ||
	    json_get_string(j, "new", SECRET_MAX, &ntext) != 0 ||
	    otext[0] == '\0' || ntext[0] == '\0') {
		ret = err_simple(s, c, rq, UK_ERR_INPUT, NULL);
		goto out;
	}
	if ((oldpw = secret_from(otext, strlen(otext))) == NULL ||
	    (newpw = secret_from(ntext, strlen(ntext))) == NULL) {
		ret = err_simple(s, c, rq, UK_ERR_NOMEM, NULL);
		goto out;
	}
	json_wipe_string(json_object_get(j, "old"));
	json_wipe_string(json_object_get(j, "new"));
	/* The new password's policy first: a weak one costs no try. */
	if (gw_password_policy(newpw, op.login, op.resident_id) != 0) {
		e.code = UK_ERR_PASSWORD_POLICY;
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	if (oldpw->len == newpw->len &&
	    CRYPTO_memcmp(oldpw->buf, newpw->buf, oldpw->len) == 0) {
		e.code = UK_ERR_PASSWORD_POLICY;
		e.msg_zh = "新密码不能与原密码相同";
		e.msg_en = "The new password must differ from the old one";
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	if ((r = gw_pwlogin_attempt(st, &s->pw, op.login, oldpw, rq->ip, rq->ua,
	         now, &res)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s password change failed: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		ret = err_simple(s, c, rq, r, NULL);
		goto out;
	}
	if (res.code != 0) {
		/* The operator is known to this browser: say how many tries
		 * are left. */
		e.code = res.code;
		if (res.code == UK_ERR_LOGIN_PASSWORD && res.tries_left >= 0) {
			snprintf(zh, sizeof(zh), "原密码错误，还可尝试 %d 次",
			    res.tries_left);
			snprintf(en, sizeof(en),
			    "Wrong current password; %d tries left",
			    res.tries_left);
			e.msg_zh = zh;
			e.msg_en = en;
			e.extra =
			    json_pack("{s:i}", "triesLeft", res.tries_left);
		}
		if (res.code == UK_ERR_LOGIN_RATE) {
			snprintf(retry, sizeof(retry), "%d",
			    res.retry_after > 0 ? res.retry_after : 60);
			hdrs[0] = MHD_HTTP_HEADER_RETRY_AFTER;
			hdrs[1] = retry;
			e.hdrs = hdrs;
		}
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	snprintf(actor, sizeof(actor), "operator:%s", op.login);
	memset(&a, 0, sizeof(a));
	a.who = actor;
	a.ip = rq->ip;
	a.user_agent = rq->ua;
	if ((r = gw_operator_set_password(st, &a, op.id, newpw, 0)) != 0) {
		e.code = r;
		ret = gw_respond_error(s, c, rq, &e);
		goto out;
	}
	/* Every session of the operator is revoked, this one too: a fresh
	 * one for this browser. */
	if ((r = gw_session_create(st, &s->sess, &se.id, rq->ip, rq->ua, now,
	         cookie, csrf)) != 0) {
		ret = err_simple(s, c, rq, r, NULL);
		goto out;
	}
	gw_cookie_session(cookie, set, sizeof(set));
	hdrs[0] = MHD_HTTP_HEADER_SET_COOKIE;
	hdrs[1] = set;
	body = session_json(s, &se.id, csrf, now, now, now + s->sess.absolute);
	if (body != NULL)
		json_object_set_new(body, "passwordChanged", json_true());
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK, body, hdrs);
out:
	secret_free(oldpw);
	secret_free(newpw);
	if (j != NULL) {
		json_wipe_string(json_object_get(j, "old"));
		json_wipe_string(json_object_get(j, "new"));
	}
	json_decref(j);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

static enum MHD_Result
session(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	struct gw_session se;
	json_t *body;
	int r;

	/* A session that must change its password still learns who it is
	 * (and its CSRF token, for the change). */
	r = gw_req_session(s, c, rq, &se);
	if (r != 0 && r != UK_ERR_PASSWORD_MUST_CHANGE)
		return err_simple(s, c, rq, r, NULL);
	body = session_json(s, &se.id, se.csrf, se.created_at, se.last_seen,
	    se.expires_at);
	if (body != NULL && se.must_change)
		json_object_set_new(body, "mustChangePassword", json_true());
	return gw_respond_json(s, c, rq, MHD_HTTP_OK, body, NULL);
}

/* --- GET /auth/verify (nginx auth_request) --- */

static enum MHD_Result
verify(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	const char *ouri, *omethod, *q;
	char raw[GW_URI_MAX], path[GW_PATH_MAX];
	const struct gw_rule *rule = NULL;
	struct gw_session se;
	struct gw_idhdrs hb;
	struct gw_errans e;
	unsigned int bit;
	enum MHD_Result ret;
	size_t n;
	int r, sr, have;

	memset(&e, 0, sizeof(e));
	ouri =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Original-URI");
	omethod = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Original-Method");
	/* Both are required: a missing method read as GET would check a
	 * POST without its CSRF token and against the GET rules. */
	if (ouri == NULL || omethod == NULL)
		return err_simple(s, c, rq, UK_ERR_BAD_HEADER, NULL);
	q = strchr(ouri, '?');
	n = q != NULL ? (size_t)(q - ouri) : strlen(ouri);
	if (n >= sizeof(raw))
		return err_simple(s, c, rq, UK_ERR_BAD_PATH, NULL);
	memcpy(raw, ouri, n);
	raw[n] = '\0';
	if (gw_path_normalise(raw, path, sizeof(path)) != 0)
		return err_simple(s, c, rq, UK_ERR_BAD_PATH, NULL);
	if (gw_auth_owns(path))
		return err_simple(s, c, rq, UK_ERR_POLICY_DENIED, NULL);
	/* nginx's auth_request passes on 2xx, 401 and 403 only (anything
	 * else becomes its 500), so every refusal here is one of those. */
	sr = gw_req_session(s, c, rq, &se);
	have = sr == 0;
	e.subject = path;
	/* Refusals are audited: always with a session, within
	 * gw_policy_audit_anon's limits without one. */
	e.event = have || gw_policy_audit_anon(rq->ip, gw_server_now(s))
	    ? "policy.refused"
	    : NULL;
	if ((r = gw_policy_match(s->policy, path, omethod, &rule)) != 0) {
		e.code = r == UK_ERR_METHOD ? UK_ERR_POLICY_DENIED : r;
		e.status = 403;
		return gw_respond_error(s, c, rq, &e);
	}
	if (sr != 0 && sr != UK_ERR_SESSION_NONE &&
	    sr != UK_ERR_SESSION_EXPIRED && sr != UK_ERR_SESSION_REVOKED) {
		/* A temporary password, a bad cookie, a store failure. */
		e.code = sr;
		e.status = sr == UK_ERR_BAD_COOKIE ? 401 : 403;
		if (sr != UK_ERR_PASSWORD_MUST_CHANGE)
			e.event = NULL;
		return gw_respond_error(s, c, rq, &e);
	}
	if ((r = gw_policy_check(rule, have ? &se.id : NULL,
	         gw_server_now(s))) != 0) {
		if (r == UK_ERR_SESSION_NONE && sr != UK_ERR_SESSION_NONE)
			r = sr; /* say why: expired or revoked */
		e.code = r;
		e.status = r == UK_ERR_SESSION_NONE ||
		        r == UK_ERR_SESSION_EXPIRED ||
		        r == UK_ERR_SESSION_REVOKED
		    ? 401
		    : 403;
		return gw_respond_error(s, c, rq, &e);
	}
	bit = gw_method_bit(omethod);
	if (have && bit != GW_M_GET && bit != GW_M_HEAD &&
	    gw_req_csrf(c, &se) != 0) {
		if (rule->access == GW_ACCESS_PUBLIC)
			have = 0; /* passed on without an identity */
		else
			return err_simple(s, c, rq, UK_ERR_CSRF,
			    "csrf.refused");
	}
	if (!have)
		return gw_respond_bytes(s, c, rq, MHD_HTTP_OK, "text/plain", "",
		    0, NULL);
	if ((r = gw_idhdrs_make(s, &se.id, rq->id, &hb)) != 0)
		return err_simple(s, c, rq, r, NULL);
	ret =
	    gw_respond_bytes(s, c, rq, MHD_HTTP_OK, "text/plain", "", 0, hb.v);
	gw_idhdrs_free(&hb);
	return ret;
}

/* --- JWKS, metrics --- */

static enum MHD_Result
jwks(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	struct store *st;
	enum MHD_Result ret;
	char *text = NULL;
	int r;

	NEED_STORE(st);
	if ((r = gw_jwks_json(st, &text)) != 0)
		return err_simple(s, c, rq, r, NULL);
	ret = gw_respond_bytes(s, c, rq, MHD_HTTP_OK,
	    "application/jwk-set+json", text, strlen(text), NULL);
	free(text);
	return ret;
}

static int
loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	    strncmp(ip, "::ffff:127.", 11) == 0;
}

static enum MHD_Result
metrics(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *peer)
{
	enum MHD_Result ret;
	char *text = NULL;

	if (s->metrics == GW_METRICS_OFF ||
	    (s->metrics == GW_METRICS_LOCAL && !loopback(peer)))
		return err_simple(s, c, rq, UK_ERR_NO_ROUTE, NULL);
	if (gw_metrics_render(gw_server_store(s), &s->sess, gw_server_now(s),
	        &text) != 0)
		return err_simple(s, c, rq, UK_ERR_NOMEM, NULL);
	ret = gw_respond_bytes(s, c, rq, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", text, strlen(text),
	    NULL);
	free(text);
	return ret;
}

/* The connection's own peer address (not X-Forwarded-For). */
static void
peer_addr(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;

	snprintf(out, size, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)ci->client_addr)
		         ->sin_addr,
		    out, (socklen_t)size);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)
		            ci->client_addr)
		         ->sin6_addr,
		    out, (socklen_t)size);
}

enum MHD_Result
gw_auth_handle(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char peer[64], pre[GW_TOKEN_SIZE];
	size_t i;
	int json_body, r;

	if ((r = find(rq->path, rq->method, &i, &json_body)) != 0)
		return err_simple(s, c, rq, r, NULL);
	switch (routes[i].r) {
	case R_CHALLENGE:
		return challenge(s, c, rq);
	case R_CERT:
		return login_cert(s, c, rq);
	case R_PASSWORD:
		return login_password(s, c, rq);
	case R_LOGOUT:
		return logout(s, c, rq);
	case R_PWCHANGE:
		return password_change(s, c, rq);
	case R_SESSION:
		return session(s, c, rq);
	case R_VERIFY:
		return verify(s, c, rq);
	case R_JWKS:
		return jwks(s, c, rq);
	case R_METRICS:
		peer_addr(c, peer, sizeof(peer));
		return metrics(s, c, rq, peer);
	case R_RESET:
		r = pre_check(c, pre);
		OPENSSL_cleanse(pre, sizeof(pre));
		return gw_reset_handle(s, c, rq, r);
	}
	return err_simple(s, c, rq, UK_ERR_NO_ROUTE, NULL);
}
