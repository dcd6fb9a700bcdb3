"""bench/fts.py — run by bench/fts.sh: the full-text index's figures."""
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from imapbench import Client  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(os.environ.get("BENCH_IMAP_N", "100000"))
BASE = os.environ.get("FTS_BASE", "")
USER, PW = "imap@bench.test", "bench-pw"
NEEDLES = ["zanzibar", "anzib", "meeting", "quokka"]


def store_pages(d):
    """Pages in use of the whole environment, and per table (main trees)."""
    out = subprocess.run(["mdb_stat", "-ae", os.path.join(d, "store")], check=True,
                         capture_output=True, text=True).stdout
    used = int(re.search(r"Number of pages used: (\d+)", out).group(1))
    tables, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Status of (\w+)", line)
        if m:
            cur = m.group(1)
        m = re.match(r"\s+(Branch|Leaf|Overflow) pages: (\d+)", line)
        if m and cur:
            tables[cur] = tables.get(cur, 0) + int(m.group(2))
    return used, tables


def load(binary, loader, d):
    b = bl.Brev(binary, d, bl.free_port(), USER, PW)
    with open(os.path.join(d, "brev.conf"), "a") as f:
        f.write("log.level = warn\n")
        if os.getuid() == 0:
            f.write("user = nobody\n")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run([loader, d, USER, "", str(N)], check=True)
    took = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    took = (took, cpu)
    if os.getuid() == 0:
        subprocess.run(["chown", "-R", "65534:65534", d], check=True)
    return b, took


def searches(b, reps):
    b.start()
    c = Client(b.imap, USER, PW)
    c.ok("EXAMINE INBOX")
    rows = []
    for needle in NEEDLES:
        walls, hits = [], 0
        for _ in range(reps):
            t0 = time.time()
            r = c.ok(f"UID SEARCH BODY {needle}")
            walls.append(time.time() - t0)
            hits = len(r[0].split()) - 2 if r[0].startswith(b"* SEARCH") else 0
        rows.append((needle, bl.median(walls), hits))
    c.close()
    b.stop()
    return rows


def main():
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    top = tempfile.mkdtemp(prefix="brev-ftsbench.")
    try:
        print(f"# {N:,} messages (bench/load.c), 8 loader threads, store_append + group commit;"
              f" {runs} load(s) each" + (", alternating with and without the index" if BASE else ""))
        loads, bloads, fts, base = [], [], None, None
        for r in range(runs):
            # Only the last store of each kind is kept (2 GB each at 100,000).
            for kind in (("fts", "base") if BASE else ("fts",)):
                d = os.path.join(top, f"{kind}{r}")
                if kind == "fts":
                    if fts:
                        shutil.rmtree(fts.d, ignore_errors=True)
                    fts, took = load(os.path.join(ROOT, "brev"),
                                     os.path.join(ROOT, "build", "bench_load"), d)
                    loads.append(took)
                else:
                    if base:
                        shutil.rmtree(base.d, ignore_errors=True)
                    base, took = load(os.path.join(BASE, "brev"),
                                      os.path.join(ROOT, "build", "bench_load_base"), d)
                    bloads.append(took)
        for name, ls in (("with the index:   ", loads), ("without the index:", bloads)):
            if not ls:
                continue
            rates = [N / t for t, _ in ls]
            cpus = [c * 1000 / N for _, c in ls]
            print(f"load {name} median {bl.median(rates):6.0f} msg/s "
                  f"(runs: {', '.join(f'{x:.0f}' for x in rates)}), "
                  f"CPU median {bl.median(cpus):.2f} ms/msg "
                  f"(runs: {', '.join(f'{x:.2f}' for x in cpus)})")
        used, tables = store_pages(fts.d)
        index = tables.get("ftw", 0) + tables.get("ftb", 0) + tables.get("ftq", 0)
        mail = tables.get("chunk", 0)
        if base:
            bused, _ = store_pages(base.d)
            print(f"store pages used: {used * 4096 / 2**20:.0f} MiB with, "
                  f"{bused * 4096 / 2**20:.0f} MiB without: the index adds "
                  f"{(used - bused) * 4096 / 2**20:.0f} MiB = "
                  f"{(used - bused) / bused * 100:.1f}% of the store without it")
        print(f"index tables (main trees; ftw's duplicate pages count in 'used'): "
              f"{index * 4096 / 2**20:.1f} MiB, mail chunks {mail * 4096 / 2**20:.0f} MiB")
        for needle, wall, hits in searches(fts, 5):
            print(f"UID SEARCH BODY {needle:10s} with the index:    {wall * 1000:8.1f} ms"
                  f"  ({hits} hits, median of 5)")
        if base:
            for needle, wall, hits in searches(base, 1):
                print(f"UID SEARCH BODY {needle:10s} without the index: {wall * 1000:8.1f} ms"
                      f"  ({hits} hits, 1 run)")
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
