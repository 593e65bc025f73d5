/* gateway/wechat.h: the WeChat OAuth2 client for snsapi_base (authorize URL, code to openid) and the callback's parameter parsing. */
#ifndef UK_GW_WECHAT_H
#define UK_GW_WECHAT_H

#include <stddef.h>

#include "common/secret.h"

#define GW_WECHAT_OPEN_BASE "https://open.weixin.qq.com"
#define GW_WECHAT_API_BASE "https://api.weixin.qq.com"

#define GW_WECHAT_CODE_MAX 128   /* code: 1..128 of [A-Za-z0-9_-] */
#define GW_WECHAT_OPENID_MAX 128 /* openid: 1..128 of [A-Za-z0-9_-] */
#define GW_WECHAT_STATE_LEN 32   /* our state: 32 lowercase hex */
#define GW_WECHAT_QUERY_MAX 2048 /* longest callback query parsed */

/*
 * The official account (公众号) the gateway authorises with. Plain data, no
 * ownership: the strings and the secret outlive every call given them.
 * open_base and api_base NULL mean GW_WECHAT_OPEN_BASE and
 * GW_WECHAT_API_BASE (a stand-in in tests: tests/tools/wechat-stub.c); a
 * trailing '/' is ignored. The secret is never logged, nor any URL that
 * holds it.
 */
struct gw_wechat_conf {
	const char *appid;           /* 1..64 of [A-Za-z0-9_-] */
	const struct secret *secret; /* the AppSecret */
	const char *open_base;       /* http:// or https:// */
	const char *api_base;        /* http:// or https:// */
	long timeout_ms;             /* whole request; 0: 5000 */
};

/* Checks conf: appid form, secret present, bases http(s). Returns 0 or
 * UK_ERR_CONFIG_VALUE. */
int gw_wechat_conf_check(const struct gw_wechat_conf *conf);

/*
 * The URL the phone is redirected to:
 * "<open_base>/connect/oauth2/authorize?appid=<appid>&redirect_uri=
 * <percent-encoded redirect_uri>&response_type=code&scope=snsapi_base
 * &state=<state>#wechat_redirect". state must pass gw_wechat_state_valid.
 * On success *out is malloc'd (caller frees). Returns 0, UK_ERR_INPUT,
 * UK_ERR_CONFIG_VALUE or UK_ERR_NOMEM.
 */
int gw_wechat_authorize_url(const struct gw_wechat_conf *conf,
    const char *redirect_uri, const char *state, char **out);

/*
 * Exchanges an authorisation code for the user's openid: GET
 * "<api_base>/sns/oauth2/access_token?appid=&secret=&code=
 * &grant_type=authorization_code" (libcurl, no redirects, the timeout of
 * conf, at most 16 KiB of answer). The access and refresh tokens in the
 * answer are wiped unused. Writes the openid into openid. Returns 0,
 * UK_ERR_INPUT (code not of the form gw_wechat_code_valid accepts),
 * UK_ERR_WECHAT_CODE (WeChat: invalid, used or expired code: errcode 40029,
 * 40163, 41008), UK_ERR_WECHAT_UNAVAILABLE (unreachable, timed out, not
 * 200, not JSON, any other errcode such as 40125 "invalid appsecret": the
 * errcode and errmsg are logged, never the secret), UK_ERR_CONFIG_VALUE.
 */
int gw_wechat_code_to_openid(const struct gw_wechat_conf *conf,
    const char *code, char openid[GW_WECHAT_OPENID_MAX + 1]);

/* 1 when s is a well-formed code (1..GW_WECHAT_CODE_MAX of
 * [A-Za-z0-9_-]), else 0. */
int gw_wechat_code_valid(const char *s);

/* 1 when s is a well-formed openid (1..GW_WECHAT_OPENID_MAX of
 * [A-Za-z0-9_-]), else 0. */
int gw_wechat_openid_valid(const char *s);

/* 1 when s has the form of our OAuth state (exactly GW_WECHAT_STATE_LEN
 * lowercase hex digits), else 0. */
int gw_wechat_state_valid(const char *s);

/*
 * Parses the query string of the OAuth callback (the part after '?', not
 * decoded, len bytes, NUL bytes refused): "code=...&state=..." in any
 * order, percent-encoding decoded once, other parameters ignored. code and
 * state must each appear exactly once. Writes them into code and state
 * (both "" on failure). Returns 0, UK_ERR_LIMIT (more than
 * GW_WECHAT_QUERY_MAX bytes), UK_ERR_WECHAT_CODE (code missing, repeated
 * or malformed: on WeChat a missing code means the user refused),
 * UK_ERR_SCAN_OAUTH_STATE (state missing, repeated or malformed) or
 * UK_ERR_INPUT (bad percent-encoding).
 */
int gw_wechat_callback_parse(const char *query, size_t len,
    char code[GW_WECHAT_CODE_MAX + 1], char state[GW_WECHAT_STATE_LEN + 1]);

#endif
