"""pop3t.py — helpers for brev's POP3 end-to-end tests (t-30..t-3N):
delivery over SMTP and a raw POP3 socket that shows the exact bytes.
Environment: D, P_SMTP, P_POP3, P_POP3S (tests/e2e/lib.sh)."""
import os
import smtplib
import socket
import ssl
import sys
import time

D = os.environ["D"]
P_SMTP = int(os.environ["P_SMTP"])
P_POP3 = int(os.environ["P_POP3"])
P_POP3S = int(os.environ["P_POP3S"])


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def tls_context():
    ctx = ssl.create_default_context(cafile=os.path.join(D, "cert.pem"))
    return ctx


def message(subject, body_lines, frm="sender@example.test", to="alice@example.test"):
    """A message as text with CRLF line ends."""
    head = [f"From: {frm}", f"To: {to}", f"Subject: {subject}",
            f"Message-ID: <{subject.replace(' ', '-')}.{time.time_ns()}@example.test>"]
    return "\r\n".join(head + [""] + body_lines) + "\r\n"


def deliver(rcpt, text, frm="sender@example.test"):
    """Deliver through brev's own SMTP listener (port 25 role)."""
    with smtplib.SMTP("127.0.0.1", P_SMTP, timeout=20) as s:
        s.ehlo("client.example.test")
        s.sendmail(frm, [rcpt], text.encode())


class Raw:
    """A POP3 client that speaks raw bytes, for exact dialogue checks."""

    def __init__(self, port=None, implicit_tls=False, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port or P_POP3), timeout=timeout)
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def starttls(self):
        check(self.buf == b"", "data buffered before TLS")
        self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def body(self):
        """The raw bytes of a multi-line response after its status line, up
        to but not including the terminating .CRLF."""
        while True:
            if self.buf.startswith(b".\r\n"):
                out = b""
                self.buf = self.buf[3:]
                return out
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return out
            self._fill()

    def cmd(self, text, want=b"+OK"):
        self.send(text + "\r\n")
        r = self.line()
        if want is not None:
            check(r.startswith(want), f"{text!r}: got {r!r}, wanted {want!r}")
        return r

    def multi(self, text):
        self.cmd(text)
        return self.body()

    def login(self, user="alice@example.test", password="alice-pw"):
        self.cmd("USER " + user)
        return self.cmd("PASS " + password)

    def closed(self, wait=5):
        """True if the server closes the connection (no more bytes)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def greet(port=None, implicit_tls=False):
    r = Raw(port, implicit_tls)
    g = r.line()
    check(g.startswith(b"+OK"), f"greeting {g!r}")
    r.greeting = g
    return r


def stat(user="alice@example.test", password="alice-pw"):
    """(count, octets) seen by a fresh session; QUIT without deleting."""
    r = greet()
    r.login(user, password)
    s = r.cmd("STAT").split()
    r.cmd("QUIT")
    r.close()
    return int(s[1]), int(s[2])


def wait_count(n, user="alice@example.test", password="alice-pw", secs=10):
    """Wait until the maildrop has n messages (delivery is synchronous, but
    the previous session's lock is released when its thread sees EOF)."""
    deadline = time.time() + secs
    last = None
    while time.time() < deadline:
        try:
            last = stat(user, password)
            if last[0] == n:
                return last
        except SystemExit:
            pass
        time.sleep(0.1)
    fail(f"maildrop has {last}, wanted {n} messages")
