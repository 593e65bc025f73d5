/* pkcs11/token.c: PKCS#11 module loading behind a path allowlist, token handles, token flags, sessions and attributes. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common/errors.h"
#include "common/log.h"
#include "pkcs11/token_impl.h"

/* Returns 0 and the resolved module path in *resolved (caller frees) when
 * module is on allowlist, both sides compared after realpath. */
static int
module_allowed(const char *module, const char *const *allowlist,
    char **resolved)
{
	char *real = NULL, *entry = NULL;
	int r = UK_ERR_TOKEN_MODULE_NOT_ALLOWED, listed = 0, match;
	size_t i;

	if (module == NULL || module[0] != '/') {
		uk_log_err(r, "module path %s is not absolute",
		    module == NULL ? "(none)" : module);
		goto out;
	}
	for (i = 0; allowlist != NULL && allowlist[i] != NULL; i++) {
		if (strcmp(allowlist[i], module) == 0)
			listed = 1;
	}
	if ((real = realpath(module, NULL)) == NULL) {
		if (listed)
			r = UK_ERR_TOKEN_MODULE;
		uk_log_err(r, "cannot resolve module path %s: %s", module,
		    strerror(errno));
		goto out;
	}
	for (i = 0; allowlist != NULL && allowlist[i] != NULL; i++) {
		if (allowlist[i][0] != '/') {
			uk_log(UK_LOG_WARN,
			    "module allowlist entry %s is not absolute; "
			    "ignored",
			    allowlist[i]);
			continue;
		}
		if ((entry = realpath(allowlist[i], NULL)) == NULL)
			continue;
		match = strcmp(entry, real) == 0;
		free(entry);
		if (match) {
			*resolved = real;
			real = NULL;
			r = 0;
			goto out;
		}
	}
	uk_log_err(r, "%s (%s)", module, real);
out:
	free(real);
	return r;
}

/* Drops everything loaded: slots, our module reference, libp11's module. */
static void
ctx_unload(struct p11_ctx *ctx)
{
	if (ctx->slots != NULL) {
		PKCS11_release_all_slots(ctx->p11, ctx->slots, ctx->nslots);
		ctx->slots = NULL;
		ctx->nslots = 0;
	}
	ctx->fl = NULL;
	if (ctx->dl != NULL) {
		dlclose(ctx->dl);
		ctx->dl = NULL;
	}
	if (ctx->loaded) {
		PKCS11_CTX_unload(ctx->p11);
		ctx->loaded = 0;
		/* libp11 0.4.12 fills these (with malloc) on every load and
		 * frees them only in PKCS11_CTX_free: a reload would leak. */
		free(ctx->p11->manufacturer);
		free(ctx->p11->description);
		ctx->p11->manufacturer = NULL;
		ctx->p11->description = NULL;
	}
	ctx->nrw = 0;
	ERR_clear_error();
}

/* Loads and initialises ctx->module through libp11, then takes our own
 * reference to the same loaded object for its function list. */
static int
ctx_load(struct p11_ctx *ctx)
{
	CK_C_GetFunctionList get_list;
	const char *why;
	void *sym;
	CK_RV rv;
	int r = UK_ERR_TOKEN_MODULE;

	p11_err_reset(ctx);
	(void)dlerror();
	if (PKCS11_CTX_load(ctx->p11, ctx->module) != 0) {
		rv = p11_err_take(ctx);
		why = dlerror();
		uk_log_err(r, "cannot load %s: %s%s%s", ctx->module,
		    p11_rv_name(rv), why != NULL ? ": " : "",
		    why != NULL ? why : "");
		goto out;
	}
	ctx->loaded = 1;
	/* Loading makes OpenSSL read its configuration, which may leave
	 * unrelated errors behind. */
	ERR_clear_error();
	/* RTLD_NOLOAD: the object libp11 loaded, not a second copy.
	 * RTLD_LAZY: do not force binding of a module libp11 loads lazily. */
	ctx->dl = dlopen(ctx->module, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
	if (ctx->dl == NULL) {
		why = dlerror();
		uk_log_err(r, "%s is not loaded after PKCS11_CTX_load: %s",
		    ctx->module, why != NULL ? why : "?");
		goto out;
	}
	if ((sym = dlsym(ctx->dl, "C_GetFunctionList")) == NULL) {
		uk_log_err(r, "%s has no C_GetFunctionList", ctx->module);
		goto out;
	}
	memcpy(&get_list, &sym, sizeof(get_list));
	rv = p11_rv_set(ctx, get_list(&ctx->fl));
	if (rv != CKR_OK || ctx->fl == NULL) {
		uk_log_err(r, "C_GetFunctionList of %s: %s", ctx->module,
		    p11_rv_name(rv));
		goto out;
	}
	if ((r = p11_slots_refresh(ctx, 1)) != 0)
		goto out;
	p11_rv_set(ctx, CKR_OK);
	r = 0;
out:
	if (r != 0)
		ctx_unload(ctx);
	return r;
}

int
p11_ctx_new(const char *module, const char *const *allowlist,
    struct p11_ctx **out)
{
	struct p11_ctx *ctx = NULL;
	char *resolved = NULL;
	int r;

	*out = NULL;
	if ((r = module_allowed(module, allowlist, &resolved)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		goto out;
	ctx->module = resolved;
	resolved = NULL;
	if ((ctx->p11 = PKCS11_CTX_new()) == NULL)
		goto out;
	if ((r = ctx_load(ctx)) != 0)
		goto out;
	*out = ctx;
	ctx = NULL; /* transferred */
	r = 0;
out:
	free(resolved);
	p11_ctx_free(ctx);
	return r;
}

void
p11_ctx_free(struct p11_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->p11 != NULL) {
		ctx_unload(ctx);
		PKCS11_CTX_free(ctx->p11);
	}
	free(ctx->module);
	free(ctx->rw);
	free(ctx);
}

int
p11_ctx_reload(struct p11_ctx *ctx)
{
	int r;

	ctx_unload(ctx);
	if ((r = ctx_load(ctx)) == 0)
		uk_log(UK_LOG_INFO, "PKCS#11 module %s reloaded", ctx->module);
	return r;
}

const char *
p11_ctx_module(const struct p11_ctx *ctx)
{
	return ctx->module;
}

void
p11_trim(char *dst, size_t size, const unsigned char *src, size_t srclen)
{
	size_t n = srclen;

	if (size == 0)
		return;
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0'))
		n--;
	if (n > size - 1)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The state of one PIN from its four flags. */
static enum p11_pin_state
pin_state(CK_FLAGS f, int initialised, CK_FLAGS locked, CK_FLAGS final_try,
    CK_FLAGS count_low, CK_FLAGS to_be_changed, int *retries)
{
	*retries = -1;
	if (!initialised)
		return P11_PIN_NOT_INITIALISED;
	if (f & locked) {
		*retries = 0;
		return P11_PIN_LOCKED;
	}
	if (f & final_try) {
		*retries = 1;
		return P11_PIN_FINAL_TRY;
	}
	if (f & count_low)
		return P11_PIN_COUNT_LOW;
	if (f & to_be_changed)
		return P11_PIN_TO_BE_CHANGED;
	return P11_PIN_OK;
}

void
p11_status_from_info(const CK_TOKEN_INFO *ti, struct p11_status *st)
{
	CK_FLAGS f = ti->flags;
	int init = (f & CKF_TOKEN_INITIALIZED) != 0;

	memset(st, 0, sizeof(*st));
	st->flags = f;
	st->user = pin_state(f, init && (f & CKF_USER_PIN_INITIALIZED),
	    CKF_USER_PIN_LOCKED, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_COUNT_LOW,
	    CKF_USER_PIN_TO_BE_CHANGED, &st->user_retries);
	st->so = pin_state(f, init, CKF_SO_PIN_LOCKED, CKF_SO_PIN_FINAL_TRY,
	    CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_TO_BE_CHANGED, &st->so_retries);
	st->min_pin = ti->ulMinPinLen;
	st->max_pin = ti->ulMaxPinLen;
}

const char *
p11_pin_state_name(enum p11_pin_state s)
{
	switch (s) {
	case P11_PIN_OK:
		return "OK";
	case P11_PIN_COUNT_LOW:
		return "COUNT_LOW";
	case P11_PIN_FINAL_TRY:
		return "FINAL_TRY";
	case P11_PIN_LOCKED:
		return "LOCKED";
	case P11_PIN_TO_BE_CHANGED:
		return "TO_BE_CHANGED";
	case P11_PIN_NOT_INITIALISED:
		return "NOT_INITIALISED";
	}
	return "UNKNOWN";
}

/* The serial number libp11 read for token t, trimmed, into out. */
static void
cached_serial(const PKCS11_TOKEN *t, char *out, size_t size)
{
	const char *s = t->serialnr != NULL ? t->serialnr : "";

	p11_trim(out, size, (const unsigned char *)s, strlen(s));
}

/* Returns 1 when the module's slots or the tokens in them differ from
 * libp11's list: a slot added or gone, a token inserted, pulled out,
 * swapped or initialised since. */
static int
slots_changed(struct p11_ctx *ctx)
{
	CK_SLOT_ID *ids = NULL;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	PKCS11_SLOT *slot;
	CK_ULONG n = 0, i;
	unsigned int j;
	char serial[17], cached[17];
	int changed = 1, present;

	if (ctx->slots == NULL || ctx->fl == NULL)
		goto out;
	if (ctx->fl->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_OK ||
	    n != ctx->nslots)
		goto out;
	if (n == 0) {
		changed = 0;
		goto out;
	}
	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    ctx->fl->C_GetSlotList(CK_FALSE, ids, &n) != CKR_OK ||
	    n != ctx->nslots)
		goto out;
	for (i = 0; i < n; i++) {
		slot = NULL;
		for (j = 0; j < ctx->nslots; j++) {
			if (PKCS11_get_slotid_from_slot(&ctx->slots[j]) ==
			    ids[i])
				slot = &ctx->slots[j];
		}
		if (slot == NULL ||
		    ctx->fl->C_GetSlotInfo(ids[i], &si) != CKR_OK)
			goto out;
		present = (si.flags & CKF_TOKEN_PRESENT) != 0;
		if (present != (slot->token != NULL))
			goto out;
		if (!present)
			continue;
		if (ctx->fl->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			goto out;
		p11_trim(serial, sizeof(serial), ti.serialNumber,
		    sizeof(ti.serialNumber));
		cached_serial(slot->token, cached, sizeof(cached));
		if (strcmp(serial, cached) != 0 ||
		    ((ti.flags & CKF_TOKEN_INITIALIZED) != 0) !=
		        (slot->token->initialized != 0))
			goto out;
	}
	changed = 0;
out:
	free(ids);
	return changed;
}

int
p11_slots_refresh(struct p11_ctx *ctx, int force)
{
	CK_RV rv;
	int r = UK_ERR_TOKEN_MODULE;

	if (!ctx->loaded) {
		uk_log_err(r, "%s is not loaded", ctx->module);
		goto out;
	}
	r = 0;
	if (!force && !slots_changed(ctx))
		goto out;
	/* libp11 0.4.12's PKCS11_update_slots frees slot state it goes on to
	 * use (fixed after 0.4.12): drop the old list, read a new one. */
	if (ctx->slots != NULL) {
		PKCS11_release_all_slots(ctx->p11, ctx->slots, ctx->nslots);
		ctx->slots = NULL;
		ctx->nslots = 0;
	}
	ctx->nrw = 0;
	p11_err_reset(ctx);
	if (PKCS11_enumerate_slots(ctx->p11, &ctx->slots, &ctx->nslots) != 0) {
		rv = p11_err_take(ctx);
		ctx->slots = NULL;
		ctx->nslots = 0;
		r = UK_ERR_TOKEN_MODULE;
		uk_log_err(r, "cannot list the slots of %s: %s", ctx->module,
		    p11_rv_name(rv));
	}
out:
	return r;
}

int
p11_slot_rw(struct p11_ctx *ctx, PKCS11_SLOT *slot)
{
	CK_SLOT_ID id = PKCS11_get_slotid_from_slot(slot), *n;
	size_t i, cap;
	CK_RV rv;
	int r = 0;

	for (i = 0; i < ctx->nrw; i++) {
		if (ctx->rw[i] == id)
			goto out;
	}
	if (ctx->nrw == ctx->caprw) {
		cap = ctx->caprw == 0 ? 4 : ctx->caprw * 2;
		if ((n = reallocarray(ctx->rw, cap, sizeof(*n))) == NULL) {
			r = UK_ERR_NOMEM;
			goto out;
		}
		ctx->rw = n;
		ctx->caprw = cap;
	}
	/* libp11 0.4.12 fixes a slot's session mode with its first session
	 * (a user login would make it read-only, and an SO login or a write
	 * would then fail); switching later closes every session. */
	p11_err_reset(ctx);
	if (PKCS11_open_session(slot, 1) != 0) {
		rv = p11_err_take(ctx);
		r = p11_rv_err(rv, P11_ERR_DEVICE);
		uk_log_err(r, "cannot open a session on slot %lu: %s", id,
		    p11_rv_name(rv));
		goto out;
	}
	ctx->rw[ctx->nrw++] = id;
out:
	return r;
}

/* The slot of ctx's current list holding the token with serial number
 * serial, or the first initialised token when serial is NULL. */
static PKCS11_SLOT *
slot_find(struct p11_ctx *ctx, const char *serial)
{
	PKCS11_TOKEN *t;
	char s[17];
	unsigned int i;

	for (i = 0; i < ctx->nslots; i++) {
		if ((t = ctx->slots[i].token) == NULL)
			continue;
		if (serial == NULL) {
			if (t->initialized)
				return &ctx->slots[i];
			continue;
		}
		cached_serial(t, s, sizeof(s));
		if (s[0] != '\0' && strcmp(s, serial) == 0)
			return &ctx->slots[i];
	}
	return NULL;
}

/* C_GetTokenInfo on slot id; 0 when the token there has tok's serial. */
static int
token_info(struct p11_token *tok, CK_SLOT_ID id, CK_TOKEN_INFO *ti)
{
	struct p11_ctx *ctx = tok->ctx;
	char serial[17];
	CK_RV rv;
	int r = UK_ERR_TOKEN_MODULE;

	if (ctx->fl == NULL)
		goto out;
	rv = p11_rv_set(ctx, ctx->fl->C_GetTokenInfo(id, ti));
	if ((r = p11_rv_err(rv, P11_ERR_DEVICE)) != 0)
		goto out;
	p11_trim(serial, sizeof(serial), ti->serialNumber,
	    sizeof(ti->serialNumber));
	if (strcmp(serial, tok->serial) != 0)
		r = UK_ERR_TOKEN_REMOVED;
out:
	return r;
}

int
p11_resolve(struct p11_token *tok, PKCS11_SLOT **slot)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_TOKEN_INFO ti;
	PKCS11_SLOT *s = NULL;
	int r = UK_ERR_TOKEN_REMOVED, pass;

	/* The cached slot list may be stale (another UKey in the slot, a
	 * slot gone): check the serial where the token was, and on a
	 * mismatch read the slots again once. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1 && (r = p11_slots_refresh(ctx, 0)) != 0)
			goto out;
		if ((s = slot_find(ctx, tok->serial)) == NULL) {
			r = UK_ERR_TOKEN_REMOVED;
			continue;
		}
		r = token_info(tok, PKCS11_get_slotid_from_slot(s), &ti);
		if (r == 0 ||
		    (r != UK_ERR_TOKEN_REMOVED &&
		        r != UK_ERR_TOKEN_NOT_PRESENT))
			break;
	}
	if (r != 0)
		goto out;
	tok->slot_id = PKCS11_get_slotid_from_slot(s);
	p11_status_from_info(&ti, &tok->status);
	p11_trim(tok->label, sizeof(tok->label), ti.label, sizeof(ti.label));
	if ((r = p11_slot_rw(ctx, s)) != 0)
		goto out;
	*slot = s;
out:
	if (r == UK_ERR_TOKEN_NOT_PRESENT)
		r = UK_ERR_TOKEN_REMOVED;
	if (r == UK_ERR_TOKEN_REMOVED)
		uk_log_err(r, "token %s is in no slot", tok->serial);
	else if (r != 0)
		uk_log_err(r, "token %s: %s", tok->serial,
		    p11_last_rv_name(ctx));
	return r;
}

int
p11_status_read(struct p11_token *tok, CK_TOKEN_INFO *ti)
{
	CK_TOKEN_INFO info;
	int r;

	if ((r = token_info(tok, tok->slot_id, &info)) != 0) {
		if (r == UK_ERR_TOKEN_NOT_PRESENT)
			r = UK_ERR_TOKEN_REMOVED;
		goto out;
	}
	p11_status_from_info(&info, &tok->status);
	if (ti != NULL)
		*ti = info;
out:
	return r;
}

int
p11_token_open(struct p11_ctx *ctx, const char *serial, struct p11_token **out)
{
	struct p11_token *tok = NULL;
	PKCS11_SLOT *slot;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((tok = calloc(1, sizeof(*tok))) == NULL)
		goto out;
	tok->ctx = ctx;
	r = UK_ERR_TOKEN_NOT_PRESENT;
	if (serial != NULL && strlen(serial) >= sizeof(tok->serial))
		goto out;
	if (!ctx->loaded) {
		r = UK_ERR_TOKEN_MODULE;
		goto out;
	}
	if ((slot = slot_find(ctx, serial)) == NULL) {
		if ((r = p11_slots_refresh(ctx, 0)) != 0)
			goto out;
		r = UK_ERR_TOKEN_NOT_PRESENT;
		if ((slot = slot_find(ctx, serial)) == NULL)
			goto out;
	}
	if (serial != NULL)
		p11_trim(tok->serial, sizeof(tok->serial),
		    (const unsigned char *)serial, strlen(serial));
	else
		cached_serial(slot->token, tok->serial, sizeof(tok->serial));
	if ((r = p11_resolve(tok, &slot)) != 0)
		goto out;
	*out = tok;
	tok = NULL; /* transferred */
	r = 0;
out:
	if (r == UK_ERR_TOKEN_REMOVED)
		r = UK_ERR_TOKEN_NOT_PRESENT;
	if (r != 0)
		uk_log_err(r, "no token %s", serial != NULL ? serial : "");
	p11_token_free(tok);
	return r;
}

void
p11_token_free(struct p11_token *tok)
{
	free(tok);
}

const char *
p11_token_serial(const struct p11_token *tok)
{
	return tok->serial;
}

const char *
p11_token_label(const struct p11_token *tok)
{
	return tok->label;
}

int
p11_token_status(struct p11_token *tok, struct p11_status *st)
{
	PKCS11_SLOT *slot;
	int r;

	if ((r = p11_resolve(tok, &slot)) == 0)
		*st = tok->status;
	return r;
}

void
p11_token_last_status(const struct p11_token *tok, struct p11_status *st)
{
	*st = tok->status;
}

enum p11_pin_verdict
p11_token_last_pin(const struct p11_token *tok)
{
	return tok->pin_verdict;
}

int
p11_session_open(struct p11_token *tok, int rw, CK_SESSION_HANDLE *s)
{
	struct p11_ctx *ctx = tok->ctx;
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;
	int r = UK_ERR_TOKEN_MODULE;

	*s = CK_INVALID_HANDLE;
	if (ctx->fl == NULL)
		goto out;
	rv = p11_rv_set(ctx,
	    ctx->fl->C_OpenSession(tok->slot_id, flags, NULL, NULL, s));
	if ((r = p11_rv_err(rv, P11_ERR_DEVICE)) != 0) {
		*s = CK_INVALID_HANDLE;
		uk_log_err(r, "token %s: C_OpenSession: %s", tok->serial,
		    p11_rv_name(rv));
	}
out:
	return r;
}

void
p11_session_close(struct p11_ctx *ctx, CK_SESSION_HANDLE s)
{
	if (s == CK_INVALID_HANDLE || ctx->fl == NULL)
		return;
	(void)ctx->fl->C_CloseSession(s);
}

int
p11_find(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
    const struct p11_id *id, CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE t[2];
	CK_OBJECT_HANDLE found[P11_FIND_MAX];
	CK_ULONG n = 0;
	CK_RV rv, rv2;
	int r;

	t[0].type = CKA_CLASS;
	t[0].pValue = &cls;
	t[0].ulValueLen = sizeof(cls);
	t[1].type = CKA_ID;
	t[1].pValue = (void *)id->b;
	t[1].ulValueLen = id->len;
	rv = ctx->fl->C_FindObjectsInit(s, t, 2);
	if (rv == CKR_OK) {
		rv = ctx->fl->C_FindObjects(s, found, P11_FIND_MAX, &n);
		rv2 = ctx->fl->C_FindObjectsFinal(s);
		if (rv == CKR_OK)
			rv = rv2;
	}
	if ((r = p11_rv_err(p11_rv_set(ctx, rv), P11_ERR_DEVICE)) != 0) {
		uk_log_err(r, "object search: %s", p11_rv_name(rv));
		goto out;
	}
	r = UK_ERR_NOT_FOUND;
	if (n == 0 || n > P11_FIND_MAX)
		goto out;
	if (n > 1)
		uk_log(UK_LOG_WARN,
		    "several objects of class %lu share an id; using the first",
		    cls);
	*obj = found[0];
	r = 0;
out:
	return r;
}

int
p11_attr(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_TYPE type, void *buf, size_t cap, size_t *len)
{
	CK_ATTRIBUTE a;
	CK_RV rv;
	int r = UK_ERR_NOT_FOUND;

	a.type = type;
	a.pValue = NULL;
	a.ulValueLen = 0;
	rv = p11_rv_set(ctx, ctx->fl->C_GetAttributeValue(s, obj, &a, 1));
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		goto out;
	if ((r = p11_rv_err(rv, P11_ERR_DEVICE)) != 0)
		goto fail;
	r = UK_ERR_LIMIT;
	if (a.ulValueLen > cap) {
		uk_log(UK_LOG_WARN, "attribute 0x%lx is %lu bytes, over %zu",
		    type, a.ulValueLen, cap);
		goto out;
	}
	a.pValue = buf;
	a.ulValueLen = cap;
	rv = p11_rv_set(ctx, ctx->fl->C_GetAttributeValue(s, obj, &a, 1));
	if ((r = p11_rv_err(rv, P11_ERR_DEVICE)) != 0)
		goto fail;
	/* Do not trust the module to have kept within the buffer it was
	 * given, nor to answer the same length twice. */
	r = UK_ERR_LIMIT;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > cap)
		goto out;
	*len = a.ulValueLen;
	r = 0;
	goto out;
fail:
	uk_log_err(r, "C_GetAttributeValue(0x%lx): %s", type, p11_rv_name(rv));
out:
	return r;
}

int
p11_attr_ulong(struct p11_ctx *ctx, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	CK_ULONG v = 0;
	size_t len = 0;
	int r;

	if ((r = p11_attr(ctx, s, obj, type, &v, sizeof(v), &len)) != 0)
		goto out;
	r = UK_ERR_LIMIT;
	if (len != sizeof(v))
		goto out;
	*out = v;
	r = 0;
out:
	return r;
}

int
p11_id_from_hex(const char *hex, struct p11_id *id)
{
	size_t n, i;
	int hi, lo, r = UK_ERR_INPUT;

	if (hex == NULL)
		goto out;
	n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n > 2 * P11_ID_MAX)
		goto out;
	for (i = 0; i < n / 2; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto out;
		id->b[i] = (unsigned char)(hi << 4 | lo);
	}
	id->len = n / 2;
	r = 0;
out:
	return r;
}

int
p11_id_to_hex(const struct p11_id *id, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	int r = UK_ERR_LIMIT;

	if (id->len > P11_ID_MAX || size < 2 * id->len + 1)
		goto out;
	for (i = 0; i < id->len; i++) {
		out[2 * i] = digits[id->b[i] >> 4];
		out[2 * i + 1] = digits[id->b[i] & 0x0f];
	}
	out[2 * id->len] = '\0';
	r = 0;
out:
	return r;
}
