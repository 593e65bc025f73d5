/* gateway/model.h: units, operators, staff and certificate bindings in the store: the functions the admin commands, the consoles and the login flows share. */
#ifndef UK_GW_MODEL_H
#define UK_GW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"
#include "gateway/identity.h"

struct store;

/*
 * Every change takes an actor (who did it) and, for counter acts, the
 * application form number (申请表编号); each writes one audit row (event
 * "admin.<noun>.<verb>", actor, subject, the form in detail, result) in the
 * same transaction as the change. Reads take no actor. All functions return
 * 0 or an enum uk_err code; on failure nothing was changed.
 *
 * Each change runs in its own write transaction, or, when st already has one
 * open (store_begin by the caller), joins it: the caller then commits, and
 * must roll back when a change fails. Names and the form are free text
 * (gw_text_clean): stored and audited without the blanks at their ends.
 * Errors: UK_ERR_ADMIN_FORM_REQUIRED (no form, or a blank one, where one is
 * required: a unit's registration, agreement, authorisation and its
 * revocation, and every operator change but bind_openid), UK_ERR_ADMIN_INVALID (bad USCC, resident ID,
 * login, phone or roles; a blank name; a form or name with a control
 * character or too long), UK_ERR_ADMIN_LOGIN_TAKEN
 * (operators, staff), UK_ERR_EXISTS (a unit id or USCC already registered),
 * UK_ERR_ADMIN_UNIT_UNKNOWN / _OPERATOR_UNKNOWN / _STAFF_UNKNOWN for a
 * change to something that does not exist, UK_ERR_ADMIN_OPERATOR_LEFT for a
 * change to an operator who left; the reads (_get, _find) answer
 * UK_ERR_NOT_FOUND.
 */
struct gw_actor {
	const char *who; /* "staff:<login>", "cli:<user>", "operator:<login>" */
	const char *form; /* application form number; NULL when none applies */
	const char *ip;   /* NULL outside a request */
	const char *user_agent;
	char *event_id; /* NULL, or 33 bytes that receive the event id of the
	                   change's audit row (valid once its transaction
	                   commits) */
};

struct gw_unit {
	char id[GW_LOGIN_MAX + 1];
	char name[GW_NAME_MAX + 1];
	char uscc[19];        /* "" when not recorded */
	char status[10];      /* "active" | "closed" */
	int64_t agreement_at; /* 0: agreement not signed */
	char agreement_form[GW_LOGIN_MAX + 1];
	int64_t authorized_at; /* 0: hall not authorised */
	char authorized_form[GW_LOGIN_MAX + 1];
	int active_certs; /* active, unexpired certificates */
	int64_t created_at;
};

struct gw_operator {
	int64_t id;
	char login[GW_LOGIN_MAX + 1];
	char unit[GW_LOGIN_MAX + 1];
	char name[GW_NAME_MAX + 1];
	char resident_id[19]; /* "" when none */
	char phone[21];       /* "" when none */
	char openid[129];     /* WeChat openid, "" when unbound */
	char roles[GW_ROLES_MAX + 1];
	char status[10]; /* "active" | "left" | "disabled" */
	int has_password;
	int pw_must_change;
	int fail_count;
	int64_t fail_day;
	int64_t frozen_until;
	int64_t created_at;
	int64_t left_at;
};

struct gw_staff {
	int64_t id;
	char login[GW_LOGIN_MAX + 1];
	char name[GW_NAME_MAX + 1];
	char roles[GW_ROLES_MAX + 1]; /* subset of "counter helpdesk admin" */
	char status[10];
	int64_t created_at;
};

/* A certificate binding: exactly one of operator_id, staff_id is set. */
struct gw_binding {
	int64_t id;
	int64_t operator_id; /* 0 when bound to staff */
	int64_t staff_id;    /* 0 when bound to an operator */
	char issuer_serial[200];
	char sha256[65]; /* lowercase hex of the certificate's DER */
	char subject[256];
	int64_t not_after;
	char source[10]; /* "ca" (issued by our CA) | "external" */
};

/* Validation (no store). Each returns 0 or UK_ERR_INPUT. */
int gw_uscc_valid(const char *uscc);      /* GB 32100 check character */
int gw_resident_id_valid(const char *id); /* GB 11643, 18 characters */
int gw_login_valid(const char *login);    /* 1..64 of [A-Za-z0-9._-@] */
int gw_phone_valid(const char *phone);    /* mainland mobile, 11 digits */
int gw_roles_valid(const char *roles, int staff); /* known, no repeats */

/* Free text (names, application form numbers): copies in without the blanks
 * at its ends (ASCII space, tab, CR, LF and U+3000, the full-width space)
 * into out of size bytes. Returns 0; UK_ERR_NOT_FOUND when in is NULL or
 * nothing but blanks (out ""); UK_ERR_INPUT when in is not UTF-8, holds a
 * control character, or what is left does not fit in size - 1 bytes. */
int gw_text_clean(const char *in, char *out, size_t size);

/* Personal data in lists, the same in every console: a resident ID as its
 * first 6 (the region) and last 4 characters ("110105********002X"), a
 * phone as 3 + 4 ("138****8000"); shorter values are starred whole, ""
 * stays "". out has size bytes (truncated to fit). */
void gw_mask_resident_id(const char *id, char *out, size_t size);
void gw_mask_phone(const char *phone, char *out, size_t size);

/* Password policy on set: at least 8 characters, letters and digits, not
 * the login name or resident ID, at most 128 bytes. Returns 0 or
 * UK_ERR_PASSWORD_POLICY. */
int gw_password_policy(const struct secret *pw, const char *login,
    const char *resident_id);

/* Units. Unit ids are unique regardless of case: gw_unit_get and every act
 * on a unit find it by its id in any case (the unit's own spelling is
 * what is stored, in operators' unit too). */
int gw_unit_add(struct store *st, const struct gw_actor *a, const char *id,
    const char *name, const char *uscc);
int gw_unit_get(struct store *st, const char *id, struct gw_unit *out);
/* Lists units whose id, name or USCC contains q (NULL: all), at most max,
 * into *out (malloc'd array, caller frees) and *n. */
int gw_unit_list(struct store *st, const char *q, size_t max,
    struct gw_unit **out, size_t *n);
int gw_unit_agreement(struct store *st, const struct gw_actor *a,
    const char *id); /* records the signed agreement (form required) */
int
gw_unit_authorize(struct store *st, const struct gw_actor *a, const char *id);
int gw_unit_revoke_authorization(struct store *st, const struct gw_actor *a,
    const char *id);

/* Operators. Logins are unique case-insensitively; a resident ID belongs
 * to at most one operator; an openid to at most one operator. */
struct gw_operator_new {
	const char *login, *unit, *name, *resident_id, *phone, *roles;
	const struct secret *password; /* NULL: none (certificate only) */
	int must_change;               /* a temporary password */
};
int gw_operator_add(struct store *st, const struct gw_actor *a,
    const struct gw_operator_new *op, int64_t *id_out);
int gw_operator_get(struct store *st, int64_t id, struct gw_operator *out);
/* By login name (any case) or resident ID. UK_ERR_NOT_FOUND when none. */
int gw_operator_find(struct store *st, const char *login_or_id,
    struct gw_operator *out);
int gw_operator_list(struct store *st, const char *unit, const char *q,
    size_t max, struct gw_operator **out, size_t *n);
/* Changes name, phone, roles (NULL: unchanged). */
int gw_operator_change(struct store *st, const struct gw_actor *a, int64_t id,
    const char *name, const char *phone, const char *roles);
/* The operator left the unit: status "left", sessions revoked,
 * certificate bindings kept for the record but no longer usable. */
int gw_operator_leave(struct store *st, const struct gw_actor *a, int64_t id);
/* Sets a password (policy-checked; must_change for a temporary one), clears
 * the freeze and revokes every session of the operator. The form is required
 * unless a->who is "operator:<that operator's login>" (self service: a
 * change of password or an SMS reset). */
int gw_operator_set_password(struct store *st, const struct gw_actor *a,
    int64_t id, const struct secret *pw, int must_change);
int
gw_operator_unfreeze(struct store *st, const struct gw_actor *a, int64_t id);
/* Deactivates an operator (status "disabled", form required): no login of
 * any kind, every session revoked; bindings and certificates are kept.
 * gw_operator_enable makes a disabled operator active again (form
 * required). UK_ERR_ADMIN_OPERATOR_LEFT for one who left; UK_ERR_ADMIN_INVALID
 * when the operator is already in that state. */
int gw_operator_disable(struct store *st, const struct gw_actor *a, int64_t id);
int gw_operator_enable(struct store *st, const struct gw_actor *a, int64_t id);
int gw_operator_bind_openid(struct store *st, const struct gw_actor *a,
    int64_t id, const char *openid); /* openid NULL: unbind */

/* Staff. */
int gw_staff_add(struct store *st, const struct gw_actor *a, const char *login,
    const char *name, const char *roles, int64_t *id_out);
int gw_staff_get(struct store *st, int64_t id, struct gw_staff *out);
int gw_staff_list(struct store *st, struct gw_staff **out, size_t *n);

/* Certificate bindings. der is the certificate; exactly one of operator_id
 * and staff_id is non-zero. A certificate binds to one principal only
 * (UK_ERR_ADMIN_BINDING), also counting certificates our CA issued to an
 * operator. source NULL: "ca" when our CA issued it (certs table), else
 * "external". The form is required for operators' certificates and for
 * gw_binding_remove; issuer_serial is the issuer in RFC 2253 text, '#' and
 * the serial in uppercase hex. gw_binding_remove answers UK_ERR_NOT_FOUND
 * for a certificate without a cert_bindings row (revoke our CA's with
 * ukey-ca instead). */
int gw_binding_add(struct store *st, const struct gw_actor *a,
    const unsigned char *der, size_t len, int64_t operator_id, int64_t staff_id,
    const char *source);
int gw_binding_remove(struct store *st, const struct gw_actor *a,
    const char *sha256_hex);
/* Finds the binding of the certificate whose DER has SHA-256 sha256_hex.
 * A certificate issued by our own CA for a registered operator (certs.operator
 * is that operator's login, certs.unit_id the unit) is bound even without a
 * row in cert_bindings. UK_ERR_NOT_FOUND when unbound. */
int gw_binding_find(struct store *st, const char *sha256_hex,
    struct gw_binding *out);
int gw_binding_list(struct store *st, int64_t operator_id, int64_t staff_id,
    struct gw_binding **out, size_t *n);

/* Revokes every session of a principal (kind GW_KIND_*). */
int gw_sessions_revoke_all(struct store *st, const char *kind,
    int64_t principal_id, int64_t now);

/* The Argon2id parameters gw_operator_add and gw_operator_set_password
 * hash with, for the whole process (default gw_pwhash_defaults). p NULL:
 * back to the defaults. Not thread-safe: call at start-up. */
struct gw_pwhash_params;
void gw_model_set_pwhash(const struct gw_pwhash_params *p);

/* Normalises a role list: roles separated by single spaces, in the order
 * given. Returns 0, or UK_ERR_INPUT when gw_roles_valid refuses it. */
int
gw_roles_normalise(const char *roles, int staff, char out[GW_ROLES_MAX + 1]);

/* Shared by the gateway/model_*.c files. */

/* Opens a write transaction unless st has one open; *own says whether this
 * call opened it. Returns 0 or a store error. */
int gw_model_begin(struct store *st, int *own);

/* Ends what gw_model_begin began: with own, commits when r is 0, else rolls
 * back. Returns r, or the commit's error. */
int gw_model_end(struct store *st, int own, int r);

/* Checks the actor: a and a->who present, a->form (if any) clean text of
 * at most GW_LOGIN_MAX bytes (gw_text_clean), and not blank when
 * form_required. Returns 0, UK_ERR_INPUT, UK_ERR_ADMIN_INVALID or
 * UK_ERR_ADMIN_FORM_REQUIRED. */
int gw_model_actor(const struct gw_actor *a, int form_required);

/* Appends the audit row of a change in st's open transaction: event,
 * a->who, subject, detail {"form": a->form trimmed (null when none or
 * blank), key: value} (key NULL: only the form), a->ip, a->user_agent,
 * result "ok". Returns 0 or an error code. */
int gw_model_audit(struct store *st, const struct gw_actor *a,
    const char *event, const char *subject, const char *key, const char *value);

/* The LIKE pattern "%q%" with %, _ and \ escaped for ESCAPE '\'; malloc'd
 * (caller frees), NULL when out of memory. */
char *gw_model_like(const char *q);

/* Closes unit id (form required): status "closed" and every session of its
 * operators revoked. UK_ERR_ADMIN_INVALID when it is closed already. (And
 * gw_unit_authorize answers UK_ERR_POLICY_AGREEMENT for a unit that has not
 * signed the agreement.) */
int gw_unit_close(struct store *st, const struct gw_actor *a, const char *id);

#endif
