/* gateway/model_unit.c: units in the store (registration, agreement, hall authorisation) and the helpers every model file shares. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/store.h"
#include "gateway/model.h"

/* Most rows any list returns. */
#define GW_LIST_CAP 10000

int
gw_model_begin(struct store *st, int *own)
{
	int r;

	*own = 0;
	if (st == NULL)
		return UK_ERR_INPUT;
	if (store_in_transaction(st))
		return 0;
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		return r;
	*own = 1;
	return 0;
}

int
gw_model_end(struct store *st, int own, int r)
{
	if (!own)
		return r;
	if (r != 0) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int
gw_model_actor(const struct gw_actor *a, int form_required)
{
	if (a == NULL || a->who == NULL || *a->who == '\0')
		return UK_ERR_INPUT;
	if (form_required && (a->form == NULL || *a->form == '\0'))
		return UK_ERR_ADMIN_FORM_REQUIRED;
	if (a->form != NULL && strlen(a->form) > GW_LOGIN_MAX)
		return UK_ERR_ADMIN_INVALID;
	return 0;
}

int
gw_model_audit(struct store *st, const struct gw_actor *a, const char *event,
    const char *subject, const char *key, const char *value)
{
	struct audit_event ev;
	json_t *o = NULL;
	char *detail = NULL;
	int r = UK_ERR_NOMEM;

	if ((o = json_object()) == NULL)
		goto out;
	if (json_object_set_new(o, "form",
	        a->form != NULL && *a->form != '\0' ? json_string(a->form)
	                                            : json_null()) != 0)
		goto out;
	if (key != NULL &&
	    json_object_set_new(o, key,
	        value != NULL ? json_string(value) : json_null()) != 0)
		goto out;
	if ((detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.actor = a->who;
	ev.subject = subject;
	ev.detail = detail;
	ev.ip = a->ip;
	ev.user_agent = a->user_agent;
	ev.result = "ok";
	r = audit_append_ex(st, &ev, NULL);
out:
	free(detail);
	json_decref(o);
	return r;
}

/* Copies src (NULL: "") into dst of size n, truncating. */
static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

#define UNIT_COLS                                                              \
	"u.id, u.name, u.uscc, u.status, u.agreement_at, u.agreement_form, "   \
	"u.authorized_at, u.authorized_form, u.created_at, "                   \
	"(SELECT count(*) FROM certs c WHERE c.unit_id = u.id AND "            \
	"c.status = 'active' AND c.not_after > ?)"

static void
unit_row(const struct store_res *res, size_t i, struct gw_unit *u)
{
	memset(u, 0, sizeof(*u));
	copy(u->id, sizeof(u->id), store_res_text(res, i, 0));
	copy(u->name, sizeof(u->name), store_res_text(res, i, 1));
	copy(u->uscc, sizeof(u->uscc), store_res_text(res, i, 2));
	copy(u->status, sizeof(u->status), store_res_text(res, i, 3));
	u->agreement_at = store_res_int(res, i, 4);
	copy(u->agreement_form, sizeof(u->agreement_form),
	    store_res_text(res, i, 5));
	u->authorized_at = store_res_int(res, i, 6);
	copy(u->authorized_form, sizeof(u->authorized_form),
	    store_res_text(res, i, 7));
	u->created_at = store_res_int(res, i, 8);
	u->active_certs = (int)store_res_int(res, i, 9);
}

int
gw_unit_add(struct store *st, const struct gw_actor *a, const char *id,
    const char *name, const char *uscc)
{
	struct store_res *res = NULL;
	char code[19], subject[GW_LOGIN_MAX + 8];
	int own = 0, r;
	size_t i;

	code[0] = '\0';
	if ((r = gw_model_actor(a, 0)) != 0)
		goto out;
	r = UK_ERR_ADMIN_INVALID;
	if (gw_login_valid(id) != 0 || name == NULL || *name == '\0' ||
	    strlen(name) > GW_NAME_MAX)
		goto out;
	if (uscc != NULL && *uscc != '\0') {
		if (strlen(uscc) != 18)
			goto out;
		for (i = 0; i < 18; i++)
			code[i] = (char)toupper((unsigned char)uscc[i]);
		code[18] = '\0';
		if (gw_uscc_valid(code) != 0)
			goto out;
	}
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM units WHERE lower(id) = lower(?) OR "
	         "uscc = ?",
	         "tt", id, code[0] != '\0' ? code : NULL)) != 0)
		goto out;
	if (store_res_int(res, 0, 0) != 0) {
		r = UK_ERR_EXISTS;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "INSERT INTO units (id, name, uscc, status, created_at) "
	         "VALUES (?, ?, ?, 'active', ?)",
	         "ttti", id, name, code[0] != '\0' ? code : NULL,
	         (int64_t)time(NULL))) != 0)
		goto out;
	snprintf(subject, sizeof(subject), "unit:%s", id);
	r = gw_model_audit(st, a, "admin.unit.add", subject, "name", name);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_unit_get(struct store *st, const char *id, struct gw_unit *out)
{
	struct store_res *res = NULL;
	int r = UK_ERR_INPUT;

	if (st == NULL || id == NULL || out == NULL)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT " UNIT_COLS " FROM units u WHERE u.id = ?", "it",
	         (int64_t)time(NULL), id)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	unit_row(res, 0, out);
	r = 0;
out:
	store_res_free(res);
	return r;
}

char *
gw_model_like(const char *q)
{
	size_t n = strlen(q), i, j = 0;
	char *p;

	if ((p = malloc(2 * n + 3)) == NULL)
		return NULL;
	p[j++] = '%';
	for (i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[j++] = '\\';
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

int
gw_unit_list(struct store *st, const char *q, size_t max, struct gw_unit **out,
    size_t *n)
{
	struct store_res *res = NULL;
	struct gw_unit *v = NULL;
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
	         "SELECT " UNIT_COLS " FROM units u WHERE "
	         "lower(u.id) LIKE lower(?) ESCAPE '\\' OR "
	         "lower(u.name) LIKE lower(?) ESCAPE '\\' OR "
	         "lower(coalesce(u.uscc, '')) LIKE lower(?) ESCAPE '\\' "
	         "ORDER BY u.id LIMIT ?",
	         "ittti", (int64_t)time(NULL), pat, pat, pat, (int64_t)max)) !=
	    0)
		goto out;
	rows = store_res_rows(res);
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		unit_row(res, i, &v[i]);
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

/* Sets the agreement (which 0) or the authorisation (1) of unit id to the
 * actor's form and now, or clears the authorisation (2). */
static int
unit_mark(struct store *st, const struct gw_actor *a, const char *id, int which)
{
	static const char *const events[] = { "admin.unit.agreement",
		"admin.unit.authorize", "admin.unit.revoke_authorization" };
	static const char *const sql[] = {
		"UPDATE units SET agreement_at = ?, agreement_form = ? "
		"WHERE id = ?",
		"UPDATE units SET authorized_at = ?, authorized_form = ? "
		"WHERE id = ?",
		"UPDATE units SET authorized_at = NULL, authorized_form = NULL "
		"WHERE id = ?",
	};
	struct store_res *res = NULL;
	char subject[GW_LOGIN_MAX + 8];
	int own = 0, r;

	if ((r = gw_model_actor(a, 1)) != 0)
		goto out;
	if (id == NULL) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT id FROM units WHERE id = ? FOR UPDATE", "t", id)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_ADMIN_UNIT_UNKNOWN;
		goto out;
	}
	if (which < 2)
		r = store_exec(st, NULL, sql[which], "itt", (int64_t)time(NULL),
		    a->form, id);
	else
		r = store_exec(st, NULL, sql[which], "t", id);
	if (r != 0)
		goto out;
	snprintf(subject, sizeof(subject), "unit:%s", id);
	r = gw_model_audit(st, a, events[which], subject, NULL, NULL);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_unit_agreement(struct store *st, const struct gw_actor *a, const char *id)
{
	return unit_mark(st, a, id, 0);
}

int
gw_unit_authorize(struct store *st, const struct gw_actor *a, const char *id)
{
	return unit_mark(st, a, id, 1);
}

int
gw_unit_revoke_authorization(struct store *st, const struct gw_actor *a,
    const char *id)
{
	return unit_mark(st, a, id, 2);
}
