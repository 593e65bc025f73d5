/* tests/lib/testsrv.c: what the stand-in servers of tests/tools share: a loopback libmicrohttpd daemon, its "listening PORT" line and its stop on SIGTERM. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "tests/lib/testsrv.h"

void
testsrv_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct MHD_Daemon *
testsrv_start(const char *name, long port, MHD_AccessHandlerCallback handler,
    void *cls, unsigned int timeout, const struct MHD_OptionItem *opts)
{
	static const struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0,
	    NULL } };
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	struct MHD_Daemon *d;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
	    (uint16_t)port, NULL, NULL, handler, cls, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_ARRAY, opts != NULL ? opts : none, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "%s: cannot listen on %ld\n", name, port);
		return NULL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n",
	    info != NULL ? (unsigned)info->port : (unsigned)port);
	fflush(stdout);
	return d;
}

void
testsrv_wait(struct MHD_Daemon *d, sigset_t *set)
{
	int sig;

	while (sigwait(set, &sig) != 0)
		;
	MHD_stop_daemon(d);
}
