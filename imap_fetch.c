/*
 * imap_fetch.c — FETCH and STORE (RFC 9051 6.4.5, 6.4.6; RFC 3516 BINARY).
 *
 * FETCH items are parsed once into a small list, then each message is
 * answered in one FETCH response. Message bytes are streamed from the
 * store in chunks (a BODY[] of 50 MB costs one 16 KiB buffer); only
 * synthesized sections (HEADER.FIELDS, BINARY) are built in memory, and
 * those are bounded by the header limit or the part's size. The MIME tree
 * of the message comes from message.c (cached per session).
 */
#include "imap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "objid.h"
#include "preview.h"
#include "server.h"
#include "spam_learn.h"
#include "util.h"

enum { FI_FLAGS, FI_UID, FI_INTERNALDATE, FI_SIZE, FI_ENVELOPE, FI_BODY, FI_BODYSTRUCTURE,
       FI_SECTION, FI_RFC822, FI_RFC822_HEADER, FI_RFC822_TEXT, FI_BINARY, FI_BINARY_SIZE,
       FI_MODSEQ, FI_SAVEDATE, FI_EMAILID, FI_THREADID, FI_PREVIEW };
enum { SP_NONE, SP_HEADER, SP_FIELDS, SP_FIELDS_NOT, SP_TEXT, SP_MIME };

#define FETCH_ITEMS_MAX 64
#define FETCH_FIELDS_MAX 64

struct fitem {
	int kind;
	int peek;
	uint32_t part[MIME_DEPTH_MAX];
	size_t npart;
	int spec;
	char *fields[FETCH_FIELDS_MAX];
	size_t nfields;
	int partial;
	uint64_t off, len;
	char label[512];      /* "BODY[1.HEADER.FIELDS (FROM)]" as answered */
};

struct fetch {
	struct fitem it[FETCH_ITEMS_MAX];
	size_t n;
	int sets_seen;
};

static void fetch_clear(struct fetch *f)
{
	for (size_t i = 0; i < f->n; i++)
		for (size_t k = 0; k < f->it[i].nfields; k++)
			free(f->it[i].fields[k]);
	f->n = 0;
}

static struct fitem *add(struct fetch *f, int kind)
{
	if (f->n >= FETCH_ITEMS_MAX)
		return NULL;
	struct fitem *it = &f->it[f->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	return it;
}

/* "1.2.HEADER.FIELDS (A B)" inside the brackets. */
static int parse_section(struct fitem *it, const char *s, const char *e)
{
	while (s < e && *s >= '0' && *s <= '9') {
		uint64_t v = 0;
		while (s < e && *s >= '0' && *s <= '9') {
			v = v * 10 + (uint64_t)(*s++ - '0');
			if (v > UINT32_MAX)
				return -1;
		}
		if (v == 0 || it->npart >= MIME_DEPTH_MAX)
			return -1;
		it->part[it->npart++] = (uint32_t)v;
		if (s < e && *s == '.')
			s++;
		else
			break;
	}
	size_t n = (size_t)(e - s);
	if (n == 0) {
		if (s > e - 0 && it->npart && s[-1] == '.')
			return -1;
		it->spec = SP_NONE;
		return 0;
	}
	if (n == 6 && str_ncasecmp_ascii(s, "HEADER", 6) == 0) {
		it->spec = SP_HEADER;
	} else if (n == 4 && str_ncasecmp_ascii(s, "TEXT", 4) == 0) {
		it->spec = SP_TEXT;
	} else if (n == 4 && str_ncasecmp_ascii(s, "MIME", 4) == 0 && it->npart) {
		it->spec = SP_MIME;
	} else if (str_ncasecmp_ascii(s, "HEADER.FIELDS", 13) == 0) {
		s += 13;
		it->spec = SP_FIELDS;
		if (s + 4 <= e && str_ncasecmp_ascii(s, ".NOT", 4) == 0) {
			it->spec = SP_FIELDS_NOT;
			s += 4;
		}
		if (s + 2 > e || s[0] != ' ' || s[1] != '(' || e[-1] != ')')
			return -1;
		s += 2;
		e--;
		while (s < e) {
			while (s < e && *s == ' ')
				s++;
			const char *w = s;
			while (s < e && *s != ' ')
				s++;
			if (s == w)
				break;
			if (it->nfields >= FETCH_FIELDS_MAX)
				return -1;
			for (const char *c = w; c < s; c++)
				if ((unsigned char)*c <= ' ' || *c == ':' || *c == '"' ||
				    (unsigned char)*c >= 127)
					return -1;
			it->fields[it->nfields++] = xstrndup(w, (size_t)(s - w));
		}
		if (!it->nfields)
			return -1;
	} else {
		return -1;
	}
	return 0;
}

/* BODY[...]<o.n>, BODY.PEEK[...], BINARY[...], BINARY.PEEK, BINARY.SIZE */
static int parse_body_item(struct fetch *f, const char *a)
{
	int kind = FI_SECTION, peek = 0;
	const char *p;

	if (str_has_prefix_ci(a, "BODY.PEEK[")) {
		peek = 1;
		p = a + 10;
	} else if (str_has_prefix_ci(a, "BODY[")) {
		p = a + 5;
	} else if (str_has_prefix_ci(a, "BINARY.PEEK[")) {
		kind = FI_BINARY;
		peek = 1;
		p = a + 12;
	} else if (str_has_prefix_ci(a, "BINARY.SIZE[")) {
		kind = FI_BINARY_SIZE;
		peek = 1;
		p = a + 12;
	} else if (str_has_prefix_ci(a, "BINARY[")) {
		kind = FI_BINARY;
		p = a + 7;
	} else {
		return -1;
	}
	const char *close = strchr(p, ']');
	if (!close)
		return -1;
	struct fitem *it = add(f, kind);
	if (!it)
		return -1;
	it->peek = peek;
	if (parse_section(it, p, close) < 0)
		return -1;
	if (kind != FI_SECTION && it->spec != SP_NONE)
		return -1; /* RFC 3516: BINARY takes part numbers only */
	const char *rest = close + 1;
	if (*rest == '<' && kind != FI_BINARY_SIZE) {
		char *end;
		unsigned long long o = strtoull(rest + 1, &end, 10), n;
		if (end == rest + 1 || *end != '.')
			return -1;
		const char *q = end + 1;
		n = strtoull(q, &end, 10);
		if (end == q || *end != '>' || end[1] || n == 0 || rest[1] == '-' || q[0] == '-')
			return -1;
		it->partial = 1;
		it->off = o;
		it->len = n;
	} else if (*rest) {
		return -1;
	}
	const char *word = kind == FI_SECTION ? "BODY" : kind == FI_BINARY ? "BINARY" : "BINARY.SIZE";
	int n = snprintf(it->label, sizeof it->label, "%s[%.*s]", word, (int)(close - p), p);
	if (n < 0 || (size_t)n >= sizeof it->label)
		return -1;
	if (it->partial)
		snprintf(it->label + n, sizeof it->label - (size_t)n, "<%llu>",
			 (unsigned long long)it->off);
	if (!peek)
		f->sets_seen = 1;
	return 0;
}

static int parse_item(struct fetch *f, const char *a)
{
	static const struct {
		const char *name;
		int kind;
	} simple[] = {
		{"FLAGS", FI_FLAGS},         {"UID", FI_UID},
		{"INTERNALDATE", FI_INTERNALDATE}, {"RFC822.SIZE", FI_SIZE},
		{"ENVELOPE", FI_ENVELOPE},   {"BODY", FI_BODY},
		{"BODYSTRUCTURE", FI_BODYSTRUCTURE}, {"RFC822", FI_RFC822},
		{"RFC822.HEADER", FI_RFC822_HEADER}, {"RFC822.TEXT", FI_RFC822_TEXT},
		{"MODSEQ", FI_MODSEQ}, /* RFC 7162 3.1.4 */
		{"SAVEDATE", FI_SAVEDATE}, /* RFC 8514 */
		{"EMAILID", FI_EMAILID}, {"THREADID", FI_THREADID}, /* RFC 8474 5 */
		{"PREVIEW", FI_PREVIEW}, /* RFC 8970 3 */
	};
	if (str_casecmp_ascii(a, "ALL") == 0)
		return parse_item(f, "FLAGS") | parse_item(f, "INTERNALDATE") |
		       parse_item(f, "RFC822.SIZE") | parse_item(f, "ENVELOPE");
	if (str_casecmp_ascii(a, "FAST") == 0)
		return parse_item(f, "FLAGS") | parse_item(f, "INTERNALDATE") |
		       parse_item(f, "RFC822.SIZE");
	if (str_casecmp_ascii(a, "FULL") == 0)
		return parse_item(f, "ALL") | parse_item(f, "BODY");
	for (size_t i = 0; i < ARRAY_LEN(simple); i++)
		if (str_casecmp_ascii(a, simple[i].name) == 0) {
			if (!add(f, simple[i].kind))
				return -1;
			if (simple[i].kind == FI_RFC822 || simple[i].kind == FI_RFC822_TEXT)
				f->sets_seen = 1;
			return 0;
		}
	return parse_body_item(f, a);
}

/* RFC 8970 3.1: PREVIEW (LAZY): brev computes the preview whenever it is
 * asked (it is cheap: one part's first bytes), so LAZY changes nothing.
 * Unknown or no modifiers are BAD. */
static int preview_mods(const struct iarg *l)
{
	if (!l->kids)
		return -1;
	for (const struct iarg *m = l->kids; m; m = m->next)
		if (!iarg_is_atom(m, "LAZY"))
			return -1;
	return 0;
}

static int parse_items(struct fetch *f, const struct iarg *a)
{
	if (!a)
		return -1;
	if (a->type == IA_ATOM)
		return parse_item(f, a->s);
	if (a->type != IA_LIST || !a->kids)
		return -1;
	for (const struct iarg *k = a->kids; k; k = k->next) {
		if (k->type != IA_ATOM || parse_item(f, k->s) < 0)
			return -1;
		if (iarg_is_atom(k, "PREVIEW") && k->next && k->next->type == IA_LIST) {
			if (preview_mods(k->next) < 0)
				return -1;
			k = k->next;
		}
	}
	return 0;
}

/* ---- content of one section ---- */

/* Either a byte range of the stored message or synthesized bytes. */
struct content {
	uint64_t off, len;
	struct sbuf syn;
	int synthesized;
	int missing;
};

/* ---- the message's bytes, held still while we answer ----
 *
 * imap_each_msg read the message's record, but its bytes are read later,
 * each read a transaction of its own: another session's EXPUNGE in between
 * frees them, and the answer would be empty or padded, under OK, for a
 * message the client still has (issue 18). So before a word of the answer
 * goes out, a message of up to FETCH_MEM_MAX is taken whole in one read of
 * the store and answered from memory; it is either all there or left out
 * with [EXPUNGEISSUED]. A bigger one is streamed: its structure is parsed
 * first and then checked to be still there (a message's bytes never change,
 * and once freed never come back: blob numbers are not reused); if it goes
 * while its literal is being written, the connection is closed rather than
 * the literal finished with wrong bytes. */
#define FETCH_MEM_MAX (1024 * 1024)

static long msg_read(struct imap_session *s, const struct msg_info *mi, uint64_t off, void *buf,
		     size_t n)
{
	if (s->mem_ok && s->mem_blob == mi->blob) {
		if (off >= s->mem_len)
			return 0;
		if (n > s->mem_len - off)
			n = (size_t)(s->mem_len - off);
		memcpy(buf, s->mem + off, n);
		return (long)n;
	}
	long got = store_msg_read(s->srv->store, mi->blob, off, buf, n);
	if (got < 0 || (got == 0 && n && off < mi->size))
		s->msg_lost = 1;
	return got;
}

/* 0: the message's bytes can be answered; -1: it is gone. */
static int msg_hold(struct imap_session *s, const struct msg_info *mi)
{
	s->msg_lost = 0;
	if (s->mem_ok && s->mem_blob == mi->blob)
		return 0;
	s->mem_ok = 0;
	if (mi->size <= FETCH_MEM_MAX) {
		if (s->mem_cap < mi->size || !s->mem) {
			free(s->mem);
			s->mem_cap = mi->size > 4096 ? (size_t)mi->size : 4096;
			s->mem = xmalloc(s->mem_cap);
		}
		long got = mi->size ? store_msg_read(s->srv->store, mi->blob, 0, s->mem,
						     (size_t)mi->size)
				    : 0;
		if (got != (long)mi->size)
			return -1;
		s->mem_len = (size_t)mi->size;
		s->mem_blob = mi->blob;
		s->mem_ok = 1;
		return 0;
	}
	imap_tree(s, mi);
	char last;
	if (store_msg_read(s->srv->store, mi->blob, mi->size - 1, &last, 1) != 1)
		return -1;
	return 0;
}

static void read_range(struct imap_session *s, const struct msg_info *mi, uint64_t off, uint64_t n,
		       struct sbuf *b)
{
	char buf[16384];
	while (n > 0) {
		size_t want = n > sizeof buf ? sizeof buf : (size_t)n;
		long got = msg_read(s, mi, off, buf, want);
		if (got <= 0)
			break;
		sbuf_add(b, buf, (size_t)got);
		off += (uint64_t)got;
		n -= (uint64_t)got;
	}
}

static int field_listed(const struct fitem *it, const char *name, size_t n)
{
	for (size_t i = 0; i < it->nfields; i++)
		if (strlen(it->fields[i]) == n && str_ncasecmp_ascii(it->fields[i], name, n) == 0)
			return 1;
	return 0;
}

static void header_fields(struct imap_session *s, const struct msg_info *mi,
			  const struct mime_part *p, const struct fitem *it, struct sbuf *out_b)
{
	struct sbuf h = {0};
	size_t pos = 0, prev = 0, nl, vl;
	const char *name, *val;
	uint64_t n = p->hdr_size > 4 * MIME_HDR_MAX ? 4 * MIME_HDR_MAX : p->hdr_size;

	read_range(s, mi, p->hdr_off, n, &h);
	while (h.p && mime_hdr_next(h.p, h.len, &pos, &name, &nl, &val, &vl)) {
		int listed = field_listed(it, name, nl);
		if (listed == (it->spec == SP_FIELDS)) {
			/* The field's raw lines, from its name to its CRLF. */
			size_t from = (size_t)(name - h.p), to = pos;
			sbuf_add(out_b, h.p + from, to - from);
			if (to == h.len && (to == from || h.p[to - 1] != '\n'))
				sbuf_puts(out_b, "\r\n");
		}
		prev = pos;
	}
	(void)prev;
	sbuf_puts(out_b, "\r\n");
	sbuf_free(&h);
}

static void section_content(struct imap_session *s, const struct msg_info *mi,
			    const struct fitem *it, struct content *c)
{
	memset(c, 0, sizeof *c);
	/* BODY[] and BINARY[] (RFC 9051 6.4.5): the whole message. A message
	 * as a whole carries no transfer encoding to undo (its parts are asked
	 * for by number), so BINARY[] is its bytes as stored. */
	if (it->npart == 0 && it->spec == SP_NONE) {
		c->off = 0;
		c->len = mi->size;
		return;
	}
	const struct mime_part *root = imap_tree(s, mi);
	const struct mime_part *p = mime_section(root, it->part, it->npart);
	if (!p) {
		c->missing = 1;
		return;
	}
	const struct mime_part *m = p; /* the message whose HEADER/TEXT is asked */
	if (it->npart && (it->spec == SP_HEADER || it->spec == SP_TEXT || it->spec == SP_FIELDS ||
			  it->spec == SP_FIELDS_NOT)) {
		if (!p->rfc822 || !p->children) {
			c->missing = 1;
			return;
		}
		m = p->children;
	}
	switch (it->spec) {
	case SP_NONE:
		if (it->kind != FI_SECTION) {
			/* BINARY: the body with its Content-Transfer-Encoding
			 * undone (RFC 3516 4.2). For a message/rfc822 part that is
			 * the message it holds; a multipart's encoding is always
			 * an identity (RFC 2045 6.4), so its body comes as is. */
			int cte = mime_cte(p);
			if (p->multipart || (p->rfc822 && cte != CTE_BASE64 && cte != CTE_QP)) {
				c->off = p->body_off; /* nothing to undo: streamed */
				c->len = p->body_size;
				return;
			}
			struct sbuf raw = {0};
			read_range(s, mi, p->body_off, p->body_size, &raw);
			mime_decode_body(&c->syn, raw.p ? raw.p : "", raw.len, cte);
			sbuf_free(&raw);
			c->synthesized = 1;
			return;
		}
		c->off = p->body_off;
		c->len = p->body_size;
		return;
	case SP_MIME:
		c->off = p->hdr_off;
		c->len = p->hdr_size;
		return;
	case SP_HEADER:
		c->off = m->hdr_off;
		c->len = m->hdr_size;
		return;
	case SP_TEXT:
		c->off = m->body_off;
		c->len = m->body_size;
		return;
	default:
		header_fields(s, mi, m, it, &c->syn);
		c->synthesized = 1;
	}
}

/* A NUL may not travel in a {n} literal (RFC 9051 4.3); a stored message
 * can only hold one if it came in before brev refused them (SMTP 554
 * 5.6.0, APPEND NO): shown as 0x80, so the literal's length still holds. */
static void write_no_nul(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		const char *z = memchr(p, 0, n);
		size_t k = z ? (size_t)(z - p) : n;
		conn_write(c, p, k);
		if (z) {
			conn_write(c, "\x80", 1);
			k++;
		}
		p += k;
		n -= k;
	}
}

/* Write the content as a literal, streamed, with the <o.n> window. */
static void write_content(struct imap_session *s, const struct msg_info *mi, struct content *c,
			  const struct fitem *it)
{
	uint64_t total = c->synthesized ? c->syn.len : c->len;
	uint64_t from = 0, n = total;
	if (it->partial) {
		from = it->off < total ? it->off : total;
		n = total - from < it->len ? total - from : it->len;
	}
	if (c->missing) {
		conn_puts(s->c, it->kind == FI_SECTION ? "NIL" : "\"\"");
		return;
	}
	int lit8 = 0;
	if (it->kind == FI_BINARY && c->synthesized && memchr(c->syn.p ? c->syn.p : "", 0, c->syn.len))
		lit8 = 1;
	conn_printf(s->c, "%s{%llu}\r\n", lit8 ? "~" : "", (unsigned long long)n);
	if (c->synthesized) {
		if (n && lit8)
			conn_write(s->c, c->syn.p + from, (size_t)n);
		else if (n)
			write_no_nul(s->c, c->syn.p + from, (size_t)n);
		return;
	}
	char buf[16384];
	uint64_t off = c->off + from;
	while (n > 0) {
		size_t want = n > sizeof buf ? sizeof buf : (size_t)n;
		long got = msg_read(s, mi, off, buf, want);
		if (got <= 0) {
			s->msg_lost = 1; /* gone under us: never pad with wrong bytes */
			return;
		}
		write_no_nul(s->c, buf, (size_t)got);
		off += (uint64_t)got;
		n -= (uint64_t)got;
	}
}

static void date_out(struct sbuf *b, int64_t t)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	sbuf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, mon[tm.tm_mon],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Does the item need the message's bytes (not just its record)? */
static int needs_bytes(int kind)
{
	return kind != FI_FLAGS && kind != FI_UID && kind != FI_INTERNALDATE && kind != FI_SIZE &&
	       kind != FI_MODSEQ && kind != FI_SAVEDATE && kind != FI_EMAILID &&
	       kind != FI_THREADID;
}

/* One FETCH response. 0 answered; 1 left out (expunged, its bytes gone
 * before we began); -1 its bytes went while we wrote: the response is
 * cut and the connection must close. */
static int fetch_one(struct imap_session *s, uint32_t seq, const struct msg_info *mi,
		     const struct fetch *f, int uid)
{
	struct sbuf b = {0};
	int first = 1, have_uid = 0, have_flags = 0, have_modseq = 0, bytes = 0;

	for (size_t k = 0; k < f->n; k++) {
		have_uid |= f->it[k].kind == FI_UID;
		have_modseq |= f->it[k].kind == FI_MODSEQ;
		have_flags |= f->it[k].kind == FI_FLAGS;
		bytes |= needs_bytes(f->it[k].kind);
	}
	if (bytes && msg_hold(s, mi) < 0)
		return 1;
	if (imap_fetch_open(s, &b, seq, mi->uid) && uid && !have_uid) {
		sbuf_printf(&b, "UID %u", mi->uid);
		first = 0;
	}
	for (size_t k = 0; k < f->n; k++) {
		const struct fitem *it = &f->it[k];
		if (!first)
			sbuf_puts(&b, " ");
		first = 0;
		switch (it->kind) {
		case FI_FLAGS:
			sbuf_puts(&b, "FLAGS ");
			imap_flags_out(s, &b, mi->flags, mi->keywords, mi->uid);
			imap_said(s, mi->uid, mi->modseq);
			break;
		case FI_UID:
			sbuf_printf(&b, "UID %u", mi->uid);
			break;
		case FI_MODSEQ:
			sbuf_printf(&b, "MODSEQ (%llu)", (unsigned long long)mi->modseq);
			s->modseq_told = 1;
			break;
		case FI_EMAILID: {
			char id[OBJID_MAX];
			objid_email(id, mi->blob);
			sbuf_printf(&b, "EMAILID (%s)", id);
			break;
		}
		case FI_THREADID: /* RFC 8474 5.2: no thread ids (yet) */
			sbuf_puts(&b, "THREADID NIL");
			break;
		case FI_PREVIEW: {
			struct sbuf pv = {0};
			struct msg_src src;
			imap_msg_src(s, mi, &src);
			mime_preview(imap_tree(s, mi), &src, &pv);
			sbuf_puts(&b, "PREVIEW ");
			/* RFC 8970 3.1: no text is "", never NIL (that is LAZY's
			 * "not yet", which brev never needs) */
			mbuf_imap_string(&b, pv.p ? pv.p : "", pv.len, s->utf8);
			sbuf_free(&pv);
			break;
		}
		case FI_INTERNALDATE:
			sbuf_puts(&b, "INTERNALDATE ");
			date_out(&b, mi->internaldate);
			break;
		case FI_SAVEDATE:
			/* RFC 8514 3: never NIL here, every mailbox keeps save
			 * dates (a message from before schema 3 answers its
			 * INTERNALDATE, mailbox.h). */
			sbuf_puts(&b, "SAVEDATE ");
			date_out(&b, mi->savedate);
			break;
		case FI_SIZE:
			sbuf_printf(&b, "RFC822.SIZE %llu", (unsigned long long)mi->size);
			break;
		case FI_ENVELOPE:
			sbuf_puts(&b, "ENVELOPE ");
			mime_envelope(&b, imap_tree(s, mi), s->utf8);
			break;
		case FI_BODY:
		case FI_BODYSTRUCTURE:
			sbuf_puts(&b, it->kind == FI_BODY ? "BODY " : "BODYSTRUCTURE ");
			mime_bodystructure(&b, imap_tree(s, mi), it->kind == FI_BODYSTRUCTURE,
					   s->utf8);
			break;
		case FI_BINARY_SIZE: {
			struct content c;
			section_content(s, mi, it, &c);
			sbuf_printf(&b, "%s %llu", it->label,
				    (unsigned long long)(c.synthesized ? c.syn.len : c.len));
			sbuf_free(&c.syn);
			break;
		}
		default: {
			struct fitem tmp;
			const struct fitem *use = it;
			const char *label = it->label;
			if (it->kind == FI_RFC822 || it->kind == FI_RFC822_HEADER ||
			    it->kind == FI_RFC822_TEXT) {
				memset(&tmp, 0, sizeof tmp);
				tmp.kind = FI_SECTION;
				tmp.spec = it->kind == FI_RFC822 ? SP_NONE
					   : it->kind == FI_RFC822_HEADER ? SP_HEADER : SP_TEXT;
				use = &tmp;
				label = it->kind == FI_RFC822 ? "RFC822"
					: it->kind == FI_RFC822_HEADER ? "RFC822.HEADER" : "RFC822.TEXT";
			}
			struct content c;
			section_content(s, mi, use, &c);
			sbuf_puts(&b, label);
			sbuf_puts(&b, " ");
			conn_write(s->c, b.p, b.len);
			b.len = 0;
			write_content(s, mi, &c, use);
			sbuf_free(&c.syn);
		}
		}
		if (s->msg_lost) {
			sbuf_free(&b);
			return -1;
		}
	}
	if (f->sets_seen && !have_flags && !s->readonly) {
		sbuf_puts(&b, " FLAGS ");
		imap_flags_out(s, &b, mi->flags, mi->keywords, mi->uid);
		imap_said(s, mi->uid, mi->modseq);
		/* RFC 7162 3.1.4: a flag change the client did not ask about
		 * comes with its MODSEQ. */
		if (s->condstore && !have_modseq) {
			sbuf_printf(&b, " MODSEQ (%llu)", (unsigned long long)mi->modseq);
			s->modseq_told = 1;
		}
	}
	sbuf_puts(&b, ")\r\n");
	conn_write(s->c, b.p, b.len);
	sbuf_free(&b);
	return 0;
}

struct fetch_ctx {
	const struct fetch *f;
	int uid, gone;
	int changedsince;       /* RFC 7162 3.1.4.1: only messages above since */
	uint64_t since;
	uint32_t *unseen;
	size_t nunseen;
};

static int unseen_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		     void *arg)
{
	struct fetch_ctx *x = arg;
	if (mi && !(mi->flags & FL_SEEN))
		x->unseen[x->nunseen++] = r->uid;
	return 0;
}

static int fetch_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		    void *arg)
{
	struct fetch_ctx *x = arg;
	if (!mi) {
		x->gone = 1;
		return 0;
	}
	if (x->changedsince && mi->modseq <= x->since)
		return 0;
	int rc = fetch_one(s, r->seq, mi, x->f, x->uid);
	if (rc > 0)
		x->gone = 1;
	if (rc < 0) {
		log_warn("imap id=%lu: message uid %u expunged while its FETCH literal was written;"
			 " closing the connection", s->id, mi->uid);
		s->state = IS_LOGOUT;
		s->reason = "message-gone";
		return 1;
	}
	return conn_error(s->c) != 0;
}

/* FETCH modifiers (RFC 4466 2.4): (CHANGEDSINCE n [VANISHED]). NULL or
 * the BAD text. */
static const char *fetch_modifiers(struct imap_session *s, const struct iarg *l, int uid,
				   struct fetch_ctx *x, int *vanished)
{
	if (!l)
		return NULL;
	if (l->type != IA_LIST || !l->kids)
		return "Invalid FETCH modifiers";
	for (const struct iarg *m = l->kids; m; m = m->next) {
		if (iarg_is_atom(m, "CHANGEDSINCE") && !(x->changedsince & 1)) {
			if (imap_modseq_arg(m->next, &x->since) < 0)
				return "CHANGEDSINCE needs a mod-sequence";
			x->changedsince |= 1;
			m = m->next;
		} else if (iarg_is_atom(m, "VANISHED") && !*vanished) {
			*vanished = 1;
		} else {
			return "Unknown FETCH modifier";
		}
	}
	/* RFC 7162 3.2.6: UID FETCH only, with CHANGEDSINCE, after ENABLE
	 * QRESYNC; anything else is BAD. */
	if (*vanished && (!uid || !s->qresync || !(x->changedsince & 1)))
		return "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC";
	return NULL;
}

void imap_cmd_fetch(struct imap_session *s, int uid)
{
	struct fetch *f = xcalloc(1, sizeof *f);
	struct imap_ref *refs = NULL;
	struct fetch_ctx x = {.f = f, .uid = uid};
	size_t n;
	int bad, rc;

	imap_sync(s, uid);
	/* "FETCH 1 PREVIEW (LAZY)": the one item outside parentheses may
	 * carry its RFC 8970 modifiers too. */
	const struct iarg *items = iarg_nth(s->cmd.args, 1), *mods = iarg_nth(s->cmd.args, 2);
	size_t maxargs = 3;
	if (iarg_is_atom(items, "PREVIEW") && mods && mods->type == IA_LIST && mods->kids &&
	    iarg_is_atom(mods->kids, "LAZY")) {
		if (preview_mods(mods) < 0) {
			imap_tagged(s, "BAD", "Invalid PREVIEW modifiers");
			goto out;
		}
		mods = mods->next;
		maxargs = 4;
	}
	if (parse_items(f, items) < 0 || s->cmd.args->nkids > maxargs) {
		imap_tagged(s, "BAD", "Invalid FETCH items");
		goto out;
	}
	int vanished = 0;
	const char *merr = fetch_modifiers(s, mods, uid, &x, &vanished);
	if (merr) {
		imap_tagged(s, "BAD", "%s", merr);
		goto out;
	}
	for (size_t k = 0; k < f->n; k++)
		if (f->it[k].kind == FI_MODSEQ)
			x.changedsince |= 2; /* MODSEQ asked for */
	if (x.changedsince & 1 && !(x.changedsince & 2) && !add(f, FI_MODSEQ)) {
		imap_tagged(s, "BAD", "Invalid FETCH items");
		goto out;
	}
	if (x.changedsince) /* CHANGEDSINCE or MODSEQ: CONDSTORE-enabling */
		imap_condstore_on(s);
	x.changedsince &= 1;
	n = imap_resolve_set(s, iarg_str(iarg_nth(s->cmd.args, 0)), uid, &refs, &bad);
	if (bad) {
		imap_tagged(s, "BAD", "Invalid sequence set");
		goto out;
	}
	if (vanished) {
		/* RFC 7162 3.2.6: the UIDs of the set expunged since, first. */
		struct seqset ss;
		if (imap_set_arg(s, iarg_str(iarg_nth(s->cmd.args, 0)), 1, 0, &ss) == 0) {
			imap_qresync_report(s, &ss, x.since, view_max(&s->view) + 1, 0);
			seqset_free(&ss);
		}
	}
	/* Implicit \Seen (RFC 9051 6.4.5) before we answer, so the FLAGS
	 * we send are the new ones. */
	if (f->sets_seen && !s->readonly && n) {
		x.unseen = xmalloc(n * sizeof *x.unseen);
		if (imap_each_msg(s, refs, n, unseen_cb, &x) == ST_OK && x.nunseen)
			store_msg_flags(s->srv->store, s->acct.id, s->mbox, x.unseen, x.nunseen,
					FLAGS_ADD, FL_SEEN, NULL, 0);
		free(x.unseen);
	}
	rc = imap_each_msg(s, refs, n, fetch_cb, &x);
	if (s->state == IS_LOGOUT)
		goto out; /* a literal was cut short: no more words on this connection */
	if (rc != ST_OK)
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
	else if (x.gone)
		imap_tagged(s, "OK", "[EXPUNGEISSUED] Some messages were expunged");
	else
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	/* An idle session keeps no megabyte: a big copy goes with its FETCH. */
	if (s->mem_cap > 64 * 1024) {
		free(s->mem);
		s->mem = NULL;
		s->mem_cap = s->mem_len = 0;
		s->mem_ok = 0;
	}
	free(refs);
	fetch_clear(f);
	free(f);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct store_ctx {
	int uid, silent;
	int cond;                 /* UNCHANGEDSINCE given */
	uint32_t *failed_uids;    /* ascending: left alone, [MODIFIED] */
	size_t nfailed;
};

static int store_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		    void *arg)
{
	struct store_ctx *x = arg;
	struct sbuf b = {0};
	if (!mi)
		return 0; /* expunged meanwhile */
	if (x->nfailed &&
	    bsearch(&mi->uid, x->failed_uids, x->nfailed, sizeof *x->failed_uids, u32_cmp))
		return 0; /* not stored: it is in [MODIFIED] */
	imap_said(s, mi->uid, mi->modseq);
	/* RFC 7162 3.1.3: with CONDSTORE on, MODSEQ goes out even for
	 * .SILENT, so the client knows its copy of the flags is current. */
	if (x->silent && !s->condstore)
		return 0;
	if (imap_fetch_open(s, &b, r->seq, mi->uid) && x->uid)
		sbuf_printf(&b, "UID %u ", mi->uid);
	if (!x->silent) {
		sbuf_puts(&b, "FLAGS ");
		imap_flags_out(s, &b, mi->flags, mi->keywords, mi->uid);
	}
	if (s->condstore) {
		sbuf_printf(&b, "%sMODSEQ (%llu)", x->silent ? "" : " ",
			    (unsigned long long)mi->modseq);
		s->modseq_told = 1;
	}
	sbuf_puts(&b, ")\r\n");
	conn_write(s->c, b.p, b.len);
	sbuf_free(&b);
	return conn_error(s->c) != 0;
}

void imap_cmd_store(struct imap_session *s, int uid)
{
	/* RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) item flags. imapflow
	 * (1.x) puts the modifier last, after a flag list; that order is
	 * taken too, since it cannot mean anything else. */
	size_t at = 1;
	int cond = 0;
	uint64_t since = 0;
	const struct iarg *mod = iarg_nth(s->cmd.args, 1);
	const struct iarg *last = iarg_nth(s->cmd.args, 3);
	if (mod && mod->type != IA_LIST && last && !last->next && last->type == IA_LIST &&
	    iarg_is_atom(last->kids, "UNCHANGEDSINCE") &&
	    iarg_nth(s->cmd.args, 2)->type == IA_LIST)
		mod = last;
	else
		last = NULL;
	if (mod && mod->type == IA_LIST) {
		if (mod->nkids != 2 || !iarg_is_atom(mod->kids, "UNCHANGEDSINCE") ||
		    imap_modseq_arg(mod->kids->next, &since) < 0 || s->cmd.args->nkids < 4) {
			imap_tagged(s, "BAD", "Invalid STORE modifier");
			return;
		}
		cond = 1;
		at = last ? 1 : 2;
	}
	const struct iarg *what = iarg_nth(s->cmd.args, at);
	const char *w = iarg_str(what);
	int op, silent = 0;
	uint32_t flags;
	const char *kw[STORE_KEYWORDS];
	size_t nkw = 0, n;
	struct imap_ref *refs = NULL;
	int bad;

	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (!w || what->type != IA_ATOM) {
		imap_tagged(s, "BAD", "Invalid STORE item");
		return;
	}
	op = *w == '+' ? FLAGS_ADD : *w == '-' ? FLAGS_DEL : FLAGS_SET;
	if (*w == '+' || *w == '-')
		w++;
	if (str_casecmp_ascii(w, "FLAGS.SILENT") == 0)
		silent = 1;
	else if (str_casecmp_ascii(w, "FLAGS") != 0) {
		imap_tagged(s, "BAD", "Invalid STORE item");
		return;
	}
	/* The flags: one list, or atoms as separate arguments. */
	const struct iarg *fl = iarg_nth(s->cmd.args, at + 1);
	struct iarg tmp = {.type = IA_LIST, .kids = (struct iarg *)fl};
	if (fl->type != IA_LIST)
		fl = &tmp;
	else if (fl->next && fl->next != last) {
		imap_tagged(s, "BAD", "Unexpected STORE argument");
		return;
	}
	/* \Recent is the server's to set (RFC 3501 2.3.2, 6.4.6). */
	for (const struct iarg *f = fl->type == IA_LIST ? fl->kids : NULL; f; f = f->next)
		if (iarg_is_atom(f, "\\RECENT")) {
			imap_tagged(s, "BAD", "\\Recent cannot be stored");
			return;
		}
	if (imap_parse_flags(fl, &flags, kw, &nkw, ARRAY_LEN(kw)) < 0) {
		imap_tagged(s, "BAD", "Invalid flag");
		return;
	}
	if (cond)
		imap_condstore_on(s);
	imap_sync(s, uid);
	n = imap_resolve_set(s, iarg_str(iarg_nth(s->cmd.args, 0)), uid, &refs, &bad);
	if (bad) {
		free(refs);
		imap_tagged(s, "BAD", "Invalid sequence set");
		return;
	}
	uint32_t *uids = xmalloc((n + 1) * sizeof *uids);
	unsigned char *failed = cond ? xcalloc(n + 1, 1) : NULL;
	for (size_t i = 0; i < n; i++)
		uids[i] = refs[i].uid;
	int rc = !n ? ST_OK
		 : cond ? store_msg_flags_if(s->srv->store, s->acct.id, s->mbox, uids, n, op, flags,
					     kw, nkw, since, failed)
			: store_msg_flags(s->srv->store, s->acct.id, s->mbox, uids, n, op, flags, kw,
					  nkw);
	/* The messages that failed the test, as numbers (STORE) or UIDs
	 * (UID STORE) for [MODIFIED] and as UIDs to leave out below. */
	struct store_ctx x = {.uid = uid, .silent = silent, .cond = cond};
	uint32_t *modified = NULL;
	if (rc == ST_OK && cond) {
		x.failed_uids = xmalloc((n + 1) * sizeof *x.failed_uids);
		modified = xmalloc((n + 1) * sizeof *modified);
		for (size_t i = 0; i < n; i++)
			if (failed[i]) {
				modified[x.nfailed] = uid ? refs[i].uid : refs[i].seq;
				x.failed_uids[x.nfailed++] = refs[i].uid;
			}
	}
	/* $Junk / $NotJunk: the classifier learns (spam_learn.h) */
	if (rc == ST_OK && nkw && op != FLAGS_DEL)
		spam_learn_keywords(s->srv->store, s->acct.id, s->mbox, uids, n, kw, nkw);
	free(uids);
	free(failed);
	if (rc != ST_OK) {
		free(refs);
		/* the mailbox's keyword table is full; nothing was changed */
		if (rc == ST_LIMIT)
			imap_tagged(s, "NO", "[LIMIT] At most %d keywords per mailbox",
				    STORE_KEYWORDS);
		else
			imap_tagged(s, "NO", "%s", imap_store_no(rc));
		return;
	}
	if (nkw)
		imap_kw_refresh(s);
	/* Read the new flags back; answer FETCH for ours unless .SILENT, and
	 * note them either way so imap_sync does not repeat them. */
	imap_each_msg(s, refs, n, store_cb, &x);
	free(refs);
	if (x.nfailed) {
		struct sbuf b = {0};
		imap_uidset_out(&b, modified, x.nfailed);
		imap_tagged(s, "OK", "[MODIFIED %s] Conditional STORE failed", b.p);
		sbuf_free(&b);
	} else {
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
	}
	free(modified);
	free(x.failed_uids);
}

/* ---- NOTIFY MessageNew fetch-att (RFC 5465 5.1, imap_notify.c) ---- */

int imap_fetch_items_ok(const struct iarg *items)
{
	struct fetch *f = xcalloc(1, sizeof *f);
	int rc = parse_items(f, items);
	fetch_clear(f);
	free(f);
	return rc;
}

struct notify_fetch {
	const struct fetch *f;
	int (*stop)(struct imap_session *s);
};

static int notify_fetch_cb(struct imap_session *s, const struct imap_ref *r,
			   const struct msg_info *mi, void *arg)
{
	struct notify_fetch *x = arg;
	if (!mi)
		return 0; /* gone already: its EXPUNGE follows */
	if (x->stop && x->stop(s))
		return 1;
	if (fetch_one(s, r->seq, mi, x->f, 0) < 0) {
		s->state = IS_LOGOUT; /* a literal was cut short */
		s->reason = "message-gone";
		return 1;
	}
	return conn_error(s->c) != 0;
}

void imap_fetch_items_out(struct imap_session *s, const struct iarg *items, const uint32_t *uids,
			  size_t n, int (*stop)(struct imap_session *s))
{
	struct fetch *f = xcalloc(1, sizeof *f);
	struct imap_ref *refs = xcalloc(n ? n : 1, sizeof *refs);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = view_seq(&s->view, uids[i]);
		if (seq)
			refs[k++] = (struct imap_ref){seq, uids[i]};
	}
	if (k && parse_items(f, items) == 0) {
		/* A notification never changes the mailbox: BODY[] is
		 * answered as BODY.PEEK[] would be. */
		f->sets_seen = 0;
		struct notify_fetch x = {f, stop};
		imap_each_msg(s, refs, k, notify_fetch_cb, &x);
	}
	free(refs);
	fetch_clear(f);
	free(f);
}
