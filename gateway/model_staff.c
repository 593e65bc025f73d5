/* gateway/model_staff.c: the centre's staff accounts (counter, helpdesk, admin) in the store. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/model.h"

/* Most staff accounts gw_staff_list returns. */
#define GW_STAFF_CAP 10000

#define STAFF_COLS "id, login, name, roles, status, created_at"

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

static void
staff_row(const struct store_res *res, size_t i, struct gw_staff *s)
{
	memset(s, 0, sizeof(*s));
	s->id = store_res_int(res, i, 0);
	copy(s->login, sizeof(s->login), store_res_text(res, i, 1));
	copy(s->name, sizeof(s->name), store_res_text(res, i, 2));
	copy(s->roles, sizeof(s->roles), store_res_text(res, i, 3));
	copy(s->status, sizeof(s->status), store_res_text(res, i, 4));
	s->created_at = store_res_int(res, i, 5);
}

int
gw_staff_add(struct store *st, const struct gw_actor *a, const char *login,
    const char *name, const char *roles, int64_t *id_out)
{
	struct store_res *res = NULL;
	char lc[GW_LOGIN_MAX + 1], norm[GW_ROLES_MAX + 1];
	char subject[GW_LOGIN_MAX + 16];
	int64_t id;
	size_t i;
	int own = 0, r;

	if (id_out != NULL)
		*id_out = 0;
	if ((r = gw_model_actor(a, 0)) != 0)
		goto out;
	r = UK_ERR_ADMIN_INVALID;
	if (gw_login_valid(login) != 0 || name == NULL || *name == '\0' ||
	    strlen(name) > GW_NAME_MAX || roles == NULL ||
	    gw_roles_normalise(roles, 1, norm) != 0 || norm[0] == '\0')
		goto out;
	for (i = 0; login[i] != '\0'; i++)
		lc[i] = (char)tolower((unsigned char)login[i]);
	lc[i] = '\0';
	if ((r = gw_model_begin(st, &own)) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT count(*) FROM staff WHERE login_lc = ?", "t", lc)) !=
	    0)
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
	    "tttti", login, lc, name, norm, (int64_t)time(NULL));
	if (r == UK_ERR_EXISTS)
		r = UK_ERR_ADMIN_LOGIN_TAKEN;
	if (r != 0)
		goto out;
	id = store_res_int(res, 0, 0);
	if (id_out != NULL)
		*id_out = id;
	snprintf(subject, sizeof(subject), "staff:%s", login);
	r = gw_model_audit(st, a, "admin.staff.add", subject, "roles", norm);
out:
	store_res_free(res);
	return gw_model_end(st, own, r);
}

int
gw_staff_get(struct store *st, int64_t id, struct gw_staff *out)
{
	struct store_res *res = NULL;
	int r = UK_ERR_INPUT;

	if (st == NULL || out == NULL)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT " STAFF_COLS " FROM staff WHERE id = ?", "i", id)) !=
	    0)
		goto out;
	if (store_res_rows(res) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	staff_row(res, 0, out);
	r = 0;
out:
	store_res_free(res);
	return r;
}

int
gw_staff_list(struct store *st, struct gw_staff **out, size_t *n)
{
	struct store_res *res = NULL;
	struct gw_staff *v = NULL;
	size_t i, rows;
	int r = UK_ERR_INPUT;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (st == NULL || out == NULL || n == NULL)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT " STAFF_COLS " FROM staff ORDER BY login_lc LIMIT ?",
	         "i", (int64_t)GW_STAFF_CAP)) != 0)
		goto out;
	rows = store_res_rows(res);
	if (rows > 0 && (v = calloc(rows, sizeof(*v))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++)
		staff_row(res, i, &v[i]);
	*out = v;
	*n = rows;
	v = NULL; /* transferred */
	r = 0;
out:
	free(v);
	store_res_free(res);
	return r;
}
