/* common/secret.h: struct secret, the one type for PINs, passwords, passphrases and keys. */
#ifndef UK_SECRET_H
#define UK_SECRET_H

#include <stddef.h>

/*
 * A secret lives in memory locked with mlock where the system allows it, is
 * always NUL-terminated (so it can be handed to libraries taking C strings)
 * and is wiped with OPENSSL_cleanse when freed. It is never read from argv or
 * the environment and never logged.
 */
struct secret {
	unsigned char *buf; /* len bytes + NUL; locked when possible */
	size_t len;
	size_t cap;
};

/* Maximum size of any secret read from a descriptor or a terminal. */
#define SECRET_MAX 1024

/* Allocates an empty secret able to hold cap bytes; NULL on failure. */
struct secret *secret_new(size_t cap);

/* Copies len bytes of p into a new secret; NULL on failure. */
struct secret *secret_from(const void *p, size_t len);

/* Wipes, unlocks and frees s; NULL is a no-op. */
void secret_free(struct secret *s);

/* Constant-time equality of two secrets (lengths are not hidden). */
int secret_equal(const struct secret *a, const struct secret *b);

/* Reads a secret from descriptor fd up to EOF or the first newline (which is
 * dropped, as is a preceding CR), at most SECRET_MAX bytes. Returns 0 and the
 * secret in *out, UK_ERR_SECRET_READ, UK_ERR_LIMIT or UK_ERR_SECRET_EMPTY. */
int secret_read_fd(int fd, struct secret **out);

/* Asks on the controlling terminal (/dev/tty) with echo off, showing prompt.
 * Fails with UK_ERR_SECRET_READ when there is no terminal. */
int secret_read_tty(const char *prompt, struct secret **out);

/* The usual command-line rule: from fd when fd >= 0, else from the terminal. */
int secret_obtain(int fd, const char *prompt, struct secret **out);

/* Marks the process not dumpable (PR_SET_DUMPABLE 0) and disables core
 * files; call at start-up in processes that hold secrets. Returns 0 or
 * UK_ERR_INTERNAL. */
int secret_harden_process(void);

#endif
