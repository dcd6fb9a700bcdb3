#!/usr/bin/env python3
"""t-76: reduce Pigeonhole's sieve-test reports and brev's `brev sieve test`
output to one normal form and compare them, pair by pair.

Usage: compare.py DIR   where DIR holds, for every pair NAME, NAME.ph
(sieve-test's report, stdout and stderr), NAME.phx (the same run with -e,
for vacation scripts only) and NAME.br (brev's output, or the line
"compile-error"). Prints each difference; exit 1 if any.

The normal form: one action per line, sorted, duplicates merged; "store
MAILBOX[ flags: f1 f2]" with flags lower-cased (Pigeonhole lower-cases
system flags) and sorted; "redirect ADDRESS" (:copy shows as the implicit
keep's store line on both sides); "reject TEXT"; "vacation seconds=N";
"discard" when nothing else happens; "compile-error".
"""
import os
import re
import sys


def norm_lines(lines):
    return "\n".join(sorted(set(lines))) if lines else "discard"


def flags_str(flags):
    return " ".join(sorted(set(f.lower() for f in flags)))


def norm_pigeonhole(text, executed):
    if "failed to compile" in text:
        return "compile-error"
    # A run-time failure is resolved with the implicit keep (RFC 5228 2.10.6).
    if "final result: failed" in text:
        return "store INBOX"
    out = []
    cur = None
    for line in text.splitlines():
        m = re.match(r"\s*\* store message in folder: (.*)$", line)
        if m:
            cur = ["store " + m.group(1), []]
            out.append(cur)
            continue
        m = re.match(r"\s*\+ add IMAP flags: (.*)$", line)
        if m and cur:
            cur[1] += m.group(1).split()
            continue
        if re.match(r"\s*\+ ", line):
            continue
        cur = None
        m = re.match(r"\s*\* redirect message to: <(.*)>$", line)
        if m:
            out.append(["redirect " + m.group(1), []])
            continue
        m = re.match(r"\s*\* reject message with reason: (.*)$", line)
        if m:
            out.append(["reject " + m.group(1), []])
            continue
        m = re.match(r"\s*=> seconds : (\d+)$", line)
        if m:
            out.append(["vacation seconds=" + m.group(1), []])
    # Without -e sieve-test lists a vacation action without the RFC 5230
    # 4.5 checks; with -e it applies them and logs when it drops the reply.
    if executed is not None and "discarding vacation response" in executed:
        out = [a for a in out if not a[0].startswith("vacation")]
    return norm_lines([a + (" flags: " + flags_str(f) if f else "") for a, f in out])


def norm_brev(text):
    if text.strip() == "compile-error":
        return "compile-error"
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("duplicate-record ") or line == "discard":
            continue
        m = re.match(r"(store \S.*?) flags: (.*)$", line)
        if m:
            line = m.group(1) + " flags: " + flags_str(m.group(2).split())
        m = re.match(r"redirect (\S+)( copy)?$", line)
        if m:
            line = "redirect " + m.group(1)
        m = re.match(r"vacation to=\S* seconds=(\d+) ", line)
        if m:
            line = "vacation seconds=" + m.group(1)
        lines.append(line)
    return norm_lines(lines)


def main():
    d = sys.argv[1]
    names = sorted(f[:-3] for f in os.listdir(d) if f.endswith(".br"))
    bad = 0
    for n in names:
        ph = open(os.path.join(d, n + ".ph"), errors="replace").read()
        phx_path = os.path.join(d, n + ".phx")
        phx = open(phx_path, errors="replace").read() if os.path.exists(phx_path) else None
        if phx is not None and "vacation" in ph and "discarding vacation response" not in phx \
                and "sent vacation response" not in phx and "final result: failed" not in ph:
            print("DIFF %s: sieve-test -e neither sent nor discarded the vacation reply" % n)
            bad += 1
            continue
        a = norm_pigeonhole(ph, phx)
        b = norm_brev(open(os.path.join(d, n + ".br"), errors="replace").read())
        if a != b:
            bad += 1
            print("DIFF %s\n  pigeonhole: %s\n  brev:       %s" % (n, a.replace("\n", " | "), b.replace("\n", " | ")))
    print("# %d script x message pairs compared, %d differ" % (len(names), bad))
    sys.exit(1 if bad or len(names) < 150 else 0)


main()
