/*
 * imap_search.c — SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4)
 * with every RFC 3501 key, CHARSET UTF-8/US-ASCII, and ESEARCH results
 * (RFC 4731: RETURN (MIN MAX COUNT ALL); always for IMAP4rev2 sessions),
 * and SEARCHRES (RFC 5182): RETURN (SAVE) keeps the result as the session's
 * "$", which every command taking a sequence set accepts (imap_set_arg).
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
#include "objid.h"
#include "server.h"
#include "util.h"

#define SEARCH_NODES_MAX 500

enum { K_ALL, K_RECENT, K_NEW, K_OLD, K_FLAG, K_UNFLAG, K_KEYWORD, K_UNKEYWORD, K_HEADER, K_BODY, K_TEXT, K_BEFORE,
       K_ON, K_SINCE, K_SENTBEFORE, K_SENTON, K_SENTSINCE, K_LARGER, K_SMALLER, K_UID, K_SEQ,
       K_NOT, K_OR, K_AND, K_NONE, K_MODSEQ, K_OLDER, K_YOUNGER,
       K_SAVEDBEFORE, K_SAVEDON, K_SAVEDSINCE, K_EMAILID };

struct snode {
	int op;
	uint32_t flag;
	char *field;          /* K_HEADER: field name */
	char *str;
	int64_t num;          /* size, day number, or OLDER/YOUNGER cutoff (unix s) */
	uint64_t modseq;      /* K_MODSEQ */
	int saved;            /* K_SEQ, K_UID: "$", the saved result */
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
	int uidreq;           /* message numbers after ENABLE UIDONLY (RFC 9586) */
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
	/* RFC 8514 4.3: every mailbox of brev keeps save dates */
	{"SAVEDATESUPPORTED", K_ALL, 0},
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
		 {"SENTON", K_SENTON},         {"SENTSINCE", K_SENTSINCE},
		 {"SAVEDBEFORE", K_SAVEDBEFORE}, {"SAVEDON", K_SAVEDON}, /* RFC 8514 4.3 */
		 {"SAVEDSINCE", K_SAVEDSINCE}};

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
	/* RFC 8474 6: EMAILID/THREADID objectid. A well-formed id brev never
	 * made matches nothing; brev has no thread ids, so THREADID never
	 * matches. */
	if (!str_casecmp_ascii(k, "EMAILID") || !str_casecmp_ascii(k, "THREADID")) {
		const struct iarg *id = p->cur;
		const char *v = take_str(p);
		uint64_t blob = 0;
		if (!v || id->type != IA_ATOM || !objid_valid(v, strlen(v))) {
			p->err = 1;
			return NULL;
		}
		int email = toupper((unsigned char)k[0]) == 'E';
		if (!email || objid_email_parse(v, &blob) < 0)
			return node(p, K_NONE);
		if (!(n = node(p, K_EMAILID)))
			return NULL;
		n->modseq = blob;
		return n;
	}
	if (!str_casecmp_ascii(k, "UID")) {
		const char *v = take_str(p);
		if (!v || !(n = node(p, K_UID)))
			return NULL;
		if (!strcmp(v, "$")) {
			n->saved = 1;
			return n;
		}
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
	if (!strcmp(k, "$")) {
		n->saved = 1;
		return n;
	}
	if (p->s->uidonly) /* RFC 9586 3.2: a message-number key in UID SEARCH */
		p->uidreq = 1;
	if (seqset_parse(k, &n->set) < 0) {
		p->err = 1;
		free(n);
		return NULL;
	}
	return n;
}

/* ---- evaluation ---- */

/* A mailbox other than the selected one (ESEARCH IN, RFC 7377): its
 * keyword names; nothing in it is \Recent to this session. */
struct kwtab {
	char **kw;
	int nkw;
};

struct mctx {
	struct imap_session *s;
	const struct kwtab *other; /* NULL: the selected mailbox */
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

void imap_hdr_read(struct imap_session *s, const struct msg_info *mi, struct sbuf *hdr, size_t cap)
{
	char buf[16384];
	uint64_t off = 0;
	while (off < cap) {
		/* most header sections fit in 4 KiB: copying 16 KiB out of the
		 * store for each message was most of a whole-mailbox SORT */
		size_t chunk = off ? sizeof buf : 4096;
		size_t want = cap - off < chunk ? (size_t)(cap - off) : chunk;
		long got = store_msg_read(s->srv->store, mi->blob, off, buf, want);
		if (got <= 0)
			break;
		size_t from = hdr->len;
		sbuf_add(hdr, buf, (size_t)got);
		off += (uint64_t)got;
		size_t end = header_end(hdr->p, hdr->len, from);
		if (end) {
			hdr->len = end;
			break;
		}
	}
	sbuf_add(hdr, NULL, 0);
}

/* The message's header section (at most 4 * MIME_HDR_MAX bytes), read
 * straight from the start of the message: a header search need not parse
 * the MIME structure or read the body. */
static const char *load_hdr(struct mctx *m)
{
	if (!m->have_hdr) {
		imap_hdr_read(m->s, m->mi, &m->hdr, 4 * MIME_HDR_MAX);
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

static int keyword_bit(const struct mctx *m, const char *name)
{
	char **kw = m->other ? m->other->kw : m->s->kw;
	int nkw = m->other ? m->other->nkw : m->s->nkw;
	for (int i = 0; i < nkw; i++)
		if (kw[i] && str_casecmp_ascii(kw[i], name) == 0)
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
	case K_RECENT: return !m->other && imap_is_recent(m->s, mi->uid);
	case K_NEW: return !m->other && imap_is_recent(m->s, mi->uid) && !(mi->flags & FL_SEEN);
	case K_OLD: return m->other || !imap_is_recent(m->s, mi->uid);
	case K_FLAG: return (mi->flags & n->flag) != 0;
	case K_UNFLAG: return (mi->flags & n->flag) == 0;
	case K_KEYWORD:
	case K_UNKEYWORD: {
		int bit = keyword_bit(m, n->str);
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
	case K_SAVEDBEFORE: return mi->savedate / 86400 < n->num;
	case K_SAVEDON: return mi->savedate / 86400 == n->num;
	case K_SAVEDSINCE: return mi->savedate / 86400 >= n->num;
	case K_OLDER: return (int64_t)mi->internaldate <= n->num;
	case K_YOUNGER: return (int64_t)mi->internaldate > n->num;
	case K_LARGER: return mi->size > (uint64_t)n->num;
	case K_SMALLER: return mi->size < (uint64_t)n->num;
	case K_UID: return seqset_contains(&n->set, mi->uid);
	case K_MODSEQ: return mi->modseq >= n->modseq;
	case K_EMAILID: return mi->blob == n->modseq; /* the blob id the EMAILID names */
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

/* UID sets only, against a mailbox whose largest UID is star. */
static void resolve_uid_sets(struct snode *n, uint32_t star)
{
	for (; n; n = n->next) {
		if (n->op == K_UID)
			seqset_resolve(&n->set, star);
		resolve_uid_sets(n->a, star);
		resolve_uid_sets(n->b, star);
	}
}

static void resolve_sets(struct imap_session *s, struct snode *n)
{
	for (; n; n = n->next) {
		if (n->saved) /* the value before this SEARCH's own SAVE */
			imap_set_arg(s, "$", n->op == K_UID, 0, &n->set);
		else if (n->op == K_UID)
			seqset_resolve(&n->set, view_max(&s->view));
		else if (n->op == K_SEQ)
			seqset_resolve(&n->set, s->view.count);
		resolve_sets(s, n->a);
		resolve_sets(s, n->b);
	}
}

/* Sorted, distinct values as merged ranges. */
static void set_from_sorted(const uint32_t *v, size_t n, struct seqset *out)
{
	size_t cap = 0;
	out->r = NULL;
	out->n = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->r = xrealloc(out->r, cap * sizeof *out->r);
		}
		out->r[out->n][0] = v[i];
		out->r[out->n][1] = v[j];
		out->n++;
		i = j + 1;
	}
}

void imap_saved_set(struct imap_session *s, const uint32_t *uids, size_t n)
{
	seqset_free(&s->saved);
	set_from_sorted(uids, n, &s->saved);
}

int imap_set_arg(struct imap_session *s, const char *set, int uid, int strict,
		 struct seqset *out)
{
	out->r = NULL;
	out->n = 0;
	if (set && !strcmp(set, "$")) {
		/* RFC 5182 2.1: the saved UIDs mapped to what this command
		 * takes; a message expunged since is no longer in the view,
		 * so it has left the result (UIDs are never reused). */
		struct imap_ref *refs;
		size_t n = view_select(&s->view, &s->saved, 1, &refs);
		uint32_t *v = xmalloc((n + 1) * sizeof *v);
		for (size_t i = 0; i < n; i++)
			v[i] = uid ? refs[i].uid : refs[i].seq;
		set_from_sorted(v, n, out);
		free(v);
		free(refs);
		return 0;
	}
	if (!set || seqset_parse(set, out) < 0)
		return -1;
	if (uid) {
		seqset_resolve(out, view_max(&s->view));
		return 0;
	}
	if (strict) /* RFC 9051 6.4.4: a message number beyond the mailbox is bad. */
		for (size_t i = 0; i < out->n; i++)
			if (out->r[i][0] > s->view.count || out->r[i][1] > s->view.count) {
				seqset_free(out);
				return -1;
			}
	seqset_resolve(out, s->view.count);
	return 0;
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

enum { R_MIN = 1, R_MAX = 2, R_COUNT = 4, R_ALL = 8, R_SAVE = 16, R_PARTIAL = 32, R_UPDATE = 64 };

/* partial-range (RFC 5267 4.4): nz-number ":" nz-number, either order,
 * no "*". */
int imap_partial_arg(const struct iarg *a, uint32_t *lo, uint32_t *hi)
{
	const char *s = a && a->type == IA_ATOM ? a->s : NULL;
	unsigned long x, y;
	char *e;
	if (!s || *s < '1' || *s > '9')
		return -1;
	x = strtoul(s, &e, 10);
	if (*e != ':' || e[1] < '1' || e[1] > '9' || x > UINT32_MAX)
		return -1;
	y = strtoul(e + 1, &e, 10);
	if (*e || y > UINT32_MAX)
		return -1;
	*lo = (uint32_t)x;
	*hi = (uint32_t)y;
	return 0;
}

/* INPROGRESS (RFC 9585): while a SEARCH or ESEARCH runs long, a response
 * "* OK [INPROGRESS ("tag" done goal)]" every progress_ms (first after
 * progress_ms too), counted in messages tested; it never changes what the
 * command answers. */
#define PROGRESS_MS 1000
static int progress_ms = PROGRESS_MS;

void imap_test_progress_ms(int ms)
{
	progress_ms = ms >= 0 ? ms : PROGRESS_MS;
}

struct progress {
	int64_t next;          /* now_ms() at which the next one is due */
	uint64_t done, goal;   /* messages tested; to test (0: not known) */
};

static void progress_init(struct progress *pg, uint64_t goal)
{
	pg->next = now_ms() + progress_ms;
	pg->done = 0;
	pg->goal = goal;
}

static void progress_step(struct imap_session *s, struct progress *pg)
{
	pg->done++;
	int64_t now = now_ms();
	if (now < pg->next)
		return;
	pg->next = now + progress_ms;
	struct sbuf b = {0};
	/* A tag holds no '"' or '\\' (RFC 9051 9: ASTRING-CHAR minus '+'). */
	sbuf_printf(&b, "* OK [INPROGRESS (\"%s\" %llu ", s->cmd.tag, (unsigned long long)pg->done);
	if (pg->goal && pg->done <= pg->goal)
		sbuf_printf(&b, "%llu", (unsigned long long)pg->goal);
	else
		sbuf_puts(&b, "NIL"); /* messages arrived meanwhile: goal unknown */
	sbuf_puts(&b, ")] Searching\r\n");
	conn_write(s->c, b.p, b.len);
	conn_flush(s->c); /* the client sees it now, not with the answer */
	sbuf_free(&b);
}

struct search_ctx {
	struct progress *pg;   /* INPROGRESS */
	const struct snode *prog;
	const struct kwtab *other; /* not the selected mailbox (ESEARCH IN) */
	int uid;
	uint32_t *hits;
	uint32_t *uids;        /* RETURN (SAVE): the hits' UIDs */
	size_t nh;
	uint64_t maxmod;       /* highest MODSEQ among the hits */
};

static int search_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		     void *arg)
{
	struct search_ctx *x = arg;
	struct mctx m = {.s = s, .other = x->other, .mi = mi, .seq = r->seq};
	if (x->pg)
		progress_step(s, x->pg);
	if (!mi)
		return 0; /* expunged, EXPUNGE not sent yet */
	if (eval(&m, x->prog)) {
		if (x->uids)
			x->uids[x->nh] = r->uid;
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
	uint32_t plo = 0, phi = 0; /* PARTIAL, as given */

	/* RFC 4731: SEARCH RETURN (...); RFC 5267 4: CONTEXT, UPDATE, PARTIAL */
	if (iarg_is_atom(p.cur, "RETURN") && p.cur->next && p.cur->next->type == IA_LIST) {
		esearch = 1;
		for (const struct iarg *o = p.cur->next->kids; o; o = o->next) {
			if (iarg_is_atom(o, "CONTEXT")) {
				/* a hint (RFC 5267 4.2): every search is as fast */
			} else if (iarg_is_atom(o, "UPDATE")) {
				ret |= R_UPDATE;
			} else if (iarg_is_atom(o, "PARTIAL")) {
				/* RFC 5267 4.4: one PARTIAL or one ALL, not both */
				if ((ret & R_PARTIAL) || imap_partial_arg(o->next, &plo, &phi) < 0) {
					imap_tagged(s, "BAD", "PARTIAL needs one range n:m");
					return;
				}
				ret |= R_PARTIAL;
				o = o->next;
			} else if (iarg_is_atom(o, "MIN"))
				ret |= R_MIN;
			else if (iarg_is_atom(o, "MAX"))
				ret |= R_MAX;
			else if (iarg_is_atom(o, "COUNT"))
				ret |= R_COUNT;
			else if (iarg_is_atom(o, "ALL"))
				ret |= R_ALL;
			else if (iarg_is_atom(o, "SAVE"))
				ret |= R_SAVE;
			else {
				imap_tagged(s, "BAD", "Unknown RETURN option");
				return;
			}
		}
		p.cur = p.cur->next->next;
	}
	if ((ret & R_PARTIAL) && (ret & R_ALL)) {
		imap_tagged(s, "BAD", "PARTIAL and ALL cannot go together");
		return;
	}
	/* RFC 5267 4.3: BAD for a tag a live context still uses */
	if ((ret & R_UPDATE) && imap_context_tag_used(s, s->cmd.tag)) {
		imap_tagged(s, "BAD", "Tag reuse: a search with UPDATE has this tag");
		return;
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
			if (ret & R_SAVE) /* RFC 5182 2.1: a NO with SAVE empties "$" */
				imap_saved_set(s, NULL, 0);
			imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return;
		}
		p.cur = p.cur->next->next;
	}
	if (!p.cur) {
		imap_tagged(s, "BAD", "Missing search keys");
		return;
	}
	const struct iarg *keys = p.cur;
	struct snode *prog = parse_and_list(&p, p.cur, 0);
	if (p.uidreq && !p.err) {
		snode_free(prog);
		imap_tagged(s, "BAD", "[UIDREQUIRED] Message numbers are not allowed with UIDONLY");
		return;
	}
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
	struct progress pg;
	struct search_ctx x = {.prog = prog, .uid = uid, .pg = &pg};
	size_t nall = view_all(&s->view, &all);
	progress_init(&pg, nall);
	x.hits = xmalloc((nall + 1) * sizeof *x.hits);
	if (ret & (R_SAVE | R_UPDATE))
		x.uids = xmalloc((nall + 1) * sizeof *x.uids);
	int rc = imap_each_msg(s, all, nall, search_cb, &x);
	free(all);
	snode_free(prog);
	if (rc != ST_OK) {
		free(x.hits);
		free(x.uids);
		if (ret & R_SAVE)
			imap_saved_set(s, NULL, 0);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	uint32_t *hits = x.hits;
	size_t nh = x.nh;
	if (ret & R_SAVE) {
		/* RFC 5182 2.4 (RFC 9051 6.4.4.2): with MIN and/or MAX but
		 * neither ALL nor COUNT, "$" holds just the messages those
		 * return; otherwise every message found. Hits ascend, and
		 * so do their UIDs. */
		if ((ret & (R_MIN | R_MAX)) && !(ret & (R_ALL | R_COUNT)) && nh) {
			uint32_t mm[2];
			size_t k = 0;
			if (ret & R_MIN)
				mm[k++] = x.uids[0];
			if ((ret & R_MAX) && (!k || x.uids[nh - 1] != mm[0]))
				mm[k++] = x.uids[nh - 1];
			imap_saved_set(s, mm, k);
		} else {
			imap_saved_set(s, x.uids, nh);
		}
	}
	if (ret & R_UPDATE) {
		/* The context tests changed messages with its own program: no
		 * full-text candidates (they are this moment's), nothing
		 * resolved against today's numbers. */
		const char *err = NULL;
		struct search_prog *cp = imap_search_compile(s, keys, &err);
		const char *why = imap_context_refusal(s, cp);
		if (why) { /* RFC 5267 4.3.1: the search is still answered */
			imap_context_noupdate(s, why);
			imap_search_free(&cp);
		} else {
			imap_context_add(s, s->cmd.tag, uid, cp, x.uids, nh, NULL);
		}
	}
	free(x.uids);
	struct sbuf b = {0};
	if ((ret & R_SAVE) && !(ret & ~R_SAVE)) {
		/* RFC 9051 6.4.4: SAVE alone suppresses the ESEARCH response. */
	} else if (esearch) {
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
		if (ret & R_PARTIAL) {
			/* RFC 5267 4.4: the range as given, then the hits at those
			 * positions (1 is the first), NIL when there are none */
			uint32_t lo = plo < phi ? plo : phi, hi = plo < phi ? phi : plo;
			sbuf_printf(&b, " PARTIAL (%u:%u ", plo, phi);
			if (lo <= nh)
				set_out(&b, hits + lo - 1, (hi < nh ? hi : nh) - lo + 1);
			else
				sbuf_puts(&b, "NIL");
			sbuf_puts(&b, ")");
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
	if (b.len) {
		sbuf_puts(&b, "\r\n");
		conn_write(s->c, b.p, b.len);
	}
	sbuf_free(&b);
	free(hits);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

/* ---- MULTISEARCH (RFC 7377): ESEARCH IN (sources) ---- */

struct mlist {
	char **name;
	size_t n, cap;
};

static void mlist_add(struct mlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->name[i], name))
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->name = xrealloc(l->name, l->cap * sizeof *l->name);
	}
	l->name[l->n++] = xstrdup(name);
}

static void mlist_free(struct mlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->name[i]);
	free(l->name);
	l->name = NULL;
	l->n = l->cap = 0;
}

struct allmb {
	struct mbox_info *m;
	size_t n, cap;
};

static void allmb_cb(void *arg, const struct mbox_info *m)
{
	struct allmb *a = arg;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->m = xrealloc(a->m, a->cap * sizeof *a->m);
	}
	a->m[a->n++] = *m;
}

/* RFC 5465 6.4 mailbox filters, as RFC 7377 2 uses them: "subtree x" is x
 * and everything below it, "subtree-one x" x and its children. */
static void add_tree(struct mlist *l, const struct allmb *all, const char *top, int one)
{
	size_t tl = strlen(top);
	for (size_t i = 0; i < all->n; i++) {
		const char *n = all->m[i].name;
		if (!strcmp(n, top))
			mlist_add(l, n);
		else if (!strncmp(n, top, tl) && n[tl] == '/' && (!one || !strchr(n + tl + 1, '/')))
			mlist_add(l, n);
	}
}

/* The mailboxes of an IN (...) list, existing ones only (a name that is no
 * mailbox is left out, not an error). NULL, or the BAD text. */
static const char *esearch_sources(struct imap_session *s, const struct iarg *in,
				   struct mlist *out)
{
	struct allmb all = {0};
	const char *err = NULL;
	if (!in->kids)
		return "IN needs a mailbox filter";
	if (store_mbox_list(s->srv->store, s->acct.id, allmb_cb, &all) != ST_OK) {
		free(all.m);
		return "Mailboxes cannot be listed now";
	}
	for (const struct iarg *f = in->kids; f && !err; f = f->next) {
		if (f->type == IA_LIST) {
			/* scope-options: RFC 7377 defines none */
			err = "Unknown scope option";
			break;
		}
		if (iarg_is_atom(f, "SELECTED") || iarg_is_atom(f, "SELECTED-DELAYED")) {
			if (s->state == IS_SELECTED)
				mlist_add(out, s->mbox);
		} else if (iarg_is_atom(f, "INBOXES")) {
			mlist_add(out, "INBOX"); /* where brev delivers */
		} else if (iarg_is_atom(f, "PERSONAL")) {
			for (size_t i = 0; i < all.n; i++)
				mlist_add(out, all.m[i].name);
		} else if (iarg_is_atom(f, "SUBSCRIBED")) {
			for (size_t i = 0; i < all.n; i++)
				if (all.m[i].subscribed)
					mlist_add(out, all.m[i].name);
		} else if (iarg_is_atom(f, "SUBTREE") || iarg_is_atom(f, "SUBTREE-ONE") ||
			   iarg_is_atom(f, "MAILBOXES")) {
			const struct iarg *a = f->next;
			int kind = iarg_is_atom(f, "MAILBOXES") ? 0 : iarg_is_atom(f, "SUBTREE") ? 1 : 2;
			if (!a) {
				err = "Mailbox filter needs mailboxes";
				break;
			}
			/* one-or-more-mailbox: a mailbox, or a list of them */
			const struct iarg *m = a->type == IA_LIST ? a->kids : a;
			if (!m)
				err = "Empty mailbox list";
			for (; m && !err; m = a->type == IA_LIST ? m->next : NULL) {
				char name[STORE_MBOX_MAX + 1];
				if (m->type == IA_LIST || imap_mbox_arg(s, m, name, sizeof name) < 0) {
					err = "Invalid mailbox name";
					break;
				}
				if (kind)
					add_tree(out, &all, name, kind == 2);
				else
					for (size_t i = 0; i < all.n; i++)
						if (!strcmp(all.m[i].name, name))
							mlist_add(out, name);
			}
			f = a;
		} else {
			err = "Unknown mailbox filter";
		}
	}
	free(all.m);
	return err;
}

static void kwtab_cb(void *arg, int index, const char *name)
{
	struct kwtab *k = arg;
	if (index < 0 || index >= STORE_KEYWORDS)
		return;
	if (index >= k->nkw) {
		k->kw = xrealloc(k->kw, sizeof *k->kw * (size_t)(index + 1));
		for (int i = k->nkw; i <= index; i++)
			k->kw[i] = NULL;
		k->nkw = index + 1;
	}
	free(k->kw[index]);
	k->kw[index] = xstrdup(name);
}

#define ESEARCH_BATCH 128

/* Search a mailbox that is not the selected one: its UIDs from the run
 * index, its messages read in batches (never inside a store read). */
static int search_other(struct imap_session *s, const char *mbox, struct snode *prog,
			struct search_ctx *x, uint32_t *uidvalidity)
{
	struct uid_run *runs = NULL;
	struct mbox_info info;
	struct kwtab kw = {0};
	size_t nr = 0, total = 0;
	int rc = store_msg_runs(s->srv->store, s->acct.id, mbox, &runs, &nr, &info);
	if (rc == ST_OK)
		rc = store_mbox_keywords(s->srv->store, s->acct.id, mbox, kwtab_cb, &kw);
	if (rc != ST_OK)
		goto out;
	*uidvalidity = info.uidvalidity;
	/* "*" in a UID set: this mailbox's largest UID */
	resolve_uid_sets(prog, nr ? runs[nr - 1].first + runs[nr - 1].count - 1 : 0);
	for (size_t i = 0; i < nr; i++)
		total += runs[i].count;
	x->hits = xmalloc((total + 1) * sizeof *x->hits);
	x->other = &kw;
	struct imap_ref refs[ESEARCH_BATCH];
	size_t k = 0;
	for (size_t i = 0; i < nr && rc == ST_OK; i++)
		for (uint32_t j = 0; j < runs[i].count && rc == ST_OK; j++) {
			refs[k].uid = runs[i].first + j;
			refs[k].seq = 0; /* no message numbers outside the selected mailbox */
			if (++k == ESEARCH_BATCH || (i + 1 == nr && j + 1 == runs[i].count)) {
				uint32_t uids[ESEARCH_BATCH];
				struct msg_info mi[ESEARCH_BATCH];
				unsigned char found[ESEARCH_BATCH];
				for (size_t q = 0; q < k; q++)
					uids[q] = refs[q].uid;
				rc = store_msg_get_many(s->srv->store, s->acct.id, mbox, uids, k, mi,
							found);
				for (size_t q = 0; rc == ST_OK && q < k; q++)
					search_cb(s, &refs[q], found[q] ? &mi[q] : NULL, x);
				k = 0;
			}
		}
out:
	for (int i = 0; i < kw.nkw; i++)
		free(kw.kw[i]);
	free(kw.kw);
	free(runs);
	x->other = NULL;
	return rc;
}

/* Keys that name message numbers ("1:3", "$") mean nothing in another
 * mailbox (RFC 7377 2: BAD). */
static int has_seq_key(const struct snode *n)
{
	for (; n; n = n->next)
		if ((n->op == K_SEQ) || (n->op == K_UID && n->saved) || has_seq_key(n->a) ||
		    has_seq_key(n->b))
			return 1;
	return 0;
}

void imap_cmd_esearch(struct imap_session *s)
{
	const struct iarg *cur = s->cmd.args->kids;
	struct mlist src = {0};
	int ret = 0;
	const char *err = NULL;

	if (iarg_is_atom(cur, "IN")) {
		if (!cur->next || cur->next->type != IA_LIST) {
			imap_tagged(s, "BAD", "IN needs a list of mailbox filters");
			return;
		}
		err = esearch_sources(s, cur->next, &src);
		cur = cur->next->next;
	} else if (s->state != IS_SELECTED) {
		imap_tagged(s, "BAD", "ESEARCH without IN needs a selected mailbox");
		return;
	} else {
		mlist_add(&src, s->mbox); /* RFC 7377 2: IN (selected) */
	}
	if (!err && iarg_is_atom(cur, "RETURN")) {
		if (!cur->next || cur->next->type != IA_LIST)
			err = "RETURN needs a list";
		for (const struct iarg *o = cur->next ? cur->next->kids : NULL; o && !err; o = o->next) {
			if (iarg_is_atom(o, "MIN"))
				ret |= R_MIN;
			else if (iarg_is_atom(o, "MAX"))
				ret |= R_MAX;
			else if (iarg_is_atom(o, "COUNT"))
				ret |= R_COUNT;
			else if (iarg_is_atom(o, "ALL"))
				ret |= R_ALL;
			else /* SAVE included: one result variable, many mailboxes */
				err = "Unknown RETURN option";
		}
		if (!err)
			cur = cur->next->next;
	}
	if (!ret)
		ret = R_ALL;
	if (!err && iarg_is_atom(cur, "CHARSET")) {
		const char *cs = cur->next ? iarg_str(cur->next) : NULL;
		if (!cs) {
			err = "CHARSET needs a name";
		} else if (str_casecmp_ascii(cs, "UTF-8") && str_casecmp_ascii(cs, "US-ASCII")) {
			mlist_free(&src);
			imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return;
		} else {
			cur = cur->next->next;
		}
	}
	if (!err && !cur)
		err = "Missing search keys";
	/* The keys once, for syntax; then afresh for each mailbox, since
	 * "*" in a UID set is each mailbox's own largest UID. */
	struct sparse p = {.cur = cur, .s = s};
	struct snode *prog = NULL;
	if (!err) {
		prog = parse_and_list(&p, cur, 0);
		if (p.err || !prog)
			err = p.nodes > SEARCH_NODES_MAX ? "Search too complex" : "Invalid search key";
		else if (has_seq_key(prog))
			err = "Message numbers are not allowed in ESEARCH";
		snode_free(prog);
	}
	if (err) {
		mlist_free(&src);
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (p.modseq)
		imap_condstore_on(s);
	if (s->state == IS_SELECTED)
		imap_sync(s, 1);
	int rc = ST_OK;
	uint64_t goal = 0;
	for (size_t i = 0; i < src.n; i++) {
		struct mbox_info mi;
		if (s->state == IS_SELECTED && !strcmp(src.name[i], s->mbox))
			goal += s->view.count;
		else if (store_mbox_get(s->srv->store, s->acct.id, src.name[i], &mi) == ST_OK)
			goal += mi.exists;
	}
	struct progress pg;
	progress_init(&pg, goal);
	for (size_t i = 0; i < src.n && rc == ST_OK; i++) {
		struct sparse q = {.cur = cur, .s = s};
		struct search_ctx x = {.uid = 1, .pg = &pg};
		uint32_t uidvalidity = 0;
		prog = parse_and_list(&q, cur, 0);
		x.prog = prog;
		if (s->state == IS_SELECTED && !strcmp(src.name[i], s->mbox)) {
			struct imap_ref *all;
			size_t nall = view_all(&s->view, &all);
			resolve_sets(s, prog);
			x.hits = xmalloc((nall + 1) * sizeof *x.hits);
			rc = imap_each_msg(s, all, nall, search_cb, &x);
			uidvalidity = s->uidvalidity;
			free(all);
		} else {
			rc = search_other(s, src.name[i], prog, &x, &uidvalidity);
			if (rc == ST_NOTFOUND)
				rc = ST_OK; /* deleted meanwhile: nothing to report */
		}
		snode_free(prog);
		if (rc == ST_OK && x.nh) {
			/* RFC 7377 2: one response per mailbox with matches, by UID */
			struct sbuf b = {0};
			sbuf_puts(&b, "* ESEARCH (TAG ");
			mbuf_imap_string(&b, s->cmd.tag, strlen(s->cmd.tag), 0);
			sbuf_puts(&b, " MAILBOX ");
			imap_mbox_out(s, &b, src.name[i]);
			sbuf_printf(&b, " UIDVALIDITY %u) UID", uidvalidity);
			if (ret & R_MIN)
				sbuf_printf(&b, " MIN %u", x.hits[0]);
			if (ret & R_MAX)
				sbuf_printf(&b, " MAX %u", x.hits[x.nh - 1]);
			if (ret & R_COUNT)
				sbuf_printf(&b, " COUNT %zu", x.nh);
			if (ret & R_ALL) {
				sbuf_puts(&b, " ALL ");
				set_out(&b, x.hits, x.nh);
			}
			if (p.modseq)
				sbuf_printf(&b, " MODSEQ %llu", (unsigned long long)x.maxmod);
			sbuf_puts(&b, "\r\n");
			conn_write(s->c, b.p, b.len);
			sbuf_free(&b);
		}
		free(x.hits);
	}
	mlist_free(&src);
	if (rc != ST_OK)
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
	else
		imap_tagged(s, "OK", "ESEARCH completed");
}

/* ---- the search program for SORT, THREAD and contexts ---- */

struct search_prog {
	struct snode *root;
	int modseq;
};

struct search_prog *imap_search_compile(struct imap_session *s, const struct iarg *keys,
					const char **err)
{
	struct sparse p = {.cur = keys, .s = s};
	if (!keys) {
		*err = "Missing search keys";
		return NULL;
	}
	struct snode *root = parse_and_list(&p, keys, 0);
	if (p.uidreq && !p.err) { /* RFC 9586 3: as SEARCH does */
		snode_free(root);
		*err = "[UIDREQUIRED] Message numbers are not allowed with UIDONLY";
		return NULL;
	}
	if (p.err || !root) {
		snode_free(root);
		*err = p.nodes > SEARCH_NODES_MAX ? "Search too complex" : "Invalid search key";
		return NULL;
	}
	struct search_prog *prog = xcalloc(1, sizeof *prog);
	prog->root = root;
	prog->modseq = p.modseq;
	return prog;
}

static int fixed_key(const struct snode *n)
{
	for (; n; n = n->next)
		if (n->op == K_SEQ || n->op == K_UID || n->op == K_OLDER || n->op == K_YOUNGER ||
		    fixed_key(n->a) || fixed_key(n->b))
			return 1;
	return 0;
}

int imap_search_updatable(const struct search_prog *prog)
{
	return !fixed_key(prog->root);
}

int imap_search_modseq(const struct search_prog *prog)
{
	return prog->modseq;
}

void imap_search_resolve(struct imap_session *s, struct search_prog *prog)
{
	resolve_sets(s, prog->root);
}

int imap_search_test(struct imap_session *s, const struct search_prog *prog,
		     const struct imap_ref *r, const struct msg_info *mi)
{
	struct mctx m = {.s = s, .mi = mi, .seq = r->seq};
	int hit = eval(&m, prog->root);
	sbuf_free(&m.hdr);
	return hit;
}

void imap_search_free(struct search_prog **progp)
{
	if (*progp) {
		snode_free((*progp)->root);
		free(*progp);
		*progp = NULL;
	}
}
