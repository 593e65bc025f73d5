/* ukey_sim.h: internals shared by the files of ukey-sim, the PKCS#11 module
 * that forwards to SoftHSM2 and behaves like a hardware UKey. */
#ifndef UKEY_SIM_H
#define UKEY_SIM_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

/* Tries a fresh token grants before its PIN locks. */
#define SIM_USER_TRIES 6UL
#define SIM_SO_TRIES 6UL

/* Longest path ukey-sim builds; longest file-name form of a token serial. */
#define SIM_PATH_MAX 4096
#define SIM_SERIAL_MAX 33

/* Upper bound of a delay file's value, in milliseconds. */
#define SIM_DELAY_MAX_MS 60000UL

/* Retry counters of one token, kept in <dir>/<serial>.state. */
struct sim_pins {
	unsigned long user_left;
	unsigned long so_left;
};

/* Identity of one `removed` file: tells one removal from the next. */
struct sim_removal {
	unsigned long dev;
	unsigned long ino;
	unsigned long sec;
	unsigned long nsec;
};

/* Contents of <dir>/generation: bumped once per removal, by the first
 * process that sees that removal. */
struct sim_gen {
	unsigned long gen;
	struct sim_removal last;
};

/* ukey_sim_log.c */

/* Writes "ukey-sim: <message>" as one line to stderr. Never pass a PIN. */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like sim_log, but only when UKEY_SIM_DEBUG is set and not empty. */
void sim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns the name of a CK_RV ("CKR_PIN_LOCKED"), or "CKR_(unknown)" for a
 * value not in PKCS#11 2.40. The string is static. */
const char *sim_rv_name(CK_RV rv);

/* ukey_sim_state.c */

/* Fills dir (size bytes) with the state directory: $UKEY_SIM_DIR, else
 * $HOME/.ukey-sim; creates it (mode 0700) when missing. Returns CKR_OK, or
 * CKR_GENERAL_ERROR after a line on stderr. */
CK_RV sim_dir_resolve(char *dir, size_t size);

/* Turns a token's space-padded 16-byte serial number into a file name in
 * out (size bytes, at least SIM_SERIAL_MAX): trailing spaces trimmed, bytes
 * other than [0-9A-Za-z_-] replaced by '_'. out is "" when the serial is
 * blank. */
void
sim_serial_name(const CK_UTF8CHAR *serial, size_t len, char *out, size_t size);

/* Takes the exclusive lock (flock on <dir>/lock) that guards every
 * read-modify-write of state files, across threads and processes. Returns
 * the descriptor to give to sim_lock_release, or -1 after a line on
 * stderr. */
int sim_lock_acquire(const char *dir);

/* Releases a lock taken by sim_lock_acquire; -1 is a no-op. */
void sim_lock_release(int fd);

/* Reads the counters of token serial into p; a missing file means a fresh
 * token (SIM_USER_TRIES, SIM_SO_TRIES). Returns CKR_OK, or CKR_DEVICE_ERROR
 * (logged) when the file cannot be read or is malformed. */
CK_RV sim_pins_read(const char *dir, const char *serial, struct sim_pins *p);

/* Writes the counters of token serial atomically (temporary file, fsync,
 * rename). Call with the lock held. Returns CKR_OK or CKR_DEVICE_ERROR
 * (logged). */
CK_RV
sim_pins_write(const char *dir, const char *serial, const struct sim_pins *p);

/* Returns 1 when <dir>/removed exists (the UKey is pulled out) and fills id
 * with that file's identity, else 0. */
int sim_removed(const char *dir, struct sim_removal *id);

/* Returns 1 when a and b are the same removal. */
int sim_removal_eq(const struct sim_removal *a, const struct sim_removal *b);

/* Reads <dir>/generation into g; a missing file reads as all zero. Returns
 * CKR_OK or CKR_DEVICE_ERROR (logged). */
CK_RV sim_gen_read(const char *dir, struct sim_gen *g);

/* Writes <dir>/generation atomically. Call with the lock held. Returns
 * CKR_OK or CKR_DEVICE_ERROR (logged). */
CK_RV sim_gen_write(const char *dir, const struct sim_gen *g);

/* Returns the delay in milliseconds to add before operation op ("login",
 * "sign"): the number in <dir>/delay_<op>_ms, else in <dir>/delay_ms, else
 * 0; at most SIM_DELAY_MAX_MS. A malformed file is logged and ignored. */
unsigned long sim_delay_ms(const char *dir, const char *op);

/* The shortest PIN the simulated key takes, from <dir>/pin_min; 0 when
 * there is no such file (the target's own bound applies). */
unsigned long sim_pin_min(const char *dir);

#endif
