#!/bin/bash
# bench/fts.sh — the full-text index's aims (issue 18; docs/imap.md "Full-text
# search"), on a generated INBOX of BENCH_IMAP_N (default 100,000) messages,
# bench/load.c's mix (the IMAP benchmark's mailbox):
#   - UID SEARCH BODY for a word in 1% of the messages, a needle inside a
#     word, a common word and a word in no message (aim: under 50 ms);
#   - the index's size against the mail's (aim: under 30%);
#   - store_append throughput while loading (aim: within 20% of without).
# "Without" is a brev tree without the index given as FTS_BASE (e.g.
#   git worktree add /tmp/base <commit> && make -C /tmp/base brev): its
# bench_load fills a second store and its brev serves the same SEARCHes.
# BENCH_RUNS (default 3) loads of each kind, alternating, so that the load of
# a shared machine falls on both; medians and every run are printed. Prints
# the figures; nothing here runs in `make test`.
#
#   BENCH_IMAP_N=100000 BENCH_RUNS=3 FTS_BASE=/tmp/base bench/fts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory brev >/dev/null
link_load() { # TREE OUT EXTRA_OBJS...
	local t=$1 out=$2
	shift 2
	gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$t" -I/usr/include/bearssl \
		-o "$out" bench/load.c "$t"/build/mailbox.o "$t"/build/mailbox_acct.o \
		"$t"/build/mailbox_mbox.o "$t"/build/mailbox_msg.o "$t"/build/mailbox_queue.o \
		"$t"/build/mailbox_journal.o "$t"/build/spool.o "$t"/build/util.o "$t"/build/log.o \
		$(for o in mailbox_place mailbox_spam; do [ ! -f "$t/build/$o.o" ] || echo "$t/build/$o.o"; done) \
		"$@" -llmdb -lcrypto -lunistring -pthread
}
link_load . build/bench_load build/mailbox_fts.o build/fts.o build/message.o build/message_text.o
if [ -n "${FTS_BASE:-}" ]; then
	make --no-print-directory -C "$FTS_BASE" brev >/dev/null
	link_load "$FTS_BASE" build/bench_load_base
fi
exec python3 bench/fts.py
