/*
 * mboxfmt.h — the on-disk mail formats `brev import`/`brev export` read and
 * write, as pure code without files or a store (so the fuzzer and unit
 * tests reach all of it): the mbox splitter (a push parser: bytes in,
 * message events out), the flag headers of mutt and Thunderbird, the mbox
 * `From ` line's date, Maildir file-name flags, and the mboxrd escaper used
 * on export.
 *
 * Not thread-safe; one owner per struct. No allocation.
 */
#ifndef BREV_MBOXFMT_H
#define BREV_MBOXFMT_H

#include <stddef.h>
#include <stdint.h>

/* A line is handled in pieces of at most this many bytes: longer lines
 * (binary junk) pass through in pieces and are never treated as headers or
 * From lines after their first piece. */
#define MBOXFMT_LINE_MAX 4096
/* Keyword names kept per message (NUL-separated), and their count. */
#define MBOXFMT_KW_BYTES 2048
#define MBOXFMT_KW_MAX	 64
/* RFC 3501 atoms, as mailbox.h's keyword table accepts them. */
#define MBOXFMT_KW_LEN 128

/* Metadata of one message, from the headers the splitter strips (Status,
 * X-Status, X-Mozilla-Status, X-Mozilla-Status2, X-Mozilla-Keys,
 * X-Keywords) or from a Maildir name. flags are mailbox.h's FL_*. */
struct mboxfmt_meta {
	uint32_t flags;
	size_t nkw;
	const char *kw[MBOXFMT_KW_MAX]; /* into kwbuf */
	char kwbuf[MBOXFMT_KW_BYTES];
};

/* Add a keyword (copied) unless invalid (not an atom, starts with '\\',
 * too long), already there, or no room. Returns 0 if added. */
int mboxfmt_kw_add(struct mboxfmt_meta *m, const char *name, size_t len);

/* The events of the splitter. Any callback returning non-zero stops the
 * parse (mboxfmt_feed returns -1 from then on).
 *  begin: a message starts at file offset off; date is the From line's time
 *         (unix seconds, 0 if unreadable).
 *  data:  the message's bytes, mboxrd-unescaped, the status headers removed,
 *         the separator blank line before the next From line removed.
 *  end:   the message is complete. err NULL: store it with meta; else the
 *         reason it must be refused (the data given so far is to be
 *         discarded). */
struct mboxfmt_hooks {
	void *arg;
	int (*begin)(void *arg, uint64_t off, int64_t date);
	int (*data)(void *arg, const char *p, size_t n);
	int (*end)(void *arg, const struct mboxfmt_meta *meta, const char *err);
};

struct mboxfmt_split {
	struct mboxfmt_hooks h;
	uint64_t max_size; /* larger messages refused; 0 = none */
	uint64_t off;	   /* bytes fed so far */
	char line[MBOXFMT_LINE_MAX];
	size_t len;	   /* bytes in line */
	uint64_t line_off; /* offset of line[0] */
	int cont;	   /* line[] continues an earlier piece */
	int in_msg, in_hdr, drop_line, drop_hdr, junk;
	int held;	 /* a held empty line: 0, 1 "\n", 2 "\r\n" */
	int prev_empty;	 /* the previous line was empty (or none yet) */
	int last_nl;	 /* the last byte fed was '\n' */
	uint64_t size;	 /* bytes given to data for this message */
	const char *err; /* the current message's refusal */
	char errbuf[96];
	char hdr[24]; /* the status header being removed */
	size_t hdrlen;
	int stopped;
	struct mboxfmt_meta meta;
};

void mboxfmt_split_init(struct mboxfmt_split *s, const struct mboxfmt_hooks *h, uint64_t max_size);
/* Feed n bytes; 0, or -1 once a callback stopped the parse. */
int mboxfmt_feed(struct mboxfmt_split *s, const void *buf, size_t n);
/* End of input: the last message ends (refused as truncated when the file
 * does not end with a newline). 0 or -1 as above. */
int mboxfmt_finish(struct mboxfmt_split *s);

/* The date of a From line ("From sender Www Mmm dd hh:mm:ss yyyy", an
 * optional numeric zone before or after the year; asctime's form), unix
 * seconds, 0 if there is none. Without a zone the time is taken as UTC. */
int64_t mboxfmt_from_date(const char *line, size_t len);

/* Parse one status header's value into m (flags or-ed in, keywords added).
 * name is the header name without the colon. Returns 1 if name is one of
 * the headers the splitter strips, else 0 (m untouched). */
int mboxfmt_status_header(struct mboxfmt_meta *m, const char *name, size_t nlen, const char *val,
			  size_t vlen);

/* Maildir file name flags (the part after ":2,"). *flags gets FL_*,
 * *kwbits bit i for the letter 'a' + i. A name without ':' has no flags.
 * -1: a ':' not followed by "2," and letters (malformed). */
int mboxfmt_maildir_flags(const char *name, uint32_t *flags, uint32_t *kwbits);
/* The ":2,..." suffix for flags and kwbits (letters sorted), NUL-terminated,
 * into out (at least 40 bytes). */
void mboxfmt_maildir_suffix(uint32_t flags, uint32_t kwbits, char *out);

/* The mboxrd escaper: a line matching ^>*From  gets one more '>'. Feed the
 * message's bytes in any pieces; out is called with the escaped bytes. */
struct mboxfmt_esc {
	int bol;     /* at the beginning of a line */
	size_t gt;   /* '>' seen at this line's start */
	size_t from; /* bytes of "From " matched after them */
	int (*out)(void *arg, const char *p, size_t n);
	void *arg;
};
void mboxfmt_esc_init(struct mboxfmt_esc *e, int (*out)(void *, const char *, size_t), void *arg);
int mboxfmt_esc_feed(struct mboxfmt_esc *e, const char *p, size_t n);
/* Flush what is pending at the end of the message. */
int mboxfmt_esc_end(struct mboxfmt_esc *e);

#endif
