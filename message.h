/*
 * message.h — RFC 5322 header fields and the MIME tree of one stored
 * message, for IMAP FETCH (ENVELOPE, BODYSTRUCTURE, BODY[section],
 * BINARY) and SEARCH, and for anyone who needs a header's decoded value.
 *
 * The parser pulls the message through a reader callback in bounded chunks
 * (a 50 MB message costs a few KiB of buffer plus the kept header fields);
 * it records, for every entity, where its header and body sit, and keeps
 * only the header fields ENVELOPE and BODYSTRUCTURE need. Everything is
 * bounded: MIME_DEPTH_MAX nesting, MIME_PARTS_MAX entities, MIME_HDR_MAX
 * header bytes looked at per entity. Malformed input never fails the
 * parse: it gives the structure a forgiving reader would see.
 *
 * Not thread-safe per tree; trees are owned by one session.
 */
#ifndef BREV_MESSAGE_H
#define BREV_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MIME_DEPTH_MAX 20
#define MIME_PARTS_MAX 500
#define MIME_HDR_MAX (64 * 1024)
#define MIME_PARAMS_MAX 32

/* ---- output building (struct sbuf from util.h) ---- */
/* An IMAP string (RFC 9051 4.3): NIL for NULL, a quoted string when it can
 * be one, else a literal {n}. utf8: 8-bit bytes may go in a quoted string. */
void mbuf_imap_string(struct sbuf *b, const char *s, size_t n, int utf8);

/* ---- message source ---- */
/* Copy up to n bytes at off into buf; the count (0 at the end) or -1. */
typedef long (*msg_read_fn)(void *arg, uint64_t off, void *buf, size_t n);
struct msg_src {
	msg_read_fn read;
	void *arg;
	uint64_t size;
};
/* A source over a memory buffer (tests, fuzzing); mem_arg is the buffer,
 * the struct holds its size. */
void msg_src_mem(struct msg_src *s, const void *buf, size_t n);
/* The same over storage the caller owns (*m must outlive s): no rotating
 * slot, so any number of such sources may be alive at once. */
struct msg_mem {
	const char *p;
	size_t n;
};
void msg_src_buf(struct msg_src *s, struct msg_mem *m, const void *buf, size_t n);

/* ---- the MIME tree ---- */
struct mime_param {
	char *name, *value;
};

enum { ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO, ENV_CC, ENV_BCC,
       ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_NFIELDS };

struct mime_part {
	struct mime_part *parent, *children, *next;
	int nchildren;
	int is_message;               /* header is a message header (root, rfc822 body) */
	int multipart;                /* has children entities separated by a boundary */
	int rfc822;                   /* message/rfc822 with its message as the child */
	uint64_t hdr_off, hdr_size;   /* header incl. the empty line ending it */
	uint64_t body_off, body_size;
	uint64_t body_lines;          /* LF count in the body */
	char *type, *subtype;         /* as written; NULL: default (text/plain) */
	struct mime_param *params;
	int nparams;
	char *cte, *id, *descr, *md5, *lang, *loc, *disp;
	struct mime_param *dparams;
	int ndparams;
	char *env[ENV_NFIELDS];       /* unfolded raw values, message nodes only */
};

/* Parse the whole message. Returns the root (never NULL). */
struct mime_part *mime_parse(const struct msg_src *src);
void mime_free(struct mime_part **rootp);

/* RFC 9051 6.4.5 section numbers: resolve "1.2.3" (n numbers) from the
 * root; NULL if there is no such part. n == 0 gives the root. */
const struct mime_part *mime_section(const struct mime_part *root, const uint32_t *nums,
				     size_t n);

/* ENVELOPE of a message node; BODYSTRUCTURE (ext != 0) or BODY of any
 * entity. utf8: 8-bit strings may be quoted (UTF8=ACCEPT). */
void mime_envelope(struct sbuf *b, const struct mime_part *msg, int utf8);
void mime_bodystructure(struct sbuf *b, const struct mime_part *p, int ext, int utf8);

/* ---- header fields ---- */
/* Iterate over the fields of a header block: returns 1 with the name and
 * the raw (folded) value, 0 at the end. *pos starts at 0. */
int mime_hdr_next(const char *h, size_t len, size_t *pos, const char **name, size_t *namelen,
		  const char **val, size_t *vallen);
/* Unfold (drop CR and LF) into a new NUL-terminated string. */
char *mime_unfold(const char *v, size_t n);
/* Decode RFC 2047 encoded words (and convert known charsets) to UTF-8 in a
 * new string. */
char *mime_decode_words(const char *v, size_t n);

/* ---- content ---- */
enum { CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_QP, CTE_BASE64 };
int mime_cte(const struct mime_part *p);
/* Decode n bytes of body in `enc` into out (appending). Base64 ignores
 * junk (RFC 2045 6.8); quoted-printable keeps bad escapes as they are. */
void mime_decode_body(struct sbuf *out, const char *in, size_t n, int enc);
/* Convert text in charset (NULL = us-ascii) to UTF-8, appending. Known:
 * utf-8, us-ascii, iso-8859-1, iso-8859-15, windows-1252 (its five
 * unassigned bytes become '?'); others keep
 * their bytes when they are valid UTF-8, else '?'. */
void mime_to_utf8(struct sbuf *out, const char *in, size_t n, const char *charset);
const char *mime_param(const struct mime_param *p, int n, const char *name);

/* An address header's value (From, To, Cc, Bcc, ...) as the plain text
 * of what ENVELOPE shows for it: each address "name <mailbox@host>",
 * comments and folding gone, RFC 2047 words decoded, separated by ", "
 * (groups as "name: ...;"); "" when it holds no address. Malloc'ed. For
 * SEARCH FROM/TO/CC/BCC (RFC 9051 6.4.4). */
char *mime_addr_text(const char *v, size_t n);

/* The first address of an address header's value, as the first
 * structure of its ENVELOPE list (a group's first is the group's name as
 * mailbox): display name (RFC 2047 words decoded, "" if none), mailbox
 * and host ("" if none), each malloc'ed. -1 (all NULL) when the value
 * holds no address. For SORT FROM/TO/CC and DISPLAYFROM/DISPLAYTO. */
int mime_addr_first(const char *v, size_t n, char **name, char **mbox, char **host);

/* Case-insensitive (ASCII) substring test on UTF-8 text. */
int mime_contains(const char *hay, size_t n, const char *needle, size_t m);

/* Whole-message text search (SEARCH BODY / TEXT): 1 if `needle` occurs in
 * the decoded text of any text/message entity body (and, with headers,
 * in the decoded header fields of every message node). Reads at most
 * `budget` bytes. */
int mime_search_text(const struct mime_part *root, const struct msg_src *src,
		     const char *needle, int headers);
/* The texts mime_search_text looks at, in the same order: cb gets each
 * message node's decoded header fields ("name: value\n" lines, with
 * headers) and each text entity's decoded UTF-8 body; a non-zero return
 * stops the walk. Bodies are read while their raw sizes add up to at most
 * `budget` bytes; returns 1 if a body was skipped for that, else 0. */
int mime_text_each(const struct mime_part *root, const struct msg_src *src, int headers,
		   uint64_t budget, int (*cb)(void *arg, const char *text, size_t n), void *arg);

#endif
