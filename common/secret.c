/* common/secret.c: struct secret in locked memory, wiped on free; reading from fds and terminals. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/secret.h"

struct secret *
secret_new(size_t cap)
{
	struct secret *s;

	if (cap > SECRET_MAX * 64)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->buf = calloc(1, cap + 1)) == NULL) {
		free(s);
		return NULL;
	}
	/* Best effort: without RLIMIT_MEMLOCK room the secret still works. */
	(void)mlock(s->buf, cap + 1);
	s->cap = cap;
	return s;
}

struct secret *
secret_from(const void *p, size_t len)
{
	struct secret *s;

	if ((s = secret_new(len)) == NULL)
		return NULL;
	memcpy(s->buf, p, len);
	s->len = len;
	s->buf[len] = '\0';
	return s;
}

void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s->buf, s->cap + 1);
	(void)munlock(s->buf, s->cap + 1);
	free(s->buf);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int
secret_equal(const struct secret *a, const struct secret *b)
{
	if (a == NULL || b == NULL || a->len != b->len)
		return 0;
	return CRYPTO_memcmp(a->buf, b->buf, a->len) == 0;
}

/* Reads into s until EOF or newline. */
static int
read_line(int fd, struct secret *s)
{
	unsigned char c;
	ssize_t n;

	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return UK_ERR_SECRET_READ;
		if (n == 0 || c == '\n')
			break;
		if (s->len >= s->cap)
			return UK_ERR_LIMIT;
		s->buf[s->len++] = c;
	}
	if (s->len > 0 && s->buf[s->len - 1] == '\r')
		s->buf[--s->len] = '\0';
	s->buf[s->len] = '\0';
	if (s->len == 0)
		return UK_ERR_SECRET_EMPTY;
	return 0;
}

int
secret_read_fd(int fd, struct secret **out)
{
	struct secret *s;
	int r;

	*out = NULL;
	if ((s = secret_new(SECRET_MAX)) == NULL)
		return UK_ERR_NOMEM;
	if ((r = read_line(fd, s)) != 0) {
		secret_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int
secret_read_tty(const char *prompt, struct secret **out)
{
	struct termios old, noecho;
	struct secret *s = NULL;
	int fd, r = UK_ERR_SECRET_READ, restore = 0;

	*out = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return UK_ERR_SECRET_READ;
	if (tcgetattr(fd, &old) != 0)
		goto out;
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &noecho) != 0)
		goto out;
	restore = 1;
	if (write(fd, prompt, strlen(prompt)) < 0)
		goto out;
	if ((s = secret_new(SECRET_MAX)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = read_line(fd, s)) != 0)
		goto out;
	*out = s;
	s = NULL; /* transferred */
	r = 0;
out:
	if (restore) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0) {
			/* only cosmetic: the prompt line stays open */
		}
	}
	close(fd);
	secret_free(s);
	return r;
}

int
secret_obtain(int fd, const char *prompt, struct secret **out)
{
	if (fd >= 0)
		return secret_read_fd(fd, out);
	return secret_read_tty(prompt, out);
}

int
secret_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return UK_ERR_INTERNAL;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return UK_ERR_INTERNAL;
	return 0;
}
