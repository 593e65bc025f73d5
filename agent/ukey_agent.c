/* agent/ukey_agent.c: ukey-agent: start-up, configuration, dispatch, the server (serve), its token worker and card events processes, doctor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/api.h"
#include "agent/conf.h"
#include "agent/errinfo.h"
#include "agent/evq.h"
#include "agent/guard.h"
#include "agent/http.h"
#include "agent/ipc.h"
#include "agent/request.h"
#include "agent/tokop.h"
#include "agent/doctor.h"
#include "agent/events.h"
#include "agent/ukey_agent.h"
#include "agent/worker.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"

extern char **environ;

/* Seconds the token worker may take beyond the PIN dialog's timeout. */
#define WORKER_SLACK_S 90
/* Events kept for late readers of /v1/events. */
#define EVQ_CAP 64

static int cmd_serve(struct ukag_ctx *ctx, int argc, char **argv);
static int cmd_doctor(struct ukag_ctx *ctx, int argc, char **argv);
static int cmd_worker(struct ukag_ctx *ctx, int argc, char **argv);
static int cmd_events(struct ukag_ctx *ctx, int argc, char **argv);

static const struct {
	const char *name;
	ukag_cmd_fn fn;
	const char *summary; /* NULL: hidden (internal) */
} commands[] = {
	{ "serve", cmd_serve, "run the local API on 127.0.0.1 and ::1" },
	{ "status", ukag_cmd_status, "the agent, the module and PIN states" },
	{ "list", ukag_cmd_list, "tokens and certificates" },
	{ "doctor", cmd_doctor, "check why a UKey login fails" },
	{ "authenticate", ukag_cmd_authenticate,
	    "sign a login challenge, print the token" },
	{ "unlock", ukag_cmd_unlock, "unblock a locked PIN with the SO PIN" },
	{ "change-pin", ukag_cmd_change_pin, "change a UKey's PIN" },
	{ "__worker", cmd_worker, NULL },
	{ "__events", cmd_events, NULL },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: ukey-agent [-c FILE] COMMAND [OPTIONS]\n"
	    "       ukey-agent COMMAND --help\n\n"
	    "  -c, --config FILE   configuration ([agent] section; default "
	    "%s)\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n\n"
	    "commands:\n",
	    AG_CONFIG_DEFAULT);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].summary != NULL)
			fprintf(f, "  %-13s %s\n", commands[i].name,
			    commands[i].summary);
	}
	fprintf(f, "\nSee ukey-agent(1).\n");
}

int
ukag_fail(int code, const json_t *pin, const char *detail)
{
	const struct uk_error_info *e = ag_error_info(code);
	char zh[256];
	json_t *v;

	ag_error_message(code, 0, pin, zh, sizeof(zh));
	fprintf(stderr, "ukey-agent: error %s: %s%s%s\n", e->id, e->en,
	    detail != NULL && detail[0] != '\0' ? ": " : "",
	    detail != NULL ? detail : "");
	fprintf(stderr, "ukey-agent: %s\n", zh);
	fprintf(stderr, "ukey-agent: %s / %s\n", e->remedy_en, e->remedy_zh);
	if (pin != NULL && (v = json_object_get(pin, "state")) != NULL)
		fprintf(stderr, "ukey-agent: PIN %s, %lld tries left (%s)\n",
		    json_string_value(v),
		    json_integer_value(json_object_get(pin, "retriesLeft")),
		    json_string_value(json_object_get(pin, "source")));
	return code == UK_ERR_USAGE ? UKAG_EXIT_USAGE : UKAG_EXIT_ERROR;
}

/* --- serve --- */

/* The card events process and the thread feeding its events to the
 * queue. */
struct events_link {
	struct ukag_ctx *ctx;
	struct ag_evq *evq;
	struct ag_worker *worker;
	pthread_t thread;
	int running;
	int fd;
	pid_t pid;
	pthread_mutex_t lock;
	int stop;
};

static pid_t
spawn_helper(const struct ukag_ctx *ctx, const char *sub, int fd3)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	char *argv[6];
	size_t a = 0;
	pid_t pid = -1;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	argv[a++] = (char *)"ukey-agent";
	if (ctx->config_path != NULL) {
		argv[a++] = (char *)"-c";
		argv[a++] = (char *)ctx->config_path;
	}
	argv[a++] = (char *)sub;
	argv[a] = NULL;
	if (posix_spawn_file_actions_adddup2(&fa, fd3, 3) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
	    posix_spawnattr_setflags(&attr,
	        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawn(&pid, ctx->exe, &fa, &attr, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return pid;
}

/* Reads events from the events process and queues them; starts the
 * process again (at most every 5 s) when it goes. */
static void *
events_reader(void *arg)
{
	struct events_link *l = arg;
	struct ag_msg *m = NULL;
	const char *js;
	json_t *j, *t;
	char *compact;
	int sv[2], st, r, stop;

	for (;;) {
		pthread_mutex_lock(&l->lock);
		stop = l->stop;
		pthread_mutex_unlock(&l->lock);
		if (stop)
			break;
		if (l->fd < 0) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			        sv) != 0)
				break;
			pthread_mutex_lock(&l->lock);
			l->pid = spawn_helper(l->ctx, "__events", sv[1]);
			pthread_mutex_unlock(&l->lock);
			close(sv[1]);
			if (l->pid < 0) {
				close(sv[0]);
				uk_log(UK_LOG_WARN, "card events unavailable");
				break;
			}
			l->fd = sv[0];
		}
		r = ag_msg_recv(l->fd, 1000, &m);
		if (r == UK_ERR_TIMEOUT)
			continue;
		if (r != 0) {
			/* The process went (or spoke nonsense): reap it,
			 * wait, start again. */
			if (r != UK_ERR_IO)
				uk_log(UK_LOG_WARN,
				    "card events: bad message "
				    "(%s); restarting them",
				    ag_error_info(r)->id);
			close(l->fd);
			l->fd = -1;
			pthread_mutex_lock(&l->lock);
			st = 0;
			if (l->pid > 0)
				while (waitpid(l->pid, &st, 0) < 0 &&
				    errno == EINTR)
					;
			l->pid = -1;
			if (WIFSIGNALED(st))
				uk_log(UK_LOG_WARN,
				    "card events process died "
				    "of signal %d",
				    WTERMSIG(st));
			stop = l->stop;
			pthread_mutex_unlock(&l->lock);
			if (stop)
				break;
			uk_log(UK_LOG_WARN,
			    "card events process ended; "
			    "starting it again in 5 s");
			for (st = 0; st < 50; st++) {
				struct timespec ts = { 0, 100 * 1000 * 1000 };
				pthread_mutex_lock(&l->lock);
				stop = l->stop;
				pthread_mutex_unlock(&l->lock);
				if (stop)
					break;
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (ag_msg_type(m) == AG_MSG_EVENT &&
		    (js = ag_msg_str(m, AG_T_JSON)) != NULL &&
		    (j = json_loads(js, 0, NULL)) != NULL) {
			t = json_object_get(j, "type");
			if (!json_is_string(t))
				t = json_object_get(j, "event");
			if (json_is_object(j) && json_is_string(t) &&
			    (compact = json_dumps(j, JSON_COMPACT)) != NULL) {
				(void)ag_evq_push(l->evq, json_string_value(t),
				    compact);
				free(compact);
			}
			if (json_is_string(t) &&
			    (strcmp(json_string_value(t), "inserted") == 0 ||
			        strcmp(json_string_value(t), "removed") == 0))
				ag_worker_hint_reload(l->worker);
			json_decref(j);
		}
		ag_msg_free(m);
		m = NULL;
	}
	ag_msg_free(m);
	return NULL;
}

static void
events_link_stop(struct events_link *l)
{
	pid_t pid;
	int st;

	if (!l->running)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pid = l->pid;
	pthread_mutex_unlock(&l->lock);
	if (pid > 0)
		(void)kill(pid, SIGTERM);
	pthread_join(l->thread, NULL);
	if (l->fd >= 0)
		close(l->fd);
	if (l->pid > 0)
		while (waitpid(l->pid, &st, 0) < 0 && errno == EINTR)
			;
	pthread_mutex_destroy(&l->lock);
	l->running = 0;
}

/* What the token worker needs and would otherwise only find out at the
 * first request: its guard directory (fatal), its PIN dialog (a
 * warning). */
static int
preflight_checks(const struct ukag_ctx *ctx)
{
	const char *ps = config_str(ctx->cfg, "agent", "pin_source");
	const char *pe = config_str(ctx->cfg, "agent", "pinentry");
	struct ag_guard *g = NULL;
	char dir[4096];
	int r;

	if ((r = ag_config_state_dir(ctx->cfg, dir, sizeof(dir))) != 0) {
		uk_log_err(r, "no usable state_dir for the lockout guard");
		return r;
	}
	if ((r = ag_guard_new(dir, &g)) != 0)
		return r;
	ag_guard_free(g);
	if (ps != NULL && strcmp(ps, "pinentry") == 0 &&
	    (pe == NULL || pe[0] != '/' || access(pe, X_OK) != 0))
		uk_log(UK_LOG_WARN,
		    "pinentry program %s cannot be run: logins will fail "
		    "with UK-2012 until it is installed",
		    pe != NULL ? pe : "(none)");
	return 0;
}

static int
cmd_serve(struct ukag_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	struct events_link ev;
	struct ag_evq *evq = NULL;
	struct ag_worker *w = NULL;
	struct ag_api *api = NULL;
	struct ag_http *http = NULL;
	struct ag_api_opts ao;
	struct ag_list origins = { NULL, 0 };
	sigset_t set;
	int c, r, sig, timeout;

	memset(&ev, 0, sizeof(ev));
	ev.fd = -1;
	ev.pid = -1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: ukey-agent [-c FILE] serve\n\n"
			       "Runs the local API on 127.0.0.1:PORT and "
			       "[::1]:PORT with a token worker process.\n");
			return UKAG_EXIT_OK;
		}
		return ukag_fail(UK_ERR_USAGE, NULL, "see serve --help");
	}
	if (optind != argc)
		return ukag_fail(UK_ERR_USAGE, NULL,
		    "serve takes no arguments");
	if ((r = ag_config_list(ctx->cfg, "allowed_origins", &origins)) != 0)
		return ukag_fail(r, NULL, NULL);
	if (origins.n == 0)
		uk_log(UK_LOG_WARN,
		    "[agent] allowed_origins is empty: every "
		    "request will be refused");
	if ((r = preflight_checks(ctx)) != 0) {
		ag_list_free(&origins);
		return ukag_fail(r, NULL, "see the log above");
	}
	json_wipe_on_free();
	/* Signals are taken by sigwait below; every thread blocks them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* change-pin and unlock show two PIN dialogs (old or SO PIN, then the
	 * new one), each allowed pinentry_timeout: the worker may take both. */
	timeout = (2 * (int)config_int(ctx->cfg, "agent", "pinentry_timeout") +
	              WORKER_SLACK_S) *
	    1000;
	if ((r = ag_evq_new(EVQ_CAP, &evq)) != 0 ||
	    (r = ag_worker_new(ctx->exe, ctx->config_path, timeout, &w)) != 0)
		goto out;
	memset(&ao, 0, sizeof(ao));
	ao.cfg = ctx->cfg;
	ao.worker = w;
	ao.evq = evq;
	ao.exe = ctx->exe;
	ao.config_path = ctx->config_path;
	if ((r = ag_api_new(&ao, &api)) != 0)
		goto out;
	if ((r = ag_http_start((unsigned int)config_int(ctx->cfg, "agent",
	                           "port"),
	         &origins, api, evq, &http)) != 0)
		goto out;
	ev.ctx = ctx;
	ev.evq = evq;
	ev.worker = w;
	pthread_mutex_init(&ev.lock, NULL);
	if (pthread_create(&ev.thread, NULL, events_reader, &ev) == 0)
		ev.running = 1;
	else
		pthread_mutex_destroy(&ev.lock);
	uk_log(UK_LOG_INFO, "ukey-agent %s serving", AG_VERSION);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			uk_log(UK_LOG_INFO,
			    "SIGHUP: restart the agent to read "
			    "its configuration again");
			continue;
		}
		break;
	}
	uk_log(UK_LOG_INFO, "stopping (signal %d)", sig);
	r = 0;
out:
	if (evq != NULL)
		ag_evq_close(evq);
	/* An operation under way (a PIN dialog) must not hold the stop. */
	if (w != NULL)
		ag_worker_cancel(w);
	ag_http_stop(http);
	events_link_stop(&ev);
	ag_worker_free(w);
	ag_api_free(api);
	ag_evq_free(evq);
	ag_list_free(&origins);
	return r == 0 ? UKAG_EXIT_OK : ukag_fail(r, NULL, NULL);
}

/* --- the token worker --- */

/* Closes every descriptor above 3: the worker holds nothing else. */
static void
close_others(void)
{
	if (close_range(4, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX), fd;
		for (fd = 4; fd < max && fd < 65536; fd++)
			(void)close((int)fd);
	}
}

static int
cmd_worker(struct ukag_ctx *ctx, int argc, char **argv)
{
	struct ag_tokop *t = NULL;
	const char *ps = config_str(ctx->cfg, "agent", "pin_source");
	int req_mode = ps != NULL && strcmp(ps, "request") == 0, r;
	struct stat sb;

	(void)argc;
	(void)argv;
	close_others();
	if (fstat(3, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
		fprintf(stderr,
		    "ukey-agent: __worker is started by "
		    "ukey-agent serve only\n");
		return UKAG_EXIT_USAGE;
	}
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	json_wipe_on_free();
	if ((r = ag_tokop_new(ctx->cfg,
	         req_mode ? AG_ASK_NONE : AG_ASK_PINENTRY, &t)) != 0) {
		uk_log_err(r, "token worker cannot start");
		return UKAG_EXIT_ERROR;
	}
	r = ag_worker_serve(3, t, req_mode);
	ag_tokop_free(t);
	return r == 0 ? UKAG_EXIT_OK : UKAG_EXIT_ERROR;
}

/* --- the card events process --- */

struct events_out {
	pthread_mutex_t lock;
	int fd;
};

static void
events_cb(void *arg, const char *event_json)
{
	struct events_out *eo = arg;
	struct ag_msg *m;

	if (event_json == NULL || (m = ag_msg_new(AG_MSG_EVENT)) == NULL)
		return;
	if (ag_msg_put_str(m, AG_T_JSON, event_json) == 0) {
		pthread_mutex_lock(&eo->lock);
		(void)ag_msg_send(eo->fd, m);
		pthread_mutex_unlock(&eo->lock);
	}
	ag_msg_free(m);
}

/* The configured module when it is on module_allowlist (both resolved),
 * else NULL: card events then come from PC/SC alone. */
static const char *
module_checked(const struct config *cfg)
{
	const char *m = config_str(cfg, "agent", "module");
	struct ag_list l = { NULL, 0 };
	char *rm = NULL, *re;
	size_t i;
	int ok = 0;

	if (m == NULL || m[0] != '/' || (rm = realpath(m, NULL)) == NULL ||
	    ag_config_list(cfg, "module_allowlist", &l) != 0)
		goto out;
	for (i = 0; i < l.n && !ok; i++) {
		if ((re = realpath(l.v[i], NULL)) == NULL)
			continue;
		ok = strcmp(re, rm) == 0;
		free(re);
	}
out:
	if (m != NULL && !ok)
		uk_log(UK_LOG_WARN,
		    "card events: module %s is not on "
		    "module_allowlist; PC/SC events only",
		    m);
	free(rm);
	ag_list_free(&l);
	return ok ? m : NULL;
}

static int
cmd_events(struct ukag_ctx *ctx, int argc, char **argv)
{
	struct events_out eo;
	struct ag_events *ev = NULL;
	struct pollfd pfd;
	struct stat sb;
	sigset_t set;
	int r;

	(void)argc;
	(void)argv;
	close_others();
	if (fstat(3, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
		fprintf(stderr,
		    "ukey-agent: __events is started by "
		    "ukey-agent serve only\n");
		return UKAG_EXIT_USAGE;
	}
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	pthread_mutex_init(&eo.lock, NULL);
	eo.fd = 3;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((r = ag_events_start(&ev, module_checked(ctx->cfg), events_cb,
	         &eo)) != 0) {
		uk_log(UK_LOG_WARN, "card events cannot start (%s)",
		    ag_error_info(r)->id);
		pthread_mutex_destroy(&eo.lock);
		return UKAG_EXIT_ERROR;
	}
	/* Until the server goes (its end closes) or says so. */
	for (;;) {
		struct timespec zero = { 0, 0 };
		if (sigtimedwait(&set, NULL, &zero) > 0)
			break;
		pfd.fd = 3;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 200) > 0 &&
		    (pfd.revents & (POLLHUP | POLLIN | POLLERR)) != 0)
			break;
	}
	ag_events_stop(ev);
	pthread_mutex_destroy(&eo.lock);
	return UKAG_EXIT_OK;
}

/* --- doctor --- */

static int
cmd_doctor(struct ukag_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *gw = config_str(ctx->cfg, "agent", "gateway_url");
	int c, json = 0;

	while ((c = getopt_long(argc, argv, "jg:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'g':
			gw = optarg;
			break;
		case 'h':
			printf("usage: ukey-agent [-c FILE] doctor [--json] "
			       "[--gateway URL]\n\n"
			       "Checks reader, UKey, module, PIN state, "
			       "certificate, port, origins and clock,\n"
			       "each PASS, WARN or FAIL with what to do.\n");
			return UKAG_EXIT_OK;
		default:
			return ukag_fail(UK_ERR_USAGE, NULL,
			    "see doctor --help");
		}
	}
	if (optind != argc)
		return ukag_fail(UK_ERR_USAGE, NULL,
		    "doctor takes no arguments");
	return ag_doctor_run(ctx->cfg, gw, json, stdout) == 0 ? UKAG_EXIT_OK
	                                                      : UKAG_EXIT_ERROR;
}

/* --- main --- */

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ukag_ctx ctx;
	enum uk_log_level lvl;
	char err[512], *cfgpath = NULL;
	const char *given = NULL;
	struct stat sb;
	size_t i;
	int c, r, status;

	memset(&ctx, 0, sizeof(ctx));
	uk_log_init("ukey-agent", UK_LOG_INFO);
	/* Start-up: this process may hold PINs. */
	if (secret_harden_process() != 0) {
		fprintf(stderr,
		    "ukey-agent: cannot make the process "
		    "non-dumpable\n");
		return UKAG_EXIT_ERROR;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGXFSZ, SIG_IGN); /* a full file gives EFBIG, not death */
	umask(077);
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			given = optarg;
			break;
		case 'h':
			usage(stdout);
			return UKAG_EXIT_OK;
		case 'V':
			printf("ukey-agent %s\n", AG_VERSION);
			return UKAG_EXIT_OK;
		default:
			usage(stderr);
			return UKAG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return UKAG_EXIT_USAGE;
	}
	/* The worker and event processes are this very program, run again
	 * through /proc/self/exe: the same image even when the file was
	 * replaced or removed meanwhile (an upgrade), so server and worker
	 * always speak the same protocol. */
	if (access("/proc/self/exe", X_OK) != 0) {
		fprintf(stderr,
		    "ukey-agent: cannot find its own program "
		    "(/proc/self/exe)\n");
		return UKAG_EXIT_ERROR;
	}
	ctx.exe = "/proc/self/exe";
	/* -c, else the default file when there is one, else defaults. */
	if (given == NULL && stat(AG_CONFIG_DEFAULT, &sb) == 0)
		given = AG_CONFIG_DEFAULT;
	if (given != NULL && (cfgpath = realpath(given, NULL)) == NULL) {
		snprintf(err, sizeof(err), "%s: %s", given, strerror(errno));
		return ukag_fail(UK_ERR_IO, NULL, err);
	}
	ctx.config_path = cfgpath;
	err[0] = '\0';
	if ((r = ag_config_load(cfgpath, &ctx.cfg, err, sizeof(err))) != 0) {
		status = ukag_fail(r, NULL, err);
		free(cfgpath);
		return status;
	}
	if (uk_log_level_parse(config_str(ctx.cfg, "agent", "log_level"),
	        &lvl) == 0)
		uk_log_init("ukey-agent", lvl);
	status = -1;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, argv[optind]) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* the subcommand's own options */
			status = commands[i].fn(&ctx, sub_argc, sub_argv);
			break;
		}
	}
	if (status < 0) {
		fprintf(stderr, "ukey-agent: unknown command %s\n",
		    argv[optind]);
		usage(stderr);
		status = UKAG_EXIT_USAGE;
	}
	config_free(ctx.cfg);
	free(cfgpath);
	return status;
}
