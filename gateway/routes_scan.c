/* gateway/routes_scan.c: the scan login and WeChat binding routes: tickets and QR codes for the browser, held waits, the phone's OAuth round trip, confirm and failure pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "common/timeutil.h"
#include "gateway/conf.h"
#include "gateway/httputil.h"
#include "gateway/model.h"
#include "gateway/qr.h"
#include "gateway/respond.h"
#include "gateway/routes_auth.h"
#include "gateway/ratelimit.h"
#include "gateway/routes_scan.h"
#include "gateway/scan.h"
#include "gateway/waiters.h"
#include "gateway/wechat.h"

#define COOKIE_PHONE "__Host-ukey-phone"
#define PHONE_MAX_AGE 900 /* seconds the phone's cookie lives */
#define PRE_MAX_AGE 3600  /* as routes_auth.c's pre-login cookie */
#define COOKIES_MAX 8192  /* bytes of all Cookie headers together */
#define FORM_MAX 1024     /* a confirm or cancel form post */
#define QR_SCALE 6        /* PNG pixels per module */
#define PAGE_MAX 16384

struct gw_scan_routes {
	int wait_s;    /* [scan] wait */
	char scope[8]; /* [scan] scope */
	struct gw_wechat_conf wc;
};

enum sroute {
	S_CREATE,
	S_PNG,
	S_SVG,
	S_WAIT,
	S_CLAIM,
	S_BIND,
	S_UNBIND,
	S_PHONE,
	S_CB,
	S_CONFIRM,
	S_CANCEL,
};

int
gw_scan_routes_new(const struct config *cfg, struct gw_scan_routes **out)
{
	struct gw_scan_routes *r;

	*out = NULL;
	if (!config_bool(cfg, "scan", "enabled"))
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return UK_ERR_NOMEM;
	r->wait_s = (int)config_int(cfg, "scan", "wait");
	gw_scan_set_ttl((int)config_int(cfg, "scan", "ticket_ttl"));
	snprintf(r->scope, sizeof(r->scope), "%s",
	    config_str(cfg, "scan", "scope"));
	r->wc.appid = config_str(cfg, "wechat", "appid");
	r->wc.secret = config_secret(cfg, "wechat", "secret");
	r->wc.open_base = config_str(cfg, "wechat", "open_base");
	r->wc.api_base = config_str(cfg, "wechat", "api_base");
	r->wc.timeout_ms = (long)config_int(cfg, "wechat", "timeout_ms");
	if (gw_wechat_conf_check(&r->wc) != 0) {
		uk_log_err(UK_ERR_CONFIG_VALUE,
		    "[scan] enabled needs [wechat] appid, secret and http(s) "
		    "bases");
		free(r);
		return UK_ERR_CONFIG_VALUE;
	}
	*out = r;
	return 0;
}

void
gw_scan_routes_free(struct gw_scan_routes *r)
{
	free(r);
}

int
gw_scan_owns(const char *path)
{
	return strcmp(path, "/auth/qr") == 0 ||
	    strncmp(path, "/auth/qr/", 9) == 0 ||
	    strncmp(path, "/auth/wechat/", 13) == 0 ||
	    strcmp(path, "/qr/s") == 0 || strncmp(path, "/qr/s/", 6) == 0;
}

/* The route of path, and the ticket id in it (id[0] '\0' when none).
 * Returns 0 or UK_ERR_NO_ROUTE. */
static int
parse(const char *path, enum sroute *rt, char id[GW_SCAN_ID_LEN + 1])
{
	const char *p, *rest;

	id[0] = '\0';
	if (strcmp(path, "/auth/qr") == 0) {
		*rt = S_CREATE;
		return 0;
	}
	if (strcmp(path, "/auth/wechat/bind") == 0) {
		*rt = S_BIND;
		return 0;
	}
	if (strcmp(path, "/auth/wechat/unbind") == 0) {
		*rt = S_UNBIND;
		return 0;
	}
	if (strncmp(path, "/auth/qr/", 9) == 0)
		p = path + 9;
	else if (strncmp(path, "/qr/s/", 6) == 0)
		p = path + 6;
	else
		return UK_ERR_NO_ROUTE;
	if (strlen(p) < GW_SCAN_ID_LEN)
		return UK_ERR_NO_ROUTE;
	memcpy(id, p, GW_SCAN_ID_LEN);
	id[GW_SCAN_ID_LEN] = '\0';
	if (!gw_scan_id_valid(id)) {
		id[0] = '\0';
		return UK_ERR_NO_ROUTE;
	}
	rest = p + GW_SCAN_ID_LEN;
	if (p == path + 9) {
		if (strcmp(rest, ".png") == 0)
			*rt = S_PNG;
		else if (strcmp(rest, ".svg") == 0)
			*rt = S_SVG;
		else if (strcmp(rest, "/wait") == 0)
			*rt = S_WAIT;
		else if (strcmp(rest, "/claim") == 0)
			*rt = S_CLAIM;
		else
			return UK_ERR_NO_ROUTE;
		return 0;
	}
	if (*rest == '\0')
		*rt = S_PHONE;
	else if (strcmp(rest, "/cb") == 0)
		*rt = S_CB;
	else if (strcmp(rest, "/confirm") == 0)
		*rt = S_CONFIRM;
	else if (strcmp(rest, "/cancel") == 0)
		*rt = S_CANCEL;
	else
		return UK_ERR_NO_ROUTE;
	return 0;
}

static int
is_post(enum sroute rt)
{
	return rt == S_CREATE || rt == S_CLAIM || rt == S_BIND ||
	    rt == S_UNBIND || rt == S_CONFIRM || rt == S_CANCEL;
}

int
gw_scan_route(const char *path, const char *method, size_t *body_max)
{
	char id[GW_SCAN_ID_LEN + 1];
	enum sroute rt;

	*body_max = 0;
	if (parse(path, &rt, id) != 0)
		return UK_ERR_NO_ROUTE;
	if (is_post(rt)) {
		if (strcmp(method, "POST") != 0)
			return UK_ERR_METHOD;
		*body_max = FORM_MAX;
		return 0;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return UK_ERR_METHOD;
	return 0;
}

/* --- cookies, CSRF, small parsers --- */

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

/* A token-form cookie's value into out. Returns 0, UK_ERR_NOT_FOUND (none
 * or not a token) or UK_ERR_BAD_COOKIE. */
static int
token_cookie(struct MHD_Connection *c, const char *name,
    char out[GW_TOKEN_SIZE])
{
	struct cookies *ck;
	int r = UK_ERR_NOMEM;

	out[0] = '\0';
	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		return r;
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, cookie_cb, ck);
	if (ck->over)
		r = UK_ERR_BAD_COOKIE;
	else if (ck->len == 0)
		r = UK_ERR_NOT_FOUND;
	else
		r = gw_cookie_get(ck->buf, name, out, GW_TOKEN_SIZE);
	if (r == UK_ERR_BAD_COOKIE && ck->len > 0 && !ck->over)
		r = UK_ERR_NOT_FOUND; /* too long for a token: not ours */
	if (r == 0 && !gw_token_form(out))
		r = UK_ERR_NOT_FOUND;
	if (r != 0)
		out[0] = '\0';
	OPENSSL_cleanse(ck, sizeof(*ck));
	free(ck);
	return r;
}

/* The login POSTs' check (as routes_auth.c's): the pre-login cookie into
 * pre and X-CSRF-Token equal to gw_pre_csrf of it. */
static int
pre_check(struct MHD_Connection *c, char pre[GW_TOKEN_SIZE])
{
	char want[GW_TOKEN_SIZE];
	int r;

	if ((r = token_cookie(c, GW_COOKIE_PRE, pre)) == UK_ERR_BAD_COOKIE)
		return r;
	if (r != 0)
		return UK_ERR_CSRF;
	gw_pre_csrf(pre, want);
	return gw_csrf_check(want,
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token"));
}

/* The value of parameter name in an application/x-www-form-urlencoded
 * text (or query) of len bytes, when it is 1..size-1 bytes of
 * [A-Za-z0-9_-]: 0, else UK_ERR_INPUT. */
static int
form_get(const char *text, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name), i = 0, k;

	out[0] = '\0';
	while (text != NULL && i < len) {
		size_t end = i;

		while (end < len && text[end] != '&')
			end++;
		if (end - i > nl && memcmp(text + i, name, nl) == 0 &&
		    text[i + nl] == '=') {
			k = end - (i + nl + 1);
			if (k == 0 || k >= size)
				return UK_ERR_INPUT;
			memcpy(out, text + i + nl + 1, k);
			out[k] = '\0';
			for (i = 0; i < k; i++) {
				char ch = out[i];
				if (!((ch >= 'a' && ch <= 'z') ||
				        (ch >= 'A' && ch <= 'Z') ||
				        (ch >= '0' && ch <= '9') || ch == '-' ||
				        ch == '_')) {
					out[0] = '\0';
					return UK_ERR_INPUT;
				}
			}
			return 0;
		}
		i = end + 1;
	}
	return UK_ERR_INPUT;
}

static enum MHD_Result
fail(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq, int code,
    const char *event, const char *const *hdrs)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.event = event;
	e.hdrs = hdrs;
	return gw_respond_error(s, c, rq, &e);
}

static void
peer_of(struct gw_req *rq, const char *cookie, struct gw_scan_peer *p)
{
	p->cookie = cookie;
	p->ip = rq->ip;
	p->user_agent = rq->ua;
}

/* --- the browser --- */

/* {"id","url","svg","png","expires_in","interval"} for a fresh ticket. */
static enum MHD_Result
ticket_answer(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id, const char *const *hdrs)
{
	char url[GW_QR_TEXT_MAX];
	unsigned char *png = NULL;
	char *svg = NULL, *b64 = NULL;
	size_t plen = 0;
	enum MHD_Result ret;
	int r;

	snprintf(url, sizeof(url), "%s/qr/s/%s", s->origin, id);
	if ((r = gw_qr_svg(url, &svg)) != 0 ||
	    (r = gw_qr_png(url, QR_SCALE, &png, &plen)) != 0 ||
	    (b64 = b64_encode(png, plen, 0)) == NULL) {
		ret = fail(s, c, rq, r != 0 ? r : UK_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "id", id, "url", url, "svg",
	        svg, "png", b64, "expires_in", gw_scan_ttl(), "interval",
	        GW_SCAN_INTERVAL),
	    hdrs);
out:
	free(svg);
	free(png);
	free(b64);
	return ret;
}

static enum MHD_Result
create(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char pre[GW_TOKEN_SIZE], id[GW_SCAN_ID_LEN + 1];
	struct gw_scan_peer peer;
	struct store *st;
	enum MHD_Result ret;
	int r;

	if ((r = pre_check(c, pre)) != 0)
		return fail(s, c, rq, r, "scan.create", NULL);
	if ((st = gw_server_store(s)) == NULL)
		return fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	if (gw_anon_limit(s, c, rq, st, "ticket", GW_ANON_TICKETS, &ret) != 0) {
		OPENSSL_cleanse(pre, sizeof(pre));
		return ret;
	}
	peer_of(rq, pre, &peer);
	if ((r = gw_scan_create(st, GW_SCAN_LOGIN, 0, &peer, gw_server_now(s),
	         id)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s scan ticket: %s: %s", rq->id,
		    uk_error_id(r), store_last_error(st));
		ret = fail(s, c, rq, r, NULL, NULL);
	} else
		ret = ticket_answer(s, c, rq, id, NULL);
	OPENSSL_cleanse(pre, sizeof(pre));
	return ret;
}

/* GET /auth/qr/<id>.png|.svg: the binding browser only. */
static enum MHD_Result
image(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id, int png)
{
	char pre[GW_TOKEN_SIZE], url[GW_QR_TEXT_MAX];
	enum gw_scan_state cur;
	unsigned char *img = NULL;
	char *svg = NULL;
	size_t len = 0;
	struct store *st;
	enum MHD_Result ret;
	int r, changed;

	if ((st = gw_server_store(s)) == NULL)
		return fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	if (token_cookie(c, GW_COOKIE_PRE, pre) != 0 ||
	    gw_scan_wait_state(st, id, pre, GW_SCAN_WAITING, gw_server_now(s),
	        &cur, &changed) != 0) {
		OPENSSL_cleanse(pre, sizeof(pre));
		return fail(s, c, rq, UK_ERR_SCAN_TICKET_UNKNOWN, NULL, NULL);
	}
	OPENSSL_cleanse(pre, sizeof(pre));
	snprintf(url, sizeof(url), "%s/qr/s/%s", s->origin, id);
	if (png)
		r = gw_qr_png(url, QR_SCALE, &img, &len);
	else if ((r = gw_qr_svg(url, &svg)) == 0)
		len = strlen(svg);
	if (r != 0)
		ret = fail(s, c, rq, r, NULL, NULL);
	else
		ret = gw_respond_bytes(s, c, rq, MHD_HTTP_OK,
		    png ? "image/png" : "image/svg+xml",
		    png ? (const void *)img : (const void *)svg, len, NULL);
	free(img);
	free(svg);
	return ret;
}

static enum MHD_Result
state_answer(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    enum gw_scan_state st, int64_t expires_at)
{
	int64_t left = expires_at - gw_server_now(s);

	if (left < 0 || gw_scan_state_final(st))
		left = 0;
	return gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:s,s:I,s:i}", "state", gw_scan_state_name(st),
	        "expires_in", (json_int_t)left, "interval", GW_SCAN_INTERVAL),
	    NULL);
}

static enum MHD_Result
wait_start(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id)
{
	static const char *const slow[] = { MHD_HTTP_HEADER_RETRY_AFTER, "2",
		NULL };
	char pre[GW_TOKEN_SIZE], seen[16];
	const char *q = rq->query;
	struct gw_scan_view v;
	struct gw_waiter *wt = NULL;
	struct store *st;
	enum MHD_Result ret;
	int64_t now = gw_server_now(s), hold_s;
	int r, hold = 0;

	if ((st = gw_server_store(s)) == NULL)
		return fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	if ((r = token_cookie(c, GW_COOKIE_PRE, pre)) != 0)
		return fail(s, c, rq,
		    r == UK_ERR_BAD_COOKIE ? r : UK_ERR_SCAN_TICKET_UNKNOWN,
		    NULL, NULL);
	if (q == NULL ||
	    form_get(q, strlen(q), "state", seen, sizeof(seen)) != 0)
		seen[0] = '\0';
	r = gw_scan_poll(st, id, pre, seen, now, &v, &hold);
	if (r == UK_ERR_SCAN_SLOW_DOWN) {
		ret = fail(s, c, rq, r, NULL, slow);
		goto out;
	}
	if (r != 0) {
		ret = fail(s, c, rq, r, NULL, NULL);
		goto out;
	}
	if (!hold || s->waiters == NULL) {
		ret = state_answer(s, c, rq, v.state, v.expires_at);
		goto out;
	}
	hold_s = s->scan->wait_s;
	if (v.expires_at - now + 1 < hold_s)
		hold_s = v.expires_at - now + 1;
	if (hold_s < 1)
		hold_s = 1;
	if (gw_waiters_hold(s->waiters, c, id, pre, v.state,
	        gw_waiters_now_ms() + hold_s * 1000, &wt) != 0) {
		/* Too many held: answered now, the browser asks again. */
		ret = state_answer(s, c, rq, v.state, v.expires_at);
		goto out;
	}
	wt->expires_at = v.expires_at;
	rq->wait = wt;
	ret = MHD_YES;
out:
	OPENSSL_cleanse(pre, sizeof(pre));
	return ret;
}

enum MHD_Result
gw_scan_continue(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq)
{
	struct gw_waiter *wt = rq->wait;
	enum gw_scan_state cur;
	struct store *st;
	int64_t now = gw_server_now(s), exp;
	int r, changed = 0;

	if ((st = gw_server_store(s)) == NULL) {
		r = UK_ERR_STORE_OPEN;
		goto refuse;
	}
	r = gw_scan_wait_state(st, wt->id, wt->cookie, wt->seen, now, &cur,
	    &changed);
	if (r != 0)
		goto refuse;
	if (!changed && wt->why == GW_WAKE_CHANGED &&
	    gw_waiters_now_ms() < wt->deadline_ms &&
	    gw_waiters_rehold(s->waiters, c, wt) == 0)
		return MHD_YES; /* nothing new for this one */
	rq->wait = NULL;
	exp = wt->expires_at;
	gw_waiter_free(s->waiters, wt);
	return state_answer(s, c, rq, cur, exp);
refuse:
	rq->wait = NULL;
	gw_waiter_free(s->waiters, wt);
	return fail(s, c, rq, r, NULL, NULL);
}

/* The identity of a scan session for operator opid. */
static int
scan_identity(struct gw_server *s, struct store *st, int64_t opid,
    struct gw_identity *id)
{
	struct gw_operator op;
	int r;

	memset(id, 0, sizeof(*id));
	if ((r = gw_operator_get(st, opid, &op)) != 0)
		return r;
	snprintf(id->kind, sizeof(id->kind), "%s", GW_KIND_OPERATOR);
	id->principal_id = op.id;
	snprintf(id->unit, sizeof(id->unit), "%s", op.unit);
	snprintf(id->login, sizeof(id->login), "%s", op.login);
	snprintf(id->name, sizeof(id->name), "%s", op.name);
	snprintf(id->roles, sizeof(id->roles), "%s", op.roles);
	snprintf(id->method, sizeof(id->method), "%s", "scan");
	snprintf(id->scope, sizeof(id->scope), "%s", s->scan->scope);
	return 0;
}

static enum MHD_Result
claim(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id)
{
	char pre[GW_TOKEN_SIZE], cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	char set[256], old[GW_TOKEN_SIZE];
	const char *hdrs[3] = { MHD_HTTP_HEADER_SET_COOKIE, set, NULL };
	struct gw_scan_peer peer;
	struct gw_identity ident;
	struct store *st;
	int64_t now = gw_server_now(s), opid = 0;
	enum MHD_Result ret;
	int r;

	cookie[0] = set[0] = '\0';
	if ((r = pre_check(c, pre)) != 0)
		return fail(s, c, rq, r, "scan.claim", NULL);
	if ((st = gw_server_store(s)) == NULL) {
		ret = fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
		goto out;
	}
	peer_of(rq, pre, &peer);
	if ((r = gw_scan_claim(st, id, &peer, now, &opid)) != 0 ||
	    (r = scan_identity(s, st, opid, &ident)) != 0) {
		ret = fail(s, c, rq, r, NULL, NULL);
		goto out;
	}
	gw_waiters_wake(s->waiters, id);
	/* An earlier session of this browser ends, as at every login. */
	if (token_cookie(c, GW_COOKIE_SESSION, old) == 0)
		(void)gw_session_logout(st, old, now);
	OPENSSL_cleanse(old, sizeof(old));
	if ((r = gw_session_create(st, &s->sess, &ident, rq->ip, rq->ua, now,
	         cookie, csrf)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s session not created: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		ret = fail(s, c, rq, r, NULL, NULL);
		goto out;
	}
	snprintf(rq->principal, sizeof(rq->principal), "%s:%s", ident.kind,
	    ident.login);
	gw_cookie_session(cookie, set, sizeof(set));
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "kind",
	        ident.kind, "unit", ident.unit, "login", ident.login, "name",
	        ident.name, "roles", ident.roles, "scope", ident.scope,
	        "method", ident.method, "csrf", csrf, "expires",
	        (json_int_t)(now +
	            (s->sess.idle < s->sess.absolute ? s->sess.idle
	                                             : s->sess.absolute))),
	    hdrs);
out:
	OPENSSL_cleanse(pre, sizeof(pre));
	OPENSSL_cleanse(cookie, sizeof(cookie));
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

/* The session of a bind or unbind: an operator's, full scope, with its
 * CSRF token. Returns 0 or the refusal. */
static int
bind_session(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct gw_session *se)
{
	int r;

	if ((r = gw_req_session(s, c, rq, se)) != 0)
		return r;
	if (gw_req_csrf(c, se) != 0)
		return UK_ERR_CSRF;
	/* Binding or unbinding a WeChat changes how this operator can log
	 * in: only after a UKey login, never from a scan session (which a
	 * WeChat bound by someone else would give). */
	if (strcmp(se->id.kind, GW_KIND_OPERATOR) != 0 ||
	    strcmp(se->id.scope, "full") != 0 ||
	    strcmp(se->id.method, "cert") != 0)
		return UK_ERR_POLICY_DENIED;
	return 0;
}

static enum MHD_Result
wechat_bind(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char pre[GW_TOKEN_SIZE], id[GW_SCAN_ID_LEN + 1], set[256];
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct gw_scan_peer peer;
	struct gw_session se;
	struct store *st;
	enum MHD_Result ret;
	int r;

	if ((r = bind_session(s, c, rq, &se)) != 0)
		return fail(s, c, rq, r,
		    r == UK_ERR_CSRF ? "csrf.refused" : NULL, NULL);
	if ((st = gw_server_store(s)) == NULL)
		return fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	/* The waiting browser is bound by its pre-login cookie. */
	if (token_cookie(c, GW_COOKIE_PRE, pre) != 0) {
		if (gw_token_new(pre) != 0)
			return fail(s, c, rq, UK_ERR_INTERNAL, NULL, NULL);
		gw_cookie_pre(pre, PRE_MAX_AGE, set, sizeof(set));
		hdrs[0] = MHD_HTTP_HEADER_SET_COOKIE;
		hdrs[1] = set;
	}
	peer_of(rq, pre, &peer);
	if ((r = gw_scan_create(st, GW_SCAN_BIND, se.id.principal_id, &peer,
	         gw_server_now(s), id)) != 0)
		ret = fail(s, c, rq, r, NULL, NULL);
	else
		ret = ticket_answer(s, c, rq, id, hdrs);
	OPENSSL_cleanse(pre, sizeof(pre));
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

static enum MHD_Result
wechat_unbind(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	struct gw_session se;
	struct gw_actor a;
	struct store *st;
	int r;

	if ((r = bind_session(s, c, rq, &se)) != 0)
		return fail(s, c, rq, r,
		    r == UK_ERR_CSRF ? "csrf.refused" : NULL, NULL);
	if ((st = gw_server_store(s)) == NULL)
		return fail(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	memset(&a, 0, sizeof(a));
	a.who = rq->principal;
	a.ip = rq->ip;
	a.user_agent = rq->ua;
	if ((r = gw_operator_bind_openid(st, &a, se.id.principal_id, NULL)) !=
	    0)
		return fail(s, c, rq, r, NULL, NULL);
	return gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:b}", "ok", 1), NULL);
}

/* --- the phone --- */

/* Appends the escaped s to page (o bytes used of size). */
static void
put(char *page, size_t size, size_t *o, const char *s, int esc)
{
	char buf[2048];
	size_t n;

	if (esc) {
		gw_html_escape(s, buf, sizeof(buf));
		s = buf;
	}
	n = strlen(s);
	if (*o + n + 1 > size)
		return;
	memcpy(page + *o, s, n + 1);
	*o += n;
}

static const char page_head[] =
    "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\"><title>";

static enum MHD_Result
page(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    unsigned int status, const char *title, const char *body,
    const char *const *hdrs)
{
	char *p;
	size_t o = 0;
	enum MHD_Result ret;

	if ((p = malloc(PAGE_MAX)) == NULL)
		return MHD_NO;
	p[0] = '\0';
	put(p, PAGE_MAX, &o, page_head, 0);
	put(p, PAGE_MAX, &o, title, 1);
	put(p, PAGE_MAX, &o, "</title></head><body><main><h1>", 0);
	put(p, PAGE_MAX, &o, title, 1);
	put(p, PAGE_MAX, &o, "</h1>\n", 0);
	put(p, PAGE_MAX, &o, body, 0);
	put(p, PAGE_MAX, &o, "</main></body></html>\n", 0);
	ret = gw_respond_bytes(s, c, rq, status, "text/html; charset=utf-8", p,
	    o, hdrs);
	free(p);
	return ret;
}

/* 「扫码认证失败」 with the cause and the remedy of code. */
static enum MHD_Result
fail_page(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    int code, const char *const *hdrs)
{
	const struct uk_error_info *e = uk_error_info(code);
	char body[4096];
	size_t o = 0;

	body[0] = '\0';
	uk_log(UK_LOG_INFO, "rid=%s scan refused on the phone: %s", rq->id,
	    e->id);
	put(body, sizeof(body), &o, "<p class=\"cause\">", 0);
	put(body, sizeof(body), &o, e->zh, 1);
	put(body, sizeof(body), &o, "</p>\n<p class=\"remedy\">", 0);
	put(body, sizeof(body), &o, e->remedy_zh != NULL ? e->remedy_zh : "",
	    1);
	put(body, sizeof(body), &o, "</p>\n<p class=\"code\" lang=\"en\">", 0);
	put(body, sizeof(body), &o, e->id, 1);
	put(body, sizeof(body), &o, " ", 0);
	put(body, sizeof(body), &o, e->en, 1);
	put(body, sizeof(body), &o, "</p>\n", 0);
	return page(s, c, rq, (unsigned int)e->http_status, "扫码认证失败",
	    body, hdrs);
}

static void
put_row(char *b, size_t size, size_t *o, const char *dt, const char *dd)
{
	put(b, size, o, "<dt>", 0);
	put(b, size, o, dt, 1);
	put(b, size, o, "</dt><dd>", 0);
	put(b, size, o, dd[0] != '\0' ? dd : "-", 1);
	put(b, size, o, "</dd>\n", 0);
}

static void
put_form(char *b, size_t size, size_t *o, const char *id, const char *what,
    const char *csrf, const char *label)
{
	put(b, size, o, "<form method=\"post\" action=\"/qr/s/", 0);
	put(b, size, o, id, 1);
	put(b, size, o, "/", 0);
	put(b, size, o, what, 0);
	put(b, size, o,
	    "\"><input type=\"hidden\" name=\"csrf\" "
	    "value=\"",
	    0);
	put(b, size, o, csrf, 1);
	put(b, size, o, "\"><button type=\"submit\" name=\"do\" value=\"", 0);
	put(b, size, o, what, 0);
	put(b, size, o, "\">", 0);
	put(b, size, o, label, 1);
	put(b, size, o, "</button></form>\n", 0);
}

static enum MHD_Result
confirm_page(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id, const char *phone, const struct gw_scan_view *v,
    const char *const *hdrs)
{
	char body[8192], csrf[GW_TOKEN_SIZE], when[32], two[300];
	int bind = v->kind == GW_SCAN_BIND;
	size_t o = 0;

	body[0] = '\0';
	gw_scan_csrf(phone, id, csrf);
	time_rfc3339((time_t)v->created_at, when, sizeof(when));
	put(body, sizeof(body), &o,
	    bind ? "<p>请确认将本微信绑定到以下经办人。</p>\n"
	         : "<p>一台电脑正在请求以下经办人登录网上服务大厅，"
	           "请确认是您本人操作。</p>\n",
	    0);
	put(body, sizeof(body), &o, "<dl>\n", 0);
	snprintf(two, sizeof(two), "%s（%s）", v->unit_name, v->unit_id);
	put_row(body, sizeof(body), &o, "单位", two);
	snprintf(two, sizeof(two), "%s（%s）", v->operator_name,
	    v->operator_login);
	put_row(body, sizeof(body), &o, "经办人", two);
	put_row(body, sizeof(body), &o, "请求电脑的 IP 地址", v->requester_ip);
	put_row(body, sizeof(body), &o, "浏览器", v->requester_ua);
	put_row(body, sizeof(body), &o, "请求时间 (UTC)", when);
	put(body, sizeof(body), &o, "</dl>\n", 0);
	put_form(body, sizeof(body), &o, id, "confirm", csrf,
	    bind ? "确认绑定" : "确认登录");
	put_form(body, sizeof(body), &o, id, "cancel", csrf, "取消");
	put(body, sizeof(body), &o, "<p>如果不是您本人操作，请点“取消”。</p>\n",
	    0);
	return page(s, c, rq, MHD_HTTP_OK, bind ? "确认绑定微信" : "确认登录",
	    body, hdrs);
}

/* The phone's cookie, made when missing (Set-Cookie into set/hdrs). */
static int
phone_cookie(struct MHD_Connection *c, char phone[GW_TOKEN_SIZE], char *set,
    size_t size, const char **hdrs)
{
	int r;

	if ((r = token_cookie(c, COOKIE_PHONE, phone)) == 0)
		return 0;
	if (r == UK_ERR_BAD_COOKIE)
		return r;
	if (gw_token_new(phone) != 0)
		return UK_ERR_INTERNAL;
	snprintf(set, size,
	    "%s=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Lax",
	    COOKIE_PHONE, phone, PHONE_MAX_AGE);
	hdrs[0] = MHD_HTTP_HEADER_SET_COOKIE;
	hdrs[1] = set;
	return 0;
}

static enum MHD_Result
phone_open(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id)
{
	char phone[GW_TOKEN_SIZE], set[256], cb[GW_QR_TEXT_MAX];
	const char *hdrs[5] = { NULL, NULL, NULL, NULL, NULL };
	struct gw_scan_peer peer;
	struct gw_scan_view v;
	struct store *st;
	enum MHD_Result ret;
	char *url = NULL;
	int64_t now = gw_server_now(s);
	size_t n;
	int r;

	if ((r = phone_cookie(c, phone, set, sizeof(set), hdrs)) != 0)
		return fail_page(s, c, rq, r, NULL);
	if ((st = gw_server_store(s)) == NULL) {
		ret = fail_page(s, c, rq, UK_ERR_STORE_OPEN, hdrs);
		goto out;
	}
	if (hdrs[0] == NULL &&
	    gw_scan_phone_view(st, id, phone, now, &v) == 0 &&
	    v.state == GW_SCAN_SCANNED) {
		ret = confirm_page(s, c, rq, id, phone, &v, hdrs);
		goto out;
	}
	if (gw_anon_limit(s, c, rq, st, "oauth", GW_ANON_OAUTH, &ret) != 0)
		goto out;
	peer_of(rq, phone, &peer);
	snprintf(cb, sizeof(cb), "%s/qr/s/%s/cb", s->origin, id);
	if ((r = gw_scan_oauth_begin(st, &s->scan->wc, id, &peer, cb, now,
	         &url)) != 0) {
		ret = fail_page(s, c, rq, r, hdrs);
		goto out;
	}
	n = hdrs[0] != NULL ? 2 : 0;
	hdrs[n] = MHD_HTTP_HEADER_LOCATION;
	hdrs[n + 1] = url;
	ret = gw_respond_bytes(s, c, rq, MHD_HTTP_FOUND, "text/plain", "", 0,
	    hdrs);
out:
	free(url);
	OPENSSL_cleanse(phone, sizeof(phone));
	OPENSSL_cleanse(set, sizeof(set));
	return ret;
}

static enum MHD_Result
phone_cb(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id)
{
	char phone[GW_TOKEN_SIZE], code[GW_WECHAT_CODE_MAX + 1];
	char state[GW_WECHAT_STATE_LEN + 1];
	struct gw_scan_peer peer;
	struct gw_scan_view v;
	struct store *st;
	enum MHD_Result ret;
	int r;

	if (token_cookie(c, COOKIE_PHONE, phone) != 0)
		return fail_page(s, c, rq, UK_ERR_SCAN_OAUTH_STATE, NULL);
	r = gw_wechat_callback_parse(rq->query != NULL ? rq->query : "",
	    rq->query != NULL ? strlen(rq->query) : 0, code, state);
	if (r != 0) {
		ret = fail_page(s, c, rq, r, NULL);
		goto out;
	}
	if ((st = gw_server_store(s)) == NULL) {
		ret = fail_page(s, c, rq, UK_ERR_STORE_OPEN, NULL);
		goto out;
	}
	peer_of(rq, phone, &peer);
	if ((r = gw_scan_callback(st, &s->scan->wc, id, &peer, code, state,
	         gw_server_now(s), &v)) != 0) {
		ret = fail_page(s, c, rq, r, NULL);
		goto out;
	}
	gw_waiters_wake(s->waiters, id);
	ret = confirm_page(s, c, rq, id, phone, &v, NULL);
out:
	OPENSSL_cleanse(phone, sizeof(phone));
	OPENSSL_cleanse(code, sizeof(code));
	return ret;
}

static enum MHD_Result
phone_decide(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const char *id, int confirm)
{
	char phone[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE + 1];
	struct gw_scan_peer peer;
	struct gw_scan_view v;
	struct store *st;
	enum MHD_Result ret;
	int64_t now = gw_server_now(s);
	int r, bind = 0;

	if (token_cookie(c, COOKIE_PHONE, phone) != 0)
		return fail_page(s, c, rq, UK_ERR_CSRF, NULL);
	if (rq->sbody == NULL ||
	    form_get((const char *)rq->sbody->buf, rq->sbody->len, "csrf", csrf,
	        sizeof(csrf)) != 0) {
		ret = fail_page(s, c, rq, UK_ERR_CSRF, NULL);
		goto out;
	}
	if ((st = gw_server_store(s)) == NULL) {
		ret = fail_page(s, c, rq, UK_ERR_STORE_OPEN, NULL);
		goto out;
	}
	if (gw_scan_phone_view(st, id, phone, now, &v) == 0)
		bind = v.kind == GW_SCAN_BIND;
	peer_of(rq, phone, &peer);
	r = confirm ? gw_scan_confirm(st, id, &peer, csrf, now)
	            : gw_scan_cancel(st, id, &peer, csrf, now);
	if (r != 0) {
		ret = fail_page(s, c, rq, r, NULL);
		goto out;
	}
	gw_waiters_wake(s->waiters, id);
	ret = page(s, c, rq, MHD_HTTP_OK,
	    confirm ? (bind ? "微信已绑定" : "已确认登录") : "已取消",
	    confirm ? "<p>请回到电脑上继续操作。</p>\n"
	            : "<p>本次请求已取消，电脑上的登录不会继续。</p>\n",
	    NULL);
out:
	OPENSSL_cleanse(phone, sizeof(phone));
	return ret;
}

enum MHD_Result
gw_scan_handle(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	char id[GW_SCAN_ID_LEN + 1];
	enum sroute rt;

	if (s->scan == NULL || parse(rq->path, &rt, id) != 0)
		return fail(s, c, rq, UK_ERR_NO_ROUTE, NULL, NULL);
	switch (rt) {
	case S_CREATE:
		return create(s, c, rq);
	case S_PNG:
		return image(s, c, rq, id, 1);
	case S_SVG:
		return image(s, c, rq, id, 0);
	case S_WAIT:
		return wait_start(s, c, rq, id);
	case S_CLAIM:
		return claim(s, c, rq, id);
	case S_BIND:
		return wechat_bind(s, c, rq);
	case S_UNBIND:
		return wechat_unbind(s, c, rq);
	case S_PHONE:
		return phone_open(s, c, rq, id);
	case S_CB:
		return phone_cb(s, c, rq, id);
	case S_CONFIRM:
		return phone_decide(s, c, rq, id, 1);
	case S_CANCEL:
		return phone_decide(s, c, rq, id, 0);
	}
	return fail(s, c, rq, UK_ERR_NO_ROUTE, NULL, NULL);
}
