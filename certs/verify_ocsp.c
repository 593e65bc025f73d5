/* certs/verify_ocsp.c: the verifier's OCSP client: POST over libcurl, nonce, response signature and freshness, cache until nextUpdate. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "certs/verify.h"
#include "certs/verify_int.h"
#include "certs/verify_ocsp.h"
#include "common/errors.h"

#define MAX_RESPONSE (64 * 1024)
#define LEEWAY 300           /* seconds of clock skew tolerated */
#define MAX_AGE_NO_NEXT 3600 /* a response without nextUpdate */
#define CACHE_SLOTS 1024     /* power of two */
#define KEYLEN 32

struct entry {
	unsigned char key[KEYLEN];
	int used;
	int status; /* 0 or UK_ERR_CERT_REVOKED */
	int reason;
	time_t expires;
};

struct ca_ocsp_client {
	char *url;
	long timeout_ms;
	unsigned flags;
	pthread_mutex_t lock;
	struct entry *cache;
};

struct body {
	unsigned char *p;
	size_t len;
	int overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
init_curl(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void setmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
setmsg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

struct ca_ocsp_client *
ca_ocsp_client_new(const char *url, long timeout_ms, unsigned flags)
{
	struct ca_ocsp_client *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	if ((o->cache = calloc(CACHE_SLOTS, sizeof(*o->cache))) == NULL ||
	    (url != NULL && (o->url = strdup(url)) == NULL) ||
	    pthread_mutex_init(&o->lock, NULL) != 0) {
		free(o->cache);
		free(o->url);
		free(o);
		return NULL;
	}
	o->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	o->flags = flags;
	return o;
}

void
ca_ocsp_client_free(struct ca_ocsp_client *o)
{
	if (o == NULL)
		return;
	pthread_mutex_destroy(&o->lock);
	free(o->cache);
	free(o->url);
	free(o);
}

static size_t
slot_of(const unsigned char *key)
{
	return ((size_t)key[0] << 8 | key[1]) & (CACHE_SLOTS - 1);
}

static int
cache_get(struct ca_ocsp_client *o, const unsigned char *key, time_t now,
    int *status, int *reason)
{
	struct entry *e;
	int found = 0;

	pthread_mutex_lock(&o->lock);
	e = &o->cache[slot_of(key)];
	if (e->used && memcmp(e->key, key, KEYLEN) == 0 && now < e->expires) {
		*status = e->status;
		*reason = e->reason;
		found = 1;
	}
	pthread_mutex_unlock(&o->lock);
	return found;
}

static void
cache_put(struct ca_ocsp_client *o, const unsigned char *key, int status,
    int reason, time_t expires)
{
	struct entry *e;

	pthread_mutex_lock(&o->lock);
	e = &o->cache[slot_of(key)];
	memcpy(e->key, key, KEYLEN);
	e->used = 1;
	e->status = status;
	e->reason = reason;
	e->expires = expires;
	pthread_mutex_unlock(&o->lock);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	unsigned char *p;
	size_t len;

	if (n != 0 && size > MAX_RESPONSE / n) {
		b->overflow = 1;
		return 0;
	}
	len = size * n;
	if (b->len + len > MAX_RESPONSE) {
		b->overflow = 1;
		return 0;
	}
	if ((p = realloc(b->p, b->len + len + 1)) == NULL)
		return 0;
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
	return len;
}

/* POSTs req to url; *resp (malloc'd) receives a 200 answer's body. */
static int
http_post(const struct ca_ocsp_client *o, const char *url,
    const unsigned char *req, size_t reqlen, struct body *resp, char *err,
    size_t errlen)
{
	CURL *h = NULL;
	struct curl_slist *hdr = NULL, *t;
	CURLcode cc;
	long code = 0;
	int r = UK_ERR_CERT_REVOCATION_UNKNOWN;

	memset(resp, 0, sizeof(*resp));
	pthread_once(&curl_once, init_curl);
	if (!curl_ok || (h = curl_easy_init()) == NULL) {
		setmsg(err, errlen, "libcurl unavailable");
		goto out;
	}
	if ((t = curl_slist_append(hdr,
	         "Content-Type: application/ocsp-request")) == NULL)
		goto out;
	hdr = t;
	if ((t = curl_slist_append(hdr, "Accept: application/ocsp-response")) ==
	    NULL)
		goto out;
	hdr = t;
	if ((t = curl_slist_append(hdr, "Expect:")) == NULL)
		goto out;
	hdr = t;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)reqlen) !=
	        CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp) != CURLE_OK) {
		setmsg(err, errlen, "libcurl refused an option");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		setmsg(err, errlen, "OCSP responder %.100s: %s", url,
		    resp->overflow ? "response too large"
		                   : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		setmsg(err, errlen, "OCSP responder %.100s answered HTTP %ld",
		    url, code);
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		free(resp->p);
		memset(resp, 0, sizeof(*resp));
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

/* The first http(s) OCSP URL of cert's AIA, copied into buf. */
static int
aia_url(X509 *cert, char *buf, size_t len)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	const char *u;
	int i, found = 0;

	for (i = 0; i < sk_OPENSSL_STRING_num(urls) && !found; i++) {
		u = sk_OPENSSL_STRING_value(urls, i);
		if ((strncmp(u, "http://", 7) == 0 ||
		        strncmp(u, "https://", 8) == 0) &&
		    strlen(u) < len) {
			ca_verify_strlcpy(buf, u, len);
			found = 1;
		}
	}
	X509_email_free(urls);
	return found;
}

static int
asn1_to_time(const ASN1_GENERALIZEDTIME *a, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(a, &tm))
		return 0;
	*out = timegm(&tm);
	return 1;
}

static int
certid_key(OCSP_CERTID *id, unsigned char *key)
{
	unsigned char *der = NULL;
	int len, ok;

	if ((len = i2d_OCSP_CERTID(id, &der)) <= 0)
		return 0;
	ok = EVP_Digest(der, (size_t)len, key, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok;
}

int
ca_ocsp_client_check(struct ca_ocsp_client *o, X509 *cert, X509 *issuer,
    X509_STORE *store, STACK_OF(X509) * untrusted, time_t now, int *reason,
    char *err, size_t errlen)
{
	OCSP_CERTID *id = NULL, *reqid = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	unsigned char key[KEYLEN], *der = NULL;
	const unsigned char *p;
	struct body body;
	char url[512];
	time_t t, expires;
	int len, n, status, rsn = -1, cached,
	                    r = UK_ERR_CERT_REVOCATION_UNKNOWN;

	memset(&body, 0, sizeof(body));
	*reason = -1;
	setmsg(err, errlen, "%s", "");
	if (o == NULL || cert == NULL || issuer == NULL) {
		setmsg(err, errlen, "OCSP not configured");
		goto out;
	}
	if ((id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL ||
	    !certid_key(id, key)) {
		setmsg(err, errlen, "cannot build the OCSP certificate ID");
		goto out;
	}
	if (cache_get(o, key, now, &cached, reason)) {
		r = cached;
		if (r == UK_ERR_CERT_REVOKED)
			setmsg(err, errlen, "revoked (OCSP, cached)");
		goto out;
	}
	if (o->url != NULL)
		ca_verify_strlcpy(url, o->url, sizeof(url));
	else if (!aia_url(cert, url, sizeof(url))) {
		setmsg(err, errlen, "no OCSP URL in the certificate");
		goto out;
	}

	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (reqid = OCSP_CERTID_dup(id)) == NULL)
		goto nomem;
	if (OCSP_request_add0_id(req, reqid) == NULL)
		goto nomem;
	reqid = NULL; /* transferred */
	if (!OCSP_request_add1_nonce(req, NULL, -1) ||
	    (len = i2d_OCSP_REQUEST(req, &der)) <= 0)
		goto nomem;
	if ((r = http_post(o, url, der, (size_t)len, &body, err, errlen)) != 0)
		goto out;
	r = UK_ERR_CERT_REVOCATION_UNKNOWN;

	p = body.p;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)body.len)) == NULL ||
	    p != body.p + body.len) {
		setmsg(err, errlen, "OCSP response does not parse");
		goto out;
	}
	if ((n = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		setmsg(err, errlen, "OCSP responder status: %s",
		    OCSP_response_status_str(n));
		goto out;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		setmsg(err, errlen, "OCSP response is not a basic response");
		goto out;
	}
	n = OCSP_check_nonce(req, bs);
	if (n == 0 || (n < 0 && (o->flags & CA_OCSP_REQUIRE_NONCE) != 0)) {
		setmsg(err, errlen, "OCSP nonce %s",
		    n == 0 ? "does not match" : "missing");
		goto out;
	}
	if (OCSP_basic_verify(bs, untrusted, store, 0) <= 0) {
		setmsg(err, errlen,
		    "OCSP response signature or signer "
		    "not accepted");
		goto out;
	}
	if (!OCSP_resp_find_status(bs, id, &status, &rsn, &rev, &thisupd,
	        &nextupd)) {
		setmsg(err, errlen,
		    "OCSP response does not cover the "
		    "certificate");
		goto out;
	}
	t = now + LEEWAY;
	if (thisupd == NULL || X509_cmp_time(thisupd, &t) >= 0) {
		setmsg(err, errlen, "OCSP response thisUpdate in the future");
		goto out;
	}
	t = now - LEEWAY;
	if (nextupd != NULL && X509_cmp_time(nextupd, &t) <= 0) {
		setmsg(err, errlen,
		    "OCSP response is stale (nextUpdate "
		    "passed)");
		goto out;
	}
	t = now - MAX_AGE_NO_NEXT;
	if (nextupd == NULL && X509_cmp_time(thisupd, &t) <= 0) {
		setmsg(err, errlen,
		    "OCSP response without nextUpdate is "
		    "too old");
		goto out;
	}
	if (status == V_OCSP_CERTSTATUS_GOOD) {
		r = 0;
	} else if (status == V_OCSP_CERTSTATUS_REVOKED) {
		r = UK_ERR_CERT_REVOKED;
		*reason = rsn >= 0 ? rsn : -1;
		setmsg(err, errlen, "revoked (OCSP)");
	} else {
		setmsg(err, errlen,
		    "OCSP responder does not know the "
		    "certificate");
		goto out;
	}
	if (nextupd != NULL && asn1_to_time(nextupd, &expires))
		cache_put(o, key, r, *reason, expires);
	goto out;
nomem:
	setmsg(err, errlen, "out of memory");
	r = UK_ERR_CERT_REVOCATION_UNKNOWN;
out:
	ERR_clear_error();
	OCSP_CERTID_free(id);
	OCSP_CERTID_free(reqid);
	OCSP_REQUEST_free(req);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OPENSSL_free(der);
	free(body.p);
	return r;
}
