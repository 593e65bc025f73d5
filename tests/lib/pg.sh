#!/bin/sh
# tests/lib/pg.sh: a throwaway PostgreSQL 15 for tests, run as an unprivileged user.
#
#   sh tests/lib/pg.sh start DIR       initdb in DIR, start on 127.0.0.1 (free
#                                      port), create database "ukey", print
#                                      postgresql://USER@127.0.0.1:PORT/ukey
#   sh tests/lib/pg.sh newdb DIR NAME  create database NAME, print its URL
#   sh tests/lib/pg.sh stop DIR        stop the server started in DIR (by pid)
#
# Only the URL goes to stdout; everything else goes to stderr. When run as
# root the server runs as the system user "ukeytest" (created if missing);
# DIR's parents must then be searchable by that user. Authentication is
# "trust" on 127.0.0.1 and the socket in DIR: for tests only.
set -u

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
TESTUSER=ukeytest

die() {
	echo "pg.sh: $*" >&2
	exit 1
}

# as_owner CMD ARGS...: runs CMD as the user that owns the cluster.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$TESTUSER" -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null && return 0
	# No python3: pick from a range and hope; start retries on failure.
	echo $((20000 + $$ % 20000))
}

# create_db DIR NAME: creates database NAME on the server in DIR.
create_db() {
	_port=$(cat "$1/port") || die "no server in $1"
	_user=$(cat "$1/user") || die "no server in $1"
	case "$2" in
	'' | *[!a-z0-9_]*) die "database name must be [a-z0-9_]+: $2" ;;
	esac
	"$PGBIN/createdb" -h 127.0.0.1 -p "$_port" -U "$_user" "$2" >&2 ||
	    die "createdb $2 failed"
	echo "postgresql://$_user@127.0.0.1:$_port/$2"
}

start() {
	dir=$1
	[ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found (install postgresql-15)"
	if [ -f "$dir/data/postmaster.pid" ]; then
		die "a server already runs in $dir; stop it first"
	fi
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd) || die "cannot enter $dir"
	case "$dir" in
	*[!A-Za-z0-9_./-]*) die "DIR must not contain spaces or quotes: $dir" ;;
	esac
	if [ "$(id -u)" = 0 ]; then
		# Another run may be creating the user at the same time.
		if ! id -u "$TESTUSER" >/dev/null 2>&1; then
			useradd -r -M -d /nonexistent -s /usr/sbin/nologin \
			    "$TESTUSER" >&2 || id -u "$TESTUSER" >/dev/null ||
			    die "useradd $TESTUSER failed"
		fi
		chown "$TESTUSER" "$dir" || die "chown $dir failed"
		chmod 700 "$dir"
		user=$TESTUSER
		as_owner test -w "$dir" ||
		    die "$TESTUSER cannot reach $dir (make its parents searchable)"
	else
		user=$(id -un)
	fi
	rm -rf "$dir/data"
	as_owner "$PGBIN/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 \
	    --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	}
	echo "$user" >"$dir/user"
	tries=0
	while :; do
		port=$(free_port)
		cat >>"$dir/data/postgresql.conf" <<EOF
# tests/lib/pg.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
max_connections = 100
shared_buffers = 32MB
logging_collector = off
EOF
		if as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		    -w -t 15 -s start >&2; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -ge 3 ]; then
			tail -n 20 "$dir/server.log" >&2
			die "server did not start"
		fi
	done
	echo "$port" >"$dir/port"
	create_db "$dir" ukey
}

# alive PID: true while PID runs. An exited postmaster whose parent (often
# PID 1 in containers) has not reaped it yet is a zombie: not alive.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	_state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
	    "/proc/$1/status" 2>/dev/null)
	case "$_state" in
	Z | X) return 1 ;;
	esac
	return 0
}

stop() {
	dir=$1
	pidfile="$dir/data/postmaster.pid"
	[ -f "$pidfile" ] || return 0
	pid=$(head -n 1 "$pidfile")
	case "$pid" in
	'' | *[!0-9]*) die "bad pid in $pidfile" ;;
	esac
	# SIGQUIT is PostgreSQL's immediate shutdown; fall back to SIGKILL.
	kill -QUIT "$pid" 2>/dev/null || return 0
	i=0
	while alive "$pid"; do
		i=$((i + 1))
		if [ "$i" -ge 50 ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	return 0
}

[ $# -ge 2 ] || die "usage: pg.sh start|stop DIR | newdb DIR NAME"
case "$1" in
start) start "$2" ;;
stop) stop "$2" ;;
newdb)
	[ $# -ge 3 ] || die "usage: pg.sh newdb DIR NAME"
	create_db "$2" "$3"
	;;
*) die "unknown command: $1" ;;
esac
