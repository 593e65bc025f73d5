/* gateway/routes_scan.h: the scan login and WeChat binding routes: the browser's ticket, QR and held wait, the phone's OAuth round trip and confirm page. */
#ifndef UK_GW_ROUTES_SCAN_H
#define UK_GW_ROUTES_SCAN_H

#include <stddef.h>

#include <microhttpd.h>

#include "common/config.h"
#include "gateway/server.h"

/*
 * The routes (never proxied; answered only when [scan] enabled):
 *   POST /auth/qr               login ticket for this browser (its
 *                               pre-login cookie, X-CSRF-Token as the
 *                               login POSTs): {"id","url","svg","png"
 *                               (base64),"expires_in","interval"}
 *   GET  /auth/qr/<id>.png|.svg the ticket's QR (binding browser only)
 *   GET  /auth/qr/<id>/wait?state=S
 *                               held (suspended, no thread) until the
 *                               state is no longer S or [scan] wait
 *                               seconds: {"state","expires_in"}; faster
 *                               than the interval: 429 + Retry-After
 *   POST /auth/qr/<id>/claim    a confirmed login ticket -> the session
 *                               (method "scan", scope [scan] scope)
 *   POST /auth/wechat/bind      a bind ticket for the session's operator
 *                               (scope full, session CSRF); waited on as
 *                               above, no claim
 *   POST /auth/wechat/unbind    the session's operator's openid removed
 *   GET  /qr/s/<id>             phone: 302 to WeChat OAuth, or the
 *                               confirm page when this phone scanned it
 *   GET  /qr/s/<id>/cb?code&state  phone: OAuth callback -> confirm page
 *                               or 「扫码认证失败」 with cause and remedy
 *   POST /qr/s/<id>/confirm, /qr/s/<id>/cancel  form posts, csrf field
 */

struct gw_scan_routes;

/* Reads [scan] and [wechat] from cfg (which must outlive *out). Returns 0
 * (with *out NULL when scan login is off) or UK_ERR_CONFIG_VALUE
 * (logged). */
int gw_scan_routes_new(const struct config *cfg, struct gw_scan_routes **out);
void gw_scan_routes_free(struct gw_scan_routes *r);

/* 1 when path belongs to these routes. */
int gw_scan_owns(const char *path);

/* Whether method may be used on path: 0, UK_ERR_NO_ROUTE or
 * UK_ERR_METHOD. *body_max is the body accepted (bytes, 0: none). */
int gw_scan_route(const char *path, const char *method, size_t *body_max);

/* Answers a request of these routes (its body, if any, in rq->sbody); a
 * wait may be held instead (rq->wait set, c suspended, nothing queued). */
enum MHD_Result gw_scan_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq);

/* MHD called the handler again for a held wait (rq->wait): answers it or
 * holds it again. */
enum MHD_Result gw_scan_continue(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq);

#endif
