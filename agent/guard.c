/* agent/guard.c: the lockout guard: a persistent per-token count of consecutive wrong PINs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/guard.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/log.h"

#define GUARD_FILE_MAX 64
#define GUARD_PATH_MAX 4096

struct ag_guard {
	char *dir;
};

/* mkdir -p with mode 0700 for every directory created. */
static int
mkdirs(const char *dir)
{
	char path[GUARD_PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		path[i] = i == n ? '\0' : '/';
	}
	return 0;
}

int
ag_guard_new(const char *dir, struct ag_guard **out)
{
	struct ag_guard *g = NULL;
	struct stat sb;
	int r = UK_ERR_IO;

	*out = NULL;
	if (dir == NULL || dir[0] != '/') {
		uk_log_err(r, "guard directory must be an absolute path");
		goto out;
	}
	if (mkdirs(dir) != 0 || stat(dir, &sb) != 0) {
		uk_log_err(r, "guard directory %s: %s", dir, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		uk_log_err(r, "guard directory %s is not a directory of ours",
		    dir);
		goto out;
	}
	if ((sb.st_mode & 077) != 0 && chmod(dir, 0700) != 0) {
		uk_log_err(r, "guard directory %s: chmod 0700: %s", dir,
		    strerror(errno));
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->dir = strdup(dir)) == NULL)
		goto out;
	*out = g;
	g = NULL; /* transferred */
	r = 0;
out:
	ag_guard_free(g);
	return r;
}

void
ag_guard_free(struct ag_guard *g)
{
	if (g == NULL)
		return;
	free(g->dir);
	free(g);
}

const char *
ag_guard_dir(const struct ag_guard *g)
{
	return g->dir;
}

int
ag_guard_path(const struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char name[2 * 32 + 2];
	size_t i, n, o = 0;
	int safe = 1, w;

	if (serial == NULL || (n = strlen(serial)) == 0 || n > 32)
		return UK_ERR_INPUT;
	for (i = 0; i < n; i++) {
		char c = serial[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		        (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			safe = 0;
	}
	/* Serials of other characters are written in hex behind an 'x', so
	 * that two serials never share a file. */
	if (safe) {
		memcpy(name, serial, n + 1);
	} else {
		name[o++] = 'x';
		for (i = 0; i < n; i++) {
			name[o++] = hex[(unsigned char)serial[i] >> 4];
			name[o++] = hex[(unsigned char)serial[i] & 15];
		}
		name[o] = '\0';
	}
	w = snprintf(out, size, "%s/%s.%s", g->dir, name,
	    k == AG_PIN_SO ? "so" : "user");
	if (w < 0 || (size_t)w >= size)
		return UK_ERR_LIMIT;
	return 0;
}

/* Takes the guard's lock; returns the descriptor or -1. */
static int
lock_take(const struct ag_guard *g)
{
	char path[GUARD_PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/lock", g->dir) >=
	    sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void
lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Parses "<word> N\n" at *p, N in 0..max. */
static int
parse_line(const char **p, const char *word, long max, long *out)
{
	size_t wl = strlen(word);
	const char *s = *p;
	char *end;
	long v;

	if (strncmp(s, word, wl) != 0 || s[wl] != ' ' || s[wl + 1] < '0' ||
	    s[wl + 1] > '9')
		return -1;
	errno = 0;
	v = strtol(s + wl + 1, &end, 10);
	if (errno != 0 || v < 0 || v > max || *end != '\n')
		return -1;
	*out = v;
	*p = end + 1;
	return 0;
}

static void
state_fill(struct ag_guard_state *st, long failures, long pending)
{
	st->failures = (int)(failures + pending);
	if (st->failures > AG_GUARD_TRIES)
		st->failures = AG_GUARD_TRIES;
	st->pending = (int)pending;
	st->left = AG_GUARD_TRIES - st->failures;
}

/* Reads the file without the lock: failures and pending as written. */
static int
read_raw(const char *path, long *failures, long *pending)
{
	unsigned char *buf = NULL;
	const char *p;
	size_t len;
	int r;

	*failures = 0;
	*pending = 0;
	if ((r = file_read_all(path, GUARD_FILE_MAX, &buf, &len)) != 0) {
		if (r == UK_ERR_IO && errno == ENOENT) {
			r = 0; /* nothing counted yet */
			goto out;
		}
		r = UK_ERR_IO;
		uk_log_err(r, "guard file %s unreadable", path);
		goto out;
	}
	p = (const char *)buf;
	r = UK_ERR_IO;
	if (memchr(buf, '\0', len) != NULL ||
	    parse_line(&p, "failures", 1000, failures) != 0 ||
	    parse_line(&p, "pending", 1, pending) != 0 || *p != '\0') {
		uk_log_err(r,
		    "guard file %s is damaged; counting the token as "
		    "locked",
		    path);
		goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

static int
write_raw(const char *path, long failures, long pending)
{
	char buf[GUARD_FILE_MAX];
	int n, r;

	n = snprintf(buf, sizeof(buf), "failures %ld\npending %ld\n", failures,
	    pending);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return UK_ERR_INTERNAL;
	if ((r = file_write_atomic(path, buf, (size_t)n, 0600)) != 0)
		uk_log_err(r, "guard file %s cannot be written: %s", path,
		    strerror(errno));
	return r;
}

int
ag_guard_read(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st)
{
	char path[GUARD_PATH_MAX];
	long f, p;
	int r, fd = -1;

	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((fd = lock_take(g)) < 0)
		goto out;
	if ((r = read_raw(path, &f, &p)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	state_fill(st, f, p);
out:
	lock_release(fd);
	return r;
}

int
ag_guard_begin(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st)
{
	char path[GUARD_PATH_MAX];
	long f, p;
	int r, fd = -1;

	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((fd = lock_take(g)) < 0) {
		uk_log_err(r, "guard directory %s cannot be locked: %s", g->dir,
		    strerror(errno));
		goto out;
	}
	if ((r = read_raw(path, &f, &p)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	state_fill(st, f, p);
	if (st->left <= 0) {
		r = UK_ERR_TOKEN_PIN_LOCKED;
		goto out;
	}
	/* An attempt left pending by a process that died counts now. */
	if ((r = write_raw(path, f + p, 1)) != 0)
		goto out;
	r = 0;
out:
	lock_release(fd);
	return r;
}

int
ag_guard_end(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    enum ag_guard_outcome o, struct ag_guard_state *st)
{
	struct ag_guard_state tmp;
	char path[GUARD_PATH_MAX];
	long f, p, nf;
	int r, fd = -1;

	if (st == NULL)
		st = &tmp;
	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((fd = lock_take(g)) < 0)
		goto out;
	if ((r = read_raw(path, &f, &p)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	switch (o) {
	case AG_GUARD_OK:
		nf = 0;
		break;
	case AG_GUARD_WRONG:
		nf = f + 1;
		break;
	case AG_GUARD_NONE:
	default:
		nf = f;
		break;
	}
	if (nf > AG_GUARD_TRIES)
		nf = AG_GUARD_TRIES;
	if ((r = write_raw(path, nf, 0)) != 0) {
		/* The pending record stays and counts as a failure. */
		state_fill(st, f, p);
		goto out;
	}
	state_fill(st, nf, 0);
	r = 0;
out:
	lock_release(fd);
	return r;
}

void
ag_guard_after(const struct ag_guard_state *before, enum ag_guard_outcome o,
    struct ag_guard_state *after)
{
	long f = before->failures;

	if (o == AG_GUARD_OK)
		f = 0;
	else if (o == AG_GUARD_WRONG)
		f++;
	state_fill(after, f > AG_GUARD_TRIES ? AG_GUARD_TRIES : f, 0);
}

int
ag_guard_reset(struct ag_guard *g, const char *serial, enum ag_pin_kind k)
{
	char path[GUARD_PATH_MAX];
	int r, fd = -1;

	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((fd = lock_take(g)) < 0)
		goto out;
	r = write_raw(path, 0, 0);
out:
	lock_release(fd);
	return r;
}

const char *
ag_guard_state_name(int left)
{
	if (left <= 0)
		return "LOCKED";
	if (left == 1)
		return "FINAL_TRY";
	if (left < AG_GUARD_TRIES)
		return "COUNT_LOW";
	return "OK";
}

/* Severity of a state, for merging. */
static int
rank(enum p11_pin_state s)
{
	switch (s) {
	case P11_PIN_NOT_INITIALISED:
		return 5;
	case P11_PIN_LOCKED:
		return 4;
	case P11_PIN_FINAL_TRY:
		return 3;
	case P11_PIN_COUNT_LOW:
		return 2;
	case P11_PIN_TO_BE_CHANGED:
	case P11_PIN_OK:
	default:
		return 0;
	}
}

static int
rank_left(int left)
{
	if (left <= 0)
		return 4;
	if (left == 1)
		return 3;
	if (left < AG_GUARD_TRIES)
		return 2;
	return 0;
}

json_t *
ag_guard_pin_json(const struct ag_guard_state *g, const struct p11_status *st,
    enum ag_pin_kind k)
{
	enum p11_pin_state ts = P11_PIN_OK;
	const char *state = ag_guard_state_name(g->left), *source = "agent";
	int left = g->left, tleft = -1;

	if (st != NULL) {
		ts = k == AG_PIN_SO ? st->so : st->user;
		tleft = k == AG_PIN_SO ? st->so_retries : st->user_retries;
	}
	if (rank(ts) > rank_left(g->left)) {
		source = "token";
		state = p11_pin_state_name(ts);
		switch (ts) {
		case P11_PIN_NOT_INITIALISED:
		case P11_PIN_LOCKED:
			left = 0;
			break;
		case P11_PIN_FINAL_TRY:
			left = 1;
			break;
		case P11_PIN_COUNT_LOW:
		default:
			/* The token says "fewer than all": at most one less
			 * than all, and never more than the guard allows. */
			if (tleft >= 0 && tleft < left)
				left = tleft;
			else if (left > AG_GUARD_TRIES - 1)
				left = AG_GUARD_TRIES - 1;
			break;
		}
	} else if (ts == P11_PIN_TO_BE_CHANGED && g->left == AG_GUARD_TRIES) {
		source = "token";
		state = p11_pin_state_name(ts);
	}
	return json_pack("{s:s,s:i,s:s}", "state", state, "retriesLeft", left,
	    "source", source);
}
