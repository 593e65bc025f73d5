/* certs/ukey_ca.c: ukey-ca, the counter's CA command: global options, configuration, store and secrets, dispatch. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/ca.h"
#include "certs/ca_profile.h"
#include "certs/ca_conf.h"
#include "certs/ukey_ca.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"

static const struct {
	const char *name;
	ukca_cmd_fn fn;
	const char *summary;
} commands[] = {
	{ "init", ukca_cmd_init, "create the root, issuing and OCSP CA keys" },
	{ "issue", ukca_cmd_issue, "issue a certificate for a CSR" },
	{ "enroll", ukca_cmd_enroll,
	    "generate a key on a UKey, certify it, store it there" },
	{ "revoke", ukca_cmd_revoke, "revoke a certificate" },
	{ "reissue", ukca_cmd_reissue,
	    "revoke (superseded) and issue anew, atomically" },
	{ "list", ukca_cmd_list, "list certificates" },
	{ "show", ukca_cmd_show, "show one certificate" },
	{ "crl", ukca_cmd_crl, "write a new full CRL" },
	{ "export-ca", ukca_cmd_export, "write the CA certificates" },
	{ "ocsp", ukca_cmd_ocsp, "run the OCSP responder" },
	{ "renew-ocsp", ukca_cmd_renew_ocsp,
	    "certify the OCSP signer's key anew" },
	{ "verify", ukca_cmd_verify, "verify a certificate" },
	{ "check-config", ukca_cmd_check_config,
	    "check and print the configuration" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: ukey-ca [-c FILE] [-d DB] COMMAND [OPTIONS]\n"
	    "       ukey-ca COMMAND --help\n\n"
	    "  -c, --config FILE   configuration file ([ca] section)\n"
	    "  -d, --database DB   store: file path (SQLite) or "
	    "postgresql:// URL\n"
	    "  -m, --pkcs11-module PATH  PKCS#11 module a token CA key may "
	    "load\n"
	    "  -h, --help          this text\n\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(f, "\nSee ukey-ca(1).\n");
}

void
ukca_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ukey-ca: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ukca_fail(int code, const char *detail)
{
	if (detail != NULL && detail[0] != '\0')
		uk_cli_error(code, "%s", detail);
	else
		uk_cli_error(code, NULL);
	return code == UK_ERR_USAGE ? UKCA_EXIT_USAGE : UKCA_EXIT_ERROR;
}

int
ukca_parse_int(const char *s, long min, long max, int *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return UK_ERR_USAGE;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return UK_ERR_USAGE;
	*out = (int)v;
	return 0;
}

int
ukca_load_config(struct ukca_ctx *ctx, const char *path, char *err,
    size_t errlen)
{
	struct config *cfg = NULL;
	int r;

	if ((r = ca_config_load(path, &cfg, &ctx->ca_cfg, err, errlen)) != 0)
		return r;
	if (ctx->pkcs11_module != NULL)
		ctx->ca_cfg.pkcs11_module = ctx->pkcs11_module;
	config_free(ctx->cfg);
	ctx->cfg = cfg;
	if (ctx->database == NULL)
		ctx->database = config_str(cfg, "ca", "database");
	return 0;
}

/* Whether loc is meant as a PostgreSQL URL. */
static int
is_pg_url(const char *loc)
{
	return strncmp(loc, "postgresql:", 11) == 0 ||
	    strncmp(loc, "postgres:", 9) == 0;
}

int
ukca_open_store(struct ukca_ctx *ctx, int must_exist, struct store **out)
{
	struct stat sb;
	int r;

	*out = NULL;
	if (ctx->database == NULL || ctx->database[0] == '\0')
		return ukca_fail(UK_ERR_USAGE,
		    "no database: give -d DB or [ca] database in the "
		    "configuration");
	if (!is_pg_url(ctx->database) && strstr(ctx->database, "://") != NULL)
		return ukca_fail(UK_ERR_STORE_URL,
		    "the database must be a file path or a postgresql:// URL");
	if (store_location_is_conninfo(ctx->database))
		return ukca_fail(UK_ERR_STORE_URL,
		    "keyword connection strings (host=... dbname=...) are not "
		    "supported: give a postgresql:// URL (keep the password in "
		    "PGPASSFILE or ~/.pgpass)");
	if (!is_pg_url(ctx->database) && must_exist &&
	    stat(ctx->database, &sb) != 0)
		return ukca_fail(UK_ERR_STORE_OPEN,
		    "no database file there (create one with ukey-ca init)");
	if ((r = store_open(ctx->database, out)) != 0)
		return ukca_fail(r, store_last_error(NULL));
	return 0;
}

int
ukca_db_missing(const struct ukca_ctx *ctx)
{
	struct stat sb;

	return ctx->database != NULL && ctx->database[0] != '\0' &&
	    !is_pg_url(ctx->database) && strstr(ctx->database, "://") == NULL &&
	    !store_location_is_conninfo(ctx->database) &&
	    lstat(ctx->database, &sb) != 0;
}

void
ukca_db_remove(const struct ukca_ctx *ctx)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (snprintf(path, sizeof(path), "%s%s", ctx->database,
		        sfx[i]) < (int)sizeof(path))
			(void)unlink(path);
	}
}

int
ukca_open_ca(struct ukca_ctx *ctx, struct store **st, struct ca **ca)
{
	int r, ex;

	*st = NULL;
	*ca = NULL;
	if ((ex = ukca_open_store(ctx, 1, st)) != 0)
		return ex;
	if ((r = ca_open(*st, ca)) != 0) {
		ex = ukca_fail(r,
		    r == UK_ERR_CA_NOT_INITIALISED ? "run ukey-ca init first"
		                                   : store_last_error(*st));
		goto fail;
	}
	if ((r = ca_set_config(*ca, &ctx->ca_cfg)) != 0) {
		ex = ukca_fail(r, ca_errmsg(*ca));
		goto fail;
	}
	return 0;
fail:
	ca_free(*ca);
	store_close(*st);
	*ca = NULL;
	*st = NULL;
	return ex;
}

int
ukca_ca_secret(struct ca *ca, int fd, struct secret **out)
{
	char prompt[600];

	if (ca_key_on_token(ca))
		snprintf(prompt, sizeof(prompt), "PIN for the CA token: ");
	else
		snprintf(prompt, sizeof(prompt),
		    "Passphrase for the CA key %.500s: ", ca_key_ref(ca));
	return ukca_secret(fd, prompt, 0, out);
}

int
ukca_secret(int fd, const char *prompt, int confirm, struct secret **out)
{
	struct secret *a = NULL, *b = NULL;
	int r;

	*out = NULL;
	if ((r = secret_obtain(fd, prompt, &a)) != 0)
		return ukca_fail(r,
		    fd >= 0
		        ? "reading the secret from the descriptor failed"
		        : "no terminal to ask on (use --pass-fd / --pin-fd)");
	if (confirm && fd < 0) {
		if ((r = secret_read_tty("Repeat: ", &b)) != 0) {
			secret_free(a);
			return ukca_fail(r, "reading the repetition failed");
		}
		if (!secret_equal(a, b)) {
			secret_free(a);
			secret_free(b);
			return ukca_fail(UK_ERR_USAGE,
			    "the two entries differ");
		}
		secret_free(b);
	}
	*out = a;
	return 0;
}

int
ukca_check_out(const char *path)
{
	char dir[PATH_MAX], *slash;
	struct stat sb;

	if (path == NULL || path[0] == '\0') {
		uk_cli_error(UK_ERR_USAGE, "an output file is required");
		return UK_ERR_USAGE;
	}
	if (strcmp(path, "-") == 0)
		return 0;
	if (strlen(path) >= sizeof(dir))
		goto bad;
	/* Replaced by rename: only ever a regular file (never a device such
	 * as /dev/null, a FIFO or a symbolic link). */
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		uk_cli_error(UK_ERR_IO,
		    "%s exists and is not a regular file (use - for standard "
		    "output)",
		    path);
		return UK_ERR_IO;
	}
	memcpy(dir, path, strlen(path) + 1);
	if ((slash = strrchr(dir, '/')) == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
	    access(dir, W_OK | X_OK) != 0)
		goto bad;
	return 0;
bad:
	uk_cli_error(UK_ERR_IO, "%s cannot be written", path);
	return UK_ERR_IO;
}

int
ukca_write_out(const char *path, const void *data, size_t len)
{
	struct stat sb;

	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return UK_ERR_IO;
		return 0;
	}
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return UK_ERR_IO;
	return file_write_atomic(path, data, len, 0644);
}

static void
set_actor(struct ukca_ctx *ctx)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(ctx->actor, sizeof(ctx->actor), "ukey-ca:%s",
	    pw != NULL && pw->pw_name != NULL ? pw->pw_name : "?");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "pkcs11-module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ukca_ctx ctx;
	char err[512];
	size_t i;
	int c, r, sub, ex = UKCA_EXIT_USAGE;
	const char *cmd;

	umask(077);
	uk_log_init("ukey-ca", UK_LOG_WARN);
	if (secret_harden_process() != 0)
		return ukca_fail(UK_ERR_INTERNAL,
		    "cannot make the process undumpable");
	memset(&ctx, 0, sizeof(ctx));
	set_actor(&ctx);
	while ((c = getopt_long(argc, argv, "+c:d:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'd':
			ctx.database = optarg;
			break;
		case 'm':
			if (optarg[0] != '/') {
				uk_cli_error(UK_ERR_USAGE,
				    "--pkcs11-module is an absolute path");
				return UKCA_EXIT_USAGE;
			}
			ctx.pkcs11_module = optarg;
			break;
		case 'h':
			usage(stdout);
			return UKCA_EXIT_OK;
		default:
			usage(stderr);
			return UKCA_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return UKCA_EXIT_USAGE;
	}
	cmd = argv[optind];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		uk_cli_error(UK_ERR_USAGE, "unknown command \"%s\"", cmd);
		usage(stderr);
		return UKCA_EXIT_USAGE;
	}
	/* check-config loads the file itself (it may be given after it). */
	if (commands[i].fn != ukca_cmd_check_config) {
		if ((r = ukca_load_config(&ctx, ctx.config_path, err,
		         sizeof(err))) != 0) {
			ex = ukca_fail(r, err);
			goto out;
		}
	}
	sub = optind;
	optind = 0; /* glibc: start afresh on the subcommand's argv */
	ex = commands[i].fn(&ctx, argc - sub, argv + sub);
out:
	config_free(ctx.cfg);
	return ex;
}
