/* gateway/proxy.c: the reverse proxy into the business module: curl multi loops on proxy threads, MHD connections suspended while the upstream answers and resumed on news, identity headers set, bodies streamed with bounded buffering. */
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
#define PX_EASY_KEEP 256       /* idle easy handles kept per loop */
#define PX_LOOPS_MAX 64

struct px_loop;

struct px_hdr {
	char *name;
	char *value;
};

/*
 * One exchange with the upstream. Two owners hold a reference each: the
 * proxy loop (until the transfer is done or cancelled) and the MHD side
 * (the handler's request state, then the response's content reader); a
 * queued message to the loop holds a third. Fields marked [mu] are shared
 * and guarded by mu; [loop] ones belong to the loop thread; the rest are
 * set before the transfer is handed over and read-only afterwards.
 */
struct px_xfer {
	struct gw_proxy *p;
	struct px_loop *loop;
	pthread_mutex_t mu;
	int refs;                 /* [mu] */
	struct MHD_Connection *c; /* [mu] NULL once the MHD side let go */
	int suspended;            /* [mu] c is suspended waiting for news */
	int gone;                 /* [mu] the MHD side let go */
	/* The request. */
	struct curl_slist *req_hdrs;
	char *url;
	char *method;
	unsigned char *body;
	size_t body_len;
	int has_body;
	int head_req;    /* a HEAD request: no body will come */
	char **resp_add; /* NULL-terminated pairs, copied */
	/* The answer. */
	int status;          /* [mu] of the final response */
	int headers_done;    /* [mu] the final response's header block is in */
	int done;            /* [mu] */
	int fail_code;       /* [mu] UK_ERR_UPSTREAM_* when it failed */
	CURLcode result;     /* [mu] */
	int too_big;         /* [loop] upstream headers over the limits */
	struct px_hdr *hdrs; /* written by the loop until headers_done */
	size_t nhdrs, caphdrs, hdrbytes;
	int64_t clen;       /* upstream Content-Length, -1 when unknown */
	int64_t delivered;  /* [mu] */
	int64_t received;   /* [mu] body bytes from the upstream */
	unsigned char *buf; /* [mu] body bytes [head, head + len) */
	size_t head, len, cap;
	int paused; /* [mu] curl paused on a full buffer */
	/* Messages to the loop ([loop mu]). */
	int queued;
	int msg_start, msg_unpause, msg_cancel;
	struct px_xfer *qnext;
	/* [loop] */
	CURL *easy;
	int added;
	struct px_xfer *anext, *aprev; /* the loop's active list */
};

/* A proxy thread: one multi handle (its connection cache is the reuse),
 * every transfer handed to it, a queue of messages from MHD threads. */
struct px_loop {
	struct gw_proxy *p;
	pthread_t th;
	int started;
	CURLM *multi;
	pthread_mutex_t mu;
	struct px_xfer *queue;  /* [mu] */
	int stop;               /* [mu] */
	struct px_xfer *active; /* [loop] */
	CURL *easy_pool[PX_EASY_KEEP];
	size_t neasy;
};

struct gw_proxy {
	char *upstream; /* without a trailing '/' */
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;
	int max_idle;
	struct px_loop *loops;
	int nloops;
	unsigned int next; /* round robin, racy on purpose */
	int stopped;
};

/* --- references and messages --- */

static void
xfer_free(struct px_xfer *x)
{
	size_t i;

	if (x == NULL)
		return;
	curl_slist_free_all(x->req_hdrs);
	for (i = 0; i < x->nhdrs; i++) {
		free(x->hdrs[i].name);
		free(x->hdrs[i].value);
	}
	for (i = 0; x->resp_add != NULL && x->resp_add[i] != NULL; i++)
		free(x->resp_add[i]);
	free(x->resp_add);
	free(x->hdrs);
	free(x->buf);
	free(x->url);
	free(x->method);
	free(x->body);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

/* Drops one reference; the last one frees x. */
static void
xfer_release(struct px_xfer *x)
{
	int left;

	pthread_mutex_lock(&x->mu);
	left = --x->refs;
	pthread_mutex_unlock(&x->mu);
	if (left == 0)
		xfer_free(x);
}

/* Resumes the MHD connection waiting on x, if one is. x->mu held. */
static void
wake(struct px_xfer *x)
{
	if (x->suspended && x->c != NULL) {
		x->suspended = 0;
		MHD_resume_connection(x->c);
	}
}

/* Sends x's loop a message (the msg_* flags set by the caller under the
 * loop's mu, here): x is queued once, holding a reference. */
static void
post(struct px_xfer *x, int start, int unpause, int cancel)
{
	struct px_loop *l = x->loop;

	pthread_mutex_lock(&x->mu);
	x->refs++;
	pthread_mutex_unlock(&x->mu);
	pthread_mutex_lock(&l->mu);
	x->msg_start |= start;
	x->msg_unpause |= unpause;
	x->msg_cancel |= cancel;
	if (!x->queued) {
		x->queued = 1;
		x->qnext = l->queue;
		l->queue = x;
		x = NULL; /* the reference goes with the message */
	}
	pthread_mutex_unlock(&l->mu);
	curl_multi_wakeup(l->multi);
	if (x != NULL)
		xfer_release(x); /* already queued with one */
}

/* --- pools and life cycle --- */

static CURL *
easy_get(struct px_loop *l)
{
	if (l->neasy > 0)
		return l->easy_pool[--l->neasy];
	return curl_easy_init();
}

static void
easy_put(struct px_loop *l, CURL *e)
{
	if (e == NULL)
		return;
	if (l->neasy < PX_EASY_KEEP) {
		curl_easy_reset(e);
		l->easy_pool[l->neasy++] = e;
		return;
	}
	curl_easy_cleanup(e);
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
		if (x->status >= 200) {
			/* The wake comes with the body (on_body) or, when none
			 * came in this round, after it (loop_main). */
			pthread_mutex_lock(&x->mu);
			x->headers_done = 1;
			pthread_mutex_unlock(&x->mu);
		}
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
	size_t len = size * n, ret = len;
	unsigned char *t;

	pthread_mutex_lock(&x->mu);
	if (!x->headers_done) {
		x->headers_done = 1;
		wake(x);
	}
	if (x->gone)
		goto out; /* nobody reads: dropped */
	if (x->len >= PX_HIGH) {
		x->paused = 1;
		ret = CURL_WRITEFUNC_PAUSE;
		goto out;
	}
	if (x->head > 0 && x->head + x->len + len > x->cap) {
		memmove(x->buf, x->buf + x->head, x->len);
		x->head = 0;
	}
	if (x->head + x->len + len > x->cap) {
		size_t nc = x->cap ? x->cap : 4096;

		while (nc < x->head + x->len + len)
			nc *= 2;
		if ((t = realloc(x->buf, nc)) == NULL) {
			ret = 0;
			goto out;
		}
		x->buf = t;
		x->cap = nc;
	}
	memcpy(x->buf + x->head + x->len, b, len);
	x->len += len;
	x->received += (int64_t)len;
	/* Woken once the whole body is in, or after this round (loop_main):
	 * one resume, not one per piece. */
	if (x->clen >= 0 && x->received >= x->clen)
		wake(x);
out:
	pthread_mutex_unlock(&x->mu);
	return ret;
}

static int
set_options(struct px_xfer *x, CURL *e)
{
	struct gw_proxy *p = x->p;

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
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_hdrs);
	if (strcmp(x->method, "GET") == 0 && !x->has_body)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(x->method, "HEAD") == 0 && !x->has_body)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else {
		if (x->has_body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)x->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS,
			    x->body != NULL ? (const char *)x->body : "");
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
	}
	return 0;
}

/* The error for a transfer that ended before a response came. */
static int
failure_code(struct px_xfer *x, CURLcode result)
{
	curl_off_t connected = 0;

	if (x->too_big)
		return UK_ERR_UPSTREAM_DOWN;
	if (result == CURLE_OPERATION_TIMEDOUT &&
	    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected) ==
	        CURLE_OK &&
	    connected > 0)
		return UK_ERR_UPSTREAM_TIMEOUT;
	return UK_ERR_UPSTREAM_DOWN;
}

/* The transfer ended (result) or was cancelled: off the loop, the news
 * told, the loop's reference dropped. */
static void
finish(struct px_loop *l, struct px_xfer *x, CURLcode result)
{
	int code = 0;

	if (x->added) {
		if (result != CURLE_OK)
			code = failure_code(x, result);
		curl_multi_remove_handle(l->multi, x->easy);
		x->added = 0;
		if (x->anext != NULL)
			x->anext->aprev = x->aprev;
		if (x->aprev != NULL)
			x->aprev->anext = x->anext;
		else
			l->active = x->anext;
		x->anext = x->aprev = NULL;
	} else if (result != CURLE_OK)
		code = UK_ERR_UPSTREAM_DOWN;
	easy_put(l, x->easy);
	x->easy = NULL;
	pthread_mutex_lock(&x->mu);
	if (!x->done) {
		x->done = 1;
		x->result = result;
		x->fail_code = code;
	}
	wake(x);
	pthread_mutex_unlock(&x->mu);
	xfer_release(x);
}

static void
start(struct px_loop *l, struct px_xfer *x)
{
	if ((x->easy = easy_get(l)) == NULL || set_options(x, x->easy) != 0 ||
	    curl_multi_add_handle(l->multi, x->easy) != CURLM_OK) {
		finish(l, x, CURLE_FAILED_INIT);
		return;
	}
	x->added = 1;
	x->anext = l->active;
	x->aprev = NULL;
	if (l->active != NULL)
		l->active->aprev = x;
	l->active = x;
}

/* Handles the queued messages. Returns 1 when the loop must stop. */
static int
take_messages(struct px_loop *l)
{
	struct px_xfer *q, *x;
	int stop, st, un, ca, paused;

	pthread_mutex_lock(&l->mu);
	q = l->queue;
	l->queue = NULL;
	stop = l->stop;
	for (x = q; x != NULL; x = x->qnext)
		x->queued = 0;
	pthread_mutex_unlock(&l->mu);
	while ((x = q) != NULL) {
		q = x->qnext;
		pthread_mutex_lock(&l->mu);
		st = x->msg_start;
		un = x->msg_unpause;
		ca = x->msg_cancel;
		x->msg_start = x->msg_unpause = x->msg_cancel = 0;
		pthread_mutex_unlock(&l->mu);
		if (st && !stop)
			start(l, x);
		else if (st)
			finish(l, x, CURLE_ABORTED_BY_CALLBACK);
		if (ca && x->added)
			finish(l, x, CURLE_ABORTED_BY_CALLBACK);
		else if (un && x->added) {
			pthread_mutex_lock(&x->mu);
			paused = x->paused;
			x->paused = 0;
			pthread_mutex_unlock(&x->mu);
			/* May call on_body at once, which may pause again. */
			if (paused &&
			    curl_easy_pause(x->easy, CURLPAUSE_CONT) !=
			        CURLE_OK)
				finish(l, x, CURLE_WRITE_ERROR);
		}
		xfer_release(x); /* the message's reference */
	}
	return stop;
}

static void *
loop_main(void *arg)
{
	struct px_loop *l = arg;
	struct px_xfer *x;
	int running = 0, q;
	CURLMsg *m;

	for (;;) {
		if (take_messages(l))
			break;
		curl_multi_perform(l->multi, &running);
		while ((m = curl_multi_info_read(l->multi, &q)) != NULL) {
			x = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&x);
			if (x != NULL)
				finish(l, x, m->data.result);
		}
		/* The news of this round: headers or body pieces in. */
		for (x = l->active; x != NULL; x = x->anext) {
			pthread_mutex_lock(&x->mu);
			if (x->suspended && (x->headers_done || x->len > 0))
				wake(x);
			pthread_mutex_unlock(&x->mu);
		}
		curl_multi_poll(l->multi, NULL, 0, 1000, NULL);
	}
	/* Stopping: every transfer ends now. */
	while (l->active != NULL)
		finish(l, l->active, CURLE_ABORTED_BY_CALLBACK);
	return NULL;
}

static void
loop_free(struct px_loop *l)
{
	size_t i;

	for (i = 0; i < l->neasy; i++)
		curl_easy_cleanup(l->easy_pool[i]);
	l->neasy = 0;
	if (l->multi != NULL)
		curl_multi_cleanup(l->multi);
	l->multi = NULL;
	pthread_mutex_destroy(&l->mu);
}

int
gw_proxy_new(const struct gw_proxy_conf *conf, struct gw_proxy **out)
{
	struct gw_proxy *p;
	size_t n;
	int i, r = UK_ERR_NOMEM;

	*out = NULL;
	if (conf == NULL || conf->upstream == NULL ||
	    (strncmp(conf->upstream, "http://", 7) != 0 &&
	        strncmp(conf->upstream, "https://", 8) != 0) ||
	    strchr(conf->upstream, '?') != NULL ||
	    strchr(conf->upstream, '#') != NULL ||
	    conf->connect_timeout_ms < 0 || conf->timeout_ms < 0 ||
	    conf->max_idle < 0 || conf->loops < 0 || conf->loops > PX_LOOPS_MAX)
		return UK_ERR_CONFIG_VALUE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return UK_ERR_INTERNAL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		curl_global_cleanup();
		return UK_ERR_NOMEM;
	}
	if ((p->upstream = strdup(conf->upstream)) == NULL)
		goto out;
	n = strlen(p->upstream);
	while (n > 0 && p->upstream[n - 1] == '/')
		p->upstream[--n] = '\0';
	p->connect_timeout_ms =
	    conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 2000;
	p->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 60000;
	p->max_body = conf->max_body;
	p->max_idle = conf->max_idle > 0 ? conf->max_idle : 16;
	p->nloops = conf->loops > 0 ? conf->loops : 1;
	if ((p->loops = calloc((size_t)p->nloops, sizeof(*p->loops))) == NULL)
		goto out;
	for (i = 0; i < p->nloops; i++) {
		struct px_loop *l = &p->loops[i];

		l->p = p;
		pthread_mutex_init(&l->mu, NULL);
		if ((l->multi = curl_multi_init()) == NULL)
			goto out;
		curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS,
		    (long)p->max_idle);
		if (pthread_create(&l->th, NULL, loop_main, l) != 0) {
			r = UK_ERR_INTERNAL;
			goto out;
		}
		l->started = 1;
	}
	*out = p;
	p = NULL; /* transferred */
	r = 0;
out:
	gw_proxy_free(p);
	return r;
}

void
gw_proxy_stop(struct gw_proxy *p)
{
	int i;

	if (p == NULL || p->stopped)
		return;
	p->stopped = 1;
	for (i = 0; p->loops != NULL && i < p->nloops; i++) {
		struct px_loop *l = &p->loops[i];

		if (!l->started)
			continue;
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_mutex_unlock(&l->mu);
		curl_multi_wakeup(l->multi);
		pthread_join(l->th, NULL);
		l->started = 0;
		/* Messages that came too late: their transfers never ran. */
		take_messages(l);
	}
}

void
gw_proxy_free(struct gw_proxy *p)
{
	int i;

	if (p == NULL)
		return;
	gw_proxy_stop(p);
	for (i = 0; p->loops != NULL && i < p->nloops; i++)
		if (p->loops[i].multi != NULL)
			loop_free(&p->loops[i]);
	free(p->loops);
	free(p->upstream);
	free(p);
	curl_global_cleanup();
}

static ssize_t
reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct px_xfer *x = cls;
	ssize_t ret;
	size_t n;
	int unpause = 0;

	(void)pos;
	pthread_mutex_lock(&x->mu);
	if (x->len > 0) {
		n = x->len < max ? x->len : max;
		memcpy(out, x->buf + x->head, n);
		x->head += n;
		x->len -= n;
		if (x->len == 0)
			x->head = 0;
		x->delivered += (int64_t)n;
		unpause = x->paused && x->len < PX_LOW;
		ret = (ssize_t)n;
	} else if (x->done) {
		ret = x->result == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
		                            : MHD_CONTENT_READER_END_WITH_ERROR;
	} else {
		/* Nothing yet: off MHD's loop until the proxy thread has
		 * more (wake). */
		unpause = x->paused;
		MHD_suspend_connection(x->c);
		x->suspended = 1;
		ret = 0;
	}
	pthread_mutex_unlock(&x->mu);
	if (unpause)
		post(x, 0, 1, 0);
	return ret;
}

/* The MHD side lets go of x: a transfer still running is cancelled, unless
 * all of its body came and only curl's own end is missing (the upstream
 * connection then goes back to the cache). */
static void
mhd_release(struct px_xfer *x)
{
	int cancel, unpause;

	pthread_mutex_lock(&x->mu);
	x->c = NULL;
	x->gone = 1;
	x->suspended = 0;
	cancel = !x->done && (x->clen < 0 || x->received != x->clen);
	unpause = !x->done && !cancel && x->paused;
	pthread_mutex_unlock(&x->mu);
	if (cancel || unpause)
		post(x, 0, unpause, cancel);
	xfer_release(x);
}

static void
reader_free(void *cls)
{
	mhd_release(cls);
}

void
gw_proxy_abandon(struct gw_proxy_xfer *x)
{
	if (x != NULL)
		mhd_release((struct px_xfer *)x);
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

/* Makes the MHD response for a transfer whose headers are in. x->mu is
 * not held: the headers no longer change and, when done, neither does
 * the body. */
static struct MHD_Response *
make_response(struct px_xfer *x, int done, int *streaming)
{
	struct MHD_Response *resp;
	const char *conn = NULL;
	size_t i;

	*streaming = 0;
	for (i = 0; i < x->nhdrs; i++)
		if (name_is(x->hdrs[i].name, "connection", 0))
			conn = x->hdrs[i].value;
	if (done && x->head_req && x->clen >= 0) {
		/* HEAD: the upstream's length, no body (MHD sends none). */
		resp = MHD_create_response_from_callback((uint64_t)x->clen,
		    PX_BLOCK, reader, x, reader_free);
		*streaming = 1;
	} else if (done) {
		/* All of it is here: one buffer, and x is released now. */
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
	add_extra(resp, x, (const char *const *)x->resp_add, 0);
	return resp;
}

/* Copies a NULL-terminated list of strings (pairs). NULL on failure;
 * *out NULL for a NULL list. */
static int
copy_list(const char *const *in, char ***out)
{
	size_t n = 0, i;
	char **l;

	*out = NULL;
	if (in == NULL)
		return 0;
	while (in[n] != NULL)
		n++;
	if ((l = calloc(n + 1, sizeof(*l))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((l[i] = strdup(in[i])) == NULL) {
			while (i > 0)
				free(l[--i]);
			free(l);
			return -1;
		}
	*out = l;
	return 0;
}

enum MHD_Result
gw_proxy_forward(struct gw_proxy *p, struct MHD_Connection *c,
    const char *method, const char *path_query, const unsigned char *body,
    size_t body_len, const char *const *add, const char *client_ip, int https,
    const char *const *resp_add, struct gw_proxy_xfer **xp)
{
	struct px_xfer *x = NULL;
	int code = UK_ERR_UPSTREAM_DOWN;

	if (xp != NULL)
		*xp = NULL;
	if (p == NULL || c == NULL || xp == NULL)
		return MHD_NO;
	if (!is_token(method) || path_query == NULL || path_query[0] != '/')
		return queue_error(c, UK_ERR_BAD_PATH, resp_add);
	if (body_len > p->max_body)
		return queue_error(c, UK_ERR_BODY_TOO_LARGE, resp_add);
	if (p->stopped)
		return queue_error(c, UK_ERR_UPSTREAM_DOWN, resp_add);
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return MHD_NO;
	pthread_mutex_init(&x->mu, NULL);
	x->p = p;
	x->refs = 2; /* the loop's and the MHD side's */
	x->c = c;
	x->clen = -1;
	x->head_req = strcmp(method, "HEAD") == 0;
	x->has_body = body_len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
	code = UK_ERR_NOMEM;
	if ((x->method = strdup(method)) == NULL ||
	    copy_list(resp_add, &x->resp_add) != 0)
		goto fail;
	if (body_len > 0) {
		if ((x->body = malloc(body_len)) == NULL)
			goto fail;
		memcpy(x->body, body, body_len);
		x->body_len = body_len;
	}
	if ((x->url = build_url(p->upstream, path_query)) == NULL) {
		code = UK_ERR_BAD_PATH;
		goto fail;
	}
	if ((code = build_headers(x, c, add, client_ip, https, x->has_body)) !=
	    0)
		goto fail;
	x->loop = &p->loops[p->next++ % (unsigned int)p->nloops];
	/* Suspended before the loop can answer: its wake finds it so. */
	pthread_mutex_lock(&x->mu);
	MHD_suspend_connection(c);
	x->suspended = 1;
	pthread_mutex_unlock(&x->mu);
	post(x, 1, 0, 0);
	*xp = (struct gw_proxy_xfer *)x;
	return MHD_YES;
fail:
	xfer_free(x);
	return queue_error(c, code, resp_add);
}

enum MHD_Result
gw_proxy_continue(struct gw_proxy_xfer **xp, struct MHD_Connection *c)
{
	struct px_xfer *x = (struct px_xfer *)*xp;
	struct MHD_Response *resp;
	int done, streaming = 0, code;
	enum MHD_Result ret;

	pthread_mutex_lock(&x->mu);
	if (!x->headers_done && !x->done) {
		MHD_suspend_connection(c);
		x->suspended = 1;
		pthread_mutex_unlock(&x->mu);
		return MHD_YES;
	}
	done = x->done;
	if (!done && !x->head_req && x->clen >= 0 && x->received == x->clen &&
	    x->delivered == 0) {
		/* The whole body is here; curl's end is a formality: answered
		 * from the buffer, the transfer left to end on its own. */
		done = 1;
		x->delivered = x->clen;
		pthread_mutex_unlock(&x->mu);
		*xp = NULL;
		goto answer;
	}
	code = x->fail_code;
	if (done && (x->result != CURLE_OK || x->status < 200) && code == 0)
		code = UK_ERR_UPSTREAM_DOWN;
	if (done && x->result == CURLE_OK && x->status >= 200)
		code = 0;
	pthread_mutex_unlock(&x->mu);
	*xp = NULL;
	if (code != 0) {
		ret = queue_error(c, code, (const char *const *)x->resp_add);
		mhd_release(x);
		return ret;
	}
answer:
	if ((resp = make_response(x, done, &streaming)) == NULL) {
		ret = queue_error(c, UK_ERR_NOMEM,
		    (const char *const *)x->resp_add);
		mhd_release(x);
		return ret;
	}
	ret = MHD_queue_response(c, (unsigned int)x->status, resp);
	if (!streaming)
		mhd_release(x); /* a streaming one: reader_free */
	MHD_destroy_response(resp);
	return ret;
}
