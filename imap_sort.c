/*
 * imap_sort.c — SORT and UID SORT (RFC 5256 section 3 with the
 * DISPLAYFROM/DISPLAYTO keys of RFC 5957 and the RETURN options of ESORT,
 * RFC 5267 section 3), THREAD and UID THREAD (RFC 5256: ORDEREDSUBJECT,
 * REFERENCES).
 *
 * The search keys are imap_search.c's (one parser, one matcher); the
 * threading itself is thread.c, which knows nothing of IMAP. This file
 * reads, for each matching message, the few header fields a command needs
 * (at most SORT_HDR_MAX bytes of header), keeps them as short strings,
 * sorts or threads, and writes the answer. CONTEXT=SORT (RFC 5267 section
 * 4): PARTIAL windows of the sorted result, and with UPDATE the result is
 * kept (struct sort_live: the records in sort order) for imap_context.c,
 * which asks here where a message goes in or comes out.
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "server.h"
#include "thread.h"
#include "util.h"

#define SORT_KEYS_MAX  16	   /* criteria of one SORT (there are 9 distinct) */
#define SORT_HDR_MAX   (64 * 1024) /* header bytes read per message */
#define SORT_STR_MAX   512	   /* bytes of a string key compared */
#define SORT_FIELD_MAX (16 * 1024) /* bytes of one header field looked at */
#define SORT_LIVE_BYTES_MAX (32u << 20) /* records one SORT ... RETURN (UPDATE) may keep */

enum {
	SK_ARRIVAL,
	SK_CC,
	SK_DATE,
	SK_FROM,
	SK_SIZE,
	SK_SUBJECT,
	SK_TO,
	SK_DISPLAYFROM,
	SK_DISPLAYTO,
	SK_N
};

static const char *const key_names[SK_N] = {"ARRIVAL", "CC", "DATE",	    "FROM",	"SIZE",
					    "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"};

/* The header fields either command reads. */
enum { F_FROM, F_TO, F_CC, F_DATE, F_SUBJECT, F_MSGID, F_REFS, F_IRT, F_N };
static const char *const field_names[F_N] = {"from",	"to",	      "cc",	    "date",
					     "subject", "message-id", "references", "in-reply-to"};

struct skey {
	int k, reverse;
};

struct srec {
	uint32_t seq, uid;
	uint64_t size;
	int64_t arrival, date;
	char *str[SK_N]; /* the string keys in use */
};

/* ------------------------------------------------------- header fields */

/* The first occurrence of each wanted field of hdr, unfolded (NULL when
 * absent), each cut at SORT_FIELD_MAX. */
static void fields_get(const struct sbuf *hdr, unsigned want, char *out[F_N])
{
	size_t pos = 0, nl, vl;
	const char *name, *val;
	for (int f = 0; f < F_N; f++)
		out[f] = NULL;
	while (mime_hdr_next(hdr->p, hdr->len, &pos, &name, &nl, &val, &vl)) {
		for (int f = 0; f < F_N; f++) {
			if (!(want & (1u << f)) || out[f] || strlen(field_names[f]) != nl ||
			    str_ncasecmp_ascii(name, field_names[f], nl) != 0)
				continue;
			out[f] = mime_unfold(val, vl < SORT_FIELD_MAX ? vl : SORT_FIELD_MAX);
		}
	}
}

static void fields_free(char *f[F_N])
{
	for (int i = 0; i < F_N; i++)
		free(f[i]);
}

static char *cut(char *s)
{
	if (s && strlen(s) > SORT_STR_MAX)
		s[SORT_STR_MAX] = 0;
	return s;
}

static char *decoded(const char *v)
{
	return v ? mime_decode_words(v, strlen(v)) : xstrdup("");
}

/* RFC 5256 3: FROM/TO/CC sort by the first address's mailbox (addr-mailbox,
 * local part); RFC 5957 3: DISPLAYFROM/DISPLAYTO by its display name, or
 * "mailbox@host" when it has none. "" when there is no address. */
static char *addr_key(const char *v, int display)
{
	char *name, *mbox, *host, *r;
	if (!v || mime_addr_first(v, strlen(v), &name, &mbox, &host) < 0)
		return xstrdup("");
	if (!display) {
		r = mbox;
		mbox = NULL;
	} else if (*name) {
		r = name;
		name = NULL;
	} else {
		struct sbuf b = {0};
		sbuf_puts(&b, mbox);
		if (*host) {
			sbuf_puts(&b, "@");
			sbuf_puts(&b, host);
		}
		sbuf_add(&b, NULL, 0);
		r = b.p;
	}
	free(name);
	free(mbox);
	free(host);
	return cut(r);
}

/* RFC 5256 2.2: the Date: field in UTC, else the INTERNALDATE. */
static int64_t sent_date(const char *v, uint32_t internaldate)
{
	int64_t t;
	return thread_parse_date(v, &t) == 0 ? t : (int64_t)internaldate;
}

/* --------------------------------------------------------------- SORT */

enum { R_MIN = 1, R_MAX = 2, R_COUNT = 4, R_ALL = 8, R_PARTIAL = 16, R_UPDATE = 32 };

struct sort_ctx {
	struct search_prog *prog;
	const struct skey *keys;
	size_t nkeys;
	unsigned fields; /* header fields needed (1 << F_*) */
	struct srec *r;
	size_t n;
	uint64_t maxmod;
};

static void rec_fill(struct imap_session *s, struct sort_ctx *x, const struct imap_ref *ref,
		     const struct msg_info *mi, struct srec *r);

static int sort_cb(struct imap_session *s, const struct imap_ref *ref, const struct msg_info *mi,
		   void *arg)
{
	struct sort_ctx *x = arg;
	if (!mi || !imap_search_test(s, x->prog, ref, mi))
		return 0;
	if (mi->modseq > x->maxmod)
		x->maxmod = mi->modseq;
	rec_fill(s, x, ref, mi, &x->r[x->n++]);
	return 0;
}

/* The record of one message: what x->keys compare. */
static void rec_fill(struct imap_session *s, struct sort_ctx *x, const struct imap_ref *ref,
		     const struct msg_info *mi, struct srec *r)
{
	memset(r, 0, sizeof *r);
	r->seq = ref->seq;
	r->uid = ref->uid;
	r->size = mi->size;
	r->arrival = mi->internaldate;
	if (!x->fields)
		return;
	struct sbuf hdr = {0};
	char *f[F_N];
	imap_hdr_read(s, mi, &hdr, SORT_HDR_MAX);
	fields_get(&hdr, x->fields, f);
	sbuf_free(&hdr);
	for (size_t i = 0; i < x->nkeys; i++) {
		int k = x->keys[i].k;
		if (r->str[k])
			continue;
		switch (k) {
		case SK_DATE:
			r->date = sent_date(f[F_DATE], mi->internaldate);
			break;
		case SK_SUBJECT: {
			char *d = decoded(f[F_SUBJECT]);
			r->str[k] = cut(thread_base_subject(d, strlen(d), NULL));
			free(d);
			break;
		}
		case SK_FROM:
			r->str[k] = addr_key(f[F_FROM], 0);
			break;
		case SK_TO:
			r->str[k] = addr_key(f[F_TO], 0);
			break;
		case SK_CC:
			r->str[k] = addr_key(f[F_CC], 0);
			break;
		case SK_DISPLAYFROM:
			r->str[k] = addr_key(f[F_FROM], 1);
			break;
		case SK_DISPLAYTO:
			r->str[k] = addr_key(f[F_TO], 1);
			break;
		}
	}
	fields_free(f);
}

static int u32_cmp_asc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int rec_cmp(const void *pa, const void *pb, void *arg)
{
	const struct srec *a = *(const struct srec *const *)pa,
			  *b = *(const struct srec *const *)pb;
	const struct sort_ctx *x = arg;
	for (size_t i = 0; i < x->nkeys; i++) {
		int k = x->keys[i].k, c;
		switch (k) {
		case SK_ARRIVAL:
			c = cmp64(a->arrival, b->arrival);
			break;
		case SK_DATE:
			c = cmp64(a->date, b->date);
			break;
		case SK_SIZE:
			c = a->size < b->size ? -1 : a->size > b->size;
			break;
		default:
			c = thread_casecmp(a->str[k], b->str[k]);
			break;
		}
		if (c)
			return x->keys[i].reverse ? -c : c;
	}
	/* RFC 5256 3: what all criteria leave equal goes by sequence number,
	 * which in one view is the order of the UIDs (and UIDs do not move
	 * when a kept result outlives an expunge) */
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* ------------------------------------------- a sorted result kept live */

struct sort_live {
	struct skey keys[SORT_KEYS_MAX];
	struct sort_ctx x;   /* keys, nkeys, fields for rec_cmp and rec_fill */
	struct srec **v;     /* the result in sort order, each its own malloc */
	size_t n, cap;
};

static void rec_free(struct srec *r)
{
	for (int k = 0; k < SK_N; k++)
		free(r->str[k]);
	free(r);
}

void sort_live_free(struct sort_live **lp)
{
	struct sort_live *l = *lp;
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		rec_free(l->v[i]);
	free(l->v);
	free(l);
	*lp = NULL;
}

uint32_t sort_live_remove(struct sort_live *l, uint32_t uid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->uid == uid) {
			rec_free(l->v[i]);
			memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
			l->n--;
			return (uint32_t)i + 1;
		}
	return 0;
}

uint32_t sort_live_insert(struct imap_session *s, struct sort_live *l, const struct imap_ref *ref,
			  const struct msg_info *mi)
{
	struct srec *r = xmalloc(sizeof *r);
	rec_fill(s, &l->x, ref, mi, r);
	size_t lo = 0, hi = l->n; /* the first record that sorts after r */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rec_cmp(&l->v[mid], &r, &l->x) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	memmove(l->v + lo + 1, l->v + lo, (l->n - lo) * sizeof *l->v);
	l->v[lo] = r;
	l->n++;
	return (uint32_t)lo + 1;
}

static unsigned key_fields(int k)
{
	switch (k) {
	case SK_CC:
		return 1u << F_CC;
	case SK_DATE:
		return 1u << F_DATE;
	case SK_FROM:
	case SK_DISPLAYFROM:
		return 1u << F_FROM;
	case SK_SUBJECT:
		return 1u << F_SUBJECT;
	case SK_TO:
	case SK_DISPLAYTO:
		return 1u << F_TO;
	}
	return 0;
}

/* "(REVERSE DATE SUBJECT)": keys[], their count, or -1. */
static int parse_criteria(const struct iarg *a, struct skey *keys)
{
	int n = 0, rev = 0;
	if (!a || a->type != IA_LIST || !a->kids)
		return -1;
	for (const struct iarg *k = a->kids; k; k = k->next) {
		if (k->type != IA_ATOM)
			return -1;
		if (iarg_is_atom(k, "REVERSE")) {
			if (rev)
				return -1;
			rev = 1;
			continue;
		}
		int which = -1;
		for (int i = 0; i < SK_N; i++)
			if (iarg_is_atom(k, key_names[i]))
				which = i;
		if (which < 0 || n == SORT_KEYS_MAX)
			return -1;
		keys[n++] = (struct skey){which, rev};
		rev = 0;
	}
	return rev || !n ? -1 : n; /* REVERSE must precede a key */
}

/* UTF-8 and US-ASCII only (RFC 5256 3: both MUST be supported); 0 ok,
 * else the tagged answer was sent. */
static int charset_ok(struct imap_session *s, const struct iarg *a)
{
	const char *cs = iarg_str(a);
	if (!cs || (a->literal && strlen(cs) != a->len)) {
		imap_tagged(s, "BAD", "Missing charset");
		return -1;
	}
	if (str_casecmp_ascii(cs, "UTF-8") != 0 && str_casecmp_ascii(cs, "US-ASCII") != 0) {
		imap_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return -1;
	}
	return 0;
}

/* The matching messages of the view, with what x->keys need: x->r. */
static int collect(struct imap_session *s, struct sort_ctx *x, int uid)
{
	if (imap_search_modseq(x->prog))
		imap_condstore_on(s); /* RFC 7162 3.1: CONDSTORE-enabling */
	imap_sync(s, uid);
	imap_search_resolve(s, x->prog);
	struct imap_ref *all;
	size_t nall = view_all(&s->view, &all);
	x->r = xmalloc((nall + 1) * sizeof *x->r);
	int rc = imap_each_msg(s, all, nall, sort_cb, x);
	free(all);
	return rc;
}

static void recs_free(struct sort_ctx *x)
{
	for (size_t i = 0; i < x->n; i++)
		for (int k = 0; k < SK_N; k++)
			free(x->r[i].str[k]);
	free(x->r);
}

/* RETURN (UPDATE) (RFC 5267 4.3): the records, in order, become a context's
 * (their strings move; x's copies are left empty), with a program of its
 * own; or "* NO [NOUPDATE ...]". */
static void keep_live(struct imap_session *s, struct sort_ctx *x, const struct skey *keys,
		      struct srec **order, int uid, const struct iarg *search_keys)
{
	const char *err = NULL;
	struct search_prog *cp = imap_search_compile(s, search_keys, &err);
	const char *why = imap_context_refusal(s, cp);
	/* What a kept sort costs stays with the session: bounded, so that
	 * eight of them over long subjects cannot hold gigabytes. */
	size_t bytes = x->n * (sizeof(struct srec) + sizeof(struct srec *));
	for (size_t i = 0; i < x->n && !why; i++)
		for (int k = 0; k < SK_N; k++)
			if (order[i]->str[k])
				bytes += strlen(order[i]->str[k]) + 1;
	if (!why && bytes > SORT_LIVE_BYTES_MAX)
		why = "Sorted result too large to keep up to date";
	if (why) {
		imap_context_noupdate(s, why);
		imap_search_free(&cp);
		return;
	}
	struct sort_live *l = xcalloc(1, sizeof *l);
	memcpy(l->keys, keys, x->nkeys * sizeof *keys);
	l->x.keys = l->keys;
	l->x.nkeys = x->nkeys;
	l->x.fields = x->fields;
	l->cap = x->n + 16;
	l->v = xmalloc(l->cap * sizeof *l->v);
	uint32_t *uids = xmalloc((x->n + 1) * sizeof *uids);
	for (size_t i = 0; i < x->n; i++) {
		l->v[i] = xmalloc(sizeof **l->v);
		*l->v[i] = *order[i];
		memset(order[i]->str, 0, sizeof order[i]->str);
		uids[i] = order[i]->uid;
	}
	l->n = x->n;
	qsort(uids, x->n, sizeof *uids, u32_cmp_asc);
	imap_context_add(s, s->cmd.tag, uid, cp, uids, x->n, l);
	free(uids);
}

void imap_cmd_sort(struct imap_session *s, int uid)
{
	const struct iarg *a = s->cmd.args->kids;
	int ret = 0, esort = 0;
	uint32_t plo = 0, phi = 0; /* PARTIAL, as given */
	struct skey keys[SORT_KEYS_MAX];

	/* RFC 5267 3.2: SORT RETURN (MIN MAX ALL COUNT) */
	if (iarg_is_atom(a, "RETURN")) {
		if (!a->next || a->next->type != IA_LIST) {
			imap_tagged(s, "BAD", "RETURN needs a list");
			return;
		}
		esort = 1;
		for (const struct iarg *o = a->next->kids; o; o = o->next) {
			if (iarg_is_atom(o, "MIN"))
				ret |= R_MIN;
			else if (iarg_is_atom(o, "MAX"))
				ret |= R_MAX;
			else if (iarg_is_atom(o, "COUNT"))
				ret |= R_COUNT;
			else if (iarg_is_atom(o, "ALL"))
				ret |= R_ALL;
			else if (iarg_is_atom(o, "CONTEXT"))
				; /* RFC 5267 4.2: a hint */
			else if (iarg_is_atom(o, "UPDATE"))
				ret |= R_UPDATE;
			else if (iarg_is_atom(o, "PARTIAL")) {
				if ((ret & R_PARTIAL) || imap_partial_arg(o->next, &plo, &phi) < 0) {
					imap_tagged(s, "BAD", "PARTIAL needs one range n:m");
					return;
				}
				ret |= R_PARTIAL;
				o = o->next;
			} else {
				imap_tagged(s, "BAD", "Unknown RETURN option");
				return;
			}
		}
		a = a->next->next;
	}
	if ((ret & R_PARTIAL) && (ret & R_ALL)) { /* RFC 5267 4.4 */
		imap_tagged(s, "BAD", "PARTIAL and ALL cannot go together");
		return;
	}
	if ((ret & R_UPDATE) && imap_context_tag_used(s, s->cmd.tag)) { /* RFC 5267 4.3 */
		imap_tagged(s, "BAD", "Tag reuse: a search with UPDATE has this tag");
		return;
	}
	if (!ret)
		ret = R_ALL; /* RFC 4731 3.1: RETURN () is RETURN (ALL) */
	int nkeys = parse_criteria(a, keys);
	if (nkeys < 0) {
		imap_tagged(s, "BAD", "Invalid sort criteria");
		return;
	}
	a = a->next;
	if (!a || !a->next) {
		imap_tagged(s, "BAD", "SORT needs a charset and search keys");
		return;
	}
	const char *err = NULL;
	struct search_prog *prog = imap_search_compile(s, a->next, &err);
	if (!prog) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (charset_ok(s, a) < 0) {
		imap_search_free(&prog);
		return;
	}
	struct sort_ctx x = {.prog = prog, .keys = keys, .nkeys = (size_t)nkeys};
	for (int i = 0; i < nkeys; i++)
		x.fields |= key_fields(keys[i].k);
	int rc = collect(s, &x, uid);
	int modseq = imap_search_modseq(prog);
	imap_search_free(&prog);
	if (rc != ST_OK) {
		recs_free(&x);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	/* sort pointers: moving the records themselves was a third of the time */
	struct srec **order = xmalloc((x.n + 1) * sizeof *order);
	for (size_t i = 0; i < x.n; i++)
		order[i] = &x.r[i];
	qsort_r(order, x.n, sizeof *order, rec_cmp, &x);
	uint32_t *v = xmalloc((x.n + 1) * sizeof *v);
	for (size_t i = 0; i < x.n; i++)
		v[i] = uid ? order[i]->uid : order[i]->seq;
	struct sbuf b = {0};
	if (esort) {
		/* RFC 5267 3.2: MIN and MAX are the first and last in sort
		 * order, ALL is in sort order */
		sbuf_puts(&b, "* ESEARCH (TAG ");
		mbuf_imap_string(&b, s->cmd.tag, strlen(s->cmd.tag), 0);
		sbuf_puts(&b, ")");
		if (uid)
			sbuf_puts(&b, " UID");
		if ((ret & R_MIN) && x.n)
			sbuf_printf(&b, " MIN %u", v[0]);
		if ((ret & R_MAX) && x.n)
			sbuf_printf(&b, " MAX %u", v[x.n - 1]);
		if (ret & R_COUNT)
			sbuf_printf(&b, " COUNT %zu", x.n);
		if ((ret & R_ALL) && x.n) {
			struct sbuf set = {0}; /* imap_uidset_out wants a buffer of its own */
			imap_uidset_out(&set, v, x.n);
			sbuf_puts(&b, " ALL ");
			sbuf_add(&b, set.p, set.len);
			sbuf_free(&set);
		}
		if (ret & R_PARTIAL) {
			/* RFC 5267 4.4: positions in sort order, the range as
			 * given, NIL when none is in it */
			uint32_t lo = plo < phi ? plo : phi, hi = plo < phi ? phi : plo;
			sbuf_printf(&b, " PARTIAL (%u:%u ", plo, phi);
			if (lo <= x.n) {
				struct sbuf set = {0};
				imap_uidset_out(&set, v + lo - 1, (hi < x.n ? hi : x.n) - lo + 1);
				sbuf_add(&b, set.p, set.len);
				sbuf_free(&set);
			} else {
				sbuf_puts(&b, "NIL");
			}
			sbuf_puts(&b, ")");
		}
		if (modseq && x.n)
			sbuf_printf(&b, " MODSEQ %llu", (unsigned long long)x.maxmod);
	} else {
		sbuf_puts(&b, "* SORT");
		for (size_t i = 0; i < x.n; i++)
			sbuf_printf(&b, " %u", v[i]);
		/* RFC 7162 3.1.5: the highest MODSEQ of what was found */
		if (modseq && x.n)
			sbuf_printf(&b, " (MODSEQ %llu)", (unsigned long long)x.maxmod);
	}
	if (ret & R_UPDATE)
		keep_live(s, &x, keys, order, uid, a->next);
	free(order);
	sbuf_puts(&b, "\r\n");
	conn_write(s->c, b.p, b.len);
	sbuf_free(&b);
	free(v);
	recs_free(&x);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

/* ------------------------------------------------------------- THREAD */

struct thread_ctx {
	struct search_prog *prog;
	struct thread_set *set;
	int uid, refs;
};

static int thread_cb(struct imap_session *s, const struct imap_ref *ref, const struct msg_info *mi,
		     void *arg)
{
	struct thread_ctx *x = arg;
	if (!mi || !imap_search_test(s, x->prog, ref, mi))
		return 0;
	struct sbuf hdr = {0};
	char *f[F_N];
	unsigned want = 1u << F_DATE | 1u << F_SUBJECT;
	if (x->refs)
		want |= 1u << F_MSGID | 1u << F_REFS | 1u << F_IRT;
	imap_hdr_read(s, mi, &hdr, SORT_HDR_MAX);
	fields_get(&hdr, want, f);
	sbuf_free(&hdr);
	char *subj = decoded(f[F_SUBJECT]);
	struct thread_msg m = {
	    .key = x->uid ? ref->uid : ref->seq,
	    .message_id = f[F_MSGID],
	    .references = f[F_REFS],
	    .in_reply_to = f[F_IRT],
	    .subject = subj,
	    .date = sent_date(f[F_DATE], mi->internaldate),
	};
	thread_add(x->set, &m);
	free(subj);
	fields_free(f);
	return 0;
}

/* RFC 5256 4: "(3 6 (4 23)(44 7 96))": a node's only child follows it in
 * the same list, several children each get a list of their own; a dummy
 * at the top is a list of its children's lists. No recursion: a long
 * reply chain is one long loop. */
static void thread_out(struct sbuf *b, const struct thread_node *top)
{
	size_t n = 0, cap = 64;
	const struct thread_node **st = xmalloc(cap * sizeof *st); /* NULL: a ")" */
	st[n++] = top;
	while (n) {
		const struct thread_node *nd = st[--n];
		if (!nd) {
			sbuf_puts(b, ")");
			continue;
		}
		sbuf_puts(b, "(");
		if (n + 1 >= cap) {
			cap *= 2;
			st = xrealloc(st, cap * sizeof *st);
		}
		st[n++] = NULL;
		int first = 1;
		while (nd) {
			if (nd->key) {
				sbuf_printf(b, first ? "%u" : " %u", nd->key);
				first = 0;
			}
			if (nd->child && !nd->child->next && nd->key) {
				nd = nd->child;
				continue;
			}
			/* several children (or a dummy's): a list each, in order */
			size_t k = 0;
			for (const struct thread_node *c = nd->child; c; c = c->next)
				k++;
			if (k && !first)
				sbuf_puts(b, " ");
			while (n + k >= cap) {
				cap *= 2;
				st = xrealloc(st, cap * sizeof *st);
			}
			size_t i = n + k;
			for (const struct thread_node *c = nd->child; c; c = c->next)
				st[--i] = c;
			n += k;
			break;
		}
	}
	free(st);
}

void imap_cmd_thread(struct imap_session *s, int uid)
{
	const struct iarg *a = s->cmd.args->kids;
	int algo;
	if (iarg_is_atom(a, "REFERENCES"))
		algo = THREAD_REFERENCES;
	else if (iarg_is_atom(a, "ORDEREDSUBJECT"))
		algo = THREAD_ORDEREDSUBJECT;
	else {
		imap_tagged(s, "BAD", "Unknown threading algorithm");
		return;
	}
	a = a->next;
	if (!a || !a->next) {
		imap_tagged(s, "BAD", "THREAD needs a charset and search keys");
		return;
	}
	const char *err = NULL;
	struct search_prog *prog = imap_search_compile(s, a->next, &err);
	if (!prog) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (charset_ok(s, a) < 0) {
		imap_search_free(&prog);
		return;
	}
	if (imap_search_modseq(prog))
		imap_condstore_on(s);
	imap_sync(s, uid);
	imap_search_resolve(s, prog);
	struct thread_ctx x = {
	    .prog = prog, .set = thread_new(algo), .uid = uid, .refs = algo == THREAD_REFERENCES};
	struct imap_ref *all;
	size_t nall = view_all(&s->view, &all);
	int rc = imap_each_msg(s, all, nall, thread_cb, &x);
	free(all);
	imap_search_free(&prog);
	if (rc != ST_OK) {
		thread_free(&x.set);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	struct sbuf b = {0};
	sbuf_puts(&b, "* THREAD");
	const struct thread_node *t = thread_run(x.set);
	if (t)
		sbuf_puts(&b, " ");
	for (; t; t = t->next)
		thread_out(&b, t);
	sbuf_puts(&b, "\r\n");
	conn_write(s->c, b.p, b.len);
	sbuf_free(&b);
	thread_free(&x.set);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}
