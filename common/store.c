/* common/store.c: the store front end: backend dispatch, SQL translation, results, migrations. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/store.h"
#include "common/store_impl.h"

/* Most parameters one statement may take. */
#define STORE_MAX_PARAMS 1000

/* Advisory lock key serialising migrations on PostgreSQL ("ukey"). */
#define STORE_MIGRATE_LOCK 0x756b6579

/* One cell of a result: SQL NULL when p is NULL. */
struct store_cell {
	unsigned char *p; /* len bytes plus a NUL */
	size_t len;
};

struct store_res {
	size_t rows;
	size_t cols;
	size_t cap; /* rows allocated */
	struct store_cell *cells;
};

/* A growing string for SQL translation. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};

/* Why the last store_open in this thread failed. */
static _Thread_local char open_err[STORE_ERR_MAX];

/* Logs one store failure (never with parameter values). */
static void
store_log(int code, const char *what, const char *msg)
{
	uk_log_err(code, "store: %s: %s", what, msg);
}

void
store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (st == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	/* One line: libpq messages end in newlines. */
	n = strlen(st->err);
	while (n > 0 && (st->err[n - 1] == '\n' || st->err[n - 1] == ' '))
		st->err[--n] = '\0';
	for (n = 0; st->err[n] != '\0'; n++)
		if (st->err[n] == '\n' || st->err[n] == '\t')
			st->err[n] = ' ';
}

const char *
store_last_error(const struct store *st)
{
	if (st == NULL)
		return open_err;
	return st->err;
}

/* Results. */

struct store_res *
store_res_new(size_t ncols)
{
	struct store_res *res;

	if ((res = calloc(1, sizeof(*res))) == NULL)
		return NULL;
	res->cols = ncols;
	return res;
}

int
store_res_add_row(struct store_res *res)
{
	struct store_cell *cells;
	size_t ncap;

	if (res->rows == res->cap) {
		ncap = res->cap == 0 ? 8 : res->cap * 2;
		if (res->cols != 0 &&
		    ncap > SIZE_MAX / sizeof(*cells) / res->cols)
			return UK_ERR_NOMEM;
		cells = realloc(res->cells,
		    (res->cols == 0 ? 1 : res->cols) * ncap * sizeof(*cells));
		if (cells == NULL)
			return UK_ERR_NOMEM;
		res->cells = cells;
		res->cap = ncap;
	}
	if (res->cols != 0)
		memset(&res->cells[res->rows * res->cols], 0,
		    res->cols * sizeof(*res->cells));
	res->rows++;
	return 0;
}

unsigned char *
store_res_cell(struct store_res *res, size_t row, size_t col, size_t len)
{
	struct store_cell *c;

	if (res == NULL || row >= res->rows || col >= res->cols ||
	    len == SIZE_MAX)
		return NULL;
	c = &res->cells[row * res->cols + col];
	free(c->p);
	c->len = 0;
	if ((c->p = malloc(len + 1)) == NULL)
		return NULL;
	c->p[len] = '\0';
	c->len = len;
	return c->p;
}

size_t
store_res_cols(const struct store_res *res)
{
	return res == NULL ? 0 : res->cols;
}

static const struct store_cell *
store_res_at(const struct store_res *res, size_t row, size_t col)
{
	if (res == NULL || row >= res->rows || col >= res->cols)
		return NULL;
	return &res->cells[row * res->cols + col];
}

size_t
store_res_rows(const struct store_res *res)
{
	return res == NULL ? 0 : res->rows;
}

int
store_res_isnull(const struct store_res *res, size_t row, size_t col)
{
	const struct store_cell *c = store_res_at(res, row, col);

	return c == NULL || c->p == NULL;
}

const char *
store_res_text(const struct store_res *res, size_t row, size_t col)
{
	const struct store_cell *c = store_res_at(res, row, col);

	return c == NULL ? NULL : (const char *)c->p;
}

int64_t
store_res_int(const struct store_res *res, size_t row, size_t col)
{
	const struct store_cell *c = store_res_at(res, row, col);
	const char *s;
	char *end;
	long long v;

	if (c == NULL || c->p == NULL)
		return 0;
	s = (const char *)c->p;
	/* PostgreSQL booleans, so EXISTS(...) reads alike on both. */
	if (strcmp(s, "t") == 0)
		return 1;
	if (strcmp(s, "f") == 0)
		return 0;
	end = NULL;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || strlen(s) != c->len)
		return 0;
	return (int64_t)v;
}

const unsigned char *
store_res_blob(const struct store_res *res, size_t row, size_t col, size_t *len)
{
	const struct store_cell *c = store_res_at(res, row, col);

	if (len != NULL)
		*len = c == NULL ? 0 : c->len;
	return c == NULL ? NULL : c->p;
}

void
store_res_free(struct store_res *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; i < res->rows * res->cols; i++)
		free(res->cells[i].p);
	free(res->cells);
	free(res);
}

/* SQL translation. */

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *p;
	size_t ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap == 0 ? 256 : b->cap;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((p = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Drops a trailing "FOR UPDATE" (any case, any blanks, optional ';') from
 * the translated statement in b. */
static void
strip_for_update(struct sbuf *b)
{
	size_t e = b->len, w;

	while (e > 0 &&
	    (isspace((unsigned char)b->p[e - 1]) || b->p[e - 1] == ';'))
		e--;
	w = e;
	while (w > 0 && isalpha((unsigned char)b->p[w - 1]))
		w--;
	if (e - w != 6 || strncasecmp(b->p + w, "UPDATE", 6) != 0)
		return;
	e = w;
	while (e > 0 && isspace((unsigned char)b->p[e - 1]))
		e--;
	if (e == w)
		return;
	w = e;
	while (w > 0 && isalpha((unsigned char)b->p[w - 1]))
		w--;
	if (e - w != 3 || strncasecmp(b->p + w, "FOR", 3) != 0)
		return;
	if (w == 0 || !isspace((unsigned char)b->p[w - 1]))
		return;
	b->len = w;
	b->p[w] = '\0';
}

/*
 * Translates portable SQL for backend: '?' becomes "$n" on PostgreSQL,
 * "@BLOB@" and "@ID@" become the backend's types, and a final "FOR UPDATE"
 * is dropped on SQLite. Quoted strings, quoted identifiers and comments are
 * copied untouched. With single, anything but blanks after a ';' is an
 * error. Sets *out (caller frees) and *nq (placeholders seen).
 */
static int
store_translate(struct store *st, const char *sql, int single, char **out,
    size_t *nq)
{
	int pg = st->ops->backend == STORE_POSTGRES;
	struct sbuf b = { NULL, 0, 0, 0 };
	const char *s = sql, *t;
	char num[24];
	int r = UK_ERR_INTERNAL;
	char q;

	*out = NULL;
	*nq = 0;
	while (*s != '\0') {
		if (*s == '\'' || *s == '"') {
			q = *s;
			for (t = s + 1; *t != '\0'; t++) {
				if (*t == q && t[1] == q)
					t++;
				else if (*t == q)
					break;
			}
			if (*t == '\0') {
				store_set_error(st, "unterminated %s in SQL",
				    q == '\'' ? "string" : "quoted name");
				goto out;
			}
			sbuf_add(&b, s, (size_t)(t + 1 - s));
			s = t + 1;
		} else if (s[0] == '-' && s[1] == '-') {
			t = s + strcspn(s, "\n");
			sbuf_add(&b, s, (size_t)(t - s));
			s = t;
		} else if (s[0] == '/' && s[1] == '*') {
			if ((t = strstr(s + 2, "*/")) == NULL) {
				store_set_error(st,
				    "unterminated comment in SQL");
				goto out;
			}
			sbuf_add(&b, s, (size_t)(t + 2 - s));
			s = t + 2;
		} else if (*s == '?') {
			if (isdigit((unsigned char)s[1])) {
				store_set_error(st,
				    "numbered placeholders (?N) are not "
				    "supported; use '?'");
				goto out;
			}
			(*nq)++;
			if (pg) {
				snprintf(num, sizeof(num), "$%zu", *nq);
				sbuf_add(&b, num, strlen(num));
			} else
				sbuf_add(&b, "?", 1);
			s++;
		} else if (*s == ';' && single &&
		    s[1 + strspn(s + 1, " \t\r\n;")] != '\0') {
			store_set_error(st, "one SQL statement per store_exec");
			goto out;
		} else if (strncmp(s, "@BLOB@", 6) == 0) {
			t = pg ? "BYTEA" : "BLOB";
			sbuf_add(&b, t, strlen(t));
			s += 6;
		} else if (strncmp(s, "@ID@", 4) == 0) {
			t = pg ? "BIGSERIAL PRIMARY KEY"
			       : "INTEGER PRIMARY KEY AUTOINCREMENT";
			sbuf_add(&b, t, strlen(t));
			s += 4;
		} else {
			/* A run of plain text up to the next character that
			 * may start something above, at once. */
			t = s + 1 + strcspn(s + 1, "'\"-/?;@");
			sbuf_add(&b, s, (size_t)(t - s));
			s = t;
		}
	}
	sbuf_add(&b, "", 0);
	if (b.oom) {
		store_set_error(st, "out of memory translating SQL");
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (!pg)
		strip_for_update(&b);
	*out = b.p;
	b.p = NULL; /* transferred */
	r = 0;
out:
	free(b.p);
	return r;
}

/* Opening, migrations, closing. */

static int
store_script(struct store *st, const char *sql)
{
	char *tsql = NULL;
	size_t nq;
	int r;

	if ((r = store_translate(st, sql, 0, &tsql, &nq)) != 0)
		goto out;
	if (nq != 0) {
		store_set_error(st, "a script takes no parameters");
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((r = st->ops->script(st, tsql)) != 0 && st->in_tx)
		st->tx_failed = 1;
out:
	free(tsql);
	return r;
}

/* Applies every migration newer than the database, all in one write
 * transaction; refuses a database newer than this program. */
static int
store_migrate(struct store *st)
{
	const struct store_migration *m;
	struct store_res *res = NULL;
	char why[STORE_ERR_MAX];
	size_t n, i;
	int64_t have;
	int latest = store_migrations_latest();
	int r;

	m = store_migrations(&n);
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if (st->ops->backend == STORE_POSTGRES &&
	    (r = store_exec(st, NULL, "SELECT pg_advisory_xact_lock(?)", "i",
	         (int64_t)STORE_MIGRATE_LOCK)) != 0)
		goto out;
	if ((r = store_script(st,
	         "CREATE TABLE IF NOT EXISTS schema_migrations ("
	         "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
	         "applied_at BIGINT NOT NULL)")) != 0)
		goto out;
	if ((r = store_exec(st, &res,
	         "SELECT max(version) FROM schema_migrations", "")) != 0)
		goto out;
	have = store_res_int(res, 0, 0);
	if (have > latest) {
		store_set_error(st,
		    "the database has schema version %lld, newer than the "
		    "%d this program knows; upgrade the program",
		    (long long)have, latest);
		r = UK_ERR_STORE_SCHEMA;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (m[i].version <= have)
			continue;
		if ((r = store_script(st,
		         st->ops->backend == STORE_POSTGRES &&
		                 m[i].sql_pg != NULL
		             ? m[i].sql_pg
		             : m[i].sql)) != 0) {
			snprintf(why, sizeof(why), "%s", st->err);
			store_set_error(st, "migration %d (%s): %s",
			    m[i].version, m[i].name, why);
			goto out;
		}
		if ((r = store_exec(st, NULL,
		         "INSERT INTO schema_migrations "
		         "(version, name, applied_at) VALUES (?, ?, ?)",
		         "iti", (int64_t)m[i].version, m[i].name,
		         (int64_t)time(NULL))) != 0)
			goto out;
	}
	if ((r = store_commit(st)) != 0)
		goto out;
	st->schema_version = latest;
	r = 0;
out:
	store_rollback(st);
	store_res_free(res);
	return r;
}

int
store_open(const char *location, struct store **out)
{
	const struct store_ops *ops = NULL;
	struct store *st = NULL;
	int r = UK_ERR_INTERNAL;

	open_err[0] = '\0';
	if (out == NULL) {
		snprintf(open_err, sizeof(open_err), "store_open: no out");
		goto out;
	}
	*out = NULL;
	if (location == NULL || *location == '\0') {
		snprintf(open_err, sizeof(open_err),
		    "empty database location: give a file path or a "
		    "postgresql:// URL");
		r = UK_ERR_STORE_URL;
		goto out;
	}
	if (strncmp(location, "postgresql://", 13) == 0 ||
	    strncmp(location, "postgres://", 11) == 0)
		ops = &store_pg_ops;
	else if (strstr(location, "://") != NULL) {
		/* Not echoed: a URL may carry a password. */
		snprintf(open_err, sizeof(open_err),
		    "unsupported database URL scheme: give a file path or a "
		    "postgresql:// URL");
		r = UK_ERR_STORE_URL;
		goto out;
	} else if (store_location_is_conninfo(location)) {
		/* Not echoed either: it may carry a password. */
		snprintf(open_err, sizeof(open_err),
		    "keyword connection strings (host=... dbname=...) are not "
		    "supported: give a postgresql:// URL");
		r = UK_ERR_STORE_URL;
		goto out;
	} else
		ops = &store_sqlite_ops;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(open_err, sizeof(open_err), "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	st->ops = ops;
	if ((r = ops->open(st, location)) != 0)
		goto out;
	if ((r = store_migrate(st)) != 0)
		goto out;
	*out = st;
	st = NULL; /* transferred */
	r = 0;
out:
	if (r != 0) {
		if (st != NULL)
			snprintf(open_err, sizeof(open_err), "%s", st->err);
		if (open_err[0] == '\0')
			snprintf(open_err, sizeof(open_err), "%s",
			    uk_strerror(r));
		store_log(r, "cannot open the database", open_err);
	}
	store_close(st);
	return r;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->impl != NULL) {
		store_rollback(st);
		st->ops->close(st);
	}
	free(st);
}

enum store_backend
store_backend(const struct store *st)
{
	return st->ops->backend;
}

int
store_schema_version(struct store *st)
{
	return st == NULL ? 0 : st->schema_version;
}

/* Transactions. */

int
store_begin(struct store *st, enum store_tx kind)
{
	int r;

	if (st == NULL)
		return UK_ERR_INTERNAL;
	if (st->in_tx) {
		store_set_error(st, "store_begin: a transaction is open");
		return UK_ERR_INTERNAL;
	}
	if (kind != STORE_TX_READ && kind != STORE_TX_WRITE &&
	    kind != STORE_TX_WRITE_RELAXED && kind != STORE_TX_WRITE_GROUP) {
		store_set_error(st, "store_begin: unknown kind %d", (int)kind);
		return UK_ERR_INTERNAL;
	}
	if ((r = st->ops->begin(st, kind)) != 0)
		return r;
	st->in_tx = 1;
	st->tx_failed = 0;
	return 0;
}

int
store_commit(struct store *st)
{
	int r;

	if (st == NULL)
		return UK_ERR_INTERNAL;
	if (!st->in_tx) {
		store_set_error(st, "store_commit: no transaction is open");
		return UK_ERR_INTERNAL;
	}
	if (st->tx_failed) {
		st->ops->rollback(st);
		st->in_tx = st->tx_failed = 0;
		store_set_error(st,
		    "commit refused: a statement in the transaction "
		    "failed; rolled back");
		return UK_ERR_STORE_QUERY;
	}
	r = st->ops->commit(st);
	/* Either way no transaction is open any more. */
	st->in_tx = st->tx_failed = 0;
	if (r != 0 && r != UK_ERR_STORE_BUSY)
		store_log(r, "commit failed", st->err);
	return r;
}

int
store_tx_durable(struct store *st)
{
	int r;

	if (st == NULL || !st->in_tx) {
		if (st != NULL)
			store_set_error(st,
			    "store_tx_durable: no transaction is open");
		return UK_ERR_INTERNAL;
	}
	if (st->tx_failed) {
		store_set_error(st,
		    "the transaction was aborted by an earlier error; "
		    "roll it back");
		return UK_ERR_STORE_QUERY;
	}
	if (st->ops->durable == NULL)
		return 0;
	if ((r = st->ops->durable(st)) != 0)
		st->tx_failed = 1;
	return r;
}

void
store_rollback(struct store *st)
{
	if (st == NULL || !st->in_tx)
		return;
	st->ops->rollback(st);
	st->in_tx = st->tx_failed = 0;
}

int
store_in_transaction(const struct store *st)
{
	return st != NULL && st->in_tx;
}

/* Statements. */

int
store_exec(struct store *st, struct store_res **res, const char *sql,
    const char *types, ...)
{
	struct store_param *params = NULL;
	char *tsql = NULL;
	size_t n, nq, i;
	int64_t changes;
	va_list ap;
	int r = UK_ERR_INTERNAL;

	if (res != NULL)
		*res = NULL;
	if (st == NULL || sql == NULL)
		return UK_ERR_INTERNAL;
	if (types == NULL)
		types = "";
	if (st->in_tx && st->tx_failed) {
		store_set_error(st,
		    "the transaction was aborted by an earlier error; "
		    "roll it back");
		return UK_ERR_STORE_QUERY;
	}
	if ((n = strlen(types)) > STORE_MAX_PARAMS) {
		store_set_error(st, "too many parameters (%zu)", n);
		return UK_ERR_INTERNAL;
	}
	if ((params = calloc(n == 0 ? 1 : n, sizeof(*params))) == NULL) {
		store_set_error(st, "out of memory");
		return UK_ERR_NOMEM;
	}
	va_start(ap, types);
	for (i = 0; i < n; i++) {
		params[i].type = types[i];
		switch (types[i]) {
		case 't':
			params[i].text = va_arg(ap, const char *);
			params[i].isnull = params[i].text == NULL;
			break;
		case 'i':
			params[i].i = va_arg(ap, int64_t);
			break;
		case 'b':
			params[i].blob = va_arg(ap, const unsigned char *);
			params[i].len = va_arg(ap, size_t);
			params[i].isnull = params[i].blob == NULL;
			break;
		default:
			va_end(ap);
			store_set_error(st, "unknown parameter type '%c'",
			    types[i]);
			r = UK_ERR_INTERNAL;
			goto out;
		}
	}
	va_end(ap);
	if ((r = store_translate(st, sql, 1, &tsql, &nq)) != 0)
		goto out;
	if (nq != n) {
		store_set_error(st,
		    "SQL has %zu placeholders but %zu parameters were given",
		    nq, n);
		r = UK_ERR_INTERNAL;
		goto out;
	}
	changes = st->changes;
	if ((r = st->ops->exec(st, res, tsql, params, n, &changes)) != 0)
		goto out;
	st->changes = changes;
	r = 0;
out:
	if (r != 0) {
		if (st->in_tx)
			st->tx_failed = 1;
		if (r != UK_ERR_EXISTS && r != UK_ERR_STORE_BUSY)
			store_log(r, "query failed", st->err);
	}
	free(tsql);
	free(params);
	return r;
}

int64_t
store_changes(struct store *st)
{
	return st == NULL ? 0 : st->changes;
}

/* Change notification. */

int
store_listen(struct store *st)
{
	int r;

	if (st == NULL)
		return UK_ERR_INTERNAL;
	if ((r = st->ops->listen(st)) != 0)
		return r;
	st->listening = 1;
	return 0;
}

int
store_notify(struct store *st)
{
	if (st == NULL)
		return UK_ERR_INTERNAL;
	return st->ops->notify(st);
}

int
store_changed(struct store *st)
{
	if (st == NULL)
		return -UK_ERR_INTERNAL;
	if (!st->listening) {
		store_set_error(st, "store_changed before store_listen");
		return -UK_ERR_INTERNAL;
	}
	return st->ops->changed(st);
}
