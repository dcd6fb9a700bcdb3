"""A raw IMAP line client for golden dialogues: imaplib cannot send `$`
sets, pipelined commands or look at ESEARCH as the server wrote it, so the
tests write the exact command lines and read the exact answers.

Every check runs even when an earlier one failed; failures are listed at
the end (done()) and the exit status is 1 if there was any.
"""
import os, re, socket, sys

PORT = int(os.environ["P_IMAP"])
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def done(name):
    if FAILED:
        print("%s: %d check(s) failed" % (name, len(FAILED)), file=sys.stderr)
        sys.exit(1)
    print("%s: all checks passed" % name)


class Conn:
    def __init__(self, user=None, pw=None):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.f = self.s.makefile("rb")
        self.n = 0
        greet = self.line()
        assert greet.startswith("* OK"), greet
        if user:
            _, t = self.cmd("LOGIN %s %s" % (user, pw))
            assert t.startswith("OK"), t

    def line(self):
        b = self.f.readline(1 << 20)
        if not b:
            raise EOFError("connection closed")
        return b.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def read_until(self, tag):
        """(untagged lines, tagged answer without the tag) of tag."""
        out = []
        while True:
            l = self.line()
            if l.startswith(tag + " "):
                return out, l[len(tag) + 1:]
            out.append(l)

    def cmd(self, line):
        t = self.tag()
        self.send("%s %s\r\n" % (t, line))
        return self.read_until(t)

    def pipeline(self, lines):
        """Send every line in one write, then read each answer in turn."""
        tags = [self.tag() for _ in lines]
        self.send("".join("%s %s\r\n" % (t, l) for t, l in zip(tags, lines)))
        return [self.read_until(t) for t in tags]

    def append(self, mbox, flags, date, msg):
        t = self.tag()
        self.send(('%s APPEND %s (%s) "%s" {%d+}\r\n' % (t, mbox, flags, date, len(msg))).encode()
                  + msg + b"\r\n")
        return self.read_until(t)

    def close(self):
        try:
            self.cmd("LOGOUT")
        except Exception:
            pass
        self.s.close()


def expect(c, line, untagged, cond="OK", what=None, ignore=r"^\* (\d+ (EXISTS|RECENT)|OK \[(HIGHESTMODSEQ|CLOSED))"):
    """Send line; its untagged answers (minus ignore) must be exactly
    untagged (a list), its tagged answer start with cond."""
    u, t = c.cmd(line)
    u = [x for x in u if not (ignore and re.match(ignore, x))]
    ok = check(t.startswith(cond), "%s: tagged %r, want %s" % (what or line, t, cond))
    if untagged is not None:
        ok = check(u == untagged, "%s: untagged %r, want %r" % (what or line, u, untagged)) and ok
    return u, t
