/* agent/ipc.c: size-checked, typed, length-prefixed messages between the HTTP front and the token worker. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/ipc.h"
#include "common/errors.h"

#define MAGIC0 'U'
#define MAGIC1 'A'
#define VERSION 1

struct ag_msg {
	struct secret *frame; /* header + payload; len is the frame length */
};

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

struct ag_msg *
ag_msg_new(int type)
{
	struct ag_msg *m;

	if (type <= 0 || type > 255)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->frame = secret_new(AG_IPC_MAX)) == NULL) {
		free(m);
		return NULL;
	}
	m->frame->buf[0] = MAGIC0;
	m->frame->buf[1] = MAGIC1;
	m->frame->buf[2] = VERSION;
	m->frame->buf[3] = (unsigned char)type;
	put32(m->frame->buf + 4, 0);
	m->frame->len = AG_IPC_HEADER;
	return m;
}

void
ag_msg_free(struct ag_msg *m)
{
	if (m == NULL)
		return;
	secret_free(m->frame);
	free(m);
}

int
ag_msg_type(const struct ag_msg *m)
{
	return m->frame->buf[3];
}

/* Walks the fields: returns 0 and the field of tag in *data and *len, or
 * UK_ERR_NOT_FOUND. The frame is known to be well formed. */
static int
find(const struct ag_msg *m, int tag, const unsigned char **data, size_t *len)
{
	const unsigned char *p = m->frame->buf + AG_IPC_HEADER;
	const unsigned char *end = m->frame->buf + m->frame->len;
	size_t n;

	while (p + 3 <= end) {
		n = (size_t)p[1] << 8 | p[2];
		if (p[0] == tag) {
			*data = p + 3;
			*len = n;
			return 0;
		}
		p += 3 + n;
	}
	return UK_ERR_NOT_FOUND;
}

int
ag_msg_put(struct ag_msg *m, int tag, const void *data, size_t len)
{
	const unsigned char *d;
	unsigned char *p;
	size_t n;

	if (tag <= 0 || tag > 255)
		return UK_ERR_INPUT;
	if (find(m, tag, &d, &n) == 0)
		return UK_ERR_EXISTS;
	if (len > 0xffff || m->frame->len + 3 + len > AG_IPC_MAX)
		return UK_ERR_LIMIT;
	p = m->frame->buf + m->frame->len;
	p[0] = (unsigned char)tag;
	p[1] = (unsigned char)(len >> 8);
	p[2] = (unsigned char)len;
	if (len > 0)
		memcpy(p + 3, data, len);
	m->frame->len += 3 + len;
	put32(m->frame->buf + 4, (uint32_t)(m->frame->len - AG_IPC_HEADER));
	return 0;
}

int
ag_msg_put_str(struct ag_msg *m, int tag, const char *s)
{
	return ag_msg_put(m, tag, s, strlen(s) + 1);
}

int
ag_msg_put_u32(struct ag_msg *m, int tag, uint32_t v)
{
	unsigned char b[4];

	put32(b, v);
	return ag_msg_put(m, tag, b, sizeof(b));
}

int
ag_msg_put_secret(struct ag_msg *m, int tag, const struct secret *s)
{
	if (s == NULL)
		return 0;
	return ag_msg_put(m, tag, s->buf, s->len);
}

int
ag_msg_get(const struct ag_msg *m, int tag, const void **data, size_t *len)
{
	const unsigned char *d;
	int r;

	if ((r = find(m, tag, &d, len)) == 0)
		*data = d;
	return r;
}

const char *
ag_msg_str(const struct ag_msg *m, int tag)
{
	const unsigned char *d;
	size_t n;

	if (find(m, tag, &d, &n) != 0 || n == 0 || d[n - 1] != '\0' ||
	    memchr(d, '\0', n - 1) != NULL)
		return NULL;
	return (const char *)d;
}

int
ag_msg_u32(const struct ag_msg *m, int tag, uint32_t *out)
{
	const unsigned char *d;
	size_t n;

	if (find(m, tag, &d, &n) != 0)
		return UK_ERR_NOT_FOUND;
	if (n != 4)
		return UK_ERR_INPUT;
	*out = get32(d);
	return 0;
}

int
ag_msg_secret(const struct ag_msg *m, int tag, struct secret **out)
{
	const unsigned char *d;
	size_t n;

	*out = NULL;
	if (find(m, tag, &d, &n) != 0)
		return 0;
	if ((*out = secret_from(d, n)) == NULL)
		return UK_ERR_NOMEM;
	return 0;
}

/* Checks a header: magic, version, a type, a length that fits. */
static int
header_check(const unsigned char *h, size_t *payload)
{
	uint32_t n;

	if (h[0] != MAGIC0 || h[1] != MAGIC1 || h[2] != VERSION || h[3] == 0)
		return UK_ERR_INPUT;
	n = get32(h + 4);
	if (n > AG_IPC_MAX - AG_IPC_HEADER)
		return UK_ERR_LIMIT;
	*payload = n;
	return 0;
}

/* Checks the fields of a payload: each complete, tags non-zero and
 * unique. */
static int
fields_check(const unsigned char *p, size_t len)
{
	unsigned char seen[256];
	size_t off = 0, n;

	memset(seen, 0, sizeof(seen));
	while (off < len) {
		if (len - off < 3)
			return UK_ERR_INPUT;
		n = (size_t)p[off + 1] << 8 | p[off + 2];
		if (p[off] == 0 || seen[p[off]] || n > len - off - 3)
			return UK_ERR_INPUT;
		seen[p[off]] = 1;
		off += 3 + n;
	}
	return 0;
}

int
ag_msg_decode(const unsigned char *buf, size_t len, struct ag_msg **out)
{
	struct ag_msg *m = NULL;
	size_t payload;
	int r;

	*out = NULL;
	if (len > AG_IPC_MAX)
		return UK_ERR_LIMIT;
	if (len < AG_IPC_HEADER)
		return UK_ERR_INPUT;
	if ((r = header_check(buf, &payload)) != 0)
		goto out;
	r = UK_ERR_INPUT;
	if (payload != len - AG_IPC_HEADER)
		goto out;
	if ((r = fields_check(buf + AG_IPC_HEADER, payload)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((m = ag_msg_new(buf[3])) == NULL)
		goto out;
	memcpy(m->frame->buf, buf, len);
	m->frame->len = len;
	*out = m;
	m = NULL; /* transferred */
	r = 0;
out:
	ag_msg_free(m);
	return r;
}

void
ag_msg_frame(const struct ag_msg *m, const unsigned char **buf, size_t *len)
{
	*buf = m->frame->buf;
	*len = m->frame->len;
}

int
ag_msg_send(int fd, const struct ag_msg *m)
{
	const unsigned char *p = m->frame->buf;
	size_t left = m->frame->len;
	ssize_t k;

	while (left > 0) {
		k = send(fd, p, left, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return UK_ERR_IO;
		p += k;
		left -= (size_t)k;
	}
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly len bytes before the deadline (negative: none). Bytes
 * already there are always taken: the deadline only bounds waiting. */
static int
read_full(int fd, unsigned char *buf, size_t len, long long deadline)
{
	struct pollfd pfd;
	long long left;
	ssize_t k;
	int pr;

	while (len > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left < 0)
			left = 0;
		pr = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return UK_ERR_IO;
		if (pr == 0)
			return UK_ERR_TIMEOUT;
		k = read(fd, buf, len);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return UK_ERR_IO;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Once a frame has begun, its sender has it all: the rest may take this
 * long whatever the caller's timeout, so that a frame is never cut in two
 * (which would leave the stream unreadable). */
#define FRAME_REST_MS 2000

/* Reads the first byte within the deadline, the rest of n bytes within
 * FRAME_REST_MS more. */
static int
read_frame_part(int fd, unsigned char *buf, size_t n, long long deadline,
    int started)
{
	long long rest;
	int r;

	if (n == 0)
		return 0;
	if (!started) {
		if ((r = read_full(fd, buf, 1, deadline)) != 0)
			return r;
		buf++;
		n--;
	}
	rest = now_ms() + FRAME_REST_MS;
	if (deadline < 0 || deadline < rest)
		deadline = rest;
	r = read_full(fd, buf, n, deadline);
	/* Half a frame: the stream is of no further use. */
	return r == UK_ERR_TIMEOUT ? UK_ERR_IO : r;
}

int
ag_msg_recv(int fd, int timeout_ms, struct ag_msg **out)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	unsigned char h[AG_IPC_HEADER];
	struct ag_msg *m = NULL;
	size_t payload;
	int r;

	*out = NULL;
	if ((r = read_frame_part(fd, h, sizeof(h), deadline, 0)) != 0)
		goto out;
	if ((r = header_check(h, &payload)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((m = ag_msg_new(h[3])) == NULL)
		goto out;
	memcpy(m->frame->buf, h, sizeof(h));
	if ((r = read_frame_part(fd, m->frame->buf + AG_IPC_HEADER, payload,
	         deadline, 1)) != 0)
		goto out;
	m->frame->len = AG_IPC_HEADER + payload;
	if ((r = fields_check(m->frame->buf + AG_IPC_HEADER, payload)) != 0)
		goto out;
	*out = m;
	m = NULL; /* transferred */
	r = 0;
out:
	ag_msg_free(m);
	return r;
}
