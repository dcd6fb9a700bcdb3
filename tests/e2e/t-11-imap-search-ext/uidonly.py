"""UIDONLY (RFC 9586): after ENABLE UIDONLY, commands that take message
numbers are BAD [UIDREQUIRED] (also a number key in UID SEARCH and QRESYNC's
known-sequence-set), FETCH responses are UIDFETCH numbered by UID (solicited,
from STORE, and unsolicited), expunges are VANISHED (own EXPUNGE, MOVE,
another session's), EXISTS stays, and SELECT sends no [UNSEEN n].
"""
import re
from raw import Conn, check, expect, done

USER, PW = "alice@example.test", "pw-alice"


def msg(n):
    return ("From: u@example.test\r\nSubject: uidonly %d\r\n\r\nbody %d\r\n" % (n, n)).encode()


o = Conn(USER, PW)
u, _ = o.cmd("CAPABILITY")
check(any("UIDONLY" in x.split() for x in u), "CAPABILITY lacks UIDONLY: %r" % u)
expect(o, "CREATE U", None)
expect(o, "CREATE U2", None)
for i in range(1, 5):
    _, t = o.append("U", "", "01-Feb-2024 10:00:00 +0000", msg(i))
    check(t.startswith("OK"), "APPEND %d: %r" % (i, t))
expect(o, "SELECT U", None)  # claims \Recent, so the session below sees none

c = Conn(USER, PW)
expect(c, "ENABLE UIDONLY", ["* ENABLED UIDONLY"])
u, t = c.cmd("SELECT U")
check(not any("UNSEEN" in x for x in u), "SELECT with UIDONLY sent a message number: %r" % u)
check("* 4 EXISTS" in u, "SELECT: EXISTS still sent: %r" % u)

# --- RFC 9586 3.3: UIDFETCH, numbered by UID ---------------------------------
expect(c, "UID FETCH 1:* (FLAGS)", ["* %d UIDFETCH (FLAGS ())" % i for i in range(1, 5)])
expect(c, "UID FETCH 2 (UID RFC822.SIZE)", None)
u, _ = c.cmd("UID FETCH 2 (UID FLAGS)")
check(u == ["* 2 UIDFETCH (UID 2 FLAGS ())"], "UID FETCH (UID FLAGS): %r" % u)
expect(c, "UID STORE 2 +FLAGS (\\Seen)", ["* 2 UIDFETCH (FLAGS (\\Seen))"])
expect(c, "UID STORE 3 +FLAGS.SILENT (\\Flagged)", [])
expect(c, "UID SEARCH ALL", ["* SEARCH 1 2 3 4"])
expect(c, "UID SEARCH UID 2:3 SEEN", ["* SEARCH 2"])
expect(c, "UID SEARCH RETURN (SAVE) FLAGGED", [])
expect(c, "UID FETCH $ (FLAGS)", ["* 3 UIDFETCH (FLAGS (\\Flagged))"])

# --- RFC 9586 3.2: message numbers are BAD [UIDREQUIRED] ----------------------
for line in ("FETCH 1 (FLAGS)", "FETCH 1:* (UID)", "SEARCH ALL", "SEARCH 1", "STORE 1 +FLAGS (\\Seen)",
             "COPY 1 U2", "MOVE 1 U2", "UID SEARCH 1:2", "UID SEARCH OR 1 UID 2",
             "UID SEARCH RETURN (SAVE) NOT 3"):
    u, t = c.cmd(line)
    check(t.startswith("BAD [UIDREQUIRED]"), "%s: %r, want BAD [UIDREQUIRED]" % (line, t))
expect(c, "UID FETCH $ (FLAGS)", ["* 3 UIDFETCH (FLAGS (\\Flagged))"], what="$ kept across the BADs")

# --- another session's changes: UIDFETCH, VANISHED, EXISTS --------------------
expect(o, "UID STORE 4 +FLAGS (\\Answered)", None)
expect(c, "NOOP", ["* 4 UIDFETCH (FLAGS (\\Answered))"])
expect(o, "UID STORE 1 +FLAGS (\\Deleted)", None)
expect(o, "EXPUNGE", None)
_, t = o.append("U", "", "01-Feb-2024 10:00:00 +0000", msg(5))
expect(c, "NOOP", ["* VANISHED 1", "* 4 EXISTS"], ignore=r"^\* \d+ RECENT$")

# --- its own EXPUNGE, UID EXPUNGE and UID MOVE: VANISHED ----------------------
expect(c, "UID STORE 2 +FLAGS.SILENT (\\Deleted)", [])
expect(c, "EXPUNGE", ["* VANISHED 2"])
u, t = expect(c, "UID MOVE 3:4 U2", None)
check([x for x in u if not x.startswith("* OK [COPYUID")] == ["* VANISHED 3:4"], "UID MOVE: %r" % u)
expect(c, "UID STORE 5 +FLAGS.SILENT (\\Deleted)", [])
expect(c, "UID EXPUNGE 5", ["* VANISHED 5"])

# --- QRESYNC's known-sequence-set holds numbers -------------------------------
expect(c, "ENABLE QRESYNC", None)
u, _ = c.cmd("SELECT U2")
uv = re.search(r"UIDVALIDITY (\d+)", " ".join(u))
uv = uv.group(1) if uv else "1"
u, t = c.cmd("SELECT U2 (QRESYNC (%s 1 1:2 (1:2 1:2)))" % uv)
check(t.startswith("BAD [UIDREQUIRED]"), "SELECT QRESYNC with seq-match data: %r" % t)
u, t = c.cmd("SELECT U2 (QRESYNC (%s 1 1:2))" % uv)
fl = [x for x in u if "FETCH" in x]
check(t.startswith("OK") and fl and all(re.match(r"\* \d+ UIDFETCH \(", x) for x in fl),
      "SELECT QRESYNC with UIDONLY: %r %r" % (u, t))
c.close()
o.close()
done("uidonly")
