/* certs/ca_crl.c: building and signing full CRLs from the store's revoked certificates. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca_crl.h"
#include "common/b64.h"
#include "common/errors.h"

/*
 * OpenSSL's template encoder needs about 4 µs per revoked entry and runs
 * once to sign and again to write, which made a 100,000-entry CRL take most
 * of a second. So the revokedCertificates list is written here directly as
 * DER (a few bytes of fixed layout per entry) and spliced into the
 * tbsCertList of a skeleton CRL that OpenSSL builds and encodes without
 * entries (version, signature algorithm, issuer, dates, extensions); the
 * result is signed with EVP_DigestSign and decoded once into an X509_CRL,
 * which also checks the encoding.
 */

/* Longest serial in octets (RFC 5280: 20) plus a leading zero octet. */
#define SERIAL_MAX 21

/* One entry, ready to encode. */
struct rev {
	unsigned char serial[SERIAL_MAX]; /* DER INTEGER contents */
	unsigned char len;
	unsigned char tlen;   /* length of time, 13 or 15 */
	unsigned char reason; /* 0: no reasonCode */
	char time[16];        /* UTCTime or GeneralizedTime text */
};

static size_t
der_len_size(size_t len)
{
	if (len < 0x80)
		return 1;
	if (len <= 0xff)
		return 2;
	if (len <= 0xffff)
		return 3;
	if (len <= 0xffffff)
		return 4;
	return 5;
}

/* Writes tag and length; returns the position after them. */
static unsigned char *
der_hdr(unsigned char *p, unsigned char tag, size_t len)
{
	size_t n = der_len_size(len), i;

	*p++ = tag;
	if (n == 1) {
		*p++ = (unsigned char)len;
		return p;
	}
	*p++ = (unsigned char)(0x80 | (n - 1));
	for (i = n - 1; i > 0; i--)
		*p++ = (unsigned char)(len >> (8 * (i - 1)));
	return p;
}

/* Fills e from the store's values. */
static int
rev_fill(struct rev *e, const struct ca_crl_entry *in)
{
	unsigned char b[SERIAL_MAX];
	size_t hl, i, n = 0, start = 0;
	time_t t = (time_t)in->revoked_at;
	struct tm tm;
	char tb[64], hx[42];
	int year;

	if (in->serial == NULL || (hl = strlen(in->serial)) == 0 || hl > 40)
		return UK_ERR_INPUT;
	/* An odd count of digits has an implied leading zero. */
	hx[0] = '0';
	memcpy(hx + 1, in->serial, hl);
	i = hl % 2 == 1 ? 0 : 1;
	n = (hl + 1) / 2;
	if (hex_decode(hx + i, hl + 1 - i, b) != 0)
		return UK_ERR_INPUT;
	while (start < n && b[start] == 0)
		start++;
	if (start == n)
		return UK_ERR_INPUT; /* zero is not a serial */
	e->len = 0;
	if (b[start] & 0x80)
		e->serial[e->len++] = 0;
	memcpy(e->serial + e->len, b + start, n - start);
	e->len = (unsigned char)(e->len + (n - start));
	if (in->revoked_at < 0 || gmtime_r(&t, &tm) == NULL)
		return UK_ERR_INPUT;
	year = tm.tm_year + 1900;
	if (year < 1950 || year > 9999)
		return UK_ERR_INPUT;
	if (year < 2050) {
		snprintf(tb, sizeof(tb), "%02d%02d%02d%02d%02d%02dZ",
		    year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		e->tlen = 13;
	} else {
		snprintf(tb, sizeof(tb), "%04d%02d%02d%02d%02d%02dZ", year,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		e->tlen = 15;
	}
	memcpy(e->time, tb, e->tlen);
	if (in->reason < 0 || in->reason > 10 || in->reason == 7)
		return UK_ERR_INPUT;
	e->reason = (unsigned char)in->reason;
	return 0;
}

/* Orders entries by serial number (DER INTEGER contents of positive
 * numbers: shorter is smaller). */
static int
rev_cmp(const void *a, const void *b)
{
	const struct rev *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->serial, y->serial, x->len);
}

/* Size of one entry's SEQUENCE contents. */
static size_t
rev_content(const struct rev *e)
{
	/* INTEGER, Time, and crlEntryExtensions with one reasonCode:
	 * 30 0c 30 0a 06 03 55 1d 15 04 03 0a 01 rr */
	return 2 + (size_t)e->len + 2 + e->tlen + (e->reason ? 14 : 0);
}

static unsigned char *
rev_write(unsigned char *p, const struct rev *e)
{
	static const unsigned char reason_ext[] = { 0x30, 0x0c, 0x30, 0x0a,
		0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01 };

	p = der_hdr(p, 0x30, rev_content(e));
	*p++ = 0x02;
	*p++ = e->len;
	memcpy(p, e->serial, e->len);
	p += e->len;
	*p++ = e->tlen == 13 ? 0x17 : 0x18;
	*p++ = e->tlen;
	memcpy(p, e->time, e->tlen);
	p += e->tlen;
	if (e->reason) {
		memcpy(p, reason_ext, sizeof(reason_ext));
		p += sizeof(reason_ext);
		*p++ = e->reason;
	}
	return p;
}

/* Reads one TLV header at p (at most end); sets *hdr and *len. */
static int
der_read(const unsigned char *p, const unsigned char *end, size_t *hdr,
    size_t *len)
{
	size_t n, i, l = 0;

	if (end - p < 2)
		return -1;
	if (p[1] < 0x80) {
		*hdr = 2;
		*len = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - p) < 2 + n)
			return -1;
		for (i = 0; i < n; i++)
			l = l << 8 | p[2 + i];
		*hdr = 2 + n;
		*len = l;
	}
	if ((size_t)(end - p) - *hdr < *len)
		return -1;
	return 0;
}

/* The skeleton: everything but the entries, signed so that the signature
 * algorithm is filled in. */
static int
skeleton(const struct ca_key *key, X509 *issuer, int64_t number,
    time_t this_update, time_t next_update, X509_CRL **out)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((crl = X509_CRL_new()) == NULL || (t = ASN1_TIME_new()) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL)
		goto out;
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    ASN1_TIME_set(t, this_update) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, next_update) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		goto out;
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx,
	         NID_authority_key_identifier, "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, ext, -1))
		goto out;
	if (!ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto out;
	if ((r = ca_key_sign_crl(key, crl)) != 0)
		goto out;
	*out = crl;
	crl = NULL;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return r;
}

int
ca_crl_build(const struct ca_key *key, X509 *issuer, int64_t number,
    time_t this_update, time_t next_update, const struct ca_crl_entry *v,
    size_t n, X509_CRL **out)
{
	X509_CRL *skel = NULL, *crl = NULL;
	const X509_ALGOR *alg = NULL;
	struct rev *revs = NULL;
	unsigned char *sk = NULL, *alder = NULL, *tbs = NULL, *all = NULL;
	unsigned char *sig = NULL, *p;
	const unsigned char *q, *end, *content;
	size_t i, revlen = 0, hdr, len, pos, tbslen, siglen = 0, alllen;
	size_t clen;
	int sklen, allen, r;

	*out = NULL;
	if ((r = skeleton(key, issuer, number, this_update, next_update,
	         &skel)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	X509_CRL_get0_signature(skel, NULL, &alg);
	if ((sklen = i2d_re_X509_CRL_tbs(skel, &sk)) <= 0 ||
	    (allen = i2d_X509_ALGOR(alg, &alder)) <= 0)
		goto out;
	if (n > 0 && (revs = calloc(n, sizeof(*revs))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = rev_fill(&revs[i], &v[i])) != 0)
			goto out;
		len = rev_content(&revs[i]);
		revlen += 1 + der_len_size(len) + len;
	}
	if (n > 1)
		qsort(revs, n, sizeof(*revs), rev_cmp);
	/* Find where revokedCertificates goes: after version, signature,
	 * issuer, thisUpdate and nextUpdate. */
	r = UK_ERR_INTERNAL;
	q = sk;
	end = sk + sklen;
	if (*q != 0x30 || der_read(q, end, &hdr, &len) != 0 ||
	    hdr + len != (size_t)sklen)
		goto out;
	content = q + hdr;
	q = content;
	for (i = 0; i < 5; i++) {
		size_t h2, l2;

		if (der_read(q, end, &h2, &l2) != 0)
			goto out;
		q += h2 + l2;
	}
	pos = (size_t)(q - content);
	clen = len + (n > 0 ? 1 + der_len_size(revlen) + revlen : 0);
	tbslen = 1 + der_len_size(clen) + clen;
	r = UK_ERR_NOMEM;
	if ((tbs = malloc(tbslen)) == NULL)
		goto out;
	p = der_hdr(tbs, 0x30, clen);
	memcpy(p, content, pos);
	p += pos;
	if (n > 0) {
		p = der_hdr(p, 0x30, revlen);
		for (i = 0; i < n; i++)
			p = rev_write(p, &revs[i]);
	}
	memcpy(p, content + pos, len - pos);
	p += len - pos;
	if ((size_t)(p - tbs) != tbslen) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	if ((r = ca_key_sign_data(key, tbs, tbslen, &sig, &siglen)) != 0)
		goto out;
	/* CertificateList: tbsCertList, signatureAlgorithm, signature. */
	r = UK_ERR_NOMEM;
	clen =
	    tbslen + (size_t)allen + 1 + der_len_size(siglen + 1) + 1 + siglen;
	alllen = 1 + der_len_size(clen) + clen;
	if ((all = malloc(alllen)) == NULL)
		goto out;
	p = der_hdr(all, 0x30, clen);
	memcpy(p, tbs, tbslen);
	p += tbslen;
	memcpy(p, alder, (size_t)allen);
	p += allen;
	p = der_hdr(p, 0x03, siglen + 1);
	*p++ = 0; /* no unused bits */
	memcpy(p, sig, siglen);
	q = all;
	r = UK_ERR_INTERNAL;
	if (alllen > 0x7fffffff ||
	    (crl = d2i_X509_CRL(NULL, &q, (long)alllen)) == NULL ||
	    (size_t)(q - all) != alllen)
		goto out;
	*out = crl;
	crl = NULL;
	r = 0;
out:
	X509_CRL_free(crl);
	X509_CRL_free(skel);
	free(all);
	free(sig);
	free(tbs);
	free(revs);
	OPENSSL_free(sk);
	OPENSSL_free(alder);
	ERR_clear_error();
	return r;
}
