/* agent/http.h: the agent's HTTP front on 127.0.0.1 and ::1: Host and Origin checks, CORS, body limits, Server-Sent Events. */
#ifndef UK_AGENT_HTTP_H
#define UK_AGENT_HTTP_H

#include "agent/api.h"
#include "agent/conf.h"
#include "agent/evq.h"

/*
 * Every request is checked in this order, and the first failure answers:
 *   1. Host is 127.0.0.1:PORT, localhost:PORT or [::1]:PORT (DNS
 *      rebinding): else 403 UK-5001, no CORS headers;
 *   2. Origin is on allowed_origins: else 403 UK-5001 with no CORS
 *      headers, before anything touches a token;
 *   3. OPTIONS is a CORS preflight: 204 with Access-Control-Allow-*
 *      (and Access-Control-Allow-Private-Network: true when asked);
 *   4. the path and method exist (404, 405);
 *   5. a POST says Content-Type: application/json (415) and its body is
 *      at most AG_BODY_MAX bytes (413, as soon as Content-Length says so,
 *      else when the body overflows);
 *   6. then agent/api.c.
 * Answers to allowed origins carry Access-Control-Allow-Origin: <origin>
 * and Vary: Origin; every answer is JSON (or text/event-stream), with
 * Cache-Control: no-store and X-Content-Type-Options: nosniff. Request
 * bodies are kept in locked memory and wiped.
 */

struct ag_http;

/* Starts the daemons on 127.0.0.1:port and [::1]:port (the IPv6 one may
 * fail: a warning is logged and the agent runs on IPv4 alone). origins is
 * copied. evq feeds /v1/events; api answers the rest. *out belongs to the
 * caller (ag_http_stop). Returns 0, UK_ERR_IO (cannot listen on
 * 127.0.0.1:port), UK_ERR_NOMEM. */
int ag_http_start(unsigned int port, const struct ag_list *origins,
    struct ag_api *api, struct ag_evq *evq, struct ag_http **out);

/* Stops the daemons (close evq first so that event streams end) and frees
 * h. NULL is a no-op. */
void ag_http_stop(struct ag_http *h);

/* Whether host (a Host header) names the agent on port. */
int ag_http_host_ok(const char *host, unsigned int port);

#endif
