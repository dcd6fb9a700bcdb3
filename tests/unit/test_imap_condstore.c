/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_imap_condstore.c — the store's conditional flag change behind IMAP
 * STORE (UNCHANGEDSINCE n) (RFC 7162 3.1.3, store_msg_flags_if): a message
 * changed after n is left as it is and reported failed, in the same write
 * as the others' change; nothing failed is changed or gets a new modseq;
 * UNCHANGEDSINCE 0 fails everything; a UID that is not there is skipped,
 * not failed. Then two threads race a conditional STORE against plain
 * ones: a conditional change that "passed" must never have overwritten a
 * change made after the modseq it was conditioned on.
 */
#include "harness.h"
#include "mailbox.h"
#include "spool.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static char tdir[64];
static struct store *g_st;

static void cleanup(void)
{
	char p[128];
	store_close(&g_st);
	if (!tdir[0])
		return;
	snprintf(p, sizeof p, "%s/store/data.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store/lock.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store", tdir);
	rmdir(p);
	rmdir(tdir);
	tdir[0] = 0;
}

/* A fresh store with one user and n messages in INBOX (UIDs 1..n). */
static uint32_t fresh(size_t n)
{
	static int registered;
	char err[256];
	struct cred c;
	struct account a;
	if (!registered++)
		atexit(cleanup);
	cleanup();
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-cond.XXXXXX");
	CHECK(mkdtemp(tdir) != NULL);
	CHECK(store_open(&g_st, tdir, 0, err, sizeof err) == 0);
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$x");
	c.scram_iter = 4096;
	CHECK_EQ_INT(store_user_add(g_st, "a@example.test", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(g_st, "a@example.test", &a), ST_OK);
	static const char body[] = "Subject: c\r\n\r\nhi\r\n";
	struct spool *sp = spool_new(0);
	spool_write(sp, body, sizeof body - 1);
	for (size_t i = 0; i < n; i++) {
		struct msg_in m = {.body = sp};
		uint32_t uid;
		CHECK_EQ_INT(store_append(g_st, a.id, "INBOX", &m, NULL, &uid), ST_OK);
		CHECK_EQ_INT(uid, i + 1);
	}
	spool_free(&sp);
	return a.id;
}

static struct msg_info get(uint32_t u, uint32_t uid)
{
	struct msg_info mi;
	CHECK_EQ_INT(store_msg_get(g_st, u, "INBOX", uid, &mi), ST_OK);
	return mi;
}

static uint64_t hms(uint32_t u)
{
	struct mbox_info mi;
	CHECK_EQ_INT(store_mbox_get(g_st, u, "INBOX", &mi), ST_OK);
	return mi.highestmodseq;
}

TEST(changed_since_is_left_alone)
{
	uint32_t u = fresh(3);
	uint64_t h = hms(u);
	uint32_t two = 2;
	CHECK_EQ_INT(store_msg_flags(g_st, u, "INBOX", &two, 1, FLAGS_ADD, FL_SEEN, NULL, 0), ST_OK);
	struct msg_info before = get(u, 2);
	CHECK(before.modseq > h);
	uint32_t uids[] = {1, 2, 3, 7};
	unsigned char failed[4] = {1, 1, 1, 1}; /* whatever was there is overwritten */
	CHECK_EQ_INT(store_msg_flags_if(g_st, u, "INBOX", uids, 4, FLAGS_ADD, FL_FLAGGED, NULL, 0,
					h, failed),
		     ST_OK);
	CHECK(!failed[0] && failed[1] && !failed[2]);
	CHECK(!failed[3]); /* no such message: skipped, not "modified" */
	CHECK(get(u, 1).flags & FL_FLAGGED);
	CHECK(get(u, 3).flags & FL_FLAGGED);
	struct msg_info after = get(u, 2);
	CHECK_EQ_INT(after.flags, FL_SEEN);
	CHECK_EQ_INT(after.modseq, before.modseq);
	CHECK(get(u, 1).modseq > before.modseq && get(u, 3).modseq > before.modseq);
}

TEST(unchangedsince_zero_fails_all)
{
	uint32_t u = fresh(2);
	uint64_t h = hms(u);
	uint32_t uids[] = {1, 2};
	unsigned char failed[2];
	CHECK_EQ_INT(store_msg_flags_if(g_st, u, "INBOX", uids, 2, FLAGS_SET, FL_DELETED, NULL, 0, 0,
					failed),
		     ST_OK);
	CHECK(failed[0] && failed[1]);
	CHECK_EQ_INT(hms(u), h);
	CHECK_EQ_INT(get(u, 1).flags, 0);
	/* The current modseq passes: "not changed since" includes itself. */
	uint64_t m1 = get(u, 1).modseq;
	CHECK_EQ_INT(store_msg_flags_if(g_st, u, "INBOX", uids, 1, FLAGS_ADD, FL_ANSWERED, NULL, 0,
					m1, failed),
		     ST_OK);
	CHECK(!failed[0]);
	CHECK_EQ_INT(get(u, 1).flags, FL_ANSWERED);
	CHECK_EQ_INT(store_msg_flags_if(g_st, u, "INBOX", uids, 1, FLAGS_ADD, 0, NULL, 0, 0, NULL),
		     ST_INVALID);
}

/* The race: a writer reads message 1 and sets \Flagged on or off with
 * FLAGS_SET of what it read, only if unchanged since the modseq it read;
 * a toggler flips \Seen and reads it back. Only the toggler changes \Seen
 * on purpose, so it must always read back what it set: a conditional store
 * whose check and write were apart could write back a \Seen it read before
 * the toggle (a lost update). */
struct race {
	uint32_t u;
	atomic_int stop;
	int lost, toggles, passed, failed;
};

static void *toggler(void *arg)
{
	struct race *r = arg;
	uint32_t one = 1;
	int seen = 0; /* what this thread set last */
	for (int i = 0; !atomic_load(&r->stop) && i < 5000; i++) {
		struct msg_info mi;
		if (store_msg_get(g_st, r->u, "INBOX", 1, &mi) != ST_OK)
			continue;
		if (!(mi.flags & FL_SEEN) != !seen)
			r->lost++; /* someone wrote back an old \Seen */
		if (store_msg_flags(g_st, r->u, "INBOX", &one, 1, seen ? FLAGS_DEL : FLAGS_ADD,
				    FL_SEEN, NULL, 0) != ST_OK)
			continue;
		seen = !seen;
		r->toggles++;
		usleep(500); /* let the other side read in between */
	}
	return NULL;
}

TEST(conditional_store_never_loses_a_concurrent_change)
{
	struct race r = {.u = fresh(1)};
	pthread_t th;
	uint32_t one = 1;
	CHECK(pthread_create(&th, NULL, toggler, &r) == 0);
	for (int i = 0; i < 300; i++) {
		struct msg_info mi;
		unsigned char failed = 0;
		if (store_msg_get(g_st, r.u, "INBOX", 1, &mi) != ST_OK)
			continue;
		uint32_t want = (mi.flags & ~FL_FLAGGED) | (mi.flags & FL_FLAGGED ? 0 : FL_FLAGGED);
		if (store_msg_flags_if(g_st, r.u, "INBOX", &one, 1, FLAGS_SET, want, NULL, 0,
				       mi.modseq, &failed) != ST_OK)
			continue;
		if (failed)
			r.failed++;
		else
			r.passed++;
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	fprintf(stderr, "conditional stores: %d passed, %d failed; %d toggles\n", r.passed,
		r.failed, r.toggles);
	CHECK_EQ_INT(r.lost, 0);
	CHECK(r.passed > 0 && r.toggles > 0);
}

TEST_MAIN()
