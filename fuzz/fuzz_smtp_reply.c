/* fuzz_smtp_reply.c — the SMTP client's reply parser (queue_smtp.c): the
 * input is split into lines and fed as one reply, first as an answer to
 * EHLO (keyword parsing) then as any other reply. Invariants: the code is
 * 200..599 once a line was accepted, the kept text is printable ASCII and
 * NUL-terminated inside its buffer, the line count stays bounded. */
/* deps: queue_smtp conn tls spool util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../queue.h"

static void check(const struct smtp_reply *r)
{
	size_t n = strnlen(r->text, sizeof r->text);
	if (n == sizeof r->text || strnlen(r->enh, sizeof r->enh) == sizeof r->enh)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] >= 0x7f)
			abort();
	if (r->nlines > SMTP_REPLY_LINES_MAX)
		abort();
	if (r->nlines && (r->code < 200 || r->code > 599))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int ehlo = 0; ehlo < 2; ehlo++) {
		struct smtp_reply r;
		size_t off = 0;
		smtp_reply_init(&r);
		while (off < size) {
			const uint8_t *nl = memchr(data + off, '\n', size - off);
			size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
			if (n > SMTP_REPLY_LINE_MAX)
				n = SMTP_REPLY_LINE_MAX;
			int rc = smtp_reply_line(&r, (const char *)data + off, n, ehlo);
			check(&r);
			if (rc != 0)
				break;
			off += n + 1;
		}
	}
	return 0;
}
