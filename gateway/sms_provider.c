/* gateway/sms_provider.c: the SMS providers (file, http webhook, Aliyun Dysmsapi, Tencent Cloud SMS) and their request signatures. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/rnd.h"
#include "gateway/sms_provider.h"

enum kind { K_FILE, K_HTTP, K_ALIYUN, K_TENCENT };

struct gw_sms_provider {
	enum kind kind;
	struct gw_sms_provider_conf c;
	char host[256]; /* tencent: the URL's authority */
	CURL *curl;
};

/* Largest response body read from a provider. */
#define RESP_MAX 65536

static const char *const kind_names[] = { "file", "http", "aliyun", "tencent" };

int
gw_sms_provider_new(const struct gw_sms_provider_conf *c,
    struct gw_sms_provider **out)
{
	struct gw_sms_provider *p = NULL;
	const char *k = c->kind != NULL ? c->kind : "file";
	const char *a, *e;
	int r = UK_ERR_CONFIG_VALUE;
	size_t i;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return UK_ERR_NOMEM;
	p->c = *c;
	for (i = 0; i < 4; i++)
		if (strcmp(k, kind_names[i]) == 0)
			break;
	if (i == 4)
		goto out;
	p->kind = (enum kind)i;
	r = UK_ERR_CONFIG_MISSING;
	switch (p->kind) {
	case K_FILE:
		if (c->path == NULL || *c->path == '\0')
			goto out;
		break;
	case K_HTTP:
		if (c->url == NULL || c->secret == NULL)
			goto out;
		break;
	case K_ALIYUN:
		if (c->url == NULL)
			p->c.url = GW_SMS_ALIYUN_URL;
		if (c->region == NULL)
			p->c.region = "cn-hangzhou";
		if (c->key_id == NULL || c->secret == NULL ||
		    c->sign_name == NULL)
			goto out;
		break;
	case K_TENCENT:
		if (c->url == NULL)
			p->c.url = GW_SMS_TENCENT_URL;
		if (c->region == NULL)
			p->c.region = "ap-guangzhou";
		if (c->key_id == NULL || c->secret == NULL ||
		    c->sign_name == NULL || c->app_id == NULL)
			goto out;
		break;
	}
	if (p->c.timeout_ms <= 0)
		p->c.timeout_ms = 10000;
	if (p->kind == K_TENCENT) {
		/* the authority of the URL, signed as the Host header */
		r = UK_ERR_CONFIG_VALUE;
		if ((a = strstr(p->c.url, "://")) == NULL)
			goto out;
		a += 3;
		e = a + strcspn(a, "/?#");
		if (e == a || (size_t)(e - a) >= sizeof(p->host))
			goto out;
		memcpy(p->host, a, (size_t)(e - a));
		p->host[e - a] = '\0';
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	gw_sms_provider_free(p);
	return r;
}

void
gw_sms_provider_free(struct gw_sms_provider *p)
{
	if (p == NULL)
		return;
	if (p->curl != NULL)
		curl_easy_cleanup(p->curl);
	free(p);
}

const char *
gw_sms_provider_kind(const struct gw_sms_provider *p)
{
	return kind_names[p->kind];
}

/* One line into err (may be NULL) of errlen bytes. */
#define SETERR(...)                                                            \
	do {                                                                   \
		if (err != NULL && errlen > 0)                                 \
			snprintf(err, errlen, __VA_ARGS__);                    \
	} while (0)

static void
copy_id(char msgid[GW_SMS_MSGID_MAX + 1], const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > GW_SMS_MSGID_MAX)
		n = GW_SMS_MSGID_MAX;
	if (n > 0)
		memcpy(msgid, s, n);
	msgid[n] = '\0';
}

/* The provider's template for name. */
static const char *
tpl_for(const struct gw_sms_provider *p, const char *name)
{
	if (strcmp(name, GW_SMS_TPL_RESET_CODE) == 0 && p->c.tpl_code != NULL)
		return p->c.tpl_code;
	if (strcmp(name, GW_SMS_TPL_RESET_NOTICE) == 0 &&
	    p->c.tpl_notice != NULL)
		return p->c.tpl_notice;
	return name;
}

int
gw_sms_http_sign(const struct secret *key, int64_t ts, const char *body,
    size_t len, char hex[65])
{
	unsigned char mac[32], *msg = NULL;
	unsigned int maclen = 0;
	char pre[32];
	size_t pl;
	int r = UK_ERR_INTERNAL;

	snprintf(pre, sizeof(pre), "%lld.", (long long)ts);
	pl = strlen(pre);
	if (len > SIZE_MAX - pl - 1 || (msg = malloc(pl + len + 1)) == NULL)
		return UK_ERR_NOMEM;
	memcpy(msg, pre, pl);
	if (len > 0)
		memcpy(msg + pl, body, len);
	if (HMAC(EVP_sha256(), key->buf, (int)key->len, msg, pl + len, mac,
	        &maclen) == NULL ||
	    maclen != 32)
		goto out;
	hex_encode(mac, 32, hex);
	r = 0;
out:
	free(msg);
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

char *
gw_sms_pct_encode(const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	unsigned char c;
	char *o;

	if (n > (SIZE_MAX - 1) / 3 || (o = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			o[j++] = (char)c;
		} else {
			o[j++] = '%';
			o[j++] = hx[c >> 4];
			o[j++] = hx[c & 15];
		}
	}
	o[j] = '\0';
	return o;
}

/* A growing string. */
struct sb {
	char *p;
	size_t len, cap;
	int bad;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	char *t;
	size_t cap;

	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((t = realloc(b->p, cap)) == NULL) {
			b->bad = 1;
			return;
		}
		b->p = t;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static int
kv_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(x[0], y[0]);
}

int
gw_sms_aliyun_sign(const char *const *kv, size_t n, const struct secret *secret,
    char sig[29], char **query)
{
	const char *pairs[128];
	struct sb q = { NULL, 0, 0, 0 }, sts = { NULL, 0, 0, 0 };
	unsigned char mac[EVP_MAX_MD_SIZE], *key = NULL;
	unsigned int maclen = 0;
	char *enc = NULL, *b = NULL;
	size_t i;
	int r = UK_ERR_INPUT;

	if (query != NULL)
		*query = NULL;
	if (n == 0 || n > 64)
		goto out;
	memcpy(pairs, kv, n * 2 * sizeof(*kv));
	qsort(pairs, n, 2 * sizeof(*pairs), kv_cmp);
	r = UK_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_str(&q, "&");
		if ((enc = gw_sms_pct_encode(pairs[2 * i])) == NULL)
			goto out;
		sb_str(&q, enc);
		free(enc);
		sb_str(&q, "=");
		if ((enc = gw_sms_pct_encode(pairs[2 * i + 1])) == NULL)
			goto out;
		sb_str(&q, enc);
		free(enc);
		enc = NULL;
	}
	if (q.bad)
		goto out;
	sb_str(&sts, "GET&%2F&");
	if ((enc = gw_sms_pct_encode(q.p)) == NULL)
		goto out;
	sb_str(&sts, enc);
	free(enc);
	enc = NULL;
	if (sts.bad || (key = malloc(secret->len + 1)) == NULL)
		goto out;
	memcpy(key, secret->buf, secret->len);
	key[secret->len] = '&';
	r = UK_ERR_INTERNAL;
	if (HMAC(EVP_sha1(), key, (int)secret->len + 1,
	        (const unsigned char *)sts.p, sts.len, mac, &maclen) == NULL ||
	    maclen != 20)
		goto out;
	r = UK_ERR_NOMEM;
	if ((b = b64_encode(mac, maclen, 0)) == NULL || strlen(b) != 28)
		goto out;
	memcpy(sig, b, 29);
	if (query != NULL) {
		sb_str(&q, "&Signature=");
		if ((enc = gw_sms_pct_encode(b)) == NULL)
			goto out;
		sb_str(&q, enc);
		if (q.bad)
			goto out;
		*query = q.p;
		q.p = NULL;
	}
	r = 0;
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, secret->len + 1);
		free(key);
	}
	free(enc);
	free(b);
	free(q.p);
	free(sts.p);
	return r;
}

static int
sha256_hex(const void *d, size_t n, char hex[65])
{
	unsigned char md[32];

	if (SHA256(d, n, md) == NULL)
		return UK_ERR_INTERNAL;
	hex_encode(md, 32, hex);
	return 0;
}

static int
hmac256(const void *k, size_t kl, const char *m, unsigned char out[32])
{
	unsigned int ol = 0;

	if (HMAC(EVP_sha256(), k, (int)kl, (const unsigned char *)m, strlen(m),
	        out, &ol) == NULL ||
	    ol != 32)
		return UK_ERR_INTERNAL;
	return 0;
}

int
gw_sms_tc3_sign(const char *secret_id, const struct secret *key,
    const char *service, const char *host, const char *ctype, int64_t ts,
    const char *payload, size_t len, char sig[65], char **auth)
{
	struct sb cr = { NULL, 0, 0, 0 }, sts = { NULL, 0, 0, 0 };
	struct sb a = { NULL, 0, 0, 0 };
	unsigned char k1[32], k2[32], k3[32], k4[32];
	unsigned char *tk = NULL;
	char hx[65], date[16], scope[128], tsb[24];
	time_t t = (time_t)ts;
	struct tm tm;
	int r = UK_ERR_INTERNAL;

	if (auth != NULL)
		*auth = NULL;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%d", &tm) == 0)
		goto out;
	snprintf(scope, sizeof(scope), "%s/%s/tc3_request", date, service);
	snprintf(tsb, sizeof(tsb), "%lld", (long long)ts);
	if ((r = sha256_hex(payload, len, hx)) != 0)
		goto out;
	sb_str(&cr, "POST\n/\n\ncontent-type:");
	sb_str(&cr, ctype);
	sb_str(&cr, "\nhost:");
	sb_str(&cr, host);
	sb_str(&cr, "\n\ncontent-type;host\n");
	sb_str(&cr, hx);
	r = UK_ERR_NOMEM;
	if (cr.bad)
		goto out;
	if ((r = sha256_hex(cr.p, cr.len, hx)) != 0)
		goto out;
	sb_str(&sts, "TC3-HMAC-SHA256\n");
	sb_str(&sts, tsb);
	sb_str(&sts, "\n");
	sb_str(&sts, scope);
	sb_str(&sts, "\n");
	sb_str(&sts, hx);
	r = UK_ERR_NOMEM;
	if (sts.bad || (tk = malloc(key->len + 3)) == NULL)
		goto out;
	memcpy(tk, "TC3", 3);
	memcpy(tk + 3, key->buf, key->len);
	if ((r = hmac256(tk, key->len + 3, date, k1)) != 0 ||
	    (r = hmac256(k1, 32, service, k2)) != 0 ||
	    (r = hmac256(k2, 32, "tc3_request", k3)) != 0 ||
	    (r = hmac256(k3, 32, sts.p, k4)) != 0)
		goto out;
	hex_encode(k4, 32, sig);
	if (auth != NULL) {
		sb_str(&a, "TC3-HMAC-SHA256 Credential=");
		sb_str(&a, secret_id);
		sb_str(&a, "/");
		sb_str(&a, scope);
		sb_str(&a, ", SignedHeaders=content-type;host, Signature=");
		sb_str(&a, sig);
		r = UK_ERR_NOMEM;
		if (a.bad)
			goto out;
		*auth = a.p;
		a.p = NULL;
	}
	r = 0;
out:
	if (tk != NULL) {
		OPENSSL_cleanse(tk, key->len + 3);
		free(tk);
	}
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	free(cr.p);
	free(sts.p);
	free(a.p);
	return r;
}

/* file: one JSON line, appended and fsync'd. */
static int
send_file(struct gw_sms_provider *p, const struct gw_sms_msg *m, int64_t now,
    char *err, size_t errlen)
{
	json_t *o = NULL, *params;
	char *line = NULL;
	size_t n, off = 0;
	ssize_t w;
	int fd = -1, r = UK_ERR_SMS_REJECTED;

	if ((params = json_loads(m->params, 0, NULL)) == NULL) {
		SETERR("params are not JSON");
		goto out;
	}
	o = json_pack("{s:I,s:s,s:s,s:o,s:I}", "id", (json_int_t)m->id, "phone",
	    m->phone, "template", m->template, "params", params, "at",
	    (json_int_t)now);
	r = UK_ERR_NOMEM;
	if (o == NULL ||
	    (line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		goto out;
	n = strlen(line);
	line[n] = '\n'; /* replaces the NUL; n + 1 bytes written */
	r = UK_ERR_SMS_TEMPORARY;
	if ((fd = open(p->c.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	         0600)) < 0) {
		SETERR("open: %s", strerror(errno));
		goto out;
	}
	while (off < n + 1) {
		w = write(fd, line + off, n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			SETERR("write: %s", strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		SETERR("fsync: %s", strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	json_decref(o);
	return r;
}

struct resp {
	char *p;
	size_t n;
};

static size_t
resp_cb(char *b, size_t size, size_t nm, void *ud)
{
	struct resp *rb = ud;
	size_t len = size * nm;
	char *t;

	if (rb->n + len > RESP_MAX ||
	    (t = realloc(rb->p, rb->n + len + 1)) == NULL)
		return 0;
	memcpy(t + rb->n, b, len);
	rb->n += len;
	t[rb->n] = '\0';
	rb->p = t;
	return len;
}

/* Performs one request on p's handle: method POST with body (len bytes)
 * or GET when body is NULL; answers the status in *status and the body in
 * *rb. Returns 0 or UK_ERR_SMS_TEMPORARY (transport). */
static int
perform(struct gw_sms_provider *p, const char *url, struct curl_slist *hdrs,
    const char *body, size_t len, long *status, struct resp *rb, char *err,
    size_t errlen)
{
	CURLcode cc;

	*status = 0;
	if (p->curl == NULL && (p->curl = curl_easy_init()) == NULL)
		return UK_ERR_SMS_TEMPORARY;
	curl_easy_reset(p->curl);
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, p->c.timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, p->c.timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, resp_cb);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, rb);
	if (hdrs != NULL)
		curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hdrs);
	if (body != NULL) {
		curl_easy_setopt(p->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	cc = curl_easy_perform(p->curl);
	if (cc != CURLE_OK) {
		SETERR("transport: %s", curl_easy_strerror(cc));
		return UK_ERR_SMS_TEMPORARY;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* The class of an HTTP status: 0 ok (2xx), temporary (5xx, 429, none) or
 * rejected. */
static int
status_class(long s)
{
	if (s >= 200 && s < 300)
		return 0;
	if (s >= 500 || s == 429 || s == 408 || s == 0)
		return UK_ERR_SMS_TEMPORARY;
	return UK_ERR_SMS_REJECTED;
}

static int
send_http(struct gw_sms_provider *p, const struct gw_sms_msg *m, int64_t now,
    char msgid[GW_SMS_MSGID_MAX + 1], char *err, size_t errlen)
{
	struct curl_slist *h = NULL, *t;
	struct resp rb = { NULL, 0 };
	json_t *o = NULL, *params, *ans = NULL, *idv;
	char *body = NULL, hex[65], line[160];
	long status = 0;
	int r = UK_ERR_SMS_REJECTED;

	if ((params = json_loads(m->params, 0, NULL)) == NULL) {
		SETERR("params are not JSON");
		goto out;
	}
	o = json_pack("{s:s,s:s,s:o,s:I}", "phone", m->phone, "template",
	    tpl_for(p, m->template), "params", params, "id", (json_int_t)m->id);
	r = UK_ERR_SMS_TEMPORARY;
	if (o == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	if (gw_sms_http_sign(p->c.secret, now, body, strlen(body), hex) != 0)
		goto out;
	if ((t = curl_slist_append(h,
	         "Content-Type: application/json; charset=utf-8")) == NULL)
		goto out;
	h = t;
	snprintf(line, sizeof(line), "X-Ukey-Timestamp: %lld", (long long)now);
	if ((t = curl_slist_append(h, line)) == NULL)
		goto out;
	h = t;
	snprintf(line, sizeof(line), "X-Ukey-Signature: %s", hex);
	if ((t = curl_slist_append(h, line)) == NULL)
		goto out;
	h = t;
	if ((r = perform(p, p->c.url, h, body, strlen(body), &status, &rb, err,
	         errlen)) != 0)
		goto out;
	if ((r = status_class(status)) != 0) {
		SETERR("http: status %ld", status);
		goto out;
	}
	if (rb.p != NULL && (ans = json_loads(rb.p, 0, NULL)) != NULL &&
	    (idv = json_object_get(ans, "id")) != NULL && json_is_string(idv))
		copy_id(msgid, json_string_value(idv));
out:
	json_decref(ans);
	json_decref(o);
	curl_slist_free_all(h);
	free(body);
	free(rb.p);
	return r;
}

/* Aliyun: Dysmsapi SendSms, RPC style, GET with the signed query. */
static int
send_aliyun(struct gw_sms_provider *p, const struct gw_sms_msg *m, int64_t now,
    char msgid[GW_SMS_MSGID_MAX + 1], char *err, size_t errlen)
{
	char nonce[33], ts[32], outid[24], sig[29], *query = NULL, *url = NULL;
	struct resp rb = { NULL, 0 };
	json_t *ans = NULL, *v;
	const char *code;
	time_t t = (time_t)now;
	struct tm tm;
	long status = 0;
	size_t n;
	int r = UK_ERR_SMS_TEMPORARY;

	if (rnd_hex(nonce, 16) != 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		goto out;
	snprintf(outid, sizeof(outid), "%lld", (long long)m->id);
	{
		const char *kv[] = { "AccessKeyId", p->c.key_id, "Action",
			"SendSms", "Format", "JSON", "OutId", outid,
			"PhoneNumbers", m->phone, "RegionId", p->c.region,
			"SignName", p->c.sign_name, "SignatureMethod",
			"HMAC-SHA1", "SignatureNonce", nonce,
			"SignatureVersion", "1.0", "TemplateCode",
			tpl_for(p, m->template), "TemplateParam", m->params,
			"Timestamp", ts, "Version", "2017-05-25" };

		if (gw_sms_aliyun_sign(kv, sizeof(kv) / sizeof(kv[0]) / 2,
		        p->c.secret, sig, &query) != 0)
			goto out;
	}
	n = strlen(p->c.url) + strlen(query) + 2;
	if ((url = malloc(n)) == NULL)
		goto out;
	snprintf(url, n, "%s%s%s", p->c.url,
	    strchr(p->c.url, '?') != NULL ? "&" : "?", query);
	if ((r = perform(p, url, NULL, NULL, 0, &status, &rb, err, errlen)) !=
	    0)
		goto out;
	ans = rb.p != NULL ? json_loads(rb.p, 0, NULL) : NULL;
	v = ans != NULL ? json_object_get(ans, "Code") : NULL;
	code = json_is_string(v) ? json_string_value(v) : NULL;
	if (code != NULL && strcmp(code, "OK") == 0 && status == 200) {
		v = json_object_get(ans, "BizId");
		if (json_is_string(v))
			copy_id(msgid, json_string_value(v));
		r = 0;
		goto out;
	}
	r = status_class(status);
	if (r == 0)
		r = UK_ERR_SMS_REJECTED;
	if (code != NULL &&
	    (strstr(code, "LIMIT_CONTROL") != NULL ||
	        strncmp(code, "Throttling", 10) == 0 ||
	        strncmp(code, "ServiceUnavailable", 18) == 0 ||
	        strncmp(code, "InternalError", 13) == 0))
		r = UK_ERR_SMS_TEMPORARY;
	SETERR("aliyun: %s (status %ld)", code != NULL ? code : "no code",
	    status);
out:
	json_decref(ans);
	free(query);
	free(url);
	free(rb.p);
	return r;
}

/* Tencent: SendSms 2021-01-11, POST JSON, TC3-HMAC-SHA256. */
static int
send_tencent(struct gw_sms_provider *p, const struct gw_sms_msg *m, int64_t now,
    char msgid[GW_SMS_MSGID_MAX + 1], char *err, size_t errlen)
{
	static const char ctype[] = "application/json; charset=utf-8";
	struct curl_slist *h = NULL, *t;
	struct resp rb = { NULL, 0 };
	json_t *params = NULL, *set = NULL, *o = NULL, *ans = NULL, *v, *e;
	char *body = NULL, *auth = NULL, sig[65], line[512], phone[24];
	char ctx[24];
	const char *key, *code = NULL;
	long status = 0;
	int r = UK_ERR_SMS_REJECTED;

	if ((params = json_loads(m->params, 0, NULL)) == NULL ||
	    !json_is_object(params)) {
		SETERR("params are not a JSON object");
		goto out;
	}
	r = UK_ERR_SMS_TEMPORARY;
	if ((set = json_array()) == NULL)
		goto out;
	json_object_foreach(params, key, v)
	{
		if (json_is_string(v) && json_array_append(set, v) != 0)
			goto out;
	}
	snprintf(phone, sizeof(phone), "+86%s", m->phone);
	snprintf(ctx, sizeof(ctx), "%lld", (long long)m->id);
	o = json_pack("{s:[s],s:s,s:s,s:s,s:O,s:s}", "PhoneNumberSet", phone,
	    "SmsSdkAppId", p->c.app_id, "SignName", p->c.sign_name,
	    "TemplateId", tpl_for(p, m->template), "TemplateParamSet", set,
	    "SessionContext", ctx);
	if (o == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	if (gw_sms_tc3_sign(p->c.key_id, p->c.secret, "sms", p->host, ctype,
	        now, body, strlen(body), sig, &auth) != 0)
		goto out;
#define HDR(...)                                                               \
	do {                                                                   \
		snprintf(line, sizeof(line), __VA_ARGS__);                     \
		if ((t = curl_slist_append(h, line)) == NULL)                  \
			goto out;                                              \
		h = t;                                                         \
	} while (0)
	HDR("Authorization: %s", auth);
	HDR("Content-Type: %s", ctype);
	HDR("Host: %s", p->host);
	HDR("X-TC-Action: SendSms");
	HDR("X-TC-Timestamp: %lld", (long long)now);
	HDR("X-TC-Version: 2021-01-11");
	HDR("X-TC-Region: %s", p->c.region);
#undef HDR
	if ((r = perform(p, p->c.url, h, body, strlen(body), &status, &rb, err,
	         errlen)) != 0)
		goto out;
	ans = rb.p != NULL ? json_loads(rb.p, 0, NULL) : NULL;
	v = ans != NULL ? json_object_get(ans, "Response") : NULL;
	e = json_object_get(json_object_get(v, "Error"), "Code");
	if (json_is_string(e)) {
		code = json_string_value(e);
	} else {
		v = json_array_get(json_object_get(v, "SendStatusSet"), 0);
		e = json_object_get(v, "Code");
		code = json_is_string(e) ? json_string_value(e) : NULL;
		if (status == 200 && code != NULL && strcmp(code, "Ok") == 0) {
			e = json_object_get(v, "SerialNo");
			if (json_is_string(e))
				copy_id(msgid, json_string_value(e));
			r = 0;
			goto out;
		}
	}
	r = status_class(status);
	if (r == 0)
		r = UK_ERR_SMS_REJECTED;
	if (code != NULL &&
	    (strncmp(code, "InternalError", 13) == 0 ||
	        strncmp(code, "RequestLimitExceeded", 20) == 0 ||
	        strncmp(code, "ResourceUnavailable", 19) == 0))
		r = UK_ERR_SMS_TEMPORARY;
	SETERR("tencent: %s (status %ld)", code != NULL ? code : "no code",
	    status);
out:
	json_decref(ans);
	json_decref(o);
	json_decref(set);
	json_decref(params);
	curl_slist_free_all(h);
	free(body);
	free(auth);
	free(rb.p);
	return r;
}

int
gw_sms_provider_send(struct gw_sms_provider *p, const struct gw_sms_msg *m,
    int64_t now, char msgid[GW_SMS_MSGID_MAX + 1], char *err, size_t errlen)
{
	msgid[0] = '\0';
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	switch (p->kind) {
	case K_FILE:
		return send_file(p, m, now, err, errlen);
	case K_HTTP:
		return send_http(p, m, now, msgid, err, errlen);
	case K_ALIYUN:
		return send_aliyun(p, m, now, msgid, err, errlen);
	case K_TENCENT:
		return send_tencent(p, m, now, msgid, err, errlen);
	}
	return UK_ERR_INTERNAL;
}
