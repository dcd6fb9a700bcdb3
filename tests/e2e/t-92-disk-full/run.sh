#!/bin/bash
# Disk full: brev's DATADIR on an 8 MiB tmpfs (mounted in a private mount
# namespace, so nothing leaks and it goes away with the test) with a filler
# file taking part of it. Messages of 150 KiB are sent until the store is
# full: SMTP must answer 452 after DATA, IMAP APPEND must answer NO (and
# nothing else may break). Then the filler is removed: SMTP and APPEND work
# again without a restart. Every message acknowledged before, during and
# after is in the mailbox exactly once.
if [ -z "${BREV_IN_NS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare --mount --propagation private true 2>/dev/null; then
		echo "SKIP: needs root and unshare --mount" >&2 # (lib.sh is not sourced yet)
		exit 77
	fi
	exec env BREV_IN_NS=1 unshare --mount --propagation private --fork bash "$0" "$@"
fi
. ../lib.sh
brev_init df
MNT=$(mktemp -d /tmp/brev-df.XXXXXX)
mount -t tmpfs -o size=8m,mode=0700 tmpfs "$MNT"
cleanup_mnt() { umount -l "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null; true; }
cp -a "$D" "$MNT/d"
D=$MNT/d
export D MNT
dd if=/dev/zero of="$MNT/filler" bs=1M count=3 status=none
brev_user alice@example.test alice-pw
brev_start
python3 -u - <<'PY' || { cleanup_mnt; fail "disk full"; }
import imaplib, os, socket

USER, PW = "alice@example.test", "alice-pw"
acked = []

def msg(i):
    body = ("%05d filler line for the disk-full test .......................\r\n" % i) * 2400
    return (f"Subject: df {i}\r\nMessage-ID: <df.{i}@test>\r\n\r\n{body}").encode()

class Smtp:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", int(os.environ["P_SMTP"])), timeout=30)
        self.f = self.s.makefile("rb")
        self.reply()
        self.s.sendall(b"EHLO df.test\r\n")
        self.reply()
    def reply(self):
        while True:
            l = self.f.readline()
            assert l, "connection closed"
            if l[3:4] != b"-":
                return l.decode().strip()
    def send(self, i):
        self.s.sendall(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{USER}>\r\nDATA\r\n".encode())
        for want in ("250", "250", "354"):
            r = self.reply()
            assert r.startswith(want), r
        self.s.sendall(msg(i) + b".\r\n")
        return self.reply()

def imap():
    c = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]), timeout=30)
    c.login(USER, PW)
    return c

s = Smtp()
i, full = 0, None
while i < 200:  # 8 MiB / 150 KiB: full long before
    i += 1
    r = s.send(i)
    if r.startswith("250"):
        acked.append(i)
        continue
    full = r
    break
assert full and full.startswith("452"), f"after {len(acked)} messages: {full!r}"
print(f"SMTP: {len(acked)} accepted, then: {full}")
# The session goes on: the next transaction gets 452 too, not a hang-up.
i += 1
r = s.send(i)
assert r.startswith("452"), r

c = imap()
# An APPEND's commit is a little smaller than SMTP's (no journal or trace
# records), so the first may still fit in the pages SMTP could not use:
# APPEND until one is refused (bounded); each OK is a message acknowledged.
for _ in range(20):
    i += 1
    typ, data = c.append("INBOX", None, None, msg(i))
    if typ != "OK":
        break
    acked.append(i)
assert typ == "NO", (typ, data)
print("APPEND while full:", typ, data[0].decode())
# Reading still works while full.
c.select("INBOX", readonly=True)
typ, data = c.status("INBOX", "(MESSAGES)")
assert typ == "OK", data

os.unlink(os.path.join(os.environ["MNT"], "filler"))
print("filler removed")
i += 1
r = s.send(i)
assert r.startswith("250"), f"SMTP after space returned: {r}"
acked.append(i)
i += 1
typ, data = c.append("INBOX", None, None, msg(i))
assert typ == "OK", ("APPEND after space returned", typ, data)
acked.append(i)
print("after space returned: SMTP 250, APPEND OK")

typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
assert typ == "OK", data
ids = [it[1].decode().strip() for it in data if isinstance(it, tuple)]
for a in acked:
    n = sum(1 for x in ids if f"<df.{a}@test>" in x)
    assert n == 1, f"message {a} is there {n} times"
assert len(ids) == len(set(ids)), "a message twice"
print(f"all {len(acked)} acknowledged messages present once ({len(ids)} in INBOX)")
c.logout()
PY
brev_stop
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$D/serve.log"; then fail "sanitizer report in the server log"; fi
"$BREV" -d "$D" status >"$T/status.out" 2>&1 || { cat "$T/status.out"; cleanup_mnt; fail "store does not open"; }
cleanup_mnt
