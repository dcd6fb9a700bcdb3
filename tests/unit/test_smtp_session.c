/* test_smtp_session.c — whole SMTP sessions in-process: smtp_serve() runs in
 * a thread on one end of a socketpair, the test writes exact bytes on the
 * other and checks exact reply codes, against a real store in a temporary
 * DATADIR. The peer address is whatever the test says, so the
 * non-loopback submission rules are reachable here. Also the Received:
 * formatting and the Received: counter. */
/* deps: smtp smtp_addr smtp_msg sieve_deliver sieve sieve_parse sieve_match message message_text conn tls mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal sasl config spool util log authres dkim dkim_keys spf dmarc dns queue_dsn srs mailbox_fts fts spam spam_token spam_bayes mailbox_spam virus mailbox_place dnsbl greylist mailbox_grey list list_addr mailbox_list mailbox_spamlist spam_verdict */
#include "../../config.h"
#include "../../log.h"
#include "../../conn.h"
#include "../../mailbox.h"
#include "../../sasl.h"
#include "../../server.h"
#include "../../smtp.h"
#include "../../spool.h"
#include "../../util.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct store *st;
static struct config cfg;
static struct server srv;
static char datadir[] = "/tmp/brev-test-smtp.XXXXXX";
static uint32_t alice_id, bob_id, carol_id;

static uint32_t add_user(const char *addr, const char *pw)
{
	struct cred cr;
	struct account a;
	CHECK(cred_make(&cr, pw) == 0);
	CHECK(store_user_add(st, addr, &cr) == ST_OK);
	CHECK(store_user_get(st, addr, &a) == ST_OK);
	return a.id;
}

static void setup(void)
{
	char err[256];
	if (st)
		return;
	CHECK(mkdtemp(datadir) != NULL);
	CHECK(store_open(&st, datadir, 64 << 20, err, sizeof err) == 0);
	alice_id = add_user("alice@example.test", "alice-pw");
	bob_id = add_user("bob@example.test", "bob-pw");
	carol_id = add_user("carol@example.test", "carol-pw");
	const char *t1[] = {"alice@example.test"};
	CHECK(store_alias_add(st, "info@example.test", t1, 1) == ST_OK);
	const char *t2[] = {"bob@example.test", "friend@remote.test"};
	CHECK(store_alias_add(st, "fwd@example.test", t2, 2) == ST_OK);
	cfg.domains = "example.test other.test";
	cfg.message_size = 200000;
	str_copy(cfg.hostname, "mx.example.test", sizeof cfg.hostname);
	srv.cfg = &cfg;
	srv.store = st;
	srv.hostname = "mx.example.test";
	auth_throttle_test_config(1, 5);
	log_set_level(L_WARN);
}

static size_t inbox_count(uint32_t user)
{
	struct mbox_info mi;
	CHECK(store_mbox_get(st, user, "INBOX", &mi) == ST_OK);
	return mi.exists;
}

static int last_uid_cb(void *arg, const struct msg_info *m)
{
	*(struct msg_info *)arg = *m;
	return 0;
}

/* The newest INBOX message of user, NUL-terminated (static buffer). */
static const char *last_message(uint32_t user)
{
	static char buf[300000];
	struct msg_info m = {0};
	CHECK(store_msg_list(st, user, "INBOX", 1, last_uid_cb, &m) == ST_OK);
	CHECK(m.uid > 0 && m.size < sizeof buf);
	long n = store_msg_read(st, m.blob, 0, buf, sizeof buf - 1);
	CHECK(n == (long)m.size);
	buf[n] = 0;
	return buf;
}

static int queue_cb(void *arg, const struct queue_entry *e)
{
	(*(size_t *)arg)++;
	return 0;
}

static size_t queue_count(void)
{
	size_t n = 0;
	CHECK(store_queue_list(st, queue_cb, &n) == ST_OK);
	return n;
}

/* ---- a session on a socketpair ---- */

struct sess {
	pthread_t th;
	struct conn *c;
	int kind;
	int fd;
	char buf[65536];
	size_t n;
};

static void *serve_thread(void *arg)
{
	struct sess *s = arg;
	smtp_serve(&srv, s->c, s->kind);
	conn_free(&s->c);
	return NULL;
}

static struct sess *sess_open(const char *peer, int kind)
{
	struct sess *s = xcalloc(1, sizeof *s);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->fd = sv[0];
	s->kind = kind;
	s->c = conn_new(sv[1], peer, 40000, "127.0.0.1");
	CHECK(pthread_create(&s->th, NULL, serve_thread, s) == 0);
	return s;
}

static void sess_close(struct sess **sp)
{
	close((*sp)->fd);
	pthread_join((*sp)->th, NULL);
	free(*sp);
	*sp = NULL;
}

static void sendraw(struct sess *s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);
		CHECK(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static void sendf(struct sess *s, const char *fmt, ...)
{
	static char line[300000];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	sendraw(s, line, (size_t)n);
}

/* One reply line (a multi-line reply's lines one by one). */
static const char *line(struct sess *s)
{
	static char out[65536];
	for (;;) {
		s->buf[s->n] = '\0';
		char *e = strstr(s->buf, "\r\n");
		if (e) {
			size_t len = (size_t)(e - s->buf) + 2;
			memcpy(out, s->buf, len);
			out[len] = '\0';
			memmove(s->buf, s->buf + len, s->n - len);
			s->n -= len;
			return out;
		}
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		CHECK(poll(&p, 1, 10000) == 1);
		ssize_t r = read(s->fd, s->buf + s->n, sizeof s->buf - 1 - s->n);
		if (r <= 0)
			return "(closed)";
		s->n += (size_t)r;
	}
}

/* A whole (multi-line) reply, joined. */
static const char *reply(struct sess *s)
{
	static char all[65536];
	all[0] = 0;
	for (;;) {
		const char *l = line(s);
		strncat(all, l, sizeof all - strlen(all) - 1);
		if (strlen(l) < 4 || l[3] != '-')
			return all;
	}
}

static int closed(struct sess *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	char b[256];
	return poll(&p, 1, 10000) == 1 && read(s->fd, b, sizeof b) == 0;
}

#define EXPECT(s, prefix)                                                                          \
	do {                                                                                       \
		const char *l_ = reply(s);                                                         \
		if (strncmp(l_, prefix, strlen(prefix)) != 0)                                      \
			CHECK_EQ_STR(l_, prefix);                                                  \
	} while (0)

static struct sess *mx(void)
{
	setup();
	struct sess *s = sess_open("192.0.2.1", LK_SMTP);
	EXPECT(s, "220 mx.example.test ESMTP");
	sendf(s, "EHLO client.test\r\n");
	EXPECT(s, "250-mx.example.test");
	return s;
}

/* ---- tests ---- */

/* CHECK_EQ_STR for strings too long for the harness's message buffer. */
static void same(const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
		CHECK(!"strings differ");
	}
}

TEST(received_format)
{
	static char buf[400];
	struct smtp_trace t = {.helo = "client.test",
			       .peer = "127.0.0.1",
			       .by = "mx.test",
			       .proto = "ESMTPS",
			       .tls_version = "TLSv1.3",
			       .tls_cipher = "TLS_AES_128_GCM_SHA256",
			       .id = "ABC",
			       .for_rcpt = "bob@mx.test",
			       .when = 0};
	size_t n = smtp_received(buf, sizeof buf, &t);
	CHECK(n == strlen(buf));
	const char *got = buf;
	same(got, "Received: from client.test (unknown [127.0.0.1])\r\n"
		  "\t(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256)\r\n"
		  "\tby mx.test (brev) with ESMTPS id ABC\r\n"
		  "\tfor <bob@mx.test>;\r\n"
		  "\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
	t.tls_version = NULL;
	t.for_rcpt = NULL;
	t.peer = "::1";
	t.proto = "ESMTP";
	smtp_received(buf, sizeof buf, &t);
	same(got, "Received: from client.test (unknown [IPv6:::1])\r\n"
		  "\tby mx.test (brev) with ESMTP id ABC;\r\n"
		  "\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
	CHECK(smtp_received(buf, 40, &t) == 0);
	CHECK_EQ_STR(smtp_proto_name(1, 1, 1, 0), "ESMTPSA");
	CHECK_EQ_STR(smtp_proto_name(1, 0, 1, 0), "ESMTPA");
	CHECK_EQ_STR(smtp_proto_name(0, 0, 0, 0), "SMTP");
	CHECK_EQ_STR(smtp_proto_name(1, 1, 0, 1), "UTF8SMTPS");
	char d[64];
	smtp_date(d, sizeof d, 1700000000);
	CHECK_EQ_STR(d, "Tue, 14 Nov 2023 22:13:20 +0000");
}

TEST(count_received)
{
	struct spool *sp = spool_new(1024);
	const char *m = "Received: a\r\nreceived: b\r\n X-Received: c\r\nReceivedx: d\r\n"
			"RECEIVED:e\r\nSubject: x\r\n\r\nReceived: body\r\n";
	CHECK(spool_write(sp, m, strlen(m)) == 0);
	CHECK_EQ_INT(smtp_count_received(sp, 30), 3);
	spool_reset(sp);
	for (int i = 0; i < 40; i++)
		spool_write(sp, "Received: x\r\n", 13);
	CHECK_EQ_INT(smtp_count_received(sp, 30), 31);
	spool_free(&sp);
}

TEST(login_addr)
{
	char out[256];
	CHECK(smtp_login_addr("example.test", "alice", out, sizeof out) == 0);
	CHECK_EQ_STR(out, "alice@example.test");
	CHECK(smtp_login_addr("example.test other.test", "alice", out, sizeof out) == -1);
	CHECK(smtp_login_addr("example.test other.test", "Alice@Other.test", out, sizeof out) == 0);
	CHECK_EQ_STR(out, "alice@other.test");
	CHECK(smtp_login_addr("", "alice", out, sizeof out) == -1);
	smtp_first_domain("  a.test b.test", out, sizeof out);
	CHECK_EQ_STR(out, "a.test");
}

TEST(mx_delivery)
{
	struct sess *s = mx();
	size_t before = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<sender@remote.test>\r\n");
	EXPECT(s, "250 2.1.0");
	sendf(s, "RCPT TO:<Alice@EXAMPLE.test>\r\n");
	EXPECT(s, "250 2.1.5");
	sendf(s, "DATA\r\n");
	EXPECT(s, "354 ");
	sendf(s, "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
	EXPECT(s, "250 2.0.0 Ok: queued as ");
	CHECK(inbox_count(alice_id) == before + 1);
	const char *msg = last_message(alice_id);
	const char *want = "Return-Path: <sender@remote.test>\r\nReceived: from client.test "
			   "(unknown [192.0.2.1])\r\n\tby mx.example.test (brev) with ESMTP id ";
	CHECK(strncmp(msg, want, strlen(want)) == 0);
	/* after Received, the Authentication-Results field (docs/auth-mail.md;
	 * no DNS here, so temperror verdicts) */
	CHECK(strstr(msg, "\r\nAuthentication-Results: mx.example.test;\r\n\tspf=temperror"));
	CHECK(strstr(msg, "\tfor <Alice@example.test>;\r\n") != NULL);
	CHECK(strstr(msg, "\r\nSubject: hi\r\n\r\n.dot\r\nbody\r\n") != NULL);
	sendf(s, "QUIT\r\n");
	EXPECT(s, "221 2.0.0");
	CHECK(closed(s));
	sess_close(&s);
}

TEST(ehlo_keywords)
{
	setup();
	struct sess *s = sess_open("192.0.2.1", LK_SMTP);
	EXPECT(s, "220 ");
	sendf(s, "EHLO client.test\r\n");
	const char *r = reply(s);
	CHECK(strstr(r, "250-PIPELINING\r\n"));
	CHECK(strstr(r, "250-SIZE 200000\r\n"));
	CHECK(strstr(r, "250-8BITMIME\r\n"));
	CHECK(strstr(r, "250-SMTPUTF8\r\n"));
	CHECK(strstr(r, "250-ENHANCEDSTATUSCODES\r\n"));
	CHECK(strstr(r, "250-CHUNKING\r\n"));
	CHECK(!strstr(r, "AUTH"));
	CHECK(!strstr(r, "STARTTLS")); /* no certificate here */
	sendf(s, "HELO client.test\r\n");
	EXPECT(s, "250 mx.example.test\r\n");
	sendf(s, "EHLO bad)name\r\n");
	EXPECT(s, "501 5.5.4");
	sendf(s, "STARTTLS\r\n");
	EXPECT(s, "454 4.7.0");
	sendf(s, "AUTH PLAIN\r\n");
	EXPECT(s, "502 5.5.1");
	sendf(s, "VRFY alice\r\nEXPN list\r\nHELP\r\nNOOP\r\nRSET\r\n");
	EXPECT(s, "252 2.5.0");
	EXPECT(s, "502 5.5.1");
	EXPECT(s, "214 2.0.0");
	EXPECT(s, "250 2.0.0");
	EXPECT(s, "250 2.0.0");
	sess_close(&s);
}

/* Each trick: a 5xx at RCPT, nothing queued, nothing delivered. */
TEST(relay_tricks)
{
	const char *tricks[] = {
	    "<bob@remote.test>",
	    "<user%remote.test@example.test>",
	    "<remote.test!bob@example.test>",
	    "<\"bob@remote.test\"@example.test>",
	    "<@example.test:bob@remote.test>",
	    "<@example.test,@other.test:bob@remote.test>",
	    "<bob@example.test.>",
	    "<bob@[127.0.0.9]>",
	    "<bob@[127.0.0.1]>",
	    "<bob@exam\xc3\xa9ple.test>",
	    "<bob@example.test@remote.test>",
	    "<bob@remote.test>@example.test",
	    "bob@remote.test",
	    "<bob@example.test >",
	    "<bob@example.test\tremote.test>",
	    "<bob@example.test\r\nRCPT TO:<x@remote.test>>",
	};
	size_t q = queue_count();
	size_t a = inbox_count(alice_id), b = inbox_count(bob_id);
	for (size_t i = 0; i < ARRAY_LEN(tricks); i++) {
		struct sess *s = mx();
		sendf(s, "MAIL FROM:<x@remote.test> SMTPUTF8\r\nRCPT TO:%s\r\n", tricks[i]);
		EXPECT(s, "250 2.1.0");
		const char *r = reply(s);
		if (r[0] != '5') {
			fprintf(stderr, "trick %s: %s", tricks[i], r);
			CHECK(r[0] == '5');
		}
		sendf(s, "DATA\r\n");
		r = reply(s);
		if (r[0] == '3') {
			sendf(s, "Subject: relay\r\n\r\nx\r\n.\r\n");
			reply(s);
		}
		CHECK(r[0] == '5' || r[0] == '3');
		sess_close(&s);
	}
	CHECK_EQ_INT(queue_count(), q);
	CHECK_EQ_INT(inbox_count(alice_id), a);
	CHECK_EQ_INT(inbox_count(bob_id), b);
}

TEST(recipients_and_aliases)
{
	struct sess *s = mx();
	size_t a = inbox_count(alice_id), q = queue_count();
	sendf(s, "MAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<Postmaster>\r\n"
		 "RCPT TO:<alice+tag@example.test>\r\nRCPT TO:<info@example.test>\r\n"
		 "RCPT TO:<fwd@example.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "550 5.1.1");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "354");
	size_t b = inbox_count(bob_id);
	sendf(s, "Subject: aliases\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	/* alice once (stored once for three of her addresses), bob once, the
	 * forward queued */
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	CHECK_EQ_INT(inbox_count(bob_id), b + 1);
	CHECK_EQ_INT(queue_count(), q + 1);
	CHECK(strstr(last_message(alice_id), "Return-Path: <>\r\n") != NULL);
	CHECK(strstr(last_message(alice_id), "\tfor <") == NULL);
	sess_close(&s);
}

/* docs/smtp.md "The MX listener": a local part with routing characters
 * (%, !, a quoted @) gets 553 5.1.3 even when a catch-all would take any
 * other local part of the domain. */
TEST(routing_chars_despite_catch_all)
{
	setup();
	const char *t[] = {"alice@example.test"};
	CHECK(store_alias_add(st, "@example.test", t, 1) == ST_OK);
	const char *tricks[] = {
	    "user%remote.test@example.test",
	    "remote.test!bob@example.test",
	    "\"bob@remote.test\"@example.test",
	};
	for (size_t i = 0; i < ARRAY_LEN(tricks); i++) {
		struct sess *s = mx();
		sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<nobody-else@example.test>\r\n"
			 "RCPT TO:<%s>\r\n",
		      tricks[i]);
		EXPECT(s, "250 2.1.0");
		EXPECT(s, "250 2.1.5"); /* the catch-all is there */
		EXPECT(s, "553 5.1.3");
		sess_close(&s);
	}
	CHECK(store_alias_del(st, "@example.test") == ST_OK);
}

/* Issue 23: postmaster works in every local domain without anyone setting
 * it up: the first account of example.test got the alias; other.test has
 * no account at all and falls back to example.test's postmaster. */
TEST(postmaster_without_setup)
{
	struct sess *s = mx();
	struct resolved *r = xcalloc(1, sizeof *r);
	CHECK(store_resolve(st, "postmaster@example.test", r) == ST_OK);
	CHECK(r->nusers == 1 && r->users[0] == alice_id);
	free(r);
	size_t a = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<Postmaster>\r\n"
		 "RCPT TO:<POSTMASTER@example.test>\r\nRCPT TO:<postmaster@other.test>\r\n"
		 "RCPT TO:<postmaster@remote.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "554 5.7.1");
	EXPECT(s, "354");
	sendf(s, "Subject: pm\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	sess_close(&s);
	/* docs/smtp.md: a domain whose postmaster alias was deleted sends it to
	 * its oldest account */
	CHECK(store_alias_del(st, "postmaster@example.test") == ST_OK);
	s = mx();
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "354");
	sendf(s, "Subject: pm2\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(inbox_count(alice_id), a + 2);
	sess_close(&s);
	const char *t[] = {"alice@example.test"};
	CHECK(store_alias_add(st, "postmaster@example.test", t, 1) == ST_OK);
}

TEST(sequence_errors)
{
	setup();
	struct sess *s = sess_open("192.0.2.1", LK_SMTP);
	EXPECT(s, "220 ");
	sendf(s, "MAIL FROM:<a@remote.test>\r\n");
	EXPECT(s, "503 5.5.1");
	sendf(s, "EHLO c.test\r\n");
	EXPECT(s, "250-");
	sendf(s, "RCPT TO:<alice@example.test>\r\nDATA\r\n");
	EXPECT(s, "503 5.5.1");
	EXPECT(s, "503 5.5.1");
	sendf(s, "MAIL FROM:<a@remote.test>\r\nMAIL FROM:<a@remote.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "503 5.5.1");
	EXPECT(s, "554 5.5.1");
	sendf(s, "RSET x\r\nRSET\r\nFOO\r\nMAIL FROM:<a@remote.test> BODY=8BITMIME\r\n");
	EXPECT(s, "501 5.5.4");
	EXPECT(s, "250 2.0.0");
	EXPECT(s, "500 5.5.1");
	EXPECT(s, "250 2.1.0");
	sess_close(&s);
}

TEST(line_too_long)
{
	struct sess *s = mx();
	char big[2000];
	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = 0;
	sendf(s, "NOOP %s\r\nNOOP\r\n", big);
	EXPECT(s, "500 5.5.2");
	EXPECT(s, "250 2.0.0");
	/* 512 with CRLF is fine, 513 is not */
	sendf(s, "NOOP %.505s\r\nNOOP %.506s\r\n", big, big);
	EXPECT(s, "250 2.0.0");
	EXPECT(s, "500 5.5.2");
	/* far beyond any buffer: consumed, still in sync */
	static char huge[100001];
	memset(huge, 'b', sizeof huge - 1);
	sendf(s, "%s\r\nNOOP\r\n", huge);
	EXPECT(s, "500 5.5.2");
	EXPECT(s, "250 2.0.0");
	sess_close(&s);
}

/* Bare LF / CR in DATA: rejected, and nothing after them is a command. */
TEST(smuggling)
{
	const char *bodies[] = {
	    "Subject: a\r\n\r\nx\n.\nMAIL FROM:<e@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
	    "DATA\r\nsmuggled\r\n.\r\n",
	    "Subject: a\r\n\r\nx\r.\rMAIL FROM:<e@remote.test>\r\n.\r\n",
	    "Subject: a\r\n\r\nx\r\n.\nMAIL FROM:<e@remote.test>\r\n.\r\n",
	    "Subject: a\r\n\r\nx\n.\r\nMAIL FROM:<e@remote.test>\r\n.\r\n",
	    "Subject: a\r\n\r\nx\r.\r\nMAIL FROM:<e@remote.test>\r\n.\r\n",
	    "Subject: a\r\n\r\nbare\nlf\r\n.\r\n",
	    "Subject: a\r\n\r\nbare\rcr\r\n.\r\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		struct sess *s = mx();
		size_t a = inbox_count(alice_id), b = inbox_count(bob_id);
		sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
		EXPECT(s, "250");
		EXPECT(s, "250");
		EXPECT(s, "354");
		sendf(s, "%s", bodies[i]);
		EXPECT(s, "554 5.6.0");
		sendf(s, "NOOP\r\n");
		EXPECT(s, "250 2.0.0"); /* the next reply is NOOP's: no second transaction */
		CHECK_EQ_INT(inbox_count(alice_id), a);
		CHECK_EQ_INT(inbox_count(bob_id), b);
		sess_close(&s);
	}
}

TEST(too_many_recipients)
{
	struct sess *s = mx();
	size_t a = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<x@remote.test>\r\n");
	EXPECT(s, "250");
	for (int i = 0; i < 101; i++)
		sendf(s, "RCPT TO:<alice+%d@example.test>\r\n", i);
	for (int i = 0; i < 100; i++)
		EXPECT(s, "250 2.1.5");
	EXPECT(s, "452 4.5.3");
	sendf(s, "DATA\r\n");
	EXPECT(s, "354");
	sendf(s, "Subject: many\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	sess_close(&s);
}

TEST(loop_detection)
{
	struct sess *s = mx();
	size_t a = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	for (int i = 0; i < 31; i++)
		sendf(s,
		      "Received: from hop%d.test by hop%d.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
		      i, i + 1);
	sendf(s, "Subject: loop\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "554 5.4.6");
	CHECK_EQ_INT(inbox_count(alice_id), a);
	/* 30 is still fine */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	for (int i = 0; i < 30; i++)
		sendf(s, "Received: from hop%d.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n", i);
	sendf(s, "Subject: loop\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	sess_close(&s);
}

TEST(size_limits)
{
	struct sess *s = mx();
	size_t a = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<x@remote.test> SIZE=200001\r\n");
	EXPECT(s, "552 5.3.4");
	sendf(s, "MAIL FROM:<x@remote.test> SIZE=1000\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	static char body[250000];
	memset(body, 'x', sizeof body - 1);
	for (size_t i = 98; i + 2 < sizeof body; i += 100)
		body[i] = '\r', body[i + 1] = '\n';
	sendf(s, "Subject: big\r\n\r\n%s\r\n.\r\n", body);
	EXPECT(s, "552 5.3.4");
	/* long text line */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	char longline[1500];
	memset(longline, 'z', sizeof longline - 1);
	longline[sizeof longline - 1] = 0;
	sendf(s, "Subject: long\r\n\r\n%s\r\n.\r\n", longline);
	EXPECT(s, "554 5.6.0");
	CHECK_EQ_INT(inbox_count(alice_id), a);
	sess_close(&s);
}

TEST(bdat)
{
	struct sess *s = mx();
	size_t a = inbox_count(alice_id);
	/* BDAT before MAIL: the chunk is eaten, the session stays in step */
	sendf(s, "BDAT 22\r\nMAIL FROM:<e@x.test>\r\nNOOP\r\n");
	EXPECT(s, "503 5.5.1");
	EXPECT(s, "250 2.0.0");
	/* a good one in three chunks, pipelined */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
		 "BDAT 19\r\nSubject: chunks\r\n\r\nBDAT 6\r\nline\r\nBDAT 0 LAST\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.0.0 19 octets");
	EXPECT(s, "250 2.0.0 6 octets");
	EXPECT(s, "250 2.0.0 Ok: queued");
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	CHECK(strstr(last_message(alice_id), "\r\nSubject: chunks\r\n\r\nline\r\n") != NULL);
	/* CR at the end of one chunk, LF at the start of the next: fine */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
		 "BDAT 5\r\nA: b\rBDAT 3 LAST\r\n\n\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "250 2.0.0 5 octets");
	EXPECT(s, "250 2.0.0 Ok: queued");
	a++;
	/* a message ending in a lone CR */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
		 "BDAT 2 LAST\r\nx\r");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "554 5.6.0");
	/* bare LF in a chunk; the later chunks are eaten with the same error */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
		 "BDAT 5\r\na\nb\r\nBDAT 6\r\nQUIT\r\nBDAT 2 LAST\r\n\r\nNOOP\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "554 5.6.0");
	EXPECT(s, "554 5.6.0");
	EXPECT(s, "554 5.6.0");
	EXPECT(s, "250 2.0.0 Ok");
	/* DATA inside a BDAT transaction */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
		 "BDAT 6\r\nA: b\r\nDATA\r\nRSET\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "250 2.0.0 6 octets");
	EXPECT(s, "503 5.5.1");
	EXPECT(s, "250 2.0.0");
	/* over the size limit: failed, eaten */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nBDAT 190000\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	static char chunk[190000];
	memset(chunk, 'x', sizeof chunk);
	for (size_t i = 98; i < sizeof chunk; i += 100)
		chunk[i] = '\r', chunk[i + 1] = '\n';
	sendraw(s, chunk, sizeof chunk);
	EXPECT(s, "250 2.0.0 190000 octets");
	sendf(s, "BDAT 20000 LAST\r\n");
	sendraw(s, chunk, 20000);
	EXPECT(s, "552 5.3.4");
	/* BDAT without a parsable size: we cannot stay in step, so we close */
	sendf(s, "BDAT x\r\n");
	EXPECT(s, "501 5.5.4");
	CHECK(closed(s));
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	sess_close(&s);
}

TEST(error_limit)
{
	struct sess *s = mx();
	for (int i = 0; i < 10; i++)
		sendf(s, "BOGUS\r\n");
	for (int i = 0; i < 10; i++)
		EXPECT(s, "500 5.5.1");
	EXPECT(s, "421 4.7.0");
	CHECK(closed(s));
	sess_close(&s);
}

static void b64(const char *in, size_t n, char *out)
{
	b64_encode(in, n, out);
}

TEST(submission_non_loopback)
{
	setup();
	struct sess *s = sess_open("192.0.2.7", LK_SUBMISSION);
	EXPECT(s, "220 ");
	sendf(s, "EHLO c.test\r\n");
	const char *r = reply(s);
	CHECK(strstr(r, "AUTH") == NULL);
	char cred[128];
	b64("\0alice\0alice-pw", 15, cred);
	sendf(s, "AUTH PLAIN %s\r\nAUTH CRAM-MD5\r\nMAIL FROM:<alice@example.test>\r\n", cred);
	EXPECT(s, "530 5.7.0 Must issue a STARTTLS");
	EXPECT(s, "530 5.7.0 Must issue a STARTTLS");
	EXPECT(s, "530 5.7.0 Authentication required");
	sess_close(&s);
}

TEST(submission_loopback)
{
	setup();
	struct sess *s = sess_open("127.0.0.1", LK_SUBMISSION);
	EXPECT(s, "220 ");
	sendf(s, "EHLO c.test\r\n");
	const char *r = reply(s);
	CHECK(strstr(r, "250-AUTH ") != NULL && strstr(r, "PLAIN") != NULL);
	sendf(s, "MAIL FROM:<alice@example.test>\r\n");
	EXPECT(s, "530 5.7.0");
	char cred[128];
	b64("\0alice\0wrong", 12, cred);
	sendf(s, "AUTH PLAIN %s\r\n", cred);
	EXPECT(s, "535 5.7.8");
	sendf(s, "AUTH PLAIN\r\n");
	EXPECT(s, "334 ");
	sendf(s, "*\r\n");
	EXPECT(s, "501 5.0.0");
	sendf(s, "AUTH BOGUS\r\n");
	EXPECT(s, "504 5.5.4");
	/* docs/smtp.md: an AUTH line may be up to 12288 octets (RFC 4954 4),
	 * not 512: a long initial response is read as AUTH, not refused as a
	 * long line */
	{
		static char raw[8000], big[11000];
		size_t n = (size_t)snprintf(raw, sizeof raw, "%cnobody@example.test%c", 0, 0);
		memset(raw + n, 'x', 7000);
		b64(raw, n + 7000, big);
		CHECK(strlen(big) > 9000);
		sendf(s, "AUTH PLAIN %s\r\n", big);
		const char *l = reply(s); /* a SASL verdict, not 500 5.5.2 Line too long */
		if (strncmp(l, "535 ", 4) != 0 && strncmp(l, "501 5.5.2 Malformed authentication", 34) != 0)
			CHECK_EQ_STR(l, "535 or 501 5.5.2 Malformed authentication response");
	}
	/* LOGIN with the bare local part (one domain? no: two here) fails,
	 * the full address works */
	sendf(s, "AUTH LOGIN\r\n");
	EXPECT(s, "334 ");
	b64("alice@example.test", 18, cred);
	sendf(s, "%s\r\n", cred);
	EXPECT(s, "334 ");
	b64("alice-pw", 8, cred);
	sendf(s, "%s\r\n", cred);
	EXPECT(s, "235 2.7.0");
	sendf(s, "AUTH PLAIN\r\n");
	EXPECT(s, "503 5.5.1");
	/* the sender must be hers */
	sendf(s, "MAIL FROM:<bob@example.test>\r\nMAIL FROM:<alice@remote.test>\r\n"
		 "MAIL FROM:<info@example.test>\r\n");
	EXPECT(s, "553 5.7.1");
	EXPECT(s, "553 5.7.1");
	EXPECT(s, "250 2.1.0");
	size_t q = queue_count(), b = inbox_count(bob_id);
	sendf(s, "RCPT TO:<someone@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
		 "RCPT TO:<nobody@example.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "550 5.1.1");
	EXPECT(s, "354");
	sendf(s, "From: alice@example.test\r\nSubject: out\r\n\r\nhello\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(queue_count(), q + 1);
	CHECK_EQ_INT(inbox_count(bob_id), b + 1);
	CHECK(strstr(last_message(bob_id), "with ESMTPA id") != NULL);
	sess_close(&s);
}

/* One submission by alice (loopback, AUTH PLAIN) with envelope sender
 * `env` and the header `hdr`: the reply to the end of data must start
 * with `want`; a refused message is neither delivered nor queued. */
static void submit_as_alice(const char *env, const char *hdr, const char *want)
{
	char cred[128];
	struct sess *s = sess_open("127.0.0.1", LK_SUBMISSION);
	EXPECT(s, "220 ");
	sendf(s, "EHLO c.test\r\n");
	reply(s);
	b64("\0alice@example.test\0alice-pw", 28, cred);
	sendf(s, "AUTH PLAIN %s\r\n", cred);
	EXPECT(s, "235 2.7.0");
	size_t b = inbox_count(bob_id), q = queue_count();
	sendf(s, "MAIL FROM:<%s>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<x@remote.test>\r\nDATA\r\n",
	      env);
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "354");
	sendf(s, "%sSubject: s\r\n\r\nbody\r\n.\r\n", hdr);
	const char *r = reply(s);
	if (strncmp(r, want, strlen(want)) != 0) {
		fprintf(stderr, "header:\n%s", hdr);
		CHECK_EQ_STR(r, want);
	}
	int ok = want[0] == '2';
	CHECK_EQ_INT(inbox_count(bob_id), b + ok);
	CHECK_EQ_INT(queue_count(), q + ok);
	sess_close(&s);
}

/* Issue 22: the header From/Sender of a submission must be the user's. */
/* docs/auth.md: an AUTH the throttle refuses is answered 454 4.7.0
 * without a password check. One failure queues 1 s against a 0.3 s bound. */
TEST(throttle_refusal_is_454)
{
	setup();
	auth_throttle_test_config(1000, 1000);
	auth_throttle_test_queue(300);
	struct sess *s = sess_open("127.0.0.7", LK_SUBMISSION);
	EXPECT(s, "220 ");
	sendf(s, "EHLO c.test\r\n");
	reply(s);
	char cred[128];
	b64("\0alice@example.test\0wrong", 25, cred);
	sendf(s, "AUTH PLAIN %s\r\n", cred);
	EXPECT(s, "535 5.7.8");
	b64("\0alice@example.test\0alice-pw", 28, cred);
	sendf(s, "AUTH PLAIN %s\r\n", cred);
	EXPECT(s, "454 4.7.0");
	sess_close(&s);
	auth_throttle_test_queue(0);
	auth_throttle_test_config(1, 5);
	auth_throttle_ok("127.0.0.7");
}

TEST(submission_header_from)
{
	setup();
	static const struct {
		const char *hdr, *want;
	} cases[] = {
	    {"", "250 2.0.0"}, /* no From: nothing claimed */
	    {"From: alice@example.test\r\n", "250 2.0.0"},
	    {"From: Alice <alice@example.test>\r\n", "250 2.0.0"},
	    {"From: alice@example.test (The Boss)\r\n", "250 2.0.0"},
	    {"From: \"bob@example.test\" <ALICE@Example.Test>\r\n", "250 2.0.0"},
	    {"From: =?utf-8?q?The_Boss?= <alice+tag@example.test>\r\n", "250 2.0.0"},
	    {"From: Team: alice@example.test, Info <info@example.test>;\r\n", "250 2.0.0"},
	    {"From: alice@example.test\r\nSender: info@example.test\r\n", "250 2.0.0"},
	    {"From: The Boss <bob@example.test>\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: =?utf-8?q?The_Boss?= <bob@example.test>\r\n", "553 5.7.1 <bob@example.test>"},
	    {"FROM:bob@example.test\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: The Boss\r\n <bob@example.test>\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: alice@example.test, bob@example.test\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: Team: alice@example.test, bob@example.test;\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: alice@example.test\r\nSender: bob@example.test\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: alice@example.test\r\nFrom: bob@example.test\r\n", "553 5.7.1 <bob@example.test>"},
	    {"From: alice@remote.test\r\n", "553 5.7.1 <alice@remote.test>"},
	    {"From: alice@[127.0.0.1]\r\n", "553 5.7.1"},
	    {"From: alice\r\n", "553 5.7.1 <alice>"},
	    /* ways to show one address to a reader and another to us */
	    {"From: bob@example.test <alice@example.test>\r\n", "553 5.7.1 The From field"},
	    {"From: <alice@example.test> <bob@example.test>\r\n", "553 5.7.1 The From field"},
	    {"From: <alice@example.test> bob@example.test\r\n", "553 5.7.1 The From field"},
	    {"From: <alice@example.test\r\n", "553 5.7.1 The From field"},
	    {"From: \"Alice <alice@example.test>\r\n", "553 5.7.1 The From field"},
	    {"Sender: (x <alice@example.test>\r\n", "553 5.7.1 The Sender field"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		submit_as_alice("alice@example.test", cases[i].hdr, cases[i].want);
	/* the null envelope sender does not lift the check */
	submit_as_alice("", "From: bob@example.test\r\n", "553 5.7.1");
	/* submission.shared_senders: listed addresses and domains */
	cfg.submission_shared = "news@remote.test @shared.test";
	submit_as_alice("news@remote.test", "From: News <NEWS@remote.test>\r\n", "250 2.0.0");
	submit_as_alice("alice@example.test", "From: any@shared.test\r\nSender: alice@example.test\r\n",
			"250 2.0.0");
	submit_as_alice("alice@example.test", "From: other@remote.test\r\n", "553 5.7.1");
	cfg.submission_shared = NULL;
}

/* Issue 22: commands that make no progress end the session after 100
 * (Postfix's smtpd_junk_command_limit); an accepted message starts the
 * count again. */
TEST(junk_commands)
{
	static char many[100 * 40];
	struct sess *s = mx();
	many[0] = 0;
	for (int i = 0; i < 60; i++)
		strcat(many, i % 4 == 0 ? "NOOP\r\n" : i % 4 == 1 ? "RSET\r\n"
					   : i % 4 == 2 ? "VRFY alice\r\n" : "HELP\r\n");
	sendf(s, "%s", many);
	for (int i = 0; i < 60; i++)
		CHECK(strchr("25", reply(s)[0]) != NULL);
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	sendf(s, "Subject: j\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	sendf(s, "%s", many); /* 60 more: still under the limit */
	for (int i = 0; i < 60; i++)
		CHECK(strchr("25", reply(s)[0]) != NULL);
	sendf(s, "NOOP\r\n");
	EXPECT(s, "250 2.0.0");
	sess_close(&s);

	/* refused recipients count too: 100 taken, then 452 for each extra */
	s = mx();
	sendf(s, "MAIL FROM:<x@remote.test>\r\n");
	EXPECT(s, "250");
	many[0] = 0;
	for (int i = 0; i < 100; i++)
		strcat(many, "RCPT TO:<bob@example.test>\r\n");
	sendf(s, "%s", many);
	for (int i = 0; i < 100; i++)
		EXPECT(s, "250 2.1.5");
	sendf(s, "%s", many);
	for (int i = 0; i < 100; i++)
		EXPECT(s, "452 4.5.3");
	EXPECT(s, "421 4.7.0");
	CHECK(closed(s));
	sess_close(&s);

	s = mx(); /* its EHLO was the first: that one is progress */
	many[0] = 0;
	for (int i = 0; i < 100; i++)
		strcat(many, i % 2 ? "NOOP\r\n" : "HELO again.test\r\n");
	sendf(s, "%s", many);
	for (int i = 0; i < 100; i++)
		CHECK(reply(s)[0] == '2');
	EXPECT(s, "421 4.7.0");
	CHECK(closed(s));
	sess_close(&s);
}

/* Issue 22: submission to an address literal is refused at RCPT (the
 * queue delivers by MX only, so it could only bounce). */
TEST(submission_address_literal)
{
	setup();
	char cred[128];
	struct sess *s = sess_open("127.0.0.1", LK_SUBMISSION);
	EXPECT(s, "220 ");
	sendf(s, "EHLO c.test\r\n");
	reply(s);
	b64("\0alice@example.test\0alice-pw", 28, cred);
	sendf(s, "AUTH PLAIN %s\r\n", cred);
	EXPECT(s, "235 2.7.0");
	size_t q = queue_count();
	sendf(s, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<peer@[127.0.0.1]>\r\n"
		 "RCPT TO:<peer@[IPv6:::1]>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
	EXPECT(s, "250 2.1.0");
	EXPECT(s, "553 5.1.2 <peer@[127.0.0.1]>: Address literals are not accepted");
	EXPECT(s, "553 5.1.2");
	EXPECT(s, "250 2.1.5");
	EXPECT(s, "354");
	sendf(s, "From: alice@example.test\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(queue_count(), q);
	sess_close(&s);
}

/* Issue 22: NUL octets are refused with 554 5.6.0, in DATA and in BDAT. */
TEST(nul_octets)
{
	struct sess *s = mx();
	size_t b = inbox_count(bob_id);
	static const char msg[] = "Subject: nul\r\n\r\nbefore\0after\r\n";
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	sendraw(s, msg, sizeof msg - 1);
	sendf(s, ".\r\n");
	EXPECT(s, "554 5.6.0 Message contains NUL octets");
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nBDAT %zu LAST\r\n",
	      sizeof msg - 1);
	sendraw(s, msg, sizeof msg - 1);
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "554 5.6.0 Message contains NUL octets");
	CHECK_EQ_INT(inbox_count(bob_id), b);
	/* the session goes on */
	sendf(s, "MAIL FROM:<x@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	sendf(s, "Subject: ok\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(inbox_count(bob_id), b + 1);
	sess_close(&s);
}

TEST(quota)
{
	setup();
	CHECK(store_user_set_quota(st, "carol@example.test", 5000) == ST_OK);
	struct sess *s = mx();
	sendf(s, "MAIL FROM:<x@remote.test> SIZE=6000\r\nRCPT TO:<carol@example.test>\r\n");
	EXPECT(s, "250");
	EXPECT(s, "552 5.2.2");
	sendf(s, "RSET\r\nMAIL FROM:<x@remote.test> SIZE=100\r\nRCPT TO:<carol@example.test>\r\n"
		 "DATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	static char body[4000];
	memset(body, 'y', sizeof body - 1);
	for (size_t i = 98; i + 1 < sizeof body - 1; i += 100)
		body[i] = '\r', body[i + 1] = '\n';
	sendf(s, "Subject: q\r\n\r\n%s\r\n.\r\n", body);
	EXPECT(s, "250 2.0.0");
	/* now full: refused at RCPT, and at the end of DATA when she filled up
	 * meanwhile */
	sendf(s, "MAIL FROM:<x@remote.test> SIZE=1000\r\nRCPT TO:<carol@example.test>\r\n");
	EXPECT(s, "250");
	EXPECT(s, "452 4.2.2");
	sess_close(&s);
}

TEST(utf8_addresses)
{
	setup();
	const char *t[] = {"alice@example.test"};
	CHECK(store_alias_add(st, "j\xc3\xb6rg@example.test", t, 1) == ST_OK);
	struct sess *s = mx();
	size_t a = inbox_count(alice_id);
	sendf(s, "MAIL FROM:<j\xc3\xb6rg@remote.test>\r\n");
	EXPECT(s, "553 5.6.7");
	sendf(
	    s,
	    "MAIL FROM:<j\xc3\xb6rg@remote.test> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@example.test>\r\n"
	    "DATA\r\n");
	EXPECT(s, "250");
	EXPECT(s, "250");
	EXPECT(s, "354");
	sendf(s, "Subject: utf8\r\n\r\nx\r\n.\r\n");
	EXPECT(s, "250 2.0.0");
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	CHECK(strstr(last_message(alice_id), "with UTF8SMTP id") != NULL);
	sess_close(&s);
}

TEST_MAIN()
