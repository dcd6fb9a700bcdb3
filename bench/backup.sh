#!/bin/bash
# bench/backup.sh — backup, restore and verify times of a store of
# BENCH_BACKUP_N (100,000) generated 2 KiB messages (issue 17), with the
# release ./brev under /usr/bin/time -v: the store is filled by
# `brev import` of one generated mbox, then `brev backup FILE`, `brev
# backup --encrypt`, `brev restore` of each into a new DATADIR and `brev
# verify` of the result. Prints seconds, MB/s of the archive and peak RSS.
# Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_BACKUP_N:-100000}
BREV=${BREV:-./brev}
[ -x /usr/bin/time ] || { echo "bench/backup.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
W=$(mktemp -d /var/tmp/brev-bench-backup.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
python3 - "$W/gen.mbox" "$N" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(b"From gen@example.test Mon Dec  7 10:00:00 2026\nFrom: gen@example.test\n"
                b"To: bench@example.test\nSubject: bench %d\nMessage-ID: <b%d@example.test>\n\n" % (i, i) +
                b"line %d of a generated message body, some words to fill it\n" % i * 30 + b"\n")
PY
"$BREV" -d "$W/d" init --domain example.test >/dev/null 2>&1
printf 'bench-pass-1\n' | "$BREV" -d "$W/d" user add bench@example.test >/dev/null
"$BREV" -d "$W/d" import bench@example.test "$W/gen.mbox" >/dev/null 2>&1
printf 'a bench passphrase\n' >"$W/pass"
row() { # LABEL [ARCHIVE]
	local secs rss mb=""
	secs=$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$W/time")
	rss=$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$W/time")
	[ -n "${2:-}" ] && mb=$(stat -c %s "$2")
	awk -v l="$1" -v s="$secs" -v r="$rss" -v b="$mb" 'BEGIN {
		if (b != "") printf "%-24s %7.2f s  %7.1f MB  %6.1f MB/s  peak RSS %4d MiB\n", l, s, b / 1e6, b / 1e6 / s, r
		else printf "%-24s %7.2f s  %30s peak RSS %4d MiB\n", l, s, "", r }'
}
t() { /usr/bin/time -v "$@" >"$W/out" 2>"$W/time" || { cat "$W/out" "$W/time"; exit 1; }; }
echo "brev backup/restore/verify, a store of $N messages ($(du -sh "$W/d/store" | cut -f1)), $(nproc) CPUs"
t "$BREV" -d "$W/d" backup "$W/b.tar";                       row "backup" "$W/b.tar"
t "$BREV" -d "$W/d" backup "$W/b.enc" --encrypt --passphrase-file "$W/pass"; row "backup --encrypt" "$W/b.enc"
t "$BREV" restore "$W/b.tar" "$W/r1";                        row "restore" "$W/b.tar"
t "$BREV" restore "$W/b.enc" "$W/r2" --passphrase-file "$W/pass"; row "restore (encrypted)" "$W/b.enc"
t "$BREV" verify "$W/r1";                                    row "verify (restored)"
t "$BREV" verify --backup "$W/b.tar";                        row "verify --backup" "$W/b.tar"
