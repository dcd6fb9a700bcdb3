/*
 * fuzz_fetch.c — brev fetch's client side against a hostile server: the
 * input is everything the "old provider" sends (greeting, LIST, SELECT,
 * FETCH replies with literals; or POP3's +OK lines, UIDL listing and RETR
 * bodies), written into one end of a socketpair while fetch_imap_session
 * (first input byte even) or fetch_pop3_session (odd) runs on the other,
 * storing into a real store in /dev/shm made once at start-up (syncs cost
 * nothing there) and its progress file beside it. What the client sends
 * is read and dropped. After the input the socket is shut: every session
 * must end (a hang is libFuzzer's -timeout).
 *
 * Oracles beyond the sanitizers: the session returns 0 or -1 (with a
 * reason in its stats when -1), and the account's message count never
 * goes down (the sink only adds).
 */
/* deps: config fetch fetch_imap fetch_pop3 fetch_deliver spam_verdict smtp smtp_addr smtp_msg sieve_deliver sieve sieve_parse sieve_match dnsbl greylist mailbox_grey mailbox_spamlist authres dkim dkim_keys dmarc spf srs virus list list_addr mailbox_list queue_dsn import mboxfmt dns imap spam_learn spam spam_token spam_bayes imap_mbox imap_sync imap_view imap_parse imap_fetch imap_search imap_compress imap_quota imap_replace imap_catenate imapurl objid message_preview imap_sort thread imap_notify message message_text conn tls mailbox mailbox_acct mailbox_spam mailbox_mbox mailbox_msg mailbox_fts fts mailbox_queue mailbox_journal sasl spool util log mailbox_place imap_context mailbox_sieve */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../conn.h"
#include "../fetch.h"
#include "../log.h"
#include "../mailbox.h"
#include "../migrate.h"
#include "../sasl.h"
#include "../spool.h"
#include "../util.h"

static struct store *st;
static uint32_t user;

static void setup_once(void)
{
	static char dir[] = "/dev/shm/brev-fuzz-fetch.XXXXXX";
	char err[256];
	struct cred cred;
	struct account a;
	if (st)
		return;
	log_set_level(L_ERROR);
	signal(SIGPIPE, SIG_IGN);
	spool_set_dir("/dev/shm");
	if (!mkdtemp(dir) || cred_make(&cred, "pw") != 0 ||
	    store_open(&st, dir, 256 << 20, err, sizeof err) != 0 ||
	    store_user_add(st, "alice@example.test", &cred) != ST_OK ||
	    store_user_get(st, "alice@example.test", &a) != ST_OK)
		abort();
	user = a.id;
	fetch_set_dir(dir);
}

struct feed {
	int fd;
	const uint8_t *data;
	size_t len;
};

/* The server: send the input, then read (and drop) what the client says
 * until it closes. */
static void *serve(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;
	char buf[4096];
	while (off < f->len) {
		ssize_t n = send(f->fd, f->data + off, f->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (recv(f->fd, buf, sizeof buf, MSG_DONTWAIT) == 0)
			break; /* the client gave up */
		usleep(100);
	}
	shutdown(f->fd, SHUT_WR);
	while (recv(f->fd, buf, sizeof buf, 0) > 0)
		;
	return NULL;
}

static void add_exists(void *arg, const struct mbox_info *m)
{
	*(uint32_t *)arg += m->exists;
}

static uint32_t count(void)
{
	uint32_t total = 0;
	if (store_mbox_list(st, user, add_exists, &total) != ST_OK)
		abort();
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	pthread_t th;
	setup_once();
	if (size < 1 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	struct fetch_src src = {.id = 1, .pop3 = data[0] & 1, .implicit = 0, .port = 1,
				.all_folders = (data[0] >> 1) & 1, .delete = (data[0] >> 2) & 1,
				.insecure = 1, .plain = 1};
	str_copy(src.account, "alice@example.test", sizeof src.account);
	str_copy(src.user, "old", sizeof src.user);
	str_copy(src.host, "old.test", sizeof src.host);
	str_copy(src.password, "pw", sizeof src.password);
	struct feed f = {sv[1], data + 1, size - 1};
	pthread_create(&th, NULL, serve, &f);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 1, "");
	conn_set_timeout(c, 2000);
	struct fetch_state fs = {0};
	struct fetch_stats out = {0};
	struct import_sink *sink = import_sink_new(st, user, 65536);
	uint32_t before = count();
	int rc = src.pop3 ? fetch_pop3_session(c, &src, sink, NULL, &fs, &out)
			  : fetch_imap_session(c, &src, sink, NULL, &fs, &out);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1 && !out.err[0])
		abort();
	import_sink_free(&sink);
	conn_free(&c);
	pthread_join(th, NULL);
	close(sv[1]);
	for (size_t i = 0; i < fs.nuidl; i++)
		free(fs.uidl[i]);
	free(fs.uidl);
	free(fs.f);
	if (count() < before)
		abort();
	return 0;
}
