/* gateway/conf.c: ukey-gateway's configuration: the INI schema and the checks the schema cannot express. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/pwlogin.h"
#include "gateway/conf.h"

const struct cfg_key gw_config_schema[] = {
	{ "gateway", "listen", CFG_STRING, "127.0.0.1", 0, 0, NULL, 0,
	    "address to listen on (IPv4 or IPv6 literal)" },
	{ "gateway", "port", CFG_INT, "8443", 1, 65535, NULL, 0,
	    "TCP port to listen on" },
	{ "gateway", "public_origin", CFG_STRING, NULL, 0, 0, NULL, 1,
	    "the origin browsers use and the agent signs for, "
	    "e.g. https://gjj.example.cn" },
	{ "gateway", "store", CFG_STRING, NULL, 0, 0, NULL, 1,
	    "store: a SQLite file path or a postgresql:// URL" },
	{ "gateway", "tz", CFG_STRING, "Asia/Shanghai", 0, 0, NULL, 0,
	    "the centre's time zone (the password freeze ends at its "
	    "midnight)" },
	{ "gateway", "threads", CFG_INT, "0", 0, 256, NULL, 0,
	    "worker threads (0: twice the CPUs, at least 4)" },
	{ "gateway", "trusted_proxies", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "addresses of reverse proxies whose X-Forwarded-For is believed "
	    "(comma-separated IP literals)" },
	{ "gateway", "tls_cert", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "PEM certificate chain for HTTPS (with tls_key)" },
	{ "gateway", "tls_key", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "PEM private key for HTTPS (with tls_cert)" },
	{ "gateway", "web_root", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "the pages' folder (default: web/ of the source tree the program "
	    "was built in, else /usr/share/ukeygate/web)" },
	{ "gateway", "max_body", CFG_INT, "1048576", 1024, 1073741824, NULL, 0,
	    "largest request body accepted, bytes" },
	{ "gateway", "metrics", CFG_ENUM, "local", 0, 0, "local public off", 0,
	    "GET /metrics: local (loopback peers only), public, or off" },
	{ "gateway", "log_level", CFG_ENUM, "info", 0, 0,
	    "debug info warn error", 0,
	    "lowest level logged to standard error" },
	{ "session", "idle", CFG_INT, "1800", 60, 86400, NULL, 0,
	    "seconds without a request after which a session ends" },
	{ "session", "absolute", CFG_INT, "28800", 60, 604800, NULL, 0,
	    "seconds after login at which a session ends regardless" },
	{ "auth", "anchors", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "PEM files of external trust anchors, comma-separated" },
	{ "auth", "crls", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "CRL files for the external anchors, comma-separated" },
	{ "auth", "ocsp_url", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "OCSP responder for the external anchors" },
	{ "auth", "challenge_ttl", CFG_INT, "300", 30, 3600, NULL, 0,
	    "seconds a UKey login challenge stays valid" },
	{ "auth", "password_messages", CFG_ENUM, "uniform", 0, 0,
	    "uniform detailed", 0,
	    "uniform: one message for unknown user and wrong password; "
	    "detailed: the halls' three messages" },
	{ "auth", "ip_limit", CFG_INT, "30", 1, 1000000, NULL, 0,
	    "password attempts per client address per window" },
	{ "auth", "ip_window", CFG_INT, "300", 1, 86400, NULL, 0,
	    "seconds of the per-address window" },
	{ "proxy", "upstream", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "the business module's base URL, e.g. http://127.0.0.1:8081" },
	{ "proxy", "connect_timeout_ms", CFG_INT, "2000", 1, 600000, NULL, 0,
	    "milliseconds to connect to the upstream" },
	{ "proxy", "timeout_ms", CFG_INT, "60000", 1, 3600000, NULL, 0,
	    "milliseconds for a whole upstream exchange" },
	{ "proxy", "routes", CFG_STRING, NULL, 0, 0, NULL, 1,
	    "the routes file (see ukey-gateway(8))" },
	{ "assertion", "key", CFG_STRING, NULL, 0, 0, NULL, 1,
	    "the EC P-256 assertion key in PEM (created when missing)" },
	{ "assertion", "issuer", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "the assertion's iss (default: public_origin)" },
	{ "assertion", "audience", CFG_STRING, "ukey-hall", 0, 0, NULL, 0,
	    "the assertion's aud" },
	{ "assertion", "ttl", CFG_INT, "60", 5, 3600, NULL, 0,
	    "seconds an assertion is valid" },
	{ "scan", "enabled", CFG_BOOL, "false", 0, 0, NULL, 0,
	    "offer scan login (needs [wechat])" },
	{ "scan", "ticket_ttl", CFG_INT, "120", 30, 600, NULL, 0,
	    "seconds a scan ticket lives" },
	{ "scan", "wait", CFG_INT, "25", 1, 60, NULL, 0,
	    "seconds a wait request is held before it answers unchanged" },
	{ "scan", "scope", CFG_ENUM, "full", 0, 0, "full query", 0,
	    "the scope of a session made by scan login" },
	{ "scan", "max_waiting", CFG_INT, "20000", 1, 1000000, NULL, 0,
	    "held wait requests at most; more are answered at once" },
	{ "wechat", "appid", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "the official account's appid" },
	{ "wechat", "secret", CFG_SECRET, NULL, 0, 0, NULL, 0,
	    "the official account's secret (never logged)" },
	{ "wechat", "open_base", CFG_STRING, "https://open.weixin.qq.com", 0, 0,
	    NULL, 0, "where /connect/oauth2/authorize is" },
	{ "wechat", "api_base", CFG_STRING, "https://api.weixin.qq.com", 0, 0,
	    NULL, 0, "where /sns/oauth2/access_token is" },
	{ "wechat", "timeout_ms", CFG_INT, "5000", 100, 60000, NULL, 0,
	    "timeout of a call to WeChat" },
	{ "sms", "provider", CFG_ENUM, "file", 0, 0, "file http aliyun tencent",
	    0, "how SMS leave" },
	{ "sms", "path", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "file provider: the file messages are appended to" },
	{ "sms", "url", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "http, aliyun, tencent: the endpoint (base URL)" },
	{ "sms", "key_id", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "aliyun AccessKeyId, tencent SecretId" },
	{ "sms", "secret", CFG_SECRET, NULL, 0, 0, NULL, 0,
	    "http HMAC key, aliyun AccessKeySecret, tencent SecretKey" },
	{ "sms", "sign_name", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "aliyun/tencent: the approved signature name" },
	{ "sms", "app_id", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "tencent: SmsSdkAppId" },
	{ "sms", "region", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "tencent: region (ap-guangzhou)" },
	{ "sms", "tpl_code", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "template of the reset code message" },
	{ "sms", "tpl_notice", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "template of the password-changed notice" },
	{ "sms", "timeout_ms", CFG_INT, "10000", 100, 120000, NULL, 0,
	    "timeout of a call to the provider" },
	{ "reset", "enabled", CFG_BOOL, "false", 0, 0, NULL, 0,
	    "offer SMS password reset (needs code_key)" },
	{ "reset", "code_key", CFG_SECRET, NULL, 0, 0, NULL, 0,
	    "HMAC key the reset codes are stored under (32+ random bytes)" },
	{ "reset", "ip_limit", CFG_INT, "30", 1, 1000000, NULL, 0,
	    "reset requests and checks per client address per window" },
	{ "reset", "ip_window", CFG_INT, "3600", 1, 86400, NULL, 0,
	    "the per-address window, seconds" },
	{ "counter", "enabled", CFG_BOOL, "false", 0, 0, NULL, 0,
	    "serve the bank counter console's certificate acts (needs the "
	    "CA)" },
	{ "counter", "ca_pass_file", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "file holding the passphrase of the CA key file (read at start)" },
	{ "counter", "ca_config", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "ukey-ca's configuration file ([ca]: validity, CRL and OCSP "
	    "URLs)" },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

int
gw_origin_valid(const char *s, int allow_http)
{
	const char *p, *host;
	size_t i;

	if (s == NULL)
		return 0;
	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (allow_http && strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else
		return 0;
	host = p;
	if (*p == '[') {
		while (*p != '\0' && *p != ']')
			p++;
		if (*p != ']')
			return 0;
		p++;
	} else {
		while (*p != '\0' && *p != ':') {
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '.')
				return 0;
			p++;
		}
	}
	if (p == host)
		return 0;
	if (*p == ':') {
		p++;
		for (i = 0; isdigit((unsigned char)p[i]); i++)
			;
		if (i == 0 || i > 5 || p[i] != '\0')
			return 0;
		return 1;
	}
	return *p == '\0';
}

/* Bytes a reset code key must have at least. */
#define CODE_KEY_MIN 32

/* 1 when [section] key is set to a non-empty value (strings and
 * secrets). */
static int
have(const struct config *cfg, const char *section, const char *key, int secret)
{
	const struct secret *sv;
	const char *v;

	if (secret) {
		sv = config_secret(cfg, section, key);
		return sv != NULL && sv->len > 0;
	}
	v = config_str(cfg, section, key);
	return v != NULL && v[0] != '\0';
}

/* The [sms] keys each provider needs; secret marks the secret one. */
static const struct {
	const char *provider, *key;
	int secret;
} sms_needs[] = {
	{ "file", "path", 0 },
	{ "http", "url", 0 },
	{ "http", "secret", 1 },
	{ "aliyun", "url", 0 },
	{ "aliyun", "key_id", 0 },
	{ "aliyun", "secret", 1 },
	{ "aliyun", "sign_name", 0 },
	{ "aliyun", "tpl_code", 0 },
	{ "aliyun", "tpl_notice", 0 },
	{ "tencent", "url", 0 },
	{ "tencent", "key_id", 0 },
	{ "tencent", "secret", 1 },
	{ "tencent", "sign_name", 0 },
	{ "tencent", "tpl_code", 0 },
	{ "tencent", "tpl_notice", 0 },
	{ "tencent", "app_id", 0 },
	{ "tencent", "region", 0 },
};

/* [reset] and the [sms] provider it sends through; [scan] and the
 * [wechat] account it logs in with. Secrets are named, never shown. */
static int
check_features(const struct config *cfg, const char *name, char *err,
    size_t errlen)
{
	const struct secret *key;
	const char *prov, *url;
	size_t i;

	if (config_bool(cfg, "reset", "enabled")) {
		key = config_secret(cfg, "reset", "code_key");
		if (key == NULL || key->len < CODE_KEY_MIN) {
			snprintf(err, errlen,
			    "%s: [reset] enabled needs [reset] code_key of at "
			    "least %d bytes (e.g. openssl rand -base64 48)",
			    name, CODE_KEY_MIN);
			return key == NULL ? UK_ERR_CONFIG_MISSING
			                   : UK_ERR_CONFIG_VALUE;
		}
		prov = config_str(cfg, "sms", "provider");
		if (prov == NULL)
			prov = "file";
		for (i = 0; i < sizeof(sms_needs) / sizeof(sms_needs[0]); i++) {
			if (strcmp(sms_needs[i].provider, prov) != 0 ||
			    have(cfg, "sms", sms_needs[i].key,
			        sms_needs[i].secret))
				continue;
			snprintf(err, errlen,
			    "%s: [reset] enabled with [sms] provider = %s "
			    "needs [sms] %s",
			    name, prov, sms_needs[i].key);
			return UK_ERR_CONFIG_MISSING;
		}
		url = config_str(cfg, "sms", "url");
		if (strcmp(prov, "file") != 0 && url != NULL &&
		    strncmp(url, "https://", 8) != 0 &&
		    strncmp(url, "http://", 7) != 0) {
			snprintf(err, errlen,
			    "%s: [sms] url: \"%s\" is not an http:// or "
			    "https:// URL",
			    name, url);
			return UK_ERR_CONFIG_VALUE;
		}
	}
	if (config_bool(cfg, "scan", "enabled")) {
		if (!have(cfg, "wechat", "appid", 0)) {
			snprintf(err, errlen,
			    "%s: [scan] enabled needs [wechat] appid", name);
			return UK_ERR_CONFIG_MISSING;
		}
		if (!have(cfg, "wechat", "secret", 1)) {
			snprintf(err, errlen,
			    "%s: [scan] enabled needs [wechat] secret", name);
			return UK_ERR_CONFIG_MISSING;
		}
	}
	return 0;
}

static int
check(const struct config *cfg, const char *name, char *err, size_t errlen)
{
	const char *o = config_str(cfg, "gateway", "public_origin");
	const char *tz = config_str(cfg, "gateway", "tz");

	if (!gw_origin_valid(o, 1)) {
		snprintf(err, errlen,
		    "%s: [gateway] public_origin: \"%s\" is not an origin "
		    "(https://host[:port], nothing after it)",
		    name, o != NULL ? o : "");
		return UK_ERR_CONFIG_VALUE;
	}
	if (!gw_tz_valid(tz)) {
		snprintf(err, errlen,
		    "%s: [gateway] tz: unknown zone \"%s\" (Asia/Shanghai, "
		    "Asia/Urumqi, UTC, UTC+H, ...)",
		    name, tz);
		return UK_ERR_CONFIG_VALUE;
	}
	if ((config_str(cfg, "gateway", "tls_cert") == NULL) !=
	    (config_str(cfg, "gateway", "tls_key") == NULL)) {
		snprintf(err, errlen,
		    "%s: [gateway] tls_cert and tls_key go together", name);
		return UK_ERR_CONFIG_VALUE;
	}
	if (config_int(cfg, "session", "absolute") <
	    config_int(cfg, "session", "idle")) {
		snprintf(err, errlen,
		    "%s: [session] absolute is shorter than idle", name);
		return UK_ERR_CONFIG_VALUE;
	}
	return check_features(cfg, name, err, errlen);
}

int
gw_conf_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	int r;

	*out = NULL;
	if ((r = config_load(path, gw_config_schema, &cfg, err, errlen)) != 0)
		goto out;
	if ((r = check(cfg, path, err, errlen)) != 0)
		goto out;
	*out = cfg;
	cfg = NULL; /* transferred */
out:
	config_free(cfg);
	return r;
}

int
gw_conf_load_buffer(const char *buf, size_t len, const char *name,
    struct config **out, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	int r;

	*out = NULL;
	if ((r = config_load_buffer(buf, len, name, gw_config_schema, &cfg, err,
	         errlen)) != 0)
		goto out;
	if ((r = check(cfg, name, err, errlen)) != 0)
		goto out;
	*out = cfg;
	cfg = NULL; /* transferred */
out:
	config_free(cfg);
	return r;
}

void
gw_conf_list_free(char **list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

int
gw_conf_list(const struct config *cfg, const char *section, const char *key,
    char ***out)
{
	const char *s = config_str(cfg, section, key), *p;
	static const char sep[] = " \t,";
	char **v = NULL;
	size_t n = 0, i = 0, w;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if (s == NULL)
		s = "";
	for (p = s; *p != '\0';) {
		p += strspn(p, sep);
		if ((w = strcspn(p, sep)) == 0)
			break;
		n++;
		p += w;
	}
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		goto out;
	for (p = s; *p != '\0' && i < n;) {
		p += strspn(p, sep);
		if ((w = strcspn(p, sep)) == 0)
			break;
		if ((v[i] = strndup(p, w)) == NULL)
			goto out;
		i++;
		p += w;
	}
	*out = v;
	v = NULL; /* transferred */
	r = 0;
out:
	gw_conf_list_free(v);
	return r;
}
