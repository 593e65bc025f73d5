/* agent/api.h: the agent's endpoints: routes, JSON answers, calls to the token worker, diagnostics. */
#ifndef UK_AGENT_API_H
#define UK_AGENT_API_H

#include <stddef.h>

#include <jansson.h>

#include "agent/evq.h"
#include "agent/worker.h"
#include "common/config.h"

/*
 * The HTTP layer (agent/http.c) has checked Host, Origin, method,
 * Content-Type and size before anything here runs; this part parses the
 * body strictly, claims the worker (one token operation at a time: 409
 * UK-2011 otherwise), asks it, and turns its answer into the response.
 *
 *   GET  /v1/status        agent and token state (never busy: the last
 *                          known tokens while an operation runs)
 *   GET  /v1/certificates  tokens and certificates
 *   POST /v1/authenticate  {"nonce", "certificate"?, "pin"?}
 *   GET  /v1/events        Server-Sent Events (agent/http.c)
 *   GET  /v1/diagnostics   ukey-agent doctor --json, run as a child
 *   counter_mode only:
 *   POST /v1/enroll, /v1/certificate, /v1/unlock, /v1/change-pin
 */

enum ag_route_kind {
	AG_ROUTE_GET = 1, /* JSON answer, no body */
	AG_ROUTE_POST,    /* JSON body, JSON answer */
	AG_ROUTE_EVENTS,  /* Server-Sent Events */
};

/* What the API needs; everything must outlive the API object. */
struct ag_api_opts {
	const struct config *cfg;
	struct ag_worker *worker;
	struct ag_evq *evq;
	const char *exe;         /* ukey-agent itself, for diagnostics */
	const char *config_path; /* NULL: built-in defaults */
};

/* An answer: HTTP status and a malloc'd JSON body (never NULL after
 * ag_api_handle; the caller frees). */
struct ag_api_resp {
	unsigned int status;
	char *body;
};

struct ag_api;

/* A new API over o (copied). *out belongs to the caller (ag_api_free).
 * Returns 0 or UK_ERR_NOMEM. */
int ag_api_new(const struct ag_api_opts *o, struct ag_api **out);

/* Frees api; NULL is a no-op. */
void ag_api_free(struct ag_api *api);

/* Finds the route for method and path. Returns 0 with *kind set, 404
 * (no such path, or a counter route while counter_mode is off) or 405
 * (*allow then names the method the path takes). */
int ag_api_route(const struct ag_api *api, const char *method, const char *path,
    enum ag_route_kind *kind, const char **allow);

/* Handles a GET or POST route: origin is the (already allowed) Origin
 * header, en whether English is wanted, body/len the request body (POST;
 * it may hold a PIN: the caller wipes its buffer). Fills *resp. */
void ag_api_handle(struct ag_api *api, const char *method, const char *path,
    const char *origin, int en, const char *body, size_t len,
    struct ag_api_resp *resp);

/* Fills *resp with the error answer for code (status from the
 * catalogue), logging it with a fresh event id. pin may be NULL. */
void
ag_api_error(int code, int en, const json_t *pin, struct ag_api_resp *resp);

#endif
