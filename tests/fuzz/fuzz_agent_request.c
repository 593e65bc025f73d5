/* tests/fuzz/fuzz_agent_request.c: fuzz target for the agent's request bodies (the first byte picks the endpoint) and the worker's message framing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ipc.h"
#include "agent/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ag_req_kind kinds[] = { AG_REQ_AUTH, AG_REQ_ENROLL,
		AG_REQ_INSTALL, AG_REQ_UNLOCK, AG_REQ_CHANGE_PIN };
	struct ag_msg *m = NULL;
	struct ag_req q;
	char serial[17];
	struct p11_id id;

	if (size == 0)
		return 0;
	if (ag_req_parse(kinds[data[0] % 5], (const char *)data + 1, size - 1,
	        &q) == 0) {
		(void)ag_nonce_valid(q.nonce);
		if (q.cert[0] != '\0')
			(void)ag_cert_id_parse(q.cert, serial, &id);
		ag_req_clear(&q);
	}
	/* The same bytes as a frame between the front and the worker. */
	if (ag_msg_decode(data, size, &m) == 0) {
		struct secret *s = NULL;
		uint32_t v;
		(void)ag_msg_str(m, AG_T_ORIGIN);
		(void)ag_msg_u32(m, AG_T_CODE, &v);
		if (ag_msg_secret(m, AG_T_PIN, &s) == 0)
			secret_free(s);
		ag_msg_free(m);
	}
	return 0;
}
