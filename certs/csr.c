/* certs/csr.c: certificate signing request intake: bounded parsing, signature, key policy, subject filter. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/csr.h"
#include "common/errors.h"

struct ca_csr {
	X509_REQ *req;
	EVP_PKEY *pub; /* borrowed from req */
	X509_NAME *subject;
	enum ca_key_type type;
};

/* Longest value of a kept subject attribute, in characters (RFC 5280
 * ub-common-name and friends). */
#define CSR_ATTR_MAX 64

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether buf holds only white space. */
static int
all_space(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_space(buf[i]))
			return 0;
	return 1;
}

/* Decodes exactly one DER PKCS#10 request filling all of der. */
static int
decode_der(const unsigned char *der, size_t len, X509_REQ **out, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_REQ *req;

	*out = NULL;
	if (len == 0 || len > CA_CSR_MAX) {
		seterr(err, errlen, "empty or oversized request");
		return UK_ERR_CSR_MALFORMED;
	}
	if ((req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL) {
		seterr(err, errlen, "not a DER PKCS#10 request");
		return UK_ERR_CSR_MALFORMED;
	}
	if ((size_t)(p - der) != len) {
		X509_REQ_free(req);
		seterr(err, errlen, "%zu bytes after the request",
		    len - (size_t)(p - der));
		return UK_ERR_CSR_MALFORMED;
	}
	*out = req;
	return 0;
}

/* Decodes one PEM block of a certificate request with only white space
 * around it. */
static int
decode_pem(const unsigned char *buf, size_t len, X509_REQ **out, char *err,
    size_t errlen)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL, rest[256];
	long dlen = 0;
	int n, r = UK_ERR_CSR_MALFORMED;

	*out = NULL;
	if (memchr(buf, '\0', len) != NULL) {
		seterr(err, errlen, "NUL byte in PEM text");
		goto out;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
		seterr(err, errlen, "no PEM block could be decoded");
		goto out;
	}
	if (strcmp(name, PEM_STRING_X509_REQ) != 0 &&
	    strcmp(name, PEM_STRING_X509_REQ_OLD) != 0) {
		seterr(err, errlen, "PEM block is \"%.40s\", not a request",
		    name);
		goto out;
	}
	if (header != NULL && header[0] != '\0') {
		seterr(err, errlen, "PEM headers are not accepted");
		goto out;
	}
	while ((n = BIO_read(bio, rest, sizeof(rest))) > 0) {
		if (!all_space(rest, (size_t)n)) {
			seterr(err, errlen, "text after the PEM block");
			goto out;
		}
	}
	if (dlen <= 0) {
		seterr(err, errlen, "empty PEM block");
		goto out;
	}
	r = decode_der(data, (size_t)dlen, out, err, errlen);
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

int
ca_csr_check_key(EVP_PKEY *pk, int min_rsa_bits, enum ca_key_type *type,
    char *err, size_t errlen)
{
	char group[64];
	size_t glen = 0;
	EVP_PKEY_CTX *ctx = NULL;
	enum ca_key_type t;
	int bits, r = UK_ERR_CSR_KEY;

	if (min_rsa_bits < 2048)
		min_rsa_bits = 2048;
	if (pk == NULL) {
		seterr(err, errlen, "no public key");
		goto out;
	}
	if (EVP_PKEY_is_a(pk, "RSA")) {
		bits = EVP_PKEY_get_bits(pk);
		if (bits < min_rsa_bits || bits > CA_RSA_MAX_BITS) {
			seterr(err, errlen,
			    "RSA key of %d bits (accepted: %d to %d)", bits,
			    min_rsa_bits, CA_RSA_MAX_BITS);
			goto out;
		}
		t = CA_KEY_RSA;
	} else if (EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_is_a(pk, "SM2")) {
		if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen)) {
			seterr(err, errlen, "EC key without a named curve");
			goto out;
		}
		if (strcmp(group, "prime256v1") == 0 && EVP_PKEY_is_a(pk, "EC"))
			t = CA_KEY_EC;
		else if (strcmp(group, "SM2") == 0)
			t = CA_KEY_SM2;
		else {
			seterr(err, errlen,
			    "EC key on curve %.40s (accepted: P-256, SM2)",
			    group);
			goto out;
		}
	} else {
		seterr(err, errlen, "key type %.20s is not accepted",
		    EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk)
		                                : "?");
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_public_check(ctx) != 1) {
		seterr(err, errlen, "public key fails its consistency check");
		goto out;
	}
	if (type != NULL)
		*type = t;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Counts UTF-8 characters; -1 for invalid UTF-8 or a control character. */
static int
utf8_chars(const unsigned char *s, int len)
{
	int i = 0, n = 0, k;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c < 0x80)
			k = 1;
		else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			k = 2;
		else if ((c & 0xf0) == 0xe0)
			k = 3;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			k = 4;
		else
			return -1;
		if (i + k > len)
			return -1;
		for (int j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return -1;
		i += k;
		n++;
	}
	return n;
}

int
ca_csr_filter_subject(const X509_NAME *name, X509_NAME **out, char *err,
    size_t errlen)
{
	static const int keep[] = { NID_countryName, NID_organizationName,
		NID_organizationalUnitName, NID_serialNumber, NID_commonName };
	X509_NAME *n = NULL;
	unsigned char *utf8 = NULL;
	int i, k, nid, len, chars, r = UK_ERR_NOMEM;

	*out = NULL;
	if ((n = X509_NAME_new()) == NULL)
		goto out;
	for (i = 0; name != NULL && i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		int found = 0;

		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		for (k = 0; k < (int)(sizeof(keep) / sizeof(keep[0])); k++)
			if (keep[k] == nid)
				found = 1;
		if (!found)
			continue;
		switch (ASN1_STRING_type(v)) {
		case V_ASN1_UTF8STRING:
		case V_ASN1_PRINTABLESTRING:
		case V_ASN1_IA5STRING:
		case V_ASN1_BMPSTRING:
		case V_ASN1_T61STRING:
		case V_ASN1_UNIVERSALSTRING:
			break;
		default:
			seterr(err, errlen, "subject %s is not a string",
			    OBJ_nid2sn(nid));
			r = UK_ERR_CSR_REQUEST;
			goto out;
		}
		if ((len = ASN1_STRING_to_UTF8(&utf8, v)) < 0) {
			seterr(err, errlen, "subject %s cannot be decoded",
			    OBJ_nid2sn(nid));
			r = UK_ERR_CSR_REQUEST;
			goto out;
		}
		chars = utf8_chars(utf8, len);
		if (chars < 1 || chars > CSR_ATTR_MAX ||
		    (nid == NID_countryName && chars != 2)) {
			seterr(err, errlen,
			    "subject %s is empty, too long or not text",
			    OBJ_nid2sn(nid));
			r = UK_ERR_CSR_REQUEST;
			goto out;
		}
		if (!X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, utf8,
		        len, -1, 0)) {
			seterr(err, errlen,
			    "subject %s has characters its type does not allow",
			    OBJ_nid2sn(nid));
			r = UK_ERR_CSR_REQUEST;
			goto out;
		}
		OPENSSL_free(utf8);
		utf8 = NULL;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	OPENSSL_free(utf8);
	X509_NAME_free(n);
	ERR_clear_error();
	return r;
}

/* Refuses requests for CA powers; ignores every other extension. */
static int
check_extensions(X509_REQ *req, char *err, size_t errlen)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	int i, asked, r = UK_ERR_CSR_MALFORMED;

	asked = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
	    X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0;
	exts = X509_REQ_get_extensions(req);
	if (asked && exts == NULL) {
		seterr(err, errlen, "undecodable extension request");
		goto out;
	}
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		if (nid == NID_basic_constraints) {
			if ((bc = X509V3_EXT_d2i(e)) == NULL) {
				seterr(err, errlen,
				    "undecodable basicConstraints request");
				goto out;
			}
			if (bc->ca) {
				seterr(err, errlen,
				    "the request asks for a CA certificate");
				r = UK_ERR_CSR_REQUEST;
				goto out;
			}
			BASIC_CONSTRAINTS_free(bc);
			bc = NULL;
		} else if (nid == NID_key_usage) {
			if ((ku = X509V3_EXT_d2i(e)) == NULL) {
				seterr(err, errlen,
				    "undecodable keyUsage request");
				goto out;
			}
			if (ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6)) {
				seterr(err, errlen,
				    "the request asks for keyCertSign or "
				    "cRLSign");
				r = UK_ERR_CSR_REQUEST;
				goto out;
			}
			ASN1_BIT_STRING_free(ku);
			ku = NULL;
		}
	}
	r = 0;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return r;
}

int
ca_csr_parse(const void *buf, size_t len, int min_rsa_bits, struct ca_csr **out,
    char *err, size_t errlen)
{
	const unsigned char *p = buf;
	struct ca_csr *c = NULL;
	ASN1_OCTET_STRING *id = NULL;
	size_t i = 0;
	int r = UK_ERR_CSR_MALFORMED;

	*out = NULL;
	seterr(err, errlen, "%s", "");
	if (buf == NULL || len == 0) {
		seterr(err, errlen, "empty request");
		goto out;
	}
	if (len > CA_CSR_MAX) {
		seterr(err, errlen, "request larger than %d bytes", CA_CSR_MAX);
		r = UK_ERR_LIMIT;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	while (i < len && is_space(p[i]))
		i++;
	if (len - i >= 11 && memcmp(p + i, "-----BEGIN ", 11) == 0)
		r = decode_pem(p + i, len - i, &c->req, err, errlen);
	else
		r = decode_der(p, len, &c->req, err, errlen);
	if (r != 0)
		goto out;
	r = UK_ERR_CSR_MALFORMED;
	if (X509_REQ_get_version(c->req) != 0) {
		seterr(err, errlen, "request version %ld (only v1 exists)",
		    X509_REQ_get_version(c->req) + 1);
		goto out;
	}
	if ((c->pub = X509_REQ_get0_pubkey(c->req)) == NULL) {
		seterr(err, errlen, "undecodable public key");
		r = UK_ERR_CSR_KEY;
		goto out;
	}
	if ((r = ca_csr_check_key(c->pub, min_rsa_bits, &c->type, err,
	         errlen)) != 0)
		goto out;
	if (c->type == CA_KEY_SM2) {
		r = UK_ERR_NOMEM;
		if ((id = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(id,
		        (const unsigned char *)CA_SM2_DEFAULT_ID,
		        (int)strlen(CA_SM2_DEFAULT_ID)))
			goto out;
		X509_REQ_set0_distinguishing_id(c->req, id);
		id = NULL; /* transferred */
	}
	if (X509_REQ_verify(c->req, c->pub) != 1) {
		seterr(err, errlen, "the request's signature does not verify");
		r = UK_ERR_CSR_SIGNATURE;
		goto out;
	}
	if ((r = check_extensions(c->req, err, errlen)) != 0)
		goto out;
	if ((r = ca_csr_filter_subject(X509_REQ_get_subject_name(c->req),
	         &c->subject, err, errlen)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	ASN1_OCTET_STRING_free(id);
	ca_csr_free(c);
	ERR_clear_error();
	return r;
}

void
ca_csr_free(struct ca_csr *csr)
{
	if (csr == NULL)
		return;
	X509_NAME_free(csr->subject);
	X509_REQ_free(csr->req);
	free(csr);
}

EVP_PKEY *
ca_csr_pubkey(const struct ca_csr *csr)
{
	return csr->pub;
}

const X509_NAME *
ca_csr_subject(const struct ca_csr *csr)
{
	return csr->subject;
}

enum ca_key_type
ca_csr_key_type(const struct ca_csr *csr)
{
	return csr->type;
}
