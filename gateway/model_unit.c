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
#include "gateway/model_int.h"

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
	char form[GW_LOGIN_MAX + 1];
	int r;

	if (a == NULL || a->who == NULL || *a->who == '\0')
		return UK_ERR_INPUT;
	/* a form of blanks is no form; one with a control character or too
	 * long is a bad one */
	r = gw_text_clean(a->form, form, sizeof(form));
	if (r == UK_ERR_NOT_FOUND)
		return form_required ? UK_ERR_ADMIN_FORM_REQUIRED : 0;
	return r == 0 ? 0 : UK_ERR_ADMIN_INVALID;
}

int
gw_model_audit(struct store *st, const struct gw_actor *a, const char *event,
    const char *subject, const char *key, const char *value)
{
	struct audit_event ev;
	json_t *o = NULL;
	char *detail = NULL, form[GW_LOGIN_MAX + 1];
	int r = UK_ERR_NOMEM;

	if ((o = json_object()) == NULL)
		goto out;
	if (json_object_set_new(o, "form",
	        gw_text_clean(a->form, form, sizeof(form)) == 0
	            ? json_string(form)
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
	r = audit_append_ex(st, &ev, a->event_id);
out:
	free(detail);
	json_decref(o);
	return r;
}

void
gw_model_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

void
gw_model_lower(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

void
gw_model_upper(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < n; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

int
gw_model_one(const struct store_res *res, gw_model_row_fn *row, void *out)
{
	if (store_res_rows(res) != 1)
		return UK_ERR_NOT_FOUND;
	row(res, 0, out);
	return 0;
}

int
gw_model_rows(const struct store_res *res, gw_model_row_fn *row, size_t size,
    void **out, size_t *n)
{
	size_t i, rows = store_res_rows(res);
	unsigned char *v = NULL;

	*out = NULL;
	*n = 0;
	if (rows > 0 && (v = calloc(rows, size)) == NULL)
		return UK_ERR_NOMEM;
	for (i = 0; i < rows; i++)
		row(res, i, v + i * size);
	*out = v; /* transferred */
	*n = rows;
	return 0;
}

int
gw_model_one_end(int r, struct store_res *res, gw_model_row_fn *row, void *out)
{
	if (r == 0)
		r = gw_model_one(res, row, out);
	store_res_free(res);
	return r;
}

int
gw_model_rows_end(int r, struct store_res *res, gw_model_row_fn *row,
    size_t size, void **out, size_t *n)
{
	if (r == 0)
		r = gw_model_rows(res, row, size, out, n);
	store_res_free(res);
	return r;
}

int
gw_model_search(const char *q, size_t *max, char **pat)
{
	if (*max > GW_LIST_CAP)
		*max = GW_LIST_CAP;
	*pat = gw_model_like(q != NULL ? q : "");
	return *pat == NULL ? UK_ERR_NOMEM : 0;
}

int
gw_model_change(struct store *st, const struct gw_actor *a,
    gw_model_apply_fn *apply, void *arg)
{
	struct gw_model_entry e;
	int own = 0, r;

	memset(&e, 0, sizeof(e));
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = apply(st, a, arg, &e)) != 0)
		goto out;
	r = gw_model_audit(st, a, e.event, e.subject, e.key, e.value);
out:
	return gw_model_end(st, own, r);
}

#define UNIT_COLS                                                              \
	"u.id, u.name, u.uscc, u.status, u.agreement_at, u.agreement_form, "   \
	"u.authorized_at, u.authorized_form, u.created_at, "                   \
	"(SELECT count(*) FROM certs c WHERE c.unit_id = u.id AND "            \
	"c.status = 'active' AND c.not_after > ?)"

static void
unit_row(const struct store_res *res, size_t i, void *out)
{
	struct gw_unit *u = out;

	memset(u, 0, sizeof(*u));
	gw_model_copy(u->id, sizeof(u->id), store_res_text(res, i, 0));
	gw_model_copy(u->name, sizeof(u->name), store_res_text(res, i, 1));
	gw_model_copy(u->uscc, sizeof(u->uscc), store_res_text(res, i, 2));
	gw_model_copy(u->status, sizeof(u->status), store_res_text(res, i, 3));
	u->agreement_at = store_res_int(res, i, 4);
	gw_model_copy(u->agreement_form, sizeof(u->agreement_form),
	    store_res_text(res, i, 5));
	u->authorized_at = store_res_int(res, i, 6);
	gw_model_copy(u->authorized_form, sizeof(u->authorized_form),
	    store_res_text(res, i, 7));
	u->created_at = store_res_int(res, i, 8);
	u->active_certs = (int)store_res_int(res, i, 9);
}

/* The unit gw_unit_add registers, checked and trimmed. */
struct unit_new {
	const char *id;
	char name[GW_NAME_MAX + 1];
	const char *uscc; /* normalised; NULL when none */
};

static int
unit_insert(struct store *st, const struct gw_actor *a, void *arg,
    struct gw_model_entry *e)
{
	const struct unit_new *u = arg;
	struct store_res *res = NULL;
	int r;

	(void)a;
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM units WHERE lower(id) = lower(?) OR "
	         "uscc = ?",
	         "tt", u->id, u->uscc)) != 0)
		goto out;
	if (store_res_int(res, 0, 0) != 0) {
		r = UK_ERR_EXISTS;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "INSERT INTO units (id, name, uscc, status, created_at) "
	         "VALUES (?, ?, ?, 'active', ?)",
	         "ttti", u->id, u->name, u->uscc, (int64_t)time(NULL))) != 0)
		goto out;
	e->event = "admin.unit.add";
	snprintf(e->subject, sizeof(e->subject), "unit:%s", u->id);
	e->key = "name";
	e->value = u->name;
out:
	store_res_free(res);
	return r;
}

int
gw_unit_add(struct store *st, const struct gw_actor *a, const char *id,
    const char *name, const char *uscc)
{
	struct unit_new u;
	char code[19];
	int r;

	/* registered at the counter on an application form, as the console
	 * and the command line both require */
	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	memset(&u, 0, sizeof(u));
	u.id = id;
	if (gw_login_valid(id) != 0 ||
	    gw_text_clean(name, u.name, sizeof(u.name)) != 0)
		return UK_ERR_ADMIN_INVALID;
	/* the USCC is optional: blank is none */
	if ((r = gw_text_clean(uscc, code, sizeof(code))) == 0) {
		gw_model_upper(code, sizeof(code), code);
		if (gw_uscc_valid(code) != 0)
			return UK_ERR_ADMIN_INVALID;
		u.uscc = code;
	} else if (r != UK_ERR_NOT_FOUND)
		return UK_ERR_ADMIN_INVALID;
	return gw_model_change(st, a, unit_insert, &u);
}

int
gw_unit_get(struct store *st, const char *id, struct gw_unit *out)
{
	struct store_res *res = NULL;
	int r;

	if (st == NULL || id == NULL || out == NULL)
		return UK_ERR_INPUT;
	/* ids are unique regardless of case (unit_insert); should two ever
	 * differ only in case, the exact spelling wins */
	r = store_exec(st, &res,
	    "SELECT " UNIT_COLS " FROM units u WHERE lower(u.id) = lower(?) "
	    "ORDER BY CASE WHEN u.id = ? THEN 0 ELSE 1 END LIMIT 1",
	    "itt", (int64_t)time(NULL), id, id);
	return gw_model_one_end(r, res, unit_row, out);
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
	    "SELECT " UNIT_COLS " FROM units u WHERE "
	    "lower(u.id) LIKE lower(?) ESCAPE '\\' OR "
	    "lower(u.name) LIKE lower(?) ESCAPE '\\' OR "
	    "lower(coalesce(u.uscc, '')) LIKE lower(?) ESCAPE '\\' "
	    "ORDER BY u.id LIMIT ?",
	    "ittti", (int64_t)time(NULL), pat, pat, pat, (int64_t)max);
	if ((r = gw_model_rows_end(r, res, unit_row, sizeof(**out), &v, n)) ==
	    0)
		*out = v; /* transferred */
	free(pat);
	return r;
}

/* The counter acts on a unit, in the order of unit_acts. */
enum unit_act { UNIT_AGREEMENT, UNIT_AUTHORIZE, UNIT_REVOKE, UNIT_CLOSE };

/* Each act's audit event and update; stamped: the update takes the time and
 * the form before the unit id. */
static const struct {
	const char *event, *sql;
	int stamped;
} unit_acts[] = {
	{ "admin.unit.agreement",
	    "UPDATE units SET agreement_at = ?, agreement_form = ? "
	    "WHERE id = ?",
	    1 },
	{ "admin.unit.authorize",
	    "UPDATE units SET authorized_at = ?, authorized_form = ? "
	    "WHERE id = ?",
	    1 },
	{ "admin.unit.revoke_authorization",
	    "UPDATE units SET authorized_at = NULL, authorized_form = NULL "
	    "WHERE id = ?",
	    0 },
	{ "admin.unit.close", "UPDATE units SET status = 'closed' WHERE id = ?",
	    0 },
};

/* An act on a unit: its id and which. */
struct unit_mark_arg {
	const char *id;
	enum unit_act act;
};

/* Locks the unit, checks the act may be done (authorisation after the
 * agreement; a unit is closed once) and does it. */
static int
unit_mark_apply(struct store *st, const struct gw_actor *a, void *arg,
    struct gw_model_entry *e)
{
	const struct unit_mark_arg *m = arg;
	struct store_res *res = NULL;
	const char *status;
	char id[GW_LOGIN_MAX + 1], form[GW_LOGIN_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	int r;

	/* the unit by its id in any case, as gw_unit_get finds it */
	if ((r = store_exec(st, &res,
	         "SELECT agreement_at, status, id FROM units WHERE "
	         "lower(id) = lower(?) ORDER BY CASE WHEN id = ? THEN 0 "
	         "ELSE 1 END LIMIT 1 FOR UPDATE",
	         "tt", m->id, m->id)) != 0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_ADMIN_UNIT_UNKNOWN;
		goto out;
	}
	gw_model_copy(id, sizeof(id), store_res_text(res, 0, 2));
	if (m->act == UNIT_AUTHORIZE &&
	    (store_res_isnull(res, 0, 0) || store_res_int(res, 0, 0) == 0)) {
		r = UK_ERR_POLICY_AGREEMENT;
		goto out;
	}
	status = store_res_text(res, 0, 1);
	if (m->act == UNIT_CLOSE && status != NULL &&
	    strcmp(status, "closed") == 0) {
		r = UK_ERR_ADMIN_INVALID;
		goto out;
	}
	gw_text_clean(a->form, form, sizeof(form)); /* checked by unit_mark */
	if (unit_acts[m->act].stamped)
		r = store_exec(st, NULL, unit_acts[m->act].sql, "itt", now,
		    form, id);
	else
		r = store_exec(st, NULL, unit_acts[m->act].sql, "t", id);
	if (r != 0)
		goto out;
	if (m->act == UNIT_CLOSE &&
	    (r = store_exec(st, NULL,
	         "UPDATE sessions SET revoked_at = ? WHERE kind = ? AND "
	         "revoked_at IS NULL AND principal_id IN "
	         "(SELECT id FROM operators WHERE unit_id = ?)",
	         "itt", now, GW_KIND_OPERATOR, id)) != 0)
		goto out;
	e->event = unit_acts[m->act].event;
	snprintf(e->subject, sizeof(e->subject), "unit:%s", id);
out:
	store_res_free(res);
	return r;
}

/* Does act on unit id: the form is required. */
static int
unit_mark(struct store *st, const struct gw_actor *a, const char *id,
    enum unit_act act)
{
	struct unit_mark_arg m = { id, act };
	int r;

	if ((r = gw_model_actor(a, 1)) != 0)
		return r;
	if (id == NULL)
		return UK_ERR_INPUT;
	return gw_model_change(st, a, unit_mark_apply, &m);
}

int
gw_unit_agreement(struct store *st, const struct gw_actor *a, const char *id)
{
	return unit_mark(st, a, id, UNIT_AGREEMENT);
}

int
gw_unit_authorize(struct store *st, const struct gw_actor *a, const char *id)
{
	return unit_mark(st, a, id, UNIT_AUTHORIZE);
}

int
gw_unit_revoke_authorization(struct store *st, const struct gw_actor *a,
    const char *id)
{
	return unit_mark(st, a, id, UNIT_REVOKE);
}

int
gw_unit_close(struct store *st, const struct gw_actor *a, const char *id)
{
	return unit_mark(st, a, id, UNIT_CLOSE);
}
