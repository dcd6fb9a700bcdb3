#!/usr/bin/env python3
"""bench/bench.py — brev side by side with Postfix+Dovecot on this machine.

Started by bench/run.sh (`make bench`). Sets up brev and the peers
(bench/peers.sh) in a scratch directory on disk, runs the benchmarks named
on the command line (default: smtp footprint imap), prints a table for
each and writes them all to bench/results/latest.md.

Environment: BENCH_N (SMTP messages per run, default 10000), BENCH_RUNS
(default 3, the median is reported), BENCH_IMAP_N (messages in the IMAP
mailbox, default 100000), BENCH_SECS (mixed-load seconds, default 30),
BENCH_DIR (scratch directory; default a new one under /var/tmp).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
N = int(os.environ.get("BENCH_N", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
FULL_USER, FULL_N = "idle@bench.test", 2000  # footprint: IDLE sessions on a full INBOX
OUT = []


def say(text):
    print(text, flush=True)
    OUT.append(text)


class Peers:
    def __init__(self, d):
        self.d = d
        subprocess.run([os.path.join(HERE, "peers.sh"), "start", d], check=True)
        self.env = {}
        with open(os.path.join(d, "peers.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.env[k] = v
        self.smtp = int(self.env["PF_SMTP"])
        self.imap = int(self.env["DC_IMAP"])

    @property
    def roots(self):
        # The master of each: every worker is a descendant.
        pf = int(open(os.path.join(self.d, "postfix/queue/pid/master.pid")).read().strip())
        return [pf, int(self.env["DC_PID"])]

    @property
    def dovecot(self):
        return [int(self.env["DC_PID"])]

    def stop(self):
        subprocess.run([os.path.join(HERE, "peers.sh"), "stop", self.d])


# ---------------------------------------------------------------- SMTP

def smtp_run(port, roots, imap_port, sessions, n):
    """One run: smtp-source sends n x 4 KiB over `sessions` sessions; the
    clock stops when IMAP STATUS shows all n in the INBOX."""
    im = bl.Imap(imap_port)
    im.empty()
    base = im.count()
    c0, t0 = bl.cpu(roots), time.time()
    cmd = ["smtp-source", "-d", "-s", str(sessions), "-m", str(n), "-l", "4096",
           "-M", "client.bench.test", "-f", "sender@client.bench.test",
           "-t", "bench@bench.test", f"127.0.0.1:{port}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t_acc = time.time() - t0
    deadline = time.time() + max(120, n / 20)
    got = base
    while time.time() < deadline:
        got = im.count()
        if got >= base + n:
            break
        time.sleep(0.02)
    t = time.time() - t0
    c = bl.cpu(roots) - c0
    im.logout()
    if got < base + n:
        raise RuntimeError(f"only {got - base} of {n} messages arrived")
    return n / t, c / n, n / t_acc


def smtp_bench(brev, peers, work):
    ceil1 = bl.fsync_ceiling(work, 2.0, 1)
    ceil8 = bl.fsync_ceiling(work, 2.0, 8)
    rows, res = [], {}
    for sessions in (1, 20):
        for name, port, roots, imap in (("brev", brev.smtp, [brev.pid], brev.imap),
                                        ("Postfix+Dovecot", peers.smtp, peers.roots, peers.imap)):
            runs = [smtp_run(port, roots, imap, sessions, N) for _ in range(RUNS)]
            rate = bl.median([r[0] for r in runs])
            cpu = bl.median([r[1] for r in runs])
            acc = bl.median([r[2] for r in runs])
            res[(name, sessions)] = (rate, cpu)
            print(f"  smtp {name} {sessions} sessions: {rate:.0f} msg/s, "
                  f"{cpu * 1000:.2f} ms CPU/msg (runs: "
                  + ", ".join(f"{r[0]:.0f}" for r in runs) + ")", flush=True)
            rows.append([f"{sessions}", name, f"{rate:,.0f}", f"{acc:,.0f}",
                         f"{cpu * 1000:.2f}"])
    for sessions in (1, 20):
        b, p = res[("brev", sessions)], res[("Postfix+Dovecot", sessions)]
        rows.append([f"{sessions}", "**ratio brev / Postfix+Dovecot**",
                     f"**{b[0] / p[0]:.1f}×**", "", f"**{b[1] / p[1]:.3f}×**"])
    say(bl.table(
        f"SMTP acceptance into the mailbox ({N:,} × 4 KiB, median of {RUNS})",
        ["sessions", "server", "messages/s into mailbox", "messages/s accepted (250)",
         "server CPU ms/message"], rows,
        [f"fsync ceiling on this disk, same run: {ceil1:,.0f} serial fdatasync/s; "
         f"{ceil8:,.0f}/s with 8 concurrent writers (4 KiB appends)",
         "clock: first byte of smtp-source until IMAP STATUS shows all messages in INBOX",
         "CPU: user+sys of the whole server process tree (/proc), including the STATUS polls",
         f"client: `smtp-source -d -s S -m {N} -l 4096 -f sender@client.bench.test "
         "-t bench@bench.test 127.0.0.1:PORT`",
         "aims: 20 sessions ≥ 10× the rate at ≤ 1/10 the CPU; 1 session ≥ 2×"]))


# ---------------------------------------------------------------- footprint

def idle_conns(port, n, user="bench@bench.test", expect=None):
    """n logged-in IMAP connections of user, each with INBOX selected (holding
    `expect` messages, when given) and in IDLE; returns them."""
    conns = []
    for _ in range(n):
        im = bl.Imap(port, user)
        typ, data = im.c.select("INBOX")
        assert typ == "OK", data
        assert expect is None or int(data[0]) == expect, (data, expect)
        tag = im.c._new_tag().decode()
        im.c.send(f"{tag} IDLE\r\n".encode())
        line = im.c.readline()
        assert line.startswith(b"+"), line
        conns.append((im, tag))
    return conns


def idle_done(conns):
    for im, tag in conns:
        try:
            im.c.send(b"DONE\r\n")
            while True:
                line = im.c.readline()
                if not line or line.startswith(tag.encode()):
                    break
            im.logout()
        except Exception:
            pass


def m3(m):
    """bl.mem()'s figures as "RSS (PSS; anonymous)"."""
    return f"{bl.mib(m[0])} ({bl.mib(m[1])}; {bl.mib(m[2])})"


def per_session(after, before, n=50):
    """PSS added per session, in KiB."""
    return f"{(after[1] - before[1]) / n / 1024:,.0f} KiB"


def package_size(pkgs):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Installed-Size}\n"] + pkgs,
                         capture_output=True, text=True).stdout.split()
    return sum(int(x) for x in out) * 1024


def footprint_bench(brev, peers, work):
    rows = []
    # The IDLE sessions below SELECT INBOX: empty it in both, so that the
    # figure is the per-connection cost, not the mailbox's.
    for port in (brev.imap, peers.imap):
        im = bl.Imap(port)
        im.empty()
        im.logout()
    # Start-up: stop, start again, time to the first banner.
    brev.stop()
    t_brev = brev.start()
    peers.stop()
    t0 = time.time()
    p2 = Peers(peers.d)
    bl.first_banner(p2.smtp, 30)
    bl.first_banner(p2.imap, 30)
    t_peers = time.time() - t0
    peers.__dict__.update(p2.__dict__)
    time.sleep(2)  # settle
    b_idle = bl.mem([brev.pid])
    p_idle = bl.mem(peers.roots)
    d_idle = bl.mem(peers.dovecot)
    b_procs, p_procs = bl.nprocs([brev.pid]), bl.nprocs(peers.roots)
    conns = idle_conns(brev.imap, 50)
    time.sleep(1)
    b_50 = bl.mem([brev.pid])
    idle_done(conns)
    conns = idle_conns(peers.imap, 50)
    time.sleep(1)
    d_50 = bl.mem(peers.dovecot)
    p_50 = bl.mem(peers.roots)
    idle_done(conns)
    # The same 50 sessions on an INBOX of FULL_N messages: what each session
    # keeps per message. A user of its own, loaded by bench/load.c like the
    # IMAP benchmark's mailbox; one untimed SELECT first (Dovecot builds its
    # index then), so the 50 sessions find both servers warm.
    bl.add_user(brev, peers.d, FULL_USER, "bench-pw")
    _, maildir = bl.load_mailbox(brev, peers.env["DC_MAIL"], FULL_USER, FULL_N)
    full_size = sum(os.path.getsize(os.path.join(maildir, "cur", f))
                    for f in os.listdir(os.path.join(maildir, "cur")))
    for port in (brev.imap, peers.imap):
        im = bl.Imap(port, FULL_USER)
        im.c.select("INBOX")
        im.c.uid("FETCH", "1:*", "(FLAGS)")
        im.logout()
    time.sleep(1)
    b_full0 = bl.mem([brev.pid])
    conns = idle_conns(brev.imap, 50, FULL_USER, FULL_N)
    time.sleep(1)
    b_full = bl.mem([brev.pid])
    idle_done(conns)
    d_full0 = bl.mem(peers.dovecot)
    conns = idle_conns(peers.imap, 50, FULL_USER, FULL_N)
    time.sleep(1)
    d_full = bl.mem(peers.dovecot)
    p_full = bl.mem(peers.roots)
    idle_done(conns)
    print(f"  footprint 50 IDLE on {FULL_N} messages: brev {m3(b_full)}, before {m3(b_full0)}; "
          f"dovecot {m3(d_full)}, before {m3(d_full0)}", flush=True)
    bsize = os.path.getsize(brev.bin)
    psize = package_size(["postfix", "dovecot-core", "dovecot-imapd", "dovecot-lmtpd"])
    rows.append(["binary / installed size", f"{bsize / 1048576:.1f} MiB (static, one file)",
                 f"{psize / 1048576:.1f} MiB (postfix, dovecot-core, -imapd, -lmtpd; "
                 "without their shared libraries)"])
    rows.append(["processes idle", b_procs, p_procs])
    rows.append(["RSS idle (PSS)", f"{bl.mib(b_idle[0])} ({bl.mib(b_idle[1])})",
                 f"{bl.mib(p_idle[0])} ({bl.mib(p_idle[1])}); Dovecot alone "
                 f"{bl.mib(d_idle[0])} ({bl.mib(d_idle[1])})"])
    rows.append(["RSS with 50 IMAP clients in IDLE, empty INBOX (PSS; anonymous)", m3(b_50),
                 f"{m3(p_50)}; Dovecot alone {m3(d_50)}"])
    rows.append([f"RSS with 50 IMAP clients in IDLE, {FULL_N:,}-message INBOX "
                 "(PSS; anonymous)", m3(b_full), f"{m3(p_full)}; Dovecot alone {m3(d_full)}"])
    rows.append(["start-up to first SMTP banner", f"{t_brev * 1000:.0f} ms",
                 f"{t_peers * 1000:.0f} ms (both started, SMTP and IMAP banners)"])
    say(bl.table("Footprint", ["", "brev", "Postfix+Dovecot"], rows,
                 ["RSS and PSS summed over every process of the server (smaps_rollup); "
                  "the 50 clients are logged in, have SELECTed an empty INBOX and sent IDLE",
                  f"the same on an INBOX of {FULL_N:,} messages "
                  f"({full_size / 1048576:.0f} MiB, bench/load.c's mix; one user, 50 sessions): "
                  "what a session keeps per message; anonymous = RSS less mapped files "
                  "(brev's LMDB map, Dovecot's index files, binaries and libraries)",
                  "PSS added per session (the server's PSS with the 50 sessions, less its "
                  "PSS just before they logged in, / 50): empty INBOX brev "
                  f"{per_session(b_50, b_idle)}, Dovecot {per_session(d_50, d_idle)}; "
                  f"{FULL_N:,} messages brev {per_session(b_full, b_full0)}, Dovecot "
                  f"{per_session(d_full, d_full0)}",
                  "aims: brev idle RSS ≤ 4 MiB; 50 IDLE connections ≤ 12 MiB"]))


# ---------------------------------------------------------------- main

def main():
    which = sys.argv[1:] or ["smtp", "footprint", "imap"]
    work = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="brev-bench.", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)  # Postfix and Dovecot workers run as their own users
    binary = os.path.join(ROOT, "brev")
    say(f"## brev benchmarks — {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
    say(f"- machine: {os.cpu_count()} CPUs, "
        f"{open('/proc/meminfo').readline().split()[1]} kB RAM; scratch directory {work}")
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    say(f"- brev {rev} (`{binary}`); peers: Debian's postfix "
        + subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "postfix"],
                         capture_output=True, text=True).stdout
        + ", dovecot " + subprocess.run(["dovecot", "--version"], capture_output=True,
                                        text=True).stdout.strip())
    say(f"- command: `make bench` (bench/run.sh {' '.join(which)}); "
        f"BENCH_N={N} BENCH_RUNS={RUNS}\n")
    peers = brev = None
    try:
        peers = Peers(os.path.join(work, "peers"))
        brev = bl.Brev(binary, os.path.join(work, "brev"), int(peers.env["DNS_PORT"]))
        brev.start()
        for w in which:
            if w == "smtp":
                smtp_bench(brev, peers, work)
            elif w == "footprint":
                footprint_bench(brev, peers, work)
            elif w == "imap":
                import imapbench
                say(imapbench.run(brev, peers, work))
            else:
                raise SystemExit(f"unknown benchmark {w}")
    finally:
        if brev:
            brev.stop()
        if peers:
            peers.stop()
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", "latest.md"), "w") as f:
            f.write("\n".join(OUT) + "\n")
        if not os.environ.get("BENCH_KEEP") and not os.environ.get("BENCH_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten to {os.path.join(HERE, 'results', 'latest.md')}")


if __name__ == "__main__":
    main()
