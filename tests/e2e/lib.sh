# tests/e2e/lib.sh — shared helpers for end-to-end tests. Source it from a
# test's run.sh:   . ../lib.sh
#
# Each test runs in its own process group (tests/run.sh starts it under
# timeout(1)); the EXIT trap kills everything the test started, fails the
# test if a sanitizer (brev-san) reported anything into the test's files,
# releases its ports and removes its temporary directory. Only loopback
# addresses are ever used; every brev gets a dead loopback resolver and
# delivery port unless the test says otherwise, so no test can send a
# packet off this host. Tests run in parallel with other tests (and with
# their copy on the other build): nothing global, ports from free_port(s).
set -euo pipefail
: "${BREV:?BREV must name the brev binary}"
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/brev-e2e.XXXXXX)
export T
cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	# A test whose own EXIT trap runs a command before calling cleanup
	# loses its exit status; fail() leaves a mark.
	[ -z "${FAILED:-}" ] || [ $rc -ne 0 ] || rc=1
	# A passing test still fails if a brev it started crashed, or does
	# not exit 0 on SIGTERM now: a crash after the last client exchange
	# (a session's teardown, a queue thread) must not go unnoticed.
	local i
	if [ $rc -eq 0 ]; then
		for i in ${BREVS[@]+"${BREVS[@]}"}; do
			if ! brev_reap "$i" 15; then
				echo "FAIL: at the end of the test: $REAP_WHY" >&2
				rc=1
			fi
		done
	fi
	if [ $rc -ne 0 ] && [ -n "${D:-}" ] && [ -f "$D/serve.log" ]; then
		echo "--- brev log ($D/serve.log), last lines:"
		tail -30 "$D/serve.log"
	fi
	for ((i = ${#AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${AT_EXIT[i]}"; done
	# Everything this test started is in its process group; ignore the
	# signal here so that only the children die.
	trap '' TERM
	kill -TERM 0 2>/dev/null || true
	wait 2>/dev/null || true
	if sanitizer_reports "$T" "${D:-}"; then [ $rc -ne 0 ] || rc=1; fi
	release_ports
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'echo "stopped by SIGINT" >&2; exit 1' INT
trap 'echo "stopped by SIGTERM" >&2; exit 1' TERM
# set -e ends a test at the first command that fails outside a condition,
# often without a word: name it.
set -E
trap '[[ $- != *e* ]] || echo "set -e: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

# at_exit CMD: eval CMD when the test exits (the last registered first),
# before its process group is killed: for what that signal does not stop,
# such as a daemon that left the group. Use it instead of a trap of the
# test's own, which would hide the test's exit status from cleanup.
AT_EXIT=()
# AS_USER: the -o a `brev serve` on a DATADIR not made by brev_init needs
# when the tests run as root (brev refuses to serve as root otherwise).
AS_USER=()
[ "$(id -u)" != 0 ] || AS_USER=(-o user=nobody)
at_exit() { AT_EXIT+=("$1"); }

fail() { FAILED=1; echo "FAIL: $*" >&2; exit 1; }

# skip WHY: the test cannot run here (exit 77). tests/run.sh prints it as
# "skip", and under CI=true any skip fails the run: a missing dependency
# belongs in tools/deps.sh, never in a quiet pass.
skip() { echo "SKIP: $*" >&2; exit 77; }

# sanitizer_reports DIR...: show the ASan, LSan and UBSan reports in the
# text files under the DIRs; false if there are none. tests/run.sh sends
# ASan's and LSan's reports to files of its own (log_path), but GCC's UBSan,
# linked beside ASan, writes to stderr whatever log_path says: into
# serve.log, or wherever the test sent brev's stderr.
SAN_RE='==[0-9]+==ERROR: [A-Za-z]+Sanitizer|(^|: )runtime error: '
sanitizer_reports() {
	local f found=1
	while IFS= read -r f; do
		found=0
		echo "--- sanitizer report in ${f#"$T"/}:"
		grep -E -A12 "$SAN_RE" "$f" | head -40
	done < <(for d in "$@"; do [ -n "$d" ] && [ -d "$d" ] && echo "$d"; done |
		xargs -r grep -rlIE "$SAN_RE" 2>/dev/null | sort -u)
	return $found
}

note() { echo "# $*"; }

# free_ports N: N distinct loopback ports, free for TCP and UDP, that no
# other test (of this run, of a parallel run, or of another checkout) holds;
# free_port: one of them. Asking the kernel for port 0 and closing the
# socket is not enough when tests run in parallel: until brev binds the
# port another test may be handed the same number, and client connections
# take their source ports from the same range. So ports are drawn below
# the kernel's ephemeral range (ip_local_port_range) and reserved in
# $PORTS_DIR, one file per port holding the test shell's PID, under a lock;
# the EXIT trap releases them, and a reservation whose PID is gone (a test
# killed with SIGKILL) is taken back.
PORTS_DIR=${PORTS_DIR:-/tmp/brev-e2e-ports}
free_ports() {
	python3 - "$1" "$PORTS_DIR" "$$" <<'PY' | tee -a "$T/.ports" || fail "no free loopback port"
import errno, fcntl, os, random, socket, sys

n, reg, owner = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if not os.path.isdir(reg):
    os.makedirs(reg, exist_ok=True)
    os.chmod(reg, 0o1777)  # tests run by any user share it
lo, hi = 10000, 32768  # below Linux's default ephemeral range
try:
    eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    if eph - lo >= 4000:
        hi = eph
    else:
        lo, hi = 1024, 65536  # no room below it: anywhere
except (OSError, ValueError, IndexError):
    pass

def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True

def bindable(port):
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                s = socket.socket(fam, typ)
            except OSError:
                continue  # no IPv6 here
            try:
                s.bind((addr, port))
            except OSError as e:
                if fam == socket.AF_INET6 and e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue
                return False
            finally:
                s.close()
    return True

with os.fdopen(os.open(os.path.join(reg, ".lock"), os.O_RDWR | os.O_CREAT, 0o666), "r+") as lock:
    try:
        os.fchmod(lock.fileno(), 0o666)
    except OSError:
        pass  # not ours: whoever made it opened it up
    fcntl.flock(lock, fcntl.LOCK_EX)
    held = set()
    for name in os.listdir(reg):
        if not name.isdigit():
            continue
        path = os.path.join(reg, name)
        try:
            pid = int(open(path).read())
        except (OSError, ValueError):
            pid = 0
        if pid and alive(pid):
            held.add(int(name))
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
    got = []
    for _ in range(2000):
        if len(got) == n:
            break
        p = random.randrange(lo, hi)
        if p not in held and p not in got and bindable(p):
            got.append(p)
    if len(got) < n:
        sys.exit(1)
    for p in got:
        with open(os.path.join(reg, str(p)), "w") as f:
            f.write(owner)
print("\n".join(map(str, got)))
PY
}
free_port() { free_ports 1; }

# release_ports: give back what free_ports reserved (the EXIT trap does).
release_ports() {
	[ -f "$T/.ports" ] || return 0
	local p
	while read -r p; do
		[ "$(cat "$PORTS_DIR/$p" 2>/dev/null)" = "$$" ] && rm -f "$PORTS_DIR/$p"
	done <"$T/.ports"
	rm -f "$T/.ports"
}

# nsd_run ADDR PORT ZONE=FILE...: start nsd in the background (NSD_PID),
# answering on ADDR@PORT for each ZONE from its zone FILE; its files and
# logs in $T/nsd. No control port: another nsd on the machine holding 8952
# would stop this one.
nsd_run() {
	local addr=$1 port=$2 z
	shift 2
	mkdir -p "$T/nsd"
	{
		cat <<NSD
server:
  ip-address: $addr@$port
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$T/nsd/zone.list"
  xfrdfile: "$T/nsd/xfrd.state"
  xfrdir: "$T/nsd"
  pidfile: "$T/nsd/nsd.pid"
  logfile: "$T/nsd/nsd.log"
  verbosity: 0
remote-control:
  control-enable: no
NSD
		for z in "$@"; do printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "${z%%=*}" "${z#*=}"; done
	} >"$T/nsd/nsd.conf"
	nsd -d -c "$T/nsd/nsd.conf" >"$T/nsd/out.log" 2>&1 &
	NSD_PID=$!
}

# nsd_wait NAME TYPE TEXT: until nsd's answer (${NSD_ADDR:-127.0.0.1}@
# $NSD_PORT) for NAME TYPE shows TEXT.
nsd_wait() {
	local i=0
	until timeout 2 drill -p "$NSD_PORT" @"${NSD_ADDR:-127.0.0.1}" "$2" "$1" 2>/dev/null | grep -q "$3"; do
		i=$((i + 1)); [ $i -lt 100 ] || { cat "$T/nsd/out.log"; fail "nsd does not answer $1 $2 with $3"; }
		sleep 0.05
	done
}

# brev_init NAME [DOMAIN]: a fresh DATADIR $T/NAME for DOMAIN (default
# example.test), certificate for localhost, every listener on a free
# loopback port. Sets D (the datadir) and P_SMTP P_SUB P_SUBS P_IMAP
# P_IMAPS P_POP3 P_POP3S P_HTTP P_HTTPS P_SIEVE.
brev_init() {
	local name=$1 domain=${2:-example.test}
	D=$T/$name
	"$BREV" -d "$D" init --domain "$domain" --hostname localhost >"$T/$name.init.log" 2>&1 ||
		{ cat "$T/$name.init.log"; fail "brev init failed"; }
	local ports
	ports=$(free_ports 11) || exit 1
	read -r -d '' P_SMTP P_SUB P_SUBS P_IMAP P_IMAPS P_POP3 P_POP3S P_DEAD P_HTTP P_HTTPS P_SIEVE <<<"$ports" || true
	cat >>"$D/brev.conf" <<CONF

# --- test settings (tests/e2e/lib.sh) ---
listen.smtp = 127.0.0.1:$P_SMTP
listen.submission = 127.0.0.1:$P_SUB
listen.submissions = 127.0.0.1:$P_SUBS
listen.imap = 127.0.0.1:$P_IMAP
listen.imaps = 127.0.0.1:$P_IMAPS
listen.pop3 = 127.0.0.1:$P_POP3
listen.pop3s = 127.0.0.1:$P_POP3S
listen.http = 127.0.0.1:$P_HTTP
listen.https = 127.0.0.1:$P_HTTPS
listen.managesieve = 127.0.0.1:$P_SIEVE
dns.resolver = 127.0.0.1:$P_DEAD
delivery.port = $P_DEAD
log.level = debug
# tests send from many 127.x addresses (the queue's MTAs, FCrDNS clients):
# no greylisting unless a test asks for it (t-16-spam-greylist)
spam.greylist_delay = 0
CONF
	# As root, brev refuses to serve without an unprivileged user to drop
	# to (issue 22); the tests name one rather than rely on a `brev` user.
	[ "$(id -u)" != 0 ] || echo "user = nobody" >>"$D/brev.conf"
	export D P_SMTP P_SUB P_SUBS P_IMAP P_IMAPS P_POP3 P_POP3S P_DEAD P_HTTP P_HTTPS P_SIEVE
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

# Every `brev serve` the test started (brev_start, mta_start) and has not
# reaped yet: the EXIT trap of a passing test stops each one and fails the
# test unless it exits 0 (brev_reap).
BREVS=()
brev_track() { BREVS+=("$1"); }
brev_untrack() {
	local keep=() p
	for p in ${BREVS[@]+"${BREVS[@]}"}; do [ "$p" = "$1" ] || keep+=("$p"); done
	BREVS=(${keep[@]+"${keep[@]}"})
}

# brev_reap PID [SECONDS]: stop brev serve PID with SIGTERM and reap it;
# false, with the reason in REAP_WHY, unless it exits 0 (within SECONDS,
# then it is killed; unset: no limit). Not in a subshell: only this shell
# can wait for its children. A brev that is already gone is
# reaped too: bash keeps a dead child's status, and anything but 0 there
# is a crash that happened before the stop.
brev_reap() {
	local pid=$1 limit=${2:-} rc=0 i=0
	brev_untrack "$pid"
	if ! kill -TERM "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || rc=$?
		[ $rc -eq 0 ] || { REAP_WHY="brev serve (pid $pid) was gone before its stop, exit status $rc"; return 1; }
		return 0
	fi
	if [ -n "$limit" ]; then
		while kill -0 "$pid" 2>/dev/null; do
			i=$((i + 1))
			if [ $i -gt $((limit * 20)) ]; then
				kill -KILL "$pid" 2>/dev/null
				wait "$pid" 2>/dev/null
				REAP_WHY="brev serve (pid $pid) still running ${limit}s after SIGTERM"
				return 1
			fi
			sleep 0.05
		done
	fi
	wait "$pid" 2>/dev/null || rc=$?
	[ $rc -eq 0 ] || { REAP_WHY="brev serve (pid $pid) exited with $rc after SIGTERM"; return 1; }
}

# brev_start [ARGS...]: start `brev serve` for $D in the background (PID in
# BREV_PID, log in $D/serve.log) and wait until the SMTP port accepts.
brev_start() {
	"$BREV" -d "$D" "$@" serve >>"$D/serve.log" 2>&1 &
	BREV_PID=$!
	export BREV_PID
	brev_track "$BREV_PID"
	wait_port "$P_SMTP"
	wait_port "$P_IMAPS"
}

# brev_stop [PID]: SIGTERM and wait for $BREV_PID (or PID); fails the test
# unless it exits 0, including when it had died before (brev_reap).
brev_stop() {
	brev_reap "${1:-$BREV_PID}" || fail "$REAP_WHY"
}

# brev_kill9: kill -9 and reap; fails the test if brev had died of
# anything else before the kill (a crash is not a kill -9).
brev_kill9() {
	local rc=0
	kill -KILL "$BREV_PID" 2>/dev/null || true
	wait "$BREV_PID" 2>/dev/null || rc=$?
	brev_untrack "$BREV_PID"
	[ $rc -eq 137 ] || fail "brev serve (pid $BREV_PID) exited with $rc before its kill -9"
}
