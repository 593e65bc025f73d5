#!/bin/sh
# tests/integration/test_gateway_admin.sh: the gateway's admin command line
# (units, operators, staff, certificate bindings, audit verify) through the
# gw-admin test driver, on SQLite and PostgreSQL: refusals with their UK-
# codes and exit statuses, the form required for counter acts, passwords
# only from a descriptor, the append-only audit table and a broken chain
# detected once its triggers are dropped.
set -u
ROOT=${UKEY_ROOT:-$(pwd)}
. "$ROOT/tests/lib/tap.sh"

GW="${UKEY_BUILD:-$ROOT/build}/tests/tools/gw-admin"
T=$(mktemp -d "${UKEY_TEST_TMP:-/tmp}/gw_admin.XXXXXX") || exit 1
PGDB=""

cleanup() {
	if [ -n "$PGDB" ]; then
		psql "${UKEY_TEST_PG_URL}" -q -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A self-signed certificate in PEM and DER, and its SHA-256.
mkcert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "/CN=$1" -days 30 -out "$T/$1.pem" 2>/dev/null
	openssl x509 -in "$T/$1.pem" -outform DER -out "$T/$1.der"
	sha256sum "$T/$1.der" | cut -d' ' -f1 >"$T/$1.sha"
}
mkcert op1cert
mkcert clerkcert
printf 'Passw0rd2024\n' >"$T/pw"
printf 'weak\n' >"$T/weak"

# run NAME ARGS...: runs gw-admin on $DB, output in $T/NAME.out/.err, status
# in RC.
run() {
	_n=$1
	shift
	"$GW" -d "$DB" -a cli:tester "$@" >"$T/$_n.out" 2>"$T/$_n.err"
	RC=$?
}

jget() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$1" "$2"
}

# sql QUERY: runs QUERY on $DB with the backend's own client.
sql() {
	if [ "$KIND" = sqlite ]; then
		sqlite3 "$DB" "$1"
	else
		psql "$DB" -q -t -A -v ON_ERROR_STOP=1 -c "$1"
	fi
}

backend() {
	KIND=$1
	DB=$2
	n=$KIND

	run ua admin unit add --id U1 --name "某某公司" --uscc 91350100M000100Y43 --form F-1
	check_eq "$n: unit add" 0 "$RC"
	run ub admin unit add --id U2 --name "Other" --form F-2
	check_eq "$n: second unit" 0 "$RC"
	run uf admin unit add --id U3 --name x
	check_eq "$n: unit add without --form is a usage error" 2 "$RC"
	check_match "$n: ... saying the form is required" "UK-1004.*--form is required" "$(cat "$T/uf.err")"
	run uu admin unit add --id U3 --name x --uscc 91350100M000100Y44 --form F
	check_eq "$n: bad USCC refused" 1 "$RC"
	check_match "$n: ... with UK-4605" "UK-4605" "$(cat "$T/uu.err")"
	run ud admin unit add --id u1 --name x --form F
	check_eq "$n: duplicate unit id (other case) refused" 1 "$RC"
	# blank text: a blank form is no form, a blank name a bad one
	run bn admin unit add --id U3 --name "   " --form "  "
	check_eq "$n: unit add with a blank name and form refused" 1 "$RC"
	check_match "$n: ... UK-4604, naming --form" "UK-4604.*--form is blank" "$(cat "$T/bn.err")"
	run bn2 admin unit add --id U3 --name " 　 " --form F-9
	check_match "$n: a name of spaces and U+3000: UK-4605, naming --name" \
	    "UK-4605.*--name is blank" "$(cat "$T/bn2.err")"
	run bn3 admin unit add --id U3 --name x --form "$(printf 'F\nX')"
	check_match "$n: a form with a newline: UK-4605, naming --form" \
	    "UK-4605.*--form has a control character" "$(cat "$T/bn3.err")"
	check_eq "$n: ... none registered" 0 "$(sql "SELECT count(*) FROM units WHERE id = 'U3'")"
	run un admin unit show u1 --json
	check_eq "$n: unit show u1: U1 (ids are unique in any case)" "0 U1" "$RC $(jget "$T/un.out" id)"
	run un2 admin unit show u9
	check_match "$n: unit show u9: UK-4601" "UK-4601" "$(cat "$T/un2.err")"

	run an admin unit authorize U2 --form F-3
	check_eq "$n: authorise before the agreement refused" 1 "$RC"
	check_match "$n: ... with UK-5003" "UK-5003.*agreement" "$(cat "$T/an.err")"
	run ag admin unit agreement U1
	check_eq "$n: agreement without form refused" 2 "$RC"
	run ag admin unit agreement u1 --form " F-10　"
	check_eq "$n: agreement (unit typed u1, form padded)" 0 "$RC"
	check_eq "$n: ... the form stored and audited trimmed" "F-10 1" \
	    "$(sql "SELECT agreement_form FROM units WHERE id = 'U1'") $(sql "SELECT count(*) FROM audit WHERE event = 'admin.unit.agreement' AND subject = 'unit:U1' AND detail LIKE '%\"form\":\"F-10\"%'")"
	run au admin unit authorize U1 --form F-11
	check_eq "$n: authorise" 0 "$RC"
	run ux admin unit authorize NOPE --form F-11
	check_match "$n: unknown unit: UK-4601" "UK-4601" "$(cat "$T/ux.err")"
	run us admin unit show U1 --json
	check_eq "$n: unit show --json: agreement form" "F-10" "$(jget "$T/us.out" agreement_form)"
	check_eq "$n: ... authorised form" "F-11" "$(jget "$T/us.out" authorized_form)"
	run ur admin unit revoke-authorization U1 --form F-12
	run us2 admin unit show U1 --json
	check_eq "$n: authorisation revoked" "None" "$(jget "$T/us2.out" authorized_at)"
	run ul admin unit list --query 某某 --json
	check_eq "$n: unit list --query" "U1" "$(jget "$T/ul.out" 0.id)"
	run ul2 admin unit list --query _ --json
	check_eq "$n: unit list: _ is not a wildcard" "[]" "$(tr -d ' \n' <"$T/ul2.out")"

	run oa admin operator add --login ZhangSan --unit U1 --name 张三 \
	    --resident-id 11010519491231002X --phone 13800138000 \
	    --roles "maker checker" --password-fd 3 --temporary --form F-20 3<"$T/pw"
	check_eq "$n: operator add with a password from fd 3" 0 "$RC"
	run ob admin operator add --login zhangsan --unit U2 --name x --form F-21
	check_eq "$n: same login (other case, other unit) refused" 1 "$RC"
	check_match "$n: ... with UK-4603" "UK-4603" "$(cat "$T/ob.err")"
	run oc admin operator add --login lisi --unit U1 --name x --resident-id 110105194912310021 --form F
	check_match "$n: bad resident ID: UK-4605" "UK-4605" "$(cat "$T/oc.err")"
	run od admin operator add --login lisi --unit U1 --name x --roles "maker counter" --form F
	check_match "$n: bad role: UK-4605" "UK-4605" "$(cat "$T/od.err")"
	run oe admin operator add --login lisi --unit U1 --name x --password-fd 3 --form F 3<"$T/weak"
	check_match "$n: weak password: UK-4110" "UK-4110" "$(cat "$T/oe.err")"
	run of admin operator add --login lisi --unit U1 --name x --password Passw0rd2024 --form F
	check_eq "$n: no password option on the command line" 2 "$RC"
	run oh admin operator add --login lisi --unit U1 --name "　" --roles checker --form F-22
	check_match "$n: operator add with a blank name: UK-4605, naming --name" \
	    "UK-4605.*--name is blank" "$(cat "$T/oh.err")"
	run og admin operator add --login lisi --unit u1 --name 李四 --roles checker --form F-22
	check_eq "$n: second operator (unit typed u1)" 0 "$RC"
	check_eq "$n: ... in U1" U1 "$(sql "SELECT unit_id FROM operators WHERE login = 'lisi'")"

	run os admin operator show zhangsan --json
	check_eq "$n: operator show (any case): roles" "maker checker" "$(jget "$T/os.out" roles)"
	check_eq "$n: ... temporary password" "True" "$(jget "$T/os.out" password_temporary)"
	run os2 admin operator show 11010519491231002x --json
	check_eq "$n: operator show by resident ID" "ZhangSan" "$(jget "$T/os2.out" login)"
	run ol admin operator list --unit u1 --query li --json
	check_eq "$n: operator list --unit --query" "lisi" "$(jget "$T/ol.out" 0.login)"

	run cc admin operator change lisi --phone 13900139000 --roles "maker admin" --form F-23
	check_eq "$n: operator change" 0 "$RC"
	run os3 admin operator show lisi --json
	check_eq "$n: ... roles changed" "maker admin" "$(jget "$T/os3.out" roles)"
	run cf admin operator change lisi --phone 23900139000 --form F
	check_match "$n: bad phone: UK-4605" "UK-4605" "$(cat "$T/cf.err")"

	run rp admin operator reset-password lisi --password-fd 3 --form F-24 3<"$T/weak"
	check_match "$n: reset to a weak password: UK-4110" "UK-4110" "$(cat "$T/rp.err")"
	run rp2 admin operator reset-password lisi --password-fd 3 --form F-24 3<"$T/pw"
	check_eq "$n: reset password" 0 "$RC"
	sql "UPDATE operators SET fail_count = 6, frozen_until = 99999999999 WHERE login_lc = 'lisi'" >/dev/null
	run uz admin operator unfreeze lisi --form F-25
	check_eq "$n: unfreeze" 0 "$RC"
	check_eq "$n: ... freeze cleared" "0" "$(sql "SELECT frozen_until FROM operators WHERE login_lc = 'lisi'")"

	run bc admin operator bind-cert ZhangSan --cert "$T/op1cert.pem" --form F-30
	check_eq "$n: bind a PEM certificate" 0 "$RC"
	run os4 admin operator show zhangsan --json
	check_eq "$n: ... shown with its SHA-256" "$(cat "$T/op1cert.sha")" "$(jget "$T/os4.out" certificates.0.sha256)"
	run bd admin operator bind-cert lisi --cert "$T/op1cert.der" --form F-31
	check_eq "$n: the same certificate (DER) for another operator refused" 1 "$RC"
	check_match "$n: ... with UK-4607" "UK-4607" "$(cat "$T/bd.err")"
	run be admin operator bind-cert lisi --cert "$T/op1cert.der"
	check_eq "$n: bind without form is a usage error" 2 "$RC"
	run ub admin operator unbind-cert --sha256 "$(cat "$T/op1cert.sha")" --form F-32
	check_eq "$n: unbind" 0 "$RC"
	run ub2 admin operator unbind-cert --sha256 "$(cat "$T/op1cert.sha")" --form F-32
	check_eq "$n: unbind again fails" 1 "$RC"
	run bd2 admin operator bind-cert lisi --cert "$T/op1cert.der" --form F-31
	check_eq "$n: now it binds to the other operator" 0 "$RC"

	run wb admin operator bind-wechat lisi --openid oLisi_1 --form F-33
	check_eq "$n: bind-wechat" 0 "$RC"
	run os6 admin operator show lisi --json
	check_eq "$n: ... operator show says wechat bound" "True" "$(jget "$T/os6.out" wechat_bound)"
	check_eq "$n: ... the openid stored" "oLisi_1" "$(sql "SELECT wechat_openid FROM operators WHERE login_lc = 'lisi'")"
	check_eq "$n: ... audited with the form" "1" \
	    "$(sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.bind_openid' AND subject = 'operator:lisi' AND actor = 'cli:tester' AND result = 'ok' AND detail LIKE '%F-33%'")"
	run wb2 admin operator bind-wechat ZhangSan --openid oLisi_1 --form F-34
	check_eq "$n: the same openid for another operator refused" 1 "$RC"
	check_match "$n: ... with UK-4214" "UK-4214" "$(cat "$T/wb2.err")"
	check_eq "$n: ... nothing bound to ZhangSan" "" "$(sql "SELECT wechat_openid FROM operators WHERE login_lc = 'zhangsan'")"
	run wb3 admin operator bind-wechat ZhangSan --openid "o bad!" --form F-34
	check_match "$n: a malformed openid refused: UK-4605" "UK-4605" "$(cat "$T/wb3.err")"
	run wb4 admin operator bind-wechat ZhangSan --openid oZhang_2
	check_eq "$n: bind-wechat without form is a usage error" 2 "$RC"
	run wb5 admin operator bind-wechat ZhangSan --form F-34
	check_eq "$n: bind-wechat without --openid is a usage error" 2 "$RC"
	run wb6 admin operator bind-wechat nobody --openid oX_9 --form F-34
	check_match "$n: bind-wechat of an unknown operator: UK-4602" "UK-4602" "$(cat "$T/wb6.err")"
	run wu0 admin operator unbind-wechat lisi
	check_eq "$n: unbind-wechat without form is a usage error" 2 "$RC"
	run wu admin operator unbind-wechat LiSi --form F-35
	check_eq "$n: unbind-wechat" 0 "$RC"
	run os7 admin operator show lisi
	check_match "$n: ... operator show: wechat -" "wechat: -" "$(cat "$T/os7.out")"
	check_eq "$n: ... the openid gone" "" "$(sql "SELECT wechat_openid FROM operators WHERE login_lc = 'lisi'")"
	check_eq "$n: ... audited with the form" "1" \
	    "$(sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.unbind_openid' AND subject = 'operator:lisi' AND actor = 'cli:tester' AND result = 'ok' AND detail LIKE '%F-35%'")"
	run wu2 admin operator unbind-wechat lisi --form F-36
	check_eq "$n: unbind-wechat when nothing is bound fails" 1 "$RC"
	check_match "$n: ... saying so" "UK-1007.*no WeChat bound" "$(cat "$T/wu2.err")"
	run wb7 admin operator bind-wechat ZhangSan --openid oLisi_1 --form F-37
	check_eq "$n: now the openid binds to the other operator" 0 "$RC"
	run wh admin operator unbind-wechat --help
	check_match "$n: unbind-wechat --help" "usage: admin operator unbind-wechat LOGIN --form F" "$(cat "$T/wh.out")"

	run sa admin staff add --login Clerk1 --name 王五 --roles "counter helpdesk" --cert "$T/clerkcert.der"
	check_eq "$n: staff add with a certificate" 0 "$RC"
	run sb admin staff add --login clerk1 --name x --roles counter
	check_match "$n: staff login taken: UK-4603" "UK-4603" "$(cat "$T/sb.err")"
	run sc admin staff add --login c2 --name x --roles maker
	check_match "$n: staff role unknown: UK-4605" "UK-4605" "$(cat "$T/sc.err")"
	run sd admin staff add --login c3 --name "  " --roles counter
	check_match "$n: staff with a blank name: UK-4605, naming --name" "UK-4605.*--name is blank" "$(cat "$T/sd.err")"
	run sl admin staff list --json
	check_eq "$n: staff list" "counter helpdesk" "$(jget "$T/sl.out" 0.roles)"
	check_eq "$n: the staff certificate is bound" "1" \
	    "$(sql "SELECT count(*) FROM cert_bindings WHERE staff_id IS NOT NULL AND sha256 = '$(cat "$T/clerkcert.sha")'")"

	sql "INSERT INTO sessions (id_hash, kind, principal_id, unit_id, scope, method, csrf, created_at, last_seen, expires_at) SELECT 'sess1', 'operator', id, 'U1', 'full', 'cert', 'c', 1, 1, 99999999999 FROM operators WHERE login_lc = 'zhangsan'" >/dev/null
	run lv admin operator leave ZhangSan --form F-40
	check_eq "$n: leave" 0 "$RC"
	check_eq "$n: ... the session is revoked" "1" "$(sql "SELECT count(*) FROM sessions WHERE id_hash = 'sess1' AND revoked_at IS NOT NULL")"
	run lv2 admin operator reset-password zhangsan --password-fd 3 --form F-41 3<"$T/pw"
	check_match "$n: no password for an operator who left: UK-4608" "UK-4608" "$(cat "$T/lv2.err")"
	run os5 admin operator show zhangsan --json
	check_eq "$n: status left" "left" "$(jget "$T/os5.out" status)"

	check_eq "$n: the form is in the audit detail" "1" \
	    "$(sql "SELECT count(*) FROM audit WHERE event = 'admin.operator.leave' AND subject = 'operator:ZhangSan' AND actor = 'cli:tester' AND result = 'ok' AND detail LIKE '%F-40%'")"
	check_eq "$n: no password in the audit trail" "0" \
	    "$(sql "SELECT count(*) FROM audit WHERE detail LIKE '%Passw0rd%'")"
	check_eq "$n: no password hash in the audit trail" "0" \
	    "$(sql "SELECT count(*) FROM audit WHERE detail LIKE '%argon2%'")"

	sql "INSERT INTO sessions (id_hash, kind, principal_id, unit_id, scope, method, csrf, created_at, last_seen, expires_at) SELECT 'sess2', 'operator', id, 'U1', 'full', 'cert', 'c', 1, 1, 99999999999 FROM operators WHERE login_lc = 'lisi'" >/dev/null
	run uc0 admin unit close U1
	check_eq "$n: unit close without form is a usage error" 2 "$RC"
	run uc admin unit close U1 --form F-50
	check_eq "$n: unit close" 0 "$RC"
	check_eq "$n: ... status closed" "closed" "$(sql "SELECT status FROM units WHERE id = 'U1'")"
	check_eq "$n: ... its operators' sessions revoked" "1" "$(sql "SELECT count(*) FROM sessions WHERE id_hash = 'sess2' AND revoked_at IS NOT NULL")"
	check_eq "$n: ... audited with the form" "1" \
	    "$(sql "SELECT count(*) FROM audit WHERE event = 'admin.unit.close' AND subject = 'unit:U1' AND detail LIKE '%F-50%'")"
	run uc2 admin unit close U1 --form F-51
	check_match "$n: closing again refused: UK-4605" "UK-4605.*closed already" "$(cat "$T/uc2.err")"

	run av audit verify
	check_eq "$n: audit verify" 0 "$RC"
	check_match "$n: ... chain intact" "^audit: [0-9]+ rows, chain intact" "$(cat "$T/av.out")"

	# the table is append-only ...
	if sql "UPDATE audit SET ip = '203.0.113.9'" >/dev/null 2>"$T/upd.err"; then
		not_ok "$n: UPDATE on audit refused"
	else
		ok "$n: UPDATE on audit refused"
	fi
	check_match "$n: ... append-only" "append-only" "$(cat "$T/upd.err")"
	if sql "DELETE FROM audit" >/dev/null 2>&1; then
		not_ok "$n: DELETE on audit refused"
	else
		ok "$n: DELETE on audit refused"
	fi
	# ... and someone who drops the triggers is still caught
	if [ "$KIND" = sqlite ]; then
		sql "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete"
	else
		sql "DROP TRIGGER audit_no_update ON audit" >/dev/null
		sql "DROP TRIGGER audit_no_delete ON audit" >/dev/null
	fi
	seq=$(sql "SELECT seq FROM audit WHERE event = 'admin.operator.add' ORDER BY seq LIMIT 1")
	sql "UPDATE audit SET ip = '203.0.113.9' WHERE seq = $seq" >/dev/null
	run av2 audit verify
	check_eq "$n: audit verify after an edit fails" 1 "$RC"
	check_eq "$n: ... at the edited row" "audit: chain broken at row $seq" "$(cat "$T/av2.err")"
}

backend sqlite "$T/gw.db"
if [ -n "${UKEY_TEST_PG_URL:-}" ]; then
	PGDB="ukey_gw_admin_$$"
	psql "$UKEY_TEST_PG_URL" -q -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
	PGURL=$(echo "$UKEY_TEST_PG_URL" | sed "s#/[^/?]*\(?.*\)\{0,1\}\$#/$PGDB\1#")
	backend postgresql "$PGURL"
else
	echo "# UKEY_TEST_PG_URL unset: PostgreSQL part not run"
fi

echo "1..$T_N"
t_done
