/* gateway/pwjobs.h: password logins off the HTTP threads: a few worker threads, each with its own store, run the attempt (its counting and the Argon2 hash) while the request's connection is suspended. */
#ifndef UK_GW_PWJOBS_H
#define UK_GW_PWJOBS_H

#include <stdint.h>

#include <microhttpd.h>

#include "common/secret.h"
#include "gateway/identity.h"
#include "gateway/pwlogin.h"

/*
 * An Argon2 hash takes a pool thread for a fifth of a second and 64 MiB:
 * a handful of password logins at once would hold every HTTP thread and
 * stall everyone else's requests (proxied pages, UKey logins). So the
 * attempt runs here instead, on as many workers as there are cores, and
 * the HTTP thread goes on serving other connections.
 */
struct gw_pwjobs;
struct gw_pwjob;

/* Starts that many worker threads (0: one per core, at least 2), each opening its
 * own store at store_loc when it takes its first job. conf is copied
 * (its strings must outlive the queue). *out belongs to the caller
 * (gw_pwjobs_free). Returns 0, UK_ERR_NOMEM or UK_ERR_INTERNAL. */
int gw_pwjobs_new(const char *store_loc, const struct gw_pwlogin_conf *conf,
    int workers, struct gw_pwjobs **out);

/* Refuses new jobs, ends the queued ones with UK_ERR_STOPPING and
 * waits for the running ones; every waiting connection is resumed. Call
 * before MHD_stop_daemon. NULL is a no-op; so is a second call. */
void gw_pwjobs_stop(struct gw_pwjobs *q);

/* Stops (gw_pwjobs_stop) and frees q; NULL is a no-op. */
void gw_pwjobs_free(struct gw_pwjobs *q);

/*
 * Queues gw_pwlogin_attempt(login, pw, ip, user_agent, now) for the
 * request on connection c and suspends c (from its access handler; the
 * daemon allows suspend/resume). pw is taken (wiped and freed by the job,
 * also on failure). When the attempt is decided the connection is
 * resumed: the handler, called again, reads the outcome with
 * gw_pwjob_result. Returns 0 with *out set, or UK_ERR_NOMEM /
 * UK_ERR_STOPPING (stopping) with c not suspended.
 */
int gw_pwjob_start(struct gw_pwjobs *q, struct MHD_Connection *c,
    const char *login, struct secret *pw, const char *ip,
    const char *user_agent, int64_t now, struct gw_pwjob **out);

/* Once resumed: 1 with *r (gw_pwlogin_attempt's return) and *res filled
 * and login pointing at the job's copy of the login name (valid until
 * gw_pwjob_release); 0 when not decided yet, with c suspended again. */
int gw_pwjob_result(struct gw_pwjob *j, struct MHD_Connection *c, int *r,
    struct gw_pwlogin_result *res, const char **login);

/* The request is done with j (answered, or ended before the answer: then
 * the worker finishes the attempt, which still counts, and drops it). */
void gw_pwjob_release(struct gw_pwjob *j);

#endif
