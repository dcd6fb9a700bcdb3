/*
 * mailbox.c — the store. Owns the one LMDB environment in DATADIR/store/
 * and everything in it: accounts, credentials (as opaque blobs), aliases,
 * mailboxes, messages, message bytes and the outbound queue. The store's
 * own files (mailbox*.c, sharing the private mailbox_int.h) are the only
 * ones that include <lmdb.h>. The schema and its reasons are in
 * docs/store.md; keep the two in step.
 *
 * This file is the engine: open/close and the schema check (and upgrade),
 * the thin LMDB wrappers, map growth, transactions and group commit, the
 * staging of large messages in commits of their own, the change
 * notifications, statistics and test hooks. The operations live by
 * concern: accounts, aliases and address resolution in mailbox_acct.c,
 * mailboxes in mailbox_mbox.c, messages, their bytes and the per-mailbox
 * indexes in mailbox_msg.c, the outbound queue in mailbox_queue.c.
 *
 * It deliberately knows nothing of protocols: IMAP/POP3/SMTP semantics that
 * are not storage (sequence numbers, \Recent, SEARCH) live in their modules.
 *
 * Shape of every operation: a public function packs its arguments, runs a
 * static `op_*` inside tx_read() or tx_write(), and returns a store_rc.
 * tx_write() owns durability (commit with sync on before ST_OK), map growth
 * (MDB_MAP_FULL: grow, retry), adoption of a map grown by another process
 * (MDB_MAP_RESIZED) and the change notifications after a commit. An op must
 * therefore be safe to run again from the start: it only writes through
 * the transaction and overwrites its outputs. Deliveries and APPENDs go
 * through tx_write_grouped() instead, which shares one commit between the
 * threads waiting on the writer (group commit, see there).
 */
#include "mailbox_int.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* 2: DB_RUN, DB_MSEQ, DB_GONE. 3: msg_rec grew savedate; older records
 * are read as they are (no save date recorded), nothing is rewritten, but
 * a brev of version 2 must not open the store: it would write records
 * back without their save date. 4: DB_PLACE (mailbox_place.c), built from
 * DB_MSG once; a brev of version 3 would not keep it. */
#define SCHEMA_VERSION 4
#define STORE_READERS   1024        /* threads reading at once, all processes */
#define WRITE_RETRIES   32
#define MAP_MIN         (1ULL << 20)

/* Sub-database names, in the order of the DB_* enum (mailbox_int.h). */
static const char *const db_names[DB_N] = {"meta", "acct", "addr", "cred", "alias", "mbox",
					   "msg",  "blob", "chunk", "queue", "qdue", "tomb",
					   "run",  "mseq", "gone", "pend", "journal", "ftw",
					   "ftb",  "ftq",  "btok", "bstat", "btrain", "place", "grey",
					   "sess", "sieve", "list", "lmem", "ltok", "lheld"};

const char *store_strerror(int rc)
{
	switch (rc) {
	case ST_OK: return "ok";
	case ST_NOTFOUND: return "not found";
	case ST_EXISTS: return "already exists";
	case ST_QUOTA: return "over quota";
	case ST_TOOBIG: return "larger than the quota";
	case ST_INVALID: return "invalid argument";
	case ST_TEMP: return "temporary store failure";
	case ST_LIMIT: return "keyword table full";
	}
	return "unknown store error";
}

/* ---- thin LMDB wrappers: remember the first failure in the tx ---- */

void tx_fail(struct tx *t, int rc)
{
	if (!t->mrc)
		t->mrc = rc;
}

void tx_touch(struct tx *t, uint32_t user)
{
	for (size_t i = 0; i < t->ntouched; i++)
		if (t->touched[i] == user)
			return;
	if (t->ntouched < TOUCH_MAX)
		t->touched[t->ntouched++] = user;
	else
		t->touch_all = 1;
}

/* 0 found, 1 not found, -1 failure. */
int db_get(struct tx *t, int db, const void *k, size_t kl, MDB_val *v)
{
	MDB_val key = {kl, (void *)k};
	int rc = mdb_get(t->txn, t->st->dbi[db], &key, v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

int db_put(struct tx *t, int db, const void *k, size_t kl, const void *v, size_t vl, unsigned flags)
{
	MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
	int rc = mdb_put(t->txn, t->st->dbi[db], &key, &val, flags);
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

/* MDB_RESERVE: LMDB makes room and we fill it, saving a copy. */
void *db_reserve(struct tx *t, int db, const void *k, size_t kl, size_t vl, unsigned flags)
{
	MDB_val key = {kl, (void *)k}, val = {vl, NULL};
	int rc = mdb_put(t->txn, t->st->dbi[db], &key, &val, flags | MDB_RESERVE);
	if (rc) {
		tx_fail(t, rc);
		return NULL;
	}
	return val.mv_data;
}

/* 0 deleted, 1 not there, -1 failure. */
int db_del(struct tx *t, int db, const void *k, size_t kl)
{
	MDB_val key = {kl, (void *)k};
	int rc = mdb_del(t->txn, t->st->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

/* Delete every key that starts with prefix. Re-seeks after each delete so
 * it does not depend on cursor position rules after mdb_cursor_del(). */
int db_del_prefix(struct tx *t, int db, const unsigned char *prefix, size_t pl)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c);
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	for (;;) {
		MDB_val k = {pl, (void *)prefix}, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < pl || memcmp(k.mv_data, prefix, pl))))
			break;
		if (rc || (rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

/* Next value of a persistent counter (first is 1). */
int meta_next(struct tx *t, const char *name, uint64_t *out)
{
	MDB_val v;
	uint64_t n = 1;
	int r = db_get(t, DB_META, name, strlen(name), &v);
	if (r < 0)
		return -1;
	if (r == 0 && v.mv_size == sizeof n)
		memcpy(&n, v.mv_data, sizeof n);
	*out = n;
	n++;
	return db_put(t, DB_META, name, strlen(name), &n, sizeof n, 0);
}

/* ---- map size ---- */

static size_t map_clamp(uint64_t want)
{
	/* On 32-bit a 4 GiB request wraps to 0 in size_t: clamp first. */
	uint64_t dflt = sizeof(size_t) == 4 ? 1ULL << 30 : 64ULL << 30;
	uint64_t cap = sizeof(size_t) == 4 ? 1ULL << 30 : 1ULL << 44;
	if (!want)
		want = dflt;
	if (want > cap)
		want = cap;
	if (want < MAP_MIN)
		want = MAP_MIN;
	want = (want + MAP_MIN - 1) & ~(MAP_MIN - 1);
	return (size_t)want;
}

static size_t map_current(struct store *st)
{
	MDB_envinfo info;
	mdb_env_info(st->env, &info);
	return info.me_mapsize;
}

/* Another process grew the map past ours: adopt its size. */
static void map_adopt(struct store *st)
{
	size_t now;
	int rc;
	pthread_rwlock_wrlock(&st->maplock);
	rc = mdb_env_set_mapsize(st->env, 0);
	now = map_current(st);
	pthread_rwlock_unlock(&st->maplock);
	if (rc) {
		log_error("store: cannot adopt the grown map: %s", mdb_strerror(rc));
		atomic_store(&st->dead, 1);
		return;
	}
	log_info("store: map grown by another process, now %zu MiB", now >> 20);
}

/* Whether the address space has room for len bytes right now. LMDB unmaps
 * the old map before mapping the new one and cannot go back, so a failed
 * mdb_env_set_mapsize() would leave the environment unusable: ask first. */
static int map_room(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len);
	return 1;
}

/* MDB_MAP_FULL in a transaction that began with map size `seen`: double
 * the map up to the cap. 0 to retry, -1 if it cannot grow (ST_TEMP). */
static int map_grow(struct store *st, size_t seen)
{
	size_t cur, next;
	int rc = 0;

	pthread_rwlock_wrlock(&st->maplock);
	cur = map_current(st);
	if (cur > seen)
		goto out; /* another thread already grew it */
	next = cur > st->map_cap / 2 ? st->map_cap : cur * 2;
	if (next <= cur) {
		log_error("store: map is full at its limit of %zu MiB", cur >> 20);
		rc = -1;
		goto out;
	}
	if (!map_room(next)) {
		log_error("store: no address space to grow the map to %zu MiB", next >> 20);
		rc = -1;
		goto out;
	}
	rc = mdb_env_set_mapsize(st->env, next);
	if (rc) {
		log_error("store: growing the map to %zu MiB: %s", next >> 20, mdb_strerror(rc));
		atomic_store(&st->dead, 1);
		rc = -1;
		goto out;
	}
	log_info("store: map grown to %zu MiB", next >> 20);
out:
	pthread_rwlock_unlock(&st->maplock);
	return rc;
}

/* ---- transactions ---- */

static int tx_error(const char *what, int rc)
{
	log_error("store: %s: %s", what, mdb_strerror(rc));
	return ST_TEMP;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	(void)!write(fd, &one, sizeof one);
}

static void watchers_wake(struct store *st, uint32_t user)
{
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->nw; i++)
		if (!user || st->w[i].user == user)
			signal_fd(st->w[i].fd);
	pthread_mutex_unlock(&st->mu);
}

static void tx_announce(struct store *st, const struct tx *t)
{
	void (*hook)(void *, uint32_t);
	void *arg;

	pthread_mutex_lock(&st->mu);
	hook = st->hook;
	arg = st->hook_arg;
	pthread_mutex_unlock(&st->mu);
	if (t->touch_all) {
		watchers_wake(st, 0);
		if (hook)
			hook(arg, 0);
		return;
	}
	for (size_t i = 0; i < t->ntouched; i++) {
		watchers_wake(st, t->touched[i]);
		if (hook)
			hook(arg, t->touched[i]);
	}
	if (t->touch_queue && hook)
		hook(arg, 0);
}

/* Take maplock shared for one transaction; -1 if the thread already has
 * one (a callback calling back into the store: mailbox.h forbids it). */
static int tx_enter(struct store *st)
{
	if (pthread_getspecific(st->in_tx)) {
		log_error("store: called from inside a store callback (refused)");
		return -1;
	}
	pthread_setspecific(st->in_tx, st);
	pthread_rwlock_rdlock(&st->maplock);
	return 0;
}

static void tx_leave(struct store *st)
{
	pthread_rwlock_unlock(&st->maplock);
	pthread_setspecific(st->in_tx, NULL);
}

/* Run op in a write transaction and commit it (sync on) when it returns
 * ST_OK. Retries the whole op after growing or adopting the map. */
int tx_write(struct store *st, op_fn op, void *arg)
{
	for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
		struct tx t = {.st = st};
		size_t seen;
		int rc, src;

		if (atomic_load(&st->dead) || tx_enter(st) < 0)
			return ST_TEMP;
		seen = map_current(st);
		rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
		if (rc) {
			tx_leave(st);
			if (rc == MDB_MAP_RESIZED) {
				map_adopt(st);
				continue;
			}
			return tx_error("begin", rc);
		}
		src = op(&t, arg);
		if (src == ST_OK && !t.mrc) {
			rc = mdb_txn_commit(t.txn);
		} else {
			mdb_txn_abort(t.txn);
			rc = t.mrc;
		}
		tx_leave(st);
		if (rc == MDB_MAP_FULL) {
			if (map_grow(st, seen) < 0)
				return ST_TEMP;
			continue;
		}
		if (rc == MDB_MAP_RESIZED) {
			map_adopt(st);
			continue;
		}
		if (rc)
			return tx_error("write", rc);
		if (src == ST_OK)
			tx_announce(st, &t);
		return src;
	}
	log_error("store: write gave up after %d map changes", WRITE_RETRIES);
	return ST_TEMP;
}

/* Run op in a short read transaction. */
int tx_read(struct store *st, op_fn op, void *arg)
{
	for (int attempt = 0; attempt < WRITE_RETRIES; attempt++) {
		struct tx t = {.st = st};
		int rc, src;

		if (atomic_load(&st->dead) || tx_enter(st) < 0)
			return ST_TEMP;
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t.txn);
		if (rc) {
			tx_leave(st);
			if (rc == MDB_MAP_RESIZED) {
				map_adopt(st);
				continue;
			}
			return tx_error("begin read", rc);
		}
		src = op(&t, arg);
		mdb_txn_abort(t.txn);
		tx_leave(st);
		if (t.mrc)
			return tx_error("read", t.mrc);
		return src;
	}
	return ST_TEMP;
}

/* ---- group commit (deliveries and APPENDs) ----
 *
 * One synced LMDB commit costs a couple of fsyncs; a disk does a few
 * thousand a second at best. So deliveries waiting on the writer share one
 * commit: the first thread to arrive while no batch is running becomes the
 * leader, takes every queued request (its own included), runs them one
 * after the other in a single write transaction, commits with sync, and
 * wakes the followers, each with its own result. Nobody returns ST_OK
 * before the commit that holds its message returned, so SMTP 250 and
 * APPEND OK keep their promise.
 *
 * Isolation inside a batch: an op that refuses (quota, no such mailbox)
 * must not have written anything, so the next request runs on a clean
 * transaction (op_deliver and op_append check before they write). An op
 * that fails half-way (ST_TEMP, or an LMDB/errno failure such as a spool
 * read error) may have written: the whole attempt is aborted and re-run
 * without it; it alone gets ST_TEMP. MDB_MAP_FULL grows the map and re-runs
 * the batch, as tx_write does. A failed commit gives everyone ST_TEMP.
 *
 * Memory: without MDB_WRITEMAP every page a transaction writes sits in heap
 * memory until the commit. So a batch is bounded in bytes as well as in
 * count: the leader takes requests only while what they copy stays within
 * BATCH_BYTES (the first always goes; none copies more than STAGE_MIN).
 * Large messages are staged beforehand (blob_stage) and copy nothing here. */

#define BATCH_MAX 256

struct wreq {
	op_fn op;
	void *arg;
	uint64_t bytes;               /* what the op copies into the store */
	int rc;
	int done;                     /* woken with a result (under st->gmu) */
	int dropped;                  /* failed alone; the leader's own field */
	struct tx touch;              /* what it touched, for tx_announce */
	struct wreq *next;
};

/* One attempt at the batch. Returns 0 when it committed (results in each
 * request), 1 to try again (map grown/adopted, or a request was dropped),
 * -1 when the attempt failed for everyone. */
static int batch_try(struct store *st, struct wreq **b, size_t n)
{
	MDB_txn *txn;
	size_t seen;
	int rc;

	if (atomic_load(&st->dead) || tx_enter(st) < 0)
		return -1;
	seen = map_current(st);
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc) {
		tx_leave(st);
		if (rc == MDB_MAP_RESIZED) {
			map_adopt(st);
			return 1;
		}
		tx_error("begin", rc);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct wreq *r = b[i];
		struct tx t = {.st = st, .txn = txn};
		int src;
		if (r->dropped)
			continue;
		src = r->op(&t, r->arg);
		if (t.mrc == MDB_MAP_FULL || t.mrc == MDB_MAP_RESIZED) {
			mdb_txn_abort(txn);
			tx_leave(st);
			if (t.mrc == MDB_MAP_RESIZED)
				map_adopt(st);
			else if (map_grow(st, seen) < 0)
				return -1;
			return 1;
		}
		if (t.mrc || src == ST_TEMP) {
			/* May have written half: drop it, run the rest again. */
			if (t.mrc)
				tx_error("write", t.mrc);
			mdb_txn_abort(txn);
			tx_leave(st);
			r->rc = ST_TEMP;
			r->dropped = 1;
			return 1;
		}
		r->rc = src;
		r->touch = t;
	}
	rc = mdb_txn_commit(txn);
	tx_leave(st);
	if (rc == MDB_MAP_FULL) {
		if (map_grow(st, seen) < 0)
			return -1;
		return 1;
	}
	if (rc == MDB_MAP_RESIZED) {
		map_adopt(st);
		return 1;
	}
	if (rc) {
		tx_error("commit", rc);
		return -1;
	}
	atomic_fetch_add(&st->commits, 1);
	return 0;
}

/* Run a batch to the end: every request gets its final rc. */
static void batch_run(struct store *st, struct wreq **b, size_t n)
{
	int r = 1;
	for (int attempt = 0; r == 1 && attempt < WRITE_RETRIES + (int)n; attempt++) {
		/* A dropped request keeps its rc; the others start over. */
		for (size_t i = 0; i < n; i++)
			if (!b[i]->dropped) {
				b[i]->rc = ST_TEMP;
				memset(&b[i]->touch, 0, sizeof b[i]->touch);
			}
		r = batch_try(st, b, n);
	}
	if (r == 1)
		log_error("store: batch gave up after %d retries", WRITE_RETRIES);
	for (size_t i = 0; i < n; i++)
		if (r != 0)
			b[i]->rc = ST_TEMP;
}

/* malloc keeps what a large write freed (in the arena of whichever thread
 * led the batch): give it back, so memory returns to idle after a burst of
 * large messages. glibc's malloc_trim releases free pages of every arena. */
void heap_trim(uint64_t bytes)
{
	if (bytes >= TRIM_BYTES)
		malloc_trim(0);
}

/* Tests only: the next leader waits (up to a second) until `gate`
 * requests are queued, so that a test knows they share one batch. */
static void gate_wait(struct store *st)
{
	struct timespec until;
	if (!st->gate)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	while (st->gqueued < st->gate)
		if (pthread_cond_timedwait(&st->gcv, &st->gmu, &until))
			break;
	st->gate = 0;
}

/* tx_write for deliveries and APPENDs, through the shared commit. bytes:
 * what op copies into the store (for the batch's byte bound). */
int tx_write_grouped(struct store *st, op_fn op, void *arg, uint64_t bytes)
{
	struct wreq me = {.op = op, .arg = arg, .bytes = bytes, .rc = ST_TEMP};
	struct wreq *b[BATCH_MAX];
	uint64_t sum, led = 0;
	size_t n;

	if (pthread_getspecific(st->in_tx)) {
		log_error("store: called from inside a store callback (refused)");
		return ST_TEMP;
	}
	pthread_mutex_lock(&st->gmu);
	*st->gtail = &me;
	st->gtail = &me.next;
	st->gqueued++;
	if (st->gate)
		pthread_cond_broadcast(&st->gcv);
	for (;;) {
		while (!me.done && st->gbusy)
			pthread_cond_wait(&st->gcv, &st->gmu);
		if (me.done)
			break;
		/* Leader: take up to BATCH_MAX requests or BATCH_BYTES from the
		 * head of the queue (in a long queue we may not be among them:
		 * then lead again). */
		st->gbusy = 1;
		gate_wait(st);
		n = 0;
		sum = 0;
		while (st->ghead && n < BATCH_MAX && (n == 0 || sum + st->ghead->bytes <= BATCH_BYTES)) {
			sum += st->ghead->bytes;
			b[n++] = st->ghead;
			st->ghead = st->ghead->next;
			st->gqueued--;
		}
		if (!st->ghead)
			st->gtail = &st->ghead;
		pthread_mutex_unlock(&st->gmu);

		batch_run(st, b, n);
		led += sum;

		pthread_mutex_lock(&st->gmu);
		for (size_t i = 0; i < n; i++)
			b[i]->done = 1;
		st->gbusy = 0;
		pthread_cond_broadcast(&st->gcv);
	}
	pthread_mutex_unlock(&st->gmu);
	/* After the followers are woken, not before: they need not wait. */
	heap_trim(led);
	/* Each thread announces its own commit: the leader need not wait. */
	if (me.rc == ST_OK)
		tx_announce(st, &me.touch);
	return me.rc;
}

/* ---- staging: a large message's bytes in commits of their own ----
 *
 * Without MDB_WRITEMAP, LMDB keeps every page a write transaction dirties
 * in heap memory until the commit: copying a 45 MB message inside the
 * delivery's transaction costs 45 MB of RAM, and a batch of them (group
 * commit) the sum. So a message above STAGE_MIN is copied first, in
 * transactions of STAGE_PIECE chunks each, each committed (and synced) on
 * its own, under a new blob id recorded in DB_PEND with this process's pid.
 * The delivery's transaction then only claims the blob (blob_write) and
 * deletes the DB_PEND record with everything else it writes: the message
 * appears whole or not at all, as before. Between the pieces other writers
 * get their turn, so a large message no longer holds up small ones.
 *
 * If the process dies before the claim, the chunks stay behind, unreachable;
 * the next store_open of any brev finds the DB_PEND record of a pid that no
 * longer runs and deletes them (pend_sweep). A record whose process still
 * runs is left alone; a staging process that finds its record gone (a pid
 * that looked dead from another PID namespace) stops with ST_TEMP. */

struct stage_args {
	const struct msg_in *m;
	uint64_t blob, off;          /* in: where the piece starts */
	uint32_t no;
	uint64_t blob_out, off_out;  /* out (the op may run more than once) */
};

static int op_stage(struct tx *t, void *arg)
{
	struct stage_args *a = arg;
	unsigned char k[8];
	MDB_val v;
	int r;

	a->blob_out = a->blob;
	if (!a->blob) {
		struct pend_rec p = {.pid = getpid(), .started = now_s()};
		if (meta_next(t, "next_blob", &a->blob_out) < 0)
			return ST_TEMP;
		put64(k, a->blob_out);
		if (db_put(t, DB_PEND, k, 8, &p, sizeof p, 0) < 0)
			return ST_TEMP;
	} else {
		put64(k, a->blob);
		if ((r = db_get(t, DB_PEND, k, 8, &v)))
			return ST_TEMP; /* swept meanwhile: give up */
	}
	/* Not MDB_APPEND: blobs written since, or staged beside this one,
	 * may have larger ids. */
	return chunks_write(t, a->m, a->blob_out, a->no, a->off, STAGE_PIECE, 0, &a->off_out);
}

int blob_stage(struct store *st, const struct msg_in *m, uint64_t min, uint64_t *blob)
{
	struct stage_args a = {.m = m};
	uint64_t size = msg_in_size(m);
	int rc = ST_OK;

	*blob = 0;
	if (size <= min)
		return ST_OK;
	while (a.off < size) {
		if ((rc = tx_write(st, op_stage, &a)) != ST_OK)
			break;
		a.blob = a.blob_out;
		a.no += STAGE_PIECE;
		a.off = a.off_out;
	}
	heap_trim(size);
	if (rc != ST_OK) {
		if (a.blob)
			blob_unstage(st, a.blob);
		return ST_TEMP;
	}
	*blob = a.blob;
	return ST_OK;
}

/* Delete the chunks of a staged blob and its DB_PEND record; nothing when
 * the record is gone (claimed by a committed transaction). */
static int op_unstage(struct tx *t, void *arg)
{
	uint64_t blob = *(uint64_t *)arg;
	unsigned char k[8];
	MDB_val v;
	int r;
	put64(k, blob);
	if ((r = db_get(t, DB_PEND, k, 8, &v)))
		return r < 0 ? ST_TEMP : ST_OK;
	if (db_del_prefix(t, DB_CHUNK, k, 8) < 0 || db_del(t, DB_PEND, k, 8) < 0)
		return ST_TEMP;
	return ST_OK;
}

void blob_unstage(struct store *st, uint64_t blob)
{
	if (blob && tx_write(st, op_unstage, &blob) != ST_OK)
		log_warn("store: staged message bytes %llu left for the next start",
			 (unsigned long long)blob);
}

static int pid_gone(int64_t pid)
{
	/* Our own pid at open is a previous process's, reused. */
	if (pid <= 0 || pid > INT_MAX || pid == getpid())
		return 1;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int op_sweep(struct tx *t, void *arg)
{
	size_t *swept = arg;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t gone[64];
	size_t n = 0;
	int rc;

	*swept = 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_PEND], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < ARRAY_LEN(gone);
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct pend_rec p = {0};
		if (k.mv_size != 8)
			continue;
		memcpy(&p, v.mv_data, v.mv_size < sizeof p ? v.mv_size : sizeof p);
		if (pid_gone(p.pid))
			gone[n++] = get64(k.mv_data);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char key[8];
		put64(key, gone[i]);
		if (db_del_prefix(t, DB_CHUNK, key, 8) < 0 || db_del(t, DB_PEND, key, 8) < 0)
			return ST_TEMP;
	}
	*swept = n;
	return ST_OK;
}

int pend_sweep(struct store *st)
{
	size_t n = 0;
	int rc = tx_write(st, op_sweep, &n);
	if (rc == ST_OK && n)
		log_info("store: removed the staged bytes of %zu message(s) of stopped processes", n);
	return rc;
}

/* ================= public: open / close ================= */

static int open_dbs(struct store *st, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k = {7, "version"}, v;
	uint64_t ver = SCHEMA_VERSION;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc) {
		snprintf(err, errlen, "store: %s", mdb_strerror(rc));
		return -1;
	}
	for (int i = 0; i < DB_N && !rc; i++)
		rc = mdb_dbi_open(txn, db_names[i],
				  MDB_CREATE | (i == DB_FTW ? MDB_DUPSORT | MDB_DUPFIXED : 0),
				  &st->dbi[i]);
	if (!rc) {
		rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
		if (rc == 0 && v.mv_size == sizeof ver)
			memcpy(&ver, v.mv_data, sizeof ver);
		if (rc == MDB_NOTFOUND) {
			v.mv_size = sizeof ver;
			v.mv_data = &ver;
			rc = mdb_put(txn, st->dbi[DB_META], &k, &v, 0);
		}
	}
	if (rc) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "store: %s", mdb_strerror(rc));
		return -1;
	}
	if (ver > SCHEMA_VERSION) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "store: schema version %llu is newer than this brev (%d)",
			 (unsigned long long)ver, SCHEMA_VERSION);
		return -1;
	}
	if (ver < SCHEMA_VERSION) {
		/* Version 1 had no mailbox indexes: build them once. Version 2
		 * records have no save date and stay as they are. */
		uint64_t was = ver;
		ver = SCHEMA_VERSION;
		v.mv_size = sizeof ver;
		v.mv_data = &ver;
		if ((was < 2 && (rc = index_build(txn, st->dbi))) ||
		    (was < 4 && (rc = place_build(txn, st->dbi))) ||
		    (rc = mdb_put(txn, st->dbi[DB_META], &k, &v, 0))) {
			mdb_txn_abort(txn);
			snprintf(err, errlen, "store: upgrading to version %d: %s", SCHEMA_VERSION,
				 mdb_strerror(rc));
			return -1;
		}
		log_info("store: upgraded to schema version %d (%s)", SCHEMA_VERSION,
			 was < 2 ? "mailbox indexes, save dates, blob places" :
			 was < 3 ? "save dates, blob places" : "blob places");
	}
	if ((rc = fts_open(txn, st->dbi))) {
		mdb_txn_abort(txn);
		snprintf(err, errlen, "store: full-text index: %s", mdb_strerror(rc));
		return -1;
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		snprintf(err, errlen, "store: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

int store_open(struct store **out, const char *datadir, uint64_t map_size, char *err,
	       size_t errlen)
{
	char dir[PATH_MAX];
	struct store *st;
	pthread_rwlockattr_t ra;
	size_t want = map_clamp(map_size);
	int rc, stale = 0;

	*out = NULL;
	if (path_join(dir, sizeof dir, datadir, "store") < 0 || mkdir_p(dir, 0700) < 0) {
		snprintf(err, errlen, "store: %s/store: %s", datadir, strerror(errno));
		return -1;
	}
	st = xcalloc(1, sizeof *st);
	st->map_cap = sizeof(size_t) == 4 ? (size_t)1536 << 20 : (size_t)(1ULL << 44);
	pthread_rwlockattr_init(&ra);
	/* Writer preference, so a resize is not starved by a stream of readers. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->maplock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&st->mu, NULL);
	pthread_key_create(&st->in_tx, NULL);
	pthread_mutex_init(&st->gmu, NULL);
	pthread_cond_init(&st->gcv, NULL);
	st->gtail = &st->ghead;

	if ((rc = mdb_env_create(&st->env)) || (rc = mdb_env_set_maxdbs(st->env, DB_N + 4)) ||
	    (rc = mdb_env_set_maxreaders(st->env, STORE_READERS)) ||
	    (rc = mdb_env_set_mapsize(st->env, want)) || (rc = mdb_env_open(st->env, dir, 0, 0600))) {
		snprintf(err, errlen, "store: %s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* Reader slots of processes that died (kill -9) are freed here. */
	mdb_reader_check(st->env, &stale);
	if (stale)
		log_info("store: cleared %d stale reader slot(s)", stale);
	/* If another process grew the map, start from its size. */
	if (mdb_env_set_mapsize(st->env, 0) == 0 && map_current(st) < want)
		mdb_env_set_mapsize(st->env, want);
	if (open_dbs(st, err, errlen) < 0)
		goto fail;
	/* Staged bytes of a process killed before its message was stored. */
	if (pend_sweep(st) != ST_OK)
		log_warn("store: could not remove the staged bytes of stopped processes");
	/* Words left pending by the last run (fewer than a merge's worth). */
	if (store_fts_flush(st) != ST_OK)
		log_warn("store: could not merge the full-text index's pending words");
	*out = st;
	return 0;
fail:
	store_close(&st);
	return -1;
}

void store_close(struct store **sp)
{
	struct store *st = *sp;
	if (!st)
		return;
	if (st->env)
		mdb_env_close(st->env);
	for (size_t i = 0; i < st->nw; i++)
		close(st->w[i].fd);
	free(st->w);
	pthread_rwlock_destroy(&st->maplock);
	pthread_mutex_destroy(&st->mu);
	pthread_key_delete(st->in_tx);
	pthread_mutex_destroy(&st->gmu);
	pthread_cond_destroy(&st->gcv);
	free(st);
	*sp = NULL;
}

void store_set_default_quota(struct store *st, uint64_t bytes)
{
	atomic_store(&st->default_quota, bytes);
}

void store_set_msg_quota(struct store *st, uint32_t messages)
{
	atomic_store(&st->msg_quota, messages);
}

/* ================= change notification ================= */

int store_watch_open(struct store *st, uint32_t user)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&st->mu);
	if (st->nw == st->wcap) {
		st->wcap = st->wcap ? st->wcap * 2 : 16;
		st->w = xrealloc(st->w, st->wcap * sizeof *st->w);
	}
	st->w[st->nw++] = (struct watcher){user, fd};
	pthread_mutex_unlock(&st->mu);
	return fd;
}

void store_watch_close(struct store *st, uint32_t user, int fd)
{
	int found = 0;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->nw; i++)
		if (st->w[i].fd == fd && st->w[i].user == user) {
			st->w[i] = st->w[--st->nw];
			found = 1;
			break;
		}
	pthread_mutex_unlock(&st->mu);
	if (found)
		close(fd);
}

void store_notify(struct store *st, uint32_t user)
{
	watchers_wake(st, user);
}

void store_set_commit_hook(struct store *st, void (*fn)(void *arg, uint32_t user), void *arg)
{
	pthread_mutex_lock(&st->mu);
	st->hook = fn;
	st->hook_arg = arg;
	pthread_mutex_unlock(&st->mu);
}

/* ================= statistics ================= */

struct stats_args {
	struct store_stats *out;
	uint64_t blob;
	uint32_t refs;
};

static uint64_t db_entries(struct tx *t, int db)
{
	MDB_stat s;
	int rc = mdb_stat(t->txn, t->st->dbi[db], &s);
	if (rc) {
		tx_fail(t, rc);
		return 0;
	}
	return s.ms_entries;
}

static int op_stats(struct tx *t, void *arg)
{
	struct store_stats *o = ((struct stats_args *)arg)->out;
	MDB_envinfo info;
	MDB_stat es;
	mdb_env_info(t->st->env, &info);
	mdb_env_stat(t->st->env, &es);
	memset(o, 0, sizeof *o);
	o->map_size = info.me_mapsize;
	o->map_used = ((uint64_t)info.me_last_pgno + 1) * es.ms_psize;
	o->accounts = db_entries(t, DB_ACCT);
	o->aliases = db_entries(t, DB_ALIAS);
	o->mailboxes = db_entries(t, DB_MBOX);
	o->messages = db_entries(t, DB_MSG);
	o->blobs = db_entries(t, DB_BLOB);
	o->chunks = db_entries(t, DB_CHUNK);
	o->staged = db_entries(t, DB_PEND);
	o->queued = db_entries(t, DB_QUEUE);
	return ST_OK;
}

int store_stats(struct store *st, struct store_stats *out)
{
	struct stats_args a = {.out = out};
	return tx_read(st, op_stats, &a);
}

static int op_blob_refs(struct tx *t, void *arg)
{
	struct stats_args *a = arg;
	struct blob_rec b;
	int rc = blob_meta_get(t, a->blob, &b);
	a->refs = rc == ST_OK ? b.refs : 0;
	return rc;
}

int store_blob_refs(struct store *st, uint64_t blob, uint32_t *refs)
{
	struct stats_args a = {.blob = blob};
	int rc = tx_read(st, op_blob_refs, &a);
	*refs = a.refs;
	return rc;
}

static int op_downgrade(struct tx *t, void *arg)
{
	static const int idx[] = {DB_RUN, DB_MSEQ, DB_GONE, DB_PLACE};
	uint64_t one = 1;
	(void)arg;
	for (size_t i = 0; i < ARRAY_LEN(idx); i++) {
		int rc = mdb_drop(t->txn, t->st->dbi[idx[i]], 0);
		if (rc) {
			tx_fail(t, rc);
			return ST_TEMP;
		}
	}
	return db_put(t, DB_META, "version", 7, &one, sizeof one, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_test_downgrade(struct store *st)
{
	return tx_write(st, op_downgrade, NULL);
}

/* Every message record cut to its schema 2 length (no savedate), as a
 * brev before schema 3 wrote them; version 2. */
static int op_schema2(struct tx *t, void *arg)
{
	const size_t old = offsetof(struct msg_rec, savedate);
	uint64_t two = 2;
	unsigned char (*keys)[8] = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;
	(void)arg;
	/* Keys first, then rewrite: no cursor is walked while values change size. */
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MSG], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size <= old)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			keys = xrealloc(keys, cap * sizeof *keys);
		}
		memcpy(keys[n++], k.mv_data, 8);
	}
	mdb_cursor_close(c);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char buf[sizeof(struct msg_rec)];
		k.mv_size = 8;
		k.mv_data = keys[i];
		if ((rc = mdb_get(t->txn, t->st->dbi[DB_MSG], &k, &v)))
			break;
		memcpy(buf, v.mv_data, old);
		v.mv_size = old;
		v.mv_data = buf;
		rc = mdb_put(t->txn, t->st->dbi[DB_MSG], &k, &v, 0);
	}
	free(keys);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return db_put(t, DB_META, "version", 7, &two, sizeof two, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_test_schema2(struct store *st)
{
	return tx_write(st, op_schema2, NULL);
}

/* ---- durability hooks (tests only; docs/development.md) ---- */

unsigned store_test_sync_flags(struct store *st)
{
	unsigned fl = 0, out = 0;
	mdb_env_get_flags(st->env, &fl);
	if (fl & MDB_NOSYNC)
		out |= STORE_ENV_NOSYNC;
	if (fl & MDB_NOMETASYNC)
		out |= STORE_ENV_NOMETASYNC;
	if (fl & MDB_MAPASYNC)
		out |= STORE_ENV_MAPASYNC;
	if (fl & MDB_WRITEMAP)
		out |= STORE_ENV_WRITEMAP;
	return out;
}

uint64_t store_test_commits(struct store *st)
{
	return atomic_load(&st->commits);
}

void store_test_gate(struct store *st, size_t n)
{
	pthread_mutex_lock(&st->gmu);
	st->gate = n;
	pthread_cond_broadcast(&st->gcv);
	pthread_mutex_unlock(&st->gmu);
}
