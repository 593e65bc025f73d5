/* agent/doctor_token.c: ukey-agent doctor's token layer: module, token, PIN state, certificates, expiry, chain to trusted_ca. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "agent/conf.h"
#include "agent/doctor.h"
#include "agent/doctor_int.h"
#include "agent/guard.h"
#include "certs/verify.h"
#include "common/errors.h"
#include "pkcs11/token.h"

/* The checks below the token, skipped together. */
static const char *const per_token[] = { "PIN state", "certificate present",
	"certificate expiry", "certificate chain", NULL };

static const struct ag_dr_why why_module = {
	UK_ERR_TOKEN_MODULE,
	AG_SEED_COMPONENT,
	"重新安装UKey驱动；确认配置中的 module 是驱动的 PKCS#11 库文件",
	"Reinstall the UKey's driver; check that [agent] module is its "
	"PKCS#11 library",
};

static const struct ag_dr_why why_module_allow = {
	UK_ERR_TOKEN_MODULE_NOT_ALLOWED,
	AG_SEED_COMPONENT,
	"在配置 module_allowlist 中加入该驱动库的完整路径",
	"Add the module's full path to [agent] module_allowlist",
};

static const struct ag_dr_why why_token = {
	UK_ERR_TOKEN_NOT_PRESENT,
	AG_SEED_CANCELLED,
	"插入UKey；已插入仍检测不到时，拔出重插或重新安装UKey驱动",
	"Insert the UKey; if it is in and still not seen, re-insert it or "
	"reinstall its driver",
};

static const struct ag_dr_why why_blank = {
	UK_ERR_TOKEN_NOT_PRESENT,
	AG_SEED_CANCELLED,
	"这是一把空白UKey：到缴存银行柜面办理证书",
	"This is a blank UKey: have a certificate issued at the bank counter",
};

static const struct ag_dr_why why_locked = {
	UK_ERR_TOKEN_PIN_LOCKED,
	NULL,
	"连续6次输错PIN码，UKey已锁定：持《网上业务用户变更申请表》到缴存银行"
	"柜面解锁（重置PIN码）或换发证书",
	"Six wrong PINs locked the UKey: take the user change application "
	"form to the bank counter to unblock it (new PIN) or reissue the "
	"certificate",
};

static const struct ag_dr_why why_guard = {
	UK_ERR_TOKEN_PIN_LOCKED,
	NULL,
	"本机的PIN码错误计数记录已损坏，为安全起见按已锁定处理：联系服务台",
	"The agent's wrong-PIN record for this key is damaged and counts as "
	"locked: call the helpdesk",
};

static const struct ag_dr_why why_pin_low = {
	UK_ERR_TOKEN_PIN_INCORRECT,
	NULL,
	"输入前仔细核对PIN码；连续输错6次UKey将被锁定。忘记PIN码请到缴存银行柜"
	"面"
	"重置",
	"Check the PIN carefully before typing it; six wrong PINs in a row "
	"lock the UKey. A forgotten PIN is reset at the bank counter",
};

static const struct ag_dr_why why_pin_change = {
	0,
	NULL,
	"首次使用须修改PIN码：到缴存银行柜面或用UKey管理工具修改",
	"The PIN must be changed before use: change it at the bank counter "
	"or with the UKey's management tool",
};

static const struct ag_dr_why why_pin_uninit = {
	UK_ERR_TOKEN_PIN_LOCKED,
	NULL,
	"UKey的用户PIN码尚未设置：到缴存银行柜面办理",
	"The UKey's user PIN was never set: go to the bank counter",
};

static const struct ag_dr_why why_objects = {
	UK_ERR_LOGIN_CERT_INFO,
	AG_SEED_CERT_INFO,
	"拔出UKey后重新插入；仍无法读取时UKey可能已损坏，到缴存银行柜面换发",
	"Re-insert the UKey; if it still cannot be read it may be damaged: "
	"have it replaced at the bank counter",
};

static const struct ag_dr_why why_no_cert = {
	UK_ERR_TOKEN_KEY_NOT_FOUND,
	AG_SEED_CANCELLED " / " AG_SEED_CERT_ILLEGAL,
	"确认插入的是本单位的证书UKey；UKey中确实没有证书时到缴存银行柜面换发",
	"Make sure it is the unit's certificate UKey; if it holds no "
	"certificate, have one issued at the bank counter",
};

static const struct ag_dr_why why_damaged = {
	UK_ERR_LOGIN_CERT_INFO,
	AG_SEED_CERT_INFO " / " AG_SEED_CERT_ILLEGAL,
	"证书已损坏：到缴存银行柜面换发证书",
	"The certificate is damaged: have it reissued at the bank counter",
};

static const struct ag_dr_why why_expired = {
	UK_ERR_CERT_EXPIRED,
	AG_SEED_CERT_ILLEGAL " / " AG_SEED_CERT_INFO,
	"证书已过期：持《网上业务用户变更申请表》到缴存银行柜面换发证书",
	"The certificate has expired: take the user change application form "
	"to the bank counter to have it reissued",
};

static const struct ag_dr_why why_not_yet = {
	UK_ERR_CERT_NOT_YET_VALID,
	AG_SEED_CERT_ILLEGAL,
	"检查电脑的日期和时间；时间正确时证书尚未生效，生效后再登录",
	"Check the computer's date and time; if they are right, the "
	"certificate is not valid yet: log in once it is",
};

static const struct ag_dr_why why_expiring = {
	UK_ERR_CERT_EXPIRED,
	AG_SEED_CERT_ILLEGAL,
	"证书即将过期：到期前到缴存银行柜面换发证书",
	"The certificate expires soon: have it reissued at the bank counter "
	"before then",
};

static const struct ag_dr_why why_untrusted = {
	UK_ERR_CERT_UNTRUSTED,
	AG_SEED_COMPONENT,
	"证书不是本中心信任的机构签发：确认选择了本单位的证书；中心更换根证书后"
	"请更新"
	"配置 trusted_ca；仍不行请到缴存银行柜面换发证书",
	"The certificate was not issued by a CA the centre trusts: check that "
	"it is the unit's certificate; after the centre changed its root, "
	"update [agent] trusted_ca; otherwise have it reissued at the bank "
	"counter",
};

static const struct ag_dr_why why_cert_bad = {
	UK_ERR_CERT_LEAF,
	AG_SEED_CERT_ILLEGAL,
	"证书不能用于登录（用途或格式不符）：确认选择了登录证书，或到缴存银行柜"
	"面换发",
	"The certificate cannot be used to log in (purpose or form): choose "
	"the login certificate, or have it reissued at the bank counter",
};

static const struct ag_dr_why why_trusted_ca = {
	UK_ERR_CONFIG_VALUE,
	AG_SEED_COMPONENT,
	"配置 trusted_ca 应指向中心根证书（PEM）文件：重新安装或修正路径",
	"[agent] trusted_ca must name the centre's CA certificates (PEM): "
	"reinstall them or fix the path",
};

static void
skip_rest(struct ag_dr *dr, const char *const *names, const char *why)
{
	for (; *names != NULL; names++)
		ag_dr_add(dr, *names, AG_DR_SKIP, NULL, NULL, "%s", why);
}

/* ASN1_TIME to time_t; 0 when it cannot be read. */
static time_t
asn1_time_t(const ASN1_TIME *a)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static void
day_text(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d", &tm) == 0)
		snprintf(out, size, "?");
}

/* The PIN state of one token, from its flags and the agent's guard. */
static void
check_pin(struct ag_dr *dr, const struct config *cfg, struct p11_ctx *ctx,
    const struct p11_token_info *t)
{
	struct ag_guard_state gs = { 0, 0, AG_GUARD_TRIES };
	struct p11_token *tok = NULL;
	struct ag_guard *g = NULL;
	struct p11_status st;
	struct stat sb;
	json_t *pin = NULL;
	const char *state, *source;
	char dir[PATH_MAX];
	int left;

	st = t->status;
	if (p11_token_open(ctx, t->serial, &tok) == 0)
		p11_token_status(tok, &st);
	/* The guard's directory is only read, never made, by doctor. */
	if (ag_config_state_dir(cfg, dir, sizeof(dir)) == 0 &&
	    stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    ag_guard_new(dir, &g) == 0 &&
	    ag_guard_read(g, t->serial, AG_PIN_USER, &gs) != 0) {
		ag_dr_add(dr, "PIN state", AG_DR_FAIL, &why_guard, t->serial,
		    "[%s] the agent's wrong-PIN record in %s cannot be read",
		    t->label, dir);
		goto out;
	}
	if ((pin = ag_guard_pin_json(&gs, &st, AG_PIN_USER)) == NULL) {
		dr->nomem = 1;
		goto out;
	}
	state = json_string_value(json_object_get(pin, "state"));
	source = json_string_value(json_object_get(pin, "source"));
	left = (int)json_integer_value(json_object_get(pin, "retriesLeft"));
	if (state == NULL || source == NULL) {
		dr->nomem = 1;
		goto out;
	}
	if (strcmp(state, "LOCKED") == 0)
		ag_dr_add(dr, "PIN state", AG_DR_FAIL, &why_locked, t->serial,
		    "[%s] PIN locked (as the %s says): no tries left", t->label,
		    strcmp(source, "token") == 0 ? "UKey" : "agent");
	else if (strcmp(state, "NOT_INITIALISED") == 0)
		ag_dr_add(dr, "PIN state", AG_DR_FAIL, &why_pin_uninit,
		    t->serial, "[%s] the user PIN is not set", t->label);
	else if (strcmp(state, "FINAL_TRY") == 0 ||
	    strcmp(state, "COUNT_LOW") == 0)
		ag_dr_add(dr, "PIN state", AG_DR_WARN, &why_pin_low, t->serial,
		    "[%s] %s: %d %s left (还可尝试%d次)", t->label, state, left,
		    left == 1 ? "try" : "tries", left);
	else if (strcmp(state, "TO_BE_CHANGED") == 0)
		ag_dr_add(dr, "PIN state", AG_DR_WARN, &why_pin_change,
		    t->serial, "[%s] the PIN must be changed", t->label);
	else
		ag_dr_add(dr, "PIN state", AG_DR_PASS, NULL, t->serial,
		    "[%s] PIN usable, %d tries left", t->label, left);
out:
	json_decref(pin);
	ag_guard_free(g);
	p11_token_free(tok);
}

/* Loads trusted_ca once for the run; on failure *v stays NULL and err
 * says why. */
static void
verifier_get(struct ag_dr *dr, const char *path, struct ca_verifier **v,
    int *tried, char *err, size_t errlen)
{
	int r;

	if (*tried)
		return;
	*tried = 1;
	if ((*v = ca_verifier_new()) == NULL) {
		dr->nomem = 1;
		snprintf(err, errlen, "out of memory");
		return;
	}
	if ((r = ca_verifier_load_file(*v, CA_LOAD_ANCHORS, path)) != 0) {
		snprintf(err, errlen, "%s: %s", uk_error_id(r),
		    *ca_verifier_errmsg(*v) != '\0' ? ca_verifier_errmsg(*v)
		                                    : uk_strerror(r));
		ca_verifier_free(*v);
		*v = NULL;
	}
}

/* Expiry and chain of one certificate. */
static void
check_cert(struct ag_dr *dr, const struct config *cfg,
    const struct p11_token_info *t, const struct p11_cert_info *ci,
    struct ca_verifier **v, int *v_tried, char *v_err, size_t v_errlen)
{
	struct ca_verify_result res;
	const unsigned char *p = ci->der;
	const char *ca = config_str(cfg, "agent", "trusted_ca");
	X509 *x = NULL, *anchor;
	char day[32], name[200], aname[200];
	time_t now = time(NULL), nb, na;
	long days;
	int r;

	ca_verify_result_init(&res);
	snprintf(name, sizeof(name), "%s", ci->subject);
	if ((x = d2i_X509(NULL, &p, (long)ci->der_len)) == NULL ||
	    p != ci->der + ci->der_len) {
		ag_dr_add(dr, "certificate expiry", AG_DR_FAIL, &why_damaged,
		    t->serial, "[%s] certificate %s (id %s) cannot be parsed",
		    t->label, name, ci->id_hex);
		ag_dr_add(dr, "certificate chain", AG_DR_SKIP, NULL, t->serial,
		    "[%s] the certificate cannot be parsed", t->label);
		goto out;
	}
	nb = asn1_time_t(X509_get0_notBefore(x));
	na = asn1_time_t(X509_get0_notAfter(x));
	if (nb == 0 || na == 0) {
		ag_dr_add(dr, "certificate expiry", AG_DR_FAIL, &why_damaged,
		    t->serial, "[%s] %s: unreadable validity dates", t->label,
		    name);
	} else if (now < nb) {
		day_text(nb, day, sizeof(day));
		ag_dr_add(dr, "certificate expiry", AG_DR_FAIL, &why_not_yet,
		    t->serial, "[%s] %s: not valid before %s", t->label, name,
		    day);
	} else if (now > na) {
		day_text(na, day, sizeof(day));
		days = (long)((now - na) / 86400);
		ag_dr_add(dr, "certificate expiry", AG_DR_FAIL, &why_expired,
		    t->serial, "[%s] %s: expired on %s (%ld day%s ago)",
		    t->label, name, day, days, days == 1 ? "" : "s");
	} else {
		day_text(na, day, sizeof(day));
		/* Whole days left, a part of a day counting as one. */
		days = (long)((na - now + 86399) / 86400);
		if (days <= AG_DOCTOR_EXPIRY_WARN_DAYS)
			ag_dr_add(dr, "certificate expiry", AG_DR_WARN,
			    &why_expiring, t->serial,
			    "[%s] %s: expires in %ld day%s (%s)", t->label,
			    name, days, days == 1 ? "" : "s", day);
		else
			ag_dr_add(dr, "certificate expiry", AG_DR_PASS, NULL,
			    t->serial, "[%s] %s: valid until %s (%ld days)",
			    t->label, name, day, days);
	}

	if (ca == NULL || *ca == '\0') {
		ag_dr_add(dr, "certificate chain", AG_DR_SKIP, NULL, t->serial,
		    "[%s] [agent] trusted_ca is not set", t->label);
		goto out;
	}
	verifier_get(dr, ca, v, v_tried, v_err, v_errlen);
	if (*v == NULL) {
		ag_dr_add(dr, "certificate chain", AG_DR_FAIL, &why_trusted_ca,
		    t->serial, "[%s] trusted_ca %s cannot be used: %s",
		    t->label, ca, v_err);
		goto out;
	}
	/* Whether the chain holds is a question apart from the leaf's dates
	 * (the expiry line answers that): judge it inside its validity. */
	if (nb != 0 && na != 0 && (now < nb || now > na))
		ca_verifier_set_time(*v, now < nb ? nb : na);
	else
		ca_verifier_set_time(*v, 0);
	r = ca_verify(*v, x, NULL, &res);
	if (r == 0) {
		anchor = sk_X509_value(res.chain, sk_X509_num(res.chain) - 1);
		X509_NAME_oneline(X509_get_subject_name(anchor), aname,
		    sizeof(aname));
		ag_dr_add(dr, "certificate chain", AG_DR_PASS, NULL, t->serial,
		    "[%s] %s chains to %s", t->label, name, aname);
	} else if (r == UK_ERR_CERT_UNTRUSTED || r == UK_ERR_CERT_CHAIN ||
	    r == UK_ERR_CERT_SIGNATURE) {
		ag_dr_add(dr, "certificate chain", AG_DR_FAIL, &why_untrusted,
		    t->serial, "[%s] %s does not chain to %s: %s", t->label,
		    name, ca, res.message);
	} else if (r == UK_ERR_NOMEM) {
		dr->nomem = 1;
	} else {
		ag_dr_add(dr, "certificate chain", AG_DR_FAIL, &why_cert_bad,
		    t->serial, "[%s] %s: %s: %s", t->label, name,
		    uk_error_id(r), res.message);
	}
out:
	ca_verify_result_clear(&res);
	X509_free(x);
}

/* The per-token checks of one initialised token. */
static void
check_one_token(struct ag_dr *dr, const struct config *cfg, struct p11_ctx *ctx,
    const struct p11_token_info *t, struct ca_verifier **v, int *v_tried,
    char *v_err, size_t v_errlen)
{
	char subjects[400] = "";
	size_t i, n;

	check_pin(dr, cfg, ctx, t);
	if (t->error != 0) {
		ag_dr_add(dr, "certificate present", AG_DR_FAIL, &why_objects,
		    t->serial, "[%s] the UKey's objects cannot be read (%s)",
		    t->label, uk_error_id(t->error));
		skip_rest(dr, per_token + 2, "the UKey cannot be read");
		return;
	}
	if (t->ncerts == 0) {
		ag_dr_add(dr, "certificate present", AG_DR_FAIL, &why_no_cert,
		    t->serial, "[%s] no certificate on the UKey", t->label);
		skip_rest(dr, per_token + 2, "no certificate");
		return;
	}
	for (i = 0; i < t->ncerts; i++) {
		n = strlen(subjects);
		if (n + 1 < sizeof(subjects))
			snprintf(subjects + n, sizeof(subjects) - n, "%s%s",
			    n > 0 ? "; " : "", t->certs[i].subject);
	}
	ag_dr_add(dr, "certificate present", AG_DR_PASS, NULL, t->serial,
	    "[%s] %zu certificate%s: %s", t->label, t->ncerts,
	    t->ncerts == 1 ? "" : "s", subjects);
	for (i = 0; i < t->ncerts; i++)
		check_cert(dr, cfg, t, &t->certs[i], v, v_tried, v_err,
		    v_errlen);
}

void
ag_dr_check_token(struct ag_dr *dr, const struct config *cfg)
{
	const char *module = config_str(cfg, "agent", "module");
	struct ag_list allow = { NULL, 0 };
	struct p11_token_list *list = NULL;
	struct p11_ctx *ctx = NULL;
	struct ca_verifier *v = NULL;
	struct stat sb;
	char names[400] = "", one[80], v_err[300] = "";
	size_t i, n = 0, blank = 0, len;
	int r, v_tried = 0;

	if (module == NULL || *module == '\0') {
		ag_dr_add(dr, "module loads", AG_DR_FAIL, &why_module, NULL,
		    "[agent] module is not set");
		goto skip;
	}
	if (stat(module, &sb) != 0) {
		ag_dr_add(dr, "module loads", AG_DR_FAIL, &why_module, NULL,
		    "%s: %s", module, strerror(errno));
		goto skip;
	}
	if (ag_config_list(cfg, "module_allowlist", &allow) != 0) {
		dr->nomem = 1;
		goto out;
	}
	r = p11_ctx_new(module, (const char *const *)allow.v, &ctx);
	if (r == UK_ERR_TOKEN_MODULE_NOT_ALLOWED) {
		ag_dr_add(dr, "module loads", AG_DR_FAIL, &why_module_allow,
		    NULL, "%s is not on [agent] module_allowlist", module);
		goto skip;
	} else if (r == UK_ERR_NOMEM) {
		dr->nomem = 1;
		goto out;
	} else if (r != 0) {
		ag_dr_add(dr, "module loads", AG_DR_FAIL, &why_module, NULL,
		    "%s cannot be loaded or initialised (%s; the log says "
		    "why)",
		    module, uk_error_id(r));
		goto skip;
	}
	ag_dr_add(dr, "module loads", AG_DR_PASS, NULL, NULL, "%s loaded",
	    p11_ctx_module(ctx));

	if ((r = p11_list(ctx, &list)) != 0) {
		ag_dr_add(dr, "token present", AG_DR_FAIL, &why_token, NULL,
		    "the module cannot list its tokens (%s, %s)",
		    uk_error_id(r), p11_last_rv_name(ctx));
		skip_rest(dr, per_token, "no token");
		goto out;
	}
	for (i = 0; i < list->ntokens; i++) {
		if (!list->tokens[i].initialized) {
			blank++;
			continue;
		}
		snprintf(one, sizeof(one), "%s (serial %s)",
		    list->tokens[i].label, list->tokens[i].serial);
		len = strlen(names);
		if (len + 1 < sizeof(names))
			snprintf(names + len, sizeof(names) - len, "%s%s",
			    len > 0 ? ", " : "", one);
		n++;
	}
	if (n == 0) {
		if (blank > 0)
			ag_dr_add(dr, "token present", AG_DR_FAIL, &why_blank,
			    NULL, "only a blank (uninitialised) UKey is there");
		else
			ag_dr_add(dr, "token present", AG_DR_FAIL, &why_token,
			    NULL, "the module shows no UKey");
		skip_rest(dr, per_token, "no token");
		goto out;
	}
	ag_dr_add(dr, "token present", AG_DR_PASS, NULL, NULL, "%s", names);
	for (i = 0; i < list->ntokens; i++) {
		if (list->tokens[i].initialized)
			check_one_token(dr, cfg, ctx, &list->tokens[i], &v,
			    &v_tried, v_err, sizeof(v_err));
	}
	goto out;
skip:
	ag_dr_add(dr, "token present", AG_DR_SKIP, NULL, NULL,
	    "the module is not loaded");
	skip_rest(dr, per_token, "the module is not loaded");
out:
	ca_verifier_free(v);
	p11_token_list_free(list);
	p11_ctx_free(ctx);
	ag_list_free(&allow);
}
