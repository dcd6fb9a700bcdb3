"""bench/sieve_delivery.py — what an active Sieve script costs at delivery
(issue 19: "delivery throughput with a script active stays within 10% of
without").

    python3 bench/sieve_delivery.py [BREV] [MESSAGES]

Starts its own `brev serve` (BREV, default ./brev) in a scratch DATADIR on
free loopback ports and sends MESSAGES (default 1,000: the CPU clock ticks in 10 ms) small messages over
SMTP (one connection, one message per transaction) to one account, three
times: with no script, with a 30-rule script whose rules all miss (every
rule is evaluated, then the implicit keep), and with no script again. It
prints brev's CPU time (user+sys of its process tree, from /proc: the stable
figure on a shared machine) and the wall time per message for each round.
Each delivery is a synced commit, so on most disks the wall time is the
fsync, not Sieve. Not part of `make test`: a figure, not a pass/fail.
"""
import os, shutil, smtplib, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

BREV = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./brev")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
USER, PW = "alice@example.test", "pw-bench-1"
RULES = 30
SCRIPT = 'require ["fileinto", "imap4flags"];\n' + "".join(
    'if header :contains "subject" "rule%02d" { fileinto "R%02d"; addflag "\\\\Flagged"; stop; }\n'
    % (i, i) for i in range(RULES))
MSG = ("From: bob@other.test\r\nTo: %s\r\nSubject: nothing matches\r\n"
       "Message-ID: <%%d@other.test>\r\n\r\nhello\r\n" % USER)

d = tempfile.mkdtemp(prefix="brev-sieve-bench.")
ports = [benchlib.free_port() for _ in range(11)]
subprocess.run([BREV, "-d", d, "init", "--domain", "example.test", "--hostname", "localhost"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(os.path.join(d, "brev.conf"), "a") as f:
    names = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http",
             "https", "managesieve"]
    for n, p in zip(names, ports):
        f.write("listen.%s = 127.0.0.1:%d\n" % (n, p))
    f.write("dns.resolver = 127.0.0.1:%d\ndelivery.port = %d\nlog.level = warn\n"
            "spam.greylist_delay = 0\n" % (ports[10], ports[10]))
    if os.getuid() == 0:
        f.write("user = nobody\n")
subprocess.run([BREV, "-d", d, "user", "add", USER], input=PW.encode(), check=True,
               stdout=subprocess.DEVNULL)
srv = subprocess.Popen([BREV, "-d", d, "serve"], stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(d, "serve.log"), "w"))


def sieve(*args, stdin=None):
    subprocess.run([BREV, "-d", d, "sieve"] + list(args), input=stdin, check=True,
                   stdout=subprocess.DEVNULL)


def round_(label, base):
    s = smtplib.SMTP("127.0.0.1", ports[0], timeout=60)
    t0, c0 = time.time(), benchlib.cpu([srv.pid])
    for i in range(N):
        s.sendmail("bob@other.test", [USER], (MSG % (base + i)).encode())
    c, w = benchlib.cpu([srv.pid]) - c0, time.time() - t0
    s.quit()
    print("%-28s cpu %7.1f us/msg   wall %7.2f ms/msg" % (label, c / N * 1e6, w / N * 1e3))
    return c / N


try:
    benchlib.wait_port(ports[0])
    round_("warm-up", 0)
    a = round_("no script", 10000)
    sieve("put", USER, "bench", stdin=SCRIPT.encode())
    sieve("activate", USER, "bench")
    b = round_("%d rules, none matches" % RULES, 20000)
    sieve("activate", USER)
    c = round_("no script again", 30000)
    print("script cost: %+.1f us of brev CPU per message (%+.0f%% of the no-script mean)"
          % ((b - (a + c) / 2) * 1e6, (b / ((a + c) / 2) - 1) * 100))
finally:
    srv.terminate()
    srv.wait()
    shutil.rmtree(d, ignore_errors=True)
