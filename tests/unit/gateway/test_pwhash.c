/* tests/unit/gateway/test_pwhash.c: Argon2id password hashes: round trip, wrong password, rehash, malformed strings, the counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "common/secret.h"
#include "gateway/pwhash.h"

/* Small parameters so that the tests are quick. */
static const struct gw_pwhash_params small = { 1, 64, 1 };

static struct secret *
pw(const char *s)
{
	struct secret *x = secret_from(s, strlen(s));

	assert_non_null(x);
	return x;
}

static void
test_defaults(void **state)
{
	struct gw_pwhash_params p;

	(void)state;
	gw_pwhash_defaults(&p);
	assert_int_equal(p.t_cost, 3);
	assert_int_equal(p.m_cost_kib, 65536);
	assert_int_equal(p.parallelism, 1);
}

static void
test_round_trip(void **state)
{
	struct secret *good = pw("correct horse 1"),
	              *bad = pw("correct horse 2");
	char *phc = NULL, *phc2 = NULL;
	uint64_t n0;
	int rehash = -1;

	(void)state;
	n0 = gw_pwhash_count();
	assert_int_equal(gw_pwhash(&small, good, &phc), 0);
	assert_int_equal(gw_pwhash_count(), n0 + 1);
	assert_non_null(phc);
	assert_true(strncmp(phc, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
	assert_int_equal(gw_pwhash_verify(&small, phc, good, &rehash), 0);
	assert_int_equal(rehash, 0);
	assert_int_equal(gw_pwhash_count(), n0 + 2);
	assert_int_equal(gw_pwhash_verify(&small, phc, bad, &rehash),
	    UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(gw_pwhash_count(), n0 + 3);
	/* a fresh salt each time */
	assert_int_equal(gw_pwhash(&small, good, &phc2), 0);
	assert_string_not_equal(phc, phc2);
	assert_int_equal(gw_pwhash_verify(&small, phc2, good, NULL), 0);
	free(phc);
	free(phc2);
	secret_free(good);
	secret_free(bad);
}

static void
test_rehash(void **state)
{
	struct gw_pwhash_params more = { 2, 64, 1 }, mem = { 1, 128, 1 },
	                        lanes = { 1, 64, 2 };
	struct secret *good = pw("abcd1234");
	char *phc = NULL;
	int rehash = 0;

	(void)state;
	assert_int_equal(gw_pwhash(&small, good, &phc), 0);
	assert_int_equal(gw_pwhash_verify(&more, phc, good, &rehash), 0);
	assert_int_equal(rehash, 1);
	rehash = 0;
	assert_int_equal(gw_pwhash_verify(&mem, phc, good, &rehash), 0);
	assert_int_equal(rehash, 1);
	rehash = 0;
	assert_int_equal(gw_pwhash_verify(&lanes, phc, good, &rehash), 0);
	assert_int_equal(rehash, 1);
	assert_int_equal(gw_pwhash_verify(&small, phc, good, &rehash), 0);
	assert_int_equal(rehash, 0);
	free(phc);
	secret_free(good);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1$c2Fsd$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFz",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g$",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0="
		"$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		NULL,
	};
	struct secret *good = pw("abcd1234");
	uint64_t n0 = gw_pwhash_count();
	int i, rehash = 5;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		rehash = 5;
		if (gw_pwhash_verify(&small, bad[i], good, &rehash) !=
		    UK_ERR_INPUT)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(rehash, 0);
	}
	assert_int_equal(gw_pwhash_verify(&small, NULL, good, NULL),
	    UK_ERR_INPUT);
	/* nothing was computed for malformed strings */
	assert_int_equal(gw_pwhash_count(), n0);
	/* a well-formed string that does not match */
	assert_int_equal(gw_pwhash_verify(&small,
	                     "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
	                     "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	                     good, NULL),
	    UK_ERR_LOGIN_PASSWORD);
	assert_int_equal(gw_pwhash_count(), n0 + 1);
	secret_free(good);
}

static void
test_bad_params(void **state)
{
	struct gw_pwhash_params zero = { 0, 64, 1 }, tiny = { 1, 4, 1 };
	struct secret *good = pw("abcd1234");
	char *phc = (char *)"x";

	(void)state;
	assert_int_equal(gw_pwhash(&zero, good, &phc), UK_ERR_INPUT);
	assert_null(phc);
	assert_int_equal(gw_pwhash(&tiny, good, &phc), UK_ERR_INPUT);
	assert_int_equal(gw_pwhash(NULL, good, &phc), UK_ERR_INPUT);
	assert_int_equal(gw_pwhash(&small, NULL, &phc), UK_ERR_INPUT);
	secret_free(good);
}

/* One hash at the default parameters (64 MiB) works. */
static void
test_default_cost(void **state)
{
	struct gw_pwhash_params p;
	struct secret *good = pw("abcd1234");
	char *phc = NULL;
	int rehash = 1;

	(void)state;
	gw_pwhash_defaults(&p);
	assert_int_equal(gw_pwhash(&p, good, &phc), 0);
	assert_true(strncmp(phc, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0);
	assert_int_equal(gw_pwhash_verify(&p, phc, good, &rehash), 0);
	assert_int_equal(rehash, 0);
	free(phc);
	secret_free(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rehash),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_default_cost),
	};

	return cmocka_run_group_tests_name("gateway pwhash", tests, NULL, NULL);
}
