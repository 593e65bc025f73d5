/* ukey_sim.c: ukey-sim, a PKCS#11 module for tests and the demo that forwards
 * to SoftHSM2 and behaves like a hardware UKey (see pkcs11/UKEY_SIM.md). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11/ukey_sim.h"

#define SIM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SIM_LIBRARY_DESCRIPTION "ukey-sim (UKey simulator)"
#define SIM_POLL_MS 50UL
#define SIM_EXPORT __attribute__((visibility("default")))

/* Token flags that ukey-sim owns: the target's values are replaced. */
#define SIM_PIN_FLAGS                                                          \
	(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |                     \
	    CKF_USER_PIN_LOCKED | CKF_SO_PIN_COUNT_LOW |                       \
	    CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

/* One session the application holds: the handle it was given and the
 * target module's handle behind it. */
struct sim_session {
	CK_SESSION_HANDLE handle;
	CK_SESSION_HANDLE target;
	CK_SLOT_ID slot;
};

/* A PIN check about to be forwarded: the token's counters, read and kept
 * under the state lock until the target has answered. */
struct sim_check {
	char serial[SIM_SERIAL_MAX];
	struct sim_pins pins;
	int so;
	int fd;
	int ready;
};

#define SIM_CHECK_INIT                                                         \
	{                                                                      \
		.fd = -1                                                       \
	}

static CK_FUNCTION_LIST sim_functions;

/* The module's state between C_Initialize and C_Finalize. Fields marked (m)
 * are guarded by the mutex (sim_lock). */
static struct {
	int initialized;
	void *dl;                      /* the target module */
	CK_FUNCTION_LIST_PTR fl;       /* its function list */
	char dir[SIM_PATH_MAX];        /* UKEY_SIM_DIR */
	CK_C_INITIALIZE_ARGS cb;       /* application's mutex callbacks */
	void *cb_mutex;                /* set: use cb instead of pthread */
	struct sim_session *sessions;  /* (m) open sessions */
	size_t nsessions;              /* (m) */
	size_t cap;                    /* (m) */
	CK_SESSION_HANDLE next_handle; /* (m) */
	unsigned long gen;             /* (m) removal generation of sessions */
	int removal_seen;              /* (m) removal below is set */
	struct sim_removal removal;    /* (m) last removal seen here */
	int event_present;             /* (m) presence and generation */
	unsigned long event_gen;       /* (m) last C_WaitForSlotEvent told */
} sim;

static pthread_mutex_t sim_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int sim_finalizing;
static atomic_int sim_waiters;

static void
sim_lock(void)
{
	if (sim.cb_mutex != NULL)
		sim.cb.LockMutex(sim.cb_mutex);
	else
		pthread_mutex_lock(&sim_mutex);
}

static void
sim_unlock(void)
{
	if (sim.cb_mutex != NULL)
		sim.cb.UnlockMutex(sim.cb_mutex);
	else
		pthread_mutex_unlock(&sim_mutex);
}

static void
sim_sleep_ms(unsigned long ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Returns 1 when every entry of fl is set, as PKCS#11 requires (a function
 * a module lacks must still be a stub returning CKR_FUNCTION_NOT_SUPPORTED),
 * so that no forwarder needs to test for NULL. */
static int
sim_list_complete(const CK_FUNCTION_LIST *fl)
{
	const unsigned char *p, *end;
	CK_C_Initialize f;

	p = (const unsigned char *)fl +
	    offsetof(CK_FUNCTION_LIST, C_Initialize);
	end = (const unsigned char *)fl + sizeof(*fl);
	for (; p + sizeof(f) <= end; p += sizeof(f)) {
		memcpy(&f, p, sizeof(f));
		if (f == NULL)
			return 0;
	}
	return 1;
}

/* Brings this process's view of the token's presence up to date; call with
 * the mutex held. A removal seen for the first time by any process bumps the
 * generation in UKEY_SIM_DIR; when the generation differs from our
 * sessions', they are closed in the target (which logs the token out) and
 * their handles become invalid. Sets *removed. Returns CKR_OK or
 * CKR_DEVICE_ERROR. */
static CK_RV
sim_sync_locked(int *removed)
{
	struct sim_removal id;
	struct sim_gen g;
	size_t i;
	int fd = -1;
	CK_RV rv = CKR_OK;

	*removed = sim_removed(sim.dir, &id);
	if (*removed && sim.removal_seen && sim_removal_eq(&id, &sim.removal))
		goto out;
	if (*removed) {
		rv = CKR_DEVICE_ERROR;
		if ((fd = sim_lock_acquire(sim.dir)) == -1)
			goto out;
		if ((rv = sim_gen_read(sim.dir, &g)) != CKR_OK)
			goto out;
		if (!sim_removal_eq(&g.last, &id)) {
			g.gen++;
			g.last = id;
			if ((rv = sim_gen_write(sim.dir, &g)) != CKR_OK)
				goto out;
			sim_debug("token removed (generation %lu)", g.gen);
		}
		sim.removal = id;
		sim.removal_seen = 1;
	} else if ((rv = sim_gen_read(sim.dir, &g)) != CKR_OK)
		goto out;
	if (g.gen != sim.gen) {
		if (sim.nsessions > 0)
			sim_debug("%zu session(s) closed by removal",
			    sim.nsessions);
		for (i = 0; i < sim.nsessions; i++)
			sim.fl->C_CloseSession(sim.sessions[i].target);
		sim.nsessions = 0;
		sim.gen = g.gen;
	}
	rv = CKR_OK;
out:
	sim_lock_release(fd);
	return rv;
}

/* Checks presence for a slot or token call: *removed set; *gen (if not NULL)
 * gets the current generation. */
static CK_RV
sim_presence(int *removed, unsigned long *gen)
{
	CK_RV rv;

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	sim_lock();
	rv = sim_sync_locked(removed);
	if (gen != NULL)
		*gen = sim.gen;
	sim_unlock();
	return rv;
}

/* Entry of every call on a session: CKR_DEVICE_REMOVED while the token is
 * out, CKR_SESSION_HANDLE_INVALID for a handle unknown or from before a
 * removal; else the target's handle in *target and the slot in *slot (if not
 * NULL). */
static CK_RV
sim_enter(CK_SESSION_HANDLE h, CK_SESSION_HANDLE *target, CK_SLOT_ID *slot)
{
	CK_RV rv;
	size_t i;
	int removed;

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	sim_lock();
	if ((rv = sim_sync_locked(&removed)) != CKR_OK)
		goto out;
	rv = CKR_DEVICE_REMOVED;
	if (removed)
		goto out;
	rv = CKR_SESSION_HANDLE_INVALID;
	for (i = 0; i < sim.nsessions; i++) {
		if (sim.sessions[i].handle != h)
			continue;
		*target = sim.sessions[i].target;
		if (slot != NULL)
			*slot = sim.sessions[i].slot;
		rv = CKR_OK;
		break;
	}
out:
	sim_unlock();
	return rv;
}

/* Waits the delay configured for op, watching for removal meanwhile:
 * CKR_DEVICE_REMOVED when the key is pulled out during the wait. */
static CK_RV
sim_delay(const char *op)
{
	unsigned long ms = sim_delay_ms(sim.dir, op), step;
	CK_RV rv = CKR_OK;
	int removed;

	if (ms > 0)
		sim_debug("%s delayed by %lu ms", op, ms);
	while (ms > 0) {
		step = ms < SIM_POLL_MS ? ms : SIM_POLL_MS;
		sim_sleep_ms(step);
		ms -= step;
		if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
			break;
		if (removed) {
			rv = CKR_DEVICE_REMOVED;
			break;
		}
	}
	return rv;
}

/* Fills serial with the file name of the token in slot, "" when the token
 * is not initialized (it has no counters then). */
static CK_RV
sim_serial(CK_SLOT_ID slot, char *serial, size_t size)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;

	serial[0] = '\0';
	if ((rv = sim.fl->C_GetTokenInfo(slot, &ti)) != CKR_OK)
		goto out;
	if (ti.flags & CKF_TOKEN_INITIALIZED)
		sim_serial_name(ti.serialNumber, sizeof(ti.serialNumber),
		    serial, size);
out:
	return rv;
}

static CK_FLAGS
sim_pin_flags(const struct sim_pins *p)
{
	CK_FLAGS f = 0;

	if (p->user_left == 0)
		f |= CKF_USER_PIN_LOCKED;
	if (p->user_left == 1)
		f |= CKF_USER_PIN_FINAL_TRY;
	if (p->user_left > 0 && p->user_left < SIM_USER_TRIES)
		f |= CKF_USER_PIN_COUNT_LOW;
	if (p->so_left == 0)
		f |= CKF_SO_PIN_LOCKED;
	if (p->so_left == 1)
		f |= CKF_SO_PIN_FINAL_TRY;
	if (p->so_left > 0 && p->so_left < SIM_SO_TRIES)
		f |= CKF_SO_PIN_COUNT_LOW;
	return f;
}

/* Starts a PIN check on the token in slot (SO PIN when so): takes the state
 * lock and reads the counters. CKR_PIN_LOCKED when no try is left; the
 * target must then not be asked. Always follow with sim_check_end. */
static CK_RV
sim_check_begin(struct sim_check *c, CK_SLOT_ID slot, int so)
{
	unsigned long left;
	CK_RV rv;

	c->so = so;
	if ((rv = sim_serial(slot, c->serial, sizeof(c->serial))) != CKR_OK)
		goto out;
	if (c->serial[0] == '\0')
		goto out;
	if ((c->fd = sim_lock_acquire(sim.dir)) == -1) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if ((rv = sim_pins_read(sim.dir, c->serial, &c->pins)) != CKR_OK)
		goto out;
	c->ready = 1;
	left = so ? c->pins.so_left : c->pins.user_left;
	if (left == 0) {
		sim_debug("%s PIN of token %s is locked", so ? "SO" : "user",
		    c->serial);
		rv = CKR_PIN_LOCKED;
	}
out:
	return rv;
}

/* Ends a PIN check with the target's answer: CKR_PIN_INCORRECT takes a try
 * off, CKR_OK gives all tries back, anything else changes nothing. Then the
 * state lock is released. */
static void
sim_check_end(struct sim_check *c, CK_RV checked)
{
	unsigned long *left, max;

	if (!c->ready)
		goto out;
	left = c->so ? &c->pins.so_left : &c->pins.user_left;
	max = c->so ? SIM_SO_TRIES : SIM_USER_TRIES;
	if (checked == CKR_PIN_INCORRECT && *left > 0)
		(*left)--;
	else if (checked == CKR_OK && *left != max)
		*left = max;
	else
		goto out;
	sim_debug("%s PIN of token %s %s: %lu of %lu tries left",
	    c->so ? "SO" : "user", c->serial,
	    checked == CKR_OK ? "correct" : "incorrect", *left, max);
	sim_pins_write(sim.dir, c->serial, &c->pins);
out:
	sim_lock_release(c->fd);
	c->fd = -1;
	c->ready = 0;
}

/* Gives token serial fresh counters: both of them (all), or the user PIN's
 * only (an SO unblock). */
static void
sim_reset_serial(const char *serial, int all)
{
	struct sim_pins p;
	int fd = -1;

	if (serial[0] == '\0')
		goto out;
	if ((fd = sim_lock_acquire(sim.dir)) == -1)
		goto out;
	if (all)
		p.so_left = SIM_SO_TRIES;
	else if (sim_pins_read(sim.dir, serial, &p) != CKR_OK)
		goto out;
	p.user_left = SIM_USER_TRIES;
	sim_debug("token %s: %s reset", serial,
	    all ? "PIN counters" : "user PIN counter");
	sim_pins_write(sim.dir, serial, &p);
out:
	sim_lock_release(fd);
}

/* Like sim_reset_serial, for the token in slot. */
static void
sim_reset(CK_SLOT_ID slot, int all)
{
	char serial[SIM_SERIAL_MAX];

	if (sim_serial(slot, serial, sizeof(serial)) == CKR_OK)
		sim_reset_serial(serial, all);
}

/* Picks the slot a C_WaitForSlotEvent reports: the first one holding an
 * initialized token, else the first one. */
static CK_RV
sim_event_slot(CK_SLOT_ID *slot)
{
	CK_SLOT_ID *list = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	CK_RV rv;

	if ((rv = sim.fl->C_GetSlotList(CK_FALSE, NULL, &n)) != CKR_OK)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (n == 0)
		goto out;
	rv = CKR_HOST_MEMORY;
	if ((list = calloc(n, sizeof(*list))) == NULL)
		goto out;
	if ((rv = sim.fl->C_GetSlotList(CK_FALSE, list, &n)) != CKR_OK)
		goto out;
	rv = CKR_FUNCTION_FAILED;
	if (n == 0)
		goto out;
	*slot = list[0];
	for (i = 0; i < n; i++) {
		if (sim.fl->C_GetTokenInfo(list[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED)) {
			*slot = list[i];
			break;
		}
	}
	rv = CKR_OK;
out:
	free(list);
	return rv;
}

static void
sim_teardown(void)
{
	if (sim.dl != NULL)
		dlclose(sim.dl);
	free(sim.sessions);
	if (sim.cb_mutex != NULL)
		sim.cb.DestroyMutex(sim.cb_mutex);
	memset(&sim, 0, sizeof(sim));
}

static CK_RV
sim_C_Initialize(CK_VOID_PTR pInitArgs)
{
	CK_C_INITIALIZE_ARGS *args = pInitArgs;
	CK_C_GetFunctionList get_list;
	const char *module;
	struct sim_gen g;
	void *sym;
	int removed, callbacks, target_up = 0;
	CK_RV rv;

	if (sim.initialized)
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	memset(&sim, 0, sizeof(sim));
	atomic_store(&sim_finalizing, 0);
	if (args != NULL) {
		rv = CKR_ARGUMENTS_BAD;
		if (args->pReserved != NULL)
			goto out;
		callbacks = (args->CreateMutex != NULL) +
		    (args->DestroyMutex != NULL) + (args->LockMutex != NULL) +
		    (args->UnlockMutex != NULL);
		if (callbacks != 0 && callbacks != 4)
			goto out;
		if (callbacks == 4 && !(args->flags & CKF_OS_LOCKING_OK)) {
			sim.cb = *args;
			if ((rv = args->CreateMutex(&sim.cb_mutex)) != CKR_OK) {
				sim.cb_mutex = NULL;
				goto out;
			}
		}
	}
	if ((rv = sim_dir_resolve(sim.dir, sizeof(sim.dir))) != CKR_OK)
		goto out;
	module = secure_getenv("UKEY_SIM_MODULE");
	if (module == NULL || *module == '\0')
		module = SIM_DEFAULT_MODULE;
	rv = CKR_GENERAL_ERROR;
	if ((sim.dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		sim_log("cannot load PKCS#11 module %s: %s", module, dlerror());
		goto out;
	}
	if ((sym = dlsym(sim.dl, "C_GetFunctionList")) == NULL) {
		sim_log("%s is not a PKCS#11 module (no C_GetFunctionList)",
		    module);
		goto out;
	}
	get_list = (CK_C_GetFunctionList)sym;
	if ((rv = get_list(&sim.fl)) != CKR_OK || sim.fl == NULL) {
		sim_log("C_GetFunctionList of %s failed: %s", module,
		    sim_rv_name(rv));
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	rv = CKR_GENERAL_ERROR;
	if (sim.fl == &sim_functions) {
		sim_log("UKEY_SIM_MODULE %s is ukey-sim itself", module);
		goto out;
	}
	if (sim.fl->version.major < 2 || !sim_list_complete(sim.fl)) {
		sim_log("%s has an incomplete PKCS#11 function list", module);
		goto out;
	}
	if ((rv = sim.fl->C_Initialize(pInitArgs)) != CKR_OK) {
		sim_log("C_Initialize of %s failed: %s", module,
		    sim_rv_name(rv));
		goto out;
	}
	target_up = 1;
	if ((rv = sim_gen_read(sim.dir, &g)) != CKR_OK)
		goto out;
	sim.gen = g.gen;
	sim.next_handle = 1;
	sim.initialized = 1;
	sim_lock();
	rv = sim_sync_locked(&removed);
	sim.event_present = !removed;
	sim.event_gen = sim.gen;
	sim_unlock();
out:
	if (rv != CKR_OK) {
		if (target_up)
			sim.fl->C_Finalize(NULL);
		sim_teardown();
	}
	return rv;
}

static CK_RV
sim_C_Finalize(CK_VOID_PTR pReserved)
{
	CK_RV rv;

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	atomic_store(&sim_finalizing, 1);
	while (atomic_load(&sim_waiters) > 0)
		sim_sleep_ms(10);
	rv = sim.fl->C_Finalize(NULL);
	sim_teardown();
	return rv;
}

static CK_RV
sim_C_GetInfo(CK_INFO_PTR pInfo)
{
	CK_RV rv;
	size_t n = strlen(SIM_LIBRARY_DESCRIPTION);

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if ((rv = sim.fl->C_GetInfo(pInfo)) != CKR_OK)
		goto out;
	memset(pInfo->libraryDescription, ' ',
	    sizeof(pInfo->libraryDescription));
	if (n > sizeof(pInfo->libraryDescription))
		n = sizeof(pInfo->libraryDescription);
	memcpy(pInfo->libraryDescription, SIM_LIBRARY_DESCRIPTION, n);
	pInfo->cryptokiVersion = sim_functions.version;
out:
	return rv;
}

static CK_RV
sim_C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
    CK_ULONG_PTR pulCount)
{
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	if (removed && tokenPresent) {
		rv = CKR_ARGUMENTS_BAD;
		if (pulCount == NULL)
			goto out;
		*pulCount = 0;
		rv = CKR_OK;
		goto out;
	}
	rv = sim.fl->C_GetSlotList(tokenPresent, pSlotList, pulCount);
out:
	return rv;
}

static CK_RV
sim_C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	if ((rv = sim.fl->C_GetSlotInfo(slotID, pInfo)) != CKR_OK)
		goto out;
	pInfo->flags |= CKF_REMOVABLE_DEVICE;
	if (removed)
		pInfo->flags &= ~CKF_TOKEN_PRESENT;
out:
	return rv;
}

static CK_RV
sim_C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	char serial[SIM_SERIAL_MAX];
	struct sim_pins pins;
	unsigned long min;
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	if (removed)
		goto out;
	if ((rv = sim.fl->C_GetTokenInfo(slotID, pInfo)) != CKR_OK)
		goto out;
	if (!(pInfo->flags & CKF_TOKEN_INITIALIZED))
		goto out;
	sim_serial_name(pInfo->serialNumber, sizeof(pInfo->serialNumber),
	    serial, sizeof(serial));
	if (serial[0] == '\0')
		goto out;
	if ((rv = sim_pins_read(sim.dir, serial, &pins)) != CKR_OK)
		goto out;
	pInfo->flags =
	    (pInfo->flags & ~(CK_FLAGS)SIM_PIN_FLAGS) | sim_pin_flags(&pins);
	min = sim_pin_min(sim.dir);
	if (min > pInfo->ulMinPinLen && min <= pInfo->ulMaxPinLen)
		pInfo->ulMinPinLen = min;
out:
	return rv;
}

static CK_RV
sim_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
    CK_VOID_PTR pReserved)
{
	CK_RV rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	int removed, event, waiting = 0;

	if (!sim.initialized)
		goto out;
	rv = CKR_ARGUMENTS_BAD;
	if (pSlot == NULL || pReserved != NULL)
		goto out;
	atomic_fetch_add(&sim_waiters, 1);
	waiting = 1;
	for (;;) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
		if (atomic_load(&sim_finalizing))
			goto out;
		sim_lock();
		rv = sim_sync_locked(&removed);
		event = rv == CKR_OK &&
		    (sim.event_present != !removed || sim.event_gen != sim.gen);
		if (event) {
			sim.event_present = !removed;
			sim.event_gen = sim.gen;
		}
		sim_unlock();
		if (rv != CKR_OK)
			goto out;
		if (event) {
			rv = sim_event_slot(pSlot);
			goto out;
		}
		rv = CKR_NO_EVENT;
		if (flags & CKF_DONT_BLOCK)
			goto out;
		sim_sleep_ms(SIM_POLL_MS);
	}
out:
	if (waiting)
		atomic_fetch_sub(&sim_waiters, 1);
	return rv;
}

static CK_RV
sim_C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
    CK_ULONG_PTR pulCount)
{
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	if (!removed)
		rv = sim.fl->C_GetMechanismList(slotID, pMechanismList,
		    pulCount);
out:
	return rv;
}

static CK_RV
sim_C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
    CK_MECHANISM_INFO_PTR pInfo)
{
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	if (!removed)
		rv = sim.fl->C_GetMechanismInfo(slotID, type, pInfo);
out:
	return rv;
}

static CK_RV
sim_C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
    CK_UTF8CHAR_PTR pLabel)
{
	struct sim_check c = SIM_CHECK_INIT;
	CK_RV rv;
	int removed;

	if ((rv = sim_presence(&removed, NULL)) != CKR_OK)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	if (removed)
		goto out;
	if ((rv = sim_check_begin(&c, slotID, 1)) != CKR_OK)
		goto out;
	rv = sim.fl->C_InitToken(slotID, pPin, ulPinLen, pLabel);
out:
	sim_check_end(&c, rv);
	if (rv == CKR_OK) {
		/* A new token: fresh counters, whether it kept its serial or
		 * (SoftHSM2 moves a token it initializes) its slot. */
		sim_reset_serial(c.serial, 1);
		sim_reset(slotID, 1);
	}
	return rv;
}

static CK_RV
sim_C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen)
{
	CK_SESSION_HANDLE th;
	CK_SLOT_ID slot;
	CK_RV rv;

	if ((rv = sim_enter(hSession, &th, &slot)) != CKR_OK)
		goto out;
	rv = CKR_PIN_LEN_RANGE;
	if (ulPinLen < sim_pin_min(sim.dir))
		goto out;
	if ((rv = sim.fl->C_InitPIN(th, pPin, ulPinLen)) != CKR_OK)
		goto out;
	sim_reset(slot, 0);
out:
	return rv;
}

static CK_RV
sim_C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
    CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	struct sim_check c = SIM_CHECK_INIT;
	CK_SESSION_HANDLE th;
	CK_SESSION_INFO si;
	CK_SLOT_ID slot;
	CK_RV rv;

	if ((rv = sim_enter(hSession, &th, &slot)) != CKR_OK)
		goto out;
	if ((rv = sim.fl->C_GetSessionInfo(th, &si)) != CKR_OK)
		goto out;
	rv = sim_check_begin(&c, slot, si.state == CKS_RW_SO_FUNCTIONS);
	if (rv != CKR_OK)
		goto out;
	if (ulNewLen < sim_pin_min(sim.dir)) {
		/* The old PIN is checked (and counted) first, then the new
		 * one refused, as a key with a PIN policy of its own does. */
		rv = sim.fl->C_SetPIN(th, pOldPin, ulOldLen, pOldPin, ulOldLen);
		sim_check_end(&c, rv);
		return rv == CKR_OK ? CKR_PIN_LEN_RANGE : rv;
	}
	rv = sim.fl->C_SetPIN(th, pOldPin, ulOldLen, pNewPin, ulNewLen);
out:
	sim_check_end(&c, rv);
	return rv;
}

static CK_RV
sim_C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	CK_SESSION_HANDLE th = CK_INVALID_HANDLE;
	struct sim_session *s;
	unsigned long gen;
	size_t cap;
	int removed, opened = 0;
	CK_RV rv;

	/* Notifications are not passed on: they would carry the target's
	 * session handles. SoftHSM2 sends none. */
	(void)pApplication;
	(void)Notify;
	if ((rv = sim_presence(&removed, &gen)) != CKR_OK)
		goto out;
	rv = CKR_ARGUMENTS_BAD;
	if (phSession == NULL)
		goto out;
	rv = CKR_TOKEN_NOT_PRESENT;
	if (removed)
		goto out;
	if ((rv = sim.fl->C_OpenSession(slotID, flags, NULL, NULL, &th)) !=
	    CKR_OK)
		goto out;
	opened = 1;
	sim_lock();
	if (sim.gen != gen)
		rv = CKR_DEVICE_REMOVED;
	else if (sim.nsessions == sim.cap) {
		cap = sim.cap == 0 ? 8 : sim.cap * 2;
		s = reallocarray(sim.sessions, cap, sizeof(*s));
		if (s == NULL)
			rv = CKR_HOST_MEMORY;
		else {
			sim.sessions = s;
			sim.cap = cap;
		}
	}
	if (rv == CKR_OK) {
		s = &sim.sessions[sim.nsessions++];
		if (sim.next_handle == CK_INVALID_HANDLE)
			sim.next_handle++;
		s->handle = sim.next_handle++;
		s->target = th;
		s->slot = slotID;
		*phSession = s->handle;
		opened = 0;
	}
	sim_unlock();
out:
	if (opened)
		sim.fl->C_CloseSession(th);
	return rv;
}

static CK_RV
sim_C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_SESSION_HANDLE th = CK_INVALID_HANDLE;
	CK_RV rv;
	size_t i;
	int removed, found = 0;

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	sim_lock();
	if ((rv = sim_sync_locked(&removed)) != CKR_OK)
		goto out;
	rv = CKR_DEVICE_REMOVED;
	if (removed)
		goto out;
	rv = CKR_SESSION_HANDLE_INVALID;
	for (i = 0; i < sim.nsessions; i++) {
		if (sim.sessions[i].handle != hSession)
			continue;
		th = sim.sessions[i].target;
		sim.sessions[i] = sim.sessions[--sim.nsessions];
		found = 1;
		break;
	}
out:
	sim_unlock();
	if (found)
		rv = sim.fl->C_CloseSession(th);
	return rv;
}

static CK_RV
sim_C_CloseAllSessions(CK_SLOT_ID slotID)
{
	CK_RV rv;
	size_t i;
	int removed;

	if (!sim.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	sim_lock();
	if ((rv = sim_sync_locked(&removed)) != CKR_OK)
		goto out;
	rv = CKR_DEVICE_REMOVED;
	if (removed)
		goto out;
	for (i = 0; i < sim.nsessions;) {
		if (sim.sessions[i].slot == slotID)
			sim.sessions[i] = sim.sessions[--sim.nsessions];
		else
			i++;
	}
	rv = CKR_OK;
out:
	sim_unlock();
	if (rv == CKR_OK)
		rv = sim.fl->C_CloseAllSessions(slotID);
	return rv;
}

static CK_RV
sim_C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
    CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	struct sim_check c = SIM_CHECK_INIT;
	CK_SESSION_HANDLE th;
	CK_SLOT_ID slot;
	CK_RV rv;

	if ((rv = sim_enter(hSession, &th, &slot)) != CKR_OK)
		goto out;
	if ((rv = sim_delay("login")) != CKR_OK)
		goto out;
	if ((rv = sim_enter(hSession, &th, &slot)) != CKR_OK)
		goto out;
	if ((rv = sim_check_begin(&c, slot, userType == CKU_SO)) != CKR_OK)
		goto out;
	rv = sim.fl->C_Login(th, userType, pPin, ulPinLen);
out:
	sim_check_end(&c, rv);
	return rv;
}

static CK_RV
sim_C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	CK_SESSION_HANDLE th;
	CK_RV rv;

	if ((rv = sim_enter(hSession, &th, NULL)) != CKR_OK)
		goto out;
	if (pSignature != NULL) {
		if ((rv = sim_delay("sign")) != CKR_OK)
			goto out;
		if ((rv = sim_enter(hSession, &th, NULL)) != CKR_OK)
			goto out;
	}
	rv = sim.fl->C_Sign(th, pData, ulDataLen, pSignature, pulSignatureLen);
out:
	return rv;
}

static CK_RV
sim_C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen)
{
	CK_SESSION_HANDLE th;
	CK_RV rv;

	if ((rv = sim_enter(hSession, &th, NULL)) != CKR_OK)
		goto out;
	if (pSignature != NULL) {
		if ((rv = sim_delay("sign")) != CKR_OK)
			goto out;
		if ((rv = sim_enter(hSession, &th, NULL)) != CKR_OK)
			goto out;
	}
	rv = sim.fl->C_SignFinal(th, pSignature, pulSignatureLen);
out:
	return rv;
}

/* Calls on a session that need nothing but the presence and handle checks:
 * sim_<name> forwards to the target's <name> with the target's handle. */
#define SIM_FORWARD(name, params, ...)                                         \
	static CK_RV sim_##name params                                         \
	{                                                                      \
		CK_SESSION_HANDLE th;                                          \
		CK_RV rv;                                                      \
                                                                               \
		if ((rv = sim_enter(hSession, &th, NULL)) == CKR_OK)           \
			rv = sim.fl->name(th, __VA_ARGS__);                    \
		return rv;                                                     \
	}

#define SIM_FORWARD0(name)                                                     \
	static CK_RV sim_##name(CK_SESSION_HANDLE hSession)                    \
	{                                                                      \
		CK_SESSION_HANDLE th;                                          \
		CK_RV rv;                                                      \
                                                                               \
		if ((rv = sim_enter(hSession, &th, NULL)) == CKR_OK)           \
			rv = sim.fl->name(th);                                 \
		return rv;                                                     \
	}

SIM_FORWARD0(C_Logout)
SIM_FORWARD0(C_FindObjectsFinal)
SIM_FORWARD0(C_GetFunctionStatus)
SIM_FORWARD0(C_CancelFunction)

SIM_FORWARD(C_GetSessionInfo,
    (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo), pInfo)
SIM_FORWARD(C_GetOperationState,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
        CK_ULONG_PTR pulOperationStateLen),
    pOperationState, pulOperationStateLen)
SIM_FORWARD(C_SetOperationState,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
        CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
        CK_OBJECT_HANDLE hAuthenticationKey),
    pOperationState, ulOperationStateLen, hEncryptionKey, hAuthenticationKey)
SIM_FORWARD(C_CreateObject,
    (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
        CK_OBJECT_HANDLE_PTR phObject),
    pTemplate, ulCount, phObject)
SIM_FORWARD(C_CopyObject,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
        CK_OBJECT_HANDLE_PTR phNewObject),
    hObject, pTemplate, ulCount, phNewObject)
SIM_FORWARD(C_DestroyObject,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject), hObject)
SIM_FORWARD(C_GetObjectSize,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
        CK_ULONG_PTR pulSize),
    hObject, pulSize)
SIM_FORWARD(C_GetAttributeValue,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
    hObject, pTemplate, ulCount)
SIM_FORWARD(C_SetAttributeValue,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
    hObject, pTemplate, ulCount)
SIM_FORWARD(C_FindObjectsInit,
    (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
    pTemplate, ulCount)
SIM_FORWARD(C_FindObjects,
    (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
        CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount),
    phObject, ulMaxObjectCount, pulObjectCount)
SIM_FORWARD(C_EncryptInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_Encrypt,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
        CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen),
    pData, ulDataLen, pEncryptedData, pulEncryptedDataLen)
SIM_FORWARD(C_EncryptUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
        CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
    pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
SIM_FORWARD(C_EncryptFinal,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
        CK_ULONG_PTR pulLastEncryptedPartLen),
    pLastEncryptedPart, pulLastEncryptedPartLen)
SIM_FORWARD(C_DecryptInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_Decrypt,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
        CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData,
        CK_ULONG_PTR pulDataLen),
    pEncryptedData, ulEncryptedDataLen, pData, pulDataLen)
SIM_FORWARD(C_DecryptUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
        CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
        CK_ULONG_PTR pulPartLen),
    pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
SIM_FORWARD(C_DecryptFinal,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
        CK_ULONG_PTR pulLastPartLen),
    pLastPart, pulLastPartLen)
SIM_FORWARD(C_DigestInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism), pMechanism)
SIM_FORWARD(C_Digest,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
        CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen),
    pData, ulDataLen, pDigest, pulDigestLen)
SIM_FORWARD(C_DigestUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), pPart,
    ulPartLen)
SIM_FORWARD(C_DigestKey, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey),
    hKey)
SIM_FORWARD(C_DigestFinal,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
        CK_ULONG_PTR pulDigestLen),
    pDigest, pulDigestLen)
SIM_FORWARD(C_SignInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_SignUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), pPart,
    ulPartLen)
SIM_FORWARD(C_SignRecoverInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_SignRecover,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen),
    pData, ulDataLen, pSignature, pulSignatureLen)
SIM_FORWARD(C_VerifyInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_Verify,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
        CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen),
    pData, ulDataLen, pSignature, ulSignatureLen)
SIM_FORWARD(C_VerifyUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen), pPart,
    ulPartLen)
SIM_FORWARD(C_VerifyFinal,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
        CK_ULONG ulSignatureLen),
    pSignature, ulSignatureLen)
SIM_FORWARD(C_VerifyRecoverInit,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hKey),
    pMechanism, hKey)
SIM_FORWARD(C_VerifyRecover,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
        CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen),
    pSignature, ulSignatureLen, pData, pulDataLen)
SIM_FORWARD(C_DigestEncryptUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
        CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
    pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
SIM_FORWARD(C_DecryptDigestUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
        CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
        CK_ULONG_PTR pulPartLen),
    pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
SIM_FORWARD(C_SignEncryptUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
        CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
    pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen)
SIM_FORWARD(C_DecryptVerifyUpdate,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
        CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
        CK_ULONG_PTR pulPartLen),
    pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen)
SIM_FORWARD(C_GenerateKey,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
        CK_OBJECT_HANDLE_PTR phKey),
    pMechanism, pTemplate, ulCount, phKey)
SIM_FORWARD(C_GenerateKeyPair,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
        CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
        CK_ULONG ulPrivateKeyAttributeCount, CK_OBJECT_HANDLE_PTR phPublicKey,
        CK_OBJECT_HANDLE_PTR phPrivateKey),
    pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
    pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey)
SIM_FORWARD(C_WrapKey,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
        CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen),
    pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen)
SIM_FORWARD(C_UnwrapKey,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
        CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
        CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
    pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen, pTemplate,
    ulAttributeCount, phKey)
SIM_FORWARD(C_DeriveKey,
    (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
        CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
        CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
    pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey)
SIM_FORWARD(C_SeedRandom,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen), pSeed,
    ulSeedLen)
SIM_FORWARD(C_GenerateRandom,
    (CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen),
    RandomData, ulRandomLen)

/* The module's one exported symbol: stores ukey-sim's function list (static,
 * never freed, valid before C_Initialize) in *ppFunctionList. Returns CKR_OK,
 * or CKR_ARGUMENTS_BAD when ppFunctionList is NULL. */
SIM_EXPORT CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &sim_functions;
	return CKR_OK;
}

static CK_FUNCTION_LIST sim_functions = {
	.version = { 2, 40 },
	.C_Initialize = sim_C_Initialize,
	.C_Finalize = sim_C_Finalize,
	.C_GetInfo = sim_C_GetInfo,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = sim_C_GetSlotList,
	.C_GetSlotInfo = sim_C_GetSlotInfo,
	.C_GetTokenInfo = sim_C_GetTokenInfo,
	.C_GetMechanismList = sim_C_GetMechanismList,
	.C_GetMechanismInfo = sim_C_GetMechanismInfo,
	.C_InitToken = sim_C_InitToken,
	.C_InitPIN = sim_C_InitPIN,
	.C_SetPIN = sim_C_SetPIN,
	.C_OpenSession = sim_C_OpenSession,
	.C_CloseSession = sim_C_CloseSession,
	.C_CloseAllSessions = sim_C_CloseAllSessions,
	.C_GetSessionInfo = sim_C_GetSessionInfo,
	.C_GetOperationState = sim_C_GetOperationState,
	.C_SetOperationState = sim_C_SetOperationState,
	.C_Login = sim_C_Login,
	.C_Logout = sim_C_Logout,
	.C_CreateObject = sim_C_CreateObject,
	.C_CopyObject = sim_C_CopyObject,
	.C_DestroyObject = sim_C_DestroyObject,
	.C_GetObjectSize = sim_C_GetObjectSize,
	.C_GetAttributeValue = sim_C_GetAttributeValue,
	.C_SetAttributeValue = sim_C_SetAttributeValue,
	.C_FindObjectsInit = sim_C_FindObjectsInit,
	.C_FindObjects = sim_C_FindObjects,
	.C_FindObjectsFinal = sim_C_FindObjectsFinal,
	.C_EncryptInit = sim_C_EncryptInit,
	.C_Encrypt = sim_C_Encrypt,
	.C_EncryptUpdate = sim_C_EncryptUpdate,
	.C_EncryptFinal = sim_C_EncryptFinal,
	.C_DecryptInit = sim_C_DecryptInit,
	.C_Decrypt = sim_C_Decrypt,
	.C_DecryptUpdate = sim_C_DecryptUpdate,
	.C_DecryptFinal = sim_C_DecryptFinal,
	.C_DigestInit = sim_C_DigestInit,
	.C_Digest = sim_C_Digest,
	.C_DigestUpdate = sim_C_DigestUpdate,
	.C_DigestKey = sim_C_DigestKey,
	.C_DigestFinal = sim_C_DigestFinal,
	.C_SignInit = sim_C_SignInit,
	.C_Sign = sim_C_Sign,
	.C_SignUpdate = sim_C_SignUpdate,
	.C_SignFinal = sim_C_SignFinal,
	.C_SignRecoverInit = sim_C_SignRecoverInit,
	.C_SignRecover = sim_C_SignRecover,
	.C_VerifyInit = sim_C_VerifyInit,
	.C_Verify = sim_C_Verify,
	.C_VerifyUpdate = sim_C_VerifyUpdate,
	.C_VerifyFinal = sim_C_VerifyFinal,
	.C_VerifyRecoverInit = sim_C_VerifyRecoverInit,
	.C_VerifyRecover = sim_C_VerifyRecover,
	.C_DigestEncryptUpdate = sim_C_DigestEncryptUpdate,
	.C_DecryptDigestUpdate = sim_C_DecryptDigestUpdate,
	.C_SignEncryptUpdate = sim_C_SignEncryptUpdate,
	.C_DecryptVerifyUpdate = sim_C_DecryptVerifyUpdate,
	.C_GenerateKey = sim_C_GenerateKey,
	.C_GenerateKeyPair = sim_C_GenerateKeyPair,
	.C_WrapKey = sim_C_WrapKey,
	.C_UnwrapKey = sim_C_UnwrapKey,
	.C_DeriveKey = sim_C_DeriveKey,
	.C_SeedRandom = sim_C_SeedRandom,
	.C_GenerateRandom = sim_C_GenerateRandom,
	.C_GetFunctionStatus = sim_C_GetFunctionStatus,
	.C_CancelFunction = sim_C_CancelFunction,
	.C_WaitForSlotEvent = sim_C_WaitForSlotEvent,
};
