/* tests/fuzz/replay/main.c: replays a fuzz target's corpus as a regular test (TAP, one line per file). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	if ((d = opendir(argv[1])) == NULL) {
		printf("not ok 1 - corpus %s cannot be opened\n", argv[1]);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				return 1;
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			return 1;
	}
	closedir(d);
	if (n == 0) {
		printf("not ok 1 - corpus %s is empty\n", argv[1]);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		unsigned char *buf;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		if (file_read_all(path, 16 * 1024 * 1024, &buf, &len) != 0) {
			printf("not ok %zu - %s unreadable\n", i + 1, names[i]);
			free(names[i]);
			continue;
		}
		/* A crash aborts the run: the runner reports the exit status. */
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		printf("ok %zu - %s\n", i + 1, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}
