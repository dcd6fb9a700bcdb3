"""COMPRESS=DEFLATE (RFC 4978) against brev with imaplib and zlib's raw
deflate (wbits -15) on the socket: after STARTTLS and over IMAPS; once per
session; literals, IDLE and a 1 MB FETCH through the layer; a bomb."""
import imaplib, os, random, smtplib, socket, ssl, time, zlib

P_IMAP, P_IMAPS, P_SMTP = int(os.environ["P_IMAP"]), int(os.environ["P_IMAPS"]), int(os.environ["P_SMTP"])
D = os.environ["D"]
BREV_PID = int(os.environ["BREV_PID"])
ctx = ssl.create_default_context(cafile=os.path.join(D, "cert.pem"))
imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


class ZSock:
    """The client's half of the layer: what imaplib sends is deflated and
    sync-flushed per write (as RFC 4978 4 asks of both sides)."""
    def __init__(self, sock):
        self.sock, self.d = sock, zlib.compressobj(6, zlib.DEFLATED, -15)
        self.plain_out = self.wire_out = 0

    def sendall(self, data):
        z = self.d.compress(data) + self.d.flush(zlib.Z_SYNC_FLUSH)
        self.plain_out += len(data)
        self.wire_out += len(z)
        self.sock.sendall(z)

    def send_raw(self, z):
        self.sock.sendall(z)

    def __getattr__(self, name):
        return getattr(self.sock, name)


class ZFile:
    """What imaplib reads: the server's deflate stream, inflated."""
    def __init__(self, sock):
        self.sock, self.i, self.buf = sock, zlib.decompressobj(-15), b""
        self.wire_in = self.plain_in = 0

    def _more(self):
        raw = self.sock.recv(65536)
        if not raw:
            return False
        self.wire_in += len(raw)
        out = self.i.decompress(raw)
        self.plain_in += len(out)
        self.buf += out
        return True

    def readline(self, limit=-1):
        while b"\n" not in self.buf and (limit < 0 or len(self.buf) < limit):
            if not self._more():
                break
        n = self.buf.find(b"\n") + 1 or len(self.buf)
        if limit >= 0:
            n = min(n, limit)
        line, self.buf = self.buf[:n], self.buf[n:]
        return line

    def read(self, size):
        while len(self.buf) < size and self._more():
            pass
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def close(self):
        pass


def compress(m):
    typ, data = m._simple_command("COMPRESS", "DEFLATE")
    check(typ == "OK", "COMPRESS DEFLATE: %r %r" % (typ, data))
    raw = m.sock
    m.sock, m.file = ZSock(raw), ZFile(raw)
    return m.sock, m.file


def raw_cmd(m, text):
    """Send a command line as it is; its tagged answer line."""
    tag = m._new_tag()
    m.send(tag + b" " + text + b"\r\n")
    while True:
        line = m._get_line()
        if line.startswith(tag):
            return line


def caps_now(m):
    typ, data = m.capability()
    check(typ == "OK", "CAPABILITY")
    return data[0].decode().upper().split()


def text_message(size):
    """A plain-text message of about size bytes: words from a fixed list
    in random order (seeded), 72-column lines, like a long mail."""
    words = ("the of and to in is it that for on with as was be by this are or his from at which "
             "but have an they not had one were her all she there would their we him been has when "
             "who will more no if out so said what up its about into than them can only other new "
             "some could time these two may then do first any my now such like our over man me even "
             "most made after also did many before must through back years where much your way well "
             "down should because each just those people mailbox server message folder delivery "
             "header subject greetings regards tomorrow meeting attached report invoice").split()
    rnd = random.Random(4978)
    out = [b"From: Writer <writer@example.test>\r\nTo: alice@example.test\r\n"
           b"Subject: one megabyte of text\r\nMessage-ID: <big@example.test>\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"]
    n = sum(len(x) for x in out)
    while n < size:
        line = []
        while sum(len(w) + 1 for w in line) < 66:
            line.append(rnd.choice(words))
        s = (" ".join(line) + "\r\n").encode()
        out.append(s)
        n += len(s)
    return b"".join(out)


BIG = text_message(1 << 20)


def fetch_big(m, zs, zf, label):
    typ, data = m.select("INBOX")
    check(typ == "OK", "SELECT over " + label)
    typ, data = m.uid("SEARCH", "HEADER", "Message-ID", "<big@example.test>")
    uids = data[0].split()
    check(typ == "OK" and len(uids) == 1, "SEARCH for the big message over %s: %r" % (label, data))
    w0, p0 = zf.wire_in, zf.plain_in
    typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
    check(typ == "OK" and data[0][1] == BIG, "FETCH BODY[] of 1 MB over %s is the appended message" % label)
    wire, plain = zf.wire_in - w0, zf.plain_in - p0
    print("FETCH of a %d-byte text message over %s: %d bytes on the wire for %d bytes of response, "
          "%.1f%% saved" % (len(BIG), label, wire, plain, 100.0 * (plain - wire) / plain))
    check(wire < plain, "compression saved nothing")


def smtp_deliver(subject):
    s = smtplib.SMTP("127.0.0.1", P_SMTP, timeout=20)
    s.sendmail("far@remote.test", ["alice@example.test"],
               "From: far@remote.test\r\nTo: alice@example.test\r\nSubject: %s\r\n\r\nhi\r\n" % subject)
    s.quit()


def idle_sees_delivery(m, zs):
    """IDLE through the layer: the '+', the EXISTS of a delivery and the
    tagged OK must each arrive without the client sending more (the server
    sync-flushes every burst)."""
    raw = zs.sock
    raw.settimeout(20)
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    check(m._get_line().startswith(b"+"), "IDLE continuation")
    smtp_deliver("during idle")
    t0 = time.time()
    line = m._get_line()
    check(line.startswith(b"* ") and line.endswith(b"EXISTS"), "IDLE update: %r" % line)
    print("IDLE update through COMPRESS after %.2f s" % (time.time() - t0))
    m.send(b"DONE\r\n")
    while True:
        line = m._get_line()
        if line.startswith(tag):
            check(b" OK " in line, "IDLE end: %r" % line)
            break
    raw.settimeout(None)


# --- plain port: STARTTLS, then login, then COMPRESS -----------------------
m = imaplib.IMAP4("localhost", P_IMAP)
check("COMPRESS=DEFLATE" not in m.capabilities, "COMPRESS advertised before login")
check(m.starttls(ssl_context=ctx)[0] == "OK", "STARTTLS")
check("COMPRESS=DEFLATE" not in caps_now(m), "COMPRESS advertised before login (TLS)")
ans = raw_cmd(m, b"COMPRESS DEFLATE")  # imaplib itself would refuse to send it
check(b" BAD " in ans, "COMPRESS before login must be BAD: %r" % ans)
m.login("alice@example.test", "pw-alice")
check("COMPRESS=DEFLATE" in caps_now(m), "COMPRESS=DEFLATE after login")
ans = raw_cmd(m, b"COMPRESS GZIP")
check(b" BAD " in ans, "COMPRESS GZIP: %r" % ans)
zs, zf = compress(m)
check("COMPRESS=DEFLATE" in caps_now(m), "CAPABILITY through the layer")
typ, data = m._simple_command("COMPRESS", "DEFLATE")
check(typ == "NO" and b"[COMPRESSIONACTIVE]" in data[0], "second COMPRESS: %r %r" % (typ, data))
# A 1 MB literal through the layer (synchronising: the '+' must come back
# through it too), then read back.
typ, data = m.append("INBOX", None, None, BIG)
check(typ == "OK", "APPEND of 1 MB through COMPRESS: %r" % data)
fetch_big(m, zs, zf, "STARTTLS+COMPRESS")
idle_sees_delivery(m, zs)
check(m.logout()[0] == "BYE", "LOGOUT")

# --- IMAPS: the same layer over implicit TLS ------------------------------
m = imaplib.IMAP4_SSL("localhost", P_IMAPS, ssl_context=ctx)
m.login("alice@example.test", "pw-alice")
m.select("INBOX")  # COMPRESS is allowed in the selected state too
zs, zf = compress(m)
fetch_big(m, zs, zf, "IMAPS+COMPRESS")
typ, data = m.noop()
check(typ == "OK", "NOOP")
check(m.logout()[0] == "BYE", "LOGOUT over IMAPS")


# --- a decompression bomb: 256 MiB of one line in ~250 KB -----------------
def vm_hwm():
    with open("/proc/%d/status" % BREV_PID) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise SystemExit("FAIL: no VmHWM")


hwm0 = vm_hwm()
m = imaplib.IMAP4_SSL("localhost", P_IMAPS, ssl_context=ctx)
m.login("alice@example.test", "pw-alice")
zs, zf = compress(m)
d = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
chunk = b"a" * (1 << 20)
bomb = [d.compress(b"b1 NOOP ")]
for _ in range(256):
    bomb.append(d.compress(chunk))
bomb.append(d.compress(b"\r\n") + d.flush(zlib.Z_SYNC_FLUSH))
bomb = b"".join(bomb)
zs.sock.settimeout(60)
zs.send_raw(bomb)
answer = []
while True:
    line = zf.readline()
    if not line:
        break
    answer.append(line)
hwm1 = vm_hwm()
print("bomb: %d bytes inflating to 256 MiB; brev answered %r; its peak RSS %d -> %d KiB"
      % (len(bomb), b"".join(answer), hwm0, hwm1))
check(any(b"BAD" in a and b"too long" in a for a in answer), "bomb not refused as a long line")
check(hwm1 - hwm0 < 32 * 1024, "brev grew by %d KiB on a bomb" % (hwm1 - hwm0))
print("ok")
