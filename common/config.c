/* common/config.c: strict INI configuration: declared keys only, typed, secrets never printed. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/config.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/secret.h"

struct cfg_value {
	char *text;            /* non-secret value, or NULL */
	struct secret *secret; /* CFG_SECRET value, or NULL */
	long long num;         /* CFG_INT / CFG_BOOL */
	int set;               /* given in the file */
	unsigned line;         /* where it was given */
};

struct config {
	const struct cfg_key *schema;
	size_t n;
	struct cfg_value *v;
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static long
find(const struct config *cfg, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->schema[i].section, section) == 0 &&
		    strcmp(cfg->schema[i].key, key) == 0)
			return (long)i;
	}
	return -1;
}

static int
section_known(const struct cfg_key *schema, size_t n, const char *section)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(schema[i].section, section) == 0)
			return 1;
	}
	return 0;
}

static int
parse_bool(const char *s, long long *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
in_choices(const char *choices, const char *s)
{
	size_t len = strlen(s);
	const char *p = choices;

	while (*p != '\0') {
		size_t w = strcspn(p, " ");
		if (w == len && strncmp(p, s, len) == 0)
			return 1;
		p += w;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* Checks and stores value for entry i. */
static int
set_value(struct config *cfg, size_t i, const char *value, const char *name,
    unsigned line, char *err, size_t errlen)
{
	const struct cfg_key *k = &cfg->schema[i];
	struct cfg_value *v = &cfg->v[i];
	long long num = 0;
	char *end;

	switch (k->type) {
	case CFG_INT:
		errno = 0;
		num = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    num < k->min || num > k->max)
			return fail(err, errlen, UK_ERR_CONFIG_VALUE,
			    "%s:%u: [%s] %s must be a whole number from %lld "
			    "to %lld",
			    name, line, k->section, k->key, k->min, k->max);
		break;
	case CFG_BOOL:
		if (parse_bool(value, &num) != 0)
			return fail(err, errlen, UK_ERR_CONFIG_VALUE,
			    "%s:%u: [%s] %s must be true or false", name, line,
			    k->section, k->key);
		break;
	case CFG_ENUM:
		if (!in_choices(k->choices, value))
			return fail(err, errlen, UK_ERR_CONFIG_VALUE,
			    "%s:%u: [%s] %s must be one of: %s", name, line,
			    k->section, k->key, k->choices);
		break;
	case CFG_STRING:
	case CFG_SECRET:
		break;
	}
	if (k->type == CFG_SECRET) {
		secret_free(v->secret);
		if ((v->secret = secret_from(value, strlen(value))) == NULL)
			return fail(err, errlen, UK_ERR_NOMEM, "out of memory");
	} else {
		free(v->text);
		if ((v->text = strdup(value)) == NULL)
			return fail(err, errlen, UK_ERR_NOMEM, "out of memory");
	}
	v->num = num;
	v->line = line;
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	}
	return 1;
}

static int
config_new(const struct cfg_key *schema, struct config **out, char *err,
    size_t errlen)
{
	struct config *cfg;
	size_t i, n = 0;
	int r;

	*out = NULL;
	while (schema[n].section != NULL)
		n++;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->v = calloc(n + 1, sizeof(*cfg->v))) == NULL) {
		free(cfg);
		return fail(err, errlen, UK_ERR_NOMEM, "out of memory");
	}
	cfg->schema = schema;
	cfg->n = n;
	for (i = 0; i < n; i++) {
		if (schema[i].def == NULL)
			continue;
		if ((r = set_value(cfg, i, schema[i].def, "(default)", 0, err,
		         errlen)) != 0) {
			config_free(cfg);
			return r;
		}
	}
	*out = cfg;
	return 0;
}

int
config_defaults(const struct cfg_key *schema, struct config **out, char *err,
    size_t errlen)
{
	struct config *cfg;
	size_t i;
	int r;

	if ((r = config_new(schema, &cfg, err, errlen)) != 0)
		return r;
	for (i = 0; i < cfg->n; i++) {
		if (schema[i].required) {
			config_free(cfg);
			return fail(err, errlen, UK_ERR_CONFIG_MISSING,
			    "[%s] %s is required", schema[i].section,
			    schema[i].key);
		}
	}
	*out = cfg;
	return 0;
}

int
config_load_buffer(const char *buf, size_t len, const char *name,
    const struct cfg_key *schema, struct config **out, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	char line[CONFIG_MAX_LINE + 2], section[128] = "";
	size_t pos = 0, i;
	unsigned lineno = 0;
	int r;

	*out = NULL;
	if (len > CONFIG_MAX_SIZE)
		return fail(err, errlen, UK_ERR_LIMIT,
		    "%s: larger than %d bytes", name, CONFIG_MAX_SIZE);
	if ((r = config_new(schema, &cfg, err, errlen)) != 0)
		return r;
	while (pos < len) {
		size_t end = pos, l;
		char *s, *eq, *key, *val;
		long idx;

		while (end < len && buf[end] != '\n')
			end++;
		l = end - pos;
		lineno++;
		if (l > CONFIG_MAX_LINE) {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: line longer than %d bytes", name, lineno,
			    CONFIG_MAX_LINE);
			goto out;
		}
		if (memchr(buf + pos, '\0', l) != NULL) {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: NUL byte", name, lineno);
			goto out;
		}
		memcpy(line, buf + pos, l);
		line[l] = '\0';
		pos = end + 1;
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close == NULL || close[1] != '\0') {
				r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
				    "%s:%u: section header must be [name]",
				    name, lineno);
				goto out;
			}
			*close = '\0';
			s = trim(s + 1);
			if (!valid_name(s) || strlen(s) >= sizeof(section)) {
				r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
				    "%s:%u: bad section name", name, lineno);
				goto out;
			}
			if (!section_known(schema, cfg->n, s)) {
				r = fail(err, errlen, UK_ERR_CONFIG_UNKNOWN,
				    "%s:%u: unknown section [%s]", name, lineno,
				    s);
				goto out;
			}
			memcpy(section, s, strlen(s) + 1);
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: expected key = value", name, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (!valid_name(key)) {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: bad key name", name, lineno);
			goto out;
		}
		if (section[0] == '\0') {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: %s outside of a [section]", name, lineno,
			    key);
			goto out;
		}
		if (*val == '"') {
			size_t vl = strlen(val);
			if (vl < 2 || val[vl - 1] != '"') {
				r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
				    "%s:%u: unterminated quoted value", name,
				    lineno);
				goto out;
			}
			val[vl - 1] = '\0';
			val++;
		}
		if ((idx = find(cfg, section, key)) < 0) {
			r = fail(err, errlen, UK_ERR_CONFIG_UNKNOWN,
			    "%s:%u: unknown key %s in [%s]", name, lineno, key,
			    section);
			goto out;
		}
		if (cfg->v[idx].set) {
			r = fail(err, errlen, UK_ERR_CONFIG_SYNTAX,
			    "%s:%u: [%s] %s given twice (first on line %u)",
			    name, lineno, section, key, cfg->v[idx].line);
			goto out;
		}
		if ((r = set_value(cfg, (size_t)idx, val, name, lineno, err,
		         errlen)) != 0)
			goto out;
		cfg->v[idx].set = 1;
	}
	for (i = 0; i < cfg->n; i++) {
		if (schema[i].required && !cfg->v[i].set) {
			r = fail(err, errlen, UK_ERR_CONFIG_MISSING,
			    "%s: [%s] %s is required", name, schema[i].section,
			    schema[i].key);
			goto out;
		}
	}
	*out = cfg;
	cfg = NULL; /* transferred */
	r = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	config_free(cfg);
	return r;
}

int
config_load(const char *path, const struct cfg_key *schema, struct config **out,
    char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, CONFIG_MAX_SIZE, &buf, &len)) != 0) {
		if (r == UK_ERR_LIMIT)
			return fail(err, errlen, r, "%s: larger than %d bytes",
			    path, CONFIG_MAX_SIZE);
		return fail(err, errlen, r, "%s: %s", path, strerror(errno));
	}
	r = config_load_buffer((const char *)buf, len, path, schema, out, err,
	    errlen);
	/* The file may hold secrets. */
	OPENSSL_cleanse((char *)buf, len);
	free(buf);
	return r;
}

const char *
config_str(const struct config *cfg, const char *section, const char *key)
{
	long i = find(cfg, section, key);

	if (i < 0)
		return NULL;
	return cfg->v[i].text;
}

long long
config_int(const struct config *cfg, const char *section, const char *key)
{
	long i = find(cfg, section, key);

	if (i < 0)
		return 0;
	return cfg->v[i].num;
}

int
config_bool(const struct config *cfg, const char *section, const char *key)
{
	return config_int(cfg, section, key) != 0;
}

const struct secret *
config_secret(const struct config *cfg, const char *section, const char *key)
{
	long i = find(cfg, section, key);

	if (i < 0)
		return NULL;
	return cfg->v[i].secret;
}

int
config_is_set(const struct config *cfg, const char *section, const char *key)
{
	long i = find(cfg, section, key);

	return i >= 0 && cfg->v[i].set;
}

void
config_dump(const struct config *cfg, FILE *f)
{
	const char *cur = NULL;
	size_t i;

	for (i = 0; i < cfg->n; i++) {
		const struct cfg_key *k = &cfg->schema[i];
		const struct cfg_value *v = &cfg->v[i];

		if (cur == NULL || strcmp(cur, k->section) != 0) {
			fprintf(f, "%s[%s]\n", cur == NULL ? "" : "\n",
			    k->section);
			cur = k->section;
		}
		if (k->type == CFG_SECRET)
			fprintf(f, "%s = %s\n", k->key,
			    v->secret != NULL ? "(secret, set)" : "(unset)");
		else if (v->text != NULL)
			fprintf(f, "%s = %s\n", k->key, v->text);
		else
			fprintf(f, "# %s is unset\n", k->key);
	}
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n; i++) {
		free(cfg->v[i].text);
		secret_free(cfg->v[i].secret);
	}
	free(cfg->v);
	free(cfg);
}
