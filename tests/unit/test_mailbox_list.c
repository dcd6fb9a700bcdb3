/* deps: mailbox mailbox_acct mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_place mailbox_list spool util log mailbox_fts fts message message_text mailbox_spam mailbox_sieve mailbox_grey */
/*
 * test_mailbox_list.c — the store's mailing lists (mailbox_list.c): one
 * name space with accounts and aliases (a list's address, LIST-request@
 * and LIST-bounces@ are refused to, and by, both), members kept in
 * address order across a reopen, re-subscribing a member, deleting a list
 * with its members, and a list of 10,000 members walked in one go.
 */
#include "harness.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct store *fresh(void)
{
	return store_fixture_kept("list", 0);
}

static int add_user(const char *addr)
{
	struct cred c;
	memset(&c, 0, sizeof c);
	c.version = CRED_VERSION;
	snprintf(c.crypt, sizeof c.crypt, "$y$test$%s", addr);
	c.scram_iter = 4096;
	return store_user_add(g_st, addr, &c);
}

struct seen {
	char all[4096];
	size_t n;
};

static void collect(void *arg, const struct list_member *m)
{
	struct seen *s = arg;
	size_t l = strlen(s->all);
	if (s->n++ < 20)
		snprintf(s->all + l, sizeof s->all - l, "%s%s%s", l ? " " : "", m->addr,
			 m->disabled ? "(off)" : "");
}

TEST(list_add_get_and_defaults)
{
	struct list_clash c;
	struct list_info li;
	CHECK(fresh());
	CHECK_EQ_INT(store_list_add(g_st, "News@Club.test", "Ann@Club.test", LIST_CONFIRM,
				    LIST_POST_ANNOUNCE, &c),
		     ST_OK);
	CHECK_EQ_INT(store_list_get(g_st, "news@club.test", &li), ST_OK);
	CHECK_EQ_STR(li.addr, "news@club.test");
	CHECK_EQ_STR(li.owner, "ann@club.test");
	CHECK_EQ_INT(li.policy, LIST_CONFIRM);
	CHECK_EQ_INT(li.posting, LIST_POST_ANNOUNCE);
	CHECK_EQ_INT(li.members, 0);
	CHECK(li.created > 0);
	CHECK_EQ_INT(store_list_get(g_st, "nope@club.test", &li), ST_NOTFOUND);
	CHECK_EQ_INT(store_list_add(g_st, "a+b@club.test", "ann@club.test", 0, 0, &c), ST_INVALID);
	CHECK_EQ_INT(store_list_add(g_st, "x@club.test", "ann@club.test", 7, 0, &c), ST_INVALID);
	CHECK_EQ_INT(store_list_add(g_st, "x@club.test", "ann@club.test", 0, 9, &c), ST_INVALID);
	CHECK_EQ_INT(store_list_add(g_st, "x@club.test", "not an address", 0, 0, &c), ST_INVALID);
}

TEST(one_name_space_with_accounts_and_aliases)
{
	struct list_clash c;
	const char *t[] = {"ann@club.test"};
	CHECK(fresh());
	CHECK_EQ_INT(add_user("ann@club.test"), ST_OK);
	CHECK_EQ_INT(store_alias_add(g_st, "family@club.test", t, 1), ST_OK);
	/* an existing distribution alias is refused, with what holds it */
	CHECK_EQ_INT(store_list_add(g_st, "family@club.test", "ann@club.test", 0, 0, &c),
		     ST_EXISTS);
	CHECK_EQ_STR(c.what, "an alias");
	CHECK_EQ_STR(c.addr, "family@club.test");
	CHECK_EQ_INT(store_list_add(g_st, "ann@club.test", "ann@club.test", 0, 0, &c), ST_EXISTS);
	CHECK_EQ_STR(c.what, "an account");
	/* the list's own addresses count: an alias family-bounces@ blocks family- */
	CHECK_EQ_INT(store_alias_add(g_st, "club-bounces@club.test", t, 1), ST_OK);
	CHECK_EQ_INT(store_list_add(g_st, "club@club.test", "ann@club.test", 0, 0, &c), ST_EXISTS);
	CHECK_EQ_STR(c.addr, "club-bounces@club.test");
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	/* and the other way round: nothing may take a list's addresses later */
	CHECK_EQ_INT(add_user("news@club.test"), ST_EXISTS);
	CHECK_EQ_INT(add_user("news-request@club.test"), ST_EXISTS);
	CHECK_EQ_INT(store_alias_add(g_st, "news-bounces@club.test", t, 1), ST_EXISTS);
	CHECK_EQ_INT(store_alias_add(g_st, "news@club.test", t, 1), ST_EXISTS);
	CHECK_EQ_INT(store_list_add(g_st, "news-request@club.test", "ann@club.test", 0, 0, &c),
		     ST_EXISTS);
	CHECK_EQ_STR(c.what, "a mailing list");
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_EXISTS);
	/* a name that merely looks alike is free */
	CHECK_EQ_INT(add_user("newsletter@club.test"), ST_OK);
	/* after the list is gone its names are free again */
	CHECK_EQ_INT(store_list_del(g_st, "news@club.test"), ST_OK);
	CHECK_EQ_INT(add_user("news-request@club.test"), ST_OK);
}

TEST(members_sub_unsub_reopen_del)
{
	struct list_clash c;
	struct list_info li;
	struct seen s = {"", 0};
	int added, was;
	CHECK(fresh());
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "bob@b.test", &added), ST_NOTFOUND);
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_add(g_st, "news2@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "Carol@C.test", &added), ST_OK);
	CHECK_EQ_INT(added, 1);
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "bob@b.test", &added), ST_OK);
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "BOB@b.test", &added), ST_OK);
	CHECK_EQ_INT(added, 0);
	CHECK_EQ_INT(store_list_sub(g_st, "news2@club.test", "zed@z.test", &added), ST_OK);
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "not-an-address", &added), ST_INVALID);
	/* news's members only, not news2's, whose key range follows */
	store_close(&g_st);
	CHECK_EQ_INT(store_fixture_open(&g_st, 0), 0);
	CHECK_EQ_INT(store_list_members(g_st, "news@club.test", collect, &s), ST_OK);
	CHECK_EQ_STR(s.all, "bob@b.test carol@c.test");
	CHECK_EQ_INT(store_list_get(g_st, "news@club.test", &li), ST_OK);
	CHECK_EQ_INT(li.members, 2);
	CHECK_EQ_INT(store_list_unsub(g_st, "news@club.test", "bob@b.test", &was), ST_OK);
	CHECK_EQ_INT(store_list_unsub(g_st, "news@club.test", "bob@b.test", &was), ST_NOTFOUND);
	CHECK_EQ_INT(was, 1);
	CHECK_EQ_INT(store_list_unsub(g_st, "gone@club.test", "bob@b.test", &was), ST_NOTFOUND);
	CHECK_EQ_INT(was, 0);
	CHECK_EQ_INT(store_list_del(g_st, "news@club.test"), ST_OK);
	CHECK_EQ_INT(store_list_del(g_st, "news@club.test"), ST_NOTFOUND);
	/* re-created: its old members are gone, news2's are not */
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_get(g_st, "news@club.test", &li), ST_OK);
	CHECK_EQ_INT(li.members, 0);
	CHECK_EQ_INT(store_list_get(g_st, "news2@club.test", &li), ST_OK);
	CHECK_EQ_INT(li.members, 1);
}

TEST(bounces_disable_at_the_limit)
{
	struct list_clash c;
	struct list_member m;
	struct seen s = {"", 0};
	uint32_t n;
	int added, off;
	CHECK(fresh());
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "bob@b.test", &added), ST_OK);
	CHECK_EQ_INT(store_list_bounce(g_st, "news@club.test", "nobody@b.test", 2, &n, &off),
		     ST_NOTFOUND);
	CHECK_EQ_INT(store_list_bounce(g_st, "news@club.test", "bob@b.test", 2, &n, &off), ST_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_INT(store_list_bounce(g_st, "news@club.test", "BOB@b.test", 2, &n, &off), ST_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(off, 1);
	CHECK_EQ_INT(store_list_member(g_st, "news@club.test", "bob@b.test", &m), ST_OK);
	CHECK(m.disabled);
	CHECK_EQ_INT(m.bounces, 2);
	/* disabled once: later bounces count, but do not disable "again" */
	CHECK_EQ_INT(store_list_bounce(g_st, "news@club.test", "bob@b.test", 2, &n, &off), ST_OK);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_INT(store_list_members(g_st, "news@club.test", collect, &s), ST_OK);
	CHECK_EQ_STR(s.all, "bob@b.test(off)");
	/* sub again: enabled, bounces forgotten */
	CHECK_EQ_INT(store_list_sub(g_st, "news@club.test", "bob@b.test", &added), ST_OK);
	CHECK_EQ_INT(added, 0);
	CHECK_EQ_INT(store_list_member(g_st, "news@club.test", "bob@b.test", &m), ST_OK);
	CHECK(!m.disabled);
	CHECK_EQ_INT(m.bounces, 0);
}

static void held_cb(void *arg, uint64_t id, int64_t created, const char *sender,
		    const char *bytes, size_t n)
{
	struct seen *s = arg;
	size_t l = strlen(s->all);
	snprintf(s->all + l, sizeof s->all - l, "%s%llu:%s:%.*s", l ? " " : "",
		 (unsigned long long)id, sender, (int)n, bytes);
	s->n += created > 0;
}

TEST(held_posts)
{
	struct list_clash c;
	struct seen s = {"", 0};
	uint64_t id1, id2, id3;
	char *b, from[256];
	size_t n;
	CHECK(fresh());
	CHECK_EQ_INT(store_list_hold(g_st, "news@club.test", "x@y.test", "a", 1, &id1),
		     ST_NOTFOUND);
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_add(g_st, "news2@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	CHECK_EQ_INT(store_list_hold(g_st, "news@club.test", "x@y.test", "post one", 8, &id1), ST_OK);
	CHECK_EQ_INT(store_list_hold(g_st, "news2@club.test", "z@y.test", "other", 5, &id2), ST_OK);
	CHECK_EQ_INT(store_list_hold(g_st, "news@club.test", "", "two", 3, &id3), ST_OK);
	CHECK(id1 < id2 && id2 < id3);
	CHECK_EQ_INT(store_list_held_each(g_st, "news@club.test", held_cb, &s), ST_OK);
	char want[128];
	snprintf(want, sizeof want, "%llu:x@y.test:post one %llu::two", (unsigned long long)id1,
		 (unsigned long long)id3);
	CHECK_EQ_STR(s.all, want);
	CHECK_EQ_INT(store_list_held_get(g_st, "news@club.test", id1, &b, &n, from, sizeof from),
		     ST_OK);
	CHECK_EQ_INT(n, 8);
	CHECK_EQ_STR(b, "post one");
	CHECK_EQ_STR(from, "x@y.test");
	free(b);
	/* another list's number is not this list's */
	CHECK_EQ_INT(store_list_held_get(g_st, "news@club.test", id2, &b, &n, from, sizeof from),
		     ST_NOTFOUND);
	CHECK_EQ_INT(store_list_held_del(g_st, "news@club.test", id1), ST_OK);
	CHECK_EQ_INT(store_list_held_del(g_st, "news@club.test", id1), ST_NOTFOUND);
	/* deleting the list drops what it held, not another list's */
	CHECK_EQ_INT(store_list_del(g_st, "news@club.test"), ST_OK);
	CHECK_EQ_INT(store_list_add(g_st, "news@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	s.all[0] = 0;
	CHECK_EQ_INT(store_list_held_each(g_st, "news@club.test", held_cb, &s), ST_OK);
	CHECK_EQ_STR(s.all, "");
	CHECK_EQ_INT(store_list_held_get(g_st, "news2@club.test", id2, &b, &n, from, sizeof from),
		     ST_OK);
	free(b);
}

struct count {
	size_t n;
	char last[STORE_ADDR_MAX + 1];
	int ordered;
};

static void count_cb(void *arg, const struct list_member *m)
{
	struct count *c = arg;
	if (c->n && strcmp(c->last, m->addr) >= 0)
		c->ordered = 0;
	str_copy(c->last, m->addr, sizeof c->last);
	c->n++;
}

TEST(ten_thousand_members)
{
	struct list_clash c;
	struct count cnt = {0, "", 1};
	int added;
	CHECK(fresh());
	CHECK_EQ_INT(store_list_add(g_st, "big@club.test", "ann@club.test", 0, 0, &c), ST_OK);
	for (int i = 0; i < 10000; i++) {
		char a[64];
		snprintf(a, sizeof a, "m%05d@h%d.test", (i * 7919) % 10000, i % 50);
		CHECK_EQ_INT(store_list_sub(g_st, "big@club.test", a, &added), ST_OK);
	}
	CHECK_EQ_INT(store_list_members(g_st, "big@club.test", count_cb, &cnt), ST_OK);
	CHECK_EQ_INT(cnt.n, 10000);
	CHECK(cnt.ordered);
}

TEST_MAIN()
