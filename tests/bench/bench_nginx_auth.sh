#!/bin/sh
# tests/bench/bench_nginx_auth.sh: the high-volume deployment: Debian's nginx in front, auth_request to ukey-gateway's GET /auth/verify with the verdict cached per session cookie, against the same nginx proxying the same upstream without authentication, same run.
#
# Upstream: tests/tools/mhd-static (a static 200). Both nginx servers run
# in one nginx (config in a temp dir, daemon off, stopped by pid), keep
# upstream connections alive, and are driven by ab -k with the same count
# and concurrency, in alternating rounds; the medians are printed.
#
# The verdict cache: /auth/verify answers (200 with the identity headers,
# or the refusal) are cached CACHE seconds per (session cookie, method,
# path) with proxy_cache on the internal auth location. A session revoked
# at the gateway is therefore still let through for up to CACHE seconds;
# CACHE=0 removes the cache (every request asks the gateway).
#
# Goal (issue 4): >= 0.8 x nginx without authentication.
#
# Environment: UKEY_BUILD, N (default 20000), C (default 16), ROUNDS
# (default 3), CACHE (seconds, default 5; 0 = no cache).
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
UKEY_BUILD=${UKEY_BUILD:-$ROOT/build}
N=${N:-20000}
C=${C:-16}
ROUNDS=${ROUNDS:-3}
CACHE=${CACHE:-5}
GW_BIN=$UKEY_BUILD/bin/ukey-gateway
STATIC=$UKEY_BUILD/tests/tools/mhd-static
NGINX=${NGINX:-/usr/sbin/nginx}
. "$ROOT/tests/lib/agent.sh" # ag_free_port

skip() {
	echo "bench_nginx_auth: skipped: $*"
	exit 0
}
[ -x "$GW_BIN" ] || skip "$GW_BIN not built"
[ -x "$STATIC" ] || skip "$STATIC not built"
[ -x "$NGINX" ] || skip "nginx not installed"
command -v ab >/dev/null 2>&1 || skip "ab (apache2-utils) not installed"

T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/bench-nginx.XXXXXX") || exit 1
chmod 755 "$T"
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

"$STATIC" --port 0 >"$T/up.port" 2>"$T/static.err" &
PIDS="$PIDS $!"
i=0
until grep -q '^listening ' "$T/up.port" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 50 ] || skip "mhd-static did not start"
	sleep 0.1
done
UP_PORT=$(sed -n 's/^listening //p' "$T/up.port")

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
curl -s -D "$T/h1" -o "$T/b1" "$GW/auth/challenge"
PRE=$(sed -n 's/^Set-Cookie: __Host-ukey-pre=\([^;]*\);.*/\1/p' "$T/h1" | tr -d '\r')
CSRF=$(sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' "$T/b1")
curl -s -D "$T/h2" -o "$T/b2" -H "Cookie: __Host-ukey-pre=$PRE" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    --data '{"login":"bench","password":"Bench-Passw0rd-2024"}' "$GW/auth/password"
SESS=$(sed -n 's/^Set-Cookie: __Host-ukey-session=\([^;]*\);.*/\1/p' "$T/h2" | tr -d '\r')
[ -n "$SESS" ] || skip "password login failed: $(cat "$T/b2")"
COOKIE="Cookie: __Host-ukey-session=$SESS"

AUTH_PORT=$(ag_free_port)
PLAIN_PORT=$(ag_free_port)
mkdir -p "$T/nginx/cache" "$T/nginx/tmp"
if [ "$CACHE" -gt 0 ]; then
	CACHE_CONF="proxy_cache authc;
			proxy_cache_key \"\$http_cookie|\$request_method|\$uri\";
			proxy_cache_valid 200 401 403 ${CACHE}s;
			proxy_cache_lock on;
			proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;"
else
	CACHE_CONF="proxy_no_cache 1; proxy_cache_bypass 1;"
fi
cat >"$T/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes auto;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T/nginx/tmp/body;
	proxy_temp_path $T/nginx/tmp/proxy;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	proxy_cache_path $T/nginx/cache levels=1:2 keys_zone=authc:10m
	    max_size=64m inactive=60s use_temp_path=off;
	upstream business { server 127.0.0.1:$UP_PORT; keepalive 64; }
	upstream gateway { server 127.0.0.1:$GW_PORT; keepalive 64; }
	# With authentication: every request asks /auth/verify first.
	server {
		listen 127.0.0.1:$AUTH_PORT;
		location / {
			auth_request /_ukey_verify;
			auth_request_set \$ukey_unit \$upstream_http_x_ukey_unit;
			auth_request_set \$ukey_operator \$upstream_http_x_ukey_operator;
			auth_request_set \$ukey_login \$upstream_http_x_ukey_login;
			auth_request_set \$ukey_roles \$upstream_http_x_ukey_roles;
			auth_request_set \$ukey_method \$upstream_http_x_ukey_method;
			auth_request_set \$ukey_scope \$upstream_http_x_ukey_scope;
			auth_request_set \$ukey_assertion \$upstream_http_x_ukey_assertion;
			proxy_set_header X-Ukey-Unit \$ukey_unit;
			proxy_set_header X-Ukey-Operator \$ukey_operator;
			proxy_set_header X-Ukey-Login \$ukey_login;
			proxy_set_header X-Ukey-Roles \$ukey_roles;
			proxy_set_header X-Ukey-Method \$ukey_method;
			proxy_set_header X-Ukey-Scope \$ukey_scope;
			proxy_set_header X-Ukey-Assertion \$ukey_assertion;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://business;
		}
		location = /_ukey_verify {
			internal;
			proxy_pass http://gateway/auth/verify;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URI \$request_uri;
			proxy_set_header X-Original-Method \$request_method;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			$CACHE_CONF
		}
	}
	# Without authentication: the reference.
	server {
		listen 127.0.0.1:$PLAIN_PORT;
		location / {
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://business;
		}
	}
}
NGINX
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
    >"$T/nginx/out.log" 2>&1 &
NG_PID=$!
PIDS="$NG_PID $PIDS"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PLAIN_PORT/"; do
	i=$((i + 1))
	[ $i -lt 50 ] && kill -0 "$NG_PID" 2>/dev/null ||
	    skip "nginx did not start: $(tail -n 3 "$T/nginx/error.log")"
	sleep 0.1
done
AUTH="http://127.0.0.1:$AUTH_PORT/hall/query/list?page=1"
PLAIN="http://127.0.0.1:$PLAIN_PORT/hall/query/list?page=1"
st=$(curl -s -o /dev/null -w '%{http_code}' -H "$COOKIE" "$AUTH")
[ "$st" = 200 ] || skip "the authenticated GET answered $st"
st=$(curl -s -o /dev/null -w '%{http_code}' "$AUTH")
[ "$st" = 401 ] || skip "a GET without a session answered $st, not 401"

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

run_ab "$AUTH" "$COOKIE" >/dev/null
run_ab "$PLAIN" >/dev/null
: >"$T/auth.res"
: >"$T/plain.res"
r=0
while [ $r -lt "$ROUNDS" ]; do
	run_ab "$AUTH" "$COOKIE" >>"$T/auth.res"
	run_ab "$PLAIN" >>"$T/plain.res"
	r=$((r + 1))
done
A_RPS=$(awk '{ print $1 }' "$T/auth.res" | median)
A_P99=$(awk '{ print $2 }' "$T/auth.res" | median)
P_RPS=$(awk '{ print $1 }' "$T/plain.res" | median)
P_P99=$(awk '{ print $2 }' "$T/plain.res" | median)
A_FAIL=$(awk '{ s += $3 } END { print s + 0 }' "$T/auth.res")
P_FAIL=$(awk '{ s += $3 } END { print s + 0 }' "$T/plain.res")

echo "# ab -k -n $N -c $C, median of $ROUNDS alternating rounds; nginx" \
    "$("$NGINX" -v 2>&1 | sed 's/.*\///'), upstream mhd-static;" \
    "auth_request to GET /auth/verify, verdict cache ${CACHE}s per" \
    "(session cookie, method, path)"
echo "# rounds auth (req/s p99_ms failed): $(tr '\n' ';' <"$T/auth.res")"
echo "# rounds plain (req/s p99_ms failed): $(tr '\n' ';' <"$T/plain.res")"
echo "nginx_auth: with auth_request $A_RPS req/s (p99 $A_P99 ms, $A_FAIL failed)," \
    "without $P_RPS req/s (p99 $P_P99 ms, $P_FAIL failed)"
awk -v a="$A_RPS" -v p="$P_RPS" 'BEGIN {
	printf "nginx_auth: ratio %.2fx (goal >= 0.8x)\n", (p > 0 ? a / p : 0)
}'
if [ "$CACHE" -gt 0 ]; then
	echo "nginx_auth: revocation delay: up to ${CACHE} s (the verdict" \
	    "cache: a revoked or expired session passes nginx until its" \
	    "cached 200 ages out); for none, drop proxy_cache from the auth" \
	    "location (CACHE=0 here): every request then asks /auth/verify"
else
	echo "nginx_auth: revocation delay: none (no verdict cache; every" \
	    "request asks /auth/verify)"
fi
exit 0
