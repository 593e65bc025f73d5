/* tests/fuzz/fuzz_routes.c: fuzz target for the routes file parser and the policy decision. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gateway/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/", "/hall/", "/hall/x",
		"/counter", "/counter/x", "/a/b/c", "/static/a.css" };
	static const char *const methods[] = { "GET", "POST", "DELETE",
		"BREW" };
	struct gw_policy *p = NULL;
	const struct gw_rule *r;
	struct gw_identity id;
	char err[256];
	size_t i, k;

	if (gw_policy_parse((const char *)data, size, "fuzz", &p, err,
	        sizeof(err)) != 0)
		return 0;
	memset(&id, 0, sizeof(id));
	snprintf(id.kind, sizeof(id.kind), "operator");
	snprintf(id.scope, sizeof(id.scope), "query");
	snprintf(id.roles, sizeof(id.roles), "maker");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++)
			if (gw_policy_match(p, paths[i], methods[k], &r) == 0) {
				(void)gw_policy_check(r, NULL, 1000);
				(void)gw_policy_check(r, &id, 1000);
			}
	gw_policy_free(p);
	return 0;
}
