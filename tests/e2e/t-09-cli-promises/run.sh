#!/bin/bash
# Command-line promises of README/DESIGN that no other test checked:
#   - the DATADIR search order: -d, else $BREV_HOME, else $XDG_DATA_HOME/brev,
#     else ~/.local/share/brev (empty variables count as unset);
#   - `user add` on a terminal prompts twice without echo (python's pty as
#     the terminal): equal passwords make an account that IMAP logs into,
#     different ones exit 1 and make nothing;
#   - `brev dkim new DOMAIN`: a new selector (-2, -3 in the same month),
#     key files mode 600, the old ones kept; the running server signs the
#     next message with it, and dkimpy verifies both signatures with the
#     records the command printed.
. ../lib.sh
PY3=/usr/bin/python3
HERE=$(pwd)
$PY3 -c "import dkim" 2>/dev/null || fail "needs python3-dkim"

# ---- DATADIR ----
H=$T/home
mkdir -p "$H"
# brev with exactly the given variables among HOME/BREV_HOME/XDG_DATA_HOME
# (the sanitizer's variables stay)
b() { env -u BREV_HOME -u XDG_DATA_HOME HOME="$H" "$@"; }
init_in() { # init_in DOMAIN ENV... : init where that environment says
	local dom=$1
	shift
	b "$@" "$BREV" init --domain "$dom" --hostname localhost >"$T/init.out" 2>&1 ||
		{ cat "$T/init.out"; fail "init for $dom"; }
}
init_in a.test
init_in b.test XDG_DATA_HOME="$T/xdg"
init_in c.test XDG_DATA_HOME="$T/xdg" BREV_HOME="$T/bh"
b XDG_DATA_HOME="$T/xdg" BREV_HOME="$T/bh" "$BREV" -d "$T/dd" init --domain d.test --hostname localhost \
	>"$T/init.out" 2>&1 || { cat "$T/init.out"; fail "init -d"; }
for w in "$H/.local/share/brev:a.test" "$T/xdg/brev:b.test" "$T/bh:c.test" "$T/dd:d.test"; do
	grep -q "^domains = ${w#*:}\$" "${w%:*}/brev.conf" 2>/dev/null ||
		fail "${w%:*} does not hold the DATADIR for ${w#*:}"
done
# every command looks in the same order: `user add` works only where the
# domain is local, so it shows which DATADIR each environment picked
pick() { # pick DOMAIN ENV... [-- ARGS]
	local dom=$1
	shift
	N=$((N + 1))
	echo long-enough | b "$@" user add "u$N@$dom" >/dev/null 2>"$T/err" ||
		fail "with $* brev did not use the DATADIR of $dom: $(cat "$T/err")"
}
N=0
pick a.test "$BREV"
pick a.test XDG_DATA_HOME= "$BREV"
pick b.test XDG_DATA_HOME="$T/xdg" "$BREV"
pick b.test XDG_DATA_HOME="$T/xdg" BREV_HOME= "$BREV"
pick c.test XDG_DATA_HOME="$T/xdg" BREV_HOME="$T/bh" "$BREV"
pick d.test XDG_DATA_HOME="$T/xdg" BREV_HOME="$T/bh" "$BREV" -d "$T/dd"
# and not the next one down: a.test's directory refuses b.test's users
if echo long-enough | b XDG_DATA_HOME="$T/xdg" "$BREV" user add x@a.test >/dev/null 2>&1; then
	fail "XDG_DATA_HOME set, yet ~/.local/share/brev was used"
fi
note "DATADIR: -d, \$BREV_HOME, \$XDG_DATA_HOME/brev, ~/.local/share/brev, empty = unset"

# ---- user add on a terminal ----
brev_init srv example.test
# prompt.py types as soon as a prompt shows: text typed then must be neither
# echoed nor lost (brev once turned echo off after printing the prompt, and
# the flush at that moment ate what came quickly); three times, as that
# was a race
for i in 1 2 3; do
	$PY3 "$HERE/prompt.py" "$BREV" "$D" tty$i@example.test "Tty-pw-$i" "Tty-pw-$i" >"$T/tty.out" ||
		{ cat "$T/tty.out"; fail "user add on a terminal"; }
done
if $PY3 "$HERE/prompt.py" "$BREV" "$D" mm@example.test 'one-pw-1' 'two-pw-2' >"$T/tty2.out"; then
	fail "user add accepted two different passwords"
fi
grep -q "do not match" "$T/tty2.out" || { cat "$T/tty2.out"; fail "no 'do not match' on the terminal"; }
"$BREV" -d "$D" user list >"$T/users" || fail "user list"
for i in 1 2 3; do
	grep -q "^tty$i@example.test " "$T/users" || fail "tty$i@example.test not created"
done
if grep -q "^mm@example.test " "$T/users"; then fail "mm@example.test created with mismatched passwords"; fi
brev_start
$PY3 - <<PY || fail "IMAP login with the password typed on the terminal"
import imaplib
for i in (1, 2, 3):
    m = imaplib.IMAP4("127.0.0.1", $P_IMAP)
    m.login("tty%d@example.test" % i, "Tty-pw-%d" % i)
    m.logout()
m = imaplib.IMAP4("127.0.0.1", $P_IMAP)
try:
    m.login("mm@example.test", "one-pw-1")
    raise SystemExit("mm@example.test logged in")
except imaplib.IMAP4.error:
    pass
PY
note "user add on a terminal: prompted twice, no echo, mismatch refused"

# ---- dkim new ----
SEL0=$(cat "$D/dkim/example.test.selector")
# one message before the rotation, so that the server has used SEL0
$PY3 "$HERE/submit.py" "$P_SUB" "$P_IMAP" before "$T/before.eml" || fail "submit and fetch"
grep -q "s=$SEL0;" "$T/before.eml" || fail "the first message is not signed with $SEL0"
CUR=brev$(date -u +%Y%m)
[ "$SEL0" = "$CUR" ] && SEL1=$CUR-2 || SEL1=$CUR
"$BREV" -d "$D" dkim new example.test >"$T/new1" || fail "dkim new"
[ "$(cat "$D/dkim/example.test.selector")" = "$SEL1" ] ||
	fail "selector after dkim new: $(cat "$D/dkim/example.test.selector"), want $SEL1"
for f in "$SEL1" "$SEL1-ed" "$SEL0" "$SEL0-ed"; do
	[ "$(stat -c %a "$D/dkim/example.test.$f.key" 2>/dev/null)" = 600 ] ||
		fail "key example.test.$f.key missing or not mode 600"
done
grep -q "^$SEL1._domainkey.example.test.	[0-9]*	IN	TXT	\"v=DKIM1; k=rsa; p=" "$T/new1" ||
	{ cat "$T/new1"; fail "no RSA record for $SEL1"; }
grep -q "^$SEL1-ed._domainkey.example.test.	[0-9]*	IN	TXT	\"v=DKIM1; k=ed25519; p=" "$T/new1" ||
	{ cat "$T/new1"; fail "no Ed25519 record for $SEL1-ed"; }
# the running server signs with it at once (no restart)
$PY3 "$HERE/submit.py" "$P_SUB" "$P_IMAP" rotated "$T/signed.eml" || fail "submit and fetch"
$PY3 "$HERE/verify_dkim.py" "$T/signed.eml" "$T/new1" "$SEL1" || fail "dkimpy with the new selector"
"$BREV" -d "$D" dkim new example.test >"$T/new2" || fail "second dkim new"
[ "$SEL1" = "$CUR-2" ] && SEL2=$CUR-3 || SEL2=$CUR-2
[ "$(cat "$D/dkim/example.test.selector")" = "$SEL2" ] ||
	fail "selector after the second dkim new: $(cat "$D/dkim/example.test.selector"), want $SEL2"
note "dkim new: $SEL0 -> $SEL1 -> $SEL2, signing with the new one at once"
brev_stop
note ok
