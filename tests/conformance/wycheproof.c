/* tests/conformance/wycheproof.c: runs the Wycheproof ECDSA P-256, RSA PKCS#1 v1.5 and RSA-PSS vectors through ca_verify_signature(_ex); one TAP line per file. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/verify.h"
#include "common/errors.h"
#include "tests/conformance/conformance.h"

struct counts {
	int valid, invalid, acceptable, wrong, login, login_wrong;
};

/* "SHA-256" -> "SHA256", "SHA-512/256" -> "SHA512-256"; others as is. */
static void
md_name(const char *w, char *out, size_t len)
{
	size_t i, j = 0;

	if (strncmp(w, "SHA-", 4) != 0) {
		snprintf(out, len, "%s", w);
		return;
	}
	snprintf(out, len, "SHA");
	for (i = 4, j = 3; w[i] != '\0' && j + 1 < len; i++)
		out[j++] = w[i] == '/' ? '-' : w[i];
	out[j] = '\0';
}

static EVP_PKEY *
group_key(json_t *g)
{
	const char *hex = json_string_value(json_object_get(g, "publicKeyDer"));
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;

	if (hex == NULL || conf_unhex(hex, &der, &len) != 0)
		return NULL;
	p = der;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (k != NULL && p != der + len) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	free(der);
	ERR_clear_error();
	return k;
}

/*
 * The login algorithm ca_verify_signature would use for this group, if any
 * ("ES256", "RS256", "PS256"), so that the JOSE front end is exercised too.
 */
static const char *
login_alg(const char *type, const struct ca_sig_params *p, EVP_PKEY *k)
{
	if (strcmp(p->md, "SHA256") != 0)
		return NULL;
	if (strcmp(type, "EcdsaP1363Verify") == 0 &&
	    EVP_PKEY_get_bits(k) == 256)
		return "ES256";
	if (strcmp(type, "RsassaPkcs1Verify") == 0)
		return "RS256";
	if ((strcmp(type, "RsassaPssVerify") == 0 ||
	        strcmp(type, "RsassaPssWithParametersVerify") == 0) &&
	    p->mgf1_md != NULL && strcmp(p->mgf1_md, "SHA256") == 0 &&
	    p->salt_len == 32)
		return "PS256";
	return NULL;
}

static int
run_file(const char *rel, struct counts *n)
{
	json_t *d, *groups, *g, *tests, *t;
	struct ca_sig_params p;
	const char *type, *result, *alg, *mgf;
	char md[32], mgfmd[32], sub[200];
	unsigned char *msg = NULL, *sig = NULL;
	size_t gi, ti, msglen, siglen;
	EVP_PKEY *k = NULL;
	int r, want, got, ret = -1;

	memset(n, 0, sizeof(*n));
	if ((d = conf_load_json(rel)) == NULL)
		return -1;
	groups = json_object_get(d, "testGroups");
	for (gi = 0; gi < json_array_size(groups); gi++) {
		g = json_array_get(groups, gi);
		type = json_string_value(json_object_get(g, "type"));
		memset(&p, 0, sizeof(p));
		if (type == NULL ||
		    json_string_value(json_object_get(g, "sha")) == NULL)
			goto out;
		md_name(json_string_value(json_object_get(g, "sha")), md,
		    sizeof(md));
		p.md = md;
		if (strcmp(type, "EcdsaVerify") == 0) {
			p.scheme = CA_SIG_ECDSA_DER;
		} else if (strcmp(type, "EcdsaP1363Verify") == 0) {
			p.scheme = CA_SIG_ECDSA_P1363;
		} else if (strcmp(type, "RsassaPkcs1Verify") == 0) {
			p.scheme = CA_SIG_RSA_PKCS1;
		} else if (strcmp(type, "RsassaPssVerify") == 0 ||
		    strcmp(type, "RsassaPssWithParametersVerify") == 0) {
			p.scheme = CA_SIG_RSA_PSS;
			mgf = json_string_value(json_object_get(g, "mgfSha"));
			if (mgf == NULL ||
			    strcmp(json_string_value(json_object_get(g, "mgf")),
			        "MGF1") != 0)
				goto out;
			md_name(mgf, mgfmd, sizeof(mgfmd));
			p.mgf1_md = mgfmd;
			p.salt_len =
			    (int)json_integer_value(json_object_get(g, "sLen"));
		} else {
			printf("# %s: unknown group type %s\n", rel, type);
			goto out;
		}
		if ((k = group_key(g)) == NULL) {
			printf("# %s: group %zu key does not load\n", rel, gi);
			goto out;
		}
		alg = login_alg(type, &p, k);
		tests = json_object_get(g, "tests");
		for (ti = 0; ti < json_array_size(tests); ti++) {
			t = json_array_get(tests, ti);
			result =
			    json_string_value(json_object_get(t, "result"));
			if (result == NULL ||
			    conf_unhex(json_string_value(
			                   json_object_get(t, "msg")),
			        &msg, &msglen) != 0 ||
			    conf_unhex(json_string_value(
			                   json_object_get(t, "sig")),
			        &sig, &siglen) != 0)
				goto out;
			r = ca_verify_signature_ex(k, &p, msg, msglen, sig,
			    siglen);
			got = r == 0;
			want = strcmp(result, "valid") == 0  ? 1
			    : strcmp(result, "invalid") == 0 ? 0
			                                     : -1;
			if (want == 1)
				n->valid++;
			else if (want == 0)
				n->invalid++;
			else
				n->acceptable++;
			if (want >= 0 && got != want) {
				n->wrong++;
				snprintf(sub, sizeof(sub), "%s",
				    json_string_value(
				        json_object_get(t, "comment")));
				printf("# %s tcId %lld (%s): expected %s, "
				       "got %s\n",
				    rel,
				    (long long)json_integer_value(
				        json_object_get(t, "tcId")),
				    sub, result, got ? "valid" : "invalid");
			}
			if (alg != NULL) {
				n->login++;
				r = ca_verify_signature(k, alg, msg, msglen,
				    sig, siglen);
				/* the login front end may only be stricter
				 * (2048-bit RSA minimum, exact lengths) */
				if ((r == 0) != got && !(want != 1 && r != 0)) {
					n->login_wrong++;
					printf("# %s tcId %lld: %s says %s\n",
					    rel,
					    (long long)json_integer_value(
					        json_object_get(t, "tcId")),
					    alg, r == 0 ? "valid" : "invalid");
				}
			}
			free(msg);
			free(sig);
			msg = sig = NULL;
		}
		EVP_PKEY_free(k);
		k = NULL;
	}
	ret = 0;
out:
	free(msg);
	free(sig);
	EVP_PKEY_free(k);
	json_decref(d);
	return ret;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	char dir[4096], rel[512], *names[256];
	struct counts n;
	struct dirent *de;
	DIR *dh;
	size_t i, nn = 0;
	int tap = 0, bad = 0, total = 0, wrong = 0;

	conf_suite_path(dir, sizeof(dir), "wycheproof");
	if ((dh = opendir(dir)) == NULL) {
		printf("not ok 1 - %s readable\n", dir);
		return 1;
	}
	while ((de = readdir(dh)) != NULL && nn < 256) {
		if (strstr(de->d_name, ".json") == NULL)
			continue;
		if ((names[nn] = strdup(de->d_name)) != NULL)
			nn++;
	}
	closedir(dh);
	qsort(names, nn, sizeof(names[0]), cmp);
	for (i = 0; i < nn; i++) {
		snprintf(rel, sizeof(rel), "wycheproof/%s", names[i]);
		if (run_file(rel, &n) != 0) {
			bad++;
			printf("not ok %d - %s (harness could not run it)\n",
			    ++tap, names[i]);
		} else if (n.wrong != 0 || n.login_wrong != 0) {
			bad++;
			printf("not ok %d - %s: %d wrong verdicts\n", ++tap,
			    names[i], n.wrong + n.login_wrong);
		} else {
			printf("ok %d - %s # %d valid, %d invalid, %d "
			       "acceptable; %d also through "
			       "ca_verify_signature\n",
			    ++tap, names[i], n.valid, n.invalid, n.acceptable,
			    n.login);
		}
		total += n.valid + n.invalid + n.acceptable;
		wrong += n.wrong + n.login_wrong;
		free(names[i]);
	}
	printf("# wycheproof: %zu files, %d vectors, %d wrong verdicts\n", nn,
	    total, wrong);
	if (nn == 0) {
		printf("not ok %d - no Wycheproof files found\n", ++tap);
		return 1;
	}
	return bad == 0 ? 0 : 1;
}
