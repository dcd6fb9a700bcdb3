/* test_imap_inprogress.c — INPROGRESS (RFC 9585) progress responses of a
 * long SEARCH, in whole IMAP sessions in-process: imap_serve() runs in a
 * thread on one end of a socketpair, the test speaks raw IMAP on the other,
 * against a real store in a temporary DATADIR. brev sends one every second
 * of a SEARCH; imap_test_progress_ms() shrinks that (0: after every
 * message) or stretches it, so the responses can be counted exactly: the
 * count of messages tested and the goal in each, the command's tag, and the
 * answer the same as without them. */
/* deps: config imap spam_learn spam spam_token spam_bayes imap_mbox imap_sync imap_context imap_view imap_parse imap_fetch imap_search imap_compress imap_quota imap_replace imap_catenate imapurl objid message_preview imap_sort thread imap_notify message message_text conn tls mailbox mailbox_acct mailbox_spam mailbox_mbox mailbox_msg mailbox_fts fts mailbox_queue mailbox_journal sasl spool util log mailbox_place mailbox_sieve mailbox_grey mailbox_spamlist */
#include "../../config.h"
#include "../../conn.h"
#include "../../imap.h"
#include "../../mailbox.h"
#include "../../sasl.h"
#include "../../spool.h"
#include "../../server.h"
#include "../../util.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define NMSG 60 /* in INBOX; every third from Smith */

static struct store *st;
static struct server srv;
static char datadir[] = "/tmp/brev-test-inprogress.XXXXXX";

static void setup(void)
{
	char err[256];
	struct cred cr;
	struct account a;

	if (st)
		return;
	CHECK(mkdtemp(datadir) != NULL);
	CHECK(store_open(&st, datadir, 64 << 20, err, sizeof err) == 0);
	CHECK(cred_make(&cr, "alice-pw") == 0);
	CHECK(store_user_add(st, "alice@example.test", &cr) == ST_OK);
	CHECK(store_user_get(st, "alice@example.test", &a) == ST_OK);
	for (int i = 1; i <= NMSG; i++) {
		char m[128];
		int n = snprintf(m, sizeof m, "From: %s@example.test\r\nSubject: %d\r\n\r\nbody\r\n",
				 i % 3 ? "jones" : "smith", i);
		struct spool *sp = spool_new(SPOOL_MEM_DEFAULT);
		CHECK(spool_write(sp, m, (size_t)n) == 0);
		struct msg_in in = {.body = sp};
		CHECK(store_append(st, a.id, "INBOX", &in, NULL, NULL) == ST_OK);
		spool_free(&sp);
	}
	srv.store = st;
	signal(SIGPIPE, SIG_IGN);
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

static void sendf(struct sess *s, const char *fmt, ...)
{
	char l[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(l, sizeof l, fmt, ap);
	va_end(ap);
	CHECK(write(s->fd, l, (size_t)n) == n);
}

/* One line without its CRLF, or "(closed)". */
static const char *line(struct sess *s)
{
	static char out[65536];
	for (;;) {
		s->buf[s->n] = '\0';
		char *e = strstr(s->buf, "\r\n");
		if (e) {
			size_t len = (size_t)(e - s->buf);
			memcpy(out, s->buf, len);
			out[len] = '\0';
			memmove(s->buf, s->buf + len + 2, s->n - len - 2);
			s->n -= len + 2;
			return out;
		}
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		CHECK(poll(&p, 1, 20000) == 1);
		ssize_t r = read(s->fd, s->buf + s->n, sizeof s->buf - 1 - s->n);
		if (r <= 0)
			return "(closed)";
		s->n += (size_t)r;
	}
}

static struct sess *login(void)
{
	struct sess *s = xcalloc(1, sizeof *s);
	int sv[2];
	setup();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->fd = sv[0];
	s->c = conn_new(sv[1], "127.0.0.1", 40000, "127.0.0.1");
	CHECK(pthread_create(&s->th, NULL, serve_thread, s) == 0);
	CHECK(strncmp(line(s), "* OK", 4) == 0);
	sendf(s, "a LOGIN alice@example.test alice-pw\r\nb SELECT INBOX\r\n");
	while (strncmp(line(s), "b ", 2) != 0)
		;
	return s;
}

static void sess_close(struct sess **sp)
{
	close((*sp)->fd);
	pthread_join((*sp)->th, NULL);
	free(*sp);
	*sp = NULL;
}

/* Send cmd as tag; the INPROGRESS lines go to prog[] (up to cap), the
 * other untagged lines are joined into other; the tagged line is returned. */
static char tagged[512];
static const char *run(struct sess *s, const char *tag, const char *cmd, char prog[][96],
		       int cap, int *nprog, char *other, size_t ocap)
{
	*nprog = 0;
	other[0] = 0;
	sendf(s, "%s %s\r\n", tag, cmd);
	for (;;) {
		const char *l = line(s);
		if (!strcmp(l, "(closed)"))
			return "(closed)";
		if (!strncmp(l, tag, strlen(tag)) && l[strlen(tag)] == ' ') {
			snprintf(tagged, sizeof tagged, "%s", l);
			return tagged;
		}
		if (strstr(l, "[INPROGRESS")) {
			if (*nprog < cap)
				snprintf(prog[*nprog], 96, "%s", l);
			(*nprog)++;
		} else {
			size_t k = strlen(other);
			snprintf(other + k, ocap - k, "%s%s", k ? "|" : "", l);
		}
	}
}

static char prog[NMSG + 8][96];

TEST(progress_after_every_message_when_asked)
{
	char other[4096], want[96];
	int np;
	struct sess *s = login();

	imap_test_progress_ms(0);
	const char *t = run(s, "s1", "SEARCH FROM smith", prog, NMSG + 8, &np, other, sizeof other);
	CHECK(!strncmp(t, "s1 OK", 5));
	CHECK_EQ_INT(np, NMSG);
	for (int i = 0; i < np && i < NMSG; i++) {
		snprintf(want, sizeof want, "* OK [INPROGRESS (\"s1\" %d %d)] Searching", i + 1, NMSG);
		if (strcmp(prog[i], want))
			fprintf(stderr, "got %s, want %s\n", prog[i], want);
		CHECK(!strcmp(prog[i], want));
	}
	/* the answer is the one a search without progress gives */
	char with[4096];
	snprintf(with, sizeof with, "%s", other);
	imap_test_progress_ms(60 * 1000);
	t = run(s, "s2", "SEARCH FROM smith", prog, NMSG + 8, &np, other, sizeof other);
	CHECK(!strncmp(t, "s2 OK", 5));
	CHECK_EQ_INT(np, 0);
	CHECK(!strcmp(with, other));
	CHECK(!strcmp(other, "* SEARCH 3 6 9 12 15 18 21 24 27 30 33 36 39 42 45 48 51 54 57 60"));

	/* UID SEARCH with ESEARCH results, and ESEARCH over mailboxes (the
	 * goal is every message of the mailboxes searched). */
	imap_test_progress_ms(0);
	t = run(s, "u1", "UID SEARCH RETURN (COUNT) FROM smith", prog, NMSG + 8, &np, other,
		sizeof other);
	CHECK(!strncmp(t, "u1 OK", 5));
	CHECK_EQ_INT(np, NMSG);
	CHECK(!strcmp(other, "* ESEARCH (TAG \"u1\") UID COUNT 20"));
	CHECK(!strcmp(prog[NMSG - 1], "* OK [INPROGRESS (\"u1\" 60 60)] Searching"));
	t = run(s, "e1", "ESEARCH IN (personal) RETURN (MIN) FROM smith", prog, NMSG + 8, &np,
		other, sizeof other);
	CHECK(!strncmp(t, "e1 OK", 5));
	CHECK_EQ_INT(np, NMSG);
	CHECK(!strcmp(prog[0], "* OK [INPROGRESS (\"e1\" 1 60)] Searching"));
	CHECK(strstr(other, "MAILBOX \"INBOX\"") && strstr(other, "UID MIN 3"));
	imap_test_progress_ms(-1);
	sess_close(&s);
}

TEST(none_before_the_interval)
{
	char other[4096];
	int np;
	struct sess *s = login();
	/* The first one is due one interval after the command began. */
	imap_test_progress_ms(60 * 1000);
	const char *t = run(s, "n1", "SEARCH TEXT body", prog, NMSG + 8, &np, other, sizeof other);
	CHECK(!strncmp(t, "n1 OK", 5));
	CHECK_EQ_INT(np, 0);
	imap_test_progress_ms(-1);
	sess_close(&s);
}

TEST_MAIN()
