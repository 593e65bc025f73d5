/* tests/lib/testsrv.h: what the stand-in servers of tests/tools share: a loopback libmicrohttpd daemon, its "listening PORT" line and its stop on SIGTERM. */
#ifndef UK_TESTS_TESTSRV_H
#define UK_TESTS_TESTSRV_H

#include <signal.h>

#include <microhttpd.h>

/*
 * Blocks SIGTERM and SIGINT in this thread and every thread it starts
 * later (testsrv_wait takes them from set) and ignores SIGPIPE. Call at
 * the start of main, before any thread.
 */
void testsrv_signals(sigset_t *set);

/*
 * Starts a libmicrohttpd daemon, a thread per connection, on
 * 127.0.0.1:port (0: a free port) answering with handler(cls), idle
 * connections closed after timeout seconds (0: never), with the further
 * options opts (ended by MHD_OPTION_END; NULL: none). Prints
 * "listening PORT" on standard output. Returns the daemon, or NULL after
 * "<name>: cannot listen on PORT" on standard error.
 */
struct MHD_Daemon *
testsrv_start(const char *name, long port, MHD_AccessHandlerCallback handler,
    void *cls, unsigned int timeout, const struct MHD_OptionItem *opts);

/* Waits for SIGTERM or SIGINT (in set, from testsrv_signals), then stops
 * d. */
void testsrv_wait(struct MHD_Daemon *d, sigset_t *set);

#endif
