/* gateway/server.c: ukey-gateway's HTTP server: the libmicrohttpd daemon (thread pool, epoll, suspended connections for the proxy and held waits), raw paths, per-request state and limits, sessions and policy before the proxy, per-thread stores, one log line per request. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/authcert.h"
#include "gateway/conf.h"
#include "gateway/counter.h"
#include "gateway/httputil.h"
#include "gateway/jwt.h"
#include "gateway/metrics.h"
#include "gateway/policy.h"
#include "gateway/proxy.h"
#include "gateway/respond.h"
#include "gateway/console.h"
#include "gateway/pwjobs.h"
#include "gateway/routes_auth.h"
#include "gateway/routes_reset.h"
#include "gateway/routes_scan.h"
#include "gateway/server.h"
#include "gateway/static.h"
#include "gateway/waiters.h"

/* Bytes of an X-Forwarded-For header looked at. */
#define XFF_MAX 1024

int64_t
gw_server_now(const struct gw_server *s)
{
	return (int64_t)time(NULL) + (s != NULL ? s->clock_offset : 0);
}

/* A thread's store, and where it goes back to when the thread ends. */
struct thread_store {
	struct gw_server *s;
	struct store *st;
};

/* The thread-specific destructor: a pool thread ends, its store
 * goes back to the pool (or is closed when the pool is full). */
static void
store_destroy(void *p)
{
	struct thread_store *ts = p;
	struct gw_server *s = ts->s;

	pthread_mutex_lock(&s->pool_mu);
	if (s->npool < GW_STORE_POOL) {
		s->pool[s->npool++] = ts->st;
		ts->st = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	store_close(ts->st);
	free(ts);
}

struct store *
gw_server_store(struct gw_server *s)
{
	struct thread_store *ts;
	struct store *st = NULL;
	int r;

	if (!s->key_made)
		return s->main_st;
	if ((ts = pthread_getspecific(s->store_key)) != NULL)
		return ts->st;
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return NULL;
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool > 0)
		st = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_mu);
	if (st == NULL && (r = store_open(s->store_loc, &st)) != 0) {
		uk_log_err(r, "store: %s", store_last_error(NULL));
		free(ts);
		return NULL;
	}
	ts->s = s;
	ts->st = st;
	if (pthread_setspecific(s->store_key, ts) != 0) {
		store_close(st);
		free(ts);
		return NULL;
	}
	return st;
}

/* --- request state --- */

static void
req_free(struct gw_req *rq)
{
	if (rq == NULL)
		return;
	free(rq->uri);
	free(rq->body);
	secret_free(rq->sbody);
	free(rq);
}

static struct gw_req *
req_new(const char *uri)
{
	struct gw_req *rq;
	size_t n;

	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	if (rnd_hex(rq->id, 16) != 0)
		snprintf(rq->id, sizeof(rq->id), "0");
	snprintf(rq->principal, sizeof(rq->principal), "-");
	if (uri != NULL) {
		n = strlen(uri);
		if (n >= GW_URI_MAX)
			rq->bad_uri = 1;
		else if ((rq->uri = strdup(uri)) == NULL) {
			free(rq);
			return NULL;
		}
	}
	return rq;
}

static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	(void)c;
	return req_new(uri);
}

/* The raw path reaches the handler: gw_path_normalise does the decoding,
 * exactly once. */
static size_t
unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static int
is_trusted(const struct gw_server *s, const char *ip)
{
	size_t i;

	for (i = 0; s->trusted != NULL && s->trusted[i] != NULL; i++)
		if (strcmp(s->trusted[i], ip) == 0)
			return 1;
	return 0;
}

/* The client's address: the peer's, or, when the peer is a trusted proxy,
 * the right-most X-Forwarded-For entry that is not a trusted proxy. */
static void
client_ip(struct gw_server *s, struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const char *xff;
	char buf[XFF_MAX], one[64];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n;
	char *p;

	snprintf(out, size, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)ci->client_addr)
		         ->sin_addr,
		    out, (socklen_t)size);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)
		            ci->client_addr)
		         ->sin6_addr,
		    out, (socklen_t)size);
	if (!is_trusted(s, out))
		return;
	xff =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (xff == NULL || (n = strlen(xff)) >= sizeof(buf))
		return;
	memcpy(buf, xff, n + 1);
	while (n > 0) {
		size_t end = n, start;
		while (end > 0 && (buf[end - 1] == ' ' || buf[end - 1] == ','))
			end--;
		start = end;
		while (start > 0 && buf[start - 1] != ',')
			start--;
		n = start;
		p = buf + start;
		while (*p == ' ' && p < buf + end)
			p++;
		if ((size_t)(buf + end - p) == 0 ||
		    (size_t)(buf + end - p) >= sizeof(one))
			return;
		memcpy(one, p, (size_t)(buf + end - p));
		one[buf + end - p] = '\0';
		if (inet_pton(AF_INET, one, bin) != 1 &&
		    inet_pton(AF_INET6, one, bin) != 1)
			return; /* not an address: keep the last good one */
		snprintf(out, size, "%s", one);
		if (!is_trusted(s, one))
			return;
	}
}

static int
json_content_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static enum MHD_Result
err(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq, int code,
    unsigned int status, const char *event, const char *subject)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.status = status;
	e.event = event;
	e.subject = subject;
	return gw_respond_error(s, c, rq, &e);
}

/* The checks of a proxied request that need no body: policy, session,
 * CSRF. Returns MHD_YES to go on reading (rq->status 0) or the queued
 * refusal's result. */
static enum MHD_Result
proxy_first(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	const struct gw_rule *rule = NULL;
	struct gw_session se;
	unsigned int bit;
	int r, sr;

	if ((r = gw_policy_match(s->policy, rq->path, rq->method, &rule)) !=
	    0) {
		sr = gw_req_session(s, c, rq, &se);
		return err(s, c, rq, r, 0,
		    sr == 0 || gw_policy_audit_anon(rq->ip, gw_server_now(s))
		        ? "policy.refused"
		        : NULL,
		    rq->path);
	}
	sr = gw_req_session(s, c, rq, &se);
	if (sr != 0 && sr != UK_ERR_SESSION_NONE &&
	    sr != UK_ERR_SESSION_EXPIRED && sr != UK_ERR_SESSION_REVOKED)
		return err(s, c, rq, sr, 0, NULL, NULL);
	if ((r = gw_policy_check(rule, sr == 0 ? &se.id : NULL,
	         gw_server_now(s))) != 0) {
		if (r == UK_ERR_SESSION_NONE && sr != UK_ERR_SESSION_NONE)
			r = sr; /* say why: expired or revoked */
		return err(s, c, rq, r, 0,
		    sr == 0 || gw_policy_audit_anon(rq->ip, gw_server_now(s))
		        ? "policy.refused"
		        : NULL,
		    rq->path);
	}
	rq->have_id = sr == 0;
	rq->pass_id = rq->have_id;
	bit = gw_method_bit(rq->method);
	if (rq->have_id && bit != GW_M_GET && bit != GW_M_HEAD &&
	    gw_req_csrf(c, &se) != 0) {
		if (rule->access != GW_ACCESS_PUBLIC)
			return err(s, c, rq, UK_ERR_CSRF, 0, "csrf.refused",
			    rq->path);
		rq->pass_id = 0; /* public: passed on without identity */
	}
	if (rq->have_id)
		rq->who = se.id;
	if (s->proxy == NULL)
		return err(s, c, rq, UK_ERR_UPSTREAM_DOWN, 0, NULL, NULL);
	return MHD_YES;
}

/* The first call for a request: every check that needs no body. */
static enum MHD_Result
first(struct gw_server *s, struct MHD_Connection *c, const char *method,
    struct gw_req *rq)
{
	const char *cl, *ct, *q;
	char raw[GW_URI_MAX];
	unsigned long long n = 0;
	size_t limit, plen;
	char *end;
	int r, json_body = 0;

	rq->method = method;
	rq->en = gw_lang_en(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_LANGUAGE));
	rq->html = gw_accepts_html(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	rq->ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_USER_AGENT);
	client_ip(s, c, rq->ip, sizeof(rq->ip));
	/* 1. The path, decoded once, strictly. */
	if (rq->bad_uri || rq->uri == NULL)
		return err(s, c, rq, UK_ERR_BAD_PATH, 0, NULL, NULL);
	q = strchr(rq->uri, '?');
	plen = q != NULL ? (size_t)(q - rq->uri) : strlen(rq->uri);
	memcpy(raw, rq->uri, plen);
	raw[plen] = '\0';
	rq->query = q != NULL ? q + 1 : NULL;
	if (strchr(rq->uri, '#') != NULL ||
	    gw_path_normalise(raw, rq->path, sizeof(rq->path)) != 0) {
		snprintf(rq->path, sizeof(rq->path), "-");
		return err(s, c, rq, UK_ERR_BAD_PATH, 0, NULL, NULL);
	}
	/* The gateway's own pages and assets, before any policy. */
	if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	    gw_static_owns(rq->path)) {
		rq->kind = GW_ROUTE_STATIC;
		return gw_static_serve(c, rq->path, strcmp(method, "HEAD") == 0,
		    rq->id, s->https, &rq->status);
	}
	rq->kind = gw_scan_owns(rq->path) ? GW_ROUTE_SCAN
	    : gw_auth_owns(rq->path)      ? GW_ROUTE_AUTH
	    : gw_console_owns(rq->path)   ? GW_ROUTE_CONSOLE
	                                  : GW_ROUTE_PROXY;
	/* 2. The route and, for JSON routes, the content type. */
	if (rq->kind == GW_ROUTE_SCAN) {
		if ((r = gw_scan_route(rq->path, method, &limit)) != 0)
			return err(s, c, rq, r, 0, NULL, NULL);
		if (limit > 0 && (rq->sbody = secret_new(limit)) == NULL)
			return MHD_NO;
		rq->body_cap = limit;
		return MHD_YES;
	}
	if (rq->kind == GW_ROUTE_AUTH || rq->kind == GW_ROUTE_CONSOLE) {
		r = rq->kind == GW_ROUTE_AUTH
		    ? gw_auth_route(rq->path, method, &json_body)
		    : gw_console_route(rq->path, method, &json_body);
		if (r != 0)
			return err(s, c, rq, r, 0, NULL, NULL);
		ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE);
		if (json_body && !json_content_type(ct))
			return err(s, c, rq, UK_ERR_NOT_JSON, 415, NULL, NULL);
	}
	/* 3. The body's announced size. */
	limit = rq->kind == GW_ROUTE_AUTH  ? GW_AUTH_BODY_MAX
	    : rq->kind == GW_ROUTE_CONSOLE ? GW_CONSOLE_BODY_MAX
	                                   : s->max_body;
	if (limit > s->max_body)
		limit = s->max_body;
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		n = strtoull(cl, &end, 10);
		if (end == cl || *end != '\0')
			return err(s, c, rq, UK_ERR_BAD_HEADER, 400, NULL,
			    NULL);
		if (n > limit)
			return err(s, c, rq, UK_ERR_BODY_TOO_LARGE, 413, NULL,
			    NULL);
	}
	if (rq->kind == GW_ROUTE_AUTH || rq->kind == GW_ROUTE_CONSOLE) {
		if (json_body && (rq->sbody = secret_new(limit)) == NULL)
			return MHD_NO;
		rq->body_cap = json_body ? limit : 0;
		return MHD_YES;
	}
	rq->body_cap = limit;
	return proxy_first(s, c, rq);
}

/* Takes a piece of the body. */
static enum MHD_Result
take_body(struct gw_req *rq, const char *data, size_t n)
{
	if (rq->too_big || rq->stray_body || n > rq->body_cap - rq->body_len) {
		if (rq->body_cap == 0)
			rq->stray_body = 1;
		else
			rq->too_big = 1;
		rq->dropped += n;
		return rq->dropped > 16 * (rq->body_cap + 65536) ? MHD_NO
		                                                 : MHD_YES;
	}
	if (rq->sbody != NULL) {
		memcpy(rq->sbody->buf + rq->sbody->len, data, n);
		rq->sbody->len += n;
		rq->sbody->buf[rq->sbody->len] = '\0';
		rq->body_len = rq->sbody->len;
		return MHD_YES;
	}
	{
		size_t need = rq->body_len + n, cap;
		unsigned char *nb;
		cap = rq->body == NULL ? 0 : rq->body_alloc;
		if (need > cap) {
			cap = cap == 0 ? 16384 : cap;
			while (cap < need)
				cap *= 2;
			if (cap > rq->body_cap)
				cap = rq->body_cap;
			if ((nb = realloc(rq->body, cap)) == NULL)
				return MHD_NO;
			rq->body = nb;
			rq->body_alloc = cap;
		}
		memcpy(rq->body + rq->body_len, data, n);
		rq->body_len += n;
	}
	return MHD_YES;
}

/* The headers every proxied answer carries unless the upstream set them
 * itself: gw_respond_headers' set without Cache-Control, which is the
 * upstream's to decide. */
static void
proxied_headers(const struct gw_server *s, const struct gw_req *rq,
    const char *out[13])
{
	size_t n = 0;

	out[n++] = "X-Request-Id";
	out[n++] = rq->id;
	out[n++] = "X-Content-Type-Options";
	out[n++] = "nosniff";
	out[n++] = "Referrer-Policy";
	out[n++] = "same-origin";
	out[n++] = "Content-Security-Policy";
	out[n++] = "frame-ancestors 'none'";
	out[n++] = "X-Frame-Options";
	out[n++] = "DENY";
	if (s->https) {
		out[n++] = "Strict-Transport-Security";
		out[n++] = "max-age=31536000";
	}
	out[n] = NULL;
}

static enum MHD_Result
forward(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq)
{
	struct gw_idhdrs hb;
	const char *extra[13];
	enum MHD_Result ret;
	char *pq;
	size_t n;
	int r;

	memset(&hb, 0, sizeof(hb));
	if (rq->pass_id && (r = gw_idhdrs_make(s, &rq->who, rq->id, &hb)) != 0)
		return err(s, c, rq, r, 0, NULL, NULL);
	n = strlen(rq->path) + (rq->query != NULL ? strlen(rq->query) : 0) + 2;
	if ((pq = malloc(n)) == NULL) {
		gw_idhdrs_free(&hb);
		return MHD_NO;
	}
	snprintf(pq, n, "%s%s%s", rq->path, rq->query != NULL ? "?" : "",
	    rq->query != NULL ? rq->query : "");
	proxied_headers(s, rq, extra);
	ret = gw_proxy_forward(s->proxy, c, rq->method, pq, rq->body,
	    rq->body_len, rq->pass_id ? hb.v : NULL, rq->ip, s->https, extra,
	    &rq->xfer);
	free(rq->body); /* copied */
	rq->body = NULL;
	free(pq);
	gw_idhdrs_free(&hb);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct gw_server *s = cls;
	struct gw_req *rq = *con_cls;
	enum MHD_Result ret;

	(void)url;
	(void)version;
	if (rq == NULL) {
		/* No URI callback state: refuse rather than guess the path. */
		if ((rq = req_new(NULL)) == NULL)
			return MHD_NO;
		*con_cls = rq;
	}
	if (!rq->started) {
		rq->started = 1;
		return first(s, c, method, rq);
	}
	/* Resumed: the exchange or the wait goes on. */
	if (rq->xfer != NULL)
		return gw_proxy_continue(&rq->xfer, c);
	if (rq->wait != NULL)
		return rq->held_reset != NULL ? gw_reset_continue(s, c, rq)
		                              : gw_scan_continue(s, c, rq);
	if (rq->pwjob != NULL)
		return gw_auth_password_continue(s, c, rq);
	if (rq->status != 0) {
		/* Answered at the first call: drop any body. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		ret = take_body(rq, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return ret;
	}
	if (rq->too_big)
		return err(s, c, rq, UK_ERR_BODY_TOO_LARGE, 413, NULL, NULL);
	if (rq->stray_body)
		return err(s, c, rq, UK_ERR_INPUT, 400, NULL, NULL);
	if (rq->kind == GW_ROUTE_AUTH || rq->kind == GW_ROUTE_SCAN ||
	    rq->kind == GW_ROUTE_CONSOLE) {
		ret = rq->kind == GW_ROUTE_AUTH ? gw_auth_handle(s, c, rq)
		    : rq->kind == GW_ROUTE_SCAN ? gw_scan_handle(s, c, rq)
		                                : gw_console_handle(s, c, rq);
		secret_free(rq->sbody);
		rq->sbody = NULL;
		return ret;
	}
	return forward(s, c, rq);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gw_req *rq = *con_cls;
	const union MHD_ConnectionInfo *ci;
	struct timespec now;
	unsigned int status;
	long ms;

	if (rq == NULL)
		return;
	if (rq->xfer != NULL) {
		gw_proxy_abandon(rq->xfer);
		rq->xfer = NULL;
	}
	if (rq->wait != NULL) {
		gw_waiter_free(((struct gw_server *)cls)->waiters, rq->wait);
		rq->wait = NULL;
	}
	if (rq->pwjob != NULL) {
		gw_pwjob_release(rq->pwjob);
		rq->pwjob = NULL;
	}
	free(rq->held_reset);
	rq->held_reset = NULL;
	status = rq->status;
	if (status == 0 &&
	    (ci = MHD_get_connection_info(c,
	         MHD_CONNECTION_INFO_HTTP_STATUS)) != NULL)
		status = ci->http_status;
	if (rq->kind == GW_ROUTE_PROXY && rq->status == 0 &&
	    (status == 502 || status == 504))
		gw_metrics_proxy_error();
	gw_metrics_request(status);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - rq->start.tv_sec) * 1000 +
	    (now.tv_nsec - rq->start.tv_nsec) / 1000000;
	uk_log(UK_LOG_INFO,
	    "request rid=%s ip=%s method=%s path=%.200s status=%u ms=%ld "
	    "principal=%s%s",
	    rq->id, rq->ip[0] != '\0' ? rq->ip : "-",
	    rq->method != NULL ? rq->method : "-",
	    rq->path[0] != '\0' ? rq->path : "-", status, ms, rq->principal,
	    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
	req_free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	uk_log(UK_LOG_WARN, "libmicrohttpd: %s", msg);
}

/* --- life cycle --- */

int
gw_server_new(const struct config *cfg, const struct gw_server_opts *o,
    struct gw_server **out)
{
	struct gw_server *s = NULL;
	struct gw_authcert_conf ac;
	struct gw_proxy_conf pc;
	const char *v, *issuer;
	char err[512];
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->cfg = cfg;
	if ((s->store_loc = strdup(config_str(cfg, "gateway", "store"))) ==
	        NULL ||
	    (s->origin = strdup(config_str(cfg, "gateway", "public_origin"))) ==
	        NULL)
		goto out;
	s->https = strncmp(s->origin, "https://", 8) == 0;
	s->tls = config_str(cfg, "gateway", "tls_cert") != NULL;
	s->max_body = (size_t)config_int(cfg, "gateway", "max_body");
	v = config_str(cfg, "gateway", "metrics");
	s->metrics = strcmp(v, "off") == 0 ? GW_METRICS_OFF
	    : strcmp(v, "public") == 0     ? GW_METRICS_PUBLIC
	                                   : GW_METRICS_LOCAL;
	s->detailed_pw = strcmp(config_str(cfg, "auth", "password_messages"),
	                     "detailed") == 0;
	s->challenge_ttl = (int)config_int(cfg, "auth", "challenge_ttl");
	s->clock_offset = o != NULL && o->test_clock ? o->clock_offset : 0;
	s->sess.idle = (int)config_int(cfg, "session", "idle");
	s->sess.absolute = (int)config_int(cfg, "session", "absolute");
	s->pw.tz = config_str(cfg, "gateway", "tz");
	s->pw.ip_limit = (int)config_int(cfg, "auth", "ip_limit");
	s->pw.ip_window = (int)config_int(cfg, "auth", "ip_window");
	gw_pwhash_defaults(&s->pw.hash);
	snprintf(s->listen_addr, sizeof(s->listen_addr), "%s",
	    config_str(cfg, "gateway", "listen"));
	s->threads = (unsigned int)config_int(cfg, "gateway", "threads");
	if (s->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		s->threads = n > 0 ? (unsigned int)n * 2 : 4;
		if (s->threads < 4)
			s->threads = 4;
	}
	s->port = (unsigned int)config_int(cfg, "gateway", "port");
	if ((r = gw_conf_list(cfg, "gateway", "trusted_proxies",
	         &s->trusted)) != 0 ||
	    (r = gw_conf_list(cfg, "auth", "anchors", &s->anchors)) != 0 ||
	    (r = gw_conf_list(cfg, "auth", "crls", &s->crls)) != 0)
		goto out;
	/* The store, migrated. */
	if ((r = store_open(s->store_loc, &s->main_st)) != 0) {
		uk_log_err(r, "store: %s", store_last_error(NULL));
		goto out;
	}
	/* The routes. */
	err[0] = '\0';
	if ((r = gw_policy_load(config_str(cfg, "proxy", "routes"), &s->policy,
	         err, sizeof(err))) != 0) {
		uk_log_err(r, "%s", err);
		goto out;
	}
	/* The UKey verifier. */
	memset(&ac, 0, sizeof(ac));
	ac.origin = s->origin;
	ac.anchors = (const char *const *)s->anchors;
	ac.crls = (const char *const *)s->crls;
	ac.ocsp_url = config_str(cfg, "auth", "ocsp_url");
	ac.challenge_ttl = s->challenge_ttl;
	if ((r = gw_authcert_new(s->main_st, &ac, &s->authcert)) != 0) {
		uk_log_err(r, "UKey login verifier");
		goto out;
	}
	/* The assertion key. */
	issuer = config_str(cfg, "assertion", "issuer");
	if ((r = gw_jwt_open(s->main_st, config_str(cfg, "assertion", "key"),
	         issuer != NULL ? issuer : s->origin,
	         config_str(cfg, "assertion", "audience"),
	         (int)config_int(cfg, "assertion", "ttl"), &s->jwt)) != 0) {
		uk_log_err(r, "assertion key %s",
		    config_str(cfg, "assertion", "key"));
		goto out;
	}
	/* The proxy, when there is an upstream. */
	if ((v = config_str(cfg, "proxy", "upstream")) != NULL) {
		memset(&pc, 0, sizeof(pc));
		pc.upstream = v;
		pc.connect_timeout_ms =
		    (long)config_int(cfg, "proxy", "connect_timeout_ms");
		pc.timeout_ms = (long)config_int(cfg, "proxy", "timeout_ms");
		pc.max_body = s->max_body;
		pc.max_idle = 256;
		pc.loops = s->threads > 2 ? (int)(s->threads / 2) : 1;
		if ((r = gw_proxy_new(&pc, &s->proxy)) != 0) {
			uk_log_err(r, "proxy to %s", v);
			goto out;
		}
	} else
		uk_log(UK_LOG_WARN,
		    "[proxy] upstream not set: every proxied route answers "
		    "502");
	/* Password attempts (Argon2) on workers, not on the pool. */
	if ((r = gw_pwjobs_new(s->store_loc, &s->pw, 0, &s->pwjobs)) != 0) {
		uk_log_err(r, "password workers");
		goto out;
	}
	/* The counter console's CA. */
	if ((r = gw_counter_new(cfg, &s->counter)) != 0)
		goto out;
	/* Scan login and its held waits. */
	if ((r = gw_scan_routes_new(cfg, &s->scan)) != 0)
		goto out;
	if ((r = gw_waiters_new(s->store_loc, s->clock_offset,
	         (size_t)config_int(cfg, "scan", "max_waiting"), 50,
	         s->scan != NULL ? 60 : 0, &s->waiters)) != 0) {
		uk_log_err(r, "scan waits");
		goto out;
	}
	if (pthread_mutex_init(&s->pool_mu, NULL) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	s->mu_made = 1;
	if (pthread_key_create(&s->store_key, store_destroy) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	s->key_made = 1;
	*out = s;
	s = NULL; /* transferred */
	r = 0;
out:
	gw_server_free(s);
	return r;
}

/* Raises the soft limit of open files to the hard one and returns the
 * connections that fit: GW_CONN_LIMIT at most, GW_FD_RESERVE kept back. */
static unsigned int
conn_limit(void)
{
	struct rlimit rl;
	rlim_t was, fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur > (rlim_t)GW_CONN_LIMIT + GW_FD_RESERVE)
			rl.rlim_cur = (rlim_t)GW_CONN_LIMIT + GW_FD_RESERVE;
		if (rl.rlim_cur < was || setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	fit = rl.rlim_cur > (rlim_t)GW_FD_RESERVE * 2
	    ? rl.rlim_cur - GW_FD_RESERVE
	    : rl.rlim_cur / 2;
	if (fit > GW_CONN_LIMIT)
		fit = GW_CONN_LIMIT;
	uk_log(fit < GW_CONN_LIMIT ? UK_LOG_WARN : UK_LOG_INFO,
	    "open files: %llu (was %llu, hard limit %llu): at most %llu "
	    "connections",
	    (unsigned long long)rl.rlim_cur, (unsigned long long)was,
	    (unsigned long long)rl.rlim_max, (unsigned long long)fit);
	return (unsigned int)fit;
}

int
gw_server_start(struct gw_server *s)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sockaddr *sa;
	unsigned char *cert = NULL, *key = NULL;
	size_t clen, klen;
	/* A pool of threads on epoll. Nothing parks a thread on a slow
	 * party: a proxied exchange runs on the proxy's threads and a held
	 * scan wait in the waiters' set, their connections suspended. */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned int limit;
	int r = UK_ERR_IO;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, s->listen_addr, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)s->port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, s->listen_addr, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)s->port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		uk_log_err(UK_ERR_CONFIG_VALUE,
		    "[gateway] listen: %s is not an IP address",
		    s->listen_addr);
		return UK_ERR_CONFIG_VALUE;
	}
	limit = conn_limit();
	s->conn_limit = limit;
	if (s->tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			uk_log_err(UK_ERR_CONFIG_VALUE,
			    "this libmicrohttpd has no TLS");
			return UK_ERR_CONFIG_VALUE;
		}
		if (file_read_all(config_str(s->cfg, "gateway", "tls_cert"),
		        1024 * 1024, &cert, &clen) != 0 ||
		    file_read_all(config_str(s->cfg, "gateway", "tls_key"),
		        1024 * 1024, &key, &klen) != 0) {
			uk_log_err(UK_ERR_IO, "cannot read tls_cert/tls_key");
			goto out;
		}
		flags |= MHD_USE_TLS;
	}
	if (s->tls)
		s->daemon = MHD_start_daemon(flags, (uint16_t)s->port, NULL,
		    NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		    MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
		    s->threads, MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
		    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, s,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
		    MHD_OPTION_CONNECTION_LIMIT, limit,
		    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		    MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert,
		    MHD_OPTION_HTTPS_MEM_KEY, (const char *)key,
		    MHD_OPTION_END);
	else
		s->daemon = MHD_start_daemon(flags, (uint16_t)s->port, NULL,
		    NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		    MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
		    s->threads, MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
		    MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, s,
		    MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
		    MHD_OPTION_CONNECTION_LIMIT, limit,
		    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		    MHD_OPTION_END);
	if (s->daemon == NULL) {
		uk_log_err(UK_ERR_IO, "cannot listen on %s port %u",
		    s->listen_addr, s->port);
		goto out;
	}
	uk_log(UK_LOG_INFO,
	    "listening on %s port %u (%u threads on epoll, at most %u "
	    "connections%s)",
	    s->listen_addr, s->port, s->threads, limit, s->tls ? ", TLS" : "");
	r = 0;
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, klen);
		free(key);
	}
	free(cert);
	return r;
}

void
gw_server_free(struct gw_server *s)
{
	if (s == NULL)
		return;
	/* No suspended connection may meet MHD_stop_daemon: new ones are
	 * refused, held waits and exchanges are ended and resumed. */
	if (s->daemon != NULL)
		(void)MHD_quiesce_daemon(s->daemon);
	gw_waiters_stop(s->waiters);
	gw_proxy_stop(s->proxy);
	gw_pwjobs_stop(s->pwjobs);
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	gw_pwjobs_free(s->pwjobs);
	gw_waiters_free(s->waiters);
	gw_scan_routes_free(s->scan);
	gw_counter_free(s->counter);
	gw_proxy_free(s->proxy);
	gw_jwt_free(s->jwt);
	gw_authcert_free(s->authcert);
	gw_policy_free(s->policy);
	store_close(s->main_st);
	if (s->key_made) {
		/* The calling thread's own store, if it took one. */
		struct thread_store *ts = pthread_getspecific(s->store_key);

		if (ts != NULL) {
			(void)pthread_setspecific(s->store_key, NULL);
			store_destroy(ts);
		}
		pthread_key_delete(s->store_key);
	}
	while (s->npool > 0)
		store_close(s->pool[--s->npool]);
	if (s->mu_made)
		pthread_mutex_destroy(&s->pool_mu);
	gw_conf_list_free(s->trusted);
	gw_conf_list_free(s->anchors);
	gw_conf_list_free(s->crls);
	free(s->store_loc);
	free(s->origin);
	free(s);
}
