/*
 * fuzz_spam_token.c — the classifier's tokenizer (spam_token.c) and the
 * content checks (spam.c) on arbitrary messages.
 *
 * Oracles: every token is 1 to 63 bytes with no NUL, CR or LF; at most
 * SPAM_TOKENS_MAX tokens; the same input gives the same tokens (hashes
 * compared in order, twice); spam_token_hashes is ascending without
 * duplicates and no longer than the token stream; the content score is
 * finite and its fields are well-formed lines under 78 columns.
 */
/* deps: spam spam_token message message_text spool util log */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam.h"
#include "spam_token.h"

struct seen {
	uint64_t sum;
	size_t n;
};

static void tok(void *arg, const char *t, size_t n)
{
	struct seen *s = arg;
	if (n == 0 || n > 63 || memchr(t, 0, n) || memchr(t, '\r', n) || memchr(t, '\n', n))
		abort();
	s->sum = s->sum * 31 + spam_token_hash(t, n);
	s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m = (const char *)data;
	struct seen a = {0}, b = {0};
	spam_tokenize(m, size, tok, &a);
	spam_tokenize(m, size, tok, &b);
	if (a.n > SPAM_TOKENS_MAX || a.n != b.n || a.sum != b.sum)
		abort();
	uint64_t *h;
	size_t n = spam_token_hashes(m, size, &h);
	if (n > a.n)
		abort();
	for (size_t i = 1; i < n; i++)
		if (h[i - 1] >= h[i])
			abort();
	free(h);
	struct spam_result r = {0};
	spam_content_mem(m, size, "spf=fail dkim=pass dmarc=none", &r);
	if (!isfinite(r.score))
		abort();
	char *f = spam_fields(&r);
	for (char *l = f, *e; *l; l = e + 2) {
		if (!(e = strstr(l, "\r\n")) || e - l >= 78)
			abort();
	}
	free(f);
	return 0;
}
