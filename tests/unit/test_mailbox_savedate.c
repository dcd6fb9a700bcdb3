/* deps: mailbox mailbox_acct mailbox_sieve mailbox_spam mailbox_mbox mailbox_msg mailbox_fts fts message message_text mailbox_queue mailbox_journal spool util log mailbox_place mailbox_grey */
/*
 * test_mailbox_savedate.c — the save date of a message (RFC 8514, schema
 * 3's msg_rec.savedate): set when the message enters a mailbox by delivery,
 * APPEND, COPY or MOVE, kept by flag changes and across reopening; and the
 * upgrade from schema 2, whose records have none: they answer their
 * internaldate, keep doing so after a flag change rewrites them, and the
 * store opens as version 3.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

static struct store *fresh(void)
{
	return store_fixture_kept("savedate", 0);
}

static struct store *reopen(void)
{
	store_close(&g_st);
	return store_fixture_open(&g_st, 0) < 0 ? NULL : g_st;
}

static uint32_t add_user(struct store *st, const char *addr)
{
	struct cred c;
	struct account a;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$%s", addr);
	if (store_user_add(st, addr, &c) != ST_OK || store_user_get(st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

static const char body_text[] = "Subject: saved\r\n\r\nhello\r\n";

/* APPEND with a given internal date (0: now). */
static uint32_t append_at(struct store *st, uint32_t u, const char *mbox, int64_t date)
{
	struct spool *sp = spool_new(0);
	struct msg_in m = {0};
	uint32_t uid = 0;
	spool_write(sp, body_text, sizeof body_text - 1);
	m.body = sp;
	m.internaldate = date;
	int rc = store_append(st, u, mbox, &m, NULL, &uid);
	spool_free(&sp);
	CHECK_EQ_INT(rc, ST_OK);
	return uid;
}

static struct msg_info get(struct store *st, uint32_t u, const char *mbox, uint32_t uid)
{
	struct msg_info mi;
	memset(&mi, 0, sizeof mi);
	CHECK_EQ_INT(store_msg_get(st, u, mbox, uid, &mi), ST_OK);
	return mi;
}

/* The clock's next second has begun: save dates taken after this are
 * later than those taken before. */
static int64_t next_second(void)
{
	int64_t t0 = (int64_t)time(NULL);
	while ((int64_t)time(NULL) == t0)
		usleep(20 * 1000);
	return (int64_t)time(NULL);
}

#define OLD_DATE ((int64_t)1000000000) /* 2001-09-09: an APPEND's given date */

TEST(savedate_round_trip)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = add_user(st, "save@example.org");
	CHECK(u);
	CHECK_EQ_INT(store_mbox_create(st, u, "Box1", 0), ST_OK);
	CHECK_EQ_INT(store_mbox_create(st, u, "Box2", 0), ST_OK);

	int64_t t0 = (int64_t)time(NULL);
	uint32_t a = append_at(st, u, "INBOX", OLD_DATE);
	int dr = ST_TEMP;
	uint32_t d = 0;
	struct spool *sp = spool_new(0);
	spool_write(sp, body_text, sizeof body_text - 1);
	struct msg_in m = {.body = sp};
	CHECK_EQ_INT(store_deliver(st, &u, 1, NULL, &m, &dr, &d), ST_OK);
	spool_free(&sp);
	CHECK_EQ_INT(dr, ST_OK);
	int64_t t1 = (int64_t)time(NULL);

	/* APPEND: the internal date is the client's, the save date now. */
	struct msg_info mi = get(st, u, "INBOX", a);
	CHECK_EQ_INT(mi.internaldate, OLD_DATE);
	CHECK(mi.savedate >= t0 && mi.savedate <= t1);
	int64_t saved_a = mi.savedate;
	/* Delivery: now. */
	mi = get(st, u, "INBOX", d);
	CHECK(mi.savedate >= t0 && mi.savedate <= t1);

	/* A flag change keeps it; so does reopening the store. */
	int64_t t2 = next_second();
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", &a, 1, FLAGS_ADD, FL_SEEN, NULL, 0), ST_OK);
	CHECK_EQ_INT(get(st, u, "INBOX", a).savedate, saved_a);
	CHECK(reopen());
	st = g_st;
	CHECK_EQ_INT(get(st, u, "INBOX", a).savedate, saved_a);

	/* COPY: the copy gets a new save date, the original keeps its own. */
	uint32_t cu = 0, mu = 0;
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Box1", &a, 1, 0, NULL, &cu), ST_OK);
	mi = get(st, u, "Box1", cu);
	CHECK(mi.savedate >= t2);
	CHECK_EQ_INT(mi.internaldate, OLD_DATE);
	CHECK_EQ_INT(get(st, u, "INBOX", a).savedate, saved_a);

	/* MOVE: a new save date in the destination too. */
	int64_t t3 = next_second();
	CHECK_EQ_INT(store_msg_copy(st, u, "Box1", "Box2", &cu, 1, 1, NULL, &mu), ST_OK);
	mi = get(st, u, "Box2", mu);
	CHECK(mi.savedate >= t3);
	CHECK_EQ_INT(mi.internaldate, OLD_DATE);
	store_close(&g_st);
	rm_store();
}

TEST(schema2_records_answer_internaldate)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = add_user(st, "old@example.org");
	CHECK(u);
	uint32_t a = append_at(st, u, "INBOX", OLD_DATE);
	uint32_t b = append_at(st, u, "INBOX", OLD_DATE + 86400);
	CHECK_EQ_INT(store_test_schema2(st), ST_OK);
	CHECK(reopen()); /* schema 2 -> 3: nothing rewritten */
	st = g_st;
	CHECK_EQ_INT(get(st, u, "INBOX", a).savedate, OLD_DATE);
	CHECK_EQ_INT(get(st, u, "INBOX", b).savedate, OLD_DATE + 86400);
	/* A flag change writes the record in the new length, still without a
	 * save date of its own. */
	CHECK_EQ_INT(store_msg_flags(st, u, "INBOX", &a, 1, FLAGS_ADD, FL_FLAGGED, NULL, 0), ST_OK);
	struct msg_info mi = get(st, u, "INBOX", a);
	CHECK_EQ_INT(mi.savedate, OLD_DATE);
	CHECK(mi.flags & FL_FLAGGED);
	/* New messages get a real one; the store opens again as it is. */
	int64_t t0 = (int64_t)time(NULL);
	uint32_t c = append_at(st, u, "INBOX", OLD_DATE);
	CHECK(get(st, u, "INBOX", c).savedate >= t0);
	CHECK(reopen());
	st = g_st;
	CHECK_EQ_INT(get(st, u, "INBOX", b).savedate, OLD_DATE + 86400);
	CHECK(get(st, u, "INBOX", c).savedate >= t0);
	store_close(&g_st);
	rm_store();
}

TEST_MAIN()
