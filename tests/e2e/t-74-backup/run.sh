#!/bin/bash
# Backup and restore (issue 17): a brev serves while a python smtplib loop
# delivers (at most 600 messages, 90 s); `brev backup FILE` and
# `brev backup -` (stdout into a file) run in the middle. Every message
# answered 250 before the backup began is in the restored store, which
# `brev verify` accepts, and a brev started on the restored DATADIR serves
# over IMAP every one of those messages with its bytes and flags (\Seen,
# \Flagged, a keyword, set before the backup), no message the original
# does not have. `brev verify --backup` accepts both files; restore
# refuses a non-empty DATADIR, a truncated file and a file with one
# flipped byte, leaving nothing behind (logs, tmp/ and the socket are not
# in the backup); verify finds each of eight kinds of damage done to a
# store with lmdb-utils (mdb_dump | edit | mdb_load) and says what.
. ../lib.sh
brev_init src
SRC=$D
brev_user alice@example.test alice-pass
brev_start
SRC_PID=$BREV_PID

# Twenty messages, one of them 150 KB (three chunks), then flags.
python3 - <<'PY' || fail "first deliveries or flags"
import imaplib, os, smtplib
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30)
s.ehlo("client.test")
for i in range(20):
    body = ("x" * 75 + "\r\n") * 2000 if i == 7 else "hello %d\r\n" % i
    s.sendmail("x@remote.test", ["alice@example.test"],
               ("Subject: pre-%d\r\nMessage-ID: <pre-%d@remote.test>\r\n\r\n%s" % (i, i, body)).encode())
s.quit()
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "alice-pass")
m.select("INBOX")
for uids, flags in (("1:5", r"(\Flagged)"), ("3:8", r"(\Seen)"), ("10", "(project-x)")):
    typ, _ = m.uid("STORE", uids, "+FLAGS", flags)
    assert typ == "OK", (uids, typ)
m.logout()
PY

# The load: one message per SMTP transaction, each subject written to
# acked.txt only after its 250; stops when $T/stop appears, after 600
# messages or after 90 s.
python3 - "$T" >"$T/load.out" 2>&1 <<'PY' &
import os, smtplib, sys, time
t = sys.argv[1]
end = time.time() + 90
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30)
s.ehlo("client.test")
with open(os.path.join(t, "acked.txt"), "w") as ack:
    for i in range(600):
        if os.path.exists(os.path.join(t, "stop")) or time.time() > end:
            break
        subj = "load-%d" % i
        s.sendmail("x@remote.test", ["alice@example.test"],
                   ("Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\nbody %d\r\n" % (subj, subj, i)).encode())
        ack.write(subj + "\n")
        ack.flush()
s.quit()
PY
LOAD=$!
at_exit "kill $LOAD 2>/dev/null"
i=0
until [ "$(wc -l 2>/dev/null <"$T/acked.txt" || echo 0)" -ge 30 ]; do
	i=$((i + 1)); [ $i -le 600 ] || fail "the load loop did not get 30 messages accepted in 60 s"
	sleep 0.1
done
# Everything acknowledged so far must be in the backup.
cp "$T/acked.txt" "$T/before.txt"
"$BREV" -d "$SRC" backup "$T/b.tar" 2>"$T/backup.err" || { cat "$T/backup.err"; fail "brev backup"; }
note "$(cat "$T/backup.err")"
grep -Eq "^brev: backup: .* files, .* bytes \(store .* bytes compacted, schema [0-9]+\) to $T/b.tar$" "$T/backup.err" ||
	fail "no summary line: $(cat "$T/backup.err")"
# verify reads one snapshot: clean while deliveries commit beside it.
out=$("$BREV" verify "$SRC") || fail "verify of the live store under delivery: $out"
cp "$T/acked.txt" "$T/before2.txt"
"$BREV" -d "$SRC" backup - >"$T/b2.tar" 2>"$T/backup2.err" || { cat "$T/backup2.err"; fail "brev backup -"; }
touch "$T/stop"
wait "$LOAD" || { cat "$T/load.out"; fail "load loop"; }
note "$(wc -l <"$T/before.txt") messages acknowledged before the backup, $(wc -l <"$T/acked.txt") in all"
[ "$(wc -l <"$T/acked.txt")" -gt "$(wc -l <"$T/before.txt")" ] ||
	note "no delivery after the backup began (loaded machine); the test still holds"
[ ! -e "$T/b.tar.part" ] || fail "b.tar.part left behind"
# As root, backup leaves nothing of root's in the DATADIR serve handed to
# its user (LMDB's lock file, a temporary file): the server must still write.
if [ "$(id -u)" = 0 ]; then
	own=$(find "$SRC" -user root ! -name serve.log)
	[ -z "$own" ] || fail "root-owned after the backup: $own"
fi

# The archive: ustar that GNU tar reads, manifest first.
tar tf "$T/b.tar" >"$T/list.txt" || fail "tar cannot list the backup"
[ "$(head -1 "$T/list.txt")" = brev-backup.manifest ] || fail "first member is $(head -1 "$T/list.txt")"
for f in store/data.mdb brev.conf key.pem cert.pem ca.pem ca-key.pem; do
	grep -qx "$f" "$T/list.txt" || fail "$f missing from the backup"
done
[ -s "$SRC/serve.log" ] || fail "no serve.log in DATADIR to leave out"
! grep -q -e '\.log$' -e '^tmp/' -e 'lock.mdb' -e control.sock "$T/list.txt" ||
	fail "a log, tmp/, lock.mdb or the socket is in the backup: $(cat "$T/list.txt")"
tar xOf "$T/b.tar" brev-backup.manifest | grep -Eq "^schema [0-9]+$" || fail "manifest without schema"
for b in b.tar b2.tar; do
	out=$("$BREV" verify --backup "$T/$b") || fail "verify --backup $b: $out"
	grep -q "every checksum matches" <<<"$out" || fail "verify --backup $b said: $out"
done

# Restore refuses what it must, and leaves nothing.
rc=0; err=$("$BREV" restore "$T/b.tar" "$SRC" 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "not an empty directory" <<<"$err" || fail "restore into a non-empty DATADIR: $rc $err"
size=$(stat -c %s "$T/b.tar")
head -c $((size / 2)) "$T/b.tar" >"$T/trunc.tar"
rc=0; err=$("$BREV" restore "$T/trunc.tar" "$T/r-trunc" 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "cut short" <<<"$err" || fail "truncated backup: $rc $err"
note "truncated: $err"
python3 - "$T/b.tar" "$T/flip.tar" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 3] ^= 0x20        # inside the store copy, past the manifest
open(sys.argv[2], "wb").write(d)
PY
mkdir "$T/r-flip"
rc=0; err=$("$BREV" restore "$T/flip.tar" "$T/r-flip" 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "SHA-256 does not match" <<<"$err" || fail "altered backup: $rc $err"
note "flipped: $err"
rc=0; "$BREV" verify --backup "$T/flip.tar" >/dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "verify --backup accepted the altered file ($rc)"
[ ! -e "$T/r-trunc" ] || fail "a truncated backup left $T/r-trunc"
[ -z "$(ls -A "$T/r-flip")" ] || fail "an altered backup left files in $T/r-flip"
! ls -a "$T" | grep -q restore- || fail "a staging directory was left: $(ls -a "$T")"

# Restore from the file and from stdout's copy; verify both.
"$BREV" restore "$T/b.tar" "$T/restored" 2>"$T/restore.err" || { cat "$T/restore.err"; fail "restore"; }
mkdir "$T/restored2"   # an existing empty directory is fine too
"$BREV" restore - "$T/restored2" <"$T/b2.tar" 2>/dev/null || fail "restore from stdin"
"$BREV" verify --backup - <"$T/b2.tar" >/dev/null || fail "verify --backup from stdin"
out=$("$BREV" verify "$T/restored") || fail "verify of the restored store: $out"
grep -q "0 problems" <<<"$out" || fail "verify said: $out"
"$BREV" verify "$T/restored2" >/dev/null || fail "verify of the second restore"
out=$("$BREV" verify "$SRC") || fail "verify of the live store while brev serves: $out"

# What IMAP serves: original, then restored (same ports), as JSON.
imap_dump() {
	python3 - "$1" <<'PY'
import hashlib, imaplib, json, os, re, sys
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "alice-pass")
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
assert typ == "OK", typ
out = {}
for item in data:
    if not isinstance(item, tuple):
        continue
    flags = sorted(re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split())
    raw = item[1]
    subj = re.search(rb"Subject: (\S+)", raw).group(1).decode()
    out[subj] = {"flags": flags, "sha": hashlib.sha256(raw).hexdigest()}
m.logout()
json.dump(out, open(sys.argv[1], "w"))
PY
}
imap_dump "$T/orig.json" || fail "IMAP on the original"
brev_stop "$SRC_PID"
D=$T/restored
brev_start
imap_dump "$T/rest.json" || fail "IMAP on the restored DATADIR"
brev_stop
python3 - "$T" <<'PY' || fail "restored messages differ"
import json, sys
t = sys.argv[1]
orig = json.load(open(t + "/orig.json"))
rest = json.load(open(t + "/rest.json"))
before = ["pre-%d" % i for i in range(20)] + open(t + "/before.txt").read().split()
missing = [s for s in before if s not in rest]
assert not missing, "acknowledged before the backup but not restored: %s" % missing[:5]
for s in before:
    assert rest[s] == orig[s], (s, rest[s], orig[s])
extra = [s for s in rest if s not in orig or rest[s] != orig[s]]
assert not extra, "restored but not as in the original: %s" % extra[:5]
assert "\\Flagged" in rest["pre-1"]["flags"] and "\\Seen" in rest["pre-4"]["flags"], rest["pre-4"]
assert "project-x" in rest["pre-9"]["flags"], rest["pre-9"]
print("# %d restored, %d acknowledged before the backup, %d in the original" % (len(rest), len(before), len(orig)))
PY

# A damaged store, through lmdb-utils' text dump (mdb_dump | edit |
# mdb_load), one problem of each kind verify looks for: chunk 1 of the
# 150 KB message's blob deleted; one modseq index entry and INBOX's UID
# run deleted; another blob's reference count raised by one; the
# account's quota usage raised by one byte; INBOX's message counter
# raised by one and its UIDNEXT lowered to its highest UID.
mkdir -p "$T/damaged/store"
cp "$T/restored/brev.conf" "$T/damaged/"
mdb_dump -a "$T/restored/store" >"$T/dump.txt" || fail "mdb_dump"
python3 - "$T/dump.txt" "$T/dump2.txt" >"$T/damage.txt" <<'PY' || fail "editing the dump"
import struct, sys
lines = open(sys.argv[1]).read().split("\n")
recs, db, i = [], None, 0          # [db, key hex, value hex] or [None, line]
while i < len(lines):
    l = lines[i]
    if l.startswith("database="):
        db = l.split("=", 1)[1]
    if l.startswith(" ") and i + 1 < len(lines) and lines[i + 1].startswith(" "):
        recs.append([db, l.strip(), lines[i + 1].strip()]); i += 2; continue
    recs.append([None, l]); i += 1
def le(v, off, n):
    return int.from_bytes(bytes.fromhex(v)[off:off + n], "little")
def setle(v, off, n, x):
    b = bytearray(bytes.fromhex(v)); b[off:off + n] = x.to_bytes(n, "little"); return b.hex()
inbox = "00000001" + "INBOX".encode().hex()
top = max(int(r[1][8:], 16) for r in recs if r[0] == "msg" and r[1].startswith("00000001"))
big = next(r[1][:16] for r in recs if r[0] == "chunk" and r[1].endswith("00000001"))
drop, did = set(), []
for n, r in enumerate(recs):
    if r[0] == "chunk" and r[1] == big + "00000001":
        drop.add(n); did.append("chunk")
    elif r[0] == "mseq" and "mseq" not in did:
        drop.add(n); did.append("mseq")
    elif r[0] == "run" and r[1].startswith("00000001") and "run" not in did:
        drop.add(n); did.append("run")
    elif r[0] == "blob" and r[1] != big and "refs" not in did:
        r[2] = setle(r[2], 8, 4, le(r[2], 8, 4) + 1); did.append("refs")
    elif r[0] == "acct" and r[1] == "00000001":
        r[2] = setle(r[2], 16, 8, le(r[2], 16, 8) + 1); did.append("used")
    elif r[0] == "mbox" and r[1] == inbox:
        r[2] = setle(r[2], 12, 4, top); r[2] = setle(r[2], 24, 4, le(r[2], 24, 4) + 1); did.append("mbox")
assert sorted(did) == sorted(["chunk", "mseq", "run", "refs", "used", "mbox"]), did
out = []
for n, r in enumerate(recs):
    if n in drop:
        continue
    out += [" " + r[1], " " + r[2]] if r[0] else [r[1]]
open(sys.argv[2], "w").write("\n".join(out))
print(top)
PY
TOP=$(cat "$T/damage.txt")
mdb_load -f "$T/dump2.txt" "$T/damaged/store" 2>"$T/load.err" || { cat "$T/load.err"; fail "mdb_load"; }
rc=0; out=$("$BREV" verify "$T/damaged") || rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
[ $rc -eq 1 ] || fail "verify accepted a damaged store ($rc): $out"
for want in "^verify: blob [0-9]*: chunk 1 missing$" \
	"^verify: blob [0-9]*: chunks hold [0-9]* bytes, the record says [0-9]*$" \
	"^verify: mailbox 1: uid [0-9]* (modseq [0-9]*) missing from the modseq index$" \
	"^verify: mailbox 1: run index lacks uids 1\.\.$TOP$" \
	"^verify: blob [0-9]*: reference count 2, referenced by 1$" \
	"^verify: account 1: quota usage says [0-9]* bytes in [0-9]* messages, its mailboxes hold [0-9]* bytes in [0-9]*$" \
	"^verify: mailbox 1 \"INBOX\": uid $TOP not below uidnext $TOP$" \
	"^verify: mailbox 1 \"INBOX\": counters say $((TOP + 1)) messages, .*; the records are $TOP, "; do
	grep -q "$want" <<<"$out" || fail "verify did not report: $want"
done
grep -q "; 8 problems$" <<<"$out" || fail "expected exactly 8 problems"
note ok
