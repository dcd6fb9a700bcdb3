/*
 * greylist.h — greylisting on the inbound port (RFC 6647, docs/spam.md
 * "Greylisting"), decided per recipient at RCPT TO: a 451 there costs the
 * sender nothing but a retry, before any data is sent, and the triplet is
 * complete (client network, sender, recipient). Never on submission.
 * The table is the store's (mailbox.h "greylisting").
 */
#ifndef BREV_GREYLIST_H
#define BREV_GREYLIST_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct config;
struct resolved;

/* The client network of a textual address: "a.b.c.0/24" for IPv4 (also
 * IPv4-mapped IPv6), the /64 "xxxx:xxxx:xxxx:xxxx::/64" for IPv6. 0, or
 * -1 for anything that is not an address. */
int greylist_net(const char *ip, char *out, size_t cap);

/* 1 if this recipient must get 451 4.7.1 now, 0 if it may go on. Off
 * (0) when spam.greylist_delay is 0, for the machine itself (127.0.0.1,
 * ::1), and when no account of r is at normal or strict (an alias that only
 * forwards: brev.conf's spam.strength); an account whose allow list names
 * the sender does not count. A store failure passes (0): it is
 * logged, and greylisting is a delay, not a verdict. `id` for the log. */
int greylist_rcpt(struct store *st, const struct config *cfg, const char *id, const char *peer,
		  const char *from, const char *rcpt, const struct resolved *r);

/* Known senders (a user wrote to them over submission) are recorded in
 * the message's own commit (smtp.h's smtp_rcptset.writer), whatever
 * spam.greylist_delay says: they also get a ham bias (docs/spam.md). */

#endif
