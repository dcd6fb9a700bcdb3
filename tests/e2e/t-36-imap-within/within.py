"""WITHIN (RFC 5032) and APPENDLIMIT (RFC 7889) against brev with imaplib.

Every check runs even when an earlier one failed; failures are listed at the
end and the exit status is 1 if there was any.
"""
import imaplib, os, re, sys, time

PORT = int(os.environ["P_IMAP"])
LIMIT = int(os.environ["LIMIT"])
USER, PW = "alice@example.test", "pw-alice"
FAILED = []
HOUR, DAY = 3600, 86400


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)


def message(tag):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\n\r\nbody %s\r\n" % (tag, tag)).encode()


def uids(m, *crit):
    try:
        typ, data = m.uid("SEARCH", *crit)
    except imaplib.IMAP4.error as e:
        print("SEARCH %r: %s" % (crit, e), file=sys.stderr)
        return None
    if typ != "OK":
        return None
    return sorted(int(x) for x in data[0].split())


m = imaplib.IMAP4("127.0.0.1", PORT, timeout=15)
typ, data = m.capability()
caps = data[0].decode().upper().split()
check("WITHIN" in caps, "CAPABILITY lacks WITHIN: %r" % caps)
check("APPENDLIMIT=%d" % LIMIT in caps, "CAPABILITY lacks APPENDLIMIT=%d: %r" % (LIMIT, caps))
m.login(USER, PW)
typ, data = m.capability()
caps = data[0].decode().upper().split()
check("WITHIN" in caps and "APPENDLIMIT=%d" % LIMIT in caps,
      "authenticated CAPABILITY lacks WITHIN/APPENDLIMIT: %r" % caps)

now = time.time()
want = {}
for tag, age in (("old3d", 3 * DAY), ("old2d", 2 * DAY), ("fresh", 0)):
    typ, data = m.append("INBOX", None, imaplib.Time2Internaldate(now - age), message(tag))
    check(typ == "OK", "APPEND %s: %r" % (tag, data))
    r = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
    want[tag] = int(r.group(1)) if r else None
check(None not in want.values(), "APPENDUIDs: %r" % want)
m.select("INBOX")
old3, old2, fresh = want["old3d"], want["old2d"], want["fresh"]

got = uids(m, "YOUNGER", str(HOUR))
check(got == [fresh], "YOUNGER 3600: %r, want [%r]" % (got, fresh))
got = uids(m, "OLDER", str(HOUR))
check(got == sorted([old3, old2]), "OLDER 3600: %r" % got)
got = uids(m, "NOT", "YOUNGER", str(HOUR))
check(got == sorted([old3, old2]), "NOT YOUNGER 3600: %r" % got)
got = uids(m, "NOT", "OLDER", str(HOUR))
check(got == [fresh], "NOT OLDER 3600: %r" % got)
# 2.5 days splits the two old ones (12 h either side)
got = uids(m, "OLDER", str(int(2.5 * DAY)))
check(got == [old3], "OLDER 2.5d: %r" % got)
got = uids(m, "OLDER", str(HOUR), "YOUNGER", str(int(2.5 * DAY)))
check(got == [old2], "OLDER 1h YOUNGER 2.5d: %r" % got)
got = uids(m, "OR", "OLDER", str(int(2.5 * DAY)), "YOUNGER", str(HOUR))
check(got == sorted([old3, fresh]), "OR OLDER 2.5d YOUNGER 1h: %r" % got)
got = uids(m, "YOUNGER", str(10 * DAY))
check(got == sorted([old3, old2, fresh]), "YOUNGER 10d: %r" % got)
got = uids(m, "OLDER", str(10 * DAY))
check(got == [], "OLDER 10d: %r" % got)
got = uids(m, "younger", str(HOUR), "SUBJECT", "fresh")
check(got == [fresh], "younger (lower case) with SUBJECT: %r" % got)
got = uids(m, "YOUNGER", "4294967295")
check(got == sorted([old3, old2, fresh]), "YOUNGER 4294967295 (the largest): %r" % got)
for bad in (("OLDER", "0"), ("OLDER", "4294967296"), ("YOUNGER", "-5"), ("OLDER", "abc"), ("YOUNGER",)):
    try:
        typ, data = m.uid("SEARCH", *bad)
        check(False, "SEARCH %r answered %s %r, want BAD" % (bad, typ, data))
    except imaplib.IMAP4.error as e:
        check("BAD" in str(e), "SEARCH %r: %s" % (bad, e))

# APPENDLIMIT in STATUS and LIST-STATUS
try:
    typ, data = m.status("INBOX", "(APPENDLIMIT MESSAGES)")
except imaplib.IMAP4.error as e:
    typ, data = "BAD", [str(e).encode()]
line = (data[0] or b"").decode()
check(typ == "OK" and re.search(r"APPENDLIMIT %d\b" % LIMIT, line) and "MESSAGES 3" in line,
      "STATUS (APPENDLIMIT MESSAGES): %s %r" % (typ, data))
try:
    typ, data = m._simple_command("LIST", '""', '"INBOX"', "RETURN", "(STATUS (APPENDLIMIT))")
except imaplib.IMAP4.error as e:
    typ, data = "BAD", [str(e).encode()]
st = m.untagged_responses.pop("STATUS", [])
check(typ == "OK" and any(re.search(rb"APPENDLIMIT %d\b" % LIMIT, x or b"") for x in st),
      "LIST-STATUS APPENDLIMIT: %s %r" % (typ, st))

# an APPEND one octet over the advertised limit: NO [TOOBIG], nothing stored
head = b"From: bob@example.test\r\nSubject: big\r\n\r\n"
body = b"x" * (LIMIT + 1 - len(head))
big = head + body
assert len(big) == LIMIT + 1
try:
    typ, data = m.append("INBOX", None, None, big)
except imaplib.IMAP4.error as e:
    typ, data = "NO?", [str(e).encode()]
check(typ == "NO" and b"TOOBIG" in (data[0] or b"").upper(),
      "APPEND of LIMIT+1 octets: %s %r" % (typ, data))
# exactly the limit is accepted
exact = head + b"x" * (LIMIT - len(head))
typ, data = m.append("INBOX", None, None, exact)
check(typ == "OK", "APPEND of exactly LIMIT octets: %s %r" % (typ, data))
typ, data = m.status("INBOX", "(MESSAGES)")
check(b"MESSAGES 4" in (data[0] or b""), "after the refused APPEND: %r" % data)
m.logout()

if FAILED:
    print("%d check(s) failed" % len(FAILED), file=sys.stderr)
    sys.exit(1)
print("ok")
