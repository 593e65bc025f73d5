/* tests/lib/testgw.c: cmocka fixtures shared by the store and gateway tests: one opened database per test on both backends, one-value queries, units and operators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "common/secret.h"
#include "tests/lib/testgw.h"

struct testgw_backend testgw_sqlite = { STORE_SQLITE };
struct testgw_backend testgw_pg = { STORE_POSTGRES };

const struct gw_actor testgw_counter = { .who = "staff:clerk1",
	.form = "F-2024-001" };

static char tmpdir[256]; /* this program's scratch directory */
static char dbtag[32];   /* names its PostgreSQL databases */

int
testgw_begin(const char *tag)
{
	char name[64];

	snprintf(dbtag, sizeof(dbtag), "%s", tag);
	snprintf(name, sizeof(name), "test_%s", tag);
	if (testdb_tmpdir(name, tmpdir, sizeof(tmpdir)) != 0) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

const char *
testgw_tmpdir(void)
{
	return tmpdir;
}

int
testgw_end(int r)
{
	testdb_pg_close();
	testdb_rmtree(tmpdir);
	return r;
}

void *
testgw_new(void **state, size_t size, int open)
{
	struct testgw_backend *be = *state;
	struct testgw_db *fx;
	int r;

	assert_true(size >= sizeof(*fx));
	fx = calloc(1, size);
	assert_non_null(fx);
	fx->kind = be->kind;
	*state = fx; /* so teardown frees it if this fails */
	testdb_new(&fx->db, be->kind, tmpdir, dbtag);
	if (open && (r = store_open(fx->db.loc, &fx->st)) != 0)
		fail_msg("store_open: %s: %s", uk_error_id(r),
		    store_last_error(NULL));
	return fx;
}

int
testgw_setup(void **state)
{
	(void)testgw_new(state, sizeof(struct testgw_db), 1);
	return 0;
}

void *
testgw_fixture(void **state)
{
	void *fx = *state;

	if (fx == NULL || fx == (void *)&testgw_sqlite ||
	    fx == (void *)&testgw_pg)
		return NULL;
	return fx;
}

int
testgw_teardown(void **state)
{
	struct testgw_db *fx = testgw_fixture(state);

	if (fx == NULL)
		return 0;
	store_close(fx->st);
	testdb_drop(&fx->db);
	free(fx);
	*state = NULL;
	return 0;
}

/* The one row of a query store_exec answered with r: checks it. */
static void
one_row(struct store *st, const char *sql, int r, const struct store_res *res)
{
	if (r != 0)
		fail_msg("%s: %s: %s", sql, uk_error_id(r),
		    store_last_error(st));
	assert_int_equal(store_res_rows(res), 1);
}

/* Column 0 of res's one row as an integer; frees res. */
static int64_t
take_int(struct store *st, const char *sql, int r, struct store_res *res)
{
	int64_t v;

	one_row(st, sql, r, res);
	v = store_res_int(res, 0, 0);
	store_res_free(res);
	return v;
}

/* Column 0 of res's one row as a malloc'd string ("" for NULL); frees
 * res. */
static char *
take_text(struct store *st, const char *sql, int r, struct store_res *res)
{
	char *v;

	one_row(st, sql, r, res);
	v = strdup(
	    store_res_isnull(res, 0, 0) ? "" : store_res_text(res, 0, 0));
	assert_non_null(v);
	store_res_free(res);
	return v;
}

int64_t
testgw_int(struct store *st, const char *sql)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res, sql, "");

	return take_int(st, sql, r, res);
}

int64_t
testgw_int_i(struct store *st, const char *sql, int64_t arg)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res, sql, "i", arg);

	return take_int(st, sql, r, res);
}

int64_t
testgw_int_t(struct store *st, const char *sql, const char *arg)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res, sql, "t", arg);

	return take_int(st, sql, r, res);
}

char *
testgw_text_i(struct store *st, const char *sql, int64_t arg)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res, sql, "i", arg);

	return take_text(st, sql, r, res);
}

char *
testgw_text_t(struct store *st, const char *sql, const char *arg)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res, sql, "t", arg);

	return take_text(st, sql, r, res);
}

int64_t
testgw_add_op(struct store *st, const char *login, const char *unit,
    const char *rid, const char *phone, const char *pw)
{
	struct secret *s = pw != NULL ? secret_from(pw, strlen(pw)) : NULL;
	struct gw_operator_new op = { login, unit, "张三", rid, phone, "maker",
		s, 0 };
	int64_t id = 0;

	assert_int_equal(gw_operator_add(st, &testgw_counter, &op, &id), 0);
	secret_free(s);
	assert_true(id > 0);
	return id;
}
