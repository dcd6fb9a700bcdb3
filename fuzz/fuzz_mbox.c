/*
 * fuzz_mbox.c — the mbox splitter, the status-header and From-date parsers,
 * Maildir names and the mboxrd escaper (mboxfmt.c), no files.
 *
 * Properties: no crash, no overrun (ASan); the splitter gives the same
 * messages whether the input comes whole or one byte at a time; every
 * message it accepts holds no NUL and stays under max_size; and the round
 * trip of export and import holds: each accepted message, written back as
 * an mbox with the mboxrd escaper (From line, blank separator), splits
 * into exactly that message again, byte for byte, when it ends with a
 * newline (export adds one otherwise, as docs/migrate.md says).
 */
/* deps: mboxfmt util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"
#include "mboxfmt.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXOUT (1 << 20)

struct sink {
	struct sbuf all; /* every accepted message, each followed by "\0|" */
	struct sbuf cur;
	size_t n;
};

static int s_begin(void *arg, uint64_t off, int64_t date)
{
	struct sink *s = arg;
	(void)off, (void)date;
	s->cur.len = 0;
	return 0;
}

static int s_data(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	sbuf_add(&s->cur, p, n);
	return 0;
}

static int s_end(void *arg, const struct mboxfmt_meta *m, const char *err)
{
	struct sink *s = arg;
	if (err)
		return 0;
	if (s->cur.len == 0 || memchr(s->cur.p, '\0', s->cur.len) || s->cur.len > 4096 * 8)
		abort();
	for (size_t i = 0; i < m->nkw; i++)
		if (!m->kw[i][0] || strlen(m->kw[i]) > MBOXFMT_KW_LEN)
			abort();
	sbuf_add(&s->all, s->cur.p, s->cur.len);
	sbuf_add(&s->all, "\0|", 2);
	s->n++;
	return 0;
}

static void split(const uint8_t *d, size_t n, size_t step, struct sink *s)
{
	struct mboxfmt_hooks h = {s, s_begin, s_data, s_end};
	struct mboxfmt_split *sp = malloc(sizeof *sp);
	memset(s, 0, sizeof *s);
	mboxfmt_split_init(sp, &h, 4096 * 8);
	for (size_t i = 0; i < n; i += step)
		mboxfmt_feed(sp, d + i, n - i < step ? n - i : step);
	mboxfmt_finish(sp);
	free(sp);
}

static int out_cb(void *arg, const char *p, size_t n)
{
	sbuf_add(arg, p, n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink a, b;
	if (size > 65536)
		return 0;
	split(data, size, size ? size : 1, &a);
	split(data, size, 1, &b);
	if (a.n != b.n || a.all.len != b.all.len ||
	    (a.all.len && memcmp(a.all.p, b.all.p, a.all.len)))
		abort();

	/* the export of each accepted message splits back into it */
	for (size_t off = 0; off < a.all.len;) {
		const char *m = a.all.p + off, *e = memchr(m, '\0', a.all.len - off);
		size_t len = (size_t)(e - m);
		off += len + 2;
		if (m[len - 1] != '\n')
			continue;
		struct sbuf mb = {0};
		struct mboxfmt_esc esc;
		struct sink r;
		sbuf_puts(&mb, "From MAILER-DAEMON Mon Dec  7 10:00:00 2026\nStatus: RO\n");
		mboxfmt_esc_init(&esc, out_cb, &mb);
		mboxfmt_esc_feed(&esc, m, len);
		mboxfmt_esc_end(&esc);
		sbuf_add(&mb, "\n", 1);
		split((const uint8_t *)mb.p, mb.len, mb.len, &r);
		/* a message whose first line continues a header is ambiguous
		 * after the inserted Status line; the store never holds one
		 * from SMTP, skip it */
		int cont = m[0] == ' ' || m[0] == '\t';
		/* a message whose header section holds a status header loses it */
		struct mboxfmt_meta meta = {0};
		int hasstatus = 0;
		for (const char *l = m; l < m + len && !hasstatus;) {
			const char *nl = memchr(l, '\n', (size_t)(m + len - l));
			const char *c = memchr(l, ':', (size_t)(nl - l));
			if (nl == l || (nl == l + 1 && l[0] == '\r'))
				break;
			if (c && mboxfmt_status_header(&meta, l, (size_t)(c - l), c, 0))
				hasstatus = 1;
			l = nl + 1;
		}
		if (!cont && !hasstatus &&
		    (r.n != 1 || r.all.len != len + 2 || memcmp(r.all.p, m, len)))
			abort();
		sbuf_free(&mb);
		sbuf_free(&r.all);
		sbuf_free(&r.cur);
	}

	/* the small parsers */
	char *z = malloc(size + 1);
	memcpy(z, data, size);
	z[size] = '\0';
	mboxfmt_from_date(z, size);
	uint32_t fl, bits;
	if (mboxfmt_maildir_flags(z, &fl, &bits) == 0) {
		char suf[64];
		uint32_t fl2, bits2;
		mboxfmt_maildir_suffix(fl, bits, suf);
		if (mboxfmt_maildir_flags(suf, &fl2, &bits2) < 0 || fl2 != fl || bits2 != bits)
			abort();
	}
	free(z);
	sbuf_free(&a.all);
	sbuf_free(&a.cur);
	sbuf_free(&b.all);
	sbuf_free(&b.cur);
	return 0;
}
