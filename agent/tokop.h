/* agent/tokop.h: the token worker's operations: PIN through the lockout guard, login, challenge signature, lists, counter operations. */
#ifndef UK_AGENT_TOKOP_H
#define UK_AGENT_TOKOP_H

#include <stddef.h>

#include <jansson.h>

#include "agent/request.h"
#include "common/config.h"
#include "common/secret.h"

/*
 * This is the only part of the agent that loads the PKCS#11 module and
 * sees PINs (the token worker process, and the command-line subcommands
 * that work on the token directly). Every operation that tries a PIN goes
 * through the lockout guard: PIN state read (guard and token flags
 * merged), refusal without asking when locked, the PIN obtained (given,
 * pinentry, or the terminal), checked for its length, the attempt
 * recorded durably, the token tried once (logging out first), the
 * outcome answered at once and written by ag_tokop_flush, and a logout
 * when done. Nothing signs anything but the
 * challenge value H(H(origin) || H(nonce)), and only for an allowed
 * origin.
 */

/* Where PINs come from when an operation is not given one. */
enum ag_pin_ask {
	AG_ASK_NONE = 0, /* not at all: a missing PIN is UK_ERR_INPUT */
	AG_ASK_PINENTRY, /* the configured pinentry program */
	AG_ASK_TTY,      /* the controlling terminal */
};

/* What an operation answers. */
struct ag_result {
	int code;        /* 0 or a UK_ERR_* code */
	json_t *body;    /* on success: the answer's JSON object */
	json_t *pin;     /* the PIN state object when known, else NULL */
	char serial[17]; /* the token concerned, "" when none */
};

/* Drops what res holds and empties it. */
void ag_result_clear(struct ag_result *res);

struct ag_tokop;

/* Prepares the operations for cfg (which must outlive *out): origins and
 * module allowlist, the guard's directory (created 0700). The module is
 * loaded at the first operation, and again after a failure. Returns 0,
 * UK_ERR_IO (guard directory), UK_ERR_CONFIG_VALUE, UK_ERR_NOMEM. */
int ag_tokop_new(const struct config *cfg, enum ag_pin_ask ask,
    struct ag_tokop **out);

/* Writes the outcome of the last PIN attempt to the lockout guard. Every
 * operation answers as soon as the token has, with the new PIN state, and
 * leaves that write for later (the worker calls this once its answer is
 * sent; the next operation and ag_tokop_free call it too), so that only
 * the record made before the attempt is in the way of the answer. Returns
 * 0, or UK_ERR_IO when it could not be written (logged; the attempt then
 * counts as a wrong PIN). */
int ag_tokop_flush(struct ag_tokop *t);

/* A UKey was inserted or removed: drops what is cached and rebuilds the
 * PKCS#11 context (p11_ctx_reload), so that sessions of a key that went
 * away are not used with the key that came back. Returns 0 or
 * UK_ERR_TOKEN_MODULE (the module is loaded afresh at the next
 * operation). */
int ag_tokop_reload(struct ag_tokop *t);

/* Writes what ag_tokop_flush writes, logs out, unloads the module and
 * frees t; NULL is a no-op. */
void ag_tokop_free(struct ag_tokop *t);

/*
 * Authenticates: origin (must be on allowed_origins), nonce (44 to 128
 * base64 characters), cert_id ("SERIAL:IDHEX", "IDHEX" or NULL/"" for the
 * first certificate found), pin (NULL: ask). en: English dialog texts.
 * On success res->body is {"format":"ukey-auth:1.0",
 * "unverifiedCertificate","algorithm","signature","appVersion"}: the
 * signature (ES256 raw r||s, RS256, PS256; each with SHA-256 inside) over
 * the 64 bytes H(origin) || H(nonce), so that the signed digest is
 * H(H(origin) || H(nonce)). Returns res->code: 0, UK_ERR_POLICY_DENIED,
 * UK_ERR_INPUT, UK_ERR_TOKEN_* (PIN_INCORRECT with tries left in res->pin,
 * PIN_LOCKED, REMOVED, ...), UK_ERR_CANCELLED, UK_ERR_TIMEOUT,
 * UK_ERR_TOKEN_PIN_ENTRY, UK_ERR_TOKEN_PIN_TO_BE_CHANGED, UK_ERR_IO (guard).
 */
int ag_tokop_authenticate(struct ag_tokop *t, const char *origin,
    const char *nonce, const char *cert_id, const struct secret *pin, int en,
    struct ag_result *res);

/* Lists tokens and their certificates: {"tokens":[{"serial","label",
 * "manufacturer","model","pin":{…}}],"certificates":[{"id","token",
 * "label","subject","issuer","notBefore","notAfter","algorithm",
 * "certificate"}]}. Returns res->code. */
int ag_tokop_list(struct ag_tokop *t, struct ag_result *res);

/* Tokens and PIN states only: {"moduleLoaded":bool,"tokens":[…]}. */
int ag_tokop_status(struct ag_tokop *t, struct ag_result *res);

/* Counter: generates a key pair (key_type "EC" or "RSA") on the token
 * serial (""/NULL: the first) with label, and a CSR for subject
 * ("/CN=…/O=…"): {"id":"SERIAL:IDHEX","csr":PEM}. Needs the user PIN. */
int ag_tokop_enroll(struct ag_tokop *t, const char *serial, const char *subject,
    const char *key_type, const char *label, const struct secret *pin, int en,
    struct ag_result *res);

/* Counter: stores the DER certificate on the token named by cert_id
 * ("SERIAL:IDHEX") beside its key: {"id":…}. Needs the user PIN. */
int ag_tokop_install(struct ag_tokop *t, const char *cert_id,
    const unsigned char *der, size_t der_len, const char *label,
    const struct secret *pin, int en, struct ag_result *res);

/* Counter: SO unblock: C_InitPIN with new_pin after an SO login with
 * so_pin (either NULL: ask); the guard's user count is reset. */
int ag_tokop_unlock(struct ag_tokop *t, const char *serial,
    const struct secret *so_pin, const struct secret *new_pin, int en,
    struct ag_result *res);

/* Changes the user PIN (either NULL: ask). */
int ag_tokop_change_pin(struct ag_tokop *t, const char *serial,
    const struct secret *pin, const struct secret *new_pin, int en,
    struct ag_result *res);

/* Computes the challenge's signed data into out (64 bytes):
 * SHA-256(origin) || SHA-256(nonce), the nonce as its text. */
void ag_tbs(const char *origin, const char *nonce, unsigned char *out);

#endif
