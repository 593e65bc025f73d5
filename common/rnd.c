/* common/rnd.c: randomness from the operating system's CSPRNG via OpenSSL. */
#include <openssl/rand.h>

#include "common/b64.h"
#include "common/errors.h"
#include "common/rnd.h"

int
rnd_bytes(void *buf, size_t len)
{
	if (len > (size_t)0x7fffffff || RAND_bytes(buf, (int)len) != 1)
		return UK_ERR_INTERNAL;
	return 0;
}

int
rnd_hex(char *out, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf) || rnd_bytes(buf, nbytes) != 0)
		return UK_ERR_INTERNAL;
	hex_encode(buf, nbytes, out);
	return 0;
}

int
rnd_uniform(uint32_t bound, uint32_t *out)
{
	uint32_t r, min;

	if (bound == 0)
		return UK_ERR_INTERNAL;
	/* 2**32 % bound, the number of values to reject at the bottom. */
	min = (uint32_t)(-bound) % bound;
	do {
		if (rnd_bytes(&r, sizeof(r)) != 0)
			return UK_ERR_INTERNAL;
	} while (r < min);
	*out = r % bound;
	return 0;
}
