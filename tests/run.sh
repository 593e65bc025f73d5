#!/bin/sh
# tests/run.sh: runs every test suite and ends with one line "N passed, N failed".
#
# Every test program speaks TAP: "ok N - text" / "not ok N - text" lines.
# cmocka programs are switched to TAP with CMOCKA_MESSAGE_OUTPUT. A program
# that exits non-zero without reporting a failure counts as one failure.
# One throwaway PostgreSQL serves the whole run (UKEY_TEST_PG_URL) so that
# store tests run on both backends.
#
# Usage: tests/run.sh [FILTER]   (FILTER: substring of the test path)
set -u

BUILD=${BUILD:-build}
FILTER=${1:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

export UKEY_ROOT="$ROOT"
export UKEY_BUILD="$ROOT/$BUILD"
export CMOCKA_MESSAGE_OUTPUT=TAP
TMPROOT=$(mktemp -d /tmp/ukey-check.XXXXXX)
chmod 755 "$TMPROOT"
export UKEY_TEST_TMP="$TMPROOT"

passed=0
failed=0
failed_names=""

PGDIR="$TMPROOT/pg"
cleanup() {
	sh tests/lib/pg.sh stop "$PGDIR" >/dev/null 2>&1
	rm -rf "$TMPROOT"
}
trap cleanup EXIT INT TERM

if UKEY_TEST_PG_URL=$(sh tests/lib/pg.sh start "$PGDIR" 2>"$TMPROOT/pg.err"); then
	export UKEY_TEST_PG_URL
else
	echo "# PostgreSQL for tests did not start:" >&2
	sed 's/^/#   /' "$TMPROOT/pg.err" >&2
	failed=$((failed + 1))
	failed_names="$failed_names postgresql-start"
fi

run_one() {
	name=$1
	shift
	case "$name" in *"$FILTER"*) ;; *) return 0 ;; esac
	log="$TMPROOT/log.$$"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ "$f" != 0 ]; then
		echo "FAIL $name ($p passed, $f failed, $((end - start))s)"
		grep -vE '^ok [0-9]+' "$log" | tail -n 60 | sed 's/^/    /'
		failed_names="$failed_names $name"
	else
		echo "PASS $name ($p passed, $((end - start))s)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	rm -f "$log"
}

for t in "$BUILD"/tests/unit/*/*; do
	[ -x "$t" ] || continue
	run_one "$t" "$t"
done
for t in "$BUILD"/tests/conformance/*; do
	[ -x "$t" ] || continue
	run_one "$t" "$t"
done
for t in "$BUILD"/tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	run_one "$t" "$t" "tests/fuzz/corpus/$n"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	run_one "$t" sh "$t"
done

# Browser tests: playwright-core (node_modules/, `make node-modules`) driving
# Debian's chromium against the demo system; a missing node, chromium or
# node_modules is a failure, not a skip.
browser_one() {
	if ! command -v node >/dev/null 2>&1; then
		echo "not ok 1 - node (nodejs) is missing: run scripts/deps.sh"
		return 1
	fi
	node "$1"
}
for t in tests/browser/test_*.js; do
	[ -f "$t" ] || continue
	run_one "$t" browser_one "$t"
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
