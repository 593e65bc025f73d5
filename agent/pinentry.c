/* agent/pinentry.c: asking for a PIN through a pinentry program (Assuan protocol), and the reply parser. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/errinfo.h"
#include "agent/pinentry.h"
#include "common/errors.h"
#include "common/log.h"

extern char **environ;

struct ag_assuan {
	struct secret *data; /* D lines of the current reply, unescaped */
	int done;            /* the reply ended */
	unsigned long err;   /* n of the last ERR n */
	int repeated;        /* "S PIN_REPEATED" seen */
};

struct ag_assuan *
ag_assuan_new(void)
{
	struct ag_assuan *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->data = secret_new(SECRET_MAX)) == NULL) {
		free(a);
		return NULL;
	}
	return a;
}

void
ag_assuan_free(struct ag_assuan *a)
{
	if (a == NULL)
		return;
	secret_free(a->data);
	free(a);
}

void
ag_assuan_reset(struct ag_assuan *a)
{
	OPENSSL_cleanse(a->data->buf, a->data->cap + 1);
	a->data->len = 0;
	a->done = 0;
	a->err = 0;
	a->repeated = 0;
}

unsigned long
ag_assuan_errcode(const struct ag_assuan *a)
{
	return a->err;
}

int
ag_assuan_repeated(const struct ag_assuan *a)
{
	return a->repeated;
}

struct secret *
ag_assuan_take(struct ag_assuan *a)
{
	struct secret *s = secret_from(a->data->buf, a->data->len);

	ag_assuan_reset(a);
	return s;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Whether line (len bytes) is word alone or word followed by a space. */
static int
is_word(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len >= wl && memcmp(line, word, wl) == 0 &&
	    (len == wl || line[wl] == ' ');
}

/* Appends the %-unescaped data of a D line. */
static int
data_add(struct ag_assuan *a, const char *p, size_t len)
{
	struct secret *d = a->data;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			if (len - i < 3 || (hi = hexval(p[i + 1])) < 0 ||
			    (lo = hexval(p[i + 2])) < 0)
				return UK_ERR_INPUT;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '\r' || c == '\n') {
			return UK_ERR_INPUT;
		}
		if (d->len >= d->cap)
			return UK_ERR_LIMIT;
		d->buf[d->len++] = c;
	}
	d->buf[d->len] = '\0';
	return 0;
}

int
ag_assuan_feed(struct ag_assuan *a, const char *line, size_t len,
    enum ag_assuan_status *st)
{
	unsigned long n = 0;
	size_t i;

	*st = AG_ASSUAN_MORE;
	if (len >= AG_ASSUAN_LINE_MAX)
		return UK_ERR_LIMIT;
	if (a->done || memchr(line, '\0', len) != NULL)
		return UK_ERR_INPUT;
	if (is_word(line, len, "OK")) {
		a->done = 1;
		*st = AG_ASSUAN_OK;
		return 0;
	}
	if (is_word(line, len, "ERR")) {
		/* "ERR n[ text]": n decimal, at most 10 digits. */
		for (i = 4; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
			if (i - 4 >= 10)
				return UK_ERR_INPUT;
			n = n * 10 + (unsigned long)(line[i] - '0');
		}
		if (len < 5 || i == 4 || (i < len && line[i] != ' '))
			return UK_ERR_INPUT;
		a->err = n;
		a->done = 1;
		*st = AG_ASSUAN_ERR;
		return 0;
	}
	if (is_word(line, len, "D"))
		return len <= 2 ? 0 : data_add(a, line + 2, len - 2);
	if (is_word(line, len, "S")) {
		if (len >= 14 && memcmp(line + 2, "PIN_REPEATED", 12) == 0 &&
		    (len == 14 || line[14] == ' '))
			a->repeated = 1;
		return 0;
	}
	if (len >= 1 && line[0] == '#')
		return 0;
	return UK_ERR_INPUT;
}

size_t
ag_assuan_escape(const char *text, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0, i, clen;

	if (size == 0)
		return 0;
	for (i = 0; s[i] != '\0';) {
		unsigned char c = s[i];
		/* Length of this character in the output. */
		if (c == '%' || c < 0x20 || c == 0x7f) {
			clen = 3;
		} else if (c < 0x80) {
			clen = 1;
		} else {
			/* A UTF-8 sequence goes whole or not at all. */
			clen = 1;
			while (s[i + clen] != '\0' &&
			    (s[i + clen] & 0xc0) == 0x80 && clen < 4)
				clen++;
		}
		if (o + clen >= size)
			break;
		if (clen == 3 && (c == '%' || c < 0x20 || c == 0x7f)) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			i++;
		} else {
			memcpy(out + o, s + i, clen);
			o += clen;
			i += clen;
		}
	}
	out[o] = '\0';
	return o;
}

/* --- the client side --- */

struct conn {
	pid_t pid;
	int in;  /* we write: the child's standard input */
	int out; /* we read: the child's standard output */
	long long deadline;
	char buf[AG_ASSUAN_LINE_MAX + 1];
	size_t len; /* bytes in buf */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
conn_spawn(struct conn *c, const char *program)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 },
	    r = UK_ERR_TOKEN_PIN_ENTRY;
	char *argv[2];
	sigset_t none, def;
	int fa_ok = 0, attr_ok = 0, e;

	c->pid = -1;
	if (program == NULL || program[0] != '/') {
		uk_log(UK_LOG_ERROR,
		    "UK-2012 pinentry program %s is not an "
		    "absolute path",
		    program == NULL ? "(none)" : program);
		goto out;
	}
	if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
		goto out;
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	fa_ok = 1;
	if (posix_spawnattr_init(&attr) != 0)
		goto out;
	attr_ok = 1;
	/* The worker ignores SIGPIPE; the child gets the defaults back. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGXFSZ);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGTERM);
	if (posix_spawn_file_actions_adddup2(&fa, to[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, from[1], 1) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
	    posix_spawnattr_setflags(&attr,
	        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
		goto out;
	argv[0] = (char *)program;
	argv[1] = NULL;
	if ((e = posix_spawn(&c->pid, program, &fa, &attr, argv, environ)) !=
	    0) {
		c->pid = -1;
		uk_log(UK_LOG_ERROR, "UK-2012 cannot start pinentry %s: %s",
		    program, strerror(e));
		goto out;
	}
	c->in = to[1];
	to[1] = -1;
	c->out = from[0];
	from[0] = -1;
	r = 0;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (to[0] >= 0)
		close(to[0]);
	if (to[1] >= 0)
		close(to[1]);
	if (from[0] >= 0)
		close(from[0]);
	if (from[1] >= 0)
		close(from[1]);
	return r;
}

/* Closes our ends and reaps the child: it may take a moment to leave
 * after BYE or a closed input; then it is killed. */
static void
conn_close(struct conn *c, int kill_now)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int st, i;

	if (c->in >= 0)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	c->in = c->out = -1;
	if (c->pid <= 0)
		return;
	for (i = 0; !kill_now && i < 100; i++) {
		pid_t w = waitpid(c->pid, &st, WNOHANG);
		if (w == c->pid || (w < 0 && errno != EINTR)) {
			c->pid = -1;
			return;
		}
		nanosleep(&ts, NULL);
	}
	(void)kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->pid = -1;
}

static int
conn_write(struct conn *c, const char *cmd, const char *param)
{
	char line[AG_ASSUAN_LINE_MAX + 1];
	size_t n = strlen(cmd), left;
	const char *p = line;
	ssize_t k;

	if (n + 2 >= sizeof(line))
		return UK_ERR_TOKEN_PIN_ENTRY;
	memcpy(line, cmd, n);
	if (param != NULL) {
		line[n++] = ' ';
		/* Room for the LF and the NUL. */
		n += ag_assuan_escape(param, line + n, sizeof(line) - n - 1);
	}
	line[n++] = '\n';
	for (left = n; left > 0;) {
		k = write(c->in, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			uk_log(UK_LOG_ERROR,
			    "UK-2012 pinentry does not read its input: %s",
			    strerror(errno));
			OPENSSL_cleanse(line, sizeof(line));
			return UK_ERR_TOKEN_PIN_ENTRY;
		}
		p += k;
		left -= (size_t)k;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return 0;
}

/* Reads one line (without its LF) into c->buf, NUL-terminated at *len. */
static int
conn_line(struct conn *c, size_t *len)
{
	struct pollfd pfd;
	long long left;
	char *nl;
	ssize_t k;
	size_t used;
	int pr;

	for (;;) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			*len = (size_t)(nl - c->buf);
			*nl = '\0';
			return 0;
		}
		if (c->len >= AG_ASSUAN_LINE_MAX) {
			uk_log(UK_LOG_ERROR,
			    "UK-2012 pinentry sent an over-long line");
			return UK_ERR_TOKEN_PIN_ENTRY;
		}
		left = c->deadline - now_ms();
		if (left <= 0)
			return UK_ERR_TIMEOUT;
		pfd.fd = c->out;
		pfd.events = POLLIN;
		pfd.revents = 0;
		pr = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return UK_ERR_TOKEN_PIN_ENTRY;
		if (pr == 0)
			return UK_ERR_TIMEOUT;
		used = c->len;
		k = read(c->out, c->buf + used, AG_ASSUAN_LINE_MAX - used);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			uk_log(UK_LOG_ERROR,
			    "UK-2012 pinentry ended without an answer");
			return UK_ERR_TOKEN_PIN_ENTRY;
		}
		c->len += (size_t)k;
	}
}

/* Drops the line just read from the buffer. */
static void
conn_consume(struct conn *c, size_t len)
{
	size_t rest = c->len - (len + 1);

	memmove(c->buf, c->buf + len + 1, rest);
	OPENSSL_cleanse(c->buf + rest, sizeof(c->buf) - rest);
	c->len = rest;
}

/* Reads one whole reply into a. */
static int
conn_reply(struct conn *c, struct ag_assuan *a, enum ag_assuan_status *st)
{
	size_t len;
	int r;

	ag_assuan_reset(a);
	do {
		if ((r = conn_line(c, &len)) != 0)
			return r;
		r = ag_assuan_feed(a, c->buf, len, st);
		conn_consume(c, len);
		if (r == UK_ERR_LIMIT)
			return r;
		if (r != 0) {
			uk_log(UK_LOG_ERROR,
			    "UK-2012 pinentry's answer is not Assuan");
			return UK_ERR_TOKEN_PIN_ENTRY;
		}
	} while (*st == AG_ASSUAN_MORE);
	return 0;
}

/* Says cmd and takes the reply; an ERR reply to a SET command is only
 * logged, since older pinentries lack some of them. */
static int
conn_set(struct conn *c, struct ag_assuan *a, const char *cmd,
    const char *param)
{
	enum ag_assuan_status st;
	int r;

	if (param == NULL)
		return 0;
	if ((r = conn_write(c, cmd, param)) != 0 ||
	    (r = conn_reply(c, a, &st)) != 0)
		return r;
	if (st == AG_ASSUAN_ERR)
		uk_log(UK_LOG_DEBUG, "pinentry refused %s (ERR %lu)", cmd,
		    ag_assuan_errcode(a));
	return 0;
}

int
ag_pinentry_get(const struct ag_pinentry_req *req, struct secret **pin)
{
	struct conn c = { .pid = -1, .in = -1, .out = -1 };
	struct ag_assuan *a = NULL;
	enum ag_assuan_status st;
	char tmo[16];
	int r, kill_now = 1;

	*pin = NULL;
	r = UK_ERR_NOMEM;
	if ((a = ag_assuan_new()) == NULL)
		goto out;
	c.deadline =
	    now_ms() + 1000LL * (req->timeout_s > 0 ? req->timeout_s : 120);
	if ((r = conn_spawn(&c, req->program)) != 0)
		goto out;
	/* The greeting. */
	if ((r = conn_reply(&c, a, &st)) != 0)
		goto out;
	if (st != AG_ASSUAN_OK) {
		r = UK_ERR_TOKEN_PIN_ENTRY;
		uk_log(UK_LOG_ERROR,
		    "UK-2012 pinentry refused to start (ERR "
		    "%lu)",
		    ag_assuan_errcode(a));
		goto out;
	}
	snprintf(tmo, sizeof(tmo), "%d", req->timeout_s);
	if ((r = conn_set(&c, a, "SETTITLE", req->title)) != 0 ||
	    (r = conn_set(&c, a, "SETDESC", req->desc)) != 0 ||
	    (r = conn_set(&c, a, "SETPROMPT", req->prompt)) != 0 ||
	    (r = conn_set(&c, a, "SETERROR", req->error)) != 0 ||
	    (r = conn_set(&c, a, "SETTIMEOUT", tmo)) != 0 ||
	    (r = conn_set(&c, a, "SETREPEAT", req->repeat)) != 0 ||
	    (r = conn_set(&c, a, "SETREPEATERROR", req->repeat_error)) != 0)
		goto out;
	if ((r = conn_write(&c, "GETPIN", NULL)) != 0 ||
	    (r = conn_reply(&c, a, &st)) != 0)
		goto out;
	if (st == AG_ASSUAN_ERR) {
		unsigned long e = ag_assuan_errcode(a) & 0xffff;
		if (e == AG_GPG_ERR_CANCELED) {
			r = UK_ERR_CANCELLED;
		} else if (e == AG_GPG_ERR_TIMEOUT) {
			r = UK_ERR_TIMEOUT;
		} else {
			r = UK_ERR_TOKEN_PIN_ENTRY;
			uk_log(UK_LOG_ERROR,
			    "UK-2012 pinentry: GETPIN: ERR %lu",
			    ag_assuan_errcode(a));
		}
		kill_now = 0;
		goto out;
	}
	/* A new PIN must have been typed twice: a pinentry that ignores
	 * SETREPEAT would let one typo lock the operator out. */
	if (req->repeat != NULL && !ag_assuan_repeated(a)) {
		r = UK_ERR_TOKEN_PIN_ENTRY;
		uk_log(UK_LOG_ERROR,
		    "UK-2012 pinentry did not confirm the new "
		    "PIN (no SETREPEAT support)");
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((*pin = ag_assuan_take(a)) == NULL)
		goto out;
	(void)conn_write(&c, "BYE", NULL);
	kill_now = 0;
	r = 0;
out:
	if (r == UK_ERR_TIMEOUT)
		uk_log(UK_LOG_WARN, "pinentry: no PIN within %d s",
		    req->timeout_s);
	conn_close(&c, kill_now);
	OPENSSL_cleanse(c.buf, sizeof(c.buf));
	ag_assuan_free(a);
	return r;
}
