/*
 * fts.h — words for the full-text index: Unicode folding, the tokenizer,
 * and the set of words of one message. No storage here: the index tables
 * are mailbox_fts.c's, the SEARCH that uses them imap_search.c's.
 *
 * Folding (libunistring): full Unicode case folding, then compatibility
 * decomposition (NFKD), then every combining mark dropped. So "Ärger",
 * "ärger" and "ARGER" all fold to "arger", "Straße" and "STRASSE" to
 * "strasse", "ﬁle" to "file". Folding is done code point by code point (a
 * code point's image never depends on its neighbours), which is what lets
 * the index answer substring questions: if a needle occurs in a text, its
 * folded form occurs in the folded text.
 *
 * A word is a maximal run of folded letters and digits (Unicode general
 * categories L and N); everything else separates words. Scripts written
 * without spaces (Chinese, Japanese) therefore make long words, which the
 * bounds below turn into "not indexed" (SEARCH then reads those messages).
 *
 * The name shadows glibc's <fts.h> (file tree walks) for every file built
 * with -I.; brev walks no file trees with it.
 */
#ifndef BREV_FTS_H
#define BREV_FTS_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"

#define FTS_WORD_MAX  64          /* bytes of one folded word */
#define FTS_TERMS_MAX 4096        /* distinct words of one message */
#define FTS_READ_MAX  (1u << 20)  /* raw body bytes read from one message */
/* The term of messages that could not be indexed whole (a bound above was
 * reached, or text that does not fold): every SEARCH reads them. No real
 * word holds a control character. */
#define FTS_PARTIAL   "\x01"

/* Fold UTF-8 text s[0..n) and call cb for each word: its folded bytes
 * (w, not NUL-terminated, valid until cb returns) and its length wl,
 * which may exceed FTS_WORD_MAX: w then holds only the first FTS_WORD_MAX
 * bytes (perhaps a cut code point); and whether it touches the start / end of s (no
 * separator between it and that end). A non-zero cb return stops the walk
 * and is returned. Returns -1 if s is not valid UTF-8 or cannot be
 * folded, else 0. Thread-safe; allocates a folded copy of s. */
int fts_words(const char *s, size_t n,
	      int (*cb)(void *arg, const char *w, size_t wl, int at_start, int at_end), void *arg);

/* How the index narrows for one needle (mailbox_fts.c asks the table with
 * it): every text that holds the needle as a substring, after folding,
 * holds a word that fts_plan_match accepts, or a word longer than
 * FTS_WORD_MAX (and is then FTS_PARTIAL). One needle word is chosen:
 * FTS_EXACT for a word between separators of the needle, FTS_PREFIX for
 * the last word when the needle ends inside it, FTS_SUFFIX for the first
 * when it starts inside it, FTS_INFIX for a needle that is one word
 * touching both ends. too_long: a needle word longer than FTS_WORD_MAX,
 * which no indexed word can hold (only FTS_PARTIAL messages can match). */
enum { FTS_EXACT, FTS_PREFIX, FTS_SUFFIX, FTS_INFIX, FTS_NONE };
struct fts_plan {
	char w[FTS_WORD_MAX + 1];
	size_t l;
	int mode;
	int too_long;
};
/* 0 and *p, or -1 when the needle cannot be narrowed (not UTF-8, no
 * letter or digit in it). */
int fts_plan(const char *needle, size_t n, struct fts_plan *p);
/* Whether the indexed word w (n bytes) may hold the needle's chosen word. */
int fts_plan_match(const struct fts_plan *p, const char *w, size_t n);

/* The words of one message: distinct, sorted (bytewise), each
 * NUL-terminated, one after the other in buf (len bytes, n words). A
 * message that reached a bound is just FTS_PARTIAL (partial = 1). */
struct fts_terms {
	char *buf;
	size_t len, n;
	int partial;
};

/* The words of the message in src: its decoded header fields (every
 * message node, as SEARCH TEXT sees them) and its decoded text parts (as
 * SEARCH BODY sees them), at most FTS_READ_MAX raw body bytes,
 * FTS_TERMS_MAX words, FTS_WORD_MAX bytes each; past any bound the
 * message is partial. Never fails (out of memory aborts, as xmalloc). */
void fts_extract(const struct msg_src *src, struct fts_terms *out);
/* The same from a parsed tree (fuzzing, tests). */
void fts_extract_tree(const struct mime_part *root, const struct msg_src *src,
		      struct fts_terms *out);
void fts_terms_free(struct fts_terms *t);

#endif
