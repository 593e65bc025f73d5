/* tests/conformance/conformance.h: helpers shared by the conformance harnesses: where the suites are, reading files and hex, deviation lists, TAP. */
#ifndef UK_TESTS_CONFORMANCE_H
#define UK_TESTS_CONFORMANCE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/fileio.h"

#define CONF_MAX_FILE (64 * 1024 * 1024)

/* Writes the path of rel inside the shared suites into buf: $UKEY_SUITES,
 * else $UKEY_ROOT/../shared/suites, else ../shared/suites. */
static inline void
conf_suite_path(char *buf, size_t len, const char *rel)
{
	const char *s = getenv("UKEY_SUITES"), *root = getenv("UKEY_ROOT");

	if (s != NULL && *s != '\0')
		snprintf(buf, len, "%s/%s", s, rel);
	else if (root != NULL && *root != '\0')
		snprintf(buf, len, "%s/../shared/suites/%s", root, rel);
	else
		snprintf(buf, len, "../shared/suites/%s", rel);
}

/* Writes the path of rel inside the repository: $UKEY_ROOT/rel or rel. */
static inline void
conf_repo_path(char *buf, size_t len, const char *rel)
{
	const char *root = getenv("UKEY_ROOT");

	if (root != NULL && *root != '\0')
		snprintf(buf, len, "%s/%s", root, rel);
	else
		snprintf(buf, len, "%s", rel);
}

/* Loads the JSON file at rel inside the suites; NULL (with a message on
 * stdout as a TAP comment) when it cannot be read. */
static inline json_t *
conf_load_json(const char *rel)
{
	char path[4096];
	json_error_t e;
	json_t *j;

	conf_suite_path(path, sizeof(path), rel);
	if ((j = json_load_file(path, 0, &e)) == NULL)
		printf("# cannot load %s: %s (line %d)\n", path, e.text,
		    e.line);
	return j;
}

/* Decodes the hex string s into a malloc'd buffer; returns 0 or -1. */
static inline int
conf_unhex(const char *s, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(s), i;
	unsigned char *p;
	int hi, lo;

	*out = NULL;
	*outlen = 0;
	if (n % 2 != 0)
		return -1;
	if ((p = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (i = 0; i < n / 2; i++) {
		hi = s[2 * i];
		lo = s[2 * i + 1];
		hi = hi >= '0' && hi <= '9'  ? hi - '0'
		    : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10
		    : hi >= 'A' && hi <= 'F' ? hi - 'A' + 10
		                             : -1;
		lo = lo >= '0' && lo <= '9'  ? lo - '0'
		    : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10
		    : lo >= 'A' && lo <= 'F' ? lo - 'A' + 10
		                             : -1;
		if (hi < 0 || lo < 0) {
			free(p);
			return -1;
		}
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = p;
	*outlen = n / 2;
	return 0;
}

/* A list of accepted deviations: "id<whitespace>reason" per line, '#'
 * comments and blank lines ignored. */
struct conf_devs {
	char **id;
	char **why;
	size_t n;
};

/* Reads the list at rel inside the repository; a missing file is an empty
 * list. Returns 0 or -1 (out of memory). */
static inline int
conf_devs_load(const char *rel, struct conf_devs *d)
{
	char path[4096], *line, *end, *p, *q;
	unsigned char *buf = NULL;
	size_t len = 0;

	memset(d, 0, sizeof(*d));
	conf_repo_path(path, sizeof(path), rel);
	if (file_read_all(path, 1024 * 1024, &buf, &len) != 0) {
		printf("# no deviation list at %s\n", path);
		return 0;
	}
	for (line = (char *)buf; line < (char *)buf + len; line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		*end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		for (p = line; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			;
		q = p;
		if (*q != '\0')
			*q++ = '\0';
		while (*q == ' ' || *q == '\t')
			q++;
		d->id = realloc(d->id, (d->n + 1) * sizeof(*d->id));
		d->why = realloc(d->why, (d->n + 1) * sizeof(*d->why));
		if (d->id == NULL || d->why == NULL) {
			free(buf);
			return -1;
		}
		d->id[d->n] = strdup(line);
		d->why[d->n] = strdup(q);
		if (d->id[d->n] == NULL || d->why[d->n] == NULL) {
			free(buf);
			return -1;
		}
		d->n++;
	}
	free(buf);
	return 0;
}

/* The reason listed for id, or NULL. */
static inline const char *
conf_devs_find(const struct conf_devs *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->id[i], id) == 0)
			return d->why[i];
	return NULL;
}

static inline void
conf_devs_free(struct conf_devs *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->id[i]);
		free(d->why[i]);
	}
	free(d->id);
	free(d->why);
	memset(d, 0, sizeof(*d));
}

#endif
