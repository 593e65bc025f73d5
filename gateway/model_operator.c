/* gateway/model_operator.c: unit operators in the store: registration, changes, leaving, passwords, freezes, WeChat binding, sessions. */
#include <ctype.h>
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
#include "gateway/pwhash.h"

/* Most rows a list returns. */
#define GW_LIST_CAP 10000

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

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

/* Lower-cases (ASCII) src into dst of size n. */
static void
lower(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* Upper-cases (ASCII) src into dst of size n. */
static void
upper(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < n; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

#define OP_COLS                                                                \
	"id, login, unit_id, name, resident_id, phone, wechat_openid, roles, " \
	"status, pw_hash IS NOT NULL, pw_must_change, fail_count, fail_day, "  \
	"frozen_until, created_at, left_at"

static void
op_row(const struct store_res *res, size_t i, struct gw_operator *o)
{
	const char *has = store_res_text(res, i, 9);

	memset(o, 0, sizeof(*o));
	o->id = store_res_int(res, i, 0);
	copy(o->login, sizeof(o->login), store_res_text(res, i, 1));
	copy(o->unit, sizeof(o->unit), store_res_text(res, i, 2));
	copy(o->name, sizeof(o->name), store_res_text(res, i, 3));
	copy(o->resident_id, sizeof(o->resident_id), store_res_text(res, i, 4));
	copy(o->phone, sizeof(o->phone), store_res_text(res, i, 5));
	copy(o->openid, sizeof(o->openid), store_res_text(res, i, 6));
	copy(o->roles, sizeof(o->roles), store_res_text(res, i, 7));
	copy(o->status, sizeof(o->status), store_res_text(res, i, 8));
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
	if (store_res_rows(res) != 1) {
		r = UK_ERR_ADMIN_OPERATOR_UNKNOWN;
		goto out;
	}
	op_row(res, 0, o);
	r = 0;
out:
	store_res_free(res);
	return r;
}

static void
op_subject(char *buf, size_t n, const struct gw_operator *o)
{
	snprintf(buf, n, "operator:%s", o->login);
}

/* Checks a resident ID and writes it normalised (capital X) to out. */
static int
resident_norm(const char *in, char out[19])
{
	out[0] = '\0';
	if (in == NULL || *in == '\0')
		return 0;
	if (gw_resident_id_valid(in) != 0)
		return UK_ERR_ADMIN_INVALID;
	upper(out, 19, in);
	return 0;
}

int
gw_operator_add(struct store *st, const struct gw_actor *a,
    const struct gw_operator_new *op, int64_t *id_out)
{
	struct store_res *res = NULL;
	char login_lc[GW_LOGIN_MAX + 1], login_uc[GW_LOGIN_MAX + 1];
	char rid[19], rid_lc[19], roles[GW_ROLES_MAX + 1];
	char subject[GW_LOGIN_MAX + 16];
	char *phc = NULL;
	int64_t now, id;
	int own = 0, r;

	if (id_out != NULL)
		*id_out = 0;
	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	r = UK_ERR_ADMIN_INVALID;
	if (op == NULL || gw_login_valid(op->login) != 0 || op->unit == NULL ||
	    op->name == NULL || *op->name == '\0' ||
	    strlen(op->name) > GW_NAME_MAX)
		goto out;
	if (resident_norm(op->resident_id, rid) != 0)
		goto out;
	if (op->phone != NULL && *op->phone != '\0' &&
	    gw_phone_valid(op->phone) != 0)
		goto out;
	if (gw_roles_normalise(op->roles != NULL ? op->roles : "", 0, roles) !=
	    0)
		goto out;
	lower(login_lc, sizeof(login_lc), op->login);
	upper(login_uc, sizeof(login_uc), op->login);
	lower(rid_lc, sizeof(rid_lc), rid);
	if (op->password != NULL) {
		if ((r = gw_password_policy(op->password, op->login, rid)) != 0)
			goto out;
		if ((r = gw_pwhash(pwhash_params(), op->password, &phc)) != 0)
			goto out;
	}
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = store_exec(st, &res, "SELECT id FROM units WHERE id = ?", "t",
	         op->unit)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_ADMIN_UNIT_UNKNOWN;
		goto out;
	}
	store_res_free(res);
	res = NULL;
	/* a login may not be someone's resident ID, nor the reverse, so that
	 * gw_operator_find is never ambiguous */
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM operators WHERE login_lc = ? OR "
	         "resident_id = ? OR login_lc = ? OR resident_id = ?",
	         "tttt", login_lc, login_uc, rid[0] ? rid_lc : NULL,
	         rid[0] ? rid : NULL)) != 0)
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
	    "ttttttttii", op->login, login_lc, op->unit, op->name,
	    rid[0] ? rid : NULL,
	    op->phone != NULL && *op->phone != '\0' ? op->phone : NULL, roles,
	    phc, (int64_t)(phc != NULL && op->must_change), now);
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
	if (r != 0)
		goto out;
	id = store_res_int(res, 0, 0);
	if (phc != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET pw_changed_at = ? WHERE id = ?", "ii",
	         now, id)) != 0)
		goto out;
	if (id_out != NULL)
		*id_out = id;
	snprintf(subject, sizeof(subject), "operator:%s", op->login);
	r = gw_model_audit(st, a, "admin.operator.add", subject, "unit",
	    op->unit);
out:
	free(phc);
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_operator_get(struct store *st, int64_t id, struct gw_operator *out)
{
	struct store_res *res = NULL;
	int r = UK_ERR_INPUT;

	if (st == NULL || out == NULL)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT " OP_COLS " FROM operators WHERE id = ?", "i", id)) !=
	    0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	op_row(res, 0, out);
	r = 0;
out:
	store_res_free(res);
	return r;
}

int
gw_operator_find(struct store *st, const char *login_or_id,
    struct gw_operator *out)
{
	struct store_res *res = NULL;
	char lc[GW_LOGIN_MAX + 1], uc[GW_LOGIN_MAX + 1];
	int r = UK_ERR_INPUT;

	if (st == NULL || login_or_id == NULL || out == NULL)
		goto out;
	if (*login_or_id == '\0' || strlen(login_or_id) > GW_LOGIN_MAX) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	lower(lc, sizeof(lc), login_or_id);
	upper(uc, sizeof(uc), login_or_id);
	if ((r = store_exec(st, &res,
	         "SELECT " OP_COLS " FROM operators WHERE login_lc = ? OR "
	         "resident_id = ? ORDER BY id LIMIT 2",
	         "tt", lc, uc)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	op_row(res, 0, out);
	r = 0;
out:
	store_res_free(res);
	return r;
}

int
gw_operator_list(struct store *st, const char *unit, const char *q, size_t max,
    struct gw_operator **out, size_t *n)
{
	struct store_res *res = NULL;
	struct gw_operator *v = NULL;
	char *pat = NULL;
	size_t i, rows;
	int r = UK_ERR_INPUT;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL)
		goto out;
	if (max > GW_LIST_CAP)
		max = GW_LIST_CAP;
	if ((pat = gw_model_like(q != NULL ? q : "")) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = store_exec(st, &res,
	         "SELECT " OP_COLS " FROM operators WHERE "
	         "(? IS NULL OR unit_id = ?) AND ("
	         "login_lc LIKE lower(?) ESCAPE '\\' OR "
	         "lower(name) LIKE lower(?) ESCAPE '\\' OR "
	         "coalesce(resident_id, '') LIKE upper(?) ESCAPE '\\' OR "
	         "coalesce(phone, '') LIKE ? ESCAPE '\\') "
	         "ORDER BY unit_id, login_lc LIMIT ?",
	         "tttttti", unit, unit, pat, pat, pat, pat, (int64_t)max)) != 0)
		goto out;
	rows = store_res_rows(res);
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		op_row(res, i, &v[i]);
	*out = v;
	*n = rows;
	v = NULL; /* transferred */
	r = 0;
out:
	free(v);
	free(pat);
	store_res_free(res);
	return r;
}

int
gw_operator_change(struct store *st, const struct gw_actor *a, int64_t id,
    const char *name, const char *phone, const char *roles)
{
	struct gw_operator o;
	char subject[GW_LOGIN_MAX + 16], norm[GW_ROLES_MAX + 1], what[32];
	int own = 0, r;

	what[0] = '\0';
	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	r = UK_ERR_ADMIN_INVALID;
	if (name != NULL && (*name == '\0' || strlen(name) > GW_NAME_MAX))
		goto out;
	if (phone != NULL && *phone != '\0' && gw_phone_valid(phone) != 0)
		goto out;
	if (roles != NULL && gw_roles_normalise(roles, 0, norm) != 0)
		goto out;
	if (name == NULL && phone == NULL && roles == NULL)
		goto out;
	snprintf(what, sizeof(what), "%s%s%s", name != NULL ? "name " : "",
	    phone != NULL ? "phone " : "", roles != NULL ? "roles " : "");
	what[strlen(what) - 1] = '\0';
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = op_lock(st, id, &o)) != 0)
		goto out;
	if (strcmp(o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	if (name != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET name = ? WHERE id = ?", "ti", name,
	         id)) != 0)
		goto out;
	if (phone != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET phone = ? WHERE id = ?", "ti",
	         *phone != '\0' ? phone : NULL, id)) != 0)
		goto out;
	if (roles != NULL &&
	    (r = store_exec(st, NULL,
	         "UPDATE operators SET roles = ? WHERE id = ?", "ti", norm,
	         id)) != 0)
		goto out;
	op_subject(subject, sizeof(subject), &o);
	r = gw_model_audit(st, a, "admin.operator.change", subject, "changed",
	    what);
out:
	return gw_model_end(st, own, r);
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

int
gw_operator_leave(struct store *st, const struct gw_actor *a, int64_t id)
{
	struct gw_operator o;
	char subject[GW_LOGIN_MAX + 16];
	int64_t now = (int64_t)time(NULL);
	int own = 0, r;

	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = op_lock(st, id, &o)) != 0)
		goto out;
	if (strcmp(o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET status = 'left', left_at = ? "
	         "WHERE id = ?",
	         "ii", now, id)) != 0)
		goto out;
	if ((r = gw_sessions_revoke_all(st, GW_KIND_OPERATOR, id, now)) != 0)
		goto out;
	op_subject(subject, sizeof(subject), &o);
	r = gw_model_audit(st, a, "admin.operator.leave", subject, "unit",
	    o.unit);
out:
	return gw_model_end(st, own, r);
}

/* Whether actor who is "operator:<login>" for this operator. */
static int
is_self(const char *who, const struct gw_operator *o)
{
	return strncmp(who, "operator:", 9) == 0 &&
	    strcasecmp(who + 9, o->login) == 0;
}

int
gw_operator_set_password(struct store *st, const struct gw_actor *a, int64_t id,
    const struct secret *pw, int must_change)
{
	struct gw_operator o, now_o;
	char subject[GW_LOGIN_MAX + 16];
	char *phc = NULL;
	int64_t now;
	int own = 0, r;

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
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = op_lock(st, id, &now_o)) != 0)
		goto out;
	if (strcmp(now_o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	now = (int64_t)time(NULL);
	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET pw_hash = ?, pw_must_change = ?, "
	         "pw_changed_at = ?, fail_count = 0, frozen_until = 0 "
	         "WHERE id = ?",
	         "tiii", phc, (int64_t)(must_change != 0), now, id)) != 0)
		goto out;
	if ((r = gw_sessions_revoke_all(st, GW_KIND_OPERATOR, id, now)) != 0)
		goto out;
	op_subject(subject, sizeof(subject), &now_o);
	r = gw_model_audit(st, a, "admin.operator.set_password", subject,
	    "temporary", must_change ? "yes" : "no");
out:
	free(phc);
	return gw_model_end(st, own, r);
}

int
gw_operator_unfreeze(struct store *st, const struct gw_actor *a, int64_t id)
{
	struct gw_operator o;
	char subject[GW_LOGIN_MAX + 16];
	int own = 0, r;

	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = op_lock(st, id, &o)) != 0)
		goto out;
	if (strcmp(o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "UPDATE operators SET fail_count = 0, frozen_until = 0 "
	         "WHERE id = ?",
	         "i", id)) != 0)
		goto out;
	op_subject(subject, sizeof(subject), &o);
	r = gw_model_audit(st, a, "admin.operator.unfreeze", subject, NULL,
	    NULL);
out:
	return gw_model_end(st, own, r);
}

int
gw_operator_bind_openid(struct store *st, const struct gw_actor *a, int64_t id,
    const char *openid)
{
	struct store_res *res = NULL;
	struct gw_operator o;
	char subject[GW_LOGIN_MAX + 16];
	int own = 0, r;

	if ((r = gw_model_actor(a, 0)) != 0)
		goto out;
	if (openid != NULL && (*openid == '\0' || strlen(openid) > 128)) {
		r = UK_ERR_ADMIN_INVALID;
		goto out;
	}
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = op_lock(st, id, &o)) != 0)
		goto out;
	if (strcmp(o.status, "left") == 0) {
		r = UK_ERR_ADMIN_OPERATOR_LEFT;
		goto out;
	}
	if (openid != NULL) {
		if ((r = store_exec(st, &res,
		         "SELECT count(*) FROM operators WHERE "
		         "wechat_openid = ? AND id <> ?",
		         "ti", openid, id)) != 0)
			goto out;
		if (store_res_int(res, 0, 0) != 0) {
			r = UK_ERR_ADMIN_LOGIN_TAKEN;
			goto out;
		}
	}
	r = store_exec(st, NULL,
	    "UPDATE operators SET wechat_openid = ? WHERE id = ?", "ti", openid,
	    id);
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
	if (r != 0)
		goto out;
	op_subject(subject, sizeof(subject), &o);
	r = gw_model_audit(st, a,
	    openid != NULL ? "admin.operator.bind_openid"
	                   : "admin.operator.unbind_openid",
	    subject, NULL, NULL);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}
