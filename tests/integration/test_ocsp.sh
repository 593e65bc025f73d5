#!/bin/sh
# tests/integration/test_ocsp.sh: `ukey-ca ocsp` against real clients (openssl ocsp, curl) on SQLite and PostgreSQL: good, revoked at once after `ukey-ca revoke`, unknown, GET and POST, errors.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ocsp.XXXXXX") || exit 1
OCSP_PID=""
PGDB=""

# stop_ocsp: SIGTERM to the responder we started; sets OCSP_RC.
stop_ocsp() {
	OCSP_RC=""
	if [ -n "$OCSP_PID" ]; then
		kill "$OCSP_PID" 2>/dev/null
		wait "$OCSP_PID"
		OCSP_RC=$?
		OCSP_PID=""
	fi
}
cleanup() {
	stop_ocsp
	if [ -n "$PGDB" ]; then
		psql -q "$UKEY_TEST_PG_URL" \
		    -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" \
		    >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

printf 'ocsp integration passphrase\n' >"$T/pass"
printf 'the OCSP key passphrase\n' >"$T/opass"

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

csr_ec() { # csr_ec DIR NAME SUBJECT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1/$2.key" -subj "$3" -out "$1/$2.csr" 2>/dev/null
}

# b64url FILE: base64 of FILE, URL-encoded (RFC 6960 appendix A).
b64url() {
	base64 -w0 "$1" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g'
}

# ask DIR CERT: openssl ocsp (POST, nonce) for CERT; output in DIR/o.
ask() {
	openssl ocsp -issuer "$1/issuing.pem" -cert "$1/$2" -url "$URL" \
	    -CAfile "$1/chain.pem" >"$1/o" 2>&1
}

# run NAME DB: the whole scenario against the store DB.
run() {
	name=$1
	db=$2
	d="$T/$name"
	mkdir -p "$d"
	ca() {
		"$CA" -d "$db" "$@" >"$d/out" 2>"$d/err"
	}

	ca init --name "OCSP Test $name" --key-file "$d/ca.key" \
	    --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass"
	check_eq "$name: init" 0 "$?"
	ca export-ca --which issuing --out "$d/issuing.pem"
	ca export-ca --which chain --out "$d/chain.pem"
	csr_ec "$d" op1 "/CN=op1"
	csr_ec "$d" op2 "/CN=op2"
	ca issue --csr "$d/op1.csr" --unit 100234 --operator zhangsan \
	    --out "$d/op1.pem" --pass-fd 3 3<"$T/pass"
	check_eq "$name: issue op1" 0 "$?"
	S1=$(sed -n 's/^serial: //p' "$d/out" | head -n 1)
	ca issue --csr "$d/op2.csr" --unit 100234 --operator lisi \
	    --out "$d/op2.pem" --pass-fd 3 3<"$T/pass"
	check_eq "$name: issue op2" 0 "$?"

	PORT=$(free_port)
	URL="http://127.0.0.1:$PORT/"
	"$CA" -d "$db" ocsp --listen "127.0.0.1:$PORT" --pass-fd 3 \
	    3<"$T/opass" >"$d/ocsp.log" 2>&1 &
	OCSP_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		curl -s -o /dev/null "$URL" && break
		sleep 0.1
		i=$((i + 1))
	done
	check "$name: ukey-ca ocsp answers on 127.0.0.1:$PORT" \
	    curl -s -o /dev/null "$URL"

	# good, signed by the delegated signer, verified by the client
	ask "$d" op1.pem
	check_match "$name: openssl ocsp: good" "op1.pem: good" "$(cat "$d/o")"
	check_match "$name: openssl ocsp: response verified" \
	    "Response verify OK" "$(cat "$d/o")"
	check_match "$name: nextUpdate given" "Next Update:" "$(cat "$d/o")"
	T1=$(grep "This Update" "$d/o")
	# the same request a second later: the cached response (same
	# thisUpdate), nonce or not (RFC 5019: not echoed)
	sleep 1.1
	openssl ocsp -issuer "$d/issuing.pem" -cert "$d/op1.pem" -url "$URL" \
	    -CAfile "$d/chain.pem" -no_nonce >"$d/o" 2>&1
	check_match "$name: good again" "op1.pem: good" "$(cat "$d/o")"
	check_eq "$name: answered from the cache" "$T1" \
	    "$(grep "This Update" "$d/o")"

	# revoke with the CLI (another process), then at once: revoked
	ca revoke --serial "$S1" --reason keyCompromise
	check_eq "$name: ukey-ca revoke" 0 "$?"
	ask "$d" op1.pem
	check_match "$name: revoked right after ukey-ca revoke" \
	    "op1.pem: revoked" "$(cat "$d/o")"
	check_match "$name: revocation reason" "Reason: keyCompromise" \
	    "$(cat "$d/o")"
	check_match "$name: revocation time" "Revocation Time: " \
	    "$(cat "$d/o")"
	check_match "$name: revoked response verified" "Response verify OK" \
	    "$(cat "$d/o")"
	ask "$d" op2.pem
	check_match "$name: the other certificate stays good" \
	    "op2.pem: good" "$(cat "$d/o")"

	# unknown serial of our issuer
	openssl ocsp -issuer "$d/issuing.pem" -serial 0x0DEADBEEF0 \
	    -url "$URL" -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: unknown serial: unknown" "0x0DEADBEEF0: unknown" \
	    "$(cat "$d/o")"
	check_match "$name: unknown answer verified" "Response verify OK" \
	    "$(cat "$d/o")"
	# another issuer: unauthorized
	openssl ocsp -issuer "$d/op2.pem" -serial 0x01 -url "$URL" \
	    -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: another issuer: unauthorized" \
	    "unauthorized" "$(cat "$d/o")"

	# GET /<base64 URL-encoded DER>, with curl
	openssl ocsp -issuer "$d/issuing.pem" -cert "$d/op2.pem" -no_nonce \
	    -reqout "$d/req2.der" >/dev/null 2>&1
	curl -s -D "$d/h" -o "$d/get.der" "$URL$(b64url "$d/req2.der")"
	check_match "$name: GET: 200" "^HTTP/1.1 200" "$(head -n 1 "$d/h")"
	check_match "$name: GET: Content-Type" \
	    "Content-Type: application/ocsp-response" "$(cat "$d/h")"
	check_match "$name: GET: Cache-Control max-age" \
	    "Cache-Control: max-age=0, public, no-transform, must-revalidate" \
	    "$(cat "$d/h")"
	openssl ocsp -respin "$d/get.der" -issuer "$d/issuing.pem" \
	    -cert "$d/op2.pem" -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: GET: good" "op2.pem: good" "$(cat "$d/o")"
	check_match "$name: GET: verified" "Response verify OK" "$(cat "$d/o")"
	curl -s -o "$d/get.der" "${URL}ocsp/$(b64url "$d/req2.der")"
	openssl ocsp -respin "$d/get.der" -issuer "$d/issuing.pem" \
	    -cert "$d/op2.pem" -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: GET with a path prefix: good" "op2.pem: good" \
	    "$(cat "$d/o")"
	openssl ocsp -issuer "$d/issuing.pem" -cert "$d/op1.pem" -no_nonce \
	    -reqout "$d/req1.der" >/dev/null 2>&1
	curl -s -o "$d/get.der" "$URL$(b64url "$d/req1.der")"
	openssl ocsp -respin "$d/get.der" -issuer "$d/issuing.pem" \
	    -cert "$d/op1.pem" -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: GET: revoked" "op1.pem: revoked" "$(cat "$d/o")"

	# POST with curl, the same bytes
	curl -s -o "$d/post.der" -H "Content-Type: application/ocsp-request" \
	    --data-binary "@$d/req2.der" "$URL"
	openssl ocsp -respin "$d/post.der" -issuer "$d/issuing.pem" \
	    -cert "$d/op2.pem" -CAfile "$d/chain.pem" >"$d/o" 2>&1
	check_match "$name: POST with curl: good" "op2.pem: good" \
	    "$(cat "$d/o")"

	# malformed requests get a malformedRequest OCSP response
	printf 'this is not DER' >"$d/junk"
	curl -s -D "$d/h" -o "$d/bad.der" \
	    -H "Content-Type: application/ocsp-request" \
	    --data-binary "@$d/junk" "$URL"
	check_match "$name: junk POST: 200" "^HTTP/1.1 200" "$(head -n 1 "$d/h")"
	check_match "$name: junk POST: malformedRequest" \
	    "Responder Error: malformedrequest \\(1\\)" \
	    "$(openssl ocsp -respin "$d/bad.der" -resp_text -noverify 2>&1)"
	head -c 30 "$d/req2.der" >"$d/trunc.der"
	curl -s -o "$d/bad.der" -H "Content-Type: application/ocsp-request" \
	    --data-binary "@$d/trunc.der" "$URL"
	check_match "$name: truncated POST: malformedRequest" \
	    "Responder Error: malformedrequest \\(1\\)" \
	    "$(openssl ocsp -respin "$d/bad.der" -resp_text -noverify 2>&1)"
	curl -s -o "$d/bad.der" "${URL}not-base64%21"
	check_match "$name: junk GET: malformedRequest" \
	    "Responder Error: malformedrequest \\(1\\)" \
	    "$(openssl ocsp -respin "$d/bad.der" -resp_text -noverify 2>&1)"

	# HTTP errors
	check_eq "$name: PUT: 405" 405 \
	    "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$URL")"
	head -c 20000 /dev/zero >"$d/big"
	check_eq "$name: 20000-byte POST: 413" 413 \
	    "$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Content-Type: application/ocsp-request" \
	    --data-binary "@$d/big" "$URL")"
	check_eq "$name: text/plain POST: 415" 415 \
	    "$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Content-Type: text/plain" --data-binary "@$d/req2.der" "$URL")"

	# a certificate issued while the responder runs: unknown -> good
	csr_ec "$d" op3 "/CN=op3"
	ca issue --csr "$d/op3.csr" --unit 100235 --operator wangwu \
	    --out "$d/op3.pem" --pass-fd 3 3<"$T/pass"
	ask "$d" op3.pem
	check_match "$name: issued while running: good" "op3.pem: good" \
	    "$(cat "$d/o")"

	stop_ocsp
	check_eq "$name: ukey-ca ocsp exits 0 on SIGTERM" 0 "$OCSP_RC"
	check_fail "$name: and stops listening" curl -s -o /dev/null "$URL"
}

run sqlite "$T/ukey.db"

if [ -n "${UKEY_TEST_PG_URL:-}" ]; then
	PGDB="ukt_ocsp_$$"
	if psql -q "$UKEY_TEST_PG_URL" -c "CREATE DATABASE $PGDB" \
	    >/dev/null 2>"$T/psql.err"; then
		run pg "${UKEY_TEST_PG_URL%/*}/$PGDB"
	else
		not_ok "create a PostgreSQL database: $(cat "$T/psql.err")"
	fi
else
	not_ok "UKEY_TEST_PG_URL is not set: the PostgreSQL half cannot run"
fi
t_done
