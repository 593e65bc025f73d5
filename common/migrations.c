/* common/migrations.c: the store's numbered schema migrations as SQL text. */
#include <stddef.h>

#include "common/migrations.h"

/* 1: units, the CA, issued certificates and the audit trail. */
static const char m1_sql[] =
    "CREATE TABLE units (id TEXT PRIMARY KEY, name TEXT,"
    " created_at BIGINT NOT NULL);\n"
    "CREATE TABLE ca (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " name TEXT NOT NULL, key_type TEXT NOT NULL,"
    " key_ref TEXT NOT NULL, root_der @BLOB@ NOT NULL,"
    " issuing_der @BLOB@ NOT NULL,"
    " ocsp_der @BLOB@, ocsp_key_ref TEXT,"
    " crl_number BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);\n"
    "CREATE TABLE certs (serial TEXT PRIMARY KEY, unit_id TEXT,"
    " operator TEXT, profile TEXT NOT NULL,"
    " subject TEXT NOT NULL, key_type TEXT NOT NULL,"
    " not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,"
    " status TEXT NOT NULL, revoked_at BIGINT, reason INTEGER,"
    " sha256 TEXT NOT NULL UNIQUE,"
    " der @BLOB@ NOT NULL, issued_at BIGINT NOT NULL, replaces TEXT);\n"
    "CREATE INDEX certs_unit ON certs (unit_id, status);\n"
    "CREATE INDEX certs_status ON certs (status, revoked_at);\n"
    "CREATE TABLE audit (seq @ID@, at BIGINT NOT NULL,"
    " event_id TEXT NOT NULL UNIQUE, event TEXT NOT NULL,"
    " actor TEXT, subject TEXT, detail TEXT, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);\n"
    "CREATE INDEX audit_at ON audit (at);\n";

/*
 * 2: the gateway's identity model and login state.
 *  units: registration (USCC), the signed agreement and the hall
 *    authorisation, each with when and the application form.
 *  operators: unit operators; login_lc is the login name in lower case
 *    (unique, case-insensitive); roles a space-separated subset of
 *    "maker checker admin"; status active | left | disabled; the password
 *    as an Argon2id PHC string; fail_count consecutive wrong passwords of
 *    local day fail_day (days since the epoch in the centre's time zone),
 *    frozen_until the UTC second the freeze ends (0: not frozen).
 *  staff: counter, helpdesk and admin accounts (roles space-separated).
 *  cert_bindings: which certificate logs in as whom: issuer + serial and
 *    the SHA-256 of the DER, for one operator or one staff account.
 *  sessions: the SHA-256 of the cookie's random id, never the id.
 *  challenges: UKey login nonces (their SHA-256), bound to the browser's
 *    pre-login cookie (its SHA-256), single use.
 *  rate_limits: fixed-window counters shared by every gateway.
 *  assertion_keys: the public halves (JWK) of each gateway's assertion
 *    signing key, served at /.well-known/jwks.json.
 *  audit gains the request's IP, user agent and result code.
 */
static const char m2_sql[] =
    "ALTER TABLE units ADD COLUMN uscc TEXT;\n"
    "ALTER TABLE units ADD COLUMN status TEXT NOT NULL DEFAULT 'active';\n"
    "ALTER TABLE units ADD COLUMN agreement_at BIGINT;\n"
    "ALTER TABLE units ADD COLUMN agreement_form TEXT;\n"
    "ALTER TABLE units ADD COLUMN authorized_at BIGINT;\n"
    "ALTER TABLE units ADD COLUMN authorized_form TEXT;\n"
    "CREATE UNIQUE INDEX units_uscc ON units (uscc);\n"
    "CREATE TABLE operators (id @ID@, login TEXT NOT NULL,"
    " login_lc TEXT NOT NULL UNIQUE, unit_id TEXT NOT NULL,"
    " name TEXT NOT NULL, resident_id TEXT UNIQUE, phone TEXT,"
    " wechat_openid TEXT UNIQUE, roles TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'active', pw_hash TEXT,"
    " pw_must_change INTEGER NOT NULL DEFAULT 0, pw_changed_at BIGINT,"
    " fail_count INTEGER NOT NULL DEFAULT 0,"
    " fail_day BIGINT NOT NULL DEFAULT 0,"
    " frozen_until BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, left_at BIGINT);\n"
    "CREATE INDEX operators_unit ON operators (unit_id);\n"
    "CREATE INDEX operators_phone ON operators (phone);\n"
    "CREATE TABLE staff (id @ID@, login TEXT NOT NULL,"
    " login_lc TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " roles TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
    " pw_hash TEXT, created_at BIGINT NOT NULL);\n"
    "CREATE TABLE cert_bindings (id @ID@, operator_id BIGINT,"
    " staff_id BIGINT, issuer_serial TEXT NOT NULL UNIQUE,"
    " sha256 TEXT NOT NULL UNIQUE, subject TEXT, not_after BIGINT,"
    " source TEXT NOT NULL, form TEXT, created_at BIGINT NOT NULL,"
    " CHECK ((operator_id IS NULL) <> (staff_id IS NULL)));\n"
    "CREATE INDEX cert_bindings_operator ON cert_bindings (operator_id);\n"
    "CREATE INDEX cert_bindings_staff ON cert_bindings (staff_id);\n"
    "CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " principal_id BIGINT NOT NULL, unit_id TEXT, scope TEXT NOT NULL,"
    " method TEXT NOT NULL, csrf TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, cert_sig_at BIGINT, ip TEXT,"
    " user_agent TEXT, revoked_at BIGINT);\n"
    "CREATE INDEX sessions_principal ON sessions (kind, principal_id);\n"
    "CREATE INDEX sessions_expires ON sessions (expires_at);\n"
    "CREATE TABLE challenges (nonce_hash TEXT PRIMARY KEY,"
    " browser_hash TEXT NOT NULL, expires_at BIGINT NOT NULL);\n"
    "CREATE INDEX challenges_expires ON challenges (expires_at);\n"
    "CREATE TABLE rate_limits (key TEXT PRIMARY KEY,"
    " window_start BIGINT NOT NULL, count BIGINT NOT NULL);\n"
    "CREATE TABLE assertion_keys (kid TEXT PRIMARY KEY, jwk TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, retired_at BIGINT);\n"
    "ALTER TABLE audit ADD COLUMN ip TEXT;\n"
    "ALTER TABLE audit ADD COLUMN user_agent TEXT;\n"
    "ALTER TABLE audit ADD COLUMN result TEXT;\n"
    "CREATE INDEX audit_subject ON audit (subject, at);\n";

/*
 * 3: the audit trail is append-only in the database too: UPDATE and DELETE
 * (and TRUNCATE on PostgreSQL) on audit fail with "audit is append-only".
 * The hash chain still detects edits by someone able to drop the triggers.
 */
static const char m3_sql[] =
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    "BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;\n";

static const char m3_sql_pg[] =
    "CREATE FUNCTION audit_append_only() RETURNS trigger\n"
    "LANGUAGE plpgsql AS $$ BEGIN\n"
    "  RAISE EXCEPTION 'audit is append-only';\n"
    "END $$;\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();\n"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit\n"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();\n";

/*
 * 4: SMS password reset.
 *  sms_outbox: messages waiting for the SMS sender. status queued | sending
 *    (claimed by a sender until next_attempt_at, its lease) | sent | failed;
 *    attempts counts claims; params is a JSON object; expires_at is when a
 *    message stops being worth sending (NULL: a day after created_at).
 *  reset_codes: the HMAC-SHA256 of each 6-digit code (keyed by a server
 *    secret), its expiry, the checks made, when it was used or superseded.
 *  reset_tokens: the SHA-256 of each one-time reset token.
 */
static const char m4_sql[] =
    "CREATE TABLE sms_outbox (id @ID@, phone TEXT NOT NULL,"
    " template TEXT NOT NULL, params TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL,"
    " expires_at BIGINT, attempts INTEGER NOT NULL DEFAULT 0,"
    " status TEXT NOT NULL DEFAULT 'queued', last_error TEXT,"
    " sent_at BIGINT, provider_msg_id TEXT);\n"
    "CREATE INDEX sms_outbox_due ON sms_outbox (status, next_attempt_at);\n"
    "CREATE TABLE reset_codes (id @ID@, operator_id BIGINT NOT NULL,"
    " code_hash TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, checks INTEGER NOT NULL DEFAULT 0,"
    " used_at BIGINT, ip TEXT);\n"
    "CREATE INDEX reset_codes_operator ON reset_codes (operator_id, id);\n"
    "CREATE TABLE reset_tokens (token_hash TEXT PRIMARY KEY,"
    " operator_id BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
    " used_at BIGINT);\n";

/*
 * 5: scan login (WeChat-style).
 *  scan_tickets: the SHA-256 of each ticket's random id, never the id;
 *    kind login | bind; bound to the requesting browser's cookie
 *    (browser_hash) and, once scanned, to the phone's (phone_hash); state
 *    waiting | scanned | confirmed | cancelled | expired | claimed;
 *    operator_id: login: the operator the openid maps to; bind: the
 *    operator asking to bind (set at creation). openid is the scanner's.
 *  oauth_states: the SHA-256 of each WeChat OAuth state, for one ticket
 *    and one phone browser, single use (used_at).
 */
static const char m5_sql[] =
    "CREATE TABLE scan_tickets (id_hash TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL, browser_hash TEXT NOT NULL, phone_hash TEXT,"
    " state TEXT NOT NULL, created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, operator_id BIGINT, openid TEXT,"
    " scanner_ip TEXT, scanner_ua TEXT, requester_ip TEXT,"
    " requester_ua TEXT, last_poll_at BIGINT, scanned_at BIGINT,"
    " confirmed_at BIGINT, claimed_at BIGINT);\n"
    "CREATE INDEX scan_tickets_expires ON scan_tickets (expires_at);\n"
    "CREATE TABLE oauth_states (state_hash TEXT PRIMARY KEY,"
    " ticket_id_hash TEXT NOT NULL, phone_browser_hash TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL, used_at BIGINT);\n"
    "CREATE INDEX oauth_states_expires ON oauth_states (expires_at);\n";

/*
 * 6: indexes for the helpdesk's view of one operator's security events
 * (gateway/helpdesk.c gw_hd_operator_events), which reads the rows naming
 * the operator as subject in any case, as actor, and the scan rows, newest
 * first: without them every view scanned a year of the audit trail.
 */
static const char m6_sql[] =
    "CREATE INDEX audit_actor ON audit (actor, seq);\n"
    "CREATE INDEX audit_subject_lc ON audit (lower(subject), seq);\n"
    "CREATE INDEX audit_event ON audit (event, seq);\n";

/*
 * 7: unit ids are unique whatever their case (gateway/model_unit.c checks
 * first, for a clear answer; this holds when two clerks register "x2" and
 * "X2" at the same moment) and found in any case through the index.
 */
static const char m7_sql[] =
    "CREATE UNIQUE INDEX units_id_lc ON units (lower(id));\n";

static const struct store_migration migrations[] = {
	{ 1, "units, ca, certs, audit", m1_sql, NULL },
	{ 2, "operators, staff, bindings, sessions, challenges, limits", m2_sql,
	    NULL },
	{ 3, "audit append-only", m3_sql, m3_sql_pg },
	{ 4, "sms outbox, reset codes and tokens", m4_sql, NULL },
	{ 5, "scan tickets and WeChat OAuth states", m5_sql, NULL },
	{ 6, "audit indexes for the helpdesk", m6_sql, NULL },
	{ 7, "unit ids unique in any case", m7_sql, NULL },
};

const struct store_migration *
store_migrations(size_t *n)
{
	*n = sizeof(migrations) / sizeof(migrations[0]);
	return migrations;
}

int
store_migrations_latest(void)
{
	return migrations[sizeof(migrations) / sizeof(migrations[0]) - 1]
	    .version;
}
