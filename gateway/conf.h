/* gateway/conf.h: ukey-gateway's configuration: the INI schema ([gateway], [session], [auth], [proxy], [assertion], [scan], [wechat], [sms], [reset], [counter]) and its checks. */
#ifndef UK_GW_CONF_H
#define UK_GW_CONF_H

#include <stddef.h>

#include "common/config.h"

/* Where ukey-gateway looks when -c is not given. */
#define GW_CONFIG_DEFAULT "/etc/ukey/ukey-gateway.conf"

/* The fixed cookie names (the __Host- prefix: Secure, Path=/, no Domain). */
#define GW_COOKIE_SESSION "__Host-ukey-session"
#define GW_COOKIE_PRE "__Host-ukey-pre"

/* The schema, terminated by an entry whose section is NULL. */
extern const struct cfg_key gw_config_schema[];

/*
 * Loads path against gw_config_schema and checks what the schema cannot:
 * public_origin is an https:// (or, for tests on loopback, http://) origin
 * with nothing after it; tz names a zone; tls_cert and tls_key come
 * together; absolute >= idle; [reset] enabled has a code_key of 32 bytes
 * or more and the [sms] keys its provider needs (file: path; http: url,
 * secret; aliyun: url, key_id, secret, sign_name, tpl_code, tpl_notice;
 * tencent: those and app_id, region); [scan] enabled has [wechat] appid
 * and secret. Secrets are named, never shown. On failure a one-line
 * message naming the
 * file (and line when known) is put into err. *out belongs to the caller
 * (config_free). Returns 0 or UK_ERR_CONFIG_*.
 */
int
gw_conf_load(const char *path, struct config **out, char *err, size_t errlen);

/* The same from memory, for tests; name is used in messages. */
int gw_conf_load_buffer(const char *buf, size_t len, const char *name,
    struct config **out, char *err, size_t errlen);

/* A NULL-terminated list of the comma- or space-separated words of
 * [section] key (NULL or empty: an empty list). *out is malloc'd, freed
 * with gw_conf_list_free. Returns 0 or UK_ERR_NOMEM. */
int gw_conf_list(const struct config *cfg, const char *section, const char *key,
    char ***out);
void gw_conf_list_free(char **list);

/* 1 when s is "scheme://host[:port]" with scheme https (or http when
 * allow_http), nothing after it; else 0. */
int gw_origin_valid(const char *s, int allow_http);

#endif
