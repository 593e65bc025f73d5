/* gateway/reset.c: password reset by SMS: the 6-digit code, the one-time reset token and the new password, each step atomic in the store and audited. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/audit.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/rnd.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/ratelimit.h"
#include "gateway/reset.h"
#include "gateway/sms.h"
#include "gateway/sms_provider.h"

/* The effective settings. */
struct set {
	int code_ttl, code_checks, token_ttl;
	int per_min, per_hour, per_day;
	int ip_limit, ip_window, login_limit, login_window, floor_ms;
};

static int
dflt(int v, int d)
{
	return v > 0 ? v : d;
}

static void
settings(const struct gw_reset_conf *c, struct set *s)
{
	static const struct gw_reset_conf zero;

	if (c == NULL)
		c = &zero;
	s->code_ttl = dflt(c->code_ttl, 300);
	s->code_checks = dflt(c->code_checks, 5);
	s->token_ttl = dflt(c->token_ttl, 600);
	s->per_min = dflt(c->phone_per_min, 1);
	s->per_hour = dflt(c->phone_per_hour, 5);
	s->per_day = dflt(c->phone_per_day, 10);
	s->ip_limit = dflt(c->ip_limit, 30);
	s->ip_window = dflt(c->ip_window, 3600);
	s->login_limit = dflt(c->login_limit, 10);
	s->login_window = dflt(c->login_window, 3600);
	s->floor_ms = c->floor_ms < 0 ? 0 : dflt(c->floor_ms, 250);
}

static void
res_init(struct gw_reset_result *res)
{
	memset(res, 0, sizeof(*res));
}

/* The phone's three windows. */
struct pwin {
	const char *suffix;
	int window, limit;
};

/*
 * Checks the phone's limits and, when none is reached, counts one message
 * in each. The counters are locked (FOR UPDATE) so concurrent requests for
 * one phone never both pass the last free slot. *over: seconds to wait,
 * 0 when the message may go.
 */
static int
phone_take(struct store *st, const struct set *s, const char *phone,
    int64_t now, int *over)
{
	const struct pwin w[3] = { { ":min", 60, s->per_min },
		{ ":hour", 3600, s->per_hour }, { ":day", 86400, s->per_day } };
	struct store_res *rs = NULL;
	char key[64];
	int64_t start, count, left;
	int i, r = 0;

	*over = 0;
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "sms:phone:%s%s", phone,
		    w[i].suffix);
		if ((r = store_exec(st, NULL,
		         "INSERT INTO rate_limits (key, window_start, count)"
		         " VALUES (?, ?, 0) ON CONFLICT (key) DO NOTHING",
		         "ti", key, now)) != 0)
			goto out;
		store_res_free(rs);
		rs = NULL;
		if ((r = store_exec(st, &rs,
		         "SELECT window_start, count FROM rate_limits"
		         " WHERE key = ? FOR UPDATE",
		         "t", key)) != 0)
			goto out;
		if (store_res_rows(rs) != 1) {
			r = UK_ERR_INTERNAL;
			goto out;
		}
		start = store_res_int(rs, 0, 0);
		count = store_res_int(rs, 0, 1);
		if (start > now - w[i].window && count >= w[i].limit) {
			left = start + w[i].window - now;
			if (left > *over)
				*over = left < 1 ? 1 : (int)left;
		}
	}
	if (*over > 0)
		goto out;
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "sms:phone:%s%s", phone,
		    w[i].suffix);
		if ((r = store_exec(st, NULL,
		         "UPDATE rate_limits SET"
		         " count = CASE WHEN window_start <= ? THEN 1"
		         " ELSE count + 1 END,"
		         " window_start = CASE WHEN window_start <= ?"
		         " THEN ? ELSE window_start END WHERE key = ?",
		         "iiit", now - w[i].window, now - w[i].window, now,
		         key)) != 0)
			goto out;
	}
out:
	store_res_free(rs);
	return r;
}

/* HMAC-SHA256(key, "<operator id>:<code>") in hex. */
static int
code_hash(const struct secret *key, int64_t op, const char *code, char hex[65])
{
	unsigned char mac[32];
	unsigned int ml = 0;
	char msg[48];
	int n, r = UK_ERR_INTERNAL;

	n = snprintf(msg, sizeof(msg), "%lld:%s", (long long)op, code);
	if (n < 0 || (size_t)n >= sizeof(msg))
		goto out;
	if (HMAC(EVP_sha256(), key->buf, (int)key->len,
	        (const unsigned char *)msg, (size_t)n, mac, &ml) == NULL ||
	    ml != 32)
		goto out;
	hex_encode(mac, 32, hex);
	r = 0;
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

static void
sha256_hex(const char *s, char hex[65])
{
	unsigned char md[32];

	SHA256((const unsigned char *)s, strlen(s), md);
	hex_encode(md, 32, hex);
}

/* Appends the step's audit row: detail {"login": login, "outcome": …}. */
static int
audit_step(struct store *st, const char *event, const char *login,
    const char *op_login, const char *ip, const char *ua,
    struct gw_reset_result *res)
{
	char subject[GW_LOGIN_MAX + 16], *detail = NULL;
	json_t *o;
	int r;

	if (op_login != NULL)
		snprintf(subject, sizeof(subject), "operator:%s", op_login);
	o = json_pack("{s:s?,s:s}", "login", login, "outcome",
	    res->code == 0 ? "ok" : uk_error_info(res->code)->name);
	if (o == NULL || (detail = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return UK_ERR_NOMEM;
	}
	json_decref(o);
	r = audit_append_ex(st,
	    &(struct audit_event){ event, "anonymous",
	        op_login != NULL ? subject : NULL, detail, ip, ua,
	        res->code == 0 ? "ok" : uk_error_id(res->code) },
	    res->event);
	free(detail);
	return r;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_until(int64_t t_ms)
{
	struct timespec ts;
	int64_t left = t_ms - mono_ms();

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The per-IP and per-login limits of step 1 and 2 (login NULL: IP only).
 * Sets res->code / public_code / retry_after when one is reached. */
static int
limits(struct store *st, const struct set *s, const char *ip, const char *login,
    int64_t now, struct gw_reset_result *res)
{
	char key[GW_LOGIN_MAX + 80];
	size_t i;
	int over = 0, r;

	if (ip != NULL && *ip != '\0') {
		snprintf(key, sizeof(key), "reset:ip:%.64s", ip);
		if ((r = gw_rate_hit(st, key, s->ip_window, s->ip_limit, now,
		         &over)) != 0)
			return r;
		if (over > 0)
			goto limited;
	}
	if (login != NULL) {
		snprintf(key, sizeof(key), "reset:login:%s", login);
		for (i = strlen("reset:login:"); key[i] != '\0'; i++)
			if (key[i] >= 'A' && key[i] <= 'Z')
				key[i] = (char)(key[i] - 'A' + 'a');
		if ((r = gw_rate_hit(st, key, s->login_window, s->login_limit,
		         now, &over)) != 0)
			return r;
		if (over > 0)
			goto limited;
	}
	return 0;
limited:
	res->code = res->public_code = UK_ERR_RESET_RATE;
	res->retry_after = over;
	return 0;
}

/* The body of step 1 in st's open transaction. */
static int
request_tx(struct store *st, const struct gw_reset_conf *conf,
    const struct set *s, const char *login, const char *ip, int64_t now,
    struct gw_reset_result *res, struct gw_operator *op, int *found)
{
	char code[8], hash[65], params[64];
	uint32_t n = 0;
	int over = 0, r;

	*found = 0;
	if ((r = limits(st, s, ip, login, now, res)) != 0 || res->code != 0)
		goto out;
	if (login == NULL || *login == '\0' ||
	    (r = gw_operator_find(st, login, op)) == UK_ERR_NOT_FOUND) {
		res->code = UK_ERR_RESET_UNKNOWN_USER;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	*found = 1;
	res->operator_id = op->id;
	if (strcmp(op->status, "active") != 0) {
		res->code = UK_ERR_RESET_INACTIVE;
		goto out;
	}
	if (op->phone[0] == '\0') {
		res->code = UK_ERR_RESET_NO_PHONE;
		goto out;
	}
	if ((r = phone_take(st, s, op->phone, now, &over)) != 0)
		goto out;
	if (over > 0) {
		res->code = UK_ERR_RESET_PHONE_LIMIT;
		res->retry_after = over; /* internal: never shown */
		goto out;
	}
	if ((r = rnd_uniform(1000000, &n)) != 0)
		goto out;
	snprintf(code, sizeof(code), "%06u", (unsigned)n);
	if ((r = code_hash(conf->code_key, op->id, code, hash)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "UPDATE reset_codes SET used_at = ?"
	         " WHERE operator_id = ? AND used_at IS NULL",
	         "ii", now, op->id)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "INSERT INTO reset_codes (operator_id, code_hash, created_at,"
	         " expires_at, checks, ip) VALUES (?, ?, ?, ?, 0, ?)",
	         "itiit", op->id, hash, now, now + s->code_ttl, ip)) != 0)
		goto out;
	snprintf(params, sizeof(params), "{\"code\":\"%s\",\"minutes\":\"%d\"}",
	    code, (s->code_ttl + 59) / 60);
	r = gw_sms_enqueue(st, op->phone, GW_SMS_TPL_RESET_CODE, params, now,
	    now + s->code_ttl, &res->sms_id);
out:
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(params, sizeof(params));
	OPENSSL_cleanse(&n, sizeof(n));
	return r;
}

int
gw_reset_request(struct store *st, const struct gw_reset_conf *conf,
    const char *login, const char *ip, const char *user_agent, int64_t now,
    struct gw_reset_result *res)
{
	struct gw_operator op;
	struct set s;
	int64_t t0 = mono_ms();
	int found = 0, r;

	res_init(res);
	settings(conf, &s);
	if (conf == NULL || conf->code_key == NULL || conf->code_key->len == 0)
		return UK_ERR_CONFIG_MISSING;
	memset(&op, 0, sizeof(op));
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = request_tx(st, conf, &s, login, ip, now, res, &op, &found)) !=
	        0 ||
	    (r = audit_step(st, "reset.request", login, found ? op.login : NULL,
	         ip, user_agent, res)) != 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	if (r != 0)
		res_init(res);
	if (conf->floor_deferred)
		res->answer_at_ms = t0 + s.floor_ms;
	else
		sleep_until(t0 + s.floor_ms);
	return r;
}

/* The body of step 2 in st's open transaction. */
static int
verify_tx(struct store *st, const struct gw_reset_conf *conf,
    const struct set *s, const char *login, const char *code, const char *ip,
    int64_t now, struct gw_reset_result *res, struct gw_operator *op,
    int *found, struct secret **token)
{
	struct store_res *rs = NULL;
	unsigned char raw[32];
	char hash[65], thash[65], *tok = NULL;
	int64_t cid;
	int r;

	*found = 0;
	if ((r = limits(st, s, ip, NULL, now, res)) != 0 || res->code != 0)
		goto out;
	res->public_code = UK_ERR_RESET_CODE_WRONG;
	if (login == NULL || *login == '\0' ||
	    (r = gw_operator_find(st, login, op)) == UK_ERR_NOT_FOUND) {
		res->code = UK_ERR_RESET_NO_CODE;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	*found = 1;
	res->operator_id = op->id;
	if (strcmp(op->status, "active") != 0) {
		res->code = UK_ERR_RESET_INACTIVE;
		goto out;
	}
	if ((r = store_exec(st, &rs,
	         "SELECT id, code_hash, expires_at, checks, used_at"
	         " FROM reset_codes WHERE operator_id = ?"
	         " ORDER BY id DESC LIMIT 1 FOR UPDATE",
	         "i", op->id)) != 0)
		goto out;
	if (store_res_rows(rs) != 1) {
		res->code = UK_ERR_RESET_NO_CODE;
		goto out;
	}
	cid = store_res_int(rs, 0, 0);
	if (!store_res_isnull(rs, 0, 4)) {
		res->code = UK_ERR_RESET_CODE_USED;
		goto out;
	}
	if (store_res_int(rs, 0, 2) <= now) {
		res->code = UK_ERR_RESET_CODE_EXPIRED;
		goto out;
	}
	if (store_res_int(rs, 0, 3) >= s->code_checks) {
		res->code = UK_ERR_RESET_CODE_EXHAUSTED;
		goto out;
	}
	if ((r = store_exec(st, NULL,
	         "UPDATE reset_codes SET checks = checks + 1 WHERE id = ?", "i",
	         cid)) != 0)
		goto out;
	if (code == NULL || strlen(code) != 6 ||
	    (r = code_hash(conf->code_key, op->id, code, hash)) != 0 ||
	    strlen(store_res_text(rs, 0, 1)) != 64 ||
	    CRYPTO_memcmp(hash, store_res_text(rs, 0, 1), 64) != 0) {
		res->code = UK_ERR_RESET_CODE_WRONG;
		goto out;
	}
	/* right: the code is used up and a token made */
	if ((r = store_exec(st, NULL,
	         "UPDATE reset_codes SET used_at = ? WHERE id = ?", "ii", now,
	         cid)) != 0)
		goto out;
	if ((r = rnd_bytes(raw, sizeof(raw))) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((tok = b64_encode(raw, sizeof(raw), 1)) == NULL)
		goto out;
	sha256_hex(tok, thash);
	if ((r = store_exec(st, NULL,
	         "UPDATE reset_tokens SET used_at = ?"
	         " WHERE operator_id = ? AND used_at IS NULL",
	         "ii", now, op->id)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "INSERT INTO reset_tokens (token_hash, operator_id,"
	         " expires_at) VALUES (?, ?, ?)",
	         "tii", thash, op->id, now + s->token_ttl)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((*token = secret_from(tok, strlen(tok))) == NULL)
		goto out;
	res->code = res->public_code = 0;
	r = 0;
out:
	if (tok != NULL) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hash, sizeof(hash));
	store_res_free(rs);
	return r;
}

int
gw_reset_verify(struct store *st, const struct gw_reset_conf *conf,
    const char *login, const char *code, const char *ip, const char *user_agent,
    int64_t now, struct gw_reset_result *res, struct secret **token)
{
	struct gw_operator op;
	struct set s;
	int found = 0, r;

	res_init(res);
	*token = NULL;
	settings(conf, &s);
	if (conf == NULL || conf->code_key == NULL || conf->code_key->len == 0)
		return UK_ERR_CONFIG_MISSING;
	memset(&op, 0, sizeof(op));
	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = verify_tx(st, conf, &s, login, code, ip, now, res, &op, &found,
	         token)) != 0 ||
	    (r = audit_step(st, "reset.verify", login, found ? op.login : NULL,
	         ip, user_agent, res)) != 0) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	if (r != 0) {
		res_init(res);
		secret_free(*token);
		*token = NULL;
	}
	return r;
}

/* 1 when t is GW_RESET_TOKEN_LEN base64url characters. */
static int
token_syntax(const char *t)
{
	size_t i;

	if (t == NULL || strlen(t) != GW_RESET_TOKEN_LEN)
		return 0;
	for (i = 0; i < GW_RESET_TOKEN_LEN; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') ||
		        (t[i] >= 'a' && t[i] <= 'z') ||
		        (t[i] >= '0' && t[i] <= '9') || t[i] == '-' ||
		        t[i] == '_'))
			return 0;
	return 1;
}

/* Finds the usable token with hash thash: *op the operator, else
 * res->code UK_ERR_RESET_TOKEN. */
static int
token_find(struct store *st, const char *thash, int64_t now,
    struct gw_operator *op, int *found, struct gw_reset_result *res)
{
	struct store_res *rs = NULL;
	int r;

	*found = 0;
	if ((r = store_exec(st, &rs,
	         "SELECT operator_id, expires_at, used_at FROM reset_tokens"
	         " WHERE token_hash = ? FOR UPDATE",
	         "t", thash)) != 0)
		goto out;
	if (store_res_rows(rs) != 1 || !store_res_isnull(rs, 0, 2) ||
	    store_res_int(rs, 0, 1) <= now) {
		res->code = UK_ERR_RESET_TOKEN;
		goto out;
	}
	res->operator_id = store_res_int(rs, 0, 0);
	if ((r = gw_operator_get(st, res->operator_id, op)) ==
	    UK_ERR_NOT_FOUND) {
		res->code = UK_ERR_RESET_TOKEN;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	*found = 1;
	if (strcmp(op->status, "active") != 0)
		res->code = UK_ERR_RESET_INACTIVE;
out:
	store_res_free(rs);
	return r;
}

int
gw_reset_password(struct store *st, const struct gw_reset_conf *conf,
    const char *token, const struct secret *password, const char *ip,
    const char *user_agent, int64_t now, struct gw_reset_result *res)
{
	struct gw_operator op;
	struct gw_actor a;
	char thash[65], who[GW_LOGIN_MAX + 16];
	json_t *pj = NULL;
	char *pjs = NULL;
	int found = 0, r;

	(void)conf;
	res_init(res);
	memset(&op, 0, sizeof(op));
	if (password == NULL)
		return UK_ERR_INPUT;
	if (!token_syntax(token)) {
		res->code = UK_ERR_RESET_TOKEN;
		goto refused;
	}
	sha256_hex(token, thash);
	/* the policy first, outside the write transaction: a refused
	 * password leaves the token usable */
	if ((r = store_begin(st, STORE_TX_READ)) != 0)
		goto out;
	r = token_find(st, thash, now, &op, &found, res);
	store_rollback(st);
	if (r != 0)
		goto out;
	if (res->code == 0)
		res->code = gw_password_policy(password, op.login,
		    op.resident_id[0] != '\0' ? op.resident_id : NULL);
	if (res->code != 0)
		goto refused;

	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		goto out;
	if ((r = token_find(st, thash, now, &op, &found, res)) != 0)
		goto abort;
	if (res->code != 0) {
		store_rollback(st);
		goto refused;
	}
	if ((r = store_exec(st, NULL,
	         "UPDATE reset_tokens SET used_at = ? WHERE token_hash = ?",
	         "it", now, thash)) != 0)
		goto abort;
	snprintf(who, sizeof(who), "operator:%s", op.login);
	memset(&a, 0, sizeof(a));
	a.who = who;
	a.ip = ip;
	a.user_agent = user_agent;
	if ((r = gw_operator_set_password(st, &a, op.id, password, 0)) != 0) {
		if (r != UK_ERR_PASSWORD_POLICY &&
		    r != UK_ERR_ADMIN_OPERATOR_LEFT)
			goto abort;
		/* changed between the two transactions */
		store_rollback(st);
		res->code =
		    r == UK_ERR_PASSWORD_POLICY ? r : UK_ERR_RESET_INACTIVE;
		goto refused;
	}
	if (op.phone[0] != '\0') {
		r = UK_ERR_NOMEM;
		if ((pj = json_pack("{s:s}", "login", op.login)) == NULL ||
		    (pjs = json_dumps(pj, JSON_COMPACT)) == NULL)
			goto abort;
		if ((r = gw_sms_enqueue(st, op.phone, GW_SMS_TPL_RESET_NOTICE,
		         pjs, now, 0, &res->sms_id)) != 0)
			goto abort;
	}
	res->code = res->public_code = 0;
	if ((r = audit_step(st, "reset.password", NULL, op.login, ip,
	         user_agent, res)) != 0)
		goto abort;
	r = store_commit(st);
	goto out;
abort:
	store_rollback(st);
	goto out;
refused:
	/* refusals are audited on their own */
	res->public_code = res->code == UK_ERR_PASSWORD_POLICY
	    ? UK_ERR_PASSWORD_POLICY
	    : UK_ERR_RESET_TOKEN;
	r = audit_step(st, "reset.password", NULL, found ? op.login : NULL, ip,
	    user_agent, res);
out:
	if (r != 0)
		res_init(res);
	json_decref(pj);
	free(pjs);
	return r;
}

/* Parses body into *o and checks its keys. */
static int
parse_obj(const char *body, size_t len, const char *const *keys, json_t **o)
{
	int r;

	*o = NULL;
	if (body == NULL)
		return UK_ERR_JSON;
	if ((r = json_parse_object(body, len, 4096, o)) != 0)
		return r;
	if ((r = json_only_keys(*o, keys)) != 0) {
		json_decref(*o);
		*o = NULL;
	}
	return r;
}

static int
get_login(json_t *o, char login[GW_LOGIN_MAX + 1])
{
	const char *v;
	size_t n;

	if (json_get_string(o, "login", GW_LOGIN_MAX, &v) != 0 ||
	    (n = strlen(v)) == 0)
		return UK_ERR_INPUT;
	memcpy(login, v, n + 1);
	return 0;
}

int
gw_reset_parse_request(const char *body, size_t len,
    char login[GW_LOGIN_MAX + 1])
{
	static const char *const keys[] = { "login", NULL };
	json_t *o;
	int r;

	login[0] = '\0';
	if ((r = parse_obj(body, len, keys, &o)) != 0)
		return r;
	r = get_login(o, login);
	json_decref(o);
	return r;
}

int
gw_reset_parse_verify(const char *body, size_t len,
    char login[GW_LOGIN_MAX + 1], char code[7])
{
	static const char *const keys[] = { "login", "code", NULL };
	const char *v;
	json_t *o;
	int i, r;

	login[0] = '\0';
	code[0] = '\0';
	if ((r = parse_obj(body, len, keys, &o)) != 0)
		return r;
	if ((r = get_login(o, login)) != 0)
		goto out;
	r = UK_ERR_INPUT;
	if (json_get_string(o, "code", 6, &v) != 0 || strlen(v) != 6)
		goto out;
	for (i = 0; i < 6; i++)
		if (v[i] < '0' || v[i] > '9')
			goto out;
	memcpy(code, v, 7);
	r = 0;
out:
	if (r != 0)
		login[0] = '\0';
	json_decref(o);
	return r;
}

int
gw_reset_parse_password(const char *body, size_t len,
    char token[GW_RESET_TOKEN_LEN + 1], struct secret **password)
{
	static const char *const keys[] = { "token", "password", NULL };
	const char *v;
	json_t *o;
	int r;

	token[0] = '\0';
	*password = NULL;
	if ((r = parse_obj(body, len, keys, &o)) != 0)
		return r;
	r = UK_ERR_INPUT;
	if (json_get_string(o, "token", GW_RESET_TOKEN_LEN, &v) != 0 ||
	    !token_syntax(v))
		goto out;
	memcpy(token, v, GW_RESET_TOKEN_LEN + 1);
	if (json_get_string(o, "password", 128, &v) != 0 || *v == '\0')
		goto out;
	r = UK_ERR_NOMEM;
	if ((*password = secret_from(v, strlen(v))) == NULL)
		goto out;
	r = 0;
out:
	if (r != 0)
		token[0] = '\0';
	/* the password's copy inside the JSON tree is wiped before freeing */
	if (json_get_string(o, "password", 128, &v) == 0)
		OPENSSL_cleanse((void *)(uintptr_t)v, strlen(v));
	json_decref(o);
	return r;
}
