"""Python's poplib against brev: USER/PASS, STAT, LIST, RETR, DELE, RSET,
NOOP, TOP, UIDL, CAPA, STLS, QUIT, AUTH (raw), POP3S."""
import base64
import poplib

from pop3t import P_POP3, P_POP3S, check, deliver, message, tls_context, wait_count

BODY = ["Hello,", ".starts with a dot", "..two", "", "bye"]
for i in range(1, 4):
    deliver("alice@example.test", message(f"poplib {i}", BODY + [f"number {i}"]))
wait_count(3)


def lines_of(resp):
    return [l.decode() for l in resp[1]]


# plain port, STLS first (poplib.stls checks the certificate)
p = poplib.POP3("localhost", P_POP3, timeout=20)
check(p.getwelcome().startswith(b"+OK"), "welcome")
caps = p.capa()
check("STLS" in caps and "TOP" in caps and "UIDL" in caps and "USER" in caps, f"capa {caps}")
check(caps.get("IMPLEMENTATION") == ["brev"], f"IMPLEMENTATION {caps}")
check("SASL" in caps and "PLAIN" in caps["SASL"], f"SASL {caps}")
p.stls(context=tls_context())
caps = p.capa()
check("STLS" not in caps, "STLS offered inside TLS")
p.user("alice@example.test")
p.pass_("alice-pw")
count, size = p.stat()
check(count == 3, f"stat {count}")
resp, listing, octets = p.list()
sizes = [int(l.split()[1]) for l in listing]
check(sum(sizes) == size, "stat size != sum(list)")
check(p.list(2).startswith(b"+OK 2 "), "list 2")
for i in range(1, 4):
    resp, lines, octets = p.retr(i)
    text = b"\r\n".join(lines) + b"\r\n"
    check(f"Subject: poplib {i}".encode() in text, f"retr {i} subject")
    # poplib undoes the dot-stuffing
    check(b"\r\n.starts with a dot\r\n..two\r\n\r\nbye\r\n" in text, f"retr {i} body {text!r}")
    # RFC 1939 sizes count the message, not the stuffed dots (as Dovecot)
    check(len(text) == sizes[i - 1], f"LIST size {sizes[i - 1]} vs RETR {len(text)}")
    check(resp == f"+OK {len(text)} octets".encode(), f"RETR status {resp!r}")
resp, lines, octets = p.top(1, 0)
check(lines[-1] == b"" and b"Subject: poplib 1" in b"\n".join(lines), f"top 0 {lines}")
check(b"Hello," not in b"\n".join(lines), "top 0 has body")
resp, lines, _ = p.top(1, 2)
check(lines[-2:] == [b"Hello,", b".starts with a dot"], f"top 2 {lines[-3:]}")
resp, uidl, _ = p.uidl()
uids = [l.split()[1] for l in uidl]
check(len(set(uids)) == 3, f"uidl {uidl}")
check(p.uidl(3).split()[2] == uids[2], "uidl 3")
p.noop()
p.dele(1)
try:
    p.retr(1)
    check(False, "retr of a deleted message")
except poplib.error_proto:
    pass
p.rset()
p.retr(1)
p.dele(1)
check(p.quit().startswith(b"+OK"), "quit")

# POP3S: the deletion took; UIDLs of the others unchanged
p = poplib.POP3_SSL("localhost", P_POP3S, context=tls_context(), timeout=20)
check("STLS" not in p.capa(), "STLS on pop3s")
p.user("alice")
p.pass_("alice-pw")
check(p.stat()[0] == 2, "stat after delete")
resp, uidl2, _ = p.uidl()
check([l.split()[1] for l in uidl2] == uids[1:], f"uidl changed {uidl2} {uids}")
p.quit()

# AUTH through raw commands (poplib has no AUTH helper)
p = poplib.POP3("localhost", P_POP3, timeout=20)
ir = base64.b64encode(b"\0alice@example.test\0alice-pw").decode()
check(p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK"), "AUTH PLAIN ir")
check(p.stat()[0] == 2, "stat after AUTH")
p.quit()
p = poplib.POP3("localhost", P_POP3, timeout=20)
p._putcmd("AUTH LOGIN")
check(p._getline()[0].startswith(b"+ "), "LOGIN challenge 1")
p._putcmd(base64.b64encode(b"alice@example.test").decode())
check(p._getline()[0].startswith(b"+ "), "LOGIN challenge 2")
p._putcmd(base64.b64encode(b"alice-pw").decode())
check(p._getline()[0].startswith(b"+OK"), "LOGIN done")
p.quit()
try:
    p = poplib.POP3("localhost", P_POP3, timeout=20)
    p.user("alice@example.test")
    p.pass_("nope")
    check(False, "wrong password accepted")
except poplib.error_proto as e:
    check(str(e).find("[AUTH]") >= 0, f"error {e}")
print("poplib ok")

# UIDL agrees with IMAP: UIDVALIDITY and UID of INBOX (imaplib, IMAPS)
import imaplib
import os
m = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=tls_context(), timeout=20)
m.login("alice@example.test", "alice-pw")
typ, _ = m.select("INBOX")
check(typ == "OK", "IMAP SELECT")
uidvalidity = int(m.response("UIDVALIDITY")[1][0])
typ, data = m.uid("SEARCH", None, "ALL")
imap_uids = [int(x) for x in data[0].split()]
want = [f"{uidvalidity:08x}{u:08x}".encode() for u in imap_uids]
check(want == uids[1:], f"IMAP {want} vs UIDL {uids[1:]}")
m.logout()
print("poplib ok (with IMAP)")

# IMAP and POP3 at the same time: a POP3 deletion is an expunge to IMAP,
# and a message IMAP expunges under a POP3 session answers -ERR on RETR.
deliver("alice@example.test", message("shared 1", ["x"]))
deliver("alice@example.test", message("shared 2", ["y"]))
m = imaplib.IMAP4_SSL("localhost", int(os.environ["P_IMAPS"]), ssl_context=tls_context(), timeout=20)
m.login("alice@example.test", "alice-pw")
typ, data = m.select("INBOX")
check(int(data[0]) == 4, f"IMAP EXISTS {data}")
p = poplib.POP3_SSL("localhost", P_POP3S, context=tls_context(), timeout=20)
p.user("alice")
p.pass_("alice-pw")
check(p.stat()[0] == 4, "POP3 sees 4")
# IMAP expunges message 4 while POP3 holds its snapshot
m.store("4", "+FLAGS", "(\\Deleted)")
m.expunge()
try:
    p.retr(4)
    check(False, "RETR of a message IMAP expunged")
except poplib.error_proto as e:
    check(b"removed" in str(e).encode(), f"RETR expunged: {e}")
p.retr(3)
p.dele(1)
check(p.quit().startswith(b"+OK"), "quit after delete")
typ, data = m.noop()
exp = m.response("EXPUNGE")[1]
check(exp and exp[0] == b"1", f"IMAP did not see the POP3 deletion: {typ} {data} {exp}")
typ, data = m.uid("SEARCH", None, "ALL")
check(len(data[0].split()) == 2, f"IMAP UIDs after POP3 delete {data}")
m.logout()
print("poplib ok (IMAP and POP3 together)")
