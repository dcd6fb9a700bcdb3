/*
 * objid.h — the object ids other protocols show for brev's mailboxes and
 * messages: IMAP OBJECTID (RFC 8474) MAILBOXID, EMAILID and THREADID, and
 * the JMAP ids (RFC 8620 1.2, RFC 8621) that must be the same strings.
 * Defined once here so that no protocol invents its own.
 *
 * Every id is 1..OBJID_MAX-1 characters of [A-Za-z0-9_-] (RFC 8474 4,
 * RFC 8620 1.2), a letter naming its kind followed by a decimal number
 * from the store:
 *  - MAILBOXID "M<n>": the mailbox's store id (struct mbox_info.id), taken
 *    from a store-wide counter that only grows, so never reused; a RENAME
 *    keeps the record and so the id.
 *  - EMAILID "E<n>": the message's blob id (struct msg_info.blob), also
 *    from a counter that only grows. COPY and MOVE share the blob, so a
 *    moved or copied message keeps its EMAILID (RFC 8474 5.1).
 *  - THREADID: brev keeps no thread ids yet and answers NIL (RFC 8474 5.2
 *    allows it); the JMAP work brings persistent ones with prefix "T".
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef BREV_OBJID_H
#define BREV_OBJID_H

#include <stddef.h>
#include <stdint.h>

#define OBJID_MAX	 32  /* buffer size: a letter, up to 20 digits, NUL */
#define OBJID_SYNTAX_MAX 255 /* RFC 8474 objectid: 1*255 chars */

/* out gets the id as a NUL-terminated string. */
void objid_mailbox(char out[OBJID_MAX], uint32_t mbox_id);
void objid_email(char out[OBJID_MAX], uint64_t blob);
/* Whether s (n bytes) is an objectid by RFC 8474's syntax: 1..255 of
 * [A-Za-z0-9_-]. A syntactically valid id need not name anything. */
int objid_valid(const char *s, size_t n);
/* The blob an EMAILID names: 0 with *blob set, -1 if s is no id brev
 * makes ("E" and a decimal without leading zeros, 1..2^64-1). */
int objid_email_parse(const char *s, uint64_t *blob);
int objid_mailbox_parse(const char *s, uint32_t *mbox_id);

#endif
