"""SEARCHRES (RFC 5182, RFC 9051 6.4.4.1-6.4.4.4) as golden dialogues.

Mailbox Res holds six messages (UIDs 1-6), shaped after the RFC's examples:
  1 Jones  \\Flagged 11-Feb-2008   4 Jones \\Flagged 12-Feb-2008
  2 Smith  \\Flagged 11-Feb-2008   5 Lee   \\Flagged  1-Jan-1990
  3 Brown  (none)    11-Feb-2008   6 Lee   \\Flagged 13-Feb-2008
so the RFC's `FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"` finds 1, 4, 6.
"""
import re
from raw import Conn, check, expect, done

USER, PW = "alice@example.test", "pw-alice"
RFC_KEYS = 'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'


def msg(frm, n):
    return ("From: %s <%s@example.test>\r\nTo: alice@example.test\r\n"
            "Subject: message %d\r\n\r\nbody %d\r\n" % (frm, frm.lower(), n, n)).encode()


# --- set-up: Res with the six messages; this session claims \Recent -----
c = Conn(USER, PW)
u, _ = c.cmd("CAPABILITY")
check(any("SEARCHRES" in x.split() for x in u), "CAPABILITY lacks SEARCHRES: %r" % u)
for box in ("Res", "Work", "Moved"):
    expect(c, "CREATE %s" % box, None)
rows = [("Jones", r"\Flagged", "11-Feb-2008 11:17:10 +0000"),
        ("Smith", r"\Flagged", "11-Feb-2008 11:17:10 +0000"),
        ("Brown", "", "11-Feb-2008 11:17:10 +0000"),
        ("Jones", r"\Flagged", "12-Feb-2008 11:17:10 +0000"),
        ("Lee", r"\Flagged", "01-Jan-1990 11:17:10 +0000"),
        ("Lee", r"\Flagged", "13-Feb-2008 11:17:10 +0000")]
for i, (frm, fl, date) in enumerate(rows, 1):
    _, t = c.append("Res", fl, date, msg(frm, i))
    check(t.startswith("OK") and " %d]" % i in t, "APPEND %d: %r" % (i, t))
expect(c, "SELECT Res", None)
c.close()

c = Conn(USER, PW)
expect(c, "SELECT Res", None)
# Before any SAVE, "$" is empty (and valid).
expect(c, "FETCH $ (UID)", [], what="FETCH $ before any SAVE")

# --- RFC 5182 2.3 example 1: SAVE, then FETCH $ ----------------------------
F146 = ["* 1 FETCH (UID 1 FLAGS (\\Flagged))", "* 4 FETCH (UID 4 FLAGS (\\Flagged))",
        "* 6 FETCH (UID 6 FLAGS (\\Flagged))"]
expect(c, "SEARCH RETURN (SAVE) " + RFC_KEYS, [], what="SAVE alone: no ESEARCH")
expect(c, "FETCH $ (UID FLAGS)", F146)

# --- example 2: the same, pipelined -----------------------------------------
expect(c, "SEARCH RETURN (SAVE) FROM \"Brown\"", [])
(u1, t1), (u2, t2) = c.pipeline(["SEARCH RETURN (SAVE) " + RFC_KEYS, "FETCH $ (UID FLAGS)"])
check(t1.startswith("OK") and u1 == [], "pipelined SAVE: %r %r" % (u1, t1))
check(t2.startswith("OK") and u2 == F146, "pipelined FETCH $: %r %r" % (u2, t2))

# --- "$" in SEARCH, and a SAVE that uses the previous "$" --------------------
expect(c, "SEARCH $", ["* SEARCH 1 4 6"])
expect(c, "UID SEARCH UID $", ["* SEARCH 1 4 6"])
expect(c, "SEARCH OR $ 2", ["* SEARCH 1 2 4 6"])
expect(c, "SEARCH $ FROM \"Lee\"", ["* SEARCH 6"])
expect(c, "SEARCH RETURN (SAVE) NOT $", [])
expect(c, "SEARCH $", ["* SEARCH 2 3 5"], what="NOT $ saved the complement")

# --- UID SEARCH saves messages; "$" maps to numbers or UIDs as the command needs
expect(c, "UID SEARCH RETURN (SAVE) FROM \"Lee\"", [])
expect(c, "FETCH $ (UID)", ["* 5 FETCH (UID 5)", "* 6 FETCH (UID 6)"])
expect(c, "UID FETCH $ (FLAGS)", ["* 5 FETCH (UID 5 FLAGS (\\Flagged))",
                                  "* 6 FETCH (UID 6 FLAGS (\\Flagged))"])

# --- SAVE with MIN / MAX (RFC 5182 2.4, RFC 9051 6.4.4.2) --------------------
def esearch(c, line, want_data, want_saved):
    t = c.tag()
    c.send("%s %s\r\n" % (t, line))
    u, tt = c.read_until(t)
    want = '* ESEARCH (TAG "%s")%s' % (t, want_data)
    check(tt.startswith("OK") and u == [want], "%s: %r %r, want %r" % (line, u, tt, want))
    expect(c, "SEARCH $", ["* SEARCH" + want_saved], what="$ after " + line)

esearch(c, "SEARCH RETURN (SAVE MIN) FLAGGED", " MIN 1", " 1")
esearch(c, "SEARCH RETURN (SAVE MAX) FLAGGED", " MAX 6", " 6")
esearch(c, "SEARCH RETURN (MIN SAVE MAX) FLAGGED", " MIN 1 MAX 6", " 1 6")
esearch(c, "SEARCH RETURN (SAVE MIN COUNT) FLAGGED", " MIN 1 COUNT 5", " 1 2 4 5 6")
esearch(c, "SEARCH RETURN (SAVE MAX ALL) NOT FLAGGED", " MAX 3 ALL 3", " 3")
esearch(c, "UID SEARCH RETURN (SAVE ALL) FROM \"Jones\"", " UID ALL 1,4", " 1 4")
esearch(c, "SEARCH RETURN (SAVE MIN MAX) FROM \"Brown\"", " MIN 3 MAX 3", " 3")
esearch(c, "SEARCH RETURN (SAVE MIN) FROM \"nobody\"", "", "")

# --- the empty result is valid everywhere (RFC 9051 6.4.4.1) -----------------
expect(c, "SEARCH RETURN (SAVE) FROM \"nobody\"", [])
expect(c, "FETCH $ (UID)", [], what="FETCH $ (empty)")
expect(c, "UID FETCH $ (UID)", [], what="UID FETCH $ (empty)")
expect(c, "STORE $ +FLAGS (\\Seen)", [], what="STORE $ (empty)")
expect(c, "COPY $ Work", None, what="COPY $ (empty)")
expect(c, "SEARCH $", ["* SEARCH"])

# --- what changes "$" and what does not --------------------------------------
expect(c, "SEARCH RETURN (SAVE) FROM \"Jones\"", [])
expect(c, "SEARCH FROM \"Lee\"", ["* SEARCH 5 6"])
expect(c, "SEARCH RETURN (COUNT) FROM \"Lee\"", None)
expect(c, "SEARCH $", ["* SEARCH 1 4"], what="$ after searches without SAVE")
expect(c, "SEARCH RETURN (SAVE) FROBNICATE", None, cond="BAD")
expect(c, "SEARCH RETURN (SAVE) 1,$", None, cond="BAD")
expect(c, "SEARCH $", ["* SEARCH 1 4"], what="$ after a SAVE answered BAD (unchanged)")
expect(c, "SEARCH RETURN (SAVE) CHARSET KOI8-R FROM \"Lee\"", None, cond="NO")
expect(c, "SEARCH $", ["* SEARCH"], what="$ after a SAVE answered NO (empty)")

# --- bad syntax: "$" is a whole set, never a part of one ----------------------
for line in ("FETCH 1,$ (UID)", "FETCH $:2 (UID)", "UID FETCH $,1 (UID)", "FETCH $$ (UID)",
             "STORE $1 +FLAGS (\\Seen)", "COPY 1:$ Work", "UID EXPUNGE $:*", "SEARCH UID 1,$",
             "SEARCH RETURN (SAVE BOGUS) ALL", "UID MOVE $* Work"):
    expect(c, line, None, cond="BAD")

# --- reset by SELECT, EXAMINE, and selecting again after UNSELECT/CLOSE ------
for leave in (None, "UNSELECT", "CLOSE"):
    for enter in ("SELECT Res", "EXAMINE Res"):
        expect(c, "SEARCH RETURN (SAVE) FROM \"Jones\"", [])
        expect(c, "SEARCH $", ["* SEARCH 1 4"])
        if leave:
            expect(c, leave, None)
        expect(c, enter, None)
        expect(c, "SEARCH $", ["* SEARCH"], what="$ after %s%s" % (leave + ", " if leave else "", enter))
        if enter.startswith("EXAMINE"):
            expect(c, "SELECT Res", None)

# --- STORE, COPY and UID EXPUNGE on "$" --------------------------------------
expect(c, "SEARCH RETURN (SAVE) FROM \"Jones\"", [])
u, t = expect(c, "COPY $ Work", None)
check(re.search(r"\[COPYUID \d+ 1,4 1:2\]", t), "COPY $ Work: %r" % t)
expect(c, "SELECT Work", None)
expect(c, "SEARCH RETURN (SAVE) ALL", [])
# (Work's copies are \Recent to this first session to select it, RFC 3501)
expect(c, "STORE $ +FLAGS (\\Seen)", ["* 1 FETCH (FLAGS (\\Recent \\Seen \\Flagged))",
                                      "* 2 FETCH (FLAGS (\\Recent \\Seen \\Flagged))"])
expect(c, "SEARCH RETURN (SAVE) 2", [])
expect(c, "UID STORE $ +FLAGS (\\Deleted)", ["* 2 FETCH (UID 2 FLAGS (\\Recent \\Seen \\Flagged \\Deleted))"])
expect(c, "STORE 1 +FLAGS (\\Deleted)", ["* 1 FETCH (FLAGS (\\Recent \\Seen \\Flagged \\Deleted))"])
expect(c, "UID EXPUNGE $", ["* 2 EXPUNGE"], what="UID EXPUNGE $ (only the saved one)")
expect(c, "SEARCH DELETED", ["* SEARCH 1"])
expect(c, "FETCH $ (UID)", [], what="FETCH $ after its message was expunged")

# --- expunged messages leave "$"; numbers follow -----------------------------
expect(c, "SELECT Res", None)
expect(c, "SEARCH RETURN (SAVE) " + RFC_KEYS, [])
o = Conn(USER, PW)
expect(o, "SELECT Res", None)
expect(o, "STORE 1 +FLAGS (\\Deleted)", None)
expect(o, "EXPUNGE", ["* 1 EXPUNGE"])
o.close()
expect(c, "NOOP", ["* 1 EXPUNGE"])
expect(c, "FETCH $ (UID)", ["* 3 FETCH (UID 4)", "* 5 FETCH (UID 6)"])
expect(c, "SEARCH $", ["* SEARCH 3 5"])
expect(c, "UID SEARCH UID $", ["* SEARCH 4 6"])
expect(c, "UID SEARCH RETURN (SAVE) FROM \"Lee\"", [])
u, t = expect(c, "MOVE $ Moved", None)
check([x for x in u if "EXPUNGE" in x] == ["* 5 EXPUNGE", "* 4 EXPUNGE"], "MOVE $: %r" % u)
expect(c, "FETCH $ (UID)", [], what="FETCH $ after MOVE $")

# --- QRESYNC's UID FETCH ... (CHANGEDSINCE n VANISHED) takes "$" too ---------
expect(c, "ENABLE QRESYNC", None)
expect(c, "UID SEARCH RETURN (SAVE) ALL", [])
u, _ = expect(c, "UID FETCH $ (FLAGS) (CHANGEDSINCE 1 VANISHED)", None)
check(sorted(re.findall(r"UID (\d+)", " ".join(u))) == ["2", "3", "4"], "UID FETCH $ VANISHED: %r" % u)
u, _ = expect(c, "SELECT Res", None)
uv = re.search(r"UIDVALIDITY (\d+)", " ".join(u))
expect(c, "SELECT Res (QRESYNC (%s 1 $))" % (uv.group(1) if uv else "1"), None, cond="BAD",
       what="$ as QRESYNC's known-uids")
c.close()
done("searchres")
