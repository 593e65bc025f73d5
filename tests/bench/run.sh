#!/bin/sh
# tests/bench/run.sh: runs every benchmark; each prints its figure and the ratio to a reference measured in the same run.
# Benchmarks never decide pass or fail of make check.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
export UKEY_ROOT="$ROOT" UKEY_BUILD="$ROOT/$BUILD"
for b in "$BUILD"/tests/bench/*; do
	[ -x "$b" ] || continue
	case "$b" in *.d | *.o) continue ;; esac
	echo "== $b"
	"$b"
done
for b in tests/bench/*.sh; do
	[ "$b" = tests/bench/run.sh ] && continue
	[ -f "$b" ] || continue
	echo "== $b"
	sh "$b"
done
