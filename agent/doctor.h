/* agent/doctor.h: ukey-agent doctor: layered checks from pcscd to the gateway's clock, each explaining an operator's error and its remedy. */
#ifndef UK_AGENT_DOCTOR_H
#define UK_AGENT_DOCTOR_H

#include <stdio.h>

#include "common/config.h"

/*
 * The checks, in order; each ends PASS, WARN, FAIL or SKIP (a layer below
 * failed, or nothing to check):
 *
 *   pcscd running        SCardEstablishContext answers
 *   readers              pcscd sees at least one reader
 *   card present         a reader holds a card
 *   module loads         [agent] module is on module_allowlist and loads
 *   token present        the module shows an initialised token
 *   PIN state            per token: token flags and the agent's lockout
 *                        guard (LOCKED fails; COUNT_LOW, FINAL_TRY,
 *                        TO_BE_CHANGED warn)
 *   certificate present  per token: a certificate is on it
 *   certificate expiry   per certificate: expired or not yet valid fails,
 *                        "expires in N days" warns within
 *                        AG_DOCTOR_EXPIRY_WARN_DAYS
 *   certificate chain    per certificate: chains to [agent] trusted_ca
 *                        with the project's verifier (client auth)
 *   agent port           127.0.0.1:[agent] port answers GET /v1/status as
 *                        the agent (sent with an allowed Origin)
 *   allowed origins      [agent] allowed_origins is not empty, well formed,
 *                        https, and holds the gateway's origin
 *   PIN entry            [agent] pinentry can be run and is not a
 *                        terminal-only one (unless pin_source = request)
 *   clock                the gateway's Date header (HEAD gateway_url) is
 *                        within AG_DOCTOR_CLOCK_WARN_S (warn) /
 *                        AG_DOCTOR_CLOCK_FAIL_S (fail) of ours
 *
 * A WARN or FAIL carries the message operators see today that it explains
 * (REQUIREMENTS.md, e.g. 「签名失败，请确认签名控件，根证书已被导入」; several
 * are separated by " / "), the catalogue code it matches when there is
 * one, and a remedy in Chinese and English.
 *
 * The catalogue's other operator messages (wrong password, frozen user,
 * scan login, hall authorisation, …) come from the gateway, not from this
 * computer: the report lists them with their remedies under "elsewhere".
 *
 * Text output: one line per check, "PASS  name  detail", with
 * "explains:", "error:" and "remedy:" lines below a WARN or FAIL, the
 * messages from elsewhere, then a summary line. JSON output (one object):
 *   {"checks":[{"name","status","detail","token"?,"code"?,"explains"?,
 *     "remedy"?:{"zh","en"}}, …],
 *    "elsewhere":[{"explains","code","remedy":{"zh","en"}}, …],
 *    "summary":{"pass":n,"warn":n,"fail":n,"skip":n}}
 */

#define AG_DOCTOR_EXPIRY_WARN_DAYS 30
#define AG_DOCTOR_CLOCK_WARN_S 60
#define AG_DOCTOR_CLOCK_FAIL_S 300

/*
 * Runs every check for cfg (the agent's configuration, [agent] section) and
 * writes the report to out, as text or (json != 0) JSON. gateway_url
 * (may be NULL: then [agent] gateway_url, and with neither the clock check
 * is skipped) is the gateway's base URL. The PKCS#11 module is loaded in
 * this process for the duration of the call; no PIN is asked for or
 * tried. Returns 0 when no check failed, 1 when at least one did, or
 * UK_ERR_NOMEM / UK_ERR_IO (the report could not be made or written).
 */
int ag_doctor_run(const struct config *cfg, const char *gateway_url, int json,
    FILE *out);

#endif
