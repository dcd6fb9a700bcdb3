/*
 * fuzz_mime.c — message.c on arbitrary messages: the MIME tree, ENVELOPE,
 * BODYSTRUCTURE, every section, header iteration, decoding, text search.
 *
 * The oracle (issue 24): the message is parsed twice, once from memory and
 * once from a source that hands out a few bytes per read (mostly 1 to 23,
 * sometimes up to 4,096, in an order drawn from the input), as a file or spool read may; the two trees,
 * their ENVELOPE and BODYSTRUCTURE and the text search must be equal.
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

/* ---- a source of short reads ---- */

struct trickle {
	const uint8_t *p;
	size_t n;
	uint32_t rnd;
};

static long trickle_read(void *arg, uint64_t off, void *buf, size_t n)
{
	struct trickle *t = arg;
	if (off >= t->n)
		return 0;
	t->rnd = t->rnd * 1103515245u + 12345u;
	/* mostly a few bytes, now and then a few KiB */
	size_t k = 1 + (t->rnd >> 16) % ((t->rnd & 0x700) ? 23 : 4096);
	if (k > n)
		k = n;
	if (k > t->n - off)
		k = t->n - off;
	memcpy(buf, t->p + off, k);
	return (long)k;
}

/* Everything the parse produced, as text. */
static void describe(struct sbuf *b, const struct mime_part *p, const struct msg_src *src)
{
	mime_envelope(b, p, 0);
	mime_bodystructure(b, p, 1, 1);
	sbuf_printf(b, "|%d %d|%d|", mime_search_text(p, src, "needle", 1),
		    mime_search_text(p, src, "=", 0), p->nchildren);
	for (const struct mime_part *c = p; c;) {
		sbuf_printf(b, "(%d%d%d %llu+%llu %llu+%llu %llu)", c->is_message, c->multipart,
			    c->rfc822, (unsigned long long)c->hdr_off,
			    (unsigned long long)c->hdr_size, (unsigned long long)c->body_off,
			    (unsigned long long)c->body_size, (unsigned long long)c->body_lines);
		/* depth first, in order */
		if (c->children) {
			c = c->children;
			continue;
		}
		while (c && !c->next)
			c = c->parent;
		if (c)
			c = c->next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_src src, slow;
	struct sbuf b = {0}, whole = {0}, pieces = {0};
	msg_src_mem(&src, data, size);
	struct mime_part *r = mime_parse(&src);
	walk(r, size);
	mime_envelope(&b, r, 0);
	mime_bodystructure(&b, r, 1, 1);
	mime_bodystructure(&b, r, 0, 0);
	uint32_t nums[3] = {1, 2, 1};
	for (size_t n = 0; n <= 3; n++)
		(void)mime_section(r, nums, n);

	/* the oracle: the same result from short reads */
	struct trickle t = {data, size, (uint32_t)size * 2654435761u};
	for (size_t i = 0; i < size && i < 64; i++)
		t.rnd = t.rnd * 31 + data[i];
	slow.read = trickle_read;
	slow.arg = &t;
	slow.size = size;
	struct mime_part *r2 = mime_parse(&slow);
	describe(&whole, r, &src);
	describe(&pieces, r2, &slow);
	if (whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0)
		abort(); /* the parse depends on how the bytes arrived */
	mime_free(&r2);

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
	sbuf_free(&whole);
	sbuf_free(&pieces);
	return 0;
}
