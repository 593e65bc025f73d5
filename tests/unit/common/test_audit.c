/* tests/unit/common/test_audit.c: the hash-chained audit trail on SQLite and PostgreSQL. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "common/audit.h"
#include "common/errors.h"
#include "common/store.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testgw.h"

/* The seq of the n-th row (from 0) in chain order. */
static int64_t
nth_seq(struct store *st, int64_t n)
{
	return testgw_int_i(st,
	    "SELECT seq FROM audit ORDER BY seq LIMIT 1 OFFSET ?", n);
}

/* Runs sql, which takes no parameter or the one int64 seq (fmt "i"), and
 * expects it to succeed. */
static void
exec_ok(struct store *st, const char *sql, const char *fmt, int64_t seq)
{
	if (store_exec(st, NULL, sql, fmt, seq) != 0)
		fail_msg("%s: %s", sql, store_last_error(st));
}

/* Expects the chain to be broken at row seq. */
static void
broken_at(struct store *st, int64_t seq)
{
	int64_t bad = 0;

	assert_int_equal(audit_verify_chain(st, &bad),
	    UK_ERR_STORE_AUDIT_CHAIN);
	assert_int_equal(bad, seq);
}

/* Drops the triggers that make audit append-only (migration 3), as someone
 * with full rights on the database could, so that tampering can be tried. */
static void
drop_guards(struct testgw_db *fx)
{
	int pg = fx->kind != STORE_SQLITE;

	exec_ok(fx->st,
	    pg ? "DROP TRIGGER audit_no_update ON audit"
	       : "DROP TRIGGER audit_no_update",
	    "", 0);
	exec_ok(fx->st,
	    pg ? "DROP TRIGGER audit_no_delete ON audit"
	       : "DROP TRIGGER audit_no_delete",
	    "", 0);
}

/* Appends five events with assorted NULLs; ids into ids (may be NULL). */
static void
append_five(struct store *st, char ids[5][33])
{
	char id[33];
	int i;

	assert_int_equal(store_begin(st, STORE_TX_WRITE), 0);
	for (i = 0; i < 5; i++) {
		char detail[64];

		snprintf(detail, sizeof(detail), "{\"n\":%d,\"zh\":\"证书\"}",
		    i);
		assert_int_equal(audit_append(st, "cert.issue",
		                     i == 1 ? NULL : "operator:op1",
		                     i == 2 ? NULL : "unit:U1",
		                     i == 3 ? NULL : detail, id),
		    0);
		if (ids != NULL)
			memcpy(ids[i], id, sizeof(id));
	}
	assert_int_equal(store_commit(st), 0);
}

/* The hash over prev and the nf fields f (NULL: absent) as audit.h
 * documents it, computed independently. */
static void
hash_fields(const char *prev, const char *const *f, int nf, char out[65])
{
	unsigned char md[32], hdr[9];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t len;
	int i, j;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	EVP_DigestUpdate(ctx, prev, 64);
	for (i = 0; i < nf; i++) {
		if (f[i] == NULL) {
			hdr[0] = 0;
			EVP_DigestUpdate(ctx, hdr, 1);
			continue;
		}
		len = strlen(f[i]);
		hdr[0] = 1;
		for (j = 0; j < 8; j++)
			hdr[1 + j] = (unsigned char)(len >> (56 - 8 * j));
		EVP_DigestUpdate(ctx, hdr, 9);
		EVP_DigestUpdate(ctx, f[i], len);
	}
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The row hash of a row without ip, user agent or result. */
static void
doc_hash(const char *prev, const char *at, const char *id, const char *event,
    const char *actor, const char *subject, const char *detail, char out[65])
{
	const char *f[6] = { at, id, event, actor, subject, detail };

	hash_fields(prev, f, 6, out);
}

/* An empty trail verifies; appended events chain and verify. */
static void
test_append_verify(void **state)
{
	struct testgw_db *fx = *state;
	struct store_res *res = NULL;
	char ids[5][33], h[65];
	int64_t bad = -1;
	size_t i, j;

	assert_int_equal(audit_verify_chain(fx->st, &bad), 0);
	assert_int_equal(bad, 0);
	append_five(fx->st, ids);
	for (i = 0; i < 5; i++) {
		assert_int_equal(strlen(ids[i]), 32);
		assert_int_equal(strspn(ids[i], "0123456789ABCDEF"), 32);
		for (j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	assert_int_equal(audit_verify_chain(fx->st, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 5);

	/* the helpdesk finds an event by its number */
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT event, actor, subject FROM audit WHERE "
	                     "event_id = ?",
	                     "t", ids[1]),
	    0);
	assert_int_equal(store_res_rows(res), 1);
	assert_string_equal(store_res_text(res, 0, 0), "cert.issue");
	assert_true(store_res_isnull(res, 0, 1));
	assert_string_equal(store_res_text(res, 0, 2), "unit:U1");
	store_res_free(res);
	res = NULL;

	/* every row matches the hash documented in audit.h */
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT at, event_id, event, actor, subject, "
	                     "detail, prev_hash, hash FROM audit ORDER BY seq",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 5);
	assert_string_equal(store_res_text(res, 0, 6),
	    "0000000000000000000000000000000000000000000000000000000000000000");
	for (i = 0; i < 5; i++) {
		doc_hash(store_res_text(res, i, 6), store_res_text(res, i, 0),
		    store_res_text(res, i, 1), store_res_text(res, i, 2),
		    store_res_text(res, i, 3), store_res_text(res, i, 4),
		    store_res_text(res, i, 5), h);
		assert_string_equal(h, store_res_text(res, i, 7));
		if (i > 0)
			assert_string_equal(store_res_text(res, i, 6),
			    store_res_text(res, i - 1, 7));
	}
	store_res_free(res);

	/* outside a transaction audit_append runs its own */
	assert_false(store_in_transaction(fx->st));
	assert_int_equal(audit_append(fx->st, "login.ok", "op1", NULL, NULL,
	                     NULL),
	    0);
	assert_false(store_in_transaction(fx->st));
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 6);

	/* bad input */
	assert_int_equal(audit_append(fx->st, NULL, "a", "s", "d", ids[0]),
	    UK_ERR_INPUT);
	assert_string_equal(ids[0], "");
	assert_int_equal(audit_append(fx->st, "", "a", "s", "d", NULL),
	    UK_ERR_INPUT);
}

/* A changed field breaks the chain at that row. */
static void
test_tamper_field(void **state)
{
	struct testgw_db *fx = *state;
	int64_t seq;

	append_five(fx->st, NULL);
	drop_guards(fx);
	seq = nth_seq(fx->st, 2);
	exec_ok(fx->st, "UPDATE audit SET detail = 'forged' WHERE seq = ?", "i",
	    seq);
	broken_at(fx->st, seq);

	/* an earlier changed time is the first bad row now */
	seq = nth_seq(fx->st, 1);
	exec_ok(fx->st, "UPDATE audit SET at = at + 1 WHERE seq = ?", "i", seq);
	broken_at(fx->st, seq);
}

/* A row rewritten with a recomputed hash breaks the link to the next. */
static void
test_tamper_rehash(void **state)
{
	struct testgw_db *fx = *state;
	struct store_res *res = NULL;
	int64_t seq, next;
	char h[65];

	append_five(fx->st, NULL);
	drop_guards(fx);
	seq = nth_seq(fx->st, 2);
	next = nth_seq(fx->st, 3);
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT at, event_id, event, actor, subject, "
	                     "prev_hash FROM audit WHERE seq = ?",
	                     "i", seq),
	    0);
	doc_hash(store_res_text(res, 0, 5), store_res_text(res, 0, 0),
	    store_res_text(res, 0, 1), store_res_text(res, 0, 2),
	    store_res_text(res, 0, 3), store_res_text(res, 0, 4), "forged", h);
	store_res_free(res);
	assert_int_equal(store_exec(fx->st, NULL,
	                     "UPDATE audit SET detail = 'forged', hash = ? "
	                     "WHERE seq = ?",
	                     "ti", h, seq),
	    0);
	broken_at(fx->st, next);
}

/* A deleted row breaks the chain at the row after it. */
static void
test_tamper_delete(void **state)
{
	struct testgw_db *fx = *state;
	int64_t seq, next;

	append_five(fx->st, NULL);
	drop_guards(fx);
	seq = nth_seq(fx->st, 1);
	next = nth_seq(fx->st, 2);
	exec_ok(fx->st, "DELETE FROM audit WHERE seq = ?", "i", seq);
	broken_at(fx->st, next);
}

/* Events appended in a transaction that rolls back leave no trace. */
static void
test_rollback(void **state)
{
	struct testgw_db *fx = *state;
	char id[33];

	append_five(fx->st, NULL);
	assert_int_equal(store_begin(fx->st, STORE_TX_WRITE), 0);
	assert_int_equal(audit_append(fx->st, "cert.revoke", "op", "s", "d",
	                     id),
	    0);
	store_rollback(fx->st);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 5);
	assert_int_equal(audit_append(fx->st, "cert.revoke", "op", "s", "d",
	                     id),
	    0);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 6);
}

/* Appends from 4 processes at once still form one chain. */
static void
test_concurrent(void **state)
{
	struct testgw_db *fx = *state;
	int i, status, ok = 0;
	pid_t pids[4];

	/* No connection crosses fork(). */
	store_close(fx->st);
	fx->st = NULL;
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *st = NULL;
			int n, r, tries, rc = 0;

			if (store_open(fx->db.loc, &st) != 0)
				_exit(3);
			for (n = 0; n < 10 && rc == 0; n++) {
				tries = 0;
				do
					r = audit_append(st, "scan.ok", "p",
					    NULL, NULL, NULL);
				while (r == UK_ERR_STORE_BUSY && ++tries < 20);
				if (r != 0)
					rc = 2;
			}
			store_close(st);
			_exit(rc);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else
			print_message("child %d: status 0x%x\n", i, status);
	}
	assert_int_equal(ok, 4);
	assert_int_equal(store_open(fx->db.loc, &fx->st), 0);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 40);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

/* Verification pages through long trails. */
static void
test_long_chain(void **state)
{
	struct testgw_db *fx = *state;
	int64_t bad = 0, seq;
	int i;

	assert_int_equal(store_begin(fx->st, STORE_TX_WRITE), 0);
	for (i = 0; i < 1203; i++)
		assert_int_equal(audit_append(fx->st, "e", NULL, NULL, NULL,
		                     NULL),
		    0);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(audit_verify_chain(fx->st, &bad), 0);
	drop_guards(fx);
	seq = nth_seq(fx->st, 1100);
	exec_ok(fx->st, "UPDATE audit SET actor = 'x' WHERE seq = ?", "i", seq);
	broken_at(fx->st, seq);
}

/* The database refuses UPDATE and DELETE on audit (migration 3). */
static void
test_append_only(void **state)
{
	struct testgw_db *fx = *state;
	int64_t seq;

	append_five(fx->st, NULL);
	seq = nth_seq(fx->st, 2);
	assert_int_not_equal(store_exec(fx->st, NULL,
	                         "UPDATE audit SET detail = 'forged' WHERE "
	                         "seq = ?",
	                         "i", seq),
	    0);
	assert_non_null(strstr(store_last_error(fx->st), "append-only"));
	assert_int_not_equal(store_exec(fx->st, NULL,
	                         "DELETE FROM audit WHERE seq = ?", "i", seq),
	    0);
	assert_int_not_equal(store_exec(fx->st, NULL, "DELETE FROM audit", ""),
	    0);
	if (fx->kind == STORE_POSTGRES)
		assert_int_not_equal(store_exec(fx->st, NULL, "TRUNCATE audit",
		                         ""),
		    0);
	/* inside a transaction too, which it then aborts */
	assert_int_equal(store_begin(fx->st, STORE_TX_WRITE), 0);
	assert_int_not_equal(store_exec(fx->st, NULL,
	                         "UPDATE audit SET actor = 'x'", ""),
	    0);
	store_rollback(fx->st);
	assert_int_equal(testgw_int(fx->st, "SELECT count(*) FROM audit"), 5);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
	/* appending still works */
	assert_int_equal(audit_append(fx->st, "e", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(audit_verify_chain(fx->st, NULL), 0);
}

/* ip, user agent and result are covered by the hash: editing them breaks
 * the chain at that row. */
static void
test_ex_fields(void **state)
{
	struct testgw_db *fx = *state;
	struct audit_event ev = { "login.password", "operator:op1", "unit:U1",
		"{}", "192.0.2.7", "Mozilla/5.0", "UK-4101" };
	struct audit_event only = { "login.password", NULL, NULL, NULL, NULL,
		NULL, "ok" };
	struct store_res *res = NULL;
	const char *f[9];
	char id[33], h[65];
	int64_t bad = 0, seq, seq2;
	int i;

	append_five(fx->st, NULL);
	assert_int_equal(audit_append_ex(fx->st, &ev, id), 0);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(audit_append_ex(fx->st, &only, NULL), 0);
	assert_int_equal(audit_append(fx->st, "e", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(audit_verify_chain(fx->st, &bad), 0);
	ev.event = NULL;
	assert_int_equal(audit_append_ex(fx->st, &ev, NULL), UK_ERR_INPUT);
	assert_int_equal(audit_append_ex(fx->st, NULL, NULL), UK_ERR_INPUT);

	/* the two new rows match the documented formula */
	assert_int_equal(store_exec(fx->st, &res,
	                     "SELECT at, event_id, event, actor, subject, "
	                     "detail, ip, user_agent, result, prev_hash, hash "
	                     "FROM audit ORDER BY seq LIMIT 2 OFFSET 5",
	                     ""),
	    0);
	assert_int_equal(store_res_rows(res), 2);
	assert_string_equal(store_res_text(res, 0, 1), id);
	assert_string_equal(store_res_text(res, 0, 6), "192.0.2.7");
	assert_string_equal(store_res_text(res, 0, 8), "UK-4101");
	for (i = 0; i < 9; i++)
		f[i] = store_res_text(res, 0, (size_t)i);
	hash_fields(store_res_text(res, 0, 9), f, 9, h);
	assert_string_equal(h, store_res_text(res, 0, 10));
	for (i = 0; i < 9; i++)
		f[i] = store_res_text(res, 1, (size_t)i);
	hash_fields(store_res_text(res, 1, 9), f, 9, h);
	assert_string_equal(h, store_res_text(res, 1, 10));
	store_res_free(res);

	drop_guards(fx);
	seq = nth_seq(fx->st, 5);
	seq2 = nth_seq(fx->st, 6);
	exec_ok(fx->st, "UPDATE audit SET result = 'UK-4101' WHERE seq = ?",
	    "i", seq2);
	broken_at(fx->st, seq2);
	/* a NULL result where there was one is a change too */
	exec_ok(fx->st, "UPDATE audit SET result = NULL WHERE seq = ?", "i",
	    seq2);
	broken_at(fx->st, seq2);
	exec_ok(fx->st, "UPDATE audit SET ip = '198.51.100.1' WHERE seq = ?",
	    "i", seq);
	broken_at(fx->st, seq);
	/* an ip added to a row that had none */
	exec_ok(fx->st, "UPDATE audit SET ip = '192.0.2.7' WHERE seq = ?", "i",
	    seq);
	broken_at(fx->st, seq2);
	exec_ok(fx->st, "UPDATE audit SET ip = 'x' WHERE seq = ?", "i",
	    nth_seq(fx->st, 1));
	broken_at(fx->st, nth_seq(fx->st, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TESTGW_BOTH(test_append_verify),
		TESTGW_BOTH(test_tamper_field),
		TESTGW_BOTH(test_tamper_rehash),
		TESTGW_BOTH(test_tamper_delete),
		TESTGW_BOTH(test_rollback),
		TESTGW_BOTH(test_concurrent),
		TESTGW_BOTH(test_long_chain),
		TESTGW_BOTH(test_append_only),
		TESTGW_BOTH(test_ex_fields),
	};
	int r;

	if (testgw_begin("audit") != 0)
		return 1;
	r = cmocka_run_group_tests_name("audit", tests, NULL, NULL);
	return testgw_end(r);
}
