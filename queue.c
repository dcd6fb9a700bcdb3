/*
 * queue.c — outbound delivery: a scheduler thread that takes due entries
 * from the store's queue under a lease, a small pool of delivery threads,
 * and the SMTP client session (RFC 5321 client side with STARTTLS RFC 3207,
 * PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531,
 * AUTH RFC 4954 towards a smarthost).
 *
 * One entry is one message with its remaining recipients. A delivery
 * thread groups them by domain (all of them, with delivery.relay), and
 * sends each group in one transaction to the first MX host that answers:
 * hosts in preference order (dns_mx), each host's addresses IPv6 first,
 * port delivery.port. A recipient ends an attempt delivered (removed from
 * the entry at once, in the commit that follows the server's 250), failed
 * (5xx, no such domain, null MX: bounced, then removed) or deferred (4xx,
 * no host reachable: the entry is due again after the next delivery.retry
 * interval; after delivery.max_age it bounces).
 *
 * Exactly once: the only window in which a message can go out twice is
 * between the receiver's 250 after the data and our commit of that result
 * (an fsync, milliseconds): a crash there means the next attempt sends it
 * again, a duplicate rather than a loss (RFC 5321 6.1 asks for exactly
 * this trade). A connection lost after the final dot but before the reply
 * is the same case, and is retried too.
 *
 * What it leaves to others: DNS (dns.c), TLS (conn.c/tls.c), the bytes and
 * the queue records (mailbox.c), DSN text (queue_dsn.c), reply parsing and
 * dot-stuffing (queue_smtp.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "mailbox.h"
#include "mta_sts.h"
#include "queue.h"
#include "list.h"
#include "list_addr.h"
#include "sasl.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define QUEUE_THREADS 4          /* delivery threads */
#define QUEUE_INFLIGHT 16        /* entries taken and not yet finished */
#define QUEUE_HOST_CONNS 3       /* parallel connections to one host */
#define QUEUE_LEASE (2 * 3600)   /* longer than any one attempt can take */
#define QUEUE_HDR_MAX (64 * 1024) /* header returned in a DSN */

/* RFC 5321 4.5.3.2 time-outs, in ms. Connect is ours (not in the RFC). */
#define TO_CONNECT 30000
#define TO_GREETING 300000
#define TO_MAIL 300000
#define TO_RCPT 300000
#define TO_DATA_INIT 120000
#define TO_DATA_BLOCK 180000
#define TO_DATA_END 600000
#define TO_QUIT 10000

/* ---- per-recipient results of one attempt ---- */

enum { RS_PENDING, RS_OK, RS_TEMP, RS_PERM };

struct rres {
	int state;
	char status[16];               /* enhanced code for a DSN */
	char why[400];                 /* plain words */
	char diag[SMTP_REPLY_TEXT_MAX + 8]; /* the remote reply, or "" */
	char mx[DNS_NAME_MAX + 1];     /* the host that answered, or "" */
};

/* One attempt at one entry. */
struct attempt {
	struct queue_entry e;          /* rcpts malloc'ed */
	struct rres *res;
	int slot;                      /* worker index (for shutdown) */
	int need_utf8, has8bit;
	/* the group being sent */
	size_t *idx, n;
	const char *domain;            /* its recipient domain (not with the relay) */
	const struct sts_policy *sts;  /* its MTA-STS policy, NULL with the relay */
};

/* ---- shared state ---- */

struct job {
	struct queue_entry e;
	struct job *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wcv;            /* workers: a job arrived / stop */
	pthread_cond_t hcv;            /* a host slot was freed */
	int running;
	atomic_int stop;               /* read without mu by the workers */
	struct server *srv;
	struct store *st;
	const struct config *cfg;
	struct tls_client *tlsc;       /* MX hosts: opportunistic */
	struct tls_client *tlsr;       /* delivery.relay: relay_ca / relay_fingerprint */
	char tlsr_err[300];            /* why tlsr could not be made */
	struct queue_src src;          /* source addresses (listen.smtp) */
	pthread_t sched, workers[QUEUE_THREADS];
	struct job *head, *tail;
	uint64_t inflight[QUEUE_INFLIGHT];
	size_t ninflight;
	struct {
		char name[DNS_NAME_MAX + 1];
		int n;
	} hosts[QUEUE_THREADS];
	int fds[QUEUE_THREADS];
	int wakepipe[2];
	int watchfd;
	int netfd;                     /* queue_net.c, or -1 */
} q = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .wcv = PTHREAD_COND_INITIALIZER,
       .hcv = PTHREAD_COND_INITIALIZER,
       .wakepipe = {-1, -1},
       .watchfd = -1,
       .netfd = -1};

static void wake_scheduler(void)
{
	if (q.wakepipe[1] >= 0)
		(void)!write(q.wakepipe[1], "x", 1);
}

/* ---- per-host connection limit ---- */

static void host_acquire(const char *name)
{
	pthread_mutex_lock(&q.mu);
	for (;;) {
		int used = 0, free_i = -1;
		for (int i = 0; i < QUEUE_THREADS; i++) {
			if (q.hosts[i].n && !strcmp(q.hosts[i].name, name))
				used += q.hosts[i].n;
			else if (!q.hosts[i].n && free_i < 0)
				free_i = i;
		}
		if (used < QUEUE_HOST_CONNS || q.stop) {
			/* One slot per thread: a thread holds at most one host. */
			for (int i = 0; i < QUEUE_THREADS; i++)
				if (!q.hosts[i].n) {
					str_copy(q.hosts[i].name, name, sizeof q.hosts[i].name);
					q.hosts[i].n = 1;
					break;
				}
			break;
		}
		pthread_cond_wait(&q.hcv, &q.mu);
	}
	pthread_mutex_unlock(&q.mu);
}

static void host_release(const char *name)
{
	pthread_mutex_lock(&q.mu);
	for (int i = 0; i < QUEUE_THREADS; i++)
		if (q.hosts[i].n && !strcmp(q.hosts[i].name, name)) {
			q.hosts[i].n = 0;
			break;
		}
	pthread_cond_broadcast(&q.hcv);
	pthread_mutex_unlock(&q.mu);
}

static void fd_track(int slot, int fd)
{
	pthread_mutex_lock(&q.mu);
	q.fds[slot] = fd;
	if (fd >= 0 && q.stop)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&q.mu);
}

/* ---- small helpers ---- */

static const char *domain_part(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static void set_res(struct rres *r, int state, const char *status, const char *why,
		    const char *diag, const char *mx)
{
	r->state = state;
	str_copy(r->status, status, sizeof r->status);
	str_copy(r->why, why, sizeof r->why);
	str_copy(r->diag, diag ? diag : "", sizeof r->diag);
	str_copy(r->mx, mx ? mx : "", sizeof r->mx);
}

/* Pending recipients of the group keep a reason, in case no host works. */
static void note_pending(struct attempt *a, const char *why, const char *diag, const char *mx)
{
	for (size_t i = 0; i < a->n; i++) {
		struct rres *r = &a->res[a->idx[i]];
		if (r->state == RS_PENDING)
			set_res(r, RS_PENDING, "4.4.1", why, diag, mx);
	}
}

static size_t npending(const struct attempt *a)
{
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++)
		k += a->res[a->idx[i]].state == RS_PENDING;
	return k;
}

/* Status for a reply: its enhanced code, or one made from the class. */
static void reply_status(const struct smtp_reply *r, char *out, size_t cap)
{
	if (r->enh[0])
		str_copy(out, r->enh, cap);
	else
		snprintf(out, cap, "%d.0.0", r->code >= 500 ? 5 : 4);
}

/* ---- the message: what it needs from the receiver ---- */

static int scan_message(struct attempt *a)
{
	char buf[16384];
	uint64_t off = 0;
	int in_hdr = 1, bol = 1, crlf_pending = 0;
	a->need_utf8 = !is_ascii(a->e.from);
	for (size_t i = 0; i < a->e.nrcpts; i++)
		a->need_utf8 |= !is_ascii(a->e.rcpts[i]);
	a->has8bit = 0;
	while (off < a->e.size) {
		long got = store_msg_read(q.st, a->e.blob, off, buf, sizeof buf);
		if (got <= 0)
			return -1;
		for (long i = 0; i < got; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c >= 0x80) {
				a->has8bit = 1;
				/* RFC 6532: UTF-8 in the header needs SMTPUTF8. */
				if (in_hdr)
					a->need_utf8 = 1;
			}
			if (in_hdr) {
				if (c == '\n') {
					if (bol)
						in_hdr = 0;
					bol = 1;
					crlf_pending = 0;
				} else if (c == '\r' && bol) {
					crlf_pending = 1;
				} else if (!(crlf_pending && c == '\n')) {
					bol = 0;
					crlf_pending = 0;
				}
			}
		}
		off += (uint64_t)got;
	}
	return 0;
}

/* ---- SMTP client I/O ---- */

struct client {
	struct conn *c;
	const char *host;              /* MX name, for SNI and logs */
	struct tls_client *tlsc;       /* q.tlsc, or q.tlsr towards the relay */
	char addr[INET6_ADDRSTRLEN];
	struct smtp_reply ehlo;
	int tls;
};

/* Read one whole reply with the time-out for this stage. 0 or -1. */
static int read_reply(struct client *cl, struct smtp_reply *r, int ms, int ehlo)
{
	smtp_reply_init(r);
	conn_set_timeout(cl->c, ms);
	if (conn_flush(cl->c) < 0)
		return -1;
	for (;;) {
		char *line;
		ssize_t n = conn_getline(cl->c, &line, SMTP_REPLY_LINE_MAX, NULL);
		int rc;
		if (n < 0)
			return -1;
		rc = smtp_reply_line(r, line, (size_t)n, ehlo);
		if (rc < 0) {
			smtp_reply_init(r);
			str_copy(r->text, "(malformed reply)", sizeof r->text);
			return -1;
		}
		if (rc == 1)
			return 0;
	}
}

/* Leave from the listen.smtp address (queue_src_pick, docs/delivery.md).
 * The port is chosen at connect time (IP_BIND_ADDRESS_NO_PORT), so many
 * connections from one address do not each hold an ephemeral port. */
static int bind_source(int fd, const struct sockaddr_storage *dst)
{
	struct sockaddr_storage src;
	unsigned len;
	if (!queue_src_for(&q.src, dst, &src, &len))
		return 0;
#ifdef IP_BIND_ADDRESS_NO_PORT
	{
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	}
#endif
	if (bind(fd, (const struct sockaddr *)&src, len) < 0) {
		char a[INET6_ADDRSTRLEN + 8];
		int e = errno;
		addr_format(&src, a, sizeof a);
		log_warn("queue: cannot send from %s (listen.smtp): %s", a, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

static int tcp_connect(const struct sockaddr_storage *sa, unsigned len, int slot, char *err,
		       size_t errlen)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd p;
	int e = 0;
	socklen_t el = sizeof e;
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	fd_track(slot, fd);
	if (bind_source(fd, sa) < 0) {
		e = errno;
		goto fail;
	}
	if (connect(fd, (const struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS) {
		e = errno;
		goto fail;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, TO_CONNECT) <= 0) {
		e = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
		goto fail;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	snprintf(err, errlen, "connect: %s", strerror(e ? e : EIO));
	fd_track(slot, -1);
	close(fd);
	return -1;
}

static void client_close(struct client *cl, int slot, int quit)
{
	if (!cl->c)
		return;
	if (quit && !conn_error(cl->c)) {
		struct smtp_reply r;
		conn_puts(cl->c, "QUIT\r\n");
		read_reply(cl, &r, TO_QUIT, 0);
	}
	fd_track(slot, -1);
	conn_free(&cl->c);
}

static const char *tls_desc(const struct client *cl, char *buf, size_t cap)
{
	if (!cl->c || !conn_is_tls(cl->c))
		return "no";
	snprintf(buf, cap, "%s/%s", conn_tls_version(cl->c),
		 conn_tls_verified(cl->c) ? "verified" : "unverified");
	return buf;
}

/* The one log line per recipient and attempt. */
static void log_attempt(const struct attempt *a, const struct client *cl, const char *rcpt,
			const char *reply, const char *result)
{
	char tls[64], qid[20], d[JOURNAL_DETAIL_MAX + 1];
	const char *id = a->e.tid;
	snprintf(qid, sizeof qid, "%016llx", (unsigned long long)a->e.id);
	if (!id[0])
		id = qid; /* queued before tracking ids */
	snprintf(d, sizeof d, "mx=%s addr=%s tls=%s reply=\"%s\"",
		 cl && cl->host ? cl->host : "-", cl && cl->addr[0] ? cl->addr : "-",
		 cl ? tls_desc(cl, tls, sizeof tls) : "no", reply);
	log_info("queue id=%s queue=%s rcpt=%s %s result=%s", id, qid, rcpt, d, result);
	snprintf(d, sizeof d, "to=<%s> mx=%s addr=%s tls=%s reply=\"%s\"", rcpt,
		 cl && cl->host ? cl->host : "-", cl && cl->addr[0] ? cl->addr : "-",
		 cl ? tls_desc(cl, tls, sizeof tls) : "no", reply);
	/* the attempt in the delivery journal: a small commit of its own */
	if (store_journal_add(q.st, id, result, d) != ST_OK)
		log_warn("queue id=%s: journal entry not written", id);
}

/* Greeting, EHLO (HELO when refused), STARTTLS when offered. Returns 0
 * with cl->ehlo set, -1 (connection unusable: reason in err/diag), or
 * -2 when the TLS handshake failed (the caller may retry in plaintext). */
static int client_hello(struct client *cl, int try_tls, int implicit_tls, char *err,
			size_t errlen, char *diag, size_t diaglen)
{
	struct smtp_reply r;
	const char *me = q.cfg->hostname;
	if (implicit_tls && conn_tls_connect(cl->c, cl->tlsc, cl->host) < 0) {
		snprintf(err, errlen, "TLS handshake with %s failed", cl->host);
		return -1;
	}
	if (read_reply(cl, &r, TO_GREETING, 0) < 0 || r.code != 220) {
		smtp_reply_format(&r, diag, diaglen);
		snprintf(err, errlen, "%s did not greet us", cl->host);
		return -1;
	}
	for (int round = 0; round < 2; round++) {
		conn_printf(cl->c, "EHLO %s\r\n", me);
		if (read_reply(cl, &cl->ehlo, TO_MAIL, 1) < 0)
			goto fail;
		if (cl->ehlo.code >= 500) {
			/* RFC 5321 3.2: an old server; HELO, no extensions. */
			conn_printf(cl->c, "HELO %s\r\n", me);
			if (read_reply(cl, &cl->ehlo, TO_MAIL, 0) < 0)
				goto fail;
			cl->ehlo.ext = 0;
		}
		if (cl->ehlo.code / 100 != 2)
			goto fail;
		if (round || conn_is_tls(cl->c) || !try_tls || !cl->tlsc ||
		    !(cl->ehlo.ext & SX_STARTTLS))
			return 0;
		conn_puts(cl->c, "STARTTLS\r\n");
		if (read_reply(cl, &r, TO_MAIL, 0) < 0)
			goto fail;
		if (r.code != 220)
			return 0; /* opportunistic: carry on in plaintext */
		if (conn_tls_connect(cl->c, cl->tlsc, cl->host) < 0) {
			snprintf(err, errlen, "TLS handshake with %s failed", cl->host);
			return -2;
		}
	}
	return 0;
fail:
	smtp_reply_format(&cl->ehlo, diag, diaglen);
	snprintf(err, errlen, "%s refused EHLO/HELO", cl->host);
	return -1;
}

/* ---- the smarthost: trust, then AUTH (RFC 4954) ---- */

/* What must hold before anything goes to the relay (docs/tls.md, "The
 * smarthost"). The password is sent only over TLS whose certificate
 * verified: a chain to delivery.relay_ca (or the system's CAs) issued for
 * the host named in delivery.relay, or a certificate pinned by
 * delivery.relay_fingerprint. A relay on loopback is exempt unless one of
 * those two keys asks for the check: the password never leaves the
 * machine (a local Postfix, an ssh or stunnel tunnel). Without a password
 * and without those keys the relay gets opportunistic TLS, like an MX.
 * 0, or -1 with the reason in err (the message is deferred). */
static int relay_check(struct client *cl, char *err, size_t errlen)
{
	const struct config *c = q.cfg;
	int user = c->delivery_relay_user[0] != 0;
	int asked = c->delivery_relay_ca[0] || c->delivery_relay_fingerprint[0];
	const char *what = user ? "the password" : "mail";
	if (!asked && (!user || conn_is_loopback(cl->c)))
		return 0;
	if (!conn_is_tls(cl->c)) {
		snprintf(err, errlen, "relay %s did not offer TLS (STARTTLS); not sending %s", cl->host,
			 what);
		return -1;
	}
	if (!conn_tls_verified(cl->c)) {
		snprintf(err, errlen, "relay %s: certificate not verified (%s); not sending %s",
			 cl->host, tls_verify_reason(conn_tls_verify_error(cl->c)), what);
		return -1;
	}
	return 0;
}

static int read_secret(char *out, size_t cap)
{
	char path[4096];
	size_t len;
	char *s;
	if (config_path(q.cfg, q.cfg->delivery_relay_password_file, path, sizeof path) < 0)
		return -1;
	s = file_read(path, 4096, &len);
	if (!s)
		return -1;
	s[strcspn(s, "\r\n")] = 0;
	str_copy(out, s, cap);
	memset(s, 0, len);
	free(s);
	return 0;
}

static int client_auth(struct client *cl, char *err, size_t errlen, char *diag, size_t dl)
{
	char pw[1024], raw[2048], b64[B64_ENCLEN(2048) + 1];
	struct smtp_reply r;
	const char *user = q.cfg->delivery_relay_user;
	size_t ul = strlen(user), pl;
	int ok = -1;
	if (!(cl->ehlo.auth & 3)) {
		snprintf(err, errlen, "relay %s offers neither AUTH PLAIN nor LOGIN", cl->host);
		return -1;
	}
	if (read_secret(pw, sizeof pw) < 0) {
		snprintf(err, errlen, "cannot read delivery.relay_password_file");
		return -1;
	}
	pl = strlen(pw);
	if (ul + pl + 2 > sizeof raw) {
		snprintf(err, errlen, "relay user or password too long");
		goto out;
	}
	if (cl->ehlo.auth & 1) {
		/* RFC 4616: authzid NUL authcid NUL password */
		raw[0] = 0;
		memcpy(raw + 1, user, ul);
		raw[ul + 1] = 0;
		memcpy(raw + ul + 2, pw, pl);
		b64_encode(raw, ul + pl + 2, b64);
		conn_printf(cl->c, "AUTH PLAIN %s\r\n", b64);
		if (read_reply(cl, &r, TO_MAIL, 0) < 0)
			goto bad;
	} else {
		conn_puts(cl->c, "AUTH LOGIN\r\n");
		if (read_reply(cl, &r, TO_MAIL, 0) < 0 || r.code != 334)
			goto bad;
		b64_encode(user, ul, b64);
		conn_printf(cl->c, "%s\r\n", b64);
		if (read_reply(cl, &r, TO_MAIL, 0) < 0 || r.code != 334)
			goto bad;
		b64_encode(pw, pl, b64);
		conn_printf(cl->c, "%s\r\n", b64);
		if (read_reply(cl, &r, TO_MAIL, 0) < 0)
			goto bad;
	}
	if (r.code == 235) {
		ok = 0;
		goto out;
	}
bad:
	smtp_reply_format(&r, diag, dl);
	snprintf(err, errlen, "relay %s refused our login", cl->host);
out:
	memset(pw, 0, sizeof pw);
	memset(raw, 0, sizeof raw);
	memset(b64, 0, sizeof b64);
	return ok;
}

/* ---- one transaction ---- */

static int send_body(struct client *cl, const struct attempt *a)
{
	char buf[16384];
	struct dot_state ds = {1, 0};
	uint64_t off = 0;
	conn_set_timeout(cl->c, TO_DATA_BLOCK);
	while (off < a->e.size) {
		long got = store_msg_read(q.st, a->e.blob, off, buf, sizeof buf);
		if (got <= 0)
			return -1;
		if (smtp_dot_write(cl->c, &ds, buf, (size_t)got) < 0)
			return -1;
		off += (uint64_t)got;
	}
	return smtp_dot_end(cl->c, &ds);
}

/* Record one recipient's answer from the server. */
static void rcpt_answer(struct attempt *a, struct client *cl, size_t i,
			const struct smtp_reply *r)
{
	char st[16], diag[SMTP_REPLY_TEXT_MAX + 8], why[400];
	struct rres *res = &a->res[a->idx[i]];
	const char *rcpt = a->e.rcpts[a->idx[i]];
	smtp_reply_format(r, diag, sizeof diag);
	reply_status(r, st, sizeof st);
	if (r->code >= 500) {
		snprintf(why, sizeof why, "the receiving server %s refused it", cl->host);
		set_res(res, RS_PERM, st, why, diag, cl->host);
		log_attempt(a, cl, rcpt, diag, "bounced");
	} else {
		snprintf(why, sizeof why, "the receiving server %s asked us to try again later",
			 cl->host);
		set_res(res, RS_TEMP, st, why, diag, cl->host);
		log_attempt(a, cl, rcpt, diag, "deferred");
	}
}

/* MAIL, RCPT..., DATA, the bytes. Results land in a->res. */
static void transaction(struct attempt *a, struct client *cl)
{
	struct smtp_reply r;
	size_t *acc = xmalloc(sizeof *acc * a->n), nacc = 0;
	int pipe = !!(cl->ehlo.ext & SX_PIPELINING), mail_ok;
	char diag[SMTP_REPLY_TEXT_MAX + 8], why[400];

	char verp[STORE_ADDR_MAX + 1];
	const char *from = a->e.from;
	/* A list post (QF_VERP): session() sends one recipient at a time, and
	 * its envelope sender names that member (list_addr.h). */
	if ((a->e.flags & QF_VERP) && a->n == 1 && a->e.from[0] &&
	    list_verp_bounces(a->e.from, a->e.rcpts[a->idx[0]], verp, sizeof verp) == 0)
		from = verp;
	conn_printf(cl->c, "MAIL FROM:<%s>", from);
	if (cl->ehlo.ext & SX_SIZE)
		conn_printf(cl->c, " SIZE=%llu", (unsigned long long)a->e.size);
	if (a->has8bit && (cl->ehlo.ext & SX_8BITMIME))
		conn_puts(cl->c, " BODY=8BITMIME");
	if (a->need_utf8)
		conn_puts(cl->c, " SMTPUTF8");
	conn_puts(cl->c, "\r\n");
	if (pipe) {
		/* RFC 2920 3.1: MAIL, every RCPT and DATA in one group. */
		for (size_t i = 0; i < a->n; i++)
			if (a->res[a->idx[i]].state == RS_PENDING)
				conn_printf(cl->c, "RCPT TO:<%s>\r\n", a->e.rcpts[a->idx[i]]);
		conn_puts(cl->c, "DATA\r\n");
	}
	if (read_reply(cl, &r, TO_MAIL, 0) < 0)
		goto lost;
	mail_ok = r.code / 100 == 2;
	if (!mail_ok) {
		smtp_reply_format(&r, diag, sizeof diag);
		snprintf(why, sizeof why, "the receiving server %s refused the sender", cl->host);
		for (size_t i = 0; i < a->n; i++)
			if (a->res[a->idx[i]].state == RS_PENDING) {
				if (r.code >= 500)
					rcpt_answer(a, cl, i, &r);
				else
					set_res(&a->res[a->idx[i]], RS_PENDING, "4.0.0", why, diag,
						cl->host);
			}
		if (!pipe)
			goto out;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->res[a->idx[i]].state != RS_PENDING)
			continue;
		if (!pipe)
			conn_printf(cl->c, "RCPT TO:<%s>\r\n", a->e.rcpts[a->idx[i]]);
		if (read_reply(cl, &r, TO_RCPT, 0) < 0)
			goto lost;
		if (!mail_ok)
			continue;
		if (r.code / 100 == 2)
			acc[nacc++] = i;
		else
			rcpt_answer(a, cl, i, &r);
	}
	if (!pipe) {
		if (!nacc)
			goto out;
		conn_puts(cl->c, "DATA\r\n");
	}
	if (read_reply(cl, &r, TO_DATA_INIT, 0) < 0)
		goto lost;
	if (r.code != 354) {
		for (size_t k = 0; k < nacc; k++)
			rcpt_answer(a, cl, acc[k], &r);
		goto out;
	}
	if (!nacc || !mail_ok) {
		/* RFC 2920 3.1: DATA accepted with no recipient: end it empty. */
		conn_puts(cl->c, ".\r\n");
		read_reply(cl, &r, TO_DATA_END, 0);
		goto out;
	}
	if (send_body(cl, a) < 0 || read_reply(cl, &r, TO_DATA_END, 0) < 0)
		goto lost;
	if (r.code / 100 == 2) {
		const char **done = xmalloc(sizeof *done * nacc);
		smtp_reply_format(&r, diag, sizeof diag);
		for (size_t k = 0; k < nacc; k++) {
			done[k] = a->e.rcpts[a->idx[acc[k]]];
			set_res(&a->res[a->idx[acc[k]]], RS_OK, "2.0.0", "delivered", diag, cl->host);
		}
		/* Commit at once: a crash from here on must not send it again. */
		int rc = store_queue_update(q.st, a->e.id, done, nacc, 0, NULL, 0, 0);
		if (rc != ST_OK && rc != ST_NOTFOUND)
			log_error("queue id=%016llx: recording the delivery failed: %s "
				  "(it may be sent again)",
				  (unsigned long long)a->e.id, store_strerror(rc));
		for (size_t k = 0; k < nacc; k++)
			log_attempt(a, cl, done[k], diag, "delivered");
		free(done);
	} else {
		for (size_t k = 0; k < nacc; k++)
			rcpt_answer(a, cl, acc[k], &r);
	}
	goto out;
lost:
	smtp_reply_format(&r, diag, sizeof diag);
	snprintf(why, sizeof why, "the connection to %s [%s] failed during the transaction",
		 cl->host, cl->addr);
	note_pending(a, why, r.code ? diag : NULL, cl->host);
	for (size_t k = 0; k < nacc; k++) /* accepted, not confirmed: again */
		set_res(&a->res[a->idx[acc[k]]], RS_PENDING, "4.4.2", why, NULL, cl->host);
	for (size_t i = 0; i < a->n; i++)
		if (a->res[a->idx[i]].state == RS_PENDING)
			log_attempt(a, cl, a->e.rcpts[a->idx[i]], "connection lost", "deferred");
out:
	free(acc);
}

/* ---- MTA-STS (RFC 8461 4.2, docs/delivery.md) ---- */

static int sts_mode(const struct attempt *a)
{
	return a->sts ? a->sts->mode : STS_NONE;
}

/* After EHLO: TLS must be on and the MX's certificate must verify for its
 * name. enforce: -1 with the reason (the attempt is deferred); testing:
 * logged, 0. */
static int sts_check(struct attempt *a, struct client *cl, char *err, size_t errlen)
{
	char why[200];
	if (!conn_is_tls(cl->c))
		snprintf(why, sizeof why, "did not offer TLS (STARTTLS)");
	else if (!conn_tls_verified(cl->c))
		snprintf(why, sizeof why, "certificate not verified (%s)",
			 tls_verify_reason(conn_tls_verify_error(cl->c)));
	else
		return 0;
	if (sts_mode(a) == STS_TESTING) {
		log_warn("mta-sts: %s (testing): %s %s; delivering anyway", a->domain, cl->host, why);
		return 0;
	}
	snprintf(err, errlen, "MTA-STS policy of %s (enforce): %s %s", a->domain, cl->host, why);
	return -1;
}

/* enforce: drop the MX hosts the policy does not list (RFC 8461 4.1);
 * testing: log them. 0, or -1 when none is left (why says so). */
static int sts_filter(struct attempt *a, struct dns_mx *mx, char *why, size_t whylen)
{
	size_t k = 0;
	struct sbuf names = {.max = 300};
	for (size_t h = 0; h < mx->nhosts; h++) {
		if (sts_mx_match(a->sts, mx->hosts[h].name)) {
			if (k != h)
				mx->hosts[k] = mx->hosts[h];
			k++;
			continue;
		}
		sbuf_printf(&names, "%s%s", names.len ? ", " : "", mx->hosts[h].name);
		if (a->sts->mode == STS_TESTING) {
			log_warn("mta-sts: %s (testing): MX %s is not in the policy; delivering anyway",
				 a->domain, mx->hosts[h].name);
			if (k != h)
				mx->hosts[k] = mx->hosts[h];
			k++;
		}
	}
	mx->nhosts = k;
	if (k == 0)
		snprintf(why, whylen,
			 "MTA-STS policy of %s (enforce): none of its MX hosts (%s) is in the policy",
			 a->domain, names.p ? names.p : "");
	sbuf_free(&names);
	return k ? 0 : -1;
}

/* A list post (QF_VERP): one transaction per pending recipient over the
 * same connection, RSET between them (a refused RCPT leaves the server
 * inside the transaction). A lost connection leaves the rest pending. */
static void verp_transactions(struct attempt *a, struct client *cl)
{
	size_t *idx = a->idx, n = a->n;
	struct smtp_reply r;
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (a->res[idx[i]].state != RS_PENDING)
			continue;
		if (!first) {
			conn_puts(cl->c, "RSET\r\n");
			if (read_reply(cl, &r, TO_MAIL, 0) < 0 || r.code / 100 != 2)
				break;
		}
		first = 0;
		a->idx = idx + i;
		a->n = 1;
		transaction(a, cl);
		a->idx = idx;
		a->n = n;
		if (a->res[idx[i]].state == RS_PENDING &&
		    !strncmp(a->res[idx[i]].status, "4.4.2", 5))
			break; /* the connection was lost */
	}
	a->idx = idx;
	a->n = n;
}

/* One connection to one address of a host. Leaves recipients pending when
 * the next address or host should be tried. */
static void session(struct attempt *a, const char *host, const struct dns_addr *da, int port,
		    int relay)
{
	struct sockaddr_storage sa = da->sa;
	char err[300] = "", diag[SMTP_REPLY_TEXT_MAX + 8] = "";
	int implicit = relay && port == 465;
	const void *ip;
	for (int try_tls = 1; try_tls >= 0; try_tls--) {
		struct client cl = {.host = host, .tlsc = relay ? q.tlsr : q.tlsc};
		int fd, rc;
		if (sa.ss_family == AF_INET6) {
			((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
			ip = &((struct sockaddr_in6 *)&sa)->sin6_addr;
		} else {
			((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
			ip = &((struct sockaddr_in *)&sa)->sin_addr;
		}
		inet_ntop(sa.ss_family, ip, cl.addr, sizeof cl.addr);
		fd = tcp_connect(&sa, da->len, a->slot, err, sizeof err);
		if (fd < 0) {
			char why[400];
			snprintf(why, sizeof why, "%s [%s]: %s", host, cl.addr, err);
			note_pending(a, why, NULL, host);
			for (size_t i = 0; i < a->n; i++)
				if (a->res[a->idx[i]].state == RS_PENDING)
					log_attempt(a, &cl, a->e.rcpts[a->idx[i]], err, "deferred");
			return;
		}
		cl.c = conn_new(fd, cl.addr, port, "");
		rc = client_hello(&cl, try_tls, implicit, err, sizeof err, diag, sizeof diag);
		if (rc == 0 && !relay && sts_mode(a) != STS_NONE)
			rc = sts_check(a, &cl, err, sizeof err);
		if (rc == 0 && relay)
			rc = relay_check(&cl, err, sizeof err);
		if (rc == 0 && relay && q.cfg->delivery_relay_user[0])
			rc = client_auth(&cl, err, sizeof err, diag, sizeof diag);
		if (rc == 0) {
			if (a->need_utf8 && !(cl.ehlo.ext & SX_SMTPUTF8)) {
				char why[400];
				snprintf(why, sizeof why,
					 "the receiving server %s does not support SMTPUTF8, which this "
					 "message needs (non-ASCII addresses or header fields)",
					 host);
				for (size_t i = 0; i < a->n; i++)
					if (a->res[a->idx[i]].state == RS_PENDING) {
						set_res(&a->res[a->idx[i]], RS_PERM, "5.6.7", why, NULL, host);
						log_attempt(a, &cl, a->e.rcpts[a->idx[i]], "no SMTPUTF8",
							    "bounced");
					}
			} else if (cl.ehlo.size_max && a->e.size > cl.ehlo.size_max) {
				char why[400];
				snprintf(why, sizeof why,
					 "the message (%llu bytes) is larger than %s accepts (%llu)",
					 (unsigned long long)a->e.size, host,
					 (unsigned long long)cl.ehlo.size_max);
				for (size_t i = 0; i < a->n; i++)
					if (a->res[a->idx[i]].state == RS_PENDING) {
						set_res(&a->res[a->idx[i]], RS_PERM, "5.3.4", why, NULL, host);
						log_attempt(a, &cl, a->e.rcpts[a->idx[i]], "too big",
							    "bounced");
					}
			} else if (a->e.flags & QF_VERP) {
				verp_transactions(a, &cl);
			} else {
				transaction(a, &cl);
			}
			client_close(&cl, a->slot, 1);
			return;
		}
		{
			char why[400];
			snprintf(why, sizeof why, "%s [%s]: %s", host, cl.addr, err);
			note_pending(a, why, diag[0] ? diag : NULL, host);
			for (size_t i = 0; i < a->n; i++)
				if (a->res[a->idx[i]].state == RS_PENDING)
					log_attempt(a, &cl, a->e.rcpts[a->idx[i]], diag[0] ? diag : err,
						    "deferred");
		}
		client_close(&cl, a->slot, rc != -2);
		if (rc != -2 || relay || sts_mode(a) == STS_ENFORCE)
			return; /* only a failed STARTTLS handshake is retried in plaintext,
				 * and not where MTA-STS requires TLS */
	}
}

/* ---- one group: a domain's recipients (or all, through the relay) ---- */

static void try_hosts(struct attempt *a, const struct dns_mx *mx, int port, int relay)
{
	int temp_host = 0;
	for (size_t h = 0; h < mx->nhosts && npending(a); h++) {
		const struct dns_mx_host *mh = &mx->hosts[h];
		if (!mh->naddrs) {
			temp_host = 1;
			continue;
		}
		host_acquire(mh->name);
		for (size_t k = 0; k < mh->naddrs && npending(a) && !q.stop; k++)
			session(a, mh->name, &mh->addrs[k], port, relay);
		host_release(mh->name);
	}
	if (temp_host && npending(a))
		note_pending(a, "a preferred mail server's address could not be looked up", NULL,
			     NULL);
}

/* delivery.relay "host:port", "[v6]:port" or "ipv4:port" -> one "MX". */
static int relay_hosts(struct dns_mx *mx, int *port, char *why, size_t whylen)
{
	const char *r = q.cfg->delivery_relay;
	char host[DNS_NAME_MAX + 1];
	const char *colon = strrchr(r, ':');
	long long p = 25;
	size_t hl;
	memset(mx, 0, sizeof *mx);
	if (r[0] == '[') {
		const char *end = strchr(r, ']');
		if (!end)
			goto bad;
		hl = (size_t)(end - r - 1);
		if (hl >= sizeof host)
			goto bad;
		memcpy(host, r + 1, hl);
		host[hl] = 0;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		hl = colon ? (size_t)(colon - r) : strlen(r);
		if (hl >= sizeof host || !hl)
			goto bad;
		memcpy(host, r, hl);
		host[hl] = 0;
	}
	if (colon && parse_int(colon + 1, 1, 65535, &p) < 0)
		goto bad;
	*port = (int)p;
	str_copy(mx->hosts[0].name, host, sizeof mx->hosts[0].name);
	mx->nhosts = 1;
	{
		struct dns_addr *da = &mx->hosts[0].addrs[0];
		struct sockaddr_in *s4 = (struct sockaddr_in *)&da->sa;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&da->sa;
		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			da->len = sizeof *s4;
			mx->hosts[0].naddrs = 1;
			return DNS_OK;
		}
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			da->len = sizeof *s6;
			mx->hosts[0].naddrs = 1;
			return DNS_OK;
		}
	}
	return dns_addrs(host, mx->hosts[0].addrs, DNS_ADDR_MAX, &mx->hosts[0].naddrs, why,
			 whylen);
bad:
	snprintf(why, whylen, "delivery.relay '%s' is not host:port", r);
	return DNS_TEMP; /* a configuration error never bounces mail */
}

static void deliver_group(struct attempt *a, const char *domain)
{
	struct dns_mx *mx = xcalloc(1, sizeof *mx);
	struct sts_policy *sts = NULL;
	int sts_fail = 0;
	int relay = q.cfg->delivery_relay && q.cfg->delivery_relay[0];
	int port = (int)q.cfg->delivery_port, rc;
	char why[400];
	if (relay && !q.tlsr) {
		/* delivery.relay_ca or relay_fingerprint unusable: nothing may go
		 * to the relay unchecked, and a configuration error never bounces. */
		str_copy(mx->why, q.tlsr_err, sizeof mx->why);
		rc = DNS_TEMP;
	} else if (relay) {
		rc = relay_hosts(mx, &port, mx->why, sizeof mx->why);
	} else {
		rc = dns_mx(domain, mx);
	}
	a->domain = domain;
	a->sts = NULL;
	if (rc == DNS_OK && !relay) {
		char note[600];
		sts = xcalloc(1, sizeof *sts);
		sts_lookup(q.cfg, q.tlsc, domain, sts, note, sizeof note);
		if (note[0])
			log_warn("%s", note);
		if (sts->mode != STS_NONE) {
			a->sts = sts;
			if (sts_filter(a, mx, mx->why, sizeof mx->why) < 0) {
				rc = DNS_TEMP; /* RFC 8461 5: deferred, never bounced at once */
				sts_fail = 1;
			}
		}
	}
	if (rc != DNS_OK) {
		const char *st = sts_fail	    ? "4.7.5"
				 : rc == DNS_TEMP ? "4.4.3"
				 : mx->null_mx	    ? "5.1.10"
						    : "5.1.2";
		snprintf(why, sizeof why, "%s%s", mx->why,
			 mx->null_mx ? " (the domain publishes a null MX: it accepts no mail)" : "");
		for (size_t i = 0; i < a->n; i++) {
			set_res(&a->res[a->idx[i]], rc == DNS_TEMP ? RS_TEMP : RS_PERM, st, why, NULL,
				NULL);
			log_attempt(a, NULL, a->e.rcpts[a->idx[i]], why,
				    rc == DNS_TEMP ? "deferred" : "bounced");
		}
		free(mx);
		free(sts);
		a->sts = NULL;
		return;
	}
	try_hosts(a, mx, port, relay);
	for (size_t i = 0; i < a->n; i++) {
		struct rres *r = &a->res[a->idx[i]];
		if (r->state == RS_PENDING) {
			r->state = RS_TEMP;
			if (!r->why[0])
				str_copy(r->why, "no mail server could be reached", sizeof r->why);
		}
	}
	free(mx);
	free(sts);
	a->sts = NULL;
}

/* ---- after an attempt: bounces, delay notices, the next try ---- */

static int notify(struct attempt *a, int action, int state)
{
	struct dsn d = {.action = action, .reporting_mta = q.cfg->hostname,
			.orig_from = a->e.from, .arrival = a->e.created,
			.retry_until = a->e.created + q.cfg->delivery_max_age,
			.orig_id = a->e.tid[0] ? a->e.tid : NULL};
	struct dsn_rcpt *dr;
	int rc = 0;
	if (a->e.flags & QF_VERP) {
		/* A list post: the failure counts against its member (list.h)
		 * instead of a DSN to the list's own bounce address; no delay
		 * notices to a list. */
		for (size_t i = 0; action == DSN_FAILED && i < a->e.nrcpts; i++)
			if (a->res[i].state == state)
				list_bounce(q.st, q.cfg, a->e.from, a->e.rcpts[i],
					    a->res[i].diag[0] ? a->res[i].diag : a->res[i].why,
					    a->e.tid[0] ? a->e.tid : "-");
		return 0;
	}
	dr = xcalloc(a->e.nrcpts, sizeof *dr);
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		struct rres *r = &a->res[i];
		if (r->state != state)
			continue;
		dr[d.nrcpts++] = (struct dsn_rcpt){a->e.rcpts[i], r->status,
						   r->mx[0] ? r->mx : NULL,
						   r->diag[0] ? r->diag : NULL, r->why};
	}
	if (d.nrcpts && a->e.from[0]) {
		size_t hl = 0;
		char *h = dsn_orig_headers(q.st, a->e.blob, QUEUE_HDR_MAX, &hl);
		d.rcpts = dr;
		d.orig_headers = h;
		d.orig_hlen = hl;
		rc = dsn_send(q.st, q.cfg, &d);
		free(h);
	} else if (d.nrcpts) {
		log_info("queue id=%016llx: not bouncing a bounce (null sender)",
			 (unsigned long long)a->e.id);
	}
	free(dr);
	return rc;
}

static void finish(struct attempt *a)
{
	int64_t now = (int64_t)time(NULL), next, deadline;
	const char **done = xmalloc(sizeof *done * (a->e.nrcpts + 1));
	size_t ndone = 0, ntemp = 0;
	uint32_t flags = 0;
	const char *err = NULL;
	int idx, add = 1;
	deadline = a->e.created + q.cfg->delivery_max_age;
	for (size_t i = 0; i < a->e.nrcpts; i++) {
		struct rres *r = &a->res[i];
		if (r->state == RS_TEMP && now >= deadline) {
			/* delivery.max_age: give up, and say why it took so long. */
			char why[600], waited[64];
			dsn_duration(now - a->e.created, waited, sizeof waited);
			snprintf(why, sizeof why, "gave up after %s of retrying; last problem: %s",
				 waited, r->why);
			str_copy(r->why, why, sizeof r->why);
			if (r->status[0] != '5')
				str_copy(r->status, "4.4.7", sizeof r->status);
			r->state = RS_PERM;
			log_attempt(a, NULL, a->e.rcpts[i], "expired", "bounced");
		}
		if (r->state == RS_TEMP) {
			ntemp++;
			if (!err)
				err = r->diag[0] ? r->diag : r->why;
		}
	}
	if (notify(a, DSN_FAILED, RS_PERM) == 0) {
		for (size_t i = 0; i < a->e.nrcpts; i++)
			if (a->res[i].state == RS_PERM)
				done[ndone++] = a->e.rcpts[i];
	} else if (!err) {
		err = "could not store the bounce";
	}
	if (ntemp && !q.stop && !(a->e.flags & QF_DELAY_SENT) && q.cfg->delivery_delay_notice > 0 &&
	    now - a->e.created >= q.cfg->delivery_delay_notice &&
	    notify(a, DSN_DELAYED, RS_TEMP) == 0)
		flags |= QF_DELAY_SENT;
	idx = (int)a->e.attempts < q.cfg->nretry ? (int)a->e.attempts : q.cfg->nretry - 1;
	next = now + (q.cfg->nretry > 0 ? q.cfg->retry[idx < 0 ? 0 : idx] : 300);
	if (next > deadline)
		next = deadline > now ? deadline : now + 1;
	if (q.stop) {
		/* A stop cut this attempt short: it does not count, and what
		 * is left is due again as soon as brev runs again. */
		next = now;
		add = 0;
	}
	{
		/* Keep the reasons short enough for the record. */
		char e2[512];
		str_copy(e2, err ? err : "", sizeof e2);
		int rc = store_queue_update(q.st, a->e.id, done, ndone, next, e2, add, flags);
		if (rc != ST_OK && rc != ST_NOTFOUND)
			log_error("queue id=%016llx: updating the entry failed: %s",
				  (unsigned long long)a->e.id, store_strerror(rc));
	}
	free(done);
}

static void deliver_entry(struct job *j, int slot)
{
	struct attempt a = {.e = j->e, .slot = slot};
	int relay = q.cfg->delivery_relay && q.cfg->delivery_relay[0];
	a.res = xcalloc(a.e.nrcpts, sizeof *a.res);
	a.idx = xmalloc(sizeof *a.idx * a.e.nrcpts);
	if (scan_message(&a) < 0) {
		log_error("queue id=%016llx: message bytes unreadable", (unsigned long long)a.e.id);
		for (size_t i = 0; i < a.e.nrcpts; i++)
			set_res(&a.res[i], RS_TEMP, "4.3.0", "the queued message could not be read",
				NULL, NULL);
	}
	for (size_t i = 0; i < a.e.nrcpts && !q.stop; i++) {
		const char *dom;
		if (a.res[i].state != RS_PENDING)
			continue;
		/* The group: every pending recipient of this domain (or all). */
		dom = domain_part(a.e.rcpts[i]);
		a.n = 0;
		for (size_t k = i; k < a.e.nrcpts; k++)
			if (a.res[k].state == RS_PENDING &&
			    (relay || !str_casecmp_ascii(domain_part(a.e.rcpts[k]), dom)))
				a.idx[a.n++] = k;
		deliver_group(&a, dom);
	}
	for (size_t i = 0; i < a.e.nrcpts; i++)
		if (a.res[i].state == RS_PENDING)
			set_res(&a.res[i], RS_TEMP, "4.3.0", "the server was stopping", NULL, NULL);
	finish(&a);
	free(a.res);
	free(a.idx);
}

/* ---- threads ---- */

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->e.nrcpts; i++)
		free(j->e.rcpts[i]);
	free(j->e.rcpts);
	free(j);
}

static void *worker(void *arg)
{
	int slot = (int)(intptr_t)arg;
	pthread_mutex_lock(&q.mu);
	for (;;) {
		struct job *j;
		while (!q.stop && !q.head)
			pthread_cond_wait(&q.wcv, &q.mu);
		if (q.stop)
			break;
		j = q.head;
		q.head = j->next;
		if (!q.head)
			q.tail = NULL;
		pthread_mutex_unlock(&q.mu);
		deliver_entry(j, slot);
		pthread_mutex_lock(&q.mu);
		for (size_t i = 0; i < q.ninflight; i++)
			if (q.inflight[i] == j->e.id) {
				q.inflight[i] = q.inflight[--q.ninflight];
				break;
			}
		job_free(j);
		wake_scheduler();
	}
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

/* Called after store_queue_take's commit, per entry: make a job. */
static int take_cb(void *arg, const struct queue_entry *e)
{
	struct job *j;
	pthread_mutex_lock(&q.mu);
	for (size_t i = 0; i < q.ninflight; i++)
		if (q.inflight[i] == e->id) {
			/* Still being sent (a flush made it due): leave it. */
			pthread_mutex_unlock(&q.mu);
			return 0;
		}
	if (q.ninflight == QUEUE_INFLIGHT) {
		pthread_mutex_unlock(&q.mu);
		return 0; /* the lease runs out; cannot happen with max below */
	}
	j = xcalloc(1, sizeof *j);
	j->e = *e;
	j->e.rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *j->e.rcpts);
	for (size_t i = 0; i < e->nrcpts; i++)
		j->e.rcpts[i] = xstrdup(e->rcpts[i]);
	q.inflight[q.ninflight++] = e->id;
	if (q.tail)
		q.tail->next = j;
	else
		q.head = j;
	q.tail = j;
	pthread_cond_signal(&q.wcv);
	pthread_mutex_unlock(&q.mu);
	(void)arg;
	return 0;
}

/* How often a network change may make the whole queue due: a flapping link
 * or router advertisements every few seconds must not turn into a retry
 * storm against remote MX hosts. The first change after a quiet spell acts
 * at once (after NET_SETTLE, so the routes that come with it exist). */
#define NET_FLUSH_GAP 30
#define NET_SETTLE 1

static void net_flush(void)
{
	size_t n = 0;
	if (store_queue_due_now(q.st, 0, &n) == ST_OK && n)
		log_info("queue: the network changed: %zu entr%s made due now", n,
			 n == 1 ? "y" : "ies");
}

static void *scheduler(void *arg)
{
	int64_t next_due = 0;
	int64_t net_at = 0, net_last = 0; /* a change waiting; the last flush */
	(void)arg;
	for (;;) {
		int64_t now = (int64_t)time(NULL);
		size_t room;
		struct pollfd p[3];
		int ms;
		if (net_at && now >= net_at) {
			net_at = 0;
			net_last = now;
			net_flush();
			next_due = 0;
		}
		pthread_mutex_lock(&q.mu);
		room = QUEUE_INFLIGHT - q.ninflight;
		pthread_mutex_unlock(&q.mu);
		if (q.stop)
			break;
		if (room && next_due <= now) {
			int rc = store_queue_take(q.st, now, QUEUE_LEASE, room, take_cb, NULL,
						  &next_due);
			if (rc == ST_TEMP)
				next_due = now + 10;
			else if (rc == ST_OK)
				continue; /* more may be due */
		}
		ms = next_due == INT64_MAX || next_due - now > 60 ? 60000
		     : next_due <= now			       ? 1000
								       : (int)(next_due - now) * 1000;
		p[0] = (struct pollfd){.fd = q.wakepipe[0], .events = POLLIN};
		p[1] = (struct pollfd){.fd = q.watchfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = q.netfd, .events = POLLIN};
		if (net_at) {
			int64_t w = (net_at - now) * 1000;
			if (w < ms)
				ms = w < 0 ? 0 : (int)w;
		}
		if (poll(p, 3, ms) > 0) {
			char b[256];
			uint64_t v;
			if (p[0].revents)
				(void)!read(q.wakepipe[0], b, sizeof b);
			if (p[1].revents)
				(void)!read(q.watchfd, &v, sizeof v);
			if (p[2].revents && queue_net_read(q.netfd) && !net_at) {
				int64_t t = (int64_t)time(NULL);
				net_at = t + NET_SETTLE;
				if (net_last && net_at < net_last + NET_FLUSH_GAP)
					net_at = net_last + NET_FLUSH_GAP;
			}
			next_due = 0; /* something changed: look again */
		}
	}
	return NULL;
}

/* In-process commits: user 0 after any change to the queue. */
static void commit_hook(void *arg, uint32_t user)
{
	(void)arg;
	if (user == 0)
		wake_scheduler();
}

int queue_start(struct server *srv)
{
	size_t n = 0;
	if (q.running)
		return 0;
	q.srv = srv;
	q.st = srv->store;
	q.cfg = srv->cfg;
	q.stop = 0;
	dns_cancel(0);
	queue_src_pick(q.cfg->listen_smtp, &q.src);
	for (int i = 0; i < QUEUE_THREADS; i++)
		q.fds[i] = -1;
	if (pipe2(q.wakepipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("queue: pipe: %s", strerror(errno));
		return -1;
	}
	/* Leases of a killed predecessor: nobody is sending those now. */
	if (store_queue_due_now(q.st, 1, &n) == ST_OK && n)
		log_info("queue: %zu entr%s left leased by a previous run, due now", n,
			 n == 1 ? "y" : "ies");
	if (q.cfg->delivery_tls_ca[0]) {
		/* a private CA for MX and MTA-STS policy hosts (docs/delivery.md) */
		char ca[4096];
		config_path(q.cfg, q.cfg->delivery_tls_ca, ca, sizeof ca);
		if (access(ca, R_OK) < 0)
			log_error("delivery.tls_ca: %s: %s", ca, strerror(errno));
		q.tlsc = tls_client_new_with_anchors(ca);
	} else
		q.tlsc = tls_client_new();
	if (q.cfg->delivery_relay && q.cfg->delivery_relay[0]) {
		char ca[4096] = "";
		if (q.cfg->delivery_relay_ca[0] &&
		    config_path(q.cfg, q.cfg->delivery_relay_ca, ca, sizeof ca) < 0)
			str_copy(ca, q.cfg->delivery_relay_ca, sizeof ca);
		q.tlsr = tls_client_new_relay(ca, q.cfg->delivery_relay_fingerprint, q.tlsr_err,
					      sizeof q.tlsr_err);
		if (!q.tlsr)
			log_error("queue: %s: mail for the relay waits until this is fixed",
				  q.tlsr_err);
	}
	q.watchfd = store_watch_open(q.st, 0);
	q.netfd = queue_net_open();
	if (q.netfd < 0)
		log_info("queue: no rtnetlink socket (%s): network changes go unnoticed",
			 strerror(errno));
	store_set_commit_hook(q.st, commit_hook, NULL);
	for (int i = 0; i < QUEUE_THREADS; i++)
		if (pthread_create(&q.workers[i], NULL, worker, (void *)(intptr_t)i))
			fatal("queue: cannot start a delivery thread");
	if (pthread_create(&q.sched, NULL, scheduler, NULL))
		fatal("queue: cannot start the scheduler");
	q.running = 1;
	log_info("queue: %d delivery threads, %s", QUEUE_THREADS,
		 q.cfg->delivery_relay && q.cfg->delivery_relay[0] ? "through delivery.relay"
								    : "direct to MX hosts");
	return 0;
}

void queue_stop_begin(void)
{
	if (!q.running)
		return;
	pthread_mutex_lock(&q.mu);
	q.stop = 1;
	pthread_cond_broadcast(&q.wcv);
	pthread_cond_broadcast(&q.hcv);
	pthread_mutex_unlock(&q.mu);
	wake_scheduler();
}

void queue_stop(void)
{
	if (!q.running)
		return;
	pthread_mutex_lock(&q.mu);
	q.stop = 1;
	dns_cancel(1);
	for (int i = 0; i < QUEUE_THREADS; i++)
		if (q.fds[i] >= 0)
			shutdown(q.fds[i], SHUT_RDWR);
	pthread_cond_broadcast(&q.wcv);
	pthread_cond_broadcast(&q.hcv);
	pthread_mutex_unlock(&q.mu);
	wake_scheduler();
	pthread_join(q.sched, NULL);
	for (int i = 0; i < QUEUE_THREADS; i++)
		pthread_join(q.workers[i], NULL);
	store_set_commit_hook(q.st, NULL, NULL);
	if (q.watchfd >= 0)
		store_watch_close(q.st, 0, q.watchfd);
	q.watchfd = -1;
	if (q.netfd >= 0)
		close(q.netfd);
	q.netfd = -1;
	while (q.head) {
		struct job *j = q.head;
		q.head = j->next;
		job_free(j);
	}
	q.tail = NULL;
	q.ninflight = 0;
	tls_client_free(&q.tlsc);
	tls_client_free(&q.tlsr);
	close(q.wakepipe[0]);
	close(q.wakepipe[1]);
	q.wakepipe[0] = q.wakepipe[1] = -1;
	q.running = 0;
}

void queue_flush(void)
{
	size_t n = 0;
	if (!q.running)
		return;
	store_queue_due_now(q.st, 0, &n);
	log_info("queue: flush: %zu entr%s made due now", n, n == 1 ? "y" : "ies");
	wake_scheduler();
}
