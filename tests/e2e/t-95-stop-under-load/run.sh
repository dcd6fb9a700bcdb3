#!/bin/bash
# Graceful stop under load: t-90's 20 SMTP senders, but brev is stopped
# with SIGTERM (at least 5 times, at random moments, restarted each time)
# while 10 IMAP IDLE, 5 POP3 and 5 half-way-through-DATA SMTP sessions are
# held open. Each stop must end every session and join its thread, exit 0
# within 15 s, and lose nothing: every message that got 250 is in the
# mailbox exactly once, and the store opens cleanly.
export STOP=term
cd ../t-90-crash-smtp && exec bash ./run.sh
