/* tests/unit/common/test_store.c: the store interface on SQLite and PostgreSQL (UKEY_TEST_PG_URL). */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "common/errors.h"
#include "common/migrations.h"
#include "common/store.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"

/* A fresh, empty database for one test, not opened. */
static int
setup_db(void **state)
{
	(void)testgw_new(state, sizeof(struct testgw_db), 0);
	return 0;
}

static struct store *
open_ok(struct testgw_db *fx)
{
	struct store *st = NULL;
	int r = store_open(fx->db.loc, &st);

	if (r != 0)
		fail_msg("store_open: %s: %s", uk_error_id(r),
		    store_last_error(NULL));
	assert_non_null(st);
	return st;
}

/* Runs sql (no parameters) and fails the test when it fails. */
static void
exec_ok(struct store *st, const char *sql)
{
	int r = store_exec(st, NULL, sql, "");

	if (r != 0)
		fail_msg("%s: %s: %s", sql, uk_error_id(r),
		    store_last_error(st));
}

/* The first column of the first row of sql with one text parameter (or
 * none when arg is NULL) as an integer. */
static int64_t
query_int(struct store *st, const char *sql, const char *arg)
{
	return arg != NULL ? testgw_int_t(st, sql, arg) : testgw_int(st, sql);
}

static void
add_unit(struct store *st, const char *id)
{
	int r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at) VALUES (?, ?, ?)", "tti",
	    id, "测试单位", (int64_t)1700000000);

	if (r != 0)
		fail_msg("insert unit %s: %s", id, store_last_error(st));
}

/* Inserts a certificate row for unit with serial (and sha256 derived). */
static int
add_cert(struct store *st, const char *unit, const char *serial)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	char sha[80];

	snprintf(sha, sizeof(sha), "sha-%s", serial);
	return store_exec(st, NULL,
	    "INSERT INTO certs (serial, unit_id, operator, profile, subject, "
	    "key_type, not_before, not_after, status, sha256, der, issued_at) "
	    "VALUES (?, ?, ?, 'operator', 'CN=t', 'ec-p256', ?, ?, 'good', ?, "
	    "?, ?)",
	    "tttiitbi", serial, unit, "op1", (int64_t)1700000000,
	    (int64_t)1731536000, sha, der, sizeof(der), (int64_t)1700000000);
}

/* open, migrate, reopen: idempotent, data kept. */
static void
test_open_migrate_reopen(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	size_t nmig;

	store_migrations(&nmig);
	assert_int_equal(store_backend(st), fx->kind);
	assert_int_equal(store_schema_version(st), store_migrations_latest());
	assert_int_equal(query_int(st, "SELECT count(*) FROM schema_migrations",
	                     NULL),
	    (int64_t)nmig);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM ca", NULL), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM certs", NULL), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM audit", NULL), 0);
	add_unit(st, "U1");
	store_close(st);

	st = open_ok(fx);
	assert_int_equal(store_schema_version(st), store_migrations_latest());
	assert_int_equal(query_int(st, "SELECT count(*) FROM schema_migrations",
	                     NULL),
	    (int64_t)nmig);
	assert_int_equal(query_int(st,
	                     "SELECT count(*) FROM units WHERE id = ?", "U1"),
	    1);
	store_close(st);
	store_close(NULL);
}

/* Several processes opening a fresh database at once migrate it once. */
static void
test_concurrent_open(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st;
	int go[2], status, i, ok = 0;
	pid_t pids[6];
	size_t nmig;
	char c;

	store_migrations(&nmig);
	assert_int_equal(pipe(go), 0);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			st = NULL;
			if (store_open(fx->db.loc, &st) != 0)
				_exit(1);
			store_close(st);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* all at once */
	for (i = 0; i < 6; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	assert_int_equal(ok, 6);
	st = open_ok(fx);
	assert_int_equal(query_int(st, "SELECT count(*) FROM schema_migrations",
	                     NULL),
	    (int64_t)nmig);
	store_close(st);
}

/* A database written by a newer program is refused and left alone. */
static void
test_schema_newer(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	int r;

	r = store_exec(st, NULL,
	    "INSERT INTO schema_migrations (version, name, applied_at) "
	    "VALUES (?, 'from the future', 0)",
	    "i", (int64_t)store_migrations_latest() + 1);
	assert_int_equal(r, 0);
	store_close(st);

	st = (struct store *)&st; /* must be reset to NULL */
	r = store_open(fx->db.loc, &st);
	assert_int_equal(r, UK_ERR_STORE_SCHEMA);
	assert_null(st);
	assert_non_null(strstr(store_last_error(NULL), "newer"));

	/* Again: the refusal changed nothing. */
	r = store_open(fx->db.loc, &st);
	assert_int_equal(r, UK_ERR_STORE_SCHEMA);
	assert_null(st);
}

/* Parameters t/i/b with NULLs, extremes, zero bytes; results alike. */
static void
test_params(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	struct store_res *res = NULL;
	static const unsigned char zeros[] = { 0, 1, 0, 0xff, 0, 0x80, 0 };
	static const char text[] = "住房公积金 'quoted' \"q\" ? \\x00 ;";
	unsigned char *big;
	const unsigned char *p;
	size_t len, i;

	big = malloc(70000);
	assert_non_null(big);
	for (i = 0; i < 70000; i++)
		big[i] = (unsigned char)(i % 7 == 0 ? 0 : i * 31);

	exec_ok(st,
	    "CREATE TABLE p (id INTEGER PRIMARY KEY, t TEXT, "
	    "i BIGINT, b @BLOB@)");
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO p (id, t, i, b) VALUES (?, ?, ?, ?)",
	                     "itib", (int64_t)1, text, INT64_MIN, zeros,
	                     sizeof(zeros)),
	    0);
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO p (id, t, i, b) VALUES (?, ?, ?, ?)",
	                     "itib", (int64_t)2, (const char *)NULL, INT64_MAX,
	                     (const unsigned char *)NULL, (size_t)0),
	    0);
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO p (id, t, i, b) VALUES (?, ?, ?, ?)",
	                     "itib", (int64_t)3, "", (int64_t)-1, zeros,
	                     (size_t)0),
	    0);
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO p (id, t, i, b) VALUES (?, ?, ?, ?)",
	                     "itib", (int64_t)4, "big", (int64_t)0, big,
	                     (size_t)70000),
	    0);

	assert_int_equal(store_exec(st, &res,
	                     "SELECT id, t, i, b FROM p ORDER BY id", ""),
	    0);
	assert_int_equal(store_res_rows(res), 4);
	/* row 0: text, INT64_MIN, blob with zero bytes */
	assert_int_equal(store_res_int(res, 0, 0), 1);
	assert_string_equal(store_res_text(res, 0, 1), text);
	assert_true(store_res_int(res, 0, 2) == INT64_MIN);
	p = store_res_blob(res, 0, 3, &len);
	assert_int_equal(len, sizeof(zeros));
	assert_memory_equal(p, zeros, sizeof(zeros));
	assert_false(store_res_isnull(res, 0, 3));
	/* row 1: NULLs and INT64_MAX */
	assert_true(store_res_isnull(res, 1, 1));
	assert_null(store_res_text(res, 1, 1));
	assert_true(store_res_int(res, 1, 2) == INT64_MAX);
	assert_true(store_res_isnull(res, 1, 3));
	assert_null(store_res_blob(res, 1, 3, &len));
	assert_int_equal(len, 0);
	/* row 2: empty text and empty blob are not NULL */
	assert_false(store_res_isnull(res, 2, 1));
	assert_string_equal(store_res_text(res, 2, 1), "");
	assert_int_equal(store_res_int(res, 2, 2), -1);
	assert_false(store_res_isnull(res, 2, 3));
	assert_non_null(store_res_blob(res, 2, 3, &len));
	assert_int_equal(len, 0);
	/* row 3: a 70000-byte blob */
	p = store_res_blob(res, 3, 3, &len);
	assert_int_equal(len, 70000);
	assert_memory_equal(p, big, 70000);
	/* out of range */
	assert_null(store_res_text(res, 4, 0));
	assert_null(store_res_text(res, 0, 4));
	assert_int_equal(store_res_int(res, 9, 9), 0);
	assert_null(store_res_blob(res, 0, 9, &len));
	assert_int_equal(len, 0);
	assert_true(store_res_isnull(res, 9, 0));
	assert_int_equal(store_res_int(res, 0, 1), 0); /* not a number */
	store_res_free(res);
	res = NULL;

	/* Parameters straight back, typed alike on both backends. */
	assert_int_equal(store_exec(st, &res,
	                     "SELECT ?, ?, ?, 'a?b' /* ? */, ? -- ?\n", "tibt",
	                     "x", (int64_t)42, zeros, sizeof(zeros),
	                     (const char *)NULL),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 0), "x");
	assert_int_equal(store_res_int(res, 0, 1), 42);
	p = store_res_blob(res, 0, 2, &len);
	assert_int_equal(len, sizeof(zeros));
	assert_memory_equal(p, zeros, sizeof(zeros));
	assert_string_equal(store_res_text(res, 0, 3), "a?b");
	assert_true(store_res_isnull(res, 0, 4));
	store_res_free(res);
	res = NULL;

	/* EXISTS reads as 0/1 on both (PostgreSQL answers t/f). */
	assert_int_equal(query_int(st,
	                     "SELECT EXISTS (SELECT 1 FROM p WHERE "
	                     "t = ?)",
	                     "big"),
	    1);
	assert_int_equal(query_int(st,
	                     "SELECT EXISTS (SELECT 1 FROM p WHERE "
	                     "t = ?)",
	                     "nope"),
	    0);

	/* INSERT ... RETURNING */
	assert_int_equal(store_exec(st, &res,
	                     "INSERT INTO p (id, t) VALUES (?, ?) RETURNING id",
	                     "it", (int64_t)5, "r"),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_int_equal(store_res_int(res, 0, 0), 5);
	store_res_free(res);
	res = NULL;

	/* Caller mistakes are errors, not crashes. */
	assert_int_equal(store_exec(st, &res, "SELECT ?, ?", "t", "a"),
	    UK_ERR_INTERNAL);
	assert_null(res);
	assert_int_equal(store_exec(st, NULL, "SELECT ?", "x", "a"),
	    UK_ERR_INTERNAL);
	assert_int_equal(store_exec(st, NULL, "SELECT ?1", "t", "a"),
	    UK_ERR_INTERNAL);
	assert_int_equal(store_exec(st, NULL, "SELECT 'open", ""),
	    UK_ERR_INTERNAL);
	assert_int_equal(store_exec(st, NULL, "SELECT * FROM no_such_table",
	                     ""),
	    UK_ERR_STORE_QUERY);
	assert_true(strlen(store_last_error(st)) > 0);
	assert_int_equal(store_exec(st, NULL, "SELECT 1; SELECT 2", ""),
	    UK_ERR_INTERNAL);
	assert_int_equal(store_exec(st, NULL, "SELECT ';' ; \n", ""), 0);
	/* still usable */
	assert_int_equal(query_int(st, "SELECT count(*) FROM p", NULL), 5);
	free(big);
	store_close(st);
}

/* A unique-constraint violation is UK_ERR_EXISTS. */
static void
test_unique(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	static const unsigned char d[] = { 1 };
	int r;

	add_unit(st, "U1");
	r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at) VALUES (?, ?, ?)", "tti",
	    "U1", "again", (int64_t)1);
	assert_int_equal(r, UK_ERR_EXISTS);
	/* unit ids are unique in any case (migration 7) */
	r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at) VALUES (?, ?, ?)", "tti",
	    "u1", "again", (int64_t)1);
	assert_int_equal(r, UK_ERR_EXISTS);
	assert_int_equal(add_cert(st, "U1", "0A"), 0);
	assert_int_equal(add_cert(st, "U1", "0A"), UK_ERR_EXISTS);
	/* sha256 UNIQUE, another serial */
	r = store_exec(st, NULL,
	    "INSERT INTO certs (serial, profile, subject, key_type, "
	    "not_before, not_after, status, sha256, der, issued_at) VALUES "
	    "('0B', 'operator', 'CN=t', 'ec', 0, 0, 'good', 'sha-0A', ?, 0)",
	    "b", d, sizeof(d));
	assert_int_equal(r, UK_ERR_EXISTS);
	/* the one-row ca table */
	r = store_exec(st, NULL,
	    "INSERT INTO ca (id, name, key_type, key_ref, root_der, "
	    "issuing_der, created_at) VALUES (1, 'CA', 'ec', 'file:k', ?, ?, "
	    "0)",
	    "bb", d, sizeof(d), d, sizeof(d));
	assert_int_equal(r, 0);
	r = store_exec(st, NULL,
	    "INSERT INTO ca (id, name, key_type, key_ref, root_der, "
	    "issuing_der, created_at) VALUES (1, 'CA', 'ec', 'file:k', ?, ?, "
	    "0)",
	    "bb", d, sizeof(d), d, sizeof(d));
	assert_int_equal(r, UK_ERR_EXISTS);
	/* ON CONFLICT DO NOTHING is the portable way to carry on */
	r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at) VALUES (?, ?, ?) "
	    "ON CONFLICT DO NOTHING",
	    "tti", "U1", "again", (int64_t)1);
	assert_int_equal(r, 0);
	assert_int_equal(store_changes(st), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 1);
	store_close(st);
}

/* Commit, rollback, nesting, and an error aborting the transaction. */
static void
test_transactions(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx), *other = open_ok(fx);

	store_rollback(st); /* none open: no-op */
	assert_false(store_in_transaction(st));
	assert_int_equal(store_commit(st), UK_ERR_INTERNAL);

	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	assert_true(store_in_transaction(st));
	assert_int_equal(store_begin(st, STORE_TX_WRITE), UK_ERR_INTERNAL);
	assert_true(store_in_transaction(st));
	add_unit(st, "R1");
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 1);
	store_rollback(st);
	assert_false(store_in_transaction(st));
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 0);

	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	add_unit(st, "C1");
	/* not visible to another connection before commit */
	assert_int_equal(query_int(other, "SELECT count(*) FROM units", NULL),
	    0);
	assert_int_equal(store_commit(st), 0);
	assert_false(store_in_transaction(st));
	assert_int_equal(query_int(other,
	                     "SELECT count(*) FROM units WHERE "
	                     "id = ?",
	                     "C1"),
	    1);

	/* A read transaction. */
	assert_int_equal(store_begin(other, STORE_TX_READ), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM units", NULL),
	    1);
	assert_int_equal(store_commit(other), 0);

	/* An error aborts the transaction alike on both backends. */
	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	add_unit(st, "A1");
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO units (id, created_at) VALUES "
	                     "('C1', 0)",
	                     ""),
	    UK_ERR_EXISTS);
	assert_int_equal(store_exec(st, NULL, "SELECT 1", ""),
	    UK_ERR_STORE_QUERY);
	assert_int_equal(store_commit(st), UK_ERR_STORE_QUERY);
	assert_false(store_in_transaction(st));
	assert_int_equal(query_int(other,
	                     "SELECT count(*) FROM units WHERE "
	                     "id = ?",
	                     "A1"),
	    0);
	/* and the store works afterwards */
	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	add_unit(st, "A2");
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(query_int(other, "SELECT count(*) FROM units", NULL),
	    2);

	/* SQLite: a read transaction whose snapshot went stale cannot
	 * write: UK_ERR_STORE_BUSY, not a lost update. PostgreSQL (read
	 * committed) lets it through. */
	assert_int_equal(store_begin(st, STORE_TX_READ), 0);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 2);
	add_unit(other, "S1");
	assert_int_equal(store_exec(st, NULL,
	                     "INSERT INTO units (id, created_at) VALUES "
	                     "('S2', 0)",
	                     ""),
	    fx->kind == STORE_SQLITE ? UK_ERR_STORE_BUSY : 0);
	store_rollback(st);

	/* store_close with a transaction open rolls it back. */
	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	add_unit(st, "Z1");
	store_close(st);
	assert_int_equal(query_int(other,
	                     "SELECT count(*) FROM units WHERE "
	                     "id = ?",
	                     "Z1"),
	    0);
	store_close(other);
}

/* SELECT ... FOR UPDATE runs on both; on PostgreSQL it really locks. */
static void
test_for_update(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx), *other = open_ok(fx);
	struct store_res *res = NULL;

	add_unit(st, "U1");
	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	assert_int_equal(store_exec(st, &res,
	                     "SELECT id, name FROM units WHERE id = ? FOR "
	                     "UPDATE",
	                     "t", "U1"),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 1), "测试单位");
	store_res_free(res);
	res = NULL;
	assert_int_equal(store_exec(st, &res,
	                     "select id from units where id = ?\n  for  update "
	                     ";",
	                     "t", "U1"),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	store_res_free(res);
	res = NULL;
	/* only a trailing FOR UPDATE outside quotes is dropped */
	assert_int_equal(store_exec(st, &res, "SELECT 'x FOR UPDATE'", ""), 0);
	assert_string_equal(store_res_text(res, 0, 0), "x FOR UPDATE");
	store_res_free(res);
	res = NULL;

	if (fx->kind == STORE_POSTGRES) {
		/* the row is locked: another transaction times out as BUSY */
		exec_ok(other, "SET lock_timeout = '100ms'");
		assert_int_equal(store_begin(other, STORE_TX_WRITE), 0);
		assert_int_equal(store_exec(other, NULL,
		                     "SELECT id FROM units WHERE id = ? FOR "
		                     "UPDATE",
		                     "t", "U1"),
		    UK_ERR_STORE_BUSY);
		store_rollback(other);
	}
	assert_int_equal(store_commit(st), 0);
	assert_int_equal(store_begin(other, STORE_TX_WRITE), 0);
	assert_int_equal(store_exec(other, &res,
	                     "SELECT id FROM units WHERE id = ? FOR UPDATE",
	                     "t", "U1"),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	store_res_free(res);
	assert_int_equal(store_commit(other), 0);
	store_close(other);
	store_close(st);
}

/* store_changes counts rows of the last INSERT/UPDATE/DELETE. */
static void
test_changes(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);

	add_unit(st, "U1");
	assert_int_equal(store_changes(st), 1);
	exec_ok(st,
	    "INSERT INTO units (id, created_at) VALUES ('U2', 0), "
	    "('U3', 0), ('U4', 0)");
	assert_int_equal(store_changes(st), 3);
	exec_ok(st, "UPDATE units SET name = 'n'");
	assert_int_equal(store_changes(st), 4);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL), 4);
	assert_int_equal(store_changes(st), 4); /* a SELECT leaves it */
	exec_ok(st, "DELETE FROM units WHERE id = 'none'");
	assert_int_equal(store_changes(st), 0);
	exec_ok(st, "DELETE FROM units WHERE id IN ('U1', 'U2')");
	assert_int_equal(store_changes(st), 2);
	store_close(st);
}

/* One contender: claim a certificate slot of unit U1 if fewer than 2. */
static int
claim_slot(const char *location, int ready_fd, int go_fd, int n)
{
	struct store *st = NULL;
	char serial[32], c = 'r';
	int64_t count;
	int r, attempt, rc = 2;

	if (store_open(location, &st) != 0)
		return 3;
	if (write(ready_fd, &c, 1) != 1)
		goto out;
	if (read(go_fd, &c, 1) < 0) /* 0: the parent closed it: go */
		goto out;
	snprintf(serial, sizeof(serial), "C%02d%d", n, (int)getpid());
	for (attempt = 0; attempt < 20; attempt++) {
		struct store_res *res = NULL;

		if ((r = store_begin(st, STORE_TX_WRITE)) == UK_ERR_STORE_BUSY)
			continue;
		if (r != 0)
			goto out;
		/* the parent row lock that serialises claims on PostgreSQL */
		if ((r = store_exec(st, &res,
		         "SELECT id FROM units WHERE id = ? FOR UPDATE", "t",
		         "U1")) != 0)
			goto retry;
		store_res_free(res);
		res = NULL;
		if ((r = store_exec(st, &res,
		         "SELECT count(*) FROM certs WHERE unit_id = ? AND "
		         "status = 'good'",
		         "t", "U1")) != 0)
			goto retry;
		count = store_res_int(res, 0, 0);
		store_res_free(res);
		if (count >= 2) {
			store_rollback(st);
			rc = 1;
			goto out;
		}
		usleep(10000); /* widen the race window */
		if ((r = add_cert(st, "U1", serial)) != 0)
			goto retry;
		if ((r = store_commit(st)) == 0) {
			rc = 0;
			goto out;
		}
	retry:
		store_rollback(st);
		if (r != UK_ERR_STORE_BUSY)
			goto out;
	}
out:
	store_close(st);
	return rc;
}

/* The 2-per-unit rule holds with 20 concurrent processes. */
static void
test_concurrency(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	int ready[2], go[2], status, i, n, inserted = 0, refused = 0;
	int errors = 0;
	pid_t pids[20];
	char c;

	add_unit(st, "U1");
	store_close(st);

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 20; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(claim_slot(fx->db.loc, ready[1], go[0], i));
		}
	}
	close(ready[1]);
	close(go[0]);
	for (n = 0; n < 20 && read(ready[0], &c, 1) == 1; n++)
		;
	close(go[1]); /* everyone starts at once */
	close(ready[0]);
	for (i = 0; i < 20; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			inserted++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			refused++;
		else
			errors++;
	}
	assert_int_equal(n, 20);
	assert_int_equal(errors, 0);
	assert_int_equal(inserted, 2);
	assert_int_equal(refused, 18);
	st = open_ok(fx);
	assert_int_equal(query_int(st,
	                     "SELECT count(*) FROM certs WHERE "
	                     "unit_id = ?",
	                     "U1"),
	    2);
	store_close(st);
}

/* Waits up to ms for store_changed(st) to say 1; returns the last answer. */
static int
wait_changed(struct store *st, int ms)
{
	int r, waited = 0;

	for (;;) {
		if ((r = store_changed(st)) != 0 || waited >= ms)
			return r;
		usleep(10000);
		waited += 10;
	}
}

/* store_listen / store_notify / store_changed across two connections. */
static void
test_notify(void **state)
{
	struct testgw_db *fx = *state;
	struct store *a = open_ok(fx), *b = open_ok(fx);

	assert_true(store_changed(a) < 0); /* not listening yet */
	assert_int_equal(store_listen(a), 0);
	assert_int_equal(store_changed(a), 0);

	/* b commits a change and announces it */
	assert_int_equal(store_begin(b, STORE_TX_WRITE), 0);
	add_unit(b, "N1");
	assert_int_equal(store_notify(b), 0);
	assert_int_equal(store_commit(b), 0);
	assert_int_equal(wait_changed(a, 3000), 1);
	assert_int_equal(store_changed(a), 0); /* consumed */

	/* a rolled-back change is not announced */
	assert_int_equal(store_begin(b, STORE_TX_WRITE), 0);
	add_unit(b, "N2");
	assert_int_equal(store_notify(b), 0);
	store_rollback(b);
	assert_int_equal(wait_changed(a, 300), 0);

	/* a's own change does not count */
	add_unit(a, "N3");
	assert_int_equal(store_notify(a), 0);
	assert_int_equal(wait_changed(a, 300), 0);

	/* outside a transaction too */
	assert_int_equal(store_notify(b), 0);
	if (fx->kind == STORE_SQLITE)
		assert_int_equal(wait_changed(a, 300), 0);
	else
		assert_int_equal(wait_changed(a, 3000), 1);

	/* SQLite reports any commit by another connection, PostgreSQL
	 * only announced ones */
	add_unit(b, "N4");
	if (fx->kind == STORE_SQLITE)
		assert_int_equal(wait_changed(a, 3000), 1);
	else
		assert_int_equal(wait_changed(a, 300), 0);

	store_close(b);
	store_close(a);
}

/* PostgreSQL: a connection the server dropped is re-established. */
static void
test_pg_reconnect(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	char sql[96];
	int64_t pid;
	int r;

	assert_int_equal(store_listen(st), 0);
	pid = query_int(st, "SELECT pg_backend_pid()", NULL);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)",
	    (long long)pid);
	testdb_pg_exec(sql);
	usleep(100000);
	/* the statement in flight fails: its outcome is unknown */
	r = store_exec(st, NULL, "SELECT 1", "");
	assert_true(r == UK_ERR_STORE_OPEN || r == 0);
	/* then the store reconnects on its own */
	add_unit(st, "U1");
	assert_true(query_int(st, "SELECT pg_backend_pid()", NULL) != pid);
	/* notifications may have been missed: say "changed" once */
	assert_int_equal(store_changed(st), 1);
	assert_int_equal(store_changed(st), 0);
	store_close(st);
}

/* Counts the entries of dir other than "." and "..". */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
expect_refused(const char *location, int want)
{
	struct store *st = NULL;
	int r = store_open(location, &st);

	if (r != want)
		fail_msg("store_open(\"%s\") gave %s (%s), want %s", location,
		    uk_error_id(r), store_last_error(NULL), uk_error_id(want));
	assert_null(st);
	assert_true(strlen(store_last_error(NULL)) > 10);
}

/* Bad locations are refused with a message and create nothing. */
static void
test_bad_urls(void **state)
{
	const char *url = getenv("UKEY_TEST_PG_URL");
	char dir[600], loc[1200], cwd[1024], name[64], sql[160];
	static const char junk[] = "this is a text file, not a database\n";
	struct stat sb;
	PGresult *res;
	int fd, i;

	(void)state;
	(void)testdb_pg();
	snprintf(dir, sizeof(dir), "%s/badurls", testgw_tmpdir());
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);

	expect_refused(NULL, UK_ERR_STORE_URL);
	expect_refused("", UK_ERR_STORE_URL);
	expect_refused("postgresql://", UK_ERR_STORE_URL);
	expect_refused("postgres://", UK_ERR_STORE_URL);
	expect_refused("postgres://host:notaport/x", UK_ERR_STORE_URL);
	expect_refused("postgresql://h:99999/x", UK_ERR_STORE_URL);
	expect_refused("postgresql://127.0.0.1:5432", UK_ERR_STORE_URL);
	assert_non_null(strstr(store_last_error(NULL), "database"));
	expect_refused("postgresql://u:secret@127.0.0.1:5432",
	    UK_ERR_STORE_URL);
	assert_null(strstr(store_last_error(NULL), "secret"));
	expect_refused("postgresql://[::1/x", UK_ERR_STORE_URL);
	expect_refused("postgresql://u:secret@[::1/x", UK_ERR_STORE_URL);
	assert_null(strstr(store_last_error(NULL), "secret"));
	expect_refused("postgresql://u:secret@h/x?bogus=1", UK_ERR_STORE_URL);
	assert_null(strstr(store_last_error(NULL), "secret"));
	expect_refused("mysql://host/db", UK_ERR_STORE_URL);
	expect_refused("sqlite:///x.db", UK_ERR_STORE_URL);
	expect_refused(".", UK_ERR_STORE_URL);
	expect_refused(dir, UK_ERR_STORE_URL);
	expect_refused("/dev/null", UK_ERR_STORE_URL);
	snprintf(loc, sizeof(loc), "%s/missing/ukey.db", dir);
	expect_refused(loc, UK_ERR_STORE_OPEN);
	expect_refused("missing/ukey.db", UK_ERR_STORE_OPEN);
	snprintf(loc, sizeof(loc), "%s/sub/", dir);
	expect_refused(loc, UK_ERR_STORE_OPEN);
	/* nothing listens on port 1 */
	expect_refused("postgresql://u@127.0.0.1:1/x", UK_ERR_STORE_OPEN);
	assert_int_equal(count_entries(dir), 0);

	/* a file that is not a database is left as it was */
	assert_true((fd = open("junk", O_WRONLY | O_CREAT, 0600)) >= 0);
	for (i = 0; i < 64; i++)
		assert_int_equal(write(fd, junk, sizeof(junk) - 1),
		    (ssize_t)sizeof(junk) - 1);
	close(fd);
	expect_refused("junk", UK_ERR_STORE_OPEN);
	assert_non_null(strstr(store_last_error(NULL), "junk"));
	assert_int_equal(stat("junk", &sb), 0);
	assert_int_equal(sb.st_size, 64 * (sizeof(junk) - 1));
	assert_int_equal(count_entries(dir), 1);
	unlink("junk");
	assert_int_equal(chdir(cwd), 0);
	rmdir(dir);

	/* a database that does not exist on a running server */
	assert_non_null(url);
	snprintf(name, sizeof(name), "ukt_absent_%d", (int)getpid());
	assert_int_equal(testdb_url(name, loc, sizeof(loc)), 0);
	expect_refused(loc, UK_ERR_STORE_OPEN);
	assert_non_null(strstr(store_last_error(NULL), name));
	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM pg_database WHERE datname = '%s'", name);
	res = PQexec(testdb_pg(), sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
}

/* SQLite specifics: WAL, mode 0600 whatever the umask. */
static void
test_sqlite_file(void **state)
{
	struct testgw_db *fx = *state;
	struct store_res *res = NULL;
	struct store *st;
	struct stat sb;
	char path[1100];
	mode_t old;

	old = umask(022);
	st = open_ok(fx);
	umask(old);
	assert_int_equal(store_exec(st, &res, "PRAGMA journal_mode", ""), 0);
	assert_string_equal(store_res_text(res, 0, 0), "wal");
	store_res_free(res);
	res = NULL;
	assert_int_equal(store_exec(st, &res, "PRAGMA synchronous", ""), 0);
	assert_int_equal(store_res_int(res, 0, 0), 2); /* FULL */
	store_res_free(res);
	res = NULL;
	assert_int_equal(store_exec(st, &res, "PRAGMA foreign_keys", ""), 0);
	assert_int_equal(store_res_int(res, 0, 0), 1);
	store_res_free(res);
	add_unit(st, "U1");
	assert_int_equal(stat(fx->db.loc, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s-wal", fx->db.loc);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s-shm", fx->db.loc);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_close(st);
}

/* The synchronous setting of st's connection as text ("2"/"on"). */
static void
sync_setting(struct testgw_db *fx, struct store *st, char *buf, size_t len)
{
	struct store_res *res = NULL;
	int r = store_exec(st, &res,
	    fx->kind == STORE_SQLITE ? "PRAGMA synchronous"
	                             : "SHOW synchronous_commit",
	    "");

	if (r != 0)
		fail_msg("synchronous: %s", store_last_error(st));
	assert_int_equal(store_res_rows(res), 1);
	snprintf(buf, len, "%s", store_res_text(res, 0, 0));
	store_res_free(res);
}

/* The relaxed and group-commit write transactions: committed rows are seen
 * by another connection, rollback undoes, the connection is back to full
 * durability for what follows (PostgreSQL at once; SQLite before the next
 * durable write: a plain write transaction or a write outside one),
 * store_tx_durable upgrades and checks its state. */
static void
test_tx_kinds(void **state)
{
	struct testgw_db *fx = *state;
	struct store *a = open_ok(fx), *b = open_ok(fx);
	const char *full = fx->kind == STORE_SQLITE ? "2" : "on";
	const char *after = fx->kind == STORE_SQLITE ? "1" : "on";
	char v[32];

	assert_int_equal(store_tx_durable(a), UK_ERR_INTERNAL);
	assert_int_equal(store_begin(a, (enum store_tx)7), UK_ERR_INTERNAL);
	assert_false(store_in_transaction(a));

	assert_int_equal(store_begin(a, STORE_TX_WRITE_RELAXED), 0);
	add_unit(a, "R1");
	if (fx->kind == STORE_POSTGRES) {
		sync_setting(fx, a, v, sizeof(v));
		assert_string_equal(v, "off");
	}
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units WHERE id = ?",
	                     "R1"),
	    1);
	sync_setting(fx, a, v, sizeof(v));
	assert_string_equal(v, after);
	/* a write outside a transaction is durable again */
	add_unit(a, "A1");
	sync_setting(fx, a, v, sizeof(v));
	assert_string_equal(v, full);

	/* upgraded: durable at commit */
	assert_int_equal(store_begin(a, STORE_TX_WRITE_RELAXED), 0);
	add_unit(a, "R2");
	assert_int_equal(store_tx_durable(a), 0);
	if (fx->kind == STORE_POSTGRES) {
		sync_setting(fx, a, v, sizeof(v));
		assert_string_equal(v, "on");
	}
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units WHERE id = ?",
	                     "R2"),
	    1);

	/* group commit: rollback undoes, commit shows */
	assert_int_equal(store_begin(a, STORE_TX_WRITE_GROUP), 0);
	add_unit(a, "G1");
	store_rollback(a);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units WHERE id = ?",
	                     "G1"),
	    0);
	sync_setting(fx, a, v, sizeof(v));
	assert_string_equal(v, after);
	assert_int_equal(store_begin(a, STORE_TX_WRITE_GROUP), 0);
	add_unit(a, "G1");
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units WHERE id = ?",
	                     "G1"),
	    1);

	/* a failed statement: store_tx_durable refuses, commit rolls back */
	assert_int_equal(store_begin(a, STORE_TX_WRITE_RELAXED), 0);
	add_unit(a, "R3");
	assert_int_not_equal(store_exec(a, NULL, "SELECT nonsense FROM nowhere",
	                         ""),
	    0);
	assert_int_equal(store_tx_durable(a), UK_ERR_STORE_QUERY);
	assert_int_equal(store_commit(a), UK_ERR_STORE_QUERY);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units WHERE id = ?",
	                     "R3"),
	    0);
	sync_setting(fx, a, v, sizeof(v));
	assert_string_equal(v, after);

	/* the plain kinds still work after the others, fully durable */
	assert_int_equal(store_begin(a, STORE_TX_WRITE), 0);
	sync_setting(fx, a, v, sizeof(v));
	assert_string_equal(v, full);
	add_unit(a, "W1");
	assert_int_equal(store_commit(a), 0);
	assert_int_equal(query_int(b, "SELECT count(*) FROM units", NULL), 5);
	store_close(a);
	store_close(b);
}

struct group_arg {
	const char *loc;
	int idx;
	int failed;
};

#define GROUP_THREADS 4
#define GROUP_TX 25

static void *
group_writer(void *p)
{
	struct group_arg *g = p;
	struct store *st = NULL;
	char id[32];
	int i;

	if (store_open(g->loc, &st) != 0) {
		g->failed = 1;
		return NULL;
	}
	for (i = 0; i < GROUP_TX; i++) {
		snprintf(id, sizeof(id), "T%d-%d", g->idx, i);
		if (store_begin(st, STORE_TX_WRITE_GROUP) != 0 ||
		    store_exec(st, NULL,
		        "INSERT INTO units (id, name, created_at) "
		        "VALUES (?, 'x', 1)",
		        "t", id) != 0 ||
		    store_commit(st) != 0) {
			store_rollback(st);
			g->failed = 1;
			break;
		}
	}
	store_close(st);
	return NULL;
}

/* Group commits from several threads (sharing fsyncs on SQLite) all land. */
static void
test_group_threads(void **state)
{
	struct testgw_db *fx = *state;
	struct group_arg args[GROUP_THREADS];
	pthread_t th[GROUP_THREADS];
	struct store *st;
	int i;

	for (i = 0; i < GROUP_THREADS; i++) {
		args[i].loc = fx->db.loc;
		args[i].idx = i;
		args[i].failed = 0;
		assert_int_equal(pthread_create(&th[i], NULL, group_writer,
		                     &args[i]),
		    0);
	}
	for (i = 0; i < GROUP_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failed, 0);
	}
	st = open_ok(fx);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL),
	    GROUP_THREADS * GROUP_TX);
	store_close(st);
}

/* Statements reused (SQLite caches them per connection): more distinct
 * statements than the cache holds, each run again with right results; a
 * cached statement follows a schema change; and none keeps a read open
 * after its store_exec (a checkpoint is not held up). */
static void
test_stmt_reuse(void **state)
{
	struct testgw_db *fx = *state;
	struct store *a = open_ok(fx), *b = open_ok(fx);
	struct store_res *res = NULL;
	char sql[64];
	int64_t k, round;

	for (round = 0; round < 3; round++)
		for (k = 0; k < 100; k++) {
			snprintf(sql, sizeof(sql), "SELECT ? + %lld",
			    (long long)k);
			assert_int_equal(store_exec(a, &res, sql, "i", round),
			    0);
			assert_int_equal(store_res_int(res, 0, 0), round + k);
			store_res_free(res);
			res = NULL;
		}
	exec_ok(a, "CREATE TABLE reuse_t (x INTEGER)");
	exec_ok(a, "INSERT INTO reuse_t (x) VALUES (1)");
	assert_int_equal(store_exec(a, &res, "SELECT * FROM reuse_t ORDER BY x",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	store_res_free(res);
	exec_ok(b, "ALTER TABLE reuse_t ADD COLUMN y INTEGER");
	exec_ok(b, "INSERT INTO reuse_t (x, y) VALUES (2, 5)");
	assert_int_equal(store_exec(a, &res, "SELECT * FROM reuse_t ORDER BY x",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 2);
	assert_int_equal(store_res_int(res, 1, 1), 5);
	store_res_free(res);
	res = NULL;
	/* two statements in one store_exec are still refused */
	assert_int_equal(store_exec(a, NULL, "SELECT 1; SELECT 2", ""),
	    UK_ERR_INTERNAL);
	if (fx->kind == STORE_SQLITE) {
		add_unit(b, "C1");
		assert_int_equal(query_int(a, "SELECT count(*) FROM units",
		                     NULL),
		    1);
		add_unit(b, "C2");
		/* busy = 0: no reader of a holds an old snapshot */
		assert_int_equal(store_exec(b, &res,
		                     "PRAGMA wal_checkpoint(TRUNCATE)", ""),
		    0);
		assert_int_equal(store_res_int(res, 0, 0), 0);
		store_res_free(res);
	}
	store_close(a);
	store_close(b);
}

/* SQLite: the commits checkpoint the WAL themselves (after the commit,
 * not inside it), in transactions and outside them, so the WAL stays
 * bounded under a steady stream of small writes. */
static void
test_sqlite_checkpoints(void **state)
{
	struct testgw_db *fx = *state;
	struct store *st = open_ok(fx);
	char path[1100], id[32];
	struct stat sb;
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "K%d", i);
		if (i % 2 == 0) {
			add_unit(st, id);
			continue;
		}
		assert_int_equal(store_begin(st, STORE_TX_WRITE_RELAXED), 0);
		add_unit(st, id);
		assert_int_equal(store_commit(st), 0);
	}
	snprintf(path, sizeof(path), "%s-wal", fx->db.loc);
	assert_int_equal(stat(path, &sb), 0);
	/* 3000 commits of two or more pages each would be 24 MB or more;
	 * checkpoints every 1000 frames let the WAL restart from the top */
	assert_true(sb.st_size < 1100 * (4096 + 24) + 32);
	assert_int_equal(query_int(st, "SELECT count(*) FROM units", NULL),
	    3000);
	store_close(st);
}

#define BOTH(f) TESTGW_BOTH_WITH(f, setup_db, testgw_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_open_migrate_reopen),
		BOTH(test_concurrent_open),
		BOTH(test_schema_newer),
		BOTH(test_params),
		BOTH(test_unique),
		BOTH(test_transactions),
		BOTH(test_for_update),
		BOTH(test_changes),
		BOTH(test_concurrency),
		BOTH(test_notify),
		BOTH(test_tx_kinds),
		BOTH(test_group_threads),
		BOTH(test_stmt_reuse),
		cmocka_unit_test(test_bad_urls),
		{ "pg_test_reconnect", test_pg_reconnect, setup_db,
		    testgw_teardown, &testgw_pg },
		{ "sqlite_test_file", test_sqlite_file, setup_db,
		    testgw_teardown, &testgw_sqlite },
		{ "sqlite_test_checkpoints", test_sqlite_checkpoints, setup_db,
		    testgw_teardown, &testgw_sqlite },
	};
	int r;

	if (testgw_begin("store") != 0)
		return 1;
	r = cmocka_run_group_tests_name("store", tests, NULL, NULL);
	return testgw_end(r);
}
