"""Exact-byte POP3 dialogues against a running brev (see run.sh)."""
import base64
import re
import time

from pop3t import Raw, check, deliver, fail, greet, message, stat, wait_count

DOTTY = ["first line", ".hidden", "..two dots", ".", "mid.dle", ". space", "last line"]

# ---- mail in ----
deliver("alice@example.test", message("dots", DOTTY))
for i in range(2, 5):
    deliver("alice@example.test", message(f"plain {i}", [f"body {i} line {k}" for k in range(1, 6)]))
deliver("bob@example.test", message("for bob", ["hi bob"]), )
wait_count(4)

# ---- before login ----
r = greet()
check(b"<" not in r.greeting, f"APOP timestamp in greeting {r.greeting!r}")
capa = r.multi("CAPA").decode()
for c in ["TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
          "IMPLEMENTATION brev", "EXPIRE NEVER", "STLS"]:
    check(c in capa.split("\r\n"), f"CAPA lacks {c}: {capa!r}")
check(re.search(r"^SASL .*PLAIN", capa, re.M), f"CAPA SASL: {capa!r}")
for bad in ["STAT", "LIST", "RETR 1", "DELE 1", "RSET", "NOOP", "TOP 1 0", "UIDL"]:
    r.cmd(bad, b"-ERR")
r.cmd("PASS nouser", b"-ERR")
r.cmd("APOP alice 0123456789abcdef0123456789abcdef", b"-ERR")
r.cmd("XYZZ", b"-ERR")
r.cmd("RETR", b"-ERR")  # syntax
# over-long line: consumed, answered, the session goes on
r.send("NOOP " + "a" * 600 + "\r\n")
check(r.line() == b"-ERR line too long\r\n", "long line")
r.send("USER " + "b" * 100000 + "\r\n")
check(r.line().startswith(b"-ERR line too long"), "very long line")
r.cmd("CAPA")
r.body()
# AUTH with no argument lists mechanisms
mechs = r.multi("AUTH").decode().split("\r\n")
check("PLAIN" in mechs and "LOGIN" in mechs, f"AUTH list {mechs!r}")
r.cmd("AUTH NOPE", b"-ERR")
r.cmd("QUIT")
check(r.closed(), "not closed after QUIT")

# ---- LIST sizes == RETR octets, dot-stuffing, TOP ----
r = greet()
check(r.login().startswith(b"+OK"), "login")
st = r.cmd("STAT").split()
n, octets = int(st[1]), int(st[2])
check(n == 4, f"STAT {st}")
lst = r.multi("LIST").decode().split("\r\n")[:-1]
sizes = {int(a): int(b) for a, b in (l.split() for l in lst)}
check(sorted(sizes) == [1, 2, 3, 4], f"LIST {lst}")
check(sum(sizes.values()) == octets, "STAT octets != sum of LIST")
retr = {}
for i in range(1, 5):
    status = r.cmd(f"RETR {i}")
    raw = r.body()
    retr[i] = raw
    # the message's size: RETR's octets less one per stuffed dot
    unstuffed = len(raw) - (raw.startswith(b".") + raw.count(b"\r\n."))
    check(unstuffed == sizes[i], f"LIST {i} says {sizes[i]}, RETR sent {unstuffed} unstuffed")
    check(status == f"+OK {sizes[i]} octets\r\n".encode(), f"RETR status {status!r}")
    single = r.cmd(f"LIST {i}")
    check(single == f"+OK {i} {sizes[i]}\r\n".encode(), f"LIST {i}: {single!r}")
m1 = retr[1]
for want in [b"\r\nfirst line\r\n..hidden\r\n...two dots\r\n..\r\nmid.dle\r\n.. space\r\nlast line\r\n"]:
    check(m1.endswith(want), f"dot-stuffing: {m1!r}")
check(b"Subject: dots\r\n" in m1, "subject")
# TOP 1 0: header + blank line
hdr = r.multi("TOP 1 0")
check(hdr.endswith(b"\r\n\r\n") and hdr.count(b"\r\n\r\n") == 1, f"TOP 0 {hdr!r}")
check(m1.startswith(hdr), "TOP 0 is not the header of RETR")
top2 = r.multi("TOP 1 2")
check(top2 == hdr + b"first line\r\n..hidden\r\n", f"TOP 2 {top2!r}")
check(r.multi("TOP 1 1000") == m1, "TOP with more lines than the body")
r.cmd("TOP 1 x", b"-ERR")
r.cmd("TOP 9 0", b"-ERR")
for bad in ["RETR 0", "RETR 5", "RETR abc", "RETR -1", "RETR 1x", "RETR 99999999999",
            "DELE 0", "LIST 5", "UIDL 5"]:
    r.cmd(bad, b"-ERR")
# UIDL: 16 hex digits, unique
uidl = r.multi("UIDL").decode().split("\r\n")[:-1]
uids = {int(a): b for a, b in (l.split() for l in uidl)}
check(len(set(uids.values())) == 4, f"UIDL not unique {uidl}")
for u in uids.values():
    check(re.fullmatch(r"[0-9a-f]{16}", u), f"UIDL {u}")
check(r.cmd("UIDL 2") == f"+OK 2 {uids[2]}\r\n".encode(), "UIDL 2")
# wrong state after login
for bad in ["USER x", "PASS y", "AUTH PLAIN", "STLS", "APOP a b"]:
    r.cmd(bad, b"-ERR")
capa = r.multi("CAPA").decode().split("\r\n")
check("USER" not in capa and "STLS" not in capa, f"CAPA after login {capa}")
r.cmd("NOOP")

# ---- [IN-USE] ----
r2 = greet()
r2.cmd("USER alice@example.test")
res = r2.cmd("PASS alice-pw", b"-ERR [IN-USE]")
r2.cmd("STAT", b"-ERR")  # still not logged in
# bob's maildrop is another lock
r3 = greet()
r3.login("bob@example.test", "bob-pass")
r3.cmd("QUIT")
r3.close()

# ---- DELE then RSET ----
r.cmd("DELE 2")
r.cmd("DELE 2", b"-ERR")
r.cmd("RETR 2", b"-ERR")
r.cmd("LIST 2", b"-ERR")
check(r.cmd("STAT").split()[1] == b"3", "STAT after DELE")
check(b"\r\n2 " not in b"\r\n" + r.multi("LIST"), "LIST shows a deleted message")
r.cmd("RSET")
check(r.cmd("STAT").split()[1] == b"4", "STAT after RSET")
# ---- DELE then dropped connection: nothing deleted ----
r.cmd("DELE 3")
r.cmd("DELE 4")
r.close()
wait_count(4)
r2.cmd("QUIT")  # the earlier refused session still works
r2.close()

# ---- DELE + QUIT: gone; numbers and UIDLs of the rest ----
r = greet()
r.login("alice", "alice-pw")  # bare local part: one domain
r.cmd("DELE 2")
r.cmd("DELE 3")
q = r.cmd("QUIT")
check(q.startswith(b"+OK") and b"2 messages left" in q, f"QUIT {q!r}")
check(r.closed(), "not closed after QUIT")
r = greet()
r.login()
check(r.cmd("STAT").split()[1] == b"2", "STAT after QUIT")
uidl2 = r.multi("UIDL").decode().split("\r\n")[:-1]
check(uidl2 == [f"1 {uids[1]}", f"2 {uids[4]}"], f"UIDL after delete {uidl2} vs {uids}")
check(r.multi("RETR 1") == retr[1], "message 1 changed")
# ---- pipelining: several commands in one packet ----
r.send("NOOP\r\nSTAT\r\nLIST 2\r\nUIDL 1\r\nRETR 2\r\nNOOP\r\n")
check(r.line() == b"+OK\r\n", "pipelined NOOP")
check(r.line().startswith(b"+OK 2 "), "pipelined STAT")
check(r.line().startswith(b"+OK 2 "), "pipelined LIST")
check(r.line() == f"+OK 1 {uids[1]}\r\n".encode(), "pipelined UIDL")
check(r.line().startswith(b"+OK"), "pipelined RETR")
check(r.body() == retr[4], "pipelined RETR body")
check(r.line() == b"+OK\r\n", "pipelined NOOP 2")
r.cmd("QUIT")
r.close()

# pipelined login
r = greet()
r.send("USER alice@example.test\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n")
check(r.line().startswith(b"+OK"), "pipelined USER")
check(r.line().startswith(b"+OK"), "pipelined PASS")
check(r.line().startswith(b"+OK 2 "), "pipelined STAT")
check(r.line().startswith(b"+OK"), "pipelined QUIT")
check(r.closed(), "not closed")

# ---- STLS injection: plaintext pipelined after STLS is refused ----
r = greet()
r.send("STLS\r\nCAPA\r\n")
check(r.line().startswith(b"-ERR"), "STLS with pipelined plaintext accepted")
check(r.closed(), "not closed after STLS injection")
# real STLS, then the session goes on inside TLS
r = greet()
r.cmd("STLS")
r.starttls()
capa = r.multi("CAPA").decode().split("\r\n")
check("STLS" not in capa and "USER" in capa, f"CAPA in TLS {capa}")
r.login()
r.cmd("STAT")
r.cmd("QUIT")
r.close()
# implicit TLS: no STLS offered
r = greet(implicit_tls=True, port=int(__import__("os").environ["P_POP3S"]))
capa = r.multi("CAPA").decode().split("\r\n")
check("STLS" not in capa and "USER" in capa, f"CAPA on pop3s {capa}")
r.cmd("STLS", b"-ERR")
r.login()
r.cmd("QUIT")
r.close()

# ---- AUTH (RFC 5034) ----
def b64(s):
    return base64.b64encode(s.encode()).decode()

r = greet()
r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0alice-pw"))
r.cmd("STAT")
r.cmd("QUIT")
r.close()
r = greet()
check(r.cmd("AUTH PLAIN", b"+ ") == b"+ \r\n", "PLAIN empty challenge")
r.cmd(b64("\0alice\0alice-pw"))
r.cmd("QUIT")
r.close()
r = greet()
r.cmd("AUTH LOGIN", b"+ ")
r.cmd(b64("alice@example.test"), b"+ ")
r.cmd(b64("alice-pw"))
r.cmd("QUIT")
r.close()
r = greet()
r.cmd("AUTH PLAIN", b"+ ")
r.cmd("*", b"-ERR")
r.cmd("AUTH PLAIN", b"+ ")
r.cmd("!!notbase64", b"-ERR")
r.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong"), b"-ERR [AUTH]")
r.cmd("QUIT")
r.close()

# ---- failed logins: slowed, then the connection is closed ----
r = greet()
t0 = time.time()
for i in range(3):
    r.cmd("USER alice@example.test")
    res = r.cmd("PASS wrong", b"-ERR [AUTH]")
check(r.closed(), "not closed after 3 failed logins")
r = greet()
r.cmd("USER nosuch@example.test")
r.cmd("PASS x", b"-ERR [AUTH]")
r.close()
print("dialogue ok")
