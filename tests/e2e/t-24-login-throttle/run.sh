#!/bin/bash
# The login throttle's model (issue 22, docs/auth.md), with imaplib from
# chosen loopback addresses:
# - wrong passwords for alice from six addresses (one each, so no address
#   is slowed) slow alice's next login from a new address by about a
#   second, while alice from an address she has logged in from before is
#   not slowed;
# - guesses at other names from a shared address (a NAT) slow that
#   address, but not bob, who has logged in from it before; carol, new
#   there, is slowed, not refused.
. ../lib.sh
brev_init throttle
brev_user alice@example.test pw-alice
brev_user bob@example.test pw-bobby
brev_user carol@example.test pw-carol
brev_start
python3 -u - <<'PY' || fail "throttle"
import imaplib, os, socket, time

P_IMAP = int(os.environ["P_IMAP"])


def login(src, user, pw):
    """Seconds LOGIN took, and whether it succeeded."""
    class IMAP(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, (src, 0))
    m = IMAP("127.0.0.1", P_IMAP, timeout=60)
    t = time.monotonic()
    try:
        m.login(user, pw)
        ok = True
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
        ok = False
    dt = time.monotonic() - t
    m.shutdown()
    return dt, ok

# alice has logged in from 127.40.0.5 before.
assert login("127.40.0.5", "alice@example.test", "pw-alice")[1]
for i in range(6):
    dt, ok = login("127.40.1.%d" % (i + 1), "alice@example.test", "guess-%d" % i)
    assert not ok
fresh, ok = login("127.40.2.1", "alice@example.test", "pw-alice")
assert ok
home, ok = login("127.40.0.5", "alice@example.test", "pw-alice")
assert ok
print("alice after 6 guesses elsewhere: %.2f s from a new address, %.2f s from home" % (fresh, home))
assert fresh >= 0.8, "guesses at alice from many addresses did not slow her account"
assert home < 0.6, "alice slowed at an address she logged in from before"

# A shared address: bob logged in there before; someone guesses there.
nat = "127.40.3.1"
assert login(nat, "bob@example.test", "pw-bobby")[1]
for i in range(5):
    assert not login(nat, "guess%d@example.test" % i, "x")[1]
bob, ok = login(nat, "bob@example.test", "pw-bobby")
assert ok
carol, ok = login(nat, "carol@example.test", "pw-carol")
assert ok, "carol refused at the shared address"
print("at the shared address after 5 guesses: bob %.2f s, carol (new there) %.2f s" % (bob, carol))
assert bob < 0.6, "bob slowed by someone else's guesses at his address"
assert carol >= 2.5, "the guessing address was not slowed for a new user"
PY
grep -q "auth: failed login from 127.40.3.1 (5 in a row" "$D/serve.log" || fail "no failure log line"
# docs/auth.md: only the address and counts are logged, never the password
# or what was typed as one (serve.log is at log.level debug here)
if grep -E 'pw-(alice|bob|carol)|guess-[0-9]' "$D/serve.log"; then fail "a password reached the log"; fi
brev_stop
echo ok
