#!/bin/bash
# bench/sieve.sh — Sieve evaluation cost per message (issue 19's aim: a
# 30-rule script under 50 µs): bench/sieve_30rules.sieve (header, address,
# envelope, :matches with variables, :regex, body, size, flags) compiled
# once and run BENCH_SIEVE_ROUNDS (default 2000) times on each message of
# tests/e2e/t-76-sieve-pigeonhole/msgs. Links the release build's objects.
# Prints the median, mean and best round (a loaded machine moves the mean);
# not part of make test.
#
#   bench/sieve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory brev >/dev/null
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -o build/bench_sieve bench/sieve_eval.c \
	build/sieve.o build/sieve_parse.o build/sieve_match.o build/message.o build/message_text.o \
	build/util.o build/log.o -lunistring -lz -lm -pthread
build/bench_sieve "${BENCH_SIEVE_ROUNDS:-2000}" bench/sieve_30rules.sieve tests/e2e/t-76-sieve-pigeonhole/msgs/*.eml
