#!/bin/sh
# tests/integration/test_gateway_scan.sh: scan login through ukey-gateway serve with the WeChat stand-in: the QR decodes to the ticket URL, the held wait sees scanned then confirmed, claim once, foreign cookies, expiry (test clock), cancel, the three 「扫码认证失败」 causes, forged OAuth state; and on PostgreSQL a confirm on gateway B wakes the wait held on gateway A within 1 s.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_scan.XXXXXX") || exit 1
. "$ROOT/tests/lib/gateway.sh"
STUB=${UKEY_BUILD:-$ROOT/build}/tests/tools/wechat-stub
PGDB="ukey_gw_scan_$$"
cleanup() {
	gw_cleanup
	if [ -n "${UKEY_TEST_PG_URL:-}" ]; then
		psql "$UKEY_TEST_PG_URL" -q -c "DROP DATABASE IF EXISTS $PGDB" \
		    >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! command -v zbarimg >/dev/null 2>&1; then
	echo "1..0 # SKIP zbarimg (zbar-tools) not installed"
	exit 0
fi

WX_PORT=$(gw_free_port)
gw_bg wechat "$STUB" --port "$WX_PORT"
check "wechat-stub starts" gw_wait_url "http://127.0.0.1:$WX_PORT/" "$GW_BG_PID"
WX="http://127.0.0.1:$WX_PORT"

GW_ORIGIN=https://gw.test
gw_init
gw_routes '/hall/ GET,HEAD,POST session scope=query'
# conf STORE [settings]: scan login on, the stand-in as WeChat.
conf() {
	_store=$1
	shift
	gw_conf "gateway.store = $_store" "scan.enabled = true" \
	    "scan.wait = 4" "wechat.appid = wx0123456789abcdef" \
	    "wechat.secret = stub-app-secret" "wechat.open_base = $WX" \
	    "wechat.api_base = $WX" "$@"
}
conf "$GW_STORE"
printf 'Passw0rd2024\n' >"$T/pw"
gw_admin admin unit add --id U1 --name "某某公司" --form F-1 &&
    gw_admin admin unit agreement U1 --form F-2 &&
    gw_admin admin unit authorize U1 --form F-3 &&
    gw_admin admin unit add --id U3 --name "未签协议公司" --form F-4 &&
    gw_admin admin operator add --login alice --unit U1 --name "张三" \
        --roles maker --password-fd 3 --form F-5 3<"$T/pw" &&
    gw_admin admin operator add --login leo --unit U1 --name leo \
        --roles maker --form F-6 &&
    gw_admin admin operator add --login nora --unit U3 --name nora \
        --roles maker --form F-7
check_eq "units and operators registered" 0 "$?"
# The openids, as a finished bind flow leaves them.
gw_sql "UPDATE operators SET wechat_openid = 'oAlice_1' WHERE login = 'alice';
UPDATE operators SET wechat_openid = 'oLeo_2' WHERE login = 'leo';
UPDATE operators SET wechat_openid = 'oNora_3' WHERE login = 'nora';"
check_eq "openids bound" 0 "$?"
check "the gateway starts" gw_start

# ticket JAR: POST /auth/qr as browser JAR; ID, URL and the PNG in $T/qr.png
ticket() {
	gw_pre "$1" || return 1
	_st=$(gw_jar "$1" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr")
	[ "$_st" = 200 ] || return 1
	ID=$(gw_json "$T/body" 'j["id"]')
	URL=$(gw_json "$T/body" 'j["url"]')
	python3 -c 'import base64, json, sys
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["png"]))' \
	    "$T/body" "$T/qr.png"
}
# scan JAR OPENID: the phone JAR opens the ticket's URL, WeChat (the stub)
# authorises OPENID and sends it back; the last answer in $T/body, its
# status in SST; PCSRF the confirm page's token.
scan() {
	SST=$(gw_jar "$1" "$GW/qr/s/$ID")
	[ "$SST" = 302 ] || return 0
	_loc=$(sed -n 's/^Location: //p' "$T/hdr")
	_loc="${_loc%%#*}&stub_openid=$2"
	_cb=$(curl -s -o /dev/null -w '%{redirect_url}' "$_loc")
	case $_cb in
	"$GW_ORIGIN"/qr/s/"$ID"/cb\?*) ;;
	*)
		echo "# unexpected redirect from WeChat: $_cb"
		SST=0
		return 0
		;;
	esac
	SST=$(gw_jar "$1" "$GW${_cb#"$GW_ORIGIN"}")
	PCSRF=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/body" |
	    head -n 1)
}
# decide JAR confirm|cancel [TOKEN]: the phone's form post
decide() {
	SST=$(gw_jar "$1" -X POST \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data-binary "csrf=${3-$PCSRF}&do=$2" "$GW/qr/s/$ID/$2")
}
# wait_bg JAR STATE OUT: a held wait in the background (pid WPID); the body
# in OUT, "status seconds" in OUT.t
wait_bg() {
	_ck=$(awk 'NF { printf "%s%s", (n++ ? "; " : ""), $0 }' "$1")
	curl -s -o "$3" -w '%{http_code} %{time_total}\n' -H "Cookie: $_ck" \
	    "${WGW:-$GW}/auth/qr/$ID/wait?state=$2" >"$3.t" &
	WPID=$!
}
wait_fg() {
	wait "$WPID"
	WST=$(cut -d' ' -f1 "$3.t")
	WT=$(cut -d' ' -f2 "$3.t")
	WSTATE=$(gw_json "$3" 'j.get("state", "")')
}
fast() { # fast SECONDS MAX: SECONDS < MAX
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"
}

# --- the QR and a login ---
check "POST /auth/qr makes a ticket" ticket "$T/b1"
B1CSRF=$CSRF
check_match "the ticket URL is the public origin's /qr/s/<id>" \
    "^https://gw.test/qr/s/[0-9a-f]{32}\$" "$URL"
check_eq "the PNG decodes (zbarimg) to that URL" "$URL" \
    "$(zbarimg --raw -q "$T/qr.png" 2>/dev/null)"
check_eq "the SVG of the binding browser" 200 \
    "$(gw_jar "$T/b1" "$GW/auth/qr/$ID.svg")"
check_match "SVG content" "<svg" "$(head -c 300 "$T/body")"
check_eq "POST /auth/qr without the CSRF token refused" 403 \
    "$(gw_jar "$T/b1" -X POST "$GW/auth/qr")"

check_eq "the first wait answers at once" 200 \
    "$(gw_jar "$T/b1" "$GW/auth/qr/$ID/wait")"
check_eq "... waiting" waiting "$(gw_json "$T/body" 'j["state"]')"
check_eq "a second one at once: slow_down (429)" 429 \
    "$(gw_jar "$T/b1" "$GW/auth/qr/$ID/wait")"
check_eq "... with Retry-After" "Retry-After: 2" "$(grep -i '^Retry-After:' "$T/hdr")"
check_eq "... UK-4209" UK-4209 "$(gw_code)"

: >"$T/b2"
gw_pre "$T/b2"
check_eq "a foreign browser cannot wait on the ticket" 404 \
    "$(gw_jar "$T/b2" "$GW/auth/qr/$ID/wait?state=waiting")"
check_eq "... UK-4206" UK-4206 "$(gw_code)"
check_eq "nor get its PNG" 404 "$(gw_jar "$T/b2" "$GW/auth/qr/$ID.png")"

wait_bg "$T/b1" waiting "$T/w1"
sleep 0.5
check "the wait is held (no answer yet)" kill -0 "$WPID"
scan "$T/p1" oAlice_1
check_eq "the phone's OAuth round trip ends on the confirm page" 200 "$SST"
check_match "the page shows unit, operator and the browser's IP" \
    "某某公司.*张三.*127\.0\.0\.1" "$(tr -d '\n' <"$T/body")"
check_match "... with the CSRF token" "^[A-Za-z0-9_-]{43}\$" "$PCSRF"
wait_fg "$T/b1" waiting "$T/w1"
check_eq "the held wait answers" 200 "$WST"
check_eq "... scanned" scanned "$WSTATE"
check "... at once (< 1 s after the scan)" fast "$WT" 1.5
check_eq "claim before confirm refused" 409 \
    "$(gw_jar "$T/b1" -X POST -H "X-CSRF-Token: $B1CSRF" "$GW/auth/qr/$ID/claim")"

wait_bg "$T/b1" scanned "$T/w2"
sleep 0.3
check_eq "the phone opening the URL again sees the confirm page" 200 \
    "$(gw_jar "$T/p1" "$GW/qr/s/$ID")"
decide "$T/p1" confirm bogus-token
check_eq "confirm with a wrong token refused" 403 "$SST"
check_match "... on the failure page" "扫码认证失败" "$(cat "$T/body")"
decide "$T/p1" confirm
check_eq "the phone confirms" 200 "$SST"
wait_fg "$T/b1" scanned "$T/w2"
check_eq "the wait sees confirmed" confirmed "$WSTATE"
check "... at once" fast "$WT" 1.5

check_eq "a foreign browser cannot claim" 404 \
    "$(gw_jar "$T/b2" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr/$ID/claim")"
check_eq "... nor claim with another browser's CSRF token" 403 \
    "$(gw_jar "$T/b2" -X POST -H "X-CSRF-Token: $B1CSRF" "$GW/auth/qr/$ID/claim")"
st=$(gw_jar "$T/b1" -X POST -H "X-CSRF-Token: $B1CSRF" "$GW/auth/qr/$ID/claim")
check_eq "the browser claims its session" 200 "$st"
check_eq "... method scan" scan "$(gw_json "$T/body" 'j["method"]')"
check_eq "... scope full ([scan] scope)" full "$(gw_json "$T/body" 'j["scope"]')"
check_match "... session cookie set" "^__Host-ukey-session=" \
    "$(grep '^__Host-ukey-session=' "$T/b1")"
check_eq "the session works" 200 "$(gw_jar "$T/b1" "$GW/auth/session")"
check_eq "... as alice" alice "$(gw_json "$T/body" 'j["login"]')"
check_eq "a second claim is refused" 409 \
    "$(gw_jar "$T/b1" -X POST -H "X-CSRF-Token: $B1CSRF" "$GW/auth/qr/$ID/claim")"
check_eq "... UK-4208" UK-4208 "$(gw_code)"
check_eq "audit: scan.claim ok" 1 \
    "$(gw_sql "SELECT count(*) FROM audit WHERE event = 'scan.claim' AND result = 'ok'")"

# --- cancel ---
ticket "$T/b3"
wait_bg "$T/b3" waiting "$T/w3"
scan "$T/p3" oAlice_1
wait_fg "$T/b3" waiting "$T/w3"
wait_bg "$T/b3" scanned "$T/w3"
decide "$T/p3" cancel
check_eq "the phone cancels" 200 "$SST"
wait_fg "$T/b3" scanned "$T/w3"
check_eq "the wait sees cancelled" cancelled "$WSTATE"
check_eq "a cancelled ticket cannot be claimed" 400 \
    "$(gw_jar "$T/b3" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr/$ID/claim")"
check_eq "... UK-4213" UK-4213 "$(gw_code)"

# --- refusals on the phone ---
ticket "$T/b4"
scan "$T/p4" oNobody_9
check_eq "an openid bound to no operator: refused" 403 "$SST"
check_match "... 「扫码认证失败」" "扫码认证失败" "$(cat "$T/body")"
check_match "... with the cause" "UK-4202" "$(cat "$T/body")"
gw_admin admin operator leave leo --form F-8
scan "$T/p5" oLeo_2
check_eq "an operator who left: refused" 403 "$SST"
check_match "... 「扫码认证失败」 UK-4203" "扫码认证失败.*UK-4203" "$(tr -d '\n' <"$T/body")"
scan "$T/p6" oNora_3
check_eq "a unit without agreement: refused" 403 "$SST"
check_match "... 「扫码认证失败」 UK-4204" "扫码认证失败.*UK-4204" "$(tr -d '\n' <"$T/body")"
check_eq "the ticket is still waiting" waiting \
    "$(gw_jar "$T/b4" "$GW/auth/qr/$ID/wait" >/dev/null; gw_json "$T/body" 'j["state"]')"
gw_jar "$T/p7" "$GW/qr/s/$ID" >/dev/null
check_eq "a forged OAuth state refused" 400 \
    "$(gw_jar "$T/p7" "$GW/qr/s/$ID/cb?code=abc&state=0123456789abcdef0123456789abcdef")"
check_match "... UK-4210 on the failure page" "扫码认证失败.*UK-4210" "$(tr -d '\n' <"$T/body")"
check_eq "an unknown ticket on the phone" 404 \
    "$(gw_jar "$T/p7" "$GW/qr/s/0123456789abcdef0123456789abcdef")"

# --- the deadline and expiry ---
ticket "$T/b5"
gw_jar "$T/b5" "$GW/auth/qr/$ID/wait" >/dev/null
wait_bg "$T/b5" waiting "$T/w5"
wait_fg "$T/b5" waiting "$T/w5"
check_eq "a held wait with no news answers at [scan] wait" waiting "$WSTATE"
check "... after about 4 s" python3 -c 'import sys; sys.exit(0 if 3.5 < float(sys.argv[1]) < 6 else 1)' "$WT"
EXPID=$ID
gw_stop
conf "$GW_STORE"
UKEY_TEST_NOW=200 gw_start --test-clock
check_eq "200 s later (test clock) the wait says expired" expired \
    "$(gw_jar "$T/b5" "$GW/auth/qr/$EXPID/wait?state=waiting" >/dev/null; gw_json "$T/body" 'j["state"]')"
check_eq "an expired ticket cannot be claimed" 410 \
    "$(gw_jar "$T/b5" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr/$EXPID/claim")"
check_eq "... UK-4207" UK-4207 "$(gw_code)"
ID=$EXPID
scan "$T/p8" oAlice_1
check_eq "nor scanned" 410 "$SST"
gw_stop

# --- two gateways on PostgreSQL ---
if [ -z "${UKEY_TEST_PG_URL:-}" ]; then
	echo "# PostgreSQL part skipped: UKEY_TEST_PG_URL unset"
	t_done; exit $?
	exit 0
fi
psql "$UKEY_TEST_PG_URL" -q -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
check_eq "a fresh PostgreSQL database" 0 "$?"
PGURL=$(echo "$UKEY_TEST_PG_URL" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$PGDB\1#")
gw_init
conf "$PGURL" "assertion.key = $T/keyB.pem" "scan.wait = 20"
GWB=$GW
GWB_CONF=$T/gwB.conf
mv "$GW_CONF" "$GWB_CONF"
gw_init
conf "$PGURL" "assertion.key = $T/keyA.pem" "scan.wait = 20"
GWA=$GW
gw_admin admin unit add --id U1 --name "某某公司" --form F-1 &&
    gw_admin admin unit agreement U1 --form F-2 &&
    gw_admin admin operator add --login alice --unit U1 --name "张三" \
        --roles maker --form F-5
check_eq "unit and operator on PostgreSQL" 0 "$?"
psql "$PGURL" -q -c "UPDATE operators SET wechat_openid = 'oAlice_1' WHERE login = 'alice'" >/dev/null
check "gateway A starts" gw_start
gw_bg gwB "$GW_BIN" -c "$GWB_CONF" serve
check "gateway B starts" gw_wait_url "$GWB/.well-known/jwks.json" "$GW_BG_PID"
ticket "$T/c1"
gw_jar "$T/c1" "$GW/auth/qr/$ID/wait" >/dev/null
wait_bg "$T/c1" waiting "$T/cw1"
sleep 0.5
GW=$GWB
scan "$T/cp1" oAlice_1
check_eq "the phone scans through gateway B" 200 "$SST"
wait_fg "$T/c1" waiting "$T/cw1"
check_eq "the wait held on gateway A sees scanned" scanned "$WSTATE"
wait_bg "$T/c1" scanned "$T/cw2"
sleep 1
t0=$(date +%s.%N)
decide "$T/cp1" confirm
check_eq "the phone confirms through gateway B" 200 "$SST"
wait "$WPID"
t1=$(date +%s.%N)
WSTATE=$(gw_json "$T/cw2" 'j.get("state", "")')
check_eq "the wait held on gateway A sees confirmed" confirmed "$WSTATE"
dt=$(python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1")
echo "# confirm on B -> wait on A answered in $dt s"
check "... within 1 s of the confirm on B" fast "$dt" 1.0
GW=$GWA
check_eq "the browser claims on gateway A" 200 \
    "$(gw_jar "$T/c1" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr/$ID/claim")"
check "gateway A stops cleanly" gw_stop
t_done
