/* test_imap_session.c — whole IMAP sessions in-process: imap_serve() runs in
 * a thread on one end of a socketpair, the test speaks raw IMAP on the
 * other, against a real store in a temporary DATADIR. Here the time limits
 * before login (security review finding 3) are shrunk so they can be seen:
 * a silent client, a client dripping commands, and the long autologout
 * that takes over after login. */
/* deps: config imap imap_mbox imap_sync imap_context imap_view imap_parse imap_fetch imap_search imap_compress imap_quota imap_replace imap_catenate imapurl objid message_preview imap_sort thread imap_notify message message_text conn tls mailbox mailbox_acct mailbox_mbox mailbox_msg mailbox_queue mailbox_journal sasl spool util log mailbox_fts fts spam spam_learn spam_bayes spam_token mailbox_spam mailbox_place mailbox_sieve mailbox_grey mailbox_spamlist */
#include "../../config.h"
#include "../../conn.h"
#include "../../imap.h"
#include "../../mailbox.h"
#include "../../sasl.h"
#include "../../spool.h"
#include "../../server.h"
#include "../../util.h"

#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct store *st;
static struct server srv;
static char datadir[] = "/tmp/brev-test-imap.XXXXXX";

static void setup(void)
{
	char err[256];
	struct cred cr;

	if (st)
		return;
	CHECK(mkdtemp(datadir) != NULL);
	CHECK(store_open(&st, datadir, 64 << 20, err, sizeof err) == 0);
	CHECK(cred_make(&cr, "alice-pw") == 0);
	CHECK(store_user_add(st, "alice@example.test", &cr) == ST_OK);
	srv.store = st;
	signal(SIGPIPE, SIG_IGN); /* writes to a session that hung up */
	srv.hostname = "imap.example.test";
	auth_throttle_test_config(1, 5);
}

struct sess {
	pthread_t th;
	struct conn *c;
	int fd;
	char buf[65536];
	size_t n;
};

static void *serve_thread(void *arg)
{
	struct sess *s = arg;
	imap_serve(&srv, s->c, LK_IMAP);
	conn_free(&s->c);
	return NULL;
}

static struct sess *sess_open_from(const char *peer)
{
	struct sess *s = xcalloc(1, sizeof *s);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->fd = sv[0];
	s->c = conn_new(sv[1], peer, 40000, "127.0.0.1");
	CHECK(pthread_create(&s->th, NULL, serve_thread, s) == 0);
	return s;
}

static struct sess *sess_open(void)
{
	return sess_open_from("127.0.0.1");
}

static void sess_close(struct sess **sp)
{
	close((*sp)->fd);
	pthread_join((*sp)->th, NULL);
	free(*sp);
	*sp = NULL;
}

static void sendf(struct sess *s, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	CHECK(write(s->fd, line, (size_t)n) == n);
}

/* One line, or "(closed)". */
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

/* Lines until EOF; the time it took in ms. */
static double until_closed(struct sess *s, int *saw_bye)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*saw_bye = 0;
	for (int i = 0; i < 1000; i++) {
		const char *l = line(s);
		if (strcmp(l, "(closed)") == 0)
			break;
		if (strncmp(l, "* BYE", 5) == 0)
			*saw_bye = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

TEST(silent_client_before_login)
{
	setup();
	imap_test_preauth_timeouts(300, 2000);
	struct sess *s = sess_open();
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	int bye;
	double ms = until_closed(s, &bye);
	CHECK(ms >= 250 && ms < 1500); /* one wait, not the 30-minute autologout */
	sess_close(&s);
	imap_test_preauth_timeouts(0, 0);
}

TEST(dripping_client_before_login)
{
	setup();
	imap_test_preauth_timeouts(300, 1000);
	struct sess *s = sess_open();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	int closed = 0;
	for (int i = 0; i < 40 && !closed; i++) { /* a NOOP every 100 ms: no wait runs out */
		usleep(100000);
		if (write(s->fd, "n NOOP\r\n", 8) != 8)
			closed = 1;
		const char *l = line(s);
		if (strcmp(l, "(closed)") == 0 || strncmp(l, "* BYE", 5) == 0)
			closed = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(closed);
	CHECK(ms >= 900 && ms < 2500); /* the overall deadline from connect */
	sess_close(&s);
	imap_test_preauth_timeouts(0, 0);
}

TEST(after_login_the_long_autologout)
{
	setup();
	imap_test_preauth_timeouts(300, 600);
	struct sess *s = sess_open();
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test alice-pw\r\n");
	CHECK(strncmp(line(s), "a OK", 4) == 0);
	usleep(900000); /* past both pre-login limits */
	sendf(s, "b NOOP\r\n");
	CHECK(strncmp(line(s), "b OK", 4) == 0);
	sendf(s, "c LOGOUT\r\n");
	int bye;
	until_closed(s, &bye);
	CHECK(bye);
	sess_close(&s);
	imap_test_preauth_timeouts(0, 0);
}

/* The autologout itself (issue 24: the test above never reached it):
 * limits.timeout_imap shortened to 1 s ends a session waiting in IDLE with
 * an untagged BYE, after the pre-login limit would have, not before. */
TEST(autologout_ends_idle_with_bye)
{
	static struct config cfg;
	setup();
	config_defaults(&cfg, datadir);
	cfg.timeout_imap = 1;
	cfg.timeout_preauth = 30;
	srv.cfg = &cfg;
	struct sess *s = sess_open();
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test alice-pw\r\n");
	CHECK(strncmp(line(s), "a OK", 4) == 0);
	sendf(s, "b SELECT INBOX\r\n");
	const char *l;
	while (strncmp(l = line(s), "b ", 2) != 0)
		CHECK(l[0] == '*');
	CHECK(strncmp(l, "b OK", 4) == 0);
	sendf(s, "c IDLE\r\n");
	CHECK(strncmp(line(s), "+ ", 2) == 0);
	int bye;
	double ms = until_closed(s, &bye);
	CHECK(bye);
	CHECK(ms >= 500 && ms < 8000);
	sess_close(&s);
	srv.cfg = NULL;
	config_free(&cfg);
}

/* docs/auth.md "Plaintext policy": off loopback and outside TLS, IMAP
 * advertises LOGINDISABLED and no AUTH=PLAIN, and refuses LOGIN and a
 * plaintext mechanism with [PRIVACYREQUIRED] before reading credentials;
 * CRAM-MD5 and SCRAM stay offered. */
TEST(plaintext_login_needs_tls_off_loopback)
{
	setup();
	struct sess *s = sess_open_from("192.0.2.7");
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "c CAPABILITY\r\n");
	const char *l = line(s);
	CHECK(strstr(l, " LOGINDISABLED") != NULL);
	CHECK(strstr(l, "AUTH=PLAIN") == NULL && strstr(l, "AUTH=LOGIN") == NULL);
	CHECK(strstr(l, "AUTH=CRAM-MD5") != NULL && strstr(l, "AUTH=SCRAM-SHA-256") != NULL);
	CHECK(strncmp(line(s), "c OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test alice-pw\r\n");
	l = line(s);
	CHECK(strncmp(l, "a NO [PRIVACYREQUIRED]", 22) == 0);
	sendf(s, "b AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==\r\n");
	l = line(s);
	CHECK(strncmp(l, "b NO [PRIVACYREQUIRED]", 22) == 0);
	sendf(s, "d AUTHENTICATE LOGIN\r\n");
	l = line(s);
	CHECK(strncmp(l, "d NO [PRIVACYREQUIRED]", 22) == 0);
	sess_close(&s);
}

/* docs/auth.md: an attempt the throttle refuses (its queue of turns is
 * over the bound) is answered "try later" without a password check: IMAP
 * NO [UNAVAILABLE]. The throttle is scaled so one failure queues 1 s
 * against a 0.3 s bound. */
TEST(throttle_refusal_is_unavailable)
{
	setup();
	auth_throttle_test_config(1000, 1000);
	auth_throttle_test_queue(300);
	struct sess *s = sess_open_from("127.0.0.5");
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test wrong\r\n");
	CHECK(strstr(line(s), "a NO [AUTHENTICATIONFAILED]") != NULL);
	/* the right password, but the turn is refused before it is checked */
	sendf(s, "b LOGIN alice@example.test alice-pw\r\n");
	const char *l = line(s);
	if (strncmp(l, "b NO [UNAVAILABLE]", 18) != 0)
		CHECK_EQ_STR(l, "b NO [UNAVAILABLE] ...");
	sess_close(&s);
	auth_throttle_test_queue(0);
	auth_throttle_test_config(1, 5);
	auth_throttle_ok("127.0.0.5");
}

TEST(three_failed_logins_end_the_session)
{
	setup();
	struct sess *s = sess_open();
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	for (int i = 0; i < 3; i++) {
		sendf(s, "f%d LOGIN alice@example.test wrong\r\n", i);
		const char *l = line(s);
		CHECK(strstr(l, "NO [AUTHENTICATIONFAILED]") != NULL);
	}
	int bye;
	until_closed(s, &bye);
	CHECK(bye);
	sess_close(&s);
	auth_throttle_ok("127.0.0.1");
}

/* Raw bytes until the tagged line of `tag` has arrived (NULs and all);
 * returns the count, the bytes in out. */
static size_t until_tagged(struct sess *s, const char *tag, char *out, size_t cap)
{
	size_t n = 0, tl = strlen(tag);
	for (;;) {
		/* done when a line starts with "tag " and has ended */
		for (size_t i = 0; i + tl < n; i++)
			if ((i == 0 || out[i - 1] == '\n') && memcmp(out + i, tag, tl) == 0 &&
			    out[i + tl] == ' ' && memchr(out + i, '\n', n - i))
				return n;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		CHECK(poll(&p, 1, 10000) == 1);
		ssize_t r = read(s->fd, out + n, cap - n);
		CHECK(r > 0);
		n += (size_t)r;
	}
}

/* Issue 22: NUL never travels in a {n} literal. APPEND of a message with
 * a NUL gets NO (RFC 9051 4.3: a literal is CHAR8, no NUL; brev keeps no
 * binary content); a message that holds one anyway (stored before brev
 * refused them) is fetched with the NUL shown as 0x80, the length kept. */
TEST(nul_octets)
{
	setup();
	static char buf[65536];
	struct sess *s = sess_open();
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test alice-pw\r\n");
	until_tagged(s, "a", buf, sizeof buf);
	CHECK(strstr(buf, "a OK") != NULL);
	static const char msg[] = "Subject: nul\r\n\r\nbefore\0after\r\n";
	sendf(s, "b APPEND INBOX {%zu+}\r\n", sizeof msg - 1);
	CHECK(write(s->fd, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1));
	sendf(s, "\r\n");
	size_t n = until_tagged(s, "b", buf, sizeof buf);
	buf[n] = 0;
	CHECK(strstr(buf, "b NO ") != NULL);
	/* and with BINARY's literal8 */
	sendf(s, "c APPEND INBOX ~{%zu+}\r\n", sizeof msg - 1);
	CHECK(write(s->fd, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1));
	sendf(s, "\r\n");
	n = until_tagged(s, "c", buf, sizeof buf);
	buf[n] = 0;
	CHECK(strstr(buf, "c NO ") != NULL);

	/* one that got into the store anyway */
	struct account a;
	CHECK(store_user_get(st, "alice@example.test", &a) == ST_OK);
	struct spool *sp = spool_new(SPOOL_MEM_DEFAULT);
	CHECK(spool_write(sp, msg, sizeof msg - 1) == 0);
	struct msg_in in = {.body = sp};
	uint32_t uidv = 0, uid = 0;
	CHECK(store_append(st, a.id, "INBOX", &in, &uidv, &uid) == ST_OK);
	spool_free(&sp);
	sendf(s, "d SELECT INBOX\r\n");
	until_tagged(s, "d", buf, sizeof buf);
	sendf(s, "e UID FETCH %u (BODY.PEEK[] BODY.PEEK[TEXT])\r\n", uid);
	n = until_tagged(s, "e", buf, sizeof buf);
	CHECK(memchr(buf, 0, n) == NULL);
	buf[n] = 0;
	char want[128];
	snprintf(want, sizeof want, "BODY[] {%zu}\r\nSubject: nul\r\n\r\nbefore\x80" "after\r\n",
		 sizeof msg - 1);
	if (!strstr(buf, want))
		fprintf(stderr, "got: %s\n", buf);
	CHECK(strstr(buf, want) != NULL);
	CHECK(strstr(buf, "e OK") != NULL);
	/* BINARY (RFC 3516) may carry it, in a literal8 only */
	sendf(s, "f UID FETCH %u (BINARY.PEEK[1])\r\n", uid);
	n = until_tagged(s, "f", buf, sizeof buf);
	const char *z = memchr(buf, 0, n);
	CHECK(!z || memmem(buf, n, "BINARY[1] ~{", 12) != NULL);
	sess_close(&s);
}

TEST_MAIN()
