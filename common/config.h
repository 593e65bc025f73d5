/* common/config.h: strict INI configuration: declared keys only, typed, secrets never printed. */
#ifndef UK_CONFIG_H
#define UK_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/*
 * Syntax: "[section]" lines, "key = value" lines, comments starting with
 * '#' or ';' on their own line, blank lines. Values run to the end of the
 * line with surrounding spaces trimmed; a value may be wrapped in double
 * quotes to keep spaces. Every section and key must be declared in the
 * program's schema: an unknown one is an error (UK_ERR_CONFIG_UNKNOWN), as
 * is a key given twice, a value of the wrong type or out of range
 * (UK_ERR_CONFIG_VALUE), a missing required key (UK_ERR_CONFIG_MISSING), or a
 * malformed line (UK_ERR_CONFIG_SYNTAX). Errors name the file and line.
 * Files are limited to CONFIG_MAX_SIZE bytes and CONFIG_MAX_LINE per line.
 */

#define CONFIG_MAX_SIZE (256 * 1024)
#define CONFIG_MAX_LINE 4096

enum cfg_type {
	CFG_STRING,
	CFG_INT,  /* decimal, within [min, max] */
	CFG_BOOL, /* true/false/yes/no/on/off/1/0 */
	CFG_SECRET, /* like a string, but kept in a struct secret, never printed */
	CFG_ENUM, /* one of the space-separated words in choices */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	const char *def;     /* default value as text, or NULL for none */
	long long min, max;  /* CFG_INT range */
	const char *choices; /* CFG_ENUM: "a b c" */
	int required;
	const char *help; /* one line, for --help and the man pages */
};

struct config;

/* Parses the file at path against schema (terminated by an entry whose
 * section is NULL). On failure a one-line message naming file:line is put
 * into err. On success *out is owned by the caller (config_free). */
int config_load(const char *path, const struct cfg_key *schema,
    struct config **out, char *err, size_t errlen);

/* The same from memory; name is used in messages. */
int config_load_buffer(const char *buf, size_t len, const char *name,
    const struct cfg_key *schema, struct config **out, char *err,
    size_t errlen);

/* A configuration holding only the schema's defaults. */
int config_defaults(const struct cfg_key *schema, struct config **out,
    char *err, size_t errlen);

/* Accessors. The key must be in the schema (programming error otherwise:
 * returns NULL / 0). Strings point into cfg. A key that is unset and has no
 * default gives NULL / 0. */
const char *
config_str(const struct config *cfg, const char *section, const char *key);
long long
config_int(const struct config *cfg, const char *section, const char *key);
int config_bool(const struct config *cfg, const char *section, const char *key);
const struct secret *
config_secret(const struct config *cfg, const char *section, const char *key);

/* Whether the file set the key (not just a default). */
int
config_is_set(const struct config *cfg, const char *section, const char *key);

/* Writes the effective configuration as INI to f, secrets replaced by
 * "(secret, set)" so a check-only mode can show what will be used. */
void config_dump(const struct config *cfg, FILE *f);

/* Frees cfg, wiping secrets; NULL is a no-op. */
void config_free(struct config *cfg);

#endif
