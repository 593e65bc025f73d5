/* tests/tools/sms-capture.c: a stand-in SMS provider on 127.0.0.1 that checks http / Aliyun / Tencent request signatures independently, records every request and can fail on demand. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "tests/lib/testsrv.h"

/*
 * Usage: sms-capture --log FILE [--port N] [--secrets FILE]
 * FILE for --secrets holds lines "http=…", "aliyun=…", "tencent=…" (the
 * shared keys; never on the command line). Endpoints:
 *   POST /http      JSON webhook: X-Ukey-Timestamp, X-Ukey-Signature =
 *                   hex HMAC-SHA256(secret, ts "." body)
 *   GET  /aliyun?…  Dysmsapi SendSms, HMAC-SHA1 RPC signature
 *   POST /tencent   SendSms 2021-01-11, TC3-HMAC-SHA256 Authorization
 *   GET  /control?fail=N   the next N provider requests answer 500
 * The checks are written here from the providers' published algorithms,
 * apart from the gateway's code: the query is decoded and re-encoded, the
 * canonical request rebuilt from the headers actually received. Every
 * provider request is appended to --log as one JSON line
 *   {"kind","ok","why","status","id","phone","template","params"}
 * and answered as the provider would (200 with its message id; a bad
 * signature 400/AuthFailure). Prints "listening PORT"; stops on SIGTERM.
 */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fail_next;  /* guarded by mu */
static unsigned seqno; /* guarded by mu */
static FILE *log_fp;
static char sec_http[256], sec_aliyun[256], sec_tencent[256]; /* keys */

struct req {
	char *body; /* the body; for GET /aliyun the raw query */
	size_t n;
	int too_big;
	int started; /* the first call (headers only) was seen */
};

static void
hexs(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
hmac256(const void *k, size_t kl, const void *m, size_t ml,
    unsigned char out[32])
{
	unsigned int ol = 32;

	HMAC(EVP_sha256(), k, (int)kl, m, ml, out, &ol);
}

/* Appends one record and unlocks nothing: called under mu. */
static void
record(const char *kind, int ok, const char *why, int status, json_t *extra)
{
	json_t *o = json_pack("{s:s,s:b,s:s,s:i}", "kind", kind, "ok", ok,
	    "why", why, "status", status);
	char *s;

	if (o == NULL)
		return;
	if (extra != NULL)
		json_object_update(o, extra);
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		fprintf(log_fp, "%s\n", s);
		fflush(log_fp);
		free(s);
	}
	json_decref(o);
}

static enum MHD_Result
answer(struct MHD_Connection *c, int status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body),
	    (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- http webhook --- */
static const char *
check_http(struct MHD_Connection *c, const struct req *q)
{
	const char *ts =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ukey-Timestamp");
	const char *sig =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ukey-Signature");
	unsigned char mac[32];
	char want[65], *m;
	size_t tl;

	if (ts == NULL || sig == NULL)
		return "missing signature headers";
	tl = strlen(ts);
	if ((m = malloc(tl + 1 + q->n)) == NULL)
		return "nomem";
	memcpy(m, ts, tl);
	m[tl] = '.';
	memcpy(m + tl + 1, q->body, q->n);
	hmac256(sec_http, strlen(sec_http), m, tl + 1 + q->n, mac);
	free(m);
	hexs(mac, 32, want);
	if (strlen(sig) != 64 || CRYPTO_memcmp(want, sig, 64) != 0)
		return "bad signature";
	return NULL;
}

/* --- aliyun --- */
static int
unhex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into a new string ('+' stays '+'). */
static char *
pdecode(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t i, j = 0;
	int a, b;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (a = unhex((unsigned char)s[i + 1])) >= 0 &&
		    (b = unhex((unsigned char)s[i + 2])) >= 0) {
			o[j++] = (char)(a * 16 + b);
			i += 2;
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	return o;
}

/* Appends s to *buf (growing it), RFC 3986 unreserved characters as
 * they are and, when enc, every other byte as %XX. */
static int
app(char **buf, size_t *len, size_t *cap, const char *s, int enc)
{
	static const char hx[] = "0123456789ABCDEF";
	unsigned char ch;
	char *t;

	for (; *s != '\0'; s++) {
		if (*len + 4 > *cap) {
			*cap = *cap * 2 + 64;
			if ((t = realloc(*buf, *cap)) == NULL)
				return -1;
			*buf = t;
		}
		ch = (unsigned char)*s;
		if (!enc || isalnum(ch) || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~') {
			(*buf)[(*len)++] = (char)ch;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hx[ch >> 4];
			(*buf)[(*len)++] = hx[ch & 15];
		}
	}
	if (*buf == NULL && (*buf = malloc(1)) == NULL)
		return -1;
	(*buf)[*len] = '\0';
	return 0;
}

struct kvp {
	char *k, *v;
};

static int
kvp_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kvp *)a)->k, ((const struct kvp *)b)->k);
}

static const char *
check_aliyun(const char *rawq, json_t *info)
{
	struct kvp kv[64];
	size_t n = 0, i, len = 0, cap = 0, l2 = 0, c2 = 0;
	const char *p = rawq, *e, *eq, *why = NULL;
	char *sig = NULL, *canon = NULL, *sts = NULL, key[300];
	unsigned char mac[20];
	unsigned int ml = 20;
	char b64[64];

	while (*p != '\0' && n < 64) {
		e = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL) {
			why = "parameter without =";
			goto out;
		}
		kv[n].k = pdecode(p, (size_t)(eq - p));
		kv[n].v = pdecode(eq + 1, (size_t)(e - eq - 1));
		if (kv[n].k == NULL || kv[n].v == NULL) {
			why = "nomem";
			n++;
			goto out;
		}
		if (strcmp(kv[n].k, "Signature") == 0) {
			free(sig);
			sig = kv[n].v;
			free(kv[n].k);
		} else {
			json_object_set_new(info, kv[n].k,
			    json_string(kv[n].v));
			n++;
		}
		p = *e == '&' ? e + 1 : e;
	}
	if (sig == NULL) {
		why = "no Signature";
		goto out;
	}
	qsort(kv, n, sizeof(kv[0]), kvp_cmp);
	for (i = 0; i < n; i++)
		if ((i > 0 && app(&canon, &len, &cap, "&", 0) != 0) ||
		    app(&canon, &len, &cap, kv[i].k, 1) != 0 ||
		    app(&canon, &len, &cap, "=", 0) != 0 ||
		    app(&canon, &len, &cap, kv[i].v, 1) != 0)
			goto out;
	if (app(&sts, &l2, &c2, "GET&%2F&", 0) != 0 ||
	    app(&sts, &l2, &c2, canon, 1) != 0)
		goto out;
	snprintf(key, sizeof(key), "%s&", sec_aliyun);
	HMAC(EVP_sha1(), key, (int)strlen(key), (unsigned char *)sts, l2, mac,
	    &ml);
	EVP_EncodeBlock((unsigned char *)b64, mac, 20);
	if (strcmp(b64, sig) != 0)
		why = "SignatureDoesNotMatch";
	else if (json_object_get(info, "SignatureMethod") == NULL ||
	    strcmp(json_string_value(json_object_get(info, "SignatureMethod")),
	        "HMAC-SHA1") != 0)
		why = "SignatureMethod";
out:
	for (i = 0; i < n; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
	free(sig);
	free(canon);
	free(sts);
	return why;
}

/* --- tencent --- */
static const char *
hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
check_tencent(struct MHD_Connection *c, const struct req *q)
{
	const char *auth = hdr(c, "Authorization"),
	           *ts = hdr(c, "X-TC-Timestamp");
	char cred[256], signed_h[128], sig[80], date[16], service[32];
	char canon[4096], hx[65], sts[512], want[65], *p;
	unsigned char md[32], k[32], kk[32], *tk;
	const char *a, *v;
	size_t off = 0, kl;
	time_t t;
	struct tm tm;
	char *endp;
	long long tsv;

	if (auth == NULL || ts == NULL)
		return "missing Authorization or X-TC-Timestamp";
	if (strncmp(auth, "TC3-HMAC-SHA256 ", 16) != 0)
		return "algorithm";
	a = strstr(auth, "Credential=");
	v = strstr(auth, "SignedHeaders=");
	p = strstr(auth, "Signature=");
	if (a == NULL || v == NULL || p == NULL)
		return "malformed Authorization";
	snprintf(cred, sizeof(cred), "%.*s", (int)strcspn(a + 11, ","), a + 11);
	snprintf(signed_h, sizeof(signed_h), "%.*s", (int)strcspn(v + 14, ","),
	    v + 14);
	snprintf(sig, sizeof(sig), "%s", p + 10);
	/* cred: id/date/service/tc3_request */
	{
		char *s1 = strchr(cred, '/'), *s2, *s3;

		if (s1 == NULL || (s2 = strchr(s1 + 1, '/')) == NULL ||
		    (s3 = strchr(s2 + 1, '/')) == NULL ||
		    strcmp(s3 + 1, "tc3_request") != 0)
			return "credential scope";
		snprintf(date, sizeof(date), "%.*s", (int)(s2 - s1 - 1),
		    s1 + 1);
		snprintf(service, sizeof(service), "%.*s", (int)(s3 - s2 - 1),
		    s2 + 1);
	}
	errno = 0;
	tsv = strtoll(ts, &endp, 10);
	if (errno != 0 || *endp != '\0')
		return "timestamp";
	t = (time_t)tsv;
	gmtime_r(&t, &tm);
	{
		char d2[16];

		strftime(d2, sizeof(d2), "%Y-%m-%d", &tm);
		if (strcmp(d2, date) != 0)
			return "credential date is not the timestamp's";
	}
	off +=
	    (size_t)snprintf(canon + off, sizeof(canon) - off, "POST\n/\n\n");
	for (a = signed_h; *a != '\0';) {
		size_t hl = strcspn(a, ";"), i;
		char low[64];
		const char *hv;

		if (hl == 0 || hl >= sizeof(low))
			return "bad SignedHeaders";
		for (i = 0; i < hl; i++)
			low[i] = (char)tolower((unsigned char)a[i]);
		low[hl] = '\0';
		if ((hv = hdr(c, low)) == NULL)
			return "a signed header is missing";
		while (*hv == ' ')
			hv++;
		off += (size_t)snprintf(canon + off, sizeof(canon) - off,
		    "%s:%s\n", low, hv);
		if (off >= sizeof(canon))
			return "too long";
		a += hl;
		if (*a == ';')
			a++;
	}
	SHA256((const unsigned char *)q->body, q->n, md);
	hexs(md, 32, hx);
	off += (size_t)snprintf(canon + off, sizeof(canon) - off, "\n%s\n%s",
	    signed_h, hx);
	if (off >= sizeof(canon))
		return "too long";
	SHA256((const unsigned char *)canon, off, md);
	hexs(md, 32, hx);
	snprintf(sts, sizeof(sts), "TC3-HMAC-SHA256\n%s\n%s/%s/tc3_request\n%s",
	    ts, date, service, hx);
	kl = strlen(sec_tencent) + 3;
	if ((tk = malloc(kl)) == NULL)
		return "nomem";
	memcpy(tk, "TC3", 3);
	memcpy(tk + 3, sec_tencent, kl - 3);
	hmac256(tk, kl, date, strlen(date), k);
	free(tk);
	hmac256(k, 32, service, strlen(service), kk);
	hmac256(kk, 32, "tc3_request", 11, k);
	hmac256(k, 32, sts, strlen(sts), kk);
	hexs(kk, 32, want);
	if (strcmp(want, sig) != 0)
		return "AuthFailure.SignatureFailure";
	if (strstr(signed_h, "host") == NULL ||
	    strstr(signed_h, "content-type") == NULL)
		return "host and content-type must be signed";
	return NULL;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *q = *con_cls;
	json_t *info = NULL, *body = NULL;
	const char *why = NULL, *kind;
	char resp[512];
	int status = 200, failing = 0;
	unsigned n;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (q == NULL)
		return MHD_NO;
	if (!q->started) {
		q->started = 1;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		char *t;

		if (q->n + *upload_size > 65536) {
			q->too_big = 1;
		} else if ((t = realloc(q->body, q->n + *upload_size + 1)) !=
		    NULL) {
			memcpy(t + q->n, upload, *upload_size);
			q->n += *upload_size;
			t[q->n] = '\0';
			q->body = t;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/control") == 0) {
		const char *f = MHD_lookup_connection_value(c,
		    MHD_GET_ARGUMENT_KIND, "fail");
		long v = f != NULL ? strtol(f, NULL, 10) : 0;

		pthread_mutex_lock(&mu);
		fail_next = (int)v;
		pthread_mutex_unlock(&mu);
		return answer(c, 200, "{\"ok\":true}");
	}
	info = json_object();
	if (strcmp(url, "/http") == 0 && strcmp(method, "POST") == 0) {
		kind = "http";
		why = q->too_big ? "too big" : check_http(c, q);
		body =
		    json_loadb(q->body != NULL ? q->body : "", q->n, 0, NULL);
		if (body != NULL) {
			json_object_set(info, "id",
			    json_object_get(body, "id"));
			json_object_set(info, "phone",
			    json_object_get(body, "phone"));
			json_object_set(info, "template",
			    json_object_get(body, "template"));
			json_object_set(info, "params",
			    json_object_get(body, "params"));
		} else if (why == NULL) {
			why = "body is not JSON";
		}
	} else if (strcmp(url, "/aliyun") == 0 && strcmp(method, "GET") == 0) {
		json_t *qp = json_object();

		kind = "aliyun";
		/* the raw query as received (saved by uri_log), not MHD's
		 * decoded arguments */
		why = q->body == NULL ? "no query" : check_aliyun(q->body, qp);
		json_object_set(info, "id", json_object_get(qp, "OutId"));
		json_object_set(info, "phone",
		    json_object_get(qp, "PhoneNumbers"));
		json_object_set(info, "template",
		    json_object_get(qp, "TemplateCode"));
		json_object_set(info, "params",
		    json_object_get(qp, "TemplateParam"));
		json_object_set(info, "sign_name",
		    json_object_get(qp, "SignName"));
		json_decref(qp);
	} else if (strcmp(url, "/tencent") == 0 &&
	    strcmp(method, "POST") == 0) {
		kind = "tencent";
		why = q->too_big ? "too big" : check_tencent(c, q);
		body =
		    json_loadb(q->body != NULL ? q->body : "", q->n, 0, NULL);
		if (body != NULL) {
			json_object_set(info, "id",
			    json_object_get(body, "SessionContext"));
			json_object_set(info, "phone",
			    json_array_get(json_object_get(body,
			                       "PhoneNumberSet"),
			        0));
			json_object_set(info, "template",
			    json_object_get(body, "TemplateId"));
			json_object_set(info, "params",
			    json_object_get(body, "TemplateParamSet"));
			json_object_set(info, "action",
			    json_string(hdr(c, "X-TC-Action")
			            ? hdr(c, "X-TC-Action")
			            : ""));
		} else if (why == NULL) {
			why = "body is not JSON";
		}
	} else {
		json_decref(info);
		return answer(c, 404, "{\"error\":\"no such endpoint\"}");
	}
	pthread_mutex_lock(&mu);
	n = ++seqno;
	if (fail_next > 0) {
		fail_next--;
		failing = 1;
	}
	status = failing ? 500 : why != NULL ? 400 : 200;
	record(kind, why == NULL, why != NULL ? why : "", status, info);
	pthread_mutex_unlock(&mu);
	if (failing)
		snprintf(resp, sizeof(resp),
		    "{\"error\":\"injected failure\"}");
	else if (strcmp(kind, "http") == 0)
		snprintf(resp, sizeof(resp),
		    why == NULL ? "{\"id\":\"cap-%u\"}"
		                : "{\"error\":\"bad signature %u\"}",
		    n);
	else if (strcmp(kind, "aliyun") == 0)
		snprintf(resp, sizeof(resp),
		    "{\"Code\":\"%s\",\"Message\":\"%s\",\"BizId\":\"cap-%u\","
		    "\"RequestId\":\"r%u\"}",
		    why == NULL ? "OK" : "SignatureDoesNotMatch",
		    why == NULL ? "OK" : why, n, n);
	else if (why == NULL)
		snprintf(resp, sizeof(resp),
		    "{\"Response\":{\"SendStatusSet\":[{\"SerialNo\":"
		    "\"cap-%u\",\"Code\":\"Ok\",\"Message\":\"send success\"}],"
		    "\"RequestId\":\"r%u\"}}",
		    n, n);
	else
		snprintf(resp, sizeof(resp),
		    "{\"Response\":{\"Error\":{\"Code\":"
		    "\"AuthFailure.SignatureFailure\",\"Message\":\"%s\"},"
		    "\"RequestId\":\"r%u\"}}",
		    why, n);
	/* Tencent answers errors with 200 too */
	if (!failing && why != NULL && strcmp(kind, "tencent") == 0)
		status = 200;
	ret = answer(c, status, resp);
	json_decref(info);
	json_decref(body);
	return ret;
}

/* Saves the raw query of GET requests (before MHD decodes it) as the
 * request's body. */
static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *q = calloc(1, sizeof(*q));
	const char *qm;

	(void)cls;
	(void)c;
	if (q != NULL && (qm = strchr(uri, '?')) != NULL &&
	    strncmp(uri, "/aliyun?", 8) == 0) {
		q->body = strdup(qm + 1);
		q->n = 0; /* not a body */
	}
	return q;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q != NULL) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

static int
read_secrets(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t n;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (strncmp(line, "http=", 5) == 0)
			snprintf(sec_http, sizeof(sec_http), "%s", line + 5);
		else if (strncmp(line, "aliyun=", 7) == 0)
			snprintf(sec_aliyun, sizeof(sec_aliyun), "%s",
			    line + 7);
		else if (strncmp(line, "tencent=", 8) == 0)
			snprintf(sec_tencent, sizeof(sec_tencent), "%s",
			    line + 8);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d;
	const char *log_path = NULL;
	sigset_t set;
	long port = 0;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			log_path = argv[++i];
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--secrets") == 0 && i + 1 < argc) {
			if (read_secrets(argv[++i]) != 0) {
				perror(argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr,
			    "usage: sms-capture --log FILE [--port N] "
			    "[--secrets FILE]\n");
			return 2;
		}
	}
	if (log_path == NULL || (log_fp = fopen(log_path, "a")) == NULL) {
		fprintf(stderr, "sms-capture: --log FILE required\n");
		return 2;
	}
	testsrv_signals(&set);
	d = testsrv_start("sms-capture", port, handler, NULL, 0, opts);
	if (d == NULL)
		return 1;
	testsrv_wait(d, &set);
	fclose(log_fp);
	return 0;
}
