"""Raw ManageSieve dialogue for t-77-sieve-managesieve (plain TCP from
loopback, where brev allows PLAIN; the TLS path is sieve-connect's)."""
import base64, os, socket, sys

PORT = int(os.environ["PORT"])

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)

class S:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.f = self.s.makefile("rb")
        self.resp()  # the greeting: capabilities then OK
    def send(self, b):
        self.s.sendall(b)
    def resp(self):
        """Lines up to OK/NO/BYE; returns (lines, final)."""
        lines = []
        while True:
            l = self.f.readline(100000)
            if not l:
                return lines, b""
            lines.append(l)
            if l.startswith((b"OK", b"NO", b"BYE")):
                return lines, l
            if l.rstrip(b"\r\n").endswith(b"}"):  # a literal follows
                n = int(l.rsplit(b"{", 1)[1].rstrip(b"}\r\n+"))
                lines.append(self.f.read(n))
    def cmd(self, b, want):
        self.send(b)
        lines, final = self.resp()
        if not final.startswith(want):
            fail("%r: want %r, got %r" % (b[:60], want, lines))
        return lines, final

s = S()
# before login
s.cmd(b"LISTSCRIPTS\r\n", b"NO")
s.cmd(b'PUTSCRIPT "x" {5+}\r\nkeep;\r\n', b"NO")
s.cmd(b'GETSCRIPT "x"\r\n', b"NO")
s.cmd(b"FROBNICATE\r\n", b'NO "unknown command"')
s.cmd(b"GETSCRIPT x y z\r\n", b"NO")
s.cmd(b'NOOP "t1"\r\n', b'OK (TAG "t1")')
lines, _ = s.cmd(b"CAPABILITY\r\n", b"OK")
caps = b"".join(lines)
for c in (b'"SASL"', b'"SIEVE"', b'"STARTTLS"', b'"VERSION" "1.0"', b'"IMPLEMENTATION"'):
    if c not in caps:
        fail("capability %r missing: %r" % (c, caps))
# a wrong password, then the right one (PLAIN with an initial response)
bad = base64.b64encode(b"\0alice@example.test\0wrong").decode()
s.cmd(('AUTHENTICATE "PLAIN" "%s"\r\n' % bad).encode(), b"NO")
good = base64.b64encode(b"\0alice@example.test\0alice-pass").decode()
s.cmd(('AUTHENTICATE "PLAIN" "%s"\r\n' % good).encode(), b"OK")
s.cmd(b"AUTHENTICATE \"PLAIN\"\r\n", b'NO "already logged in"')
# HAVESPACE and the size bound
s.cmd(b'HAVESPACE "a" 100\r\n', b"OK")
s.cmd(b'HAVESPACE "a" 70000\r\n', b"NO (QUOTA/MAXSIZE)")
# an oversize literal: read and dropped, the session goes on
s.cmd(b'PUTSCRIPT "big" {70000+}\r\n' + b"#" * 70000 + b"\r\n", b"NO (QUOTA/MAXSIZE)")
s.cmd(b"NOOP\r\n", b"OK")
# a synchronizing literal {n} is accepted like {n+}
s.cmd(b'PUTSCRIPT "one" {5}\r\nkeep;\r\n', b"OK")
s.cmd(b'PUTSCRIPT "bad" "if true {"\r\n', b'NO "line 1')
s.cmd(b'CHECKSCRIPT "keep;"\r\n', b"OK")
s.cmd(b'CHECKSCRIPT "frob;"\r\n', b'NO "line 1')
s.cmd(b'PUTSCRIPT "a/b" "keep;"\r\n', b"NO")
s.cmd(b'NOOP "' + b"x" * 1100 + b'"\r\n', b'NO "syntax error"')
s.cmd(b'SETACTIVE "one"\r\n', b"OK")
s.cmd(b'SETACTIVE "nope"\r\n', b"NO (NONEXISTENT)")
s.cmd(b'DELETESCRIPT "one"\r\n', b"NO (ACTIVE)")
s.cmd(b'RENAMESCRIPT "one" "good"\r\n', b"NO (ALREADYEXISTS)")
s.cmd(b'RENAMESCRIPT "one" "uno"\r\n', b"OK")
lines, _ = s.cmd(b"LISTSCRIPTS\r\n", b"OK")
if b'"uno" ACTIVE\r\n' not in lines or b'"good"\r\n' not in lines:
    fail("LISTSCRIPTS after rename: %r" % lines)
lines, _ = s.cmd(b'GETSCRIPT "uno"\r\n', b"OK")
if lines[0] != b"{5}\r\n" or lines[1] != b"keep;":
    fail("GETSCRIPT: %r" % lines)
s.cmd(b'GETSCRIPT "one"\r\n', b"NO (NONEXISTENT)")
# the count limit: 16 scripts ("good", "uno" and 14 more)
for i in range(14):
    s.cmd(('PUTSCRIPT "s%d" "keep;"\r\n' % i).encode(), b"OK")
s.cmd(b'PUTSCRIPT "s99" "keep;"\r\n', b"NO (QUOTA/MAXSCRIPTS)")
s.cmd(b'HAVESPACE "s99" 10\r\n', b"NO (QUOTA/MAXSCRIPTS)")
s.cmd(b'DELETESCRIPT "s0"\r\n', b"OK")
s.cmd(b'SETACTIVE ""\r\n', b"OK")
s.cmd(b'DELETESCRIPT "uno"\r\n', b"OK")
s.cmd(b"UNAUTHENTICATE\r\n", b"OK")
s.cmd(b"LISTSCRIPTS\r\n", b'NO "not logged in"')
# a literal too large to read: BYE, and the connection closes
s.send(b'PUTSCRIPT "x" {5000000+}\r\n')
lines, final = s.resp()
if not final.startswith(b"BYE"):
    fail("huge literal: %r" % lines)
if s.f.readline():
    fail("connection still open after BYE")
# STARTTLS with a command pipelined behind it: BYE, nothing in TLS
s = S()
s.send(b"STARTTLS\r\nLISTSCRIPTS\r\n")
lines, final = s.resp()
if not final.startswith(b"BYE"):
    fail("pipelined STARTTLS: %r" % lines)
# SCRAM-SHA-256 (RFC 7677): challenges as strings, the client's answers as
# a quoted string and as a literal; the server signature in OK (SASL ...)
import hashlib, hmac, re
s = S()
cnonce = "t77clientnonce"
first_bare = "n=alice@example.test,r=" + cnonce
s.send(('AUTHENTICATE "SCRAM-SHA-256" "%s"\r\n' % base64.b64encode(("n,," + first_bare).encode()).decode()).encode())
l = s.f.readline()
m = re.match(rb'^"([A-Za-z0-9+/=]+)"\r\n$', l)
if not m:
    fail("SCRAM challenge not a quoted string: %r" % l)
server_first = base64.b64decode(m.group(1)).decode()
attrs = dict(x.split("=", 1) for x in server_first.split(","))
salted = hashlib.pbkdf2_hmac("sha256", b"alice-pass", base64.b64decode(attrs["s"]), int(attrs["i"]))
ckey = hmac.new(salted, b"Client Key", "sha256").digest()
final_bare = "c=biws,r=" + attrs["r"]
auth_msg = ",".join([first_bare, server_first, final_bare]).encode()
sig = hmac.new(hashlib.sha256(ckey).digest(), auth_msg, "sha256").digest()
proof = bytes(a ^ b for a, b in zip(ckey, sig))
final = base64.b64encode((final_bare + ",p=" + base64.b64encode(proof).decode()).encode())
s.send(b"{%d+}\r\n" % len(final) + final + b"\r\n")
lines, last = s.resp()
m = re.match(rb'^OK \(SASL "([A-Za-z0-9+/=]+)"\)', last)
if not m:
    fail("SCRAM: want OK (SASL ...), got %r" % lines)
skey = hmac.new(salted, b"Server Key", "sha256").digest()
want = "v=" + base64.b64encode(hmac.new(skey, auth_msg, "sha256").digest()).decode()
if base64.b64decode(m.group(1)).decode() != want:
    fail("SCRAM server signature does not verify")
s.cmd(b"LISTSCRIPTS\r\n", b"OK")
s.cmd(b"LOGOUT\r\n", b"OK")
# three failed logins end the session
s = S()
for i in range(3):
    bad = base64.b64encode(b"\0nobody@example.test\0wrong-%d" % i).decode()
    s.cmd(('AUTHENTICATE "PLAIN" "%s"\r\n' % bad).encode(), b"BYE" if i == 2 else b"NO")
# twenty bad commands end the session
s = S()
for i in range(19):
    s.cmd(b"BOGUS\r\n", b"NO")
s.cmd(b"BOGUS\r\n", b"BYE")
print("dialogue ok")
