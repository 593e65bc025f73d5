/* common/fileio.c: reading bounded files and writing files atomically and durably. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/fileio.h"
#include "common/rnd.h"

int
file_read_all(const char *path, size_t max, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	int fd, r = UK_ERR_IO;
	ssize_t k;

	*out = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return UK_ERR_IO;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			unsigned char *nb;
			if (cap > max) {
				r = UK_ERR_LIMIT;
				goto out;
			}
			if ((nb = realloc(buf, ncap + 1)) == NULL) {
				r = UK_ERR_NOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out;
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			r = UK_ERR_LIMIT;
			goto out;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL; /* transferred */
	r = 0;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return r;
}

static int
write_full(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char *copy, *dir;
	int fd, r = -1;

	if ((copy = strdup(path)) == NULL)
		return -1;
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096], rnd[17];
	int fd = -1, r = UK_ERR_IO;

	struct stat sb;

	/* rename() would put a regular file in place of a device, FIFO or
	 * symlink: refuse those rather than replace them. */
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return UK_ERR_IO;
	if (rnd_hex(rnd, 8) != 0)
		return UK_ERR_INTERNAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, rnd) >=
	    sizeof(tmp))
		return UK_ERR_IO;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0)
		return UK_ERR_IO;
	if (fchmod(fd, mode) != 0 || write_full(fd, data, len) != 0 ||
	    fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	tmp[0] = '\0'; /* renamed: nothing to remove */
	if (fsync_dir_of(path) != 0)
		goto out;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0 && tmp[0] != '\0')
		unlink(tmp);
	return r;
}

int
file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, r = UK_ERR_IO;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) <
	    0)
		return errno == EEXIST ? UK_ERR_EXISTS : UK_ERR_IO;
	if (write_full(fd, data, len) != 0 || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return UK_ERR_IO;
	}
	if (close(fd) != 0) {
		unlink(path);
		return UK_ERR_IO;
	}
	if (fsync_dir_of(path) == 0)
		r = 0;
	return r;
}
