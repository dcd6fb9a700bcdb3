#!/bin/bash
# bench/import.sh — `brev import` speed and memory (issue 17): BENCH_IMPORT_N
# (50,000) generated messages of about 2 KiB, once as one mbox file and once
# as a Maildir, each imported into a fresh account of a scratch DATADIR by
# the release ./brev under /usr/bin/time -v; then the same mbox import
# again (everything skipped as already there: the resume cost). Prints
# messages/s and peak RSS per run. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_IMPORT_N:-50000}
BREV=${BREV:-./brev}
[ -x /usr/bin/time ] || { echo "bench/import.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
W=$(mktemp -d /var/tmp/brev-bench-import.XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 - "$W" "$N" <<'PY'
import os, sys
w, n = sys.argv[1], int(sys.argv[2])
md = os.path.join(w, "md")
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d))
with open(os.path.join(w, "gen.mbox"), "wb") as f:
    for i in range(n):
        m = (b"From: gen@example.test\nTo: bench@example.test\nSubject: bench %d\n"
             b"Message-ID: <b%d@example.test>\n\n" % (i, i) +
             b"line %d of a generated message body, some words to fill it\n" % i * 30)
        f.write(b"From gen@example.test Mon Dec  7 10:00:00 2026\n" + m + b"\n")
        open(os.path.join(md, "cur", "%d.M%d.bench:2,S" % (1767000000 + i, i)), "wb").write(m)
PY
"$BREV" -d "$W/d" init --domain example.test >/dev/null 2>&1
for u in mbox maildir; do printf 'bench-pass-1\n' | "$BREV" -d "$W/d" user add "$u@example.test" >/dev/null; done
run() {
	local label=$1
	shift
	/usr/bin/time -v "$BREV" -d "$W/d" import "$@" >"$W/out" 2>"$W/time" || { cat "$W/out" "$W/time"; exit 1; }
	local secs rss
	secs=$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$W/time")
	rss=$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$W/time")
	awk -v l="$label" -v n="$N" -v s="$secs" -v r="$rss" -v o="$(tail -1 "$W/out")" \
		'BEGIN {printf "%-28s %8d msg in %6.2f s = %7.0f msg/s, peak RSS %4d MiB  (%s)\n", l, n, s, n / s, r, o}'
}
echo "brev import, $N messages ($(du -h "$W/gen.mbox" | cut -f1) mbox), $(nproc) CPUs"
run "mbox" mbox@example.test "$W/gen.mbox"
run "Maildir" maildir@example.test "$W/md"
run "mbox again (all skipped)" mbox@example.test "$W/gen.mbox"
