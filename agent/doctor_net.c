/* agent/doctor_net.c: ukey-agent doctor's network layer: the agent's port, allowed origins, the clock against the gateway. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "agent/conf.h"
#include "agent/doctor.h"
#include "agent/doctor_int.h"
#include "common/errors.h"

/* Largest /v1/status answer read. */
#define STATUS_MAX (64 * 1024)
#define PORT_CONNECT_MS 2000L
#define PORT_TIMEOUT_MS 4000L
#define GATEWAY_TIMEOUT_MS 5000L

static const struct ag_dr_why why_not_running = {
	UK_ERR_LOGIN_SIGN_COMPONENT,
	AG_SEED_BROWSER,
	"启动 ukey-agent（登录桌面时应自动启动）；仍不行请重新安装 ukey-agent",
	"Start ukey-agent (it should start when you log in to the desktop); "
	"if it does not, reinstall it",
};

static const struct ag_dr_why why_port_taken = {
	UK_ERR_LOGIN_SIGN_COMPONENT,
	AG_SEED_BROWSER,
	"另一个程序占用了 ukey-agent 的端口：关闭该程序，或为 ukey-agent "
	"换一个端口（配置 port）",
	"Another program holds ukey-agent's port: close it, or give "
	"ukey-agent another port ([agent] port)",
};

static const struct ag_dr_why why_other_config = {
	UK_ERR_POLICY_DENIED,
	AG_SEED_BROWSER,
	"正在运行的 ukey-agent 使用的是另一份配置：修改配置后重启 ukey-agent",
	"The running ukey-agent uses another configuration: restart it after "
	"changing the configuration",
};

static const struct ag_dr_why why_origins = {
	UK_ERR_LOGIN_SIGN_COMPONENT,
	AG_SEED_BROWSER,
	"在配置 allowed_origins 中写入登录页面的地址，如 "
	"https://hall.example.gov.cn（不带路径）",
	"Put the login page's origin in [agent] allowed_origins, e.g. "
	"https://hall.example.gov.cn (no path)",
};

static const struct ag_dr_why why_origins_http = {
	0,
	NULL,
	"登录页面应使用 https 地址：在 allowed_origins 中改用 https://…",
	"Login pages should be served over https: use https://… origins in "
	"[agent] allowed_origins",
};

static const struct ag_dr_why why_gateway = {
	0,
	NULL,
	"检查网络连接和网关地址；用浏览器打开该地址试试",
	"Check the network and the gateway's address; try opening it in a "
	"browser",
};

static const struct ag_dr_why why_clock = {
	0,
	NULL,
	"把电脑的日期、时间和时区（北京时间）设为自动同步",
	"Set the computer's date, time and time zone (China Standard Time) "
	"to synchronise automatically",
};

/* A growing buffer for a response body, bounded by STATUS_MAX. */
struct body {
	char *b;
	size_t n;
	int over;
};

static size_t
body_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *bd = arg;
	size_t len = size * nmemb;
	char *nb;

	if (bd->n + len > STATUS_MAX) {
		bd->over = 1;
		return 0;
	}
	if ((nb = realloc(bd->b, bd->n + len + 1)) == NULL)
		return 0;
	bd->b = nb;
	memcpy(bd->b + bd->n, p, len);
	bd->n += len;
	bd->b[bd->n] = '\0';
	return len;
}

void
ag_dr_check_port(struct ag_dr *dr, const struct config *cfg)
{
	long long port = config_int(cfg, "agent", "port");
	struct ag_list origins = { NULL, 0 };
	struct curl_slist *hdr = NULL, *h;
	struct body bd = { NULL, 0, 0 };
	json_t *j = NULL, *ver;
	char url[64], origin[AG_ORIGIN_MAX + 16];
	CURL *c = NULL;
	CURLcode cc;
	long code = 0;

	if (ag_config_list(cfg, "allowed_origins", &origins) != 0 ||
	    (c = curl_easy_init()) == NULL) {
		dr->nomem = 1;
		goto out;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%lld/v1/status", port);
	if (origins.n > 0) {
		snprintf(origin, sizeof(origin), "Origin: %s", origins.v[0]);
		if ((h = curl_slist_append(hdr, origin)) == NULL) {
			dr->nomem = 1;
			goto out;
		}
		hdr = h;
	}
	if ((h = curl_slist_append(hdr, "Accept: application/json")) == NULL) {
		dr->nomem = 1;
		goto out;
	}
	hdr = h;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, PORT_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, PORT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bd);
	cc = curl_easy_perform(c);
	if (cc == CURLE_COULDNT_CONNECT) {
		ag_dr_add(dr, "agent port", AG_DR_FAIL, &why_not_running, NULL,
		    "nothing listens on 127.0.0.1:%lld: ukey-agent is not "
		    "running",
		    port);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		ag_dr_add(dr, "agent port", AG_DR_FAIL, &why_port_taken, NULL,
		    "127.0.0.1:%lld accepts connections but does not answer "
		    "like ukey-agent",
		    port);
		goto out;
	}
	if (cc != CURLE_OK && !bd.over) {
		ag_dr_add(dr, "agent port", AG_DR_FAIL, &why_port_taken, NULL,
		    "127.0.0.1:%lld does not answer like ukey-agent (%s)", port,
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code == 403) {
		ag_dr_add(dr, "agent port", AG_DR_WARN, &why_other_config, NULL,
		    "the agent on 127.0.0.1:%lld refuses origin %s: it runs "
		    "with another configuration",
		    port, origins.n > 0 ? origins.v[0] : "(none)");
		goto out;
	}
	/* The agent answers {"appVersion":"ukey-agent/…", …}. */
	if (code == 200 && !bd.over && bd.b != NULL &&
	    (j = json_loadb(bd.b, bd.n, 0, NULL)) != NULL &&
	    json_is_object(j) &&
	    json_is_string(ver = json_object_get(j, "appVersion")) &&
	    strncmp(json_string_value(ver), "ukey-agent/", 11) == 0) {
		ag_dr_add(dr, "agent port", AG_DR_PASS, NULL, NULL,
		    "%s answers on 127.0.0.1:%lld", json_string_value(ver),
		    port);
		goto out;
	}
	ag_dr_add(dr, "agent port", AG_DR_FAIL, &why_port_taken, NULL,
	    "127.0.0.1:%lld answers HTTP %ld to GET /v1/status, not like "
	    "ukey-agent: another program uses the port",
	    port, code);
out:
	json_decref(j);
	free(bd.b);
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	ag_list_free(&origins);
}

/* The origin (scheme://host[:port], lower case, default port left out) of
 * url into out. Returns 0 or -1. */
static int
origin_of(const char *url, char *out, size_t size)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *p;
	int r = -1, n;

	if ((u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	n = snprintf(out, size, "%s://%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "");
	if (n < 0 || (size_t)n >= size)
		goto out;
	for (p = out; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

/* Whether an http:// origin names this computer (allowed for tests and
 * a gateway on the same machine). */
static int
loopback_origin(const char *o)
{
	const char *h = o + 7;

	return strncasecmp(h, "localhost", 9) == 0 ||
	    strncmp(h, "127.0.0.1", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

void
ag_dr_check_origins(struct ag_dr *dr, const struct config *cfg,
    const char *gateway_url)
{
	struct ag_list l = { NULL, 0 };
	enum ag_dr_status st = AG_DR_PASS;
	const struct ag_dr_why *w = &why_origins_http;
	char problems[500] = "", all[400] = "", gw[AG_ORIGIN_MAX + 1];
	size_t i, n;

	if (ag_config_list(cfg, "allowed_origins", &l) != 0) {
		dr->nomem = 1;
		goto out;
	}
	if (l.n == 0) {
		ag_dr_add(dr, "allowed origins", AG_DR_FAIL, &why_origins, NULL,
		    "[agent] allowed_origins is empty: no login page may call "
		    "the agent");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		n = strlen(all);
		if (n + 1 < sizeof(all))
			snprintf(all + n, sizeof(all) - n, "%s%s",
			    n > 0 ? " " : "", l.v[i]);
		n = strlen(problems);
		if (ag_origin_valid(l.v[i]) != 0) {
			st = AG_DR_FAIL;
			w = &why_origins;
			snprintf(problems + n, sizeof(problems) - n,
			    "%s%s is not an origin (https://host[:port])",
			    n > 0 ? "; " : "", l.v[i]);
		} else if (strncasecmp(l.v[i], "https://", 8) != 0 &&
		    !loopback_origin(l.v[i])) {
			if (st == AG_DR_PASS)
				st = AG_DR_WARN;
			snprintf(problems + n, sizeof(problems) - n,
			    "%s%s is not https", n > 0 ? "; " : "", l.v[i]);
		}
	}
	if (gateway_url != NULL) {
		n = strlen(problems);
		if (origin_of(gateway_url, gw, sizeof(gw)) != 0) {
			if (st == AG_DR_PASS)
				st = AG_DR_WARN;
			w = &why_origins;
			snprintf(problems + n, sizeof(problems) - n,
			    "%sthe gateway URL %s cannot be parsed",
			    n > 0 ? "; " : "", gateway_url);
		} else if (!ag_origin_allowed(&l, gw)) {
			if (st == AG_DR_PASS)
				st = AG_DR_WARN;
			w = &why_origins;
			snprintf(problems + n, sizeof(problems) - n,
			    "%sthe gateway's origin %s is not among them",
			    n > 0 ? "; " : "", gw);
		}
	}
	if (st == AG_DR_PASS)
		ag_dr_add(dr, "allowed origins", AG_DR_PASS, NULL, NULL, "%s",
		    all);
	else
		ag_dr_add(dr, "allowed origins", st, w, NULL,
		    "%s (allowed: %s)", problems, all);
out:
	ag_list_free(&l);
}

/* Keeps the value of a Date header line. */
static size_t
date_header(char *p, size_t size, size_t nmemb, void *arg)
{
	char *date = arg;
	size_t len = size * nmemb, n;

	if (len > 5 && strncasecmp(p, "date:", 5) == 0) {
		p += 5;
		len -= 5;
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		n = len;
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
			n--;
		if (n > 63)
			n = 63;
		memcpy(date, p, n);
		date[n] = '\0';
	}
	return size * nmemb;
}

void
ag_dr_check_clock(struct ag_dr *dr, const char *gateway_url)
{
	char date[64] = "";
	time_t t0, t1, gw;
	long long skew, mag;
	CURL *c = NULL;
	CURLcode cc;

	if (gateway_url == NULL) {
		ag_dr_add(dr, "clock", AG_DR_SKIP, NULL, NULL,
		    "no gateway URL (--gateway or [agent] gateway_url)");
		return;
	}
	if ((c = curl_easy_init()) == NULL) {
		dr->nomem = 1;
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, gateway_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, GATEWAY_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, GATEWAY_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, date_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, date);
	t0 = time(NULL);
	cc = curl_easy_perform(c);
	t1 = time(NULL);
	if (cc != CURLE_OK) {
		ag_dr_add(dr, "clock", AG_DR_FAIL, &why_gateway, NULL,
		    "cannot reach the gateway at %s: %s", gateway_url,
		    curl_easy_strerror(cc));
		goto out;
	}
	if (date[0] == '\0' || (gw = curl_getdate(date, NULL)) == -1) {
		ag_dr_add(dr, "clock", AG_DR_WARN, &why_gateway, NULL,
		    "the gateway at %s sent no usable Date header",
		    gateway_url);
		goto out;
	}
	/* The gateway stamped its answer somewhere between t0 and t1. */
	skew =
	    (long long)t0 + ((long long)t1 - (long long)t0) / 2 - (long long)gw;
	mag = skew < 0 ? -skew : skew;
	if (mag > AG_DOCTOR_CLOCK_WARN_S)
		ag_dr_add(dr, "clock",
		    mag > AG_DOCTOR_CLOCK_FAIL_S ? AG_DR_FAIL : AG_DR_WARN,
		    &why_clock, NULL,
		    "this computer's clock is %lld s %s the gateway's (Date: "
		    "%s)",
		    mag, skew > 0 ? "ahead of" : "behind", date);
	else
		ag_dr_add(dr, "clock", AG_DR_PASS, NULL, NULL,
		    "within %lld s of the gateway's (Date: %s)", mag, date);
out:
	curl_easy_cleanup(c);
}
