#!/bin/sh
# tests/integration/test_ca_pkcs11.sh: ukey-ca with its keys on a throwaway
# SoftHSM2 token: init (EC and RSA) generates non-extractable keys on the
# token, issue / crl / reissue sign there, openssl verify -crl_check and
# openssl ocsp accept the results, wrong PINs and bad URIs are refused.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
MOD=/usr/lib/softhsm/libsofthsm2.so
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ca_p11.XXXXXX") || exit 1
OCSP_PID=""

cleanup() {
	if [ -n "$OCSP_PID" ]; then
		kill "$OCSP_PID" 2>/dev/null
		wait "$OCSP_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -f "$MOD" ] || ! command -v softhsm2-util >/dev/null 2>&1; then
	echo "1..0 # SKIP SoftHSM2 is not installed"
	exit 0
fi

mkdir "$T/tokens"
cat >"$T/softhsm2.conf" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF="$T/softhsm2.conf"
PIN=246810
printf '%s\n' "$PIN" >"$T/pin"
printf '000000\n' >"$T/badpin"
softhsm2-util --init-token --free --label ca-ec --pin "$PIN" --so-pin 13572468 >/dev/null
softhsm2-util --init-token --free --label ca-rsa --pin "$PIN" --so-pin 13572468 >/dev/null
softhsm2-util --init-token --free --label ca-sep --pin "$PIN" --so-pin 13572468 >/dev/null
printf 'ocsp key passphrase\n' >"$T/opass"

# The module comes from the configuration, never from the store.
printf '[ca]\npkcs11_module = %s\n' "$MOD" >"$T/ca.conf"
ca() { # ca DB ARGS...
	db=$1
	shift
	"$CA" -c "$T/ca.conf" -d "$db" "$@" >"$T/out" 2>"$T/err"
}
field() {
	sed -n "s/^$1: //p" "$T/out" | head -n 1
}
quiet() {
	"$@" >/dev/null 2>&1
}

URI="pkcs11:token=ca-ec;object=ukey-ca?module-path=$MOD"
DB="$T/ec.sqlite"

# --- refusals before anything is created ---
ca "$DB" init --name "HSM" --key-type sm2 --pkcs11-uri "$URI" --pin-fd 3 3<"$T/pin"
check_match "SM2 on a token: UK-3018" "UK-3018" "$(cat "$T/err")"
ca "$DB" init --name "HSM" --pkcs11-uri "pkcs11:token=ca-ec;object=x?module-path=$MOD&pin-value=$PIN" --pin-fd 3 3<"$T/pin"
check_match "pin-value in the URI: UK-1004" "UK-1004" "$(cat "$T/err")"
ca "$DB" init --name "HSM" --pkcs11-uri "pkcs11:token=ca-ec;object=x" --pin-fd 3 3<"$T/pin"
check_match "URI without module-path: UK-1004" "UK-1004" "$(cat "$T/err")"
ca "$DB" init --name "HSM" --pkcs11-uri "pkcs11:token=nosuch;object=x?module-path=$MOD" --pin-fd 3 3<"$T/pin"
check_match "unknown token: UK-2002" "UK-2002" "$(cat "$T/err")"
ca "$DB" init --name "HSM" --pkcs11-uri "$URI" --pin-fd 3 3<"$T/badpin"
check_match "wrong PIN at init: UK-2003" "UK-2003" "$(cat "$T/err")"
check_fail "a failed init leaves no database behind" test -e "$DB"
check_eq "--pass-fd with a token URI is a usage error" 2 "$(ca "$DB" init --name "HSM" --pkcs11-uri "$URI" --pass-fd 3 3<"$T/pin"; echo $?)"

# --- EC CA on the token ---
ca "$DB" init --name "HSM EC CA" --pkcs11-uri "$URI" --pin-fd 3 3<"$T/pin"
check_eq "init on the token" 0 "$?"
check_eq "key_ref is the URI" "pkcs11:token=ca-ec;object=ukey-ca?module-path=$MOD" "$(field key_ref)"
pkcs11-tool --module "$MOD" --token-label ca-ec --login --pin "$PIN" \
    --list-objects --type privkey >"$T/objs" 2>/dev/null
for l in ukey-ca ukey-ca-root ukey-ca-ocsp; do
	check "private key $l is on the token" grep -q "label: *$l\$" "$T/objs"
done
check_eq "the keys are sensitive and never extractable" 3 \
    "$(grep -c 'Access:.*sensitive.*never extractable' "$T/objs")"
ca "$DB" init --name "Again" --pkcs11-uri "$URI" --pin-fd 3 3<"$T/pin"
check_match "second init: UK-3014" "UK-3014" "$(cat "$T/err")"
ca "$T/other.sqlite" init --name "Again" --pkcs11-uri "$URI" --pin-fd 3 3<"$T/pin"
check_match "labels already on the token: UK-1008" "UK-1008" "$(cat "$T/err")"
check_fail "... and leaves no database behind" test -e "$T/other.sqlite"

ca "$DB" export-ca --which root --out "$T/root.pem"
ca "$DB" export-ca --which issuing --out "$T/issuing.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/l.key" -subj "/CN=Token Issued" -out "$T/l.csr" 2>/dev/null
ca "$DB" issue --csr "$T/l.csr" --unit U1 --operator o1 --out "$T/l1.pem" --pin-fd 3 3<"$T/pin"
check_eq "issue signed on the token" 0 "$?"
S1=$(field serial)
check "openssl verify accepts it" quiet openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" "$T/l1.pem"
ca "$DB" issue --csr "$T/l.csr" --unit U1 --operator o2 --out "$T/l2.pem" --pin-fd 3 3<"$T/badpin"
check_match "issue with a wrong PIN: UK-2003" "UK-2003" "$(cat "$T/err")"
check_fail "... and writes nothing" test -e "$T/l2.pem"
ca "$DB" issue --csr "$T/l.csr" --unit U1 --operator o2 --out "$T/l2.pem" --pin-fd 3 3<"$T/pin"
S2=$(field serial)
ca "$DB" reissue --serial "$S2" --csr "$T/l.csr" --out "$T/l3.pem" --pin-fd 3 3<"$T/pin"
check_eq "reissue signed on the token" 0 "$?"
ca "$DB" revoke --serial "$S1" --reason keyCompromise
ca "$DB" crl --out "$T/crl.pem" --pin-fd 3 3<"$T/pin"
check_eq "crl signed on the token" 0 "$?"
check_eq "the CRL lists two" 2 "$(field entries)"
check "openssl verify -crl_check accepts the reissued one" quiet openssl verify -crl_check \
    -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl.pem" "$T/l3.pem"
check_fail "openssl verify -crl_check rejects the revoked one" quiet openssl verify -crl_check \
    -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl.pem" "$T/l1.pem"
check_fail "... and the superseded one" quiet openssl verify -crl_check \
    -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl.pem" "$T/l2.pem"

# OCSP with the signer key on the token.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CA" -c "$T/ca.conf" -d "$DB" ocsp --listen "127.0.0.1:$PORT" --pin-fd 3 3<"$T/pin" >"$T/ocsp.log" 2>&1 &
OCSP_PID=$!
i=0
while [ $i -lt 50 ]; do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	sleep 0.1
	i=$((i + 1))
done
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/l3.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/root.pem" -no_nonce >"$T/o" 2>&1
check_match "openssl ocsp (token-signed response): good" "l3.pem: good" "$(cat "$T/o")"
check_match "openssl ocsp: response verified" "Response verify OK" "$(cat "$T/o")"
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/l1.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/root.pem" -no_nonce >"$T/o" 2>&1
check_match "openssl ocsp: revoked" "l1.pem: revoked" "$(cat "$T/o")"
kill "$OCSP_PID"
wait "$OCSP_PID"
check_eq "ocsp stops cleanly on SIGTERM" 0 "$?"
OCSP_PID=""

# --- the PKCS#11 module never comes from the store ---
"$CA" -d "$DB" issue --csr "$T/l.csr" --unit U2 --operator o --out "$T/m1.pem" --pin-fd 3 3<"$T/pin" >/dev/null 2>"$T/err"
check_match "no [ca] pkcs11_module configured: UK-2008" "UK-2008" "$(cat "$T/err")"
cat >"$T/evil.c" <<EOF
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
	int fd = open("$T/evil.loaded", O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);
}
EOF
cc -shared -fPIC -o "$T/evil.so" "$T/evil.c"
cp "$DB" "$T/evil.sqlite"
sqlite3 "$T/evil.sqlite" "UPDATE ca SET key_ref = replace(key_ref, '$MOD', '$T/evil.so'), ocsp_key_ref = replace(ocsp_key_ref, '$MOD', '$T/evil.so')"
ca "$T/evil.sqlite" issue --csr "$T/l.csr" --unit U2 --operator o --out "$T/m2.pem" --pin-fd 3 3<"$T/pin"
check_match "a module-path written into the store: UK-2008" "UK-2008" "$(cat "$T/err")"
ca "$T/evil.sqlite" crl --out "$T/m.crl" --pin-fd 3 3<"$T/pin"
check_match "... for crl too" "UK-2008" "$(cat "$T/err")"
"$CA" -c "$T/ca.conf" -d "$T/evil.sqlite" ocsp --listen 127.0.0.1:1 --pin-fd 3 3<"$T/pin" >/dev/null 2>"$T/err"
check_match "... and for the OCSP responder" "UK-2008" "$(cat "$T/err")"
check_fail "... and the stored module was never loaded" test -e "$T/evil.loaded"
printf '[ca]\npkcs11_module_allowlist = /usr/lib/none.so, %s\n' "$MOD" >"$T/allow.conf"
"$CA" -c "$T/allow.conf" -d "$DB" issue --csr "$T/l.csr" --unit U2 --operator o --out "$T/m3.pem" --pin-fd 3 3<"$T/pin" >/dev/null 2>"$T/err"
check_eq "a module on pkcs11_module_allowlist is used" 0 "$?"
"$CA" -m "$MOD" -d "$DB" issue --csr "$T/l.csr" --unit U3 --operator o --out "$T/m4.pem" --pin-fd 3 3<"$T/pin" >/dev/null 2>"$T/err"
check_eq "--pkcs11-module on the command line is used" 0 "$?"

# --- RSA CA on another token ---
R="pkcs11:token=ca-rsa;object=rsa-ca?module-path=$MOD"
ca "$T/rsa.sqlite" init --name "HSM RSA CA" --key-type rsa --rsa-bits 2048 --pkcs11-uri "$R" --pin-fd 3 3<"$T/pin"
check_eq "RSA init on the token" 0 "$?"
ca "$T/rsa.sqlite" issue --csr "$T/l.csr" --unit U1 --operator o --out "$T/r1.pem" --pin-fd 3 3<"$T/pin"
check_eq "RSA issue on the token" 0 "$?"
ca "$T/rsa.sqlite" export-ca --out "$T/rsa-chain.pem"
ca "$T/rsa.sqlite" export-ca --which root --out "$T/rsa-root.pem"
check_match "sha256WithRSAEncryption" "sha256WithRSAEncryption" "$(openssl x509 -in "$T/r1.pem" -noout -text)"
check "openssl verify accepts the RSA chain" quiet openssl verify -CAfile "$T/rsa-root.pem" -untrusted "$T/rsa-chain.pem" "$T/r1.pem"

# --- token CA, OCSP signer key in a file of its own ---
SEP="pkcs11:token=ca-sep;object=sep-ca?module-path=$MOD"
ca "$T/sep.sqlite" init --name "Sep CA" --pkcs11-uri "$SEP" --pin-fd 3 3<"$T/pin" \
    --ocsp-key-file "$T/ocsp-sep.key" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "init --ocsp-key-file with a token CA" 0 "$?"
check_eq "the OCSP key file has mode 600" 600 "$(stat -c %a "$T/ocsp-sep.key")"
check_fail "no OCSP key on the CA token" sh -c "pkcs11-tool --module $MOD --token-label ca-sep --list-objects --login --pin $PIN 2>/dev/null | grep -q sep-ca-ocsp"
ca "$T/sep.sqlite" issue --csr "$T/l.csr" --unit U1 --operator o --out "$T/s1.pem" --pin-fd 3 3<"$T/pin"
ca "$T/sep.sqlite" export-ca --which issuing --out "$T/sep-issuing.pem"
ca "$T/sep.sqlite" export-ca --which root --out "$T/sep-root.pem"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CA" -c "$T/ca.conf" -d "$T/sep.sqlite" ocsp --listen "127.0.0.1:$PORT" --pass-fd 3 3<"$T/opass" >"$T/ocsp.log" 2>&1 &
OCSP_PID=$!
i=0
while [ $i -lt 50 ]; do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	sleep 0.1
	i=$((i + 1))
done
openssl ocsp -issuer "$T/sep-issuing.pem" -cert "$T/s1.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/sep-root.pem" -no_nonce >"$T/o" 2>&1
check_match "the responder signs with the file key, no token PIN given" "s1.pem: good" "$(cat "$T/o")"
kill "$OCSP_PID"
wait "$OCSP_PID"
OCSP_PID=""

echo "1..$T_N"
t_done
