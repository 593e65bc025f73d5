#!/bin/sh
# tests/integration/test_gateway_serve.sh: ukey-gateway serve on SQLite: cookies, error answers, path attacks, body limits, content types, policy, /metrics, the JWKS.
#
# Later parts (password and UKey logins end to end, the proxy's identity
# headers) are in their own tests; the shared helpers (gw_start, gw_req,
# gw_pre, ...) are in tests/lib/gateway.sh.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/gateway.sh"

T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gateway.XXXXXX") || exit 1
cleanup() {
	gw_cleanup
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

GW_ORIGIN=https://gjj.example.cn
gw_init
UP_PORT=$(gw_free_port)

# A stand-in upstream: answers 200 and logs every request line it gets.
cat >"$T/upstream.py" <<'PY'
import http.server, sys
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        log.write("%s %s\n" % (self.command, self.path))
        body = b"upstream"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
: >"$T/upstream.log"
gw_bg upstream python3 "$T/upstream.py" "$UP_PORT" "$T/upstream.log"

gw_routes "# test routes" \
    "/pub/   GET,HEAD,POST  public" \
    "/hall/  GET,HEAD,POST  session scope=full" \
    "/hall/query/  GET      session scope=query"
gw_conf "gateway.max_body = 2048" \
    "proxy.upstream = http://127.0.0.1:$UP_PORT" \
    "proxy.connect_timeout_ms = 1000" "proxy.timeout_ms = 5000"

code_of() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$T/body" 2>/dev/null
}
hdrs() {
	tr -d '\r' <"$T/hdr"
}
upstream_hits() {
	wc -l <"$T/upstream.log" | tr -d ' '
}

check "configuration checks" "$GW_BIN" -c "$GW_CONF" check-config >/dev/null
check "the gateway starts on SQLite" gw_start
check_match "--version" '^ukey-gateway [0-9]' "$("$GW_BIN" --version)"
check_fail "an unknown command is a usage error" "$GW_BIN" -c "$GW_CONF" frobnicate 2>/dev/null

# --- the challenge and the pre-login cookie ---
st=$(gw_req "$GW/auth/challenge")
check_eq "GET /auth/challenge answers 200" 200 "$st"
setc=$(hdrs | grep -i '^Set-Cookie: __Host-ukey-pre=')
check_match "pre-login cookie is set" '^Set-Cookie: __Host-ukey-pre=[A-Za-z0-9_-]{43};' "$setc"
check_match "pre-login cookie: Path=/" '; Path=/;' "$setc"
check_match "pre-login cookie: Secure" '; Secure' "$setc"
check_match "pre-login cookie: HttpOnly" '; HttpOnly' "$setc"
check_match "pre-login cookie: SameSite=Lax" '; SameSite=Lax' "$setc"
check_fail "pre-login cookie: no Domain" grep -qi 'domain=' "$T/hdr"
check_match "challenge has nonce, expires_in, csrf" \
    '"nonce":"[A-Za-z0-9+/=]{44}".*"expires_in":300.*"csrf":"[A-Za-z0-9_-]{43}"' "$(cat "$T/body")"
check_match "Cache-Control: no-store on /auth/" '^Cache-Control: no-store' "$(hdrs)"
check_match "X-Request-Id on every answer" '^X-Request-Id: [0-9a-f]{32}$' "$(hdrs)"
check_match "X-Content-Type-Options" '^X-Content-Type-Options: nosniff' "$(hdrs)"
check_match "frame-ancestors" "frame-ancestors 'none'" "$(hdrs)"
gw_pre
gw_req -H "Cookie: __Host-ukey-pre=$PRE" "$GW/auth/challenge" >/dev/null
check_fail "a valid pre-login cookie is kept" grep -qi '^Set-Cookie' "$T/hdr"
check_match "the same cookie gives the same CSRF token" "\"csrf\":\"$CSRF\"" "$(cat "$T/body")"

# --- no session ---
st=$(gw_req "$GW/auth/session")
check_eq "/auth/session without a session: 401" 401 "$st"
check_eq "... UK-4401" UK-4401 "$(code_of)"
check_match "... JSON with message and remedy" '"message":".+".*"remedy":".+"' "$(cat "$T/body")"
gw_req -H 'Accept-Language: en-GB,en;q=0.8' "$GW/auth/session" >/dev/null
check_match "... in English when asked" '"message":"Please log in"' "$(cat "$T/body")"
st=$(gw_req -H "Cookie: __Host-ukey-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$GW/auth/session")
check_eq "an unknown session cookie: 401" 401 "$st"
st=$(gw_req -H "Cookie: __Host-ukey-session=a; __Host-ukey-session=b" "$GW/auth/session")
check_eq "a session cookie given twice: 400 UK-1502" "400 UK-1502" "$st $(code_of)"
st=$(gw_req "$GW/hall/x")
check_eq "a session route without a session: 401" 401 "$st"
st=$(gw_req -H 'Accept: text/html' "$GW/hall/x")
check_match "... a browser navigation gets an HTML page" '^Content-Type: text/html' "$(hdrs)"
check_match "... naming the code" 'UK-4401' "$(cat "$T/body")"
st=$(gw_req "$GW/auth/verify")
check_eq "/auth/verify without X-Original-URI: 400" 400 "$st"
st=$(gw_req -H 'X-Original-URI: /pub/x' "$GW/auth/verify")
check_eq "/auth/verify without X-Original-Method: 400" 400 "$st"
st=$(gw_req -H 'X-Original-Method: GET' -H 'X-Original-URI: /hall/x' "$GW/auth/verify")
check_eq "/auth/verify of a session route without a session: 401" 401 "$st"
st=$(gw_req -H 'X-Original-Method: GET' -H 'X-Original-URI: /pub/x?y=1' "$GW/auth/verify")
check_eq "/auth/verify of a public route: 200" 200 "$st"
check_fail "... without identity headers" grep -qi '^X-Ukey-' "$T/hdr"
st=$(gw_req -H 'X-Original-Method: GET' -H 'X-Original-URI: /elsewhere' "$GW/auth/verify")
check_eq "/auth/verify of an unknown route: 403" 403 "$st"

# --- path attacks: 400 UK-1501, never proxied ---
before=$(upstream_hits)
for p in '/pub/..%2fetc/passwd' '/pub/%2e%2e/hall/x' '/pub/%252F' '/pub/%00' \
    '/pub/../hall/x' '/pub/./x' '/pub/%2F' '/pub/a%5cb' '/pub/%ff' '/pub/%2' \
    '/pub/..;/hall/x' '/pub/x%3Fa=1' '/pub/x%23f'; do
	st=$(gw_req "$GW$p")
	check_eq "path $p: 400 UK-1501" "400 UK-1501" "$st $(code_of)"
done
st=$(gw_req -H 'X-Original-Method: GET' -H 'X-Original-URI: /hall/%2e%2e/x' "$GW/auth/verify")
check_eq "/auth/verify refuses a bad original URI" 400 "$st"
check_eq "no attack reached the upstream" "$before" "$(upstream_hits)"
st=$(gw_req "$GW//pub//x")
check_match "// is collapsed or refused" '^(200|400)$' "$st"
check_fail "... never passed on as //" grep -q '//' "$T/upstream.log"

# --- policy ---
st=$(gw_req "$GW/nowhere")
check_eq "an unknown route: 403 UK-5001 (default deny)" "403 UK-5001" "$st $(code_of)"
st=$(gw_req -X DELETE "$GW/pub/x")
check_eq "a method the rule does not list: 405" 405 "$st"
st=$(gw_req "$GW/auth/nothing")
check_eq "an unknown /auth/ route: 404" 404 "$st"
st=$(gw_req -X POST "$GW/auth/session")
check_eq "POST on a GET route: 405" 405 "$st"

# --- bodies and content types ---
head -c 4096 /dev/zero | tr '\0' a >"$T/big"
st=$(gw_req -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$T/big" "$GW/pub/x")
check_eq "a body over max_body: 413 UK-1504" "413 UK-1504" "$st $(code_of)"
st=$(gw_req -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream' --data-binary @"$T/big" "$GW/pub/x")
check_eq "a chunked body over max_body: 413" 413 "$st"
check_eq "... neither reached the upstream" 0 "$(grep -c POST "$T/upstream.log")"
st=$(gw_req -X POST -H 'Content-Type: text/plain' -H "Cookie: __Host-ukey-pre=$PRE" \
    -H "X-CSRF-Token: $CSRF" --data '{"login":"a","password":"b"}' "$GW/auth/password")
check_eq "wrong content type on /auth/: 415 UK-1505" "415 UK-1505" "$st $(code_of)"
st=$(gw_req -X POST -H 'Content-Type: application/json' -H "Cookie: __Host-ukey-pre=$PRE" \
    -H "X-CSRF-Token: $CSRF" --data '{"login":' "$GW/auth/password")
check_eq "malformed JSON: 400 UK-1301" "400 UK-1301" "$st $(code_of)"
st=$(gw_req -X POST -H 'Content-Type: application/json' -H "Cookie: __Host-ukey-pre=$PRE" \
    -H "X-CSRF-Token: $CSRF" --data '{"token":{},"token":{}}' "$GW/auth/cert")
check_eq "duplicate JSON keys: 400 UK-1301" "400 UK-1301" "$st $(code_of)"
st=$(gw_req -X POST -H 'Content-Type: application/json' -H "Cookie: __Host-ukey-pre=$PRE" \
    --data '{"login":"a","password":"b"}' "$GW/auth/password")
check_eq "a login POST without X-CSRF-Token: 403 UK-4404" "403 UK-4404" "$st $(code_of)"
st=$(gw_req -X POST -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" \
    --data '{"login":"a","password":"b"}' "$GW/auth/password")
check_eq "a login POST without the pre-login cookie: 403 UK-4404" "403 UK-4404" "$st $(code_of)"
check_match "... with an event number" '"event":"[0-9A-F]{32}"' "$(cat "$T/body")"

# --- the JWKS and /metrics ---
st=$(gw_req "$GW/.well-known/jwks.json")
check_eq "/.well-known/jwks.json: 200" 200 "$st"
check_match "... has an EC P-256 key" '"crv":"P-256"' "$(cat "$T/body")"
check_match "... with a kid" '"kid":"[A-Za-z0-9_-]+"' "$(cat "$T/body")"
st=$(gw_req "$GW/metrics")
check_eq "/metrics: 200" 200 "$st"
m=$(cat "$T/body")
check_match "/metrics: text format" '^Content-Type: text/plain; version=0.0.4' "$(hdrs)"
check_match "/metrics: logins counter" '^# TYPE ukey_logins_total counter$' "$m"
check_match "/metrics: logins by method and result" '^ukey_logins_total\{method="password",result="ok"\} [0-9]+$' "$m"
check_match "/metrics: latency histogram" '^ukey_login_seconds_bucket\{method="cert",le="\+Inf"\} [0-9]+$' "$m"
check_match "/metrics: sessions gauge" '^ukey_sessions_active [0-9]+$' "$m"
check_match "/metrics: proxy errors" '^ukey_proxy_errors_total [0-9]+$' "$m"
check_match "/metrics: requests by class" '^ukey_requests_total\{class="4xx"\} [1-9][0-9]*$' "$m"
check_match "/metrics: password hashes" '^ukey_password_hashes_total [0-9]+$' "$m"
bad=$(printf '%s\n' "$m" | grep -v '^#' | grep -Evc '^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+$')
check_eq "/metrics: every sample line is well formed" 0 "$bad"

# --- the log ---
check_match "one log line per request with its id" \
    'msg="request rid=[0-9a-f]{32} ip=127.0.0.1 method=GET path=/metrics status=200 ms=[0-9]+ principal=-"' \
    "$(cat "$T/gw.log")"

# --- proxying a public route (the proxy module) ---
st=$(gw_req "$GW/pub/hello?a=1&b=%2F")
check_eq "a public route is proxied" 200 "$st"
check_match "... with the raw query" '^GET /pub/hello\?a=1&b=%2F$' "$(cat "$T/upstream.log")"

# --- per-address limit of an anonymous route that writes (challenges) ---
n429=0
i=0
while [ $i -lt 130 ]; do
	[ "$(gw_req "$GW/auth/challenge")" = 429 ] && n429=$((n429 + 1))
	i=$((i + 1))
done
check "130 challenges in a row from one address: the last ones refused (429)" \
    test "$n429" -ge 10 -a "$n429" -le 130
check_eq "... UK-4104" UK-4104 "$(code_of)"
check_match "... with Retry-After" "^Retry-After: [0-9]+" "$(cat "$T/hdr")"

# --- shutdown, and the test clock ---
check "stops cleanly on SIGTERM" gw_stop
UKEY_TEST_NOW=86400 gw_start
gw_stop
check_fail "UKEY_TEST_NOW is ignored without --test-clock" grep -q 'test clock' "$T/gw.log"
UKEY_TEST_NOW=86400 gw_start --test-clock
check_match "--test-clock says so in the log" 'test clock: 86400 seconds' "$(cat "$T/gw.log")"
gw_stop

t_done
