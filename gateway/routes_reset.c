/* gateway/routes_reset.c: the SMS password reset routes: request a code, trade it for a one-time token, set the new password; each step in gateway/reset.c, answered here. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/policy.h"
#include "gateway/reset.h"
#include "gateway/respond.h"
#include "gateway/routes_reset.h"
#include "gateway/sms.h"
#include "gateway/waiters.h"

/* Set before the server starts, cleared after it stopped. */
static _Atomic(struct gw_sms_sender *) sender;

void
gw_reset_routes_sender(struct gw_sms_sender *sd)
{
	atomic_store(&sender, sd);
}

/* The library's limits from [reset]; the rest take its defaults. */
static void
reset_conf(const struct gw_server *s, struct gw_reset_conf *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->code_key = config_secret(s->cfg, "reset", "code_key");
	rc->ip_limit = (int)config_int(s->cfg, "reset", "ip_limit");
	rc->ip_window = (int)config_int(s->cfg, "reset", "ip_window");
}

/* The body of the request, or "" when there is none. */
static const char *
body_of(const struct gw_req *rq, size_t *len)
{
	if (rq->sbody == NULL) {
		*len = 0;
		return "";
	}
	*len = rq->sbody->len;
	return (const char *)rq->sbody->buf;
}

/* The answer's code for a parser's refusal. */
static int
parse_code(int r)
{
	switch (r) {
	case UK_ERR_LIMIT:
		return UK_ERR_BODY_TOO_LARGE;
	case UK_ERR_NOT_JSON:
	case UK_ERR_JSON:
		return UK_ERR_JSON;
	default:
		return UK_ERR_INPUT;
	}
}

static enum MHD_Result
err_code(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    int code, const char *event)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.event = event;
	return gw_respond_error(s, c, rq, &e);
}

/* A refusal decided by the library, which wrote its audit row: the answer
 * carries that row's event id (and Retry-After when rate-limited). */
static enum MHD_Result
refused(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const struct gw_reset_result *res)
{
	const char *hdrs[3] = { NULL, NULL, NULL };
	char retry[16];
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = res->public_code;
	if (res->event[0] != '\0')
		e.extra = json_pack("{s:s}", "event", res->event);
	if (res->public_code == UK_ERR_RESET_RATE) {
		snprintf(retry, sizeof(retry), "%d",
		    res->retry_after > 0 ? res->retry_after : 60);
		hdrs[0] = MHD_HTTP_HEADER_RETRY_AFTER;
		hdrs[1] = retry;
		e.hdrs = hdrs;
	}
	return gw_respond_error(s, c, rq, &e);
}

static void
wake_if_queued(const struct gw_reset_result *res)
{
	if (res->sms_id != 0)
		gw_sms_sender_wake(atomic_load(&sender));
}

/* The answer to a decided reset request. */
static enum MHD_Result
request_answer(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    const struct gw_reset_result *res)
{
	if (res->public_code != 0)
		return refused(s, c, rq, res);
	return gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:b,s:s,s:s}", "ok", 1, "message",
	        rq->en ? GW_RESET_SENT_EN : GW_RESET_SENT_ZH, "event",
	        res->event),
	    NULL);
}

/* Waits until mono_ms (CLOCK_MONOTONIC) on this thread: only when the
 * connection cannot be held. */
static void
sleep_until_ms(int64_t mono_ms)
{
	struct timespec ts;
	int64_t left = mono_ms - gw_waiters_now_ms();

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The id a held reset answer waits under: not a ticket's (those are hex),
 * so nothing but its deadline or a stop wakes it. */
#define HELD_ID "reset-floor"

/* POST /auth/reset/request {"login"} */
static enum MHD_Result
request(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st)
{
	char login[GW_LOGIN_MAX + 1];
	struct gw_reset_result res;
	struct gw_reset_conf rc;
	const char *body;
	size_t len;
	int r;

	memset(&res, 0, sizeof(res));
	body = body_of(rq, &len);
	if ((r = gw_reset_parse_request(body, len, login)) != 0)
		return err_code(s, c, rq, parse_code(r), NULL);
	reset_conf(s, &rc);
	rc.floor_deferred = 1;
	if ((r = gw_reset_request(st, &rc, login, rq->ip, rq->ua,
	         gw_server_now(s), &res)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s reset request failed: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		return err_code(s, c, rq, r, NULL);
	}
	uk_log(UK_LOG_INFO, "rid=%s reset request: %s", rq->id,
	    res.code != 0 ? uk_error_id(res.code) : "code queued");
	wake_if_queued(&res);
	/* The answer goes out at the floor, whatever the case was, without
	 * holding this thread: the connection waits among the held ones. */
	if (res.answer_at_ms > gw_waiters_now_ms() && s->waiters != NULL &&
	    (rq->held_reset = malloc(sizeof(res))) != NULL) {
		memcpy(rq->held_reset, &res, sizeof(res));
		if (gw_waiters_hold(s->waiters, c, HELD_ID, "", GW_SCAN_WAITING,
		        res.answer_at_ms, &rq->wait) == 0)
			return MHD_YES;
		free(rq->held_reset);
		rq->held_reset = NULL;
	}
	sleep_until_ms(res.answer_at_ms);
	return request_answer(s, c, rq, &res);
}

enum MHD_Result
gw_reset_continue(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq)
{
	struct gw_waiter *wt = rq->wait;
	enum MHD_Result ret;

	if (wt->why != GW_WAKE_STOP && gw_waiters_now_ms() < wt->deadline_ms &&
	    gw_waiters_rehold(s->waiters, c, wt) == 0)
		return MHD_YES; /* woken early: not yet */
	rq->wait = NULL;
	gw_waiter_free(s->waiters, wt);
	if (rq->held_reset == NULL)
		return err_code(s, c, rq, UK_ERR_INTERNAL, NULL);
	ret = request_answer(s, c, rq, rq->held_reset);
	free(rq->held_reset);
	rq->held_reset = NULL;
	return ret;
}

/* POST /auth/reset/verify {"login","code"} */
static enum MHD_Result
verify(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st)
{
	char login[GW_LOGIN_MAX + 1], code[7], text[GW_RESET_TOKEN_LEN + 16];
	struct gw_reset_result res;
	struct gw_reset_conf rc;
	struct secret *token = NULL;
	const char *body;
	enum MHD_Result ret;
	size_t len;
	int r, n;

	memset(&res, 0, sizeof(res));
	code[0] = '\0';
	text[0] = '\0';
	body = body_of(rq, &len);
	if ((r = gw_reset_parse_verify(body, len, login, code)) != 0) {
		ret = err_code(s, c, rq, parse_code(r), NULL);
		goto out;
	}
	reset_conf(s, &rc);
	if ((r = gw_reset_verify(st, &rc, login, code, rq->ip, rq->ua,
	         gw_server_now(s), &res, &token)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s reset verify failed: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		ret = err_code(s, c, rq, r, NULL);
		goto out;
	}
	if (res.public_code != 0 || token == NULL) {
		uk_log(UK_LOG_INFO, "rid=%s reset verify refused: %s", rq->id,
		    uk_error_id(res.code != 0 ? res.code : res.public_code));
		if (res.public_code == 0)
			res.public_code = UK_ERR_RESET_CODE_WRONG;
		ret = refused(s, c, rq, &res);
		goto out;
	}
	/* Written here rather than through jansson, so that the one copy of
	 * the token outside its secret is wiped. */
	n = snprintf(text, sizeof(text), "{\"token\":\"%s\"}",
	    (const char *)token->buf);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		ret = err_code(s, c, rq, UK_ERR_INTERNAL, NULL);
		goto out;
	}
	ret = gw_respond_bytes(s, c, rq, MHD_HTTP_OK,
	    "application/json; charset=utf-8", text, (size_t)n, NULL);
out:
	secret_free(token);
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(text, sizeof(text));
	return ret;
}

/* POST /auth/reset/password {"token","password"} */
static enum MHD_Result
password(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st)
{
	char token[GW_RESET_TOKEN_LEN + 1];
	struct gw_reset_result res;
	struct gw_reset_conf rc;
	struct secret *pw = NULL;
	const char *body;
	enum MHD_Result ret;
	size_t len;
	int r;

	memset(&res, 0, sizeof(res));
	token[0] = '\0';
	body = body_of(rq, &len);
	if ((r = gw_reset_parse_password(body, len, token, &pw)) != 0) {
		ret = err_code(s, c, rq, parse_code(r), NULL);
		goto out;
	}
	reset_conf(s, &rc);
	if ((r = gw_reset_password(st, &rc, token, pw, rq->ip, rq->ua,
	         gw_server_now(s), &res)) != 0) {
		uk_log(UK_LOG_ERROR, "rid=%s reset password failed: %s: %s",
		    rq->id, uk_error_id(r), store_last_error(st));
		ret = err_code(s, c, rq, r, NULL);
		goto out;
	}
	wake_if_queued(&res);
	if (res.public_code != 0) {
		uk_log(UK_LOG_INFO, "rid=%s reset password refused: %s", rq->id,
		    uk_error_id(res.code));
		ret = refused(s, c, rq, &res);
		goto out;
	}
	uk_log(UK_LOG_INFO, "rid=%s reset password: set, sessions revoked",
	    rq->id);
	ret = gw_respond_json(s, c, rq, MHD_HTTP_OK,
	    json_pack("{s:b,s:s}", "ok", 1, "event", res.event), NULL);
out:
	secret_free(pw);
	OPENSSL_cleanse(token, sizeof(token));
	return ret;
}

enum MHD_Result
gw_reset_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, int csrf)
{
	struct store *st;

	if (!config_bool(s->cfg, "reset", "enabled"))
		return err_code(s, c, rq, UK_ERR_NO_ROUTE, NULL);
	if (csrf != 0) /* audited within the anonymous limits only */
		return err_code(s, c, rq, csrf,
		    gw_policy_audit_anon(rq->ip, gw_server_now(s))
		        ? "csrf.refused"
		        : NULL);
	if ((st = gw_server_store(s)) == NULL)
		return err_code(s, c, rq, UK_ERR_STORE_OPEN, NULL);
	if (strcmp(rq->path, GW_RESET_PATH_REQUEST) == 0)
		return request(s, c, rq, st);
	if (strcmp(rq->path, GW_RESET_PATH_VERIFY) == 0)
		return verify(s, c, rq, st);
	if (strcmp(rq->path, GW_RESET_PATH_PASSWORD) == 0)
		return password(s, c, rq, st);
	return err_code(s, c, rq, UK_ERR_NO_ROUTE, NULL);
}
