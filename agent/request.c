/* agent/request.c: strict intake of the agent API's JSON request bodies. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/request.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/json.h"

int
ag_nonce_valid(const char *nonce)
{
	size_t n;

	if (nonce == NULL)
		return UK_ERR_INPUT;
	n = strlen(nonce);
	if (n < AG_NONCE_MIN || n > AG_NONCE_MAX)
		return UK_ERR_INPUT;
	if (strspn(nonce,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789+/=_-") != n)
		return UK_ERR_INPUT;
	return 0;
}

int
ag_serial_valid(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) == 0 || n > 16)
		return UK_ERR_INPUT;
	for (i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':')
			return UK_ERR_INPUT;
	}
	return 0;
}

int
ag_cert_id_parse(const char *s, char *serial, struct p11_id *id)
{
	const char *colon;
	size_t n;

	serial[0] = '\0';
	if (s == NULL || strlen(s) > AG_CERT_ID_MAX)
		return UK_ERR_INPUT;
	if ((colon = strchr(s, ':')) != NULL) {
		n = (size_t)(colon - s);
		if (n == 0 || n > 16)
			return UK_ERR_INPUT;
		memcpy(serial, s, n);
		serial[n] = '\0';
		if (ag_serial_valid(serial) != 0) {
			serial[0] = '\0';
			return UK_ERR_INPUT;
		}
		s = colon + 1;
	}
	if (p11_id_from_hex(s, id) != 0) {
		serial[0] = '\0';
		return UK_ERR_INPUT;
	}
	return 0;
}

void
ag_req_clear(struct ag_req *r)
{
	if (r == NULL)
		return;
	if (r->der != NULL) {
		OPENSSL_cleanse(r->der, r->der_len);
		free(r->der);
	}
	secret_free(r->pin);
	secret_free(r->new_pin);
	secret_free(r->so_pin);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* Copies an optional string field of at most size - 1 bytes into out. */
static int
get_str(const json_t *o, const char *key, char *out, size_t size, int required)
{
	const char *s;
	int r;

	out[0] = '\0';
	r = json_get_string(o, key, size - 1, &s);
	if (r == UK_ERR_NOT_FOUND)
		return required ? UK_ERR_INPUT : 0;
	if (r != 0)
		return UK_ERR_INPUT;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* Moves an optional secret field into *out and wipes it in the JSON. */
static int
get_secret(json_t *o, const char *key, struct secret **out)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;
	int r;

	*out = NULL;
	if (v == NULL)
		return 0;
	r = json_get_string(o, key, AG_REQ_PIN_MAX, &s);
	n = json_is_string(v) ? json_string_length(v) : 0;
	if (r == 0 && (*out = secret_from(s, n)) == NULL)
		r = UK_ERR_NOMEM;
	if (json_is_string(v))
		OPENSSL_cleanse((void *)json_string_value(v), n);
	return r == UK_ERR_NOMEM ? r : (r != 0 ? UK_ERR_INPUT : 0);
}

/* Printable text without control characters (UTF-8 passes). */
static int
text_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

static int
parse_fields(enum ag_req_kind kind, json_t *o, struct ag_req *q)
{
	static const char *const k_auth[] = { "nonce", "certificate", "pin",
		NULL };
	static const char *const k_enroll[] = { "subject", "keyType", "label",
		"token", "pin", NULL };
	static const char *const k_install[] = { "id", "certificate", "label",
		"pin", NULL };
	static const char *const k_unlock[] = { "token", "soPin", "newPin",
		NULL };
	static const char *const k_change[] = { "token", "pin", "newPin",
		NULL };
	char serial[17], b64[AG_CERT_DER_MAX * 4 / 3 + 8];
	struct p11_id id;
	int r = UK_ERR_INPUT;

	switch (kind) {
	case AG_REQ_AUTH:
		if (json_only_keys(o, k_auth) != 0 ||
		    get_str(o, "nonce", q->nonce, sizeof(q->nonce), 1) != 0 ||
		    ag_nonce_valid(q->nonce) != 0 ||
		    get_str(o, "certificate", q->cert, sizeof(q->cert), 0) !=
		        0 ||
		    (q->cert[0] != '\0' &&
		        ag_cert_id_parse(q->cert, serial, &id) != 0))
			goto out;
		r = get_secret(o, "pin", &q->pin);
		break;
	case AG_REQ_ENROLL:
		if (json_only_keys(o, k_enroll) != 0 ||
		    get_str(o, "subject", q->subject, sizeof(q->subject), 1) !=
		        0 ||
		    q->subject[0] != '/' || !text_ok(q->subject) ||
		    get_str(o, "keyType", q->key_type, sizeof(q->key_type),
		        0) != 0 ||
		    get_str(o, "label", q->label, sizeof(q->label), 0) != 0 ||
		    !text_ok(q->label) ||
		    get_str(o, "token", q->token, sizeof(q->token), 0) != 0 ||
		    (q->token[0] != '\0' && ag_serial_valid(q->token) != 0))
			goto out;
		if (q->key_type[0] == '\0')
			memcpy(q->key_type, "EC", 3);
		if (strcmp(q->key_type, "EC") != 0 &&
		    strcmp(q->key_type, "RSA") != 0)
			goto out;
		r = get_secret(o, "pin", &q->pin);
		break;
	case AG_REQ_INSTALL:
		if (json_only_keys(o, k_install) != 0 ||
		    get_str(o, "id", q->cert, sizeof(q->cert), 1) != 0 ||
		    ag_cert_id_parse(q->cert, serial, &id) != 0 ||
		    serial[0] == '\0' ||
		    get_str(o, "certificate", b64, sizeof(b64), 1) != 0 ||
		    get_str(o, "label", q->label, sizeof(q->label), 0) != 0 ||
		    !text_ok(q->label))
			goto out;
		if ((r = b64_decode(b64, sizeof(b64), 0, &q->der,
		         &q->der_len)) != 0) {
			r = r == UK_ERR_NOMEM ? r : UK_ERR_INPUT;
			goto out;
		}
		r = UK_ERR_INPUT;
		if (q->der_len == 0 || q->der_len > AG_CERT_DER_MAX)
			goto out;
		r = get_secret(o, "pin", &q->pin);
		break;
	case AG_REQ_UNLOCK:
		if (json_only_keys(o, k_unlock) != 0 ||
		    get_str(o, "token", q->token, sizeof(q->token), 0) != 0 ||
		    (q->token[0] != '\0' && ag_serial_valid(q->token) != 0))
			goto out;
		if ((r = get_secret(o, "soPin", &q->so_pin)) != 0)
			goto out;
		r = get_secret(o, "newPin", &q->new_pin);
		break;
	case AG_REQ_CHANGE_PIN:
		if (json_only_keys(o, k_change) != 0 ||
		    get_str(o, "token", q->token, sizeof(q->token), 0) != 0 ||
		    (q->token[0] != '\0' && ag_serial_valid(q->token) != 0))
			goto out;
		if ((r = get_secret(o, "pin", &q->pin)) != 0)
			goto out;
		r = get_secret(o, "newPin", &q->new_pin);
		break;
	default:
		goto out;
	}
out:
	OPENSSL_cleanse(b64, sizeof(b64));
	return r;
}

/* Wipes every string value of o (PINs may hide under any key of a
 * malformed request). */
static void
wipe_strings(json_t *o)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		(void)key;
		if (json_is_string(v))
			OPENSSL_cleanse((void *)json_string_value(v),
			    json_string_length(v));
	}
}

int
ag_req_parse(enum ag_req_kind kind, const char *body, size_t len,
    struct ag_req *out)
{
	json_t *o = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if ((r = json_parse_object(body, len, AG_BODY_MAX, &o)) != 0)
		goto out;
	r = parse_fields(kind, o, out);
out:
	if (o != NULL)
		wipe_strings(o);
	json_decref(o);
	if (r != 0) {
		ag_req_clear(out);
		out->kind = kind;
	}
	return r;
}
