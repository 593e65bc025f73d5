/* tests/fuzz/fuzz_jwt.c: fuzz target for the strict ES256 assertion verifier: a token alone, or "JWKS\ntoken". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "gateway/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public key of the corpus's valid tokens (made for this target). */
static const char jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"rnn_rPjt6iGEMOzgDxV2zQR0oComxcZY0sk9K6kBJLM\","
    "\"y\":\"NiYNA3KXYGqcu0WBaBDJda7B7OZayOOqi5nVc5jIEfk\","
    "\"kid\":\"EvYqnLIjMMu9AjewOPfOqkzJ1hFhNXsCncImx-VjCxQ\","
    "\"use\":\"sig\",\"alg\":\"ES256\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl, *claims = NULL;
	const char *tok, *keys = jwks, *why = NULL;
	int rc;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	tok = buf;
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		keys = buf;
		tok = nl + 1;
	}
	rc = gw_jwt_verify_ex(tok, keys, "ukeygate", "hall", 1700000010, 5,
	    &claims, &why);
	if ((rc != 0 && rc != UK_ERR_JWT_INVALID) || why == NULL ||
	    (rc == 0) != (claims != NULL))
		abort();
	free(claims);
	free(buf);
	return 0;
}
