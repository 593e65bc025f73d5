/* certs/ca_conf.h: the CA's settings file ([ca] section), shared by ukey-ca and by ukey-gateway's counter console so both issue alike. */
#ifndef UK_CERTS_CA_CONF_H
#define UK_CERTS_CA_CONF_H

#include <stddef.h>

#include "certs/ca.h"
#include "common/config.h"

/* The [ca] section's keys, terminated by an entry whose section is NULL. */
extern const struct cfg_key ca_config_schema[];

/*
 * Loads path (NULL: the defaults) against ca_config_schema and fills *c
 * (ca_config_init, then the file's values; crl_url and ocsp_url checked
 * with ca_url_check). The strings in *c point into *cfg, which belongs to
 * the caller (config_free). On failure a one-line message naming the file
 * is put into err and nothing is returned in *cfg. Returns 0 or
 * UK_ERR_CONFIG_*.
 */
int ca_config_load(const char *path, struct config **cfg, struct ca_config *c,
    char *err, size_t errlen);

#endif
