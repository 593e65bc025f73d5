/* gateway/pwhash.h: password hashes: Argon2id in PHC string form, with rehash when the parameters change. */
#ifndef UK_GW_PWHASH_H
#define UK_GW_PWHASH_H

#include <stdint.h>

#include "common/secret.h"

/* Argon2id parameters. */
struct gw_pwhash_params {
	uint32_t t_cost;      /* iterations, default 3 */
	uint32_t m_cost_kib;  /* memory in KiB, default 65536 */
	uint32_t parallelism; /* lanes, default 1 */
};

/* The defaults above. */
void gw_pwhash_defaults(struct gw_pwhash_params *p);

/* Hashes pw with a fresh 16-byte salt into *phc ("$argon2id$v=19$m=...,
 * t=...,p=...$salt$hash", malloc'd, caller frees). Returns 0,
 * UK_ERR_NOMEM, UK_ERR_INTERNAL. */
int gw_pwhash(const struct gw_pwhash_params *p, const struct secret *pw,
    char **phc);

/* Checks pw against phc in constant time. Returns 0 when it matches,
 * UK_ERR_LOGIN_PASSWORD when not, UK_ERR_INPUT for a malformed or
 * non-Argon2id phc. *rehash (may be NULL) is set to 1 when phc was made with
 * parameters other than p. Every call that returns 0 or
 * UK_ERR_LOGIN_PASSWORD has computed exactly one hash: gw_pwhash_count
 * says how many, for tests and /metrics. */
int gw_pwhash_verify(const struct gw_pwhash_params *p, const char *phc,
    const struct secret *pw, int *rehash);

/* Number of Argon2 computations (gw_pwhash and gw_pwhash_verify) made by
 * this process. */
uint64_t gw_pwhash_count(void);

#endif
