/* gateway/console.c: the staff consoles' API front: which console, the staff session, its role, CSRF and the JSON body, then the counter or helpdesk handler. */
#include "gateway/console.h"

#include <ctype.h>
#include <string.h>

#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"
#include "gateway/respond.h"
#include "gateway/routes_auth.h"

enum { C_COUNTER = 1, C_HELPDESK };

static int
which(const char *path)
{
	if (strncmp(path, GW_COUNTER_API, strlen(GW_COUNTER_API)) == 0)
		return C_COUNTER;
	if (strncmp(path, GW_HELPDESK_API, strlen(GW_HELPDESK_API)) == 0)
		return C_HELPDESK;
	return 0;
}

int
gw_console_owns(const char *path)
{
	return which(path) != 0;
}

int
gw_console_route(const char *path, const char *method, int *json_body)
{
	*json_body = 0;
	if (which(path) == 0)
		return UK_ERR_NO_ROUTE;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return 0;
	if (strcmp(method, "POST") == 0) {
		*json_body = 1;
		return 0;
	}
	return UK_ERR_METHOD;
}

/* 1 when the space-separated list roles holds role. */
static int
has_role(const char *roles, const char *role)
{
	size_t n = strlen(role);
	const char *p = roles;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (strncmp(p, role, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return 0;
}

static enum MHD_Result
refuse(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    int code, const char *event, const char *subject)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	e.event = event;
	e.subject = subject;
	return gw_respond_error(s, c, rq, &e);
}

enum MHD_Result
gw_console_handle(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq)
{
	struct gw_console k;
	enum MHD_Result ret;
	int con = which(rq->path), r;
	const char *role = con == C_COUNTER ? "counter" : "helpdesk";

	memset(&k, 0, sizeof(k));
	k.s = s;
	k.c = c;
	k.rq = rq;
	k.now = gw_server_now(s);
	if (con == 0)
		return refuse(s, c, rq, UK_ERR_NO_ROUTE, NULL, NULL);
	if ((k.st = gw_server_store(s)) == NULL)
		return refuse(s, c, rq, UK_ERR_STORE_OPEN, NULL, NULL);
	if ((r = gw_req_session(s, c, rq, &k.se)) != 0) {
		/* A temporary-password session is an operator's: refused
		 * below like any other operator. */
		if (r != UK_ERR_PASSWORD_MUST_CHANGE)
			return refuse(s, c, rq, r, NULL, NULL);
	}
	snprintf(rq->principal, sizeof(rq->principal), "%s:%s", k.se.id.kind,
	    k.se.id.login);
	if (strcmp(k.se.id.kind, GW_KIND_STAFF) != 0)
		return refuse(s, c, rq, UK_ERR_POLICY_STAFF_ONLY,
		    "console.refused", rq->path);
	if (!has_role(k.se.id.roles, role) && !has_role(k.se.id.roles, "admin"))
		return refuse(s, c, rq, UK_ERR_POLICY_ROLE, "console.refused",
		    rq->path);
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0 &&
	    gw_req_csrf(c, &k.se) != 0)
		return refuse(s, c, rq, UK_ERR_CSRF, "csrf.refused", rq->path);
	if (strcmp(rq->method, "POST") == 0) {
		r = json_parse_object(rq->sbody != NULL
		        ? (const char *)rq->sbody->buf
		        : "",
		    rq->sbody != NULL ? rq->sbody->len : 0, GW_CONSOLE_BODY_MAX,
		    &k.body);
		if (r != 0)
			return refuse(s, c, rq, UK_ERR_JSON, NULL, NULL);
	}
	snprintf(k.who, sizeof(k.who), "staff:%s", k.se.id.login);
	k.actor.who = k.who;
	k.actor.ip = rq->ip;
	k.actor.user_agent = rq->ua;
	k.sub = rq->path +
	    strlen(con == C_COUNTER ? GW_COUNTER_API : GW_HELPDESK_API);
	ret = con == C_COUNTER ? gw_counter_api(&k) : gw_helpdesk_api(&k);
	json_decref(k.body);
	return ret;
}

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

int
gw_console_param(const struct gw_console *k, const char *name, char *out,
    size_t size)
{
	const char *v;
	json_t *t;
	size_t n, i;

	v = MHD_lookup_connection_value(k->c, MHD_GET_ARGUMENT_KIND, name);
	if (v == NULL)
		return UK_ERR_NOT_FOUND;
	/* The server keeps arguments as received (no unescape callback):
	 * decoded here, once ('+' is a space, %XX a byte). */
	for (i = 0, n = 0; v[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == '+')
			ch = ' ';
		else if (ch == '%') {
			if (!isxdigit((unsigned char)v[i + 1]) ||
			    !isxdigit((unsigned char)v[i + 2]))
				return UK_ERR_INPUT;
			ch = (unsigned char)(hexval(v[i + 1]) * 16 +
			    hexval(v[i + 2]));
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || n + 1 >= size)
			return UK_ERR_INPUT;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	/* The decoded bytes go to the store and into JSON: well-formed UTF-8
	 * only (jansson's check: no overlong forms, no surrogates). */
	if ((t = json_stringn(out, n)) == NULL) {
		out[0] = '\0';
		return UK_ERR_INPUT;
	}
	json_decref(t);
	return 0;
}

enum MHD_Result
gw_console_error(struct gw_console *k, int code, const char *event,
    const char *subject)
{
	return refuse(k->s, k->c, k->rq, code, event, subject);
}

enum MHD_Result
gw_console_ok(struct gw_console *k, json_t *body)
{
	return gw_respond_json(k->s, k->c, k->rq, 200, body, NULL);
}
