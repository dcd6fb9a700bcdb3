#!/bin/bash
# POP3 with Python's poplib (an independent client): every command over
# plain+STLS and POP3S, AUTH through raw commands, UIDL stability.
. ../lib.sh
brev_init pop3p
brev_user alice@example.test alice-pw
brev_start
PYTHONPATH=$PWD python3 -u poplib_test.py || fail "poplib"
brev_stop
