/* tests/conformance/pkits.c: runs NIST PKITS (shared/suites/pkits) through ca_verify, cold and with a warm signature cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "certs/verify.h"
#include "common/errors.h"
#include "common/timeutil.h"
#include "tests/conformance/conformance.h"

#define GOAL 246
#define MAX_POLICIES 8

/* Maps "a,b" (policy names of the manifest) to OIDs; returns the count,
 * 0 for anyPolicy, or -1. */
static int
policy_set(json_t *names, const char *s, const char **oids, size_t max)
{
	char buf[256], *p, *comma;
	const char *oid;
	size_t n = 0;

	if (s == NULL || *s == '\0' || strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (p = buf; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (strcmp(p, "anyPolicy") == 0)
			return 0;
		if ((oid = json_string_value(json_object_get(names, p))) ==
		        NULL ||
		    n == max)
			return -1;
		oids[n++] = oid;
	}
	return (int)n;
}

static int
load_into(struct ca_verifier *v, enum ca_load what, const char *dir,
    const char *name, const char *ext)
{
	char rel[512], path[4096];
	int r;

	snprintf(rel, sizeof(rel), "pkits/%s/%s.%s", dir, name, ext);
	conf_suite_path(path, sizeof(path), rel);
	if ((r = ca_verifier_load_file(v, what, path)) != 0)
		printf("# %s\n", ca_verifier_errmsg(v));
	return r;
}

static int
load_leaf(const char *name, X509 **out)
{
	char rel[512], path[4096], err[200];
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(rel, sizeof(rel), "pkits/certs/%s.crt", name);
	conf_suite_path(path, sizeof(path), rel);
	if ((r = file_read_all(path, CONF_MAX_FILE, &buf, &len)) != 0) {
		printf("# cannot read %s\n", path);
		return r;
	}
	r = ca_parse_cert(buf, len, out, err, sizeof(err));
	if (r != 0)
		printf("# %s: %s\n", path, err);
	free(buf);
	return r;
}

/*
 * Runs one case; returns 1 valid, 0 invalid, -1 harness error. cache NULL
 * runs without any signature cache.
 */
static int
run_case(json_t *c, json_t *names, time_t at, struct ca_sigcache *cache,
    int strict, int *code, char *why, size_t whylen)
{
	struct ca_verifier *v = NULL;
	struct ca_verify_result res;
	json_t *certs = json_object_get(c, "certs");
	json_t *crls = json_object_get(c, "crls");
	const char *oids[MAX_POLICIES];
	unsigned flags = 0;
	X509 *leaf = NULL;
	size_t i, n = json_array_size(certs);
	int np, r, ret = -1;

	*code = 0;

	ca_verify_result_init(&res);
	why[0] = '\0';
	if (n < 2 || (v = ca_verifier_new()) == NULL)
		goto out;
	ca_verifier_set_sigcache(v, cache);
	ca_verifier_set_strict(v, strict);
	ca_verifier_set_time(v, at);
	ca_verifier_set_purpose(v, CA_PURPOSE_ANY);
	if (ca_verifier_set_revocation(v, CA_REV_CRL, 0) != 0)
		goto out;
	np = policy_set(names,
	    json_string_value(json_object_get(c, "initial_policy_set")), oids,
	    MAX_POLICIES);
	if (np < 0)
		goto out;
	if (json_is_true(json_object_get(c, "initial_explicit_policy")))
		flags |= CA_POLICY_EXPLICIT;
	if (json_is_true(json_object_get(c, "initial_policy_mapping_inhibit")))
		flags |= CA_POLICY_INHIBIT_MAPPING;
	if (json_is_true(json_object_get(c, "initial_inhibit_any_policy")))
		flags |= CA_POLICY_INHIBIT_ANY;
	if (ca_verifier_set_policy(v, oids, (size_t)np, flags) != 0)
		goto out;
	if (load_into(v, CA_LOAD_ANCHORS, "certs",
	        json_string_value(json_array_get(certs, 0)), "crt") != 0)
		goto out;
	for (i = 1; i + 1 < n; i++)
		if (load_into(v, CA_LOAD_INTERMEDIATES, "certs",
		        json_string_value(json_array_get(certs, i)),
		        "crt") != 0)
			goto out;
	for (i = 0; i < json_array_size(crls); i++)
		if (load_into(v, CA_LOAD_CRLS, "crls",
		        json_string_value(json_array_get(crls, i)), "crl") != 0)
			goto out;
	if (load_leaf(json_string_value(json_array_get(certs, n - 1)), &leaf) !=
	    0)
		goto out;
	r = ca_verify(v, leaf, NULL, &res);
	*code = r;
	snprintf(why, whylen, "%s: %s", r == 0 ? "valid" : uk_error_id(r),
	    res.message);
	ret = r == 0;
out:
	ca_verify_result_clear(&res);
	X509_free(leaf);
	ca_verifier_free(v);
	return ret;
}

int
main(void)
{
	json_t *m, *cases, *names, *c;
	struct conf_devs devs;
	struct ca_sigcache *cache;
	const char *tn, *title, *dev;
	char why[400], why2[400], label[300];
	unsigned long hits = 0, misses = 0;
	time_t at;
	size_t i, n;
	int pass, got, want, *verdict = NULL, good = 0, bad = 0, tap = 0;
	int unlisted = 0, mismatch = 0, strict_changed = 0, strict_other = 0;
	int code = 0;

	if ((m = conf_load_json("pkits/pkits_manifest.json")) == NULL) {
		printf("not ok 1 - PKITS manifest readable\n");
		return 1;
	}
	cases = json_object_get(m, "cases");
	names = json_object_get(m, "policy_oids");
	n = json_array_size(cases);
	if (time_parse_rfc3339(json_string_value(
	                           json_object_get(m, "default_time")),
	        &at) != 0 ||
	    n == 0 ||
	    conf_devs_load("tests/conformance/pkits_deviations.txt", &devs) !=
	        0) {
		printf("not ok 1 - PKITS manifest usable\n");
		return 1;
	}
	if ((verdict = calloc(n, sizeof(*verdict))) == NULL ||
	    (cache = ca_sigcache_new(4096)) == NULL)
		return 1;

	/*
	 * PKITS is RFC 5280 path validation: its end-entity certificates are
	 * sometimes CA certificates (4.6.8, 4.6.14, 4.8.6, 4.14.13) or DSA
	 * keys (4.1.4), which the login profile refuses, so the scored passes
	 * run with ca_verifier_set_strict(v, 0).
	 * Pass 0: no cache at all (scored); pass 1: one shared cache, cold;
	 * pass 2: the same cache, warm; pass 3: strict profile on, to show
	 * that only its leaf rules change verdicts.
	 */
	for (pass = 0; pass < 4; pass++) {
		for (i = 0; i < n; i++) {
			c = json_array_get(cases, i);
			tn = json_string_value(
			    json_object_get(c, "test_number"));
			title = json_string_value(json_object_get(c, "title"));
			want =
			    json_is_true(json_object_get(c, "should_validate"));
			got = run_case(c, names, at, pass == 0 ? NULL : cache,
			    pass == 3, &code, pass == 0 ? why : why2,
			    pass == 0 ? sizeof(why) : sizeof(why2));
			if (pass == 3) {
				if (got == verdict[i])
					continue;
				if (code == UK_ERR_CERT_LEAF)
					strict_changed++;
				else
					strict_other++;
				printf("# with the strict profile: %s %s: %s\n",
				    tn, title, why2);
				continue;
			}
			if (pass > 0) {
				if (got != verdict[i]) {
					mismatch++;
					printf("# pass %d: %s %s gives %d, "
					       "without cache %d (%s)\n",
					    pass, tn, title, got, verdict[i],
					    why2);
				}
				continue;
			}
			verdict[i] = got;
			snprintf(label, sizeof(label), "%s %s (expect %s)", tn,
			    title, want ? "valid" : "invalid");
			dev = conf_devs_find(&devs, tn);
			if (got == want) {
				good++;
				printf("ok %d - %s\n", ++tap, label);
				if (dev != NULL)
					printf("# %s is listed as a deviation "
					       "but now passes\n",
					    tn);
			} else if (got >= 0 && dev != NULL) {
				bad++;
				printf("ok %d - %s # TODO known deviation: "
				       "%s\n",
				    ++tap, label, dev);
				printf("#   got %s\n", why);
			} else {
				bad++;
				unlisted++;
				printf("not ok %d - %s\n", ++tap, label);
				printf("#   got %s\n", why);
			}
		}
	}
	ca_sigcache_stats(cache, &hits, &misses);
	printf("%s %d - cached passes give the same verdicts (%d differ; "
	       "cache hits %lu, misses %lu)\n",
	    mismatch == 0 && hits > 0 ? "ok" : "not ok", ++tap, mismatch, hits,
	    misses);
	printf("%s %d - with the strict profile on, only leaf rules change "
	       "verdicts (%d changed, %d for other reasons)\n",
	    strict_other == 0 ? "ok" : "not ok", ++tap, strict_changed,
	    strict_other);
	printf("%s %d - PKITS score %d/%zu (goal >= %d)\n",
	    good >= GOAL ? "ok" : "not ok", ++tap, good, n, GOAL);
	printf("# PKITS: %d of %zu as expected, %d deviations (%d unlisted)\n",
	    good, n, bad, unlisted);
	ca_sigcache_free(cache);
	conf_devs_free(&devs);
	free(verdict);
	json_decref(m);
	return unlisted == 0 && mismatch == 0 && strict_other == 0 &&
	        good >= GOAL && hits > 0
	    ? 0
	    : 1;
}
