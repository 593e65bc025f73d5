/* agent/http.c: the agent's HTTP front on 127.0.0.1 and ::1: Host and Origin checks, CORS, body limits, Server-Sent Events. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "agent/errinfo.h"
#include "agent/http.h"
#include "agent/request.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"

/* Seconds between keep-alive comments on an event stream. */
#define SSE_KEEPALIVE_MS 15000

struct ag_http {
	struct MHD_Daemon *v4;
	struct MHD_Daemon *v6;
	unsigned int port;
	struct ag_list origins;
	struct ag_api *api;
	struct ag_evq *evq;
};

/* One request's state, from its first call to its completion. */
struct req {
	struct timespec start;
	enum ag_route_kind kind;
	char origin[AG_ORIGIN_MAX + 1];
	int en;
	int too_big;
	int stray_body; /* a body where none belongs */
	size_t dropped; /* bytes of an over-long body thrown away */
	unsigned int status;
	struct secret *body; /* POST body, AG_BODY_MAX, wiped when freed */
};

/* One event stream. */
struct sse {
	struct ag_evq *q;
	uint64_t seq;
	char *buf;
	size_t len, off;
	int started;
};

int
ag_http_host_ok(const char *host, unsigned int port)
{
	char want[32];
	const char *names[] = { "127.0.0.1", "localhost", "[::1]" };
	size_t i;

	if (host == NULL)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "%s:%u", names[i], port);
		if (strcasecmp(host, want) == 0)
			return 1;
	}
	return 0;
}

/* Counts headers named as cls says. */
struct hcount {
	const char *name;
	int n;
};

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hcount *hc = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, hc->name) == 0)
		hc->n++;
	return MHD_YES;
}

/* The one value of header name, or NULL when absent or repeated. */
static const char *
header_once(struct MHD_Connection *c, const char *name, int *repeated)
{
	struct hcount hc = { name, 0 };

	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &hc);
	*repeated = hc.n > 1;
	if (hc.n != 1)
		return NULL;
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void
common_headers(struct MHD_Response *r, const char *origin, const char *ctype)
{
	if (ctype != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
	if (origin != NULL) {
		MHD_add_response_header(r,
		    MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
	}
}

/* Queues a JSON answer (body is taken: freed here). origin NULL: no CORS
 * headers. */
static enum MHD_Result
answer(struct MHD_Connection *c, struct req *rq, unsigned int status,
    char *body, const char *origin, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = body != NULL ? strlen(body) : 0;

	r = MHD_create_response_from_buffer(len,
	    body != NULL ? body : (void *)"", MHD_RESPMEM_MUST_COPY);
	free(body);
	if (r == NULL)
		return MHD_NO;
	common_headers(r, origin, "application/json; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	if (rq != NULL)
		rq->status = status;
	return ret;
}

/* Queues the error answer for code, with the given status (0: the
 * catalogue's). */
static enum MHD_Result
answer_error(struct MHD_Connection *c, struct req *rq, int code,
    unsigned int status, const char *origin, const char *allow)
{
	struct ag_api_resp resp;

	ag_api_error(code, rq != NULL ? rq->en : 0, NULL, &resp);
	return answer(c, rq, status != 0 ? status : resp.status, resp.body,
	    origin, allow);
}

static enum MHD_Result
preflight(struct MHD_Connection *c, struct req *rq, const char *origin)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *pna;

	if ((r = MHD_create_response_from_buffer(0, (void *)"",
	         MHD_RESPMEM_PERSISTENT)) == NULL)
		return MHD_NO;
	common_headers(r, origin, NULL);
	MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST");
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
	    "Content-Type");
	MHD_add_response_header(r, "Access-Control-Max-Age", "600");
	pna = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Access-Control-Request-Private-Network");
	if (pna != NULL && strcasecmp(pna, "true") == 0)
		MHD_add_response_header(r,
		    "Access-Control-Allow-Private-Network", "true");
	ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
	MHD_destroy_response(r);
	rq->status = MHD_HTTP_NO_CONTENT;
	return ret;
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

/* --- Server-Sent Events --- */

static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	char *type = NULL, *json = NULL;
	size_t n;
	int r, w;

	(void)pos;
	while (s->off >= s->len) {
		free(s->buf);
		s->buf = NULL;
		s->len = s->off = 0;
		if (!s->started) {
			s->started = 1;
			if ((s->buf =
			            strdup("retry: 3000\n: ukey-agent events\n"
			                   "\n")) == NULL)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->len = strlen(s->buf);
			break;
		}
		r = ag_evq_wait(s->q, &s->seq, SSE_KEEPALIVE_MS, &type, &json);
		if (r == UK_ERR_CANCELLED)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (r == UK_ERR_TIMEOUT) {
			if ((s->buf = strdup(": keep-alive\n\n")) == NULL)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->len = strlen(s->buf);
			break;
		}
		if (r != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = strlen(type) + strlen(json) + 32;
		if ((s->buf = malloc(n)) != NULL) {
			w = snprintf(s->buf, n, "event: %s\ndata: %s\n\n", type,
			    json);
			s->len = w > 0 ? (size_t)w : 0;
		}
		free(type);
		free(json);
		if (s->buf == NULL)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = s->len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void
sse_free(void *cls)
{
	struct sse *s = cls;

	if (s == NULL)
		return;
	free(s->buf);
	free(s);
}

static enum MHD_Result
events(struct ag_http *h, struct MHD_Connection *c, struct req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct sse *s;

	if (h->evq == NULL)
		return answer_error(c, rq, UK_ERR_NOT_FOUND, 404, rq->origin,
		    NULL);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MHD_NO;
	s->q = h->evq;
	s->seq = ag_evq_next(h->evq);
	if ((r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
	         sse_read, s, sse_free)) == NULL) {
		sse_free(s);
		return MHD_NO;
	}
	common_headers(r, rq->origin, "text/event-stream; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	rq->status = MHD_HTTP_OK;
	return ret;
}

/* --- requests --- */

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	struct timespec now;
	long ms;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - rq->start.tv_sec) * 1000 +
	    (now.tv_nsec - rq->start.tv_nsec) / 1000000;
	uk_log(UK_LOG_INFO, "request status=%u ms=%ld origin=%s", rq->status,
	    ms, rq->origin[0] != '\0' ? rq->origin : "-");
	secret_free(rq->body);
	free(rq);
	*con_cls = NULL;
}

/* The first call for a request: every check that needs no body. */
static enum MHD_Result
first(struct ag_http *h, struct MHD_Connection *c, const char *url,
    const char *method, struct req *rq)
{
	const char *host, *origin, *allow, *ct, *cl, *al;
	unsigned long long n;
	char *end;
	int rep, st;

	al = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
	rq->en = ag_lang_en(al);
	/* 1. Host, against DNS rebinding. */
	host = header_once(c, MHD_HTTP_HEADER_HOST, &rep);
	if (!ag_http_host_ok(host, h->port)) {
		uk_log(UK_LOG_WARN, "refused: Host %s is not the agent's",
		    host != NULL ? "header" : "missing or repeated");
		return answer_error(c, rq, UK_ERR_POLICY_DENIED, 403, NULL,
		    NULL);
	}
	/* 2. Origin, before anything else happens. */
	origin = header_once(c, MHD_HTTP_HEADER_ORIGIN, &rep);
	if (origin == NULL || !ag_origin_allowed(&h->origins, origin)) {
		uk_log(UK_LOG_WARN, "refused: Origin %.100s%s",
		    origin == NULL ? "missing or repeated" : origin,
		    origin == NULL ? "" : " is not allowed");
		return answer_error(c, rq, UK_ERR_POLICY_DENIED, 403, NULL,
		    NULL);
	}
	snprintf(rq->origin, sizeof(rq->origin), "%s", origin);
	/* 3. CORS preflight. */
	if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0)
		return preflight(c, rq, rq->origin);
	/* 4. Route. */
	if ((st = ag_api_route(h->api, method, url, &rq->kind, &allow)) != 0)
		return answer_error(c, rq,
		    st == 405 ? UK_ERR_USAGE : UK_ERR_NOT_FOUND,
		    (unsigned int)st, rq->origin, allow);
	if (rq->kind != AG_ROUTE_POST)
		return MHD_YES;
	/* 5. JSON, and not too much of it. */
	ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!json_content_type(ct))
		return answer_error(c, rq, UK_ERR_INPUT,
		    MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, rq->origin, NULL);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		n = strtoull(cl, &end, 10);
		if (end == cl || *end != '\0' || n > AG_BODY_MAX)
			return answer_error(c, rq, UK_ERR_LIMIT,
			    MHD_HTTP_CONTENT_TOO_LARGE, rq->origin, NULL);
	}
	if ((rq->body = secret_new(AG_BODY_MAX)) == NULL)
		return MHD_NO;
	return MHD_YES;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct ag_http *h = cls;
	struct req *rq = *con_cls;
	struct ag_api_resp resp;
	enum MHD_Result ret;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rq->start);
		*con_cls = rq;
		return first(h, c, url, method, rq);
	}
	if (rq->status != 0) {
		/* Answered at the first call: drop any body. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->kind != AG_ROUTE_POST && *upload_data_size > 0) {
		/* A GET with a body: read it away, then refuse. */
		rq->stray_body = 1;
		rq->dropped += *upload_data_size;
		*upload_data_size = 0;
		return rq->dropped > 16 * AG_BODY_MAX ? MHD_NO : MHD_YES;
	}
	if (rq->kind == AG_ROUTE_POST && *upload_data_size > 0) {
		size_t n = *upload_data_size;
		if (rq->too_big || n > rq->body->cap - rq->body->len) {
			/* Read to the end to answer 413, up to a point. */
			rq->too_big = 1;
			rq->dropped += n;
			if (rq->dropped > 16 * AG_BODY_MAX)
				return MHD_NO;
		} else {
			memcpy(rq->body->buf + rq->body->len, upload_data, n);
			rq->body->len += n;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->stray_body)
		return answer_error(c, rq, UK_ERR_INPUT, 0, rq->origin, NULL);
	if (rq->kind == AG_ROUTE_EVENTS)
		return events(h, c, rq);
	if (rq->too_big)
		return answer_error(c, rq, UK_ERR_LIMIT,
		    MHD_HTTP_CONTENT_TOO_LARGE, rq->origin, NULL);
	ag_api_handle(h->api, method, url, rq->origin, rq->en,
	    rq->body != NULL ? (const char *)rq->body->buf : NULL,
	    rq->body != NULL ? rq->body->len : 0, &resp);
	/* The body may have held a PIN. */
	if (rq->body != NULL) {
		secret_free(rq->body);
		rq->body = NULL;
	}
	ret = answer(c, rq, resp.status, resp.body, rq->origin, NULL);
	return ret;
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

static struct MHD_Daemon *
daemon_start(struct ag_http *h, int v6)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	a4.sin_family = AF_INET;
	a4.sin_port = htons((uint16_t)h->port);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_family = AF_INET6;
	a6.sin6_port = htons((uint16_t)h->port);
	a6.sin6_addr = in6addr_loopback;
	if (v6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, (uint16_t)h->port, NULL, NULL, handler,
	    h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
}

int
ag_http_start(unsigned int port, const struct ag_list *origins,
    struct ag_api *api, struct ag_evq *evq, struct ag_http **out)
{
	struct ag_http *h = NULL;
	size_t i;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto out;
	h->port = port;
	h->api = api;
	h->evq = evq;
	if ((h->origins.v = calloc(origins->n + 1, sizeof(char *))) == NULL)
		goto out;
	for (i = 0; i < origins->n; i++) {
		if ((h->origins.v[i] = strdup(origins->v[i])) == NULL)
			goto out;
		h->origins.n++;
	}
	r = UK_ERR_IO;
	if ((h->v4 = daemon_start(h, 0)) == NULL) {
		uk_log_err(r, "cannot listen on 127.0.0.1:%u", port);
		goto out;
	}
	if ((h->v6 = daemon_start(h, 1)) == NULL)
		uk_log(UK_LOG_WARN,
		    "cannot listen on [::1]:%u; serving on "
		    "127.0.0.1 only",
		    port);
	uk_log(UK_LOG_INFO, "listening on 127.0.0.1:%u%s", port,
	    h->v6 != NULL ? " and [::1]" : "");
	*out = h;
	h = NULL; /* transferred */
	r = 0;
out:
	ag_http_stop(h);
	return r;
}

void
ag_http_stop(struct ag_http *h)
{
	if (h == NULL)
		return;
	if (h->v6 != NULL)
		MHD_stop_daemon(h->v6);
	if (h->v4 != NULL)
		MHD_stop_daemon(h->v4);
	ag_list_free(&h->origins);
	free(h);
}
