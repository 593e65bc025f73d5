/* tests/fuzz/fuzz_cookie.c: fuzz target for Cookie header parsing: the first line is the cookie name, the rest the header value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "gateway/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl, out[64];
	const char *name = "__Host-ukey_sid", *hdr;
	size_t i;
	int rc;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	hdr = buf;
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		name = buf;
		hdr = nl + 1;
	}
	rc = gw_cookie_get(hdr, name, out, sizeof(out));
	if (rc == 0) {
		for (i = 0; out[i] != '\0'; i++) {
			unsigned char c = (unsigned char)out[i];

			if (c <= 0x20 || c == '"' || c == ',' || c == ';' ||
			    c == '\\' || c >= 0x7f)
				abort();
		}
	} else if (rc != UK_ERR_NOT_FOUND && rc != UK_ERR_BAD_COOKIE)
		abort();
	else if (out[0] != '\0')
		abort();
	(void)gw_hdr_is_identity(hdr);
	(void)gw_hdr_is_hop_by_hop(name, hdr);
	free(buf);
	return 0;
}
