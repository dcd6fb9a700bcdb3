// clang-format off
/* deps: mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_spam mailbox_fts fts message message_text spool util log mailbox_place mailbox_grey */
// clang-format on
/*
 * test_mailbox_sieve.c — the Sieve table of the store (mailbox_sieve.c):
 * scripts put, replaced, listed, activated, renamed (staying active),
 * deleted (never the active one); the size, count and name bounds; the
 * vacation records (once per handle+sender per period, expiry, the cap)
 * and duplicate ids; everything gone with the account.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"

#include <string.h>

static struct store *st;
static uint32_t uid;

static void setup(void)
{
	struct cred c;
	struct account a;
	memset(&c, 0, sizeof c);
	st = store_fixture_new("sieve", 1 << 24);
	CHECK(st != NULL);
	CHECK_EQ_INT(store_user_add(st, "u@x.test", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@x.test", &a), ST_OK);
	uid = a.id;
}

static void teardown(void)
{
	store_close(&st);
	rm_store();
}

TEST(put_get_list_activate)
{
	char *src, *name;
	size_t len, n;
	int active = -1;
	struct sieve_script_info *l;
	setup();
	CHECK_EQ_INT(store_sieve_get(st, uid, "a", &src, &len, &active), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_active(st, uid, &name, &src, &len), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_put(st, uid, "b", "keep;", 5), ST_OK);
	CHECK_EQ_INT(store_sieve_put(st, uid, "a", "discard;", 8), ST_OK);
	CHECK_EQ_INT(store_sieve_put(st, uid, "a", "stop;", 5), ST_OK); /* replace */
	CHECK_EQ_INT(store_sieve_get(st, uid, "a", &src, &len, &active), ST_OK);
	CHECK_EQ_STR(src, "stop;");
	CHECK(len == 5 && active == 0);
	free(src);
	CHECK_EQ_INT(store_sieve_activate(st, uid, "nope"), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_activate(st, uid, "a"), ST_OK);
	CHECK_EQ_INT(store_sieve_list(st, uid, &l, &n), ST_OK);
	CHECK(n == 2);
	CHECK_EQ_STR(l[0].name, "a");
	CHECK(l[0].active == 1 && l[0].size == 5);
	CHECK_EQ_STR(l[1].name, "b");
	CHECK(l[1].active == 0);
	free(l);
	CHECK_EQ_INT(store_sieve_active(st, uid, &name, &src, &len), ST_OK);
	CHECK_EQ_STR(name, "a");
	CHECK_EQ_STR(src, "stop;");
	free(name);
	free(src);
	/* the active one cannot be deleted; another can */
	CHECK_EQ_INT(store_sieve_delete(st, uid, "a"), ST_INVALID);
	CHECK_EQ_INT(store_sieve_delete(st, uid, "b"), ST_OK);
	CHECK_EQ_INT(store_sieve_delete(st, uid, "b"), ST_NOTFOUND);
	/* deactivate, then delete */
	CHECK_EQ_INT(store_sieve_activate(st, uid, ""), ST_OK);
	CHECK_EQ_INT(store_sieve_active(st, uid, &name, &src, &len), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_delete(st, uid, "a"), ST_OK);
	CHECK_EQ_INT(store_sieve_list(st, uid, &l, &n), ST_OK);
	CHECK(n == 0 && l == NULL);
	teardown();
}

TEST(rename_keeps_active)
{
	char *src, *name;
	size_t len;
	int active;
	setup();
	CHECK_EQ_INT(store_sieve_put(st, uid, "old", "keep;", 5), ST_OK);
	CHECK_EQ_INT(store_sieve_put(st, uid, "other", "stop;", 5), ST_OK);
	CHECK_EQ_INT(store_sieve_activate(st, uid, "old"), ST_OK);
	CHECK_EQ_INT(store_sieve_rename(st, uid, "old", "other"), ST_EXISTS);
	CHECK_EQ_INT(store_sieve_rename(st, uid, "gone", "x"), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_rename(st, uid, "old", "bad/name"), ST_INVALID);
	CHECK_EQ_INT(store_sieve_rename(st, uid, "old", "new"), ST_OK);
	CHECK_EQ_INT(store_sieve_get(st, uid, "old", &src, &len, &active), ST_NOTFOUND);
	CHECK_EQ_INT(store_sieve_get(st, uid, "new", &src, &len, &active), ST_OK);
	CHECK(active == 1);
	free(src);
	CHECK_EQ_INT(store_sieve_active(st, uid, &name, &src, &len), ST_OK);
	CHECK_EQ_STR(name, "new");
	free(name);
	free(src);
	teardown();
}

TEST(bounds)
{
	char name[32], *big;
	setup();
	CHECK_EQ_INT(store_sieve_put(st, uid, "", "keep;", 5), ST_INVALID);
	CHECK_EQ_INT(store_sieve_put(st, uid, "a\tb", "keep;", 5), ST_INVALID);
	CHECK_EQ_INT(store_sieve_put(st, uid, "\xc3\x28", "keep;", 5), ST_INVALID);
	CHECK_EQ_INT(store_sieve_put(st, uid, "\xc3\xa9t\xc3\xa9", "keep;", 5), ST_OK);
	big = calloc(1, STORE_SIEVE_SIZE + 2);
	memset(big, '#', STORE_SIEVE_SIZE + 1);
	CHECK_EQ_INT(store_sieve_put(st, uid, "big", big, STORE_SIEVE_SIZE + 1), ST_INVALID);
	CHECK_EQ_INT(store_sieve_put(st, uid, "big", big, STORE_SIEVE_SIZE), ST_OK);
	free(big);
	for (int i = 2; i < STORE_SIEVE_SCRIPTS; i++) {
		snprintf(name, sizeof name, "s%02d", i);
		CHECK_EQ_INT(store_sieve_put(st, uid, name, "keep;", 5), ST_OK);
	}
	CHECK_EQ_INT(store_sieve_space(st, uid, "one-more", 5), ST_LIMIT);
	CHECK_EQ_INT(store_sieve_put(st, uid, "one-more", "keep;", 5), ST_LIMIT);
	CHECK_EQ_INT(store_sieve_space(st, uid, "s02", 5), ST_OK); /* a replacement fits */
	CHECK_EQ_INT(store_sieve_space(st, uid, "s02", STORE_SIEVE_SIZE + 1), ST_INVALID);
	teardown();
}

TEST(vacation_once_per_period)
{
	int send = -1;
	setup();
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "a@y.test", 1000, 86400, &send), ST_OK);
	CHECK(send == 1);
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "A@Y.test", 2000, 86400, &send), ST_OK);
	CHECK(send == 0); /* same sender, case folded */
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "b@y.test", 2000, 86400, &send), ST_OK);
	CHECK(send == 1); /* another sender */
	CHECK_EQ_INT(store_vacation_take(st, uid, "h2", "a@y.test", 2000, 86400, &send), ST_OK);
	CHECK(send == 1); /* another handle */
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "a@y.test", 1000 + 86400, 86400, &send), ST_OK);
	CHECK(send == 1); /* the period is over */
	teardown();
}

TEST(records_bounded_and_pruned)
{
	int send, seen;
	char s[32];
	setup();
	for (int i = 0; i < STORE_SIEVE_RECORDS; i++) {
		snprintf(s, sizeof s, "%d@y.test", i);
		CHECK_EQ_INT(store_vacation_take(st, uid, "h", s, 100, 50, &send), ST_OK);
		if (!send)
			break;
	}
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "full@y.test", 110, 50, &send), ST_OK);
	CHECK(send == 0); /* full: no reply rather than an unbounded table */
	/* later, everything has expired and is swept on the next write */
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "full@y.test", 200, 50, &send), ST_OK);
	CHECK(send == 1);
	CHECK_EQ_INT(store_dup_seen(st, uid, "<id@x>", 200, &seen), ST_OK);
	CHECK(seen == 0);
	CHECK_EQ_INT(store_dup_record(st, uid, "<id@x>", 200, 60), ST_OK);
	CHECK_EQ_INT(store_dup_seen(st, uid, "<id@x>", 259, &seen), ST_OK);
	CHECK(seen == 1);
	CHECK_EQ_INT(store_dup_seen(st, uid, "<id@x>", 260, &seen), ST_OK);
	CHECK(seen == 0);
	teardown();
}

TEST(gone_with_the_account)
{
	struct cred c;
	struct account a;
	char *src;
	size_t len;
	int send;
	setup();
	CHECK_EQ_INT(store_sieve_put(st, uid, "a", "keep;", 5), ST_OK);
	CHECK_EQ_INT(store_sieve_activate(st, uid, "a"), ST_OK);
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "s@y.test", 10, 1000, &send), ST_OK);
	CHECK_EQ_INT(store_user_del(st, "u@x.test"), ST_OK);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_user_add(st, "u@x.test", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@x.test", &a), ST_OK);
	/* a new account id: check the old id's entries directly too */
	CHECK_EQ_INT(store_sieve_get(st, uid, "a", &src, &len, NULL), ST_NOTFOUND);
	CHECK_EQ_INT(store_vacation_take(st, uid, "h", "s@y.test", 20, 1000, &send), ST_OK);
	CHECK(send == 1);
	teardown();
}

/* The flags of every message, one after the other (UID order). */
static int all_flags(void *arg, const struct msg_info *m)
{
	uint32_t *f = arg;
	f[m->uid < 4 ? m->uid : 0] = m->flags;
	return 0;
}

static uint32_t count(uint32_t user, const char *mbox)
{
	struct mbox_info mi;
	if (store_mbox_get(st, user, mbox, &mi) != ST_OK)
		return 9999;
	return mi.exists;
}

/* store_deliver with msg_in.place (Sieve's copies): two copies for one
 * user (one flagged, one into a mailbox created for it), none for a
 * second (discard), the usual copy for a third (place {NULL}); a missing
 * mailbox without create means INBOX. */
TEST(deliver_places)
{
	struct cred c;
	struct account a;
	uint32_t users[3], fl[4] = {0};
	int rcs[3];
	const char *kw[] = {"urgent"};
	setup();
	memset(&c, 0, sizeof c);
	users[0] = uid;
	CHECK_EQ_INT(store_user_add(st, "v@x.test", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "v@x.test", &a), ST_OK);
	users[1] = a.id;
	CHECK_EQ_INT(store_user_add(st, "w@x.test", &c), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "w@x.test", &a), ST_OK);
	users[2] = a.id;
	struct deliver_target t0[] = {{NULL, 0, FL_FLAGGED, kw, 1}, {"New/Sub", 1, 0, NULL, 0},
				      {"Missing", 0, 0, NULL, 0}};
	struct deliver_target t2[] = {{NULL, 0, 0, NULL, 0}};
	struct deliver_place pl[] = {{t0, 3}, {NULL, 0}, {t2, 1}};
	const char *msg = "Subject: x\r\n\r\nbody\r\n";
	struct msg_in m = {.hdr = msg, .hdrlen = strlen(msg), .place = pl};
	CHECK_EQ_INT(store_deliver(st, users, 3, NULL, &m, rcs, NULL), ST_OK);
	CHECK(rcs[0] == ST_OK && rcs[1] == ST_OK && rcs[2] == ST_OK);
	CHECK(count(users[0], "INBOX") == 2); /* the flagged keep, and Missing -> INBOX */
	CHECK(count(users[0], "New/Sub") == 1);
	CHECK(count(users[0], "Missing") == 9999);
	CHECK(count(users[1], "INBOX") == 0);
	CHECK(count(users[2], "INBOX") == 1);
	CHECK_EQ_INT(store_msg_list(st, users[0], "INBOX", 1, all_flags, fl), ST_OK);
	CHECK((fl[1] & FL_FLAGGED) && !(fl[2] & FL_FLAGGED));
	teardown();
}

TEST_MAIN()
