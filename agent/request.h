/* agent/request.h: strict intake of the agent API's JSON request bodies. */
#ifndef UK_AGENT_REQUEST_H
#define UK_AGENT_REQUEST_H

#include <stddef.h>

#include "common/secret.h"
#include "pkcs11/token.h"

/* Largest request body accepted (413 above). */
#define AG_BODY_MAX 8192
/* Nonce length bounds, in characters of its base64 text. */
#define AG_NONCE_MIN 44
#define AG_NONCE_MAX 128
/* A certificate id: "SERIAL:IDHEX" (serial of at most 16 characters). */
#define AG_CERT_ID_MAX (16 + 1 + 2 * P11_ID_MAX)
/* Longest PIN taken from a request (the token layer refuses more than
 * P11_PIN_MAX without trying it). */
#define AG_REQ_PIN_MAX 256
/* Longest subject accepted for enrolment ("/CN=…/O=…"). */
#define AG_SUBJECT_MAX 512
/* Largest certificate accepted for installation, DER bytes. */
#define AG_CERT_DER_MAX 6144

enum ag_req_kind {
	AG_REQ_AUTH = 1,   /* {"nonce", "certificate"?, "pin"?} */
	AG_REQ_ENROLL,     /* {"subject", "keyType"?, "label"?, "token"?,
	                       "pin"?} */
	AG_REQ_INSTALL,    /* {"id", "certificate" (base64 DER), "label"?,
	                       "pin"?} */
	AG_REQ_UNLOCK,     /* {"token"?, "soPin"?, "newPin"?} */
	AG_REQ_CHANGE_PIN, /* {"token"?, "pin"?, "newPin"?} */
};

/* A parsed request. Strings are "" when absent. */
struct ag_req {
	enum ag_req_kind kind;
	char nonce[AG_NONCE_MAX + 1];
	char cert[AG_CERT_ID_MAX + 1]; /* certificate id (AUTH, INSTALL) */
	char token[17];                /* token serial */
	char subject[AG_SUBJECT_MAX + 1];
	char key_type[8]; /* "EC" or "RSA" */
	char label[P11_LABEL_MAX + 1];
	unsigned char *der; /* INSTALL: the certificate, malloc'd */
	size_t der_len;
	struct secret *pin; /* NULL when absent */
	struct secret *new_pin;
	struct secret *so_pin;
};

/*
 * Parses body (len bytes, at most AG_BODY_MAX) as the request of kind:
 * one JSON object, no duplicate or unknown keys, every field of the right
 * type and length, the nonce 44 to 128 characters of base64 or base64url,
 * ids in hex, a DER certificate in standard base64. PINs go straight into
 * secrets and their copies in the parsed JSON are wiped. Whether a PIN
 * must or must not be present is the caller's rule (pin_source). On
 * success *out is filled (ag_req_clear frees what it holds); on failure it
 * holds nothing. Returns 0, UK_ERR_LIMIT, UK_ERR_JSON, UK_ERR_INPUT,
 * UK_ERR_NOMEM.
 */
int ag_req_parse(enum ag_req_kind kind, const char *body, size_t len,
    struct ag_req *out);

/* Frees and wipes what r holds and empties it. */
void ag_req_clear(struct ag_req *r);

/* Checks a nonce: AG_NONCE_MIN..AG_NONCE_MAX characters of
 * [A-Za-z0-9+/=_-]. Returns 0 or UK_ERR_INPUT. */
int ag_nonce_valid(const char *nonce);

/* Splits a certificate id "SERIAL:IDHEX" (or just "IDHEX") into serial
 * (17 bytes; "" when not given) and *id. Returns 0 or UK_ERR_INPUT. */
int ag_cert_id_parse(const char *s, char *serial, struct p11_id *id);

/* Checks a token serial as given in a request: 1 to 16 printable ASCII
 * characters without ':'. Returns 0 or UK_ERR_INPUT. */
int ag_serial_valid(const char *s);

#endif
