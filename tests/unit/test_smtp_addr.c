/* Unit tests for smtp_addr.c: paths, commands, parameters, EHLO names and
 * the AUTH policy. Every relay trick from docs/smtp.md has a case here. */
/* deps: smtp_addr util log */
#include "harness.h"

#include "server.h"
#include "smtp.h"

/* Parse s as a whole path; returns the rc and checks it used everything. */
static int path(const char *s, unsigned opts, struct smtp_addr *a)
{
	size_t used = 0;
	int rc = smtp_path_parse(s, strlen(s), opts, a, &used);
	if (rc == 0 && used != strlen(s))
		return 99;
	return rc;
}

static const char *canon(const char *s, unsigned opts)
{
	static struct smtp_addr a;
	if (path(s, opts, &a) != 0)
		return "(error)";
	return a.addr;
}

TEST(path_plain)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<bob@example.test>", 0, &a), 0);
	CHECK_EQ_STR(a.addr, "bob@example.test");
	CHECK_EQ_STR(smtp_addr_domain(&a), "example.test");
	CHECK_EQ_INT(a.flags, 0);
	CHECK_EQ_STR(canon("<Bob.Smith+tag@EXAMPLE.Test>", 0), "Bob.Smith+tag@example.test");
	CHECK_EQ_STR(canon("<a!#$%&'*+-/=?^_`{|}~@x.y>", 0), "a!#$%&'*+-/=?^_`{|}~@x.y");
	CHECK_EQ_STR(canon("<x@a-b.c0>", 0), "x@a-b.c0");
	CHECK_EQ_STR(canon("<x@1.2.3.4>", 0), "x@1.2.3.4"); /* a Domain, not a literal */
}

TEST(path_null_and_postmaster)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<>", SP_NULL_OK, &a), 0);
	CHECK(a.flags & SA_NULL);
	CHECK_EQ_STR(a.addr, "");
	CHECK(path("<>", 0, &a) != 0);
	CHECK_EQ_INT(path("<Postmaster>", SP_POSTMASTER_OK, &a), 0);
	CHECK(a.flags & SA_POSTMASTER);
	CHECK_EQ_STR(a.addr, "postmaster");
	CHECK_EQ_INT(path("<POSTMASTER>", SP_POSTMASTER_OK, &a), 0);
	CHECK(path("<postmaster>", 0, &a) != 0);
	CHECK(path("<@a:postmaster>", SP_POSTMASTER_OK, &a) != 0);
	CHECK(path("<postmasterx>", SP_POSTMASTER_OK, &a) != 0);
}

TEST(path_syntax_errors)
{
	struct smtp_addr a;
	const char *bad[] = {
	    "",
	    "<",
	    ">",
	    "bob@x",
	    "<bob@x",
	    "bob@x>",
	    "<bob>",
	    "<@x>",
	    "<bob@>",
	    "<bob@x.>", /* trailing dot */
	    "<bob@.x>",
	    "<bob@x..y>",
	    "<bob@-x>",
	    "<bob@x->",
	    "<bob@x_y>",
	    "<.bob@x>",
	    "<bob.@x>",
	    "<b..ob@x>",
	    "<b ob@x>",
	    "<bob@x y>",
	    "<bob@@x>",
	    "<bob@x@y>",
	    "<\"bob@x>",
	    "<\"a\\\x01\"@x>",
	    "<bob@[1.2.3]>",
	    "<bob@[1.2.3.256]>",
	    "<bob@[1.2.3.4.5]>",
	    "<bob@[x]>",
	    "<bob@[IPv6:1::2::3]>",
	    "<bob@[IPv6:1:2:3:4:5:6:7]>",
	    "<bob@[IPv7:1.2.3.4]>",
	    "<bob@[1.2.3.4]",
	    "<bob@[]>",
	    "<bob@[IPv6:]>",
	    "<bob@[IPv6:1:2:3:4:5:6:7:8:9]>",
	    "<@:bob@x>",
	    "<@a,bob@x>",
	    "<@a@b:bob@x>",
	    "<@a.:bob@x>",
	    "<@a,:bob@x>",
	    "< bob@x>",
	    "<bob@x >",
	    "<bob\x80@x>",
	    "<bob@x\xc3>",
	    "<\xc0\xaf"
	    "bob@x>",
	    "<bob@x\xed\xa0\x80>",     /* UTF-16 surrogate */
	    "<bob@x\xf4\x90\x80\x80>", /* above U+10FFFF */
	    "<bob@x\xe0\x80\xaf>",     /* overlong */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = path(bad[i], SP_NULL_OK | SP_POSTMASTER_OK, &a);
		if (rc == 0) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			CHECK(rc != 0);
		}
	}
}

TEST(path_route_ignored)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<@relay.test:bob@example.test>", 0, &a), 0);
	CHECK_EQ_STR(a.addr, "bob@example.test");
	CHECK(a.flags & SA_ROUTE);
	CHECK_EQ_INT(path("<@a.test,@b.test:bob@local.test>", 0, &a), 0);
	CHECK_EQ_STR(smtp_addr_domain(&a), "local.test");
	/* the final domain is what counts, never the route */
	CHECK_EQ_INT(path("<@local.test:bob@evil.test>", 0, &a), 0);
	CHECK_EQ_STR(smtp_addr_domain(&a), "evil.test");
}

TEST(path_quoted)
{
	struct smtp_addr a;
	/* a quoted Dot-string is the Dot-string */
	CHECK_EQ_INT(path("<\"bob\"@x.test>", 0, &a), 0);
	CHECK_EQ_STR(a.addr, "bob@x.test");
	CHECK(!(a.flags & SA_QUOTED));
	CHECK_EQ_STR(canon("<\"b\\ob\"@x>", 0), "bob@x");
	/* otherwise kept quoted, minimally */
	CHECK_EQ_INT(path("<\"a@b\"@local.test>", 0, &a), 0);
	CHECK_EQ_STR(a.addr, "\"a@b\"@local.test");
	CHECK(a.flags & SA_QUOTED);
	CHECK(smtp_addr_routing_chars(&a));
	CHECK_EQ_STR(smtp_addr_domain(&a), "local.test");
	CHECK_EQ_STR(canon("<\"john smith\"@x>", 0), "\"john smith\"@x");
	CHECK_EQ_STR(canon("<\"a\\\"b\"@x>", 0), "\"a\\\"b\"@x");
	CHECK_EQ_STR(canon("<\"a\\\\b\"@x>", 0), "\"a\\\\b\"@x");
	CHECK_EQ_STR(canon("<\"\"@x>", 0), "\"\"@x");
	CHECK_EQ_STR(canon("<\".bob\"@x>", 0), "\".bob\"@x");
	/* the quoted @ must not be taken as the domain separator */
	CHECK_EQ_INT(path("<\"bob@evil.test\"@local.test>", 0, &a), 0);
	CHECK_EQ_STR(smtp_addr_domain(&a), "local.test");
}

TEST(path_routing_chars)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<user%other.test@local.test>", 0, &a), 0);
	CHECK_EQ_STR(smtp_addr_domain(&a), "local.test");
	CHECK(smtp_addr_routing_chars(&a));
	CHECK_EQ_INT(path("<other.test!bob@local.test>", 0, &a), 0);
	CHECK(smtp_addr_routing_chars(&a));
	CHECK_EQ_INT(path("<bob@local.test>", 0, &a), 0);
	CHECK(!smtp_addr_routing_chars(&a));
	CHECK_EQ_INT(path("<bob+tag@local.test>", 0, &a), 0);
	CHECK(!smtp_addr_routing_chars(&a));
}

TEST(path_literals)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<bob@[127.0.0.9]>", 0, &a), 0);
	CHECK(a.flags & SA_LITERAL);
	CHECK_EQ_STR(smtp_addr_domain(&a), "[127.0.0.9]");
	CHECK_EQ_INT(path("<bob@[IPv6:::1]>", 0, &a), 0);
	CHECK_EQ_INT(path("<bob@[IPv6:2001:db8::1]>", 0, &a), 0);
	CHECK_EQ_INT(path("<bob@[IPv6:1:2:3:4:5:6:7:8]>", 0, &a), 0);
	CHECK_EQ_INT(path("<bob@[IPv6:::ffff:1.2.3.4]>", 0, &a), 0);
	CHECK_EQ_INT(path("<bob@[IPv6:1::]>", 0, &a), 0);
}

TEST(path_utf8)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("<jos\xc3\xa9@example.test>", 0, &a), 0);
	CHECK(a.flags & SA_UTF8);
	CHECK_EQ_INT(path("<bob@b\xc3\xbc"
			  "cher.test>",
			  0, &a),
		     0);
	CHECK(a.flags & SA_UTF8);
	CHECK_EQ_INT(
	    path("<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b>", 0, &a), 0);
	CHECK_EQ_INT(path("<bob@example.test>", 0, &a), 0);
	CHECK(!(a.flags & SA_UTF8));
}

TEST(path_limits)
{
	struct smtp_addr a;
	char buf[1024];
	/* local part: 64 ok, 65 too long */
	snprintf(buf, sizeof buf, "<%.*s@x.test>", 64,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_EQ_INT(path(buf, 0, &a), 0);
	snprintf(buf, sizeof buf, "<%.*s@x.test>", 65,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_EQ_INT(path(buf, 0, &a), SMTP_ADDR_TOOLONG);
	/* label: 63 ok, 64 not */
	char label[80];
	memset(label, 'l', 64);
	label[64] = 0;
	snprintf(buf, sizeof buf, "<b@%.63s.test>", label);
	CHECK_EQ_INT(path(buf, 0, &a), 0);
	snprintf(buf, sizeof buf, "<b@%s.test>", label);
	CHECK(path(buf, 0, &a) != 0);
	/* whole address over 254 */
	char dom[300] = "";
	for (int i = 0; i < 5; i++)
		strcat(dom, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij.");
	strcat(dom, "test");
	snprintf(buf, sizeof buf, "<b@%s>", dom);
	CHECK_EQ_INT(path(buf, 0, &a), SMTP_ADDR_TOOLONG);
	/* the quoted form that needs escapes may not overflow either */
	memset(buf, 0, sizeof buf);
	strcpy(buf, "<\"");
	for (int i = 0; i < 64; i++)
		strcat(buf, "\\\"");
	strcat(buf, "\"@x>");
	CHECK_EQ_INT(path(buf, 0, &a), SMTP_ADDR_TOOLONG);
}

TEST(path_no_brackets)
{
	struct smtp_addr a;
	CHECK_EQ_INT(path("bob@example.test", SP_NO_BRACKETS, &a), 0);
	CHECK_EQ_STR(a.addr, "bob@example.test");
	CHECK(path("<bob@example.test>", SP_NO_BRACKETS, &a) != 0);
	size_t used;
	CHECK_EQ_INT(smtp_path_parse("bob@x.test, c@d", 15, SP_NO_BRACKETS, &a, &used), 0);
	CHECK_EQ_INT(used, 10);
}

TEST(domain_ok)
{
	CHECK(smtp_domain_ok("example.test", 12, 0));
	CHECK(!smtp_domain_ok("example.test.", 13, 0));
	CHECK(!smtp_domain_ok("", 0, 0));
	CHECK(!smtp_domain_ok("b\xc3\xbc.test", 8, 0));
	CHECK(smtp_domain_ok("b\xc3\xbc.test", 8, 1));
}

static struct smtp_cmd cmd(const char *s)
{
	struct smtp_cmd c;
	CHECK_EQ_INT(smtp_cmd_parse(s, strlen(s), &c), 0);
	return c;
}

TEST(cmd_verbs)
{
	struct smtp_cmd c = cmd("EHLO client.test");
	CHECK_EQ_INT(c.verb, SV_EHLO);
	CHECK_EQ_INT(c.arglen, 11);
	CHECK(memcmp(c.arg, "client.test", 11) == 0);
	CHECK_EQ_INT(cmd("helo x").verb, SV_HELO);
	CHECK_EQ_INT(cmd("mail FROM:<a@b>").verb, SV_MAIL);
	CHECK_EQ_INT(cmd("RcPt TO:<a@b>").verb, SV_RCPT);
	CHECK_EQ_INT(cmd("DATA").verb, SV_DATA);
	CHECK_EQ_INT(cmd("DATA ").verb, SV_DATA);
	CHECK_EQ_INT(cmd("DATA ").arglen, 0);
	CHECK_EQ_INT(cmd("BDAT 10 LAST").verb, SV_BDAT);
	CHECK_EQ_INT(cmd("RSET").verb, SV_RSET);
	CHECK_EQ_INT(cmd("NOOP hi").verb, SV_NOOP);
	CHECK_EQ_INT(cmd("QUIT").verb, SV_QUIT);
	CHECK_EQ_INT(cmd("VRFY bob").verb, SV_VRFY);
	CHECK_EQ_INT(cmd("EXPN list").verb, SV_EXPN);
	CHECK_EQ_INT(cmd("HELP").verb, SV_HELP);
	CHECK_EQ_INT(cmd("STARTTLS").verb, SV_STARTTLS);
	CHECK_EQ_INT(cmd("AUTH PLAIN AGJvYgBzZWNyZXQ=").verb, SV_AUTH);
	CHECK_EQ_INT(cmd("MAILX").verb, SV_UNKNOWN);
	CHECK_EQ_INT(cmd("MAIL:").verb, SV_UNKNOWN);
	CHECK_EQ_INT(cmd("").verb, SV_UNKNOWN);
	CHECK_EQ_INT(cmd("GET / HTTP/1.0").verb, SV_UNKNOWN);
	CHECK_EQ_STR(smtp_verb_name(SV_STARTTLS), "STARTTLS");
	struct smtp_cmd c2;
	CHECK_EQ_INT(smtp_cmd_parse("NOOP\0x", 6, &c2), -1);
	CHECK_EQ_INT(smtp_cmd_parse("NOOP\rx", 6, &c2), -1);
	CHECK_EQ_INT(smtp_cmd_parse("NOOP\x7f", 5, &c2), -1);
}

static int mail(const char *s, struct smtp_mail *m, const char **err)
{
	*err = NULL;
	return smtp_mail_parse(s, strlen(s), m, err);
}

TEST(mail_args)
{
	struct smtp_mail m;
	const char *err;
	CHECK_EQ_INT(mail("FROM:<a@b.test>", &m, &err), 0);
	CHECK_EQ_STR(m.from.addr, "a@b.test");
	CHECK_EQ_INT(mail("from: <a@b.test>", &m, &err), 0);
	CHECK_EQ_INT(mail("FROM:<>", &m, &err), 0);
	CHECK(m.from.flags & SA_NULL);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE=1000 BODY=8BITMIME", &m, &err), 0);
	CHECK(m.has_size);
	CHECK_EQ_INT(m.size, 1000);
	CHECK_EQ_INT(m.body, BODY_8BITMIME);
	CHECK_EQ_INT(mail("FROM:<a@b.test> body=7bit size=0", &m, &err), 0);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE=99999999999999999999", &m, &err), 0);
	CHECK(m.size == UINT64_MAX);
	CHECK_EQ_INT(mail("FROM:<a@b.test> AUTH=<>", &m, &err), 0);
	CHECK_EQ_INT(mail("FROM:<a@b.test>  SIZE=5", &m, &err), 0);
	/* errors and their replies */
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE=123456789012345678901", &m, &err), -1);
	CHECK(strncmp(err, "501 5.5.4", 9) == 0);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE=12x", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SIZE=1 SIZE=2", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:<a@b.test> BODY=BINARYMIME", &m, &err), -1);
	CHECK(strncmp(err, "555 5.5.4", 9) == 0);
	CHECK_EQ_INT(mail("FROM:<a@b.test> RET=FULL", &m, &err), -1);
	CHECK(strncmp(err, "555 5.5.4", 9) == 0);
	CHECK_EQ_INT(mail("FROM:<a@b.test>SIZE=1", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:<a@b.test> =1", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:<a@b.test> SMTPUTF8=yes", &m, &err), -1);
	CHECK_EQ_INT(mail("FROM:a@b.test", &m, &err), -1);
	CHECK(strncmp(err, "501 5.1.7", 9) == 0);
	CHECK_EQ_INT(mail("TO:<a@b.test>", &m, &err), -1);
	CHECK(strncmp(err, "501 5.5.4", 9) == 0);
	CHECK_EQ_INT(mail("FROM", &m, &err), -1);
	CHECK_EQ_INT(mail("", &m, &err), -1);
	/* UTF-8 needs SMTPUTF8 (RFC 6531 3.4) */
	CHECK_EQ_INT(mail("FROM:<jos\xc3\xa9@b.test>", &m, &err), -1);
	CHECK(strncmp(err, "553 5.6.7", 9) == 0);
	CHECK_EQ_INT(mail("FROM:<jos\xc3\xa9@b.test> SMTPUTF8", &m, &err), 0);
	CHECK(m.smtputf8);
}

static int rcpt(const char *s, int utf8, struct smtp_addr *a, const char **err)
{
	*err = NULL;
	return smtp_rcpt_parse(s, strlen(s), utf8, a, err);
}

TEST(rcpt_args)
{
	struct smtp_addr a;
	const char *err;
	CHECK_EQ_INT(rcpt("TO:<bob@local.test>", 0, &a, &err), 0);
	CHECK_EQ_STR(a.addr, "bob@local.test");
	CHECK_EQ_INT(rcpt("to: <Postmaster>", 0, &a, &err), 0);
	CHECK(a.flags & SA_POSTMASTER);
	CHECK_EQ_INT(rcpt("TO:<>", 0, &a, &err), -1);
	CHECK(strncmp(err, "501 5.1.3", 9) == 0);
	CHECK_EQ_INT(rcpt("TO:<bob@local.test> NOTIFY=NEVER", 0, &a, &err), -1);
	CHECK(strncmp(err, "555 5.5.4", 9) == 0);
	CHECK_EQ_INT(rcpt("TO:<bob@local.test.>", 0, &a, &err), -1);
	CHECK_EQ_INT(rcpt("TO:<jos\xc3\xa9@local.test>", 0, &a, &err), -1);
	CHECK(strncmp(err, "553 5.6.7", 9) == 0);
	CHECK_EQ_INT(rcpt("TO:<jos\xc3\xa9@local.test>", 1, &a, &err), 0);
	CHECK_EQ_INT(rcpt("FROM:<bob@local.test>", 0, &a, &err), -1);
	CHECK_EQ_INT(rcpt("TO:<bob@local.test>x", 0, &a, &err), -1);
}

/* The replies docs/smtp.md gives for an address over 254 octets: 553
 * 5.1.7 at MAIL, 553 5.1.3 at RCPT (a syntax error is 501). */
TEST(too_long_replies)
{
	struct smtp_mail m;
	struct smtp_addr a;
	const char *err = "";
	char dom[300] = "", cmd[400];
	for (int i = 0; i < 5; i++)
		strcat(dom, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij.");
	strcat(dom, "test");
	snprintf(cmd, sizeof cmd, "FROM:<b@%s>", dom);
	CHECK_EQ_INT(mail(cmd, &m, &err), -1);
	CHECK(strncmp(err, "553 5.1.7", 9) == 0);
	snprintf(cmd, sizeof cmd, "TO:<b@%s>", dom);
	CHECK_EQ_INT(rcpt(cmd, 0, &a, &err), -1);
	CHECK(strncmp(err, "553 5.1.3", 9) == 0);
}

TEST(bdat_args)
{
	uint64_t n;
	int last;
	CHECK_EQ_INT(smtp_bdat_parse("100", 3, &n, &last), 0);
	CHECK_EQ_INT(n, 100);
	CHECK_EQ_INT(last, 0);
	CHECK_EQ_INT(smtp_bdat_parse("0 LAST", 6, &n, &last), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(last, 1);
	CHECK_EQ_INT(smtp_bdat_parse("5 last", 6, &n, &last), 0);
	CHECK_EQ_INT(smtp_bdat_parse("", 0, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("x", 1, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("-1", 2, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("5 FIRST", 7, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("5LAST", 5, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("1234567890123456789", 19, &n, &last), -1);
	CHECK_EQ_INT(smtp_bdat_parse("123456789012345678", 18, &n, &last), 0);
}

TEST(helo_names)
{
	CHECK(smtp_helo_ok("client.test", 11));
	CHECK(smtp_helo_ok("my_host", 7));
	CHECK(smtp_helo_ok("[127.0.0.1]", 11));
	CHECK(smtp_helo_ok("[IPv6:::1]", 10));
	CHECK(!smtp_helo_ok("", 0));
	CHECK(!smtp_helo_ok("a b", 3));
	CHECK(!smtp_helo_ok("evil)(x", 7));
	CHECK(!smtp_helo_ok("[1.2.3.4", 8));
	CHECK(!smtp_helo_ok("x;y", 3));
	CHECK(!smtp_helo_ok("h\xc3\xa9", 3));
}

TEST(auth_policy)
{
	/* never on the MX port */
	CHECK(!smtp_auth_allowed(LK_SMTP, 1, 1));
	CHECK(!smtp_auth_allowed(LK_SMTP, 0, 1));
	/* submission: TLS or loopback */
	CHECK(smtp_auth_allowed(LK_SUBMISSION, 1, 0));
	CHECK(smtp_auth_allowed(LK_SUBMISSION, 0, 1));
	CHECK(!smtp_auth_allowed(LK_SUBMISSION, 0, 0));
	CHECK(smtp_auth_allowed(LK_SUBMISSIONS, 1, 0));
	CHECK(!smtp_auth_allowed(LK_IMAP, 1, 1));
}

TEST(utf8_len)
{
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"a", 1), 1);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xc3", 1), 0);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xf0\x8f\x98\x80", 4), 0);
	CHECK_EQ_INT(smtp_utf8_len((const unsigned char *)"\xff", 1), 0);
}

/* Feed every prefix: the parser must never read past n (ASan checks). */
TEST(path_prefixes)
{
	const char *s = "<@a.test,@b.test:\"x y\\\"z\"@[IPv6:2001:db8::1]> SIZE=10";
	size_t n = strlen(s);
	for (size_t k = 0; k <= n; k++) {
		char *copy = malloc(k ? k : 1);
		memcpy(copy, s, k);
		struct smtp_addr a;
		size_t used;
		smtp_path_parse(copy, k, SP_NULL_OK, &a, &used);
		struct smtp_mail m;
		const char *err;
		smtp_mail_parse(copy, k, &m, &err);
		free(copy);
	}
}

TEST_MAIN()
