#!/bin/sh
# tests/bench/bench_agent.sh: ukey-agent's POST /v1/authenticate round trip against the same token work done directly (login, C_Sign, logout) and a bare C_Sign loop, same SoftHSM2 token, same run.
#
# Goal: the agent adds at most 1 ms at the median over the direct
# login + sign + logout. Two agents are measured: [1] with the lockout
# guard's directory on the test disk (two fdatasync'd slot writes per
# attempt, as deployed), [2] with it on tmpfs, which shows what the rest of
# the agent (HTTP, checks, IPC to the worker) costs.
#
# Environment: UKEY_BUILD (build dir), ROUNDS (default 300).
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
UKEY_BUILD=${UKEY_BUILD:-$ROOT/build}
ROUNDS=${ROUNDS:-300}
BENCH=$UKEY_BUILD/tests/bench/bench_agent
. "$ROOT/tests/lib/agent.sh"

skip() {
	echo "bench_agent: skipped: $*"
	exit 0
}
[ -x "$AG_BIN" ] || skip "$AG_BIN not built"
[ -x "$BENCH" ] || skip "$BENCH not built"
[ -f "$AG_SOFTHSM" ] || skip "SoftHSM2 not installed"
command -v pkcs11-tool >/dev/null 2>&1 || skip "pkcs11-tool not installed"

SHM=""
cleanup() {
	ag_cleanup
	[ -n "$SHM" ] && rm -rf "$SHM"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ag_init
SERIAL=$(ag_token bench) || skip "cannot make a SoftHSM2 token"
ag_keycert bench 01 ec "/CN=Bench/O=Unit 1" || skip "cannot make a key"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	SHM=$(mktemp -d /dev/shm/ukey-bench-agent.XXXXXX)
fi

P1=$AG_PORT
ag_conf "$T/disk.conf" "module = $AG_SOFTHSM" "log_level = warn"
ag_start "$T/disk.conf" || exit 1
URLS="http://127.0.0.1:$P1/v1/authenticate"
if [ -n "$SHM" ]; then
	AG_PORT=$(ag_free_port)
	ag_conf "$T/shm.conf" "module = $AG_SOFTHSM" "log_level = warn" \
	    "state_dir = $SHM/state"
	ag_start "$T/shm.conf" || exit 1
	URLS="$URLS http://127.0.0.1:$AG_PORT/v1/authenticate"
fi

echo "# $ROUNDS rounds, ES256 on SoftHSM2, pin_source = request;" \
    "[1] guard on $(df -T "$T" | awk 'NR == 2 { print $2 }')${SHM:+, [2] guard on tmpfs}"
# shellcheck disable=SC2086 # a list of URLs
"$BENCH" "$AG_SOFTHSM" "$SERIAL" 01 "$T/pin" "$AG_ORIGIN" "$ROUNDS" $URLS
echo "agent: goal: overhead <= 1000 us at the median"
exit 0
