/* agent/evq.c: the event queue behind GET /v1/events: a bounded ring of recent events, any number of waiting readers. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/evq.h"
#include "common/errors.h"

struct slot {
	char *type;
	char *json;
};

struct ag_evq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *ring;
	size_t cap;
	uint64_t next; /* sequence number of the next event */
	int closed;
};

int
ag_evq_new(size_t cap, struct ag_evq **out)
{
	struct ag_evq *q = NULL;
	pthread_condattr_t ca;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if (cap == 0 || cap > 4096)
		return UK_ERR_INPUT;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		goto out;
	if ((q->ring = calloc(cap, sizeof(*q->ring))) == NULL) {
		free(q);
		q = NULL;
		goto out;
	}
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	q = NULL; /* transferred */
	r = 0;
out:
	return r;
}

void
ag_evq_free(struct ag_evq *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->cap; i++) {
		free(q->ring[i].type);
		free(q->ring[i].json);
	}
	free(q->ring);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int
ag_evq_push(struct ag_evq *q, const char *type, const char *json)
{
	struct slot *s;
	char *t = NULL, *j = NULL;
	size_t tl;
	int r = UK_ERR_INPUT;

	if (type == NULL || json == NULL || (tl = strlen(type)) == 0 ||
	    tl > 32 ||
	    strspn(type,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789-") != tl ||
	    strpbrk(json, "\r\n") != NULL)
		goto out;
	r = UK_ERR_LIMIT;
	if (strlen(json) > AG_EVQ_EVENT_MAX)
		goto out;
	r = UK_ERR_NOMEM;
	if ((t = strdup(type)) == NULL || (j = strdup(json)) == NULL)
		goto out;
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		r = UK_ERR_CANCELLED;
		goto out;
	}
	s = &q->ring[q->next % q->cap];
	free(s->type);
	free(s->json);
	s->type = t;
	s->json = j;
	t = j = NULL; /* transferred */
	q->next++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	r = 0;
out:
	free(t);
	free(j);
	return r;
}

uint64_t
ag_evq_next(struct ag_evq *q)
{
	uint64_t n;

	pthread_mutex_lock(&q->lock);
	n = q->next;
	pthread_mutex_unlock(&q->lock);
	return n;
}

int
ag_evq_wait(struct ag_evq *q, uint64_t *seq, int timeout_ms, char **type,
    char **json)
{
	struct timespec dl;
	struct slot *s;
	int r = 0;

	*type = *json = NULL;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->closed && *seq >= q->next && r == 0) {
		if (pthread_cond_timedwait(&q->cond, &q->lock, &dl) ==
		    ETIMEDOUT)
			r = UK_ERR_TIMEOUT;
	}
	if (q->closed) {
		r = UK_ERR_CANCELLED;
		goto out;
	}
	if (*seq >= q->next) {
		r = UK_ERR_TIMEOUT;
		goto out;
	}
	/* Fell behind: the oldest kept. */
	if (q->next - *seq > q->cap)
		*seq = q->next - q->cap;
	s = &q->ring[*seq % q->cap];
	r = UK_ERR_NOMEM;
	if ((*type = strdup(s->type)) == NULL ||
	    (*json = strdup(s->json)) == NULL) {
		free(*type);
		*type = NULL;
		goto out;
	}
	(*seq)++;
	r = 0;
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

void
ag_evq_close(struct ag_evq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}
