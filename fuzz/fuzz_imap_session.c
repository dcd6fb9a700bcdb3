/*
 * fuzz_imap_session.c — whole IMAP sessions after login: the input is what
 * a logged-in client sends (SELECT, FETCH, STORE, SEARCH, COPY, MOVE,
 * EXPUNGE, APPEND with literals, IDLE, COMPRESS, ...), written into one end
 * of a socketpair while imap_serve() runs on the other, against a real
 * store made fresh for every run in /dev/shm (tmpfs: its syncs cost
 * nothing), a copy of one built at start-up: alice's six standard
 * mailboxes plus Work and Work/Sub, four messages in INBOX (plain,
 * multipart with quoted-printable and base64 parts, an attached
 * message/rfc822, UTF-8 headers; flags and a keyword) and two in Work.
 *
 * The harness sends "L LOGIN ..." first; the input follows. When the
 * input holds a line ending in "COMPRESS DEFLATE\r\n", everything after it
 * is deflated by the harness, as a client compresses from its next
 * command on (RFC 4978), so the session's commands go on through brev's
 * inflate layer. A line "~other" is not sent: there the harness waits
 * until the session has answered, then acts as another client of alice's
 * (a new message, a flag, an expunge in INBOX), so the session has
 * updates to announce (at most OTHER_MAX times; the wait for quiet is
 * 20 ms, so a loaded machine may act mid-command, a race a real server
 * sees too). After the input the socket is shut for writing: every
 * session must end (EOF), a hang is libFuzzer's -timeout.
 * FUZZ_IMAP_TRACE=1 prints the replies, to check a seed.
 *
 * The oracles (fuzz/oracles.md), beyond the sanitizers:
 *  - the store stays consistent whatever the client did: for every
 *    mailbox, the messages listed equal its EXISTS, unseen count and size,
 *    UIDs ascend below UIDNEXT, no MODSEQ above HIGHESTMODSEQ; the
 *    account's used bytes and message count equal the sums over its
 *    mailboxes (quota accounting through COPY/MOVE/EXPUNGE/APPEND/DELETE);
 *  - nothing after BYE (issue 18 bug 8): in the plain (uncompressed)
 *    reply stream, a "* BYE" is followed by at most one tagged line and
 *    then the end of the stream (literals in replies are skipped whole).
 */
/* deps: config imap spam_learn spam spam_token spam_bayes imap_mbox imap_sync imap_context imap_view imap_parse imap_fetch imap_search imap_compress imap_quota imap_replace imap_catenate imapurl objid message_preview imap_sort thread imap_notify message message_text conn tls mailbox mailbox_acct mailbox_spam mailbox_mbox mailbox_msg mailbox_fts fts mailbox_queue mailbox_journal sasl spool util log mailbox_place mailbox_sieve mailbox_grey mailbox_spamlist */
#include <crypt.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../config.h"
#include "../conn.h"
#include "../log.h"
#include "../mailbox.h"
#include "../sasl.h"
#include "../server.h"
#include "../spool.h"
#include "../util.h"

static struct config cfg;
static struct server srv;
static struct cred cred;
static int trace; /* FUZZ_IMAP_TRACE=1: the replies to stderr, to check a seed */

static const char LOGIN[] = "L LOGIN alice@example.test pw\r\n";

static const char *const INBOX_MSGS[] = {
    "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: plain one\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <p1@example.test>\r\n\r\n"
    "Hello Alice,\r\nthe first message.\r\n",
    "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>\r\nTo: alice@example.test, "
    "carol@example.test\r\nCc: dave@example.test\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\n"
    "Date: Tue, 8 Dec 2026 11:00:00 +0100\r\nMessage-ID: <m2@example.test>\r\n"
    "In-Reply-To: <p1@example.test>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe  \r\nsoft=\r\nbreak\r\n"
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "PGI+R3LDvMOfZTwvYj4K\r\n--b1--\r\n",
    "From: carol@example.test\r\nTo: alice@example.test\r\nSubject: fwd\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
    "--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    "--x\r\nContent-Type: message/rfc822\r\n\r\n"
    "From: eve@example.test\r\nSubject: inner\r\n\r\ninner body\r\n"
    "--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "AAECAwQFBgcICQ==\r\n--x--\r\n",
    "From: \"M\xc3\xbcller\" <mueller@example.test>\r\nTo: alice@example.test\r\n"
    "Subject: caf\xc3\xa9 8-bit\r\nDate: Wed, 9 Dec 2026 12:00:00 -0500\r\n\r\n"
    "d\xc3\xa9j\xc3\xa0 vu\r\n",
};
static const uint32_t INBOX_FLAGS[] = {FL_SEEN, 0, FL_FLAGGED | FL_DELETED, FL_ANSWERED};

static void setup_once(void)
{
	static int done;
	struct crypt_data cd;
	if (done)
		return;
	done = 1;
	log_set_level(L_ERROR);
	signal(SIGPIPE, SIG_IGN);
	spool_set_dir("/dev/shm");
	/* yescrypt, as cred_make makes it, costs tens of ms per LOGIN; the
	 * session does not care which crypt(3) method the stored hash uses. */
	memset(&cd, 0, sizeof cd);
	const char *h = crypt_r("pw", "$5$rounds=1000$fuzzsalt$", &cd);
	if (cred_make(&cred, "pw") != 0 || !h || h[0] == '*' || strlen(h) >= sizeof cred.crypt)
		abort();
	str_copy(cred.crypt, h, sizeof cred.crypt);
	cfg.domains = "example.test";
	cfg.message_size = 8192;
	srv.cfg = &cfg;
	srv.hostname = "imap.example.test";
	auth_throttle_test_config(0, 0);
	trace = getenv("FUZZ_IMAP_TRACE") != NULL;
}

static void put(struct store *st, uint32_t user, const char *mbox, const char *text, uint32_t flags,
		const char *kw)
{
	struct spool *sp = spool_new(0);
	spool_write(sp, text, strlen(text));
	const char *kws[1] = {kw};
	struct msg_in m = {.body = sp,
			   .flags = flags,
			   .keywords = kw ? kws : NULL,
			   .nkeywords = kw ? 1 : 0,
			   .internaldate = 1796644800};
	uint32_t uv, uid;
	if (store_append(st, user, mbox, &m, &uv, &uid) != ST_OK)
		abort();
	spool_free(&sp);
}

/* The baseline store is built once; every run opens a copy of its
 * data.mdb (same UIDVALIDITY, same UIDs: a crash replays exactly). */
static uint8_t *base_mdb;
static size_t base_len;

static void store_build(const char *dir)
{
	char err[256];
	struct store *st;
	struct account a;
	if (store_open(&st, dir, 64 << 20, err, sizeof err) != 0 ||
	    store_user_add(st, "alice@example.test", &cred) != ST_OK ||
	    store_user_get(st, "alice@example.test", &a) != ST_OK ||
	    store_mbox_create(st, a.id, "Work", 0) != ST_OK ||
	    store_mbox_create(st, a.id, "Work/Sub", 0) != ST_OK)
		abort();
	for (size_t i = 0; i < sizeof INBOX_MSGS / sizeof *INBOX_MSGS; i++)
		put(st, a.id, "INBOX", INBOX_MSGS[i], INBOX_FLAGS[i], i == 1 ? "$Label1" : NULL);
	put(st, a.id, "Work", INBOX_MSGS[0], 0, "project");
	put(st, a.id, "Work", INBOX_MSGS[2], FL_SEEN, NULL);
	store_close(&st);
}

static struct store *store_fresh(char *dir, uint32_t *user)
{
	char err[256], path[128];
	struct store *st;
	struct account a;
	strcpy(dir, "/dev/shm/brev-fuzz-imap.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	if (!base_mdb) {
		size_t cap = 1 << 16;
		ssize_t n;
		store_build(dir);
		snprintf(path, sizeof path, "%s/store/data.mdb", dir);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			abort();
		base_mdb = xmalloc(cap);
		while ((n = read(fd, base_mdb + base_len, cap - base_len)) > 0)
			if ((base_len += (size_t)n) == cap)
				base_mdb = xrealloc(base_mdb, cap *= 2);
		close(fd);
	} else {
		snprintf(path, sizeof path, "%s/store", dir);
		if (mkdir(path, 0700) != 0)
			abort();
		snprintf(path, sizeof path, "%s/store/data.mdb", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, base_mdb, base_len) != (ssize_t)base_len)
			abort();
		close(fd);
	}
	if (store_open(&st, dir, 64 << 20, err, sizeof err) != 0 ||
	    store_user_get(st, "alice@example.test", &a) != ST_OK)
		abort();
	*user = a.id;
	return st;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- oracle 1: the store's own bookkeeping ---- */

struct mcount {
	uint32_t n, unseen, last_uid, uidnext;
	uint64_t size, maxmodseq;
	int bad;
};

static int count_msg(void *arg, const struct msg_info *m)
{
	struct mcount *c = arg;
	if (m->uid <= c->last_uid || m->uid >= c->uidnext)
		c->bad = 1;
	c->last_uid = m->uid;
	c->n++;
	c->unseen += !(m->flags & FL_SEEN);
	c->size += m->size;
	if (m->modseq > c->maxmodseq)
		c->maxmodseq = m->modseq;
	return 0;
}

struct boxes {
	struct mbox_info b[64];
	size_t n;
};

static void collect(void *arg, const struct mbox_info *m)
{
	struct boxes *bx = arg;
	if (bx->n < 64)
		bx->b[bx->n++] = *m;
}

static void store_check(struct store *st, uint32_t user)
{
	struct boxes bx = {.n = 0};
	struct account a;
	uint64_t used = 0;
	uint32_t msgs = 0;
	if (store_mbox_list(st, user, collect, &bx) != ST_OK || bx.n == 64 ||
	    store_user_get(st, "alice@example.test", &a) != ST_OK)
		abort();
	for (size_t i = 0; i < bx.n; i++) {
		const struct mbox_info *m = &bx.b[i];
		struct mcount c = {.uidnext = m->uidnext};
		if (store_msg_list(st, user, m->name, 1, count_msg, &c) != ST_OK)
			abort();
		if (c.bad || c.n != m->exists || c.unseen != m->unseen || c.size != m->size ||
		    c.maxmodseq > m->highestmodseq) {
			fprintf(stderr,
				"mailbox %s: listed %u msgs, %u unseen, %llu bytes, modseq %llu; "
				"says %u, %u, %llu, highest %llu (uid order bad: %d)\n",
				m->name, c.n, c.unseen, (unsigned long long)c.size,
				(unsigned long long)c.maxmodseq, m->exists, m->unseen,
				(unsigned long long)m->size, (unsigned long long)m->highestmodseq,
				c.bad);
			abort();
		}
		used += c.size;
		msgs += c.n;
		if (trace)
			fprintf(stderr, "[store] %s: %u messages\n", m->name, c.n);
	}
	if (used != a.used || msgs != a.messages) {
		fprintf(stderr,
			"account: mailboxes hold %u msgs, %llu bytes; account says %u, %llu\n",
			msgs, (unsigned long long)used, a.messages, (unsigned long long)a.used);
		abort();
	}
}

/* ---- oracle 2: nothing after BYE, on the plain reply stream ---- */

struct replies {
	int bye;	 /* lines seen since "* BYE": -1 none yet */
	uint64_t skip;	 /* literal bytes still to skip */
	char line[1024]; /* the start of the current line */
	size_t len;	 /* bytes of the current line so far */
	int plain;	 /* 0 once COMPRESS was asked for: the rest is deflated */
};

static void reply_line(struct replies *r)
{
	size_t n = r->len < sizeof r->line ? r->len : sizeof r->line;
	if (r->bye >= 0) {
		/* only the tagged answer to LOGOUT may follow BYE */
		if (r->bye >= 1 || n < 2 || r->line[0] == '*' || r->line[0] == '+') {
			fprintf(stderr, "reply after BYE: %.*s\n", (int)n, r->line);
			abort();
		}
		r->bye++;
	} else if (n >= 5 && memcmp(r->line, "* BYE", 5) == 0) {
		r->bye = 0;
	}
	/* a literal announced at the end of the line: {n}\r\n or ~{n}\r\n */
	if (n >= 5 && n == r->len && r->line[n - 3] == '}' && r->line[n - 2] == '\r') {
		size_t i = n - 4;
		while (i > 0 && r->line[i] >= '0' && r->line[i] <= '9')
			i--;
		if (r->line[i] == '{' && i + 1 < n - 3)
			r->skip = strtoull(r->line + i + 1, NULL, 10);
	}
	r->len = 0;
}

static void replies_feed(struct replies *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n && r->plain; i++) {
		if (r->skip) {
			r->skip--;
			continue;
		}
		if (r->len < sizeof r->line)
			r->line[r->len] = p[i];
		r->len++;
		if (p[i] == '\n')
			reply_line(r);
	}
}

/* ---- the session ---- */

struct run {
	struct conn *c;
};

static void *serve(void *arg)
{
	struct run *r = arg;
	imap_serve(&srv, r->c, LK_IMAP);
	conn_free(&r->c);
	return NULL;
}

/* "~other\r\n" on a line of its own (before any COMPRESS) is not sent: the
 * harness pauses there, lets the session answer what it has, and acts as
 * another client would (other_client). At most OTHER_MAX of them count. */
#define OTHER_MAX 4
static const char OTHER[] = "~other\r\n";

struct client {
	uint8_t *p;
	size_t len, plain_end;
	size_t pause[OTHER_MAX]; /* offsets in p where the harness acts */
	size_t npause;
};

/* The client's bytes: LOGIN, the input up to and including the first line
 * that ends in "COMPRESS DEFLATE" (markers taken out), then the rest
 * deflated (raw, RFC 1951, flushed to a byte boundary at the end). */
static void client_bytes(const uint8_t *data, size_t size, struct client *cl)
{
	static const char key[] = "COMPRESS DEFLATE\r\n";
	const uint8_t *cut = NULL;
	for (const uint8_t *p = data; size >= sizeof key - 1 && p <= data + size - (sizeof key - 1);
	     p++) {
		p = memchr(p, 'C', (size_t)(data + size - p));
		if (!p || (size_t)(data + size - p) < sizeof key - 1)
			break;
		if (memcmp(p, key, sizeof key - 1) == 0) {
			cut = p + sizeof key - 1;
			break;
		}
	}
	size_t head = cut ? (size_t)(cut - data) : size, tail = size - head;
	size_t cap = sizeof LOGIN - 1 + head + (cut ? compressBound(tail) + 64 : 0);
	cl->p = xmalloc(cap);
	cl->npause = 0;
	memcpy(cl->p, LOGIN, sizeof LOGIN - 1);
	cl->len = sizeof LOGIN - 1;
	for (size_t i = 0; i < head;) {
		int bol = i == 0 || data[i - 1] == '\n';
		if (bol && head - i >= sizeof OTHER - 1 &&
		    memcmp(data + i, OTHER, sizeof OTHER - 1) == 0) {
			if (cl->npause < OTHER_MAX)
				cl->pause[cl->npause++] = cl->len;
			i += sizeof OTHER - 1;
			continue;
		}
		cl->p[cl->len++] = data[i++];
	}
	cl->plain_end = cl->len;
	if (cut) {
		z_stream z = {0};
		if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		z.next_in = (Bytef *)cut;
		z.avail_in = (uInt)tail;
		z.next_out = cl->p + cl->len;
		z.avail_out = (uInt)(cap - cl->len);
		if (deflate(&z, Z_SYNC_FLUSH) != Z_OK)
			abort();
		cl->len = cap - z.avail_out;
		deflateEnd(&z);
	}
}

/* Another client of alice's, between two commands of the session: a new
 * message in INBOX, \Flagged on the first message and the second one
 * expunged, so that the session has EXISTS, FETCH and EXPUNGE (or
 * VANISHED) to tell, in IDLE or at its next command, LOGOUT included. */
static void other_client(struct store *st, uint32_t user)
{
	struct uid_run *runs = NULL;
	size_t nruns = 0;
	uint32_t uids[2], n = 0;
	put(st, user, "INBOX", INBOX_MSGS[0], 0, NULL);
	if (store_msg_runs(st, user, "INBOX", &runs, &nruns, NULL) == ST_OK) {
		for (size_t i = 0; i < nruns && n < 2; i++)
			for (uint32_t k = 0; k < runs[i].count && n < 2; k++)
				uids[n++] = runs[i].first + k;
		free(runs);
	}
	if (n >= 1)
		store_msg_flags(st, user, "INBOX", uids, 1, FLAGS_ADD, FL_FLAGGED, NULL, 0);
	if (n >= 2)
		store_msg_expunge(st, user, "INBOX", uids + 1, 1);
	store_notify(st, user);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[64];
	uint32_t user;
	int sv[2];
	pthread_t th;
	struct client cl;
	setup_once();
	if (size > 65536)
		return 0; /* sessions, not bulk data: APPEND is bounded by message_size */
	struct store *st = store_fresh(dir, &user);
	store_check(st, user); /* the oracle holds before the session */
	srv.store = st;
	client_bytes(data, size, &cl);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	struct run r;
	r.c = conn_new(sv[1], "127.0.0.1", 40000, "127.0.0.1");
	conn_set_timeout(r.c, 2000);
	if (pthread_create(&th, NULL, serve, &r) != 0)
		abort();
	/* write the input and read the replies at the same time */
	struct replies rp = {.bye = -1, .plain = 1};
	size_t off = 0, next_pause = 0;
	char buf[65536];
	int wdone = 0;
	for (;;) {
		if (!wdone && off == cl.len) {
			shutdown(sv[0], SHUT_WR);
			wdone = 1;
		}
		int quiet = next_pause < cl.npause && off == cl.pause[next_pause];
		struct pollfd p = {.fd = sv[0], .events = POLLIN | (wdone || quiet ? 0 : POLLOUT)};
		int pr = poll(&p, 1, quiet ? 20 : 5000);
		if (pr == 0 && quiet) {
			/* the session has answered what it was sent */
			other_client(st, user);
			next_pause++;
			continue;
		}
		if (pr <= 0)
			break;
		if (p.revents & POLLIN) {
			ssize_t n = read(sv[0], buf, sizeof buf);
			if (n <= 0)
				break;
			replies_feed(&rp, buf, (size_t)n);
			if (trace && rp.plain)
				fwrite(buf, 1, (size_t)n, stderr);
		}
		if (!wdone && !quiet && (p.revents & POLLOUT)) {
			/* up to the next pause; the deflated part only after the
			 * plain part, so that the replies before it are checked */
			size_t end = off < cl.plain_end ? cl.plain_end : cl.len;
			if (next_pause < cl.npause && cl.pause[next_pause] < end)
				end = cl.pause[next_pause];
			ssize_t n = send(sv[0], cl.p + off, end - off, MSG_NOSIGNAL);
			if (n <= 0)
				wdone = 1;
			else
				off += (size_t)n;
			if (off == cl.plain_end && cl.plain_end < cl.len)
				rp.plain = 0;
		}
	}
	close(sv[0]);
	pthread_join(th, NULL);
	free(cl.p);
	store_check(st, user);
	store_close(&st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
