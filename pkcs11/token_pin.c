/* pkcs11/token_pin.c: login and logout that cannot be fooled by libp11's login cache, PIN change, SO unblock. */
#include <string.h>

#include <openssl/err.h>

#include "common/errors.h"
#include "common/log.h"
#include "pkcs11/token_impl.h"

static const char *
who(int so)
{
	return so ? "SO" : "user";
}

/* Checks what can be checked of a PIN without the token. */
static int
pin_ok(const struct secret *pin)
{
	int r = UK_ERR_TOKEN_PIN_FORMAT;

	if (pin == NULL || pin->buf == NULL || pin->len < P11_PIN_MIN ||
	    pin->len > P11_PIN_MAX)
		goto out;
	/* libp11 takes C strings: a NUL inside would cut the PIN short. */
	if (memchr(pin->buf, '\0', pin->len) != NULL)
		goto out;
	r = 0;
out:
	return r;
}

/* Checks a PIN against the lengths the token says it accepts (when those
 * make sense), so that a PIN that cannot be right costs no try. */
static int
pin_fits(const struct p11_token *tok, const struct secret *pin)
{
	unsigned long min = tok->status.min_pin, max = tok->status.max_pin;
	int r = 0;

	/* Bounds that make no sense are the module's problem, not a PIN's. */
	if (min > max || max < P11_PIN_MIN)
		goto out;
	if (pin->len < min || pin->len > max) {
		r = UK_ERR_TOKEN_PIN_FORMAT;
		uk_log_err(r, "token %s takes PINs of %lu to %lu characters",
		    tok->serial, min, max);
	}
out:
	return r;
}

static int
state_logged_in(CK_STATE st)
{
	return st == CKS_RO_USER_FUNCTIONS || st == CKS_RW_USER_FUNCTIONS ||
	    st == CKS_RW_SO_FUNCTIONS;
}

/* Opens a session of our own, R/W when the token allows it (an SO login
 * refuses read-only sessions). */
static int
own_session(struct p11_token *tok, CK_SESSION_HANDLE *s)
{
	int r;

	r = p11_session_open(tok, 1, s);
	if (r != 0 && p11_last_rv(tok->ctx) == CKR_TOKEN_WRITE_PROTECTED)
		r = p11_session_open(tok, 0, s);
	return r;
}

/* Asks the token itself, on a session of our own, whether the application
 * is logged in: *state gets the session state. */
static int
session_state(struct p11_token *tok, CK_SESSION_HANDLE s, CK_STATE *state)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_SESSION_INFO si;
	CK_RV rv;
	int r = 0;

	rv = p11_rv_set(ctx, ctx->fl->C_GetSessionInfo(s, &si));
	if (rv != CKR_OK) {
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: C_GetSessionInfo: %s", tok->serial,
		    p11_rv_name(rv));
		goto out;
	}
	*state = si.state;
out:
	return r;
}

/* Makes sure the token is logged out whatever libp11 believes: login state
 * belongs to the application, so one session shows it for all. */
static int
token_logged_out(struct p11_token *tok)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_STATE state;
	CK_RV rv;
	int r;

	if ((r = own_session(tok, &s)) != 0)
		goto out;
	if ((r = session_state(tok, s, &state)) != 0)
		goto out;
	if (!state_logged_in(state))
		goto out;
	uk_log(UK_LOG_WARN,
	    "token %s still logged in after logout; "
	    "logging out directly",
	    tok->serial);
	rv = p11_rv_set(ctx, ctx->fl->C_Logout(s));
	if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: C_Logout: %s", tok->serial,
		    p11_rv_name(rv));
		goto out;
	}
	if ((r = session_state(tok, s, &state)) != 0)
		goto out;
	if (state_logged_in(state)) {
		r = P11_ERR_DEVICE;
		uk_log_err(r, "token %s stays logged in", tok->serial);
	}
out:
	p11_session_close(ctx, s);
	return r;
}

/*
 * Logs out so that the next PKCS11_login really calls C_Login. libp11 0.4.12
 * keeps its own "logged in" mark per slot and skips C_Login while it is set;
 * PKCS11_logout clears it only when C_Logout succeeds. When the mark
 * survives (sessions lost with a removed key, a token that logged itself
 * out) the only public way to clear it is a fresh libp11 context. *slot is
 * updated when the context is reloaded.
 */
static int
logout_hard(struct p11_token *tok, PKCS11_SLOT **slot)
{
	struct p11_ctx *ctx = tok->ctx;
	int r, user = 0, so = 0;
	CK_RV rv;

	p11_err_reset(ctx);
	if (PKCS11_logout(*slot) != 0) {
		rv = p11_err_take(ctx);
		if (p11_rv_removed(rv)) {
			r = UK_ERR_TOKEN_REMOVED;
			uk_log_err(r, "token %s: logout: %s", tok->serial,
			    p11_rv_name(rv));
			goto out;
		}
		if (rv != CKR_USER_NOT_LOGGED_IN)
			uk_log(UK_LOG_WARN, "token %s: logout: %s", tok->serial,
			    p11_rv_name(rv));
	}
	(void)PKCS11_is_logged_in(*slot, 0, &user);
	(void)PKCS11_is_logged_in(*slot, 1, &so);
	if (user || so) {
		uk_log(UK_LOG_WARN,
		    "libp11 still counts token %s as logged in; "
		    "reloading %s",
		    tok->serial, ctx->module);
		if ((r = p11_ctx_reload(ctx)) != 0)
			goto out;
		if ((r = p11_resolve(tok, slot)) != 0)
			goto out;
		user = so = 0;
		(void)PKCS11_is_logged_in(*slot, 0, &user);
		(void)PKCS11_is_logged_in(*slot, 1, &so);
		if (user || so) {
			r = P11_ERR_DEVICE;
			uk_log_err(r, "token %s: cannot log out", tok->serial);
			goto out;
		}
	}
	p11_rv_set(ctx, CKR_OK);
	r = token_logged_out(tok);
out:
	return r;
}

/* What a failed C_Login says about its PIN. */
static enum p11_pin_verdict
login_verdict(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
		return P11_PIN_REJECTED;
	/* Refused before a PIN can have been looked at. */
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SLOT_ID_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_USER_TYPE_INVALID:
	case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
	case CKR_SESSION_READ_ONLY_EXISTS:
		return P11_PIN_NOT_TRIED;
	default:
		return P11_PIN_UNKNOWN; /* the key pulled out, a device error */
	}
}

/* Logs in as user or SO once: fresh flags, PIN checks, logout, C_Login
 * through libp11 (made again on a fresh context only when it was refused
 * before any PIN check), then a check on our own session that the token is
 * in the state a real C_Login leaves. Refreshes the flags afterwards. */
static int
login_once(struct p11_token *tok, int so, const struct secret *pin)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	PKCS11_SLOT *slot;
	CK_STATE state;
	CK_RV rv;
	int r, logged = 0, pass;

	tok->pin_verdict = P11_PIN_NOT_TRIED;
	if ((r = pin_ok(pin)) != 0) {
		uk_log_err(r, "token %s: %s PIN refused before the token",
		    tok->serial, who(so));
		goto out;
	}
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = pin_fits(tok, pin)) != 0)
		goto out;
	if ((so ? tok->status.so : tok->status.user) == P11_PIN_LOCKED) {
		r = UK_ERR_TOKEN_PIN_LOCKED;
		uk_log_err(r, "token %s: %s PIN is locked; not trying",
		    tok->serial, who(so));
		goto out;
	}
	if ((r = logout_hard(tok, &slot)) != 0)
		goto out;
	for (pass = 0;; pass++) {
		p11_err_reset(ctx);
		tok->pin_verdict = P11_PIN_UNKNOWN;
		if (PKCS11_login(slot, so, (const char *)pin->buf) == 0)
			break;
		rv = p11_err_take(ctx);
		tok->pin_verdict = login_verdict(rv);
		/* libp11 logs in on a session of its pool; one opened before
		 * the key was pulled out and put back is refused before any
		 * PIN check. Start afresh and log in once more. */
		if (pass == 0 && tok->pin_verdict == P11_PIN_NOT_TRIED &&
		    (rv == CKR_SESSION_HANDLE_INVALID ||
		        rv == CKR_SESSION_CLOSED)) {
			uk_log(UK_LOG_WARN,
			    "token %s: %s login: %s; reloading %s", tok->serial,
			    who(so), p11_rv_name(rv), ctx->module);
			if ((r = p11_ctx_reload(ctx)) != 0 ||
			    (r = p11_resolve(tok, &slot)) != 0)
				goto out;
			continue;
		}
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: %s login: %s", tok->serial, who(so),
		    p11_rv_name(rv));
		goto out;
	}
	logged = 1;
	tok->pin_verdict = P11_PIN_ACCEPTED;
	/* The token was logged out just before, so only a C_Login that
	 * succeeded can have brought it here. */
	if ((r = own_session(tok, &s)) != 0)
		goto out;
	if ((r = session_state(tok, s, &state)) != 0)
		goto out;
	if (so ? state != CKS_RW_SO_FUNCTIONS
	       : (state != CKS_RO_USER_FUNCTIONS &&
	             state != CKS_RW_USER_FUNCTIONS)) {
		r = P11_ERR_DEVICE;
		tok->pin_verdict = P11_PIN_UNKNOWN; /* not a login we know */
		uk_log_err(r, "token %s: login reported but session state %lu",
		    tok->serial, state);
		goto out;
	}
	r = 0;
out:
	p11_session_close(ctx, s);
	rv = p11_last_rv(ctx);
	if (r != 0 && logged)
		(void)p11_logout(tok);
	/* Read the flags again: after a failure they say what is left
	 * (COUNT_LOW, FINAL_TRY, LOCKED), after a success they are cleared.
	 * (A malformed PIN never reached the token: nothing changed.) The
	 * operation's CK_RV stays the one the caller sees. */
	if (r != UK_ERR_TOKEN_PIN_FORMAT)
		(void)p11_status_read(tok, NULL);
	p11_rv_set(ctx, r == 0 ? CKR_OK : rv);
	return r;
}

int
p11_login(struct p11_token *tok, const struct secret *pin)
{
	return login_once(tok, 0, pin);
}

int
p11_logout(struct p11_token *tok)
{
	PKCS11_SLOT *slot;
	int r;

	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = logout_hard(tok, &slot)) != 0)
		goto out;
	/* libp11 keeps a heap copy of the last PIN that logged in (to log in
	 * again after a fork) until its slot is released: read the slots
	 * again to have it wiped. */
	r = p11_slots_refresh(tok->ctx, 1);
out:
	return r;
}

/* Logs out after a PIN operation, keeping the operation's CK_RV. */
static void
logout_after(struct p11_token *tok)
{
	CK_RV rv = p11_last_rv(tok->ctx);

	(void)p11_logout(tok);
	(void)p11_status_read(tok, NULL);
	p11_rv_set(tok->ctx, rv);
}

int
p11_change_pin(struct p11_token *tok, const struct secret *old_pin,
    const struct secret *new_pin)
{
	struct p11_ctx *ctx = tok->ctx;
	PKCS11_SLOT *slot;
	int r, in = 0;
	CK_RV rv;

	tok->pin_verdict = P11_PIN_NOT_TRIED;
	if ((r = pin_ok(new_pin)) != 0) {
		uk_log_err(r, "token %s: new PIN refused", tok->serial);
		goto out;
	}
	if ((r = p11_login(tok, old_pin)) != 0)
		goto out;
	in = 1;
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = pin_fits(tok, new_pin)) != 0)
		goto out;
	p11_err_reset(ctx);
	if (PKCS11_change_pin(slot, (const char *)old_pin->buf,
	        (const char *)new_pin->buf) != 0) {
		rv = p11_err_take(ctx);
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: change PIN: %s", tok->serial,
		    p11_rv_name(rv));
		goto out;
	}
	uk_log(UK_LOG_INFO, "token %s: user PIN changed", tok->serial);
	r = 0;
out:
	if (in)
		logout_after(tok);
	return r;
}

int
p11_init_pin(struct p11_token *tok, const struct secret *so_pin,
    const struct secret *new_pin)
{
	struct p11_ctx *ctx = tok->ctx;
	PKCS11_SLOT *slot;
	int r, in = 0;
	CK_RV rv;

	tok->pin_verdict = P11_PIN_NOT_TRIED;
	if ((r = pin_ok(new_pin)) != 0) {
		uk_log_err(r, "token %s: new PIN refused", tok->serial);
		goto out;
	}
	if ((r = login_once(tok, 1, so_pin)) != 0)
		goto out;
	in = 1;
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	if ((r = pin_fits(tok, new_pin)) != 0)
		goto out;
	p11_err_reset(ctx);
	if (slot->token == NULL ||
	    PKCS11_init_pin(slot->token, (const char *)new_pin->buf) != 0) {
		rv = p11_err_take(ctx);
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "token %s: C_InitPIN: %s", tok->serial,
		    p11_rv_name(rv));
		goto out;
	}
	uk_log(UK_LOG_INFO, "token %s: user PIN set by the SO", tok->serial);
	r = 0;
out:
	if (in)
		logout_after(tok);
	return r;
}
