/*
 * net.c — listeners and connection threads.
 *
 * One accept thread polls every listening socket. Each accepted connection
 * gets a thread with a small stack that builds a conn, arms
 * implicit TLS where the listener asks for it, and runs the protocol's
 * session function (server.h). A hard cap (limits.connections) is checked
 * before the thread is made: over it the client gets the protocol's own
 * "too busy" line and the socket is closed at once.
 *
 * The cap has finer limits so that one kind of client cannot starve
 * another:
 *  - the inbound MX and submission each have slots of their own (an eighth
 *    of the cap each) that no other protocol can take: however
 *    many idle IMAP and POP3 clients connect, mail still arrives and users
 *    can still send (issue 22: 300 idle IMAP plus 300 idle POP3 connections
 *    used to fill all 200 and the MX answered 421);
 *  - a protocol (inbound SMTP, submission, IMAP, POP3, HTTP) may hold at most
 *    three quarters of the slots;
 *  - one client at most an eighth (at least 8), where a client is an IPv4
 *    address or an IPv6 /64 (what one home or one host gets: counting
 *    exact IPv6 addresses let one /64 take every slot). 127.0.0.1 and ::1
 *    are exempt: they are the machine's own clients.
 * Idle connections are also short-lived before login: the protocols wait
 * limits.timeout_preauth (30 s) for a command or a TLS handshake.
 *
 * The sockets of live sessions are kept in a table so that shutdown can
 * shutdown(2) them: a session blocked in a read then sees EOF and ends the
 * ordinary way, after any store commit it is in has returned.
 *
 * Session threads are joined, not detached: a slot of the table stays
 * taken by its thread until the accept thread (or net_stop) has joined it,
 * so shutdown knows when the last session thread is really gone, and the
 * store is never closed, nor the process ended, under a thread that is
 * still unwinding.
 */
#include "net.h"
#include "config.h"
#include "conn.h"
#include "dns.h"
#include "log.h"
#include "server.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_MAX 64
#define THREAD_STACK (256 * 1024)

struct kind_info {
	const char *name;
	const char *key;
	int implicit_tls;
	int timeout_ms;        /* idle timeout of a session */
	const char *busy;      /* reply when over the connection cap */
	const char *bye;       /* last line when a stop ends the session */
	void (*serve)(struct server *, struct conn *, int);
};

/* RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for a command;
 * RFC 9051 5.4: autologout no less than 30 minutes; RFC 1939 3: POP3 at
 * least 10 minutes. The protocol may lengthen its own (DATA, IDLE).
 * The last lines: SMTP may send 421 at any time when it must shut down
 * (RFC 5321 3.8); IMAP's BYE is untagged, also allowed at any time; POP3
 * has nothing better than a final -ERR (RFC 2449's SYS/TEMP). */
#define SMTP_BYE "421 4.3.2 Service shutting down, try again later\r\n"
#define IMAP_BYE "* BYE [UNAVAILABLE] Server shutting down\r\n"
#define POP3_BYE "-ERR [SYS/TEMP] Server shutting down\r\n"
/* HTTP has no unsolicited last line: a stopping server ends the session
 * between requests (http.c), so no bye. Over the cap, a whole response. */
#define HTTP_BUSY                                                                               \
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\n"            \
	"Connection: close\r\n\r\n"
static const struct kind_info kinds[LK_NKINDS] = {
	[LK_SMTP] = {"smtp", "listen.smtp", 0, 300000, "421 4.3.2 Too many connections, try later\r\n",
		     SMTP_BYE, smtp_serve},
	[LK_SUBMISSION] = {"submission", "listen.submission", 0, 300000,
			   "421 4.3.2 Too many connections, try later\r\n", SMTP_BYE, smtp_serve},
	[LK_SUBMISSIONS] = {"submissions", "listen.submissions", 1, 300000, NULL, SMTP_BYE, smtp_serve},
	[LK_IMAP] = {"imap", "listen.imap", 0, 1800000, "* BYE [UNAVAILABLE] Too many connections\r\n",
		     IMAP_BYE, imap_serve},
	[LK_IMAPS] = {"imaps", "listen.imaps", 1, 1800000, NULL, IMAP_BYE, imap_serve},
	[LK_POP3] = {"pop3", "listen.pop3", 0, 600000, "-ERR [SYS/TEMP] Too many connections\r\n",
		     POP3_BYE, pop3_serve},
	[LK_POP3S] = {"pop3s", "listen.pop3s", 1, 600000, NULL, POP3_BYE, pop3_serve},
	[LK_HTTP] = {"http", "listen.http", 0, 30000, HTTP_BUSY, NULL, http_serve},
	[LK_HTTPS] = {"https", "listen.https", 1, 30000, NULL, NULL, http_serve},
	/* RFC 5804 has no autologout time; as long as IMAP's */
	[LK_MANAGESIEVE] = {"managesieve", "listen.managesieve", 0, 1800000,
			    "BYE \"Too many connections\"\r\n", "BYE \"Server shutting down\"\r\n",
			    managesieve_serve},
};

struct listener {
	int fd;
	int kind;
	char addr[80];
};

static struct server *the_srv;
static struct listener listeners[LISTEN_MAX];
static int nlisteners;
static pthread_t accept_thread;
static int stop_pipe[2] = {-1, -1};
static int wake_pipe[2] = {-1, -1}; /* a session thread ended: join it */

/* A protocol family shares one part of the cap: both SMTP submission
 * ports count as one, IMAP and IMAPS as one, and so on. */
enum { FAM_MX, FAM_SUBMIT, FAM_IMAP, FAM_POP3, FAM_HTTP, FAM_SIEVE, FAM_N };
static const int family_of[LK_NKINDS] = {
	[LK_SMTP] = FAM_MX, [LK_SUBMISSION] = FAM_SUBMIT, [LK_SUBMISSIONS] = FAM_SUBMIT,
	[LK_IMAP] = FAM_IMAP, [LK_IMAPS] = FAM_IMAP, [LK_POP3] = FAM_POP3, [LK_POP3S] = FAM_POP3,
	[LK_HTTP] = FAM_HTTP, [LK_HTTPS] = FAM_HTTP, [LK_MANAGESIEVE] = FAM_SIEVE,
};

/* A slot's thread: none, running, or ended and waiting to be joined. */
enum { TH_NONE, TH_RUN, TH_ENDED };

struct live {
	int fd;                        /* -1: no live socket */
	int family;
	int loopback;
	int thread;                    /* TH_*: the slot is free at TH_NONE */
	pthread_t th;
	char client[NET_CLIENT_MAX];   /* net_client_key of the peer */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;
static struct live *live;      /* capacity limits.connections */
/* live_cap is limits.connections; the table has live_slots >= live_cap
 * entries, so that a slot whose session has closed its socket but whose
 * thread is still unwinding (a TLS close_notify) never refuses a client
 * while fewer than live_cap are connected. */
static int live_cap, live_slots, live_count, family_count[FAM_N];
static int threads_run, threads_ended; /* slots at TH_RUN, at TH_ENDED */
static int family_max, peer_max, reserved;
static int stopping;

static const char *kind_list(int kind)
{
	const struct config *c = the_srv->cfg;
	switch (kind) {
	case LK_SMTP: return c->listen_smtp;
	case LK_SUBMISSION: return c->listen_submission;
	case LK_SUBMISSIONS: return c->listen_submissions;
	case LK_IMAP: return c->listen_imap;
	case LK_IMAPS: return c->listen_imaps;
	case LK_POP3: return c->listen_pop3;
	case LK_POP3S: return c->listen_pop3s;
	case LK_HTTP: return c->listen_http;
	case LK_HTTPS: return c->listen_https;
	case LK_MANAGESIEVE: return c->listen_managesieve;
	}
	return "";
}

static int bind_one(int kind, const char *word, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned len;
	int fd, one = 1;
	struct listener *l;

	if (nlisteners == LISTEN_MAX) {
		snprintf(err, errlen, "more than %d listen addresses", LISTEN_MAX);
		return -1;
	}
	if (addr_parse(word, &ss, &len, err, errlen) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: socket: %s", kinds[kind].key, word, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "%s %s: %s", kinds[kind].key, word, strerror(errno));
		close(fd);
		return -1;
	}
	l = &listeners[nlisteners++];
	l->fd = fd;
	l->kind = kind;
	addr_format(&ss, l->addr, sizeof l->addr);
	return 0;
}

int net_bind(struct server *srv, char *err, size_t errlen)
{
	the_srv = srv;
	live_cap = (int)srv->cfg->connections;
	live_slots = live_cap + live_cap / 4 + 4;
	live = xcalloc((size_t)live_slots, sizeof *live);
	for (int i = 0; i < live_slots; i++)
		live[i].fd = -1;
	family_max = live_cap - live_cap / 4;
	if (family_max < 1)
		family_max = 1;
	peer_max = net_peer_max(live_cap);
	reserved = net_reserved(live_cap);
	for (int kind = 0; kind < LK_NKINDS; kind++) {
		char *copy = xstrdup(kind_list(kind)), *save = NULL, *w;
		int rc = 0;
		for (w = strtok_r(copy, " \t", &save); w && !rc; w = strtok_r(NULL, " \t", &save))
			rc = bind_one(kind, w, err, errlen);
		free(copy);
		if (rc)
			return -1;
		if (kinds[kind].implicit_tls && kind_list(kind)[0] && !srv->tls) {
			snprintf(err, errlen, "%s needs a certificate (tls.cert, tls.key)",
				 kinds[kind].key);
			return -1;
		}
	}
	return 0;
}

void net_print_listeners(void)
{
	for (int i = 0; i < nlisteners; i++)
		printf("  %-12s %s%s\n", kinds[listeners[i].kind].name, listeners[i].addr,
		       kinds[listeners[i].kind].implicit_tls ? "  (TLS)" : "");
	fflush(stdout);
}

static int is_loopback(const char *ip)
{
	return strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0;
}

static int is_stopping(void)
{
	return atomic_load(&the_srv->stopping);
}

/* Join every ended session thread. Called with live_lock held, by the
 * accept thread or by net_stop once the accept thread is gone: nobody else
 * joins, and an ended thread no longer takes the lock. */
static void reap_ended(void)
{
	for (int i = 0; i < live_slots && threads_ended > 0; i++)
		if (live[i].thread == TH_ENDED) {
			pthread_join(live[i].th, NULL);
			live[i].thread = TH_NONE;
			threads_ended--;
		}
}

/* Register a live socket. Its slot, or -1 with which limit refused it in
 * *why. */
static int live_add(int fd, int kind, const char *peer, const char **why)
{
	int fam = family_of[kind], loop = is_loopback(peer), same = 0, rc = -1, room;
	char client[NET_CLIENT_MAX];

	if (net_client_key(peer, client, sizeof client) < 0)
		str_copy(client, peer, sizeof client);
	pthread_mutex_lock(&live_lock);
	reap_ended();
	if (!loop)
		for (int i = 0; i < live_slots; i++)
			if (live[i].fd >= 0 && !live[i].loopback && strcmp(live[i].client, client) == 0)
				same++;
	room = net_slot_free(live_cap, family_max, reserved, family_count, fam);
	if (stopping)
		*why = "shutting down";
	else if (room == 0)
		*why = "connection limit reached";
	else if (room == -1)
		*why = "this protocol's share of the connection limit reached";
	else if (room == -2)
		*why = "the rest of the connection limit is kept for the MX and submission";
	else if (!loop && same >= peer_max)
		*why = "per-address connection limit reached";
	else
		for (int i = 0; i < live_slots; i++)
			if (live[i].fd < 0 && live[i].thread == TH_NONE) {
				live[i].fd = fd;
				live[i].family = fam;
				live[i].loopback = loop;
				str_copy(live[i].client, client, sizeof live[i].client);
				live_count++;
				family_count[fam]++;
				rc = i;
				break;
			}
	/* More threads still unwinding than spare slots. */
	if (rc < 0 && !**why)
		*why = "connection limit reached";
	pthread_mutex_unlock(&live_lock);
	return rc;
}

/* The slot's socket is about to be closed: it no longer counts against
 * the limits, and shutdown must not touch its descriptor number. */
static void live_del(int slot)
{
	pthread_mutex_lock(&live_lock);
	live[slot].fd = -1;
	live_count--;
	family_count[live[slot].family]--;
	pthread_cond_broadcast(&live_cond);
	pthread_mutex_unlock(&live_lock);
}

/* The slot's thread has nothing left to do but return: the accept thread
 * is woken to join it, so its stack goes back without waiting for the next
 * connection. */
static void live_thread_ended(int slot)
{
	pthread_mutex_lock(&live_lock);
	live[slot].thread = TH_ENDED;
	threads_run--;
	threads_ended++;
	pthread_cond_broadcast(&live_cond);
	pthread_mutex_unlock(&live_lock);
	(void)!write(wake_pipe[1], "x", 1); /* full pipe: a wake-up is pending */
}

int net_active(void)
{
	int n;
	pthread_mutex_lock(&live_lock);
	n = live_count;
	pthread_mutex_unlock(&live_lock);
	return n;
}

struct session_arg {
	int fd;
	int slot;
	int kind;
	char peer[INET6_ADDRSTRLEN];
	int peer_port;
	char local[80];
};

static void *session_main(void *p)
{
	struct session_arg *a = p;
	const struct kind_info *k = &kinds[a->kind];
	struct conn *c = conn_new(a->fd, a->peer, a->peer_port, a->local);
	int slot = a->slot;

	conn_set_timeout(c, k->timeout_ms);
	log_debug("%s: connection from [%s]:%d", k->name, a->peer, a->peer_port);
	if (!k->implicit_tls || conn_tls_accept(c, the_srv->tls) == 0) {
		k->serve(the_srv, c, a->kind);
		if (is_stopping() && k->bye)
			conn_goodbye(c, k->bye);
	}
	/* conn_free closes the socket; unregister first so shutdown never
	 * touches a reused descriptor number. */
	live_del(slot);
	conn_free(&c);
	free(a);
	live_thread_ended(slot);
	return NULL;
}

static void peer_of(const struct sockaddr_storage *ss, char *ip, size_t cap, int *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		/* Show v4-mapped peers as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)cap);
		*port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)cap);
		*port = ntohs(a->sin_port);
	}
}

static void accept_one(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct session_arg *a;
	pthread_attr_t attr;
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	int one = 1;
	const char *why = "";

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("accept: %s", strerror(errno));
			usleep(100000); /* let sessions end before trying again */
		}
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	a = xcalloc(1, sizeof *a);
	a->fd = fd;
	a->kind = l->kind;
	peer_of(&ss, a->peer, sizeof a->peer, &a->peer_port);
	str_copy(a->local, l->addr, sizeof a->local);
	if ((a->slot = live_add(fd, l->kind, a->peer, &why)) < 0) {
		const char *busy = kinds[l->kind].busy;
		log_warn("%s: %s (limit %d), refusing [%s]", kinds[l->kind].name, why, live_cap,
			 a->peer);
		/* Implicit-TLS ports cannot say anything before a handshake. */
		if (busy)
			(void)!write(fd, busy, strlen(busy));
		close(fd);
		free(a);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	/* The slot is marked running before the thread exists, so that the
	 * thread's own "ended" always comes after; only this thread joins,
	 * so nobody reads th before pthread_create has written it. */
	pthread_mutex_lock(&live_lock);
	live[a->slot].thread = TH_RUN;
	threads_run++;
	pthread_mutex_unlock(&live_lock);
	if (pthread_create(&live[a->slot].th, &attr, session_main, a) != 0) {
		log_error("pthread_create: out of resources, refusing [%s]", a->peer);
		pthread_mutex_lock(&live_lock);
		live[a->slot].thread = TH_NONE;
		threads_run--;
		pthread_mutex_unlock(&live_lock);
		live_del(a->slot);
		close(fd);
		free(a);
	}
	pthread_attr_destroy(&attr);
}

static void *accept_main(void *unused)
{
	struct pollfd pfd[LISTEN_MAX + 2];
	for (;;) {
		int n;
		for (int i = 0; i < nlisteners; i++) {
			pfd[i].fd = listeners[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[nlisteners].fd = stop_pipe[0];
		pfd[nlisteners].events = POLLIN;
		pfd[nlisteners + 1].fd = wake_pipe[0];
		pfd[nlisteners + 1].events = POLLIN;
		n = poll(pfd, (nfds_t)nlisteners + 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("poll: %s", strerror(errno));
			usleep(100000);
			continue;
		}
		if (pfd[nlisteners].revents)
			return NULL;
		if (pfd[nlisteners + 1].revents) {
			char buf[64];
			while (read(wake_pipe[0], buf, sizeof buf) > 0)
				;
			pthread_mutex_lock(&live_lock);
			reap_ended();
			pthread_mutex_unlock(&live_lock);
		}
		for (int i = 0; i < nlisteners; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(&listeners[i]);
	}
}

int net_start(void)
{
	if (pipe2(stop_pipe, O_CLOEXEC) < 0 || pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	return pthread_create(&accept_thread, NULL, accept_main, NULL) == 0 ? 0 : -1;
}

/* Wait on live_cond until no session or thread is left, or until the
 * deadline (CLOCK_REALTIME) passes. Called with live_lock held. */
static void wait_sessions(const struct timespec *deadline)
{
	while (live_count > 0 || threads_run > 0)
		if (pthread_cond_timedwait(&live_cond, &live_lock, deadline) == ETIMEDOUT)
			break;
}

static struct timespec deadline_in(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/*
 * Two steps. First only the reading side of every socket is shut: a session
 * waiting for its client's next command sees end of input and ends, saying
 * its protocol's last line; one in the middle of a store commit still sends
 * the reply its client is owed (a 250 it could not send would make the
 * client send the message again). After half the grace period, whatever is
 * left (a session blocked writing to a client that does not read) has its
 * socket shut both ways.
 */
int net_stop(int grace_ms)
{
	struct timespec deadline;
	int left;

	if (stop_pipe[1] >= 0) {
		(void)!write(stop_pipe[1], "x", 1);
		pthread_join(accept_thread, NULL);
	}
	for (int i = 0; i < nlisteners; i++)
		close(listeners[i].fd);
	nlisteners = 0;
	pthread_mutex_lock(&live_lock);
	stopping = 1;
	atomic_store(&the_srv->stopping, 1);
	for (int i = 0; i < live_slots; i++)
		if (live[i].fd >= 0)
			shutdown(live[i].fd, SHUT_RD);
	deadline = deadline_in(grace_ms / 2);
	wait_sessions(&deadline);
	/* Sessions waiting for a DNS answer (SPF, DMARC) stop waiting. */
	dns_cancel(1);
	for (int i = 0; i < live_slots; i++)
		if (live[i].fd >= 0)
			shutdown(live[i].fd, SHUT_RDWR);
	deadline = deadline_in(grace_ms - grace_ms / 2);
	wait_sessions(&deadline);
	reap_ended();
	left = threads_run;
	pthread_mutex_unlock(&live_lock);
	return left;
}
