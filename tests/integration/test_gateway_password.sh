#!/bin/sh
# tests/integration/test_gateway_password.sh: password login through ukey-gateway serve on SQLite: the query-scope session and its cookie, the six-try freeze until the next local midnight (test clock), 200 concurrent wrong attempts hashing 6 times, the per-IP limit, the password policy, temporary passwords, session timeouts, logout, revocation, CSRF, role and hall-authorisation policy, and the audit rows behind the error answers.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_password.XXXXXX") || exit 1
. "$ROOT/tests/lib/gateway.sh"

cleanup() {
	gw_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

gw_init
UP_PORT=$(gw_free_port)
gw_bg upstream "$GW_ECHO" --port "$UP_PORT"
check "echo-upstream starts" gw_wait_url "http://127.0.0.1:$UP_PORT/" "$GW_BG_PID"

gw_routes \
    '/hall/query/    GET,HEAD,POST  session scope=query' \
    '/hall/          GET,HEAD,POST  session scope=full' \
    '/hall/authorise GET,HEAD,POST  session scope=query unauthorised' \
    '/q/maker/       GET,HEAD,POST  session scope=query roles=maker'
# conf [section.key = value]...: the test's configuration.
conf() {
	gw_conf "proxy.upstream = http://127.0.0.1:$UP_PORT" \
	    "auth.password_messages = detailed" \
	    "auth.ip_limit = 100000" \
	    "session.idle = 3000" "session.absolute = 3600" "$@"
}
OFF=0
# restart OFFSET [conf settings]: the gateway again with the test clock
# UKEY_TEST_NOW=OFFSET seconds ahead.
restart() {
	OFF=$1
	shift
	gw_stop
	conf "$@"
	UKEY_TEST_NOW=$OFF gw_start --test-clock
}

PW=Passw0rd2024
printf '%s\n' "$PW" >"$T/pw"
printf 'Tmp0rary99\n' >"$T/tmp"
printf 'weak\n' >"$T/weak"
conf
check "unit U1 (agreement, authorised)" sh -c '
	"$1" -c "$2" admin unit add --id U1 --name "某某公司" --form F-1 &&
	"$1" -c "$2" admin unit agreement U1 --form F-2 &&
	"$1" -c "$2" admin unit authorize U1 --form F-3' x "$GW_BIN" "$GW_CONF" >/dev/null
check "unit U2 (agreement, not authorised)" sh -c '
	"$1" -c "$2" admin unit add --id U2 --name "另一公司" --form F-4 &&
	"$1" -c "$2" admin unit agreement U2 --form F-5' x "$GW_BIN" "$GW_CONF" >/dev/null
# op LOGIN UNIT ROLES: an operator with password $PW
op() {
	gw_admin admin operator add --login "$1" --unit "$2" --name "$1" \
	    --roles "$3" --password-fd 3 --form F-10 3<"$T/pw"
}
for o in alice:U1:maker bob:U1:checker carol:U1:maker dave:U1:maker \
    erin:U2:maker frank:U1:maker gina:U1:maker hank:U1:maker ivy:U1:maker; do
	IFS=: read -r l u r <<EOF
$o
EOF
	op "$l" "$u" "$r"
	check_eq "operator $l added" "0" "$?"
done
check "the gateway starts (test clock at 0)" restart 0

# login JAR LOGIN PASSWORD: a password login; status in LST; SCSRF is
# the session's CSRF token on success.
login() {
	rm -f "$1"
	gw_pre "$1" || return 1
	_st=$(gw_post_json "$1" /auth/password \
	    "{\"login\":\"$2\",\"password\":\"$3\"}" "$CSRF")
	SCSRF=$(gw_json "$T/body" 'j.get("csrf", "")')
	LST=$_st
}
# audit_of EVENT_ID: "event|result" of that audit row
audit_of() {
	gw_sql "SELECT event || '|' || COALESCE(result, '') FROM audit WHERE event_id = '$1'"
}
hashes() {
	curl -s "$GW/metrics" | sed -n 's/^ukey_password_hashes_total \([0-9]*\)$/\1/p'
}

# --- a password login: a query session ---
login "$T/a" alice "$PW"; st=$LST
check_eq "alice logs in with her password" 200 "$st"
sc=$(grep -i '^Set-Cookie: __Host-ukey-session=' "$T/hdr")
check_match "session cookie: __Host- with 43 characters" '^Set-Cookie: __Host-ukey-session=[A-Za-z0-9_-]{43};' "$sc"
check_match "... Path=/" '; Path=/(;|$)' "$sc"
check_match "... Secure" '; Secure(;|$)' "$sc"
check_match "... HttpOnly" '; HttpOnly(;|$)' "$sc"
check_match "... SameSite=Lax" '; SameSite=Lax(;|$)' "$sc"
check_fail "... no Domain" grep -qi '^Set-Cookie: __Host-ukey-session=.*domain=' "$T/hdr"
check_eq "the login answers scope query" query "$(gw_json "$T/body" 'j["scope"]')"
check_eq "... method password" password "$(gw_json "$T/body" 'j["method"]')"
ACSRF=$SCSRF
cookie=$(sed -n 's/^__Host-ukey-session=//p' "$T/a")
check_eq "the store keeps only the cookie's SHA-256" \
    "1 0" "$(gw_sql "SELECT COUNT(*) FROM sessions WHERE id_hash = '$(printf %s "$cookie" | sha256sum | cut -d' ' -f1)'") $(gw_sql "SELECT COUNT(*) FROM sessions WHERE id_hash = '$cookie' OR csrf = '$cookie'")"
gw_jar "$T/a" "$GW/auth/session" >/dev/null
check_eq "/auth/session: scope query" query "$(gw_json "$T/body" 'j["scope"]')"

st=$(gw_jar "$T/a" "$GW/hall/x")
check_eq "a full-scope route refuses the query session: 403 UK-5005" "403 UK-5005" "$st $(gw_code)"
check_eq "... with a clear message" "账号密码登录只能办理查询业务" "$(gw_json "$T/body" 'j["error"]["message"]')"
check_match "... and a remedy" 'UKey' "$(gw_json "$T/body" 'j["error"]["remedy"]')"
ev=$(gw_event)
check_eq "... its event finds the audit row" "policy.refused|UK-5005" "$(audit_of "$ev")"
st=$(gw_jar "$T/a" -H 'Accept: text/html' "$GW/hall/x")
check_eq "... a browser navigation: 403 HTML" "403" "$st"
check_match "... text/html" '^Content-Type: text/html' "$(cat "$T/hdr")"
check_match "... with code and message" 'UK-5005' "$(cat "$T/body")"
check_match "... the message in the page" '账号密码登录只能办理查询业务' "$(cat "$T/body")"
st=$(gw_jar "$T/a" "$GW/hall/query/list?y=2024")
check_eq "a query route passes to the upstream" 200 "$st"
check_match "... with the operator's identity" '"[Xx]-[Uu]key-[Ll]ogin": *"alice"' "$(cat "$T/body")"
check_match "... and scope query" '"[Xx]-[Uu]key-[Ss]cope": *"query"' "$(cat "$T/body")"

# --- CSRF on state changes ---
st=$(gw_jar "$T/a" -X POST -H 'Content-Type: text/plain' --data x "$GW/hall/query/save")
check_eq "a POST without X-CSRF-Token: 403 UK-4404" "403 UK-4404" "$st $(gw_code)"
check_eq "... audited" "csrf.refused|UK-4404" "$(audit_of "$(gw_event)")"
st=$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $CSRF" -H 'Content-Type: text/plain' --data x "$GW/hall/query/save")
check_eq "... with the pre-login token instead of the session's: 403" "403" "$st"
st=$(gw_jar "$T/a" -X POST -H "X-CSRF-Token: $ACSRF" -H 'Content-Type: text/plain' --data x "$GW/hall/query/save")
check_eq "... with the session's token: passed" 200 "$st"

# --- roles and the hall authorisation ---
st=$(gw_jar "$T/a" "$GW/q/maker/list")
check_eq "a maker on a roles=maker route: passed" 200 "$st"
login "$T/b" bob "$PW"
st=$(gw_jar "$T/b" "$GW/q/maker/list")
check_eq "a checker on a roles=maker route: 403 UK-5006" "403 UK-5006" "$st $(gw_code)"
check_eq "... audited" "policy.refused|UK-5006" "$(audit_of "$(gw_event)")"
check_eq "... the row names the operator" "operator:bob" "$(gw_sql "SELECT actor FROM audit WHERE event_id = '$(gw_event)'")"
login "$T/e" erin "$PW"; st=$LST
check_eq "an operator of an unauthorised unit logs in" 200 "$st"
for p in /hall/query/list /q/maker/list /hall/x; do
	st=$(gw_jar "$T/e" "$GW$p")
	check_eq "... $p: 403 UK-5002" "403 UK-5002" "$st $(gw_code)"
done
check_eq "... with the hall's message" "缴存单位未办理网厅用户授权，不允许办理其他业务" "$(gw_json "$T/body" 'j["error"]["message"]')"
check_eq "... audited" "policy.refused|UK-5002" "$(audit_of "$(gw_event)")"
st=$(gw_jar "$T/e" "$GW/hall/authorise")
check_eq "... the authorisation route passes" 200 "$st"
st=$(gw_req "$GW/hall/query/list")
check_eq "no session: 401 UK-4401" "401 UK-4401" "$st $(gw_code)"
check_eq "... audited even without a session" "policy.refused|UK-4401" "$(audit_of "$(gw_event)")"
st=$(gw_req "$GW/nowhere")
check_eq "an unknown route without a session: 403 UK-5001, audited" \
    "403 policy.refused|UK-5001" "$st $(audit_of "$(gw_event)")"

# --- wrong passwords: tries left, the freeze, the next day ---
for i in 1 2 3 4 5; do
	login "$T/c" carol wrong$i; st=$LST
	check_eq "carol's wrong password $i: 401 UK-4101, $((6 - i)) tries left" \
	    "401 UK-4101 $((6 - i))" "$st $(gw_code) $(gw_json "$T/body" 'j["error"]["triesLeft"]')"
done
check_match "... the message says so" '登录密码错误.*1' "$(gw_json "$T/body" 'j["error"]["message"]')"
check_eq "... the refusal's event finds its audit row" "login.password.refused|UK-4101" "$(audit_of "$(gw_event)")"
login "$T/c" carol wrong6; st=$LST
check_eq "the sixth wrong password: UK-4101, 0 tries left" "401 UK-4101 0" "$st $(gw_code) $(gw_json "$T/body" 'j["error"]["triesLeft"]')"
login "$T/c" carol "$PW"; st=$LST
check_eq "the seventh, with the right password: 423 UK-4103" "423 UK-4103" "$st $(gw_code)"
check_eq "... 「用户已暂时冻结」" "用户已暂时冻结" "$(gw_json "$T/body" 'j["error"]["message"]')"
until=$(gw_json "$T/body" 'j["error"]["frozenUntil"]')
# The next local midnight in Asia/Shanghai, as the test clock sees it.
mid=$(python3 -c 'import sys, time
now = int(time.time()) + int(sys.argv[1])
loc = now + 8 * 3600
print(now - loc % 86400 + 86400)' "$OFF")
check_eq "... frozen until the next Asia/Shanghai midnight" "$mid" \
    "$(python3 -c 'import sys, datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()))' "$until" 2>/dev/null)"
check_eq "... audited" "login.password.refused|UK-4103" "$(audit_of "$(gw_event)")"

# --- 200 concurrent wrong attempts: exactly 6 hashes ---
gw_pre "$T/d"
PRECK=$(cat "$T/d")
h0=$(hashes)
seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    -H 'Content-Type: application/json' -H "Cookie: $PRECK" -H "X-CSRF-Token: $CSRF" \
    --data '{"login":"dave","password":"wrong{}x"}' "$GW/auth/password" >"$T/par"
h1=$(hashes)
check_eq "200 concurrent wrong passwords: exactly 6 hashes computed" 6 "$((h1 - h0))"
check_eq "... 6 answered wrong password (401)" 6 "$(grep -c '^401$' "$T/par")"
check_eq "... 194 refused as frozen (423)" 194 "$(grep -c '^423$' "$T/par")"
check_eq "... the count stops at 6" 6 "$(gw_sql "SELECT fail_count FROM operators WHERE login_lc = 'dave'")"
h0=$(hashes)
login "$T/d" dave "$PW"; st=$LST
check_eq "... the right password now: 423, no hash" "423 0" "$st $(($(hashes) - h0))"

# --- the password policy on set ---
gw_admin admin operator reset-password alice --password-fd 3 --form F-30 3<"$T/weak"
check_eq "reset to a weak password refused" "1" "$?"
check_match "... UK-4110" 'UK-4110' "$(cat "$T/admin.err")"

# --- a temporary password ---
gw_admin admin operator reset-password frank --password-fd 3 --temporary --form F-31 3<"$T/tmp"
check_eq "reset to a temporary password" 0 "$?"
login "$T/f" frank Tmp0rary99; st=$LST
check_eq "login with it: 200, must change" "200 true" "$st $(gw_json "$T/body" 'j.get("mustChangePassword")')"
FCSRF=$SCSRF
login "$T/f2" frank Tmp0rary99
st=$(gw_jar "$T/f" "$GW/hall/query/list")
check_eq "... a query route: 403 UK-4111" "403 UK-4111" "$st $(gw_code)"
st=$(gw_jar "$T/f" "$GW/hall/authorise")
check_eq "... even the authorisation route: 403 UK-4111" "403 UK-4111" "$st $(gw_code)"
st=$(gw_jar "$T/f" -H 'X-Original-Method: GET' -H 'X-Original-URI: /hall/query/list' "$GW/auth/verify")
check_eq "... /auth/verify: 403 UK-4111" "403 UK-4111" "$st $(gw_code)"
st=$(gw_jar "$T/f" "$GW/auth/session")
check_eq "... /auth/session still answers, saying so" "200 true" "$st $(gw_json "$T/body" 'j.get("mustChangePassword")')"
st=$(gw_post_json "$T/f" /auth/password/change '{"old":"Tmp0rary99","new":"Better2024x"}')
check_eq "change without X-CSRF-Token: 403 UK-4404" "403 UK-4404" "$st $(gw_code)"
st=$(gw_post_json "$T/f" /auth/password/change '{"old":"Tmp0rary99","new":"weakweak"}' "$FCSRF")
check_eq "change to a weak password: 400 UK-4110" "400 UK-4110" "$st $(gw_code)"
st=$(gw_post_json "$T/f" /auth/password/change '{"old":"Tmp0rary99","new":"Tmp0rary99"}' "$FCSRF")
check_eq "change to the same password: 400 UK-4110" "400 UK-4110" "$st $(gw_code)"
st=$(gw_post_json "$T/f" /auth/password/change '{"old":"Wrong0000","new":"Better2024x"}' "$FCSRF")
check_eq "change with a wrong old password: 401 UK-4101, counted" "401 UK-4101 5" "$st $(gw_code) $(gw_json "$T/body" 'j["error"]["triesLeft"]')"
st=$(gw_post_json "$T/f" /auth/password/change '{"old":"Tmp0rary99","new":"Better2024x"}' "$FCSRF")
check_eq "change: 200" "200 true" "$st $(gw_json "$T/body" 'j.get("passwordChanged")')"
check "... a fresh session cookie" grep -q '^Set-Cookie: __Host-ukey-session=[A-Za-z0-9_-]\{43\};' "$T/hdr"
check_eq "... an audit row" "1" "$(gw_sql "SELECT COUNT(*) FROM audit WHERE event = 'admin.operator.set_password' AND actor = 'operator:frank'")"
st=$(gw_jar "$T/f" "$GW/hall/query/list")
check_eq "... the query route now passes" 200 "$st"
st=$(gw_jar "$T/f2" "$GW/hall/query/list")
check_eq "... the operator's other session is revoked: 401 UK-4403" "401 UK-4403" "$st $(gw_code)"
login "$T/f3" frank Tmp0rary99
check_eq "... the old password no longer logs in" 401 "$LST"
login "$T/f3" frank Better2024x
check_eq "... the new one does, without must-change" "200 null" "$LST $(gw_json "$T/body" 'j.get("mustChangePassword")')"

# --- logout and admin revocation ---
cp "$T/a" "$T/a.saved"
st=$(gw_post_json "$T/a" /auth/logout '{}')
check_eq "logout without X-CSRF-Token: 403 UK-4404" "403 UK-4404" "$st $(gw_code)"
st=$(gw_post_json "$T/a" /auth/logout '{}' "$ACSRF")
check_eq "logout with it: 200" 200 "$st"
check_match "... clears the cookie" '^Set-Cookie: __Host-ukey-session=; .*Max-Age=0' "$(cat "$T/hdr")"
st=$(gw_jar "$T/a.saved" "$GW/hall/query/list")
check_eq "... the old cookie is unusable: 401 UK-4403" "401 UK-4403" "$st $(gw_code)"
check_eq "... audited" "policy.refused|UK-4403" "$(audit_of "$(gw_event)")"
login "$T/g" gina "$PW"
check_eq "gina's session works" 200 "$(gw_jar "$T/g" "$GW/hall/query/list")"
gw_admin admin operator leave gina --form F-40
check_eq "admin operator leave gina" 0 "$?"
st=$(gw_jar "$T/g" "$GW/hall/query/list")
check_eq "... the next request: 401 UK-4403" "401 UK-4403" "$st $(gw_code)"

# --- the per-IP limit (no hash computed) ---
check "restart with ip_limit 3" restart 0 "auth.ip_limit = 3" "auth.ip_window = 600"
h0=$(hashes)
got=""
for i in 1 2 3 4 5; do
	login "$T/r" nobody wrong; st=$LST
	if [ "$st" = 429 ]; then
		got=$(gw_code)
		ra=$(sed -n 's/^Retry-After: *//Ip' "$T/hdr")
		break
	fi
done
check_eq "over the per-IP limit: 429 UK-4104" "UK-4104" "$got"
check_match "... with Retry-After in seconds" '^[1-9][0-9]*$' "${ra:-}"
h1=$(hashes)
login "$T/r" alice "$PW"; st=$LST
check_eq "... even the right password is refused, without a hash" "429 $h1" "$st $(hashes)"

# --- the next local day: the freeze is over; session timeouts ---
next=$((mid - $(date +%s) + 60))
check "restart on the next local day" restart "$next"
login "$T/c" carol "$PW"; st=$LST
check_eq "carol's right password works the next day" 200 "$st"
login "$T/h" hank "$PW"; st=$LST
check_eq "hank logs in" 200 "$st"
login "$T/i" ivy "$PW"
check "restart 2000 s later" restart $((next + 2000))
check_eq "hank's session after 2000 s idle (idle 3000): passes" 200 "$(gw_jar "$T/h" "$GW/hall/query/list")"
check "restart 3100 s after the logins" restart $((next + 3100))
st=$(gw_jar "$T/i" "$GW/hall/query/list")
check_eq "ivy idle 3100 s (idle 3000): 401 UK-4402" "401 UK-4402" "$st $(gw_code)"
check_eq "hank, active 1100 s ago: passes" 200 "$(gw_jar "$T/h" "$GW/hall/query/list")"
check "restart 3700 s after the logins" restart $((next + 3700))
st=$(gw_jar "$T/h" "$GW/hall/query/list")
check_eq "hank past the absolute limit (3600), idle 600 s: 401 UK-4402" "401 UK-4402" "$st $(gw_code)"

# --- password hashes never hold the HTTP threads ---
# One HTTP thread; twelve wrong passwords at once (twelve Argon2 hashes,
# seconds of work for the two password workers). A request arriving
# behind them is answered at once: the HTTP thread only queued them.
check "restart with one HTTP thread" restart $((next + 3700)) "gateway.threads = 1"
h0=$(hashes)
: >"$T/burst"
BURST=""
for who in hank ivy; do
	for n in 1 2 3 4 5 6; do
		gw_pre "$T/bj.$who.$n"
		printf '%s\n' "$CSRF" >"$T/bc.$who.$n"
	done
done
for who in hank ivy; do
	for n in 1 2 3 4 5 6; do
		curl -s -o /dev/null -w '%{http_code}\n' \
		    -H "Cookie: $(awk 'NF' "$T/bj.$who.$n" | head -n 1)" \
		    -H "X-CSRF-Token: $(cat "$T/bc.$who.$n")" \
		    -H 'Content-Type: application/json' \
		    --data "{\"login\":\"$who\",\"password\":\"Wrong-$n-x9\"}" \
		    "$GW/auth/password" >>"$T/burst" &
		BURST="$BURST $!"
	done
done
sleep 0.2 # the twelve sent
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$GW/.well-known/jwks.json")
check_eq "a request behind twelve password hashes is answered within a second" 200 "$st"
for p in $BURST; do
	wait "$p"
done
check_eq "... and the twelve attempts are answered (401; the sixth of each freezes)" \
    "12x401" "$(sort "$T/burst" | uniq -c | awk '{ printf "%s%sx%s", (n++ ? " " : ""), $1, $2 }')"
check_eq "... with twelve hashes, none more" 12 "$(($(hashes) - h0))"
login "$T/h9" hank "$PW"; st=$LST
check_eq "... hank is frozen now: 423" 423 "$st"

check "the audit chain verifies" gw_admin audit verify
gw_stop
t_done
