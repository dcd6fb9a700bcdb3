/*
 * fuzz_fts.c — the full-text index's words (fts.c) on arbitrary input:
 * folding and tokenizing any bytes, a whole message's words, and the
 * index's promise.
 *
 * The oracle: the index may only narrow. The input is split into a text
 * and a needle cut out of that text (at code point boundaries, so it is a
 * substring as IMAP SEARCH's byte scan sees it); whenever the text is
 * valid UTF-8 and the needle can be planned (fts_plan), some word of the
 * folded text must satisfy the plan (fts_plan_match), unless the text has
 * a word longer than FTS_WORD_MAX (such a message is indexed as
 * FTS_PARTIAL and always read). A needle with too_long set needs such a
 * word. Also: every word handed out is at most FTS_WORD_MAX bytes as
 * stored, and a message's word list is sorted, distinct and bounded.
 */
/* deps: fts message message_text util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fts.h"

struct scan {
	const struct fts_plan *p;
	int hit, long_word;
};

static int scan_word(void *arg, const char *w, size_t wl, int at_start, int at_end)
{
	struct scan *s = arg;
	(void)at_start;
	(void)at_end;
	if (wl > FTS_WORD_MAX)
		s->long_word = 1;
	else if (fts_plan_match(s->p, w, wl))
		s->hit = 1;
	return 0;
}

static int is_cont(uint8_t b)
{
	return (b & 0xc0) == 0x80;
}

static void check_promise(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	const char *text = (const char *)data + 2;
	size_t n = size - 2;
	size_t a = data[0] % n, b = a + 1 + data[1] % (n - a);
	/* whole code points only */
	while (a < n && is_cont((uint8_t)text[a]))
		a++;
	while (b < n && is_cont((uint8_t)text[b]))
		b++;
	if (a >= b)
		return;
	struct fts_plan p;
	if (fts_plan(text + a, b - a, &p) < 0)
		return;
	struct scan s = {&p, 0, 0};
	if (fts_words(text, n, scan_word, &s) < 0)
		return; /* not UTF-8: such text is FTS_PARTIAL */
	if (p.too_long) {
		if (!s.long_word)
			abort();
	} else if (!s.hit && !s.long_word) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_promise(data, size);

	struct msg_src src;
	struct fts_terms ft;
	msg_src_mem(&src, data, size);
	fts_extract(&src, &ft);
	if (ft.n > FTS_TERMS_MAX || (ft.partial && ft.n != 1))
		abort();
	const char *prev = NULL;
	for (size_t off = 0; off < ft.len; off += strlen(ft.buf + off) + 1) {
		size_t l = strlen(ft.buf + off);
		if (l == 0 || l > FTS_WORD_MAX || (prev && strcmp(prev, ft.buf + off) >= 0))
			abort();
		prev = ft.buf + off;
	}
	fts_terms_free(&ft);
	return 0;
}
