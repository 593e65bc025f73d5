#!/bin/sh
# tests/integration/test_ca_enroll.sh: ukey-ca enroll on throwaway SoftHSM2
# tokens (and once through ukey-sim): the key pair is generated on the token,
# the CA (file keys, SQLite) certifies it and the certificate lands on the
# token with the key's CKA_ID; the unit limit, the module allowlist and a
# wrong PIN are refused without leaving certificates behind.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
SIM="${UKEY_BUILD:-$ROOT/build}/lib/ukey-sim.so"
MOD=/usr/lib/softhsm/libsofthsm2.so
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ca_enroll.XXXXXX") || exit 1

LOCK_PID=""
ENROLL_PID=""
cleanup() {
	for p in $ENROLL_PID $LOCK_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -f "$MOD" ] || ! command -v softhsm2-util >/dev/null 2>&1 ||
    ! command -v pkcs11-tool >/dev/null 2>&1; then
	echo "1..0 # SKIP SoftHSM2 or pkcs11-tool is not installed"
	exit 0
fi

mkdir "$T/tokens"
cat >"$T/softhsm2.conf" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF="$T/softhsm2.conf"
export UKEY_SIM_DIR="$T/sim"
unset UKEY_SIM_MODULE UKEY_SIM_DEBUG
PIN=123456
printf '%s\n' "$PIN" >"$T/pin"
printf '000000\n' >"$T/badpin"
printf 'correct horse battery\n' >"$T/pass"
printf 'the OCSP key passphrase\n' >"$T/opass"
for l in op1 op2 op3; do
	softhsm2-util --init-token --free --label "$l" --pin "$PIN" \
	    --so-pin 12345678 >/dev/null
done

DB="$T/ca.sqlite"
printf '[ca]\npkcs11_module = %s\n' "$MOD" >"$T/ca.conf"
ca() {
	"$CA" -c "$T/ca.conf" -d "$DB" "$@" >"$T/out" 2>"$T/err"
}
field() {
	sed -n "s/^$1: //p" "$T/out" | head -n 1
}
quiet() {
	"$@" >/dev/null 2>&1
}
# serial LABEL: the serial number of the token labelled LABEL.
serial() {
	pkcs11-tool --module "$MOD" -L 2>/dev/null | awk -v l="$1" '
	    /token label/ { sub(/^[^:]*: */, ""); cur = $0 }
	    /serial num/ && cur == l { sub(/^[^:]*: */, ""); print; exit }'
}
# objs MODULE LABEL TYPE: the token's objects of TYPE (logged in).
objs() {
	pkcs11-tool --module "$1" --token-label "$2" --login --pin "$PIN" \
	    --list-objects --type "$3" 2>/dev/null
}
# ncount MODULE LABEL TYPE: how many objects of TYPE the token holds.
ncount() {
	objs "$@" | grep -c '^[A-Za-z ]* Object'
}
# cert_of MODULE LABEL ID FILE: the token's certificate with ID as PEM.
cert_of() {
	rm -f "$4.der" "$4"
	pkcs11-tool --module "$1" --token-label "$2" --read-object --type cert \
	    --id "$3" -o "$4.der" >/dev/null 2>&1 &&
	    openssl x509 -inform DER -in "$4.der" -out "$4"
}

S1=$(serial op1)
S2=$(serial op2)
S3=$(serial op3)
check "the three tokens have serials" test -n "$S1" -a -n "$S2" -a -n "$S3"

ca init --name "Enroll Test CA" --key-file "$T/ca.key" --pass-fd 3 \
    3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "CA with file keys" 0 "$?"
ca export-ca --which root --out "$T/root.pem"
ca export-ca --which issuing --out "$T/issuing.pem"

check_match "enroll is in --help" "enroll" "$("$CA" --help)"
check_eq "enroll without --token is a usage error" 2 \
    "$(ca enroll --module "$MOD" --unit U1 --operator a; echo $?)"

# --- EC key on op1 ---
ca enroll --module "$MOD" --token "$S1" --unit U1 --operator alice \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_eq "enroll (EC) succeeds" 0 "$?"
C1=$(field serial)
K1=$(field key_id)
check_eq "... reports the token" "$S1" "$(field token)"
check_match "... and a key id" '^[0-9a-f]{32}$' "$K1"
pkcs11-tool --module "$MOD" --token-label op1 -O >"$T/objs" 2>/dev/null
check_match "pkcs11-tool -O lists the certificate" \
    "Certificate Object" "$(cat "$T/objs")"
check_match "... with subject CN=alice, OU=U1" "CN=alice, OU=U1" \
    "$(cat "$T/objs")"
check_eq "... and the private key's ID" "$K1" \
    "$(objs "$MOD" op1 cert | sed -n 's/^ *ID: *//p' | head -n 1)"
check_match "the private key has that ID" "ID: *$K1" \
    "$(objs "$MOD" op1 privkey)"
check_match "... is sensitive and never extractable" \
    "sensitive.*never extractable" "$(objs "$MOD" op1 privkey)"
ca list --unit U1
check_match "ukey-ca list --unit shows it" "^$C1 +active +operator .* U1 +alice" \
    "$(cat "$T/out")"
cert_of "$MOD" op1 "$K1" "$T/c1.pem"
check "openssl verify accepts the certificate on the token" quiet \
    openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" \
    "$T/c1.pem"
check_match "... whose serial is the one reported" "$C1" \
    "$(openssl x509 -in "$T/c1.pem" -noout -serial 2>/dev/null)"

# --- RSA key on op1, same unit, with --label and --out ---
ca enroll --module "$MOD" --token "$S1" --unit U1 --operator bob \
    --key-type rsa --label "bob rsa" --out "$T/c2copy.pem" \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_eq "enroll (RSA) succeeds" 0 "$?"
C2=$(field serial)
K2=$(field key_id)
check_match "the RSA private key is on the token" "Private Key Object; RSA" \
    "$(objs "$MOD" op1 privkey | grep -B1 'label: *bob rsa' | head -n 1)"
cert_of "$MOD" op1 "$K2" "$T/c2.pem"
check "the RSA certificate with the key's ID verifies" quiet \
    openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" \
    "$T/c2.pem"
check_match "... and holds an RSA 2048 key" "Public-Key: \(2048 bit\)" \
    "$(openssl x509 -in "$T/c2.pem" -noout -text 2>/dev/null)"
check_eq "--out holds the same certificate" \
    "$(openssl x509 -in "$T/c2.pem" -outform DER 2>/dev/null | sha256sum)" \
    "$(openssl x509 -in "$T/c2copy.pem" -outform DER 2>/dev/null | sha256sum)"
ca list --unit U1
check_match "list --unit shows the second one" "$C2" "$(cat "$T/out")"

# --- the unit's limit: a third enrolment adds nothing ---
NC=$(ncount "$MOD" op1 cert)
NK=$(ncount "$MOD" op1 privkey)
check_eq "two certificates on op1" 2 "$NC"
ca enroll --module "$MOD" --token "$S1" --unit U1 --operator carol \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_eq "third enrolment for U1 fails" 1 "$?"
check_match "... with UK-3010" "UK-3010" "$(cat "$T/err")"
check_eq "... and no certificate object is added" "$NC" \
    "$(ncount "$MOD" op1 cert)"
check_eq "... nor a key" "$NK" "$(ncount "$MOD" op1 privkey)"

# --- a module that is not allowed is never loaded ---
cp "$MOD" "$T/other.so"
ca enroll --module "$T/other.so" --token "$S2" --unit U2 --operator dave \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_match "module not allowed: UK-2008" "UK-2008" "$(cat "$T/err")"
check_eq "... nothing generated on op2" 0 "$(ncount "$MOD" op2 privkey)"
ca enroll --module relative.so --token "$S2" --unit U2 --operator dave \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_eq "a relative module path is a usage error" 2 "$?"

# --- wrong user PIN ---
ca enroll --module "$MOD" --token "$S2" --unit U2 --operator dave \
    --pin-fd 3 --pass-fd 4 3<"$T/badpin" 4<"$T/pass"
check_match "wrong PIN: UK-2003" "UK-2003" "$(cat "$T/err")"
check_eq "... nothing generated on op2" 0 "$(ncount "$MOD" op2 privkey)"
ca list --unit U2
check_eq "... and nothing issued for U2 (list shows the header only)" \
    "0 1" "$? $(wc -l <"$T/out")"

# --- wrong CA passphrase: refused before the token is touched ---
ca enroll --module "$MOD" --token "$S2" --unit U2 --operator dave \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/badpin"
check_eq "wrong CA passphrase fails" 1 "$?"
check_eq "... nothing generated on op2" 0 "$(ncount "$MOD" op2 privkey)"

# --- unknown token ---
ca enroll --module "$MOD" --token nosuchserial --unit U2 --operator dave \
    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
check_match "unknown token: UK-2002" "UK-2002" "$(cat "$T/err")"

# --- through ukey-sim, allowed with -m ---
if [ -f "$SIM" ]; then
	"$CA" -c "$T/ca.conf" -d "$DB" -m "$SIM" enroll --module "$SIM" \
	    --token "$S3" --unit U3 --operator erin --pin-fd 3 --pass-fd 4 \
	    3<"$T/pin" 4<"$T/pass" >"$T/out" 2>"$T/err"
	check_eq "enroll through ukey-sim (-m)" 0 "$?"
	K3=$(field key_id)
	check_eq "ukey-sim: the certificate has the key's ID" "$K3" \
	    "$(objs "$SIM" op3 cert | sed -n 's/^ *ID: *//p' | head -n 1)"
	cert_of "$SIM" op3 "$K3" "$T/c3.pem"
	check "ukey-sim: the certificate verifies" quiet \
	    openssl verify -CAfile "$T/root.pem" -untrusted \
	    "$T/issuing.pem" "$T/c3.pem"
	ca enroll --module "$SIM" --token "$S3" --unit U3 --operator erin \
	    --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
	check_match "ukey-sim without -m or allowlist: UK-2008" "UK-2008" \
	    "$(cat "$T/err")"

	# The UKey pulled out after issuance: the certificate is in the
	# store, the command fails and says so. While ukey-sim holds enroll
	# in C_Login, a write lock is taken on the store; enroll then waits in
	# ca_issue after generating the key and having the request signed,
	# and the key is pulled out meanwhile.
	echo 1500 >"$UKEY_SIM_DIR/delay_login_ms"
	NK3=$(ncount "$MOD" op3 privkey)
	UKEY_SIM_DEBUG=1 "$CA" -c "$T/ca.conf" -d "$DB" -m "$SIM" enroll \
	    --module "$SIM" --token "$S3" --unit U4 --operator fay \
	    --out "$T/c4.pem" --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass" \
	    >"$T/out4" 2>"$T/err4" &
	ENROLL_PID=$!
	i=0
	while ! grep -q "login delayed" "$T/err4" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(5)
c.execute("COMMIT")' "$DB" "$T/locked" &
	LOCK_PID=$!
	i=0
	# (a listing made while the key is being written may come out short)
	while [ "$(ncount "$MOD" op3 privkey)" -le "$NK3" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1 # the request is signed on the token in milliseconds
	touch "$UKEY_SIM_DIR/removed"
	rm -f "$UKEY_SIM_DIR/delay_login_ms"
	wait "$ENROLL_PID"
	check_eq "UKey pulled out after issuance: enroll fails" 1 "$?"
	ENROLL_PID=""
	wait "$LOCK_PID"
	check_eq "... (the store was locked during the test)" 0 "$?"
	LOCK_PID=""
	rm -f "$UKEY_SIM_DIR/removed"
	check_match "... saying the certificate was issued" \
	    "UK-20[0-9][0-9].*certificate [0-9A-F]{32} was issued and stored" \
	    "$(cat "$T/err4")"
	C4=$(sed -n 's/.*certificate \([0-9A-F]\{32\}\) was issued.*/\1/p' \
	    "$T/err4" | head -n 1)
	check_eq "... printing no success report" "" "$(cat "$T/out4")"
	ca list --unit U4
	check_match "... the certificate is in the store" "^$C4 +active" \
	    "$(cat "$T/out")"
	check_match "... with the install and revoke advice" \
	    "pkcs11-tool --module .* --write-object.*ukey-ca revoke --serial $C4" \
	    "$(cat "$T/err4")"
	check "... and the --out copy is written" test -s "$T/c4.pem"
	check_eq "... no certificate for fay on op3" "" \
	    "$(objs "$MOD" op3 cert | grep 'CN=fay')"
	K4=$(sed -n 's/.*--type cert --id \([0-9a-f]*\).*/\1/p' "$T/err4")
	check_match "... naming the key's id" '^[0-9a-f]{32}$' "$K4"
	check_match "... the key pair stays on op3 with the advised id" \
	    "ID: *$K4\$" "$(objs "$MOD" op3 privkey)"
	ca show --serial "$C4" --out "$T/f.pem"
	openssl x509 -in "$T/f.pem" -outform DER -out "$T/f.der" 2>/dev/null
	pkcs11-tool --module "$SIM" --token-label op3 --login --pin "$PIN" \
	    --write-object "$T/f.der" --type cert --id "$K4" >/dev/null 2>&1
	check_eq "... following the advice installs it with the key's ID" \
	    "$K4" "$(objs "$MOD" op3 cert | grep -A2 'CN=fay' |
	        sed -n 's/^ *ID: *//p')"
else
	not_ok "ukey-sim.so is built ($SIM)"
fi

t_done
