"""bench/benchlib.py — shared pieces of brev's benchmarks: process-tree CPU
and memory from /proc, the fsync ceiling, starting brev, accounts and
mailboxes in both servers, an IMAP poller, and the results table.

CPU is user+sys of the whole server process tree, read from /proc: the
live processes' own time plus what they collected from children that
already exited (cutime/cstime), so short-lived Postfix and Dovecot workers
are counted too. On a shared, noisy machine it is the stable figure.
"""
import imaplib
import os
import socket
import statistics
import subprocess
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, limit=20.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0] = state, rest[1] = ppid, ...


def tree(root):
    """root and every live descendant."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu(roots):
    """Seconds of user+sys of the trees under roots (incl. reaped children)."""
    t = 0
    for r in roots:
        for p in tree(r):
            try:
                f = _stat(p)
            except OSError:
                continue
            # fields 14-17 of stat: utime stime cutime cstime (rest[11..14])
            t += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return t / HZ


def mem(roots):
    """(RSS, PSS, anonymous RSS) in bytes summed over the trees. The
    anonymous part is the processes' own heap and stacks; the rest of RSS is
    mapped files (binaries, libraries, brev's LMDB map, Dovecot's indexes)."""
    rss = pss = anon = 0
    for r in roots:
        for p in tree(r):
            try:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1]) * 1024
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                        elif line.startswith("Anonymous:"):
                            anon += int(line.split()[1]) * 1024
            except OSError:
                pass
    return rss, pss, anon


def nprocs(roots):
    return sum(len(tree(r)) for r in roots)


def fsync_ceiling(dirpath, seconds=2.0, writers=1):
    """fdatasync()s per second of 4 KiB appends, `writers` threads at once."""
    count = [0] * writers
    stop = time.time() + seconds

    def one(i):
        path = os.path.join(dirpath, f"fsync.{i}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        buf = b"x" * 4096
        try:
            while time.time() < stop:
                os.write(fd, buf)
                os.fdatasync(fd)
                count[i] += 1
        finally:
            os.close(fd)
            os.unlink(path)

    th = [threading.Thread(target=one, args=(i,)) for i in range(writers)]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join()
    return sum(count) / (time.time() - t0)


class Brev:
    """A `brev serve` on loopback ports in its own DATADIR."""

    def __init__(self, binary, datadir, dns_port, user="bench@bench.test", pw="bench-pw"):
        self.bin, self.d, self.user, self.pw = binary, datadir, user, pw
        self.proc = None
        subprocess.run([binary, "-d", datadir, "init", "--domain", "bench.test",
                        "--hostname", "localhost"], check=True, stdout=subprocess.DEVNULL)
        self.smtp, self.imap, self.pop3 = free_port(), free_port(), free_port()
        dead = free_port()
        with open(os.path.join(datadir, "brev.conf"), "a") as f:
            f.write(f"""
# --- benchmark settings (bench/benchlib.py) ---
listen.smtp = 127.0.0.1:{self.smtp}
listen.submission = 127.0.0.1:{free_port()}
listen.submissions = 127.0.0.1:{free_port()}
listen.imap = 127.0.0.1:{self.imap}
listen.imaps = 127.0.0.1:{free_port()}
listen.pop3 = 127.0.0.1:{self.pop3}
listen.pop3s = 127.0.0.1:{free_port()}
listen.http = 127.0.0.1:{free_port()}
listen.https = 127.0.0.1:{free_port()}
listen.managesieve = 127.0.0.1:{free_port()}
dns.resolver = 127.0.0.1:{dns_port}
delivery.port = {dead}
limits.connections = 1000
""")
            # As root brev serves only after dropping to an unprivileged
            # user (README); the bench names one rather than need `brev`.
            if os.geteuid() == 0:
                f.write("user = nobody\n")
        subprocess.run([binary, "-d", datadir, "user", "add", user], input=pw.encode() + b"\n",
                       check=True, stdout=subprocess.DEVNULL)

    def start(self):
        """Start; returns seconds from exec to the first SMTP banner."""
        log = open(os.path.join(self.d, "serve.log"), "ab")
        t0 = time.time()
        self.proc = subprocess.Popen([self.bin, "-d", self.d, "serve"], stdout=log, stderr=log)
        first_banner(self.smtp, 20)
        t = time.time() - t0
        wait_port(self.imap)
        return t

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    @property
    def pid(self):
        return self.proc.pid


def yescrypt(pw):
    """A yescrypt hash of pw at brev's cost (build/bench_yescrypt, bench/yescrypt.c)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = subprocess.run([os.path.join(root, "build", "bench_yescrypt")], input=pw + "\n",
                       capture_output=True, text=True, check=True).stdout.strip()
    assert h.startswith("$y$"), h
    return h


def add_user(brev, peers_dir, user, pw):
    """The account user/pw in brev and in Dovecot's passwd-file, both with a
    yescrypt hash of the same cost (Dovecot re-reads the file when it changes)."""
    subprocess.run([brev.bin, "-d", brev.d, "user", "add", user], input=pw.encode() + b"\n",
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(peers_dir, "dovecot", "passwd"), "a") as f:
        f.write(f"{user}:{{CRYPT}}{yescrypt(pw)}\n")


def load_mailbox(brev, dc_mail, user, n):
    """n generated messages (build/bench_load) into user's INBOX in brev and
    in Dovecot's Maildir, the same bytes; returns (seconds, Maildir path)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    maildir = os.path.join(dc_mail, user)
    t0 = time.time()
    subprocess.run([os.path.join(root, "build", "bench_load"), brev.d, user, maildir, str(n)],
                   check=True)
    subprocess.run(["chown", "-R", "65534:65534", dc_mail], check=True)
    return time.time() - t0, maildir


def login_refused(port, user, pw):
    """True when the server answers LOGIN user pw with a tagged NO."""
    c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    try:
        c.login(user, pw)
    except imaplib.IMAP4.error:
        return True
    finally:
        try:
            c.logout()
        except Exception:
            pass
    return False


def first_banner(port, limit):
    """Poll until a connection to port gets its greeting line."""
    end = time.time() + limit
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            try:
                if s.recv(100):
                    return
            finally:
                s.close()
        except OSError:
            time.sleep(0.001)
    raise RuntimeError(f"no banner on {port}")


class Imap:
    """A logged-in imaplib connection."""

    def __init__(self, port, user="bench@bench.test", pw="bench-pw"):
        self.c = imaplib.IMAP4("127.0.0.1", port, timeout=120)
        self.c.login(user, pw)

    def count(self, box="INBOX"):
        typ, data = self.c.status(box, "(MESSAGES)")
        assert typ == "OK", data
        s = data[0].decode()
        return int(s[s.index("MESSAGES") + 9:].split(")")[0].split()[0])

    def empty(self, box="INBOX"):
        self.c.select(box)
        self.c.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
        self.c.expunge()
        self.c.close()

    def logout(self):
        try:
            self.c.logout()
        except Exception:
            pass


def median(xs):
    return statistics.median(xs)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def table(title, head, rows, notes=()):
    """A Markdown table (returned as text)."""
    out = [f"### {title}", "", "| " + " | ".join(head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    out.append("")
    for n in notes:
        out.append(f"- {n}")
    if notes:
        out.append("")
    return "\n".join(out)


def mib(b):
    return f"{b / 1048576:.1f} MiB"
