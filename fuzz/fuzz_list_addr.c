/*
 * fuzz_list_addr.c — a mailing list's addresses as text (list_addr.c):
 * the input, NUL-terminated, as a recipient address a peer names (RCPT
 * TO), as the value of a From field, as a member whose VERP sender is
 * made, as the Subject and as the body of a request mailed to
 * LIST-request@ (list_cmd_parse), and as a confirmation token.
 *
 * Properties: no crash, no overrun (ASan); whatever list_addr_parse
 * returns is a local@domain of at most 254 bytes, and a decoded VERP
 * member is one too; every VERP sender made for a member parses back to
 * the same list and, when it carries the member, to the same member.
 */
/* deps: list_addr util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "list_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char list[256], member[256], out[300], name[200], v[600], l2[256], m2[256];
	int kind, k2;
	if (size > 600)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	if (list_addr_parse(s, list, sizeof list, &kind, member, sizeof member) == 0) {
		if (strlen(list) > 254 || !strchr(list, '@'))
			abort();
		if (member[0] && (strlen(member) > 254 || !strchr(member, '@')))
			abort();
	}
	if (list_from_addr(s, out, sizeof out, name, sizeof name) == 0 &&
	    (strlen(out) > 254 || !strchr(out, '@')))
		abort();
	if (list_verp("news@club.test", s, v, sizeof v) == 0) {
		if (list_addr_parse(v, l2, sizeof l2, &k2, m2, sizeof m2) < 0 ||
		    k2 != LIST_TO_BOUNCES || strcmp(l2, "news@club.test"))
			abort();
		/* the member comes back unless the sender had to drop it */
		if (strcmp(v, "news-bounces@club.test") && m2[0] && strcmp(m2, s))
			abort();
	}
	char tok[64], act;
	int c = list_cmd_parse(s, s, size, tok, sizeof tok);
	if (c == LIST_CMD_CONFIRM && strlen(tok) != LIST_TOKEN_LEN)
		abort();
	c = list_cmd_parse(NULL, s, size, tok, sizeof tok);
	if (c == LIST_CMD_CONFIRM && strlen(tok) != LIST_TOKEN_LEN)
		abort();
	static const unsigned char key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
	if (list_token_check(key, sizeof key, s, "news@club.test", "bob@b.test", 0, &act) == 0)
		abort();
	free(s);
	return 0;
}
