/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_journal.c — the store's delivery journal (journal.h): events in
 * order, the records a delivery and a queue entry write in their own
 * commit, the tracking id kept by a queue entry across rewrites, and
 * pruning by age and by count.
 */
#include "harness.h"
#include "journal.h"
#include "mailbox.h"
#include "spool.h"
#include "util.h"

#include <time.h>
#include <unistd.h>

static char tdir[64];

static struct store *fresh(void)
{
	struct store *st = NULL;
	char err[256];
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-journal.XXXXXX");
	if (!mkdtemp(tdir))
		return NULL;
	if (store_open(&st, tdir, 1 << 24, err, sizeof err) < 0)
		return NULL;
	return st;
}

static void done(struct store **st)
{
	char p[128];
	store_close(st);
	snprintf(p, sizeof p, "rm -rf '%s'", tdir);
	if (system(p) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
}

struct seen {
	char lines[32][256];
	int n;
};

static int collect(void *arg, const struct journal_event *e)
{
	struct seen *s = arg;
	if (s->n < 32)
		snprintf(s->lines[s->n++], 256, "%s %s %s", e->id, e->event, e->detail);
	return 0;
}

TEST(events_in_order)
{
	struct store *st = fresh();
	struct seen s = {0};
	CHECK(st);
	CHECK_EQ_INT(store_journal_add(st, "AAA", "accepted", "from=<a@b.test>"), ST_OK);
	CHECK_EQ_INT(store_journal_add(st, "AAA", "delivered", "to=<c@d.test>"), ST_OK);
	CHECK_EQ_INT(store_journal_scan(st, 0, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 2);
	CHECK_EQ_STR(s.lines[0], "AAA accepted from=<a@b.test>");
	CHECK_EQ_STR(s.lines[1], "AAA delivered to=<c@d.test>");
	/* --since after every event: nothing */
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_journal_scan(st, time(NULL) + 100, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 0);
	done(&st);
}

static int detail_len(void *arg, const struct journal_event *e)
{
	*(size_t *)arg = strlen(e->detail);
	return 0;
}

TEST(detail_cut)
{
	struct store *st = fresh();
	char big[4000];
	size_t len = 0;
	CHECK(st);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK_EQ_INT(store_journal_add(st, "BBB", "deferred", big), ST_OK);
	CHECK_EQ_INT(store_journal_scan(st, 0, detail_len, &len), ST_OK);
	CHECK_EQ_INT(len, JOURNAL_DETAIL_MAX);
	done(&st);
}

TEST(prune_by_count_then_age)
{
	struct store *st = fresh();
	struct seen s = {0};
	size_t removed = 0;
	char id[16];
	CHECK(st);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "ID%d", i);
		CHECK_EQ_INT(store_journal_add(st, id, "accepted", ""), ST_OK);
	}
	/* nothing is old: only the count bound removes, oldest first */
	CHECK_EQ_INT(store_journal_prune(st, 0, 4, &removed), ST_OK);
	CHECK_EQ_INT(removed, 6);
	CHECK_EQ_INT(store_journal_prune(st, 0, 4, &removed), ST_OK);
	CHECK_EQ_INT(removed, 0);
	CHECK_EQ_INT(store_journal_scan(st, 0, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 4);
	CHECK_EQ_STR(s.lines[0], "ID6 accepted ");
	/* everything before a time in the future is old */
	CHECK_EQ_INT(store_journal_prune(st, time(NULL) + 10, 1000, &removed), ST_OK);
	CHECK_EQ_INT(removed, 4);
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT(store_journal_scan(st, 0, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 0);
	done(&st);
}

static int get_tid(void *arg, const struct queue_entry *e)
{
	snprintf(arg, 32, "%s", e->tid);
	return 0;
}

TEST(message_commits_carry_their_records)
{
	struct store *st = fresh();
	struct seen s = {0};
	struct cred cr = {0};
	struct account a;
	struct spool *sp = spool_new(1024);
	struct journal_in jq = {"TRACK1", "from=<x@y.test>"}, jl = {"TRACK1", NULL};
	struct msg_in m = {.body = sp, .journal = &jq};
	const char *rcpt = "far@remote.test";
	char tid[32] = "";
	uint64_t qid = 0;
	int rc;
	CHECK(st && sp);
	CHECK(spool_write(sp, "Subject: hi\r\n\r\nbody\r\n", 21) == 0);
	CHECK_EQ_INT(store_user_add(st, "carol@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "carol@example.test", &a), ST_OK);
	CHECK_EQ_INT(store_queue_add(st, "x@y.test", &rcpt, 1, &m, &qid), ST_OK);
	m.journal = &jl;
	CHECK_EQ_INT(store_deliver(st, &a.id, 1, "Junk", &m, &rc, NULL), ST_OK);
	CHECK_EQ_INT(rc, ST_OK);
	CHECK_EQ_INT(store_journal_scan(st, 0, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_STR(s.lines[0], "TRACK1 accepted from=<x@y.test>");
	CHECK_EQ_STR(s.lines[1], "TRACK1 queued queue=0000000000000001 to=<far@remote.test>");
	CHECK_EQ_STR(s.lines[2], "TRACK1 stored to=<carol@example.test> folder=Junk");
	/* the entry keeps its id, also after an update rewrites it */
	CHECK_EQ_INT(store_queue_list(st, get_tid, tid), ST_OK);
	CHECK_EQ_STR(tid, "TRACK1");
	CHECK_EQ_INT(store_queue_update(st, qid, NULL, 0, time(NULL) + 60, "451 later", 1, 0), ST_OK);
	tid[0] = 0;
	CHECK_EQ_INT(store_queue_list(st, get_tid, tid), ST_OK);
	CHECK_EQ_STR(tid, "TRACK1");
	spool_free(&sp);
	done(&st);
}

TEST(refused_copy_recorded)
{
	struct store *st = fresh();
	struct seen s = {0};
	struct cred cr = {0};
	struct account a;
	struct spool *sp = spool_new(1024);
	struct journal_in j = {"TRACK2", "from=<x@y.test>"};
	struct msg_in m = {.body = sp, .journal = &j};
	int rc = ST_OK;
	CHECK(st && sp);
	CHECK(spool_write(sp, "Subject: hi\r\n\r\nbody\r\n", 21) == 0);
	CHECK_EQ_INT(store_user_add(st, "dan@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_set_quota(st, "dan@example.test", 10), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "dan@example.test", &a), ST_OK);
	CHECK_EQ_INT(store_deliver(st, &a.id, 1, NULL, &m, &rc, NULL), ST_OK);
	CHECK_EQ_INT(rc, ST_TOOBIG);
	CHECK_EQ_INT(store_journal_scan(st, 0, collect, &s), ST_OK);
	CHECK_EQ_INT(s.n, 2);
	CHECK_EQ_STR(s.lines[0], "TRACK2 accepted from=<x@y.test>");
	CHECK_EQ_STR(s.lines[1], "TRACK2 refused to=<dan@example.test> reason=larger than the quota");
	spool_free(&sp);
	done(&st);
}

TEST_MAIN()
