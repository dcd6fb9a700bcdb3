#!/bin/bash
# brev import / brev export (issue 17, docs/migrate.md), with `brev serve`
# running beside them: an mbox written by a real mutt (driven through a
# pseudo-terminal) and a mutt-style one (Status/X-Status, mboxo), a
# Thunderbird "Local Folders" tree (X-Mozilla-Status/-Keys, CRLF, Inbox.sbd
# subfolders, an empty Trash, .msf files), a Dovecot-style Maildir++ with
# dovecot-keywords, .Sub.Folder and "Deleted Items", a folder of .eml files
# under --mailbox, an mboxrd with >From lines and 10 KB lines, and a
# Maildir written by mbsync from brev's own IMAP (a private Dovecot's own
# Maildir and mbsync's copy of it are t-74's). Each is
# read back over IMAP (imaplib) and compared message by message with what
# gen.py wrote: bytes, flags, keywords, INTERNALDATE, mailboxes. An IDLE
# session sees the import. Export -> import into a second account gives
# the same over IMAP and byte-identical export files, as mbox and as
# Maildir. A re-run imports nothing. kill -9 in the middle of a 6,000
# message import, then the same import: every message exactly once. Bad
# input: each refused with a line, exit 1, nothing half-stored.
. ../lib.sh
command -v mbsync >/dev/null || fail "mbsync not installed (apt-get install isync)"
command -v mutt >/dev/null || fail "mutt not installed (apt-get install mutt)"
HERE=$(cd "$(dirname "$0")" && pwd)
PW=pw-import-1
brev_init imp
for a in mutt realmutt tb dc eml rd mb src tb2 dc2 big bad; do brev_user "$a@example.test" "$PW"; done
brev_start
python3 "$HERE/gen.py" "$T" || fail "gen.py"
S=$T/src

# run_import EXPECTED_RC ARGS...: brev import, output in $out, stderr in $err.
run_import() {
	local want=$1 rc=0
	shift
	out=$("$BREV" -d "$D" import "$@" 2>"$T/import.err") || rc=$?
	err=$(cat "$T/import.err")
	[ "$rc" = "$want" ] || fail "import $*: exit $rc, expected $want: $out $err"
}

# 1. mutt's mbox, watched by an IDLE session (the import is another process).
python3 - "$P_IMAP" "$PW" "$BREV" "$D" "$S/mutt.mbox" <<'PY' || fail "IDLE did not see the import"
import imaplib, subprocess, sys
port, pw, brev, d, src = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
m = imaplib.IMAP4("127.0.0.1", port)
m.login("mutt@example.test", pw)
typ, data = m.select("INBOX")
assert int(data[0]) == 0, data
tag = m._new_tag().decode()
m.send(f"{tag} IDLE\r\n".encode())
assert m.readline().startswith(b"+")
p = subprocess.run([brev, "-d", d, "import", "mutt@example.test", src], capture_output=True)
assert p.returncode == 0, p
assert b"imported 6 messages" in p.stdout, p.stdout
m.sock.settimeout(10)
line = m.readline()
assert line.strip() == b"* 6 EXISTS", line
m.send(b"DONE\r\n")
while not m.readline().startswith(tag.encode()):
    pass
m.logout()
PY

# 1b. An mbox written by a real mutt: it opens a plain mbox, marks m1 read
# and flags m2 (keys pushed through a pseudo-terminal), syncs and quits;
# mutt adds Status/X-Status, Content-Length and Lines. The expected
# messages are read from mutt's file by a separate small parser here.
python3 - "$T/mutt.box" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(1, 5):
        f.write(b"From ann@example.test Mon Dec  7 1%d:00:00 2026\nFrom: ann@example.test\n"
                b"To: bob@example.test\nSubject: m%d\nMessage-ID: <m%d@example.test>\n\n"
                b"body %d\n>From the start of a line\n\n" % (i, i, i, i))
PY
cat >"$T/muttrc" <<'RC'
set mbox_type=mbox
set move=no
set mark_old=yes
set quit=yes
set sort=mailbox-order
set wait_key=no
RC
TERM=xterm timeout 30 script -qec "mutt -n -F '$T/muttrc' -f '$T/mutt.box' -e 'push \"<search>m1<enter><toggle-new><search>m2<enter><flag-message><sync-mailbox><quit>\"'" /dev/null >/dev/null 2>&1 ||
	fail "mutt"
grep -q "^X-Status: F" "$T/mutt.box" || fail "mutt did not write the flags: $(cat "$T/mutt.box")"
python3 - "$T/mutt.box" "$T/expect-mutt.json" <<'PY' || fail "reading mutt's mbox"
import base64, calendar, json, re, sys, time
raw = open(sys.argv[1], "rb").read()
msgs = []
for part in re.split(rb"\n(?=From )", raw):
    if not part.strip():
        continue
    first, rest = part.split(b"\n", 1)
    if rest.endswith(b"\n\n"):
        rest = rest[:-1]
    hdr, body = rest.split(b"\n\n", 1)
    keep, flags = [], []
    for line in hdr.split(b"\n"):
        if line.startswith(b"Status: "):
            flags += ["\\Seen"] if b"R" in line[8:] else []
        elif line.startswith(b"X-Status: "):
            flags += ["\\Flagged"] if b"F" in line[10:] else []
        else:
            keep.append(line)
    body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
    date = calendar.timegm(time.strptime(first.split(b" ", 2)[2].decode(), "%a %b %d %H:%M:%S %Y"))
    msgs.append({"b": base64.b64encode(b"\n".join(keep) + b"\n\n" + body).decode(),
                 "flags": sorted(flags), "kw": [], "date": date})
assert len(msgs) == 4, len(msgs)
assert [m["flags"] for m in msgs] == [["\\Seen"], ["\\Flagged"], [], []], [m["flags"] for m in msgs]
json.dump({"realmutt": {"INBOX": msgs}}, open(sys.argv[2], "w"))
PY
run_import 0 realmutt@example.test "$T/mutt.box"
python3 "$HERE/imapcmp.py" "$P_IMAP" "$PW" "$T/expect-mutt.json" realmutt=realmutt@example.test ||
	fail "the mbox mutt wrote, imported, differs"

run_import 0 tb@example.test "$S/tb"
grep -q "imported 9 messages" <<<"$out" || fail "tb: $out"
run_import 0 dc@example.test "$S/dovecot"
grep -q "imported 7 messages" <<<"$out" || fail "dovecot: $out"
run_import 0 eml@example.test "$S/eml" --mailbox Imported
run_import 0 rd@example.test "$S/rd.mbox"
python3 "$HERE/imapcmp.py" "$P_IMAP" "$PW" "$T/expect.json" mutt=mutt@example.test \
	tb=tb@example.test dc=dc@example.test eml=eml@example.test rd=rd@example.test ||
	fail "imported mail differs from the sources"

# 2. Run again: everything is already there.
run_import 0 tb@example.test "$S/tb"
grep -q "imported 0 messages.*9 skipped as already there; 0 refused" <<<"$out" || fail "re-run: $out"

run_import 0 rd@example.test "$S/rd.mbox"
grep -q "imported 0 messages.*4 skipped as already there; 0 refused" <<<"$out" || fail "re-run rd: $out"

# 3. Round trips: mbox and Maildir exports imported into second accounts.
"$BREV" -d "$D" export tb@example.test "$T/ex-tb" >"$T/export.out" 2>&1 || fail "export: $(cat "$T/export.out")"
run_import 0 tb2@example.test "$T/ex-tb"
"$BREV" -d "$D" export tb2@example.test "$T/ex-tb2" >/dev/null 2>&1 || fail "export tb2"
diff -r "$T/ex-tb" "$T/ex-tb2" >/dev/null || fail "export of the re-imported account differs"
"$BREV" -d "$D" export dc@example.test "$T/ex-dc" --format maildir >/dev/null 2>&1 || fail "export maildir"
run_import 0 dc2@example.test "$T/ex-dc"
python3 "$HERE/imapcmp.py" "$P_IMAP" "$PW" "$T/expect.json" tb=tb2@example.test dc=dc2@example.test ||
	fail "round trip differs"

# 4. A Maildir written by mbsync (Maildir++ layout) from brev's IMAP.
python3 - "$P_IMAP" "$PW" <<'PY' || fail "filling src"
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("src@example.test", sys.argv[2])
m.create("Lists/Rust")
for i, (box, fl) in enumerate([("INBOX", r"(\Seen)"), ("INBOX", r"(\Flagged \Answered)"), ("INBOX", "()"),
                               ("Lists/Rust", r"(\Seen)"), ("Sent", r"(\Seen)")]):
    msg = (f"From: x@example.test\r\nSubject: sync {i}\r\n\r\nbody {i}\r\n").encode()
    assert m.append(box, fl, imaplib.Time2Internaldate(1767000000 + i), msg)[0] == "OK"
m.logout()
PY
mkdir -p "$T/mbs"
cat >"$T/mbsyncrc" <<RC
IMAPAccount brev
Host 127.0.0.1
Port $P_IMAP
User src@example.test
Pass $PW
AuthMechs LOGIN
SSLType None

IMAPStore remote
Account brev

MaildirStore local
Inbox $T/mbs/
SubFolders Maildir++

Channel ch
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
RC
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.log" 2>&1 || { cat "$T/mbsync.log"; fail "mbsync"; }
[ -d "$T/mbs/.Lists.Rust/cur" ] || fail "mbsync did not write Maildir++: $(ls -a "$T/mbs")"
# Expected: the messages, flags and folders of src, with the bytes mbsync
# wrote (it converts CRLF to LF and adds X-TUID); INTERNALDATE is checked
# against file mtimes by the Dovecot-style Maildir above.
python3 "$HERE/imapcmp.py" "$P_IMAP" "$PW" dump src@example.test "$T/src.json"
python3 - "$T/src.json" "$T/mbs" "$T/expect-mb.json" <<'PY' || fail "reading mbsync's Maildir"
import base64, glob, json, os, re, sys
got = json.load(open(sys.argv[1]))
files = {}
for p in [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[2]) for f in fs
          if os.path.basename(d) in ("cur", "new")]:
    b = open(p, "rb").read()
    files[re.search(rb"Subject: (.*)", b).group(1).strip()] = b
for box in got.values():
    for x in box:
        subj = re.search(rb"Subject: (.*)", base64.b64decode(x["b"])).group(1).strip()
        x["b"] = base64.b64encode(files[subj]).decode()
        x["date"] = None
json.dump({"mb": got}, open(sys.argv[3], "w"))
PY
run_import 0 mb@example.test "$T/mbs"
python3 "$HERE/imapcmp.py" "$P_IMAP" "$PW" "$T/expect-mb.json" mb=mb@example.test ||
	fail "the mbsync Maildir imported differs from the account it came from"

# 5. kill -9 in the middle of a large import, then the same import again.
python3 - "$T/big.mbox" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(30000):
        f.write(b"From big@example.test Mon Dec  7 10:00:00 2026\n"
                b"Subject: big %d\n\n" % i + (b"%d " % i) * 100 + b"\n\n")
PY
"$BREV" -d "$D" import big@example.test "$T/big.mbox" >"$T/big1.out" 2>&1 &
IMP=$!
count() {
	python3 - "$P_IMAP" "$PW" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("big@example.test", sys.argv[2])
print(int(m.select("INBOX", readonly=True)[1][0]))
PY
}
n=0
for _ in $(seq 1 600); do
	n=$(count)
	[ "$n" -ge 300 ] && break
	sleep 0.05
done
kill -KILL $IMP 2>/dev/null || true
wait $IMP 2>/dev/null || true
n=$(count)
note "killed the import at $n of 30000"
[ "$n" -gt 0 ] && [ "$n" -lt 30000 ] || fail "the kill did not land in the middle ($n)"
run_import 0 big@example.test "$T/big.mbox"
imp=$(sed -n 's/^imported \([0-9]*\) messages.*; \([0-9]*\) skipped as already there; 0 refused$/\1 \2/p' <<<"$out")
read -r i s <<<"$imp"
# s can exceed n by one batch: when the kill lands after the commit's meta
# page was written but before LMDB's lock file was told, the running
# server's readers see that batch only after the next commit, while a new
# process (this import) sees it at once. No loss either way.
[ -n "$i" ] && [ $((i + s)) = 30000 ] && [ "$s" -ge "$n" ] || fail "resume: $out"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "after the resumed import"
import collections, imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("big@example.test", sys.argv[2])
m.select("INBOX", readonly=True)
typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subj = collections.Counter(int(re.search(rb"big (\d+)", x[1]).group(1)) for x in data if isinstance(x, tuple))
assert sorted(subj) == list(range(30000)) and set(subj.values()) == {1}, "missing or doubled"
PY

# 6. Bad input: one line each, exit 1, the good messages around them kept.
printf 'From a@b.test Mon Dec  7 10:00:00 2026\nSubject: t1\n\nok\n\nFrom a@b.test Mon Dec  7 10:00:00 2026\nSubject: t2\n\ncut in the mid' >"$T/trunc.mbox"
run_import 1 bad@example.test "$T/trunc.mbox" --mailbox T
grep -q "trunc.mbox, offset 56: refused: truncated" <<<"$err" && grep -q "imported 1 message " <<<"$out" || fail "truncated: $out $err"
head -c 20000 /dev/urandom | tr -d 'F' >"$T/junk.bin"
run_import 1 bad@example.test "$T/junk.bin"
grep -q "not an mbox" <<<"$err" || fail "junk: $err"
printf 'From a@b.test Mon Dec  7 10:00:00 2026\nSubject: n1\n\nok\n\nFrom a@b.test Mon Dec  7 10:00:00 2026\nSubject: n2\n\nnul \0 here\n\nFrom a@b.test Mon Dec  7 10:00:00 2026\nSubject: n3\n\nok\n\n' >"$T/nul.mbox"
run_import 1 bad@example.test "$T/nul.mbox" --mailbox N
grep -q "refused: NUL byte at offset" <<<"$err" && grep -q "imported 2 messages" <<<"$out" || fail "NUL: $out $err"
: >"$T/empty.mbox"
run_import 1 bad@example.test "$T/empty.mbox"
grep -q "refused: empty file" <<<"$err" || fail "empty: $err"
mkdir -p "$T/badmd/cur" "$T/badmd/new"
printf 'Subject: m1\n\nx\n' >"$T/badmd/cur/1.a:3,S"
printf 'Subject: m2\n\nx\n' >"$T/badmd/cur/2.b:2,S!"
printf 'Subject: m3\n\nx\n' >"$T/badmd/cur/3.c:2,S"
run_import 1 bad@example.test "$T/badmd" --mailbox M
[ "$(grep -c "malformed Maildir file name" <<<"$err")" = 2 ] && grep -q "imported 1 message " <<<"$out" ||
	fail "maildir names: $out $err"
python3 -c 'import sys; sys.stdout.buffer.write(b"From a@b.test Mon Dec  7 10:00:00 2026\nSubject: big\n\n" + b"y" * 300000 + b"\n\nFrom a@b.test Mon Dec  7 10:00:00 2026\nSubject: small\n\nz\n\n")' >"$T/large.mbox"
out=$("$BREV" -d "$D" -o limits.message_size=100k import bad@example.test "$T/large.mbox" --mailbox L 2>&1) && fail "large: exit 0"
grep -q "refused: larger than limits.message_size" <<<"$out" && grep -q "imported 1 message " <<<"$out" || fail "large: $out"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "bad input left something behind"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bad@example.test", sys.argv[2])
for box, n in (("INBOX", 0), ("T", 1), ("N", 2), ("M", 1), ("L", 1)):
    got = int(m.select(box, readonly=True)[1][0])
    assert got == n, (box, got, n)
PY
# Over quota: the import stops, exit 1, the messages before it stored.
rc=0; out=$("$BREV" -d "$D" -o quota.default=600 import bad@example.test "$S/mutt.mbox" --mailbox Q 2>&1) || rc=$?
[ $rc = 1 ] && grep -q "storing into Q: .*quota" <<<"$out" || fail "quota: rc=$rc $out"
# A large message (20 MiB, under limits.message_size) streams through the
# spool and arrives whole; on a terminal the progress line updates in place.
python3 -c 'import sys; sys.stdout.buffer.write(b"From a@b.test Mon Dec  7 10:00:00 2026\nSubject: huge\n\n" + (b"z" * 1023 + b"\n") * 20480 + b"\n")' >"$T/huge.mbox"
TERM=xterm script -qec "'$BREV' -d '$D' import bad@example.test '$T/huge.mbox' --mailbox H" "$T/tty.out" >/dev/null 2>&1 ||
	fail "huge: $(cat "$T/tty.out")"
grep -q $'\rimport: 1 messages, 21.0/21.0 MB, .* msg/s, ETA' "$T/tty.out" || fail "no progress line on a terminal: $(cat -A "$T/tty.out" | head -5)"
python3 - "$P_IMAP" "$PW" <<'PY' || fail "the 20 MiB message"
import hashlib, imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bad@example.test", sys.argv[2])
m.select("H", readonly=True)
typ, data = m.fetch("1", "(BODY.PEEK[])")
want = b"Subject: huge\n\n" + (b"z" * 1023 + b"\n") * 20480
assert data[0][1] == want, len(data[0][1])
PY
# Maildir cannot name a folder with '.': that one is left out, with a line.
python3 - "$P_IMAP" "$PW" <<'PY' || fail "creating v1.2"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bad@example.test", sys.argv[2])
assert m.create("v1.2")[0] == "OK"
PY
rc=0; out=$("$BREV" -d "$D" export bad@example.test "$T/ex-bad" --format maildir 2>&1) || rc=$?
[ $rc = 1 ] && grep -q "mailbox v1.2: a '.' cannot be written" <<<"$out" && [ -d "$T/ex-bad/.T/cur" ] ||
	fail "maildir export of v1.2: rc=$rc $out"
# 7. Commands that cannot run: one line, exit 1.
rc=0; "$BREV" -d "$D" import nobody@example.test "$S/mutt.mbox" 2>"$T/e1" || rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/e1")" = 1 ] || fail "unknown account: rc=$rc $(cat "$T/e1")"
rc=0; "$BREV" -d "$D" export tb@example.test "$T/ex-tb" --mailbox INBOX 2>"$T/e2" || rc=$?
[ $rc = 1 ] && grep -q "File exists" "$T/e2" || fail "export over a file: rc=$rc $(cat "$T/e2")"
brev_stop
