/* common/store_sqlite.c: the SQLite store backend (one file, WAL, synchronous=FULL). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/store.h"
#include "common/store_impl.h"

/* How long a writer waits for another one (milliseconds). */
#define SQ_BUSY_MS 10000

struct sq {
	sqlite3 *db;
	int64_t data_version; /* as of the last store_changed */
};

static int64_t
sq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Maps an SQLite result code to an enum uk_err and records the message. */
static int
sq_err(struct store *st, sqlite3 *db, int rc, const char *what)
{
	store_set_error(st, "%s: %s", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return UK_ERR_EXISTS;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return UK_ERR_STORE_BUSY;
	case SQLITE_NOMEM:
		return UK_ERR_NOMEM;
	default:
		return UK_ERR_STORE_QUERY;
	}
}

/* Runs sql and returns the first column of its first row as an integer
 * (or the text of it in text, when text is not NULL). Retries on
 * SQLITE_BUSY for up to SQ_BUSY_MS: switching a new file to WAL while
 * other connections do the same can be busy without the busy handler. */
static int
sq_pragma(struct store *st, sqlite3 *db, const char *sql, int64_t *v,
    char *text, size_t textlen)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *s;
	int64_t deadline = sq_now_ms() + SQ_BUSY_MS;
	int rc, r = UK_ERR_STORE_QUERY;

	for (;;) {
		rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(stmt);
			if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				break;
		}
		if ((rc & 0xff) != SQLITE_BUSY || sq_now_ms() > deadline) {
			r = sq_err(st, db, rc, sql);
			goto out;
		}
		sqlite3_finalize(stmt);
		stmt = NULL;
		usleep(5000);
	}
	if (rc == SQLITE_ROW) {
		if (v != NULL)
			*v = sqlite3_column_int64(stmt, 0);
		if (text != NULL && textlen > 0) {
			s = sqlite3_column_text(stmt, 0);
			snprintf(text, textlen, "%s",
			    s != NULL ? (const char *)s : "");
		}
	}
	r = 0;
out:
	sqlite3_finalize(stmt);
	return r;
}

/* Checks path: an existing regular file, or a new name in an existing
 * directory, which is then created empty with mode 0600 (*created = 1). */
static int
sq_prepare_path(struct store *st, const char *path, int *created)
{
	struct stat sb;
	char *copy = NULL;
	const char *dir;
	int fd, r = UK_ERR_STORE_OPEN;

	*created = 0;
	if (stat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode)) {
			store_set_error(st,
			    "%s is not a regular file (give a database file "
			    "path)",
			    path);
			r = UK_ERR_STORE_URL;
			goto out;
		}
		r = 0;
		goto out;
	}
	if (errno != ENOENT) {
		store_set_error(st, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((copy = strdup(path)) == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	dir = dirname(copy);
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		store_set_error(st,
		    "directory %s does not exist (for the database file %s)",
		    dir, path);
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 && errno != EEXIST) {
		store_set_error(st, "cannot create %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (fd != -1) {
		close(fd);
		*created = 1;
	}
	r = 0;
out:
	free(copy);
	return r;
}

static int
sq_open(struct store *st, const char *path)
{
	struct sq *sq = NULL;
	sqlite3 *db = NULL;
	char mode[16], why[STORE_ERR_MAX];
	int created = 0, rc, r = UK_ERR_STORE_OPEN;

	if ((r = sq_prepare_path(st, path, &created)) != 0)
		goto out;
	r = UK_ERR_STORE_OPEN;
	if ((sq = calloc(1, sizeof(*sq))) == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	/* The file exists now: never let SQLite create another. */
	rc = sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		sq_err(st, db, rc, path);
		r = UK_ERR_STORE_OPEN;
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SQ_BUSY_MS);
	if (sq_pragma(st, db, "PRAGMA journal_mode=WAL", NULL, mode,
	        sizeof(mode)) != 0)
		goto bad;
	if (strcmp(mode, "wal") != 0) {
		store_set_error(st,
		    "%s: cannot use WAL mode (journal mode is %s)", path, mode);
		goto out;
	}
	if (sq_pragma(st, db, "PRAGMA synchronous=FULL", NULL, NULL, 0) != 0 ||
	    sq_pragma(st, db, "PRAGMA foreign_keys=ON", NULL, NULL, 0) != 0)
		goto bad;
	sq->db = db;
	db = NULL; /* transferred */
	st->impl = sq;
	sq = NULL; /* transferred */
	r = 0;
	goto out;
bad:
	/* Keep SQLite's words ("file is not a database") but say where. */
	snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db));
	store_set_error(st, "%s: %s", path, why);
	r = UK_ERR_STORE_OPEN;
out:
	sqlite3_close(db);
	free(sq);
	if (r != 0 && created)
		unlink(path);
	return r;
}

static void
sq_close(struct store *st)
{
	struct sq *sq = st->impl;

	if (sq == NULL)
		return;
	sqlite3_close(sq->db);
	free(sq);
	st->impl = NULL;
}

static int
sq_begin(struct store *st, enum store_tx kind)
{
	struct sq *sq = st->impl;
	const char *sql = kind == STORE_TX_WRITE ? "BEGIN IMMEDIATE" : "BEGIN";
	int64_t deadline = sq_now_ms() + SQ_BUSY_MS;
	int rc;

	/* The busy handler waits inside BEGIN IMMEDIATE; retry as well for
	 * the cases where SQLite returns SQLITE_BUSY without waiting. */
	for (;;) {
		rc = sqlite3_exec(sq->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY || sq_now_ms() > deadline)
			return sq_err(st, sq->db, rc, sql);
		usleep(5000);
	}
}

static int
sq_commit(struct store *st)
{
	struct sq *sq = st->impl;
	int rc, r;

	if ((rc = sqlite3_exec(sq->db, "COMMIT", NULL, NULL, NULL)) ==
	    SQLITE_OK)
		return 0;
	r = sq_err(st, sq->db, rc, "COMMIT");
	if (!sqlite3_get_autocommit(sq->db))
		sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void
sq_rollback(struct store *st)
{
	struct sq *sq = st->impl;

	if (!sqlite3_get_autocommit(sq->db))
		sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
sq_bind(struct store *st, sqlite3 *db, sqlite3_stmt *stmt,
    const struct store_param *params, size_t n)
{
	size_t i;
	int rc = SQLITE_OK, idx;

	for (i = 0; i < n; i++) {
		idx = (int)i + 1;
		if (params[i].isnull)
			rc = sqlite3_bind_null(stmt, idx);
		else if (params[i].type == 't')
			rc = sqlite3_bind_text(stmt, idx, params[i].text, -1,
			    SQLITE_STATIC);
		else if (params[i].type == 'i')
			rc = sqlite3_bind_int64(stmt, idx, params[i].i);
		else
			rc = sqlite3_bind_blob64(stmt, idx, params[i].blob,
			    params[i].len, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			return sq_err(st, db, rc, "binding parameters");
	}
	return 0;
}

/* Copies the current row of stmt into a new row of res. */
static int
sq_copy_row(struct store *st, sqlite3_stmt *stmt, struct store_res *res)
{
	size_t col, ncols = store_res_cols(res), row, len;
	const void *p;
	unsigned char *dst;
	int r;

	if ((r = store_res_add_row(res)) != 0) {
		store_set_error(st, "out of memory");
		return r;
	}
	row = store_res_rows(res) - 1;
	for (col = 0; col < ncols; col++) {
		switch (sqlite3_column_type(stmt, (int)col)) {
		case SQLITE_NULL:
			continue;
		case SQLITE_BLOB:
			p = sqlite3_column_blob(stmt, (int)col);
			break;
		default:
			p = sqlite3_column_text(stmt, (int)col);
			break;
		}
		len = (size_t)sqlite3_column_bytes(stmt, (int)col);
		if ((dst = store_res_cell(res, row, col, len)) == NULL) {
			store_set_error(st, "out of memory");
			return UK_ERR_NOMEM;
		}
		if (len > 0 && p != NULL)
			memcpy(dst, p, len);
	}
	return 0;
}

static int
sq_exec(struct store *st, struct store_res **resp, const char *sql,
    const struct store_param *params, size_t n, int64_t *changes)
{
	struct sq *sq = st->impl;
	sqlite3_stmt *stmt = NULL;
	struct store_res *res = NULL;
	const char *tail = NULL;
	sqlite3_int64 before;
	int rc, r = UK_ERR_STORE_QUERY;

	rc = sqlite3_prepare_v2(sq->db, sql, -1, &stmt, &tail);
	if (rc != SQLITE_OK) {
		r = sq_err(st, sq->db, rc, "prepare");
		goto out;
	}
	if (stmt == NULL) {
		store_set_error(st, "empty SQL statement");
		goto out;
	}
	if (tail != NULL)
		tail += strspn(tail, " \t\r\n;");
	if (tail != NULL && *tail != '\0') {
		store_set_error(st, "one SQL statement per store_exec");
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((size_t)sqlite3_bind_parameter_count(stmt) != n) {
		store_set_error(st, "statement takes %d parameters, not %zu",
		    sqlite3_bind_parameter_count(stmt), n);
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((r = sq_bind(st, sq->db, stmt, params, n)) != 0)
		goto out;
	if (resp != NULL &&
	    (res = store_res_new((size_t)sqlite3_column_count(stmt))) == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	before = sqlite3_total_changes64(sq->db);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (res != NULL && (r = sq_copy_row(st, stmt, res)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(st, sq->db, rc, "query");
		goto out;
	}
	if (!sqlite3_stmt_readonly(stmt))
		*changes = sqlite3_total_changes64(sq->db) == before
		    ? 0
		    : sqlite3_changes64(sq->db);
	if (resp != NULL) {
		*resp = res;
		res = NULL; /* transferred */
	}
	r = 0;
out:
	sqlite3_finalize(stmt);
	store_res_free(res);
	return r;
}

static int
sq_script(struct store *st, const char *sql)
{
	struct sq *sq = st->impl;
	int rc;

	if ((rc = sqlite3_exec(sq->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return sq_err(st, sq->db, rc, "script");
	return 0;
}

static int
sq_listen(struct store *st)
{
	struct sq *sq = st->impl;

	return sq_pragma(st, sq->db, "PRAGMA data_version", &sq->data_version,
	    NULL, 0);
}

static int
sq_notify(struct store *st)
{
	(void)st;
	/* Every commit moves the other connections' data_version. */
	return 0;
}

static int
sq_changed(struct store *st)
{
	struct sq *sq = st->impl;
	int64_t v = 0;
	int r;

	if ((r = sq_pragma(st, sq->db, "PRAGMA data_version", &v, NULL, 0)) !=
	    0)
		return -r;
	if (v == sq->data_version)
		return 0;
	sq->data_version = v;
	return 1;
}

const struct store_ops store_sqlite_ops = {
	.backend = STORE_SQLITE,
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.script = sq_script,
	.listen = sq_listen,
	.notify = sq_notify,
	.changed = sq_changed,
};
