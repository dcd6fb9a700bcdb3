#!/bin/bash
# The per-address connection cap counts an IPv6 /64 as one client (issue
# 22: exact addresses were compared, so one /64, which every home user has,
# could take every slot). In a network namespace of its own, the test puts
# 2001:db8:1:2::1-12 and 2001:db8:1:3::1 on lo, brev's IMAP listens on
# [2001:db8:1:2::1] too, and with limits.connections = 40 (8 per client):
# eight connections from eight different addresses of one /64 are taken,
# the ninth, from yet another address of it, is refused, and an address of
# another /64 is still served.
if [ -z "${BREV_IN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "FAIL: t-34-ipv6-prefix needs root for its network namespace" >&2; exit 1; }
	exec env BREV_IN_NS=1 unshare --net --fork bash "$0" "$@"
fi
ip link set lo up || { echo "FAIL: ip link set lo up" >&2; exit 1; }
for i in $(seq 1 12); do ip -6 addr add "2001:db8:1:2::$i/128" dev lo nodad || exit 1; done
ip -6 addr add 2001:db8:1:3::1/128 dev lo nodad || exit 1
. ../lib.sh
brev_init v6
P6=$(free_port)
sed -i "s/^listen.imap = .*/listen.imap = 127.0.0.1:$P_IMAP [2001:db8:1:2::1]:$P6/" "$D/brev.conf"
brev_start -o limits.connections=40
python3 -u - "$P6" <<'PY' || fail "per-/64 cap"
import socket, sys

port = int(sys.argv[1])
held = []

def greet(src):
    s = socket.create_connection(("2001:db8:1:2::1", port), 30, (src, 0))
    g = s.makefile("rb").readline()
    held.append(s)
    return g

g = [greet("2001:db8:1:2::%d" % (i + 2)) for i in range(9)]
assert all(x.startswith(b"* OK") for x in g[:8]), g
assert g[8].startswith(b"* BYE"), ("9th from one /64", g[8])
assert greet("2001:db8:1:3::1").startswith(b"* OK"), "another /64 refused"
print("one /64: 8 taken, the 9th refused; another /64 served")
PY
grep -q "per-address connection limit reached.*refusing \[2001:db8:1:2::10\]" "$D/serve.log" ||
	fail "no log line for the /64 limit"
brev_stop
echo ok
