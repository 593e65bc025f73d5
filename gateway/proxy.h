/* gateway/proxy.h: the reverse proxy into the business module (libcurl multi on proxy threads, MHD connections suspended while the upstream answers): identity headers in, hop-by-hop and spoofed identity headers out, streamed responses. */
#ifndef UK_GW_PROXY_H
#define UK_GW_PROXY_H

#include <stddef.h>

#include <microhttpd.h>

struct gw_proxy_conf {
	const char *upstream;    /* base URL, "http://127.0.0.1:8081" */
	long connect_timeout_ms; /* default 2000 */
	long timeout_ms;         /* whole exchange, default 60000 */
	size_t max_body;         /* largest request body forwarded */
	int max_idle;            /* idle upstream connections kept per loop */
	int loops;               /* proxy threads (curl multi loops); 0: 1 */
};

struct gw_proxy;
struct gw_proxy_xfer;

/* Makes a proxy and starts its threads; *out belongs to the caller
 * (gw_proxy_free). Thread-safe after creation. Returns 0,
 * UK_ERR_CONFIG_VALUE, UK_ERR_NOMEM or UK_ERR_INTERNAL. */
int gw_proxy_new(const struct gw_proxy_conf *conf, struct gw_proxy **out);

/* Ends every exchange under way (their clients get an error or a cut
 * body), resumes their connections and stops the threads. Call before
 * MHD_stop_daemon (which must not meet suspended connections). NULL is a
 * no-op; so is a second call. */
void gw_proxy_stop(struct gw_proxy *p);

/* Stops (gw_proxy_stop) and frees p; NULL is a no-op. Call after the
 * daemon has stopped. */
void gw_proxy_free(struct gw_proxy *p);

/*
 * Starts forwarding one request to the upstream, from an MHD access
 * handler whose daemon allows suspend/resume. Never blocks on the
 * upstream: the exchange runs on a proxy thread.
 * path_query: the normalised path and the raw query ("/hall/x?a=1").
 * The client's headers are taken from c, minus hop-by-hop headers, minus
 * Host, minus every header whose name, compared case-insensitively with
 * '_' read as '-', starts with "x-ukey-" (gw_hdr_is_identity), minus
 * X-Forwarded-*; add (name, value pairs, NULL-terminated, may be NULL) is
 * appended: the identity headers and the assertion. X-Forwarded-For
 * (client_ip) and X-Forwarded-Proto are set. body is copied.
 * resp_add (name, value pairs, NULL-terminated, may be NULL; copied) goes
 * on the answer passed back, proxied or error page: each pair is added
 * unless the upstream's answer already has a header of that name
 * (compared case-insensitively), so the upstream's own Cache-Control, CSP
 * etc. win.
 * On return either an answer was queued on c (a refusal: *xp is NULL and
 * the result is MHD_queue_response's) or the exchange is under way and c
 * suspended (*xp set, MHD_YES): when MHD calls the handler again, call
 * gw_proxy_continue(xp, c); when the request ends with *xp still set,
 * gw_proxy_abandon(*xp).
 */
enum MHD_Result gw_proxy_forward(struct gw_proxy *p, struct MHD_Connection *c,
    const char *method, const char *path_query, const unsigned char *body,
    size_t body_len, const char *const *add, const char *client_ip, int https,
    const char *const *resp_add, struct gw_proxy_xfer **xp);

/*
 * The handler's next call for an exchange under way: once the upstream's
 * status and headers are in, queues the answer (the upstream's status,
 * headers minus hop-by-hop, and its body streamed by a content reader that
 * suspends c while no data is buffered; bounded buffering, the upstream
 * paused while the client is slow) and sets *xp to NULL (the response owns
 * the exchange now). When the upstream cannot be reached or times out, a
 * 502 or 504 error page (UK_ERR_UPSTREAM_DOWN / UK_ERR_UPSTREAM_TIMEOUT) is
 * queued instead. Otherwise suspends c again and returns MHD_YES.
 */
enum MHD_Result
gw_proxy_continue(struct gw_proxy_xfer **xp, struct MHD_Connection *c);

/* The request ended (client gone, daemon stopping) before the answer was
 * queued: the exchange is cancelled and x released. NULL is a no-op. */
void gw_proxy_abandon(struct gw_proxy_xfer *x);

#endif
