/* gateway/pwlogin.h: password login: the per-operator freeze after six wrong passwords until the next local midnight, the per-IP limit, checked and counted atomically in the store. */
#ifndef UK_GW_PWLOGIN_H
#define UK_GW_PWLOGIN_H

#include <stdint.h>

#include "common/secret.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"

struct store;

#define GW_PW_TRIES 6

struct gw_pwlogin_conf {
	const char *tz; /* see gw_tz_valid; default "Asia/Shanghai" */
	int ip_limit;   /* attempts per IP per window (default 30) */
	int ip_window;  /* seconds (default 300) */
	struct gw_pwhash_params hash;
};

/* What an attempt came to. */
struct gw_pwlogin_result {
	int code;       /* 0, UK_ERR_LOGIN_PASSWORD, UK_ERR_LOGIN_UNKNOWN_USER,
	                      UK_ERR_LOGIN_FROZEN, UK_ERR_LOGIN_RATE,
	                      UK_ERR_LOGIN_OPERATOR_LEFT, UK_ERR_LOGIN_NO_PASSWORD,
	                      UK_ERR_POLICY_AGREEMENT, ... */
	int tries_left; /* after this attempt; -1 when the user is unknown */
	int64_t frozen_until;  /* UTC second the freeze ends; 0: none */
	int retry_after;       /* seconds, for UK_ERR_LOGIN_RATE */
	int hashed;            /* 1 when a password hash was computed */
	int must_change;       /* the password is temporary: change it first */
	struct gw_operator op; /* the operator, when known */
};

/*
 * One password login attempt at time now (UTC seconds; tests inject it):
 * the per-IP limit (rate_limits, shared by every gateway) first; then the
 * operator by login name or resident ID; a frozen operator is refused
 * without computing a hash; otherwise one attempt is counted atomically
 * *before* the hash is computed (so that concurrent attempts never exceed
 * GW_PW_TRIES hashes a day), the hash checked, and success resets the
 * count. The sixth consecutive failure of a local day freezes the
 * operator until the next local midnight in conf->tz; a new local day
 * starts a new count. A hash made with old parameters is replaced. The
 * attempt is audited (event "login.password", result code). Returns 0 when
 * the attempt was decided (res->code says how), or a store/internal error.
 *
 * The attempt that freezes (the sixth wrong password of the day) answers
 * UK_ERR_LOGIN_PASSWORD with tries_left 0 and frozen_until set; later ones
 * answer UK_ERR_LOGIN_FROZEN without a hash. A success lowers the count by
 * the attempts reserved up to and including its own, so that attempts
 * reserved after it (still being hashed) keep counting. A right password
 * of a unit without a signed agreement resets the count like a success and
 * answers UK_ERR_POLICY_AGREEMENT. conf NULL or zero fields: the defaults.
 * pw is only hashed, never copied or logged. res->op is filled whenever
 * the operator was found.
 */
int gw_pwlogin_attempt(struct store *st, const struct gw_pwlogin_conf *conf,
    const char *login, const struct secret *pw, const char *ip,
    const char *user_agent, int64_t now, struct gw_pwlogin_result *res);

/*
 * Time zones. The centres' zones have no daylight saving time, so a fixed
 * table of UTC offsets is used rather than tzcode (whose setenv("TZ") /
 * localtime are not thread-safe): "Asia/Shanghai", "Asia/Chongqing",
 * "Asia/Harbin" (UTC+8), "Asia/Urumqi" (UTC+6), "UTC", and "UTC+H",
 * "UTC-H", "UTC+HH:MM" with |offset| <= 14 h. NULL means "Asia/Shanghai".
 * gw_tz_valid returns 1 when tz is one of these, else 0 (configuration
 * refuses other zones). The two functions below treat an unknown zone as
 * "Asia/Shanghai"; gw_pwlogin_attempt refuses one with UK_ERR_CONFIG_VALUE.
 */
int gw_tz_valid(const char *tz);

/* The UTC second at which the local day containing now ends in tz. */
int64_t gw_local_midnight_after(const char *tz, int64_t now);

/* The local day number (days since 1970-01-01 local) of now in tz. */
int64_t gw_local_day(const char *tz, int64_t now);

#endif
