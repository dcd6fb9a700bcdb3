"""bench/imapbench.py — the IMAP benchmarks, brev vs Dovecot, same run.

A generated mailbox of BENCH_IMAP_N (default 100,000) messages with
realistic sizes and MIME shapes (bench/load.c: the same bytes into brev's
store and Dovecot's Maildir), then single commands (SELECT, UID FETCH 1:*
(FLAGS), FETCH ENVELOPE+BODYSTRUCTURE of 1,000, UID SEARCH on a header and
on body text, SORT by DATE and by SUBJECT and THREAD REFERENCES of the whole
mailbox, APPEND of 1,000), logins at equal password-hash cost, and a
mixed load of 10 and 50 clients for BENCH_SECS (default 30) seconds, on
that mailbox and on a small one (SMALL_N = 2,000 messages, a user of its
own).

Clients are a small raw-socket IMAP client (not imaplib), spread over
several processes so that the client is not what limits the rate. CPU is
the server's (whole process tree, /proc), divided by commands.
"""
import multiprocessing as mp
import os
import random
import socket
import time

import benchlib as bl

IMAP_N = int(os.environ.get("BENCH_IMAP_N", "100000"))
SECS = float(os.environ.get("BENCH_SECS", "30"))
USER, PW = "imap@bench.test", "bench-pw"
SMALL_USER, SMALL_N = "mix@bench.test", 2000  # mixed load on a small INBOX too


class Client:
    """Minimal IMAP client: one command at a time, literals understood."""

    def __init__(self, port, user=USER, pw=PW):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.f = self.s.makefile("rb", buffering=65536)
        self.n = 0
        self.f.readline()
        r = self.cmd(f'LOGIN "{user}" "{pw}"')
        assert r[-1].split()[1] == b"OK", r[-1]

    def cmd(self, text, lit=None):
        """Send one command; returns the response lines (tagged last)."""
        self.n += 1
        tag = b"b%d" % self.n
        if lit is not None:
            self.s.sendall(tag + b" " + text.encode() + b" {%d+}\r\n" % len(lit) + lit + b"\r\n")
        else:
            self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        out = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("closed")
            while line.endswith(b"}\r\n") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-3])
                line = line + self.f.read(n) + self.f.readline()
            out.append(line)
            if line.startswith(tag + b" "):
                return out

    def ok(self, text, lit=None):
        r = self.cmd(text, lit)
        if r[-1].split()[1] != b"OK":
            raise RuntimeError(f"{text[:60]}: {r[-1][:200]!r}")
        return r

    def close(self):
        try:
            self.cmd("LOGOUT")
        except Exception:
            pass
        self.s.close()


def small_msg(i, to=USER):
    body = ("appended message body line, %d\r\n" % i) * 120
    return (f"From: a@example.net\r\nTo: {to}\r\nSubject: appended {i}\r\n"
            f"Message-ID: <app.{i}.{random.random()}@example.net>\r\n\r\n{body}").encode()


# ---------------------------------------------------------------- set-up

def setup(brev, peers):
    bl.add_user(brev, peers.d, USER, PW)
    took, maildir = bl.load_mailbox(brev, peers.env["DC_MAIL"], USER, IMAP_N)
    size = sum(os.path.getsize(os.path.join(maildir, "cur", f))
               for f in os.listdir(os.path.join(maildir, "cur")))
    # The small mailbox of the mixed load: a user of its own.
    bl.add_user(brev, peers.d, SMALL_USER, PW)
    bl.load_mailbox(brev, peers.env["DC_MAIL"], SMALL_USER, SMALL_N)
    # Warm both: Dovecot builds its index on first SELECT (not timed).
    for port in (brev.imap, peers.imap):
        for user in (USER, SMALL_USER):
            c = Client(port, user)
            c.ok("SELECT INBOX")
            c.ok("UID FETCH 1:* (FLAGS)")
            c.close()
    return took, size


# ---------------------------------------------------------------- single commands

def timed(port, roots, fn, reps):
    """fn(client, rep) -> number of commands; median seconds per rep and CPU."""
    c = Client(port)
    walls, cpus, ncmd = [], [], 0
    for r in range(reps):
        c0, t0 = bl.cpu(roots), time.time()
        ncmd = fn(c, r)
        walls.append(time.time() - t0)
        cpus.append(bl.cpu(roots) - c0)
    c.close()
    return bl.median(walls), bl.median(cpus), ncmd


def singles(brev, peers):
    tests = [
        ("SELECT INBOX", 5, lambda c, r: (c.ok("SELECT INBOX"), 1)[1]),
        ("UID FETCH 1:* (FLAGS)", 3, lambda c, r: (c.ok("SELECT INBOX"),
                                                    c.ok("UID FETCH 1:* (FLAGS)"), 1)[2]),
        ("FETCH 1,000 × (ENVELOPE BODYSTRUCTURE)", 3,
         lambda c, r: (c.ok("EXAMINE INBOX"),
                       c.ok(f"FETCH {r * (IMAP_N // 4) + 1}:{r * (IMAP_N // 4) + 1000} "
                            "(ENVELOPE BODYSTRUCTURE)"),
                       1)[2]),
        ("UID SEARCH SUBJECT invoice (header)", 3,
         lambda c, r: (c.ok("EXAMINE INBOX"), c.ok("UID SEARCH SUBJECT invoice"), 1)[2]),
        ("UID SEARCH BODY zanzibar (body text)", 1,
         lambda c, r: (c.ok("EXAMINE INBOX"), c.ok("UID SEARCH BODY zanzibar"), 1)[2]),
        ("SORT (DATE) of the whole INBOX", 3,
         lambda c, r: (c.ok("EXAMINE INBOX"), c.ok("SORT (DATE) UTF-8 ALL"), 1)[2]),
        ("SORT (SUBJECT) of the whole INBOX", 3,
         lambda c, r: (c.ok("EXAMINE INBOX"), c.ok("SORT (SUBJECT) UTF-8 ALL"), 1)[2]),
        ("THREAD REFERENCES of the whole INBOX", 1,
         lambda c, r: (c.ok("EXAMINE INBOX"), c.ok("THREAD REFERENCES UTF-8 ALL"), 1)[2]),
        ("APPEND × 1,000 (4 KiB, one client)", 1,
         lambda c, r: sum(1 for i in range(1000) if c.ok("APPEND INBOX", small_msg(i)))),
    ]
    rows = []
    for name, reps, fn in tests:
        b = timed(brev.imap, [brev.pid], fn, reps)
        d = timed(peers.imap, peers.dovecot, fn, reps)
        print(f"  imap {name}: brev {b[0]:.3f}s {b[1]:.3f}s CPU; dovecot {d[0]:.3f}s "
              f"{d[1]:.3f}s CPU", flush=True)
        if name.startswith("APPEND"):
            rows.append([name, f"{b[2] / b[0]:,.0f}/s, {b[1] / b[2] * 1000:.2f} ms CPU each",
                         f"{d[2] / d[0]:,.0f}/s, {d[1] / d[2] * 1000:.2f} ms CPU each",
                         f"**{(b[2] / b[0]) / (d[2] / d[0]):.1f}×**"])
        else:
            rows.append([name, f"{b[0] * 1000:,.1f} ms ({b[1] * 1000:,.0f} ms CPU)",
                         f"{d[0] * 1000:,.1f} ms ({d[1] * 1000:,.0f} ms CPU)",
                         f"**{d[0] / b[0]:.1f}×**" if b[0] > 0 else ""])
    return rows


def logins(brev, peers, n=100):
    """n sequential LOGIN/LOGOUT; seconds and CPU per login. Both servers
    hold a yescrypt hash of the same cost for USER (bench/yescrypt.c), so
    each login verifies one such hash; first, both must refuse a wrong
    password, which shows the hash is what is checked."""
    for port in (brev.imap, peers.imap):
        if not bl.login_refused(port, USER, PW + "-wrong"):
            raise RuntimeError(f"port {port} accepted a wrong password")
    out = []
    for port, roots in ((brev.imap, [brev.pid]), (peers.imap, peers.dovecot)):
        c0, t0 = bl.cpu(roots), time.time()
        for _ in range(n):
            Client(port).close()
        out.append(((time.time() - t0) / n, (bl.cpu(roots) - c0) / n))
    return out


# ---------------------------------------------------------------- mixed load

def mixed_client(port, user, n, secs, seed, q):
    """One client's session mix on user's INBOX of n messages until secs are
    over; puts (op, latency) list."""
    rnd = random.Random(seed)
    lat = []
    mine = []
    try:
        c = Client(port, user)
        c.ok("SELECT INBOX")
        end = time.time() + secs
        while time.time() < end:
            x = rnd.random()
            t0 = time.perf_counter()
            if x < 0.10:
                op = "select"
                c.ok("SELECT INBOX")
            elif x < 0.40:
                op = "fetch-headers"
                u = rnd.randint(1, n - 20)
                c.ok(f"UID FETCH {u}:{u + 19} (UID FLAGS RFC822.SIZE ENVELOPE)")
            elif x < 0.60:
                op = "fetch-body"
                c.ok(f"UID FETCH {rnd.randint(1, n)} (BODY.PEEK[])")
            elif x < 0.75:
                op = "store"
                c.ok(f"UID STORE {rnd.randint(1, n)} {rnd.choice('+-')}FLAGS.SILENT (\\Flagged)")
            elif x < 0.85:
                op = "append"
                r = c.ok("APPEND INBOX", small_msg(rnd.randint(0, 1 << 30), user))
                t = r[-1]
                if b"APPENDUID" in t:
                    mine.append(int(t.split(b"APPENDUID")[1].split()[1].rstrip(b"]")))
            elif x < 0.95:
                op = "idle"
                c.n += 1
                tag = b"b%d" % c.n
                c.s.sendall(tag + b" IDLE\r\n")
                line = c.f.readline()
                while line and not line.startswith(b"+"):  # pending untagged first
                    assert line.startswith(b"*"), line
                    line = c.f.readline()
                c.s.sendall(b"DONE\r\n")
                while not c.f.readline().startswith(tag):
                    pass
            else:
                op = "expunge"
                if mine:
                    u = mine.pop()
                    c.ok(f"UID STORE {u} +FLAGS.SILENT (\\Deleted)")
                    c.ok(f"UID EXPUNGE {u}")
                else:
                    c.ok("NOOP")
            lat.append((op, time.perf_counter() - t0))
        c.close()
    except Exception as e:  # report, do not hang the run
        lat.append(("error", repr(e)))
    q.put(lat)


def mixed(port, roots, clients, secs, user=USER, n=IMAP_N):
    q = mp.Queue()
    procs = [mp.Process(target=mixed_client,
                        args=(port, user, n, secs, i * 7919 + clients, q))
             for i in range(clients)]
    c0, t0 = bl.cpu(roots), time.time()
    for p in procs:
        p.start()
    res = [q.get(timeout=secs + 600) for _ in procs]
    wall = time.time() - t0
    c = bl.cpu(roots) - c0
    for p in procs:
        p.join()
    lats = [x for r in res for x in r if x[0] != "error"]
    errs = [x for r in res for x in r if x[0] == "error"]
    if errs:
        print(f"  mixed: {len(errs)} client errors, first: {errs[0][1]}", flush=True)
    ls = [x[1] for x in lats]
    return {"ops": len(lats) / wall, "cpu": c / max(1, len(lats)), "p50": bl.pct(ls, 50),
            "p95": bl.pct(ls, 95), "p99": bl.pct(ls, 99), "n": len(lats), "errors": len(errs)}


def run(brev, peers, work):
    took, size = setup(brev, peers)
    rows = singles(brev, peers)
    lb, ld = logins(brev, peers)
    print(f"  imap LOGIN+LOGOUT: brev {lb[0] * 1000:.1f} ms {lb[1] * 1000:.1f} ms CPU; "
          f"dovecot {ld[0] * 1000:.1f} ms {ld[1] * 1000:.1f} ms CPU", flush=True)
    rows.append(["LOGIN+LOGOUT × 100, one after another (yescrypt hash, same cost in both)",
                 f"{lb[0] * 1000:.1f} ms ({lb[1] * 1000:.1f} ms CPU) per login",
                 f"{ld[0] * 1000:.1f} ms ({ld[1] * 1000:.1f} ms CPU) per login",
                 f"**{ld[0] / lb[0]:.1f}×**" if lb[0] > 0 else ""])
    mrows = []
    for user, n in ((SMALL_USER, SMALL_N), (USER, IMAP_N)):
        for clients in (10, 50):
            b = mixed(brev.imap, [brev.pid], clients, SECS, user, n)
            d = mixed(peers.imap, peers.dovecot, clients, SECS, user, n)
            print(f"  imap mixed {n} messages, {clients} clients: brev {b['ops']:.0f} "
                  f"ops/s {b['cpu'] * 1000:.2f} ms CPU; dovecot {d['ops']:.0f} ops/s "
                  f"{d['cpu'] * 1000:.2f} ms CPU", flush=True)
            for name, r in (("brev", b), ("Dovecot", d)):
                mrows.append([f"{n:,}", clients, name, f"{r['ops']:,.0f}",
                              f"{r['cpu'] * 1000:.2f}",
                              f"{r['p50'] * 1000:.1f} / {r['p95'] * 1000:.1f} / "
                              f"{r['p99'] * 1000:.1f}", r["errors"]])
            mrows.append([f"{n:,}", clients, "**ratio brev / Dovecot**",
                          f"**{b['ops'] / d['ops']:.1f}×**", f"**{b['cpu'] / d['cpu']:.2f}×**",
                          "", ""])
    out = [bl.table(
        f"IMAP single commands on a {IMAP_N:,}-message mailbox ({size / 1048576:,.0f} MiB)",
        ["command", "brev: time (server CPU)", "Dovecot: time (server CPU)",
         "brev faster by"], rows,
        [f"mailbox generated by bench/load.c (55% text/plain, 25% multipart/alternative, "
         f"15% with a base64 attachment, 5% short); loaded into both in {took:.0f} s",
         "median of the repetitions (SELECT 5, FETCH/SEARCH/SORT 3, body SEARCH, THREAD and APPEND 1); "
         "Dovecot's index was built by an untimed SELECT first (Maildir, stock settings "
         "plus maildir_very_dirty_syncs = yes, see bench/README.md)",
         "LOGIN+LOGOUT: equal password-hash cost; both hold a yescrypt hash made with "
         "libxcrypt's default cost (crypt_gensalt \"$y$\", count 0: `$y$j9T$`), brev in its "
         "account, Dovecot as {CRYPT} in its passwd-file (verified by crypt(3)); both refused "
         "a wrong password first; Dovecot's CPU is its whole tree (login, auth, imap)"]),
        bl.table(f"IMAP mixed load ({SECS:.0f} s per run)",
                 ["INBOX messages", "clients", "server", "commands/s",
                  "server CPU ms/command",
                  "latency p50 / p95 / p99 ms", "client errors"], mrows,
                 ["mix per client: 10% SELECT, 30% UID FETCH 20 × (FLAGS RFC822.SIZE "
                  "ENVELOPE), 20% FETCH BODY.PEEK[] of one message, 15% STORE ±\\Flagged, "
                  "10% APPEND 4 KiB, 10% IDLE+DONE, 5% STORE \\Deleted + UID EXPUNGE of its "
                  "own appended message; the 2,000-message INBOX is a user of its own "
                  f"({SMALL_USER}, bench/load.c's mix), the other the {IMAP_N:,}-message one "
                  "above",
                  "Dovecot: Maildir with maildir_very_dirty_syncs = yes (bench/README.md: "
                  "without it each sync re-reads cur/, and its cost grows with the mailbox)",
                  "aims: ≥ 3× Dovecot's commands/s at ≤ 1/3 of its CPU per command; "
                  "APPEND ≥ 10×"])]
    return "\n".join(out)
