/* agent/doctor.c: ukey-agent doctor: the report (text or JSON), and the PC/SC layer of checks (pcscd, readers, card). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <winscard.h>

#include "agent/doctor.h"
#include "agent/doctor_int.h"
#include "common/errors.h"

/* Most reader names listed in a detail. */
#define READERS_SHOWN 4

static const struct ag_dr_why why_pcscd = {
	UK_ERR_TOKEN_NOT_PRESENT,
	AG_SEED_CANCELLED,
	"启动智能卡服务 pcscd（systemctl start "
	"pcscd.socket），然后重新插入UKey",
	"Start the smart card service pcscd (systemctl start pcscd.socket), "
	"then re-insert the UKey",
};

static const struct ag_dr_why why_readers = {
	UK_ERR_TOKEN_NOT_PRESENT,
	AG_SEED_CANCELLED,
	"插好UKey（可换一个USB口）；仍看不到读卡器时重新安装UKey驱动",
	"Plug the UKey in (try another USB port); if no reader appears, "
	"reinstall the UKey's driver",
};

static const struct ag_dr_why why_card = {
	UK_ERR_TOKEN_NOT_PRESENT,
	AG_SEED_CANCELLED,
	"拔出UKey后重新插入；仍检测不到时重新安装UKey驱动",
	"Pull the UKey out and put it back; if it is still not seen, "
	"reinstall its driver",
};

static const struct ag_dr_why why_pinentry = {
	UK_ERR_LOGIN_SIGN_COMPONENT,
	AG_SEED_BROWSER,
	"安装图形界面的 pinentry（如 pinentry-gnome3 或 "
	"pinentry-qt），或在配置 "
	"pinentry 中写明其路径",
	"Install a desktop pinentry (e.g. pinentry-gnome3 or pinentry-qt), or "
	"name it in [agent] pinentry",
};

/* Seeds whose causes the checks above look for on this computer. */
static const char *const local_seeds[] = { AG_SEED_COMPONENT, AG_SEED_CANCELLED,
	AG_SEED_CERT_INFO, AG_SEED_CERT_ILLEGAL, AG_SEED_BROWSER, NULL };

void
ag_dr_add(struct ag_dr *dr, const char *name, enum ag_dr_status st,
    const struct ag_dr_why *w, const char *token, const char *fmt, ...)
{
	struct ag_dr_check *c;
	size_t cap;
	va_list ap;

	if (dr->n == dr->cap) {
		cap = dr->cap == 0 ? 16 : dr->cap * 2;
		if ((c = reallocarray(dr->c, cap, sizeof(*c))) == NULL) {
			dr->nomem = 1;
			return;
		}
		dr->c = c;
		dr->cap = cap;
	}
	c = &dr->c[dr->n++];
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->status = st;
	if (w != NULL) {
		c->code = w->code;
		c->explains = w->explains;
		c->remedy_zh = w->remedy_zh;
		c->remedy_en = w->remedy_en;
	}
	if (token != NULL)
		snprintf(c->token, sizeof(c->token), "%s", token);
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

const char *
ag_dr_status_name(enum ag_dr_status st)
{
	switch (st) {
	case AG_DR_PASS:
		return "PASS";
	case AG_DR_WARN:
		return "WARN";
	case AG_DR_FAIL:
		return "FAIL";
	case AG_DR_SKIP:
	default:
		return "SKIP";
	}
}

/* Appends s to buf (size bytes) after a ", " when buf is not empty. */
static void
list_append(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);

	if (n + 1 >= size)
		return;
	snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "", s);
}

static void
hex(const unsigned char *b, size_t len, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len && 2 * i + 2 < size; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0x0f];
	}
	out[2 * i] = '\0';
}

/* pcscd running, readers, card present. */
static void
check_pcsc(struct ag_dr *dr)
{
	SCARD_READERSTATE st[READERS_SHOWN * 4];
	SCARDCONTEXT sc;
	char *buf = NULL, names[400] = "", cards[400] = "", mute[400] = "";
	char one[200];
	char atr[2 * MAX_ATR_SIZE + 1];
	const char *p;
	DWORD len = SCARD_AUTOALLOCATE, i, n = 0, total = 0;
	int have_ctx = 0;
	LONG rv;

	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &sc);
	if (rv != SCARD_S_SUCCESS) {
		if (rv == SCARD_E_NO_SERVICE)
			ag_dr_add(dr, "pcscd running", AG_DR_FAIL, &why_pcscd,
			    NULL, "pcscd is not running (no PC/SC service)");
		else
			ag_dr_add(dr, "pcscd running", AG_DR_FAIL, &why_pcscd,
			    NULL, "cannot reach pcscd: %s",
			    pcsc_stringify_error(rv));
		ag_dr_add(dr, "readers", AG_DR_SKIP, NULL, NULL,
		    "pcscd is not running");
		ag_dr_add(dr, "card present", AG_DR_SKIP, NULL, NULL,
		    "pcscd is not running");
		goto out;
	}
	have_ctx = 1;
	ag_dr_add(dr, "pcscd running", AG_DR_PASS, NULL, NULL,
	    "pcscd answers (PC/SC service available)");

	rv = SCardListReaders(sc, NULL, (LPSTR)&buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		buf = NULL;
		rv = SCARD_S_SUCCESS;
	}
	if (rv != SCARD_S_SUCCESS) {
		ag_dr_add(dr, "readers", AG_DR_FAIL, &why_readers, NULL,
		    "cannot list the readers: %s", pcsc_stringify_error(rv));
		ag_dr_add(dr, "card present", AG_DR_SKIP, NULL, NULL,
		    "no reader");
		goto out;
	}
	memset(st, 0, sizeof(st));
	for (p = buf; p != NULL && *p != '\0'; p += strlen(p) + 1) {
		total++;
		if (n < sizeof(st) / sizeof(st[0])) {
			st[n].szReader = p;
			st[n].dwCurrentState = SCARD_STATE_UNAWARE;
			n++;
		}
		if (total <= READERS_SHOWN)
			list_append(names, sizeof(names), p);
	}
	if (total == 0) {
		ag_dr_add(dr, "readers", AG_DR_FAIL, &why_readers, NULL,
		    "pcscd sees no card reader (the UKey is not plugged in, "
		    "or its reader driver is missing)");
		ag_dr_add(dr, "card present", AG_DR_SKIP, NULL, NULL,
		    "no reader");
		goto out;
	}
	if (total > READERS_SHOWN)
		list_append(names, sizeof(names), "...");
	ag_dr_add(dr, "readers", AG_DR_PASS, NULL, NULL, "%lu reader%s: %s",
	    (unsigned long)total, total == 1 ? "" : "s", names);

	rv = SCardGetStatusChange(sc, 0, st, n);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
		ag_dr_add(dr, "card present", AG_DR_FAIL, &why_card, NULL,
		    "cannot read the readers' state: %s",
		    pcsc_stringify_error(rv));
		goto out;
	}
	total = 0;
	for (i = 0; i < n; i++) {
		if ((st[i].dwEventState & SCARD_STATE_PRESENT) == 0)
			continue;
		if ((st[i].dwEventState & SCARD_STATE_MUTE) != 0) {
			snprintf(one, sizeof(one), "%s (mute)", st[i].szReader);
			list_append(mute, sizeof(mute), one);
			continue;
		}
		total++;
		hex(st[i].rgbAtr,
		    st[i].cbAtr > MAX_ATR_SIZE ? MAX_ATR_SIZE : st[i].cbAtr,
		    atr, sizeof(atr));
		snprintf(one, sizeof(one), "%s (ATR %s)", st[i].szReader, atr);
		list_append(cards, sizeof(cards), one);
	}
	if (total == 0 && mute[0] != '\0')
		ag_dr_add(dr, "card present", AG_DR_FAIL, &why_card, NULL,
		    "the card does not answer: %s", mute);
	else if (total == 0)
		ag_dr_add(dr, "card present", AG_DR_FAIL, &why_card, NULL,
		    "no reader holds a card");
	else
		ag_dr_add(dr, "card present", AG_DR_PASS, NULL, NULL,
		    "card in %s", cards);
out:
	if (buf != NULL)
		SCardFreeMemory(sc, buf);
	if (have_ctx)
		SCardReleaseContext(sc);
}

/* PIN entry: the PIN box operators type into. A pinentry that cannot be
 * run, or one that only works on a terminal, leaves nothing to type in. */
static void
check_pinentry(struct ag_dr *dr, const struct config *cfg)
{
	const char *src = config_str(cfg, "agent", "pin_source");
	const char *prog = config_str(cfg, "agent", "pinentry"), *base;
	char real[PATH_MAX];

	if (src != NULL && strcmp(src, "request") == 0) {
		ag_dr_add(dr, "PIN entry", AG_DR_PASS, NULL, NULL,
		    "the PIN comes with each request (pin_source = request)");
		return;
	}
	if (prog == NULL || prog[0] != '/' || realpath(prog, real) == NULL ||
	    access(real, X_OK) != 0) {
		ag_dr_add(dr, "PIN entry", AG_DR_FAIL, &why_pinentry, NULL,
		    "the pinentry program %s cannot be run: the PIN box "
		    "cannot appear",
		    prog != NULL ? prog : "(none)");
		return;
	}
	base = strrchr(real, '/') + 1;
	if (strcmp(base, "pinentry-curses") == 0 ||
	    strcmp(base, "pinentry-tty") == 0) {
		ag_dr_add(dr, "PIN entry", AG_DR_WARN, &why_pinentry, NULL,
		    "%s is %s, which needs a terminal: the PIN box cannot "
		    "appear on the desktop",
		    prog, base);
		return;
	}
	ag_dr_add(dr, "PIN entry", AG_DR_PASS, NULL, NULL, "%s (%s)", prog,
	    base);
}

/* Whether the catalogue message seed is one the checks look into. */
static int
seed_local(const char *seed)
{
	const char *const *p;

	for (p = local_seeds; *p != NULL; p++) {
		if (strcmp(*p, seed) == 0)
			return 1;
	}
	return 0;
}

/* Whether an earlier catalogue entry (before i) has the same seed. */
static int
seed_seen(const struct uk_error_info *t, unsigned i)
{
	unsigned j;

	for (j = 0; j < i; j++) {
		if (t[j].seed != NULL && strcmp(t[j].seed, t[i].seed) == 0)
			return 1;
	}
	return 0;
}

/* The report as JSON. Returns 0 or UK_ERR_NOMEM / UK_ERR_IO. */
static int
write_json(const struct ag_dr *dr, const size_t count[4], FILE *out)
{
	const struct ag_dr_check *c;
	const struct uk_error_info *t;
	json_t *root = NULL, *arr, *o;
	char *s = NULL;
	unsigned nt, k;
	size_t i;
	int r = UK_ERR_NOMEM;

	if ((root = json_object()) == NULL || (arr = json_array()) == NULL)
		goto out;
	if (json_object_set_new(root, "checks", arr) != 0)
		goto out;
	for (i = 0; i < dr->n; i++) {
		c = &dr->c[i];
		o = json_pack("{s:s, s:s, s:s}", "name", c->name, "status",
		    ag_dr_status_name(c->status), "detail", c->detail);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto out;
		if (c->token[0] != '\0' &&
		    json_object_set_new(o, "token", json_string(c->token)) != 0)
			goto out;
		if (c->status != AG_DR_WARN && c->status != AG_DR_FAIL)
			continue;
		if (c->code != 0 &&
		    json_object_set_new(o, "code",
		        json_string(uk_error_id(c->code))) != 0)
			goto out;
		if (c->explains != NULL &&
		    json_object_set_new(o, "explains",
		        json_string(c->explains)) != 0)
			goto out;
		if (c->remedy_zh != NULL &&
		    json_object_set_new(o, "remedy",
		        json_pack("{s:s, s:s}", "zh", c->remedy_zh, "en",
		            c->remedy_en != NULL ? c->remedy_en : "")) != 0)
			goto out;
	}
	if ((arr = json_array()) == NULL ||
	    json_object_set_new(root, "elsewhere", arr) != 0)
		goto out;
	t = uk_error_table(&nt);
	for (k = 0; k < nt; k++) {
		if (t[k].seed == NULL || seed_local(t[k].seed) ||
		    seed_seen(t, k))
			continue;
		o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "explains", t[k].seed,
		    "code", t[k].id, "remedy", "zh", t[k].remedy_zh, "en",
		    t[k].remedy_en);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto out;
	}
	if (json_object_set_new(root, "summary",
	        json_pack("{s:I, s:I, s:I, s:I}", "pass",
	            (json_int_t)count[AG_DR_PASS], "warn",
	            (json_int_t)count[AG_DR_WARN], "fail",
	            (json_int_t)count[AG_DR_FAIL], "skip",
	            (json_int_t)count[AG_DR_SKIP])) != 0)
		goto out;
	if ((s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		goto out;
	r = fprintf(out, "%s\n", s) < 0 ? UK_ERR_IO : 0;
out:
	free(s);
	json_decref(root);
	return r;
}

/* Writes the "explains:" line, each message (separated by " / ") in
 * Chinese quotation marks. */
static void
write_explains(FILE *out, const char *s)
{
	const char *sep;

	fputs("      explains: ", out);
	for (;;) {
		if ((sep = strstr(s, " / ")) == NULL) {
			fprintf(out, "「%s」\n", s);
			return;
		}
		fprintf(out, "「%.*s」 / ", (int)(sep - s), s);
		s = sep + 3;
	}
}

/* The report as text. Returns 0 or UK_ERR_IO. */
static int
write_text(const struct ag_dr *dr, const size_t count[4], FILE *out)
{
	const struct ag_dr_check *c;
	const struct uk_error_info *t;
	unsigned nt, k;
	size_t i;

	for (i = 0; i < dr->n; i++) {
		c = &dr->c[i];
		fprintf(out, "%-4s  %-20s %s\n", ag_dr_status_name(c->status),
		    c->name, c->detail);
		if (c->status != AG_DR_WARN && c->status != AG_DR_FAIL)
			continue;
		if (c->explains != NULL)
			write_explains(out, c->explains);
		if (c->code != 0)
			fprintf(out, "      error:    %s %s\n",
			    uk_error_id(c->code), uk_error_info(c->code)->zh);
		if (c->remedy_zh != NULL)
			fprintf(out, "      remedy:   %s\n", c->remedy_zh);
		if (c->remedy_en != NULL)
			fprintf(out, "                %s\n", c->remedy_en);
	}
	fputs("not from this computer (the gateway decides these):\n", out);
	t = uk_error_table(&nt);
	for (k = 0; k < nt; k++) {
		if (t[k].seed == NULL || seed_local(t[k].seed) ||
		    seed_seen(t, k))
			continue;
		fprintf(out, "      「%s」 %s: %s\n", t[k].seed, t[k].id,
		    t[k].remedy_zh);
		fprintf(out, "                %s\n", t[k].remedy_en);
	}
	fprintf(out, "summary: %zu pass, %zu warn, %zu fail, %zu skip\n",
	    count[AG_DR_PASS], count[AG_DR_WARN], count[AG_DR_FAIL],
	    count[AG_DR_SKIP]);
	return ferror(out) ? UK_ERR_IO : 0;
}

int
ag_doctor_run(const struct config *cfg, const char *gateway_url, int json,
    FILE *out)
{
	struct ag_dr dr = { NULL, 0, 0, 0 };
	size_t count[4] = { 0, 0, 0, 0 }, i;
	int r;

	if (gateway_url == NULL || *gateway_url == '\0')
		gateway_url = config_str(cfg, "agent", "gateway_url");
	if (gateway_url != NULL && *gateway_url == '\0')
		gateway_url = NULL;

	check_pcsc(&dr);
	ag_dr_check_token(&dr, cfg);
	ag_dr_check_port(&dr, cfg);
	ag_dr_check_origins(&dr, cfg, gateway_url);
	check_pinentry(&dr, cfg);
	ag_dr_check_clock(&dr, gateway_url);

	r = UK_ERR_NOMEM;
	if (dr.nomem)
		goto out;
	for (i = 0; i < dr.n; i++)
		count[dr.c[i].status]++;
	if (json)
		r = write_json(&dr, count, out);
	else
		r = write_text(&dr, count, out);
	if (r == 0 && fflush(out) != 0)
		r = UK_ERR_IO;
	if (r == 0)
		r = count[AG_DR_FAIL] > 0 ? 1 : 0;
out:
	free(dr.c);
	return r;
}
