/*
 * test_spf.c — SPF without DNS: the macro examples of RFC 7208 7.4
 * (IPv4 and IPv6), and the record grammar (what is a permerror before any
 * look-up). Evaluation against real DNS, compared with pyspf's verdicts for
 * every result, is in the end-to-end test t-70-mailauth (nsd plus a
 * SERVFAIL responder).
 */
/* deps: spf dns util log */
#include <string.h>

#include "../../spf.h"
#include "harness.h"

static const char *ex(const char *spec, const char *ip)
{
	static char out[512];
	if (spf_expand(spec, strlen(spec), ip, "strong-bad@email.example.com", "email.example.com",
		       "mx.example.org", 0, out, sizeof out) < 0)
		return "ERROR";
	return out;
}

TEST(rfc7208_macro_examples)
{
	const char *ip = "192.0.2.3";
	CHECK_EQ_STR(ex("%{s}", ip), "strong-bad@email.example.com");
	CHECK_EQ_STR(ex("%{o}", ip), "email.example.com");
	CHECK_EQ_STR(ex("%{d}", ip), "email.example.com");
	CHECK_EQ_STR(ex("%{d4}", ip), "email.example.com");
	CHECK_EQ_STR(ex("%{d3}", ip), "email.example.com");
	CHECK_EQ_STR(ex("%{d2}", ip), "example.com");
	CHECK_EQ_STR(ex("%{d1}", ip), "com");
	CHECK_EQ_STR(ex("%{dr}", ip), "com.example.email");
	CHECK_EQ_STR(ex("%{d2r}", ip), "example.email");
	CHECK_EQ_STR(ex("%{l}", ip), "strong-bad");
	CHECK_EQ_STR(ex("%{l-}", ip), "strong.bad");
	CHECK_EQ_STR(ex("%{lr}", ip), "strong-bad");
	CHECK_EQ_STR(ex("%{lr-}", ip), "bad.strong");
	CHECK_EQ_STR(ex("%{l1r-}", ip), "strong");
	CHECK_EQ_STR(ex("%{ir}.%{v}._spf.%{d2}", ip), "3.2.0.192.in-addr._spf.example.com");
	CHECK_EQ_STR(ex("%{lr-}.lp._spf.%{d2}", ip), "bad.strong.lp._spf.example.com");
	CHECK_EQ_STR(ex("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", ip),
		     "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	CHECK_EQ_STR(ex("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", ip),
		     "3.2.0.192.in-addr.strong.lp._spf.example.com");
	CHECK_EQ_STR(ex("%{d2}.trusted-domains.example.net", ip),
		     "example.com.trusted-domains.example.net");
	CHECK_EQ_STR(ex("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
		     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf."
		     "example.com");
	CHECK_EQ_STR(ex("%{h}%%%_%-", ip), "mx.example.org% %20");
	CHECK_EQ_STR(ex("%{i}", "::ffff:192.0.2.3"), "192.0.2.3");
}

TEST(macro_errors)
{
	CHECK_EQ_STR(ex("%{d0}", "192.0.2.3"), "ERROR"); /* zero parts */
	CHECK_EQ_STR(ex("%{x}", "192.0.2.3"), "ERROR");
	CHECK_EQ_STR(ex("%{d", "192.0.2.3"), "ERROR");
	CHECK_EQ_STR(ex("%d", "192.0.2.3"), "ERROR");
	CHECK_EQ_STR(ex("%", "192.0.2.3"), "ERROR");
	CHECK_EQ_STR(ex("%{c}", "192.0.2.3"), "ERROR"); /* exp= only */
	CHECK_EQ_STR(ex("a b", "192.0.2.3"), "ERROR");
}

static int rec(const char *r)
{
	return spf_record_check(r, strlen(r));
}

TEST(record_grammar)
{
	CHECK(rec("v=spf1") == 0);
	CHECK(rec("v=spf1 -all") == 0);
	CHECK(rec("v=spf1 mx a:x.example.com/24//64 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
		  "include:_spf.example.net exists:%{ir}.x.example ptr ?all") == 0);
	CHECK(rec("v=spf1 redirect=_spf.example.com") == 0);
	CHECK(rec("v=spf1 -all exp=explain.%{d} unknown-mod=x") == 0);
	CHECK(rec("v=spf1 a//64 mx/24") == 0);
	CHECK(rec("V=SPF1 -ALL") == 0);
	CHECK(rec("v=spf10 -all") == -1);
	CHECK(rec("v=spf1 foo -all") == -1); /* unknown mechanism */
	CHECK(rec("v=spf1 ip4:300.0.0.1") == -1);
	CHECK(rec("v=spf1 ip4:192.0.2.0/33") == -1);
	CHECK(rec("v=spf1 ip6:2001:db8::/129") == -1);
	CHECK(rec("v=spf1 a/33") == -1);
	CHECK(rec("v=spf1 a/024") == -1);
	CHECK(rec("v=spf1 all:x") == -1);
	CHECK(rec("v=spf1 include") == -1);
	CHECK(rec("v=spf1 include:") == -1);
	CHECK(rec("v=spf1 redirect=a redirect=b") == -1); /* 6: at most once */
	CHECK(rec("v=spf1 exp=a exp=b") == -1);
	CHECK(rec("v=spf1 exists:%{z}") == -1);
	CHECK(rec("v=spf1 +-all") == -1);
	CHECK(rec("v=spf1  -all") == 0); /* several spaces */
}

TEST(no_ip)
{
	char why[128];
	CHECK_EQ_INT(spf_check("not-an-ip", "example.com", "a@example.com", "h", why, sizeof why),
		     SPF_NONE);
	CHECK_EQ_STR(spf_res_name(SPF_SOFTFAIL), "softfail");
	CHECK_EQ_STR(spf_res_name(99), "permerror");
}

TEST_MAIN()
