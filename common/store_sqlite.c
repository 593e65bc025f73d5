/* common/store_sqlite.c: the SQLite store backend (one file, WAL, synchronous=FULL, cached statements, group commit). */
#include <sys/stat.h>

#include <pthread.h>

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

/* Prepared statements kept per connection (least recently used go). */
#define SQ_CACHE 48

/* One cached statement: its SQL text (a copy) and a hash of it. */
struct sq_stmt {
	char *sql;
	uint64_t hash;
	sqlite3_stmt *stmt;
	uint64_t used; /* tick of the last use; 0: free slot */
};

/*
 * Group commit, per database file and process: a transaction committed with
 * synchronous=NORMAL has written its WAL frames but not synced them; one
 * fsync of the WAL (an inode shared by every connection) makes every frame
 * written before it durable. committed counts such commits; synced is the
 * highest count a finished fsync covers; one thread syncs at a time and the
 * others wait for a sync that started after their commit.
 *
 * Writers of one process also queue on wlock before BEGIN IMMEDIATE:
 * SQLite's busy handler would have them sleep and poll (1, 2, 5 ms, ...)
 * while another holds the write lock, which under many concurrent
 * logins costs more than the work. The handler still serves writers of
 * other processes. Checkpoints run after the commit, outside wlock,
 * instead of inside the commit that crossed the threshold.
 */
struct sq_group {
	dev_t dev;
	ino_t ino;
	int refs; /* connections using it; guarded by sq_groups_lock */
	pthread_mutex_t lock;
	pthread_cond_t done;
	pthread_mutex_t wlock; /* one writer of this process at a time */
	uint64_t committed, synced;
	int syncing;
	struct sq_group *next;
};

static pthread_mutex_t sq_groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sq_group *sq_groups;

struct sq {
	sqlite3 *db;
	int64_t data_version; /* as of the last store_changed */
	struct sq_stmt cache[SQ_CACHE];
	uint64_t tick;
	enum store_tx kind;     /* of the open transaction */
	int relaxed;            /* synchronous=NORMAL is set */
	struct sq_group *group; /* NULL when the file could not be stat'ed */
	int wheld;              /* this connection holds group->wlock */
	int wal_frames;         /* the WAL's size after the last commit */
};

/* WAL frames after which a commit is followed by a checkpoint (SQLite's
 * own default threshold). */
#define SQ_CHECKPOINT_FRAMES 1000

/* Bytes of the database file mapped for reading (PRAGMA mmap_size). */
#define SQ_MMAP_SIZE "268435456"

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

/* ---- the statement cache ---- */

static uint64_t
sq_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Finalizes every cached statement of sq. */
static void
sq_cache_clear(struct sq *sq)
{
	size_t i;

	for (i = 0; i < SQ_CACHE; i++) {
		sqlite3_finalize(sq->cache[i].stmt);
		free(sq->cache[i].sql);
		memset(&sq->cache[i], 0, sizeof(sq->cache[i]));
	}
}

/*
 * The prepared statement for sql (exactly one statement), from the cache or
 * prepared and cached now, evicting the least recently used. *stmt is
 * owned by the cache: the caller resets it after use (sq_release) and never
 * finalizes it. Returns 0 or an enum uk_err (message set).
 */
static int
sq_stmt_get(struct store *st, struct sq *sq, const char *sql,
    sqlite3_stmt **stmt)
{
	struct sq_stmt *e, *lru = &sq->cache[0];
	sqlite3_stmt *s = NULL;
	const char *tail = NULL;
	uint64_t h = sq_hash(sql);
	char *copy = NULL;
	size_t i;
	int rc, r = UK_ERR_STORE_QUERY;

	*stmt = NULL;
	for (i = 0; i < SQ_CACHE; i++) {
		e = &sq->cache[i];
		if (e->used != 0 && e->hash == h && strcmp(e->sql, sql) == 0) {
			e->used = ++sq->tick;
			*stmt = e->stmt;
			return 0;
		}
		if (e->used < lru->used)
			lru = e;
	}
	rc = sqlite3_prepare_v3(sq->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
	    &tail);
	if (rc != SQLITE_OK) {
		r = sq_err(st, sq->db, rc, "prepare");
		goto out;
	}
	if (s == NULL) {
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
	if ((copy = strdup(sql)) == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	sqlite3_finalize(lru->stmt);
	free(lru->sql);
	lru->sql = copy;
	copy = NULL; /* transferred */
	lru->hash = h;
	lru->stmt = s;
	lru->used = ++sq->tick;
	*stmt = s;
	s = NULL; /* transferred */
	r = 0;
out:
	free(copy);
	sqlite3_finalize(s);
	return r;
}

/* Resets a cached statement after use (ends its read of the database) and
 * forgets its bindings, which point into the caller's memory. */
static void
sq_release(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Runs one cached statement without parameters or rows ("BEGIN", a
 * PRAGMA). Returns the SQLite result code. */
static int
sq_run(struct store *st, struct sq *sq, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (sq_stmt_get(st, sq, sql, &stmt) != 0)
		return sqlite3_errcode(sq->db) != SQLITE_OK
		    ? sqlite3_extended_errcode(sq->db)
		    : SQLITE_ERROR;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- group commit ---- */

/* The group of the database file at path (shared with the other
 * connections of this process to it), or NULL when it cannot be had; then
 * transactions that would share a sync commit with synchronous=FULL. */
static struct sq_group *
sq_group_get(const char *path)
{
	struct sq_group *g;
	struct stat sb;

	if (stat(path, &sb) != 0)
		return NULL;
	pthread_mutex_lock(&sq_groups_lock);
	for (g = sq_groups; g != NULL; g = g->next)
		if (g->dev == sb.st_dev && g->ino == sb.st_ino)
			break;
	if (g == NULL && (g = calloc(1, sizeof(*g))) != NULL) {
		if (pthread_mutex_init(&g->lock, NULL) != 0) {
			free(g);
			g = NULL;
		} else if (pthread_cond_init(&g->done, NULL) != 0) {
			pthread_mutex_destroy(&g->lock);
			free(g);
			g = NULL;
		} else if (pthread_mutex_init(&g->wlock, NULL) != 0) {
			pthread_cond_destroy(&g->done);
			pthread_mutex_destroy(&g->lock);
			free(g);
			g = NULL;
		} else {
			g->dev = sb.st_dev;
			g->ino = sb.st_ino;
			g->next = sq_groups;
			sq_groups = g;
		}
	}
	if (g != NULL)
		g->refs++;
	pthread_mutex_unlock(&sq_groups_lock);
	return g;
}

static void
sq_group_put(struct sq_group *g)
{
	struct sq_group **pp;

	if (g == NULL)
		return;
	pthread_mutex_lock(&sq_groups_lock);
	if (--g->refs == 0) {
		for (pp = &sq_groups; *pp != NULL; pp = &(*pp)->next)
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		pthread_cond_destroy(&g->done);
		pthread_mutex_destroy(&g->lock);
		pthread_mutex_destroy(&g->wlock);
		free(g);
	}
	pthread_mutex_unlock(&sq_groups_lock);
}

/* Takes the group's writer lock, waiting until deadline (ms, sq_now_ms's
 * clock). Returns SQLITE_OK, or SQLITE_BUSY when it stayed held. */
static int
sq_wlock(struct sq *sq, int64_t deadline)
{
	struct timespec ts;
	int64_t left;
	int e;

	if (sq->group == NULL || sq->wheld)
		return SQLITE_OK;
	if (pthread_mutex_trylock(&sq->group->wlock) != 0) {
		left = deadline - sq_now_ms();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(left > 0 ? left / 1000 : 0);
		ts.tv_nsec += (long)(left > 0 ? left % 1000 : 0) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if ((e = pthread_mutex_timedlock(&sq->group->wlock, &ts)) != 0)
			return SQLITE_BUSY;
	}
	sq->wheld = 1;
	return SQLITE_OK;
}

static void
sq_wunlock(struct sq *sq)
{
	if (sq->wheld) {
		sq->wheld = 0;
		pthread_mutex_unlock(&sq->group->wlock);
	}
}

/* Records the WAL's size at each commit (this replaces SQLite's own
 * checkpoint-inside-commit hook). */
static int
sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sq *sq = arg;

	(void)db;
	(void)name;
	sq->wal_frames = frames;
	return SQLITE_OK;
}

/* After a commit, outside the writer lock: a passive checkpoint once the
 * WAL has grown past the threshold (it neither waits for nor blocks
 * readers and writers; one running elsewhere makes this one a no-op). */
static void
sq_maybe_checkpoint(struct sq *sq)
{
	if (sq->wal_frames < SQ_CHECKPOINT_FRAMES)
		return;
	sq->wal_frames = 0;
	(void)sqlite3_wal_checkpoint_v2(sq->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
}

/* fsyncs the WAL through this connection's own handle of it (SQLite's
 * file object: no second descriptor, so no POSIX lock is disturbed). */
static int
sq_wal_sync(struct sq *sq)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(sq->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	        &f) != SQLITE_OK ||
	    f == NULL || f->pMethods == NULL)
		return SQLITE_ERROR;
	return f->pMethods->xSync(f, SQLITE_SYNC_FULL);
}

/* After a commit with synchronous=NORMAL: returns once a sync of the WAL
 * that started after that commit has finished, running it when no other
 * connection of the group is. Returns 0 or UK_ERR_STORE_QUERY. */
static int
sq_group_sync(struct store *st, struct sq *sq)
{
	struct sq_group *g = sq->group;
	uint64_t mine, target;
	int rc = SQLITE_OK;

	if (g == NULL) {
		rc = sq_wal_sync(sq);
		goto out;
	}
	pthread_mutex_lock(&g->lock);
	mine = ++g->committed;
	while (g->synced < mine) {
		if (g->syncing) {
			pthread_cond_wait(&g->done, &g->lock);
			continue;
		}
		g->syncing = 1;
		target = g->committed;
		pthread_mutex_unlock(&g->lock);
		rc = sq_wal_sync(sq);
		pthread_mutex_lock(&g->lock);
		g->syncing = 0;
		if (rc == SQLITE_OK && target > g->synced)
			g->synced = target;
		pthread_cond_broadcast(&g->done);
		if (rc != SQLITE_OK)
			break;
	}
	pthread_mutex_unlock(&g->lock);
out:
	if (rc != SQLITE_OK) {
		store_set_error(st,
		    "COMMIT: the write-ahead log could not be synced "
		    "(committed, durability unknown): %s",
		    sqlite3_errstr(rc));
		return UK_ERR_STORE_QUERY;
	}
	return 0;
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
	/* Pages of the database file read through a shared mapping instead
	 * of a read() each: every write of another connection empties this
	 * connection's page cache, so a busy gateway reads often. Writes
	 * still go through write(). */
	(void)sq_pragma(st, db, "PRAGMA mmap_size=" SQ_MMAP_SIZE, NULL, NULL,
	    0);
	sq->group = sq_group_get(path);
	sqlite3_wal_hook(db, sq_wal_hook, sq);
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
	sq_cache_clear(sq);
	sqlite3_close(sq->db);
	sq_wunlock(sq);
	sq_group_put(sq->group);
	free(sq);
	st->impl = NULL;
}

/* Back to synchronous=FULL after relaxed or group transactions: before a
 * plain write transaction or a write outside a transaction (lazily, so a
 * run of relaxed and group transactions switches no pragma). */
static void
sq_unrelax(struct store *st, struct sq *sq)
{
	if (!sq->relaxed)
		return;
	if (sq_run(st, sq, "PRAGMA synchronous=FULL") == SQLITE_OK)
		sq->relaxed = 0;
}

static int
sq_begin(struct store *st, enum store_tx kind)
{
	struct sq *sq = st->impl;
	const char *sql = kind == STORE_TX_READ ? "BEGIN" : "BEGIN IMMEDIATE";
	int64_t deadline = sq_now_ms() + SQ_BUSY_MS;
	int rc;

	if (sq->relaxed && kind == STORE_TX_WRITE) {
		sq_unrelax(st, sq);
		if (sq->relaxed)
			return sq_err(st, sq->db, sqlite3_errcode(sq->db),
			    "PRAGMA synchronous=FULL");
	}
	if ((kind == STORE_TX_WRITE_RELAXED || kind == STORE_TX_WRITE_GROUP) &&
	    !sq->relaxed) {
		if ((rc = sq_run(st, sq, "PRAGMA synchronous=NORMAL")) !=
		    SQLITE_OK)
			return sq_err(st, sq->db, rc,
			    "PRAGMA synchronous=NORMAL");
		sq->relaxed = 1;
	}
	sq->kind = kind;
	if (kind != STORE_TX_READ && sq_wlock(sq, deadline) != SQLITE_OK) {
		store_set_error(st,
		    "%s: another writer of this process held "
		    "the database for %d ms",
		    sql, SQ_BUSY_MS);
		return UK_ERR_STORE_BUSY;
	}
	/* The busy handler waits inside BEGIN IMMEDIATE; retry as well for
	 * the cases where SQLite returns SQLITE_BUSY without waiting. */
	for (;;) {
		rc = sq_run(st, sq, sql);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY || sq_now_ms() > deadline) {
			rc = sq_err(st, sq->db, rc, sql);
			sq_wunlock(sq);
			return rc;
		}
		usleep(5000);
	}
}

static int
sq_durable(struct store *st)
{
	struct sq *sq = st->impl;

	if (sq->kind == STORE_TX_WRITE_RELAXED)
		sq->kind = STORE_TX_WRITE_GROUP;
	return 0;
}

static int
sq_commit(struct store *st)
{
	struct sq *sq = st->impl;
	int rc, r;

	if ((rc = sq_run(st, sq, "COMMIT")) == SQLITE_OK) {
		sq_wunlock(sq);
		r = sq->kind == STORE_TX_WRITE_GROUP ? sq_group_sync(st, sq)
		                                     : 0;
		sq_maybe_checkpoint(sq);
		return r;
	}
	r = sq_err(st, sq->db, rc, "COMMIT");
	if (!sqlite3_get_autocommit(sq->db))
		sq_run(st, sq, "ROLLBACK");
	sq_wunlock(sq);
	return r;
}

static void
sq_rollback(struct store *st)
{
	struct sq *sq = st->impl;

	if (!sqlite3_get_autocommit(sq->db))
		sq_run(st, sq, "ROLLBACK");
	sq_wunlock(sq);
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
	sqlite3_int64 before;
	int rc, r = UK_ERR_STORE_QUERY;

	if ((r = sq_stmt_get(st, sq, sql, &stmt)) != 0)
		goto out;
	if ((size_t)sqlite3_bind_parameter_count(stmt) != n) {
		store_set_error(st, "statement takes %d parameters, not %zu",
		    sqlite3_bind_parameter_count(stmt), n);
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((r = sq_bind(st, sq->db, stmt, params, n)) != 0)
		goto out;
	/* A write outside a transaction is durable: synchronous=FULL. */
	if (sq->relaxed && sqlite3_get_autocommit(sq->db) &&
	    !sqlite3_stmt_readonly(stmt)) {
		sq_unrelax(st, sq);
		if (sq->relaxed) {
			r = sq_err(st, sq->db, sqlite3_errcode(sq->db),
			    "PRAGMA synchronous=FULL");
			goto out;
		}
	}
	before = sqlite3_total_changes64(sq->db);
	/* The result's columns are counted after the first step: a cached
	 * statement is prepared again inside sqlite3_step when the schema
	 * changed, and "SELECT *" may then have more columns. */
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (resp == NULL)
			continue;
		if (res == NULL &&
		    (res = store_res_new((size_t)sqlite3_column_count(stmt))) ==
		        NULL)
			break;
		if ((r = sq_copy_row(st, stmt, res)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = sq_err(st, sq->db, rc, "query");
		goto out;
	}
	if (resp != NULL && res == NULL &&
	    (res = store_res_new((size_t)sqlite3_column_count(stmt))) == NULL)
		rc = SQLITE_NOMEM;
	if (rc != SQLITE_DONE) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
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
	sq_release(stmt);
	store_res_free(res);
	if (r == 0 && sqlite3_get_autocommit(sq->db))
		sq_maybe_checkpoint(sq); /* a write outside a transaction */
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
	.durable = sq_durable,
	.exec = sq_exec,
	.script = sq_script,
	.listen = sq_listen,
	.notify = sq_notify,
	.changed = sq_changed,
};
