/* common/store_pg.c: the PostgreSQL store backend (libpq, text-format parameters). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/store.h"
#include "common/store_impl.h"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); stable. */
#define PG_BYTEAOID 17
#define PG_INT8OID 20
#define PG_TEXTOID 25

/* Sent once per connection: hex bytea, durable commits, a lock wait as
 * long as SQLite's busy timeout, and no NOTICE chatter. */
#define PG_SESSION_SQL                                                         \
	"SET bytea_output = 'hex'; SET synchronous_commit = on; "              \
	"SET lock_timeout = '10s'; SET client_min_messages = warning"

struct pg {
	PGconn *conn;
	int pid;    /* our backend's pid, to ignore our own NOTIFYs */
	int missed; /* reconnected: notifications may have been lost */
};

/* Records a libpq message on st (for a result or, with res NULL, for the
 * connection) and maps its SQLSTATE to an enum uk_err. */
static int
pg_err(struct store *st, PGconn *conn, const PGresult *res, const char *what)
{
	const char *state = NULL, *msg = NULL;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (msg != NULL && state != NULL)
		store_set_error(st, "%s: %s (SQLSTATE %s)", what, msg, state);
	else {
		msg = PQerrorMessage(conn);
		store_set_error(st, "%s: %s", what,
		    msg != NULL && *msg != '\0' ? msg
		                                : "unknown PostgreSQL error");
	}
	if (state != NULL) {
		if (strcmp(state, "23505") == 0)
			return UK_ERR_EXISTS;
		if (strcmp(state, "40001") == 0 ||
		    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
			return UK_ERR_STORE_BUSY;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
		return UK_ERR_STORE_OPEN;
	return UK_ERR_STORE_QUERY;
}

/* Runs sql without parameters and checks it succeeded. */
static int
pg_simple(struct store *st, PGconn *conn, const char *sql)
{
	PGresult *res;
	ExecStatusType s;
	int r = 0;

	res = PQexec(conn, sql);
	s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		r = pg_err(st, conn, res, sql);
	PQclear(res);
	return r;
}

/* Returns 1 when url has a password ("scheme://user:password@..."). */
static int
pg_url_has_password(const char *url)
{
	const char *p = strstr(url, "://"), *at, *end;

	if (p == NULL)
		return 0;
	p += 3;
	end = p + strcspn(p, "/?");
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	if (at == p)
		return 0;
	return memchr(p, ':', (size_t)(at - p)) != NULL;
}

/* Sends the server's warnings to the log instead of bare stderr. */
static void
pg_notice(void *arg, const char *msg)
{
	size_t n = strcspn(msg, "\n");

	(void)arg;
	uk_log(UK_LOG_WARN, "store: postgresql: %.*s", (int)n, msg);
}

/* Checks a URL before connecting: a host and a database must be named,
 * and a port must be a number. libpq would otherwise fill in defaults. */
static int
pg_check_url(struct store *st, const char *url)
{
	PQconninfoOption *opts = NULL, *o;
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL;
	const char *p;
	char *errmsg = NULL;
	long v;
	int r = UK_ERR_STORE_URL;

	if ((opts = PQconninfoParse(url, &errmsg)) == NULL) {
		/* libpq quotes the URL, which may hold a password. */
		if (errmsg != NULL && (p = strstr(errmsg, " in URI")) != NULL)
			errmsg[p - errmsg] = '\0';
		if (errmsg == NULL || pg_url_has_password(url))
			store_set_error(st, "malformed PostgreSQL URL");
		else
			store_set_error(st, "malformed PostgreSQL URL: %s",
			    errmsg);
		goto out;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	if (host == NULL && hostaddr == NULL) {
		store_set_error(st,
		    "PostgreSQL URL names no host "
		    "(postgresql://user@host:port/dbname)");
		goto out;
	}
	if (db == NULL) {
		store_set_error(st,
		    "PostgreSQL URL names no database "
		    "(postgresql://user@host:port/dbname)");
		goto out;
	}
	/* A port list ("5432,5433") follows a host list. */
	for (p = port; p != NULL && *p != '\0';) {
		v = 0;
		if (*p < '0' || *p > '9')
			goto badport;
		while (*p >= '0' && *p <= '9' && v <= 65535)
			v = v * 10 + (*p++ - '0');
		if (v < 1 || v > 65535 || (*p != '\0' && *p != ','))
			goto badport;
		if (*p == ',')
			p++;
	}
	r = 0;
	goto out;
badport:
	store_set_error(st,
	    "PostgreSQL URL has a bad port (give a number "
	    "from 1 to 65535)");
out:
	PQconninfoFree(opts);
	PQfreemem(errmsg);
	return r;
}

static int
pg_open(struct store *st, const char *url)
{
	/* Our defaults first: the URL may override them. */
	static const char *const keys[] = { "connect_timeout",
		"client_encoding", "dbname", NULL };
	const char *vals[] = { "10", "UTF8", url, NULL };
	struct pg *pg = NULL;
	PGconn *conn = NULL;
	int r;

	if ((r = pg_check_url(st, url)) != 0)
		goto out;
	r = UK_ERR_STORE_OPEN;
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		store_set_error(st, "out of memory");
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_err(st, conn, NULL, "cannot connect to PostgreSQL");
		goto out;
	}
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	if (pg_simple(st, conn, PG_SESSION_SQL) != 0)
		goto out;
	pg->conn = conn;
	pg->pid = PQbackendPID(conn);
	conn = NULL; /* transferred */
	st->impl = pg;
	pg = NULL; /* transferred */
	r = 0;
out:
	PQfinish(conn);
	free(pg);
	return r;
}

static void
pg_close(struct store *st)
{
	struct pg *pg = st->impl;

	if (pg == NULL)
		return;
	PQfinish(pg->conn);
	free(pg);
	st->impl = NULL;
}

/* Outside a transaction, reconnects a connection the server dropped. */
static int
pg_ensure(struct store *st)
{
	struct pg *pg = st->impl;

	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	if (st->in_tx)
		return pg_err(st, pg->conn, NULL, "connection lost");
	PQreset(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		return pg_err(st, pg->conn, NULL, "cannot reconnect");
	pg->pid = PQbackendPID(pg->conn);
	pg->missed = 1;
	if (pg_simple(st, pg->conn, PG_SESSION_SQL) != 0)
		return UK_ERR_STORE_OPEN;
	if (st->listening && pg_simple(st, pg->conn, "LISTEN ukey_store") != 0)
		return UK_ERR_STORE_OPEN;
	return 0;
}

static int
pg_begin(struct store *st, enum store_tx kind)
{
	struct pg *pg = st->impl;
	int r;

	/* row locks (FOR UPDATE) do the rest; the server groups the WAL
	 * flushes of concurrent commits (STORE_TX_WRITE_GROUP) */
	if ((r = pg_ensure(st)) != 0)
		return r;
	if (kind != STORE_TX_WRITE_RELAXED)
		return pg_simple(st, pg->conn, "BEGIN");
	/* one round trip for both */
	if ((r = pg_simple(st, pg->conn,
	         "BEGIN; SET LOCAL synchronous_commit = off")) != 0 &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return r;
}

static int
pg_durable(struct store *st)
{
	struct pg *pg = st->impl;

	return pg_simple(st, pg->conn,
	    "SET LOCAL synchronous_commit TO DEFAULT");
}

static int
pg_commit(struct store *st)
{
	struct pg *pg = st->impl;
	PGresult *res;
	int r = 0;

	res = PQexec(pg->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_err(st, pg->conn, res, "COMMIT");
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* An aborted transaction answers COMMIT with ROLLBACK. */
		store_set_error(st, "COMMIT: the transaction was rolled back");
		r = UK_ERR_STORE_QUERY;
	}
	PQclear(res);
	if (r != 0 && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return r;
}

static void
pg_rollback(struct store *st)
{
	struct pg *pg = st->impl;

	if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
}

/* Returns "\x" followed by the hex of p[0..len), NUL-terminated; NULL when
 * out of memory. The caller frees it. */
static char *
pg_hex(const unsigned char *p, size_t len)
{
	char *s;

	if (len > (SIZE_MAX - 3) / 2 || (s = malloc(2 * len + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	hex_encode(p, len, s + 2);
	return s;
}

/* Copies column col of row of pres into res, decoding bytea from hex. */
static int
pg_copy_cell(struct store *st, const PGresult *pres, int row, int col,
    struct store_res *res)
{
	const char *v = PQgetvalue(pres, row, col);
	size_t len = (size_t)PQgetlength(pres, row, col);
	unsigned char *dst;

	if (PQftype(pres, col) != PG_BYTEAOID) {
		if ((dst = store_res_cell(res, (size_t)row, (size_t)col,
		         len)) == NULL)
			goto nomem;
		memcpy(dst, v, len);
		return 0;
	}
	if (len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2 != 0) {
		store_set_error(st, "bytea value not in hex format");
		return UK_ERR_STORE_QUERY;
	}
	if ((dst = store_res_cell(res, (size_t)row, (size_t)col,
	         (len - 2) / 2)) == NULL)
		goto nomem;
	if (hex_decode(v + 2, len - 2, dst) != 0) {
		store_set_error(st, "bad hex in bytea value");
		return UK_ERR_STORE_QUERY;
	}
	return 0;
nomem:
	store_set_error(st, "out of memory");
	return UK_ERR_NOMEM;
}

static int
pg_exec(struct store *st, struct store_res **resp, const char *sql,
    const struct store_param *params, size_t n, int64_t *changes)
{
	struct pg *pg = st->impl;
	struct store_res *res = NULL;
	PGresult *pres = NULL;
	const char **values = NULL;
	char **owned = NULL;
	Oid *types = NULL;
	ExecStatusType s;
	const char *tuples;
	size_t i;
	int row, col, r = UK_ERR_NOMEM;

	if ((r = pg_ensure(st)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((values = calloc(n + 1, sizeof(*values))) == NULL ||
	    (owned = calloc(n + 1, sizeof(*owned))) == NULL ||
	    (types = calloc(n + 1, sizeof(*types))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		switch (params[i].type) {
		case 't':
			types[i] = PG_TEXTOID;
			values[i] = params[i].text;
			break;
		case 'i':
			types[i] = PG_INT8OID;
			if ((owned[i] = malloc(24)) == NULL)
				goto nomem;
			snprintf(owned[i], 24, "%lld", (long long)params[i].i);
			values[i] = owned[i];
			break;
		default:
			types[i] = PG_BYTEAOID;
			if (params[i].isnull)
				break;
			if ((owned[i] = pg_hex(params[i].blob,
			         params[i].len)) == NULL)
				goto nomem;
			values[i] = owned[i];
			break;
		}
	}
	pres =
	    PQexecParams(pg->conn, sql, (int)n, types, values, NULL, NULL, 0);
	s = PQresultStatus(pres);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		r = pg_err(st, pg->conn, pres, "query");
		goto out;
	}
	if (resp != NULL) {
		if ((res = store_res_new((size_t)PQnfields(pres))) == NULL)
			goto nomem;
		for (row = 0; row < PQntuples(pres); row++) {
			if ((r = store_res_add_row(res)) != 0)
				goto nomem;
			for (col = 0; col < PQnfields(pres); col++) {
				if (PQgetisnull(pres, row, col))
					continue;
				if ((r = pg_copy_cell(st, pres, row, col,
				         res)) != 0)
					goto out;
			}
		}
	}
	if (strncmp(PQcmdStatus(pres), "SELECT", 6) != 0) {
		tuples = PQcmdTuples(pres);
		*changes = *tuples == '\0' ? 0 : strtoll(tuples, NULL, 10);
	}
	if (resp != NULL) {
		*resp = res;
		res = NULL; /* transferred */
	}
	r = 0;
	goto out;
nomem:
	store_set_error(st, "out of memory");
	r = UK_ERR_NOMEM;
out:
	PQclear(pres);
	store_res_free(res);
	for (i = 0; owned != NULL && i < n; i++)
		free(owned[i]);
	free(owned);
	free(values);
	free(types);
	return r;
}

static int
pg_script(struct store *st, const char *sql)
{
	struct pg *pg = st->impl;
	int r;

	if ((r = pg_ensure(st)) != 0)
		return r;
	return pg_simple(st, pg->conn, sql);
}

static int
pg_listen(struct store *st)
{
	struct pg *pg = st->impl;
	int r;

	if ((r = pg_ensure(st)) != 0)
		return r;
	return pg_simple(st, pg->conn, "LISTEN ukey_store");
}

static int
pg_notify(struct store *st)
{
	struct pg *pg = st->impl;
	int r;

	if ((r = pg_ensure(st)) != 0)
		return r;
	return pg_simple(st, pg->conn, "NOTIFY ukey_store");
}

static int
pg_changed(struct store *st)
{
	struct pg *pg = st->impl;
	PGnotify *nt;
	int r, got = 0;

	if ((r = pg_ensure(st)) != 0)
		return -r;
	if (pg->missed) {
		pg->missed = 0;
		got = 1;
	}
	if (!PQconsumeInput(pg->conn))
		return -pg_err(st, pg->conn, NULL, "reading notifications");
	while ((nt = PQnotifies(pg->conn)) != NULL) {
		if (strcmp(nt->relname, "ukey_store") == 0 &&
		    nt->be_pid != pg->pid)
			got = 1;
		PQfreemem(nt);
	}
	return got;
}

const struct store_ops store_pg_ops = {
	.backend = STORE_POSTGRES,
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.durable = pg_durable,
	.exec = pg_exec,
	.script = pg_script,
	.listen = pg_listen,
	.notify = pg_notify,
	.changed = pg_changed,
};

/* ---- locations for display ---- */

/* Whether s starts with a PostgreSQL URL scheme. */
static int
pg_is_url(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	    strncmp(s, "postgres://", 11) == 0;
}

int
store_location_is_conninfo(const char *loc)
{
	PQconninfoOption *opts;
	char *err = NULL;

	if (loc == NULL || pg_is_url(loc) || strchr(loc, '=') == NULL)
		return 0;
	opts = PQconninfoParse(loc, &err);
	PQfreemem(err);
	if (opts == NULL)
		return 0;
	PQconninfoFree(opts);
	return 1;
}

/* Appends text to buf at *pos; 0 or UK_ERR_LIMIT. */
static int
redact_append(char *buf, size_t size, size_t *pos, const char *text)
{
	size_t n = strlen(text);

	if (*pos + n >= size)
		return UK_ERR_LIMIT;
	memcpy(buf + *pos, text, n + 1);
	*pos += n;
	return 0;
}

/* Whether a URL's authority (after "://", up to the path or query) holds
 * more than one '@'. */
static int
url_many_at(const char *url)
{
	const char *p = strstr(url, "://");
	int n = 0;

	for (p = p != NULL ? p + 3 : url; *p != '\0' && *p != '/' && *p != '?';
	     p++)
		n += *p == '@';
	return n > 1;
}

int
store_location_redact(const char *loc, char *buf, size_t size)
{
	PQconninfoOption *opts = NULL, *o;
	char *err = NULL;
	size_t pos = 0;
	int r = UK_ERR_STORE_URL, url;

	if (size == 0)
		return UK_ERR_LIMIT;
	buf[0] = '\0';
	if (loc == NULL)
		goto out;
	url = pg_is_url(loc);
	if (!url && !store_location_is_conninfo(loc)) {
		if (strlen(loc) >= size)
			r = UK_ERR_LIMIT;
		else {
			memcpy(buf, loc, strlen(loc) + 1);
			r = 0;
		}
		goto out;
	}
	if (url && url_many_at(loc)) {
		snprintf(buf, size,
		    "(not shown: the URL has an unescaped '@'; write it as "
		    "%%40 in the password)");
		goto out;
	}
	if ((opts = PQconninfoParse(loc, &err)) == NULL) {
		snprintf(buf, size, "(not shown: libpq cannot parse it)");
		goto out;
	}
	r = 0;
	for (o = opts; o->keyword != NULL && r == 0; o++) {
		int secret =
		    (o->dispchar != NULL && strchr(o->dispchar, '*')) ||
		    strcmp(o->keyword, "password") == 0;

		if (o->val == NULL)
			continue;
		if ((pos > 0 && (r = redact_append(buf, size, &pos, " "))) ||
		    (r = redact_append(buf, size, &pos, o->keyword)) != 0 ||
		    (r = redact_append(buf, size, &pos, "=")) != 0)
			break;
		if (secret)
			r = redact_append(buf, size, &pos, "(secret, set)");
		else if (strchr(o->val, ' ') != NULL || o->val[0] == '\0') {
			if ((r = redact_append(buf, size, &pos, "'")) == 0 &&
			    (r = redact_append(buf, size, &pos, o->val)) == 0)
				r = redact_append(buf, size, &pos, "'");
		} else
			r = redact_append(buf, size, &pos, o->val);
	}
	if (r != 0) {
		snprintf(buf, size, "(not shown: too long)");
		r = UK_ERR_STORE_URL;
	}
out:
	PQfreemem(err);
	if (opts != NULL)
		PQconninfoFree(opts);
	return r;
}
