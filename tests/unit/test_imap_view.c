/*
 * test_imap_view.c — the number <-> UID map of a selected session
 * (imap_view.c), held against a plain sorted array of UIDs: lookups both
 * ways, appends, removals with the numbers each removed UID had, set
 * selection by number and by UID, '*' and ranges beyond the ends.
 */
/* deps: imap_view imap_parse message message_text spool util log */
#include "harness.h"
#include "imap.h"

#include <stdint.h>
#include <stdlib.h>

/* The model: UIDs ascending; message number = index + 1. */
struct model {
	uint32_t u[4096];
	size_t n;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void check_same(const struct imap_view *v, const struct model *m)
{
	CHECK_EQ_INT(v->count, m->n);
	CHECK_EQ_INT(view_max(v), m->n ? m->u[m->n - 1] : 0);
	for (size_t i = 0; i < m->n; i++) {
		CHECK_EQ_INT(view_uid(v, (uint32_t)i + 1), m->u[i]);
		CHECK_EQ_INT(view_seq(v, m->u[i]), i + 1);
	}
	CHECK_EQ_INT(view_uid(v, 0), 0);
	CHECK_EQ_INT(view_uid(v, (uint32_t)m->n + 1), 0);
	/* UIDs not in the model have no number; view_rank counts the UIDs
	 * at or below any UID (\Recent's count). */
	for (size_t i = 0, j = 0; m->n && i <= m->u[m->n - 1] + 1; i++) {
		while (j < m->n && m->u[j] < i)
			j++;
		if (j == m->n || m->u[j] != i)
			CHECK_EQ_INT(view_seq(v, (uint32_t)i), 0);
		CHECK_EQ_INT(view_rank(v, (uint32_t)i), j + (j < m->n && m->u[j] == i));
	}
	struct imap_ref *all;
	size_t n = view_all(v, &all);
	CHECK_EQ_INT(n, m->n);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(all[i].seq, i + 1);
		CHECK_EQ_INT(all[i].uid, m->u[i]);
	}
	free(all);
}

static size_t runs_of(const struct model *m)
{
	size_t r = 0;
	for (size_t i = 0; i < m->n; i++)
		if (i == 0 || m->u[i] != m->u[i - 1] + 1)
			r++;
	return r;
}

TEST(set_from_runs_and_lookups)
{
	struct imap_view v = {0};
	struct uid_run runs[] = {{1, 3}, {7, 1}, {10, 4}};
	struct model m = {.u = {1, 2, 3, 7, 10, 11, 12, 13}, .n = 8};
	view_set(&v, runs, 3);
	check_same(&v, &m);
	CHECK_EQ_INT(v.n, 3);
	view_free(&v);
	view_set(&v, NULL, 0);
	CHECK_EQ_INT(v.count, 0);
	CHECK_EQ_INT(view_max(&v), 0);
	CHECK_EQ_INT(view_seq(&v, 1), 0);
	view_free(&v);
}

TEST(adjacent_runs_merge)
{
	struct imap_view v = {0};
	struct uid_run runs[] = {{1, 3}, {4, 2}, {0, 0}, {9, 1}};
	view_set(&v, runs, 4);
	CHECK_EQ_INT(v.n, 2);
	CHECK_EQ_INT(v.count, 6);
	CHECK_EQ_INT(view_uid(&v, 6), 9);
	view_free(&v);
}

TEST(remove_reports_old_numbers)
{
	struct imap_view v = {0};
	struct uid_run runs[] = {{1, 10}};
	uint32_t gone[] = {1, 5, 6, 10, 42}, seq[5];
	view_set(&v, runs, 1);
	view_remove(&v, gone, 5, seq);
	CHECK_EQ_INT(seq[0], 1);
	CHECK_EQ_INT(seq[1], 5);
	CHECK_EQ_INT(seq[2], 6);
	CHECK_EQ_INT(seq[3], 10);
	CHECK_EQ_INT(seq[4], 0); /* never in the view */
	struct model m = {.u = {2, 3, 4, 7, 8, 9}, .n = 6};
	check_same(&v, &m);
	CHECK_EQ_INT(v.n, 2);
	view_free(&v);
}

TEST(select_by_number_and_uid)
{
	struct imap_view v = {0};
	struct uid_run runs[] = {{3, 2}, {10, 3}, {20, 1}}; /* 3 4 10 11 12 20 */
	struct seqset ss;
	struct imap_ref *r;
	size_t n;
	view_set(&v, runs, 3);

	CHECK(seqset_parse("2:4,6", &ss) == 0);
	seqset_resolve(&ss, v.count);
	n = view_select(&v, &ss, 0, &r);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(r[0].seq, 2);
	CHECK_EQ_INT(r[0].uid, 4);
	CHECK_EQ_INT(r[1].uid, 10);
	CHECK_EQ_INT(r[2].uid, 11);
	CHECK_EQ_INT(r[3].seq, 6);
	CHECK_EQ_INT(r[3].uid, 20);
	free(r);
	seqset_free(&ss);

	/* UIDs: holes are skipped, '*' is the largest UID, a range past
	 * the end still names the last message (RFC 9051 6.4.8). */
	CHECK(seqset_parse("1:10,12:*", &ss) == 0);
	seqset_resolve(&ss, view_max(&v));
	n = view_select(&v, &ss, 1, &r);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(r[0].uid, 3);
	CHECK_EQ_INT(r[2].uid, 10);
	CHECK_EQ_INT(r[2].seq, 3);
	CHECK_EQ_INT(r[3].uid, 12);
	CHECK_EQ_INT(r[4].uid, 20);
	free(r);
	seqset_free(&ss);

	CHECK(seqset_parse("100:*", &ss) == 0);
	seqset_resolve(&ss, view_max(&v));
	n = view_select(&v, &ss, 1, &r);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(r[0].uid, 20);
	CHECK_EQ_INT(r[0].seq, 6);
	free(r);
	seqset_free(&ss);

	CHECK(seqset_parse("5:9,13:19", &ss) == 0);
	seqset_resolve(&ss, view_max(&v));
	n = view_select(&v, &ss, 1, &r);
	CHECK_EQ_INT(n, 0);
	free(r);
	seqset_free(&ss);
	view_free(&v);
}

TEST(uid_near_the_top_of_the_range)
{
	struct imap_view v = {0};
	struct uid_run runs[] = {{UINT32_MAX - 3, 3}};
	struct seqset ss;
	struct imap_ref *r;
	view_set(&v, runs, 1);
	CHECK_EQ_INT(view_max(&v), UINT32_MAX - 1);
	CHECK(seqset_parse("1:*", &ss) == 0);
	seqset_resolve(&ss, view_max(&v));
	CHECK_EQ_INT(view_select(&v, &ss, 1, &r), 3);
	free(r);
	seqset_free(&ss);
	view_free(&v);
}

/* Random appends and removals against the model; every few steps a full
 * comparison and a random set selection both ways. */
TEST(random_against_model)
{
	struct imap_view v = {0};
	static struct model m;
	uint32_t next = 1;
	m.n = 0;
	view_set(&v, NULL, 0);
	for (int step = 0; step < 3000; step++) {
		uint32_t op = rnd(10);
		if (op < 6 && m.n < 4000) {
			uint32_t k = 1 + rnd(5);
			for (uint32_t i = 0; i < k; i++) {
				next += rnd(4) == 0 ? 1 + rnd(3) : 0; /* arrivals may skip UIDs */
				view_append(&v, next);
				m.u[m.n++] = next++;
			}
		} else if (m.n) {
			/* Remove a random subset, plus a UID that is not there. */
			uint32_t del[64], seq[64], want[64];
			size_t nd = 0, keep = 0;
			for (size_t i = 0; i < m.n && nd < 63; i++)
				if (rnd(8) == 0) {
					want[nd] = (uint32_t)i + 1;
					del[nd++] = m.u[i];
				}
			del[nd] = next + 5;
			want[nd++] = 0;
			view_remove(&v, del, nd, seq);
			for (size_t i = 0; i < nd; i++)
				CHECK_EQ_INT(seq[i], want[i]);
			for (size_t i = 0, d = 0; i < m.n; i++) {
				while (d < nd && del[d] < m.u[i])
					d++;
				if (d < nd && del[d] == m.u[i])
					continue;
				m.u[keep++] = m.u[i];
			}
			m.n = keep;
		}
		CHECK_EQ_INT(v.count, m.n);
		if (step % 50 == 0) {
			check_same(&v, &m);
			CHECK_EQ_INT(v.n, runs_of(&m));
			if (m.n) {
				char set[64];
				uint32_t a = 1 + rnd((uint32_t)m.n), b = 1 + rnd((uint32_t)m.n);
				struct seqset ss;
				struct imap_ref *r;
				snprintf(set, sizeof set, "%u:%u", a, b);
				CHECK(seqset_parse(set, &ss) == 0);
				seqset_resolve(&ss, v.count);
				size_t lo = a < b ? a : b, hi = a < b ? b : a;
				size_t n = view_select(&v, &ss, 0, &r);
				CHECK_EQ_INT(n, hi - lo + 1);
				for (size_t i = 0; i < n; i++) {
					CHECK_EQ_INT(r[i].seq, lo + i);
					CHECK_EQ_INT(r[i].uid, m.u[lo + i - 1]);
				}
				free(r);
				seqset_free(&ss);
				/* The same messages by UID. */
				snprintf(set, sizeof set, "%u:%u", m.u[lo - 1], m.u[hi - 1]);
				CHECK(seqset_parse(set, &ss) == 0);
				seqset_resolve(&ss, view_max(&v));
				CHECK_EQ_INT(view_select(&v, &ss, 1, &r), hi - lo + 1);
				CHECK_EQ_INT(r[0].seq, lo);
				free(r);
				seqset_free(&ss);
			}
		}
	}
	check_same(&v, &m);
	view_free(&v);
}

TEST_MAIN()
