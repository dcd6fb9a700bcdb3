/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_place spool util log mailbox_fts fts message message_text mailbox_spam mailbox_grey */
/*
 * test_mailbox_place.c — the blob -> (mailbox, uid) index of the store
 * (store_msg_places, DB_PLACE): after every way a message enters or leaves
 * a mailbox (APPEND, delivery to several users, COPY, MOVE, EXPUNGE,
 * RENAME, DELETE, account removal) and after the schema 3 -> 4 upgrade,
 * the places of every blob are compared with what store_msg_list reads
 * from the messages themselves.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <stdint.h>
#include <unistd.h>

static struct store *fresh(void)
{
	return store_fixture_kept("place", 0);
}

static struct store *reopen(void)
{
	store_close(&g_st);
	return store_fixture_open(&g_st, 0) < 0 ? NULL : g_st;
}

static uint32_t add_user(const char *addr)
{
	struct cred c;
	struct account a;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$%s", addr);
	c.scram_iter = 4096;
	if (store_user_add(g_st, addr, &c) != ST_OK || store_user_get(g_st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

static struct msg_in one_msg(struct spool **sp, const char *text)
{
	struct msg_in m;
	memset(&m, 0, sizeof m);
	*sp = spool_new(0);
	spool_write(*sp, text, strlen(text));
	m.body = *sp;
	return m;
}

static uint32_t append(uint32_t u, const char *mbox, const char *text)
{
	struct spool *sp;
	struct msg_in m = one_msg(&sp, text);
	uint32_t uid = 0;
	int rc = store_append(g_st, u, mbox, &m, NULL, &uid);
	spool_free(&sp);
	CHECK_EQ_INT(rc, ST_OK);
	return uid;
}

static uint64_t blob_of(uint32_t u, const char *mbox, uint32_t uid)
{
	struct msg_info m;
	CHECK_EQ_INT(store_msg_get(g_st, u, mbox, uid, &m), ST_OK);
	return m.blob;
}

/* The places of blob, as "mbox:uid mbox:uid ..." for comparison. */
static const char *places(uint32_t u, uint64_t blob)
{
	static char out[512];
	struct msg_place p[16];
	size_t n, len = 0;
	CHECK_EQ_INT(store_msg_places(g_st, u, blob, p, 16, &n), ST_OK);
	out[0] = 0;
	for (size_t i = 0; i < n && i < 16; i++)
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%u:%u", i ? " " : "",
					p[i].mbox_id, p[i].uid);
	return out;
}

static uint32_t mbox_id(uint32_t u, const char *name)
{
	struct mbox_info mi;
	CHECK_EQ_INT(store_mbox_get(g_st, u, name, &mi), ST_OK);
	return mi.id;
}

/* ---- every message of an account is found through its blob, and the
 * places of all blobs together are exactly the messages ---- */

struct walk {
	uint32_t mbox;
	struct {
		uint32_t mbox, uid;
		uint64_t blob;
	} v[256];
	size_t n;
};

/* Collected first: a store callback may not call the store. */
static int walk_msg(void *arg, const struct msg_info *m)
{
	struct walk *w = arg;
	if (w->n < 256) {
		w->v[w->n].mbox = w->mbox;
		w->v[w->n].uid = m->uid;
		w->v[w->n].blob = m->blob;
	}
	w->n++;
	return 0;
}

struct mbl {
	struct mbox_info v[32];
	size_t n;
};

static void mb_cb(void *arg, const struct mbox_info *m)
{
	struct mbl *l = arg;
	if (l->n < 32)
		l->v[l->n++] = *m;
}

/* Every message is among its blob's places exactly once, and no place
 * names anything else (the places of the distinct blobs add up to the
 * messages). Returns the number of messages. */
static size_t check_all(uint32_t u)
{
	static struct walk w;
	struct mbl l = {.n = 0};
	size_t total = 0;
	memset(&w, 0, sizeof w);
	CHECK_EQ_INT(store_mbox_list(g_st, u, mb_cb, &l), ST_OK);
	for (size_t i = 0; i < l.n; i++) {
		w.mbox = l.v[i].id;
		CHECK_EQ_INT(store_msg_list(g_st, u, l.v[i].name, 1, walk_msg, &w), ST_OK);
	}
	CHECK(w.n <= 256);
	for (size_t i = 0; i < w.n; i++) {
		struct msg_place p[64];
		size_t n, hit = 0, first = 1;
		CHECK_EQ_INT(store_msg_places(g_st, u, w.v[i].blob, p, 64, &n), ST_OK);
		CHECK(n <= 64);
		for (size_t j = 0; j < n; j++)
			hit += p[j].mbox_id == w.v[i].mbox && p[j].uid == w.v[i].uid;
		CHECK_EQ_INT(hit, 1);
		for (size_t j = 0; j < i; j++)
			if (w.v[j].blob == w.v[i].blob)
				first = 0;
		if (first)
			total += n;
	}
	CHECK_EQ_INT(total, w.n);
	return w.n;
}

TEST(places_follow_every_change)
{
	uint32_t u, inbox, work, other, uid, nu[1];
	uint64_t b1, b2;
	char want[64];
	CHECK(fresh());
	u = add_user("place@example.org");
	CHECK(u);
	CHECK_EQ_INT(store_mbox_create(g_st, u, "Work", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_create(g_st, u, "Other", 0), ST_OK);
	inbox = mbox_id(u, "INBOX");
	work = mbox_id(u, "Work");
	other = mbox_id(u, "Other");

	uid = append(u, "INBOX", "Subject: one\r\n\r\none\r\n");
	b1 = blob_of(u, "INBOX", uid);
	b2 = blob_of(u, "INBOX", append(u, "INBOX", "Subject: two\r\n\r\ntwo\r\n"));
	snprintf(want, sizeof want, "%u:1", inbox);
	CHECK_EQ_STR(places(u, b1), want);
	snprintf(want, sizeof want, "%u:2", inbox);
	CHECK_EQ_STR(places(u, b2), want);
	CHECK_EQ_STR(places(u, b2 + 100), "");

	/* COPY shares the blob: two places */
	CHECK_EQ_INT(store_msg_copy(g_st, u, "INBOX", "Work", (uint32_t[]){1}, 1, 0, NULL, nu),
		     ST_OK);
	CHECK_EQ_INT(blob_of(u, "Work", nu[0]), b1);
	snprintf(want, sizeof want, "%u:1 %u:%u", inbox, work, nu[0]);
	CHECK_EQ_STR(places(u, b1), want);
	/* MOVE: the source place goes, the destination's comes */
	CHECK_EQ_INT(store_msg_copy(g_st, u, "Work", "Other", nu, 1, 1, NULL, nu), ST_OK);
	snprintf(want, sizeof want, "%u:1 %u:%u", inbox, other, nu[0]);
	CHECK_EQ_STR(places(u, b1), want);
	CHECK_EQ_INT(check_all(u), 3);
	/* EXPUNGE */
	CHECK_EQ_INT(store_msg_expunge(g_st, u, "INBOX", (uint32_t[]){1}, 1), ST_OK);
	snprintf(want, sizeof want, "%u:%u", other, nu[0]);
	CHECK_EQ_STR(places(u, b1), want);
	/* RENAME keeps the mailbox id, so the place */
	CHECK_EQ_INT(store_mbox_rename(g_st, u, "Other", "Renamed"), ST_OK);
	CHECK_EQ_STR(places(u, b1), want);
	/* DELETE takes the mailbox's places along */
	CHECK_EQ_INT(store_mbox_delete(g_st, u, "Renamed"), ST_OK);
	CHECK_EQ_STR(places(u, b1), "");
	CHECK_EQ_INT(check_all(u), 1);
	/* only max places are copied, but all are counted */
	{
		struct msg_place p[1];
		size_t n;
		CHECK_EQ_INT(
		    store_msg_copy(g_st, u, "INBOX", "Work", (uint32_t[]){2}, 1, 0, NULL, NULL),
		    ST_OK);
		CHECK_EQ_INT(store_msg_places(g_st, u, b2, p, 1, &n), ST_OK);
		CHECK_EQ_INT(n, 2);
		CHECK_EQ_INT(p[0].mbox_id, inbox);
		CHECK_EQ_INT(store_msg_places(g_st, u, b2, NULL, 0, &n), ST_OK);
		CHECK_EQ_INT(n, 2);
	}
	(void)work;
}

TEST(places_are_per_account)
{
	uint32_t u1, u2, users[2];
	int rc[2];
	uint32_t uids[2];
	struct spool *sp;
	struct msg_in m;
	uint64_t b;
	char want[64];
	CHECK(fresh());
	u1 = add_user("a@example.org");
	u2 = add_user("b@example.org");
	CHECK(u1 && u2);
	users[0] = u1;
	users[1] = u2;
	m = one_msg(&sp, "Subject: both\r\n\r\nhi\r\n");
	CHECK_EQ_INT(store_deliver(g_st, users, 2, NULL, &m, rc, uids), ST_OK);
	spool_free(&sp);
	CHECK_EQ_INT(rc[0], ST_OK);
	CHECK_EQ_INT(rc[1], ST_OK);
	b = blob_of(u1, "INBOX", uids[0]);
	CHECK_EQ_INT(blob_of(u2, "INBOX", uids[1]), b); /* the bytes once */
	snprintf(want, sizeof want, "%u:%u", mbox_id(u1, "INBOX"), uids[0]);
	CHECK_EQ_STR(places(u1, b), want);
	snprintf(want, sizeof want, "%u:%u", mbox_id(u2, "INBOX"), uids[1]);
	CHECK_EQ_STR(places(u2, b), want);
	/* removing one account leaves the other's place */
	CHECK_EQ_INT(store_user_del(g_st, "a@example.org"), ST_OK);
	CHECK_EQ_STR(places(u1, b), "");
	CHECK_EQ_STR(places(u2, b), want);
}

TEST(places_built_on_upgrade)
{
	uint32_t u, uid, nu[1];
	uint64_t b;
	char want[64];
	CHECK(fresh());
	u = add_user("up@example.org");
	CHECK(u);
	CHECK_EQ_INT(store_mbox_create(g_st, u, "Work", 0), ST_OK);
	for (int i = 0; i < 20; i++)
		append(u, i % 2 ? "INBOX" : "Work", "Subject: x\r\n\r\nx\r\n");
	uid = append(u, "INBOX", "Subject: y\r\n\r\ny\r\n");
	b = blob_of(u, "INBOX", uid);
	CHECK_EQ_INT(store_msg_copy(g_st, u, "INBOX", "Work", &uid, 1, 0, NULL, nu), ST_OK);
	/* a store from before DB_PLACE (the downgrade drops it) */
	CHECK_EQ_INT(store_test_downgrade(g_st), ST_OK);
	CHECK(reopen());
	snprintf(want, sizeof want, "%u:%u %u:%u", mbox_id(u, "INBOX"), uid, mbox_id(u, "Work"),
		 nu[0]);
	CHECK_EQ_STR(places(u, b), want);
	CHECK_EQ_INT(check_all(u), 22);
	CHECK(reopen());
	CHECK_EQ_INT(check_all(u), 22);
}

TEST_MAIN()
