#!/bin/sh
# tests/bench/bench_proxy.sh: authenticated proxied GETs per second through ukey-gateway (password session, query-scope route, upstream mhd-static) against mhd-static answered directly, same load generator, same run.
#
# Both sides are driven by ab -k (keep-alive) with the same request count
# and concurrency, in alternating rounds; the median round of each is
# printed with its p99 latency. The upstream behind the gateway is
# tests/tools/mhd-static (a static 200), so the gateway's own work (path,
# policy, session lookup in SQLite, identity headers and the ES256
# assertion, the libcurl exchange) is what separates the two figures.
#
# Goals (issue 4): gateway >= 0.7 x the reference's req/s; gateway p99 <=
# 2 x the reference's.
#
# Environment: UKEY_BUILD (build dir), N (requests a round, default 20000),
# C (concurrency, default 16), ROUNDS (default 3), THREADS (gateway
# [gateway] threads, default 0 = the gateway's default).
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
UKEY_BUILD=${UKEY_BUILD:-$ROOT/build}
N=${N:-20000}
C=${C:-16}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-0}
GW_BIN=$UKEY_BUILD/bin/ukey-gateway
STATIC=$UKEY_BUILD/tests/tools/mhd-static
. "$ROOT/tests/lib/agent.sh" # ag_free_port

skip() {
	echo "bench_proxy: skipped: $*"
	exit 0
}
[ -x "$GW_BIN" ] || skip "$GW_BIN not built"
[ -x "$STATIC" ] || skip "$STATIC not built"
command -v ab >/dev/null 2>&1 || skip "ab (apache2-utils) not installed"

T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/bench-proxy.XXXXXX") || exit 1
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

# static_start FILE: mhd-static on a free port; the port into FILE.
static_start() {
	"$STATIC" --port 0 >"$1" 2>"$T/static.err" &
	PIDS="$PIDS $!"
	_i=0
	while [ $_i -lt 50 ]; do
		grep -q '^listening ' "$1" 2>/dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
static_start "$T/up.port" || skip "mhd-static did not start"
UP_PORT=$(sed -n 's/^listening //p' "$T/up.port")
static_start "$T/ref.port" || skip "mhd-static did not start"
REF_PORT=$(sed -n 's/^listening //p' "$T/ref.port")

GW_PORT=$(ag_free_port)
GW="http://127.0.0.1:$GW_PORT"
cat >"$T/routes" <<ROUTES
/hall/query/  GET,HEAD  session scope=query
ROUTES
cat >"$T/gw.conf" <<CONF
[gateway]
listen = 127.0.0.1
port = $GW_PORT
public_origin = https://gjj.example.cn
store = $T/ukey.db
threads = $THREADS
log_level = warn
[proxy]
upstream = http://127.0.0.1:$UP_PORT
routes = $T/routes
[assertion]
key = $T/assertion.pem
CONF
adm() {
	"$GW_BIN" -c "$T/gw.conf" admin "$@" >>"$T/admin.log" 2>&1
}
printf 'Bench-Passw0rd-2024\n' >"$T/pw"
adm unit add --id U1 --name "Bench Unit" --uscc 91350100M000100Y43 --form B-1 &&
    adm unit agreement U1 --form B-2 &&
    adm unit authorize U1 --form B-3 &&
    adm operator add --login bench --unit U1 --name Bench --roles maker \
        --password-fd 3 --form B-4 3<"$T/pw" ||
    skip "admin commands failed: $(tail -n 3 "$T/admin.log")"

"$GW_BIN" -c "$T/gw.conf" serve >"$T/gw.log" 2>&1 &
GW_PID=$!
PIDS="$PIDS $GW_PID"
i=0
until curl -s -o /dev/null "$GW/.well-known/jwks.json"; do
	i=$((i + 1))
	[ $i -lt 100 ] && kill -0 "$GW_PID" 2>/dev/null ||
	    skip "the gateway did not start: $(tail -n 3 "$T/gw.log")"
	sleep 0.1
done

# A password login: the pre-login cookie and CSRF token, then the session.
curl -s -D "$T/h1" -o "$T/b1" "$GW/auth/challenge"
PRE=$(sed -n 's/^Set-Cookie: __Host-ukey-pre=\([^;]*\);.*/\1/p' "$T/h1" | tr -d '\r')
CSRF=$(sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' "$T/b1")
curl -s -D "$T/h2" -o "$T/b2" -H "Cookie: __Host-ukey-pre=$PRE" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    --data '{"login":"bench","password":"Bench-Passw0rd-2024"}' "$GW/auth/password"
SESS=$(sed -n 's/^Set-Cookie: __Host-ukey-session=\([^;]*\);.*/\1/p' "$T/h2" | tr -d '\r')
[ -n "$SESS" ] || skip "password login failed: $(cat "$T/b2")"
COOKIE="Cookie: __Host-ukey-session=$SESS"
st=$(curl -s -o "$T/b3" -w '%{http_code}' -H "$COOKIE" "$GW/hall/query/list?page=1")
[ "$st" = 200 ] || skip "the proxied GET answered $st: $(cat "$T/b3")"

# run_ab URL [header]: "req/s p99_ms failed" of one round.
run_ab() {
	if [ $# -gt 1 ]; then
		ab -q -k -n "$N" -c "$C" -H "$2" "$1" >"$T/ab.out" 2>&1
	else
		ab -q -k -n "$N" -c "$C" "$1" >"$T/ab.out" 2>&1
	fi
	awk '/^Requests per second:/ { rps = $4 }
	    /^Failed requests:/ { failed = $3 }
	    /^Non-2xx responses:/ { non2xx = $3 }
	    /^  99%/ { p99 = $2 }
	    END { printf "%s %s %d\n", rps, p99, failed + non2xx }' "$T/ab.out"
}
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Warm-up: connections, the store's page cache, the CPU clock.
run_ab "$GW/hall/query/list?page=1" "$COOKIE" >/dev/null
run_ab "http://127.0.0.1:$REF_PORT/hall/query/list?page=1" >/dev/null
: >"$T/gw.res"
: >"$T/ref.res"
r=0
while [ $r -lt "$ROUNDS" ]; do
	run_ab "$GW/hall/query/list?page=1" "$COOKIE" >>"$T/gw.res"
	run_ab "http://127.0.0.1:$REF_PORT/hall/query/list?page=1" >>"$T/ref.res"
	r=$((r + 1))
done
GW_RPS=$(awk '{ print $1 }' "$T/gw.res" | median)
GW_P99=$(awk '{ print $2 }' "$T/gw.res" | median)
REF_RPS=$(awk '{ print $1 }' "$T/ref.res" | median)
REF_P99=$(awk '{ print $2 }' "$T/ref.res" | median)
GW_FAIL=$(awk '{ s += $3 } END { print s + 0 }' "$T/gw.res")
REF_FAIL=$(awk '{ s += $3 } END { print s + 0 }' "$T/ref.res")

echo "# ab -k -n $N -c $C, median of $ROUNDS alternating rounds;" \
    "gateway: password session (scope query), route /hall/query/," \
    "upstream mhd-static; reference: mhd-static directly" \
    "(thread pool 2, epoll)"
echo "# rounds gateway (req/s p99_ms failed): $(tr '\n' ';' <"$T/gw.res")"
echo "# rounds reference (req/s p99_ms failed): $(tr '\n' ';' <"$T/ref.res")"
echo "proxy: gateway $GW_RPS req/s (p99 $GW_P99 ms, $GW_FAIL failed)," \
    "reference mhd-static $REF_RPS req/s (p99 $REF_P99 ms, $REF_FAIL failed)"
awk -v g="$GW_RPS" -v r="$REF_RPS" -v gp="$GW_P99" -v rp="$REF_P99" 'BEGIN {
	printf "proxy: ratio %.2fx (goal >= 0.7x); p99 ratio %.2fx (goal <= 2x)\n",
	    (r > 0 ? g / r : 0), gp / (rp > 0 ? rp : 1)
	if (rp == 0)
		print "# ab reports whole milliseconds: the reference p99 of 0 ms" \
		    " is taken as 1 ms for the p99 ratio"
}'
exit 0
