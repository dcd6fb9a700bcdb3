/*
 * test_dmarc.c — DMARC without DNS: record parsing (6.3, 6.6.3), the
 * organisational domain with the built-in suffix list, and the From
 * domain. Policy look-up with real DNS (pass, reject, sp=reject at the
 * organisational domain, quarantine into Junk) is in t-70-mailauth.
 */
/* deps: dmarc dkim spf dns sasl spool util log */
#include <string.h>

#include "../../dmarc.h"
#include "harness.h"

static int parse(const char *s, struct dmarc_rec *r)
{
	return dmarc_parse(s, strlen(s), r);
}

TEST(records)
{
	struct dmarc_rec r;
	CHECK(parse("v=DMARC1; p=reject", &r) == 0);
	CHECK(r.p == DMARC_P_REJECT && r.sp == DMARC_P_REJECT && r.pct == 100);
	CHECK(r.adkim == 0 && r.aspf == 0);
	CHECK(parse("v=DMARC1;p=quarantine;sp=none;pct=20;adkim=s;aspf=s;rua=mailto:x@y", &r) == 0);
	CHECK(r.p == DMARC_P_QUARANTINE && r.sp == DMARC_P_NONE && r.pct == 20);
	CHECK(r.adkim == 1 && r.aspf == 1);
	CHECK(parse("v=DMARC1; p=none; pct=500", &r) == 0 && r.pct == 100);
	CHECK(parse("p=reject; v=DMARC1", &r) == -1); /* v must come first */
	CHECK(parse("v=DMARC1", &r) == -1);	      /* no p= */
	CHECK(parse("v=DMARC1; p=bogus", &r) == -1);
	CHECK(parse("v=DMARC2; p=reject", &r) == -1);
	CHECK(parse("", &r) == -1);
}

static const char *org(const char *d)
{
	static char out[256];
	dmarc_org_domain(d, out, sizeof out);
	return out;
}

TEST(org_domain)
{
	CHECK_EQ_STR(org("mail.example.com"), "example.com");
	CHECK_EQ_STR(org("a.b.c.Example.COM."), "example.com");
	CHECK_EQ_STR(org("example.com"), "example.com");
	CHECK_EQ_STR(org("com"), "com");
	CHECK_EQ_STR(org("mail.example.co.uk"), "example.co.uk");
	CHECK_EQ_STR(org("example.co.uk"), "example.co.uk");
	CHECK_EQ_STR(org("x.y.example.com.au"), "example.com.au");
}

static const char *from(const char *v)
{
	static char out[256];
	return dmarc_from_domain(v, out, sizeof out) == 0 ? out : "ERROR";
}

TEST(from_domain)
{
	CHECK_EQ_STR(from("alice@Example.COM"), "example.com");
	CHECK_EQ_STR(from("Alice <alice@example.com>"), "example.com");
	CHECK_EQ_STR(from("\"Bob @ Work\" <bob@work.example> (comment @ x)"), "work.example");
	CHECK_EQ_STR(from("a@x.example, b@y.example"), "ERROR");
	CHECK_EQ_STR(from("undisclosed"), "ERROR");
	CHECK_EQ_STR(from("<@>"), "ERROR");
	CHECK_EQ_STR(dmarc_res_name(DMARC_TEMPERROR), "temperror");
	CHECK_EQ_STR(dmarc_policy_name(DMARC_P_QUARANTINE), "quarantine");
}

TEST_MAIN()
