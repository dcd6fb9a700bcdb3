/* test_pop3_session.c — whole POP3 sessions in-process: pop3_serve() runs
 * in a thread on one end of a socketpair, the test speaks raw POP3 on the
 * other, against a real store in a temporary DATADIR. The conn's peer
 * address is whatever the test says, so the non-loopback rules (no
 * plaintext login without TLS) are tested here, where e2e tests (loopback
 * only) cannot reach them. */
/* deps: pop3 pop3_parse conn tls mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal sasl spool util log mailbox_fts fts message message_text mailbox_spam mailbox_place mailbox_grey */
#include "../../config.h"
#include "../../conn.h"
#include "../../mailbox.h"
#include "../../sasl.h"
#include "../../server.h"
#include "../../spool.h"
#include "../../util.h"

#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct store *st;
static struct config cfg;
static struct server srv;
static char datadir[] = "/tmp/brev-test-pop3.XXXXXX";
static uint32_t alice_id;

static void setup(void)
{
	char err[256];
	struct cred cr;

	if (st)
		return;
	/* The server may close a session (too many errors) while the test is
	 * still writing to it: EPIPE, not a killed test. */
	signal(SIGPIPE, SIG_IGN);
	CHECK(mkdtemp(datadir) != NULL);
	CHECK(store_open(&st, datadir, 64 << 20, err, sizeof err) == 0);
	CHECK(cred_make(&cr, "alice-pw") == 0);
	CHECK(store_user_add(st, "alice@example.test", &cr) == ST_OK);
	CHECK(cred_make(&cr, "bob-pw") == 0);
	CHECK(store_user_add(st, "bob@example.test", &cr) == ST_OK);
	struct account a;
	CHECK(store_user_get(st, "alice@example.test", &a) == ST_OK);
	alice_id = a.id;
	cfg.domains = "example.test";
	srv.cfg = &cfg;
	srv.store = st;
	srv.hostname = "pop.example.test";
	auth_throttle_test_config(1, 5);
}

static void deliver(const char *text)
{
	struct spool *sp = spool_new(1 << 16);
	struct msg_in m = {.body = sp};
	int rc;

	CHECK(spool_write(sp, text, strlen(text)) == 0);
	CHECK(store_deliver(st, &alice_id, 1, NULL, &m, &rc, NULL) == ST_OK);
	CHECK(rc == ST_OK);
	spool_free(&sp);
}

static size_t inbox_count(void)
{
	struct mbox_info mi;
	CHECK(store_mbox_get(st, alice_id, "INBOX", &mi) == ST_OK);
	return mi.exists;
}

/* ---- a session on a socketpair ---- */

struct sess {
	pthread_t th;
	struct conn *c;
	int fd; /* the test's end */
	char buf[65536];
	size_t n;
};

static void *serve_thread(void *arg)
{
	struct sess *s = arg;
	pop3_serve(&srv, s->c, LK_POP3);
	conn_free(&s->c);
	return NULL;
}

static struct sess *sess_open(const char *peer)
{
	struct sess *s = xcalloc(1, sizeof *s);
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->fd = sv[0];
	s->c = conn_new(sv[1], peer, 40000, "127.0.0.1");
	CHECK(pthread_create(&s->th, NULL, serve_thread, s) == 0);
	return s;
}

/* Close our end (a dropped connection unless QUIT was sent) and wait for
 * the session to end. */
static void sess_close(struct sess **sp)
{
	close((*sp)->fd);
	pthread_join((*sp)->th, NULL);
	free(*sp);
	*sp = NULL;
}

static void sendf(struct sess *s, const char *fmt, ...)
{
	char line[70000];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	CHECK(write(s->fd, line, (size_t)n) == n);
}

/* Read until the buffer holds `want` (a suffix like "\r\n" or "\r\n.\r\n");
 * return what came, NUL-terminated, and consume it. */
static const char *recv_until(struct sess *s, const char *want)
{
	static char out[65536];
	for (;;) {
		s->buf[s->n] = '\0';
		char *e = strstr(s->buf, want);
		if (e) {
			size_t len = (size_t)(e - s->buf) + strlen(want);
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

static const char *line(struct sess *s)
{
	return recv_until(s, "\r\n");
}

/* The server hung up: EOF, or ECONNRESET when it closed with our unread
 * commands still in its socket (AF_UNIX reports that, like TCP's RST). */
static int closed(struct sess *s)
{
	char b[256];
	for (int i = 0; i < 100; i++) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 10000) != 1)
			return 0;
		if (read(s->fd, b, sizeof b) <= 0)
			return 1;
	}
	return 0;
}

#define EXPECT(s, prefix)                                                                          \
	do {                                                                                       \
		const char *l_ = line(s);                                                          \
		if (strncmp(l_, prefix, strlen(prefix)) != 0)                                      \
			CHECK_EQ_STR(l_, prefix);                                                  \
	} while (0)

/* ---- tests ---- */

TEST(non_loopback_plaintext_refused)
{
	setup();
	struct sess *s = sess_open("192.0.2.7");
	EXPECT(s, "+OK");
	sendf(s, "CAPA\r\n");
	const char *capa = recv_until(s, "\r\n.\r\n");
	CHECK(strstr(capa, "\r\nUSER\r\n") == NULL);
	CHECK(strstr(capa, "PLAIN") == NULL);
	CHECK(strstr(capa, "LOGIN") == NULL);
	CHECK(strstr(capa, "\r\nSTLS\r\n") == NULL); /* no certificate in this test */
	sendf(s, "USER alice@example.test\r\n");
	EXPECT(s, "-ERR [AUTH] plaintext login needs TLS");
	sendf(s, "PASS alice-pw\r\n");
	EXPECT(s, "-ERR [AUTH]");
	sendf(s, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
	EXPECT(s, "-ERR [AUTH] plaintext authentication needs TLS");
	sendf(s, "AUTH\r\n");
	const char *mechs = recv_until(s, "\r\n.\r\n");
	CHECK(strstr(mechs, "PLAIN") == NULL && strstr(mechs, "CRAM-MD5") != NULL);
	sendf(s, "QUIT\r\n");
	EXPECT(s, "+OK");
	CHECK(closed(s));
	sess_close(&s);
}

TEST(session_update_and_drop)
{
	setup();
	deliver("Subject: one\r\n\r\n.dot\r\n");
	deliver("Subject: two\r\n\r\nbody");
	deliver("Subject: three\r\n\r\nbody\r\n");
	size_t before = inbox_count();
	CHECK(before == 3);

	/* DELE then a dropped connection: nothing deleted, lock released */
	struct sess *s = sess_open("127.0.0.1");
	EXPECT(s, "+OK");
	sendf(s, "USER alice\r\nPASS alice-pw\r\nDELE 1\r\nDELE 2\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "+OK maildrop locked and ready, 3 messages");
	EXPECT(s, "+OK message 1 deleted");
	EXPECT(s, "+OK message 2 deleted");
	struct sess *s2 = sess_open("127.0.0.1");
	EXPECT(s2, "+OK");
	sendf(s2, "USER alice@example.test\r\nPASS alice-pw\r\n");
	EXPECT(s2, "+OK");
	EXPECT(s2, "-ERR [IN-USE]");
	sess_close(&s);
	CHECK(inbox_count() == 3);

	/* now the second session gets it; sizes are the message's octets
	 * (RFC 1939, as Dovecot): "..dot" is sent but counts as ".dot" */
	sendf(s2, "PASS alice-pw\r\n");
	EXPECT(s2, "-ERR send USER first");
	sendf(s2, "USER alice@example.test\r\nPASS alice-pw\r\nLIST\r\n");
	EXPECT(s2, "+OK");
	EXPECT(s2, "+OK maildrop locked");
	CHECK_EQ_STR(recv_until(s2, "\r\n.\r\n"),
		     "+OK 3 messages\r\n1 22\r\n2 22\r\n3 24\r\n.\r\n");
	sendf(s2, "RETR 1\r\n");
	CHECK_EQ_STR(recv_until(s2, "\r\n.\r\n"),
		     "+OK 22 octets\r\nSubject: one\r\n\r\n..dot\r\n.\r\n");
	sendf(s2, "RETR 2\r\n");
	CHECK_EQ_STR(recv_until(s2, "\r\n.\r\n"),
		     "+OK 22 octets\r\nSubject: two\r\n\r\nbody\r\n.\r\n");
	sendf(s2, "TOP 3 0\r\n");
	CHECK_EQ_STR(recv_until(s2, "\r\n.\r\n"),
		     "+OK top of message follows\r\nSubject: three\r\n\r\n.\r\n");
	sendf(s2, "DELE 2\r\nQUIT\r\n");
	EXPECT(s2, "+OK message 2 deleted");
	EXPECT(s2, "+OK pop.example.test POP3 server signing off (2 messages left)");
	CHECK(closed(s2));
	sess_close(&s2);
	CHECK(inbox_count() == 2);

	/* a new session sees the two that are left, renumbered */
	s = sess_open("127.0.0.1");
	EXPECT(s, "+OK");
	sendf(s, "USER alice\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "+OK maildrop locked and ready, 2 messages");
	EXPECT(s, "+OK 2 46");
	EXPECT(s, "+OK");
	sess_close(&s);
}

TEST(failed_logins_close)
{
	setup();
	struct sess *s = sess_open("127.0.0.1");
	EXPECT(s, "+OK");
	for (int i = 0; i < 2; i++) {
		sendf(s, "USER alice@example.test\r\nPASS nope\r\n");
		EXPECT(s, "+OK");
		EXPECT(s, "-ERR [AUTH] authentication failed");
	}
	sendf(s, "USER nobody@example.test\r\nPASS nope\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "-ERR [AUTH] authentication failed; too many failures");
	CHECK(closed(s));
	sess_close(&s);
	/* a good login resets the slow-down */
	s = sess_open("127.0.0.1");
	EXPECT(s, "+OK");
	sendf(s, "USER alice@example.test\r\nPASS alice-pw\r\nQUIT\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "+OK maildrop");
	EXPECT(s, "+OK");
	sess_close(&s);
}

/* docs/auth.md: a login the throttle refuses (its queue of turns over the
 * bound) is answered "try later" without a password check: POP3 -ERR
 * [SYS/TEMP]. One failure queues 1 s against a 0.3 s bound. */
TEST(throttle_refusal_is_sys_temp)
{
	setup();
	auth_throttle_test_config(1000, 1000);
	auth_throttle_test_queue(300);
	struct sess *s = sess_open("127.0.0.7");
	EXPECT(s, "+OK");
	sendf(s, "USER alice@example.test\r\nPASS nope\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "-ERR [AUTH] authentication failed");
	sendf(s, "USER alice@example.test\r\nPASS alice-pw\r\n");
	EXPECT(s, "+OK");
	EXPECT(s, "-ERR [SYS/TEMP]");
	sess_close(&s);
	auth_throttle_test_queue(0);
	auth_throttle_test_config(1, 5);
	auth_throttle_ok("127.0.0.7");
}

TEST(bounds)
{
	setup();
	struct sess *s = sess_open("127.0.0.1");
	char big[5000];
	EXPECT(s, "+OK");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sendf(s, "NOOP %s\r\nNOOP\r\n", big);
	EXPECT(s, "-ERR line too long");
	EXPECT(s, "-ERR not logged in");
	CHECK(write(s->fd, "USER a\0b\r\n", 10) == 10);
	EXPECT(s, "-ERR syntax error");
	/* AUTH continuation lines may be longer than 255 octets, but bounded */
	sendf(s, "AUTH PLAIN\r\n");
	EXPECT(s, "+ ");
	sendf(s, "%s\r\n", big);
	EXPECT(s, "-ERR malformed");
	sendf(s, "AUTH PLAIN\r\n");
	EXPECT(s, "+ ");
	sendf(s, "*\r\n");
	EXPECT(s, "-ERR authentication cancelled");
	/* Written ahead of the answers: brev closes after the error limit,
	 * perhaps before the last of them arrive (their writes may fail). */
	for (int i = 0; i < 30; i++)
		(void)!write(s->fd, "BLAH\r\n", 6);
	int i = 0;
	while (i++ < 30 && strcmp(line(s), "-ERR unknown command\r\n") == 0)
		;
	CHECK(i > 10 && i < 30);
	CHECK(closed(s));
	sess_close(&s);
}

TEST(sasl_plain_initial_response)
{
	setup();
	struct sess *s = sess_open("127.0.0.1");
	EXPECT(s, "+OK");
	/* "\0alice\0alice-pw" */
	sendf(s, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\nSTAT\r\nQUIT\r\n");
	EXPECT(s, "+OK maildrop locked");
	EXPECT(s, "+OK ");
	EXPECT(s, "+OK");
	sess_close(&s);
}

TEST(cleanup)
{
	char cmd[256];
	store_close(&st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", datadir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN()
