/* gateway/pwlogin.c: password login: per-IP limit, the daily freeze counted before hashing, Argon2id check, rehash and audit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/identity.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"
#include "gateway/pwlogin.h"
#include "gateway/ratelimit.h"

#define DEFAULT_TZ "Asia/Shanghai"
#define DEFAULT_IP_LIMIT 30
#define DEFAULT_IP_WINDOW 300
#define TX_TRIES 3     /* a transaction that met a deadlock is retried */
#define UA_MAX 256     /* bytes of the user agent kept in the audit */
#define SUBJECT_MAX 64 /* bytes of a login as typed kept in the audit */
#define DAY 86400

/* The fixed zone table (no DST in any of them). */
static const struct {
	const char *name;
	int offset; /* seconds east of UTC */
} zones[] = {
	{ "Asia/Shanghai", 8 * 3600 },
	{ "Asia/Chongqing", 8 * 3600 },
	{ "Asia/Harbin", 8 * 3600 },
	{ "Asia/Urumqi", 6 * 3600 },
	{ "UTC", 0 },
};

/* Parses tz into *offset (seconds east of UTC). Returns 0 or -1. */
static int
tz_offset(const char *tz, int *offset)
{
	const char *p;
	int sign, h = 0, m = 0, nd = 0;
	size_t i;

	if (tz == NULL)
		tz = DEFAULT_TZ;
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcmp(tz, zones[i].name) == 0) {
			*offset = zones[i].offset;
			return 0;
		}
	}
	if (strncmp(tz, "UTC", 3) != 0 || (tz[3] != '+' && tz[3] != '-'))
		return -1;
	sign = tz[3] == '+' ? 1 : -1;
	for (p = tz + 4; *p >= '0' && *p <= '9' && nd < 2; p++, nd++)
		h = h * 10 + (*p - '0');
	if (nd == 0)
		return -1;
	if (*p == ':') {
		if (p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
			return -1;
		m = (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
	}
	if (*p != '\0' || h * 60 + m > 14 * 60)
		return -1;
	*offset = sign * (h * 3600 + m * 60);
	return 0;
}

int
gw_tz_valid(const char *tz)
{
	int off;

	return tz_offset(tz, &off) == 0;
}

/* The offset of tz, or Asia/Shanghai's for an unknown zone. */
static int
tz_offset_or_default(const char *tz)
{
	int off;

	if (tz_offset(tz, &off) != 0)
		off = 8 * 3600;
	return off;
}

/* floor(a / b) for b > 0. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

int64_t
gw_local_day(const char *tz, int64_t now)
{
	return floor_div(now + tz_offset_or_default(tz), DAY);
}

int64_t
gw_local_midnight_after(const char *tz, int64_t now)
{
	int off = tz_offset_or_default(tz);

	return (floor_div(now + off, DAY) + 1) * DAY - off;
}

/* Copies src (NULL: "") into dst of size bytes, truncated. */
static void
copy_text(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copies at most max bytes of src into dst (max + 1 bytes), without
 * cutting a UTF-8 sequence. */
static void
copy_utf8(char *dst, size_t max, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The settings in force: conf with defaults for zero fields. */
struct settings {
	const char *tz;
	int64_t ip_limit;
	int64_t ip_window;
	struct gw_pwhash_params hash;
};

static void
settings_from(const struct gw_pwlogin_conf *conf, struct settings *s)
{
	gw_pwhash_defaults(&s->hash);
	s->tz = DEFAULT_TZ;
	s->ip_limit = DEFAULT_IP_LIMIT;
	s->ip_window = DEFAULT_IP_WINDOW;
	if (conf == NULL)
		return;
	if (conf->tz != NULL)
		s->tz = conf->tz;
	if (conf->ip_limit > 0)
		s->ip_limit = conf->ip_limit;
	if (conf->ip_window > 0)
		s->ip_window = conf->ip_window;
	if (conf->hash.t_cost != 0)
		s->hash.t_cost = conf->hash.t_cost;
	if (conf->hash.m_cost_kib != 0)
		s->hash.m_cost_kib = conf->hash.m_cost_kib;
	if (conf->hash.parallelism != 0)
		s->hash.parallelism = conf->hash.parallelism;
}

/* One attempt's context, shared by its transactions. */
struct attempt {
	const struct settings *set;
	const char *typed;      /* the login as typed ("" when NULL) */
	const char *ip;         /* "" when NULL */
	const char *user_agent; /* may be NULL */
	int64_t now, day, midnight;
	char login_lc[GW_LOGIN_MAX + 1];
	char resident[GW_LOGIN_MAX + 1];
	int lookup; /* 0: the login cannot name anyone (too long, empty) */
	/* After the reservation: */
	int reserved; /* 1: an attempt was counted, the hash is to be checked */
	int dummy;    /* 1: unknown user, compute a hash for timing only */
	int64_t res_k; /* fail_count after the reservation */
	char *pw_hash; /* the PHC read under the lock (malloc'd) */
	char *new_phc; /* a rehash to store (malloc'd) */
};

/* Appends the audit row of the attempt (inside st's transaction, if any). */
static int
audit_attempt(struct store *st, const struct attempt *a,
    const struct gw_pwlogin_result *res, int code)
{
	char actor[80], subject[sizeof("operator:") + GW_LOGIN_MAX + 1];
	char who[GW_LOGIN_MAX + 1], ua[UA_MAX + 1];
	json_t *j = NULL;
	char *detail = NULL;
	int r = UK_ERR_NOMEM;

	copy_text(actor, sizeof(actor), "ip:");
	copy_text(actor + 3, sizeof(actor) - 3, a->ip);
	if (res->op.id != 0)
		copy_text(who, sizeof(who), res->op.login);
	else
		copy_utf8(who, SUBJECT_MAX, a->typed);
	copy_text(subject, sizeof(subject), "operator:");
	copy_text(subject + 9, sizeof(subject) - 9, who);
	copy_utf8(ua, UA_MAX, a->user_agent);
	/* TODO: audit_append_ex with the ip, user_agent and result columns. */
	j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "result",
	    code == 0 ? "ok" : uk_error_id(code), "ip", a->ip, "user_agent", ua,
	    "tries_left", (json_int_t)res->tries_left, "frozen_until",
	    (json_int_t)res->frozen_until);
	if (j == NULL)
		goto out;
	if ((detail = json_dumps(j, JSON_COMPACT)) == NULL)
		goto out;
	r = audit_append(st, "login.password", actor, subject, detail, NULL);
out:
	free(detail);
	json_decref(j);
	return r;
}

/* The per-IP fixed window: counts this attempt. *over is set to the
 * seconds left in the window when the limit is exceeded, else 0. */
static int
ip_count(struct store *st, const struct attempt *a, int *over)
{
	char key[80];

	copy_text(key, sizeof(key), "ip:");
	copy_text(key + 3, sizeof(key) - 3, a->ip);
	return gw_rate_hit(st, key, a->set->ip_window, a->set->ip_limit, a->now,
	    over);
}

#define OP_COLS                                                                \
	"SELECT id, login, unit_id, name, resident_id, phone, wechat_openid,"  \
	" roles, status, pw_hash, pw_must_change, fail_count, fail_day,"       \
	" frozen_until, created_at, left_at FROM operators"

/* Fills op from row 0 of rs (OP_COLS). */
static void
op_from_row(const struct store_res *rs, struct gw_operator *op)
{
	memset(op, 0, sizeof(*op));
	op->id = store_res_int(rs, 0, 0);
	copy_text(op->login, sizeof(op->login), store_res_text(rs, 0, 1));
	copy_text(op->unit, sizeof(op->unit), store_res_text(rs, 0, 2));
	copy_text(op->name, sizeof(op->name), store_res_text(rs, 0, 3));
	copy_text(op->resident_id, sizeof(op->resident_id),
	    store_res_text(rs, 0, 4));
	copy_text(op->phone, sizeof(op->phone), store_res_text(rs, 0, 5));
	copy_text(op->openid, sizeof(op->openid), store_res_text(rs, 0, 6));
	copy_text(op->roles, sizeof(op->roles), store_res_text(rs, 0, 7));
	copy_text(op->status, sizeof(op->status), store_res_text(rs, 0, 8));
	op->has_password =
	    !store_res_isnull(rs, 0, 9) && *store_res_text(rs, 0, 9) != '\0';
	op->pw_must_change = store_res_int(rs, 0, 10) != 0;
	op->fail_count = (int)store_res_int(rs, 0, 11);
	op->fail_day = store_res_int(rs, 0, 12);
	op->frozen_until = store_res_int(rs, 0, 13);
	op->created_at = store_res_int(rs, 0, 14);
	op->left_at = store_res_int(rs, 0, 15);
}

/* Finds and locks the operator: by login name first, then resident ID.
 * *rs is NULL when there is none. */
static int
op_lock(struct store *st, const struct attempt *a, struct store_res **rs)
{
	int r;

	*rs = NULL;
	if (!a->lookup)
		return 0;
	r = store_exec(st, rs, OP_COLS " WHERE login_lc = ? FOR UPDATE", "t",
	    a->login_lc);
	if (r != 0 || store_res_rows(*rs) == 1)
		return r;
	store_res_free(*rs);
	*rs = NULL;
	if (a->resident[0] == '\0')
		return 0;
	r = store_exec(st, rs, OP_COLS " WHERE resident_id = ? FOR UPDATE", "t",
	    a->resident);
	if (r == 0 && store_res_rows(*rs) != 1) {
		store_res_free(*rs);
		*rs = NULL;
	}
	return r;
}

/*
 * The first transaction: the per-IP count, the operator under its row lock,
 * the refusals that need no hash (audited here), and otherwise the
 * reservation of one attempt. Sets a->reserved or a->dummy when a hash is
 * to follow.
 */
static int
tx_reserve(struct store *st, struct attempt *a, struct gw_pwlogin_result *res)
{
	struct store_res *rs = NULL;
	int64_t count, frozen;
	int over, r;

	a->reserved = a->dummy = 0;
	free(a->pw_hash);
	a->pw_hash = NULL;
	memset(res, 0, sizeof(*res));
	res->tries_left = -1;
	/*
	 * Relaxed until it lets an attempt through: a refusal decided here
	 * (its audit row and the per-IP count) may be lost in a power failure
	 * (see STORE_TX_WRITE_RELAXED: only the last moments, on the safe
	 * side: nothing was allowed); a reservation is made durable before
	 * its hash is computed.
	 */
	if ((r = store_begin(st, STORE_TX_WRITE_RELAXED)) != 0)
		goto out;
	if ((r = ip_count(st, a, &over)) != 0)
		goto out;
	if (over > 0) {
		res->code = UK_ERR_LOGIN_RATE;
		res->retry_after = over;
		goto decided;
	}
	if ((r = op_lock(st, a, &rs)) != 0)
		goto out;
	if (rs == NULL) {
		res->code = UK_ERR_LOGIN_UNKNOWN_USER;
		a->dummy = 1;
		goto decided;
	}
	op_from_row(rs, &res->op);
	res->must_change = res->op.pw_must_change;
	count = res->op.fail_day == a->day ? res->op.fail_count : 0;
	frozen = res->op.frozen_until > a->now ? res->op.frozen_until : 0;
	res->tries_left = count >= GW_PW_TRIES ? 0 : GW_PW_TRIES - (int)count;
	if (strcmp(res->op.status, "left") == 0) {
		res->code = UK_ERR_LOGIN_OPERATOR_LEFT;
		goto decided;
	}
	if (strcmp(res->op.status, "active") != 0) {
		res->code = UK_ERR_LOGIN_DISABLED;
		goto decided;
	}
	if (!res->op.has_password) {
		res->code = UK_ERR_LOGIN_NO_PASSWORD;
		goto decided;
	}
	if (frozen != 0 || count >= GW_PW_TRIES) {
		res->code = UK_ERR_LOGIN_FROZEN;
		res->tries_left = 0;
		res->frozen_until = frozen != 0 ? frozen : a->midnight;
		goto decided;
	}
	/* Reserve: this attempt counts before its hash is computed. */
	count++;
	frozen = count >= GW_PW_TRIES ? a->midnight : 0;
	r = store_exec(st, NULL,
	    "UPDATE operators SET fail_count = ?, fail_day = ?,"
	    " frozen_until = ? WHERE id = ?",
	    "iiii", count, a->day, frozen, res->op.id);
	if (r != 0)
		goto out;
	if ((a->pw_hash = strdup(store_res_text(rs, 0, 9))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	res->op.fail_count = (int)count;
	res->op.fail_day = a->day;
	res->op.frozen_until = frozen;
	a->res_k = count;
	a->reserved = 1;
	if ((r = store_tx_durable(st)) != 0)
		goto out;
	r = store_commit(st);
	goto out;
decided:
	if ((r = audit_attempt(st, a, res, res->code)) != 0)
		goto out;
	r = store_commit(st);
out:
	if (r != 0) {
		store_rollback(st);
		a->reserved = a->dummy = 0;
	}
	store_res_free(rs);
	return r;
}

/*
 * The second transaction after a right password: the count lowered by the
 * attempts reserved up to this one (those reserved later keep counting),
 * the freeze lifted when the count falls below the limit, the agreement
 * checked, the rehash stored, and the audit row.
 */
static int
tx_success(struct store *st, struct attempt *a, struct gw_pwlogin_result *res)
{
	struct store_res *rs = NULL, *us = NULL;
	int64_t count, day, frozen;
	int code = 0, r;

	/* durable; concurrent logins share the fsync */
	if ((r = store_begin(st, STORE_TX_WRITE_GROUP)) != 0)
		goto out;
	r = store_exec(st, &rs,
	    "SELECT fail_count, fail_day, frozen_until, pw_hash, status,"
	    " pw_must_change FROM operators WHERE id = ? FOR UPDATE",
	    "i", res->op.id);
	if (r != 0)
		goto out;
	if (store_res_rows(rs) != 1) {
		r = UK_ERR_NOT_FOUND;
		goto out;
	}
	count = store_res_int(rs, 0, 0);
	day = store_res_int(rs, 0, 1);
	frozen = store_res_int(rs, 0, 2);
	copy_text(res->op.status, sizeof(res->op.status),
	    store_res_text(rs, 0, 4));
	res->must_change = res->op.pw_must_change =
	    store_res_int(rs, 0, 5) != 0;
	if (store_res_isnull(rs, 0, 3) ||
	    strcmp(store_res_text(rs, 0, 3), a->pw_hash) != 0) {
		/* The password was changed meanwhile: this one is stale. */
		code = UK_ERR_LOGIN_PASSWORD;
		res->tries_left =
		    count >= GW_PW_TRIES ? 0 : GW_PW_TRIES - (int)count;
		res->frozen_until = frozen > a->now ? frozen : 0;
		goto audit;
	}
	/* Forgive the attempts reserved up to and including this one. */
	if (day == a->day)
		count = count > a->res_k ? count - a->res_k : 0;
	if (count < GW_PW_TRIES)
		frozen = 0;
	r = store_exec(st, NULL,
	    "UPDATE operators SET fail_count = ?, frozen_until = ?"
	    " WHERE id = ?",
	    "iii", count, frozen, res->op.id);
	if (r != 0)
		goto out;
	res->op.fail_count = (int)count;
	res->op.frozen_until = frozen;
	res->tries_left = count >= GW_PW_TRIES ? 0 : GW_PW_TRIES - (int)count;
	res->frozen_until = frozen > a->now ? frozen : 0;
	if (a->new_phc != NULL) {
		r = store_exec(st, NULL,
		    "UPDATE operators SET pw_hash = ? WHERE id = ?"
		    " AND pw_hash = ?",
		    "tit", a->new_phc, res->op.id, a->pw_hash);
		if (r != 0)
			goto out;
	}
	if (strcmp(res->op.status, "left") == 0)
		code = UK_ERR_LOGIN_OPERATOR_LEFT;
	else if (strcmp(res->op.status, "active") != 0)
		code = UK_ERR_LOGIN_DISABLED;
	if (code != 0)
		goto audit;
	r = store_exec(st, &us, "SELECT agreement_at FROM units WHERE id = ?",
	    "t", res->op.unit);
	if (r != 0)
		goto out;
	if (store_res_rows(us) != 1 || store_res_isnull(us, 0, 0))
		code = UK_ERR_POLICY_AGREEMENT;
audit:
	res->code = code;
	if ((r = audit_attempt(st, a, res, code)) != 0)
		goto out;
	r = store_commit(st);
out:
	if (r != 0)
		store_rollback(st);
	store_res_free(us);
	store_res_free(rs);
	return r;
}

/* A failed attempt after its hash: the reservation already counted it;
 * only the audit row remains. */
static int
tx_failure(struct store *st, struct attempt *a, struct gw_pwlogin_result *res,
    int code)
{
	res->code = code;
	res->tries_left =
	    a->res_k >= GW_PW_TRIES ? 0 : GW_PW_TRIES - (int)a->res_k;
	res->frozen_until = a->res_k >= GW_PW_TRIES ? a->midnight : 0;
	return audit_attempt(st, a, res, code);
}

int
gw_pwlogin_attempt(struct store *st, const struct gw_pwlogin_conf *conf,
    const char *login, const struct secret *pw, const char *ip,
    const char *user_agent, int64_t now, struct gw_pwlogin_result *res)
{
	struct settings set;
	struct attempt a;
	char *phc = NULL;
	size_t i, n;
	int rehash = 0, tries, v, r = UK_ERR_INTERNAL;

	memset(&a, 0, sizeof(a));
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->tries_left = -1;
	}
	if (st == NULL || pw == NULL || pw->buf == NULL || res == NULL) {
		r = UK_ERR_INPUT;
		goto out;
	}
	settings_from(conf, &set);
	if (!gw_tz_valid(set.tz)) {
		r = UK_ERR_CONFIG_VALUE;
		goto out;
	}
	a.set = &set;
	a.typed = login != NULL ? login : "";
	a.ip = ip != NULL ? ip : "";
	a.user_agent = user_agent;
	a.now = now;
	a.day = gw_local_day(set.tz, now);
	a.midnight = gw_local_midnight_after(set.tz, now);
	n = strlen(a.typed);
	a.lookup = n > 0 && n <= GW_LOGIN_MAX;
	if (a.lookup) {
		for (i = 0; i <= n; i++) {
			char c = a.typed[i];

			a.login_lc[i] =
			    c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
			a.resident[i] = c == 'x' ? 'X' : c;
		}
		if (n != 18)
			a.resident[0] = '\0';
	}
	for (tries = 0; tries < TX_TRIES; tries++) {
		if ((r = tx_reserve(st, &a, res)) != UK_ERR_STORE_BUSY)
			break;
	}
	if (r != 0)
		goto out;
	if (a.dummy) {
		/* Unknown user: one hash all the same, so the answer takes
		 * about as long as a wrong password. */
		if ((r = gw_pwhash(&set.hash, pw, &phc)) != 0)
			goto out;
		res->hashed = 1;
		r = 0;
		goto out;
	}
	if (!a.reserved) {
		r = 0;
		goto out;
	}
	v = gw_pwhash_verify(&set.hash, a.pw_hash, pw, &rehash);
	res->hashed = v == 0 || v == UK_ERR_LOGIN_PASSWORD;
	if (v != 0) {
		/* A wrong password, or a stored hash we cannot read (the
		 * attempt counted all the same). */
		for (tries = 0; tries < TX_TRIES; tries++) {
			r = tx_failure(st, &a, res,
			    v == UK_ERR_LOGIN_PASSWORD ? v : UK_ERR_INTERNAL);
			if (r != UK_ERR_STORE_BUSY)
				break;
		}
		if (r == 0 && v != UK_ERR_LOGIN_PASSWORD)
			r = v;
		goto out;
	}
	if (rehash && gw_pwhash(&set.hash, pw, &a.new_phc) != 0)
		a.new_phc = NULL; /* keep the old hash; try again next time */
	for (tries = 0; tries < TX_TRIES; tries++) {
		if ((r = tx_success(st, &a, res)) != UK_ERR_STORE_BUSY)
			break;
	}
out:
	free(phc);
	free(a.pw_hash);
	free(a.new_phc);
	return r;
}
