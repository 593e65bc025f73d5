/* tests/fuzz/fuzz_scan_params.c: fuzz target for the scan login's parameters: the first line is a ticket id (and a state name), the rest the OAuth callback's query string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "gateway/scan.h"
#include "gateway/wechat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl, code[GW_WECHAT_CODE_MAX + 1];
	char state[GW_WECHAT_STATE_LEN + 1];
	const char *id = "", *query;
	enum gw_scan_state s;
	size_t qlen, i;
	int rc;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	query = buf;
	qlen = size;
	if ((nl = memchr(buf, '\n', size)) != NULL) {
		*nl = '\0';
		id = buf;
		query = nl + 1;
		qlen = size - (size_t)(nl + 1 - buf);
	}
	if (gw_scan_id_valid(id)) {
		if (strlen(id) != GW_SCAN_ID_LEN)
			abort();
		for (i = 0; id[i] != '\0'; i++)
			if (strchr("0123456789abcdef", id[i]) == NULL)
				abort();
	}
	if (gw_scan_state_parse(id, &s) == 0 &&
	    strcmp(gw_scan_state_name(s), id) != 0)
		abort();
	rc = gw_wechat_callback_parse(query, qlen, code, state);
	if (rc == 0) {
		if (!gw_wechat_code_valid(code) ||
		    !gw_wechat_state_valid(state))
			abort();
	} else {
		if (rc != UK_ERR_INPUT && rc != UK_ERR_LIMIT &&
		    rc != UK_ERR_WECHAT_CODE && rc != UK_ERR_SCAN_OAUTH_STATE)
			abort();
		if (code[0] != '\0' || state[0] != '\0')
			abort();
	}
	free(buf);
	return 0;
}
