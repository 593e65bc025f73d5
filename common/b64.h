/* common/b64.h: base64, base64url and hex encoding and strict decoding. */
#ifndef UK_B64_H
#define UK_B64_H

#include <stddef.h>

/* Encodes len bytes of in as standard base64 with padding (url = 0) or
 * base64url without padding (url = 1). Returns a malloc'd NUL-terminated
 * string owned by the caller, or NULL when out of memory. */
char *b64_encode(const unsigned char *in, size_t len, int url);

/* Decodes the NUL-terminated text in. Strict: no whitespace, correct
 * padding (required for standard, forbidden for url), no trailing bits set.
 * On success *out (malloc'd, caller frees) and *outlen are set. Returns 0,
 * UK_ERR_BASE64, UK_ERR_LIMIT (input longer than maxlen chars) or
 * UK_ERR_NOMEM. */
int b64_decode(const char *in, size_t maxlen, int url, unsigned char **out,
    size_t *outlen);

/* Lowercase hex of len bytes into out, which must hold 2 * len + 1. */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* As hex_encode, in uppercase. */
void hex_encode_upper(const unsigned char *in, size_t len, char *out);

/* Decodes len hex digits of in (either case; len even, no NUL needed) into
 * out, which must hold len / 2 bytes. Returns 0, or UK_ERR_INPUT for an odd
 * len or a non-hex character (out is then partly written). */
int hex_decode(const char *in, size_t len, unsigned char *out);

#endif
