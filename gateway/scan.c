/* gateway/scan.c: scan login tickets (WeChat-style): create, poll and wait, the phone's OAuth state, scanned, confirm or cancel, claim, bind; every step atomic in the store, audited and announced with store_notify. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/audit.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/scan.h"
#include "gateway/session.h"
#include "gateway/wechat.h"

#define COOKIE_MAX 256 /* longest cookie value accepted as a binding */
#define PURGE_AFTER 3600

static const char *const state_names[] = { "", "waiting", "scanned",
	"confirmed", "cancelled", "expired", "claimed" };

const char *
gw_scan_state_name(enum gw_scan_state s)
{
	if ((int)s < 1 || (int)s > GW_SCAN_CLAIMED)
		return "";
	return state_names[s];
}

int
gw_scan_state_parse(const char *s, enum gw_scan_state *out)
{
	int i;

	if (s == NULL || out == NULL)
		return UK_ERR_INPUT;
	for (i = GW_SCAN_WAITING; i <= GW_SCAN_CLAIMED; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum gw_scan_state)i;
			return 0;
		}
	}
	return UK_ERR_INPUT;
}

int
gw_scan_state_final(enum gw_scan_state s)
{
	return s == GW_SCAN_CANCELLED || s == GW_SCAN_EXPIRED ||
	    s == GW_SCAN_CLAIMED;
}

int
gw_scan_id_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return 0;
	for (i = 0; i < GW_SCAN_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		        (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[i] == '\0';
}

static int
cookie_ok(const char *c)
{
	return c != NULL && *c != '\0' && strlen(c) <= COOKIE_MAX;
}

static int
peer_ok(const struct gw_scan_peer *p)
{
	return p != NULL && cookie_ok(p->cookie);
}

static const char *
kind_name(enum gw_scan_kind k)
{
	return k == GW_SCAN_BIND ? "bind" : "login";
}

/* A ticket's row. */
struct ticket {
	enum gw_scan_kind kind;
	enum gw_scan_state state; /* as stored */
	char browser_hash[65];
	char phone_hash[65]; /* "" before scanned */
	int64_t created_at, expires_at, operator_id, last_poll_at;
	char openid[GW_WECHAT_OPENID_MAX + 1];
	char requester_ip[64], requester_ua[256];
};

#define TICKET_COLS                                                            \
	"kind, state, browser_hash, phone_hash, created_at, expires_at, "      \
	"operator_id, last_poll_at, openid, requester_ip, requester_ua"

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* Loads the ticket id_hash (of browser_hash when not NULL) into *t.
 * *found: 1 when there is one. Returns 0 or a store error. */
static int
ticket_load(struct store *st, const char *id_hash, const char *browser_hash,
    struct ticket *t, int *found)
{
	struct store_res *res = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	*found = 0;
	if ((r = store_exec(st, &res,
	         "SELECT " TICKET_COLS " FROM scan_tickets WHERE id_hash = ?",
	         "t", id_hash)) != 0)
		goto out;
	if (store_res_rows(res) != 1)
		goto out;
	if (browser_hash != NULL &&
	    strcmp(store_res_text(res, 0, 2), browser_hash) != 0)
		goto out;
	t->kind = strcmp(store_res_text(res, 0, 0), "bind") == 0
	    ? GW_SCAN_BIND
	    : GW_SCAN_LOGIN;
	if (gw_scan_state_parse(store_res_text(res, 0, 1), &t->state) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	copy(t->browser_hash, sizeof(t->browser_hash),
	    store_res_text(res, 0, 2));
	copy(t->phone_hash, sizeof(t->phone_hash), store_res_text(res, 0, 3));
	t->created_at = store_res_int(res, 0, 4);
	t->expires_at = store_res_int(res, 0, 5);
	t->operator_id = store_res_int(res, 0, 6);
	t->last_poll_at = store_res_int(res, 0, 7);
	copy(t->openid, sizeof(t->openid), store_res_text(res, 0, 8));
	copy(t->requester_ip, sizeof(t->requester_ip),
	    store_res_text(res, 0, 9));
	copy(t->requester_ua, sizeof(t->requester_ua),
	    store_res_text(res, 0, 10));
	*found = 1;
out:
	store_res_free(res);
	return r;
}

/* The state with expiry by time applied. */
static enum gw_scan_state
effective(const struct ticket *t, int64_t now)
{
	if (!gw_scan_state_final(t->state) && t->expires_at <= now)
		return GW_SCAN_EXPIRED;
	return t->state;
}

/* Why a step found the ticket not in the state it needs. */
static int
diagnose(const struct ticket *t, int found, int64_t now, int unknown)
{
	enum gw_scan_state s;

	if (!found)
		return unknown;
	s = effective(t, now);
	if (s == GW_SCAN_EXPIRED)
		return UK_ERR_SCAN_EXPIRED;
	if (s == GW_SCAN_CANCELLED)
		return UK_ERR_SCAN_CANCELLED;
	return UK_ERR_SCAN_STATE;
}

static void
view_from(const struct ticket *t, int64_t now, struct gw_scan_view *v)
{
	if (v == NULL)
		return;
	memset(v, 0, sizeof(*v));
	v->kind = t->kind;
	v->state = effective(t, now);
	v->created_at = t->created_at;
	v->expires_at = t->expires_at;
	v->operator_id = t->operator_id;
	copy(v->requester_ip, sizeof(v->requester_ip), t->requester_ip);
	copy(v->requester_ua, sizeof(v->requester_ua), t->requester_ua);
}

/* Fills the operator's and unit's names into v (when it has an operator).
 * Returns 0 or a store error. */
static int
view_names(struct store *st, struct gw_scan_view *v)
{
	struct gw_operator o;
	struct gw_unit u;
	int r;

	if (v == NULL || v->operator_id == 0)
		return 0;
	if ((r = gw_operator_get(st, v->operator_id, &o)) != 0)
		return r == UK_ERR_NOT_FOUND ? 0 : r;
	copy(v->operator_login, sizeof(v->operator_login), o.login);
	copy(v->operator_name, sizeof(v->operator_name), o.name);
	copy(v->unit_id, sizeof(v->unit_id), o.unit);
	if ((r = gw_unit_get(st, o.unit, &u)) != 0)
		return r == UK_ERR_NOT_FOUND ? 0 : r;
	copy(v->unit_name, sizeof(v->unit_name), u.name);
	return 0;
}

/* Appends one audit row in st's open transaction or its own: event,
 * actor, subject "scan:<16 hex>", detail {"kind", "openid"?, "operator"?},
 * the peer's IP and user agent, result "ok" or the error id of code. */
static int
audit(struct store *st, const char *event, const char *actor,
    const char *id_hash, enum gw_scan_kind kind, const char *openid,
    const char *op_login, const struct gw_scan_peer *peer, int code)
{
	struct audit_event ev;
	char subject[32];
	json_t *d;
	char *detail = NULL;
	int r;

	snprintf(subject, sizeof(subject), "scan:%.16s",
	    id_hash != NULL ? id_hash : "");
	if ((d = json_object()) == NULL)
		return UK_ERR_NOMEM;
	json_object_set_new(d, "kind", json_string(kind_name(kind)));
	if (openid != NULL && *openid != '\0')
		json_object_set_new(d, "openid", json_string(openid));
	if (op_login != NULL && *op_login != '\0')
		json_object_set_new(d, "operator", json_string(op_login));
	detail = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (detail == NULL)
		return UK_ERR_NOMEM;
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.actor = actor;
	ev.subject = subject;
	ev.detail = detail;
	ev.ip = peer != NULL ? peer->ip : NULL;
	ev.user_agent = peer != NULL ? peer->user_agent : NULL;
	ev.result = code == 0 ? "ok" : uk_error_id(code);
	r = audit_append_ex(st, &ev, NULL);
	free(detail);
	return r;
}

/* Audits a refusal in a relaxed transaction of its own (nothing else was
 * changed) and returns code. */
static int
refuse(struct store *st, const char *actor, const char *id_hash,
    enum gw_scan_kind kind, const char *openid, const struct gw_scan_peer *peer,
    int code)
{
	int r;

	store_rollback(st);
	if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) == 0 &&
	    (r = audit(st, "scan.refused", actor, id_hash, kind, openid, NULL,
	         peer, code)) == 0)
		r = store_commit(st);
	if (r != 0) {
		store_rollback(st);
		uk_log(UK_LOG_WARN, "scan: refusal %s not audited: %s",
		    uk_error_id(code), store_last_error(st));
	}
	return code;
}

/* Announces a committed change to every other connection. */
static void
announce(struct store *st)
{
	if (store_notify(st) != 0)
		uk_log(UK_LOG_WARN, "scan: store_notify failed: %s",
		    store_last_error(st));
}

/* Checks operator o may use scan login; fills v's names. *code: 0 or the
 * refusal. Returns 0 or a store error. */
static int
op_check(struct store *st, const struct gw_operator *o, int need_agreement,
    int *code)
{
	struct gw_unit u;
	int r;

	*code = 0;
	if (strcmp(o->status, "left") == 0) {
		*code = UK_ERR_SCAN_OPERATOR_LEFT;
		return 0;
	}
	if (strcmp(o->status, "active") != 0) {
		*code = UK_ERR_LOGIN_DISABLED;
		return 0;
	}
	if (!need_agreement)
		return 0;
	if ((r = gw_unit_get(st, o->unit, &u)) == UK_ERR_NOT_FOUND) {
		*code = UK_ERR_SCAN_NO_AGREEMENT;
		return 0;
	}
	if (r != 0)
		return r;
	if (strcmp(u.status, "active") != 0)
		*code = UK_ERR_LOGIN_DISABLED;
	else if (u.agreement_at == 0)
		*code = UK_ERR_SCAN_NO_AGREEMENT;
	return 0;
}

/* The operator bound to openid into *o; *found 0 when none. */
static int
op_by_openid(struct store *st, const char *openid, struct gw_operator *o,
    int *found)
{
	struct store_res *res = NULL;
	int r;

	*found = 0;
	if ((r = store_exec(st, &res,
	         "SELECT id FROM operators WHERE wechat_openid = ?", "t",
	         openid)) != 0)
		goto out;
	if (store_res_rows(res) != 1)
		goto out;
	if ((r = gw_operator_get(st, store_res_int(res, 0, 0), o)) ==
	    UK_ERR_NOT_FOUND) {
		r = 0;
		goto out;
	}
	*found = r == 0;
out:
	store_res_free(res);
	return r;
}

static int scan_ttl = GW_SCAN_TTL; /* written at start-up only */

void
gw_scan_set_ttl(int seconds)
{
	scan_ttl = seconds >= 30 && seconds <= 600 ? seconds : GW_SCAN_TTL;
}

int
gw_scan_ttl(void)
{
	return scan_ttl;
}

int
gw_scan_create(struct store *st, enum gw_scan_kind kind, int64_t bind_operator,
    const struct gw_scan_peer *browser, int64_t now,
    char id[GW_SCAN_ID_LEN + 1])
{
	struct gw_operator o;
	char id_hash[65], bh[65], ip[64], ua[256], actor[GW_LOGIN_MAX + 16];
	int r = UK_ERR_INPUT, code;

	if (id != NULL)
		id[0] = '\0';
	if (st == NULL || id == NULL || !peer_ok(browser) ||
	    (kind != GW_SCAN_LOGIN && kind != GW_SCAN_BIND) ||
	    (kind == GW_SCAN_BIND) != (bind_operator != 0))
		goto out;
	snprintf(actor, sizeof(actor), "browser");
	if (kind == GW_SCAN_BIND) {
		if ((r = gw_operator_get(st, bind_operator, &o)) ==
		    UK_ERR_NOT_FOUND)
			r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
		if (r != 0)
			goto out;
		if ((r = op_check(st, &o, 0, &code)) != 0)
			goto out;
		if ((r = code) != 0)
			goto out;
		snprintf(actor, sizeof(actor), "operator:%s", o.login);
	}
	if ((r = rnd_hex(id, GW_SCAN_ID_LEN / 2)) != 0)
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(browser->cookie, bh);
	copy(ip, sizeof(ip), browser->ip);
	copy(ua, sizeof(ua), browser->user_agent);
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "INSERT INTO scan_tickets (id_hash, kind, browser_hash, "
	         "state, created_at, expires_at, operator_id, requester_ip, "
	         "requester_ua) VALUES (?, ?, ?, 'waiting', ?, ?, ?, ?, ?)",
	         "tttiiitt", id_hash, kind_name(kind), bh, now,
	         now + gw_scan_ttl(),
	         kind == GW_SCAN_BIND ? bind_operator : (int64_t)0, ip, ua)) !=
	        0 ||
	    (r = audit(st, "scan.create", actor, id_hash, kind, NULL, NULL,
	         browser, 0)) != 0 ||
	    (r = store_commit(st)) != 0)
		store_rollback(st);
out:
	if (r != 0 && id != NULL)
		id[0] = '\0';
	return r;
}

int
gw_scan_poll(struct store *st, const char *id, const char *cookie,
    const char *seen, int64_t now, struct gw_scan_view *out, int *hold)
{
	struct ticket t;
	enum gw_scan_state s, sn;
	char id_hash[65], bh[65];
	int r = UK_ERR_INPUT, found;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (hold != NULL)
		*hold = 0;
	if (st == NULL || out == NULL || hold == NULL || !cookie_ok(cookie))
		goto out;
	r = UK_ERR_SCAN_TICKET_UNKNOWN;
	if (!gw_scan_id_valid(id))
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(cookie, bh);
	if ((r = ticket_load(st, id_hash, bh, &t, &found)) != 0)
		goto out;
	if (!found) {
		r = UK_ERR_SCAN_TICKET_UNKNOWN;
		goto out;
	}
	s = effective(&t, now);
	if (s == GW_SCAN_EXPIRED && t.state != GW_SCAN_EXPIRED &&
	    (r = store_exec(st, NULL,
	         "UPDATE scan_tickets SET state = 'expired' "
	         "WHERE id_hash = ? AND state = ?",
	         "tt", id_hash, gw_scan_state_name(t.state))) != 0)
		goto out;
	view_from(&t, now, out);
	if (seen != NULL && gw_scan_state_parse(seen, &sn) == 0 && sn == s &&
	    !gw_scan_state_final(s)) {
		*hold = 1;
		r = 0;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "UPDATE scan_tickets SET last_poll_at = ? WHERE id_hash = ? "
	         "AND (last_poll_at IS NULL OR last_poll_at <= ?)",
	         "iti", now, id_hash, now - GW_SCAN_INTERVAL)) != 0)
		goto out;
	r = store_changes(st) == 1 ? 0 : UK_ERR_SCAN_SLOW_DOWN;
out:
	return r;
}

int
gw_scan_wait_state(struct store *st, const char *id, const char *cookie,
    enum gw_scan_state seen, int64_t now, enum gw_scan_state *cur, int *changed)
{
	struct store_res *res = NULL;
	struct ticket t;
	char id_hash[65], bh[65];
	int r = UK_ERR_INPUT;

	if (changed != NULL)
		*changed = 0;
	if (st == NULL || cur == NULL || changed == NULL || !cookie_ok(cookie))
		goto out;
	r = UK_ERR_SCAN_TICKET_UNKNOWN;
	if (!gw_scan_id_valid(id))
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(cookie, bh);
	if ((r = store_exec(st, &res,
	         "SELECT state, expires_at FROM scan_tickets "
	         "WHERE id_hash = ? AND browser_hash = ?",
	         "tt", id_hash, bh)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_SCAN_TICKET_UNKNOWN;
		goto out;
	}
	memset(&t, 0, sizeof(t));
	if (gw_scan_state_parse(store_res_text(res, 0, 0), &t.state) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	t.expires_at = store_res_int(res, 0, 1);
	*cur = effective(&t, now);
	*changed = *cur != seen;
	r = 0;
out:
	store_res_free(res);
	return r;
}

int
gw_scan_oauth_begin(struct store *st, const struct gw_wechat_conf *wc,
    const char *id, const struct gw_scan_peer *phone, const char *redirect_uri,
    int64_t now, char **url)
{
	struct ticket t;
	char id_hash[65], ph[65], state[GW_WECHAT_STATE_LEN + 1], sh[65];
	char *u = NULL;
	int r = UK_ERR_INPUT, found;

	if (url != NULL)
		*url = NULL;
	if (st == NULL || url == NULL || !peer_ok(phone))
		goto out;
	r = UK_ERR_SCAN_WRONG_SITE;
	if (!gw_scan_id_valid(id))
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(phone->cookie, ph);
	if ((r = ticket_load(st, id_hash, NULL, &t, &found)) != 0)
		goto out;
	if (!found || effective(&t, now) != GW_SCAN_WAITING) {
		r = diagnose(&t, found, now, UK_ERR_SCAN_WRONG_SITE);
		goto out;
	}
	if ((r = rnd_hex(state, GW_WECHAT_STATE_LEN / 2)) != 0)
		goto out;
	if ((r = gw_wechat_authorize_url(wc, redirect_uri, state, &u)) != 0)
		goto out;
	gw_sha256_hex(state, sh);
	if ((r = store_exec(st, NULL,
	         "INSERT INTO oauth_states (state_hash, ticket_id_hash, "
	         "phone_browser_hash, expires_at) VALUES (?, ?, ?, ?)",
	         "ttti", sh, id_hash, ph, now + GW_SCAN_STATE_TTL)) != 0)
		goto out;
	*url = u;
	u = NULL; /* transferred */
out:
	free(u);
	return r;
}

int
gw_scan_oauth_take(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *state, int64_t now)
{
	struct store_res *res = NULL;
	char id_hash[65], ph[65], sh[65];
	int r = UK_ERR_INPUT, ok;

	if (st == NULL || !peer_ok(phone))
		goto out;
	if (!gw_scan_id_valid(id)) {
		r = UK_ERR_SCAN_WRONG_SITE;
		goto out;
	}
	gw_sha256_hex(id, id_hash);
	if (!gw_wechat_state_valid(state)) {
		r = refuse(st, "wechat:unknown", id_hash, GW_SCAN_LOGIN, NULL,
		    phone, UK_ERR_SCAN_OAUTH_STATE);
		goto out;
	}
	gw_sha256_hex(phone->cookie, ph);
	gw_sha256_hex(state, sh);
	if ((r = store_exec(st, &res,
	         "UPDATE oauth_states SET used_at = ? WHERE state_hash = ? "
	         "AND used_at IS NULL "
	         "RETURNING ticket_id_hash, phone_browser_hash, expires_at",
	         "it", now, sh)) != 0)
		goto out;
	ok = store_res_rows(res) == 1 &&
	    strcmp(store_res_text(res, 0, 0), id_hash) == 0 &&
	    strcmp(store_res_text(res, 0, 1), ph) == 0 &&
	    store_res_int(res, 0, 2) > now;
	if (!ok) {
		r = refuse(st, "wechat:unknown", id_hash, GW_SCAN_LOGIN, NULL,
		    phone, UK_ERR_SCAN_OAUTH_STATE);
		goto out;
	}
	r = 0;
out:
	store_res_free(res);
	return r;
}

int
gw_scan_scanned(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *openid, int64_t now,
    struct gw_scan_view *out)
{
	struct gw_operator o;
	struct ticket t;
	char id_hash[65], ph[65], ip[64], ua[256];
	char actor[GW_WECHAT_OPENID_MAX + 8];
	int64_t op_id = 0;
	int r = UK_ERR_INPUT, found, code = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || !peer_ok(phone) || !gw_wechat_openid_valid(openid))
		goto out;
	if (!gw_scan_id_valid(id)) {
		r = UK_ERR_SCAN_WRONG_SITE;
		goto out;
	}
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(phone->cookie, ph);
	snprintf(actor, sizeof(actor), "wechat:%s", openid);
	if ((r = ticket_load(st, id_hash, NULL, &t, &found)) != 0)
		goto out;
	if (!found || effective(&t, now) != GW_SCAN_WAITING) {
		r = refuse(st, actor, id_hash, t.kind, openid, phone,
		    diagnose(&t, found, now, UK_ERR_SCAN_WRONG_SITE));
		goto out;
	}
	if ((r = op_by_openid(st, openid, &o, &found)) != 0)
		goto out;
	if (t.kind == GW_SCAN_LOGIN) {
		if (!found)
			code = UK_ERR_SCAN_NOT_OPERATOR;
		else if ((r = op_check(st, &o, 1, &code)) != 0)
			goto out;
		op_id = found ? o.id : 0;
	} else {
		if (found && o.id != t.operator_id)
			code = UK_ERR_SCAN_OPENID_TAKEN;
		else if ((r = gw_operator_get(st, t.operator_id, &o)) != 0)
			goto out;
		else if ((r = op_check(st, &o, 0, &code)) != 0)
			goto out;
		op_id = t.operator_id;
	}
	if (code != 0) {
		r = refuse(st, actor, id_hash, t.kind, openid, phone, code);
		goto out;
	}
	copy(ip, sizeof(ip), phone->ip);
	copy(ua, sizeof(ua), phone->user_agent);
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "UPDATE scan_tickets SET state = 'scanned', phone_hash = ?, "
	         "openid = ?, operator_id = ?, scanner_ip = ?, "
	         "scanner_ua = ?, scanned_at = ? "
	         "WHERE id_hash = ? AND state = 'waiting' AND expires_at > ?",
	         "ttittiti", ph, openid, op_id, ip, ua, now, id_hash, now)) !=
	    0)
		goto fail;
	if (store_changes(st) != 1) {
		store_rollback(st);
		if ((r = ticket_load(st, id_hash, NULL, &t, &found)) != 0)
			goto out;
		r = refuse(st, actor, id_hash, t.kind, openid, phone,
		    diagnose(&t, found, now, UK_ERR_SCAN_WRONG_SITE));
		goto out;
	}
	if ((r = audit(st, "scan.scanned", actor, id_hash, t.kind, openid,
	         o.login, phone, 0)) != 0 ||
	    (r = store_commit(st)) != 0)
		goto fail;
	announce(st);
	if (out != NULL) {
		t.state = GW_SCAN_SCANNED;
		t.operator_id = op_id;
		view_from(&t, now, out);
		r = view_names(st, out);
	}
	goto out;
fail:
	store_rollback(st);
out:
	return r;
}

int
gw_scan_callback(struct store *st, const struct gw_wechat_conf *wc,
    const char *id, const struct gw_scan_peer *phone, const char *code,
    const char *state, int64_t now, struct gw_scan_view *out)
{
	char openid[GW_WECHAT_OPENID_MAX + 1], id_hash[65];
	int r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((r = gw_scan_oauth_take(st, id, phone, state, now)) != 0)
		return r;
	if ((r = gw_wechat_code_to_openid(wc, code, openid)) != 0) {
		if (r == UK_ERR_INPUT)
			r = UK_ERR_WECHAT_CODE;
		gw_sha256_hex(id, id_hash);
		return refuse(st, "wechat:unknown", id_hash, GW_SCAN_LOGIN,
		    NULL, phone, r);
	}
	return gw_scan_scanned(st, id, phone, openid, now, out);
}

int
gw_scan_phone_view(struct store *st, const char *id, const char *cookie,
    int64_t now, struct gw_scan_view *out)
{
	struct ticket t;
	char id_hash[65], ph[65];
	int r = UK_ERR_INPUT, found;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (st == NULL || out == NULL || !cookie_ok(cookie))
		goto out;
	r = UK_ERR_SCAN_WRONG_SITE;
	if (!gw_scan_id_valid(id))
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(cookie, ph);
	if ((r = ticket_load(st, id_hash, NULL, &t, &found)) != 0)
		goto out;
	if (!found || strcmp(t.phone_hash, ph) != 0) {
		r = UK_ERR_SCAN_WRONG_SITE;
		goto out;
	}
	view_from(&t, now, out);
	r = view_names(st, out);
out:
	return r;
}

void
gw_scan_csrf(const char *cookie, const char *id, char out[GW_TOKEN_SIZE])
{
	static const char label[] = "ukey-gateway scan csrf";
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	char *b = NULL;

	out[0] = '\0';
	if (cookie == NULL || id == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof(label)) == 1 &&
	    EVP_DigestUpdate(ctx, cookie, strlen(cookie) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, id, strlen(id)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32 &&
	    (b = b64_encode(md, 32, 1)) != NULL && strlen(b) == GW_TOKEN_LEN)
		memcpy(out, b, GW_TOKEN_SIZE);
	free(b);
	EVP_MD_CTX_free(ctx);
}

/* What gw_scan_confirm and gw_scan_cancel share: the CSRF check and the
 * atomic scanned -> to change (to "confirmed" or "cancelled"); with bind
 * for a bind ticket being confirmed. */
static int
phone_step(struct store *st, const char *id, const struct gw_scan_peer *phone,
    const char *csrf, int64_t now, int confirm)
{
	struct store_res *res = NULL;
	struct gw_operator o;
	struct gw_actor a;
	struct ticket t;
	enum gw_scan_kind kind = GW_SCAN_LOGIN;
	char id_hash[65], ph[65], expect[GW_TOKEN_SIZE];
	char actor[GW_WECHAT_OPENID_MAX + 8], who[GW_LOGIN_MAX + 16];
	char openid[GW_WECHAT_OPENID_MAX + 1];
	int64_t op_id;
	int r = UK_ERR_INPUT, found;

	memset(&o, 0, sizeof(o));
	if (st == NULL || !peer_ok(phone))
		goto out;
	if (!gw_scan_id_valid(id)) {
		r = UK_ERR_SCAN_WRONG_SITE;
		goto out;
	}
	gw_scan_csrf(phone->cookie, id, expect);
	if (expect[0] == '\0') {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((r = gw_csrf_check(expect, csrf)) != 0)
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(phone->cookie, ph);
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if (confirm)
		r = store_exec(st, &res,
		    "UPDATE scan_tickets SET state = 'confirmed', "
		    "confirmed_at = ? WHERE id_hash = ? AND phone_hash = ? "
		    "AND state = 'scanned' AND expires_at > ? "
		    "RETURNING kind, operator_id, openid",
		    "itti", now, id_hash, ph, now);
	else
		r = store_exec(st, &res,
		    "UPDATE scan_tickets SET state = 'cancelled' "
		    "WHERE id_hash = ? AND phone_hash = ? "
		    "AND state = 'scanned' AND expires_at > ? "
		    "RETURNING kind, operator_id, openid",
		    "tti", id_hash, ph, now);
	if (r != 0)
		goto fail;
	if (store_res_rows(res) != 1) {
		store_rollback(st);
		if ((r = ticket_load(st, id_hash, NULL, &t, &found)) != 0)
			goto out;
		if (found && strcmp(t.phone_hash, ph) != 0)
			found = 0;
		snprintf(actor, sizeof(actor), "wechat:%s",
		    found ? t.openid : "unknown");
		r = refuse(st, actor, id_hash, t.kind, NULL, phone,
		    diagnose(&t, found, now, UK_ERR_SCAN_WRONG_SITE));
		goto out;
	}
	kind = strcmp(store_res_text(res, 0, 0), "bind") == 0 ? GW_SCAN_BIND
	                                                      : GW_SCAN_LOGIN;
	op_id = store_res_int(res, 0, 1);
	copy(openid, sizeof(openid), store_res_text(res, 0, 2));
	snprintf(actor, sizeof(actor), "wechat:%s", openid);
	if ((r = gw_operator_get(st, op_id, &o)) != 0)
		goto fail;
	if (confirm && kind == GW_SCAN_BIND) {
		snprintf(who, sizeof(who), "operator:%s", o.login);
		memset(&a, 0, sizeof(a));
		a.who = who;
		a.ip = phone->ip;
		a.user_agent = phone->user_agent;
		r = gw_operator_bind_openid(st, &a, op_id, openid);
		if (r == UK_ERR_ADMIN_LOGIN_TAKEN)
			r = UK_ERR_SCAN_OPENID_TAKEN;
		else if (r == UK_ERR_ADMIN_OPERATOR_LEFT)
			r = UK_ERR_SCAN_OPERATOR_LEFT;
		if (r == UK_ERR_SCAN_OPENID_TAKEN ||
		    r == UK_ERR_SCAN_OPERATOR_LEFT) {
			r = refuse(st, actor, id_hash, kind, openid, phone, r);
			goto out;
		}
		if (r != 0)
			goto fail;
	}
	if ((r = audit(st, confirm ? "scan.confirm" : "scan.cancel", actor,
	         id_hash, kind, openid, o.login, phone, 0)) != 0 ||
	    (r = store_commit(st)) != 0)
		goto fail;
	announce(st);
	goto out;
fail:
	store_rollback(st);
out:
	store_res_free(res);
	return r;
}

int
gw_scan_confirm(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *csrf, int64_t now)
{
	return phone_step(st, id, phone, csrf, now, 1);
}

int
gw_scan_cancel(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *csrf, int64_t now)
{
	return phone_step(st, id, phone, csrf, now, 0);
}

int
gw_scan_claim(struct store *st, const char *id,
    const struct gw_scan_peer *browser, int64_t now, int64_t *operator_id)
{
	struct store_res *res = NULL;
	struct gw_operator o;
	struct ticket t;
	char id_hash[65], bh[65], actor[GW_LOGIN_MAX + 16];
	int r = UK_ERR_INPUT, found, code;

	if (operator_id != NULL)
		*operator_id = 0;
	if (st == NULL || operator_id == NULL || !peer_ok(browser))
		goto out;
	r = UK_ERR_SCAN_TICKET_UNKNOWN;
	if (!gw_scan_id_valid(id))
		goto out;
	gw_sha256_hex(id, id_hash);
	gw_sha256_hex(browser->cookie, bh);
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "UPDATE scan_tickets SET state = 'claimed', claimed_at = ? "
	         "WHERE id_hash = ? AND browser_hash = ? AND kind = 'login' "
	         "AND state = 'confirmed' AND expires_at > ? "
	         "RETURNING operator_id",
	         "itti", now, id_hash, bh, now)) != 0)
		goto fail;
	if (store_res_rows(res) != 1) {
		store_rollback(st);
		if ((r = ticket_load(st, id_hash, bh, &t, &found)) != 0)
			goto out;
		r = diagnose(&t, found, now, UK_ERR_SCAN_TICKET_UNKNOWN);
		if (found)
			r = refuse(st, "browser", id_hash, t.kind, NULL,
			    browser, r);
		goto out;
	}
	if ((r = gw_operator_get(st, store_res_int(res, 0, 0), &o)) != 0 ||
	    (r = op_check(st, &o, 1, &code)) != 0)
		goto fail;
	if (code != 0) {
		r = refuse(st, "browser", id_hash, GW_SCAN_LOGIN, o.openid,
		    browser, code);
		goto out;
	}
	snprintf(actor, sizeof(actor), "operator:%s", o.login);
	if ((r = audit(st, "scan.claim", actor, id_hash, GW_SCAN_LOGIN, NULL,
	         o.login, browser, 0)) != 0 ||
	    (r = store_commit(st)) != 0)
		goto fail;
	announce(st);
	*operator_id = o.id;
	goto out;
fail:
	store_rollback(st);
out:
	store_res_free(res);
	return r;
}

int
gw_scan_purge(struct store *st, int64_t now)
{
	int r;

	if (st == NULL)
		return UK_ERR_INPUT;
	if ((r = store_exec(st, NULL,
	         "DELETE FROM scan_tickets WHERE expires_at < ?", "i",
	         now - PURGE_AFTER)) != 0)
		return r;
	return store_exec(st, NULL,
	    "DELETE FROM oauth_states WHERE expires_at < ?", "i", now);
}
