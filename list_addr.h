/*
 * list_addr.h — the addresses of a mailing list as text (docs/lists.md):
 * which list and which of its addresses a recipient names, the VERP
 * envelope sender that carries a member's address, the RFC 2919 List-Id
 * label, and the address in a From field. Pure code: no store, no I/O
 * (tests/unit/test_list_addr.c, fuzz/fuzz_list_addr.c).
 */
#ifndef BREV_LIST_ADDR_H
#define BREV_LIST_ADDR_H

#include <stddef.h>

enum list_kind {
	LIST_TO_POST,     /* LIST@D: a post */
	LIST_TO_REQUEST,  /* LIST-request@D (or LIST-request+x@D) */
	LIST_TO_BOUNCES,  /* LIST-bounces@D or the VERP LIST-bounces+m=dom@D */
	LIST_TO_SUB,      /* LIST+subscribe@D */
	LIST_TO_UNSUB,    /* LIST+unsubscribe@D */
};

/* What addr (lower-case local@domain, at most 254 bytes) would be if a list
 * answers to it: the list's address into list (cap >= 255), the kind, and
 * for LIST_TO_BOUNCES the member the VERP part names into member ("" when
 * none or it does not decode). 0, or -1 when addr cannot be one of a
 * list's addresses other than a plain post (then the caller tries it as
 * LIST_TO_POST itself: every address could be a list). The caller still
 * has to ask the store whether the list exists. */
int list_addr_parse(const char *addr, char *list, size_t cap, int *kind, char *member,
		    size_t mcap);

/* The VERP envelope sender for member of list: LIST-bounces+local=domain@D
 * into out. When it would pass 254 bytes, the plain LIST-bounces@D (the
 * bounce then cannot name its member). 0, or -1 when out is too small or
 * the arguments are not addresses. */
int list_verp(const char *list, const char *member, char *out, size_t cap);

/* The same from the list's LIST-bounces@D address (a QF_VERP queue
 * entry's sender). -1 when bounces is not such an address. */
int list_verp_bounces(const char *bounces, const char *member, char *out, size_t cap);

/* RFC 2919 list-id: "<LIST.DOMAIN>" with the local part's dots kept, e.g.
 * "news@club.test" -> "<news.club.test>". 0, or -1 when it does not fit. */
int list_id(const char *list, char *out, size_t cap);

/* The address of a From field's value (unfolded): the last <...> when
 * there is one, else the value itself when it is a bare local@domain;
 * lower-cased into out. The display name (without quotes) into name when
 * name is not NULL ("" when none). 0, or -1 when no address can be read
 * (a group, several addresses, no '@'). */
int list_from_addr(const char *value, char *out, size_t cap, char *name, size_t ncap);

/* ---- confirmation tokens (double opt-in, RFC 8058's one click) ----
 * A token is 29 characters: the action ('s' subscribe, 'u' unsubscribe;
 * for the owner 'a' approve and 'r' reject a held post, made for the list
 * "LIST#ID"),
 * the expiry in 8 hex digits (unix seconds), then 20 base32 characters of
 * HMAC-SHA256(key, action | expiry | list | address), 100 bits. The
 * address is not in the token: whoever confirms must be that address. */
#define LIST_TOKEN_LEN 29
/* Make the token into out (cap > LIST_TOKEN_LEN). */
void list_token_make(const unsigned char *key, size_t keylen, char action, long long expiry,
		     const char *list, const char *addr, char *out, size_t cap);
/* 0 when tok (exactly LIST_TOKEN_LEN characters, case-insensitive) is a
 * token of key for list and addr that has not expired at now, with its
 * action in *action; -1 forged or malformed; -2 expired. The MAC is
 * compared in constant time. */
int list_token_check(const unsigned char *key, size_t keylen, const char *tok, const char *list,
		     const char *addr, long long now, char *action);

/* ---- commands mailed to LIST-request@ ---- */
enum list_cmd { LIST_CMD_NONE, LIST_CMD_SUBSCRIBE, LIST_CMD_UNSUBSCRIBE, LIST_CMD_HELP,
		LIST_CMD_CONFIRM };
/* The command of a request: the Subject (unfolded; a leading "Re:" or
 * "Fwd:" and white space skipped) when it holds one, else the first
 * non-empty line of body (bodylen bytes, NUL-terminated after them). "confirm TOKEN"
 * may stand anywhere in the Subject (a reply keeps the confirmation's
 * subject after "Re: "); its token goes into token (cap >
 * LIST_TOKEN_LEN). Words are matched case-insensitively. */
int list_cmd_parse(const char *subject, const char *body, size_t bodylen, char *token,
		   size_t cap);

#endif
