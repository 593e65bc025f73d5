/* agent/events.c: card events: pcsc-lite reader and card changes, and PKCS#11 slot polling for keys pcscd does not see. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <winscard.h>

#include "agent/events.h"
#include "common/errors.h"
#include "common/log.h"
#include "pkcs11/token.h"

/* The pseudo reader pcsc-lite reports reader list changes on. */
#define PNP_READER "\\\\?PnP?\\Notification"

/* Longest ATR (ISO 7816-3: 33 bytes; pcsc-lite keeps MAX_ATR_SIZE). */
#define ATR_HEX_MAX (2 * MAX_ATR_SIZE + 1)

struct ag_events {
	pthread_mutex_t mu; /* guards stop, poke, cards, sc, sc_valid */
	pthread_cond_t cv;  /* signalled on stop and poke */
	int stop;
	int poke;  /* the PKCS#11 thread should list now */
	int cards; /* cards present in pcscd's readers */
	SCARDCONTEXT sc;
	int sc_valid; /* sc may be cancelled */

	pthread_mutex_t cb_mu; /* one callback at a time */
	void (*cb)(void *arg, const char *event_json);
	void *arg;

	char *module; /* NULL: no PKCS#11 polling */

	pthread_t pcsc_th, p11_th;
	int pcsc_started, p11_started;
	int mu_init, cv_init, cb_mu_init;
};

/* One reader as the PC/SC thread knows it. */
struct reader {
	char *name;
	DWORD state; /* the last dwEventState, CHANGED cleared */
	int present;
};

struct readers {
	struct reader r[AG_EVENTS_READERS_MAX];
	size_t n;
	DWORD pnp_state;
	int pnp_unsupported;
};

/* One token as the PKCS#11 thread knows it. */
struct token {
	char serial[17];
	char label[33];
};

static int
stopping(struct ag_events *ev)
{
	int s;

	pthread_mutex_lock(&ev->mu);
	s = ev->stop;
	pthread_mutex_unlock(&ev->mu);
	return s;
}

/* Waits up to ms milliseconds, or until stop (or, with poke_ok, a poke).
 * Returns 1 when stopping. */
static int
pause_ms(struct ag_events *ev, long ms, int poke_ok)
{
	struct timespec until;
	int s;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->mu);
	while (!ev->stop && !(poke_ok && ev->poke)) {
		if (pthread_cond_timedwait(&ev->cv, &ev->mu, &until) ==
		    ETIMEDOUT)
			break;
	}
	if (poke_ok)
		ev->poke = 0;
	s = ev->stop;
	pthread_mutex_unlock(&ev->mu);
	return s;
}

/* A PC/SC change was seen: the PKCS#11 thread lists now, and learns how
 * many cards pcscd holds. */
static void
poke(struct ag_events *ev, const struct readers *rs)
{
	size_t i;
	int n = 0;

	for (i = 0; i < rs->n; i++)
		n += rs->r[i].present != 0;
	pthread_mutex_lock(&ev->mu);
	ev->poke = 1;
	ev->cards = n;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

/* Sends obj (consumed) as one line of JSON to the callback. */
static void
emit(struct ag_events *ev, json_t *obj)
{
	char *s = NULL;

	if (obj == NULL) {
		uk_log(UK_LOG_ERROR, "card event lost: out of memory");
		return;
	}
	if ((s = json_dumps(obj, JSON_COMPACT)) == NULL) {
		uk_log(UK_LOG_ERROR, "card event lost: out of memory");
		goto out;
	}
	uk_log(UK_LOG_DEBUG, "card event %s", s);
	pthread_mutex_lock(&ev->cb_mu);
	ev->cb(ev->arg, s);
	pthread_mutex_unlock(&ev->cb_mu);
out:
	free(s);
	json_decref(obj);
}

static void
emit_reader(struct ag_events *ev, const char *type, const char *reader,
    const char *atr_hex)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s}", "type", type, "source", "pcsc",
	    "reader", reader);
	if (o != NULL && atr_hex != NULL &&
	    json_object_set_new(o, "atr", json_string(atr_hex)) != 0) {
		json_decref(o);
		o = NULL;
	}
	emit(ev, o);
}

static void
emit_token(struct ag_events *ev, const char *type, const struct token *t)
{
	emit(ev,
	    json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", type, "source",
	        "pkcs11", "token", "serial", t->serial, "label", t->label));
}

static void
atr_hex(const unsigned char *atr, DWORD len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	DWORD i;

	if (len > MAX_ATR_SIZE)
		len = MAX_ATR_SIZE;
	for (i = 0; i < len; i++) {
		out[2 * i] = hex[atr[i] >> 4];
		out[2 * i + 1] = hex[atr[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Drops reader i, reporting its card and itself gone unless silent. */
static void
reader_drop(struct ag_events *ev, struct readers *rs, size_t i, int silent)
{
	if (!silent) {
		if (rs->r[i].present)
			emit_reader(ev, "removed", rs->r[i].name, NULL);
		emit_reader(ev, "reader-removed", rs->r[i].name, NULL);
	}
	free(rs->r[i].name);
	rs->r[i] = rs->r[rs->n - 1];
	memset(&rs->r[rs->n - 1], 0, sizeof(rs->r[0]));
	rs->n--;
}

/*
 * Reads the reader list and brings rs in line with it: readers gone are
 * dropped (reported), new ones added in state UNAWARE (reported). Returns
 * SCARD_S_SUCCESS or the failing call's code.
 */
static LONG
readers_sync(struct ag_events *ev, SCARDCONTEXT sc, struct readers *rs,
    int silent)
{
	char *buf = NULL;
	const char *p;
	DWORD len = SCARD_AUTOALLOCATE;
	size_t i;
	int seen[AG_EVENTS_READERS_MAX];
	int found, changed = 0;
	LONG rv;

	rv = SCardListReaders(sc, NULL, (LPSTR)&buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		buf = NULL;
		rv = SCARD_S_SUCCESS;
	}
	if (rv != SCARD_S_SUCCESS)
		goto out;
	memset(seen, 0, sizeof(seen));
	for (p = buf; p != NULL && *p != '\0'; p += strlen(p) + 1) {
		found = 0;
		for (i = 0; i < rs->n; i++) {
			if (strcmp(rs->r[i].name, p) == 0) {
				seen[i] = found = 1;
				break;
			}
		}
		if (found)
			continue;
		if (rs->n == AG_EVENTS_READERS_MAX) {
			uk_log(UK_LOG_WARN, "more than %d readers: %s ignored",
			    AG_EVENTS_READERS_MAX, p);
			continue;
		}
		if ((rs->r[rs->n].name = strdup(p)) == NULL) {
			rv = SCARD_E_NO_MEMORY;
			goto out;
		}
		rs->r[rs->n].state = SCARD_STATE_UNAWARE;
		rs->r[rs->n].present = 0;
		seen[rs->n] = 1;
		rs->n++;
		changed = 1;
		if (!silent)
			emit_reader(ev, "reader-added", p, NULL);
	}
	for (i = rs->n; i-- > 0;) {
		if (!seen[i]) {
			/* reader_drop moves the last reader into i; the
			 * last one was already looked at. */
			seen[i] = seen[rs->n - 1];
			reader_drop(ev, rs, i, silent);
			changed = 1;
		}
	}
	if (changed)
		poke(ev, rs);
out:
	if (buf != NULL)
		SCardFreeMemory(sc, buf);
	return rv;
}

/*
 * Follows readers and cards on the connected context sc until pcscd fails
 * or stop. *silent: the baseline is still being taken (cleared here once
 * it has been). Returns when the context is no longer usable.
 */
static void
pcsc_follow(struct ag_events *ev, SCARDCONTEXT sc, struct readers *rs,
    int *silent)
{
	SCARD_READERSTATE st[AG_EVENTS_READERS_MAX + 1];
	char hex[ATR_HEX_MAX];
	DWORD es;
	size_t i, n;
	int relist, present;
	LONG rv;

	while (!stopping(ev)) {
		if ((rv = readers_sync(ev, sc, rs, *silent)) !=
		    SCARD_S_SUCCESS) {
			uk_log(UK_LOG_DEBUG, "SCardListReaders: %s",
			    pcsc_stringify_error(rv));
			return;
		}
		relist = 0;
		while (!relist && !stopping(ev)) {
			memset(st, 0, sizeof(st));
			for (i = 0; i < rs->n; i++) {
				st[i].szReader = rs->r[i].name;
				st[i].dwCurrentState = rs->r[i].state;
			}
			n = rs->n;
			st[n].szReader = PNP_READER;
			st[n].dwCurrentState = rs->pnp_state;
			rv = SCardGetStatusChange(sc, AG_EVENTS_PCSC_WAIT_MS,
			    st, (DWORD)n + 1);
			if (rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED) {
				*silent = 0;
				relist = rs->pnp_unsupported;
				continue;
			}
			if (rv == SCARD_E_UNKNOWN_READER) {
				relist = 1;
				continue;
			}
			if (rv != SCARD_S_SUCCESS) {
				uk_log(UK_LOG_DEBUG, "SCardGetStatusChange: %s",
				    pcsc_stringify_error(rv));
				return;
			}
			for (i = 0; i < n; i++) {
				es = st[i].dwEventState;
				if ((es & SCARD_STATE_CHANGED) == 0)
					continue;
				if ((es &
				        (SCARD_STATE_UNKNOWN |
				            SCARD_STATE_IGNORE)) != 0) {
					relist = 1; /* the reader went away */
					continue;
				}
				rs->r[i].state = es & ~SCARD_STATE_CHANGED;
				present = (es & SCARD_STATE_PRESENT) != 0;
				if (present == rs->r[i].present)
					continue;
				rs->r[i].present = present;
				poke(ev, rs);
				if (*silent)
					continue;
				if (present) {
					atr_hex(st[i].rgbAtr, st[i].cbAtr, hex);
					emit_reader(ev, "inserted",
					    rs->r[i].name, hex);
				} else {
					emit_reader(ev, "removed",
					    rs->r[i].name, NULL);
				}
			}
			es = st[n].dwEventState;
			if ((es & SCARD_STATE_UNKNOWN) != 0)
				rs->pnp_unsupported = 1;
			else if ((es & SCARD_STATE_CHANGED) != 0)
				relist = 1;
			rs->pnp_state = es & ~SCARD_STATE_CHANGED;
			*silent = 0;
		}
	}
}

static void *
pcsc_main(void *a)
{
	struct ag_events *ev = a;
	struct readers *rs = NULL;
	SCARDCONTEXT sc;
	int silent = 1, told = 0;
	LONG rv;
	size_t i;

	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		uk_log_err(UK_ERR_NOMEM, "PC/SC card events are off");
		goto out;
	}
	while (!stopping(ev)) {
		rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc);
		if (rv != SCARD_S_SUCCESS) {
			if (!told)
				uk_log(UK_LOG_INFO,
				    "no PC/SC service (%s): trying again "
				    "every %d s",
				    pcsc_stringify_error(rv),
				    AG_EVENTS_PCSC_RETRY_MS / 1000);
			told = 1;
			silent = 0;
			pause_ms(ev, AG_EVENTS_PCSC_RETRY_MS, 0);
			continue;
		}
		if (told)
			uk_log(UK_LOG_INFO, "PC/SC service available");
		told = 0;
		pthread_mutex_lock(&ev->mu);
		ev->sc = sc;
		ev->sc_valid = !ev->stop;
		pthread_mutex_unlock(&ev->mu);
		pcsc_follow(ev, sc, rs, &silent);
		pthread_mutex_lock(&ev->mu);
		ev->sc_valid = 0;
		pthread_mutex_unlock(&ev->mu);
		SCardReleaseContext(sc);
		if (stopping(ev))
			break;
		/* pcscd went away: whatever it showed is gone. */
		uk_log(UK_LOG_INFO, "PC/SC service lost");
		while (rs->n > 0)
			reader_drop(ev, rs, rs->n - 1, silent);
		rs->pnp_state = SCARD_STATE_UNAWARE;
		rs->pnp_unsupported = 0;
		silent = 0;
		poke(ev, rs);
		pause_ms(ev, AG_EVENTS_PCSC_WAIT_MS, 0);
	}
out:
	if (rs != NULL) {
		for (i = 0; i < rs->n; i++)
			free(rs->r[i].name);
		free(rs);
	}
	return NULL;
}

/* Lists ctx's tokens into cur (at most AG_EVENTS_TOKENS_MAX). Returns 0 or
 * the p11_list failure. */
static int
tokens_read(struct p11_ctx *ctx, struct token *cur, size_t *ncur)
{
	struct p11_token_list *list = NULL;
	size_t i;
	int r;

	*ncur = 0;
	if ((r = p11_list(ctx, &list)) != 0)
		goto out;
	for (i = 0; i < list->ntokens && *ncur < AG_EVENTS_TOKENS_MAX; i++) {
		/* A blank token (SoftHSM2's spare slot, a UKey never
		 * issued) cannot be used, and has no serial to follow. */
		if (!list->tokens[i].initialized ||
		    list->tokens[i].serial[0] == '\0')
			continue;
		snprintf(cur[*ncur].serial, sizeof(cur[0].serial), "%s",
		    list->tokens[i].serial);
		snprintf(cur[*ncur].label, sizeof(cur[0].label), "%s",
		    list->tokens[i].label);
		(*ncur)++;
	}
	r = 0;
out:
	p11_token_list_free(list);
	return r;
}

static int
token_in(const struct token *t, const struct token *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(t->serial, set[i].serial) == 0)
			return 1;
	}
	return 0;
}

static void *
p11_main(void *a)
{
	struct ag_events *ev = a;
	struct p11_ctx *ctx = NULL;
	struct token *known = NULL, *cur = NULL;
	const char *allow[2] = { ev->module, NULL };
	size_t nknown = 0, ncur = 0, i;
	int silent = 1, told = 0, removed, cards, r;
	long wait;

	known = calloc(AG_EVENTS_TOKENS_MAX, sizeof(*known));
	cur = calloc(AG_EVENTS_TOKENS_MAX, sizeof(*cur));
	if (known == NULL || cur == NULL) {
		uk_log_err(UK_ERR_NOMEM, "PKCS#11 card events are off");
		goto out;
	}
	while (!stopping(ev)) {
		ncur = 0;
		if (ctx == NULL &&
		    (r = p11_ctx_new(ev->module, allow, &ctx)) != 0) {
			if (!told)
				uk_log(UK_LOG_WARN,
				    "card events: cannot load %s (%s); "
				    "trying again every %d s",
				    ev->module, uk_error_id(r),
				    AG_EVENTS_PCSC_RETRY_MS / 1000);
			told = 1;
		} else if (ctx != NULL) {
			if (told)
				uk_log(UK_LOG_INFO, "card events: %s loaded",
				    ev->module);
			told = 0;
			if (tokens_read(ctx, cur, &ncur) != 0 &&
			    (p11_ctx_reload(ctx) != 0 ||
			        tokens_read(ctx, cur, &ncur) != 0)) {
				/* The module is unusable: start afresh. */
				p11_ctx_free(ctx);
				ctx = NULL;
				ncur = 0;
			}
		}
		removed = 0;
		for (i = 0; i < nknown; i++) {
			if (!token_in(&known[i], cur, ncur)) {
				removed = 1;
				if (!silent)
					emit_token(ev, "removed", &known[i]);
			}
		}
		for (i = 0; i < ncur; i++) {
			if (!silent && !token_in(&cur[i], known, nknown))
				emit_token(ev, "inserted", &cur[i]);
		}
		memcpy(known, cur, ncur * sizeof(*cur));
		nknown = ncur;
		silent = 0;
		/* Some modules see a key put back only after C_Finalize and
		 * C_Initialize: rebuild the context after every removal. */
		if (removed && ctx != NULL && p11_ctx_reload(ctx) != 0) {
			p11_ctx_free(ctx);
			ctx = NULL;
		}
		/* While pcscd holds a card its events say when to look;
		 * reading a smart card's objects every second would only
		 * slow it down. */
		pthread_mutex_lock(&ev->mu);
		cards = ev->cards;
		pthread_mutex_unlock(&ev->mu);
		if (ctx == NULL)
			wait = AG_EVENTS_PCSC_RETRY_MS;
		else if (cards > 0)
			wait = AG_EVENTS_P11_SLOW_MS;
		else
			wait = AG_EVENTS_P11_POLL_MS;
		pause_ms(ev, wait, 1);
	}
out:
	p11_ctx_free(ctx);
	free(known);
	free(cur);
	return NULL;
}

int
ag_events_start(struct ag_events **out, const char *module,
    void (*cb)(void *arg, const char *event_json), void *arg)
{
	struct ag_events *ev = NULL;
	pthread_condattr_t ca;
	int r = UK_ERR_INPUT;

	*out = NULL;
	if (cb == NULL || (module != NULL && *module != '\0' && *module != '/'))
		goto out;
	r = UK_ERR_NOMEM;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		goto out;
	ev->cb = cb;
	ev->arg = arg;
	if (module != NULL && *module != '\0' &&
	    (ev->module = strdup(module)) == NULL)
		goto out;
	r = UK_ERR_INTERNAL;
	if (pthread_mutex_init(&ev->mu, NULL) != 0)
		goto out;
	ev->mu_init = 1;
	if (pthread_mutex_init(&ev->cb_mu, NULL) != 0)
		goto out;
	ev->cb_mu_init = 1;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&ev->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto out;
	}
	pthread_condattr_destroy(&ca);
	ev->cv_init = 1;
	if (pthread_create(&ev->pcsc_th, NULL, pcsc_main, ev) != 0)
		goto out;
	ev->pcsc_started = 1;
	if (ev->module != NULL) {
		if (pthread_create(&ev->p11_th, NULL, p11_main, ev) != 0)
			goto out;
		ev->p11_started = 1;
	}
	*out = ev;
	ev = NULL; /* transferred */
	r = 0;
out:
	if (r == UK_ERR_INTERNAL)
		uk_log_err(r, "cannot start the card event threads");
	ag_events_stop(ev);
	return r;
}

void
ag_events_stop(struct ag_events *ev)
{
	if (ev == NULL)
		return;
	if (ev->mu_init) {
		pthread_mutex_lock(&ev->mu);
		ev->stop = 1;
		if (ev->cv_init)
			pthread_cond_broadcast(&ev->cv);
		if (ev->sc_valid)
			SCardCancel(ev->sc);
		pthread_mutex_unlock(&ev->mu);
	}
	if (ev->pcsc_started)
		pthread_join(ev->pcsc_th, NULL);
	if (ev->p11_started)
		pthread_join(ev->p11_th, NULL);
	if (ev->cv_init)
		pthread_cond_destroy(&ev->cv);
	if (ev->cb_mu_init)
		pthread_mutex_destroy(&ev->cb_mu);
	if (ev->mu_init)
		pthread_mutex_destroy(&ev->mu);
	free(ev->module);
	free(ev);
}
