/* tests/fuzz/fuzz_assuan.c: fuzz target for the Assuan reply parser that reads pinentry's answers (lines split at LF). */
#include <stdint.h>
#include <string.h>

#include "agent/pinentry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_assuan *a = ag_assuan_new();
	enum ag_assuan_status st;
	const char *p = (const char *)data, *nl;
	size_t left = size, n;
	char esc[128];

	if (a == NULL)
		return 0;
	while (left > 0) {
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) : left;
		if (ag_assuan_feed(a, p, n, &st) != 0 || st != AG_ASSUAN_MORE) {
			struct secret *s = ag_assuan_take(a);
			secret_free(s);
		}
		p += n;
		left -= n;
		if (nl != NULL) {
			p++;
			left--;
		}
	}
	ag_assuan_free(a);
	/* And the other direction: escaping for commands. */
	if (size > 0 && memchr(data, '\0', size) == NULL && size < 4096) {
		char buf[4096];
		memcpy(buf, data, size);
		buf[size] = '\0';
		(void)ag_assuan_escape(buf, esc, sizeof(esc));
	}
	return 0;
}
