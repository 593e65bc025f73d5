/* tests/lib/testgw.h: cmocka fixtures shared by the store and gateway tests: one opened database per test on both backends, one-value queries, units and operators. */
#ifndef UK_TESTS_TESTGW_H
#define UK_TESTS_TESTGW_H

#include <stddef.h>
#include <stdint.h>

#include "common/store.h"
#include "gateway/model.h"
#include "tests/lib/testdb.h"

/* Which backend a test runs on: the cmocka initial state of TESTGW_BOTH. */
struct testgw_backend {
	enum store_backend kind;
};

extern struct testgw_backend testgw_sqlite, testgw_pg;

/*
 * One test's fresh database, opened (st is NULL when testgw_new was told
 * not to open it). A test's own fixture begins with it, so that
 * testgw_teardown frees either.
 */
struct testgw_db {
	enum store_backend kind;
	struct testdb db;
	struct store *st;
};

/* The counter clerk (staff:clerk1, form F-2024-001) fixtures act as. */
extern const struct gw_actor testgw_counter;

/*
 * Makes this program's scratch directory, named after "test_<tag>"; tag
 * also names the PostgreSQL databases. Returns 0, or -1 with a message on
 * standard error.
 */
int testgw_begin(const char *tag);

/* The scratch directory made by testgw_begin. */
const char *testgw_tmpdir(void);

/*
 * Closes the PostgreSQL admin connection and removes the scratch
 * directory. Returns r, the cmocka result, for main to return.
 */
int testgw_end(int r);

/*
 * A cmocka setup step's work: reads the struct testgw_backend in *state,
 * allocates size zeroed bytes (a struct beginning with struct testgw_db),
 * makes a fresh database in it and, when open is non-zero, opens it into
 * st. *state is the new fixture from the start, so teardown frees it if
 * this fails. Fails the current test on error. Returns the fixture.
 */
void *testgw_new(void **state, size_t size, int open);

/* cmocka setup: testgw_new(state, sizeof(struct testgw_db), 1). */
int testgw_setup(void **state);

/*
 * The fixture in *state, or NULL when testgw_new has not replaced the
 * backend there (nothing to free).
 */
void *testgw_fixture(void **state);

/*
 * cmocka teardown: closes the fixture's store, drops its database and
 * frees it; a test's own teardown frees what it added first. Returns 0.
 */
int testgw_teardown(void **state);

/* Test f on SQLite and on PostgreSQL with the given setup and teardown. */
#define TESTGW_BOTH_WITH(f, setup, teardown)                                   \
	{ "sqlite_" #f, f, setup, teardown, &testgw_sqlite },                  \
	{                                                                      \
		"pg_" #f, f, setup, teardown, &testgw_pg                       \
	}

/* Test f on both backends with a plain opened database. */
#define TESTGW_BOTH(f) TESTGW_BOTH_WITH(f, testgw_setup, testgw_teardown)

/*
 * The first column of the one row sql answers, as an integer: sql takes no
 * parameter (testgw_int), one integer (_i) or one text (_t). Fails the
 * current test when the query fails or does not answer exactly one row.
 */
int64_t testgw_int(struct store *st, const char *sql);
int64_t testgw_int_i(struct store *st, const char *sql, int64_t arg);
int64_t testgw_int_t(struct store *st, const char *sql, const char *arg);

/*
 * Like testgw_int_i and testgw_int_t for a text column: a malloc'd copy
 * ("" for NULL) the caller frees.
 */
char *testgw_text_i(struct store *st, const char *sql, int64_t arg);
char *testgw_text_t(struct store *st, const char *sql, const char *arg);

/*
 * Adds operator login (a maker named 张三) to unit as testgw_counter;
 * rid, phone and pw may be NULL. Fails the current test when refused.
 * Returns the operator's id.
 */
int64_t testgw_add_op(struct store *st, const char *login, const char *unit,
    const char *rid, const char *phone, const char *pw);

#endif
