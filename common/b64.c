/* common/b64.c: base64, base64url and hex encoding and strict decoding. */
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/errors.h"

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64_encode(const unsigned char *in, size_t len, int url)
{
	const char *a = url ? url_alpha : std_alpha;
	size_t olen = 4 * ((len + 2) / 3) + 1, i, o = 0;
	char *out;

	if (len > ((size_t)-1) / 2)
		return NULL;
	if ((out = malloc(olen)) == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = a[v >> 6 & 63];
		else if (!url)
			out[o++] = '=';
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int
val(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t maxlen, int url, unsigned char **out,
    size_t *outlen)
{
	size_t len = strnlen(in, maxlen + 1), pad = 0, i, o = 0, rem;
	unsigned char *buf;
	unsigned acc = 0;
	int bits = 0;

	*out = NULL;
	*outlen = 0;
	if (len > maxlen)
		return UK_ERR_LIMIT;
	if (!url) {
		if (len % 4 != 0)
			return UK_ERR_BASE64;
		while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
			pad++;
	}
	len -= pad;
	rem = len % 4;
	if (rem == 1)
		return UK_ERR_BASE64;
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
		return UK_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		int v = val(in[i], url);
		if (v < 0) {
			free(buf);
			return UK_ERR_BASE64;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero: one encoding per byte string. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		free(buf);
		return UK_ERR_BASE64;
	}
	*out = buf;
	*outlen = o;
	return 0;
}

static void
hex_encode_digits(const unsigned char *in, size_t len, char *out,
    const char *digits)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	hex_encode_digits(in, len, out, "0123456789abcdef");
}

void
hex_encode_upper(const unsigned char *in, size_t len, char *out)
{
	hex_encode_digits(in, len, out, "0123456789ABCDEF");
}

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, size_t len, unsigned char *out)
{
	size_t i;
	int h, l;

	if (len % 2 != 0)
		return UK_ERR_INPUT;
	for (i = 0; i < len / 2; i++) {
		if ((h = hex_digit((unsigned char)in[2 * i])) < 0 ||
		    (l = hex_digit((unsigned char)in[2 * i + 1])) < 0)
			return UK_ERR_INPUT;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}
