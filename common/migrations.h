/* common/migrations.h: the store's numbered schema migrations, oldest first. */
#ifndef UK_MIGRATIONS_H
#define UK_MIGRATIONS_H

#include <stddef.h>

/*
 * One migration: portable SQL (several ';'-separated statements, no
 * parameters) using the @BLOB@ and @ID@ spellings of common/store.h, or,
 * where the backends' dialects differ too much (triggers), one text each.
 * A published migration is never edited; changes come as a new number.
 */
struct store_migration {
	int version;      /* 1, 2, 3, ... without gaps */
	const char *name; /* short description, recorded when applied */
	const char *sql;
	const char *sql_pg; /* PostgreSQL's own text instead of sql; NULL:
	                       sql serves both backends */
};

/* Returns the table of migrations in ascending version order and sets *n to
 * its length (at least 1). The table is static. */
const struct store_migration *store_migrations(size_t *n);

/* Highest migration number this program knows. */
int store_migrations_latest(void);

#endif
