/* tests/bench/bench_agent.c: POST /v1/authenticate round trips against the same work done directly on the token (login, C_Sign, logout) and a bare C_Sign loop, in one run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/tokop.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/rnd.h"
#include "common/secret.h"
#include "pkcs11/token.h"

/*
 * Driven by tests/bench/bench_agent.sh, which makes the SoftHSM2 token and
 * starts the agents:
 *   bench_agent MODULE SERIAL IDHEX PINFILE ORIGIN N URL [URL...]
 * For each of N rounds it times, in turn: one direct operation as the
 * worker does it (p11_login, p11_sign ES256 of H(origin)||H(nonce),
 * p11_logout), one bare p11_sign while logged in (C_Sign), and one round
 * trip to each agent URL (keep-alive connection, pin_source = request).
 * Medians are printed in microseconds, and the agent's overhead: its
 * median minus the direct operation's.
 */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t
sink(void *p, size_t sz, size_t n, void *arg)
{
	long *code = arg;

	(void)p;
	(void)code;
	return sz * n;
}

/* A fresh 44-character nonce. */
static int
nonce(char *out)
{
	unsigned char b[32];
	char *s;

	if (rnd_bytes(b, sizeof(b)) != 0 || (s = b64_encode(b, 32, 0)) == NULL)
		return -1;
	memcpy(out, s, 45);
	free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	struct p11_ctx *ctx = NULL;
	struct p11_token *tok = NULL;
	struct secret *pin = NULL;
	struct p11_id id;
	const char *allow[2];
	unsigned char tbs[64], sig[P11_SIG_MAX];
	char n[64], body[256], hdr[300];
	double *direct = NULL, *csign = NULL, **agent = NULL, t0, md, ms;
	CURL **curl = NULL;
	struct curl_slist **hl = NULL;
	size_t siglen, i, k, nurl, rounds;
	long code;
	int r = 1;

	if (argc < 8) {
		printf("bench_agent: run by tests/bench/bench_agent.sh "
		       "(nothing to do alone)\n");
		return 0;
	}
	uk_log_init("bench_agent", UK_LOG_ERROR);
	rounds = (size_t)strtoul(argv[6], NULL, 10);
	nurl = (size_t)argc - 7;
	if (rounds < 1 || p11_id_from_hex(argv[3], &id) != 0) {
		fprintf(stderr, "bench_agent: bad arguments\n");
		return 2;
	}
	{
		FILE *f = fopen(argv[4], "r");
		char p[128];
		if (f == NULL || fgets(p, sizeof(p), f) == NULL) {
			fprintf(stderr, "bench_agent: no PIN file\n");
			return 2;
		}
		fclose(f);
		p[strcspn(p, "\r\n")] = '\0';
		pin = secret_from(p, strlen(p));
	}
	allow[0] = argv[1];
	allow[1] = NULL;
	if (p11_ctx_new(argv[1], allow, &ctx) != 0 ||
	    p11_token_open(ctx, argv[2], &tok) != 0) {
		fprintf(stderr, "bench_agent: token %s not found\n", argv[2]);
		goto out;
	}
	direct = calloc(rounds, sizeof(double));
	csign = calloc(rounds, sizeof(double));
	agent = calloc(nurl, sizeof(double *));
	curl = calloc(nurl, sizeof(CURL *));
	hl = calloc(nurl, sizeof(struct curl_slist *));
	if (direct == NULL || csign == NULL || agent == NULL || curl == NULL ||
	    hl == NULL)
		goto out;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(hdr, sizeof(hdr), "Origin: %s", argv[5]);
	for (k = 0; k < nurl; k++) {
		if ((agent[k] = calloc(rounds, sizeof(double))) == NULL ||
		    (curl[k] = curl_easy_init()) == NULL)
			goto out;
		hl[k] = curl_slist_append(NULL, hdr);
		hl[k] =
		    curl_slist_append(hl[k], "Content-Type: application/json");
		curl_easy_setopt(curl[k], CURLOPT_URL, argv[7 + k]);
		curl_easy_setopt(curl[k], CURLOPT_HTTPHEADER, hl[k]);
		curl_easy_setopt(curl[k], CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(curl[k], CURLOPT_WRITEDATA, &code);
		curl_easy_setopt(curl[k], CURLOPT_TCP_NODELAY, 1L);
	}
	for (i = 0; i < rounds; i++) {
		/* Direct: what the worker does on the token. */
		if (nonce(n) != 0)
			goto out;
		t0 = now_us();
		ag_tbs(argv[5], n, tbs);
		siglen = sizeof(sig);
		if (p11_login(tok, pin) != 0 ||
		    p11_sign(tok, &id, "ES256", tbs, sizeof(tbs), sig,
		        &siglen) != 0) {
			fprintf(stderr, "bench_agent: direct signing failed\n");
			goto out;
		}
		direct[i] = now_us() - t0;
		/* Bare C_Sign while logged in. */
		t0 = now_us();
		siglen = sizeof(sig);
		if (p11_sign(tok, &id, "ES256", tbs, sizeof(tbs), sig,
		        &siglen) != 0)
			goto out;
		csign[i] = now_us() - t0;
		t0 = now_us();
		if (p11_logout(tok) != 0)
			goto out;
		direct[i] += now_us() - t0;
		/* The agents. */
		for (k = 0; k < nurl; k++) {
			if (nonce(n) != 0)
				goto out;
			snprintf(body, sizeof(body),
			    "{\"nonce\":\"%s\",\"certificate\":\"%s:%s\","
			    "\"pin\":\"%s\"}",
			    n, argv[2], argv[3], (const char *)pin->buf);
			curl_easy_setopt(curl[k], CURLOPT_POSTFIELDS, body);
			t0 = now_us();
			if (curl_easy_perform(curl[k]) != CURLE_OK)
				goto out;
			agent[k][i] = now_us() - t0;
			curl_easy_getinfo(curl[k], CURLINFO_RESPONSE_CODE,
			    &code);
			if (code != 200) {
				fprintf(stderr,
				    "bench_agent: %s answered %ld\n",
				    argv[7 + k], code);
				goto out;
			}
		}
	}
	md = median(direct, rounds);
	ms = median(csign, rounds);
	printf("direct C_Sign (logged in):            median %8.0f us\n", ms);
	printf("direct login + C_Sign + logout:       median %8.0f us\n", md);
	for (k = 0; k < nurl; k++) {
		double ma = median(agent[k], rounds);
		printf("agent POST /v1/authenticate [%zu]:     median %8.0f us"
		       "   overhead %+7.0f us vs direct login+sign+logout, "
		       "%+7.0f us vs C_Sign\n",
		    k + 1, ma, ma - md, ma - ms);
	}
	r = 0;
out:
	for (k = 0; agent != NULL && k < nurl; k++) {
		free(agent[k]);
		if (curl[k] != NULL)
			curl_easy_cleanup(curl[k]);
		curl_slist_free_all(hl[k]);
	}
	free(agent);
	free(curl);
	free(hl);
	free(direct);
	free(csign);
	p11_token_free(tok);
	p11_ctx_free(ctx);
	secret_free(pin);
	return r;
}
