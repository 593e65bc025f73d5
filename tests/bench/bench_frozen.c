/* tests/bench/bench_frozen.c: refusals of a frozen operator per second on SQLite (goal >= 10,000/s), against a bare one-row write transaction in the same store. */
#include <sys/stat.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/pwhash.h"
#include "gateway/pwlogin.h"

/*
 * An operator is frozen by six wrong passwords; then each round runs
 * gw_pwlogin_attempt for SECONDS with the right password (per-IP count,
 * row lock, audit row, commit: one write transaction, no hash) and, as the
 * reference, the same time of bare write transactions (BEGIN IMMEDIATE, one
 * UPDATE, COMMIT) on the same store. The best of ROUNDS interleaved rounds
 * of each is compared. The store lives under UKEY_TEST_TMP (or /tmp), so
 * the figure includes that file system's fsync.
 */
#define ROUNDS 3
#define SECONDS 1.0
#define GOAL 10000.0
#define T0 ((int64_t)1718000000)

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
setup(struct store *st, const struct gw_pwlogin_conf *conf)
{
	struct gw_pwlogin_result res;
	struct secret *pw = secret_from("Secret123", 9);
	struct secret *bad = secret_from("Wrong4567", 9);
	char *phc = NULL;
	int i, r = UK_ERR_NOMEM;

	if (pw == NULL || bad == NULL)
		goto out;
	if ((r = gw_pwhash(&conf->hash, pw, &phc)) != 0)
		goto out;
	r = store_exec(st, NULL,
	    "INSERT INTO units (id, name, created_at, agreement_at)"
	    " VALUES ('U1', 'unit', ?, ?)",
	    "ii", T0, T0);
	if (r != 0)
		goto out;
	r = store_exec(st, NULL,
	    "INSERT INTO operators (login, login_lc, unit_id, name, pw_hash,"
	    " created_at) VALUES ('alice', 'alice', 'U1', 'A', ?, ?)",
	    "ti", phc, T0);
	if (r != 0)
		goto out;
	for (i = 0; i < GW_PW_TRIES; i++) {
		r = gw_pwlogin_attempt(st, conf, "alice", bad, "192.0.2.1",
		    "bench", T0 + i, &res);
		if (r != 0)
			goto out;
	}
	r = gw_pwlogin_attempt(st, conf, "alice", pw, "192.0.2.1", "bench",
	    T0 + 10, &res);
	if (r == 0 && res.code != UK_ERR_LOGIN_FROZEN)
		r = UK_ERR_INTERNAL;
out:
	free(phc);
	secret_free(pw);
	secret_free(bad);
	return r;
}

/* Frozen refusals per second for SECONDS. */
static double
run_refusals(struct store *st, const struct gw_pwlogin_conf *conf,
    const struct secret *pw, uint64_t *hashes)
{
	struct gw_pwlogin_result res;
	uint64_t c0 = gw_pwhash_count();
	double t0 = now(), t;
	long n = 0;

	do {
		if (gw_pwlogin_attempt(st, conf, "alice", pw, "192.0.2.1",
		        "bench", T0 + 20, &res) != 0 ||
		    res.code != UK_ERR_LOGIN_FROZEN)
			return -1;
		n++;
	} while ((t = now() - t0) < SECONDS);
	*hashes += gw_pwhash_count() - c0;
	return (double)n / t;
}

/* Bare write transactions per second for SECONDS. */
static double
run_reference(struct store *st)
{
	double t0 = now(), t;
	long n = 0;

	do {
		if (store_begin(st, STORE_TX_WRITE) != 0)
			return -1;
		if (store_exec(st, NULL,
		        "UPDATE units SET created_at = created_at + 1"
		        " WHERE id = 'U1'",
		        "") != 0 ||
		    store_commit(st) != 0) {
			store_rollback(st);
			return -1;
		}
		n++;
	} while ((t = now() - t0) < SECONDS);
	return (double)n / t;
}

int
main(void)
{
	struct gw_pwlogin_conf conf;
	struct store *st = NULL;
	struct secret *pw = NULL;
	const char *base = getenv("UKEY_TEST_TMP");
	char dir[512], loc[600];
	double best = 0, ref = 0, v, w;
	uint64_t hashes = 0;
	int i, r, rc = 1;

	memset(&conf, 0, sizeof(conf));
	conf.tz = "Asia/Shanghai";
	conf.ip_limit = 1000000000;
	conf.ip_window = 300;
	conf.hash.t_cost = 1;
	conf.hash.m_cost_kib = 256;
	conf.hash.parallelism = 1;
	snprintf(dir, sizeof(dir), "%s/bench_frozen.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench_frozen: mkdtemp");
		return 1;
	}
	snprintf(loc, sizeof(loc), "%s/ukey.db", dir);
	if ((r = store_open(loc, &st)) != 0 || (r = setup(st, &conf)) != 0) {
		fprintf(stderr, "bench_frozen: setup failed: %s (%s)\n",
		    uk_error_id(r), store_last_error(st));
		goto out;
	}
	if ((pw = secret_from("Secret123", 9)) == NULL)
		goto out;
	for (i = 0; i < ROUNDS; i++) {
		if ((v = run_refusals(st, &conf, pw, &hashes)) < 0) {
			fprintf(stderr, "bench_frozen: refusal failed: %s\n",
			    store_last_error(st));
			goto out;
		}
		if (v > best)
			best = v;
		if ((w = run_reference(st)) < 0) {
			fprintf(stderr, "bench_frozen: reference failed: %s\n",
			    store_last_error(st));
			goto out;
		}
		if (w > ref)
			ref = w;
		printf("# round %d: refusals %.0f/s, bare write tx %.0f/s\n",
		    i + 1, v, w);
	}
	printf("frozen refusals (SQLite): %.0f/s, %llu hashes; goal >= %.0f/s: "
	       "%s\n",
	    best, (unsigned long long)hashes, GOAL,
	    best >= GOAL ? "met" : "MISSED");
	printf("reference bare write transaction: %.0f/s; ratio refusal / "
	       "write tx = %.2f\n",
	    ref, best / ref);
	rc = hashes == 0 ? 0 : 1;
out:
	secret_free(pw);
	store_close(st);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
