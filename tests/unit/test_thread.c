/*
 * test_thread.c — thread.c: RFC 5256 2.1 base subjects (every rule, alone
 * and together, and the reply/forward flag threading needs), the
 * i;ascii-casemap order, RFC 5322 dates with zones and obsolete forms,
 * and both threading algorithms on a crafted set: References chains,
 * In-Reply-To only, a missing parent shared by two messages (a dummy
 * kept) or held by one (promoted), subject-only grouping (reply under
 * the original; two originals under a new dummy), a References loop, a
 * duplicate Message-ID, date ties broken by order; then a 100,000-long
 * reply chain (no recursion) and the id-table bound.
 *
 * The expected thread strings were worked out by hand from RFC 5256
 * section 3's steps, in the IMAP form of section 4.
 */
/* deps: thread util log */
#include "harness.h"
#include "thread.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static const char *base(const char *s, int *reply)
{
	static char out[2048];
	char *b = thread_base_subject(s, strlen(s), reply);
	snprintf(out, sizeof out, "%s", b);
	free(b);
	return out;
}

TEST(base_subject_rules)
{
	int r;
	CHECK_EQ_STR(base("hello", &r), "hello");
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(base("Re: hello", &r), "hello");
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_STR(base("  hello \t\r\n  world  ", &r), "hello world"); /* (1) */
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(base("hello (fwd)", &r), "hello"); /* (2) */
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_STR(base("hello (FWD) (fwd)  ", &r), "hello");
	CHECK_EQ_STR(base("RE: Fwd: FW: hello", &r), "hello"); /* (3) */
	CHECK_EQ_STR(base("re [list]: hello", &r), "hello");   /* refwd with its blob */
	CHECK_EQ_STR(base("Re : hello", &r), "hello");	       /* WSP before ':' */
	CHECK_EQ_STR(base("[a] [b] Re: hello", &r), "hello");  /* blobs before refwd */
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_STR(base("[list] hello", &r), "hello"); /* (4) */
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(base("[list]", &r), "[list]"); /* (4): nothing would be left */
	CHECK_EQ_STR(base("[list] Re: [list] Re: hello", &r), "hello"); /* (5) */
	CHECK_EQ_STR(base("[fwd: hello]", &r), "hello");		/* (6) */
	CHECK_EQ_INT(r, 1);
	CHECK_EQ_STR(base("[Fwd: Re: [fwd: hello (fwd)]]", &r), "hello");
	CHECK_EQ_STR(base("Rebecca", &r), "Rebecca");
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_STR(base("Fwd", &r), "Fwd");
	CHECK_EQ_STR(base("re: ", &r), "");
	CHECK_EQ_STR(base("Re: Re[2]: x", &r), "x"); /* "re" subj-blob ":" is a subj-refwd */
	CHECK_EQ_STR(base("[unclosed Re: hi", &r), "[unclosed Re: hi");
	char *e = thread_base_subject(NULL, 0, &r);
	CHECK_EQ_STR(e, "");
	free(e);
}

TEST(base_subject_bounded)
{
	char big[5000];
	memset(big, '[', sizeof big - 1);
	big[sizeof big - 1] = 0;
	char *b = thread_base_subject(big, strlen(big), NULL);
	CHECK_EQ_INT(strlen(b), THREAD_SUBJECT_MAX);
	free(b);
}

TEST(casemap_order)
{
	CHECK(thread_casecmp("abc", "ABC") == 0);
	CHECK(thread_casecmp("abc", "abd") < 0);
	CHECK(thread_casecmp("ab", "abc") < 0);
	CHECK(thread_casecmp("Z", "a") > 0);
	CHECK(thread_casecmp("_", "a") > 0); /* 'a' compares as 'A' (0x41), below '_' (0x5f) */
}

TEST(dates)
{
	int64_t t;
	CHECK_EQ_INT(thread_parse_date("Thu, 01 Jan 1970 00:00:00 +0000", &t), 0);
	CHECK_EQ_INT(t, 0);
	CHECK_EQ_INT(thread_parse_date("Mon, 7 Dec 2026 20:24:02 +0100", &t), 0);
	CHECK_EQ_INT(t, 1796675042 - 3600);
	CHECK_EQ_INT(thread_parse_date(" (comment) 7 Dec 2026 20:24 -0130 (x)", &t), 0);
	CHECK_EQ_INT(t, 1796675040 + 5400);
	CHECK_EQ_INT(thread_parse_date("7 dec 26 15:24:02 EST", &t), 0); /* 2-digit year, zone */
	CHECK_EQ_INT(t, 1796675042);
	CHECK_EQ_INT(thread_parse_date("7 Dec 126 20:24:02 GMT", &t), 0); /* 3-digit: 2026 */
	CHECK_EQ_INT(t, 1796675042);
	CHECK_EQ_INT(thread_parse_date("29 Feb 2000 00:00:00 +0000", &t), 0);
	CHECK_EQ_INT(t, 951782400);
	CHECK_EQ_INT(thread_parse_date("garbage", &t), -1);
	CHECK_EQ_INT(thread_parse_date("7 Foo 2026 20:24 +0000", &t), -1);
	CHECK_EQ_INT(thread_parse_date("7 Dec 2026 25:00 +0000", &t), -1);
	CHECK_EQ_INT(thread_parse_date("Mon 7 Dec 2026 20:24 +0000", &t), -1);
	CHECK_EQ_INT(thread_parse_date(NULL, &t), -1);
}

/* The IMAP form of RFC 5256 section 4, written the simple recursive way
 * (imap_sort.c writes it with a loop). */
static void out_node(char *b, size_t cap, const struct thread_node *n);
static void out_list(char *b, size_t cap, const struct thread_node *n)
{
	strncat(b, "(", cap - strlen(b) - 1);
	out_node(b, cap, n);
	strncat(b, ")", cap - strlen(b) - 1);
}

static void out_node(char *b, size_t cap, const struct thread_node *n)
{
	char num[16];
	if (n->key) {
		snprintf(num, sizeof num, "%u", n->key);
		strncat(b, num, cap - strlen(b) - 1);
		if (n->child && !n->child->next) {
			strncat(b, " ", cap - strlen(b) - 1);
			out_node(b, cap, n->child);
			return;
		}
		if (n->child)
			strncat(b, " ", cap - strlen(b) - 1);
	}
	for (const struct thread_node *c = n->child; c; c = c->next)
		out_list(b, cap, c);
}

static const char *run(struct thread_set *t)
{
	static char b[4096];
	b[0] = 0;
	for (const struct thread_node *n = thread_run(t); n; n = n->next)
		out_list(b, sizeof b, n);
	return b;
}

static const struct thread_msg crafted[] = {
    {1, "<a@x>", NULL, NULL, "hello", 100},
    {2, "<b@x>", "<a@x>", NULL, "Re: hello", 200},
    {3, "<c@x>", NULL, "Your message <a@x> of Monday", "Re: hello", 300}, /* In-Reply-To */
    {4, "<d@x>", "<missing@x>", NULL, "lost", 400},
    {5, "<e@x>", "(c) <missing@x>", NULL, "lost too", 500},
    {6, "<f@x>", NULL, NULL, "RE: Hello", 600}, /* subject only: a reply of 1 */
    {7, "<g@x>", NULL, NULL, "other", 700},
    {8, "<h@x>", NULL, NULL, "[list] other", 800}, /* two originals: a dummy */
    {9, "<i@x>", "<j@x>", NULL, "loop", 900},
    {10, "<j@x>", "<i@x>", NULL, "loop", 1000}, /* would close a loop: stays the parent */
    {11, "<a@x>", NULL, NULL, "dup", 50},	/* id taken by 1: a thread of its own */
};

TEST(references_crafted)
{
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	for (size_t i = 0; i < ARRAY_LEN(crafted); i++)
		thread_add(t, &crafted[i]);
	CHECK_EQ_STR(run(t), "(11)(1 (2)(3)(6))((4)(5))((7)(8))(10 9)");
	thread_free(&t);
	CHECK(t == NULL);
}

TEST(orderedsubject_crafted)
{
	struct thread_set *t = thread_new(THREAD_ORDEREDSUBJECT);
	for (size_t i = 0; i < ARRAY_LEN(crafted); i++)
		thread_add(t, &crafted[i]);
	CHECK_EQ_STR(run(t), "(11)(1 (2)(3)(6))(4)(5)(7 8)(9 10)");
	thread_free(&t);
}

TEST(references_missing_parent_one_child)
{
	/* a dummy with one child at the top gives way to the child; a chain
	 * through two missing messages; a References list whose last id is
	 * the parent even when an earlier message linked it elsewhere */
	static const struct thread_msg m[] = {
	    {1, "<r@x>", NULL, NULL, "root", 10},
	    {2, "<c@x>", "<gone@x>", NULL, "child", 20},
	    {3, "<d@x>", "<r@x> <m1@x> <m2@x>", NULL, "Re: root", 30},
	    {4, "<e@x>", "<c@x>", NULL, "x", 5},
	    {5, "<f@x>", "<r@x> <d@x>", NULL, "y", 40},
	    {6, "<g@x>", "<r@x>", NULL, "z", 40}, /* same date as 5: order decides */
	};
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	for (size_t i = 0; i < ARRAY_LEN(m); i++)
		thread_add(t, &m[i]);
	/* 2 sorts at the top by its own date (20), after 1 (10) */
	CHECK_EQ_STR(run(t), "(1 (3 5)(6))(2 4)");
	thread_free(&t);
}

TEST(references_top_dummy_counts_children_after_pruning)
{
	/* top (missing) holds 1 and the dummy q, which holds nothing (2's
	 * References link top->q but not q->m1: m1 has a parent already).
	 * Once q is gone top has one child, so 1 takes its place (found by
	 * fuzz_thread: top stayed, a dummy over a single thread). */
	static const struct thread_msg m[] = {
	    {1, "<m1@x>", "<top@x>", NULL, "a", 1},
	    {2, "<m2@x>", "<top@x> <q@x> <m1@x>", NULL, "b", 2},
	};
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	thread_add(t, &m[0]);
	thread_add(t, &m[1]);
	CHECK_EQ_STR(run(t), "(1 2)");
	thread_free(&t);
}

TEST(references_reply_chain_100k)
{
	/* no recursion anywhere: a 100,000-deep chain threads and frees */
	enum { N = 100000 };
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	char id[64], ref[64];
	for (uint32_t i = 1; i <= N; i++) {
		snprintf(id, sizeof id, "<m%u@x>", i);
		snprintf(ref, sizeof ref, "<m%u@x>", i - 1);
		struct thread_msg m = {i, id, i > 1 ? ref : NULL, NULL, "chain", i};
		thread_add(t, &m);
	}
	const struct thread_node *n = thread_run(t);
	CHECK(n && !n->next);
	uint32_t depth = 0;
	for (; n; n = n->child) {
		CHECK_EQ_INT(n->key, depth + 1);
		depth++;
	}
	CHECK_EQ_INT(depth, N);
	CHECK(thread_table_bytes(t) < 16u << 20);
	thread_free(&t);
}

TEST(id_table_bounded)
{
	/* every message names THREAD_REFS_MAX+ fresh parents of maximal
	 * length: the table stops at THREAD_TABLE_MAX and threading goes on */
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	static char refs[(THREAD_ID_MAX + 3) * (THREAD_REFS_MAX + 4)];
	char id[THREAD_ID_MAX + 8];
	for (uint32_t i = 1; i <= 8000; i++) {
		size_t at = 0;
		for (int k = 0; k < THREAD_REFS_MAX + 2; k++) {
			int w = snprintf(refs + at, sizeof refs - at, "<%u.%d.", i, k);
			at += (size_t)w;
			memset(refs + at, 'q', THREAD_ID_MAX - (size_t)w);
			at += THREAD_ID_MAX - (size_t)w;
			refs[at++] = '>';
			refs[at++] = ' ';
		}
		refs[at] = 0;
		snprintf(id, sizeof id, "<%u@x>", i);
		struct thread_msg m = {i, id, refs, NULL, "s", i};
		thread_add(t, &m);
	}
	CHECK(thread_table_bytes(t) <= THREAD_TABLE_MAX);
	CHECK(thread_run(t) != NULL);
	thread_free(&t);
}

TEST(references_keep_the_last_32)
{
	/* References "<p> <f1> ... <fK>": with K = 31 every id counts and
	 * 2 hangs under 1 through dummies; with K = 32 the first id (p) is
	 * dropped, the dummy chain f1..f32 leads nowhere and 2 is its own
	 * thread (the dummies give way: one child each) */
	for (int k = 31; k <= 32; k++) {
		char refs[2048] = "<p@x>";
		for (int i = 1; i <= k; i++)
			snprintf(refs + strlen(refs), sizeof refs - strlen(refs), " <f%d@x>", i);
		const struct thread_msg m[] = {
		    {1, "<p@x>", NULL, NULL, "one", 1},
		    {2, "<q@x>", refs, NULL, "two", 2},
		};
		struct thread_set *t = thread_new(THREAD_REFERENCES);
		thread_add(t, &m[0]);
		thread_add(t, &m[1]);
		CHECK_EQ_STR(run(t), k == 31 ? "(1 2)" : "(1)(2)");
		thread_free(&t);
	}
}

TEST(ids_too_long_or_empty_are_ignored)
{
	char longid[THREAD_ID_MAX + 20];
	memset(longid, 'a', sizeof longid - 1);
	longid[0] = '<';
	longid[sizeof longid - 2] = '>';
	longid[sizeof longid - 1] = 0;
	const struct thread_msg m[] = {
	    {1, longid, NULL, NULL, "a", 1},
	    {2, "<>", longid, NULL, "b", 2},		/* no valid reference: a root */
	    {3, "<x@y>", "<> <<a <x@y>", NULL, "c", 3}, /* only itself: no loop */
	};
	struct thread_set *t = thread_new(THREAD_REFERENCES);
	for (size_t i = 0; i < ARRAY_LEN(m); i++)
		thread_add(t, &m[i]);
	CHECK_EQ_STR(run(t), "(1)(2)(3)");
	thread_free(&t);
}

TEST(empty_set)
{
	struct thread_set *t = thread_new(THREAD_ORDEREDSUBJECT);
	CHECK(thread_run(t) == NULL);
	thread_free(&t);
	thread_free(&t); /* NULL is fine */
}

TEST_MAIN()
