/* tests/fuzz/fuzz_config.c: fuzz target for the strict INI configuration parser. */
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cfg_key schema[] = {
	{ "ca", "database", CFG_STRING, NULL, 0, 0, NULL, 0, "store" },
	{ "ca", "crl_next_update_hours", CFG_INT, "24", 1, 8760, NULL, 0,
	    "hours" },
	{ "ca", "strict", CFG_BOOL, "true", 0, 0, NULL, 0, "flag" },
	{ "ca", "mode", CFG_ENUM, "a", 0, 0, "a b c", 0, "mode" },
	{ "sms", "secret", CFG_SECRET, NULL, 0, 0, NULL, 0, "key" },
	{ "sms", "url", CFG_STRING, NULL, 0, 0, NULL, 1, "url" },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[256];
	FILE *devnull;

	if (config_load_buffer((const char *)data, size, "fuzz", schema, &cfg,
	        err, sizeof(err)) == 0) {
		if ((devnull = fopen("/dev/null", "w")) != NULL) {
			config_dump(cfg, devnull);
			fclose(devnull);
		}
		(void)config_str(cfg, "ca", "database");
		(void)config_secret(cfg, "sms", "secret");
	}
	config_free(cfg);
	return 0;
}
