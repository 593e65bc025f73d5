/* tests/unit/gateway/test_scan.c: scan login tickets on SQLite and PostgreSQL: lifecycle, binding to browser and phone, expiry, slow_down, OAuth state, refusals, binding WeChat, notify, and the callback against wechat-stub. */
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/errors.h"
#include "common/secret.h"
#include "common/store.h"
#include "gateway/model.h"
#include "gateway/pwhash.h"
#include "gateway/scan.h"
#include "gateway/wechat.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"
#include "tests/lib/testtool.h"

#define APPID "wx0123456789abcdef"
#define OPENID1 "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"    /* op1, unit U1 */
#define OPENID_LEFT "oLeftOperator_000000000000"  /* op2, left */
#define OPENID_NOAGR "oNoAgreement_0000000000000" /* op3, unit U2 */
#define OPENID_NEW "oNewPhoneUser_000000000000"   /* bound to nobody */

struct fixture {
	struct testgw_db g; /* first: testgw_teardown frees the fixture */
	int64_t op1, op2, op3, op4;
};

static pid_t stub_pid;
static char stub_base[64];
static struct secret *app_secret;

static const struct gw_scan_peer browser = { "browser-cookie-AAAA",
	"192.0.2.10", "Mozilla/5.0 (Windows NT 10.0) Chrome/120" };
static const struct gw_scan_peer other_browser = { "browser-cookie-BBBB",
	"192.0.2.99", "curl/8" };
static const struct gw_scan_peer phone = { "phone-cookie-PPPP", "198.51.100.7",
	"Mozilla/5.0 (iPhone) MicroMessenger/8.0" };
static const struct gw_scan_peer other_phone = { "phone-cookie-QQQQ",
	"198.51.100.8", "MicroMessenger/8.0" };

static const int64_t T0 = 1760000000;

static int64_t
add_op(struct store *st, const char *login, const char *unit,
    const char *openid)
{
	int64_t id = testgw_add_op(st, login, unit, NULL, NULL, NULL);

	if (openid != NULL)
		assert_int_equal(gw_operator_bind_openid(st, &testgw_counter,
		                     id, openid),
		    0);
	return id;
}

static int
setup_db(void **state)
{
	struct fixture *fx = testgw_new(state, sizeof(*fx), 1);

	assert_int_equal(gw_unit_add(fx->g.st, &testgw_counter, "U1",
	                     "某某科技有限公司", NULL),
	    0);
	assert_int_equal(gw_unit_agreement(fx->g.st, &testgw_counter, "U1"), 0);
	assert_int_equal(gw_unit_add(fx->g.st, &testgw_counter, "U2",
	                     "未签协议单位", NULL),
	    0);
	fx->op1 = add_op(fx->g.st, "op1", "U1", OPENID1);
	fx->op2 = add_op(fx->g.st, "op2", "U1", OPENID_LEFT);
	assert_int_equal(gw_operator_leave(fx->g.st, &testgw_counter, fx->op2),
	    0);
	fx->op3 = add_op(fx->g.st, "op3", "U2", OPENID_NOAGR);
	fx->op4 = add_op(fx->g.st, "op4", "U1", NULL);
	return 0;
}

static struct gw_wechat_conf
wconf(void)
{
	struct gw_wechat_conf c;

	memset(&c, 0, sizeof(c));
	c.appid = APPID;
	c.secret = app_secret;
	c.open_base = stub_base;
	c.api_base = stub_base;
	c.timeout_ms = 3000;
	return c;
}

/* The state parameter of an authorize URL. */
static void
url_state(const char *url, char state[GW_WECHAT_STATE_LEN + 1])
{
	const char *p = strstr(url, "&state=");

	assert_non_null(p);
	memcpy(state, p + 7, GW_WECHAT_STATE_LEN);
	state[GW_WECHAT_STATE_LEN] = '\0';
	assert_true(gw_wechat_state_valid(state));
}

/* The phone opens the ticket's URL: an OAuth state for it. */
static void
begin(struct store *st, const char *id, const struct gw_scan_peer *ph,
    int64_t now, char state[GW_WECHAT_STATE_LEN + 1])
{
	struct gw_wechat_conf c = wconf();
	char *url = NULL;
	char redirect[128];

	snprintf(redirect, sizeof(redirect),
	    "https://gjj.example.cn/qr/s/%s/cb", id);
	assert_int_equal(gw_scan_oauth_begin(st, &c, id, ph, redirect, now,
	                     &url),
	    0);
	url_state(url, state);
	free(url);
}

/* A ticket scanned by phone as openid (state taken first). */
static int
scan_as(struct store *st, const char *id, const struct gw_scan_peer *ph,
    const char *openid, int64_t now, struct gw_scan_view *v)
{
	char state[GW_WECHAT_STATE_LEN + 1];

	begin(st, id, ph, now, state);
	assert_int_equal(gw_scan_oauth_take(st, id, ph, state, now), 0);
	return gw_scan_scanned(st, id, ph, openid, now, v);
}

static int
confirm(struct store *st, const char *id, const struct gw_scan_peer *ph,
    int64_t now)
{
	char csrf[GW_TOKEN_SIZE];

	gw_scan_csrf(ph->cookie, id, csrf);
	return gw_scan_confirm(st, id, ph, csrf, now);
}

/* The events of the audit rows, oldest first, "ev/result ev/result ...",
 * scan events only. */
static void
scan_events(struct store *st, char *out, size_t size)
{
	struct store_res *res = NULL;
	size_t i, o = 0;
	int n;

	assert_int_equal(store_exec(st, &res,
	                     "SELECT event, result FROM audit WHERE event "
	                     "LIKE 'scan.%' ORDER BY seq",
	                     ""),
	    0);
	out[0] = '\0';
	for (i = 0; i < store_res_rows(res); i++) {
		n = snprintf(out + o, size - o, "%s%s/%s", i ? " " : "",
		    store_res_text(res, i, 0), store_res_text(res, i, 1));
		assert_true(n > 0 && (size_t)n < size - o);
		o += (size_t)n;
	}
	store_res_free(res);
}

static void
test_lifecycle(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	enum gw_scan_state cur;
	char id[GW_SCAN_ID_LEN + 1], id2[GW_SCAN_ID_LEN + 1], ev[1024];
	int64_t op = 0;
	int hold = -1, changed = -1;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_true(gw_scan_id_valid(id));
	/* only the hash is stored */
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM scan_tickets WHERE "
	                     "id_hash = ?",
	                     id),
	    0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL, T0,
	                     &v, &hold),
	    0);
	assert_int_equal(hold, 0);
	assert_int_equal(v.state, GW_SCAN_WAITING);
	assert_int_equal(v.expires_at, T0 + GW_SCAN_TTL);
	/* [scan] ticket_ttl: the next tickets live that long; out of range
	 * is the default */
	gw_scan_set_ttl(45);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id2),
	    0);
	assert_int_equal(gw_scan_poll(fx->g.st, id2, browser.cookie, NULL, T0,
	                     &v, &hold),
	    0);
	assert_int_equal(v.expires_at, T0 + 45);
	gw_scan_set_ttl(5);
	assert_int_equal(gw_scan_ttl(), GW_SCAN_TTL);
	gw_scan_set_ttl(GW_SCAN_TTL);
	/* the browser knows "waiting": held */
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "waiting",
	                     T0 + 1, &v, &hold),
	    0);
	assert_int_equal(hold, 1);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, browser.cookie,
	                     GW_SCAN_WAITING, T0 + 1, &cur, &changed),
	    0);
	assert_int_equal(changed, 0);

	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 5, &v), 0);
	assert_int_equal(v.state, GW_SCAN_SCANNED);
	assert_int_equal(v.operator_id, fx->op1);
	assert_string_equal(v.operator_login, "op1");
	assert_string_equal(v.unit_id, "U1");
	assert_string_equal(v.unit_name, "某某科技有限公司");
	assert_string_equal(v.requester_ip, browser.ip);
	assert_string_equal(v.requester_ua, browser.user_agent);
	assert_int_equal(v.created_at, T0);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, browser.cookie,
	                     GW_SCAN_WAITING, T0 + 5, &cur, &changed),
	    0);
	assert_int_equal(changed, 1);
	assert_int_equal(cur, GW_SCAN_SCANNED);
	/* the confirm page, for this phone only */
	assert_int_equal(gw_scan_phone_view(fx->g.st, id, phone.cookie, T0 + 6,
	                     &v),
	    0);
	assert_string_equal(v.operator_name, "张三");
	assert_int_equal(gw_scan_phone_view(fx->g.st, id, other_phone.cookie,
	                     T0 + 6, &v),
	    UK_ERR_SCAN_WRONG_SITE);
	/* claim before confirm */
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 6, &op),
	    UK_ERR_SCAN_STATE);
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 7), 0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "scanned",
	                     T0 + 7, &v, &hold),
	    0);
	assert_int_equal(hold, 0);
	assert_int_equal(v.state, GW_SCAN_CONFIRMED);
	/* a second confirm is not a step */
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 8),
	    UK_ERR_SCAN_STATE);
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 8, &op), 0);
	assert_int_equal(op, fx->op1);
	/* claimed once only */
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 9, &op),
	    UK_ERR_SCAN_STATE);
	assert_int_equal(op, 0);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, browser.cookie,
	                     GW_SCAN_CONFIRMED, T0 + 500, &cur, &changed),
	    0);
	assert_int_equal(cur, GW_SCAN_CLAIMED); /* claimed stays claimed */
	scan_events(fx->g.st, ev, sizeof(ev));
	assert_string_equal(ev,
	    "scan.create/ok scan.create/ok scan.scanned/ok "
	    "scan.refused/UK-4208 scan.confirm/ok scan.refused/UK-4208 "
	    "scan.claim/ok scan.refused/UK-4208");
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = "
	                     "'scan.scanned' AND ip = '198.51.100.7' AND "
	                     "actor = ?",
	                     "wechat:" OPENID1),
	    1);
}

static void
test_foreign(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	enum gw_scan_state cur;
	char id[GW_SCAN_ID_LEN + 1], csrf[GW_TOKEN_SIZE];
	int64_t op;
	int hold, changed;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, other_browser.cookie, NULL,
	                     T0, &v, &hold),
	    UK_ERR_SCAN_TICKET_UNKNOWN);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, other_browser.cookie,
	                     GW_SCAN_WAITING, T0, &cur, &changed),
	    UK_ERR_SCAN_TICKET_UNKNOWN);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 1, NULL),
	    0);
	/* another phone cannot confirm; a wrong CSRF token neither */
	assert_int_equal(confirm(fx->g.st, id, &other_phone, T0 + 2),
	    UK_ERR_SCAN_WRONG_SITE);
	gw_scan_csrf(other_phone.cookie, id, csrf);
	assert_int_equal(gw_scan_confirm(fx->g.st, id, &phone, csrf, T0 + 2),
	    UK_ERR_CSRF);
	assert_int_equal(gw_scan_confirm(fx->g.st, id, &phone, NULL, T0 + 2),
	    UK_ERR_CSRF);
	assert_int_equal(gw_scan_cancel(fx->g.st, id, &phone, "", T0 + 2),
	    UK_ERR_CSRF);
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 3), 0);
	/* another browser cannot claim */
	assert_int_equal(gw_scan_claim(fx->g.st, id, &other_browser, T0 + 3,
	                     &op),
	    UK_ERR_SCAN_TICKET_UNKNOWN);
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 3, &op), 0);
	/* malformed and unknown ids */
	assert_int_equal(gw_scan_poll(fx->g.st, "../../etc", browser.cookie,
	                     NULL, T0, &v, &hold),
	    UK_ERR_SCAN_TICKET_UNKNOWN);
	assert_int_equal(gw_scan_claim(fx->g.st,
	                     "0123456789abcdef0123456789abcdef", &browser, T0,
	                     &op),
	    UK_ERR_SCAN_TICKET_UNKNOWN);
	assert_int_equal(gw_scan_phone_view(fx->g.st,
	                     "0123456789abcdef0123456789abcdef", phone.cookie,
	                     T0, &v),
	    UK_ERR_SCAN_WRONG_SITE);
}

static void
test_expired(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	enum gw_scan_state cur;
	struct gw_wechat_conf c = wconf();
	char id[GW_SCAN_ID_LEN + 1], id2[GW_SCAN_ID_LEN + 1];
	char *url = NULL;
	int64_t op;
	int hold, changed;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, browser.cookie,
	                     GW_SCAN_WAITING, T0 + GW_SCAN_TTL - 1, &cur,
	                     &changed),
	    0);
	assert_int_equal(changed, 0);
	assert_int_equal(gw_scan_wait_state(fx->g.st, id, browser.cookie,
	                     GW_SCAN_WAITING, T0 + GW_SCAN_TTL, &cur, &changed),
	    0);
	assert_int_equal(changed, 1);
	assert_int_equal(cur, GW_SCAN_EXPIRED);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "waiting",
	                     T0 + GW_SCAN_TTL, &v, &hold),
	    0);
	assert_int_equal(v.state, GW_SCAN_EXPIRED);
	assert_int_equal(hold, 0);
	/* the phone comes too late */
	assert_int_equal(gw_scan_oauth_begin(fx->g.st, &c, id, &phone,
	                     "https://gjj.example.cn/cb", T0 + GW_SCAN_TTL,
	                     &url),
	    UK_ERR_SCAN_EXPIRED);
	assert_null(url);
	/* confirmed, but claimed too late */
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id2),
	    0);
	assert_int_equal(scan_as(fx->g.st, id2, &phone, OPENID1, T0 + 10, NULL),
	    0);
	assert_int_equal(confirm(fx->g.st, id2, &phone, T0 + 20), 0);
	assert_int_equal(gw_scan_claim(fx->g.st, id2, &browser,
	                     T0 + GW_SCAN_TTL + 1, &op),
	    UK_ERR_SCAN_EXPIRED);
	/* confirm too late */
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id2),
	    0);
	assert_int_equal(scan_as(fx->g.st, id2, &phone, OPENID1, T0 + 10, NULL),
	    0);
	assert_int_equal(confirm(fx->g.st, id2, &phone, T0 + GW_SCAN_TTL),
	    UK_ERR_SCAN_EXPIRED);
	/* purge: an hour after expiry */
	assert_int_equal(gw_scan_purge(fx->g.st, T0 + GW_SCAN_TTL + 3599), 0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM scan_tickets"),
	    3);
	assert_int_equal(gw_scan_purge(fx->g.st, T0 + GW_SCAN_TTL + 3601), 0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM scan_tickets"),
	    0);
	assert_int_equal(testgw_int(fx->g.st,
	                     "SELECT count(*) FROM oauth_states"),
	    0);
}

static void
test_cancelled(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	char id[GW_SCAN_ID_LEN + 1], csrf[GW_TOKEN_SIZE];
	int64_t op;
	int hold;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 1, NULL),
	    0);
	gw_scan_csrf(phone.cookie, id, csrf);
	assert_int_equal(gw_scan_cancel(fx->g.st, id, &other_phone, csrf,
	                     T0 + 2),
	    UK_ERR_CSRF);
	assert_int_equal(gw_scan_cancel(fx->g.st, id, &phone, csrf, T0 + 2), 0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "scanned",
	                     T0 + 3, &v, &hold),
	    0);
	assert_int_equal(v.state, GW_SCAN_CANCELLED);
	assert_int_equal(hold, 0);
	/* a final state is never held */
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "cancelled",
	                     T0 + 6, &v, &hold),
	    0);
	assert_int_equal(hold, 0);
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 4),
	    UK_ERR_SCAN_CANCELLED);
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 4, &op),
	    UK_ERR_SCAN_CANCELLED);
}

static void
test_slow_down(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	char id[GW_SCAN_ID_LEN + 1];
	int hold;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL, T0,
	                     &v, &hold),
	    0);
	/* answered at once again within the interval: slow down */
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL,
	                     T0 + 1, &v, &hold),
	    UK_ERR_SCAN_SLOW_DOWN);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "bogus",
	                     T0 + 1, &v, &hold),
	    UK_ERR_SCAN_SLOW_DOWN);
	/* a held poll is not counted */
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, "waiting",
	                     T0 + 1, &v, &hold),
	    0);
	assert_int_equal(hold, 1);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL,
	                     T0 + GW_SCAN_INTERVAL, &v, &hold),
	    0);
	assert_int_equal(hold, 0);
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL,
	                     T0 + GW_SCAN_INTERVAL + 1, &v, &hold),
	    UK_ERR_SCAN_SLOW_DOWN);
}

static void
test_refusals(void **state)
{
	struct fixture *fx = *state;
	struct gw_scan_view v;
	char id[GW_SCAN_ID_LEN + 1], ev[1024];
	int64_t op;
	int hold;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_NEW, T0 + 1, &v),
	    UK_ERR_SCAN_NOT_OPERATOR);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_LEFT, T0 + 2, &v),
	    UK_ERR_SCAN_OPERATOR_LEFT);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_NOAGR, T0 + 3,
	                     &v),
	    UK_ERR_SCAN_NO_AGREEMENT);
	/* the ticket is still waiting: the right person may scan */
	assert_int_equal(gw_scan_poll(fx->g.st, id, browser.cookie, NULL,
	                     T0 + 4, &v, &hold),
	    0);
	assert_int_equal(v.state, GW_SCAN_WAITING);
	/* each cause is shown as the seed message 「扫码认证失败」 */
	assert_string_equal(uk_error_info(UK_ERR_SCAN_NOT_OPERATOR)->seed,
	    "扫码认证失败");
	assert_string_equal(uk_error_info(UK_ERR_SCAN_OPERATOR_LEFT)->seed,
	    "扫码认证失败");
	assert_string_equal(uk_error_info(UK_ERR_SCAN_NO_AGREEMENT)->seed,
	    "扫码认证失败");
	assert_string_equal(uk_error_info(UK_ERR_SCAN_WRONG_SITE)->seed,
	    "扫码认证失败");
	assert_non_null(
	    strstr(uk_error_info(UK_ERR_SCAN_OPERATOR_LEFT)->remedy_zh,
	        "柜面"));
	scan_events(fx->g.st, ev, sizeof(ev));
	assert_string_equal(ev,
	    "scan.create/ok scan.refused/UK-4202 scan.refused/UK-4203 "
	    "scan.refused/UK-4204");
	/* the operator leaves between confirm and claim */
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 5, &v), 0);
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 6), 0);
	assert_int_equal(gw_operator_leave(fx->g.st, &testgw_counter, fx->op1),
	    0);
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 7, &op),
	    UK_ERR_SCAN_OPERATOR_LEFT);
	assert_int_equal(op, 0);
	/* a ticket of another site (unknown id) on the phone */
	assert_int_equal(gw_scan_scanned(fx->g.st,
	                     "00000000000000000000000000000000", &phone,
	                     OPENID1, T0, &v),
	    UK_ERR_SCAN_WRONG_SITE);
}

static void
test_oauth_state(void **state)
{
	struct fixture *fx = *state;
	char id[GW_SCAN_ID_LEN + 1], id2[GW_SCAN_ID_LEN + 1];
	char st[GW_WECHAT_STATE_LEN + 1];

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id2),
	    0);
	/* single use */
	begin(fx->g.st, id, &phone, T0, st);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st, T0 + 1),
	    0);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st, T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	/* forged: well-formed but never issued; malformed */
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone,
	                     "0123456789abcdef0123456789abcdef", T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, "x", T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, NULL, T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	/* another phone's state, spent by the attempt */
	begin(fx->g.st, id, &phone, T0, st);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &other_phone, st,
	                     T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st, T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	/* another ticket's state */
	begin(fx->g.st, id2, &phone, T0, st);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st, T0 + 1),
	    UK_ERR_SCAN_OAUTH_STATE);
	/* expired after 10 minutes */
	begin(fx->g.st, id, &phone, T0, st);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st,
	                     T0 + GW_SCAN_STATE_TTL),
	    UK_ERR_SCAN_OAUTH_STATE);
	begin(fx->g.st, id, &phone, T0, st);
	assert_int_equal(gw_scan_oauth_take(fx->g.st, id, &phone, st,
	                     T0 + GW_SCAN_STATE_TTL - 1),
	    0);
	/* only hashes are stored */
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM oauth_states WHERE "
	                     "state_hash = ?",
	                     st),
	    0);
}

static void
test_bind(void **state)
{
	struct fixture *fx = *state;
	struct gw_operator o;
	struct gw_scan_view v;
	char id[GW_SCAN_ID_LEN + 1];
	int64_t op;

	/* op4 logged in with the UKey and asks to bind */
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_BIND, 0, &browser, T0,
	                     id),
	    UK_ERR_INPUT);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_BIND, fx->op2,
	                     &browser, T0, id),
	    UK_ERR_SCAN_OPERATOR_LEFT);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_BIND, fx->op4,
	                     &browser, T0, id),
	    0);
	/* a WeChat already bound to op1 cannot bind to op4 */
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 1, &v),
	    UK_ERR_SCAN_OPENID_TAKEN);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_NEW, T0 + 2, &v),
	    0);
	assert_int_equal(v.kind, GW_SCAN_BIND);
	assert_int_equal(v.operator_id, fx->op4);
	assert_string_equal(v.operator_login, "op4");
	assert_int_equal(gw_operator_get(fx->g.st, fx->op4, &o), 0);
	assert_string_equal(o.openid, ""); /* not before the confirm */
	assert_int_equal(confirm(fx->g.st, id, &phone, T0 + 3), 0);
	assert_int_equal(gw_operator_get(fx->g.st, fx->op4, &o), 0);
	assert_string_equal(o.openid, OPENID_NEW);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = "
	                     "'admin.operator.bind_openid' AND actor = ?",
	                     "operator:op4"),
	    1);
	/* a bind ticket never gives a session */
	assert_int_equal(gw_scan_claim(fx->g.st, id, &browser, T0 + 4, &op),
	    UK_ERR_SCAN_STATE);
	/* now op4 logs in by scan */
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0 + 10, id),
	    0);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_NEW, T0 + 11, &v),
	    0);
	assert_int_equal(v.operator_id, fx->op4);
	/* the counter unbinds: the same WeChat is refused */
	assert_int_equal(gw_operator_bind_openid(fx->g.st, &testgw_counter,
	                     fx->op4, NULL),
	    0);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0 + 20, id),
	    0);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID_NEW, T0 + 21, &v),
	    UK_ERR_SCAN_NOT_OPERATOR);
}

/* A change committed on one connection wakes store_changed on another
 * within a second. */
static void
test_notify(void **state)
{
	struct fixture *fx = *state;
	struct store *other = NULL;
	struct timespec t0, t1, nap = { 0, 20000000 };
	char id[GW_SCAN_ID_LEN + 1];
	int got = 0;
	double ms;

	assert_int_equal(store_open(fx->g.db.loc, &other), 0);
	assert_int_equal(store_listen(other), 0);
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	while (store_changed(other) > 0) /* whatever came before */
		;
	assert_int_equal(store_changed(other), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(scan_as(fx->g.st, id, &phone, OPENID1, T0 + 1, NULL),
	    0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if ((got = store_changed(other)) != 0 || ms > 1000)
			break;
		nanosleep(&nap, NULL);
	}
	assert_int_equal(got, 1);
	assert_true(ms < 1000);
	store_close(other);
}

/* The whole phone side against wechat-stub: authorize, redirect, code,
 * openid, scanned; the callback's code and state are single use. */
static void
test_callback_stub(void **state)
{
	struct fixture *fx = *state;
	struct gw_wechat_conf c = wconf();
	struct gw_scan_view v;
	char id[GW_SCAN_ID_LEN + 1], redirect[128], full[2048];
	char code[GW_WECHAT_CODE_MAX + 1], st[GW_WECHAT_STATE_LEN + 1];
	char *url = NULL, *hash;
	const char *loc = NULL, *q;
	long status = 0;
	CURL *e;

	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	snprintf(redirect, sizeof(redirect),
	    "https://gjj.example.cn/qr/s/%s/cb", id);
	assert_int_equal(gw_scan_oauth_begin(fx->g.st, &c, id, &phone, redirect,
	                     T0, &url),
	    0);
	hash = strchr(url, '#');
	assert_non_null(hash);
	*hash = '\0';
	snprintf(full, sizeof(full), "%s&stub_openid=%s", url, OPENID1);
	free(url);
	e = curl_easy_init();
	assert_non_null(e);
	curl_easy_setopt(e, CURLOPT_URL, full);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, testtool_discard);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 302);
	curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &loc);
	assert_non_null(loc);
	assert_true(strncmp(loc, redirect, strlen(redirect)) == 0);
	q = loc + strlen(redirect) + 1;
	assert_int_equal(gw_wechat_callback_parse(q, strlen(q), code, st), 0);
	curl_easy_cleanup(e);
	assert_int_equal(gw_scan_callback(fx->g.st, &c, id, &phone, code, st,
	                     T0 + 1, &v),
	    0);
	assert_int_equal(v.state, GW_SCAN_SCANNED);
	assert_int_equal(v.operator_id, fx->op1);
	/* replayed callback */
	assert_int_equal(gw_scan_callback(fx->g.st, &c, id, &phone, code, st,
	                     T0 + 2, &v),
	    UK_ERR_SCAN_OAUTH_STATE);
	/* a fresh state with a spent code */
	assert_int_equal(gw_scan_create(fx->g.st, GW_SCAN_LOGIN, 0, &browser,
	                     T0, id),
	    0);
	begin(fx->g.st, id, &phone, T0, st);
	assert_int_equal(gw_scan_callback(fx->g.st, &c, id, &phone, code, st,
	                     T0 + 2, &v),
	    UK_ERR_WECHAT_CODE);
	assert_int_equal(testgw_int_t(fx->g.st,
	                     "SELECT count(*) FROM audit WHERE event = "
	                     "'scan.refused' AND result = ?",
	                     "UK-4211"),
	    1);
}

static void
test_names(void **state)
{
	enum gw_scan_state s;
	int i;

	(void)state;
	for (i = GW_SCAN_WAITING; i <= GW_SCAN_CLAIMED; i++) {
		assert_int_equal(gw_scan_state_parse(gw_scan_state_name(
		                                         (enum gw_scan_state)i),
		                     &s),
		    0);
		assert_int_equal(s, i);
	}
	assert_string_equal(gw_scan_state_name((enum gw_scan_state)0), "");
	assert_int_equal(gw_scan_state_parse("Waiting", &s), UK_ERR_INPUT);
	assert_true(gw_scan_id_valid("0123456789abcdef0123456789abcdef"));
	assert_false(gw_scan_id_valid("0123456789abcdef0123456789abcdeF"));
	assert_false(gw_scan_id_valid("0123456789abcdef0123456789abcde"));
	assert_false(gw_scan_id_valid(NULL));
}

static void
stub_start(void)
{
	static const char *const args[] = { "--appid", APPID, NULL };
	int port = 9; /* discard: the tests that need the stub fail */

	stub_pid = testtool_start("wechat-stub", args, &port);
	snprintf(stub_base, sizeof(stub_base), "http://127.0.0.1:%d", port);
}

#define BOTH(f) TESTGW_BOTH_WITH(f, setup_db, testgw_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		BOTH(test_lifecycle),
		BOTH(test_foreign),
		BOTH(test_expired),
		BOTH(test_cancelled),
		BOTH(test_slow_down),
		BOTH(test_refusals),
		BOTH(test_oauth_state),
		BOTH(test_bind),
		BOTH(test_notify),
		BOTH(test_callback_stub),
	};
	static const struct gw_pwhash_params small = { 1, 64, 1 };
	int rc;

	if (testgw_begin("scan") != 0)
		return 1;
	gw_model_set_pwhash(&small);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	app_secret = secret_from("stub-app-secret", 15);
	stub_start();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	testtool_stop(stub_pid);
	secret_free(app_secret);
	curl_global_cleanup();
	return testgw_end(rc);
}
