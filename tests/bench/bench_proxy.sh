#!/bin/sh
# tests/bench/bench_proxy.sh: authenticated proxied GETs per second through ukey-gateway (password session, query-scope route, upstream mhd-static) against mhd-static answered directly, same load generator, same run.
#
# Both sides are driven by ab -k (keep-alive; KEEPALIVE=0 for a new
# connection per request) with the same request count
# and concurrency, in alternating rounds; the median round of each is
# printed with its p99 latency. The upstream behind the gateway is
# tests/tools/mhd-static (a static 200), so the gateway's own work (path,
# policy, session lookup in SQLite, identity headers and the ES256
# assertion, the libcurl exchange) is what separates the two figures.
#
# Goals (issue 4): gateway >= 0.7 x the reference's req/s; gateway p99 <=
# 2 x the reference's.
#
# For scale, the same rounds are run against Debian's nginx proxying the
# same upstream with no authentication at all: a proxied request costs
# the upstream's work as well as the proxy's, on the same two cores, so
# nginx's own ratio to the reference bounds what any proxy can reach here.
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
BENCH=bench_proxy
. "$ROOT/tests/bench/lib.sh"
[ -x "$GW_BIN" ] || skip "$GW_BIN not built"
[ -x "$STATIC" ] || skip "$STATIC not built"
command -v ab >/dev/null 2>&1 || skip "ab (apache2-utils) not installed"

bench_tmp bench-proxy
static_start "$T/up.port"
UP_PORT=$(static_port "$T/up.port")
static_start "$T/ref.port"
REF_PORT=$(static_port "$T/ref.port")

gateway_start "$UP_PORT" "threads = $THREADS"
st=$(curl -s -o "$T/b3" -w '%{http_code}' -H "$COOKIE" "$GW/hall/query/list?page=1")
[ "$st" = 200 ] || skip "the proxied GET answered $st: $(cat "$T/b3")"

bench_rounds "$T/gw.res" "$GW/hall/query/list?page=1" "$COOKIE" \
    "$T/ref.res" "http://127.0.0.1:$REF_PORT/hall/query/list?page=1"
set -- $(bench_medians "$T/gw.res")
GW_RPS=$1 GW_P99=$2 GW_FAIL=$3
set -- $(bench_medians "$T/ref.res")
REF_RPS=$1 REF_P99=$2 REF_FAIL=$3

# What a mature proxy gets against the same reference: nginx, no
# authentication at all, in front of the same upstream.
NG_RPS=0
if nginx_proxy_start "$UP_PORT"; then
	_r=0
	run_ab "$NGX/hall/query/list?page=1" >/dev/null
	: >"$T/ngx.res"
	while [ $_r -lt "$ROUNDS" ]; do
		run_ab "$NGX/hall/query/list?page=1" >>"$T/ngx.res"
		_r=$((_r + 1))
	done
	set -- $(bench_medians "$T/ngx.res")
	NG_RPS=$1 NG_P99=$2
fi

echo "# ab $([ "${KEEPALIVE:-1}" = 0 ] || echo -k) -n $N -c $C, median of $ROUNDS alternating rounds;" \
    "gateway: password session (scope query), route /hall/query/," \
    "upstream mhd-static; reference: mhd-static directly" \
    "(thread pool 2, epoll)"
echo "# rounds gateway (req/s p99_ms failed): $(tr '\n' ';' <"$T/gw.res")"
echo "# rounds reference (req/s p99_ms failed): $(tr '\n' ';' <"$T/ref.res")"
echo "proxy: gateway $GW_RPS req/s (p99 $GW_P99 ms, $GW_FAIL failed)," \
    "reference mhd-static $REF_RPS req/s (p99 $REF_P99 ms, $REF_FAIL failed)"
if [ "$NG_RPS" != 0 ]; then
	echo "proxy: nginx proxying the same upstream without authentication" \
	    "$NG_RPS req/s (p99 $NG_P99 ms)"
	awk -v g="$GW_RPS" -v r="$REF_RPS" -v n="$NG_RPS" 'BEGIN {
		printf "proxy: nginx / reference %.2fx; gateway / nginx %.2fx\n",
		    (r > 0 ? n / r : 0), (n > 0 ? g / n : 0)
	}'
fi
awk -v g="$GW_RPS" -v r="$REF_RPS" -v gp="$GW_P99" -v rp="$REF_P99" 'BEGIN {
	printf "proxy: ratio %.2fx (goal >= 0.7x); p99 ratio %.2fx (goal <= 2x)\n",
	    (r > 0 ? g / r : 0), gp / (rp > 0 ? rp : 1)
	if (rp == 0)
		print "# ab reports whole milliseconds: the reference p99 of 0 ms" \
		    " is taken as 1 ms for the p99 ratio"
}'
exit 0
