/* test_sendmail.c — `brev sendmail` against a real store in a temporary
 * DATADIR: options, -t with To/Cc/Bcc (and Bcc removed), added header
 * fields, LF to CRLF, the lone-dot rule, remote recipients queued, errors.
 * Also the RFC 5322 address-list walker. */
/* deps: sendmail control smtp_msg sieve_deliver sieve sieve_parse sieve_match message message_text smtp_addr mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal sasl config spool util log authres dkim dkim_keys spf dmarc dns queue_dsn srs mailbox_fts fts mailbox_spam mailbox_place mailbox_grey */
#include "../../config.h"
#include "../../log.h"
#include "../../mailbox.h"
#include "../../sasl.h"
#include "../../sendmail.h"
#include "../../spool.h"
#include "../../util.h"

#include <stdarg.h>

#include "harness.h"

static struct store *st;
static struct config cfg;
static char datadir[] = "/tmp/brev-test-sendmail.XXXXXX";
static uint32_t alice_id, bob_id;

static uint32_t add_user(const char *addr)
{
	struct cred cr;
	struct account a;
	CHECK(cred_make(&cr, "pw") == 0);
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
	alice_id = add_user("alice@example.test");
	bob_id = add_user("bob@example.test");
	cfg.domains = "example.test";
	cfg.message_size = 100000;
	str_copy(cfg.hostname, "host.example.test", sizeof cfg.hostname);
	log_set_level(L_WARN);
	setenv("USER", "root", 1);
}

static size_t inbox_count(uint32_t user)
{
	struct mbox_info mi;
	CHECK(store_mbox_get(st, user, "INBOX", &mi) == ST_OK);
	return mi.exists;
}

static int last_cb(void *arg, const struct msg_info *m)
{
	*(struct msg_info *)arg = *m;
	return 0;
}

static const char *last_message(uint32_t user)
{
	static char buf[200000];
	struct msg_info m = {0};
	CHECK(store_msg_list(st, user, "INBOX", 1, last_cb, &m) == ST_OK);
	CHECK(m.uid > 0 && m.size < sizeof buf);
	long n = store_msg_read(st, m.blob, 0, buf, sizeof buf - 1);
	CHECK(n == (long)m.size);
	buf[n] = 0;
	return buf;
}

struct qscan {
	size_t n;
	char from[256], rcpt0[256];
};

static int queue_cb(void *arg, const struct queue_entry *e)
{
	struct qscan *q = arg;
	q->n++;
	str_copy(q->from, e->from, sizeof q->from);
	str_copy(q->rcpt0, e->nrcpts ? e->rcpts[0] : "", sizeof q->rcpt0);
	return 0;
}

/* Run sendmail with argv (NULL-terminated) on input text. */
static int run(const char *input, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, input);
	argv[argc++] = "sendmail";
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	FILE *in = fmemopen((void *)input, strlen(input), "r");
	CHECK(in != NULL);
	int rc = sendmail_run(&cfg, st, argc, argv, in);
	fclose(in);
	return rc;
}

TEST(local_args_lf)
{
	setup();
	size_t a = inbox_count(alice_id);
	CHECK_EQ_INT(run("Subject: cron\nTo: alice\n\nline one\nline two\n", "-oi", "alice", NULL),
		     0);
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	const char *m = last_message(alice_id);
	CHECK(strncmp(m,
		      "Return-Path: <root@example.test>\r\nReceived: by host.example.test "
		      "(brev sendmail, from userid root)\r\n\tid ",
		      strlen("Return-Path: <root@example.test>\r\nReceived: by host.example.test "
			     "(brev sendmail, from userid root)\r\n\tid ")) == 0);
	CHECK(strstr(m, "\r\nSubject: cron\r\nTo: alice\r\nDate: ") != NULL);
	CHECK(strstr(m, "\r\nMessage-ID: <") != NULL);
	CHECK(strstr(m, "@host.example.test>\r\nFrom: <root@example.test>\r\n\r\nline one\r\n"
			"line two\r\n") != NULL);
	CHECK(strchr(m, '\n')[-1] == '\r');
	for (const char *p = m; (p = strchr(p, '\n')); p++)
		CHECK(p[-1] == '\r');
}

TEST(t_flag_and_bcc)
{
	setup();
	size_t a = inbox_count(alice_id), b = inbox_count(bob_id);
	struct qscan q0 = {0}, q1 = {0};
	CHECK(store_queue_list(st, queue_cb, &q0) == ST_OK);
	CHECK_EQ_INT(
	    run("From: Me <me@example.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		"Message-ID: <x@y>\r\nTo: \"Alice, A.\" <alice@example.test>, "
		"friends: far@remote.test (comment);\r\nBcc: bob\r\n  , <bob@example.test>\r\n"
		"Subject: t\r\n\r\nbody\r\n.\r\nafter the dot\r\n",
		"-t", "-f", "me@example.test", NULL),
	    0);
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	CHECK_EQ_INT(inbox_count(bob_id), b + 1);
	const char *m = last_message(alice_id);
	CHECK(strstr(m, "Return-Path: <me@example.test>\r\n") == m);
	CHECK(strstr(m, "Bcc") == NULL);
	CHECK(strstr(m, "Subject: t\r\n\r\nbody\r\n") != NULL);
	CHECK(strstr(m, "after the dot") == NULL); /* no -i: the dot ended it */
	CHECK(strstr(m, "Date: Mon, 1 Jan 2024") != NULL);
	CHECK(store_queue_list(st, queue_cb, &q1) == ST_OK);
	CHECK_EQ_INT(q1.n, q0.n + 1);
	CHECK_EQ_STR(q1.rcpt0, "far@remote.test");
	CHECK_EQ_STR(q1.from, "me@example.test");
}

TEST(options_and_errors)
{
	setup();
	size_t a = inbox_count(alice_id);
	/* what cron passes */
	CHECK_EQ_INT(run("Subject: c\n\nx\n.\ny\n", "-FCronDaemon", "-i", "-B8BITMIME", "-oem",
			 "-odi", "alice@example.test", NULL),
		     0);
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	const char *m = last_message(alice_id);
	CHECK(strstr(m, "From: \"CronDaemon\" <root@example.test>\r\n") != NULL);
	CHECK(strstr(m, "\r\nx\r\n.\r\ny\r\n") != NULL); /* -i: the dot is text */
	/* errors: exit 1, nothing stored */
	CHECK_EQ_INT(run("x\n", "nobody@example.test", NULL), 1);
	CHECK_EQ_INT(run("x\n", NULL), 1);
	CHECK_EQ_INT(run("x\n", "-bs", NULL), 1);
	CHECK_EQ_INT(run("x\n", "-X", NULL), 1);
	CHECK_EQ_INT(run("x\n", "-f", NULL), 1);
	CHECK_EQ_INT(run("x\n", "bad address@example.test", NULL), 1);
	CHECK_EQ_INT(run("x\n", "user%remote.test@example.test", NULL), 1);
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	/* null sender, no header at all, no final newline */
	CHECK_EQ_INT(run("just a body", "-f", "<>", "alice,bob", NULL), 0);
	m = last_message(alice_id);
	CHECK(strstr(m, "Return-Path: <>\r\n") == m);
	CHECK(strstr(m, "From: <MAILER-DAEMON>\r\n\r\njust a body\r\n") != NULL);
}

TEST(size_limit)
{
	setup();
	static char big[150000];
	memset(big, 'x', sizeof big - 1);
	for (size_t i = 70; i < sizeof big - 1; i += 71)
		big[i] = '\n';
	CHECK_EQ_INT(run(big, "alice", NULL), 1);
}

struct list {
	char out[1024];
};

static int collect(void *arg, const char *addr)
{
	struct list *l = arg;
	strncat(l->out, addr, sizeof l->out - strlen(l->out) - 2);
	strcat(l->out, "|");
	return 0;
}

static const char *alist(const char *v)
{
	static struct list l;
	l.out[0] = 0;
	sendmail_addr_list(v, strlen(v), "d.test", collect, &l);
	return l.out;
}

/* No bare CR or LF in what is stored (and queued): every bare CR and LF
 * is a line end and becomes CRLF, so "\r.\r" cannot reach another MTA as
 * an end of data (issue 22). */
static int bare_cr_lf(const char *m)
{
	for (const char *p = m; *p; p++)
		if ((*p == '\r' && p[1] != '\n') || (*p == '\n' && (p == m || p[-1] != '\r')))
			return 1;
	return 0;
}

TEST(bare_cr)
{
	setup();
	size_t a = inbox_count(alice_id);
	CHECK_EQ_INT(run("Subject: cr\r\nX-A: 1\r\n\r\none\rtwo\r.\rthree\n\rfour\r\n\r", "-i",
			 "alice", NULL),
		     0);
	CHECK_EQ_INT(inbox_count(alice_id), a + 1);
	const char *m = last_message(alice_id);
	CHECK(!bare_cr_lf(m));
	CHECK(strstr(m, "\r\n\r\none\r\ntwo\r\n.\r\nthree\r\n\r\nfour\r\n\r\n") != NULL);
	/* Old Mac line ends throughout; without -i the lone dot ends it. */
	CHECK_EQ_INT(run("Subject: mac\rTo: alice\r\rbody\r.\rnot this\r", "alice", NULL), 0);
	m = last_message(alice_id);
	CHECK(!bare_cr_lf(m));
	CHECK(strstr(m, "\r\nSubject: mac\r\nTo: alice\r\n") != NULL);
	CHECK(strstr(m, "\r\n\r\nbody\r\n") != NULL && strstr(m, "not this") == NULL);
	/* a CR at the end of the 64 KiB read buffer, its LF in the next read */
	static char big[80000];
	strcpy(big, "Subject: long\n\n");
	size_t k = strlen(big);
	memset(big + k, 'x', 65536 - k - 1);
	strcpy(big + 65535, "\r\nend\r\n");
	CHECK_EQ_INT(run(big, "alice", NULL), 0);
	m = last_message(alice_id);
	CHECK(!bare_cr_lf(m));
	CHECK(strstr(m, "xx\r\nend\r\n") != NULL);
}

/* NUL bytes: refused as SMTP refuses them (exit 1, nothing stored). */
TEST(nul_bytes)
{
	setup();
	static const char msg[] = "Subject: nul\n\nbefore\0after\n";
	size_t a = inbox_count(alice_id);
	char *argv[] = {"sendmail", "alice", NULL};
	FILE *in = fmemopen((void *)msg, sizeof msg - 1, "r");
	CHECK(in != NULL);
	CHECK_EQ_INT(sendmail_run(&cfg, st, 2, argv, in), 1);
	fclose(in);
	CHECK_EQ_INT(inbox_count(alice_id), a);
}

TEST(address_lists)
{
	CHECK_EQ_STR(alist(" a@b.test"), "a@b.test|");
	CHECK_EQ_STR(alist("A <a@b.test>, c@d.test"), "a@b.test|c@d.test|");
	CHECK_EQ_STR(alist("\"Smith, John\" <j@x.test>"), "j@x.test|");
	CHECK_EQ_STR(alist("undisclosed-recipients:;"), "");
	CHECK_EQ_STR(alist("team: a@x.test, b@x.test; c@x.test"), "a@x.test|b@x.test|c@x.test|");
	CHECK_EQ_STR(alist("a@x.test (Al (the) Man), (c) b@x.test"), "a@x.test|b@x.test|");
	CHECK_EQ_STR(alist("bob"), "bob@d.test|");
	CHECK_EQ_STR(alist("<@r.test:a@x.test>"), "a@x.test|");
	CHECK_EQ_STR(alist("\"john smith\"@x.test"), "\"john smith\"@x.test|");
	CHECK_EQ_STR(alist("a@x.test,\r\n b@x.test"), "a@x.test|b@x.test|");
	CHECK_EQ_STR(alist(",,"), "");
	CHECK_EQ_STR(alist("<unterminated@x.test"), "unterminated@x.test|");
	CHECK_EQ_STR(alist("(unterminated comment a@b"), "");
}

TEST_MAIN()
