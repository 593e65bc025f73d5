/* tests/bench/bench_login.c: UKey logins per second (challenge + verify + session and audit row, ES256, SQLite) on one thread and on the gateway's default pool (2 threads per core; THREADS to change), and their CPU cost, against `openssl speed ecdsap256` verify x cores in the same run. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "common/audit.h"
#include "common/b64.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/authcert.h"
#include "gateway/session.h"

/*
 * A login here is what the gateway does for one: gw_challenge_new (a
 * relaxed write: no fsync), then gw_authcert_check of the agent's token
 * (challenge read, token parsed or found in the parsed-certificate cache,
 * chain checked under the store's CA with its warm signature cache,
 * revocation read from the store, ES256 signature, binding, operator and
 * unit read; no write), then what POST /auth/cert writes for an accepted
 * login: the challenge taken (gw_authcert_take), the audit row and the
 * session in one durable transaction (STORE_TX_WRITE_GROUP: concurrent
 * logins share the fsync). The agent's signing is not the gateway's work:
 * tokens are signed between the two timed phases. Each thread (one of the
 * gateway's pool threads: 2 per core by default) has its own store
 * connection on the same SQLite file and shares one struct gw_authcert. The reference is `openssl speed
 * -seconds 3 ecdsap256` (run through popen; its verify/s, one core) times
 * the cores. The machine is shared: ROUNDS rounds, the best of each figure.
 */
#define ORIGIN "https://gjj.example.cn"
#define PER_THREAD 2000
#define ROUNDS 3
#define GOAL 0.2
#define MAX_THREADS 16
#define CLIENTS_PER_CORE 2 /* the gateway's default pool: 2 per core */

struct bench {
	char loc[1024];
	struct gw_authcert *ac;
	EVP_PKEY *key;
	char *cert_b64;
	int64_t now;
	int nthreads;
	pthread_barrier_t bar;
	double t[4]; /* start, challenges done, tokens signed, verified */
	double cpu;  /* CPU seconds of the last run's timed phases */
	int failed;
};

struct worker {
	struct bench *b;
	int idx;
	double cpu; /* seconds of this thread's CPU in the timed phases */
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A scratch directory under UKEY_TEST_TMP or /tmp, or -1. */
static int
scratch(char *dir, size_t len)
{
	const char *base = getenv("UKEY_TEST_TMP");

	snprintf(dir, len, "%s/bench_login.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The calling thread's CPU time (user and system), seconds. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* verify/s of `openssl speed -seconds 3 ecdsap256` (one core), or 0. */
static double
openssl_speed(void)
{
	char line[512];
	double v = 0;
	size_t n;
	FILE *f;

	if ((f = popen("openssl speed -seconds 3 ecdsap256 2>/dev/null",
	         "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "nistp256") == NULL ||
		    strstr(line, "ecdsa") == NULL)
			continue;
		/* "256 bits ecdsa (nistp256) 0.0000s 0.0001s 51633.9
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

/* The agent's token for nonce: ES256 over H(H(origin) || H(nonce)). */
static char *
make_token(struct bench *b, const char *nonce)
{
	unsigned char tbs[64], der[128], raw[64];
	const unsigned char *p = der;
	size_t len = sizeof(der);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	ECDSA_SIG *s = NULL;
	const BIGNUM *r, *ss;
	char *sig = NULL, *out = NULL;
	json_t *j = NULL;

	if (m == NULL || gw_authcert_tbs("ES256", ORIGIN, nonce, tbs) != 0 ||
	    EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, b->key) != 1 ||
	    EVP_DigestSign(m, der, &len, tbs, sizeof(tbs)) != 1 ||
	    (s = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		goto out;
	ECDSA_SIG_get0(s, &r, &ss);
	if (BN_bn2binpad(r, raw, 32) != 32 ||
	    BN_bn2binpad(ss, raw + 32, 32) != 32 ||
	    (sig = b64_encode(raw, sizeof(raw), 0)) == NULL)
		goto out;
	if ((j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "format",
	         "ukey-auth:1.0", "unverifiedCertificate", b->cert_b64,
	         "algorithm", "ES256", "signature", sig, "appVersion",
	         "ukey-agent/bench", "nonce", nonce)) != NULL)
		out = json_dumps(j, JSON_COMPACT);
out:
	json_decref(j);
	free(sig);
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(m);
	return out;
}

static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct store *st = NULL;
	struct gw_authcert_result res;
	struct gw_identity id;
	struct gw_session_conf sconf = { 1800, 28800 };
	struct audit_event ev;
	char cookie[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];
	char(*nonces)[45] = calloc(PER_THREAD, 45);
	char **tokens = calloc(PER_THREAD, sizeof(char *));
	char browser[32];
	double c0;
	int i, bad = 0;

	snprintf(browser, sizeof(browser), "browser-%d", w->idx);
	if (nonces == NULL || tokens == NULL || store_open(b->loc, &st) != 0)
		bad = 1;
	pthread_barrier_wait(&b->bar);
	if (w->idx == 0)
		b->t[0] = now_s();
	c0 = cpu_s();
	for (i = 0; i < PER_THREAD && !bad; i++)
		if (gw_challenge_new(b->ac, st, browser, b->now, nonces[i]) !=
		    0)
			bad = 1;
	w->cpu = cpu_s() - c0;
	pthread_barrier_wait(&b->bar);
	if (w->idx == 0)
		b->t[1] = now_s();
	for (i = 0; i < PER_THREAD && !bad; i++)
		if ((tokens[i] = make_token(b, nonces[i])) == NULL)
			bad = 1;
	pthread_barrier_wait(&b->bar);
	if (w->idx == 0)
		b->t[2] = now_s();
	c0 = cpu_s();
	for (i = 0; i < PER_THREAD && !bad; i++) {
		/* the checks, reading the challenge only */
		if (gw_authcert_check(b->ac, st, browser, NULL, tokens[i],
		        strlen(tokens[i]), b->now, &id, &res) != 0 ||
		    res.code != 0) {
			fprintf(stderr, "login refused: %d %s\n", res.code,
			    res.detail);
			bad = 1;
			break;
		}
		/* what POST /auth/cert writes for an accepted login: the
		 * challenge taken, the audit row and the session, in one
		 * durable transaction whose fsync concurrent logins share */
		memset(&ev, 0, sizeof(ev));
		ev.event = "login.cert";
		ev.actor = "operator:bench";
		ev.subject = res.sha256;
		ev.detail = res.subject;
		ev.ip = "192.0.2.1";
		ev.result = "ok";
		if (store_begin(st, STORE_TX_WRITE_GROUP) != 0 ||
		    gw_authcert_take(st, &res) != 0 || res.code != 0 ||
		    audit_append_ex(st, &ev, NULL) != 0 ||
		    gw_session_create(st, &sconf, &id, "192.0.2.1", "bench",
		        b->now, cookie, csrf) != 0 ||
		    store_commit(st) != 0) {
			fprintf(stderr, "session not made: %s\n",
			    store_last_error(st));
			store_rollback(st);
			bad = 1;
		}
	}
	w->cpu += cpu_s() - c0;
	pthread_barrier_wait(&b->bar);
	if (w->idx == 0)
		b->t[3] = now_s();
	if (bad)
		b->failed = 1;
	for (i = 0; i < PER_THREAD && tokens != NULL; i++)
		free(tokens[i]);
	free(tokens);
	free(nonces);
	store_close(st);
	return NULL;
}

/* Logins per second with n threads, or -1. */
static double
run(struct bench *b, int n)
{
	pthread_t th[MAX_THREADS];
	struct worker w[MAX_THREADS];
	int i;

	b->nthreads = n;
	b->failed = 0;
	if (pthread_barrier_init(&b->bar, NULL, (unsigned)n) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		w[i].b = b;
		w[i].idx = i;
		if (pthread_create(&th[i], NULL, worker, &w[i]) != 0)
			return -1;
	}
	b->cpu = 0;
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		b->cpu += w[i].cpu;
	}
	pthread_barrier_destroy(&b->bar);
	if (b->failed)
		return -1;
	printf("# %d thread(s): challenges %.0f/s, verifications %.0f/s\n", n,
	    n * PER_THREAD / (b->t[1] - b->t[0]),
	    n * PER_THREAD / (b->t[3] - b->t[2]));
	return n * PER_THREAD / ((b->t[1] - b->t[0]) + (b->t[3] - b->t[2]));
}

/* A store with a CA, a unit with its agreement, an operator and their
 * certificate. */
static int
setup(struct bench *b, const char *dir)
{
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct ca_init_params p;
	struct ca_issue_req req;
	struct ca_issued is;
	struct gw_authcert_conf conf;
	struct secret *pass = secret_from("bench passphrase", 16);
	struct secret *opass = secret_from("ocsp passphrase", 15);
	unsigned char *der = NULL;
	char key[1100], err[512];
	int n, r = -1;

	memset(&is, 0, sizeof(is));
	snprintf(b->loc, sizeof(b->loc), "%s/ukey.db", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	b->now = (int64_t)time(NULL);
	memset(&p, 0, sizeof(p));
	p.name = "Bench CA";
	p.key_file = key;
	p.pass = pass;
	p.ocsp_pass = opass;
	memset(&req, 0, sizeof(req));
	req.unit = "U1";
	req.operator= "bench";
	memset(&conf, 0, sizeof(conf));
	conf.origin = ORIGIN;
	if ((b->key = EVP_EC_gen("P-256")) == NULL ||
	    store_open(b->loc, &st) != 0 ||
	    ca_init(st, NULL, &p, &ca, err, sizeof(err)) != 0 ||
	    ca_issue_key(ca, b->key, NULL, &req, &is) != 0 ||
	    store_exec(st, NULL,
	        "UPDATE units SET agreement_at = 1 WHERE id = 'U1'", "") != 0 ||
	    store_exec(st, NULL,
	        "INSERT INTO operators (login, login_lc, unit_id, name, "
	        "roles, created_at) VALUES ('bench', 'bench', 'U1', 'B', "
	        "'maker', ?)",
	        "i", b->now) != 0 ||
	    (n = i2d_X509(is.cert, &der)) <= 0 ||
	    (b->cert_b64 = b64_encode(der, (size_t)n, 0)) == NULL ||
	    gw_authcert_new(st, &conf, &b->ac) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		printf("login: setup failed: %s\n", store_last_error(st));
	OPENSSL_free(der);
	ca_issued_clear(&is);
	ca_free(ca);
	store_close(st);
	secret_free(pass);
	secret_free(opass);
	return r;
}

int
main(void)
{
	struct bench b;
	char dir[512];
	double one = 0, multi = 0, ref = 0, x, cpu = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int i, n;

	memset(&b, 0, sizeof(b));
	if (cores < 1)
		cores = 1;
	/* as many logins in flight as the gateway has pool threads (and
	 * sharing fsyncs); THREADS overrides */
	n = getenv("THREADS") != NULL ? (int)strtol(getenv("THREADS"), NULL, 10)
	                              : (int)(CLIENTS_PER_CORE * cores);
	n = n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : n);
	if (scratch(dir, sizeof(dir)) != 0 || setup(&b, dir) != 0)
		return 1;
	for (i = 0; i < ROUNDS; i++) {
		if ((x = run(&b, 1)) < 0 || (one = x > one ? x : one) < 0)
			break;
		if ((x = run(&b, n)) < 0)
			break;
		multi = x > multi ? x : multi;
		x = b.cpu / (n * PER_THREAD);
		cpu = cpu == 0 || x < cpu ? x : cpu;
		x = openssl_speed();
		ref = x > ref ? x : ref;
		printf("# round %d: 1 thread %.0f logins/s, %d threads %.0f "
		       "logins/s, openssl speed ecdsap256 verify %.0f/s\n",
		    i + 1, one, n, multi, x);
	}
	if (i < ROUNDS) {
		printf("login: a login failed\n");
	} else if (ref <= 0) {
		printf("login: %.0f/s (1 thread), %.0f/s (%d threads); openssl "
		       "speed unavailable\n",
		    one, multi, n);
	} else {
		printf("login: 1 thread %.0f/s (%.2f x one core's %.0f "
		       "verify/s); %d threads %.0f/s, openssl speed "
		       "ecdsap256 verify x %ld cores: %.0f/s, ratio %.2f "
		       "(goal >= %.1f)\n",
		    one, one / ref, ref, n, multi, cores, ref * (double)cores,
		    multi / (ref * (double)cores), GOAL);
		/* The same comparison per CPU second: what a login costs the
		 * gateway against what one verify costs, whatever else the
		 * machine was doing (fsync waits are not CPU time). */
		printf("login: CPU per login %.0f us (%d threads, challenge + "
		       "verification) = %.1f verifies of %.0f us; logins per "
		       "CPU second / verifies per CPU second = %.2f (goal >= "
		       "%.1f)\n",
		    cpu * 1e6, n, cpu * ref, 1e6 / ref, 1.0 / (cpu * ref),
		    GOAL);
	}
	gw_authcert_free(b.ac);
	EVP_PKEY_free(b.key);
	free(b.cert_b64);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return i < ROUNDS;
}
