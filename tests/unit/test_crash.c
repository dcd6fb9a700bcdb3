/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_crash.c — kill -9 loses nothing acknowledged (DESIGN.md 6).
 *
 * A child process opens the store and stores messages in a loop (APPEND
 * to one user, delivery to two users, alternately; sizes up to ~150 KiB so
 * that the 1 MiB map has to grow under way), and after each ST_OK writes
 * the message's id to a pipe. The parent SIGKILLs it at a random moment,
 * reopens the store and checks: it opens cleanly; every acknowledged id is
 * there exactly once in every mailbox it went to; no id is there twice;
 * reference counts and quota usage agree with the messages present.
 */
#include "harness.h"
#include "mailbox.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS    8
#define PER_ROUND 100000 /* ids: round * PER_ROUND + i */

static char tdir[64];

static void rm_store(void)
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

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The child: never returns. */
static void child(int round, int fd, const uint32_t *users)
{
	struct store *st = NULL;
	char err[256], hdr[128];
	static char filler[160 * 1024];
	memset(filler, 'f', sizeof filler);
	for (size_t i = 76; i < sizeof filler; i += 78) {
		filler[i] = '\r';
		filler[i + 1] = '\n';
	}
	if (store_open(&st, tdir, 1 << 20, err, sizeof err) < 0)
		_exit(3);
	for (uint32_t i = 0; i < PER_ROUND; i++) {
		uint32_t id = (uint32_t)round * PER_ROUND + i, uid;
		struct spool *sp = spool_new(0);
		struct msg_in m = {0};
		int n = snprintf(hdr, sizeof hdr, "Message-Id: <crash.%u@test>\r\nSubject: %u\r\n\r\n",
				 id, id);
		int rc, rcs[2];
		spool_write(sp, hdr, (size_t)n);
		spool_write(sp, filler, (i * 7919u) % (150 * 1024));
		m.body = sp;
		if (i % 2 == 0) {
			rc = store_append(st, users[0], "INBOX", &m, NULL, &uid);
		} else {
			rc = store_deliver(st, users, 2, NULL, &m, rcs, NULL);
			if (rc == ST_OK && (rcs[0] != ST_OK || rcs[1] != ST_OK))
				rc = ST_TEMP;
		}
		spool_free(&sp);
		if (rc != ST_OK)
			_exit(4);
		if (write_all(fd, &id, sizeof id) < 0)
			_exit(5);
	}
	_exit(0);
}

struct seen {
	uint32_t *ids;
	struct msg_info *msgs;
	size_t n, cap;
	uint64_t bytes;
	int bad;
};

/* Callbacks must not call back into the store: collect, check after. */
static int seen_cb(void *arg, const struct msg_info *m)
{
	struct seen *s = arg;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->msgs = realloc(s->msgs, s->cap * sizeof *s->msgs);
		s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
	}
	s->msgs[s->n++] = *m;
	s->bytes += m->size;
	return 0;
}

static int seen_check(struct store *st, struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		char buf[64];
		long n = store_msg_read(st, s->msgs[i].blob, 0, buf, sizeof buf - 1);
		unsigned id;
		uint32_t refs;
		if (n <= 0)
			return 1;
		buf[n] = 0;
		if (sscanf(buf, "Message-Id: <crash.%u@test>", &id) != 1)
			return 2;
		/* APPENDs (even) are stored once; deliveries (odd) to two users. */
		if (store_blob_refs(st, s->msgs[i].blob, &refs) != ST_OK ||
		    refs != (id % 2 ? 2u : 1u))
			return 3;
		s->ids[i] = id;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Every id of want[] (filtered by `odd_only`) is in have[] exactly once,
 * and have[] has no duplicates at all. */
static int check_ids(const uint32_t *want, size_t nwant, uint32_t *have, size_t nhave,
		     int odd_only)
{
	if (nhave > 1)
		qsort(have, nhave, sizeof *have, cmp_u32);
	for (size_t i = 1; i < nhave; i++)
		if (have[i] == have[i - 1]) {
			fprintf(stderr, "id %u stored twice\n", have[i]);
			return 0;
		}
	for (size_t i = 0; i < nwant; i++) {
		if (odd_only && want[i] % 2 == 0)
			continue;
		if (!bsearch(&want[i], have, nhave, sizeof *have, cmp_u32)) {
			fprintf(stderr, "acknowledged id %u lost\n", want[i]);
			return 0;
		}
	}
	return 1;
}

TEST(kill9_loses_nothing_acknowledged)
{
	struct store *st = NULL;
	struct cred c;
	struct account a;
	char err[256];
	uint32_t users[2], *acked = NULL;
	size_t nacked = 0, cap = 0;
	int64_t start = now_ms();

	snprintf(tdir, sizeof tdir, "/tmp/brev-test-crash.XXXXXX");
	CHECK(mkdtemp(tdir));
	CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) == 0);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_user_add(st, "one@example.org", &c), ST_OK);
	CHECK_EQ_INT(store_user_add(st, "two@example.org", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "one@example.org", &a), ST_OK);
	users[0] = a.id;
	CHECK_EQ_INT(store_user_get(st, "two@example.org", &a), ST_OK);
	users[1] = a.id;
	store_close(&st); /* never across fork() */

	for (int round = 0; round < ROUNDS; round++) {
		int fds[2], status;
		pid_t pid;
		uint32_t id;
		ssize_t r;
		size_t before = nacked;
		struct seen s1 = {0}, s2 = {0};

		CHECK(pipe(fds) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child(round, fds[1], users);
		}
		close(fds[1]);
		/* Kill at a random moment: early (maybe inside store_open) to late. */
		usleep(5000 + random_uniform(round == 0 ? 20000 : 600000));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		while ((r = read(fds[0], &id, sizeof id)) == sizeof id) {
			if (nacked == cap) {
				cap = cap ? cap * 2 : 1024;
				acked = realloc(acked, cap * sizeof *acked);
			}
			acked[nacked++] = id;
		}
		CHECK(r == 0);
		close(fds[0]);

		CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) == 0);
		CHECK_EQ_INT(store_msg_list(st, users[0], NULL, 0, seen_cb, &s1), ST_OK);
		CHECK_EQ_INT(seen_check(st, &s1), 0);
		CHECK_EQ_INT(store_msg_list(st, users[1], NULL, 0, seen_cb, &s2), ST_OK);
		CHECK_EQ_INT(seen_check(st, &s2), 0);
		CHECK(check_ids(acked, nacked, s1.ids, s1.n, 0));
		CHECK(check_ids(acked, nacked, s2.ids, s2.n, 1));
		/* Quota usage is exactly the bytes present. */
		CHECK_EQ_INT(store_user_get_id(st, users[0], &a), ST_OK);
		CHECK_EQ_INT(a.used, s1.bytes);
		CHECK_EQ_INT(a.messages, s1.n);
		CHECK_EQ_INT(store_user_get_id(st, users[1], &a), ST_OK);
		CHECK_EQ_INT(a.used, s2.bytes);
		free(s1.ids);
		free(s2.ids);
		free(s1.msgs);
		free(s2.msgs);
		store_close(&st);
		fprintf(stderr, "round %d: %zu acknowledged (%zu in all)\n", round, nacked - before,
			nacked);
	}
	CHECK(nacked > 0);
	CHECK(now_ms() - start < 20000);
	free(acked);
	rm_store();
}

TEST_MAIN()
