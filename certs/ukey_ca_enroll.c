/* certs/ukey_ca_enroll.c: ukey-ca enroll: a key pair generated on an operator's UKey, certified by the CA and written back to the token. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/ca.h"
#include "certs/csr.h"
#include "certs/ukey_ca.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"
#include "common/timeutil.h"
#include "pkcs11/token.h"

/* Most certificates a unit may hold at once (ca_issue enforces it). */
#define ENROLL_UNIT_LIMIT 2

static const char enroll_help[] =
    "usage: ukey-ca -d DB enroll --module PATH --token SERIAL --unit UNIT\n"
    "           --operator OP [--key-type ec|rsa] [--profile "
    "operator|staff]\n"
    "           [--days N] [--label L] [--pin-fd N] [--pass-fd N] "
    "[--out FILE]\n\n"
    "Generates a key pair on the UKey (user login), has the token sign a\n"
    "request for CN=OP, OU=UNIT, issues the certificate (the unit's limit,\n"
    "durability and audit as for issue) and stores it on the token with\n"
    "the key's CKA_ID.\n\n"
    "  --module PATH    the token's PKCS#11 module (absolute path); it must\n"
    "                   be [ca] pkcs11_module, on [ca] "
    "pkcs11_module_allowlist,\n"
    "                   or the module given with -m\n"
    "  --token SERIAL   serial number of the UKey\n"
    "  --unit UNIT      unit id the certificate is bound to\n"
    "  --operator OP    operator the certificate is bound to\n"
    "  --key-type T     ec (P-256, default) or rsa (2048)\n"
    "  --profile P      operator (default) or staff\n"
    "  --days N         validity, 1 to 3650 (default: the profile's)\n"
    "  --label L        label of the key and certificate (default: OP)\n"
    "  --pin-fd N       read the UKey's user PIN from descriptor N\n"
    "  --pass-fd N      read the CA key's passphrase (or the CA token's\n"
    "                   PIN; also --ca-pin-fd) from descriptor N\n"
    "  --out FILE       also write the certificate (PEM) to FILE\n";

/* What the command line asked for. */
struct enroll_args {
	const char *module, *serial, *label, *out;
	struct ca_issue_req req;
	enum p11_key_type key_type;
	int pin_fd, ca_fd;
};

/* Reads a descriptor option once into *fd; 0 or UK_ERR_USAGE (printed). */
static int
enroll_fd(const char *opt, const char *s, int *fd)
{
	if (*fd >= 0) {
		uk_cli_error(UK_ERR_USAGE, "give %s once", opt);
		return UK_ERR_USAGE;
	}
	if (ukca_parse_int(s, 0, 1023, fd) != 0) {
		uk_cli_error(UK_ERR_USAGE, "bad descriptor number \"%s\"", s);
		return UK_ERR_USAGE;
	}
	return 0;
}

/* Parses argv into a; returns -1 to go on, else an exit status. */
static int
enroll_parse(int argc, char **argv, struct enroll_args *a)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'M' },
		{ "token", required_argument, NULL, 't' },
		{ "unit", required_argument, NULL, 'u' },
		{ "operator", required_argument, NULL, 'o' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "profile", required_argument, NULL, 'P' },
		{ "days", required_argument, NULL, 'D' },
		{ "label", required_argument, NULL, 'l' },
		{ "pin-fd", required_argument, NULL, 'i' },
		{ "pass-fd", required_argument, NULL, 'p' },
		{ "ca-pin-fd", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			a->module = optarg;
			break;
		case 't':
			a->serial = optarg;
			break;
		case 'u':
			a->req.unit = optarg;
			break;
		case 'o':
			a->req.operator= optarg;
			break;
		case 'k':
			if (strcmp(optarg, "ec") == 0)
				a->key_type = P11_KEY_EC_P256;
			else if (strcmp(optarg, "rsa") == 0)
				a->key_type = P11_KEY_RSA_2048;
			else
				return ukca_fail(UK_ERR_USAGE,
				    "--key-type is ec or rsa");
			break;
		case 'P':
			if (ca_profile_parse(optarg, &a->req.profile) != 0 ||
			    a->req.profile == CA_PROFILE_OCSP)
				return ukca_fail(UK_ERR_USAGE,
				    "--profile is operator or staff");
			break;
		case 'D':
			if (ukca_parse_int(optarg, 1, 3650, &a->req.days) != 0)
				return ukca_fail(UK_ERR_USAGE,
				    "--days is 1 to 3650");
			break;
		case 'l':
			a->label = optarg;
			break;
		case 'i':
			if (enroll_fd("--pin-fd", optarg, &a->pin_fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		case 'p':
			if (enroll_fd("--pass-fd", optarg, &a->ca_fd) != 0)
				return UKCA_EXIT_USAGE;
			break;
		case 'O':
			a->out = optarg;
			break;
		case 'h':
			fputs(enroll_help, stdout);
			return UKCA_EXIT_OK;
		default:
			fputs(enroll_help, stderr);
			return UKCA_EXIT_USAGE;
		}
	}
	if (optind != argc || a->module == NULL || a->serial == NULL ||
	    a->req.unit == NULL || a->req.operator== NULL) {
		fputs(enroll_help, stderr);
		return UKCA_EXIT_USAGE;
	}
	if (a->label == NULL)
		a->label = a->req.operator;
	if (a->module[0] != '/')
		return ukca_fail(UK_ERR_USAGE, "--module is an absolute path");
	if (a->label[0] == '\0' || strlen(a->label) > P11_LABEL_MAX)
		return ukca_fail(UK_ERR_USAGE,
		    "--label is 1 to 128 bytes (the default is the operator)");
	if (a->pin_fd >= 0 && a->pin_fd == a->ca_fd)
		return ukca_fail(UK_ERR_USAGE,
		    "--pin-fd and --pass-fd must be different descriptors");
	return -1;
}

/* Whether module may be loaded: the check token CA keys pass, and the
 * [ca] pkcs11_module of the file as well when -m replaced it. */
static int
module_allowed(const struct ukca_ctx *ctx, const char *module)
{
	const char *file_mod = config_str(ctx->cfg, "ca", "pkcs11_module");

	return ca_p11_module_allowed(&ctx->ca_cfg, module) ||
	    (file_mod != NULL && strcmp(file_mod, module) == 0);
}

/* Counts unit's active, unexpired certificates into *n. */
static int
unit_active(struct ca *ca, const char *unit, size_t *n)
{
	struct ca_cert_info *v = NULL;
	size_t i, nv = 0;
	int64_t now = (int64_t)time(NULL);
	int r;

	*n = 0;
	if ((r = ca_list(ca, unit, &v, &nv)) != 0)
		return r;
	for (i = 0; i < nv; i++)
		if (v[i].status != NULL && strcmp(v[i].status, "active") == 0 &&
		    v[i].not_after > now)
			(*n)++;
	ca_cert_info_free(v, nv);
	return 0;
}

/* The subject CN=<operator>, OU=<unit>. */
static int
enroll_subject(const struct ca_issue_req *req, X509_NAME **out)
{
	X509_NAME *n;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((n = X509_NAME_new()) == NULL)
		goto out;
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	        (const unsigned char *)req->operator, - 1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
	        (const unsigned char *)req->unit, -1, -1, 0)) {
		r = UK_ERR_USAGE;
		goto out;
	}
	*out = n;
	n = NULL; /* transferred */
	r = 0;
out:
	X509_NAME_free(n);
	return r;
}

/* The request req as the CA's CSR intake parses it (DER). */
static int
enroll_csr(const struct ukca_ctx *ctx, X509_REQ *xr, struct ca_csr **out,
    char *err, size_t errlen)
{
	unsigned char *der = NULL;
	int len, r = UK_ERR_NOMEM;

	*out = NULL;
	if ((len = i2d_X509_REQ(xr, &der)) <= 0)
		goto out;
	r = ca_csr_parse(der, (size_t)len, ctx->ca_cfg.min_rsa_bits, out, err,
	    errlen);
out:
	OPENSSL_free(der);
	return r;
}

/* Writes cert as PEM to path; 0 or UK_ERR_*. */
static int
enroll_write(const char *path, X509 *cert)
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	int r = UK_ERR_NOMEM;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (!PEM_write_bio_X509(bio, cert))
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	r = ukca_write_out(path, mem->data, mem->length);
out:
	BIO_free(bio);
	return r;
}

/* Prints what was enrolled. */
static void
enroll_report(const struct enroll_args *a, const struct ca_issued *is,
    const char *id_hex)
{
	char nb[32], na[32];
	FILE *f = a->out != NULL && strcmp(a->out, "-") == 0 ? stderr : stdout;

	time_rfc3339(is->not_before, nb, sizeof(nb));
	time_rfc3339(is->not_after, na, sizeof(na));
	fprintf(f, "serial: %s\n", is->serial);
	fprintf(f, "unit: %s\n", a->req.unit);
	fprintf(f, "operator: %s\n", a->req.operator);
	fprintf(f, "profile: %s\n",
	    ca_profile_name(
	        a->req.profile ? a->req.profile : CA_PROFILE_OPERATOR));
	fprintf(f, "token: %s\n", a->serial);
	fprintf(f, "key_type: %s\n",
	    a->key_type == P11_KEY_RSA_2048 ? "rsa" : "ec");
	fprintf(f, "key_id: %s\n", id_hex);
	fprintf(f, "label: %s\n", a->label);
	fprintf(f, "not_before: %s\n", nb);
	fprintf(f, "not_after: %s\n", na);
	fprintf(f, "event: %s\n", is->event_id);
	fflush(f);
}

/* " (CKR_...)" naming the CK_RV of p11's last failure, or "" when it had
 * none. Static storage. */
static const char *
rv_note(const struct p11_ctx *p11)
{
	static char buf[80];
	CK_RV rv = p11 != NULL ? p11_last_rv(p11) : P11_RV_NONE;

	if (rv == CKR_OK || rv == P11_RV_NONE)
		return "";
	snprintf(buf, sizeof(buf), " (%s)", p11_rv_name(rv));
	return buf;
}

/* Says that the key generated with id_hex stays on the token. */
static void
enroll_key_left(const struct enroll_args *a, const char *id_hex)
{
	fprintf(stderr,
	    "ukey-ca: the key pair generated for this enrolment (id %s, "
	    "label \"%s\") stays on token %s without a certificate; delete it "
	    "with: pkcs11-tool --module %s --login --delete-object "
	    "--type privkey --id %s (and --type pubkey)\n",
	    id_hex, a->label, a->serial, a->module, id_hex);
}

/*
 * Reports that certificate is was issued and is in the store but could not
 * be written to the token (code r): never a success, and never the generic
 * "retry" remedy, since enrolling again would certify a second key for the
 * unit. Writes the --out copy when one was asked for.
 */
static void
enroll_not_stored(const struct enroll_args *a, const struct ca_issued *is,
    int r, const char *note, const char *id_hex)
{
	fprintf(stderr,
	    "ukey-ca: error %s: %s: certificate %s was issued and stored by "
	    "the CA, but writing it to token %s failed%s\n",
	    uk_error_id(r), uk_strerror(r), is->serial, a->serial, note);
	fprintf(stderr,
	    "ukey-ca: do not enroll again (it counts towards unit %s's "
	    "limit); install it: ukey-ca show --serial %s --out F.pem && "
	    "openssl x509 -in F.pem -outform DER -out F.der && pkcs11-tool "
	    "--module %s --login --write-object F.der --type cert --id %s; "
	    "or revoke it: ukey-ca revoke --serial %s --reason "
	    "cessationOfOperation\n",
	    a->req.unit, is->serial, a->module, id_hex, is->serial);
	if (a->out != NULL && enroll_write(a->out, is->cert) == 0)
		fprintf(stderr, "ukey-ca: a copy of the certificate is in %s\n",
		    a->out);
}

int
ukca_cmd_enroll(struct ukca_ctx *ctx, int argc, char **argv)
{
	struct enroll_args a;
	struct ca_issued is;
	struct store *st = NULL;
	struct ca *ca = NULL;
	struct secret *pass = NULL, *pin = NULL;
	struct p11_ctx *p11 = NULL;
	struct p11_token *tok = NULL;
	struct p11_id id;
	struct ca_csr *csr = NULL;
	X509_NAME *subject = NULL;
	X509_REQ *xr = NULL;
	const char *allow[2];
	char prompt[128], err[256], id_hex[2 * P11_ID_MAX + 1] = "";
	size_t nactive = 0;
	int ex = UKCA_EXIT_ERROR, r, logged_in = 0, have_key = 0;

	memset(&a, 0, sizeof(a));
	memset(&is, 0, sizeof(is));
	memset(&id, 0, sizeof(id));
	a.key_type = P11_KEY_EC_P256;
	a.pin_fd = a.ca_fd = -1;
	if ((ex = enroll_parse(argc, argv, &a)) >= 0)
		return ex;
	ex = UKCA_EXIT_ERROR;
	a.req.actor = ctx->actor;

	/* Refusals before anything is loaded or generated. */
	if (!module_allowed(ctx, a.module)) {
		uk_cli_error(UK_ERR_TOKEN_MODULE_NOT_ALLOWED,
		    "%s is neither [ca] pkcs11_module, nor on "
		    "[ca] pkcs11_module_allowlist, nor given with -m",
		    a.module);
		goto out;
	}
	if (a.out != NULL && ukca_check_out(a.out) != 0)
		goto out;
	if ((r = enroll_subject(&a.req, &subject)) != 0) {
		ex = ukca_fail(r, "the unit or operator cannot be a name");
		goto out;
	}
	if ((ex = ukca_open_ca(ctx, &st, &ca)) != 0)
		goto out;
	ex = UKCA_EXIT_ERROR;
	/* ca_issue enforces the limit; asking first keeps a full unit from
	 * leaving a key pair without certificate on the token. */
	if ((r = unit_active(ca, a.req.unit, &nactive)) != 0) {
		ex = ukca_fail(r, store_last_error(st));
		goto out;
	}
	if (nactive >= ENROLL_UNIT_LIMIT) {
		uk_cli_error(UK_ERR_UNIT_CERT_LIMIT,
		    "unit %s already holds %zu active certificates; nothing "
		    "was generated on the token",
		    a.req.unit, nactive);
		goto out;
	}
	if ((ex = ukca_ca_secret(ca, a.ca_fd, &pass)) != 0)
		goto out;
	ex = UKCA_EXIT_ERROR;
	if ((r = ca_unlock(ca, pass)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	secret_free(pass);
	pass = NULL;

	/* The operator's token. */
	snprintf(prompt, sizeof(prompt), "User PIN of UKey %.64s: ", a.serial);
	if ((ex = ukca_secret(a.pin_fd, prompt, 0, &pin)) != 0)
		goto out;
	ex = UKCA_EXIT_ERROR;
	allow[0] = a.module;
	allow[1] = NULL;
	if ((r = p11_ctx_new(a.module, allow, &p11)) != 0) {
		uk_cli_error(r, "cannot load %s", a.module);
		goto out;
	}
	if ((r = p11_token_open(p11, a.serial, &tok)) != 0) {
		uk_cli_error(r, "no token with serial %s", a.serial);
		goto out;
	}
	r = p11_login(tok, pin);
	secret_free(pin);
	pin = NULL;
	if (r != 0) {
		uk_cli_error(r,
		    "user login on token %s failed%s; nothing was generated",
		    a.serial, rv_note(p11));
		goto out;
	}
	logged_in = 1;
	if ((r = p11_keygen(tok, a.key_type, a.label, NULL, &id)) != 0) {
		uk_cli_error(r, "key generation on token %s failed%s", a.serial,
		    rv_note(p11));
		goto out;
	}
	have_key = 1;
	if (p11_id_to_hex(&id, id_hex, sizeof(id_hex)) != 0)
		id_hex[0] = '\0';
	if ((r = p11_csr(tok, &id, subject, &xr)) != 0) {
		uk_cli_error(r, "the token could not sign the request%s",
		    rv_note(p11));
		goto out;
	}
	if ((r = enroll_csr(ctx, xr, &csr, err, sizeof(err))) != 0) {
		uk_cli_error(r, "the token's request was refused: %s", err);
		goto out;
	}
	if ((r = ca_issue(ca, csr, &a.req, &is)) != 0) {
		ex = ukca_fail(r, ca_errmsg(ca));
		goto out;
	}
	have_key = 0; /* certified: no longer a stray key */

	/* Issued and durable in the store from here on. */
	if ((r = p11_store_cert(tok, &id, a.label, is.cert)) != 0) {
		enroll_not_stored(&a, &is, r, rv_note(p11), id_hex);
		goto out;
	}
	if ((r = p11_logout(tok)) != 0)
		ukca_warn("logging out of token %s failed: %s", a.serial,
		    uk_strerror(r));
	logged_in = 0;
	if (a.out != NULL && (r = enroll_write(a.out, is.cert)) != 0) {
		uk_cli_error(r,
		    "certificate %s is on the token and in the store, but "
		    "writing %s failed; get it with: ukey-ca show --serial %s "
		    "--out FILE",
		    is.serial, a.out, is.serial);
		goto out;
	}
	enroll_report(&a, &is, id_hex);
	ex = UKCA_EXIT_OK;
out:
	if (have_key)
		enroll_key_left(&a, id_hex);
	if (logged_in)
		(void)p11_logout(tok);
	p11_token_free(tok);
	p11_ctx_free(p11);
	secret_free(pin);
	secret_free(pass);
	ca_issued_clear(&is);
	ca_csr_free(csr);
	X509_REQ_free(xr);
	X509_NAME_free(subject);
	ca_free(ca);
	store_close(st);
	return ex;
}
