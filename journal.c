/*
 * journal.c — the delivery journal's reader and keeper (journal.h):
 * `brev log`, which answers "what happened to my mail?" from the events
 * the store keeps, and the background thread of `brev serve` that drops
 * events past log.keep and beyond JOURNAL_EVENTS_MAX.
 *
 * What goes into the journal is decided where things happen (smtp_msg.c's
 * commit, queue.c's attempts, queue_dsn.c, `brev queue del`); the store
 * keeps it (mailbox_journal.c). This file only reads and prunes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "log.h"
#include "mailbox.h"
#include "util.h"

/* ================= background pruning ================= */

static struct {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running, stop;
	struct store *st;
	int64_t keep;
} pr = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void prune_once(struct store *st, int64_t keep)
{
	size_t removed = 0, total = 0;
	int64_t before = (int64_t)time(NULL) - keep;
	/* a few thousand per commit, so a large backlog never makes one
	 * huge write transaction */
	do {
		if (store_journal_prune(st, before, JOURNAL_EVENTS_MAX, &removed) != ST_OK)
			break;
		total += removed;
	} while (removed > 0 && total < 10 * JOURNAL_EVENTS_MAX);
	if (total)
		log_debug("journal: %zu old event%s pruned", total, total == 1 ? "" : "s");
}

static void *prune_main(void *arg)
{
	(void)arg;
	/* Every hour, or more often when log.keep is short (tests): an event
	 * outlives log.keep by at most this period. */
	int64_t period = pr.keep < 3600 ? (pr.keep + 1) / 2 : 3600;
	pthread_mutex_lock(&pr.mu);
	while (!pr.stop) {
		pthread_mutex_unlock(&pr.mu);
		prune_once(pr.st, pr.keep);
		pthread_mutex_lock(&pr.mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += period;
		while (!pr.stop && pthread_cond_timedwait(&pr.cv, &pr.mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&pr.mu);
	return NULL;
}

int journal_start(struct store *st, int64_t keep)
{
	pr.st = st;
	pr.keep = keep > 0 ? keep : 1;
	pr.stop = 0;
	if (pthread_create(&pr.th, NULL, prune_main, NULL) != 0) {
		log_error("journal: cannot start the pruning thread");
		return -1;
	}
	pr.running = 1;
	return 0;
}

void journal_stop(void)
{
	if (!pr.running)
		return;
	pthread_mutex_lock(&pr.mu);
	pr.stop = 1;
	pthread_cond_broadcast(&pr.cv);
	pthread_mutex_unlock(&pr.mu);
	pthread_join(pr.th, NULL);
	pr.running = 0;
}

/* ================= brev log ================= */

#define IDS_MAX 100000 /* messages one query may match */

struct query {
	const char *arg;        /* NULL: everything */
	char token[STORE_ADDR_MAX + 520]; /* "<arg>": an address or Message-ID */
	char **ids;             /* tracking ids that matched */
	size_t nids, cap;
	size_t printed;
};

static int has_id(const struct query *q, const char *id)
{
	for (size_t i = 0; i < q->nids; i++)
		if (strcmp(q->ids[i], id) == 0)
			return 1;
	return 0;
}

/* Case-insensitive (ASCII) substring. */
static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/* Does event e name what the user asked for? The id itself, a queue id
 * (queue=HEX), the original of a bounce (bounce-of=ID), or an address or
 * Message-ID written between angle brackets anywhere in the detail. */
static int matches(const struct query *q, const struct journal_event *e)
{
	char tok[JOURNAL_ID_MAX + 16];
	if (strcasecmp(e->id, q->arg) == 0)
		return 1;
	if (contains(e->detail, q->token))
		return 1;
	if (strlen(q->arg) <= JOURNAL_ID_MAX) {
		snprintf(tok, sizeof tok, "queue=%s ", q->arg);
		if (contains(e->detail, tok))
			return 1;
		snprintf(tok, sizeof tok, "-of=%s", q->arg);
		if (contains(e->detail, tok))
			return 1;
	}
	return 0;
}

/* A DSN's events name their original ("bounce-of=ID", "delay-of=ID"):
 * the notice belongs to the original's story. */
static int notice_of_match(const struct query *q, const struct journal_event *e)
{
	const char *p = strstr(e->detail, "-of=");
	char id[JOURNAL_ID_MAX + 1];
	size_t n;
	if (!p)
		return 0;
	p += 4;
	n = strcspn(p, " ");
	if (n == 0 || n > JOURNAL_ID_MAX)
		return 0;
	memcpy(id, p, n);
	id[n] = 0;
	return has_id(q, id);
}

static int collect(void *arg, const struct journal_event *e)
{
	struct query *q = arg;
	if (has_id(q, e->id) || !(matches(q, e) || notice_of_match(q, e)))
		return 0;
	if (q->nids == IDS_MAX)
		return 1;
	if (q->nids == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->ids = xrealloc(q->ids, q->cap * sizeof *q->ids);
	}
	q->ids[q->nids++] = xstrdup(e->id);
	return 0;
}

/* Control characters would let a hostile reply or Message-ID forge lines. */
static void print_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static int print_event(void *arg, const struct journal_event *e)
{
	struct query *q = arg;
	char when[40];
	struct tm tm;
	time_t t = (time_t)e->when;
	if (q->arg && !has_id(q, e->id))
		return 0;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
	/* ISO 8601 wants the offset as +hh:mm */
	size_t n = strlen(when);
	if (n >= 5 && n + 2 < sizeof when) {
		memmove(when + n - 1, when + n - 2, 3);
		when[n - 2] = ':';
	}
	printf("%s %s %-9s ", when, e->id, e->event);
	print_clean(e->detail);
	putchar('\n');
	q->printed++;
	return 0;
}

/* --since: a duration back from now (2h, 3d), or a date YYYY-MM-DD[THH:MM[:SS]]
 * in local time. -1 when it is neither. */
static int parse_since(const char *s, int64_t *out)
{
	int64_t d;
	struct tm tm = {0};
	int y, mo, day, h = 0, mi = 0, sec = 0, n = 0;
	if (parse_duration(s, &d) == 0) {
		*out = (int64_t)time(NULL) - d;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &day, &n) != 3)
		return -1;
	if (s[n] == 'T' || s[n] == ' ') {
		int m = 0;
		if (sscanf(s + n + 1, "%2d:%2d%n:%2d%n", &h, &mi, &m, &sec, &m) < 2)
			return -1;
		n += 1 + m;
	}
	if (s[n] || mo < 1 || mo > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return 0;
}

int journal_log_cmd(struct store *st, int argc, char **argv)
{
	struct query q = {0};
	int64_t since = 0;
	int rc, i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--since") == 0) {
		if (parse_since(argv[i + 1], &since) < 0) {
			fprintf(stderr, "brev: log: --since '%s' is neither a duration (2h, 3d) nor a "
					"date (YYYY-MM-DD[THH:MM[:SS]])\n", argv[i + 1]);
			return 1;
		}
		i += 2;
	}
	if (argc - i > 1 || (i < argc && argv[i][0] == '-')) {
		fprintf(stderr, "usage: brev log [--since T] [ADDRESS|MESSAGE-ID|ID]\n");
		return 1;
	}
	if (i < argc) {
		const char *a = argv[i];
		size_t l = strlen(a);
		if (l == 0 || l > STORE_ADDR_MAX + 500) {
			fprintf(stderr, "brev: log: '%s' is not an address, Message-ID or id\n", a);
			return 1;
		}
		q.arg = a;
		/* "<x>" as written, or x put between brackets */
		if (a[0] == '<')
			snprintf(q.token, sizeof q.token, "%s", a);
		else
			snprintf(q.token, sizeof q.token, "<%s>", a);
		rc = store_journal_scan(st, since, collect, &q);
		if (rc == ST_OK && q.nids)
			rc = store_journal_scan(st, 0, print_event, &q);
	} else {
		rc = store_journal_scan(st, since, print_event, &q);
	}
	for (size_t k = 0; k < q.nids; k++)
		free(q.ids[k]);
	free(q.ids);
	if (rc != ST_OK) {
		fprintf(stderr, "brev: log: cannot read the journal: %s\n", store_strerror(rc));
		return 1;
	}
	if (!q.printed) {
		if (q.arg)
			fprintf(stderr, "brev: log: nothing in the journal matches '%s'%s\n", q.arg,
				since ? " in that time" : "");
		else
			fprintf(stderr, "brev: log: the journal has no events%s\n",
				since ? " in that time" : "");
		return 1;
	}
	return 0;
}
