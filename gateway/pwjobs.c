/* gateway/pwjobs.c: password logins off the HTTP threads: a queue, worker threads with their own stores, suspended connections resumed when an attempt is decided. */
#include "gateway/pwjobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/store.h"

#define PJ_MAX_WORKERS 16

struct gw_pwjob {
	pthread_mutex_t mu;       /* guards c, suspended, done, refs */
	struct MHD_Connection *c; /* NULL once the request let go */
	int suspended;
	int done;
	int refs; /* the request's and the queue's */
	struct gw_pwjob *next;
	/* The attempt. */
	char login[GW_LOGIN_MAX + 1];
	struct secret *pw;
	char ip[64];
	char ua[256];
	int64_t now;
	/* Its outcome. */
	int r;
	struct gw_pwlogin_result res;
};

struct gw_pwjobs {
	pthread_mutex_t mu; /* guards head, tail, stop */
	pthread_cond_t cv;
	struct gw_pwjob *head, *tail;
	int stop;
	char *store_loc;
	struct gw_pwlogin_conf conf;
	pthread_t th[PJ_MAX_WORKERS];
	int nth;
};

static void
job_unref(struct gw_pwjob *j)
{
	int left;

	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left > 0)
		return;
	secret_free(j->pw);
	pthread_mutex_destroy(&j->mu);
	memset(j, 0, sizeof(*j));
	free(j);
}

/* Records the outcome and wakes the request, if it still waits. */
static void
job_finish(struct gw_pwjob *j, int r)
{
	secret_free(j->pw); /* no longer needed: wiped now */
	j->pw = NULL;
	pthread_mutex_lock(&j->mu);
	j->r = r;
	j->done = 1;
	if (j->suspended && j->c != NULL) {
		j->suspended = 0;
		MHD_resume_connection(j->c);
	}
	pthread_mutex_unlock(&j->mu);
	job_unref(j); /* the queue's reference */
}

static void *
worker(void *arg)
{
	struct gw_pwjobs *q = arg;
	struct store *st = NULL;
	struct gw_pwjob *j;
	int r;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->head == NULL) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		j = q->head;
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		r = 0;
		if (st == NULL && (r = store_open(q->store_loc, &st)) != 0) {
			uk_log_err(r, "password worker: store: %s",
			    store_last_error(NULL));
			st = NULL;
		}
		if (r == 0)
			r = gw_pwlogin_attempt(st, &q->conf, j->login, j->pw,
			    j->ip, j->ua[0] != '\0' ? j->ua : NULL, j->now,
			    &j->res);
		job_finish(j, r);
	}
	store_close(st);
	return NULL;
}

int
gw_pwjobs_new(const char *store_loc, const struct gw_pwlogin_conf *conf,
    int workers, struct gw_pwjobs **out)
{
	struct gw_pwjobs *q;
	long n = workers;
	int i, made = 0, r = UK_ERR_NOMEM;

	*out = NULL;
	if (n <= 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 2)
			n = 2;
	}
	if (n > PJ_MAX_WORKERS)
		n = PJ_MAX_WORKERS;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return UK_ERR_NOMEM;
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return UK_ERR_INTERNAL;
	}
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return UK_ERR_INTERNAL;
	}
	if (conf != NULL)
		q->conf = *conf;
	if ((q->store_loc = strdup(store_loc)) == NULL)
		goto fail;
	for (i = 0; i < (int)n; i++) {
		if (pthread_create(&q->th[i], NULL, worker, q) != 0)
			break;
		made++;
	}
	q->nth = made;
	if (made == 0) {
		r = UK_ERR_INTERNAL;
		goto fail;
	}
	*out = q;
	return 0;
fail:
	gw_pwjobs_free(q);
	return r;
}

void
gw_pwjobs_stop(struct gw_pwjobs *q)
{
	struct gw_pwjob *j, *left;
	int i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	if (q->stop && q->nth == 0) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	q->stop = 1;
	left = q->head;
	q->head = q->tail = NULL;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	while ((j = left) != NULL) {
		left = j->next;
		job_finish(j, UK_ERR_STOPPING);
	}
	for (i = 0; i < q->nth; i++)
		pthread_join(q->th[i], NULL);
	q->nth = 0;
}

void
gw_pwjobs_free(struct gw_pwjobs *q)
{
	if (q == NULL)
		return;
	gw_pwjobs_stop(q);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->store_loc);
	free(q);
}

int
gw_pwjob_start(struct gw_pwjobs *q, struct MHD_Connection *c, const char *login,
    struct secret *pw, const char *ip, const char *user_agent, int64_t now,
    struct gw_pwjob **out)
{
	struct gw_pwjob *j;

	*out = NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		secret_free(pw);
		return UK_ERR_NOMEM;
	}
	if (pthread_mutex_init(&j->mu, NULL) != 0) {
		free(j);
		secret_free(pw);
		return UK_ERR_NOMEM;
	}
	j->pw = pw;
	j->c = c;
	j->refs = 2;
	j->now = now;
	snprintf(j->login, sizeof(j->login), "%s", login);
	snprintf(j->ip, sizeof(j->ip), "%s", ip != NULL ? ip : "");
	snprintf(j->ua, sizeof(j->ua), "%s",
	    user_agent != NULL ? user_agent : "");
	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		j->refs = 1;
		job_unref(j);
		return UK_ERR_STOPPING;
	}
	/* Suspended before a worker can answer: its wake finds it so. */
	pthread_mutex_lock(&j->mu);
	MHD_suspend_connection(c);
	j->suspended = 1;
	pthread_mutex_unlock(&j->mu);
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	*out = j;
	return 0;
}

int
gw_pwjob_result(struct gw_pwjob *j, struct MHD_Connection *c, int *r,
    struct gw_pwlogin_result *res, const char **login)
{
	pthread_mutex_lock(&j->mu);
	if (!j->done) {
		MHD_suspend_connection(c);
		j->suspended = 1;
		pthread_mutex_unlock(&j->mu);
		return 0;
	}
	pthread_mutex_unlock(&j->mu);
	*r = j->r;
	*res = j->res;
	*login = j->login;
	return 1;
}

void
gw_pwjob_release(struct gw_pwjob *j)
{
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	j->c = NULL;
	j->suspended = 0;
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
}
