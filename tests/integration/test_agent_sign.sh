#!/bin/sh
# tests/integration/test_agent_sign.sh: challenge signatures that OpenSSL
# verifies for ES256, RS256 and PS256 tokens over HTTP and on the command
# line (tbs = H(origin) || H(nonce), signed digest H(tbs)); counter mode
# enrolment (key on the token, CSR, certificate written back); list and
# status; modules that are not allowed or do not load.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/agent.sh"

trap ag_cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -x "$AG_BIN" ] || [ ! -f "$AG_SIM" ] || [ ! -f "$AG_SOFTHSM" ]; then
	echo "1..0 # SKIP ukey-agent, ukey-sim or SoftHSM2 missing"
	exit 0
fi

ag_init
EC=$(ag_token ec)
RSA=$(ag_token rsa)
check "EC P-256 key and certificate on a token" ag_keycert ec 01 ec \
    "/CN=EC Operator/O=Unit 100234"
check "RSA 2048 key and certificate on another" ag_keycert rsa 02 rsa \
    "/CN=RSA Operator/O=Unit 100234"

# sign CERT: authenticate over HTTP with a fresh nonce; status on stdout,
# the nonce in $T/nonce, the token in $T/body
sign() {
	ag_nonce >"$T/nonce"
	ag_post /v1/authenticate \
	    "{\"nonce\":\"$(cat "$T/nonce")\",\"certificate\":\"$1\",\"pin\":\"$PIN\"}"
}

ag_conf "$T/rs.conf" "module = $AG_SOFTHSM" "counter_mode = true"
check "agent (RSA as RS256) starts" ag_start "$T/rs.conf"
for c in "$EC:01 ES256" "$RSA:02 RS256"; do
	id=${c% *}
	alg=${c#* }
	st=$(sign "$id")
	check_eq "$alg: 200" 200 "$st"
	check_eq "$alg: format" ukey-auth:1.0 "$(ag_json "$T/body" 'j["format"]')"
	check_eq "$alg: algorithm" "$alg" "$(ag_json "$T/body" 'j["algorithm"]')"
	check_match "$alg: appVersion" '^ukey-agent/' \
	    "$(ag_json "$T/body" 'j["appVersion"]')"
	check_eq "$alg: origin signed for" "$AG_ORIGIN" \
	    "$(ag_json "$T/body" 'j["origin"]')"
	check "$alg: openssl verifies the signature" ag_verify "$T/body" \
	    "$AG_ORIGIN" "$(cat "$T/nonce")"
	check_fail "$alg: ... not for another origin" ag_verify "$T/body" \
	    http://127.0.0.1:8080 "$(cat "$T/nonce")"
	check_fail "$alg: ... not for another nonce" ag_verify "$T/body" \
	    "$AG_ORIGIN" "$(ag_nonce)"
	cp "$T/body" "$T/$alg.json"
done
check_eq "ES256: raw r||s of 64 bytes" 64 \
    "$(ag_json "$T/ES256.json" 'j["signature"]' | openssl base64 -d -A | wc -c)"
check_eq "ES256: the certificate is the token's" \
    "$(openssl x509 -in "$T/ca/ec-01.pem" -outform DER | openssl base64 -A)" \
    "$(ag_json "$T/ES256.json" 'j["unverifiedCertificate"]')"
# The other allowed origin signs for itself.
ag_nonce >"$T/nonce"
st=$(ag_post /v1/authenticate \
    "{\"nonce\":\"$(cat "$T/nonce")\",\"certificate\":\"$EC:01\",\"pin\":\"$PIN\"}" \
    http://127.0.0.1:8080)
check_eq "second allowed origin: 200" 200 "$st"
check "... signed for that origin" ag_verify "$T/body" http://127.0.0.1:8080 \
    "$(cat "$T/nonce")"
st=$(sign "$EC:77")
check_eq "unknown certificate id: 404" 404 "$st"
check_match "... UK-2006" '"UK-2006"' "$(cat "$T/body")"

# Counter mode: key on the token, CSR, certificate back, then a login.
st=$(ag_post /v1/enroll "{\"subject\":\"/CN=Enrolled Operator/O=Unit 100236\",\"keyType\":\"EC\",\"label\":\"enrolled\",\"token\":\"$EC\",\"pin\":\"$PIN\"}")
check_eq "enrol: 200" 200 "$st"
NEWID=$(ag_json "$T/body" 'j["id"]')
check_match "enrol: a new id on the token" "^$EC:[0-9a-f]{32}$" "$NEWID"
ag_json "$T/body" 'j["csr"]' >"$T/new.csr"
check_match "enrol: the CSR verifies" "verify OK" \
    "$(openssl req -in "$T/new.csr" -noout -verify 2>&1)"
openssl x509 -req -in "$T/new.csr" -CA "$T/ca/cert.pem" -CAkey "$T/ca/key.pem" \
    -CAcreateserial -days 30 -outform DER -out "$T/new.der" 2>/dev/null
B64=$(openssl base64 -A -in "$T/new.der")
st=$(ag_post /v1/certificate "{\"id\":\"$EC:01\",\"certificate\":\"$B64\",\"pin\":\"$PIN\"}")
check_eq "install beside the wrong key: refused" 404 "$st"
st=$(ag_post /v1/certificate "{\"id\":\"$NEWID\",\"certificate\":\"$B64\",\"label\":\"enrolled\",\"pin\":\"$PIN\"}")
check_eq "install: 200" 200 "$st"
st=$(sign "$NEWID")
check_eq "the enrolled certificate signs" 200 "$st"
check "... and openssl verifies" ag_verify "$T/body" "$AG_ORIGIN" "$(cat "$T/nonce")"
check_match "... with the enrolled certificate" "Enrolled Operator" \
    "$(ag_json "$T/body" 'j["unverifiedCertificate"]' | openssl base64 -d -A |
        openssl x509 -inform DER -noout -subject)"

# list and status on the command line, while the server runs
out=$("$AG_BIN" -c "$T/rs.conf" list --json 2>/dev/null)
check_match "list --json: the EC certificate" "\"id\":\"$EC:01\"" "$out"
check_match "list --json: the RSA one, RS256" "\"id\":\"$RSA:02\".*\"algorithm\":\"RS256\"" "$out"
out=$("$AG_BIN" -c "$T/rs.conf" list 2>/dev/null)
check_match "list: text" "certificate $EC:01  ES256" "$out"
out=$("$AG_BIN" -c "$T/rs.conf" status --json 2>/dev/null)
check_match "status --json: the agent serves" '"listening":true' "$out"
check_match "status --json: PIN states" "\"serial\":\"$EC\".*\"state\":\"OK\"" "$out"
ag_stop
out=$("$AG_BIN" -c "$T/rs.conf" status 2>/dev/null)
check_match "status: not serving once stopped" "agent: not serving" "$out"

# PS256 for RSA keys, by configuration.
ag_conf "$T/ps.conf" "module = $AG_SOFTHSM" "rsa_algorithm = PS256"
check "agent (RSA as PS256) starts" ag_start "$T/ps.conf"
st=$(sign "$RSA:02")
check_eq "PS256: 200" 200 "$st"
check_eq "PS256: algorithm" PS256 "$(ag_json "$T/body" 'j["algorithm"]')"
check "PS256: openssl verifies the signature" ag_verify "$T/body" \
    "$AG_ORIGIN" "$(cat "$T/nonce")"
ag_stop

# On the command line, through ukey-sim.
ag_conf "$T/sim.conf"
N=$(ag_nonce)
"$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" --nonce "$N" \
    --cert "$EC:01" --pin-fd 3 3<"$T/pin" >"$T/cli.json" 2>/dev/null
check_eq "authenticate on the command line" 0 "$?"
check "... openssl verifies" ag_verify "$T/cli.json" "$AG_ORIGIN" "$N"
out=$("$AG_BIN" -c "$T/sim.conf" authenticate --origin https://evil.example \
    --nonce "$N" --pin-fd 3 3<"$T/pin" 2>&1)
check_match "command line: origin not allowed: UK-5001" "UK-5001" "$out"
out=$("$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" \
    --nonce short --pin-fd 3 3<"$T/pin" 2>&1)
check_match "command line: short nonce: UK-1006" "UK-1006" "$out"
"$AG_BIN" -c "$T/sim.conf" authenticate --origin "$AG_ORIGIN" >/dev/null 2>&1
check_eq "command line: missing --nonce is a usage error" 2 "$?"
"$AG_BIN" -c "$T/sim.conf" authenticate --help >/dev/null 2>&1
check_eq "command line: --help" 0 "$?"

# Modules that are not allowed, or do not load: clear errors, no crash.
ag_conf "$T/na.conf" "module = $AG_SOFTHSM" "module_allowlist = $AG_SIM"
out=$("$AG_BIN" -c "$T/na.conf" list 2>&1)
check_match "module not on the allowlist: UK-2008" "UK-2008" "$out"
printf 'not a module\n' >"$T/broken.so"
ag_conf "$T/broken.conf" "module = $T/broken.so" \
    "module_allowlist = $T/broken.so"
out=$("$AG_BIN" -c "$T/broken.conf" list 2>&1)
check_match "module that does not load: UK-2001" "UK-2001" "$out"
check "agent with a broken module starts" ag_start "$T/broken.conf"
st=$(ag_get /v1/status)
check_eq "... status answers" 200 "$st"
check_eq "... module not loaded" false "$(ag_json "$T/body" 'j["module"]["loaded"]')"
check_eq "... and says why" UK-2001 "$(ag_json "$T/body" 'j["module"]["error"]["code"]')"
st=$(sign "$EC:01")
check_eq "... authenticate: 503" 503 "$st"
check_match "... UK-2001" '"UK-2001"' "$(cat "$T/body")"
check "... the agent still runs" kill -0 "$AG_PID"
ag_stop
ag_conf "$T/simbad.conf"
out=$(UKEY_SIM_MODULE=/nonexistent/module.so "$AG_BIN" -c "$T/simbad.conf" \
    list 2>&1)
check_match "ukey-sim whose target does not load: UK-2001" "UK-2001" "$out"
t_done
