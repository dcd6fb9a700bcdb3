#!/bin/bash
# bench/peers.sh — private Postfix and Dovecot instances to compare brev
# with, on loopback ports, from Debian's packages; and an nsd serving the
# empty zone bench.test, so that brev's inbound SPF/DMARC look-ups get a
# quick NXDOMAIN (brev does them for every message; Postfix here does none).
#
#   bench/peers.sh install          apt-get the packages (once)
#   bench/peers.sh start DIR        configure and start both under DIR
#   bench/peers.sh stop DIR         stop both
#
# `start` writes DIR/peers.env with PF_SMTP (Postfix's SMTP port), DC_IMAP
# (Dovecot's IMAP port), DC_LMTP, PF_MASTER_PID, DC_PID and the user
# bench@bench.test / bench-pw known to Dovecot.
#
# The pipeline is the usual one: Postfix accepts on PF_SMTP, its queue
# manager hands each message to Dovecot's LMTP, Dovecot writes it to a
# Maildir with fsync on (its default, mail_fsync = optimized) and
# maildir_very_dirty_syncs = yes (only Dovecot touches the Maildir). Nothing is
# chrooted, nothing listens beyond 127.0.0.1, DNS is never asked (numeric
# next hop, no peer-name lookup, smtp_dns_support_level = disabled).
# Everything lives in DIR: config, queue, logs, mail. The system's own
# /etc/postfix and /etc/dovecot are not used or touched.
set -euo pipefail

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local i=0
	while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 400 ] || { echo "peers: nothing listens on $1" >&2; return 1; }
		sleep 0.05
	done
}

install() {
	command -v smtp-source >/dev/null && command -v dovecot >/dev/null &&
		command -v nsd >/dev/null && dpkg -s dovecot-lmtpd >/dev/null 2>&1 && return 0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		postfix dovecot-imapd dovecot-lmtpd dovecot-pop3d nsd >/dev/null
}

start_dovecot() {
	local dir=$1/dovecot
	mkdir -p "$dir/run" "$dir/state" "$dir/mail"
	chown 65534:65534 "$dir/mail"
	# The same password hash as brev's accounts: yescrypt at libxcrypt's
	# default cost (bench/yescrypt.c makes it the way sasl.c does), checked
	# by Dovecot's {CRYPT} scheme with crypt(3), so logins cost the same.
	local hash
	hash=$(echo bench-pw | "$HASHER") || { echo "peers: $HASHER failed" >&2; return 1; }
	echo "bench@bench.test:{CRYPT}$hash" >"$dir/passwd"
	cat >"$dir/dovecot.conf" <<EOF
# private benchmark instance (bench/peers.sh)
base_dir = $dir/run
state_dir = $dir/state
instance_name = brev-bench-dovecot
protocols = imap lmtp
listen = 127.0.0.1
log_path = $dir/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$dir/mail/%u
# Stock option (Debian's conf.d/10-mail.conf: "Assume Dovecot is the only
# MUA accessing Maildir"), true here: LMTP and IMAP are both Dovecot's.
# Without it every sync re-reads cur/ whenever its mtime is under a second
# old, which under concurrent STOREs and EXPUNGEs is always (bench/README).
maildir_very_dirty_syncs = yes
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$dir/mail/%u allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DC_LMTP
  }
  unix_listener lmtp {
    mode = 0600
  }
}
protocol imap {
  mail_max_userip_connections = 1000
}
EOF
	dovecot -F -c "$dir/dovecot.conf" >>"$dir/dovecot.out" 2>&1 &
	echo $! >"$dir/pid"
	wait_port "$DC_IMAP"
	wait_port "$DC_LMTP"
}

start_nsd() {
	local dir=$1/nsd
	mkdir -p "$dir"
	cat >"$dir/bench.test.zone" <<ZONE
\$ORIGIN bench.test.
\$TTL 300
@ IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300
@ IN NS ns.bench.test.
ns IN A 127.0.0.1
ZONE
	cat >"$dir/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$DNS_PORT
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  server-count: 1
zone:
  name: bench.test
  zonefile: "$dir/bench.test.zone"
CONF
	nsd -d -c "$dir/nsd.conf" >>"$dir/nsd.out" 2>&1 &
	echo $! >"$dir/pid"
	local i=0
	# A SOA query for bench.test until it is answered.
	until python3 -c "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(0.2); s.sendto(bytes.fromhex('1234010000010000000000000562656e636804746573740000060001'),('127.0.0.1',$DNS_PORT)); s.recv(512)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 50 ] || { echo "peers: nsd did not start" >&2; return 1; }
		sleep 0.05
	done
}

start_postfix() {
	local dir=$1/postfix
	mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
	chown postfix "$dir/data"
	cat >"$dir/conf/main.cf" <<EOF
# private benchmark instance (bench/peers.sh)
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = inline:{ bench@bench.test=bench/ }
virtual_transport = lmtp:inet:127.0.0.1:$DC_LMTP
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
maillog_file = $dir/maillog
biff = no
EOF
	cat >"$dir/conf/master.cf" <<EOF
127.0.0.1:$PF_SMTP inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
	# Postfix prints fatal errors only to a tty or syslog (TESTLAB.md).
	script -qec "postfix -c $dir/conf start" /dev/null >"$dir/start.out" 2>&1 ||
		{ cat "$dir/start.out" >&2; return 1; }
	wait_port "$PF_SMTP"
	local i=0
	while [ ! -s "$dir/queue/pid/master.pid" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

case "${1:-}" in
install)
	install
	;;
start)
	dir=${2:?usage: peers.sh start DIR}
	HASHER=$(cd "$(dirname "$0")/.." && pwd)/build/bench_yescrypt
	[ -x "$HASHER" ] || { echo "peers: $HASHER missing (bench/run.sh builds it)" >&2; exit 1; }
	mkdir -p "$dir"
	chmod 755 "$dir"
	install
	PF_SMTP=$(free_port)
	DC_IMAP=$(free_port)
	DC_LMTP=$(free_port)
	DNS_PORT=$(free_port)
	start_nsd "$dir"
	start_dovecot "$dir"
	start_postfix "$dir"
	cat >"$dir/peers.env" <<EOF
PF_SMTP=$PF_SMTP
DC_IMAP=$DC_IMAP
DC_LMTP=$DC_LMTP
DC_PID=$(cat "$dir/dovecot/pid")
PF_MASTER_PID=$(tr -d ' ' <"$dir/postfix/queue/pid/master.pid")
PF_CONF=$dir/postfix/conf
DC_CONF=$dir/dovecot/dovecot.conf
DC_MAIL=$dir/dovecot/mail
DNS_PORT=$DNS_PORT
EOF
	;;
stop)
	dir=${2:?usage: peers.sh stop DIR}
	[ -d "$dir/postfix/conf" ] &&
		script -qec "postfix -c $dir/postfix/conf stop" /dev/null >/dev/null 2>&1 || true
	[ -s "$dir/nsd/pid" ] && kill -TERM "$(cat "$dir/nsd/pid")" 2>/dev/null || true
	if [ -s "$dir/dovecot/pid" ]; then
		pid=$(cat "$dir/dovecot/pid")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	;;
*)
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
	;;
esac
