/* tests/fuzz/fuzz_reset.c: fuzz target for the SMS reset request bodies (request, verify, password) and the Aliyun percent-encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/secret.h"
#include "gateway/reset.h"
#include "gateway/sms_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char login[GW_LOGIN_MAX + 1], code[7], tok[GW_RESET_TOKEN_LEN + 1];
	struct secret *pw = NULL;
	const char *b = (const char *)data;
	char *s, *e;
	size_t i;

	if (size > 8192)
		return 0;
	if (gw_reset_parse_request(b, size, login) == 0 &&
	    (login[0] == '\0' || strlen(login) > GW_LOGIN_MAX))
		abort();
	if (gw_reset_parse_verify(b, size, login, code) == 0) {
		if (strlen(code) != 6)
			abort();
		for (i = 0; i < 6; i++)
			if (code[i] < '0' || code[i] > '9')
				abort();
	}
	if (gw_reset_parse_password(b, size, tok, &pw) == 0) {
		if (pw == NULL || pw->len == 0 ||
		    strlen(tok) != GW_RESET_TOKEN_LEN)
			abort();
	} else if (pw != NULL) {
		abort();
	}
	secret_free(pw);
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((e = gw_sms_pct_encode(s)) != NULL) {
		for (i = 0; e[i] != '\0'; i++)
			if (!((e[i] >= 'A' && e[i] <= 'Z') ||
			        (e[i] >= 'a' && e[i] <= 'z') ||
			        (e[i] >= '0' && e[i] <= '9') ||
			        strchr("-_.~%", e[i]) != NULL))
				abort();
		free(e);
	}
	free(s);
	return 0;
}
