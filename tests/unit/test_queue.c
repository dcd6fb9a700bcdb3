/* deps: queue_smtp queue_dsn conn tls mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal spool util log config authres dkim dkim_keys dns sasl smtp_msg sieve_deliver sieve sieve_parse sieve_match message message_text smtp_addr spf dmarc srs mailbox_fts fts mailbox_spam mailbox_place mailbox_grey */
/*
 * test_queue.c — the outbound queue's pieces that need no network: the
 * SMTP reply parser (fed whole and byte by byte), the dot-stuffing writer
 * over a socketpair, the source address taken from listen.smtp, and the
 * store's queue functions (take under a lease,
 * per-recipient update, release of leases, flush).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "mailbox.h"
#include "queue.h"
#include "spool.h"
#include "util.h"
#include "harness.h"

static int feed(struct smtp_reply *r, const char *text, int ehlo)
{
	const char *p = text;
	int rc = 0;
	smtp_reply_init(r);
	while (*p) {
		size_t n = strcspn(p, "\n");
		rc = smtp_reply_line(r, p, n, ehlo);
		if (rc != 0)
			break;
		p += n + (p[n] == '\n');
	}
	return rc;
}

TEST(reply_single_and_enhanced)
{
	struct smtp_reply r;
	char out[600];
	CHECK(feed(&r, "550 5.1.1 <x@y>: no such user", 0) == 1);
	CHECK(r.code == 550);
	CHECK_EQ_STR(r.enh, "5.1.1");
	CHECK_EQ_STR(r.text, "<x@y>: no such user");
	smtp_reply_format(&r, out, sizeof out);
	CHECK_EQ_STR(out, "550 5.1.1 <x@y>: no such user");
	CHECK(feed(&r, "250", 0) == 1 && r.code == 250 && !r.enh[0]);
	/* a class mismatch is not an enhanced code */
	CHECK(feed(&r, "451 5.1.1 odd", 0) == 1 && !r.enh[0]);
}

TEST(reply_multiline_and_bad)
{
	struct smtp_reply r;
	CHECK(feed(&r, "451-4.3.0 first\n451-4.3.0 second\n451 4.3.0 third", 0) == 1);
	CHECK_EQ_STR(r.text, "first / second / third");
	CHECK(r.nlines == 3);
	CHECK(feed(&r, "250-a\n251 b", 0) == -1); /* code changed */
	CHECK(feed(&r, "25", 0) == -1);
	CHECK(feed(&r, "abc hello", 0) == -1);
	CHECK(feed(&r, "250x", 0) == -1);
	CHECK(feed(&r, "650 nope", 0) == -1);
	/* control bytes never reach the kept text */
	smtp_reply_init(&r);
	CHECK(smtp_reply_line(&r, "250 a\rb\x01", 8, 0) == 1);
	CHECK_EQ_STR(r.text, "a?b?");
	/* too many lines */
	smtp_reply_init(&r);
	int rc = 0;
	for (int i = 0; i <= SMTP_REPLY_LINES_MAX && rc == 0; i++)
		rc = smtp_reply_line(&r, "250-x", 5, 0);
	CHECK(rc == -1);
}

TEST(reply_ehlo_keywords)
{
	struct smtp_reply r;
	CHECK(feed(&r,
		   "250-mx.example greets you\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n"
		   "250-auth login plain\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250 SMTPUTF8",
		   1) == 1);
	CHECK(r.ext & SX_PIPELINING);
	CHECK(r.ext & SX_STARTTLS);
	CHECK(r.ext & SX_8BITMIME);
	CHECK(r.ext & SX_SMTPUTF8);
	CHECK(r.ext & SX_ENHANCED);
	CHECK(r.size_max == 10240000);
	CHECK(r.auth == 3);
	CHECK_EQ_STR(r.text, "mx.example greets you");
	CHECK(feed(&r, "250-x\n250 SIZE 99999999999999999999999", 1) == 1);
	CHECK(r.size_max > 0); /* saturates, no overflow */
}

static void dot_roundtrip(const char *in, size_t n, const char *want)
{
	int sv[2];
	char buf[4096];
	size_t got = 0;
	ssize_t k;
	struct dot_state ds = {1, 0};
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "test", 0, "test");
	/* split into single bytes: state must carry across calls */
	for (size_t i = 0; i < n; i++)
		CHECK(smtp_dot_write(c, &ds, in + i, 1) == 0);
	CHECK(smtp_dot_end(c, &ds) == 0);
	CHECK(conn_flush(c) == 0);
	conn_free(&c);
	while ((k = read(sv[1], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = 0;
	close(sv[1]);
	CHECK_EQ_STR(buf, want);
}

TEST(dot_stuffing)
{
	dot_roundtrip("a\r\n.b\r\n..\r\n.\r\n", 14, "a\r\n..b\r\n...\r\n..\r\n.\r\n");
	dot_roundtrip(".start", 6, "..start\r\n.\r\n");
	dot_roundtrip("bare\nlf\n", 8, "bare\r\nlf\r\n.\r\n");
	dot_roundtrip("", 0, ".\r\n");
	dot_roundtrip("end\r", 4, "end\r\n.\r\n");
	/* bare CR: a line end of its own, so a '.' after it is stuffed */
	dot_roundtrip("a\r.\rb\r\n", 7, "a\r\n..\r\nb\r\n.\r\n");
	dot_roundtrip("x\r\r\ny", 5, "x\r\n\r\ny\r\n.\r\n");
	dot_roundtrip("\r\r", 2, "\r\n\r\n.\r\n");
	dot_roundtrip("\n.\n", 3, "\r\n..\r\n.\r\n");
	dot_roundtrip("\r\n.\r", 4, "\r\n..\r\n.\r\n");
}

/* What the writer sends, read by brev's own strict DATA reader (the one
 * the MX uses, written against RFC 5321 4.5.2 and the smuggling class):
 * whatever bare CR/LF the stored bytes hold and however they are split,
 * the reader sees only CRLF (never DOT_BARE_NL), the data ends at the
 * writer's own end marker, and the unstuffed bytes are the message with
 * its line ends made CRLF. */
static void dot_through_reader(const char *in, size_t n, size_t split, const char *want)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *w = conn_new(sv[0], "test", 0, "test");
	struct conn *r = conn_new(sv[1], "test", 0, "test");
	struct dot_state ds = {1, 0};
	for (size_t i = 0; i < n; i += split)
		CHECK(smtp_dot_write(w, &ds, in + i, n - i < split ? n - i : split) == 0);
	CHECK(smtp_dot_end(w, &ds) == 0);
	CHECK(conn_puts(w, "QUIT\r\n") == 0);
	CHECK(conn_flush(w) == 0);
	struct spool *sp = spool_new(1 << 20);
	CHECK_EQ_INT(conn_read_dot(r, sp, 1 << 20), DOT_OK);
	CHECK_EQ_INT((int)spool_size(sp), (int)strlen(want));
	CHECK(memcmp(spool_mem(sp), want, strlen(want)) == 0);
	char *line;
	CHECK(conn_getline(r, &line, 100, NULL) == 4);
	CHECK_EQ_STR(line, "QUIT"); /* nothing of the message after the end */
	spool_free(&sp);
	conn_free(&w);
	conn_free(&r);
}

TEST(dot_bare_cr_through_reader)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Subject: x\r\n\r\nbody\r.\rMAIL FROM:<evil@x>\r\n",
	     "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<evil@x>\r\n"},
	    {"a\n.\nb\r\n.\r\nc", "a\r\n.\r\nb\r\n.\r\nc\r\n"},
	    {"only\rcr\rlines\r", "only\r\ncr\r\nlines\r\n"},
	    {"\r\r\n\n\r", "\r\n\r\n\r\n\r\n"},
	};
	for (size_t k = 0; k < ARRAY_LEN(cases); k++)
		for (size_t split = 1; split <= 7; split += 3)
			dot_through_reader(cases[k].in, strlen(cases[k].in), split, cases[k].want);
}

/* Issue 23: bounce texts said "after 0 days" for an hour. */
TEST(dsn_duration_words)
{
	static const struct {
		long long secs;
		const char *want;
	} cases[] = {
	    {0, "0 seconds"},
	    {1, "1 second"},
	    {45, "45 seconds"},
	    {60, "1 minute"},
	    {61, "1 minute"},
	    {150, "2 minutes"},
	    {3600, "1 hour"},
	    {3600 + 59, "1 hour"},
	    {5400, "1 hour and 30 minutes"},
	    {4 * 3600, "4 hours"},
	    {86400, "1 day"},
	    {86400 + 300, "1 day"},
	    {2 * 86400 + 3 * 3600 + 120, "2 days and 3 hours"},
	    {5 * 86400, "5 days"},
	    {-5, "0 seconds"},
	};
	char out[64];
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		dsn_duration(cases[i].secs, out, sizeof out);
		CHECK_EQ_STR(out, cases[i].want);
	}
	dsn_duration(2 * 86400 + 3 * 3600, out, 8); /* truncated, still a string */
	CHECK(strlen(out) < 8);
}

/* ---- store queue ---- */

static char tdir[] = "/tmp/test_queue.XXXXXX";

static struct store *open_tmp(void)
{
	struct store *st;
	char err[256];
	if (!mkdtemp(tdir))
		return NULL;
	if (store_open(&st, tdir, 1 << 24, err, sizeof err) < 0)
		return NULL;
	return st;
}

static uint64_t add(struct store *st, const char *from, const char *const *r, size_t n)
{
	struct spool *sp = spool_new(1024);
	struct msg_in m = {.body = sp};
	uint64_t id = 0;
	spool_write(sp, "Subject: x\r\n\r\nbody\r\n", 20);
	CHECK(store_queue_add(st, from, r, n, &m, &id) == ST_OK);
	spool_free(&sp);
	return id;
}

struct took {
	uint64_t ids[8];
	char rcpts[8][64];
	size_t n;
	uint32_t flags[8];
};

static int take_cb(void *arg, const struct queue_entry *e)
{
	struct took *t = arg;
	if (t->n < 8) {
		t->flags[t->n] = e->flags;
		snprintf(t->rcpts[t->n], 64, "%s", e->nrcpts ? e->rcpts[0] : "");
		t->ids[t->n++] = e->id;
	}
	return 0;
}

static int count_cb(void *arg, const struct queue_entry *e)
{
	(*(int *)arg)++;
	return 0;
}

TEST(store_queue_lease_update)
{
	struct store *st = open_tmp();
	const char *r2[] = {"a@x.test", "b@y.test"};
	const char *one[] = {"c@z.test"};
	struct took t = {0};
	int64_t next = 0, now = time(NULL);
	size_t moved = 0;
	int count = 0;
	struct store_stats ss;
	CHECK(st != NULL);
	if (!st)
		return;
	uint64_t id1 = add(st, "s@local.test", r2, 2);
	uint64_t id2 = add(st, "", one, 1);
	/* both due now; take one, then the other */
	CHECK(store_queue_take(st, now, 100, 1, take_cb, &t, &next) == ST_OK);
	CHECK(t.n == 1 && t.ids[0] == id1 && (t.flags[0] & QF_LEASED));
	CHECK(next <= now);
	CHECK(store_queue_take(st, now, 100, 8, take_cb, &t, &next) == ST_OK);
	CHECK(t.n == 2 && t.ids[1] == id2);
	/* leased: nothing due any more, next due at the lease end */
	CHECK(store_queue_take(st, now, 100, 8, take_cb, &t, &next) == ST_NOTFOUND);
	CHECK(next == now + 100);
	/* one recipient delivered: the other stays, still leased */
	CHECK(store_queue_update(st, id1, (const char *[]){"A@X.test"}, 1, 0, NULL, 0, 0) == ST_OK);
	CHECK(store_queue_take(st, now, 100, 8, take_cb, &t, &next) == ST_NOTFOUND);
	/* the attempt ends: retry in 5 s, error recorded */
	CHECK(store_queue_update(st, id1, NULL, 0, now + 5, "451 later", 1, QF_DELAY_SENT) ==
	      ST_OK);
	CHECK(store_queue_take(st, now + 5, 100, 8, take_cb, &t, &next) == ST_OK);
	CHECK(t.n == 3 && t.ids[2] == id1 && !strcmp(t.rcpts[2], "b@y.test"));
	CHECK(t.flags[2] & QF_DELAY_SENT);
	/* a killed server's leases: released */
	CHECK(store_queue_due_now(st, 1, &moved) == ST_OK);
	CHECK(moved == 2);
	/* flush leaves leased entries alone */
	CHECK(store_queue_take(st, time(NULL), 100, 8, take_cb, &t, &next) == ST_OK);
	CHECK(store_queue_due_now(st, 0, &moved) == ST_OK && moved == 0);
	/* last recipients done: entries and their bytes go */
	CHECK(store_queue_update(st, id1, (const char *[]){"b@y.test"}, 1, 0, NULL, 0, 0) == ST_OK);
	CHECK(store_queue_update(st, id2, one, 1, 0, NULL, 0, 0) == ST_OK);
	CHECK(store_queue_update(st, id2, one, 1, 0, NULL, 0, 0) == ST_NOTFOUND);
	CHECK(store_queue_list(st, count_cb, &count) == ST_OK && count == 0);
	CHECK(store_stats(st, &ss) == ST_OK && ss.blobs == 0 && ss.queued == 0);
	store_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tdir);
	CHECK(system(cmd) == 0);
}

static struct sockaddr_storage ip(const char *s)
{
	struct sockaddr_storage a;
	memset(&a, 0, sizeof a);
	if (strchr(s, ':')) {
		a.ss_family = AF_INET6;
		inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&a)->sin6_addr);
	} else {
		a.ss_family = AF_INET;
		inet_pton(AF_INET, s, &((struct sockaddr_in *)&a)->sin_addr);
	}
	return a;
}

/* The source for dst as text, "" when the kernel chooses. */
static const char *src_for(const char *listen, const char *dst)
{
	static char out[INET6_ADDRSTRLEN];
	struct queue_src qs;
	struct sockaddr_storage d = ip(dst), a;
	unsigned len = 0;
	queue_src_pick(listen, &qs);
	out[0] = 0;
	if (queue_src_for(&qs, &d, &a, &len)) {
		if (a.ss_family == AF_INET6) {
			CHECK(len == sizeof(struct sockaddr_in6));
			CHECK(((struct sockaddr_in6 *)&a)->sin6_port == 0);
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a)->sin6_addr, out,
				  sizeof out);
		} else {
			CHECK(len == sizeof(struct sockaddr_in));
			CHECK(((struct sockaddr_in *)&a)->sin_port == 0);
			inet_ntop(AF_INET, &((struct sockaddr_in *)&a)->sin_addr, out, sizeof out);
		}
	}
	return out;
}

TEST(source_address)
{
	/* one specific address: used for its family only */
	CHECK(!strcmp(src_for("192.0.2.7:25", "198.51.100.1"), "192.0.2.7"));
	CHECK(!strcmp(src_for("192.0.2.7:25", "2001:db8::1"), ""));
	CHECK(!strcmp(src_for("192.0.2.7:25 [2001:db8::7]:25", "2001:db8::1"), "2001:db8::7"));
	CHECK(!strcmp(src_for("  192.0.2.7:25\t[2001:db8::7]:25 ", "198.51.100.1"), "192.0.2.7"));
	/* the same address on two ports is still one address */
	CHECK(!strcmp(src_for("192.0.2.7:25 192.0.2.7:2525", "198.51.100.1"), "192.0.2.7"));
	/* wildcards and several addresses: the kernel chooses */
	CHECK(!strcmp(src_for("0.0.0.0:25 [::]:25", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("*:25", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("192.0.2.7:25 0.0.0.0:2525", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("192.0.2.7:25 192.0.2.8:25", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("[::]:25 192.0.2.7:25", "198.51.100.1"), "192.0.2.7"));
	CHECK(!strcmp(src_for("[::]:25 192.0.2.7:25", "2001:db8::1"), ""));
	/* loopback sources only towards loopback destinations */
	CHECK(!strcmp(src_for("127.0.0.2:2525", "127.0.0.3"), "127.0.0.2"));
	CHECK(!strcmp(src_for("127.0.0.1:2525", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("[::1]:2525", "2001:db8::1"), ""));
	CHECK(!strcmp(src_for("[::1]:2525", "::1"), "::1"));
	/* a public source is not used towards this host's loopback (a relay) */
	CHECK(!strcmp(src_for("192.0.2.7:25", "127.0.0.1"), ""));
	CHECK(!strcmp(src_for("[2001:db8::7]:25", "::1"), ""));
	/* nothing configured, or nothing that parses */
	CHECK(!strcmp(src_for("", "198.51.100.1"), ""));
	CHECK(!strcmp(src_for(NULL, "198.51.100.1"), ""));
	CHECK(!strcmp(src_for("mx.example:25", "198.51.100.1"), ""));
}

TEST_MAIN()
