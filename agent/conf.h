/* agent/conf.h: ukey-agent's configuration: the [agent] schema, origin and module lists, the state directory. */
#ifndef UK_AGENT_CONF_H
#define UK_AGENT_CONF_H

#include <stddef.h>

#include "common/config.h"

/* Where ukey-agent looks for its configuration when -c is not given. */
#define AG_CONFIG_DEFAULT "/etc/ukey/agent.conf"

/* Default TCP port on 127.0.0.1 and ::1. */
#define AG_PORT_DEFAULT 24680

/* Longest origin accepted ("https://" + host + ":" + port). */
#define AG_ORIGIN_MAX 255

/* Most entries in allowed_origins or module_allowlist. */
#define AG_LIST_MAX 32

/* The version reported as appVersion and by --version. */
#define AG_VERSION "1.0.0"

/*
 * The [agent] section (terminated by an entry whose section is NULL):
 * port, allowed_origins, module, module_allowlist, pin_source,
 * pinentry, pinentry_timeout, state_dir, counter_mode, trusted_ca,
 * gateway_url, rsa_algorithm, log_level. Read it with the accessors of
 * common/config.h, section "agent".
 */
extern const struct cfg_key ag_config_schema[];

/* A NULL-terminated list of strings split from a space-separated value;
 * free with ag_list_free. */
struct ag_list {
	char **v; /* v[n] == NULL */
	size_t n;
};

/*
 * Loads the configuration at path (NULL: the schema's defaults only) and
 * checks what the schema cannot: every allowed origin is a well-formed
 * "scheme://host[:port]" with scheme http or https and nothing after it;
 * module and module_allowlist entries are absolute paths; at most
 * AG_LIST_MAX entries each. On failure err holds a one-line message naming
 * the file. *out belongs to the caller (config_free). Returns 0, the
 * UK_ERR_CONFIG_* codes, UK_ERR_IO, UK_ERR_NOMEM.
 */
int
ag_config_load(const char *path, struct config **out, char *err, size_t errlen);

/* Splits the space-separated value of [agent] key of cfg into *out (an
 * unset key gives an empty list). Returns 0 or UK_ERR_NOMEM. */
int
ag_config_list(const struct config *cfg, const char *key, struct ag_list *out);

/* Frees the strings of l and empties it; an empty list is a no-op. */
void ag_list_free(struct ag_list *l);

/* Checks that s is a serialised web origin: "http://" or "https://", a
 * host of letters, digits, '-', '.' (or a bracketed IPv6 literal), an
 * optional ":port" (1-65535), nothing else, at most AG_ORIGIN_MAX
 * characters. Returns 0 or UK_ERR_INPUT. */
int ag_origin_valid(const char *s);

/* Returns 1 when origin is on the allowlist (compared without regard to
 * ASCII case, as browsers serialise origins in lower case), else 0. A
 * NULL or malformed origin is never allowed. */
int ag_origin_allowed(const struct ag_list *allow, const char *origin);

/* Writes the lockout guard's directory into out (size bytes): [agent]
 * state_dir, or else $XDG_STATE_HOME/ukey-agent, or else
 * <home>/.local/state/ukey-agent with home from the password database.
 * Returns 0, UK_ERR_CONFIG_VALUE (a relative state_dir) or UK_ERR_LIMIT. */
int ag_config_state_dir(const struct config *cfg, char *out, size_t size);

#endif
