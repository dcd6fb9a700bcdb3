/*
 * fuzz_imapurl.c — the RFC 5092 IMAP URL parser CATENATE uses (imapurl.c)
 * on arbitrary bytes.
 *
 * Properties: no crash, no overrun (ASan); an accepted URL names a UID > 0
 * and, unless relative, a non-empty mailbox; and it round-trips: the
 * fields written back as a URL (every octet outside [A-Za-z0-9] percent-
 * encoded) parse to the same fields.
 */
/* deps: imapurl util log */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapurl.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void enc(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			sbuf_add(b, s, 1);
		else
			sbuf_printf(b, "%%%02X", c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imapurl u, v;
	if (size > IMAPURL_MAX + 16)
		return 0;
	if (imapurl_parse((const char *)data, size, &u) < 0)
		return 0;
	if (u.uid == 0 || (!u.relative && !u.mbox[0]) || (u.relative && u.absolute))
		abort();
	struct sbuf b = {0};
	if (u.absolute) {
		sbuf_puts(&b, "imap://");
		if (u.user[0]) {
			enc(&b, u.user);
			sbuf_puts(&b, "@");
		}
		enc(&b, u.host);
		if (u.port)
			sbuf_printf(&b, ":%u", u.port);
	}
	if (!u.relative) {
		sbuf_puts(&b, "/");
		enc(&b, u.mbox);
		if (u.uidvalidity)
			sbuf_printf(&b, ";UIDVALIDITY=%u/", u.uidvalidity);
		else
			sbuf_puts(&b, "/");
	}
	sbuf_printf(&b, ";UID=%u", u.uid);
	if (u.section[0]) {
		sbuf_puts(&b, "/;SECTION=");
		enc(&b, u.section);
	}
	if (u.partial) {
		sbuf_printf(&b, "/;PARTIAL=%llu", (unsigned long long)u.partial_off);
		if (u.partial_len)
			sbuf_printf(&b, ".%llu", (unsigned long long)u.partial_len);
	}
	if (b.len <= IMAPURL_MAX) {
		if (imapurl_parse(b.p, b.len, &v) < 0 || memcmp(&u, &v, sizeof u) != 0) {
			fprintf(stderr, "round trip failed: %.*s\n", (int)b.len, b.p);
			abort();
		}
	}
	sbuf_free(&b);
	return 0;
}
