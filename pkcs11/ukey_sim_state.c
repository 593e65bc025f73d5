/* ukey_sim_state.c: ukey-sim's files in UKEY_SIM_DIR: PIN counters, the
 * removal control file, the removal generation, delays and the lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/ukey_sim.h"

/* Largest state or control file read. */
#define SIM_FILE_MAX 512

static const char *const pins_keys[] = { "user_left", "so_left" };
static const char *const gen_keys[] = { "generation", "removal_dev",
	"removal_ino", "removal_sec", "removal_nsec" };

/* Joins dir and name into out; returns 0, or -1 when it does not fit. */
static int
path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

/* Reads the whole of path into buf as a string. Returns 0, 1 when the file
 * does not exist, -1 on error (errno set; EFBIG when it does not fit). */
static int
file_read(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char extra;
	int fd = -1, r = -1, saved;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			r = 1;
		goto out;
	}
	while (len < size - 1) {
		if ((n = read(fd, buf + len, size - 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len == size - 1) {
		if ((n = read(fd, &extra, 1)) == -1)
			goto out;
		if (n != 0) {
			errno = EFBIG;
			goto out;
		}
	}
	r = 0;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	errno = saved;
	return r;
}

/* Replaces dir/name with data: a temporary file in dir written, synced and
 * renamed over it, then dir synced. Returns 0, or -1 (errno set). */
static int
file_write_atomic(const char *dir, const char *name, const char *data,
    size_t len)
{
	char tmp[SIM_PATH_MAX], dst[SIM_PATH_MAX];
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd = -1, made = 0, r = -1, saved, k;

	if (path_join(dst, sizeof(dst), dir, name) != 0) {
		errno = ENAMETOOLONG;
		goto out;
	}
	k = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	if (k < 0 || (size_t)k >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto out;
	made = 1;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto out;
	k = close(fd);
	fd = -1;
	if (k == -1)
		goto out;
	if (rename(tmp, dst) == -1)
		goto out;
	made = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto out;
	if (fsync(dfd) == -1)
		goto out;
	r = 0;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (made)
		unlink(tmp);
	errno = saved;
	return r;
}

/* Parses an unsigned decimal number at s; *end is set past it. Returns 0,
 * or -1 when s does not start with a digit or the number overflows. */
static int
parse_ulong(const char *s, const char **end, unsigned long *v)
{
	char *e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &e, 10);
	if (errno != 0)
		return -1;
	*end = e;
	return 0;
}

/* Parses lines "key number" of buf: vals[i] gets the number of keys[i];
 * other keys, blank lines and lines starting with '#' are skipped. Returns
 * 0, or -1 on a malformed line. */
static int
kv_parse(const char *buf, const char *const *keys, unsigned long *vals,
    size_t n)
{
	const char *p = buf, *key, *end;
	unsigned long v;
	size_t klen, i;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\n') {
			p++;
			continue;
		}
		if (*p == '#') {
			while (*p != '\0' && *p != '\n')
				p++;
			continue;
		}
		if (*p == '\0')
			break;
		key = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		klen = (size_t)(p - key);
		while (*p == ' ' || *p == '\t')
			p++;
		if (parse_ulong(p, &end, &v) != 0)
			return -1;
		p = end;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\n' && *p != '\0')
			return -1;
		for (i = 0; i < n; i++) {
			if (strlen(keys[i]) == klen &&
			    memcmp(keys[i], key, klen) == 0)
				vals[i] = v;
		}
	}
	return 0;
}

/* Fills dir with $UKEY_SIM_DIR or $HOME/.ukey-sim and creates it. */
CK_RV
sim_dir_resolve(char *dir, size_t size)
{
	const char *env = secure_getenv("UKEY_SIM_DIR");
	struct stat st;
	CK_RV rv = CKR_GENERAL_ERROR;
	int n;

	if (env != NULL && *env != '\0')
		n = snprintf(dir, size, "%s", env);
	else if ((env = secure_getenv("HOME")) != NULL && *env != '\0')
		n = snprintf(dir, size, "%s/.ukey-sim", env);
	else {
		sim_log("set UKEY_SIM_DIR (or HOME) to the state directory");
		goto out;
	}
	if (n < 0 || (size_t)n >= size) {
		sim_log("state directory path is too long");
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		sim_log("cannot create state directory %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		sim_log("state directory %s is not a directory", dir);
		goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

/* Turns a space-padded serial number into a safe file name. */
void
sim_serial_name(const CK_UTF8CHAR *serial, size_t len, char *out, size_t size)
{
	size_t i;
	unsigned char c;

	while (len > 0 && (serial[len - 1] == ' ' || serial[len - 1] == '\0'))
		len--;
	for (i = 0; i < len && i + 1 < size; i++) {
		c = serial[i];
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '-' || c == '_')
			out[i] = (char)c;
		else
			out[i] = '_';
	}
	out[i] = '\0';
}

/* Takes the flock on <dir>/lock; returns its descriptor or -1. */
int
sim_lock_acquire(const char *dir)
{
	char path[SIM_PATH_MAX];
	int fd = -1;

	if (path_join(path, sizeof(path), dir, "lock") != 0) {
		sim_log("lock file path is too long");
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	         0600)) == -1) {
		sim_log("cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		sim_log("cannot lock %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
out:
	return fd;
}

/* Releases a lock taken by sim_lock_acquire. */
void
sim_lock_release(int fd)
{
	if (fd == -1)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}

/* Reads <dir>/<serial>.state; a missing file is a fresh token. */
CK_RV
sim_pins_read(const char *dir, const char *serial, struct sim_pins *p)
{
	char name[SIM_SERIAL_MAX + 8], path[SIM_PATH_MAX], buf[SIM_FILE_MAX];
	unsigned long vals[2] = { SIM_USER_TRIES, SIM_SO_TRIES };
	CK_RV rv = CKR_DEVICE_ERROR;
	int r;

	r = snprintf(name, sizeof(name), "%s.state", serial);
	if (r < 0 || (size_t)r >= sizeof(name) ||
	    path_join(path, sizeof(path), dir, name) != 0) {
		sim_log("state file path is too long");
		goto out;
	}
	if ((r = file_read(path, buf, sizeof(buf))) == -1) {
		sim_log("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (r == 0 && kv_parse(buf, pins_keys, vals, 2) != 0) {
		sim_log("%s is malformed (want lines \"user_left N\", "
		        "\"so_left N\")",
		    path);
		goto out;
	}
	p->user_left = vals[0] > SIM_USER_TRIES ? SIM_USER_TRIES : vals[0];
	p->so_left = vals[1] > SIM_SO_TRIES ? SIM_SO_TRIES : vals[1];
	rv = CKR_OK;
out:
	return rv;
}

/* Writes <dir>/<serial>.state atomically. */
CK_RV
sim_pins_write(const char *dir, const char *serial, const struct sim_pins *p)
{
	char name[SIM_SERIAL_MAX + 8], buf[128];
	CK_RV rv = CKR_DEVICE_ERROR;
	int n;

	n = snprintf(name, sizeof(name), "%s.state", serial);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		sim_log("state file name is too long");
		goto out;
	}
	n = snprintf(buf, sizeof(buf), "user_left %lu\nso_left %lu\n",
	    p->user_left, p->so_left);
	if (n < 0 || (size_t)n >= sizeof(buf))
		goto out;
	if (file_write_atomic(dir, name, buf, (size_t)n) != 0) {
		sim_log("cannot write %s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

/* Returns 1 and the file's identity when <dir>/removed exists. */
int
sim_removed(const char *dir, struct sim_removal *id)
{
	char path[SIM_PATH_MAX];
	struct stat st;

	if (path_join(path, sizeof(path), dir, "removed") != 0)
		return 0;
	if (stat(path, &st) == -1)
		return 0;
	id->dev = (unsigned long)st.st_dev;
	id->ino = (unsigned long)st.st_ino;
	id->sec = (unsigned long)st.st_mtim.tv_sec;
	id->nsec = (unsigned long)st.st_mtim.tv_nsec;
	return 1;
}

/* Returns 1 when a and b are the same removal. */
int
sim_removal_eq(const struct sim_removal *a, const struct sim_removal *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->sec == b->sec &&
	    a->nsec == b->nsec;
}

/* Reads <dir>/generation. */
CK_RV
sim_gen_read(const char *dir, struct sim_gen *g)
{
	char path[SIM_PATH_MAX], buf[SIM_FILE_MAX];
	unsigned long vals[5] = { 0, 0, 0, 0, 0 };
	CK_RV rv = CKR_DEVICE_ERROR;
	int r;

	if (path_join(path, sizeof(path), dir, "generation") != 0) {
		sim_log("generation file path is too long");
		goto out;
	}
	if ((r = file_read(path, buf, sizeof(buf))) == -1) {
		sim_log("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (r == 0 && kv_parse(buf, gen_keys, vals, 5) != 0) {
		sim_log("%s is malformed", path);
		goto out;
	}
	g->gen = vals[0];
	g->last.dev = vals[1];
	g->last.ino = vals[2];
	g->last.sec = vals[3];
	g->last.nsec = vals[4];
	rv = CKR_OK;
out:
	return rv;
}

/* Writes <dir>/generation atomically. */
CK_RV
sim_gen_write(const char *dir, const struct sim_gen *g)
{
	char buf[256];
	CK_RV rv = CKR_DEVICE_ERROR;
	int n;

	n = snprintf(buf, sizeof(buf),
	    "generation %lu\nremoval_dev %lu\nremoval_ino %lu\n"
	    "removal_sec %lu\nremoval_nsec %lu\n",
	    g->gen, g->last.dev, g->last.ino, g->last.sec, g->last.nsec);
	if (n < 0 || (size_t)n >= sizeof(buf))
		goto out;
	if (file_write_atomic(dir, "generation", buf, (size_t)n) != 0) {
		sim_log("cannot write %s/generation: %s", dir, strerror(errno));
		goto out;
	}
	rv = CKR_OK;
out:
	return rv;
}

/* Reads one number file (a delay, pin_min): 0 with *ms set, 1 when absent,
 * -1 when malformed. */
static int
delay_file(const char *dir, const char *name, unsigned long *ms)
{
	char path[SIM_PATH_MAX], buf[64];
	const char *end;
	int r;

	if (path_join(path, sizeof(path), dir, name) != 0)
		return 1;
	if ((r = file_read(path, buf, sizeof(buf))) != 0) {
		if (r == -1)
			sim_log("cannot read %s: %s; no delay", path,
			    strerror(errno));
		goto out;
	}
	r = -1;
	if (parse_ulong(buf, &end, ms) == 0) {
		while (
		    *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end == '\0')
			r = 0;
	}
	if (r != 0)
		sim_log("%s should hold a decimal number; ignored", path);
out:
	return r;
}

/* Returns the delay before operation op, in milliseconds. */
unsigned long
sim_delay_ms(const char *dir, const char *op)
{
	char name[64];
	unsigned long ms = 0;
	int n, r;

	n = snprintf(name, sizeof(name), "delay_%s_ms", op);
	r = 1;
	if (n > 0 && (size_t)n < sizeof(name))
		r = delay_file(dir, name, &ms);
	if (r == 1)
		r = delay_file(dir, "delay_ms", &ms);
	if (r != 0)
		return 0;
	return ms > SIM_DELAY_MAX_MS ? SIM_DELAY_MAX_MS : ms;
}

unsigned long
sim_pin_min(const char *dir)
{
	unsigned long n = 0;

	if (delay_file(dir, "pin_min", &n) != 0)
		return 0;
	return n;
}
