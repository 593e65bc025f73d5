/* ukey_sim_log.c: ukey-sim's lines on stderr and the names of CK_RV values. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pkcs11/ckr_names.h"
#include "pkcs11/ukey_sim.h"

#define SIM_LOG_MAX 512

static void
sim_vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
sim_vlog(const char *fmt, va_list ap)
{
	char buf[SIM_LOG_MAX];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "ukey-sim: %s\n", buf);
}

/* Writes "ukey-sim: <message>" as one line to stderr. */
void
sim_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sim_vlog(fmt, ap);
	va_end(ap);
}

/* Like sim_log, only when UKEY_SIM_DEBUG is set and not empty. */
void
sim_debug(const char *fmt, ...)
{
	const char *e = secure_getenv("UKEY_SIM_DEBUG");
	va_list ap;

	if (e == NULL || *e == '\0')
		return;
	va_start(ap, fmt);
	sim_vlog(fmt, ap);
	va_end(ap);
}

/* Returns the static name of rv, or "CKR_(unknown)". */
const char *
sim_rv_name(CK_RV rv)
{
	const char *name;

	if ((name = ckr_name(rv)) != NULL)
		return name;
	if (rv >= CKR_VENDOR_DEFINED)
		return "CKR_VENDOR_DEFINED";
	return "CKR_(unknown)";
}
