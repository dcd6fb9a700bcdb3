/*
 * imap_sync.c — a selected session following its mailbox: what changed in
 * the store since the HIGHESTMODSEQ the session's view is at becomes
 * EXPUNGE, EXISTS and FETCH FLAGS (imap_sync); message sets resolved
 * against the view; messages read back from the store in batches
 * (imap_each_msg). The view itself is imap_view.c; docs/imap.md says how
 * it all fits.
 */
#include "imap.h"
#include "conn.h"
#include "server.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void imap_said(struct imap_session *s, uint32_t uid, uint64_t modseq)
{
	if (modseq <= s->seen_hms)
		return; /* imap_sync will not report it anyway */
	if (s->nsaid == s->capsaid) {
		s->capsaid = s->capsaid ? s->capsaid * 2 : 16;
		s->said = xrealloc(s->said, s->capsaid * sizeof *s->said);
	}
	s->said[s->nsaid].uid = uid;
	s->said[s->nsaid++].modseq = modseq;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int said_cmp(const void *a, const void *b)
{
	const struct imap_said *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->modseq < y->modseq ? 1 : x->modseq > y->modseq ? -1 : 0;
}

static int info_cmp(const void *a, const void *b)
{
	const struct msg_info *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
	return n && bsearch(&x, v, n, sizeof *v, u32_cmp) != NULL;
}

/* Sort and drop duplicates. */
static size_t u32_uniq(uint32_t *v, size_t n)
{
	size_t k = 0;
	qsort(v, n, sizeof *v, u32_cmp);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

void u32v_push(struct u32v *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

/* ---- \Recent (RFC 3501 2.3.2), IMAP4rev1 sessions only ----
 *
 * A message is recent to the first session told of it. The store keeps
 * one boundary per mailbox, the lowest UID nobody has claimed
 * (store_mbox_recent, as Dovecot's "first recent UID"); a session that
 * SELECTs, or that learns of arrivals, claims the UIDs below the next
 * UID and keeps them as runs. EXAMINE only reads the boundary (RFC 3501
 * 6.3.2: it must not take \Recent from anyone). IMAP4rev2 sessions have
 * no \Recent (RFC 9051) and claim nothing, so they take it from nobody. */
static void recent_add(struct imap_session *s, uint32_t lo, uint32_t hi)
{
	if (lo >= hi)
		return;
	if (s->nrecent && s->recent[s->nrecent - 1].hi >= lo) {
		if (hi > s->recent[s->nrecent - 1].hi)
			s->recent[s->nrecent - 1].hi = hi;
		return;
	}
	s->recent = xrealloc(s->recent, (s->nrecent + 1) * sizeof *s->recent);
	s->recent[s->nrecent].lo = lo;
	s->recent[s->nrecent++].hi = hi;
}

void imap_recent_claim(struct imap_session *s, uint32_t upto)
{
	uint32_t from = 0;
	if (s->rev2 || s->state != IS_SELECTED)
		return;
	if (store_mbox_recent(s->srv->store, s->acct.id, s->mbox, s->readonly ? 0 : upto, &from) !=
	    ST_OK)
		return;
	/* Runs only grow upwards: never claim below what we already hold. */
	if (s->nrecent && from < s->recent[s->nrecent - 1].hi)
		from = s->recent[s->nrecent - 1].hi;
	recent_add(s, from, upto);
}

int imap_is_recent(const struct imap_session *s, uint32_t uid)
{
	if (s->rev2)
		return 0; /* ENABLE IMAP4rev2 after SELECT: no \Recent from then on */
	for (size_t i = s->nrecent; i-- > 0;) /* recent ones are the newest */
		if (uid >= s->recent[i].lo)
			return uid < s->recent[i].hi;
	return 0;
}

uint32_t imap_recent_count(const struct imap_session *s)
{
	uint32_t n = 0;
	for (size_t i = 0; !s->rev2 && i < s->nrecent; i++)
		n += view_rank(&s->view, s->recent[i].hi - 1) - view_rank(&s->view, s->recent[i].lo - 1);
	return n;
}

/* What changed, gathered inside the store's read. */
struct sync_ctx {
	struct imap_session *s;
	uint32_t max;           /* largest UID in the view */
	uint64_t since;
	struct u32v gone, fresh, present;
	struct msg_info *chg;   /* messages in the view with new flags */
	size_t nchg, capchg;
};

static void chg_push(struct sync_ctx *x, const struct msg_info *m)
{
	if (x->nchg == x->capchg) {
		x->capchg = x->capchg ? x->capchg * 2 : 16;
		x->chg = xrealloc(x->chg, x->capchg * sizeof *x->chg);
	}
	x->chg[x->nchg++] = *m;
}

static void sync_ctx_free(struct sync_ctx *x)
{
	free(x->gone.v);
	free(x->fresh.v);
	free(x->present.v);
	free(x->chg);
}

static int sync_cb(void *arg, uint32_t uid, const struct msg_info *m)
{
	struct sync_ctx *x = arg;
	if (uid > x->max) {
		if (m)
			u32v_push(&x->fresh, uid);
		return 0; /* arrived and went again: never shown, nothing to say */
	}
	if (!view_seq(&x->s->view, uid) || in_sorted(x->s->gone, x->s->ngone, uid))
		return 0;
	if (!m)
		u32v_push(&x->gone, uid);
	else
		chg_push(x, m);
	return 0;
}

/* The store no longer knows every expunge since seen_hms: compare all. */
static int sync_all_cb(void *arg, const struct msg_info *m)
{
	struct sync_ctx *x = arg;
	if (m->uid > x->max) {
		u32v_push(&x->fresh, m->uid);
		return 0;
	}
	u32v_push(&x->present, m->uid);
	if (m->modseq > x->since && view_seq(&x->s->view, m->uid))
		chg_push(x, m);
	return 0;
}

static void sync_stale(struct imap_session *s, struct sync_ctx *x)
{
	struct imap_ref *all;
	size_t n = view_all(&s->view, &all), j = 0;
	if (store_msg_list(s->srv->store, s->acct.id, s->mbox, 1, sync_all_cb, x) != ST_OK) {
		free(all);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		while (j < x->present.n && x->present.v[j] < all[i].uid)
			j++;
		if ((j == x->present.n || x->present.v[j] != all[i].uid) &&
		    !in_sorted(s->gone, s->ngone, all[i].uid))
			u32v_push(&x->gone, all[i].uid);
	}
	free(all);
}

/* "* VANISHED [(EARLIER) ]set", cut at commas into lines of at most about
 * 8 KiB (RFC 7162 4 asks clients to take 8,192-octet lines; a mailbox
 * with many holes would otherwise make one line of megabytes). */
#define VANISHED_LINE 8000
static void vanished_out(struct imap_session *s, int earlier, const char *set)
{
	size_t n = strlen(set);
	while (n) {
		size_t k = n;
		if (k > VANISHED_LINE) {
			k = VANISHED_LINE;
			while (k && set[k] != ',')
				k--;
			if (!k)
				k = n; /* no comma: cannot happen with UIDs */
		}
		imap_out(s, "* VANISHED %s%.*s", earlier ? "(EARLIER) " : "", (int)k, set);
		set += k;
		n -= k;
		if (*set == ',') {
			set++;
			n--;
		}
	}
}

static void fetch_flags_line(struct imap_session *s, uint32_t seq, const struct msg_info *m)
{
	struct sbuf b = {0};
	if (imap_fetch_open(s, &b, seq, m->uid) && (s->rev2 || s->qresync))
		/* RFC 7162 3.2.4: UID with QRESYNC */
		sbuf_printf(&b, "UID %u ", m->uid);
	sbuf_puts(&b, "FLAGS ");
	imap_flags_out(s, &b, m->flags, m->keywords, m->uid);
	if (s->condstore) { /* RFC 7162 3.1.4: in every unsolicited FETCH */
		sbuf_printf(&b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		s->modseq_told = 1;
	}
	sbuf_puts(&b, ")\r\n");
	imap_put(s, &b);
	sbuf_free(&b);
}

/* Bring the view up to date from what the store logged since seen_hms:
 * EXPUNGE (when allowed; RFC 9051 7.5.1: never during FETCH, STORE,
 * SEARCH by number), EXISTS for arrivals, FETCH FLAGS for changes we have
 * not already sent. Costs what changed, not the size of the mailbox. */
void imap_sync(struct imap_session *s, int allow_expunge)
{
	struct sync_ctx x = {.s = s, .max = view_max(&s->view), .since = s->seen_hms};
	struct mbox_info mi;
	int stale = 0;

	if (s->state != IS_SELECTED)
		return;
	allow_expunge = imap_notify_expunge_ok(s, s->cmd.name, allow_expunge);
	int rc = store_msg_changes(s->srv->store, s->acct.id, s->mbox, s->seen_hms, sync_cb, &x,
				   &mi, &stale);
	if (rc == ST_NOTFOUND || (rc == ST_OK && mi.uidvalidity != s->uidvalidity)) {
		/* Deleted, or renamed away (maybe with a new mailbox under the
		 * name): none of our numbers or UIDs mean anything any more.
		 * Like Dovecot, end the session rather than mix two mailboxes. */
		sync_ctx_free(&x);
		view_free(&s->view);
		imap_out(s, "* BYE Selected mailbox was deleted or renamed");
		s->state = IS_LOGOUT;
		s->reason = "mailbox-gone";
		return;
	}
	if (rc != ST_OK) {
		sync_ctx_free(&x);
		return; /* unreadable now: try again at the next sync */
	}
	if (stale)
		sync_stale(s, &x);
	if (mi.highestmodseq == s->seen_hms && !(allow_expunge && s->ngone) && !x.gone.n &&
	    !x.fresh.n && !x.nchg) {
		sync_ctx_free(&x);
		return;
	}
	if (x.gone.n && !s->ngone)
		s->gone_hms = s->seen_hms; /* they all went after what we had */
	s->seen_hms = mi.highestmodseq;
	if (imap_kw_load(s))
		imap_flags_announce(s);
	if (x.gone.n) {
		s->gone = xrealloc(s->gone, (s->ngone + x.gone.n) * sizeof *s->gone);
		memcpy(s->gone + s->ngone, x.gone.v, x.gone.n * sizeof *s->gone);
		s->ngone = u32_uniq(s->gone, s->ngone + x.gone.n);
	}
	int told_gone = 0;
	if (allow_expunge && s->ngone) {
		imap_context_expunged(s, s->gone, s->ngone); /* RFC 5267 4.3.4: before */
		uint32_t *seq = xmalloc(s->ngone * sizeof *seq);
		view_remove(&s->view, s->gone, s->ngone, seq);
		if (s->qresync || s->uidonly) {
			/* RFC 7162 3.2.10, RFC 9586 3.4: UIDs (ascending) instead
			 * of EXPUNGE. */
			struct sbuf b = {0};
			size_t k = 0;
			for (size_t i = 0; i < s->ngone; i++)
				if (seq[i])
					s->gone[k++] = s->gone[i];
			imap_uidset_out(&b, s->gone, k);
			if (k)
				vanished_out(s, 0, b.p);
			sbuf_free(&b);
			told_gone = k != 0;
		} else {
			/* Highest first, so no number we send has moved yet. */
			for (size_t i = s->ngone; i-- > 0;)
				if (seq[i]) {
					imap_out(s, "* %u EXPUNGE", seq[i]);
					told_gone = 1;
				}
		}
		free(seq);
		free(s->gone);
		s->gone = NULL;
		s->ngone = 0;
	}
	if (x.fresh.n) {
		x.fresh.n = u32_uniq(x.fresh.v, x.fresh.n);
		for (size_t i = 0; i < x.fresh.n; i++)
			view_append(&s->view, x.fresh.v[i]);
		/* EXISTS only for arrivals: each EXPUNGE already lowered the
		 * count (RFC 9051 7.5.1), and clients such as fetchmail take
		 * any EXISTS, above all during IDLE, for new mail. */
		imap_out(s, "* %u EXISTS", s->view.count);
		if (!s->rev2) {
			imap_recent_claim(s, x.fresh.v[x.fresh.n - 1] + 1);
			imap_out(s, "* %u RECENT", imap_recent_count(s));
		}
		imap_notify_new(s, x.fresh.v, x.fresh.n); /* RFC 5465 5.1 fetch-att */
	}
	if (x.nchg) {
		qsort(x.chg, x.nchg, sizeof *x.chg, info_cmp);
		if (s->nsaid)
			qsort(s->said, s->nsaid, sizeof *s->said, said_cmp);
		size_t j = 0;
		for (size_t i = 0; i < x.nchg; i++) {
			const struct msg_info *m = &x.chg[i];
			uint32_t seq = view_seq(&s->view, m->uid);
			while (j < s->nsaid && s->said[j].uid < m->uid)
				j++;
			if (j < s->nsaid && s->said[j].uid == m->uid && s->said[j].modseq >= m->modseq)
				continue; /* the client has these flags from us already */
			if (seq)
				fetch_flags_line(s, seq, m);
		}
	}
	if (s->nctx && (x.fresh.n || x.nchg)) {
		/* RFC 5267 4.3.3: ADDTO after the EXISTS that makes its numbers
		 * valid. chg is sorted and below every fresh UID. */
		struct u32v t = {0};
		for (size_t i = 0; i < x.nchg; i++)
			u32v_push(&t, x.chg[i].uid);
		for (size_t i = 0; i < x.fresh.n; i++)
			u32v_push(&t, x.fresh.v[i]);
		imap_context_changed(s, t.v, u32_uniq(t.v, t.n));
		free(t.v);
	}
	/* RFC 7162 3.1.2.1, 3.2.10: an expunge changes no message's MODSEQ,
	 * so a client learns the mailbox's new HIGHESTMODSEQ only this way.
	 * Never while expunges wait to be announced (the client would store a
	 * modseq past changes it has not seen). */
	if (s->condstore && told_gone && !s->ngone)
		imap_out(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->seen_hms);
	s->nsaid = 0;
	sync_ctx_free(&x);
}

/* ---- QRESYNC: what a client missed since its modseq ---- */

struct qr_ctx {
	struct imap_session *s;
	const struct seqset *known;
	uint64_t since;
	int fetch;
	struct u32v gone;
	struct msg_info *chg;
	size_t nchg, capchg;
};

static void qr_chg(struct qr_ctx *x, const struct msg_info *m)
{
	if (!x->fetch || !view_seq(&x->s->view, m->uid) ||
	    in_sorted(x->s->gone, x->s->ngone, m->uid))
		return;
	if (x->nchg == x->capchg) {
		x->capchg = x->capchg ? x->capchg * 2 : 16;
		x->chg = xrealloc(x->chg, x->capchg * sizeof *x->chg);
	}
	x->chg[x->nchg++] = *m;
}

static int qr_cb(void *arg, uint32_t uid, const struct msg_info *m)
{
	struct qr_ctx *x = arg;
	if (x->known && !seqset_contains(x->known, uid))
		return 0;
	if (!m) {
		/* One still in the view has not been announced: it goes out
		 * as a plain VANISHED (the client counts it) at the next sync. */
		if (!view_seq(&x->s->view, uid))
			u32v_push(&x->gone, uid);
	} else {
		qr_chg(x, m);
	}
	return 0;
}

static int qr_all_cb(void *arg, const struct msg_info *m)
{
	struct qr_ctx *x = arg;
	if (m->modseq > x->since && (!x->known || seqset_contains(x->known, m->uid)))
		qr_chg(x, m);
	return 0;
}

/* Every UID of [lo, hi] not in the view, as ranges, into b. */
static void missing_out(const struct imap_view *v, uint64_t lo, uint64_t hi, struct sbuf *b)
{
	uint64_t cur = lo;
	for (size_t i = 0; i < v->n && cur <= hi; i++) {
		uint64_t f = v->r[i].first, e = f + v->r[i].count; /* [f, e) */
		if (e <= cur)
			continue;
		if (f > hi)
			break;
		if (f > cur) {
			sbuf_printf(b, "%s%llu", b->len ? "," : "", (unsigned long long)cur);
			if (f - 1 > cur)
				sbuf_printf(b, ":%llu", (unsigned long long)(f - 1));
		}
		cur = e;
	}
	if (cur <= hi) {
		sbuf_printf(b, "%s%llu", b->len ? "," : "", (unsigned long long)cur);
		if (hi > cur)
			sbuf_printf(b, ":%llu", (unsigned long long)hi);
	}
}

int imap_qresync_report(struct imap_session *s, const struct seqset *known, uint64_t since,
			uint32_t uidnext, int fetch)
{
	struct qr_ctx x = {.s = s, .known = known, .since = since, .fetch = fetch};
	struct sbuf b = {0};
	int stale = 0;
	int rc = store_msg_changes(s->srv->store, s->acct.id, s->mbox, since, qr_cb, &x, NULL,
				   &stale);
	if (rc == ST_OK && stale) {
		/* The store forgot some expunges since then: report every UID
		 * the client may know of that is not here. */
		x.gone.n = 0;
		x.nchg = 0;
		if (known) {
			for (size_t i = 0; i < known->n; i++) {
				uint32_t hi = known->r[i][1] < uidnext ? known->r[i][1] : uidnext - 1;
				if (known->r[i][0] <= hi)
					missing_out(&s->view, known->r[i][0], hi, &b);
			}
		} else if (uidnext > 1) {
			missing_out(&s->view, 1, uidnext - 1, &b);
		}
		if (fetch)
			rc = store_msg_list(s->srv->store, s->acct.id, s->mbox, 1, qr_all_cb, &x);
	} else if (rc == ST_OK) {
		if (x.gone.n) {
			x.gone.n = u32_uniq(x.gone.v, x.gone.n);
			imap_uidset_out(&b, x.gone.v, x.gone.n);
		}
	}
	if (rc == ST_OK) {
		if (b.len)
			vanished_out(s, 1, b.p);
		if (x.nchg)
			qsort(x.chg, x.nchg, sizeof *x.chg, info_cmp);
		for (size_t i = 0; i < x.nchg; i++) {
			uint32_t seq = view_seq(&s->view, x.chg[i].uid);
			if (seq) {
				fetch_flags_line(s, seq, &x.chg[i]);
				/* changed after the view was read: told now */
				imap_said(s, x.chg[i].uid, x.chg[i].modseq);
			}
		}
	}
	sbuf_free(&b);
	free(x.gone.v);
	free(x.chg);
	return rc;
}

size_t imap_resolve_set(struct imap_session *s, const char *set, int uid, struct imap_ref **refs,
			int *bad)
{
	struct seqset ss;
	size_t n;

	*refs = NULL;
	*bad = 0;
	if (imap_set_arg(s, set, uid, 1, &ss) < 0) {
		*bad = 1;
		return 0;
	}
	n = view_select(&s->view, &ss, uid, refs);
	seqset_free(&ss);
	return n;
}

#define EACH_BATCH 128

int imap_each_msg(struct imap_session *s, const struct imap_ref *refs, size_t n,
		  int (*fn)(struct imap_session *s, const struct imap_ref *r,
			    const struct msg_info *mi, void *arg),
		  void *arg)
{
	uint32_t uids[EACH_BATCH];
	struct msg_info mi[EACH_BATCH];
	unsigned char found[EACH_BATCH];

	for (size_t at = 0; at < n; at += EACH_BATCH) {
		size_t k = n - at < EACH_BATCH ? n - at : EACH_BATCH;
		for (size_t i = 0; i < k; i++)
			uids[i] = refs[at + i].uid;
		int rc = store_msg_get_many(s->srv->store, s->acct.id, s->mbox, uids, k, mi, found);
		if (rc != ST_OK)
			return rc;
		for (size_t i = 0; i < k; i++)
			if (fn(s, &refs[at + i], found[i] ? &mi[i] : NULL, arg))
				return ST_OK;
	}
	return ST_OK;
}
