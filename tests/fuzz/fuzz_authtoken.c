/* tests/fuzz/fuzz_authtoken.c: fuzz target for the UKey login token's intake (JSON, base64, certificate DER, algorithm and key). */
#include <stddef.h>
#include <stdint.h>

#include "gateway/authcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is the token object's JSON text, as POST /auth/cert carries
 * it; what parses is taken apart again and released. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_authtoken t;
	unsigned char tbs[64];

	if (gw_authtoken_parse((const char *)data, size, &t) == 0) {
		(void)gw_authcert_tbs(t.alg, t.has_origin ? t.origin : "",
		    t.has_nonce ? t.nonce : "", tbs);
		gw_authtoken_clear(&t);
	}
	return 0;
}
