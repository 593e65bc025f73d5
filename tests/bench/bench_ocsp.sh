#!/bin/sh
# tests/bench/bench_ocsp.sh: OCSP responses per second, `ukey-ca ocsp` against `openssl ocsp -index` on the same CA, same run, same client.
#
# A CA with 10,000 issued certificates is made in a store by the CA
# library (build/tests/bench/bench_ocsp_setup), with the matching OpenSSL
# index.txt. Both responders answer the same request for one of them; a
# real client checks both say "good" first. Then `ab -l` (a new connection
# per request, as OCSP clients do) posts it 20,000 times with 8 in flight,
# alternating between the two servers for ROUNDS rounds; the median of each
# is reported with the ratio, goal >= 1.5.
#
# openssl ocsp answers from one process by default: that is the reference.
# Its -multi N forks N children accepting on the same socket; that figure
# is printed too (MULTI=0 skips it) but the ratio is against the default.
#
# Environment: UKEY_BUILD (build dir), N (certificates, 10000), REQUESTS
# (20000), CONC (8), ROUNDS (3), MULTI (2), STORE (a postgresql:// URL to
# use instead of a SQLite file; its database must be empty).
set -u

ROOT=${UKEY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${UKEY_BUILD:-$ROOT/build}
N=${N:-10000}
REQUESTS=${REQUESTS:-20000}
CONC=${CONC:-8}
ROUNDS=${ROUNDS:-3}
MULTI=${MULTI:-2}

UKEY_CA=$BUILD/bin/ukey-ca
SETUP=$BUILD/tests/bench/bench_ocsp_setup

skip() {
	echo "bench_ocsp: skipped: $*"
	exit 0
}

for tool in ab openssl curl; do
	command -v $tool >/dev/null 2>&1 || skip "$tool not installed"
done
[ -x "$UKEY_CA" ] || skip "$UKEY_CA not built"
[ -x "$SETUP" ] || skip "$SETUP not built"

# fsync is free on tmpfs: issuing 10,000 certificates durably takes seconds.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	D=$(mktemp -d /dev/shm/ukey-bench-ocsp.XXXXXX)
else
	D=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ukey-bench-ocsp.XXXXXX")
fi
UKEY_PID=
OSSL_PID=
# stop PID: the process we started, and its children (openssl ocsp -multi's
# parent waits for its workers and ignores SIGTERM while it does).
stop() {
	kids=$(ps -o pid= --ppid "$1" 2>/dev/null)
	# shellcheck disable=SC2086 # a list of pids
	kill "$1" $kids 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	for p in $UKEY_PID $OSSL_PID; do
		stop "$p"
	done
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# wait_up PORT: until something answers HTTP there (10 s at most).
wait_up() {
	i=0
	while [ $i -lt 100 ]; do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# rate PORT: requests per second of one ab run, or "fail".
rate() {
	out=$(ab -l -s 10 -n "$REQUESTS" -c "$CONC" -p "$D/req.der" \
	    -T application/ocsp-request "http://127.0.0.1:$1/" 2>&1)
	failed=$(printf '%s\n' "$out" | sed -n 's/^Failed requests: *//p')
	non2xx=$(printf '%s\n' "$out" | sed -n 's/^Non-2xx responses: *//p')
	r=$(printf '%s\n' "$out" | sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p')
	if [ -z "$r" ] || [ "${failed:-0}" != 0 ] || [ -n "$non2xx" ]; then
		echo "fail"
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/# ab: /' >&2
		return 1
	fi
	echo "$r"
}

# median of the successful runs ("fail" when none was)
median() {
	tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print "fail"; else print v[int((NR + 1) / 2)] }'
}

# check_good PORT NAME: a real client must get a verified "good".
check_good() {
	out=$(openssl ocsp -issuer "$D/issuing.pem" -serial "0x$SERIAL" \
	    -url "http://127.0.0.1:$1/" -CAfile "$D/chain.pem" -no_nonce 2>&1)
	if ! printf '%s\n' "$out" | grep -q "Response verify OK" ||
	    ! printf '%s\n' "$out" | grep -q ": good"; then
		echo "bench_ocsp: $2 does not answer good:" >&2
		printf '%s\n' "$out" | sed 's/^/#   /' >&2
		exit 1
	fi
}

echo "# setting up a CA with $N certificates in $D"
"$SETUP" "${STORE:-$D/ukey.db}" "$D" "$N" || exit 1
cat "$D/root.pem" "$D/issuing.pem" >"$D/chain.pem"
SERIAL=$(sed -n "$((N / 2 + 1))p" "$D/serials.txt")
openssl ocsp -issuer "$D/issuing.pem" -serial "0x$SERIAL" -no_nonce \
    -reqout "$D/req.der" || exit 1

P_UKEY=$(free_port)
P_OSSL=$(free_port)
"$UKEY_CA" -d "${STORE:-$D/ukey.db}" ocsp --listen "127.0.0.1:$P_UKEY" \
    --pass-fd 3 3<"$D/ocsp.pass" 2>"$D/ukey.log" &
UKEY_PID=$!
# -nmin 60: a nextUpdate, as ukey-ca gives (the default of [ca]).
openssl ocsp -index "$D/index.txt" -port "$P_OSSL" -rsigner "$D/ocsp.pem" \
    -rkey "$D/ocsp-key.pem" -CA "$D/issuing.pem" -nmin 60 -ignore_err \
    >"$D/openssl.log" 2>&1 &
OSSL_PID=$!
wait_up "$P_UKEY" || {
	echo "bench_ocsp: ukey-ca ocsp did not start:" >&2
	cat "$D/ukey.log" >&2
	exit 1
}
wait_up "$P_OSSL" || {
	echo "bench_ocsp: openssl ocsp did not start" >&2
	exit 1
}
check_good "$P_UKEY" "ukey-ca ocsp"
check_good "$P_OSSL" "openssl ocsp"

# Alternating, so that a change in the machine's load hits both alike.
ukey_rates=
ossl_rates=
ratios=
i=0
while [ $i -lt "$ROUNDS" ]; do
	u=$(rate "$P_UKEY")
	o=$(rate "$P_OSSL")
	ukey_rates="$ukey_rates $u"
	ossl_rates="$ossl_rates $o"
	ratios="$ratios $(awk -v u="$u" -v o="$o" 'BEGIN {
	    if (u + 0 > 0 && o + 0 > 0) printf "%.2f", u / o; else print "-" }')"
	i=$((i + 1))
done
echo "# rounds: ukey-ca$ukey_rates; openssl$ossl_rates; ratios$ratios"
U=$(echo "$ukey_rates" | median)
O=$(echo "$ossl_rates" | median)
case "$U$O" in
*fail*)
	echo "bench_ocsp: every run of a server failed" >&2
	exit 1
	;;
esac
RATIO=$(awk -v u="$U" -v o="$O" 'BEGIN { printf "%.2f", u / o }')
echo "ocsp: ukey-ca ocsp $U/s, openssl ocsp -index $O/s, ratio ${RATIO}x (goal >= 1.5x; ab -l -n $REQUESTS -c $CONC, $N certificates, median of $ROUNDS)"

if [ "$MULTI" -gt 0 ] 2>/dev/null; then
	stop "$OSSL_PID"
	OSSL_PID=
	openssl ocsp -index "$D/index.txt" -port "$P_OSSL" \
	    -rsigner "$D/ocsp.pem" -rkey "$D/ocsp-key.pem" \
	    -CA "$D/issuing.pem" -nmin 60 -ignore_err -multi "$MULTI" \
	    >"$D/openssl-multi.log" 2>&1 &
	OSSL_PID=$!
	wait_up "$P_OSSL" || {
		echo "bench_ocsp: openssl ocsp -multi did not start" >&2
		exit 1
	}
	check_good "$P_OSSL" "openssl ocsp -multi $MULTI"
	M=$(rate "$P_OSSL")
	RM=$(awk -v u="$U" -v o="$M" 'BEGIN { if (o > 0) printf "%.2f", u / o; else print "-" }')
	echo "ocsp: (openssl ocsp -multi $MULTI, $MULTI worker processes: $M/s; ukey-ca ratio to it ${RM}x)"
fi
exit 0
