/* certs/ca_conf.c: the CA's settings file ([ca] section), shared by ukey-ca and by ukey-gateway's counter console. */
#include "certs/ca_conf.h"

#include <stdio.h>

#include "certs/ca_profile.h"
#include "common/errors.h"

/* The [ca] section. */
const struct cfg_key ca_config_schema[] = {
	{ "ca", "database", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "store: a file path (SQLite) or a postgresql:// URL" },
	{ "ca", "crl_url", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "CRL distribution point put in issued certificates" },
	{ "ca", "ocsp_url", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "OCSP responder URL (AIA) put in issued certificates" },
	{ "ca", "crl_next_update_hours", CFG_INT, "24", 1, 8760, NULL, 0,
	    "hours from a CRL's thisUpdate to its nextUpdate" },
	{ "ca", "ocsp_next_update_minutes", CFG_INT, "60", 1, 10080, NULL, 0,
	    "validity of OCSP responses, in minutes" },
	{ "ca", "operator_days", CFG_INT, "365", 1, 3650, NULL, 0,
	    "validity of operator certificates, in days" },
	{ "ca", "staff_days", CFG_INT, "365", 1, 3650, NULL, 0,
	    "validity of staff certificates, in days" },
	{ "ca", "ocsp_days", CFG_INT, "30", 1, 3650, NULL, 0,
	    "validity of OCSP signer certificates, in days" },
	{ "ca", "min_rsa_bits", CFG_INT, "2048", 2048, 8192, NULL, 0,
	    "smallest RSA key accepted in requests" },
	{ "ca", "pkcs11_module", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "PKCS#11 module (absolute path) a token CA key may load" },
	{ "ca", "pkcs11_module_allowlist", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "further PKCS#11 modules allowed, comma-separated paths" },
	{ "ca", "ocsp_http_max_age", CFG_INT, "0", 0, 86400, NULL, 0,
	    "Cache-Control max-age of OCSP answers, seconds (0: no-cache)" },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

int
ca_config_load(const char *path, struct config **cfg, struct ca_config *c,
    char *err, size_t errlen)
{
	struct config *f = NULL;
	const char *u;
	int r;

	*cfg = NULL;
	if (path != NULL)
		r = config_load(path, ca_config_schema, &f, err, errlen);
	else
		r = config_defaults(ca_config_schema, &f, err, errlen);
	if (r != 0)
		return r;
	ca_config_init(c);
	c->crl_url = config_str(f, "ca", "crl_url");
	c->ocsp_url = config_str(f, "ca", "ocsp_url");
	c->crl_next_update_secs =
	    (long)config_int(f, "ca", "crl_next_update_hours") * 3600;
	c->ocsp_next_update_secs =
	    (long)config_int(f, "ca", "ocsp_next_update_minutes") * 60;
	c->operator_days = (int)config_int(f, "ca", "operator_days");
	c->staff_days = (int)config_int(f, "ca", "staff_days");
	c->ocsp_days = (int)config_int(f, "ca", "ocsp_days");
	c->min_rsa_bits = (int)config_int(f, "ca", "min_rsa_bits");
	c->pkcs11_module = config_str(f, "ca", "pkcs11_module");
	c->pkcs11_module_allowlist =
	    config_str(f, "ca", "pkcs11_module_allowlist");
	c->ocsp_http_max_age = (long)config_int(f, "ca", "ocsp_http_max_age");
	if (((u = c->crl_url) != NULL && ca_url_check(u) != 0) ||
	    ((u = c->ocsp_url) != NULL && ca_url_check(u) != 0)) {
		snprintf(err, errlen,
		    "%s: [ca] %s must be an http:// or https:// URL without "
		    "spaces or commas",
		    path != NULL ? path : "defaults",
		    u == c->crl_url ? "crl_url" : "ocsp_url");
		config_free(f);
		return UK_ERR_CONFIG_VALUE;
	}
	*cfg = f;
	return 0;
}
