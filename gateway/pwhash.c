/* gateway/pwhash.c: Argon2id password hashes (libargon2) in PHC string form, with rehash detection and a computation counter. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/pwhash.h"

#define PW_SALT_LEN 16
#define PW_HASH_LEN 32

/* Bounds on parameters read from a stored string, so that a damaged row
 * cannot make one check take the machine: 4 GiB, 64 passes, 64 lanes. */
#define PW_M_MAX (4u * 1024 * 1024)
#define PW_T_MAX 64
#define PW_P_MAX 64

static _Atomic uint64_t pw_count;

void
gw_pwhash_defaults(struct gw_pwhash_params *p)
{
	p->t_cost = 3;
	p->m_cost_kib = 65536;
	p->parallelism = 1;
}

uint64_t
gw_pwhash_count(void)
{
	return atomic_load(&pw_count);
}

static int
params_ok(const struct gw_pwhash_params *p)
{
	return p != NULL && p->t_cost >= 1 && p->t_cost <= PW_T_MAX &&
	    p->parallelism >= 1 && p->parallelism <= PW_P_MAX &&
	    p->m_cost_kib >= 8 * p->parallelism && p->m_cost_kib <= PW_M_MAX;
}

int
gw_pwhash(const struct gw_pwhash_params *p, const struct secret *pw, char **phc)
{
	unsigned char salt[PW_SALT_LEN];
	char *enc = NULL;
	size_t enclen;
	int rc, r = UK_ERR_INTERNAL;

	if (phc != NULL)
		*phc = NULL;
	if (phc == NULL || pw == NULL || pw->buf == NULL || !params_ok(p)) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		goto out;
	enclen = argon2_encodedlen(p->t_cost, p->m_cost_kib, p->parallelism,
	    PW_SALT_LEN, PW_HASH_LEN, Argon2_id);
	if ((enc = calloc(1, enclen + 1)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	rc = argon2id_hash_encoded(p->t_cost, p->m_cost_kib, p->parallelism,
	    pw->buf, pw->len, salt, sizeof(salt), PW_HASH_LEN, enc, enclen);
	atomic_fetch_add(&pw_count, 1);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (rc != ARGON2_OK)
		goto out;
	*phc = enc;
	enc = NULL; /* transferred */
	r = 0;
out:
	OPENSSL_cleanse(salt, sizeof(salt));
	free(enc);
	return r;
}

/* Parses a decimal uint32 at *s up to the first non-digit; advances *s. */
static int
parse_u32(const char **s, uint32_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	*s = p;
	return 0;
}

/* Length of the unpadded base64 run at s (standard alphabet). */
static size_t
b64_run(const char *s)
{
	return strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/");
}

/* Checks phc is "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" with bounded
 * parameters; fills *got. Returns 0 or UK_ERR_INPUT. */
static int
phc_parse(const char *phc, struct gw_pwhash_params *got)
{
	const char *s = phc;
	size_t n;

	if (phc == NULL || strncmp(s, "$argon2id$v=19$m=", 17) != 0)
		return UK_ERR_INPUT;
	s += 17;
	if (parse_u32(&s, &got->m_cost_kib) != 0 || strncmp(s, ",t=", 3) != 0)
		return UK_ERR_INPUT;
	s += 3;
	if (parse_u32(&s, &got->t_cost) != 0 || strncmp(s, ",p=", 3) != 0)
		return UK_ERR_INPUT;
	s += 3;
	if (parse_u32(&s, &got->parallelism) != 0 || *s++ != '$')
		return UK_ERR_INPUT;
	n = b64_run(s);
	if (n < 11 || n > 64 || s[n] != '$') /* 8..48 salt bytes */
		return UK_ERR_INPUT;
	s += n + 1;
	n = b64_run(s);
	if (n < 22 || n > 86 || s[n] != '\0') /* 16..64 hash bytes */
		return UK_ERR_INPUT;
	if (!params_ok(got))
		return UK_ERR_INPUT;
	return 0;
}

int
gw_pwhash_verify(const struct gw_pwhash_params *p, const char *phc,
    const struct secret *pw, int *rehash)
{
	struct gw_pwhash_params got;
	int rc, r = UK_ERR_INPUT;

	if (rehash != NULL)
		*rehash = 0;
	if (pw == NULL || pw->buf == NULL || phc_parse(phc, &got) != 0)
		goto out;
	rc = argon2id_verify(phc, (const char *)pw->buf, pw->len);
	if (rc == ARGON2_OK || rc == ARGON2_VERIFY_MISMATCH)
		atomic_fetch_add(&pw_count, 1);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (rc == ARGON2_VERIFY_MISMATCH) {
		r = UK_ERR_LOGIN_PASSWORD;
		goto out;
	}
	if (rc != ARGON2_OK)
		goto out;
	if (rehash != NULL && p != NULL &&
	    (got.m_cost_kib != p->m_cost_kib || got.t_cost != p->t_cost ||
	        got.parallelism != p->parallelism))
		*rehash = 1;
	r = 0;
out:
	return r;
}
