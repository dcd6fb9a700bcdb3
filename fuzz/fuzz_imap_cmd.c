/*
 * fuzz_imap_cmd.c — the IMAP command reader (imap_parse.c) on arbitrary
 * bytes: lines, literals of every kind, nesting; each input is read as a
 * stream of commands until the fake connection runs dry.
 *
 * The oracle (issue 24): the same input is read a second time through a
 * real connection (conn.c over a socketpair) that a writer thread feeds a
 * few bytes at a time (1 to 23 per write), as the network delivers them;
 * every command read (result, tag, name, error, the argument tree, the
 * spooled APPEND bytes) must equal the whole-input reading.
 */
/* deps: imap_parse message message_text spool util log conn tls */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "imap.h"
#include "spool.h"

struct fake {
	const uint8_t *p;
	size_t n, pos;
	char line[IMAP_LINE_MAX + 1];
};

static ssize_t f_getline(void *arg, char **line, size_t max)
{
	struct fake *f = arg;
	const uint8_t *s = f->p + f->pos, *nl;
	if (f->pos >= f->n || !(nl = memchr(s, '\n', f->n - f->pos)))
		return -1;
	size_t len = (size_t)(nl - s);
	f->pos += len + 1;
	if (len && s[len - 1] == '\r')
		len--;
	if (len > max)
		return -2;
	memcpy(f->line, s, len);
	f->line[len] = 0;
	*line = f->line;
	return (ssize_t)len;
}

static int f_read_n(void *arg, void *buf, size_t n)
{
	struct fake *f = arg;
	if (f->n - f->pos < n)
		return -1;
	memcpy(buf, f->p + f->pos, n);
	f->pos += n;
	return 0;
}

static int f_read_spool(void *arg, struct spool *sp, uint64_t n)
{
	struct fake *f = arg;
	if (f->n - f->pos < n)
		return -1;
	spool_write(sp, f->p + f->pos, (size_t)n);
	f->pos += (size_t)n;
	return 0;
}

static void f_cont(void *arg)
{
	(void)arg;
}

/* ---- the same through conn.c, a few bytes at a time ---- */

static ssize_t c_getline(void *arg, char **line, size_t max)
{
	return conn_getline(arg, line, max, NULL);
}

static int c_read_n(void *arg, void *buf, size_t n)
{
	return conn_read_n(arg, buf, n);
}

static int c_read_spool(void *arg, struct spool *sp, uint64_t n)
{
	return conn_read_n_spool(arg, sp, n);
}

struct feed {
	int fd;
	const uint8_t *p;
	size_t n;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	uint32_t rnd = (uint32_t)f->n;
	for (size_t off = 0; off < f->n;) {
		rnd = rnd * 1103515245u + 12345u;
		size_t k = 1 + (rnd >> 16) % 23;
		if (k > f->n - off)
			k = f->n - off;
		ssize_t w = send(f->fd, f->p + off, k, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the reader stopped early */
		off += (size_t)w;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* The argument tree as text. */
static void dump_args(struct sbuf *b, const struct iarg *a, const struct imap_cmd *c)
{
	for (; a; a = a->next) {
		sbuf_printf(b, "<%d %d %zu %d %llu %zu:", a->type, a->literal, a->len, a->spooled,
			    (unsigned long long)a->off, a->nkids);
		if (a->s)
			sbuf_add(b, a->s, a->type == IA_LIST ? 0 : a->len);
		dump_args(b, a->kids, c);
		sbuf_add(b, ">", 1);
	}
}

/* Read up to 64 commands from in, each described into b. */
static void read_all(struct imap_in *in, struct sbuf *b)
{
	for (int i = 0; i < 64; i++) {
		struct imap_cmd c;
		int rc = imap_cmd_read(in, &c);
		if (rc < 0) {
			/* the connection is gone: what was half read does not count */
			sbuf_add(b, "[gone]", 6);
			imap_cmd_clear(&c);
			break;
		}
		sbuf_printf(b, "[%d %s|%s|%d %d %s|%llu %zu %zu %zu %llu|", rc, c.tag, c.name, c.no,
			    c.fatal, c.err, (unsigned long long)c.bytes, c.ntok, c.nlit, c.nspooled,
			    (unsigned long long)c.spooled);
		dump_args(b, c.args, &c);
		if (c.spool) {
			char buf[4096];
			long got;
			for (uint64_t off = 0; (got = spool_read_at(c.spool, off, buf, sizeof buf)) > 0;
			     off += (uint64_t)got)
				sbuf_add(b, buf, (size_t)got);
		}
		imap_cmd_clear(&c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	struct sbuf whole = {0}, pieces = {0};
	int sv[2];
	pthread_t th;
	f.p = data;
	f.n = size;
	f.pos = 0;
	/* The first byte's low bit: before login (small literals only) or after. */
	int preauth = size && (data[0] & 1);
	struct imap_in in = {f_getline, f_read_n, f_read_spool, f_cont, &f, 1 << 20, preauth};
	read_all(&in, &whole);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	struct conn *c = conn_new(sv[1], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, 5000);
	struct feed fd = {sv[0], data, size};
	if (pthread_create(&th, NULL, feeder, &fd) != 0)
		abort();
	struct imap_in cin = {c_getline, c_read_n, c_read_spool, f_cont, c, 1 << 20, preauth};
	read_all(&cin, &pieces);
	conn_free(&c); /* closes sv[1]: a feeder still writing stops */
	pthread_join(th, NULL);
	close(sv[0]);
	if (whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len) != 0)
		abort(); /* the commands depend on how the bytes arrived */
	sbuf_free(&whole);
	sbuf_free(&pieces);
	return 0;
}
