#!/bin/bash
# The queue notices the network (issue 20, "outbound mail that knows the
# network"): when a link comes back, deferred mail leaves at once instead
# of waiting out its backoff (here delivery.retry = 10m).
#
# Layout: this test's network namespace (brev, nsd) holds v0 = 192.0.2.1/24;
# its veth peer v1 = 192.0.2.25 lives in a second namespace, where the
# scripted receiver (queue/sink.py) listens as mx.net.test. Taking v0 down
# removes the route, so an attempt fails with "network unreachable" and is
# deferred for 10 minutes; bringing it up re-adds the route, which the
# kernel announces on rtnetlink, and brev makes its queue due.
#   1. link down, send: deferred (nothing at the sink), still queued 3 s later
#   2. link up: delivered within 10 s, "the network changed" logged
#   3. again at once: deferred; the next link-up within 30 s of the first
#      flush waits for the 30 s gap (no retry storm), then delivers
if [ -z "${IN_NS:-}" ]; then
	exec unshare --net --fork env IN_NS=1 bash "$0" "$@"
fi
. ../lib.sh
. ../queue/lib.sh
ip link set lo up
ip link add v0 type veth peer name v1 || fail "veth"
ip addr add 192.0.2.1/24 dev v0
ip link set v0 up

# The receiver's namespace: it waits for v1, configures it, runs the sink.
mkdir -p "$T/sink"
unshare --net --fork bash -c '
	echo $$ >"$4"
	for i in $(seq 100); do ip link show v1 >/dev/null 2>&1 && break; sleep 0.05; done
	ip link set lo up; ip addr add 192.0.2.25/24 dev v1; ip link set v1 up
	exec python3 -u "$1" 192.0.2.25 "$2" "$3"' _ "$Q/sink.py" "$P25" "$T/sink" "$T/sink.pid" >>"$T/sink.log" 2>&1 &
SINK_NS=$!
until_true 5 test -s "$T/sink.pid" || fail "sink namespace"
# The sink (the shell that execs it) is killed; unshare then exits too.
at_exit 'kill "$(cat "$T/sink.pid")" 2>/dev/null; wait $SINK_NS 2>/dev/null'
ip link set v1 netns "$SINK_NS" || fail "moving v1"
wait_addr_port 192.0.2.25 "$P25"

nsd_start
printf 'net MX 10 mx.net\nmx.net A 192.0.2.25\n' >"$T/net.zone"
nsd_add "$T/net.zone" mx.net.test A 192.0.2.25

brev_init carol carol.test
cat >>"$D/brev.conf" <<CONF
dns.resolver = 127.0.0.1:$NSD_PORT
delivery.port = $P25
delivery.retry = 10m
CONF
brev_start

n_sink() { find "$T/sink" -name '*.eml' | wc -l; }
sink_has() { [ "$(n_sink)" -ge "$1" ]; }
send() {
	printf 'From: carol@carol.test\r\nTo: dave@net.test\r\nSubject: %s\r\nMessage-ID: <%s@carol.test>\r\n\r\nwaiting for the link\r\n' "$1" "$1" |
		"$BREV" -d "$D" sendmail -f carol@carol.test dave@net.test || fail "sendmail $1"
}
deferred_n() { [ "$(grep -c 'result=deferred' "$D/serve.log")" -ge "$1" ]; }

# 1. link down: the attempt fails and is deferred by 10 minutes
ip link set v0 down
send one
until_true 20 deferred_n 1 || { tail "$D/serve.log"; fail "no deferred attempt while the link is down"; }
grep 'result=deferred' "$D/serve.log" | grep -qi 'unreachable' || { grep 'queue' "$D/serve.log" | tail -3; fail "the deferral does not say the network is unreachable"; }
sleep 3
[ "$(queued)" = 1 ] || fail "queue: $(queued) entries, expected 1"
[ "$(n_sink)" = 0 ] || fail "delivered with the link down?"

# 2. link up: the route comes back, the queue is flushed
t0=$(date +%s)
ip link set v0 up
until_true 10 sink_has 1 || { grep queue "$D/serve.log" | tail -5; fail "not delivered within 10 s of the link coming up (next retry was 10 minutes away)"; }
grep -q 'queue: the network changed: 1 entry made due now' "$D/serve.log" || fail "no log line for the network change"
[ "$(queued)" = 0 ] || fail "still queued after delivery"
note "delivered $(($(date +%s) - t0)) s after the link came up"

# 3. a second change soon after: rate-limited to one flush per 30 s
ip link set v0 down
send two
until_true 20 deferred_n 2 || fail "second message not deferred"
ip link set v0 up
sleep 4
[ "$(n_sink)" = 1 ] || fail "flushed again within 30 s of the previous flush"
until_true 40 sink_has 2 || fail "not delivered after the 30 s gap"
t=$(($(date +%s) - t0))
[ "$t" -ge 29 ] || fail "second flush only $t s after the first"
note "second flush $t s after the first"
brev_stop
