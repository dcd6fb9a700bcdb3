/* deps: list_addr util log */
/*
 * test_list_addr.c — a list's addresses as text (list_addr.c): which list
 * and which of its addresses a recipient names, the VERP sender and its
 * round trip (members whose local part holds '=', '+' or '-bounces'), the
 * RFC 2919 List-Id, and the address of a From field.
 */
#include "harness.h"
#include "list_addr.h"

#include <string.h>

static const char *parse(const char *addr, int *kind, char *member)
{
	static char list[256];
	if (list_addr_parse(addr, list, sizeof list, kind, member, 256) < 0)
		return "-";
	return list;
}

TEST(kinds)
{
	int k = -1;
	char m[256];
	CHECK_EQ_STR(parse("news-request@club.test", &k, m), "news@club.test");
	CHECK_EQ_INT(k, LIST_TO_REQUEST);
	CHECK_EQ_STR(parse("news-request+x@club.test", &k, m), "news@club.test");
	CHECK_EQ_INT(k, LIST_TO_REQUEST);
	CHECK_EQ_STR(parse("news+subscribe@club.test", &k, m), "news@club.test");
	CHECK_EQ_INT(k, LIST_TO_SUB);
	CHECK_EQ_STR(parse("news+unsubscribe@club.test", &k, m), "news@club.test");
	CHECK_EQ_INT(k, LIST_TO_UNSUB);
	CHECK_EQ_STR(parse("news-bounces@club.test", &k, m), "news@club.test");
	CHECK_EQ_INT(k, LIST_TO_BOUNCES);
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(parse("news@club.test", &k, m), "-");
	CHECK_EQ_STR(parse("news+other@club.test", &k, m), "-");
	CHECK_EQ_STR(parse("-request@club.test", &k, m), "-");
	CHECK_EQ_STR(parse("news-request", &k, m), "-");
	CHECK_EQ_STR(parse("", &k, m), "-");
}

TEST(verp_round_trip)
{
	static const char *const members[] = {"bob@b.test", "a=b@c.test", "x+y@z.test",
					      "list-bounces+q=r@s.test", "o'neil@d.example"};
	for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
		char v[300], m[256];
		int k = -1;
		CHECK_EQ_INT(list_verp("news@club.test", members[i], v, sizeof v), 0);
		CHECK_EQ_STR(parse(v, &k, m), "news@club.test");
		CHECK_EQ_INT(k, LIST_TO_BOUNCES);
		CHECK_EQ_STR(m, members[i]);
	}
	char v[300];
	CHECK_EQ_INT(list_verp("news@club.test", "bob@b.test", v, sizeof v), 0);
	CHECK_EQ_STR(v, "news-bounces+bob=b.test@club.test");
}

TEST(verp_too_long_falls_back)
{
	char member[256], v[600], m[256];
	int k;
	memset(member, 'a', 240);
	strcpy(member + 240, "@b.test");
	CHECK_EQ_INT(list_verp("news@club.test", member, v, sizeof v), 0);
	CHECK_EQ_STR(v, "news-bounces@club.test");
	CHECK_EQ_STR(parse(v, &k, m), "news@club.test");
	CHECK_EQ_STR(m, "");
	CHECK_EQ_INT(list_verp("news@club.test", "not-an-address", v, sizeof v), -1);
}

TEST(verp_from_the_bounces_address)
{
	char v[300];
	CHECK_EQ_INT(list_verp_bounces("news-bounces@club.test", "bob@b.test", v, sizeof v), 0);
	CHECK_EQ_STR(v, "news-bounces+bob=b.test@club.test");
	CHECK_EQ_INT(list_verp_bounces("news@club.test", "bob@b.test", v, sizeof v), -1);
	/* a '=' in the member's domain (found by fuzz_list_addr) could not
	 * be decoded: the plain bounces address instead */
	CHECK_EQ_INT(list_verp("news@club.test", "a=b@=c", v, sizeof v), 0);
	CHECK_EQ_STR(v, "news-bounces@club.test");
}

TEST(verp_forged_members_do_not_decode)
{
	int k;
	char m[256];
	/* no '=', '=' first, empty domain, a domain with '.' at the end */
	CHECK_EQ_STR(parse("news-bounces+bob@club.test", &k, m), "news@club.test");
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(parse("news-bounces+=b.test@club.test", &k, m), "news@club.test");
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(parse("news-bounces+bob=@club.test", &k, m), "news@club.test");
	CHECK_EQ_STR(m, "");
	CHECK_EQ_STR(parse("news-bounces+bob=b.@club.test", &k, m), "news@club.test");
	CHECK_EQ_STR(m, "");
}

TEST(list_id_label)
{
	char id[300];
	CHECK_EQ_INT(list_id("news@club.test", id, sizeof id), 0);
	CHECK_EQ_STR(id, "<news.club.test>");
	CHECK_EQ_INT(list_id("nope", id, sizeof id), -1);
	CHECK_EQ_INT(list_id("news@club.test", id, 5), -1);
}

TEST(from_address)
{
	char a[256], n[256];
	CHECK_EQ_INT(list_from_addr("Ann Example <Ann@A.test>", a, sizeof a, n, sizeof n), 0);
	CHECK_EQ_STR(a, "ann@a.test");
	CHECK_EQ_STR(n, "Ann Example");
	CHECK_EQ_INT(list_from_addr("\"Doe, John\" <j@d.test>", a, sizeof a, n, sizeof n), 0);
	CHECK_EQ_STR(a, "j@d.test");
	CHECK_EQ_STR(n, "Doe, John");
	CHECK_EQ_INT(list_from_addr("  bob@b.test ", a, sizeof a, n, sizeof n), 0);
	CHECK_EQ_STR(a, "bob@b.test");
	CHECK_EQ_STR(n, "");
	CHECK_EQ_INT(list_from_addr("a@x.test, b@y.test", a, sizeof a, n, sizeof n), -1);
	CHECK_EQ_INT(list_from_addr("friends: a@x.test;", a, sizeof a, n, sizeof n), -1);
	CHECK_EQ_INT(list_from_addr("no address", a, sizeof a, n, sizeof n), -1);
	CHECK_EQ_INT(list_from_addr("<unterminated@x.test", a, sizeof a, n, sizeof n), -1);
	CHECK_EQ_INT(list_from_addr("", a, sizeof a, NULL, 0), -1);
}

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

TEST(token_round_trip_and_forgeries)
{
	char t[64], a = 0, bad[64];
	list_token_make(key, sizeof key, 's', 2000000000LL, "news@club.test", "bob@b.test", t,
			sizeof t);
	CHECK_EQ_INT(strlen(t), LIST_TOKEN_LEN);
	CHECK_EQ_INT(list_token_check(key, sizeof key, t, "news@club.test", "bob@b.test",
				      1900000000LL, &a), 0);
	CHECK_EQ_INT(a, 's');
	/* upper case (a client that changed it) still reads */
	strcpy(bad, t);
	for (char *p = bad; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test", "bob@b.test",
				      1900000000LL, &a), 0);
	/* another address, list, key, action or expiry: forged */
	CHECK_EQ_INT(list_token_check(key, sizeof key, t, "news@club.test", "eve@b.test",
				      1900000000LL, &a), -1);
	CHECK_EQ_INT(list_token_check(key, sizeof key, t, "talk@club.test", "bob@b.test",
				      1900000000LL, &a), -1);
	CHECK_EQ_INT(list_token_check(key, 31, t, "news@club.test", "bob@b.test", 1900000000LL,
				      &a), -1);
	strcpy(bad, t);
	bad[0] = 'u';
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test", "bob@b.test",
				      1900000000LL, &a), -1);
	strcpy(bad, t);
	bad[8] = bad[8] == 'f' ? 'e' : 'f';
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test", "bob@b.test",
				      1900000000LL, &a), -1);
	strcpy(bad, t);
	bad[LIST_TOKEN_LEN - 1] = bad[LIST_TOKEN_LEN - 1] == 'a' ? 'b' : 'a';
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test", "bob@b.test",
				      1900000000LL, &a), -1);
	CHECK_EQ_INT(list_token_check(key, sizeof key, "short", "news@club.test", "bob@b.test",
				      1900000000LL, &a), -1);
	/* the owner's approval of held post 7 is not one of post 8 */
	list_token_make(key, sizeof key, 'a', 2000000000LL, "news@club.test#7", "ann@club.test", bad,
			sizeof bad);
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test#7", "ann@club.test",
				      1900000000LL, &a), 0);
	CHECK_EQ_INT(a, 'a');
	CHECK_EQ_INT(list_token_check(key, sizeof key, bad, "news@club.test#8", "ann@club.test",
				      1900000000LL, &a), -1);
	/* expired */
	CHECK_EQ_INT(list_token_check(key, sizeof key, t, "news@club.test", "bob@b.test",
				      2000000001LL, &a), -2);
}

TEST(commands)
{
	char tok[64], t[64], subj[128];
	list_token_make(key, sizeof key, 'u', 2000000000LL, "news@club.test", "bob@b.test", t,
			sizeof t);
	CHECK_EQ_INT(list_cmd_parse("subscribe", "", 0, tok, sizeof tok), LIST_CMD_SUBSCRIBE);
	CHECK_EQ_INT(list_cmd_parse("  UNSUBSCRIBE me", "", 0, tok, sizeof tok),
		     LIST_CMD_UNSUBSCRIBE);
	CHECK_EQ_INT(list_cmd_parse("Re: help", "", 0, tok, sizeof tok), LIST_CMD_HELP);
	CHECK_EQ_INT(list_cmd_parse("join", "", 0, tok, sizeof tok), LIST_CMD_SUBSCRIBE);
	CHECK_EQ_INT(list_cmd_parse("Leave", "", 0, tok, sizeof tok), LIST_CMD_UNSUBSCRIBE);
	CHECK_EQ_INT(list_cmd_parse("subscribers wanted", "", 0, tok, sizeof tok), LIST_CMD_NONE);
	snprintf(subj, sizeof subj, "Re: Fwd: confirm %s", t);
	CHECK_EQ_INT(list_cmd_parse(subj, "", 0, tok, sizeof tok), LIST_CMD_CONFIRM);
	CHECK_EQ_STR(tok, t);
	snprintf(subj, sizeof subj, "confirm %sx", t); /* a longer word is no token */
	CHECK_EQ_INT(list_cmd_parse(subj, "", 0, tok, sizeof tok), LIST_CMD_NONE);
	const char *body = "\r\n  \r\nsubscribe\r\nunsubscribe\r\n";
	CHECK_EQ_INT(list_cmd_parse("", body, strlen(body), tok, sizeof tok), LIST_CMD_SUBSCRIBE);
	const char *other = "hello\r\nsubscribe\r\n"; /* only the first line counts */
	CHECK_EQ_INT(list_cmd_parse(NULL, other, strlen(other), tok, sizeof tok), LIST_CMD_NONE);
}

TEST_MAIN()
