/* common/rnd.h: randomness from the operating system's CSPRNG via OpenSSL. */
#ifndef UK_RND_H
#define UK_RND_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with len random bytes. Returns 0 or UK_ERR_INTERNAL. */
int rnd_bytes(void *buf, size_t len);

/* Writes 2 * nbytes lowercase hex characters of fresh randomness and a NUL
 * into out (which must hold 2 * nbytes + 1). Returns 0 or UK_ERR_INTERNAL. */
int rnd_hex(char *out, size_t nbytes);

/* Uniform integer in [0, bound), bound > 0, without modulo bias. */
int rnd_uniform(uint32_t bound, uint32_t *out);

#endif
