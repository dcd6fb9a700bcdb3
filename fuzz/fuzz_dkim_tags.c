/*
 * fuzz_dkim_tags.c — the DKIM tag-list parser and what stands on it
 * (dkim.c): the input is parsed as a tag-list, then used as a whole
 * DKIM-Signature field of a small message and verified with a key record
 * taken from the input too (no DNS), and fed to the body canonicaliser
 * whole and in two pieces.
 *
 * Properties: every tag points inside the input with voff <= vend; no two
 * tags share a name; verification never crashes and gives a known result;
 * the body canonicaliser's output does not depend on how input is split.
 */
/* deps: dkim dns sasl spool util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim.h"
#include "dns.h"
#include "spool.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *keyrec;

static int fake_txt(void *arg, const char *name, char *out, size_t cap)
{
	str_copy(out, keyrec, cap);
	return DNS_OK;
}

struct acc {
	unsigned char *p;
	size_t n, cap;
};

static void sink(void *arg, const char *p, size_t n)
{
	struct acc *a = arg;
	if (a->n + n > a->cap) {
		a->cap = (a->n + n) * 2;
		a->p = realloc(a->p, a->cap);
	}
	memcpy(a->p + a->n, p, n);
	a->n += n;
}

static void canon_twice(const char *s, size_t n, int canon, size_t cut)
{
	struct acc a = {0}, b = {0};
	struct dkim_body c;
	dkim_body_init(&c, canon, sink, &a);
	dkim_body_feed(&c, s, n);
	dkim_body_end(&c);
	dkim_body_init(&c, canon, sink, &b);
	dkim_body_feed(&c, s, cut);
	dkim_body_feed(&c, s + cut, n - cut);
	dkim_body_end(&c);
	if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n) != 0))
		abort();
	free(a.p);
	free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	const char *s = (const char *)data;
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t nt;
	if (dkim_tags_parse(s, size, t, DKIM_TAGS_MAX, &nt) == 0) {
		for (size_t i = 0; i < nt; i++) {
			if (t[i].name < s || t[i].name + t[i].nlen > s + size ||
			    t[i].voff > t[i].vend || t[i].vend > size ||
			    t[i].val + t[i].vlen != s + t[i].vend)
				abort();
			for (size_t k = 0; k < i; k++)
				if (t[k].nlen == t[i].nlen &&
				    !memcmp(t[k].name, t[i].name, t[i].nlen))
					abort();
		}
	}
	/* the input split at the first NUL: signature tags, then key record */
	size_t sl = strnlen(s, size);
	char *sig = xstrndup(s, sl);
	char *key = xstrndup(sl < size ? s + sl + 1 : "", sl < size ? size - sl - 1 : 0);
	keyrec = key;
	struct spool *sp = spool_new(1 << 20);
	spool_write(sp, "DKIM-Signature:", 15);
	spool_write(sp, sig, strlen(sig));
	spool_write(sp, "\r\nFrom: a@example.com\r\nSubject: x\r\n\r\nbody  \r\n\r\n", 47);
	struct dkim_msg m;
	if (dkim_msg_load(&m, NULL, 0, sp) == 0) {
		struct dkim_result r[DKIM_SIGS_MAX];
		size_t n = dkim_verify(&m, r, DKIM_SIGS_MAX, fake_txt, NULL, time(NULL));
		for (size_t i = 0; i < n; i++)
			if (r[i].res < DKIM_NONE || r[i].res > DKIM_PERMERROR)
				abort();
		dkim_msg_free(&m);
	}
	spool_free(&sp);
	free(sig);
	free(key);
	canon_twice(s, size, DKIM_RELAXED, size ? data[0] % (size + 1) : 0);
	canon_twice(s, size, DKIM_SIMPLE, size / 2);
	return 0;
}
