/* Unit tests for spam.c: the strength table, the per-recipient decision,
 * the X-Spam fields, and the content checks on messages in memory
 * (hostile ones included: no header end, huge fields, deep MIME). */
/* deps: spam message message_text spool util log */
#include "harness.h"
#include "../../spam.h"
#include "../../util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char gtube[] = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

static struct spam_result check(const char *msg, const char *auth)
{
	struct spam_result r = {0};
	spam_content_mem(msg, strlen(msg), auth, &r);
	return r;
}

#define HDR "Message-ID: <1@a.test>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"

TEST(strength_names)
{
	CHECK_EQ_INT(spam_strength_parse("off", 0), SPAM_OFF);
	CHECK_EQ_INT(spam_strength_parse("strict", 0), SPAM_STRICT);
	CHECK_EQ_INT(spam_strength_parse("default", 0), -1);
	CHECK_EQ_INT(spam_strength_parse("default", 1), SPAM_DEFAULT);
	CHECK_EQ_INT(spam_strength_parse("Normal", 0), -1);
	CHECK(strcmp(spam_strength_name(SPAM_LENIENT), "lenient") == 0);
}

TEST(table_is_ordered)
{
	/* stricter never files less: each threshold falls or stays */
	for (int s = SPAM_LENIENT; s < SPAM_STRICT; s++) {
		CHECK(spam_level(s + 1)->junk <= spam_level(s)->junk);
		CHECK(spam_level(s + 1)->reject <= spam_level(s)->reject);
		CHECK(spam_level(s)->junk < spam_level(s)->reject);
	}
	for (double sc = -5; sc < 2000; sc += 0.5)
		CHECK_EQ_INT(spam_action(SPAM_OFF, sc), SPAM_INBOX);
	CHECK_EQ_INT(spam_action(SPAM_NORMAL, 4.9), SPAM_INBOX);
	CHECK_EQ_INT(spam_action(SPAM_NORMAL, 5.0), SPAM_JUNK);
	CHECK_EQ_INT(spam_action(SPAM_NORMAL, 20.0), SPAM_REJECT);
	CHECK_EQ_INT(spam_action(SPAM_STRICT, 10.0), SPAM_REJECT);
	CHECK_EQ_INT(spam_action(SPAM_LENIENT, 1000.0), SPAM_JUNK);
}

TEST(decide_per_recipient)
{
	int str[3] = {SPAM_STRICT, SPAM_STRICT, SPAM_STRICT}, act[3];
	double s15[3] = {15, 15, 15}, s1[3] = {1, 1, 1}, mixed[3] = {12, 2, 4};
	CHECK_EQ_INT(spam_decide(str, s15, 3, act), SPAM_REJECT);
	str[1] = SPAM_NORMAL;
	CHECK_EQ_INT(spam_decide(str, s15, 3, act), SPAM_INBOX);
	CHECK_EQ_INT(act[0], SPAM_JUNK); /* would reject, others take it: Junk */
	CHECK_EQ_INT(act[1], SPAM_JUNK);
	str[1] = SPAM_OFF;
	CHECK_EQ_INT(spam_decide(str, s15, 3, act), SPAM_INBOX);
	CHECK_EQ_INT(act[1], SPAM_INBOX);
	CHECK_EQ_INT(spam_decide(str, s1, 3, act), SPAM_INBOX);
	CHECK_EQ_INT(act[0], SPAM_INBOX);
	CHECK_EQ_INT(spam_decide(str, s15, 0, act), SPAM_INBOX);
	/* each recipient's own score (its classifier) */
	str[1] = SPAM_STRICT;
	CHECK_EQ_INT(spam_decide(str, mixed, 3, act), SPAM_INBOX);
	CHECK_EQ_INT(act[0], SPAM_JUNK);
	CHECK_EQ_INT(act[1], SPAM_INBOX);
	CHECK_EQ_INT(act[2], SPAM_JUNK);
}

TEST(fields)
{
	struct spam_result r = {0};
	char *f = spam_fields(&r);
	CHECK(strcmp(f, "X-Spam-Score: 0.0\r\nX-Spam-Status: score=0.0 tests=none\r\n") == 0);
	free(f);
	for (int i = 0; i < SPAM_TESTS_MAX + 5; i++)
		spam_add(&r, "SOME_LONG_TEST_NAME", 0.5);
	spam_add(&r, "bad name\r\nX: y", 1);
	CHECK(r.n == SPAM_TESTS_MAX);
	CHECK(r.score == 0.5 * (SPAM_TESTS_MAX + 5) + 1);
	f = spam_fields(&r);
	for (char *l = f, *e; *l; l = e + 2) {
		e = strstr(l, "\r\n");
		CHECK(e && e - l < 78);
		CHECK(l == f || l[0] == '\t' || !strncmp(l, "X-Spam-Status:", 14));
	}
	free(f);
	/* names are kept clean whatever a check passes */
	struct spam_result q = {0};
	spam_add(&q, "bad name\r\nX: y", -1);
	CHECK(strcmp(q.tests[0].name, "BAD_NAME__X__Y") == 0 ||
	      strchr(q.tests[0].name, '\r') == NULL);
	f = spam_fields(&q);
	CHECK(strstr(f, "score=-1.0") && !strstr(f, "\r\nX:"));
	free(f);
}

TEST(gtube_and_heuristics)
{
	char buf[1024];
	snprintf(buf, sizeof buf, HDR "From: a@b.test\r\n\r\nhello %s\r\n", gtube);
	struct spam_result r = check(buf, NULL);
	CHECK(spam_fired(&r, "GTUBE") && r.n == 1);
	r = check("From: a@b.test\r\n\r\nhello\r\n", "");
	CHECK(spam_fired(&r, "MISSING_MID") && spam_fired(&r, "MISSING_DATE") && r.n == 2);
	r = check(HDR "From: \"support@paypal.com\" <x@mail.evil.test>\r\n\r\nhi\r\n", NULL);
	CHECK(spam_fired(&r, "FROM_NAME_ADDR"));
	r = check(HDR "From: =?utf-8?Q?support=40paypal=2Ecom?= <x@evil.test>\r\n\r\nhi\r\n", NULL);
	CHECK(spam_fired(&r, "FROM_NAME_ADDR"));
	r = check(HDR "From: \"bob@b.test\" <bob@mail.b.test>\r\n\r\nhi\r\n", NULL);
	CHECK(r.n == 0); /* same organisation */
	r = check(HDR "From: Bob Smith <bob@b.test>\r\n\r\nhi\r\n", NULL);
	CHECK(r.n == 0);
	r = check(HDR "From: \"write to me at bob@\" <bob@b.test>\r\n\r\nhi\r\n", NULL);
	CHECK(r.n == 0);
}

TEST(attachments)
{
	static const char *const names[] = {"a.exe",  "A.EXE",	"x.pdf.scr",
					    "run.js", "l.lnk ", "=?utf-8?B?YS5leGU=?="};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char buf[1024];
		snprintf(buf, sizeof buf,
			 HDR
			 "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n"
			 "--x\r\nContent-Type: application/octet-stream\r\n"
			 "Content-Disposition: attachment; filename=\"%s\"\r\n\r\nMZ\r\n--x--\r\n",
			 names[i]);
		struct spam_result r = check(buf, NULL);
		CHECK(spam_fired(&r, "EXE_ATTACHMENT"));
		if (!spam_fired(&r, "EXE_ATTACHMENT"))
			fprintf(stderr, "missed %s\n", names[i]);
	}
	struct spam_result r =
	    check(HDR "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		      "Content-Type: application/pdf; name=\"exe.pdf\"\r\n\r\n%PDF\r\n--x--\r\n",
		  NULL);
	CHECK(r.n == 0);
	r = check(
	    HDR "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=y\r\n"
		"\r\n--y\r\nContent-Type: application/x-msdownload\r\n\r\nMZ\r\n--y--\r\n--x--\r\n",
	    NULL);
	CHECK(spam_fired(&r, "EXE_ATTACHMENT")); /* inside a forwarded message too */
}

TEST(auth_verdicts)
{
	struct spam_result r = check(HDR "\r\nx", "spf=fail dkim=fail dmarc=fail action=junk");
	CHECK(spam_fired(&r, "SPF_FAIL") && spam_fired(&r, "DKIM_FAIL") &&
	      spam_fired(&r, "DMARC_FAIL"));
	r = check(HDR "\r\nx", "spf=softfail dkim=pass dmarc=pass");
	CHECK(spam_fired(&r, "SPF_SOFTFAIL") && spam_fired(&r, "DMARC_PASS") && r.score < 0.5);
	r = check(HDR "\r\nx", "auth=local");
	CHECK(r.n == 0);
	r = check(HDR "\r\nx", "spf=failure dkim=pass dmarc=none");
	CHECK(r.n == 0); /* whole words only */
}

TEST(hostile)
{
	/* no header end, 100,000 header lines, one huge token, binary, a GTUBE
	 * past the prefix: bounded, no crash, the prefix only */
	size_t n = 4u << 20;
	char *m = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		m[i] = (char)(i * 7919 % 251 + 1);
	m[n] = 0;
	struct spam_result r = check(m, NULL);
	CHECK(r.score < 100);
	size_t k = 0;
	for (int i = 0; i < 100000 && k + 40 < n; i++)
		k += (size_t)sprintf(m + k, "X-H-%d: v\r\n", i);
	k += (size_t)sprintf(m + k, "\r\n");
	memset(m + k, 'A', n - k);
	memcpy(m + n - sizeof gtube, gtube, sizeof gtube - 1);
	m[n] = 0;
	r = check(m, NULL);
	CHECK(!spam_fired(&r, "GTUBE")); /* beyond SPAM_PREFIX_MAX */
	CHECK(spam_fired(&r, "MISSING_MID"));
	memset(m, '-', n);
	r = check(m, NULL);
	CHECK(r.n == 2);
	/* deep multipart nesting */
	k = 0;
	for (int i = 0; i < 5000 && k + 80 < n; i++)
		k += (size_t)sprintf(
		    m + k, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	m[k] = 0;
	r = check(m, NULL);
	CHECK(r.n == 2);
	free(m);
}

TEST_MAIN()
