/* gateway/policy.c: the route policy: the routes file parser, longest-prefix matching and the access decision. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/fileio.h"
#include "common/log.h"
#include "gateway/policy.h"

struct gw_policy {
	struct gw_rule *rules;
	size_t n;
};

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{ "GET", GW_M_GET },
	{ "HEAD", GW_M_HEAD },
	{ "POST", GW_M_POST },
	{ "PUT", GW_M_PUT },
	{ "PATCH", GW_M_PATCH },
	{ "DELETE", GW_M_DELETE },
	{ "OPTIONS", GW_M_OPTIONS },
};

static const char *const known_roles[] = { "maker", "checker", "admin",
	"counter", "helpdesk", NULL };

unsigned
gw_method_bit(const char *method)
{
	size_t i;

	if (method == NULL)
		return GW_M_OTHER;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i].name) == 0)
			return methods[i].bit;
	return GW_M_OTHER;
}

int
gw_roles_has(const char *roles, const char *role)
{
	size_t n = strlen(role), w;
	const char *p;

	if (roles == NULL || n == 0)
		return 0;
	for (p = roles; *p != '\0';) {
		p += strspn(p, " ,");
		w = strcspn(p, " ,");
		if (w == 0)
			break;
		if (w == n && memcmp(p, role, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}

void
gw_policy_free(struct gw_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->rules[i].prefix);
	free(p->rules);
	free(p);
}

size_t
gw_policy_count(const struct gw_policy *p)
{
	return p != NULL ? p->n : 0;
}

/* A prefix must be a path gw_path_normalise could have produced. */
static int
prefix_valid(const char *s, size_t len)
{
	size_t i, seg;

	if (len == 0 || s[0] != '/')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c == 0x7f || c == '%' || c == '?' || c == '#' ||
		    c == '\\')
			return 0;
	}
	/* Segments: no empty one inside, no "." or "..". */
	for (i = 1, seg = 1; i <= len; i++) {
		if (i == len || s[i] == '/') {
			size_t sl = i - seg;
			if (sl == 0 && i != len)
				return 0;
			if ((sl == 1 && s[seg] == '.') ||
			    (sl == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return 0;
			seg = i + 1;
		}
	}
	return 1;
}

static int
parse_methods(const char *w, size_t len, unsigned *out)
{
	size_t i, k, n;
	unsigned bits = 0;

	if (len == 1 && w[0] == '*') {
		*out = GW_M_ALL;
		return 0;
	}
	for (i = 0; i < len;) {
		int found = 0;
		n = 0;
		while (i + n < len && w[i + n] != ',')
			n++;
		for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			if (strlen(methods[k].name) == n &&
			    memcmp(methods[k].name, w + i, n) == 0) {
				bits |= methods[k].bit;
				found = 1;
			}
		}
		if (!found)
			return UK_ERR_CONFIG_VALUE;
		i += n;
		if (i < len)
			i++; /* the comma */
		if (i == len && w[len - 1] == ',')
			return UK_ERR_CONFIG_VALUE;
	}
	if (bits == 0)
		return UK_ERR_CONFIG_VALUE;
	*out = bits;
	return 0;
}

/* roles=a,b into "a b"; known roles only, no repeats. */
static int
parse_roles(const char *w, size_t len, char *out, size_t outlen)
{
	size_t i, n, o = 0, k;

	out[0] = '\0';
	if (len == 0)
		return UK_ERR_CONFIG_VALUE;
	for (i = 0; i < len;) {
		char one[16];
		int known = 0;
		n = 0;
		while (i + n < len && w[i + n] != ',')
			n++;
		if (n == 0 || n >= sizeof(one))
			return UK_ERR_CONFIG_VALUE;
		memcpy(one, w + i, n);
		one[n] = '\0';
		for (k = 0; known_roles[k] != NULL; k++)
			if (strcmp(one, known_roles[k]) == 0)
				known = 1;
		if (!known || gw_roles_has(out, one))
			return UK_ERR_CONFIG_VALUE;
		if (o + n + 2 > outlen)
			return UK_ERR_CONFIG_VALUE;
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, one, n);
		o += n;
		out[o] = '\0';
		i += n;
		if (i < len) {
			i++;
			if (i == len)
				return UK_ERR_CONFIG_VALUE;
		}
	}
	return 0;
}

static int
parse_uint(const char *w, size_t len, long max, int *out)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return UK_ERR_CONFIG_VALUE;
	for (i = 0; i < len; i++) {
		if (w[i] < '0' || w[i] > '9')
			return UK_ERR_CONFIG_VALUE;
		v = v * 10 + (w[i] - '0');
	}
	if (v < 1 || v > max)
		return UK_ERR_CONFIG_VALUE;
	*out = (int)v;
	return 0;
}

#define WORDS_MAX 16

/* Parses one non-blank, non-comment line into r. */
static int
parse_line(const char *s, size_t len, struct gw_rule *r, const char **why)
{
	const char *w[WORDS_MAX];
	size_t wl[WORDS_MAX], nw = 0, i = 0, k;
	int have_scope = 0, have_roles = 0, have_step = 0;

	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (nw == WORDS_MAX) {
			*why = "too many words";
			return UK_ERR_CONFIG_SYNTAX;
		}
		w[nw] = s + i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		wl[nw] = (size_t)(s + i - w[nw]);
		nw++;
	}
	if (nw < 3) {
		*why = "expected PREFIX METHODS ACCESS [options]";
		return UK_ERR_CONFIG_SYNTAX;
	}
	if (!prefix_valid(w[0], wl[0])) {
		*why = "PREFIX must be a normal path starting with '/'";
		return UK_ERR_CONFIG_VALUE;
	}
	if (parse_methods(w[1], wl[1], &r->methods) != 0) {
		*why = "METHODS must be '*' or a comma-separated list of "
		       "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS";
		return UK_ERR_CONFIG_VALUE;
	}
	if (wl[2] == 6 && memcmp(w[2], "public", 6) == 0)
		r->access = GW_ACCESS_PUBLIC;
	else if (wl[2] == 7 && memcmp(w[2], "session", 7) == 0)
		r->access = GW_ACCESS_SESSION;
	else if (wl[2] == 5 && memcmp(w[2], "staff", 5) == 0)
		r->access = GW_ACCESS_STAFF;
	else {
		*why = "ACCESS must be public, session or staff";
		return UK_ERR_CONFIG_VALUE;
	}
	r->full = r->access == GW_ACCESS_SESSION;
	for (k = 3; k < nw; k++) {
		const char *o = w[k];
		size_t ol = wl[k];
		if (ol == 10 && memcmp(o, "scope=full", 10) == 0 &&
		    !have_scope) {
			r->full = 1;
			have_scope = 1;
		} else if (ol == 11 && memcmp(o, "scope=query", 11) == 0 &&
		    !have_scope) {
			r->full = 0;
			have_scope = 1;
		} else if (ol > 6 && memcmp(o, "roles=", 6) == 0 &&
		    !have_roles) {
			if (parse_roles(o + 6, ol - 6, r->roles,
			        sizeof(r->roles)) != 0) {
				*why = "roles= takes a comma-separated list of "
				       "maker,checker,admin,counter,helpdesk";
				return UK_ERR_CONFIG_VALUE;
			}
			have_roles = 1;
		} else if (ol > 8 && memcmp(o, "step_up=", 8) == 0 &&
		    !have_step) {
			if (parse_uint(o + 8, ol - 8, 86400, &r->step_up) !=
			    0) {
				*why = "step_up= takes seconds, 1 to 86400";
				return UK_ERR_CONFIG_VALUE;
			}
			have_step = 1;
		} else if (ol == 12 && memcmp(o, "unauthorised", 12) == 0 &&
		    !r->unauthorised) {
			r->unauthorised = 1;
		} else {
			*why = "unknown or repeated option (scope=, roles=, "
			       "step_up=, unauthorised)";
			return UK_ERR_CONFIG_VALUE;
		}
	}
	if (r->access == GW_ACCESS_PUBLIC &&
	    (have_scope || have_roles || have_step)) {
		*why = "a public rule takes no scope, roles or step_up";
		return UK_ERR_CONFIG_VALUE;
	}
	if (r->access == GW_ACCESS_STAFF && (have_scope || r->unauthorised)) {
		*why = "a staff rule takes no scope or unauthorised";
		return UK_ERR_CONFIG_VALUE;
	}
	if ((r->prefix = strndup(w[0], wl[0])) == NULL)
		return UK_ERR_NOMEM;
	r->prefix_len = wl[0];
	return 0;
}

int
gw_policy_parse(const char *buf, size_t len, const char *name,
    struct gw_policy **out, char *err, size_t errlen)
{
	struct gw_policy *p = NULL;
	size_t off = 0, cap = 0, ll, i;
	const char *why = NULL;
	int line = 0, r = UK_ERR_NOMEM;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > GW_ROUTES_MAX_SIZE) {
		snprintf(err, errlen, "%s: larger than %d bytes", name,
		    GW_ROUTES_MAX_SIZE);
		return UK_ERR_LIMIT;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	while (off < len) {
		const char *s = buf + off;
		struct gw_rule rule;
		line++;
		for (ll = 0; off + ll < len && s[ll] != '\n'; ll++)
			;
		off += ll + (off + ll < len ? 1 : 0);
		if (ll > 0 && s[ll - 1] == '\r')
			ll--;
		if (memchr(s, '\0', ll) != NULL ||
		    memchr(s, '\r', ll) != NULL) {
			why = "control character";
			r = UK_ERR_CONFIG_SYNTAX;
			goto fail;
		}
		for (i = 0; i < ll && (s[i] == ' ' || s[i] == '\t'); i++)
			;
		if (i == ll || s[i] == '#')
			continue;
		if (p->n == GW_ROUTES_MAX_RULES) {
			why = "too many rules";
			r = UK_ERR_LIMIT;
			goto fail;
		}
		memset(&rule, 0, sizeof(rule));
		rule.line = line;
		if ((r = parse_line(s + i, ll - i, &rule, &why)) != 0) {
			if (r == UK_ERR_NOMEM)
				goto out;
			goto fail;
		}
		if (p->n == cap) {
			struct gw_rule *nr;
			cap = cap ? cap * 2 : 16;
			if ((nr = realloc(p->rules, cap * sizeof(*nr))) ==
			    NULL) {
				free(rule.prefix);
				r = UK_ERR_NOMEM;
				goto out;
			}
			p->rules = nr;
		}
		p->rules[p->n++] = rule;
	}
	*out = p;
	p = NULL; /* transferred */
	r = 0;
	goto out;
fail:
	snprintf(err, errlen, "%s:%d: %s", name, line, why);
out:
	gw_policy_free(p);
	return r;
}

int
gw_policy_load(const char *path, struct gw_policy **out, char *err,
    size_t errlen)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, GW_ROUTES_MAX_SIZE, &buf, &len)) != 0) {
		snprintf(err, errlen, "%s: cannot be read%s", path,
		    r == UK_ERR_LIMIT ? " (too large)" : "");
		return r;
	}
	r = gw_policy_parse((const char *)buf, len, path, out, err, errlen);
	free(buf);
	return r;
}

/* Whether rule prefix pre (length n) covers path. */
static int
prefix_covers(const char *pre, size_t n, const char *path)
{
	if (strncmp(path, pre, n) != 0)
		return 0;
	if (path[n] == '\0' || pre[n - 1] == '/')
		return 1;
	return path[n] == '/';
}

int
gw_policy_match(const struct gw_policy *p, const char *path, const char *method,
    const struct gw_rule **rule)
{
	const struct gw_rule *best = NULL;
	size_t i, blen = 0;
	unsigned bit = gw_method_bit(method);

	*rule = NULL;
	if (p == NULL || path == NULL)
		return UK_ERR_POLICY_DENIED;
	/* The longest matching prefix. */
	for (i = 0; i < p->n; i++) {
		const struct gw_rule *r = &p->rules[i];
		if (r->prefix_len > blen &&
		    prefix_covers(r->prefix, r->prefix_len, path)) {
			best = r;
			blen = r->prefix_len;
		}
	}
	if (best == NULL)
		return UK_ERR_POLICY_DENIED;
	/* The first rule of that prefix for the method. */
	for (i = 0; i < p->n; i++) {
		const struct gw_rule *r = &p->rules[i];
		if (r->prefix_len == blen &&
		    strcmp(r->prefix, best->prefix) == 0 &&
		    (r->methods & bit) != 0) {
			*rule = r;
			return 0;
		}
	}
	return UK_ERR_METHOD;
}

/* Whether id has at least one of the space-separated roles want. */
static int
roles_any(const char *want, const char *have)
{
	const char *p;
	char one[GW_ROLES_MAX + 1];
	size_t w;

	for (p = want; *p != '\0';) {
		p += strspn(p, " ");
		if ((w = strcspn(p, " ")) == 0)
			break;
		if (w < sizeof(one)) {
			memcpy(one, p, w);
			one[w] = '\0';
			if (gw_roles_has(have, one))
				return 1;
		}
		p += w;
	}
	return 0;
}

int
gw_policy_check(const struct gw_rule *rule, const struct gw_identity *id,
    int64_t now)
{
	int staff;

	if (rule == NULL)
		return UK_ERR_POLICY_DENIED;
	if (rule->access == GW_ACCESS_PUBLIC)
		return 0;
	if (id == NULL)
		return UK_ERR_SESSION_NONE;
	staff = strcmp(id->kind, GW_KIND_STAFF) == 0;
	if (rule->access == GW_ACCESS_STAFF && !staff)
		return UK_ERR_POLICY_STAFF_ONLY;
	if (rule->access == GW_ACCESS_SESSION) {
		if (staff || strcmp(id->kind, GW_KIND_OPERATOR) != 0)
			return UK_ERR_POLICY_DENIED;
		if (!id->unit_authorised && !rule->unauthorised)
			return UK_ERR_POLICY_HALL_UNAUTHORISED;
		if (rule->full && strcmp(id->scope, "full") != 0)
			return UK_ERR_POLICY_SCOPE;
	}
	if (rule->roles[0] != '\0' && !roles_any(rule->roles, id->roles))
		return UK_ERR_POLICY_ROLE;
	if (rule->step_up > 0 &&
	    (id->cert_sig_at <= 0 || now - id->cert_sig_at > rule->step_up ||
	        id->cert_sig_at > now + 60))
		return UK_ERR_POLICY_STEP_UP;
	return 0;
}

/* --- audit rows of anonymous refusals, limited --- */

#define AUDIT_SLOTS 1024

static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
/* Guarded by audit_mu. A slot is one address's count in one minute; an
 * address hashing to a slot another holds takes it over (the total still
 * bounds what a crowd of addresses can write). */
static struct {
	char ip[64];
	int64_t minute;
	unsigned n;
	int warned;
} audit_slot[AUDIT_SLOTS];
static int64_t audit_minute;
static unsigned audit_total;

void
gw_policy_audit_reset(void)
{
	pthread_mutex_lock(&audit_mu);
	memset(audit_slot, 0, sizeof(audit_slot));
	audit_minute = 0;
	audit_total = 0;
	pthread_mutex_unlock(&audit_mu);
}

int
gw_policy_audit_anon(const char *ip, int64_t now)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	int64_t minute = now / 60;
	const char *p;
	int yes = 0, warn = 0;
	size_t i;

	if (ip == NULL)
		ip = "-";
	for (p = ip; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	i = h % AUDIT_SLOTS;
	pthread_mutex_lock(&audit_mu);
	if (audit_minute != minute) {
		audit_minute = minute;
		audit_total = 0;
	}
	if (audit_slot[i].minute != minute ||
	    strcmp(audit_slot[i].ip, ip) != 0) {
		snprintf(audit_slot[i].ip, sizeof(audit_slot[i].ip), "%s", ip);
		audit_slot[i].minute = minute;
		audit_slot[i].n = 0;
		audit_slot[i].warned = 0;
	}
	if (audit_slot[i].n < GW_POLICY_AUDIT_PER_IP &&
	    audit_total < GW_POLICY_AUDIT_TOTAL) {
		audit_slot[i].n++;
		audit_total++;
		yes = 1;
	} else if (!audit_slot[i].warned) {
		audit_slot[i].warned = 1;
		warn = 1;
	}
	pthread_mutex_unlock(&audit_mu);
	if (warn)
		uk_log(UK_LOG_WARN,
		    "policy refusals without a session from %s: no more audit "
		    "rows this minute (limit %d per address, %d in all)",
		    ip, GW_POLICY_AUDIT_PER_IP, GW_POLICY_AUDIT_TOTAL);
	return yes;
}
