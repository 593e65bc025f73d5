/* tests/lib/testtok.h: a scratch SoftHSM2 + ukey-sim environment for C tests of the token layer and agent. */
#ifndef UK_TESTTOK_H
#define UK_TESTTOK_H

#include <limits.h>

#define TESTTOK_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

struct testtok {
	char tmpdir[512];      /* UKEY_TEST_TMP/<tag>-XXXXXX */
	char pcscdir[600];     /* tmpdir/pcsc, for tests/lib/pcsc.sh */
	char simdir[600];      /* tmpdir/sim, UKEY_SIM_DIR */
	char simmod[PATH_MAX]; /* absolute path of build/lib/ukey-sim.so */
	char helper[PATH_MAX]; /* tests/lib/pcsc.sh */
};

/*
 * Makes a fresh directory under UKEY_TEST_TMP (or /tmp) named after tag,
 * with a SoftHSM2 token directory and a ukey-sim state directory, and
 * points SOFTHSM2_CONF, UKEY_SIM_DIR, UKEY_SIM_MODULE (SoftHSM2) and
 * PCSCLITE_CSOCK_NAME (the private pcscd of tests/lib/pcsc.sh) at them.
 * Returns 0, or -1 when a directory or file cannot be made.
 */
int testtok_setup(struct testtok *t, const char *tag);

#endif
