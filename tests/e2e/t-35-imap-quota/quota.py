"""QUOTA (RFC 9208) against brev with Python's imaplib and raw dialogues.

quota.py none      the account has no limit (quota.default = 0)
quota.py limit     quota.default = 100K
quota.py messages  quota.messages = 5 (no storage limit)
quota.py both      quota.default = 100K and quota.messages = 5

Every check runs even when an earlier one failed; failures are listed at the
end and the exit status is 1 if there was any.
"""
import imaplib, os, re, smtplib, socket, subprocess, sys

PORT = int(os.environ["P_IMAP"])
USER, PW = "alice@example.test", "pw-alice"
LIMIT_KIB = 100
MSG_LIMIT = 5
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def login():
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=15)
    m.login(USER, PW)
    return m


def message(tag, size):
    """A message of exactly size octets (CRLF line ends, as stored)."""
    head = ("From: bob@example.test\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\n\r\n" % tag).encode()
    body = b""
    while len(head) + len(body) < size:
        line = b"x" * min(76, size - len(head) - len(body) - 2) + b"\r\n"
        body += line
    m = head + body
    assert len(m) == size, (len(m), size)
    return m


def user_list():
    """(messages, bytes) of the account as `brev user list` prints them
    (the store's own counters, read by another process)."""
    out = subprocess.run([os.environ["BREV"], "-d", os.environ["D"], "user", "list"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"alice@example\.test\s+(\d+) messages\s+(\d+) bytes", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def used_bytes():
    return user_list()[1]


def used_msgs():
    return user_list()[0]


def kib_up(n):
    return (n + 1023) // 1024


def status(m, box, items):
    typ, dat = m.status(box, "(" + items + ")")
    check(typ == "OK", "STATUS %s (%s): %r %r" % (box, items, typ, dat))
    vals = re.findall(rb"([A-Z-]+) (\d+)", dat[0].split(b"(", 1)[1]) if typ == "OK" else []
    return {k.decode(): int(v) for k, v in vals}


class Raw:
    """A raw connection for the RFC's example dialogues, tags and all."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.cmd(b"L1 LOGIN " + USER.encode() + b" " + PW.encode())

    def cmd(self, line):
        tag = line.split(b" ", 1)[0]
        self.s.sendall(line + b"\r\n")
        out = []
        while True:
            l = self.f.readline()
            if not l:
                raise EOFError(line)
            out.append(l.rstrip(b"\r\n"))
            if l.startswith(tag + b" "):
                return out

    def close(self):
        self.cmd(b"Z LOGOUT")
        self.s.close()


def caps_check(m):
    caps = m.capabilities
    check("QUOTA" in caps and "QUOTA=RES-STORAGE" in caps, "QUOTA advertised: %r" % (caps,))
    # RES-MESSAGE names a resource brev supports (quota.messages), limit
    # or not, as RES-STORAGE does.
    check("QUOTA=RES-MESSAGE" in caps, "QUOTA=RES-MESSAGE advertised: %r" % (caps,))
    check("QUOTASET" not in caps, "SETQUOTA not offered, no QUOTASET: %r" % (caps,))
    # A fresh CAPABILITY after login says the same.
    typ, dat = m.capability()
    check(b"QUOTA=RES-STORAGE" in dat[0].split() and b"QUOTASET" not in dat[0].split(),
          "CAPABILITY after login: %r" % dat)


def no_limit():
    m = login()
    caps_check(m)
    m.append("INBOX", None, None, message("one", 3000))
    typ, dat = m.getquotaroot("INBOX")
    # RFC 9208 4.2.2: a mailbox may have zero roots; without a limit there
    # is nothing to report (a quota-list needs a resource with a limit).
    check(typ == "OK" and dat[0] in ([b"INBOX"], [b'"INBOX"']) and dat[1] == [None],
          "GETQUOTAROOT INBOX without a limit names no root: %r %r" % (typ, dat))
    typ, dat = m.getquota('""')
    check(typ == "NO", 'GETQUOTA "" without a limit is NO: %r %r' % (typ, dat))
    # STATUS DELETED-STORAGE works whatever the limit.
    st = status(m, "INBOX", "MESSAGES DELETED DELETED-STORAGE")
    check(st == {"MESSAGES": 1, "DELETED": 0, "DELETED-STORAGE": 0}, "STATUS: %r" % st)
    # Leave the account empty for the run with a limit.
    m.select("INBOX")
    m.store("1:*", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()


def quota_of(m, box):
    """GETQUOTAROOT box: (roots, {root: (usage, limit)})."""
    typ, dat = m.getquotaroot(box)
    check(typ == "OK", "GETQUOTAROOT %s: %r %r" % (box, typ, dat))
    if typ != "OK":
        return [], {}
    # mailbox (atom or quoted string), then the roots
    mm = re.fullmatch(rb'("[^"]*"|\S+)((?: (?:""|\S+))*)', dat[0][0] or b"")
    check(mm, "QUOTAROOT line %r" % dat[0])
    roots = mm.group(2).split(b" ")[1:] if mm else []
    q = {}
    for line in dat[1]:
        mm = re.fullmatch(rb'(""|\S+) \(STORAGE (\d+) (\d+)\)', line or b"")
        check(mm, "QUOTA line %r" % line)
        if mm:
            q[mm.group(1)] = (int(mm.group(2)), int(mm.group(3)))
    return roots, q


def expect_usage(m, what):
    """Usage of root "" by GETQUOTAROOT and GETQUOTA equals the store's
    bytes rounded up to KiB, limit 100."""
    want = kib_up(used_bytes())
    roots, q = quota_of(m, "INBOX")
    check(roots == [b'""'] and q == {b'""': (want, LIMIT_KIB)},
          "%s: GETQUOTAROOT INBOX -> %r %r, want root \"\" (STORAGE %d %d)"
          % (what, roots, q, want, LIMIT_KIB))
    typ, dat = m.getquota('""')
    check(typ == "OK" and dat == [b'"" (STORAGE %d %d)' % (want, LIMIT_KIB)],
          '%s: GETQUOTA "" -> %r %r, want STORAGE %d' % (what, typ, dat, want))
    return want


def with_limit():
    m = login()
    caps_check(m)
    check(expect_usage(m, "empty account") == 0, "empty account uses 0 KiB")
    # Every mailbox is under the one root.
    roots, q = quota_of(m, "Archive")
    check(roots == [b'""'] and b'""' in q, "Archive under root \"\": %r %r" % (roots, q))
    typ, dat = m.getquotaroot("NoSuchBox")
    check(typ == "NO" and b"NONEXISTENT" in dat[0][0], "GETQUOTAROOT of no mailbox: %r %r" % (typ, dat))
    typ, dat = m.getquota('"User quota"')
    check(typ == "NO", "GETQUOTA of another root: %r %r" % (typ, dat))

    # APPEND: 3000 + 1 + 5000 octets, in two mailboxes; rounded up.
    for box, tag, size in (("INBOX", "a", 3000), ("INBOX", "b", 1), ("Archive", "c", 5000)):
        typ, dat = m.append(box, None, None, message(tag, max(size, 80)))
        check(typ == "OK", "APPEND %s: %r" % (tag, dat))
    used = used_bytes()
    check(used == 3000 + 80 + 5000, "store usage %d" % used)
    check(expect_usage(m, "after APPEND") == kib_up(8080), "usage 8 KiB after APPEND")
    check(status(m, "INBOX", "SIZE")["SIZE"] + status(m, "Archive", "SIZE")["SIZE"] == used,
          "STATUS SIZE sums to the usage")

    # \Deleted: STATUS DELETED / DELETED-STORAGE (octets, RFC 9208 4.3);
    # the usage stays until EXPUNGE.
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    st = status(m, "INBOX", "MESSAGES DELETED DELETED-STORAGE")
    check(st == {"MESSAGES": 2, "DELETED": 1, "DELETED-STORAGE": 3000}, "STATUS after STORE: %r" % st)
    check(expect_usage(m, "after STORE \\Deleted") == kib_up(8080), "\\Deleted alone frees nothing")
    m.expunge()
    st = status(m, "INBOX", "MESSAGES DELETED DELETED-STORAGE")
    check(st == {"MESSAGES": 1, "DELETED": 0, "DELETED-STORAGE": 0}, "STATUS after EXPUNGE: %r" % st)
    check(expect_usage(m, "after EXPUNGE") == kib_up(5080), "usage after EXPUNGE")

    # LIST-STATUS carries DELETED-STORAGE too.
    m.store("1", "+FLAGS", "(\\Deleted)")
    typ, dat = m._simple_command("LIST", '""', "INBOX", "RETURN", "(STATUS (DELETED-STORAGE))")
    typ, st = m._untagged_response(typ, dat, "STATUS")
    check(typ == "OK" and st in ([b"INBOX (DELETED-STORAGE 80)"], [b"\"INBOX\" (DELETED-STORAGE 80)"]), "LIST-STATUS: %r %r" % (typ, st))
    m.store("1", "-FLAGS", "(\\Deleted)")

    # COPY counts the message again, MOVE changes nothing.
    before = used_bytes()
    typ, dat = m.copy("1", "Archive")
    check(typ == "OK" and used_bytes() == before + 80, "COPY adds its size: %r" % dat)
    typ, dat = m._simple_command("MOVE", "1", "Trash")
    check(typ == "OK" and used_bytes() == before + 80, "MOVE keeps the usage: %r" % dat)
    check(expect_usage(m, "after COPY and MOVE") == kib_up(before + 80), "usage after COPY")

    # Over the limit: APPEND and COPY are NO [OVERQUOTA] and change nothing.
    typ, dat = m.append("INBOX", None, None, message("big", 60 * 1024))
    check(typ == "OK", "APPEND 60K under the limit: %r" % dat)
    before = used_bytes()
    typ, dat = m.append("INBOX", None, None, message("over", 40 * 1024))
    check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "APPEND over quota: %r %r" % (typ, dat))
    m.select("INBOX")
    typ, dat = m.copy("1:*", "Archive")
    check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "COPY over quota: %r %r" % (typ, dat))
    typ, dat = m.append("INBOX", None, None, message("huge", 101 * 1024))
    check(typ == "NO" and b"[TOOBIG]" in dat[0], "APPEND larger than the limit: %r %r" % (typ, dat))
    check(used_bytes() == before, "refused APPEND/COPY leave the usage")
    check(expect_usage(m, "near the limit") == kib_up(before), "usage near the limit")

    # SETQUOTA: not offered. Well-formed: NO; malformed: BAD.
    typ, dat = m.setquota('""', "(STORAGE 512)")
    check(typ == "NO" and b"[NOPERM]" in dat[0], "SETQUOTA is NO: %r %r" % (typ, dat))
    for bad in ('""', '"" (STORAGE)', '"" (STORAGE x)', '"" (STORAGE 1 MESSAGE)',
                '"" (STORAGE 9223372036854775808)'):
        try:
            typ, dat = m._simple_command("SETQUOTA", *bad.split(" ", 1))
            check(False, "SETQUOTA %s not BAD: %r %r" % (bad, typ, dat))
        except imaplib.IMAP4.error as e:
            check("BAD" in str(e) or "SETQUOTA" in str(e), "SETQUOTA %s: %s" % (bad, e))
    for bad in ("GETQUOTAROOT", "GETQUOTA", "GETQUOTAROOT INBOX Archive", "GETQUOTA (a)"):
        try:
            typ, dat = m._simple_command(*bad.split(" ", 1))
            check(False, "%s not BAD: %r %r" % (bad, typ, dat))
        except imaplib.IMAP4.error:
            pass
    m.logout()


def quota_lines(m, box):
    """GETQUOTAROOT box: (QUOTAROOT line, [QUOTA lines]) as sent."""
    typ, dat = m.getquotaroot(box)
    check(typ == "OK", "GETQUOTAROOT %s: %r %r" % (box, typ, dat))
    return (dat[0] if typ == "OK" else None), (dat[1] if typ == "OK" else None)


def expect_msgs(m, what, storage):
    """Root "" reports MESSAGE usage = the store's count, limit 5 (RFC 9208
    5.2), after STORAGE when that has a limit too."""
    n = used_msgs()
    want = b'"" (MESSAGE %d %d)' % (n, MSG_LIMIT)
    if storage:
        want = b'"" (STORAGE %d %d MESSAGE %d %d)' % (kib_up(used_bytes()), LIMIT_KIB, n, MSG_LIMIT)
    root, q = quota_lines(m, "Archive")
    check(root in ([b'Archive ""'], [b'"Archive" ""']) and q == [want],
          "%s: GETQUOTAROOT Archive -> %r %r, want %r" % (what, root, q, want))
    typ, dat = m.getquota('""')
    check(typ == "OK" and dat == [want], '%s: GETQUOTA "" -> %r %r, want %r' % (what, typ, dat, want))
    return n


def smtp_send(tag):
    """One message to alice by SMTP: None if accepted, else the refusal."""
    try:
        with smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=15) as c:
            c.sendmail("bob@example.test", ["alice@example.test"], message(tag, 200))
        return None
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients["alice@example.test"]
    except smtplib.SMTPException as e:
        return ("other", repr(e))


def with_msg_limit(storage):
    """quota.messages = 5: the count of every mailbox together, APPEND,
    COPY (all or nothing), MULTIAPPEND and SMTP delivery refused at the
    limit, MOVE allowed, EXPUNGE frees, STATUS DELETED (RFC 9208 5.2 wants
    it with RES-MESSAGE)."""
    m = login()
    caps_check(m)
    check(expect_msgs(m, "empty account", storage) == 0, "empty account has 0 messages")
    for box, tag in (("INBOX", "a"), ("INBOX", "b"), ("Archive", "c")):
        typ, dat = m.append(box, None, None, message(tag, 100))
        check(typ == "OK", "APPEND %s: %r" % (tag, dat))
    check(smtp_send("d") is None, "SMTP delivery under the limit")
    check(expect_msgs(m, "4 messages", storage) == 4, "4 messages counted")
    # COPY of 2 when one is left: NO [OVERQUOTA], nothing copied.
    m.select("INBOX")
    typ, dat = m.copy("1:2", "Archive")
    check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "COPY 2 over the count: %r %r" % (typ, dat))
    check(used_msgs() == 4 and status(m, "Archive", "MESSAGES")["MESSAGES"] == 1,
          "refused COPY copied nothing")
    typ, dat = m.copy("1", "Archive")
    check(typ == "OK", "COPY 1 to the limit: %r %r" % (typ, dat))
    check(expect_msgs(m, "at the limit", storage) == MSG_LIMIT, "5 messages counted")
    # At the limit: APPEND, COPY, MULTIAPPEND and SMTP refused; MOVE is fine.
    typ, dat = m.append("INBOX", None, None, message("over", 100))
    check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "APPEND over the count: %r %r" % (typ, dat))
    typ, dat = m.copy("1", "Trash")
    check(typ == "NO" and b"[OVERQUOTA]" in dat[0], "COPY at the limit: %r %r" % (typ, dat))
    r = Raw()
    a, b = message("m1", 100), message("m2", 100)
    r.s.sendall(b"M1 APPEND Drafts {%d+}\r\n" % len(a) + a + b" {%d+}\r\n" % len(b) + b + b"\r\n")
    out = r.cmd(b"M2 NOOP")
    check(any(l.startswith(b"M1 NO [OVERQUOTA]") for l in out), "MULTIAPPEND at the limit: %r" % out)
    r.close()
    refusal = smtp_send("e")
    check(refusal is not None and refusal[0] == 452, "SMTP at the limit: 452, got %r" % (refusal,))
    typ, dat = m._simple_command("MOVE", "1", "Trash")
    check(typ == "OK", "MOVE at the limit: %r" % (dat,))
    check(expect_msgs(m, "after refusals and MOVE", storage) == MSG_LIMIT, "still 5 messages")
    # \Deleted counts until EXPUNGE; STATUS DELETED counts it.
    m.store("1", "+FLAGS", "(\\Deleted)")
    st = status(m, "INBOX", "MESSAGES DELETED")
    check(st == {"MESSAGES": 2, "DELETED": 1}, "STATUS DELETED: %r" % st)
    check(expect_msgs(m, "after \\Deleted", storage) == MSG_LIMIT, "\\Deleted frees nothing")
    m.expunge()
    check(expect_msgs(m, "after EXPUNGE", storage) == MSG_LIMIT - 1, "EXPUNGE frees one")
    typ, dat = m.append("INBOX", None, None, message("again", 100))
    check(typ == "OK", "APPEND after EXPUNGE: %r %r" % (typ, dat))
    # SETQUOTA MESSAGE: no administrator, NO like STORAGE.
    typ, dat = m.setquota('""', "(MESSAGE 100)")
    check(typ == "NO" and b"[NOPERM]" in dat[0], "SETQUOTA MESSAGE is NO: %r %r" % (typ, dat))
    m.logout()


def rfc_examples():
    """RFC 9208's examples (4.2.1, 4.2.2, 4.1.1, 4.3) with brev's root and
    numbers: the same commands, answers of the same shape."""
    r = Raw()
    used = kib_up(used_bytes())
    out = r.cmd(b"G0001 GETQUOTA \"!partition/sda4\"")
    check(len(out) == 1 and out[0].startswith(b"G0001 NO "), "4.2.1 unknown root: %r" % out)
    out = r.cmd(b"G0001 GETQUOTA \"\"")
    check(len(out) == 2 and out[0] == b'* QUOTA "" (STORAGE %d %d)' % (used, LIMIT_KIB) and
          out[1].startswith(b"G0001 OK"), "4.2.1 GETQUOTA: %r" % out)
    out = r.cmd(b"G0002 GETQUOTAROOT INBOX")
    check(len(out) == 3 and out[0] in (b'* QUOTAROOT INBOX ""', b'* QUOTAROOT "INBOX" ""') and
          out[1] == b'* QUOTA "" (STORAGE %d %d)' % (used, LIMIT_KIB) and out[2].startswith(b"G0002 OK"), "4.2.2 GETQUOTAROOT: %r" % out)
    out = r.cmd(b"S0001 SETQUOTA \"#user/alice\" (STORAGE 510)")
    check(len(out) == 1 and out[0].startswith(b"S0001 NO "), "4.1.1 SETQUOTA: %r" % out)
    out = r.cmd(b"S0003 STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")
    check(len(out) == 2 and re.fullmatch(
        rb'\* STATUS "?INBOX"? \(MESSAGES \d+ DELETED \d+ DELETED-STORAGE \d+\)', out[0]) and
        out[1].startswith(b"S0003 OK"), "4.3 STATUS: %r" % out)
    r.close()


if __name__ == "__main__":
    fns = {"none": (no_limit,), "limit": (with_limit, rfc_examples),
           "messages": (lambda: with_msg_limit(False),),
           "both": (lambda: with_msg_limit(True),)}[sys.argv[1]]
    for fn in fns:
        try:
            fn()
        except Exception as e:
            check(False, "%s raised %r" % (fn.__name__, e))
    if FAILED:
        print("%d check(s) failed" % len(FAILED), file=sys.stderr)
        sys.exit(1)
    print("quota: all checks passed")
