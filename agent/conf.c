/* agent/conf.c: ukey-agent's configuration: the [agent] schema, origin and module lists, the state directory. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/conf.h"
#include "common/errors.h"

const struct cfg_key ag_config_schema[] = {
	{ "agent", "port", CFG_INT, "24680", 1, 65535, NULL, 0,
	    "TCP port on 127.0.0.1 and ::1" },
	{ "agent", "allowed_origins", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "space-separated origins allowed to call the agent, "
	    "e.g. https://hall.example.gov.cn" },
	{ "agent", "module", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "absolute path of the UKey's PKCS#11 module" },
	{ "agent", "module_allowlist", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "space-separated absolute paths of the PKCS#11 modules that may "
	    "be loaded" },
	{ "agent", "pin_source", CFG_ENUM, "pinentry", 0, 0, "pinentry request",
	    0,
	    "pinentry: the agent asks for the PIN; request: the PIN comes in "
	    "the request (kiosks, tests)" },
	{ "agent", "pinentry", CFG_STRING, "/usr/bin/pinentry", 0, 0, NULL, 0,
	    "the pinentry program (Assuan protocol)" },
	{ "agent", "pinentry_timeout", CFG_INT, "120", 1, 600, NULL, 0,
	    "seconds the PIN dialog waits for the operator" },
	{ "agent", "state_dir", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "directory of the lockout guard's counters (default "
	    "~/.local/state/ukey-agent)" },
	{ "agent", "counter_mode", CFG_BOOL, "false", 0, 0, NULL, 0,
	    "bank counter mode: enrol, install certificate, unlock, change "
	    "PIN over HTTP" },
	{ "agent", "trusted_ca", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "PEM file of the CA certificates that doctor checks chains "
	    "against" },
	{ "agent", "gateway_url", CFG_STRING, NULL, 0, 0, NULL, 0,
	    "the gateway's base URL, for doctor's clock check" },
	{ "agent", "rsa_algorithm", CFG_ENUM, "RS256", 0, 0, "RS256 PS256", 0,
	    "signature algorithm for RSA keys (RSA-PSS certificates always "
	    "get PS256)" },
	{ "agent", "log_level", CFG_ENUM, "info", 0, 0, "debug info warn error",
	    0, "lowest level logged to standard error" },
	{ NULL, NULL, 0, NULL, 0, 0, NULL, 0, NULL },
};

void
ag_list_free(struct ag_list *l)
{
	size_t i;

	if (l == NULL || l->v == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
ag_config_list(const struct config *cfg, const char *key, struct ag_list *out)
{
	const char *s = config_str(cfg, "agent", key), *p;
	size_t n = 0, w;
	int r = UK_ERR_NOMEM;

	out->v = NULL;
	out->n = 0;
	if (s == NULL)
		s = "";
	/* One pass to count, one to copy. */
	for (p = s; *p != '\0';) {
		p += strspn(p, " \t");
		if ((w = strcspn(p, " \t")) == 0)
			break;
		n++;
		p += w;
	}
	if ((out->v = calloc(n + 1, sizeof(*out->v))) == NULL)
		goto out;
	for (p = s; *p != '\0' && out->n < n;) {
		p += strspn(p, " \t");
		if ((w = strcspn(p, " \t")) == 0)
			break;
		if ((out->v[out->n] = strndup(p, w)) == NULL)
			goto out;
		out->n++;
		p += w;
	}
	r = 0;
out:
	if (r != 0)
		ag_list_free(out);
	return r;
}

/* Checks the host[:port] part of an origin. */
static int
host_port_valid(const char *h)
{
	const char *p = h, *end;
	unsigned long port;
	size_t n = 0;

	if (*p == '[') {
		/* An IPv6 literal: hex digits, ':' and '.' (for v4 tails). */
		for (p++; *p != ']'; p++, n++) {
			if (*p == '\0' ||
			    strchr("0123456789abcdefABCDEF:.", *p) == NULL)
				return UK_ERR_INPUT;
		}
		if (n < 2)
			return UK_ERR_INPUT;
		p++;
	} else {
		for (; *p != '\0' && *p != ':'; p++, n++) {
			if (!((*p >= 'a' && *p <= 'z') ||
			        (*p >= 'A' && *p <= 'Z') ||
			        (*p >= '0' && *p <= '9') || *p == '-' ||
			        *p == '.'))
				return UK_ERR_INPUT;
		}
		if (n == 0 || h[0] == '.' || h[0] == '-')
			return UK_ERR_INPUT;
	}
	if (*p == '\0')
		return 0;
	if (*p != ':' || p[1] < '0' || p[1] > '9')
		return UK_ERR_INPUT;
	/* Digits only, no sign, no leading zero games beyond five digits. */
	if (strlen(p + 1) > 5 || strspn(p + 1, "0123456789") != strlen(p + 1))
		return UK_ERR_INPUT;
	port = strtoul(p + 1, (char **)&end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return UK_ERR_INPUT;
	return 0;
}

int
ag_origin_valid(const char *s)
{
	if (s == NULL || strlen(s) > AG_ORIGIN_MAX)
		return UK_ERR_INPUT;
	if (strncasecmp(s, "https://", 8) == 0)
		return host_port_valid(s + 8);
	if (strncasecmp(s, "http://", 7) == 0)
		return host_port_valid(s + 7);
	return UK_ERR_INPUT;
}

int
ag_origin_allowed(const struct ag_list *allow, const char *origin)
{
	size_t i;

	if (allow == NULL || ag_origin_valid(origin) != 0)
		return 0;
	/* Exact match: the origin signed into the challenge is byte for byte
	 * the one the gateway is configured with. */
	for (i = 0; i < allow->n; i++) {
		if (strcmp(allow->v[i], origin) == 0)
			return 1;
	}
	return 0;
}

/* Checks the lists that the schema's types cannot. */
static int
check_lists(const struct config *cfg, const char *name, char *err,
    size_t errlen)
{
	struct ag_list l = { NULL, 0 };
	const char *m;
	size_t i;
	int r;

	if ((r = ag_config_list(cfg, "allowed_origins", &l)) != 0)
		goto out;
	r = UK_ERR_CONFIG_VALUE;
	if (l.n > AG_LIST_MAX) {
		snprintf(err, errlen, "%s: [agent] allowed_origins: at most %d",
		    name, AG_LIST_MAX);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		const char *c;

		if (ag_origin_valid(l.v[i]) != 0) {
			snprintf(err, errlen,
			    "%s: [agent] allowed_origins: \"%s\" is not an "
			    "origin (scheme://host[:port], http or https, "
			    "nothing after it)",
			    name, l.v[i]);
			goto out;
		}
		/* Browsers serialise origins in lower case; an entry in
		 * another spelling could never match. */
		for (c = l.v[i]; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'Z')
				break;
		}
		if (*c != '\0') {
			snprintf(err, errlen,
			    "%s: [agent] allowed_origins: \"%s\" must be "
			    "written in lower case, as browsers send it",
			    name, l.v[i]);
			goto out;
		}
	}
	ag_list_free(&l);
	if ((r = ag_config_list(cfg, "module_allowlist", &l)) != 0)
		goto out;
	r = UK_ERR_CONFIG_VALUE;
	if (l.n > AG_LIST_MAX) {
		snprintf(err, errlen,
		    "%s: [agent] module_allowlist: at most %d", name,
		    AG_LIST_MAX);
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i][0] != '/') {
			snprintf(err, errlen,
			    "%s: [agent] module_allowlist: \"%s\" is not an "
			    "absolute path",
			    name, l.v[i]);
			goto out;
		}
	}
	if ((m = config_str(cfg, "agent", "module")) != NULL && m[0] != '/') {
		snprintf(err, errlen,
		    "%s: [agent] module must be an absolute path", name);
		goto out;
	}
	if ((m = config_str(cfg, "agent", "state_dir")) != NULL &&
	    m[0] != '/') {
		snprintf(err, errlen,
		    "%s: [agent] state_dir must be an absolute path", name);
		goto out;
	}
	r = 0;
out:
	ag_list_free(&l);
	return r;
}

int
ag_config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	int r;

	*out = NULL;
	if (path != NULL)
		r = config_load(path, ag_config_schema, &cfg, err, errlen);
	else
		r = config_defaults(ag_config_schema, &cfg, err, errlen);
	if (r != 0)
		goto out;
	if ((r = check_lists(cfg, path != NULL ? path : "(defaults)", err,
	         errlen)) != 0)
		goto out;
	*out = cfg;
	cfg = NULL; /* transferred */
out:
	config_free(cfg);
	return r;
}

int
ag_config_state_dir(const struct config *cfg, char *out, size_t size)
{
	const char *d = config_str(cfg, "agent", "state_dir"), *x;
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	int n;

	if (d != NULL) {
		if (d[0] != '/')
			return UK_ERR_CONFIG_VALUE;
		n = snprintf(out, size, "%s", d);
	} else if ((x = getenv("XDG_STATE_HOME")) != NULL && x[0] == '/') {
		n = snprintf(out, size, "%s/ukey-agent", x);
	} else {
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) !=
		        0 ||
		    res == NULL || pw.pw_dir == NULL || pw.pw_dir[0] != '/')
			return UK_ERR_CONFIG_VALUE;
		n = snprintf(out, size, "%s/.local/state/ukey-agent",
		    pw.pw_dir);
	}
	if (n < 0 || (size_t)n >= size)
		return UK_ERR_LIMIT;
	return 0;
}
