#!/bin/bash
# getmail6 (implicit TLS only) and curl (pop3:// and pop3s://) against brev.
. ../lib.sh
command -v getmail >/dev/null || fail "getmail6 is not installed"
command -v curl >/dev/null || fail "curl is not installed"
brev_init pop3gc
brev_user alice@example.test alice-pw
brev_start
export PYTHONPATH=$ROOT/tests/e2e/t-30-pop3-poplib
python3 - <<'PY' || fail "delivery"
from pop3t import deliver, message, wait_count
for i in range(1, 4):
    deliver("alice@example.test", message(f"gc {i}", ["hello", ".dot", "end"]))
wait_count(3)
PY
left() { python3 -c 'from pop3t import stat; print(stat()[0])'; }
CURL="curl -sS --max-time 20 --cacert $D/cert.pem -u alice@example.test:alice-pw"

# ---- curl ----
# LIST over STLS (--ssl-reqd), then RETR 2, UIDL, and a DELE we take back
list=$($CURL --ssl-reqd "pop3://localhost:$P_POP3/") || fail "curl LIST"
[ "$(printf '%s' "$list" | grep -c '^[0-9]* [0-9]*')" = 3 ] || fail "curl LIST: $list"
size2=$(printf '%s\n' "$list" | tr -d '\r' | awk '$1 == 2 {print $2}')
$CURL --ssl-reqd "pop3://localhost:$P_POP3/2" -o "$T/m2" || fail "curl RETR"
grep -q '^Subject: gc 2' "$T/m2" || fail "curl RETR content"
grep -q '^\.dot' "$T/m2" || fail "curl RETR: dot-stuffing"
# curl undoes the stuffing; LIST counts the message without it (RFC 1939)
got=$(wc -c <"$T/m2")
[ "$got" = "$size2" ] || fail "LIST says $size2, RETR gave $got"
uidl=$($CURL --ssl-reqd -X UIDL "pop3://localhost:$P_POP3/") || fail "curl UIDL"
[ "$(printf '%s' "$uidl" | grep -Ec '^[0-9]+ [0-9a-f]{16}')" = 3 ] || fail "curl UIDL: $uidl"
# pop3s, forcing AUTH PLAIN, and USER/PASS
$CURL --login-options AUTH=PLAIN "pop3s://localhost:$P_POP3S/1" -o "$T/m1" || fail "curl pop3s"
grep -q '^Subject: gc 1' "$T/m1" || fail "curl pop3s content"
$CURL --login-options 'AUTH=*' "pop3s://localhost:$P_POP3S/3" -o "$T/m3" || fail "curl AUTH=*"
grep -q '^Subject: gc 3' "$T/m3" || fail "curl AUTH=* content"
# a wrong password is refused (curl 67: login denied)
rc=0
curl -sS --max-time 20 --cacert "$D/cert.pem" -u alice@example.test:nope "pop3s://localhost:$P_POP3S/" >/dev/null 2>&1 || rc=$?
[ "$rc" = 67 ] || fail "curl with a wrong password exited $rc"
# curl DELE + QUIT really deletes
$CURL -X 'DELE 3' -I "pop3s://localhost:$P_POP3S/" >/dev/null || fail "curl DELE"
[ "$(left)" = 2 ] || fail "after curl DELE: $(left) messages"

# ---- getmail6: implicit TLS only ----
GM=$T/getmail
mkdir -p "$GM"
: >"$T/gm.mbox"
chmod 666 "$T/gm.mbox"
chmod 755 "$T"
getmail_rc() { # DELETE(true|false)
	cat >"$GM/getmailrc" <<RC
[retriever]
type = SimplePOP3SSLRetriever
server = localhost
port = $P_POP3S
username = alice@example.test
password = alice-pw
ca_certs = $D/cert.pem

[destination]
type = Mboxrd
path = $T/gm.mbox
user = nobody

[options]
read_all = true
delete = $1
verbose = 2
RC
}
getmail_rc false
getmail --getmaildir="$GM" --rcfile="$GM/getmailrc" >"$T/gm.out" 2>&1 || { cat "$T/gm.out"; fail "getmail (keep)"; }
[ "$(grep -c '^Subject: gc ' "$T/gm.mbox")" = 2 ] || { cat "$T/gm.out"; fail "getmail keep: $(grep -c '^Subject: gc ' "$T/gm.mbox") messages"; }
[ "$(left)" = 2 ] || fail "getmail keep deleted"
getmail_rc true
getmail --getmaildir="$GM" --rcfile="$GM/getmailrc" >"$T/gm.out" 2>&1 || { cat "$T/gm.out"; fail "getmail (delete)"; }
[ "$(grep -c '^Subject: gc ' "$T/gm.mbox")" = 4 ] || { cat "$T/gm.out"; fail "getmail delete: $(grep -c '^Subject: gc ' "$T/gm.mbox") messages"; }
[ "$(left)" = 0 ] || fail "getmail delete left $(left) messages"
brev_stop
