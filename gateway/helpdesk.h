/* gateway/helpdesk.h: what the helpdesk console reads: plain-word explanations of audit events and error codes, masking of personal data, operator search, an operator's security events and the operator behind an event number. */
#ifndef UK_GW_HELPDESK_H
#define UK_GW_HELPDESK_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/model.h"

struct store;

/*
 * One explanation: what happened, in words an operator on the telephone
 * understands, and what to do about it (the seed FAQs' answers; NULL: the
 * catalogue's remedy is right as it is). Static UTF-8 text.
 */
struct gw_hd_explain {
	int code; /* enum uk_err */
	const char *what_zh, *what_en;
	const char *remedy_zh, *remedy_en;
};

/* The explanation table, sorted by code: sets *n, returns the first. */
const struct gw_hd_explain *gw_hd_explain_table(size_t *n);

/* The table's entry for code, or NULL when there is none. */
const struct gw_hd_explain *gw_hd_explain_find(int code);

/*
 * 1 when code is one an operator can meet while logging in or right after
 * (token and PIN errors the login page shows, a malformed certificate,
 * certificate verification, login, scan, session, SMS reset and policy
 * refusals, the hall being down); every such code, and every code with a
 * seed message, has an entry in the table (a unit test checks).
 */
int gw_hd_login_code(int code);

/* What the console shows for one audit row. Static strings. */
struct gw_hd_text {
	int code;                          /* 0 for "ok" */
	const char *kind_zh, *kind_en;     /* the act: "UKey证书登录" */
	const char *what_zh, *what_en;     /* what came of it */
	const char *remedy_zh, *remedy_en; /* NULL when nothing is to be done */
};

/*
 * Describes an audit row by its event and result ("ok", "UK-4103" or
 * NULL). An unknown event is named by itself; an unknown code falls back to
 * the catalogue's text and remedy.
 */
void
gw_hd_describe(const char *event, const char *result, struct gw_hd_text *out);

/* Parses "UK-4103", "uk4103" or "4103" into *code. Returns 0 when it is a
 * code of the catalogue, else UK_ERR_NOT_FOUND. */
int gw_hd_parse_code(const char *s, int *code);

/*
 * Normalises an event number as people read it out: spaces and '-'
 * dropped, upper case. Returns 0 and writes out (33 bytes) when what is left
 * is 8 to 32 hexadecimal digits, else UK_ERR_INPUT.
 */
int gw_hd_event_number(const char *in, char out[33]);

/* One audit row. */
struct gw_hd_event {
	int64_t seq, at;
	char id[33];
	char event[64];
	char actor[GW_LOGIN_MAX + 80];
	char subject[200];
	char detail[1024]; /* truncated */
	char ip[64];
	char ua[256];
	char result[16]; /* "ok", "UK-4103" or "" */
};

/*
 * The rows whose event number is number (32 digits: that row) or begins
 * with it (8 to 31 digits), newest first, at most max into *out (malloc'd,
 * caller frees) and *n; *more says whether there were more. A row of
 * "login.password" (the attempt's own row) without a result column gets the
 * result and IP of its detail. Returns 0 or a store error.
 */
int gw_hd_events_by_number(struct store *st, const char *number, size_t max,
    struct gw_hd_event **out, size_t *n, int *more);

/* The audit events of the scan login (gateway/scan.c), read by
 * gw_hd_operator_events through the audit_event index: a new scan event
 * is added here and to the explanation table. */
#define GW_HD_SCAN_EVENTS                                                      \
	"'scan.cancel', 'scan.claim', 'scan.confirm', 'scan.create', "         \
	"'scan.refused', 'scan.scanned'"

/* How far back gw_hd_operator_events looks (seconds). */
#define GW_HD_EVENTS_WINDOW (366 * 86400)

/* Most certificates whose SHA-256 and serial gw_hd_operator_events matches
 * (the newest). */
#define GW_HD_CERTS_MAX 10

/* An operator's certificate, ours (certs table) or bound from another CA. */
struct gw_hd_cert {
	char serial[72]; /* hex; "" for an external one without our row */
	char sha256[65];
	char subject[256];
	char source[10]; /* "ca" | "external" */
	char status[10]; /* "active" | "revoked" | "bound" (external) */
	int64_t not_after, revoked_at;
};

/*
 * The certificates of operator o: those our CA issued for o's login and
 * unit (every status, from ca_list), then the explicitly bound ones not
 * already listed, newest issue first, at most GW_BINDINGS_CAP into *out
 * (malloc'd, caller frees; NULL when none) and *n. Without a CA in the
 * store only the bound ones. Returns 0 or a store error.
 */
int gw_hd_operator_certs(struct store *st, const struct gw_operator *o,
    struct gw_hd_cert **out, size_t *n);

/*
 * The security events of operator o, newest first, within
 * GW_HD_EVENTS_WINDOW before now: rows whose subject is the operator
 * ("operator:<login>", the login or resident ID as typed at a password
 * login, in any case), one of certs' SHA-256 or serials (certificate
 * logins and CA acts; the newest GW_HD_CERTS_MAX), or the unit
 * ("unit:<id>"); rows the operator did (actor "operator:<login>"); scan
 * rows naming the operator or its WeChat. The helpdesk's own reading rows
 * ("helpdesk.search", "helpdesk.view") and the password attempt rows that
 * a "login.password.refused" row repeats are left out. At most max into
 * *out (malloc'd, caller frees) and *n; *more says whether there were
 * more. Returns 0 or a store error.
 */
int gw_hd_operator_events(struct store *st, const struct gw_operator *o,
    const struct gw_hd_cert *certs, size_t ncerts, int64_t now, size_t max,
    struct gw_hd_event **out, size_t *n, int *more);

/*
 * The operator an audit row is about: the actor or subject
 * "operator:<login>", a certificate's SHA-256 or serial (bound, or issued
 * by our CA for an operator), the "operator" of a scan row's detail, or a
 * login name or resident ID typed at a password login. Returns 0,
 * UK_ERR_NOT_FOUND or a store error.
 */
int gw_hd_event_operator(struct store *st, const struct gw_hd_event *ev,
    struct gw_operator *out);

/*
 * Operators matching q: login name (any case) or name containing q, phone
 * or resident ID equal to q, or of a unit whose id or name contains q;
 * ordered by unit and login, at most max ids into *ids (malloc'd, caller
 * frees) and *n; *more says whether there were more. Returns 0,
 * UK_ERR_INPUT (q empty) or a store error.
 */
int gw_hd_search_operators(struct store *st, const char *q, size_t max,
    int64_t **ids, size_t *n, int *more);

/*
 * Appends the audit row of a helpdesk read: event ("helpdesk.search",
 * "helpdesk.view"), the actor's who, subject, detail (JSON text), its IP
 * and user agent, result "ok". Returns 0 or an error code; a read whose row
 * cannot be written must not be answered.
 */
int gw_hd_audit(struct store *st, const struct gw_actor *a, const char *event,
    const char *subject, const char *detail);

#endif
