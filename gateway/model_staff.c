/* gateway/model_staff.c: the centre's staff accounts (counter, helpdesk, admin) in the store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/model_int.h"

/* Most staff accounts gw_staff_list returns. */
#define GW_STAFF_CAP 10000

#define STAFF_COLS "id, login, name, roles, status, created_at"

static void
staff_row(const struct store_res *res, size_t i, void *out)
{
	struct gw_staff *s = out;

	memset(s, 0, sizeof(*s));
	s->id = store_res_int(res, i, 0);
	gw_model_copy(s->login, sizeof(s->login), store_res_text(res, i, 1));
	gw_model_copy(s->name, sizeof(s->name), store_res_text(res, i, 2));
	gw_model_copy(s->roles, sizeof(s->roles), store_res_text(res, i, 3));
	gw_model_copy(s->status, sizeof(s->status), store_res_text(res, i, 4));
	s->created_at = store_res_int(res, i, 5);
}

/* The account gw_staff_add registers, and where its id goes. */
struct staff_new {
	const char *login;
	char name[GW_NAME_MAX + 1]; /* trimmed */
	char lc[GW_LOGIN_MAX + 1], roles[GW_ROLES_MAX + 1];
	int64_t *id_out; /* NULL: not wanted */
};

static int
staff_insert(struct store *st, const struct gw_actor *a, void *arg,
    struct gw_model_entry *e)
{
	struct staff_new *s = arg;
	struct store_res *res = NULL;
	int r;

	(void)a;
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM staff WHERE login_lc = ?", "t",
	         s->lc)) != 0)
		goto out;
	if (store_res_int(res, 0, 0) != 0) {
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
		goto out;
	}
	store_res_free(res);
	res = NULL;
	r = store_exec(st, &res,
	    "INSERT INTO staff (login, login_lc, name, roles, status, "
	    "created_at) VALUES (?, ?, ?, ?, 'active', ?) RETURNING id",
	    "tttti", s->login, s->lc, s->name, s->roles, (int64_t)time(NULL));
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
	if (r != 0)
		goto out;
	if (s->id_out != NULL)
		*s->id_out = store_res_int(res, 0, 0);
	e->event = "admin.staff.add";
	snprintf(e->subject, sizeof(e->subject), "staff:%s", s->login);
	e->key = "roles";
	e->value = s->roles;
out:
	store_res_free(res);
	return r;
}

int
gw_staff_add(struct store *st, const struct gw_actor *a, const char *login,
    const char *name, const char *roles, int64_t *id_out)
{
	struct staff_new s;
	int r;

	if (id_out != NULL)
		*id_out = 0;
	if ((r = gw_model_actor(a, 0)) != 0)
		return r;
	memset(&s, 0, sizeof(s));
	s.login = login;
	s.id_out = id_out;
	if (gw_login_valid(login) != 0 ||
	    gw_text_clean(name, s.name, sizeof(s.name)) != 0 || roles == NULL ||
	    gw_roles_normalise(roles, 1, s.roles) != 0 || s.roles[0] == '\0')
		return UK_ERR_ADMIN_INVALID;
	gw_model_lower(s.lc, sizeof(s.lc), login);
	return gw_model_change(st, a, staff_insert, &s);
}

int
gw_staff_get(struct store *st, int64_t id, struct gw_staff *out)
{
	struct store_res *res = NULL;
	int r;

	if (st == NULL || out == NULL)
		return UK_ERR_INPUT;
	r = store_exec(st, &res,
	    "SELECT " STAFF_COLS " FROM staff WHERE id = ?", "i", id);
	return gw_model_one_end(r, res, staff_row, out);
}

int
gw_staff_list(struct store *st, struct gw_staff **out, size_t *n)
{
	struct store_res *res = NULL;
	void *v = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL)
		return UK_ERR_INPUT;
	r = store_exec(st, &res,
	    "SELECT " STAFF_COLS " FROM staff ORDER BY login_lc LIMIT ?", "i",
	    (int64_t)GW_STAFF_CAP);
	if ((r = gw_model_rows_end(r, res, staff_row, sizeof(**out), &v, n)) ==
	    0)
		*out = v; /* transferred */
	return r;
}
