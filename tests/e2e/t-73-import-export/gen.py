# Writes the sources t-73 imports and, beside them, what brev must hold
# afterwards (expect.json): per account and mailbox, each message's bytes
# (base64), flags, keywords and INTERNALDATE, computed here from what was
# written, not by reading the files back.
import base64, json, os, sys, calendar, time

T = sys.argv[1]
expect = {}

def add(acct, mbox, data, flags=(), kws=(), date=None):
    expect.setdefault(acct, {}).setdefault(mbox, []).append(
        {"b": base64.b64encode(data).decode(), "flags": sorted(flags),
         "kw": sorted(kws), "date": date})

def msg(subject, body, nl=b"\n"):
    return nl.join([b"From: Ann <ann@example.test>", b"To: bob@example.test",
                    b"Subject: " + subject.encode(), b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@example.test>",
                    b"", *body, b""])

def asctime(t):
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t)).encode()

def mk(p):
    os.makedirs(p, exist_ok=True)
    return p

src = mk(os.path.join(T, "src"))
base = 1767000000

# 1. mutt: mboxo, Status/X-Status, "From " in a body escaped as ">From ".
out = bytearray()
for i in range(6):
    t = base + i * 3600
    flags = []
    status = b"O"
    xs = b""
    if i % 2: flags.append("\\Seen"); status = b"RO"
    if i % 3 == 0: flags.append("\\Answered"); xs += b"A"
    if i == 4: flags.append("\\Flagged"); xs += b"F"
    if i == 5: flags.append("\\Deleted"); xs += b"D"
    body = [b"Hello %d" % i, b"From the start of a line", b"", b"regards"]
    m = msg("mutt %d" % i, body)
    hdr, rest = m.split(b"\n\n", 1)
    stored = m
    written = hdr + b"\nStatus: " + status + (b"\nX-Status: " + xs if xs else b"") + b"\n\n" + rest
    written = written.replace(b"\nFrom the", b"\n>From the")
    out += b"From ann@example.test " + asctime(t) + b"\n" + written + b"\n"
    add("mutt", "INBOX", stored, flags, [], t)
open(os.path.join(src, "mutt.mbox"), "wb").write(out)

# 2. Thunderbird "Local Folders": Inbox (CRLF, X-Mozilla-*), Inbox.sbd/Lists,
#    Sent, an empty Trash, index files to leave alone.
tb = mk(os.path.join(src, "tb"))
def tbfile(path, acct, mbox, items):
    out = bytearray()
    for (subj, st, keys, t, nl) in items:
        m = msg(subj, [b"line one", b"line two"], nl)
        hdr, rest = m.split(nl + nl, 1)
        written = (b"X-Mozilla-Status: %04x" % st + nl + b"X-Mozilla-Status2: 00000000" + nl +
                   b"X-Mozilla-Keys: " + b" ".join(k.encode() for k in keys) + b" " * 20 + nl + hdr + nl + nl + rest)
        out += b"From - " + asctime(t) + nl + written + nl
        fl = [f for bit, f in ((1, "\\Seen"), (2, "\\Answered"), (4, "\\Flagged"), (8, "\\Deleted")) if st & bit]
        add(acct, mbox, m, fl, keys, t)
    open(path, "wb").write(out)
tbfile(os.path.join(tb, "Inbox"), "tb", "INBOX",
       [("tb in %d" % i, st, keys, base + 100 * i, b"\r\n") for i, (st, keys) in
        enumerate([(0, []), (1, ["$label1"]), (3, []), (5, ["$label2", "todo"]), (0x9, [])])])
mk(os.path.join(tb, "Inbox.sbd"))
tbfile(os.path.join(tb, "Inbox.sbd", "Lists"), "tb", "INBOX/Lists",
       [("list %d" % i, 1, [], base + 7 * i, b"\n") for i in range(3)])
tbfile(os.path.join(tb, "Sent"), "tb", "Sent", [("sent 1", 1, [], base + 5, b"\n")])
open(os.path.join(tb, "Trash"), "wb").close()
expect["tb"].setdefault("Trash", [])
open(os.path.join(tb, "Inbox.msf"), "wb").write(b"// <!-- <mdb:mork:z v=\"1.4\"/> -->\n")

# 3. Dovecot-style Maildir++: flags in names, keywords as letters listed in
#    dovecot-keywords, a subfolder .Work.Reports, "Deleted Items" -> Trash,
#    new/ without flags, INTERNALDATE = mtime.
dc = mk(os.path.join(src, "dovecot"))
for d in ("cur", "new", "tmp"):
    mk(os.path.join(dc, d))
open(os.path.join(dc, "dovecot-keywords"), "w").write("0 $Important\n1 project\n")
open(os.path.join(dc, "dovecot-uidlist"), "w").write("3 V1 N4\n")
def mdfile(folder, name, acct, mbox, subj, flags, kws, t, body=None):
    m = msg(subj, body or [b"maildir body"])
    p = os.path.join(folder, name)
    open(p, "wb").write(m)
    os.utime(p, (t, t))
    add(acct, mbox, m, flags, kws, t)
mdfile(os.path.join(dc, "cur"), "1767000001.M1P1.host,S=100:2,S", "dc", "INBOX", "dc 1", ["\\Seen"], [], base + 1)
mdfile(os.path.join(dc, "cur"), "1767000002.M2P1.host:2,FRSa", "dc", "INBOX", "dc 2",
       ["\\Flagged", "\\Answered", "\\Seen"], ["$Important"], base + 2)
mdfile(os.path.join(dc, "cur"), "1767000003.M3P1.host:2,Tab", "dc", "INBOX", "dc 3",
       ["\\Deleted"], ["$Important", "project"], base + 3, [b"From here, a body line", b">From there"])
mdfile(os.path.join(dc, "new"), "1767000004.M4P1.host", "dc", "INBOX", "dc 4", [], [], base + 4)
for sub, mbox in ((".Work.Reports", "Work/Reports"), (".Deleted Items", "Trash")):
    f = mk(os.path.join(dc, sub))
    for d in ("cur", "new", "tmp"):
        mk(os.path.join(f, d))
    open(os.path.join(f, "maildirfolder"), "w").close()
    mdfile(os.path.join(f, "cur"), "1767000010.M9P1.host:2,D", "dc", mbox, "in " + mbox, ["\\Draft"], [], base + 10)
expect["dc"].setdefault("Work", [])
# tmp/ holds unfinished deliveries: not imported
open(os.path.join(dc, "tmp", "1767000099.M99P1.host"), "wb").write(b"Subject: half\n")
# a plain subdirectory that is a Maildir (mbsync's SubFolders Verbatim)
pj = mk(os.path.join(dc, "Projects"))
for d in ("cur", "new", "tmp"):
    mk(os.path.join(pj, d))
mdfile(os.path.join(pj, "cur"), "1767000020.M20P1.host:2,S", "dc", "Projects", "project", ["\\Seen"], [], base + 20)

# 4. A folder of .eml files, imported under --mailbox Imported.
eml = mk(os.path.join(src, "eml"))
mk(os.path.join(eml, "Receipts"))
for i, sub in enumerate(("", "", "Receipts")):
    m = msg("eml %d" % i, [b"eml body"], b"\r\n")
    p = os.path.join(eml, sub, "m%d.eml" % i)
    open(p, "wb").write(m)
    os.utime(p, (base + 50 + i, base + 50 + i))
    add("eml", "Imported/Receipts" if sub else "Imported", m, [], [], base + 50 + i)

# 5. mboxrd with ">>From " lines and a line longer than the splitter's pieces.
out = bytearray()
for i in (0, 1, 2, 0):         # rd 0 twice: both copies are imported
    body = [b">From quoted", b">>From twice", b"x" * (10000 + i), b"From after text is not a separator"]
    m = msg("rd %d" % i, body)
    w = b"\n".join((b">" + l if l.lstrip(b">").startswith(b"From ") and j > 0 else l)
                   for j, l in enumerate(m.split(b"\n")))
    t = base + 9000 + i
    # (the copy of rd 0 has the same bytes and date)
    out += b"From x@example.test " + asctime(t) + b" +0000\n" + w + b"\n"
    add("rd", "INBOX", m, [], [], t)
open(os.path.join(src, "rd.mbox"), "wb").write(out)

json.dump(expect, open(os.path.join(T, "expect.json"), "w"))
