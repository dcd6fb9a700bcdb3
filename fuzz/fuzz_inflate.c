/*
 * fuzz_inflate.c — conn.c's COMPRESS=DEFLATE layer (RFC 4978) on hostile
 * compressed input: conn_getline and conn_read_n through conn_compress().
 *
 * The first byte picks the input's form. Even: the rest is taken as the
 * peer's raw deflate bytes as they are (corrupt blocks, bad distances,
 * stored-length mismatches, final blocks followed by junk, streams that
 * stop mid-block). Odd: the rest is plaintext that this target deflates
 * itself with a Z_SYNC_FLUSH every few bytes (the byte says how many), so
 * the fuzzer's mutations reach conn's line and literal logic through valid
 * streams too (zlib is not instrumented: coverage alone would not find
 * valid deflate).
 *
 * The oracle is zlib itself over the whole input at once: its output P,
 * cut into lines as fuzz_conn's model does ("LIT n" reads n bytes). What
 * conn returns must be exactly P's lines, in order. After the last line: a
 * stream that is cut short or ends with a final block is CONN_EOF; a corrupt
 * one is CONN_IO, and conn may have given fewer lines than P (bytes inflated
 * just before the error are dropped, never returned). Inputs whose P passes
 * 1 MiB are skipped: they prove only speed, which the bomb tests cover.
 */
/* deps: conn tls spool util log */
#include "../conn.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define P_MAX (1u << 20)

/* zlib over everything: the plaintext in *out (*olen) and how it ended:
 * 0 cut short, 1 final block, 2 corrupt, -1 over P_MAX. */
static int ref_inflate(const uint8_t *z, size_t n, uint8_t *out, size_t *olen)
{
	z_stream s = {0};
	if (inflateInit2(&s, -15) != Z_OK)
		abort();
	s.next_in = (uint8_t *)z;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = P_MAX;
	int rc = inflate(&s, Z_SYNC_FLUSH);
	*olen = P_MAX - s.avail_out;
	int full = s.avail_out == 0;
	inflateEnd(&s);
	if (rc == Z_STREAM_END)
		return 1;
	if (full)
		return -1;
	return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : 2;
}

/* The plaintext form: deflate body with a sync flush every step bytes. */
static uint8_t *deflate_steps(const uint8_t *p, size_t n, size_t step, size_t *zlen)
{
	z_stream s = {0};
	size_t cap = n + n / 8 + 64 + (n / step + 1) * 6, len = 0;
	uint8_t *z = malloc(cap);
	if (deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		s.next_in = (uint8_t *)p + off;
		s.avail_in = (uInt)k;
		s.next_out = z + len;
		s.avail_out = (uInt)(cap - len);
		if (deflate(&s, Z_SYNC_FLUSH) != Z_OK || s.avail_in)
			abort();
		len = cap - s.avail_out;
	}
	deflateEnd(&s);
	*zlen = len;
	return z;
}

/* The next line of P from off, as fuzz_conn's model: -1 no LF before the
 * end, -2 longer than 200. */
static long ref_line(const uint8_t *p, size_t n, size_t *off, size_t *s)
{
	const uint8_t *nl = memchr(p + *off, '\n', n - *off);
	if (!nl)
		return -1;
	size_t e = (size_t)(nl - p), len = e - *off;
	*s = *off;
	*off = e + 1;
	if (len && p[e - 1] == '\r')
		len--;
	return len > 200 ? -2 : (long)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 60000)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *z = data + 1;
	size_t zlen = size - 1;
	uint8_t *own = NULL;
	if (mode & 1)
		z = own = deflate_steps(data + 1, size - 1, (size_t)(mode >> 1) + 1, &zlen);
	static uint8_t p[P_MAX];
	size_t plen = 0;
	int how = ref_inflate(z, zlen, p, &plen);
	int fd[2];
	if (how < 0 || pipe(fd) < 0)
		goto out;
	fcntl(fd[1], F_SETPIPE_SZ, 1 << 20);
	if (write(fd[1], z, zlen) != (ssize_t)zlen) {
		close(fd[0]);
		close(fd[1]);
		goto out;
	}
	close(fd[1]);
	struct conn *c = conn_new(fd[0], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, 10000);
	if (conn_compress(c) < 0)
		abort();
	size_t off = 0;
	for (;;) {
		char *line;
		size_t s = 0;
		ssize_t n = conn_getline(c, &line, 200, NULL);
		long rn = ref_line(p, plen, &off, &s);
		if (n == -1) {
			/* Only where P has no further line, unless corrupt. */
			if (how != 2 && rn != -1)
				abort();
			if (conn_error(c) != (how == 2 ? CONN_IO : CONN_EOF))
				abort();
			break;
		}
		if (n != rn || (n >= 0 && memcmp(line, p + s, (size_t)n) != 0))
			abort();
		if (n > 4 && memcmp(line, "LIT ", 4) == 0) {
			char buf[4096];
			size_t k = (size_t)atoi(line + 4) % sizeof buf;
			int r = conn_read_n(c, buf, k);
			if (r == 0 && (plen - off < k || memcmp(buf, p + off, k) != 0))
				abort();
			if (r < 0 && how != 2 && plen - off >= k)
				abort();
			if (r < 0)
				break;
			off += k;
		}
	}
	conn_free(&c);
out:
	free(own);
	return 0;
}
