/* tests/lib/testproc.c: running a helper program from a C test and collecting its output. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/testproc.h"

extern char **environ;

int
testproc_run(const char *const argv[], char *out, size_t size)
{
	posix_spawn_file_actions_t fa;
	char sink[256];
	int p[2], st = 0, rc;
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	for (;;) {
		if (out != NULL && n + 1 < size)
			k = read(p[0], out + n, size - 1 - n);
		else
			k = read(p[0], sink, sizeof(sink));
		if (k <= 0)
			break;
		if (out != NULL && n + 1 < size)
			n += (size_t)k;
	}
	close(p[0]);
	if (out != NULL)
		out[n] = '\0';
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
