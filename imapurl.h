/*
 * imapurl.h — the IMAP URLs (RFC 5092) that CATENATE (RFC 4469) takes to
 * name a message or a part of one in the user's own mailboxes:
 *
 *   imap://[user@]host[:port]/MAILBOX[;UIDVALIDITY=n]/;UID=m[/;SECTION=s][/;PARTIAL=o[.l]]
 *   /MAILBOX[;UIDVALIDITY=n]/;UID=m[/;SECTION=s][/;PARTIAL=o[.l]]
 *   ;UID=m[/;SECTION=s][/;PARTIAL=o[.l]]        (relative: the selected mailbox)
 *
 * Keywords are matched case-insensitively; MAILBOX, user and SECTION are
 * percent-decoded (RFC 5092 enc-mailbox is UTF-8). URLAUTH (";EXPIRE=",
 * ";URLAUTH=") and search URLs ("?query") are not accepted. The parser is
 * pure: it says what the URL names, not whether it exists or may be read
 * (imap_catenate.c decides that against the session).
 */
#ifndef BREV_IMAPURL_H
#define BREV_IMAPURL_H

#include <stddef.h>
#include <stdint.h>

#define IMAPURL_MAX	    4096 /* octets of one URL we look at */
#define IMAPURL_MBOX_MAX    512	 /* decoded mailbox name (STORE_MBOX_MAX) */
#define IMAPURL_SECTION_MAX 128
#define IMAPURL_HOST_MAX    255
#define IMAPURL_USER_MAX    254

struct imapurl {
	int absolute;			       /* imap://... */
	int relative;			       /* ;UID=... (no mailbox) */
	char user[IMAPURL_USER_MAX + 1];       /* "" when none */
	char host[IMAPURL_HOST_MAX + 1];       /* absolute only */
	unsigned port;			       /* 0 when none */
	char mbox[IMAPURL_MBOX_MAX + 1];       /* "" for a relative URL */
	uint32_t uidvalidity;		       /* 0 when none */
	uint32_t uid;			       /* always > 0 */
	char section[IMAPURL_SECTION_MAX + 1]; /* "" for the whole message */
	int partial;
	uint64_t partial_off, partial_len; /* partial_len 0: to the end */
};

/* Parse s (n octets). 0 and *u filled, or -1 (bad syntax, a field too
 * long, a 0 where a number > 0 is needed, URLAUTH, a query). */
int imapurl_parse(const char *s, size_t n, struct imapurl *u);

#endif
