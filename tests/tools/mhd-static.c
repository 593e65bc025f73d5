/* tests/tools/mhd-static.c: the benchmarks' reference, a bare libmicrohttpd daemon (thread pool 2, epoll, the gateway's MHD build) answering every request with a static 200. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

/*
 * Usage: mhd-static --port N [--threads T]
 * Every request, whatever its method and path, gets 200 with a small JSON
 * body (about the size of an echo) and Content-Type application/json. A
 * request body is read and dropped. Prints "listening PORT" when ready;
 * stops on SIGTERM or SIGINT.
 */

static const char body[] = "{\"method\":\"GET\",\"path\":\"/hall/q\","
                           "\"status\":\"ok\",\"server\":\"mhd-static\"}\n";
static struct MHD_Response *resp; /* shared, read-only once made */

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static int first;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	long port = -1, threads = 2;
	char *end;
	int i, sig;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			goto usage;
		errno = 0;
		if (strcmp(argv[i], "--port") == 0) {
			port = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || port < 0 ||
			    port > 65535)
				goto usage;
		} else if (strcmp(argv[i], "--threads") == 0) {
			threads = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || threads < 1 ||
			    threads > 64)
				goto usage;
		} else
			goto usage;
	}
	if (port < 0)
		goto usage;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return 1;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        MHD_USE_ERROR_LOG,
	    (uint16_t)port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned int)threads, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mhd-static: cannot listen on %ld\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening %u\n", info != NULL ? info->port : (unsigned)port);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
usage:
	fprintf(stderr, "usage: mhd-static --port N [--threads T]\n");
	return 2;
}
