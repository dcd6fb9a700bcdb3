#!/bin/bash
# `make run` (issue 23): ARGS reaches brev (`make run ARGS='-d DIR -o ...'`),
# and the static link hides libcrypto's and ldns's known NSS warnings behind
# one line while other linker messages and the exit status stay.
. ../lib.sh
cd "$ROOT"

# ---- tools/link-quiet.sh on real static links ----
cat >"$T/nss.c" <<'C'
#include <netdb.h>
#include <stdio.h>
int main(void)
{
	struct addrinfo *ai;
	char b[L_tmpnam];
	printf("%s\n", tmpnam(b)); /* a warning that must stay visible */
	return getaddrinfo("localhost", NULL, NULL, &ai);
}
C
rc=0; tools/link-quiet.sh gcc -static -o "$T/nss" "$T/nss.c" 2>"$T/ld.err" || rc=$?
[ $rc = 0 ] || fail "link-quiet changed a good link's status: $rc $(cat "$T/ld.err")"
grep -q "Using 'getaddrinfo'" "$T/ld.err" && fail "the getaddrinfo warning was not hidden: $(cat "$T/ld.err")"
grep -q "tmpnam.* is dangerous" "$T/ld.err" || fail "another linker warning was hidden: $(cat "$T/ld.err")"
grep -q '^  (1 static-link warnings about getaddrinfo/dlopen/getservby\*/getprotoby\* hidden' "$T/ld.err" ||
	fail "no summary line: $(cat "$T/ld.err")"
# brev's own library mix: every known warning hidden, one line left
printf 'int main(void){return 0;}\n' >"$T/empty.c"
printf '#include <ldns/ldns.h>\n#include <openssl/bio.h>\n#include <openssl/crypto.h>\nint main(int c,char**v){OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);if(c>5){ldns_rdf2buffer_str(0,0);ldns_str2rdf_wks(0,v[0]);BIO_lookup_ex(0,0,0,0,0,0,0);BIO_gethostbyname(v[0]);}return 0;}\n' >"$T/libs.c"
tools/link-quiet.sh gcc -static -Wno-deprecated-declarations -o "$T/libs" "$T/libs.c" -lldns -lssl -lcrypto -pthread 2>"$T/ld2.err" ||
	fail "static link with ldns and libcrypto: $(cat "$T/ld2.err")"
[ "$(wc -l <"$T/ld2.err")" = 1 ] && grep -q '^  (9 static-link warnings .* hidden' "$T/ld2.err" ||
	fail "ldns/libcrypto link left more than the summary: $(cat "$T/ld2.err")"
# a failing link keeps its status and its error
rc=0; tools/link-quiet.sh gcc -o "$T/bad" -x c - <<<'int f(void); int main(void){return f();}' 2>"$T/ld3.err" || rc=$?
[ $rc != 0 ] || fail "a failed link returned 0"
grep -q "undefined reference to .f'" "$T/ld3.err" || fail "the link error was hidden: $(cat "$T/ld3.err")"
# the Makefile links brev through it (-n: nothing is built)
# (output captured first: grep -q closing the pipe early can kill make with
# SIGPIPE in the middle of the long link line, and pipefail fails the test)
make -n -W main.c brev >"$T/n" || fail "make -n brev"
grep -q '^tools/link-quiet.sh .* -static -o brev ' "$T/n" || fail "brev's link rule does not use link-quiet.sh"
make -n -W main.c brev V=1 >"$T/v1"
grep -q -- ' -static -o brev ' "$T/v1" && ! grep -q link-quiet "$T/v1" || fail "V=1 should link without the filter"

# ---- make run ARGS=... ----
case "$BREV" in *-san) MK=(SANITIZE=address,undefined) ;; *) MK=() ;; esac
# make run would rebuild an out-of-date binary in the tree other tests use
make -q "${MK[@]}" "$(basename "$BREV")" || fail "$(basename "$BREV") is not up to date: build it before running the tests"
read -r P1 P2 P3 P4 P5 P6 P7 DEADP P8 P9 P10 <<<"$(free_ports 11 | tr '\n' ' ')"
R=$T/run
ARGS="-d $R -o listen.smtp=127.0.0.1:$P1 -o listen.submission=127.0.0.1:$P2 -o listen.submissions=127.0.0.1:$P3"
ARGS="$ARGS -o listen.imap=127.0.0.1:$P4 -o listen.imaps=127.0.0.1:$P5 -o listen.pop3=127.0.0.1:$P6"
ARGS="$ARGS -o listen.http=127.0.0.1:$P8 -o listen.https=127.0.0.1:$P9 -o listen.managesieve=127.0.0.1:$P10"
ARGS="$ARGS -o listen.pop3s=127.0.0.1:$P7 -o dns.resolver=127.0.0.1:$DEADP -o delivery.port=$DEADP"
USER=tester make --no-print-directory "${MK[@]}" run ARGS="$ARGS" >"$T/run.out" 2>&1 &
wait_port "$P4" 60
"$BREV" -d "$R" status >"$T/status.out" || fail "status: $(cat "$T/run.out")"
grep -Eq "^  imap +127\.0\.0\.1:$P4\$" "$T/status.out" || fail "make run did not pass ARGS: $(cat "$T/status.out")"
grep -q "tester@localhost" "$T/run.out" || fail "first run output: $(cat "$T/run.out")"
pid=$(sed -n 's/^server *running: pid \([0-9]*\),.*/\1/p' "$T/status.out")
[ -n "$pid" ] || fail "no pid in status"
kill -TERM "$pid"
wait || true
grep -Eq "\./$(basename "$BREV")( -o user=nobody)? -d $R -o listen.smtp=" "$T/run.out" || fail "make run's command line: $(head -3 "$T/run.out")"
echo ok
