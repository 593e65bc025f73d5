/* gateway/routes_helpdesk.c: the helpdesk console's API under /helpdesk/api/: search, the operator view with explained security events, unfreeze. */
/*
 * Every call has passed gateway/console.c: a staff session with the
 * helpdesk or admin role (else UK-4401/4402/4403, UK-5008 for an
 * operator's session, UK-5006 for another role), the CSRF token
 * (X-CSRF-Token, from GET /auth/session) on POST (else UK-4404). Texts for
 * people come in both languages: {"zh": …, "en": …}. Times are RFC 3339
 * UTC. Errors are the gateway's {"error":{"code","message","remedy",
 * "event"}}.
 *
 * GET /helpdesk/api/search?q=TEXT  (1 to 100 bytes; blank, ASCII or
 *   full-width spaces only, or a control character: UK-1006)
 *   One box for everything: an event number (8 to 32 hex digits, spaces
 *   and '-' ignored; 32: that row, fewer: the rows it begins), an error
 *   code ("UK-4103"), a login name (any case) or name (contains), a
 *   phone or resident ID (exact), a unit id or name (contains).
 *   200 {"query", "code": EXPLAIN|null, "events": [EVENT + "operator":
 *   OPSUM|null], "moreEvents", "operators": [OPSUM], "moreOperators",
 *   "units": [UNITSUM], "moreUnits"}. At most 10 events, 50 operators,
 *   20 units; more* say when there were more. Resident IDs and phones
 *   are masked in OPSUM as the counter masks them (gw_mask_resident_id,
 *   gw_mask_phone). Audited: "helpdesk.search" (actor staff:<login>,
 *   detail {"q" (a phone or resident ID masked), counts,
 *   "found": the operators' ids}); when the row cannot be written
 *   nothing is answered.
 * GET /helpdesk/api/operator?id=N  (or ?login=LOGIN-OR-RESIDENT-ID)
 *   200 {"operator": {id, login, name, unit, residentId, phone (in full),
 *   roles, status, hasPassword, mustChangePassword, failuresToday,
 *   triesLeft, frozen, frozenUntil, wechatBound, createdAt, leftAt},
 *   "unit": {id, name, status, uscc, agreement, agreementAt,
 *   agreementForm, authorised, authorisedAt, authorisedForm,
 *   activeCerts}|null, "certificates": [{serial, sha256, subject, source,
 *   status, notAfter, expired, revokedAt}], "problems": [EXPLAIN] (what
 *   stops this operator now), "events": [EVENT] (the last 50 security
 *   events, newest first), "moreEvents"}. Unknown: UK-4602. Audited:
 *   "helpdesk.view", subject operator:<login>.
 * POST /helpdesk/api/unfreeze  {"id": N, "form": "工单号/申请表编号"}
 *   Clears the freeze and today's failures (gw_operator_unfreeze, audited
 *   "admin.operator.unfreeze" with actor staff:<login> and the form).
 *   200 {"ok": true, "event": the audit row's event number, "operator":
 *   {id, login, frozen, failuresToday, triesLeft}}. No form: UK-4604; unknown operator: UK-4602; left:
 *   UK-4608; refusals audited as "helpdesk.unfreeze".
 *
 * EVENT = {"event" (number), "at", "kind", "kindText", "result" ("ok" or
 * "UK-…"), "ok", "what", "remedy" (null when nothing is to be done),
 * "message" (the catalogue's), "seed", "ip", "userAgent", "actor",
 * "subject", "detail" (object or text; WeChat openids left out)}.
 * EXPLAIN = {"code", "what", "remedy", "message", "seed"}.
 */
#include "gateway/console.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"
#include "common/json.h"
#include "common/timeutil.h"
#include "gateway/helpdesk.h"
#include "gateway/model.h"
#include "gateway/pwlogin.h"

#define Q_MAX 100
#define SEARCH_EVENTS 10
#define SEARCH_OPERATORS 50
#define SEARCH_UNITS 20
#define VIEW_EVENTS 50

/* {"zh": zh, "en": en}, or null when zh is NULL. */
static json_t *
text2(const char *zh, const char *en)
{
	if (zh == NULL)
		return json_null();
	return json_pack("{s:s,s:s}", "zh", zh, "en", en != NULL ? en : zh);
}

/* RFC 3339 text of t, or null for 0. */
static json_t *
when(int64_t t)
{
	char buf[32];

	if (t <= 0)
		return json_null();
	time_rfc3339((time_t)t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
explain_json(int code)
{
	const struct uk_error_info *info = uk_error_info(code);
	struct gw_hd_text d;

	gw_hd_describe(NULL, info->id, &d);
	return json_pack("{s:s,s:o,s:o,s:o,s:s?}", "code", info->id, "what",
	    text2(d.what_zh, d.what_en), "remedy",
	    text2(d.remedy_zh, d.remedy_en), "message",
	    text2(info->zh, info->en), "seed", info->seed);
}

/* The detail for people: a JSON object without WeChat openids, or the
 * text. */
static json_t *
detail_json(const char *detail)
{
	json_t *d;

	if (detail == NULL || *detail == '\0')
		return json_null();
	if ((d = json_loads(detail, 0, NULL)) != NULL && json_is_object(d)) {
		json_object_del(d, "openid");
		json_object_del(d, "user_agent");
		return d;
	}
	json_decref(d);
	return json_string(detail);
}

static json_t *
event_json(const struct gw_hd_event *ev)
{
	struct gw_hd_text d;
	const struct uk_error_info *info = NULL;

	gw_hd_describe(ev->event, ev->result, &d);
	if (d.code != 0)
		info = uk_error_info(d.code);
	return json_pack("{s:s,s:o,s:s,s:o,s:s,s:b,s:o,s:o,s:o,s:s?,s:s?,"
	                 "s:s?,s:s?,s:s?,s:o}",
	    "event", ev->id, "at", when(ev->at), "kind", ev->event, "kindText",
	    text2(d.kind_zh, d.kind_en), "result",
	    ev->result[0] != '\0' ? ev->result : "ok", "ok", d.code == 0,
	    "what", text2(d.what_zh, d.what_en), "remedy",
	    text2(d.remedy_zh, d.remedy_en), "message",
	    info != NULL ? text2(info->zh, info->en) : json_null(), "seed",
	    info != NULL ? info->seed : NULL, "ip",
	    ev->ip[0] != '\0' ? ev->ip : NULL, "userAgent",
	    ev->ua[0] != '\0' ? ev->ua : NULL, "actor",
	    ev->actor[0] != '\0' ? ev->actor : NULL, "subject",
	    ev->subject[0] != '\0' ? ev->subject : NULL, "detail",
	    detail_json(ev->detail));
}

/* Today's failures of o: fail_count counts for its local day only. */
static int
failures_today(const struct gw_console *k, const struct gw_operator *o)
{
	return o->fail_day == gw_local_day(k->s->pw.tz, k->now) ? o->fail_count
	                                                        : 0;
}

static json_t *
roles_json(const char *roles)
{
	json_t *a = json_array();
	const char *p = roles;
	size_t w;

	while (a != NULL && *p != '\0') {
		p += strspn(p, " ");
		if ((w = strcspn(p, " ")) == 0)
			break;
		json_array_append_new(a, json_stringn(p, w));
		p += w;
	}
	return a;
}

/* An operator in a list: personal data masked. */
static json_t *
opsum_json(const struct gw_console *k, const struct gw_operator *o)
{
	char rid[19], phone[21];

	gw_mask_resident_id(o->resident_id, rid, sizeof(rid));
	gw_mask_phone(o->phone, phone, sizeof(phone));
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "id",
	    (json_int_t)o->id, "login", o->login, "name", o->name, "unit",
	    o->unit, "status", o->status, "residentId", rid, "phone", phone,
	    "frozen", o->frozen_until > k->now);
}

static json_t *
unitsum_json(const struct gw_unit *u)
{
	return json_pack("{s:s,s:s,s:s,s:b,s:b}", "id", u->id, "name", u->name,
	    "status", u->status, "agreement", u->agreement_at != 0,
	    "authorised", u->authorized_at != 0);
}

/* Answers a store or model error with no audit row. */
static enum MHD_Result
fail(struct gw_console *k, int r)
{
	return gw_console_error(k, r, NULL, NULL);
}

/* Trims spaces at both ends of s in place; returns s. */
static char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* --- search --- */

/* The query as the audit row keeps it: a phone number or resident ID
 * masked like the lists show them (the row still says whom it found:
 * the operators' ids), anything else as typed. */
static void
audit_query(const char *q, char *out, size_t size)
{
	char norm[Q_MAX + 1];
	size_t i, j = 0;

	for (i = 0; q[i] != '\0' && j < sizeof(norm) - 1; i++)
		if (q[i] != ' ' && q[i] != '-')
			norm[j++] = (char)toupper((unsigned char)q[i]);
	norm[j] = '\0';
	if (strncmp(norm, "+86", 3) == 0)
		memmove(norm, norm + 3, strlen(norm + 3) + 1);
	if (gw_phone_valid(norm) == 0)
		gw_mask_phone(norm, out, size);
	else if (gw_resident_id_valid(norm) == 0)
		gw_mask_resident_id(norm, out, size);
	else
		snprintf(out, size, "%s", q);
}

static enum MHD_Result
search(struct gw_console *k)
{
	char buf[Q_MAX + 1], q[Q_MAX + 1], aq[Q_MAX + 1], num[33];
	char *detail = NULL;
	struct gw_hd_event *ev = NULL;
	struct gw_unit *units = NULL;
	struct gw_operator o;
	int64_t *ids = NULL;
	size_t nev = 0, nids = 0, nunits = 0, i;
	int r, code, more_ev = 0, more_op = 0, more_units = 0;
	json_t *body = NULL, *events, *ops, *us, *d, *seen;
	enum MHD_Result ret;

	if ((r = gw_console_param(k, "q", buf, sizeof(buf))) != 0)
		return fail(k, r == UK_ERR_NOT_FOUND ? UK_ERR_INPUT : r);
	/* blank (ASCII or full-width spaces) or a control character: refused,
	 * as the counter's search refuses it */
	if (gw_text_clean(buf, q, sizeof(q)) != 0)
		return fail(k, UK_ERR_INPUT);
	if (gw_hd_event_number(q, num) == 0 &&
	    (r = gw_hd_events_by_number(k->st, num, SEARCH_EVENTS, &ev, &nev,
	         &more_ev)) != 0)
		goto err;
	if ((r = gw_hd_search_operators(k->st, q, SEARCH_OPERATORS, &ids, &nids,
	         &more_op)) != 0)
		goto err;
	if ((r = gw_unit_list(k->st, q, SEARCH_UNITS + 1, &units, &nunits)) !=
	    0)
		goto err;
	if (nunits > SEARCH_UNITS) {
		more_units = 1;
		nunits = SEARCH_UNITS;
	}
	/* the search is audited before anything is shown */
	r = UK_ERR_NOMEM;
	audit_query(q, aq, sizeof(aq));
	if ((seen = json_array()) == NULL)
		goto err;
	for (i = 0; i < nids; i++)
		json_array_append_new(seen, json_integer((json_int_t)ids[i]));
	if ((d = json_pack("{s:s,s:I,s:I,s:I,s:o}", "q", aq, "events",
	         (json_int_t)nev, "operators", (json_int_t)nids, "units",
	         (json_int_t)nunits, "found", seen)) == NULL)
		goto err;
	detail = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (detail == NULL)
		goto err;
	if ((r = gw_hd_audit(k->st, &k->actor, "helpdesk.search", NULL,
	         detail)) != 0)
		goto err;
	r = UK_ERR_NOMEM;
	events = json_array();
	ops = json_array();
	us = json_array();
	body = json_pack("{s:s,s:o,s:o,s:b,s:o,s:b,s:o,s:b}", "query", q,
	    "code",
	    gw_hd_parse_code(q, &code) == 0 ? explain_json(code) : json_null(),
	    "events", events, "moreEvents", more_ev, "operators", ops,
	    "moreOperators", more_op, "units", us, "moreUnits", more_units);
	if (body == NULL)
		goto err;
	for (i = 0; i < nev; i++) {
		json_t *e = event_json(&ev[i]);
		int found = gw_hd_event_operator(k->st, &ev[i], &o);

		if (e == NULL)
			goto err;
		json_object_set_new(e, "operator",
		    found == 0 ? opsum_json(k, &o) : json_null());
		json_array_append_new(events, e);
	}
	for (i = 0; i < nids; i++)
		if (gw_operator_get(k->st, ids[i], &o) == 0)
			json_array_append_new(ops, opsum_json(k, &o));
	for (i = 0; i < nunits; i++)
		json_array_append_new(us, unitsum_json(&units[i]));
	ret = gw_console_ok(k, body);
	body = NULL; /* transferred */
	goto out;
err:
	ret = fail(k, r);
out:
	json_decref(body);
	free(detail);
	free(ev);
	free(ids);
	free(units);
	return ret;
}

/* --- the operator view --- */

/* The operator named by ?id= or ?login=. */
static int
param_operator(struct gw_console *k, struct gw_operator *o)
{
	char buf[GW_LOGIN_MAX + 1], *end;
	long long id;
	int r;

	if ((r = gw_console_param(k, "id", buf, sizeof(buf))) == 0) {
		errno = 0;
		id = strtoll(buf, &end, 10);
		if (errno != 0 || end == buf || *end != '\0' || id <= 0)
			return UK_ERR_INPUT;
		r = gw_operator_get(k->st, (int64_t)id, o);
	} else if (r == UK_ERR_NOT_FOUND &&
	    (r = gw_console_param(k, "login", buf, sizeof(buf))) == 0) {
		r = gw_operator_find(k->st, trim(buf), o);
	} else {
		return r == UK_ERR_NOT_FOUND ? UK_ERR_INPUT : r;
	}
	return r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_OPERATOR_UNKNOWN : r;
}

/* What stops operator o (of unit u, NULL when missing) logging in now. */
static json_t *
problems_json(const struct gw_console *k, const struct gw_operator *o,
    const struct gw_unit *u, const struct gw_hd_cert *c, size_t nc)
{
	json_t *a = json_array();
	size_t i;
	int usable = 0, expired = 0;

	if (a == NULL)
		return NULL;
	if (strcmp(o->status, "left") == 0)
		json_array_append_new(a,
		    explain_json(UK_ERR_LOGIN_OPERATOR_LEFT));
	else if (strcmp(o->status, "active") != 0)
		json_array_append_new(a, explain_json(UK_ERR_LOGIN_DISABLED));
	if (o->frozen_until > k->now)
		json_array_append_new(a, explain_json(UK_ERR_LOGIN_FROZEN));
	if (o->pw_must_change)
		json_array_append_new(a,
		    explain_json(UK_ERR_PASSWORD_MUST_CHANGE));
	if (u == NULL || u->agreement_at == 0)
		json_array_append_new(a, explain_json(UK_ERR_POLICY_AGREEMENT));
	else if (u->authorized_at == 0)
		json_array_append_new(a,
		    explain_json(UK_ERR_POLICY_HALL_UNAUTHORISED));
	for (i = 0; i < nc; i++) {
		if (strcmp(c[i].status, "revoked") == 0)
			continue;
		if (c[i].not_after > 0 && c[i].not_after <= k->now)
			expired = 1;
		else
			usable = 1;
	}
	if (!usable && expired)
		json_array_append_new(a, explain_json(UK_ERR_CERT_EXPIRED));
	return a;
}

static json_t *
certs_json(const struct gw_console *k, const struct gw_hd_cert *c, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a,
		    json_pack("{s:s?,s:s,s:s,s:s,s:s,s:o,s:b,s:o}", "serial",
		        c[i].serial[0] != '\0' ? c[i].serial : NULL, "sha256",
		        c[i].sha256, "subject", c[i].subject, "source",
		        c[i].source, "status", c[i].status, "notAfter",
		        when(c[i].not_after), "expired",
		        c[i].not_after > 0 && c[i].not_after <= k->now,
		        "revokedAt", when(c[i].revoked_at)));
	return a;
}

static json_t *
unit_json(const struct gw_unit *u)
{
	if (u == NULL)
		return json_null();
	return json_pack("{s:s,s:s,s:s,s:s?,s:b,s:o,s:s?,s:b,s:o,s:s?,s:i}",
	    "id", u->id, "name", u->name, "status", u->status, "uscc",
	    u->uscc[0] != '\0' ? u->uscc : NULL, "agreement",
	    u->agreement_at != 0, "agreementAt", when(u->agreement_at),
	    "agreementForm",
	    u->agreement_form[0] != '\0' ? u->agreement_form : NULL,
	    "authorised", u->authorized_at != 0, "authorisedAt",
	    when(u->authorized_at), "authorisedForm",
	    u->authorized_form[0] != '\0' ? u->authorized_form : NULL,
	    "activeCerts", u->active_certs);
}

static enum MHD_Result
view(struct gw_console *k)
{
	char subject[GW_LOGIN_MAX + 16], detail[64];
	struct gw_hd_event *ev = NULL;
	struct gw_hd_cert *certs = NULL;
	struct gw_operator o;
	struct gw_unit u;
	size_t nev = 0, ncerts = 0, i;
	int r, more = 0, have_unit, fails;
	json_t *body = NULL, *events;
	enum MHD_Result ret;

	if ((r = param_operator(k, &o)) != 0)
		return fail(k, r);
	r = gw_unit_get(k->st, o.unit, &u);
	if (r != 0 && r != UK_ERR_NOT_FOUND)
		goto err;
	have_unit = r == 0;
	if ((r = gw_hd_operator_certs(k->st, &o, &certs, &ncerts)) != 0)
		goto err;
	if ((r = gw_hd_operator_events(k->st, &o, certs, ncerts, k->now,
	         VIEW_EVENTS, &ev, &nev, &more)) != 0)
		goto err;
	snprintf(subject, sizeof(subject), "operator:%s", o.login);
	snprintf(detail, sizeof(detail), "{\"id\":%lld}", (long long)o.id);
	if ((r = gw_hd_audit(k->st, &k->actor, "helpdesk.view", subject,
	         detail)) != 0)
		goto err;
	r = UK_ERR_NOMEM;
	fails = failures_today(k, &o);
	events = json_array();
	body = json_pack("{s:{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:b,s:b,s:i,"
	                 "s:i,s:b,s:o,s:b,s:o,s:o},s:o,s:o,s:o,s:o,s:b}",
	    "operator", "id", (json_int_t)o.id, "login", o.login, "name",
	    o.name, "unit", o.unit, "residentId", o.resident_id, "phone",
	    o.phone, "roles", roles_json(o.roles), "status", o.status,
	    "hasPassword", o.has_password, "mustChangePassword",
	    o.pw_must_change, "failuresToday", fails, "triesLeft",
	    fails >= GW_PW_TRIES ? 0 : GW_PW_TRIES - fails, "frozen",
	    o.frozen_until > k->now, "frozenUntil",
	    when(o.frozen_until > k->now ? o.frozen_until : 0), "wechatBound",
	    o.openid[0] != '\0', "createdAt", when(o.created_at), "leftAt",
	    when(o.left_at), "unit", unit_json(have_unit ? &u : NULL),
	    "certificates", certs_json(k, certs, ncerts), "problems",
	    problems_json(k, &o, have_unit ? &u : NULL, certs, ncerts),
	    "events", events, "moreEvents", more);
	if (body == NULL)
		goto err;
	for (i = 0; i < nev; i++) {
		json_t *e = event_json(&ev[i]);
		if (e == NULL)
			goto err;
		json_array_append_new(events, e);
	}
	ret = gw_console_ok(k, body);
	body = NULL; /* transferred */
	goto out;
err:
	ret = fail(k, r);
out:
	json_decref(body);
	free(ev);
	free(certs);
	return ret;
}

/* --- unfreeze --- */

static enum MHD_Result
unfreeze(struct gw_console *k)
{
	static const char *const keys[] = { "id", "form", NULL };
	char subject[GW_LOGIN_MAX + 16], form[GW_LOGIN_MAX + 1], evid[33];
	struct gw_operator o;
	json_t *id, *f;
	const char *fs;
	size_t n, i;
	int r, fails;

	subject[0] = '\0';
	id = json_object_get(k->body, "id");
	f = json_object_get(k->body, "form");
	if (json_only_keys(k->body, keys) != 0 || !json_is_integer(id) ||
	    json_integer_value(id) <= 0 || (f != NULL && !json_is_string(f)))
		return fail(k, UK_ERR_INPUT);
	if ((r = gw_operator_get(k->st, (int64_t)json_integer_value(id), &o)) !=
	    0)
		return fail(k,
		    r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_OPERATOR_UNKNOWN : r);
	snprintf(subject, sizeof(subject), "operator:%s", o.login);
	/* the ticket or form number: trimmed, printable, one line */
	fs = f != NULL ? json_string_value(f) : "";
	while (*fs == ' ' || *fs == '\t')
		fs++;
	n = strlen(fs);
	while (n > 0 && (fs[n - 1] == ' ' || fs[n - 1] == '\t'))
		n--;
	if (n == 0)
		return gw_console_error(k, UK_ERR_ADMIN_FORM_REQUIRED,
		    "helpdesk.unfreeze", subject);
	if (n > GW_LOGIN_MAX)
		return gw_console_error(k, UK_ERR_INPUT, "helpdesk.unfreeze",
		    subject);
	for (i = 0; i < n; i++)
		if ((unsigned char)fs[i] < 0x20 || fs[i] == 0x7f)
			return gw_console_error(k, UK_ERR_INPUT,
			    "helpdesk.unfreeze", subject);
	memcpy(form, fs, n);
	form[n] = '\0';
	evid[0] = '\0';
	k->actor.form = form;
	k->actor.event_id = evid;
	r = gw_operator_unfreeze(k->st, &k->actor, o.id);
	k->actor.form = NULL;
	k->actor.event_id = NULL;
	if (r != 0)
		return gw_console_error(k, r, "helpdesk.unfreeze", subject);
	if ((r = gw_operator_get(k->st, o.id, &o)) != 0)
		return fail(k, r);
	fails = failures_today(k, &o);
	return gw_console_ok(k,
	    json_pack("{s:b,s:s?,s:{s:I,s:s,s:b,s:i,s:i}}", "ok", 1, "event",
	        evid[0] != '\0' ? evid : NULL, "operator", "id",
	        (json_int_t)o.id, "login", o.login, "frozen",
	        o.frozen_until > k->now, "failuresToday", fails, "triesLeft",
	        fails >= GW_PW_TRIES ? 0 : GW_PW_TRIES - fails));
}

enum MHD_Result
gw_helpdesk_api(struct gw_console *k)
{
	int get = strcmp(k->rq->method, "GET") == 0 ||
	    strcmp(k->rq->method, "HEAD") == 0;

	if (strcmp(k->sub, "search") == 0)
		return get ? search(k) : fail(k, UK_ERR_METHOD);
	if (strcmp(k->sub, "operator") == 0)
		return get ? view(k) : fail(k, UK_ERR_METHOD);
	if (strcmp(k->sub, "unfreeze") == 0)
		return strcmp(k->rq->method, "POST") == 0
		    ? unfreeze(k)
		    : fail(k, UK_ERR_METHOD);
	return fail(k, UK_ERR_NO_ROUTE);
}
