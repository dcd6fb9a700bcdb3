/*
 * test_mboxfmt.c — the mbox splitter fed whole and one byte at a time
 * (separators only after an empty line, mboxrd unescaping, status headers
 * turned into flags and keywords and removed, continuation lines, CRLF,
 * truncated and NUL-carrying messages, the size limit), From-line dates,
 * Maildir names both ways, and the mboxrd escaper. Files, the store and
 * IMAP are t-73-import-export's.
 */
/* deps: mboxfmt util log */
#include <stdlib.h>
#include <string.h>

#include "../../mailbox.h"
#include "../../mboxfmt.h"
#include "../../util.h"
#include "harness.h"

struct got {
	int n;
	char msg[8][256];
	uint32_t flags[8];
	char kw[8][128];
	char err[8][96];
	int64_t date[8];
	uint64_t off[8];
};

static int g_begin(void *arg, uint64_t off, int64_t date)
{
	struct got *g = arg;
	g->off[g->n] = off;
	g->date[g->n] = date;
	g->msg[g->n][0] = '\0';
	return 0;
}

static int g_data(void *arg, const char *p, size_t n)
{
	struct got *g = arg;
	size_t l = strlen(g->msg[g->n]);
	if (l + n < sizeof g->msg[0]) {
		memcpy(g->msg[g->n] + l, p, n);
		g->msg[g->n][l + n] = '\0';
	}
	return 0;
}

static int g_end(void *arg, const struct mboxfmt_meta *m, const char *err)
{
	struct got *g = arg;
	g->flags[g->n] = m->flags;
	g->kw[g->n][0] = '\0';
	for (size_t i = 0; i < m->nkw; i++) {
		strcat(g->kw[g->n], m->kw[i]);
		strcat(g->kw[g->n], ";");
	}
	str_copy(g->err[g->n], err ? err : "", sizeof g->err[0]);
	if (g->n < 7)
		g->n++;
	return 0;
}

/* Split s whole and byte by byte; both must agree. */
static void split(const char *s, size_t len, uint64_t max, struct got *g)
{
	struct mboxfmt_hooks h = {g, g_begin, g_data, g_end};
	struct mboxfmt_split *sp = malloc(sizeof *sp);
	struct got *b = calloc(1, sizeof *b);
	memset(g, 0, sizeof *g);
	mboxfmt_split_init(sp, &h, max);
	mboxfmt_feed(sp, s, len);
	mboxfmt_finish(sp);
	h.arg = b;
	mboxfmt_split_init(sp, &h, max);
	for (size_t i = 0; i < len; i++)
		mboxfmt_feed(sp, s + i, 1);
	mboxfmt_finish(sp);
	CHECK(memcmp(g, b, sizeof *g) == 0);
	free(b);
	free(sp);
}

TEST(split_mutt_status)
{
	static const char in[] =
	    "From a@b.test Mon Dec  7 10:00:00 2026\n"
	    "Subject: one\nStatus: RO\nX-Status: AF\n\nbody\n>From here\n>>From there\n\n"
	    "From a@b.test Mon Dec  7 10:00:01 2026\n"
	    "Subject: two\nX-Keywords: $Important work\n  later\n\ntext\nFrom inside\n\n\n";
	struct got *g = malloc(sizeof *g);
	split(in, sizeof in - 1, 0, g);
	CHECK_EQ_INT(g->n, 2);
	CHECK_EQ_STR(g->msg[0], "Subject: one\n\nbody\nFrom here\n>From there\n");
	CHECK_EQ_INT(g->flags[0], FL_SEEN | FL_ANSWERED | FL_FLAGGED);
	CHECK_EQ_INT(g->date[0], 1796637600);
	CHECK_EQ_STR(g->msg[1], "Subject: two\n\ntext\nFrom inside\n\n");
	CHECK_EQ_STR(g->kw[1], "$Important;work;later;");
	CHECK_EQ_INT(g->off[1], 107);
	free(g);
}

TEST(split_thunderbird_crlf)
{
	static const char in[] =
	    "From - Mon Dec  7 10:00:00 2026\r\n"
	    "X-Mozilla-Status: 0005\r\nX-Mozilla-Status2: 00000000\r\n"
	    "X-Mozilla-Keys: $label1                \r\nSubject: t\r\n\r\nhi\r\n\r\n";
	struct got *g = malloc(sizeof *g);
	split(in, sizeof in - 1, 0, g);
	CHECK_EQ_INT(g->n, 1);
	CHECK_EQ_STR(g->msg[0], "Subject: t\r\n\r\nhi\r\n");
	CHECK_EQ_INT(g->flags[0], FL_SEEN | FL_FLAGGED);
	CHECK_EQ_STR(g->kw[0], "$label1;");
	free(g);
}

TEST(split_bad_input)
{
	static const char junk[] = "garbage\n\nFrom a@b.test Mon Dec  7 10:00:00 2026\nS: 1\n\nx\n";
	static const char nul[] = "From a Mon Dec  7 10:00:00 2026\nS: 1\n\na\0b\n\n"
				  "From a Mon Dec  7 10:00:00 2026\nS: 2\n\nok\n\nFrom a\n\n";
	static const char trunc[] = "From a Mon Dec  7 10:00:00 2026\nS: 1\n\ncut";
	struct got *g = malloc(sizeof *g);
	split(junk, sizeof junk - 1, 0, g);
	CHECK_EQ_INT(g->n, 2);
	CHECK(strstr(g->err[0], "not an mbox") != NULL);
	CHECK_EQ_STR(g->err[1], "");
	split(nul, sizeof nul - 1, 0, g);
	CHECK_EQ_INT(g->n, 3);
	CHECK_EQ_STR(g->err[0], "NUL byte at offset 39");
	CHECK_EQ_STR(g->err[1], "");
	CHECK_EQ_STR(g->err[2], "empty message");
	split(trunc, sizeof trunc - 1, 0, g);
	CHECK_EQ_INT(g->n, 1);
	CHECK(strstr(g->err[0], "truncated") != NULL);
	split(nul + 43, sizeof nul - 44, 5, g); /* from the second message */
	CHECK(strstr(g->err[0], "limits.message_size") != NULL);
	free(g);
}

TEST(long_lines_pass_through)
{
	size_t n = 3 * MBOXFMT_LINE_MAX;
	char *in = malloc(n + 200);
	int k = sprintf(in, "From a Mon Dec  7 10:00:00 2026\nSubject: ");
	memset(in + k, 'x', n);
	k += (int)n;
	k += sprintf(in + k, "\nStatus: R\n\nb\n");
	struct got *g = malloc(sizeof *g);
	split(in, (size_t)k, 0, g);
	CHECK_EQ_INT(g->n, 1);
	CHECK_EQ_STR(g->err[0], "");
	CHECK_EQ_INT(g->flags[0], FL_SEEN);
	free(g);
	free(in);
}

TEST(from_dates)
{
	const char *a = "From x Mon Dec  7 10:00:00 2026";
	const char *b = "From x Mon Dec 7 12:00:00 +0200 2026";
	const char *c = "From x Mon Dec  7 10:00 2026 -0100";
	CHECK_EQ_INT(mboxfmt_from_date(a, strlen(a)), 1796637600);
	CHECK_EQ_INT(mboxfmt_from_date(b, strlen(b)), 1796637600);
	CHECK_EQ_INT(mboxfmt_from_date(c, strlen(c)), 1796641200);
	CHECK_EQ_INT(mboxfmt_from_date("From - nonsense", 15), 0);
}

TEST(maildir_names)
{
	uint32_t f, k;
	char suf[64];
	CHECK_EQ_INT(mboxfmt_maildir_flags("1.M2.h,S=10:2,FRSac", &f, &k), 0);
	CHECK_EQ_INT(f, FL_FLAGGED | FL_ANSWERED | FL_SEEN);
	CHECK_EQ_INT(k, 5);
	mboxfmt_maildir_suffix(f | FL_DRAFT | FL_DELETED, k, suf);
	CHECK_EQ_STR(suf, ":2,DFRSTac");
	CHECK_EQ_INT(mboxfmt_maildir_flags("1.M2.h", &f, &k), 0);
	CHECK_EQ_INT(f, 0);
	CHECK_EQ_INT(mboxfmt_maildir_flags("1.M2.h:3,S", &f, &k), -1);
	CHECK_EQ_INT(mboxfmt_maildir_flags("1.M2.h:2,S!", &f, &k), -1);
}

static int cat_out(void *arg, const char *p, size_t n)
{
	sbuf_add(arg, p, n);
	return 0;
}

TEST(escaper)
{
	static const char in[] = "From a\n>From b\nFro\n>>From c\nx From d\n>Fr";
	struct sbuf b = {0};
	struct mboxfmt_esc e;
	mboxfmt_esc_init(&e, cat_out, &b);
	for (size_t i = 0; i < sizeof in - 1; i++)
		mboxfmt_esc_feed(&e, in + i, 1);
	mboxfmt_esc_end(&e);
	sbuf_add(&b, "", 1);
	CHECK_EQ_STR(b.p, ">From a\n>>From b\nFro\n>>>From c\nx From d\n>Fr");
	sbuf_free(&b);
}

TEST_MAIN()
