/* agent/ipc.h: size-checked, typed, length-prefixed messages between the HTTP front and the token worker. */
#ifndef UK_AGENT_IPC_H
#define UK_AGENT_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/secret.h"

/*
 * A frame is an 8-byte header, "UA", version 1, the message type, the
 * payload's length (32 bits, big-endian), then the payload: fields of one
 * byte tag, two bytes length (big-endian), and that many bytes. A whole
 * frame is at most AG_IPC_MAX bytes; each tag appears at most once; string
 * fields carry their terminating NUL and no other. Anything else is
 * refused before a single field is looked at. Message memory is locked
 * where the system allows it and wiped when freed, since request messages
 * may carry PINs.
 */

#define AG_IPC_MAX (16 * 1024)
#define AG_IPC_HEADER 8

/* Message types. Requests go from the front to the worker, which answers
 * each with exactly one AG_MSG_RESULT. AG_MSG_EVENT goes from the card
 * events process to the front. */
enum ag_msg_type {
	AG_MSG_AUTH = 1,       /* authenticate: ORIGIN NONCE [CERT] [PIN] */
	AG_MSG_LIST = 2,       /* certificates */
	AG_MSG_STATUS = 3,     /* tokens and PIN states */
	AG_MSG_ENROLL = 4,     /* counter: key pair + CSR */
	AG_MSG_INSTALL = 5,    /* counter: store a certificate */
	AG_MSG_UNLOCK = 6,     /* counter: SO unblock, new PIN */
	AG_MSG_CHANGE_PIN = 7, /* counter: change the user PIN */
	AG_MSG_RELOAD = 8,     /* a UKey came or went: rebuild the context */
	AG_MSG_RESULT = 64,    /* CODE [BODY] [PINSTATE] [SERIAL] */
	AG_MSG_EVENT = 65,     /* JSON */
};

/* Field tags. */
enum ag_tag {
	AG_T_ORIGIN = 1,
	AG_T_NONCE = 2,
	AG_T_CERT = 3, /* certificate id "SERIAL:IDHEX" or "IDHEX" */
	AG_T_PIN = 4,
	AG_T_NEW_PIN = 5,
	AG_T_SO_PIN = 6,
	AG_T_SUBJECT = 7,
	AG_T_KEY_TYPE = 8,
	AG_T_LABEL = 9,
	AG_T_DER = 10,
	AG_T_SERIAL = 11,
	AG_T_CODE = 12,     /* u32: 0 or a UK_ERR_* code */
	AG_T_BODY = 13,     /* JSON text of a successful answer */
	AG_T_PINSTATE = 14, /* JSON text {"state","retriesLeft","source"} */
	AG_T_JSON = 15,     /* JSON text of an event */
	AG_T_LANG = 16,     /* "zh" or "en": the PIN dialog's language */
};

struct ag_msg;

/* A new empty message of type. NULL when out of memory. Free with
 * ag_msg_free. */
struct ag_msg *ag_msg_new(int type);

/* Wipes and frees m; NULL is a no-op. */
void ag_msg_free(struct ag_msg *m);

/* The message's type. */
int ag_msg_type(const struct ag_msg *m);

/* Appends field tag with len bytes of data (copied). Returns 0,
 * UK_ERR_EXISTS (tag already present), UK_ERR_LIMIT (frame would exceed
 * AG_IPC_MAX or len 65535), UK_ERR_INPUT (tag 0 or above 255). */
int ag_msg_put(struct ag_msg *m, int tag, const void *data, size_t len);

/* ag_msg_put of the NUL-terminated s with its NUL. */
int ag_msg_put_str(struct ag_msg *m, int tag, const char *s);

/* ag_msg_put of v as 4 bytes, big-endian. */
int ag_msg_put_u32(struct ag_msg *m, int tag, uint32_t v);

/* ag_msg_put of a secret's bytes (may be NULL: then nothing is added and 0
 * returned). */
int ag_msg_put_secret(struct ag_msg *m, int tag, const struct secret *s);

/* Finds field tag: *data points into m (valid while m lives). Returns 0
 * or UK_ERR_NOT_FOUND. */
int ag_msg_get(const struct ag_msg *m, int tag, const void **data, size_t *len);

/* The string in field tag (pointer into m), or NULL when absent or not a
 * string field. */
const char *ag_msg_str(const struct ag_msg *m, int tag);

/* Reads a u32 field. Returns 0, UK_ERR_NOT_FOUND, UK_ERR_INPUT (not 4
 * bytes). */
int ag_msg_u32(const struct ag_msg *m, int tag, uint32_t *out);

/* Copies field tag into a new secret *out (caller frees); *out is NULL
 * and 0 returned when the field is absent. Returns 0 or UK_ERR_NOMEM. */
int ag_msg_secret(const struct ag_msg *m, int tag, struct secret **out);

/* Parses one whole frame of len bytes (header included) into *out (caller
 * frees). Returns 0, UK_ERR_LIMIT (longer than AG_IPC_MAX), UK_ERR_INPUT
 * (anything malformed, including trailing bytes), UK_ERR_NOMEM. */
int ag_msg_decode(const unsigned char *buf, size_t len, struct ag_msg **out);

/* The frame of m: *buf points into m, *len its length. */
void
ag_msg_frame(const struct ag_msg *m, const unsigned char **buf, size_t *len);

/* Writes m to fd (a socket: MSG_NOSIGNAL, so a dead peer gives an error,
 * not SIGPIPE). Returns 0 or UK_ERR_IO. */
int ag_msg_send(int fd, const struct ag_msg *m);

/* Reads one frame from fd into *out (caller frees). timeout_ms bounds the
 * wait for its first byte (negative: no limit; 0: only if it is there);
 * once begun, a frame gets 2 s more for the rest, so that a timeout never
 * cuts one in two. Returns 0, UK_ERR_TIMEOUT (nothing read: the stream is
 * intact), UK_ERR_IO (end of file or a read error: the peer is gone, or a
 * frame stopped half-way), UK_ERR_LIMIT, UK_ERR_INPUT (malformed; the
 * stream cannot be trusted after this), UK_ERR_NOMEM. */
int ag_msg_recv(int fd, int timeout_ms, struct ag_msg **out);

#endif
