#!/bin/bash
# brev backup --encrypt (issue 17): the backup is sealed with a passphrase
# (scrypt + AES-256-GCM in chunks, backup_crypt.h), so no message text and
# no key appears in the file; restore and verify --backup open it with the
# passphrase (from a file, or typed on a terminal, driven here through
# script(1)) and the restored brev serves the same messages over IMAP. A
# wrong passphrase, one flipped byte, a file cut at a chunk boundary or in
# the middle, and a missing passphrase are each refused with a clear
# reason and leave no DATADIR behind. A plain backup still restores
# without any passphrase.
. ../lib.sh
command -v script >/dev/null || fail "script(1) missing (util-linux)"
brev_init src
SRC=$D
brev_user alice@example.test alice-pass
brev_start
python3 - <<'PY' || fail "deliveries"
import os, smtplib
s = smtplib.SMTP("127.0.0.1", int(os.environ["P_SMTP"]), timeout=30)
for i in range(12):
    body = ("secret-line-%d ........................................................\r\n" % i) * 1800 if i == 3 else "secret body %d\r\n" % i  # one of 130 KB
    s.sendmail("x@remote.test", ["alice@example.test"],
               ("Subject: enc-%d\r\nMessage-ID: <enc-%d@remote.test>\r\n\r\n%s\r\n" % (i, i, body)).encode())
s.quit()
PY
printf 'correct horse battery\n' >"$T/pass"
printf 'wrong horse battery\n' >"$T/wrong"
chmod 600 "$T/pass" "$T/wrong"

out=$("$BREV" -d "$SRC" backup "$T/b.enc" --encrypt --passphrase-file "$T/pass" 2>&1) || fail "backup --encrypt: $out"
grep -q "(encrypted)" <<<"$out" || fail "backup did not say it is encrypted: $out"
[ "$(head -c 8 "$T/b.enc")" = BREVENC1 ] || fail "no BREVENC1 header"
grep -aq "secret" "$T/b.enc" && fail "message text readable in the encrypted backup"
grep -aq "PRIVATE KEY" "$T/b.enc" && fail "a private key readable in the encrypted backup"
grep -aq "brev-backup.manifest" "$T/b.enc" && fail "the manifest readable in the encrypted backup"

out=$("$BREV" verify --backup "$T/b.enc" --passphrase-file "$T/pass" 2>&1) || fail "verify --backup: $out"
grep -q "every checksum matches" <<<"$out" || fail "verify --backup: $out"

refused() { # refused NAME FILE PASSFILE PATTERN
	local out
	out=$("$BREV" restore "$2" "$T/r-$1" ${3:+--passphrase-file "$3"} 2>&1 </dev/null) &&
		fail "$1: restore accepted it"
	grep -q "$4" <<<"$out" || fail "$1: unclear reason: $out"
	[ ! -e "$T/r-$1" ] || fail "$1: a DATADIR was left behind"
	ls -a "$T" | grep -q "r-$1.restore" && fail "$1: a staging directory was left behind"
	note "$1 refused: $(tail -1 <<<"$out")"
}
refused wrong "$T/b.enc" "$T/wrong" "wrong passphrase"
size=$(stat -c %s "$T/b.enc")
cp "$T/b.enc" "$T/flip"
printf '\x55' | dd of="$T/flip" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$T/b.enc" "$T/flip" && printf '\xaa' | dd of="$T/flip" bs=1 seek=$((size / 2)) conv=notrunc status=none
refused flipped "$T/flip" "$T/pass" "damaged"
# 36-byte header, then chunks of 65536 + 16 bytes
head -c $((36 + 2 * 65552)) "$T/b.enc" >"$T/cut-boundary"
refused cut-boundary "$T/cut-boundary" "$T/pass" "cut short"
head -c $((size - 100)) "$T/b.enc" >"$T/cut-middle"
refused cut-middle "$T/cut-middle" "$T/pass" "damaged or cut short"
refused no-passphrase "$T/b.enc" "" "passphrase"

# The passphrase typed on a terminal (script(1) gives restore one).
cat >"$T/type.sh" <<SH
#!/bin/bash
( sleep 1; printf 'correct horse battery\n' ) | script -qec '"$BREV" restore "$T/b.enc" "$T/r-tty"' /dev/null
SH
chmod +x "$T/type.sh"
timeout 60 "$T/type.sh" >"$T/tty.out" 2>&1 || fail "restore with a typed passphrase: $(cat "$T/tty.out")"
grep -q "Backup passphrase:" "$T/tty.out" || fail "no prompt: $(cat "$T/tty.out")"
[ -f "$T/r-tty/store/data.mdb" ] || fail "typed passphrase: nothing restored: $(cat "$T/tty.out")"

# Restored with the passphrase file, verified and served.
out=$("$BREV" restore "$T/b.enc" "$T/r-ok" --passphrase-file "$T/pass" 2>&1) || fail "restore: $out"
out=$("$BREV" verify "$T/r-ok" 2>&1) || fail "verify of the restored store: $out"
brev_stop
D=$T/r-ok
brev_start
python3 - <<'PY' || fail "the restored brev does not serve the messages"
import imaplib, os
m = imaplib.IMAP4("127.0.0.1", int(os.environ["P_IMAP"]))
m.login("alice@example.test", "alice-pass")
assert int(m.select("INBOX")[1][0]) == 12
typ, d = m.fetch("4", "(BODY.PEEK[TEXT])")
assert d[0][1].startswith(b"secret-line-3 ") and len(d[0][1]) > 120000, len(d[0][1])
PY
brev_stop

# A plain backup needs no passphrase.
"$BREV" -d "$SRC" backup "$T/b.tar" >/dev/null 2>&1 || fail "plain backup"
out=$("$BREV" restore "$T/b.tar" "$T/r-plain" 2>&1 </dev/null) || fail "plain restore: $out"
# (the check above means something: unsealed, the text is there to find)
grep -aq "secret" "$T/b.tar" || fail "the plain backup does not show the message text either"
