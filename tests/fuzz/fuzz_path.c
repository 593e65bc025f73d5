/* tests/fuzz/fuzz_path.c: fuzz target for request path normalisation, checking what a normalised path can never hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw, out[512], again[512];
	size_t i, n;

	if ((raw = malloc(size + 1)) == NULL)
		return 0;
	memcpy(raw, data, size);
	raw[size] = '\0';
	if (gw_path_normalise(raw, out, sizeof(out)) == 0) {
		n = strlen(out);
		if (out[0] != '/' || strstr(out, "//") != NULL ||
		    strstr(out, "/../") != NULL || strstr(out, "/./") != NULL ||
		    strchr(out, '\\') != NULL || strchr(out, '%') != NULL ||
		    (n >= 2 && strcmp(out + n - 2, "/.") == 0) ||
		    (n >= 3 && strcmp(out + n - 3, "/..") == 0))
			abort();
		for (i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 ||
			    (unsigned char)out[i] == 0x7f)
				abort();
		/* What came out goes through unchanged a second time. */
		if (gw_path_normalise(out, again, sizeof(again)) != 0 ||
		    strcmp(out, again) != 0)
			abort();
	}
	free(raw);
	return 0;
}
