#!/bin/bash
# Disk full with large messages (issue 22): like t-92, brev's DATADIR (store
# and spool directory DATADIR/tmp) on a small tmpfs in a private mount
# namespace, but the messages are 1.5 MiB: each spills from memory to a
# spool file and is staged into the store in pieces (docs/store.md,
# "Memory"). Sent one after another in one SMTP session until the disk is
# full: the client must get `452 4.3.1` (never a dropped connection or a
# 5xx), the session must go on (the next message gets 452 too, NOOP
# works), an IMAP APPEND of the same size gets NO; when space comes back
# (the filler is removed) SMTP and APPEND work again without a restart, and
# every acknowledged message is in the mailbox once, whole. Then the disk
# is filled to the last byte, so that even the spool file a large message
# spills into cannot be written: 452 4.3.1 again, and the session goes on.
if [ -z "${BREV_IN_NS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
		echo "SKIP: needs root and unshare --mount" >&2 # (lib.sh is not sourced yet)
		exit 77
	fi
	exec env BREV_IN_NS=1 unshare --mount --propagation private --fork bash "$0" "$@"
fi
. ../lib.sh
brev_init dfl
MNT=$(mktemp -d /tmp/brev-dfl.XXXXXX)
mount -t tmpfs -o size=24m,mode=0700 tmpfs "$MNT"
at_exit 'umount -l "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null'
cp -a "$D" "$MNT/d"
D=$MNT/d
export D MNT
dd if=/dev/zero of="$MNT/filler" bs=1M count=12 status=none
brev_user alice@example.test alice-pw
brev_start
python3 -u - <<'PY' || fail "disk full with large messages"
import hashlib, imaplib, os, smtplib

USER, PW = "alice@example.test", "alice-pw"
SIZE = 1536 * 1024

def msg(i):
    head = f"Subject: dfl {i}\r\nMessage-ID: <dfl.{i}@test>\r\n\r\n".encode()
    line = b"%05d large filler line for the disk-full test ........................\r\n" % i
    return head + line * ((SIZE - len(head)) // len(line))

def send(s, i):
    """DATA of message i; (code, text) of the reply. A dropped connection
    raises SMTPServerDisconnected: a failure of the test."""
    code, r = s.mail("x@remote.test")
    assert code == 250, (code, r)
    code, r = s.rcpt(USER)
    assert code == 250, (code, r)
    code, r = s.data(msg(i))
    return code, r.decode()

s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=120)
s.ehlo("dfl.test")
acked, full = [], None
i = 0
while i < 40:  # 24 MiB - 12 MiB filler: full after a handful
    i += 1
    code, r = send(s, i)
    if code == 250:
        acked.append(i)
        continue
    full = (code, r)
    break
assert full, "the disk never filled"
assert full[0] == 452 and full[1].startswith("4.3.1"), f"after {len(acked)} messages: {full}"
print(f"SMTP: {len(acked)} accepted, then {full[0]} {full[1]}")
# The session goes on: another message gets 452 too, NOOP answers.
i += 1
code, r = send(s, i)
assert code == 452 and r.startswith("4.3.1"), (code, r)
assert s.noop()[0] == 250

# Now nothing is left at all, not even for the spool file the next message
# spills into: the spool's write fails half-way through DATA. Still 452
# 4.3.1 after the whole message was read, and the session goes on (the old
# code hung up here).
with open(os.path.join(os.environ["MNT"], "filler2"), "wb") as f:
    try:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    except OSError:
        pass
i += 1
code, r = send(s, i)
assert code == 452 and r.startswith("4.3.1"), ("spool on a full disk", code, r)
print(f"spool on a full disk: {code} {r}")
assert s.noop()[0] == 250
os.unlink(os.path.join(os.environ["MNT"], "filler2"))

c = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]), timeout=120)
c.login(USER, PW)
i += 1
typ, data = c.append("INBOX", None, None, msg(i))
assert typ == "NO", (typ, data)
print("APPEND while full:", typ, data[0].decode())

os.unlink(os.path.join(os.environ["MNT"], "filler"))
print("filler removed")
i += 1
code, r = send(s, i)
assert code == 250, f"SMTP after space returned: {code} {r}"
acked.append(i)
i += 1
typ, data = c.append("INBOX", None, None, msg(i))
assert typ == "OK", ("APPEND after space returned", typ, data)
acked.append(i)
s.quit()
print("after space returned: SMTP 250, APPEND OK")

typ, data = c.select("INBOX", readonly=True)
assert typ == "OK" and int(data[0]) == len(acked), (data, len(acked))
typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
assert typ == "OK", data
bodies = [it[1] for it in data if isinstance(it, tuple)]
for a in acked:
    m = msg(a)
    n = sum(1 for b in bodies if b.endswith(m))
    assert n == 1, f"message {a} is there {n} times (whole)"
print(f"all {len(acked)} acknowledged messages present once, whole")
c.logout()
PY
brev_stop
"$BREV" -d "$D" status >"$T/status.out" 2>&1 || { cat "$T/status.out"; fail "store does not open"; }
