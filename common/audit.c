/* common/audit.c: the append-only, hash-chained audit trail: append and verify. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/audit.h"
#include "common/b64.h"
#include "common/errors.h"
#include "common/store.h"

/* prev_hash of the first row. */
static const char audit_genesis[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Rows read per query while verifying. */
#define AUDIT_PAGE 500

static void
audit_field(EVP_MD_CTX *ctx, const char *s, int *ok)
{
	unsigned char hdr[9];
	uint64_t len;
	int i;

	if (s == NULL) {
		hdr[0] = 0;
		*ok &= EVP_DigestUpdate(ctx, hdr, 1);
		return;
	}
	len = strlen(s);
	hdr[0] = 1;
	for (i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)(len >> (56 - 8 * i));
	*ok &= EVP_DigestUpdate(ctx, hdr, sizeof(hdr));
	*ok &= EVP_DigestUpdate(ctx, s, (size_t)len);
}

/* Computes the hash of one row (see audit.h) into out as lowercase hex:
 * f[0..5] are at, event_id, event, actor, subject, detail; f[6..8] are ip,
 * user_agent, result, hashed only when one of them is not NULL. */
static int
audit_hash(const char *prev, const char *const f[9], char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int i, n, ok, r = UK_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	n = (f[6] != NULL || f[7] != NULL || f[8] != NULL) ? 9 : 6;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	ok &= EVP_DigestUpdate(ctx, prev, strlen(prev));
	for (i = 0; i < n; i++)
		audit_field(ctx, f[i], &ok);
	ok &= EVP_DigestFinal_ex(ctx, md, &mdlen);
	if (ok != 1 || mdlen != 32)
		goto out;
	hex_encode(md, mdlen, out);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int
audit_append(struct store *st, const char *event, const char *actor,
    const char *subject, const char *detail, char event_id[33])
{
	struct audit_event ev = { event, actor, subject, detail, NULL, NULL,
		NULL };

	return audit_append_ex(st, &ev, event_id);
}

int
audit_append_ex(struct store *st, const struct audit_event *ev,
    char event_id[33])
{
	struct store_res *res = NULL;
	const char *f[9];
	unsigned char rnd[16];
	char id[33], prev[65], hash[65], at[24];
	const char *last;
	int64_t now;
	int own_tx = 0, r = UK_ERR_INTERNAL;

	if (event_id != NULL)
		event_id[0] = '\0';
	if (st == NULL || ev == NULL || ev->event == NULL ||
	    *ev->event == '\0') {
		r = UK_ERR_INPUT;
		goto out;
	}
	if (!store_in_transaction(st)) {
		if ((r = store_begin(st, STORE_TX_WRITE)) != 0)
			goto out;
		own_tx = 1;
	}
	/* One appender at a time, or two rows would claim one parent.
	 * SQLite's write lock already does this. */
	if (store_backend(st) == STORE_POSTGRES &&
	    (r = store_exec(st, NULL,
	         "LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE", "")) != 0)
		goto out;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		r = UK_ERR_INTERNAL;
		goto out;
	}
	hex_encode_upper(rnd, sizeof(rnd), id);
	if ((r = store_exec(st, &res,
	         "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1", "")) != 0)
		goto out;
	last = store_res_rows(res) > 0 ? store_res_text(res, 0, 0) : NULL;
	if (last != NULL && strlen(last) != 64) {
		r = UK_ERR_STORE_AUDIT_CHAIN;
		goto out;
	}
	snprintf(prev, sizeof(prev), "%s", last != NULL ? last : audit_genesis);
	now = (int64_t)time(NULL);
	snprintf(at, sizeof(at), "%lld", (long long)now);
	f[0] = at;
	f[1] = id;
	f[2] = ev->event;
	f[3] = ev->actor;
	f[4] = ev->subject;
	f[5] = ev->detail;
	f[6] = ev->ip;
	f[7] = ev->user_agent;
	f[8] = ev->result;
	if ((r = audit_hash(prev, f, hash)) != 0)
		goto out;
	if ((r = store_exec(st, NULL,
	         "INSERT INTO audit (at, event_id, event, actor, subject, "
	         "detail, ip, user_agent, result, prev_hash, hash) "
	         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	         "itttttttttt", now, id, ev->event, ev->actor, ev->subject,
	         ev->detail, ev->ip, ev->user_agent, ev->result, prev, hash)) !=
	    0)
		goto out;
	if (own_tx) {
		own_tx = 0;
		if ((r = store_commit(st)) != 0)
			goto out;
	}
	if (event_id != NULL)
		memcpy(event_id, id, sizeof(id));
	r = 0;
out:
	if (own_tx)
		store_rollback(st);
	store_res_free(res);
	return r;
}

int
audit_verify_chain(struct store *st, int64_t *bad_seq)
{
	struct store_res *res = NULL;
	char prev[65], hash[65];
	const char *ph, *h, *f[9];
	int64_t seq = 0, last = -1;
	size_t i, n;
	int r = UK_ERR_INTERNAL;

	if (bad_seq != NULL)
		*bad_seq = 0;
	if (st == NULL)
		goto out;
	snprintf(prev, sizeof(prev), "%s", audit_genesis);
	for (;;) {
		store_res_free(res);
		res = NULL;
		if ((r = store_exec(st, &res,
		         "SELECT seq, at, event_id, event, actor, subject, "
		         "detail, prev_hash, hash, ip, user_agent, result "
		         "FROM audit WHERE seq > ? "
		         "ORDER BY seq LIMIT ?",
		         "ii", last, (int64_t)AUDIT_PAGE)) != 0)
			goto out;
		if ((n = store_res_rows(res)) == 0)
			break;
		for (i = 0; i < n; i++) {
			seq = store_res_int(res, i, 0);
			ph = store_res_text(res, i, 7);
			h = store_res_text(res, i, 8);
			if (ph == NULL || h == NULL || strcmp(ph, prev) != 0)
				goto broken;
			f[0] = store_res_text(res, i, 1);
			f[1] = store_res_text(res, i, 2);
			f[2] = store_res_text(res, i, 3);
			f[3] = store_res_text(res, i, 4);
			f[4] = store_res_text(res, i, 5);
			f[5] = store_res_text(res, i, 6);
			f[6] = store_res_text(res, i, 9);
			f[7] = store_res_text(res, i, 10);
			f[8] = store_res_text(res, i, 11);
			if ((r = audit_hash(prev, f, hash)) != 0)
				goto out;
			if (strcmp(hash, h) != 0)
				goto broken;
			memcpy(prev, hash, sizeof(prev));
			last = seq;
		}
	}
	r = 0;
	goto out;
broken:
	if (bad_seq != NULL)
		*bad_seq = seq;
	r = UK_ERR_STORE_AUDIT_CHAIN;
out:
	store_res_free(res);
	return r;
}
