"""Training the classifier through a real IMAP client (imaplib), then
sending with smtplib and reading BAYES(x) out of X-Spam-Status.

argv[1]: the phase (run.sh checks `brev spam status` between phases).
Every check runs even when an earlier one failed.
"""
import email.utils, imaplib, os, re, smtplib, sys

P_SMTP, P_IMAP = int(os.environ["P_SMTP"]), int(os.environ["P_IMAP"])
USER, PW = "alice@example.test", "pw-secret-1"
STATE = os.path.join(os.environ["T"], "learn.state")
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def send(tag, words):
    data = ("From: Zed <zed@widgets.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s.%d@widgets.test>\r\nDate: %s\r\n\r\n%s\r\n" %
            (USER, words, tag, os.getpid(), email.utils.formatdate(), words)).encode()
    with smtplib.SMTP("127.0.0.1", P_SMTP, "client.test", timeout=30) as s:
        s.sendmail("zed@widgets.test", [USER], data)
    m = imap()
    m.select("INBOX")
    typ, d = m.uid("SEARCH", "HEADER", "Message-ID", "<%s." % tag)
    uids = d[0].split()
    box = "INBOX"
    if not uids:
        m.select("Junk")
        typ, d = m.uid("SEARCH", "HEADER", "Message-ID", "<%s." % tag)
        uids, box = d[0].split(), "Junk"
    check(len(uids) == 1, "%s: not found once in INBOX or Junk" % tag)
    typ, f = m.uid("FETCH", uids[0], "(BODY.PEEK[HEADER.FIELDS (X-Spam-Status)])")
    m.logout()
    st = re.sub(rb"\r\n[ \t]", b" ", f[0][1]).decode()
    mt = re.search(r"BAYES\((-?\d+\.\d)\)", st)
    check(mt is not None, "%s: no BAYES in %r" % (tag, st))
    print("%s: %s in %s" % (tag, st.strip(), box))
    return (float(mt.group(1)) if mt else None), int(uids[0]), box


def imap():
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=30)
    m.login(USER, PW)
    return m


def find(m, box, tag):
    m.select(box)
    typ, d = m.uid("SEARCH", "HEADER", "Message-ID", "<%s." % tag)
    return d[0].split()


WORDS = "zorblat widget offer for the project team"
phase = sys.argv[1]
state = dict(l.split("=", 1) for l in open(STATE).read().split()) if os.path.exists(STATE) else {}

if phase == "before":
    b0, uid, box = send("x0", WORDS)
    check(box == "INBOX", "x0 went to %s" % box)
    m = imap()
    m.select("INBOX")
    typ, d = m.uid("MOVE", str(uid), "Junk")
    check(typ == "OK", "MOVE to Junk: %r" % d)
    m.logout()
    state["b0"] = b0
elif phase == "after-junk":
    b1, _, _ = send("x1", WORDS)
    check(b1 is not None and float(state["b0"]) is not None and b1 > float(state["b0"]),
          "after MOVE to Junk, BAYES %r is not above %r" % (b1, state["b0"]))
    state["b1"] = b1
    # moving it back out of Junk: ham, reversing the spam training
    m = imap()
    u = find(m, "Junk", "x0")
    check(len(u) == 1, "x0 not in Junk")
    typ, d = m.uid("MOVE", u[0], "INBOX")
    check(typ == "OK", "MOVE back: %r" % d)
    m.logout()
elif phase == "after-back":
    b2, _, _ = send("x2", WORDS)
    check(b2 is not None and b2 < float(state["b1"]),
          "after MOVE back, BAYES %r is not below %r" % (b2, state["b1"]))
    # COPY into Junk twice: trained once
    m = imap()
    u = find(m, "INBOX", "x2")
    for i in range(2):
        typ, d = m.uid("COPY", u[0], "Junk")
        check(typ == "OK", "COPY to Junk: %r" % d)
    m.logout()
elif phase == "keywords":
    # $Junk on a message in INBOX trains spam; $NotJunk takes it back
    b3, uid, box = send("x3", "gizmoflux quarterly figures")
    check(box == "INBOX", "x3 went to %s" % box)
    m = imap()
    m.select(box)
    typ, d = m.uid("STORE", str(uid), "+FLAGS", "($Junk)")
    check(typ == "OK", "STORE $Junk: %r" % d)
    m.logout()
    b4, _, _ = send("x4", "gizmoflux quarterly figures")
    check(b4 > b3, "after $Junk, BAYES %r is not above %r" % (b4, b3))
    m = imap()
    m.select(box)
    typ, d = m.uid("STORE", str(uid), "FLAGS", "(NonJunk)")
    check(typ == "OK", "STORE NonJunk: %r" % d)
    m.logout()
    b5, _, _ = send("x5", "gizmoflux quarterly figures")
    check(b5 < b4, "after NonJunk, BAYES %r is not below %r" % (b5, b4))
    # Junk -> Trash is deleting, not "not junk": no ham training
    m = imap()
    u = find(m, "Junk", "x1")
    check(len(u) == 1, "x1 not in Junk")
    typ, d = m.uid("MOVE", u[0], "Trash")
    check(typ == "OK", "MOVE to Trash: %r" % d)
    u = find(m, "INBOX", "x5")
    m.logout()
    check(len(u) == 1, "x5 not in INBOX")
    state["x5uid"] = u[0].decode() if u else "0"

elif phase == "cap":
    # one MOVE of 501 messages into Junk trains 500 (spam_learn.h)
    m = imaplib.IMAP4("127.0.0.1", P_IMAP, timeout=120)
    m.login("bob@example.test", PW)
    for i in range(501):
        typ, d = m.append("INBOX", None, None,
                          b"Subject: bulk %d\r\n\r\nbulk message number %d\r\n" % (i, i))
        if typ != "OK":
            check(False, "APPEND %d: %r" % (i, d))
            break
    m.select("INBOX")
    typ, d = m.uid("MOVE", "1:*", "Junk")
    check(typ == "OK", "MOVE 501: %r" % d)
    m.logout()

open(STATE, "w").write(" ".join("%s=%s" % kv for kv in state.items()))
if FAILED:
    sys.exit(1)
print("ok", phase)
