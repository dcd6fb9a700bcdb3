/*
 * tray/imapc.c — one account's IMAPS connection, in its own thread.
 *
 * Owns: TCP connect with a time-out, TLS with OpenSSL (a pinned SHA-256
 * certificate fingerprint, a CA file, or the system store), a small IMAP4rev1
 * client (LOGIN, CAPABILITY, EXAMINE INBOX, UID SEARCH, UID FETCH, IDLE per
 * RFC 2177), and the reconnect loop with exponential backoff. It reports to
 * the main loop with events (tray.h) and never touches GTK or libnotify.
 *
 * Why a thread with blocking I/O instead of GIO's asynchronous streams: the
 * protocol then reads top to bottom, every wait has an explicit time-out,
 * and a wedged server can only stall its own account. Every read is bounded
 * (TRAY_LINE_MAX per response, TRAY_LITERAL_MAX per literal: the rest is read
 * and dropped), so a hostile server cannot make us allocate without limit.
 */
#include "tray.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_MS	 10000	/* TCP connect and TLS handshake */
#define REPLY_MS	 60000	/* a command's tagged reply */
#define IDLE_REFRESH_MS	 600000 /* RFC 2177 3: re-issue IDLE well before 29 min */
#define DONE_MS		 30000	/* the reply to DONE: else the link is dead */
#define BURST_QUIET_MS	 700	/* collect a burst of EXISTS before fetching */
#define BURST_MAX_MS	 3000
#define POLL_MS		 60000 /* without IDLE: NOOP this often */
#define BACKOFF_MAX_S	 60
#define SUSPEND_CHECK_MS 15000 /* IDLE looks at the clocks this often */

enum { IC_OK = 0, IC_NO = 1, IC_ERR = -1, IC_STOP = -2, IC_AUTH = -3, IC_KICK = -4, IC_TRUST = -5 };

/* A search result, whatever its size: how many matched, the largest, and
 * the largest TRAY_DETAIL_MAX of them in ascending order (all we ever fetch
 * in detail). A plain SEARCH lists every number; with ESEARCH (RFC 4731) the
 * server sends a count and a compact sequence set instead, so a mailbox with
 * a million unread messages costs a few bytes, not a response over the
 * TRAY_LINE_MAX limit. */
struct found {
	uint64_t count;
	uint32_t max;
	GArray *last; /* uint32_t */
};

struct imapc_worker {
	gint refs;
	gint stop;
	int wake[2]; /* imapc_stop writes a byte here to end any wait */
	struct tray_account_cfg cfg;
	int idx;
	unsigned gen;
	tray_event_fn fn;

	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char rbuf[16384];
	size_t rlen, roff;
	unsigned tag;
	char err[512];
	char leaf_sha256[65]; /* the server certificate's, seen while verifying */

	/* mailbox state (kept across reconnects) */
	uint32_t uidvalidity, uidnext, last_uid;
	int have_base;
	/* per-session */
	int cap_idle, cap_literalplus, cap_esearch, online, changed;
	long exists;
	struct found found; /* the last SEARCH / ESEARCH result */
	GPtrArray *fetched; /* struct tray_msg * from detail FETCHes */
	long unread_sent;
	char tagged_text[256];
};

/* ---- events ----------------------------------------------------------- */

void tray_event_free(struct tray_event *e)
{
	if (!e)
		return;
	g_free(e->detail);
	if (e->msgs)
		g_ptr_array_free(e->msgs, TRUE);
	g_free(e);
}

struct delivery {
	tray_event_fn fn;
	struct tray_event *e;
};

static gboolean deliver(gpointer p)
{
	struct delivery *d = p;
	d->fn(d->e);
	g_free(d);
	return G_SOURCE_REMOVE;
}

static void emit(struct imapc_worker *w, struct tray_event *e)
{
	struct delivery *d = g_new0(struct delivery, 1);
	e->account = w->idx;
	e->generation = w->gen;
	d->fn = w->fn;
	d->e = e;
	/* Always queued for the thread that runs the main loop. Not
	 * g_main_context_invoke(): while no thread owns the default context
	 * (main() before gtk_main) it runs the callback right here, in this
	 * worker thread, beside the main thread's own GTK calls. */
	g_idle_add_full(G_PRIORITY_DEFAULT, deliver, d, NULL);
}

static void emit_state(struct imapc_worker *w, enum tray_state st, const char *detail)
{
	struct tray_event *e = g_new0(struct tray_event, 1);
	e->kind = TRAY_EV_STATE;
	e->state = st;
	e->detail = g_strdup(detail ? detail : "");
	emit(w, e);
}

static void emit_unread(struct imapc_worker *w, long n)
{
	struct tray_event *e = g_new0(struct tray_event, 1);
	e->kind = TRAY_EV_UNREAD;
	e->unread = n;
	w->unread_sent = n;
	emit(w, e);
}

static int stopped(struct imapc_worker *w)
{
	return g_atomic_int_get(&w->stop);
}

static void seterr(struct imapc_worker *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
}

/* ---- transport -------------------------------------------------------- */

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Empty the wake pipe; say whether imapc_stop() was called. */
static int drain_wake(struct imapc_worker *w)
{
	char buf[64];
	while (read(w->wake[0], buf, sizeof buf) > 0)
		;
	return stopped(w);
}

/* 1: input is ready, 0: time-out, IC_STOP: imapc_stop() was called. A kick
 * (imapc_kick) does not end this wait. */
static int wait_input(struct imapc_worker *w, int ms)
{
	int64_t end = now_ms() + (ms < 0 ? 0 : ms);

	for (;;) {
		if (w->roff < w->rlen || (w->ssl && SSL_pending(w->ssl) > 0))
			return 1;
		struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN},
				      {.fd = w->wake[0], .events = POLLIN}};
		int64_t left = end - now_ms();
		int r = poll(p, 2, left < 0 ? 0 : (int)left);
		if (r > 0 && p[1].revents && drain_wake(w))
			return IC_STOP;
		if (stopped(w))
			return IC_STOP;
		if (r > 0 && p[0].revents)
			return 1;
		if (now_ms() >= end)
			return 0;
	}
}

/* Sleep ms unless stopped (IC_STOP) or kicked (0, early). */
static int nap(struct imapc_worker *w, int ms)
{
	struct pollfd p = {.fd = w->wake[0], .events = POLLIN};
	if (stopped(w))
		return IC_STOP;
	if (poll(&p, 1, ms) > 0)
		drain_wake(w);
	return stopped(w) ? IC_STOP : 0;
}

/* CLOCK_BOOTTIME runs on during suspend, the monotonic clock does not: their
 * difference grows by the time the machine slept. */
static int64_t slept_ms(void)
{
	struct timespec b;
	clock_gettime(CLOCK_BOOTTIME, &b);
	return (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000 - now_ms();
}

static int tcp_connect(struct imapc_worker *w)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(w->cfg.host, w->cfg.port, &hints, &res);

	if (rc) {
		seterr(w, "%s: %s", w->cfg.host, gai_strerror(rc));
		return IC_ERR;
	}
	seterr(w, "cannot connect to %s:%s", w->cfg.host, w->cfg.port);
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			seterr(w, "%s:%s: %s", w->cfg.host, w->cfg.port, strerror(errno));
			close(fd);
			continue;
		}
		struct pollfd p[2] = {{.fd = fd, .events = POLLOUT},
				      {.fd = w->wake[0], .events = POLLIN}};
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (poll(p, 2, CONNECT_MS) <= 0 ||
		    !(p[0].revents & (POLLOUT | POLLERR | POLLHUP)) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			if (soerr)
				seterr(w, "%s:%s: %s", w->cfg.host, w->cfg.port, strerror(soerr));
			close(fd);
			if (stopped(w))
				break;
			continue;
		}
		/* Blocking from here on, but never for ever: the time-outs catch a
		 * peer that vanished mid-record; keepalive finds a dead link while
		 * we sit in IDLE. */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		struct timeval tv = {.tv_sec = REPLY_MS / 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		int on = 1, idle = 60, intvl = 15, cnt = 4;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
		w->fd = fd;
		freeaddrinfo(res);
		return 0;
	}
	freeaddrinfo(res);
	return stopped(w) ? IC_STOP : IC_ERR;
}

static int is_ip_literal(const char *h)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* Compare the peer certificate's SHA-256 (over its DER) with the pin. */
static int check_pin(struct imapc_worker *w)
{
	X509 *peer = SSL_get_peer_certificate(w->ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[65];

	if (!peer || !X509_digest(peer, EVP_sha256(), md, &n) || n != 32) {
		X509_free(peer);
		seterr(w, "no server certificate");
		return IC_ERR;
	}
	X509_free(peer);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, w->cfg.fingerprint)) {
		seterr(w, "certificate fingerprint mismatch: server has SHA-256 %.16s…", hex);
		return IC_ERR;
	}
	return 0;
}

/* OpenSSL's verify callback: remember the server certificate's SHA-256
 * (whatever the verdict), so a refusal can say which fingerprint to pin. */
static int remember_leaf(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct imapc_worker *w = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (w && leaf && !w->leaf_sha256[0] && X509_digest(leaf, EVP_sha256(), md, &n) && n == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(w->leaf_sha256 + 2 * i, 3, "%02x", md[i]);
	return ok;
}

/* A self-signed server (brev's own certificate) that nothing vouches for:
 * retrying cannot help, and only the user can decide to trust it. Say how,
 * with the exact fingerprint to compare and pin. */
static int untrusted_self_signed(struct imapc_worker *w, long v)
{
	char fp[32 * 3];
	if ((v != X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT && v != X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) ||
	    !w->leaf_sha256[0])
		return 0;
	/* AB:CD:..., the form brev serve prints */
	for (unsigned i = 0; i < 32; i++) {
		fp[3 * i] = g_ascii_toupper(w->leaf_sha256[2 * i]);
		fp[3 * i + 1] = g_ascii_toupper(w->leaf_sha256[2 * i + 1]);
		fp[3 * i + 2] = i < 31 ? ':' : 0;
	}
	seterr(w,
	       "TLS: certificate not trusted: %s:%s has a self-signed certificate with SHA-256 %s. "
	       "If that is the fingerprint brev serve printed at its first run, pin it: "
	       "brev-tray --server %s%s%s:%s --user %s --fingerprint %s (or fingerprint = ... in tray.conf)",
	       w->cfg.host, w->cfg.port, fp, strchr(w->cfg.host, ':') ? "[" : "", w->cfg.host,
	       strchr(w->cfg.host, ':') ? "]" : "", w->cfg.port, w->cfg.user, fp);
	return 1;
}

static int tls_open(struct imapc_worker *w)
{
	w->ctx = SSL_CTX_new(TLS_client_method());
	if (!w->ctx) {
		seterr(w, "TLS: out of memory");
		return IC_ERR;
	}
	SSL_CTX_set_min_proto_version(w->ctx, TLS1_2_VERSION);
	if (w->cfg.fingerprint) {
		SSL_CTX_set_verify(w->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		if (w->cfg.ca) {
			if (SSL_CTX_load_verify_locations(w->ctx, w->cfg.ca, NULL) != 1) {
				seterr(w, "cannot load CA file %s", w->cfg.ca);
				return IC_ERR;
			}
			/* The file names what the user trusts, possibly the server's
			 * own (self-signed or leaf) certificate: accept a chain that
			 * ends at any certificate in it. */
			X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(w->ctx),
						    X509_V_FLAG_PARTIAL_CHAIN);
		} else {
			SSL_CTX_set_default_verify_paths(w->ctx);
		}
		SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, remember_leaf);
	}
	w->ssl = SSL_new(w->ctx);
	if (!w->ssl || SSL_set_fd(w->ssl, w->fd) != 1) {
		seterr(w, "TLS: cannot set up");
		return IC_ERR;
	}
	SSL_set_app_data(w->ssl, w);
	w->leaf_sha256[0] = 0;
	if (!is_ip_literal(w->cfg.host))
		SSL_set_tlsext_host_name(w->ssl, w->cfg.host);
	if (!w->cfg.fingerprint) {
		if (is_ip_literal(w->cfg.host))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), w->cfg.host);
		else
			SSL_set1_host(w->ssl, w->cfg.host);
	}
	ERR_clear_error();
	if (SSL_connect(w->ssl) != 1) {
		long v = SSL_get_verify_result(w->ssl);
		if (untrusted_self_signed(w, v))
			return IC_TRUST;
		if (v != X509_V_OK)
			seterr(w, "TLS: certificate not trusted: %s",
			       X509_verify_cert_error_string(v));
		else
			seterr(w, "TLS handshake with %s:%s failed", w->cfg.host, w->cfg.port);
		return IC_ERR;
	}
	return w->cfg.fingerprint ? check_pin(w) : 0;
}

static void conn_close(struct imapc_worker *w)
{
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->ctx) {
		SSL_CTX_free(w->ctx);
		w->ctx = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	w->rlen = w->roff = 0;
}

static int fill(struct imapc_worker *w)
{
	if (w->roff > 0) {
		memmove(w->rbuf, w->rbuf + w->roff, w->rlen - w->roff);
		w->rlen -= w->roff;
		w->roff = 0;
	}
	if (w->rlen == sizeof w->rbuf)
		return 0;
	int n = SSL_read(w->ssl, w->rbuf + w->rlen, (int)(sizeof w->rbuf - w->rlen));
	if (n <= 0) {
		seterr(w, "connection to %s:%s closed", w->cfg.host, w->cfg.port);
		return IC_ERR;
	}
	w->rlen += (size_t)n;
	return 0;
}

static int write_all(struct imapc_worker *w, const char *s, size_t len)
{
	while (len > 0) {
		int n = SSL_write(w->ssl, s, (int)len);
		if (n <= 0) {
			seterr(w, "connection to %s:%s lost while writing", w->cfg.host,
			       w->cfg.port);
			return IC_ERR;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read up to n bytes of a literal into out (at most keep of them), the rest
 * is consumed and dropped. */
static int read_literal(struct imapc_worker *w, size_t n, size_t keep, GString *out)
{
	while (n > 0) {
		if (w->roff == w->rlen && fill(w) < 0)
			return IC_ERR;
		size_t have = w->rlen - w->roff, take = have < n ? have : n;
		size_t k = take < keep ? take : keep;
		g_string_append_len(out, w->rbuf + w->roff, (gssize)k);
		keep -= k;
		w->roff += take;
		n -= take;
	}
	return 0;
}

/* The literal size announced at the end of a line "... {123}\r\n", or -1. */
static long literal_at_end(const GString *s, size_t line_start, size_t *brace)
{
	size_t e = s->len;
	if (e < line_start + 3 || s->str[e - 1] != '\n')
		return -1;
	e -= s->str[e - 2] == '\r' ? 2 : 1;
	if (e == 0 || s->str[e - 1] != '}')
		return -1;
	size_t d = e - 1;
	while (d > line_start && g_ascii_isdigit(s->str[d - 1]))
		d--;
	if (d == e - 1 || d == line_start || s->str[d - 1] != '{' || e - 1 - d > 10)
		return -1;
	*brace = d - 1;
	return strtol(s->str + d, NULL, 10);
}

/* One whole server response (a line with any literals inside it) into out,
 * with every literal rewritten as "{kept}\r\n<kept bytes>". first_ms bounds
 * the wait for its first byte: 1 done, 0 time-out, IC_ERR, IC_STOP. */
static int read_response(struct imapc_worker *w, GString *out, int first_ms)
{
	int r = wait_input(w, first_ms);
	if (r <= 0)
		return r;
	g_string_truncate(out, 0);
	size_t line_start = 0;
	for (;;) {
		char *nl = memchr(w->rbuf + w->roff, '\n', w->rlen - w->roff);
		if (!nl) {
			g_string_append_len(out, w->rbuf + w->roff, (gssize)(w->rlen - w->roff));
			w->roff = w->rlen;
			if (out->len > TRAY_LINE_MAX) {
				seterr(w, "server response longer than %d bytes", TRAY_LINE_MAX);
				return IC_ERR;
			}
			if (fill(w) < 0)
				return IC_ERR;
			continue;
		}
		size_t n = (size_t)(nl - (w->rbuf + w->roff)) + 1;
		g_string_append_len(out, w->rbuf + w->roff, (gssize)n);
		w->roff += n;
		size_t brace;
		long lit = literal_at_end(out, line_start, &brace);
		if (lit < 0)
			return 1;
		if (lit > TRAY_LITERAL_HARD) {
			/* we only ever ask for a few KiB: this is not an answer */
			seterr(w, "server sent a %ld-byte literal", lit);
			return IC_ERR;
		}
		size_t before = out->len;
		g_string_truncate(out, brace);
		GString *data = g_string_new(NULL);
		if (read_literal(w, (size_t)lit, TRAY_LITERAL_MAX, data) < 0) {
			g_string_free(data, TRUE);
			return IC_ERR;
		}
		g_string_append_printf(out, "{%zu}\r\n", data->len);
		g_string_append_len(out, data->str, (gssize)data->len);
		g_string_free(data, TRUE);
		line_start = out->len;
		if (out->len > TRAY_LINE_MAX || before > TRAY_LINE_MAX) {
			seterr(w, "server response longer than %d bytes", TRAY_LINE_MAX);
			return IC_ERR;
		}
	}
}

/* ---- response parsing ------------------------------------------------- */

struct cur {
	const char *p, *end;
};

static void skip_sp(struct cur *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

/* An atom-ish token: up to space, ')' or end of line; brackets and angle
 * brackets are kept whole so "BODY[HEADER.FIELDS (FROM)]<0>" is one token. */
static void token(struct cur *c, const char **s, size_t *n)
{
	int depth = 0;
	*s = c->p;
	while (c->p < c->end) {
		char ch = *c->p;
		if (ch == '[')
			depth++;
		else if (ch == ']' && depth > 0)
			depth--;
		else if (depth == 0 &&
			 (ch == ' ' || ch == ')' || ch == '(' || ch == '\r' || ch == '\n'))
			break;
		c->p++;
	}
	*n = (size_t)(c->p - *s);
}

/* A value: NIL, number/atom, "quoted", {n}literal, or a (list). Strings are
 * returned through s/n (quoted ones with their escapes still in: we only
 * look at literals for content); a list is returned whole. 0 or -1. */
static int value(struct cur *c, const char **s, size_t *n)
{
	skip_sp(c);
	if (c->p >= c->end)
		return -1;
	if (*c->p == '"') {
		const char *b = ++c->p;
		while (c->p < c->end && *c->p != '"')
			c->p += *c->p == '\\' && c->p + 1 < c->end ? 2 : 1;
		if (c->p >= c->end)
			return -1;
		*s = b;
		*n = (size_t)(c->p++ - b);
		return 0;
	}
	if (*c->p == '{' || (*c->p == '~' && c->p + 1 < c->end && c->p[1] == '{')) {
		char *e;
		if (*c->p == '~')
			c->p++;
		unsigned long len = strtoul(c->p + 1, &e, 10);
		if (e >= c->end || *e != '}')
			return -1;
		c->p = e + 1;
		if (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p >= c->end || *c->p != '\n' || len > (unsigned long)(c->end - c->p - 1))
			return -1;
		*s = ++c->p;
		*n = len;
		c->p += len;
		return 0;
	}
	if (*c->p == '(') {
		int depth = 0;
		const char *b = c->p;
		while (c->p < c->end) {
			const char *ls;
			size_t ln;
			if (*c->p == '(')
				depth++, c->p++;
			else if (*c->p == ')') {
				c->p++;
				if (--depth == 0)
					break;
			} else if (*c->p == '"' || *c->p == '{') {
				if (value(c, &ls, &ln) < 0)
					return -1;
			} else
				c->p++;
		}
		*s = b;
		*n = (size_t)(c->p - b);
		return depth == 0 ? 0 : -1;
	}
	token(c, s, n);
	return 0;
}

static int starts(const char *s, size_t n, const char *pfx)
{
	size_t l = strlen(pfx);
	return n >= l && g_ascii_strncasecmp(s, pfx, l) == 0;
}

/* A string value as bytes: a quoted string loses its quoted-pair escapes
 * (RFC 3501 9: quoted-specials), a literal is taken as it is. */
static GString *string_bytes(const char *v, size_t vl)
{
	GString *o = g_string_sized_new(vl);
	if (v[-1] != '"') {
		g_string_append_len(o, v, (gssize)vl);
		return o;
	}
	for (size_t i = 0; i < vl; i++) {
		if (v[i] == '\\' && i + 1 < vl)
			i++;
		g_string_append_c(o, v[i]);
	}
	return o;
}

static struct tray_msg *msg_new(uint32_t uid, const GString *hdr, const GString *text)
{
	struct tray_msg *m = g_new0(struct tray_msg, 1);
	char *from = tray_header_get(hdr->str, hdr->len, "From");
	char *subj = tray_header_get(hdr->str, hdr->len, "Subject");
	char *ct = tray_header_get(hdr->str, hdr->len, "Content-Type");
	char *cte = tray_header_get(hdr->str, hdr->len, "Content-Transfer-Encoding");
	char *dfrom = tray_decode_header(from ? from : "", from ? strlen(from) : 0);

	m->uid = uid;
	tray_parse_from(dfrom, &m->from_name, &m->from_addr);
	m->subject = tray_decode_header(subj ? subj : "", subj ? strlen(subj) : 0);
	m->line = tray_first_line(ct, cte, text ? text->str : "", text ? text->len : 0);
	g_free(from);
	g_free(subj);
	g_free(ct);
	g_free(cte);
	g_free(dfrom);
	return m;
}

/* "* n FETCH (...)" from a detail fetch: one tray_msg, unless the message
 * is \Seen by now or the response lacks what we asked for. */
static void parse_fetch(struct imapc_worker *w, struct cur *c)
{
	GString *hdr = NULL, *text = NULL;
	uint32_t uid = 0;
	int seen = 0;

	skip_sp(c);
	if (c->p >= c->end || *c->p != '(')
		return;
	c->p++;
	for (;;) {
		const char *name, *v;
		size_t nl, vl;
		skip_sp(c);
		if (c->p >= c->end || *c->p == ')')
			break;
		token(c, &name, &nl);
		if (nl == 0 || value(c, &v, &vl) < 0)
			goto out;
		if (vl == 3 && !g_ascii_strncasecmp(v, "NIL", 3) && v[-1] != '"' && v[-1] != '\n')
			continue; /* RFC 3501 9: an nstring may be NIL */
		if (starts(name, nl, "UID") && nl == 3)
			uid = (uint32_t)strtoul(v, NULL, 10);
		else if (starts(name, nl, "FLAGS"))
			seen = g_strstr_len(v, (gssize)vl, "\\Seen") != NULL;
		else if (starts(name, nl, "BODY[HEADER") && !hdr)
			hdr = string_bytes(v, vl);
		else if (starts(name, nl, "BODY[TEXT]") && !text)
			text = string_bytes(v, vl);
	}
	if (uid && hdr && !seen)
		g_ptr_array_add(w->fetched, msg_new(uid, hdr, text));
out:
	if (hdr)
		g_string_free(hdr, TRUE);
	if (text)
		g_string_free(text, TRUE);
}

/* Response codes in "* OK [CODE n]" that we keep. */
static void parse_ok_code(struct imapc_worker *w, const char *p, const char *end)
{
	if (end - p > 13 && !g_ascii_strncasecmp(p, "[UIDVALIDITY ", 13))
		w->uidvalidity = (uint32_t)strtoul(p + 13, NULL, 10);
	else if (end - p > 9 && !g_ascii_strncasecmp(p, "[UIDNEXT ", 9))
		w->uidnext = (uint32_t)strtoul(p + 9, NULL, 10);
	else if (end - p > 12 && !g_ascii_strncasecmp(p, "[CAPABILITY ", 12))
		w->cap_idle = g_strstr_len(p, end - p, " IDLE") != NULL,
		w->cap_literalplus = g_strstr_len(p, end - p, " LITERAL+") != NULL;
}

static void parse_caps(struct imapc_worker *w, const char *p, const char *end)
{
	GString *s = g_string_new_len(p, end - p);
	char **v = g_strsplit_set(s->str, " \r\n", -1);
	w->cap_idle = w->cap_literalplus = w->cap_esearch = 0;
	for (char **q = v; *q; q++) {
		if (!g_ascii_strcasecmp(*q, "IDLE"))
			w->cap_idle = 1;
		else if (!g_ascii_strcasecmp(*q, "LITERAL+"))
			w->cap_literalplus = 1;
		else if (!g_ascii_strcasecmp(*q, "ESEARCH"))
			w->cap_esearch = 1;
	}
	g_strfreev(v);
	g_string_free(s, TRUE);
}

static void found_reset(struct found *f)
{
	f->count = 0;
	f->max = 0;
	g_array_set_size(f->last, 0);
}

/* Remember u among the largest TRAY_DETAIL_MAX (kept sorted, no repeats). */
static void found_keep(struct found *f, uint32_t u)
{
	guint i = 0;
	if (f->last->len >= TRAY_DETAIL_MAX && u <= g_array_index(f->last, uint32_t, 0))
		return;
	while (i < f->last->len && g_array_index(f->last, uint32_t, i) < u)
		i++;
	if (i < f->last->len && g_array_index(f->last, uint32_t, i) == u)
		return;
	g_array_insert_val(f->last, i, u);
	if (f->last->len > TRAY_DETAIL_MAX)
		g_array_remove_index(f->last, 0);
}

static void found_range(struct found *f, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	f->count += (uint64_t)(hi - lo) + 1;
	f->max = MAX(f->max, hi);
	for (uint32_t u = hi, n = 0; n < TRAY_DETAIL_MAX && u >= lo && u > 0; u--, n++)
		found_keep(f, u);
}

static uint32_t num32(const char *p, const char **end)
{
	char *e;
	unsigned long long v = strtoull(p, &e, 10);
	*end = e;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The sequence set of ESEARCH ALL: "5:7,9,12:15". */
static void found_set(struct found *f, const char *p, size_t n)
{
	const char *end = p + n;
	while (p < end && g_ascii_isdigit(*p)) {
		uint32_t lo = num32(p, &p), hi = lo;
		if (p < end && *p == ':' && p + 1 < end && g_ascii_isdigit(p[1]))
			hi = num32(p + 1, &p);
		found_range(f, lo, hi);
		if (p < end && *p == ',')
			p++;
		else
			break;
	}
}

/* "* ESEARCH (TAG "b4") UID COUNT 3 MAX 9 ALL 5:7,9" (RFC 4731 3.1). */
static void parse_esearch(struct imapc_worker *w, struct cur *c)
{
	const char *t, *v;
	size_t n, vl;
	int had_count = 0;
	uint64_t count = 0;

	for (;;) {
		skip_sp(c);
		if (c->p >= c->end || *c->p == '\r' || *c->p == '\n')
			break;
		if (*c->p == '(') { /* the search correlator */
			if (value(c, &v, &vl) < 0)
				return;
			continue;
		}
		token(c, &t, &n);
		if (n == 0)
			break;
		if (n == 3 && !g_ascii_strncasecmp(t, "UID", 3))
			continue;
		if (value(c, &v, &vl) < 0)
			return;
		const char *e;
		if (n == 5 && !g_ascii_strncasecmp(t, "COUNT", 5))
			count = num32(v, &e), had_count = 1;
		else if (n == 3 && !g_ascii_strncasecmp(t, "MAX", 3))
			w->found.max = MAX(w->found.max, num32(v, &e));
		else if (n == 3 && !g_ascii_strncasecmp(t, "ALL", 3))
			found_set(&w->found, v, vl);
	}
	if (had_count)
		w->found.count = count;
}

/* One untagged response. IC_ERR on BYE (the server is going away). */
static int untagged(struct imapc_worker *w, const GString *r)
{
	struct cur c = {r->str + 2, r->str + r->len};
	const char *t;
	size_t n;

	token(&c, &t, &n);
	if (n == 0)
		return 0;
	if (g_ascii_isdigit(*t)) {
		long num = strtol(t, NULL, 10);
		skip_sp(&c);
		token(&c, &t, &n);
		if (starts(t, n, "EXISTS")) {
			if (num != w->exists)
				w->changed = 1;
			w->exists = num;
		} else if (starts(t, n, "EXPUNGE")) {
			w->exists--;
			w->changed = 1;
		} else if (starts(t, n, "FETCH")) {
			if (w->fetched)
				parse_fetch(w, &c);
			else
				w->changed = 1; /* flags changed: recount unread */
		}
		return 0;
	}
	if (starts(t, n, "BYE")) {
		skip_sp(&c);
		seterr(w, "server said: %.*s",
		       (int)strcspn(c.p, "\r\n") > 120 ? 120 : (int)strcspn(c.p, "\r\n"), c.p);
		return IC_ERR;
	}
	if (starts(t, n, "OK")) {
		skip_sp(&c);
		parse_ok_code(w, c.p, c.end);
	} else if (starts(t, n, "CAPABILITY")) {
		parse_caps(w, c.p, c.end);
	} else if (starts(t, n, "ESEARCH")) {
		parse_esearch(w, &c);
	} else if (starts(t, n, "SEARCH")) {
		while (c.p < c.end) {
			skip_sp(&c);
			token(&c, &t, &n);
			if (n == 0)
				break;
			if (g_ascii_isdigit(*t)) {
				const char *e;
				uint32_t u = num32(t, &e);
				found_range(&w->found, u, u);
			}
		}
	}
	return 0;
}

/* The tagged reply's status: IC_OK, IC_NO (text in tagged_text), IC_ERR. */
static int tagged(struct imapc_worker *w, const GString *r, size_t taglen)
{
	const char *p = r->str + taglen + 1;
	size_t n = strcspn(p, "\r\n");
	snprintf(w->tagged_text, sizeof w->tagged_text, "%.*s", (int)(n > 200 ? 200 : n), p);
	if (!g_ascii_strncasecmp(p, "OK", 2))
		return IC_OK;
	if (!g_ascii_strncasecmp(p, "NO", 2) || !g_ascii_strncasecmp(p, "BAD", 3))
		return IC_NO;
	seterr(w, "unexpected reply: %s", w->tagged_text);
	return IC_ERR;
}

/* Read until the tagged reply for tag (or a continuation if want_cont). */
static int await(struct imapc_worker *w, const char *tag, int want_cont, int ms)
{
	GString *r = g_string_new(NULL);
	size_t tl = strlen(tag);
	int rc;

	for (;;) {
		rc = read_response(w, r, ms);
		if (rc == 0) {
			seterr(w, "no reply from %s:%s", w->cfg.host, w->cfg.port);
			rc = IC_ERR;
		}
		if (rc < 0)
			break;
		if (r->len >= 2 && r->str[0] == '*' && r->str[1] == ' ') {
			if ((rc = untagged(w, r)) < 0)
				break;
			continue;
		}
		if (r->str[0] == '+') {
			if (want_cont) {
				rc = IC_OK;
				break;
			}
			continue;
		}
		if (r->len > tl && !strncmp(r->str, tag, tl) && r->str[tl] == ' ') {
			rc = tagged(w, r, tl);
			break;
		}
	}
	g_string_free(r, TRUE);
	return rc;
}

/* Send "TAG " + formatted command + CRLF; the tag goes to tag[16]. */
static int send_cmd(struct imapc_worker *w, char tag[16], const char *fmt, ...)
{
	va_list ap;
	GString *s = g_string_new(NULL);
	snprintf(tag, 16, "b%u", ++w->tag);
	g_string_append_printf(s, "%s ", tag);
	va_start(ap, fmt);
	g_string_append_vprintf(s, fmt, ap);
	va_end(ap);
	g_string_append(s, "\r\n");
	int rc = write_all(w, s->str, s->len);
	g_string_free(s, TRUE);
	return rc;
}

static int cmd(struct imapc_worker *w, const char *fmt, const char *arg)
{
	char tag[16];
	if (send_cmd(w, tag, fmt, arg) < 0)
		return IC_ERR;
	return await(w, tag, 0, REPLY_MS);
}

/* ---- the session ------------------------------------------------------ */

static int quotable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static char *quote(const char *s)
{
	GString *o = g_string_new("\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(o, '\\');
		g_string_append_c(o, *s);
	}
	g_string_append_c(o, '"');
	return g_string_free(o, FALSE);
}

/* LOGIN (RFC 3501 6.2.3) with the password as a quoted string, or as a
 * literal when it has bytes a quoted string cannot carry. */
static int login(struct imapc_worker *w)
{
	char tag[16], *u = quote(w->cfg.user);
	const char *pw = w->cfg.password ? w->cfg.password : "";
	int rc;

	if (!quotable(w->cfg.user)) {
		g_free(u);
		seterr(w, "the user name must be printable ASCII");
		return IC_AUTH;
	}
	if (quotable(pw)) {
		char *p = quote(pw);
		rc = send_cmd(w, tag, "LOGIN %s %s", u, p);
		memset(p, 0, strlen(p));
		g_free(p);
		if (rc == 0)
			rc = await(w, tag, 0, REPLY_MS);
	} else {
		size_t n = strlen(pw);
		rc = send_cmd(w, tag, "LOGIN %s {%zu%s}", u, n, w->cap_literalplus ? "+" : "");
		if (rc == 0 && !w->cap_literalplus)
			rc = await(w, tag, 1, REPLY_MS);
		if (rc == IC_OK && (rc = write_all(w, pw, n)) == 0 &&
		    (rc = write_all(w, "\r\n", 2)) == 0)
			rc = await(w, tag, 0, REPLY_MS);
	}
	g_free(u);
	if (rc != IC_NO)
		return rc;
	/* RFC 5530: a temporary refusal is not a wrong password. */
	if (strstr(w->tagged_text, "[UNAVAILABLE]") || strstr(w->tagged_text, "[INUSE]") ||
	    strstr(w->tagged_text, "[SERVERBUG]") || strstr(w->tagged_text, "[LIMIT]")) {
		seterr(w, "login refused for now: %s", w->tagged_text);
		return IC_ERR;
	}
	seterr(w, "login failed: %s", w->tagged_text);
	return IC_AUTH;
}

/* Run a search; the result lands in w->found. With ESEARCH the RETURN
 * options ask only for what the caller uses. */
static int search(struct imapc_worker *w, const char *ret, const char *criteria, const char *arg)
{
	char tag[16];
	int rc;

	found_reset(&w->found);
	if (w->cap_esearch)
		rc = send_cmd(w, tag, "%s RETURN (%s) %s%s",
			      strncmp(criteria, "UID ", 4) ? "SEARCH" : "UID SEARCH", ret,
			      strncmp(criteria, "UID ", 4) ? criteria : criteria + 4, arg);
	else
		rc = send_cmd(w, tag, "%s %s%s",
			      strncmp(criteria, "UID ", 4) ? "SEARCH" : "UID SEARCH",
			      strncmp(criteria, "UID ", 4) ? criteria : criteria + 4, arg);
	if (rc == 0)
		rc = await(w, tag, 0, REPLY_MS);
	return rc == IC_NO ? IC_ERR : rc;
}

static int count_unread(struct imapc_worker *w)
{
	int rc = search(w, "COUNT", "UNSEEN", "");
	if (rc == IC_OK && (long)w->found.count != w->unread_sent)
		emit_unread(w, (long)w->found.count);
	return rc;
}

static void uidset_append(GString *s, uint32_t u)
{
	g_string_append_printf(s, "%s%u", s->len ? "," : "", u);
}

/* Messages above last_uid: notify the unseen ones (details for the newest
 * TRAY_DETAIL_MAX), then move last_uid past all of them. RFC 3501 6.4.8:
 * "N:*" also matches the largest UID when that is below N, hence the
 * comparisons with last_uid. */
static int check_new(struct imapc_worker *w)
{
	char range[24];
	int rc;

	snprintf(range, sizeof range, " %u:*", w->last_uid + 1);
	if ((rc = search(w, "MAX", "UID UID", range)) != IC_OK)
		return rc;
	uint32_t maxu = w->found.max;
	if (maxu <= w->last_uid)
		return 0;
	char crit[40];
	snprintf(crit, sizeof crit, " %u:* UNSEEN", w->last_uid + 1);
	if ((rc = search(w, "ALL", "UID UID", crit)) != IC_OK)
		return rc;
	w->last_uid = maxu;
	uint64_t fresh = w->found.count;
	if (fresh == 0 || w->found.last->len == 0)
		return 0;
	GString *set = g_string_new(NULL);
	for (guint i = 0; i < w->found.last->len; i++)
		uidset_append(set, g_array_index(w->found.last, uint32_t, i));
	guint asked = w->found.last->len;
	w->fetched = g_ptr_array_new_with_free_func((GDestroyNotify)tray_msg_free);
	char tag[16];
	rc = send_cmd(w, tag,
		      "UID FETCH %s (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE "
		      "CONTENT-TRANSFER-ENCODING)] BODY.PEEK[TEXT]<0.%d>)",
		      set->str, TRAY_TEXT_PEEK);
	if (rc == 0)
		rc = await(w, tag, 0, REPLY_MS);
	g_string_free(set, TRUE);
	if (rc == IC_OK && w->fetched->len > 0) {
		struct tray_event *e = g_new0(struct tray_event, 1);
		e->kind = TRAY_EV_NEW;
		/* \Seen ones among the fetched were dropped; count them out */
		uint64_t total = fresh - (asked - MIN(asked, w->fetched->len));
		e->total = total > UINT_MAX ? UINT_MAX : (unsigned)total;
		e->msgs = w->fetched;
		w->fetched = NULL;
		emit(w, e);
	}
	if (w->fetched)
		g_ptr_array_free(w->fetched, TRUE);
	w->fetched = NULL;
	return rc == IC_NO ? IC_ERR : rc;
}

/* One IDLE round (RFC 2177): until something changes (then a short quiet
 * period collects a burst) or the refresh interval passes. */
static int idle_round(struct imapc_worker *w)
{
	char tag[16];
	GString *r = g_string_new(NULL);
	int rc;
	int64_t deadline = now_ms() + IDLE_REFRESH_MS, burst_end = 0, slept = slept_ms();

	w->changed = 0;
	if ((rc = send_cmd(w, tag, "IDLE")) < 0 || (rc = await(w, tag, 1, REPLY_MS)) != IC_OK) {
		if (rc == IC_NO) { /* refused after all: poll instead */
			w->cap_idle = 0;
			rc = IC_OK;
		}
		goto out;
	}
	for (;;) {
		int64_t now = now_ms(), until = deadline;
		if (w->changed) {
			if (!burst_end)
				burst_end = now + BURST_MAX_MS;
			until = MIN(now + BURST_QUIET_MS, burst_end);
		}
		if (until <= now)
			break;
		rc = read_response(w, r, (int)MIN(until - now, SUSPEND_CHECK_MS));
		if (rc >= 0 && slept_ms() - slept > SUSPEND_CHECK_MS) {
			/* The machine was asleep: the link is most likely dead
			 * (NAT state, DHCP lease, another Wi-Fi) and keepalive
			 * would take minutes to say so. Start over. */
			seterr(w, "resumed from suspend; reconnecting");
			rc = IC_KICK;
			goto out;
		}
		if (rc == 0 && now_ms() < until)
			continue;
		if (rc == 0)
			break;
		if (rc < 0)
			goto out;
		if (r->len >= 2 && r->str[0] == '*' && (rc = untagged(w, r)) < 0)
			goto out;
		if (r->len > strlen(tag) && !strncmp(r->str, tag, strlen(tag)) &&
		    r->str[strlen(tag)] == ' ') {
			/* the server ended IDLE by itself */
			rc = tagged(w, r, strlen(tag)) == IC_OK ? IC_OK : IC_ERR;
			goto out;
		}
	}
	if ((rc = write_all(w, "DONE\r\n", 6)) == 0)
		rc = await(w, tag, 0, DONE_MS);
	if (rc == IC_NO)
		rc = IC_ERR;
out:
	g_string_free(r, TRUE);
	return rc;
}

static int poll_round(struct imapc_worker *w)
{
	w->changed = 0;
	if (nap(w, POLL_MS) < 0)
		return IC_STOP;
	int rc = cmd(w, "NOOP%s", "");
	return rc == IC_NO ? IC_ERR : rc;
}

static int session(struct imapc_worker *w)
{
	GString *r = g_string_new(NULL);
	int rc;

	w->online = 0;
	w->exists = 0;
	w->unread_sent = -1;
	if ((rc = tcp_connect(w)) < 0 || (rc = tls_open(w)) < 0)
		goto out;
	/* RFC 3501 7.1: the greeting; PREAUTH would be a surprise, BYE a refusal */
	rc = read_response(w, r, REPLY_MS);
	if (rc <= 0) {
		if (rc == 0)
			seterr(w, "no greeting from %s:%s", w->cfg.host, w->cfg.port);
		rc = rc == 0 ? IC_ERR : rc;
		goto out;
	}
	if (r->len < 4 || g_ascii_strncasecmp(r->str, "* OK", 4)) {
		seterr(w, "server refused: %.*s", (int)MIN(strcspn(r->str, "\r\n"), 120), r->str);
		rc = IC_ERR;
		goto out;
	}
	if ((rc = login(w)) != IC_OK)
		goto out;
	if ((rc = cmd(w, "CAPABILITY%s", "")) != IC_OK)
		goto fail;
	uint32_t old_validity = w->uidvalidity;
	w->uidnext = 0;
	if ((rc = cmd(w, "EXAMINE INBOX%s", "")) != IC_OK)
		goto fail;
	if (!w->have_base || w->uidvalidity != old_validity) {
		/* First contact (or the mailbox was recreated): what is there now
		 * is not news. */
		if (w->uidnext)
			w->last_uid = w->uidnext - 1;
		else {
			if ((rc = search(w, "MAX", "UID ALL", "")) != IC_OK)
				goto out;
			w->last_uid = w->found.max;
		}
		w->have_base = 1;
	}
	if ((rc = count_unread(w)) != IC_OK)
		goto out;
	w->online = 1;
	emit_state(w, TRAY_ST_ONLINE, w->cap_idle ? "connected (IDLE)" : "connected (polling)");
	for (;;) {
		if ((rc = check_new(w)) < 0)
			goto out;
		if ((rc = w->cap_idle ? idle_round(w) : poll_round(w)) < 0)
			goto out;
		if ((rc = count_unread(w)) < 0)
			goto out;
	}
fail:
	if (rc == IC_NO) {
		seterr(w, "server refused: %s", w->tagged_text);
		rc = IC_ERR;
	}
out:
	g_string_free(r, TRUE);
	return rc;
}

/* ---- the thread ------------------------------------------------------- */

static void cfg_copy(struct tray_account_cfg *d, const struct tray_account_cfg *s)
{
	d->name = g_strdup(s->name);
	d->host = g_strdup(s->host);
	d->port = g_strdup(s->port ? s->port : "993");
	d->user = g_strdup(s->user);
	d->password = g_strdup(s->password);
	d->ca = g_strdup(s->ca);
	d->fingerprint = g_strdup(s->fingerprint);
	d->privacy = s->privacy;
}

static void unref(struct imapc_worker *w)
{
	if (!g_atomic_int_dec_and_test(&w->refs))
		return;
	conn_close(w);
	close(w->wake[0]);
	close(w->wake[1]);
	if (w->cfg.password)
		memset(w->cfg.password, 0, strlen(w->cfg.password));
	g_free(w->cfg.name);
	g_free(w->cfg.host);
	g_free(w->cfg.port);
	g_free(w->cfg.user);
	g_free(w->cfg.password);
	g_free(w->cfg.ca);
	g_free(w->cfg.fingerprint);
	g_array_free(w->found.last, TRUE);
	g_free(w);
}

static gpointer run(gpointer p)
{
	struct imapc_worker *w = p;
	int backoff = 1;

	while (!stopped(w)) {
		emit_state(w, TRAY_ST_CONNECTING, "connecting");
		int rc = session(w);
		int was_online = w->online;
		conn_close(w);
		if (rc == IC_STOP || stopped(w))
			break;
		if (rc == IC_AUTH) {
			emit_state(w, TRAY_ST_AUTHFAIL, w->err);
			break;
		}
		if (rc == IC_TRUST) {
			emit_state(w, TRAY_ST_UNTRUSTED, w->err);
			break;
		}
		if (rc == IC_KICK) { /* reconnect at once */
			emit_state(w, TRAY_ST_DISCONNECTED, w->err);
			backoff = 1;
			continue;
		}
		if (was_online)
			backoff = 1;
		/* Spread reconnects a little so many clients of one restarted
		 * server do not arrive in the same instant. */
		int ms = backoff * 1000 + g_random_int_range(0, 250);
		char detail[sizeof w->err];
		snprintf(detail, sizeof detail, "%.*s; retrying in %d s", (int)sizeof detail - 32, w->err, backoff);
		emit_state(w, TRAY_ST_DISCONNECTED, detail);
		if (nap(w, ms) < 0)
			break;
		backoff = MIN(backoff * 2, BACKOFF_MAX_S);
	}
	unref(w);
	return NULL;
}

struct imapc_worker *imapc_start(const struct tray_account_cfg *cfg, int idx, unsigned generation,
				 tray_event_fn fn)
{
	struct imapc_worker *w = g_new0(struct imapc_worker, 1);

	if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		g_free(w);
		return NULL;
	}
	w->refs = 2; /* the caller and the thread */
	w->fd = -1;
	w->idx = idx;
	w->gen = generation;
	w->fn = fn;
	w->found.last = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	cfg_copy(&w->cfg, cfg);
	GThread *t = g_thread_new("imapc", run, w);
	g_thread_unref(t);
	return w;
}

void imapc_kick(struct imapc_worker *w)
{
	if (w && write(w->wake[1], "k", 1) < 0) {
		/* the pipe is full: a kick is pending already */
	}
}

void imapc_stop(struct imapc_worker **pw)
{
	struct imapc_worker *w = *pw;
	if (!w)
		return;
	*pw = NULL;
	g_atomic_int_set(&w->stop, 1);
	if (write(w->wake[1], "x", 1) < 0) {
		/* the pipe is full: the thread has been told already */
	}
	unref(w);
}
