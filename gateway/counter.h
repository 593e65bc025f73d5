/* gateway/counter.h: the counter console's CA holder: one CA object on its own store connection, unlocked at start when [counter] is enabled, used under a mutex by the certificate acts. */
#ifndef UK_GW_COUNTER_H
#define UK_GW_COUNTER_H

#include "common/config.h"

struct ca;
struct gw_counter;

/*
 * Why a holder: a struct ca borrows one store and is used by one thread at
 * a time, while the gateway answers on a pool of threads, each with its own
 * store. Counter acts are rare, so the gateway keeps one CA object on a
 * store connection of its own and serialises the acts on a mutex; the CA's
 * transactions (issue, revoke, reissue) are then the same as ukey-ca's,
 * and the thread's store stays free for the model's changes.
 *
 * gw_counter_new builds it from cfg ([gateway] store, [counter] enabled,
 * ca_pass_file, [sms] and [reset]): with enabled = true the store must hold
 * a CA (ukey-ca init) and ca_pass_file its key file's passphrase, which is
 * read into a struct secret, used by ca_unlock and wiped at once; any
 * failure stops the start (logged). With enabled = false the CA is opened
 * without its key when the store has one (for listings), and certificate
 * acts answer UK_ERR_COUNTER_DISABLED. *out belongs to the caller
 * (gw_counter_free). Returns 0 or an enum uk_err code.
 */
int gw_counter_new(const struct config *cfg, struct gw_counter **out);

/* Frees k, the CA (wiping its key) and its store; NULL is a no-op. */
void gw_counter_free(struct gw_counter *k);

/* 1 when certificate acts are served ([counter] enabled and unlocked). */
int gw_counter_enabled(const struct gw_counter *k);

/* 1 when temporary passwords can go by SMS: [reset] enabled (so the outbox
 * sender runs) with a provider whose templates are free text (file,
 * http); for aliyun and tencent, which need an approved template per
 * message kind, the clerk is shown the password instead. */
int gw_counter_sms(const struct gw_counter *k);

/* Takes the mutex and answers the CA (opened on first use when the store
 * got one after the start), or NULL when the store has none: the mutex is
 * held either way until gw_counter_release. */
struct ca *gw_counter_take(struct gw_counter *k);

/* Releases what gw_counter_take took. */
void gw_counter_release(struct gw_counter *k);

#endif
