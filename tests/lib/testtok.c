/* tests/lib/testtok.c: a scratch SoftHSM2 + ukey-sim environment for C tests of the token layer and agent. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/lib/testtok.h"

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : def;
}

int
testtok_setup(struct testtok *t, const char *tag)
{
	char path[700], sock[800], real[PATH_MAX];
	FILE *f;

	snprintf(t->helper, sizeof(t->helper), "%s/tests/lib/pcsc.sh",
	    env_or("UKEY_ROOT", "."));
	snprintf(t->tmpdir, sizeof(t->tmpdir), "%s/%s-XXXXXX",
	    env_or("UKEY_TEST_TMP", "/tmp"), tag);
	if (mkdtemp(t->tmpdir) == NULL)
		return -1;
	snprintf(t->pcscdir, sizeof(t->pcscdir), "%s/pcsc", t->tmpdir);
	snprintf(t->simdir, sizeof(t->simdir), "%s/sim", t->tmpdir);
	snprintf(path, sizeof(path), "%s/tokens", t->tmpdir);
	if (mkdir(t->simdir, 0700) != 0 || mkdir(path, 0700) != 0)
		return -1;
	/* The PC/SC client library reads this once, at its first use. */
	snprintf(sock, sizeof(sock), "%s/run/pcscd.comm", t->pcscdir);
	setenv("PCSCLITE_CSOCK_NAME", sock, 1);

	snprintf(path, sizeof(path), "%s/softhsm2.conf", t->tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	    "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
	    "log.level = ERROR\n",
	    t->tmpdir);
	if (fclose(f) != 0)
		return -1;
	setenv("SOFTHSM2_CONF", path, 1);
	setenv("UKEY_SIM_DIR", t->simdir, 1);
	setenv("UKEY_SIM_MODULE", TESTTOK_SOFTHSM, 1);
	snprintf(t->simmod, sizeof(t->simmod), "%s/lib/ukey-sim.so",
	    env_or("UKEY_BUILD", "build"));
	if (realpath(t->simmod, real) != NULL)
		snprintf(t->simmod, sizeof(t->simmod), "%s", real);
	return 0;
}
