# Inside `unshare --net --mount --fork`: loopback up, nsd on 127.0.0.1:53
# with the test's zone, a private resolv.conf, then opendkim-testmsg
# verifies the message brev signed (exit 0 and no output = verified).
set -eu
T=$1
ip link set lo up
mkdir -p "$T/nsd53"
sed -e "s/@[0-9]*$/@53/" -e "s,$T/nsd/,$T/nsd53/,g" -e "s,zonefile: .*,zonefile: \"$T/nsd/test.zone\"," \
	"$T/nsd/nsd.conf" >"$T/nsd53/nsd.conf"
nsd -d -c "$T/nsd53/nsd.conf" >"$T/nsd53/out.log" 2>&1 &
NSD=$!
trap 'kill $NSD 2>/dev/null' EXIT
echo "nameserver 127.0.0.1" >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
for i in $(seq 100); do timeout 2 drill @127.0.0.1 TXT _dmarc.alice.test >/dev/null 2>&1 && break; sleep 0.05; done
# opendkim reads the message with LF line ends
tr -d '\r' <"$T/signed.eml" >"$T/signed.lf"
out=$(opendkim-testmsg <"$T/signed.lf" 2>&1) || { echo "opendkim-testmsg failed: $out"; exit 1; }
[ -z "$out" ] || { echo "opendkim-testmsg: $out"; exit 1; }
# and it notices a change
sed 's/^Hello Carol/Hello Carl/' "$T/signed.lf" >"$T/bad.lf"
if opendkim-testmsg <"$T/bad.lf" >/dev/null 2>&1; then echo "opendkim accepted an altered body"; exit 1; fi
echo "opendkim-testmsg: verified"
