/* agent/worker.c: the token worker process (the only one that loads the PKCS#11 module and holds PINs) and the HTTP front's handle on it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/errinfo.h"
#include "agent/worker.h"
#include "common/errors.h"
#include "common/log.h"

extern char **environ;

/* --- in the worker process --- */

static int
result_msg(const struct ag_result *res, struct ag_msg **out)
{
	struct ag_msg *m = NULL;
	char *body = NULL, *pin = NULL;
	int r = UK_ERR_NOMEM, code = res->code;

	*out = NULL;
	if (res->body != NULL &&
	    (body = json_dumps(res->body, JSON_COMPACT)) == NULL)
		goto out;
	if (res->pin != NULL &&
	    (pin = json_dumps(res->pin, JSON_COMPACT)) == NULL)
		goto out;
	if ((m = ag_msg_new(AG_MSG_RESULT)) == NULL)
		goto out;
	/* An answer too big for a frame is an error answer. */
	if (body != NULL && code == 0 &&
	    ag_msg_put_str(m, AG_T_BODY, body) != 0) {
		ag_msg_free(m);
		if ((m = ag_msg_new(AG_MSG_RESULT)) == NULL)
			goto out;
		code = UK_ERR_LIMIT;
		uk_log_err(code, "the answer does not fit in a message");
	}
	if (ag_msg_put_u32(m, AG_T_CODE, (uint32_t)code) != 0 ||
	    (pin != NULL && ag_msg_put_str(m, AG_T_PINSTATE, pin) != 0) ||
	    (res->serial[0] != '\0' &&
	        ag_msg_put_str(m, AG_T_SERIAL, res->serial) != 0))
		goto out;
	*out = m;
	m = NULL; /* transferred */
	r = 0;
out:
	ag_msg_free(m);
	free(body);
	free(pin);
	return r;
}

/* A string field or "" (NULL when it is there but not a string). */
static const char *
opt_str(const struct ag_msg *m, int tag)
{
	const void *d;
	size_t n;

	if (ag_msg_get(m, tag, &d, &n) != 0)
		return "";
	return ag_msg_str(m, tag);
}

int
ag_worker_handle(struct ag_tokop *t, int pin_in_request,
    const struct ag_msg *req, struct ag_msg **resp)
{
	struct secret *pin = NULL, *new_pin = NULL, *so_pin = NULL;
	const char *origin, *nonce, *cert, *serial, *subject, *kt, *label;
	const char *lang;
	struct ag_result res;
	const void *der;
	size_t der_len;
	int r, en;

	memset(&res, 0, sizeof(res));
	res.code = UK_ERR_NOMEM;
	if ((r = ag_msg_secret(req, AG_T_PIN, &pin)) != 0 ||
	    (r = ag_msg_secret(req, AG_T_NEW_PIN, &new_pin)) != 0 ||
	    (r = ag_msg_secret(req, AG_T_SO_PIN, &so_pin)) != 0)
		goto answer;
	res.code = UK_ERR_INPUT;
	if (!pin_in_request &&
	    (pin != NULL || new_pin != NULL || so_pin != NULL)) {
		uk_log_err(res.code,
		    "a PIN came in a request, but pin_source "
		    "is pinentry");
		goto answer;
	}
	lang = opt_str(req, AG_T_LANG);
	en = lang != NULL && strcmp(lang, "en") == 0;
	cert = opt_str(req, AG_T_CERT);
	serial = opt_str(req, AG_T_SERIAL);
	label = opt_str(req, AG_T_LABEL);
	if (cert == NULL || serial == NULL || label == NULL)
		goto answer;
	switch (ag_msg_type(req)) {
	case AG_MSG_AUTH:
		origin = ag_msg_str(req, AG_T_ORIGIN);
		nonce = ag_msg_str(req, AG_T_NONCE);
		if (origin == NULL || nonce == NULL)
			goto answer;
		ag_tokop_authenticate(t, origin, nonce, cert, pin, en, &res);
		break;
	case AG_MSG_LIST:
		ag_tokop_list(t, &res);
		break;
	case AG_MSG_STATUS:
		ag_tokop_status(t, &res);
		break;
	case AG_MSG_ENROLL:
		subject = ag_msg_str(req, AG_T_SUBJECT);
		kt = ag_msg_str(req, AG_T_KEY_TYPE);
		if (subject == NULL || kt == NULL)
			goto answer;
		ag_tokop_enroll(t, serial, subject, kt, label, pin, en, &res);
		break;
	case AG_MSG_INSTALL:
		if (ag_msg_get(req, AG_T_DER, &der, &der_len) != 0)
			goto answer;
		ag_tokop_install(t, cert, der, der_len, label, pin, en, &res);
		break;
	case AG_MSG_UNLOCK:
		ag_tokop_unlock(t, serial, so_pin, new_pin, en, &res);
		break;
	case AG_MSG_CHANGE_PIN:
		ag_tokop_change_pin(t, serial, pin, new_pin, en, &res);
		break;
	case AG_MSG_RELOAD:
		res.code = ag_tokop_reload(t);
		break;
	default:
		uk_log_err(res.code, "unknown request type %d",
		    ag_msg_type(req));
		break;
	}
answer:
	secret_free(pin);
	secret_free(new_pin);
	secret_free(so_pin);
	r = result_msg(&res, resp);
	ag_result_clear(&res);
	return r;
}

int
ag_worker_serve(int fd, struct ag_tokop *t, int pin_in_request)
{
	struct ag_msg *req = NULL, *resp = NULL;
	int r;

	for (;;) {
		if ((r = ag_msg_recv(fd, -1, &req)) != 0) {
			if (r == UK_ERR_IO)
				r = 0; /* the front has gone */
			else
				uk_log_err(r,
				    "worker: malformed request; "
				    "leaving");
			break;
		}
		r = ag_worker_handle(t, pin_in_request, req, &resp);
		ag_msg_free(req);
		req = NULL;
		if (r != 0)
			break;
		r = ag_msg_send(fd, resp);
		ag_msg_free(resp);
		resp = NULL;
		/* The attempt's outcome goes to disk once the answer is on its
		 * way; the next request waits for it. */
		(void)ag_tokop_flush(t);
		if (r != 0) {
			r = 0; /* the front has gone */
			break;
		}
	}
	ag_msg_free(req);
	ag_msg_free(resp);
	return r;
}

/* --- in the HTTP front --- */

struct ag_worker {
	pthread_mutex_t lock;
	int busy;
	char *exe;
	char *config;
	int timeout_ms;
	int fd;
	pid_t pid;
	int stopping; /* ag_worker_cancel was called */
	int reload;   /* a UKey came or went since the last call */
};

static int
stopping(struct ag_worker *w)
{
	int s;

	pthread_mutex_lock(&w->lock);
	s = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return s;
}

static void
pid_set(struct ag_worker *w, pid_t pid)
{
	pthread_mutex_lock(&w->lock);
	w->pid = pid;
	pthread_mutex_unlock(&w->lock);
}

/* Kills and reaps the worker, closes our end. */
static void
worker_stop(struct ag_worker *w, int gently)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pid_t pid = w->pid;
	int st, i, fd;

	/* Taken out under the lock: ag_worker_cancel never shuts down a
	 * descriptor number that was closed and reused. */
	pthread_mutex_lock(&w->lock);
	fd = w->fd;
	w->fd = -1;
	pthread_mutex_unlock(&w->lock);
	if (fd >= 0)
		close(fd);
	if (pid <= 0)
		return;
	/* Without its socket the worker leaves by itself. */
	for (i = 0; gently && i < 200; i++) {
		pid_t p = waitpid(pid, &st, WNOHANG);
		if (p == pid || (p < 0 && errno != EINTR)) {
			pid_set(w, -1);
			return;
		}
		nanosleep(&ts, NULL);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	pid_set(w, -1);
}

static int
worker_start(struct ag_worker *w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int sv[2] = { -1, -1 }, r = UK_ERR_TOKEN_MODULE, e;
	int fa_ok = 0, attr_ok = 0;
	char *argv[6];
	sigset_t none, def;
	size_t a = 0;
	pid_t pid = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		uk_log_err(r, "socketpair: %s", strerror(errno));
		goto out;
	}
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	fa_ok = 1;
	if (posix_spawnattr_init(&attr) != 0)
		goto out;
	attr_ok = 1;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGCHLD);
	if (posix_spawn_file_actions_adddup2(&fa, sv[1], 3) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
	    posix_spawnattr_setflags(&attr,
	        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
		goto out;
	argv[a++] = (char *)"ukey-agent";
	if (w->config != NULL) {
		argv[a++] = (char *)"-c";
		argv[a++] = w->config;
	}
	argv[a++] = (char *)"__worker";
	argv[a] = NULL;
	if ((e = posix_spawn(&pid, w->exe, &fa, &attr, argv, environ)) != 0) {
		uk_log_err(r, "cannot start the token worker %s: %s", w->exe,
		    strerror(e));
		goto out;
	}
	pthread_mutex_lock(&w->lock);
	w->pid = pid;
	w->fd = sv[0];
	pthread_mutex_unlock(&w->lock);
	sv[0] = -1;
	uk_log(UK_LOG_INFO, "token worker started (pid %ld)", (long)pid);
	r = 0;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

int
ag_worker_new(const char *exe, const char *config, int timeout_ms,
    struct ag_worker **out)
{
	struct ag_worker *w = NULL;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	w->fd = -1;
	w->pid = -1;
	w->timeout_ms = timeout_ms;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		w = NULL;
		goto out;
	}
	if ((w->exe = strdup(exe)) == NULL ||
	    (config != NULL && (w->config = strdup(config)) == NULL))
		goto out;
	if ((r = worker_start(w)) != 0)
		goto out;
	*out = w;
	w = NULL; /* transferred */
	r = 0;
out:
	ag_worker_free(w);
	return r;
}

void
ag_worker_free(struct ag_worker *w)
{
	if (w == NULL)
		return;
	worker_stop(w, 1);
	pthread_mutex_destroy(&w->lock);
	free(w->exe);
	free(w->config);
	free(w);
}

int
ag_worker_begin(struct ag_worker *w)
{
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->busy)
		r = UK_ERR_TOKEN_BUSY;
	else
		w->busy = 1;
	pthread_mutex_unlock(&w->lock);
	return r;
}

void
ag_worker_end(struct ag_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->busy = 0;
	pthread_mutex_unlock(&w->lock);
}

int
ag_worker_busy(struct ag_worker *w)
{
	int b;

	pthread_mutex_lock(&w->lock);
	b = w->busy;
	pthread_mutex_unlock(&w->lock);
	return b;
}

void
ag_worker_hint_reload(struct ag_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->reload = 1;
	pthread_mutex_unlock(&w->lock);
}

void
ag_worker_cancel(struct ag_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	if (w->fd >= 0)
		(void)shutdown(w->fd, SHUT_RDWR);
	if (w->pid > 0)
		(void)kill(w->pid, SIGTERM);
	pthread_mutex_unlock(&w->lock);
}

pid_t
ag_worker_pid(struct ag_worker *w)
{
	pid_t p;

	pthread_mutex_lock(&w->lock);
	p = w->pid;
	pthread_mutex_unlock(&w->lock);
	return p;
}

static int
take_reload(struct ag_worker *w)
{
	int v;

	pthread_mutex_lock(&w->lock);
	v = w->reload;
	w->reload = 0;
	pthread_mutex_unlock(&w->lock);
	return v;
}

static int
call(struct ag_worker *w, const struct ag_msg *req, struct ag_msg **resp);

/* Has the worker rebuild its PKCS#11 context before the next request. */
static int
reload(struct ag_worker *w)
{
	struct ag_msg *req, *resp = NULL;
	int r;

	if ((req = ag_msg_new(AG_MSG_RELOAD)) == NULL)
		return UK_ERR_NOMEM;
	r = call(w, req, &resp);
	ag_msg_free(req);
	ag_msg_free(resp);
	return r;
}

int
ag_worker_call(struct ag_worker *w, const struct ag_msg *req,
    struct ag_msg **resp)
{
	int r;

	*resp = NULL;
	if (stopping(w))
		return UK_ERR_TOKEN_MODULE;
	if (take_reload(w) && (r = reload(w)) != 0)
		return r;
	return call(w, req, resp);
}

static int
call(struct ag_worker *w, const struct ag_msg *req, struct ag_msg **resp)
{
	struct ag_msg *m = NULL;
	int r, tries;

	*resp = NULL;
	if (stopping(w))
		return UK_ERR_TOKEN_MODULE;
	/* Not delivered: nothing happened, so sending again is safe. */
	for (tries = 0; tries < 2; tries++) {
		if (w->fd < 0 && (r = worker_start(w)) != 0)
			return r;
		if ((r = ag_msg_send(w->fd, req)) == 0)
			break;
		uk_log(UK_LOG_WARN,
		    "token worker gone before the request; "
		    "starting it again");
		worker_stop(w, 0);
	}
	if (r != 0)
		return UK_ERR_TOKEN_MODULE;
	r = ag_msg_recv(w->fd, w->timeout_ms, &m);
	if (r == 0 && ag_msg_type(m) != AG_MSG_RESULT)
		r = UK_ERR_INPUT;
	if (r != 0) {
		uk_log_err(UK_ERR_TOKEN_MODULE,
		    "token worker (pid %ld) %s; starting it again",
		    (long)w->pid,
		    r == UK_ERR_TIMEOUT ? "did not answer in time"
		                        : "died or answered nonsense");
		worker_stop(w, 0);
		if (!stopping(w))
			(void)worker_start(w);
		ag_msg_free(m);
		return r == UK_ERR_TIMEOUT ? UK_ERR_TIMEOUT
		                           : UK_ERR_TOKEN_MODULE;
	}
	*resp = m;
	return 0;
}
