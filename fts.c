/*
 * fts.c — folding, tokenizing, and a message's set of words for the
 * full-text index (fts.h). Where the words go is mailbox_fts.c's concern.
 */
#include "fts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "util.h"

/* Letters and digits make words; marks vanish; the rest separates. */
enum { C_SEP, C_WORD, C_MARK };

static int char_class(ucs4_t c)
{
	if (c < 0x80) {
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))
			return C_WORD;
		return C_SEP;
	}
	if (uc_is_general_category_withtable(c, UC_CATEGORY_MASK_M))
		return C_MARK;
	if (uc_is_general_category_withtable(c, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_N))
		return C_WORD;
	return C_SEP;
}

/* An ASCII byte as a word byte (lower case), or 0 for a separator. Case
 * folding and NFKD change nothing else in ASCII. */
static inline char ascii_word(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return (char)c;
	if (c >= 'A' && c <= 'Z')
		return (char)(c + 32);
	return 0;
}

/* Pure ASCII (most mail): no copy, no libunistring. */
static int ascii_words(const char *s, size_t n,
		       int (*cb)(void *arg, const char *w, size_t wl, int at_start, int at_end),
		       void *arg)
{
	char w[FTS_WORD_MAX + 4];
	size_t i = 0;
	int rc = 0;
	while (i < n && !rc) {
		size_t b, wl = 0;
		char c;
		while (i < n && !ascii_word((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		b = i;
		while (i < n && (c = ascii_word((unsigned char)s[i])) != 0) {
			if (wl < FTS_WORD_MAX)
				w[wl] = c;
			wl++;
			i++;
		}
		rc = cb(arg, w, wl, b == 0, i == n);
	}
	return rc;
}

int fts_words(const char *s, size_t n,
	      int (*cb)(void *arg, const char *w, size_t wl, int at_start, int at_end), void *arg)
{
	size_t fl = 0, k = 0;
	while (k < n && (unsigned char)s[k] < 0x80)
		k++;
	if (k == n)
		return ascii_words(s, n, cb, arg);
	if (u8_check((const uint8_t *)s, n))
		return -1;
	uint8_t *f = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFKD, NULL, &fl);
	if (!f)
		return -1;
	/* A word is copied out: dropping marks can split its bytes in f. */
	char w[FTS_WORD_MAX + 4];
	size_t wl = 0;
	int seen_sep = 0, in_word = 0, start = 0, rc = 0;

	for (size_t i = 0; i < fl && !rc;) {
		ucs4_t c = f[i];
		int l = 1;
		if (c >= 0x80)
			l = u8_mbtouc(&c, f + i, fl - i);
		int cl = char_class(c);
		if (cl == C_WORD) {
			if (!in_word) {
				in_word = 1;
				wl = 0;
				start = !seen_sep;
			}
			if (l == 1 && wl < FTS_WORD_MAX)
				w[wl] = (char)f[i];
			else if (wl + (size_t)l <= FTS_WORD_MAX)
				memcpy(w + wl, f + i, (size_t)l);
			wl += (size_t)l;
		} else if (cl == C_SEP) {
			if (in_word)
				rc = cb(arg, w, wl, start, 0);
			in_word = 0;
			seen_sep = 1;
		}
		i += (size_t)l;
	}
	if (in_word && !rc)
		rc = cb(arg, w, wl, start, 1);
	free(f);
	return rc;
}

/* ---- a needle's plan ---- */

/* A needle word that starts (ends) at the needle's start (end) may be the
 * end (start) of a longer word of the text; one between separators is a
 * whole word. Keep the word that narrows best: a whole word, then a
 * prefix (one range of a sorted table), then the rest (a walk over every
 * word), longer before shorter. */
static int plan_word(void *arg, const char *w, size_t wl, int at_start, int at_end)
{
	struct fts_plan *p = arg;
	int mode = at_start && at_end ? FTS_INFIX
		   : at_start	      ? FTS_SUFFIX
		   : at_end	      ? FTS_PREFIX
				      : FTS_EXACT;
	if (wl > FTS_WORD_MAX) {
		/* Only a longer word of the text could hold it, and such a
		 * message was not indexed (FTS_PARTIAL). */
		p->too_long = 1;
		return 1;
	}
	if (mode < p->mode || (mode == p->mode && wl > p->l)) {
		memcpy(p->w, w, wl);
		p->w[wl] = 0;
		p->l = wl;
		p->mode = mode;
	}
	return 0;
}

int fts_plan(const char *needle, size_t n, struct fts_plan *p)
{
	memset(p, 0, sizeof *p);
	p->mode = FTS_NONE;
	if (fts_words(needle, n, plan_word, p) < 0 || (p->mode == FTS_NONE && !p->too_long))
		return -1;
	return 0;
}

int fts_plan_match(const struct fts_plan *p, const char *w, size_t n)
{
	if (p->too_long || n < p->l)
		return 0;
	switch (p->mode) {
	case FTS_EXACT: return n == p->l && memcmp(w, p->w, n) == 0;
	case FTS_PREFIX: return memcmp(w, p->w, p->l) == 0;
	case FTS_SUFFIX: return memcmp(w + n - p->l, p->w, p->l) == 0;
	case FTS_INFIX: return memmem(w, n, p->w, p->l) != NULL;
	default: return 0;
	}
}

/* ---- a message's words: a bounded set ---- */

#define SET_SLOTS (2 * FTS_TERMS_MAX) /* a power of two, half full at most */

struct term_set {
	struct sbuf words;            /* each word NUL-terminated */
	uint32_t slot[SET_SLOTS];     /* offset + 1 into words, 0 = empty */
	uint8_t len[SET_SLOTS];       /* the word's length (<= FTS_WORD_MAX) */
	/* The words in the order they came: their slot, so that sorting needs
	 * no strlen and clearing the set for the next message touches only
	 * the slots in use. */
	uint16_t used[FTS_TERMS_MAX];
	size_t n;
	int partial;
};

/* One set per thread, reused message after message: a delivery thread
 * would otherwise zero 40 KiB for every message (slot[] and len[]). Left
 * empty after each use (slot[] all 0), words' buffer kept; freed when the
 * thread ends (a pthread key's destructor: connection threads come and
 * go). */
static pthread_key_t set_key;
static pthread_once_t set_once = PTHREAD_ONCE_INIT;

static void set_free(void *p)
{
	struct term_set *ts = p;
	sbuf_free(&ts->words);
	free(ts);
}

static void set_key_make(void)
{
	if (pthread_key_create(&set_key, set_free) != 0)
		abort();
}

static struct term_set *set_get(void)
{
	pthread_once(&set_once, set_key_make);
	struct term_set *ts = pthread_getspecific(set_key);
	if (!ts) {
		ts = xcalloc(1, sizeof *ts);
		if (pthread_setspecific(set_key, ts) != 0)
			abort();
	}
	return ts;
}

static uint32_t hash(const char *w, size_t l)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < l; i++)
		h = (h ^ (unsigned char)w[i]) * 16777619u;
	return h;
}

static int add_word(void *arg, const char *w, size_t wl, int at_start, int at_end)
{
	struct term_set *ts = arg;
	(void)at_start;
	(void)at_end;
	if (wl > FTS_WORD_MAX) {
		ts->partial = 1;
		return 1;
	}
	for (uint32_t i = hash(w, wl) & (SET_SLOTS - 1);; i = (i + 1) & (SET_SLOTS - 1)) {
		if (!ts->slot[i]) {
			if (ts->n == FTS_TERMS_MAX) {
				ts->partial = 1;
				return 1;
			}
			ts->slot[i] = (uint32_t)ts->words.len + 1;
			ts->len[i] = (uint8_t)wl;
			ts->used[ts->n] = (uint16_t)i;
			sbuf_add(&ts->words, w, wl);
			sbuf_add(&ts->words, "", 1);
			ts->n++;
			return 0;
		}
		if (ts->len[i] == wl && memcmp(ts->words.p + ts->slot[i] - 1, w, wl) == 0)
			return 0;
	}
}

static int add_text(void *arg, const char *text, size_t n)
{
	struct term_set *ts = arg;
	if (fts_words(text, n, add_word, ts) < 0)
		ts->partial = 1;
	return ts->partial;
}

struct word_ref {
	const char *w;
	size_t l;
};

static int cmp_word(const void *a, const void *b)
{
	const struct word_ref *x = a, *y = b;
	/* the NUL after the shorter one decides a prefix: bytewise order */
	return memcmp(x->w, y->w, (x->l < y->l ? x->l : y->l) + 1);
}

void fts_extract_tree(const struct mime_part *root, const struct msg_src *src,
		      struct fts_terms *out)
{
	struct term_set *ts = set_get();
	ts->words.len = 0;
	ts->n = 0;
	ts->partial = 0;
	memset(out, 0, sizeof *out);
	if (mime_text_each(root, src, 1, FTS_READ_MAX, add_text, ts))
		ts->partial = 1;
	if (ts->partial) {
		out->buf = xmalloc(sizeof FTS_PARTIAL);
		memcpy(out->buf, FTS_PARTIAL, sizeof FTS_PARTIAL);
		out->len = sizeof FTS_PARTIAL;
		out->n = 1;
		out->partial = 1;
	} else if (ts->n) {
		struct word_ref *v = xmalloc(ts->n * sizeof *v);
		for (size_t i = 0; i < ts->n; i++) {
			uint16_t sl = ts->used[i];
			v[i] = (struct word_ref){ts->words.p + ts->slot[sl] - 1, ts->len[sl]};
		}
		qsort(v, ts->n, sizeof *v, cmp_word);
		out->buf = xmalloc(ts->words.len);
		for (size_t i = 0; i < ts->n; i++) {
			memcpy(out->buf + out->len, v[i].w, v[i].l + 1);
			out->len += v[i].l + 1;
		}
		out->n = ts->n;
		free(v);
	}
	for (size_t i = 0; i < ts->n; i++)
		ts->slot[ts->used[i]] = 0; /* empty again for the next message */
	if (ts->words.cap > (256u << 10)) /* do not keep a huge one per thread */
		sbuf_free(&ts->words);
}

void fts_extract(const struct msg_src *src, struct fts_terms *out)
{
	struct mime_part *root = mime_parse(src);
	fts_extract_tree(root, src, out);
	mime_free(&root);
}

void fts_terms_free(struct fts_terms *t)
{
	free(t->buf);
	memset(t, 0, sizeof *t);
}
