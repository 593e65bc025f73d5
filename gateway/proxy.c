/* gateway/proxy.c: the reverse proxy into the business module: libcurl multi handles pooled for connection reuse, identity headers set, bodies streamed through an MHD content reader. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "common/errors.h"
#include "common/json.h"
#include "gateway/httputil.h"
#include "gateway/proxy.h"

#define PX_HIGH (256 * 1024)   /* buffered body bytes before curl pauses */
#define PX_LOW (64 * 1024)     /* resume below this */
#define PX_HDR_BYTES 65536     /* upstream response header bytes */
#define PX_HDR_COUNT 128       /* upstream response header lines */
#define PX_BLOCK (32 * 1024)   /* MHD content reader block */
#define PX_URL_MAX (16 * 1024) /* longest upstream URL */

/* One multi handle with its one easy handle: the multi handle owns the
 * connection cache, so keeping the pair keeps the upstream connection. */
struct px_pair {
	CURLM *multi;
	CURL *easy;
	struct px_pair *next;
};

struct gw_proxy {
	char *upstream; /* without a trailing '/' */
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;
	int max_idle;
	pthread_mutex_t mu;
	struct px_pair *idle; /* guarded by mu */
	int nidle;
};

struct px_hdr {
	char *name;
	char *value;
};

/* One exchange with the upstream, from gw_proxy_forward to the end of the
 * streamed response. */
struct px_xfer {
	struct gw_proxy *p;
	struct px_pair *pair;
	struct curl_slist *req_hdrs;
	char *url;
	int status;       /* of the final response */
	int headers_done; /* the final response's header block is complete */
	int done;
	CURLcode result;
	int too_big; /* upstream headers over the limits */
	struct px_hdr *hdrs;
	size_t nhdrs, caphdrs, hdrbytes;
	int64_t clen; /* upstream Content-Length, -1 when unknown */
	int64_t received, delivered;
	unsigned char *buf; /* body bytes [head, head + len) */
	size_t head, len, cap;
	int paused;
	int head_req; /* a HEAD request: no body will come */
};

static void
pair_free(struct px_pair *pp)
{
	if (pp == NULL)
		return;
	if (pp->easy != NULL)
		curl_easy_cleanup(pp->easy);
	if (pp->multi != NULL)
		curl_multi_cleanup(pp->multi);
	free(pp);
}

/* Takes an idle pair from the pool or makes one; NULL when out of memory. */
static struct px_pair *
pair_get(struct gw_proxy *p)
{
	struct px_pair *pp;

	pthread_mutex_lock(&p->mu);
	if ((pp = p->idle) != NULL) {
		p->idle = pp->next;
		p->nidle--;
	}
	pthread_mutex_unlock(&p->mu);
	if (pp != NULL) {
		pp->next = NULL;
		return pp;
	}
	if ((pp = calloc(1, sizeof(*pp))) == NULL)
		return NULL;
	if ((pp->multi = curl_multi_init()) == NULL ||
	    (pp->easy = curl_easy_init()) == NULL) {
		pair_free(pp);
		return NULL;
	}
	/* One easy handle, one upstream: one connection worth keeping. */
	curl_multi_setopt(pp->multi, CURLMOPT_MAXCONNECTS, 1L);
	return pp;
}

/* Returns pp to the pool (or frees it when the pool is full). */
static void
pair_put(struct gw_proxy *p, struct px_pair *pp)
{
	if (pp == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->max_idle) {
		pp->next = p->idle;
		p->idle = pp;
		p->nidle++;
		pp = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	pair_free(pp);
}

int
gw_proxy_new(const struct gw_proxy_conf *conf, struct gw_proxy **out)
{
	struct gw_proxy *p;
	size_t n;

	*out = NULL;
	if (conf == NULL || conf->upstream == NULL ||
	    (strncmp(conf->upstream, "http://", 7) != 0 &&
	        strncmp(conf->upstream, "https://", 8) != 0) ||
	    strchr(conf->upstream, '?') != NULL ||
	    strchr(conf->upstream, '#') != NULL ||
	    conf->connect_timeout_ms < 0 || conf->timeout_ms < 0 ||
	    conf->max_idle < 0)
		return UK_ERR_CONFIG_VALUE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return UK_ERR_INTERNAL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		curl_global_cleanup();
		return UK_ERR_NOMEM;
	}
	if ((p->upstream = strdup(conf->upstream)) == NULL) {
		free(p);
		curl_global_cleanup();
		return UK_ERR_NOMEM;
	}
	n = strlen(p->upstream);
	while (n > 0 && p->upstream[n - 1] == '/')
		p->upstream[--n] = '\0';
	p->connect_timeout_ms =
	    conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 2000;
	p->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 60000;
	p->max_body = conf->max_body;
	p->max_idle = conf->max_idle > 0 ? conf->max_idle : 16;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void
gw_proxy_free(struct gw_proxy *p)
{
	struct px_pair *pp;

	if (p == NULL)
		return;
	while ((pp = p->idle) != NULL) {
		p->idle = pp->next;
		pair_free(pp);
	}
	pthread_mutex_destroy(&p->mu);
	free(p->upstream);
	free(p);
	curl_global_cleanup();
}

static void
xfer_free(struct px_xfer *x)
{
	size_t i;

	if (x == NULL)
		return;
	if (x->pair != NULL) {
		curl_multi_remove_handle(x->pair->multi, x->pair->easy);
		pair_put(x->p, x->pair);
	}
	curl_slist_free_all(x->req_hdrs);
	for (i = 0; i < x->nhdrs; i++) {
		free(x->hdrs[i].name);
		free(x->hdrs[i].value);
	}
	free(x->hdrs);
	free(x->buf);
	free(x->url);
	free(x);
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* A header value that may go on the wire: no CR, LF or other controls
 * except tab. */
static int
value_ok(const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Compares header names case-insensitively with '_' read as '-'. */
static int
name_is(const char *name, const char *want, int prefix)
{
	size_t i;

	for (i = 0; want[i] != '\0'; i++) {
		unsigned char a = (unsigned char)name[i],
		              b = (unsigned char)want[i];

		if (a == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (a == '_')
			a = '-';
		if (a != b)
			return 0;
	}
	return prefix || name[i] == '\0';
}

/* Appends "name: value" (or "name;" for an empty value) to *l. */
static int
slist_add(struct curl_slist **l, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	struct curl_slist *t;
	char *s;

	if ((s = malloc(nl + vl + 3)) == NULL)
		return -1;
	memcpy(s, name, nl);
	if (vl == 0) {
		s[nl] = ';';
		s[nl + 1] = '\0';
	} else {
		s[nl] = ':';
		s[nl + 1] = ' ';
		memcpy(s + nl + 2, value, vl + 1);
	}
	t = curl_slist_append(*l, s);
	free(s);
	if (t == NULL)
		return -1;
	*l = t;
	return 0;
}

struct hdr_ctx {
	struct px_xfer *x;
	char *conn; /* the request's Connection values, comma-joined */
	size_t connlen;
	int has_accept, has_ctype, failed;
};

static enum MHD_Result
collect_conn(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdr_ctx *h = cls;
	size_t vl;
	char *t;

	(void)kind;
	if (key == NULL || value == NULL || !name_is(key, "connection", 0))
		return MHD_YES;
	vl = strlen(value);
	if (h->connlen + vl + 2 > 8192)
		return MHD_YES;
	if ((t = realloc(h->conn, h->connlen + vl + 2)) == NULL) {
		h->failed = 1;
		return MHD_NO;
	}
	h->conn = t;
	if (h->connlen > 0)
		h->conn[h->connlen++] = ',';
	memcpy(h->conn + h->connlen, value, vl + 1);
	h->connlen += vl;
	return MHD_YES;
}

static enum MHD_Result
copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdr_ctx *h = cls;

	(void)kind;
	if (key == NULL || value == NULL)
		return MHD_YES;
	if (!is_token(key) || !value_ok(value))
		return MHD_YES; /* nothing unparseable is passed on */
	if (gw_hdr_is_identity(key) || gw_hdr_is_hop_by_hop(key, h->conn) ||
	    name_is(key, "host", 0) || name_is(key, "content-length", 0) ||
	    name_is(key, "x-forwarded-", 1) || name_is(key, "forwarded", 0) ||
	    name_is(key, "expect", 0))
		return MHD_YES;
	if (name_is(key, "accept", 0))
		h->has_accept = 1;
	if (name_is(key, "content-type", 0))
		h->has_ctype = 1;
	if (slist_add(&h->x->req_hdrs, key, value) != 0) {
		h->failed = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Builds the request headers for the upstream into x->req_hdrs. */
static int
build_headers(struct px_xfer *x, struct MHD_Connection *c,
    const char *const *add, const char *client_ip, int https, int has_body)
{
	struct hdr_ctx h;
	size_t i;
	int r = UK_ERR_NOMEM;

	memset(&h, 0, sizeof(h));
	h.x = x;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_conn, &h);
	if (h.failed)
		goto out;
	MHD_get_connection_values(c, MHD_HEADER_KIND, copy_header, &h);
	if (h.failed)
		goto out;
	for (i = 0; add != NULL && add[i] != NULL && add[i + 1] != NULL;
	     i += 2) {
		if (!is_token(add[i]) || !value_ok(add[i + 1])) {
			r = UK_ERR_BAD_HEADER;
			goto out;
		}
		if (slist_add(&x->req_hdrs, add[i], add[i + 1]) != 0)
			goto out;
	}
	if (client_ip != NULL && *client_ip != '\0' && value_ok(client_ip) &&
	    slist_add(&x->req_hdrs, "X-Forwarded-For", client_ip) != 0)
		goto out;
	if (slist_add(&x->req_hdrs, "X-Forwarded-Proto",
	        https ? "https" : "http") != 0)
		goto out;
	/* Suppress what curl would add on its own. */
	if (slist_add(&x->req_hdrs, "Expect", "") != 0 ||
	    (!h.has_accept && slist_add(&x->req_hdrs, "Accept", "") != 0) ||
	    (has_body && !h.has_ctype &&
	        slist_add(&x->req_hdrs, "Content-Type", "") != 0))
		goto out;
	r = 0;
out:
	free(h.conn);
	return r;
}

/* The upstream URL for path_query: the path percent-encoded again where
 * a path may not hold the byte, the query passed as it came (only bytes
 * that cannot appear in a URL are encoded). */
static char *
build_url(const char *base, const char *path_query)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t bl = strlen(base), i, o;
	const char *q = strchr(path_query, '?');
	size_t pl = q != NULL ? (size_t)(q - path_query) : strlen(path_query);
	size_t max = bl + 3 * strlen(path_query) + 1;
	char *u;

	if (max > PX_URL_MAX || (u = malloc(max)) == NULL)
		return NULL;
	memcpy(u, base, bl);
	o = bl;
	for (i = 0; path_query[i] != '\0'; i++) {
		unsigned char c = (unsigned char)path_query[i];
		int keep;

		if (i < pl)
			keep = (c >= 'a' && c <= 'z') ||
			    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    strchr("-._~!$&'()*+,;=:@/", c) != NULL;
		else
			keep = c > 0x20 && c < 0x7f && c != '#';
		if (keep) {
			u[o++] = (char)c;
		} else {
			u[o++] = '%';
			u[o++] = hex[c >> 4];
			u[o++] = hex[c & 15];
		}
	}
	u[o] = '\0';
	return u;
}

static size_t
on_header(char *b, size_t size, size_t n, void *ud)
{
	struct px_xfer *x = ud;
	size_t len = size * n, nl, vl, i;
	const char *colon, *v, *e;
	struct px_hdr *t;

	x->hdrbytes += len;
	if (x->hdrbytes > PX_HDR_BYTES) {
		x->too_big = 1;
		return 0;
	}
	if (len >= 5 && memcmp(b, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): forget earlier headers. */
		for (i = 0; i < x->nhdrs; i++) {
			free(x->hdrs[i].name);
			free(x->hdrs[i].value);
		}
		x->nhdrs = 0;
		x->clen = -1;
		x->status = 0;
		for (i = 5; i < len && b[i] != ' '; i++)
			;
		if (i + 3 < len && b[i + 1] >= '1' && b[i + 1] <= '9' &&
		    b[i + 2] >= '0' && b[i + 2] <= '9' && b[i + 3] >= '0' &&
		    b[i + 3] <= '9')
			x->status = (b[i + 1] - '0') * 100 +
			    (b[i + 2] - '0') * 10 + (b[i + 3] - '0');
		return len;
	}
	if ((len == 2 && b[0] == '\r' && b[1] == '\n') ||
	    (len == 1 && b[0] == '\n')) {
		if (x->status >= 200)
			x->headers_done = 1;
		return len;
	}
	if (len == 0 || b[0] == ' ' || b[0] == '\t')
		return len; /* obsolete line folding: dropped */
	if ((colon = memchr(b, ':', len)) == NULL)
		return len;
	nl = (size_t)(colon - b);
	for (v = colon + 1; v < b + len && (*v == ' ' || *v == '\t'); v++)
		;
	for (e = b + len; e > v &&
	     (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t');
	     e--)
		;
	vl = (size_t)(e - v);
	if (nl == 0)
		return len;
	if (x->nhdrs >= PX_HDR_COUNT) {
		x->too_big = 1;
		return 0;
	}
	if (x->nhdrs == x->caphdrs) {
		size_t nc = x->caphdrs ? x->caphdrs * 2 : 16;

		if ((t = realloc(x->hdrs, nc * sizeof(*t))) == NULL)
			return 0;
		x->hdrs = t;
		x->caphdrs = nc;
	}
	t = &x->hdrs[x->nhdrs];
	if ((t->name = strndup(b, nl)) == NULL)
		return 0;
	if ((t->value = strndup(v, vl)) == NULL) {
		free(t->name);
		return 0;
	}
	x->nhdrs++;
	if (name_is(t->name, "content-length", 0)) {
		int64_t cl = 0;
		size_t k;

		for (k = 0; k < vl && vl <= 18; k++) {
			if (v[k] < '0' || v[k] > '9')
				break;
			cl = cl * 10 + (v[k] - '0');
		}
		x->clen = (vl > 0 && vl <= 18 && k == vl) ? cl : -1;
	}
	return len;
}

static size_t
on_body(char *b, size_t size, size_t n, void *ud)
{
	struct px_xfer *x = ud;
	size_t len = size * n;
	unsigned char *t;

	x->headers_done = 1;
	if (x->len >= PX_HIGH) {
		x->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (x->head > 0 && x->head + x->len + len > x->cap) {
		memmove(x->buf, x->buf + x->head, x->len);
		x->head = 0;
	}
	if (x->head + x->len + len > x->cap) {
		size_t nc = x->cap ? x->cap : 4096;

		while (nc < x->head + x->len + len)
			nc *= 2;
		if ((t = realloc(x->buf, nc)) == NULL)
			return 0;
		x->buf = t;
		x->cap = nc;
	}
	memcpy(x->buf + x->head + x->len, b, len);
	x->len += len;
	x->received += (int64_t)len;
	return len;
}

/* Runs the transfer a little: what is ready now, then waits up to wait_ms
 * for more when wait_ms > 0. */
static void
pump(struct px_xfer *x, int wait_ms)
{
	int running = 0, q;
	CURLMsg *m;

	if (curl_multi_perform(x->pair->multi, &running) != CURLM_OK) {
		x->done = 1;
		x->result = CURLE_FAILED_INIT;
		return;
	}
	while ((m = curl_multi_info_read(x->pair->multi, &q)) != NULL) {
		if (m->msg == CURLMSG_DONE) {
			x->done = 1;
			x->result = m->data.result;
		}
	}
	/* Nothing to wait for while paused or while data waits here. */
	if (!x->done && wait_ms > 0 && !x->paused && x->len == 0)
		curl_multi_poll(x->pair->multi, NULL, 0, wait_ms, NULL);
}

static void
resume(struct px_xfer *x)
{
	if (!x->paused)
		return;
	x->paused = 0;
	/* May call on_body at once, which may pause again. */
	if (curl_easy_pause(x->pair->easy, CURLPAUSE_CONT) != CURLE_OK) {
		x->done = 1;
		x->result = CURLE_WRITE_ERROR;
	}
}

static ssize_t
reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct px_xfer *x = cls;
	size_t n;

	(void)pos;
	for (;;) {
		if (x->len > 0) {
			n = x->len < max ? x->len : max;
			memcpy(out, x->buf + x->head, n);
			x->head += n;
			x->len -= n;
			if (x->len == 0)
				x->head = 0;
			x->delivered += (int64_t)n;
			if (x->len < PX_LOW)
				resume(x);
			return (ssize_t)n;
		}
		if (x->paused) {
			resume(x);
			continue;
		}
		if (x->done)
			return x->result == CURLE_OK
			    ? MHD_CONTENT_READER_END_OF_STREAM
			    : MHD_CONTENT_READER_END_WITH_ERROR;
		pump(x, 1000);
	}
}

static void
reader_free(void *cls)
{
	struct px_xfer *x = cls;
	int i;

	/* Everything was passed on: let curl see the end of the response so
	 * that the connection goes back to the cache rather than closed. */
	for (i = 0; i < 20 && !x->done && x->len == 0 && x->clen >= 0 &&
	     x->delivered == x->clen;
	     i++) {
		resume(x);
		pump(x, 10);
	}
	xfer_free(x);
}

/* Adds the pairs of extra to resp, but none whose name the upstream's
 * answer (x, may be NULL) already has, nor Content-Type or Cache-Control
 * when skip_own (the error pages set their own). */
static void
add_extra(struct MHD_Response *resp, const struct px_xfer *x,
    const char *const *extra, int skip_own)
{
	size_t i, k;

	for (i = 0; extra != NULL && extra[i] != NULL && extra[i + 1] != NULL;
	     i += 2) {
		int have = 0;

		if (skip_own &&
		    (strcasecmp(extra[i], "content-type") == 0 ||
		        strcasecmp(extra[i], "cache-control") == 0))
			continue;
		for (k = 0; x != NULL && k < x->nhdrs && !have; k++)
			have = strcasecmp(x->hdrs[k].name, extra[i]) == 0;
		if (!have && is_token(extra[i]) && value_ok(extra[i + 1]))
			(void)MHD_add_response_header(resp, extra[i],
			    extra[i + 1]);
	}
}

/* Queues an error page for code: HTML when the client prefers it, else
 * the API's JSON error body; with the extra headers. */
static enum MHD_Result
queue_error(struct MHD_Connection *c, int code, const char *const *extra)
{
	const struct uk_error_info *e = uk_error_info(code);
	const char *accept, *al, *msg, *rem;
	struct MHD_Response *resp;
	char *body = NULL;
	int html, en;
	size_t len;
	enum MHD_Result ret;

	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	al = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
	html = accept != NULL && strstr(accept, "text/html") != NULL;
	en = al != NULL && strncasecmp(al, "en", 2) == 0;
	if (html) {
		static const char *const parts[] = {
			"<!doctype html>\n"
			"<html><head><meta "
			"charset=\"utf-8\"><title>",
			NULL, "</title></head><body><h1>", NULL, "</h1><p>",
			NULL, "</p></body></html>\n"
		};
		const char *v[7];
		size_t o = 0, i;

		msg = en ? e->en : e->zh;
		rem = en ? e->remedy_en : e->remedy_zh;
		/* Catalogue texts are static and hold no markup. */
		for (i = 0; i < 7; i++)
			v[i] = parts[i];
		v[1] = e->id;
		v[3] = msg;
		v[5] = rem != NULL ? rem : "";
		for (len = 0, i = 0; i < 7; i++)
			len += strlen(v[i]);
		if ((body = malloc(len + 1)) == NULL)
			return MHD_NO;
		for (i = 0; i < 7; i++) {
			size_t k = strlen(v[i]);

			memcpy(body + o, v[i], k);
			o += k;
		}
		body[o] = '\0';
	} else if ((body = json_error_body(code, en ? "en" : "zh", NULL)) ==
	    NULL)
		return MHD_NO;
	len = strlen(body);
	resp =
	    MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    html ? "text/html; charset=utf-8" : "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	add_extra(resp, NULL, extra, 1);
	ret = MHD_queue_response(c, (unsigned int)e->http_status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The error for a transfer that ended before a response came. */
static int
failure_code(struct px_xfer *x)
{
	curl_off_t connected = 0;

	if (x->result == CURLE_OPERATION_TIMEDOUT &&
	    curl_easy_getinfo(x->pair->easy, CURLINFO_CONNECT_TIME_T,
	        &connected) == CURLE_OK &&
	    connected > 0)
		return UK_ERR_UPSTREAM_TIMEOUT;
	return UK_ERR_UPSTREAM_DOWN;
}

static int
set_options(struct px_xfer *x, const char *method, const unsigned char *body,
    size_t body_len)
{
	struct gw_proxy *p = x->p;
	CURL *e = x->pair->easy;
	int has_body = body_len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;

	curl_easy_reset(e);
	if (curl_easy_setopt(e, CURLOPT_URL, x->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK)
		return UK_ERR_CONFIG_VALUE;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_hdrs);
	if (strcmp(method, "GET") == 0 && !has_body)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "HEAD") == 0 && !has_body)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else {
		if (has_body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS,
			    body != NULL ? (const char *)body : "");
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	return 0;
}

/* Makes the MHD response for a transfer whose headers are in. */
static struct MHD_Response *
make_response(struct px_xfer *x, const char *const *extra, int *streaming)
{
	struct MHD_Response *resp;
	const char *conn = NULL;
	size_t i;

	*streaming = 0;
	for (i = 0; i < x->nhdrs; i++)
		if (name_is(x->hdrs[i].name, "connection", 0))
			conn = x->hdrs[i].value;
	if (x->done && x->head_req && x->clen >= 0) {
		/* HEAD: the upstream's length, no body (MHD sends none). */
		resp = MHD_create_response_from_callback((uint64_t)x->clen,
		    PX_BLOCK, reader, x, reader_free);
		*streaming = 1;
	} else if (x->done) {
		/* All of it is here: one buffer, and the pair goes back now. */
		resp = MHD_create_response_from_buffer(x->len,
		    x->buf != NULL ? x->buf + x->head : (unsigned char *)"",
		    MHD_RESPMEM_MUST_COPY);
	} else {
		resp = MHD_create_response_from_callback(x->clen >= 0
		        ? (uint64_t)x->clen
		        : MHD_SIZE_UNKNOWN,
		    PX_BLOCK, reader, x, reader_free);
		*streaming = 1;
	}
	if (resp == NULL)
		return NULL;
	for (i = 0; i < x->nhdrs; i++) {
		const char *n = x->hdrs[i].name, *v = x->hdrs[i].value;

		if (gw_hdr_is_hop_by_hop(n, conn) ||
		    name_is(n, "content-length", 0) || !is_token(n) ||
		    !value_ok(v))
			continue;
		(void)MHD_add_response_header(resp, n, v);
	}
	add_extra(resp, x, extra, 0);
	return resp;
}

enum MHD_Result
gw_proxy_forward(struct gw_proxy *p, struct MHD_Connection *c,
    const char *method, const char *path_query, const unsigned char *body,
    size_t body_len, const char *const *add, const char *client_ip, int https,
    const char *const *resp_add)
{
	struct px_xfer *x = NULL;
	struct MHD_Response *resp = NULL;
	int streaming = 0, code = UK_ERR_UPSTREAM_DOWN, has_body;
	enum MHD_Result ret;

	if (p == NULL || c == NULL)
		return MHD_NO;
	if (!is_token(method) || path_query == NULL || path_query[0] != '/')
		return queue_error(c, UK_ERR_BAD_PATH, resp_add);
	if (body_len > p->max_body)
		return queue_error(c, UK_ERR_BODY_TOO_LARGE, resp_add);
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return MHD_NO;
	x->p = p;
	x->clen = -1;
	x->head_req = strcmp(method, "HEAD") == 0;
	has_body = body_len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
	if ((x->url = build_url(p->upstream, path_query)) == NULL) {
		code = UK_ERR_BAD_PATH;
		goto fail;
	}
	if ((code = build_headers(x, c, add, client_ip, https, has_body)) != 0)
		goto fail;
	code = UK_ERR_UPSTREAM_DOWN;
	if ((x->pair = pair_get(p)) == NULL)
		goto fail;
	if (set_options(x, method, body, body_len) != 0)
		goto fail;
	if (curl_multi_add_handle(x->pair->multi, x->pair->easy) != CURLM_OK)
		goto fail;
	while (!x->headers_done && !x->done)
		pump(x, 200);
	if (x->done && (x->result != CURLE_OK || x->status < 200)) {
		code = x->too_big ? UK_ERR_UPSTREAM_DOWN : failure_code(x);
		goto fail;
	}
	if ((resp = make_response(x, resp_add, &streaming)) == NULL) {
		code = UK_ERR_NOMEM;
		goto fail;
	}
	ret = MHD_queue_response(c, (unsigned int)x->status, resp);
	if (!streaming)
		xfer_free(x); /* a streaming one is freed by MHD: reader_free */
	MHD_destroy_response(resp);
	return ret;
fail:
	xfer_free(x);
	return queue_error(c, code, resp_add);
}
