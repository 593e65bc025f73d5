#!/bin/sh
# tests/integration/test_ca_concurrency.sh: the two-certificates-per-unit
# limit under concurrent ukey-ca processes, on SQLite and PostgreSQL: ten
# parallel issues for a unit with one active certificate -> exactly one
# succeeds; ten for a new unit -> exactly two; five parallel reissues of one
# certificate -> exactly one; six parallel crl runs -> six distinct,
# consecutive CRL numbers.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ca_conc.XXXXXX") || exit 1
PIDS=""
PGDB=""

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$PGDB" ]; then
		psql "${UKEY_TEST_PG_URL}" -q -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

printf 'concurrent pass\n' >"$T/pass"
printf 'concurrent ocsp pass\n' >"$T/opass"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/leaf.key" -subj "/CN=Racer" -out "$T/leaf.csr" 2>/dev/null

# race NAME N CMD...: starts N copies of ukey-ca CMD at once (each with its
# own --out), waits for all, leaves exit statuses in $T/NAME.rc.* and
# stderr in $T/NAME.err.*; prints how many exited 0.
race() {
	rname=$1
	n=$2
	shift 2
	pids=""
	k=1
	# A barrier: every process waits for the go file before starting.
	rm -f "$T/go"
	while [ "$k" -le "$n" ]; do
		(
			while [ ! -e "$T/go" ]; do sleep 0.01; done
			"$CA" "$@" --out "$T/$rname.out.$k" --pass-fd 3 3<"$T/pass" \
			    >"$T/$rname.log.$k" 2>"$T/$rname.err.$k"
			echo $? >"$T/$rname.rc.$k"
		) &
		pids="$pids $!"
		k=$((k + 1))
	done
	PIDS="$PIDS $pids"
	sleep 0.2
	: >"$T/go"
	for p in $pids; do
		wait "$p"
	done
	PIDS=""
	cat "$T/$rname".rc.* | grep -c '^0$'
}

# codes NAME: the distinct UK codes in the failures' stderr.
codes() {
	cat "$T/$1".err.* 2>/dev/null | grep -o 'UK-[0-9]*' | sort -u | tr '\n' ' '
}

backend() {
	name=$1
	db=$2
	"$CA" -d "$db" init --name "Race $name" --key-file "$T/$name.key" \
	    --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass" >/dev/null 2>&1
	check_eq "$name: init" 0 "$?"
	"$CA" -d "$db" issue --csr "$T/leaf.csr" --unit UC --operator first \
	    --out "$T/$name.first.pem" --pass-fd 3 3<"$T/pass" >"$T/$name.first" 2>&1
	check_eq "$name: first certificate of UC" 0 "$?"
	first=$(sed -n 's/^serial: //p' "$T/$name.first")

	ok=$(race "$name-a" 10 -d "$db" issue --csr "$T/leaf.csr" --unit UC --operator racer)
	check_eq "$name: 10 parallel issues at 1 of 2: exactly one succeeds" 1 "$ok"
	check_eq "$name: the others fail with UK-3010 only" "UK-3010 " "$(codes "$name-a")"
	n=$("$CA" -d "$db" list --unit UC --json | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["status"] == "active"))')
	check_eq "$name: UC has exactly 2 active certificates" 2 "$n"
	check_eq "$name: only the winner wrote --out" 1 "$(ls "$T/$name-a".out.* 2>/dev/null | wc -l)"

	ok=$(race "$name-b" 10 -d "$db" issue --csr "$T/leaf.csr" --unit UNEW --operator racer)
	check_eq "$name: 10 parallel issues for a new unit: exactly two succeed" 2 "$ok"
	check_eq "$name: the others fail with UK-3010 only" "UK-3010 " "$(codes "$name-b")"

	ok=$(race "$name-c" 5 -d "$db" reissue --serial "$first" --csr "$T/leaf.csr")
	check_eq "$name: 5 parallel reissues of one certificate: exactly one succeeds" 1 "$ok"
	check_eq "$name: the others fail with UK-3012 only" "UK-3012 " "$(codes "$name-c")"
	ok=$(race "$name-crl" 6 -d "$db" crl)
	check_eq "$name: 6 parallel crl runs all succeed" 6 "$ok"
	for k in 1 2 3 4 5 6; do
		openssl crl -noout -crlnumber -in "$T/$name-crl.out.$k" 2>/dev/null |
		    sed -n 's/^crlNumber=0x//p'
	done | while read -r h; do printf '%d\n' "0x$h"; done | sort -n >"$T/$name.crlnums"
	check_eq "$name: 6 CRL numbers read" 6 "$(wc -l <"$T/$name.crlnums" | tr -d ' ')"
	check_eq "$name: the 6 CRL numbers are distinct" 6 "$(sort -u "$T/$name.crlnums" | wc -l | tr -d ' ')"
	check_eq "$name: the 6 CRL numbers are consecutive" 5 \
	    "$(($(tail -n 1 "$T/$name.crlnums") - $(head -n 1 "$T/$name.crlnums")))"
	"$CA" -d "$db" list --unit UC --json >"$T/$name.uc.json"
	check_eq "$name: UC still has 2 active, 1 revoked" "2 1" \
	    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(sum(r["status"]=="active" for r in a), sum(r["status"]=="revoked" for r in a))' "$T/$name.uc.json")"
}

backend sqlite "$T/race.sqlite"
if [ -n "${UKEY_TEST_PG_URL:-}" ]; then
	PGDB="ukey_ca_conc_$$"
	psql "$UKEY_TEST_PG_URL" -q -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
	PGURL=$(echo "$UKEY_TEST_PG_URL" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$PGDB\1#")
	backend postgresql "$PGURL"
else
	echo "# UKEY_TEST_PG_URL unset: PostgreSQL part not run"
fi

echo "1..$T_N"
t_done
