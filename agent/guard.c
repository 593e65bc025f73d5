/* agent/guard.c: the lockout guard: a persistent per-token count of consecutive wrong PINs. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
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

/*
 * The file holds two slots of SLOT_LEN bytes, each a line
 *
 *     seq 0000000007 failures 1 pending 0 sum 5d1c3a2b
 *
 * with a sequence number and an FNV-1a checksum of what precedes " sum".
 * A write goes to the slot the newest one is not in, followed by
 * fdatasync(2): the file's size never changes after it is made, so no
 * metadata and no directory has to reach the disk, and a write torn by a
 * crash leaves the other slot, one step older, to read. (An attempt's
 * pending record is the step before its resolution, so a torn resolution
 * counts the attempt as a wrong PIN: the safe side.) Only making the file
 * needs file_write_atomic.
 */
#define SLOT_LEN 49
#define SLOT_FMT "seq %010lu failures %ld pending %ld"
#define SEQ_MAX 4000000000UL

struct slotrec {
	unsigned long seq;
	long failures, pending;
	int slot; /* where it was read: 0 or 1 */
};

static uint32_t
fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 16777619u;
	}
	return h;
}

static void
slot_format(char out[SLOT_LEN + 1], unsigned long seq, long failures,
    long pending)
{
	int n = snprintf(out, SLOT_LEN + 1, SLOT_FMT, seq, failures, pending);

	snprintf(out + n, (size_t)(SLOT_LEN + 1 - n), " sum %08x\n",
	    (unsigned)fnv1a(out, (size_t)n));
}

/* Parses one slot; -1 when it is not a whole, checksummed record. The
 * layout is fixed: the digits are where slot_format puts them, and the
 * slot must be exactly what slot_format makes of them. */
static int
slot_parse(const char *p, struct slotrec *rec)
{
	char want[SLOT_LEN + 1];
	unsigned long seq = 0;
	int i, f, pe;

	if (memcmp(p, "seq ", 4) != 0)
		return -1;
	for (i = 4; i < 14; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		seq = seq * 10 + (unsigned long)(p[i] - '0');
	}
	f = p[24] - '0';
	pe = p[34] - '0';
	if (f < 0 || f > AG_GUARD_TRIES || pe < 0 || pe > 1 || seq > SEQ_MAX)
		return -1;
	slot_format(want, seq, f, pe);
	if (memcmp(want, p, SLOT_LEN) != 0)
		return -1;
	rec->seq = seq;
	rec->failures = f;
	rec->pending = pe;
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

/* Opens an existing guard file for reading and writing: a regular file of
 * ours, never through a symlink. Returns the descriptor, -1 with errno. */
static int
file_open(const char *path)
{
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid()) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Reads the newest whole slot into *rec; with the lock held. No file:
 * nothing counted, rec->slot = -1, *fdp = -1. Otherwise *fdp is the open
 * file for write_slot. Returns 0 or UK_ERR_IO (unreadable, or no whole
 * slot: callers count the token as locked rather than guess).
 */
static int
read_slots(const char *path, struct slotrec *rec, int *fdp)
{
	char buf[2 * SLOT_LEN + 1];
	struct slotrec a, b;
	int okA, okB, r = UK_ERR_IO, fd;
	ssize_t n;

	memset(rec, 0, sizeof(*rec));
	rec->slot = -1;
	*fdp = -1;
	if ((fd = file_open(path)) < 0) {
		if (errno == ENOENT)
			return 0; /* nothing counted yet */
		uk_log_err(r, "guard file %s unreadable: %s", path,
		    strerror(errno));
		return r;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	if (n != 2 * SLOT_LEN) {
		uk_log_err(r,
		    "guard file %s is damaged (%zd bytes); counting the "
		    "token as locked",
		    path, n);
		goto out;
	}
	okA = slot_parse(buf, &a) == 0;
	okB = slot_parse(buf + SLOT_LEN, &b) == 0;
	if (!okA && !okB) {
		uk_log_err(r,
		    "guard file %s is damaged; counting the token as "
		    "locked",
		    path);
		goto out;
	}
	if (okA && (!okB || a.seq > b.seq)) {
		*rec = a;
		rec->slot = 0;
	} else {
		*rec = b;
		rec->slot = 1;
	}
	*fdp = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * Records failures and pending after rec (as read_slots left it), durably.
 * fd is the open file or -1 when there is none yet: then the file is made,
 * both slots at once, with file_write_atomic. Returns 0 or UK_ERR_IO.
 */
static int
write_slot(const char *path, int fd, const struct slotrec *rec, long failures,
    long pending)
{
	char both[2 * SLOT_LEN + 1];
	unsigned long seq = rec->seq + 1;
	int r = UK_ERR_IO;
	off_t off;

	if (failures > AG_GUARD_TRIES)
		failures = AG_GUARD_TRIES;
	if (fd < 0) {
		slot_format(both, 1, failures, pending);
		slot_format(both + SLOT_LEN, 0, failures, pending);
		if (file_write_atomic(path, both, 2 * SLOT_LEN, 0600) == 0)
			return 0;
		goto fail;
	}
	if (seq > SEQ_MAX) {
		/* Some four billion writes later: both slots start again. */
		slot_format(both, 1, failures, pending);
		slot_format(both + SLOT_LEN, 0, failures, pending);
		if (pwrite(fd, both, 2 * SLOT_LEN, 0) == 2 * SLOT_LEN &&
		    fdatasync(fd) == 0)
			return 0;
		goto fail;
	}
	slot_format(both, seq, failures, pending);
	off = rec->slot == 0 ? SLOT_LEN : 0;
	if (pwrite(fd, both, SLOT_LEN, off) == SLOT_LEN && fdatasync(fd) == 0)
		return 0;
fail:
	uk_log_err(r, "guard file %s cannot be written: %s", path,
	    strerror(errno));
	return r;
}

int
ag_guard_read(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st)
{
	char path[GUARD_PATH_MAX];
	struct slotrec rec;
	int r, fd = -1, lk = -1;

	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((lk = lock_take(g)) < 0)
		goto out;
	if ((r = read_slots(path, &rec, &fd)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	state_fill(st, rec.failures, rec.pending);
out:
	if (fd >= 0)
		close(fd);
	lock_release(lk);
	return r;
}

int
ag_guard_begin(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    struct ag_guard_state *st)
{
	char path[GUARD_PATH_MAX];
	struct slotrec rec;
	int r, fd = -1, lk = -1;

	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((lk = lock_take(g)) < 0) {
		uk_log_err(r, "guard directory %s cannot be locked: %s", g->dir,
		    strerror(errno));
		goto out;
	}
	if ((r = read_slots(path, &rec, &fd)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	state_fill(st, rec.failures, rec.pending);
	if (st->left <= 0) {
		r = UK_ERR_TOKEN_PIN_LOCKED;
		goto out;
	}
	/* An attempt left pending by a process that died counts now. */
	r = write_slot(path, fd, &rec, rec.failures + rec.pending, 1);
out:
	if (fd >= 0)
		close(fd);
	lock_release(lk);
	return r;
}

int
ag_guard_end(struct ag_guard *g, const char *serial, enum ag_pin_kind k,
    enum ag_guard_outcome o, struct ag_guard_state *st)
{
	struct ag_guard_state tmp;
	char path[GUARD_PATH_MAX];
	struct slotrec rec;
	long f, p, nf;
	int r, fd = -1, lk = -1;

	if (st == NULL)
		st = &tmp;
	state_fill(st, 0, 0);
	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((lk = lock_take(g)) < 0)
		goto out;
	if ((r = read_slots(path, &rec, &fd)) != 0) {
		state_fill(st, AG_GUARD_TRIES, 0);
		goto out;
	}
	f = rec.failures;
	p = rec.pending;
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
	if ((r = write_slot(path, fd, &rec, nf, 0)) != 0) {
		/* The pending record stays and counts as a failure. */
		state_fill(st, f, p);
		goto out;
	}
	state_fill(st, nf, 0);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	lock_release(lk);
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
	struct slotrec rec;
	int r, fd = -1, lk = -1;

	if ((r = ag_guard_path(g, serial, k, path, sizeof(path))) != 0)
		goto out;
	r = UK_ERR_IO;
	if ((lk = lock_take(g)) < 0)
		goto out;
	/* A damaged file is replaced whole: the reset says what it holds. */
	if (read_slots(path, &rec, &fd) != 0) {
		memset(&rec, 0, sizeof(rec));
		rec.slot = -1;
		fd = -1;
	}
	r = write_slot(path, fd, &rec, 0, 0);
out:
	if (fd >= 0)
		close(fd);
	lock_release(lk);
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
