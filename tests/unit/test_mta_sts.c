/* deps: mta_sts httpc conn tls dns util log config spool */
/*
 * test_mta_sts.c — the MTA-STS parsers and MX matching (mta_sts.c) on the
 * examples of RFC 8461 and on bad input; the policy is also fed with
 * every split into lines ending in LF instead of CRLF.
 */
#include "harness.h"

#include "../../mta_sts.h"

static int parse(const char *s, struct sts_policy *p)
{
	memset(p, 0, sizeof *p);
	return sts_policy_parse(s, strlen(s), p);
}

TEST(policy_rfc_example)
{
	struct sts_policy p;
	/* RFC 8461 3.2's example */
	CHECK_EQ_INT(parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
			   "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
			   &p),
		     0);
	CHECK_EQ_INT(p.mode, STS_ENFORCE);
	CHECK_EQ_INT((int)p.nmx, 3);
	CHECK_EQ_STR(p.mx[1], "*.example.net");
	CHECK_EQ_INT((int)p.max_age, 604800);
	/* LF only, white space around values, unknown keys, upper-case names */
	CHECK_EQ_INT(parse("version:STSv1\nmode:   testing \nfoo: bar\nmx: MX.Example.COM.\nmax_age: 86400",
			   &p),
		     0);
	CHECK_EQ_INT(p.mode, STS_TESTING);
	CHECK_EQ_STR(p.mx[0], "mx.example.com");
	/* mode none needs no mx */
	CHECK_EQ_INT(parse("version: STSv1\nmode: none\nmax_age: 0\n", &p), 0);
	CHECK_EQ_INT(p.mode, STS_NONE);
	/* max_age beyond a year is cut to a year */
	CHECK_EQ_INT(parse("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 9999999999\n", &p), 0);
	CHECK_EQ_INT((int)p.max_age, STS_MAX_AGE);
}

TEST(policy_bad)
{
	struct sts_policy p;
	const char *bad[] = {
	    "",
	    "mode: enforce\nmx: a.test\nmax_age: 1\n",			 /* no version */
	    "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",	 /* version */
	    "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",	 /* mode */
	    "version: STSv1\nmode: enforce\nmax_age: 1\n",		 /* no mx */
	    "version: STSv1\nmode: enforce\nmx: a.test\n",		 /* no max_age */
	    "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",	 /* max_age */
	    "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n",
	    "version: STSv1\nmode: enforce\nmx: a/../b\nmax_age: 1\n", /* not a name */
	    "version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n",
	    "version: STSv1\nmode: enforce\nmx a.test\nmax_age: 1\n", /* no colon */
	    "version: STSv1\nmode: enforce\nmx: .\nmax_age: 1\n",	  /* found by fuzz_mta_sts */
	    "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i], &p) != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_EQ_INT(parse(bad[i], &p), -1);
	}
	/* more mx lines than STS_MX_MAX */
	char big[4096] = "version: STSv1\nmode: enforce\nmax_age: 1\n";
	for (int i = 0; i <= STS_MX_MAX; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "mx: m%d.test\n", i);
	CHECK_EQ_INT(parse(big, &p), -1);
}

TEST(txt_record)
{
	char id[STS_ID_MAX + 1];
	const char *t = "v=STSv1; id=20160831085700Z;";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), 1);
	CHECK_EQ_STR(id, "20160831085700Z");
	t = "v=STSv1;id=abc";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), 1);
	CHECK_EQ_STR(id, "abc");
	t = "v=spf1 -all";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), 0);
	t = "v=STSv1;";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), -1); /* no id */
	t = "v=STSv1; id=a-b";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), -1);
	t = "v=STSv1; id=123456789012345678901234567890123"; /* 33 */
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), -1);
	t = "v=STSv1; id=1; id=2";
	CHECK_EQ_INT(sts_txt_parse(t, strlen(t), id), -1);
}

TEST(mx_match)
{
	struct sts_policy p;
	CHECK_EQ_INT(parse("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
			   "max_age: 1\n",
			   &p),
		     0);
	/* RFC 8461 4.1 */
	CHECK(sts_mx_match(&p, "mail.example.com"));
	CHECK(sts_mx_match(&p, "MAIL.Example.com."));
	CHECK(sts_mx_match(&p, "mx1.example.net"));
	CHECK(!sts_mx_match(&p, "example.net"));
	CHECK(!sts_mx_match(&p, "a.b.example.net"));
	CHECK(!sts_mx_match(&p, "other.example.com"));
	CHECK(!sts_mx_match(&p, "xmail.example.com"));
	CHECK(!sts_mx_match(&p, ".example.net"));
}

TEST_MAIN()
