/* agent/doctor_int.h: what the doctor's files share: the list of check results and the checks each file runs. */
#ifndef UK_AGENT_DOCTOR_INT_H
#define UK_AGENT_DOCTOR_INT_H

#include <stddef.h>

#include "common/config.h"

/* Messages operators see today (REQUIREMENTS.md), as the checks cite them. */
#define AG_SEED_COMPONENT "签名失败，请确认签名控件，根证书已被导入"
#define AG_SEED_CANCELLED "签名失败，或者您已经取消签名"
#define AG_SEED_CERT_INFO "错误代码：证书信息获取出错"
#define AG_SEED_CERT_ILLEGAL "证书非法或者不存在"
#define AG_SEED_BROWSER "签名失败，请确认签名控件/根证书已经被导入浏览器"

enum ag_dr_status {
	AG_DR_PASS = 0,
	AG_DR_WARN,
	AG_DR_FAIL,
	AG_DR_SKIP,
};

/* One check's result. The strings behind pointers are static. */
struct ag_dr_check {
	const char *name;
	enum ag_dr_status status;
	char detail[640];
	char token[17];        /* serial of the token concerned, "" if none */
	int code;              /* the UK_ERR_* code it matches, or 0 */
	const char *explains;  /* operators' message(s), or NULL */
	const char *remedy_zh; /* NULL: none */
	const char *remedy_en;
};

/* The report: results in order. */
struct ag_dr {
	struct ag_dr_check *c;
	size_t n, cap;
	int nomem; /* a result was lost for want of memory */
};

/* What a result says beyond its status and detail. */
struct ag_dr_why {
	int code;
	const char *explains;
	const char *remedy_zh;
	const char *remedy_en;
};

/* Appends a result to dr: name and w (may be NULL) are static, token may
 * be NULL, the detail is formatted. Out of memory sets dr->nomem. */
void ag_dr_add(struct ag_dr *dr, const char *name, enum ag_dr_status st,
    const struct ag_dr_why *w, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The status name: "PASS", "WARN", "FAIL", "SKIP". Static. */
const char *ag_dr_status_name(enum ag_dr_status st);

/* Adds "module loads", "token present" and, per token and certificate,
 * "PIN state", "certificate present", "certificate expiry" and
 * "certificate chain" (doctor_token.c). */
void ag_dr_check_token(struct ag_dr *dr, const struct config *cfg);

/* Adds "agent port" for 127.0.0.1:[agent] port (doctor_net.c). */
void ag_dr_check_port(struct ag_dr *dr, const struct config *cfg);

/* Adds "allowed origins"; gateway_url may be NULL (doctor_net.c). */
void ag_dr_check_origins(struct ag_dr *dr, const struct config *cfg,
    const char *gateway_url);

/* Adds "clock" against gateway_url, or SKIP when it is NULL
 * (doctor_net.c). */
void ag_dr_check_clock(struct ag_dr *dr, const char *gateway_url);

#endif
