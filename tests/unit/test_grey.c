// clang-format off
/* deps: greylist mailbox_grey mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_spam mailbox_fts fts message message_text spool util log mailbox_place mailbox_spamlist */
// clang-format on
/*
 * test_grey.c — greylisting's store table (mailbox_grey.c) and the client
 * network of an address (greylist.c): a new triplet waits, passes after
 * the delay and is then remembered; known pairs pass; expired entries are
 * pruned; the table stays bounded and a full table never delays.
 */
#include "greylist.h"
#include "harness.h"
#include "mailbox.h"
#include "spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tdir[64];

static struct store *open_tmp(void)
{
	struct store *st = NULL;
	char err[256];
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-grey.XXXXXX");
	CHECK(mkdtemp(tdir) != NULL);
	CHECK(store_open(&st, tdir, 1 << 24, err, sizeof err) == 0);
	return st;
}

static void close_tmp(struct store **st)
{
	char m[128];
	store_close(st);
	snprintf(m, sizeof m, "rm -rf '%s'", tdir);
	CHECK(system(m) == 0);
}

static int check(struct store *st, const char *net, const char *from, const char *to, int64_t now)
{
	int v = -1;
	CHECK_EQ_INT(store_grey_check(st, net, from, to, now, 60, &v), ST_OK);
	return v;
}

TEST(net_of_an_address)
{
	char n[64];
	CHECK(greylist_net("192.0.2.77", n, sizeof n) == 0);
	CHECK_EQ_STR(n, "192.0.2.0/24");
	CHECK(greylist_net("::ffff:198.51.100.9", n, sizeof n) == 0);
	CHECK_EQ_STR(n, "198.51.100.0/24");
	CHECK(greylist_net("2001:db8:1:2:3:4:5:6", n, sizeof n) == 0);
	CHECK_EQ_STR(n, "2001:db8:1:2::/64");
	CHECK(greylist_net("example.test", n, sizeof n) < 0);
	CHECK(greylist_net("", n, sizeof n) < 0);
}

TEST(insert_wait_pass_remember)
{
	struct store *st = open_tmp();
	int64_t t0 = 1700000000;
	const char *net = "192.0.2.0/24";
	CHECK_EQ_INT(check(st, net, "a@x.test", "u@example.test", t0), GREY_WAIT);
	CHECK_EQ_INT(check(st, net, "a@x.test", "u@example.test", t0 + 59), GREY_WAIT);
	/* case does not make a new triplet */
	CHECK_EQ_INT(check(st, net, "A@X.test", "U@example.test", t0 + 30), GREY_WAIT);
	CHECK_EQ_INT(check(st, net, "a@x.test", "u@example.test", t0 + 60), GREY_PASS);
	/* remembered: 30 days later at once, and renewed by that */
	CHECK_EQ_INT(check(st, net, "a@x.test", "u@example.test", t0 + 30 * 86400), GREY_PASS);
	CHECK_EQ_INT(check(st, net, "a@x.test", "u@example.test", t0 + 60 * 86400), GREY_PASS);
	/* each part of the triplet counts */
	CHECK_EQ_INT(check(st, "198.51.100.0/24", "a@x.test", "u@example.test", t0 + 60), GREY_WAIT);
	CHECK_EQ_INT(check(st, net, "b@x.test", "u@example.test", t0 + 60), GREY_WAIT);
	CHECK_EQ_INT(check(st, net, "a@x.test", "v@example.test", t0 + 60), GREY_WAIT);
	/* a known pair passes whatever the network */
	CHECK_EQ_INT(store_grey_known_add(st, "u@example.test", "friend@y.test", t0), ST_OK);
	CHECK_EQ_INT(check(st, "203.0.113.0/24", "Friend@y.test", "u@example.test", t0 + 1),
		     GREY_KNOWN);
	/* only in the direction it was written */
	CHECK_EQ_INT(check(st, "203.0.113.0/24", "u@example.test", "friend@y.test", t0 + 1),
		     GREY_WAIT);
	close_tmp(&st);
}

/* A submission's queue commit records its recipients as known senders of
 * the writer (msg_in.known_local): no write of their own. */
TEST(known_in_queue_commit)
{
	struct store *st = open_tmp();
	struct spool *sp = spool_new(4096);
	const char *m = "Subject: hi\r\n\r\nhello\r\n";
	CHECK_EQ_INT(spool_write(sp, m, strlen(m)), 0);
	const char *to[] = {"pal@y.test", "Other@Z.test"};
	struct msg_in in = {.body = sp, .known_local = "u@example.test"};
	uint64_t id;
	int known = -1;
	int64_t now = (int64_t)time(NULL);
	CHECK_EQ_INT(store_queue_add(st, "u@example.test", to, 2, &in, &id), ST_OK);
	CHECK_EQ_INT(store_grey_known(st, "u@example.test", "pal@y.test", now, &known), ST_OK);
	CHECK_EQ_INT(known, 1);
	CHECK_EQ_INT(store_grey_known(st, "U@example.test", "other@z.test", now, &known), ST_OK);
	CHECK_EQ_INT(known, 1);
	CHECK_EQ_INT(store_grey_known(st, "pal@y.test", "u@example.test", now, &known), ST_OK);
	CHECK_EQ_INT(known, 0); /* one direction */
	CHECK_EQ_INT(check(st, "203.0.113.0/24", "pal@y.test", "u@example.test", now), GREY_KNOWN);
	/* without known_local (a forwarded copy) nothing is recorded */
	in.known_local = NULL;
	const char *to2[] = {"fwd@w.test"};
	CHECK_EQ_INT(store_queue_add(st, "u@example.test", to2, 1, &in, &id), ST_OK);
	CHECK_EQ_INT(store_grey_known(st, "u@example.test", "fwd@w.test", now, &known), ST_OK);
	CHECK_EQ_INT(known, 0);
	/* expired after GREY_KNOWN_LIFE */
	CHECK_EQ_INT(store_grey_known(st, "u@example.test", "pal@y.test", now + GREY_KNOWN_LIFE + 5,
				      &known),
		     ST_OK);
	CHECK_EQ_INT(known, 0);
	spool_free(&sp);
	close_tmp(&st);
}

static void count_cb(void *arg, int kind, const char *pattern)
{
	(void)kind;
	(void)pattern;
	(*(int *)arg)++;
}

/* Allow and block lists (mailbox_spamlist.c): patterns, the most specific
 * match, one kind per pattern, deleted with the account. */
TEST(spam_lists)
{
	struct store *st = open_tmp();
	struct cred cr = {0};
	struct account a;
	int kind, n = 0;
	CHECK_EQ_INT(store_user_add(st, "u@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@example.test", &a), ST_OK);
	CHECK_EQ_INT(store_spam_list_set(st, a.id, SPAM_LIST_ALLOW, "@Friend.test", 1), ST_OK);
	CHECK_EQ_INT(store_spam_list_set(st, a.id, SPAM_LIST_BLOCK, "spy@friend.test", 1), ST_OK);
	CHECK_EQ_INT(store_spam_list_set(st, a.id, SPAM_LIST_BLOCK, "nodot", 1), ST_INVALID);
	CHECK_EQ_INT(store_spam_list_set(st, a.id, SPAM_LIST_BLOCK, "a@b@c.test", 1), ST_INVALID);
	CHECK_EQ_INT(store_spam_list_match(st, a.id, "X@Mail.Friend.Test", &kind), ST_OK);
	CHECK_EQ_INT(kind, SPAM_LIST_ALLOW);
	CHECK_EQ_INT(store_spam_list_match(st, a.id, "spy@friend.test", &kind), ST_OK);
	CHECK_EQ_INT(kind, SPAM_LIST_BLOCK);
	CHECK_EQ_INT(store_spam_list_match(st, a.id, "x@notfriend.test", &kind), ST_OK);
	CHECK_EQ_INT(kind, 0);
	CHECK_EQ_INT(store_spam_list_match(st, a.id, "", &kind), ST_OK);
	CHECK_EQ_INT(kind, 0);
	/* allowing a blocked pattern moves it */
	CHECK_EQ_INT(store_spam_list_set(st, a.id, SPAM_LIST_ALLOW, "spy@friend.test", 1), ST_OK);
	CHECK_EQ_INT(store_spam_list_match(st, a.id, "spy@friend.test", &kind), ST_OK);
	CHECK_EQ_INT(kind, SPAM_LIST_ALLOW);
	CHECK_EQ_INT(store_spam_list_each(st, a.id, count_cb, &n), ST_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(store_spam_list_set(st, a.id, 0, "gone.test", 0), ST_NOTFOUND);
	/* deleted with the account */
	CHECK_EQ_INT(store_user_del(st, "u@example.test"), ST_OK);
	n = 0;
	CHECK_EQ_INT(store_spam_list_each(st, a.id, count_cb, &n), ST_OK);
	CHECK_EQ_INT(n, 0);
	close_tmp(&st);
}

TEST(prune_expired)
{
	struct store *st = open_tmp();
	int64_t t0 = 1700000000;
	size_t removed, left;
	CHECK_EQ_INT(check(st, "192.0.2.0/24", "p@x.test", "u@example.test", t0), GREY_WAIT);
	CHECK_EQ_INT(check(st, "192.0.2.0/24", "q@x.test", "u@example.test", t0), GREY_WAIT);
	CHECK_EQ_INT(check(st, "192.0.2.0/24", "q@x.test", "u@example.test", t0 + 120), GREY_PASS);
	CHECK_EQ_INT(store_grey_known_add(st, "u@example.test", "k@y.test", t0), ST_OK);
	/* a day later nothing has expired */
	CHECK_EQ_INT(store_grey_prune(st, t0 + 86400, &removed, &left), ST_OK);
	CHECK_EQ_INT(removed, 0);
	CHECK_EQ_INT(left, 3);
	/* after GREY_PENDING_LIFE the triplet that never retried is gone */
	CHECK_EQ_INT(store_grey_prune(st, t0 + GREY_PENDING_LIFE + 1, &removed, &left), ST_OK);
	CHECK_EQ_INT(removed, 1);
	CHECK_EQ_INT(left, 2);
	/* and waits again from the start */
	CHECK_EQ_INT(check(st, "192.0.2.0/24", "p@x.test", "u@example.test", t0 + GREY_PENDING_LIFE + 2),
		     GREY_WAIT);
	/* the passed one after GREY_PASSED_LIFE without use, the known after its */
	CHECK_EQ_INT(store_grey_prune(st, t0 + 120 + GREY_PASSED_LIFE + 1, &removed, &left), ST_OK);
	CHECK_EQ_INT(removed, 2); /* q passed + p pending again */
	CHECK_EQ_INT(left, 1);
	CHECK_EQ_INT(store_grey_prune(st, t0 + GREY_KNOWN_LIFE + 1, &removed, &left), ST_OK);
	CHECK_EQ_INT(removed, 1);
	CHECK_EQ_INT(left, 0);
	close_tmp(&st);
}

TEST(bounded)
{
	struct store *st = open_tmp();
	int64_t t0 = 1700000000;
	char from[64];
	size_t left;
	store_grey_max = 20;
	for (int i = 0; i < 40; i++) {
		snprintf(from, sizeof from, "s%d@x.test", i);
		int v = check(st, "192.0.2.0/24", from, "u@example.test", t0 + i);
		/* the first 20 wait; a full table of live entries never delays */
		CHECK_EQ_INT(v, i < 19 ? GREY_WAIT : GREY_PASS);
	}
	CHECK_EQ_INT(store_grey_prune(st, t0 + 40, NULL, &left), ST_OK);
	CHECK(left <= 20);
	/* once they expire, the opportunistic sweep makes room again */
	CHECK_EQ_INT(check(st, "192.0.2.0/24", "late@x.test", "u@example.test",
			   t0 + GREY_PENDING_LIFE + 100),
		     GREY_WAIT);
	CHECK_EQ_INT(store_grey_prune(st, t0 + GREY_PENDING_LIFE + 100, NULL, &left), ST_OK);
	CHECK_EQ_INT(left, 1);
	store_grey_max = GREY_MAX;
	close_tmp(&st);
}

TEST_MAIN()
