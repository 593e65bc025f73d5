/* gateway/counter.c: the counter console's CA holder: the CA on its own store connection, its key unlocked at start from [counter] ca_pass_file, one act at a time under a mutex. */
#include "gateway/counter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/ca.h"
#include "certs/ca_conf.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/store.h"

struct gw_counter {
	pthread_mutex_t mu;
	int mu_made;
	struct store *st; /* the CA's own connection */
	struct ca *ca;    /* NULL while the store has no CA */
	int enabled;      /* certificate acts served (key unlocked) */
	int sms;          /* temporary passwords go by SMS */
};

/* Reads the passphrase file path into *out (first line). Warns when others
 * may read it. Returns 0 or an error code (logged). */
static int
read_pass(const char *path, struct secret **out)
{
	struct stat sb;
	int fd, r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		r = UK_ERR_SECRET_READ;
		uk_log_err(r, "[counter] ca_pass_file %s: %s", path,
		    strerror(errno));
		return r;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 0077) != 0)
		uk_log(UK_LOG_WARN,
		    "[counter] ca_pass_file %s may be read by others "
		    "(mode %03o): make it 0600",
		    path, (unsigned)(sb.st_mode & 0777));
	r = secret_read_fd(fd, out);
	close(fd);
	if (r != 0)
		uk_log_err(r, "[counter] ca_pass_file %s", path);
	return r;
}

int
gw_counter_new(const struct config *cfg, struct gw_counter **out)
{
	struct gw_counter *k = NULL;
	struct secret *pass = NULL;
	struct config *cacfg = NULL;
	struct ca_config cc;
	const char *cpath;
	char err[512];
	const char *path, *prov;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		goto out;
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	k->mu_made = 1;
	prov = config_str(cfg, "sms", "provider");
	k->sms = config_bool(cfg, "reset", "enabled") &&
	    (prov == NULL || strcmp(prov, "file") == 0 ||
	        strcmp(prov, "http") == 0);
	if ((r = store_open(config_str(cfg, "gateway", "store"), &k->st)) !=
	    0) {
		uk_log_err(r, "counter: store: %s", store_last_error(NULL));
		goto out;
	}
	r = ca_open(k->st, &k->ca);
	if (!config_bool(cfg, "counter", "enabled")) {
		if (r != 0 && r != UK_ERR_CA_NOT_INITIALISED)
			uk_log(UK_LOG_WARN,
			    "counter: the CA cannot be read: %s",
			    uk_error_id(r));
		r = 0;
		goto done;
	}
	if (r != 0) {
		uk_log_err(r,
		    "[counter] enabled: the store has no usable CA "
		    "(ukey-ca init)");
		goto out;
	}
	/* ukey-ca's own settings file, so the counter issues as ukey-ca
	 * does: validity, CRL and OCSP addresses, key policy, token module. */
	cpath = config_str(cfg, "counter", "ca_config");
	if ((r = ca_config_load(cpath, &cacfg, &cc, err, sizeof(err))) != 0) {
		uk_log_err(r, "[counter] ca_config: %s", err);
		goto out;
	}
	r = ca_set_config(k->ca, &cc);
	config_free(cacfg);
	if (r != 0)
		goto out;
	if (cpath == NULL)
		uk_log(UK_LOG_WARN,
		    "counter: no [counter] ca_config: certificates issued at "
		    "the counter carry no CRL or OCSP address and get the "
		    "default validity; point it at ukey-ca's configuration");
	if ((path = config_str(cfg, "counter", "ca_pass_file")) == NULL) {
		r = UK_ERR_CONFIG_MISSING;
		uk_log_err(r, "[counter] enabled needs ca_pass_file");
		goto out;
	}
	if ((r = read_pass(path, &pass)) != 0)
		goto out;
	if ((r = ca_unlock(k->ca, pass)) != 0) {
		uk_log_err(r, "[counter] the CA key cannot be unlocked: %s",
		    ca_errmsg(k->ca));
		goto out;
	}
	k->enabled = 1;
	uk_log(UK_LOG_INFO, "counter: certificate acts served by CA \"%s\"",
	    ca_name(k->ca));
done:
	*out = k;
	k = NULL; /* transferred */
	r = 0;
out:
	secret_free(pass);
	gw_counter_free(k);
	return r;
}

void
gw_counter_free(struct gw_counter *k)
{
	if (k == NULL)
		return;
	ca_free(k->ca);
	store_close(k->st);
	if (k->mu_made)
		pthread_mutex_destroy(&k->mu);
	free(k);
}

int
gw_counter_enabled(const struct gw_counter *k)
{
	return k != NULL && k->enabled;
}

int
gw_counter_sms(const struct gw_counter *k)
{
	return k != NULL && k->sms;
}

struct ca *
gw_counter_take(struct gw_counter *k)
{
	if (k == NULL)
		return NULL;
	pthread_mutex_lock(&k->mu);
	if (k->ca == NULL && k->st != NULL)
		(void)ca_open(k->st, &k->ca);
	return k->ca;
}

void
gw_counter_release(struct gw_counter *k)
{
	if (k != NULL)
		pthread_mutex_unlock(&k->mu);
}
