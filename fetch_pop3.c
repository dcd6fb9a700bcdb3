/*
 * fetch_pop3.c — taking the messages of a POP3 maildrop into an account's
 * INBOX (fetch.h): what hMailServer and Mercury call "external accounts",
 * the old provider kept as a fallback.
 *
 * UIDL says which messages are new (RFC 1939 7): the UIDLs stored are in
 * fetch.c's N.state, recorded after each of the sink's batches. POP3 has
 * no date of its own: INTERNALDATE is the first Received: field's date
 * (the old server's arrival), else Date:, else now. With --delete the
 * messages are DELEted only after they are stored and recorded; QUIT
 * makes that happen (RFC 1939 6).
 *
 * The server's bytes are bounded: conn.c's line limit, limits.message_size
 * per message (a larger one is read to its end and refused), the listing
 * by FETCH_POP3_MAX, a UIDL by RFC 1939's 70 characters.
 */
#include "fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "mailbox.h"
#include "mboxfmt.h"
#include "migrate.h"
#include "spool.h"
#include "util.h"

#define UIDL_MAX  70
#define HEAD_KEEP 65536 /* the start of a message, for its Received: date */

struct pc {
	struct conn *c;
	const struct fetch_src *src;
	struct fetch_stats *out;
	char *line;
	ssize_t len;
};

struct item {
	unsigned long n;
	char uidl[UIDL_MAX + 1];
};

static int fail(struct pc *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pc *pc, const char *fmt, ...)
{
	va_list ap;
	if (!pc->out->err[0]) {
		va_start(ap, fmt);
		vsnprintf(pc->out->err, sizeof pc->out->err, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int rd(struct pc *pc)
{
	pc->len = conn_getline(pc->c, &pc->line, CONN_LINE_MAX, NULL);
	if (pc->len == -2)
		return fail(pc, "%s sent a line over %d bytes", pc->src->host, CONN_LINE_MAX);
	if (pc->len < 0)
		return fail(pc, "%s: connection lost%s", pc->src->host,
			    fetch_stopping ? " (brev is stopping)" : "");
	return 0;
}

/* Send a command (shown as what in errors) and want +OK. */
static int cmd(struct pc *pc, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cmd(struct pc *pc, const char *what, const char *fmt, ...)
{
	char buf[1100];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf || strpbrk(buf, "\r\n"))
		return fail(pc, "%s: cannot be sent", what);
	int w = conn_printf(pc->c, "%s\r\n", buf) < 0 || conn_flush(pc->c) < 0;
	explicit_bzero(buf, sizeof buf);
	if (w)
		return fail(pc, "%s: connection lost", pc->src->host);
	if (rd(pc) < 0)
		return -1;
	if (strncmp(pc->line, "+OK", 3))
		return fail(pc, "%s: %s: %.160s", pc->src->host, what, pc->line);
	return 0;
}

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int known(const struct fetch_state *st, const char *uidl)
{
	const char *k = uidl;
	return st->nuidl && bsearch(&k, st->uidl, st->nuidl, sizeof *st->uidl, cmp_pstr) != NULL;
}

/* Add the UIDLs of a committed batch to the state, sorted. */
static void record(struct fetch_state *st, char **done, size_t *ndone)
{
	st->uidl = xrealloc(st->uidl, (st->nuidl + *ndone + 1) * sizeof *st->uidl);
	if (*ndone == 1) { /* one delivered message: insert it in order */
		size_t lo = 0, hi = st->nuidl;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(st->uidl[mid], done[0]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		memmove(st->uidl + lo + 1, st->uidl + lo, (st->nuidl - lo) * sizeof *st->uidl);
		st->uidl[lo] = done[0];
		st->nuidl++;
		*ndone = 0;
		return;
	}
	for (size_t i = 0; i < *ndone; i++)
		st->uidl[st->nuidl++] = done[i];
	*ndone = 0;
	if (st->nuidl > 1)
		qsort(st->uidl, st->nuidl, sizeof *st->uidl, cmp_pstr);
}

/* RETR's multi-line reply into the sink; 1 if the message was refused. */
static int retr(struct pc *pc, struct import_sink *sink, struct spool *sp, char *head, size_t *hl)
{
	uint64_t size = 0, max = import_sink_max_size(sink);
	const char *err = NULL;
	*hl = 0;
	if (!sp && import_sink_begin(sink, 0) < 0)
		return fail(pc, "storing failed");
	for (;;) {
		if (rd(pc) < 0)
			return -1;
		const char *p = pc->line;
		size_t n = (size_t)pc->len;
		if (n == 1 && p[0] == '.')
			break;
		if (p[0] == '.') /* dot-stuffing (RFC 1939 3) */
			p++, n--;
		size += n + 2;
		if (!err && max && size > max)
			err = "larger than limits.message_size";
		if (!err && memchr(p, '\0', n))
			err = "NUL byte in the message";
		if (err)
			continue;
		if (sp ? spool_write(sp, p, n) < 0 || spool_write(sp, "\r\n", 2) < 0
		       : import_sink_data(sink, p, n) < 0 || import_sink_data(sink, "\r\n", 2) < 0)
			return fail(pc, "storing failed");
		for (size_t i = 0; i < n + 2 && *hl < HEAD_KEEP; i++)
			head[(*hl)++] = i < n ? p[i] : "\r\n"[i - n];
	}
	if (!err && size == 0)
		err = "empty message";
	return err ? 1 : 0;
}

int fetch_pop3_run(const struct fetch_src *src, struct import_sink *sink, const struct fetch_dl *dl,
		   struct fetch_state *st, struct fetch_stats *out)
{
	struct conn *c = fetch_connect(src, out->err, sizeof out->err);
	if (!c)
		return -1;
	int rc = fetch_pop3_session(c, src, sink, dl, st, out);
	fetch_close(&c);
	return rc;
}

int fetch_pop3_session(struct conn *c, const struct fetch_src *src, struct import_sink *sink,
		       const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out)
{
	struct spool *sp = NULL;
	struct pc pc = {.c = c, .src = src, .out = out};
	struct item *items = NULL;
	size_t nitems = 0;
	char **done = NULL, *head = NULL;
	unsigned long *dele = NULL;
	size_t ndone = 0, ndele = 0;
	int rc = -1;
	if (src->implicit && !src->plain && fetch_tls(pc.c, src, out->err, sizeof out->err) < 0)
		goto out;
	if (rd(&pc) < 0)
		goto out;
	if (strncmp(pc.line, "+OK", 3)) {
		fail(&pc, "%s: no POP3 greeting: %.100s", src->host, pc.line);
		goto out;
	}
	if (!src->implicit && !src->plain &&
	    (cmd(&pc, "STLS", "STLS") < 0 || fetch_tls(pc.c, src, out->err, sizeof out->err) < 0))
		goto out;
	if (cmd(&pc, "USER", "USER %s", src->user) < 0 ||
	    cmd(&pc, "PASS", "PASS %s", src->password) < 0 || cmd(&pc, "UIDL", "UIDL") < 0)
		goto out;
	for (;;) { /* "n uidl" lines to "." */
		unsigned long n;
		char u[UIDL_MAX + 2];
		if (rd(&pc) < 0)
			goto out;
		if (pc.len == 1 && pc.line[0] == '.')
			break;
		if (sscanf(pc.line, "%lu %71s", &n, u) != 2 || strlen(u) > UIDL_MAX) {
			fail(&pc, "%s: bad UIDL line: %.80s", src->host, pc.line);
			goto out;
		}
		if (nitems >= FETCH_POP3_MAX) {
			fail(&pc, "%s lists more than %d messages", src->host, FETCH_POP3_MAX);
			goto out;
		}
		if ((nitems & (nitems - 1)) == 0)
			items = xrealloc(items, (nitems ? nitems * 2 : 64) * sizeof *items);
		items[nitems].n = n;
		str_copy(items[nitems++].uidl, u, sizeof items[0].uidl);
	}
	int was = st->inflight;
	st->inflight = !dl; /* delivered messages are recorded one by one */
	if (fetch_state_save(src, st) < 0 ||
	    (!dl && import_sink_mailbox(sink, "INBOX", MBOX_INBOX, was) < 0)) {
		fail(&pc, "the INBOX could not be used");
		goto out;
	}
	head = xmalloc(HEAD_KEEP);
	done = xcalloc(nitems + 1, sizeof *done);
	dele = xcalloc(nitems + 1, sizeof *dele);
	for (size_t i = 0; i < nitems; i++) {
		size_t hl;
		if (known(st, items[i].uidl)) {
			dele[ndele++] = items[i].n;
			continue;
		}
		if (fetch_stopping) {
			fail(&pc, "brev is stopping");
			goto out;
		}
		if (cmd(&pc, "RETR", "RETR %lu", items[i].n) < 0)
			goto out;
		fetch_progress("INBOX", i + 1, nitems, 0, 0);
		if (dl) {
			spool_free(&sp);
			sp = spool_new(1 << 20);
		}
		int refused = retr(&pc, sink, sp, head, &hl);
		if (refused < 0)
			goto out;
		if (dl) { /* new mail: filtered, one commit, recorded at once */
			char why[200];
			if (refused) {
				out->refused++;
			} else if (fetch_deliver(dl, sp, why, sizeof why) < 0) {
				fail(&pc, "message %lu: %s", items[i].n, why);
				goto out;
			} else {
				out->delivered++;
			}
			done[ndone++] = xstrdup(items[i].uidl);
			dele[ndele++] = items[i].n;
			record(st, done, &ndone);
			if (fetch_state_save(src, st) < 0) {
				fail(&pc, "saving the progress failed");
				goto out;
			}
			continue;
		}
		int64_t date = refused ? 0 : fetch_received_date(head, hl);
		struct mboxfmt_meta meta = {0};
		if (import_sink_end_at(sink, &meta, date > 0 ? date : now_ms() / 1000,
				       refused ? "refused (too large, empty or NUL bytes)" : NULL) < 0) {
			fail(&pc, "storing into INBOX failed");
			goto out;
		}
		done[ndone++] = xstrdup(items[i].uidl);
		dele[ndele++] = items[i].n;
		if (import_sink_pending(sink) == 0) { /* the batch is committed */
			record(st, done, &ndone);
			if (fetch_state_save(src, st) < 0) {
				fail(&pc, "saving the progress failed");
				goto out;
			}
		}
	}
	if (import_sink_flush(sink) < 0) {
		fail(&pc, "storing into INBOX failed");
		goto out;
	}
	record(st, done, &ndone);
	/* Forget UIDLs the server no longer has: the state stays as small as
	 * the maildrop. */
	/* the server's, sorted, to look each recorded one up */
	char **listed = xcalloc(nitems + 1, sizeof *listed);
	for (size_t i = 0; i < nitems; i++)
		listed[i] = items[i].uidl;
	qsort(listed, nitems, sizeof *listed, cmp_pstr);
	size_t k = 0;
	for (size_t i = 0; i < st->nuidl; i++) {
		const char *key = st->uidl[i];
		if (nitems && bsearch(&key, listed, nitems, sizeof *listed, cmp_pstr))
			st->uidl[k++] = st->uidl[i]; /* with --delete: gone at QUIT, then pruned */
		else
			free(st->uidl[i]);
	}
	st->nuidl = k;
	free(listed);
	st->inflight = 0;
	if (fetch_state_save(src, st) < 0) {
		fail(&pc, "saving the progress failed");
		goto out;
	}
	for (size_t i = 0; src->delete && i < ndele; i++)
		if (cmd(&pc, "DELE", "DELE %lu", dele[i]) < 0)
			goto out;
	rc = cmd(&pc, "QUIT", "QUIT");
out:
	if (rc < 0 && import_sink_pending(sink) && import_sink_flush(sink) == 0) {
		record(st, done, &ndone);
		fetch_state_save(src, st);
	}
	for (size_t i = 0; i < ndone; i++)
		free(done[i]);
	free(done);
	free(dele);
	spool_free(&sp);
	free(head);
	free(items);
	return rc;
}
