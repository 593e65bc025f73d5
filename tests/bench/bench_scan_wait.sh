#!/bin/sh
# tests/bench/bench_scan_wait.sh: 10,000 browsers holding scan waits on one ukey-gateway (SQLite): the gateway's RSS with all of them held, then the time from a confirm to that browser's answer.
#
# tests/tools/scan-waiters makes the tickets in the store, holds
# GET /auth/qr/<id>/wait?state=waiting on N keep-alive connections, reads
# VmRSS of the gateway, then marks SAMPLES tickets scanned and confirmed
# directly in the store, as a phone served by another gateway would: the
# answer comes through the gateway's change listener (SQLite
# data_version, polled every 200 ms, then every held ticket checked), the
# slowest of its wake-up paths; a confirm handled by the same gateway wakes
# its waits at once.
#
# Goals (issue 5): RSS < 256 MB with 10,000 waits held; the waiting
# request answers within 100 ms of the confirm at p99.
#
# Environment: UKEY_BUILD (build dir), N (waits, default 10000), SAMPLES
# (default 40), THREADS (gateway [gateway] threads, default 0).
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
UKEY_BUILD=${UKEY_BUILD:-$ROOT/build}
N=${N:-10000}
SAMPLES=${SAMPLES:-40}
THREADS=${THREADS:-0}
GW_BIN=$UKEY_BUILD/bin/ukey-gateway
TOOL=$UKEY_BUILD/tests/tools/scan-waiters
. "$ROOT/tests/lib/agent.sh" # ag_free_port

skip() {
	echo "bench_scan_wait: skipped: $*"
	exit 0
}
[ -x "$GW_BIN" ] || skip "$GW_BIN not built"
[ -x "$TOOL" ] || skip "$TOOL not built"
[ "$(ulimit -Hn)" -gt $((N + 300)) ] 2>/dev/null ||
    skip "the hard limit of open files ($(ulimit -Hn)) is below N + 300"

T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/bench-scan.XXXXXX") || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

GW_PORT=$(ag_free_port)
GW="http://127.0.0.1:$GW_PORT"
echo "/hall/ GET session scope=query" >"$T/routes"
cat >"$T/gw.conf" <<CONF
[gateway]
listen = 127.0.0.1
port = $GW_PORT
public_origin = https://gjj.example.cn
store = $T/ukey.db
threads = $THREADS
log_level = warn
[proxy]
routes = $T/routes
[assertion]
key = $T/assertion.pem
[scan]
enabled = true
wait = 60
max_waiting = $((N + 1000))
[wechat]
appid = wx0123456789abcdef
secret = stub-app-secret
open_base = http://127.0.0.1:9
api_base = http://127.0.0.1:9
CONF
gw_admin() {
	"$GW_BIN" -c "$T/gw.conf" admin "$@" >>"$T/admin.log" 2>&1
}
gw_admin unit add --id U1 --name "Bench Unit" --uscc 91350100M000100Y43 \
    --form B-1 &&
    gw_admin unit agreement U1 --form B-2 &&
    gw_admin operator add --login bench --unit U1 --name Bench \
        --roles maker --form B-4 ||
    skip "admin commands failed: $(tail -n 3 "$T/admin.log")"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE operators SET wechat_openid = ? WHERE login = ?", ("oBench_1", "bench"))
c.commit()' "$T/ukey.db" || skip "cannot bind the openid"

"$GW_BIN" -c "$T/gw.conf" serve >"$T/gw.log" 2>&1 &
GW_PID=$!
PIDS="$PIDS $GW_PID"
_i=0
until curl -s -o /dev/null "$GW/.well-known/jwks.json"; do
	_i=$((_i + 1))
	[ $_i -lt 100 ] && kill -0 "$GW_PID" 2>/dev/null ||
	    skip "the gateway did not start: $(tail -n 3 "$T/gw.log")"
	sleep 0.1
done
RSS0=$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$GW_PID/status")

"$TOOL" -d "$T/ukey.db" -p "$GW_PORT" -n "$N" -k "$SAMPLES" -o oBench_1 \
    -g "$GW_PID" >"$T/out" 2>"$T/err"
rc=$?
sed 's/^/# /' "$T/out"
[ -s "$T/err" ] && sed 's/^/# stderr: /' "$T/err" | head -n 5
RSS=$(sed -n 's/^gateway_rss_kb \([0-9-]*\)$/\1/p' "$T/out")
HELD=$(sed -n 's/^connections [0-9]* held \([0-9]*\).*/\1/p' "$T/out")
set -- $(sed -n 's/^confirm_to_answer_ms p50 \([0-9.]*\) p99 \([0-9.]*\) max \([0-9.]*\)$/\1 \2 \3/p' "$T/out")
P50=${1:--} P99=${2:--} MAX=${3:--}
echo "scan_wait: $HELD of $N waits held; gateway RSS ${RSS:-?} kB" \
    "(idle ${RSS0:-?} kB), goal < 262144 kB"
echo "scan_wait: confirm -> answer p50 $P50 ms, p99 $P99 ms, max $MAX ms" \
    "over $SAMPLES confirms (goal p99 <= 100 ms)"
[ $rc = 0 ] || echo "scan_wait: the tool failed (exit $rc)"
exit 0
