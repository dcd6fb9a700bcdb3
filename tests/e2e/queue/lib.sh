# tests/e2e/queue/lib.sh — helpers for the outbound-delivery tests (t-5x),
# sourced after ../lib.sh.
#
# Layout without a network namespace: every MX name resolves (through the
# test's own nsd on 127.0.0.1) to its own loopback address, 127.0.0.2 for
# alice.test, .3 for bob.test, .4/.5 for scripted receivers; every MTA
# listens on ITS address with one shared port $P25, and every brev uses
# delivery.port = $P25. Linux answers on all of 127.0.0.0/8 without any
# configuration, so nothing here needs root or can leave the host.
Q=$ROOT/tests/e2e/queue
P25=$(free_port)
export P25

# nsd_start: serve $Q/test.zone (the whole "test." zone) on 127.0.0.1:$NSD_PORT.
nsd_start() {
	NSD_PORT=${NSD_PORT:-$(free_port)}
	NSD_ADDR=${NSD_ADDR:-127.0.0.1}
	mkdir -p "$T/nsd"
	cp "$Q/test.zone" "$T/nsd/test.zone"
	nsd_run "$NSD_ADDR" "$NSD_PORT" test="$T/nsd/test.zone"
	nsd_wait bob.test MX mx.bob.test
	export NSD_PORT NSD_ADDR NSD_PID
}

# nsd_add FILE NAME TYPE TEXT: append FILE (zone lines, verbatim) to the
# zone, reload nsd, wait until NAME TYPE answers with TEXT.
nsd_add() {
	cat "$1" >>"$T/nsd/test.zone"
	kill -HUP "$NSD_PID"
	nsd_wait "$2" "$3" "$4"
}

# mta_init NAME DOMAIN IP: brev_init, then its MX listener on IP:$P25, DNS
# from the test's nsd (or $RESOLVER), direct delivery to port $P25.
mta_init() {
	brev_init "$1" "$2"
	MTA_IP=$3
	P_SMTP=$P25
	cat >>"$D/brev.conf" <<CONF
listen.smtp = $3:$P25
dns.resolver = ${RESOLVER:-127.0.0.1:$NSD_PORT}
delivery.port = $P25
delivery.retry = 1s 2s
hostname = mx.$2
CONF
	echo "$3" >"$D/mta_ip"
}

wait_addr_port() {
	local ip=$1 port=$2 i=0
	while ! (exec 3<>"/dev/tcp/$ip/$port") 2>/dev/null; do
		i=$((i + 1)); [ $i -le 200 ] || fail "nothing listens on $ip:$port"
		sleep 0.05
	done
}

# mta_start: brev serve for $D; waits for its MX and IMAP ports.
mta_start() {
	"$BREV" -d "$D" serve >>"$D/serve.log" 2>&1 &
	BREV_PID=$!
	brev_track "$BREV_PID"
	echo $BREV_PID >"$D/pid"
	wait_addr_port "$(cat "$D/mta_ip")" "$P25"
	wait_port "$P_IMAPS"
}

# until_true SECONDS CMD...: poll CMD every 0.1 s.
until_true() {
	local limit=$1 i=0
	shift
	until "$@"; do
		i=$((i + 1)); [ $i -le $((limit * 10)) ] || return 1
		sleep 0.1
	done
}

# sink_start IP DIR [OPTS]: the scripted receiver on IP:$P25.
sink_start() {
	python3 -u "$Q/sink.py" "$1" "$P25" "$2" "${@:3}" >>"$T/sink.log" 2>&1 &
	wait_addr_port "$1" "$P25"
}

# queued: number of entries in $D's queue (fails the test if the
# command fails: a crash must not read as an empty queue).
queued() {
	local out
	out=$("$BREV" -d "$D" queue list) || fail "queue list: exit $?"
	tail -1 <<<"$out" | awk '{print $1}'
}
