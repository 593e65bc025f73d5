/* gateway/reset.h: password reset by SMS: the 6-digit code, the one-time reset token and the new password, each step atomic in the store and audited. */
#ifndef UK_GW_RESET_H
#define UK_GW_RESET_H

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"
#include "gateway/identity.h"

struct store;

/* base64url (no padding) of 32 random bytes */
#define GW_RESET_TOKEN_LEN 43

/*
 * What the page says after every accepted request, whatever happened
 * (account unknown, no phone, phone limit reached, or a code sent): one
 * answer, so that it reveals neither whether the account exists nor
 * whether it has a phone. It always names the counter alternative for
 * operators without a usable phone (《网上业务用户变更申请表》); the
 * result's code tells the caller which case it was, for the audit trail
 * and metrics only, never for the answer.
 */
#define GW_RESET_SENT_ZH                                                                                      \
	"如该账号存在且已绑定手机号码，短信验证码已发送，5分钟内有效。"         \
	"未绑定手机号码或手机号码已变更的，请携带《网上业务用户变更申请表》" \
	"到缴存银行柜面办理。"
#define GW_RESET_SENT_EN                                                       \
	"If the account exists and has a phone number, a code has been sent "  \
	"by SMS; it is valid for 5 minutes. Without a usable phone number, "   \
	"take the user change form to the bank counter."

/* Limits and keys; zero fields take the defaults. The strings and the
 * secret belong to the caller. */
struct gw_reset_conf {
	const struct secret *code_key; /* HMAC-SHA256 key for code hashes:
	                                  required (a 6-digit code hashed
	                                  without a secret is found from a
	                                  database copy in a million tries) */
	int code_ttl;                  /* seconds a code is valid (300) */
	int code_checks;               /* checks per code (5) */
	int token_ttl;      /* seconds a reset token is valid (600) */
	int phone_per_min;  /* codes per phone per minute (1) */
	int phone_per_hour; /* ... per hour (5) */
	int phone_per_day;  /* ... per day (10) */
	int ip_limit;       /* requests + verifications per IP (30) */
	int ip_window;      /* ... per this many seconds (3600) */
	int login_limit;    /* requests per login name, known or not (10) */
	int login_window;   /* ... per this many seconds (3600) */
	int floor_ms;       /* gw_reset_request takes at least this long, so
	                       that its timing does not tell the cases apart
	                       (250; negative: no floor) */
	int floor_deferred; /* 1: gw_reset_request does not wait out the
	                       floor itself; the caller holds its answer
	                       until res->answer_at_ms */
};

/* What one step came to. */
struct gw_reset_result {
	int code;             /* the internal outcome, audited: 0 or UK_ERR_* */
	int public_code;      /* what the HTTP answer shows: 0 or UK_ERR_* */
	int retry_after;      /* seconds, with UK_ERR_RESET_RATE */
	int64_t operator_id;  /* when known; internal only */
	int64_t sms_id;       /* the outbox row queued, 0 when none */
	char event[33];       /* the audit row's event id */
	int64_t answer_at_ms; /* floor_deferred: CLOCK_MONOTONIC ms before
	                         which the answer must not go out */
};

/*
 * Step 1 (POST /auth/reset/request {login}), at now (UTC seconds; tests
 * inject it). In one write transaction: counts the request against the
 * per-IP and per-login limits (both count every request, existing account
 * or not; over either: code and public_code UK_ERR_RESET_RATE with
 * retry_after); finds the operator by login name or resident ID
 * (UK_ERR_RESET_UNKNOWN_USER), checks it is active (UK_ERR_RESET_INACTIVE)
 * and has a phone (UK_ERR_RESET_NO_PHONE), checks the phone's limits of 1 a
 * minute, 5 an hour, 10 a day (UK_ERR_RESET_PHONE_LIMIT; counted only for
 * codes actually sent); then draws a 6-digit code from the CSPRNG, marks
 * the operator's earlier codes used, stores the code's HMAC with its expiry
 * and queues the SMS (template GW_SMS_TPL_RESET_CODE) in the outbox; and
 * appends the audit row "reset.request" (detail: the login asked for and
 * the outcome; never the code). public_code is 0 in every case but
 * UK_ERR_RESET_RATE: answer GW_RESET_SENT_* for all of them. Takes at least
 * conf->floor_ms. Returns 0 when decided (res says how), UK_ERR_CONFIG_MISSING
 * without code_key, or a store error (nothing changed).
 */
int gw_reset_request(struct store *st, const struct gw_reset_conf *conf,
    const char *login, const char *ip, const char *user_agent, int64_t now,
    struct gw_reset_result *res);

/*
 * Step 2 (POST /auth/reset/verify {login, code}). Counts against the per-IP
 * limit, then checks code against the operator's latest code, counting the
 * check first: UK_ERR_RESET_NO_CODE (no such operator, or no code asked
 * for), UK_ERR_RESET_CODE_USED (used, or superseded by a newer request),
 * UK_ERR_RESET_CODE_EXPIRED, UK_ERR_RESET_CODE_EXHAUSTED (conf->code_checks
 * checks made), UK_ERR_RESET_CODE_WRONG; the public code is
 * UK_ERR_RESET_CODE_WRONG for all of them (or UK_ERR_RESET_RATE). On
 * success the code is used up and *token receives a new one-time reset
 * token (GW_RESET_TOKEN_LEN characters, caller frees with secret_free),
 * stored as its SHA-256, valid conf->token_ttl seconds; the operator's
 * earlier unused tokens are cancelled. Audited ("reset.verify"). Returns 0
 * when decided, or an error code (nothing changed).
 */
int gw_reset_verify(struct store *st, const struct gw_reset_conf *conf,
    const char *login, const char *code, const char *ip, const char *user_agent,
    int64_t now, struct gw_reset_result *res, struct secret **token);

/*
 * Step 3 (POST /auth/reset/password {token, password}). Checks the token
 * (unknown, used or expired: UK_ERR_RESET_TOKEN) and the password policy
 * (UK_ERR_PASSWORD_POLICY; the token stays usable), then in one write
 * transaction: uses the token up, sets the password with
 * gw_operator_set_password as actor "operator:<login>" (which revokes every
 * session of the operator and clears the day's freeze), queues the notice
 * SMS (GW_SMS_TPL_RESET_NOTICE) when the operator has a phone, and appends
 * the audit row "reset.password". No session is created. The password is
 * hashed (Argon2id) inside that transaction. Returns 0 when decided, or an
 * error code (nothing changed).
 */
int gw_reset_password(struct store *st, const struct gw_reset_conf *conf,
    const char *token, const struct secret *password, const char *ip,
    const char *user_agent, int64_t now, struct gw_reset_result *res);

/* Request bodies (JSON objects, at most 4096 bytes, no other keys).
 * Each returns 0, UK_ERR_NOT_JSON / UK_ERR_JSON / UK_ERR_LIMIT for a body
 * that is not one, or UK_ERR_INPUT for a missing, mistyped or malformed
 * field. */

/* {"login": 1..GW_LOGIN_MAX bytes} */
int gw_reset_parse_request(const char *body, size_t len,
    char login[GW_LOGIN_MAX + 1]);

/* {"login", "code": exactly 6 ASCII digits} */
int gw_reset_parse_verify(const char *body, size_t len,
    char login[GW_LOGIN_MAX + 1], char code[7]);

/* {"token": GW_RESET_TOKEN_LEN base64url characters, "password": 1..128
 * bytes}; *password (caller frees with secret_free) on success. */
int gw_reset_parse_password(const char *body, size_t len,
    char token[GW_RESET_TOKEN_LEN + 1], struct secret **password);

#endif
