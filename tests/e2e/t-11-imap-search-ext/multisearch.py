"""MULTISEARCH (RFC 7377): ESEARCH IN (filters) across mailboxes, each
result tagged with MAILBOX and UIDVALIDITY and given as UIDs; the RFC's
example (mailboxes + subtree-one), selected, inboxes, personal, subscribed,
subtree, RETURN options, keys that read the message, keywords of another
mailbox, "*" as each mailbox's own largest UID, and the BAD forms.
"""
import re
from raw import Conn, check, expect, done

USER, PW = "bob@example.test", "pw-bob-1"


def msg(frm, n):
    return ("From: %s <%s@example.test>\r\nSubject: m %d\r\n\r\n%sbody %d\r\n"
            % (frm, frm.lower(), n, frm.lower(), n)).encode()


c = Conn(USER, PW)
u, _ = c.cmd("CAPABILITY")
check(any("MULTISEARCH" in x.split() for x in u), "CAPABILITY lacks MULTISEARCH: %r" % u)
layout = {"INBOX": ["Smith", "Jones"], "folder1": ["Smith", "Smith", "Jones"],
          "folder2": ["Jones"], "folder2/salmon": ["Smith"], "folder2/salmon/deep": ["Smith"],
          "folder3": ["Jones", "Smith"]}
for box in layout:
    if box != "INBOX":
        expect(c, 'CREATE "%s"' % box, None)
n = 0
for box, froms in layout.items():
    for f in froms:
        n += 1
        _, t = c.append('"%s"' % box, "", "01-Feb-2024 10:00:00 +0000", msg(f, n))
        check(t.startswith("OK"), "APPEND %s: %r" % (box, t))
expect(c, "SUBSCRIBE folder3", None)
uidv = {}
for box in layout:
    u, _ = c.cmd('STATUS "%s" (UIDVALIDITY)' % box)
    m = re.search(r"UIDVALIDITY (\d+)", " ".join(u))
    uidv[box] = m.group(1) if m else "?"


def es(line, want, cond="OK"):
    """want: {mailbox: result-after-"UID"} (order free)."""
    t = c.tag()
    c.send("%s %s\r\n" % (t, line))
    u, tt = c.read_until(t)
    got = {}
    for l in u:
        m = re.match(r'\* ESEARCH \(TAG "%s" MAILBOX "?([^" ]+)"? UIDVALIDITY (\d+)\) UID(.*)$' % t, l)
        if not m:
            check(False, "%s: unexpected %r" % (line, l))
            continue
        check(m.group(2) == uidv.get(m.group(1)), "%s: UIDVALIDITY of %s: %r" % (line, m.group(1), l))
        got[m.group(1)] = m.group(3).strip()
    check(tt.startswith(cond) and got == want, "%s: %r %r, want %r" % (line, got, tt, want))


# RFC 7377 2's example, with this layout.
es('ESEARCH IN (mailboxes "folder1" subtree-one "folder2") FROM "Smith"',
   {"folder1": "ALL 1:2", "folder2/salmon": "ALL 1"})
es('ESEARCH IN (mailboxes ("folder1" folder3 "no-such-box")) RETURN (COUNT) FROM "Smith"',
   {"folder1": "COUNT 2", "folder3": "COUNT 1"})
es('ESEARCH IN (subtree folder2) RETURN (MIN MAX COUNT) FROM "Smith"',
   {"folder2/salmon": "MIN 1 MAX 1 COUNT 1", "folder2/salmon/deep": "MIN 1 MAX 1 COUNT 1"})
es('ESEARCH IN (inboxes) FROM "Smith"', {"INBOX": "ALL 1"})
es('ESEARCH IN (personal) RETURN () FROM "Smith"',
   {"INBOX": "ALL 1", "folder1": "ALL 1:2", "folder2/salmon": "ALL 1",
    "folder2/salmon/deep": "ALL 1", "folder3": "ALL 2"})
u, _ = c.cmd('LSUB "" "*"')
subs = [m.group(1) for m in (re.search(r'"?([^" ]+)"?$', l) for l in u) if m]
want = {"INBOX": "ALL 1", "folder3": "ALL 2"}
es('ESEARCH IN (subscribed) FROM "Smith"', {k: v for k, v in want.items() if k in subs})
check("folder3" in subs, "LSUB lacks folder3: %r" % u)
es('ESEARCH IN (personal) BODY "jonesbody"',
   {"INBOX": "ALL 2", "folder1": "ALL 3", "folder2": "ALL 1", "folder3": "ALL 1"})
es('ESEARCH IN (personal) FROM "nobody"', {})
es('ESEARCH IN (mailboxes (folder1 folder3)) UID *', {"folder1": "ALL 3", "folder3": "ALL 2"})
es('ESEARCH IN (selected) ALL', {}, )  # nothing selected: nothing to search

# Keywords are per mailbox: found by name in another mailbox's table.
expect(c, "SELECT folder3", None)
expect(c, "UID STORE 1 +FLAGS.SILENT ($Work)", None)
expect(c, "UNSELECT", None)
es('ESEARCH IN (personal) KEYWORD $Work', {"folder3": "ALL 1"})
es('ESEARCH IN (personal) UNKEYWORD $Work FROM "Jones"',
   {"INBOX": "ALL 2", "folder1": "ALL 3", "folder2": "ALL 1"})

# The selected mailbox, with and without IN.
expect(c, "SELECT folder1", None)
es('ESEARCH FROM "Smith"', {"folder1": "ALL 1:2"})
es('ESEARCH IN (selected inboxes) RETURN (MAX) FROM "Smith"', {"folder1": "MAX 2", "INBOX": "MAX 1"})
es('ESEARCH CHARSET UTF-8 FROM "Smith"', {"folder1": "ALL 1:2"})
expect(c, 'ESEARCH CHARSET KOI8-R FROM "Smith"', None, cond="NO [BADCHARSET")

for line in ("ESEARCH IN () ALL", "ESEARCH IN (bogus) ALL", "ESEARCH IN (mailboxes) ALL",
             "ESEARCH IN (mailboxes ()) ALL", "ESEARCH IN (mailboxes folder1 folder3) ALL", "ESEARCH IN personal ALL", "ESEARCH IN (personal) 1:3",
             "ESEARCH IN (personal) UID $", "ESEARCH IN (personal) RETURN (SAVE) ALL",
             "ESEARCH IN (personal (depth)) ALL", "ESEARCH IN (personal) NOSUCHKEY",
             "ESEARCH IN (personal)", "ESEARCH IN (personal) RETURN (BOGUS) ALL"):
    expect(c, line, None, cond="BAD")
expect(c, "UNSELECT", None)
expect(c, 'ESEARCH FROM "Smith"', None, cond="BAD")
c.close()
done("multisearch")
