#!/bin/sh
# tests/integration/test_agent_pinentry.sh: pin_source = pinentry with the
# scripted tests/tools/fake-pinentry: the dialog shows origin and
# certificate, tries left after a wrong PIN; cancel, a dialog that dies,
# talks nonsense or hangs (killed at pinentry_timeout) give clear errors and
# count no attempt; a PIN in the request is refused in this mode.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

BG_PID=""
cleanup() {
	if [ -n "$BG_PID" ]; then
		kill "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
	fi
	# A dialog left hanging by a worker that was stopped.
	[ -f "${T:-/nonexistent}/pe/pid" ] && kill "$(cat "$T/pe/pid")" 2>/dev/null
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
check "token with key and certificate" ag_keycert ukey1 01 ec \
    "/CN=Zhao Liu/O=Unit 100234"
C="$SERIAL:01"
mkdir "$T/pe"
export FAKE_PINENTRY_DIR="$T/pe"
ag_conf "$T/agent.conf" "pin_source = pinentry" "pinentry_timeout = 2"
check "agent with pinentry starts" ag_start "$T/agent.conf"

mode() {
	echo "$1" >"$T/pe/mode"
	: >"$T/pe/log"
}
auth() {
	ag_nonce >"$T/nonce"
	ag_post /v1/authenticate \
	    "{\"nonce\":\"$(cat "$T/nonce")\",\"certificate\":\"$C\"}"
}
counts() {
	ag_settle
	printf '%s|%s' "$(ag_guard_file "$T/state/$SERIAL.user")" \
	    "$(grep user_left "$T/sim/$SERIAL.state" 2>/dev/null)"
}
alive() {
	kill -0 "$1" 2>/dev/null
}

mode pin
st=$(auth)
check_eq "PIN from the dialog: 200" 200 "$st"
check "... the signature verifies" ag_verify "$T/body" "$AG_ORIGIN" "$(cat "$T/nonce")"
log=$(cat "$T/pe/log")
check_match "dialog shows the origin" "^SETDESC .*$AG_ORIGIN" "$log"
check_match "dialog shows the certificate subject" "^SETDESC .*CN=Zhao Liu" "$log"
check_match "dialog shows the token" "^SETDESC .*$SERIAL" "$log"
check_match "dialog has a prompt" "^SETPROMPT PIN" "$log"
check_match "dialog times out by itself as well" "^SETTIMEOUT 2" "$log"
check_match "then GETPIN" "^GETPIN" "$log"
check_match "no warning on a fresh token" "^$" "$(grep SETERROR "$T/pe/log")"

: >"$T/pe/log"
st=$(ag_post /v1/authenticate "{\"nonce\":\"$(ag_nonce)\",\"pin\":\"$PIN\"}")
check_eq "a PIN in the request is refused in pinentry mode" 400 "$st"
check_eq "... and no dialog is opened" "" "$(cat "$T/pe/log")"

echo 000000 >"$T/pe/pin"
st=$(auth)
check_eq "wrong PIN from the dialog: 401" 401 "$st"
check_match "... 5 left" '"retriesLeft":5' "$(cat "$T/body")"
rm -f "$T/pe/pin"
mode pin
st=$(ag_post /v1/authenticate \
    "{\"nonce\":\"$(ag_nonce)\",\"certificate\":\"$C\"}" 2>/dev/null)
check_match "next dialog warns with the tries left" \
    "^SETERROR 此前PIN码输入错误，还可尝试5次" "$(cat "$T/pe/log")"
check_eq "... and the right PIN resets" 200 "$st"
before=$(counts)

mode cancel
st=$(auth)
check_eq "cancelled dialog: 400" 400 "$st"
check_match "... UK-1009" '"UK-1009"' "$(cat "$T/body")"
check_eq "... no attempt counted" "$before" "$(counts)"

mode die
st=$(auth)
check_eq "dialog that dies: 503" 503 "$st"
check_match "... UK-2012" '"UK-2012"' "$(cat "$T/body")"
check_eq "... no attempt counted" "$before" "$(counts)"

mode garbage
st=$(auth)
check_eq "dialog that talks nonsense: 503" 503 "$st"
check_eq "... no attempt counted" "$before" "$(counts)"

mode timeout
st=$(auth)
check_eq "dialog that reports its own timeout: 504" 504 "$st"

mode hang
start=$(date +%s)
st=$(auth)
end=$(date +%s)
check_eq "dialog that never answers: 504" 504 "$st"
check_match "... UK-1010" '"UK-1010"' "$(cat "$T/body")"
check "... after pinentry_timeout (2 s), not much later" \
    test $((end - start)) -ge 1 -a $((end - start)) -le 5
PE=$(cat "$T/pe/pid")
check_fail "... and the dialog was killed" alive "$PE"
check_eq "... no attempt counted" "$before" "$(counts)"

mode pin
st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Accept-Language: en-US,en;q=0.9' -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$(ag_nonce)\",\"certificate\":\"$C\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate")
check_eq "after all that the agent signs again" 200 "$st"
check_match "an English page gets an English dialog" \
    "^SETDESC $AG_ORIGIN asks to log in" "$(cat "$T/pe/log")"
ag_stop

# Stopping the server while a dialog is open does not wait for it.
ag_conf "$T/long.conf" "pin_source = pinentry" "pinentry_timeout = 60"
check "agent with a long dialog timeout starts" ag_start "$T/long.conf"
mode hang
curl -s -o /dev/null -H "Origin: $AG_ORIGIN" -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$(ag_nonce)\",\"certificate\":\"$C\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" &
BG_PID=$!
sleep 0.7
start=$(date +%s)
ag_stop
end=$(date +%s)
check "stopped within 3 s while a dialog was open" test $((end - start)) -le 3
wait "$BG_PID"
BG_PID=""
kill "$(cat "$T/pe/pid")" 2>/dev/null
check_eq "... no attempt counted" "$before" "$(counts)"

# The command line asks the same dialog when no --pin-fd is given.
mode pin
N=$(ag_nonce)
"$AG_BIN" -c "$T/agent.conf" authenticate --origin "$AG_ORIGIN" --nonce "$N" \
    --cert "$C" >"$T/cli.json" 2>/dev/null
check_eq "command line with pinentry" 0 "$?"
check "... verifies" ag_verify "$T/cli.json" "$AG_ORIGIN" "$N"
mode cancel
out=$("$AG_BIN" -c "$T/agent.conf" authenticate --origin "$AG_ORIGIN" \
    --nonce "$N" --cert "$C" 2>&1)
check_match "command line, cancelled: UK-1009" "UK-1009" "$out"
ag_conf "$T/nope.conf" "pin_source = pinentry" "pinentry = /nonexistent/pinentry"
out=$("$AG_BIN" -c "$T/nope.conf" authenticate --origin "$AG_ORIGIN" \
    --nonce "$N" --cert "$C" 2>&1)
check_match "no pinentry program: UK-2012" "UK-2012" "$out"
check_eq "... no attempt counted" "$before" "$(counts)"
t_done
