/* gateway/proxy.h: the reverse proxy into the business module (libcurl): identity headers in, hop-by-hop and spoofed identity headers out, streamed responses. */
#ifndef UK_GW_PROXY_H
#define UK_GW_PROXY_H

#include <stddef.h>

#include <microhttpd.h>

struct gw_proxy_conf {
	const char *upstream;    /* base URL, "http://127.0.0.1:8081" */
	long connect_timeout_ms; /* default 2000 */
	long timeout_ms;         /* whole exchange, default 60000 */
	size_t max_body;         /* largest request body forwarded */
	int max_idle;            /* idle upstream connections kept */
};

struct gw_proxy;

/* Makes a proxy; *out belongs to the caller (gw_proxy_free). Thread-safe
 * after creation: each request borrows a curl handle pair from a pool
 * (connection reuse across requests). Returns 0, UK_ERR_CONFIG_VALUE, UK_ERR_NOMEM. */
int gw_proxy_new(const struct gw_proxy_conf *conf, struct gw_proxy **out);
void gw_proxy_free(struct gw_proxy *p);

/*
 * Forwards one request to the upstream and queues the answer on c.
 * path_query: the normalised path and the raw query ("/hall/x?a=1").
 * The client's headers are taken from c, minus hop-by-hop headers, minus
 * Host, minus every header whose name, compared case-insensitively with
 * '_' read as '-', starts with "x-ukey-" (gw_hdr_is_identity), minus
 * X-Forwarded-*; add (name, value pairs, NULL-terminated, may be NULL) is
 * appended: the identity headers and the assertion. X-Forwarded-For
 * (client_ip) and X-Forwarded-Proto are set. The upstream's status,
 * headers (minus hop-by-hop) and body are passed back, the body streamed.
 * When the upstream cannot be reached or times out, a 502 or 504 error page
 * (UK_ERR_UPSTREAM_DOWN / UK_ERR_UPSTREAM_TIMEOUT) is queued instead.
 * resp_add (name, value pairs, NULL-terminated, may be NULL) goes on the
 * answer passed back, proxied or error page: each pair is added unless the
 * upstream's answer already has a header of that name (compared
 * case-insensitively), so the upstream's own Cache-Control, CSP etc. win.
 * The call blocks its thread for the exchange up to the headers; the body
 * is then streamed by MHD from the same thread: run the daemon with a
 * thread per connection so that a slow upstream delays no other client.
 * Returns what MHD_queue_response returned.
 */
enum MHD_Result gw_proxy_forward(struct gw_proxy *p, struct MHD_Connection *c,
    const char *method, const char *path_query, const unsigned char *body,
    size_t body_len, const char *const *add, const char *client_ip, int https,
    const char *const *resp_add);

#endif
