#!/bin/sh
# tests/integration/test_agent_http.sh: ukey-agent serve on loopback with a
# ukey-sim token: Host and Origin checks before any token access (no PIN try
# consumed), CORS and Private Network Access, JSON only, 8 KiB bodies,
# nonce bounds, routes, BUSY, IPv6, the event stream, diagnostics.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

SSE_PID=""
BG_PID=""
cleanup() {
	for p in $SSE_PID $BG_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$AG_BIN" ] || [ ! -f "$AG_SIM" ] || [ ! -f "$AG_SOFTHSM" ]; then
	echo "1..0 # SKIP ukey-agent, ukey-sim or SoftHSM2 missing"
	exit 0
fi

ag_init
SERIAL=$(ag_token ukey1)
check "token with an EC key and certificate" ag_keycert ukey1 01 ec \
    "/CN=Zhang San/O=Unit 100234"
ag_conf "$T/agent.conf"
check "agent starts" ag_start "$T/agent.conf"
GUARD="$T/state/$SERIAL.user"
SIMSTATE="$T/sim/$SERIAL.state"
N=$(ag_nonce)
AUTH_OK="{\"nonce\":\"$N\",\"pin\":\"$PIN\"}"
AUTH_BAD="{\"nonce\":\"$N\",\"pin\":\"000000\"}"

# curl with headers shown: hdr PATH ORIGIN [extra curl args]
hdr() {
	_p=$1 _o=$2
	shift 2
	curl -s -g -D - -o /dev/null -H "Origin: $_o" "$@" \
	    "http://127.0.0.1:$AG_PORT$_p" | tr -d '\r'
}
# counts: what the guard and ukey-sim have recorded, on one line
counts() {
	ag_settle
	printf 'guard[%s] sim[%s]' "$(ag_guard_file "$GUARD")" \
	    "$(grep user_left "$SIMSTATE" 2>/dev/null)"
}
# nothing_tried: neither the guard nor ukey-sim has counted anything
nothing_tried() {
	ag_settle
	[ ! -e "$GUARD" ] && [ ! -e "$SIMSTATE" ]
}
alive() {
	kill -0 "$1" 2>/dev/null
}

# --- Origin, before any token access
st=$(ag_post /v1/authenticate "$AUTH_BAD" https://evil.example)
check_eq "wrong PIN from an origin not allowed: 403" 403 "$st"
check_match "... UK-5001" '"UK-5001"' "$(cat "$T/body")"
check "... and no PIN try consumed (guard and token untouched)" nothing_tried
st=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$AUTH_BAD" "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "no Origin at all: 403" 403 "$st"
st=$(ag_post /v1/authenticate "$AUTH_BAD" null)
check_eq "Origin null: 403" 403 "$st"
st=$(ag_post /v1/authenticate "$AUTH_BAD" https://hall.example.gov.cn.evil.example)
check_eq "origin with the allowed one as a prefix: 403" 403 "$st"
st=$(ag_post /v1/authenticate "$AUTH_BAD" http://hall.example.gov.cn)
check_eq "allowed host, other scheme: 403" 403 "$st"
st=$(ag_post /v1/authenticate "$AUTH_BAD" HTTPS://HALL.EXAMPLE.GOV.CN)
check_eq "allowed origin in another spelling: 403" 403 "$st"
st=$(ag_post /v1/authenticate "$AUTH_BAD" https://hall.example.gov.cn/)
check_eq "allowed origin with a trailing slash: 403" 403 "$st"
ag_conf "$T/upper.conf" "allowed_origins = HTTPS://HALL.EXAMPLE.GOV.CN"
out=$("$AG_BIN" -c "$T/upper.conf" list 2>&1)
check_eq "an allowed origin not in lower case: refused at start-up" 1 "$?"
check_match "... saying why" "lower case" "$out"
check "still no PIN try consumed" nothing_tried
h=$(hdr /v1/status https://evil.example)
check_match "refusal has no CORS header" '^HTTP/1.1 403' "$h"
case "$h" in
*Access-Control-Allow-Origin*) not_ok "403 carries no Access-Control-Allow-Origin" ;;
*) ok "403 carries no Access-Control-Allow-Origin" ;;
esac

# --- Host (DNS rebinding)
for host in evil.example:$AG_PORT 127.0.0.1 127.0.0.1:$((AG_PORT + 1)) \
    localhost.evil.example:$AG_PORT; do
	st=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
	    -H "Host: $host" "http://127.0.0.1:$AG_PORT/v1/status")
	check_eq "Host $host refused" 403 "$st"
done
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H "Host: evil.example:$AG_PORT" -H 'Content-Type: application/json' \
    --data-binary "$AUTH_BAD" "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "rebinding authenticate refused" 403 "$st"
check "... with no PIN try consumed" nothing_tried
st=$(curl -s -0 -o /dev/null -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H "Host:" "http://127.0.0.1:$AG_PORT/v1/status")
check_eq "HTTP/1.0 without Host refused" 403 "$st"
for host in localhost:$AG_PORT "[::1]:$AG_PORT" "127.0.0.1:$AG_PORT"; do
	st=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
	    -H "Host: $host" "http://127.0.0.1:$AG_PORT/v1/status")
	check_eq "Host $host accepted" 200 "$st"
done

# --- CORS and Private Network Access
h=$(hdr /v1/status "$AG_ORIGIN")
check_match "allowed origin: echoed" "Access-Control-Allow-Origin: $AG_ORIGIN" "$h"
check_match "... Vary: Origin" "Vary: Origin" "$h"
check_match "... JSON" "Content-Type: application/json" "$h"
check_match "... no-store" "Cache-Control: no-store" "$h"
h=$(hdr /v1/authenticate "$AG_ORIGIN" -X OPTIONS \
    -H "Access-Control-Request-Method: POST" \
    -H "Access-Control-Request-Private-Network: true")
check_match "preflight: 204" '^HTTP/1.1 204' "$h"
check_match "preflight: private network allowed when asked" \
    "Access-Control-Allow-Private-Network: true" "$h"
check_match "preflight: methods" "Access-Control-Allow-Methods: GET, POST" "$h"
check_match "preflight: Content-Type header allowed" \
    "Access-Control-Allow-Headers: Content-Type" "$h"
h=$(hdr /v1/authenticate "$AG_ORIGIN" -X OPTIONS \
    -H "Access-Control-Request-Method: POST")
case "$h" in
*Private-Network*) not_ok "preflight without the question: no private network header" ;;
*) ok "preflight without the question: no private network header" ;;
esac
h=$(hdr /v1/authenticate https://evil.example -X OPTIONS \
    -H "Access-Control-Request-Method: POST" \
    -H "Access-Control-Request-Private-Network: true")
check_match "preflight from another origin: 403" '^HTTP/1.1 403' "$h"
case "$h" in
*Access-Control-Allow*) not_ok "... with no Access-Control-Allow-* at all" ;;
*) ok "... with no Access-Control-Allow-* at all" ;;
esac

# --- JSON only, size, strictness, nonce bounds
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: text/plain' --data-binary "$AUTH_BAD" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "text/plain body: 415" 415 "$st"
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "$AUTH_BAD" "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "form body: 415" 415 "$st"
python3 -c "import sys; sys.stdout.write('{\"nonce\":\"$N\",\"pin\":\"000000\"' + ' ' * 8200 + '}')" >"$T/big"
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json' --data-binary "@$T/big" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "body over 8 KiB: 413" 413 "$st"
check_match "... UK-1005" '"UK-1005"' "$(cat "$T/body")"
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/big" "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "chunked body over 8 KiB: 413" 413 "$st"
check "... and no PIN try consumed" nothing_tried
python3 -c "
body = '{\"nonce\":\"$N\",\"pin\":\"$PIN\"'
import sys; sys.stdout.write(body + ' ' * (8192 - len(body) - 1) + '}')" >"$T/exact"
check_eq "body of exactly 8 KiB" 8192 "$(wc -c <"$T/exact")"
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json; charset=utf-8' \
    --data-binary "@$T/exact" "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "... is accepted (200)" 200 "$st"
before=$(counts)
check_match "the guard recorded the success" "failures 0 pending 0" "$before"
st=$(ag_post /v1/authenticate '{"nonce":')
check_eq "malformed JSON: 400" 400 "$st"
check_match "... UK-1301" '"UK-1301"' "$(cat "$T/body")"
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"nonce\":\"$N\",\"pin\":\"$PIN\"}")
check_eq "duplicate key: 400" 400 "$st"
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"pin\":\"$PIN\",\"origin\":\"$AG_ORIGIN\"}")
check_eq "origin in the body: refused (400)" 400 "$st"
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"pin\":\"$PIN\",\"data\":\"c2lnbiBtZQ==\"}")
check_eq "data to sign in the body: refused (400)" 400 "$st"
for len in 43 129; do
	n=$(python3 -c "print('A' * $len)")
	st=$(ag_post /v1/authenticate "{\"nonce\":\"$n\",\"pin\":\"000000\"}")
	check_eq "nonce of $len characters: 400" 400 "$st"
	check_match "... UK-1006" '"UK-1006"' "$(cat "$T/body")"
done
check_eq "bad requests consumed no PIN try" "$before" "$(counts)"
for len in 44 128; do
	n=$(python3 -c "print('B' * $len)")
	st=$(ag_post /v1/authenticate "{\"nonce\":\"$n\",\"pin\":\"$PIN\"}")
	check_eq "nonce of $len characters: 200" 200 "$st"
	check "... and the signature verifies" ag_verify "$T/body" "$AG_ORIGIN" "$n"
done
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\"}")
check_eq "pin_source request without a PIN: 400" 400 "$st"

# --- routes
st=$(ag_get /v1/authenticate)
check_eq "GET /v1/authenticate: 405" 405 "$st"
st=$(ag_get /v1/nothing)
check_eq "unknown path: 404" 404 "$st"
st=$(curl -s -o "$T/body" -w '%{http_code}' -X GET -H "Origin: $AG_ORIGIN" \
    --data-binary '{"nonce":"x"}' "http://127.0.0.1:$AG_PORT/v1/certificates")
check_eq "GET with a body: 400" 400 "$st"
for p in /v1/enroll /v1/certificate /v1/unlock /v1/change-pin; do
	st=$(ag_post "$p" '{}')
	check_eq "counter route $p without counter_mode: 404" 404 "$st"
done
st=$(ag_get /v1/certificates)
check_eq "GET /v1/certificates" 200 "$st"
check_eq "... lists the certificate" "$SERIAL:01" \
    "$(ag_json "$T/body" 'j["certificates"][0]["id"]')"
check_eq "... with its algorithm" ES256 \
    "$(ag_json "$T/body" 'j["certificates"][0]["algorithm"]')"

# --- one token operation at a time
echo 1500 >"$T/sim/delay_sign_ms"
curl -s -o "$T/first" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json' --data-binary "$AUTH_OK" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" >"$T/first.status" &
BG_PID=$!
sleep 0.5
st=$(ag_post /v1/authenticate "$AUTH_OK")
check_eq "second authenticate while one runs: 409" 409 "$st"
check_match "... UK-2011 (busy)" '"UK-2011"' "$(cat "$T/body")"
st=$(ag_get /v1/certificates)
check_eq "certificates while busy: 409" 409 "$st"
st=$(ag_get /v1/status)
check_eq "status while busy: 200" 200 "$st"
check_eq "... says busy" true "$(ag_json "$T/body" 'j["busy"]')"
wait "$BG_PID"
BG_PID=""
check_eq "the first one succeeds" 200 "$(cat "$T/first.status")"
rm -f "$T/sim/delay_sign_ms"
st=$(ag_post /v1/authenticate "$AUTH_OK")
check_eq "after it: not busy" 200 "$st"

# --- IPv6
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	st=$(curl -s -g -o /dev/null -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
	    "http://[::1]:$AG_PORT/v1/status")
	check_eq "listening on [::1] as well" 200 "$st"
else
	ok "listening on [::1] as well # SKIP no IPv6 loopback"
fi

# --- events: pin-state from the worker, card events when built in
curl -s -N -H "Origin: $AG_ORIGIN" "http://127.0.0.1:$AG_PORT/v1/events" \
    >"$T/sse" 2>/dev/null &
SSE_PID=$!
sleep 0.5
st=$(ag_post /v1/authenticate "$AUTH_BAD")
check_eq "wrong PIN: 401" 401 "$st"
check_match "... 5 tries left" "PIN码错误，还可尝试5次" "$(cat "$T/body")"
sleep 0.5
check_match "event stream: opened" "retry: 3000" "$(cat "$T/sse")"
check_match "event stream: pin-state event" \
    'event: pin-state' "$(cat "$T/sse")"
check_match "... carrying the state" \
    "data: \{\"type\":\"pin-state\",\"token\":\"$SERIAL\",\"pin\":\{\"state\":\"COUNT_LOW\",\"retriesLeft\":5" \
    "$(cat "$T/sse")"
if pgrep -P "$AG_PID" -f __events >/dev/null 2>&1; then
	touch "$T/sim/removed"
	i=0
	while [ $i -lt 40 ] && ! grep -q '^event: removed' "$T/sse"; do
		sleep 0.1
		i=$((i + 1))
	done
	check_match "event stream: removed event" '^event: removed' "$(cat "$T/sse")"
	rm -f "$T/sim/removed"
	i=0
	while [ $i -lt 40 ] && ! grep -q '^event: inserted' "$T/sse"; do
		sleep 0.1
		i=$((i + 1))
	done
	check_match "event stream: inserted event" '^event: inserted' "$(cat "$T/sse")"
else
	ok "event stream: removed event # SKIP card events not built in"
	ok "event stream: inserted event # SKIP card events not built in"
fi
kill "$SSE_PID" 2>/dev/null
wait "$SSE_PID" 2>/dev/null
SSE_PID=""

# --- diagnostics
st=$(ag_get /v1/diagnostics)
check_eq "GET /v1/diagnostics" 200 "$st"
check "... answers JSON" python3 -c "import json; json.load(open('$T/body'))"

# --- the processes: no core files (and PR_SET_DUMPABLE 0, set with it)
W=$(ag_worker_pid)
check "a token worker process runs" test -n "$W"
check_match "the server writes no core file" "^Max core file size +0 +0 " \
    "$(grep '^Max core file size' /proc/"$AG_PID"/limits)"
check_match "nor does the worker" "^Max core file size +0 +0 " \
    "$(grep '^Max core file size' /proc/"$W"/limits)"
check_match "the server does not hold the module" "^$" \
    "$(grep -F "$AG_SIM" /proc/"$AG_PID"/maps 2>/dev/null | head -n 1)"
check_match "the worker does" "ukey-sim.so" \
    "$(grep -F "$(basename "$AG_SIM")" /proc/"$W"/maps 2>/dev/null | head -n 1)"
ag_stop
check_fail "the worker leaves with the server" alive "$W"
t_done
