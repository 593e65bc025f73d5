# tests/bench/lib.sh: what the gateway benches share: a scratch directory cleaned up with the processes, mhd-static, a gateway with one operator logged in by password, ab rounds and their medians.
#
# Sourced by a bench after it set BENCH (its name, for messages), ROOT,
# UKEY_BUILD, N, C and ROUNDS.

. "$ROOT/tests/lib/agent.sh" # ag_free_port
GW_BIN=$UKEY_BUILD/bin/ukey-gateway
STATIC=$UKEY_BUILD/tests/tools/mhd-static

skip() {
	echo "$BENCH: skipped: $*"
	exit 0
}

# bench_tmp TAG: makes the scratch directory T; on exit every pid in PIDS
# is stopped and T removed.
bench_tmp() {
	T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/$1.XXXXXX") || exit 1
	PIDS=""
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM
}
bench_cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}

# static_start FILE: mhd-static on a free port, its "listening PORT" line
# into FILE; skips the bench when it does not start. static_port FILE
# prints the port.
static_start() {
	"$STATIC" --port 0 >"$1" 2>"$T/static.err" &
	PIDS="$PIDS $!"
	_i=0
	until grep -q '^listening ' "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 50 ] || skip "mhd-static did not start"
		sleep 0.1
	done
}
static_port() {
	sed -n 's/^listening //p' "$1"
}

# gateway_start UP_PORT [LINE]: ukey-gateway on a free port (GW_PORT, URL
# GW, pid GW_PID) proxying /hall/query/ (session, scope query) to
# 127.0.0.1:UP_PORT, LINE added to its [gateway] section; operator "bench"
# of unit U1 logged in by password: COOKIE is the session's Cookie header.
# Skips the bench when any step fails.
gateway_start() {
	GW_PORT=$(ag_free_port)
	GW="http://127.0.0.1:$GW_PORT"
	cat >"$T/routes" <<ROUTES
/hall/query/  GET,HEAD  session scope=query
ROUTES
	cat >"$T/gw.conf" <<CONF
[gateway]
listen = 127.0.0.1
port = $GW_PORT
public_origin = https://gjj.example.cn
store = $T/ukey.db
${2:-}
log_level = warn
[proxy]
upstream = http://127.0.0.1:$1
routes = $T/routes
[assertion]
key = $T/assertion.pem
CONF
	printf 'Bench-Passw0rd-2024\n' >"$T/pw"
	gw_admin unit add --id U1 --name "Bench Unit" \
	    --uscc 91350100M000100Y43 --form B-1 &&
	    gw_admin unit agreement U1 --form B-2 &&
	    gw_admin unit authorize U1 --form B-3 &&
	    gw_admin operator add --login bench --unit U1 --name Bench \
	        --roles maker --password-fd 3 --form B-4 3<"$T/pw" ||
	    skip "admin commands failed: $(tail -n 3 "$T/admin.log")"
	"$GW_BIN" -c "$T/gw.conf" serve >"$T/gw.log" 2>&1 &
	GW_PID=$!
	PIDS="$PIDS $GW_PID"
	_i=0
	until curl -s -o /dev/null "$GW/.well-known/jwks.json"; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] && kill -0 "$GW_PID" 2>/dev/null ||
		    skip "the gateway did not start: $(tail -n 3 "$T/gw.log")"
		sleep 0.1
	done
	# the pre-login cookie and CSRF token, then the session
	curl -s -D "$T/h1" -o "$T/b1" "$GW/auth/challenge"
	_pre=$(sed -n 's/^Set-Cookie: __Host-ukey-pre=\([^;]*\);.*/\1/p' "$T/h1" | tr -d '\r')
	_csrf=$(sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' "$T/b1")
	curl -s -D "$T/h2" -o "$T/b2" -H "Cookie: __Host-ukey-pre=$_pre" \
	    -H "X-CSRF-Token: $_csrf" -H 'Content-Type: application/json' \
	    --data '{"login":"bench","password":"Bench-Passw0rd-2024"}' \
	    "$GW/auth/password"
	_sess=$(sed -n 's/^Set-Cookie: __Host-ukey-session=\([^;]*\);.*/\1/p' "$T/h2" | tr -d '\r')
	[ -n "$_sess" ] || skip "password login failed: $(cat "$T/b2")"
	COOKIE="Cookie: __Host-ukey-session=$_sess"
}
gw_admin() {
	"$GW_BIN" -c "$T/gw.conf" admin "$@" >>"$T/admin.log" 2>&1
}

# run_ab URL [HEADER]: "req/s p99_ms failed" of one round of ab, with
# keep-alive (-k) unless KEEPALIVE=0 (a new connection per request).
run_ab() {
	_k=-k
	[ "${KEEPALIVE:-1}" = 0 ] && _k=
	if [ -n "${2:-}" ]; then
		ab -q $_k -n "$N" -c "$C" -H "$2" "$1" >"$T/ab.out" 2>&1
	else
		ab -q $_k -n "$N" -c "$C" "$1" >"$T/ab.out" 2>&1
	fi
	awk '/^Requests per second:/ { rps = $4 }
	    /^Failed requests:/ { failed = $3 }
	    /^Non-2xx responses:/ { non2xx = $3 }
	    /^  99%/ { p99 = $2 }
	    END { printf "%s %s %d\n", rps, p99, failed + non2xx }' "$T/ab.out"
}
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# bench_rounds A_RES A_URL A_HEADER B_RES B_URL: one warm-up round of each
# side (connections, page caches, the CPU clock), then ROUNDS alternating
# rounds, their lines into the files A_RES and B_RES.
bench_rounds() {
	run_ab "$2" "$3" >/dev/null
	run_ab "$5" >/dev/null
	: >"$1"
	: >"$4"
	_r=0
	while [ $_r -lt "$ROUNDS" ]; do
		run_ab "$2" "$3" >>"$1"
		run_ab "$5" >>"$4"
		_r=$((_r + 1))
	done
}

# bench_medians RES: "median_req/s median_p99_ms total_failed" of RES.
bench_medians() {
	echo "$(awk '{ print $1 }' "$1" | median)" \
	    "$(awk '{ print $2 }' "$1" | median)" \
	    "$(awk '{ s += $3 } END { print s + 0 }' "$1")"
}

# nginx_proxy_start UP_PORT: Debian's nginx on a free port proxying
# everything to 127.0.0.1:UP_PORT with kept-alive upstream connections and
# no authentication (URL NGX); its pid joins PIDS. Returns 1 when nginx is
# missing or does not start.
nginx_proxy_start() {
	_ng=${NGINX:-/usr/sbin/nginx}
	[ -x "$_ng" ] || return 1
	_np=$(ag_free_port)
	mkdir -p "$T/ngx/tmp"
	cat >"$T/ngx/nginx.conf" <<NGINX
daemon off;
worker_processes auto;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T/ngx/tmp/body;
	proxy_temp_path $T/ngx/tmp/proxy;
	fastcgi_temp_path $T/ngx/tmp/fastcgi;
	uwsgi_temp_path $T/ngx/tmp/uwsgi;
	scgi_temp_path $T/ngx/tmp/scgi;
	upstream business { server 127.0.0.1:$1; keepalive 64; }
	server {
		listen 127.0.0.1:$_np;
		location / {
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://business;
		}
	}
}
NGINX
	"$_ng" -p "$T/ngx" -c "$T/ngx/nginx.conf" -e "$T/ngx/error.log" \
	    >"$T/ngx/out.log" 2>&1 &
	PIDS="$! $PIDS"
	NGX="http://127.0.0.1:$_np"
	_i=0
	until curl -s -o /dev/null "$NGX/"; do
		_i=$((_i + 1))
		[ $_i -lt 50 ] || return 1
		sleep 0.1
	done
	return 0
}
