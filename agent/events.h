/* agent/events.h: card events: pcsc-lite reader and card changes, and PKCS#11 slot polling for keys pcscd does not see. */
#ifndef UK_AGENT_EVENTS_H
#define UK_AGENT_EVENTS_H

/*
 * Two threads watch for UKeys coming and going and report each change as
 * one line of JSON through a callback:
 *
 *   - a PC/SC thread: SCardGetStatusChange over every reader and the
 *     "\\?PnP?\Notification" pseudo reader, 500 ms at a time (SCardCancel
 *     ends a wait at once on stop). It reports
 *       {"type":"reader-added","source":"pcsc","reader":NAME}
 *       {"type":"reader-removed","source":"pcsc","reader":NAME}
 *       {"type":"inserted","source":"pcsc","reader":NAME,"atr":HEX}
 *       {"type":"removed","source":"pcsc","reader":NAME}
 *     When pcscd is not running (or goes away) the thread tries again
 *     every AG_EVENTS_PCSC_RETRY_MS, quietly: keys that pcscd never sees
 *     (HID keys, ukey-sim) are no error. Readers and cards known before
 *     pcscd went away are reported removed.
 *   - a PKCS#11 thread (only when a module is given): lists the module's
 *     initialised tokens every AG_EVENTS_P11_POLL_MS (AG_EVENTS_P11_SLOW_MS
 *     while pcscd holds a card, whose changes PC/SC reports; at once after
 *     any PC/SC change) and compares their serial numbers with the last
 *     list (blank tokens, such as SoftHSM2's spare slot, are not
 *     followed):
 *       {"type":"inserted","source":"pkcs11",
 *        "token":{"serial":S,"label":L}}
 *       {"type":"removed","source":"pkcs11","token":{"serial":S,"label":L}}
 *     After a removal its PKCS#11 context is rebuilt (p11_ctx_reload), as
 *     some modules only see a re-inserted key after C_Finalize /
 *     C_Initialize. A module that cannot be loaded is tried again every
 *     AG_EVENTS_PCSC_RETRY_MS; its tokens count as removed meanwhile.
 *
 * What is there when watching starts is the baseline and is not reported;
 * changes after it are (when pcscd or the module only becomes available
 * later, what then appears is reported).
 *
 * The module is loaded in the calling process by its own PKCS#11 context.
 * Loading the same module twice in one process shares the module's
 * C_Initialize / C_Finalize, so run the events where no other context of
 * the same module lives (the agent runs them in a process of their own).
 */

/* How often the PKCS#11 thread lists tokens, in milliseconds. */
#define AG_EVENTS_P11_POLL_MS 1000
/* ... while pcscd holds a card (listing reads the card's objects). */
#define AG_EVENTS_P11_SLOW_MS 5000
/* How long the PC/SC thread waits in one SCardGetStatusChange call. */
#define AG_EVENTS_PCSC_WAIT_MS 500
/* Pause before connecting to pcscd again, or loading the module again. */
#define AG_EVENTS_PCSC_RETRY_MS 3000
/* Most readers followed (pcsc-lite itself handles 16). */
#define AG_EVENTS_READERS_MAX 32
/* Most tokens followed. */
#define AG_EVENTS_TOKENS_MAX 64

struct ag_events;

/*
 * Starts watching. module: the PKCS#11 module to poll (an absolute path the
 * caller has checked against its module allowlist), or NULL / "" for PC/SC
 * events only. cb is called with arg and one event as a line of compact
 * JSON (valid for the call only) from the watching threads, one call at a
 * time; it must return promptly and must not call ag_events_stop. Neither
 * pcscd nor the module need be available. *out belongs to the caller, who
 * ends it with ag_events_stop. Returns 0, UK_ERR_INPUT (cb NULL or module
 * not absolute), UK_ERR_NOMEM, UK_ERR_INTERNAL (no thread could be
 * started).
 */
int ag_events_start(struct ag_events **out, const char *module,
    void (*cb)(void *arg, const char *event_json), void *arg);

/* Stops both threads (within about AG_EVENTS_PCSC_WAIT_MS), unloads the
 * module and frees ev. No callback runs once it returns. NULL is a
 * no-op. */
void ag_events_stop(struct ag_events *ev);

#endif
