#!/bin/sh
# tests/integration/test_gateway_helpdesk.sh: the helpdesk console's API on the real gateway: a helpdesk clerk logs in with a staff certificate (ukey-ca enrol on ukey-sim, ukey-agent signs), an operator is frozen by wrong passwords, the clerk finds the refusal by the 423 answer's event number, sees the operator frozen with the explanation, unfreezes with a ticket number (audited) and the operator logs in; counter staff (UK-5006), an operator's session (UK-5008) and a missing CSRF token (UK-4404) refused; every search and view in the audit trail.
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"
. "$ROOT/tests/lib/gateway.sh"

CA_BIN=${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca

cleanup() {
	gw_cleanup
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for f in "$GW_BIN" "$CA_BIN" "$AG_BIN" "$AG_SIM" "$AG_SOFTHSM"; do
	if [ ! -e "$f" ]; then
		echo "1..0 # SKIP $f missing"
		exit 0
	fi
done

ag_init # $T, SoftHSM2 and ukey-sim in it
gw_init
AG_ORIGIN=$GW_ORIGIN

# --- the CA in the gateway's store, a unit, an operator, staff ---
printf 'correct horse battery\n' >"$T/pass"
printf 'the OCSP key passphrase\n' >"$T/opass"
printf '[ca]\n' >"$T/ca.conf"
ca() {
	"$CA_BIN" -c "$T/ca.conf" -d "$GW_STORE" -m "$AG_SIM" "$@" \
	    >"$T/ca.out" 2>"$T/ca.err"
}
ca init --name "Helpdesk Test" --key-file "$T/ca.key" --pass-fd 3 \
    --ocsp-pass-fd 4 3<"$T/pass" 4<"$T/opass"
check_eq "ukey-ca init: a CA in the gateway's store" 0 "$?"

gw_routes "/hall/  GET,HEAD,POST  session scope=query"
gw_conf "proxy.upstream = http://127.0.0.1:1" "auth.ip_limit = 100000" \
    "auth.password_messages = detailed"
adm() {
	gw_admin admin "$@"
	_rc=$?
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/admin.err"
	return $_rc
}
PW=Passw0rd2024
printf '%s\n' "$PW" >"$T/pw"
check "unit U1 with agreement and authorisation" sh -c '
	"$1" -c "$2" admin unit add --id U1 --name 一号单位 --form F-1 &&
	"$1" -c "$2" admin unit agreement U1 --form F-2 &&
	"$1" -c "$2" admin unit authorize U1 --form F-3' x "$GW_BIN" "$GW_CONF" \
    >/dev/null
check "operator WangFang with a password" adm operator add --login WangFang \
    --unit U1 --name 王芳 --resident-id 11010519491231002X \
    --phone 13800138000 --roles maker --password-fd 3 --form F-4 3<"$T/pw"

TOK=$(ag_token ukey1)
check_match "a ukey-sim token" '^[0-9a-f]+$' "$TOK"
# staffcert LOGIN UNIT: a staff-profile key and certificate on the token;
# KEY is the key id
staffcert() {
	ca enroll --module "$AG_SIM" --token "$TOK" --unit "$2" --operator "$1" \
	    --profile staff --out "$T/$1.pem" --pin-fd 3 --pass-fd 4 \
	    3<"$T/pin" 4<"$T/pass"
	_rc=$?
	KEY=$(sed -n 's/^key_id: //p' "$T/ca.out" | head -n 1)
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/ca.err"
	return $_rc
}
check "ukey-ca enroll: a staff certificate for hd1" staffcert hd1 CENTRE
K_HD=$TOK:$KEY
check "ukey-gateway admin staff add hd1 (helpdesk) with it" adm staff add \
    --login hd1 --name 服务热线一 --roles helpdesk --cert "$T/hd1.pem"
check "ukey-ca enroll: a staff certificate for ct1" staffcert ct1 BANK
K_CT=$TOK:$KEY
check "ukey-gateway admin staff add ct1 (counter only)" adm staff add \
    --login ct1 --name 柜员一 --roles counter --cert "$T/ct1.pem"

ag_conf "$T/agent.conf" "allowed_origins = $GW_ORIGIN"
check "ukey-agent starts" ag_start "$T/agent.conf"
check "the gateway starts" gw_start

# certlogin JAR CERTID: the UKey login; status in ST, the session's CSRF
# token in SCSRF
certlogin() {
	rm -f "$1"
	ST=agent
	SCSRF=""
	gw_pre "$1" || return 1
	_st=$(ag_post /v1/authenticate \
	    "{\"nonce\":\"$NONCE\",\"certificate\":\"$2\",\"pin\":\"$PIN\"}")
	cp "$T/body" "$T/token"
	[ "$_st" = 200 ] || return 1
	ST=$(gw_post_json "$1" /auth/cert \
	    "{\"token\":$(cat "$T/token"),\"nonce\":\"$NONCE\"}" "$CSRF")
	SCSRF=$(gw_json "$T/body" 'j.get("csrf", "")')
}
# pwlogin JAR LOGIN PASSWORD: status in ST
pwlogin() {
	rm -f "$1"
	gw_pre "$1" || return 1
	ST=$(gw_post_json "$1" /auth/password \
	    "{\"login\":\"$2\",\"password\":\"$3\"}" "$CSRF")
	SCSRF=$(gw_json "$T/body" 'j.get("csrf", "")')
}
# hd JAR PATH: a GET of the helpdesk API; status on stdout
hd() {
	gw_jar "$1" -H 'Accept: application/json' "$GW/helpdesk/api/$2"
}
nrows() {
	gw_sql "SELECT count(*) FROM audit WHERE $1"
}

# --- the clerk logs in with the staff certificate ---
certlogin "$T/hd" "$K_HD"
check_eq "hd1 logs in with the staff certificate: 200" 200 "$ST"
check_eq "... a staff session" staff "$(gw_json "$T/body" 'j["kind"]')"
HCSRF=$SCSRF
check_eq "GET /helpdesk serves the page" 200 "$(gw_req "$GW/helpdesk")"
check_match "... the console's page" 'helpdesk.js' "$(cat "$T/body")"
check_eq "GET /assets/helpdesk.js" 200 "$(gw_req "$GW/assets/helpdesk.js")"

# --- the operator freezes herself ---
i=1
while [ $i -le 6 ]; do
	pwlogin "$T/op" wangfang Wrong0ne$i
	i=$((i + 1))
done
check_eq "six wrong passwords: the sixth is 401" 401 "$ST"
pwlogin "$T/op" WANGFANG "$PW"
check_eq "the seventh, right password: 423 frozen" "423 UK-4103" "$ST $(gw_code)"
EV=$(gw_event)
check_match "... with an event number" '^[0-9A-F]{32}$' "$EV"

# --- the clerk finds it by the event number ---
check_eq "search by the event number: 200" 200 "$(hd "$T/hd" "search?q=$EV")"
cp "$T/body" "$T/search.json"
check_eq "... that one event" 1 "$(gw_json "$T/search.json" 'len(j["events"])')"
check_eq "... with its code" UK-4103 "$(gw_json "$T/search.json" 'j["events"][0]["result"]')"
check_match "... explained in plain words" '用户已暂时冻结' \
    "$(gw_json "$T/search.json" 'j["events"][0]["what"]["zh"]')"
check_match "... with the remedy (unfreeze here or wait)" '解除冻结' \
    "$(gw_json "$T/search.json" 'j["events"][0]["remedy"]["zh"]')"
check_match "... and in English" 'frozen' \
    "$(gw_json "$T/search.json" 'j["events"][0]["what"]["en"]')"
check_eq "... the operator behind it, though typed in capitals" WangFang \
    "$(gw_json "$T/search.json" 'j["events"][0]["operator"]["login"]')"
check_eq "... masked resident ID in the list" "110105********002X" \
    "$(gw_json "$T/search.json" 'j["events"][0]["operator"]["residentId"]')"
OPID=$(gw_json "$T/search.json" 'j["events"][0]["operator"]["id"]')
check_eq "the search is audited (actor, query, result)" 1 \
    "$(nrows "event = 'helpdesk.search' AND actor = 'staff:hd1' AND detail LIKE '%$EV%' AND result = 'ok' AND ip = '127.0.0.1'")"
SHORT=$(printf '%s' "$EV" | cut -c1-8 | tr 'A-F' 'a-f')
hd "$T/hd" "search?q=${SHORT}" >/dev/null
check_eq "a lower-case 8-digit prefix finds it too" 1 \
    "$(gw_json "$T/body" 'len([e for e in j["events"] if e["event"] == "'"$EV"'"])')"

check_eq "search by phone: 200" 200 "$(hd "$T/hd" "search?q=138%200013%208000")"
check_eq "... finds her" WangFang "$(gw_json "$T/body" 'j["operators"][0]["login"]')"
check_eq "... the audit row keeps the phone masked, and whom it found" \
    "138****8000 [$OPID]" \
    "$(gw_sql "SELECT detail FROM audit WHERE event = 'helpdesk.search' ORDER BY seq DESC LIMIT 1" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["q"], json.dumps(d["found"]))')"
check_eq "... the phone in full nowhere in the audit" 0 \
    "$(nrows "detail LIKE '%0013%8000%' AND event = 'helpdesk.search'")"
check_eq "... phone masked in the list" "138****8000" "$(gw_json "$T/body" 'j["operators"][0]["phone"]')"
check_eq "... shown frozen" true "$(gw_json "$T/body" 'j["operators"][0]["frozen"]')"
hd "$T/hd" "search?q=%E7%8E%8B" >/dev/null
check_eq "search by part of the name (王)" WangFang "$(gw_json "$T/body" 'j["operators"][0]["login"]')"
hd "$T/hd" "search?q=%E4%B8%80%E5%8F%B7" >/dev/null
check_eq "search by the unit's name (一号): the unit" U1 "$(gw_json "$T/body" 'j["units"][0]["id"]')"
check_eq "... and its operator" WangFang "$(gw_json "$T/body" 'j["operators"][0]["login"]')"
hd "$T/hd" "search?q=UK-5002" >/dev/null
check_match "search by an error code explains it" '网厅用户授权' \
    "$(gw_json "$T/body" 'j["code"]["remedy"]["zh"]')"
check_eq "an empty search: 400 UK-1006" "400 UK-1006" "$(hd "$T/hd" "search?q=%20") $(gw_code)"
check_eq "a search of full-width spaces (U+3000): 400 UK-1006" "400 UK-1006" \
    "$(hd "$T/hd" "search?q=%E3%80%80%20%E3%80%80") $(gw_code)"
# the query parameter: percent-decoded once, well-formed UTF-8, no controls
for q in %FF %C0%AF %ED%A0%80 %E7%8E a%00b a%0Ab %4 %zz \
    "$(printf 'a%.0s' $(seq 1 101))"; do
	check_eq "search?q=$q: 400 UK-1006" "400 UK-1006" \
	    "$(hd "$T/hd" "search?q=$q") $(gw_code)"
done
check_eq "search?q=%2541 is decoded once: %41" "200 %41" \
    "$(hd "$T/hd" "search?q=%2541") $(gw_json "$T/body" 'j["query"]')"

# --- the operator view ---
check_eq "the operator view: 200" 200 "$(hd "$T/hd" "operator?id=$OPID")"
cp "$T/body" "$T/view.json"
check_eq "... frozen" true "$(gw_json "$T/view.json" 'j["operator"]["frozen"]')"
check_match "... until (local midnight)" '^20[0-9]{2}-' "$(gw_json "$T/view.json" 'j["operator"]["frozenUntil"]')"
check_eq "... six failures today" 6 "$(gw_json "$T/view.json" 'j["operator"]["failuresToday"]')"
check_eq "... the full resident ID here" 11010519491231002X "$(gw_json "$T/view.json" 'j["operator"]["residentId"]')"
check_eq "... WeChat not bound" false "$(gw_json "$T/view.json" 'j["operator"]["wechatBound"]')"
check_eq "... unit agreement and authorisation" "True True F-3" \
    "$(gw_json "$T/view.json" '"%s %s %s" % (j["unit"]["agreement"], j["unit"]["authorised"], j["unit"]["authorisedForm"])')"
check_eq "... the freeze is the problem" UK-4103 "$(gw_json "$T/view.json" 'j["problems"][0]["code"]')"
check_eq "... the refusal among her events, newest first" "$EV UK-4103" \
    "$(gw_json "$T/view.json" 'j["events"][0]["event"] + " " + j["events"][0]["result"]')"
check_eq "... every refused attempt listed once (7 refusals)" 7 \
    "$(gw_json "$T/view.json" 'len([e for e in j["events"] if e["kind"].startswith("login.password") and not e["ok"]])')"
check_match "... each explained with its IP" '127.0.0.1' "$(gw_json "$T/view.json" 'j["events"][1]["ip"]')"
check_eq "the view is audited" 1 \
    "$(nrows "event = 'helpdesk.view' AND actor = 'staff:hd1' AND subject = 'operator:WangFang'")"
check_eq "an unknown operator: 404 UK-4602" "404 UK-4602" "$(hd "$T/hd" "operator?id=99999") $(gw_code)"
check_eq "a malformed id: 400 UK-1006" "400 UK-1006" "$(hd "$T/hd" "operator?id=1x") $(gw_code)"

# --- refusals ---
uf() {
	gw_post_json "$1" /helpdesk/api/unfreeze "$2" "${3:-}"
}
check_eq "unfreeze without the CSRF token: 403 UK-4404" "403 UK-4404" \
    "$(uf "$T/hd" "{\"id\":$OPID,\"form\":\"T-1\"}") $(gw_code)"
check_eq "unfreeze without a ticket number: 400 UK-4604" "400 UK-4604" \
    "$(uf "$T/hd" "{\"id\":$OPID,\"form\":\"  \"}" "$HCSRF") $(gw_code)"
check_eq "... audited as a refusal" 1 \
    "$(nrows "event = 'helpdesk.unfreeze' AND result = 'UK-4604' AND subject = 'operator:WangFang'")"
check_eq "unfreeze with a bad body: 400 UK-1006" "400 UK-1006" \
    "$(uf "$T/hd" "{\"id\":\"$OPID\",\"form\":\"T-1\"}" "$HCSRF") $(gw_code)"
check_eq "GET on unfreeze: UK-1506" UK-1506 "$(hd "$T/hd" unfreeze >/dev/null; gw_code)"
check_eq "still frozen" 1 "$(gw_sql "SELECT frozen_until > 0 FROM operators WHERE login_lc = 'wangfang'")"

certlogin "$T/ct" "$K_CT"
check_eq "ct1 (counter) logs in with the staff certificate" 200 "$ST"
check_eq "counter staff refused by the helpdesk API: 403 UK-5006" "403 UK-5006" \
    "$(hd "$T/ct" "search?q=wang") $(gw_code)"
check_eq "nobody logged in: 401 UK-4401" "401 UK-4401" \
    "$(gw_req -H 'Accept: application/json' "$GW/helpdesk/api/search?q=wang") $(gw_code)"

# --- unfreeze, then the operator logs in ---
check_eq "unfreeze with ticket T-2024-0815: 200" 200 \
    "$(uf "$T/hd" "{\"id\":$OPID,\"form\":\"T-2024-0815\"}" "$HCSRF")"
UEV=$(gw_json "$T/body" 'j["event"]')
check_eq "... no longer frozen" "False 0" \
    "$(gw_json "$T/body" '"%s %s" % (j["operator"]["frozen"], j["operator"]["failuresToday"])')"
check_eq "... audited with the clerk and the ticket, under its event number" 1 \
    "$(nrows "event = 'admin.operator.unfreeze' AND actor = 'staff:hd1' AND subject = 'operator:WangFang' AND detail LIKE '%T-2024-0815%' AND result = 'ok' AND event_id = '$UEV'")"
pwlogin "$T/op" wangfang "$PW"
check_eq "the operator logs in with the password" 200 "$ST"
check_eq "an operator's session refused by the helpdesk API: 403 UK-5008" "403 UK-5008" \
    "$(hd "$T/op" "search?q=wang") $(gw_code)"
hd "$T/hd" "operator?id=$OPID" >/dev/null
check_eq "her newest events: the console refusal, the login, the unfreeze" \
    "console.refused UK-5008|login.password ok|admin.operator.unfreeze ok" \
    "$(gw_json "$T/body" '"|".join(e["kind"] + " " + e["result"] for e in j["events"][:3])')"
check_eq "... with the unfreeze explained" 解除冻结 \
    "$(gw_json "$T/body" '[e for e in j["events"] if e["kind"] == "admin.operator.unfreeze"][0]["kindText"]["zh"]')"
check_eq "every search and view is in the audit trail" 9 \
    "$(nrows "event IN ('helpdesk.search', 'helpdesk.view') AND actor = 'staff:hd1'")"
check_eq "the refusals of other staff and operators too" 2 \
    "$(nrows "event = 'console.refused' AND result IN ('UK-5006', 'UK-5008')")"

# --- a unit id typed in another case: the unit as registered ---
check "operator LiLei added with the unit typed u1" adm operator add \
    --login LiLei --unit u1 --name " 李雷 " --form F-5
check_eq "... in U1, the name trimmed" "U1|李雷" \
    "$(gw_sql "SELECT unit_id, name FROM operators WHERE login = 'LiLei'")"
check_eq "the helpdesk's view of LiLei: his unit, authorised" "200 U1 True" \
    "$(hd "$T/hd" "operator?login=lilei") $(gw_json "$T/body" '"%s %s" % (j["unit"]["id"], j["unit"]["authorised"])')"
check "the audit chain is intact" gw_admin audit verify

echo "1..$T_N"
t_done
