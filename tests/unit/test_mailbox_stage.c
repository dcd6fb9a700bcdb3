/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_mailbox_stage.c — large messages (mailbox_msg.c, blob_stage): their
 * bytes go into the store in commits of their own before the message is
 * stored (docs/store.md, "Memory"), and that must change nothing a caller
 * can see:
 *  - deliveries, APPENDs, MULTIAPPENDs and queue entries of large messages
 *    read back byte for byte, shared between recipients, counted right;
 *  - a large message that every recipient refuses, or that cannot be
 *    stored, leaves no bytes behind;
 *  - the staged bytes of a process killed half-way are removed by the next
 *    store_open, and those of a process that still runs are left alone;
 *  - UIDs stop at 2^32-1 (refused, never wrapped), for small and staged
 *    messages alike;
 *  - a store written by a newer brev (schema version) is refused.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65520 /* mailbox_int.h CHUNK_SIZE: docs/store.md */
#define MiB   (1u << 20)

static struct store *fresh(void)
{
	return store_fixture_new("stage", 1 << 20);
}

static struct store *open_again(void)
{
	struct store *st = NULL;
	return store_fixture_open(&st, 1 << 20) < 0 ? NULL : st;
}

static uint32_t add_user(struct store *st, const char *addr)
{
	struct cred c;
	struct account a;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	if (store_user_add(st, addr, &c) != ST_OK || store_user_get(st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

/* Byte i of message `seed`: a pattern that differs between messages and
 * between chunks, so a chunk in the wrong place or of another message shows. */
static unsigned char pat(unsigned seed, uint64_t i)
{
	return (unsigned char)(seed * 131 + i * 7 + i / CHUNK);
}

/* A message of size bytes (in a spool that spills to a file, as SMTP's
 * does past 256 KiB). */
static struct spool *make_msg(unsigned seed, uint64_t size)
{
	static unsigned char buf[65536];
	struct spool *sp = spool_new(0);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(seed, off + i);
		spool_write(sp, buf, n);
		off += n;
	}
	return sp;
}

/* The stored bytes of blob are message seed's, size of them. */
static int same_bytes(struct store *st, uint64_t blob, unsigned seed, uint64_t size)
{
	static unsigned char buf[100000]; /* not a multiple of a chunk */
	uint64_t off = 0;
	for (;;) {
		long n = store_msg_read(st, blob, off, buf, sizeof buf);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (long i = 0; i < n; i++)
			if (buf[i] != pat(seed, off + (uint64_t)i))
				return -2;
		off += (uint64_t)n;
	}
	return off == size ? 0 : -3;
}

static uint64_t chunks_of(uint64_t size)
{
	return (size + CHUNK - 1) / CHUNK;
}

#define COLLECT_MAX 4096

struct collect {
	struct msg_info m[COLLECT_MAX];
	size_t n, more; /* more: did not fit */
};

static int collect_cb(void *arg, const struct msg_info *m)
{
	struct collect *c = arg;
	if (c->n < COLLECT_MAX)
		c->m[c->n++] = *m;
	else
		c->more++;
	return 0;
}

/* Every chunk in the store belongs to a message of one of the users'
 * INBOXes or to a queue entry (each blob counted once), and nothing is
 * staged: no bytes left behind. */
static int queue_blob_cb(void *arg, const struct queue_entry *e)
{
	uint64_t *want = arg;
	*want += chunks_of(e->size);
	return 0;
}

static int no_stray_bytes(struct store *st, const uint32_t *users, size_t n)
{
	static struct collect c;
	static uint64_t seen[COLLECT_MAX];
	struct store_stats ss;
	uint64_t want = 0;
	size_t nseen = 0;
	for (size_t u = 0; u < n; u++) {
		memset(&c, 0, sizeof c);
		if (store_msg_list(st, users[u], NULL, 0, collect_cb, &c) != ST_OK || c.more)
			return -1;
		for (size_t i = 0; i < c.n; i++) {
			int dup = 0;
			for (size_t j = 0; j < nseen; j++)
				dup |= seen[j] == c.m[i].blob;
			if (dup)
				continue;
			if (nseen == COLLECT_MAX)
				return -4;
			seen[nseen++] = c.m[i].blob;
			want += chunks_of(c.m[i].size);
		}
	}
	if (store_queue_list(st, queue_blob_cb, &want) != ST_OK || store_stats(st, &ss) != ST_OK)
		return -2;
	if (ss.chunks != want || ss.staged != 0) {
		fprintf(stderr, "chunks %llu, expected %llu; staged %llu\n",
			(unsigned long long)ss.chunks, (unsigned long long)want,
			(unsigned long long)ss.staged);
		return -3;
	}
	return 0;
}

TEST(large_messages_read_back_whole)
{
	struct store *st = fresh();
	uint32_t users[2], uids[2], uv, uid, muids[3];
	int rcs[2];
	static struct collect c;
	memset(&c, 0, sizeof c);
	struct store_stats ss;
	const uint64_t big = 5 * MiB + 12345, mid = 700 * 1024;
	CHECK(st);
	users[0] = add_user(st, "a@example.org");
	users[1] = add_user(st, "b@example.org");
	CHECK(users[0] && users[1]);

	/* Delivery to two users: one blob, two references, a header before. */
	{
		struct spool *sp = make_msg(1, big);
		struct msg_in m = {.body = sp};
		CHECK_EQ_INT(store_deliver(st, users, 2, NULL, &m, rcs, uids), ST_OK);
		CHECK_EQ_INT(rcs[0], ST_OK);
		CHECK_EQ_INT(rcs[1], ST_OK);
		spool_free(&sp);
	}
	/* APPEND of a large message. */
	{
		struct spool *sp = make_msg(2, big + 1);
		struct msg_in m = {.body = sp};
		CHECK_EQ_INT(store_append(st, users[0], NULL, &m, &uv, &uid), ST_OK);
		CHECK_EQ_INT(uid, 2);
		spool_free(&sp);
	}
	/* MULTIAPPEND: three from one spool; none above the threshold alone,
	 * together above it (so some are staged), as IMAP's literals share one. */
	{
		struct spool *sp = spool_new(0);
		struct msg_in m[3];
		uint64_t off = 0;
		for (unsigned i = 0; i < 3; i++) {
			struct spool *one = make_msg(10 + i, mid);
			static unsigned char buf[65536];
			for (uint64_t o = 0; o < mid;) {
				long n = spool_read_at(one, o, buf, sizeof buf);
				CHECK(n > 0);
				spool_write(sp, buf, (size_t)n);
				o += (uint64_t)n;
			}
			spool_free(&one);
			m[i] = (struct msg_in){.body = sp, .body_off = off, .body_len = mid};
			off += mid;
		}
		CHECK_EQ_INT(store_append_many(st, users[1], NULL, m, 3, &uv, muids), ST_OK);
		CHECK_EQ_INT(muids[0], 2);
		CHECK_EQ_INT(muids[2], 4);
		spool_free(&sp);
	}
	/* A queue entry of a large message. */
	{
		struct spool *sp = make_msg(3, big);
		struct msg_in m = {.body = sp};
		const char *rcpt = "far@remote.test";
		uint64_t qid;
		CHECK_EQ_INT(store_queue_add(st, "a@example.org", &rcpt, 1, &m, &qid), ST_OK);
		spool_free(&sp);
	}

	CHECK_EQ_INT(store_msg_list(st, users[0], NULL, 0, collect_cb, &c), ST_OK);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(same_bytes(st, c.m[0].blob, 1, big), 0);
	CHECK_EQ_INT(same_bytes(st, c.m[1].blob, 2, big + 1), 0);
	{
		uint32_t refs;
		CHECK_EQ_INT(store_blob_refs(st, c.m[0].blob, &refs), ST_OK);
		CHECK_EQ_INT(refs, 2);
	}
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_msg_list(st, users[1], NULL, 0, collect_cb, &c), ST_OK);
	CHECK_EQ_INT(c.n, 4);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ_INT(same_bytes(st, c.m[1 + i].blob, 10 + i, mid), 0);
	CHECK_EQ_INT(no_stray_bytes(st, users, 2), 0);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, 6); /* shared delivery, append, 3 multi, queue */
	store_close(&st);
	rm_store();
}

/* Refused everywhere, or not storable: the staged bytes go again. */
TEST(refused_large_message_leaves_nothing)
{
	struct store *st = fresh();
	uint32_t users[1], uids[1], uid;
	int rcs[1];
	struct spool *sp = make_msg(4, 3 * MiB);
	struct msg_in m = {.body = sp};
	CHECK(st);
	users[0] = add_user(st, "q@example.org");
	CHECK_EQ_INT(store_user_set_quota(st, "q@example.org", 2 * MiB), ST_OK);
	/* Quota: the delivery commits (ST_OK) with the recipient refused. */
	CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, uids), ST_OK);
	CHECK_EQ_INT(rcs[0], ST_TOOBIG);
	CHECK_EQ_INT(store_append(st, users[0], NULL, &m, NULL, &uid), ST_TOOBIG);
	CHECK_EQ_INT(store_append(st, users[0], "Nope", &m, NULL, &uid), ST_NOTFOUND);
	CHECK_EQ_INT(no_stray_bytes(st, users, 1), 0);
	/* A spool that ends early (a read error half-way through staging). */
	{
		struct msg_in bad = {.body = sp, .body_len = 4 * MiB};
		CHECK_EQ_INT(store_user_set_quota(st, "q@example.org", 0), ST_OK);
		CHECK_EQ_INT(store_append(st, users[0], NULL, &bad, NULL, &uid), ST_TEMP);
		CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &bad, rcs, uids), ST_TEMP);
	}
	CHECK_EQ_INT(no_stray_bytes(st, users, 1), 0);
	spool_free(&sp);
	store_close(&st);
	rm_store();
}

/* A child delivers large messages without pause and is killed at random
 * moments, often half-way through staging one. The next store_open must
 * remove what it staged; every message it stored is whole. */
/* Staged blobs recorded in the store (sub-database "pend"), read with LMDB
 * directly while no brev has the store open: store_open would remove them. */
static int pending_records(void)
{
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	int n = -1;
	snprintf(path, sizeof path, "%s/store", tdir);
	if (mdb_env_create(&env))
		return -1;
	if (!mdb_env_set_maxdbs(env, 32) && !mdb_env_open(env, path, MDB_RDONLY, 0600) &&
	    !mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
		if (!mdb_dbi_open(txn, "pend", 0, &dbi) && !mdb_stat(txn, dbi, &ms))
			n = (int)ms.ms_entries;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return n;
}

TEST(staged_bytes_of_a_killed_process_are_removed)
{
	struct store *st = fresh();
	uint32_t users[1];
	struct timespec ts;
	int killed_staging = 0;
	CHECK(st);
	users[0] = add_user(st, "k@example.org");
	store_close(&st); /* LMDB: never carry an environment across fork() */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	srand((unsigned)ts.tv_nsec);
	for (int round = 0; round < 8; round++) {
		int status;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct store *cs = open_again();
			struct spool *sp[7];
			if (!cs)
				_exit(2);
			for (unsigned i = 0; i < 7; i++)
				sp[i] = make_msg(20 + i, 2 * MiB + 1000 * i);
			for (unsigned i = 0;; i++) {
				struct msg_in m = {.body = sp[i % 7]};
				uint32_t uid[1];
				int rc[1];
				store_deliver(cs, users, 1, NULL, &m, rc, uid);
			}
		}
		usleep(100000 + (useconds_t)(rand() % 200000));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status));
		killed_staging += pending_records();
		CHECK((st = open_again()));
		CHECK_EQ_INT(no_stray_bytes(st, users, 1), 0);
		{
			static struct collect c;
			memset(&c, 0, sizeof c);
			CHECK_EQ_INT(store_msg_list(st, users[0], NULL, 0, collect_cb, &c), ST_OK);
			for (size_t i = 0; i < c.n; i++) {
				uint64_t extra = c.m[i].size - 2 * MiB;
				CHECK(extra % 1000 == 0 && extra / 1000 < 7);
				CHECK_EQ_INT(same_bytes(st, c.m[i].blob,
							20 + (unsigned)(extra / 1000), c.m[i].size),
					     0);
			}
		}
		store_close(&st);
	}
	/* Not vacuous: some kills hit a message half-way through staging. */
	fprintf(stderr, "killed while staging: %d of 8 rounds\n", killed_staging);
	CHECK(killed_staging > 0);
	rm_store();
}

/* While a child stages large messages, this process opens the store again
 * and again: the child's staged bytes belong to a live process and must be
 * left alone, so every one of its deliveries succeeds. */
TEST(staged_bytes_of_a_live_process_are_kept)
{
	struct store *st = fresh();
	uint32_t users[1];
	int p[2], status;
	char go;
	pid_t pid;
	CHECK(st);
	users[0] = add_user(st, "l@example.org");
	store_close(&st);
	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct store *cs = open_again();
		int fails = 0;
		close(p[0]);
		if (!cs)
			_exit(2);
		for (unsigned i = 0; i < 12; i++) {
			struct spool *sp = make_msg(30 + i, 3 * MiB);
			struct msg_in m = {.body = sp};
			uint32_t uid[1];
			int rc[1];
			if (store_deliver(cs, users, 1, NULL, &m, rc, uid) != ST_OK ||
			    rc[0] != ST_OK)
				fails++;
			spool_free(&sp);
		}
		store_close(&cs);
		_exit(fails ? 1 : 0);
	}
	close(p[1]);
	/* Open and close until the child is done (its exit closes the pipe). */
	for (int n = 0; n < 100000 && read(p[0], &go, 1) != 0; n++) {
		CHECK((st = open_again()));
		store_close(&st);
	}
	close(p[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	CHECK((st = open_again()));
	{
		static struct collect c;
		memset(&c, 0, sizeof c);
		CHECK_EQ_INT(store_msg_list(st, users[0], NULL, 0, collect_cb, &c), ST_OK);
		CHECK_EQ_INT(c.n, 12);
		for (size_t i = 0; i < c.n; i++)
			CHECK_EQ_INT(same_bytes(st, c.m[i].blob, 30 + (unsigned)i, 3 * MiB), 0);
	}
	CHECK_EQ_INT(no_stray_bytes(st, users, 1), 0);
	store_close(&st);
	rm_store();
}

/* The batch is bounded in bytes: eight deliveries of 900 KiB (each copied
 * inline, under the staging threshold) that queue together cannot share one
 * commit; eight small ones do. */
struct gc_arg {
	struct store *st;
	uint32_t user;
	uint64_t size;
	unsigned seed;
	int rc;
};

static void *gc_worker(void *arg)
{
	struct gc_arg *a = arg;
	struct spool *sp = make_msg(a->seed, a->size);
	struct msg_in m = {.body = sp};
	uint32_t uid[1];
	int rc[1];
	a->rc = store_deliver(a->st, &a->user, 1, NULL, &m, rc, uid);
	if (a->rc == ST_OK)
		a->rc = rc[0];
	spool_free(&sp);
	return NULL;
}

static uint64_t run_eight(struct store *st, uint32_t user, uint64_t size)
{
	pthread_t th[8];
	struct gc_arg a[8];
	uint64_t before = store_test_commits(st);
	store_test_gate(st, 8);
	for (int i = 0; i < 8; i++) {
		a[i] = (struct gc_arg){st, user, size, 40 + (unsigned)i, -1};
		pthread_create(&th[i], NULL, gc_worker, &a[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		if (a[i].rc != ST_OK)
			return 0;
	}
	return store_test_commits(st) - before;
}

TEST(a_batch_is_bounded_in_bytes)
{
	struct store *st = fresh();
	uint32_t u;
	uint64_t small, large;
	CHECK(st);
	u = add_user(st, "g@example.org");
	small = run_eight(st, u, 4096);
	large = run_eight(st, u, 900 * 1024);
	fprintf(stderr, "commits for 8 x 4 KiB: %llu, for 8 x 900 KiB: %llu\n",
		(unsigned long long)small, (unsigned long long)large);
	CHECK_EQ_INT(small, 1);
	CHECK(large >= 2); /* 4 MiB a batch: at most 4 of them */
	CHECK_EQ_INT(no_stray_bytes(st, &u, 1), 0);
	store_close(&st);
	rm_store();
}

/* RFC 3501 2.3.1.1: UIDs are 32-bit and never reused; a mailbox whose next
 * UID would be 2^32-1 refuses new messages instead of wrapping to 1. */
TEST(uid_space_ends_without_wrapping)
{
	struct store *st = fresh();
	uint32_t users[1], uids[1], uid = 0, copied[1], src_uid;
	int rcs[1];
	struct mbox_info mi;
	CHECK(st);
	users[0] = add_user(st, "w@example.org");
	CHECK_EQ_INT(store_test_set_uidnext(st, users[0], "INBOX", UINT32_MAX - 1), ST_OK);
	{
		struct spool *sp = make_msg(50, 100);
		struct msg_in m = {.body = sp};
		CHECK_EQ_INT(store_append(st, users[0], NULL, &m, NULL, &uid), ST_OK);
		CHECK_EQ_INT(uid, UINT32_MAX - 1); /* the last UID there is */
		/* Full now: APPEND, delivery (small and staged), COPY refused. */
		CHECK_EQ_INT(store_append(st, users[0], NULL, &m, NULL, &uid), ST_INVALID);
		CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, uids), ST_OK);
		CHECK(rcs[0] != ST_OK);
		CHECK_EQ_INT(uids[0], 0);
		spool_free(&sp);
	}
	{
		struct spool *sp = make_msg(51, 3 * MiB);
		struct msg_in m = {.body = sp};
		CHECK_EQ_INT(store_append(st, users[0], NULL, &m, NULL, &uid), ST_INVALID);
		CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, uids), ST_OK);
		CHECK(rcs[0] != ST_OK);
		CHECK_EQ_INT(store_append(st, users[0], "Archive", &m, NULL, &src_uid), ST_OK);
		spool_free(&sp);
	}
	CHECK(store_msg_copy(st, users[0], "Archive", "INBOX", &src_uid, 1, 0, NULL, copied) !=
	      ST_OK);
	CHECK(store_msg_copy(st, users[0], "Archive", "INBOX", &src_uid, 1, 1, NULL, copied) !=
	      ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, users[0], "INBOX", &mi), ST_OK);
	CHECK_EQ_INT(mi.exists, 1);
	CHECK_EQ_INT(mi.uidnext, UINT32_MAX);
	{
		static struct collect c;
		memset(&c, 0, sizeof c);
		CHECK_EQ_INT(store_msg_list(st, users[0], NULL, 0, collect_cb, &c), ST_OK);
		CHECK_EQ_INT(c.n, 1);
		CHECK_EQ_INT(c.m[0].uid, UINT32_MAX - 1);
		memset(&c, 0, sizeof c);
		CHECK_EQ_INT(store_msg_list(st, users[0], "Archive", 0, collect_cb, &c), ST_OK);
		CHECK_EQ_INT(c.n, 1); /* the MOVE left it where it was */
	}
	{
		struct store_stats ss;
		CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
		CHECK_EQ_INT(ss.blobs, 2);
		CHECK_EQ_INT(ss.staged, 0);
		CHECK_EQ_INT(ss.chunks, 1 + chunks_of(3 * MiB));
	}
	store_close(&st);
	rm_store();
}

/* A store whose schema version is newer than this brev knows (written by a
 * later brev, here by LMDB directly as that brev would) is refused, with a
 * message that says so, and left as it was. */
TEST(newer_schema_version_is_refused)
{
	struct store *st = fresh();
	char path[128], err[256] = "";
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {7, "version"}, v;
	uint64_t ver;
	CHECK(st);
	CHECK(add_user(st, "s@example.org"));
	store_close(&st);
	snprintf(path, sizeof path, "%s/store", tdir);
	CHECK(mdb_env_create(&env) == 0);
	CHECK(mdb_env_set_maxdbs(env, 32) == 0);
	CHECK(mdb_env_open(env, path, 0, 0600) == 0);
	CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	CHECK(mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
	CHECK(mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof ver);
	memcpy(&ver, v.mv_data, sizeof ver);
	CHECK_EQ_INT(ver, 4); /* schema 4: DB_PLACE */
	ver = 5;
	v.mv_size = sizeof ver;
	v.mv_data = &ver;
	CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0);
	CHECK(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);

	CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) < 0);
	CHECK(st == NULL);
	CHECK(strstr(err, "schema version 5 is newer"));
	/* Refused, not changed: still version 5 (an older brev did not
	 * "upgrade" it back). */
	CHECK(mdb_env_create(&env) == 0);
	CHECK(mdb_env_set_maxdbs(env, 32) == 0);
	CHECK(mdb_env_open(env, path, MDB_RDONLY, 0600) == 0);
	CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	CHECK(mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
	CHECK(mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof ver);
	memcpy(&ver, v.mv_data, sizeof ver);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	CHECK_EQ_INT(ver, 5);
	rm_store();
}

TEST_MAIN()
