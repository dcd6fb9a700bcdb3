/* test_pop3.c — the POP3 command parser and the RETR/TOP byte filter
 * (pop3_parse.c), fed whole, one byte at a time and in random splits. */
/* deps: pop3_parse */
#include "../../pop3.h"

#include "harness.h"

#ifndef ARRAY_LEN
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

static int parse(const char *s, struct pop3_cmd *c)
{
	return pop3_parse(s, strlen(s), c);
}

TEST(parse_simple)
{
	struct pop3_cmd c;

	CHECK_EQ_INT(parse("STAT", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.verb, POP3_STAT);
	CHECK_EQ_INT(c.argc, 0);
	CHECK_EQ_INT(parse("retr 1", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.verb, POP3_RETR);
	CHECK_EQ_STR(c.keyword, "RETR");
	CHECK_EQ_STR(c.argv[0], "1");
	CHECK_EQ_INT(parse("Top 3 10", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.verb, POP3_TOP);
	CHECK_EQ_STR(c.argv[0], "3");
	CHECK_EQ_STR(c.argv[1], "10");
	CHECK_EQ_INT(parse("LIST ", &c), POP3_PARSE_OK); /* trailing space tolerated */
	CHECK_EQ_INT(c.argc, 0);
	CHECK_EQ_INT(parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.argc, 2);
	CHECK_EQ_STR(c.argv[1], "AGFsaWNlAHNlY3JldA==");
	CHECK_EQ_INT(parse("AUTH", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.argc, 0);
}

TEST(parse_pass_keeps_spaces)
{
	struct pop3_cmd c;

	CHECK_EQ_INT(parse("PASS  two  spaces ", &c), POP3_PARSE_OK);
	CHECK_EQ_INT(c.verb, POP3_PASS);
	CHECK_EQ_STR(c.argv[0], " two  spaces ");
	CHECK_EQ_INT(parse("PASS", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("PASS ", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("PASS p\xc3\xa4ss", &c), POP3_PARSE_OK);
}

TEST(parse_errors)
{
	struct pop3_cmd c;
	char longl[300];

	CHECK_EQ_INT(parse("", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse(" STAT", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("ST", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("STATS", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("ST4T", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("XYZZ", &c), POP3_PARSE_UNKNOWN);
	CHECK_EQ_STR(c.keyword, "XYZZ");
	CHECK_EQ_INT(parse("STAT 1", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("RETR", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("RETR 1 2", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("TOP 1", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("TOP 1 2 3", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("USER a b", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("NOOP\tx", &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(pop3_parse("USER a\0b", 8, &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(parse("USER a\rb", &c), POP3_PARSE_SYNTAX);
	memset(longl, 'a', sizeof longl);
	memcpy(longl, "USER ", 5);
	CHECK_EQ_INT(pop3_parse(longl, 253, &c), POP3_PARSE_OK);
	CHECK_EQ_INT(pop3_parse(longl, 254, &c), POP3_PARSE_SYNTAX);
	CHECK_EQ_INT(pop3_parse(longl, sizeof longl, &c), POP3_PARSE_SYNTAX);
}

TEST(parse_num)
{
	uint32_t v;

	CHECK(pop3_parse_num("1", 10, &v) == 0 && v == 1);
	CHECK(pop3_parse_num("0", 10, &v) == 0 && v == 0);
	CHECK(pop3_parse_num("007", 10, &v) == 0 && v == 7);
	CHECK(pop3_parse_num("4294967295", UINT32_MAX, &v) == 0 && v == UINT32_MAX);
	CHECK(pop3_parse_num("4294967296", UINT32_MAX, &v) < 0);
	CHECK(pop3_parse_num("99999999999", UINT32_MAX, &v) < 0);
	CHECK(pop3_parse_num("00000000001", UINT32_MAX, &v) < 0); /* 11 digits */
	CHECK(pop3_parse_num("11", 10, &v) < 0);
	CHECK(pop3_parse_num("", 10, &v) < 0);
	CHECK(pop3_parse_num("-1", 10, &v) < 0);
	CHECK(pop3_parse_num("+1", 10, &v) < 0);
	CHECK(pop3_parse_num("1x", 10, &v) < 0);
	CHECK(pop3_parse_num(" 1", 10, &v) < 0);
}

/* ---- filter ---- */

struct sink {
	char buf[8192];
	size_t n;
};

static int sink_emit(void *arg, const void *p, size_t n)
{
	struct sink *k = arg;
	if (k->n + n > sizeof k->buf)
		return -1;
	memcpy(k->buf + k->n, p, n);
	k->n += n;
	return 0;
}

/* Run msg through the filter in pieces of `step` bytes (0 = random). */
static const char *run(const char *msg, int64_t top, size_t step, struct sink *k)
{
	struct pop3_filter f;
	size_t len = strlen(msg), off = 0;

	k->n = 0;
	pop3_filter_init(&f, top);
	while (off < len) {
		size_t n = step ? step : (size_t)(rand() % 7) + 1;
		if (n > len - off)
			n = len - off;
		if (pop3_filter_feed(&f, msg + off, n, sink_emit, k) < 0)
			return NULL;
		off += n;
	}
	if (pop3_filter_end(&f, sink_emit, k) < 0)
		return NULL;
	if (f.out != k->n)
		return NULL;
	k->buf[k->n] = '\0';
	return k->buf;
}

static void check_all_splits(const char *msg, int64_t top, const char *want)
{
	struct sink k;
	size_t steps[] = {1, 2, 3, 5, 4096, 0, 0, 0, 0};

	for (size_t i = 0; i < ARRAY_LEN(steps); i++)
		CHECK_EQ_STR(run(msg, top, steps[i], &k), want);
}

static const char msg1[] = "From: a@b\r\n"
			   "Subject: dots\r\n"
			   "\r\n"
			   ".hidden\r\n"
			   "..two\r\n"
			   "mid.dle\r\n"
			   ".\r\n"
			   "last\r\n";

TEST(filter_retr_dotstuff)
{
	check_all_splits(msg1, -1,
			 "From: a@b\r\nSubject: dots\r\n\r\n..hidden\r\n...two\r\nmid.dle\r\n"
			 "..\r\nlast\r\n");
}

TEST(filter_final_crlf)
{
	check_all_splits("A: b\r\n\r\nno end", -1, "A: b\r\n\r\nno end\r\n");
	check_all_splits("A: b\r\n\r\n.dot no end", -1, "A: b\r\n\r\n..dot no end\r\n");
	check_all_splits("A: b\r\n\r\nends with cr\r", -1, "A: b\r\n\r\nends with cr\r\r\n");
	check_all_splits("", -1, "");
	check_all_splits(".", -1, "..\r\n");
}

TEST(filter_top)
{
	check_all_splits(msg1, 0, "From: a@b\r\nSubject: dots\r\n\r\n");
	check_all_splits(msg1, 1, "From: a@b\r\nSubject: dots\r\n\r\n..hidden\r\n");
	check_all_splits(msg1, 4,
			 "From: a@b\r\nSubject: dots\r\n\r\n..hidden\r\n...two\r\n"
			 "mid.dle\r\n..\r\n");
	/* More lines than the body: the whole message. */
	check_all_splits(msg1, 1000,
			 "From: a@b\r\nSubject: dots\r\n\r\n..hidden\r\n...two\r\nmid.dle\r\n"
			 "..\r\nlast\r\n");
	/* No body separator at all: all of it. */
	check_all_splits("A: b\r\nC: d\r\n", 0, "A: b\r\nC: d\r\n");
	/* Header without final CRLF. */
	check_all_splits("A: b", 0, "A: b\r\n");
	/* Last body line without CRLF. */
	check_all_splits("A: b\r\n\r\nx", 5, "A: b\r\n\r\nx\r\n");
	/* A header line that is only "\r" + text is not the blank line. */
	check_all_splits("A: b\r\n\rX\r\n\r\nbody\r\n", 0, "A: b\r\n\rX\r\n\r\n");
}

TEST(filter_counts_match_output)
{
	char msg[2048];
	struct sink k;
	const char alphabet[] = ".\r\nab";

	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % 200);
		for (size_t i = 0; i < len; i++)
			msg[i] = alphabet[rand() % 5];
		msg[len] = '\0';
		for (int64_t top = -1; top < 4; top++) {
			const char *out = run(msg, top, 0, &k);
			const char *ref;
			struct sink k1;
			CHECK(out != NULL);
			ref = run(msg, top, 1, &k1);
			CHECK(ref != NULL);
			CHECK_EQ_STR(out, ref);
			/* Never a bare "." line, so the terminator is unique. */
			CHECK(strncmp(out, ".\r\n", 3) != 0);
			CHECK(strstr(out, "\n.\r\n") == NULL);
			CHECK(k.n == 0 || (k.buf[k.n - 2] == '\r' && k.buf[k.n - 1] == '\n'));
		}
	}
}

TEST_MAIN()
