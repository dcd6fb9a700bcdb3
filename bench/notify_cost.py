"""bench/notify_cost.py — what a NOTIFY session watching PERSONAL costs on an
account with many mailboxes (issue 18).

    python3 bench/notify_cost.py [BREV] [MAILBOXES] [APPENDS]

Starts its own `brev serve` (BREV, default ./brev) in a scratch DATADIR on
free loopback ports, gives one account MAILBOXES mailboxes (default 1,000,
the CREATE limit), then APPENDs APPENDS (default 300) small messages to one
of them from a second session, twice: once with nobody watching, once with
a session that said `NOTIFY SET (personal (MessageNew MessageExpunge
FlagChange MailboxName SubscriptionChange))` and reads its STATUS lines on
a thread. Every APPEND is a commit that wakes the watcher, which then reads
the account's mailbox records once and compares them with what it told the
client (imap_notify.c). The difference in brev's CPU time (user+sys, from
/proc), divided by the APPENDs, is the cost of one wake-up of one watching
session. Not part of `make test`: a figure, not a pass/fail.
"""
import imaplib, os, shutil, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

BREV = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./brev")
NMBOX = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
K = int(sys.argv[3]) if len(sys.argv) > 3 else 300
USER, PW = "alice@example.test", "pw-bench"
MSG = b"From: a@example.test\r\nSubject: x\r\n\r\nhello\r\n"

d = tempfile.mkdtemp(prefix="brev-notify-bench.")
ports = [benchlib.free_port() for _ in range(9)]
subprocess.run([BREV, "-d", d, "init", "--domain", "example.test", "--hostname", "localhost"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(os.path.join(d, "brev.conf"), "a") as f:
    names = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"]
    for n, p in zip(names, ports):
        f.write("listen.%s = 127.0.0.1:%d\n" % (n, p))
    f.write("dns.resolver = 127.0.0.1:%d\ndelivery.port = %d\nlog.level = warn\n"
            % (ports[7], ports[7]))
    if os.getuid() == 0:
        f.write("user = nobody\n")
subprocess.run([BREV, "-d", d, "user", "add", USER], input=PW.encode(), check=True,
               stdout=subprocess.DEVNULL)
srv = subprocess.Popen([BREV, "-d", d, "serve"], stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(d, "serve.log"), "w"))
P_IMAP = ports[3]
try:
    benchlib.wait_port(P_IMAP)
    m = imaplib.IMAP4("127.0.0.1", P_IMAP)
    m.login(USER, PW)
    typ, have = m.list()
    for i in range(NMBOX - 1 - len(have)):
        m.create("box%04d" % i)
    typ, _ = m.create("target")  # what every APPEND goes to
    assert typ == "OK"
    typ, have = m.list()
    print("mailboxes in the account: %d" % len(have))


    def appends():
        t0 = time.time()
        c0 = benchlib.cpu([srv.pid])
        for i in range(K):
            m.append("target", None, None, MSG)
        return benchlib.cpu([srv.pid]) - c0, time.time() - t0

    appends()  # warm up
    base_cpu, base_wall = appends()

    w = socket.create_connection(("127.0.0.1", P_IMAP))
    f = w.makefile("rb")
    f.readline()
    w.sendall(b'a LOGIN "%s" "%s"\r\n' % (USER.encode(), PW.encode()))
    while not f.readline().startswith(b"a "):
        pass
    t0 = time.time()
    w.sendall(b"b NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange "
              b"MailboxName SubscriptionChange))\r\n")
    nstatus = 0
    while True:
        ln = f.readline()
        if ln.startswith(b"b "):
            break
        nstatus += 1
    set_ms = (time.time() - t0) * 1000
    seen = []

    def reader():
        for ln in f:
            if ln.startswith(b"* STATUS"):
                seen.append(ln)

    threading.Thread(target=reader, daemon=True).start()
    watch_cpu, watch_wall = appends()
    time.sleep(1)
    print("NOTIFY SET STATUS: %d STATUS lines in %.1f ms" % (nstatus, set_ms))
    print("%d APPENDs, nobody watching: brev CPU %.3f s (%.2f ms each), %.1f s wall"
          % (K, base_cpu, base_cpu * 1000 / K, base_wall))
    print("%d APPENDs, one session watching PERSONAL: brev CPU %.3f s (%.2f ms each), %.1f s wall,"
          " %d STATUS lines received" % (K, watch_cpu, watch_cpu * 1000 / K, watch_wall, len(seen)))
    print("cost of one wake-up of one watching session with %d mailboxes: %.3f ms CPU"
          % (len(have), (watch_cpu - base_cpu) * 1000 / K))
    w.close()
    m.logout()
finally:
    srv.terminate()
    srv.wait()
    shutil.rmtree(d, ignore_errors=True)
