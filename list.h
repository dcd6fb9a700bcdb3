/*
 * list.h — mailing lists at SMTP time (docs/lists.md): the RCPT hook that
 * accepts a list's addresses and the DATA hook that checks a post and
 * redistributes it through the outbound queue. smtp.c calls the two and
 * knows nothing else about lists.
 */
#ifndef BREV_LIST_H
#define BREV_LIST_H

#include <stddef.h>

#include "mailbox.h"

struct config;
struct spool;

#define LIST_SIZE_MAX (10u << 20) /* a post's size limit, bytes */
#define LIST_HOPS_MAX 20	  /* Received: fields a post may carry */
#define LIST_BATCH 500		  /* recipients per queue entry */
#define LIST_REPLIES_MAX 3	  /* automatic replies per list and address ... */
#define LIST_REPLIES_WINDOW 86400 /* ... in this many seconds */
#define LIST_TOKEN_LIFE (3 * 86400) /* a confirmation's validity, seconds */
#define LIST_REQUEST_READ 4096	  /* body bytes a request's command is read from */
#define LIST_HELD_SCAN 1000	  /* held posts an owner's emailed approval is matched against */

/* The list address a transaction's RCPT named, and which of its addresses. */
struct list_to {
	char list[STORE_ADDR_MAX + 1]; /* "" when none */
	int kind;                      /* enum list_kind (list_addr.h) */
	char member[STORE_ADDR_MAX + 1];
};

/* RCPT TO:<addr> (lower-cased, in a local domain): a list's address,
 * LIST-request@, LIST+subscribe@, LIST+unsubscribe@ or LIST-bounces(+x)@.
 * 0: addr is none of a list's addresses (resolve it as usual). 1: accepted, *to filled. -1:
 * refused, the whole SMTP reply in why (a second list in one transaction:
 * 452, the client sends it again on its own). */
int list_rcpt(struct store *st, const char *addr, struct list_to *to, char *why, size_t cap);

/* End of DATA for a transaction with a list recipient: a post is
 * checked and queued (committed) before this returns; a request
 * (subscribe, unsubscribe, help, confirm) is acted on and answered; a
 * bounce is counted. env_from is the
 * envelope sender, pre the header fields brev adds (Received, ...) in
 * front of body. 0 (also when it was accepted and dropped on purpose,
 * logged), or -1 with the SMTP reply to give in reply (then nothing was
 * queued). */
int list_data(struct store *st, const struct config *cfg, const struct list_to *to,
	      const char *env_from, const char *pre, size_t prelen, struct spool *body,
	      const char *id, char *reply, size_t cap);

/* `brev list approve LIST ID`: the held post goes to the members as if it
 * had just come from a member (every other check still applies) and is
 * then forgotten; one refused for good (a loop, too big) is forgotten
 * too. 0, or -1 with why in reply (an SMTP reply, or plain words). */
int list_approve(struct store *st, const struct config *cfg, const char *list, uint64_t id,
		 char *reply, size_t cap);

/* One bounce for member of list (list may also be the LIST-bounces@D
 * address a QF_VERP queue entry was sent from): counted against
 * lists.bounce_limit, and when it disables the member the list's owner
 * gets a notice through the queue. why: the reason, for the notice and
 * the log. Failures are logged; nothing is returned. */
void list_bounce(struct store *st, const struct config *cfg, const char *list, const char *member,
		 const char *why, const char *id);

#endif
