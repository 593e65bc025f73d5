#!/bin/sh
# tests/integration/test_gateway_nginx.sh: Debian's nginx in front of echo-upstream with auth_request to ukey-gateway's GET /auth/verify, configured from examples/nginx/ukeygate.conf: allowed requests reach the upstream with the identity and a valid assertion, refused ones never do, client X-Ukey-* headers are replaced, and the cached variant's revocation delay is what the example says.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
NGINX=${NGINX:-/usr/sbin/nginx}
if [ ! -x "$NGINX" ]; then
	echo "1..0 # SKIP $NGINX not installed"
	exit 0
fi
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_nginx.XXXXXX") || exit 1
. "$ROOT/tests/lib/gateway.sh"
NX_PID=""
cleanup() {
	if [ -n "$NX_PID" ]; then
		kill "$NX_PID" 2>/dev/null
		wait "$NX_PID" 2>/dev/null
	fi
	gw_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

gw_init
UP_PORT=$(gw_free_port)
NX_PORT=$(gw_free_port)
NXC_PORT=$(gw_free_port)
NX="http://127.0.0.1:$NX_PORT"
NXC="http://127.0.0.1:$NXC_PORT"
gw_bg upstream "$GW_ECHO" --port "$UP_PORT" --jwks-url "$GW/.well-known/jwks.json" \
    --issuer "$GW" --audience ukey-hall
check "echo-upstream starts" gw_wait_url "http://127.0.0.1:$UP_PORT/" "$GW_BG_PID"
gw_routes \
    '/pub/        GET,HEAD        public' \
    '/hall/query/ GET,HEAD,POST   session scope=query' \
    '/hall/       GET,HEAD,POST   session scope=full'
gw_conf "proxy.upstream = http://127.0.0.1:$UP_PORT" "gateway.trusted_proxies = 127.0.0.1"
check "the gateway starts" gw_start

printf 'Passw0rd2024\n' >"$T/pw"
gw_admin admin unit add --id U1 --name "某某公司" --form F-1 &&
    gw_admin admin unit agreement U1 --form F-2 &&
    gw_admin admin unit authorize U1 --form F-3 &&
    gw_admin admin operator add --login alice --unit U1 --name 张三 \
        --roles maker --password-fd 3 --form F-4 3<"$T/pw"
check_eq "unit and operator registered" 0 "$?"

# nginx from the example, its addresses and paths replaced.
mkdir -p "$T/nx/cache"
sed -e "s#127.0.0.1:8443#127.0.0.1:$GW_PORT#" \
    -e "s#127.0.0.1:8081#127.0.0.1:$UP_PORT#" \
    -e "s#listen 127.0.0.1:8080;#listen 127.0.0.1:$NX_PORT;#" \
    -e "s#listen 127.0.0.1:8090;#listen 127.0.0.1:$NXC_PORT;#" \
    -e "s#/var/cache/nginx/ukey-auth#$T/nx/cache#" \
    -e "s#proxy_cache_valid 200 401 403 5s;#proxy_cache_valid 200 401 403 3s;#" \
    "$ROOT/examples/nginx/ukeygate.conf" >"$T/nx/ukeygate.conf"
cat >"$T/nx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nx/nginx.pid;
error_log $T/nx/error.log info;
events { worker_connections 256; }
http {
	access_log $T/nx/access.log;
	client_body_temp_path $T/nx/body;
	proxy_temp_path $T/nx/proxy;
	fastcgi_temp_path $T/nx/fastcgi;
	uwsgi_temp_path $T/nx/uwsgi;
	scgi_temp_path $T/nx/scgi;
	include $T/nx/ukeygate.conf;
}
EOF
check "nginx accepts the example configuration" "$NGINX" -t -q -c "$T/nx/nginx.conf" -p "$T/nx" -e "$T/nx/error.log"
"$NGINX" -c "$T/nx/nginx.conf" -p "$T/nx" -e "$T/nx/error.log" >>"$T/nx/out.log" 2>&1 &
NX_PID=$!
check "nginx starts (by pid, daemon off)" gw_wait_url "$NX/auth/challenge" "$NX_PID"

# Through nginx, the browser's own view.
GW_SAVE=$GW
GW=$NX
# Every echo-upstream answer carries X-Echo-Server and a "method": the
# request reached the upstream.
from_upstream() {
	grep -q '"method"' "$T/body" && grep -qi '^X-Echo-Server' "$T/hdr"
}

st=$(gw_req "$NX/hall/query/list")
check_eq "no cookie: 401 from nginx" 401 "$st"
check_fail "... the upstream was not reached" from_upstream
st=$(gw_req "$NX/pub/x")
check_eq "a public route without a cookie: passed" 200 "$st"
check "... reached the upstream" from_upstream
check_eq "... with no identity" "" "$(gw_json "$T/body" 'j["headers"].get("X-Ukey-Login", "")')"

gw_pre "$T/a"
st=$(gw_post_json "$T/a" /auth/password '{"login":"alice","password":"Passw0rd2024"}' "$CSRF")
check_eq "password login through nginx" 200 "$st"
SCSRF=$(gw_json "$T/body" 'j["csrf"]')
st=$(gw_jar "$T/a" -H 'X-Ukey-Login: mallory' -H 'x-ukey-operator: spoofedOpA' \
    -H 'X_Ukey_Operator: spoofedOpB' -H 'X-UKEY-UNIT: EVIL' "$NX/hall/query/list?page=2")
check_eq "an allowed request: 200" 200 "$st"
check "... reached the upstream" from_upstream
check_eq "... with the query" "/hall/query/list?page=2" "$(gw_json "$T/body" 'j["path"] + "?" + j["query"]')"
hv() {
	gw_json "$T/body" "[v for k, v in j[\"headers\"].items() if k.lower() == \"$1\"]"
}
check_eq "... X-Ukey-Login from the gateway only" '["alice"]' "$(hv x-ukey-login)"
check_eq "... X-Ukey-Unit" '["U1"]' "$(hv x-ukey-unit)"
check_eq "... X-Ukey-Scope" '["query"]' "$(hv x-ukey-scope)"
check_eq "... X-Ukey-Method" '["password"]' "$(hv x-ukey-method)"
check_eq "... X-Ukey-Roles" '["maker"]' "$(hv x-ukey-roles)"
check_fail "... the client's X-Ukey-Operator spellings are gone" sh -c \
    'grep -q "spoofedOp" "$1"' x "$T/body"
check_eq "... the assertion verifies against the gateway's JWKS" True \
    "$(gw_json "$T/body" 'j["assertion"]["valid"]' | sed 's/true/True/')"
check_eq "... and names alice" alice "$(gw_json "$T/body" 'j["assertion"]["claims"].get("login", j["assertion"]["claims"].get("sub"))')"
st=$(gw_jar "$T/a" "$NX/hall/full")
check_eq "a query session on a full route: 403 from nginx" 403 "$st"
check_fail "... the upstream was not reached" from_upstream
st=$(gw_jar "$T/a" -X POST -H 'Content-Type: text/plain' --data x "$NX/hall/query/save")
check_eq "a POST without X-CSRF-Token: 403" 403 "$st"
check_fail "... not reached" from_upstream
st=$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $SCSRF" -H 'Content-Type: text/plain' --data x "$NX/hall/query/save")
check_eq "... with it: 200" 200 "$st"
check "... reached, with its body" sh -c 'grep -q "\"body_len\": *1" "$1"' x "$T/body"
st=$(gw_req "$NX/nowhere")
check_eq "an unknown route: 403" 403 "$st"
check_eq "the gateway logged each verification with the operator" 1 \
    "$(grep -c 'path=/auth/verify .*principal=operator:alice' "$GW_LOG" | awk '{print ($1 > 0)}')"

# --- the cached variant: the revocation delay ---
cp "$T/a" "$T/c"
st=$(gw_jar "$T/c" "$NXC/hall/query/c1")
check_eq "cached variant: allowed" 200 "$st"
check "... reached" from_upstream
n0=$(grep -c 'path=/auth/verify' "$GW_LOG")
gw_jar "$T/c" "$NXC/hall/query/c1" >/dev/null
check_eq "... a second GET of the same URI is not asked of the gateway" "$n0" "$(grep -c 'path=/auth/verify' "$GW_LOG")"
st=$(gw_post_json "$T/a" /auth/logout '{}' "$SCSRF")
check_eq "logout" 200 "$st"
st=$(gw_jar "$T/c" "$NX/hall/query/c1")
check_eq "plain variant: refused at once after logout" 401 "$st"
st=$(gw_jar "$T/c" "$NXC/hall/query/c1")
check_eq "cached variant: still allowed within the cache time (the documented delay)" 200 "$st"
st=$(gw_jar "$T/c" "$NXC/hall/query/c2")
check_eq "... but not on a URI not verified before" 401 "$st"
# nginx keeps times in whole seconds: the entry ends within a second after
# the 3 s it was given; on a loaded machine allow a little more.
sleep 3
i=0
st=$(gw_jar "$T/c" "$NXC/hall/query/c1")
while [ "$st" = 200 ] && [ $i -lt 10 ]; do
	sleep 0.5
	st=$(gw_jar "$T/c" "$NXC/hall/query/c1")
	i=$((i + 1))
done
check_eq "... refused once the cache time is over (within 8 s)" 401 "$st"

p=$NX_PID
kill "$NX_PID" 2>/dev/null
wait "$NX_PID" 2>/dev/null
NX_PID=""
check_fail "nginx stopped by pid" kill -0 "$p" 2>/dev/null
GW=$GW_SAVE
t_done
