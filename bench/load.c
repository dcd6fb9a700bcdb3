/*
 * bench/load.c — fills the IMAP benchmark's mailbox: N generated messages
 * with realistic sizes and MIME shapes, the same bytes into brev's store
 * (store_append, several threads, so the group commit batches them) and
 * into a Maildir for Dovecot. Built by bench/run.sh against the store's
 * objects; not part of brev.
 *
 *   bench_load DATADIR ADDRESS MAILDIR N
 *
 * Message i is a pure function of i (splitmix64 seeded with i), so both
 * servers hold identical mail. Shapes, by share of messages:
 *   55% text/plain, 1-12 KiB of words;
 *   25% multipart/alternative, text/plain + text/html;
 *   15% multipart/mixed, text + a base64 attachment of 8-120 KiB;
 *    5% short notifications, a few hundred bytes.
 * Searchable markers: every 100th message has "invoice" in its Subject,
 * every 97th has the word "zanzibar" in its body text. A third are \Seen.
 */
#include "mailbox.h"
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 8
#define MSG_MAX (256 * 1024)

static struct store *st;
static uint32_t user;
static const char *maildir;
static unsigned long total;
static atomic_ulong next_i, failures;

static const char *const words[] = {
    "meeting", "project", "report", "the",    "and",     "schedule", "review", "please",
    "update",  "team",    "budget", "client", "release", "draft",    "notes",  "thanks",
    "friday",  "server",  "backup", "plan",   "travel",  "lunch",    "agenda", "numbers",
    "of",      "to",      "for",    "with",   "we",      "will",     "next",   "week"};
#define NWORDS (sizeof words / sizeof words[0])

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct buf {
	char *p;
	size_t n;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > MSG_MAX)
		n = MSG_MAX - b->n;
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Lines of words, 72 columns, until about `bytes`. */
static void text(struct buf *b, uint64_t *s, size_t bytes, int marker, int html)
{
	size_t start = b->n, col = 0;
	if (html)
		puts_(b, "<html><body><p>\r\n");
	if (marker)
		puts_(b, "zanzibar ");
	while (b->n - start < bytes && b->n < MSG_MAX - 200) {
		const char *w = words[rnd(s) % NWORDS];
		puts_(b, w);
		col += strlen(w) + 1;
		if (col > 66) {
			puts_(b, "\r\n");
			col = 0;
		} else {
			puts_(b, " ");
		}
	}
	puts_(b, html ? "\r\n</p></body></html>\r\n" : "\r\n");
}

static void base64_blob(struct buf *b, uint64_t *s, size_t bytes)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[78];
	for (size_t done = 0; done < bytes && b->n < MSG_MAX - 200; done += 76) {
		for (int i = 0; i < 76; i++)
			line[i] = al[rnd(s) & 63];
		line[76] = '\r';
		line[77] = '\n';
		put(b, line, 78);
	}
}

static void gen(unsigned long i, struct buf *b, uint32_t *flags)
{
	uint64_t s = i * 2654435761ULL + 12345;
	unsigned shape = (unsigned)(rnd(&s) % 100);
	char h[1024];
	int marker = i % 97 == 0;
	b->n = 0;
	snprintf(h, sizeof h,
		 "Return-Path: <sender%lu@example.net>\r\n"
		 "Received: from mx.example.net (mx.example.net [192.0.2.%lu])\r\n"
		 "\tby mail.bench.test with ESMTPS id B%lu; Mon, 2 Sep 2024 10:%02lu:%02lu +0000\r\n"
		 "From: Sender %lu <sender%lu@example.net>\r\n"
		 "To: Bench <imap@bench.test>\r\n"
		 "Subject: %s %s %s %lu\r\n"
		 "Date: Mon, 2 Sep 2024 10:%02lu:%02lu +0000\r\n"
		 "Message-ID: <bench.%lu@example.net>\r\n"
		 "MIME-Version: 1.0\r\n",
		 i % 300, i % 250 + 1, i, i / 60 % 60, i % 60, i % 300, i % 300,
		 i % 100 == 0 ? "invoice" : words[rnd(&s) % NWORDS], words[rnd(&s) % NWORDS],
		 words[rnd(&s) % NWORDS], i, i / 60 % 60, i % 60, i);
	puts_(b, h);
	*flags = i % 3 == 0 ? FL_SEEN : 0;
	if (shape < 55) {
		puts_(b, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		text(b, &s, 1024 + rnd(&s) % (11 * 1024), marker, 0);
	} else if (shape < 80) {
		size_t n = 1024 + rnd(&s) % (6 * 1024);
		puts_(b, "Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\r\n"
			 "--alt-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
		text(b, &s, n, marker, 0);
		puts_(b, "--alt-b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
		text(b, &s, n + n / 2, marker, 1);
		puts_(b, "--alt-b--\r\n");
	} else if (shape < 95) {
		puts_(b, "Content-Type: multipart/mixed; boundary=\"mix-b\"\r\n\r\n"
			 "--mix-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
		text(b, &s, 512 + rnd(&s) % 2048, marker, 0);
		puts_(b, "--mix-b\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
			 "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\n");
		base64_blob(b, &s, 8192 + rnd(&s) % (112 * 1024));
		puts_(b, "--mix-b--\r\n");
	} else {
		puts_(b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
		text(b, &s, 200 + rnd(&s) % 300, marker, 0);
	}
}

static int write_maildir(unsigned long i, const struct buf *b, uint32_t flags)
{
	char path[4096];
	FILE *f;
	/* Maildir name as Dovecot's own deliveries have it: unique part, S= the
	 * size and W= the size with CRLF line ends (the same here: the message
	 * is CRLF already), so Dovecot need not read the file for RFC822.SIZE;
	 * then ":2," and the flags (S = \Seen). */
	snprintf(path, sizeof path, "%s/cur/%lu.%08lu.bench,S=%zu,W=%zu:2,%s", maildir,
		 1725271200 + i, i, b->n, b->n, flags & FL_SEEN ? "S" : "");
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->n, f) != b->n) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static void *worker(void *arg)
{
	struct buf b = {malloc(MSG_MAX), 0};
	(void)arg;
	for (;;) {
		unsigned long i = atomic_fetch_add(&next_i, 1) + 1;
		uint32_t flags, uv, uid;
		struct spool *sp;
		struct msg_in m = {0};
		if (i > total)
			break;
		gen(i, &b, &flags);
		sp = spool_new(MSG_MAX);
		spool_write(sp, b.p, b.n);
		m.body = sp;
		m.flags = flags;
		m.internaldate = 1725271200 + (int64_t)i;
		if (store_append(st, user, "INBOX", &m, &uv, &uid) != ST_OK ||
		    (maildir[0] && write_maildir(i, &b, flags) < 0))
			atomic_fetch_add(&failures, 1);
		spool_free(&sp);
	}
	free(b.p);
	return NULL;
}

int main(int argc, char **argv)
{
	char err[256], path[4096];
	struct account a;
	pthread_t th[THREADS];
	if (argc != 5) {
		fprintf(stderr, "usage: %s DATADIR ADDRESS MAILDIR N\n", argv[0]);
		return 2;
	}
	maildir = argv[3];
	total = strtoul(argv[4], NULL, 10);
	if (maildir[0])
		for (const char *sub = "cur\0new\0tmp\0"; *sub; sub += 4) {
			snprintf(path, sizeof path, "%s/%s", maildir, sub);
			mkdir(maildir, 0700);
			if (mkdir(path, 0700) < 0 && errno != EEXIST) {
				perror(path);
				return 1;
			}
		}
	if (store_open(&st, argv[1], 1ULL << 30, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (store_user_get(st, argv[2], &a) != ST_OK) {
		fprintf(stderr, "no such account %s\n", argv[2]);
		return 1;
	}
	user = a.id;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	store_close(&st);
	if (atomic_load(&failures)) {
		fprintf(stderr, "%lu messages failed\n", atomic_load(&failures));
		return 1;
	}
	return 0;
}
