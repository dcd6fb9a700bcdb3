#!/bin/bash
# Power-cut safety (issue 24): every kill -9 test passes with the page cache
# intact, so they would all pass if the store did not sync at all. This one
# watches the system calls (strace -f) and checks that before each
#   - SMTP 250 after DATA (sequential sessions, then concurrent ones that
#     share group commits),
#   - IMAP APPEND OK,
#   - `brev sendmail` exit 0,
# the store's data file was synced (fdatasync, fsync or msync of
# store/data.mdb) and, after that, its meta page was written through the
# descriptor opened with O_DSYNC (LMDB's synchronous meta write): what a
# commit with MDB_NOSYNC or MDB_NOMETASYNC would skip. Seen failing with
# either flag added to store_open's mdb_env_open (docs/development.md,
# "Durability hooks"). test_mailbox's environment_syncs_every_commit checks
# the environment's flags themselves.
. ../lib.sh
command -v strace >/dev/null || fail "strace is missing (tools/deps.sh test)"
brev_init sync
brev_user alice@example.test alice-pw
# LeakSanitizer cannot run under ptrace (it stops the process with an
# error at exit): in the sanitizer pass the traced processes run without
# leak checking; every other test of that pass checks leaks.
case "$BREV" in *-san) export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" ;; esac
TRACE="strace -f -qq -yy -s 48 -e signal=none -e trace=openat,fdatasync,fsync,msync,pwrite64,pwritev,writev,write,sendto,read,exit_group"
$TRACE -o "$T/serve.trace" "$BREV" -d "$D" serve >>"$D/serve.log" 2>&1 &
STRACE_PID=$!
wait_port "$P_SMTP" 30
wait_port "$P_IMAP" 30
BREV_PID=$(pgrep -P "$STRACE_PID") || fail "no brev under strace"
export BREV_PID

python3 -u - <<'PY' || fail "clients"
import imaplib, os, smtplib, threading

def send(i):
    s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=60)
    s.sendmail("s@remote.test", ["alice@example.test"],
               f"Subject: sync {i}\r\nMessage-ID: <sync.{i}@remote.test>\r\n\r\nbody {i}\r\n".encode())
    s.quit()

for i in range(4):
    send(i)
ts = [threading.Thread(target=send, args=(10 + i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
c = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]), timeout=60)
c.login("alice@example.test", "alice-pw")
for i in range(3):
    typ, d = c.append("INBOX", None, None, f"Subject: append {i}\r\n\r\nhi\r\n".encode())
    assert typ == "OK", d
typ, d = c.select("INBOX", readonly=True)
assert typ == "OK" and int(d[0]) == 15, d
c.logout()
print("12 messages over SMTP, 3 APPENDs")
PY
printf 'Subject: by sendmail\n\nfrom a script\n' |
	$TRACE -o "$T/sendmail.trace" "$BREV" -d "$D" sendmail alice@example.test ||
	fail "brev sendmail"
kill -TERM "$BREV_PID"
rc=0
wait "$STRACE_PID" || rc=$?
[ $rc -eq 0 ] || fail "brev serve exited with $rc after SIGTERM"

python3 - "$T/serve.trace" "$T/sendmail.trace" <<'PY' || fail "a reply came before the sync"
import re, sys

LINE = re.compile(r"^(\d+) +(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$")

def events(path):
    """(tid, call, text) for each completed system call, in the order they
    completed; an interrupted call's text is its start plus its end."""
    pending, out = {}, []
    for l in open(path, errors="replace"):
        l = l.rstrip("\n")
        m = LINE.match(l)
        if not m:
            continue
        tid = m.group(1)
        if m.group(2):
            call, text = m.group(2), pending.pop((tid, m.group(2)), "") + m.group(3)
        else:
            call, text = m.group(4), m.group(5)
            if text.endswith("<unfinished ...>"):
                pending[(tid, call)] = text[: -len("<unfinished ...>")]
                continue
        out.append((tid, call, text))
    return out

def result(text):
    m = re.search(r"\) += (-?\d+)", text)
    return int(m.group(1)) if m else None

class Store:
    """Follows the descriptors of store/data.mdb: LMDB opens it twice, once
    plain (pages, fdatasync) and once O_DSYNC (the meta page)."""
    def __init__(self):
        self.data, self.meta = set(), set()
        self.synced = self.committed = False  # since the window opened
    def fd(self, text):
        m = re.match(r"(\d+)<", text)
        return int(m.group(1)) if m else None
    def see(self, call, text):
        if call == "openat" and "/store/data.mdb\"" in text and (r := result(text)) is not None and r >= 0:
            (self.meta if "O_DSYNC" in text else self.data).add(r)
        elif call in ("fdatasync", "fsync", "msync") and result(text) == 0 and \
                (call == "msync" or self.fd(text) in self.data):
            self.synced = True
        elif call in ("pwrite64", "pwritev", "writev", "write") and self.fd(text) in self.meta \
                and (result(text) or 0) > 0 and self.synced:
            self.committed = True
    def open_window(self):
        self.synced = self.committed = False

def sock(text):
    m = re.match(r"(\d+)<(?:TCP|socket)", text)
    return m.group(1) if m else None

# --- the server: SMTP 250 after DATA, IMAP APPEND OK
st = Store()
windows = {}  # socket fd -> (kind, Store state at open)
ok = {"smtp": 0, "imap": 0}
bad = []
for tid, call, text in events(sys.argv[1]):
    st.see(call, text)
    if call != "sendto" or not sock(text):
        continue
    fd, data = sock(text), text.split(", ", 1)[1] if ", " in text else ""
    if data.startswith('"354 '):
        windows[fd] = "smtp"
        st.open_window() if len(windows) == 1 else None
    elif data.startswith('"+ '):
        windows[fd] = "imap"
        st.open_window() if len(windows) == 1 else None
    elif fd in windows and (data.startswith('"250 2.0.0') or re.match(r'"\w+ OK \[APPENDUID', data)):
        kind = windows.pop(fd)
        if not st.committed:
            bad.append(f"{kind} reply without a synced commit before it: {data[:40]}")
        ok[kind] += 1
        if not windows:
            st.open_window()
# Concurrent windows overlap: a window stays open while any is; a reply
# needs a full synced commit (data sync, then the O_DSYNC meta write) after
# the first open window began. With one session at a time (the first four
# messages and the APPENDs), that is its own commit.
if ok["smtp"] != 12 or ok["imap"] != 3:
    bad.append(f"replies seen: {ok}")
print(f"server: {ok['smtp']} SMTP 250 and {ok['imap']} APPEND OK, each after a synced commit"
      if not bad else "\n".join(bad))

# --- brev sendmail: a synced commit after stdin's end, before exit_group(0)
st, eof, exits = Store(), False, []
for tid, call, text in events(sys.argv[2]):
    st.see(call, text)
    if call == "read" and text.startswith("0<") and result(text) == 0:
        eof = True
        st.open_window()
    if call == "exit_group":
        exits.append((text, eof, st.committed))
if not exits or not exits[-1][0].startswith("0)"):
    bad.append(f"sendmail: no exit_group(0): {exits}")
elif not exits[-1][1]:
    bad.append("sendmail never read the end of its input")
elif not exits[-1][2]:
    bad.append("sendmail exited 0 without a synced commit after reading the message")
else:
    print("sendmail: exit 0 after a synced commit")
assert not bad, "\n".join(bad)
PY
