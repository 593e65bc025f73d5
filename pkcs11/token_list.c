/* pkcs11/token_list.c: p11_list, a snapshot of the tokens in a context's slots with their certificates and keys. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "common/errors.h"
#include "common/log.h"
#include "pkcs11/token_impl.h"

/* Copies a libp11 id into *id; 0, or UK_ERR_LIMIT when it is too long. */
static int
id_copy(struct p11_id *id, const unsigned char *b, size_t len)
{
	int r = UK_ERR_LIMIT;

	if (len > P11_ID_MAX)
		goto out;
	if (len > 0)
		memcpy(id->b, b, len);
	id->len = len;
	r = 0;
out:
	return r;
}

static int
id_eq(const struct p11_id *a, const struct p11_id *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* A name in RFC 2253 form, UTF-8 left unescaped; NULL on failure. */
static char *
name_text(const X509_NAME *name)
{
	BIO *b = NULL;
	char *p, *out = NULL;
	long n;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(b, name, 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	if ((n = BIO_get_mem_data(b, &p)) < 0)
		goto out;
	out = strndup(p, (size_t)n);
out:
	BIO_free(b);
	return out;
}

static void
cert_info_clear(struct p11_cert_info *c)
{
	free(c->label);
	free(c->subject);
	free(c->issuer);
	OPENSSL_free(c->der);
	memset(c, 0, sizeof(*c));
}

/* Fills c from a libp11 certificate. */
static int
cert_info_fill(struct p11_cert_info *c, const PKCS11_CERT *pc)
{
	unsigned char *der = NULL;
	int len, r = UK_ERR_LIMIT;

	memset(c, 0, sizeof(*c));
	if (pc->x509 == NULL || id_copy(&c->id, pc->id, pc->id_len) != 0)
		goto out;
	(void)p11_id_to_hex(&c->id, c->id_hex, sizeof(c->id_hex));
	r = UK_ERR_CERT_MALFORMED;
	if ((len = i2d_X509(pc->x509, &der)) <= 0)
		goto out;
	c->der = der;
	c->der_len = (size_t)len;
	r = UK_ERR_NOMEM;
	if ((c->label = dup_or_empty(pc->label)) == NULL ||
	    (c->subject = name_text(X509_get_subject_name(pc->x509))) == NULL ||
	    (c->issuer = name_text(X509_get_issuer_name(pc->x509))) == NULL)
		goto out;
	r = 0;
out:
	return r;
}

/* Finds or adds the key entry for id in info->keys (room for cap). */
static struct p11_key_info *
key_entry(struct p11_token_info *info, size_t cap, const struct p11_id *id)
{
	struct p11_key_info *k;
	size_t i;

	for (i = 0; i < info->nkeys; i++) {
		if (id_eq(&info->keys[i].id, id))
			return &info->keys[i];
	}
	if (info->nkeys == cap)
		return NULL;
	k = &info->keys[info->nkeys++];
	memset(k, 0, sizeof(*k));
	k->id = *id;
	(void)p11_id_to_hex(id, k->id_hex, sizeof(k->id_hex));
	return k;
}

/* Adds libp11's keys (private or public ones) to info->keys. */
static int
keys_add(struct p11_token_info *info, size_t *cap, PKCS11_KEY *keys,
    unsigned int n, int private)
{
	struct p11_key_info *k, *grown;
	struct p11_id id;
	unsigned int i;
	int r = UK_ERR_NOMEM;

	if (info->nkeys + n > *cap) {
		grown =
		    reallocarray(info->keys, info->nkeys + n, sizeof(*grown));
		if (grown == NULL)
			goto out;
		info->keys = grown;
		*cap = info->nkeys + n;
	}
	for (i = 0; i < n; i++) {
		if (id_copy(&id, keys[i].id, keys[i].id_len) != 0) {
			uk_log(UK_LOG_WARN,
			    "token %s: key id over %d bytes skipped",
			    info->serial, P11_ID_MAX);
			continue;
		}
		r = UK_ERR_INTERNAL;
		if ((k = key_entry(info, *cap, &id)) == NULL)
			goto out;
		r = UK_ERR_NOMEM;
		if (k->label == NULL &&
		    (k->label = dup_or_empty(keys[i].label)) == NULL)
			goto out;
		if (k->type == 0)
			k->type = PKCS11_get_key_type(&keys[i]);
		if (private)
			k->has_private_key = 1;
		else
			k->has_public_key = 1;
	}
	r = 0;
out:
	return r;
}

/* Reads the certificates and keys of the token in slot into info. Each
 * libp11 array is copied before the next libp11 call. */
static int
objects_read(struct p11_ctx *ctx, PKCS11_SLOT *slot,
    struct p11_token_info *info)
{
	PKCS11_CERT *certs = NULL;
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0, i;
	size_t cap = 0, j, k;
	CK_RV rv;
	int r;

	if ((r = p11_slot_rw(ctx, slot)) != 0)
		goto out;
	p11_err_reset(ctx);
	if (PKCS11_enumerate_certs(slot->token, &certs, &n) != 0)
		goto fail;
	r = UK_ERR_NOMEM;
	if (n > 0 && (info->certs = calloc(n, sizeof(*info->certs))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		r = cert_info_fill(&info->certs[info->ncerts], &certs[i]);
		if (r == 0) {
			info->ncerts++;
			continue;
		}
		cert_info_clear(&info->certs[info->ncerts]);
		if (r == UK_ERR_NOMEM)
			goto out;
		uk_log(UK_LOG_WARN, "token %s: certificate %u skipped",
		    info->serial, i);
	}
	p11_err_reset(ctx);
	if (PKCS11_enumerate_keys(slot->token, &keys, &n) != 0)
		goto fail;
	if ((r = keys_add(info, &cap, keys, n, 1)) != 0)
		goto out;
	p11_err_reset(ctx);
	if (PKCS11_enumerate_public_keys(slot->token, &keys, &n) != 0)
		goto fail;
	if ((r = keys_add(info, &cap, keys, n, 0)) != 0)
		goto out;
	for (j = 0; j < info->ncerts; j++) {
		for (k = 0; k < info->nkeys; k++) {
			if (!id_eq(&info->certs[j].id, &info->keys[k].id))
				continue;
			info->keys[k].has_cert = 1;
			if (info->keys[k].has_private_key)
				info->certs[j].has_private_key = 1;
		}
	}
	r = 0;
	goto out;
fail:
	rv = p11_err_take(ctx);
	r = p11_rv_err(rv, P11_ERR_DEVICE);
	uk_log_err(r, "token %s: reading objects: %s", info->serial,
	    p11_rv_name(rv));
out:
	return r;
}

static void
token_info_clear(struct p11_token_info *t)
{
	size_t i;

	for (i = 0; i < t->ncerts; i++)
		cert_info_clear(&t->certs[i]);
	free(t->certs);
	for (i = 0; i < t->nkeys; i++)
		free(t->keys[i].label);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}

int
p11_list(struct p11_ctx *ctx, struct p11_token_list **out)
{
	struct p11_token_list *list = NULL;
	struct p11_token_info *t;
	CK_TOKEN_INFO ti;
	PKCS11_SLOT *slot;
	unsigned int i, n;
	CK_RV rv;
	int r = UK_ERR_NOMEM;

	*out = NULL;
	if ((list = calloc(1, sizeof(*list))) == NULL)
		goto out;
	if ((r = p11_slots_refresh(ctx, 0)) != 0)
		goto out;
	for (i = 0, n = 0; i < ctx->nslots; i++)
		n += ctx->slots[i].token != NULL;
	r = UK_ERR_NOMEM;
	if (n > 0 && (list->tokens = calloc(n, sizeof(*list->tokens))) == NULL)
		goto out;
	for (i = 0; i < ctx->nslots && list->ntokens < n; i++) {
		slot = &ctx->slots[i];
		if (slot->token == NULL)
			continue;
		t = &list->tokens[list->ntokens];
		t->slot_id = PKCS11_get_slotid_from_slot(slot);
		rv = p11_rv_set(ctx, ctx->fl->C_GetTokenInfo(t->slot_id, &ti));
		if (rv != CKR_OK) {
			/* Pulled out since the slots were read. */
			if (p11_rv_removed(rv))
				continue;
			uk_log_err(P11_ERR_DEVICE,
			    "slot %lu: C_GetTokenInfo: %s", t->slot_id,
			    p11_rv_name(rv));
			continue;
		}
		p11_trim(t->label, sizeof(t->label), ti.label,
		    sizeof(ti.label));
		p11_trim(t->serial, sizeof(t->serial), ti.serialNumber,
		    sizeof(ti.serialNumber));
		p11_trim(t->manufacturer, sizeof(t->manufacturer),
		    ti.manufacturerID, sizeof(ti.manufacturerID));
		p11_trim(t->model, sizeof(t->model), ti.model,
		    sizeof(ti.model));
		t->initialized = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
		p11_status_from_info(&ti, &t->status);
		list->ntokens++;
		if (!t->initialized)
			continue;
		r = objects_read(ctx, slot, t);
		if (r == UK_ERR_NOMEM)
			goto out;
		t->error = r;
	}
	p11_rv_set(ctx, CKR_OK);
	*out = list;
	list = NULL; /* transferred */
	r = 0;
out:
	p11_token_list_free(list);
	ERR_clear_error();
	return r;
}

void
p11_token_list_free(struct p11_token_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->ntokens; i++)
		token_info_clear(&list->tokens[i]);
	free(list->tokens);
	free(list);
}
