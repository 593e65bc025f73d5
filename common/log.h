/* common/log.h: structured log lines to stderr, one event per line. */
#ifndef UK_LOG_H
#define UK_LOG_H

enum uk_log_level { UK_LOG_DEBUG = 0, UK_LOG_INFO, UK_LOG_WARN, UK_LOG_ERROR };

/* Sets the program name shown in every line and the lowest level printed
 * (default "ukey", UK_LOG_INFO). name must outlive all logging. */
void uk_log_init(const char *name, enum uk_log_level min);

/* Parses "debug" | "info" | "warn" | "error"; returns 0 or UK_ERR_CONFIG_VALUE. */
int uk_log_level_parse(const char *s, enum uk_log_level *out);

/* Writes one line: "ts=<RFC3339> prog=<name> level=<lvl> msg=\"...\"" with the
 * formatted message; newlines and quotes in it are escaped so one call is
 * always one line. Never pass secrets. Thread-safe. */
void uk_log(enum uk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like uk_log at UK_LOG_ERROR, prefixed with the error's id and text:
 * "UK-3001 Malformed certificate signing request: <detail>". */
void uk_log_err(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For command-line programs: prints "<prog>: error UK-3001: <en text>: <detail>"
 * and the remedy on a second line to stderr (plain, for people). Returns code. */
int uk_cli_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
