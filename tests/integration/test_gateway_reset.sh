#!/bin/sh
# tests/integration/test_gateway_reset.sh: SMS password reset through ukey-gateway serve on SQLite: the configuration checks, request / verify / new password with the file provider, one answer and similar timing for every account, wrong, reused, exhausted and expired codes, the per-phone limit, forged tokens, oversized bodies, and the outbox's delivery through the http provider when it fails and when the gateway is killed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_reset.XXXXXX") || exit 1
. "$ROOT/tests/lib/gateway.sh"
CAPTURE=${UKEY_BUILD:-$ROOT/build}/tests/tools/sms-capture

cleanup() {
	gw_cleanup
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

gw_init
gw_routes '/hall/ GET,HEAD,POST session scope=query'
KEY=0123456789abcdef0123456789abcdef-reset-code-key
HKEY=webhook-shared-key-0123456789
SMS=$T/sms.jsonl
# conf [section.key = value]...: the test's configuration.
conf() {
	gw_conf "auth.ip_limit = 100000" "auth.password_messages = detailed" \
	    "reset.enabled = true" "reset.code_key = $KEY" \
	    "reset.ip_limit = 100000" \
	    "sms.provider = file" "sms.path = $SMS" "$@"
}
OFF=0
# restart OFFSET [conf settings]: the gateway again, its clock OFFSET
# seconds ahead (the SMS sender keeps the real clock).
restart() {
	OFF=$1
	shift
	gw_stop
	conf "$@"
	UKEY_TEST_NOW=$OFF gw_start --test-clock
}

# --- configuration checks ---
# cc SETTINGS...: check-config with these settings; output in $T/cc
cc() {
	conf "$@"
	"$GW_BIN" -c "$GW_CONF" check-config >"$T/cc" 2>&1
}
check "reset with a file provider: valid" cc
check_match "check-config shows the code key as set, not its value" \
    '^code_key = \(secret, set\)' "$(cat "$T/cc")"
check_fail "... and never the key" grep -q "$KEY" "$T/cc"
check_fail "reset without code_key: refused" cc "reset.code_key ="
check_match "... naming the key" '\[reset\] code_key' "$(cat "$T/cc")"
check_fail "a code_key under 32 bytes: refused" cc "reset.code_key = only-20-bytes-long-x"
check_fail "the file provider without path: refused" cc "sms.path ="
check_fail "http without secret: refused" cc "sms.provider = http" "sms.url = http://127.0.0.1:1/http"
check_match "... naming [sms] secret" '\[sms\] secret' "$(cat "$T/cc")"
check "http with url and secret: valid" cc "sms.provider = http" "sms.url = http://127.0.0.1:1/http" "sms.secret = $HKEY"
check_fail "... and never the secret" grep -q "$HKEY" "$T/cc"
check_fail "aliyun without sign_name: refused" cc "sms.provider = aliyun" \
    "sms.url = https://dysmsapi.aliyuncs.com/" "sms.key_id = LTAI" "sms.secret = s" \
    "sms.tpl_code = SMS_1" "sms.tpl_notice = SMS_2"
check_fail "tencent without app_id: refused" cc "sms.provider = tencent" \
    "sms.url = https://sms.tencentcloudapi.com/" "sms.key_id = AKID" "sms.secret = s" \
    "sms.sign_name = X" "sms.tpl_code = 1" "sms.tpl_notice = 2" "sms.region = ap-guangzhou"
check "a provider's keys are not needed with reset off" cc "reset.enabled = false" "sms.path ="
check_fail "scan without [wechat] secret: refused" cc "scan.enabled = true" "wechat.appid = wx123"
check_match "... naming it" '\[wechat\] secret' "$(cat "$T/cc")"

# --- units, operators, the gateway ---
PW=Passw0rd2024
NEWPW=NewPassw0rd77
printf '%s\n' "$PW" >"$T/pw"
conf "reset.enabled = false"
check "unit U1" sh -c '
	"$1" -c "$2" admin unit add --id U1 --name "某某公司" --form F-1 &&
	"$1" -c "$2" admin unit agreement U1 --form F-2 &&
	"$1" -c "$2" admin unit authorize U1 --form F-3' x "$GW_BIN" "$GW_CONF" >/dev/null
# op LOGIN [PHONE]
op() {
	if [ -n "${2:-}" ]; then
		gw_admin admin operator add --login "$1" --unit U1 --name "$1" \
		    --roles maker --phone "$2" --password-fd 3 --form F-10 3<"$T/pw"
	else
		gw_admin admin operator add --login "$1" --unit U1 --name "$1" \
		    --roles maker --password-fd 3 --form F-10 3<"$T/pw"
	fi
}
check "alice (phone 13800000001)" op alice 13800000001
check "bob (no phone)" op bob
check "carol" op carol 13800000003
check "dave" op dave 13800000004
check "frank" op frank 13800000006
check "gina" op gina 13800000007
check "hank" op hank 13800000008

check "the gateway starts with reset off" restart 0 "reset.enabled = false"
gw_pre "$T/r"
st=$(gw_post_json "$T/r" /auth/reset/request '{"login":"alice"}' "$CSRF")
check_eq "reset off: 404 UK-1507" "404 UK-1507" "$st $(gw_code)"
check "the gateway starts with reset on" restart 0

# sms_n: lines in the file provider's file
sms_n() {
	if [ -f "$SMS" ]; then wc -l <"$SMS" | tr -d ' '; else echo 0; fi
}
# sms_wait N: waits (10 s) until the file has N lines
sms_wait() {
	_i=0
	while [ "$(sms_n)" -lt "$1" ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ "$(sms_n)" -ge "$1" ]
}
# sms_last PHONE FIELD: FIELD of the last message to PHONE (template,
# code, login)
sms_last() {
	python3 -c 'import json, sys
last = None
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m["phone"] == sys.argv[2]:
        last = m
f = sys.argv[3]
print("" if last is None else last["template"] if f == "template" else last["params"].get(f, ""))' "$SMS" "$1" "$2"
}
# rq PATH JSON: a reset POST with the jar $T/r and its CSRF token
rq() {
	gw_post_json "$T/r" "$1" "$2" "$RCSRF"
}
# timed LOGIN: a request for LOGIN; "status seconds" on stdout
timed() {
	_ck=$(awk 'NF { printf "%s%s", (n++ ? "; " : ""), $0 }' "$T/r")
	curl -s -o "$T/body" -w '%{http_code} %{time_total}' -X POST \
	    -H "Cookie: $_ck" -H "X-CSRF-Token: $RCSRF" \
	    -H 'Content-Type: application/json' \
	    --data-binary "{\"login\":\"$1\"}" "$GW/auth/reset/request"
}
audit_of() {
	gw_sql "SELECT event || '|' || COALESCE(result, '') FROM audit WHERE event_id = '$1'"
}
# login JAR LOGIN PASSWORD: a password login; status in LST
login() {
	rm -f "$1"
	gw_pre "$1" || return 1
	LST=$(gw_post_json "$1" /auth/password \
	    "{\"login\":\"$2\",\"password\":\"$3\"}" "$CSRF")
}

# --- alice: two sessions, then frozen by six wrong passwords ---
login "$T/a1" alice "$PW"
check_eq "alice logs in (session 1)" 200 "$LST"
login "$T/a2" alice "$PW"
check_eq "alice logs in (session 2)" 200 "$LST"
gw_pre "$T/w"
for i in 1 2 3 4 5 6; do
	gw_post_json "$T/w" /auth/password '{"login":"alice","password":"Wrong0000"}' "$CSRF" >/dev/null
done
login "$T/w" alice "$PW"
check_eq "six wrong passwords freeze alice: 423 UK-4103" "423 UK-4103" "$LST $(gw_code)"

# --- request, verify, new password ---
gw_pre "$T/r"
RCSRF=$CSRF
st=$(gw_post_json "$T/r" /auth/reset/request '{"login":"alice"}')
check_eq "a request without X-CSRF-Token: 403 UK-4404" "403 UK-4404" "$st $(gw_code)"
n0=$(sms_n)
set -- $(timed alice)
st_a=$1 t_a=$2
check_eq "alice asks for a code: 200" 200 "$st_a"
msg_a=$(gw_json "$T/body" 'j["message"]')
check_match "... the answer names the counter form" '《网上业务用户变更申请表》' "$msg_a"
ev=$(gw_json "$T/body" 'j["event"]')
check_eq "... audited" "reset.request|ok" "$(audit_of "$ev")"
check "... the sender writes the code to the file" sms_wait $((n0 + 1))
code=$(sms_last 13800000001 code)
check_match "... a 6-digit code" '^[0-9]{6}$' "$code"
check_eq "... template reset_code" reset_code "$(sms_last 13800000001 template)"
check_eq "... the outbox row is sent" "sent" "$(gw_sql "SELECT status FROM sms_outbox WHERE phone = '13800000001' ORDER BY id DESC LIMIT 1")"
check_eq "... the code is in no audit row" 0 "$(gw_sql "SELECT COUNT(*) FROM audit WHERE COALESCE(detail, '') LIKE '%$code%'")"
check_eq "... nor in the log" 0 "$(grep -c "$code" "$GW_LOG")"

st=$(rq /auth/reset/verify "{\"login\":\"alice\",\"code\":\"$code\"}")
check_eq "verify with the code: 200" 200 "$st"
token=$(gw_json "$T/body" 'j["token"]')
check_match "... a 43-character token" '^[A-Za-z0-9_-]{43}$' "$token"
check_fail "... no session cookie" grep -qi '^Set-Cookie: __Host-ukey-session' "$T/hdr"
st=$(rq /auth/reset/verify "{\"login\":\"alice\",\"code\":\"$code\"}")
check_eq "the code again: 400 UK-4501" "400 UK-4501" "$st $(gw_code)"
check_eq "... audited as used" "reset.verify|UK-4503" "$(audit_of "$(gw_event)")"

st=$(rq /auth/reset/password "{\"token\":\"$token\",\"password\":\"abcdef\"}")
check_eq "a weak new password: 400 UK-4110" "400 UK-4110" "$st $(gw_code)"
forged=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
st=$(rq /auth/reset/password "{\"token\":\"$forged\",\"password\":\"$NEWPW\"}")
check_eq "a forged token: 400 UK-4506" "400 UK-4506" "$st $(gw_code)"
st=$(rq /auth/reset/password "{\"token\":\"$token\",\"password\":\"$NEWPW\"}")
check_eq "the token is still good after the weak one: 200" 200 "$st"
check_fail "... no session cookie" grep -qi '^Set-Cookie: __Host-ukey-session' "$T/hdr"
check_eq "... audited" "reset.password|ok" "$(audit_of "$(gw_json "$T/body" 'j["event"]')")"
st=$(rq /auth/reset/password "{\"token\":\"$token\",\"password\":\"Other0ne99\"}")
check_eq "the token again: 400 UK-4506" "400 UK-4506" "$st $(gw_code)"

st=$(gw_jar "$T/a1" "$GW/auth/session")
check_eq "alice's first session is revoked: 401 UK-4403" "401 UK-4403" "$st $(gw_code)"
st=$(gw_jar "$T/a2" "$GW/auth/session")
check_eq "... and her second" "401 UK-4403" "$st $(gw_code)"
login "$T/a3" alice "$PW"
check_eq "the old password is refused: UK-4101" "UK-4101" "$(gw_code)"
login "$T/a3" alice "$NEWPW"
check_eq "the new one logs in: the freeze is cleared" 200 "$LST"
check "the notice SMS arrives" sms_wait $((n0 + 2))
check_eq "... template reset_notice" reset_notice "$(sms_last 13800000001 template)"
check_eq "... naming the login" alice "$(sms_last 13800000001 login)"
check_eq "audit rows of the three steps (request, verify, password: refused and ok)" "1 2 4 1" \
    "$(gw_sql "SELECT COUNT(*) FROM audit WHERE event = 'reset.request' AND subject = 'operator:alice'") $(gw_sql "SELECT COUNT(*) FROM audit WHERE event = 'reset.verify' AND subject = 'operator:alice'") $(gw_sql "SELECT COUNT(*) FROM audit WHERE event = 'reset.password'") $(gw_sql "SELECT COUNT(*) FROM audit WHERE event = 'reset.password' AND result = 'ok'")"

# --- one answer, one status, similar timing ---
n1=$(sms_n)
set -- $(timed nobody-here)
st_u=$1 t_u=$2
msg_u=$(gw_json "$T/body" 'j["message"]')
check_eq "an unknown login: the same 200" 200 "$st_u"
check_eq "... the same message" "$msg_a" "$msg_u"
check_eq "... audited as unknown" "reset.request|UK-4510" "$(audit_of "$(gw_json "$T/body" 'j["event"]')")"
set -- $(timed bob)
st_b=$1 t_b=$2
msg_b=$(gw_json "$T/body" 'j["message"]')
check_eq "an operator without a phone: the same 200" 200 "$st_b"
check_eq "... the same message" "$msg_a" "$msg_b"
check_eq "... the same keys" '["event", "message", "ok"]' "$(gw_json "$T/body" 'sorted(j)')"
check_eq "... audited as no phone" "reset.request|UK-4509" "$(audit_of "$(gw_json "$T/body" 'j["event"]')")"
check "timing: all three take at least the 250 ms floor ($t_a $t_u $t_b)" \
    python3 -c 'import sys; sys.exit(0 if min(map(float, sys.argv[1:])) >= 0.25 else 1)' "$t_a" "$t_u" "$t_b"
check "... and are within a factor of 3 of each other" \
    python3 -c 'import sys; v = list(map(float, sys.argv[1:])); sys.exit(0 if max(v) < 3 * min(v) else 1)' "$t_a" "$t_u" "$t_b"
sleep 0.5
check_eq "... and no SMS left for them" "$n1" "$(sms_n)"

# --- wrong codes: five checks, then the code is dead ---
n2=$(sms_n)
st=$(rq /auth/reset/request '{"login":"carol"}')
check "carol asks for a code" sms_wait $((n2 + 1))
ccode=$(sms_last 13800000003 code)
wrong=$(python3 -c 'import sys; print("%06d" % ((int(sys.argv[1]) + 1) % 1000000))' "$ccode")
for i in 1 2 3 4 5; do
	st=$(rq /auth/reset/verify "{\"login\":\"carol\",\"code\":\"$wrong\"}")
done
check_eq "a wrong code: 400 UK-4501" "400 UK-4501" "$st $(gw_code)"
check_eq "... audited as wrong" "reset.verify|UK-4501" "$(audit_of "$(gw_event)")"
st=$(rq /auth/reset/verify "{\"login\":\"carol\",\"code\":\"$ccode\"}")
check_eq "after five checks the right code is refused too" "400 UK-4501" "$st $(gw_code)"
check_eq "... audited as exhausted" "reset.verify|UK-4504" "$(audit_of "$(gw_event)")"
st=$(rq /auth/reset/verify '{"login":"carol","code":"12345"}')
check_eq "a 5-digit code: 400 UK-1006" "400 UK-1006" "$st $(gw_code)"

# --- the per-phone limit ---
n3=$(sms_n)
st=$(rq /auth/reset/request '{"login":"dave"}')
check "dave asks for a code" sms_wait $((n3 + 1))
st=$(rq /auth/reset/request '{"login":"dave"}')
check_eq "a second request within the minute: the same 200" 200 "$st"
check_eq "... audited as the phone's limit" "reset.request|UK-4508" "$(audit_of "$(gw_json "$T/body" 'j["event"]')")"
sleep 1.2
check_eq "... and no second SMS" "$((n3 + 1))" "$(sms_n)"

# --- bodies ---
big=$(python3 -c 'print("{\"login\":\"" + "x" * 5000 + "\"}")')
st=$(rq /auth/reset/request "$big")
check_eq "a 5 kB body: 413 UK-1504" "413 UK-1504" "$st $(gw_code)"
python3 -c 'print("{\"login\":\"" + "x" * 40000 + "\"}")' >"$T/huge"
st=$(gw_post_json "$T/r" /auth/reset/request "@$T/huge" "$RCSRF")
check_eq "a 40 kB body: 413" 413 "$st"
st=$(rq /auth/reset/request '{"login":"alice","x":1}')
check_eq "an unknown key: 400 UK-1006" "400 UK-1006" "$st $(gw_code)"
st=$(rq /auth/reset/request 'login=alice')
check_eq "not JSON: 400 UK-1301" "400 UK-1301" "$st $(gw_code)"

# --- an expired code ---
n4=$(sms_n)
st=$(rq /auth/reset/request '{"login":"frank"}')
check "frank asks for a code" sms_wait $((n4 + 1))
fcode=$(sms_last 13800000006 code)
check "the gateway again, 6 minutes later" restart 360
gw_pre "$T/r"
RCSRF=$CSRF
st=$(rq /auth/reset/verify "{\"login\":\"frank\",\"code\":\"$fcode\"}")
check_eq "the code after 6 minutes: 400 UK-4501" "400 UK-4501" "$st $(gw_code)"
check_eq "... audited as expired" "reset.verify|UK-4502" "$(audit_of "$(gw_event)")"

# --- the timing floor holds the answer, not an HTTP thread ---
# One HTTP thread; eight requests at once, each answered no sooner than
# the floor (250 ms): a request behind them is still answered at once.
check "the gateway with one HTTP thread" restart 360 "gateway.threads = 1"
gw_pre "$T/r"
RCSRF=$CSRF
FL=""
for n in 1 2 3 4 5 6 7 8; do
	timed "nobody$n" >"$T/floor.$n" &
	FL="$FL $!"
done
sleep 0.1 # the eight sent
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$GW/.well-known/jwks.json")
check_eq "a request behind eight held reset answers is answered within a second" 200 "$st"
for p in $FL; do
	wait "$p"
done
for n in 1 2 3 4 5 6 7 8; do
	cat "$T/floor.$n"
	echo
done >"$T/floors"
check_eq "... the eight answered 200, none before the floor" "8 8" \
    "$(awk '$1 == 200 { n++ } $1 == 200 && $2 >= 0.25 { f++ } END { print n + 0, f + 0 }' "$T/floors")"

# --- the outbox with the http provider: failures, then a kill ---
printf 'http=%s\n' "$HKEY" >"$T/secrets"
CAP_PORT=$(gw_free_port)
CAP=$T/cap.jsonl
: >"$CAP"
gw_bg capture "$CAPTURE" --log "$CAP" --port "$CAP_PORT" --secrets "$T/secrets"
CAP_PID=$GW_BG_PID
check "sms-capture starts" gw_wait_url "http://127.0.0.1:$CAP_PORT/control" "$CAP_PID"
HTTPCONF="sms.provider = http"
check "the gateway with the http provider" restart 0 "$HTTPCONF" \
    "sms.url = http://127.0.0.1:$CAP_PORT/http" "sms.secret = $HKEY"
check_fail "... the webhook key is not in the log" grep -q "$HKEY" "$GW_LOG"
gw_pre "$T/r"
RCSRF=$CSRF
# cap_n [OK]: requests the capture server saw (with OK: those it answered
# 200)
cap_n() {
	if [ -n "${1:-}" ]; then grep -c '"status": *200' "$CAP"; else wc -l <"$CAP" | tr -d ' '; fi
}
# cap_wait N [OK]: waits (10 s) for N requests, making queued rows due
# at once (the backoff's 5 s, 30 s, 2 min ... pass in the store)
cap_wait() {
	_i=0
	while [ "$(cap_n "${2:-}")" -lt "$1" ] && [ $_i -lt 100 ]; do
		gw_sql "UPDATE sms_outbox SET next_attempt_at = 0 WHERE status = 'queued'" >/dev/null 2>&1
		sleep 0.1
		_i=$((_i + 1))
	done
	[ "$(cap_n "${2:-}")" -ge "$1" ]
}
# cap_ids PHONE: the outbox ids the capture server accepted for PHONE
cap_ids() {
	python3 -c 'import json, sys
print(" ".join(str(m["id"]) for m in map(json.loads, open(sys.argv[1])) if m["status"] == 200 and m.get("phone") == sys.argv[2]))' "$CAP" "$1"
}
check "the provider fails the next 3 requests" curl -sf -o /dev/null "http://127.0.0.1:$CAP_PORT/control?fail=3"
st=$(rq /auth/reset/request '{"login":"gina"}')
check_eq "gina asks for a code: 200" 200 "$st"
gid=$(gw_sql "SELECT id FROM sms_outbox WHERE phone = '13800000007'")
check "... three 500s, then delivered" cap_wait 1 ok
check_eq "... 500 three times, then 200" "500 500 500 200" \
    "$(python3 -c 'import json, sys; print(" ".join(str(json.loads(l)["status"]) for l in open(sys.argv[1])))' "$CAP")"
check_eq "... each request correctly signed" 4 "$(grep -c '"why": *""' "$CAP")"
check_eq "... the row: sent after 4 attempts" "sent|4" "$(gw_sql "SELECT status || '|' || attempts FROM sms_outbox WHERE id = $gid")"
sleep 1.5
check_eq "... delivered exactly once" "$gid" "$(cap_ids 13800000007)"

gw_kill "$CAP_PID"
st=$(rq /auth/reset/request '{"login":"hank"}')
check_eq "the provider is down; hank asks for a code: 200" 200 "$st"
hid=$(gw_sql "SELECT id FROM sms_outbox WHERE phone = '13800000008'")
check_match "... the message is queued" '^[0-9]+$' "$hid"
kill -9 "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
GW_PID=""
check_eq "the gateway is killed before the message left" \
    "0" "$(gw_sql "SELECT COUNT(*) FROM sms_outbox WHERE id = $hid AND status = 'sent'")"
gw_bg capture "$CAPTURE" --log "$CAP" --port "$CAP_PORT" --secrets "$T/secrets"
CAP_PID=$GW_BG_PID
check "the provider is back" gw_wait_url "http://127.0.0.1:$CAP_PORT/control" "$CAP_PID"
conf "$HTTPCONF" "sms.url = http://127.0.0.1:$CAP_PORT/http" "sms.secret = $HKEY"
check "the gateway restarts" gw_start
check "... the message is delivered" cap_wait 2 ok
sleep 1.5
check_eq "... once" "$hid" "$(cap_ids 13800000008)"
check_eq "... its row is sent" "sent" "$(gw_sql "SELECT status FROM sms_outbox WHERE id = $hid")"
check_eq "... with the code the store expects (6 digits)" 1 \
    "$(python3 -c 'import json, re, sys
print(sum(1 for m in map(json.loads, open(sys.argv[1])) if m["status"] == 200 and m.get("phone") == "13800000008" and re.fullmatch(r"[0-9]{6}", json.loads(m["params"])["code"] if isinstance(m["params"], str) else m["params"]["code"])))' "$CAP")"
check "the gateway stops cleanly" gw_stop
check_fail "no secret in the gateway's log" grep -qE "$KEY|$HKEY" "$GW_LOG"
t_done
