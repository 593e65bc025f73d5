/* tests/unit/gateway/test_policy.c: the routes file parser, longest-prefix matching and the access decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errors.h"
#include "gateway/policy.h"

static const char routes[] =
    "# a comment\n"
    "\n"
    "/static/ GET,HEAD public\n"
    "/hall/query/ GET,POST session scope=query\n"
    "/hall/ GET,HEAD,POST session\n"
    "/hall/authorise GET,POST session scope=query unauthorised\n"
    "/hall/maker/ GET session roles=maker\n"
    "/hall/maker/ POST session roles=maker step_up=300\n"
    "/hall/pay/ POST session roles=maker,checker\n"
    "/counter * staff roles=counter\r\n"
    "  /helpdesk\t*\tstaff roles=helpdesk,admin";

static struct gw_policy *
load(void)
{
	struct gw_policy *p = NULL;
	char err[256];

	if (gw_policy_parse(routes, strlen(routes), "routes", &p, err,
	        sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	return p;
}

static void
operator(struct gw_identity *id, const char *scope, const char *roles,
    int authorised)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->kind, sizeof(id->kind), "%s", GW_KIND_OPERATOR);
	id->principal_id = 7;
	snprintf(id->unit, sizeof(id->unit), "U1");
	snprintf(id->login, sizeof(id->login), "zhang");
	snprintf(id->scope, sizeof(id->scope), "%s", scope);
	snprintf(id->method, sizeof(id->method), "%s",
	    strcmp(scope, "full") == 0 ? "cert" : "password");
	snprintf(id->roles, sizeof(id->roles), "%s", roles);
	id->unit_authorised = authorised;
}

static int
decide(const struct gw_policy *p, const char *path, const char *method,
    const struct gw_identity *id, int64_t now)
{
	const struct gw_rule *r = NULL;
	int rc;

	if ((rc = gw_policy_match(p, path, method, &r)) != 0)
		return rc;
	return gw_policy_check(r, id, now);
}

static void
test_parse_ok(void **state)
{
	struct gw_policy *p = load();

	(void)state;
	assert_int_equal(gw_policy_count(p), 9);
	gw_policy_free(p);
	gw_policy_free(NULL);
}

static void
test_longest_prefix(void **state)
{
	struct gw_policy *p = load();
	const struct gw_rule *r = NULL;

	(void)state;
	assert_int_equal(gw_policy_match(p, "/hall/query/x", "GET", &r), 0);
	assert_string_equal(r->prefix, "/hall/query/");
	assert_int_equal(gw_policy_match(p, "/hall/other", "GET", &r), 0);
	assert_string_equal(r->prefix, "/hall/");
	assert_int_equal(gw_policy_match(p, "/hall/authorise", "POST", &r), 0);
	assert_string_equal(r->prefix, "/hall/authorise");
	assert_int_equal(gw_policy_match(p, "/hall/authorise/step2", "GET", &r),
	    0);
	assert_string_equal(r->prefix, "/hall/authorise");
	/* "/hall/authorised" is not under "/hall/authorise". */
	assert_int_equal(gw_policy_match(p, "/hall/authorised", "GET", &r), 0);
	assert_string_equal(r->prefix, "/hall/");
	/* "/counter" covers "/counter/x" but not "/counterfeit". */
	assert_int_equal(gw_policy_match(p, "/counter/x", "DELETE", &r), 0);
	assert_int_equal(gw_policy_match(p, "/counterfeit", "GET", &r),
	    UK_ERR_POLICY_DENIED);
	/* Same prefix, the rule for the method. */
	assert_int_equal(gw_policy_match(p, "/hall/maker/a", "POST", &r), 0);
	assert_int_equal(r->step_up, 300);
	assert_int_equal(gw_policy_match(p, "/hall/maker/a", "GET", &r), 0);
	assert_int_equal(r->step_up, 0);
	gw_policy_free(p);
}

static void
test_default_deny(void **state)
{
	struct gw_policy *p = load();
	const struct gw_rule *r = NULL;

	(void)state;
	assert_int_equal(gw_policy_match(p, "/", "GET", &r),
	    UK_ERR_POLICY_DENIED);
	assert_null(r);
	assert_int_equal(gw_policy_match(p, "/admin", "GET", &r),
	    UK_ERR_POLICY_DENIED);
	assert_int_equal(gw_policy_match(p, "/hal", "GET", &r),
	    UK_ERR_POLICY_DENIED);
	/* The longest prefix has no rule for DELETE: never a shorter one. */
	assert_int_equal(gw_policy_match(p, "/hall/maker/x", "DELETE", &r),
	    UK_ERR_METHOD);
	assert_int_equal(gw_policy_match(p, "/static/a.css", "POST", &r),
	    UK_ERR_METHOD);
	assert_int_equal(gw_policy_match(p, "/hall/x", "BREW", &r),
	    UK_ERR_METHOD);
	assert_int_equal(gw_policy_match(p, "/counter", "BREW", &r), 0);
	assert_int_equal(gw_policy_match(NULL, "/hall/x", "GET", &r),
	    UK_ERR_POLICY_DENIED);
	gw_policy_free(p);
}

static void
test_access(void **state)
{
	struct gw_policy *p = load();
	struct gw_identity full, query, unauth, staff;
	int64_t now = 1800000000;

	(void)state;
	operator(&full, "full", "maker", 1);
	operator(&query, "query", "maker checker", 1);
	operator(&unauth, "full", "maker", 0);
	memset(&staff, 0, sizeof(staff));
	snprintf(staff.kind, sizeof(staff.kind), "%s", GW_KIND_STAFF);
	snprintf(staff.roles, sizeof(staff.roles), "counter");
	snprintf(staff.scope, sizeof(staff.scope), "full");
	staff.unit_authorised = 0;

	assert_int_equal(decide(p, "/static/x", "GET", NULL, now), 0);
	assert_int_equal(decide(p, "/hall/x", "GET", NULL, now),
	    UK_ERR_SESSION_NONE);
	assert_int_equal(decide(p, "/hall/x", "GET", &full, now), 0);
	/* A query session: the query routes, not the full ones. */
	assert_int_equal(decide(p, "/hall/query/a", "GET", &query, now), 0);
	assert_int_equal(decide(p, "/hall/x", "GET", &query, now),
	    UK_ERR_POLICY_SCOPE);
	/* An unauthorised unit: only the authorisation route. */
	assert_int_equal(decide(p, "/hall/x", "GET", &unauth, now),
	    UK_ERR_POLICY_HALL_UNAUTHORISED);
	assert_int_equal(decide(p, "/hall/query/a", "GET", &unauth, now),
	    UK_ERR_POLICY_HALL_UNAUTHORISED);
	assert_int_equal(decide(p, "/hall/authorise", "POST", &unauth, now), 0);
	/* Roles. */
	assert_int_equal(decide(p, "/hall/pay/1", "POST", &full, now), 0);
	operator(&full, "full", "checker", 1);
	assert_int_equal(decide(p, "/hall/pay/1", "POST", &full, now), 0);
	assert_int_equal(decide(p, "/hall/maker/1", "GET", &full, now),
	    UK_ERR_POLICY_ROLE);
	operator(&full, "full", "", 1);
	assert_int_equal(decide(p, "/hall/pay/1", "POST", &full, now),
	    UK_ERR_POLICY_ROLE);
	/* "makerx" is not "maker". */
	operator(&full, "full", "makerx admin", 1);
	assert_int_equal(decide(p, "/hall/maker/1", "GET", &full, now),
	    UK_ERR_POLICY_ROLE);
	/* Staff and operators keep to their routes. */
	assert_int_equal(decide(p, "/counter/x", "POST", &staff, now), 0);
	operator(&full, "full", "maker", 1);
	assert_int_equal(decide(p, "/counter/x", "POST", &full, now),
	    UK_ERR_POLICY_STAFF_ONLY);
	assert_int_equal(decide(p, "/hall/x", "GET", &staff, now),
	    UK_ERR_POLICY_DENIED);
	assert_int_equal(decide(p, "/helpdesk", "GET", &staff, now),
	    UK_ERR_POLICY_ROLE);
	gw_policy_free(p);
}

static void
test_step_up(void **state)
{
	struct gw_policy *p = load();
	struct gw_identity id;
	int64_t now = 1800000000;

	(void)state;
	operator(&id, "full", "maker", 1);
	id.cert_sig_at = 0;
	assert_int_equal(decide(p, "/hall/maker/x", "POST", &id, now),
	    UK_ERR_POLICY_STEP_UP);
	id.cert_sig_at = now - 300;
	assert_int_equal(decide(p, "/hall/maker/x", "POST", &id, now), 0);
	id.cert_sig_at = now - 301;
	assert_int_equal(decide(p, "/hall/maker/x", "POST", &id, now),
	    UK_ERR_POLICY_STEP_UP);
	/* GET on the same prefix needs none. */
	assert_int_equal(decide(p, "/hall/maker/x", "GET", &id, now), 0);
	/* A signature from the future is not fresh. */
	id.cert_sig_at = now + 3600;
	assert_int_equal(decide(p, "/hall/maker/x", "POST", &id, now),
	    UK_ERR_POLICY_STEP_UP);
	gw_policy_free(p);
}

/* Each bad file fails with its line named. */
static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		const char *where;
	} bad[] = {
		{ "/a GET public\n/b GET\n", "routes:2:" },
		{ "a GET public\n", "routes:1:" },
		{ "/a/../b GET public\n", "routes:1:" },
		{ "/a//b GET public\n", "routes:1:" },
		{ "/a/./b GET public\n", "routes:1:" },
		{ "/a%2f GET public\n", "routes:1:" },
		{ "/a get public\n", "routes:1:" },
		{ "/a GET,,POST public\n", "routes:1:" },
		{ "/a GET, public\n", "routes:1:" },
		{ "/a GET private\n", "routes:1:" },
		{ "/a GET session scope=half\n", "routes:1:" },
		{ "/a GET session roles=boss\n", "routes:1:" },
		{ "/a GET session roles=maker,maker\n", "routes:1:" },
		{ "/a GET session roles=\n", "routes:1:" },
		{ "/a GET session step_up=0\n", "routes:1:" },
		{ "/a GET session step_up=10x\n", "routes:1:" },
		{ "/a GET session scope=full scope=query\n", "routes:1:" },
		{ "/a GET public roles=maker\n", "routes:1:" },
		{ "/a GET staff unauthorised\n", "routes:1:" },
		{ "\n\n# c\n/a GET session nonsense\n", "routes:4:" },
	};
	struct gw_policy *p;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct gw_policy *)1;
		err[0] = '\0';
		if (gw_policy_parse(bad[i].text, strlen(bad[i].text), "routes",
		        &p, err, sizeof(err)) == 0)
			fail_msg("accepted: %s", bad[i].text);
		assert_null(p);
		if (strncmp(err, bad[i].where, strlen(bad[i].where)) != 0)
			fail_msg("%s: message \"%s\" does not start with %s",
			    bad[i].text, err, bad[i].where);
	}
	/* A NUL inside a line. */
	{
		static const char nul[] = "/a GET public\n/b G\0T public\n";
		assert_int_not_equal(gw_policy_parse(nul, sizeof(nul) - 1,
		                         "routes", &p, err, sizeof(err)),
		    0);
		assert_string_equal(err, "routes:2: control character");
	}
}

static void
test_load_file(void **state)
{
	struct gw_policy *p = NULL;
	char err[256], path[] = "/tmp/test_policy.XXXXXX";
	int fd;

	(void)state;
	assert_int_not_equal(gw_policy_load("/nonexistent/routes", &p, err,
	                         sizeof(err)),
	    0);
	assert_non_null(strstr(err, "/nonexistent/routes"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, routes, strlen(routes)),
	    (ssize_t)strlen(routes));
	close(fd);
	assert_int_equal(gw_policy_load(path, &p, err, sizeof(err)), 0);
	assert_int_equal(gw_policy_count(p), 9);
	gw_policy_free(p);
	unlink(path);
	/* The example shipped in etc/ parses. */
	if (gw_policy_load("etc/ukey-gateway.routes", &p, err, sizeof(err)) ==
	    0) {
		assert_true(gw_policy_count(p) > 5);
		gw_policy_free(p);
	} else if (strstr(err, "cannot be read") == NULL)
		fail_msg("etc/ukey-gateway.routes: %s", err);
}

static void
test_roles_has(void **state)
{
	(void)state;
	assert_true(gw_roles_has("maker checker", "checker"));
	assert_true(gw_roles_has("maker,checker", "maker"));
	assert_false(gw_roles_has("maker checker", "check"));
	assert_false(gw_roles_has("", "maker"));
	assert_false(gw_roles_has(NULL, "maker"));
	assert_int_equal(gw_method_bit("GET"), GW_M_GET);
	assert_int_equal(gw_method_bit("get"), GW_M_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_longest_prefix),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_step_up),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_roles_has),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
