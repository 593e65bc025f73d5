/* agent/ukey_agent_cmd.c: ukey-agent's subcommands that work on the token directly: list, status, authenticate, unlock, change-pin. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/conf.h"
#include "agent/errinfo.h"
#include "agent/tokop.h"
#include "agent/ukey_agent.h"
#include "common/errors.h"
#include "common/secret.h"

/* Parses a descriptor number for --*-fd. */
static int
parse_fd(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1023)
		return UK_ERR_USAGE;
	*out = (int)v;
	return 0;
}

/* Reads the PIN on fd (when fd >= 0) into *out; NULL otherwise. */
static int
pin_from_fd(int fd, struct secret **out)
{
	*out = NULL;
	if (fd < 0)
		return 0;
	return secret_read_fd(fd, out);
}

/* Where operations ask for PINs not given on descriptors. */
static enum ag_pin_ask
ask_mode(const struct ukag_ctx *ctx)
{
	const char *ps = config_str(ctx->cfg, "agent", "pin_source");

	return ps != NULL && strcmp(ps, "pinentry") == 0 ? AG_ASK_PINENTRY
	                                                 : AG_ASK_TTY;
}

static int
finish(struct ag_result *res, int print_body)
{
	char *s;
	int st = UKAG_EXIT_OK;

	if (res->code != 0) {
		st = ukag_fail(res->code, res->pin, NULL);
	} else if (print_body && res->body != NULL) {
		if ((s = json_dumps(res->body, JSON_COMPACT)) == NULL)
			return ukag_fail(UK_ERR_NOMEM, NULL, NULL);
		printf("%s\n", s);
		free(s);
	}
	ag_result_clear(res);
	return st;
}

/* Prints one token's PIN state. */
static void
print_pin(const json_t *pin)
{
	printf("PIN %s, %lld of %d tries left (%s)",
	    json_string_value(json_object_get(pin, "state")),
	    json_integer_value(json_object_get(pin, "retriesLeft")), 6,
	    json_string_value(json_object_get(pin, "source")));
}

static void
print_tokens(const json_t *body, int certs)
{
	const json_t *toks = json_object_get(body, "tokens"), *t, *c;
	const json_t *cs = json_object_get(body, "certificates");
	size_t i, j;

	if (json_array_size(toks) == 0)
		printf("no UKey found\n");
	json_array_foreach(toks, i, t)
	{
		printf("token %s  label \"%s\"  %s %s\n  ",
		    json_string_value(json_object_get(t, "serial")),
		    json_string_value(json_object_get(t, "label")),
		    json_string_value(json_object_get(t, "manufacturer")),
		    json_string_value(json_object_get(t, "model")));
		print_pin(json_object_get(t, "pin"));
		printf("\n");
		for (j = 0; certs && j < json_array_size(cs); j++) {
			c = json_array_get(cs, j);
			if (strcmp(json_string_value(
			               json_object_get(c, "token")),
			        json_string_value(
			            json_object_get(t, "serial"))) != 0)
				continue;
			printf("  certificate %s  %s  %s  until %s\n    %s\n",
			    json_string_value(json_object_get(c, "id")),
			    json_is_string(json_object_get(c, "algorithm"))
			        ? json_string_value(
			              json_object_get(c, "algorithm"))
			        : "unsupported",
			    json_string_value(json_object_get(c, "label")),
			    json_string_value(json_object_get(c, "notAfter")),
			    json_string_value(json_object_get(c, "subject")));
		}
	}
}

static int
list_like(struct ukag_ctx *ctx, int argc, char **argv, int certs)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ag_tokop *t = NULL;
	struct ag_result res;
	int c, json = 0, r, st, listening = 0, fd;
	unsigned int port = (unsigned int)config_int(ctx->cfg, "agent", "port");
	struct sockaddr_in a;
	json_t *o;
	char *s;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: ukey-agent [-c FILE] %s "
			       "[--json]\n\n%s\n",
			    certs ? "list" : "status",
			    certs ? "Lists the UKeys, their PIN states and "
			            "certificates."
			          : "Shows whether the agent serves, the "
			            "module, and the UKeys' PIN states.");
			return UKAG_EXIT_OK;
		default:
			return ukag_fail(UK_ERR_USAGE, NULL, "see --help");
		}
	}
	if (optind != argc)
		return ukag_fail(UK_ERR_USAGE, NULL, "no arguments expected");
	if ((r = ag_tokop_new(ctx->cfg, AG_ASK_NONE, &t)) != 0)
		return ukag_fail(r, NULL, "lockout guard");
	r = certs ? ag_tokop_list(t, &res) : ag_tokop_status(t, &res);
	ag_tokop_free(t);
	if (!certs) {
		/* Whether something answers on the agent's port. */
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
		    0) {
			listening =
			    connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
			close(fd);
		}
	}
	if (r != 0 && certs)
		return finish(&res, 0);
	if (json) {
		if (certs) {
			o = json_incref(res.body);
		} else {
			o = json_pack("{s:{s:i,s:b},s:s*,s:b,s:O*,s:s*}",
			    "agent", "port", (int)port, "listening", listening,
			    "module", config_str(ctx->cfg, "agent", "module"),
			    "moduleLoaded", r == 0, "tokens",
			    r == 0 ? json_object_get(res.body, "tokens") : NULL,
			    "error", r != 0 ? ag_error_info(r)->id : NULL);
		}
		if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
			json_decref(o);
			ag_result_clear(&res);
			return ukag_fail(UK_ERR_NOMEM, NULL, NULL);
		}
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		if (!certs) {
			printf("agent: %s on 127.0.0.1:%u\n",
			    listening ? "serving" : "not serving", port);
			printf("module: %s (%s)\n",
			    config_str(ctx->cfg, "agent", "module") != NULL
			        ? config_str(ctx->cfg, "agent", "module")
			        : "(none configured)",
			    r == 0 ? "loaded" : ag_error_info(r)->id);
		}
		if (r == 0)
			print_tokens(res.body, certs);
	}
	st = r == 0 ? UKAG_EXIT_OK : ukag_fail(r, NULL, NULL);
	ag_result_clear(&res);
	return st;
}

int
ukag_cmd_list(struct ukag_ctx *ctx, int argc, char **argv)
{
	return list_like(ctx, argc, argv, 1);
}

int
ukag_cmd_status(struct ukag_ctx *ctx, int argc, char **argv)
{
	return list_like(ctx, argc, argv, 0);
}

int
ukag_cmd_authenticate(struct ukag_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "cert", required_argument, NULL, 'C' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *origin = NULL, *nonce = NULL, *cert = NULL;
	struct ag_tokop *t = NULL;
	struct secret *pin = NULL;
	struct ag_result res;
	int c, fd = -1, r;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "o:n:C:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			origin = optarg;
			break;
		case 'n':
			nonce = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return ukag_fail(UK_ERR_USAGE, NULL,
				    "--pin-fd takes a descriptor number");
			break;
		case 'h':
			printf("usage: ukey-agent [-c FILE] authenticate "
			       "--origin ORIGIN --nonce NONCE [--cert ID] "
			       "[--pin-fd N]\n\n"
			       "Signs the login challenge for ORIGIN (one of "
			       "allowed_origins) and NONCE\n"
			       "(44 to 128 base64 characters) with the UKey "
			       "and prints the token (JSON).\n"
			       "ID is SERIAL:IDHEX as `list` shows; without "
			       "it the first certificate is used.\n"
			       "The PIN comes from descriptor N, else from "
			       "pinentry or the terminal.\n");
			return UKAG_EXIT_OK;
		default:
			return ukag_fail(UK_ERR_USAGE, NULL,
			    "see authenticate --help");
		}
	}
	if (optind != argc || origin == NULL || nonce == NULL)
		return ukag_fail(UK_ERR_USAGE, NULL,
		    "authenticate needs --origin and --nonce");
	if ((r = pin_from_fd(fd, &pin)) != 0)
		return ukag_fail(r, NULL, "--pin-fd");
	if ((r = ag_tokop_new(ctx->cfg, ask_mode(ctx), &t)) != 0) {
		secret_free(pin);
		return ukag_fail(r, NULL, "lockout guard");
	}
	ag_tokop_authenticate(t, origin, nonce, cert, pin, 0, &res);
	secret_free(pin);
	ag_tokop_free(t);
	return finish(&res, 1);
}

/* unlock and change-pin: --token SERIAL and two PIN descriptors. */
static int
pin_cmd(struct ukag_ctx *ctx, int argc, char **argv, int unlock)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "so-pin-fd", required_argument, NULL, 's' },
		{ "new-pin-fd", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *serial = NULL;
	struct secret *pin = NULL, *new_pin = NULL;
	struct ag_tokop *t = NULL;
	struct ag_result res;
	int c, fd = -1, nfd = -1, r, st;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "t:p:s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			serial = optarg;
			break;
		case 'p':
		case 's':
			if ((c == 'p') == unlock || parse_fd(optarg, &fd) != 0)
				return ukag_fail(UK_ERR_USAGE, NULL,
				    "see --help");
			break;
		case 'n':
			if (parse_fd(optarg, &nfd) != 0)
				return ukag_fail(UK_ERR_USAGE, NULL,
				    "--new-pin-fd takes a descriptor number");
			break;
		case 'h':
			if (unlock)
				printf("usage: ukey-agent [-c FILE] unlock "
				       "--token SERIAL [--so-pin-fd N] "
				       "[--new-pin-fd M]\n\n"
				       "Unblocks the user PIN with the SO PIN "
				       "and sets a new one.\n");
			else
				printf("usage: ukey-agent [-c FILE] change-pin "
				       "--token SERIAL [--pin-fd N] "
				       "[--new-pin-fd M]\n\n"
				       "Changes the user PIN.\n");
			printf("PINs not given on descriptors are asked "
			       "for (pinentry or the terminal).\n");
			return UKAG_EXIT_OK;
		default:
			return ukag_fail(UK_ERR_USAGE, NULL, "see --help");
		}
	}
	if (optind != argc || serial == NULL)
		return ukag_fail(UK_ERR_USAGE, NULL,
		    "--token SERIAL is needed");
	if ((r = pin_from_fd(fd, &pin)) != 0 ||
	    (r = pin_from_fd(nfd, &new_pin)) != 0) {
		st = ukag_fail(r, NULL, "PIN descriptor");
		goto out;
	}
	if ((r = ag_tokop_new(ctx->cfg, ask_mode(ctx), &t)) != 0) {
		st = ukag_fail(r, NULL, "lockout guard");
		goto out;
	}
	if (unlock)
		ag_tokop_unlock(t, serial, pin, new_pin, 0, &res);
	else
		ag_tokop_change_pin(t, serial, pin, new_pin, 0, &res);
	if (res.code == 0)
		printf("%s: %s\n", serial,
		    unlock ? "PIN unblocked" : "PIN changed");
	st = finish(&res, 0);
out:
	ag_tokop_free(t);
	secret_free(pin);
	secret_free(new_pin);
	return st;
}

int
ukag_cmd_unlock(struct ukag_ctx *ctx, int argc, char **argv)
{
	return pin_cmd(ctx, argc, argv, 1);
}

int
ukag_cmd_change_pin(struct ukag_ctx *ctx, int argc, char **argv)
{
	return pin_cmd(ctx, argc, argv, 0);
}
