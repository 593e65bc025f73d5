# tests/lib/tap.sh: TAP helpers for shell integration tests; source it.
# Each check prints "ok N - text" or "not ok N - text"; tests/run.sh counts them.
T_N=0
T_FAILED=0
ok() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $*"
}
not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $*"
}
# check "text" command args...: ok when the command exits 0
check() {
	_t_desc=$1
	shift
	if "$@"; then ok "$_t_desc"; else not_ok "$_t_desc"; fi
}
# check_fail "text" command args...: ok when the command exits non-zero
check_fail() {
	_t_desc=$1
	shift
	if "$@"; then not_ok "$_t_desc"; else ok "$_t_desc"; fi
}
# check_eq "text" expected actual
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
	fi
}
# check_match "text" regex actual
check_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1"
		echo "#   expected to match: $2"
		echo "#   actual: $(printf '%s' "$3" | head -c 400)"
	fi
}
t_done() {
	[ "$T_FAILED" = 0 ]
}
