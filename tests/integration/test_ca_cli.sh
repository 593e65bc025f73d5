#!/bin/sh
# tests/integration/test_ca_cli.sh: ukey-ca end to end on SQLite: init,
# issue, list/show, revoke, reissue, crl, export-ca, verify, ocsp,
# check-config and the error paths (stable codes, nothing written), checked
# with openssl x509 -text, openssl verify -crl_check and openssl ocsp.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ca_cli.XXXXXX") || exit 1
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

DB="$T/ca.sqlite"
printf 'correct horse battery\n' >"$T/pass"
printf 'wrong\n' >"$T/badpass"
printf 'the OCSP key passphrase\n' >"$T/opass"
cat >"$T/ca.conf" <<EOF
[ca]
database = $DB
crl_url = http://127.0.0.1:8080/crl/issuing.crl
ocsp_url = http://127.0.0.1:8080/ocsp
crl_next_update_hours = 12
EOF

# ca ARGS...: runs ukey-ca with the test configuration; output in $T/out,
# $T/err; returns its status.
ca() {
	"$CA" -c "$T/ca.conf" "$@" >"$T/out" 2>"$T/err"
}
field() {
	sed -n "s/^$1: //p" "$T/out" | head -n 1
}
rows() {
	sqlite3 "$DB" "$1"
}
quiet() {
	"$@" >/dev/null 2>&1
}
csr_ec() { # csr_ec NAME SUBJECT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "$2" -out "$T/$1.csr" 2>/dev/null
}

# --- help and configuration ---
for c in init issue revoke reissue list show crl export-ca ocsp \
    renew-ocsp verify check-config; do
	"$CA" "$c" --help >"$T/out" 2>&1
	rc=$?
	check_eq "$c --help exits 0" 0 "$rc"
	check_match "$c --help shows usage" "^usage: ukey-ca" "$(head -n 1 "$T/out")"
done
check_fail "no command is a usage error" "$CA" 2>/dev/null
"$CA" frobnicate >/dev/null 2>&1
check_eq "unknown command exits 2" 2 "$?"

ca check-config -c "$T/ca.conf"
check_eq "check-config accepts the configuration" 0 "$?"
check_match "check-config prints crl_url" "^crl_url = http://127.0.0.1:8080/crl" "$(cat "$T/out")"
check_match "check-config prints defaults" "^operator_days = 365" "$(cat "$T/out")"
"$CA" check-config -c "$ROOT/etc/ukey-ca.conf" >/dev/null 2>&1
check_eq "etc/ukey-ca.conf is valid" 0 "$?"
printf '[ca]\nfrobs = 1\n' >"$T/bad1.conf"
"$CA" check-config -c "$T/bad1.conf" >/dev/null 2>"$T/err"
check_eq "unknown key: exit 1" 1 "$?"
check_match "unknown key: UK-1102" "UK-1102" "$(cat "$T/err")"
printf '[ca]\ncrl_url = ftp://x/crl\n' >"$T/bad2.conf"
"$CA" check-config -c "$T/bad2.conf" >/dev/null 2>"$T/err"
check_match "non-http crl_url: UK-1103" "UK-1103" "$(cat "$T/err")"
printf '[ca]\nocsp_days = 0\n' >"$T/bad3.conf"
"$CA" -c "$T/bad3.conf" list >/dev/null 2>"$T/err"
check_match "out-of-range value refused by every command: UK-1103" "UK-1103" "$(cat "$T/err")"
printf '[ca]\ndatabase = postgresql://u:hunter2@127.0.0.1:1/x\n' >"$T/pw.conf"
"$CA" check-config -c "$T/pw.conf" >"$T/out" 2>&1
check_fail "check-config hides the database password" grep -q hunter2 "$T/out"
check_match "check-config shows the password as set" "password=[(]secret, set[)]" "$(cat "$T/out")"
printf '[ca]\ndatabase = postgresql://u@127.0.0.1:5432/db?password=hunter2&sslmode=disable\n' >"$T/pw2.conf"
"$CA" check-config -c "$T/pw2.conf" >"$T/out" 2>&1
check_eq "check-config with a ?password= URL: exit 0" 0 "$?"
check_fail "check-config hides a ?password= query parameter" grep -q hunter2 "$T/out"
check_match "... and still shows the rest" "sslmode=disable" "$(cat "$T/out")"
printf '[ca]\ndatabase = postgresql://u:hun@ter2@127.0.0.1:5432/db\n' >"$T/pw3.conf"
"$CA" check-config -c "$T/pw3.conf" >"$T/out" 2>&1
check_fail "check-config hides a password with an unescaped @" grep -qE "hun|ter2" "$T/out"
check_match "... and says why" "unescaped '@'" "$(cat "$T/out")"
printf '[ca]\ndatabase = host=db password=hunter2 dbname=x\n' >"$T/pw4.conf"
"$CA" check-config -c "$T/pw4.conf" >"$T/out" 2>&1
check_eq "check-config refuses a keyword conninfo: exit 1" 1 "$?"
check_match "keyword conninfo: UK-1201" "UK-1201" "$(cat "$T/out")"
check_fail "check-config hides a keyword-form password" grep -q hunter2 "$T/out"
"$CA" -d "host=$T password=hunter2 dbname=x" list >"$T/out" 2>&1
check_match "a keyword conninfo is not taken for a SQLite path: UK-1201" "UK-1201" "$(cat "$T/out")"
check_fail "... and the password is not echoed" grep -q hunter2 "$T/out"

# --- database locations ---
"$CA" -d "mysql://h/db" list >/dev/null 2>"$T/err"
check_eq "bad database URL: exit 1" 1 "$?"
check_match "bad database URL: UK-1201" "UK-1201" "$(cat "$T/err")"
"$CA" -d "$T/nothere.sqlite" list >/dev/null 2>"$T/err"
check_match "missing database file: UK-1202" "UK-1202" "$(cat "$T/err")"
check_fail "missing database file is not created" test -e "$T/nothere.sqlite"
"$CA" list >/dev/null 2>"$T/err"
check_eq "no database at all: exit 2" 2 "$?"

# --- init ---
ca init --name "Qiannan Test CA" --key-file "$T/ca.key" --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "init exits 0" 0 "$?"
check_eq "init reports the key file" "$T/ca.key" "$(field key_ref)"
for f in ca.key ca.key.root ca.key.ocsp; do
	check_eq "$f has mode 600" 600 "$(stat -c %a "$T/$f")"
	check_match "$f is encrypted PKCS#8" "BEGIN ENCRYPTED PRIVATE KEY" "$(head -n 1 "$T/$f")"
done
ASN=$(openssl asn1parse -in "$T/ca.key")
check_match "the key file uses PBES2 with scrypt" ":PBES2" "$ASN"
check_match "... scrypt as its KDF" "OBJECT +:scrypt" "$ASN"
check_match "... N = 16384, r = 8, p = 4" "INTEGER +:4000 INTEGER +:08 INTEGER +:04" "$(printf "%s" "$ASN" | sed -n "s/.*prim: INTEGER *\(:[0-9A-F]*\)/INTEGER \1/p" | tr "\n" " ")"
check_fail "... not the default PBKDF2" grep -q "PBKDF2" "$(printf '%s' "$ASN" >"$T/asn"; echo "$T/asn")"
check "openssl pkey -passin fd:3 reads the key file" \
    quiet openssl pkey -in "$T/ca.key" -passin fd:3 -noout 3<"$T/pass"
check_eq "one ca row" 1 "$(rows 'SELECT COUNT(*) FROM ca')"
check_eq "ca.init audited" 1 "$(rows "SELECT COUNT(*) FROM audit WHERE event = 'ca.init'")"
cp "$T/ca.key" "$T/ca.key.saved"
ca init --name Again --key-file "$T/ca2.key" --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "second init: exit 1" 1 "$?"
check_match "second init: UK-3014" "UK-3014" "$(cat "$T/err")"
check_fail "second init writes no key" test -e "$T/ca2.key"
"$CA" -d "$T/other.sqlite" init --name X --key-file "$T/ca.key" --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass" >/dev/null 2>"$T/err"
check_match "init over an existing key file: UK-1008" "UK-1008" "$(cat "$T/err")"
check_fail "init over an existing key file creates no store" test -e "$T/other.sqlite"
check "the existing key file is untouched" cmp -s "$T/ca.key" "$T/ca.key.saved"
printf 'short\n' >"$T/short"
"$CA" -d "$T/short.sqlite" init --name X --key-file "$T/short.key" --pass-fd 3 3<"$T/short" --ocsp-pass-fd 4 4<"$T/opass" >/dev/null 2>"$T/err"
check_match "a passphrase under 8 characters is refused" "at least 8" "$(cat "$T/err")"
setsid -w "$CA" -d "$T/o1.sqlite" init --name X --key-file "$T/o1.key" --pass-fd 3 3<"$T/pass" </dev/null >/dev/null 2>"$T/err"
check_eq "init without the OCSP key's passphrase and no terminal: exit 2" 2 "$?"
check_match "... saying to use --ocsp-pass-fd" "ocsp-pass-fd" "$(cat "$T/err")"
check_fail "... and nothing is written" test -e "$T/o1.key" -o -e "$T/o1.sqlite"
"$CA" -d "$T/o2.sqlite" init --name X --key-file "$T/o2.key" --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/pass" >/dev/null 2>"$T/err"
check_match "init with the CA's passphrase for the OCSP key is refused" "must differ" "$(cat "$T/err")"
check_fail "... and nothing is written" test -e "$T/o2.key" -o -e "$T/o2.key.ocsp"
check_fail "... and nothing is written" test -e "$T/short.key" -o -e "$T/short.sqlite"
ca init --name X --key-type dsa --key-file "$T/x.key" --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "init --key-type dsa: exit 2" 2 "$?"
ca init --name X --pkcs11-uri "pkcs11:token=a;object=b?module-path=/x.so&pin-value=1234" --pin-fd 3 3<"$T/pass"
check_match "a PIN in the URI is refused" "UK-1004" "$(cat "$T/err")"

ca export-ca --out "$T/chain.pem"
check_eq "export-ca exits 0" 0 "$?"
check_eq "chain has two certificates" 2 "$(grep -c 'BEGIN CERTIFICATE' "$T/chain.pem")"
ca export-ca --which root --out "$T/root.pem"
ca export-ca --which issuing --out "$T/issuing.pem"
ca export-ca --which ocsp --out "$T/ocsp.pem"
check "the root is self-signed" quiet openssl verify -CAfile "$T/root.pem" "$T/root.pem"
check_match "issuing CA: pathlen 0" "CA:TRUE, pathlen:0" "$(openssl x509 -in "$T/issuing.pem" -noout -text)"
check_match "OCSP signer: OCSP Signing" "OCSP Signing" "$(openssl x509 -in "$T/ocsp.pem" -noout -text)"
check_match "OCSP signer: ocsp-nocheck" "OCSP No Check" "$(openssl x509 -in "$T/ocsp.pem" -noout -text)"

# --- issue ---
csr_ec op1 "/CN=Zhang San/O=Unit 001/L=Wuhan"
ca issue --csr "$T/op1.csr" --unit U001 --operator zhangsan --out "$T/op1.pem" --pass-fd 3 3<"$T/pass"
check_eq "issue exits 0" 0 "$?"
S1=$(field serial)
check_match "issue prints a 16-octet serial" '^[0-9A-F]{32}$' "$S1"
check_match "issue prints the audit event" '^[0-9A-F]{32}$' "$(field event)"
TXT=$(openssl x509 -in "$T/op1.pem" -noout -text)
check_match "x509 -text: KU critical" "Key Usage: critical" "$TXT"
check_match "x509 -text: digitalSignature only" "^ *Digital Signature$" "$TXT"
check_match "x509 -text: EKU clientAuth" "TLS Web Client Authentication" "$TXT"
check_match "x509 -text: CDP" "URI:http://127.0.0.1:8080/crl/issuing.crl" "$TXT"
check_match "x509 -text: AIA OCSP" "OCSP - URI:http://127.0.0.1:8080/ocsp" "$TXT"
check_match "x509 -text: not a CA" "CA:FALSE" "$TXT"
check_match "x509 -text: SKI" "Subject Key Identifier" "$TXT"
check_match "x509 -text: AKI" "Authority Key Identifier" "$TXT"
check_fail "x509 -text: locality dropped" grep -q "L = Wuhan" <<EOF
$TXT
EOF
check "openssl verify accepts the chain" quiet openssl verify -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -purpose sslclient "$T/op1.pem"
check_eq "the store binds unit and operator" "U001|zhangsan|operator|active" \
    "$(rows "SELECT unit_id, operator, profile, status FROM certs WHERE serial = '$S1'")"
check_eq "the store has the certificate's SHA-256" \
    "$(openssl x509 -in "$T/op1.pem" -outform DER | sha256sum | cut -c1-64)" \
    "$(rows "SELECT sha256 FROM certs WHERE serial = '$S1'")"
check_eq "cert.issue audited" 1 "$(rows "SELECT COUNT(*) FROM audit WHERE event = 'cert.issue' AND subject = '$S1'")"

# RSA, SM2, DER requests; staff and ocsp profiles; --days
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj "/CN=RSA User" -out "$T/rsa.csr" 2>/dev/null
ca issue --csr "$T/rsa.csr" --unit U002 --operator rsa --out "$T/rsa.pem" --pass-fd 3 3<"$T/pass"
check_eq "RSA 2048 request issued" 0 "$?"
openssl genpkey -algorithm SM2 -out "$T/sm2.key" 2>/dev/null
openssl req -new -key "$T/sm2.key" -sm3 -sigopt distid:1234567812345678 -subj "/CN=SM2 User" -out "$T/sm2.csr" 2>/dev/null
ca issue --csr "$T/sm2.csr" --unit U002 --operator sm2 --out "$T/sm2.pem" --pass-fd 3 3<"$T/pass"
check_eq "SM2 request issued" 0 "$?"
check_eq "store records key type sm2" sm2 "$(rows "SELECT key_type FROM certs WHERE serial = '$(field serial)'")"
csr_ec st "/CN=Clerk 7"
openssl req -in "$T/st.csr" -outform DER -out "$T/st.der"
ca issue --csr "$T/st.der" --unit BANK --operator clerk7 --profile staff --days 30 --out "$T/st.pem" --pass-fd 3 3<"$T/pass"
check_eq "DER request, staff profile issued" 0 "$?"
check_match "staff: non-repudiation" "Non Repudiation" "$(openssl x509 -in "$T/st.pem" -noout -text)"
check_eq "--days 30 is kept" 30 "$(( ($(date -d "$(openssl x509 -in "$T/st.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date -d "$(openssl x509 -in "$T/st.pem" -noout -startdate | cut -d= -f2)" +%s)) / 86400 ))"

# --- refusals: stable codes, nothing written ---
N0=$(rows 'SELECT COUNT(*) FROM certs')
openssl req -new -key "$T/op1.key" -subj "/CN=Wants CA" -addext "basicConstraints=critical,CA:TRUE" -out "$T/ca_true.csr" 2>/dev/null
ca issue --csr "$T/ca_true.csr" --unit U009 --operator x --out "$T/x1.pem" --pass-fd 3 3<"$T/pass"
check_eq "CA:TRUE request: exit 1" 1 "$?"
check_match "CA:TRUE request: UK-3007" "UK-3007" "$(cat "$T/err")"
check_fail "CA:TRUE request: no --out file" test -e "$T/x1.pem"
printf 'this is not a CSR\n' >"$T/junk.csr"
ca issue --csr "$T/junk.csr" --unit U009 --operator x --out "$T/x2.pem" --pass-fd 3 3<"$T/pass"
check_match "malformed request: UK-3001" "UK-3001" "$(cat "$T/err")"
check_fail "malformed request: no --out file" test -e "$T/x2.pem"
head -c 40000 /dev/urandom | base64 -w 0 | head -c 70000 >"$T/big.csr"
ca issue --csr "$T/big.csr" --unit U009 --operator x --out "$T/x3.pem" --pass-fd 3 3<"$T/pass"
check_match "request over 64 KiB: UK-3001" "UK-3001" "$(cat "$T/err")"
openssl req -in "$T/op1.csr" -outform DER -out "$T/op1.der"
python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[-3]^=1; open(sys.argv[2],'wb').write(b)" "$T/op1.der" "$T/badsig.der"
ca issue --csr "$T/badsig.der" --unit U009 --operator x --out "$T/x4.pem" --pass-fd 3 3<"$T/pass"
check_match "bad request signature: UK-3002" "UK-3002" "$(cat "$T/err")"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/small.key" -subj "/CN=small" -out "$T/small.csr" 2>/dev/null
ca issue --csr "$T/small.csr" --unit U009 --operator x --out "$T/x5.pem" --pass-fd 3 3<"$T/pass"
check_match "RSA 1024 request: UK-3003" "UK-3003" "$(cat "$T/err")"
ca issue --csr "$T/op1.csr" --unit U009 --operator x --out "$T/x6.pem" --pass-fd 3 3<"$T/badpass"
check_match "wrong passphrase: UK-3015" "UK-3015" "$(cat "$T/err")"
check_fail "wrong passphrase: no --out file" test -e "$T/x6.pem"
ca issue --csr "$T/op1.csr" --unit U009 --operator x --out "$T/nodir/x7.pem" --pass-fd 3 3<"$T/pass"
check_match "unwritable --out: UK-1003" "UK-1003" "$(cat "$T/err")"
mkfifo "$T/fifo"
ca export-ca --out "$T/fifo"
check_match "--out naming a FIFO is refused" "not a regular file" "$(cat "$T/err")"
check "... and the FIFO is still there" test -p "$T/fifo"
ln -s "$T/pass" "$T/link"
ca crl --out "$T/link" --pass-fd 3 3<"$T/pass"
check_match "--out naming a symbolic link is refused" "not a regular file" "$(cat "$T/err")"
check "... and the link is still there" test -L "$T/link"
ca issue --csr "$T/op1.csr" --unit U009 --operator x --profile root --out "$T/x8.pem" --pass-fd 3 3<"$T/pass"
check_eq "unknown profile: exit 2" 2 "$?"
ca issue --csr "$T/op1.csr" --unit U009 --operator x --profile ocsp --out "$T/x10.pem" --pass-fd 3 3<"$T/pass"
check_eq "issue --profile ocsp: exit 1" 1 "$?"
check_match "issue --profile ocsp: UK-3016" "UK-3016" "$(cat "$T/err")"
check_match "... saying OCSP signers come from init / renew-ocsp" "renew-ocsp" "$(cat "$T/err")"
check_fail "issue --profile ocsp writes nothing" test -e "$T/x10.pem"
setsid -w "$CA" -c "$T/ca.conf" issue --csr "$T/op1.csr" --unit U009 --operator x --out "$T/x9.pem" </dev/null >/dev/null 2>"$T/err"
check_match "no --pass-fd and no terminal: UK-1401" "UK-1401" "$(cat "$T/err")"
check_eq "no store row from any refusal" "$N0" "$(rows 'SELECT COUNT(*) FROM certs')"
check_eq "no unit row from any refusal" 0 "$(rows "SELECT COUNT(*) FROM units WHERE id = 'U009'")"

# --- unit limit ---
csr_ec op2 "/CN=Li Si"
ca issue --csr "$T/op2.csr" --unit U001 --operator lisi --out "$T/op2.pem" --pass-fd 3 3<"$T/pass"
check_eq "second certificate of U001" 0 "$?"
S2=$(field serial)
ca issue --csr "$T/op2.csr" --unit U001 --operator lisi --out "$T/op3.pem" --pass-fd 3 3<"$T/pass"
check_eq "third certificate of U001: exit 1" 1 "$?"
check_match "third certificate of U001: UK-3010" "UK-3010" "$(cat "$T/err")"
check_fail "third certificate of U001: no --out file" test -e "$T/op3.pem"

# --- list and show ---
ca list --unit U001 --json
check_eq "list --json --unit U001" "2 U001" \
    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a), a[0]["unit"])' "$T/out")"
ca list
check_match "list shows a table" "^SERIAL +STATUS" "$(head -n 1 "$T/out")"
ca show --serial "$(echo "$S1" | tr 'A-F' 'a-f')"
check_eq "show accepts lower case" active "$(field status)"
check_match "show prints the PEM" "BEGIN CERTIFICATE" "$(cat "$T/out")"
ca show --serial 0102 
check_match "show unknown serial: UK-3011" "UK-3011" "$(cat "$T/err")"

# --- revoke, CRL, openssl verify -crl_check ---
ca crl --out "$T/crl0.pem" --pass-fd 3 3<"$T/pass"
check_eq "crl exits 0" 0 "$?"
check_eq "first CRL number" 1 "$(field crl_number)"
check "openssl verify -crl_check accepts a valid certificate" \
    quiet openssl verify -crl_check -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl0.pem" "$T/op1.pem"
ca revoke --serial "$S1" --reason sleepy
check_match "unknown reason: UK-3017" "UK-3017" "$(cat "$T/err")"
ca revoke --serial "$S1" --reason certificateHold
check_match "certificateHold refused: UK-3017" "UK-3017" "$(cat "$T/err")"
ca revoke --serial 0A0B0C --reason keyCompromise
check_match "unknown serial: UK-3011" "UK-3011" "$(cat "$T/err")"
ca revoke --serial "$S1" --reason keyCompromise
check_eq "revoke exits 0" 0 "$?"
ca revoke --serial "$S1" --reason keyCompromise
check_match "revoke twice: UK-3012" "UK-3012" "$(cat "$T/err")"
check_eq "store: revoked, keyCompromise" "revoked|1" "$(rows "SELECT status, reason FROM certs WHERE serial = '$S1'")"
ca crl --out "$T/crl1.pem" --pass-fd 3 3<"$T/pass"
check_eq "CRL number increases" 2 "$(field crl_number)"
check_eq "CRL lists one" 1 "$(field entries)"
CRLTXT=$(openssl crl -in "$T/crl1.pem" -noout -text)
check_match "CRL lists the serial" "Serial Number: $S1" "$CRLTXT"
check_match "CRL has the reason" "Key Compromise" "$CRLTXT"
check_match "CRL has a CRL number" "X509v3 CRL Number" "$CRLTXT"
check_eq "nextUpdate = thisUpdate + 12 h" 43200 "$(( $(date -d "$(openssl crl -in "$T/crl1.pem" -noout -nextupdate | cut -d= -f2)" +%s) - $(date -d "$(openssl crl -in "$T/crl1.pem" -noout -lastupdate | cut -d= -f2)" +%s) ))"
openssl verify -crl_check -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl1.pem" "$T/op1.pem" >"$T/v" 2>&1
check_eq "openssl verify -crl_check rejects the revoked certificate" 2 "$?"
check_match "... because it is revoked" "certificate revoked" "$(cat "$T/v")"
check "openssl verify -crl_check still accepts the other" \
    quiet openssl verify -crl_check -CAfile "$T/root.pem" -untrusted "$T/issuing.pem" -CRLfile "$T/crl1.pem" "$T/op2.pem"
ca crl --der --out "$T/crl1.der" --pass-fd 3 3<"$T/pass"
check "crl --der writes DER" quiet openssl crl -inform DER -in "$T/crl1.der" -noout

# --- reissue ---
csr_ec op4 "/CN=Li Si New"
ca reissue --serial "$S2" --csr "$T/op4.csr" --out "$T/op4.pem" --pass-fd 3 3<"$T/pass"
check_eq "reissue exits 0" 0 "$?"
S4=$(field serial)
check_eq "old one revoked as superseded" "revoked|4" "$(rows "SELECT status, reason FROM certs WHERE serial = '$S2'")"
check_eq "new one inherits unit, operator, replaces" "U001|lisi|$S2" "$(rows "SELECT unit_id, operator, replaces FROM certs WHERE serial = '$S4'")"
ca reissue --serial "$S2" --csr "$T/op4.csr" --out "$T/op5.pem" --pass-fd 3 3<"$T/pass"
check_match "reissue of a revoked certificate: UK-3012" "UK-3012" "$(cat "$T/err")"
check_eq "cert.reissue audited with the old serial" 1 \
    "$(rows "SELECT COUNT(*) FROM audit WHERE event = 'cert.reissue' AND subject = '$S4' AND detail LIKE '%$S2%'")"
check_fail "failed reissue writes nothing" test -e "$T/op5.pem"
# The key of S1 (revoked above) is never certified again for its unit.
ca issue --csr "$T/op1.csr" --unit U001 --operator zhangsan --out "$T/op1b.pem" --pass-fd 3 3<"$T/pass"
check_match "issue with a revoked key: UK-3003" "UK-3003" "$(cat "$T/err")"
check_match "... telling to make a new key" "this key was revoked; generate a new key on the UKey" "$(cat "$T/err")"
check_fail "refused issue writes nothing" test -e "$T/op1b.pem"
ca reissue --serial "$S4" --csr "$T/op1.csr" --out "$T/op1c.pem" --pass-fd 3 3<"$T/pass"
check_match "reissue with a revoked key: UK-3003" "UK-3003" "$(cat "$T/err")"
check_eq "refused reissue changes nothing" "active" "$(rows "SELECT status FROM certs WHERE serial = '$S4'")"
csr_ec r1 "/CN=Wang Wu"
ca issue --csr "$T/r1.csr" --unit U010 --operator wangwu --out "$T/r1.pem" --pass-fd 3 3<"$T/pass"
SR1=$(field serial)
csr_ec r2 "/CN=Wang Wu New"
"$CA" -c "$T/ca.conf" reissue --serial "$SR1" --csr "$T/r2.csr" --out - --pass-fd 3 3<"$T/pass" >"$T/r2.pem" 2>"$T/err"
check_eq "reissue --out -: exit 0" 0 "$?"
check "reissue --out - | openssl x509 -noout" quiet openssl x509 -noout -in "$T/r2.pem"
check_fail "reissue --out -: no report lines on standard output" grep -q "^revoked:" "$T/r2.pem"
check_match "reissue --out -: the report is on standard error" "^revoked: $SR1" "$(cat "$T/err")"

# --- ukey-ca verify (the gateway's verifier) ---
ca crl --out "$T/crl2.pem" --pass-fd 3 3<"$T/pass"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" "$T/op4.pem"
check_eq "verify: valid" 0 "$?"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" --crl "$T/crl2.pem" "$T/op4.pem"
check_eq "verify --crl: valid" 0 "$?"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" --crl "$T/crl2.pem" --crl-all "$T/op4.pem"
check_match "verify --crl-all without a root CRL fails closed: UK-3106" "UK-3106" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" --crl "$T/crl2.pem" "$T/op2.pem"
check_match "verify --crl: superseded one is revoked (UK-3103)" "UK-3103" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" --at 2099-01-01T00:00:00Z "$T/op4.pem"
check_match "verify --at 2099: expired (UK-3101)" "UK-3101" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" --purpose serverAuth "$T/op4.pem"
check_match "verify --purpose serverAuth: UK-3104" "UK-3104" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" "$T/junk.csr"
check_match "verify a malformed certificate: UK-3004" "UK-3004" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" --crl "$T/junk.csr" "$T/op4.pem"
check_match "verify with a malformed CRL: UK-3005" "UK-3005" "$(cat "$T/err")"
ca verify --trusted "$T/ocsp.pem" "$T/op4.pem"
check_match "verify against the wrong anchor: UK-3100" "UK-310" "$(cat "$T/err")"
ca verify --trusted "$T/root.pem" --untrusted "$T/issuing.pem" "$T/sm2.pem"
check_eq "verify: SM2 leaf" 0 "$?"

# --- OCSP responder (ukey-ca ocsp) with openssl ocsp ---
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CA" -c "$T/ca.conf" ocsp --listen "127.0.0.1:$PORT" --pass-fd 3 3<"$T/opass" >"$T/ocsp.log" 2>&1 &
OCSP_PID=$!
i=0
while [ $i -lt 50 ]; do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	sleep 0.1
	i=$((i + 1))
done
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/op4.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/root.pem" -no_nonce >"$T/o" 2>&1
check_match "openssl ocsp: good" "op4.pem: good" "$(cat "$T/o")"
check_match "openssl ocsp: response verified" "Response verify OK" "$(cat "$T/o")"
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/op1.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/root.pem" -no_nonce >"$T/o" 2>&1
check_match "openssl ocsp: revoked" "op1.pem: revoked" "$(cat "$T/o")"
ca revoke --serial "$S4" --reason cessationOfOperation
openssl ocsp -issuer "$T/issuing.pem" -cert "$T/op4.pem" -url "http://127.0.0.1:$PORT" \
    -CAfile "$T/root.pem" -no_nonce >"$T/o" 2>&1
check_match "openssl ocsp: a revocation is seen at once" "op4.pem: revoked" "$(cat "$T/o")"
kill "$OCSP_PID" 2>/dev/null
wait "$OCSP_PID"
check_eq "ocsp exits 0 on SIGTERM" 0 "$?"
OCSP_PID=""
"$CA" -c "$T/ca.conf" ocsp --listen "127.0.0.1:$PORT" --pass-fd 3 3<"$T/badpass" >/dev/null 2>"$T/err"
check_match "ocsp with a wrong passphrase: UK-3015" "UK-3015" "$(cat "$T/err")"
"$CA" -c "$T/ca.conf" ocsp --listen "127.0.0.1:$PORT" --pass-fd 3 3<"$T/pass" >/dev/null 2>"$T/err"
check_match "ocsp with the CA's passphrase: UK-3015 (the OCSP key has its own)" "UK-3015" "$(cat "$T/err")"

# --- renew-ocsp ---
OLD=$(openssl x509 -in "$T/ocsp.pem" -noout -serial)
ca renew-ocsp --pass-fd 3 3<"$T/pass" </dev/null
check_eq "renew-ocsp without the OCSP key's passphrase and no terminal: exit 2" 2 "$?"
check_match "... saying to use --ocsp-pass-fd" "ocsp-pass-fd" "$(cat "$T/err")"
setsid -w "$CA" -c "$T/ca.conf" renew-ocsp --pass-fd 3 --ocsp-pass-fd 4 3<"$T/pass" 4<"$T/pass" </dev/null >/dev/null 2>"$T/err"
check_match "renew-ocsp with the CA's passphrase for the OCSP key: UK-3015" "UK-3015" "$(cat "$T/err")"
ca renew-ocsp --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
check_eq "renew-ocsp exits 0" 0 "$?"
ca export-ca --which ocsp --out "$T/ocsp2.pem"
check_fail "renew-ocsp: a new signer certificate" test "$OLD" = "$(openssl x509 -in "$T/ocsp2.pem" -noout -serial)"
check_eq "renew-ocsp: the same key" "$(openssl x509 -in "$T/ocsp.pem" -noout -pubkey)" "$(openssl x509 -in "$T/ocsp2.pem" -noout -pubkey)"

# --- the audit trail ---
check_eq "every issuance audited" \
    "$(rows "SELECT COUNT(*) FROM certs WHERE unit_id IS NOT NULL")" \
    "$(rows "SELECT COUNT(*) FROM audit WHERE event = 'cert.issue'")"
check_eq "every revocation audited" \
    "$(rows "SELECT COUNT(*) FROM certs WHERE status = 'revoked'")" \
    "$(rows "SELECT COUNT(*) FROM audit WHERE event = 'cert.revoke'")"
check_fail "no secret in the audit trail" grep -q "correct horse" "$DB"

echo "1..$T_N"
t_done
