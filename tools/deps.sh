#!/bin/sh
# Install (or list) the Debian packages brev needs to build and test.
#   tools/deps.sh install   apt-get the missing ones (root), else print the sudo line and fail
#   tools/deps.sh test      the same, plus what the test suite drives (clients, DNS server)
set -e
BUILD="gcc make libc6-dev libbearssl-dev libldns-dev liblmdb-dev libcrypt-dev libssl-dev"
TEST="openssl curl swaks nsd ldnsutils python3 procps iproute2 util-linux lmdb-utils file fetchmail getmail6 isync offlineimap3 postfix"
case "$1" in
install) want="$BUILD" ;;
test) want="$BUILD $TEST" ;;
*) echo "usage: tools/deps.sh install|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "brev needs these Debian packages; run:" >&2
	echo "  sudo apt-get install$missing" >&2
	exit 1
fi
