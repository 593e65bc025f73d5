/* gateway/validate.c: checks of registration data (USCC, resident ID, login, phone, roles, free text), the password policy and the masking of personal data. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/identity.h"
#include "gateway/model.h"

/* GB 32100 character set: digits and capitals without I, O, S, V, Z. */
static const char uscc_chars[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* GB 32100 weights of the first 17 characters. */
static const int uscc_weights[17] = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25,
	13, 8, 24, 10, 30, 28 };

/* GB 11643 weights of the first 17 digits, and the check characters. */
static const int rid_weights[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
	8, 4, 2 };
static const char rid_check[] = "10X98765432";

/* Most passwords bytes, least characters. */
#define PW_MAX_BYTES 128
#define PW_MIN_CHARS 8

static int
uscc_value(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(uscc_chars, c)) == NULL)
		return -1;
	return (int)(p - uscc_chars);
}

int
gw_uscc_valid(const char *uscc)
{
	int i, v, sum = 0, check, r = UK_ERR_INPUT;

	if (uscc == NULL || strlen(uscc) != 18)
		goto out;
	for (i = 0; i < 17; i++) {
		if ((v = uscc_value(uscc[i])) < 0)
			goto out;
		sum += v * uscc_weights[i];
	}
	check = (31 - sum % 31) % 31;
	if (uscc[17] != uscc_chars[check])
		goto out;
	r = 0;
out:
	return r;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Whether the 8 digits at s are a date YYYYMMDD from 1900 to 2099. */
static int
date_ok(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int y, m, d;

	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[4] - '0') * 10 + (s[5] - '0');
	d = (s[6] - '0') * 10 + (s[7] - '0');
	if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !leap(y))
		return 0;
	return 1;
}

int
gw_resident_id_valid(const char *id)
{
	int i, sum = 0, r = UK_ERR_INPUT;
	char last;

	if (id == NULL || strlen(id) != 18)
		goto out;
	for (i = 0; i < 17; i++) {
		if (!is_digit(id[i]))
			goto out;
		sum += (id[i] - '0') * rid_weights[i];
	}
	if (!date_ok(id + 6))
		goto out;
	last = id[17] == 'x' ? 'X' : id[17];
	if (last != rid_check[sum % 11])
		goto out;
	r = 0;
out:
	return r;
}

int
gw_login_valid(const char *login)
{
	size_t n;
	int r = UK_ERR_INPUT;

	if (login == NULL || (n = strlen(login)) == 0 || n > GW_LOGIN_MAX)
		goto out;
	if (strspn(login,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "abcdefghijklmnopqrstuvwxyz0123456789._-@") != n)
		goto out;
	r = 0;
out:
	return r;
}

int
gw_phone_valid(const char *phone)
{
	int i, r = UK_ERR_INPUT;

	if (phone == NULL || strlen(phone) != 11 || phone[0] != '1')
		goto out;
	for (i = 0; i < 11; i++)
		if (!is_digit(phone[i]))
			goto out;
	r = 0;
out:
	return r;
}

int
gw_roles_valid(const char *roles, int staff)
{
	static const char *const op_roles[] = { "maker", "checker", "admin",
		NULL };
	static const char *const staff_roles[] = { "counter", "helpdesk",
		"admin", NULL };
	const char *const *known = staff ? staff_roles : op_roles;
	const char *p, *e;
	unsigned seen = 0;
	size_t len;
	int i, r = UK_ERR_INPUT;

	if (roles == NULL || strlen(roles) > GW_ROLES_MAX)
		goto out;
	for (p = roles; *p != '\0'; p = e) {
		p += strspn(p, " ");
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		e = p + len;
		for (i = 0; known[i] != NULL; i++)
			if (strlen(known[i]) == len &&
			    memcmp(known[i], p, len) == 0)
				break;
		if (known[i] == NULL || (seen & (1u << i)) != 0)
			goto out;
		seen |= 1u << i;
	}
	r = 0;
out:
	return r;
}

int
gw_password_policy(const struct secret *pw, const char *login,
    const char *resident_id)
{
	const unsigned char *p;
	size_t i, chars = 0;
	int letter = 0, digit = 0, r = UK_ERR_PASSWORD_POLICY;

	if (pw == NULL || pw->buf == NULL || pw->len > PW_MAX_BYTES)
		goto out;
	p = pw->buf;
	for (i = 0; i < pw->len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			goto out;
		if ((p[i] & 0xc0) != 0x80)
			chars++;
		if ((p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= 'a' && p[i] <= 'z'))
			letter = 1;
		else if (p[i] >= '0' && p[i] <= '9')
			digit = 1;
	}
	if (chars < PW_MIN_CHARS || !letter || !digit)
		goto out;
	if (login != NULL && strlen(login) == pw->len &&
	    strncasecmp(login, (const char *)p, pw->len) == 0)
		goto out;
	if (resident_id != NULL && strlen(resident_id) == pw->len &&
	    strncasecmp(resident_id, (const char *)p, pw->len) == 0)
		goto out;
	r = 0;
out:
	return r;
}

int
gw_roles_normalise(const char *roles, int staff, char out[GW_ROLES_MAX + 1])
{
	const char *p;
	size_t len, j = 0;
	int r = UK_ERR_INPUT;

	out[0] = '\0';
	if (gw_roles_valid(roles, staff) != 0)
		goto out;
	for (p = roles; *p != '\0'; p += len) {
		p += strspn(p, " ");
		if ((len = strcspn(p, " ")) == 0)
			break;
		if (j > 0)
			out[j++] = ' ';
		memcpy(out + j, p, len);
		j += len;
	}
	out[j] = '\0';
	r = 0;
out:
	return r;
}

/* The length of the UTF-8 sequence at s (1 to 4), or 0 when it is not a
 * well-formed one (overlong forms, surrogates and code points above
 * U+10FFFF are not). */
static size_t
utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && s[1] < 0xa0) ||
		    (s[0] == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80 || (s[0] == 0xf0 && s[1] < 0x90) ||
		    (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* The length of the blank at s: an ASCII space, tab, CR or LF (1) or
 * U+3000 IDEOGRAPHIC SPACE, the full-width space of Chinese input
 * methods (3); 0 when s is not blank. */
static size_t
blank_len(const char *s)
{
	if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		return 1;
	if ((unsigned char)s[0] == 0xe3 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] == 0x80)
		return 3;
	return 0;
}

int
gw_text_clean(const char *in, char *out, size_t size)
{
	const char *p, *q, *end;
	size_t len;

	if (size > 0)
		out[0] = '\0';
	if (in == NULL)
		return UK_ERR_NOT_FOUND;
	for (p = in; (len = blank_len(p)) > 0; p += len)
		;
	/* end: just past the last character that is not blank */
	for (end = q = p; *q != '\0'; q += len) {
		if ((len = blank_len(q)) > 0)
			continue;
		if ((len = utf8_len((const unsigned char *)q)) == 0)
			return UK_ERR_INPUT;
		end = q + len;
	}
	if (end == p)
		return UK_ERR_NOT_FOUND;
	for (q = p; q < end; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return UK_ERR_INPUT;
	if ((size_t)(end - p) >= size)
		return UK_ERR_INPUT;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

/* Copies src into out (size bytes) with the bytes [head, len - tail) as
 * '*'; a value not longer than head + tail is starred whole. */
static void
mask(const char *src, size_t head, size_t tail, char *out, size_t size)
{
	size_t n = src != NULL ? strlen(src) : 0, i;

	if (size == 0)
		return;
	for (i = 0; i < n && i + 1 < size; i++)
		out[i] = n > head + tail && (i < head || i >= n - tail) ? src[i]
		                                                        : '*';
	out[i] = '\0';
}

void
gw_mask_resident_id(const char *id, char *out, size_t size)
{
	mask(id, 6, 4, out, size);
}

void
gw_mask_phone(const char *phone, char *out, size_t size)
{
	mask(phone, 3, 4, out, size);
}
