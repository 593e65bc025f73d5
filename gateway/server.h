/* gateway/server.h: ukey-gateway's HTTP server (libmicrohttpd thread pool with epoll, suspended connections for slow parties): the daemon, per-thread stores, per-request state, the clock. */
#ifndef UK_GW_SERVER_H
#define UK_GW_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "gateway/identity.h"
#include "gateway/pwlogin.h"
#include "gateway/session.h"

struct store;
struct gw_policy;
struct gw_authcert;
struct gw_jwt;
struct gw_proxy;
struct gw_rule;
struct secret;
struct gw_proxy_xfer;
struct gw_waiters;
struct gw_waiter;
struct gw_scan_routes;
struct gw_pwjobs;
struct gw_pwjob;
struct gw_reset_result;
struct gw_counter;

#define GW_PATH_MAX 2048             /* a normalised path, bytes */
#define GW_URI_MAX 8192              /* a request target, bytes */
#define GW_AUTH_BODY_MAX (32 * 1024) /* bodies of /auth/ requests */

#define GW_CONN_LIMIT 30000 /* connections (open files permitting) */
#define GW_FD_RESERVE 256   /* open files kept for stores, upstreams, logs */
#define GW_STORE_POOL 64    /* stores kept open for new threads */

#define GW_METRICS_OFF 0
#define GW_METRICS_LOCAL 1
#define GW_METRICS_PUBLIC 2

/* Everything a request handler may use. Built once by gw_server_new,
 * read-only afterwards except where noted. */
struct gw_server {
	const struct config *cfg; /* borrowed */
	char *store_loc;
	char *origin; /* public_origin */
	int https;    /* public_origin is https:// */
	int tls;      /* the daemon itself speaks TLS */
	size_t max_body;
	int metrics;          /* GW_METRICS_* */
	int detailed_pw;      /* password_messages = detailed */
	int challenge_ttl;    /* seconds */
	int64_t clock_offset; /* --test-clock: seconds added to time(NULL) */
	char **trusted;       /* trusted proxies, NULL-terminated */
	struct gw_session_conf sess;
	struct gw_pwlogin_conf pw;
	struct store *main_st; /* start-up and shutdown only */
	struct gw_policy *policy;
	struct gw_authcert *authcert;
	struct gw_jwt *jwt;
	struct gw_proxy *proxy;      /* NULL: no [proxy] upstream */
	struct gw_pwjobs *pwjobs;    /* password attempts off the pool */
	struct gw_waiters *waiters;  /* held scan waits */
	struct gw_scan_routes *scan; /* scan login and WeChat binding */
	struct gw_counter *counter;  /* the counter console's CA */
	unsigned int threads;        /* MHD pool threads */
	unsigned int conn_limit;
	char **anchors, **crls;
	struct MHD_Daemon *daemon;
	pthread_key_t store_key; /* a pool thread's store */
	int key_made;
	pthread_mutex_t pool_mu; /* guards pool, npool */
	int mu_made;
	struct store *pool[GW_STORE_POOL]; /* stores of ended threads */
	size_t npool;
	char listen_addr[64];
	unsigned int port;
};

/* One request's state, from the URI callback to the completion callback. */
struct gw_req {
	struct timespec start;
	char id[33];            /* request id: 16 random bytes, hex */
	char *uri;              /* the raw request target as received */
	char path[GW_PATH_MAX]; /* normalised path */
	const char *query;      /* raw query after '?', or NULL (into uri) */
	const char *method;     /* MHD's, valid during the request */
	char ip[64];            /* the client's address */
	const char *ua;         /* User-Agent, or NULL */
	int en;                 /* answer in English */
	int html;               /* a browser navigation (Accept: text/html) */
	int kind;               /* GW_ROUTE_* */
	int started;            /* the first call has been made */
	int bad_uri;            /* the target was too long */
	unsigned int status;    /* the answer's status once queued */
	char principal[GW_LOGIN_MAX + 16]; /* "operator:<login>" or "-" */
	/* The body. */
	unsigned char *body;  /* proxied requests */
	struct secret *sbody; /* /auth/ requests: locked, wiped */
	size_t body_len, body_cap, body_alloc;
	int too_big;
	size_t dropped;
	int stray_body;
	/* Decided at the first call for a proxied request. */
	int have_id;
	int pass_id; /* pass the identity on */
	struct gw_identity who;
	/* A suspended request: the proxy exchange or the held scan wait
	 * the handler continues when MHD calls it again. */
	struct gw_proxy_xfer *xfer;
	struct gw_waiter *wait;
	struct gw_pwjob *pwjob;             /* a password attempt on a worker */
	struct gw_reset_result *held_reset; /* a reset answer held (wait) */
};

#define GW_ROUTE_PROXY 0
#define GW_ROUTE_AUTH 1    /* /auth/..., /.well-known/jwks.json, /metrics */
#define GW_ROUTE_SCAN 2    /* /auth/qr..., /auth/wechat/..., /qr/s/... */
#define GW_ROUTE_STATIC 3  /* the gateway's pages and assets (static.h) */
#define GW_ROUTE_CONSOLE 4 /* /counter/api/..., /helpdesk/api/... */

/* Options the command line adds to the configuration. */
struct gw_server_opts {
	int test_clock;       /* serve --test-clock */
	int64_t clock_offset; /* UKEY_TEST_NOW, honoured only with test_clock */
};

/*
 * Builds the server from cfg (which must outlive it): opens the store,
 * loads the routes, the verifier, the assertion key and the proxy. Does
 * not listen yet. *out belongs to the caller (gw_server_free). Returns 0
 * or an enum uk_err code, with the reason logged.
 */
int gw_server_new(const struct config *cfg, const struct gw_server_opts *o,
    struct gw_server **out);

/* Starts listening. Returns 0 or UK_ERR_IO (logged). */
int gw_server_start(struct gw_server *s);

/* Stops listening: held waits and proxy exchanges are ended and their
 * connections resumed, then the daemon stops (waits for requests under
 * way); frees s. NULL is a no-op. */
void gw_server_free(struct gw_server *s);

/* The clock: UTC seconds, plus the test offset. */
int64_t gw_server_now(const struct gw_server *s);

/* The calling thread's store (one per MHD pool thread), taken from the
 * pool of stores left by ended threads or opened on first use; NULL when
 * it cannot be opened (logged). Owned by the thread while it runs; back to
 * the pool when it ends. */
struct store *gw_server_store(struct gw_server *s);

#endif
