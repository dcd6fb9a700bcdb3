#!/bin/bash
# bench/run.sh — `make bench`: brev side by side with Postfix+Dovecot.
#   bench/run.sh [smtp] [footprint] [imap]     (default: all three)
# Installs the peers' Debian packages if missing (bench/peers.sh), builds
# brev and the helpers (build/bench_load, build/bench_yescrypt), runs
# bench/bench.py as root (Postfix must start as root), prints a table per
# benchmark and writes bench/results/latest.md. Loopback only.
# Knobs: BENCH_N BENCH_RUNS BENCH_IMAP_N BENCH_SECS BENCH_DIR BENCH_KEEP
# (see bench/bench.py). Never part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (private Postfix instance)" >&2; exit 1; }
bench/peers.sh install
make --no-print-directory brev >/dev/null
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -I/usr/include/bearssl \
	-o build/bench_load bench/load.c build/mailbox.o build/mailbox_acct.o build/mailbox_mbox.o \
	build/mailbox_msg.o build/mailbox_queue.o build/mailbox_grey.o build/mailbox_place.o build/mailbox_journal.o build/mailbox_fts.o \
	build/mailbox_spam.o build/fts.o build/message.o build/message_text.o build/spool.o build/util.o build/log.o \
	-llmdb -lcrypto -lunistring -lm -pthread
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o build/bench_yescrypt bench/yescrypt.c -lcrypt
exec python3 bench/bench.py "$@"
