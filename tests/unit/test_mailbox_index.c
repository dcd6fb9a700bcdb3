/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_mailbox_index.c — the per-mailbox indexes of the store (mailbox.h):
 * UID runs (store_msg_runs), changes since a modseq (store_msg_changes),
 * batched reads (store_msg_get_many), the first unseen UID
 * (store_msg_first_unseen) and the schema 1 -> 2 migration that builds
 * them. Every answer is compared with what store_msg_list / store_msg_get
 * read from the messages themselves, or with a model of the mailbox.
 * Where mdb_stat (lmdb-utils) is installed, the index sub-databases are
 * also counted from outside, to catch entries left behind by DELETE and
 * account removal that no API can see.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <stdint.h>
#include <unistd.h>

static void done(struct store **st)
{
	store_close(st);
	g_st = NULL;
	rm_store();
}

static struct store *fresh(void)
{
	return store_fixture_kept("index", 0);
}

static struct store *reopen(struct store **st)
{
	store_close(st);
	g_st = NULL;
	return store_fixture_open(st, 0) < 0 ? NULL : (g_st = *st);
}

static uint32_t add_user(struct store *st, const char *addr)
{
	struct cred c;
	struct account a;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$%s", addr);
	c.scram_iter = 4096;
	if (store_user_add(st, addr, &c) != ST_OK || store_user_get(st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

static const char body_text[] = "Subject: index\r\n\r\nhello\r\n";

static struct spool *body_spool(void)
{
	struct spool *sp = spool_new(0);
	spool_write(sp, body_text, sizeof body_text - 1);
	return sp;
}

/* n messages into mbox in one MULTIAPPEND; their UIDs into uids (if not
 * NULL). All share one spool. */
static void append_n(struct store *st, uint32_t u, const char *mbox, size_t n, uint32_t flags,
		     uint32_t *uids)
{
	struct spool *sp = body_spool();
	struct msg_in *m = xcalloc(n, sizeof *m);
	uint32_t *got = xcalloc(n, sizeof *got);
	int rc;
	for (size_t i = 0; i < n; i++) {
		m[i].body = sp;
		m[i].flags = flags;
	}
	rc = store_append_many(st, u, mbox, m, n, NULL, got);
	if (uids)
		memcpy(uids, got, n * sizeof *got);
	free(got);
	free(m);
	spool_free(&sp);
	CHECK_EQ_INT(rc, ST_OK);
}

static uint32_t append_one(struct store *st, uint32_t u, const char *mbox, uint32_t flags)
{
	struct spool *sp = body_spool();
	struct msg_in m = {0};
	uint32_t uid = 0;
	int rc;
	m.body = sp;
	m.flags = flags;
	rc = store_append(st, u, mbox, &m, NULL, &uid);
	spool_free(&sp);
	CHECK_EQ_INT(rc, ST_OK);
	return uid;
}

static uint32_t deliver_one(struct store *st, uint32_t u)
{
	struct spool *sp = body_spool();
	struct msg_in m = {0};
	uint32_t uid = 0;
	int rc1 = ST_TEMP, rc;
	m.body = sp;
	rc = store_deliver(st, &u, 1, NULL, &m, &rc1, &uid);
	spool_free(&sp);
	CHECK_EQ_INT(rc, ST_OK);
	CHECK_EQ_INT(rc1, ST_OK);
	return uid;
}

/* ---- reading a mailbox the slow way ---- */

struct mlist {
	struct msg_info *m;
	size_t n, cap;
};

static int mlist_cb(void *arg, const struct msg_info *m)
{
	struct mlist *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->m = xrealloc(l->m, l->cap * sizeof *l->m);
	}
	l->m[l->n++] = *m;
	return 0;
}

static struct mlist list_of(struct store *st, uint32_t u, const char *mbox)
{
	struct mlist l = {0};
	CHECK_EQ_INT(store_msg_list(st, u, mbox, 0, mlist_cb, &l), ST_OK);
	return l;
}

static uint32_t brute_first_unseen(const struct mlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (!(l->m[i].flags & FL_SEEN))
			return l->m[i].uid;
	return 0;
}

static void check_info_eq(const struct mbox_info *a, const struct mbox_info *b)
{
	CHECK_EQ_INT(a->id, b->id);
	CHECK_EQ_STR(a->name, b->name);
	CHECK_EQ_INT(a->special, b->special);
	CHECK_EQ_INT(a->subscribed, b->subscribed);
	CHECK_EQ_INT(a->uidvalidity, b->uidvalidity);
	CHECK_EQ_INT(a->uidnext, b->uidnext);
	CHECK_EQ_INT(a->exists, b->exists);
	CHECK_EQ_INT(a->unseen, b->unseen);
	CHECK_EQ_INT(a->highestmodseq, b->highestmodseq);
	CHECK_EQ_INT(a->size, b->size);
}

static void check_msg_eq(const struct msg_info *a, const struct msg_info *b)
{
	CHECK_EQ_INT(a->uid, b->uid);
	CHECK_EQ_INT(a->flags, b->flags);
	CHECK_EQ_INT(a->keywords, b->keywords);
	CHECK_EQ_INT(a->modseq, b->modseq);
	CHECK_EQ_INT(a->size, b->size);
	CHECK_EQ_INT(a->internaldate, b->internaldate);
	CHECK_EQ_INT(a->blob, b->blob);
}

/* The runs of mbox are well formed (ascending, non-empty, maximal: two
 * runs never touch) and cover exactly the UIDs store_msg_list reads; the
 * info read with them is store_mbox_get's. Returns the number of runs. */
static size_t check_runs(struct store *st, uint32_t u, const char *mbox)
{
	struct uid_run *r = NULL;
	struct mbox_info info, info2;
	struct mlist l;
	size_t n = 0, k = 0;
	int rc = store_msg_runs(st, u, mbox, &r, &n, &info);
	if (rc != ST_OK)
		free(r);
	CHECK_EQ_INT(rc, ST_OK);
	l = list_of(st, u, mbox);
	CHECK_EQ_INT(store_mbox_get(st, u, mbox, &info2), ST_OK);
	check_info_eq(&info, &info2);
	CHECK_EQ_INT(info.exists, l.n);
	for (size_t i = 0; i < n; i++) {
		CHECK(r[i].count > 0);
		if (i)
			CHECK(r[i].first > r[i - 1].first + r[i - 1].count);
		for (uint32_t j = 0; j < r[i].count; j++, k++) {
			CHECK(k < l.n);
			CHECK_EQ_INT(l.m[k].uid, r[i].first + j);
		}
	}
	CHECK_EQ_INT(k, l.n);
	free(l.m);
	free(r);
	return n;
}

/* The runs of mbox are exactly want[0..nwant) ({first, count} pairs). */
static void check_runs_are(struct store *st, uint32_t u, const char *mbox,
			   const struct uid_run *want, size_t nwant)
{
	struct uid_run *r = NULL;
	size_t n = 0;
	CHECK_EQ_INT(check_runs(st, u, mbox), nwant);
	CHECK_EQ_INT(store_msg_runs(st, u, mbox, &r, &n, NULL), ST_OK);
	for (size_t i = 0; i < n && i < nwant; i++) {
		if (r[i].first != want[i].first || r[i].count != want[i].count) {
			snprintf(test_why, sizeof test_why,
				 "%s: run %zu is [%u,+%u], expected [%u,+%u]", mbox, i, r[i].first,
				 r[i].count, want[i].first, want[i].count);
			free(r);
			longjmp(test_jmp, 1);
		}
	}
	free(r);
}

#define RUNS(...)  ((const struct uid_run[]){__VA_ARGS__})
#define NRUNS(...) (sizeof((const struct uid_run[]){__VA_ARGS__}) / sizeof(struct uid_run))
#define CHECK_RUNS(st, u, mbox, ...)                                                               \
	check_runs_are(st, u, mbox, RUNS(__VA_ARGS__), NRUNS(__VA_ARGS__))

static void check_no_runs(struct store *st, uint32_t u, const char *mbox)
{
	CHECK_EQ_INT(check_runs(st, u, mbox), 0);
}

/* ---- counting index entries from outside (mdb_stat) ---- */

/* Entries of one sub-database, -1 when mdb_stat is not there. */
static long sub_entries(const char *db)
{
	char cmd[256], line[256];
	long n = -1;
	FILE *f;
	snprintf(cmd, sizeof cmd, "mdb_stat -s %s %s/store 2>/dev/null", db, tdir);
	if (!(f = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, " Entries: %ld", &n) == 1)
			break;
	while (fgets(line, sizeof line, f))
		;
	if (pclose(f) != 0)
		return -1;
	return n;
}

struct idlist {
	uint32_t id[64];
	char name[64][STORE_MBOX_MAX + 1];
	size_t n;
};

static void user_cb(void *arg, const struct account *a)
{
	struct idlist *l = arg;
	if (l->n < 64)
		l->id[l->n++] = a->id;
}

static void mbox_cb(void *arg, const struct mbox_info *m)
{
	struct idlist *l = arg;
	if (l->n < 64)
		snprintf(l->name[l->n++], sizeof l->name[0], "%s", m->name);
}

/* Every run in the store belongs to a live mailbox and DB_MSEQ has one
 * entry per message: nothing of a deleted mailbox or account is left. */
static void check_index_totals(struct store *st)
{
	struct idlist users = {0};
	struct store_stats ss;
	long runs = sub_entries("run"), mseq = sub_entries("mseq"), nruns = 0;
	if (runs < 0 || mseq < 0) {
		fprintf(stderr, "note: mdb_stat missing, index totals not checked\n");
		return;
	}
	CHECK_EQ_INT(store_user_list(st, user_cb, &users), ST_OK);
	for (size_t i = 0; i < users.n; i++) {
		struct idlist boxes = {0};
		CHECK_EQ_INT(store_mbox_list(st, users.id[i], mbox_cb, &boxes), ST_OK);
		for (size_t j = 0; j < boxes.n; j++)
			nruns += (long)check_runs(st, users.id[i], boxes.name[j]);
	}
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(runs, nruns);
	CHECK_EQ_INT(mseq, ss.messages);
}

/* ---- store_msg_changes into a list ---- */

struct change {
	uint32_t uid;
	int gone;
	struct msg_info m;
};

struct changes {
	struct change *c;
	size_t n, cap;
	size_t stop_after; /* 0: never stop */
};

static int changes_cb(void *arg, uint32_t uid, const struct msg_info *m)
{
	struct changes *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->c = xrealloc(l->c, l->cap * sizeof *l->c);
	}
	l->c[l->n].uid = uid;
	l->c[l->n].gone = m == NULL;
	if (m)
		l->c[l->n].m = *m;
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

/* Changes of mbox since `since`, checked for form: info equal to
 * store_mbox_get, not stale, expunges first, no UID twice, every change's m
 * equal to store_msg_get with a modseq above since. */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static struct changes changes_of(struct store *st, uint32_t u, const char *mbox, uint64_t since)
{
	struct changes l = {0};
	struct mbox_info info, info2;
	uint32_t *sorted;
	int stale = -1, seen_change = 0;
	CHECK_EQ_INT(store_msg_changes(st, u, mbox, since, changes_cb, &l, &info, &stale), ST_OK);
	CHECK_EQ_INT(stale, 0);
	CHECK_EQ_INT(store_mbox_get(st, u, mbox, &info2), ST_OK);
	check_info_eq(&info, &info2);
	for (size_t i = 0; i < l.n; i++) {
		if (l.c[i].gone) {
			CHECK(!seen_change); /* expunges come first */
		} else {
			struct msg_info g;
			seen_change = 1;
			CHECK_EQ_INT(l.c[i].m.uid, l.c[i].uid);
			CHECK(l.c[i].m.modseq > since);
			CHECK_EQ_INT(store_msg_get(st, u, mbox, l.c[i].uid, &g), ST_OK);
			check_msg_eq(&l.c[i].m, &g);
		}
	}
	/* No UID twice. */
	sorted = xcalloc(l.n ? l.n : 1, sizeof *sorted);
	for (size_t i = 0; i < l.n; i++)
		sorted[i] = l.c[i].uid;
	qsort(sorted, l.n, sizeof *sorted, cmp_u32);
	for (size_t i = 1; i < l.n; i++)
		if (sorted[i] == sorted[i - 1]) {
			snprintf(test_why, sizeof test_why, "%s: uid %u reported twice", mbox,
				 sorted[i]);
			free(sorted);
			longjmp(test_jmp, 1);
		}
	free(sorted);
	return l;
}

static const struct change *find_change(const struct changes *l, uint32_t uid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->c[i].uid == uid)
			return &l->c[i];
	return NULL;
}

static uint64_t hms_of(struct store *st, uint32_t u, const char *mbox)
{
	struct mbox_info info;
	CHECK_EQ_INT(store_mbox_get(st, u, mbox, &info), ST_OK);
	return info.highestmodseq;
}

static uint32_t first_unseen(struct store *st, uint32_t u, const char *mbox)
{
	uint32_t uid = 12345;
	struct mlist l = list_of(st, u, mbox);
	uint32_t want = brute_first_unseen(&l);
	free(l.m);
	CHECK_EQ_INT(store_msg_first_unseen(st, u, mbox, &uid), ST_OK);
	CHECK_EQ_INT(uid, want);
	return uid;
}

/* ================= store_msg_runs ================= */

TEST(runs_follow_appends_and_expunges)
{
	struct store *st = fresh();
	struct uid_run *r = (struct uid_run *)1;
	size_t n = 7;
	uint32_t u, uids[5], x;
	CHECK(st);
	u = add_user(st, "runs@example.org");
	CHECK(u);
	check_no_runs(st, u, "INBOX");
	CHECK_EQ_INT(store_msg_runs(st, u, "Nope", &r, &n, NULL), ST_NOTFOUND);
	CHECK(r == NULL && n == 0);
	CHECK_EQ_INT(store_msg_runs(st, u + 100, "INBOX", &r, &n, NULL), ST_NOTFOUND);
	free(r);

	/* APPEND, delivery and MULTIAPPEND all extend the one run. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(append_one(st, u, "INBOX", 0), i + 1);
	CHECK_RUNS(st, u, "INBOX", {1, 3});
	CHECK_EQ_INT(deliver_one(st, u), 4);
	CHECK_EQ_INT(deliver_one(st, u), 5);
	CHECK_RUNS(st, u, "INBOX", {1, 5});
	append_n(st, u, "INBOX", 5, 0, uids);
	CHECK_EQ_INT(uids[0], 6);
	CHECK_EQ_INT(uids[4], 10);
	CHECK_RUNS(st, u, "INBOX", {1, 10});

	/* Expunge in the middle, at the start, at the end, a whole run. */
	x = 5;
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &x, 1), ST_OK);
	CHECK_RUNS(st, u, "INBOX", {1, 4}, {6, 5});
	x = 1;
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &x, 1), ST_OK);
	CHECK_RUNS(st, u, "INBOX", {2, 3}, {6, 5});
	x = 10;
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &x, 1), ST_OK);
	CHECK_RUNS(st, u, "INBOX", {2, 3}, {6, 4});
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){2, 3, 4}, 3), ST_OK);
	CHECK_RUNS(st, u, "INBOX", {6, 4});
	/* Absent UIDs are skipped; one listed twice goes once. */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){1, 5, 77, 8, 8}, 5), ST_OK);
	CHECK_RUNS(st, u, "INBOX", {6, 2}, {9, 1});
	/* A new message after a hole at the end starts its own run. */
	CHECK_EQ_INT(append_one(st, u, "INBOX", 0), 11);
	CHECK_RUNS(st, u, "INBOX", {6, 2}, {9, 1}, {11, 1});
	/* Expunge everything, then append: one run again. */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){6, 7, 9, 11}, 4), ST_OK);
	check_no_runs(st, u, "INBOX");
	append_n(st, u, "INBOX", 3, 0, NULL);
	CHECK_RUNS(st, u, "INBOX", {12, 3});
	/* Other mailboxes of the user were never touched. */
	check_no_runs(st, u, "Archive");
	check_index_totals(st);
	CHECK(reopen(&st));
	CHECK_RUNS(st, u, "INBOX", {12, 3});
	done(&st);
}

TEST(runs_copy_move_delete_rename)
{
	struct store *st = fresh();
	uint32_t u, u2, nu[4], uv = 0;
	struct mbox_info bi;
	CHECK(st);
	u = add_user(st, "cm@example.org");
	u2 = add_user(st, "other@example.org");
	CHECK(u && u2);
	append_n(st, u, "INBOX", 10, 0, NULL);
	append_n(st, u2, "INBOX", 3, 0, NULL); /* mailboxes of another account */

	/* COPY into an empty mailbox: one run, the source unchanged. */
	CHECK_EQ_INT(
	    store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){2, 4, 6}, 3, 0, &uv, nu), ST_OK);
	CHECK_EQ_INT(nu[0], 1);
	CHECK_EQ_INT(nu[2], 3);
	CHECK_RUNS(st, u, "Archive", {1, 3});
	CHECK_RUNS(st, u, "INBOX", {1, 10});
	/* MOVE out of the middle of it. */
	CHECK_EQ_INT(store_msg_copy(st, u, "Archive", "Trash", (uint32_t[]){2}, 1, 1, &uv, nu),
		     ST_OK);
	CHECK_EQ_INT(nu[0], 1);
	CHECK_RUNS(st, u, "Archive", {1, 1}, {3, 1});
	CHECK_RUNS(st, u, "Trash", {1, 1});
	/* MOVE into it from the INBOX (with an absent UID among them). */
	CHECK_EQ_INT(
	    store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){1, 5, 42, 10}, 4, 1, &uv, nu),
	    ST_OK);
	CHECK_EQ_INT(nu[0], 4);
	CHECK_EQ_INT(nu[1], 5);
	CHECK_EQ_INT(nu[2], 0);
	CHECK_EQ_INT(nu[3], 6);
	CHECK_RUNS(st, u, "INBOX", {2, 3}, {6, 4});
	CHECK_RUNS(st, u, "Archive", {1, 1}, {3, 4});
	/* COPY and MOVE within one mailbox: new UIDs at the end. */
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "INBOX", (uint32_t[]){2}, 1, 0, &uv, nu),
		     ST_OK);
	CHECK_EQ_INT(nu[0], 11);
	CHECK_RUNS(st, u, "INBOX", {2, 3}, {6, 4}, {11, 1});
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "INBOX", (uint32_t[]){11, 9}, 2, 1, &uv, nu),
		     ST_OK);
	CHECK_EQ_INT(nu[0], 12);
	CHECK_EQ_INT(nu[1], 13);
	CHECK_RUNS(st, u, "INBOX", {2, 3}, {6, 3}, {12, 2});
	CHECK_RUNS(st, u2, "INBOX", {1, 3});
	check_index_totals(st);

	/* DELETE and re-create: no runs (the old ones are gone from the
	 * index, not just hidden behind a new mailbox id). */
	CHECK_EQ_INT(store_mbox_delete(st, u, "Archive"), ST_OK);
	CHECK_EQ_INT(
	    store_msg_runs(st, u, "Archive", &(struct uid_run *){NULL}, &(size_t){0}, NULL),
	    ST_NOTFOUND);
	check_index_totals(st);
	CHECK_EQ_INT(store_mbox_create(st, u, "Archive", MBOX_ARCHIVE), ST_OK);
	check_no_runs(st, u, "Archive");
	CHECK_EQ_INT(store_mbox_get(st, u, "Archive", &bi), ST_OK);
	CHECK_EQ_INT(append_one(st, u, "Archive", 0), bi.uidnext);
	CHECK_RUNS(st, u, "Archive", {bi.uidnext, 1});
	check_index_totals(st);

	/* RENAME: the runs go with the mailbox (and its children). */
	CHECK_EQ_INT(store_mbox_create(st, u, "Work/Sub", 0), ST_OK);
	append_n(st, u, "Work", 4, 0, NULL);
	append_n(st, u, "Work/Sub", 2, 0, NULL);
	CHECK_EQ_INT(store_msg_expunge(st, u, "Work", (uint32_t[]){2}, 1), ST_OK);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Work", "Play"), ST_OK);
	CHECK_RUNS(st, u, "Play", {1, 1}, {3, 2});
	CHECK_RUNS(st, u, "Play/Sub", {1, 2});
	CHECK_EQ_INT(store_mbox_get(st, u, "Work", &bi), ST_NOTFOUND);
	/* Re-created under the old name: empty, UIDs above the old ones. */
	CHECK_EQ_INT(store_mbox_create(st, u, "Work", 0), ST_OK);
	check_no_runs(st, u, "Work");
	CHECK_EQ_INT(append_one(st, u, "Work", 0), 5);
	CHECK_RUNS(st, u, "Work", {5, 1});
	/* RENAME INBOX: its messages (and runs) move, INBOX starts empty. */
	CHECK_EQ_INT(store_mbox_rename(st, u, "INBOX", "Old"), ST_OK);
	CHECK_RUNS(st, u, "Old", {2, 3}, {6, 3}, {12, 2});
	check_no_runs(st, u, "INBOX");
	CHECK_EQ_INT(deliver_one(st, u), 14);
	CHECK_RUNS(st, u, "INBOX", {14, 1});
	CHECK_RUNS(st, u, "Old", {2, 3}, {6, 3}, {12, 2});
	check_index_totals(st);

	/* Account removal: nothing of its indexes is left; the other
	 * account's are intact. */
	CHECK_EQ_INT(store_user_del(st, "cm@example.org"), ST_OK);
	CHECK_RUNS(st, u2, "INBOX", {1, 3});
	check_index_totals(st);
	if (sub_entries("run") >= 0) {
		CHECK_EQ_INT(sub_entries("run"), 1);
		CHECK_EQ_INT(sub_entries("mseq"), 3);
		CHECK_EQ_INT(sub_entries("gone"), 0);
	}
	/* A new account under the same address starts clean. */
	u = add_user(st, "cm@example.org");
	CHECK(u);
	check_no_runs(st, u, "INBOX");
	check_no_runs(st, u, "Archive");
	done(&st);
}

/* ================= a randomized model ================= */

#define RND_BOXES  3
#define RND_MAXUID 8192

static const char *const rnd_names[RND_BOXES] = {"INBOX", "Archive", "Work"};

struct rbox {
	uint32_t uidnext;
	unsigned char live[RND_MAXUID];
};

struct rsnap {
	uint64_t hms;
	uint32_t uidnext;
	unsigned char live[RND_MAXUID];
};

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

/* Up to k distinct live UIDs of b, ascending, plus maybe an absent one. */
static size_t rnd_pick(const struct rbox *b, size_t k, uint32_t *out)
{
	size_t n = 0, live = 0;
	for (uint32_t u = 1; u < b->uidnext; u++)
		live += b->live[u];
	if (!live)
		return 0;
	for (uint32_t u = 1; u < b->uidnext && n < k; u++)
		if (b->live[u] && rnd((uint32_t)live) < k * 2)
			out[n++] = u;
	if (n < k && rnd(4) == 0)
		out[n++] = b->uidnext + 5; /* never existed */
	return n;
}

/* The mailbox as the model has it: runs, list, first unseen; changes
 * since the snapshot exactly as the model predicts. */
static void rnd_check(struct store *st, uint32_t u, int i, const struct rbox *b,
		      const struct rsnap *s)
{
	static unsigned char what[RND_MAXUID];
	const char *name = rnd_names[i];
	struct uid_run *r = NULL;
	struct mlist l;
	struct changes c;
	size_t n = 0, k = 0, nlive = 0, ngone = 0, nchanged = 0;
	CHECK_EQ_INT(store_msg_runs(st, u, name, &r, &n, NULL), ST_OK);
	for (size_t j = 0; j < n; j++)
		for (uint32_t x = 0; x < r[j].count; x++, k++)
			CHECK(r[j].first + x < RND_MAXUID && b->live[r[j].first + x]);
	free(r);
	for (uint32_t x = 1; x < b->uidnext; x++)
		nlive += b->live[x];
	CHECK_EQ_INT(k, nlive);
	check_runs(st, u, name);
	first_unseen(st, u, name);

	l = list_of(st, u, name);
	c = changes_of(st, u, name, s->hms);
	/* what[uid]: 0 not reported, 1 reported expunged, 2 reported changed */
	memset(what, 0, sizeof what);
	for (size_t j = 0; j < c.n; j++) {
		CHECK(c.c[j].uid < RND_MAXUID);
		what[c.c[j].uid] = c.c[j].gone ? 1 : 2;
	}
	for (uint32_t x = 1; x < b->uidnext; x++) {
		int was = x >= s->uidnext || s->live[x];
		if (!b->live[x] && was) {
			CHECK_EQ_INT(what[x], 1); /* expunged since the snapshot */
			ngone++;
		}
	}
	for (size_t j = 0; j < l.n; j++) {
		if (l.m[j].modseq > s->hms) {
			CHECK_EQ_INT(what[l.m[j].uid], 2);
			nchanged++;
		} else {
			CHECK_EQ_INT(what[l.m[j].uid], 0);
		}
	}
	CHECK_EQ_INT(c.n, ngone + nchanged);
	free(l.m);
	free(c.c);
}

TEST(runs_and_changes_random)
{
	struct store *st = fresh();
	struct rbox *b = xcalloc(RND_BOXES, sizeof *b);
	struct rsnap *s = xcalloc(RND_BOXES, sizeof *s);
	uint32_t u, pick[32], nu[32];
	size_t msgops = 0;
	CHECK(st);
	u = add_user(st, "rnd@example.org");
	CHECK(u);
	CHECK_EQ_INT(store_mbox_create(st, u, "Work", 0), ST_OK);
	for (int i = 0; i < RND_BOXES; i++) {
		b[i].uidnext = 1;
		s[i].uidnext = 1;
		s[i].hms = hms_of(st, u, rnd_names[i]);
	}
	for (int op = 0; op < 200; op++) {
		int i = (int)rnd(RND_BOXES), j = (int)rnd(RND_BOXES), what = (int)rnd(100);
		size_t n, k = 1 + rnd(24);
		if (what < 35) { /* append */
			uint32_t flags = rnd(2) ? FL_SEEN : 0;
			append_n(st, u, rnd_names[i], k, flags, nu);
			for (size_t x = 0; x < k; x++) {
				CHECK_EQ_INT(nu[x], b[i].uidnext);
				b[i].live[b[i].uidnext++] = 1;
			}
			msgops += k;
		} else if (what < 60) { /* expunge */
			n = rnd_pick(&b[i], k, pick);
			CHECK_EQ_INT(store_msg_expunge(st, u, rnd_names[i], pick, n), ST_OK);
			for (size_t x = 0; x < n; x++)
				if (pick[x] < RND_MAXUID)
					b[i].live[pick[x]] = 0;
			msgops += n;
		} else if (what < 85) { /* move or copy, maybe within one mailbox */
			int move = what < 78;
			uint32_t limit = b[i].uidnext;
			n = rnd_pick(&b[i], k, pick);
			CHECK_EQ_INT(store_msg_copy(st, u, rnd_names[i], rnd_names[j], pick, n,
						    move, NULL, nu),
				     ST_OK);
			for (size_t x = 0; x < n; x++) {
				if (pick[x] >= limit) {
					CHECK_EQ_INT(nu[x], 0);
					continue;
				}
				if (move)
					b[i].live[pick[x]] = 0;
				CHECK_EQ_INT(nu[x], b[j].uidnext);
				b[j].live[b[j].uidnext++] = 1;
			}
			msgops += n;
		} else if (what < 98) { /* flags: \Seen on and off, \Flagged */
			static const int ops[] = {FLAGS_SET, FLAGS_ADD, FLAGS_DEL};
			n = rnd_pick(&b[i], k, pick);
			CHECK_EQ_INT(store_msg_flags(st, u, rnd_names[i], pick, n, ops[rnd(3)],
						     rnd(2) ? FL_SEEN : FL_SEEN | FL_FLAGGED, NULL,
						     0),
				     ST_OK);
			msgops += n;
		} else if (i == 2) { /* delete and re-create Work */
			CHECK_EQ_INT(store_mbox_delete(st, u, "Work"), ST_OK);
			CHECK_EQ_INT(store_mbox_create(st, u, "Work", 0), ST_OK);
			memset(b[i].live, 0, sizeof b[i].live);
			s[i].hms = hms_of(st, u, "Work");
			s[i].uidnext = b[i].uidnext;
			memset(s[i].live, 0, sizeof s[i].live);
		}
		for (int x = 0; x < RND_BOXES; x++)
			CHECK(b[x].uidnext < RND_MAXUID - 16);
		/* Check the mailboxes touched, all of them now and then. */
		for (int x = 0; x < RND_BOXES; x++)
			if (x == i || x == j || op % 20 == 19)
				rnd_check(st, u, x, &b[x], &s[x]);
		/* A new snapshot now and then (sessions that looked at various
		 * times). */
		if (rnd(40) == 0) {
			s[i].hms = hms_of(st, u, rnd_names[i]);
			s[i].uidnext = b[i].uidnext;
			memcpy(s[i].live, b[i].live, sizeof s[i].live);
		}
	}
	printf("# %zu message operations\n", msgops);
	CHECK(msgops > 2000);
	check_index_totals(st);
	CHECK(reopen(&st));
	for (int x = 0; x < RND_BOXES; x++)
		rnd_check(st, u, x, &b[x], &s[x]);
	free(b);
	free(s);
	done(&st);
}

/* ================= store_msg_changes ================= */

TEST(changes_flags_new_expunged)
{
	struct store *st = fresh();
	struct changes c;
	struct mbox_info bi;
	const struct change *ch;
	uint64_t s0, s1, s2;
	uint32_t u, x, nu[2];
	int stale = -1;
	CHECK(st);
	u = add_user(st, "chg@example.org");
	CHECK(u);
	append_n(st, u, "INBOX", 5, 0, NULL);
	CHECK_EQ_INT(
	    store_msg_changes(st, u, "Nope", 0, changes_cb, &(struct changes){0}, NULL, &stale),
	    ST_NOTFOUND);
	CHECK_EQ_INT(store_msg_changes(st, u, "INBOX", 0, NULL, NULL, NULL, &stale), ST_INVALID);

	/* Up to date: nothing. Beyond the highest modseq: nothing. */
	s0 = hms_of(st, u, "INBOX");
	c = changes_of(st, u, "INBOX", s0);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);
	c = changes_of(st, u, "INBOX", s0 + 1000);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);
	/* From the start: every message, once. */
	c = changes_of(st, u, "INBOX", 0);
	CHECK_EQ_INT(c.n, 5);
	free(c.c);

	/* Flag changes: exactly the changed UIDs with their new flags. */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){2, 4}, 2, FLAGS_ADD, FL_FLAGGED, NULL, 0),
	    ST_OK);
	s1 = hms_of(st, u, "INBOX");
	c = changes_of(st, u, "INBOX", s0);
	CHECK_EQ_INT(c.n, 2);
	CHECK((ch = find_change(&c, 2)) && !ch->gone && ch->m.flags == FL_FLAGGED);
	CHECK((ch = find_change(&c, 4)) && !ch->gone && ch->m.flags == FL_FLAGGED);
	free(c.c);
	/* No change (flag already there): no new modseq, nothing new. */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){2}, 1, FLAGS_ADD, FL_FLAGGED, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(hms_of(st, u, "INBOX"), s1);
	c = changes_of(st, u, "INBOX", s1);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);
	/* A later change moves the UID to the newer modseq: once, in modseq
	 * order (4 before 2 now). */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){2}, 1, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	c = changes_of(st, u, "INBOX", s0);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(c.c[0].uid, 4);
	CHECK_EQ_INT(c.c[1].uid, 2);
	CHECK_EQ_INT(c.c[1].m.flags, FL_FLAGGED | FL_SEEN);
	CHECK(c.c[1].m.modseq > c.c[0].m.modseq);
	free(c.c);
	c = changes_of(st, u, "INBOX", s1);
	CHECK_EQ_INT(c.n, 1);
	CHECK_EQ_INT(c.c[0].uid, 2);
	free(c.c);
	/* Keywords are changes too. */
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", (uint32_t[]){5}, 1, FLAGS_ADD, 0,
				     (const char *[]){"blue"}, 1),
		     ST_OK);
	c = changes_of(st, u, "INBOX", s1);
	CHECK_EQ_INT(c.n, 2);
	CHECK((ch = find_change(&c, 5)) && ch->m.keywords == 1);
	free(c.c);

	/* New messages are reported; expunged ones with m == NULL, first. */
	s2 = hms_of(st, u, "INBOX");
	CHECK_EQ_INT(append_one(st, u, "INBOX", 0), 6);
	x = 3;
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &x, 1), ST_OK);
	c = changes_of(st, u, "INBOX", s2);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(c.c[0].uid, 3);
	CHECK(c.c[0].gone);
	CHECK_EQ_INT(c.c[1].uid, 6);
	CHECK(!c.c[1].gone);
	free(c.c);
	/* Added and expunged after `since`: only as expunged. Changed and
	 * then expunged: only as expunged. */
	CHECK_EQ_INT(append_one(st, u, "INBOX", 0), 7);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){7}, 1, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){7, 4}, 2), ST_OK);
	c = changes_of(st, u, "INBOX", s2);
	CHECK_EQ_INT(c.n, 4);
	CHECK((ch = find_change(&c, 7)) && ch->gone);
	CHECK((ch = find_change(&c, 4)) && ch->gone);
	CHECK((ch = find_change(&c, 3)) && ch->gone);
	CHECK((ch = find_change(&c, 6)) && !ch->gone);
	free(c.c);
	c = changes_of(st, u, "INBOX", s0);
	CHECK_EQ_INT(c.n, 6); /* 3, 4, 7 gone; 2, 5, 6 changed */
	CHECK((ch = find_change(&c, 1)) == NULL);
	free(c.c);
	/* MOVE: expunged in the source, new UIDs in the destination. */
	s1 = hms_of(st, u, "INBOX");
	s2 = hms_of(st, u, "Archive");
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){1, 2}, 2, 1, NULL, nu),
		     ST_OK);
	c = changes_of(st, u, "INBOX", s1);
	CHECK_EQ_INT(c.n, 2);
	CHECK(c.c[0].gone && c.c[1].gone);
	CHECK(find_change(&c, 1) && find_change(&c, 2));
	free(c.c);
	c = changes_of(st, u, "Archive", s2);
	CHECK_EQ_INT(c.n, 2);
	CHECK((ch = find_change(&c, nu[0])) && !ch->gone && ch->m.flags == 0);
	CHECK((ch = find_change(&c, nu[1])) && !ch->gone && ch->m.flags == (FL_FLAGGED | FL_SEEN));
	free(c.c);
	/* COPY: nothing in the source. */
	s1 = hms_of(st, u, "INBOX");
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){5}, 1, 0, NULL, nu),
		     ST_OK);
	c = changes_of(st, u, "INBOX", s1);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);

	/* The info matches store_mbox_get (changes_of checks it) also when
	 * nothing is reported, and survives a reopen. */
	CHECK(reopen(&st));
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX", &bi), ST_OK);
	c = changes_of(st, u, "INBOX", bi.highestmodseq);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);
	c = changes_of(st, u, "INBOX", s0);
	CHECK_EQ_INT(c.n, 7); /* 1, 2, 3, 4, 7 gone; 5, 6 changed */
	free(c.c);
	done(&st);
}

/* cb returning non-zero stops the walk: no further call, neither among
 * the expunges nor among the changes after them. */
TEST(changes_callback_stops)
{
	struct store *st = fresh();
	uint64_t s0;
	uint32_t u;
	int stale = -1;
	CHECK(st);
	u = add_user(st, "stop@example.org");
	CHECK(u);
	append_n(st, u, "INBOX", 6, 0, NULL);
	s0 = hms_of(st, u, "INBOX");
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){1, 2, 3}, 3), ST_OK);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){4, 5}, 2, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	for (size_t stop = 1; stop <= 5; stop++) {
		struct changes l = {.stop_after = stop};
		CHECK_EQ_INT(store_msg_changes(st, u, "INBOX", s0, changes_cb, &l, NULL, &stale),
			     ST_OK);
		free(l.c);
		CHECK_EQ_INT(stale, 0);
		CHECK_EQ_INT(l.n, stop);
	}
	done(&st);
}

#define STALE_GONE_KEEP 4096 /* GONE_KEEP in mailbox_msg.c */
#define STALE_BATCH	500
#define STALE_BATCHES	17 /* 8500 expunges: more than 2 * GONE_KEEP */

TEST(changes_stale_after_many_expunges)
{
	struct store *st = fresh();
	uint64_t before[STALE_BATCHES + 1];
	uint32_t u, *uids;
	size_t total = STALE_BATCH * STALE_BATCHES + 100;
	int stale = -1;
	struct changes c = {0};
	CHECK(st);
	u = add_user(st, "stale@example.org");
	CHECK(u);
	uids = xcalloc(total, sizeof *uids);
	append_n(st, u, "INBOX", total, FL_SEEN, uids);
	CHECK_EQ_INT(uids[total - 1], total);
	free(uids);
	for (int b = 0; b < STALE_BATCHES; b++) {
		uint32_t ex[STALE_BATCH];
		before[b] = hms_of(st, u, "INBOX");
		for (int i = 0; i < STALE_BATCH; i++)
			ex[i] = (uint32_t)(b * STALE_BATCH + i + 1);
		CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", ex, STALE_BATCH), ST_OK);
		/* Up to 2 * GONE_KEEP, every since is still answered. */
		if ((size_t)(b + 1) * STALE_BATCH <= 2 * STALE_GONE_KEEP) {
			c = changes_of(st, u, "INBOX", before[0]);
			CHECK_EQ_INT(c.n, (size_t)(b + 1) * STALE_BATCH);
			free(c.c);
		}
	}
	before[STALE_BATCHES] = hms_of(st, u, "INBOX");
	/* More than 2 * GONE_KEEP: the oldest are forgotten, a `since` from
	 * before them is stale and cb is not called. */
	c = (struct changes){0};
	CHECK_EQ_INT(store_msg_changes(st, u, "INBOX", before[0], changes_cb, &c, NULL, &stale),
		     ST_OK);
	CHECK_EQ_INT(stale, 1);
	CHECK_EQ_INT(c.n, 0);
	/* Every `since` is either stale (and nothing reported) or answered
	 * exactly; the newest GONE_KEEP at least are kept, so a `since` that
	 * needs only those is never stale. */
	for (int b = STALE_BATCHES - 1; b >= 0; b--) {
		size_t want = (size_t)(STALE_BATCHES - b) * STALE_BATCH;
		c = (struct changes){0};
		CHECK_EQ_INT(
		    store_msg_changes(st, u, "INBOX", before[b], changes_cb, &c, NULL, &stale),
		    ST_OK);
		free(c.c);
		if (want <= STALE_GONE_KEEP)
			CHECK_EQ_INT(stale, 0);
		if (stale) {
			CHECK_EQ_INT(c.n, 0);
			continue;
		}
		c = changes_of(st, u, "INBOX", before[b]);
		CHECK_EQ_INT(c.n, want);
		for (size_t i = 0; i < c.n; i++) {
			CHECK(c.c[i].gone);
			CHECK(c.c[i].uid > (uint32_t)b * STALE_BATCH);
			CHECK(c.c[i].uid <= STALE_BATCHES * STALE_BATCH);
		}
		free(c.c);
	}
	/* New activity after the pruning is reported as usual. */
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", (uint32_t[]){(uint32_t)total}, 1, FLAGS_DEL,
				     FL_SEEN, NULL, 0),
		     ST_OK);
	c = changes_of(st, u, "INBOX", before[STALE_BATCHES]);
	CHECK_EQ_INT(c.n, 1);
	CHECK_EQ_INT(c.c[0].uid, total);
	free(c.c);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), total);
	check_runs(st, u, "INBOX");
	done(&st);
}

/* ================= store_msg_get_many ================= */

static void check_get_many(struct store *st, uint32_t u, const char *mbox, const uint32_t *uids,
			   size_t n)
{
	struct msg_info *out = xcalloc(n ? n : 1, sizeof *out);
	unsigned char *found = xcalloc(n ? n : 1, 1);
	CHECK_EQ_INT(store_msg_get_many(st, u, mbox, uids, n, out, found), ST_OK);
	for (size_t i = 0; i < n; i++) {
		struct msg_info one;
		int rc = store_msg_get(st, u, mbox, uids[i], &one);
		if (rc != (found[i] ? ST_OK : ST_NOTFOUND)) {
			snprintf(test_why, sizeof test_why,
				 "get_many %s uids[%zu] = %u: found %d, store_msg_get says %s",
				 mbox, i, uids[i], found[i], store_strerror(rc));
			longjmp(test_jmp, 1);
		}
		if (found[i])
			check_msg_eq(&out[i], &one);
	}
	free(out);
	free(found);
}

TEST(get_many_matches_get)
{
	struct store *st = fresh();
	uint32_t u, all[60], sparse[] = {1, 15, 30, 39, 41, 1000, UINT32_MAX - 1, UINT32_MAX};
	uint32_t gaps[] = {2, 10, 13, 21, 30, 31, 38, 39, 40, 47};
	uint32_t dups[] = {0, 1, 1, 3, 3, 4, 5, 5, 6, 6, 40, 40, 41};
	uint32_t one = 40, none = 5;
	CHECK(st);
	u = add_user(st, "many@example.org");
	CHECK(u);
	append_n(st, u, "INBOX", 40, 0, NULL);
	/* Holes: a single one, a run of them, and the last UID. */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){5, 10, 11, 12, 20, 40}, 6),
		     ST_OK);
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", (uint32_t[]){7, 8}, 2, FLAGS_ADD, FL_SEEN,
				     (const char *[]){"x"}, 1),
		     ST_OK);
	/* The mailboxes with the next ids hold messages too: walking past
	 * the end of INBOX lands on them. */
	append_n(st, u, "Drafts", 5, FL_DRAFT, NULL);
	append_n(st, u, "Sent", 3, FL_SEEN, NULL);
	append_n(st, u, "Archive", 3, FL_SEEN, NULL); /* after the empty Trash */

	for (uint32_t i = 0; i < 60; i++)
		all[i] = i + 1;
	check_get_many(st, u, "INBOX", all, 60); /* neighbours, gaps, beyond */
	check_get_many(st, u, "INBOX", sparse, sizeof sparse / sizeof *sparse);
	check_get_many(st, u, "INBOX", gaps, sizeof gaps / sizeof *gaps); /* steps of 8, 9 */
	check_get_many(st, u, "INBOX", dups, sizeof dups / sizeof *dups);
	check_get_many(st, u, "INBOX", &one, 1);
	check_get_many(st, u, "INBOX", &none, 1);
	check_get_many(st, u, "INBOX", NULL, 0);
	check_get_many(st, u, "Drafts", all, 60);
	check_get_many(st, u, "Sent", sparse, sizeof sparse / sizeof *sparse);
	check_get_many(st, u, "Trash", all, 10); /* empty */
	{
		struct msg_info mi;
		unsigned char f;
		CHECK_EQ_INT(store_msg_get_many(st, u, "Nope", &one, 1, &mi, &f), ST_NOTFOUND);
		CHECK_EQ_INT(store_msg_get_many(st, u, "INBOX", &one, 1, NULL, &f), ST_INVALID);
	}
	/* Random ascending selections, dense and sparse. */
	for (int round = 0; round < 200; round++) {
		uint32_t pick[64];
		size_t n = 0;
		uint32_t step = 1 + rnd(round % 2 ? 20 : 3);
		for (uint32_t x = rnd(3); x < 70 && n < 64; x += 1 + rnd(step))
			pick[n++] = x;
		check_get_many(st, u, round % 3 ? "INBOX" : "Drafts", pick, n);
	}
	done(&st);
}

/* ================= store_msg_first_unseen ================= */

TEST(first_unseen)
{
	struct store *st = fresh();
	uint32_t u, nu[4];
	CHECK(st);
	u = add_user(st, "unseen@example.org");
	CHECK(u);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 0); /* empty */
	CHECK_EQ_INT(store_msg_first_unseen(st, u, "Nope", &nu[0]), ST_NOTFOUND);
	append_n(st, u, "INBOX", 10, FL_SEEN, NULL);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 0); /* all seen */

	/* An old message (below everything known to be seen) loses \Seen. */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){3}, 1, FLAGS_DEL, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 3);
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", (uint32_t[]){7}, 1, FLAGS_SET, 0, NULL, 0),
		     ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 3);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){3}, 1, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 7);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){1}, 1, FLAGS_DEL, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 1);

	/* Everything seen, then new unseen mail. */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){1, 7}, 2, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 0);
	CHECK_EQ_INT(deliver_one(st, u), 11);
	CHECK_EQ_INT(append_one(st, u, "INBOX", 0), 12);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 11);
	/* An old one unseen again goes first. */
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){2}, 1, FLAGS_DEL, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 2);
	/* The first unseen expunged (and moved away): the next one. */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){2}, 1), ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 11);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){11}, 1, 1, NULL, nu),
		     ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 12);
	CHECK_EQ_INT(first_unseen(st, u, "Archive"), nu[0]);
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){12}, 1), ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 0);
	/* Unseen mail in, and the later ones marked seen first. */
	append_n(st, u, "INBOX", 4, 0, nu);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){14, 15}, 2, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 13);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){13}, 1, FLAGS_ADD, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 16);
	/* COPY of an unseen message into an all-seen mailbox. */
	CHECK_EQ_INT(store_mbox_create(st, u, "Work", 0), ST_OK);
	append_n(st, u, "Work", 3, FL_SEEN, NULL);
	CHECK_EQ_INT(first_unseen(st, u, "Work"), 0);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Work", (uint32_t[]){16}, 1, 0, NULL, nu),
		     ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "Work"), 4);
	/* Renamed, and after a reopen: the same. */
	CHECK_EQ_INT(store_mbox_rename(st, u, "Work", "Play"), ST_OK);
	CHECK_EQ_INT(first_unseen(st, u, "Play"), 4);
	CHECK(reopen(&st));
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 16);
	CHECK_EQ_INT(first_unseen(st, u, "Play"), 4);
	done(&st);
}

/* ================= migration from schema version 1 ================= */

struct snapshot {
	char name[8][STORE_MBOX_MAX + 1];
	uint32_t user[8];
	struct uid_run *runs[8];
	size_t nruns[8];
	uint32_t unseen[8];
	struct mbox_info info[8];
	size_t n;
};

static void snap_add(struct snapshot *s, struct store *st, uint32_t u, const char *name)
{
	size_t i = s->n++;
	CHECK(i < 8);
	snprintf(s->name[i], sizeof s->name[i], "%s", name);
	s->user[i] = u;
	check_runs(st, u, name);
	CHECK_EQ_INT(store_msg_runs(st, u, name, &s->runs[i], &s->nruns[i], &s->info[i]), ST_OK);
	s->unseen[i] = first_unseen(st, u, name);
}

static void snap_compare(const struct snapshot *s, struct store *st)
{
	for (size_t i = 0; i < s->n; i++) {
		struct uid_run *r = NULL;
		struct mbox_info info;
		size_t n = 0;
		CHECK_EQ_INT(store_msg_runs(st, s->user[i], s->name[i], &r, &n, &info), ST_OK);
		check_info_eq(&info, &s->info[i]);
		CHECK_EQ_INT(n, s->nruns[i]);
		for (size_t j = 0; j < n; j++) {
			CHECK_EQ_INT(r[j].first, s->runs[i][j].first);
			CHECK_EQ_INT(r[j].count, s->runs[i][j].count);
		}
		free(r);
		check_runs(st, s->user[i], s->name[i]);
		CHECK_EQ_INT(first_unseen(st, s->user[i], s->name[i]), s->unseen[i]);
	}
}

static void snap_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->runs[i]);
	s->n = 0;
}

/* A store with holes in several mailboxes of two accounts. */
static void migration_setup(struct store *st, uint32_t u, uint32_t u2, struct snapshot *snap)
{
	uint32_t nu[8];
	append_n(st, u, "INBOX", 20, FL_SEEN, NULL);
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){1, 7, 8, 9, 20}, 5), ST_OK);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){12, 15}, 2, FLAGS_DEL, FL_SEEN, NULL, 0),
	    ST_OK);
	CHECK_EQ_INT(
	    store_msg_copy(st, u, "INBOX", "Archive", (uint32_t[]){2, 3, 4, 5}, 4, 0, NULL, nu),
	    ST_OK);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Trash", (uint32_t[]){13, 14}, 2, 1, NULL, nu),
		     ST_OK);
	CHECK_EQ_INT(store_msg_expunge(st, u, "Archive", (uint32_t[]){2}, 1), ST_OK);
	/* Drafts (the next mailbox id) starts at UID 20, right after the
	 * INBOX's last UID 19: two runs in two mailboxes, not one. */
	append_n(st, u, "Drafts", 21, FL_DRAFT, NULL);
	for (uint32_t x = 1; x < 20; x++)
		CHECK_EQ_INT(store_msg_expunge(st, u, "Drafts", &x, 1), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "Lists/brev", 0), ST_OK);
	append_n(st, u, "Lists/brev", 6, 0, NULL);
	append_n(st, u2, "INBOX", 3, 0, NULL);
	append_n(st, u2, "Sent", 2, FL_SEEN, NULL);
	snap_add(snap, st, u, "INBOX");
	snap_add(snap, st, u, "Archive");
	snap_add(snap, st, u, "Trash");
	snap_add(snap, st, u, "Lists/brev");
	snap_add(snap, st, u, "Drafts");
	snap_add(snap, st, u2, "INBOX");
	snap_add(snap, st, u2, "Sent");
}

TEST(migration_rebuilds_indexes)
{
	struct store *st = fresh();
	struct snapshot snap = {0};
	struct store_stats s1, s2;
	struct changes c;
	uint64_t hms;
	uint32_t u, u2, x;
	CHECK(st);
	u = add_user(st, "mig@example.org");
	u2 = add_user(st, "mig2@example.org");
	CHECK(u && u2);
	migration_setup(st, u, u2, &snap);
	CHECK_EQ_INT(store_stats(st, &s1), ST_OK);

	CHECK_EQ_INT(store_test_downgrade(st), ST_OK);
	if (sub_entries("run") >= 0) {
		CHECK_EQ_INT(sub_entries("run"), 0);
		CHECK_EQ_INT(sub_entries("mseq"), 0);
	}
	CHECK(reopen(&st));
	snap_compare(&snap, st);
	check_index_totals(st);
	CHECK_EQ_INT(store_stats(st, &s2), ST_OK);
	CHECK_EQ_INT(s2.accounts, s1.accounts);
	CHECK_EQ_INT(s2.mailboxes, s1.mailboxes);
	CHECK_EQ_INT(s2.messages, s1.messages);
	CHECK_EQ_INT(s2.blobs, s1.blobs);
	CHECK_EQ_INT(s2.chunks, s1.chunks);
	/* Built once: a second open changes nothing. */
	CHECK(reopen(&st));
	snap_compare(&snap, st);
	check_index_totals(st);

	/* Following the mailbox from the current modseq works. */
	hms = hms_of(st, u, "INBOX");
	c = changes_of(st, u, "INBOX", hms);
	CHECK_EQ_INT(c.n, 0);
	free(c.c);
	CHECK_EQ_INT(
	    store_msg_flags(st, u, "INBOX", (uint32_t[]){16}, 1, FLAGS_ADD, FL_FLAGGED, NULL, 0),
	    ST_OK);
	x = 10;
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &x, 1), ST_OK);
	CHECK_EQ_INT(append_one(st, u, "INBOX", 0), 21);
	c = changes_of(st, u, "INBOX", hms);
	CHECK_EQ_INT(c.n, 3);
	CHECK_EQ_INT(c.c[0].uid, 10);
	CHECK(c.c[0].gone);
	CHECK(find_change(&c, 16) && find_change(&c, 21));
	free(c.c);
	/* The rebuilt runs take further changes correctly. */
	CHECK_RUNS(st, u, "INBOX", {2, 5}, {11, 2}, {15, 5}, {21, 1});
	CHECK_EQ_INT(first_unseen(st, u, "INBOX"), 12);
	check_index_totals(st);
	CHECK(reopen(&st));
	CHECK_RUNS(st, u, "INBOX", {2, 5}, {11, 2}, {15, 5}, {21, 1});
	snap_free(&snap);
	done(&st);
}

/* A session (or a client's cache) that last looked at a modseq from before
 * the upgrade: the expunges between then and the upgrade were never
 * recorded (schema 1 had no DB_GONE), so the store cannot answer and must
 * say so (*stale = 1, the contract's "no longer all known"), or else
 * report them; it must not answer "nothing was expunged". */
TEST(migration_old_since_is_not_silently_incomplete)
{
	struct store *st = fresh();
	struct changes c = {0};
	uint64_t old;
	uint32_t u;
	int stale = -1, rc, got2, got3;
	CHECK(st);
	u = add_user(st, "old@example.org");
	CHECK(u);
	append_n(st, u, "INBOX", 6, 0, NULL);
	old = hms_of(st, u, "INBOX");
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", (uint32_t[]){2, 3}, 2), ST_OK);
	CHECK_EQ_INT(store_test_downgrade(st), ST_OK);
	CHECK(reopen(&st));
	rc = store_msg_changes(st, u, "INBOX", old, changes_cb, &c, NULL, &stale);
	got2 = find_change(&c, 2) && find_change(&c, 2)->gone;
	got3 = find_change(&c, 3) && find_change(&c, 3)->gone;
	free(c.c);
	CHECK_EQ_INT(rc, ST_OK);
	if (!stale) {
		CHECK(got2); /* got: stale 0 and nothing reported */
		CHECK(got3);
	}
	done(&st);
}

TEST_MAIN()
