/* tests/bench/bench_crl.c: ca_crl with 100,000 revoked certificates in a SQLite store (goal < 1 s), against OpenSSL decoding the same CRL. */
#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "common/errors.h"
#include "common/rnd.h"
#include "common/secret.h"
#include "common/store.h"

/*
 * The store is filled with N revoked rows (random 16-octet serials, every
 * reason, revocation times spread over a year) in one transaction, then
 * ca_crl runs ROUNDS times: each time it numbers, reads every revoked row,
 * builds, sorts and signs the CRL and commits (what `ukey-ca crl` does
 * before writing the file), and the DER is encoded. The best round is
 * compared with the 1 s goal and with d2i_X509_CRL of the same DER.
 * UKEY_BENCH_CRL_N overrides N.
 */
#define DEFAULT_N 100000
#define ROUNDS 3
#define GOAL_SECS 1.0

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
fill(struct store *st, long n)
{
	static const int reasons[] = { 0, 1, 3, 4, 5, 9 };
	unsigned char rnd[16];
	char serial[33], sha[65];
	time_t t0 = time(NULL) - 365 * 86400;
	long i;
	int r;

	if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (rnd_bytes(rnd, sizeof(rnd)) != 0)
			return UK_ERR_INTERNAL;
		rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40);
		for (int k = 0; k < 16; k++)
			snprintf(serial + 2 * k, 3, "%02X", rnd[k]);
		snprintf(sha, sizeof(sha), "%064lx", i);
		r = store_exec(st, NULL,
		    "INSERT INTO certs (serial, unit_id, operator, profile,"
		    " subject, key_type, not_before, not_after, status,"
		    " revoked_at, reason, sha256, der, issued_at, replaces)"
		    " VALUES (?, ?, 'op', 'operator', 'CN=x', 'ec', ?, ?,"
		    " 'revoked', ?, ?, ?, ?, ?, NULL)",
		    "tiiiiitbi", serial, (int64_t)0, (int64_t)t0,
		    (int64_t)(t0 + 730 * 86400), (int64_t)(t0 + i % 31536000),
		    (int64_t)reasons[i % 6], sha, (const unsigned char *)"x",
		    (size_t)1, (int64_t)t0);
		if (r != 0) {
			store_rollback(st);
			return r;
		}
	}
	return store_commit(st);
}

int
main(void)
{
	const char *base = getenv("UKEY_TEST_TMP"), *ns;
	struct ca_init_params p;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = secret_from("bench passphrase", 16);
	struct secret *opass = secret_from("bench ocsp passphrase", 21);
	X509_CRL *crl = NULL, *back;
	unsigned char *der = NULL;
	const unsigned char *q;
	char dir[256], loc[300], key[300], err[512];
	double t, best = 1e9, ref = 1e9;
	long n = DEFAULT_N;
	int i, len = 0, r, ok;

	if ((ns = getenv("UKEY_BENCH_CRL_N")) != NULL &&
	    strtol(ns, NULL, 10) > 0)
		n = strtol(ns, NULL, 10);
	snprintf(dir, sizeof(dir), "%s/bench_crl.XXXXXX",
	    base != NULL ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(loc, sizeof(loc), "%s/db.sqlite", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	memset(&p, 0, sizeof(p));
	p.name = "Bench CA";
	p.key_file = key;
	p.pass = pass;
	p.ocsp_pass = opass;
	if ((r = store_open(loc, &st)) != 0 ||
	    (r = ca_init(st, NULL, &p, &ca, err, sizeof(err))) != 0) {
		fprintf(stderr, "bench_crl: setup failed: %s (%s)\n",
		    uk_strerror(r), err);
		return 1;
	}
	t = now();
	if ((r = fill(st, n)) != 0) {
		fprintf(stderr, "bench_crl: filling the store: %s\n",
		    store_last_error(st));
		return 1;
	}
	printf("stored %ld revoked certificates in %.2f s\n", n, now() - t);
	for (i = 0; i < ROUNDS; i++) {
		t = now();
		if ((r = ca_crl(ca, "bench", &crl)) != 0) {
			fprintf(stderr, "bench_crl: ca_crl: %s\n",
			    ca_errmsg(ca));
			return 1;
		}
		OPENSSL_free(der);
		der = NULL;
		len = i2d_X509_CRL(crl, &der);
		t = now() - t;
		if (t < best)
			best = t;
		if (sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) != n) {
			fprintf(stderr, "bench_crl: %d entries, not %ld\n",
			    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), n);
			return 1;
		}
		X509_CRL_free(crl);
		crl = NULL;
		/* Reference: OpenSSL decoding the same CRL. */
		t = now();
		q = der;
		back = d2i_X509_CRL(NULL, &q, len);
		t = now() - t;
		if (back == NULL)
			return 1;
		X509_CRL_free(back);
		if (t < ref)
			ref = t;
	}
	ok = best < GOAL_SECS;
	printf("ca_crl with %ld revoked: %.3f s (best of %d), %d bytes of "
	       "DER; goal < %.1f s: %s\n",
	    n, best, ROUNDS, len, GOAL_SECS, ok ? "met" : "MISSED");
	printf("reference d2i_X509_CRL of the same CRL: %.3f s; ratio "
	       "ca_crl / decode = %.2f\n",
	    ref, best / ref);
	OPENSSL_free(der);
	ca_free(ca);
	store_close(st);
	secret_free(pass);
	secret_free(opass);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return ok ? 0 : 1;
}
