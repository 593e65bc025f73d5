/* gateway/routes_auth.h: the gateway's own routes: /auth/... (challenge, cert and password login, logout, session, verify), the JWKS and /metrics; and the identity headers shared with the proxy. */
#ifndef UK_GW_ROUTES_AUTH_H
#define UK_GW_ROUTES_AUTH_H

#include <microhttpd.h>

#include "gateway/server.h"

struct store;

/*
 * The routes (GET routes answer HEAD too):
 *   GET  /auth/challenge        {"nonce","expires_in","csrf"}; sets the
 *                               pre-login cookie when it is missing
 *   POST /auth/cert             {"token":{...},"nonce"?}: UKey login
 *   POST /auth/password         {"login","password"}: password login
 *   POST /auth/password/change  {"old","new"}: the session's CSRF; the one
 *                               route a temporary-password session may use
 *                               besides logout and /auth/session; revokes
 *                               the operator's other sessions and rotates
 *                               the cookie
 *   POST /auth/reset/request    {"login"}: SMS password reset, step 1
 *   POST /auth/reset/verify     {"login","code"} -> {"token"}
 *   POST /auth/reset/password   {"token","password"}: no session
 *                               (gateway/routes_reset.h)
 *   POST /auth/logout
 *   GET  /auth/session          who am I
 *   GET  /auth/verify           nginx auth_request
 *   GET  /.well-known/jwks.json the assertion keys
 *   GET  /metrics               Prometheus text
 * Login POSTs need the pre-login cookie and X-CSRF-Token equal to
 * gw_pre_csrf of it; logout needs the session's CSRF token.
 */

/* The per-address limit (gateway/ratelimit.h) of an anonymous route that
 * writes to the store: 0 to go on; else non-zero, and *ret is the answer
 * already queued (429 UK-4104 with Retry-After, or the store's error). */
int
gw_anon_limit(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    struct store *st, const char *what, int64_t limit, enum MHD_Result *ret);

/* 1 when path belongs to these routes (so is never proxied). */
int gw_auth_owns(const char *path);

/* Whether method may be used on path: 0, UK_ERR_NO_ROUTE or
 * UK_ERR_METHOD. *json_body is set when the route takes a JSON body. */
int gw_auth_route(const char *path, const char *method, int *json_body);

/* Answers an /auth/... (or JWKS, metrics) request whose body, if any, is in
 * rq->sbody. */
/* The handler's next call for a password login whose attempt runs on a
 * password worker (rq->pwjob): answers once it is decided, else suspends
 * the connection again. */
enum MHD_Result gw_auth_password_continue(struct gw_server *s,
    struct MHD_Connection *c, struct gw_req *rq);

enum MHD_Result gw_auth_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq);

/*
 * The request's session (from the __Host-ukey-session cookie of every
 * Cookie header) in *out. Returns 0, UK_ERR_SESSION_NONE (no cookie),
 * UK_ERR_BAD_COOKIE, the session errors of gw_session_lookup or a store
 * error. Sets rq->principal on success.
 */
int gw_req_session(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, struct gw_session *out);

/* The CSRF check of a state-changing request made in session se. Returns 0
 * or UK_ERR_CSRF. */
int gw_req_csrf(struct MHD_Connection *c, const struct gw_session *se);

/* Identity headers for the upstream (or nginx) in a NULL-terminated name,
 * value list: X-Ukey-Unit, -Operator, -Login, -Roles, -Method, -Scope,
 * -Request-Id and X-Ukey-Assertion. Values are copied into hb (the
 * assertion malloc'd, freed by gw_idhdrs_free). Returns 0 or an error. */
struct gw_idhdrs {
	const char *v[20];
	char pid[24];
	char *assertion;
};
int gw_idhdrs_make(struct gw_server *s, const struct gw_identity *id,
    const char *request_id, struct gw_idhdrs *hb);
void gw_idhdrs_free(struct gw_idhdrs *hb);

#endif
