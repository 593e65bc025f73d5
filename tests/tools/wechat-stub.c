/* tests/tools/wechat-stub.c: a stand-in WeChat OAuth2 server (snsapi_base) on 127.0.0.1 for tests and the demo. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "common/rnd.h"
#include "common/secret.h"
#include "tests/lib/testsrv.h"

/*
 * Usage: wechat-stub [--port N] [--appid ID] [--secret-file FILE]
 *                    [--code-ttl SECONDS]
 *
 * Speaks the two endpoints of WeChat's web OAuth2 with the real parameter
 * names and error format:
 *
 * GET /connect/oauth2/authorize?appid=&redirect_uri=&response_type=code
 *     &scope=snsapi_base&state=
 *   302 to redirect_uri?code=CODE&state=STATE (or &code=... when
 *   redirect_uri has a query). The "WeChat user logged in on the phone" is
 *   the openid given by the test in the query parameter stub_openid (or
 *   the cookie stub_openid); default o6_bmjrPTlm6_2sgVt7hMZOPfL2M. A
 *   wrong appid, response_type, scope or redirect_uri is answered 400
 *   with {"errcode":N,"errmsg":"..."} (real WeChat shows an error page).
 *
 * GET /sns/oauth2/access_token?appid=&secret=&code=
 *     &grant_type=authorization_code
 *   200 {"access_token","expires_in":7200,"refresh_token","openid",
 *   "scope":"snsapi_base"} for a code this stub issued, once; errors, also
 *   with status 200 as WeChat does: {"errcode":40125,"errmsg":"invalid
 *   appsecret"} (wrong appid or secret), 40002 "invalid grant_type",
 *   41008 "missing code", 40029 "invalid code" (unknown or older than
 *   --code-ttl, default 300 s), 40163 "code been used".
 *
 * The appid defaults to wx0123456789abcdef; the secret is read from the
 * first line of --secret-file (never from the command line), default
 * "stub-app-secret". Prints "listening PORT" when ready; stops on SIGTERM
 * or SIGINT. Test use only.
 */

#define CODES_MAX 4096
#define DEFAULT_OPENID "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"

struct code {
	char code[33];
	char openid[129];
	time_t issued;
	int used;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct code codes[CODES_MAX]; /* a ring; guarded by mu */
static unsigned next_code;           /* guarded by mu */
static const char *appid = "wx0123456789abcdef";
static struct secret *app_secret;
static long code_ttl = 300;

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *body,
    const char *location)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	    location != NULL ? "text/html" : "application/json; charset=utf-8");
	if (location != NULL)
		MHD_add_response_header(resp, "Location", location);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
wx_error(struct MHD_Connection *c, unsigned status, int errcode,
    const char *errmsg)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"errcode\":%d,\"errmsg\":\"%s\"}",
	    errcode, errmsg);
	return answer(c, status, body, NULL);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int
openid_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) > 128)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		        s[i] == '-'))
			return 0;
	return 1;
}

/* Percent-encodes s into out (size bytes). Returns 0 or -1 (too long). */
static int
pct(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (o + 4 > size)
			return -1;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static enum MHD_Result
authorize(struct MHD_Connection *c)
{
	const char *ai = arg(c, "appid"), *ru = arg(c, "redirect_uri");
	const char *rt = arg(c, "response_type"), *sc = arg(c, "scope");
	const char *state = arg(c, "state"), *oid = arg(c, "stub_openid");
	char st_enc[512], loc[4096];
	struct code *k;
	int n;

	if (oid == NULL)
		oid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
		    "stub_openid");
	if (oid == NULL)
		oid = DEFAULT_OPENID;
	if (ai == NULL || strcmp(ai, appid) != 0)
		return wx_error(c, 400, 40013, "invalid appid");
	if (ru == NULL ||
	    (strncmp(ru, "http://", 7) != 0 && strncmp(ru, "https://", 8) != 0))
		return wx_error(c, 400, 10003, "redirect_uri domain error");
	if (rt == NULL || strcmp(rt, "code") != 0)
		return wx_error(c, 400, 10004, "response_type error");
	if (sc == NULL ||
	    (strcmp(sc, "snsapi_base") != 0 &&
	        strcmp(sc, "snsapi_userinfo") != 0))
		return wx_error(c, 400, 10005, "scope invalid");
	if (!openid_ok(oid))
		return wx_error(c, 400, 40003, "invalid openid");
	if (pct(state != NULL ? state : "", st_enc, sizeof(st_enc)) != 0)
		return wx_error(c, 400, 10009, "state too long");
	pthread_mutex_lock(&mu);
	k = &codes[next_code++ % CODES_MAX];
	memset(k, 0, sizeof(*k));
	if (rnd_hex(k->code, 16) != 0) {
		pthread_mutex_unlock(&mu);
		return wx_error(c, 500, -1, "system error");
	}
	snprintf(k->openid, sizeof(k->openid), "%s", oid);
	k->issued = time(NULL);
	n = snprintf(loc, sizeof(loc), "%s%ccode=%s&state=%s", ru,
	    strchr(ru, '?') != NULL ? '&' : '?', k->code, st_enc);
	pthread_mutex_unlock(&mu);
	if (n < 0 || (size_t)n >= sizeof(loc))
		return wx_error(c, 400, 10003, "redirect_uri domain error");
	return answer(c, 302, "", loc);
}

static enum MHD_Result
access_token(struct MHD_Connection *c)
{
	const char *ai = arg(c, "appid"), *sec = arg(c, "secret");
	const char *code = arg(c, "code"), *gt = arg(c, "grant_type");
	char at[65], rt[65], body[1024], openid[129];
	unsigned i;
	int found = 0, used = 0, expired = 0;
	time_t now = time(NULL);

	if (ai == NULL || strcmp(ai, appid) != 0 || sec == NULL ||
	    strlen(sec) != app_secret->len ||
	    CRYPTO_memcmp(sec, app_secret->buf, app_secret->len) != 0)
		return wx_error(c, 200, 40125, "invalid appsecret");
	if (gt == NULL || strcmp(gt, "authorization_code") != 0)
		return wx_error(c, 200, 40002, "invalid grant_type");
	if (code == NULL || *code == '\0')
		return wx_error(c, 200, 41008, "missing code");
	pthread_mutex_lock(&mu);
	for (i = 0; i < CODES_MAX; i++) {
		if (codes[i].code[0] == '\0' ||
		    strcmp(codes[i].code, code) != 0)
			continue;
		found = 1;
		if (now - codes[i].issued >= code_ttl)
			expired = 1;
		else if (codes[i].used)
			used = 1;
		codes[i].used = 1;
		snprintf(openid, sizeof(openid), "%s", codes[i].openid);
		break;
	}
	pthread_mutex_unlock(&mu);
	if (!found || expired)
		return wx_error(c, 200, 40029, "invalid code");
	if (used)
		return wx_error(c, 200, 40163, "code been used");
	if (rnd_hex(at, 32) != 0 || rnd_hex(rt, 32) != 0)
		return wx_error(c, 200, -1, "system error");
	snprintf(body, sizeof(body),
	    "{\"access_token\":\"%s\",\"expires_in\":7200,"
	    "\"refresh_token\":\"%s\",\"openid\":\"%s\","
	    "\"scope\":\"snsapi_base\"}",
	    at, rt, openid);
	return answer(c, 200, body, NULL);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = c; /* headers seen; answer on the next call */
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0)
		return wx_error(c, 405, -1, "method not allowed");
	if (strcmp(url, "/connect/oauth2/authorize") == 0)
		return authorize(c);
	if (strcmp(url, "/sns/oauth2/access_token") == 0)
		return access_token(c);
	return wx_error(c, 404, -1, "not found");
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const char *secret_file = NULL;
	sigset_t set;
	long port = 0;
	char *end;
	int i;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--port") == 0) {
			errno = 0;
			port = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || port < 0 ||
			    port > 65535)
				goto usage;
		} else if (strcmp(argv[i], "--code-ttl") == 0) {
			errno = 0;
			code_ttl = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || code_ttl < 1)
				goto usage;
		} else if (strcmp(argv[i], "--appid") == 0) {
			appid = argv[++i];
		} else if (strcmp(argv[i], "--secret-file") == 0) {
			secret_file = argv[++i];
		} else
			goto usage;
	}
	if (secret_file != NULL) {
		if ((f = fopen(secret_file, "r")) == NULL) {
			fprintf(stderr, "wechat-stub: cannot open %s\n",
			    secret_file);
			return 1;
		}
		i = secret_read_fd(fileno(f), &app_secret);
		fclose(f);
		if (i != 0) {
			fprintf(stderr, "wechat-stub: cannot read %s\n",
			    secret_file);
			return 1;
		}
	} else if ((app_secret = secret_from("stub-app-secret", 15)) == NULL)
		return 1;
	testsrv_signals(&set);
	if ((d = testsrv_start("wechat-stub", port, handler, NULL, 30, NULL)) ==
	    NULL)
		return 1;
	testsrv_wait(d, &set);
	secret_free(app_secret);
	return 0;
usage:
	fprintf(stderr,
	    "usage: wechat-stub [--port N] [--appid ID] [--secret-file FILE] "
	    "[--code-ttl SECONDS]\n");
	return 2;
}
