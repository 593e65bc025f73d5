# tests/lib/agent.sh: helpers for the ukey-agent integration tests; source it after tap.sh.
#
# ag_init                      temp dir $T, SoftHSM2 and ukey-sim set up in it
# ag_token LABEL               a SoftHSM2 token (PIN 123456, SO PIN 12345678);
#                              prints its serial
# ag_keycert LABEL ID TYPE SUBJECT
#                              a key pair (TYPE ec or rsa) on the token, a CSR
#                              from it (openssl's pkcs11 engine), a certificate
#                              from a throwaway CA, written back to the token
# ag_conf FILE [key = value]...  an [agent] configuration: port $AG_PORT,
#                              state_dir $T/state, origin $AG_ORIGIN, ukey-sim
#                              and SoftHSM2 allowed, pin_source request,
#                              then the lines given (later keys replace)
# ag_start CONF / ag_stop      the server, in the background, by pid
# ag_post PATH BODY [ORIGIN]   HTTP status on stdout, body in $T/body
# ag_get PATH [ORIGIN]
# ag_settle                    the last attempt's outcome is on disk
# ag_json FILE PYEXPR          a value from a JSON file (j is the object)
# ag_nonce                     a fresh 44-character nonce
# ag_verify TOKENFILE ORIGIN NONCE
#                              checks the token's signature with openssl
#                              (dgst over H(origin)||H(nonce), pkeyutl over
#                              H(H(origin)||H(nonce)))
# ag_cleanup                   stops what was started; removes $T
AG_BIN=${UKEY_BUILD:-$ROOT/build}/bin/ukey-agent
AG_SIM=${UKEY_BUILD:-$ROOT/build}/lib/ukey-sim.so
AG_SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
AG_ORIGIN=https://hall.example.gov.cn
AG_PID=""
AG_PIDS=""
PIN=123456
SOPIN=12345678

ag_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

ag_init() {
	T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/agent.XXXXXX") || exit 1
	mkdir "$T/tokens" "$T/sim" "$T/ca"
	cat >"$T/softhsm2.conf" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
	cat >"$T/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = $AG_SOFTHSM
init = 0
[req]
distinguished_name = dn
[dn]
EOF
	export SOFTHSM2_CONF="$T/softhsm2.conf"
	export UKEY_SIM_DIR="$T/sim"
	unset UKEY_SIM_MODULE UKEY_SIM_DEBUG
	printf '%s\n' "$PIN" >"$T/pin"
	printf '000000\n' >"$T/badpin"
	AG_PORT=$(ag_free_port)
	# The throwaway CA.
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/ca/key.pem" -subj "/CN=Agent Test CA" -days 30 \
	    -out "$T/ca/cert.pem" 2>/dev/null
	cp "$ROOT/tests/tools/fake-pinentry" "$T/fake-pinentry"
	chmod 755 "$T/fake-pinentry"
}

ag_token() {
	softhsm2-util --init-token --free --label "$1" --pin "$PIN" \
	    --so-pin "$SOPIN" >/dev/null 2>&1 || return 1
	pkcs11-tool --module "$AG_SOFTHSM" -L 2>/dev/null | awk -v l="$1" '
	    /token label/ { lab = $NF }
	    /serial num/ { if (lab == l) { print $NF; exit } }'
}

ag_keycert() {
	_l=$1 _id=$2 _ty=$3 _subj=$4
	case $_ty in
	ec) _kt=EC:prime256v1 ;;
	rsa) _kt=rsa:2048 ;;
	esac
	pkcs11-tool --module "$AG_SOFTHSM" --token-label "$_l" --login \
	    --pin "$PIN" --keypairgen --key-type "$_kt" --label "k$_id" \
	    --id "$_id" >/dev/null 2>&1 || return 1
	OPENSSL_CONF="$T/openssl.cnf" openssl req -new -engine pkcs11 \
	    -keyform engine \
	    -key "pkcs11:token=$_l;id=%$_id;type=private;pin-value=$PIN" \
	    -subj "$_subj" -out "$T/ca/$_l-$_id.csr" >/dev/null 2>&1 || return 1
	openssl x509 -req -in "$T/ca/$_l-$_id.csr" -CA "$T/ca/cert.pem" \
	    -CAkey "$T/ca/key.pem" -CAcreateserial -days 30 \
	    -out "$T/ca/$_l-$_id.pem" >/dev/null 2>&1 || return 1
	openssl x509 -in "$T/ca/$_l-$_id.pem" -outform DER \
	    -out "$T/ca/$_l-$_id.der" || return 1
	pkcs11-tool --module "$AG_SOFTHSM" --token-label "$_l" --login \
	    --pin "$PIN" --write-object "$T/ca/$_l-$_id.der" --type cert \
	    --id "$_id" --label "k$_id" >/dev/null 2>&1
}

ag_conf() {
	_f=$1
	shift
	{
		echo "[agent]"
		echo "port = $AG_PORT"
		echo "allowed_origins = $AG_ORIGIN http://127.0.0.1:8080"
		echo "module = $AG_SIM"
		echo "module_allowlist = $AG_SIM $AG_SOFTHSM"
		echo "pin_source = request"
		echo "pinentry = $T/fake-pinentry"
		echo "state_dir = $T/state"
		for _kv in "$@"; do
			echo "$_kv"
		done
	} | awk -F' *= *' '/^\[/ { print; next }
	    { v[$1] = $0; if (!($1 in seen)) { seen[$1] = 1; o[++n] = $1 } }
	    END { for (i = 1; i <= n; i++) print v[o[i]] }' >"$_f"
}

ag_get() {
	curl -s -g -o "$T/body" -w '%{http_code}' -H "Origin: ${2:-$AG_ORIGIN}" \
	    "http://127.0.0.1:$AG_PORT$1"
}

ag_post() {
	curl -s -g -o "$T/body" -w '%{http_code}' -H "Origin: ${3:-$AG_ORIGIN}" \
	    -H 'Content-Type: application/json' --data-binary "$2" \
	    "http://127.0.0.1:$AG_PORT$1"
}

ag_start() {
	"$AG_BIN" -c "$1" serve >>"$T/agent.log" 2>&1 &
	AG_PID=$!
	AG_PIDS="$AG_PIDS $AG_PID"
	_i=0
	while [ $_i -lt 100 ]; do
		if [ "$(ag_get /v1/status 2>/dev/null)" = 200 ]; then
			return 0
		fi
		kill -0 "$AG_PID" 2>/dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# agent did not start:"
	tail -n 20 "$T/agent.log" | sed 's/^/#   /'
	return 1
}

ag_stop() {
	if [ -n "$AG_PID" ]; then
		kill "$AG_PID" 2>/dev/null
		wait "$AG_PID" 2>/dev/null
	fi
	AG_PID=""
}

# ag_settle: waits until the worker has written the last attempt's outcome
# to the guard (it does so right after answering, before the next request).
ag_settle() {
	[ -n "$AG_PID" ] && curl -s -o /dev/null -H "Origin: $AG_ORIGIN" \
	    "http://127.0.0.1:$AG_PORT/v1/status" 2>/dev/null
	return 0
}

# ag_guard_file FILE: the count in a guard file as "failures N pending N "
# (from the newest of its two slots), nothing when there is no file.
ag_guard_file() {
	[ -f "$1" ] || return 0
	sort "$1" | tail -n 1 | awk '{ printf "failures %s pending %s ", $4, $6 }'
}

# The token worker's pid (a child of the server).
ag_worker_pid() {
	pgrep -P "$AG_PID" -f __worker | head -n 1
}

ag_json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2" 2>/dev/null
}

ag_nonce() {
	openssl rand -base64 32
}

ag_verify() {
	_tok=$1 _o=$2 _n=$3
	_d=$(mktemp -d "$T/verify.XXXXXX")
	ag_json "$_tok" 'j["unverifiedCertificate"]' | openssl base64 -d -A \
	    >"$_d/cert.der"
	ag_json "$_tok" 'j["signature"]' | openssl base64 -d -A >"$_d/sig.raw"
	_alg=$(ag_json "$_tok" 'j["algorithm"]')
	openssl x509 -inform DER -in "$_d/cert.der" -pubkey -noout \
	    >"$_d/pub.pem" || return 1
	# tbs: H(origin) || H(nonce); the signed digest H(tbs).
	printf '%s' "$_o" | openssl dgst -sha256 -binary >"$_d/tbs"
	printf '%s' "$_n" | openssl dgst -sha256 -binary >>"$_d/tbs"
	openssl dgst -sha256 -binary "$_d/tbs" >"$_d/digest"
	case $_alg in
	ES256)
		[ "$(wc -c <"$_d/sig.raw")" -eq 64 ] || return 1
		_r=$(head -c 32 "$_d/sig.raw" | od -An -tx1 | tr -d ' \n')
		_s=$(tail -c 32 "$_d/sig.raw" | od -An -tx1 | tr -d ' \n')
		printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' \
		    "$_r" "$_s" >"$_d/sig.cnf"
		openssl asn1parse -genconf "$_d/sig.cnf" -out "$_d/sig.der" \
		    >/dev/null || return 1
		openssl dgst -sha256 -verify "$_d/pub.pem" \
		    -signature "$_d/sig.der" "$_d/tbs" >/dev/null 2>&1 || return 1
		openssl pkeyutl -verify -pubin -inkey "$_d/pub.pem" \
		    -in "$_d/digest" -sigfile "$_d/sig.der" >/dev/null 2>&1
		;;
	RS256)
		openssl dgst -sha256 -verify "$_d/pub.pem" \
		    -signature "$_d/sig.raw" "$_d/tbs" >/dev/null 2>&1 || return 1
		openssl pkeyutl -verify -pubin -inkey "$_d/pub.pem" \
		    -in "$_d/digest" -sigfile "$_d/sig.raw" \
		    -pkeyopt digest:sha256 >/dev/null 2>&1
		;;
	PS256)
		openssl dgst -sha256 -verify "$_d/pub.pem" \
		    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
		    -signature "$_d/sig.raw" "$_d/tbs" >/dev/null 2>&1 || return 1
		openssl pkeyutl -verify -pubin -inkey "$_d/pub.pem" \
		    -in "$_d/digest" -sigfile "$_d/sig.raw" \
		    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
		    -pkeyopt rsa_pss_saltlen:32 >/dev/null 2>&1
		;;
	*) return 1 ;;
	esac
}

ag_cleanup() {
	for _p in $AG_PIDS; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	[ -n "${T:-}" ] && rm -rf "$T"
}
