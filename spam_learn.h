/*
 * spam_learn.h — where the Bayesian classifier learns (docs/spam.md
 * "Learning"): the IMAP actions that say "this is spam" or "this is not",
 * and `brev spam learn | status | why`.
 *
 * IMAP: a message copied or moved into the account's \Junk mailbox, or
 * given the keyword $Junk or Junk, is trained as spam; one moved or copied
 * out of \Junk (into anything but \Trash), or given $NotJunk or NonJunk, as
 * ham, which first takes back a spam training of the same message. A
 * message is known by its stored bytes (the blob id, shared by its copies
 * and kept by MOVE), so each counts at most once per direction. The hooks
 * run after the IMAP change committed, in the session's thread; a failing
 * training is logged and never fails the IMAP command. One command trains
 * at most SPAM_LEARN_MAX messages (each is a synced commit; the client
 * waits for them); the rest of a larger MOVE is logged as not trained.
 */
#ifndef BREV_SPAM_LEARN_H
#define BREV_SPAM_LEARN_H

#include <stddef.h>
#include <stdint.h>

#define SPAM_LEARN_MAX 500

struct store;
struct config;

/* After COPY/MOVE from src into dst: dst_uids are the copies' UIDs in dst
 * (0 entries skipped). */
void spam_learn_copy(struct store *st, uint32_t user, const char *src, const char *dst,
		     const uint32_t *dst_uids, size_t n);
/* After STORE +FLAGS / FLAGS with keywords kw on uids of mbox. */
void spam_learn_keywords(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
			 size_t n, const char *const *kw, size_t nkw);

/* `brev spam ...` (argv[0] = "spam"); returns the exit status. */
int spam_cli(struct store *st, int argc, char **argv);

#endif
