#!/bin/sh
# tests/integration/test_agent_events.sh: card events on GET /v1/events of a
# real ukey-agent serve: a virtual card in and out of a private pcscd's vpcd
# reader shows inserted / removed within 2 s; ukey-sim's removal file shows
# them for a key pcscd never sees; an authenticate in flight when the key is
# pulled fails with TOKEN_REMOVED (UK-2005) and the next one after
# reinsertion succeeds, without restarting the agent.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

PCSC="$ROOT/tests/lib/pcsc.sh"
PCSC_DIR=""
SSE_PID=""
AUTH_PID=""
cleanup() {
	for p in $SSE_PID $AUTH_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$PCSC_DIR" ] && sh "$PCSC" stop "$PCSC_DIR" >/dev/null 2>&1
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$AG_BIN" ] || [ ! -f "$AG_SIM" ] || [ ! -f "$AG_SOFTHSM" ]; then
	echo "1..0 # SKIP ukey-agent, ukey-sim or SoftHSM2 missing"
	exit 0
fi

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_sse FROM SECS STRING...: waits up to SECS for a "data:" line after
# line FROM of the event stream holding every STRING; prints the number of
# that line.
wait_sse() {
	_from=$1 _secs=$2
	shift 2
	_end=$(($(now_ms) + _secs * 1000))
	while :; do
		_hit=$(awk -v from="$_from" 'NR > from && /^data: / { print NR ": " $0 }' \
		    "$T/sse" | while IFS= read -r _l; do
			_all=1
			for _s in "$@"; do
				case $_l in
				*"$_s"*) ;;
				*) _all=0 ;;
				esac
			done
			if [ $_all = 1 ]; then
				echo "${_l%%:*}"
				break
			fi
		done)
		if [ -n "$_hit" ]; then
			echo "$_hit"
			return 0
		fi
		[ "$(now_ms)" -lt "$_end" ] || return 1
		sleep 0.05
	done
}

events_running() {
	pgrep -P "$AG_PID" -f __events >/dev/null
}

lines() {
	wc -l <"$T/sse" | tr -d ' '
}

ag_init
SERIAL=$(ag_token ev1)
check "token with an EC key and certificate" ag_keycert ev1 01 ec \
    "/CN=Li Si/O=Unit 100235"

# The private pcscd with the vpcd reader (no card yet).
PCSC_DIR="$T/pcsc"
HAVE_PCSC=1
if SOCK=$(sh "$PCSC" start "$PCSC_DIR" 2>"$T/pcsc.err"); then
	export PCSCLITE_CSOCK_NAME="$SOCK"
else
	rc=$?
	HAVE_PCSC=0
	[ $rc = 77 ] || not_ok "private pcscd starts: $(cat "$T/pcsc.err")"
	# No pcscd for the agent either: a path where none listens.
	export PCSCLITE_CSOCK_NAME="$T/no-pcscd.comm"
fi

ag_conf "$T/agent.conf"
check "agent starts" ag_start "$T/agent.conf"
check "a card events process runs" events_running
curl -s -N -H "Origin: $AG_ORIGIN" "http://127.0.0.1:$AG_PORT/v1/events" \
    >"$T/sse" 2>/dev/null &
SSE_PID=$!
sleep 1.5 # the event threads take their baseline
check_match "event stream opened" "retry: 3000" "$(cat "$T/sse")"
check_fail "what was there at start is not reported" \
    grep -q '^event: \(inserted\|removed\)' "$T/sse"

# --- PC/SC: the virtual card in and out
if [ $HAVE_PCSC = 1 ]; then
	from=$(lines)
	t0=$(now_ms)
	sh "$PCSC" card-in "$PCSC_DIR"
	n=$(wait_sse "$from" 2 '"type":"inserted"' '"source":"pcsc"' \
	    '"reader":"Virtual PCD 00 00"' '"atr":"3b951381018073ff01000b"')
	check "vicc started: inserted on /v1/events" test -n "$n"
	check "... within 2 s" test $(($(now_ms) - t0)) -lt 2000
	check_match "... under its own event name" "^event: inserted" \
	    "$(sed -n "$((${n:-1} - 1))p" "$T/sse")"
	from=$(lines)
	t0=$(now_ms)
	sh "$PCSC" card-out "$PCSC_DIR"
	n=$(wait_sse "$from" 2 '"type":"removed"' '"source":"pcsc"' \
	    '"reader":"Virtual PCD 00 00"')
	check "vicc stopped: removed on /v1/events" test -n "$n"
	check "... within 2 s" test $(($(now_ms) - t0)) -lt 2000
else
	for d in "vicc started: inserted" "... within 2 s" "... event name" \
	    "vicc stopped: removed" "... within 2 s"; do
		ok "$d # SKIP no private pcscd here"
	done
fi

# --- an authenticate in flight when the key is pulled out
N=$(ag_nonce)
printf '3000\n' >"$T/sim/delay_sign_ms"
curl -s -o "$T/auth1" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$N\",\"pin\":\"$PIN\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" >"$T/auth1.st" &
AUTH_PID=$!
sleep 1.2 # logged in, held in C_Sign
from=$(lines)
touch "$T/sim/removed"
wait "$AUTH_PID"
AUTH_PID=""
check_eq "authenticate in flight: 409" 409 "$(cat "$T/auth1.st")"
check_match "... TOKEN_REMOVED (UK-2005)" '"UK-2005"' "$(cat "$T/auth1")"
n=$(wait_sse "$from" 2 '"type":"removed"' '"source":"pkcs11"')
check "... and removed on /v1/events" test -n "$n"
rm -f "$T/sim/delay_sign_ms"
from=$(lines)
rm -f "$T/sim/removed"
n=$(wait_sse "$from" 3 '"type":"inserted"' '"source":"pkcs11"')
check "key back: inserted on /v1/events" test -n "$n"
N=$(ag_nonce)
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"pin\":\"$PIN\"}")
check_eq "the next authenticate succeeds without a restart" 200 "$st"
check "... with a signature that verifies" ag_verify "$T/body" "$AG_ORIGIN" "$N"

# --- PKCS#11 polling: a key pcscd never sees, out and back while idle
from=$(lines)
t0=$(now_ms)
touch "$T/sim/removed"
n=$(wait_sse "$from" 2 '"type":"removed"' '"source":"pkcs11"' \
    "\"serial\":\"$SERIAL\"" '"label":"ev1"')
check "ukey-sim pulled out: removed on /v1/events" test -n "$n"
check "... within 2 s" test $(($(now_ms) - t0)) -lt 2000
from=$(lines)
t0=$(now_ms)
rm -f "$T/sim/removed"
n=$(wait_sse "$from" 3 '"type":"inserted"' '"source":"pkcs11"' \
    "\"serial\":\"$SERIAL\"")
check "ukey-sim put back: inserted on /v1/events" test -n "$n"
check "... within 2.5 s" test $(($(now_ms) - t0)) -lt 2500
# The worker made no call while the key was out: its sessions died
# unseen, and it must find the key again all the same.
N=$(ag_nonce)
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"pin\":\"$PIN\"}")
check_eq "authenticate after the key was out and back while idle" 200 "$st"
check "... with a signature that verifies" ag_verify "$T/body" "$AG_ORIGIN" "$N"

check "the agent kept running" kill -0 "$AG_PID"

# --- a fresh agent whose worker has only answered /v1/status: the key
# out and back before the first login
kill "$SSE_PID" 2>/dev/null
wait "$SSE_PID" 2>/dev/null
SSE_PID=""
ag_stop
check "agent starts again" ag_start "$T/agent.conf"
sleep 1.5
touch "$T/sim/removed"
sleep 1.5
rm -f "$T/sim/removed"
sleep 1.5
N=$(ag_nonce)
st=$(ag_post /v1/authenticate "{\"nonce\":\"$N\",\"pin\":\"$PIN\"}")
check_eq "first authenticate after the key was out and back: 200" 200 "$st"

if [ "$T_FAILED" != 0 ]; then
	echo "# the agent's log:"
	tail -n 40 "$T/agent.log" | sed 's/^/#   /'
fi
t_done
