/* gateway/static.h: the gateway's own pages (login, self-service, consoles) and their assets, read from the web root into memory at start-up and served with ETags, cache control and a strict Content-Security-Policy. */
#ifndef UK_GW_STATIC_H
#define UK_GW_STATIC_H

#include <stddef.h>

#include <microhttpd.h>

#define GW_STATIC_FILE_MAX (1024 * 1024)       /* one file, bytes */
#define GW_STATIC_TOTAL_MAX (16 * 1024 * 1024) /* every file together */
#define GW_STATIC_FILES_MAX 256                /* files */
#define GW_STATIC_DEPTH_MAX 4                  /* folders under assets/ */

/*
 * The paths served (after gw_path_normalise):
 *   /login        login.html       /login/reset  reset.html
 *   /self         self.html        /counter      counter.html
 *   /helpdesk     helpdesk.html    /favicon.ico  favicon.ico
 *   /assets/REL   assets/REL (REL: segments of [A-Za-z0-9._-], none
 *                 starting with '.')
 * The Content-Security-Policy every answer carries.
 */
#define GW_STATIC_CSP                                                          \
	"default-src 'self'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self' data:; "                                               \
	"connect-src 'self' http://127.0.0.1:* http://localhost:*; "           \
	"object-src 'none'; base-uri 'none'; form-action 'self'; "             \
	"frame-ancestors 'none'"

/*
 * Reads the pages of the table above and every regular file under
 * webroot/assets/ (symbolic links, dot files and unknown extensions are
 * skipped) into memory; nothing is read from disk afterwards. Replaces
 * what an earlier call loaded. Not thread-safe: call at start-up, before
 * the server listens. Returns 0, UK_ERR_IO (webroot unreadable: logged),
 * UK_ERR_LIMIT (a file or the whole over the limits above: logged) or
 * UK_ERR_NOMEM. A missing page is not an error (it is answered 404).
 */
int gw_static_init(const char *webroot);

/* Frees what gw_static_init loaded. Call after the server stopped. */
void gw_static_free(void);

/* 1 when a GET or HEAD of path is answered by gw_static_serve: a page of
 * the table that was loaded, or anything under /assets/ (404 when it was
 * not loaded). Thread-safe after gw_static_init. */
int gw_static_owns(const char *path);

/*
 * Queues the answer for a GET (head 0) or HEAD (head 1; libmicrohttpd
 * leaves out the body itself) of path: 200 with the file, 304 when an
 * If-None-Match of the request names its ETag, or 404 with a small HTML
 * page. Every answer carries Content-Security-Policy GW_STATIC_CSP,
 * X-Content-Type-Options nosniff, Referrer-Policy, X-Frame-Options,
 * Cache-Control (no-cache for pages, max-age=300 for assets), X-Request-Id
 * request_id (when not NULL) and, with hsts, Strict-Transport-Security.
 * *status (when not NULL) is set to the status queued. Returns what
 * MHD_queue_response returned. Thread-safe after gw_static_init.
 */
enum MHD_Result gw_static_serve(struct MHD_Connection *c, const char *path,
    int head, const char *request_id, int hsts, unsigned int *status);

/* The Content-Type of a file name by its extension, NULL when not served. */
const char *gw_static_type(const char *name);

#endif
