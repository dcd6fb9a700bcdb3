#!/bin/bash
# Crash with IMAP APPEND: the same as t-90 (20 sessions, SIGKILL at least 5
# times at random moments, restart), every APPEND that got its OK is in the
# mailbox exactly once afterwards, the store opens cleanly.
export KIND=append
cd ../t-90-crash-smtp && exec bash ./run.sh
