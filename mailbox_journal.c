/*
 * mailbox_journal.c — the store's side of the delivery journal
 * (journal.h): DB_JOURNAL maps a u64be sequence number (DB_META's
 * "next_journal", so keys only grow and MDB_APPEND holds) to one event:
 * an int64 time, then id, event and detail as NUL-terminated strings.
 *
 * No secondary index: the journal is bounded (log.keep and
 * JOURNAL_EVENTS_MAX), and `brev log` reads it front to back, which for a
 * personal server's month of mail is a few MiB. What an event means, and
 * when one is written, is the callers' (smtp_msg.c, queue.c, main.c).
 */
#include "mailbox_int.h"
#include "journal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define PRUNE_BATCH 5000 /* events removed per commit */

int journal_put(struct tx *t, const char *id, const char *event, const char *detail)
{
	size_t il = strnlen(id ? id : "", JOURNAL_ID_MAX), el = strnlen(event, 32);
	size_t dl = strnlen(detail ? detail : "", JOURNAL_DETAIL_MAX);
	int64_t when = now_s();
	unsigned char k[8];
	uint64_t seq;
	char *p;
	if (meta_next(t, "next_journal", &seq) < 0)
		return ST_TEMP;
	put64(k, seq);
	if (!(p = db_reserve(t, DB_JOURNAL, k, 8, sizeof when + il + el + dl + 3, MDB_APPEND)))
		return ST_TEMP;
	memcpy(p, &when, sizeof when);
	p += sizeof when;
	memcpy(p, id ? id : "", il);
	p[il] = 0;
	p += il + 1;
	memcpy(p, event, el);
	p[el] = 0;
	p += el + 1;
	memcpy(p, detail ? detail : "", dl);
	p[dl] = 0;
	return ST_OK;
}

struct jadd_args {
	const char *id, *event, *detail;
};

static int op_journal_add(struct tx *t, void *arg)
{
	struct jadd_args *a = arg;
	return journal_put(t, a->id, a->event, a->detail);
}

int store_journal_add(struct store *st, const char *id, const char *event, const char *detail)
{
	struct jadd_args a = {id, event, detail};
	return tx_write_grouped(st, op_journal_add, &a, 0) == ST_OK ? ST_OK : ST_TEMP;
}

/* 0 and e filled, or -1 when the record is malformed. */
static int journal_decode(const MDB_val *v, struct journal_event *e)
{
	const char *p = v->mv_data, *end = p + v->mv_size;
	const char **out[3] = {&e->id, &e->event, &e->detail};
	if (v->mv_size < sizeof e->when)
		return -1;
	memcpy(&e->when, p, sizeof e->when);
	p += sizeof e->when;
	for (int i = 0; i < 3; i++) {
		size_t l = strnlen(p, (size_t)(end - p));
		if (l == (size_t)(end - p))
			return -1;
		*out[i] = p;
		p += l + 1;
	}
	return 0;
}

struct jscan_args {
	int64_t since;
	int (*cb)(void *, const struct journal_event *);
	void *arg;
	size_t max;
	int64_t before;
	size_t removed;
};

static int op_journal_scan(struct tx *t, void *arg)
{
	struct jscan_args *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_JOURNAL], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct journal_event e;
		if (journal_decode(&v, &e) < 0 || e.when < a->since)
			continue;
		if (a->cb(a->arg, &e))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_journal_scan(struct store *st, int64_t since,
		       int (*cb)(void *arg, const struct journal_event *e), void *arg)
{
	struct jscan_args a = {.since = since, .cb = cb, .arg = arg};
	return tx_read(st, op_journal_scan, &a);
}

/* Keys only grow and times (nearly) too: the old events are at the front. */
static int op_journal_prune(struct tx *t, void *arg)
{
	struct jscan_args *a = arg;
	MDB_stat s;
	MDB_cursor *c;
	MDB_val k, v;
	size_t left;
	int rc = mdb_stat(t->txn, t->st->dbi[DB_JOURNAL], &s);
	a->removed = 0;
	if (!rc)
		rc = mdb_cursor_open(t->txn, t->st->dbi[DB_JOURNAL], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	left = s.ms_entries;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && a->removed < PRUNE_BATCH;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int64_t when = 0;
		if (v.mv_size >= sizeof when)
			memcpy(&when, v.mv_data, sizeof when);
		if (when >= a->before && left <= a->max)
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		a->removed++;
		left--;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return a->removed ? ST_OK : ST_NOTFOUND;
}

int store_journal_prune(struct store *st, int64_t before, size_t max_events, size_t *removed)
{
	struct jscan_args a = {.before = before, .max = max_events};
	int rc = tx_write(st, op_journal_prune, &a);
	if (removed)
		*removed = rc == ST_OK ? a.removed : 0;
	return rc == ST_NOTFOUND ? ST_OK : rc;
}
