/*
 * fuzz_mime.c — message.c on arbitrary messages: the MIME tree, ENVELOPE,
 * BODYSTRUCTURE, every section, header iteration, decoding, text search.
 */
/* deps: message message_text util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

static void walk(const struct mime_part *p, size_t size)
{
	if (p->hdr_off + p->hdr_size > size || p->body_off + p->body_size > size)
		abort(); /* every range lies inside the message */
	for (const struct mime_part *c = p->children; c; c = c->next)
		walk(c, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_src src;
	struct sbuf b = {0};
	msg_src_mem(&src, data, size);
	struct mime_part *r = mime_parse(&src);
	walk(r, size);
	mime_envelope(&b, r, 0);
	mime_bodystructure(&b, r, 1, 1);
	mime_bodystructure(&b, r, 0, 0);
	uint32_t nums[3] = {1, 2, 1};
	for (size_t n = 0; n <= 3; n++)
		(void)mime_section(r, nums, n);
	(void)mime_search_text(r, &src, "needle", 1);
	size_t pos = 0, nl, vl;
	const char *name, *val;
	while (mime_hdr_next((const char *)data, size, &pos, &name, &nl, &val, &vl)) {
		char *d = mime_decode_words(val, vl);
		free(d);
	}
	mime_decode_body(&b, (const char *)data, size, CTE_BASE64);
	mime_decode_body(&b, (const char *)data, size, CTE_QP);
	mime_free(&r);
	sbuf_free(&b);
	return 0;
}
