/* common/log.c: structured log lines to stderr and plain error lines for command-line programs. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/timeutil.h"

static const char *log_name = "ukey";
static enum uk_log_level log_min = UK_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
uk_log_init(const char *name, enum uk_log_level min)
{
	if (name != NULL)
		log_name = name;
	log_min = min;
}

int
uk_log_level_parse(const char *s, enum uk_log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum uk_log_level)i;
			return 0;
		}
	}
	return UK_ERR_CONFIG_VALUE;
}

/* Copies src into dst escaping quotes, backslashes and control characters so
 * that the message stays on one line. */
static void
escape(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;
	const unsigned char *s = (const unsigned char *)src;

	for (; *s != '\0' && o + 5 < dstlen; s++) {
		if (*s == '"' || *s == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)*s;
		} else if (*s == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(dst + o, dstlen - o, "\\x%02x", *s);
			o += 4;
		} else
			dst[o++] = (char)*s;
	}
	dst[o] = '\0';
}

static void vlog(enum uk_log_level level, const char *prefix, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
vlog(enum uk_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048], esc[4200], ts[32];

	if (level < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	escape(esc, sizeof(esc), msg);
	time_rfc3339(time(NULL), ts, sizeof(ts));
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "ts=%s prog=%s level=%s msg=\"%s%s\"\n", ts, log_name,
	    level_names[level], prefix, esc);
	pthread_mutex_unlock(&log_lock);
}

void
uk_log(enum uk_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, "", fmt, ap);
	va_end(ap);
}

void
uk_log_err(int code, const char *fmt, ...)
{
	char prefix[256];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s %s: ", uk_error_id(code),
	    uk_strerror(code));
	va_start(ap, fmt);
	vlog(UK_LOG_ERROR, prefix, fmt, ap);
	va_end(ap);
}

int
uk_cli_error(int code, const char *fmt, ...)
{
	const struct uk_error_info *e = uk_error_info(code);
	char msg[2048];
	va_list ap;

	msg[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s: error %s: %s%s%s\n", log_name, e->id, e->en,
	    msg[0] != '\0' ? ": " : "", msg);
	fprintf(stderr, "%s: %s / %s\n", log_name, e->remedy_en, e->remedy_zh);
	pthread_mutex_unlock(&log_lock);
	return code;
}
