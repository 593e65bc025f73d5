/* tests/fuzz/fuzz_cert.c: fuzz target for the verifier's certificate and CRL intake (PEM/DER parsing, leaf rules, path validation). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>

#include "certs/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is parsed as certificates and as CRLs; a PEM input with both is
 * cut at its first "-----BEGIN X509 CRL" into a certificate part and a CRL
 * part. Parsed certificates go through the leaf rules and, the first as the
 * trust anchor and the last as the leaf, through ca_verify, then again with
 * the CRLs in CRL mode.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL, *extra = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	struct ca_verify_result res;
	struct ca_verifier *v = NULL;
	static const char mark[] = "-----BEGIN X509 CRL";
	const uint8_t *cut;
	size_t certlen = size;
	X509 *one = NULL, *leaf;
	char err[200];
	int i, n;

	ca_verify_result_init(&res);
	if ((cut = memmem(data, size, mark, sizeof(mark) - 1)) != NULL &&
	    cut != data)
		certlen = (size_t)(cut - data);
	(void)ca_parse_cert(data, size, &one, err, sizeof(err));
	(void)ca_parse_crls(cut != NULL ? cut : data,
	    cut != NULL ? size - (size_t)(cut - data) : size, &crls, err,
	    sizeof(err));
	if (ca_parse_certs(data, certlen, &certs, err, sizeof(err)) != 0)
		goto out;
	n = sk_X509_num(certs);
	for (i = 0; i < n; i++)
		(void)ca_check_leaf_rules(sk_X509_value(certs, i), err,
		    sizeof(err));
	if ((v = ca_verifier_new()) == NULL ||
	    (extra = sk_X509_new_null()) == NULL)
		goto out;
	ca_verifier_set_time(v, 1700000000); /* fixed: reproducible */
	if (ca_verifier_add_cert(v, CA_LOAD_ANCHORS, sk_X509_value(certs, 0)) !=
	    0)
		goto out;
	for (i = 1; i < n - 1; i++)
		if (!sk_X509_push(extra, sk_X509_value(certs, i)))
			goto out;
	leaf = sk_X509_value(certs, n - 1);
	(void)ca_verify(v, leaf, extra, &res);
	ca_verify_result_clear(&res);
	/* once more with a warm signature cache, and with the rules off */
	ca_verifier_set_strict(v, 0);
	ca_verifier_set_purpose(v, CA_PURPOSE_ANY);
	(void)ca_verify(v, leaf, extra, &res);
	ca_verify_result_clear(&res);
	/* the same input's CRLs, if it also held any */
	if (sk_X509_CRL_num(crls) > 0) {
		for (i = 0; i < sk_X509_CRL_num(crls); i++)
			(void)ca_verifier_add_crl(v,
			    sk_X509_CRL_value(crls, i));
		if (ca_verifier_set_revocation(v, CA_REV_CRL, 0) == 0)
			(void)ca_verify(v, leaf, extra, &res);
		ca_verify_result_clear(&res);
	}
out:
	ca_verify_result_clear(&res);
	ca_verifier_free(v);
	sk_X509_free(extra);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	X509_free(one);
	return 0;
}
