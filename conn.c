/*
 * conn.c — one buffered connection over plain TCP or BearSSL.
 *
 * Owns the socket of one client (or one outbound delivery): a 16 KiB input
 * buffer that every read goes through, a 16 KiB output buffer, the per-wait
 * idle timeout (poll()), the per-operation deadline, the sticky error, and,
 * once TLS starts, the BearSSL
 * engine with its bidirectional record buffer. The engine is driven here by
 * hand (no br_sslio: it has no time-outs). Protocol parsing stays in the
 * protocol modules; certificates, keys and the session cache live in tls.c.
 *
 * Output is flushed automatically just before a read has to wait for the
 * peer: a reply can never be left stranded, and replies to pipelined commands
 * still go out in one segment (RFC 2920 3.1: the server flushes when its
 * input is empty).
 *
 * Deadlines: the idle timeout bounds each wait, which alone would let a
 * peer that sends one byte just before each timeout (slowloris) hold a
 * session for ever. So every read operation also has a total deadline: a
 * whole line (command) must arrive within the idle timeout, a whole DATA,
 * literal or BDAT chunk within CONN_OP_FACTOR times it (SMTP: 30 min,
 * enough for 50 MB at 28 kB/s). Output waits inside the operation share it.
 *
 * COMPRESS=DEFLATE (RFC 4978) is a layer between these buffers and the
 * transport (so over TLS it compresses before encryption): every byte the
 * transport delivers goes through inflate into c->in, every flush of c->out
 * through deflate. Protocol readers and their limits see only the inflated
 * stream, so a decompression bomb meets the same line, literal and deadline
 * bounds as plaintext; inflate only ever writes into the fixed c->in.
 */
#include <bearssl.h> /* before tls.h: its conn.c/tls.c-only part needs it */

#include "conn.h"
#include "log.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h> /* SIOCOUTQ */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#define ZLIB_CONST
#include <zlib.h>

#define CONN_IN_CAP  16384
#define CONN_OUT_CAP 16384
/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. */
#define DOT_TEXT_LINE_MAX 1000
#define CONN_TIMEOUT_DEFAULT 300000
/* A DATA/literal/BDAT transfer may take this many idle timeouts in all. */
#define CONN_OP_FACTOR 6
/* How long conn_free() gives a peer to take our close_notify. */
#define CLOSE_NOTIFY_MS 1000

struct conn_tls;
struct conn_z;

struct conn {
	int fd;
	int notsock;    /* fd is a pipe or file: use read/write */
	int timeout_ms;
	int64_t op_deadline; /* end of the current read operation; 0 = none */
	int err;        /* enum conn_err, sticky */
	char peer[64], local[64];
	int peer_port;
	char *line;     /* conn_getline's result buffer */
	size_t line_cap;
	size_t in_off, in_len;
	size_t out_len;
	struct conn_tls *tls; /* NULL: plaintext */
	struct conn_z *z;     /* NULL: not compressed */
	unsigned char in[CONN_IN_CAP];
	unsigned char out[CONN_OUT_CAP];
};

static int conn_fail(struct conn *c, int err)
{
	if (!c->err)
		c->err = err;
	return -1;
}

/* ---- socket level: poll with the idle timeout, non-blocking send/recv ---- */

/* Wait until fd is ready for ev; 0, or -1 with the sticky error set. */
static int wait_fd(struct conn *c, short ev, int ms)
{
	int64_t deadline = now_ms() + ms;
	if (c->op_deadline && c->op_deadline < deadline)
		deadline = c->op_deadline;
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = ev};
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0; /* POLLHUP/POLLERR: the next recv/send reports it */
		if (r == 0)
			return conn_fail(c, CONN_TIMEOUT);
		if (errno != EINTR)
			return conn_fail(c, CONN_IO);
	}
}

static ssize_t sys_recv(struct conn *c, void *buf, size_t cap)
{
	if (c->notsock)
		return read(c->fd, buf, cap);
	ssize_t r = recv(c->fd, buf, cap, MSG_DONTWAIT);
	if (r < 0 && errno == ENOTSOCK) {
		c->notsock = 1;
		return read(c->fd, buf, cap);
	}
	return r;
}

static ssize_t sys_send(struct conn *c, const void *buf, size_t n)
{
	if (c->notsock)
		return write(c->fd, buf, n);
	ssize_t r = send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0 && errno == ENOTSOCK) {
		c->notsock = 1;
		return write(c->fd, buf, n);
	}
	return r;
}

/* Receive at least one byte (waiting up to the timeout); > 0 or -1. */
static ssize_t sock_recv(struct conn *c, void *buf, size_t cap, int ms)
{
	for (;;) {
		ssize_t r = sys_recv(c, buf, cap);
		if (r > 0)
			return r;
		if (r == 0)
			return conn_fail(c, CONN_EOF);
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return conn_fail(c, CONN_EOF);
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return conn_fail(c, CONN_IO);
		if (wait_fd(c, POLLIN, ms) < 0)
			return -1;
	}
}

/* Send all n bytes (each wait bounded by ms); 0 or -1. */
static int sock_send_all(struct conn *c, const void *buf, size_t n, int ms)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t w = sys_send(c, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c, POLLOUT, ms) < 0)
				return -1;
			continue;
		}
		return conn_fail(c, errno == EPIPE || errno == ECONNRESET ? CONN_EOF : CONN_IO);
	}
	return 0;
}

/* ---- transport: plaintext or TLS (the TLS half is further down) ---- */

static ssize_t tls_read_app(struct conn *c, void *buf, size_t cap);
static int tls_write_app(struct conn *c, const void *buf, size_t n);
static size_t tls_decrypted_pending(const struct conn *c);
static void tls_state_free(struct conn *c);
static ssize_t z_recv(struct conn *c, void *buf, size_t cap);
static size_t z_pending(const struct conn *c);
static int z_send(struct conn *c, const void *buf, size_t n, int sync);
static int z_plain_out(struct conn *c, int sync);
static int z_wait_pump(struct conn *c);
static void z_state_free(struct conn *c);

static ssize_t transport_recv(struct conn *c, void *buf, size_t cap)
{
	return c->tls ? tls_read_app(c, buf, cap) : sock_recv(c, buf, cap, c->timeout_ms);
}

static int tls_plain_out(struct conn *c);

static int transport_send(struct conn *c, const void *buf, size_t n)
{
	if (c->tls && !tls_plain_out(c))
		return tls_write_app(c, buf, n);
	return sock_send_all(c, buf, n, c->timeout_ms);
}

/* ---- construction ---- */

struct conn *conn_new(int fd, const char *peer, int peer_port, const char *local)
{
	struct conn *c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->timeout_ms = CONN_TIMEOUT_DEFAULT;
	str_copy(c->peer, peer ? peer : "", sizeof c->peer);
	str_copy(c->local, local ? local : "", sizeof c->local);
	c->peer_port = peer_port;
	return c;
}

void conn_set_timeout(struct conn *c, int ms)
{
	c->timeout_ms = ms > 0 ? ms : CONN_TIMEOUT_DEFAULT;
}

/* ---- input ---- */

/* Read more input into the (consumed) buffer c->in; 0 or -1. Pending output
 * is flushed first: we are about to wait for the peer, who may be waiting
 * for us. */
static int fill(struct conn *c)
{
	if (c->err)
		return -1;
	if (conn_flush(c) < 0)
		return -1;
	if (c->in_off != c->in_len)
		return 0; /* TLS: input decrypted while our output waited */
	c->in_off = c->in_len = 0;
	ssize_t r = c->z ? z_recv(c, c->in, CONN_IN_CAP) : transport_recv(c, c->in, CONN_IN_CAP);
	if (r < 0)
		return -1;
	c->in_len += (size_t)r;
	return 0;
}

static void line_reserve(struct conn *c, size_t need)
{
	if (need <= c->line_cap)
		return;
	size_t cap = c->line_cap ? c->line_cap : 256;
	while (cap < need)
		cap *= 2;
	c->line = xrealloc(c->line, cap);
	c->line_cap = cap;
}

static ssize_t getline_op(struct conn *c, char **line, size_t max, int *crlf)
{
	size_t len = 0, keep;
	int toolong = 0;

	if (max > CONN_LINE_MAX)
		max = CONN_LINE_MAX;
	keep = max + 2; /* the line, its CR and its LF */
	line_reserve(c, 64);
	c->line[0] = '\0';
	*line = c->line;
	if (c->err)
		return -1;
	for (;;) {
		if (c->in_off == c->in_len && fill(c) < 0)
			return -1;
		unsigned char *start = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off;
		unsigned char *nl = memchr(start, '\n', avail);
		size_t chunk = nl ? (size_t)(nl - start) + 1 : avail;
		if (!toolong && len + chunk <= keep) {
			line_reserve(c, len + chunk + 1);
			memcpy(c->line + len, start, chunk);
			len += chunk;
		} else {
			toolong = 1; /* keep consuming up to the line end */
		}
		c->in_off += chunk;
		if (nl)
			break;
	}
	*line = c->line;
	if (toolong) {
		c->line[0] = '\0';
		return -2;
	}
	len--; /* the LF */
	int cr = len > 0 && c->line[len - 1] == '\r';
	if (cr)
		len--;
	c->line[len] = '\0';
	if (crlf)
		*crlf = cr;
	if (len > max) {
		c->line[0] = '\0';
		return -2;
	}
	return (ssize_t)len;
}

static int read_n_op(struct conn *c, void *buf, size_t n)
{
	unsigned char *p = buf;
	if (c->err)
		return -1;
	while (n) {
		if (c->in_off == c->in_len && fill(c) < 0)
			return -1;
		size_t k = c->in_len - c->in_off;
		if (k > n)
			k = n;
		memcpy(p, c->in + c->in_off, k);
		c->in_off += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* A spool write error does not desynchronise the stream: the remaining
 * bytes are still consumed, then -1 is returned with conn_error() == 0. */
static int read_n_spool_op(struct conn *c, struct spool *sp, uint64_t n)
{
	int spool_failed = 0;
	if (c->err)
		return -1;
	while (n) {
		if (c->in_off == c->in_len && fill(c) < 0)
			return -1;
		size_t k = c->in_len - c->in_off;
		if (k > n)
			k = (size_t)n;
		if (!spool_failed && spool_write(sp, c->in + c->in_off, k) < 0)
			spool_failed = 1;
		c->in_off += k;
		n -= k;
	}
	return spool_failed ? -1 : 0;
}

/*
 * SMTP DATA. A byte-at-a-time state machine over the input buffer, so the
 * result cannot depend on how the peer's bytes were split into segments.
 * A "line start" exists only after a real CRLF (or at the very beginning);
 * a bare LF or CR never starts a line, so nothing after one can end the
 * message or be read as a command (the SMTP smuggling class).
 */
enum dot_state {
	DS_BOL,     /* at a line start */
	DS_DOT,     /* "." at a line start */
	DS_DOT_CR,  /* ".\r" at a line start */
	DS_MID,     /* inside a line */
	DS_CR,      /* inside a line, after a CR */
};

struct dot_ctx {
	struct spool *sp;
	uint64_t max, total;
	size_t linelen;   /* octets of the current line as received */
	int toobig, bare, longline, spool_failed;
	size_t olen;
	unsigned char obuf[4096];
};

static void dot_flush(struct dot_ctx *d)
{
	if (d->olen && !d->spool_failed && spool_write(d->sp, d->obuf, d->olen) < 0)
		d->spool_failed = 1;
	d->olen = 0;
}

/* Emit one message byte, enforcing the size limit as we go. */
static void dot_emit(struct dot_ctx *d, unsigned char ch)
{
	if (d->toobig)
		return;
	if (d->total >= d->max) {
		d->toobig = 1; /* discard the excess, keep reading to the end */
		return;
	}
	d->total++;
	d->obuf[d->olen++] = ch;
	if (d->olen == sizeof d->obuf)
		dot_flush(d);
}

/* Feed one byte; returns 1 when the end marker has been consumed. */
static int dot_step(struct dot_ctx *d, enum dot_state *st, unsigned char ch)
{
	d->linelen++;
	switch (*st) {
	case DS_BOL:
		if (ch == '.') {
			*st = DS_DOT; /* RFC 5321 4.5.2: drop the stuffed dot */
			return 0;
		}
		*st = DS_MID;
		break;
	case DS_DOT:
		if (ch == '\r') {
			*st = DS_DOT_CR;
			return 0;
		}
		*st = DS_MID;
		break;
	case DS_DOT_CR:
		if (ch == '\n')
			return 1; /* CRLF "." CRLF */
		d->bare = 1;  /* ".\r" then something else: a bare CR */
		dot_emit(d, '\r');
		*st = DS_MID;
		break;
	case DS_CR:
		if (ch == '\n') {
			dot_emit(d, '\r');
			dot_emit(d, '\n');
			if (d->linelen > DOT_TEXT_LINE_MAX)
				d->longline = 1;
			d->linelen = 0;
			*st = DS_BOL;
			return 0;
		}
		d->bare = 1;
		dot_emit(d, '\r');
		*st = DS_MID;
		break;
	case DS_MID:
		break;
	}
	/* Now inside a line with ch still to handle. */
	if (ch == '\r') {
		*st = DS_CR;
		return 0;
	}
	if (ch == '\n')
		d->bare = 1;
	dot_emit(d, ch);
	return 0;
}

static int read_dot_op(struct conn *c, struct spool *sp, uint64_t max)
{
	struct dot_ctx *d = xcalloc(1, sizeof *d);
	enum dot_state st = DS_BOL;
	int done = 0, ret;

	d->sp = sp;
	d->max = max;
	while (!done) {
		if (c->in_off == c->in_len && fill(c) < 0) {
			free(d);
			return -1;
		}
		while (c->in_off < c->in_len && !done)
			done = dot_step(d, &st, c->in[c->in_off++]);
	}
	dot_flush(d);
	/* Smuggling first: it is the one that must never be accepted. A
	 * spool that failed (a full disk) still consumed the whole message,
	 * so the stream is in step and the session can answer and go on. */
	if (d->bare)
		ret = DOT_BARE_NL;
	else if (d->spool_failed)
		ret = DOT_SPOOL;
	else if (d->toobig)
		ret = DOT_TOOBIG;
	else if (d->longline)
		ret = DOT_LONGLINE;
	else
		ret = DOT_OK;
	free(d);
	return ret;
}

/* ---- the read operations, each under its total deadline ---- */

/* Start an operation of `factor` idle timeouts; 1 if this call set the
 * deadline (and must clear it), 0 if an outer operation already had one. */
static int op_begin(struct conn *c, int factor)
{
	if (c->op_deadline)
		return 0;
	c->op_deadline = now_ms() + (int64_t)c->timeout_ms * factor;
	return 1;
}

static void op_end(struct conn *c, int mine)
{
	if (mine)
		c->op_deadline = 0;
}

ssize_t conn_getline(struct conn *c, char **line, size_t max, int *crlf)
{
	int mine = op_begin(c, 1);
	ssize_t r = getline_op(c, line, max, crlf);
	op_end(c, mine);
	return r;
}

int conn_read_n(struct conn *c, void *buf, size_t n)
{
	int mine = op_begin(c, CONN_OP_FACTOR);
	int r = read_n_op(c, buf, n);
	op_end(c, mine);
	return r;
}

int conn_read_n_spool(struct conn *c, struct spool *sp, uint64_t n)
{
	int mine = op_begin(c, CONN_OP_FACTOR);
	int r = read_n_spool_op(c, sp, n);
	op_end(c, mine);
	return r;
}

int conn_read_dot(struct conn *c, struct spool *sp, uint64_t max)
{
	int mine = op_begin(c, CONN_OP_FACTOR);
	int r = read_dot_op(c, sp, max);
	op_end(c, mine);
	return r;
}

size_t conn_pending(const struct conn *c)
{
	return c->in_len - c->in_off + z_pending(c) + tls_decrypted_pending(c);
}

size_t conn_unsent(const struct conn *c, size_t *room)
{
	int q = 0, sz = 0;
	socklen_t len = sizeof sz;
	if (room)
		*room = 0;
	if (c->notsock)
		return 0;
	if (ioctl(c->fd, SIOCOUTQ, &q) < 0 || q < 0)
		q = 0;
	if (room && getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, &len) == 0 && sz > 0)
		*room = (size_t)sz;
	return c->out_len + (size_t)q;
}

/* ---- output ---- */

/* sync: the end of a burst (conn_flush), after which the peer must be able
 * to read everything; 0: c->out merely filled up, and deflate may keep
 * what it holds for the next block (RFC 4978 4: flushing costs ratio). */
static int out_flush(struct conn *c, int sync)
{
	if (c->err)
		return -1;
	if (c->z && !z_plain_out(c, sync)) {
		size_t n = c->out_len;
		c->out_len = 0;
		return z_send(c, c->out, n, sync);
	}
	if (!c->out_len) {
		tls_plain_out(c); /* STARTTLS: nothing was queued, TLS from here */
		return 0;
	}
	size_t n = c->out_len;
	c->out_len = 0;
	return transport_send(c, c->out, n);
}

int conn_flush(struct conn *c)
{
	return out_flush(c, 1);
}

int conn_write(struct conn *c, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	if (c->err)
		return -1;
	while (n) {
		size_t k = CONN_OUT_CAP - c->out_len;
		if (k > n)
			k = n;
		memcpy(c->out + c->out_len, p, k);
		c->out_len += k;
		p += k;
		n -= k;
		if (c->out_len == CONN_OUT_CAP && out_flush(c, 0) < 0)
			return -1;
	}
	return 0;
}

int conn_puts(struct conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char small[1024];
	int n;

	if (c->err)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return conn_write(c, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int r = conn_write(c, big, (size_t)n);
	free(big);
	return r;
}

/*
 * A client may still be sending (pipelined commands): closing with its
 * bytes unread makes the kernel reset the connection, and a reset can
 * destroy the last line before the client reads it. So: our side is done
 * (FIN after the line), then what arrives is read and dropped until the
 * client closes too, for a second at most. The reading side may have
 * been shut (recv then says 0 whether or not the client has closed), so
 * queued bytes are counted with FIONREAD and the client's FIN is seen in
 * the TCP state.
 */
static void linger_close(struct conn *c)
{
	if (c->notsock || shutdown(c->fd, SHUT_WR) < 0)
		return;
	for (int i = 0; i < 50; i++) {
		char junk[4096];
		int queued = 0;
		struct tcp_info ti;
		socklen_t tl = sizeof ti;
		while (ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0)
			if (recv(c->fd, junk, sizeof junk, MSG_DONTWAIT) <= 0)
				break;
		if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ||
		    (ti.tcpi_state != TCP_FIN_WAIT1 && ti.tcpi_state != TCP_FIN_WAIT2))
			return; /* the client closed too (or this is not TCP) */
		usleep(20000);
	}
}

void conn_set_deadline(struct conn *c, int ms)
{
	c->op_deadline = ms > 0 ? now_ms() + ms : 0;
}

void conn_end_input(struct conn *c)
{
	conn_fail(c, CONN_EOF);
}

/* After end of input (the server stopping shut the socket's reading side
 * or called conn_end_input, or the peer closed): one last line, if the
 * connection still carries it, within a second, after any output still
 * buffered. Not after a time-out or an I/O or TLS error. */
int conn_goodbye(struct conn *c, const char *line)
{
	if (c->err != CONN_EOF)
		return -1;
	c->err = CONN_OK;
	c->timeout_ms = 1000;
	c->op_deadline = 0;
	int r = conn_puts(c, line) < 0 || conn_flush(c) < 0 ? -1 : 0;
	c->err = CONN_EOF;
	if (r == 0)
		linger_close(c);
	return r;
}

int conn_linger(struct conn *c)
{
	if (conn_flush(c) < 0)
		return -1;
	linger_close(c);
	return 0;
}

int conn_timeout_reply(struct conn *c, const char *text)
{
	if (c->err != CONN_TIMEOUT)
		return -1;
	c->err = CONN_OK;
	c->timeout_ms = 1000;
	c->op_deadline = 0;
	int r = conn_puts(c, text) < 0 || conn_flush(c) < 0 ? -1 : 0;
	c->err = CONN_TIMEOUT;
	if (r == 0)
		linger_close(c);
	return r;
}

/* ---- accessors ---- */

int conn_error(const struct conn *c)
{
	return c->err;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

int conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

const char *conn_local(const struct conn *c)
{
	return c->local;
}

int conn_is_loopback(const struct conn *c)
{
	unsigned char a[16];
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	if (inet_pton(AF_INET, c->peer, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, c->peer, a) == 1)
		return memcmp(a, v6lo, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
	return 0;
}

/* ---- TLS: the BearSSL engine, driven by hand ---- */

struct conn_tls {
	br_ssl_engine_context *eng; /* &u.s.eng or &u.cl.c.eng */
	int client;
	int hs_done;
	int br_err;                 /* BearSSL's error when the engine closed */
	int plain_out;              /* STARTTLS: the next flush is still plaintext */
	int rd_eof;                 /* the socket's input ended (no close_notify) */
	struct tls_material *mat;   /* server: our reference to the chain and key */
	union {
		br_ssl_server_context s;
		struct {
			br_ssl_client_context c;
			struct tls_x509_verdict v;
		} cl;
	} u;
	/* Bidirectional: input and output records have their own halves, so a
	 * peer that pipelines while we answer cannot wedge the engine. */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Engine closed: a close_notify is a clean EOF, anything else a TLS error. */
static int tls_closed(struct conn *c)
{
	struct conn_tls *t = c->tls;
	t->br_err = br_ssl_engine_last_error(t->eng);
	if (t->br_err != BR_ERR_OK)
		log_debug("tls: %s:%d: %s error %d", c->peer, c->peer_port,
			  t->hs_done ? "session" : "handshake", t->br_err);
	return conn_fail(c, t->br_err == BR_ERR_OK ? CONN_EOF : CONN_TLS);
}

/* While waiting to send, move already-decrypted input into c->in (appending
 * only: no caller holds a position in it across a write). */
static size_t z_room(struct conn *c, unsigned char **dst);
static void z_added(struct conn *c, size_t n);

static int tls_pull_app(struct conn *c)
{
	size_t len, room;
	unsigned char *dst;
	if (c->z) {
		room = z_room(c, &dst); /* compressed: it is inflate's input */
	} else {
		if (c->in_off == c->in_len)
			c->in_off = c->in_len = 0;
		room = CONN_IN_CAP - c->in_len;
		dst = c->in + c->in_len;
	}
	if (!room)
		return 0;
	unsigned char *buf = br_ssl_engine_recvapp_buf(c->tls->eng, &len);
	if (len > room)
		len = room;
	memcpy(dst, buf, len);
	if (c->z)
		z_added(c, len);
	else
		c->in_len += len;
	br_ssl_engine_recvapp_ack(c->tls->eng, len);
	return 1;
}

/* One non-blocking step on the socket side. 1 progress, 0 would block,
 * -1 error (sticky error set). */
static int tls_io_step(struct conn *c, unsigned st, unsigned want)
{
	br_ssl_engine_context *eng = c->tls->eng;
	size_t len;
	if (st & BR_SSL_SENDREC) {
		unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
		ssize_t w = sys_send(c, buf, len);
		if (w > 0) {
			br_ssl_engine_sendrec_ack(eng, (size_t)w);
			return 1;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return conn_fail(c, errno == EPIPE || errno == ECONNRESET ? CONN_EOF : CONN_IO);
	}
	if ((st & BR_SSL_RECVREC) && c->tls->rd_eof) {
		if (want == BR_SSL_RECVAPP)
			return conn_fail(c, CONN_EOF);
	} else if (st & BR_SSL_RECVREC) {
		unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
		ssize_t r = sys_recv(c, buf, len);
		if (r > 0) {
			br_ssl_engine_recvrec_ack(eng, (size_t)r);
			return 1;
		}
		if (r == 0) {
			/* No close_notify: a truncation, EOF to a reader. A
			 * writer goes on (a stopping server shuts only the
			 * reading side first, so replies still go out). */
			c->tls->rd_eof = 1;
			return want == BR_SSL_RECVAPP ? conn_fail(c, CONN_EOF) : 1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return conn_fail(c, errno == ECONNRESET ? CONN_EOF : CONN_IO);
	}
	return 0;
}

/*
 * Run the engine until a state bit in want is set (BR_SSL_SENDAPP,
 * BR_SSL_RECVAPP), or with want == 0 until every record is on the wire.
 * The socket is serviced in both directions whichever we wait for: the
 * handshake needs both, and a peer that writes without reading still gets
 * its bytes taken in while our output waits.
 */
static int tls_run(struct conn *c, unsigned want, int ms)
{
	br_ssl_engine_context *eng = c->tls->eng;
	for (;;) {
		if (c->err)
			return -1;
		unsigned st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED)
			return tls_closed(c);
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
			c->tls->hs_done = 1;
		if (want && (st & want) && !(want == BR_SSL_SENDAPP && (st & BR_SSL_SENDREC)))
			return 0;
		if (!want && !(st & BR_SSL_SENDREC))
			return 0;
		if ((st & BR_SSL_RECVAPP) && want != BR_SSL_RECVAPP && tls_pull_app(c))
			continue;
		int r = tls_io_step(c, st, want);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		short ev = (short)((st & BR_SSL_SENDREC ? POLLOUT : 0) |
				   (st & BR_SSL_RECVREC && !c->tls->rd_eof ? POLLIN : 0));
		if (!ev) /* input ended and the engine needs input; else insane */
			return conn_fail(c, c->tls->rd_eof ? CONN_EOF : CONN_TLS);
		if (wait_fd(c, ev, ms) < 0)
			return -1;
	}
}

static ssize_t tls_read_app(struct conn *c, void *buf, size_t cap)
{
	size_t len;
	if (tls_run(c, BR_SSL_RECVAPP, c->timeout_ms) < 0)
		return -1;
	unsigned char *p = br_ssl_engine_recvapp_buf(c->tls->eng, &len);
	if (len > cap)
		len = cap;
	memcpy(buf, p, len);
	br_ssl_engine_recvapp_ack(c->tls->eng, len);
	return (ssize_t)len;
}

static int tls_write_app(struct conn *c, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	br_ssl_engine_context *eng = c->tls->eng;
	while (n) {
		size_t len;
		if (tls_run(c, BR_SSL_SENDAPP, c->timeout_ms) < 0)
			return -1;
		unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &len);
		if (len > n)
			len = n;
		memcpy(dst, p, len);
		br_ssl_engine_sendapp_ack(eng, len);
		p += len;
		n -= len;
	}
	br_ssl_engine_flush(eng, 0);
	return tls_run(c, 0, c->timeout_ms);
}

static size_t tls_decrypted_pending(const struct conn *c)
{
	size_t len = 0;
	if (c->tls && (br_ssl_engine_current_state(c->tls->eng) & BR_SSL_RECVAPP))
		br_ssl_engine_recvapp_buf(c->tls->eng, &len);
	return len;
}

/* Best effort close_notify (RFC 5246 7.2.1), bounded; we do not wait for
 * the peer's. */
static void tls_send_close(struct conn *c)
{
	br_ssl_engine_context *eng = c->tls->eng;
	if (c->err || !c->tls->hs_done)
		return;
	br_ssl_engine_close(eng);
	int64_t deadline = now_ms() + CLOSE_NOTIFY_MS;
	while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return;
		int r = tls_io_step(c, BR_SSL_SENDREC, 0);
		if (r < 0 || (r == 0 && wait_fd(c, POLLOUT, (int)left) < 0))
			return;
	}
}

static void tls_state_free(struct conn *c)
{
	if (!c->tls)
		return;
	tls_send_close(c);
	tls_material_put(&c->tls->mat);
	free(c->tls);
	c->tls = NULL;
}

/* Is this send the last plaintext one before STARTTLS takes over? Clears
 * the flag either way: only one flush stays plaintext. */
static int tls_plain_out(struct conn *c)
{
	if (!c->tls || !c->tls->plain_out)
		return 0;
	c->tls->plain_out = 0;
	return 1;
}

/* Switch to server TLS; the handshake runs on the next read or on the
 * first write after the plaintext reply. Nothing read in plaintext
 * survives: the input is empty (checked by the caller). */
static int start_server(struct conn *c, struct tls_server *t, int plain_reply)
{
	if (c->err || c->tls || !t)
		return -1;
	c->in_off = c->in_len = 0;
	if (c->line)
		c->line[0] = '\0';
	struct conn_tls *ct = xcalloc(1, sizeof *ct);
	ct->mat = tls_server_configure(t, &ct->u.s);
	ct->eng = &ct->u.s.eng;
	br_ssl_engine_set_buffer(ct->eng, ct->iobuf, sizeof ct->iobuf, 1);
	if (!br_ssl_server_reset(&ct->u.s)) {
		tls_material_put(&ct->mat);
		free(ct);
		return conn_fail(c, CONN_TLS);
	}
	ct->plain_out = plain_reply;
	c->tls = ct;
	return 0;
}

int conn_tls_accept(struct conn *c, struct tls_server *t)
{
	if (c->out_len && conn_flush(c) < 0)
		return -1;
	return start_server(c, t, 0);
}

int conn_starttls(struct conn *c, struct tls_server *t)
{
	/* RFC 3207 5 / RFC 2595 3.1: plaintext sent after STARTTLS in the same
	 * packet must never be read as if it came through TLS. */
	if (c->in_off != c->in_len || c->z)
		return -1;
	return start_server(c, t, 1);
}

int conn_tls_connect(struct conn *c, struct tls_client *t, const char *servername)
{
	/* The same injection rule on the client side: a reply that arrived
	 * with the 220 to STARTTLS is not ours to read after the handshake. */
	if (c->err || c->tls || !t || c->in_off != c->in_len)
		return -1;
	if (c->out_len && conn_flush(c) < 0)
		return -1;
	struct conn_tls *ct = xcalloc(1, sizeof *ct);
	ct->client = 1;
	tls_client_configure(t, &ct->u.cl.c, &ct->u.cl.v);
	ct->eng = &ct->u.cl.c.eng;
	br_ssl_engine_set_buffer(ct->eng, ct->iobuf, sizeof ct->iobuf, 1);
	if (!br_ssl_client_reset(&ct->u.cl.c, servername, 0)) {
		free(ct);
		return conn_fail(c, CONN_TLS);
	}
	c->tls = ct;
	return tls_run(c, BR_SSL_SENDAPP, c->timeout_ms);
}

int conn_is_tls(const struct conn *c)
{
	return c->tls != NULL;
}

const char *conn_tls_version(const struct conn *c)
{
	if (!c->tls || !c->tls->hs_done)
		return NULL;
	return tls_version_name(br_ssl_engine_get_version(c->tls->eng));
}

const char *conn_tls_cipher(const struct conn *c)
{
	br_ssl_session_parameters sp;
	if (!c->tls || !c->tls->hs_done)
		return NULL;
	br_ssl_engine_get_session_parameters(c->tls->eng, &sp);
	return tls_suite_name(sp.cipher_suite);
}

int conn_tls_verified(const struct conn *c)
{
	return c->tls && c->tls->client && c->tls->u.cl.v.verified;
}

int conn_tls_verify_error(const struct conn *c)
{
	return c->tls && c->tls->client ? c->tls->u.cl.v.err : 0;
}

/* IDLE: the socket became readable. Take in whatever records arrived
 * without blocking; 1 when application data (or the end) is there, 0 when
 * only part of a record came. */
static int tls_wait_pump(struct conn *c)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(c->tls->eng);
		if (st & BR_SSL_CLOSED) {
			tls_closed(c);
			return 1;
		}
		if (st & BR_SSL_RECVAPP)
			return 1;
		int r = tls_io_step(c, st, BR_SSL_RECVAPP);
		if (r < 0)
			return 1; /* the next read reports the sticky error */
		if (r == 0)
			return 0;
	}
}

/* ---- COMPRESS=DEFLATE (RFC 4978): raw deflate both ways ---- */

/* Memory per compressed session (zlib's own formula, zlib.h / zconf.h):
 * inflate must take any window the peer chose (RFC 4978 4: 32 KiB), so
 * 1 << 15 plus about 7 KiB of state; deflate is ours to size: windowBits
 * 14 and memLevel 6 take (1 << 16) + (1 << 15) = 96 KiB plus about 6 KiB,
 * where the default 15/8 would take 256 KiB. On mail text 14 costs a few
 * per cent of ratio against 15. With the two 16 KiB buffers below that is
 * about 175 KiB a session (177,216 bytes measured on x86-64), never grown:
 * zlib allocates at init, inflate its window once on first use, and
 * Z_MEM_BUDGET caps what it may take in all. */
#define Z_DEFLATE_WBITS 14
#define Z_DEFLATE_MEMLEVEL 6
#define Z_DEFLATE_LEVEL 6
#define Z_INFLATE_WBITS 15
#define Z_MEM_BUDGET (200 * 1024)
#define Z_IN_CAP CONN_IN_CAP /* holds what followed COMPRESS in c->in */
#define Z_OUT_CAP 16384

struct conn_z {
	z_stream inf, def;
	size_t mem;          /* what zlib allocated */
	size_t in_off, in_len; /* compressed input not yet inflated */
	int more;            /* inflate filled its output: it may hold more */
	int ended;           /* the peer ended its deflate stream */
	int dirty;           /* deflate holds input not yet flushed */
	int plain_out;       /* until the next conn_flush output stays plain */
	unsigned char in[Z_IN_CAP];
	unsigned char out[Z_OUT_CAP];
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	struct conn_z *z = opaque;
	size_t n = (size_t)items * size;
	if (n > Z_MEM_BUDGET - z->mem)
		return NULL;
	void *p = calloc(items, size);
	if (p)
		z->mem += n;
	return p;
}

static void z_free_fn(voidpf opaque, voidpf p)
{
	(void)opaque;
	free(p);
}

int conn_compress(struct conn *c)
{
	if (c->err || c->z)
		return -1;
	struct conn_z *z = xcalloc(1, sizeof *z);
	z->inf.zalloc = z->def.zalloc = z_alloc;
	z->inf.zfree = z->def.zfree = z_free_fn;
	z->inf.opaque = z->def.opaque = z;
	/* Negative windowBits: raw deflate, no zlib header or adler32
	 * (RFC 4978 4 refers to RFC 1951 only). */
	if (inflateInit2(&z->inf, -Z_INFLATE_WBITS) != Z_OK) {
		free(z);
		return -1;
	}
	if (deflateInit2(&z->def, Z_DEFLATE_LEVEL, Z_DEFLATED, -Z_DEFLATE_WBITS,
			 Z_DEFLATE_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->inf);
		free(z);
		return -1;
	}
	/* Whatever the peer sent after the command is already compressed. */
	z->in_len = c->in_len - c->in_off;
	memcpy(z->in, c->in + c->in_off, z->in_len);
	c->in_off = c->in_len = 0;
	z->plain_out = 1;
	c->z = z;
	return 0;
}

int conn_is_compressed(const struct conn *c)
{
	return c->z != NULL;
}

size_t conn_compress_mem(const struct conn *c)
{
	return c->z ? c->z->mem + sizeof *c->z : 0;
}

static void z_state_free(struct conn *c)
{
	if (!c->z)
		return;
	inflateEnd(&c->z->inf);
	deflateEnd(&c->z->def);
	free(c->z);
	c->z = NULL;
}

static int z_plain_out(struct conn *c, int sync)
{
	if (!c->z->plain_out)
		return 0;
	if (sync)
		c->z->plain_out = 0;
	return 1;
}

static size_t z_pending(const struct conn *c)
{
	return c->z ? c->z->in_len - c->z->in_off + (size_t)c->z->more : 0;
}

/* Room at the end of the compressed input (moved to the front first). */
static size_t z_room(struct conn *c, unsigned char **dst)
{
	struct conn_z *z = c->z;
	if (z->in_off) {
		memmove(z->in, z->in + z->in_off, z->in_len - z->in_off);
		z->in_len -= z->in_off;
		z->in_off = 0;
	}
	*dst = z->in + z->in_len;
	return Z_IN_CAP - z->in_len;
}

static void z_added(struct conn *c, size_t n)
{
	c->z->in_len += n;
}

/* Inflate buffered input into buf: bytes produced (0: it needs more
 * input), or -1 on a corrupt stream. Output is bounded by cap, so however
 * far a stream expands, it costs only CPU (bounded in turn by the read
 * deadline and the protocol's limits), never memory. */
static ssize_t z_inflate(struct conn *c, unsigned char *buf, size_t cap)
{
	struct conn_z *z = c->z;
	z->inf.next_in = z->in + z->in_off;
	z->inf.avail_in = (uInt)(z->in_len - z->in_off);
	z->inf.next_out = buf;
	z->inf.avail_out = (uInt)cap;
	int rc = inflate(&z->inf, Z_SYNC_FLUSH);
	z->in_off = z->in_len - z->inf.avail_in;
	size_t got = cap - z->inf.avail_out;
	z->more = z->inf.avail_out == 0;
	if (rc == Z_STREAM_END) {
		z->ended = 1; /* a final block: nothing can follow it */
		z->more = 0;
	} else if ((rc != Z_OK && rc != Z_BUF_ERROR) || (!got && z->inf.avail_in)) {
		log_debug("conn: %s:%d: bad compressed input (zlib %d)", c->peer, c->peer_port, rc);
		return conn_fail(c, CONN_IO);
	}
	if (!got && z->ended)
		return conn_fail(c, CONN_EOF);
	return (ssize_t)got;
}

/* fill()'s reader under compression: waits for the transport as needed;
 * > 0 bytes of plaintext, or -1. */
static ssize_t z_recv(struct conn *c, void *buf, size_t cap)
{
	struct conn_z *z = c->z;
	for (;;) {
		/* A bomb inflates without waiting on the socket, which is
		 * where deadlines are otherwise checked. */
		if (c->op_deadline && now_ms() > c->op_deadline)
			return conn_fail(c, CONN_TIMEOUT);
		if (z->in_off == z->in_len && !z->more && !z->ended) {
			unsigned char *dst;
			size_t room = z_room(c, &dst);
			ssize_t r = transport_recv(c, dst, room);
			if (r < 0)
				return -1;
			z_added(c, (size_t)r);
		}
		ssize_t n = z_inflate(c, buf, cap);
		if (n != 0)
			return n;
	}
}

/* Take compressed bytes the transport already has, without waiting:
 * 1 some, 0 none, -1 error (sticky error set). */
static int z_take_nowait(struct conn *c)
{
	unsigned char *dst;
	size_t room = z_room(c, &dst);
	if (c->tls) {
		if (!tls_wait_pump(c))
			return 0;
		if (c->err)
			return -1;
		return tls_pull_app(c);
	}
	ssize_t r = sys_recv(c, dst, room);
	if (r > 0) {
		z_added(c, (size_t)r);
		return 1;
	}
	if (r == 0)
		return conn_fail(c, CONN_EOF);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return conn_fail(c, errno == ECONNRESET ? CONN_EOF : CONN_IO);
}

/* conn_wait under compression: readable compressed bytes are input only
 * once they inflate to something (a partial block is not a command). 1
 * plaintext ready (or an error for the next read to report), 0 not yet. */
static int z_wait_pump(struct conn *c)
{
	struct conn_z *z = c->z;
	for (;;) {
		if (c->err || c->in_off != c->in_len)
			return 1;
		if (z->in_off == z->in_len && !z->more && !z->ended) {
			int r = z_take_nowait(c);
			if (r <= 0)
				return r < 0;
		}
		c->in_off = c->in_len = 0;
		ssize_t n = z_inflate(c, c->in, CONN_IN_CAP);
		if (n < 0)
			return 1;
		c->in_len = (size_t)n;
	}
}

/* Deflate n bytes and send what comes out; sync ends the burst with
 * Z_SYNC_FLUSH (RFC 4978 4: the peer must see a whole response without
 * waiting for more, IDLE above all). */
static int z_send(struct conn *c, const void *buf, size_t n, int sync)
{
	struct conn_z *z = c->z;
	if (!n && !(sync && z->dirty))
		return 0;
	z->def.next_in = buf;
	z->def.avail_in = (uInt)n;
	for (;;) {
		z->def.next_out = z->out;
		z->def.avail_out = Z_OUT_CAP;
		if (deflate(&z->def, sync ? Z_SYNC_FLUSH : Z_NO_FLUSH) == Z_STREAM_ERROR)
			return conn_fail(c, CONN_IO);
		size_t have = Z_OUT_CAP - z->def.avail_out;
		if (have && transport_send(c, z->out, have) < 0)
			return -1;
		if (z->def.avail_out && !z->def.avail_in)
			break;
	}
	z->dirty = !sync;
	return 0;
}

/* Plaintext ready now, without waiting: 1 yes (or an error to report). */
static int input_ready(struct conn *c)
{
	if (c->z)
		return c->in_off != c->in_len || z_wait_pump(c);
	return conn_pending(c) > 0;
}

int conn_wait(struct conn *c, int wakefd, int ms)
{
	if (c->err)
		return -1;
	if (input_ready(c))
		return 1;
	if (conn_flush(c) < 0)
		return -1;
	if (input_ready(c)) /* TLS: input decrypted while the flush waited */
		return 1;
	int64_t deadline = now_ms() + (ms < 0 ? 0 : ms);
	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wakefd, .events = POLLIN}};
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		int r = poll(p, wakefd >= 0 ? 2 : 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return conn_fail(c, CONN_IO);
		if (r == 0)
			return 0;
		if (p[0].revents && (c->z ? z_wait_pump(c) : !c->tls || tls_wait_pump(c)))
			return 1;
		if (wakefd >= 0 && p[1].revents)
			return 2;
	}
}

void conn_free(struct conn **cp)
{
	struct conn *c = *cp;
	if (!c)
		return;
	z_state_free(c);
	tls_state_free(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c->line);
	free(c);
	*cp = NULL;
}
