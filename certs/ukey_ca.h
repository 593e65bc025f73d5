/* certs/ukey_ca.h: what the ukey-ca command's files share: global options, helpers and the subcommands. */
#ifndef UK_CERTS_UKEY_CA_H
#define UK_CERTS_UKEY_CA_H

#include <stddef.h>

#include "certs/ca.h"
#include "common/config.h"
#include "common/secret.h"
#include "common/store.h"

/* Exit statuses of ukey-ca. */
#define UKCA_EXIT_OK 0
#define UKCA_EXIT_ERROR 1 /* an operation failed; the UK-code says why */
#define UKCA_EXIT_USAGE 2 /* the command line is wrong */

/* What main() found before the subcommand. */
struct ukca_ctx {
	const char *config_path;   /* -c, or NULL */
	const char *database;      /* -d, else [ca] database, or NULL */
	const char *pkcs11_module; /* -m, overrides [ca] pkcs11_module */
	struct config *cfg;        /* the configuration (defaults without -c) */
	struct ca_config ca_cfg;   /* strings point into cfg */
	char actor[96];            /* "ukey-ca:<login name>" for the audit */
};

/* One subcommand: argv[0] is its name; returns an exit status. */
typedef int (*ukca_cmd_fn)(struct ukca_ctx *ctx, int argc, char **argv);

/* The subcommands (certs/ukey_ca_cmd.c). Each parses its own options with
 * getopt_long, answers --help, and prints errors with uk_cli_error. */
int ukca_cmd_init(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_issue(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_revoke(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_reissue(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_list(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_show(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_crl(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_export(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_ocsp(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_renew_ocsp(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_verify(struct ukca_ctx *ctx, int argc, char **argv);
int ukca_cmd_check_config(struct ukca_ctx *ctx, int argc, char **argv);
/* certs/ukey_ca_enroll.c: generates a key pair on an operator's UKey,
 * issues its certificate as ukca_cmd_issue does and stores it on the token. */
int ukca_cmd_enroll(struct ukca_ctx *ctx, int argc, char **argv);

/* Helpers (certs/ukey_ca.c). */

/* Prints the error and returns the exit status for code (UK_ERR_USAGE:
 * UKCA_EXIT_USAGE, anything else: UKCA_EXIT_ERROR). detail may be NULL. */
int ukca_fail(int code, const char *detail);

/* Parses a decimal integer in [min, max]; 0 or UK_ERR_USAGE. */
int ukca_parse_int(const char *s, long min, long max, int *out);

/* Loads the configuration named by path (NULL: defaults) into ctx.
 * Returns 0 or a UK_ERR_CONFIG_* code, with a message in err. */
int ukca_load_config(struct ukca_ctx *ctx, const char *path, char *err,
    size_t errlen);

/* Opens the store named by ctx->database. must_exist: refuse a file path
 * that does not exist yet instead of creating a database there. Prints the
 * error itself; returns 0 or an exit status. */
int ukca_open_store(struct ukca_ctx *ctx, int must_exist, struct store **out);

/* 1 when ctx->database is a file path with nothing there yet (init will
 * create it), else 0. */
int ukca_db_missing(const struct ukca_ctx *ctx);

/* Removes the SQLite database file ctx->database and its -wal, -shm and
 * -journal companions: for init to undo a database it created itself. */
void ukca_db_remove(const struct ukca_ctx *ctx);

/* Opens the store and the CA in it with ctx's settings. Prints errors;
 * returns 0 or an exit status. *st and *ca are owned by the caller. */
int ukca_open_ca(struct ukca_ctx *ctx, struct store **st, struct ca **ca);

/* Obtains the passphrase or PIN: from fd when fd >= 0, else from the
 * terminal with prompt; confirm: ask twice on a terminal. Prints errors;
 * returns 0 or an exit status. */
int ukca_secret(int fd, const char *prompt, int confirm, struct secret **out);

/* Obtains the secret of ca's own key: the key file's passphrase or the CA
 * token's PIN, from fd or the terminal. Prints errors; returns 0 or an exit
 * status. */
int ukca_ca_secret(struct ca *ca, int fd, struct secret **out);

/* Checks that path can be written later (its directory exists and is
 * writable; path is absent or a regular file: never a device, FIFO,
 * directory or symbolic link, which the atomic rename would replace).
 * "-" (standard output) is fine.
 * Returns 0 or UK_ERR_IO with a message printed. */
int ukca_check_out(const char *path);

/* Writes len bytes to path atomically (mode 0644 before the umask), or to
 * standard output for "-". Refuses (UK_ERR_IO) a path that exists and is
 * not a regular file. Returns 0 or UK_ERR_IO. */
int ukca_write_out(const char *path, const void *data, size_t len);

/* Prints a warning line to standard error. */
void ukca_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
