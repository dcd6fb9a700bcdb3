"""Raw SMTP dialogues: exact bytes out, exact reply codes back."""
import os
import poplib
import socket

P_SMTP = int(os.environ["P_SMTP"])
P_SUB = int(os.environ["P_SUB"])
P_POP3 = int(os.environ["P_POP3"])


class C:
    def __init__(self, port=P_SMTP, ehlo=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.expect("220 ")
        if ehlo:
            self.send(b"EHLO client.test\r\n")
            self.ehlo = self.reply()
            assert self.ehlo.startswith(b"250-"), self.ehlo

    def send(self, b):
        self.s.sendall(b)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed; buffered %r" % self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def reply(self):
        out = b""
        while True:
            l = self.line()
            out += l + b"\r\n"
            if len(l) < 4 or l[3:4] != b"-":
                return out

    def expect(self, prefix):
        if isinstance(prefix, str):
            prefix = prefix.encode()
        r = self.reply()
        assert r.startswith(prefix), (prefix, r)
        return r

    def closed(self):
        try:
            while True:
                d = self.s.recv(4096)
                if not d:
                    return True
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()


def count(user, pw):
    p = poplib.POP3("127.0.0.1", P_POP3, timeout=20)
    p.user(user)
    p.pass_(pw)
    n = len(p.list()[1])
    p.quit()
    return n


def txn(c, rcpt=b"alice@example.test"):
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n")
    c.expect("250 2.1.0")
    c.expect("250 2.1.5")
    c.expect("354 ")


def line_limits():
    c = C()
    c.send(b"NOOP " + b"a" * 505 + b"\r\n")     # 512 with CRLF: fine
    c.expect("250 2.0.0")
    c.send(b"NOOP " + b"a" * 506 + b"\r\nNOOP\r\n")
    c.expect("500 5.5.2")
    c.expect("250 2.0.0")
    c.send(b"X" * 200000 + b"\r\nNOOP\r\n")   # consumed, still in step
    c.expect("500 5.5.2")
    c.expect("250 2.0.0")
    c.send(b"NOOP \x00\r\n")
    c.expect("500 5.5.2")
    c.close()


SMUGGLE = [
    b"x\n.\nMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    b"x\r.\rMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    b"x\r\n.\nMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    b"x\n.\r\nMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    b"x\r.\r\nMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    b"bare\nlf\r\n.\r\n",
    b"bare\rcr\r\n.\r\n",
]


def smuggling():
    for body in SMUGGLE:
        c = C()
        txn(c)
        c.send(b"Subject: smuggle\r\n\r\n" + body)
        c.expect("554 5.6.0")
        c.send(b"NOOP\r\n")
        c.expect("250 2.0.0")     # not a reply to a smuggled command
        c.send(b"QUIT\r\n")
        c.expect("221 ")
        assert c.closed()


def pipelining():
    c = C()
    assert b"250-PIPELINING" in c.ehlo
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\nDATA\r\n")
    c.expect("250 2.1.0")
    c.expect("250 2.1.5")
    c.expect("550 5.1.1")
    c.expect("354 ")
    c.send(b"Subject: pipelined\r\n\r\n..leading dot\r\n.\r\nNOOP\r\n")
    c.expect("250 2.0.0 Ok: queued as ")
    c.expect("250 2.0.0")
    c.close()


def starttls_injection():
    c = C()
    assert b"250-STARTTLS" in c.ehlo
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
    c.expect("554 5.5.1")
    assert c.closed()


def sequence():
    c = C(ehlo=False)
    c.send(b"MAIL FROM:<x@remote.test>\r\n")
    c.expect("503 5.5.1")
    c.send(b"EHLO client.test\r\n")
    c.reply()
    c.send(b"RCPT TO:<alice@example.test>\r\nDATA\r\nMAIL FROM:<x@remote.test>\r\nDATA\r\n"
           b"MAIL FROM:<y@remote.test>\r\nRSET\r\n")
    c.expect("503 5.5.1")
    c.expect("503 5.5.1")
    c.expect("250 2.1.0")
    c.expect("554 5.5.1")
    c.expect("503 5.5.1")
    c.expect("250 2.0.0")
    c.send(b"MAIL FROM:<x@remote.test> SIZE=999999999999\r\n")
    c.expect("552 5.3.4")
    c.send(b"MAIL FROM:<x@remote.test> FOO=bar\r\n")
    c.expect("555 5.5.4")
    c.send(b"VRFY alice\r\n")
    c.expect("252 2.5.0")
    c.close()


def chunk(data, last=False):
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


def bdat():
    c = C()
    assert b"250-CHUNKING" in c.ehlo
    # before MAIL: the chunk is eaten
    c.send(chunk(b"MAIL FROM:<evil@remote.test>\r\n") + b"NOOP\r\n")
    c.expect("503 5.5.1")
    c.expect("250 2.0.0")
    # announced 3, sent 6: the rest is a (bad) command, the session stays in step
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 3\r\nabcdef\r\n"
           b"RSET\r\n")
    c.expect("250 2.1.0")
    c.expect("250 2.1.5")
    c.expect("250 2.0.0 3 octets")
    c.expect("500 5.5.1")
    c.expect("250 2.0.0")
    # bare LF inside a chunk
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           + chunk(b"Subject: \n\r\n\r\n", True))
    c.expect("250")
    c.expect("250")
    c.expect("554 5.6.0")
    # DATA inside BDAT
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 2\r\n\r\n"
           b"DATA\r\nRSET\r\n")
    c.expect("250")
    c.expect("250")
    c.expect("250 2.0.0 2 octets")
    c.expect("503 5.5.1")
    c.expect("250 2.0.0")
    # a good one: BDAT LAST after chunks
    c.send(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           + chunk(b"Subject: chunked\r\n\r\n") + chunk(b"x\r\n", True))
    c.expect("250")
    c.expect("250")
    c.expect("250 2.0.0 20 octets")
    c.expect("250 2.0.0 Ok: queued")
    # without a size: closed
    c.send(b"BDAT LAST\r\n")
    c.expect("501 5.5.4")
    assert c.closed()


TRICKS = [
    b"<bob@remote.test>",
    b"<user%remote.test@example.test>",
    b"<remote.test!bob@example.test>",
    b"<\"bob@remote.test\"@example.test>",
    b"<@example.test:bob@remote.test>",
    b"<@example.test,@example.test:bob@remote.test>",
    b"<bob@example.test.>",
    b"<bob@[127.0.0.9]>",
    b"<bob@[127.0.0.1]>",
    b"<bob@[IPv6:::1]>",
    "<bob@exämple.test>".encode(),
    b"<bob@example.test@remote.test>",
    b"<bob@remote.test> <bob@example.test>",
    b"bob@remote.test",
    b"<bob@remote.test>@example.test",
]


def relay_tricks():
    for t in TRICKS:
        c = C()
        c.send(b"MAIL FROM:<x@remote.test> SMTPUTF8\r\nRCPT TO:" + t + b"\r\nDATA\r\n")
        c.expect("250 2.1.0")
        r = c.reply()
        assert r.startswith(b"5"), (t, r)
        c.expect("554 5.5.1")     # DATA: no valid recipients
        c.close()


def many_recipients():
    c = C()
    c.send(b"MAIL FROM:<x@remote.test>\r\n" +
           b"".join(b"RCPT TO:<alice+%d@example.test>\r\n" % i for i in range(101)) + b"DATA\r\n")
    c.expect("250 2.1.0")
    for _ in range(100):
        c.expect("250 2.1.5")
    c.expect("452 4.5.3")
    c.expect("354 ")
    c.send(b"Subject: hundred\r\n\r\nx\r\n.\r\n")
    c.expect("250 2.0.0")
    c.close()


def loop():
    c = C()
    txn(c)
    c.send(b"".join(b"Received: from h%d.test by h%d.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                    % (i, i) for i in range(31)) + b"Subject: loop\r\n\r\nx\r\n.\r\n")
    c.expect("554 5.4.6")
    c.close()


def submission_plain_auth_on_loopback():
    c = C(P_SUB)
    auth = [l for l in c.ehlo.split(b"\r\n") if l.startswith(b"250-AUTH ")]
    assert auth and b"PLAIN" in auth[0] and b"LOGIN" in auth[0], c.ehlo
    c.send(b"MAIL FROM:<alice@example.test>\r\n")
    c.expect("530 5.7.0")
    c.send(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==\r\n")
    c.expect("235 2.7.0")
    c.send(b"MAIL FROM:<bob@example.test>\r\nMAIL FROM:<alice+x@example.test>\r\n")
    c.expect("553 5.7.1")
    c.expect("250 2.1.0")
    c.close()


def error_limit():
    c = C()
    c.send(b"BOGUS\r\n" * 12)
    for _ in range(10):
        c.expect("500 5.5.1")
    c.expect("421 4.7.0")
    assert c.closed()


a0, b0 = count("alice@example.test", "alice-pw"), count("bob@example.test", "bob-pass")
line_limits()
smuggling()
pipelining()
starttls_injection()
sequence()
bdat()
relay_tricks()
many_recipients()
loop()
submission_plain_auth_on_loopback()
error_limit()
a1, b1 = count("alice@example.test", "alice-pw"), count("bob@example.test", "bob-pass")
# pipelined + chunked + hundred: three for alice, none ever for bob
assert (a1 - a0, b1 - b0) == (3, 0), (a0, a1, b0, b1)
print("dialogues ok")
