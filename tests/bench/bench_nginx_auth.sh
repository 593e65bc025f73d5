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
NGINX=${NGINX:-/usr/sbin/nginx}
BENCH=bench_nginx_auth
. "$ROOT/tests/bench/lib.sh"
[ -x "$GW_BIN" ] || skip "$GW_BIN not built"
[ -x "$STATIC" ] || skip "$STATIC not built"
[ -x "$NGINX" ] || skip "nginx not installed"
command -v ab >/dev/null 2>&1 || skip "ab (apache2-utils) not installed"

bench_tmp bench-nginx
chmod 755 "$T"
static_start "$T/up.port"
UP_PORT=$(static_port "$T/up.port")

gateway_start "$UP_PORT"

AUTH_PORT=$(ag_free_port)
PLAIN_PORT=$(ag_free_port)
mkdir -p "$T/nginx/cache" "$T/nginx/tmp"
if [ "$CACHE" -gt 0 ]; then
	CACHE_CONF="proxy_cache authc;
			proxy_cache_key \"\$http_cookie|\$request_method|\$uri\";
			proxy_cache_valid 200 401 403 ${CACHE}s;
			proxy_cache_lock on;
			open_file_cache max=10000 inactive=20s;
			open_file_cache_valid 1s;
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

bench_rounds "$T/auth.res" "$AUTH" "$COOKIE" "$T/plain.res" "$PLAIN"
set -- $(bench_medians "$T/auth.res")
A_RPS=$1 A_P99=$2 A_FAIL=$3
set -- $(bench_medians "$T/plain.res")
P_RPS=$1 P_P99=$2 P_FAIL=$3

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
