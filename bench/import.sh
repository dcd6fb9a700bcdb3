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
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
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

# Dovecot beside it, in the same run (issue 17): `doveadm import` of the
# same mbox and Maildir into a Maildir store of a private configuration
# (no server running: doveadm works on the storage directly, as user
# nobody, so it gets its own copies of the sources, where it also writes
# its index files), under the same /usr/bin/time -v. Needs root (mail_uid);
# skipped with a line when doveadm is missing.
if ! command -v doveadm >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "no doveadm (apt-get install dovecot-core) or not root: no Dovecot figures"
	exit 0
fi
DV=$W/dovecot
mkdir -p "$DV/run" "$DV/mail" "$DV/src/mboxdir"
cp -r "$W/md" "$DV/src/md"
cp "$W/gen.mbox" "$DV/src/gen.mbox"
chown -R 65534:65534 "$DV/mail" "$DV/src"
chmod 755 "$W" "$DV"
cat >"$DV/dovecot.conf" <<CONF
base_dir = $DV/run
state_dir = $DV/run
mail_location = maildir:$DV/mail/%u
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 1
ssl = no
log_path = $DV/dovecot.log
CONF
drun() {
	local label=$1 user=$2 src=$3
	sed -i "s|^mail_location = .*|mail_location = maildir:$DV/mail/$user|" "$DV/dovecot.conf"
	USER=root HOME=$DV /usr/bin/time -v doveadm -c "$DV/dovecot.conf" import "$src" "" all \
		>"$W/out" 2>"$W/time" || { cat "$W/out" "$W/time"; exit 1; }
	local secs rss got
	secs=$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$W/time")
	rss=$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$W/time")
	got=$(find "$DV/mail/$user" \( -path '*/cur/*' -o -path '*/new/*' \) -type f | wc -l)
	awk -v l="$label" -v n="$N" -v s="$secs" -v r="$rss" -v g="$got" \
		'BEGIN {printf "%-28s %8d msg in %6.2f s = %7.0f msg/s, peak RSS %4d MiB  (%d files in its Maildir)\n", l, n, s, n / s, r, g}'
}
echo "doveadm import ($(dovecot --version)), the same messages"
drun "Dovecot: mbox" dmbox "mbox:$DV/src/mboxdir:INBOX=$DV/src/gen.mbox"
drun "Dovecot: Maildir" dmaildir "maildir:$DV/src/md"
