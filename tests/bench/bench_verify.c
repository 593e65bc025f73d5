/* tests/bench/bench_verify.c: ca_verify per second on a warm root -> intermediate -> leaf P-256 chain, against `openssl speed ecdsap256` verify in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certs/verify.h"

/*
 * The machine is shared (two cores, other builds running): ca_verify and
 * `openssl speed` are measured in ROUNDS interleaved rounds of SECONDS each
 * (3 s of verification in all for both) and the best round of each is
 * compared, so that both figures come from the quietest moments.
 */
#define ROUNDS 3
#define SECONDS 1.0
#define GOAL 0.8

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(c, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

/* A certificate for key k named cn, signed by issuer/ikey (NULL: self). */
static X509 *
make_cert(const char *cn, EVP_PKEY *k, X509 *issuer, EVP_PKEY *ikey, int ca,
    long serial)
{
	X509 *c = X509_new();
	X509_NAME *n = X509_NAME_new();
	int ok;

	ok = c != NULL && n != NULL && X509_set_version(c, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(c), serial) &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	        (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_subject_name(c, n) &&
	    X509_set_issuer_name(c,
	        issuer != NULL ? X509_get_subject_name(issuer) : n) &&
	    X509_gmtime_adj(X509_getm_notBefore(c), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(c), 86400L * 365) != NULL &&
	    X509_set_pubkey(c, k);
	if (ok && issuer == NULL)
		issuer = c;
	if (ok && ca)
		ok = add_ext(c, issuer, NID_basic_constraints,
		         "critical,CA:TRUE") &&
		    add_ext(c, issuer, NID_key_usage,
		        "critical,keyCertSign,cRLSign");
	else if (ok)
		ok = add_ext(c, issuer, NID_basic_constraints,
		         "critical,CA:FALSE") &&
		    add_ext(c, issuer, NID_key_usage,
		        "critical,digitalSignature") &&
		    add_ext(c, issuer, NID_ext_key_usage, "clientAuth");
	ok = ok && add_ext(c, issuer, NID_subject_key_identifier, "hash") &&
	    add_ext(c, issuer, NID_authority_key_identifier, "keyid") &&
	    X509_sign(c, ikey != NULL ? ikey : k, EVP_sha256()) > 0;
	X509_NAME_free(n);
	if (!ok) {
		X509_free(c);
		return NULL;
	}
	return c;
}

/* Replaces x by the certificate parsed from its DER, as the gateway gets it:
 * a certificate fresh from X509_sign keeps no encoding and would be
 * re-encoded on every signature check. */
static X509 *
reparse(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = NULL;
	int len;

	if ((len = i2d_X509(x, &der)) > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

/* verify/s of `openssl speed -seconds 1 ecdsap256`, or 0. */
static double
openssl_speed(void)
{
	char line[512];
	double v = 0;
	size_t n;
	FILE *f;

	if ((f = popen("openssl speed -seconds 1 ecdsap256 2>/dev/null",
	         "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "nistp256") == NULL ||
		    strstr(line, "ecdsa") == NULL)
			continue;
		/* "256 bits ecdsa (nistp256)   0.0000s   0.0001s  51633.9
		 * 16926.3": the last column is verify/s */
		n = strlen(line);
		while (n > 0 &&
		    (line[n - 1] == '\n' || line[n - 1] == ' ' ||
		        line[n - 1] == '\t'))
			line[--n] = '\0';
		while (n > 0 && line[n - 1] != ' ' && line[n - 1] != '\t')
			n--;
		v = strtod(line + n, NULL);
	}
	pclose(f);
	return v;
}

/* Runs ca_verify for about SECONDS; returns calls per second or -1. */
static double
run(struct ca_verifier *v, X509 *leaf, unsigned char *der, int derlen,
    int with_result)
{
	struct ca_verify_result res;
	const unsigned char *p;
	X509 *x;
	double t0 = now(), t;
	long n = 0;
	int i, r;

	ca_verify_result_init(&res);
	do {
		for (i = 0; i < 200; i++) {
			if (der != NULL) {
				p = der;
				if ((x = d2i_X509(NULL, &p, derlen)) == NULL)
					return -1;
				r = ca_verify(v, x, NULL, NULL);
				X509_free(x);
			} else {
				r = ca_verify(v, leaf, NULL,
				    with_result ? &res : NULL);
			}
			if (r != 0)
				return -1;
		}
		n += 200;
		t = now() - t0;
	} while (t < SECONDS);
	ca_verify_result_clear(&res);
	return (double)n / t;
}

int
main(void)
{
	EVP_PKEY *rk = EVP_EC_gen("P-256"), *ik = EVP_EC_gen("P-256");
	EVP_PKEY *lk = EVP_EC_gen("P-256");
	X509 *root = NULL, *ica = NULL, *leaf = NULL;
	struct ca_verifier *v = NULL;
	unsigned char *der = NULL;
	unsigned long hits = 0, misses = 0;
	struct ca_sigcache *cache = ca_sigcache_new(0);
	double ours = 0, ref = 0, x, y, ours_res, ours_parse, nocache;
	int derlen, i;

	if (rk == NULL || ik == NULL || lk == NULL || cache == NULL ||
	    (root = make_cert("bench root", rk, NULL, NULL, 1, 1)) == NULL ||
	    (ica = make_cert("bench issuing CA", ik, root, rk, 1, 2)) == NULL ||
	    (leaf = make_cert("bench operator", lk, ica, ik, 0, 3)) == NULL ||
	    (root = reparse(root)) == NULL || (ica = reparse(ica)) == NULL ||
	    (leaf = reparse(leaf)) == NULL ||
	    (derlen = i2d_X509(leaf, &der)) <= 0 ||
	    (v = ca_verifier_new()) == NULL ||
	    ca_verifier_add_cert(v, CA_LOAD_ANCHORS, root) != 0 ||
	    ca_verifier_add_cert(v, CA_LOAD_INTERMEDIATES, ica) != 0) {
		printf("verify: setup failed\n");
		return 1;
	}
	ca_verifier_set_sigcache(v, cache);
	if (ca_verify(v, leaf, NULL, NULL) != 0) { /* warms the cache */
		printf("verify: the bench chain does not verify\n");
		return 1;
	}
	for (i = 0; i < ROUNDS; i++) {
		x = run(v, leaf, NULL, 0, 0);
		y = openssl_speed();
		printf("# round %d: ca_verify %.0f/s, openssl speed %.0f/s\n",
		    i + 1, x, y);
		ours = x > ours ? x : ours;
		ref = y > ref ? y : ref;
	}
	ours_res = run(v, leaf, NULL, 0, 1);
	ours_parse = run(v, NULL, der, derlen, 0);
	ca_sigcache_stats(cache, &hits, &misses);
	ca_verifier_set_sigcache(v, NULL);
	nocache = run(v, leaf, NULL, 0, 0);
	printf("# ca_verify with result chain: %.0f/s; d2i_X509 + ca_verify: "
	       "%.0f/s; without signature cache: %.0f/s; cache hits %lu, "
	       "misses %lu\n",
	    ours_res, ours_parse, nocache, hits, misses);
	if (ref <= 0) {
		printf("verify: %.0f/s, openssl speed ecdsap256 verify: "
		       "unavailable\n",
		    ours);
	} else {
		printf("verify: %.0f/s, openssl speed ecdsap256 verify: "
		       "%.0f/s, ratio %.2f (goal >= %.1f)\n",
		    ours, ref, ours / ref, GOAL);
	}
	ca_verifier_free(v);
	ca_sigcache_free(cache);
	X509_free(root);
	X509_free(ica);
	X509_free(leaf);
	OPENSSL_free(der);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
	return 0;
}
