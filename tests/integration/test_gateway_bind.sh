#!/bin/sh
# tests/integration/test_gateway_bind.sh: binding WeChat for scan login end to end: an operator logs in with a UKey (ukey-ca, ukey-sim, ukey-agent), POST /auth/wechat/bind gives a QR (decoded with zbarimg), the phone (wechat-stub) confirms, the browser's wait sees it, the openid logs in by scan; one openid per operator; unbind by the operator and at the counter; a password (query scope) session cannot bind.
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"
. "$ROOT/tests/lib/gateway.sh"

CA_BIN=${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca
STUB=${UKEY_BUILD:-$ROOT/build}/tests/tools/wechat-stub

cleanup() {
	gw_cleanup
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for f in "$GW_BIN" "$CA_BIN" "$AG_BIN" "$AG_SIM" "$STUB"; do
	if [ ! -e "$f" ]; then
		echo "1..0 # SKIP $f missing"
		exit 0
	fi
done
if ! command -v zbarimg >/dev/null 2>&1; then
	echo "1..0 # SKIP zbarimg (zbar-tools) not installed"
	exit 0
fi

ag_init # $T, SoftHSM2 and ukey-sim in it
gw_init
AG_ORIGIN=$GW_ORIGIN

WX_PORT=$(gw_free_port)
gw_bg wechat "$STUB" --port "$WX_PORT"
check "wechat-stub starts" gw_wait_url "http://127.0.0.1:$WX_PORT/" "$GW_BG_PID"
WX="http://127.0.0.1:$WX_PORT"

# --- the CA in the gateway's store, the unit and its operators ---
printf 'correct horse battery\n' >"$T/pass"
printf 'the OCSP key passphrase\n' >"$T/opass"
printf '[ca]\n' >"$T/ca.conf"
ca() {
	"$CA_BIN" -c "$T/ca.conf" -d "$GW_STORE" -m "$AG_SIM" "$@" \
	    >"$T/ca.out" 2>"$T/ca.err"
}
ca init --name "Bind Test" --key-file "$T/ca.key" --pass-fd 3 \
    --ocsp-pass-fd 4 3<"$T/pass" 4<"$T/opass"
check_eq "ukey-ca init: a CA in the gateway's store" 0 "$?"

gw_routes '/hall/ GET,HEAD,POST session scope=query'
gw_conf "scan.enabled = true" "scan.wait = 4" \
    "wechat.appid = wx0123456789abcdef" "wechat.secret = stub-app-secret" \
    "wechat.open_base = $WX" "wechat.api_base = $WX"
adm() {
	gw_admin admin "$@"
	_rc=$?
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/admin.err"
	return $_rc
}
printf 'Passw0rd2024\n' >"$T/pw"
check "unit U1, agreement, authorisation" eval \
    'adm unit add --id U1 --name 一号单位 --form F-1 &&
    adm unit agreement U1 --form F-2 && adm unit authorize U1 --form F-3'
check "operators alice and bob (UKey), pat (password)" eval \
    'adm operator add --login alice --unit U1 --name 张三 --roles maker \
        --form F-4 &&
    adm operator add --login bob --unit U1 --name 李四 --roles maker \
        --form F-5 &&
    adm operator add --login pat --unit U1 --name 王五 --roles maker \
        --password-fd 3 --form F-6 3<"$T/pw"'

TOK=$(ag_token ukey1)
check_match "a ukey-sim token" '^[0-9a-f]+$' "$TOK"
# enroll LOGIN: a key and certificate on the token; KEY set
enroll() {
	ca enroll --module "$AG_SIM" --token "$TOK" --unit U1 --operator "$1" \
	    --out "$T/$1.pem" --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
	_rc=$?
	KEY=$(sed -n 's/^key_id: //p' "$T/ca.out" | head -n 1)
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/ca.err"
	return $_rc
}
check "ukey-ca enroll: alice's UKey" enroll alice
K_ALICE=$TOK:$KEY
check "ukey-ca enroll: bob's" enroll bob
K_BOB=$TOK:$KEY

ag_conf "$T/agent.conf" "allowed_origins = $GW_ORIGIN"
check "ukey-agent starts (pin_source request, ukey-sim)" ag_start \
    "$T/agent.conf"
check "the gateway starts" gw_start

# ukey JAR CERTID: challenge, the agent signs, POST /auth/cert; the status
# in ST, the session's CSRF token in SCSRF
ukey() {
	ST=agent
	SCSRF=""
	gw_pre "$1" || return 0
	_st=$(ag_post /v1/authenticate \
	    "{\"nonce\":\"$NONCE\",\"certificate\":\"$2\",\"pin\":\"$PIN\"}")
	if [ "$_st" != 200 ]; then
		echo "# agent answered $_st: $(cat "$T/body")"
		return 0
	fi
	cp "$T/body" "$T/token"
	ST=$(gw_post_json "$1" /auth/cert \
	    "{\"token\":$(cat "$T/token"),\"nonce\":\"$NONCE\"}" "$CSRF")
	SCSRF=$(gw_json "$T/body" 'j.get("csrf", "")')
}
# bind JAR [CSRF]: POST /auth/wechat/bind; status in ST; ID, URL and the
# PNG in $T/qr.png on success
bind() {
	ST=$(gw_jar "$1" -X POST -H "X-CSRF-Token: ${2-$SCSRF}" \
	    "$GW/auth/wechat/bind")
	ID=""
	[ "$ST" = 200 ] || return 0
	ID=$(gw_json "$T/body" 'j["id"]')
	URL=$(gw_json "$T/body" 'j["url"]')
	python3 -c 'import base64, json, sys
open(sys.argv[2], "wb").write(base64.b64decode(json.load(open(sys.argv[1]))["png"]))' \
	    "$T/body" "$T/qr.png"
}
# qr JAR: a scan login ticket for the fresh browser JAR (ID, URL; CSRF)
qr() {
	gw_pre "$1" || return 1
	[ "$(gw_jar "$1" -X POST -H "X-CSRF-Token: $CSRF" "$GW/auth/qr")" = 200 ] ||
	    return 1
	ID=$(gw_json "$T/body" 'j["id"]')
	URL=$(gw_json "$T/body" 'j["url"]')
}
# scan JAR OPENID: the phone JAR opens $URL, the stub authorises OPENID;
# the last answer in $T/body, its status in SST; PCSRF the page's token
scan() {
	PCSRF=""
	SST=$(gw_jar "$1" "$GW${URL#"$GW_ORIGIN"}")
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
# confirm JAR: the phone's confirm form post; status in SST
confirm() {
	SST=$(gw_jar "$1" -X POST \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data-binary "csrf=$PCSRF&do=confirm" "$GW/qr/s/$ID/confirm")
}
# wait_bg JAR STATE OUT: a held wait in the background (pid WPID)
wait_bg() {
	_ck=$(awk 'NF { printf "%s%s", (n++ ? "; " : ""), $0 }' "$1")
	curl -s -o "$3" -w '%{http_code}\n' -H "Cookie: $_ck" \
	    "$GW/auth/qr/$ID/wait?state=$2" >"$3.t" &
	WPID=$!
}
wait_fg() {
	wait "$WPID"
	WST=$(cat "$3.t")
	WSTATE=$(gw_json "$3" 'j.get("state", "")')
}
# scan_login OPENID: a fresh browser asks for a scan login, the phone
# OPENID scans and confirms, the browser claims; CST the claim's status
# (or the phone's refusal), the claim's answer in $T/claim.json
scan_login() {
	rm -f "$T/sb" "$T/sp"
	CST=none
	qr "$T/sb" || return 0
	scan "$T/sp" "$1"
	if [ "$SST" != 200 ]; then
		CST=$SST
		cp "$T/body" "$T/refusal.html"
		return 0
	fi
	confirm "$T/sp"
	[ "$SST" = 200 ] || return 0
	CST=$(gw_jar "$T/sb" -X POST -H "X-CSRF-Token: $CSRF" \
	    "$GW/auth/qr/$ID/claim")
	cp "$T/body" "$T/claim.json"
}
shows() { # shows LOGIN: the "wechat:" line of admin operator show
	gw_admin admin operator show "$1" && sed -n 's/^wechat: //p' "$T/admin.out"
}

# --- alice binds her WeChat after a UKey login ---
ukey "$T/a" "$K_ALICE"
check_eq "alice logs in with her UKey" 200 "$ST"
check_eq "... scope full" full "$(gw_json "$T/body" 'j["scope"]')"
ACSRF=$SCSRF
APRE=$CSRF # the login POSTs' token of alice's browser (claim asks it)
bind "$T/a" bogus-csrf-token
check_eq "bind without the session's CSRF token refused" "403 UK-4404" \
    "$ST $(gw_code)"
bind "$T/a" "$ACSRF"
check_eq "POST /auth/wechat/bind: a bind ticket" 200 "$ST"
check_match "... its URL" "^$GW_ORIGIN/qr/s/[0-9a-f]{32}\$" "$URL"
check_eq "... the PNG decodes (zbarimg) to that URL" "$URL" \
    "$(zbarimg --raw -q "$T/qr.png" 2>/dev/null)"
check_eq "the browser's first wait: waiting" "200 waiting" \
    "$(gw_jar "$T/a" "$GW/auth/qr/$ID/wait") $(gw_json "$T/body" 'j["state"]')"
wait_bg "$T/a" waiting "$T/w1"
sleep 0.3
scan "$T/p1" oAliceNew_1
check_eq "the phone's OAuth round trip ends on the confirm page" 200 "$SST"
check_match "... a bind page naming alice" "确认绑定微信.*张三（alice）" \
    "$(tr -d '\n' <"$T/body")"
wait_fg "$T/a" waiting "$T/w1"
check_eq "the held wait sees scanned" "200 scanned" "$WST $WSTATE"
wait_bg "$T/a" scanned "$T/w2"
sleep 0.3
confirm "$T/p1"
check_eq "the phone confirms" 200 "$SST"
check_match "... 微信已绑定" "微信已绑定" "$(cat "$T/body")"
wait_fg "$T/a" scanned "$T/w2"
check_eq "the logged-in browser's wait sees confirmed" "200 confirmed" \
    "$WST $WSTATE"
check_eq "admin operator show alice: wechat bound" bound "$(shows alice)"
check_eq "... the openid stored" oAliceNew_1 \
    "$(gw_sql "SELECT wechat_openid FROM operators WHERE login = 'alice'")"
check_eq "... audited as alice's own act" "1" \
    "$(gw_sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.bind_openid' AND actor = 'operator:alice' AND result = 'ok'")"
check_eq "a bind ticket cannot be claimed as a login" "409 UK-4208" \
    "$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $APRE" \
        "$GW/auth/qr/$ID/claim") $(gw_code)"

# --- scan login with that openid in a fresh browser ---
scan_login oAliceNew_1
check_eq "scan login with alice's new openid" 200 "$CST"
check_eq "... a session for alice, method scan" "alice scan" \
    "$(gw_json "$T/claim.json" 'j["login"] + " " + j["method"]')"
check_eq "... the session works" "200 alice" \
    "$(gw_jar "$T/sb" "$GW/auth/session") $(gw_json "$T/body" 'j["login"]')"
bind "$T/sb" "$(gw_json "$T/claim.json" 'j["csrf"]')"
check_eq "... but a scan session cannot bind a WeChat (UKey login only)" \
    "403 UK-5001" "$ST $(gw_code)"

# --- one openid, one operator ---
ukey "$T/b" "$K_BOB"
check_eq "bob logs in with his UKey" 200 "$ST"
BCSRF=$SCSRF
bind "$T/b" "$BCSRF"
check_eq "bob asks to bind" 200 "$ST"
scan "$T/p2" oAliceNew_1
check_eq "bob scanning with alice's WeChat: refused (409)" 409 "$SST"
check_match "... UK-4214 on the page" "UK-4214" "$(cat "$T/body")"
check_eq "... bob has no WeChat bound" - "$(shows bob)"
check_eq "... alice keeps hers" oAliceNew_1 \
    "$(gw_sql "SELECT wechat_openid FROM operators WHERE login = 'alice'")"
check_eq "... and the counter cannot bind it to bob either (UK-4214)" 1 \
    "$(gw_admin admin operator bind-wechat bob --openid oAliceNew_1 \
        --form F-7; echo $?)"
check_match "... UK-4214" UK-4214 "$(cat "$T/admin.err")"

# --- a password session (scope query) cannot bind ---
rm -f "$T/q"
gw_pre "$T/q"
st=$(gw_post_json "$T/q" /auth/password \
    '{"login":"pat","password":"Passw0rd2024"}' "$CSRF")
check_eq "pat logs in with his password: scope query" "200 query" \
    "$st $(gw_json "$T/body" 'j["scope"]')"
QCSRF=$(gw_json "$T/body" 'j["csrf"]')
bind "$T/q" "$QCSRF"
check_eq "... and cannot bind WeChat (403 UK-5001)" "403 UK-5001" \
    "$ST $(gw_code)"
check_eq "... nor unbind" "403 UK-5001" "$(gw_jar "$T/q" -X POST \
    -H "X-CSRF-Token: $QCSRF" "$GW/auth/wechat/unbind") $(gw_code)"
check_eq "no bind ticket was made for pat" 0 \
    "$(gw_sql "SELECT count(*) FROM scan_tickets t JOIN operators o ON o.id = t.operator_id WHERE o.login = 'pat'")"

# --- alice unbinds ---
check_eq "unbind without the session's CSRF token refused" 403 \
    "$(gw_jar "$T/a" -X POST "$GW/auth/wechat/unbind")"
check_eq "alice unbinds (POST /auth/wechat/unbind)" 200 \
    "$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $ACSRF" "$GW/auth/wechat/unbind")"
check_eq "... admin operator show alice: wechat -" - "$(shows alice)"
check_eq "... audited as alice" "1" \
    "$(gw_sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.unbind_openid' AND actor = 'operator:alice' AND result = 'ok'")"
scan_login oAliceNew_1
check_eq "scan login with that openid now refused" 403 "$CST"
check_match "... 「扫码认证失败」: not bound (UK-4202)" "扫码认证失败.*UK-4202" \
    "$(tr -d '\n' <"$T/refusal.html")"

# --- the counter binds bob and unbinds him ---
check "admin operator bind-wechat bob (F-8)" adm operator bind-wechat bob \
    --openid oBob_2 --form F-8
scan_login oBob_2
check_eq "bob logs in by scan" "200 bob" \
    "$CST $(gw_json "$T/claim.json" 'j["login"]')"
check "admin operator unbind-wechat bob (F-9)" adm operator unbind-wechat bob \
    --form F-9
check_eq "... wechat -" - "$(shows bob)"
check_eq "... audited with the form" "1" \
    "$(gw_sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.unbind_openid' AND subject = 'operator:bob' AND detail LIKE '%F-9%'")"
scan_login oBob_2
check_eq "bob's scan login is now refused" 403 "$CST"
check_match "... 「扫码认证失败」 UK-4202" "扫码认证失败.*UK-4202" \
    "$(tr -d '\n' <"$T/refusal.html")"

check "audit verify: the chain is intact" gw_admin audit verify
check "the gateway stops cleanly" gw_stop
t_done
