#!/bin/sh
# tests/integration/test_gateway_cluster.sh: two ukey-gateway instances on one PostgreSQL database: a session made on one works on the other, six wrong passwords spread over both freeze the operator, the JWKS of either lists both assertion keys, and a unit's third certificate is refused.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
if [ -z "${UKEY_TEST_PG_URL:-}" ]; then
	echo "1..0 # SKIP UKEY_TEST_PG_URL unset (tests/run.sh sets it)"
	exit 0
fi
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_cluster.XXXXXX") || exit 1
. "$ROOT/tests/lib/gateway.sh"
CA=${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca
PGDB="ukey_gw_cluster_$$"
cleanup() {
	gw_cleanup
	psql "$UKEY_TEST_PG_URL" -q -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

psql "$UKEY_TEST_PG_URL" -q -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
check_eq "a fresh database" 0 "$?"
PGURL=$(echo "$UKEY_TEST_PG_URL" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$PGDB\1#")

UP_PORT=$(gw_free_port)
gw_bg upstream "$GW_ECHO" --port "$UP_PORT"
check "echo-upstream starts" gw_wait_url "http://127.0.0.1:$UP_PORT/" "$GW_BG_PID"

# Gateway B: its own port, configuration and assertion key.
gw_init
GW_ORIGIN=https://gjj.example.cn
gw_routes '/hall/query/ GET,HEAD,POST session scope=query' \
    '/hall/ GET,HEAD,POST session scope=full'
gw_conf "gateway.store = $PGURL" "gateway.public_origin = $GW_ORIGIN" \
    "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "auth.password_messages = detailed" "assertion.key = $T/keyB.pem"
GWB=$GW
GWB_CONF=$T/gwB.conf
mv "$GW_CONF" "$GWB_CONF"
# Gateway A: the helpers' gateway.
gw_init
gw_conf "gateway.store = $PGURL" "gateway.public_origin = $GW_ORIGIN" \
    "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "auth.password_messages = detailed" "assertion.key = $T/keyA.pem"
GWA=$GW

printf 'Passw0rd2024\n' >"$T/pw"
gw_admin admin unit add --id U1 --name "某某公司" --form F-1 &&
    gw_admin admin unit agreement U1 --form F-2 &&
    gw_admin admin unit authorize U1 --form F-3 &&
    gw_admin admin operator add --login alice --unit U1 --name alice \
        --roles maker --password-fd 3 --form F-4 3<"$T/pw" &&
    gw_admin admin operator add --login carol --unit U1 --name carol \
        --roles maker --password-fd 3 --form F-5 3<"$T/pw"
check_eq "unit and operators registered on PostgreSQL" 0 "$?"

check "gateway A starts" gw_start
gw_bg gwB "$GW_BIN" -c "$GWB_CONF" serve
GWB_PID=$GW_BG_PID
check "gateway B starts" gw_wait_url "$GWB/.well-known/jwks.json" "$GWB_PID"

# login URL JAR LOGIN PASSWORD: a password login at gateway URL; status in
# LST.
login() {
	GW=$1
	rm -f "$2"
	gw_pre "$2"
	LST=$(gw_post_json "$2" /auth/password "{\"login\":\"$3\",\"password\":\"$4\"}" "$CSRF")
	GW=$GWA
}

# --- a session made on A works on B ---
login "$GWA" "$T/a" alice Passw0rd2024
check_eq "alice logs in at A" 200 "$LST"
SCSRF=$(gw_json "$T/body" 'j["csrf"]')
st=$(gw_jar "$T/a" "$GWB/hall/query/x")
check_eq "... her session works at B" 200 "$st"
check_match "... B passes her identity on" '"[Xx]-[Uu]key-[Ll]ogin": *"alice"' "$(cat "$T/body")"
st=$(gw_jar "$T/a" "$GWB/hall/x")
check_eq "... and B applies the same policy (query on full: UK-5005)" "403 UK-5005" "$st $(gw_code)"
gw_jar "$T/a" "$GWB/auth/session" >/dev/null
check_eq "... B's who-am-I gives the same CSRF token" "$SCSRF" "$(gw_json "$T/body" 'j["csrf"]')"
st=$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $SCSRF" -H 'Content-Type: application/json' --data '{}' "$GWB/auth/logout")
check_eq "... logout at B" 200 "$st"
login "$GWA" "$T/a" alice Passw0rd2024
cp "$T/a" "$T/a.saved"
gw_jar "$T/a" -X POST -H "X-CSRF-Token: $(gw_json "$T/body" 'j["csrf"]')" -H 'Content-Type: application/json' --data '{}' "$GWB/auth/logout" >/dev/null
st=$(gw_jar "$T/a.saved" "$GWA/hall/query/x")
check_eq "... a session ended at B is refused at A: 401 UK-4403" "401 UK-4403" "$st $(gw_code)"

# --- six wrong passwords over both freeze ---
for i in 1 2 3 4 5 6; do
	if [ $((i % 2)) = 1 ]; then u=$GWA; else u=$GWB; fi
	login "$u" "$T/c" carol wrong$i
	check_eq "carol's wrong password $i at $([ "$u" = "$GWA" ] && echo A || echo B): $((6 - i)) left" \
	    "401 $((6 - i))" "$LST $(gw_json "$T/body" 'j["error"]["triesLeft"]')"
done
login "$GWA" "$T/c" carol Passw0rd2024
check_eq "the 7th, right, at A: 423 UK-4103" "423 UK-4103" "$LST $(gw_code)"
check_eq "... 「用户已暂时冻结」" "用户已暂时冻结" "$(gw_json "$T/body" 'j["error"]["message"]')"
login "$GWB" "$T/c" carol Passw0rd2024
check_eq "... and at B" "423 UK-4103" "$LST $(gw_code)"

# --- the JWKS of either lists both keys ---
kids() {
	curl -s "$1/.well-known/jwks.json" | python3 -c 'import json, sys
print(" ".join(sorted(k["kid"] for k in json.load(sys.stdin)["keys"])))'
}
ka=$(kids "$GWA")
kb=$(kids "$GWB")
check_eq "A's JWKS has two keys" 2 "$(echo "$ka" | wc -w)"
check_eq "B's JWKS lists the same keys" "$ka" "$kb"
check "... the key files differ" sh -c '! cmp -s "$1" "$2"' x "$T/keyA.pem" "$T/keyB.pem"

# --- a unit's third certificate is refused (the CA library, same store) ---
printf 'ca-secret-1\n' >"$T/pass"
printf 'ocsp-secret-1\n' >"$T/opass"
"$CA" -d "$PGURL" init --name "Cluster Test CA" --key-file "$T/ca.key" \
    --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass" >"$T/ca.init" 2>&1
check_eq "ukey-ca init on the gateways' database" 0 "$?"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/leaf.key" -subj "/CN=alice" -out "$T/leaf.csr" 2>/dev/null
for i in 1 2 3; do
	"$CA" -d "$PGURL" issue --csr "$T/leaf.csr" --unit U1 --operator alice \
	    --out "$T/leaf$i.pem" --pass-fd 3 3<"$T/pass" >"$T/issue$i.out" 2>"$T/issue$i.err"
	eval "rc$i=$?"
done
check_eq "U1's first and second certificates are issued" "0 0" "$rc1 $rc2"
check_eq "... the third is refused" 1 "$([ "$rc3" != 0 ] && echo 1 || echo 0)"
check_match "... with UK-3010" 'UK-3010' "$(cat "$T/issue3.err")"
gw_admin admin unit show U1 --json
check_eq "the gateway sees 2 active certificates for U1" 2 "$(gw_json "$T/admin.out" 'j["active_certs"]')"

gw_kill "$GWB_PID"
check "gateway A stops cleanly" gw_stop
t_done
