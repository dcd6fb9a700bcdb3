#!/bin/sh
# Install (or list) the Debian packages brev needs to build and test.
#   tools/deps.sh install   apt-get the missing ones (root), else print the sudo line and fail
#   tools/deps.sh tray      the same, plus what brev-tray (make tray) builds with
#   tools/deps.sh cross     the same, plus the arm64/armhf cross compilers, libraries and qemu-user
#   tools/deps.sh test      all of it, plus what the test suite drives (clients, DNS server, X)
set -e
BUILD="gcc make libc6-dev libbearssl-dev libldns-dev liblmdb-dev libcrypt-dev libssl-dev zlib1g-dev libjansson-dev libunistring-dev"
# the web UI's build (web/: npm ci, esbuild); imapflow (t-44, t-16-spam-learn) runs under node too
BUILD="$BUILD nodejs npm"
TEST="openssl curl swaks strace libnet-ssleay-perl libio-socket-ssl-perl nsd ldnsutils python3 procps iproute2 util-linux lmdb-utils file fetchmail getmail6 isync offlineimap3 postfix python3-dkim python3-spf python3-nacl python3-dnspython opendkim-tools clang libclang-rt-14-dev systemd groff-base thunderbird clamav-daemon mutt"
# ACME's test (t-75-acme): Let's Encrypt's test CA
TEST="$TEST pebble"
# a private Dovecot (t-74-import-dovecot, t-79-fetch-dovecot: IMAP and POP3)
TEST="$TEST dovecot-imapd dovecot-pop3d"
# t-76-sieve-pigeonhole: Pigeonhole's sieve-test is the reference Sieve interpreter
TEST="$TEST dovecot-sieve"
# the web UI's tests drive Debian's Chromium (playwright-core from web/'s npm packages)
TEST="$TEST chromium"
# Sieve and ManageSieve (t-77-*): sieve-connect, an independent ManageSieve client
TEST="$TEST sieve-connect"
# brev-tray (make tray) links dynamically against these; its headless tests
# need an X server, a session bus, a notification daemon, python3-gi for the
# StatusNotifierWatcher stand-in, gdbus, xdotool, trayer (an XEmbed tray) and
# imagemagick.
TRAY="pkg-config libgtk-3-dev libnotify-dev libayatana-appindicator3-dev libsecret-1-dev"
TRAY_TEST="xvfb dbus dbus-x11 dunst python3-gi gir1.2-glib-2.0 libglib2.0-bin xdotool x11-utils trayer imagemagick"
# Raspberry Pi builds (make CROSS=aarch64-linux-gnu / arm-linux-gnueabihf)
# and their smoke test under qemu-user: the cross compilers, and every lib*-dev
# of BUILD for arm64 and armhf (multiarch: dpkg --add-architecture below).
CROSS_ARCHS="arm64 armhf"
CROSS="gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static"
for a in $CROSS_ARCHS; do
	for p in $BUILD; do
		case $p in lib*-dev) CROSS="$CROSS $p:$a" ;; esac
	done
done
case "$1" in
install) want="$BUILD" ;;
tray) want="$BUILD $TRAY" ;;
cross) want="$BUILD $CROSS" ;;
test) want="$BUILD $TEST $TRAY $TRAY_TEST $CROSS" ;;
*) echo "usage: tools/deps.sh install|tray|cross|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	# A Node.js that brings its own npm (NodeSource's nodejs package, which
	# Conflicts: npm) serves the web build as well as Debian's two packages.
	[ "$p" = npm ] && command -v npm >/dev/null && continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	case "$missing" in *:arm64* | *:armhf*)
		for a in $CROSS_ARCHS; do
			dpkg --print-foreign-architectures | grep -qx "$a" || dpkg --add-architecture "$a"
		done ;;
	esac
	apt-get update -qq
	# libldns-dev ships a documentation file that differs between
	# architectures, so its :arm64/:armhf copies cannot be co-installed with
	# it (dpkg: "trying to overwrite shared ..."): leave its docs out.
	apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--path-exclude=/usr/share/doc/libldns-dev/* $missing >/dev/null
else
	echo "brev needs these Debian packages; run:" >&2
	echo "  sudo apt-get install$missing" >&2
	exit 1
fi
