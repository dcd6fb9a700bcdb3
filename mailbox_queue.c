/*
 * mailbox_queue.c — the store's outbound queue: entries (sender,
 * recipients, last error, the message bytes as a blob of mailbox_msg.c)
 * and their due-order index, with add, list, delete, take (lease) and
 * update. Delivery attempts and their policy are queue.c's; transactions
 * are mailbox.c's (mailbox_int.h).
 */
#include "mailbox_int.h"
#include "journal.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_RCPTS_MAX 1000        /* recipients of one queue entry */

/* ================= outbound queue ================= */

struct queue_args {
	char from[STORE_ADDR_MAX + 1];
	char (*rcpts)[STORE_ADDR_MAX + 1];
	size_t n;
	const struct msg_in *m;
	uint64_t staged;             /* blob_stage's blob, or 0 */
	uint64_t id;
	int (*cb)(void *, const struct queue_entry *);
	void *arg;
};

/* next_try is signed; offset binary keeps the byte order = time order. */
static void qdue_key(unsigned char *k, int64_t next_try, uint64_t id)
{
	put64(k, (uint64_t)next_try ^ (1ULL << 63));
	put64(k + 8, id);
}

/* The journal records of a new entry, in its commit (journal.h). */
static int queue_journal(struct tx *t, const struct queue_args *a)
{
	const struct journal_in *j = a->m->journal;
	char d[JOURNAL_DETAIL_MAX + 1];
	size_t n;
	int rc;
	if (!j)
		return ST_OK;
	if (j->accepted && (rc = journal_put(t, j->id, "accepted", j->accepted)))
		return rc;
	n = (size_t)snprintf(d, sizeof d, "queue=%016llx to=", (unsigned long long)a->id);
	for (size_t i = 0; i < a->n && n < sizeof d; i++)
		n += (size_t)snprintf(d + n, sizeof d - n, "%s<%s>", i ? "," : "", a->rcpts[i]);
	return journal_put(t, j->id, "queued", d);
}

static int op_queue_add(struct tx *t, void *arg)
{
	struct queue_args *a = arg;
	struct queue_rec q = {0};
	struct blob_rec b = {msg_in_size(a->m), 1, CHUNK_SIZE};
	const char *tid = a->m->journal && a->m->journal->id ? a->m->journal->id : "";
	size_t tl = strnlen(tid, JOURNAL_ID_MAX);
	size_t len = sizeof q + strlen(a->from) + 2 + tl + 1;
	unsigned char k[8], dk[16];
	char *p;
	int rc = blob_write(t, a->m, a->staged, &q.blob);
	if (rc)
		return rc;
	if (blob_meta_put(t, q.blob, &b, a->staged ? 0 : MDB_APPEND) < 0 ||
	    meta_next(t, "next_queue", &a->id) < 0)
		return ST_TEMP;
	q.version = 1;
	q.flags = a->m->queue_flags & QF_VERP;
	q.size = b.size;
	q.created = q.next_try = now_s();
	q.nrcpts = (uint32_t)a->n;
	q.from_len = (uint32_t)strlen(a->from);
	for (size_t i = 0; i < a->n; i++)
		len += strlen(a->rcpts[i]) + 1;
	put64(k, a->id);
	if (!(p = db_reserve(t, DB_QUEUE, k, 8, len, MDB_APPEND)))
		return ST_TEMP;
	memcpy(p, &q, sizeof q);
	p += sizeof q;
	memcpy(p, a->from, q.from_len + 1);
	p += q.from_len + 1;
	for (size_t i = 0; i < a->n; i++) {
		size_t l = strlen(a->rcpts[i]) + 1;
		memcpy(p, a->rcpts[i], l);
		p += l;
	}
	*p++ = 0; /* last_error */
	memcpy(p, tid, tl); /* the tracking id, after the strings old records end with */
	p[tl] = 0;
	qdue_key(dk, q.next_try, a->id);
	if (db_put(t, DB_QDUE, dk, 16, "", 0, 0) < 0)
		return ST_TEMP;
	t->touch_queue = 1;
	for (size_t i = 0; a->m->known_local && i < a->n; i++)
		if ((rc = grey_known_put(t, a->m->known_local, a->rcpts[i], q.created)) != ST_OK)
			return rc;
	return queue_journal(t, a);
}

int store_queue_add(struct store *st, const char *from, const char *const *rcpts, size_t n,
		    const struct msg_in *m, uint64_t *id_out)
{
	struct queue_args a = {.m = m, .n = n};
	int rc = ST_INVALID;
	if (!m || (m->hdrlen && !m->hdr) || !n || n > QUEUE_RCPTS_MAX || !rcpts)
		return ST_INVALID;
	if (from && *from && addr_norm(from, a.from, 0) < 0)
		return ST_INVALID;
	a.rcpts = xmalloc(sizeof *a.rcpts * n);
	for (size_t i = 0; i < n; i++)
		if (addr_norm(rcpts[i], a.rcpts[i], 0) < 0)
			goto out;
	/* A large message is staged first, as for local delivery. */
	if (blob_stage(st, m, STAGE_MIN, &a.staged) != ST_OK)
		rc = ST_TEMP;
	else
		rc = tx_write(st, op_queue_add, &a);
	if (a.staged && rc != ST_OK)
		blob_unstage(st, a.staged);
	if (id_out)
		*id_out = rc == ST_OK ? a.id : 0;
out:
	free(a.rcpts);
	return rc;
}

/* Decode a queue record; e->rcpts points into v (valid during the txn).
 * -1 if the record is malformed. */
static int queue_decode(uint64_t id, const MDB_val *v, struct queue_entry *e, char **rcpts)
{
	struct queue_rec q;
	const char *p = v->mv_data, *end = p + v->mv_size;
	size_t l;
	if (v->mv_size < sizeof q)
		return -1;
	memcpy(&q, p, sizeof q);
	p += sizeof q;
	if (q.nrcpts > QUEUE_RCPTS_MAX)
		return -1;
	memset(e, 0, sizeof *e);
	e->id = id;
	e->blob = q.blob;
	e->size = q.size;
	e->created = q.created;
	e->next_try = q.next_try;
	e->attempts = q.attempts;
	e->flags = q.flags;
	e->rcpts = rcpts;
	for (uint32_t i = 0; i < q.nrcpts + 2; i++) {
		if (p >= end || (l = strnlen(p, (size_t)(end - p))) == (size_t)(end - p))
			return -1;
		if (i == 0)
			str_copy(e->from, p, sizeof e->from);
		else if (i <= q.nrcpts)
			rcpts[e->nrcpts++] = (char *)p;
		else
			str_copy(e->last_error, p, sizeof e->last_error);
		p += l + 1;
	}
	/* records written before tracking ids end here */
	if (p < end && (l = strnlen(p, (size_t)(end - p))) < (size_t)(end - p))
		str_copy(e->tid, p, sizeof e->tid);
	return 0;
}

static int op_queue_list(struct tx *t, void *arg)
{
	struct queue_args *a = arg;
	char **rcpts = xmalloc(sizeof *rcpts * QUEUE_RCPTS_MAX);
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_QUEUE], &c);
	if (rc) {
		free(rcpts);
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct queue_entry e;
		if (k.mv_size != 8 || queue_decode(get64(k.mv_data), &v, &e, rcpts) < 0) {
			log_warn("store: skipping a malformed queue entry");
			continue;
		}
		if (a->cb(a->arg, &e))
			break;
	}
	mdb_cursor_close(c);
	free(rcpts);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return ST_OK;
}

int store_queue_list(struct store *st, int (*cb)(void *arg, const struct queue_entry *e),
		     void *arg)
{
	struct queue_args a = {.cb = cb, .arg = arg};
	return tx_read(st, op_queue_list, &a);
}

static int op_queue_del(struct tx *t, void *arg)
{
	struct queue_args *a = arg;
	struct queue_rec q;
	unsigned char k[8], dk[16];
	MDB_val v;
	int r;
	put64(k, a->id);
	r = db_get(t, DB_QUEUE, k, 8, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	if (v.mv_size < sizeof q)
		return ST_TEMP;
	memcpy(&q, v.mv_data, sizeof q);
	qdue_key(dk, q.next_try, a->id);
	if (db_del(t, DB_QDUE, dk, 16) < 0 || db_del(t, DB_QUEUE, k, 8) < 0)
		return ST_TEMP;
	t->touch_queue = 1;
	return blob_ref(t, q.blob, -1);
}

int store_queue_del(struct store *st, uint64_t id)
{
	struct queue_args a = {.id = id};
	return tx_write(st, op_queue_del, &a);
}

/* Write the record of entry id: header q (nrcpts, from_len, err_len set
 * here), from, rcpts, last_error; and its qdue key. */
static int queue_put(struct tx *t, uint64_t id, struct queue_rec *q, const char *from,
		     char *const *rcpts, size_t n, const char *err, const char *tid)
{
	unsigned char k[8], dk[16];
	size_t tl = strlen(tid), len = sizeof *q + tl + 1, l;
	char *p;
	q->nrcpts = (uint32_t)n;
	q->from_len = (uint32_t)strlen(from);
	q->err_len = (uint32_t)strlen(err);
	len += q->from_len + 1 + q->err_len + 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(rcpts[i]) + 1;
	put64(k, id);
	if (!(p = db_reserve(t, DB_QUEUE, k, 8, len, 0)))
		return ST_TEMP;
	memcpy(p, q, sizeof *q);
	p += sizeof *q;
	memcpy(p, from, q->from_len + 1);
	p += q->from_len + 1;
	for (size_t i = 0; i < n; i++) {
		l = strlen(rcpts[i]) + 1;
		memcpy(p, rcpts[i], l);
		p += l;
	}
	memcpy(p, err, q->err_len + 1);
	p += q->err_len + 1;
	memcpy(p, tid, tl + 1);
	qdue_key(dk, q->next_try, id);
	return db_put(t, DB_QDUE, dk, 16, "", 0, 0) < 0 ? ST_TEMP : ST_OK;
}

/* One entry, decoded from a private copy of its record (so it may be
 * rewritten while the caller still looks at the strings). */
struct queue_copy {
	struct queue_rec q;
	struct queue_entry e;
	char *buf;
	char **rcpts;
};

static void queue_copy_free(struct queue_copy *c)
{
	free(c->buf);
	free(c->rcpts);
	c->buf = NULL;
	c->rcpts = NULL;
}

/* 0 ok, 1 not found, -1 failure or malformed. */
static int queue_load(struct tx *t, uint64_t id, struct queue_copy *c)
{
	unsigned char k[8];
	MDB_val v;
	int r;
	memset(c, 0, sizeof *c);
	put64(k, id);
	r = db_get(t, DB_QUEUE, k, 8, &v);
	if (r)
		return r;
	c->buf = xmalloc(v.mv_size ? v.mv_size : 1);
	memcpy(c->buf, v.mv_data, v.mv_size);
	c->rcpts = xmalloc(sizeof *c->rcpts * QUEUE_RCPTS_MAX);
	v.mv_data = c->buf;
	if (queue_decode(id, &v, &c->e, c->rcpts) < 0) {
		queue_copy_free(c);
		return -1;
	}
	memcpy(&c->q, c->buf, sizeof c->q);
	return 0;
}

/* Move entry c to a new due time / flags / error / recipient list. */
static int queue_rewrite(struct tx *t, struct queue_copy *c, int64_t next_try, const char *err)
{
	unsigned char dk[16];
	qdue_key(dk, c->q.next_try, c->e.id);
	if (db_del(t, DB_QDUE, dk, 16) < 0)
		return ST_TEMP;
	c->q.next_try = next_try;
	return queue_put(t, c->e.id, &c->q, c->e.from, c->e.rcpts, c->e.nrcpts, err, c->e.tid);
}

struct queue_take_args {
	int64_t now, lease, next_due;
	size_t max, taken;
	uint64_t *ids;
	struct queue_copy *got;       /* the taken entries, for the callback */
};

static void queue_take_reset(struct queue_take_args *a)
{
	for (size_t i = 0; i < a->taken; i++)
		queue_copy_free(&a->got[i]);
	a->taken = 0;
}

static int op_queue_take(struct tx *t, void *arg)
{
	struct queue_take_args *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_QDUE], &c);
	queue_take_reset(a); /* tx_write may run an op again */
	a->next_due = INT64_MAX;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	/* Collect the due ids first: rewriting moves qdue keys under the
	 * cursor (a new key at now + lease sorts after the walk). */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int64_t due;
		if (k.mv_size != 16)
			continue;
		due = (int64_t)(get64(k.mv_data) ^ (1ULL << 63));
		if (due > a->now || n == a->max) {
			a->next_due = due;
			break;
		}
		a->ids[n++] = get64((unsigned char *)k.mv_data + 8);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_copy *qc = &a->got[a->taken];
		int r = queue_load(t, a->ids[i], qc);
		if (r) {
			if (r > 0 || t->mrc)
				return ST_TEMP; /* index and records disagree, or I/O */
			log_warn("store: queue entry %llu is malformed, left alone",
				 (unsigned long long)a->ids[i]);
			continue;
		}
		a->taken++;
		qc->q.flags |= QF_LEASED;
		qc->e.flags = qc->q.flags;
		rc = queue_rewrite(t, qc, a->now + a->lease, qc->e.last_error);
		if (rc)
			return rc;
	}
	if (!a->taken)
		return ST_NOTFOUND;
	t->touch_queue = 1;
	return ST_OK;
}

int store_queue_take(struct store *st, int64_t now, int64_t lease, size_t max,
		     int (*cb)(void *arg, const struct queue_entry *e), void *arg,
		     int64_t *next_due)
{
	struct queue_take_args a = {.now = now, .lease = lease, .max = max};
	int rc;
	if (!max || max > QUEUE_RCPTS_MAX || !cb || lease <= 0)
		return ST_INVALID;
	a.ids = xmalloc(sizeof *a.ids * max);
	a.got = xcalloc(max, sizeof *a.got);
	rc = tx_write(st, op_queue_take, &a);
	/* After the commit: the leases are durable before anyone sends. */
	for (size_t i = 0; rc == ST_OK && i < a.taken; i++)
		cb(arg, &a.got[i].e);
	queue_take_reset(&a);
	free(a.got);
	free(a.ids);
	if (next_due)
		*next_due = rc == ST_OK || rc == ST_NOTFOUND ? a.next_due : now + 60;
	return rc;
}

struct queue_update_args {
	uint64_t id;
	const char *const *done;
	size_t ndone;
	int64_t next_try;
	const char *err;
	uint32_t add_attempt, set_flags;
};

static int op_queue_update(struct tx *t, void *arg)
{
	struct queue_update_args *a = arg;
	struct queue_copy qc;
	size_t keep = 0;
	int rc = queue_load(t, a->id, &qc);
	if (rc)
		return rc > 0 ? ST_NOTFOUND : ST_TEMP;
	for (size_t i = 0; i < qc.e.nrcpts; i++) {
		int gone = 0;
		for (size_t j = 0; j < a->ndone && !gone; j++)
			gone = str_casecmp_ascii(qc.e.rcpts[i], a->done[j]) == 0;
		if (!gone)
			qc.e.rcpts[keep++] = qc.e.rcpts[i];
	}
	qc.e.nrcpts = keep;
	t->touch_queue = 1;
	if (keep == 0) {
		unsigned char k[8], dk[16];
		put64(k, a->id);
		qdue_key(dk, qc.q.next_try, a->id);
		rc = db_del(t, DB_QDUE, dk, 16) < 0 || db_del(t, DB_QUEUE, k, 8) < 0
			 ? ST_TEMP
			 : blob_ref(t, qc.q.blob, -1);
		queue_copy_free(&qc);
		return rc;
	}
	qc.q.attempts += a->add_attempt;
	qc.q.flags |= a->set_flags;
	if (a->next_try > 0)
		qc.q.flags &= ~(uint32_t)QF_LEASED;
	rc = queue_rewrite(t, &qc, a->next_try > 0 ? a->next_try : qc.q.next_try,
			   a->err ? a->err : qc.e.last_error);
	queue_copy_free(&qc);
	return rc;
}

int store_queue_update(struct store *st, uint64_t id, const char *const *done, size_t ndone,
		       int64_t next_try, const char *last_error, uint32_t add_attempt,
		       uint32_t set_flags)
{
	struct queue_update_args a = {id, done, ndone, next_try, NULL, add_attempt, set_flags};
	char err[sizeof ((struct queue_entry *)0)->last_error];
	if (ndone && !done)
		return ST_INVALID;
	if (last_error) {
		/* Bounded like the field readers decode into; no NUL inside. */
		str_copy(err, last_error, sizeof err);
		a.err = err;
	}
	return tx_write(st, op_queue_update, &a);
}

struct queue_due_args {
	int leased_only;
	size_t count;
};

static int op_queue_due_now(struct tx *t, void *arg)
{
	struct queue_due_args *a = arg;
	int64_t now = now_s();
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_QUEUE], &c);
	a->count = 0;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct queue_rec q;
		if (k.mv_size != 8 || v.mv_size < sizeof q)
			continue;
		memcpy(&q, v.mv_data, sizeof q);
		int leased = !!(q.flags & QF_LEASED);
		if (a->leased_only ? !leased : (leased || q.next_try <= now))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n++] = get64(k.mv_data);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		free(ids);
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_copy qc;
		if (queue_load(t, ids[i], &qc))
			continue;
		qc.q.flags &= ~(uint32_t)QF_LEASED;
		rc = queue_rewrite(t, &qc, now, qc.e.last_error);
		queue_copy_free(&qc);
		if (rc) {
			free(ids);
			return rc;
		}
		a->count++;
	}
	free(ids);
	if (a->count)
		t->touch_queue = 1;
	return a->count ? ST_OK : ST_NOTFOUND;
}

int store_queue_due_now(struct store *st, int leased_only, size_t *count)
{
	struct queue_due_args a = {.leased_only = leased_only};
	int rc = tx_write(st, op_queue_due_now, &a);
	if (count)
		*count = rc == ST_OK ? a.count : 0;
	return rc == ST_NOTFOUND ? ST_OK : rc;
}
