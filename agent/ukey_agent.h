/* agent/ukey_agent.h: what the ukey-agent program's files share: global options, exit statuses, the subcommands. */
#ifndef UK_AGENT_UKEY_AGENT_H
#define UK_AGENT_UKEY_AGENT_H

#include <jansson.h>

#include "common/config.h"

/* Exit statuses. */
#define UKAG_EXIT_OK 0
#define UKAG_EXIT_ERROR 1 /* an operation failed; the UK-code says why */
#define UKAG_EXIT_USAGE 2 /* the command line is wrong */

/* What main() found before the subcommand. */
struct ukag_ctx {
	const char *config_path; /* resolved path of the file read, or NULL */
	struct config *cfg;      /* the configuration (defaults without one) */
	const char *exe; /* this program, to run again ("/proc/self/exe") */
};

/* One subcommand: argv[0] is its name; returns an exit status. */
typedef int (*ukag_cmd_fn)(struct ukag_ctx *ctx, int argc, char **argv);

/* The subcommands working on the token directly (agent/ukey_agent_cmd.c).
 * Each parses its own options with getopt_long and answers --help. */
int ukag_cmd_list(struct ukag_ctx *ctx, int argc, char **argv);
int ukag_cmd_status(struct ukag_ctx *ctx, int argc, char **argv);
int ukag_cmd_authenticate(struct ukag_ctx *ctx, int argc, char **argv);
int ukag_cmd_unlock(struct ukag_ctx *ctx, int argc, char **argv);
int ukag_cmd_change_pin(struct ukag_ctx *ctx, int argc, char **argv);

/* Prints the error for code (English and Chinese, the remedy, and the PIN
 * state when pin is not NULL) to standard error; detail may be NULL.
 * Returns the exit status for code. */
int ukag_fail(int code, const json_t *pin, const char *detail);

#endif
