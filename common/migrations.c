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

static const struct store_migration migrations[] = {
	{ 1, "units, ca, certs, audit", m1_sql },
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
