/* gateway/metrics.c: the gateway's atomic counters and their Prometheus text exposition. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "gateway/metrics.h"
#include "gateway/pwhash.h"
#include "gateway/session.h"

/* Upper bounds (seconds) of the login latency histogram's buckets. */
static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const method_names[GW_MET_METHODS] = { "cert", "password" };
static const char *const result_names[GW_RES_N] = { "ok", "refused", "frozen",
	"rate_limited", "error" };

static _Atomic uint64_t logins[GW_MET_METHODS][GW_RES_N];
static _Atomic uint64_t login_bucket[GW_MET_METHODS][NBUCKETS];
static _Atomic uint64_t login_count[GW_MET_METHODS];
static _Atomic uint64_t login_micros[GW_MET_METHODS];
static _Atomic uint64_t requests[6]; /* 1xx..5xx, [0] other */
static _Atomic uint64_t proxy_errors;

static pthread_mutex_t gauge_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t gauge_at = -1000;
static int64_t gauge_sessions;

void
gw_metrics_login(int method, int result, double seconds)
{
	size_t i;

	if (method < 0 || method >= GW_MET_METHODS || result < 0 ||
	    result >= GW_RES_N)
		return;
	if (seconds < 0)
		seconds = 0;
	atomic_fetch_add(&logins[method][result], 1);
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			atomic_fetch_add(&login_bucket[method][i], 1);
	atomic_fetch_add(&login_count[method], 1);
	atomic_fetch_add(&login_micros[method], (uint64_t)(seconds * 1e6));
}

void
gw_metrics_request(unsigned int status)
{
	unsigned int c = status / 100;

	atomic_fetch_add(&requests[c >= 1 && c <= 5 ? c : 0], 1);
}

void
gw_metrics_proxy_error(void)
{
	atomic_fetch_add(&proxy_errors, 1);
}

void
gw_metrics_reset(void)
{
	size_t m, i;

	for (m = 0; m < GW_MET_METHODS; m++) {
		for (i = 0; i < GW_RES_N; i++)
			atomic_store(&logins[m][i], 0);
		for (i = 0; i < NBUCKETS; i++)
			atomic_store(&login_bucket[m][i], 0);
		atomic_store(&login_count[m], 0);
		atomic_store(&login_micros[m], 0);
	}
	for (i = 0; i < 6; i++)
		atomic_store(&requests[i], 0);
	atomic_store(&proxy_errors, 0);
	pthread_mutex_lock(&gauge_lock);
	gauge_at = -1000;
	gauge_sessions = 0;
	pthread_mutex_unlock(&gauge_lock);
}

/* A growing text buffer. */
struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap * 2 + (size_t)n;
			char *np = realloc(b->p, ncap);
			if (np == NULL) {
				b->failed = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

int
gw_metrics_render(struct store *st, const struct gw_session_conf *sc,
    int64_t now, char **out)
{
	static const char *const classes[6] = { "other", "1xx", "2xx", "3xx",
		"4xx", "5xx" };
	struct buf b = { NULL, 0, 4096, 0 };
	int64_t sessions, n;
	size_t m, i;

	*out = NULL;
	if ((b.p = malloc(b.cap)) == NULL)
		return UK_ERR_NOMEM;
	b.p[0] = '\0';
	pthread_mutex_lock(&gauge_lock);
	if (st != NULL && sc != NULL &&
	    (now - gauge_at >= 5 || now < gauge_at)) {
		if (gw_sessions_active(st, sc, now, &n) == 0)
			gauge_sessions = n;
		gauge_at = now;
	}
	sessions = gauge_sessions;
	pthread_mutex_unlock(&gauge_lock);

	put(&b,
	    "# HELP ukey_logins_total Login attempts by method and "
	    "result.\n# TYPE ukey_logins_total counter\n");
	for (m = 0; m < GW_MET_METHODS; m++)
		for (i = 0; i < GW_RES_N; i++)
			put(&b,
			    "ukey_logins_total{method=\"%s\",result=\"%s\"} "
			    "%llu\n",
			    method_names[m], result_names[i],
			    (unsigned long long)atomic_load(&logins[m][i]));
	put(&b,
	    "# HELP ukey_login_seconds Time taken by login attempts.\n"
	    "# TYPE ukey_login_seconds histogram\n");
	for (m = 0; m < GW_MET_METHODS; m++) {
		for (i = 0; i < NBUCKETS; i++)
			put(&b,
			    "ukey_login_seconds_bucket{method=\"%s\","
			    "le=\"%g\"} %llu\n",
			    method_names[m], buckets[i],
			    (unsigned long long)atomic_load(
			        &login_bucket[m][i]));
		put(&b,
		    "ukey_login_seconds_bucket{method=\"%s\",le=\"+Inf\"} "
		    "%llu\n",
		    method_names[m],
		    (unsigned long long)atomic_load(&login_count[m]));
		put(&b, "ukey_login_seconds_sum{method=\"%s\"} %.6f\n",
		    method_names[m],
		    (double)atomic_load(&login_micros[m]) / 1e6);
		put(&b, "ukey_login_seconds_count{method=\"%s\"} %llu\n",
		    method_names[m],
		    (unsigned long long)atomic_load(&login_count[m]));
	}
	put(&b,
	    "# HELP ukey_sessions_active Sessions neither ended nor "
	    "revoked.\n# TYPE ukey_sessions_active gauge\n"
	    "ukey_sessions_active %lld\n",
	    (long long)sessions);
	put(&b,
	    "# HELP ukey_proxy_errors_total Upstream failures.\n"
	    "# TYPE ukey_proxy_errors_total counter\n"
	    "ukey_proxy_errors_total %llu\n",
	    (unsigned long long)atomic_load(&proxy_errors));
	put(&b,
	    "# HELP ukey_requests_total Requests answered, by status "
	    "class.\n# TYPE ukey_requests_total counter\n");
	for (i = 1; i <= 5; i++)
		put(&b, "ukey_requests_total{class=\"%s\"} %llu\n", classes[i],
		    (unsigned long long)atomic_load(&requests[i]));
	put(&b,
	    "# HELP ukey_password_hashes_total Argon2 computations.\n"
	    "# TYPE ukey_password_hashes_total counter\n"
	    "ukey_password_hashes_total %llu\n",
	    (unsigned long long)gw_pwhash_count());
	if (b.failed) {
		free(b.p);
		return UK_ERR_NOMEM;
	}
	*out = b.p;
	return 0;
}
