/* gateway/admin.c: the "ukey-gateway admin" command line (units, operators, staff, certificate bindings) and "audit verify". */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/secret.h"
#include "common/store.h"
#include "common/timeutil.h"
#include "gateway/admin.h"
#include "gateway/model.h"
#include "gateway/wechat.h"

/* Largest certificate file read. */
#define ADMIN_CERT_MAX (64 * 1024)

/* Most rows a list prints. */
#define ADMIN_LIST_MAX 1000

/* One run of a command: its options once parsed (for naming the one the
 * model refused), and the form without the blanks at its ends. */
struct ctx {
	struct store *st;
	const char *actor;
	FILE *out, *err;
	const struct args *args;
	char form[GW_LOGIN_MAX + 1];
};

/* Every option any command takes; each command allows a subset. */
struct args {
	const char *id, *name, *uscc, *form, *query, *login, *unit;
	const char *resident_id, *phone, *roles, *cert, *sha256, *openid;
	int password_fd, temporary, json, help;
	int npos;
	char **pos; /* positional words */
};

enum {
	O_ID = 256,
	O_NAME,
	O_USCC,
	O_FORM,
	O_QUERY,
	O_LOGIN,
	O_UNIT,
	O_RESIDENT,
	O_PHONE,
	O_ROLES,
	O_PWFD,
	O_TEMP,
	O_CERT,
	O_SHA,
	O_OPENID,
	O_JSON,
	O_HELP,
};

/* How an option's value is kept in struct args. */
enum opt_kind {
	OPT_STR,  /* const char *: the argument */
	OPT_FLAG, /* int: 1 when given */
	OPT_FD,   /* int: a descriptor, -1 when not given */
};

/* Every option any command takes, in the order of the O_ values (from
 * O_ID); each command allows a subset. off: where struct args keeps it. */
static const struct optdef {
	const char *name;
	enum opt_kind kind;
	size_t off;
} optdefs[] = {
	{ "id", OPT_STR, offsetof(struct args, id) },
	{ "name", OPT_STR, offsetof(struct args, name) },
	{ "uscc", OPT_STR, offsetof(struct args, uscc) },
	{ "form", OPT_STR, offsetof(struct args, form) },
	{ "query", OPT_STR, offsetof(struct args, query) },
	{ "login", OPT_STR, offsetof(struct args, login) },
	{ "unit", OPT_STR, offsetof(struct args, unit) },
	{ "resident-id", OPT_STR, offsetof(struct args, resident_id) },
	{ "phone", OPT_STR, offsetof(struct args, phone) },
	{ "roles", OPT_STR, offsetof(struct args, roles) },
	{ "password-fd", OPT_FD, offsetof(struct args, password_fd) },
	{ "temporary", OPT_FLAG, offsetof(struct args, temporary) },
	{ "cert", OPT_STR, offsetof(struct args, cert) },
	{ "sha256", OPT_STR, offsetof(struct args, sha256) },
	{ "openid", OPT_STR, offsetof(struct args, openid) },
	{ "json", OPT_FLAG, offsetof(struct args, json) },
	{ "help", OPT_FLAG, offsetof(struct args, help) },
};

#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

/* A command: noun, verb, the options it takes (their O_ values, 0-ended),
 * how many positional words, its help and its function. */
struct cmd {
	const char *noun, *verb;
	int opts[12];
	int req[6]; /* the options that must be given */
	int npos;
	const char *help;
	int (*fn)(struct ctx *c, struct args *a);
};

/* Prints an error: the code, its text, detail and the remedy. Returns
 * GW_ADMIN_FAILED (GW_ADMIN_USAGE for UK_ERR_USAGE). */
static int fail(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ctx *c, int code, const char *fmt, ...)
{
	const struct uk_error_info *e = uk_error_info(code);
	va_list ap;

	fprintf(c->err, "ukey-gateway admin: %s: %s", e->id, e->en);
	if (fmt != NULL) {
		fputs(": ", c->err);
		va_start(ap, fmt);
		vfprintf(c->err, fmt, ap);
		va_end(ap);
	}
	fputc('\n', c->err);
	if (code != UK_ERR_USAGE && e->remedy_en != NULL &&
	    *e->remedy_en != '\0')
		fprintf(c->err, "  remedy: %s\n", e->remedy_en);
	return code == UK_ERR_USAGE ? GW_ADMIN_USAGE : GW_ADMIN_FAILED;
}

static void
when(int64_t t, char *buf, size_t n)
{
	if (t == 0)
		snprintf(buf, n, "-");
	else
		time_rfc3339((time_t)t, buf, n);
}

static json_t *
jtime(int64_t t)
{
	char buf[40];

	if (t == 0)
		return json_null();
	time_rfc3339((time_t)t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
jstr(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

/* Prints j to out (and frees it). */
static int
print_json(struct ctx *c, json_t *j)
{
	int r = GW_ADMIN_OK;

	if (j == NULL || json_dumpf(j, c->out, JSON_INDENT(2)) != 0)
		r = fail(c, UK_ERR_NOMEM, NULL);
	else
		fputc('\n', c->out);
	json_decref(j);
	return r;
}

/* The actor of a change, with the command's form trimmed (a blank or bad
 * one as given: the model refuses it). */
static struct gw_actor
actor(struct ctx *c, const struct args *a)
{
	struct gw_actor ac;

	memset(&ac, 0, sizeof(ac));
	ac.who = c->actor;
	ac.form = gw_text_clean(a->form, c->form, sizeof(c->form)) == 0
	    ? c->form
	    : a->form;
	return ac;
}

/* Reads a password from the descriptor given. */
static int
read_password(struct ctx *c, const struct args *a, struct secret **pw)
{
	int r;

	*pw = NULL;
	if ((r = secret_read_fd(a->password_fd, pw)) != 0)
		return fail(c, r, "reading the password from descriptor %d",
		    a->password_fd);
	return GW_ADMIN_OK;
}

/* Reads a certificate file, PEM or DER, into DER. */
static int
read_cert(struct ctx *c, const char *path, unsigned char **der, size_t *len)
{
	unsigned char *buf = NULL, *d = NULL;
	size_t n = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int dl, r;

	*der = NULL;
	*len = 0;
	if ((r = file_read_all(path, ADMIN_CERT_MAX, &buf, &n)) != 0) {
		r = fail(c, r, "%s: %s", path,
		    r == UK_ERR_IO ? strerror(errno) : "too large");
		goto out;
	}
	if (n > 10 && memmem(buf, n, "-----BEGIN", 10) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL ||
		    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
		    (dl = i2d_X509(x, &d)) <= 0) {
			r = fail(c, UK_ERR_CERT_MALFORMED,
			    "%s: not a PEM "
			    "certificate",
			    path);
			goto out;
		}
		*der = d;
		*len = (size_t)dl;
		d = NULL; /* transferred */
	} else {
		*der = buf;
		*len = n;
		buf = NULL; /* transferred */
	}
	r = GW_ADMIN_OK;
out:
	OPENSSL_free(d);
	X509_free(x);
	BIO_free(bio);
	free(buf);
	return r;
}

/* Finds the operator named by login (or resident ID). */
static int
find_operator(struct ctx *c, const char *login, struct gw_operator *o)
{
	int r;

	if ((r = gw_operator_find(c->st, login, o)) == UK_ERR_NOT_FOUND)
		return fail(c, UK_ERR_ADMIN_OPERATOR_UNKNOWN, "%s", login);
	if (r != 0)
		return fail(c, r, "%s", store_last_error(c->st));
	return GW_ADMIN_OK;
}

/* The free-text option (form, name) of a, checked as the model checks it,
 * that is blank or bad: its name and *why; NULL when both are fine. */
static const char *
refused_option(const struct args *a, const char **why)
{
	char buf[GW_NAME_MAX + 1];
	int r;

	if (a == NULL)
		return NULL;
	if (a->form != NULL &&
	    (r = gw_text_clean(a->form, buf, GW_LOGIN_MAX + 1)) != 0) {
		*why = r == UK_ERR_NOT_FOUND ? "is blank"
		                             : "has a control character, is "
		                               "not UTF-8 or is too long";
		return "form";
	}
	if (a->name != NULL &&
	    (r = gw_text_clean(a->name, buf, sizeof(buf))) != 0) {
		*why = r == UK_ERR_NOT_FOUND ? "is blank"
		                             : "has a control character, is "
		                               "not UTF-8 or is too long";
		return "name";
	}
	return NULL;
}

/* Reports the outcome of a model call; a refusal of the form or a name
 * names the option. */
static int
done(struct ctx *c, int r, const char *what)
{
	const char *opt, *why;

	if (r == 0) {
		fprintf(c->out, "%s\n", what);
		return GW_ADMIN_OK;
	}
	if (r >= 1200 && r < 1300)
		return fail(c, r, "%s", store_last_error(c->st));
	if ((r == UK_ERR_ADMIN_INVALID || r == UK_ERR_ADMIN_FORM_REQUIRED) &&
	    (opt = refused_option(c->args, &why)) != NULL)
		return fail(c, r, "--%s %s", opt, why);
	return fail(c, r, NULL);
}

/* How a struct member becomes JSON. */
enum jkind {
	J_STR,  /* char[]: a string */
	J_OPT,  /* char[]: a string, null when empty */
	J_SET,  /* char[]: true when not empty */
	J_TIME, /* int64_t: RFC 3339 time, null when 0 */
	J_I64,  /* int64_t: a number */
	J_INT,  /* int: a number */
	J_BOOL, /* int: true when not 0 */
};

/* One member of a struct shown as JSON; a table of them ends with name
 * NULL. */
struct jfield {
	const char *name;
	enum jkind kind;
	size_t off;
};

#define JF(s, name, kind, member)                                              \
	{                                                                      \
		name, kind, offsetof(struct s, member)                         \
	}

static const struct jfield unit_fields[] = {
	JF(gw_unit, "id", J_STR, id),
	JF(gw_unit, "name", J_STR, name),
	JF(gw_unit, "uscc", J_OPT, uscc),
	JF(gw_unit, "status", J_STR, status),
	JF(gw_unit, "agreement_at", J_TIME, agreement_at),
	JF(gw_unit, "agreement_form", J_OPT, agreement_form),
	JF(gw_unit, "authorized_at", J_TIME, authorized_at),
	JF(gw_unit, "authorized_form", J_OPT, authorized_form),
	JF(gw_unit, "active_certs", J_INT, active_certs),
	JF(gw_unit, "created_at", J_TIME, created_at),
	{ NULL, J_STR, 0 },
};

static const struct jfield binding_fields[] = {
	JF(gw_binding, "sha256", J_STR, sha256),
	JF(gw_binding, "issuer_serial", J_STR, issuer_serial),
	JF(gw_binding, "subject", J_STR, subject),
	JF(gw_binding, "not_after", J_TIME, not_after),
	JF(gw_binding, "source", J_STR, source),
	{ NULL, J_STR, 0 },
};

static const struct jfield operator_fields[] = {
	JF(gw_operator, "id", J_I64, id),
	JF(gw_operator, "login", J_STR, login),
	JF(gw_operator, "unit", J_STR, unit),
	JF(gw_operator, "name", J_STR, name),
	JF(gw_operator, "resident_id", J_OPT, resident_id),
	JF(gw_operator, "phone", J_OPT, phone),
	JF(gw_operator, "wechat_bound", J_SET, openid),
	JF(gw_operator, "roles", J_STR, roles),
	JF(gw_operator, "status", J_STR, status),
	JF(gw_operator, "has_password", J_BOOL, has_password),
	JF(gw_operator, "password_temporary", J_BOOL, pw_must_change),
	JF(gw_operator, "fail_count", J_INT, fail_count),
	JF(gw_operator, "frozen_until", J_TIME, frozen_until),
	JF(gw_operator, "created_at", J_TIME, created_at),
	JF(gw_operator, "left_at", J_TIME, left_at),
	{ NULL, J_STR, 0 },
};

static const struct jfield staff_fields[] = {
	JF(gw_staff, "id", J_I64, id),
	JF(gw_staff, "login", J_STR, login),
	JF(gw_staff, "name", J_STR, name),
	JF(gw_staff, "roles", J_STR, roles),
	JF(gw_staff, "status", J_STR, status),
	JF(gw_staff, "created_at", J_TIME, created_at),
	{ NULL, J_STR, 0 },
};

/* The JSON object of the struct at p with members f; NULL when out of
 * memory. */
static json_t *
to_json(const void *p, const struct jfield *f)
{
	json_t *o = json_object(), *v;
	const char *m;

	if (o == NULL)
		return NULL;
	for (; f->name != NULL; f++) {
		m = (const char *)p + f->off;
		switch (f->kind) {
		case J_STR:
			v = json_string(m);
			break;
		case J_OPT:
			v = jstr(m);
			break;
		case J_SET:
			v = json_boolean(*m != '\0');
			break;
		case J_TIME:
			v = jtime(*(const int64_t *)(const void *)m);
			break;
		case J_I64:
			v = json_integer(*(const int64_t *)(const void *)m);
			break;
		case J_INT:
			v = json_integer(*(const int *)(const void *)m);
			break;
		default:
			v = json_boolean(*(const int *)(const void *)m);
			break;
		}
		json_object_set_new(o, f->name, v);
	}
	return o;
}

/* The JSON array of the n structs of size bytes at v; NULL when out of
 * memory. */
static json_t *
to_json_array(const void *v, size_t n, size_t size, const struct jfield *f)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr,
		    to_json((const char *)v + i * size, f));
	return arr;
}

/* Prints a list of n structs of size bytes at v: a JSON array with --json,
 * else a line each (line). Frees v. */
static int
print_list(struct ctx *c, const struct args *a, void *v, size_t n, size_t size,
    const struct jfield *f, void (*line)(FILE *, const void *))
{
	size_t i;
	int r = GW_ADMIN_OK;

	if (a->json)
		r = print_json(c, to_json_array(v, n, size, f));
	else
		for (i = 0; i < n; i++)
			line(c->out, (const char *)v + i * size);
	free(v);
	return r;
}

/* Units. */

static int
unit_add(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	char msg[512];

	snprintf(msg, sizeof(msg), "unit %s added", a->id);
	return done(c, gw_unit_add(c->st, &ac, a->id, a->name, a->uscc), msg);
}

static int
unit_show(struct ctx *c, struct args *a)
{
	struct gw_unit u;
	char t1[40], t2[40], t3[40];
	int r;

	if ((r = gw_unit_get(c->st, a->pos[0], &u)) == UK_ERR_NOT_FOUND)
		return fail(c, UK_ERR_ADMIN_UNIT_UNKNOWN, "%s", a->pos[0]);
	if (r != 0)
		return done(c, r, NULL);
	if (a->json)
		return print_json(c, to_json(&u, unit_fields));
	when(u.agreement_at, t1, sizeof(t1));
	when(u.authorized_at, t2, sizeof(t2));
	when(u.created_at, t3, sizeof(t3));
	fprintf(c->out,
	    "id: %s\nname: %s\nuscc: %s\nstatus: %s\n"
	    "agreement: %s%s%s%s\nauthorised: %s%s%s%s\n"
	    "active certificates: %d\ncreated: %s\n",
	    u.id, u.name, u.uscc[0] ? u.uscc : "-", u.status,
	    u.agreement_at ? "signed " : "not signed", u.agreement_at ? t1 : "",
	    u.agreement_at ? " form " : "",
	    u.agreement_at ? u.agreement_form : "",
	    u.authorized_at ? "yes " : "no", u.authorized_at ? t2 : "",
	    u.authorized_at ? " form " : "",
	    u.authorized_at ? u.authorized_form : "", u.active_certs, t3);
	return GW_ADMIN_OK;
}

static void
unit_line(FILE *f, const void *p)
{
	const struct gw_unit *u = p;

	fprintf(f, "%s\t%s\t%s\t%s\t%s\n", u->id, u->name,
	    u->uscc[0] ? u->uscc : "-",
	    u->agreement_at ? "agreement" : "no-agreement",
	    u->authorized_at ? "authorised" : "not-authorised");
}

static int
unit_list(struct ctx *c, struct args *a)
{
	struct gw_unit *v = NULL;
	size_t n = 0;
	int r;

	if ((r = gw_unit_list(c->st, a->query, ADMIN_LIST_MAX, &v, &n)) != 0)
		return done(c, r, NULL);
	return print_list(c, a, v, n, sizeof(*v), unit_fields, unit_line);
}

/* The counter acts on a unit: the model's function and what is printed. */
static const struct {
	int (*fn)(struct store *, const struct gw_actor *, const char *);
	const char *what;
} unit_acts[] = {
	{ gw_unit_agreement, "agreement recorded" },
	{ gw_unit_authorize, "hall authorised" },
	{ gw_unit_revoke_authorization, "hall authorisation revoked" },
	{ gw_unit_close, "closed; sessions of its operators revoked" },
};

static int
unit_mark(struct ctx *c, struct args *a, int which)
{
	struct gw_actor ac = actor(c, a);
	const char *why;
	char msg[512];
	int r;

	r = unit_acts[which].fn(c->st, &ac, a->pos[0]);
	snprintf(msg, sizeof(msg), "unit %s: %s", a->pos[0],
	    unit_acts[which].what);
	if (r == UK_ERR_ADMIN_UNIT_UNKNOWN)
		return fail(c, r, "%s", a->pos[0]);
	if (r == UK_ERR_POLICY_AGREEMENT)
		return fail(c, r,
		    "unit %s: sign the agreement (unit agreement) "
		    "before the authorisation",
		    a->pos[0]);
	if (r == UK_ERR_ADMIN_INVALID && unit_acts[which].fn == gw_unit_close &&
	    refused_option(a, &why) == NULL)
		return fail(c, r, "unit %s is closed already", a->pos[0]);
	return done(c, r, msg);
}

static int
unit_agreement(struct ctx *c, struct args *a)
{
	return unit_mark(c, a, 0);
}

static int
unit_authorize(struct ctx *c, struct args *a)
{
	return unit_mark(c, a, 1);
}

static int
unit_revoke(struct ctx *c, struct args *a)
{
	return unit_mark(c, a, 2);
}

static int
unit_close(struct ctx *c, struct args *a)
{
	return unit_mark(c, a, 3);
}

/* Operators. */

static int
operator_add(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator_new op;
	struct secret *pw = NULL;
	char msg[512];
	int64_t id = 0;
	int r;

	if (a->temporary && a->password_fd < 0)
		return -1;
	if (a->password_fd >= 0 &&
	    (r = read_password(c, a, &pw)) != GW_ADMIN_OK)
		return r;
	memset(&op, 0, sizeof(op));
	op.login = a->login;
	op.unit = a->unit;
	op.name = a->name;
	op.resident_id = a->resident_id;
	op.phone = a->phone;
	op.roles = a->roles;
	op.password = pw;
	op.must_change = a->temporary;
	r = gw_operator_add(c->st, &ac, &op, &id);
	secret_free(pw);
	snprintf(msg, sizeof(msg), "operator %s added to unit %s (id %lld)",
	    a->login, a->unit, (long long)id);
	if (r == UK_ERR_ADMIN_UNIT_UNKNOWN || r == UK_ERR_ADMIN_LOGIN_TAKEN)
		return fail(c, r, "%s",
		    r == UK_ERR_ADMIN_UNIT_UNKNOWN ? a->unit : a->login);
	return done(c, r, msg);
}

static int
operator_show(struct ctx *c, struct args *a)
{
	struct gw_operator o;
	struct gw_binding *b = NULL;
	char t1[40], t2[40], t3[40];
	json_t *j;
	size_t n = 0, i;
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	if ((r = gw_binding_list(c->st, o.id, 0, &b, &n)) != 0)
		return done(c, r, NULL);
	if (a->json) {
		j = to_json(&o, operator_fields);
		if (j != NULL)
			json_object_set_new(j, "certificates",
			    to_json_array(b, n, sizeof(*b), binding_fields));
		free(b);
		return print_json(c, j);
	}
	when(o.created_at, t1, sizeof(t1));
	when(o.left_at, t2, sizeof(t2));
	when(o.frozen_until, t3, sizeof(t3));
	fprintf(c->out,
	    "login: %s\nunit: %s\nname: %s\nresident id: %s\nphone: %s\n"
	    "wechat: %s\nroles: %s\nstatus: %s\npassword: %s\n"
	    "failed attempts: %d\nfrozen until: %s\ncreated: %s\nleft: %s\n",
	    o.login, o.unit, o.name, o.resident_id[0] ? o.resident_id : "-",
	    o.phone[0] ? o.phone : "-", o.openid[0] ? "bound" : "-",
	    o.roles[0] ? o.roles : "-", o.status,
	    !o.has_password        ? "none"
	        : o.pw_must_change ? "temporary"
	                           : "set",
	    o.fail_count, t3, t1, t2);
	for (i = 0; i < n; i++) {
		when(b[i].not_after, t1, sizeof(t1));
		fprintf(c->out, "certificate: %s %s until %s (%s)\n",
		    b[i].sha256, b[i].subject, t1, b[i].source);
	}
	free(b);
	return GW_ADMIN_OK;
}

static void
operator_line(FILE *f, const void *p)
{
	const struct gw_operator *o = p;

	fprintf(f, "%s\t%s\t%s\t%s\t%s\n", o->login, o->unit, o->name,
	    o->roles[0] ? o->roles : "-", o->status);
}

static int
operator_list(struct ctx *c, struct args *a)
{
	struct gw_operator *v = NULL;
	size_t n = 0;
	int r;

	if ((r = gw_operator_list(c->st, a->unit, a->query, ADMIN_LIST_MAX, &v,
	         &n)) != 0)
		return done(c, r, NULL);
	return print_list(c, a, v, n, sizeof(*v), operator_fields,
	    operator_line);
}

static int
operator_change(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	char msg[512];
	int r;

	if (a->name == NULL && a->phone == NULL && a->roles == NULL)
		return -1;
	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	snprintf(msg, sizeof(msg), "operator %s changed", o.login);
	return done(c,
	    gw_operator_change(c->st, &ac, o.id, a->name, a->phone, a->roles),
	    msg);
}

static int
operator_leave(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	snprintf(msg, sizeof(msg),
	    "operator %s has left unit %s; sessions revoked", o.login, o.unit);
	return done(c, gw_operator_leave(c->st, &ac, o.id), msg);
}

/* Deactivates (disable) or reactivates (enable) an operator. */
static int
operator_status(struct ctx *c, struct args *a, int disable)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	const char *why;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	r = disable ? gw_operator_disable(c->st, &ac, o.id)
	            : gw_operator_enable(c->st, &ac, o.id);
	if (r == UK_ERR_ADMIN_INVALID && refused_option(a, &why) == NULL)
		return fail(c, r, "operator %s is %s already", o.login,
		    disable ? "disabled" : "active");
	if (r == UK_ERR_ADMIN_OPERATOR_LEFT)
		return fail(c, r, "%s", o.login);
	snprintf(msg, sizeof(msg), "operator %s %s", o.login,
	    disable ? "disabled; sessions revoked" : "active again");
	return done(c, r, msg);
}

static int
operator_disable(struct ctx *c, struct args *a)
{
	return operator_status(c, a, 1);
}

static int
operator_enable(struct ctx *c, struct args *a)
{
	return operator_status(c, a, 0);
}

static int
operator_unfreeze(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	snprintf(msg, sizeof(msg), "operator %s unfrozen", o.login);
	return done(c, gw_operator_unfreeze(c->st, &ac, o.id), msg);
}

static int
operator_reset(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	struct secret *pw = NULL;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	if ((r = read_password(c, a, &pw)) != GW_ADMIN_OK)
		return r;
	r = gw_operator_set_password(c->st, &ac, o.id, pw, a->temporary);
	secret_free(pw);
	snprintf(msg, sizeof(msg), "operator %s: password %s; sessions revoked",
	    o.login,
	    a->temporary ? "reset (temporary: to be changed at next login)"
	                 : "reset");
	return done(c, r, msg);
}

static int
operator_bind(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	unsigned char *der = NULL;
	size_t len = 0;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	if ((r = read_cert(c, a->cert, &der, &len)) != GW_ADMIN_OK)
		return r;
	r = gw_binding_add(c->st, &ac, der, len, o.id, 0, NULL);
	free(der);
	snprintf(msg, sizeof(msg), "certificate %s bound to operator %s",
	    a->cert, o.login);
	return done(c, r, msg);
}

static int
operator_unbind(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	char msg[512];
	int r;

	r = gw_binding_remove(c->st, &ac, a->sha256);
	if (r == UK_ERR_NOT_FOUND)
		return fail(c, r, "no binding of certificate %s", a->sha256);
	snprintf(msg, sizeof(msg), "certificate %.64s unbound", a->sha256);
	return done(c, r, msg);
}

/* Binds the WeChat openid given to the operator (the counter, with the
 * operator's own form): one openid binds to at most one operator. */
static int
operator_bind_wechat(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	char msg[512];
	int r;

	if (!gw_wechat_openid_valid(a->openid))
		return fail(c, UK_ERR_ADMIN_INVALID,
		    "--openid: 1 to %d of A-Z a-z 0-9 _ -",
		    GW_WECHAT_OPENID_MAX);
	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	r = gw_operator_bind_openid(c->st, &ac, o.id, a->openid);
	if (r == UK_ERR_ADMIN_LOGIN_TAKEN)
		return fail(c, UK_ERR_SCAN_OPENID_TAKEN,
		    "that openid is bound to another operator");
	if (r == UK_ERR_ADMIN_OPERATOR_LEFT)
		return fail(c, r, "%s", o.login);
	snprintf(msg, sizeof(msg), "operator %s: WeChat bound", o.login);
	return done(c, r, msg);
}

/* Removes the operator's WeChat binding: scan login stops working for
 * them until they bind again. */
static int
operator_unbind_wechat(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	struct gw_operator o;
	char msg[512];
	int r;

	if ((r = find_operator(c, a->pos[0], &o)) != GW_ADMIN_OK)
		return r;
	if (o.openid[0] == '\0')
		return fail(c, UK_ERR_NOT_FOUND,
		    "operator %s has no WeChat bound", o.login);
	r = gw_operator_bind_openid(c->st, &ac, o.id, NULL);
	if (r == UK_ERR_ADMIN_OPERATOR_LEFT)
		return fail(c, r, "%s", o.login);
	snprintf(msg, sizeof(msg), "operator %s: WeChat unbound", o.login);
	return done(c, r, msg);
}

/* Staff. */

static int
staff_add(struct ctx *c, struct args *a)
{
	struct gw_actor ac = actor(c, a);
	unsigned char *der = NULL;
	size_t len = 0;
	int64_t id = 0;
	char msg[512];
	int r;

	snprintf(msg, sizeof(msg), "staff %s added%s", a->login,
	    a->cert != NULL ? " with a certificate" : "");
	if (a->cert != NULL &&
	    (r = read_cert(c, a->cert, &der, &len)) != GW_ADMIN_OK)
		return r;
	/* the account and its certificate in one transaction */
	if ((r = store_begin(c->st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = gw_staff_add(c->st, &ac, a->login, a->name, a->roles, &id)) !=
	    0)
		goto out;
	if (der != NULL &&
	    (r = gw_binding_add(c->st, &ac, der, len, 0, id, NULL)) != 0)
		goto out;
	r = store_commit(c->st);
out:
	if (r != 0)
		store_rollback(c->st);
	free(der);
	return done(c, r, msg);
}

static void
staff_line(FILE *f, const void *p)
{
	const struct gw_staff *s = p;

	fprintf(f, "%s\t%s\t%s\t%s\n", s->login, s->name, s->roles, s->status);
}

static int
staff_list(struct ctx *c, struct args *a)
{
	struct gw_staff *v = NULL;
	size_t n = 0;
	int r;

	if ((r = gw_staff_list(c->st, &v, &n)) != 0)
		return done(c, r, NULL);
	return print_list(c, a, v, n, sizeof(*v), staff_fields, staff_line);
}

static const struct cmd cmds[] = {
	{ "unit", "add", { O_ID, O_NAME, O_USCC, O_FORM },
	    { O_ID, O_NAME, O_FORM }, 0,
	    "usage: admin unit add --id ID --name NAME [--uscc CODE] "
	    "--form F\n"
	    "  Registers a unit (account id, name, unified social credit "
	    "code).\n",
	    unit_add },
	{ "unit", "show", { O_JSON }, { 0 }, 1,
	    "usage: admin unit show ID [--json]\n"
	    "  Shows a unit: agreement, hall authorisation, certificates.\n",
	    unit_show },
	{ "unit", "list", { O_QUERY, O_JSON }, { 0 }, 0,
	    "usage: admin unit list [--query Q] [--json]\n"
	    "  Lists units whose id, name or USCC contains Q.\n",
	    unit_list },
	{ "unit", "agreement", { O_FORM }, { O_FORM }, 1,
	    "usage: admin unit agreement ID --form F\n"
	    "  Records the online-service agreement signed at the counter.\n",
	    unit_agreement },
	{ "unit", "authorize", { O_FORM }, { O_FORM }, 1,
	    "usage: admin unit authorize ID --form F\n"
	    "  Records the online hall user authorisation.\n",
	    unit_authorize },
	{ "unit", "revoke-authorization", { O_FORM }, { O_FORM }, 1,
	    "usage: admin unit revoke-authorization ID --form F\n"
	    "  Withdraws the online hall user authorisation.\n",
	    unit_revoke },
	{ "unit", "close", { O_FORM }, { O_FORM }, 1,
	    "usage: admin unit close ID --form F\n"
	    "  Closes a unit: its operators' sessions are revoked.\n",
	    unit_close },
	{ "operator", "add",
	    { O_LOGIN, O_UNIT, O_NAME, O_RESIDENT, O_PHONE, O_ROLES, O_PWFD,
	        O_TEMP, O_FORM },
	    { O_LOGIN, O_UNIT, O_NAME, O_FORM }, 0,
	    "usage: admin operator add --login L --unit U --name N "
	    "[--resident-id X]\n"
	    "           [--phone P] [--roles \"maker checker admin\"] "
	    "[--password-fd N [--temporary]]\n"
	    "           --form F\n"
	    "  Registers an operator of unit U. The password, if any, is read "
	    "from\n  descriptor N (never from the command line).\n",
	    operator_add },
	{ "operator", "show", { O_JSON }, { 0 }, 1,
	    "usage: admin operator show LOGIN [--json]\n"
	    "  Shows an operator (by login name or resident ID) and their "
	    "certificates.\n",
	    operator_show },
	{ "operator", "list", { O_UNIT, O_QUERY, O_JSON }, { 0 }, 0,
	    "usage: admin operator list [--unit U] [--query Q] [--json]\n"
	    "  Lists operators whose login, name, resident ID or phone "
	    "contains Q.\n",
	    operator_list },
	{ "operator", "change", { O_NAME, O_PHONE, O_ROLES, O_FORM },
	    { O_FORM }, 1,
	    "usage: admin operator change LOGIN [--name N] [--phone P] "
	    "[--roles R] --form F\n"
	    "  Changes an operator's name, phone (\"\" clears it) or roles.\n",
	    operator_change },
	{ "operator", "leave", { O_FORM }, { O_FORM }, 1,
	    "usage: admin operator leave LOGIN --form F\n"
	    "  The operator has left the unit: no more logins, sessions "
	    "revoked.\n",
	    operator_leave },
	{ "operator", "disable", { O_FORM }, { O_FORM }, 1,
	    "usage: admin operator disable LOGIN --form F\n"
	    "  Deactivates the operator: no login of any kind, sessions "
	    "revoked.\n",
	    operator_disable },
	{ "operator", "enable", { O_FORM }, { O_FORM }, 1,
	    "usage: admin operator enable LOGIN --form F\n"
	    "  Makes a deactivated operator active again.\n",
	    operator_enable },
	{ "operator", "reset-password", { O_PWFD, O_TEMP, O_FORM },
	    { O_PWFD, O_FORM }, 1,
	    "usage: admin operator reset-password LOGIN --password-fd N "
	    "[--temporary] --form F\n"
	    "  Sets a new password read from descriptor N; clears the freeze "
	    "and\n  revokes the operator's sessions.\n",
	    operator_reset },
	{ "operator", "bind-cert", { O_CERT, O_FORM }, { O_CERT, O_FORM }, 1,
	    "usage: admin operator bind-cert LOGIN --cert FILE --form F\n"
	    "  Binds a certificate (PEM or DER) to the operator.\n",
	    operator_bind },
	{ "operator", "unbind-cert", { O_SHA, O_FORM }, { O_SHA, O_FORM }, 0,
	    "usage: admin operator unbind-cert --sha256 HEX --form F\n"
	    "  Removes the binding of the certificate with that SHA-256.\n",
	    operator_unbind },
	{ "operator", "unfreeze", { O_FORM }, { O_FORM }, 1,
	    "usage: admin operator unfreeze LOGIN --form F\n"
	    "  Lifts a password freeze.\n",
	    operator_unfreeze },
	{ "operator", "bind-wechat", { O_OPENID, O_FORM }, { O_OPENID, O_FORM },
	    1,
	    "usage: admin operator bind-wechat LOGIN --openid ID --form F\n"
	    "  Binds a WeChat openid to the operator for scan login; an openid "
	    "binds\n  to one operator only.\n",
	    operator_bind_wechat },
	{ "operator", "unbind-wechat", { O_FORM }, { O_FORM }, 1,
	    "usage: admin operator unbind-wechat LOGIN --form F\n"
	    "  Removes the operator's WeChat binding: no scan login until they "
	    "bind\n  again.\n",
	    operator_unbind_wechat },
	{ "staff", "add", { O_LOGIN, O_NAME, O_ROLES, O_CERT },
	    { O_LOGIN, O_NAME, O_ROLES }, 0,
	    "usage: admin staff add --login L --name N --roles \"counter "
	    "helpdesk admin\"\n"
	    "           [--cert FILE]\n"
	    "  Adds a staff account, with the certificate it logs in with.\n",
	    staff_add },
	{ "staff", "list", { O_JSON }, { 0 }, 0,
	    "usage: admin staff list [--json]\n  Lists staff accounts.\n",
	    staff_list },
};

static void
usage_all(FILE *f)
{
	size_t i;

	fputs("usage: admin unit|operator|staff COMMAND [OPTIONS]\n", f);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s %s\n", cmds[i].noun, cmds[i].verb);
	fputs("Each command answers --help.\n", f);
}

static const char *
opt_name(int val)
{
	return val >= O_ID && val < O_ID + (int)NOPTS ? optdefs[val - O_ID].name
	                                              : "?";
}

/* Where struct args keeps option val. */
static void *
opt_field(struct args *a, int val)
{
	return (char *)a + optdefs[val - O_ID].off;
}

/* Whether option val was given (flags: always). */
static int
given(struct args *a, int val)
{
	switch (optdefs[val - O_ID].kind) {
	case OPT_STR:
		return *(const char **)opt_field(a, val) != NULL;
	case OPT_FD:
		return *(int *)opt_field(a, val) >= 0;
	default:
		return 1;
	}
}

/* Parses the options of cmd from argv (argv[0] is the verb). */
static int
parse(struct ctx *c, const struct cmd *cmd, int argc, char **argv,
    struct args *a)
{
	struct option lo[NOPTS + 1];
	char *end;
	long v;
	int opt, i, ok;

	memset(a, 0, sizeof(*a));
	memset(lo, 0, sizeof(lo));
	for (i = 0; i < (int)NOPTS; i++) {
		lo[i].name = optdefs[i].name;
		lo[i].has_arg = optdefs[i].kind == OPT_FLAG ? no_argument
		                                            : required_argument;
		lo[i].val = O_ID + i;
	}
	a->password_fd = -1;
	optind = 0; /* GNU: start afresh */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == O_HELP) {
			a->help = 1;
			return 0;
		}
		ok = 0;
		for (i = 0; cmd->opts[i] != 0; i++)
			if (cmd->opts[i] == opt)
				ok = 1;
		if (opt == '?' || opt == ':' || !ok) {
			fail(c, UK_ERR_USAGE, "unknown or incomplete option %s",
			    argv[optind - 1]);
			return -1;
		}
		switch (optdefs[opt - O_ID].kind) {
		case OPT_STR:
			*(const char **)opt_field(a, opt) = optarg;
			break;
		case OPT_FLAG:
			*(int *)opt_field(a, opt) = 1;
			break;
		case OPT_FD:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    v < 0 || v > 1023) {
				fail(c, UK_ERR_USAGE, "bad descriptor \"%s\"",
				    optarg);
				return -1;
			}
			*(int *)opt_field(a, opt) = (int)v;
			break;
		}
	}
	for (i = 0; cmd->req[i] != 0; i++)
		if (!given(a, cmd->req[i])) {
			fail(c, UK_ERR_USAGE, "--%s is required%s",
			    opt_name(cmd->req[i]),
			    cmd->req[i] == O_FORM
			        ? " (the application form number)"
			        : "");
			return -1;
		}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos != cmd->npos) {
		fail(c, UK_ERR_USAGE, "%s %s takes %d argument%s", cmd->noun,
		    cmd->verb, cmd->npos, cmd->npos == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

int
gw_admin_main(struct store *st, const char *actor_name, int argc, char **argv,
    FILE *out, FILE *err)
{
	struct ctx c = { st, actor_name, out, err, NULL, "" };
	const struct cmd *cmd = NULL;
	struct args a;
	size_t i;
	int r = GW_ADMIN_USAGE;

	if (argc < 1 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		usage_all(argc < 1 ? err : out);
		r = argc < 1 ? GW_ADMIN_USAGE : GW_ADMIN_OK;
		goto out;
	}
	if (argc == 1 || strcmp(argv[1], "--help") == 0) {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(cmds[i].noun, argv[0]) == 0) {
				fputs(cmds[i].help, argc == 1 ? err : out);
				cmd = &cmds[i];
			}
		if (cmd == NULL) {
			fail(&c, UK_ERR_USAGE, "unknown command \"%s\"",
			    argv[0]);
			usage_all(err);
		} else if (argc > 1)
			r = GW_ADMIN_OK;
		goto out;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].noun, argv[0]) == 0 && argc >= 2 &&
		    strcmp(cmds[i].verb, argv[1]) == 0)
			cmd = &cmds[i];
	if (cmd == NULL) {
		fail(&c, UK_ERR_USAGE, "unknown command \"%s%s%s\"", argv[0],
		    argc >= 2 ? " " : "", argc >= 2 ? argv[1] : "");
		usage_all(err);
		goto out;
	}
	if (parse(&c, cmd, argc - 1, argv + 1, &a) != 0) {
		fputs(cmd->help, err);
		goto out;
	}
	if (a.help) {
		fputs(cmd->help, out);
		r = GW_ADMIN_OK;
		goto out;
	}
	if (st == NULL || actor_name == NULL) {
		r = fail(&c, UK_ERR_INTERNAL, "no store");
		goto out;
	}
	c.args = &a;
	if ((r = cmd->fn(&c, &a)) < 0) {
		fail(&c, UK_ERR_USAGE, "%s",
		    a.temporary ? "--temporary needs --password-fd"
		                : "give at least one of --name, --phone, "
		                  "--roles");
		fputs(cmd->help, err);
		r = GW_ADMIN_USAGE;
	}
out:
	return r;
}

int
gw_audit_verify_main(struct store *st, FILE *out, FILE *err)
{
	struct store_res *res = NULL;
	int64_t bad = 0;
	int r;

	if ((r = audit_verify_chain(st, &bad)) == UK_ERR_STORE_AUDIT_CHAIN) {
		fprintf(err, "audit: chain broken at row %lld\n",
		    (long long)bad);
		r = GW_ADMIN_FAILED;
		goto out;
	}
	if (r != 0 ||
	    (r = store_exec(st, &res, "SELECT count(*) FROM audit", "")) != 0) {
		fprintf(err, "audit: %s: %s: %s\n", uk_error_id(r),
		    uk_strerror(r), store_last_error(st));
		r = GW_ADMIN_FAILED;
		goto out;
	}
	fprintf(out, "audit: %lld rows, chain intact\n",
	    (long long)store_res_int(res, 0, 0));
	r = GW_ADMIN_OK;
out:
	store_res_free(res);
	return r;
}
