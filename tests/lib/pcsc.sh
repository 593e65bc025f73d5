#!/bin/sh
# tests/lib/pcsc.sh: a private pcscd with the vpcd virtual reader, and a virtual card (vicc) to put in and pull out.
#
#   sh tests/lib/pcsc.sh start DIR [noreader]   prints the socket path: export it
#                                                as PCSCLITE_CSOCK_NAME
#   sh tests/lib/pcsc.sh card-in DIR             a card appears in the reader
#   sh tests/lib/pcsc.sh card-out DIR            the card is pulled out
#   sh tests/lib/pcsc.sh stop DIR                everything started here ends
#
# pcscd 1.9.9 always serves /run/pcscd/pcscd.comm (only the client library
# honours PCSCLITE_CSOCK_NAME), and it removes /run/pcscd's files when it
# exits. So that a system pcscd is never touched, this pcscd runs in a mount
# namespace of its own (unshare, needs root) where DIR/run is mounted on
# /run/pcscd and an empty tmpfs on /usr/lib/pcsc/drivers (no USB readers: a
# real reader stays with the system's pcscd). Its only reader is vpcd, from a
# copy of the driver in DIR, configured by DIR/conf/vpcd on a free TCP port P
# (vpcd makes two slots, "Virtual PCD 00 00" on P and "... 00 01" on P+1).
# noreader starts it with no reader at all.
#
# The card is Debian's vicc (vsmartcard-vpicc) emulating an ISO 7816 card
# (-t iso7816, ATR 3B 95 13 81 01 80 73 FF 01 00 0B) in slot 00 00.
#
# Every process is recorded by pid in DIR (pcscd.pid, vicc.pid) and ended by
# that pid. Exit status: 0, 1 on failure, 77 when this machine cannot run a
# private pcscd (not root, no unshare, no pcscd, vpcd or vicc).
set -u

VPCD_LIB=/usr/lib/pcsc/drivers/serial/libifdvpcd.so

die() {
	echo "pcsc.sh: $*" >&2
	exit 1
}

skip() {
	echo "pcsc.sh: $*" >&2
	exit 77
}

running() { # running PID: the process exists and is not a zombie
	kill -0 "$1" 2>/dev/null || return 1
	_s=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ "$_s" != Z ]
}

alive() { # alive PIDFILE: the process named in PIDFILE runs
	[ -s "$1" ] && running "$(cat "$1")"
}

end_pid() { # end_pid PIDFILE: TERM, wait up to 5 s, then KILL
	[ -s "$1" ] || return 0
	_p=$(cat "$1")
	if running "$_p"; then
		kill "$_p" 2>/dev/null
		_i=0
		while running "$_p" && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -9 "$_p" 2>/dev/null
	fi
	rm -f "$1"
}

port_free() { # port_free N: nothing listens on TCP port N
	if command -v ss >/dev/null 2>&1; then
		! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
	else
		python3 -c 'import socket, sys
s = socket.socket()
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0)' "$1"
	fi
}

cmd_start() {
	dir=$1
	noreader=${2:-}
	[ "$(id -u)" = 0 ] || skip "a private pcscd needs root (mount namespace)"
	command -v unshare >/dev/null 2>&1 || skip "unshare is missing"
	command -v pcscd >/dev/null 2>&1 || skip "pcscd is missing"
	[ -x /usr/bin/vicc ] || skip "vicc is missing (vsmartcard-vpicc)"
	[ -f "$VPCD_LIB" ] || skip "vpcd is missing (vsmartcard-vpcd)"
	unshare --mount --propagation private true 2>/dev/null ||
		skip "no mount namespaces here"
	if alive "$dir/pcscd.pid"; then
		die "a pcscd of $dir runs already"
	fi
	mkdir -p "$dir/run" "$dir/conf" || die "cannot create $dir"
	rm -f "$dir/run/"* "$dir/conf/"* "$dir/card"
	cp "$VPCD_LIB" "$dir/libifdvpcd.so" || die "cannot copy the vpcd driver"
	tries=0
	while :; do
		tries=$((tries + 1))
		[ $tries -le 8 ] || die "no free port pair for vpcd"
		port=$(awk -v s="$(($$ * 10 + tries))" \
		    'BEGIN { srand(s); print 20000 + 2 * int(rand() * 10000) }')
		if ! port_free "$port" || ! port_free $((port + 1)); then
			continue
		fi
		rm -f "$dir/conf/"*
		if [ -z "$noreader" ]; then
			cat >"$dir/conf/vpcd" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$port
LIBPATH      $dir/libifdvpcd.so
CHANNELID    $port
EOF
		fi
		echo "$port" >"$dir/port"
		# /run/pcscd may not exist: then a tmpfs on /run (inside the
		# namespace only) gives a place to mount DIR/run.
		# shellcheck disable=SC2016 # expanded by the inner sh
		unshare --mount --propagation private sh -c '
			d=$1
			if [ -d /run/pcscd ]; then
				mount --bind "$d/run" /run/pcscd || exit 1
			else
				mount -t tmpfs -o size=1m,mode=755 ukey-pcsc /run &&
				mkdir /run/pcscd &&
				mount --bind "$d/run" /run/pcscd || exit 1
			fi
			mount -t tmpfs -o size=1m,mode=755 ukey-pcsc \
			    /usr/lib/pcsc/drivers 2>/dev/null
			exec pcscd --foreground --info --config "$d/conf"
		' pcsc "$dir" </dev/null >"$dir/pcscd.log" 2>&1 &
		echo $! >"$dir/pcscd.pid"
		i=0
		while [ $i -lt 50 ]; do
			grep -q "daemon ready" "$dir/pcscd.log" 2>/dev/null &&
				[ -S "$dir/run/pcscd.comm" ] && break
			alive "$dir/pcscd.pid" || break
			sleep 0.1
			i=$((i + 1))
		done
		if ! alive "$dir/pcscd.pid" ||
		    ! grep -q "daemon ready" "$dir/pcscd.log"; then
			end_pid "$dir/pcscd.pid"
			sed 's/^/pcscd: /' "$dir/pcscd.log" >&2
			die "pcscd did not start"
		fi
		if [ -n "$noreader" ]; then
			break
		fi
		# vpcd opens its ports after "daemon ready" at the latest.
		i=0
		while [ $i -lt 30 ] && port_free "$port"; do
			sleep 0.1
			i=$((i + 1))
		done
		if port_free "$port"; then
			end_pid "$dir/pcscd.pid"
			continue # taken meanwhile, or vpcd failed: another port
		fi
		break
	done
	echo "$dir/run/pcscd.comm"
}

cmd_card_in() {
	dir=$1
	if [ ! -s "$dir/port" ] || ! alive "$dir/pcscd.pid"; then
		die "no pcscd in $dir"
	fi
	alive "$dir/vicc.pid" && return 0
	port=$(cat "$dir/port")
	# Debian's vicc imports PyCrypto as "Crypto"; Debian ships pycryptodome
	# as "Cryptodome": a link in DIR gives it the name vicc expects.
	mkdir -p "$dir/py"
	[ -e "$dir/py/Crypto" ] ||
	    ln -s /usr/lib/python3/dist-packages/Cryptodome "$dir/py/Crypto"
	PYTHONPATH=/usr/lib/python3/site-packages/virtualsmartcard:$dir/py \
	    /usr/bin/python3 /usr/bin/vicc -t iso7816 -H 127.0.0.1 -P "$port" \
	    </dev/null >>"$dir/vicc.log" 2>&1 &
	echo $! >"$dir/vicc.pid"
	i=0
	while [ $i -lt 50 ]; do
		alive "$dir/vicc.pid" || break
		if ss -Htn state established "( dport = :$port )" 2>/dev/null |
		    grep -q .; then
			touch "$dir/card"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	end_pid "$dir/vicc.pid"
	sed 's/^/# vicc: /' "$dir/vicc.log" >&2
	die "vicc did not connect to vpcd on port $port"
}

cmd_card_out() {
	dir=$1
	end_pid "$dir/vicc.pid"
	rm -f "$dir/card"
}

cmd_stop() {
	dir=$1
	end_pid "$dir/vicc.pid"
	end_pid "$dir/pcscd.pid"
	rm -f "$dir/card"
}

[ $# -ge 2 ] || die "usage: pcsc.sh start|card-in|card-out|stop DIR [noreader]"
case "$1" in
start) cmd_start "$2" "${3:-}" ;;
card-in) cmd_card_in "$2" ;;
card-out) cmd_card_out "$2" ;;
stop) cmd_stop "$2" ;;
*) die "unknown command $1" ;;
esac
