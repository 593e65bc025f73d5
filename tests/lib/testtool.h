/* tests/lib/testtool.h: starting and stopping the stand-in servers of build/tests/tools from C tests. */
#ifndef UK_TESTS_TESTTOOL_H
#define UK_TESTS_TESTTOOL_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Starts build/tests/tools/<name> (UKEY_BUILD, else build) with the
 * arguments args (NULL-terminated, without the program name) and reads the
 * "listening PORT" line it prints first. Returns its pid with *port set,
 * or -1 when it could not start or said anything else (nothing is left
 * running).
 */
pid_t testtool_start(const char *name, const char *const args[], int *port);

/* Stops pid (none when pid <= 0) with SIGTERM and waits for it. */
void testtool_stop(pid_t pid);

/* A libcurl write callback that drops the body. */
size_t testtool_discard(char *p, size_t size, size_t n, void *ud);

#endif
