/* gateway/ukey_gateway.c: ukey-gateway: command line, configuration, serve (signals, clean shutdown), admin, audit verify, check-config. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/admin.h"
#include "gateway/conf.h"
#include "gateway/policy.h"
#include "gateway/routes_reset.h"
#include "gateway/server.h"
#include "gateway/session.h"
#include "gateway/sms.h"
#include "gateway/static.h"

#define GW_VERSION "0.1.0"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ukey-gateway [-c FILE] serve [--test-clock]\n"
	    "       ukey-gateway [-c FILE] admin unit|operator|staff ... "
	    "(admin --help)\n"
	    "       ukey-gateway [-c FILE] audit verify\n"
	    "       ukey-gateway [-c FILE] check-config\n\n"
	    "  -c, --config FILE   configuration (default %s)\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n\n"
	    "commands:\n"
	    "  serve          run the gateway\n"
	    "  admin          units, operators, staff, certificate bindings\n"
	    "  audit verify   check the audit trail's hash chain\n"
	    "  check-config   check the configuration and routes; print "
	    "them\n\nSee ukey-gateway(8).\n",
	    GW_CONFIG_DEFAULT);
}

static int
fail(int code, const char *detail)
{
	if (detail != NULL && detail[0] != '\0')
		uk_cli_error(code, "%s", detail);
	else
		uk_cli_error(code, NULL);
	return code == UK_ERR_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

/* UKEY_TEST_NOW: a signed decimal number of seconds. */
static int
test_offset(int64_t *out)
{
	const char *v = getenv("UKEY_TEST_NOW");
	long long n;
	char *end;

	*out = 0;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < -3153600000LL ||
	    n > 3153600000LL)
		return UK_ERR_CONFIG_VALUE;
	*out = (int64_t)n;
	return 0;
}

/*
 * The SMS sender for [reset] (NULL when it is off): its own thread and
 * store connection, the provider from [sms]. The claim lease outlasts the
 * provider's timeout, so that a slow send is never claimed twice.
 * Returns 0 or an error code (logged, without secrets).
 */
static int
sms_start(const struct config *cfg, struct gw_sms_sender **out)
{
	struct gw_sms_sender_conf sc;
	long long tmo;
	int r;

	*out = NULL;
	if (!config_bool(cfg, "reset", "enabled"))
		return 0;
	memset(&sc, 0, sizeof(sc));
	sc.store = config_str(cfg, "gateway", "store");
	sc.provider.kind = config_str(cfg, "sms", "provider");
	sc.provider.path = config_str(cfg, "sms", "path");
	sc.provider.url = config_str(cfg, "sms", "url");
	sc.provider.key_id = config_str(cfg, "sms", "key_id");
	sc.provider.secret = config_secret(cfg, "sms", "secret");
	sc.provider.sign_name = config_str(cfg, "sms", "sign_name");
	sc.provider.app_id = config_str(cfg, "sms", "app_id");
	sc.provider.region = config_str(cfg, "sms", "region");
	sc.provider.tpl_code = config_str(cfg, "sms", "tpl_code");
	sc.provider.tpl_notice = config_str(cfg, "sms", "tpl_notice");
	tmo = config_int(cfg, "sms", "timeout_ms");
	sc.provider.timeout_ms = (long)tmo;
	sc.send.lease = (int)(tmo / 1000 + 30 > 60 ? tmo / 1000 + 30 : 60);
	if ((r = gw_sms_sender_new(&sc, out)) != 0) {
		uk_log(UK_LOG_ERROR, "sms sender (provider %s) not started: %s",
		    sc.provider.kind != NULL ? sc.provider.kind : "file",
		    uk_error_id(r));
		return r;
	}
	uk_log(UK_LOG_INFO, "sms sender started (provider %s)",
	    sc.provider.kind != NULL ? sc.provider.kind : "file");
	return 0;
}

/* The pages: [gateway] web_root, else web/ of the source tree this program
 * was built in (build/bin/../../web: running from a checkout, as make demo
 * does), else /usr/share/ukeygate/web. No folder at all is not an error
 * when web_root is unset: the pages are then answered 404. */
static int
web_load(const struct config *cfg)
{
	const char *root = config_str(cfg, "gateway", "web_root");
	char exe[PATH_MAX], cand[PATH_MAX + 16], *slash;
	struct stat sb;
	ssize_t n;

	if (root != NULL)
		return gw_static_init(root);
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(cand, sizeof(cand), "%s/../../web", exe);
			if (stat(cand, &sb) == 0 && S_ISDIR(sb.st_mode))
				return gw_static_init(cand);
		}
	}
	if (stat("/usr/share/ukeygate/web", &sb) == 0 && S_ISDIR(sb.st_mode))
		return gw_static_init("/usr/share/ukeygate/web");
	uk_log(UK_LOG_WARN, "no web_root: the login pages are not served");
	return 0;
}

static int
cmd_serve(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "test-clock", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw_server_opts o;
	struct gw_server *s = NULL;
	struct gw_sms_sender *sms = NULL;
	sigset_t set;
	int c, r, sig = 0, curl = 0;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.test_clock = 1;
			break;
		case 'h':
			printf("usage: ukey-gateway [-c FILE] serve "
			       "[--test-clock]\n\n"
			       "Runs the gateway. --test-clock (tests only) "
			       "adds UKEY_TEST_NOW seconds to the clock.\n");
			return EXIT_OK;
		default:
			return fail(UK_ERR_USAGE, "see serve --help");
		}
	}
	if (optind != argc)
		return fail(UK_ERR_USAGE, "serve takes no arguments");
	if (o.test_clock) {
		if (test_offset(&o.clock_offset) != 0)
			return fail(UK_ERR_CONFIG_VALUE,
			    "UKEY_TEST_NOW must be a number of seconds");
		uk_log(UK_LOG_WARN,
		    "test clock: %lld seconds added to the time; never in "
		    "production",
		    (long long)o.clock_offset);
	}
	/* Signals are taken by sigwait below; every thread blocks them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* Once, before any thread: the proxy and the SMS providers use
	 * libcurl. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = UK_ERR_INTERNAL;
		uk_log(UK_LOG_ERROR, "curl_global_init failed");
		goto out;
	}
	curl = 1;
	if ((r = web_load(cfg)) != 0)
		goto out;
	if ((r = gw_server_new(cfg, &o, &s)) != 0)
		goto out;
	if ((r = sms_start(cfg, &sms)) != 0)
		goto out;
	gw_reset_routes_sender(sms);
	if ((r = gw_server_start(s)) != 0)
		goto out;
	uk_log(UK_LOG_INFO, "ukey-gateway %s serving %s (pid %ld)", GW_VERSION,
	    s->origin, (long)getpid());
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			uk_log(UK_LOG_INFO,
			    "SIGHUP: restart the gateway to read its "
			    "configuration again");
			continue;
		}
		break;
	}
	uk_log(UK_LOG_INFO, "stopping (signal %d)", sig);
	r = 0;
out:
	/* Requests first (none may wake the sender afterwards), then the
	 * sender (a send under way finishes). */
	gw_server_free(s);
	gw_reset_routes_sender(NULL);
	gw_sms_sender_free(sms);
	gw_static_free();
	if (curl)
		curl_global_cleanup();
	if (r == 0)
		uk_log(UK_LOG_INFO, "stopped");
	return r == 0 ? EXIT_OK : fail(r, "see the log above");
}

/* "cli:<unix user>" */
static void
cli_actor(char *out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		snprintf(out, size, "cli:%s", res->pw_name);
	else
		snprintf(out, size, "cli:uid%ld", (long)getuid());
}

static int
open_store(const struct config *cfg, struct store **st)
{
	int r;

	if ((r = store_open(config_str(cfg, "gateway", "store"), st)) != 0)
		return fail(r, store_last_error(NULL));
	return 0;
}

static int
cmd_admin(const struct config *cfg, int argc, char **argv)
{
	struct store *st = NULL;
	char actor[128];
	int r;

	if (open_store(cfg, &st) != 0)
		return EXIT_FAIL;
	cli_actor(actor, sizeof(actor));
	optind = 0;
	r = gw_admin_main(st, actor, argc - 1, argv + 1, stdout, stderr);
	store_close(st);
	return r;
}

static int
cmd_audit(const struct config *cfg, int argc, char **argv)
{
	struct store *st = NULL;
	int r;

	if (argc != 2 || strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "usage: ukey-gateway [-c FILE] audit verify\n");
		return EXIT_USAGE;
	}
	if (open_store(cfg, &st) != 0)
		return EXIT_FAIL;
	r = gw_audit_verify_main(st, stdout, stderr);
	store_close(st);
	return r;
}

static int
cmd_check_config(const struct config *cfg, const char *path)
{
	struct gw_policy *p = NULL;
	char err[512], loc[1024];
	int r;

	err[0] = '\0';
	if ((r = gw_policy_load(config_str(cfg, "proxy", "routes"), &p, err,
	         sizeof(err))) != 0)
		return fail(r, err);
	printf("# %s: configuration valid; %zu route rules\n", path,
	    gw_policy_count(p));
	gw_policy_free(p);
	/* The store location may hold a password: shown redacted. */
	(void)store_location_redact(config_str(cfg, "gateway", "store"), loc,
	    sizeof(loc));
	printf("# store: %s\n", loc);
	config_dump(cfg, stdout);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg = NULL;
	enum uk_log_level lvl;
	const char *path = NULL, *cmd;
	char err[512];
	int c, r, status = EXIT_FAIL;

	uk_log_init("ukey-gateway", UK_LOG_INFO);
	/* Start-up: this process handles passwords and keys. */
	if (secret_harden_process() != 0) {
		fprintf(stderr,
		    "ukey-gateway: cannot make the process non-dumpable\n");
		return EXIT_FAIL;
	}
	/* Passwords, reset codes and tokens pass through jansson's buffers:
	 * every block it frees is wiped. */
	json_wipe_on_free();
	(void)signal(SIGPIPE, SIG_IGN);
	umask(077);
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("ukey-gateway %s\n", GW_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "admin") != 0 &&
	    strcmp(cmd, "audit") != 0 && strcmp(cmd, "check-config") != 0) {
		fprintf(stderr, "ukey-gateway: unknown command %s\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (path == NULL)
		path = GW_CONFIG_DEFAULT;
	err[0] = '\0';
	if ((r = gw_conf_load(path, &cfg, err, sizeof(err))) != 0)
		return fail(r, err);
	if (uk_log_level_parse(config_str(cfg, "gateway", "log_level"), &lvl) ==
	    0)
		uk_log_init("ukey-gateway", lvl);
	argc -= optind;
	argv += optind;
	optind = 0; /* the command's own options */
	if (strcmp(cmd, "serve") == 0)
		status = cmd_serve(cfg, argc, argv);
	else if (strcmp(cmd, "admin") == 0)
		status = cmd_admin(cfg, argc, argv);
	else if (strcmp(cmd, "audit") == 0)
		status = cmd_audit(cfg, argc, argv);
	else
		status = cmd_check_config(cfg, path);
	config_free(cfg);
	return status;
}
