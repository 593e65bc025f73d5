/* gateway/console.h: the staff consoles' JSON API (/counter/api/..., /helpdesk/api/...): the staff session, role and CSRF checks every call shares, then the counter or helpdesk handler. */
#ifndef UK_GW_CONSOLE_H
#define UK_GW_CONSOLE_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gateway/model.h"
#include "gateway/server.h"
#include "gateway/session.h"

/* Largest body of a console call (a CSR in PEM fits many times). */
#define GW_CONSOLE_BODY_MAX (64 * 1024)

#define GW_COUNTER_API "/counter/api/"
#define GW_HELPDESK_API "/helpdesk/api/"

/*
 * What a console handler is given, after gateway/console.c has checked:
 * a staff session (UK-4401 none, UK-4402/4403 expired or revoked; an
 * operator's session: UK-5008), a role the console allows (counter:
 * "counter" or "admin"; helpdesk: "helpdesk" or "admin"; else UK-5006),
 * the CSRF token on every method but GET and HEAD (UK-4404), and for POST
 * a JSON object body of at most GW_CONSOLE_BODY_MAX bytes (UK-1504 /
 * UK-1505 otherwise). Refusals after a session was found are audited
 * ("console.refused").
 */
struct gw_console {
	struct gw_server *s;
	struct MHD_Connection *c;
	struct gw_req *rq;
	struct store *st;     /* the thread's store */
	struct gw_session se; /* the staff member's session */
	const char *sub;      /* the path after /counter/api/ or
	                         /helpdesk/api/, e.g. "units" */
	json_t *body; /* POST: the parsed object (borrowed); else NULL */
	char who[GW_LOGIN_MAX + 8]; /* "staff:<login>" */
	struct gw_actor actor;      /* who, ip, user agent; form NULL: a handler
	                          sets it from the body ("form") */
	int64_t now;
};

/* 1 when path belongs to the consoles' API. */
int gw_console_owns(const char *path);

/* Checks the method and the content type at the first call. Returns 0,
 * UK_ERR_NO_ROUTE (unknown console) or UK_ERR_METHOD (only GET, HEAD and
 * POST). *json_body says whether a JSON body is expected. */
int gw_console_route(const char *path, const char *method, int *json_body);

/* Answers a console call once its body is in (rq->sbody for POST). */
enum MHD_Result gw_console_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq);

/* The value of query parameter name, percent-decoded once ('+' is a
 * space), into out (size bytes); 0, or UK_ERR_NOT_FOUND when absent,
 * UK_ERR_INPUT when malformed, too long, holding a control character (NUL
 * included) or not well-formed UTF-8. */
int gw_console_param(const struct gw_console *k, const char *name, char *out,
    size_t size);

/* Answers {"error":…} for code (audited as event when event is set, with
 * subject). */
enum MHD_Result gw_console_error(struct gw_console *k, int code,
    const char *event, const char *subject);

/* Answers 200 with body (taken). */
enum MHD_Result gw_console_ok(struct gw_console *k, json_t *body);

/* The handlers: each answers every path under its prefix (unknown ones
 * with UK-1507 through gw_console_error). */
enum MHD_Result gw_counter_api(struct gw_console *k);
enum MHD_Result gw_helpdesk_api(struct gw_console *k);

#endif
