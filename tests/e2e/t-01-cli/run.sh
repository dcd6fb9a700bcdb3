#!/bin/bash
# The command line as a new user meets it: init, users, aliases, status,
# config errors, the static binary, first run of `serve` on an empty DATADIR.
. ../lib.sh

# The binary is static and uses no NSS (issue 2). Skip the check for the
# sanitizer build, which cannot be static.
case "$BREV" in
*brev-san) ;;
*)
	out=$(file "$BREV") || fail "file $BREV"
	grep -q "statically linked" <<<"$out" || fail "brev is not statically linked: $out"
	if ldd "$BREV" >/dev/null 2>&1; then fail "ldd thinks brev is dynamic"; fi
	;;
esac
# Output is captured before it is searched: in `if brev ... | grep -q x;
# then fail` a brev that crashed looks like one that printed nothing.
out=$("$BREV" version) || fail "version: exit $?"
grep -Eq '^brev [0-9]' <<<"$out" || fail "version: $out"

X=$T/x
"$BREV" -d "$X" init --domain example.test >"$T/init.out" || fail "init"
[ -f "$X/brev.conf" ] && [ -f "$X/cert.pem" ] && [ -f "$X/key.pem" ] && [ -d "$X/store" ] ||
	fail "init did not create config, key, certificate and store"
[ "$(stat -c %a "$X/key.pem")" = 600 ] || fail "key.pem is not mode 600"
grep -q '^#limits.message_size = 50M' "$X/brev.conf" || fail "brev.conf does not list the defaults"
grep -q '^domains = example.test' "$X/brev.conf" || fail "brev.conf lacks the domain"
# cert.pem (server certificate, then the local CA: t-06) verifies with OpenSSL.
openssl verify -CAfile "$X/cert.pem" "$X/cert.pem" >/dev/null || fail "openssl cannot verify the certificate"
out=$(openssl x509 -in "$X/cert.pem" -noout -ext subjectAltName) || fail "openssl x509"
grep -q 'DNS:localhost' <<<"$out" || fail "certificate lacks DNS:localhost"

# A refusal is exit 1 with one line (DESIGN §2): anything else, such as a
# crash, is not a refusal.
rc=0; "$BREV" -d "$X" init 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "second init: exit $rc"
grep -q "already initialised" "$T/err" || fail "second init: $(cat "$T/err")"

echo alice-password | "$BREV" -d "$X" user add alice@example.test >/dev/null || fail "user add"
printf 'bob-secret\n' | "$BREV" -d "$X" user add Bob@Example.TEST >/dev/null || fail "user add bob"
"$BREV" -d "$X" user list >"$T/list"
grep -q '^alice@example.test ' "$T/list" || fail "user list lacks alice: $(cat "$T/list")"
grep -q '^bob@example.test ' "$T/list" || fail "user list lacks bob (lower-cased)"
rc=0; echo long-enough | "$BREV" -d "$X" user add alice@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "duplicate user add: exit $rc"
grep -q "already exists" "$T/err" || fail "duplicate: $(cat "$T/err")"
rc=0; echo long-enough | "$BREV" -d "$X" user add carol@elsewhere.test 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "non-local user add: exit $rc"
grep -q "not one of this server's domains" "$T/err" || fail "non-local: $(cat "$T/err")"
rc=0; echo long-enough | "$BREV" -d "$X" user add not-an-address 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "bad address: exit $rc"
[ "$(wc -l <"$T/err")" = 1 ] || fail "error is not one line: $(cat "$T/err")"
"$BREV" -d "$X" user add dave@example.test --random >"$T/rand" </dev/null || fail "user add --random"
grep -Eq '^password for dave@example.test: [A-Za-z0-9]{16,}$' "$T/rand" || fail "random password: $(cat "$T/rand")"
echo new-password | "$BREV" -d "$X" user passwd alice@example.test >/dev/null || fail "user passwd"
"$BREV" -d "$X" user del dave@example.test >/dev/null || fail "user del"
out=$("$BREV" -d "$X" user list) || fail "user list: exit $?"
if grep -q dave <<<"$out"; then fail "dave still listed"; fi
rc=0; "$BREV" -d "$X" user del dave@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "deleting a missing user: exit $rc $(cat "$T/err")"

# RFC 5321 4.5.1: the first account of the domain got postmaster@ (issue 23)
out=$("$BREV" -d "$X" alias list) || fail "alias list: exit $?"
grep -qx 'postmaster@example.test -> alice@example.test' <<<"$out" ||
	fail "no postmaster alias made with the first account: $out"
"$BREV" -d "$X" alias add team@example.test alice@example.test bob@example.test friend@remote.test >/dev/null ||
	fail "alias add list"
"$BREV" -d "$X" alias add @example.test alice@example.test >/dev/null || fail "catch-all"
"$BREV" -d "$X" alias list >"$T/aliases"
grep -q '^team@example.test -> ' "$T/aliases" || fail "alias list: $(cat "$T/aliases")"
grep -q 'friend@remote.test' "$T/aliases" || fail "alias list lacks the external target"
grep -q '^@example.test -> alice@example.test' "$T/aliases" || fail "catch-all not listed"
rc=0; "$BREV" -d "$X" alias add alice@example.test bob@example.test 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "alias over an account: exit $rc $(cat "$T/err")"
"$BREV" -d "$X" alias del team@example.test >/dev/null || fail "alias del"
out=$("$BREV" -d "$X" alias list) || fail "alias list: exit $?"
if grep -q '^team@' <<<"$out"; then fail "alias not deleted"; fi

"$BREV" -d "$X" status >"$T/status" || fail "status"
grep -q 'not running' "$T/status" || fail "status: server state"
grep -q 'alice@example.test' "$T/status" || fail "status lacks accounts"
out=$("$BREV" -d "$X" queue list) || fail "queue list: exit $?"
grep -q '^0 messages queued' <<<"$out" || fail "queue list: $out"

# Bad configuration: exit 1 and one line naming the key.
rc=0; "$BREV" -d "$X" -o no.such.key=1 serve 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "bad -o key: exit $rc"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q "no.such.key" "$T/err" || fail "bad -o key: $(cat "$T/err")"
echo "log.level = chatty" >>"$X/brev.conf"
rc=0; "$BREV" -d "$X" serve 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "bad brev.conf: exit $rc"
grep -Eq '^brev: brev.conf:[0-9]+: .*chatty' "$T/err" || fail "bad brev.conf: $(cat "$T/err")"
rc=0; "$BREV" -d "$T/none" user list 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "not initialised" "$T/err" || fail "uninitialised datadir: $(cat "$T/err")"

# First run of serve on an empty DATADIR: initialises for localhost, creates
# $USER@localhost with a random password, prints client settings.
F=$T/first
p() { free_port; }
# the ports in one call before the start (each free_port takes a global
# lock: ten of them on a loaded machine used up the wait below)
read -r -a FP <<<"$(free_ports 11 | tr '\n' ' ')"
USER=tester "$BREV" -d "$F" "${AS_USER[@]}" -o listen.smtp=127.0.0.1:${FP[0]} -o listen.submission=127.0.0.1:${FP[1]} \
	-o listen.submissions=127.0.0.1:${FP[2]} -o listen.imap=127.0.0.1:${FP[3]} -o listen.imaps=127.0.0.1:${FP[4]} \
	-o listen.pop3=127.0.0.1:${FP[5]} -o listen.pop3s=127.0.0.1:${FP[6]} -o dns.resolver=127.0.0.1:${FP[7]} \
	-o listen.http=127.0.0.1:${FP[8]} -o listen.https=127.0.0.1:${FP[9]} -o listen.managesieve=127.0.0.1:${FP[10]} serve >"$T/first.out" 2>"$T/first.err" &
pid=$!
for i in $(seq 100); do grep -q 'pop3s' "$T/first.out" 2>/dev/null && break; sleep 0.1; done
grep -q 'tester@localhost' "$T/first.out" || fail "first run: no user name printed: $(cat "$T/first.out" "$T/first.err")"
grep -Eq 'password +[A-Za-z0-9]{16,}' "$T/first.out" || fail "first run: no password printed"
grep -q 'SHA-256 [0-9A-F:]\{95\}' "$T/first.out" || fail "first run: no certificate fingerprint"
out=$("$BREV" -d "$F" user list) || fail "user list: exit $?"
grep -q '^tester@localhost ' <<<"$out" || fail "first run: account missing"
out=$("$BREV" -d "$F" status) || fail "status: exit $?"
grep -q 'server *running' <<<"$out" || fail "status does not see the running server: $out"
kill -TERM $pid
wait $pid || fail "serve did not exit 0 on SIGTERM"
# A second start prints the listeners only, no password.
USER=tester "$BREV" -d "$F" "${AS_USER[@]}" -o listen.smtp=127.0.0.1:$(p) -o listen.submission= -o listen.submissions= \
	-o listen.imap= -o listen.imaps= -o listen.pop3= -o listen.pop3s= -o listen.http= -o listen.https= -o listen.managesieve= serve >"$T/second.out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q 'smtp' "$T/second.out" 2>/dev/null && break; sleep 0.1; done
grep -q 'smtp' "$T/second.out" || fail "second run: no listeners printed"
if grep -q 'password' "$T/second.out"; then fail "second run printed a password"; fi
kill -INT $pid
wait $pid || fail "serve did not exit 0 on SIGINT"
echo "ok"
