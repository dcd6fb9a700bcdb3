/*
 * imap_view.c — what a selected IMAP session believes the mailbox holds:
 * the UIDs in message-number order, kept as runs of consecutive UIDs.
 *
 * A session needs the number <-> UID map (RFC 9051 2.3.1.2) and nothing
 * else of each message: flags, sizes and dates are read from the store when
 * a command wants them. Runs make that map as small as the mailbox's holes:
 * a 100,000-message INBOX without expunges in its middle is one run, and
 * fifty sessions idling on it cost fifty runs, not five million bytes.
 * Lookups are binary searches over the runs.
 */
#include "imap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void grow(struct imap_view *v, size_t need)
{
	if (need <= v->cap)
		return;
	v->cap = v->cap ? v->cap * 2 : 8;
	if (v->cap < need)
		v->cap = need;
	v->r = xrealloc(v->r, v->cap * sizeof *v->r);
}

static void renumber(struct imap_view *v, size_t from)
{
	uint32_t before = from ? v->r[from - 1].before + v->r[from - 1].count : 0;
	for (size_t i = from; i < v->n; i++) {
		v->r[i].before = before;
		before += v->r[i].count;
	}
	v->count = before;
}

void view_set(struct imap_view *v, const struct uid_run *runs, size_t n)
{
	v->n = 0;
	grow(v, n);
	for (size_t i = 0; i < n; i++) {
		if (!runs[i].count)
			continue;
		/* Adjacent runs from the store are merged (never expected). */
		if (v->n && v->r[v->n - 1].first + v->r[v->n - 1].count == runs[i].first) {
			v->r[v->n - 1].count += runs[i].count;
			continue;
		}
		v->r[v->n].first = runs[i].first;
		v->r[v->n].count = runs[i].count;
		v->n++;
	}
	renumber(v, 0);
}

void view_free(struct imap_view *v)
{
	free(v->r);
	memset(v, 0, sizeof *v);
}

uint32_t view_max(const struct imap_view *v)
{
	return v->n ? v->r[v->n - 1].first + v->r[v->n - 1].count - 1 : 0;
}

uint32_t view_uid(const struct imap_view *v, uint32_t seq)
{
	size_t lo = 0, hi = v->n;
	if (seq == 0 || seq > v->count)
		return 0;
	/* The last run whose numbers start at or below seq. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->r[mid].before < seq)
			lo = mid;
		else
			hi = mid;
	}
	return v->r[lo].first + (seq - 1 - v->r[lo].before);
}

/* Index of the last run with first <= uid, or -1. */
static long run_at(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->r[mid].first <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

uint32_t view_seq(const struct imap_view *v, uint32_t uid)
{
	long i = run_at(v, uid);
	if (i < 0 || uid - v->r[i].first >= v->r[i].count)
		return 0;
	return v->r[i].before + (uid - v->r[i].first) + 1;
}

uint32_t view_rank(const struct imap_view *v, uint32_t uid)
{
	long i = run_at(v, uid);
	if (i < 0)
		return 0;
	uint32_t in = uid - v->r[i].first + 1;
	return v->r[i].before + (in < v->r[i].count ? in : v->r[i].count);
}

void view_append(struct imap_view *v, uint32_t uid)
{
	if (uid <= view_max(v) && v->n)
		return; /* not new: callers only append above the maximum */
	if (v->n && v->r[v->n - 1].first + v->r[v->n - 1].count == uid) {
		v->r[v->n - 1].count++;
	} else {
		grow(v, v->n + 1);
		v->r[v->n].first = uid;
		v->r[v->n].count = 1;
		v->r[v->n].before = v->count;
		v->n++;
	}
	v->count++;
}

void view_remove(struct imap_view *v, const uint32_t *uids, size_t n, uint32_t *seq)
{
	struct view_run *out;
	size_t nout = 0, cap = v->n + n + 1, k = 0;

	out = xmalloc(cap * sizeof *out);
	for (size_t i = 0; i < v->n; i++) {
		uint32_t first = v->r[i].first, end = first + v->r[i].count; /* [first, end) */
		uint32_t at = first;
		/* Cut this run at every UID to remove that falls inside it. */
		while (k < n && uids[k] < end) {
			if (uids[k] >= at) {
				if (seq)
					seq[k] = v->r[i].before + (uids[k] - first) + 1;
				if (uids[k] > at) {
					out[nout].first = at;
					out[nout].count = uids[k] - at;
					nout++;
				}
				at = uids[k] + 1;
			} else if (seq) {
				seq[k] = 0; /* below this run and not in the previous one */
			}
			k++;
		}
		if (at < end) {
			out[nout].first = at;
			out[nout].count = end - at;
			nout++;
		}
	}
	for (; seq && k < n; k++)
		seq[k] = 0;
	free(v->r);
	v->r = out;
	v->n = nout;
	v->cap = cap;
	renumber(v, 0);
}

static void ref_push(struct imap_ref **out, size_t *n, size_t *cap, uint32_t seq, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*out = xrealloc(*out, *cap * sizeof **out);
	}
	(*out)[*n].seq = seq;
	(*out)[(*n)++].uid = uid;
}

size_t view_select(const struct imap_view *v, const struct seqset *ss, int uid,
		   struct imap_ref **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	for (size_t k = 0; k < ss->n; k++) {
		uint32_t lo = ss->r[k][0], hi = ss->r[k][1];
		if (!uid) {
			if (hi > v->count)
				hi = v->count;
			if (lo == 0)
				lo = 1;
			if (lo > hi)
				continue;
			long i = (long)run_at(v, view_uid(v, lo));
			for (uint32_t q = lo; q <= hi && i >= 0 && (size_t)i < v->n; i++) {
				const struct view_run *r = &v->r[i];
				for (; q <= hi && q <= r->before + r->count; q++)
					ref_push(out, &n, &cap, q, r->first + (q - 1 - r->before));
			}
			continue;
		}
		/* UIDs: the runs that overlap [lo, hi]. */
		long i = run_at(v, lo);
		if (i < 0)
			i = 0;
		for (; (size_t)i < v->n && v->r[i].first <= hi; i++) {
			const struct view_run *r = &v->r[i];
			uint32_t a = r->first > lo ? r->first : lo;
			uint32_t last = r->first + r->count - 1, b = last < hi ? last : hi;
			for (uint32_t u = a; u >= a && u <= b; u++)
				ref_push(out, &n, &cap, r->before + (u - r->first) + 1, u);
		}
	}
	return n;
}

size_t view_all(const struct imap_view *v, struct imap_ref **out)
{
	size_t n = 0, cap = v->count;
	*out = xmalloc((cap ? cap : 1) * sizeof **out);
	for (size_t i = 0; i < v->n; i++)
		for (uint32_t j = 0; j < v->r[i].count; j++) {
			(*out)[n].seq = v->r[i].before + j + 1;
			(*out)[n++].uid = v->r[i].first + j;
		}
	return n;
}
