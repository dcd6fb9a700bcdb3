"""A scripted IMAPS server that misbehaves on purpose, for brev-tray.
argv: PORT CERT KEY LOG. Each connection follows the next script:
  1. a correct session, except that one BODY[TEXT] comes as a quoted string
     with escapes, one as NIL, and then a 20 MB literal is announced;
  2. ESEARCH with four billion new messages, then an endless response line
     (2.5 MiB without a line end);
  3. BYE right after the greeting;
  4. LOGIN refused with [AUTHENTICATIONFAILED].
Every command seen is appended to LOG (passwords masked)."""
import socket
import ssl
import sys
import time

port, cert, key, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
log = open(logpath, "a", buffering=1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(5)

HDR1 = (b"From: =?utf-8?q?Zo=C3=AB_Quote?= <zoe@remote.test>\r\n"
        b"Subject: =?utf-8?b?UXVvdGVkIGJvZHk=?=\r\n\r\n")
HDR2 = b"From: nil@remote.test\r\nSubject: Nil body\r\n\r\n"


class Conn:
    def __init__(self, s):
        self.s = s
        self.f = s.makefile("rb")

    def send(self, b):
        self.s.sendall(b)

    def line(self):
        l = self.f.readline(100000)
        if not l:
            raise EOFError
        text = l.decode("utf-8", "replace").rstrip("\r\n")
        parts = text.split(" ")
        if len(parts) > 2 and parts[1].upper() == "LOGIN":
            text = " ".join(parts[:3]) + " ***"
        log.write(text + "\n")
        return text

    def cmd(self):
        l = self.line()
        tag, _, rest = l.partition(" ")
        return tag, rest.upper()


def login(c, caps=b"IMAP4rev1 IDLE"):
    c.send(b"* OK fake ready\r\n")
    tag, rest = c.cmd()
    assert rest.startswith("LOGIN"), rest
    c.send(tag.encode() + b" OK logged in\r\n")
    tag, rest = c.cmd()
    c.send(b"* CAPABILITY " + caps + b"\r\n" + tag.encode() + b" OK\r\n")
    tag, rest = c.cmd()
    assert rest.startswith("EXAMINE"), rest
    c.send(b"* 4 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 5] n\r\n" + tag.encode() + b" OK [READ-ONLY] done\r\n")


def answer_until_idle(c, on_search, on_fetch):
    """Answer SEARCH/FETCH until IDLE; return the IDLE tag."""
    while True:
        tag, rest = c.cmd()
        t = tag.encode()
        if rest.startswith("IDLE"):
            c.send(b"+ idling\r\n")
            return t
        if "SEARCH" in rest:
            c.send(b"* SEARCH" + on_search(rest) + b"\r\n" + t + b" OK\r\n")
        elif "FETCH" in rest:
            c.send(on_fetch(rest) + t + b" OK\r\n")
        else:
            c.send(t + b" OK\r\n")


def session1(c):
    login(c)
    state = {"max": 4}

    def search(rest):
        if rest.startswith("UID SEARCH UID"):
            lo = int(rest.split()[3].split(":")[0])
            return b"".join(b" %d" % u for u in range(lo, state["max"] + 1))
        return b" 3"  # SEARCH UNSEEN

    def fetch(rest):
        if "5" in rest.split()[2].split(","):
            return (b"* 5 FETCH (UID 5 FLAGS () BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n" % len(HDR1) + HDR1 +
                    b' BODY[TEXT]<0> "Say \\"hi\\" to \\\\ everyone")\r\n')
        return (b"* 6 FETCH (UID 6 FLAGS () BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n" % len(HDR2) + HDR2 +
                b" BODY[TEXT]<0> NIL)\r\n")

    for uid in (5, 6):
        t = answer_until_idle(c, search, fetch)
        time.sleep(0.5 if uid == 5 else 2.5)  # apart: two notifications, not one folded
        state["max"] = uid
        c.send(b"* %d EXISTS\r\n" % uid)
        tag, rest = c.cmd()
        assert rest == "DONE" or tag.upper() == "DONE", (tag, rest)
        c.send(t + b" OK idle done\r\n")
    answer_until_idle(c, search, fetch)
    time.sleep(2)
    c.send(b"* 7 FETCH (BODY[TEXT] {20000000}\r\n" + b"x" * 65536)
    time.sleep(1)


HDR3 = b"From: Big Count <big@remote.test>\r\nSubject: One of billions\r\n\r\n"


def session2(c):
    # ESEARCH (RFC 4731): four billion new unseen messages in a few bytes;
    # the client must count them without expanding the set
    login(c, caps=b"IMAP4rev1 IDLE ESEARCH")

    def esearch(c2):
        while True:
            tag, rest = c2.cmd()
            t = tag.encode()
            if rest.startswith("IDLE"):
                c2.send(b"+ idling\r\n")
                return
            if "RETURN (COUNT)" in rest:
                c2.send(b'* ESEARCH (TAG "%s") COUNT 4000000000\r\n' % t + t + b" OK\r\n")
            elif "RETURN (MAX)" in rest:
                c2.send(b'* ESEARCH (TAG "%s") UID MAX 4000000000\r\n' % t + t + b" OK\r\n")
            elif "RETURN (ALL)" in rest:
                c2.send(b'* ESEARCH (TAG "%s") UID ALL 7:3999999990,3999999991:4000000000\r\n' % t +
                        t + b" OK\r\n")
            elif "FETCH" in rest:
                assert "4000000000" in rest and len(rest.split()[2].split(",")) == 10, rest
                c2.send(b"* 9 FETCH (UID 4000000000 FLAGS () BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n"
                        % len(HDR3) + HDR3 + b" BODY[TEXT]<0> NIL)\r\n" + t + b" OK\r\n")
            else:
                c2.send(t + b" OK\r\n")
    esearch(c)
    time.sleep(2)
    chunk = b"y" * 65536
    for _ in range(40):  # 2.5 MiB, no line end
        c.send(chunk)


def session3(c):
    c.send(b"* OK fake ready\r\n* BYE fake server going away\r\n")


def session4(c):
    c.send(b"* OK fake ready\r\n")
    tag, rest = c.cmd()
    c.send(tag.encode() + b" NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
    c.line()  # a well-behaved client says nothing more; wait for EOF


scripts = [session1, session2, session3, session4, session4, session4]
while scripts:
    raw, _ = srv.accept()
    try:
        s = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log.write("tls error %s\n" % e)  # e.g. the test's port probe: not a client
        continue
    script = scripts.pop(0)
    log.write("--- %s\n" % script.__name__)
    try:
        script(Conn(s))
    except (EOFError, OSError, AssertionError) as e:
        log.write("ended: %r\n" % (e,))
    finally:
        try:
            s.close()
        except OSError:
            pass
