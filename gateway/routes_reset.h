/* gateway/routes_reset.h: the SMS password reset routes: POST /auth/reset/request, /auth/reset/verify and /auth/reset/password. */
#ifndef UK_GW_ROUTES_RESET_H
#define UK_GW_ROUTES_RESET_H

#include <microhttpd.h>

#include "gateway/server.h"

struct gw_sms_sender;

/*
 * The routes (public, JSON bodies, the login POSTs' CSRF check: the
 * pre-login cookie and X-CSRF-Token equal to gw_pre_csrf of it):
 *   POST /auth/reset/request  {"login"}: 200 {"ok","message","event"},
 *                             the same whatever the account; 429 with
 *                             Retry-After over the per-IP or per-login
 *                             limits
 *   POST /auth/reset/verify   {"login","code"}: 200 {"token"} or one
 *                             public error (UK-4501, or 429 UK-4507)
 *   POST /auth/reset/password {"token","password"}: 200 {"ok","event"};
 *                             no session is made; UK-4506 (token) or
 *                             UK-4110 (policy: the token stays usable)
 * Only with [reset] enabled = true; otherwise 404 UK-1507.
 */

/* The paths, for the route table of gateway/routes_auth.c. */
#define GW_RESET_PATH_REQUEST "/auth/reset/request"
#define GW_RESET_PATH_VERIFY "/auth/reset/verify"
#define GW_RESET_PATH_PASSWORD "/auth/reset/password"

/* The sender to wake after a message is queued (NULL: none; the rows wait
 * for whichever sender polls next). Set by serve before the server starts
 * and cleared after it stopped; borrowed. */
void gw_reset_routes_sender(struct gw_sms_sender *sender);

/* Answers one of the three routes (rq->path says which; its body in
 * rq->sbody). csrf is the outcome of the pre-login CSRF check made by the
 * caller: 0 or UK_ERR_CSRF / UK_ERR_BAD_COOKIE. Returns what
 * MHD_queue_response returned. */
/* The handler's next call for a reset request held until its floor
 * (rq->wait, rq->held_reset): answers once the floor has passed. */
enum MHD_Result gw_reset_continue(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq);

enum MHD_Result gw_reset_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, int csrf);

#endif
