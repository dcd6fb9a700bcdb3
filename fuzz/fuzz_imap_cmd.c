/*
 * fuzz_imap_cmd.c — the IMAP command reader (imap_parse.c) on arbitrary
 * bytes: lines, literals of every kind, nesting; each input is read as a
 * stream of commands until the fake connection runs dry.
 */
/* deps: imap_parse message message_text spool util log */
#include <stdint.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	f.p = data;
	f.n = size;
	f.pos = 0;
	/* The first byte's low bit: before login (small literals only) or after. */
	struct imap_in in = {f_getline, f_read_n, f_read_spool, f_cont, &f, 1 << 20,
			     size && (data[0] & 1)};
	for (int i = 0; i < 64; i++) {
		struct imap_cmd c;
		int rc = imap_cmd_read(&in, &c);
		imap_cmd_clear(&c);
		if (rc < 0)
			break;
	}
	return 0;
}
