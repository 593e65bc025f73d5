/* pkcs11/token.h: the token layer over libp11: modules, UKeys, PINs, keys, signatures, CSRs. */
#ifndef UK_P11_TOKEN_H
#define UK_P11_TOKEN_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/secret.h"

/*
 * One struct p11_ctx owns one loaded PKCS#11 module (libp11 context plus the
 * module's own function list, reached with dlopen(RTLD_NOLOAD) for what
 * libp11 0.4.12 does not offer: raw token flags, EC key generation, PSS and
 * raw ECDSA signatures). A struct p11_token names one token of a context by
 * its serial number; every operation finds the token again, so a token
 * handle survives p11_ctx_reload. Neither is thread-safe: use a context and
 * its tokens from one thread at a time (the agent's token worker).
 *
 * Every int-returning function returns 0 or a UK_ERR_* code (common/errors.h);
 * besides the codes listed with each, any of them answers UK_ERR_TOKEN_MODULE
 * while its context is unloaded (a failed p11_ctx_reload). The CK_RV behind
 * the last failure is kept in the context (p11_last_rv) and every failure is
 * logged with its CK_RV name. PINs are never logged.
 *
 * libp11 0.4.12 is used for loading, slots, login and logout, PIN changes,
 * listing and storing objects; the module's own functions for token flags,
 * key generation and signing (sessions of our own, which share the token's
 * login state).
 */

struct p11_ctx;
struct p11_token;

/* Longest CKA_ID handled, in bytes. */
#define P11_ID_MAX 64
/* Largest signature p11_sign produces (RSA 4096). */
#define P11_SIG_MAX 512
/* PIN length bounds, as the error catalogue states them (UK-2009). */
#define P11_PIN_MIN 4
#define P11_PIN_MAX 64
/* Longest key or certificate label accepted. */
#define P11_LABEL_MAX 128
/* The CK_RV recorded when a failure carried none (libp11's own errors). */
#define P11_RV_NONE ((CK_RV)~0UL)

/* A CKA_ID value. */
struct p11_id {
	unsigned char b[P11_ID_MAX];
	size_t len;
};

/* State of a PIN from the token's flags, most severe first when several
 * flags are set: NOT_INITIALISED, LOCKED, FINAL_TRY, COUNT_LOW,
 * TO_BE_CHANGED, OK. */
enum p11_pin_state {
	P11_PIN_OK = 0,
	P11_PIN_COUNT_LOW,
	P11_PIN_FINAL_TRY,
	P11_PIN_LOCKED,
	P11_PIN_TO_BE_CHANGED,
	P11_PIN_NOT_INITIALISED,
};

/* What CK_TOKEN_INFO says about a token's PINs. Retries are -1 when the
 * token does not tell: by the common convention only FINAL_TRY (1) and
 * LOCKED (0) give a number; COUNT_LOW only says "fewer than the maximum".
 * The exact count is the agent's own lockout guard's business. */
struct p11_status {
	CK_FLAGS flags; /* raw CK_TOKEN_INFO flags */
	enum p11_pin_state user;
	int user_retries;
	enum p11_pin_state so;
	int so_retries;
	unsigned long min_pin; /* ulMinPinLen, ulMaxPinLen as reported */
	unsigned long max_pin;
};

enum p11_key_type { P11_KEY_EC_P256 = 1, P11_KEY_RSA_2048 };

/* A certificate object on a token. Strings are NUL-terminated UTF-8. */
struct p11_cert_info {
	char *label;   /* CKA_LABEL, may be "" */
	char *subject; /* RFC 2253 form */
	char *issuer;
	unsigned char *der;
	size_t der_len;
	struct p11_id id;
	char id_hex[2 * P11_ID_MAX + 1]; /* lower-case hex of id */
	int has_private_key; /* a private key with the same id is visible */
};

/* A key pair (or half of one) on a token, merged by CKA_ID. Private keys
 * are usually only visible while logged in. */
struct p11_key_info {
	char *label;
	struct p11_id id;
	char id_hex[2 * P11_ID_MAX + 1];
	int type; /* EVP_PKEY_EC, EVP_PKEY_RSA, or 0 when unknown */
	int has_private_key;
	int has_public_key;
	int has_cert;
};

/* One token as p11_list saw it. Text fields are trimmed of the padding
 * PKCS#11 puts in them. */
struct p11_token_info {
	unsigned long slot_id;
	char label[33];
	char serial[17];
	char manufacturer[33];
	char model[17];
	int initialized; /* CKF_TOKEN_INITIALIZED */
	struct p11_status status;
	int error; /* 0, or the UK_ERR_* met reading its objects */
	struct p11_cert_info *certs;
	size_t ncerts;
	struct p11_key_info *keys;
	size_t nkeys;
};

/* What p11_list returns; free with p11_token_list_free. */
struct p11_token_list {
	struct p11_token_info *tokens;
	size_t ntokens;
};

/*
 * Loads the PKCS#11 module at module (an absolute path) if, after realpath,
 * it is one of allowlist (a NULL-terminated array of absolute paths, also
 * resolved with realpath; NULL or empty allows nothing). The check happens
 * before anything is loaded. On success *out is a new context the caller
 * frees with p11_ctx_free. Returns UK_ERR_TOKEN_MODULE_NOT_ALLOWED,
 * UK_ERR_TOKEN_MODULE (cannot load or initialise; logged with the reason),
 * UK_ERR_NOMEM.
 */
int p11_ctx_new(const char *module, const char *const *allowlist,
    struct p11_ctx **out);

/* Logs out, finalises and unloads the module and frees ctx. Tokens of ctx
 * must be freed first. NULL is a no-op. */
void p11_ctx_free(struct p11_ctx *ctx);

/* Rebuilds ctx after a UKey was removed (or the module misbehaved): every
 * session is dropped, the module finalised, unloaded, loaded and initialised
 * again and the slots read afresh. Token handles stay valid and find their
 * token again by serial. Returns 0 or UK_ERR_TOKEN_MODULE (ctx is then
 * unloaded and every operation fails until a reload succeeds). */
int p11_ctx_reload(struct p11_ctx *ctx);

/* Returns the resolved path of the loaded module (owned by ctx). */
const char *p11_ctx_module(const struct p11_ctx *ctx);

/* Returns the CK_RV of the last failed PKCS#11 call made through ctx,
 * CKR_OK when the last operation succeeded, or P11_RV_NONE when the failure
 * had no CK_RV. Values at or above 2^23 (vendor codes) cannot travel through
 * libp11's OpenSSL error queue and come back truncated. */
CK_RV p11_last_rv(const struct p11_ctx *ctx);

/* Returns the name of rv, e.g. "CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED" for
 * any vendor code, "(no CK_RV)" for P11_RV_NONE, "CKR_(unknown)" for other
 * values. The string is static. */
const char *p11_rv_name(CK_RV rv);

/* p11_rv_name(p11_last_rv(ctx)). */
const char *p11_last_rv_name(const struct p11_ctx *ctx);

/*
 * Lists the tokens in ctx's slots with their status, certificates and keys.
 * When the module's slots or tokens changed (a UKey inserted, pulled out or
 * swapped) libp11's slot list is read again first, which logs out every
 * token of ctx; otherwise login state is kept. *out belongs to the caller
 * (p11_token_list_free). A token whose objects cannot be read is listed with
 * error set. Returns 0, UK_ERR_TOKEN_MODULE, UK_ERR_NOMEM.
 */
int p11_list(struct p11_ctx *ctx, struct p11_token_list **out);

/* Frees a list from p11_list; NULL is a no-op. */
void p11_token_list_free(struct p11_token_list *list);

/*
 * Opens a handle on the token with serial number serial (trimmed form, as in
 * struct p11_token_info), or on the first initialised token when serial is
 * NULL. The handle refers to ctx, which must outlive it; free it with
 * p11_token_free. Returns 0, UK_ERR_TOKEN_NOT_PRESENT, UK_ERR_NOMEM.
 */
int
p11_token_open(struct p11_ctx *ctx, const char *serial, struct p11_token **out);

/* Frees a token handle (does not log out). NULL is a no-op. */
void p11_token_free(struct p11_token *tok);

/* Returns the token's serial number and label as last seen (owned by tok). */
const char *p11_token_serial(const struct p11_token *tok);
const char *p11_token_label(const struct p11_token *tok);

/* Reads the token's flags now (C_GetTokenInfo) into *st and keeps them as
 * the handle's last status. Returns 0, UK_ERR_TOKEN_REMOVED,
 * UK_ERR_TOKEN_MODULE. */
int p11_token_status(struct p11_token *tok, struct p11_status *st);

/* Copies the status kept from the last time the flags were read: every
 * operation on tok reads them, and logins and PIN operations read them again
 * when they end, failed ones included. */
void p11_token_last_status(const struct p11_token *tok, struct p11_status *st);

/* What became of the PIN of the last login on tok (p11_login, and the
 * login inside p11_change_pin and p11_init_pin), for whoever counts the
 * attempts: NOT_TRIED (refused before C_Login, or the token said it was
 * locked), ACCEPTED (C_Login succeeded: the PIN was right even when the
 * operation after it failed), REJECTED (CKR_PIN_INCORRECT, or
 * CKR_PIN_LOCKED from a token whose flags did not say so: the attempt
 * that locked it), UNKNOWN (C_Login was called and failed otherwise: the
 * token pulled out, a device error; the PIN may have been checked). */
enum p11_pin_verdict {
	P11_PIN_NOT_TRIED = 0,
	P11_PIN_ACCEPTED,
	P11_PIN_REJECTED,
	P11_PIN_UNKNOWN,
};

enum p11_pin_verdict p11_token_last_pin(const struct p11_token *tok);

/* Returns "OK", "COUNT_LOW", "FINAL_TRY", "LOCKED", "TO_BE_CHANGED" or
 * "NOT_INITIALISED". Static. */
const char *p11_pin_state_name(enum p11_pin_state s);

/*
 * Logs the user in with pin, once. Logs out first and makes sure the token
 * really is logged out before C_Login (libp11 skips C_Login when it believes
 * it is already logged in, which would make any PIN "succeed"); if libp11's
 * bookkeeping cannot be put right the context is reloaded. A PIN outside
 * P11_PIN_MIN..P11_PIN_MAX or the token's own bounds, or holding a NUL byte,
 * is refused without reaching the token; so is any PIN when the token says
 * the PIN is locked. Never gives a PIN to the token twice; a C_Login
 * refused on a session of libp11's that died with an earlier removal
 * (CKR_SESSION_HANDLE_INVALID: before any PIN check) is made once more on a
 * fresh context. After a failure the token's flags are
 * read again (p11_token_last_status). While logged in, libp11 holds a copy
 * of the PIN in ordinary heap memory (to log in again after a fork);
 * p11_logout wipes it, so log out as soon as the work is done. Returns 0,
 * UK_ERR_TOKEN_PIN_INCORRECT, UK_ERR_TOKEN_PIN_LOCKED,
 * UK_ERR_TOKEN_PIN_FORMAT, UK_ERR_TOKEN_REMOVED (also when the sessions died
 * with a removal: reload the context), UK_ERR_TOKEN_NOT_PRESENT,
 * UK_ERR_TOKEN_SIGN (any other token failure).
 */
int p11_login(struct p11_token *tok, const struct secret *pin);

/* Logs out (user or SO). Not being logged in is not an error. Then wipes
 * the copy of the PIN libp11 keeps while logged in, by reading the slots
 * again: this logs out the other tokens of ctx as well. Returns 0,
 * UK_ERR_TOKEN_REMOVED, UK_ERR_TOKEN_SIGN, UK_ERR_TOKEN_MODULE. */
int p11_logout(struct p11_token *tok);

/*
 * Changes the user PIN: logs in with old_pin (as p11_login), then
 * C_SetPIN(old, new), then logs out. Returns p11_login's codes, and for the
 * new PIN UK_ERR_TOKEN_PIN_FORMAT.
 */
int p11_change_pin(struct p11_token *tok, const struct secret *old_pin,
    const struct secret *new_pin);

/*
 * Unblocks or resets the user PIN: logs out, logs in as SO with so_pin,
 * C_InitPIN(new_pin), logs out. Errors as p11_login (they then concern the
 * SO PIN, whose state is in struct p11_status.so), UK_ERR_TOKEN_PIN_FORMAT
 * for a malformed new PIN.
 */
int p11_init_pin(struct p11_token *tok, const struct secret *so_pin,
    const struct secret *new_pin);

/*
 * Signs tbs with the private key whose CKA_ID is id; needs a login.
 * alg: "ES256" (SHA-256 then CKM_ECDSA; sig is raw r||s, 64 bytes),
 * "RS256" (CKM_RSA_PKCS over the SHA-256 DigestInfo), "PS256"
 * (CKM_RSA_PKCS_PSS, SHA-256, MGF1-SHA-256, 32-byte salt). On entry *siglen
 * is the size of sig, on success the signature's length. Returns 0,
 * UK_ERR_INPUT (unknown alg, alg not for this key type), UK_ERR_LIMIT (sig
 * too small), UK_ERR_TOKEN_KEY_NOT_FOUND (no such key, or not logged in),
 * UK_ERR_TOKEN_REMOVED, UK_ERR_TOKEN_SIGN.
 */
int p11_sign(struct p11_token *tok, const struct p11_id *id, const char *alg,
    const unsigned char *tbs, size_t tbs_len, unsigned char *sig,
    size_t *siglen);

/*
 * Generates a key pair of type on the token; needs a login. The private key
 * is sensitive, not extractable and for signing only; both halves are
 * stored on the token with label and CKA_ID *id, or, when id is NULL, a
 * fresh random 16-byte id. *out_id (may be NULL) receives the id used.
 * Returns 0, UK_ERR_INPUT (bad label or id), UK_ERR_EXISTS (an object has
 * this id), UK_ERR_TOKEN_REMOVED, UK_ERR_TOKEN_SIGN (the token refused, e.g.
 * not logged in).
 */
int p11_keygen(struct p11_token *tok, enum p11_key_type type, const char *label,
    const struct p11_id *id, struct p11_id *out_id);

/* Reads the public key of the key pair with CKA_ID id (its public key
 * object, else the RSA private key's public attributes) into *out (caller
 * frees with EVP_PKEY_free). Only EC P-256 and RSA keys are understood.
 * Returns 0, UK_ERR_TOKEN_KEY_NOT_FOUND, UK_ERR_TOKEN_REMOVED,
 * UK_ERR_TOKEN_SIGN. */
int
p11_public_key(struct p11_token *tok, const struct p11_id *id, EVP_PKEY **out);

/*
 * Builds a PKCS#10 request for the key pair with CKA_ID id, with subject
 * (copied) and the token's public key, signed on the token
 * (ecdsa-with-SHA256 or sha256WithRSAEncryption); needs a login. *out
 * belongs to the caller (X509_REQ_free). Returns p11_sign's codes and
 * UK_ERR_NOMEM.
 */
int p11_csr(struct p11_token *tok, const struct p11_id *id,
    const X509_NAME *subject, X509_REQ **out);

/*
 * Stores cert on the token with CKA_ID id and label (NULL: none) after
 * checking that its public key is the one of the key pair with that id.
 * Usually needs a login. cert is not taken. Returns 0, UK_ERR_INPUT,
 * UK_ERR_TOKEN_KEY_NOT_FOUND (no key with this id, or not this cert's key),
 * UK_ERR_TOKEN_REMOVED, UK_ERR_TOKEN_SIGN (the token refused).
 */
int p11_store_cert(struct p11_token *tok, const struct p11_id *id,
    const char *label, X509 *cert);

/* Parses hex (upper or lower case, even length, at most 2 * P11_ID_MAX
 * digits, not empty) into *id. Returns 0 or UK_ERR_INPUT. */
int p11_id_from_hex(const char *hex, struct p11_id *id);

/* Writes id as lower-case hex into out (size bytes, at least 2 * len + 1).
 * Returns 0 or UK_ERR_LIMIT. */
int p11_id_to_hex(const struct p11_id *id, char *out, size_t size);

#endif
