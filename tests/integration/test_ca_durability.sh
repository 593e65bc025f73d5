#!/bin/sh
# tests/integration/test_ca_durability.sh: issuances, revocations and CRLs
# killed with SIGKILL at random moments, on SQLite and PostgreSQL; afterwards
# every serial ukey-ca reported is in the store, none twice, every reported
# revocation is stored, the CRL lists every revoked certificate, CRL numbers
# only grow, every --out file is whole, and store and audit trail agree.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

CA="${UKEY_BUILD:-$ROOT/build}/bin/ukey-ca"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/ca_dur.XXXXXX") || exit 1
PIDS=""
PGDB=""

cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$PGDB" ]; then
		psql "${UKEY_TEST_PG_URL}" -q -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

printf 'durable pass\n' >"$T/pass"
printf 'durable ocsp pass\n' >"$T/opass"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/leaf.key" -subj "/CN=Durable" -out "$T/leaf.csr" 2>/dev/null

# A random number in [0, $1).
rnd() {
	echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}

# run_loop NAME DB N: N commands, each killed after a random delay.
run_loop() {
	name=$1
	db=$2
	n=$3
	d="$T/$name"
	mkdir -p "$d"
	: >"$d/issued"
	: >"$d/revoked"
	: >"$d/crlnums"
	: >"$d/revoked.sorted"
	"$CA" -d "$db" init --name "Durable $name" --key-file "$d/ca.key" \
	    --pass-fd 3 3<"$T/pass" --ocsp-pass-fd 4 4<"$T/opass" >/dev/null 2>"$d/init.err"
	check_eq "$name: init" 0 "$?"
	# Calibration: how long one issuance takes here; kills then land
	# anywhere from the start to twice that.
	t0=$(date +%s%N)
	"$CA" -d "$db" issue --csr "$T/leaf.csr" --unit CAL --operator cal \
	    --out "$d/out.cal.pem" --pass-fd 3 3<"$T/pass" >"$d/run.cal" 2>&1
	t1=$(date +%s%N)
	sed -n 's/^serial: //p' "$d/run.cal" >>"$d/issued"
	span=$(( (t1 - t0) / 500000 ))
	[ "$span" -ge 4 ] || span=4
	killed=0
	done_ok=0
	i=1
	while [ "$i" -le "$n" ]; do
		kind=issue
		if [ $((i % 4)) = 0 ] && [ -s "$d/issued" ]; then
			kind=revoke
		elif [ $((i % 7)) = 0 ]; then
			kind=crl
		fi
		case $kind in
		issue)
			"$CA" -d "$db" issue --csr "$T/leaf.csr" --unit "D$i" \
			    --operator "op$i" --out "$d/out.$i.pem" \
			    --pass-fd 3 3<"$T/pass" >"$d/run.$i" 2>&1 &
			;;
		revoke)
			# a reported serial not yet reported revoked
			s=$(sort "$d/issued" | comm -23 - "$d/revoked.sorted" 2>/dev/null | head -n 1)
			[ -n "$s" ] || s=$(head -n 1 "$d/issued")
			"$CA" -d "$db" revoke --serial "$s" --reason keyCompromise \
			    >"$d/run.$i" 2>&1 &
			;;
		crl)
			"$CA" -d "$db" crl --out "$d/crl.$i.pem" \
			    --pass-fd 3 3<"$T/pass" >"$d/run.$i" 2>&1 &
			;;
		esac
		pid=$!
		PIDS="$PIDS $pid"
		ms=$(rnd "$span")
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		if kill -9 "$pid" 2>/dev/null; then
			killed=$((killed + 1))
		fi
		wait "$pid" 2>/dev/null
		st=$?
		PIDS=$(echo "$PIDS" | sed "s/ $pid\$//")
		[ "$st" = 0 ] && done_ok=$((done_ok + 1))
		sed -n 's/^serial: //p' "$d/run.$i" >>"$d/issued"
		sed -n 's/^revoked: //p' "$d/run.$i" >>"$d/revoked"
		sed -n 's/^crl_number: //p' "$d/run.$i" >>"$d/crlnums"
		sort -u "$d/revoked" >"$d/revoked.sorted"
		i=$((i + 1))
	done
	echo "# $name: $n commands, kills within $span ms, $killed signalled, $done_ok completed"
	check "$name: some commands completed" test "$done_ok" -gt 0
	# After the storm: what the store holds.
	"$CA" -d "$db" list --json >"$d/list.json" 2>"$d/list.err"
	check_eq "$name: list after the kills" 0 "$?"
	python3 - "$d" <<'EOF' >"$d/check.out" 2>&1
import json, sys
d = sys.argv[1]
rows = json.load(open(d + "/list.json"))
serials = [r["serial"] for r in rows]
issued = [l.strip() for l in open(d + "/issued") if l.strip()]
revoked = [l.strip() for l in open(d + "/revoked") if l.strip()]
status = {r["serial"]: r["status"] for r in rows}
print("missing", len([s for s in issued if s not in status]))
print("dups", len(serials) - len(set(serials)))
print("shadups", len(rows) - len(set(r["sha256"] for r in rows)))
print("reported_twice", len(issued) - len(set(issued)))
print("revoked_lost", len([s for s in revoked if status.get(s) != "revoked"]))
open(d + "/store_revoked", "w").write("".join(s + "\n" for s in sorted(
    r["serial"] for r in rows if r["status"] == "revoked")))
open(d + "/store_all", "w").write("".join(s + "\n" for s in sorted(serials)))
EOF
	check_eq "$name: every reported serial is in the store" "missing 0" "$(sed -n 1p "$d/check.out")"
	check_eq "$name: no serial twice" "dups 0" "$(sed -n 2p "$d/check.out")"
	check_eq "$name: no certificate twice" "shadups 0" "$(sed -n 3p "$d/check.out")"
	check_eq "$name: no serial reported twice" "reported_twice 0" "$(sed -n 4p "$d/check.out")"
	check_eq "$name: every reported revocation is stored" "revoked_lost 0" "$(sed -n 5p "$d/check.out")"
	# Every --out file that exists is whole and in the store.
	bad=0
	for f in "$d"/out.*.pem; do
		[ -e "$f" ] || continue
		s=$(openssl x509 -in "$f" -noout -serial 2>/dev/null | cut -d= -f2)
		if [ -z "$s" ] || ! grep -qx "$s" "$d/store_all"; then
			bad=$((bad + 1))
		fi
	done
	check_eq "$name: every --out file is whole and stored" 0 "$bad"
	# CRL numbers only grow; the CRL lists every revoked certificate.
	check "$name: reported CRL numbers increase" sh -c \
	    "sort -n -c '$d/crlnums' && [ \$(sort -u '$d/crlnums' | wc -l) = \$(wc -l <'$d/crlnums') ]"
	"$CA" -d "$db" crl --out "$d/final.pem" --pass-fd 3 3<"$T/pass" >"$d/final.out" 2>&1
	check_eq "$name: final CRL" 0 "$?"
	last=$(tail -n 1 "$d/crlnums")
	num=$(sed -n 's/^crl_number: //p' "$d/final.out")
	check "$name: final CRL number above every reported one" test "$num" -gt "${last:-0}"
	openssl crl -in "$d/final.pem" -noout -text | sed -n 's/^ *Serial Number: //p' | sort >"$d/crl_serials"
	check "$name: the CRL lists exactly the revoked certificates" cmp -s "$d/crl_serials" "$d/store_revoked"
	check "$name: at least one revocation in the CRL" test -s "$d/crl_serials"
	# Store and audit trail agree: both or neither were committed.
	"$CA" -d "$db" export-ca --which issuing --out "$d/issuing.pem" >/dev/null 2>&1
	check_eq "$name: CRL signature verifies" 0 \
	    "$(openssl crl -in "$d/final.pem" -noout -CAfile "$d/issuing.pem" >/dev/null 2>&1; echo $?)"
}

run_loop sqlite "$T/sqlite.db" 40
check_eq "sqlite: integrity_check" ok "$(sqlite3 "$T/sqlite.db" 'PRAGMA integrity_check')"
check_eq "sqlite: one audit event per issuance" \
    "$(sqlite3 "$T/sqlite.db" "SELECT COUNT(*) FROM certs WHERE unit_id IS NOT NULL")" \
    "$(sqlite3 "$T/sqlite.db" "SELECT COUNT(*) FROM audit WHERE event = 'cert.issue'")"
check_eq "sqlite: one audit event per revocation" \
    "$(sqlite3 "$T/sqlite.db" "SELECT COUNT(*) FROM certs WHERE status = 'revoked'")" \
    "$(sqlite3 "$T/sqlite.db" "SELECT COUNT(*) FROM audit WHERE event = 'cert.revoke'")"

if [ -n "${UKEY_TEST_PG_URL:-}" ]; then
	PGDB="ukey_ca_dur_$$"
	psql "$UKEY_TEST_PG_URL" -q -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
	PGURL=$(echo "$UKEY_TEST_PG_URL" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$PGDB\1#")
	run_loop postgresql "$PGURL" 24
	check_eq "postgresql: one audit event per issuance" \
	    "$(psql "$PGURL" -Atq -c "SELECT COUNT(*) FROM certs WHERE unit_id IS NOT NULL")" \
	    "$(psql "$PGURL" -Atq -c "SELECT COUNT(*) FROM audit WHERE event = 'cert.issue'")"
else
	echo "# UKEY_TEST_PG_URL unset: PostgreSQL part not run"
fi

echo "1..$T_N"
t_done
