# tests/e2e/lib.sh — shared helpers for end-to-end tests. Source it from a
# test's run.sh:   . ../lib.sh
#
# Each test runs in its own process group (tests/run.sh starts it under
# timeout(1)); the EXIT trap kills everything the test started and removes
# its temporary directory. Only loopback addresses are ever used; every brev
# gets a dead loopback resolver and delivery port unless the test says
# otherwise, so no test can send a packet off this host.
set -euo pipefail
: "${BREV:?BREV must name the brev binary}"
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/brev-e2e.XXXXXX)
export T
cleanup() {
	local rc=$?
	trap - EXIT
	if [ $rc -ne 0 ] && [ -n "${D:-}" ] && [ -f "$D/serve.log" ]; then
		echo "--- brev log ($D/serve.log), last lines:"
		tail -30 "$D/serve.log"
	fi
	# Everything this test started is in its process group; ignore the
	# signal here so that only the children die.
	trap '' TERM
	kill -TERM 0 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# A TCP port nothing listens on right now (loopback).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# brev_init NAME [DOMAIN]: a fresh DATADIR $T/NAME for DOMAIN (default
# example.test), certificate for localhost, every listener on a free
# loopback port. Sets D (the datadir) and P_SMTP P_SUB P_SUBS P_IMAP
# P_IMAPS P_POP3 P_POP3S.
brev_init() {
	local name=$1 domain=${2:-example.test}
	D=$T/$name
	"$BREV" -d "$D" init --domain "$domain" --hostname localhost >"$T/$name.init.log" 2>&1 ||
		{ cat "$T/$name.init.log"; fail "brev init failed"; }
	P_SMTP=$(free_port); P_SUB=$(free_port); P_SUBS=$(free_port)
	P_IMAP=$(free_port); P_IMAPS=$(free_port); P_POP3=$(free_port); P_POP3S=$(free_port)
	P_DEAD=$(free_port)
	cat >>"$D/brev.conf" <<CONF

# --- test settings (tests/e2e/lib.sh) ---
listen.smtp = 127.0.0.1:$P_SMTP
listen.submission = 127.0.0.1:$P_SUB
listen.submissions = 127.0.0.1:$P_SUBS
listen.imap = 127.0.0.1:$P_IMAP
listen.imaps = 127.0.0.1:$P_IMAPS
listen.pop3 = 127.0.0.1:$P_POP3
listen.pop3s = 127.0.0.1:$P_POP3S
dns.resolver = 127.0.0.1:$P_DEAD
delivery.port = $P_DEAD
log.level = debug
CONF
	export D P_SMTP P_SUB P_SUBS P_IMAP P_IMAPS P_POP3 P_POP3S P_DEAD
}

# brev_user ADDRESS PASSWORD
brev_user() {
	printf '%s\n' "$2" | "$BREV" -d "$D" user add "$1" >/dev/null || fail "user add $1"
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 limit=${2:-10} i=0
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((limit * 20)) ] || fail "nothing listens on port $port after ${limit}s"
		sleep 0.05
	done
}

# brev_start [ARGS...]: start `brev serve` for $D in the background (PID in
# BREV_PID, log in $D/serve.log) and wait until the SMTP port accepts.
brev_start() {
	"$BREV" -d "$D" "$@" serve >>"$D/serve.log" 2>&1 &
	BREV_PID=$!
	export BREV_PID
	wait_port "$P_SMTP"
	wait_port "$P_IMAPS"
}

# brev_stop: SIGTERM and wait; fails if brev does not exit cleanly.
brev_stop() {
	kill -TERM "$BREV_PID" 2>/dev/null || return 0
	local rc=0
	wait "$BREV_PID" || rc=$?
	[ $rc -eq 0 ] || fail "brev serve exited with $rc after SIGTERM"
}

# brev_kill9: kill -9 and reap.
brev_kill9() {
	kill -KILL "$BREV_PID" 2>/dev/null || true
	wait "$BREV_PID" 2>/dev/null || true
}
