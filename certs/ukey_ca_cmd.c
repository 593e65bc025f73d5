/* certs/ukey_ca_cmd.c: the subcommands of ukey-ca: init, issue, revoke, reissue, list, show, crl, export-ca, ocsp, verify, check-config. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "certs/ca_key.h"
#include "certs/csr.h"
#include "certs/ocsp.h"
#include "certs/ukey_ca.h"
#include "certs/verify.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "common/timeutil.h"

/* Most files given to verify of one kind. */
#define VERIFY_MAX_FILES 64

/* Largest certificate file read by verify. */
#define CERT_FILE_MAX (1024 * 1024)

/* Parses the common --help and an unknown option; returns -1 to go on. */
static int
help_or_usage(int c, const char *help)
{
	if (c == 'h') {
		fputs(help, stdout);
		return UKCA_EXIT_OK;
	}
	fputs(help, stderr);
	return UKCA_EXIT_USAGE;
}

/* Whether there is a terminal to ask on. */
static int
have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/*
 * The OCSP signer key's own passphrase: from fd (--ocsp-pass-fd) or a
 * terminal prompt (twice when confirm). Without either it is a usage
 * error: the CA's passphrase is never used for the responder's key.
 */
static int
ocsp_secret(int fd, int confirm, struct secret **out)
{
	*out = NULL;
	if (fd < 0 && !have_tty())
		return ukca_fail(UK_ERR_USAGE,
		    "the OCSP signer key has a passphrase of its own: give "
		    "it with --ocsp-pass-fd N (there is no terminal to ask "
		    "on)");
	return ukca_secret(fd,
	    confirm ? "New passphrase for the OCSP signer key (not the CA's): "
	            : "Passphrase for the OCSP signer key (not the CA's): ",
	    confirm, out);
}

/* Reads the descriptor option's value. */
static int
parse_fd(const char *s, int *fd)
{
	if (*fd >= 0) {
		uk_cli_error(UK_ERR_USAGE,
		    "give the secret's descriptor once (--pass-fd or "
		    "--pin-fd)");
		return UK_ERR_USAGE;
	}
	if (ukca_parse_int(s, 0, 1023, fd) != 0) {
		uk_cli_error(UK_ERR_USAGE, "bad descriptor number \"%s\"", s);
		return UK_ERR_USAGE;
	}
	return 0;
}

/* PEM text of x, malloc'd into *out / *len. */
static int
cert_pem(X509 *x, char **out, size_t *len)
{
	BIO *bio;
	BUF_MEM *mem;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return UK_ERR_NOMEM;
	if (PEM_write_bio_X509(bio, x)) {
		BIO_get_mem_ptr(bio, &mem);
		if ((*out = malloc(mem->length + 1)) != NULL) {
			memcpy(*out, mem->data, mem->length);
			(*out)[mem->length] = '\0';
			*len = mem->length;
			r = 0;
		}
	}
	BIO_free(bio);
	return r;
}

static void
print_time(FILE *f, const char *label, time_t t)
{
	char buf[32];

	time_rfc3339(t, buf, sizeof(buf));
	fprintf(f, "%s: %s\n", label, buf);
}

/* Warns when issued certificates will carry no CDP / AIA. */
static void
warn_urls(const struct ukca_ctx *ctx)
{
	if (ctx->ca_cfg.crl_url == NULL)
		ukca_warn("no [ca] crl_url configured: certificates carry no "
		          "CRL distribution point");
	if (ctx->ca_cfg.ocsp_url == NULL)
		ukca_warn("no [ca] ocsp_url configured: certificates carry no "
		          "OCSP responder (AIA)");
}

/* Reads and checks a CSR file; prints errors. */
static int
read_csr(const struct ukca_ctx *ctx, const char *path, struct ca_csr **out)
{
	unsigned char *buf = NULL;
	char err[256];
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, CA_CSR_MAX, &buf, &len)) != 0) {
		if (r == UK_ERR_LIMIT)
			return ukca_fail(UK_ERR_CSR_MALFORMED,
			    "the request is larger than 64 KiB");
		return ukca_fail(r, "cannot read the request file");
	}
	r = ca_csr_parse(buf, len, ctx->ca_cfg.min_rsa_bits, out, err,
	    sizeof(err));
	free(buf);
	if (r == UK_ERR_LIMIT)
		r = UK_ERR_CSR_MALFORMED;
	if (r != 0)
		return ukca_fail(r, err);
	return 0;
}

/* Writes the issued certificate and prints what was issued. */
static int
report_issued(const char *out, const struct ca_issued *is, const char *unit,
    const char *operator, const char * profile)
{
	char *pem = NULL;
	size_t len = 0;
	FILE *f = strcmp(out, "-") == 0 ? stderr : stdout;
	int r;

	if ((r = cert_pem(is->cert, &pem, &len)) != 0 ||
	    (r = ukca_write_out(out, pem, len)) != 0) {
		free(pem);
		uk_cli_error(r,
		    "certificate %s was issued and stored, but writing %s "
		    "failed; get it with: ukey-ca show --serial %s --out FILE",
		    is->serial, out, is->serial);
		return UKCA_EXIT_ERROR;
	}
	free(pem);
	fprintf(f, "serial: %s\n", is->serial);
	if (unit != NULL)
		fprintf(f, "unit: %s\n", unit);
	if (operator!= NULL)
		fprintf(f, "operator: %s\n", operator);
	if (profile != NULL)
		fprintf(f, "profile: %s\n", profile);
	print_time(f, "not_before", is->not_before);
	print_time(f, "not_after", is->not_after);
	fprintf(f, "event: %s\n", is->event_id);
	fflush(f);
	return UKCA_EXIT_OK;
}

/* ---- init ---- */

static const char init_help[] =
    "usage: ukey-ca -d DB init --name NAME [--key-type ec|rsa|sm2]\n"
    "           (--key-file PATH [--pass-fd N] [--ocsp-pass-fd N] |\n"
    "            --pkcs11-uri URI [--pin-fd N]\n"
    "            [--ocsp-key-file PATH [--ocsp-pass-fd N]])\n\n"
    "Creates the root CA (20 years), the issuing CA (10 years, pathlen 0)\n"
    "and the delegated OCSP signer, and stores them in DB.\n\n"
    "  --name NAME        CA name (subjects \"NAME Root CA\", ...)\n"
    "  --key-type T       ec (P-256, default), rsa (3072), sm2 (key files "
    "only)\n"
    "  --rsa-bits N       RSA key size, 2048 to 8192 (default 3072)\n"
    "  --key-file PATH    issuing CA key, encrypted PKCS#8 PEM; the root\n"
    "                     key goes to PATH.root, the OCSP key to PATH.ocsp\n"
    "  --pass-fd N        read the passphrase from descriptor N (else the\n"
    "                     terminal asks twice)\n"
    "  --ocsp-pass-fd N   read the OCSP signer key's own passphrase (it\n"
    "                     must differ from the CA's) from descriptor N\n"
    "                     (else the terminal asks twice)\n"
    "  --pkcs11-uri URI   keys on a PKCS#11 token (RFC 7512, with\n"
    "                     ?module-path=); labels OBJECT, OBJECT-root,\n"
    "                     OBJECT-ocsp\n"
    "  --pin-fd N         read the token's user PIN from descriptor N\n"
    "  --ocsp-key-file PATH  with a token: the OCSP signer's key in a\n"
    "                     file of its own, so that the responder never\n"
    "                     logs into the CA token\n";

int
ukca_cmd_init(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "key-type", required_argument, NULL, 't' },
		{ "rsa-bits", required_argument, NULL, 'b' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pkcs11-uri", required_argument, NULL, 'u' },
		{ "pin-fd", required_argument, NULL, 'P' },
		{ "ocsp-pass-fd", required_argument, NULL, 'o' },
		{ "ocsp-key-file", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_init_params p;
	struct store *st = NULL;
	struct secret *pass = NULL, *opass = NULL;
	struct ca *ca = NULL;
	char err[600], fp[EVP_MAX_MD_SIZE * 3 + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct tm tm;
	int c, fd = -1, ofd = -1, passfd = 0, pinfd = 0, created = 0, ex, r;

	memset(&p, 0, sizeof(p));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			p.name = optarg;
			break;
		case 't':
			if (ca_key_type_parse(optarg, &p.key_type) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--key-type is ec, rsa or sm2");
			break;
		case 'b':
			if (ukca_parse_int(optarg, 2048, 8192, &p.rsa_bits) !=
			    0)
				return ukca_fail(UK_ERR_USAGE,
				    "--rsa-bits is 2048 to 8192");
			break;
		case 'k':
			p.key_file = optarg;
			break;
		case 'u':
			p.pkcs11_uri = optarg;
			break;
		case 'K':
			p.ocsp_key_file = optarg;
			break;
		case 'o':
			if (ofd >= 0 ||
			    ukca_parse_int(optarg, 0, 1023, &ofd) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--ocsp-pass-fd is one descriptor number");
			break;
		case 'p':
		case 'P':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			passfd |= c == 'p';
			pinfd |= c == 'P';
			break;
		default:
			return help_or_usage(c, init_help);
		}
	}
	if (optind != argc || p.name == NULL ||
	    (p.key_file == NULL) == (p.pkcs11_uri == NULL) ||
	    (passfd && p.key_file == NULL) || (pinfd && p.pkcs11_uri == NULL) ||
	    (p.ocsp_key_file != NULL && p.pkcs11_uri == NULL) ||
	    (ofd >= 0 && p.key_file == NULL && p.ocsp_key_file == NULL) ||
	    (ofd >= 0 && ofd == fd)) {
		fputs(init_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (p.pkcs11_uri != NULL) {
		struct ca_p11_uri *u = NULL;

		if (p.key_type == CA_KEY_SM2)
			return ukca_fail(UK_ERR_CA_KEY_TYPE,
			    "SM2 CA keys are supported in key files only");
		if ((r = ca_p11_uri_parse(p.pkcs11_uri, &u, err,
		         sizeof(err))) != 0)
			return ukca_fail(r, err);
		ca_p11_uri_free(u);
		if (p.ocsp_key_file != NULL) {
			struct stat sb;

			if (lstat(p.ocsp_key_file, &sb) == 0)
				return ukca_fail(UK_ERR_EXISTS,
				    p.ocsp_key_file);
		}
	} else {
		struct stat sb;
		char f[4200];
		static const char *const sfx[] = { "", ".root", ".ocsp" };

		for (i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s%s", p.key_file, sfx[i]);
			if (lstat(f, &sb) == 0)
				return ukca_fail(UK_ERR_EXISTS, f);
		}
	}
	/* Refused before any secret is read. */
	if ((p.key_file != NULL || p.ocsp_key_file != NULL) && ofd < 0 &&
	    !have_tty())
		return ocsp_secret(-1, 1, &opass);
	if ((ex = ukca_secret(fd,
	         p.key_file != NULL ? "New passphrase for the CA keys: "
	                            : "PIN for the CA token: ",
	         p.key_file != NULL, &pass)) != 0)
		return ex;
	p.pass = pass;
	if ((p.key_file != NULL || p.ocsp_key_file != NULL) &&
	    (ex = ocsp_secret(ofd, 1, &opass)) != 0)
		goto out;
	p.ocsp_pass = opass;
	p.actor = ctx->actor;
	created = ukca_db_missing(ctx);
	if ((ex = ukca_open_store(ctx, 0, &st)) != 0)
		goto out;
	if ((r = ca_init(st, &ctx->ca_cfg, &p, &ca, err, sizeof(err))) != 0) {
		ex = ukca_fail(r, err);
		/* Leave nothing behind: not even the empty database. */
		store_close(st);
		st = NULL;
		if (created)
			ukca_db_remove(ctx);
		goto out;
	}
	printf("name: %s\n", ca_name(ca));
	printf("key_type: %s\n", ca_key_type_name(ca_key_type(ca)));
	printf("key_ref: %s\n", ca_key_ref(ca));
	if (X509_digest(ca_root_cert(ca), EVP_sha256(), md, &mdlen)) {
		for (i = 0; i < mdlen; i++) {
			hex_encode_upper(md + i, 1, fp + 3 * i);
			fp[3 * i + 2] = i + 1 < mdlen ? ':' : '\0';
		}
		printf("root_sha256: %s\n", fp);
	}
	if (ASN1_TIME_to_tm(X509_get0_notAfter(ca_issuing_cert(ca)), &tm))
		print_time(stdout, "issuing_not_after", timegm(&tm));
	warn_urls(ctx);
	ex = UKCA_EXIT_OK;
out:
	ca_free(ca);
	store_close(st);
	secret_free(pass);
	secret_free(opass);
	return ex;
}

/* ---- issue ---- */

static const char issue_help[] =
    "usage: ukey-ca -d DB issue --csr FILE --unit UNIT --operator OP\n"
    "           [--profile operator|staff] [--days N] --out FILE\n"
    "           [--pass-fd N | --pin-fd N]\n\n"
    "Issues a certificate for the key and subject of a PKCS#10 request\n"
    "(PEM or DER; its extensions are never copied), bound to the unit and\n"
    "operator. A unit has at most two active certificates. The certificate\n"
    "is stored durably before FILE is written (\"-\": standard output).\n"
    "OCSP signer certificates are never issued here (see init and\n"
    "renew-ocsp).\n";

int
ukca_cmd_issue(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csr", required_argument, NULL, 'r' },
		{ "unit", required_argument, NULL, 'u' },
		{ "operator", required_argument, NULL, 'o' },
		{ "profile", required_argument, NULL, 'P' },
		{ "days", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'O' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_issue_req req;
	struct ca_issued is;
	struct ca_csr *csr = NULL;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL;
	const char *csrfile = NULL, *out = NULL;
	int c, fd = -1, ex, r;

	memset(&req, 0, sizeof(req));
	memset(&is, 0, sizeof(is));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			csrfile = optarg;
			break;
		case 'u':
			req.unit = optarg;
			break;
		case 'o':
			req.operator= optarg;
			break;
		case 'P':
			if (ca_profile_parse(optarg, &req.profile) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--profile is operator or staff");
			if (req.profile == CA_PROFILE_OCSP)
				return ukca_fail(UK_ERR_CA_PROFILE,
				    "--profile ocsp is not issued to requests: "
				    "a delegated OCSP signer can answer "
				    "\"good\" "
				    "for any certificate, so it is made only "
				    "by "
				    "init and renew-ocsp");
			break;
		case 'D':
			if (ukca_parse_int(optarg, 1, 3650, &req.days) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--days is 1 to 3650");
			break;
		case 'O':
			out = optarg;
			break;
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		default:
			return help_or_usage(c, issue_help);
		}
	}
	if (optind != argc || csrfile == NULL || req.unit == NULL ||
	    req.operator== NULL || out == NULL) {
		fputs(issue_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	req.actor = ctx->actor;
	if ((ex = read_csr(ctx, csrfile, &csr)) != 0)
		return ex;
	if (ukca_check_out(out) != 0) {
		ex = UKCA_EXIT_ERROR;
		goto done;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		goto done;
	if ((ex = ukca_ca_secret(ca, fd, &pass)) != 0)
		goto done;
	if ((r = ca_unlock(ca, pass)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	secret_free(pass);
	pass = NULL;
	if ((r = ca_issue(ca, csr, &req, &is)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	ex = report_issued(out, &is, req.unit, req.operator,
	    ca_profile_name(req.profile ? req.profile : CA_PROFILE_OPERATOR));
	warn_urls(ctx);
done:
	ca_issued_clear(&is);
	secret_free(pass);
	ca_csr_free(csr);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- revoke ---- */

static const char revoke_help[] =
    "usage: ukey-ca -d DB revoke --serial HEX --reason REASON\n\n"
    "Revokes an active certificate, durably, and tells OCSP responders.\n"
    "REASON: unspecified, keyCompromise, cACompromise, affiliationChanged,\n"
    "superseded, cessationOfOperation, privilegeWithdrawn.\n";

int
ukca_cmd_revoke(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *st = NULL;
	struct ca *ca = NULL;
	const char *serial = NULL, *reason = NULL;
	char sn[CA_SERIAL_HEX_MAX], ev[33];
	int c, code = 0, ex, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			serial = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		default:
			return help_or_usage(c, revoke_help);
		}
	}
	if (optind != argc || serial == NULL || reason == NULL) {
		fputs(revoke_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (ca_reason_parse(reason, &code) != 0)
		return ukca_fail(UK_ERR_CA_REASON, reason);
	if (ca_serial_normalise(serial, sn) != 0)
		return ukca_fail(UK_ERR_INPUT, "--serial is the hex serial");
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if ((r = ca_revoke(ca, sn, code, ctx->actor, ev)) != 0)
		ex = ukca_fail(r, ca_errmsg(ca));
	else {
		printf("revoked: %s\nreason: %s\nevent: %s\n", sn,
		    ca_reason_name(code), ev);
		ex = UKCA_EXIT_OK;
	}
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- reissue ---- */

static const char reissue_help[] =
    "usage: ukey-ca -d DB reissue --serial HEX --csr FILE --out FILE\n"
    "           [--pass-fd N | --pin-fd N]\n\n"
    "Revokes the certificate (superseded) and issues a new one for the\n"
    "request with the same unit, operator and profile, in one transaction.\n";

int
ukca_cmd_reissue(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "csr", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'O' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_issued is;
	struct ca_csr *csr = NULL;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL;
	const char *serial = NULL, *csrfile = NULL, *out = NULL;
	char sn[CA_SERIAL_HEX_MAX];
	int c, fd = -1, ex, r;

	memset(&is, 0, sizeof(is));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			serial = optarg;
			break;
		case 'r':
			csrfile = optarg;
			break;
		case 'O':
			out = optarg;
			break;
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		default:
			return help_or_usage(c, reissue_help);
		}
	}
	if (optind != argc || serial == NULL || csrfile == NULL ||
	    out == NULL) {
		fputs(reissue_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (ca_serial_normalise(serial, sn) != 0)
		return ukca_fail(UK_ERR_INPUT, "--serial is the hex serial");
	if ((ex = read_csr(ctx, csrfile, &csr)) != 0)
		return ex;
	if (ukca_check_out(out) != 0) {
		ex = UKCA_EXIT_ERROR;
		goto done;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		goto done;
	if ((ex = ukca_ca_secret(ca, fd, &pass)) != 0)
		goto done;
	if ((r = ca_unlock(ca, pass)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	if ((r = ca_reissue(ca, sn, csr, ctx->actor, &is)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	/* Reports go to standard error when the PEM goes to standard output. */
	fprintf(strcmp(out, "-") == 0 ? stderr : stdout,
	    "revoked: %s\nreason: superseded\n", sn);
	ex = report_issued(out, &is, NULL, NULL, NULL);
done:
	ca_issued_clear(&is);
	secret_free(pass);
	ca_csr_free(csr);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- list / show ---- */

static json_t *
info_json(const struct ca_cert_info *e)
{
	json_t *o = json_object();
	char t[32];

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "serial", json_string(e->serial));
	json_object_set_new(o, "unit",
	    e->unit_id ? json_string(e->unit_id) : json_null());
	json_object_set_new(o, "operator",
	    e->operator? json_string(e->operator) : json_null());
	json_object_set_new(o, "profile", json_string(e->profile));
	json_object_set_new(o, "subject", json_string(e->subject));
	json_object_set_new(o, "key_type", json_string(e->key_type));
	json_object_set_new(o, "status", json_string(e->status));
	time_rfc3339((time_t)e->not_before, t, sizeof(t));
	json_object_set_new(o, "not_before", json_string(t));
	time_rfc3339((time_t)e->not_after, t, sizeof(t));
	json_object_set_new(o, "not_after", json_string(t));
	time_rfc3339((time_t)e->issued_at, t, sizeof(t));
	json_object_set_new(o, "issued_at", json_string(t));
	if (e->revoked_at != 0) {
		time_rfc3339((time_t)e->revoked_at, t, sizeof(t));
		json_object_set_new(o, "revoked_at", json_string(t));
		json_object_set_new(o, "reason",
		    json_string(ca_reason_name(e->reason)));
	}
	json_object_set_new(o, "sha256", json_string(e->sha256));
	if (e->replaces != NULL)
		json_object_set_new(o, "replaces", json_string(e->replaces));
	return o;
}

static const char list_help[] =
    "usage: ukey-ca -d DB list [--unit UNIT] [--json]\n\n"
    "Lists certificates (all, or one unit's), oldest first.\n";

int
ukca_cmd_list(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unit", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_cert_info *v = NULL;
	struct store *st = NULL;
	struct ca *ca = NULL;
	const char *unit = NULL;
	json_t *arr = NULL;
	char t[32];
	size_t n = 0, i;
	int c, json = 0, ex, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			unit = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return help_or_usage(c, list_help);
		}
	}
	if (optind != argc) {
		fputs(list_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if ((r = ca_list(ca, unit, &v, &n)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	if (json) {
		if ((arr = json_array()) == NULL) {
			ex = ukca_fail(UK_ERR_NOMEM, NULL);
			goto out;
		}
		for (i = 0; i < n; i++)
			json_array_append_new(arr, info_json(&v[i]));
		if (json_dumpf(arr, stdout, JSON_INDENT(1)) != 0) {
			ex = ukca_fail(UK_ERR_IO, NULL);
			goto out;
		}
		putchar('\n');
	} else {
		printf("%-32s %-8s %-9s %-20s %-10s %s\n", "SERIAL", "STATUS",
		    "PROFILE", "NOT_AFTER", "UNIT", "OPERATOR / SUBJECT");
		for (i = 0; i < n; i++) {
			time_rfc3339((time_t)v[i].not_after, t, sizeof(t));
			printf("%-32s %-8s %-9s %-20s %-10s %s / %s\n",
			    v[i].serial, v[i].status, v[i].profile, t,
			    v[i].unit_id ? v[i].unit_id : "-",
			    v[i].operator? v[i].operator : "-",
			    v[i].subject);
		}
	}
	ex = fflush(stdout) == 0 ? UKCA_EXIT_OK : UKCA_EXIT_ERROR;
out:
	json_decref(arr);
	ca_cert_info_free(v, n);
	ca_free(ca);
	store_close(st);
	return ex;
}

static const char show_help[] =
    "usage: ukey-ca -d DB show --serial HEX [--json] [--out FILE]\n\n"
    "Shows one certificate's record and PEM; --out writes the PEM to FILE.\n";

int
ukca_cmd_show(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "out", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_cert_info *e = NULL;
	struct store *st = NULL;
	struct ca *ca = NULL;
	const char *serial = NULL, *out = NULL;
	json_t *o = NULL;
	X509 *x = NULL;
	char *pem = NULL, t[32];
	size_t len = 0;
	int c, json = 0, ex, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			serial = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'O':
			out = optarg;
			break;
		default:
			return help_or_usage(c, show_help);
		}
	}
	if (optind != argc || serial == NULL) {
		fputs(show_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (out != NULL && ukca_check_out(out) != 0)
		return UKCA_EXIT_ERROR;
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if ((r = ca_show(ca, serial, &e)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	if (e->der == NULL || e->der_len == 0 || e->der[0] != 0x30 ||
	    ca_parse_cert(e->der, e->der_len, &x, NULL, 0) != 0 ||
	    cert_pem(x, &pem, &len) != 0) {
		ex = ukca_fail(UK_ERR_CERT_MALFORMED, "the stored DER");
		goto out;
	}
	if (json) {
		if ((o = info_json(e)) == NULL ||
		    json_object_set_new(o, "pem", json_string(pem)) != 0 ||
		    json_dumpf(o, stdout, JSON_INDENT(1)) != 0) {
			ex = ukca_fail(UK_ERR_NOMEM, NULL);
			goto out;
		}
		putchar('\n');
	} else {
		printf("serial: %s\n", e->serial);
		printf("status: %s\n", e->status);
		if (e->revoked_at != 0) {
			time_rfc3339((time_t)e->revoked_at, t, sizeof(t));
			printf("revoked_at: %s\nreason: %s\n", t,
			    ca_reason_name(e->reason));
		}
		printf("unit: %s\n", e->unit_id ? e->unit_id : "-");
		printf("operator: %s\n", e->operator? e->operator : "-");
		printf("profile: %s\n", e->profile);
		printf("subject: %s\n", e->subject);
		printf("key_type: %s\n", e->key_type);
		print_time(stdout, "not_before", (time_t)e->not_before);
		print_time(stdout, "not_after", (time_t)e->not_after);
		print_time(stdout, "issued_at", (time_t)e->issued_at);
		printf("sha256: %s\n", e->sha256);
		if (e->replaces != NULL)
			printf("replaces: %s\n", e->replaces);
		if (out == NULL)
			fputs(pem, stdout);
	}
	if (out != NULL && ukca_write_out(out, pem, len) != 0) {
		ex = ukca_fail(UK_ERR_IO, out);
		goto out;
	}
	ex = fflush(stdout) == 0 ? UKCA_EXIT_OK : UKCA_EXIT_ERROR;
out:
	json_decref(o);
	free(pem);
	X509_free(x);
	ca_cert_info_free(e, 1);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- crl ---- */

static const char crl_help[] =
    "usage: ukey-ca -d DB crl --out FILE [--der] [--pass-fd N | --pin-fd "
    "N]\n\n"
    "Writes a new full CRL (PEM, or DER with --der) listing every revoked\n"
    "certificate; its CRLNumber is one more than the last one's and is\n"
    "stored before FILE is written.\n";

int
ukca_cmd_crl(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'O' },
		{ "der", no_argument, NULL, 'D' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL;
	X509_CRL *crl = NULL;
	const char *out = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	ASN1_INTEGER *num = NULL;
	const ASN1_TIME *nu;
	struct tm tm;
	int c, fd = -1, der = 0, n, ex, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			out = optarg;
			break;
		case 'D':
			der = 1;
			break;
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		default:
			return help_or_usage(c, crl_help);
		}
	}
	if (optind != argc || out == NULL) {
		fputs(crl_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (ukca_check_out(out) != 0)
		return UKCA_EXIT_ERROR;
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if ((ex = ukca_ca_secret(ca, fd, &pass)) != 0)
		goto done;
	if ((r = ca_unlock(ca, pass)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	if ((r = ca_crl(ca, ctx->actor, &crl)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto done;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !(der ? i2d_X509_CRL_bio(bio, crl)
	          : PEM_write_bio_X509_CRL(bio, crl))) {
		ex = ukca_fail(UK_ERR_NOMEM, NULL);
		goto done;
	}
	BIO_get_mem_ptr(bio, &mem);
	if (ukca_write_out(out, mem->data, mem->length) != 0) {
		ex = ukca_fail(UK_ERR_IO, out);
		goto done;
	}
	if (strcmp(out, "-") != 0) {
		num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		printf("crl_number: %ld\n",
		    num != NULL ? ASN1_INTEGER_get(num) : -1L);
		n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		printf("entries: %d\n", n > 0 ? n : 0);
		if ((nu = X509_CRL_get0_nextUpdate(crl)) != NULL &&
		    ASN1_TIME_to_tm(nu, &tm))
			print_time(stdout, "next_update", timegm(&tm));
	}
	ex = UKCA_EXIT_OK;
done:
	ASN1_INTEGER_free(num);
	BIO_free(bio);
	X509_CRL_free(crl);
	secret_free(pass);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- export-ca ---- */

static const char export_help[] =
    "usage: ukey-ca -d DB export-ca --out FILE [--which "
    "chain|root|issuing|ocsp]\n\n"
    "Writes CA certificates as PEM: chain (default: issuing CA, then root),\n"
    "root, issuing, or the OCSP signer.\n";

int
ukca_cmd_export(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'O' },
		{ "which", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *st = NULL;
	struct ca *ca = NULL;
	const char *out = NULL, *which = "chain";
	BIO *bio = NULL;
	BUF_MEM *mem;
	X509 *a = NULL, *b = NULL;
	int c, ex;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			out = optarg;
			break;
		case 'w':
			which = optarg;
			break;
		default:
			return help_or_usage(c, export_help);
		}
	}
	if (optind != argc || out == NULL ||
	    (strcmp(which, "chain") != 0 && strcmp(which, "root") != 0 &&
	        strcmp(which, "issuing") != 0 && strcmp(which, "ocsp") != 0)) {
		fputs(export_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (ukca_check_out(out) != 0)
		return UKCA_EXIT_ERROR;
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if (strcmp(which, "chain") == 0) {
		a = ca_issuing_cert(ca);
		b = ca_root_cert(ca);
	} else if (strcmp(which, "root") == 0)
		a = ca_root_cert(ca);
	else if (strcmp(which, "issuing") == 0)
		a = ca_issuing_cert(ca);
	else
		a = ca_ocsp_cert(ca);
	if (a == NULL) {
		ex = ukca_fail(UK_ERR_CA_NOT_INITIALISED, "no OCSP signer");
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, a) ||
	    (b != NULL && !PEM_write_bio_X509(bio, b))) {
		ex = ukca_fail(UK_ERR_NOMEM, NULL);
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if (ukca_write_out(out, mem->data, mem->length) != 0) {
		ex = ukca_fail(UK_ERR_IO, out);
		goto out;
	}
	ex = UKCA_EXIT_OK;
out:
	BIO_free(bio);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- ocsp ---- */

static const char ocsp_help[] =
    "usage: ukey-ca -d DB ocsp --listen ADDR:PORT [--pass-fd N | --pin-fd "
    "N]\n\n"
    "Runs the OCSP responder (RFC 6960, GET and POST) for the issuing CA,\n"
    "signing with the delegated OCSP signer's key, until SIGINT/SIGTERM.\n"
    "--pass-fd reads the OCSP signer key's own passphrase (never the\n"
    "CA's); --pin-fd the PIN of the token holding the OCSP signer key.\n"
    "ADDR: 127.0.0.1, [::1], 0.0.0.0 or [::].\n";

int
ukca_cmd_ocsp(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL;
	struct ca_ocsp *o = NULL;
	EVP_PKEY *key = NULL;
	const char *listen = NULL;
	int c, fd = -1, ex, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		default:
			return help_or_usage(c, ocsp_help);
		}
	}
	if (optind != argc || listen == NULL) {
		fputs(ocsp_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if ((ex = ukca_secret(fd,
	         ca_ocsp_key_on_token(ca)
	             ? "PIN for the OCSP signer's token: "
	             : "Passphrase for the OCSP signer key (not the CA's): ",
	         0, &pass)) != 0)
		goto out;
	if ((r = ca_load_ocsp_key(ca, pass, &key)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	secret_free(pass);
	pass = NULL;
	if (X509_cmp_current_time(X509_get0_notAfter(ca_ocsp_cert(ca))) < 0)
		ukca_warn("the OCSP signer certificate has expired: run "
		          "ukey-ca renew-ocsp");
	if ((r = ca_ocsp_new(st, ca_issuing_cert(ca), ca_ocsp_cert(ca), key,
	         ctx->ca_cfg.ocsp_next_update_secs, &o)) != 0) {
		ex = ukca_fail(r, "cannot start the responder");
		goto out;
	}
	ca_ocsp_set_http_max_age(o, ctx->ca_cfg.ocsp_http_max_age);
	uk_log(UK_LOG_INFO, "OCSP responder for %s listening on %s",
	    ca_name(ca), listen);
	if ((r = ca_ocsp_serve(o, listen)) != 0) {
		ex = ukca_fail(r, listen);
		goto out;
	}
	ex = UKCA_EXIT_OK;
out:
	ca_ocsp_free(o);
	EVP_PKEY_free(key);
	secret_free(pass);
	ca_free(ca);
	store_close(st);
	return ex;
}

static const char renew_help[] =
    "usage: ukey-ca -d DB renew-ocsp [--pass-fd N | --pin-fd N]\n"
    "           [--ocsp-pass-fd N]\n\n"
    "Certifies the OCSP signer's key anew (ocsp_days) and makes that the\n"
    "certificate ukey-ca ocsp uses. Restart the responder afterwards.\n"
    "--pass-fd / --pin-fd: the CA key's passphrase or PIN; a key file of\n"
    "the OCSP signer is first opened with its own passphrase\n"
    "(--ocsp-pass-fd, else the terminal) to prove it is still usable.\n";

int
ukca_cmd_renew_ocsp(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "ocsp-pass-fd", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_issued is;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL, *opass = NULL;
	EVP_PKEY *okey = NULL;
	int c, fd = -1, ofd = -1, ex, r;

	memset(&is, 0, sizeof(is));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_fd(optarg, &fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		case 'o':
			if (ofd >= 0 ||
			    ukca_parse_int(optarg, 0, 1023, &ofd) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--ocsp-pass-fd is one descriptor number");
			break;
		default:
			return help_or_usage(c, renew_help);
		}
	}
	if (optind != argc) {
		fputs(renew_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		return ex;
	if (!ca_ocsp_key_on_token(ca)) {
		if ((ex = ocsp_secret(ofd, 0, &opass)) != 0)
			goto out;
		if ((r = ca_load_ocsp_key(ca, opass, &okey)) != 0) {
			ex = ukca_fail(r, ca_errmsg(ca));
			goto out;
		}
		EVP_PKEY_free(okey);
		okey = NULL;
		secret_free(opass);
		opass = NULL;
	} else if (ofd >= 0) {
		ex = ukca_fail(UK_ERR_USAGE,
		    "the OCSP signer key is on a token: no --ocsp-pass-fd");
		goto out;
	}
	if ((ex = ukca_ca_secret(ca, fd, &pass)) != 0)
		goto out;
	if ((r = ca_unlock(ca, pass)) != 0 ||
	    (r = ca_renew_ocsp(ca, ctx->actor, &is)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	printf("serial: %s\n", is.serial);
	print_time(stdout, "not_after", is.not_after);
	printf("event: %s\n", is.event_id);
	ex = UKCA_EXIT_OK;
out:
	ca_issued_clear(&is);
	EVP_PKEY_free(okey);
	secret_free(opass);
	secret_free(pass);
	ca_free(ca);
	store_close(st);
	return ex;
}

/* ---- verify ---- */

static const char verify_help[] =
    "usage: ukey-ca verify --trusted FILE [--trusted FILE ...]\n"
    "           [--untrusted FILE ...] [--crl FILE ...] [--crl-all]\n"
    "           [--at RFC3339] [--purpose clientAuth|serverAuth|any] CERT\n\n"
    "Verifies CERT (PEM or DER) as the gateway does: chain to a trusted\n"
    "certificate, time, purpose (default clientAuth), strict leaf rules,\n"
    "SM2 IDs, and with --crl revocation, fail closed: CERT's issuer needs a\n"
    "current CRL (with --crl-all every certificate's issuer does, as with\n"
    "openssl verify -crl_check_all). Exit status 0 when valid.\n";

int
ukca_cmd_verify(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trusted", required_argument, NULL, 't' },
		{ "untrusted", required_argument, NULL, 'u' },
		{ "crl", required_argument, NULL, 'c' },
		{ "crl-all", no_argument, NULL, 'A' },
		{ "at", required_argument, NULL, 'a' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *trusted[VERIFY_MAX_FILES], *untrusted[VERIFY_MAX_FILES];
	const char *crls[VERIFY_MAX_FILES];
	size_t nt = 0, nu = 0, nc = 0, i;
	struct ca_verify_result res;
	struct ca_verifier *v = NULL;
	enum ca_purpose purpose = CA_PURPOSE_CLIENT_AUTH;
	unsigned char *buf = NULL;
	size_t len = 0;
	char err[256], *subj = NULL;
	X509 *leaf = NULL;
	time_t at = 0;
	int c, ex, r, crl_all = 0;

	(void)ctx;
	ca_verify_result_init(&res);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
		case 'u':
		case 'c':
			if ((c == 't'          ? nt
			            : c == 'u' ? nu
			                       : nc) >= VERIFY_MAX_FILES)
				return ukca_fail(UK_ERR_USAGE,
				    "too many files of one kind");
			if (c == 't')
				trusted[nt++] = optarg;
			else if (c == 'u')
				untrusted[nu++] = optarg;
			else
				crls[nc++] = optarg;
			break;
		case 'A':
			crl_all = 1;
			break;
		case 'a':
			if (time_parse_rfc3339(optarg, &at) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--at is an RFC 3339 time, e.g. "
				    "2026-01-31T12:00:00Z");
			break;
		case 'p':
			if (strcmp(optarg, "clientAuth") == 0)
				purpose = CA_PURPOSE_CLIENT_AUTH;
			else if (strcmp(optarg, "serverAuth") == 0)
				purpose = CA_PURPOSE_SERVER_AUTH;
			else if (strcmp(optarg, "any") == 0)
				purpose = CA_PURPOSE_ANY;
			else
				return ukca_fail(UK_ERR_USAGE,
				    "--purpose is clientAuth, serverAuth or "
				    "any");
			break;
		default:
			return help_or_usage(c, verify_help);
		}
	}
	if (optind + 1 != argc || nt == 0) {
		fputs(verify_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if ((v = ca_verifier_new()) == NULL)
		return ukca_fail(UK_ERR_NOMEM, NULL);
	for (i = 0; i < nt; i++)
		if ((r = ca_verifier_load_file(v, CA_LOAD_ANCHORS,
		         trusted[i])) != 0) {
			snprintf(err, sizeof(err), "%s: %s", trusted[i],
			    ca_verifier_errmsg(v));
			ex = ukca_fail(r, err);
			goto out;
		}
	for (i = 0; i < nu; i++)
		if ((r = ca_verifier_load_file(v, CA_LOAD_INTERMEDIATES,
		         untrusted[i])) != 0) {
			snprintf(err, sizeof(err), "%s: %s", untrusted[i],
			    ca_verifier_errmsg(v));
			ex = ukca_fail(r, err);
			goto out;
		}
	for (i = 0; i < nc; i++)
		if ((r = ca_verifier_load_file(v, CA_LOAD_CRLS, crls[i])) !=
		    0) {
			snprintf(err, sizeof(err), "%s: %s", crls[i],
			    ca_verifier_errmsg(v));
			ex = ukca_fail(r, err);
			goto out;
		}
	if (nc > 0 &&
	    (r = ca_verifier_set_revocation(v, CA_REV_CRL,
	         crl_all ? 0 : CA_REV_LEAF_ONLY)) != 0) {
		ex = ukca_fail(r, NULL);
		goto out;
	}
	ca_verifier_set_time(v, at);
	ca_verifier_set_purpose(v, purpose);
	if ((r = file_read_all(argv[optind], CERT_FILE_MAX, &buf, &len)) != 0) {
		ex = ukca_fail(r == UK_ERR_LIMIT ? UK_ERR_CERT_MALFORMED : r,
		    argv[optind]);
		goto out;
	}
	if ((r = ca_parse_cert(buf, len, &leaf, err, sizeof(err))) != 0) {
		ex = ukca_fail(r, err);
		goto out;
	}
	if ((r = ca_verify(v, leaf, NULL, &res)) != 0) {
		ex = ukca_fail(r, res.message);
		goto out;
	}
	subj = X509_NAME_oneline(X509_get_subject_name(leaf), NULL, 0);
	printf("%s: OK (%s)\n", argv[optind], subj != NULL ? subj : "?");
	ex = UKCA_EXIT_OK;
out:
	OPENSSL_free(subj);
	ca_verify_result_clear(&res);
	X509_free(leaf);
	free(buf);
	ca_verifier_free(v);
	return ex;
}

/* ---- check-config ---- */

static const char check_help[] =
    "usage: ukey-ca check-config -c FILE\n\n"
    "Checks the configuration file and prints the effective [ca] settings\n"
    "(a password in the database URL is not shown). Exit status 0 when\n"
    "the file is valid.\n";

/* Prints a database location with every password replaced (libpq parses
 * URLs and keyword strings alike). Returns 0, or UK_ERR_STORE_URL when the
 * location is one no command accepts. */
static int
print_database(const char *db)
{
	char buf[2048];
	int r;

	r = store_location_redact(db, buf, sizeof(buf));
	printf("database = %s\n", buf);
	if (r != 0)
		return r;
	if (store_location_is_conninfo(db))
		return UK_ERR_STORE_URL;
	return 0;
}

int
ukca_cmd_check_config(struct ukca_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = ctx->config_path, *db;
	char err[512];
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		default:
			return help_or_usage(c, check_help);
		}
	}
	if (optind != argc || path == NULL) {
		fputs(check_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if ((r = ukca_load_config(ctx, path, err, sizeof(err))) != 0)
		return ukca_fail(r, err);
	printf("# %s: valid\n[ca]\n", path);
	db = config_str(ctx->cfg, "ca", "database");
	if (db != NULL && (r = print_database(db)) != 0)
		return ukca_fail(r,
		    "[ca] database must be a file path or a postgresql:// URL "
		    "(keyword connection strings are not supported; "
		    "percent-encode '@' in a password as %40)");
	if (db == NULL)
		printf("# database is unset (give -d)\n");
	if (ctx->ca_cfg.crl_url != NULL)
		printf("crl_url = %s\n", ctx->ca_cfg.crl_url);
	else
		printf("# crl_url is unset: no CRL distribution point\n");
	if (ctx->ca_cfg.ocsp_url != NULL)
		printf("ocsp_url = %s\n", ctx->ca_cfg.ocsp_url);
	else
		printf("# ocsp_url is unset: no OCSP URL (AIA)\n");
	printf("crl_next_update_hours = %ld\n",
	    ctx->ca_cfg.crl_next_update_secs / 3600);
	printf("ocsp_next_update_minutes = %ld\n",
	    ctx->ca_cfg.ocsp_next_update_secs / 60);
	printf("operator_days = %d\n", ctx->ca_cfg.operator_days);
	printf("staff_days = %d\n", ctx->ca_cfg.staff_days);
	printf("ocsp_days = %d\n", ctx->ca_cfg.ocsp_days);
	printf("min_rsa_bits = %d\n", ctx->ca_cfg.min_rsa_bits);
	printf("ocsp_http_max_age = %ld\n", ctx->ca_cfg.ocsp_http_max_age);
	if (ctx->ca_cfg.pkcs11_module != NULL)
		printf("pkcs11_module = %s\n", ctx->ca_cfg.pkcs11_module);
	if (ctx->ca_cfg.pkcs11_module_allowlist != NULL)
		printf("pkcs11_module_allowlist = %s\n",
		    ctx->ca_cfg.pkcs11_module_allowlist);
	return fflush(stdout) == 0 ? UKCA_EXIT_OK : UKCA_EXIT_ERROR;
}
