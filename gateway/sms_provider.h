/* gateway/sms_provider.h: the SMS providers (file, http webhook, Aliyun Dysmsapi, Tencent Cloud SMS) and their request signatures. */
#ifndef UK_GW_SMS_PROVIDER_H
#define UK_GW_SMS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"

/* The templates the gateway sends; params is a JSON object of strings. */
#define GW_SMS_TPL_RESET_CODE "reset_code"     /* {"code","minutes"} */
#define GW_SMS_TPL_RESET_NOTICE "reset_notice" /* {"login"} */

#define GW_SMS_ALIYUN_URL "https://dysmsapi.aliyuncs.com/"
#define GW_SMS_TENCENT_URL "https://sms.tencentcloudapi.com/"

/* Longest provider message id kept (bytes). */
#define GW_SMS_MSGID_MAX 127

/*
 * Provider configuration. The strings and the secret belong to the caller
 * and must outlive the provider. The secret (http: the HMAC key; aliyun:
 * AccessKeySecret; tencent: SecretKey) is never logged nor copied into
 * an error text.
 *  kind     "file" (default when NULL), "http", "aliyun", "tencent"
 *  path     file: the file messages are appended to (one JSON line each,
 *           O_APPEND, fsync'd; codes in clear: for tests and demos)
 *  url      http: the webhook (required); aliyun / tencent: the endpoint
 *           (default GW_SMS_ALIYUN_URL / GW_SMS_TENCENT_URL)
 *  key_id   aliyun AccessKeyId; tencent SecretId
 *  sign_name aliyun SignName; tencent SignName (the SMS signature, 签名)
 *  app_id   tencent SmsSdkAppId
 *  region   aliyun RegionId (default "cn-hangzhou"); tencent region
 *           (default "ap-guangzhou")
 *  tpl_code, tpl_notice: the provider's template for GW_SMS_TPL_RESET_CODE
 *           and GW_SMS_TPL_RESET_NOTICE (aliyun TemplateCode "SMS_…",
 *           tencent TemplateId); NULL: the template name itself
 *  timeout_ms request timeout (default 10000)
 */
struct gw_sms_provider_conf {
	const char *kind;
	const char *path;
	const char *url;
	const char *key_id;
	const struct secret *secret;
	const char *sign_name;
	const char *app_id;
	const char *region;
	const char *tpl_code, *tpl_notice;
	long timeout_ms;
};

struct gw_sms_provider;

/* One message to send: the outbox row. */
struct gw_sms_msg {
	int64_t id;           /* outbox id: idempotency key for the provider */
	const char *phone;    /* 11-digit mainland mobile */
	const char *template; /* GW_SMS_TPL_* */
	const char *params;   /* JSON object of strings */
};

/* Checks c and makes a provider (*out, caller frees with
 * gw_sms_provider_free). Returns 0, UK_ERR_CONFIG_VALUE (unknown kind),
 * UK_ERR_CONFIG_MISSING (a required field absent) or UK_ERR_NOMEM. */
int gw_sms_provider_new(const struct gw_sms_provider_conf *c,
    struct gw_sms_provider **out);

/* Frees p; NULL is a no-op. */
void gw_sms_provider_free(struct gw_sms_provider *p);

/* The kind of p: "file", "http", "aliyun" or "tencent". */
const char *gw_sms_provider_kind(const struct gw_sms_provider *p);

/*
 * Sends m at time now (UTC seconds: timestamps in the request). Returns 0
 * when the provider accepted it (msgid gets its message id, "" when it gave
 * none), UK_ERR_SMS_TEMPORARY when worth retrying (transport error, timeout,
 * HTTP 5xx or 429, a provider's throttling or internal error) or
 * UK_ERR_SMS_REJECTED when not (bad number, template, signature, keys);
 * err (may be NULL) gets one line for the outbox's last_error, without
 * secrets. One provider may be used by one thread at a time.
 */
int gw_sms_provider_send(struct gw_sms_provider *p, const struct gw_sms_msg *m,
    int64_t now, char msgid[GW_SMS_MSGID_MAX + 1], char *err, size_t errlen);

/* Signatures, exposed for the tests and the capture server. */

/* http: hex HMAC-SHA256(key, "<ts>." + body) into hex. Returns 0 or
 * UK_ERR_INTERNAL. */
int gw_sms_http_sign(const struct secret *key, int64_t ts, const char *body,
    size_t len, char hex[65]);

/* Aliyun's percent-encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX
 * (uppercase hex). Returns a malloc'd string or NULL. */
char *gw_sms_pct_encode(const char *s);

/*
 * Aliyun RPC signature (SignatureMethod HMAC-SHA1, SignatureVersion 1.0)
 * over n parameters kv[2i] = kv[2i + 1] (without Signature): sorted by name,
 * canonicalized query "k=v&…" of percent-encoded names and values,
 * StringToSign "GET&%2F&" + percentEncode(canonicalized), key
 * AccessKeySecret + "&", Base64(HMAC-SHA1). sig gets the base64 signature;
 * *query (may be NULL; malloc'd, caller frees) the canonicalized query with
 * "&Signature=" and the encoded signature appended. Returns 0,
 * UK_ERR_INPUT (n 0 or above 64) or UK_ERR_NOMEM.
 */
int gw_sms_aliyun_sign(const char *const *kv, size_t n,
    const struct secret *secret, char sig[29], char **query);

/*
 * Tencent Cloud API 3.0 TC3-HMAC-SHA256 for a POST to host with content
 * type ctype and body payload at ts (UTC seconds): canonical request
 * "POST\n/\n\ncontent-type:<ctype>\nhost:<host>\n\ncontent-type;host\n"
 * + hex SHA-256(payload); credential scope "<UTC date>/<service>/tc3_request";
 * string to sign "TC3-HMAC-SHA256\n<ts>\n<scope>\n" + hex SHA-256(canonical
 * request); key HMAC chain "TC3" + SecretKey → date → service →
 * "tc3_request". sig gets the hex signature; *auth (may be NULL; malloc'd)
 * the Authorization header value. Returns 0 or UK_ERR_NOMEM / _INTERNAL.
 */
int gw_sms_tc3_sign(const char *secret_id, const struct secret *key,
    const char *service, const char *host, const char *ctype, int64_t ts,
    const char *payload, size_t len, char sig[65], char **auth);

#endif
