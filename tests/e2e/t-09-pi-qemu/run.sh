#!/bin/bash
# Raspberry Pi builds (issue 20): `make CROSS=aarch64-linux-gnu` and
# `make CROSS=arm-linux-gnueabihf` give static ARM binaries; each runs under
# qemu-user (qemu-aarch64-static / qemu-arm-static) through a one-line
# wrapper: init, user add, serve, SMTP in (smtplib), IMAP out over TLS
# (imaplib), a clean stop - over loopback like every other test.
# The 32-bit build runs with its default store.map_size (1G): the default
# must work there. The 64-bit one gets `-o store.map_size=4G`: under
# qemu-user a 64 GiB mapping fails with ENOMEM (qemu's mmap emulation; a
# real arm64 kernel maps it like x86-64 does), docs/install.md says so.
. ../lib.sh
for spec in "aarch64-linux-gnu qemu-aarch64-static 4G ARM-aarch64" "arm-linux-gnueabihf qemu-arm-static - ARM,-EABI5"; do
	read -r cross qemu map arch <<<"$spec"
	make -s -C "$ROOT" CROSS="$cross" "brev-$cross" >"$T/make-$cross.log" 2>&1 ||
		{ tail -20 "$T/make-$cross.log"; fail "make CROSS=$cross"; }
	bin=$ROOT/brev-$cross
	info=$(file -b "$bin")
	grep -q 'statically linked' <<<"$info" || fail "$cross: not static: $info"
	grep -q "${arch//-/ }" <<<"$info" || fail "$cross: not $arch: $info"
	w=$T/brev-$cross
	if [ "$map" = - ]; then
		printf '#!/bin/sh\nexec %s %s "$@"\n' "$qemu" "$bin" >"$w"
	else
		printf '#!/bin/sh\nexec %s %s -o store.map_size=%s "$@"\n' "$qemu" "$bin" "$map" >"$w"
	fi
	chmod +x "$w"
	BREV=$w
	brev_init "$cross"
	"$BREV" version | grep -q '^brev ' || fail "$cross: version"
	brev_user alice@example.test "pi-pass-$cross"
	brev_start
	python3 - "$P_SMTP" "$P_IMAPS" "$cross" <<'PY' || fail "$cross: mail in and out under qemu"
import imaplib, smtplib, ssl, sys
smtp, imaps, cross = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP("127.0.0.1", smtp, timeout=30)
s.sendmail("bob@elsewhere.test", ["alice@example.test"],
           ("From: bob@elsewhere.test\r\nSubject: on %s\r\nMessage-ID: <pi-%s@elsewhere.test>\r\n\r\nfrom a Pi build\r\n" % (cross, cross)).encode())
s.quit()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx, timeout=30)
m.login("alice@example.test", "pi-pass-" + cross)
m.select("INBOX")
typ, d = m.fetch("1", "(BODY[])")
assert typ == "OK" and b"from a Pi build" in d[0][1], d
m.logout()
PY
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$BREV_PID/status")
	note "$cross: served under $qemu, qemu+brev RSS ${rss} kB, binary $(stat -c %s "$bin") bytes"
	brev_stop
done
echo ok
