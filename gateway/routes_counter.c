/* gateway/routes_counter.c: the counter console's API under /counter/api/: units, operators, passwords, WeChat, certificates (issue, revoke, reissue) and the UKey acts done through the counter PC's agent, each with its application form and audit row. */
/*
 * Who: a staff session with role counter (or admin), checked with CSRF and
 * the JSON body by gateway/console.c (UK-4401/4402/4403 no session, UK-5008
 * an operator's session, UK-5006 no counter role, UK-4404 CSRF missing or
 * wrong, UK-1504/1505 body). Every answer is JSON; every error is
 * {"error":{"code","message","remedy","event"}} with an audit row
 * ("counter.<act>", actor "staff:<login>", detail {"form","field"}) and,
 * when one input was refused, "field" naming it. Times are UTC seconds.
 *
 * Reads (GET):
 *   status                      {"counter":bool (certificate acts served),
 *                               "sms":bool (temporary passwords by SMS),
 *                               "certLimit":2, "ca":name|null,
 *                               "staff":{"login","name","roles"}}
 *   search?q=TEXT               {"units":[unit…], "operators":[operator…]}
 *                               (ids, names, USCC, logins, resident IDs,
 *                               phones containing TEXT; 50 of each;
 *                               TEXT blank: UK-1006)
 *   unit?id=ID                  {"unit":unit, "operators":[operator…],
 *                               "certificates":[cert…]}
 *   operator?login=LOGIN        {"operator":operator, "unit":unit,
 *                               "certificates":[cert…]} (LOGIN: login name
 *                               or resident ID)
 *   unit: {"id","name","uscc","status","agreementAt","agreementForm",
 *          "authorizedAt","authorizedForm","activeCerts","certLimit",
 *          "createdAt"}
 *   operator: {"id","login","unit","name","residentId","phone",
 *          "wechatBound","roles":[…],"status","password":"none|temporary|
 *          set","failCount","frozenUntil","createdAt","leftAt"}
 *          (search results mask the resident ID and phone as the
 *          helpdesk does: 110105********002X, 138****8000)
 *   cert: {"serial","operator","unit","profile","subject","keyType",
 *          "status":"active|revoked","expired","sha256","replaces",
 *          "notBefore","notAfter","issuedAt","revokedAt","reason",
 *          "source":"ca|external"}
 *
 * Acts (POST, JSON object; "form", the application form number 申请表编号,
 * is required by every one: UK-4604 without it or when it is blank, UK-4605
 * when it has a control character; unknown members: UK-1006). Text members
 * are taken without the blanks at their ends (ASCII and U+3000 full-width
 * spaces); a required one that is blank, or any with a control character:
 * UK-4605 naming it.
 * Each answers {"ok":true,"event":EVENT, …}, EVENT being its audit row:
 *   unit/add                    {"id","name","uscc"?}
 *   unit/agreement              {"id"}  the signed online-service agreement
 *   unit/authorize              {"id"}  online hall user authorisation
 *                               (UK-5003 before the agreement)
 *   unit/revoke-authorization   {"id"}
 *   operator/add                {"unit","login","name","residentId"?,
 *                               "phone"?,"roles"?} (roles: "maker checker
 *                               admin", space separated; no password: the
 *                               operator gets a certificate or a reset)
 *   operator/change             {"login","name"?,"phone"?,"roles"?}
 *   operator/leave              {"login"}  the operator left the unit
 *   operator/disable            {"login"}  deactivated: no login at all
 *   operator/enable             {"login"}
 *   operator/unfreeze           {"login"}
 *   operator/reset-password     {"login"} a strong temporary password that
 *                               must be changed at the first login (UK-4111
 *                               until then); answers "delivery":"sms" and
 *                               "phone" (masked) when it went to the
 *                               outbox for the bound phone, else
 *                               "delivery":"clerk", "reason":"no_phone|
 *                               sms_off|sms_failed" and "temporaryPassword"
 *                               to be handed over once
 *   operator/unbind-wechat      {"login"} (UK-1007 when none is bound)
 *   cert/issue                  {"login","csr"} (PEM or DER in base64 of a
 *                               PKCS#10 request, e.g. from the agent's
 *                               /v1/enroll) for that operator, bound at
 *                               issuance; the certificate says
 *                               "CN=<login>, OU=<unit>" from the register
 *                               (a CSR subject naming anything else than
 *                               that CN and OU: UK-3007); answers
 *                               "serial","notBefore",
 *                               "notAfter","certificate" (PEM),"der"
 *                               (base64),"caEvent","activeCerts";
 *                               UK-3010 at the unit's two active
 *                               certificates, UK-3001..3007 for the CSR
 *   cert/revoke                 {"serial","reason"} reason: unspecified,
 *                               keyCompromise, affiliationChanged,
 *                               superseded, cessationOfOperation,
 *                               privilegeWithdrawn
 *   cert/reissue                {"serial","csr"} revokes (superseded) and
 *                               issues for the same operator in one
 *                               transaction; answers as cert/issue
 *   ukey                        {"act":"unblock|install","stage":"start|
 *                               done","token"?,"login"?,"serial"?,
 *                               "outcome"?} the acts the page does through
 *                               the counter PC's agent (SO PIN unblock,
 *                               certificate written to the UKey): "start"
 *                               before calling the agent (the form is
 *                               checked then), "done" with the outcome
 *                               ("ok" or the agent's UK- code)
 * Certificate acts need [counter] enabled = true (else UK-4609); the
 * others are always served. Operators who left: UK-4608; deactivated:
 * UK-4610; closed units: UK-4611.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "certs/csr.h"
#include "common/audit.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/console.h"
#include "gateway/counter.h"
#include "gateway/model.h"
#include "gateway/respond.h"
#include "gateway/sms.h"

#define LIST_MAX 50      /* search results of each kind */
#define UNIT_OPS_MAX 500 /* operators shown with a unit */
#define CERT_LIMIT 2     /* active certificates per unit (certs/ca.c) */
#define TEMP_PW_LEN 12   /* temporary password characters */
#define TEMP_PW_TTL 86400
#define SMS_TPL_TEMP_PASSWORD "temp_password" /* {"login","password"} */

/* Most text members one act reads with get(). */
#define IN_VALS 8

/* One act's request: the form, the input refused (if any), where the
 * model puts the audit row's event id, and the event name; the members
 * get() read, trimmed. */
struct in {
	const char *act;  /* "counter.unit.add", ... */
	const char *form; /* from the body, trimmed (form_buf) */
	const char *bad;  /* the member refused, or NULL */
	char subject[GW_LOGIN_MAX + 16];
	char ev[33];
	char form_buf[GW_LOGIN_MAX + 1];
	char val[IN_VALS][GW_NAME_MAX + 1];
	size_t nval;
};

/* --- answers --- */

/* Answers code for the act in (audited: event in->act, subject, detail
 * {"form","field"}), with "field" in the error when one input was
 * refused. */
static enum MHD_Result
fail(struct gw_console *k, struct in *in, int code)
{
	struct gw_errans e;
	json_t *d;
	char *detail = NULL;
	enum MHD_Result ret;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.event = in->act;
	e.subject = in->subject[0] != '\0' ? in->subject : NULL;
	d = json_pack("{s:s?,s:s?}", "form", in->form, "field", in->bad);
	if (d != NULL)
		detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	e.detail = detail;
	if (in->bad != NULL)
		e.extra = json_pack("{s:s}", "field", in->bad);
	ret = gw_respond_error(k->s, k->c, k->rq, &e);
	free(detail);
	return ret;
}

/* Answers 200 with body (taken; NULL: {}), "ok": true and the act's event
 * when there is one. */
static enum MHD_Result
done(struct gw_console *k, struct in *in, json_t *body)
{
	if (body == NULL && (body = json_object()) == NULL)
		return gw_console_error(k, UK_ERR_NOMEM, NULL, NULL);
	json_object_set_new(body, "ok", json_true());
	if (in != NULL && in->ev[0] != '\0')
		json_object_set_new(body, "event", json_string(in->ev));
	return gw_console_ok(k, body);
}

/* --- input --- */

/* The text of string member key of the body, trimmed (gw_text_clean) into
 * out (size bytes, at most max of them text): 0; UK_ERR_NOT_FOUND when it
 * is absent; UK_ERR_INPUT when it is no string; UK_ERR_ADMIN_FORM_REQUIRED
 * when it is blank; UK_ERR_ADMIN_INVALID when it has a NUL or a control
 * character, is not UTF-8 or is longer than max bytes. */
static int
text(struct gw_console *k, const char *key, size_t max, char *out, size_t size)
{
	json_t *v = json_object_get(k->body, key);
	int r;

	out[0] = '\0';
	if (v == NULL)
		return UK_ERR_NOT_FOUND;
	if (!json_is_string(v))
		return UK_ERR_INPUT;
	if (strlen(json_string_value(v)) != json_string_length(v))
		return UK_ERR_ADMIN_INVALID;
	r = gw_text_clean(json_string_value(v), out,
	    max + 1 < size ? max + 1 : size);
	if (r == UK_ERR_NOT_FOUND)
		return UK_ERR_ADMIN_FORM_REQUIRED;
	return r == 0 ? 0 : UK_ERR_ADMIN_INVALID;
}

/* The string member key of the body without the blanks at its ends, at
 * most max bytes: 0 and *out (in in; NULL when absent or blank and not
 * required), or, with in->bad set, UK_ERR_INPUT when it is required and
 * absent, or no string, and UK_ERR_ADMIN_INVALID when it is required and
 * blank, or holds a control character, or is too long (as the model answers
 * for a blank name). */
static int
get(struct gw_console *k, struct in *in, const char *key, size_t max,
    int required, const char **out)
{
	char *v;
	int r;

	*out = NULL;
	if (in->nval == IN_VALS)
		return UK_ERR_INTERNAL;
	v = in->val[in->nval];
	r = text(k, key, max, v, sizeof(in->val[0]));
	if ((r == UK_ERR_NOT_FOUND || r == UK_ERR_ADMIN_FORM_REQUIRED) &&
	    !required)
		return 0;
	if (r == UK_ERR_ADMIN_FORM_REQUIRED)
		r = UK_ERR_ADMIN_INVALID;
	else if (r == UK_ERR_NOT_FOUND)
		r = UK_ERR_INPUT;
	if (r != 0) {
		in->bad = key;
		return r;
	}
	in->nval++;
	*out = v;
	return 0;
}

/* Starts an act: the body has only the members keys (and "form"), the form
 * is there; the actor gets the form and in->ev. Returns 0 or an error code
 * (in->bad set). */
static int
start(struct gw_console *k, struct in *in, const char *act,
    const char *const *keys)
{
	const char *all[12];
	size_t i, n = 0;
	void *it;
	int r;

	memset(in, 0, sizeof(*in));
	in->act = act;
	k->actor.event_id = in->ev;
	all[n++] = "form";
	for (i = 0; keys[i] != NULL && n < 11; i++)
		all[n++] = keys[i];
	all[n] = NULL;
	/* absent or blank: UK-4604; not text, a control character or too
	 * long: UK-4605 */
	r = text(k, "form", GW_LOGIN_MAX, in->form_buf, sizeof(in->form_buf));
	if (r == 0) {
		in->form = in->form_buf;
		k->actor.form = in->form_buf;
	} else {
		in->bad = "form";
		return r == UK_ERR_NOT_FOUND || r == UK_ERR_ADMIN_FORM_REQUIRED
		    ? UK_ERR_ADMIN_FORM_REQUIRED
		    : UK_ERR_ADMIN_INVALID;
	}
	if (json_only_keys(k->body, all) != 0) {
		for (it = json_object_iter(k->body); it != NULL;
		     it = json_object_iter_next(k->body, it)) {
			const char *name = json_object_iter_key(it);

			for (i = 0; all[i] != NULL && strcmp(all[i], name); i++)
				;
			if (all[i] == NULL) {
				in->bad = name;
				break;
			}
		}
		return UK_ERR_INPUT;
	}
	return 0;
}

/* The operator the member "login" names (login name or resident ID). */
static int
find_op(struct gw_console *k, struct in *in, struct gw_operator *o)
{
	const char *login;
	int r;

	if ((r = get(k, in, "login", GW_LOGIN_MAX, 1, &login)) != 0)
		return r;
	snprintf(in->subject, sizeof(in->subject), "operator:%s", login);
	if ((r = gw_operator_find(k->st, login, o)) != 0) {
		in->bad = "login";
		return r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_OPERATOR_UNKNOWN
		                             : r;
	}
	snprintf(in->subject, sizeof(in->subject), "operator:%s", o->login);
	return 0;
}

/* --- JSON of the model --- */

static json_t *
unit_json(const struct gw_unit *u)
{
	return json_pack("{s:s,s:s,s:s?,s:s,s:I,s:s?,s:I,s:s?,s:i,s:i,s:I}",
	    "id", u->id, "name", u->name, "uscc", u->uscc[0] ? u->uscc : NULL,
	    "status", u->status, "agreementAt", (json_int_t)u->agreement_at,
	    "agreementForm", u->agreement_form[0] ? u->agreement_form : NULL,
	    "authorizedAt", (json_int_t)u->authorized_at, "authorizedForm",
	    u->authorized_form[0] ? u->authorized_form : NULL, "activeCerts",
	    u->active_certs, "certLimit", CERT_LIMIT, "createdAt",
	    (json_int_t)u->created_at);
}

static json_t *
roles_json(const char *roles)
{
	json_t *a = json_array();
	const char *p = roles, *q;

	while (a != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		if (q > p)
			json_array_append_new(a,
			    json_stringn(p, (size_t)(q - p)));
		p = q;
	}
	return a;
}

/* masked: search results show only the ends of the resident ID and phone,
 * as the helpdesk's lists do (gw_mask_resident_id, gw_mask_phone) */
static json_t *
op_json(const struct gw_operator *o, int masked)
{
	char rid[19], phone[21];

	if (masked) {
		gw_mask_resident_id(o->resident_id, rid, sizeof(rid));
		gw_mask_phone(o->phone, phone, sizeof(phone));
	} else {
		snprintf(rid, sizeof(rid), "%s", o->resident_id);
		snprintf(phone, sizeof(phone), "%s", o->phone);
	}
	return json_pack("{s:I,s:s,s:s,s:s,s:s?,s:s?,s:b,s:o,s:s,s:s,s:i,s:I,"
	                 "s:I,s:I}",
	    "id", (json_int_t)o->id, "login", o->login, "unit", o->unit, "name",
	    o->name, "residentId", rid[0] ? rid : NULL, "phone",
	    phone[0] ? phone : NULL, "wechatBound", o->openid[0] != '\0',
	    "roles", roles_json(o->roles), "status", o->status, "password",
	    !o->has_password        ? "none"
	        : o->pw_must_change ? "temporary"
	                            : "set",
	    "failCount", o->fail_count, "frozenUntil",
	    (json_int_t)o->frozen_until, "createdAt", (json_int_t)o->created_at,
	    "leftAt", (json_int_t)o->left_at);
}

static json_t *
cert_json(const struct ca_cert_info *c, int64_t now)
{
	return json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:b,s:s?,s:s?,"
	                 "s:I,s:I,s:I,s:I,s:s?,s:s}",
	    "serial", c->serial, "operator", c->operator, "unit", c->unit_id,
	    "profile", c->profile, "subject", c->subject, "keyType",
	    c->key_type, "status", c->status, "expired", c->not_after <= now,
	    "sha256", c->sha256, "replaces", c->replaces, "notBefore",
	    (json_int_t)c->not_before, "notAfter", (json_int_t)c->not_after,
	    "issuedAt", (json_int_t)c->issued_at, "revokedAt",
	    (json_int_t)c->revoked_at, "reason",
	    c->reason >= 0 ? ca_reason_name(c->reason) : NULL, "source", "ca");
}

/* The certificates of unit (operator NULL: all of the unit's; else that
 * operator's, with the operator's explicit bindings to external
 * certificates when op_id is set), newest first. */
static json_t *
certs_json(struct gw_console *k, const char *unit, const char *operator,
    int64_t op_id)
{
	struct ca_cert_info *v = NULL;
	struct gw_binding *b = NULL;
	struct ca *ca;
	json_t *a = json_array();
	size_t n = 0, nb = 0, i, j;

	if (a == NULL)
		return NULL;
	ca = gw_counter_take(k->s->counter);
	if (ca != NULL && ca_list(ca, unit, &v, &n) != 0)
		n = 0;
	gw_counter_release(k->s->counter);
	for (i = n; i-- > 0;) {
		if (operator!= NULL &&(v[i].operator== NULL || strcasecmp(
		                           v[i].operator, operator) != 0))
			continue;
		json_array_append_new(a, cert_json(&v[i], k->now));
	}
	if (op_id != 0 && gw_binding_list(k->st, op_id, 0, &b, &nb) == 0) {
		for (i = 0; i < nb; i++) {
			for (j = 0; j < n; j++)
				if (v[j].sha256 != NULL &&
				    strcmp(v[j].sha256, b[i].sha256) == 0)
					break;
			if (j < n)
				continue; /* our CA's, listed above */
			json_array_append_new(a,
			    json_pack("{s:s,s:s,s:s,s:b,s:I,s:s}", "sha256",
			        b[i].sha256, "subject", b[i].subject, "status",
			        "active", "expired", b[i].not_after <= k->now,
			        "notAfter", (json_int_t)b[i].not_after,
			        "source", b[i].source));
		}
	}
	free(b);
	ca_cert_info_free(v, n);
	return a;
}

/* --- reads --- */

static enum MHD_Result
r_status(struct gw_console *k)
{
	struct ca *ca;
	json_t *o;
	char name[256] = "";

	ca = gw_counter_take(k->s->counter);
	if (ca != NULL)
		snprintf(name, sizeof(name), "%s", ca_name(ca));
	gw_counter_release(k->s->counter);
	o = json_pack("{s:b,s:b,s:i,s:s?,s:{s:s,s:s,s:o}}", "counter",
	    gw_counter_enabled(k->s->counter), "sms",
	    gw_counter_sms(k->s->counter), "certLimit", CERT_LIMIT, "ca",
	    name[0] ? name : NULL, "staff", "login", k->se.id.login, "name",
	    k->se.id.name, "roles", roles_json(k->se.id.roles));
	return done(k, NULL, o);
}

/* The query parameter name into buf (required). */
static int
param(struct gw_console *k, struct in *in, const char *name, char *buf,
    size_t size)
{
	int r = gw_console_param(k, name, buf, size);

	if (r != 0 || buf[0] == '\0') {
		in->bad = name;
		return UK_ERR_INPUT;
	}
	return 0;
}

static enum MHD_Result
r_search(struct gw_console *k)
{
	struct in in;
	struct gw_unit *u = NULL;
	struct gw_operator *o = NULL;
	size_t nu = 0, no = 0, i;
	char raw[GW_NAME_MAX + 1], q[GW_NAME_MAX + 1];
	json_t *au = NULL, *ao = NULL;
	int r;

	memset(&in, 0, sizeof(in));
	in.act = "counter.search";
	/* a blank query is refused as the helpdesk refuses it (UK-1006), not
	 * answered with every unit */
	if ((r = param(k, &in, "q", raw, sizeof(raw))) != 0)
		return fail(k, &in, r);
	if (gw_text_clean(raw, q, sizeof(q)) != 0) {
		in.bad = "q";
		return fail(k, &in, UK_ERR_INPUT);
	}
	if ((r = gw_unit_list(k->st, q, LIST_MAX, &u, &nu)) != 0 ||
	    (r = gw_operator_list(k->st, NULL, q, LIST_MAX, &o, &no)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((au = json_array()) == NULL || (ao = json_array()) == NULL)
		goto out;
	for (i = 0; i < nu; i++)
		json_array_append_new(au, unit_json(&u[i]));
	for (i = 0; i < no; i++)
		json_array_append_new(ao, op_json(&o[i], 1));
	r = 0;
out:
	free(u);
	free(o);
	if (r != 0) {
		json_decref(au);
		json_decref(ao);
		return fail(k, &in, r);
	}
	return done(k, NULL,
	    json_pack("{s:o,s:o}", "units", au, "operators", ao));
}

static enum MHD_Result
r_unit(struct gw_console *k)
{
	struct in in;
	struct gw_unit u;
	struct gw_operator *o = NULL;
	size_t no = 0, i;
	char id[GW_LOGIN_MAX + 1];
	json_t *ao;
	int r;

	memset(&in, 0, sizeof(in));
	in.act = "counter.unit";
	if ((r = param(k, &in, "id", id, sizeof(id))) != 0)
		return fail(k, &in, r);
	snprintf(in.subject, sizeof(in.subject), "unit:%s", id);
	if ((r = gw_unit_get(k->st, id, &u)) != 0) {
		in.bad = "id";
		return fail(k, &in,
		    r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_UNIT_UNKNOWN : r);
	}
	if ((r = gw_operator_list(k->st, u.id, NULL, UNIT_OPS_MAX, &o, &no)) !=
	    0)
		return fail(k, &in, r);
	ao = json_array();
	for (i = 0; ao != NULL && i < no; i++)
		json_array_append_new(ao, op_json(&o[i], 0));
	free(o);
	return done(k, NULL,
	    json_pack("{s:o,s:o,s:o}", "unit", unit_json(&u), "operators", ao,
	        "certificates", certs_json(k, u.id, NULL, 0)));
}

static enum MHD_Result
r_operator(struct gw_console *k)
{
	struct in in;
	struct gw_operator o;
	struct gw_unit u;
	char login[GW_LOGIN_MAX + 1];
	int r;

	memset(&in, 0, sizeof(in));
	in.act = "counter.operator";
	if ((r = param(k, &in, "login", login, sizeof(login))) != 0)
		return fail(k, &in, r);
	snprintf(in.subject, sizeof(in.subject), "operator:%s", login);
	if ((r = gw_operator_find(k->st, login, &o)) != 0) {
		in.bad = "login";
		return fail(k, &in,
		    r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_OPERATOR_UNKNOWN : r);
	}
	if ((r = gw_unit_get(k->st, o.unit, &u)) != 0)
		return fail(k, &in, r);
	return done(k, NULL,
	    json_pack("{s:o,s:o,s:o}", "operator", op_json(&o, 0), "unit",
	        unit_json(&u), "certificates",
	        certs_json(k, o.unit, o.login, o.id)));
}

/* --- units --- */

static enum MHD_Result
a_unit_add(struct gw_console *k)
{
	static const char *const keys[] = { "id", "name", "uscc", NULL };
	const char *id = NULL, *name = NULL, *uscc = NULL;
	struct in in;
	int r;

	if ((r = start(k, &in, "counter.unit.add", keys)) != 0 ||
	    (r = get(k, &in, "id", GW_LOGIN_MAX, 1, &id)) != 0 ||
	    (r = get(k, &in, "name", GW_NAME_MAX, 1, &name)) != 0 ||
	    (r = get(k, &in, "uscc", 18, 0, &uscc)) != 0)
		return fail(k, &in, r);
	snprintf(in.subject, sizeof(in.subject), "unit:%s", id);
	if ((r = gw_unit_add(k->st, &k->actor, id, name, uscc)) != 0) {
		if (r == UK_ERR_ADMIN_INVALID)
			in.bad = gw_login_valid(id) != 0 ? "id"
			    : uscc != NULL               ? "uscc"
			                                 : "name";
		else if (r == UK_ERR_EXISTS)
			in.bad = "id";
		return fail(k, &in, r);
	}
	return done(k, &in, json_pack("{s:s}", "id", id));
}

/* The acts on a unit that take only its id. */
static enum MHD_Result
unit_act(struct gw_console *k, const char *act,
    int (*fn)(struct store *, const struct gw_actor *, const char *))
{
	static const char *const keys[] = { "id", NULL };
	const char *id = NULL;
	struct in in;
	int r;

	if ((r = start(k, &in, act, keys)) != 0 ||
	    (r = get(k, &in, "id", GW_LOGIN_MAX, 1, &id)) != 0)
		return fail(k, &in, r);
	snprintf(in.subject, sizeof(in.subject), "unit:%s", id);
	if ((r = fn(k->st, &k->actor, id)) != 0) {
		if (r == UK_ERR_ADMIN_UNIT_UNKNOWN)
			in.bad = "id";
		return fail(k, &in, r);
	}
	return done(k, &in, json_pack("{s:s}", "id", id));
}

static enum MHD_Result
a_unit_agreement(struct gw_console *k)
{
	return unit_act(k, "counter.unit.agreement", gw_unit_agreement);
}

static enum MHD_Result
a_unit_authorize(struct gw_console *k)
{
	return unit_act(k, "counter.unit.authorize", gw_unit_authorize);
}

static enum MHD_Result
a_unit_revoke_auth(struct gw_console *k)
{
	return unit_act(k, "counter.unit.revoke_authorization",
	    gw_unit_revoke_authorization);
}

/* --- operators --- */

/* Which member a model refusal of operator input is about. */
static const char *
op_bad_field(const char *login, const char *rid, const char *phone,
    const char *roles)
{
	char norm[GW_ROLES_MAX + 1];

	if (login != NULL && gw_login_valid(login) != 0)
		return "login";
	if (rid != NULL && gw_resident_id_valid(rid) != 0)
		return "residentId";
	if (phone != NULL && gw_phone_valid(phone) != 0)
		return "phone";
	if (roles != NULL && gw_roles_normalise(roles, 0, norm) != 0)
		return "roles";
	return "name";
}

static enum MHD_Result
a_op_add(struct gw_console *k)
{
	static const char *const keys[] = { "unit", "login", "name",
		"residentId", "phone", "roles", NULL };
	struct gw_operator_new op;
	struct in in;
	int64_t id = 0;
	int r;

	memset(&op, 0, sizeof(op));
	if ((r = start(k, &in, "counter.operator.add", keys)) != 0 ||
	    (r = get(k, &in, "unit", GW_LOGIN_MAX, 1, &op.unit)) != 0 ||
	    (r = get(k, &in, "login", GW_LOGIN_MAX, 1, &op.login)) != 0 ||
	    (r = get(k, &in, "name", GW_NAME_MAX, 1, &op.name)) != 0 ||
	    (r = get(k, &in, "residentId", 18, 0, &op.resident_id)) != 0 ||
	    (r = get(k, &in, "phone", 20, 0, &op.phone)) != 0 ||
	    (r = get(k, &in, "roles", GW_ROLES_MAX, 0, &op.roles)) != 0)
		return fail(k, &in, r);
	snprintf(in.subject, sizeof(in.subject), "operator:%s", op.login);
	if ((r = gw_operator_add(k->st, &k->actor, &op, &id)) != 0) {
		if (r == UK_ERR_ADMIN_UNIT_UNKNOWN)
			in.bad = "unit";
		else if (r == UK_ERR_ADMIN_LOGIN_TAKEN)
			in.bad = "login";
		else if (r == UK_ERR_ADMIN_INVALID)
			in.bad = op_bad_field(op.login, op.resident_id,
			    op.phone, op.roles);
		return fail(k, &in, r);
	}
	return done(k, &in,
	    json_pack("{s:I,s:s}", "id", (json_int_t)id, "login", op.login));
}

static enum MHD_Result
a_op_change(struct gw_console *k)
{
	static const char *const keys[] = { "login", "name", "phone", "roles",
		NULL };
	const char *name = NULL, *phone = NULL, *roles = NULL;
	struct gw_operator o;
	struct in in;
	int r;

	if ((r = start(k, &in, "counter.operator.change", keys)) != 0 ||
	    (r = find_op(k, &in, &o)) != 0 ||
	    (r = get(k, &in, "name", GW_NAME_MAX, 0, &name)) != 0 ||
	    (r = get(k, &in, "roles", GW_ROLES_MAX, 0, &roles)) != 0)
		return fail(k, &in, r);
	/* phone: "" clears it; roles: "" takes every role away */
	if (json_object_get(k->body, "phone") != NULL &&
	    (r = get(k, &in, "phone", 20, 0, &phone)) == 0 && phone == NULL)
		phone = "";
	if (r != 0)
		return fail(k, &in, r);
	if (roles == NULL && json_object_get(k->body, "roles") != NULL)
		roles = "";
	if (name == NULL && phone == NULL && roles == NULL) {
		in.bad = "name";
		return fail(k, &in, UK_ERR_INPUT);
	}
	if ((r = gw_operator_change(k->st, &k->actor, o.id, name, phone,
	         roles)) != 0) {
		if (r == UK_ERR_ADMIN_INVALID)
			in.bad = op_bad_field(NULL, NULL,
			    phone != NULL && *phone ? phone : NULL, roles);
		return fail(k, &in, r);
	}
	return done(k, &in, json_pack("{s:s}", "login", o.login));
}

/* The acts on an operator that take only the login. */
static enum MHD_Result
op_act(struct gw_console *k, const char *act,
    int (*fn)(struct store *, const struct gw_actor *, int64_t))
{
	static const char *const keys[] = { "login", NULL };
	struct gw_operator o;
	struct in in;
	int r;

	if ((r = start(k, &in, act, keys)) != 0 ||
	    (r = find_op(k, &in, &o)) != 0)
		return fail(k, &in, r);
	if ((r = fn(k->st, &k->actor, o.id)) != 0)
		return fail(k, &in, r);
	return done(k, &in, json_pack("{s:s}", "login", o.login));
}

static enum MHD_Result
a_op_leave(struct gw_console *k)
{
	return op_act(k, "counter.operator.leave", gw_operator_leave);
}

static enum MHD_Result
a_op_disable(struct gw_console *k)
{
	return op_act(k, "counter.operator.disable", gw_operator_disable);
}

static enum MHD_Result
a_op_enable(struct gw_console *k)
{
	return op_act(k, "counter.operator.enable", gw_operator_enable);
}

static enum MHD_Result
a_op_unfreeze(struct gw_console *k)
{
	return op_act(k, "counter.operator.unfreeze", gw_operator_unfreeze);
}

static enum MHD_Result
a_op_unbind_wechat(struct gw_console *k)
{
	static const char *const keys[] = { "login", NULL };
	struct gw_operator o;
	struct in in;
	int r;

	if ((r = start(k, &in, "counter.operator.unbind_wechat", keys)) != 0 ||
	    (r = find_op(k, &in, &o)) != 0)
		return fail(k, &in, r);
	if (o.openid[0] == '\0')
		return fail(k, &in, UK_ERR_NOT_FOUND);
	if ((r = gw_operator_bind_openid(k->st, &k->actor, o.id, NULL)) != 0)
		return fail(k, &in, r);
	return done(k, &in, json_pack("{s:s}", "login", o.login));
}

/* A strong temporary password: TEMP_PW_LEN characters without look-alikes
 * (no 0 O 1 l I), with letters and digits (gw_password_policy). */
static int
temp_password(struct secret **out)
{
	static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	                          "abcdefghijkmnpqrstuvwxyz"
	                          "23456789";
	struct secret *pw;
	uint32_t v = 0;
	int r, letters, digits, i;

	*out = NULL;
	if ((pw = secret_new(TEMP_PW_LEN + 1)) == NULL)
		return UK_ERR_NOMEM;
	do {
		letters = digits = 0;
		for (i = 0; i < TEMP_PW_LEN; i++) {
			if ((r = rnd_uniform(sizeof(set) - 1, &v)) != 0) {
				secret_free(pw);
				return r;
			}
			pw->buf[i] = (unsigned char)set[v];
			if (isdigit((unsigned char)set[v]))
				digits++;
			else
				letters++;
		}
	} while (letters < 2 || digits < 2);
	pw->buf[TEMP_PW_LEN] = '\0';
	pw->len = TEMP_PW_LEN;
	v = 0;
	*out = pw;
	return 0;
}

static enum MHD_Result
a_op_reset(struct gw_console *k)
{
	static const char *const keys[] = { "login", NULL };
	struct gw_operator o;
	struct secret *pw = NULL;
	struct in in;
	json_t *p = NULL, *body = NULL;
	char *pjs = NULL, phone[21];
	const char *reason = NULL;
	enum MHD_Result ret;
	int r;

	if ((r = start(k, &in, "counter.operator.reset_password", keys)) != 0 ||
	    (r = find_op(k, &in, &o)) != 0)
		return fail(k, &in, r);
	if ((r = temp_password(&pw)) != 0)
		return fail(k, &in, r);
	if ((r = gw_operator_set_password(k->st, &k->actor, o.id, pw, 1)) !=
	    0) {
		secret_free(pw);
		return fail(k, &in, r);
	}
	/* The password is set: from here on it is handed over one way or the
	 * other, never lost. */
	if (o.phone[0] == '\0')
		reason = "no_phone";
	else if (!gw_counter_sms(k->s->counter))
		reason = "sms_off";
	else if ((p = json_pack("{s:s,s:s}", "login", o.login, "password",
	              (const char *)pw->buf)) == NULL ||
	    (pjs = json_dumps(p, JSON_COMPACT)) == NULL ||
	    gw_sms_enqueue(k->st, o.phone, SMS_TPL_TEMP_PASSWORD, pjs, k->now,
	        k->now + TEMP_PW_TTL, NULL) != 0) {
		reason = "sms_failed";
		uk_log(UK_LOG_WARN,
		    "counter: the temporary password of %s could not be "
		    "queued for SMS; shown to the clerk",
		    o.login);
	}
	if (pjs != NULL) {
		OPENSSL_cleanse(pjs, strlen(pjs));
		free(pjs);
	}
	json_decref(p);
	if (reason == NULL) {
		gw_mask_phone(o.phone, phone, sizeof(phone));
		body = json_pack("{s:s,s:s,s:s}", "login", o.login, "delivery",
		    "sms", "phone", phone);
	} else
		body = json_pack("{s:s,s:s,s:s,s:s}", "login", o.login,
		    "delivery", "clerk", "reason", reason, "temporaryPassword",
		    (const char *)pw->buf);
	secret_free(pw);
	ret = done(k, &in, body);
	return ret;
}

/* --- certificates --- */

/* The CSR of member "csr": PEM text, or DER in base64. */
static int
get_csr(struct gw_console *k, struct in *in, struct ca_csr **out)
{
	const char *v = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	char err[256];
	int r;

	*out = NULL;
	if (json_get_string(k->body, "csr", CA_CSR_MAX * 2, &v) != 0 ||
	    *v == '\0') {
		in->bad = "csr";
		return UK_ERR_INPUT;
	}
	if (strstr(v, "-----BEGIN") != NULL)
		r = ca_csr_parse(v, strlen(v), 2048, out, err, sizeof(err));
	else if ((r = b64_decode(v, CA_CSR_MAX * 2, 0, &der, &len)) == 0)
		r = ca_csr_parse(der, len, 2048, out, err, sizeof(err));
	else
		r = UK_ERR_CSR_MALFORMED;
	free(der);
	if (r != 0)
		in->bad = "csr";
	return r;
}

/* The CSR's subject (already filtered to CN, O, OU, C, serialNumber by
 * certs/csr.c) may name only the operator the certificate is for: each
 * attribute is the CN equal to login (any case) or the OU equal to unit, at
 * most one of each; an empty subject is fine. Anything else (another
 * person's name, an O, a serialNumber that could carry an ID number) is
 * refused with UK_ERR_CSR_REQUEST: what the certificate names comes from
 * the register, never from the requester. */
static int
csr_names_operator(struct in *in, const struct ca_csr *csr, const char *login,
    const char *unit)
{
	const X509_NAME *n = ca_csr_subject(csr);
	const X509_NAME_ENTRY *e;
	unsigned char *v = NULL;
	int i, nid, len, cn = 0, ou = 0, ok = 1;

	for (i = 0; ok && n != NULL && i < X509_NAME_entry_count(n); i++) {
		e = X509_NAME_get_entry(n, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if ((len = ASN1_STRING_to_UTF8(&v,
		         X509_NAME_ENTRY_get_data(e))) < 0) {
			ok = 0;
			break;
		}
		if (nid == NID_commonName && cn++ == 0)
			ok = (size_t)len == strlen(login) &&
			    strncasecmp((const char *)v, login, (size_t)len) ==
			        0;
		else if (nid == NID_organizationalUnitName && ou++ == 0)
			ok = (size_t)len == strlen(unit) &&
			    memcmp(v, unit, (size_t)len) == 0;
		else
			ok = 0;
		OPENSSL_free(v);
		v = NULL;
	}
	ERR_clear_error();
	if (!ok) {
		in->bad = "csr";
		return UK_ERR_CSR_REQUEST;
	}
	return 0;
}

/* The operator a certificate is issued for may have one: active, in an
 * active unit. */
static int
op_may_hold(struct gw_console *k, const struct gw_operator *o)
{
	struct gw_unit u;
	int r;

	if (strcmp(o->status, "left") == 0)
		return UK_ERR_ADMIN_OPERATOR_LEFT;
	if (strcmp(o->status, "active") != 0)
		return UK_ERR_ADMIN_OPERATOR_DISABLED;
	if ((r = gw_unit_get(k->st, o->unit, &u)) != 0)
		return r == UK_ERR_NOT_FOUND ? UK_ERR_ADMIN_UNIT_UNKNOWN : r;
	if (strcmp(u.status, "active") != 0)
		return UK_ERR_ADMIN_UNIT_CLOSED;
	return 0;
}

/* Appends the counter's audit row of a certificate act done by the CA
 * (whose own row is ca_event): the form, serial and operator. */
static int
cert_audit(struct gw_console *k, struct in *in, const char *serial,
    const char *replaces, const char *ca_event)
{
	struct audit_event ev;
	json_t *d;
	char *detail = NULL;
	int r = UK_ERR_NOMEM;

	d = json_pack("{s:s,s:s,s:s?,s:s?}", "form", in->form, "serial", serial,
	    "replaces", replaces, "ca_event", ca_event);
	if (d != NULL &&
	    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.event = in->act;
		ev.actor = k->who;
		ev.subject = in->subject;
		ev.detail = detail;
		ev.ip = k->rq->ip;
		ev.user_agent = k->rq->ua;
		ev.result = "ok";
		r = audit_append_ex(k->st, &ev, in->ev);
	}
	json_decref(d);
	free(detail);
	if (r != 0)
		uk_log_err(r,
		    "counter: %s of %s done, but its form %s was not "
		    "audited (the CA's event %s has the act)",
		    in->act, serial, in->form,
		    ca_event != NULL ? ca_event : "-");
	return r;
}

/* The answer of an issuance. */
static json_t *
issued_json(const struct ca_issued *is, int active)
{
	unsigned char *der = NULL;
	char *b64 = NULL, *pem = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	json_t *o = NULL;
	int len;

	if ((len = i2d_X509(is->cert, &der)) <= 0)
		goto out;
	if ((b64 = b64_encode(der, (size_t)len, 0)) == NULL)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, is->cert) != 1 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 ||
	    (pem = strndup(mem->data, mem->length)) == NULL)
		goto out;
	o = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:i}", "serial", is->serial,
	    "notBefore", (json_int_t)is->not_before, "notAfter",
	    (json_int_t)is->not_after, "certificate", pem, "der", b64,
	    "caEvent", is->event_id, "activeCerts", active);
out:
	OPENSSL_free(der);
	free(b64);
	free(pem);
	BIO_free(bio);
	return o;
}

/* The unit's active certificates now. */
static int
active_certs(struct gw_console *k, const char *unit)
{
	struct gw_unit u;

	return gw_unit_get(k->st, unit, &u) == 0 ? u.active_certs : -1;
}

static enum MHD_Result
a_cert_issue(struct gw_console *k)
{
	static const char *const keys[] = { "login", "csr", NULL };
	struct ca_issue_req req;
	struct ca_issued is;
	struct ca_csr *csr = NULL;
	struct gw_operator o;
	struct in in;
	struct ca *ca;
	json_t *body;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = start(k, &in, "counter.cert.issue", keys)) != 0 ||
	    (r = find_op(k, &in, &o)) != 0)
		return fail(k, &in, r);
	if (!gw_counter_enabled(k->s->counter))
		return fail(k, &in, UK_ERR_COUNTER_DISABLED);
	if ((r = op_may_hold(k, &o)) != 0) {
		in.bad = "login";
		return fail(k, &in, r);
	}
	if ((r = get_csr(k, &in, &csr)) != 0 ||
	    (r = csr_names_operator(&in, csr, o.login, o.unit)) != 0) {
		ca_csr_free(csr);
		return fail(k, &in, r);
	}
	memset(&req, 0, sizeof(req));
	req.unit = o.unit;
	req.operator= o.login;
	req.profile = CA_PROFILE_OPERATOR;
	req.actor = k->who;
	/* The CSR proved possession of its key (its signature was checked by
	 * ca_csr_parse); the subject is the CA's own "CN=<login>, OU=<unit>"
	 * from the register (subject NULL), whatever the CSR said. */
	if ((ca = gw_counter_take(k->s->counter)) == NULL)
		r = UK_ERR_CA_NOT_INITIALISED;
	else if ((r = ca_issue_key(ca, ca_csr_pubkey(csr), NULL, &req, &is)) !=
	    0)
		uk_log(UK_LOG_INFO, "counter: issue for %s refused: %s (%s)",
		    o.login, uk_error_id(r), ca_errmsg(ca));
	gw_counter_release(k->s->counter);
	ca_csr_free(csr);
	if (r != 0)
		return fail(k, &in, r);
	(void)cert_audit(k, &in, is.serial, NULL, is.event_id);
	body = issued_json(&is, active_certs(k, o.unit));
	ca_issued_clear(&is);
	return done(k, &in, body);
}

/* The certificate of member "serial": an operator's, from our CA. */
static int
find_cert(struct gw_console *k, struct in *in, char sn[CA_SERIAL_HEX_MAX],
    struct gw_operator *o)
{
	struct ca_cert_info *ci = NULL;
	const char *v;
	struct ca *ca;
	int r;

	if ((r = get(k, in, "serial", 64, 1, &v)) != 0)
		return r;
	if (ca_serial_normalise(v, sn) != 0) {
		in->bad = "serial";
		return UK_ERR_INPUT;
	}
	snprintf(in->subject, sizeof(in->subject), "cert:%s", sn);
	if ((ca = gw_counter_take(k->s->counter)) == NULL)
		r = UK_ERR_CA_NOT_INITIALISED;
	else
		r = ca_show(ca, sn, &ci);
	gw_counter_release(k->s->counter);
	if (r != 0) {
		in->bad = "serial";
		return r;
	}
	r = 0;
	if (ci->profile == NULL || strcmp(ci->profile, "operator") != 0 ||
	    ci->operator== NULL || ci->unit_id == NULL) {
		in->bad = "serial";
		r = UK_ERR_POLICY_DENIED; /* staff and OCSP: ukey-ca only */
	} else if (gw_operator_find(k->st, ci->operator, o) != 0 ||
	    strcmp(o->unit, ci->unit_id) != 0) {
		/* issued by ukey-ca for a login nobody registered */
		memset(o, 0, sizeof(*o));
		snprintf(o->login, sizeof(o->login), "%s", ci->operator);
		snprintf(o->unit, sizeof(o->unit), "%s", ci->unit_id);
	}
	if (r == 0)
		snprintf(in->subject, sizeof(in->subject), "operator:%s",
		    ci->operator);
	ca_cert_info_free(ci, 1);
	return r;
}

static enum MHD_Result
a_cert_revoke(struct gw_console *k)
{
	static const char *const keys[] = { "serial", "reason", NULL };
	char sn[CA_SERIAL_HEX_MAX], ev[33] = "";
	struct gw_operator o;
	const char *rs;
	struct in in;
	struct ca *ca;
	int r, reason = 0;

	if ((r = start(k, &in, "counter.cert.revoke", keys)) != 0)
		return fail(k, &in, r);
	if (!gw_counter_enabled(k->s->counter))
		return fail(k, &in, UK_ERR_COUNTER_DISABLED);
	if ((r = get(k, &in, "reason", 32, 1, &rs)) != 0)
		return fail(k, &in, r);
	if (ca_reason_parse(rs, &reason) != 0) {
		in.bad = "reason";
		return fail(k, &in, UK_ERR_CA_REASON);
	}
	if ((r = find_cert(k, &in, sn, &o)) != 0)
		return fail(k, &in, r);
	if ((ca = gw_counter_take(k->s->counter)) == NULL)
		r = UK_ERR_CA_NOT_INITIALISED;
	else
		r = ca_revoke(ca, sn, reason, k->who, ev);
	gw_counter_release(k->s->counter);
	if (r != 0)
		return fail(k, &in, r);
	(void)cert_audit(k, &in, sn, NULL, ev);
	return done(k, &in,
	    json_pack("{s:s,s:s,s:s,s:i}", "serial", sn, "reason",
	        ca_reason_name(reason), "caEvent", ev, "activeCerts",
	        active_certs(k, o.unit)));
}

static enum MHD_Result
a_cert_reissue(struct gw_console *k)
{
	static const char *const keys[] = { "serial", "csr", NULL };
	char sn[CA_SERIAL_HEX_MAX];
	struct ca_csr *csr = NULL;
	struct ca_issued is;
	struct gw_operator o;
	struct in in;
	struct ca *ca;
	json_t *body;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = start(k, &in, "counter.cert.reissue", keys)) != 0)
		return fail(k, &in, r);
	if (!gw_counter_enabled(k->s->counter))
		return fail(k, &in, UK_ERR_COUNTER_DISABLED);
	if ((r = find_cert(k, &in, sn, &o)) != 0)
		return fail(k, &in, r);
	if (o.id == 0)
		r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
	else
		r = op_may_hold(k, &o);
	if (r != 0) {
		in.bad = "serial";
		return fail(k, &in, r);
	}
	/* ca_reissue keeps the CSR's (filtered) subject: it may name only
	 * this operator and unit. */
	if ((r = get_csr(k, &in, &csr)) != 0 ||
	    (r = csr_names_operator(&in, csr, o.login, o.unit)) != 0) {
		ca_csr_free(csr);
		return fail(k, &in, r);
	}
	if ((ca = gw_counter_take(k->s->counter)) == NULL)
		r = UK_ERR_CA_NOT_INITIALISED;
	else
		r = ca_reissue(ca, sn, csr, k->who, &is);
	gw_counter_release(k->s->counter);
	ca_csr_free(csr);
	if (r != 0)
		return fail(k, &in, r);
	(void)cert_audit(k, &in, is.serial, sn, is.event_id);
	body = issued_json(&is, active_certs(k, o.unit));
	if (body != NULL)
		json_object_set_new(body, "replaces", json_string(sn));
	ca_issued_clear(&is);
	return done(k, &in, body);
}

/* --- the UKey acts done through the counter PC's agent --- */

static enum MHD_Result
a_ukey(struct gw_console *k)
{
	static const char *const keys[] = { "act", "stage", "token", "login",
		"serial", "outcome", NULL };
	const char *act = NULL, *stage = NULL, *token = NULL, *login = NULL,
	           *serial = NULL, *outcome = NULL;
	struct audit_event ev;
	struct gw_operator o;
	char name[40], *detail = NULL;
	struct in in;
	json_t *d;
	size_t i;
	int r;

	if ((r = start(k, &in, "counter.ukey", keys)) != 0 ||
	    (r = get(k, &in, "act", 16, 1, &act)) != 0 ||
	    (r = get(k, &in, "stage", 8, 1, &stage)) != 0 ||
	    (r = get(k, &in, "token", 16, 0, &token)) != 0 ||
	    (r = get(k, &in, "login", GW_LOGIN_MAX, 0, &login)) != 0 ||
	    (r = get(k, &in, "serial", 64, 0, &serial)) != 0 ||
	    (r = get(k, &in, "outcome", 16, 0, &outcome)) != 0)
		return fail(k, &in, r);
	if (strcmp(act, "unblock") != 0 && strcmp(act, "install") != 0) {
		in.bad = "act";
		return fail(k, &in, UK_ERR_INPUT);
	}
	if (strcmp(stage, "start") != 0 && strcmp(stage, "done") != 0) {
		in.bad = "stage";
		return fail(k, &in, UK_ERR_INPUT);
	}
	for (i = 0; token != NULL && token[i] != '\0'; i++)
		if (!isxdigit((unsigned char)token[i])) {
			in.bad = "token";
			return fail(k, &in, UK_ERR_INPUT);
		}
	if (strcmp(stage, "done") == 0 &&
	    (outcome == NULL ||
	        (strcmp(outcome, "ok") != 0 &&
	            (strncmp(outcome, "UK-", 3) != 0 || strlen(outcome) != 7 ||
	                strspn(outcome + 3, "0123456789") != 4)))) {
		in.bad = "outcome";
		return fail(k, &in, UK_ERR_INPUT);
	}
	snprintf(in.subject, sizeof(in.subject), "ukey:%s",
	    token != NULL ? token : "-");
	if (login != NULL) {
		if (gw_operator_find(k->st, login, &o) != 0) {
			in.bad = "login";
			return fail(k, &in, UK_ERR_ADMIN_OPERATOR_UNKNOWN);
		}
		snprintf(in.subject, sizeof(in.subject), "operator:%s",
		    o.login);
	}
	snprintf(name, sizeof(name), "counter.ukey.%s", act);
	d = json_pack("{s:s,s:s,s:s?,s:s?}", "form", in.form, "stage", stage,
	    "token", token, "serial", serial);
	if (d == NULL ||
	    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(d);
		return fail(k, &in, UK_ERR_NOMEM);
	}
	json_decref(d);
	memset(&ev, 0, sizeof(ev));
	ev.event = name;
	ev.actor = k->who;
	ev.subject = in.subject;
	ev.detail = detail;
	ev.ip = k->rq->ip;
	ev.user_agent = k->rq->ua;
	ev.result = strcmp(stage, "start") == 0 ? "ok" : outcome;
	r = audit_append_ex(k->st, &ev, in.ev);
	free(detail);
	if (r != 0)
		return fail(k, &in, r);
	return done(k, &in, NULL);
}

/* --- dispatch --- */

static const struct {
	const char *sub;
	int post;
	enum MHD_Result (*fn)(struct gw_console *k);
} acts[] = {
	{ "status", 0, r_status },
	{ "search", 0, r_search },
	{ "unit", 0, r_unit },
	{ "operator", 0, r_operator },
	{ "unit/add", 1, a_unit_add },
	{ "unit/agreement", 1, a_unit_agreement },
	{ "unit/authorize", 1, a_unit_authorize },
	{ "unit/revoke-authorization", 1, a_unit_revoke_auth },
	{ "operator/add", 1, a_op_add },
	{ "operator/change", 1, a_op_change },
	{ "operator/leave", 1, a_op_leave },
	{ "operator/disable", 1, a_op_disable },
	{ "operator/enable", 1, a_op_enable },
	{ "operator/unfreeze", 1, a_op_unfreeze },
	{ "operator/reset-password", 1, a_op_reset },
	{ "operator/unbind-wechat", 1, a_op_unbind_wechat },
	{ "cert/issue", 1, a_cert_issue },
	{ "cert/revoke", 1, a_cert_revoke },
	{ "cert/reissue", 1, a_cert_reissue },
	{ "ukey", 1, a_ukey },
};

enum MHD_Result
gw_counter_api(struct gw_console *k)
{
	int post = strcmp(k->rq->method, "POST") == 0;
	size_t i;

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		if (strcmp(k->sub, acts[i].sub) != 0)
			continue;
		if (acts[i].post != post)
			return gw_console_error(k, UK_ERR_METHOD, NULL, NULL);
		return acts[i].fn(k);
	}
	return gw_console_error(k, UK_ERR_NO_ROUTE, NULL, NULL);
}
