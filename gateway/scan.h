/* gateway/scan.h: scan login tickets (WeChat-style): create, poll and wait, the phone's OAuth state, scanned, confirm or cancel, claim, bind; every step atomic in the store, audited and announced with store_notify. */
#ifndef UK_GW_SCAN_H
#define UK_GW_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/identity.h"
#include "gateway/session.h"
#include "gateway/wechat.h"

struct store;

#define GW_SCAN_ID_LEN 32 /* ticket id: 32 lowercase hex (128 bits) */
#define GW_SCAN_TTL 120 /* default seconds a ticket lives ([scan] ticket_ttl) */
#define GW_SCAN_INTERVAL 2    /* seconds between polls answered at once */
#define GW_SCAN_STATE_TTL 600 /* seconds an OAuth state lives */

/*
 * The flow (the HTTP routes call these in this order):
 *
 * Browser (the requesting computer; cookie: its pre-login cookie value):
 *   gw_scan_create -> id; QR of "https://<gateway>/qr/s/<id>" (gateway/qr.h)
 *   gw_scan_poll (every wait request once, when it arrives) -> the state;
 *     with *hold the route suspends the request and, on every wake-up
 *     (store_changed, a local resume, or a ~1 s timer), calls
 *     gw_scan_wait_state until changed or ~25 s passed.
 *   gw_scan_claim once confirmed -> the operator id for the session.
 * Phone (in WeChat; cookie: the phone browser's own pre-login cookie):
 *   GET /qr/s/<id>: gw_scan_phone_view first (already scanned by this
 *     phone: show the confirm page), else gw_scan_oauth_begin -> redirect
 *     to WeChat with redirect_uri "https://<gateway>/qr/s/<id>/cb".
 *   GET /qr/s/<id>/cb?code&state: gw_scan_callback (state taken once,
 *     code exchanged, openid mapped, ticket scanned) -> the confirm page
 *     (gw_scan_view: unit, operator, requesting IP, user agent, time) with
 *     the CSRF token gw_scan_csrf.
 *   POST confirm / cancel with that token: gw_scan_confirm, gw_scan_cancel.
 *
 * Tickets are stored by the SHA-256 of their id and bound to the SHA-256
 * of the browser's cookie; a ticket of another browser is answered
 * UK_ERR_SCAN_TICKET_UNKNOWN as if it did not exist (the phone side:
 * UK_ERR_SCAN_WRONG_SITE). Every ticket expires GW_SCAN_TTL seconds after
 * creation (claimed ones stay claimed). All functions take now (UTC
 * seconds) from the caller and return 0 or an enum uk_err code; a store
 * error leaves nothing changed. Every change commits with its audit row
 * (events scan.create, scan.scanned, scan.confirm, scan.cancel,
 * scan.claim, scan.refused; subject "scan:<first 16 hex of the id's
 * SHA-256>"; result "ok" or the error id) and is followed by
 * store_notify(st), which wakes store_changed on every other connection
 * (PostgreSQL LISTEN/NOTIFY; SQLite: data_version).
 */

enum gw_scan_kind {
	GW_SCAN_LOGIN = 1, /* a scan login from the login page */
	GW_SCAN_BIND = 2,  /* a UKey-logged-in operator binds their WeChat */
};

enum gw_scan_state {
	GW_SCAN_WAITING = 1,
	GW_SCAN_SCANNED = 2,
	GW_SCAN_CONFIRMED = 3,
	GW_SCAN_CANCELLED = 4,
	GW_SCAN_EXPIRED = 5,
	GW_SCAN_CLAIMED = 6,
};

/* "waiting", "scanned", ... ; "" for an unknown value. */
const char *gw_scan_state_name(enum gw_scan_state s);

/* Parses a state name. Returns 0 or UK_ERR_INPUT. */
int gw_scan_state_parse(const char *s, enum gw_scan_state *out);

/* 1 when the state is final (cancelled, expired, claimed). */
int gw_scan_state_final(enum gw_scan_state s);

/* 1 when id has the form of a ticket id (GW_SCAN_ID_LEN lowercase hex). */
int gw_scan_id_valid(const char *id);

/* A browser or phone making a request: cookie is its pre-login cookie
 * value (the binding; required), ip and user_agent (may be NULL) are kept
 * or audited. */
struct gw_scan_peer {
	const char *cookie;
	const char *ip;
	const char *user_agent;
};

/* What a ticket shows: to the browser (state) and on the phone's confirm
 * page (everything). Strings are NUL-terminated, "" when unknown. */
struct gw_scan_view {
	enum gw_scan_kind kind;
	enum gw_scan_state state; /* expiry by time applied */
	int64_t created_at, expires_at;
	int64_t operator_id; /* login: once scanned; bind: the requester */
	char operator_login[GW_LOGIN_MAX + 1];
	char operator_name[GW_NAME_MAX + 1];
	char unit_id[GW_LOGIN_MAX + 1];
	char unit_name[GW_NAME_MAX + 1];
	char requester_ip[64];
	char requester_ua[256];
};

/*
 * Makes a ticket of kind for browser (its cookie, IP and user agent kept
 * for the confirm page): waiting, expiring at now + gw_scan_ttl(); for
 * GW_SCAN_BIND, bind_operator is the logged-in operator asking (must be
 * active: else UK_ERR_SCAN_OPERATOR_LEFT / UK_ERR_LOGIN_DISABLED), else 0.
 * Writes the fresh id (never stored) into id. Audited "scan.create".
 */
/* How long new tickets live, seconds (30..600; default GW_SCAN_TTL), for
 * the whole process: [scan] ticket_ttl. Set at start-up. */
void gw_scan_set_ttl(int seconds);
int gw_scan_ttl(void);

int gw_scan_create(struct store *st, enum gw_scan_kind kind,
    int64_t bind_operator, const struct gw_scan_peer *browser, int64_t now,
    char id[GW_SCAN_ID_LEN + 1]);

/*
 * A wait request of the binding browser (cookie) that last saw state seen
 * (NULL or "" when none or unknown). Fills *out. *hold is 1 when seen is
 * the current state and it is not final: nothing to tell yet, the caller
 * holds the request (gw_scan_wait_state). Otherwise the request is
 * answered at once, at most once per GW_SCAN_INTERVAL seconds per ticket
 * (counted in the store, so across gateways): a faster one gets
 * UK_ERR_SCAN_SLOW_DOWN. A ticket past its expiry is set "expired".
 * UK_ERR_SCAN_TICKET_UNKNOWN: no such ticket for this browser.
 */
int gw_scan_poll(struct store *st, const char *id, const char *cookie,
    const char *seen, int64_t now, struct gw_scan_view *out, int *hold);

/*
 * The check a held wait makes on each wake-up: reads (no write, no rate
 * limit) the current state of the browser's ticket into *cur and sets
 * *changed to 1 when it differs from seen. Returns 0 or
 * UK_ERR_SCAN_TICKET_UNKNOWN or a store error.
 */
int gw_scan_wait_state(struct store *st, const char *id, const char *cookie,
    enum gw_scan_state seen, int64_t now, enum gw_scan_state *cur,
    int *changed);

/*
 * The phone opened /qr/s/<id>: checks the ticket is waiting (else
 * UK_ERR_SCAN_WRONG_SITE for an unknown id, UK_ERR_SCAN_EXPIRED,
 * UK_ERR_SCAN_CANCELLED or UK_ERR_SCAN_STATE), stores a fresh OAuth state
 * (its SHA-256) bound to the ticket and to the phone's cookie, single use,
 * GW_SCAN_STATE_TTL seconds, and returns in *url (malloc'd, caller frees)
 * WeChat's authorize URL for redirect_uri (gw_wechat_authorize_url).
 */
int gw_scan_oauth_begin(struct store *st, const struct gw_wechat_conf *wc,
    const char *id, const struct gw_scan_peer *phone, const char *redirect_uri,
    int64_t now, char **url);

/*
 * Takes the OAuth state out of use (single use, even when this call then
 * fails) and checks it was issued for ticket id and this phone and has
 * not expired. Returns 0 or UK_ERR_SCAN_OAUTH_STATE (forged, used,
 * expired, another ticket's or another phone's; audited "scan.refused").
 */
int gw_scan_oauth_take(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *state, int64_t now);

/*
 * The phone is openid (WeChat said so): a login ticket maps it to the
 * operator bound to it, who must be active, of an active unit with the
 * agreement signed; a bind ticket checks the openid is bound to no other
 * operator. Then waiting -> scanned, bound to this phone, the scanner's IP
 * and user agent kept; *out (may be NULL) filled for the confirm page.
 * Refusals (audited "scan.refused", the ticket stays waiting):
 * UK_ERR_SCAN_NOT_OPERATOR (openid bound to no operator),
 * UK_ERR_SCAN_OPERATOR_LEFT, UK_ERR_SCAN_NO_AGREEMENT,
 * UK_ERR_LOGIN_DISABLED (operator disabled, unit closed),
 * UK_ERR_SCAN_OPENID_TAKEN (bind); and UK_ERR_SCAN_WRONG_SITE,
 * UK_ERR_SCAN_EXPIRED, UK_ERR_SCAN_CANCELLED, UK_ERR_SCAN_STATE.
 * Each of the first four is shown as 「扫码认证失败」 with its cause.
 */
int gw_scan_scanned(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *openid, int64_t now,
    struct gw_scan_view *out);

/*
 * The OAuth callback in one call: gw_scan_oauth_take(state), then
 * gw_wechat_code_to_openid(code) (outside any transaction), then
 * gw_scan_scanned. code and state as gw_wechat_callback_parse gives them.
 * Returns what those return.
 */
int gw_scan_callback(struct store *st, const struct gw_wechat_conf *wc,
    const char *id, const struct gw_scan_peer *phone, const char *code,
    const char *state, int64_t now, struct gw_scan_view *out);

/* The ticket as the phone that scanned it sees it (confirm page). Returns
 * 0, or UK_ERR_SCAN_WRONG_SITE when the ticket is unknown or was not
 * scanned by this phone. */
int gw_scan_phone_view(struct store *st, const char *id, const char *cookie,
    int64_t now, struct gw_scan_view *out);

/* The CSRF token of the confirm page: base64url(SHA-256("ukey-gateway scan
 * csrf" NUL cookie NUL id)), bound to the phone's HttpOnly cookie and the
 * ticket; no server key, so every gateway agrees. */
void gw_scan_csrf(const char *cookie, const char *id, char out[GW_TOKEN_SIZE]);

/*
 * The phone confirms (csrf from the page, checked in constant time:
 * UK_ERR_CSRF): scanned -> confirmed. For a bind ticket the openid is bound
 * to the operator now (gw_operator_bind_openid, same transaction;
 * UK_ERR_SCAN_OPENID_TAKEN, UK_ERR_SCAN_OPERATOR_LEFT). Other errors as
 * gw_scan_scanned's. Audited "scan.confirm".
 */
int gw_scan_confirm(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *csrf, int64_t now);

/* The phone cancels: scanned -> cancelled. Audited "scan.cancel". */
int gw_scan_cancel(struct store *st, const char *id,
    const struct gw_scan_peer *phone, const char *csrf, int64_t now);

/*
 * The binding browser claims a confirmed login ticket, once, before it
 * expires: confirmed -> claimed; the operator is checked again (left,
 * disabled, agreement) and its id written to *operator_id for the session
 * (method "scan"). Returns 0, UK_ERR_SCAN_TICKET_UNKNOWN (unknown or
 * another browser's), UK_ERR_SCAN_EXPIRED, UK_ERR_SCAN_CANCELLED,
 * UK_ERR_SCAN_STATE (not confirmed yet, already claimed, a bind ticket),
 * or a refusal as gw_scan_scanned's. Audited "scan.claim".
 */
int gw_scan_claim(struct store *st, const char *id,
    const struct gw_scan_peer *browser, int64_t now, int64_t *operator_id);

/* Deletes tickets expired more than an hour before now and OAuth states
 * past their expiry. Returns 0 or a store error. */
int gw_scan_purge(struct store *st, int64_t now);

#endif
