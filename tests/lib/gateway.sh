# tests/lib/gateway.sh: helpers for the ukey-gateway integration tests; source it after tap.sh, with $T a temp dir of the test.
#
# gw_free_port                 a free TCP port on 127.0.0.1
# gw_init                      GW_PORT, GW (base URL), GW_ORIGIN (the
#                              public origin, default $GW), GW_CONF,
#                              GW_STORE, GW_ROUTES, GW_LOG under $T
# gw_conf [section.key = value]...
#                              writes $GW_CONF: listen, port, public_origin,
#                              store, threads, routes, assertion key, then
#                              the settings given (later ones replace;
#                              "section.key =" with no value drops one)
# gw_routes LINE...            writes $GW_ROUTES, one rule per argument
# gw_start [serve options]     the gateway in the background (pid GW_PID),
#                              waits until it answers; env is passed on
# gw_stop                      SIGTERM, waits; returns the exit status
# gw_admin ARGS...             ukey-gateway -c $GW_CONF ARGS; output in
#                              $T/admin.out, $T/admin.err; returns status
# gw_bg NAME CMD...            any helper in the background; its pid in
#                              GW_BG_PID; output in $T/NAME.log; stopped by
#                              gw_cleanup
# gw_kill PID                  stops one helper started by gw_bg
# gw_wait_url URL [PID]        waits (10 s) until URL answers at all
# gw_req ARGS...               curl; status on stdout, body in $T/body,
#                              headers in $T/hdr (CR removed)
# gw_jar JAR ARGS...           the same as a browser with the cookie jar JAR
#                              (a file of name=value lines): sends its
#                              cookies, stores the Set-Cookie answers. The
#                              gateway's cookies are __Host- and Secure,
#                              which curl's own jar keeps from https only.
# gw_pre [JAR]                 GET /auth/challenge (with JAR, else without
#                              any cookie); sets PRE (the pre-login
#                              cookie's value), NONCE and CSRF (the login
#                              POSTs' X-CSRF-Token)
# gw_post_json JAR PATH JSON [CSRF]
#                              a JSON POST with JAR (and X-CSRF-Token)
# gw_json FILE PYEXPR          a value from a JSON file (j is the object)
# gw_code / gw_event           the error code / event id of $T/body
# gw_sql QUERY                 a query on the SQLite $GW_STORE (sqlite3,
#                              or python3's sqlite3 module), rows on stdout
# gw_cleanup                   stops the gateway and every helper
GW_BIN=${UKEY_BUILD:-$ROOT/build}/bin/ukey-gateway
GW_ECHO=${UKEY_BUILD:-$ROOT/build}/tests/tools/echo-upstream
GW_PID=""
GW_BG_PID=""
GW_BG_PIDS=""

gw_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

gw_init() {
	GW_PORT=$(gw_free_port)
	GW="http://127.0.0.1:$GW_PORT"
	GW_ORIGIN=${GW_ORIGIN:-$GW}
	GW_CONF=$T/gw.conf
	GW_STORE=$T/ukey.db
	GW_ROUTES=$T/gw.routes
	GW_LOG=$T/gw.log
	: >"$GW_LOG"
}

gw_conf() {
	{
		echo "gateway.listen = 127.0.0.1"
		echo "gateway.port = $GW_PORT"
		echo "gateway.public_origin = $GW_ORIGIN"
		echo "gateway.store = $GW_STORE"
		echo "gateway.threads = 2"
		echo "proxy.routes = $GW_ROUTES"
		echo "assertion.key = $T/assertion.pem"
		for _kv in "$@"; do
			echo "$_kv"
		done
	} | awk '{
		i = index($0, "="); k = substr($0, 1, i - 1); v = substr($0, i + 1)
		gsub(/^ +| +$/, "", k); gsub(/^ +| +$/, "", v)
		d = index(k, "."); s = substr(k, 1, d - 1); n = substr(k, d + 1)
		if (!(s in sec)) { sec[s] = 1; so[++ns] = s }
		if (!((s, n) in val)) { ko[s, ++nk[s]] = n }
		val[s, n] = v
	}
	END {
		for (a = 1; a <= ns; a++) {
			s = so[a]; out = ""
			for (b = 1; b <= nk[s]; b++)
				if (val[s, ko[s, b]] != "")
					out = out ko[s, b] " = " val[s, ko[s, b]] "\n"
			if (out != "")
				printf "[%s]\n%s", s, out
		}
	}' >"$GW_CONF"
}

gw_routes() {
	printf '%s\n' "$@" >"$GW_ROUTES"
}

gw_wait_url() {
	_i=0
	while [ $_i -lt 100 ]; do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

gw_start() {
	"$GW_BIN" -c "$GW_CONF" serve "$@" >>"$GW_LOG" 2>&1 &
	GW_PID=$!
	if gw_wait_url "$GW/.well-known/jwks.json" "$GW_PID"; then
		return 0
	fi
	echo "# the gateway did not start:"
	tail -n 10 "$GW_LOG" | sed 's/^/#   /'
	return 1
}

gw_stop() {
	[ -n "$GW_PID" ] || return 0
	kill "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	_rc=$?
	GW_PID=""
	return $_rc
}

gw_admin() {
	"$GW_BIN" -c "$GW_CONF" "$@" >"$T/admin.out" 2>"$T/admin.err"
}

gw_bg() {
	_name=$1
	shift
	"$@" >>"$T/$_name.log" 2>&1 &
	GW_BG_PID=$!
	GW_BG_PIDS="$GW_BG_PIDS $GW_BG_PID"
}

gw_kill() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	_new=""
	for _p in $GW_BG_PIDS; do
		[ "$_p" = "$1" ] || _new="$_new $_p"
	done
	GW_BG_PIDS=$_new
	return 0
}

gw_req() {
	curl -s --path-as-is -o "$T/body" -D "$T/hdr.raw" -w '%{http_code}' "$@"
	tr -d '\r' <"$T/hdr.raw" >"$T/hdr"
}

gw_jar() {
	_jar=$1
	shift
	[ -f "$_jar" ] || : >"$_jar"
	_ck=$(awk 'NF { printf "%s%s", (n++ ? "; " : ""), $0 }' "$_jar")
	if [ -n "$_ck" ]; then
		gw_req -H "Cookie: $_ck" "$@"
	else
		gw_req "$@"
	fi
	# Set-Cookie: name=value; ... (Max-Age=0 removes it)
	sed -n 's/^[Ss]et-[Cc]ookie: *//p' "$T/hdr" | while IFS= read -r _sc; do
		_nv=${_sc%%;*}
		_n=${_nv%%=*}
		grep -v "^$_n=" "$_jar" >"$_jar.new"
		case $_sc in
		*[Mm]ax-[Aa]ge=0*) ;;
		*) printf '%s\n' "$_nv" >>"$_jar.new" ;;
		esac
		mv "$_jar.new" "$_jar"
	done
}

gw_json() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2" 2>/dev/null
}

gw_code() {
	gw_json "$T/body" 'j["error"]["code"]'
}

gw_event() {
	gw_json "$T/body" 'j["error"]["event"]'
}

gw_pre() {
	PRE=""
	NONCE=""
	CSRF=""
	if [ -n "${1:-}" ]; then
		[ "$(gw_jar "$1" "$GW/auth/challenge")" = 200 ] || return 1
		PRE=$(sed -n 's/^__Host-ukey-pre=//p' "$1")
	else
		[ "$(gw_req "$GW/auth/challenge")" = 200 ] || return 1
		PRE=$(sed -n 's/^Set-Cookie: __Host-ukey-pre=\([^;]*\);.*/\1/p' \
		    "$T/hdr")
	fi
	NONCE=$(gw_json "$T/body" 'j["nonce"]')
	CSRF=$(gw_json "$T/body" 'j["csrf"]')
	[ -n "$PRE" ] && [ -n "$NONCE" ] && [ -n "$CSRF" ]
}

gw_post_json() {
	if [ -n "${4:-}" ]; then
		gw_jar "$1" -X POST -H 'Content-Type: application/json' \
		    -H "X-CSRF-Token: $4" --data-binary "$3" "$GW$2"
	else
		gw_jar "$1" -X POST -H 'Content-Type: application/json' \
		    --data-binary "$3" "$GW$2"
	fi
}

gw_sql() {
	if command -v sqlite3 >/dev/null 2>&1; then
		sqlite3 "$GW_STORE" "$1"
	else
		python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))' "$GW_STORE" "$1"
	fi
}

gw_cleanup() {
	gw_stop
	for _p in $GW_BG_PIDS; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	GW_BG_PIDS=""
}
