/* tests/lib/testproc.h: running a helper program from a C test and collecting its output. */
#ifndef UK_TESTPROC_H
#define UK_TESTPROC_H

#include <stddef.h>

/* Runs argv[0] (looked up in PATH) with argv; its standard output goes into
 * out (size bytes, NUL-terminated; may be NULL: discarded), its standard
 * error is inherited. Returns the exit status, or -1 when it could not run
 * or did not exit normally. */
int testproc_run(const char *const argv[], char *out, size_t size);

#endif
