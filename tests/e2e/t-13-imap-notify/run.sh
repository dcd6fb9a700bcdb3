#!/bin/bash
# NOTIFY (RFC 5465), driven by notify.py: a watching session on a raw socket
# and other sessions (smtplib, imaplib) changing the account. STATUS for a
# non-selected mailbox after an SMTP delivery (during IDLE, between commands
# with nothing sent, at NOOP), with HIGHESTMODSEQ after ENABLE CONDSTORE, on a
# flag change and an expunge; EXISTS with the MessageNew fetch-att, FETCH
# FLAGS and EXPUNGE for the selected mailbox with no command in progress;
# LIST on CREATE, RENAME (OLDNAME), DELETE (\NonExistent), SUBSCRIBE and
# UNSUBSCRIBE by another session; NO [BADEVENT (...)] and BAD for the RFC's
# invalid combinations and syntax; SELECTED-DELAYED holding EXPUNGE through
# UID FETCH until NOOP; NOTIFY NONE; and a client that stops reading
# (a 4 KiB receive buffer) getting NOTIFICATIONOVERFLOW, then nothing more.
# Then, with limits.timeout_imap = 3s, a silent session with NOTIFY on is
# logged out after one time-out (reason=timeout), not two: closed within
# 5.9 s (a wait that read a second time-out took 6 s or more, never less).
. ../lib.sh
command -v python3 >/dev/null || fail "python3 missing"
brev_init notify
brev_user alice@example.test 'pw-notify'
brev_user bob@example.test 'pw-notify'
brev_start
export BREV
python3 "$ROOT/tests/e2e/t-13-imap-notify/notify.py" || {
	tail -20 "$D/serve.log"
	fail "NOTIFY"
}
brev_stop

brev_start -o limits.timeout_imap=3s
python3 - <<'PY' || fail "NOTIFY autologout"
import os, socket, time
s = socket.create_connection(("127.0.0.1", int(os.environ["P_IMAP"])))
f = s.makefile("rb")
f.readline()
s.sendall(b'a LOGIN "alice@example.test" "pw-notify"\r\n')
while not f.readline().startswith(b"a "):
    pass
s.sendall(b"b NOTIFY SET (personal (MessageNew MessageExpunge))\r\n")
assert f.readline().startswith(b"b OK"), "NOTIFY SET"
t0 = time.time()
s.settimeout(30)
rest = s.recv(4096)  # b"" when brev closes the connection
took = time.time() - t0
print("closed after %.1f s: %r" % (took, rest))
assert rest == b"" and 2.5 < took < 5.9, "autologout with NOTIFY on after %.1f s" % took
PY
grep -q 'reason=timeout' "$D/serve.log" || fail "no session end with reason=timeout"
brev_stop
echo ok
