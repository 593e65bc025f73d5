/* certs/verify_int.h: internals shared by the verifier's own files (verify*.c); not an interface for other modules. */
#ifndef UK_CERTS_VERIFY_INT_H
#define UK_CERTS_VERIFY_INT_H

#include <stddef.h>

#include "certs/verify.h"

#define CA_SIGCACHE_KEYLEN 32

/* Takes one more reference on c (NULL is a no-op). */
void ca_sigcache_up_ref(struct ca_sigcache *c);

/* Returns 1 when key (CA_SIGCACHE_KEYLEN bytes) is in c, else 0; counts a
 * hit or a miss. Thread-safe. */
int ca_sigcache_lookup(struct ca_sigcache *c, const unsigned char *key);

/* Remembers key in c, evicting an older entry when its bucket is full.
 * Thread-safe. */
void ca_sigcache_insert(struct ca_sigcache *c, const unsigned char *key);

/* Copies src into dst (dstlen > 0) as a NUL-terminated string, cutting it
 * if needed. */
void ca_verify_strlcpy(char *dst, const char *src, size_t dstlen);

#endif
