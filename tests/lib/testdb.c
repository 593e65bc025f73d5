/* tests/lib/testdb.c: a fresh database per test on SQLite or PostgreSQL, and scratch directories. */
#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tests/lib/testdb.h"

static PGconn *admin;    /* connection to UKEY_TEST_PG_URL */
static unsigned dbcount; /* databases made so far by this program */

int
testdb_tmpdir(const char *name, char *dir, size_t dirlen)
{
	const char *base = getenv("UKEY_TEST_TMP");
	int n;

	n = snprintf(dir, dirlen, "%s/%s.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp", name);
	if (n < 0 || (size_t)n >= dirlen)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testdb_rmtree(const char *dir)
{
	if (dir != NULL && *dir != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
testdb_pg_connect(char *err, size_t errlen)
{
	const char *url = getenv("UKEY_TEST_PG_URL");

	if (url == NULL || *url == '\0') {
		snprintf(err, errlen,
		    "UKEY_TEST_PG_URL is not set: the "
		    "PostgreSQL half of these tests cannot "
		    "run (tests/run.sh sets it)");
		return -1;
	}
	if (admin != NULL && PQstatus(admin) == CONNECTION_OK)
		return 0;
	PQfinish(admin);
	admin = PQconnectdb(url);
	if (PQstatus(admin) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to UKEY_TEST_PG_URL: %s",
		    PQerrorMessage(admin));
		PQfinish(admin);
		admin = NULL;
		return -1;
	}
	return 0;
}

PGconn *
testdb_pg(void)
{
	char err[512];

	if (testdb_pg_connect(err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return admin;
}

void
testdb_pg_exec(const char *sql)
{
	PGresult *res = PQexec(testdb_pg(), sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

void
testdb_pg_close(void)
{
	PQfinish(admin);
	admin = NULL;
}

int
testdb_url(const char *db, char *out, size_t outlen)
{
	const char *url = getenv("UKEY_TEST_PG_URL");
	const char *p, *slash, *q;
	int n;

	if (url == NULL || (p = strstr(url, "://")) == NULL)
		return -1;
	p += 3;
	q = strchr(p, '?');
	slash = strchr(p, '/');
	if (slash == NULL || (q != NULL && slash > q))
		slash = q != NULL ? q : p + strlen(p);
	n = snprintf(out, outlen, "%.*s/%s%s", (int)(slash - url), url, db,
	    q != NULL ? q : "");
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
testdb_new(struct testdb *db, enum store_backend kind, const char *tmpdir,
    const char *tag)
{
	char sql[128];
	int n;

	memset(db, 0, sizeof(*db));
	db->kind = kind;
	dbcount++;
	n = snprintf(db->dir, sizeof(db->dir), "%s/db%u", tmpdir, dbcount);
	assert_true(n > 0 && (size_t)n < sizeof(db->dir));
	if (mkdir(db->dir, 0700) != 0) {
		db->dir[0] = '\0';
		fail_msg("mkdir %s/db%u failed", tmpdir, dbcount);
	}
	if (kind == STORE_SQLITE) {
		n = snprintf(db->loc, sizeof(db->loc), "%s/ukey.db", db->dir);
		assert_true(n > 0 && (size_t)n < sizeof(db->loc));
		return 0;
	}
	(void)testdb_pg();
	snprintf(db->dbname, sizeof(db->dbname), "ukt_%s_%d_%u", tag,
	    (int)getpid(), dbcount);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->dbname);
	testdb_pg_exec(sql);
	assert_int_equal(testdb_url(db->dbname, db->loc, sizeof(db->loc)), 0);
	return 0;
}

int
testdb_drop(struct testdb *db)
{
	char sql[160];
	PGresult *res;
	int r = 0;

	if (db->dbname[0] != '\0' && admin != NULL) {
		snprintf(sql, sizeof(sql),
		    "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->dbname);
		res = PQexec(admin, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			print_message("# %s: %s", sql,
			    PQresultErrorMessage(res));
			r = -1;
		}
		PQclear(res);
	}
	testdb_rmtree(db->dir);
	memset(db, 0, sizeof(*db));
	return r;
}
