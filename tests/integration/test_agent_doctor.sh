#!/bin/sh
# tests/integration/test_agent_doctor.sh: ukey-agent doctor, the real binary:
# with pcscd + vpcd + a virtual card, a ukey-sim key holding a certificate
# from the configured CA, the agent serving and a gateway answering, every
# line passes; then each failure is produced on purpose (pcscd stopped, no
# reader, no card, module path wrong, token locked, certificate expired,
# untrusted CA) and the right line fails, citing the operator's message.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

PCSC="$ROOT/tests/lib/pcsc.sh"
PCSC_DIR=""
GW_PID=""
cleanup() {
	if [ -n "$GW_PID" ]; then
		kill "$GW_PID" 2>/dev/null
		wait "$GW_PID" 2>/dev/null
	fi
	[ -n "$PCSC_DIR" ] && sh "$PCSC" stop "$PCSC_DIR" >/dev/null 2>&1
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$AG_BIN" ] || [ ! -f "$AG_SIM" ] || [ ! -f "$AG_SOFTHSM" ]; then
	echo "1..0 # SKIP ukey-agent, ukey-sim or SoftHSM2 missing"
	exit 0
fi
if ! "$AG_BIN" doctor --help >/dev/null 2>&1; then
	echo "1..0 # SKIP this ukey-agent has no doctor subcommand"
	exit 0
fi

SEED_COMPONENT="签名失败，请确认签名控件，根证书已被导入"
SEED_CANCELLED="签名失败，或者您已经取消签名"
SEED_ILLEGAL="证书非法或者不存在"

ag_init

# --- certificates: a CA of our own (openssl ca, for dates in the past; the
# verifier wants keyUsage on CA certificates)
mkdir "$T/ca/new" "$T/other"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ca/key.pem" -subj "/CN=Doctor Test CA" -days 30 \
    -addext "basicConstraints = critical,CA:TRUE" \
    -addext "keyUsage = critical,keyCertSign,cRLSign" \
    -out "$T/ca/cert.pem" 2>/dev/null
: >"$T/ca/index.txt"
echo 1000 >"$T/ca/serial"
cat >"$T/ca/ca.cnf" <<EOF
[ca]
default_ca = dflt
[dflt]
database = $T/ca/index.txt
new_certs_dir = $T/ca/new
serial = $T/ca/serial
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
organizationName = optional
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other/key.pem" -subj "/CN=Some Other Root" -days 30 \
    -addext "basicConstraints = critical,CA:TRUE" \
    -addext "keyUsage = critical,keyCertSign,cRLSign" \
    -out "$T/other/cert.pem" 2>/dev/null

# dr_keycert LABEL ID CN START END: a key pair made here, its certificate
# (dates YYYYMMDDHHMMSSZ) from our CA, both written to token LABEL.
dr_keycert() {
	_l=$1 _id=$2 _cn=$3 _s=$4 _e=$5 _f="$T/ca/$1-$2"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$_f.key" -subj "/CN=$_cn" -out "$_f.csr" 2>/dev/null &&
	openssl ca -batch -config "$T/ca/ca.cnf" -cert "$T/ca/cert.pem" \
	    -keyfile "$T/ca/key.pem" -in "$_f.csr" -out "$_f.pem" \
	    -startdate "$_s" -enddate "$_e" -extensions leaf -notext \
	    >/dev/null 2>&1 &&
	openssl x509 -in "$_f.pem" -outform DER -out "$_f.der" &&
	pkcs11-tool --module "$AG_SOFTHSM" --token-label "$_l" --login \
	    --pin "$PIN" --write-object "$_f.key" --type privkey --id "$_id" \
	    --label "k$_id" >/dev/null 2>&1 &&
	pkcs11-tool --module "$AG_SOFTHSM" --token-label "$_l" --login \
	    --pin "$PIN" --write-object "$_f.der" --type cert --id "$_id" \
	    --label "k$_id" >/dev/null 2>&1
}
stamp() { # stamp DAYS: now + DAYS as YYYYMMDDHHMMSSZ
	date -u -d "@$(($(date +%s) + $1 * 86400))" +%Y%m%d%H%M%SZ
}

SERIAL=$(ag_token op1)
check "token op1 with a certificate from the configured CA" \
    dr_keycert op1 01 "Wang Wu" "$(stamp -1)" "$(stamp 365)"

# --- the private pcscd, a card in its reader
PCSC_DIR="$T/pcsc"
HAVE_PCSC=1
if SOCK=$(sh "$PCSC" start "$PCSC_DIR" 2>"$T/pcsc.err"); then
	export PCSCLITE_CSOCK_NAME="$SOCK"
	sh "$PCSC" card-in "$PCSC_DIR"
else
	rc=$?
	HAVE_PCSC=0
	[ $rc = 77 ] || not_ok "private pcscd starts: $(cat "$T/pcsc.err")"
	export PCSCLITE_CSOCK_NAME="$T/no-pcscd.comm"
fi

# --- a gateway answering with its Date
mkdir "$T/www"
GW_PORT=$(ag_free_port)
python3 -m http.server "$GW_PORT" --bind 127.0.0.1 --directory "$T/www" \
    >"$T/gw.log" 2>&1 &
GW_PID=$!
GW="http://127.0.0.1:$GW_PORT/"
i=0
while [ $i -lt 50 ] && ! curl -s -o /dev/null "$GW"; do
	sleep 0.1
	i=$((i + 1))
done

CONF="$T/agent.conf"
ag_conf "$CONF" "trusted_ca = $T/ca/cert.pem" \
    "allowed_origins = $AG_ORIGIN http://127.0.0.1:$GW_PORT"
check "agent starts" ag_start "$CONF"
sleep 0.7 # pcscd sees the card

# doctor CONF [ARGS]: the JSON report in $T/dr.json; exit status printed
doctor() {
	_c=$1
	shift
	"$AG_BIN" -c "$_c" doctor --json "$@" >"$T/dr.json" 2>"$T/dr.err"
	echo $?
}
# field NAME KEY [SUBSTRING]: KEY of the first check NAME (whose detail
# holds SUBSTRING)
field() {
	ag_json "$T/dr.json" "[c.get('$2', '') for c in j['checks'] if c['name'] == '$1' and '${3:-}' in c['detail']][0]"
}
count() {
	ag_json "$T/dr.json" "j['summary']['$1']"
}

# --- everything in order
rc=$(doctor "$CONF" --gateway "$GW")
if [ $HAVE_PCSC = 1 ]; then
	check_eq "good: doctor exits 0" 0 "$rc"
	check_eq "good: no FAIL" 0 "$(count fail)"
	check_eq "good: no WARN" 0 "$(count warn)"
	check_eq "good: no SKIP" 0 "$(count skip)"
	check_eq "good: 13 PASS" 13 "$(count pass)"
else
	for d in "exits 0" "no FAIL" "no WARN" "no SKIP" "13 PASS"; do
		ok "good: $d # SKIP no private pcscd here"
	done
fi
for n in "module loads" "token present" "PIN state" "certificate present" \
    "certificate expiry" "certificate chain" "agent port" "allowed origins" \
    "PIN entry" "clock"; do
	check_eq "good: $n passes" PASS "$(field "$n" status)"
done
check_match "good: the agent is recognised" "ukey-agent/" \
    "$(field "agent port" detail)"
check_match "good: the token's serial is named" "$SERIAL" \
    "$(field "token present" detail)"
"$AG_BIN" -c "$CONF" doctor --gateway "$GW" >"$T/dr.txt" 2>/dev/null
check_match "text report: a line per check" \
    "^PASS  certificate chain +\[op1\] " "$(cat "$T/dr.txt")"
check_match "text report: a summary" "^summary: [0-9]+ pass" \
    "$(cat "$T/dr.txt")"

if [ $HAVE_PCSC = 1 ]; then
	# --- no card in the reader
	sh "$PCSC" card-out "$PCSC_DIR"
	sleep 0.7
	rc=$(doctor "$CONF")
	check_eq "no card: doctor exits 1" 1 "$rc"
	check_eq "no card: card present FAILs" FAIL \
	    "$(field "card present" status)"
	check_eq "... explaining 「$SEED_CANCELLED」" "$SEED_CANCELLED" \
	    "$(field "card present" explains)"
	check_eq "... readers still PASS" PASS "$(field readers status)"

	# --- no reader at all
	sh "$PCSC" stop "$PCSC_DIR"
	sh "$PCSC" start "$PCSC_DIR" noreader >/dev/null
	rc=$(doctor "$CONF")
	check_eq "no reader: readers FAILs" FAIL "$(field readers status)"
	check_eq "... with a remedy" 1 \
	    "$(ag_json "$T/dr.json" "int(bool([c for c in j['checks'] if c['name'] == 'readers'][0]['remedy']['zh']))")"
	check_eq "... card present SKIPped" SKIP \
	    "$(field "card present" status)"

	# --- pcscd stopped
	sh "$PCSC" stop "$PCSC_DIR"
	rc=$(doctor "$CONF")
	check_eq "pcscd stopped: doctor exits 1" 1 "$rc"
	check_eq "pcscd stopped: pcscd running FAILs" FAIL \
	    "$(field "pcscd running" status)"
	check_match "... remedy: start pcscd" "pcscd" \
	    "$(ag_json "$T/dr.json" "[c for c in j['checks'] if c['name'] == 'pcscd running'][0]['remedy']['en']")"
	check_eq "... readers SKIPped" SKIP "$(field readers status)"
	check_eq "... the token layer still checked" PASS \
	    "$(field "token present" status)"
else
	for d in "no card" "no reader" "pcscd stopped"; do
		ok "$d # SKIP no private pcscd here"
	done
fi

# --- the module path wrong
ag_conf "$T/bad-module.conf" "trusted_ca = $T/ca/cert.pem" \
    "module = $T/nosuch/libvendor-pkcs11.so" \
    "module_allowlist = $T/nosuch/libvendor-pkcs11.so"
rc=$(doctor "$T/bad-module.conf")
check_eq "module path wrong: doctor exits 1" 1 "$rc"
check_eq "module path wrong: module loads FAILs" FAIL \
    "$(field "module loads" status)"
check_eq "... explaining 「$SEED_COMPONENT」" "$SEED_COMPONENT" \
    "$(field "module loads" explains)"
check_eq "... UK-2001" UK-2001 "$(field "module loads" code)"
check_eq "... token present SKIPped" SKIP "$(field "token present" status)"

# --- the token locked (ukey-sim's counter at 0)
printf 'user_left 0\nso_left 6\n' >"$T/sim/$SERIAL.state"
rc=$(doctor "$CONF")
rm -f "$T/sim/$SERIAL.state"
check_eq "token locked: doctor exits 1" 1 "$rc"
check_eq "token locked: PIN state FAILs" FAIL "$(field "PIN state" status)"
check_eq "... UK-2004" UK-2004 "$(field "PIN state" code)"
check_match "... remedy at the bank counter" "柜面" \
    "$(ag_json "$T/dr.json" "[c for c in j['checks'] if c['name'] == 'PIN state'][0]['remedy']['zh']")"

# --- a certificate expired (on a second key)
ag_token old >/dev/null
check "token old with an expired certificate" \
    dr_keycert old 02 "Zhao Liu" "$(stamp -400)" "$(stamp -10)"
rc=$(doctor "$CONF")
softhsm2-util --delete-token --token old >/dev/null 2>&1
check_eq "certificate expired: doctor exits 1" 1 "$rc"
check_eq "certificate expired: its expiry line FAILs" FAIL \
    "$(field "certificate expiry" status "[old]")"
check_match "... explaining 「$SEED_ILLEGAL」" "$SEED_ILLEGAL" \
    "$(field "certificate expiry" explains "[old]")"
check_match "... saying when" "expired on [0-9-]+ \(10 days ago\)" \
    "$(field "certificate expiry" detail "[old]")"
check_eq "... the good key's line still PASSes" PASS \
    "$(field "certificate expiry" status "[op1]")"

# --- an untrusted CA
ag_conf "$T/other.conf" "trusted_ca = $T/other/cert.pem"
rc=$(doctor "$T/other.conf")
check_eq "untrusted CA: doctor exits 1" 1 "$rc"
check_eq "untrusted CA: certificate chain FAILs" FAIL \
    "$(field "certificate chain" status)"
check_eq "... explaining 「$SEED_COMPONENT」" "$SEED_COMPONENT" \
    "$(field "certificate chain" explains)"
check_eq "... the dates still PASS" PASS \
    "$(field "certificate expiry" status)"

# --- the agent not running
ag_stop
rc=$(doctor "$CONF")
check_eq "agent stopped: agent port FAILs" FAIL "$(field "agent port" status)"

if [ "$T_FAILED" != 0 ]; then
	echo "# the last report:"
	sed 's/^/#   /' "$T/dr.json" | head -n 80
	sed 's/^/#   /' "$T/dr.err" | tail -n 10
fi
t_done
