#!/bin/sh
# tests/integration/test_ukey_sim.sh: ukey-sim (build/lib/ukey-sim.so) over a
# throwaway SoftHSM2 token, driven by pkcs11-tool and by a small PKCS#11
# client built here: PIN counters and flags, SO unblock, state across
# processes, removal and insertion, delays, module load failures.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

SIM="${UKEY_BUILD:-$ROOT/build}/lib/ukey-sim.so"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ukey-sim.XXXXXX") || exit 1
CLIENT_PID=""

cleanup() {
	exec 3>&- 2>/dev/null
	if [ -n "$CLIENT_PID" ]; then
		kill "$CLIENT_PID" 2>/dev/null
		wait "$CLIENT_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
trap '' PIPE

PIN=123456
SOPIN=12345678
NEWPIN=654321
S="$T/sim"

mkdir "$T/tokens" "$S"
cat >"$T/softhsm2.conf" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF="$T/softhsm2.conf"
export UKEY_SIM_DIR="$S"
unset UKEY_SIM_MODULE UKEY_SIM_DEBUG

# p11 args...: pkcs11-tool on the ukey1 token through ukey-sim, output merged
p11() {
	pkcs11-tool --module "$SIM" --token-label ukey1 "$@" 2>&1
}
# flags: the token flags line(s) of pkcs11-tool -L
flags() {
	pkcs11-tool --module "$SIM" -L 2>&1 | grep "token flags"
}
# state: the counters file of the token, on one line
state() {
	tr '\n' ' ' 2>/dev/null <"$S/$SERIAL.state"
}
now_ms() {
	date +%s%3N
}
# check_nomatch "text" regex actual: ok when actual does not match
check_nomatch() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		not_ok "$1"
		echo "#   expected not to match: $2"
		echo "#   actual: $(printf '%s' "$3" | head -c 400)"
	else
		ok "$1"
	fi
}

if [ ! -f "$SIM" ]; then
	not_ok "ukey-sim.so is built ($SIM)"
	exit 1
fi
ok "ukey-sim.so is built"

check_eq "C_GetFunctionList is the only exported symbol" "C_GetFunctionList" \
    "$(nm -D --defined-only "$SIM" | awk '{ print $3 }')"

check "SoftHSM2 token ukey1 initialised" sh -c "softhsm2-util --init-token \
    --free --label ukey1 --pin $PIN --so-pin $SOPIN >/dev/null"

# --- listing, key generation, signing
out=$(pkcs11-tool --module "$SIM" -L 2>&1)
check_match "pkcs11-tool -L lists the token" "token label +: ukey1" "$out"
check_match "fresh token: plain flags" \
    "token flags +: login required, rng, token initialized, PIN initialized" \
    "$out"
SERIAL=$(printf '%s\n' "$out" | sed -n 's/.*serial num *: *//p' | head -n 1)
check_match "token has a serial number" "^[0-9a-f]{16}$" "$SERIAL"
out=$(pkcs11-tool --module "$SIM" -I 2>&1)
check_match "C_GetInfo names ukey-sim" "Library +ukey-sim" "$out"

out=$(p11 --login --pin $PIN --keypairgen --key-type EC:prime256v1 \
    --label k1 --id 01)
check_match "key pair generated through ukey-sim" "Key pair generated" "$out"
out=$(p11 -O)
check_match "pkcs11-tool -O lists the public key" "Public Key Object; EC" \
    "$out"
check_match "pkcs11-tool -O shows label k1" "label: +k1" "$out"
check_fail "a fresh token has no state file yet" test -e "$S/$SERIAL.state"

printf 'ukey-sim test data\n' >"$T/data"
openssl dgst -sha256 -binary "$T/data" >"$T/data.sha"
out=$(p11 --login --pin $PIN --sign --mechanism ECDSA --id 01 \
    -i "$T/data.sha" -o "$T/sig" --signature-format openssl)
check "ECDSA signature made" test -s "$T/sig"
p11 --read-object --type pubkey --id 01 -o "$T/pub.der" >/dev/null
openssl pkey -pubin -inform DER -in "$T/pub.der" -out "$T/pub.pem" 2>/dev/null
out=$(openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" \
    "$T/data" 2>&1)
check_eq "signature verifies with openssl" "Verified OK" "$out"

# --- user PIN counter
for i in 1 2 3 4 5; do
	out=$(p11 --login --pin 000000 -O)
	check_match "wrong PIN $i: CKR_PIN_INCORRECT" "CKR_PIN_INCORRECT" "$out"
	f=$(flags)
	case $i in
	1 | 4)
		check_match "after $i wrong: user PIN count low" \
		    "user PIN count low" "$f"
		check_nomatch "after $i wrong: not final try" \
		    "final user PIN try" "$f"
		;;
	5)
		check_match "after 5 wrong: final user PIN try" \
		    "user PIN count low, final user PIN try" "$f"
		;;
	esac
done
check_eq "counter persisted across processes" "user_left 1 so_left 6 " \
    "$(state)"
out=$(p11 --login --pin 000000 -O)
check_match "sixth wrong PIN: CKR_PIN_INCORRECT" "CKR_PIN_INCORRECT" "$out"
f=$(flags)
check_match "after 6 wrong: user PIN locked" "user PIN locked" "$f"
check_nomatch "locked: count low and final try cleared" "count low|final" \
    "$f"
out=$(p11 --login --pin $PIN -O)
check_match "locked: the correct PIN gets CKR_PIN_LOCKED" "CKR_PIN_LOCKED" \
    "$out"
out=$(p11 --login --pin 000000 -O)
check_match "locked: a wrong PIN gets CKR_PIN_LOCKED too" "CKR_PIN_LOCKED" \
    "$out"
check_eq "locked state persisted" "user_left 0 so_left 6 " "$(state)"

# --- SO PIN counter and unblock
out=$(p11 --login --login-type so --so-pin 87654321 --init-pin \
    --new-pin $NEWPIN)
check_match "wrong SO PIN: CKR_PIN_INCORRECT" "CKR_PIN_INCORRECT" "$out"
check_match "after a wrong SO PIN: SO PIN count low" "SO PIN count low" \
    "$(flags)"
check_eq "SO counter persisted" "user_left 0 so_left 5 " "$(state)"
out=$(p11 --login --login-type so --so-pin $SOPIN --init-pin \
    --new-pin $NEWPIN)
check_match "SO login + C_InitPIN unblocks" "User PIN successfully initialized" \
    "$out"
f=$(flags)
check_nomatch "after unblock: no PIN flag left" "count low|final|locked" \
    "$f"
check_eq "after unblock: fresh counters" "user_left 6 so_left 6 " "$(state)"
out=$(p11 --login --pin $PIN -O)
check_match "the old PIN is gone" "CKR_PIN_INCORRECT" "$out"
out=$(p11 --login --pin $NEWPIN -O)
check_match "the new PIN works" "Public Key Object" "$out"
check_eq "a correct PIN resets the counter" "user_left 6 so_left 6 " \
    "$(state)"

# --- counting is atomic across processes. SoftHSM2 itself sometimes fails
# to show the token to a process starting next to others ("No slot with
# token"); only the attempts that reached the token count.
pids=""
for i in 1 2 3 4; do
	pkcs11-tool --module "$SIM" --token-label ukey1 --login --pin 000000 \
	    -O >"$T/conc.$i" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
n=$(cat "$T"/conc.* | grep -c CKR_PIN_INCORRECT)
check_eq "$n concurrent wrong PINs count $n" "user_left $((6 - n)) so_left 6 " \
    "$(state)"
[ "$n" -ge 2 ] || echo "# only $n of 4 concurrent attempts reached the token"
p11 --login --pin $NEWPIN -O >/dev/null

# --- the state file is read fresh and can be set by hand
printf 'user_left 1\nso_left 6\n' >"$S/$SERIAL.state"
check_match "a hand-written counter shows in the flags" "final user PIN try" \
    "$(flags)"
printf 'user_left lots\n' >"$S/$SERIAL.state"
out=$(pkcs11-tool --module "$SIM" -L 2>&1)
check_match "a malformed state file is reported" "is malformed" "$out"
rm -f "$S/$SERIAL.state"
check_match "no state file means a fresh token" \
    "token flags +: login required, rng, token initialized, PIN initialized" \
    "$(flags)"

# --- removal and insertion
touch "$S/removed"
out=$(pkcs11-tool --module "$SIM" -L 2>&1)
check_nomatch "removed: -L shows no token" "token label" "$out"
check_match "removed: slots are empty" "\(empty\)" "$out"
out=$(p11 --login --pin $NEWPIN --sign --mechanism ECDSA --id 01 \
    -i "$T/data.sha" -o "$T/sig2")
check_match "removed: signing finds no token" "No slot with token" "$out"
rm -f "$S/removed"
out=$(p11 --login --pin $NEWPIN --sign --mechanism ECDSA --id 01 \
    -i "$T/data.sha" -o "$T/sig2")
check "reinserted: signing works again" test -s "$T/sig2"

echo 3000 >"$S/delay_sign_ms"
t0=$(now_ms)
p11 --login --pin $NEWPIN --sign --mechanism ECDSA --id 01 \
    -i "$T/data.sha" -o "$T/sig3" >"$T/inflight.out" &
p=$!
sleep 0.5
touch "$S/removed"
wait "$p"
rc=$?
t1=$(now_ms)
check_match "pulled out during C_Sign: CKR_DEVICE_REMOVED" \
    "CKR_DEVICE_REMOVED" "$(cat "$T/inflight.out")"
check "pulled out during C_Sign: the command fails" test "$rc" != 0
check "pulled out during C_Sign: no wait for the whole delay" \
    test $((t1 - t0)) -lt 2500
rm -f "$S/removed" "$S/delay_sign_ms"

# --- delays
echo 700 >"$S/delay_login_ms"
t0=$(now_ms)
out=$(p11 --login --pin $NEWPIN -O)
t1=$(now_ms)
check "delay_login_ms holds C_Login ($((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 700
check_match "a delayed login still succeeds" "Public Key Object" "$out"
rm -f "$S/delay_login_ms"
echo 500 >"$S/delay_ms"
t0=$(now_ms)
p11 --login --pin $NEWPIN --sign --mechanism ECDSA --id 01 \
    -i "$T/data.sha" -o "$T/sig4" >/dev/null
t1=$(now_ms)
check "delay_ms holds C_Login and C_Sign ($((t1 - t0)) ms)" \
    test $((t1 - t0)) -ge 1000
echo soon >"$S/delay_ms"
out=$(p11 --login --pin $NEWPIN -O)
check_match "a malformed delay file is reported" \
    "delay_ms should hold a decimal number" "$out"
check_match "a malformed delay file is ignored" "Public Key Object" "$out"
rm -f "$S/delay_ms"

# --- sessions across removal, C_SetPIN, C_WaitForSlotEvent: a small client
# reading one command a line and answering one line each.
cat >"$T/client.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <p11-kit/pkcs11.h>

int
main(int argc, char **argv)
{
	CK_FUNCTION_LIST_PTR f;
	CK_C_GetFunctionList get;
	CK_C_INITIALIZE_ARGS ia;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slots[16], slot = 0, ev;
	CK_ULONG n, i;
	CK_RV rv;
	char line[256], *sp;
	size_t ll;
	void *dl;

	if (argc != 3 || (dl = dlopen(argv[1], RTLD_NOW)) == NULL)
		return 2;
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK)
		return 2;
	ll = strlen(argv[2]);
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	printf("init rv=0x%lx\n", f->C_Initialize(&ia));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "open") == 0) {
			n = 16;
			rv = f->C_GetSlotList(CK_TRUE, slots, &n);
			for (i = 0; rv == CKR_OK && i < n; i++) {
				if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
				    ll < 32 && memcmp(ti.label, argv[2], ll) == 0 &&
				    ti.label[ll] == ' ')
					slot = slots[i];
			}
			rv = f->C_OpenSession(slot,
			    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
			printf("open rv=0x%lx\n", rv);
		} else if (strncmp(line, "login ", 6) == 0) {
			rv = f->C_Login(h, CKU_USER,
			    (CK_UTF8CHAR_PTR)line + 6, strlen(line + 6));
			printf("login rv=0x%lx\n", rv);
		} else if (strncmp(line, "setpin ", 7) == 0 &&
		    (sp = strchr(line + 7, ' ')) != NULL) {
			*sp++ = '\0';
			rv = f->C_SetPIN(h, (CK_UTF8CHAR_PTR)line + 7,
			    strlen(line + 7), (CK_UTF8CHAR_PTR)sp, strlen(sp));
			printf("setpin rv=0x%lx\n", rv);
		} else if (strcmp(line, "info") == 0) {
			rv = f->C_GetSessionInfo(h, &si);
			if (rv == CKR_OK)
				printf("info rv=0x0 state=%lu\n", si.state);
			else
				printf("info rv=0x%lx\n", rv);
		} else if (strcmp(line, "logout") == 0) {
			printf("logout rv=0x%lx\n", f->C_Logout(h));
		} else if (strcmp(line, "event") == 0) {
			rv = f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL);
			printf("event rv=0x%lx\n", rv);
		} else if (strcmp(line, "waitev") == 0) {
			rv = f->C_WaitForSlotEvent(0, &ev, NULL);
			printf("waitev rv=0x%lx slot=%s\n", rv,
			    ev == slot ? "same" : "other");
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
	printf("fini rv=0x%lx\n", f->C_Finalize(NULL));
	return 0;
}
EOF
if cc -std=c11 -D_GNU_SOURCE -I/usr/include/p11-kit-1 -o "$T/client" \
    "$T/client.c" -ldl 2>"$T/cc.err"; then
	ok "test client built"
else
	not_ok "test client built"
	sed 's/^/#   /' "$T/cc.err"
fi

CLIENT_LINES=0
ANSWER=""
# send "command": hands a command to the client without waiting
send() {
	echo "$1" >&3
}
# answer: waits (at most 10 s) for the client's next line, into ANSWER
answer() {
	CLIENT_LINES=$((CLIENT_LINES + 1))
	_n=0
	while [ "$(wc -l <"$T/client.out")" -lt "$CLIENT_LINES" ]; do
		_n=$((_n + 1))
		if [ "$_n" -gt 200 ]; then
			ANSWER="(no answer)"
			return 1
		fi
		sleep 0.05
	done
	ANSWER=$(sed -n "${CLIENT_LINES}p" "$T/client.out")
}
# ask "command": send and answer
ask() {
	send "$1"
	answer
}

mkfifo "$T/in"
: >"$T/client.out"
"$T/client" "$SIM" ukey1 >>"$T/client.out" 2>"$T/client.err" <"$T/in" &
CLIENT_PID=$!
exec 3>"$T/in"
answer
check_eq "client: C_Initialize" "init rv=0x0" "$ANSWER"
ask open
check_eq "client: C_OpenSession" "open rv=0x0" "$ANSWER"
ask "setpin 000000 111111"
check_eq "C_SetPIN with a wrong old PIN: CKR_PIN_INCORRECT" \
    "setpin rv=0xa0" "$ANSWER"
check_eq "C_SetPIN's wrong old PIN counts" "user_left 5 so_left 6 " \
    "$(state)"
# pin_min: a key with a PIN policy of its own
echo 8 >"$S/pin_min"
check_match "pin_min: C_GetTokenInfo reports it" "pin min/max *: 8/" \
    "$(pkcs11-tool --module "$SIM" -L 2>&1)"
ask "setpin 000000 1234567"
check_eq "pin_min: a wrong old PIN is still CKR_PIN_INCORRECT" \
    "setpin rv=0xa0" "$ANSWER"
check_eq "... and counts" "user_left 4 so_left 6 " "$(state)"
ask "setpin $NEWPIN 1234567"
check_eq "pin_min: the right old PIN, a short new one: CKR_PIN_LEN_RANGE" \
    "setpin rv=0xa2" "$ANSWER"
check_eq "... the right old PIN gives the tries back" "user_left 6 so_left 6 " \
    "$(state)"
rm -f "$S/pin_min"
ask "login $NEWPIN"
check_eq "client: C_Login" "login rv=0x0" "$ANSWER"
ask info
check_eq "client: logged in (CKS_RW_USER_FUNCTIONS)" "info rv=0x0 state=3" \
    "$ANSWER"
ask event
check_eq "no slot event yet: CKR_NO_EVENT" "event rv=0x8" "$ANSWER"

touch "$S/removed"
ask info
check_eq "removed: session calls get CKR_DEVICE_REMOVED" "info rv=0x32" \
    "$ANSWER"
ask event
check_eq "removed: C_WaitForSlotEvent reports it" "event rv=0x0" "$ANSWER"
ask event
check_eq "the event is reported once" "event rv=0x8" "$ANSWER"
ask open
check_eq "removed: C_OpenSession gets CKR_TOKEN_NOT_PRESENT" "open rv=0xe0" \
    "$ANSWER"
rm -f "$S/removed"
ask info
check_eq "reinserted: the old session is invalid" "info rv=0xb3" "$ANSWER"
ask open
check_eq "reinserted: a new session opens" "open rv=0x0" "$ANSWER"
ask info
check_eq "reinserted: the token was logged out (CKS_RW_PUBLIC_SESSION)" \
    "info rv=0x0 state=2" "$ANSWER"
ask "login $NEWPIN"
check_eq "reinserted: login again" "login rv=0x0" "$ANSWER"

# a removal seen only by another process still ends this one's sessions
touch "$S/removed"
pkcs11-tool --module "$SIM" -L >/dev/null 2>&1
rm -f "$S/removed"
ask info
check_eq "removal seen by another process invalidates sessions" \
    "info rv=0xb3" "$ANSWER"
ask open
check_eq "and a new session opens" "open rv=0x0" "$ANSWER"
ask event
check_eq "a removal and insertion not watched still make an event" \
    "event rv=0x0" "$ANSWER"
ask event
check_eq "no further event" "event rv=0x8" "$ANSWER"

send waitev
sleep 0.3
touch "$S/removed"
answer
check_eq "a blocking C_WaitForSlotEvent wakes on removal" \
    "waitev rv=0x0 slot=same" "$ANSWER"
rm -f "$S/removed"
ask waitev
check_eq "and on insertion" "waitev rv=0x0 slot=same" "$ANSWER"
ask quit
check_eq "client: C_Finalize" "fini rv=0x0" "$ANSWER"
exec 3>&-
[ "$ANSWER" = "fini rv=0x0" ] || kill "$CLIENT_PID" 2>/dev/null
wait "$CLIENT_PID"
check_eq "client exited cleanly" 0 "$?"
CLIENT_PID=""

# --- C_InitToken through ukey-sim, and a locked SO PIN
out=$(pkcs11-tool --module "$SIM" --init-token --slot-index 1 --label ukey2 \
    --so-pin $SOPIN 2>&1)
check_match "C_InitToken through ukey-sim" "Token successfully initialized" \
    "$out"
# t2 args...: pkcs11-tool on the ukey2 token
t2() {
	pkcs11-tool --module "$SIM" --token-label ukey2 "$@" 2>&1
}
for i in 1 2 3 4 5 6; do
	out=$(t2 --init-token --label ukey2 --so-pin 00000000)
done
check_match "C_InitToken with a wrong SO PIN counts" "CKR_PIN_INCORRECT" "$out"
out=$(pkcs11-tool --module "$SIM" -L 2>&1 | grep -A3 "token label *: ukey2")
check_match "after 6 wrong SO PINs: SO PIN locked" "SO PIN locked" "$out"
out=$(t2 --init-token --label ukey2 --so-pin $SOPIN)
check_match "SO PIN locked: C_InitToken gets CKR_PIN_LOCKED" "CKR_PIN_LOCKED" \
    "$out"
out=$(t2 --login --login-type so --so-pin $SOPIN --init-pin --new-pin $PIN)
check_match "SO PIN locked: SO login gets CKR_PIN_LOCKED" "CKR_PIN_LOCKED" \
    "$out"
out=$(p11 --login --pin $NEWPIN -O)
check_match "the other token is not affected" "Public Key Object" "$out"

# --- load failures are clean: a message, a non-zero exit, no crash
# fails "text" pattern: runs pkcs11-tool -L with the environment already set
fails() {
	_out=$(pkcs11-tool --module "$SIM" -L 2>&1)
	_rc=$?
	check "$1: pkcs11-tool fails" test "$_rc" -ne 0
	check "$1: no crash (exit $_rc)" test "$_rc" -lt 128
	check_match "$1: message" "$2" "$_out"
}
UKEY_SIM_MODULE="$T/missing.so"
export UKEY_SIM_MODULE
fails "missing UKEY_SIM_MODULE" "ukey-sim: cannot load PKCS#11 module .*missing.so"
UKEY_SIM_MODULE="$T/data"
fails "UKEY_SIM_MODULE not a library" "ukey-sim: cannot load PKCS#11 module"
UKEY_SIM_MODULE="$SIM"
fails "UKEY_SIM_MODULE is ukey-sim" "ukey-sim itself"
unset UKEY_SIM_MODULE
SOFTHSM2_CONF="$T/missing.conf"
fails "target C_Initialize fails" "C_Initialize of .* failed: CKR_"
SOFTHSM2_CONF="$T/softhsm2.conf"

mkdir "$T/home"
out=$(env -u UKEY_SIM_DIR HOME="$T/home" pkcs11-tool --module "$SIM" -L 2>&1)
check_match "without UKEY_SIM_DIR: works" "token label +: ukey1" "$out"
check_eq "without UKEY_SIM_DIR: state in \$HOME/.ukey-sim, mode 0700" \
    "drwx------" "$(ls -ld "$T/home/.ukey-sim" 2>&1 | cut -c1-10)"

t_done
