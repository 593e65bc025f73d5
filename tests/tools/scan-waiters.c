/* tests/tools/scan-waiters.c: load tool for bench_scan_wait.sh: N browsers holding scan waits on one gateway (raw sockets, epoll), then confirms written to the store and the time until each browser's wait answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/scan.h"
#include "gateway/session.h"

/*
 * Usage: scan-waiters -d STORE -p PORT -n N -k SAMPLES -o OPENID -g PID
 *
 * Makes N login tickets directly in the store (each with its own browser
 * cookie), opens N keep-alive connections to the gateway on 127.0.0.1:PORT
 * and holds GET /auth/qr/<id>/wait?state=waiting on each (a wait that
 * answers unchanged is sent again). With all of them held it prints the
 * gateway's VmRSS (/proc/PID/status). Then, SAMPLES times, a ticket is
 * marked scanned by OPENID's phone and confirmed, in the store (as a
 * phone on another gateway would), and the time from the confirm's
 * commit until that browser's wait answers "confirmed" is measured.
 * Prints "key value" lines; exits 0 when every sample was answered.
 */

#define BUF 2048

struct conn {
	int fd;
	char id[GW_SCAN_ID_LEN + 1];
	char cookie[GW_TOKEN_SIZE];
	char state[16]; /* the state the browser knows */
	char buf[BUF];
	size_t len;
	int connected, held, answers;
	double last; /* when the latest answer came */
	char got[16];
};

static struct conn *conns;
static int ep, port, n;

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
send_wait(struct conn *c)
{
	char req[512];
	int len;
	ssize_t w;

	len = snprintf(req, sizeof(req),
	    "GET /auth/qr/%s/wait?state=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Cookie: __Host-ukey-pre=%s\r\nAccept: application/json\r\n\r\n",
	    c->id, c->state, port, c->cookie);
	w = write(c->fd, req, (size_t)len);
	if (w != len)
		return -1;
	c->held = 1;
	return 0;
}

static int
open_conn(int i)
{
	struct sockaddr_in sa;
	struct epoll_event ev;
	struct conn *c = &conns[i];
	int one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		return -1;
	c->connected = 1;
	return send_wait(c);
}

/* Reads what came on c; an answer complete: its state into c->got, the
 * wait sent again unless the state is final. */
static void
on_read(struct conn *c)
{
	ssize_t r;
	char *end, *cl, *st;
	size_t hl, bl;

	for (;;) {
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(c->fd);
				c->connected = 0;
				c->held = 0;
			}
			return;
		}
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		if ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
			continue;
		hl = (size_t)(end + 4 - c->buf);
		bl = 0;
		if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) != NULL &&
		    cl < end)
			bl = (size_t)strtoul(cl + 17, NULL, 10);
		if (c->len < hl + bl)
			continue;
		c->got[0] = '\0';
		if ((st = strstr(c->buf + hl, "\"state\":")) != NULL ||
		    (st = strstr(c->buf + hl, "\"state\": ")) != NULL) {
			char *q = strchr(st + 7, '"');
			char *e = q != NULL ? strchr(q + 1, '"') : NULL;

			if (e != NULL && (size_t)(e - q - 1) < sizeof(c->got)) {
				memcpy(c->got, q + 1, (size_t)(e - q - 1));
				c->got[e - q - 1] = '\0';
			}
		}
		c->last = now_s();
		c->answers++;
		c->held = 0;
		memmove(c->buf, c->buf + hl + bl, c->len - hl - bl);
		c->len -= hl + bl;
		if (c->got[0] != '\0')
			snprintf(c->state, sizeof(c->state), "%s", c->got);
		if (strcmp(c->state, "waiting") == 0 ||
		    strcmp(c->state, "scanned") == 0)
			(void)send_wait(c);
	}
}

static void
pump(int ms)
{
	struct epoll_event evs[256];
	int k, i;

	k = epoll_wait(ep, evs, 256, ms);
	for (i = 0; i < k; i++)
		on_read(&conns[evs[i].data.u32]);
}

static long
rss_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *loc = NULL, *openid = NULL, *pid = NULL;
	struct store *st = NULL;
	struct gw_scan_peer peer;
	struct rlimit rl;
	double *lat = NULL, t0, t1;
	int i, k = 20, opt, held, ok = 0, r, rc = 1;
	char phone[GW_TOKEN_SIZE], csrf[GW_TOKEN_SIZE];

	while ((opt = getopt(argc, argv, "d:p:n:k:o:g:")) != -1) {
		if (opt == 'd')
			loc = optarg;
		else if (opt == 'p')
			port = (int)strtol(optarg, NULL, 10);
		else if (opt == 'n')
			n = (int)strtol(optarg, NULL, 10);
		else if (opt == 'k')
			k = (int)strtol(optarg, NULL, 10);
		else if (opt == 'o')
			openid = optarg;
		else if (opt == 'g')
			pid = optarg;
	}
	if (loc == NULL || port <= 0 || n <= 0 || k <= 0 || k > n ||
	    openid == NULL || pid == NULL) {
		fprintf(stderr,
		    "usage: scan-waiters -d STORE -p PORT -n N "
		    "-k SAMPLES -o OPENID -g PID\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((conns = calloc((size_t)n, sizeof(*conns))) == NULL ||
	    (lat = calloc((size_t)k, sizeof(*lat))) == NULL ||
	    (ep = epoll_create1(0)) < 0)
		goto out;
	if ((r = store_open(loc, &st)) != 0) {
		fprintf(stderr, "store: %s\n", store_last_error(NULL));
		goto out;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		if (gw_token_new(conns[i].cookie) != 0)
			goto out;
		peer.cookie = conns[i].cookie;
		peer.ip = "127.0.0.1";
		peer.user_agent = "scan-waiters";
		if ((r = gw_scan_create(st, GW_SCAN_LOGIN, 0, &peer,
		         (int64_t)time(NULL), conns[i].id)) != 0) {
			fprintf(stderr, "ticket %d: %s: %s\n", i,
			    uk_error_id(r), store_last_error(st));
			goto out;
		}
		snprintf(conns[i].state, sizeof(conns[i].state), "waiting");
	}
	printf("tickets %d (%.1f s)\n", n, now_s() - t0);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		if (open_conn(i) != 0) {
			fprintf(stderr, "connection %d: %s\n", i,
			    strerror(errno));
			goto out;
		}
		if (i % 200 == 199)
			pump(0);
	}
	/* Let every wait reach the gateway and be held. */
	for (t1 = now_s(); now_s() - t1 < 3.0;)
		pump(50);
	for (held = 0, i = 0; i < n; i++)
		held += conns[i].connected && conns[i].held;
	printf("connections %d held %d (opened in %.1f s)\n", n, held,
	    now_s() - t0);
	printf("gateway_rss_kb %ld\n", rss_kb(pid));
	fflush(stdout);
	/* The samples: scanned, then confirmed, in the store. */
	for (i = 0; i < k; i++) {
		struct conn *c = &conns[(size_t)i * (size_t)(n / k)];
		double t;

		if (gw_token_new(phone) != 0)
			goto out;
		peer.cookie = phone;
		peer.ip = "127.0.0.2";
		peer.user_agent = "phone";
		if ((r = gw_scan_scanned(st, c->id, &peer, openid,
		         (int64_t)time(NULL), NULL)) != 0) {
			fprintf(stderr, "scanned: %s\n", uk_error_id(r));
			goto out;
		}
		for (t = now_s();
		     strcmp(c->state, "scanned") != 0 && now_s() - t < 5;)
			pump(5);
		/* The browser waits again with state=scanned. */
		for (t = now_s(); now_s() - t < 0.05;)
			pump(5);
		gw_scan_csrf(phone, c->id, csrf);
		if ((r = gw_scan_confirm(st, c->id, &peer, csrf,
		         (int64_t)time(NULL))) != 0) {
			fprintf(stderr, "confirm: %s\n", uk_error_id(r));
			goto out;
		}
		t0 = now_s();
		while (strcmp(c->state, "confirmed") != 0 && now_s() - t0 < 5)
			pump(2);
		if (strcmp(c->state, "confirmed") == 0) {
			lat[ok++] = (c->last - t0) * 1000.0;
		}
	}
	qsort(lat, (size_t)ok, sizeof(*lat), cmp_d);
	printf("samples %d answered %d\n", k, ok);
	if (ok > 0)
		printf("confirm_to_answer_ms p50 %.1f p99 %.1f max %.1f\n",
		    lat[ok / 2],
		    lat[(ok * 99) / 100 < ok ? (ok * 99) / 100 : ok - 1],
		    lat[ok - 1]);
	printf("gateway_rss_kb_end %ld\n", rss_kb(pid));
	rc = ok == k ? 0 : 1;
out:
	store_close(st);
	free(lat);
	if (conns != NULL)
		for (i = 0; i < n; i++)
			if (conns[i].fd > 0)
				close(conns[i].fd);
	free(conns);
	return rc;
}
