/* gateway/wechat.c: the WeChat OAuth2 client for snsapi_base (authorize URL, code to openid) and the callback's parameter parsing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"
#include "gateway/wechat.h"

#define ANSWER_MAX (16 * 1024)

static int
is_token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int
token_valid(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || !is_token_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int
gw_wechat_code_valid(const char *s)
{
	return token_valid(s, GW_WECHAT_CODE_MAX);
}

int
gw_wechat_openid_valid(const char *s)
{
	return token_valid(s, GW_WECHAT_OPENID_MAX);
}

int
gw_wechat_state_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < GW_WECHAT_STATE_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

static int
base_valid(const char *b)
{
	return b == NULL || strncmp(b, "https://", 8) == 0 ||
	    strncmp(b, "http://", 7) == 0;
}

int
gw_wechat_conf_check(const struct gw_wechat_conf *conf)
{
	if (conf == NULL || !token_valid(conf->appid, 64) ||
	    conf->secret == NULL || conf->secret->len == 0 ||
	    !base_valid(conf->open_base) || !base_valid(conf->api_base) ||
	    conf->timeout_ms < 0)
		return UK_ERR_CONFIG_VALUE;
	return 0;
}

/* Length of base without trailing slashes. */
static size_t
base_len(const char *b)
{
	size_t n = strlen(b);

	while (n > 0 && b[n - 1] == '/')
		n--;
	return n;
}

/* Percent-encodes len bytes of s (RFC 3986 unreserved kept) into out,
 * which holds at least 3 * len + 1 bytes. Returns the length written. */
static size_t
pct_encode(const unsigned char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (is_token_char(s[i]) || s[i] == '.' || s[i] == '~') {
			out[o++] = (char)s[i];
		} else {
			out[o++] = '%';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 15];
		}
	}
	out[o] = '\0';
	return o;
}

int
gw_wechat_authorize_url(const struct gw_wechat_conf *conf,
    const char *redirect_uri, const char *state, char **out)
{
	const char *base;
	char *enc = NULL, *url = NULL;
	size_t rlen, need;
	int r = UK_ERR_INPUT, n;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || redirect_uri == NULL ||
	    !gw_wechat_state_valid(state))
		goto out;
	if ((rlen = strlen(redirect_uri)) == 0 || rlen > 1024 ||
	    (strncmp(redirect_uri, "https://", 8) != 0 &&
	        strncmp(redirect_uri, "http://", 7) != 0))
		goto out;
	if ((r = gw_wechat_conf_check(conf)) != 0)
		goto out;
	base = conf->open_base != NULL ? conf->open_base : GW_WECHAT_OPEN_BASE;
	r = UK_ERR_NOMEM;
	if ((enc = malloc(3 * rlen + 1)) == NULL)
		goto out;
	pct_encode((const unsigned char *)redirect_uri, rlen, enc);
	need = base_len(base) + strlen(conf->appid) + strlen(enc) + 200;
	if ((url = malloc(need)) == NULL)
		goto out;
	n = snprintf(url, need,
	    "%.*s/connect/oauth2/authorize?appid=%s&redirect_uri=%s"
	    "&response_type=code&scope=snsapi_base&state=%s#wechat_redirect",
	    (int)base_len(base), base, conf->appid, enc, state);
	if (n < 0 || (size_t)n >= need) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	*out = url;
	url = NULL; /* transferred */
	r = 0;
out:
	free(enc);
	free(url);
	return r;
}

/* The answer's body, at most ANSWER_MAX bytes; wiped when freed. */
struct answer {
	char buf[ANSWER_MAX + 1];
	size_t len;
	int too_long;
};

static size_t
answer_cb(char *data, size_t size, size_t n, void *ud)
{
	struct answer *a = ud;
	size_t len = size * n;

	if (a->len + len > ANSWER_MAX) {
		a->too_long = 1;
		return 0;
	}
	memcpy(a->buf + a->len, data, len);
	a->len += len;
	a->buf[a->len] = '\0';
	return len;
}

/*
 * Builds the access-token URL (holding the secret) in a new secret *out.
 * Returns 0, UK_ERR_NOMEM or UK_ERR_INTERNAL.
 */
static int
token_url(const struct gw_wechat_conf *conf, const char *code,
    struct secret **out)
{
	const char *base =
	    conf->api_base != NULL ? conf->api_base : GW_WECHAT_API_BASE;
	struct secret *u;
	size_t cap, o;
	int n;

	*out = NULL;
	cap = base_len(base) + strlen(conf->appid) + 3 * conf->secret->len +
	    strlen(code) + 128;
	if ((u = secret_new(cap)) == NULL)
		return UK_ERR_NOMEM;
	n = snprintf((char *)u->buf, cap,
	    "%.*s/sns/oauth2/access_token?appid=%s&secret=",
	    (int)base_len(base), base, conf->appid);
	if (n < 0 || (size_t)n >= cap)
		goto fail;
	o = (size_t)n;
	o += pct_encode(conf->secret->buf, conf->secret->len,
	    (char *)u->buf + o);
	n = snprintf((char *)u->buf + o, cap - o,
	    "&code=%s&grant_type=authorization_code", code);
	if (n < 0 || (size_t)n >= cap - o)
		goto fail;
	u->len = o + (size_t)n;
	*out = u;
	return 0;
fail:
	secret_free(u);
	return UK_ERR_INTERNAL;
}

/* Reads WeChat's answer a: the openid, or the errcode mapped. */
static int
answer_parse(const struct answer *a, char openid[GW_WECHAT_OPENID_MAX + 1])
{
	json_t *obj = NULL, *ec;
	const char *oid = NULL, *msg = NULL;
	json_int_t code;
	int r = UK_ERR_WECHAT_UNAVAILABLE;

	if (json_parse_object(a->buf, a->len, ANSWER_MAX, &obj) != 0) {
		uk_log(UK_LOG_WARN, "wechat: access_token answer is not JSON");
		goto out;
	}
	ec = json_object_get(obj, "errcode");
	if (ec != NULL && (!json_is_integer(ec) || json_integer_value(ec))) {
		code = json_is_integer(ec) ? json_integer_value(ec) : -1;
		if (json_get_string(obj, "errmsg", 200, &msg) != 0)
			msg = "";
		if (code == 40029 || code == 40163 || code == 41008)
			r = UK_ERR_WECHAT_CODE;
		uk_log(UK_LOG_WARN, "wechat: access_token errcode %lld: %s",
		    (long long)code, msg);
		goto out;
	}
	if (json_get_string(obj, "openid", GW_WECHAT_OPENID_MAX, &oid) != 0 ||
	    !gw_wechat_openid_valid(oid)) {
		uk_log(UK_LOG_WARN,
		    "wechat: access_token answer has no "
		    "valid openid");
		goto out;
	}
	snprintf(openid, GW_WECHAT_OPENID_MAX + 1, "%s", oid);
	r = 0;
out:
	json_decref(obj);
	return r;
}

int
gw_wechat_code_to_openid(const struct gw_wechat_conf *conf, const char *code,
    char openid[GW_WECHAT_OPENID_MAX + 1])
{
	struct secret *url = NULL;
	struct answer *a = NULL;
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int r = UK_ERR_INPUT;

	if (openid != NULL)
		openid[0] = '\0';
	if (openid == NULL || !gw_wechat_code_valid(code))
		goto out;
	if ((r = gw_wechat_conf_check(conf)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto out;
	if ((r = token_url(conf, code, &url)) != 0)
		goto out;
	r = UK_ERR_INTERNAL;
	if ((c = curl_easy_init()) == NULL)
		goto out;
	/* never CURLOPT_VERBOSE: the URL holds the secret */
	if (curl_easy_setopt(c, CURLOPT_URL, (const char *)url->buf) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	        conf->timeout_ms > 0 ? conf->timeout_ms : 5000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	        conf->timeout_ms > 0 && conf->timeout_ms < 3000
	            ? conf->timeout_ms
	            : 3000L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_cb) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, a) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "ukey-gateway") != CURLE_OK)
		goto out;
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		/* curl_easy_strerror names the failure, never the URL */
		uk_log(UK_LOG_WARN, "wechat: access_token request failed: %s",
		    a->too_long ? "answer too long" : curl_easy_strerror(cc));
		r = UK_ERR_WECHAT_UNAVAILABLE;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		uk_log(UK_LOG_WARN, "wechat: access_token answered HTTP %ld",
		    status);
		r = UK_ERR_WECHAT_UNAVAILABLE;
		goto out;
	}
	r = answer_parse(a, openid);
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	secret_free(url);
	if (a != NULL) {
		OPENSSL_cleanse(a, sizeof(*a)); /* the access token */
		free(a);
	}
	return r;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes n bytes of s into out (size bytes, NUL-terminated;
 * '+' read as a space). Returns 0, UK_ERR_INPUT (bad escape, NUL) or
 * UK_ERR_LIMIT (too long for out). */
static int
pct_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return UK_ERR_INPUT;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return UK_ERR_INPUT;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0')
			return UK_ERR_INPUT;
		if (o + 1 >= size)
			return UK_ERR_LIMIT;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int
gw_wechat_callback_parse(const char *query, size_t len,
    char code[GW_WECHAT_CODE_MAX + 1], char state[GW_WECHAT_STATE_LEN + 1])
{
	char val[GW_WECHAT_CODE_MAX + 2];
	const char *p, *end, *amp, *eq;
	int have_code = 0, have_state = 0, bad_code = 0, bad_state = 0, d;
	int r = UK_ERR_INPUT;

	if (code != NULL)
		code[0] = '\0';
	if (state != NULL)
		state[0] = '\0';
	if (query == NULL || code == NULL || state == NULL)
		goto out;
	if (len > GW_WECHAT_QUERY_MAX) {
		r = UK_ERR_LIMIT;
		goto out;
	}
	if (memchr(query, '\0', len) != NULL)
		goto out;
	for (p = query, end = query + len; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if ((size_t)(eq - p) == 4 && memcmp(p, "code", 4) == 0) {
			if (have_code++ > 0) {
				bad_code = 1;
				continue;
			}
			d = eq < amp
			    ? pct_decode(eq + 1, (size_t)(amp - eq - 1), val,
			          sizeof(val))
			    : UK_ERR_INPUT;
			if (d == UK_ERR_INPUT && eq < amp) {
				r = UK_ERR_INPUT;
				goto out;
			}
			if (d != 0 || !gw_wechat_code_valid(val))
				bad_code = 1;
			else
				memcpy(code, val, strlen(val) + 1);
		} else if ((size_t)(eq - p) == 5 &&
		    memcmp(p, "state", 5) == 0) {
			if (have_state++ > 0) {
				bad_state = 1;
				continue;
			}
			d = eq < amp
			    ? pct_decode(eq + 1, (size_t)(amp - eq - 1), val,
			          sizeof(val))
			    : UK_ERR_INPUT;
			if (d == UK_ERR_INPUT && eq < amp) {
				r = UK_ERR_INPUT;
				goto out;
			}
			if (d != 0 || !gw_wechat_state_valid(val))
				bad_state = 1;
			else
				memcpy(state, val, GW_WECHAT_STATE_LEN + 1);
		}
	}
	if (!have_state || bad_state) {
		r = UK_ERR_SCAN_OAUTH_STATE;
		goto out;
	}
	if (!have_code || bad_code) {
		r = UK_ERR_WECHAT_CODE;
		goto out;
	}
	r = 0;
out:
	if (r != 0 && code != NULL && state != NULL) {
		code[0] = '\0';
		state[0] = '\0';
	}
	return r;
}
