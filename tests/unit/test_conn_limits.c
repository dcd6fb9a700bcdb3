/*
 * test_conn_limits.c — net.c's connection-slot policy (net_limits.c): an
 * IPv6 /64 counts as one client, an IPv4 address as itself; one client may
 * hold cap/8 slots but never fewer than 8; the MX and submission keep
 * cap/8 slots each that IMAP and POP3 cannot take (issue 22).
 */
/* deps: net_limits */
#include "harness.h"

#include "../../net.h"

enum { MX, SUB, IMAP, POP3 };

/* The key of ip, in one of a few rotating buffers (two may be compared). */
static const char *key(const char *ip)
{
	static char k[4][NET_CLIENT_MAX];
	static int n;
	char *b = k[n++ % 4];
	if (net_client_key(ip, b, NET_CLIENT_MAX) < 0)
		return "(error)";
	return b;
}

TEST(ipv6_counts_per_64)
{
	CHECK_EQ_STR(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
	CHECK_EQ_STR(key("2001:db8:1:2:ffff:eeee:dddd:cccc"), "2001:db8:1:2::/64");
	CHECK_EQ_STR(key("2001:db8:1:2:0:0:0:9"), key("2001:db8:1:2:a:b:c:d"));
	/* Another /64 of the same /48 is another client. */
	CHECK(strcmp(key("2001:db8:1:3::1"), key("2001:db8:1:2::1")) != 0);
	CHECK_EQ_STR(key("fe80::1"), "fe80::/64");
}

TEST(ipv4_counts_per_address)
{
	CHECK_EQ_STR(key("192.0.2.7"), "192.0.2.7");
	CHECK(strcmp(key("192.0.2.7"), key("192.0.2.8")) != 0);
	/* A v4-mapped peer is its IPv4 address, not the ::ffff:0:0/64. */
	CHECK_EQ_STR(key("::ffff:192.0.2.7"), "192.0.2.7");
	CHECK(strcmp(key("::ffff:192.0.2.7"), key("::ffff:192.0.2.8")) != 0);
	char k[NET_CLIENT_MAX];
	CHECK(net_client_key("not an address", k, sizeof k) < 0);
	CHECK(net_client_key("2001:db8::1", k, 4) < 0);
}

TEST(per_client_minimum_of_8)
{
	CHECK(net_peer_max(200) == 25);
	CHECK(net_peer_max(64) == 8);
	CHECK(net_peer_max(40) == 8);
	CHECK(net_peer_max(4) == 8);
	CHECK(net_peer_max(1000) == 125);
}

/* Fill IMAP then POP3 as far as they may go; the MX and submission must
 * still each find their reserve. */
TEST(mx_and_submission_keep_their_slots)
{
	int cap = 200, fam_max = cap - cap / 4, res = net_reserved(cap), c[NET_FAMILIES] = {0};
	CHECK(res == 25);
	while (net_slot_free(cap, fam_max, res, c, IMAP) == 1)
		c[IMAP]++;
	CHECK(c[IMAP] == 150);
	CHECK(net_slot_free(cap, fam_max, res, c, IMAP) == -1);
	while (net_slot_free(cap, fam_max, res, c, POP3) == 1)
		c[POP3]++;
	CHECK(c[POP3] == 0); /* the other 50 are the reserves */
	CHECK(net_slot_free(cap, fam_max, res, c, POP3) == -2);
	for (int i = 0; i < 25; i++) {
		CHECK(net_slot_free(cap, fam_max, res, c, MX) == 1);
		c[MX]++;
		CHECK(net_slot_free(cap, fam_max, res, c, SUB) == 1);
		c[SUB]++;
	}
	CHECK(net_slot_free(cap, fam_max, res, c, MX) == 0);
	CHECK(net_slot_free(cap, fam_max, res, c, SUB) == 0);
}

TEST(mixed_imap_pop3_cannot_take_the_reserve)
{
	int cap = 200, fam_max = 150, res = 25, c[NET_FAMILIES] = {0};
	for (int i = 0; i < 300; i++) {
		int f = i % 2 ? IMAP : POP3;
		if (net_slot_free(cap, fam_max, res, c, f) == 1)
			c[f]++;
	}
	CHECK(c[IMAP] + c[POP3] == 150);
	CHECK(net_slot_free(cap, fam_max, res, c, MX) == 1);
	CHECK(net_slot_free(cap, fam_max, res, c, SUB) == 1);
	/* The MX beyond its reserve competes for the shared slots like anyone. */
	c[MX] = 25;
	CHECK(net_slot_free(cap, fam_max, res, c, MX) == -2);
	CHECK(net_slot_free(cap, fam_max, res, c, SUB) == 1);
}

TEST(small_caps_have_no_reserve)
{
	int c[NET_FAMILIES] = {0};
	CHECK(net_reserved(4) == 0);
	c[IMAP] = 2;
	CHECK(net_slot_free(4, 3, 0, c, IMAP) == 1);
	c[IMAP] = 3;
	CHECK(net_slot_free(4, 3, 0, c, IMAP) == -1);
	CHECK(net_slot_free(4, 3, 0, c, MX) == 1);
	c[MX] = 1;
	CHECK(net_slot_free(4, 3, 0, c, POP3) == 0);
}

TEST_MAIN()
