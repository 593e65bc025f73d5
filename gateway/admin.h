/* gateway/admin.h: the "ukey-gateway admin" command line over the identity model, and "audit verify". */
#ifndef UK_GW_ADMIN_H
#define UK_GW_ADMIN_H

#include <stdio.h>

struct store;

/* Exit statuses of both functions below. */
#define GW_ADMIN_OK 0
#define GW_ADMIN_FAILED 1
#define GW_ADMIN_USAGE 2

/*
 * Runs one admin command on st. argv starts at the word after "admin", e.g.
 * {"unit", "add", "--id", "U1", ...}; argc counts its words. actor is who
 * runs it ("cli:<user>"), recorded in the audit trail. Results go to out,
 * errors (with their UK- code, message and remedy) to err. Passwords are
 * read only from a descriptor (--password-fd N), never from argv. Commands:
 *   unit add --id ID --name NAME [--uscc CODE] --form F
 *   unit show ID [--json] | unit list [--query Q] [--json]
 *   unit agreement|authorize|revoke-authorization|close ID --form F
 *       (authorize only after agreement; close revokes the sessions of the
 *       unit's operators)
 *   operator add --login L --unit U --name N [--resident-id X] [--phone P]
 *       [--roles "maker checker"] [--password-fd N [--temporary]] --form F
 *   operator show LOGIN [--json] | operator list [--unit U] [--query Q]
 *       [--json]
 *   operator change LOGIN [--name N] [--phone P] [--roles R] --form F
 *   operator leave|unfreeze LOGIN --form F
 *   operator reset-password LOGIN --password-fd N [--temporary] --form F
 *   operator bind-cert LOGIN --cert FILE --form F (PEM or DER)
 *   operator unbind-cert --sha256 HEX --form F
 *   staff add --login L --name N --roles "counter helpdesk" [--cert FILE]
 *   staff list [--json]
 * Every command answers --help. Uses getopt_long (not thread-safe).
 * Returns GW_ADMIN_OK, GW_ADMIN_FAILED or GW_ADMIN_USAGE.
 */
int gw_admin_main(struct store *st, const char *actor, int argc, char **argv,
    FILE *out, FILE *err);

/* Checks the audit trail's hash chain and prints "audit: N rows, chain
 * intact" to out, or "audit: chain broken at row SEQ" to err. Returns
 * GW_ADMIN_OK, or GW_ADMIN_FAILED when the chain is broken or unreadable. */
int gw_audit_verify_main(struct store *st, FILE *out, FILE *err);

#endif
