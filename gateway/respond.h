/* gateway/respond.h: the gateway's own answers: JSON and HTML error answers from the catalogue (with their audit rows), JSON and text answers, security headers. */
#ifndef UK_GW_RESPOND_H
#define UK_GW_RESPOND_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gateway/server.h"

/* How to answer an error. Only code is required. */
struct gw_errans {
	int code;            /* enum uk_err */
	unsigned int status; /* 0: the catalogue's */
	const char *event;   /* audit event ("login.cert", "policy.refused");
	                        NULL: no audit row, no event id */
	const char *subject; /* audit subject, or NULL */
	const char *detail;  /* audit detail (JSON text or one line), or NULL */
	const char *msg_zh;  /* instead of the catalogue's text, or NULL */
	const char *msg_en;
	json_t *extra;           /* members added to "error" (taken), or NULL */
	const char *const *hdrs; /* name, value pairs, NULL-ended, or NULL */
};

/*
 * Queues the answer for an error: when e->event is set, first an audit row
 * (event, actor rq->principal, subject, detail, the request's IP and user
 * agent, result the code's id) whose event id becomes the answer's
 * "event"; then, for a browser navigation (rq->html) outside /auth/, an
 * HTML page, else {"error":{"code":"UK-4103","message":…,"event":…,
 * "remedy":…}} in the request's language (rq->en). Takes e->extra. Returns
 * what MHD_queue_response returned.
 */
enum MHD_Result gw_respond_error(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, const struct gw_errans *e);

/* The same with only a code (and no audit row). */
enum MHD_Result gw_respond_code(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, int code);

/* Queues body (taken: json_decref'd here) as JSON with status and the
 * extra headers hdrs (name, value pairs, NULL-ended, may be NULL). */
enum MHD_Result gw_respond_json(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, unsigned int status, json_t *body,
    const char *const *hdrs);

/* Queues len bytes of body (copied) with content type ctype. */
enum MHD_Result gw_respond_bytes(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, unsigned int status, const char *ctype, const void *body,
    size_t len, const char *const *hdrs);

/* Adds the headers every answer of the gateway carries: X-Request-Id,
 * X-Content-Type-Options, Referrer-Policy, Content-Security-Policy
 * frame-ancestors 'none', X-Frame-Options, Cache-Control: no-store, and
 * Strict-Transport-Security when the public origin is https. */
void gw_respond_headers(struct gw_server *s, struct gw_req *rq,
    struct MHD_Response *r);

/* The language of an Accept-Language value: 1 when its first tag is
 * English, 0 (Chinese) otherwise. */
int gw_lang_en(const char *accept_language);

/* 1 when an Accept value asks for text/html (a browser navigation). */
int gw_accepts_html(const char *accept);

/* Copies s into out with &, <, >, " and ' escaped for HTML. */
void gw_html_escape(const char *s, char *out, size_t size);

#endif
