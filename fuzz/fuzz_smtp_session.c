/* fuzz_smtp_session.c — whole SMTP sessions: the input is what a client
 * sends on the MX port (first byte odd: the submission port, from
 * loopback), written into one end of a socketpair while smtp_serve() runs
 * on the other against a real store in a temporary directory. The first
 * bytes of the input are consumed as an EHLO-less client would send them;
 * the harness checks that the session ends (EOF after the input) and
 * that the sanitizers stay quiet. Messages are small (limits.message_size
 * 4096) so the store stays small over millions of runs.
 *
 * The oracle of issue 24, never an open relay (DESIGN 7): after an inbound
 * MX session, every recipient in the outbound queue must be far@remote.test,
 * the one remote address an alias (list@example.test) forwards to; the queue
 * is emptied after every run. */
/* deps: smtp dnsbl greylist mailbox_grey smtp_addr smtp_msg sieve_deliver sieve sieve_parse sieve_match message message_text conn tls mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal sasl config spool util log authres dkim dkim_keys spf dmarc dns queue_dsn srs mailbox_fts fts spam spam_token spam_bayes mailbox_spam virus mailbox_place list list_addr mailbox_list mailbox_spamlist spam_verdict */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../config.h"
#include "../conn.h"
#include "../log.h"
#include "../mailbox.h"
#include "../sasl.h"
#include "../server.h"
#include "../util.h"

static struct store *st;
static struct config cfg;
static struct server srv;

static void setup(void)
{
	static char dir[] = "/tmp/brev-fuzz-smtp.XXXXXX";
	char err[256];
	struct cred cr;
	if (st)
		return;
	log_set_level(L_ERROR);
	if (!mkdtemp(dir) || store_open(&st, dir, 256 << 20, err, sizeof err) != 0)
		abort();
	cred_make(&cr, "pw");
	store_user_add(st, "alice@example.test", &cr);
	const char *t[] = {"alice@example.test", "far@remote.test"};
	store_alias_add(st, "list@example.test", t, 2);
	cfg.domains = "example.test";
	cfg.message_size = 4096;
	srv.cfg = &cfg;
	srv.store = st;
	srv.hostname = "mx.example.test";
	auth_throttle_test_config(0, 0);
}

struct run {
	struct conn *c;
	int kind;
};

static void *serve(void *arg)
{
	struct run *r = arg;
	smtp_serve(&srv, r->c, r->kind);
	conn_free(&r->c);
	return NULL;
}

#define MAX_IDS 64
struct seen {
	uint64_t ids[MAX_IDS];
	size_t n;
	int mx;
};

static int check_entry(void *arg, const struct queue_entry *e)
{
	struct seen *v = arg;
	for (size_t i = 0; v->mx && i < e->nrcpts; i++)
		if (strcmp(e->rcpts[i], "far@remote.test") != 0)
			abort(); /* the MX queued mail for a remote address: a relay */
	if (v->n < MAX_IDS)
		v->ids[v->n++] = e->id;
	return 0;
}

/* Check the queue after a session, then empty it. */
static void queue_check(int mx)
{
	struct seen v;
	do {
		v.n = 0;
		v.mx = mx;
		if (store_queue_list(st, check_entry, &v) != ST_OK)
			abort();
		for (size_t i = 0; i < v.n; i++)
			store_queue_del(st, v.ids[i]);
	} while (v.n == MAX_IDS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	pthread_t th;
	setup();
	if (size == 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	struct run r = {.kind = (data[0] & 1) ? LK_SUBMISSION : LK_SMTP};
	r.c = conn_new(sv[1], (data[0] & 1) ? "127.0.0.1" : "192.0.2.1", 4000, "127.0.0.1");
	conn_set_timeout(r.c, 2000);
	if (pthread_create(&th, NULL, serve, &r) != 0)
		abort();
	/* write the input and read the replies at the same time */
	size_t off = 1;
	char buf[65536];
	int wdone = 0;
	for (;;) {
		if (!wdone && off == size) {
			shutdown(sv[0], SHUT_WR);
			wdone = 1;
		}
		struct pollfd p = {.fd = sv[0], .events = POLLIN | (wdone ? 0 : POLLOUT)};
		if (poll(&p, 1, 5000) <= 0)
			break;
		if (p.revents & POLLIN) {
			ssize_t n = read(sv[0], buf, sizeof buf);
			if (n <= 0)
				break;
		}
		if (!wdone && (p.revents & POLLOUT)) {
			ssize_t n = write(sv[0], data + off, size - off);
			if (n <= 0)
				wdone = 1;
			else
				off += (size_t)n;
		}
	}
	close(sv[0]);
	pthread_join(th, NULL);
	queue_check(r.kind == LK_SMTP);
	return 0;
}
