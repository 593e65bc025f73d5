#!/bin/sh
# tests/integration/test_agent_lockout.sh: the lockout guard: six wrong PINs
# lock a plain SoftHSM2 token (which never locks) for the agent, FINAL_TRY
# before the last try, a correct PIN resets; with ukey-sim the token's own
# counter agrees, a token locked elsewhere is refused without a try; SO
# unblock (command line and counter mode); a worker killed during C_Login
# counts the attempt once; a full disk refuses the attempt untried.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

BG_PID=""
MNT=""
cleanup() {
	if [ -n "$BG_PID" ]; then
		kill "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
	fi
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$AG_BIN" ] || [ ! -f "$AG_SIM" ] || [ ! -f "$AG_SOFTHSM" ]; then
	echo "1..0 # SKIP ukey-agent, ukey-sim or SoftHSM2 missing"
	exit 0
fi

ag_init
PLAIN=$(ag_token plain)
ag_keycert plain 01 ec "/CN=Li Si/O=Unit 100234" || not_ok "plain token key"
SIMT=$(ag_token sim)
ag_keycert sim 02 ec "/CN=Wang Wu/O=Unit 100235" || not_ok "sim token key"

# auth PIN [CERT]: POST /v1/authenticate, status on stdout
auth() {
	ag_post /v1/authenticate \
	    "{\"nonce\":\"$(ag_nonce)\",\"certificate\":\"$2\",\"pin\":\"$1\"}"
}
pinf() { # the PIN object's field of the last answer
	ag_json "$T/body" "j[\"pin\"][\"$1\"]"
}
guard() {
	ag_settle
	ag_guard_file "$T/state/$1.user"
}
sim_left() {
	ag_settle
	sed -n 's/^user_left //p' "$T/sim/$SIMT.state" 2>/dev/null
}
status_pin() { # status_pin SERIAL FIELD
	ag_get /v1/status >/dev/null
	ag_json "$T/body" "[t for t in j[\"tokens\"] if t[\"serial\"] == \"$1\"][0][\"pin\"][\"$2\"]"
}

# ---------------------------------------------------------------------------
# Plain SoftHSM2: the agent alone counts.
ag_conf "$T/plain.conf" "module = $AG_SOFTHSM" "counter_mode = true"
check "agent on plain SoftHSM2 starts" ag_start "$T/plain.conf"
C="$PLAIN:01"
for i in 1 2; do
	st=$(auth 000000 "$C")
	check_eq "plain: wrong PIN $i: 401" 401 "$st"
	check_eq "plain: ... $((6 - i)) left" $((6 - i)) "$(pinf retriesLeft)"
	check_eq "plain: ... counted by the agent" agent "$(pinf source)"
done
check_match "plain: message with tries left" '"message":"PIN码错误，还可尝试4次"' \
    "$(cat "$T/body")"
st=$(auth "$PIN" "$C")
check_eq "plain: correct PIN before the sixth: 200" 200 "$st"
check_eq "plain: ... resets the count" "failures 0 pending 0 " "$(guard "$PLAIN")"
check_eq "plain: status says OK" OK "$(status_pin "$PLAIN" state)"
for i in 1 2 3 4; do
	auth 000000 "$C" >/dev/null
done
check_eq "plain: after 4 wrong: COUNT_LOW" COUNT_LOW "$(pinf state)"
st=$(auth 000000 "$C")
check_eq "plain: fifth wrong PIN: still 401" 401 "$st"
check_eq "plain: ... FINAL_TRY" FINAL_TRY "$(pinf state)"
check_eq "plain: ... 1 left" 1 "$(pinf retriesLeft)"
check_match "plain: ... 「PIN码错误，还可尝试1次」" '还可尝试1次' "$(cat "$T/body")"
check_eq "plain: status before the last try: FINAL_TRY" FINAL_TRY \
    "$(status_pin "$PLAIN" state)"
st=$(auth 000000 "$C")
check_eq "plain: sixth wrong PIN: 423" 423 "$st"
check_match "plain: ... UK-2004" '"UK-2004"' "$(cat "$T/body")"
check_eq "plain: ... LOCKED" LOCKED "$(pinf state)"
check_eq "plain: ... 0 left" 0 "$(pinf retriesLeft)"
check_match "plain: ... the remedy: the bank counter" '柜面' "$(cat "$T/body")"
check_eq "plain: guard file: six" "failures 6 pending 0 " "$(guard "$PLAIN")"
logins=$(grep -c "token $PLAIN: user login" "$T/agent.log")
st=$(auth "$PIN" "$C")
check_eq "plain: even the correct PIN: 423 (SoftHSM2 itself would accept it)" \
    423 "$st"
check_eq "plain: ... and the token is not tried" "$logins" \
    "$(grep -c "token $PLAIN: user login" "$T/agent.log")"
check_match "plain: ... not even asked" "token $PLAIN: user PIN locked" \
    "$(cat "$T/agent.log")"
check_eq "plain: status: LOCKED by the agent" "LOCKED agent" \
    "$(status_pin "$PLAIN" state) $(status_pin "$PLAIN" source)"
# The bank counter unblocks: SO PIN and a new PIN (counter mode).
printf '%s\n' "$SOPIN" >"$T/sopin"
st=$(ag_post /v1/unlock "{\"token\":\"$PLAIN\",\"soPin\":\"$SOPIN\",\"newPin\":\"654321\"}")
check_eq "plain: SO unblock (counter mode): 200" 200 "$st"
check_eq "plain: ... resets the guard" "failures 0 pending 0 " "$(guard "$PLAIN")"
check_eq "plain: ... status OK again" "OK 6" \
    "$(status_pin "$PLAIN" state) $(status_pin "$PLAIN" retriesLeft)"
st=$(auth 654321 "$C")
check_eq "plain: the new PIN works" 200 "$st"
st=$(auth "$PIN" "$C")
check_eq "plain: the old one does not" 401 "$st"
ag_stop

# ---------------------------------------------------------------------------
# ukey-sim: the token counts too, and both must agree.
ag_conf "$T/sim.conf" "counter_mode = true"
check "agent on ukey-sim starts" ag_start "$T/sim.conf"
C="$SIMT:02"
st=$(auth 000000 "$C")
check_eq "sim: wrong PIN: 401" 401 "$st"
check_eq "sim: agent 5 left, token 5 left" "5 5" "$(pinf retriesLeft) $(sim_left)"
check_eq "sim: token flags agree: COUNT_LOW" COUNT_LOW "$(pinf state)"
for i in 2 3 4 5; do
	auth 000000 "$C" >/dev/null
	check_eq "sim: wrong PIN $i: agent and token agree" \
	    "$((6 - i)) $((6 - i))" "$(pinf retriesLeft) $(sim_left)"
done
check_eq "sim: FINAL_TRY before the last" FINAL_TRY "$(pinf state)"
st=$(auth 000000 "$C")
check_eq "sim: sixth: 423" 423 "$st"
check_eq "sim: ... LOCKED, token at 0" "LOCKED 0" "$(pinf state) $(sim_left)"
st=$(auth "$PIN" "$C")
check_eq "sim: correct PIN on a locked token: 423" 423 "$st"
check_eq "sim: ... no try taken (still 0, guard 6)" "0 failures 6 pending 0 " \
    "$(sim_left) $(guard "$SIMT")"
# Counter mode: SO unblock over HTTP.
st=$(ag_post /v1/unlock "{\"token\":\"$SIMT\",\"soPin\":\"000000\",\"newPin\":\"222222\"}")
check_eq "sim: unblock with a wrong SO PIN: 401" 401 "$st"
st=$(ag_post /v1/unlock "{\"token\":\"$SIMT\",\"soPin\":\"$SOPIN\",\"newPin\":\"222222\"}")
check_eq "sim: unblock over HTTP (counter mode): 200" 200 "$st"
check_eq "sim: ... token and agent back at 6" "6 failures 0 pending 0 " \
    "$(sim_left) $(guard "$SIMT")"
st=$(auth 222222 "$C")
check_eq "sim: the new PIN works" 200 "$st"
st=$(ag_post /v1/change-pin "{\"token\":\"$SIMT\",\"pin\":\"222222\",\"newPin\":\"$PIN\"}")
check_eq "sim: change PIN over HTTP: 200" 200 "$st"
st=$(auth "$PIN" "$C")
check_eq "sim: ... and the changed PIN works" 200 "$st"

# A token locked by another program: the token's flags win.
printf 'user_left 1\nso_left 6\n' >"$T/sim/$SIMT.state"
check_eq "sim: locked down to one try elsewhere: FINAL_TRY from the token" \
    "FINAL_TRY 1 token" \
    "$(status_pin "$SIMT" state) $(status_pin "$SIMT" retriesLeft) $(status_pin "$SIMT" source)"
st=$(auth 000000 "$C")
check_eq "sim: ... the last try wrong: 423" 423 "$st"
check_eq "sim: ... LOCKED by the token" "LOCKED token" "$(pinf state) $(pinf source)"
logins=$(grep -c "token $SIMT: user login" "$T/agent.log")
st=$(auth "$PIN" "$C")
check_eq "sim: then the correct PIN: 423 without a try" "423 0 $logins" \
    "$st $(sim_left) $(grep -c "token $SIMT: user login" "$T/agent.log")"
out=$("$AG_BIN" -c "$T/sim.conf" unlock --token "$SIMT" --so-pin-fd 3 \
    --new-pin-fd 4 3<"$T/sopin" 4<"$T/pin" 2>&1)
check_eq "sim: unlock on the command line" 0 "$?"

# A worker killed while C_Login is under way: the attempt counts once.
echo 6000 >"$T/sim/delay_login_ms"
W=$(ag_worker_pid)
curl -s -o "$T/killed" -w '%{http_code}' -H "Origin: $AG_ORIGIN" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$(ag_nonce)\",\"certificate\":\"$C\",\"pin\":\"$PIN\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" >"$T/killed.status" &
BG_PID=$!
# The pending record is on disk (fsync'd) before C_Login starts waiting.
# (The file is read directly: a status request now would race the
# authenticate for the worker.)
raw() {
	ag_guard_file "$T/state/$SIMT.user"
}
i=0
while [ $i -lt 40 ] && ! raw | grep -q "pending 1"; do
	sleep 0.1
	i=$((i + 1))
done
check_match "sim: attempt pending while C_Login waits" "pending 1" "$(raw)"
kill -9 "$W"
wait "$BG_PID"
BG_PID=""
rm -f "$T/sim/delay_login_ms"
check_eq "sim: killed worker: 503" 503 "$(cat "$T/killed.status")"
check_match "sim: ... UK-2001" '"UK-2001"' "$(cat "$T/killed")"
W2=$(ag_worker_pid)
check "sim: a new worker runs" test -n "$W2" -a "$W2" != "$W"
check_eq "sim: the lost attempt counts as one failure (token untouched)" \
    "5 agent 6" \
    "$(status_pin "$SIMT" retriesLeft) $(status_pin "$SIMT" source) $(sim_left)"
check_eq "sim: ... once: the next status says the same" 5 \
    "$(status_pin "$SIMT" retriesLeft)"
st=$(auth "$PIN" "$C")
check_eq "sim: the restarted worker signs" 200 "$st"
check_eq "sim: ... and the count is reset" "failures 0 pending 0 " "$(guard "$SIMT")"
ag_stop

# ---------------------------------------------------------------------------
# A disk on which nothing can be written: refused before the token.
N=$(ag_nonce)
before="$(sim_left) $(guard "$SIMT")"
out=$( (
	ulimit -f 0
	"$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" \
	    --nonce "$N" --cert "$C" --pin-fd 3 3<"$T/pin" 2>&1
))
check_match "no room for the guard file: UK-1003" "UK-1003" "$out"
check_eq "... the token is not tried, the count unchanged" "$before" \
    "$(sim_left) $(guard "$SIMT")"
if [ "$(id -u)" = 0 ] && mkdir "$T/full" &&
    mount -t tmpfs -o size=16k,mode=0700 tmpfs "$T/full" 2>/dev/null; then
	MNT="$T/full"
	ag_conf "$T/full.conf" "state_dir = $T/full/state"
	mkdir -m 0700 "$T/full/state"
	dd if=/dev/zero of="$T/full/fill" bs=1k count=64 2>/dev/null
	out=$("$AG_BIN" -c "$T/full.conf" authenticate --origin "$AG_ORIGIN" \
	    --nonce "$N" --cert "$C" --pin-fd 3 3<"$T/pin" 2>&1)
	check_match "full tmpfs: UK-1003" "UK-1003" "$out"
	check_eq "full tmpfs: the token is not tried" "$before" \
	    "$(sim_left) $(guard "$SIMT")"
	umount "$MNT" && MNT=""
else
	ok "full tmpfs: UK-1003 # SKIP needs root and mount"
	ok "full tmpfs: the token is not tried # SKIP needs root and mount"
fi
out=$("$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" \
    --nonce "$N" --cert "$C" --pin-fd 3 3<"$T/pin" 2>/dev/null)
check_match "with room again: the command line signs" '"format":"ukey-auth:1.0"' "$out"
# change_pin OLDFILE NEWFILE: ukey-agent change-pin, output in $out
change_pin() {
	out=$("$AG_BIN" -c "$T/sim.conf" change-pin --token "$SIMT" \
	    --pin-fd 3 --new-pin-fd 4 3<"$1" 4<"$2" 2>&1)
}
printf '654321\n' >"$T/newpin"
change_pin "$T/pin" "$T/newpin"
check_eq "ukey-agent change-pin" 0 "$?"
out=$("$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" \
    --nonce "$N" --cert "$C" --pin-fd 3 3<"$T/newpin" 2>/dev/null)
check_match "... the new PIN signs" '"format":"ukey-auth:1.0"' "$out"
change_pin "$T/badpin" "$T/pin"
check_eq "change-pin with a wrong PIN fails" 1 "$?"
check_match "... UK-2003 with tries left" "UK-2003.*|PIN COUNT_LOW, 5 tries left" "$out"
check_eq "... counted by guard and token alike" "5 failures 1 pending 0 " \
    "$(sim_left) $(guard "$SIMT")"
# The right PIN with a new PIN the key refuses (after checking the old
# one): the change fails, but the right PIN resets the count.
echo 6 >"$T/sim/pin_min"
printf '12345\n' >"$T/shortpin"
change_pin "$T/newpin" "$T/shortpin"
check_eq "change-pin to a PIN shorter than the key takes fails" 1 "$?"
check_match "... UK-2009" "UK-2009" "$out"
check_eq "... the right old PIN reset guard and token" "6 failures 0 pending 0 " \
    "$(sim_left) $(guard "$SIMT")"
rm -f "$T/sim/pin_min"
t_done
