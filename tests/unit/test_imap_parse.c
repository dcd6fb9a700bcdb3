/*
 * test_imap_parse.c — the IMAP command reader (imap_parse.c): tags, atoms,
 * quoted strings, lists, sections with spaces, literals {n} {n+} with their
 * limits, sequence sets (*, reversed ranges, 0, huge values), modified
 * UTF-7 both ways.
 */
/* deps: imap_parse message message_text spool util log */
#include "harness.h"
#include "imap.h"
#include "spool.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* A fake connection: lines and literal bytes come out of one buffer. */
struct fake {
	const char *p;
	size_t n, pos;
	int conts;
	char line[IMAP_LINE_MAX + 1];
};

static ssize_t f_getline(void *arg, char **line, size_t max)
{
	struct fake *f = arg;
	if (f->pos >= f->n)
		return -1;
	const char *s = f->p + f->pos, *nl = memchr(s, '\n', f->n - f->pos);
	if (!nl)
		return -1;
	size_t len = (size_t)(nl - s);
	f->pos += len + 1;
	if (len && s[len - 1] == '\r')
		len--;
	if (len > max)
		return -2;
	memcpy(f->line, s, len);
	f->line[len] = 0;
	*line = f->line;
	return (ssize_t)len;
}

static int f_read_n(void *arg, void *buf, size_t n)
{
	struct fake *f = arg;
	if (f->n - f->pos < n)
		return -1;
	memcpy(buf, f->p + f->pos, n);
	f->pos += n;
	return 0;
}

static int f_read_spool(void *arg, struct spool *sp, uint64_t n)
{
	struct fake *f = arg;
	if (f->n - f->pos < n)
		return -1;
	spool_write(sp, f->p + f->pos, (size_t)n);
	f->pos += (size_t)n;
	return 0;
}

static void f_cont(void *arg)
{
	((struct fake *)arg)->conts++;
}

static int parse_len(const char *text, size_t len, struct imap_cmd *cmd, struct fake *f,
		     int preauth)
{
	memset(f, 0, sizeof *f);
	f->p = text;
	f->n = len;
	struct imap_in in = {f_getline, f_read_n, f_read_spool, f_cont, f, 1 << 20, preauth};
	return imap_cmd_read(&in, cmd);
}

static int parse(const char *text, struct imap_cmd *cmd, struct fake *f)
{
	return parse_len(text, strlen(text), cmd, f, 0);
}

/* The next command from the same fake connection. */
static int parse_next(struct imap_cmd *cmd, struct fake *f, int preauth)
{
	struct imap_in in = {f_getline, f_read_n, f_read_spool, f_cont, f, 1 << 20, preauth};
	return imap_cmd_read(&in, cmd);
}

TEST(basic_command)
{
	struct imap_cmd c;
	struct fake f;
	CHECK_EQ_INT(parse("a1 login alice \"p w\\\"x\"\r\n", &c, &f), 0);
	CHECK_EQ_STR(c.tag, "a1");
	CHECK_EQ_STR(c.name, "LOGIN");
	CHECK_EQ_INT(c.args->nkids, 2);
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 0)), "alice");
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 1)), "p w\"x");
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse("7 UID fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.10>)\r\n", &c, &f), 0);
	CHECK_EQ_STR(c.name, "UID FETCH");
	struct iarg *l = iarg_nth(c.args, 1);
	CHECK(l && l->type == IA_LIST && l->nkids == 2);
	CHECK_EQ_STR(iarg_str(iarg_nth(l, 1)), "BODY.PEEK[HEADER.FIELDS (From To)]<0.10>");
	imap_cmd_clear(&c);
	/* '[' is an ATOM-CHAR: outside a fetch item's section it needs no ']'
	 * (issue 18: "BAD Missing ]" for a valid mailbox name). */
	CHECK_EQ_INT(parse("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[} x[y]z (a[)\r\n", &c, &f), 0);
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 0)), "!#$&'+,-.0123456789:;<=>?@^_`|[}");
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 1)), "x[y]z");
	CHECK_EQ_STR(iarg_str(iarg_nth(iarg_nth(c.args, 2), 0)), "a[");
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse("a FETCH 1 (body[header.fields (A B)] BINARY.PEEK[1]<0.5>)\r\n", &c, &f), 0);
	CHECK_EQ_STR(iarg_str(iarg_nth(iarg_nth(c.args, 1), 0)), "body[header.fields (A B)]");
	imap_cmd_clear(&c);
}

TEST(literals)
{
	struct imap_cmd c;
	struct fake f;
	CHECK_EQ_INT(parse("a LOGIN {5}\r\nalice {3+}\r\np\tw\r\n", &c, &f), 0);
	CHECK_EQ_INT(f.conts, 1); /* only the synchronizing one asked for "+" */
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 0)), "alice");
	CHECK_EQ_INT(iarg_nth(c.args, 1)->len, 3);
	CHECK(iarg_nth(c.args, 1)->literal);
	imap_cmd_clear(&c);
	/* A literal too large outside APPEND: BAD, no "+" sent. */
	CHECK_EQ_INT(parse("a LOGIN {999999}\r\n", &c, &f), 1);
	CHECK_EQ_INT(f.conts, 0);
	CHECK(strstr(c.err, "too large") != NULL);
	imap_cmd_clear(&c);
	/* APPEND may go up to the message size; beyond: NO [TOOBIG]. */
	CHECK_EQ_INT(parse("a APPEND INBOX {2000000}\r\n", &c, &f), 1);
	CHECK(c.no && strstr(c.err, "TOOBIG"));
	imap_cmd_clear(&c);
	/* A non-synchronizing literal too big is drained, then BAD. */
	struct sbuf m = {0};
	sbuf_puts(&m, "a LOGIN {70000+}\r\n");
	for (int i = 0; i < 70000; i++)
		sbuf_add(&m, "x", 1);
	sbuf_puts(&m, " pw\r\nb NOOP\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	imap_cmd_clear(&c);
	struct imap_in in = {f_getline, f_read_n, f_read_spool, f_cont, &f, 1 << 20, 0};
	CHECK_EQ_INT(imap_cmd_read(&in, &c), 0);
	CHECK_EQ_STR(c.name, "NOOP");
	imap_cmd_clear(&c);
	sbuf_free(&m);
	/* Unterminated literal: the connection ends. */
	CHECK_EQ_INT(parse("a LOGIN {10}\r\nabc", &c, &f), -1);
	imap_cmd_clear(&c);
	/* A big APPEND literal goes to a spool. */
	m = (struct sbuf){0};
	sbuf_puts(&m, "a APPEND INBOX (\\Seen) {100000+}\r\n");
	for (int i = 0; i < 100000; i++)
		sbuf_add(&m, "y", 1);
	sbuf_puts(&m, "\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 0);
	CHECK(iarg_nth(c.args, 2)->spooled && iarg_nth(c.args, 2)->len == 100000);
	CHECK(c.spool && spool_size(c.spool) == 100000);
	imap_cmd_clear(&c);
	sbuf_free(&m);
}

TEST(bad_input)
{
	static const char *const bad[] = {
		"\r\n", "a\r\n", "a \r\n", "+x NOOP\r\n", "a NO*OP\r\n", "a LOGIN \"unterminated\r\n",
		"a LOGIN (a (b)\r\n", "a LOGIN a)\r\n", "a LOGIN {5\r\n", "a LOGIN {5}x\r\n",
		"a FETCH 1 BODY[HEADER\r\n", "a LOGIN \"bad\\escape\"\r\n",
		"a X ((((((((((((((((((((((((((((((((((((((((x\r\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct imap_cmd c;
		struct fake f;
		int rc = parse(bad[i], &c, &f);
		if (rc != 1)
			printf("input %zu rc %d\n", i, rc);
		CHECK_EQ_INT(rc, 1);
		CHECK(c.err[0] != 0);
		imap_cmd_clear(&c);
	}
}

/* Random splits do not apply to a line reader, but random bytes must
 * never crash it or leak. */
TEST(random_bytes)
{
	char buf[256];
	unsigned seed = 12345;
	for (int round = 0; round < 20000; round++) {
		size_t n = 1 + (seed % 200);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			const char alphabet[] = "a1 ()\"{}+\\*:,~[]<>.\r\nFETCHUID0123456789";
			buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		buf[n] = 0;
		struct imap_cmd c;
		struct fake f;
		parse(buf, &c, &f);
		imap_cmd_clear(&c);
	}
}

/* Security review finding 1: before login a literal is judged from the
 * command name before any "+" or byte: only small ones for LOGIN,
 * AUTHENTICATE and ID; a refused LITERAL+ ends the connection. */
TEST(preauth_literals)
{
	struct imap_cmd c;
	struct fake f;
	const char *t = "a APPEND INBOX {65536+}\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(c.fatal && f.pos == strlen(t)); /* not one byte of the literal read */
	CHECK(strstr(c.err, "before login") != NULL);
	imap_cmd_clear(&c);
	t = "a APPEND INBOX {10}\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(!c.fatal && f.conts == 0); /* synchronizing: no "+", go on */
	imap_cmd_clear(&c);
	t = "a LOGIN {5}\r\nalice {3+}\r\npwd\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 0);
	CHECK_EQ_INT(f.conts, 1);
	CHECK_EQ_STR(iarg_str(iarg_nth(c.args, 1)), "pwd");
	imap_cmd_clear(&c);
	t = "a LOGIN {9000}\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(f.conts == 0 && !c.fatal);
	imap_cmd_clear(&c);
	t = "a LOGIN {9000+}\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(c.fatal);
	imap_cmd_clear(&c);
	t = "a ID ({1+}\r\na {1+}\r\nb {1+}\r\nc {1+}\r\nd {1+}\r\ne)\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1); /* the 5th literal */
	CHECK(c.fatal);
	imap_cmd_clear(&c);
	t = "a NOOP {1+}\r\nx\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(c.fatal);
	imap_cmd_clear(&c);
	/* Finding 7 before login: an error earlier in the line, LITERAL+ at
	 * its end: close, never read the literal as a command. */
	t = "a LOGIN \"x {5+}\r\nb NOOP\r\n";
	CHECK_EQ_INT(parse_len(t, strlen(t), &c, &f, 1), 1);
	CHECK(c.fatal);
	imap_cmd_clear(&c);
}

/* Finding 7: a LITERAL+ after an error earlier in its line is swallowed
 * after login, so its bytes are not taken for a command. */
TEST(refused_nonsync_literal_drained)
{
	struct imap_cmd c;
	struct fake f;
	const char *t = "a LOGIN \"unterminated {12+}\r\nb DELETE Foo\r\nc NOOP\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 1);
	CHECK(!c.fatal);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse_next(&c, &f, 0), 0);
	CHECK_EQ_STR(c.tag, "c");
	CHECK_EQ_STR(c.name, "NOOP");
	imap_cmd_clear(&c);
	/* "Too many arguments" with LITERAL+ ending the line. */
	struct sbuf m = {0};
	sbuf_puts(&m, "a NOOP");
	for (int i = 0; i < IMAP_ARGS_MAX; i++)
		sbuf_puts(&m, " x");
	sbuf_puts(&m, " {12+}\r\nb DELETE Foo\r\nc NOOP\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(strstr(c.err, "Too many") != NULL);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse_next(&c, &f, 0), 0);
	CHECK_EQ_STR(c.tag, "c");
	imap_cmd_clear(&c);
	sbuf_free(&m);
	/* Bad tag, same thing. */
	t = "a( LOGIN x {12+}\r\nb DELETE Foo\r\nc NOOP\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 1);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse_next(&c, &f, 0), 0);
	CHECK_EQ_STR(c.tag, "c");
	imap_cmd_clear(&c);
	/* A drained literal whose next line announces another: that too. */
	t = "a LOGIN \"x {3+}\r\nabc {12+}\r\nb DELETE Foo\r\nc NOOP\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 1);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse_next(&c, &f, 0), 0);
	CHECK_EQ_STR(c.tag, "c");
	imap_cmd_clear(&c);
	/* Beyond every bound: close instead. */
	t = "a LOGIN \"x {99999999999+}\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 1);
	CHECK(c.fatal);
	imap_cmd_clear(&c);
}

/* Finding 1 after login: literal counts and APPEND's totals are bounded,
 * and all APPEND messages share one spool. */
TEST(literal_bounds)
{
	struct imap_cmd c;
	struct fake f;
	struct sbuf m = {0};
	sbuf_puts(&m, "a SEARCH");
	for (int i = 0; i <= IMAP_LITERALS_MAX; i++)
		sbuf_puts(&m, " {1+}\r\nx");
	sbuf_puts(&m, "\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(strstr(c.err, "Too many literals") != NULL);
	imap_cmd_clear(&c);
	sbuf_free(&m);
	/* MULTIAPPEND: three messages, one spool, slices in order. */
	const char *t = "a APPEND INBOX {3+}\r\nabc (\\Seen) {2+}\r\nde {4+}\r\nfghi\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 0);
	CHECK(c.spool && spool_size(c.spool) == 9 && c.nspooled == 3);
	struct iarg *a3 = iarg_nth(c.args, 4);
	CHECK(a3 && a3->spooled && a3->off == 5 && a3->len == 4);
	imap_cmd_clear(&c);
	/* The total: 1 MiB (big_max here) plus a little per message. */
	m = (struct sbuf){0};
	sbuf_puts(&m, "a APPEND INBOX {600000+}\r\n");
	for (int i = 0; i < 600000; i++)
		sbuf_add(&m, "y", 1);
	sbuf_puts(&m, " {600000}\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(c.no && strstr(c.err, "TOOBIG") && f.conts == 0);
	imap_cmd_clear(&c);
	sbuf_free(&m);
	/* More than IMAP_APPEND_MSGS_MAX messages. */
	m = (struct sbuf){0};
	sbuf_puts(&m, "a APPEND INBOX");
	for (int i = 0; i <= IMAP_APPEND_MSGS_MAX; i++)
		sbuf_puts(&m, " {1+}\r\nz");
	sbuf_puts(&m, "\r\nb NOOP\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(strstr(c.err, "Too many messages") != NULL);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse_next(&c, &f, 0), 0); /* the rest was drained */
	CHECK_EQ_STR(c.name, "NOOP");
	imap_cmd_clear(&c);
	sbuf_free(&m);
	/* An over-long line closes: its end was never seen. */
	m = (struct sbuf){0};
	sbuf_puts(&m, "a NOOP ");
	for (int i = 0; i < IMAP_LINE_MAX; i++)
		sbuf_add(&m, "w", 1);
	sbuf_puts(&m, " {5+}\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(c.fatal);
	imap_cmd_clear(&c);
	sbuf_free(&m);
}

/* REPLACE's message (after number and mailbox) and CATENATE's TEXT and
 * UTF8 parts are spooled like APPEND's; a URL literal is not; CATENATE
 * TEXT parts together over the limit are [TOOBIG] before they are read. */
TEST(replace_and_catenate_literals)
{
	struct imap_cmd c;
	struct fake f;
	CHECK_EQ_INT(parse("a REPLACE 1 {6+}\r\nDrafts (\\Seen) {3+}\r\nabc\r\n", &c, &f), 0);
	CHECK_EQ_STR(c.name, "REPLACE");
	CHECK(!iarg_nth(c.args, 1)->spooled && iarg_nth(c.args, 3)->spooled);
	CHECK(c.nspooled == 1 && spool_size(c.spool) == 3);
	imap_cmd_clear(&c);
	CHECK_EQ_INT(parse("a UID REPLACE 9 Sent UTF8 (~{2+}\r\nxy)\r\n", &c, &f), 0);
	CHECK(iarg_nth(iarg_nth(c.args, 3), 0)->spooled && c.nspooled == 1);
	imap_cmd_clear(&c);
	const char *t = "a APPEND Drafts CATENATE (TEXT {3+}\r\nabc URL {7+}\r\n;UID=12 "
			"UTF8 (~{2+}\r\nde) TEXT {1+}\r\nf)\r\n";
	CHECK_EQ_INT(parse(t, &c, &f), 0);
	struct iarg *l = iarg_nth(c.args, 2);
	CHECK(l && l->type == IA_LIST && l->nkids == 8);
	CHECK(iarg_nth(l, 1)->spooled && !iarg_nth(l, 3)->spooled);
	CHECK_EQ_STR(iarg_str(iarg_nth(l, 3)), ";UID=12");
	CHECK(iarg_nth(iarg_nth(l, 5), 0)->spooled && iarg_nth(l, 7)->spooled);
	CHECK(c.nspooled == 3 && spool_size(c.spool) == 6);
	imap_cmd_clear(&c);
	/* big_max is 1 MiB here: 526,000 twice in one CATENATE passes it
	 * (though not the MULTIAPPEND total, which allows 4 KiB a literal
	 * more); as two APPEND messages it is fine. */
	struct sbuf m = {0};
	sbuf_puts(&m, "a APPEND x CATENATE (TEXT {526000+}\r\n");
	for (int i = 0; i < 526000; i++)
		sbuf_add(&m, "y", 1);
	sbuf_puts(&m, " TEXT {526000}\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 1);
	CHECK(c.no && strstr(c.err, "TOOBIG") && f.conts == 0);
	imap_cmd_clear(&c);
	sbuf_free(&m);
	m = (struct sbuf){0};
	sbuf_puts(&m, "a APPEND x {526000+}\r\n");
	for (int i = 0; i < 526000; i++)
		sbuf_add(&m, "y", 1);
	sbuf_puts(&m, " {526000+}\r\n");
	for (int i = 0; i < 526000; i++)
		sbuf_add(&m, "z", 1);
	sbuf_puts(&m, "\r\n");
	CHECK_EQ_INT(parse(m.p, &c, &f), 0);
	CHECK(c.nspooled == 2);
	imap_cmd_clear(&c);
	sbuf_free(&m);
}

/* The old matcher, exponential but simple: the reference. */
static int ref_match(const char *p, const char *n)
{
	if (!*p)
		return !*n;
	if (*p == '*')
		return ref_match(p + 1, n) || (*n && ref_match(p, n + 1));
	if (*p == '%')
		return ref_match(p + 1, n) || (*n && *n != '/' && ref_match(p, n + 1));
	return *p == *n && ref_match(p + 1, n + 1);
}

/* Finding 4: LIST patterns. Same answers as the reference on random
 * inputs, and a pathological pattern takes no time. */
TEST(wild_match)
{
	CHECK(imap_wild_match("*", "a/b/c"));
	CHECK(imap_wild_match("%", "abc") && !imap_wild_match("%", "a/b"));
	CHECK(imap_wild_match("INBOX/%", "INBOX/x") && !imap_wild_match("INBOX/%", "INBOX/x/y"));
	CHECK(imap_wild_match("a%c", "abc") && !imap_wild_match("a%c", "ab/c"));
	CHECK(imap_wild_match("", "") && !imap_wild_match("", "a"));
	CHECK(imap_wild_match("%*%", "a/b"));
	unsigned seed = 777;
	for (int round = 0; round < 200000; round++) {
		char p[10], n[10];
		size_t lp = 0, ln = 0;
		seed = seed * 1103515245 + 12345;
		size_t np = (seed >> 16) % 8, nn = (seed >> 8) % 9;
		for (size_t i = 0; i < np; i++) {
			seed = seed * 1103515245 + 12345;
			p[lp++] = "ab/*%"[(seed >> 16) % 5];
		}
		for (size_t i = 0; i < nn; i++) {
			seed = seed * 1103515245 + 12345;
			n[ln++] = "ab/"[(seed >> 16) % 3];
		}
		p[lp] = n[ln] = 0;
		if (imap_wild_match(p, n) != ref_match(p, n)) {
			printf("pattern \"%s\" name \"%s\"\n", p, n);
			CHECK(0);
			break;
		}
	}
	char name[STORE_MBOX_MAX + 1];
	memset(name, 'a', 200);
	name[200] = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++) {
		CHECK(!imap_wild_match("*a*a*a*a*a*a*a*a*a*ab", name));
		CHECK(!imap_wild_match("%a%a%a%a%a%a%a%a%a%ab", name));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms < 2000); /* 200 runs; the old matcher needed minutes for one */
}

TEST(seqsets)
{
	struct seqset s;
	CHECK_EQ_INT(seqset_parse("1:*", &s), 0);
	seqset_resolve(&s, 10);
	CHECK(seqset_contains(&s, 1) && seqset_contains(&s, 10) && !seqset_contains(&s, 11));
	seqset_free(&s);
	CHECK_EQ_INT(seqset_parse("*:1", &s), 0);
	seqset_resolve(&s, 3);
	CHECK(seqset_contains(&s, 2) && !seqset_contains(&s, 4));
	seqset_free(&s);
	CHECK_EQ_INT(seqset_parse("5:3,9,7:8,4294967295", &s), 0);
	seqset_resolve(&s, 0);
	CHECK_EQ_INT(s.n, 3); /* 3:5 7:9 4294967295 */
	CHECK(seqset_contains(&s, 4) && seqset_contains(&s, 8) && !seqset_contains(&s, 6));
	CHECK(seqset_contains(&s, 4294967295u));
	seqset_free(&s);
	CHECK_EQ_INT(seqset_parse("1:4294967295", &s), 0);
	seqset_resolve(&s, 5);
	CHECK(seqset_contains(&s, 4000000000u));
	seqset_free(&s);
	/* '*' in an empty mailbox is 0: nothing matches. */
	CHECK_EQ_INT(seqset_parse("*", &s), 0);
	seqset_resolve(&s, 0);
	CHECK(!seqset_contains(&s, 1));
	seqset_free(&s);
	static const char *const bad[] = {"0", "1:0", "", "1,", ",1", "1::2", "a", "4294967296",
					  "1:2:3", "-1", "01", "1 2"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK_EQ_INT(seqset_parse(bad[i], &s), -1);
}

TEST(mutf7)
{
	char out[128];
	struct sbuf b = {0};
	CHECK_EQ_INT(mutf7_decode("Projekt &AOQ-", out, sizeof out), 0);
	CHECK_EQ_STR(out, "Projekt \xc3\xa4");
	CHECK_EQ_INT(mutf7_decode("&ZeVnLIqe-", out, sizeof out), 0); /* RFC 3501 5.1.3 */
	CHECK_EQ_STR(out, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	CHECK_EQ_INT(mutf7_decode("a&-b", out, sizeof out), 0);
	CHECK_EQ_STR(out, "a&b");
	CHECK_EQ_INT(mutf7_decode("&AGE-", out, sizeof out), -1); /* encoded ASCII */
	CHECK_EQ_INT(mutf7_decode("&AOQ", out, sizeof out), -1);  /* unterminated */
	CHECK_EQ_INT(mutf7_decode("\xc3\xa4", out, sizeof out), -1);
	mutf7_encode("Projekt \xc3\xa4 & \xf0\x9f\x98\x80", &b);
	CHECK_EQ_STR(b.p, "Projekt &AOQ- &- &2D3eAA-");
	CHECK_EQ_INT(mutf7_decode(b.p, out, sizeof out), 0);
	CHECK_EQ_STR(out, "Projekt \xc3\xa4 & \xf0\x9f\x98\x80");
	sbuf_free(&b);
}

TEST_MAIN()
