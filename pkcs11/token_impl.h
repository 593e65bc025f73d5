/* pkcs11/token_impl.h: internals shared by the files of the token layer (not for other folders). */
#ifndef UK_P11_TOKEN_IMPL_H
#define UK_P11_TOKEN_IMPL_H

#include <stddef.h>

#include <libp11.h>
#include <p11-kit/pkcs11.h>

#include "pkcs11/token.h"

/* The catch-all for a token that refuses or fails an operation in a way no
 * more precise code describes. */
#define P11_ERR_DEVICE UK_ERR_TOKEN_DEVICE

/* Most sessions or objects looked at in one search. */
#define P11_FIND_MAX 2

struct p11_ctx {
	PKCS11_CTX *p11;
	char *module;            /* realpath of the module */
	void *dl;                /* our own reference to the loaded module */
	CK_FUNCTION_LIST_PTR fl; /* the module's function list */
	int loaded;              /* module loaded and initialised */
	PKCS11_SLOT *slots;      /* libp11's slot list */
	unsigned int nslots;
	CK_SLOT_ID *rw; /* slots whose libp11 sessions were made R/W */
	size_t nrw;
	size_t caprw;
	CK_RV last_rv;
};

struct p11_token {
	struct p11_ctx *ctx;
	char serial[17];
	char label[33];
	CK_SLOT_ID slot_id; /* where it was last seen */
	struct p11_status status;
	enum p11_pin_verdict pin_verdict; /* of the last login */
};

/* token_rv.c */

/* Clears OpenSSL's error queue and sets ctx's last CK_RV to CKR_OK; call
 * before every libp11 call whose failure is then read with p11_err_take. */
void p11_err_reset(struct p11_ctx *ctx);

/* Drains OpenSSL's error queue after a failed libp11 call, keeps the CK_RV
 * of the last PKCS#11 entry (libp11 puts the CK_RV as the reason of an error
 * whose library is ERR_get_CKR_code()) as ctx's last CK_RV and returns it;
 * P11_RV_NONE when there was none. */
CK_RV p11_err_take(struct p11_ctx *ctx);

/* Records rv, returned by a direct call to the module, as ctx's last CK_RV
 * and returns it. */
CK_RV p11_rv_set(struct p11_ctx *ctx, CK_RV rv);

/* Returns 1 when rv means the token has gone (pulled out, or its sessions
 * died with it). */
int p11_rv_removed(CK_RV rv);

/* Maps rv to a UK_ERR_* code: the PIN and removal codes, UK_ERR_NOMEM for
 * CKR_HOST_MEMORY, 0 for CKR_OK, fallback for anything else. */
int p11_rv_err(CK_RV rv, int fallback);

/* token.c */

/* Copies a space-padded PKCS#11 text field of srclen bytes into dst (size
 * bytes) without the trailing padding and NUL-terminated. */
void p11_trim(char *dst, size_t size, const unsigned char *src, size_t srclen);

/* Fills st from a CK_TOKEN_INFO's flags and PIN lengths. */
void p11_status_from_info(const CK_TOKEN_INFO *ti, struct p11_status *st);

/* Reads the slot list again through libp11 when force is set or when the
 * module's slots or tokens changed since it was read. Reading it again
 * releases libp11's slots, which closes their sessions: every token of ctx
 * is logged out. Pointers into the old list become invalid. Returns 0,
 * UK_ERR_TOKEN_MODULE. */
int p11_slots_refresh(struct p11_ctx *ctx, int force);

/* Makes libp11 use R/W sessions on slot (once per slot list: libp11 fixes
 * the mode with the first session and changing it closes every session,
 * logging the token out). Returns 0 or UK_ERR_NOMEM. */
int p11_slot_rw(struct p11_ctx *ctx, PKCS11_SLOT *slot);

/* Finds tok's token in ctx's slots, reading the slot list again when it is
 * not where it was; *slot is libp11's (valid until the slot list is read
 * again or ctx reloaded). Refreshes tok->status and tok->label.
 * Returns 0, UK_ERR_TOKEN_REMOVED, UK_ERR_TOKEN_MODULE, UK_ERR_NOMEM. */
int p11_resolve(struct p11_token *tok, PKCS11_SLOT **slot);

/* Reads tok's CK_TOKEN_INFO into tok->status (and *ti when not NULL).
 * Returns 0, UK_ERR_TOKEN_REMOVED, P11_ERR_DEVICE. */
int p11_status_read(struct p11_token *tok, CK_TOKEN_INFO *ti);

/* Opens a session of our own on tok's slot (R/W when rw), beside libp11's;
 * it shares the token's login state. Close with p11_session_close. Returns
 * 0, UK_ERR_TOKEN_REMOVED, P11_ERR_DEVICE. */
int p11_session_open(struct p11_token *tok, int rw, CK_SESSION_HANDLE *s);

/* Closes a session from p11_session_open; CK_INVALID_HANDLE is a no-op. */
void p11_session_close(struct p11_ctx *ctx, CK_SESSION_HANDLE s);

/* Finds the object of class cls with CKA_ID id. Returns 0 and *obj,
 * UK_ERR_NOT_FOUND, UK_ERR_TOKEN_REMOVED, P11_ERR_DEVICE. */
int p11_find(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
    const struct p11_id *id, CK_OBJECT_HANDLE *obj);

/* Reads attribute type of obj into buf (cap bytes), *len its length; a
 * value that is unavailable or longer than cap is refused. Returns 0,
 * UK_ERR_NOT_FOUND (unavailable), UK_ERR_LIMIT (too long),
 * UK_ERR_TOKEN_REMOVED, P11_ERR_DEVICE. */
int p11_attr(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_TYPE type, void *buf, size_t cap, size_t *len);

/* Reads a CK_ULONG attribute (CKA_KEY_TYPE, CKA_CLASS). Returns as
 * p11_attr. */
int p11_attr_ulong(struct p11_ctx *ctx, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);

/* token_key.c */

/* Builds an EVP_PKEY from an EC P-256 or RSA public key object (or RSA
 * private key object) obj. Returns 0, UK_ERR_TOKEN_KEY_NOT_FOUND (not a key
 * we understand), UK_ERR_TOKEN_REMOVED, P11_ERR_DEVICE, UK_ERR_NOMEM. */
int p11_pubkey_from_object(struct p11_ctx *ctx, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE obj, EVP_PKEY **out);

#endif
