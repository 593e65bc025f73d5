/* tests/lib/testdb.h: a fresh database per test on SQLite or PostgreSQL, and scratch directories. */
#ifndef UK_TESTS_TESTDB_H
#define UK_TESTS_TESTDB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/store.h"

/* One test's database. Filled by testdb_new, emptied by testdb_drop. */
struct testdb {
	enum store_backend kind;
	char dir[512];   /* a directory of the test's own, both backends */
	char loc[1024];  /* path or URL to give store_open */
	char dbname[64]; /* PostgreSQL: the database created, else "" */
};

/*
 * Makes a scratch directory <UKEY_TEST_TMP or /tmp>/<name>.XXXXXX and writes
 * its path to dir. Returns 0, or -1 with errno set.
 */
int testdb_tmpdir(const char *name, char *dir, size_t dirlen);

/* Removes dir and everything under it; errors are ignored. */
void testdb_rmtree(const char *dir);

/*
 * Connects (once) to UKEY_TEST_PG_URL. Returns 0, or -1 with a reason in
 * err when the variable is unset or the server refuses.
 */
int testdb_pg_connect(char *err, size_t errlen);

/*
 * The connection to UKEY_TEST_PG_URL, connected if need be; fails the
 * current cmocka test when there is none. The library owns it.
 */
PGconn *testdb_pg(void);

/* Runs sql on testdb_pg(); fails the current test when it fails. */
void testdb_pg_exec(const char *sql);

/* Closes the connection to UKEY_TEST_PG_URL, if any. */
void testdb_pg_close(void);

/*
 * Writes to out the URL of database db on the server of UKEY_TEST_PG_URL
 * (same user, host, port and options). Returns 0, or -1 when the variable
 * is unset or malformed or out is too small.
 */
int testdb_url(const char *db, char *out, size_t outlen);

/*
 * Makes a fresh, empty database of kind kind in db: a new directory under
 * tmpdir, holding ukey.db on SQLite; on PostgreSQL a new database named
 * ukt_<tag>_<pid>_<n>. Fails the current cmocka test when it cannot.
 * Returns 0.
 */
int testdb_new(struct testdb *db, enum store_backend kind, const char *tmpdir,
    const char *tag);

/*
 * Drops what testdb_new made (the database, the directory and everything in
 * it); a zeroed db is a no-op. Returns 0, or -1 when PostgreSQL refused the
 * DROP.
 */
int testdb_drop(struct testdb *db);

#endif
