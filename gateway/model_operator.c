/* gateway/model_operator.c: unit operators in the store: registration, changes, leaving, passwords, freezes, WeChat binding, sessions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/model_int.h"
#include "gateway/pwhash.h"

static struct gw_pwhash_params pw_params;
static int pw_params_set;

void
gw_model_set_pwhash(const struct gw_pwhash_params *p)
{
	if (p == NULL) {
		pw_params_set = 0;
		return;
	}
	pw_params = *p;
	pw_params_set = 1;
}

static const struct gw_pwhash_params *
pwhash_params(void)
{
	if (!pw_params_set) {
		gw_pwhash_defaults(&pw_params);
		pw_params_set = 1;
	}
	return &pw_params;
}

#define OP_COLS                                                                \
	"id, login, unit_id, name, resident_id, phone, wechat_openid, roles, " \
	"status, pw_hash IS NOT NULL, pw_must_change, fail_count, fail_day, "  \
	"frozen_until, created_at, left_at"

static void
op_row(const struct store_res *res, size_t i, void *out)
{
	struct gw_operator *o = out;
	const char *has = store_res_text(res, i, 9);

	memset(o, 0, sizeof(*o));
	o->id = store_res_int(res, i, 0);
	gw_model_copy(o->login, sizeof(o->login), store_res_text(res, i, 1));
	gw_model_copy(o->unit, sizeof(o->unit), store_res_text(res, i, 2));
	gw_model_copy(o->name, sizeof(o->name), store_res_text(res, i, 3));
	gw_model_copy(o->resident_id, sizeof(o->resident_id),
	    store_res_text(res, i, 4));
	gw_model_copy(o->phone, sizeof(o->phone), store_res_text(res, i, 5));
	gw_model_copy(o->openid, sizeof(o->openid), store_res_text(res, i, 6));
	gw_model_copy(o->roles, sizeof(o->roles), store_res_text(res, i, 7));
	gw_model_copy(o->status, sizeof(o->status), store_res_text(res, i, 8));
	/* SQLite answers 1/0, PostgreSQL t/f */
	o->has_password = has != NULL && (has[0] == '1' || has[0] == 't');
	o->pw_must_change = store_res_int(res, i, 10) != 0;
	o->fail_count = (int)store_res_int(res, i, 11);
	o->fail_day = store_res_int(res, i, 12);
	o->frozen_until = store_res_int(res, i, 13);
	o->created_at = store_res_int(res, i, 14);
	o->left_at = store_res_int(res, i, 15);
}

/* Reads operator id inside the open transaction, locking its row. */
static int
op_lock(struct store *st, int64_t id, struct gw_operator *o)
{
	struct store_res *res = NULL;
	int r;

	if ((r = store_exec(st, &res,
	         "SELECT " OP_COLS " FROM operators WHERE id = ? FOR UPDATE",
	         "i", id)) != 0)
		goto out;
	if ((r = gw_model_one(res, op_row, o)) == UK_ERR_NOT_FOUND)
		r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
out:
	store_res_free(res);
	return r;
}

/* Checks a resident ID and writes it normalised (blanks at the ends
 * dropped, capital X) to out: "" when in is NULL or blank (none). */
static int
resident_norm(const char *in, char out[19])
{
	char v[19];
	int r;

	out[0] = '\0';
	if ((r = gw_text_clean(in, v, sizeof(v))) == UK_ERR_NOT_FOUND)
		return 0;
	if (r != 0 || gw_resident_id_valid(v) != 0)
		return UK_ERR_ADMIN_INVALID;
	gw_model_upper(out, 19, v);
	return 0;
}

/* Checks a phone number and writes it without the blanks at its ends to
 * out: "" when in is NULL or blank (none). */
static int
phone_norm(const char *in, char out[21])
{
	int r;

	if ((r = gw_text_clean(in, out, 21)) == UK_ERR_NOT_FOUND)
		return 0;
	if (r != 0 || gw_phone_valid(out) != 0)
		return UK_ERR_ADMIN_INVALID;
	return 0;
}

/* The operator gw_operator_add registers, checked and normalised, and where
 * its id goes. */
struct op_new {
	const struct gw_operator_new *op;
	char login_lc[GW_LOGIN_MAX + 1], login_uc[GW_LOGIN_MAX + 1];
	char name[GW_NAME_MAX + 1], phone[21];
	char unit[GW_LOGIN_MAX + 1]; /* the unit's own spelling of its id */
	char rid[19], rid_lc[19], roles[GW_ROLES_MAX + 1];
	const char *phc; /* the password's hash; NULL: none */
	int64_t *id_out; /* NULL: not wanted */
};

static int
op_insert(struct store *st, const struct gw_actor *a, void *arg,
    struct gw_model_entry *e)
{
	struct op_new *n = arg;
	const struct gw_operator_new *op = n->op;
	struct store_res *res = NULL;
	int64_t now, id;
	int r;

	(void)a;
	/* the unit by its id in any case (gw_unit_get) */
	if ((r = store_exec(st, &res,
	         "SELECT id FROM units WHERE lower(id) = lower(?) "
	         "ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1",
	         "tt", op->unit, op->unit)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_ADMIN_UNIT_UNKNOWN;
		goto out;
	}
	gw_model_copy(n->unit, sizeof(n->unit), store_res_text(res, 0, 0));
	store_res_free(res);
	res = NULL;
	/* a login may not be someone's resident ID, nor the reverse, so that
	 * gw_operator_find is never ambiguous */
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM operators WHERE login_lc = ? OR "
	         "resident_id = ? OR login_lc = ? OR resident_id = ?",
	         "tttt", n->login_lc, n->login_uc, n->rid[0] ? n->rid_lc : NULL,
	         n->rid[0] ? n->rid : NULL)) != 0)
		goto out;
	if (store_res_int(res, 0, 0) != 0) {
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
		goto out;
	}
	store_res_free(res);
	res = NULL;
	now = (int64_t)time(NULL);
	r = store_exec(st, &res,
	    "INSERT INTO operators (login, login_lc, unit_id, name, "
	    "resident_id, phone, roles, status, pw_hash, pw_must_change, "
	    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?) "
	    "RETURNING id",
	    "ttttttttii", op->login, n->login_lc, n->unit, n->name,
	    n->rid[0] ? n->rid : NULL, n->phone[0] ? n->phone : NULL, n->roles,
	    n->phc, (int64_t)(n->phc != NULL && op->must_change), now);
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
	if (r != 0)
		goto out;
	id = store_res_int(res, 0, 0);
	if (n->phc != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET pw_changed_at = ? WHERE id = ?", "ii",
	         now, id)) != 0)
		goto out;
	if (n->id_out != NULL)
		*n->id_out = id;
	e->event = "admin.operator.add";
	snprintf(e->subject, sizeof(e->subject), "operator:%s", op->login);
	e->key = "unit";
	e->value = n->unit;
out:
	store_res_free(res);
	return r;
}

int
gw_operator_add(struct store *st, const struct gw_actor *a,
    const struct gw_operator_new *op, int64_t *id_out)
{
	struct op_new n;
	char *phc = NULL;
	int r;

	if (id_out != NULL)
		*id_out = 0;
	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	memset(&n, 0, sizeof(n));
	n.op = op;
	n.id_out = id_out;
	r = UK_ERR_ADMIN_INVALID;
	if (op == NULL || gw_login_valid(op->login) != 0 || op->unit == NULL ||
	    gw_text_clean(op->name, n.name, sizeof(n.name)) != 0)
		goto out;
	if (resident_norm(op->resident_id, n.rid) != 0)
		goto out;
	if (phone_norm(op->phone, n.phone) != 0)
		goto out;
	if (gw_roles_normalise(op->roles != NULL ? op->roles : "", 0,
	        n.roles) != 0)
		goto out;
	gw_model_lower(n.login_lc, sizeof(n.login_lc), op->login);
	gw_model_upper(n.login_uc, sizeof(n.login_uc), op->login);
	gw_model_lower(n.rid_lc, sizeof(n.rid_lc), n.rid);
	if (op->password != NULL) {
		if ((r = gw_password_policy(op->password, op->login, n.rid)) !=
		    0)
			goto out;
		if ((r = gw_pwhash(pwhash_params(), op->password, &phc)) != 0)
			goto out;
	}
	n.phc = phc;
	r = gw_model_change(st, a, op_insert, &n);
out:
	free(phc);
	return r;
}

int
gw_operator_get(struct store *st, int64_t id, struct gw_operator *out)
{
	struct store_res *res = NULL;
	int r;

	if (st == NULL || out == NULL)
		return UK_ERR_INPUT;
	r = store_exec(st, &res,
	    "SELECT " OP_COLS " FROM operators WHERE id = ?", "i", id);
	return gw_model_one_end(r, res, op_row, out);
}

int
gw_operator_find(struct store *st, const char *login_or_id,
    struct gw_operator *out)
{
	struct store_res *res = NULL;
	char lc[GW_LOGIN_MAX + 1], uc[GW_LOGIN_MAX + 1];
	int r;

	if (st == NULL || login_or_id == NULL || out == NULL)
		return UK_ERR_INPUT;
	if (*login_or_id == '\0' || strlen(login_or_id) > GW_LOGIN_MAX)
		return UK_ERR_NOT_FOUND;
	gw_model_lower(lc, sizeof(lc), login_or_id);
	gw_model_upper(uc, sizeof(uc), login_or_id);
	r = store_exec(st, &res,
	    "SELECT " OP_COLS " FROM operators WHERE login_lc = ? OR "
	    "resident_id = ? ORDER BY id LIMIT 2",
	    "tt", lc, uc);
	return gw_model_one_end(r, res, op_row, out);
}

int
gw_operator_list(struct store *st, const char *unit, const char *q, size_t max,
    struct gw_operator **out, size_t *n)
{
	struct store_res *res = NULL;
	char *pat = NULL;
	void *v = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL)
		return UK_ERR_INPUT;
	if ((r = gw_model_search(q, &max, &pat)) != 0)
		return r;
	r = store_exec(st, &res,
	    "SELECT " OP_COLS " FROM operators WHERE "
	    "(? IS NULL OR lower(unit_id) = lower(?)) AND ("
	    "login_lc LIKE lower(?) ESCAPE '\\' OR "
	    "lower(name) LIKE lower(?) ESCAPE '\\' OR "
	    "coalesce(resident_id, '') LIKE upper(?) ESCAPE '\\' OR "
	    "coalesce(phone, '') LIKE ? ESCAPE '\\') "
	    "ORDER BY unit_id, login_lc LIMIT ?",
	    "tttttti", unit, unit, pat, pat, pat, pat, (int64_t)max);
	if ((r = gw_model_rows_end(r, res, op_row, sizeof(**out), &v, n)) == 0)
		*out = v; /* transferred */
	free(pat);
	return r;
}

/* A change to one operator, done on o, the locked row; sets the audit
 * detail (e->key, e->value). */
typedef int op_apply_fn(struct store *st, const struct gw_operator *o,
    const void *arg, struct gw_model_entry *e);

/* What op_run runs: the operator, the audit event and the change. */
struct op_run_arg {
	int64_t id;
	const char *event;
	op_apply_fn *apply;
	const void *arg;
	struct gw_operator o; /* the locked row, for the audit detail */
};

static int
op_run_apply(struct store *st, const struct gw_actor *a, void *arg,
    struct gw_model_entry *e)
{
	struct op_run_arg *ra = arg;
	int r;

	(void)a;
	if ((r = op_lock(st, ra->id, &ra->o)) != 0)
		return r;
	if (strcmp(ra->o.status, "left") == 0)
		return UK_ERR_ADMIN_OPERATOR_LEFT;
	if ((r = ra->apply(st, &ra->o, ra->arg, e)) != 0)
		return r;
	e->event = ra->event;
	snprintf(e->subject, sizeof(e->subject), "operator:%s", ra->o.login);
	return 0;
}

/* Runs one change to operator id with its audit row (event): locks the row,
 * refuses an operator who left (UK_ERR_ADMIN_OPERATOR_LEFT), then
 * apply(st, o, arg, e). The actor is checked by the caller. */
static int
op_run(struct store *st, const struct gw_actor *a, int64_t id,
    const char *event, op_apply_fn *apply, const void *arg)
{
	struct op_run_arg ra;

	memset(&ra, 0, sizeof(ra));
	ra.id = id;
	ra.event = event;
	ra.apply = apply;
	ra.arg = arg;
	return gw_model_change(st, a, op_run_apply, &ra);
}

/* The new name, phone and roles (NULL: unchanged; phone "": none),
 * checked and trimmed, and which changed. */
struct op_fields {
	const char *name, *phone, *roles;
	char what[32];
	char name_buf[GW_NAME_MAX + 1], phone_buf[21];
	char roles_buf[GW_ROLES_MAX + 1];
};

static int
op_change_apply(struct store *st, const struct gw_operator *o, const void *arg,
    struct gw_model_entry *e)
{
	const struct op_fields *f = arg;
	int r;

	if (f->name != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET name = ? WHERE id = ?", "ti", f->name,
	         o->id)) != 0)
		return r;
	if (f->phone != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET phone = ? WHERE id = ?", "ti",
	         *f->phone != '\0' ? f->phone : NULL, o->id)) != 0)
		return r;
	if (f->roles != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET roles = ? WHERE id = ?", "ti", f->roles,
	         o->id)) != 0)
		return r;
	e->key = "changed";
	e->value = f->what;
	return 0;
}

int
gw_operator_change(struct store *st, const struct gw_actor *a, int64_t id,
    const char *name, const char *phone, const char *roles)
{
	struct op_fields f;
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	memset(&f, 0, sizeof(f));
	if (name != NULL &&
	    gw_text_clean(name, f.name_buf, sizeof(f.name_buf)) != 0)
		return UK_ERR_ADMIN_INVALID;
	if (phone != NULL && phone_norm(phone, f.phone_buf) != 0)
		return UK_ERR_ADMIN_INVALID;
	if (roles != NULL && gw_roles_normalise(roles, 0, f.roles_buf) != 0)
		return UK_ERR_ADMIN_INVALID;
	if (name == NULL && phone == NULL && roles == NULL)
		return UK_ERR_ADMIN_INVALID;
	f.name = name != NULL ? f.name_buf : NULL;
	f.phone = phone != NULL ? f.phone_buf : NULL;
	f.roles = roles != NULL ? f.roles_buf : NULL;
	snprintf(f.what, sizeof(f.what), "%s%s%s", name != NULL ? "name " : "",
	    phone != NULL ? "phone " : "", roles != NULL ? "roles " : "");
	f.what[strlen(f.what) - 1] = '\0';
	return op_run(st, a, id, "admin.operator.change", op_change_apply, &f);
}

int
gw_sessions_revoke_all(struct store *st, const char *kind, int64_t principal_id,
    int64_t now)
{
	if (st == NULL || kind == NULL)
		return UK_ERR_INPUT;
	return store_exec(st, NULL,
	    "UPDATE sessions SET revoked_at = ? WHERE kind = ? AND "
	    "principal_id = ? AND revoked_at IS NULL",
	    "iti", now, kind, principal_id);
}

static int
op_leave_apply(struct store *st, const struct gw_operator *o, const void *arg,
    struct gw_model_entry *e)
{
	int64_t now = *(const int64_t *)arg;
	int r;

	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET status = 'left', left_at = ? "
	         "WHERE id = ?",
	         "ii", now, o->id)) != 0)
		return r;
	if ((r = gw_sessions_revoke_all(st, GW_KIND_OPERATOR, o->id, now)) != 0)
		return r;
	e->key = "unit";
	e->value = o->unit;
	return 0;
}

int
gw_operator_leave(struct store *st, const struct gw_actor *a, int64_t id)
{
	int64_t now = (int64_t)time(NULL);
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	return op_run(st, a, id, "admin.operator.leave", op_leave_apply, &now);
}

/* Whether actor who is "operator:<login>" for this operator. */
static int
is_self(const char *who, const struct gw_operator *o)
{
	return strncmp(who, "operator:", 9) == 0 &&
	    strcasecmp(who + 9, o->login) == 0;
}

/* A new password's hash and whether it is temporary. */
struct op_password {
	const char *phc;
	int must_change;
};

static int
op_password_apply(struct store *st, const struct gw_operator *o,
    const void *arg, struct gw_model_entry *e)
{
	const struct op_password *p = arg;
	int64_t now = (int64_t)time(NULL);
	int r;

	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET pw_hash = ?, pw_must_change = ?, "
	         "pw_changed_at = ?, fail_count = 0, frozen_until = 0 "
	         "WHERE id = ?",
	         "tiii", p->phc, (int64_t)(p->must_change != 0), now, o->id)) !=
	    0)
		return r;
	if ((r = gw_sessions_revoke_all(st, GW_KIND_OPERATOR, o->id, now)) != 0)
		return r;
	e->key = "temporary";
	e->value = p->must_change ? "yes" : "no";
	return 0;
}

int
gw_operator_set_password(struct store *st, const struct gw_actor *a, int64_t id,
    const struct secret *pw, int must_change)
{
	struct gw_operator o;
	struct op_password p = { NULL, must_change };
	char *phc = NULL;
	int r;

	if ((r = gw_model_actor(a, 0)) != 0)
		goto out;
	if (pw == NULL) {
		r = UK_ERR_INPUT;
		goto out;
	}
	/* the slow hash outside the write transaction */
	if ((r = gw_operator_get(st, id, &o)) != 0) {
		if (r == UK_ERR_NOT_FOUND)
			r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
		goto out;
	}
	if (!is_self(a->who, &o) && (r = gw_model_actor(a, 1)) != 0)
		goto out;
	if (strcmp(o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	if ((r = gw_password_policy(pw, o.login, o.resident_id)) != 0)
		goto out;
	if ((r = gw_pwhash(pwhash_params(), pw, &phc)) != 0)
		goto out;
	p.phc = phc;
	r = op_run(st, a, id, "admin.operator.set_password", op_password_apply,
	    &p);
out:
	free(phc);
	return r;
}

static int
op_unfreeze_apply(struct store *st, const struct gw_operator *o,
    const void *arg, struct gw_model_entry *e)
{
	(void)arg;
	(void)e;
	return store_exec(st, NULL,
	    "UPDATE operators SET fail_count = 0, frozen_until = 0 "
	    "WHERE id = ?",
	    "i", o->id);
}

int
gw_operator_unfreeze(struct store *st, const struct gw_actor *a, int64_t id)
{
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	return op_run(st, a, id, "admin.operator.unfreeze", op_unfreeze_apply,
	    NULL);
}

static int
op_openid_apply(struct store *st, const struct gw_operator *o, const void *arg,
    struct gw_model_entry *e)
{
	const char *openid = arg;
	struct store_res *res = NULL;
	int r;

	(void)e;
	if (openid != NULL) {
		if ((r = store_exec(st, &res,
		         "SELECT count(*) FROM operators WHERE "
		         "wechat_openid = ? AND id <> ?",
		         "ti", openid, o->id)) != 0)
			goto out;
		if (store_res_int(res, 0, 0) != 0) {
			r = UK_ERR_ADMIN_LOGIN_TAKEN;
			goto out;
		}
	}
	r = store_exec(st, NULL,
	    "UPDATE operators SET wechat_openid = ? WHERE id = ?", "ti", openid,
	    o->id);
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
out:
	store_res_free(res);
	return r;
}

int
gw_operator_bind_openid(struct store *st, const struct gw_actor *a, int64_t id,
    const char *openid)
{
	int r;

	if ((r = gw_model_actor(a, 0)) != 0)
		return r;
	if (openid != NULL && (*openid == '\0' || strlen(openid) > 128))
		return UK_ERR_ADMIN_INVALID;
	return op_run(st, a, id,
	    openid != NULL ? "admin.operator.bind_openid"
	                   : "admin.operator.unbind_openid",
	    op_openid_apply, openid);
}

/* The status an operator is set to, and the time (sessions revoked when
 * disabling). */
struct op_status {
	const char *status; /* "active" | "disabled" */
	int64_t now;
};

static int
op_status_apply(struct store *st, const struct gw_operator *o, const void *arg,
    struct gw_model_entry *e)
{
	const struct op_status *p = arg;
	int r;

	if (strcmp(o->status, p->status) == 0)
		return UK_ERR_ADMIN_INVALID;
	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET status = ? WHERE id = ?", "ti",
	         p->status, o->id)) != 0)
		return r;
	if (strcmp(p->status, "disabled") == 0 &&
	    (r = gw_sessions_revoke_all(st, GW_KIND_OPERATOR, o->id, p->now)) !=
	        0)
		return r;
	e->key = "unit";
	e->value = o->unit;
	return 0;
}

int
gw_operator_disable(struct store *st, const struct gw_actor *a, int64_t id)
{
	struct op_status p = { "disabled", (int64_t)time(NULL) };
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	return op_run(st, a, id, "admin.operator.disable", op_status_apply, &p);
}

int
gw_operator_enable(struct store *st, const struct gw_actor *a, int64_t id)
{
	struct op_status p = { "active", (int64_t)time(NULL) };
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	return op_run(st, a, id, "admin.operator.enable", op_status_apply, &p);
}
