/* agent/tokop.c: the token worker's operations: PIN through the lockout guard, login, challenge signature, lists, counter operations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "agent/conf.h"
#include "agent/errinfo.h"
#include "agent/guard.h"
#include "agent/pinentry.h"
#include "agent/tokop.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "pkcs11/token.h"

#define DESC_MAX 900

struct ag_tokop {
	const struct config *cfg;
	enum ag_pin_ask ask;
	struct ag_list origins;
	struct ag_list modules;
	const char *module;
	const char *pinentry;
	int pinentry_timeout;
	const char *rsa_alg;
	struct ag_guard *guard;
	struct p11_ctx *ctx; /* loaded at the first operation */
	/* What the last listing found, reused by authenticate for
	 * LIST_TTL_MS (a listing reads every object of every token), and the
	 * handle on the token last used. Both go at the first sign of a
	 * change: an error, a counter operation, a stale entry. */
	struct p11_token_list *list;
	long long list_at; /* CLOCK_MONOTONIC, ms */
	struct p11_token *tok;
	const struct p11_cert_info *alg_ci; /* in list: its algorithm is */
	const char *alg;                    /* alg (static) */
	/* The outcome of the last attempt, written by ag_tokop_flush. */
	int defer;
	char defer_serial[17];
	enum ag_pin_kind defer_kind;
	enum ag_guard_outcome defer_o;
};

/* How long a listing is reused for authenticate, in milliseconds. */
#define LIST_TTL_MS 10000

/* What a PIN attempt runs once the guard has recorded it: the call that
 * reaches the token with pin. */
typedef int (
    *pin_op_fn)(struct p11_token *tok, const struct secret *pin, void *arg);

/* What runs after the guarded PIN is obtained and before the attempt is
 * recorded (asking for a new PIN). */
typedef int (*pin_prep_fn)(struct ag_tokop *t, void *arg);

void
ag_result_clear(struct ag_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->body);
	json_decref(res->pin);
	memset(res, 0, sizeof(*res));
}

int
ag_tokop_new(const struct config *cfg, enum ag_pin_ask ask,
    struct ag_tokop **out)
{
	struct ag_tokop *t = NULL;
	char dir[4096];
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto out;
	t->cfg = cfg;
	t->ask = ask;
	t->module = config_str(cfg, "agent", "module");
	t->pinentry = config_str(cfg, "agent", "pinentry");
	t->pinentry_timeout = (int)config_int(cfg, "agent", "pinentry_timeout");
	t->rsa_alg = config_str(cfg, "agent", "rsa_algorithm");
	if ((r = ag_config_list(cfg, "allowed_origins", &t->origins)) != 0 ||
	    (r = ag_config_list(cfg, "module_allowlist", &t->modules)) != 0)
		goto out;
	if ((r = ag_config_state_dir(cfg, dir, sizeof(dir))) != 0) {
		uk_log_err(r,
		    "no usable state directory for the lockout guard");
		goto out;
	}
	if ((r = ag_guard_new(dir, &t->guard)) != 0)
		goto out;
	*out = t;
	t = NULL; /* transferred */
	r = 0;
out:
	ag_tokop_free(t);
	return r;
}

int
ag_tokop_flush(struct ag_tokop *t)
{
	int r;

	if (t == NULL || !t->defer)
		return 0;
	t->defer = 0;
	if ((r = ag_guard_end(t->guard, t->defer_serial, t->defer_kind,
	         t->defer_o, NULL)) != 0)
		uk_log(UK_LOG_WARN,
		    "token %s: the attempt's outcome cannot be recorded; "
		    "it counts as a wrong PIN",
		    t->defer_serial);
	return r;
}

static void cache_drop(struct ag_tokop *t);

int
ag_tokop_reload(struct ag_tokop *t)
{
	int r = 0;

	(void)ag_tokop_flush(t);
	cache_drop(t);
	if (t->ctx != NULL && (r = p11_ctx_reload(t->ctx)) != 0) {
		p11_ctx_free(t->ctx);
		t->ctx = NULL;
	}
	return r;
}

void
ag_tokop_free(struct ag_tokop *t)
{
	if (t == NULL)
		return;
	(void)ag_tokop_flush(t);
	p11_token_list_free(t->list);
	p11_token_free(t->tok); /* before its context */
	p11_ctx_free(t->ctx);
	ag_guard_free(t->guard);
	ag_list_free(&t->origins);
	ag_list_free(&t->modules);
	free(t);
}

void
ag_tbs(const char *origin, const char *nonce, unsigned char *out)
{
	SHA256((const unsigned char *)origin, strlen(origin), out);
	SHA256((const unsigned char *)nonce, strlen(nonce), out + 32);
}

/* Loads the module when it is not loaded yet. */
static int
ctx_ensure(struct ag_tokop *t)
{
	int r;

	if (t->ctx != NULL)
		return 0;
	if (t->module == NULL) {
		r = UK_ERR_TOKEN_MODULE;
		uk_log_err(r, "no module: set [agent] module");
		return r;
	}
	return p11_ctx_new(t->module, (const char *const *)t->modules.v,
	    &t->ctx);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forgets the cached listing and token handle. */
static void
cache_drop(struct ag_tokop *t)
{
	t->alg_ci = NULL;
	p11_token_list_free(t->list);
	t->list = NULL;
	p11_token_free(t->tok);
	t->tok = NULL;
}

/* After a removal the module's sessions are gone: start afresh so that
 * the next operation finds the reinserted key. Any failure of the token
 * also drops what was cached about it. */
static void
after(struct ag_tokop *t, int r)
{
	if (r != 0 && r != UK_ERR_TOKEN_PIN_INCORRECT &&
	    r != UK_ERR_TOKEN_PIN_LOCKED && r != UK_ERR_CANCELLED &&
	    r != UK_ERR_POLICY_DENIED && r != UK_ERR_INPUT)
		cache_drop(t);
	if (t->ctx == NULL)
		return;
	if (r == UK_ERR_TOKEN_REMOVED || r == UK_ERR_TOKEN_MODULE) {
		if (p11_ctx_reload(t->ctx) != 0) {
			cache_drop(t);
			p11_ctx_free(t->ctx);
			t->ctx = NULL;
		}
	}
}

/* p11_list, reloading the module once when it misbehaves. */
static int
list_tokens(struct ag_tokop *t, struct p11_token_list **list)
{
	int r;

	*list = NULL;
	if ((r = ctx_ensure(t)) != 0)
		return r;
	if ((r = p11_list(t->ctx, list)) == UK_ERR_TOKEN_MODULE) {
		if ((r = p11_ctx_reload(t->ctx)) != 0)
			return r;
		r = p11_list(t->ctx, list);
	}
	return r;
}

/* The listing for authenticate: the cached one while it is young and
 * fresh is 0 (*cached set), else a new one that is then cached. The list
 * belongs to t. */
static int
list_get(struct ag_tokop *t, int fresh, const struct p11_token_list **out,
    int *cached)
{
	struct p11_token_list *l = NULL;
	int r;

	*out = NULL;
	*cached = 0;
	if (!fresh && t->list != NULL && t->ctx != NULL &&
	    now_ms() - t->list_at < LIST_TTL_MS) {
		*out = t->list;
		*cached = 1;
		return 0;
	}
	if ((r = list_tokens(t, &l)) != 0)
		return r;
	t->alg_ci = NULL;
	p11_token_list_free(t->list);
	t->list = l;
	t->list_at = now_ms();
	*out = l;
	return 0;
}

/* The handle on serial, reused when it is the one last used; it belongs
 * to t. */
static int
token_get(struct ag_tokop *t, const char *serial, struct p11_token **out)
{
	int r;

	*out = NULL;
	if (t->tok != NULL && strcmp(p11_token_serial(t->tok), serial) == 0) {
		*out = t->tok;
		return 0;
	}
	p11_token_free(t->tok);
	t->tok = NULL;
	if ((r = ctx_ensure(t)) != 0 ||
	    (r = p11_token_open(t->ctx, serial, &t->tok)) != 0)
		return r;
	*out = t->tok;
	return 0;
}

/* The signature algorithm for a certificate's key; NULL when unusable. */
static const char *
cert_alg(const struct ag_tokop *t, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];
	size_t glen = 0;

	if (pk == NULL)
		return NULL;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) !=
		        1 ||
		    strcmp(group, "prime256v1") != 0)
			return NULL;
		return "ES256";
	case EVP_PKEY_RSA:
		return t->rsa_alg != NULL ? t->rsa_alg : "RS256";
	case EVP_PKEY_RSA_PSS:
		return "PS256";
	default:
		return NULL;
	}
}

static X509 *
cert_parse(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len > 0x7fffffff)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Finds the certificate named by serial (may be "") and id (NULL: any)
 * among the tokens of list. */
static int
cert_find(const struct p11_token_list *list, const char *serial,
    const struct p11_id *id, const struct p11_token_info **ti,
    const struct p11_cert_info **ci)
{
	size_t i, j;
	int any = 0;

	for (i = 0; i < list->ntokens; i++) {
		const struct p11_token_info *tk = &list->tokens[i];
		if (!tk->initialized || tk->error != 0)
			continue;
		if (serial[0] != '\0' && strcmp(tk->serial, serial) != 0)
			continue;
		any = 1;
		for (j = 0; j < tk->ncerts; j++) {
			const struct p11_cert_info *c = &tk->certs[j];
			if (id != NULL &&
			    (c->id.len != id->len ||
			        memcmp(c->id.b, id->b, id->len) != 0))
				continue;
			*ti = tk;
			*ci = c;
			return 0;
		}
	}
	return any ? UK_ERR_TOKEN_KEY_NOT_FOUND : UK_ERR_TOKEN_NOT_PRESENT;
}

/* The PIN state object of serial's PIN of kind, from the guard and st
 * (NULL: unknown). */
static json_t *
pin_json(struct ag_tokop *t, const char *serial, enum ag_pin_kind k,
    const struct p11_status *st, struct ag_guard_state *gs)
{
	struct ag_guard_state tmp;

	if (gs == NULL)
		gs = &tmp;
	(void)ag_guard_read(t->guard, serial, k, gs);
	return ag_guard_pin_json(gs, st, k);
}

static int
pin_left(const json_t *pin)
{
	json_t *v = pin != NULL ? json_object_get(pin, "retriesLeft") : NULL;

	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

static const char *
pin_state(const json_t *pin)
{
	json_t *v = pin != NULL ? json_object_get(pin, "state") : NULL;

	return json_is_string(v) ? json_string_value(v) : "OK";
}

/* The dialog's warning for the tries left, or NULL. */
static const char *
pin_warning(const json_t *pin, int en, char *buf, size_t size)
{
	int left = pin_left(pin);

	if (left < 0 || left >= AG_GUARD_TRIES)
		return NULL;
	if (left == 1)
		snprintf(buf, size, "%s",
		    en ? "Final try: one more wrong PIN locks the UKey"
		       : "最后一次尝试：再输错一次UKey将被锁定");
	else if (en)
		snprintf(buf, size, "Wrong PIN before; %d tries left", left);
	else
		snprintf(buf, size, "此前PIN码输入错误，还可尝试%d次", left);
	return buf;
}

/* Obtains a PIN: given (copied), else as t->ask says. repeat: a new PIN,
 * asked twice. */
static int
pin_obtain(struct ag_tokop *t, const struct secret *given, const char *desc,
    const json_t *pin, int en, int repeat, struct secret **out)
{
	struct ag_pinentry_req req;
	struct secret *again = NULL;
	char warn[128], prompt[DESC_MAX + 16];
	int r;

	*out = NULL;
	if (given != NULL) {
		if ((*out = secret_from(given->buf, given->len)) == NULL)
			return UK_ERR_NOMEM;
		return 0;
	}
	switch (t->ask) {
	case AG_ASK_PINENTRY:
		memset(&req, 0, sizeof(req));
		req.program = t->pinentry;
		req.timeout_s = t->pinentry_timeout;
		req.title = "ukey-agent";
		req.desc = desc;
		req.prompt = en ? "PIN:" : "PIN码：";
		req.error =
		    repeat ? NULL : pin_warning(pin, en, warn, sizeof(warn));
		if (repeat) {
			req.repeat = en ? "Repeat:" : "再次输入：";
			req.repeat_error = en ? "The two PINs differ"
			                      : "两次输入的PIN码不一致";
		}
		return ag_pinentry_get(&req, out);
	case AG_ASK_TTY:
		snprintf(prompt, sizeof(prompt), "%s\n%s", desc,
		    en ? "PIN: " : "PIN码：");
		if ((r = secret_read_tty(prompt, out)) != 0 || !repeat)
			return r;
		if ((r = secret_read_tty(en ? "Repeat: " : "再次输入：",
		         &again)) != 0)
			goto fail;
		if (!secret_equal(*out, again)) {
			r = UK_ERR_INPUT;
			fprintf(stderr, "ukey-agent: %s\n",
			    en ? "the two PINs differ"
			       : "两次输入的PIN码不一致");
			goto fail;
		}
		secret_free(again);
		return 0;
	case AG_ASK_NONE:
	default:
		return UK_ERR_INPUT;
	}
fail:
	secret_free(again);
	secret_free(*out);
	*out = NULL;
	return r;
}

/* What can be checked of a PIN without the token: its length, no NUL. */
static int
pin_format_ok(const struct secret *pin)
{
	return pin != NULL && pin->len >= P11_PIN_MIN &&
	    pin->len <= P11_PIN_MAX && memchr(pin->buf, '\0', pin->len) == NULL;
}

/*
 * One guarded PIN attempt on tok: state, refusal when locked, the PIN,
 * its format, prep, the record, op, the resolution, the new state in
 * res->pin. Returns op's code (PIN_INCORRECT becomes PIN_LOCKED when it
 * used the last try) or the code that stopped it before.
 */
static int
attempt(struct ag_tokop *t, struct p11_token *tok, enum ag_pin_kind kind,
    const struct secret *given, const char *desc, int en, pin_prep_fn prep,
    void *prep_arg, pin_op_fn op, void *op_arg, struct ag_result *res)
{
	const char *serial = p11_token_serial(tok);
	struct ag_guard_state gs;
	enum ag_guard_outcome o;
	struct p11_status st;
	struct secret *pin = NULL;
	const char *s;
	int r;

	(void)ag_tokop_flush(t);
	if ((r = p11_token_status(tok, &st)) != 0)
		goto out;
	json_decref(res->pin);
	if ((res->pin = pin_json(t, serial, kind, &st, &gs)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	s = pin_state(res->pin);
	if (strcmp(s, "LOCKED") == 0) {
		r = UK_ERR_TOKEN_PIN_LOCKED;
		uk_log_err(r, "token %s: %s PIN locked (%s); not asking",
		    serial, kind == AG_PIN_SO ? "SO" : "user",
		    json_string_value(json_object_get(res->pin, "source")));
		goto out;
	}
	if (strcmp(s, "NOT_INITIALISED") == 0) {
		r = UK_ERR_TOKEN_DEVICE;
		uk_log_err(r, "token %s: PIN not initialised", serial);
		goto out;
	}
	if ((r = pin_obtain(t, given, desc, res->pin, en, 0, &pin)) != 0)
		goto out;
	if (!pin_format_ok(pin)) {
		r = UK_ERR_TOKEN_PIN_FORMAT;
		uk_log_err(r, "token %s: PIN refused before the token", serial);
		goto out;
	}
	if (prep != NULL && (r = prep(t, prep_arg)) != 0)
		goto out;
	if ((r = ag_guard_begin(t->guard, serial, kind, &gs)) != 0) {
		if (r == UK_ERR_IO)
			uk_log_err(r,
			    "token %s: the attempt cannot be "
			    "recorded; PIN not tried",
			    serial);
		goto out;
	}
	r = op(tok, pin, op_arg);
	/* What the token made of the PIN, whatever became of the operation
	 * after it: a PIN that may have been checked counts, as a crash
	 * would count it. */
	switch (p11_token_last_pin(tok)) {
	case P11_PIN_ACCEPTED:
		o = AG_GUARD_OK;
		break;
	case P11_PIN_REJECTED:
	case P11_PIN_UNKNOWN:
		o = AG_GUARD_WRONG;
		break;
	case P11_PIN_NOT_TRIED:
	default:
		o = AG_GUARD_NONE;
		break;
	}
	/* Answered at once; written by ag_tokop_flush. */
	t->defer = 1;
	snprintf(t->defer_serial, sizeof(t->defer_serial), "%s", serial);
	t->defer_kind = kind;
	t->defer_o = o;
	ag_guard_after(&gs, o, &gs);
	p11_token_last_status(tok, &st);
	json_decref(res->pin);
	if ((res->pin = ag_guard_pin_json(&gs, &st, kind)) == NULL) {
		if (r == 0)
			r = UK_ERR_NOMEM;
		goto out;
	}
	if (r == UK_ERR_TOKEN_PIN_INCORRECT && pin_left(res->pin) == 0)
		r = UK_ERR_TOKEN_PIN_LOCKED;
	if (r == UK_ERR_TOKEN_PIN_INCORRECT || r == UK_ERR_TOKEN_PIN_LOCKED)
		uk_log(UK_LOG_WARN, "token %s: wrong %s PIN; %s, %d left",
		    serial, kind == AG_PIN_SO ? "SO" : "user",
		    pin_state(res->pin), pin_left(res->pin));
out:
	secret_free(pin);
	return r;
}

static int
op_login(struct p11_token *tok, const struct secret *pin, void *arg)
{
	(void)arg;
	return p11_login(tok, pin);
}

/* The certificate's subject in RFC 2253 form, for the dialog. */
static void
subject_text(const struct p11_cert_info *ci, char *out, size_t size)
{
	snprintf(out, size, "%s", ci->subject != NULL ? ci->subject : "");
}

int
ag_tokop_authenticate(struct ag_tokop *t, const char *origin, const char *nonce,
    const char *cert_id, const struct secret *pin, int en,
    struct ag_result *res)
{
	const struct p11_token_info *ti = NULL;
	const struct p11_cert_info *ci = NULL;
	const struct p11_token_list *list = NULL;
	struct p11_token *tok = NULL;
	struct p11_status st;
	struct p11_id id;
	unsigned char tbs[64], sig[P11_SIG_MAX];
	char serial[17], desc[DESC_MAX], subj[512];
	char *cert_b64 = NULL, *sig_b64 = NULL;
	const char *alg;
	size_t siglen = sizeof(sig);
	X509 *x = NULL;
	int r, logged_in = 0, have_id = 0, pass, cached = 0;

	memset(res, 0, sizeof(*res));
	serial[0] = '\0';
	r = UK_ERR_POLICY_DENIED;
	if (!ag_origin_allowed(&t->origins, origin)) {
		uk_log_err(r, "origin %s is not allowed",
		    origin != NULL && ag_origin_valid(origin) == 0 ? origin
		                                                   : "(bad)");
		goto out;
	}
	r = UK_ERR_INPUT;
	if (ag_nonce_valid(nonce) != 0)
		goto out;
	if (cert_id != NULL && cert_id[0] != '\0') {
		if (ag_cert_id_parse(cert_id, serial, &id) != 0)
			goto out;
		have_id = 1;
	}
	/* A cached listing that no longer matches the tokens is read
	 * again once. */
	for (pass = 0; pass < 2; pass++) {
		if ((r = list_get(t, pass, &list, &cached)) != 0)
			goto out;
		r = cert_find(list, serial, have_id ? &id : NULL, &ti, &ci);
		if (r == 0)
			r = token_get(t, ti->serial, &tok);
		if (r == 0 || !cached)
			break;
	}
	if (r != 0) {
		uk_log_err(r, "no certificate %s", have_id ? cert_id : "");
		goto out;
	}
	snprintf(res->serial, sizeof(res->serial), "%s", ti->serial);
	r = UK_ERR_TOKEN_KEY_NOT_FOUND;
	/* Decoding a certificate's key costs more than the rest of the
	 * agent's work: once per certificate of the cached listing. */
	if (t->alg_ci == ci) {
		alg = t->alg;
	} else if ((x = cert_parse(ci->der, ci->der_len)) == NULL ||
	    (alg = cert_alg(t, x)) == NULL) {
		uk_log_err(r,
		    "token %s: certificate %s is unreadable or has an "
		    "unsupported key",
		    ti->serial, ci->id_hex);
		goto out;
	} else {
		t->alg_ci = ci;
		t->alg = alg;
	}
	subject_text(ci, subj, sizeof(subj));
	snprintf(desc, sizeof(desc),
	    en ? "%s asks to log in with your UKey.\nCertificate: %s\nUKey: "
	         "%s (%s)"
	       : "网站 %s 请求使用UKey登录。\n证书：%s\nUKey：%s（%s）",
	    origin, subj, ti->label, ti->serial);
	if ((r = attempt(t, tok, AG_PIN_USER, pin, desc, en, NULL, NULL,
	         op_login, NULL, res)) != 0)
		goto out;
	logged_in = 1;
	p11_token_last_status(tok, &st);
	if (st.user == P11_PIN_TO_BE_CHANGED) {
		r = UK_ERR_TOKEN_PIN_TO_BE_CHANGED;
		uk_log(UK_LOG_ERROR,
		    "UK-2013 token %s: the PIN must be changed "
		    "first",
		    ti->serial);
		goto out;
	}
	ag_tbs(origin, nonce, tbs);
	if ((r = p11_sign(tok, &ci->id, alg, tbs, sizeof(tbs), sig, &siglen)) !=
	    0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((cert_b64 = b64_encode(ci->der, ci->der_len, 0)) == NULL ||
	    (sig_b64 = b64_encode(sig, siglen, 0)) == NULL)
		goto out;
	/* "origin" says which origin was signed for, so that the gateway
	 * can tell a token made for another site from a bad signature; it
	 * verifies with its own origin whatever this says. */
	if ((res->body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "format",
	         "ukey-auth:1.0", "unverifiedCertificate", cert_b64,
	         "algorithm", alg, "signature", sig_b64, "appVersion",
	         "ukey-agent/" AG_VERSION, "origin", origin)) == NULL)
		goto out;
	uk_log(UK_LOG_INFO, "token %s: signed the challenge of %s (%s)",
	    ti->serial, origin, alg);
	r = 0;
out:
	if (logged_in) {
		int lr = p11_logout(tok);
		if (lr != 0 && r == 0)
			r = lr;
	}
	X509_free(x);
	free(cert_b64);
	free(sig_b64);
	OPENSSL_cleanse(tbs, sizeof(tbs));
	after(t, r);
	if (r != 0) {
		json_decref(res->body);
		res->body = NULL;
	}
	res->code = r;
	return r;
}

/* notBefore / notAfter as RFC 3339, "" when unreadable. */
static void
cert_time(const ASN1_TIME *at, char *out, size_t size)
{
	struct tm tm;

	out[0] = '\0';
	if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
		return;
	time_rfc3339(timegm(&tm), out, size);
}

static json_t *
cert_json(const struct ag_tokop *t, const struct p11_token_info *ti,
    const struct p11_cert_info *ci)
{
	char id[AG_CERT_ID_MAX + 2], nb[32], na[32];
	const char *alg = NULL;
	json_t *o = NULL;
	char *b64 = NULL;
	X509 *x;

	nb[0] = na[0] = '\0';
	if ((x = cert_parse(ci->der, ci->der_len)) != NULL) {
		alg = cert_alg(t, x);
		cert_time(X509_get0_notBefore(x), nb, sizeof(nb));
		cert_time(X509_get0_notAfter(x), na, sizeof(na));
	}
	snprintf(id, sizeof(id), "%s:%s", ti->serial, ci->id_hex);
	if ((b64 = b64_encode(ci->der, ci->der_len, 0)) == NULL)
		goto out;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s*,s:s}", "id", id,
	    "token", ti->serial, "label", ci->label != NULL ? ci->label : "",
	    "subject", ci->subject != NULL ? ci->subject : "", "issuer",
	    ci->issuer != NULL ? ci->issuer : "", "notBefore", nb, "notAfter",
	    na, "algorithm", alg, "certificate", b64);
out:
	X509_free(x);
	free(b64);
	return o;
}

static json_t *
token_json(struct ag_tokop *t, const struct p11_token_info *ti)
{
	json_t *o, *pin;

	pin = pin_json(t, ti->serial, AG_PIN_USER, &ti->status, NULL);
	o = json_pack("{s:s,s:s,s:s,s:s,s:o*}", "serial", ti->serial, "label",
	    ti->label, "manufacturer", ti->manufacturer, "model", ti->model,
	    "pin", pin);
	return o;
}

static int
list_or_status(struct ag_tokop *t, int certs, struct ag_result *res)
{
	struct p11_token_list *list = NULL; /* goes to t's cache */
	json_t *toks = NULL, *cs = NULL, *o;
	size_t i, j;
	int r;

	memset(res, 0, sizeof(*res));
	(void)ag_tokop_flush(t); /* the counts shown must be the written ones */
	if ((r = list_tokens(t, &list)) != 0)
		goto out;
	/* The freshest listing there is: keep it for authenticate. */
	t->alg_ci = NULL;
	p11_token_list_free(t->list);
	t->list = list;
	t->list_at = now_ms();
	r = UK_ERR_NOMEM;
	if ((toks = json_array()) == NULL || (cs = json_array()) == NULL)
		goto out;
	for (i = 0; i < list->ntokens; i++) {
		const struct p11_token_info *ti = &list->tokens[i];
		if (!ti->initialized)
			continue;
		if ((o = token_json(t, ti)) == NULL ||
		    json_array_append_new(toks, o) != 0)
			goto out;
		for (j = 0; certs && j < ti->ncerts; j++) {
			if ((o = cert_json(t, ti, &ti->certs[j])) == NULL ||
			    json_array_append_new(cs, o) != 0)
				goto out;
		}
	}
	if (certs)
		res->body =
		    json_pack("{s:o,s:o}", "tokens", toks, "certificates", cs);
	else
		res->body =
		    json_pack("{s:b,s:o}", "moduleLoaded", 1, "tokens", toks);
	toks = NULL;
	if (certs)
		cs = NULL;
	if (res->body == NULL)
		goto out;
	r = 0;
out:
	json_decref(toks);
	json_decref(cs);
	after(t, r);
	res->code = r;
	return r;
}

int
ag_tokop_list(struct ag_tokop *t, struct ag_result *res)
{
	return list_or_status(t, 1, res);
}

int
ag_tokop_status(struct ag_tokop *t, struct ag_result *res)
{
	return list_or_status(t, 0, res);
}

/* Opens serial ("" or NULL: the first initialised token). */
static int
token_open(struct ag_tokop *t, const char *serial, struct p11_token **tok)
{
	int r;

	*tok = NULL;
	if ((r = ctx_ensure(t)) != 0)
		return r;
	r = p11_token_open(t->ctx,
	    serial != NULL && serial[0] != '\0' ? serial : NULL, tok);
	if (r == UK_ERR_TOKEN_MODULE && p11_ctx_reload(t->ctx) == 0)
		r = p11_token_open(t->ctx,
		    serial != NULL && serial[0] != '\0' ? serial : NULL, tok);
	return r;
}

/* "/CN=x/O=y" into an X509_NAME. */
static int
subject_parse(const char *s, X509_NAME **out)
{
	X509_NAME *n = NULL;
	char *copy = NULL, *p, *next, *eq;
	int r = UK_ERR_INPUT;

	*out = NULL;
	if (s == NULL || s[0] != '/' || (copy = strdup(s + 1)) == NULL ||
	    (n = X509_NAME_new()) == NULL) {
		r = s != NULL && s[0] == '/' ? UK_ERR_NOMEM : UK_ERR_INPUT;
		goto out;
	}
	for (p = copy; p != NULL && *p != '\0'; p = next) {
		if ((next = strchr(p, '/')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(p, '=')) == NULL || eq == p || eq[1] == '\0')
			goto out;
		*eq = '\0';
		if (X509_NAME_add_entry_by_txt(n, p, MBSTRING_UTF8,
		        (const unsigned char *)(eq + 1), -1, -1, 0) != 1)
			goto out;
	}
	if (X509_NAME_entry_count(n) == 0)
		goto out;
	*out = n;
	n = NULL; /* transferred */
	r = 0;
out:
	X509_NAME_free(n);
	free(copy);
	return r;
}

int
ag_tokop_enroll(struct ag_tokop *t, const char *serial, const char *subject,
    const char *key_type, const char *label, const struct secret *pin, int en,
    struct ag_result *res)
{
	struct p11_token *tok = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	struct p11_id id;
	char desc[DESC_MAX], idhex[2 * P11_ID_MAX + 1],
	    full[AG_CERT_ID_MAX + 2];
	BIO *bio = NULL;
	BUF_MEM *mem;
	char *pem = NULL;
	int r, logged_in = 0;

	memset(res, 0, sizeof(*res));
	if ((r = subject_parse(subject, &name)) != 0)
		goto out;
	r = UK_ERR_INPUT;
	if (key_type == NULL ||
	    (strcmp(key_type, "EC") != 0 && strcmp(key_type, "RSA") != 0))
		goto out;
	if ((r = token_open(t, serial, &tok)) != 0)
		goto out;
	snprintf(res->serial, sizeof(res->serial), "%s", p11_token_serial(tok));
	snprintf(desc, sizeof(desc),
	    en ? "New key pair on UKey %s (%s)"
	       : "在UKey %s（%s）上生成新的密钥对",
	    p11_token_label(tok), p11_token_serial(tok));
	if ((r = attempt(t, tok, AG_PIN_USER, pin, desc, en, NULL, NULL,
	         op_login, NULL, res)) != 0)
		goto out;
	logged_in = 1;
	if ((r = p11_keygen(tok,
	         strcmp(key_type, "RSA") == 0 ? P11_KEY_RSA_2048
	                                      : P11_KEY_EC_P256,
	         label != NULL && label[0] != '\0' ? label : "ukey", NULL,
	         &id)) != 0)
		goto out;
	if ((r = p11_csr(tok, &id, name, &req)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 ||
	    (pem = strndup(mem->data, mem->length)) == NULL)
		goto out;
	if ((r = p11_id_to_hex(&id, idhex, sizeof(idhex))) != 0)
		goto out;
	snprintf(full, sizeof(full), "%s:%s", p11_token_serial(tok), idhex);
	r = UK_ERR_NOMEM;
	if ((res->body = json_pack("{s:s,s:s}", "id", full, "csr", pem)) ==
	    NULL)
		goto out;
	uk_log(UK_LOG_INFO, "token %s: key pair %s generated, CSR made",
	    p11_token_serial(tok), idhex);
	r = 0;
out:
	if (logged_in)
		(void)p11_logout(tok);
	p11_token_free(tok);
	cache_drop(t); /* objects or PIN states changed */
	X509_NAME_free(name);
	X509_REQ_free(req);
	BIO_free(bio);
	free(pem);
	after(t, r);
	res->code = r;
	return r;
}

int
ag_tokop_install(struct ag_tokop *t, const char *cert_id,
    const unsigned char *der, size_t der_len, const char *label,
    const struct secret *pin, int en, struct ag_result *res)
{
	struct p11_token *tok = NULL;
	struct p11_id id;
	char serial[17], desc[DESC_MAX];
	X509 *x = NULL;
	int r, logged_in = 0;

	memset(res, 0, sizeof(*res));
	r = UK_ERR_INPUT;
	if (cert_id == NULL || ag_cert_id_parse(cert_id, serial, &id) != 0 ||
	    serial[0] == '\0')
		goto out;
	r = UK_ERR_CERT_MALFORMED;
	if ((x = cert_parse(der, der_len)) == NULL)
		goto out;
	if ((r = token_open(t, serial, &tok)) != 0)
		goto out;
	snprintf(res->serial, sizeof(res->serial), "%s", serial);
	snprintf(desc, sizeof(desc),
	    en ? "Install a certificate on UKey %s (%s)"
	       : "把证书写入UKey %s（%s）",
	    p11_token_label(tok), serial);
	if ((r = attempt(t, tok, AG_PIN_USER, pin, desc, en, NULL, NULL,
	         op_login, NULL, res)) != 0)
		goto out;
	logged_in = 1;
	if ((r = p11_store_cert(tok, &id,
	         label != NULL && label[0] != '\0' ? label : NULL, x)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((res->body = json_pack("{s:s}", "id", cert_id)) == NULL)
		goto out;
	uk_log(UK_LOG_INFO, "token %s: certificate installed", serial);
	r = 0;
out:
	if (logged_in)
		(void)p11_logout(tok);
	p11_token_free(tok);
	cache_drop(t); /* objects or PIN states changed */
	X509_free(x);
	after(t, r);
	res->code = r;
	return r;
}

/* Asking for the new PIN, between the guarded PIN and its attempt. */
struct newpin {
	const struct secret *given;
	struct secret *pin;
	const char *desc;
	int en;
};

static int
prep_new_pin(struct ag_tokop *t, void *arg)
{
	struct newpin *np = arg;
	int r;

	if ((r = pin_obtain(t, np->given, np->desc, NULL, np->en, 1,
	         &np->pin)) != 0)
		return r;
	if (!pin_format_ok(np->pin)) {
		r = UK_ERR_TOKEN_PIN_FORMAT;
		uk_log_err(r, "the new PIN is refused");
	}
	return r;
}

static int
op_init_pin(struct p11_token *tok, const struct secret *so_pin, void *arg)
{
	struct newpin *np = arg;

	return p11_init_pin(tok, so_pin, np->pin);
}

static int
op_change_pin(struct p11_token *tok, const struct secret *pin, void *arg)
{
	struct newpin *np = arg;

	return p11_change_pin(tok, pin, np->pin);
}

int
ag_tokop_unlock(struct ag_tokop *t, const char *serial,
    const struct secret *so_pin, const struct secret *new_pin, int en,
    struct ag_result *res)
{
	struct p11_token *tok = NULL;
	struct newpin np = { new_pin, NULL, NULL, en };
	char desc[DESC_MAX], ndesc[DESC_MAX];
	struct p11_status st;
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = token_open(t, serial, &tok)) != 0)
		goto out;
	snprintf(res->serial, sizeof(res->serial), "%s", p11_token_serial(tok));
	snprintf(desc, sizeof(desc),
	    en ? "Unblock UKey %s (%s): the security officer's PIN (SO PIN)"
	       : "解锁UKey %s（%s）：请输入管理员PIN码（SO PIN）",
	    p11_token_label(tok), p11_token_serial(tok));
	snprintf(ndesc, sizeof(ndesc),
	    en ? "New user PIN for UKey %s (%s)"
	       : "为UKey %s（%s）设置新的PIN码",
	    p11_token_label(tok), p11_token_serial(tok));
	np.desc = ndesc;
	if ((r = attempt(t, tok, AG_PIN_SO, so_pin, desc, en, prep_new_pin, &np,
	         op_init_pin, &np, res)) != 0)
		goto out;
	if ((r = ag_guard_reset(t->guard, p11_token_serial(tok),
	         AG_PIN_USER)) != 0)
		uk_log(UK_LOG_WARN,
		    "token %s: unblocked, but the guard's count "
		    "stays until the next correct PIN",
		    p11_token_serial(tok));
	p11_token_last_status(tok, &st);
	json_decref(res->pin);
	res->pin = pin_json(t, p11_token_serial(tok), AG_PIN_USER, &st, NULL);
	r = UK_ERR_NOMEM;
	if ((res->body = json_pack("{s:s,s:O*}", "token", p11_token_serial(tok),
	         "pin", res->pin)) == NULL)
		goto out;
	uk_log(UK_LOG_INFO, "token %s: user PIN unblocked by the SO",
	    p11_token_serial(tok));
	r = 0;
out:
	secret_free(np.pin);
	p11_token_free(tok);
	cache_drop(t); /* objects or PIN states changed */
	after(t, r);
	res->code = r;
	return r;
}

int
ag_tokop_change_pin(struct ag_tokop *t, const char *serial,
    const struct secret *pin, const struct secret *new_pin, int en,
    struct ag_result *res)
{
	struct p11_token *tok = NULL;
	struct newpin np = { new_pin, NULL, NULL, en };
	char desc[DESC_MAX], ndesc[DESC_MAX];
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = token_open(t, serial, &tok)) != 0)
		goto out;
	snprintf(res->serial, sizeof(res->serial), "%s", p11_token_serial(tok));
	snprintf(desc, sizeof(desc),
	    en ? "Change the PIN of UKey %s (%s): the current PIN"
	       : "修改UKey %s（%s）的PIN码：请输入当前PIN码",
	    p11_token_label(tok), p11_token_serial(tok));
	snprintf(ndesc, sizeof(ndesc),
	    en ? "New PIN for UKey %s (%s)" : "为UKey %s（%s）设置新的PIN码",
	    p11_token_label(tok), p11_token_serial(tok));
	np.desc = ndesc;
	if ((r = attempt(t, tok, AG_PIN_USER, pin, desc, en, prep_new_pin, &np,
	         op_change_pin, &np, res)) != 0)
		goto out;
	r = UK_ERR_NOMEM;
	if ((res->body = json_pack("{s:s,s:O*}", "token", p11_token_serial(tok),
	         "pin", res->pin)) == NULL)
		goto out;
	uk_log(UK_LOG_INFO, "token %s: user PIN changed",
	    p11_token_serial(tok));
	r = 0;
out:
	secret_free(np.pin);
	p11_token_free(tok);
	cache_drop(t); /* objects or PIN states changed */
	after(t, r);
	res->code = r;
	return r;
}
