#!/bin/bash
# Differential test of brev's Sieve interpreter against Pigeonhole, the
# reference implementation (Debian's dovecot-sieve ships sieve-test): every
# script in scripts/ (except inc-*, which 23-include includes) runs on every
# message in msgs/ with the envelope in msgs/NAME.env, through
# `sieve-test` and through `brev sieve test`; both outputs are reduced to
# the same normal form (one action per line, sorted; flags lower-cased and
# sorted) and must be equal for every pair. Differences the RFCs allow are
# listed in docs/sieve.md and normalised away below, each with its reason.
. ../lib.sh

command -v sieve-test >/dev/null || fail "sieve-test missing: tools/deps.sh test installs dovecot-sieve"
HERE=$(cd "$(dirname "$0")" && pwd)
W=$T/pigeonhole
mkdir -p "$W/mail" "$W/sieve"
cp "$HERE"/scripts/*.sieve "$W/sieve/"
# Pigeonhole refuses to run as root; as root it runs as nobody, who must
# read the scripts and messages and write its mail location.
if [ "$(id -u)" = 0 ]; then uid=65534 gid=65534; else uid=$(id -u) gid=$(id -g); fi
cat >"$W/dovecot.conf" <<CONF
first_valid_uid = 0
first_valid_gid = 0
mail_uid = $uid
mail_gid = $gid
mail_location = maildir:$W/mail
plugin {
  sieve = file:$W/sieve;active=$W/sieve/.active
  sieve_extensions = +vacation-seconds
  # the account's own address (brev: struct sieve_msg.user), which
  # vacation counts as the user's besides the envelope recipient
  sieve_user_email = user@example.test
}
CONF
chmod -R a+rwX "$W"
chmod a+rx "$T"

# Pigeonhole's report to the normal form of `brev sieve test`.
norm_pigeonhole() {
	python3 -c '
import sys, re
text = sys.stdin.read()
out = []
if "failed to compile" in text:
    print("compile-error"); sys.exit(0)
if "final result: failed" in text:
    print("store INBOX"); sys.exit(0)
cur = None
for line in text.splitlines():
    m = re.match(r"\s*\* store message in folder: (.*)$", line)
    if m:
        cur = ["store " + m.group(1), []]; out.append(cur); continue
    m = re.match(r"\s*\+ add IMAP flags: (.*)$", line)
    if m and cur:
        cur[1] += m.group(1).split(); continue
    cur = None
    m = re.match(r"\s*\* redirect message to: <(.*)>$", line)
    if m: out.append(["redirect " + m.group(1), []]); continue
    m = re.match(r"\s*\* reject message with reason: (.*)$", line)
    if m: out.append(["reject " + m.group(1), []]); continue
    m = re.match(r"\s*=> seconds : (\d+)$", line)
    if m: out.append(["vacation seconds=" + m.group(1), []]); continue
    if re.match(r"\s*\* send vacation message:", line) and "=> seconds" not in text:
        out.append(["vacation", []])
lines = []
for a, f in out:
    if f: a += " flags: " + " ".join(sorted(set(x.lower() for x in f)))
    lines.append(a)
print("\n".join(sorted(set(lines))) if lines else "discard")
'
}
norm_brev() {
	python3 -c '
import sys, re
lines = []
for line in sys.stdin.read().splitlines():
    if not line or line.startswith("duplicate-record ") or line == "discard": continue
    m = re.match(r"(store \S.*?) flags: (.*)$", line)
    if m: line = m.group(1) + " flags: " + " ".join(sorted(set(x.lower() for x in m.group(2).split())))
    m = re.match(r"redirect (\S+)( copy)?$", line)
    if m: line = "redirect " + m.group(1)
    m = re.match(r"vacation to=\S* seconds=(\d+) ", line)
    if m: line = "vacation seconds=" + m.group(1)
    lines.append(line)
print("\n".join(sorted(set(lines))) if lines else "discard")
'
}

pairs=0 bad=0
for s in "$W"/sieve/*.sieve; do
	name=$(basename "$s" .sieve)
	case $name in inc-*) continue ;; esac
	for m in "$HERE"/msgs/*.eml; do
		mn=$(basename "$m" .eml)
		read -r from to <"${m%.eml}.env"
		cp "$m" "$W/$mn.eml"
		chmod a+r "$W/$mn.eml"
		# sieve-test's exit status is 1 for a script that failed at run
		# time (then resolved with implicit keep): the report says so.
		ph=$({ sieve-test -c "$W/dovecot.conf" -f "$from" -a "$to" -r "$to" "$s" "$W/$mn.eml" 2>&1 || true; } | norm_pigeonhole)
		# Without -e sieve-test lists a vacation action without applying
		# RFC 5230 4.5 (Auto-Submitted, lists, explicit recipient): with -e
		# it executes the actions (printing, not sending, what it would
		# send) and logs "discarding vacation response" when they forbid it.
		case $name in *vacation*)
			ex=$(sieve-test -e -c "$W/dovecot.conf" -f "$from" -a "$to" -r "$to" "$s" "$W/$mn.eml" 2>&1 || true)
			if grep -q "discarding vacation response" <<<"$ex"; then
				ph=$(grep -v '^vacation' <<<"$ph")
			elif ! grep -q "sent vacation response" <<<"$ex"; then
				fail "$name x $mn: sieve-test -e neither sent nor discarded the vacation response"
			fi ;;
		esac
		br=$("$BREV" sieve test "$s" "$W/$mn.eml" --from "$from" --to "$to" --user user@example.test 2>"$T/brev.err"; echo "rc=$?")
		rc=${br##*rc=}
		br=${br%rc=*}
		if [ "$rc" = 1 ]; then
			grep -Eq '^.*: line [0-9]+: ' "$T/brev.err" || fail "$name: compile error without 'line N:': $(cat "$T/brev.err")"
			br="compile-error"
		elif [ "$rc" != 0 ]; then
			fail "$name x $mn: brev sieve test exit $rc: $(cat "$T/brev.err")"
		else
			br=$(norm_brev <<<"$br")
		fi
		pairs=$((pairs + 1))
		if [ "$ph" != "$br" ]; then
			bad=$((bad + 1))
			echo "DIFF $name x $mn"
			diff <(echo "$ph") <(echo "$br") | sed 's/^/    /' || true
		fi
	done
done
note "$pairs script x message pairs compared, $bad differ"
[ "$bad" = 0 ] || fail "$bad of $pairs pairs differ from Pigeonhole"
[ "$pairs" -ge 150 ] || fail "only $pairs pairs compared"
