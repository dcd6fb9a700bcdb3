"""NOTIFY (RFC 5465) against brev: a watching session on a raw socket (so
every untagged line it is sent is seen, with or without a command), and
other sessions that change the account: Python's smtplib for delivery,
imaplib for APPEND/STORE/EXPUNGE/CREATE/RENAME/DELETE/SUBSCRIBE.

Every check runs even when an earlier one failed; failures are listed at the
end and the exit status is 1 if there was any. Waits are bounded (a few
seconds each, generous for a loaded machine); "nothing arrives" is checked
over 2 s after a change that, with NOTIFY on, arrives in milliseconds.
"""
import imaplib, os, re, select, smtplib, socket, subprocess, sys, time

P_IMAP = int(os.environ["P_IMAP"])
P_SMTP = int(os.environ["P_SMTP"])
ALICE, BOB, PW = "alice@example.test", "bob@example.test", "pw-notify"
FAILED = []
WAIT = 15.0


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


class Raw:
    """A line-level IMAP client: every response line, literals inlined."""

    def __init__(self, user, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(("127.0.0.1", P_IMAP))
        self.buf = b""
        self.n = 0
        self.line(WAIT)  # greeting
        tag, _ = self.cmd('LOGIN "%s" "%s"' % (user, PW))
        assert tag.split()[1] == b"OK", tag

    def line(self, timeout):
        """One response line (a literal and the rest of its line inlined),
        or None after timeout seconds."""
        end = time.time() + timeout
        out = b""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out += self.buf[:i]
                self.buf = self.buf[i + 2:]
                m = re.search(rb"\{(\d+)\}$", out)
                if not m:
                    return out
                n = int(m.group(1))
                while len(self.buf) < n:
                    if not self.fill(end):
                        return None
                out += b"\r\n" + self.buf[:n]
                self.buf = self.buf[n:]
                continue
            if not self.fill(end):
                return None

    def fill(self, end):
        left = end - time.time()
        if left <= 0 or not select.select([self.s], [], [], left)[0]:
            return False
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d
        return True

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def cmd(self, text, timeout=WAIT):
        """(tagged line, untagged lines before it)."""
        self.n += 1
        tag = "n%d" % self.n
        self.send("%s %s" % (tag, text))
        got = []
        while True:
            ln = self.line(timeout)
            if ln is None:
                return b"(timeout)", got
            if ln.startswith(tag.encode() + b" "):
                return ln, got
            got.append(ln)

    def until(self, pattern, timeout=WAIT):
        """Untagged lines until one matches pattern (bytes regex); (match
        or None, lines seen)."""
        seen = []
        end = time.time() + timeout
        while True:
            ln = self.line(max(0.0, end - time.time()))
            if ln is None:
                return None, seen
            seen.append(ln)
            if re.search(pattern, ln):
                return ln, seen

    def quiet(self, secs=2.0):
        """Lines that arrive within secs (expected: none)."""
        seen = []
        end = time.time() + secs
        while True:
            ln = self.line(max(0.0, end - time.time()))
            if ln is None:
                return seen
            seen.append(ln)


def ok(tagged):
    return tagged.split()[1:2] == [b"OK"]


def deliver(to, subject):
    with smtplib.SMTP("127.0.0.1", P_SMTP, timeout=20) as s:
        s.sendmail("far@remote.test", [to],
                   ("From: far@remote.test\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n"
                    % (to, subject)).encode())


def other(user):
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=20)
    m.login(user, PW)
    return m


def msg(subject):
    return ("From: x@example.test\r\nSubject: %s\r\n\r\nbody\r\n" % subject).encode()


MB = rb'"?%s"?'  # a mailbox name as atom or quoted string

# ---- capability
w = Raw(ALICE)
tag, lines = w.cmd("CAPABILITY")
check(any(b" NOTIFY" in l for l in lines), "CAPABILITY lacks NOTIFY: %r" % lines)

o = other(ALICE)
o.create("Work")

# ---- NOTIFY SET STATUS: initial STATUS of watched mailboxes, not the selected one
tag, _ = w.cmd("SELECT Work")
check(ok(tag), "SELECT Work: %r" % tag)
tag, lines = w.cmd("NOTIFY SET STATUS (selected (MessageNew (UID FLAGS BODY[]) MessageExpunge FlagChange))"
                   " (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))")
if not check(ok(tag), "NOTIFY SET: %r" % tag):
    sys.exit(1)  # every check below would only wait for its time-out
st = [l for l in lines if l.startswith(b"* STATUS")]
check(any(re.match(rb"\* STATUS " + MB % b"INBOX" + rb" \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+\)$", l)
          for l in st), "NOTIFY SET STATUS: no initial STATUS INBOX: %r" % lines)
check(any(b"Sent" in l for l in st), "NOTIFY SET STATUS: no initial STATUS Sent: %r" % lines)
check(not any(b"Work" in l for l in st), "initial STATUS for the selected mailbox: %r" % lines)

# ---- SMTP delivery to INBOX (not selected): STATUS during IDLE
w.send("i1 IDLE")
ln = w.line(WAIT)
check(ln is not None and ln.startswith(b"+"), "IDLE continuation: %r" % ln)
deliver(ALICE, "one")
ln, seen = w.until(rb"^\* STATUS ")
check(ln is not None and re.match(rb"\* STATUS " + MB % b"INBOX" +
                                  rb" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)$", ln),
      "STATUS INBOX during IDLE after delivery: %r" % seen)
w.send("DONE")
ln, seen = w.until(rb"^i1 ")
check(ln is not None and b"OK" in ln, "IDLE DONE: %r" % seen)

# ---- between commands: pushed with no command in progress, and nothing new at NOOP
deliver(ALICE, "two")
ln, seen = w.until(rb"^\* STATUS ")
check(ln is not None and re.search(rb"MESSAGES 2 UIDNEXT 3", ln),
      "STATUS INBOX between commands (no command sent): %r" % seen)
deliver(ALICE, "three")
time.sleep(0.5)
tag, lines = w.cmd("NOOP")
check(ok(tag) and any(re.search(rb"^\* STATUS .*MESSAGES 3 UIDNEXT 4", l) for l in lines),
      "STATUS INBOX by the next NOOP: %r" % lines)

# ---- another process (brev sendmail) writes the store: control.sock wakes us
r = subprocess.run([os.environ["BREV"], "-d", os.environ["D"], "sendmail", ALICE],
                   input=b"From: cron@example.test\r\nSubject: five\r\n\r\nhi\r\n",
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
check(r.returncode == 0, "brev sendmail: %r" % r.stdout)
ln, seen = w.until(rb"^\* STATUS ")
check(ln is not None and re.search(rb"MESSAGES 4 UIDNEXT 5", ln),
      "STATUS INBOX after brev sendmail (another process): %r" % seen)

# ---- ENABLE CONDSTORE: HIGHESTMODSEQ in STATUS; FlagChange in a non-selected mailbox
tag, _ = w.cmd("ENABLE CONDSTORE")
o.select("INBOX")
o.store("1", "+FLAGS", "(\\Flagged)")
ln, seen = w.until(rb"^\* STATUS ")
check(ln is not None and re.search(rb"MESSAGES 4 UIDNEXT 5 UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)$", ln),
      "STATUS with HIGHESTMODSEQ after a flag change in INBOX: %r" % seen)
# expunge in a non-selected mailbox
o.store("1", "+FLAGS", "(\\Deleted)")
o.expunge()
ln, seen = w.until(rb"^\* STATUS .*MESSAGES 3 ")
check(ln is not None, "STATUS after an expunge in INBOX: %r" % seen)
o.close()

# ---- the selected mailbox: EXISTS + fetch-att, FETCH FLAGS, EXPUNGE, no command needed
o.append("Work", None, None, msg("w1"))
ln, seen = w.until(rb"^\* \d+ FETCH ")
check(any(re.match(rb"^\* 1 EXISTS$", l) for l in seen), "EXISTS for an APPEND to the selected mailbox: %r" % seen)
check(ln is not None and re.match(rb"^\* 1 FETCH \(UID 1 FLAGS \([^)]*\) BODY\[\] \{\d+\}\r\n.*Subject: w1.*\)$", ln, re.S),
      "MessageNew fetch-att (UID FLAGS BODY[]): %r" % seen)
check(not any(b"STATUS" in l for l in seen), "STATUS for the selected mailbox: %r" % seen)
o.select("Work")
typ, data = o.fetch("1", "(FLAGS)")
check(typ == "OK" and b"\\Seen" not in data[0], "fetch-att BODY[] set \\Seen: %r" % data)
o.store("1", "+FLAGS", "(\\Flagged)")
ln, seen = w.until(rb"^\* 1 FETCH ")
check(ln is not None and b"\\Flagged" in ln and b"MODSEQ" in ln, "FlagChange in the selected mailbox: %r" % seen)
o.append("Work", None, None, msg("w2"))
ln, seen = w.until(rb"^\* 2 FETCH ")
check(ln is not None, "second new message: %r" % seen)
o.store("1", "+FLAGS", "(\\Deleted)")
o.expunge()
ln, seen = w.until(rb"^\* 1 EXPUNGE$")
check(ln is not None, "EXPUNGE pushed for the selected mailbox: %r" % seen)

# ---- MailboxName: CREATE, RENAME, DELETE by another session
o.create("Proj")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and re.match(rb'^\* LIST \(\) "/" ' + MB % b"Proj" + rb"$", ln), "LIST on CREATE: %r" % seen)
o.rename("Proj", "Proj2")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and re.match(rb'^\* LIST \(\) "/" ' + MB % b"Proj2" + rb' \("OLDNAME" \(' + MB % b"Proj" + rb"\)\)$", ln),
      "LIST with OLDNAME on RENAME: %r" % seen)
o.delete("Proj2")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and re.match(rb'^\* LIST \(\\NonExistent\) "/" ' + MB % b"Proj2" + rb"$", ln),
      "LIST \\NonExistent on DELETE: %r" % seen)

# ---- SubscriptionChange
o.unsubscribe("Archive")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and re.match(rb'^\* LIST \(\) "/" ' + MB % b"Archive" + rb"$", ln), "LIST on UNSUBSCRIBE: %r" % seen)
o.subscribe("Archive")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and re.match(rb'^\* LIST \(\\Subscribed\) "/" ' + MB % b"Archive" + rb"$", ln),
      "LIST (\\Subscribed) on SUBSCRIBE: %r" % seen)

# ---- BADEVENT and bad syntax
tag, _ = w.cmd("NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")
check(re.match(rb"^n\d+ NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange\)\]", tag),
      "BADEVENT: %r" % tag)
tag, _ = w.cmd("NOTIFY SET (inboxes (ServerMetadataChange))")
check(b"NO [BADEVENT" in tag, "BADEVENT ServerMetadataChange: %r" % tag)
for bad in ["NOTIFY SET (personal (MessageNew))",
            "NOTIFY SET (personal (MessageExpunge))",
            "NOTIFY SET (personal (FlagChange))",
            "NOTIFY SET (inboxes (MessageNew (UID) MessageExpunge))",
            "NOTIFY SET (selected (MessageNew (NOSUCHITEM) MessageExpunge))",
            "NOTIFY SET (bogus (MessageNew MessageExpunge))",
            "NOTIFY SET (personal ())",
            "NOTIFY SET (subtree (MessageNew MessageExpunge))",
            "NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))",
            "NOTIFY SET (personal (MailboxName)) (personal (SubscriptionChange))",
            "NOTIFY SET",
            "NOTIFY SET STATUS",
            "NOTIFY NONE extra",
            "NOTIFY FOO",
            # the limits docs/imap.md states: 16 groups, 1,000 names, 32 fetch-att items
            "NOTIFY SET " + " ".join(["(mailboxes m%d (MailboxName))" % i for i in range(17)]),
            "NOTIFY SET (mailboxes (%s) (MailboxName))" % " ".join("m%d" % i for i in range(1001)),
            "NOTIFY SET (selected (MessageNew (%s) MessageExpunge))" % " ".join(["UID"] * 33)]:
    tag, _ = w.cmd(bad)
    check(re.match(rb"^n\d+ BAD ", tag), "%s: want BAD, got %r" % (bad, tag))

for good in ["NOTIFY SET " + " ".join(["(mailboxes m%d (MailboxName))" % i for i in range(15)])
             + " (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))",
             "NOTIFY SET (selected (MessageNew (UID FLAGS BODY[]) MessageExpunge FlagChange)) "
             "(mailboxes (%s) (MailboxName)) (personal (MessageNew MessageExpunge FlagChange "
             "MailboxName SubscriptionChange))" % " ".join("m%d" % i for i in range(1000))]:
    tag, _ = w.cmd(good)
    check(ok(tag), "at the limits: %s...: %r" % (good[:60], tag))

# ---- a refused NOTIFY left the settings as they were; own changes are told too
o.create("Still")
ln, seen = w.until(rb"^\* LIST ")
check(ln is not None and b"Still" in ln, "NOTIFY settings lost after a refused NOTIFY: %r" % seen)
tag, _ = w.cmd("CREATE Mine")
ln, seen = w.until(rb"^\* LIST ")
check(ok(tag) and ln is not None and b"Mine" in ln, "no LIST for the session's own CREATE: %r" % seen)

# ---- a mailbox in two groups: the first one counts
tag, _ = w.cmd("NOTIFY SET (mailboxes Sent NONE) (personal (MessageNew MessageExpunge))")
check(ok(tag), "NOTIFY SET mailboxes/personal: %r" % tag)
o.append("Sent", None, None, msg("s1"))
o.append("Drafts", None, None, msg("d1"))
ln, seen = w.until(rb"^\* STATUS " + MB % b"Drafts")
check(ln is not None and not any(b"Sent" in l for l in seen),
      "STATUS for a mailbox whose first group says NONE: %r" % seen)

# ---- SELECTED-DELAYED: no EXPUNGE with UID FETCH, then at NOOP
tag, _ = w.cmd("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) "
               "(subtree INBOX (MessageNew MessageExpunge))")
check(ok(tag), "NOTIFY SET selected-delayed: %r" % tag)
o.store("1", "+FLAGS", "(\\Deleted)")
o.expunge()
seen = w.quiet(1.0)  # the flag change may come as FETCH; never EXPUNGE
check(not any(b"EXPUNGE" in l for l in seen), "SELECTED-DELAYED: EXPUNGE with no command: %r" % seen)
tag, lines = w.cmd("UID FETCH 1:* (FLAGS)")
check(ok(tag) and not any(b"EXPUNGE" in l for l in lines), "SELECTED-DELAYED: EXPUNGE in UID FETCH: %r" % lines)
tag, lines = w.cmd("NOOP")
check(ok(tag) and any(re.match(rb"^\* 1 EXPUNGE$", l) for l in lines), "SELECTED-DELAYED: EXPUNGE at NOOP: %r" % lines)

# ---- NOTIFY NONE: nothing more arrives
tag, _ = w.cmd("NOTIFY NONE")
check(ok(tag), "NOTIFY NONE: %r" % tag)
o.create("Quiet")
deliver(ALICE, "four")
seen = w.quiet(2.0)
check(seen == [], "after NOTIFY NONE, unsolicited lines: %r" % seen)
tag, lines = w.cmd("NOOP")
check(ok(tag) and not any(b"STATUS" in l or b"LIST" in l for l in lines),
      "after NOTIFY NONE, NOOP brought notifications: %r" % lines)
o.logout()
w.cmd("LOGOUT")

# ---- overflow: a client that stops reading gets NOTIFICATIONOVERFLOW, then nothing
slow = Raw(BOB, rcvbuf=4096)
tag, _ = slow.cmd("NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
check(ok(tag), "bob NOTIFY SET: %r" % tag)
ob = other(BOB)
N = 120
for i in range(N):  # about 130 KiB of LIST responses that bob does not read
    ob.create("f%03d-%s" % (i, "x" * 400))
for i in range(N):
    ob.rename("f%03d-%s" % (i, "x" * 400), "g%03d-%s" % (i, "y" * 400))
# bob reads nothing until brev has given up on him: brev waits NOTIFY_STALL_MS
# (2 s) for a client to catch up; the log line says when it gave up.
log = os.path.join(os.environ["D"], "serve.log")
for _ in range(450):
    with open(log, errors="replace") as f:
        if "NOTIFY overflow" in f.read():
            break
    time.sleep(0.1)
ln, seen = slow.until(rb"NOTIFICATIONOVERFLOW", timeout=20)
check(ln is not None and re.match(rb"^\* OK \[NOTIFICATIONOVERFLOW\]", ln),
      "no NOTIFICATIONOVERFLOW for a client that stopped reading (%d lines)" % len(seen))
lists = [l for l in seen if l.startswith(b"* LIST")]
check(len(lists) < 2 * N, "all %d notifications were queued" % len(lists))
rest = slow.quiet(1.0)
check(not any(b"LIST" in l for l in rest), "notifications after the overflow: %r" % rest[:3])
ob.create("after-overflow")
seen = slow.quiet(2.0)
check(seen == [], "NOTIFY still on after the overflow: %r" % seen)
tag, lines = slow.cmd("NOOP")
check(ok(tag) and not any(b"after-overflow" in l for l in lines), "after overflow, NOOP: %r" % lines)
ob.logout()

if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("all NOTIFY checks passed")
