/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_groupcommit.c — many threads delivering and appending at once share
 * commits (mailbox.c, tx_write_grouped), and still every result is exact:
 *  - counts: every ST_OK is there, nothing else is;
 *  - UIDs of each mailbox are 1..n, strictly ascending, without gaps, and
 *    each UID handed out was handed out once;
 *  - quota: a user whose quota fits exactly K messages gets exactly K, the
 *    rest are ST_QUOTA, and usage is exactly K * size;
 *  - a request that is refused inside a batch (quota, no such mailbox)
 *    fails alone: the others in the same commit go through;
 *  - the commits are shared: fewer commits than stores (a counter the
 *    store keeps for tests), which one commit per request would not give;
 *  - a request whose spool read fails half-way inside a batch is dropped
 *    and the batch re-runs without it: the others go through, in one commit;
 *  - a commit that fails (here: the file may not grow, RLIMIT_FSIZE, as on
 *    a full disk) gives every request of the batch ST_TEMP, and stores
 *    nothing.
 */
#include "harness.h"
#include "mailbox.h"
#include "spool.h"
#include "util.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define THREADS 24
#define OPS	150  /* per thread */
#define BODY	3000 /* bytes of filler: every message has the same size */
#define QUOTA_K 100  /* messages that fit user C's quota */

static struct store *st;
static uint32_t ua, ub, uc;
static uint64_t msg_size;

struct result {
	uint32_t uid_a[OPS], uid_c[OPS], uid_b[OPS];
	int na, nb, nc, nquota, nnotfound, nbad;
};
static struct result res[THREADS];

static void rm_dir(const char *tdir)
{
	char p[128];
	snprintf(p, sizeof p, "%s/store/data.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store/lock.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store", tdir);
	rmdir(p);
	rmdir(tdir);
}

static struct spool *make_msg(int th, int i)
{
	static const char filler[BODY] = {0};
	char hdr[128];
	struct spool *sp = spool_new(0);
	/* Fixed width, so every message is the same size. */
	int n = snprintf(hdr, sizeof hdr, "Message-Id: <gc.%03d.%05d@test>\r\n\r\n", th, i);
	spool_write(sp, hdr, (size_t)n);
	spool_write(sp, filler, sizeof filler);
	return sp;
}

static void *worker(void *arg)
{
	int th = (int)(intptr_t)arg;
	struct result *r = &res[th];
	for (int i = 0; i < OPS; i++) {
		struct spool *sp = make_msg(th, i);
		struct msg_in m = {.body = sp};
		if (i % 3 == 2) {
			/* APPEND to B's INBOX; every 10th to a mailbox that is not there. */
			uint32_t uv = 0, uid = 0;
			int rc =
			    store_append(st, ub, i % 10 == 5 ? "Nope" : "INBOX", &m, &uv, &uid);
			if (i % 10 == 5)
				rc == ST_NOTFOUND ? r->nnotfound++ : r->nbad++;
			else if (rc == ST_OK && uid)
				r->uid_b[r->nb++] = uid;
			else
				r->nbad++;
		} else {
			/* Delivery to A and to C (C's quota runs out under way). */
			uint32_t users[2] = {ua, uc}, uids[2] = {0, 0};
			int rcs[2] = {-1, -1};
			int rc = store_deliver(st, users, 2, NULL, &m, rcs, uids);
			if (rc != ST_OK || rcs[0] != ST_OK || !uids[0]) {
				r->nbad++;
			} else {
				r->uid_a[r->na++] = uids[0];
				if (rcs[1] == ST_OK && uids[1])
					r->uid_c[r->nc++] = uids[1];
				else if (rcs[1] == ST_QUOTA)
					r->nquota++;
				else
					r->nbad++;
			}
		}
		spool_free(&sp);
	}
	return NULL;
}

struct collect {
	uint32_t uids[THREADS * OPS];
	size_t n;
	uint64_t bytes;
};

static int collect_cb(void *arg, const struct msg_info *mi)
{
	struct collect *c = arg;
	if (c->n < THREADS * OPS) {
		c->uids[c->n++] = mi->uid;
		c->bytes += mi->size;
	}
	return 0;
}

/* UIDs in the mailbox are exactly 1..n; those handed out are the same set. */
static int check_mailbox(uint32_t user, int which, size_t want)
{
	static struct collect c;
	static unsigned char seen[THREADS * OPS + 1];
	size_t handed = 0;
	memset(&c, 0, sizeof c);
	memset(seen, 0, sizeof seen);
	if (store_msg_list(st, user, "INBOX", 1, collect_cb, &c) != ST_OK || c.n != want)
		return -1;
	for (size_t i = 0; i < c.n; i++)
		if (c.uids[i] != i + 1)
			return -2;
	for (int t = 0; t < THREADS; t++) {
		const uint32_t *u = which == 0	 ? res[t].uid_a
				    : which == 1 ? res[t].uid_b
						 : res[t].uid_c;
		int n = which == 0 ? res[t].na : which == 1 ? res[t].nb : res[t].nc;
		for (int i = 0; i < n; i++) {
			if (!u[i] || u[i] > want || seen[u[i]])
				return -3;
			/* One thread's calls are sequential: its UIDs ascend. */
			if (i && u[i] <= u[i - 1])
				return -4;
			seen[u[i]] = 1;
			handed++;
		}
	}
	if (handed != want || c.bytes != want * msg_size)
		return -5;
	return 0;
}

TEST(many_threads_share_commits_exactly)
{
	char tdir[64], err[256];
	struct cred cr = {0};
	pthread_t th[THREADS];
	struct account a;
	struct timespec t0, t1;
	size_t na = 0, nb = 0, nc = 0, nquota = 0, nnf = 0, nbad = 0;

	snprintf(tdir, sizeof tdir, "/tmp/brev-test-gc.XXXXXX");
	CHECK(mkdtemp(tdir));
	CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) == 0);
	CHECK_EQ_INT(store_user_add(st, "a@example.org", &cr), ST_OK);
	CHECK_EQ_INT(store_user_add(st, "b@example.org", &cr), ST_OK);
	CHECK_EQ_INT(store_user_add(st, "c@example.org", &cr), ST_OK);
	{
		struct spool *sp = make_msg(0, 0);
		msg_size = spool_size(sp);
		spool_free(&sp);
	}
	CHECK_EQ_INT(store_user_set_quota(st, "c@example.org", QUOTA_K * msg_size), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "a@example.org", &a), ST_OK);
	ua = a.id;
	CHECK_EQ_INT(store_user_get(st, "b@example.org", &a), ST_OK);
	ub = a.id;
	CHECK_EQ_INT(store_user_get(st, "c@example.org", &a), ST_OK);
	uc = a.id;

	uint64_t commits = store_test_commits(st);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (int i = 0; i < THREADS; i++) {
		na += (size_t)res[i].na;
		nb += (size_t)res[i].nb;
		nc += (size_t)res[i].nc;
		nquota += (size_t)res[i].nquota;
		nnf += (size_t)res[i].nnotfound;
		nbad += (size_t)res[i].nbad;
	}
	{
		double s =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		commits = store_test_commits(st) - commits;
		fprintf(stderr, "group commit: %zu stores in %.2f s (%.0f/s), %llu commits\n",
			na + nb, s, (double)(na + nb) / s, (unsigned long long)commits);
	}
	/* 24 threads on the writer: most commits carry several stores. */
	CHECK(commits > 0);
	CHECK(commits < na + nb);
	CHECK_EQ_INT(nbad, 0);
	CHECK_EQ_INT(na, THREADS * (OPS - OPS / 3));
	CHECK_EQ_INT(nc, QUOTA_K);
	CHECK_EQ_INT(nquota, na - QUOTA_K);
	CHECK(nnf > 0);
	CHECK_EQ_INT(nb + nnf, THREADS * (OPS / 3));

	CHECK_EQ_INT(check_mailbox(ua, 0, na), 0);
	CHECK_EQ_INT(check_mailbox(ub, 1, nb), 0);
	CHECK_EQ_INT(check_mailbox(uc, 2, nc), 0);

	CHECK_EQ_INT(store_user_get(st, "a@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, na);
	CHECK_EQ_INT(a.used, na * msg_size);
	CHECK_EQ_INT(store_user_get(st, "b@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, nb);
	CHECK_EQ_INT(a.used, nb * msg_size);
	CHECK_EQ_INT(store_user_get(st, "c@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, QUOTA_K);
	CHECK_EQ_INT(a.used, QUOTA_K * msg_size); /* exactly at the limit, not past it */
	{
		/* Each delivery stored its bytes once: blobs = deliveries + appends. */
		struct store_stats ss;
		CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
		CHECK_EQ_INT(ss.blobs, na + nb);
		CHECK_EQ_INT(ss.messages, na + nb + nc);
	}

	store_close(&st);
	rm_dir(tdir);
}

/* ---- one batch, seen from inside ---- */

#define GANG 8

struct gang {
	uint32_t user;
	int bad; /* its spool ends before the message does */
	size_t body;
	int rc;
	uint32_t uid;
};

static void *gang_worker(void *arg)
{
	struct gang *g = arg;
	static const char filler[200000];
	struct spool *sp = spool_new(0);
	struct msg_in m = {.body = sp};
	int rcs[1] = {-1};
	spool_write(sp, "Subject: gang\r\n\r\n", 17);
	spool_write(sp, filler, g->body);
	if (g->bad)
		m.body_len = spool_size(sp) + 100000; /* read fails past the end */
	g->rc = store_deliver(st, &g->user, 1, NULL, &m, rcs, &g->uid);
	if (g->rc == ST_OK)
		g->rc = rcs[0];
	spool_free(&sp);
	return NULL;
}

/* GANG deliveries queued together (the test gate makes the leader wait for
 * all of them): their results, and the commits they took. */
static uint64_t gang_run(struct gang *g)
{
	pthread_t th[GANG];
	uint64_t before = store_test_commits(st);
	store_test_gate(st, GANG);
	for (int i = 0; i < GANG; i++)
		pthread_create(&th[i], NULL, gang_worker, &g[i]);
	for (int i = 0; i < GANG; i++)
		pthread_join(th[i], NULL);
	return store_test_commits(st) - before;
}

static struct store *gang_store(char *tdir, uint32_t *user)
{
	char err[256];
	struct cred cr = {0};
	struct account a;
	struct store *s = NULL;
	snprintf(tdir, 64, "/tmp/brev-test-gc.XXXXXX");
	if (!mkdtemp(tdir) || store_open(&s, tdir, 64 << 20, err, sizeof err) ||
	    store_user_add(s, "g@example.org", &cr) || store_user_get(s, "g@example.org", &a))
		return NULL;
	*user = a.id;
	return s;
}

TEST(a_failing_spool_read_drops_only_its_request)
{
	char tdir[64];
	struct gang g[GANG];
	struct account a;
	struct store_stats ss;
	uint32_t u;
	uint64_t commits;
	int ok = 0, temp = 0;
	CHECK((st = gang_store(tdir, &u)));
	for (int i = 0; i < GANG; i++)
		g[i] = (struct gang){.user = u, .bad = i == 3, .body = 2000};
	commits = gang_run(g);
	for (int i = 0; i < GANG; i++) {
		if (g[i].bad)
			CHECK_EQ_INT(g[i].rc, ST_TEMP);
		else
			CHECK_EQ_INT(g[i].rc, ST_OK);
		ok += g[i].rc == ST_OK;
		temp += g[i].rc == ST_TEMP;
	}
	CHECK_EQ_INT(ok, GANG - 1);
	CHECK_EQ_INT(temp, 1);
	/* The batch ran again without it and committed once. */
	CHECK_EQ_INT(commits, 1);
	CHECK_EQ_INT(store_user_get(st, "g@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, GANG - 1);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, GANG - 1);
	CHECK_EQ_INT(ss.chunks, GANG - 1); /* nothing of the failed one */
	store_close(&st);
	rm_dir(tdir);
}

TEST(a_failed_commit_gives_everyone_st_temp)
{
	char tdir[64], path[128];
	struct gang g[GANG];
	struct account a;
	struct store_stats ss;
	struct rlimit old, lim;
	struct stat sb;
	uint32_t u;
	uint64_t commits;
	CHECK((st = gang_store(tdir, &u)));
	/* One delivery first, so the store has its shape. */
	for (int i = 0; i < GANG; i++)
		g[i] = (struct gang){.user = u, .body = 2000};
	CHECK_EQ_INT(gang_run(g), 1);
	/* The data file may not grow: the batch's pages cannot be written, as
	 * on a full disk. SIGXFSZ ignored: write() then fails with EFBIG. */
	snprintf(path, sizeof path, "%s/store/data.mdb", tdir);
	CHECK(stat(path, &sb) == 0);
	signal(SIGXFSZ, SIG_IGN);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (int i = 0; i < GANG; i++)
		g[i] = (struct gang){.user = u, .body = 150000};
	commits = gang_run(g);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	for (int i = 0; i < GANG; i++) {
		CHECK_EQ_INT(g[i].rc, ST_TEMP);
		CHECK_EQ_INT(g[i].uid, 0);
	}
	CHECK_EQ_INT(commits, 0);
	CHECK_EQ_INT(store_user_get(st, "g@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, GANG);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, GANG);
	/* The store goes on once the file may grow again. */
	commits = gang_run(g);
	for (int i = 0; i < GANG; i++)
		CHECK_EQ_INT(g[i].rc, ST_OK);
	CHECK_EQ_INT(commits, 1);
	CHECK_EQ_INT(store_user_get(st, "g@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, 2 * GANG);
	store_close(&st);
	rm_dir(tdir);
}

TEST_MAIN()
