/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
/*
 * test_mailbox.c — the store against its contract (mailbox.h): accounts,
 * UIDs, flags/keywords/modseq, quotas, aliases, mailbox tree operations,
 * shared and streamed message bytes, copy/move, queue, change
 * notification, and concurrent writers (threads and processes).
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static struct store *fresh(uint64_t map)
{
	return store_fixture_new("store", map);
}

static struct store *reopen(struct store **st, uint64_t map)
{
	store_close(st);
	return store_fixture_open(st, map) < 0 ? NULL : *st;
}

static struct cred cred_of(const char *tag)
{
	struct cred c;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$%s", tag);
	c.scram_iter = 4096;
	return c;
}

static uint32_t add_user(struct store *st, const char *addr)
{
	struct cred c = cred_of(addr);
	struct account a;
	if (store_user_add(st, addr, &c) != ST_OK || store_user_get(st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

/* A message whose body is `text`; the spool is the caller's to free. */
static struct msg_in msg_text(struct spool **sp, const char *text)
{
	struct msg_in m = {0};
	*sp = spool_new(0);
	spool_write(*sp, text, strlen(text));
	m.body = *sp;
	return m;
}

static int append_text(struct store *st, uint32_t user, const char *mbox, const char *text,
		       uint32_t *uid)
{
	struct spool *sp;
	struct msg_in m = msg_text(&sp, text);
	int rc = store_append(st, user, mbox, &m, NULL, uid);
	spool_free(&sp);
	return rc;
}

struct collect {
	uint32_t uids[256];
	struct msg_info info[256];
	size_t n;
};

static int collect_cb(void *arg, const struct msg_info *m)
{
	struct collect *c = arg;
	if (c->n < 256) {
		c->uids[c->n] = m->uid;
		c->info[c->n++] = *m;
	}
	return 0;
}

static size_t count_msgs(struct store *st, uint32_t user, const char *mbox)
{
	struct collect c = {0};
	if (store_msg_list(st, user, mbox, 0, collect_cb, &c) != ST_OK)
		return (size_t)-1;
	return c.n;
}

static uint64_t used_of(struct store *st, const char *addr)
{
	struct account a;
	if (store_user_get(st, addr, &a) != ST_OK)
		return UINT64_MAX;
	return a.used;
}

/* Power-cut safety rests on LMDB syncing each commit: data pages, then the
 * meta page. kill -9 tests cannot see it (the page cache survives them), so
 * the environment's flags are pinned here (and the system calls by
 * t-97-durability-sync). */
TEST(environment_syncs_every_commit)
{
	struct store *st = fresh(0);
	CHECK(st);
	CHECK_EQ_INT(store_test_sync_flags(st) & STORE_ENV_NOSYNC, 0);
	CHECK_EQ_INT(store_test_sync_flags(st) & STORE_ENV_NOMETASYNC, 0);
	CHECK_EQ_INT(store_test_sync_flags(st) & STORE_ENV_MAPASYNC, 0);
	CHECK_EQ_INT(store_test_sync_flags(st) & STORE_ENV_WRITEMAP, 0);
	CHECK(reopen(&st, 0));
	CHECK_EQ_INT(store_test_sync_flags(st), 0);
	store_close(&st);
	rm_store();
}

TEST(open_close_reopen)
{
	struct store *st = fresh(0), *bad = NULL;
	struct account a;
	char err[256] = "", path[128];
	uint32_t id;
	CHECK(st);
	id = add_user(st, "alice@example.org");
	CHECK(id != 0);
	CHECK(reopen(&st, 0));
	CHECK_EQ_INT(store_user_get(st, "alice@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.id, id);
	CHECK_EQ_STR(a.cred.crypt, "$y$test$alice@example.org");
	/* A small map request on reopen keeps the bigger existing map. */
	CHECK(reopen(&st, 1 << 20));
	CHECK_EQ_INT(store_user_get(st, "ALICE@example.org", &a), ST_OK);
	store_close(&st);
	CHECK(st == NULL);
	store_close(&st); /* twice is harmless */
	/* A file where the directory should be: a clean error. */
	snprintf(path, sizeof path, "%s/notadir", tdir);
	CHECK(file_write_atomic(path, "x", 1, 0600) == 0);
	CHECK(store_open(&bad, path, 0, err, sizeof err) < 0);
	CHECK(bad == NULL && err[0]);
	unlink(path);
	rm_store();
}

struct mlist {
	struct mbox_info m[32];
	size_t n;
};

static void mlist_cb(void *arg, const struct mbox_info *m)
{
	struct mlist *l = arg;
	if (l->n < 32)
		l->m[l->n++] = *m;
}

static const struct mbox_info *mfind(const struct mlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->m[i].name, name) == 0)
			return &l->m[i];
	return NULL;
}

static void count_cb(void *arg, const struct account *a)
{
	(void)a;
	(*(int *)arg)++;
}

TEST(users)
{
	struct store *st = fresh(0);
	struct cred c = cred_of("x"), c2 = cred_of("new");
	struct account a, b;
	struct mlist l = {0};
	static const char *const bad[] = {
		"nobody", "a b@example.org", "@example.org", "a@", "a@b@c", "a\n@x",
		"", "a@.x", "a@x.", "<a@x>", "a@x..y", "a\x7f@x",
	};
	int n = 0;
	uint32_t id1, id2;
	CHECK(st);
	CHECK_EQ_INT(store_user_add(st, "Alice@Example.COM", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "alice@example.com", &a), ST_OK);
	CHECK_EQ_STR(a.addr, "alice@example.com");
	CHECK_EQ_INT(a.quota, QUOTA_DEFAULT);
	CHECK_EQ_INT(a.used, 0);
	CHECK_EQ_INT(store_user_add(st, "alice@EXAMPLE.com", &c), ST_EXISTS);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK_EQ_INT(store_user_add(st, bad[i], &c), ST_INVALID);
	CHECK_EQ_INT(store_user_add(st, "bob@example.com", &c), ST_OK);
	CHECK_EQ_INT(store_user_list(st, count_cb, &n), ST_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(store_user_get_id(st, a.id, &b), ST_OK);
	CHECK_EQ_STR(b.addr, "alice@example.com");
	CHECK_EQ_INT(store_user_get_id(st, 9999, &b), ST_NOTFOUND);
	CHECK_EQ_INT(store_user_get(st, "carol@example.com", &b), ST_NOTFOUND);

	/* The six default mailboxes with their roles, subscribed. */
	CHECK_EQ_INT(store_mbox_list(st, a.id, mlist_cb, &l), ST_OK);
	CHECK_EQ_INT(l.n, 6);
	CHECK(mfind(&l, "INBOX") && mfind(&l, "INBOX")->special == MBOX_INBOX);
	CHECK(mfind(&l, "Drafts") && mfind(&l, "Drafts")->special == MBOX_DRAFTS);
	CHECK(mfind(&l, "Sent") && mfind(&l, "Sent")->special == MBOX_SENT);
	CHECK(mfind(&l, "Junk") && mfind(&l, "Junk")->special == MBOX_JUNK);
	CHECK(mfind(&l, "Trash") && mfind(&l, "Trash")->special == MBOX_TRASH);
	CHECK(mfind(&l, "Archive") && mfind(&l, "Archive")->special == MBOX_ARCHIVE);
	for (size_t i = 0; i < l.n; i++) {
		CHECK(l.m[i].subscribed);
		CHECK_EQ_INT(l.m[i].uidnext, 1);
		CHECK(l.m[i].uidvalidity != 0);
	}

	CHECK_EQ_INT(store_user_set_cred(st, "alice@example.com", &c2), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "alice@example.com", &b), ST_OK);
	CHECK_EQ_STR(b.cred.crypt, "$y$test$new");
	CHECK_EQ_INT(store_user_set_cred(st, "nobody@example.com", &c2), ST_NOTFOUND);

	/* Delete: gone with its mailboxes; ids are never reused. */
	id1 = a.id;
	CHECK_EQ_INT(append_text(st, id1, "INBOX", "hello\r\n", NULL), ST_OK);
	CHECK_EQ_INT(store_user_del(st, "alice@example.com"), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "alice@example.com", &b), ST_NOTFOUND);
	CHECK_EQ_INT(store_user_del(st, "alice@example.com"), ST_NOTFOUND);
	l.n = 0;
	CHECK_EQ_INT(store_mbox_list(st, id1, mlist_cb, &l), ST_OK);
	CHECK_EQ_INT(l.n, 0);
	id2 = add_user(st, "alice@example.com");
	CHECK(id2 != 0 && id2 != id1);
	store_close(&st);
	rm_store();
}

/* DB_META keys starting with prefix, read straight from the closed store's
 * file (the store keeps no API for another account's leftovers); -1 on
 * error. */
static int meta_keys(const char *prefix)
{
	char path[128];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	int n = -1;
	size_t pl = strlen(prefix);
	snprintf(path, sizeof path, "%s/store", tdir);
	if (mdb_env_create(&env))
		return -1;
	if (!mdb_env_set_maxdbs(env, 32) && !mdb_env_open(env, path, MDB_RDONLY, 0600) &&
	    !mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
		if (!mdb_dbi_open(txn, "meta", 0, &dbi) && !mdb_cursor_open(txn, dbi, &c)) {
			n = 0;
			for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
			     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
				n += k.mv_size >= pl && memcmp(k.mv_data, prefix, pl) == 0;
			mdb_cursor_close(c);
		}
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return n;
}

static void sub_count_cb(void *arg, const char *name)
{
	(void)name;
	++*(int *)arg;
}

/* Deleting an account deletes, in the same commit, what DB_META keeps for it
 * outside its records: kept subscriptions (sub/<id>/<name>) and the \Recent
 * marks of its mailboxes (recent/<mailbox id>); deleting a mailbox deletes
 * its \Recent mark. The other account's stay. */
TEST(user_del_forgets_meta)
{
	struct store *st = fresh(0);
	uint32_t u, v, from;
	char vsub[32];
	int n = 0;
	CHECK(st);
	u = add_user(st, "gone@example.org");
	v = add_user(st, "stays@example.org");
	CHECK(u && v);
	CHECK_EQ_INT(store_mbox_create(st, u, "Lab", MBOX_NORMAL), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "Lab2", MBOX_NORMAL), ST_OK);
	const char *boxes[] = {"INBOX", "Lab", "Lab2"};
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(append_text(st, u, boxes[i], "m\r\n", NULL), ST_OK);
		CHECK_EQ_INT(store_mbox_recent(st, u, boxes[i], 2, &from), ST_OK);
	}
	CHECK_EQ_INT(append_text(st, v, "INBOX", "m\r\n", NULL), ST_OK);
	CHECK_EQ_INT(store_mbox_recent(st, v, "INBOX", 2, &from), ST_OK);
	CHECK_EQ_INT(store_sub_keep(st, u, "Gone/One", 1), ST_OK);
	CHECK_EQ_INT(store_sub_keep(st, u, "Gone/Two", 1), ST_OK);
	CHECK_EQ_INT(store_sub_keep(st, v, "Kept", 1), ST_OK);
	CHECK_EQ_INT(store_mbox_delete(st, u, "Lab2"), ST_OK);
	store_close(&st);
	snprintf(vsub, sizeof vsub, "sub/%08x/", v);
	CHECK_EQ_INT(meta_keys("recent/"), 3);
	CHECK_EQ_INT(meta_keys("sub/"), 3);
	CHECK(reopen(&st, 0));
	CHECK_EQ_INT(store_user_del(st, "gone@example.org"), ST_OK);
	CHECK_EQ_INT(store_sub_kept(st, u, sub_count_cb, &n), ST_OK);
	CHECK_EQ_INT(n, 0);
	store_close(&st);
	CHECK_EQ_INT(meta_keys("recent/"), 1);
	CHECK_EQ_INT(meta_keys("sub/"), 1);
	CHECK_EQ_INT(meta_keys(vsub), 1);
	CHECK(reopen(&st, 0));
	CHECK_EQ_INT(store_sub_keep(st, v, "Kept", -1), ST_OK);
	CHECK_EQ_INT(store_mbox_recent(st, v, "INBOX", 0, &from), ST_OK);
	CHECK_EQ_INT(from, 2);
	store_close(&st);
	rm_store();
}

TEST(uids_monotonic)
{
	struct store *st = fresh(0);
	struct mbox_info mi, mi2;
	uint32_t u, uid, uv;
	CHECK(st);
	u = add_user(st, "u@example.org");
	for (uint32_t i = 1; i <= 3; i++) {
		CHECK_EQ_INT(append_text(st, u, "INBOX", "m\r\n", &uid), ST_OK);
		CHECK_EQ_INT(uid, i);
	}
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &uid, 1), ST_OK);
	CHECK_EQ_INT(append_text(st, u, "INBOX", "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 4); /* 3 is not reused */
	CHECK_EQ_INT(store_mbox_get(st, u, "inbox", &mi), ST_OK);
	uv = mi.uidvalidity;
	CHECK(reopen(&st, 0));
	CHECK_EQ_INT(append_text(st, u, NULL, "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 5);
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX", &mi), ST_OK);
	CHECK_EQ_INT(mi.uidvalidity, uv);
	CHECK_EQ_INT(mi.uidnext, 6);
	CHECK_EQ_INT(mi.exists, 4);

	/* Delete + re-create: a new UIDVALIDITY, so old UIDs never alias. */
	CHECK_EQ_INT(store_mbox_create(st, u, "work", 0), ST_OK);
	CHECK_EQ_INT(append_text(st, u, "work", "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "work", &mi), ST_OK);
	CHECK_EQ_INT(store_mbox_delete(st, u, "work"), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "work", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "work", &mi2), ST_OK);
	CHECK(mi2.uidvalidity != mi.uidvalidity);
	/* ... and its UIDs go on above the old ones all the same. */
	CHECK_EQ_INT(mi2.uidnext, 2);
	CHECK_EQ_INT(append_text(st, u, "work", "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 2);
	/* Rename keeps UIDVALIDITY and UIDNEXT. */
	CHECK_EQ_INT(store_mbox_rename(st, u, "work", "play"), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "play", &mi), ST_OK);
	CHECK_EQ_INT(mi.uidvalidity, mi2.uidvalidity);
	CHECK_EQ_INT(append_text(st, u, "play", "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 3);
	/* A name renamed away and created again goes on above it too. */
	CHECK_EQ_INT(store_mbox_create(st, u, "work", 0), ST_OK);
	CHECK_EQ_INT(append_text(st, u, "work", "m\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 3);
	/* Rename "play" (UIDNEXT 4) onto... no: a lower mailbox renamed over a
	 * tombstone keeps the tombstone's high-water mark for later. */
	CHECK_EQ_INT(store_mbox_create(st, u, "low", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_delete(st, u, "play"), ST_OK);
	CHECK_EQ_INT(store_mbox_rename(st, u, "low", "play"), ST_OK);
	CHECK_EQ_INT(store_mbox_delete(st, u, "play"), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "play", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "play", &mi), ST_OK);
	CHECK_EQ_INT(mi.uidnext, 4);
	store_close(&st);
	rm_store();
}

struct kwl {
	char names[70][130];
	int n;
};

static void kw_cb(void *arg, int index, const char *name)
{
	struct kwl *k = arg;
	if (index < 70)
		snprintf(k->names[index], sizeof k->names[0], "%s", name);
	k->n++;
}

static int first_uid_cb(void *arg, const struct msg_info *m)
{
	*(uint32_t *)arg = m->uid;
	return 1;
}

TEST(flags_keywords_modseq)
{
	struct store *st = fresh(0);
	struct msg_info mi;
	struct mbox_info bi;
	struct kwl kl = {0};
	const char *kws[] = {"$Forwarded", "work"}, *k2[] = {"WORK"}, *k3[] = {"bad kw"};
	uint32_t u, uids[3], uid;
	uint64_t ms;
	CHECK(st);
	u = add_user(st, "f@example.org");
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(append_text(st, u, NULL, "m\r\n", &uids[i]), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
	CHECK_EQ_INT(bi.unseen, 3);
	ms = bi.highestmodseq;
	CHECK_EQ_INT(store_msg_get(st, u, NULL, uids[2], &mi), ST_OK);
	CHECK_EQ_INT(mi.modseq, ms);

	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 2, FLAGS_ADD, FL_SEEN, kws, 2), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
	CHECK_EQ_INT(bi.unseen, 1);
	CHECK_EQ_INT(bi.highestmodseq, ms + 2); /* one per changed message */
	CHECK_EQ_INT(store_msg_get(st, u, NULL, uids[0], &mi), ST_OK);
	CHECK_EQ_INT(mi.flags, FL_SEEN);
	CHECK_EQ_INT(mi.keywords, 3);
	CHECK_EQ_INT(mi.modseq, ms + 1);
	/* No change, no new modseq. */
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 2, FLAGS_ADD, FL_SEEN, NULL, 0), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
	CHECK_EQ_INT(bi.highestmodseq, ms + 2);
	/* Keywords match case-insensitively; DEL; SET replaces. */
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 1, FLAGS_DEL, 0, k2, 1), ST_OK);
	CHECK_EQ_INT(store_msg_get(st, u, NULL, uids[0], &mi), ST_OK);
	CHECK_EQ_INT(mi.keywords, 1);
	CHECK_EQ_INT(mi.flags, FL_SEEN);
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 1, FLAGS_SET, FL_FLAGGED | FL_DELETED, k2,
				     1), ST_OK);
	CHECK_EQ_INT(store_msg_get(st, u, NULL, uids[0], &mi), ST_OK);
	CHECK_EQ_INT(mi.flags, FL_FLAGGED | FL_DELETED);
	CHECK_EQ_INT(mi.keywords, 2);
	CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
	CHECK_EQ_INT(bi.unseen, 2);
	CHECK_EQ_INT(mi.modseq, bi.highestmodseq);
	/* Unknown UIDs are skipped. */
	uid = 999;
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, &uid, 1, FLAGS_ADD, FL_SEEN, NULL, 0), ST_OK);
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 1, FLAGS_ADD, 0, k3, 1), ST_INVALID);
	CHECK_EQ_INT(store_mbox_keywords(st, u, NULL, kw_cb, &kl), ST_OK);
	CHECK_EQ_INT(kl.n, 2);
	CHECK_EQ_STR(kl.names[0], "$Forwarded");
	CHECK_EQ_STR(kl.names[1], "work");

	/* The table holds STORE_KEYWORDS; one more is refused and changes nothing. */
	for (int i = 2; i < STORE_KEYWORDS; i++) {
		char name[16];
		const char *p = name;
		snprintf(name, sizeof name, "kw%d", i);
		CHECK_EQ_INT(store_msg_flags(st, u, NULL, &uids[1], 1, FLAGS_ADD, 0, &p, 1), ST_OK);
	}
	{
		const char *p = "one-too-many";
		CHECK_EQ_INT(store_msg_flags(st, u, NULL, &uids[1], 1, FLAGS_ADD, 0, &p, 1),
			     ST_LIMIT);
	}
	kl.n = 0;
	CHECK_EQ_INT(store_mbox_keywords(st, u, NULL, kw_cb, &kl), ST_OK);
	CHECK_EQ_INT(kl.n, STORE_KEYWORDS);
	CHECK_EQ_STR(kl.names[63], "kw63");
	CHECK_EQ_INT(store_msg_get(st, u, NULL, uids[1], &mi), ST_OK);
	CHECK(mi.keywords == ~0ULL);
	/* Existing names still work when the table is full. */
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, &uids[2], 1, FLAGS_ADD, 0, k2, 1), ST_OK);
	/* An APPEND with keywords registers them too. */
	{
		struct spool *sp;
		struct msg_in m = msg_text(&sp, "x\r\n");
		const char *ak[] = {"fresh"};
		m.keywords = ak;
		m.nkeywords = 1;
		CHECK_EQ_INT(store_append(st, u, "Drafts", &m, NULL, &uid), ST_OK);
		spool_free(&sp);
		CHECK_EQ_INT(store_msg_get(st, u, "Drafts", uid, &mi), ST_OK);
		CHECK_EQ_INT(mi.keywords, 1);
	}
	/* docs/imap.md "keywords per mailbox": into a full table, an APPEND
	 * with a new keyword, and a COPY or MOVE of a message carrying one,
	 * are refused whole (ST_LIMIT: IMAP NO [LIMIT]) and change nothing. */
	{
		struct spool *sp;
		struct msg_in m = msg_text(&sp, "y\r\n");
		const char *ak[] = {"fresh2"};
		uint32_t nu[1] = {0}, before;
		m.keywords = ak;
		m.nkeywords = 1;
		CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
		before = bi.exists;
		CHECK_EQ_INT(store_append(st, u, NULL, &m, NULL, &uid), ST_LIMIT);
		spool_free(&sp);
		CHECK_EQ_INT(store_msg_list(st, u, "Drafts", 1, first_uid_cb, &uid), ST_OK);
		CHECK_EQ_INT(store_msg_copy(st, u, "Drafts", "INBOX", &uid, 1, 0, NULL, nu), ST_LIMIT);
		CHECK_EQ_INT(store_msg_copy(st, u, "Drafts", "INBOX", &uid, 1, 1, NULL, nu), ST_LIMIT);
		CHECK_EQ_INT(store_mbox_get(st, u, NULL, &bi), ST_OK);
		CHECK_EQ_INT(bi.exists, before);
		CHECK_EQ_INT(store_mbox_get(st, u, "Drafts", &bi), ST_OK);
		CHECK_EQ_INT(bi.exists, 1);
		CHECK_EQ_INT(store_msg_get(st, u, "Drafts", uid, &mi), ST_OK);
		CHECK_EQ_INT(mi.keywords, 1);
		/* Keywords the destination already has still copy. */
		CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Drafts", &uids[2], 1, 0, NULL, nu), ST_OK);
		CHECK(nu[0] != 0);
	}
	store_close(&st);
	rm_store();
}

TEST(quotas)
{
	struct store *st = fresh(0);
	struct account a;
	struct spool *sp;
	struct msg_in m;
	char body[1000];
	uint32_t u, v, users[2], uid, newuids[1];
	int rcs[2];
	CHECK(st);
	memset(body, 'x', sizeof body - 1);
	body[sizeof body - 1] = 0;
	u = add_user(st, "q@example.org");
	v = add_user(st, "r@example.org");
	store_set_default_quota(st, 2500);
	CHECK_EQ_INT(store_user_get(st, "q@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.quota_effective, 2500);
	CHECK_EQ_INT(append_text(st, u, NULL, body, &uid), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 999);
	CHECK_EQ_INT(append_text(st, u, NULL, body, NULL), ST_OK);
	CHECK_EQ_INT(append_text(st, u, NULL, body, NULL), ST_QUOTA);
	CHECK_EQ_INT(store_quota_check(st, u, 502), ST_OK);
	CHECK_EQ_INT(store_quota_check(st, u, 503), ST_QUOTA);
	CHECK_EQ_INT(store_quota_check(st, u, 2501), ST_TOOBIG);
	CHECK_EQ_INT(store_quota_check(st, 4242, 1), ST_NOTFOUND);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 1998);

	/* Deliver: refused for one user, stored for the other, one commit. */
	m = msg_text(&sp, body);
	users[0] = u;
	users[1] = v;
	CHECK_EQ_INT(store_deliver(st, users, 2, NULL, &m, rcs, NULL), ST_OK);
	CHECK_EQ_INT(rcs[0], ST_QUOTA);
	CHECK_EQ_INT(rcs[1], ST_OK);
	CHECK_EQ_INT(used_of(st, "r@example.org"), 999);

	/* Per-account override, then back to the default. */
	CHECK_EQ_INT(store_user_set_quota(st, "q@example.org", 500), ST_OK);
	CHECK_EQ_INT(store_quota_check(st, u, 600), ST_TOOBIG);
	CHECK_EQ_INT(store_user_set_quota(st, "q@example.org", 0), ST_OK); /* none */
	CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, NULL), ST_OK);
	CHECK_EQ_INT(rcs[0], ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 2997);
	CHECK_EQ_INT(store_user_set_quota(st, "q@example.org", QUOTA_DEFAULT), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "q@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.quota_effective, 2500);
	CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, NULL), ST_OK);
	CHECK_EQ_INT(rcs[0], ST_QUOTA);
	spool_free(&sp);

	/* Expunge gives it back; COPY counts again (and is all or nothing);
	 * MOVE does not. */
	CHECK_EQ_INT(store_msg_expunge(st, u, NULL, &uid, 1), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 1998);
	uid = 2;
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", &uid, 1, 0, NULL, newuids), ST_QUOTA);
	store_set_default_quota(st, 0);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", &uid, 1, 0, NULL, newuids), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 2997);
	CHECK_EQ_INT(store_msg_copy(st, u, "Archive", "Trash", newuids, 1, 1, NULL, newuids), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 2997);
	CHECK_EQ_INT(store_user_get(st, "q@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, 3);
	/* Deleting a mailbox gives its bytes back. */
	CHECK_EQ_INT(store_mbox_delete(st, u, "Trash"), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 1998);
	/* Deleting another user who shared bytes with q changes nothing for q. */
	m = msg_text(&sp, body);
	CHECK_EQ_INT(store_deliver(st, users, 2, NULL, &m, rcs, NULL), ST_OK);
	spool_free(&sp);
	CHECK_EQ_INT(rcs[0], ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 2997);
	CHECK_EQ_INT(store_user_del(st, "r@example.org"), ST_OK);
	CHECK_EQ_INT(used_of(st, "q@example.org"), 2997);
	CHECK_EQ_INT(store_user_get(st, "q@example.org", &a), ST_OK);
	CHECK_EQ_INT(a.messages, 3);
	store_close(&st);
	rm_store();
}

static int has_user(const struct resolved *r, uint32_t id)
{
	for (size_t i = 0; i < r->nusers; i++)
		if (r->users[i] == id)
			return 1;
	return 0;
}

static int has_ext(const struct resolved *r, const char *a)
{
	for (size_t i = 0; i < r->nexternal; i++)
		if (strcmp(r->external[i], a) == 0)
			return 1;
	return 0;
}

struct alist {
	int n;
	int saw_sales;
};

static void alias_cb(void *arg, const char *addr, const char *const *t, size_t n)
{
	struct alist *l = arg;
	l->n++;
	if (strcmp(addr, "sales@example.org") == 0 && n == 2 && strcmp(t[0], "a@example.org") == 0)
		l->saw_sales = 1;
}

TEST(aliases)
{
	struct store *st = fresh(0);
	struct resolved r;
	struct cred c = cred_of("x");
	struct alist al = {0};
	uint32_t a, b;
	const char *t1[] = {"a@example.org", "B@example.org"};
	const char *t2[] = {"sales@example.org", "a@example.org", "friend@remote.net"};
	const char *loop1[] = {"loop2@example.org", "a@example.org"}, *loop2[] = {"loop1@example.org"};
	const char *ghost[] = {"ghost@example.org"};
	const char *ca[] = {"b@example.org"};
	const char *self[] = {"a@example.org"};
	CHECK(st);
	a = add_user(st, "a@example.org");
	b = add_user(st, "b@example.org");

	/* Accounts resolve to themselves; unknown addresses are NOTFOUND. */
	CHECK_EQ_INT(store_resolve(st, "A@Example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 1);
	CHECK_EQ_INT(r.users[0], a);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "nobody@example.org", &r), ST_NOTFOUND);
	CHECK_EQ_INT(store_resolve(st, "not an address", &r), ST_INVALID);

	CHECK_EQ_INT(store_alias_add(st, "sales@example.org", t1, 2), ST_OK);
	CHECK_EQ_INT(store_alias_add(st, "a@example.org", t1, 1), ST_EXISTS);
	CHECK_EQ_INT(store_user_add(st, "sales@example.org", &c), ST_EXISTS);
	CHECK_EQ_INT(store_alias_add(st, "x@example.org", (const char *[]){"no way"}, 1), ST_INVALID);
	/* Chain + dedupe + external. */
	CHECK_EQ_INT(store_alias_add(st, "all@example.org", t2, 3), ST_OK);
	CHECK_EQ_INT(store_resolve(st, "all@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 2);
	CHECK(has_user(&r, a) && has_user(&r, b));
	CHECK_EQ_INT(r.nexternal, 1);
	CHECK(has_ext(&r, "friend@remote.net"));
	store_resolved_free(&r);
	CHECK_EQ_INT(r.nexternal, 0);
	/* Adding again merges and dedupes targets. */
	CHECK_EQ_INT(store_alias_add(st, "all@example.org", t2, 3), ST_OK);
	CHECK_EQ_INT(store_resolve(st, "all@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers + r.nexternal, 3);
	store_resolved_free(&r);

	/* Loops terminate and still deliver what they can. */
	CHECK_EQ_INT(store_alias_add(st, "loop1@example.org", loop1, 2), ST_OK);
	CHECK_EQ_INT(store_alias_add(st, "loop2@example.org", loop2, 1), ST_OK);
	CHECK_EQ_INT(store_resolve(st, "loop2@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 1);
	CHECK_EQ_INT(r.users[0], a);
	CHECK_EQ_INT(r.nexternal, 0);
	store_resolved_free(&r);
	/* A self-loop. */
	CHECK_EQ_INT(store_alias_add(st, "me@example.org", (const char *[]){"me@example.org"}, 1),
		     ST_OK);
	CHECK_EQ_INT(store_resolve(st, "me@example.org", &r), ST_NOTFOUND);
	/* A deep chain beyond the depth bound ends without a crash. */
	for (int i = 0; i < 20; i++) {
		char from[64], to[64];
		const char *tp = to;
		snprintf(from, sizeof from, "d%d@example.org", i);
		snprintf(to, sizeof to, i == 19 ? "a@example.org" : "d%d@example.org", i + 1);
		CHECK_EQ_INT(store_alias_add(st, from, &tp, 1), ST_OK);
	}
	CHECK_EQ_INT(store_resolve(st, "d15@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.users[0], a);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "d0@example.org", &r), ST_NOTFOUND);

	/* A target in a local domain that does not exist gives nothing. */
	CHECK_EQ_INT(store_alias_add(st, "old@example.org", ghost, 1), ST_OK);
	CHECK_EQ_INT(store_resolve(st, "old@example.org", &r), ST_NOTFOUND);

	/* +tag: the base address, whether account or alias. */
	CHECK_EQ_INT(store_resolve(st, "a+lists@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 1);
	CHECK_EQ_INT(r.users[0], a);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "sales+x@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 2);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "+x@example.org", &r), ST_NOTFOUND);

	/* Catch-all: only after exact and +tag; now ghost lands there too. */
	CHECK_EQ_INT(store_alias_add(st, "@example.org", ca, 1), ST_OK);
	CHECK_EQ_INT(store_resolve(st, "whoever@EXAMPLE.org", &r), ST_OK);
	CHECK_EQ_INT(r.nusers, 1);
	CHECK_EQ_INT(r.users[0], b);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "a@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.users[0], a);
	store_resolved_free(&r);
	CHECK_EQ_INT(store_resolve(st, "old@example.org", &r), ST_OK);
	CHECK_EQ_INT(r.users[0], b);
	store_resolved_free(&r);
	/* A catch-all pointing into its own domain does not loop. */
	CHECK_EQ_INT(store_alias_del(st, "@example.org"), ST_OK);
	CHECK_EQ_INT(store_alias_add(st, "@example.org", (const char *[]){"zz@example.org"}, 1),
		     ST_OK);
	CHECK_EQ_INT(store_resolve(st, "whoever@example.org", &r), ST_NOTFOUND);
	CHECK_EQ_INT(store_alias_del(st, "@example.org"), ST_OK);
	CHECK_EQ_INT(store_alias_del(st, "@example.org"), ST_NOTFOUND);
	(void)self;

	CHECK_EQ_INT(store_alias_list(st, alias_cb, &al), ST_OK);
	CHECK(al.n >= 6);
	CHECK(al.saw_sales);
	store_close(&st);
	rm_store();
}

TEST(mailbox_tree)
{
	struct store *st = fresh(0);
	struct mbox_info mi, inbox_before;
	struct mlist l = {0};
	uint32_t u, uid;
	CHECK(st);
	u = add_user(st, "t@example.org");
	CHECK_EQ_INT(store_mbox_create(st, u, "Projects/2024/Q1", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Projects", &mi), ST_OK); /* parents made */
	CHECK_EQ_INT(store_mbox_get(st, u, "Projects/2024", &mi), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "Projects", 0), ST_EXISTS);
	CHECK_EQ_INT(store_mbox_create(st, u, "inbox", 0), ST_EXISTS);
	CHECK_EQ_INT(store_mbox_create(st, u, "a//b", 0), ST_INVALID);
	CHECK_EQ_INT(store_mbox_create(st, u, "/a", 0), ST_INVALID);
	CHECK_EQ_INT(store_mbox_create(st, u, "a*", 0), ST_INVALID);
	CHECK_EQ_INT(store_mbox_create(st, u, "bad\xff", 0), ST_INVALID);
	CHECK_EQ_INT(store_mbox_create(st, u, "Über", 0), ST_OK);
	/* docs/store.md: names up to 507 bytes (LMDB's 511-byte key less the
	 * account id); longer is ST_INVALID. An empty mailbox has
	 * HIGHESTMODSEQ 1. */
	{
		char nm[520];
		memset(nm, 'n', sizeof nm);
		nm[507] = 0;
		CHECK_EQ_INT(store_mbox_create(st, u, nm, 0), ST_OK);
		CHECK_EQ_INT(store_mbox_get(st, u, nm, &mi), ST_OK);
		CHECK(mi.highestmodseq == 1);
		nm[507] = 'n';
		nm[508] = 0;
		CHECK_EQ_INT(store_mbox_create(st, u, nm, 0), ST_INVALID);
		nm[507] = 0;
		CHECK_EQ_INT(store_mbox_delete(st, u, nm), ST_OK);
	}
	CHECK_EQ_INT(store_mbox_create(st, 777, "x", 0), ST_NOTFOUND);
	CHECK_EQ_INT(store_mbox_delete(st, u, "INBOX"), ST_INVALID);
	CHECK_EQ_INT(store_mbox_delete(st, u, "nope"), ST_NOTFOUND);
	CHECK_EQ_INT(store_mbox_subscribe(st, u, "Projects", 1), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Projects", &mi), ST_OK);
	CHECK(mi.subscribed);

	/* Rename a parent: children follow. */
	CHECK_EQ_INT(append_text(st, u, "Projects/2024/Q1", "q1\r\n", &uid), ST_OK);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Projects", "Old/Projects"), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Projects", &mi), ST_NOTFOUND);
	CHECK_EQ_INT(store_mbox_get(st, u, "Projects/2024/Q1", &mi), ST_NOTFOUND);
	CHECK_EQ_INT(store_mbox_get(st, u, "Old", &mi), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Old/Projects/2024/Q1", &mi), ST_OK);
	CHECK_EQ_INT(mi.exists, 1);
	CHECK_EQ_INT(count_msgs(st, u, "Old/Projects/2024/Q1"), 1);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Old", "Old/x"), ST_INVALID);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Old", "Sent"), ST_EXISTS);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Old", "INBOX"), ST_EXISTS);
	CHECK_EQ_INT(store_mbox_rename(st, u, "Nope", "x"), ST_NOTFOUND);

	/* RFC 3501 6.3.5: INBOX rename moves its messages, INBOX stays empty,
	 * its inferiors stay. */
	CHECK_EQ_INT(store_mbox_create(st, u, "INBOX/keep", 0), ST_OK);
	CHECK_EQ_INT(append_text(st, u, NULL, "one\r\n", NULL), ST_OK);
	CHECK_EQ_INT(append_text(st, u, NULL, "two\r\n", NULL), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX", &inbox_before), ST_OK);
	CHECK_EQ_INT(store_mbox_rename(st, u, "inbox", "Saved"), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Saved", &mi), ST_OK);
	CHECK_EQ_INT(mi.exists, 2);
	CHECK_EQ_INT(mi.special, MBOX_NORMAL);
	CHECK_EQ_INT(mi.uidvalidity, inbox_before.uidvalidity);
	CHECK_EQ_INT(count_msgs(st, u, "Saved"), 2);
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX", &mi), ST_OK);
	CHECK_EQ_INT(mi.exists, 0);
	CHECK_EQ_INT(mi.special, MBOX_INBOX);
	CHECK(mi.uidvalidity != inbox_before.uidvalidity);
	CHECK_EQ_INT(count_msgs(st, u, "INBOX"), 0);
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX/keep", &mi), ST_OK);
	CHECK_EQ_INT(store_mbox_get(st, u, "Saved/keep", &mi), ST_NOTFOUND);
	/* Delivery still lands in the new INBOX, UIDs above the old ones. */
	CHECK_EQ_INT(append_text(st, u, NULL, "three\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, inbox_before.uidnext);
	CHECK_EQ_INT(count_msgs(st, u, "INBOX"), 1);

	/* Delete drops the messages. */
	CHECK_EQ_INT(store_mbox_delete(st, u, "Saved"), ST_OK);
	CHECK_EQ_INT(store_msg_list(st, u, "Saved", 0, collect_cb, &(struct collect){0}),
		     ST_NOTFOUND);
	CHECK_EQ_INT(used_of(st, "t@example.org"), 4 + 7);
	CHECK_EQ_INT(store_mbox_list(st, u, mlist_cb, &l), ST_OK);
	CHECK(mfind(&l, "Old/Projects/2024") != NULL);
	store_close(&st);
	rm_store();
}

static void fill_random(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

TEST(shared_bytes_and_streaming)
{
	struct store *st = fresh(1 << 20); /* 1 MiB: the 5 MiB message must grow it */
	struct store_stats ss;
	struct spool *sp = spool_new(64 * 1024);
	struct msg_in m = {0};
	const char hdr[] = "Return-Path: <x@remote.net>\r\n";
	size_t big = 5 * 1024 * 1024 + 12345, total = big + strlen(hdr), got = 0;
	unsigned char *in = malloc(big), *out = malloc(total + 100);
	uint32_t users[3], uids[3], refs;
	int rcs[3];
	struct msg_info mi[3];
	CHECK(st && in && out);
	fill_random(in, big, 42);
	/* Write in uneven pieces so the spool spills to its file. */
	for (size_t off = 0; off < big; off += 10007)
		CHECK(spool_write(sp, in + off, big - off < 10007 ? big - off : 10007) == 0);
	CHECK(spool_mem(sp) == NULL);
	m.hdr = hdr;
	m.hdrlen = strlen(hdr);
	m.body = sp;
	users[0] = add_user(st, "one@example.org");
	users[1] = add_user(st, "two@example.org");
	users[2] = add_user(st, "three@example.org");
	CHECK_EQ_INT(store_deliver(st, users, 3, NULL, &m, rcs, uids), ST_OK);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ_INT(rcs[i], ST_OK);
		CHECK_EQ_INT(store_msg_get(st, users[i], NULL, uids[i], &mi[i]), ST_OK);
		CHECK_EQ_INT(mi[i].size, total);
	}
	CHECK(mi[0].blob == mi[1].blob && mi[1].blob == mi[2].blob);
	CHECK_EQ_INT(store_blob_refs(st, mi[0].blob, &refs), ST_OK);
	CHECK_EQ_INT(refs, 3);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, 1);
	CHECK(ss.map_size > (1 << 20)); /* it grew */
	CHECK(ss.chunks >= total / 65536);

	/* Stream it back in odd pieces. */
	for (;;) {
		long n = store_msg_read(st, mi[1].blob, got, out + got, 7777);
		CHECK(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
		CHECK(got <= total);
	}
	CHECK_EQ_INT(got, total);
	CHECK(memcmp(out, hdr, strlen(hdr)) == 0);
	CHECK(memcmp(out + strlen(hdr), in, big) == 0);
	/* Reads across a chunk boundary and past the end. */
	CHECK_EQ_INT(store_msg_read(st, mi[0].blob, 65520 - 3, out, 10), 10);
	CHECK(memcmp(out, in + 65520 - 3 - strlen(hdr), 10) == 0);
	CHECK_EQ_INT(store_msg_read(st, mi[0].blob, total, out, 10), 0);
	CHECK_EQ_INT(store_msg_read(st, mi[0].blob, total - 4, out, 10), 4);
	CHECK_EQ_INT(store_msg_read(st, 999999, 0, out, 10), -1);

	/* Expunge by all: freed. */
	CHECK_EQ_INT(store_msg_expunge(st, users[0], NULL, &uids[0], 1), ST_OK);
	CHECK_EQ_INT(store_blob_refs(st, mi[0].blob, &refs), ST_OK);
	CHECK_EQ_INT(refs, 2);
	CHECK_EQ_INT(store_msg_expunge(st, users[1], NULL, &uids[1], 1), ST_OK);
	CHECK_EQ_INT(store_user_del(st, "three@example.org"), ST_OK);
	CHECK_EQ_INT(store_blob_refs(st, mi[0].blob, &refs), ST_NOTFOUND);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, 0);
	CHECK_EQ_INT(ss.chunks, 0);
	CHECK_EQ_INT(store_msg_read(st, mi[0].blob, 0, out, 10), -1);
	spool_free(&sp);
	free(in);
	free(out);
	/* The grown map survives a reopen with a small request. */
	CHECK(reopen(&st, 1 << 20));
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK(ss.map_size > (1 << 20));
	store_close(&st);
	rm_store();
}

TEST(copy_move)
{
	struct store *st = fresh(0);
	struct collect c = {0};
	struct msg_info mi;
	struct mbox_info bi;
	const char *kw[] = {"blue"};
	uint32_t u, uids[3], nu[4], uv, refs, ask[4];
	CHECK(st);
	u = add_user(st, "c@example.org");
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(append_text(st, u, NULL, "copy me\r\n", &uids[i]), ST_OK);
	CHECK_EQ_INT(store_msg_flags(st, u, NULL, uids, 1, FLAGS_ADD, FL_FLAGGED, kw, 1), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "Dest", 0), ST_OK);
	CHECK_EQ_INT(store_msg_flags(st, u, "Dest", NULL, 0, FLAGS_ADD, 0,
				     (const char *[]){"other"}, 1), ST_OK);
	ask[0] = uids[0];
	ask[1] = 99;
	ask[2] = uids[1];
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Dest", ask, 3, 0, &uv, nu), ST_OK);
	CHECK_EQ_INT(nu[0], 1);
	CHECK_EQ_INT(nu[1], 0);
	CHECK_EQ_INT(nu[2], 2);
	CHECK_EQ_INT(store_mbox_get(st, u, "Dest", &bi), ST_OK);
	CHECK_EQ_INT(bi.uidvalidity, uv);
	CHECK_EQ_INT(bi.exists, 2);
	CHECK_EQ_INT(store_msg_get(st, u, "Dest", 1, &mi), ST_OK);
	CHECK_EQ_INT(mi.flags, FL_FLAGGED);
	CHECK_EQ_INT(mi.keywords, 2); /* "blue" is bit 1 in Dest ("other" is 0) */
	CHECK_EQ_INT(store_blob_refs(st, mi.blob, &refs), ST_OK);
	CHECK_EQ_INT(refs, 2);
	CHECK_EQ_INT(count_msgs(st, u, "INBOX"), 3);

	/* MOVE: gone from the source, same bytes, no new reference. */
	ask[0] = uids[2];
	ask[1] = uids[2]; /* twice: the second is already gone */
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Dest", ask, 2, 1, &uv, nu), ST_OK);
	CHECK_EQ_INT(nu[0], 3);
	CHECK_EQ_INT(nu[1], 0);
	CHECK_EQ_INT(count_msgs(st, u, "INBOX"), 2);
	CHECK_EQ_INT(store_msg_get(st, u, "Dest", 3, &mi), ST_OK);
	CHECK_EQ_INT(store_blob_refs(st, mi.blob, &refs), ST_OK);
	CHECK_EQ_INT(refs, 1);
	CHECK_EQ_INT(store_mbox_get(st, u, "INBOX", &bi), ST_OK);
	CHECK_EQ_INT(bi.exists, 2);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Nope", uids, 1, 0, NULL, nu), ST_NOTFOUND);
	/* Move within one mailbox: a new UID. */
	CHECK_EQ_INT(store_msg_copy(st, u, "Dest", "Dest", &nu[0], 1, 1, NULL, nu), ST_OK);
	CHECK_EQ_INT(nu[0], 4);
	CHECK_EQ_INT(store_msg_list(st, u, "Dest", 3, collect_cb, &c), ST_OK);
	CHECK_EQ_INT(c.n, 1);
	CHECK_EQ_INT(c.uids[0], 4);
	store_close(&st);
	rm_store();
}

struct hookrec {
	uint32_t users[16];
	int n;
};

static void hook_cb(void *arg, uint32_t user)
{
	struct hookrec *h = arg;
	if (h->n < 16)
		h->users[h->n++] = user;
}

struct qcollect {
	int n;
	uint64_t ids[8], blobs[8];
	char from[8][256], rcpt1[8][256];
	size_t nrcpts[8];
};

static int queue_cb(void *arg, const struct queue_entry *e)
{
	struct qcollect *q = arg;
	if (q->n < 8) {
		q->ids[q->n] = e->id;
		q->blobs[q->n] = e->blob;
		snprintf(q->from[q->n], 256, "%s", e->from);
		snprintf(q->rcpt1[q->n], 256, "%s", e->nrcpts > 1 ? e->rcpts[1] : "");
		q->nrcpts[q->n] = e->nrcpts;
		if (e->attempts != 0 || e->created == 0 || e->next_try < e->created ||
		    e->last_error[0] || e->size != 6)
			q->nrcpts[q->n] = 999;
		q->n++;
	}
	return 0;
}

TEST(queue)
{
	struct store *st = fresh(0);
	struct qcollect q = {0};
	struct hookrec h = {0};
	struct spool *sp;
	struct msg_in m = msg_text(&sp, "bytes\n");
	const char *r2[] = {"x@remote.net", "Y@Remote.NET"}, *r1[] = {"z@remote.net"};
	struct store_stats ss;
	uint64_t id1, id2;
	CHECK(st);
	store_set_commit_hook(st, hook_cb, &h);
	CHECK_EQ_INT(store_queue_add(st, "a@example.org", r2, 2, &m, &id1), ST_OK);
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(h.users[0], 0); /* a queue change: "everyone" */
	CHECK_EQ_INT(store_queue_add(st, "", r1, 1, &m, &id2), ST_OK);
	CHECK(id2 > id1);
	CHECK_EQ_INT(store_queue_add(st, "a@example.org", r1, 0, &m, NULL), ST_INVALID);
	CHECK_EQ_INT(store_queue_add(st, "a@example.org", (const char *[]){"bad"}, 1, &m, NULL),
		     ST_INVALID);
	CHECK_EQ_INT(store_queue_list(st, queue_cb, &q), ST_OK);
	CHECK_EQ_INT(q.n, 2);
	CHECK_EQ_INT(q.ids[0], id1);
	CHECK_EQ_STR(q.from[0], "a@example.org");
	CHECK_EQ_INT(q.nrcpts[0], 2);
	CHECK_EQ_STR(q.rcpt1[0], "y@remote.net");
	CHECK_EQ_STR(q.from[1], "");
	CHECK_EQ_INT(q.nrcpts[1], 1);
	CHECK(q.blobs[0] != q.blobs[1]);
	{
		char buf[16];
		CHECK_EQ_INT(store_msg_read(st, q.blobs[0], 0, buf, sizeof buf), 6);
		CHECK(memcmp(buf, "bytes\n", 6) == 0);
	}
	CHECK_EQ_INT(store_queue_del(st, id1), ST_OK);
	CHECK_EQ_INT(store_queue_del(st, id1), ST_NOTFOUND);
	q.n = 0;
	CHECK_EQ_INT(store_queue_list(st, queue_cb, &q), ST_OK);
	CHECK_EQ_INT(q.n, 1);
	CHECK_EQ_INT(q.ids[0], id2);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.queued, 1);
	CHECK_EQ_INT(ss.blobs, 1);
	CHECK(reopen(&st, 0));
	q.n = 0;
	CHECK_EQ_INT(store_queue_list(st, queue_cb, &q), ST_OK);
	CHECK_EQ_INT(q.n, 1);
	CHECK_EQ_INT(store_queue_del(st, id2), ST_OK);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, 0);
	spool_free(&sp);
	store_close(&st);
	rm_store();
}

static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(watchers)
{
	struct store *st = fresh(0);
	struct hookrec h = {0};
	uint32_t a, b, users[1];
	int fa, fb, rcs[1];
	uint64_t v;
	struct spool *sp;
	struct msg_in m = msg_text(&sp, "new mail\r\n");
	CHECK(st);
	a = add_user(st, "w1@example.org");
	b = add_user(st, "w2@example.org");
	fa = store_watch_open(st, a);
	fb = store_watch_open(st, b);
	CHECK(fa >= 0 && fb >= 0);
	CHECK(!readable(fa) && !readable(fb));
	store_set_commit_hook(st, hook_cb, &h);
	users[0] = a;
	CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, NULL), ST_OK);
	CHECK(readable(fa));
	CHECK(!readable(fb));
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(h.users[0], a);
	CHECK(read(fa, &v, sizeof v) == sizeof v);
	CHECK(!readable(fa));
	/* A refused delivery touched nobody. */
	store_set_default_quota(st, 1);
	CHECK_EQ_INT(store_deliver(st, users, 1, NULL, &m, rcs, NULL), ST_OK);
	CHECK_EQ_INT(rcs[0], ST_TOOBIG);
	CHECK(!readable(fa));
	store_set_default_quota(st, 0);
	store_notify(st, b);
	CHECK(!readable(fa) && readable(fb));
	CHECK(read(fb, &v, sizeof v) == sizeof v);
	store_notify(st, 0);
	CHECK(readable(fa) && readable(fb));
	store_watch_close(st, a, fa);
	store_set_commit_hook(st, NULL, NULL);
	spool_free(&sp);
	store_close(&st); /* closes fb */
	rm_store();
}

/* ---- concurrency: threads of one process, and two processes ---- */

struct worker {
	struct store *st;
	uint32_t user;
	int n, fails;
};

static void *append_worker(void *arg)
{
	struct worker *w = arg;
	char body[3000];
	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = 0;
	for (int i = 0; i < w->n; i++) {
		struct spool *sp;
		struct msg_in m = msg_text(&sp, body);
		uint32_t uid;
		if (store_append(w->st, w->user, NULL, &m, NULL, &uid) != ST_OK)
			w->fails++;
		spool_free(&sp);
		if (i % 5 == 0)
			count_msgs(w->st, w->user, NULL); /* readers meanwhile */
	}
	return NULL;
}

static int uids_are_1_to_n(struct store *st, uint32_t user, size_t n)
{
	struct collect *c = calloc(1, sizeof *c);
	int ok;
	store_msg_list(st, user, NULL, 0, collect_cb, c);
	ok = c->n == n;
	for (size_t i = 0; ok && i < c->n; i++)
		ok = c->uids[i] == i + 1;
	free(c);
	return ok;
}

TEST(threads_grow_map)
{
	struct store *st = fresh(1 << 20);
	struct worker w[4];
	pthread_t th[4];
	struct store_stats ss;
	uint32_t u;
	CHECK(st);
	u = add_user(st, "th@example.org");
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){st, u, 60, 0};
		CHECK(pthread_create(&th[i], NULL, append_worker, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].fails, 0);
	}
	CHECK(uids_are_1_to_n(st, u, 240));
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK(ss.map_size > (1 << 20));
	CHECK_EQ_INT(used_of(st, "th@example.org"), 240 * 2999);
	store_close(&st);
	rm_store();
}

TEST(two_processes)
{
	struct store *st = fresh(1 << 20);
	struct worker w;
	uint32_t u;
	pid_t pid;
	int status;
	char err[256];
	CHECK(st);
	u = add_user(st, "mp@example.org");
	store_close(&st); /* LMDB: never carry an environment across fork() */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;
		if (store_open(&cs, tdir, 1 << 20, err, sizeof err) < 0)
			_exit(2);
		w = (struct worker){cs, u, 80, 0};
		append_worker(&w);
		store_close(&cs);
		_exit(w.fails ? 1 : 0);
	}
	CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) == 0);
	w = (struct worker){st, u, 80, 0};
	append_worker(&w);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(w.fails, 0);
	/* The other process may have grown the map past ours: still readable. */
	CHECK(uids_are_1_to_n(st, u, 160));
	store_close(&st);
	rm_store();
}

/* Another process grows the map far past ours while we hold the store
 * open: our next read and write must adopt the new size (MDB_MAP_RESIZED). */
TEST(map_resized_by_other_process)
{
	struct store *st = fresh(1 << 20);
	struct collect c = {0};
	struct store_stats ss;
	char err[256], go = 0;
	int p[2], status;
	uint32_t u, uid;
	pid_t pid;
	CHECK(st);
	u = add_user(st, "big@example.org");
	store_close(&st);
	CHECK(pipe(p) == 0);
	pid = fork(); /* before we open: LMDB must not cross fork() */
	CHECK(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;
		struct spool *sp = spool_new(0);
		struct msg_in m = {0};
		static char blk[65536];
		close(p[1]);
		if (read(p[0], &go, 1) != 1)
			_exit(2);
		memset(blk, 'z', sizeof blk);
		for (int i = 0; i < 96; i++) /* 6 MiB */
			spool_write(sp, blk, sizeof blk);
		m.body = sp;
		if (store_open(&cs, tdir, 1 << 20, err, sizeof err) < 0 ||
		    store_append(cs, u, NULL, &m, NULL, &uid) != ST_OK)
			_exit(1);
		store_close(&cs);
		spool_free(&sp);
		_exit(0);
	}
	close(p[0]);
	CHECK(store_open(&st, tdir, 1 << 20, err, sizeof err) == 0);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK(ss.map_size == 1 << 20);
	CHECK(write(p[1], "g", 1) == 1);
	close(p[1]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ_INT(store_msg_list(st, u, NULL, 0, collect_cb, &c), ST_OK);
	CHECK_EQ_INT(c.n, 1);
	CHECK_EQ_INT(c.info[0].size, 96 * 65536);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK(ss.map_size > (6 << 20));
	CHECK_EQ_INT(append_text(st, u, NULL, "after\r\n", &uid), ST_OK);
	CHECK_EQ_INT(uid, 2);
	store_close(&st);
	rm_store();
}

/* A full disk (here: RLIMIT_FSIZE, writes fail with EFBIG) is ST_TEMP,
 * the store stays usable and nothing half-written remains. */
TEST(disk_full_is_temporary)
{
	struct store *st = fresh(0);
	struct store_stats ss;
	char err[256];
	uint32_t u;
	int status;
	pid_t pid;
	CHECK(st);
	u = add_user(st, "full@example.org");
	CHECK_EQ_INT(append_text(st, u, NULL, "before\r\n", NULL), ST_OK);
	store_close(&st);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {4 << 20, 4 << 20};
		struct store *cs = NULL;
		struct spool *sp = spool_new(0);
		struct msg_in m = {0};
		static char blk[65536];
		uint32_t uid;
		int rc;
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0 || store_open(&cs, tdir, 0, err, sizeof err) < 0)
			_exit(2);
		for (int i = 0; i < 128; i++) /* 8 MiB */
			spool_write(sp, blk, sizeof blk);
		m.body = sp;
		rc = store_append(cs, u, NULL, &m, NULL, &uid);
		spool_free(&sp);
		if (rc != ST_TEMP)
			_exit(3);
		if (append_text(cs, u, NULL, "after\r\n", &uid) != ST_OK || uid != 2)
			_exit(4);
		store_close(&cs);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
	CHECK(store_open(&st, tdir, 0, err, sizeof err) == 0);
	CHECK_EQ_INT(count_msgs(st, u, NULL), 2);
	CHECK_EQ_INT(used_of(st, "full@example.org"), 8 + 7);
	CHECK_EQ_INT(store_stats(st, &ss), ST_OK);
	CHECK_EQ_INT(ss.blobs, 2);
	CHECK_EQ_INT(ss.chunks, 2);
	store_close(&st);
	rm_store();
}

/* net.c runs sessions on 256 KiB stacks: the deepest store paths (rename
 * of INBOX, copy between mailboxes, nested alias resolution, delivery to
 * several users) must fit with room to spare for the protocol code. */
static void *heavy_paths(void *arg)
{
	struct store *st = arg;
	struct resolved r;
	struct spool *sp;
	struct msg_in m = msg_text(&sp, "stack\r\n");
	uint32_t users[2], nu[1], uid = 1;
	int rcs[2];
	long ok = 1;
	users[0] = add_user(st, "s1@example.org");
	users[1] = add_user(st, "s2@example.org");
	for (int i = 0; i < 7; i++) {
		char from[32], to[32];
		const char *tp = to;
		snprintf(from, sizeof from, "n%d@example.org", i);
		snprintf(to, sizeof to, i == 6 ? "s1@example.org" : "n%d@example.org", i + 1);
		ok &= store_alias_add(st, from, &tp, 1) == ST_OK;
	}
	ok &= store_resolve(st, "n0@example.org", &r) == ST_OK;
	store_resolved_free(&r);
	ok &= store_deliver(st, users, 2, NULL, &m, rcs, NULL) == ST_OK;
	ok &= store_msg_copy(st, users[0], "INBOX", "Archive", &uid, 1, 0, NULL, nu) == ST_OK;
	ok &= store_mbox_create(st, users[0], "INBOX/a/b", 0) == ST_OK;
	ok &= store_mbox_rename(st, users[0], "INBOX", "Old/In") == ST_OK;
	ok &= store_user_del(st, "s2@example.org") == ST_OK;
	spool_free(&sp);
	return (void *)ok;
}

TEST(fits_small_thread_stack)
{
	struct store *st = fresh(0);
	pthread_attr_t attr;
	pthread_t th;
	void *ok = NULL;
	CHECK(st);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	CHECK(pthread_create(&th, &attr, heavy_paths, st) == 0);
	pthread_join(th, &ok);
	pthread_attr_destroy(&attr);
	CHECK(ok == (void *)1);
	store_close(&st);
	rm_store();
}

struct reenter {
	struct store *st;
	long r;
};

static int reenter_cb(void *arg, const struct msg_info *m)
{
	struct reenter *re = arg;
	char buf[8];
	re->r = store_msg_read(re->st, m->blob, 0, buf, sizeof buf);
	return 1;
}

TEST(callback_reentry_refused)
{
	struct store *st = fresh(0);
	struct reenter re = {0, 99};
	uint32_t u;
	char buf[8];
	struct collect c = {0};
	CHECK(st);
	re.st = st;
	u = add_user(st, "re@example.org");
	CHECK_EQ_INT(append_text(st, u, NULL, "hello\r\n", NULL), ST_OK);
	CHECK_EQ_INT(store_msg_list(st, u, NULL, 0, reenter_cb, &re), ST_OK);
	CHECK_EQ_INT(re.r, -1); /* refused, not deadlocked */
	/* ... and the thread is usable again afterwards. */
	CHECK_EQ_INT(store_msg_list(st, u, NULL, 0, collect_cb, &c), ST_OK);
	CHECK_EQ_INT(store_msg_read(st, c.info[0].blob, 0, buf, 5), 5);
	store_close(&st);
	rm_store();
}

TEST_MAIN()
