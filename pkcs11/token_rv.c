/* pkcs11/token_rv.c: CK_RV names, the CK_RV libp11 leaves in OpenSSL's error queue, CK_RV to UK_ERR_*. */
#include <stddef.h>

#include <openssl/err.h>

#include "common/errors.h"
#include "pkcs11/ckr_names.h"
#include "pkcs11/token_impl.h"

const char *
p11_rv_name(CK_RV rv)
{
	const char *name;

	if (rv == P11_RV_NONE)
		return "(no CK_RV)";
	if ((name = ckr_name(rv)) != NULL)
		return name;
	if (rv & CKR_VENDOR_DEFINED)
		return "CKR_VENDOR_DEFINED";
	return "CKR_(unknown)";
}

CK_RV
p11_last_rv(const struct p11_ctx *ctx)
{
	return ctx->last_rv;
}

const char *
p11_last_rv_name(const struct p11_ctx *ctx)
{
	return p11_rv_name(ctx->last_rv);
}

void
p11_err_reset(struct p11_ctx *ctx)
{
	ERR_clear_error();
	ctx->last_rv = CKR_OK;
}

CK_RV
p11_err_take(struct p11_ctx *ctx)
{
	unsigned long e;
	CK_RV rv = P11_RV_NONE;
	int lib = ERR_get_CKR_code();

	/* libp11 0.4.12 reports a failed PKCS#11 call as an OpenSSL error of
	 * its own library (ERR_LIB_PKCS11, i.e. ERR_get_CKR_code()) with the
	 * CK_RV as the reason. Its other errors (P11_R_*) use a second
	 * library and carry no CK_RV. */
	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_LIB(e) == lib)
			rv = (CK_RV)ERR_GET_REASON(e);
	}
	ctx->last_rv = rv;
	return rv;
}

CK_RV
p11_rv_set(struct p11_ctx *ctx, CK_RV rv)
{
	ctx->last_rv = rv;
	return rv;
}

int
p11_rv_removed(CK_RV rv)
{
	switch (rv) {
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_SLOT_ID_INVALID:
		return 1;
	default:
		return 0;
	}
}

int
p11_rv_err(CK_RV rv, int fallback)
{
	if (p11_rv_removed(rv))
		return UK_ERR_TOKEN_REMOVED;
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
		return UK_ERR_TOKEN_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
		return UK_ERR_TOKEN_PIN_LOCKED;
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_INVALID:
		return UK_ERR_TOKEN_PIN_FORMAT;
	case CKR_TOKEN_NOT_RECOGNIZED:
		return UK_ERR_TOKEN_NOT_PRESENT;
	case CKR_HOST_MEMORY:
		return UK_ERR_NOMEM;
	default:
		return fallback;
	}
}
