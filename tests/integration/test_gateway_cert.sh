#!/bin/sh
# tests/integration/test_gateway_cert.sh: the UKey login end to end with the real binaries: ukey-ca enrols ukey-sim tokens for operators registered with ukey-gateway admin, ukey-agent signs the gateway's challenge, POST /auth/cert makes a full-scope session whose identity reaches echo-upstream; every refusal (replay, other browser, other origin, expired, not yet valid, revoked, wrong EKU, untrusted, unbound, operator left, no agreement) with its code and audit row; an external CA as trust anchor with a CRL file and with an OCSP responder.
set -u
ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"
. "$ROOT/tests/lib/gateway.sh"

CA_BIN=${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca

cleanup() {
	gw_cleanup
	ag_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for f in "$GW_BIN" "$CA_BIN" "$AG_BIN" "$AG_SIM" "$AG_SOFTHSM" "$GW_ECHO"; do
	if [ ! -e "$f" ]; then
		echo "1..0 # SKIP $f missing"
		exit 0
	fi
done

ag_init # $T, SoftHSM2 and ukey-sim in it
gw_init
OTHER_ORIGIN=http://127.0.0.1:1
AG_ORIGIN=$GW_ORIGIN # ag_start's probe and ag_post's default
UP_PORT=$(gw_free_port)

# --- the CA in the gateway's store, units and operators ---
printf 'correct horse battery\n' >"$T/pass"
printf 'the OCSP key passphrase\n' >"$T/opass"
printf '[ca]\n' >"$T/ca.conf"
ca() {
	"$CA_BIN" -c "$T/ca.conf" -d "$GW_STORE" -m "$AG_SIM" "$@" \
	    >"$T/ca.out" 2>"$T/ca.err"
}
ca init --name "Gateway Test" --key-file "$T/ca.key" --pass-fd 3 \
    --ocsp-pass-fd 4 3<"$T/pass" 4<"$T/opass"
check_eq "ukey-ca init: a CA in the gateway's store" 0 "$?"

gw_routes "/hall/  GET,HEAD,POST  session scope=full" \
    "/hall/query/  GET  session scope=query"
gw_conf "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "proxy.connect_timeout_ms = 1000" "proxy.timeout_ms = 5000"
adm() {
	gw_admin admin "$@"
	_rc=$?
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/admin.err"
	return $_rc
}
check "unit U1 added (form F-1)" adm unit add --id U1 --name 一号单位 --form F-1
check "... its agreement signed (F-2)" adm unit agreement U1 --form F-2
check "... its hall authorised (F-3)" adm unit authorize U1 --form F-3
check "operator alice of U1 (F-4)" adm operator add --login alice --unit U1 \
    --name 张三 --roles "maker checker" --form F-4
check "operator bob of U1 (F-5)" adm operator add --login bob --unit U1 \
    --name 李四 --form F-5
check "operator dave of U1 (F-6)" adm operator add --login dave --unit U1 \
    --name 王五 --form F-6
check "unit U2 without an agreement (F-7)" adm unit add --id U2 --name 二号单位 \
    --form F-7
check "operator carol of U2 (F-8)" adm operator add --login carol --unit U2 \
    --name 赵六 --form F-8

# --- UKeys: one ukey-sim token, a key and certificate per operator ---
TOK=$(ag_token ukey1)
check_match "a ukey-sim token" '^[0-9a-f]+$' "$TOK"
# enroll UNIT LOGIN: sets KEY (the key id) and SERIAL; returns the status
enroll() {
	ca enroll --module "$AG_SIM" --token "$TOK" --unit "$1" --operator "$2" \
	    --out "$T/$2.pem" --pin-fd 3 --pass-fd 4 3<"$T/pin" 4<"$T/pass"
	_rc=$?
	KEY=$(sed -n 's/^key_id: //p' "$T/ca.out" | head -n 1)
	SERIAL=$(sed -n 's/^serial: //p' "$T/ca.out" | head -n 1)
	[ $_rc = 0 ] || sed 's/^/#   /' "$T/ca.err"
	return $_rc
}
check "ukey-ca enroll: alice's UKey" enroll U1 alice
K_ALICE=$TOK:$KEY
S_ALICE=$SERIAL
check "ukey-ca enroll: bob's" enroll U1 bob
K_BOB=$TOK:$KEY
check "ukey-ca enroll: carol's (unit without agreement)" enroll U2 carol
K_CAROL=$TOK:$KEY
check "ukey-ca enroll: ghost's (a login nobody registered)" enroll U2 ghost
K_GHOST=$TOK:$KEY

# --- an external CA (openssl) and a stranger CA, keys on a second token ---
TOK2=$(ag_token ukey2)
mkdir -p "$T/ext" "$T/stranger"
for c in ext stranger; do
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/$c/key.pem" -subj "/O=Bank/CN=$c Root CA" \
	    -days 365 -out "$T/$c/cert.pem" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
done
cat >"$T/ext/ext.cnf" <<EOF
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
# extcert ID CA SECTION CN: a key on ukey2, a CSR from it, a certificate
# from CA with the extensions of SECTION written back to the token
extcert() {
	pkcs11-tool --module "$AG_SOFTHSM" --token-label ukey2 --login \
	    --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "k$1" \
	    --id "$1" >/dev/null 2>&1 || return 1
	OPENSSL_CONF="$T/openssl.cnf" openssl req -new -engine pkcs11 \
	    -keyform engine \
	    -key "pkcs11:token=ukey2;id=%$1;type=private;pin-value=$PIN" \
	    -subj "/O=U1/CN=$4" -out "$T/$2/$1.csr" >/dev/null 2>&1 || return 1
	openssl x509 -req -in "$T/$2/$1.csr" -CA "$T/$2/cert.pem" \
	    -CAkey "$T/$2/key.pem" -CAcreateserial -days 30 \
	    -extfile "$T/ext/ext.cnf" -extensions "$3" \
	    -out "$T/$2/$1.pem" >/dev/null 2>&1 || return 1
	openssl x509 -in "$T/$2/$1.pem" -outform DER -out "$T/$2/$1.der" &&
	    pkcs11-tool --module "$AG_SOFTHSM" --token-label ukey2 --login \
	    --pin "$PIN" --write-object "$T/$2/$1.der" --type cert --id "$1" \
	    --label "k$1" >/dev/null 2>&1
}
check "external CA: a client certificate on ukey2" extcert 01 ext client dave
check "external CA: a serverAuth-only one" extcert 02 ext server dave-server
check "external CA: one to be revoked" extcert 03 ext client dave-revoked
check "a stranger CA's client certificate" extcert 04 stranger client dave-x
check "external CA: one more, first asked for with the responder down" \
    extcert 05 ext client dave-later
K_EXT=$TOK2:01
K_EXT_SERVER=$TOK2:02
K_EXT_REVOKED=$TOK2:03
K_STRANGER=$TOK2:04
K_EXT_LATER=$TOK2:05
for i in 01 02 03 05; do
	check "bind the external certificate $i to dave" adm operator bind-cert \
	    dave --cert "$T/ext/$i.pem" --form "F-B$i"
done
check "bind the stranger's certificate to dave" adm operator bind-cert dave \
    --cert "$T/stranger/04.pem" --form F-B04
# The external CA's CRL (03 revoked) and its OCSP index.
cat >"$T/ext/ca.cnf" <<EOF
[ca]
default_ca = ext
[ext]
database = $T/ext/index.txt
crlnumber = $T/ext/crlnumber
default_md = sha256
default_crl_days = 7
EOF
: >"$T/ext/index.txt"
echo 01 >"$T/ext/crlnumber"
for i in 01 02 03 05; do
	ser=$(openssl x509 -in "$T/ext/$i.pem" -noout -serial | cut -d= -f2)
	end=$(openssl x509 -in "$T/ext/$i.pem" -noout -enddate | cut -d= -f2)
	end=$(date -u -d "$end" +%y%m%d%H%M%SZ)
	subj=$(openssl x509 -in "$T/ext/$i.pem" -noout -subject -nameopt compat |
	    sed 's/^subject=//')
	if [ $i = 03 ]; then
		printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t%s\n' "$end" \
		    "$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)" "$ser" "$subj"
	else
		printf 'V\t%s\t\t%s\tunknown\t%s\n' "$end" "$ser" "$subj"
	fi >>"$T/ext/index.txt"
done
check "the external CA's CRL (openssl ca -gencrl)" openssl ca -config \
    "$T/ext/ca.cnf" -gencrl -keyfile "$T/ext/key.pem" -cert "$T/ext/cert.pem" \
    -out "$T/ext/crl.pem" -batch 2>/dev/null

# --- agent and upstream ---
ag_conf "$T/agent.conf" "allowed_origins = $GW_ORIGIN $OTHER_ORIGIN"
check "ukey-agent starts (pin_source request, ukey-sim)" ag_start \
    "$T/agent.conf"
gw_bg upstream "$GW_ECHO" --port "$UP_PORT" --jwks-url \
    "$GW/.well-known/jwks.json" --issuer "$GW_ORIGIN" --audience ukey-hall
UP_PID=$GW_BG_PID
check "echo-upstream starts" gw_wait_url "http://127.0.0.1:$UP_PORT/" "$UP_PID"

# The gateway with the external CA's anchor and CRL.
gw_conf "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "proxy.connect_timeout_ms = 1000" "proxy.timeout_ms = 5000" \
    "auth.anchors = $T/ext/cert.pem" "auth.crls = $T/ext/crl.pem"
check "the gateway starts (own CA, external anchor with a CRL)" gw_start

# sign JAR CERTID [ORIGIN]: a challenge for JAR, the agent's token for it
# (asked as ORIGIN, default the gateway's) in $T/token; NONCE and CSRF set
sign() {
	gw_pre "$1" || return 1
	_st=$(ag_post /v1/authenticate \
	    "{\"nonce\":\"$NONCE\",\"certificate\":\"$2\",\"pin\":\"$PIN\"}" \
	    "${3:-$GW_ORIGIN}")
	cp "$T/body" "$T/token"
	[ "$_st" = 200 ] || echo "# agent answered $_st: $(cat "$T/body")"
	[ "$_st" = 200 ]
}
# post_token JAR: POST /auth/cert with $T/token and $NONCE, $CSRF; status
post_token() {
	gw_post_json "$1" /auth/cert \
	    "{\"token\":$(cat "$T/token"),\"nonce\":\"$NONCE\"}" "$CSRF"
}
# login JAR CERTID [ORIGIN]: both; the gateway's status in ST
login() {
	if sign "$@"; then
		ST=$(post_token "$1")
	else
		ST=agent
	fi
}
# refused NAME STATUS CODE [SEED]: the answer in $T/body is that refusal,
# with the seed message when given, and its event finds an audit row with
# the code as result
refused() {
	check_eq "$1: HTTP $3" "$2 $3" "$ST $(gw_code)"
	if [ -n "${4:-}" ]; then
		check_match "$1: the seed message 「$4」" "\"seed\":\"$4\"" \
		    "$(cat "$T/body")"
	fi
	_ev=$(gw_event)
	check_match "$1: an event number" '^[0-9A-F]{32}$' "$_ev"
	check_eq "$1: the event's audit row" "login.cert|$3" \
	    "$(gw_sql "SELECT event, result FROM audit WHERE event_id = '$_ev'")"
}

# --- 1. the login ---
login "$T/jar.a" "$K_ALICE"
check_eq "alice logs in with her UKey: 200" 200 "$ST"
check_match "... the session cookie is set" \
    '^Set-Cookie: __Host-ukey-session=[A-Za-z0-9_-]{43}; Path=/;.*Secure.*HttpOnly' \
    "$(cat "$T/hdr")"
check_match "... the answer has a CSRF token" '"csrf":"[A-Za-z0-9_-]{43}"' \
    "$(cat "$T/body")"
cp "$T/body" "$T/alice.login"
cp "$T/token" "$T/alice.token"
ST=$(gw_jar "$T/jar.a" "$GW/auth/session")
check_eq "GET /auth/session: 200" 200 "$ST"
check_eq "... login alice" alice "$(gw_json "$T/body" 'j["login"]')"
check_eq "... unit U1" U1 "$(gw_json "$T/body" 'j["unit"]')"
check_eq "... scope full" full "$(gw_json "$T/body" 'j["scope"]')"
check_eq "... method cert" cert "$(gw_json "$T/body" 'j["method"]')"
check_eq "... roles" '["maker", "checker"]' "$(gw_json "$T/body" 'j["roles"]')"
check_match "the login's audit row" "^login.cert\|operator:alice\|ok$" \
    "$(gw_sql "SELECT event, actor, result FROM audit WHERE event = 'login.cert' AND result = 'ok'")"

# The proxied request, with forged identity headers in three spellings.
ST=$(gw_jar "$T/jar.a" -H 'X-Ukey-Operator: 999' -H 'x-ukey-operator: 998' \
    -H 'X_Ukey_Operator: 997' -H 'X-Ukey-Unit: EVIL' "$GW/hall/list?page=1")
check_eq "a full-scope route is proxied: 200" 200 "$ST"
cp "$T/body" "$T/echo.json"
check_eq "... it reached echo-upstream" "GET /hall/list page=1" \
    "$(gw_json "$T/echo.json" 'j["method"] + " " + j["path"] + " " + j["query"]')"
PID_ALICE=$(gw_sql "SELECT id FROM operators WHERE login = 'alice'")
hv() { # hv NAME: every value of header NAME in any spelling, one line
	gw_json "$T/echo.json" "sorted(sum([v if isinstance(v, list) else [v] for k, v in j['headers'].items() if k.lower().replace('_', '-') == '$1'], []))"
}
check_eq "X-Ukey-Operator: alice's number only" "[\"$PID_ALICE\"]" \
    "$(hv x-ukey-operator)"
check_eq "X-Ukey-Unit: U1 only" '["U1"]' "$(hv x-ukey-unit)"
check_eq "X-Ukey-Login" '["alice"]' "$(hv x-ukey-login)"
check_eq "X-Ukey-Roles" '["maker checker"]' "$(hv x-ukey-roles)"
check_eq "X-Ukey-Method" '["cert"]' "$(hv x-ukey-method)"
check_eq "X-Ukey-Scope" '["full"]' "$(hv x-ukey-scope)"
check_match "X-Ukey-Request-Id" '^\["[0-9a-f]{32}"\]$' "$(hv x-ukey-request-id)"
RID=$(sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p' "$T/hdr")
[ -n "$RID" ] || sed 's/^/#   /' "$T/hdr"
check_eq "... the gateway's request id" "$RID" \
    "$(gw_json "$T/echo.json" 'j["headers"]["X-Ukey-Request-Id"]')"
check_eq "no forged value reached the upstream" "[]" \
    "$(gw_json "$T/echo.json" '[k for k, v in j["headers"].items() if set(v if isinstance(v, list) else [v]) & {"997", "998", "999", "EVIL"}]')"
check_eq "the assertion verifies (echo-upstream's verdict)" true \
    "$(gw_json "$T/echo.json" 'j["assertion"]["valid"]')"
check_eq "... its claims name alice" alice \
    "$(gw_json "$T/echo.json" 'j["assertion"]["claims"].get("login")')"

# --- 2. refusals of the protocol ---
ST=$(post_token "$T/jar.a")
refused "the same token again (replay)" 401 UK-4001
sign "$T/jar.b" "$K_ALICE"
N_B=$NONCE
gw_pre "$T/jar.c" # a second browser with its own cookie and CSRF token
NONCE=$N_B
ST=$(post_token "$T/jar.c")
refused "a nonce of another browser" 401 UK-4002
login "$T/jar.c" "$K_ALICE" "$OTHER_ORIGIN"
refused "a token the agent signed for another origin" 401 UK-4004
# The same token with its "origin" removed: the signature is checked with
# the gateway's own origin and fails.
gw_pre "$T/jar.c"
_st=$(ag_post /v1/authenticate \
    "{\"nonce\":\"$NONCE\",\"certificate\":\"$K_ALICE\",\"pin\":\"$PIN\"}" \
    "$OTHER_ORIGIN")
python3 -c 'import json, sys
j = json.load(open(sys.argv[1])); del j["origin"]
json.dump(j, open(sys.argv[2], "w"))' "$T/body" "$T/token"
ST=$(post_token "$T/jar.c")
refused "... without its origin member: the signature fails" 401 UK-3111 \
    签名失败，或者您已经取消签名

# --- 3. the certificate's binding, operator and unit ---
login "$T/jar.g" "$K_GHOST"
refused "a certificate bound to no operator" 403 UK-4005 证书非法或者不存在
login "$T/jar.k" "$K_CAROL"
refused "a unit without a signed agreement" 403 UK-5003

# bob logs in, then leaves.
login "$T/jar.bob" "$K_BOB"
check_eq "bob logs in" 200 "$ST"
ST=$(gw_jar "$T/jar.bob" "$GW/hall/x")
check_eq "... his session reaches the hall" 200 "$ST"
check "admin operator leave bob (F-9)" adm operator leave bob --form F-9
ST=$(gw_jar "$T/jar.bob" "$GW/hall/x")
check_eq "bob's session is refused on its next request: 401 UK-4403" \
    "401 UK-4403" "$ST $(gw_code)"
login "$T/jar.bob2" "$K_BOB"
refused "bob's next login: operator left" 403 UK-4105

# --- 4. external CA: anchor and CRL ---
login "$T/jar.d" "$K_EXT"
check_eq "dave logs in with the external CA's certificate" 200 "$ST"
ST=$(gw_jar "$T/jar.d" "$GW/auth/session")
check_eq "... as dave, scope full" "dave full" \
    "$(gw_json "$T/body" 'j["login"] + " " + j["scope"]')"
login "$T/jar.d2" "$K_EXT_REVOKED"
refused "external: revoked in the CRL" 401 UK-3103 证书非法或者不存在
login "$T/jar.d3" "$K_EXT_SERVER"
refused "external: serverAuth only (wrong EKU)" 401 UK-3104 \
    错误代码：证书信息获取出错
login "$T/jar.d4" "$K_STRANGER"
refused "a CA nobody configured (untrusted)" 401 UK-3100 \
    签名失败，请确认签名控件，根证书已被导入

# --- 5. the clock: expired and not yet valid ---
gw_stop
NA=$(openssl x509 -in "$T/alice.pem" -noout -enddate | cut -d= -f2)
AHEAD=$(($(date -u -d "$NA" +%s) + 86400 - $(date +%s)))
UKEY_TEST_NOW=$AHEAD gw_start --test-clock
login "$T/jar.t1" "$K_ALICE"
refused "a day after notAfter: expired" 401 UK-3101 证书非法或者不存在
gw_stop
UKEY_TEST_NOW=-172800 gw_start --test-clock
login "$T/jar.t2" "$K_ALICE"
refused "two days before notBefore: not yet valid" 401 UK-3102 \
    证书非法或者不存在
gw_stop
check "the gateway starts again on the real clock" gw_start

# --- 6. revocation of an own certificate: the very next login ---
login "$T/jar.r0" "$K_ALICE"
check_eq "alice logs in before the revocation" 200 "$ST"
ca revoke --serial "$S_ALICE" --reason keyCompromise
check_eq "ukey-ca revoke alice's certificate" 0 "$?"
login "$T/jar.r1" "$K_ALICE"
refused "the next login: revoked" 401 UK-3103 证书非法或者不存在

# --- 7. external CA by OCSP (openssl ocsp as the responder) ---
gw_stop
OC_PORT=$(gw_free_port)
gw_bg ocsp openssl ocsp -index "$T/ext/index.txt" -port "$OC_PORT" \
    -ignore_err \
    -rsigner "$T/ext/cert.pem" -rkey "$T/ext/key.pem" -CA "$T/ext/cert.pem" \
    -nmin 5
OC_PID=$GW_BG_PID
check "openssl ocsp responds" gw_wait_url "http://127.0.0.1:$OC_PORT/" "$OC_PID"
gw_conf "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "auth.anchors = $T/ext/cert.pem" "auth.ocsp_url = http://127.0.0.1:$OC_PORT"
check "the gateway starts (external anchor with OCSP)" gw_start
login "$T/jar.o1" "$K_EXT"
check_eq "OCSP: dave's good certificate logs in" 200 "$ST"
login "$T/jar.o2" "$K_EXT_REVOKED"
refused "OCSP: the revoked one is refused" 401 UK-3103 证书非法或者不存在
gw_kill "$OC_PID"
login "$T/jar.o3" "$K_EXT_LATER"
check_eq "OCSP responder down: fail closed (503 UK-3106)" "503 UK-3106" \
    "$ST $(gw_code)"

# An explicit binding removed (the good certificate's OCSP answer is cached).
SHA_EXT=$(openssl x509 -in "$T/ext/01.pem" -outform DER | sha256sum | cut -d' ' -f1)
check "admin operator unbind-cert of dave's external certificate (F-10)" \
    adm operator unbind-cert --sha256 "$SHA_EXT" --form F-10
login "$T/jar.u" "$K_EXT"
refused "after unbind-cert: bound to no operator" 403 UK-4005 \
    证书非法或者不存在

# --- the audit trail ---
check "audit verify: the chain is intact" gw_admin audit verify
check "the gateway stops cleanly" gw_stop

t_done
