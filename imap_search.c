/*
 * imap_search.c — SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4)
 * with every RFC 3501 key, CHARSET UTF-8/US-ASCII, and ESEARCH results
 * (RFC 4731: RETURN (MIN MAX COUNT ALL); always for IMAP4rev2 sessions).
 *
 * The keys become a small tree (bounded by SEARCH_NODES_MAX nodes), then
 * each message is tested; flag, size, date and UID keys are answered from
 * the snapshot, header keys read the message header, BODY and TEXT decode
 * text parts (message.c). String matches are case-insensitive substrings
 * on decoded UTF-8, ASCII case folding.
 */
#include "imap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "server.h"
#include "util.h"

#define SEARCH_NODES_MAX 500

enum { K_ALL, K_RECENT, K_NEW, K_OLD, K_FLAG, K_UNFLAG, K_KEYWORD, K_UNKEYWORD, K_HEADER, K_BODY, K_TEXT, K_BEFORE,
       K_ON, K_SINCE, K_SENTBEFORE, K_SENTON, K_SENTSINCE, K_LARGER, K_SMALLER, K_UID, K_SEQ,
       K_NOT, K_OR, K_AND, K_NONE, K_MODSEQ, K_OLDER, K_YOUNGER };

struct snode {
	int op;
	uint32_t flag;
	char *field;          /* K_HEADER: field name */
	char *str;
	int64_t num;          /* size, day number, or OLDER/YOUNGER cutoff (unix s) */
	uint64_t modseq;      /* K_MODSEQ */
	struct seqset set;
	struct snode *a, *b;  /* NOT: a; OR: a b; AND: list via a->... */
	struct store_fts *fts; /* K_BODY/K_TEXT: the full-text index's candidates */
	struct snode *next;   /* siblings inside AND */
};

struct sparse {
	const struct iarg *cur;
	int nodes;
	int err;
	int modseq;           /* a MODSEQ key was used: results carry (MODSEQ n) */
	struct imap_session *s;
};

static void snode_free(struct snode *n)
{
	while (n) {
		struct snode *next = n->next;
		snode_free(n->a);
		snode_free(n->b);
		free(n->field);
		free(n->str);
		seqset_free(&n->set);
		if (n->fts)
			store_fts_free(n->fts);
		free(n->fts);
		free(n);
		n = next;
	}
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec"};

static int64_t days_from_civil(int y, int m, int d)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m, .tm_mday = d, .tm_hour = 12};
	return (int64_t)timegm(&tm) / 86400;
}

/* "1-Feb-1994" (RFC 9051 9 date) -> day number, or -1. */
int64_t imap_parse_date(const char *s)
{
	int d = 0, y = 0, k = 0;
	char mon[4];

	while (isdigit((unsigned char)*s) && k < 2) {
		d = d * 10 + (*s++ - '0');
		k++;
	}
	if (!k || *s++ != '-')
		return -1;
	for (k = 0; k < 3; k++) {
		if (!isalpha((unsigned char)s[k]))
			return -1;
		mon[k] = (char)tolower((unsigned char)s[k]);
	}
	mon[3] = 0;
	s += 3;
	if (*s++ != '-')
		return -1;
	for (k = 0; k < 4; k++) {
		if (!isdigit((unsigned char)s[k]))
			return -1;
		y = y * 10 + (s[k] - '0');
	}
	if (s[4] || d < 1 || d > 31)
		return -1;
	for (int m = 0; m < 12; m++)
		if (strcmp(mon, months[m]) == 0)
			return days_from_civil(y, m, d);
	return -1;
}

/* RFC 5322 3.3 date: [day ","] d Mon yyyy ... -> day number, or -1. */
static int64_t rfc5322_day(const char *s)
{
	const char *comma = strchr(s, ',');
	int d, y;
	char mon[8];
	if (comma)
		s = comma + 1;
	if (sscanf(s, "%d %7s %d", &d, mon, &y) != 3)
		return -1;
	if (y < 100)
		y += y < 50 ? 2000 : 1900;
	for (int m = 0; m < 12; m++)
		if (str_ncasecmp_ascii(mon, months[m], 3) == 0 && d >= 1 && d <= 31)
			return days_from_civil(y, m, d);
	return -1;
}

static struct snode *parse_key(struct sparse *p, int depth);

static const char *take_str(struct sparse *p)
{
	const struct iarg *a = p->cur;
	if (!a || a->type == IA_LIST || !a->s || (a->literal && strlen(a->s) != a->len)) {
		p->err = 1;
		return NULL;
	}
	p->cur = a->next;
	return a->s;
}

static struct snode *node(struct sparse *p, int op)
{
	if (++p->nodes > SEARCH_NODES_MAX) {
		p->err = 1;
		return NULL;
	}
	struct snode *n = xcalloc(1, sizeof *n);
	n->op = op;
	return n;
}

static struct snode *parse_and_list(struct sparse *p, const struct iarg *first, int depth)
{
	struct snode *and = node(p, K_AND), **tail;
	if (!and)
		return NULL;
	tail = &and->a;
	const struct iarg *save = p->cur;
	p->cur = first;
	while (p->cur && !p->err) {
		struct snode *k = parse_key(p, depth + 1);
		if (!k)
			break;
		*tail = k;
		tail = &k->next;
	}
	p->cur = save;
	if (!and->a)
		p->err = 1;
	return and;
}

static const struct {
	const char *name;
	int op;
	uint32_t flag;
} flag_keys[] = {
	{"ANSWERED", K_FLAG, FL_ANSWERED},   {"DELETED", K_FLAG, FL_DELETED},
	{"DRAFT", K_FLAG, FL_DRAFT},         {"FLAGGED", K_FLAG, FL_FLAGGED},
	{"SEEN", K_FLAG, FL_SEEN},           {"OLD", K_OLD, 0},
	{"UNANSWERED", K_UNFLAG, FL_ANSWERED}, {"UNDELETED", K_UNFLAG, FL_DELETED},
	{"UNDRAFT", K_UNFLAG, FL_DRAFT},     {"UNFLAGGED", K_UNFLAG, FL_FLAGGED},
	{"UNSEEN", K_UNFLAG, FL_SEEN},       {"ALL", K_ALL, 0},
	{"NEW", K_NEW, 0},                   {"RECENT", K_RECENT, 0},
};

static const struct {
	const char *name;
	const char *field;
} hdr_keys[] = {{"FROM", "from"}, {"TO", "to"}, {"CC", "cc"}, {"BCC", "bcc"},
		{"SUBJECT", "subject"}};

static const struct {
	const char *name;
	int op;
} date_keys[] = {{"BEFORE", K_BEFORE},         {"ON", K_ON},
		 {"SINCE", K_SINCE},           {"SENTBEFORE", K_SENTBEFORE},
		 {"SENTON", K_SENTON},         {"SENTSINCE", K_SENTSINCE}};

static struct snode *parse_key(struct sparse *p, int depth)
{
	const struct iarg *a = p->cur;
	struct snode *n;

	if (!a || depth > 32 || p->err) {
		p->err = 1;
		return NULL;
	}
	p->cur = a->next;
	if (a->type == IA_LIST)
		return parse_and_list(p, a->kids, depth);
	if (a->type != IA_ATOM) {
		p->err = 1;
		return NULL;
	}
	const char *k = a->s;
	for (size_t i = 0; i < ARRAY_LEN(flag_keys); i++)
		if (str_casecmp_ascii(k, flag_keys[i].name) == 0) {
			if ((n = node(p, flag_keys[i].op)))
				n->flag = flag_keys[i].flag;
			return n;
		}
	for (size_t i = 0; i < ARRAY_LEN(hdr_keys); i++)
		if (str_casecmp_ascii(k, hdr_keys[i].name) == 0) {
			const char *v = take_str(p);
			if (!v || !(n = node(p, K_HEADER)))
				return NULL;
			n->field = xstrdup(hdr_keys[i].field);
			n->str = xstrdup(v);
			n->num = strcmp(hdr_keys[i].field, "subject") != 0; /* an address field */
			return n;
		}
	for (size_t i = 0; i < ARRAY_LEN(date_keys); i++)
		if (str_casecmp_ascii(k, date_keys[i].name) == 0) {
			const char *v = take_str(p);
			int64_t d = v ? imap_parse_date(v) : -1;
			if (d < 0 || !(n = node(p, date_keys[i].op))) {
				p->err = 1;
				return NULL;
			}
			n->num = d;
			return n;
		}
	if (!str_casecmp_ascii(k, "HEADER")) {
		const char *f = take_str(p), *v = f ? take_str(p) : NULL;
		if (!v || !(n = node(p, K_HEADER)))
			return NULL;
		n->field = xstrdup(f);
		n->str = xstrdup(v);
		return n;
	}
	if (!str_casecmp_ascii(k, "BODY") || !str_casecmp_ascii(k, "TEXT")) {
		const char *v = take_str(p);
		if (!v || !(n = node(p, !str_casecmp_ascii(k, "BODY") ? K_BODY : K_TEXT)))
			return NULL;
		n->str = xstrdup(v);
		return n;
	}
	if (!str_casecmp_ascii(k, "KEYWORD") || !str_casecmp_ascii(k, "UNKEYWORD")) {
		const char *v = take_str(p);
		if (!v || !(n = node(p, k[0] == 'K' || k[0] == 'k' ? K_KEYWORD : K_UNKEYWORD)))
			return NULL;
		n->str = xstrdup(v);
		return n;
	}
	if (!str_casecmp_ascii(k, "OLDER") || !str_casecmp_ascii(k, "YOUNGER")) {
		/* RFC 5032: an interval in seconds (nz-number) against the
		 * INTERNALDATE. The cutoff is fixed here, once per command, so
		 * every message of one SEARCH is judged against the same now;
		 * OLDER n and YOUNGER n split the mailbox with no gap or overlap. */
		const char *v = take_str(p);
		long long x;
		if (!v || parse_int(v, 1, UINT32_MAX, &x) < 0 ||
		    !(n = node(p, toupper((unsigned char)k[0]) == 'O' ? K_OLDER : K_YOUNGER))) {
			p->err = 1;
			return NULL;
		}
		n->num = (int64_t)time(NULL) - x;
		return n;
	}
	if (!str_casecmp_ascii(k, "LARGER") || !str_casecmp_ascii(k, "SMALLER")) {
		const char *v = take_str(p);
		long long x;
		if (!v || parse_int(v, 0, (long long)UINT32_MAX * 1024, &x) < 0 ||
		    !(n = node(p, toupper((unsigned char)k[0]) == 'L' ? K_LARGER : K_SMALLER))) {
			p->err = 1;
			return NULL;
		}
		n->num = x;
		return n;
	}
	if (!str_casecmp_ascii(k, "UID")) {
		const char *v = take_str(p);
		if (!v || !(n = node(p, K_UID)))
			return NULL;
		if (seqset_parse(v, &n->set) < 0) {
			p->err = 1;
			free(n);
			return NULL;
		}
		return n;
	}
	if (!str_casecmp_ascii(k, "MODSEQ")) {
		/* RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] n. brev
		 * keeps one modseq per message, which is every entry's. */
		const struct iarg *e = p->cur;
		if (e && e->type == IA_STRING) {
			const struct iarg *t = e->next;
			if (!iarg_is_atom(t, "PRIV") && !iarg_is_atom(t, "SHARED") &&
			    !iarg_is_atom(t, "ALL")) {
				p->err = 1;
				return NULL;
			}
			e = t->next;
		}
		uint64_t v;
		if (imap_modseq_arg(e, &v) < 0 || !(n = node(p, K_MODSEQ))) {
			p->err = 1;
			return NULL;
		}
		p->cur = e->next;
		n->modseq = v;
		p->modseq = 1;
		return n;
	}
	if (!str_casecmp_ascii(k, "NOT")) {
		struct snode *x = parse_key(p, depth + 1);
		if (!x || !(n = node(p, K_NOT))) {
			snode_free(x);
			return NULL;
		}
		n->a = x;
		return n;
	}
	if (!str_casecmp_ascii(k, "OR")) {
		struct snode *x = parse_key(p, depth + 1);
		struct snode *y = x ? parse_key(p, depth + 1) : NULL;
		if (!y || !(n = node(p, K_OR))) {
			snode_free(x);
			snode_free(y);
			return NULL;
		}
		n->a = x;
		n->b = y;
		return n;
	}
	/* A sequence set. */
	n = node(p, K_SEQ);
	if (!n)
		return NULL;
	if (seqset_parse(k, &n->set) < 0) {
		p->err = 1;
		free(n);
		return NULL;
	}
	return n;
}

/* ---- evaluation ---- */

struct mctx {
	struct imap_session *s;
	const struct msg_info *mi;
	uint32_t seq;
	struct sbuf hdr;
	int have_hdr;
};

/* Length of the header section in p[0..n) including the empty line that
 * ends it, or 0 if it does not end there; p[0..from) was looked at before. */
static size_t header_end(const char *p, size_t n, size_t from)
{
	if (from == 0 && n && p[0] == '\n')
		return 1;
	if (from == 0 && n > 1 && p[0] == '\r' && p[1] == '\n')
		return 2;
	/* Step back: the empty line may straddle two reads. */
	from = from > 2 ? from - 2 : 0;
	for (const char *q = p + from; (q = memchr(q, '\n', n - (size_t)(q - p))) != NULL; q++) {
		size_t at = (size_t)(q - p) + 1;
		if (at < n && p[at] == '\n')
			return at + 1;
		if (at + 1 < n && p[at] == '\r' && p[at + 1] == '\n')
			return at + 2;
	}
	return 0;
}

/* The message's header section (at most 4 * MIME_HDR_MAX bytes), read
 * straight from the start of the message: a header search need not parse
 * the MIME structure or read the body. */
static const char *load_hdr(struct mctx *m)
{
	if (!m->have_hdr) {
		char buf[16384];
		uint64_t off = 0, cap = 4 * MIME_HDR_MAX;
		while (off < cap) {
			size_t want = cap - off < sizeof buf ? (size_t)(cap - off) : sizeof buf;
			long got = store_msg_read(m->s->srv->store, m->mi->blob, off, buf, want);
			if (got <= 0)
				break;
			size_t from = m->hdr.len;
			sbuf_add(&m->hdr, buf, (size_t)got);
			off += (uint64_t)got;
			size_t end = header_end(m->hdr.p, m->hdr.len, from);
			if (end) {
				m->hdr.len = end;
				break;
			}
		}
		sbuf_add(&m->hdr, NULL, 0);
		m->have_hdr = 1;
	}
	return m->hdr.p;
}

/* addr: FROM/TO/CC/BCC match the addresses as ENVELOPE presents them
 * (RFC 9051 6.4.4), "name <mailbox@host>" with comments and folding gone,
 * so "user-from@domain.org" finds "<user-from (c)@ (c) domain.org>"; the
 * field's decoded text is tried too. */
static int header_match(struct mctx *m, const char *field, const char *needle, int addr)
{
	const char *h = load_hdr(m);
	size_t pos = 0, nl, vl;
	const char *name, *val;
	size_t fl = strlen(field);

	while (mime_hdr_next(h, m->hdr.len, &pos, &name, &nl, &val, &vl)) {
		if (nl != fl || str_ncasecmp_ascii(name, field, fl) != 0)
			continue;
		if (!*needle)
			return 1;
		char *d = mime_decode_words(val, vl);
		int hit = mime_contains(d, strlen(d), needle, strlen(needle));
		free(d);
		if (!hit && addr) {
			d = mime_addr_text(val, vl);
			hit = mime_contains(d, strlen(d), needle, strlen(needle));
			free(d);
		}
		if (hit)
			return 1;
	}
	return 0;
}

static int64_t sent_day(struct mctx *m)
{
	const char *h = load_hdr(m);
	size_t pos = 0, nl, vl;
	const char *name, *val;
	while (mime_hdr_next(h, m->hdr.len, &pos, &name, &nl, &val, &vl))
		if (nl == 4 && str_ncasecmp_ascii(name, "date", 4) == 0) {
			char *u = mime_unfold(val, vl);
			int64_t d = rfc5322_day(u);
			free(u);
			return d;
		}
	return -1;
}

static int keyword_bit(struct imap_session *s, const char *name)
{
	for (int i = 0; i < s->nkw; i++)
		if (str_casecmp_ascii(s->kw[i], name) == 0)
			return i;
	return -1;
}

static int eval(struct mctx *m, const struct snode *n)
{
	const struct msg_info *mi = m->mi;
	struct msg_src src;
	int64_t day;

	switch (n->op) {
	case K_ALL: return 1;
	case K_NONE: return 0;
	/* \Recent exists for IMAP4rev1 sessions only; a rev2 session holds
	 * none, so NEW and RECENT match nothing and OLD everything there. */
	case K_RECENT: return imap_is_recent(m->s, mi->uid);
	case K_NEW: return imap_is_recent(m->s, mi->uid) && !(mi->flags & FL_SEEN);
	case K_OLD: return !imap_is_recent(m->s, mi->uid);
	case K_FLAG: return (mi->flags & n->flag) != 0;
	case K_UNFLAG: return (mi->flags & n->flag) == 0;
	case K_KEYWORD:
	case K_UNKEYWORD: {
		int bit = keyword_bit(m->s, n->str);
		int set = bit >= 0 && (mi->keywords & ((uint64_t)1 << bit));
		return n->op == K_KEYWORD ? set : !set;
	}
	case K_HEADER: return header_match(m, n->field, n->str, n->num != 0);
	case K_BODY:
	case K_TEXT:
		/* The index narrows; the bytes decide (docs/imap.md). */
		if (n->fts && !store_fts_may_match(n->fts, mi->blob))
			return 0;
		imap_msg_src(m->s, mi, &src);
		return mime_search_text(imap_tree(m->s, mi), &src, n->str, n->op == K_TEXT);
	case K_BEFORE: return mi->internaldate / 86400 < n->num;
	case K_ON: return mi->internaldate / 86400 == n->num;
	case K_SINCE: return mi->internaldate / 86400 >= n->num;
	case K_SENTBEFORE: day = sent_day(m); return day >= 0 && day < n->num;
	case K_SENTON: day = sent_day(m); return day >= 0 && day == n->num;
	case K_SENTSINCE: day = sent_day(m); return day >= 0 && day >= n->num;
	case K_OLDER: return (int64_t)mi->internaldate <= n->num;
	case K_YOUNGER: return (int64_t)mi->internaldate > n->num;
	case K_LARGER: return mi->size > (uint64_t)n->num;
	case K_SMALLER: return mi->size < (uint64_t)n->num;
	case K_UID: return seqset_contains(&n->set, mi->uid);
	case K_MODSEQ: return mi->modseq >= n->modseq;
	case K_SEQ: return seqset_contains(&n->set, m->seq);
	case K_NOT: return !eval(m, n->a);
	case K_OR: return eval(m, n->a) || eval(m, n->b);
	case K_AND:
		for (const struct snode *k = n->a; k; k = k->next)
			if (!eval(m, k))
				return 0;
		return 1;
	}
	return 0;
}

static void resolve_sets(struct imap_session *s, struct snode *n)
{
	for (; n; n = n->next) {
		if (n->op == K_UID)
			seqset_resolve(&n->set, view_max(&s->view));
		else if (n->op == K_SEQ)
			seqset_resolve(&n->set, s->view.count);
		resolve_sets(s, n->a);
		resolve_sets(s, n->b);
	}
}

/* Ask the full-text index once per BODY/TEXT key; without an answer
 * (ST_INVALID, ST_TEMP) every message is read as before. */
static void fts_prepare(struct imap_session *s, struct snode *n)
{
	for (; n; n = n->next) {
		if ((n->op == K_BODY || n->op == K_TEXT) && !n->fts) {
			n->fts = xcalloc(1, sizeof *n->fts);
			if (store_fts_candidates(s->srv->store, n->str, n->fts) != ST_OK) {
				free(n->fts);
				n->fts = NULL;
			}
		}
		fts_prepare(s, n->a);
		fts_prepare(s, n->b);
	}
}

static void set_out(struct sbuf *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i)
			sbuf_puts(b, ",");
		if (j > i)
			sbuf_printf(b, "%u:%u", v[i], v[j]);
		else
			sbuf_printf(b, "%u", v[i]);
		i = j + 1;
	}
}

enum { R_MIN = 1, R_MAX = 2, R_COUNT = 4, R_ALL = 8 };

struct search_ctx {
	const struct snode *prog;
	int uid;
	uint32_t *hits;
	size_t nh;
	uint64_t maxmod;       /* highest MODSEQ among the hits */
};

static int search_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		     void *arg)
{
	struct search_ctx *x = arg;
	struct mctx m = {.s = s, .mi = mi, .seq = r->seq};
	if (!mi)
		return 0; /* expunged, EXPUNGE not sent yet */
	if (eval(&m, x->prog)) {
		x->hits[x->nh++] = x->uid ? r->uid : r->seq;
		if (mi->modseq > x->maxmod)
			x->maxmod = mi->modseq;
	}
	sbuf_free(&m.hdr);
	return 0;
}

void imap_cmd_search(struct imap_session *s, int uid)
{
	struct sparse p = {.cur = s->cmd.args->kids, .s = s};
	int ret = 0, esearch = s->rev2;

	/* RFC 4731: SEARCH RETURN (...) */
	if (iarg_is_atom(p.cur, "RETURN") && p.cur->next && p.cur->next->type == IA_LIST) {
		esearch = 1;
		for (const struct iarg *o = p.cur->next->kids; o; o = o->next) {
			if (iarg_is_atom(o, "MIN"))
				ret |= R_MIN;
			else if (iarg_is_atom(o, "MAX"))
				ret |= R_MAX;
			else if (iarg_is_atom(o, "COUNT"))
				ret |= R_COUNT;
			else if (iarg_is_atom(o, "ALL"))
				ret |= R_ALL;
			else {
				/* SAVE only with SEARCHRES (RFC 5182), which
				 * brev does not offer. */
				imap_tagged(s, "BAD", "Unknown RETURN option");
				return;
			}
		}
		p.cur = p.cur->next->next;
	}
	if (!ret)
		ret = R_ALL;
	if (iarg_is_atom(p.cur, "CHARSET")) {
		const char *cs = p.cur->next ? iarg_str(p.cur->next) : NULL;
		if (!cs) {
			imap_tagged(s, "BAD", "CHARSET needs a name");
			return;
		}
		if (str_casecmp_ascii(cs, "UTF-8") != 0 && str_casecmp_ascii(cs, "US-ASCII") != 0) {
			imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return;
		}
		p.cur = p.cur->next->next;
	}
	if (!p.cur) {
		imap_tagged(s, "BAD", "Missing search keys");
		return;
	}
	struct snode *prog = parse_and_list(&p, p.cur, 0);
	if (p.err || !prog) {
		snode_free(prog);
		imap_tagged(s, "BAD", p.nodes > SEARCH_NODES_MAX ? "Search too complex"
								  : "Invalid search key");
		return;
	}
	if (p.modseq)
		imap_condstore_on(s); /* RFC 7162 3.1: CONDSTORE-enabling */
	imap_sync(s, uid);
	resolve_sets(s, prog);
	fts_prepare(s, prog);
	struct imap_ref *all;
	struct search_ctx x = {.prog = prog, .uid = uid};
	size_t nall = view_all(&s->view, &all);
	x.hits = xmalloc((nall + 1) * sizeof *x.hits);
	int rc = imap_each_msg(s, all, nall, search_cb, &x);
	free(all);
	snode_free(prog);
	if (rc != ST_OK) {
		free(x.hits);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	uint32_t *hits = x.hits;
	size_t nh = x.nh;
	struct sbuf b = {0};
	if (esearch) {
		sbuf_puts(&b, "* ESEARCH (TAG ");
		mbuf_imap_string(&b, s->cmd.tag, strlen(s->cmd.tag), 0);
		sbuf_puts(&b, ")");
		if (uid)
			sbuf_puts(&b, " UID");
		if ((ret & R_MIN) && nh)
			sbuf_printf(&b, " MIN %u", hits[0]);
		if ((ret & R_MAX) && nh)
			sbuf_printf(&b, " MAX %u", hits[nh - 1]);
		if (ret & R_COUNT)
			sbuf_printf(&b, " COUNT %zu", nh);
		if ((ret & R_ALL) && nh) {
			sbuf_puts(&b, " ALL ");
			set_out(&b, hits, nh);
		}
		/* RFC 7162 3.1.5: the highest MODSEQ of what was found */
		if (p.modseq && nh)
			sbuf_printf(&b, " MODSEQ %llu", (unsigned long long)x.maxmod);
	} else {
		sbuf_puts(&b, "* SEARCH");
		for (size_t i = 0; i < nh; i++)
			sbuf_printf(&b, " %u", hits[i]);
		if (p.modseq && nh)
			sbuf_printf(&b, " (MODSEQ %llu)", (unsigned long long)x.maxmod);
	}
	sbuf_puts(&b, "\r\n");
	conn_write(s->c, b.p, b.len);
	sbuf_free(&b);
	free(hits);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}
