/* tests/lib/testsms.h: the SMS capture server (build/tests/tools/sms-capture) driven from C tests. */
#ifndef UK_TESTS_TESTSMS_H
#define UK_TESTS_TESTSMS_H

#include <sys/types.h>

#include <jansson.h>

/* The providers' keys testsms_start writes to the capture server's
 * secrets file. */
#define TESTSMS_HTTP_KEY "http-hook-key-1"
#define TESTSMS_ALI_KEY "ali-secret-2"
#define TESTSMS_TC_KEY "tc-secret-3"

/*
 * Starts build/tests/tools/sms-capture (UKEY_BUILD, else build) with its
 * log dir/capture.log and its secrets dir/capture.secrets (the keys above);
 * fills *pid and *port from its "listening PORT" line. Returns 0, or -1
 * when it could not start (nothing is left running).
 */
int testsms_start(const char *dir, pid_t *pid, int *port);

/* Stops the capture server pid (none when pid <= 0) and waits for it. */
void testsms_stop(pid_t pid);

/* The lines of dir/capture.log as a JSON array the caller decrefs. */
json_t *testsms_log(const char *dir);

/* Tells the capture server on port to fail the next n requests; fails the
 * current cmocka test when it does not answer. */
void testsms_fail(int port, int n);

#endif
