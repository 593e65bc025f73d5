/* gateway/policy.h: the route policy: which path prefixes and methods are public, need an operator or staff session, a full scope, roles, a fresh certificate signature, and which an unauthorised unit may reach. */
#ifndef UK_GW_POLICY_H
#define UK_GW_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/identity.h"

/*
 * The routes file: one rule per line,
 *
 *   PREFIX METHODS ACCESS [scope=full|query] [roles=R1,R2] [step_up=SECONDS]
 *       [unauthorised]
 *
 * '#' starts a comment line; blank lines are ignored. PREFIX starts with
 * '/', is already normal (no "//", no "." or ".." segment, no '%', no
 * control characters or spaces) and matches a path equal to it or, when it
 * ends in '/', any path under it, or when it does not, any path equal to it
 * followed by '/' ("/counter" matches "/counter" and "/counter/x", not
 * "/counterfeit"). METHODS is "*" or a comma-separated list of upper-case
 * methods (GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS). ACCESS is public (no
 * session needed; an identity is still passed on when there is one),
 * session (an operator session) or staff (a staff session). scope=full
 * (the default for session rules) needs a UKey login, scope=query accepts
 * a password login too. roles: at least one of them. step_up: a
 * certificate signature in this session at most SECONDS old. unauthorised:
 * operators of a unit that has not done the hall authorisation may use this
 * route; on every other route they are refused.
 *
 * The longest matching prefix decides; among rules with that same prefix
 * the first whose METHODS list the method. No rule at all: refused
 * (UK_ERR_POLICY_DENIED); a prefix that matches but no rule for the method:
 * UK_ERR_METHOD.
 */

#define GW_ACCESS_PUBLIC 0
#define GW_ACCESS_SESSION 1
#define GW_ACCESS_STAFF 2

#define GW_ROUTES_MAX_RULES 4096
#define GW_ROUTES_MAX_SIZE (1024 * 1024)

/* One rule. Plain data owned by its policy. */
struct gw_rule {
	char *prefix;
	size_t prefix_len;
	unsigned methods;             /* bit set of GW_M_*; GW_M_ALL for "*" */
	int access;                   /* GW_ACCESS_* */
	int full;                     /* 1: scope=full needed */
	char roles[GW_ROLES_MAX + 1]; /* space-separated; "" for any */
	int step_up;                  /* seconds; 0 for none */
	int unauthorised;             /* unauthorised units may pass */
	int line;
};

#define GW_M_GET 0x01u
#define GW_M_HEAD 0x02u
#define GW_M_POST 0x04u
#define GW_M_PUT 0x08u
#define GW_M_PATCH 0x10u
#define GW_M_DELETE 0x20u
#define GW_M_OPTIONS 0x40u
#define GW_M_OTHER 0x80u /* any other method; only "*" lets it pass */
#define GW_M_ALL 0xffu

struct gw_policy;

/* Parses a routes file held in memory (name is used in messages). A
 * malformed line fails the whole file with a message "name:line: why" in
 * err. *out belongs to the caller (gw_policy_free). Returns 0,
 * UK_ERR_CONFIG_SYNTAX, UK_ERR_CONFIG_VALUE, UK_ERR_LIMIT, UK_ERR_NOMEM. */
int gw_policy_parse(const char *buf, size_t len, const char *name,
    struct gw_policy **out, char *err, size_t errlen);

/* The same from the file at path (at most GW_ROUTES_MAX_SIZE bytes);
 * UK_ERR_IO when it cannot be read. */
int gw_policy_load(const char *path, struct gw_policy **out, char *err,
    size_t errlen);

/* Frees p; NULL is a no-op. */
void gw_policy_free(struct gw_policy *p);

/* Number of rules in p. */
size_t gw_policy_count(const struct gw_policy *p);

/* The bit of method (GW_M_OTHER for one not in the list). */
unsigned gw_method_bit(const char *method);

/*
 * The rule for a normalised path and a method, in *rule (pointing into p).
 * Returns 0, UK_ERR_POLICY_DENIED (no prefix matches) or UK_ERR_METHOD (the
 * longest prefix has no rule for the method).
 */
int gw_policy_match(const struct gw_policy *p, const char *path,
    const char *method, const struct gw_rule **rule);

/*
 * Whether id (NULL: no session) may use rule at now, in this order: a
 * public rule passes; no session: UK_ERR_SESSION_NONE; the wrong kind
 * (an operator on a staff route: UK_ERR_POLICY_STAFF_ONLY; staff on an
 * operator route: UK_ERR_POLICY_DENIED); an operator of an unauthorised
 * unit on a route not marked unauthorised: UK_ERR_POLICY_HALL_UNAUTHORISED;
 * a query session on a full route: UK_ERR_POLICY_SCOPE; none of the roles:
 * UK_ERR_POLICY_ROLE; no certificate signature within step_up seconds:
 * UK_ERR_POLICY_STEP_UP. Returns 0 when allowed.
 */
int gw_policy_check(const struct gw_rule *rule, const struct gw_identity *id,
    int64_t now);

/*
 * Whether a refusal of a request made without a session (no cookie, an
 * expired or revoked one, or a route no rule covers) from client address
 * ip at now (UTC seconds) gets its audit row ("policy.refused"). Refusals
 * of a session are always audited: they name who was refused. Anonymous
 * ones are what a flood produces, and each row is a write (and a link in
 * the hash chain, which serialises writers), so they are audited up to
 * GW_POLICY_AUDIT_PER_IP a minute per address and GW_POLICY_AUDIT_TOTAL a
 * minute for the process; past that the refusal is still answered, without
 * a row and so without an event number, and one log line per address and
 * minute says that rows were left out. Thread-safe (process-wide state).
 * Returns 1 to audit, 0 not to.
 */
#define GW_POLICY_AUDIT_PER_IP 30
#define GW_POLICY_AUDIT_TOTAL 1200
int gw_policy_audit_anon(const char *ip, int64_t now);

/* Clears the state of gw_policy_audit_anon (tests). */
void gw_policy_audit_reset(void);

/* 1 when the space-separated list roles holds role, else 0. */
int gw_roles_has(const char *roles, const char *role);

#endif
