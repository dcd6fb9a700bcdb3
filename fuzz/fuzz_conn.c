/*
 * fuzz_conn.c — conn.c's readers on hostile bytes: conn_getline bounds,
 * conn_read_n, and conn_read_dot's smuggling/size/line-length state
 * machine. The input is a tiny protocol: "DATA" lines start a dot-terminated
 * body (limit 1500 bytes), "LIT n" reads n bytes, anything else is a line.
 *
 * The oracle (issue 24) is a reference model written the plain way, over the
 * whole input at once: a line ends at the first LF (a CR before it is not
 * part of it, longer than 200 is -2, none before the end is -1); DATA ends
 * at the first CRLF "." CRLF (or "." CRLF at once); the message is the text
 * before it cut at each CRLF, a leading dot dropped from each line (RFC
 * 5321 4.5.2); a CR not followed by LF or an LF not after CR anywhere in it
 * is DOT_BARE_NL, then DOT_TOOBIG, then DOT_LONGLINE (a line over 1000
 * octets as received). Every result, every byte of every line and the
 * spooled message must equal the model's, and each read must leave the
 * stream where the model says: the next line read proves it.
 */
/* deps: conn tls spool util log */
#include "../conn.h"
#include "../spool.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOT_MAX 1500

/* ---- the model ---- */

/* The next line from off: its length (-2 too long, -1 no LF before the
 * end), start in *s, and *off past its LF. */
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

/* DATA from off: -1 when the input ends first, else the result code with
 * the message in msg (*mlen) and *off past the end marker. */
static int ref_dot(const uint8_t *p, size_t n, size_t *off, uint8_t *msg, size_t *mlen)
{
	const uint8_t *d = p + *off;
	size_t dn = n - *off, end = 0, used = 0, i;
	int found = 0, bare = 0, longline = 0;
	if (dn >= 3 && memcmp(d, ".\r\n", 3) == 0) {
		found = 1, end = 0, used = 3;
	} else {
		for (i = 0; i + 5 <= dn; i++)
			if (memcmp(d + i, "\r\n.\r\n", 5) == 0) {
				found = 1, end = i + 2, used = i + 5;
				break;
			}
	}
	if (!found)
		return -1;
	*off += used;
	*mlen = 0;
	for (size_t s = 0; s < end;) {
		size_t e = s;
		while (!(d[e] == '\r' && d[e + 1] == '\n'))
			e++; /* d[end-2..end-1] is a CRLF: this stops */
		if (e - s + 2 > 1000)
			longline = 1;
		size_t from = s < e && d[s] == '.' ? s + 1 : s;
		memcpy(msg + *mlen, d + from, e - from);
		*mlen += e - from;
		msg[(*mlen)++] = '\r';
		msg[(*mlen)++] = '\n';
		s = e + 2;
	}
	for (i = 0; i < end; i++)
		if ((d[i] == '\r' && (i + 1 == end || d[i + 1] != '\n')) ||
		    (d[i] == '\n' && (i == 0 || d[i - 1] != '\r')))
			bare = 1;
	return bare ? DOT_BARE_NL : *mlen > DOT_MAX ? DOT_TOOBIG : longline ? DOT_LONGLINE : DOT_OK;
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int p[2];
	if (size > 60000 || pipe(p) < 0)
		return 0;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	if (write(p[1], data, size) != (ssize_t)size) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	close(p[1]);
	struct conn *c = conn_new(p[0], "127.0.0.1", 1, "127.0.0.1");
	struct spool *sp = spool_new(512);
	uint8_t *want = malloc(size + 1), *got = malloc(size + 1);
	size_t off = 0; /* the model's position */
	conn_set_timeout(c, 1000);
	for (;;) {
		char *line;
		size_t s = 0;
		ssize_t n = conn_getline(c, &line, 200, NULL);
		long rn = ref_line(data, size, &off, &s);
		if (n != rn || (n >= 0 && memcmp(line, data + s, (size_t)n) != 0))
			abort();
		if (n == -1)
			break;
		if (n == 4 && memcmp(line, "DATA", 4) == 0) {
			size_t mlen = 0;
			spool_reset(sp);
			int r = conn_read_dot(c, sp, DOT_MAX);
			int rr = ref_dot(data, size, &off, want, &mlen);
			if (r != rr || spool_size(sp) > DOT_MAX)
				abort();
			if (r < 0)
				break;
			size_t keep = mlen < DOT_MAX ? mlen : DOT_MAX;
			if (spool_size(sp) != keep || spool_read_at(sp, 0, got, keep) != (long)keep ||
			    memcmp(got, want, keep) != 0)
				abort();
		} else if (n > 4 && memcmp(line, "LIT ", 4) == 0) {
			char buf[4096];
			size_t k = (size_t)atoi(line + 4) % sizeof buf;
			int r = conn_read_n(c, buf, k);
			if (r != (size - off >= k ? 0 : -1) || (r == 0 && memcmp(buf, data + off, k)))
				abort();
			if (r < 0)
				break;
			off += k;
		}
	}
	free(want);
	free(got);
	spool_free(&sp);
	conn_free(&c);
	return 0;
}
