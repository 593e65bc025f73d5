/* certs/verify_cache.c: the verifier's cache of CA-certificate signatures that already verified. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "certs/verify_int.h"

/*
 * An open-addressed table of SHA-256 keys, in buckets of WAYS slots. A key
 * names one (issuer certificate, subject certificate, distinguishing ID)
 * triple whose signature verified; there is no value. When a bucket is full
 * the slot after the last one replaced goes (round robin per bucket). Only
 * successes are stored, so a full or cold cache only costs time.
 */
#define WAYS 4

struct slot {
	unsigned char key[CA_SIGCACHE_KEYLEN];
	int used;
};

struct ca_sigcache {
	pthread_mutex_t lock;
	struct slot *slots;
	unsigned char *victim; /* per bucket: next slot to replace */
	size_t nbuckets;       /* power of two */
	unsigned refs;
	unsigned long hits, misses;
};

struct ca_sigcache *
ca_sigcache_new(size_t entries)
{
	struct ca_sigcache *c;
	size_t nb = 1;

	if (entries == 0)
		entries = 1024;
	if (entries > (1u << 24))
		entries = 1u << 24;
	while (nb * WAYS < entries)
		nb <<= 1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->slots = calloc(nb * WAYS, sizeof(*c->slots))) == NULL ||
	    (c->victim = calloc(nb, 1)) == NULL ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->slots);
		free(c->victim);
		free(c);
		return NULL;
	}
	c->nbuckets = nb;
	c->refs = 1;
	return c;
}

void
ca_sigcache_up_ref(struct ca_sigcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
}

void
ca_sigcache_free(struct ca_sigcache *c)
{
	unsigned left;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left != 0)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c->victim);
	free(c);
}

static size_t
bucket_of(const struct ca_sigcache *c, const unsigned char *key)
{
	size_t h = 0;
	int i;

	for (i = 0; i < (int)sizeof(h); i++)
		h = (h << 8) | key[i];
	return h & (c->nbuckets - 1);
}

int
ca_sigcache_lookup(struct ca_sigcache *c, const unsigned char *key)
{
	struct slot *s;
	int i, found = 0;

	pthread_mutex_lock(&c->lock);
	s = &c->slots[bucket_of(c, key) * WAYS];
	for (i = 0; i < WAYS; i++) {
		if (s[i].used &&
		    memcmp(s[i].key, key, CA_SIGCACHE_KEYLEN) == 0) {
			found = 1;
			break;
		}
	}
	if (found)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return found;
}

void
ca_sigcache_insert(struct ca_sigcache *c, const unsigned char *key)
{
	size_t b;
	struct slot *s;
	int i;

	pthread_mutex_lock(&c->lock);
	b = bucket_of(c, key);
	s = &c->slots[b * WAYS];
	for (i = 0; i < WAYS; i++) {
		if (s[i].used && memcmp(s[i].key, key, CA_SIGCACHE_KEYLEN) == 0)
			goto out;
	}
	for (i = 0; i < WAYS; i++) {
		if (!s[i].used)
			break;
	}
	if (i == WAYS) {
		i = c->victim[b] % WAYS;
		c->victim[b] = (unsigned char)((i + 1) % WAYS);
	}
	memcpy(s[i].key, key, CA_SIGCACHE_KEYLEN);
	s[i].used = 1;
out:
	pthread_mutex_unlock(&c->lock);
}

void
ca_sigcache_stats(struct ca_sigcache *c, unsigned long *hits,
    unsigned long *misses)
{
	unsigned long h = 0, m = 0;

	if (c != NULL) {
		pthread_mutex_lock(&c->lock);
		h = c->hits;
		m = c->misses;
		pthread_mutex_unlock(&c->lock);
	}
	if (hits != NULL)
		*hits = h;
	if (misses != NULL)
		*misses = m;
}

void
ca_verify_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n;

	if (dstlen == 0)
		return;
	n = strlen(src);
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}
