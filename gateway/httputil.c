/* gateway/httputil.c: request path normalisation, cookie lookup and header name classes, written to be fuzzed. */
#include <stddef.h>
#include <string.h>

#include "common/errors.h"
#include "gateway/httputil.h"

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1 when the len bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned long cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
gw_path_normalise(const char *raw, char *out, size_t size)
{
	size_t i, o = 0, seg;
	int r = UK_ERR_BAD_PATH;

	if (out == NULL || size == 0)
		return UK_ERR_BAD_PATH;
	out[0] = '\0';
	if (raw == NULL || raw[0] != '/')
		goto out;
	seg = 0; /* where the current segment starts in out */
	for (i = 0; raw[i] != '\0'; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '%') {
			int hi, lo;

			if ((hi = hexval((unsigned char)raw[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)raw[i + 2])) < 0)
				goto out;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* Nothing that would change meaning when decoded a
			 * second time, or split a segment differently. */
			if (c == '/' || c == '\\' || c == '%' || c == '\0' ||
			    c == '?' || c == '#' || c == ';')
				goto out;
		} else if (c == '\\' || c == ';')
			goto out;
		if (c < 0x20 || c == 0x7f)
			goto out;
		if (c == '/') {
			/* Close the segment: refuse "." and "..". */
			if ((o - seg == 1 && out[seg] == '.') ||
			    (o - seg == 2 && out[seg] == '.' &&
			        out[seg + 1] == '.'))
				goto out;
			if (o > 0 && out[o - 1] == '/')
				continue; /* "//" */
			if (o + 1 >= size)
				goto out;
			out[o++] = '/';
			seg = o;
			continue;
		}
		if (o + 1 >= size)
			goto out;
		out[o++] = (char)c;
	}
	if ((o - seg == 1 && out[seg] == '.') ||
	    (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'))
		goto out;
	if (!utf8_valid((const unsigned char *)out, o))
		goto out;
	out[o] = '\0';
	r = 0;
out:
	if (r != 0)
		out[0] = '\0';
	return r;
}

/* RFC 6265 cookie-octet. */
static int
cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	    (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	    (c >= 0x5d && c <= 0x7e);
}

static int
ows(char c)
{
	return c == ' ' || c == '\t';
}

int
gw_cookie_get(const char *header, const char *name, char *out, size_t size)
{
	const char *p, *nend, *v, *vend, *end;
	size_t nlen, vlen;
	int found = 0, r = UK_ERR_NOT_FOUND;

	if (out != NULL && size > 0)
		out[0] = '\0';
	if (header == NULL || name == NULL || out == NULL || size == 0)
		return UK_ERR_BAD_COOKIE;
	if ((nlen = strlen(name)) == 0)
		return UK_ERR_NOT_FOUND;
	for (p = header; *p != '\0';) {
		while (ows(*p) || *p == ';')
			p++;
		if (*p == '\0')
			break;
		/* name up to '=' or ';' */
		for (nend = p; *nend != '\0' && *nend != '=' && *nend != ';';
		     nend++)
			;
		if (*nend != '=') {
			/* a pair without '=': not a cookie, skip it */
			p = nend;
			continue;
		}
		v = nend + 1;
		for (end = v; *end != '\0' && *end != ';'; end++)
			;
		vend = end;
		/* trim OWS around the name and the value */
		while (nend > p && ows(nend[-1]))
			nend--;
		while (ows(*v) && v < vend)
			v++;
		while (vend > v && ows(vend[-1]))
			vend--;
		if ((size_t)(nend - p) == nlen && memcmp(p, name, nlen) == 0) {
			if (found) {
				r = UK_ERR_BAD_COOKIE; /* given twice */
				goto out;
			}
			found = 1;
			vlen = (size_t)(vend - v);
			if (vlen >= 2 && v[0] == '"' && vend[-1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen >= size) {
				r = UK_ERR_BAD_COOKIE;
				goto out;
			}
			for (size_t k = 0; k < vlen; k++) {
				if (!cookie_octet((unsigned char)v[k])) {
					r = UK_ERR_BAD_COOKIE;
					goto out;
				}
			}
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			r = 0;
		}
		p = end;
	}
out:
	if (r != 0)
		out[0] = '\0';
	return r;
}

static unsigned char
hdr_fold(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	if (c == '_')
		return '-';
	return c;
}

/* Compares n bytes of a and b case-insensitively with '_' read as '-'. */
static int
hdr_eqn(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (hdr_fold((unsigned char)a[i]) !=
		    hdr_fold((unsigned char)b[i]))
			return 0;
		if (a[i] == '\0')
			return 1;
	}
	return 1;
}

int
gw_hdr_is_identity(const char *name)
{
	static const char prefix[] = "x-ukey-";

	if (name == NULL || strlen(name) < sizeof(prefix) - 1)
		return 0;
	return hdr_eqn(name, prefix, sizeof(prefix) - 1);
}

int
gw_hdr_is_hop_by_hop(const char *name, const char *conn)
{
	static const char *const fixed[] = { "connection", "keep-alive",
		"proxy-authenticate", "proxy-authorization", "te", "trailer",
		"transfer-encoding", "upgrade", "proxy-connection", NULL };
	size_t i, nlen;
	const char *p, *e;

	if (name == NULL)
		return 0;
	nlen = strlen(name);
	for (i = 0; fixed[i] != NULL; i++) {
		if (strlen(fixed[i]) == nlen && hdr_eqn(name, fixed[i], nlen))
			return 1;
	}
	if (conn == NULL || nlen == 0)
		return 0;
	for (p = conn; *p != '\0';) {
		while (ows(*p) || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		while (e > p && ows(e[-1]))
			e--;
		if ((size_t)(e - p) == nlen && hdr_eqn(name, p, nlen))
			return 1;
		while (*e != '\0' && *e != ',')
			e++;
		p = e;
	}
	return 0;
}
