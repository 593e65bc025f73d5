/* gateway/metrics.h: the gateway's counters and their Prometheus text at GET /metrics. */
#ifndef UK_GW_METRICS_H
#define UK_GW_METRICS_H

#include <stdint.h>

struct store;
struct gw_session_conf;

/* Login methods and results counted by gw_metrics_login. */
#define GW_MET_CERT 0
#define GW_MET_PASSWORD 1
#define GW_MET_METHODS 2

#define GW_RES_OK 0      /* a session was made */
#define GW_RES_REFUSED 1 /* wrong password, bad certificate, ... */
#define GW_RES_FROZEN 2  /* the operator is frozen */
#define GW_RES_RATE 3    /* the per-address limit */
#define GW_RES_ERROR 4   /* the gateway failed */
#define GW_RES_N 5

/* All counters are process-wide and atomic; every function is
 * thread-safe. */

/* One login attempt of method (GW_MET_*) with result (GW_RES_*) that took
 * seconds. */
void gw_metrics_login(int method, int result, double seconds);

/* One answered request with HTTP status. */
void gw_metrics_request(unsigned int status);

/* One upstream failure (502/504 from the proxy). */
void gw_metrics_proxy_error(void);

/*
 * The Prometheus text exposition (version 0.0.4) into *out (malloc'd,
 * caller frees): ukey_logins_total{method,result},
 * ukey_login_seconds (histogram), ukey_sessions_active (from st, counted
 * at most every 5 s), ukey_proxy_errors_total,
 * ukey_requests_total{class}, ukey_password_hashes_total. Returns 0 or
 * UK_ERR_NOMEM; a store failure leaves the last known gauge.
 */
int gw_metrics_render(struct store *st, const struct gw_session_conf *sc,
    int64_t now, char **out);

/* Clears every counter (tests). */
void gw_metrics_reset(void);

#endif
