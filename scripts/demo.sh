#!/bin/sh
# scripts/demo.sh: the whole system on this machine for a demonstration: a CA, a demo unit with a maker and a checker, ukey-sim UKeys with enrolled certificates and a blank one for the counter, staff accounts, the gateway (SQLite), the agent, the stand-in WeChat server and the demo hall; Ctrl-C stops everything it started.
#
# Usage: scripts/demo.sh [--selftest | --background] [--dir DIR]
#                        [--port N] [--agent-port N]
#        scripts/demo.sh --stop DIR
#   (run by `make demo` after scripts/deps.sh and make)
#
#   --selftest     instead of waiting for Ctrl-C, logs in with a password and
#                  with a UKey through the agent (curl), checks the pages and
#                  the hall, prints the results and stops; exit 0 when all
#                  passed
#   --background   starts everything, writes DIR/demo.json (URLs, logins,
#                  passwords, PIN, tokens, pids) and DIR/pids, and returns
#                  with the processes still running (the browser tests use
#                  this); stop them with --stop DIR
#   --stop DIR     stops the processes a --background run wrote to DIR/pids
#   --dir DIR      the state directory (made anew on every run)
#   --port N       the gateway's port (0: any free one)
#   --agent-port N the agent's port (0: any free one)
#
# Environment (the options win):
#   DEMO_DIR         the state directory (default ./demo-state)
#   DEMO_PORT        the gateway's port (default 8080, else a free one)
#   DEMO_AGENT_PORT  the agent's port (default 24680, the login page's
#                    default; else a free one, passed to the page as
#                    ?agent=PORT)
#   UKEY_BUILD       the build directory (default ./build)
#   DEMO_GATEWAY     another ukey-gateway program to run
set -eu
umask 077

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${UKEY_BUILD:-$ROOT/build}
D=${DEMO_DIR:-$ROOT/demo-state}
MODE=wait
WANT_GW_PORT=${DEMO_PORT:-8080}
WANT_AG_PORT=${DEMO_AGENT_PORT:-24680}

usage() {
	sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# stop_pids FILE: SIGTERM to every pid in FILE, then SIGKILL to what is
# left after 5 s.
stop_pids() {
	[ -f "$1" ] || return 0
	pl=$(cat "$1")
	for p in $pl; do
		kill "$p" 2>/dev/null || true
	done
	i=0
	while [ $i -lt 50 ]; do
		alive=""
		for p in $pl; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $alive; do
		kill -9 "$p" 2>/dev/null || true
	done
	rm -f "$1"
}

while [ $# -gt 0 ]; do
	case $1 in
	--selftest) MODE=selftest ;;
	--background) MODE=background ;;
	--stop)
		[ $# -ge 2 ] || usage
		stop_pids "$2/pids"
		exit 0
		;;
	--dir)
		[ $# -ge 2 ] || usage
		D=$2
		shift
		;;
	--port)
		[ $# -ge 2 ] || usage
		WANT_GW_PORT=$2
		shift
		;;
	--agent-port)
		[ $# -ge 2 ] || usage
		WANT_AG_PORT=$2
		shift
		;;
	*) usage ;;
	esac
	shift
done
case $D in
/*) ;;
*) D=$(pwd)/$D ;;
esac

GW_BIN=${DEMO_GATEWAY:-$B/bin/ukey-gateway}
CA_BIN=$B/bin/ukey-ca
AG_BIN=$B/bin/ukey-agent
SIM=$B/lib/ukey-sim.so
STUB=$B/tests/tools/wechat-stub
HALL=$B/examples/hall
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
PIN=123456
SOPIN=12345678
PIDS=""
DETACH=0

say() { printf '%s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	# --background: what started stays up (DIR/pids says what to stop).
	[ $DETACH = 1 ] && return 0
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$GW_BIN" "$CA_BIN" "$AG_BIN" "$SIM" "$STUB"; do
	[ -e "$f" ] || die "$f is missing: run make (and make test-bins) first"
done
[ -e "$SOFTHSM" ] || die "$SOFTHSM is missing: run scripts/deps.sh"
for c in softhsm2-util pkcs11-tool openssl python3 curl; do
	command -v "$c" >/dev/null 2>&1 || die "$c is missing: run scripts/deps.sh"
done

# free_ports WANT...: one free port for each WANT (that port when it is
# free, else any), all different: every socket stays bound until all are
# chosen, or the kernel may hand out the same port twice.
free_ports() {
	python3 -c 'import socket, sys
held = []
for a in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        if int(a) == 0:
            raise OSError
        s.bind(("127.0.0.1", int(a)))
    except OSError:
        s.close(); s = socket.socket(); s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
for s in held:
    s.close()' "$@"
}

wait_url() { # URL PID
	i=0
	while [ $i -lt 300 ]; do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

bg() { # NAME CMD...: started in the background, output in $D/NAME.log
	n=$1
	shift
	"$@" >>"$D/$n.log" 2>&1 &
	LAST=$!
	PIDS="$PIDS $LAST"
	printf '%s\n' "$LAST" >>"$D/pids"
}

# --- the state directory ---
case $D in
"" | / | "$ROOT" | "$ROOT/" | "$HOME" | "$HOME/") die "refusing DEMO_DIR=$D" ;;
esac
# A state directory still in use by a --background run is stopped first.
stop_pids "$D/pids"
rm -rf "$D"
mkdir -p "$D/tokens" "$D/sim" "$D/agent-state"
read -r GW_PORT AG_PORT HALL_PORT WX_PORT <<EOF
$(free_ports "$WANT_GW_PORT" "$WANT_AG_PORT" 0 0)
EOF
[ -n "$WX_PORT" ] || die "no free ports"
GW=http://127.0.0.1:$GW_PORT
AGQ=""
[ "$AG_PORT" = 24680 ] || AGQ="?agent=$AG_PORT"

# --- the demo hall (examples/hall), linked with the gateway's library;
# make builds it (make demo, make test-bins); built here when missing or
# older than its source or the library ---
if [ ! -x "$HALL" ] || [ "$ROOT/examples/hall/hall.c" -nt "$HALL" ] ||
    [ "$B/lib/libukgw.a" -nt "$HALL" ]; then
	mkdir -p "$(dirname "$HALL")"
	say "building the demo hall ..."
	${CC:-cc} -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	    -I"$ROOT" -fPIE -pie -o "$HALL.tmp.$$" \
	    "$ROOT/examples/hall/hall.c" "$B/lib/libukgw.a" \
	    "$B/lib/libukagent.a" "$B/lib/libukcerts.a" "$B/lib/libukp11.a" \
	    "$B/lib/libukcommon.a" -lssl -lcrypto -ljansson -lsqlite3 -lpq \
	    -lmicrohttpd -lcurl -lp11 -lpcsclite -largon2 -lqrencode -lpng \
	    -ldl -lpthread -lm || die "the hall does not build"
	mv "$HALL.tmp.$$" "$HALL"
fi

# --- SoftHSM2 under ukey-sim: the UKeys ---
cat >"$D/softhsm2.conf" <<EOF
directories.tokendir = $D/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF="$D/softhsm2.conf"
export UKEY_SIM_DIR="$D/sim"
unset UKEY_SIM_MODULE UKEY_SIM_DEBUG
printf '%s\n' "$PIN" >"$D/pin"
token() { # LABEL: a new token; prints its serial
	softhsm2-util --init-token --free --label "$1" --pin "$PIN" \
	    --so-pin "$SOPIN" >/dev/null 2>&1 || return 1
	pkcs11-tool --module "$SOFTHSM" -L 2>/dev/null | awk -v l="$1" '
	    /token label/ { lab = $NF }
	    /serial num/ { if (lab == l) { print $NF; exit } }'
}

# --- the CA, in the gateway's store ---
STORE=$D/ukey.db
openssl rand -base64 24 >"$D/ca.pass"
openssl rand -base64 24 >"$D/ocsp.pass"
printf '[ca]\n' >"$D/ca.conf"
ca() {
	"$CA_BIN" -c "$D/ca.conf" -d "$STORE" -m "$SIM" "$@" \
	    >"$D/ca.out" 2>"$D/ca.err" || {
		cat "$D/ca.err" >&2
		return 1
	}
}
say "creating the CA ..."
ca init --name "演示公积金中心" --key-file "$D/ca.key" --pass-fd 3 \
    --ocsp-pass-fd 4 3<"$D/ca.pass" 4<"$D/ocsp.pass" || die "ukey-ca init failed"

# --- the gateway's configuration ---
openssl rand -hex 16 >"$D/wechat.secret"
cp "$ROOT/etc/ukey-gateway.routes" "$D/routes"
cat >"$D/gateway.conf" <<EOF
[gateway]
listen = 127.0.0.1
port = $GW_PORT
public_origin = $GW
store = $STORE
threads = 8
log_level = info

[proxy]
upstream = http://127.0.0.1:$HALL_PORT
routes = $D/routes

[assertion]
key = $D/assertion.pem
audience = ukey-hall
EOF
# Scan login through the stand-in WeChat, SMS reset with the file
# provider, the counter console with the demo CA.
cat >>"$D/gateway.conf" <<EOF

[scan]
enabled = true

[wechat]
appid = wx0123456789abcdef
secret = $(cat "$D/wechat.secret")
open_base = http://127.0.0.1:$WX_PORT
api_base = http://127.0.0.1:$WX_PORT

[sms]
provider = file
path = $D/sms.txt

[reset]
enabled = true
code_key = $(openssl rand -hex 32)

[counter]
enabled = true
ca_pass_file = $D/ca.pass
ca_config = $D/ca.conf
EOF
"$GW_BIN" -c "$D/gateway.conf" check-config >/dev/null 2>"$D/check.err" || {
	cat "$D/check.err" >&2
	die "the demo gateway configuration is refused ($D/gateway.conf)"
}
adm() {
	"$GW_BIN" -c "$D/gateway.conf" admin "$@" >"$D/admin.out" \
	    2>"$D/admin.err" || {
		cat "$D/admin.err" >&2
		return 1
	}
}

# --- unit, operators, staff ---
say "registering the demo unit, operators and staff ..."
MAKER_PW="Maker$(openssl rand -hex 3)"
CHECKER_PW="Check$(openssl rand -hex 3)"
MAKER_ID=11010519491231002X
MAKER_PHONE=13800000001
CHECKER_PHONE=13800000002
# The stand-in WeChat's default user (no stub_openid given) is the maker's
# WeChat, so that opening the QR link in a second browser logs in as the
# maker; the checker binds their own from the self-service page.
MAKER_OPENID=o6_bmjrPTlm6_2sgVt7hMZOPfL2M
CHECKER_OPENID=oDemoChecker_2
adm unit add --id DEMO01 --name "演示科技有限公司" --form DEMO-F1 || die "unit"
adm unit agreement DEMO01 --form DEMO-F2 || die "unit agreement"
adm unit authorize DEMO01 --form DEMO-F3 || die "unit authorisation"
printf '%s\n' "$MAKER_PW" >"$D/maker.pw"
printf '%s\n' "$CHECKER_PW" >"$D/checker.pw"
adm operator add --login maker --unit DEMO01 --name 张录入 --roles maker \
    --resident-id "$MAKER_ID" --phone "$MAKER_PHONE" \
    --password-fd 3 --form DEMO-F4 3<"$D/maker.pw" || die "operator maker"
adm operator add --login checker --unit DEMO01 --name 李复核 \
    --roles checker --phone "$CHECKER_PHONE" --password-fd 3 \
    --form DEMO-F5 3<"$D/checker.pw" || die "operator checker"
adm operator bind-wechat maker --openid "$MAKER_OPENID" --form DEMO-F6 ||
    die "WeChat of the maker"

say "enrolling the UKeys (ukey-sim over SoftHSM2) ..."
TOK_MAKER=$(token maker-ukey) || die "SoftHSM2 token"
TOK_CHECKER=$(token checker-ukey) || die "SoftHSM2 token"
TOK_COUNTER=$(token counter-ukey) || die "SoftHSM2 token"
TOK_HELPDESK=$(token helpdesk-ukey) || die "SoftHSM2 token"
# A blank UKey as a bank hands it out (user PIN set, no key, no
# certificate): the counter console enrols it for a new operator.
TOK_SPARE=$(token spare-ukey) || die "SoftHSM2 token"
enroll() { # TOKEN UNIT LOGIN [PROFILE]: sets KEY
	ca enroll --module "$SIM" --token "$1" --unit "$2" --operator "$3" \
	    --profile "${4:-operator}" --out "$D/$3.pem" --pin-fd 3 \
	    --pass-fd 4 3<"$D/pin" 4<"$D/ca.pass" || return 1
	KEY=$(sed -n 's/^key_id: //p' "$D/ca.out" | head -n 1)
}
enroll "$TOK_MAKER" DEMO01 maker || die "enrol maker"
K_MAKER=$TOK_MAKER:$KEY
enroll "$TOK_CHECKER" DEMO01 checker || die "enrol checker"
K_CHECKER=$TOK_CHECKER:$KEY
enroll "$TOK_COUNTER" STAFF counter1 staff || die "enrol counter1"
K_COUNTER=$TOK_COUNTER:$KEY
openssl x509 -in "$D/counter1.pem" -outform DER -out "$D/counter1.der"
enroll "$TOK_HELPDESK" STAFF helpdesk1 staff || die "enrol helpdesk1"
K_HELPDESK=$TOK_HELPDESK:$KEY
openssl x509 -in "$D/helpdesk1.pem" -outform DER -out "$D/helpdesk1.der"
adm staff add --login counter1 --name 王柜员 --roles counter \
    --cert "$D/counter1.der" || die "staff counter1"
adm staff add --login helpdesk1 --name 赵客服 --roles helpdesk \
    --cert "$D/helpdesk1.der" || die "staff helpdesk1"

# --- the processes ---
say "starting the stand-in WeChat, the hall, the gateway and the agent ..."
: >"$D/pids"
bg wechat "$STUB" --port "$WX_PORT" --secret-file "$D/wechat.secret"
wait_url "http://127.0.0.1:$WX_PORT/" "$LAST" || die "wechat-stub did not start ($D/wechat.log)"
bg hall "$HALL" --port "$HALL_PORT" --jwks-url "$GW/.well-known/jwks.json" \
    --issuer "$GW" --audience ukey-hall
wait_url "http://127.0.0.1:$HALL_PORT/" "$LAST" || die "the hall did not start ($D/hall.log)"
bg gateway "$GW_BIN" -c "$D/gateway.conf" serve
wait_url "$GW/.well-known/jwks.json" "$LAST" || die "the gateway did not start ($D/gateway.log)"
# The agent as on a counter PC too (counter_mode: enrol, unblock), so that
# the counter console works in the demo.
cat >"$D/agent.conf" <<EOF
[agent]
port = $AG_PORT
allowed_origins = $GW http://localhost:$GW_PORT
module = $SIM
module_allowlist = $SIM $SOFTHSM
pin_source = request
counter_mode = true
state_dir = $D/agent-state
log_level = info
EOF
bg agent "$AG_BIN" -c "$D/agent.conf" serve
i=0
# the agent's own answer (200 to its allowed origin), not whatever else
# might listen there
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: $GW" \
    "http://127.0.0.1:$AG_PORT/v1/status")" = 200 ]; do
	kill -0 "$LAST" 2>/dev/null || die "the agent did not start ($D/agent.log)"
	i=$((i + 1))
	[ $i -lt 300 ] || die "the agent did not answer ($D/agent.log)"
	sleep 0.1
done

# What a program driving the demo needs (the browser tests).
python3 - "$D/demo.json" <<EOF || die "demo.json"
import json, sys
pids = [int(p) for p in "$PIDS".split()]
d = {
    "dir": "$D", "gateway": "$GW", "agent": "http://127.0.0.1:$AG_PORT",
    "agentPort": $AG_PORT, "wechat": "http://127.0.0.1:$WX_PORT",
    "hall": "http://127.0.0.1:$HALL_PORT", "sms": "$D/sms.txt",
    "login": "$GW/login$AGQ", "pin": "$PIN", "soPin": "$SOPIN",
    "simDir": "$D/sim", "softhsmConf": "$D/softhsm2.conf",
    "unit": {"id": "DEMO01", "name": "演示科技有限公司"},
    "operators": {
        "maker": {"login": "maker", "name": "张录入", "password": "$MAKER_PW",
                  "residentId": "$MAKER_ID", "phone": "$MAKER_PHONE",
                  "openid": "$MAKER_OPENID", "token": "$TOK_MAKER",
                  "tokenLabel": "maker-ukey", "cert": "$K_MAKER"},
        "checker": {"login": "checker", "name": "李复核",
                    "password": "$CHECKER_PW", "phone": "$CHECKER_PHONE",
                    "openid": "$CHECKER_OPENID", "token": "$TOK_CHECKER",
                    "tokenLabel": "checker-ukey", "cert": "$K_CHECKER"},
    },
    "staff": {
        "counter1": {"login": "counter1", "name": "王柜员", "roles": ["counter"],
                     "token": "$TOK_COUNTER", "tokenLabel": "counter-ukey",
                     "cert": "$K_COUNTER"},
        "helpdesk1": {"login": "helpdesk1", "name": "赵客服",
                      "roles": ["helpdesk"], "token": "$TOK_HELPDESK",
                      "tokenLabel": "helpdesk-ukey", "cert": "$K_HELPDESK"},
    },
    "spare": {"token": "$TOK_SPARE", "tokenLabel": "spare-ukey"},
    "pids": pids,
}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(d, f, ensure_ascii=False, indent=2)
EOF

NEXTQ="?next=/hall/"
[ -n "$AGQ" ] && NEXTQ="$AGQ&next=/hall/"
cat <<EOF

  ukeygate demo is running (state in $D)

  Login page       $GW/login$NEXTQ
  Self-service     $GW/self
  Counter console  $GW/counter          Helpdesk console  $GW/helpdesk
  Demo hall        $GW/hall/          (queries: $GW/hall/query/contributions)
  UKey agent       http://127.0.0.1:$AG_PORT   (pin_source = request, counter_mode)
  WeChat stand-in  http://127.0.0.1:$WX_PORT

  Demo unit DEMO01 演示科技有限公司 (agreement signed, hall authorised)
    maker    张录入  password $MAKER_PW  or resident ID $MAKER_ID
             UKey maker-ukey, PIN $PIN; WeChat bound (open the QR link in
             another browser window to play the phone)
    checker  李复核  password $CHECKER_PW   UKey checker-ukey, PIN $PIN
  Staff (certificate login on the 证书登录 tab, PIN $PIN)
    counter1   王柜员  counter clerk     UKey counter-ukey  -> $GW/counter
    helpdesk1  赵客服  helpdesk          UKey helpdesk-ukey -> $GW/helpdesk
  A blank UKey spare-ukey (PIN $PIN) for the counter to enrol a new operator
  SMS codes (password reset) are appended to $D/sms.txt
  Everything else the demo knows: $D/demo.json

EOF

if [ $MODE = background ]; then
	DETACH=1
	say "  Running in the background; stop with: $0 --stop $D"
	exit 0
fi
if [ $MODE = wait ]; then
	say "  Ctrl-C stops everything."
	wait
	exit 0
fi

# --- --selftest: the same logins as a browser would make, with curl ---
PASS=0
FAIL=0
ok() {
	if [ "$2" = "$3" ]; then
		PASS=$((PASS + 1))
		say "ok   - $1"
	else
		FAIL=$((FAIL + 1))
		say "FAIL - $1: want [$2] got [$3]"
	fi
}
J=$D/jar
js() { python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2" 2>/dev/null; }
# creq JAR ARGS...: curl with a cookie file of name=value lines (the
# gateway's cookies are __Host-/Secure, which curl keeps from https only)
creq() {
	jar=$1
	shift
	[ -f "$jar" ] || : >"$jar"
	ck=$(awk 'NF { printf "%s%s", (n++ ? "; " : ""), $0 }' "$jar")
	curl -s -o "$D/body" -D "$D/hdr" -w '%{http_code}' ${ck:+-H "Cookie: $ck"} "$@"
	tr -d '\r' <"$D/hdr" | sed -n 's/^[Ss]et-[Cc]ookie: *//p' | while IFS= read -r sc; do
		nv=${sc%%;*}
		grep -v "^${nv%%=*}=" "$jar" >"$jar.new" || true
		case $sc in *[Mm]ax-[Aa]ge=0*) ;; *) printf '%s\n' "$nv" >>"$jar.new" ;; esac
		mv "$jar.new" "$jar"
	done
}
pre() { # JAR: NONCE, CSRF
	creq "$1" "$GW/auth/challenge" >/dev/null
	NONCE=$(js "$D/body" 'j["nonce"]')
	CSRF=$(js "$D/body" 'j["csrf"]')
}
post() { # JAR PATH JSON CSRF
	creq "$1" -X POST -H 'Content-Type: application/json' \
	    -H "X-CSRF-Token: $4" --data-binary "$3" "$GW$2"
}

st=$(creq "$J.0" "$GW/login")
ok "GET /login" 200 "$st"
if [ "$st" = 200 ]; then
	ok "... the login page has the three tabs" 3 \
	    "$(grep -c 'role="tab"' "$D/body")"
	ok "... with a strict CSP" 1 "$(grep -c "^Content-Security-Policy: default-src 'self'" "$D/hdr")"
	ok "GET /assets/login.js" 200 "$(creq "$J.0" "$GW/assets/login.js")"
else
	say "     (the gateway does not serve web/ yet: gateway/server.c needs the gw_static hook)"
fi

# Password login: query scope, a full-scope page refused.
pre "$J.pw"
st=$(post "$J.pw" /auth/password "{\"login\":\"maker\",\"password\":\"$MAKER_PW\"}" "$CSRF")
ok "password login (maker)" 200 "$st"
ok "... scope query" query "$(js "$D/body" 'j["scope"]')"
st=$(creq "$J.pw" "$GW/hall/query/contributions")
ok "... a query page of the hall" 200 "$st"
ok "... the hall verified the assertion" yes "$(grep -q '签名有效' "$D/body" && echo yes)"
st=$(creq "$J.pw" -H 'Accept: application/json' "$GW/hall/declare")
ok "... a full-scope page refused: UK-5005" "403 UK-5005" "$st $(js "$D/body" 'j["error"]["code"]')"
pre "$J.bad"
st=$(post "$J.bad" /auth/password '{"login":"maker","password":"wrong1"}' "$CSRF")
ok "a wrong password: 401 with an event number" "401 1" \
    "$st $(js "$D/body" 'j["error"]["event"]' | grep -c '^[0-9A-F]\{32\}$')"

# UKey login through the agent, as the page does it.
st=$(curl -s -o "$D/body" -w '%{http_code}' -H "Origin: $GW" "http://127.0.0.1:$AG_PORT/v1/status")
ok "agent /v1/status" "200 request" "$st $(js "$D/body" 'j["pinSource"]')"
st=$(curl -s -o "$D/body" -w '%{http_code}' -H "Origin: $GW" "http://127.0.0.1:$AG_PORT/v1/certificates")
ok "agent /v1/certificates lists the UKeys' certificates" "200 4" \
    "$st $(js "$D/body" 'len(j["certificates"])')"
pre "$J.uk"
curl -s -o "$D/token" -w '%{http_code}' -H "Origin: $GW" -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$NONCE\",\"certificate\":\"$K_MAKER\",\"pin\":\"$PIN\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" >"$D/st"
ok "agent /v1/authenticate (maker's UKey)" 200 "$(cat "$D/st")"
st=$(post "$J.uk" /auth/cert "{\"token\":$(cat "$D/token"),\"nonce\":\"$NONCE\"}" "$CSRF")
ok "POST /auth/cert" 200 "$st"
ok "... scope full, method cert" "full cert" "$(js "$D/body" 'j["scope"] + " " + j["method"]')"
st=$(creq "$J.uk" "$GW/hall/declare")
ok "... the full-scope page of the hall" 200 "$st"
ok "... the hall names the operator" yes "$(grep -q '张录入' "$D/body" && echo yes)"
st=$(creq "$J.uk" "$GW/hall/maker/entry")
ok "... the maker's page" 200 "$st"
st=$(creq "$J.uk" -H 'Accept: application/json' "$GW/hall/checker/review")
ok "... the checker's page refused (role): UK-5006" "403 UK-5006" "$st $(js "$D/body" 'j["error"]["code"]')"
pre "$J.wp"
curl -s -o "$D/token" -w '%{http_code}' -H "Origin: $GW" -H 'Content-Type: application/json' \
    --data-binary "{\"nonce\":\"$NONCE\",\"certificate\":\"$K_MAKER\",\"pin\":\"000000\"}" \
    "http://127.0.0.1:$AG_PORT/v1/authenticate" >"$D/st"
ok "a wrong PIN: the agent says UK-2003 with 5 tries left" "401 UK-2003 5" \
    "$(cat "$D/st") $(js "$D/token" 'j["error"]["code"]') $(js "$D/token" 'j["pin"]["retriesLeft"]')"
say "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
