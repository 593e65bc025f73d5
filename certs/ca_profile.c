/* certs/ca_profile.c: certificate profiles: the extensions, names and validity of CA, operator, staff and OCSP signer certificates. */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/ca_profile.h"
#include "common/errors.h"
#include "common/rnd.h"

/* Adds one extension given in OpenSSL's configuration syntax. */
static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e;
	int ok;

	if ((e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return UK_ERR_CA_PROFILE;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : UK_ERR_NOMEM;
}

int
ca_url_check(const char *url)
{
	size_t i, n;

	if (url == NULL)
		return UK_ERR_CONFIG_VALUE;
	n = strlen(url);
	if (n > 1024 ||
	    (strncmp(url, "http://", 7) != 0 &&
	        strncmp(url, "https://", 8) != 0))
		return UK_ERR_CONFIG_VALUE;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '"' ||
		    c == '\'' || c == '\\')
			return UK_ERR_CONFIG_VALUE;
	}
	if (n <= 8 || url[n - 1] == ':')
		return UK_ERR_CONFIG_VALUE;
	return 0;
}

int
ca_serial_new(BIGNUM **out)
{
	unsigned char b[CA_SERIAL_LEN];

	*out = NULL;
	if (rnd_bytes(b, sizeof(b)) != 0)
		return UK_ERR_INTERNAL;
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
	if ((*out = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return UK_ERR_NOMEM;
	return 0;
}

int
ca_name_cn(const char *cn, X509_NAME **out)
{
	X509_NAME *n;
	size_t len;

	*out = NULL;
	if (cn == NULL || (len = strlen(cn)) == 0 || len > 64 * 4)
		return UK_ERR_USAGE;
	if ((n = X509_NAME_new()) == NULL)
		return UK_ERR_NOMEM;
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	        (const unsigned char *)cn, (int)len, -1, 0)) {
		X509_NAME_free(n);
		ERR_clear_error();
		return UK_ERR_USAGE;
	}
	*out = n;
	return 0;
}

/* The extensions of s->kind / s->profile. */
static int
add_extensions(const struct ca_cert_spec *s, X509 *x)
{
	X509V3_CTX ctx;
	char buf[1100];
	ASN1_NULL *null = NULL;
	int r;

	X509V3_set_ctx(&ctx, s->issuer != NULL ? s->issuer : x, x, NULL, NULL,
	    0);
	switch (s->kind) {
	case CA_KIND_ROOT:
		if ((r = add_ext(x, &ctx, NID_basic_constraints,
		         "critical,CA:TRUE")) != 0 ||
		    (r = add_ext(x, &ctx, NID_key_usage,
		         "critical,keyCertSign,cRLSign")) != 0)
			return r;
		break;
	case CA_KIND_ISSUING:
		if ((r = add_ext(x, &ctx, NID_basic_constraints,
		         "critical,CA:TRUE,pathlen:0")) != 0 ||
		    (r = add_ext(x, &ctx, NID_key_usage,
		         "critical,keyCertSign,cRLSign")) != 0)
			return r;
		break;
	case CA_KIND_LEAF:
		if ((r = add_ext(x, &ctx, NID_basic_constraints,
		         "critical,CA:FALSE")) != 0)
			return r;
		switch (s->profile) {
		case CA_PROFILE_OPERATOR:
			r = add_ext(x, &ctx, NID_key_usage,
			    "critical,digitalSignature");
			if (r == 0)
				r = add_ext(x, &ctx, NID_ext_key_usage,
				    "clientAuth");
			break;
		case CA_PROFILE_STAFF:
			r = add_ext(x, &ctx, NID_key_usage,
			    "critical,digitalSignature,nonRepudiation");
			if (r == 0)
				r = add_ext(x, &ctx, NID_ext_key_usage,
				    "clientAuth");
			break;
		case CA_PROFILE_OCSP:
			r = add_ext(x, &ctx, NID_key_usage,
			    "critical,digitalSignature");
			if (r == 0)
				r = add_ext(x, &ctx, NID_ext_key_usage,
				    "OCSPSigning");
			if (r == 0) {
				if ((null = ASN1_NULL_new()) == NULL)
					return UK_ERR_NOMEM;
				if (X509_add1_ext_i2d(x,
				        NID_id_pkix_OCSP_noCheck, null, 0,
				        X509V3_ADD_DEFAULT) != 1)
					r = UK_ERR_CA_PROFILE;
				ASN1_NULL_free(null);
			}
			break;
		default:
			return UK_ERR_CA_PROFILE;
		}
		if (r != 0)
			return r;
		break;
	default:
		return UK_ERR_CA_PROFILE;
	}
	if ((r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) != 0 ||
	    (r = add_ext(x, &ctx, NID_authority_key_identifier,
	         "keyid:always")) != 0)
		return r;
	if (s->kind != CA_KIND_LEAF)
		return 0;
	if (s->crl_url != NULL) {
		if (ca_url_check(s->crl_url) != 0)
			return UK_ERR_CA_PROFILE;
		snprintf(buf, sizeof(buf), "URI:%s", s->crl_url);
		if ((r = add_ext(x, &ctx, NID_crl_distribution_points, buf)) !=
		    0)
			return r;
	}
	if (s->ocsp_url != NULL && s->profile != CA_PROFILE_OCSP) {
		if (ca_url_check(s->ocsp_url) != 0)
			return UK_ERR_CA_PROFILE;
		snprintf(buf, sizeof(buf), "OCSP;URI:%s", s->ocsp_url);
		if ((r = add_ext(x, &ctx, NID_info_access, buf)) != 0)
			return r;
	}
	return 0;
}

int
ca_profile_build(const struct ca_cert_spec *s, X509 **out)
{
	X509 *x = NULL;
	ASN1_INTEGER *sn = NULL;
	time_t na = s->not_after;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if (s->serial == NULL || s->subject == NULL || s->pub == NULL ||
	    (s->kind != CA_KIND_ROOT && s->issuer == NULL) ||
	    s->not_after <= s->not_before) {
		r = UK_ERR_CA_PROFILE;
		goto out;
	}
	if ((x = X509_new()) == NULL)
		goto out;
	if (s->issuer != NULL) {
		const ASN1_TIME *ina = X509_get0_notAfter(s->issuer);
		time_t t = na;
		int c = X509_cmp_time(ina, &t);

		/* Not beyond the issuer's notAfter. */
		if (c == -1) {
			struct tm tm;

			if (!ASN1_TIME_to_tm(ina, &tm)) {
				r = UK_ERR_CA_PROFILE;
				goto out;
			}
			na = timegm(&tm);
		}
		if (na <= s->not_before) {
			r = UK_ERR_CA_PROFILE;
			goto out;
		}
	}
	if (!X509_set_version(x, X509_VERSION_3) ||
	    (sn = BN_to_ASN1_INTEGER(s->serial, NULL)) == NULL ||
	    !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, s->subject) ||
	    !X509_set_issuer_name(x,
	        s->issuer != NULL ? X509_get_subject_name(s->issuer)
	                          : s->subject) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), s->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL ||
	    !X509_set_pubkey(x, s->pub))
		goto out;
	if ((r = add_extensions(s, x)) != 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
out:
	ASN1_INTEGER_free(sn);
	X509_free(x);
	ERR_clear_error();
	return r;
}
