/* gateway/respond.c: the gateway's own answers: catalogue errors as JSON or an HTML page with their audit rows, JSON and byte answers, security headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/log.h"
#include "gateway/metrics.h"
#include "gateway/respond.h"

int
gw_lang_en(const char *al)
{
	if (al == NULL)
		return 0;
	while (*al == ' ' || *al == '\t')
		al++;
	return strncasecmp(al, "en", 2) == 0 &&
	    (al[2] == '\0' || al[2] == '-' || al[2] == ',' || al[2] == ';' ||
	        al[2] == ' ');
}

int
gw_accepts_html(const char *accept)
{
	return accept != NULL && strstr(accept, "text/html") != NULL;
}

void
gw_html_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;
	const char *rep;

	if (size == 0)
		return;
	for (; s != NULL && *s != '\0'; s++) {
		char one[2] = { *s, '\0' };
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			rep = one;
			break;
		}
		if (o + strlen(rep) >= size)
			break;
		memcpy(out + o, rep, strlen(rep));
		o += strlen(rep);
	}
	out[o] = '\0';
}

void
gw_respond_headers(struct gw_server *s, struct gw_req *rq,
    struct MHD_Response *r)
{
	if (rq != NULL && rq->id[0] != '\0')
		MHD_add_response_header(r, "X-Request-Id", rq->id);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "Content-Security-Policy",
	    "frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (s != NULL && s->https)
		MHD_add_response_header(r, "Strict-Transport-Security",
		    "max-age=31536000");
}

enum MHD_Result
gw_respond_bytes(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, unsigned int status, const char *ctype, const void *body,
    size_t len, const char *const *hdrs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t i;

	if ((r = MHD_create_response_from_buffer(len,
	         (void *)(len > 0 ? body : ""), MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	if (ctype != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	gw_respond_headers(s, rq, r);
	for (i = 0; hdrs != NULL && hdrs[i] != NULL && hdrs[i + 1] != NULL;
	     i += 2)
		MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	if (rq != NULL)
		rq->status = status;
	return ret;
}

enum MHD_Result
gw_respond_json(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, unsigned int status, json_t *body,
    const char *const *hdrs)
{
	enum MHD_Result ret;
	char *text;

	if (body == NULL)
		return MHD_NO;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return MHD_NO;
	ret = gw_respond_bytes(s, c, rq, status,
	    "application/json; charset=utf-8", text, strlen(text), hdrs);
	free(text);
	return ret;
}

static enum MHD_Result
html_page(struct gw_server *s, struct MHD_Connection *c, struct gw_req *rq,
    unsigned int status, const struct uk_error_info *e, const char *msg,
    const char *event, const char *const *hdrs)
{
	char m[1024], rem[1024], page[4096];
	int n;

	gw_html_escape(msg, m, sizeof(m));
	gw_html_escape(rq->en ? e->remedy_en : e->remedy_zh, rem, sizeof(rem));
	n = snprintf(page, sizeof(page),
	    "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>%s</title></head>\n<body><main>"
	    "<h1>%s</h1>\n<p>%s</p>\n<p><small>%s %s%s%s &middot; %s %s"
	    "</small></p>\n<p><a href=\"/\">%s</a></p></main></body></html>\n",
	    rq->en ? "en" : "zh-CN", m, m, rem, rq->en ? "Code" : "错误代码",
	    e->id, event != NULL ? (rq->en ? " · event " : " · 事件号 ") : "",
	    event != NULL ? event : "", rq->en ? "request" : "请求", rq->id,
	    rq->en ? "Home" : "返回首页");
	if (n < 0 || (size_t)n >= sizeof(page))
		n = (int)strlen(page);
	return gw_respond_bytes(s, c, rq, status, "text/html; charset=utf-8",
	    page, (size_t)n, hdrs);
}

enum MHD_Result
gw_respond_error(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, const struct gw_errans *e)
{
	const struct uk_error_info *info = uk_error_info(e->code);
	unsigned int status =
	    e->status != 0 ? e->status : (unsigned int)info->http_status;
	char event_id[33] = "";
	const char *msg;
	struct store *st;
	json_t *err, *body;

	if (e->event != NULL && s != NULL &&
	    (st = gw_server_store(s)) != NULL) {
		struct audit_event ev;
		int r;

		memset(&ev, 0, sizeof(ev));
		ev.event = e->event;
		ev.actor =
		    rq->principal[0] != '\0' && strcmp(rq->principal, "-") != 0
		    ? rq->principal
		    : NULL;
		ev.subject = e->subject;
		ev.detail = e->detail;
		ev.ip = rq->ip[0] != '\0' ? rq->ip : NULL;
		ev.user_agent = rq->ua;
		ev.result = info->id;
		if ((r = audit_append_ex(st, &ev, event_id)) != 0) {
			uk_log(UK_LOG_ERROR,
			    "rid=%s audit row for %s not written: %s", rq->id,
			    e->event, uk_error_id(r));
			event_id[0] = '\0';
		}
	}
	if (rq->en)
		msg = e->msg_en != NULL ? e->msg_en : info->en;
	else
		msg = e->msg_zh != NULL ? e->msg_zh : info->zh;
	if (rq->html && rq->kind == GW_ROUTE_PROXY) {
		json_decref(e->extra);
		return html_page(s, c, rq, status, info, msg,
		    event_id[0] != '\0' ? event_id : NULL, e->hdrs);
	}
	err = json_pack("{s:s,s:s,s:s}", "code", info->id, "message", msg,
	    "remedy", rq->en ? info->remedy_en : info->remedy_zh);
	if (err != NULL && event_id[0] != '\0')
		json_object_set_new(err, "event", json_string(event_id));
	/* the message operators know from today's halls, when there is one */
	if (err != NULL && info->seed != NULL)
		json_object_set_new(err, "seed", json_string(info->seed));
	if (err != NULL && e->extra != NULL)
		json_object_update(err, e->extra);
	json_decref(e->extra);
	if (err == NULL || (body = json_pack("{s:o}", "error", err)) == NULL)
		return MHD_NO;
	return gw_respond_json(s, c, rq, status, body, e->hdrs);
}

enum MHD_Result
gw_respond_code(struct gw_server *s, struct MHD_Connection *c,
    struct gw_req *rq, int code)
{
	struct gw_errans e;

	memset(&e, 0, sizeof(e));
	e.code = code;
	return gw_respond_error(s, c, rq, &e);
}
