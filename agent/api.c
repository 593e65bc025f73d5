/* agent/api.c: the agent's endpoints: routes, JSON answers, calls to the token worker, diagnostics. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent/api.h"
#include "agent/conf.h"
#include "agent/errinfo.h"
#include "agent/ipc.h"
#include "agent/request.h"
#include "common/errors.h"
#include "common/log.h"

extern char **environ;

/* Most output taken from doctor, and how long it may run. */
#define DIAG_MAX (64 * 1024)
#define DIAG_TIMEOUT_MS 60000

struct ag_api {
	struct ag_api_opts o;
	int counter_mode;
	int pin_in_request;
	pthread_mutex_t lock; /* status cache, diagnostics */
	char *status_cache;   /* last "tokens" array of a status answer */
	int diag_running;
};

enum handler_id {
	H_STATUS = 1,
	H_CERTS,
	H_AUTH,
	H_EVENTS,
	H_DIAG,
	H_ENROLL,
	H_INSTALL,
	H_UNLOCK,
	H_CHANGE,
};

static const struct route {
	const char *path;
	const char *method;
	enum ag_route_kind kind;
	enum handler_id h;
	int counter;
} routes[] = {
	{ "/v1/status", "GET", AG_ROUTE_GET, H_STATUS, 0 },
	{ "/v1/certificates", "GET", AG_ROUTE_GET, H_CERTS, 0 },
	{ "/v1/authenticate", "POST", AG_ROUTE_POST, H_AUTH, 0 },
	{ "/v1/events", "GET", AG_ROUTE_EVENTS, H_EVENTS, 0 },
	{ "/v1/diagnostics", "GET", AG_ROUTE_GET, H_DIAG, 0 },
	{ "/v1/enroll", "POST", AG_ROUTE_POST, H_ENROLL, 1 },
	{ "/v1/certificate", "POST", AG_ROUTE_POST, H_INSTALL, 1 },
	{ "/v1/unlock", "POST", AG_ROUTE_POST, H_UNLOCK, 1 },
	{ "/v1/change-pin", "POST", AG_ROUTE_POST, H_CHANGE, 1 },
};

int
ag_api_new(const struct ag_api_opts *o, struct ag_api **out)
{
	struct ag_api *api;
	const char *ps;

	*out = NULL;
	if ((api = calloc(1, sizeof(*api))) == NULL)
		return UK_ERR_NOMEM;
	api->o = *o;
	api->counter_mode = config_bool(o->cfg, "agent", "counter_mode");
	ps = config_str(o->cfg, "agent", "pin_source");
	api->pin_in_request = ps != NULL && strcmp(ps, "request") == 0;
	pthread_mutex_init(&api->lock, NULL);
	*out = api;
	return 0;
}

void
ag_api_free(struct ag_api *api)
{
	if (api == NULL)
		return;
	pthread_mutex_destroy(&api->lock);
	free(api->status_cache);
	free(api);
}

static const struct route *
route_find(const struct ag_api *api, const char *path, int *found_path)
{
	size_t i;

	*found_path = 0;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		if (routes[i].counter && !api->counter_mode)
			continue;
		*found_path = 1;
		return &routes[i];
	}
	return NULL;
}

int
ag_api_route(const struct ag_api *api, const char *method, const char *path,
    enum ag_route_kind *kind, const char **allow)
{
	const struct route *rt;
	int found;

	*allow = NULL;
	if ((rt = route_find(api, path, &found)) == NULL)
		return 404;
	if (strcmp(rt->method, method) != 0) {
		*allow = rt->method;
		return 405;
	}
	*kind = rt->kind;
	return 0;
}

void
ag_api_error(int code, int en, const json_t *pin, struct ag_api_resp *resp)
{
	const struct uk_error_info *e = ag_error_info(code);
	char ev[17], msg[256];

	ag_event_id(ev);
	ag_error_message(code, en, pin, msg, sizeof(msg));
	uk_log(code >= 1000 && code < 1100 && code != UK_ERR_CANCELLED
	        ? UK_LOG_ERROR
	        : UK_LOG_WARN,
	    "event=%s %s %s: %s", ev, e->id, e->name, e->en);
	resp->status = (unsigned int)e->http_status;
	if ((resp->body = ag_error_body(code, en, ev, pin)) == NULL) {
		resp->status = 500;
		resp->body = strdup("{\"error\":{\"code\":\"UK-1002\"}}");
	}
}

static void
set_body(struct ag_api_resp *resp, json_t *o)
{
	resp->status = 200;
	if (o == NULL || (resp->body = json_dumps(o, JSON_COMPACT)) == NULL)
		ag_api_error(UK_ERR_NOMEM, 0, NULL, resp);
	json_decref(o);
}

/* Pushes a pin-state event for the answer's token. */
static void
pin_event(struct ag_api *api, const char *serial, json_t *pin)
{
	json_t *ev;
	char *s;

	if (api->o.evq == NULL || serial == NULL || pin == NULL)
		return;
	ev = json_pack("{s:s,s:s,s:O}", "type", "pin-state", "token", serial,
	    "pin", pin);
	if (ev == NULL)
		return;
	if ((s = json_dumps(ev, JSON_COMPACT)) != NULL)
		(void)ag_evq_push(api->o.evq, "pin-state", s);
	free(s);
	json_decref(ev);
}

/*
 * Sends req to the worker (claimed by the caller) and turns the result
 * into resp. A successful body is handed out in *body (new reference)
 * when body is not NULL, else written into resp.
 */
static void
worker_answer(struct ag_api *api, const struct ag_msg *req, int en, int pin_op,
    struct ag_api_resp *resp, json_t **body)
{
	struct ag_msg *m = NULL;
	json_t *pin = NULL, *b = NULL;
	const char *bs, *ps, *serial;
	uint32_t code = 0;
	int r;

	if (body != NULL)
		*body = NULL;
	if ((r = ag_worker_call(api->o.worker, req, &m)) != 0) {
		ag_api_error(r, en, NULL, resp);
		goto out;
	}
	if (ag_msg_u32(m, AG_T_CODE, &code) != 0) {
		ag_api_error(UK_ERR_INTERNAL, en, NULL, resp);
		goto out;
	}
	if ((ps = ag_msg_str(m, AG_T_PINSTATE)) != NULL)
		pin = json_loads(ps, 0, NULL);
	serial = ag_msg_str(m, AG_T_SERIAL);
	if (pin_op)
		pin_event(api, serial, pin);
	if (code != 0) {
		ag_api_error((int)code, en, pin, resp);
		goto out;
	}
	if ((bs = ag_msg_str(m, AG_T_BODY)) == NULL ||
	    (b = json_loads(bs, 0, NULL)) == NULL) {
		ag_api_error(UK_ERR_INTERNAL, en, NULL, resp);
		goto out;
	}
	if (body != NULL) {
		*body = b;
		b = NULL; /* transferred */
		resp->status = 200;
		goto out;
	}
	set_body(resp, b);
	b = NULL;
out:
	json_decref(pin);
	json_decref(b);
	ag_msg_free(m);
}

/* Claims the worker and runs req; BUSY when another operation runs. */
static void
worker_op(struct ag_api *api, const struct ag_msg *req, int en, int pin_op,
    struct ag_api_resp *resp)
{
	int r;

	if ((r = ag_worker_begin(api->o.worker)) != 0) {
		ag_api_error(r, en, NULL, resp);
		return;
	}
	worker_answer(api, req, en, pin_op, resp, NULL);
	ag_worker_end(api->o.worker);
}

static void
h_status(struct ag_api *api, int en, struct ag_api_resp *resp)
{
	struct ag_msg *req = NULL;
	json_t *o = NULL, *b = NULL, *toks = NULL, *mod;
	int busy = 0;

	if (ag_worker_begin(api->o.worker) != 0) {
		busy = 1;
	} else {
		if ((req = ag_msg_new(AG_MSG_STATUS)) != NULL) {
			worker_answer(api, req, en, 0, resp, &b);
		} else {
			resp->status = 500;
		}
		ag_worker_end(api->o.worker);
		ag_msg_free(req);
	}
	if (!busy && b == NULL) {
		/* The module failed to load, or the token could not be
		 * read: still an answer about the agent. */
		json_t *err =
		    resp->body != NULL ? json_loads(resp->body, 0, NULL) : NULL;
		json_t *e = err != NULL ? json_object_get(err, "error") : NULL;
		const char *id = json_string_value(json_object_get(e, "code"));
		int loaded = id != NULL && strcmp(id, "UK-2001") != 0 &&
		    strcmp(id, "UK-2008") != 0;
		mod = json_pack("{s:b,s:O*}", "loaded", loaded, "error", e);
		json_decref(err);
		toks = json_array();
	} else if (busy) {
		pthread_mutex_lock(&api->lock);
		toks = api->status_cache != NULL
		    ? json_loads(api->status_cache, 0, NULL)
		    : NULL;
		pthread_mutex_unlock(&api->lock);
		if (toks == NULL)
			toks = json_array();
		mod = json_pack("{s:b}", "loaded", 1);
	} else {
		toks = json_incref(json_object_get(b, "tokens"));
		if (toks != NULL) {
			char *s = json_dumps(toks, JSON_COMPACT);
			pthread_mutex_lock(&api->lock);
			free(api->status_cache);
			api->status_cache = s;
			pthread_mutex_unlock(&api->lock);
		}
		mod = json_pack("{s:b}", "loaded", 1);
	}
	free(resp->body);
	resp->body = NULL;
	o = json_pack("{s:s,s:s,s:b,s:b,s:o*,s:o*}", "appVersion",
	    "ukey-agent/" AG_VERSION, "pinSource",
	    api->pin_in_request ? "request" : "pinentry", "counterMode",
	    api->counter_mode, "busy", busy, "module", mod, "tokens", toks);
	json_decref(b);
	set_body(resp, o);
}

/* The language and PIN parts every request message carries. */
static int
msg_common(struct ag_msg *m, int en)
{
	return ag_msg_put_str(m, AG_T_LANG, en ? "en" : "zh");
}

/* Whether the PINs given agree with pin_source: in request mode all
 * that the operation needs are there; in pinentry mode none is. */
static int
pins_ok(const struct ag_api *api, const struct ag_req *q, int needed)
{
	int given =
	    (q->pin != NULL) + (q->new_pin != NULL) + (q->so_pin != NULL);

	return api->pin_in_request ? given == needed : given == 0;
}

static void
h_post(struct ag_api *api, enum handler_id h, const char *origin, int en,
    const char *body, size_t len, struct ag_api_resp *resp)
{
	static const enum ag_req_kind kinds[] = { [H_AUTH] = AG_REQ_AUTH,
		[H_ENROLL] = AG_REQ_ENROLL,
		[H_INSTALL] = AG_REQ_INSTALL,
		[H_UNLOCK] = AG_REQ_UNLOCK,
		[H_CHANGE] = AG_REQ_CHANGE_PIN };
	struct ag_msg *m = NULL;
	struct ag_req q;
	int r, ok, type = 0;

	if ((r = ag_req_parse(kinds[h], body, len, &q)) != 0) {
		ag_api_error(r, en, NULL, resp);
		return;
	}
	switch (h) {
	case H_AUTH:
		type = AG_MSG_AUTH;
		ok = pins_ok(api, &q, 1);
		break;
	case H_ENROLL:
		type = AG_MSG_ENROLL;
		ok = pins_ok(api, &q, 1);
		break;
	case H_INSTALL:
		type = AG_MSG_INSTALL;
		ok = pins_ok(api, &q, 1);
		break;
	case H_UNLOCK:
		type = AG_MSG_UNLOCK;
		ok = pins_ok(api, &q, 2);
		break;
	case H_CHANGE:
	default:
		type = AG_MSG_CHANGE_PIN;
		ok = pins_ok(api, &q, 2);
		break;
	}
	if (!ok) {
		uk_log(UK_LOG_WARN,
		    "PIN fields %s the request, but pin_source "
		    "is %s",
		    api->pin_in_request ? "missing from" : "present in",
		    api->pin_in_request ? "request" : "pinentry");
		ag_api_error(UK_ERR_INPUT, en, NULL, resp);
		goto out;
	}
	r = UK_ERR_NOMEM;
	if ((m = ag_msg_new(type)) == NULL)
		goto fail;
	/* Everything fits unless the body was at the limit already. */
	r = UK_ERR_LIMIT;
	if (msg_common(m, en) != 0)
		goto fail;
	switch (h) {
	case H_AUTH:
		if (ag_msg_put_str(m, AG_T_ORIGIN, origin) != 0 ||
		    ag_msg_put_str(m, AG_T_NONCE, q.nonce) != 0 ||
		    (q.cert[0] != '\0' &&
		        ag_msg_put_str(m, AG_T_CERT, q.cert) != 0))
			goto fail;
		break;
	case H_ENROLL:
		if (ag_msg_put_str(m, AG_T_SUBJECT, q.subject) != 0 ||
		    ag_msg_put_str(m, AG_T_KEY_TYPE, q.key_type) != 0 ||
		    (q.label[0] != '\0' &&
		        ag_msg_put_str(m, AG_T_LABEL, q.label) != 0) ||
		    (q.token[0] != '\0' &&
		        ag_msg_put_str(m, AG_T_SERIAL, q.token) != 0))
			goto fail;
		break;
	case H_INSTALL:
		if (ag_msg_put_str(m, AG_T_CERT, q.cert) != 0 ||
		    ag_msg_put(m, AG_T_DER, q.der, q.der_len) != 0 ||
		    (q.label[0] != '\0' &&
		        ag_msg_put_str(m, AG_T_LABEL, q.label) != 0))
			goto fail;
		break;
	case H_UNLOCK:
	case H_CHANGE:
	default:
		if (q.token[0] != '\0' &&
		    ag_msg_put_str(m, AG_T_SERIAL, q.token) != 0)
			goto fail;
		break;
	}
	if (ag_msg_put_secret(m, AG_T_PIN, q.pin) != 0 ||
	    ag_msg_put_secret(m, AG_T_NEW_PIN, q.new_pin) != 0 ||
	    ag_msg_put_secret(m, AG_T_SO_PIN, q.so_pin) != 0)
		goto fail;
	/* The PINs now live in the message only. */
	secret_free(q.pin);
	secret_free(q.new_pin);
	secret_free(q.so_pin);
	q.pin = q.new_pin = q.so_pin = NULL;
	worker_op(api, m, en, 1, resp);
	goto out;
fail:
	ag_api_error(r, en, NULL, resp);
out:
	ag_msg_free(m);
	ag_req_clear(&q);
}

/* Runs "ukey-agent [-c config] doctor --json" and answers its output. */
static void
h_diag(struct ag_api *api, int en, struct ag_api_resp *resp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int p[2] = { -1, -1 }, fa_ok = 0, attr_ok = 0, st, e, r;
	char *argv[6], *buf = NULL;
	size_t a = 0, len = 0;
	sigset_t none, def;
	struct timespec ts;
	long long deadline;
	pid_t pid = -1;
	json_t *j = NULL;

	pthread_mutex_lock(&api->lock);
	r = api->diag_running ? UK_ERR_TOKEN_BUSY : 0;
	api->diag_running = 1;
	pthread_mutex_unlock(&api->lock);
	if (r != 0) {
		ag_api_error(r, en, NULL, resp);
		return;
	}
	r = UK_ERR_INTERNAL;
	if ((buf = malloc(DIAG_MAX + 1)) == NULL || pipe2(p, O_CLOEXEC) != 0)
		goto out;
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
	if (posix_spawn_file_actions_adddup2(&fa, p[1], 1) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	        0) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
	    posix_spawnattr_setflags(&attr,
	        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
		goto out;
	argv[a++] = (char *)"ukey-agent";
	if (api->o.config_path != NULL) {
		argv[a++] = (char *)"-c";
		argv[a++] = (char *)api->o.config_path;
	}
	argv[a++] = (char *)"doctor";
	argv[a++] = (char *)"--json";
	argv[a] = NULL;
	if ((e = posix_spawn(&pid, api->o.exe, &fa, &attr, argv, environ)) !=
	    0) {
		pid = -1;
		uk_log_err(r, "cannot run doctor: %s", strerror(e));
		goto out;
	}
	close(p[1]);
	p[1] = -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    DIAG_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		long long now;
		ssize_t k;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now >= deadline) {
			r = UK_ERR_TIMEOUT;
			goto out;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			goto out;
		k = read(p[0], buf + len, DIAG_MAX - len);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			goto out;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len >= DIAG_MAX) {
			r = UK_ERR_LIMIT;
			goto out;
		}
	}
	buf[len] = '\0';
	if ((j = json_loadb(buf, len, 0, NULL)) == NULL) {
		uk_log_err(r, "doctor --json did not answer JSON");
		goto out;
	}
	set_body(resp, j);
	j = NULL;
	r = 0;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (pid > 0) {
		if (r != 0)
			(void)kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	free(buf);
	json_decref(j);
	if (r != 0)
		ag_api_error(r, en, NULL, resp);
	pthread_mutex_lock(&api->lock);
	api->diag_running = 0;
	pthread_mutex_unlock(&api->lock);
}

void
ag_api_handle(struct ag_api *api, const char *method, const char *path,
    const char *origin, int en, const char *body, size_t len,
    struct ag_api_resp *resp)
{
	const struct route *rt;
	struct ag_msg *m = NULL;
	int found;

	resp->status = 500;
	resp->body = NULL;
	if ((rt = route_find(api, path, &found)) == NULL ||
	    strcmp(rt->method, method) != 0) {
		ag_api_error(UK_ERR_NOT_FOUND, en, NULL, resp);
		resp->status = 404;
		return;
	}
	switch (rt->h) {
	case H_STATUS:
		h_status(api, en, resp);
		break;
	case H_CERTS:
		if ((m = ag_msg_new(AG_MSG_LIST)) == NULL ||
		    msg_common(m, en) != 0) {
			ag_api_error(UK_ERR_NOMEM, en, NULL, resp);
			break;
		}
		worker_op(api, m, en, 0, resp);
		break;
	case H_DIAG:
		h_diag(api, en, resp);
		break;
	case H_AUTH:
	case H_ENROLL:
	case H_INSTALL:
	case H_UNLOCK:
	case H_CHANGE:
		h_post(api, rt->h, origin, en, body, len, resp);
		break;
	case H_EVENTS:
	default:
		ag_api_error(UK_ERR_NOT_FOUND, en, NULL, resp);
		resp->status = 404;
		break;
	}
	ag_msg_free(m);
	if (resp->body == NULL)
		ag_api_error(UK_ERR_NOMEM, en, NULL, resp);
}
