/*
 * test_conn.c — conn.c over socketpair() and loopback TCP: bounded lines,
 * literals, SMTP DATA (dot-stuffing, bare CR/LF smuggling, size and line
 * limits), time-outs, the sticky error, output buffering, conn_wait; every
 * script is replayed with the input cut into random small pieces and must
 * give the identical transcript. COMPRESS=DEFLATE: the same script through
 * zlib's raw deflate (cut into pieces, byte by byte, sync-flushed at random
 * points) gives the same transcript; output inflates back whole at every
 * flush; a decompression bomb meets the line limit and the deadline with
 * the layer's memory fixed.
 */
/* deps: conn tls spool util log */
#include "harness.h"

#include "../../conn.h"
#include "../../spool.h"
#include "../../util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

/* ---- a writer thread that delivers a buffer in random pieces ---- */

struct writer {
	int fd;
	const char *data;
	size_t len;
	unsigned seed; /* 0: one write */
	int bytewise;  /* one byte per write */
	int close_after;
	pthread_t th;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	unsigned s = w->seed;
	while (off < w->len) {
		size_t n = w->len - off;
		if (w->bytewise) {
			n = 1;
		} else if (w->seed) {
			size_t k = (size_t)(rand_r(&s) % 13) + 1;
			if (k < n)
				n = k;
			if (rand_r(&s) % 4 == 0)
				sched_yield();
		}
		ssize_t r = write(w->fd, w->data + off, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	if (w->close_after)
		shutdown(w->fd, SHUT_WR);
	return NULL;
}

static int writer_bytewise; /* writer_start: every writer goes byte by byte */

static void writer_start(struct writer *w, int fd, const char *data, size_t len, unsigned seed)
{
	w->fd = fd;
	w->data = data;
	w->len = len;
	w->seed = seed;
	w->close_after = 1;
	w->bytewise = writer_bytewise;
	pthread_create(&w->th, NULL, writer_main, w);
}

/* ---- a transcript of what a protocol loop sees ---- */


static void sb_esc(struct sbuf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r')
			sbuf_puts(b, "\\r");
		else if (s[i] == '\n')
			sbuf_puts(b, "\\n");
		else
			sbuf_add(b, &s[i], 1);
	}
}

static void sb_spool(struct sbuf *b, struct spool *sp)
{
	unsigned char buf[512];
	uint64_t off = 0;
	long r;
	while ((r = spool_read_at(sp, off, buf, sizeof buf)) > 0) {
		sb_esc(b, buf, (size_t)r);
		off += (uint64_t)r;
	}
}

/* A little protocol: "DATA" (max 50), "DATAL" (max 100000), "LIT n",
 * "SPOOL n", "COMPRESS" (not in the transcript); everything else is echoed
 * into the transcript. */
/* A connected loopback TCP pair, like socketpair(). */
static int tcp_pair(int sv[2])
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	sv[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(sv[1], (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* keep the pieces small */
	sv[0] = accept(ls, NULL, NULL);
	close(ls);
	return sv[0] >= 0 ? 0 : -1;
}

static char *run_script_on(const char *input, size_t len, unsigned seed, int tcp)
{
	int sv[2];
	struct writer w;
	struct sbuf out = {0};
	char tmp[64];

	if ((tcp ? tcp_pair(sv) : socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) < 0)
		return NULL;
	writer_start(&w, sv[1], input, len, seed);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, 5000);
	struct spool *sp = spool_new(64);
	for (;;) {
		char *line;
		int crlf = -1;
		ssize_t n = conn_getline(c, &line, 100, &crlf);
		if (n == -1) {
			snprintf(tmp, sizeof tmp, "ERR %d\n", conn_error(c));
			sbuf_puts(&out, tmp);
			break;
		}
		if (n == -2) {
			sbuf_puts(&out, "TOOLONG\n");
			continue;
		}
		if (strcmp(line, "COMPRESS") == 0) {
			if (conn_compress(c) < 0)
				sbuf_puts(&out, "COMPRESS FAILED\n");
		} else if (strcmp(line, "DATA") == 0 || strcmp(line, "DATAL") == 0) {
			spool_reset(sp);
			int r = conn_read_dot(c, sp, line[4] ? 100000 : 50);
			snprintf(tmp, sizeof tmp, "DOT %d [", r);
			sbuf_puts(&out, tmp);
			sb_spool(&out, sp);
			sbuf_puts(&out, "]\n");
		} else if (strncmp(line, "LIT ", 4) == 0) {
			size_t k = (size_t)atoi(line + 4);
			unsigned char lit[256];
			int r = conn_read_n(c, lit, k);
			snprintf(tmp, sizeof tmp, "LIT %d [", r);
			sbuf_puts(&out, tmp);
			sb_esc(&out, lit, r == 0 ? k : 0);
			sbuf_puts(&out, "]\n");
		} else if (strncmp(line, "SPOOL ", 6) == 0) {
			spool_reset(sp);
			int r = conn_read_n_spool(c, sp, (uint64_t)atoi(line + 6));
			snprintf(tmp, sizeof tmp, "SPOOL %d [", r);
			sbuf_puts(&out, tmp);
			sb_spool(&out, sp);
			sbuf_puts(&out, "]\n");
		} else {
			snprintf(tmp, sizeof tmp, "LINE %d %zd [", crlf, n);
			sbuf_puts(&out, tmp);
			sb_esc(&out, (unsigned char *)line, (size_t)n);
			sbuf_puts(&out, "]\n");
		}
	}
	pthread_join(w.th, NULL);
	spool_free(&sp);
	conn_free(&c);
	close(sv[1]);
	return out.p;
}

static char *run_script(const char *input, size_t len, unsigned seed)
{
	return run_script_on(input, len, seed, 0);
}

static char *repeat(char ch, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static struct sbuf script_input(void)
{
	struct sbuf in = {0};
	char *x150 = repeat('x', 150), *l998 = repeat('y', 998), *l999 = repeat('z', 999);
	sbuf_puts(&in, "HELLO\r\n");
	sbuf_puts(&in, "bare\n");
	sbuf_puts(&in, x150);
	sbuf_puts(&in, "\r\n");
	sbuf_puts(&in, "after\r\n");
	sbuf_puts(&in, "LIT 5\r\nab\r\nc");
	sbuf_puts(&in, "SPOOL 4\r\n1234");
	sbuf_puts(&in, "DATA\r\nline1\r\n..dotted\r\n.\r\n");
	sbuf_puts(&in, "DATA\r\n.\r\n");
	sbuf_puts(&in, "DATA\r\na\n.\nb\r\n.\r\n");                   /* \n.\n */
	sbuf_puts(&in, "DATA\r\nx\r.\ny\r\n.\r\n");                   /* \r.\n */
	sbuf_puts(&in, "DATA\r\nx\n.\r\nMAIL FROM:<evil>\r\n.\r\n"); /* \n.\r\n */
	sbuf_puts(&in, "DATA\r\nx\rz\r\n.\r\n");                      /* bare CR */
	sbuf_puts(&in, "DATA\r\na\r\n.\r\r\n.\r\n");                  /* ".\r\r\n" */
	sbuf_puts(&in, "DATA\r\n0123456789012345678901234567890123456789012345678901234567890\r\n.\r\n");
	sbuf_puts(&in, "DATAL\r\n");
	sbuf_puts(&in, l998);
	sbuf_puts(&in, "\r\n.\r\n");
	sbuf_puts(&in, "DATAL\r\n");
	sbuf_puts(&in, l999);
	sbuf_puts(&in, "\r\n.\r\n");
	sbuf_puts(&in, "NOOP\r\n");
	sbuf_puts(&in, "QUIT\r\n");
	free(x150);
	free(l998);
	free(l999);
	return in;
}

TEST(script_transcript)
{
	struct sbuf in = script_input();
	char *got = run_script(in.p, in.len, 0);
	struct sbuf want = {0};
	char *l998 = repeat('y', 998);
	sbuf_puts(&want, "LINE 1 5 [HELLO]\n"
		      "LINE 0 4 [bare]\n"
		      "TOOLONG\n"
		      "LINE 1 5 [after]\n"
		      "LIT 0 [ab\\r\\nc]\n"
		      "SPOOL 0 [1234]\n"
		      "DOT 0 [line1\\r\\n.dotted\\r\\n]\n"
		      "DOT 0 []\n"
		      "DOT 2 [a\\n.\\nb\\r\\n]\n"
		      "DOT 2 [x\\r.\\ny\\r\\n]\n"
		      "DOT 2 [x\\n.\\r\\nMAIL FROM:<evil>\\r\\n]\n"
		      "DOT 2 [x\\rz\\r\\n]\n"
		      "DOT 2 [a\\r\\n\\r\\r\\n]\n"
		      "DOT 1 [01234567890123456789012345678901234567890123456789]\n"
		      "DOT 0 [");
	sbuf_puts(&want, l998);
	sbuf_puts(&want, "\\r\\n]\nDOT 3 [");
	memset(l998, 'z', 998);
	sbuf_puts(&want, l998);
	sbuf_puts(&want, "z\\r\\n]\n"
		      "LINE 1 4 [NOOP]\n"
		      "LINE 1 4 [QUIT]\n"
		      "ERR 1\n");
	CHECK(got != NULL);
	if (strcmp(got, want.p) != 0)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want.p);
	CHECK_EQ_STR(got, want.p);
	free(got);
	free(want.p);
	free(in.p);
	free(l998);
}

TEST(script_random_splits)
{
	struct sbuf in = script_input();
	char *ref = run_script(in.p, in.len, 0);
	for (unsigned seed = 1; seed <= 40; seed++) {
		char *got = run_script(in.p, in.len, seed);
		int same = got && strcmp(got, ref) == 0;
		free(got);
		CHECK(same);
	}
	free(ref);
	free(in.p);
}

TEST(script_random_splits_tcp)
{
	struct sbuf in = script_input();
	char *ref = run_script(in.p, in.len, 0);
	for (unsigned seed = 0; seed <= 10; seed++) {
		char *got = run_script_on(in.p, in.len, seed * 7919, 1);
		int same = got && strcmp(got, ref) == 0;
		free(got);
		CHECK(same);
	}
	free(ref);
	free(in.p);
}

TEST(getline_bounds)
{
	int sv[2];
	const char *in = "0123456789\r\n0123456789A\r\n0123456789\n01234567890\nok\r\n";
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], in, strlen(in)) == (ssize_t)strlen(in));
	struct conn *c = conn_new(sv[0], "::1", 2, "::1");
	char *line;
	int crlf;
	CHECK_EQ_INT(conn_getline(c, &line, 10, &crlf), 10);
	CHECK_EQ_STR(line, "0123456789");
	CHECK_EQ_INT(crlf, 1);
	CHECK_EQ_INT(conn_getline(c, &line, 10, &crlf), -2);
	CHECK_EQ_INT(conn_getline(c, &line, 10, &crlf), 10);
	CHECK_EQ_INT(crlf, 0);
	CHECK_EQ_INT(conn_getline(c, &line, 10, NULL), -2);
	CHECK_EQ_INT(conn_getline(c, &line, 10, &crlf), 2);
	CHECK_EQ_STR(line, "ok");
	CHECK_EQ_INT(conn_error(c), CONN_OK);
	conn_free(&c);
	CHECK(c == NULL);
	close(sv[1]);
}

TEST(getline_huge_line_then_next)
{
	int sv[2];
	struct writer w;
	struct sbuf in = {0};
	char *big = repeat('q', 200000);
	sbuf_puts(&in, big);
	sbuf_puts(&in, "\r\nnext\r\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	writer_start(&w, sv[1], in.p, in.len, 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	char *line;
	ssize_t a = conn_getline(c, &line, CONN_LINE_MAX, NULL);
	ssize_t b = conn_getline(c, &line, CONN_LINE_MAX, NULL);
	pthread_join(w.th, NULL);
	CHECK_EQ_INT(a, -2);
	CHECK_EQ_INT(b, 4);
	CHECK_EQ_STR(line, "next");
	conn_free(&c);
	close(sv[1]);
	free(big);
	free(in.p);
}

TEST(dot_eof_midway)
{
	int sv[2];
	const char *in = "partial message\r\nno end";
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], in, strlen(in)) == (ssize_t)strlen(in));
	shutdown(sv[1], SHUT_WR);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	struct spool *sp = spool_new(0);
	CHECK_EQ_INT(conn_read_dot(c, sp, 1000), -1);
	CHECK_EQ_INT(conn_error(c), CONN_EOF);
	spool_free(&sp);
	conn_free(&c);
	close(sv[1]);
}

TEST(dot_big_to_spool_file)
{
	/* 3 MB of dot-stuffed lines through a 64-byte in-memory spool. */
	int sv[2];
	struct writer w;
	struct sbuf in = {0};
	for (int i = 0; i < 40000; i++)
		sbuf_puts(&in, i % 7 ? "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n"
				  : "..leading dot line stuffed\r\n");
	sbuf_puts(&in, ".\r\nNEXT\r\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	writer_start(&w, sv[1], in.p, in.len, 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	struct spool *sp = spool_new(64);
	int r = conn_read_dot(c, sp, 100u << 20);
	char *line;
	ssize_t n = conn_getline(c, &line, 100, NULL);
	pthread_join(w.th, NULL);
	CHECK_EQ_INT(r, DOT_OK);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_STR(line, "NEXT");
	/* 40000 lines; every 7th lost its stuffing dot; minus the final ".\r\nNEXT\r\n" */
	CHECK_EQ_INT(spool_size(sp), in.len - 9 - (40000 + 6) / 7);
	spool_free(&sp);
	conn_free(&c);
	close(sv[1]);
	free(in.p);
}

TEST(timeout_is_sticky)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	conn_set_timeout(c, 100);
	char *line;
	int64_t t0 = now_ms();
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), -1);
	CHECK(now_ms() - t0 >= 90);
	CHECK_EQ_INT(conn_error(c), CONN_TIMEOUT);
	CHECK(write(sv[1], "late\r\n", 6) == 6);
	t0 = now_ms();
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), -1);
	CHECK_EQ_INT(conn_printf(c, "x"), -1);
	CHECK_EQ_INT(conn_flush(c), -1);
	CHECK(now_ms() - t0 < 50);
	CHECK_EQ_INT(conn_error(c), CONN_TIMEOUT);
	conn_free(&c);
	close(sv[1]);
}

TEST(write_to_closed_peer)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	CHECK_EQ_INT(conn_puts(c, "hello\r\n"), 0); /* buffered */
	CHECK_EQ_INT(conn_flush(c), -1);
	CHECK(conn_error(c) == CONN_EOF || conn_error(c) == CONN_IO);
	conn_free(&c);
}

struct reader {
	int fd;
	size_t want, got;
	char *buf;
	pthread_t th;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (r->got < r->want) {
		ssize_t n = read(r->fd, r->buf + r->got, r->want - r->got);
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

TEST(output_buffering)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	char *big = repeat('b', 5000);
	CHECK_EQ_INT(conn_printf(c, "250-%s %d\r\n", "x", 42), 0);
	struct pollfd p = {.fd = sv[1], .events = POLLIN};
	CHECK_EQ_INT(poll(&p, 1, 0), 0); /* nothing sent yet */
	struct reader rd = {.fd = sv[1], .want = 10 + 5002 + 50000 + 5};
	rd.buf = xmalloc(rd.want);
	pthread_create(&rd.th, NULL, reader_main, &rd);
	int ok = conn_printf(c, "%s\r\n", big) == 0;
	for (int i = 0; i < 10; i++)
		ok &= conn_write(c, big, 5000) == 0;
	ok &= conn_puts(c, "END\r\n") == 0;
	ok &= conn_flush(c) == 0;
	pthread_join(rd.th, NULL);
	CHECK(ok);
	CHECK_EQ_INT(rd.got, rd.want);
	CHECK(memcmp(rd.buf, "250-x 42\r\nbbb", 13) == 0);
	CHECK(memcmp(rd.buf + rd.want - 8, "bbbEND\r\n", 8) == 0);
	free(rd.buf);
	free(big);
	conn_free(&c);
	close(sv[1]);
}

TEST(read_flushes_pending_output)
{
	/* A reply left in the buffer goes out before conn_getline waits. */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	conn_set_timeout(c, 200);
	CHECK_EQ_INT(conn_puts(c, "220 hi\r\n"), 0);
	char *line;
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), -1); /* times out */
	char buf[16] = {0};
	CHECK_EQ_INT(read(sv[1], buf, sizeof buf), 8);
	CHECK_EQ_STR(buf, "220 hi\r\n");
	conn_free(&c);
	close(sv[1]);
}

TEST(wait_plain)
{
	int sv[2], pp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(pp) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 3, "127.0.0.1");
	int64_t t0 = now_ms();
	CHECK_EQ_INT(conn_wait(c, pp[0], 100), 0);
	CHECK(now_ms() - t0 >= 90);
	CHECK(write(pp[1], "w", 1) == 1);
	CHECK_EQ_INT(conn_wait(c, pp[0], 1000), 2);
	char ch;
	CHECK(read(pp[0], &ch, 1) == 1);
	CHECK(write(sv[1], "DONE\r\nA1 NOOP\r\n", 15) == 15);
	CHECK_EQ_INT(conn_wait(c, pp[0], 1000), 1);
	char *line;
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), 4);
	CHECK_EQ_INT(conn_pending(c), 9);
	CHECK_EQ_INT(conn_wait(c, -1, 1000), 1); /* already buffered */
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), 7);
	CHECK_EQ_INT(conn_pending(c), 0);
	CHECK_EQ_INT(conn_wait(c, -1, 10), 0);
	conn_free(&c);
	close(sv[1]);
	close(pp[0]);
	close(pp[1]);
}

TEST(loopback_tcp)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK(listen(ls, 4) == 0);
	CHECK(getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&sa, sizeof sa) == 0);
	int fd = accept(ls, NULL, NULL);
	CHECK(fd >= 0);
	struct conn *c = conn_new(fd, "127.0.0.1", 40000, "127.0.0.1");
	CHECK_EQ_INT(conn_is_loopback(c), 1);
	CHECK_EQ_STR(conn_peer(c), "127.0.0.1");
	CHECK_EQ_INT(conn_peer_port(c), 40000);
	CHECK_EQ_STR(conn_local(c), "127.0.0.1");
	CHECK_EQ_INT(conn_is_tls(c), 0);
	CHECK(conn_tls_version(c) == NULL);
	CHECK(write(cl, "EHLO x\r\n", 8) == 8);
	char *line;
	CHECK_EQ_INT(conn_getline(c, &line, 512, NULL), 6);
	CHECK_EQ_INT(conn_printf(c, "250 %s\r\n", line), 0);
	CHECK_EQ_INT(conn_flush(c), 0);
	char buf[32] = {0};
	CHECK_EQ_INT(read(cl, buf, sizeof buf), 12);
	CHECK_EQ_STR(buf, "250 EHLO x\r\n");
	close(cl);
	CHECK_EQ_INT(conn_getline(c, &line, 512, NULL), -1);
	CHECK_EQ_INT(conn_error(c), CONN_EOF);
	conn_free(&c);
	close(ls);
}

TEST(is_loopback)
{
	static const struct {
		const char *a;
		int lo;
	} cases[] = {{"127.0.0.1", 1}, {"127.9.8.7", 1}, {"::1", 1},     {"::ffff:127.0.0.2", 1},
		     {"10.0.0.1", 0},  {"::2", 0},       {"fe80::1", 0}, {"128.0.0.1", 0},
		     {"", 0},          {"localhost", 0}};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct conn *c = conn_new(-1, cases[i].a, 1, "");
		int lo = conn_is_loopback(c);
		conn_free(&c);
		CHECK_EQ_INT(lo, cases[i].lo);
	}
}

/* ---- COMPRESS=DEFLATE ---- */

/* zlib as the peer: raw deflate (RFC 4978 4) of p into out, with a
 * Z_SYNC_FLUSH after each piece of 1..cut bytes (cut 0: one piece). */
static void z_deflate_pieces(z_stream *d, const char *p, size_t n, unsigned seed, size_t cut,
			     struct sbuf *out)
{
	unsigned char buf[65536];
	while (n) {
		size_t k = cut ? (size_t)(rand_r(&seed) % cut) + 1 : n;
		if (k > n)
			k = n;
		d->next_in = (unsigned char *)p;
		d->avail_in = (uInt)k;
		do {
			d->next_out = buf;
			d->avail_out = sizeof buf;
			deflate(d, Z_SYNC_FLUSH);
			sbuf_add(out, buf, sizeof buf - d->avail_out);
		} while (d->avail_out == 0);
		p += k;
		n -= k;
	}
}

static struct sbuf z_script(const char *p, size_t n, unsigned seed, size_t cut)
{
	struct sbuf out = {0};
	z_stream d = {0};
	CHECK(deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	sbuf_puts(&out, "COMPRESS\r\n"); /* then compressed at once, as if pipelined */
	z_deflate_pieces(&d, p, n, seed, cut, &out);
	deflateEnd(&d);
	return out;
}

/* The whole script through the layer: the transcript is the plain one,
 * whatever the deflate flush points and however the bytes arrive. */
TEST(compress_script_transcript)
{
	struct sbuf in = script_input();
	char *ref = run_script(in.p, in.len, 0);
	for (unsigned seed = 0; seed <= 12; seed++) {
		struct sbuf zin = z_script(in.p, in.len, seed, seed ? seed * 37 : 0);
		writer_bytewise = seed % 4 == 3;
		char *got = run_script(zin.p, zin.len, seed * 7919);
		writer_bytewise = 0;
		if (!got || strcmp(got, ref) != 0)
			fprintf(stderr, "seed %u got:\n%s\n", seed, got ? got : "(null)");
		int same = got && strcmp(got, ref) == 0;
		free(got);
		free(zin.p);
		CHECK(same);
	}
	free(ref);
	free(in.p);
}

/* Read what the peer has within ms and inflate it into out. */
static void z_peer_read(int fd, z_stream *inf, struct sbuf *out, int ms)
{
	unsigned char raw[65536], plain[65536];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, ms) == 1) {
		ssize_t r = read(fd, raw, sizeof raw);
		if (r <= 0)
			break;
		inf->next_in = raw;
		inf->avail_in = (uInt)r;
		do {
			inf->next_out = plain;
			inf->avail_out = sizeof plain;
			int rc = inflate(inf, Z_SYNC_FLUSH);
			CHECK(rc == Z_OK || rc == Z_BUF_ERROR);
			sbuf_add(out, plain, sizeof plain - inf->avail_out);
		} while (inf->avail_in || inf->avail_out == 0);
		ms = 50; /* the rest of what was flushed */
	}
}

/* Output: the reply to COMPRESS goes out plain, everything after as one
 * deflate stream, and each conn_flush() makes all of it readable at once
 * (RFC 4978 4: the sync flush; IDLE replies must not wait for more). */
TEST(compress_output_flushes)
{
	int sv[2];
	char raw[64];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 4, "127.0.0.1");
	conn_set_timeout(c, 5000);
	CHECK_EQ_INT(conn_compress(c), 0);
	CHECK_EQ_INT(conn_compress(c), -1); /* once only */
	CHECK(conn_is_compressed(c));
	conn_puts(c, "a OK DEFLATE active\r\n");
	CHECK_EQ_INT(conn_flush(c), 0);
	ssize_t r = read(sv[1], raw, sizeof raw);
	CHECK(r == 21 && memcmp(raw, "a OK DEFLATE active\r\n", 21) == 0);

	z_stream inf = {0};
	CHECK(inflateInit2(&inf, -15) == Z_OK);
	struct sbuf got = {0}, want = {0};
	conn_puts(c, "* 3 EXISTS\r\n");
	CHECK_EQ_INT(conn_flush(c), 0);
	z_peer_read(sv[1], &inf, &got, 2000);
	CHECK(got.len == 12 && memcmp(got.p, "* 3 EXISTS\r\n", 12) == 0);
	/* Several buffer-fulls (flushed without a sync in between), then
	 * one conn_flush: all of it, exactly. */
	got.len = 0;
	for (int i = 0; i < 4000; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "* %d FETCH (UID %d FLAGS (\\Seen))\r\n", i, i * 7);
		sbuf_add(&want, line, (size_t)n);
		CHECK_EQ_INT(conn_write(c, line, (size_t)n), 0);
	}
	CHECK_EQ_INT(conn_flush(c), 0);
	z_peer_read(sv[1], &inf, &got, 2000);
	CHECK(got.len == want.len && memcmp(got.p, want.p, want.len) == 0);
	CHECK(conn_compress_mem(c) > 0 && conn_compress_mem(c) < 256 * 1024);
	fprintf(stderr, "compress: %zu bytes of layer per session\n", conn_compress_mem(c));
	inflateEnd(&inf);
	free(got.p);
	free(want.p);
	conn_free(&c);
	close(sv[1]);
}

/* conn_wait (IDLE): compressed bytes that inflate to nothing yet (an
 * empty sync-flush block, the first byte of a block) are not input, the
 * rest is. */
TEST(compress_wait_partial_block)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 5, "127.0.0.1");
	CHECK_EQ_INT(conn_compress(c), 0);
	struct sbuf z = {0};
	z_stream d = {0};
	CHECK(deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	unsigned char empty[16];
	d.next_out = empty;
	d.avail_out = sizeof empty;
	CHECK(deflate(&d, Z_SYNC_FLUSH) == Z_OK);
	size_t elen = sizeof empty - d.avail_out;
	z_deflate_pieces(&d, "DONE\r\n", 6, 0, 0, &z);
	deflateEnd(&d);
	CHECK(elen > 0 && z.len > 6);
	CHECK(write(sv[1], empty, elen) == (ssize_t)elen);
	CHECK_EQ_INT(conn_wait(c, -1, 200), 0);
	CHECK(write(sv[1], z.p, 1) == 1);
	CHECK_EQ_INT(conn_wait(c, -1, 200), 0);
	CHECK(write(sv[1], z.p + 1, z.len - 1) == (ssize_t)(z.len - 1));
	CHECK_EQ_INT(conn_wait(c, -1, 2000), 1);
	char *line;
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), 4);
	CHECK_EQ_STR(line, "DONE");
	/* Not deflate at all: an error, never bytes. */
	CHECK(write(sv[1], "\xff\xff\xff\xff garbage\r\n", 14) == 14);
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), -1);
	CHECK_EQ_INT(conn_error(c), CONN_IO);
	free(z.p);
	conn_free(&c);
	close(sv[1]);
}

/* A bomb: ~250 KB that inflate to 256 MiB of one line. The line limit
 * throws it away as it streams (the next line is read intact), the
 * layer's memory stays what it was, and the process does not grow. */
TEST(compress_bomb_bounded)
{
	int sv[2];
	struct writer w;
	struct sbuf z = {0};
	z_stream d = {0};
	static char a[1 << 16];
	memset(a, 'a', sizeof a);
	CHECK(deflateInit2(&d, 1, Z_DEFLATED, -15, 8, Z_RLE) == Z_OK);
	for (int i = 0; i < 4096; i++)
		z_deflate_pieces(&d, a, sizeof a, 0, 0, &z);
	z_deflate_pieces(&d, "\r\nnext\r\n", 8, 0, 0, &z);
	deflateEnd(&d);
	CHECK(z.len < 4 << 20);
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	writer_start(&w, sv[1], z.p, z.len, 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 6, "127.0.0.1");
	conn_set_timeout(c, 60000);
	CHECK_EQ_INT(conn_compress(c), 0);
	char *line;
	CHECK_EQ_INT(conn_getline(c, &line, 1000, NULL), -2);
	CHECK_EQ_INT(conn_getline(c, &line, 1000, NULL), 4);
	CHECK_EQ_STR(line, "next");
	CHECK(conn_compress_mem(c) < 200 * 1024); /* the ~175 KiB conn.c states */
	getrusage(RUSAGE_SELF, &ru1);
	fprintf(stderr, "bomb: %zu bytes in, 256 MiB inflated, layer %zu bytes, max RSS +%ld KiB\n",
		z.len, conn_compress_mem(c), ru1.ru_maxrss - ru0.ru_maxrss);
	CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 64 * 1024);
	pthread_join(w.th, NULL);
	conn_free(&c);
	close(sv[1]);
	free(z.p);
}

/* A bomb that never ends: input is always there, so the socket never
 * waits, yet the line's deadline still ends the read. */
struct endless {
	int fd;
	const unsigned char *blk;
	size_t len;
	volatile int stop;
	pthread_t th;
};

static void *endless_main(void *arg)
{
	struct endless *e = arg;
	int64_t end = now_ms() + 20000; /* bounded even if the reader hangs */
	while (!e->stop && now_ms() < end)
		if (write(e->fd, e->blk, e->len) <= 0)
			break;
	return NULL;
}

TEST(compress_bomb_deadline)
{
	int sv[2];
	struct sbuf z = {0}, first = {0};
	z_stream d = {0};
	static char a[1 << 16];
	memset(a, 'a', sizeof a);
	CHECK(deflateInit2(&d, 1, Z_DEFLATED, -15, 8, Z_RLE) == Z_OK);
	z_deflate_pieces(&d, "a", 1, 0, 0, &first);
	/* After one 'a', a block of 'a's is "copy from distance 1": the same
	 * bytes are valid again and again. */
	z_deflate_pieces(&d, a, sizeof a, 0, 0, &z);
	deflateEnd(&d);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], first.p, first.len) == (ssize_t)first.len);
	struct endless e = {.fd = sv[1], .blk = (unsigned char *)z.p, .len = z.len};
	pthread_create(&e.th, NULL, endless_main, &e);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 7, "127.0.0.1");
	conn_set_timeout(c, 300);
	CHECK_EQ_INT(conn_compress(c), 0);
	char *line;
	int64_t t0 = now_ms();
	ssize_t n = conn_getline(c, &line, 1000, NULL);
	int64_t took = now_ms() - t0;
	e.stop = 1;
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(e.th, NULL);
	CHECK_EQ_INT(n, -1);
	CHECK_EQ_INT(conn_error(c), CONN_TIMEOUT);
	CHECK(took < 10000);
	conn_free(&c);
	close(sv[1]);
	free(z.p);
	free(first.p);
}

/* harness.h's main() keeps counters across longjmp; gcc -O2 warns. */
#pragma GCC diagnostic ignored "-Wclobbered"
TEST_MAIN()
