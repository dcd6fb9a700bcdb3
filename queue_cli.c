/*
 * queue_cli.c — the outbound queue on the command line (queue_cli.h).
 * Entries are copied out of the store's listing first: reading each
 * message's Subject needs the store again, which a listing callback
 * (inside the read transaction) must not call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "journal.h"
#include "mailbox.h"
#include "message.h"
#include "queue_cli.h"
#include "util.h"

#define SUBJECT_SCAN (64 * 1024) /* header bytes read for the Subject */

struct qcopy {
	struct queue_entry e;   /* rcpts: one malloc'ed string, space separated */
	char *rcpts;
	char *to;               /* the same as <a>,<b> for the journal */
};

struct qlist {
	struct qcopy *v;
	size_t n, cap;
};

static int copy_entry(void *arg, const struct queue_entry *e)
{
	struct qlist *l = arg;
	struct sbuf r = {0}, t = {0};
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	for (size_t i = 0; i < e->nrcpts; i++) {
		sbuf_puts(&r, i ? " " : "");
		sbuf_puts(&r, e->rcpts[i]);
		sbuf_printf(&t, "%s<%s>", i ? "," : "", e->rcpts[i]);
	}
	l->v[l->n].e = *e;
	l->v[l->n].e.rcpts = NULL;
	l->v[l->n].rcpts = r.p ? r.p : xstrdup("");
	l->v[l->n].to = t.p ? t.p : xstrdup("");
	l->n++;
	return 0;
}

static void qlist_free(struct qlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].rcpts), free(l->v[i].to);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* The decoded Subject of the message in blob, or "" (malloc'ed). */
static char *subject_of(struct store *st, uint64_t blob)
{
	char *h = xmalloc(SUBJECT_SCAN + 1), *s = NULL;
	long got = store_msg_read(st, blob, 0, h, SUBJECT_SCAN);
	size_t pos = 0, nl, vl;
	const char *name, *val;
	if (got < 0)
		got = 0;
	h[got] = 0;
	while (!s && mime_hdr_next(h, (size_t)got, &pos, &name, &nl, &val, &vl))
		if (nl == 7 && strncasecmp(name, "Subject", 7) == 0) {
			char *u = mime_unfold(val, vl);
			s = mime_decode_words(u, strlen(u));
			free(u);
		}
	free(h);
	if (!s)
		return xstrdup("");
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

int queue_cli_list(struct store *st)
{
	struct qlist l = {0};
	int rc = store_queue_list(st, copy_entry, &l);
	for (size_t i = 0; rc == ST_OK && i < l.n; i++) {
		const struct queue_entry *e = &l.v[i].e;
		char when[32], *subj = subject_of(st, e->blob);
		struct tm tm;
		time_t t = (time_t)e->created;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
		if (e->tid[0])
			printf("%s", e->tid);
		else
			printf("%016llx", (unsigned long long)e->id);
		printf(" %s UTC %8llu <%s> %s\n", when, (unsigned long long)e->size, e->from,
		       l.v[i].rcpts);
		printf("    subject: %s\n", subj);
		printf("    queue %016llx%s\n", (unsigned long long)e->id,
		       e->tid[0] ? ", history: brev log ID" : "");
		if (e->last_error[0])
			printf("    attempts %u, last error: %s\n", e->attempts, e->last_error);
		free(subj);
	}
	if (rc == ST_OK)
		printf("%zu message%s queued\n", l.n, l.n == 1 ? "" : "s");
	qlist_free(&l);
	return rc;
}

int queue_cli_del(struct store *st, const char *which)
{
	struct qlist l = {0};
	char detail[JOURNAL_DETAIL_MAX + 1], qid[20];
	int rc = store_queue_list(st, copy_entry, &l);
	size_t i;
	if (rc != ST_OK)
		goto out;
	for (i = 0; i < l.n; i++) {
		snprintf(qid, sizeof qid, "%016llx", (unsigned long long)l.v[i].e.id);
		if (strcasecmp(which, l.v[i].e.tid) == 0 || strcasecmp(which, qid) == 0)
			break;
		/* a hex queue id may be given without its leading zeros */
		char *end;
		unsigned long long n = strtoull(which, &end, 16);
		if (which[0] && !*end && n == l.v[i].e.id)
			break;
	}
	if (i == l.n) {
		rc = ST_NOTFOUND;
		goto out;
	}
	rc = store_queue_del(st, l.v[i].e.id);
	if (rc == ST_OK) {
		const struct qcopy *c = &l.v[i];
		snprintf(detail, sizeof detail, "queue=%016llx to=%s by=\"brev queue del\"",
			 (unsigned long long)c->e.id, c->to);
		store_journal_add(st, c->e.tid[0] ? c->e.tid : qid, "deleted", detail);
	}
out:
	qlist_free(&l);
	return rc;
}
