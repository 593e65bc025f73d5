/* tests/lib/testtool.c: starting and stopping the stand-in servers of build/tests/tools from C tests. */
#include <sys/wait.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/testtool.h"

extern char **environ;

#define MAX_ARGS 16

pid_t
testtool_start(const char *name, const char *const args[], int *port)
{
	const char *b = getenv("UKEY_BUILD");
	char bin[1024], line[128];
	char *argv[MAX_ARGS + 2];
	posix_spawn_file_actions_t fa;
	int fds[2], n = 0;
	pid_t pid;
	FILE *f;
	long v;

	snprintf(bin, sizeof(bin), "%s/tests/tools/%s",
	    b != NULL && *b != '\0' ? b : "build", name);
	argv[n++] = bin;
	for (; args != NULL && args[n - 1] != NULL; n++) {
		if (n > MAX_ARGS)
			return -1;
		argv[n] = (char *)args[n - 1];
	}
	argv[n] = NULL;
	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	v = 0;
	if ((f = fdopen(fds[0], "r")) == NULL)
		close(fds[0]);
	else if (fgets(line, sizeof(line), f) != NULL &&
	    strncmp(line, "listening ", 10) == 0)
		v = strtol(line + 10, NULL, 10);
	if (f != NULL)
		fclose(f);
	if (v <= 0 || v > 65535) {
		testtool_stop(pid);
		return -1;
	}
	*port = (int)v;
	return pid;
}

void
testtool_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

size_t
testtool_discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}
