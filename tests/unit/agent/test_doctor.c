/* tests/unit/agent/test_doctor.c: ukey-agent doctor in-process: every failure produced on purpose (pcscd, reader, card, module, PIN, certificate, CA, port, origins, clock) and the all-PASS case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/lib/testproc.h"
#include "tests/lib/testtok.h"
#include "agent/conf.h"
#include "agent/doctor.h"
#include "agent/guard.h"
#include "common/config.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "pkcs11/token.h"

#define SOFTHSM TESTTOK_SOFTHSM
#define PIN "123456"
#define ORIGIN "https://hall.example.gov.cn"

#define SEED_COMPONENT "签名失败，请确认签名控件，根证书已被导入"
#define SEED_CANCELLED "签名失败，或者您已经取消签名"
#define SEED_ILLEGAL "证书非法或者不存在"
#define SEED_BROWSER "签名失败，请确认签名控件/根证书已经被导入浏览器"

extern char **environ;

static char tmpdir[512];
static char pcscdir[600];
static char simdir[600];
static char simmod[PATH_MAX];
static char helper[PATH_MAX];
static char ca1[700], ca2[700], statedir[700];
static char serial1[17];
static int pcsc_ok, ready;

/* What the private pcscd is doing now. */
enum pcsc_state { PC_STOPPED = 0, PC_NOREADER, PC_NOCARD, PC_CARD };
static enum pcsc_state pcsc_now = PC_STOPPED;

/* --- a small HTTP server: the agent's port, or the gateway --- */

struct srv {
	int fd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	int stop;
	int status;       /* HTTP status answered */
	char body[256];   /* answered body */
	long date_offset; /* seconds added to now in the Date header */
	int no_date;
};

static struct srv agent_srv, gw_srv;

static void *
srv_main(void *a)
{
	struct srv *s = a;
	struct pollfd pfd;
	char req[8192], resp[1024], date[64];
	struct tm tm;
	time_t t;
	size_t n;
	ssize_t k;
	int c, stop;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((c = accept(s->fd, NULL, NULL)) < 0)
			continue;
		n = 0;
		while (n < sizeof(req) - 1 &&
		    (k = recv(c, req + n, sizeof(req) - 1 - n, 0)) > 0) {
			n += (size_t)k;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		pthread_mutex_lock(&s->mu);
		t = time(NULL) + s->date_offset;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(resp, sizeof(resp),
		    "HTTP/1.1 %d X\r\n%s%s%sContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    s->status,
		    s->no_date ? "" : "Date: ", s->no_date ? "" : date,
		    s->no_date ? "" : "\r\n", strlen(s->body), s->body);
		pthread_mutex_unlock(&s->mu);
		if (send(c, resp, strlen(resp), MSG_NOSIGNAL) < 0)
			fprintf(stderr, "fake server: send failed\n");
		close(c);
	}
	return NULL;
}

static void
srv_set(struct srv *s, int status, const char *body, long offset, int nodate)
{
	pthread_mutex_lock(&s->mu);
	s->status = status;
	snprintf(s->body, sizeof(s->body), "%s", body);
	s->date_offset = offset;
	s->no_date = nodate;
	pthread_mutex_unlock(&s->mu);
}

static int
srv_start(struct srv *s)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(s->fd, 8) != 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	s->port = ntohs(sa.sin_port);
	pthread_mutex_init(&s->mu, NULL);
	srv_set(s, 200, "{\"appVersion\":\"ukey-agent/1.0.0\"}", 0, 0);
	return pthread_create(&s->th, NULL, srv_main, s) == 0 ? 0 : -1;
}

static void
srv_stop(struct srv *s)
{
	if (s->port == 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	close(s->fd);
	s->port = 0;
}

/* A loopback port nothing listens on (bound, then released). */
static int
closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* --- processes --- */

static int
pcsc(const char *cmd, const char *extra)
{
	const char *argv[] = { "sh", helper, cmd, pcscdir, extra, NULL };

	return testproc_run(argv, NULL, 0);
}

/* Brings the private pcscd to state want; skips the test when this
 * machine cannot run one. */
static void
pcsc_to(enum pcsc_state want)
{
	int rc = 0;

	if (!pcsc_ok)
		skip();
	if (want == pcsc_now)
		return;
	if (want == PC_STOPPED || want == PC_NOREADER ||
	    pcsc_now == PC_NOREADER || pcsc_now == PC_STOPPED) {
		assert_int_equal(pcsc("stop", NULL), 0);
		pcsc_now = PC_STOPPED;
		if (want != PC_STOPPED) {
			rc = pcsc("start",
			    want == PC_NOREADER ? "noreader" : NULL);
			if (rc == 77) {
				pcsc_ok = 0;
				skip();
			}
			assert_int_equal(rc, 0);
			pcsc_now =
			    want == PC_NOREADER ? PC_NOREADER : PC_NOCARD;
		}
	}
	if (want == PC_CARD && pcsc_now == PC_NOCARD)
		assert_int_equal(pcsc("card-in", NULL), 0);
	if (want == PC_NOCARD && pcsc_now == PC_CARD)
		assert_int_equal(pcsc("card-out", NULL), 0);
	pcsc_now = want;
	usleep(700 * 1000); /* pcscd polls the vpcd slot */
}

/* --- certificates --- */

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int r;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return r;
}

/* A certificate for pub named cn, valid from from_days to to_days
 * (relative to now), issued by issuer/ikey (NULL: self-signed with pub's
 * own key ikey). */
static X509 *
make_cert(EVP_PKEY *pub, const char *cn, int is_ca, long from_days,
    long to_days, X509 *issuer, EVP_PKEY *ikey)
{
	static long serial = 0x1000;
	X509_NAME *name;
	X509 *x;

	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
	X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_non_null(name = X509_NAME_new());
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"ukeygate test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x,
	    issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	assert_int_equal(add_ext(x, issuer, NID_subject_key_identifier, "hash"),
	    0);
	if (is_ca) {
		assert_int_equal(add_ext(x, issuer, NID_basic_constraints,
		                     "critical,CA:TRUE"),
		    0);
		assert_int_equal(add_ext(x, issuer, NID_key_usage,
		                     "critical,keyCertSign,cRLSign"),
		    0);
	} else {
		assert_int_equal(add_ext(x, issuer,
		                     NID_authority_key_identifier, "keyid"),
		    0);
		assert_int_equal(add_ext(x, issuer, NID_key_usage,
		                     "critical,digitalSignature"),
		    0);
		assert_int_equal(add_ext(x, issuer, NID_ext_key_usage,
		                     "clientAuth"),
		    0);
	}
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *x)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
}

/* The CAs: the trusted one signs the tokens' certificates. */
static EVP_PKEY *ca_key;
static X509 *ca_cert;

static void
make_cas(void)
{
	EVP_PKEY *k2;
	X509 *c2;

	assert_non_null(ca_key = EVP_EC_gen("P-256"));
	ca_cert =
	    make_cert(ca_key, "Test Centre Root", 1, -30, 3650, NULL, ca_key);
	write_pem(ca1, ca_cert);
	assert_non_null(k2 = EVP_EC_gen("P-256"));
	c2 = make_cert(k2, "Some Other Root", 1, -30, 3650, NULL, k2);
	write_pem(ca2, c2);
	X509_free(c2);
	EVP_PKEY_free(k2);
}

static int
init_token(const char *label)
{
	const char *argv[] = { "softhsm2-util", "--init-token", "--free",
		"--label", label, "--pin", PIN, "--so-pin", "12345678", NULL };

	return testproc_run(argv, NULL, 0);
}

static int
delete_token(const char *label)
{
	const char *argv[] = { "softhsm2-util", "--delete-token", "--token",
		label, NULL };

	return testproc_run(argv, NULL, 0);
}

/* Generates key idhex on token label and stores a certificate for it
 * valid from from_days to to_days; writes the token's serial to serial
 * (may be NULL). */
static void
token_cert(const char *label, const char *idhex, const char *cn, long from_days,
    long to_days, char *serial)
{
	const char *allow[] = { simmod, NULL };
	struct p11_token_list *l = NULL;
	struct p11_ctx *ctx = NULL;
	struct p11_token *tok = NULL;
	struct secret *pin;
	struct p11_id id;
	EVP_PKEY *pub = NULL;
	X509 *x;
	size_t i;
	const char *ser = NULL;

	assert_int_equal(p11_ctx_new(simmod, allow, &ctx), 0);
	assert_int_equal(p11_list(ctx, &l), 0);
	for (i = 0; i < l->ntokens; i++) {
		if (strcmp(l->tokens[i].label, label) == 0)
			ser = l->tokens[i].serial;
	}
	assert_non_null(ser);
	if (serial != NULL)
		snprintf(serial, 17, "%s", ser);
	assert_int_equal(p11_token_open(ctx, ser, &tok), 0);
	assert_non_null(pin = secret_from(PIN, strlen(PIN)));
	assert_int_equal(p11_login(tok, pin), 0);
	secret_free(pin);
	assert_int_equal(p11_id_from_hex(idhex, &id), 0);
	assert_int_equal(p11_keygen(tok, P11_KEY_EC_P256, cn, &id, NULL), 0);
	assert_int_equal(p11_public_key(tok, &id, &pub), 0);
	x = make_cert(pub, cn, 0, from_days, to_days, ca_cert, ca_key);
	assert_int_equal(p11_store_cert(tok, &id, cn, x), 0);
	X509_free(x);
	EVP_PKEY_free(pub);
	p11_logout(tok);
	p11_token_free(tok);
	p11_token_list_free(l);
	p11_ctx_free(ctx);
}

/* --- set-up --- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	struct testtok tt;

	(void)state;
	uk_log_init("test_doctor", UK_LOG_ERROR);
	if (testtok_setup(&tt, "doctor") != 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tt.tmpdir);
	snprintf(pcscdir, sizeof(pcscdir), "%s", tt.pcscdir);
	snprintf(simdir, sizeof(simdir), "%s", tt.simdir);
	snprintf(simmod, sizeof(simmod), "%s", tt.simmod);
	snprintf(helper, sizeof(helper), "%s", tt.helper);
	snprintf(statedir, sizeof(statedir), "%s/state", tmpdir);
	snprintf(ca1, sizeof(ca1), "%s/ca1.pem", tmpdir);
	snprintf(ca2, sizeof(ca2), "%s/ca2.pem", tmpdir);
	pcsc_ok = access(helper, R_OK) == 0;
	if (access(simmod, R_OK) != 0 || access(SOFTHSM, R_OK) != 0) {
		fprintf(stderr, "no ukey-sim (%s) or SoftHSM2\n", simmod);
		return 0; /* every test skips */
	}
	if (init_token("dr1") != 0)
		return -1;
	make_cas();
	token_cert("dr1", "01", "Operator One", -1, 365, serial1);
	if (srv_start(&agent_srv) != 0 || srv_start(&gw_srv) != 0)
		return -1;
	ready = 1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&agent_srv);
	srv_stop(&gw_srv);
	if (pcscdir[0] != '\0')
		pcsc("stop", NULL);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Tests that set pcscd's state themselves start from the good servers. */
static int
setup_pcsc(void **state)
{
	(void)state;
	if (ready) {
		srv_set(&agent_srv, 200,
		    "{\"appVersion\":\"ukey-agent/1.0.0\"}", 0, 0);
		srv_set(&gw_srv, 200, "{}", 0, 0);
	}
	return 0;
}

/* The others also get a card in the reader (when this machine can run
 * pcscd; when not, "pcscd running" fails in every report: see fails()). */
static int
setup(void **state)
{
	int rc;

	if (pcsc_ok && pcsc_now != PC_CARD) {
		if (pcsc_now != PC_NOCARD) {
			pcsc("stop", NULL);
			rc = pcsc("start", NULL);
			if (rc == 77)
				pcsc_ok = 0;
			else if (rc != 0)
				return -1;
		}
		if (pcsc_ok && pcsc("card-in", NULL) != 0)
			return -1;
		if (pcsc_ok)
			usleep(700 * 1000);
		pcsc_now = pcsc_ok ? PC_CARD : PC_STOPPED;
	}
	return setup_pcsc(state);
}

/* The number of failures a report has when n checks fail on purpose. */
static long
fails(long n)
{
	return n + (pcsc_ok ? 0 : 1);
}

/* --- running doctor --- */

struct cfgv {
	const char *module, *allowlist, *trusted_ca, *origins;
	const char *pinentry; /* NULL: pin_source = request */
	int port;
};

static void
cfg_good(struct cfgv *v)
{
	v->module = simmod;
	v->allowlist = simmod;
	v->trusted_ca = ca1;
	v->origins = ORIGIN;
	v->pinentry = NULL;
	v->port = agent_srv.port;
}

static struct config *
cfg_make(const struct cfgv *v)
{
	struct config *cfg = NULL;
	char buf[4096], err[256];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	    "[agent]\nport = %d\nstate_dir = %s\n", v->port, statedir);
	if (v->module != NULL)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "module = %s\n",
		    v->module);
	if (v->allowlist != NULL)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "module_allowlist = %s\n", v->allowlist);
	if (v->trusted_ca != NULL)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "trusted_ca = %s\n", v->trusted_ca);
	if (v->origins != NULL)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "allowed_origins = %s\n", v->origins);
	if (v->pinentry != NULL)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "pin_source = pinentry\npinentry = %s\n", v->pinentry);
	else
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "pin_source = request\n");
	assert_true(n < sizeof(buf));
	if (config_load_buffer(buf, n, "test.conf", ag_config_schema, &cfg, err,
	        sizeof(err)) != 0)
		fail_msg("config: %s", err);
	return cfg;
}

/* Runs doctor with v and the gateway URL gw; returns its JSON report and
 * its return value in *rc. */
static json_t *
doctor(const struct cfgv *v, const char *gw, int *rc)
{
	struct config *cfg = cfg_make(v);
	json_error_t je;
	json_t *j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(f = open_memstream(&buf, &len));
	*rc = ag_doctor_run(cfg, gw, 1, f);
	fclose(f);
	config_free(cfg);
	if ((j = json_loads(buf, 0, &je)) == NULL)
		fail_msg("doctor's JSON: %s: %s", je.text, buf);
	free(buf);
	return j;
}

/* The first check named name (whose detail holds sub, if given). */
static json_t *
check(json_t *rep, const char *name, const char *sub)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(rep, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")),
		        name) != 0)
			continue;
		if (sub != NULL &&
		    strstr(json_string_value(json_object_get(c, "detail")),
		        sub) == NULL)
			continue;
		return c;
	}
	fail_msg("no check \"%s\" (%s)", name, sub != NULL ? sub : "");
	return NULL;
}

static const char *
status(json_t *rep, const char *name, const char *sub)
{
	return json_string_value(
	    json_object_get(check(rep, name, sub), "status"));
}

static const char *
field(json_t *rep, const char *name, const char *sub, const char *key)
{
	const char *s =
	    json_string_value(json_object_get(check(rep, name, sub), key));

	return s != NULL ? s : "";
}

static long
summary(json_t *rep, const char *key)
{
	return (long)json_integer_value(
	    json_object_get(json_object_get(rep, "summary"), key));
}

static void
need_ready(void)
{
	if (!ready)
		skip();
}

static char gw_url[64];

static const char *
gateway(void)
{
	snprintf(gw_url, sizeof(gw_url), "http://127.0.0.1:%d/", gw_srv.port);
	return gw_url;
}

/* --- the tests --- */

/* Everything in order: every check passes and doctor returns 0. */
static void
test_good(void **state)
{
	char origins[128];
	struct cfgv v;
	json_t *rep, *c;
	size_t i;
	int rc;

	(void)state;
	need_ready();
	pcsc_to(PC_CARD);
	cfg_good(&v);
	/* The login page comes from the gateway: its origin is allowed. */
	snprintf(origins, sizeof(origins), "%s http://127.0.0.1:%d", ORIGIN,
	    gw_srv.port);
	v.origins = origins;
	rep = doctor(&v, gateway(), &rc);
	json_array_foreach(json_object_get(rep, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "status")),
		        "PASS") != 0)
			fail_msg("%s: %s: %s",
			    json_string_value(json_object_get(c, "name")),
			    json_string_value(json_object_get(c, "status")),
			    json_string_value(json_object_get(c, "detail")));
	}
	assert_int_equal(rc, 0);
	assert_int_equal(summary(rep, "fail"), 0);
	assert_int_equal(summary(rep, "warn"), 0);
	assert_int_equal(summary(rep, "skip"), 0);
	assert_int_equal(summary(rep, "pass"), 13);
	assert_non_null(strstr(field(rep, "card present", NULL, "detail"),
	    "3b951381018073ff01000b"));
	assert_non_null(
	    strstr(field(rep, "token present", NULL, "detail"), serial1));
	assert_non_null(strstr(field(rep, "certificate chain", NULL, "detail"),
	    "Test Centre Root"));
	assert_string_equal(field(rep, "PIN state", NULL, "token"), serial1);
	assert_non_null(strstr(field(rep, "agent port", NULL, "detail"),
	    "ukey-agent/1.0.0 answers"));
	json_decref(rep);
}

static void
test_pcscd_stopped(void **state)
{
	struct cfgv v;
	json_t *rep, *rem;
	int rc;

	(void)state;
	need_ready();
	pcsc_to(PC_STOPPED);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "pcscd running", NULL), "FAIL");
	assert_string_equal(field(rep, "pcscd running", NULL, "explains"),
	    SEED_CANCELLED);
	rem = json_object_get(check(rep, "pcscd running", NULL), "remedy");
	assert_non_null(
	    strstr(json_string_value(json_object_get(rem, "en")), "pcscd"));
	assert_non_null(
	    strstr(json_string_value(json_object_get(rem, "zh")), "pcscd"));
	assert_string_equal(status(rep, "readers", NULL), "SKIP");
	assert_string_equal(status(rep, "card present", NULL), "SKIP");
	/* The layers that do not need pcscd still run. */
	assert_string_equal(status(rep, "module loads", NULL), "PASS");
	assert_string_equal(status(rep, "certificate chain", NULL), "PASS");
	assert_string_equal(status(rep, "clock", NULL), "SKIP");
	assert_int_equal(summary(rep, "fail"), 1);
	json_decref(rep);
}

static void
test_no_reader(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	pcsc_to(PC_NOREADER);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "pcscd running", NULL), "PASS");
	assert_string_equal(status(rep, "readers", NULL), "FAIL");
	assert_string_equal(field(rep, "readers", NULL, "explains"),
	    SEED_CANCELLED);
	assert_string_equal(field(rep, "readers", NULL, "code"), "UK-2002");
	assert_string_equal(status(rep, "card present", NULL), "SKIP");
	assert_int_equal(summary(rep, "fail"), 1);
	json_decref(rep);
}

static void
test_no_card(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	pcsc_to(PC_NOCARD);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "readers", NULL), "PASS");
	assert_non_null(
	    strstr(field(rep, "readers", NULL, "detail"), "Virtual PCD 00 00"));
	assert_string_equal(status(rep, "card present", NULL), "FAIL");
	assert_string_equal(field(rep, "card present", NULL, "explains"),
	    SEED_CANCELLED);
	assert_int_equal(summary(rep, "fail"), 1);
	json_decref(rep);
}

static void
test_module_wrong(void **state)
{
	struct cfgv v;
	json_t *rep;
	char path[700];
	int rc;

	(void)state;
	need_ready();
	snprintf(path, sizeof(path), "%s/nosuch-pkcs11.so", tmpdir);
	cfg_good(&v);
	v.module = path;
	v.allowlist = path;
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "module loads", NULL), "FAIL");
	assert_string_equal(field(rep, "module loads", NULL, "explains"),
	    SEED_COMPONENT);
	assert_string_equal(field(rep, "module loads", NULL, "code"),
	    "UK-2001");
	assert_non_null(
	    strstr(field(rep, "module loads", NULL, "detail"), "No such file"));
	assert_string_equal(status(rep, "token present", NULL), "SKIP");
	assert_string_equal(status(rep, "PIN state", NULL), "SKIP");
	assert_string_equal(status(rep, "certificate chain", NULL), "SKIP");
	json_decref(rep);

	/* A file that is no PKCS#11 module. */
	cfg_good(&v);
	v.module = ca1;
	v.allowlist = ca1;
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "module loads", NULL), "FAIL");
	assert_string_equal(field(rep, "module loads", NULL, "code"),
	    "UK-2001");
	json_decref(rep);

	/* The right module, not on the allowlist. */
	cfg_good(&v);
	v.allowlist = SOFTHSM;
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "module loads", NULL), "FAIL");
	assert_string_equal(field(rep, "module loads", NULL, "code"),
	    "UK-2008");
	assert_non_null(strstr(field(rep, "module loads", NULL, "detail"),
	    "module_allowlist"));
	json_decref(rep);

	/* None configured. */
	cfg_good(&v);
	v.module = NULL;
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "module loads", NULL), "FAIL");
	json_decref(rep);
}

static void
write_sim_state(const char *text)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.state", simdir, serial1);
	if (text == NULL) {
		unlink(path);
		return;
	}
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
test_token_locked(void **state)
{
	struct cfgv v;
	json_t *rep, *rem;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	write_sim_state("user_left 0\nso_left 6\n");
	rep = doctor(&v, NULL, &rc);
	write_sim_state(NULL);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "PIN state", NULL), "FAIL");
	assert_string_equal(field(rep, "PIN state", NULL, "code"), "UK-2004");
	assert_non_null(strstr(field(rep, "PIN state", NULL, "detail"),
	    "locked (as the UKey says)"));
	rem = json_object_get(check(rep, "PIN state", NULL), "remedy");
	assert_non_null(
	    strstr(json_string_value(json_object_get(rem, "zh")), "柜面"));
	/* The certificate is still looked at. */
	assert_string_equal(status(rep, "certificate expiry", NULL), "PASS");
	json_decref(rep);

	/* One try left: a warning saying so. */
	write_sim_state("user_left 1\nso_left 6\n");
	rep = doctor(&v, NULL, &rc);
	write_sim_state(NULL);
	assert_string_equal(status(rep, "PIN state", NULL), "WARN");
	assert_non_null(
	    strstr(field(rep, "PIN state", NULL, "detail"), "1 try left"));
	assert_non_null(
	    strstr(field(rep, "PIN state", NULL, "detail"), "还可尝试1次"));
	json_decref(rep);
}

/* The agent's own lockout guard locks the key even when the token does
 * not say so. */
static void
test_guard_locked(void **state)
{
	struct ag_guard *g = NULL;
	struct ag_guard_state gs;
	struct cfgv v;
	json_t *rep;
	int i, rc;

	(void)state;
	need_ready();
	assert_int_equal(ag_guard_new(statedir, &g), 0);
	for (i = 0; i < AG_GUARD_TRIES; i++) {
		assert_int_equal(ag_guard_begin(g, serial1, AG_PIN_USER, &gs),
		    0);
		assert_int_equal(ag_guard_end(g, serial1, AG_PIN_USER,
		                     AG_GUARD_WRONG, &gs),
		    0);
	}
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(ag_guard_reset(g, serial1, AG_PIN_USER), 0);
	ag_guard_free(g);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "PIN state", NULL), "FAIL");
	assert_non_null(strstr(field(rep, "PIN state", NULL, "detail"),
	    "as the agent says"));
	json_decref(rep);
}

/* A second key with an expired certificate and one that expires soon. */
static void
test_cert_expired(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	assert_int_equal(init_token("dr2"), 0);
	token_cert("dr2", "02", "Operator Expired", -400, -10, NULL);
	token_cert("dr2", "03", "Operator Soon", -300, 10, NULL);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(delete_token("dr2"), 0);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "certificate expiry", "Operator One"),
	    "PASS");
	assert_string_equal(status(rep, "certificate expiry",
	                        "Operator Expired"),
	    "FAIL");
	assert_string_equal(field(rep, "certificate expiry", "Operator Expired",
	                        "code"),
	    "UK-3101");
	assert_non_null(strstr(field(rep, "certificate expiry",
	                           "Operator Expired", "explains"),
	    SEED_ILLEGAL));
	assert_non_null(strstr(field(rep, "certificate expiry",
	                           "Operator Expired", "detail"),
	    "expired on"));
	assert_string_equal(status(rep, "certificate expiry", "Operator Soon"),
	    "WARN");
	assert_non_null(
	    strstr(field(rep, "certificate expiry", "Operator Soon", "detail"),
	        "expires in 10 days"));
	/* The chain is judged apart from the dates. */
	assert_string_equal(status(rep, "certificate chain",
	                        "Operator Expired"),
	    "PASS");
	assert_string_equal(status(rep, "token present", NULL), "PASS");
	assert_non_null(
	    strstr(field(rep, "token present", NULL, "detail"), "dr2"));
	assert_int_equal(summary(rep, "fail"), fails(1));
	json_decref(rep);
}

/* A key without any certificate. */
static void
test_no_certificate(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	assert_int_equal(init_token("dr3"), 0);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(delete_token("dr3"), 0);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "certificate present", "[dr3]"),
	    "FAIL");
	assert_non_null(
	    strstr(field(rep, "certificate present", "[dr3]", "explains"),
	        SEED_CANCELLED));
	assert_string_equal(field(rep, "certificate present", "[dr3]", "code"),
	    "UK-2006");
	assert_string_equal(status(rep, "certificate present", "[dr1]"),
	    "PASS");
	json_decref(rep);
}

static void
test_untrusted_ca(void **state)
{
	struct cfgv v;
	json_t *rep;
	char path[700];
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	v.trusted_ca = ca2;
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "certificate chain", NULL), "FAIL");
	assert_string_equal(field(rep, "certificate chain", NULL, "explains"),
	    SEED_COMPONENT);
	assert_string_equal(field(rep, "certificate chain", NULL, "code"),
	    "UK-3100");
	assert_string_equal(status(rep, "certificate expiry", NULL), "PASS");
	assert_int_equal(summary(rep, "fail"), fails(1));
	json_decref(rep);

	/* A trusted_ca that cannot be read. */
	snprintf(path, sizeof(path), "%s/nosuch.pem", tmpdir);
	v.trusted_ca = path;
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "certificate chain", NULL), "FAIL");
	assert_non_null(strstr(field(rep, "certificate chain", NULL, "detail"),
	    "cannot be used"));
	json_decref(rep);

	/* None: nothing to check against. */
	v.trusted_ca = NULL;
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "certificate chain", NULL), "SKIP");
	json_decref(rep);
}

static void
test_agent_port(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	v.port = closed_port();
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "agent port", NULL), "FAIL");
	assert_string_equal(field(rep, "agent port", NULL, "explains"),
	    SEED_BROWSER);
	assert_non_null(
	    strstr(field(rep, "agent port", NULL, "detail"), "not running"));
	json_decref(rep);

	/* Something else on the port. */
	srv_set(&agent_srv, 404, "<html>not found</html>", 0, 0);
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "agent port", NULL), "FAIL");
	assert_non_null(strstr(field(rep, "agent port", NULL, "detail"),
	    "another program"));
	json_decref(rep);

	/* JSON, but not the agent's. */
	srv_set(&agent_srv, 200, "{\"version\":\"2\"}", 0, 0);
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "agent port", NULL), "FAIL");
	json_decref(rep);

	/* An agent with another configuration refuses our origin. */
	srv_set(&agent_srv, 403, "{\"error\":{}}", 0, 0);
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "agent port", NULL), "WARN");
	json_decref(rep);
}

static void
test_origins(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	v.origins = NULL;
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "allowed origins", NULL), "FAIL");
	assert_string_equal(field(rep, "allowed origins", NULL, "explains"),
	    SEED_BROWSER);
	json_decref(rep);

	v.origins = "http://hall.example.gov.cn";
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "allowed origins", NULL), "WARN");
	assert_non_null(
	    strstr(field(rep, "allowed origins", NULL, "detail"), "not https"));
	json_decref(rep);

	/* The gateway's own origin missing from the list. */
	cfg_good(&v);
	rep = doctor(&v, "https://other.example.gov.cn:8443/login", &rc);
	assert_string_equal(status(rep, "allowed origins", NULL), "WARN");
	assert_non_null(strstr(field(rep, "allowed origins", NULL, "detail"),
	    "https://other.example.gov.cn:8443 is not among them"));
	json_decref(rep);
}

static void
test_clock(void **state)
{
	struct cfgv v;
	json_t *rep;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	srv_set(&gw_srv, 200, "{}", -120, 0);
	rep = doctor(&v, gateway(), &rc);
	assert_string_equal(status(rep, "clock", NULL), "WARN");
	assert_non_null(
	    strstr(field(rep, "clock", NULL, "detail"), "ahead of"));
	json_decref(rep);

	srv_set(&gw_srv, 200, "{}", 600, 0);
	rep = doctor(&v, gateway(), &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "clock", NULL), "FAIL");
	assert_non_null(strstr(field(rep, "clock", NULL, "detail"), "behind"));
	json_decref(rep);

	srv_set(&gw_srv, 200, "{}", 0, 1);
	rep = doctor(&v, gateway(), &rc);
	assert_string_equal(status(rep, "clock", NULL), "WARN");
	json_decref(rep);

	snprintf(gw_url, sizeof(gw_url), "http://127.0.0.1:%d/", closed_port());
	rep = doctor(&v, gw_url, &rc);
	assert_string_equal(status(rep, "clock", NULL), "FAIL");
	assert_non_null(
	    strstr(field(rep, "clock", NULL, "detail"), "cannot reach"));
	json_decref(rep);
}

/* The PIN box: a pinentry that cannot run, or runs only on a terminal. */
static void
test_pinentry(void **state)
{
	struct cfgv v;
	json_t *rep;
	char path[700];
	FILE *f;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	snprintf(path, sizeof(path), "%s/nosuch/pinentry", tmpdir);
	v.pinentry = path;
	rep = doctor(&v, NULL, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(status(rep, "PIN entry", NULL), "FAIL");
	assert_string_equal(field(rep, "PIN entry", NULL, "explains"),
	    SEED_BROWSER);
	json_decref(rep);

	snprintf(path, sizeof(path), "%s/pinentry-curses", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "PIN entry", NULL), "WARN");
	assert_non_null(strstr(field(rep, "PIN entry", NULL, "detail"),
	    "needs a terminal"));
	json_decref(rep);

	snprintf(path, sizeof(path), "%s/pinentry-gnome3", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	rep = doctor(&v, NULL, &rc);
	assert_string_equal(status(rep, "PIN entry", NULL), "PASS");
	json_decref(rep);
}

/* The messages the gateway decides are explained too. */
static void
test_elsewhere(void **state)
{
	struct cfgv v;
	json_t *rep, *e;
	size_t i;
	int rc, frozen = 0, scan = 0;

	(void)state;
	need_ready();
	cfg_good(&v);
	rep = doctor(&v, NULL, &rc);
	json_array_foreach(json_object_get(rep, "elsewhere"), i, e)
	{
		const char *x =
		    json_string_value(json_object_get(e, "explains"));

		assert_non_null(x);
		assert_null(strstr(x, "签名失败"));
		if (strcmp(x, "用户已暂时冻结") == 0) {
			frozen = 1;
			assert_string_equal(json_string_value(
			                        json_object_get(e, "code")),
			    "UK-4103");
			assert_non_null(
			    json_object_get(json_object_get(e, "remedy"),
			        "en"));
		}
		scan += strcmp(x, "扫码认证失败") == 0;
	}
	assert_true(frozen);
	assert_int_equal(scan, 1);
	json_decref(rep);
}

/* The text report: a line per check, explanation and remedy under a
 * failure, a summary. */
static void
test_text(void **state)
{
	struct config *cfg;
	struct cfgv v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)state;
	need_ready();
	cfg_good(&v);
	v.trusted_ca = ca2;
	cfg = cfg_make(&v);
	assert_non_null(f = open_memstream(&buf, &len));
	rc = ag_doctor_run(cfg, NULL, 0, f);
	fclose(f);
	config_free(cfg);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(buf, "PASS  module loads "));
	assert_non_null(strstr(buf, "FAIL  certificate chain "));
	assert_non_null(
	    strstr(buf, "      explains: 「" SEED_COMPONENT "」\n"));
	assert_non_null(strstr(buf, "      error:    UK-3100 "));
	assert_non_null(strstr(buf, "      remedy:   "));
	assert_non_null(strstr(buf, "SKIP  clock "));
	assert_non_null(strstr(buf, "      「登录密码错误」 UK-4101: "));
	assert_non_null(strstr(buf, "\nsummary: "));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_good, setup_pcsc),
		cmocka_unit_test_setup(test_pcscd_stopped, setup_pcsc),
		cmocka_unit_test_setup(test_no_reader, setup_pcsc),
		cmocka_unit_test_setup(test_no_card, setup_pcsc),
		cmocka_unit_test_setup(test_module_wrong, setup),
		cmocka_unit_test_setup(test_token_locked, setup),
		cmocka_unit_test_setup(test_guard_locked, setup),
		cmocka_unit_test_setup(test_cert_expired, setup),
		cmocka_unit_test_setup(test_no_certificate, setup),
		cmocka_unit_test_setup(test_untrusted_ca, setup),
		cmocka_unit_test_setup(test_agent_port, setup),
		cmocka_unit_test_setup(test_origins, setup),
		cmocka_unit_test_setup(test_clock, setup),
		cmocka_unit_test_setup(test_pinentry, setup),
		cmocka_unit_test_setup(test_elsewhere, setup),
		cmocka_unit_test_setup(test_text, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
