/* tests/bench/bench_ocsp_setup.c: makes the OCSP benchmark's CA with N issued certificates in a store, and the matching OpenSSL index.txt. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"

/*
 * Usage: bench_ocsp_setup STORE DIR N
 *
 * Creates a CA (EC P-256) in STORE with its key in DIR/ca.key (passphrase
 * in DIR/pass, for `ukey-ca ocsp --pass-fd`), issues N operator
 * certificates through the CA library (ca_issue_key: the same path as a
 * counter enrolment, one durable transaction each), and writes for
 * `openssl ocsp -index`:
 *   DIR/index.txt     one "V" line per certificate (BN_bn2hex serials)
 *   DIR/issuing.pem   the issuing CA (-CA, and the client's -issuer)
 *   DIR/root.pem      the root (the client's -CAfile)
 *   DIR/ocsp.pem      the delegated OCSP signer (-rsigner)
 *   DIR/ocsp-key.pem  its key, unencrypted, mode 0600 (-rkey)
 *   DIR/serials.txt   the serials issued, one a line
 * Prints the number issued and the time it took. This is a benchmark
 * fixture: the unencrypted signer key stays in DIR, which the caller
 * removes.
 */

#define PASSPHRASE "ukey-bench-passphrase"
/* The OCSP signer key's own passphrase: DIR/ocsp.pass, for ukey-ca ocsp. */
#define OCSP_PASSPHRASE "ukey-bench-ocsp-passphrase"

static int
write_pem_cert(const char *dir, const char *name, X509 *x)
{
	char path[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = PEM_write_X509(f, x);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
write_key(const char *dir, EVP_PKEY *key)
{
	char path[1024];
	FILE *f;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/ocsp-key.pem", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
write_pass(const char *dir)
{
	char path[1024];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/ocsp.pass", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return -1;
	ok = write(fd, OCSP_PASSPHRASE "\n", sizeof(OCSP_PASSPHRASE)) ==
	    (ssize_t)sizeof(OCSP_PASSPHRASE);
	return close(fd) == 0 && ok ? 0 : -1;
}

/* One index.txt line: status, expiry, revocation, serial, file, subject. */
static int
index_line(FILE *f, const struct ca_issued *is)
{
	const ASN1_TIME *na = X509_get0_notAfter(is->cert);
	char *subject;
	int ok;

	subject = X509_NAME_oneline(X509_get_subject_name(is->cert), NULL, 0);
	if (subject == NULL)
		return -1;
	ok = fprintf(f, "V\t%.*s\t\t%s\tunknown\t%s\n", ASN1_STRING_length(na),
	         (const char *)ASN1_STRING_get0_data(na), is->serial,
	         subject) > 0;
	OPENSSL_free(subject);
	return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL, *opass = NULL;
	struct ca_config cfg;
	struct ca_init_params ip;
	struct ca_issue_req req;
	struct ca_issued is;
	EVP_PKEY *leaf = NULL, *okey = NULL;
	FILE *idx = NULL, *ser = NULL;
	char path[1024], keyfile[1024], unit[32], op[32], err[256];
	struct timespec t0, t1;
	long n, i;
	char *end;
	int r, rc = 1;

	memset(&is, 0, sizeof(is));
	if (argc == 1) {
		/* tests/bench/run.sh runs every program here without
		 * arguments: this one only serves bench_ocsp.sh. */
		printf("bench_ocsp_setup: the fixture of tests/bench/"
		       "bench_ocsp.sh; nothing to measure alone\n");
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: %s STORE DIR N\n", argv[0]);
		return 2;
	}
	errno = 0;
	n = strtol(argv[3], &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 1000000) {
		fprintf(stderr, "%s: N must be 1..1000000\n", argv[0]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pass = secret_from(PASSPHRASE, strlen(PASSPHRASE))) == NULL ||
	    (opass = secret_from(OCSP_PASSPHRASE, strlen(OCSP_PASSPHRASE))) ==
	        NULL ||
	    write_pass(argv[2]) != 0) {
		fprintf(stderr, "%s: cannot write %s/ocsp.pass\n", argv[0],
		    argv[2]);
		goto out;
	}
	if ((r = store_open(argv[1], &st)) != 0) {
		fprintf(stderr, "%s: store: %s: %s\n", argv[0], uk_error_id(r),
		    store_last_error(NULL));
		goto out;
	}
	ca_config_init(&cfg);
	cfg.ocsp_url = "http://127.0.0.1/";
	memset(&ip, 0, sizeof(ip));
	snprintf(keyfile, sizeof(keyfile), "%s/ca.key", argv[2]);
	ip.name = "Bench CA";
	ip.key_type = CA_KEY_EC;
	ip.key_file = keyfile;
	ip.pass = pass;
	ip.ocsp_pass = opass;
	ip.actor = "bench";
	if ((r = ca_init(st, &cfg, &ip, &ca, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s: ca_init: %s: %s\n", argv[0],
		    uk_error_id(r), err);
		goto out;
	}
	if ((r = ca_load_ocsp_key(ca, opass, &okey)) != 0) {
		fprintf(stderr, "%s: OCSP key: %s: %s\n", argv[0],
		    uk_error_id(r), ca_errmsg(ca));
		goto out;
	}
	if (write_pem_cert(argv[2], "issuing.pem", ca_issuing_cert(ca)) != 0 ||
	    write_pem_cert(argv[2], "root.pem", ca_root_cert(ca)) != 0 ||
	    ca_ocsp_cert(ca) == NULL ||
	    write_pem_cert(argv[2], "ocsp.pem", ca_ocsp_cert(ca)) != 0 ||
	    write_key(argv[2], okey) != 0) {
		fprintf(stderr, "%s: cannot write the PEM files\n", argv[0]);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/index.txt", argv[2]);
	if ((idx = fopen(path, "w")) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/serials.txt", argv[2]);
	if ((ser = fopen(path, "w")) == NULL)
		goto out;
	/* One key certified N times: the benchmark is about answering. */
	if ((leaf = EVP_EC_gen("P-256")) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		memset(&req, 0, sizeof(req));
		snprintf(unit, sizeof(unit), "B%07ld", i);
		snprintf(op, sizeof(op), "op%07ld", i);
		req.unit = unit;
		req.operator= op;
		req.profile = CA_PROFILE_OPERATOR;
		req.actor = "bench";
		if ((r = ca_issue_key(ca, leaf, NULL, &req, &is)) != 0) {
			fprintf(stderr, "%s: issue %ld: %s: %s\n", argv[0], i,
			    uk_error_id(r), ca_errmsg(ca));
			goto out;
		}
		if (index_line(idx, &is) != 0 ||
		    fprintf(ser, "%s\n", is.serial) < 0)
			goto out;
		ca_issued_clear(&is);
	}
	if (fclose(idx) != 0) {
		idx = NULL;
		goto out;
	}
	idx = NULL;
	if (fclose(ser) != 0) {
		ser = NULL;
		goto out;
	}
	ser = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("issued %ld certificates in %.1f s\n", n,
	    (double)(t1.tv_sec - t0.tv_sec) +
	        (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "%s: setup failed\n", argv[0]);
	if (idx != NULL)
		fclose(idx);
	if (ser != NULL)
		fclose(ser);
	ca_issued_clear(&is);
	EVP_PKEY_free(leaf);
	EVP_PKEY_free(okey);
	ca_free(ca);
	store_close(st);
	secret_free(pass);
	secret_free(opass);
	return rc;
}
