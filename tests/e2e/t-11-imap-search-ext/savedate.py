"""SAVEDATE (RFC 8514): the time a message entered its mailbox, as FETCH
SAVEDATE and the SEARCH keys SAVEDBEFORE / SAVEDON / SAVEDSINCE /
SAVEDATESUPPORTED. APPEND with an old INTERNALDATE, SMTP delivery, COPY and
MOVE each give a new save date; a flag change keeps it. Days are compared
with the day of the save date brev itself reported, so a run across
midnight cannot fail it.
"""
import datetime, os, re, smtplib, time
from raw import Conn, check, expect, done

USER, PW = "alice@example.test", "pw-alice"
OLD = "01-Jan-2001 10:00:00 +0000"


def saved(c, box_seq):
    """{seq: datetime} of FETCH n (SAVEDATE INTERNALDATE)."""
    u, t = c.cmd("FETCH %s (SAVEDATE INTERNALDATE)" % box_seq)
    out = {}
    for l in u:
        m = re.match(r'\* (\d+) FETCH \(SAVEDATE "([^"]+)" INTERNALDATE "([^"]+)"\)$', l)
        if m:
            f = "%d-%b-%Y %H:%M:%S %z"
            out[int(m.group(1))] = (datetime.datetime.strptime(m.group(2), f),
                                    datetime.datetime.strptime(m.group(3), f))
    check(t.startswith("OK") and len(out) == len(u), "FETCH %s (SAVEDATE INTERNALDATE): %r %r" % (box_seq, u, t))
    return out


def day(d):
    return d.astimezone(datetime.timezone.utc).strftime("%-d-%b-%Y")


def near_now(d, what):
    check(abs(time.time() - d.timestamp()) < 600, "%s: save date %s is not now" % (what, d))


c = Conn(USER, PW)
u, _ = c.cmd("CAPABILITY")
check(any("SAVEDATE" in x.split() for x in u), "CAPABILITY lacks SAVEDATE: %r" % u)
for box in ("SD", "SD2", "SD3"):
    expect(c, "CREATE %s" % box, None)
_, t = c.append("SD", "", OLD, b"From: a@example.test\r\nSubject: appended\r\n\r\nold\r\n")
check(t.startswith("OK"), "APPEND: %r" % t)
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=20)
s.sendmail("bob@example.test", [USER], b"From: bob@example.test\r\nSubject: delivered\r\n\r\nnew\r\n")
s.quit()

# --- APPEND: INTERNALDATE the client's, SAVEDATE now (RFC 8514 3) ----------
expect(c, "SELECT SD", None)
d = saved(c, "1")
check(1 in d and d[1][1].year == 2001, "INTERNALDATE of the APPEND: %r" % d)
if 1 in d:
    near_now(d[1][0], "APPEND")
    sd = day(d[1][0])
    expect(c, "SEARCH SAVEDON %s" % sd, ["* SEARCH 1"])
    expect(c, "SEARCH SAVEDSINCE %s" % sd, ["* SEARCH 1"])
    expect(c, "SEARCH SAVEDBEFORE %s" % sd, ["* SEARCH"])
    expect(c, "SEARCH SAVEDBEFORE 2-Jan-2001", ["* SEARCH"], what="SAVEDBEFORE is not INTERNALDATE")
    expect(c, "SEARCH BEFORE 2-Jan-2001", ["* SEARCH 1"])
    expect(c, "SEARCH SAVEDSINCE 2-Jan-2001 NOT SINCE 2-Jan-2001", ["* SEARCH 1"])
    expect(c, "UID SEARCH RETURN (COUNT) SAVEDATESUPPORTED", None)
expect(c, "SEARCH SAVEDATESUPPORTED", ["* SEARCH 1"])
expect(c, "SEARCH NOT SAVEDATESUPPORTED", ["* SEARCH"])
# A flag change keeps it.
time.sleep(1.1)
expect(c, "STORE 1 +FLAGS.SILENT (\\Flagged)", [])
d2 = saved(c, "1")
check(d2.get(1, (0,))[0] == d.get(1, (1,))[0], "STORE changed the save date: %r -> %r" % (d, d2))

# --- delivery ---------------------------------------------------------------
expect(c, "SELECT INBOX", None)
u, _ = c.cmd("SEARCH ALL")
n = u[0].split()[-1] if u and len(u[0].split()) > 2 else "1"
dd = saved(c, n)
if dd:
    near_now(list(dd.values())[0][0], "delivery")

# --- COPY and MOVE: a new save date in the destination ----------------------
expect(c, "SELECT SD", None)
expect(c, "COPY 1 SD2", None)
expect(c, "SELECT SD2", None)
dc = saved(c, "1")
check(1 in dc and 1 in d and dc[1][0] > d[1][0] and dc[1][1] == d[1][1],
      "COPY: save date %r, original %r (want later, same INTERNALDATE)" % (dc, d))
time.sleep(1.1)
expect(c, "MOVE 1 SD3", None)
expect(c, "SELECT SD3", None)
dm = saved(c, "1")
check(1 in dm and 1 in dc and dm[1][0] > dc[1][0] and dm[1][1] == d[1][1],
      "MOVE: save date %r, before the move %r" % (dm, dc))
if 1 in dm:
    expect(c, "SEARCH SAVEDON %s SAVEDATESUPPORTED" % day(dm[1][0]), ["* SEARCH 1"])
expect(c, "UID FETCH 1:* (SAVEDATE)", None)
# RENAME keeps it: the messages do not move.
expect(c, "UNSELECT", None)
expect(c, "RENAME SD3 SD4", None)
expect(c, "SELECT SD4", None)
dr = saved(c, "1")
check(1 in dr and 1 in dm and dr[1][0] == dm[1][0], "RENAME changed the save date: %r -> %r" % (dm, dr))

# --- bad syntax --------------------------------------------------------------
for line in ("SEARCH SAVEDBEFORE", "SEARCH SAVEDON 32-Jan-2020", "SEARCH SAVEDSINCE yesterday",
             "SEARCH SAVEDON 1-Jan-20", "SEARCH SAVEDATESUPPORTED 1-Jan-2020", "FETCH 1 (SAVEDATE[])",
             "FETCH 1 SAVEDATE.PEEK"):
    expect(c, line, None, cond="BAD")
c.close()
done("savedate")
