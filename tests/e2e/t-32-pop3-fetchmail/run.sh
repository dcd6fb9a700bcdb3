#!/bin/bash
# fetchmail (an independent POP3 client) against brev: STLS on the plain
# port and implicit TLS on pop3s, keep and delete modes, no-mail and
# wrong-password exit codes (0 got mail, 1 no mail, 3 auth).
. ../lib.sh
command -v fetchmail >/dev/null || fail "fetchmail is not installed"
brev_init pop3fm
brev_user alice@example.test alice-pw
brev_start
export PYTHONPATH=$ROOT/tests/e2e/t-30-pop3-poplib
python3 - <<'PY' || fail "delivery"
from pop3t import deliver, message, wait_count
for i in range(1, 4):
    deliver("alice@example.test", message(f"fm {i}", ["line one", ".dotted line", "", "end"]))
wait_count(3)
PY

# As root fetchmail locks /var/run/fetchmail.pid whatever FETCHMAILHOME says:
# --pidfile keeps parallel test runs (another checkout's) apart.
export FETCHMAILHOME=$T/fmhome
mkdir -p "$FETCHMAILHOME"
chmod 700 "$FETCHMAILHOME"
MBOX=$T/fm.mbox
: >"$MBOX"

# fetchmail_rc NAME OPTIONS...: an rc file (fetchmail insists on mode 600).
fetchmail_rc() {
	local rc=$T/$1.rc
	shift
	printf 'set no bouncemail\npoll localhost %s\n' "$*" >"$rc"
	chmod 600 "$rc"
	echo "$rc"
}
run_fetchmail() { # RC -> exit status; output in $T/fm.out
	local rc=0
	timeout 20 fetchmail --nosyslog --pidfile "$T/fetchmail.pid" -v -f "$1" >"$T/fm.out" 2>&1 || rc=$?
	echo $rc
}
count() { grep -c '^Subject: fm ' "$MBOX" || true; }
left() {
	python3 -c 'from pop3t import stat; print(stat()[0])'
}

COMMON="user \"alice@example.test\" password \"alice-pw\" sslcertck sslcertfile \"$D/cert.pem\" mda \"cat >> $MBOX\""

# 1. STLS (sslproto without ssl = TLS required in-band), keep; fetchmail
#    picks its own authentication (SASL or USER/PASS).
RC=$(fetchmail_rc stls-keep "service $P_POP3 protocol pop3 $COMMON sslproto 'TLS1.2+' keep")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail STLS keep exited $st"; }
grep -q 'STLS' "$T/fm.out" || { cat "$T/fm.out"; fail "fetchmail did not use STLS"; }
[ "$(count)" = 3 ] || fail "STLS keep: $(count) messages in the mbox"
[ "$(left)" = 3 ] || fail "keep mode deleted messages"
grep -q '^\.dotted line' "$MBOX" || fail "dot-stuffing not undone: $(grep dotted "$MBOX")"

# 2. POP3S with USER/PASS, delete mode; fetchall, since the keep run left
#    the UIDLs it saw in .fetchids and fetchmail skips those otherwise
RC=$(fetchmail_rc ssl-del "service $P_POP3S protocol pop3 auth password $COMMON ssl sslproto 'TLS1.2+' nokeep fetchall")
st=$(run_fetchmail "$RC")
[ "$st" = 0 ] || { cat "$T/fm.out"; fail "fetchmail POP3S delete exited $st"; }
[ "$(count)" = 6 ] || fail "POP3S: $(count) messages in the mbox"
[ "$(left)" = 0 ] || fail "delete mode left $(left) messages"

# 3. nothing left: exit 1
st=$(run_fetchmail "$RC")
[ "$st" = 1 ] || { cat "$T/fm.out"; fail "fetchmail on an empty maildrop exited $st"; }

# 4. wrong password: exit 3
RC=$(fetchmail_rc bad "service $P_POP3S protocol pop3 auth password user \"alice@example.test\" password \"wrong\" ssl sslcertck sslcertfile \"$D/cert.pem\" mda \"cat >> $MBOX\"")
st=$(run_fetchmail "$RC")
[ "$st" = 3 ] || { cat "$T/fm.out"; fail "fetchmail with a wrong password exited $st"; }
brev_stop
