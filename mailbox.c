/*
 * mailbox.c — the store. Owns the one LMDB environment in DATADIR/store/
 * and everything in it: accounts, credentials (as opaque blobs), aliases,
 * mailboxes, messages, message bytes and the outbound queue. It is the only
 * file that includes <lmdb.h>. The schema and its reasons are in
 * docs/store.md; keep the two in step.
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
#include "mailbox.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 2 /* 2: DB_RUN, DB_MSEQ, DB_GONE */
/* 16 pages of 4 KiB minus LMDB's page header: one chunk fills its overflow
 * pages exactly instead of spilling 16 bytes into a 17th page. */
#define CHUNK_SIZE      (65536 - 16)
#define KW_MAX          128         /* bytes of one keyword name */
#define ALIAS_DEPTH     8           /* alias -> alias -> ... */
#define RESOLVE_SEEN    64          /* addresses expanded per resolve */
#define QUEUE_RCPTS_MAX 1000        /* recipients of one queue entry */
#define MBOX_NAME_LIM   (511 - 4)   /* LMDB key limit minus the user id */
#define STORE_READERS   1024        /* threads reading at once, all processes */
#define WRITE_RETRIES   32
#define MAP_MIN         (1ULL << 20)
#define FL_ALL          (FL_SEEN | FL_ANSWERED | FL_FLAGGED | FL_DELETED | FL_DRAFT)

enum {
	DB_META,  /* "name" -> u64 counters and the schema version */
	DB_ACCT,  /* u32be account id -> struct acct_rec */
	DB_ADDR,  /* lower-cased address -> u32 account id */
	DB_CRED,  /* u32be account id -> struct cred_hdr + struct cred bytes */
	DB_ALIAS, /* lower-cased address or '@domain' -> targets, NUL-terminated */
	DB_MBOX,  /* u32be user + name -> struct mbox_rec + keyword names */
	DB_MSG,   /* u32be mailbox id + u32be uid -> struct msg_rec */
	DB_BLOB,  /* u64be blob id -> struct blob_rec */
	DB_CHUNK, /* u64be blob id + u32be chunk no -> up to CHUNK_SIZE bytes */
	DB_QUEUE, /* u64be queue id -> struct queue_rec + strings */
	DB_QDUE,  /* u64be next_try + u64be queue id -> "" (due-order index) */
	DB_TOMB,  /* u32be user + name of a deleted/renamed mailbox -> u32 uidnext */
	DB_RUN,   /* u32be mailbox id + u32be first uid -> u32 count: the UIDs in runs */
	DB_MSEQ,  /* u32be mailbox id + u64be modseq + u32be uid -> "": live messages
		   * in modseq order (what changed since X) */
	DB_GONE,  /* u32be mailbox id + u64be modseq + u32be uid -> "": expunged UIDs;
		   * key (id, 0, 0) -> struct gone_hdr */
	DB_N
};
static const char *const db_names[DB_N] = {"meta", "acct", "addr", "cred", "alias", "mbox",
					   "msg",  "blob", "chunk", "queue", "qdue", "tomb",
					   "run",  "mseq", "gone"};

/* ---- records (values are native-endian, like LMDB's own pages) ---- */

struct acct_rec {
	uint32_t version, id;
	uint64_t quota, used;
	uint32_t messages, pad;
	char addr[STORE_ADDR_MAX + 2];
};

struct cred_hdr {
	uint32_t version; /* of this framing; struct cred has its own */
	uint32_t len;     /* sizeof(struct cred) when written */
};

struct mbox_rec {
	uint32_t version, id, uidvalidity, uidnext;
	uint32_t special, subscribed, exists, unseen;
	uint64_t highestmodseq, size;
	uint32_t nkw;
	uint32_t unseen_low; /* every message with a lower UID is \Seen (was
			      * padding: 0 in old records, which is true) */
	/* followed by nkw NUL-terminated keyword names */
};

struct msg_rec {
	uint32_t flags, pad;
	uint64_t keywords, modseq, size;
	int64_t internaldate;
	uint64_t blob;
};

struct blob_rec {
	uint64_t size;
	uint32_t refs, chunk;
};

/*
 * The outbound issue will add "take due entries" and "update after an
 * attempt". Both are cheap with this layout: DB_QDUE orders entries by
 * next_try, so taking due ones is a cursor walk from the start up to now;
 * an update rewrites this record (fewer rcpts, attempts+1, next_try,
 * last_error) and moves its one DB_QDUE key.
 */
struct queue_rec {
	uint32_t version, attempts;
	uint64_t blob, size;
	int64_t created, next_try;
	uint32_t nrcpts, from_len, err_len, flags; /* flags: enum queue_flag
						    * (was padding: 0 in old records) */
	/* followed by from\0, nrcpts x rcpt\0, last_error\0 */
};

/* In memory only: a mailbox with its keyword table unpacked. */
struct mbox {
	uint32_t user;
	char name[STORE_MBOX_MAX + 1];
	struct mbox_rec r;
	char kw[STORE_KEYWORDS][KW_MAX + 1];
};

struct watcher {
	uint32_t user;
	int fd;
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_N];
	/* Every transaction holds maplock shared; changing the map size holds
	 * it exclusive, because LMDB allows mdb_env_set_mapsize() only when
	 * the process has no transaction open. */
	pthread_rwlock_t maplock;
	/* Set while this thread is inside a transaction: a callback calling
	 * back into the store would need maplock twice, which deadlocks
	 * behind a waiting resize; it is refused instead. */
	pthread_key_t in_tx;
	size_t map_cap;
	atomic_int dead;              /* the map could not be re-mapped */
	_Atomic uint64_t default_quota;
	pthread_mutex_t mu;           /* guards the fields below */
	struct watcher *w;
	size_t nw, wcap;
	void (*hook)(void *arg, uint32_t user);
	void *hook_arg;
	/* Group commit of deliveries and APPENDs (tx_write_grouped). */
	pthread_mutex_t gmu;
	pthread_cond_t gcv;
	struct wreq *ghead, **gtail;  /* requests waiting for a leader */
	int gbusy;                    /* a leader is running a batch */
};

/* One transaction and what it touched, for the notifications. */
#define TOUCH_MAX 16
struct tx {
	struct store *st;
	MDB_txn *txn;
	int mrc;                      /* first LMDB/errno failure */
	uint32_t touched[TOUCH_MAX];
	size_t ntouched;
	int touch_all, touch_queue;
};

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
	}
	return "unknown store error";
}

/* ---- keys ---- */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- thin LMDB wrappers: remember the first failure in the tx ---- */

static void tx_fail(struct tx *t, int rc)
{
	if (!t->mrc)
		t->mrc = rc;
}

static void tx_touch(struct tx *t, uint32_t user)
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
static int db_get(struct tx *t, int db, const void *k, size_t kl, MDB_val *v)
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

static int db_put(struct tx *t, int db, const void *k, size_t kl, const void *v, size_t vl,
		  unsigned flags)
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
static void *db_reserve(struct tx *t, int db, const void *k, size_t kl, size_t vl, unsigned flags)
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
static int db_del(struct tx *t, int db, const void *k, size_t kl)
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
static int db_del_prefix(struct tx *t, int db, const unsigned char *prefix, size_t pl)
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
static int meta_next(struct tx *t, const char *name, uint64_t *out)
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

typedef int (*op_fn)(struct tx *t, void *arg);

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
static int tx_write(struct store *st, op_fn op, void *arg)
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
static int tx_read(struct store *st, op_fn op, void *arg)
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
 * the batch, as tx_write does. A failed commit gives everyone ST_TEMP. */

#define BATCH_MAX 256

struct wreq {
	op_fn op;
	void *arg;
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

/* tx_write for deliveries and APPENDs, through the shared commit. */
static int tx_write_grouped(struct store *st, op_fn op, void *arg)
{
	struct wreq me = {.op = op, .arg = arg, .rc = ST_TEMP};
	struct wreq *b[BATCH_MAX];
	size_t n;

	if (pthread_getspecific(st->in_tx)) {
		log_error("store: called from inside a store callback (refused)");
		return ST_TEMP;
	}
	pthread_mutex_lock(&st->gmu);
	*st->gtail = &me;
	st->gtail = &me.next;
	for (;;) {
		while (!me.done && st->gbusy)
			pthread_cond_wait(&st->gcv, &st->gmu);
		if (me.done)
			break;
		/* Leader: take up to BATCH_MAX from the head of the queue (in
		 * a very long queue we may not be among them: then lead again). */
		st->gbusy = 1;
		n = 0;
		while (st->ghead && n < BATCH_MAX) {
			b[n++] = st->ghead;
			st->ghead = st->ghead->next;
		}
		if (!st->ghead)
			st->gtail = &st->ghead;
		pthread_mutex_unlock(&st->gmu);

		batch_run(st, b, n);

		pthread_mutex_lock(&st->gmu);
		for (size_t i = 0; i < n; i++)
			b[i]->done = 1;
		st->gbusy = 0;
		pthread_cond_broadcast(&st->gcv);
	}
	pthread_mutex_unlock(&st->gmu);
	/* Each thread announces its own commit: the leader need not wait. */
	if (me.rc == ST_OK)
		tx_announce(st, &me.touch);
	return me.rc;
}

/* ---- validation ---- */

/* local@domain (or '@domain' when catchall), lower-cased into out. */
static int addr_norm(const char *in, char *out, int catchall)
{
	size_t n, at = 0, ats = 0;
	if (!in)
		return -1;
	n = strlen(in);
	if (n == 0 || n > STORE_ADDR_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';')
			return -1;
		if (c == '@') {
			at = i;
			ats++;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = 0;
	if (ats != 1 || at == n - 1 || (at == 0 && !catchall))
		return -1;
	if (out[at + 1] == '.' || out[n - 1] == '.' || strstr(out + at, ".."))
		return -1;
	return 0;
}

static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
					    (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || (len == 2 && c < 0xc2) || i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/* A mailbox name: NULL means INBOX; a leading "inbox" component is INBOX
 * whatever its case (RFC 3501 5.1); no wildcards, controls, empty levels. */
static int mbox_norm(const char *in, char *out)
{
	size_t n;
	if (!in)
		in = "INBOX";
	n = strlen(in);
	if (n == 0 || n > MBOX_NAME_LIM || !utf8_ok((const unsigned char *)in, n))
		return -1;
	if (in[0] == '/' || in[n - 1] == '/' || strstr(in, "//"))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return -1;
	}
	memcpy(out, in, n + 1);
	if (str_ncasecmp_ascii(out, "INBOX", 5) == 0 && (out[5] == 0 || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

/* RFC 3501 9: flag-keyword = atom; system flags are the \ bits. */
static int keyword_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > KW_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c))
			return 0;
	}
	return 1;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- accounts ---- */

static int acct_get(struct tx *t, uint32_t id, struct acct_rec *a)
{
	unsigned char k[4];
	MDB_val v;
	int r;
	put32(k, id);
	r = db_get(t, DB_ACCT, k, 4, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	memset(a, 0, sizeof *a);
	memcpy(a, v.mv_data, v.mv_size < sizeof *a ? v.mv_size : sizeof *a);
	a->addr[sizeof a->addr - 1] = 0;
	return ST_OK;
}

static int addr_id(struct tx *t, const char *addr, uint32_t *id)
{
	MDB_val v;
	int r = db_get(t, DB_ADDR, addr, strlen(addr), &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	if (v.mv_size != 4)
		return ST_NOTFOUND;
	memcpy(id, v.mv_data, 4);
	return ST_OK;
}

static int acct_by_addr(struct tx *t, const char *addr, struct acct_rec *a)
{
	uint32_t id;
	int rc = addr_id(t, addr, &id);
	return rc ? rc : acct_get(t, id, a);
}

static int acct_put(struct tx *t, const struct acct_rec *a)
{
	unsigned char k[4];
	put32(k, a->id);
	return db_put(t, DB_ACCT, k, 4, a, sizeof *a, 0);
}

static int cred_get(struct tx *t, uint32_t id, struct cred *c)
{
	unsigned char k[4];
	struct cred_hdr h;
	MDB_val v;
	int r;
	memset(c, 0, sizeof *c);
	put32(k, id);
	r = db_get(t, DB_CRED, k, 4, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_OK; /* no credential: all zero */
	if (v.mv_size < sizeof h)
		return ST_OK;
	memcpy(&h, v.mv_data, sizeof h);
	if (h.len > v.mv_size - sizeof h)
		h.len = (uint32_t)(v.mv_size - sizeof h);
	/* A struct cred of another size (another CRED_VERSION) is copied as
	 * far as it goes; sasl.c reads cred.version to tell which it is. */
	memcpy(c, (const char *)v.mv_data + sizeof h, h.len < sizeof *c ? h.len : sizeof *c);
	return ST_OK;
}

static int cred_put(struct tx *t, uint32_t id, const struct cred *c)
{
	unsigned char k[4];
	struct cred_hdr h = {1, sizeof *c};
	char *p;
	put32(k, id);
	p = db_reserve(t, DB_CRED, k, 4, sizeof h + sizeof *c, 0);
	if (!p)
		return -1;
	memcpy(p, &h, sizeof h);
	memcpy(p + sizeof h, c, sizeof *c);
	return 0;
}

static uint64_t quota_limit(struct store *st, const struct acct_rec *a)
{
	return a->quota == QUOTA_DEFAULT ? atomic_load(&st->default_quota) : a->quota;
}

static int quota_fits(struct store *st, const struct acct_rec *a, uint64_t size)
{
	uint64_t lim = quota_limit(st, a);
	if (!lim)
		return ST_OK;
	if (size > lim)
		return ST_TOOBIG;
	if (a->used > lim || size > lim - a->used)
		return ST_QUOTA;
	return ST_OK;
}

static void acct_export(struct store *st, const struct acct_rec *a, const struct cred *c,
			struct account *out)
{
	memset(out, 0, sizeof *out);
	out->id = a->id;
	str_copy(out->addr, a->addr, sizeof out->addr);
	out->quota = a->quota;
	out->quota_effective = quota_limit(st, a);
	out->used = a->used;
	out->messages = a->messages;
	out->cred = *c;
}

/* ---- mailboxes ---- */

static size_t mbox_key(unsigned char *k, uint32_t user, const char *name)
{
	size_t n = strlen(name);
	put32(k, user);
	memcpy(k + 4, name, n);
	return 4 + n;
}

static int mbox_decode(struct mbox *mb, uint32_t user, const MDB_val *k, const MDB_val *v)
{
	const char *p, *end;
	size_t nl = k->mv_size - 4;
	memset(mb, 0, sizeof *mb);
	mb->user = user;
	if (nl > STORE_MBOX_MAX || v->mv_size < sizeof mb->r)
		return ST_TEMP;
	memcpy(mb->name, (const char *)k->mv_data + 4, nl);
	memcpy(&mb->r, v->mv_data, sizeof mb->r);
	p = (const char *)v->mv_data + sizeof mb->r;
	end = (const char *)v->mv_data + v->mv_size;
	if (mb->r.nkw > STORE_KEYWORDS)
		mb->r.nkw = STORE_KEYWORDS;
	for (uint32_t i = 0; i < mb->r.nkw; i++) {
		size_t l = strnlen(p, (size_t)(end - p));
		if (p + l >= end || l > KW_MAX) {
			mb->r.nkw = i;
			break;
		}
		memcpy(mb->kw[i], p, l + 1);
		p += l + 1;
	}
	return ST_OK;
}

static int mbox_get(struct tx *t, uint32_t user, const char *name, struct mbox *mb)
{
	unsigned char k[4 + STORE_MBOX_MAX];
	MDB_val key, v;
	int r;
	key.mv_size = mbox_key(k, user, name);
	key.mv_data = k;
	r = db_get(t, DB_MBOX, k, key.mv_size, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	return mbox_decode(mb, user, &key, &v);
}

static int mbox_put(struct tx *t, const struct mbox *mb)
{
	unsigned char k[4 + STORE_MBOX_MAX];
	size_t kl = mbox_key(k, mb->user, mb->name), vl = sizeof mb->r;
	char *p;
	for (uint32_t i = 0; i < mb->r.nkw; i++)
		vl += strlen(mb->kw[i]) + 1;
	struct mbox_rec r = mb->r;
	if (!r.unseen || r.unseen_low > r.uidnext)
		r.unseen_low = r.uidnext; /* nothing unseen below UIDNEXT */
	p = db_reserve(t, DB_MBOX, k, kl, vl, 0);
	if (!p)
		return -1;
	memcpy(p, &r, sizeof r);
	p += sizeof mb->r;
	for (uint32_t i = 0; i < mb->r.nkw; i++) {
		size_t l = strlen(mb->kw[i]) + 1;
		memcpy(p, mb->kw[i], l);
		p += l;
	}
	return 0;
}

/* A mailbox name leaves (DELETE, RENAME): remember its UIDNEXT, so that a
 * mailbox created under that name later continues above it. Its
 * UIDVALIDITY changes anyway; this only makes "UIDs are never reused"
 * hold per name as well, which is what clients that key caches by name
 * alone (and users reading logs) expect. */
static int mbox_del_key(struct tx *t, const struct mbox *mb)
{
	unsigned char k[4 + STORE_MBOX_MAX];
	size_t kl = mbox_key(k, mb->user, mb->name);
	uint32_t next = mb->r.uidnext, old = 0;
	MDB_val v;
	int r;
	if (db_del(t, DB_MBOX, k, kl) < 0 || (r = db_get(t, DB_TOMB, k, kl, &v)) < 0)
		return -1;
	if (r == 0 && v.mv_size == sizeof old)
		memcpy(&old, v.mv_data, sizeof old);
	if (old > next)
		next = old; /* a rename had put a mailbox with lower UIDs here */
	return db_put(t, DB_TOMB, k, kl, &next, sizeof next, 0);
}

/* First UID for a mailbox created under name: above any earlier one. */
static int tomb_uidnext(struct tx *t, uint32_t user, const char *name, uint32_t *uidnext)
{
	unsigned char k[4 + STORE_MBOX_MAX];
	size_t kl = mbox_key(k, user, name);
	MDB_val v;
	int r = db_get(t, DB_TOMB, k, kl, &v);
	*uidnext = 1;
	if (r)
		return r < 0 ? -1 : 0;
	if (v.mv_size == sizeof *uidnext)
		memcpy(uidnext, v.mv_data, sizeof *uidnext);
	if (!*uidnext)
		*uidnext = 1;
	return db_del(t, DB_TOMB, k, kl) < 0 ? -1 : 0;
}

/* UIDVALIDITY: the creation time, but strictly above every value handed
 * out before, so a mailbox re-created in the same second (or after the
 * clock went back) still gets a new one (RFC 3501 2.3.1.1). */
static int uidvalidity_next(struct tx *t, uint32_t *out)
{
	MDB_val v;
	uint64_t last = 0, now = (uint64_t)now_s();
	int r = db_get(t, DB_META, "uidvalidity", 11, &v);
	if (r < 0)
		return -1;
	if (r == 0 && v.mv_size == sizeof last)
		memcpy(&last, v.mv_data, sizeof last);
	last = now > last ? now : last + 1;
	if (last > UINT32_MAX)
		last = 1;
	*out = (uint32_t)last;
	return db_put(t, DB_META, "uidvalidity", 11, &last, sizeof last, 0);
}

static int mbox_new(struct tx *t, uint32_t user, const char *name, int special, int subscribed,
		    struct mbox *mb)
{
	uint64_t id;
	memset(mb, 0, sizeof *mb);
	mb->user = user;
	str_copy(mb->name, name, sizeof mb->name);
	if (meta_next(t, "next_mbox", &id) < 0 || uidvalidity_next(t, &mb->r.uidvalidity) < 0 ||
	    tomb_uidnext(t, user, name, &mb->r.uidnext) < 0)
		return -1;
	mb->r.version = 1;
	mb->r.id = (uint32_t)id;
	mb->r.special = (uint32_t)special;
	mb->r.subscribed = subscribed ? 1 : 0;
	mb->r.highestmodseq = 1;
	return mbox_put(t, mb);
}

/* RFC 3501 6.3.3: create the missing superiors of name. */
static int mbox_make_parents(struct tx *t, uint32_t user, const char *name)
{
	char buf[STORE_MBOX_MAX + 1];
	str_copy(buf, name, sizeof buf);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		struct mbox mb;
		int rc;
		*s = 0;
		rc = mbox_get(t, user, buf, &mb);
		if (rc == ST_NOTFOUND && mbox_new(t, user, buf, MBOX_NORMAL, 0, &mb) < 0)
			return ST_TEMP;
		if (rc == ST_TEMP)
			return ST_TEMP;
		*s = '/';
	}
	return ST_OK;
}

/* Index of a keyword in the mailbox's table (case-insensitive), adding it
 * when `add`. -1 unknown, -2 table full. */
static int kw_index(struct mbox *mb, const char *name, int add)
{
	for (uint32_t i = 0; i < mb->r.nkw; i++)
		if (str_casecmp_ascii(mb->kw[i], name) == 0)
			return (int)i;
	if (!add)
		return -1;
	if (mb->r.nkw >= STORE_KEYWORDS)
		return -2;
	str_copy(mb->kw[mb->r.nkw], name, sizeof mb->kw[0]);
	return (int)mb->r.nkw++;
}

static int kw_mask(struct mbox *mb, const char *const *kws, size_t n, int add, uint64_t *mask)
{
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		int ix;
		if (!kws[i] || !keyword_ok(kws[i]))
			return ST_INVALID;
		ix = kw_index(mb, kws[i], add);
		if (ix == -2)
			return ST_INVALID;
		if (ix >= 0)
			*mask |= 1ULL << ix;
	}
	return ST_OK;
}

/* ---- blobs: message bytes, chunked, reference-counted ---- */

static size_t chunk_key(unsigned char *k, uint64_t blob, uint32_t no)
{
	put64(k, blob);
	put32(k + 8, no);
	return 12;
}

static int blob_meta_get(struct tx *t, uint64_t blob, struct blob_rec *b)
{
	unsigned char k[8];
	MDB_val v;
	int r;
	put64(k, blob);
	r = db_get(t, DB_BLOB, k, 8, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	if (v.mv_size != sizeof *b)
		return ST_NOTFOUND;
	memcpy(b, v.mv_data, sizeof *b);
	return ST_OK;
}

static int blob_meta_put(struct tx *t, uint64_t blob, const struct blob_rec *b, unsigned flags)
{
	unsigned char k[8];
	put64(k, blob);
	return db_put(t, DB_BLOB, k, 8, b, sizeof *b, flags);
}

static uint64_t msg_in_size(const struct msg_in *m)
{
	uint64_t body = m->body ? (m->body_len ? m->body_len : spool_size(m->body)) : 0;
	return (uint64_t)(m->hdr ? m->hdrlen : 0) + body;
}

/* Copy the message into chunks of a new blob, straight from the spool into
 * space LMDB reserved (no whole-message buffer). Blob ids only grow, so
 * every chunk key is the largest yet: MDB_APPEND skips the search. The
 * blob record is written by the caller once the reference count is known. */
static int blob_write(struct tx *t, const struct msg_in *m, uint64_t *id_out)
{
	uint64_t id, size = msg_in_size(m), off = 0;
	size_t hl = m->hdr ? m->hdrlen : 0;
	unsigned char k[12];

	if (meta_next(t, "next_blob", &id) < 0)
		return ST_TEMP;
	for (uint32_t no = 0; off < size; no++) {
		size_t n = size - off < CHUNK_SIZE ? (size_t)(size - off) : CHUNK_SIZE, done = 0;
		unsigned char *p = db_reserve(t, DB_CHUNK, k, chunk_key(k, id, no), n, MDB_APPEND);
		if (!p)
			return ST_TEMP;
		if (off < hl) {
			done = hl - off < n ? hl - (size_t)off : n;
			memcpy(p, m->hdr + off, done);
		}
		while (done < n) {
			long r = spool_read_at(m->body, m->body_off + off + done - hl, p + done,
					       n - done);
			if (r <= 0) {
				log_error("store: reading the spool failed");
				tx_fail(t, EIO);
				return ST_TEMP;
			}
			done += (size_t)r;
		}
		off += n;
	}
	*id_out = id;
	return ST_OK;
}

static int blob_ref(struct tx *t, uint64_t blob, int delta)
{
	struct blob_rec b;
	unsigned char k[8];
	int rc = blob_meta_get(t, blob, &b);
	if (rc == ST_NOTFOUND) {
		log_warn("store: message bytes %llu missing", (unsigned long long)blob);
		return ST_OK;
	}
	if (rc)
		return rc;
	if (delta < 0 && b.refs <= (uint32_t)-delta) {
		put64(k, blob);
		if (db_del_prefix(t, DB_CHUNK, k, 8) < 0 || db_del(t, DB_BLOB, k, 8) < 0)
			return ST_TEMP;
		return ST_OK;
	}
	b.refs += (uint32_t)delta;
	return blob_meta_put(t, blob, &b, 0) < 0 ? ST_TEMP : ST_OK;
}

/* ---- messages ---- */

static void msg_key(unsigned char *k, uint32_t mbox, uint32_t uid)
{
	put32(k, mbox);
	put32(k + 4, uid);
}

static int msg_get(struct tx *t, uint32_t mbox, uint32_t uid, struct msg_rec *m)
{
	unsigned char k[8];
	MDB_val v;
	int r;
	msg_key(k, mbox, uid);
	r = db_get(t, DB_MSG, k, 8, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	memset(m, 0, sizeof *m);
	memcpy(m, v.mv_data, v.mv_size < sizeof *m ? v.mv_size : sizeof *m);
	return ST_OK;
}

static int msg_put(struct tx *t, uint32_t mbox, uint32_t uid, const struct msg_rec *m)
{
	unsigned char k[8];
	msg_key(k, mbox, uid);
	return db_put(t, DB_MSG, k, 8, m, sizeof *m, 0) < 0 ? ST_TEMP : ST_OK;
}

/* ---- the per-mailbox indexes: UID runs, modseq order, expunged UIDs ----
 *
 * What lets an IMAP session follow a mailbox without holding or re-reading
 * every message: SELECT reads the UIDs as runs (a mailbox that never had a
 * message expunged in its middle is one run, whatever its size); a session
 * that last looked at modseq X asks for the messages changed or added since
 * X (DB_MSEQ) and the UIDs expunged since X (DB_GONE). Every function
 * below runs inside the write transaction of the message change it
 * indexes, so the indexes never disagree with DB_MSG. */

#define GONE_KEEP 4096 /* expunged UIDs kept per mailbox (pruned at 2x) */

struct gone_hdr {
	uint64_t floor; /* expunges at or below this modseq were forgotten */
	uint64_t count; /* expunged UIDs kept */
};

static void seq_key(unsigned char *k, uint32_t mbox, uint64_t modseq, uint32_t uid)
{
	put32(k, mbox);
	put64(k + 4, modseq);
	put32(k + 12, uid);
}

static int run_get_cur(MDB_cursor *c, uint32_t mbox, uint32_t *first, uint32_t *count)
{
	MDB_val k, v;
	if (mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT) || k.mv_size != 8 ||
	    get32(k.mv_data) != mbox || v.mv_size != 4)
		return -1;
	*first = get32((unsigned char *)k.mv_data + 4);
	memcpy(count, v.mv_data, 4);
	return 0;
}

/* Position c on the run of mbox with the largest first UID <= uid. */
static int run_seek(struct tx *t, MDB_cursor *c, uint32_t mbox, uint32_t uid, uint32_t *first,
		    uint32_t *count)
{
	unsigned char k[8];
	MDB_val key = {8, k}, v;
	int rc;
	msg_key(k, mbox, uid);
	rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
	if (rc == 0 && get32(key.mv_data) == mbox && get32((unsigned char *)key.mv_data + 4) == uid)
		return run_get_cur(c, mbox, first, count);
	if (rc == 0)
		rc = mdb_cursor_get(c, &key, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &key, &v, MDB_LAST);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return rc ? -1 : run_get_cur(c, mbox, first, count);
}

static int run_put(struct tx *t, uint32_t mbox, uint32_t first, uint32_t count)
{
	unsigned char k[8];
	msg_key(k, mbox, first);
	return db_put(t, DB_RUN, k, 8, &count, 4, 0) < 0 ? ST_TEMP : ST_OK;
}

static int run_del(struct tx *t, uint32_t mbox, uint32_t first)
{
	unsigned char k[8];
	msg_key(k, mbox, first);
	return db_del(t, DB_RUN, k, 8) < 0 ? ST_TEMP : ST_OK;
}

/* uid is above every UID in mbox: extend the last run or start one. */
static int run_add(struct tx *t, uint32_t mbox, uint32_t uid)
{
	MDB_cursor *c;
	uint32_t first, count;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_RUN], &c), found;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	found = run_seek(t, c, mbox, uid, &first, &count) == 0;
	mdb_cursor_close(c);
	if (t->mrc)
		return ST_TEMP;
	if (found && first + count == uid)
		return run_put(t, mbox, first, count + 1);
	return run_put(t, mbox, uid, 1);
}

/* Take uid out of its run (split it when uid is inside). */
static int run_remove(struct tx *t, uint32_t mbox, uint32_t uid)
{
	MDB_cursor *c;
	uint32_t first, count;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_RUN], &c), found;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	found = run_seek(t, c, mbox, uid, &first, &count) == 0;
	mdb_cursor_close(c);
	if (t->mrc)
		return ST_TEMP;
	if (!found || uid - first >= count) {
		log_warn("store: mailbox %u uid %u missing from its run index", mbox, uid);
		return ST_OK;
	}
	if ((rc = run_del(t, mbox, first)))
		return rc;
	if (uid > first && (rc = run_put(t, mbox, first, uid - first)))
		return rc;
	if (uid - first + 1 < count)
		rc = run_put(t, mbox, uid + 1, count - (uid - first) - 1);
	return rc;
}

/* A message got modseq `now` (it had `old`, 0 when new). */
static int mseq_move(struct tx *t, uint32_t mbox, uint32_t uid, uint64_t old, uint64_t now)
{
	unsigned char k[16];
	if (old) {
		seq_key(k, mbox, old, uid);
		if (db_del(t, DB_MSEQ, k, 16) < 0)
			return ST_TEMP;
	}
	if (now) {
		seq_key(k, mbox, now, uid);
		if (db_put(t, DB_MSEQ, k, 16, "", 0, 0) < 0)
			return ST_TEMP;
	}
	return ST_OK;
}

static int gone_hdr_get(struct tx *t, uint32_t mbox, struct gone_hdr *h)
{
	unsigned char k[16];
	MDB_val v;
	int r;
	seq_key(k, mbox, 0, 0);
	memset(h, 0, sizeof *h);
	r = db_get(t, DB_GONE, k, 16, &v);
	if (r < 0)
		return ST_TEMP;
	if (r == 0)
		memcpy(h, v.mv_data, v.mv_size < sizeof *h ? v.mv_size : sizeof *h);
	return ST_OK;
}

/* Drop the oldest expunged UIDs beyond GONE_KEEP; sessions that last
 * looked before the new floor compare all UIDs instead. */
static int gone_prune(struct tx *t, uint32_t mbox, struct gone_hdr *h)
{
	MDB_cursor *c;
	unsigned char k[16];
	MDB_val key = {16, k}, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_GONE], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = 0; h->count > GONE_KEEP;) {
		seq_key(k, mbox, 1, 0);
		key.mv_size = 16;
		key.mv_data = k;
		if ((rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE)))
			break;
		if (key.mv_size != 16 || get32(key.mv_data) != mbox)
			break;
		h->floor = get64((unsigned char *)key.mv_data + 4);
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		h->count--;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

/* n UIDs of mbox were expunged at modseq ms (already in DB_GONE). */
static int gone_count(struct tx *t, uint32_t mbox, size_t n)
{
	struct gone_hdr h;
	unsigned char k[16];
	int rc = gone_hdr_get(t, mbox, &h);
	if (rc || !n)
		return rc;
	h.count += n;
	if (h.count > 2 * GONE_KEEP && (rc = gone_prune(t, mbox, &h)))
		return rc;
	seq_key(k, mbox, 0, 0);
	return db_put(t, DB_GONE, k, 16, &h, sizeof h, 0) < 0 ? ST_TEMP : ST_OK;
}

/* Message uid (modseq old) leaves mbox at modseq ms. */
static int msg_unindex(struct tx *t, uint32_t mbox, uint32_t uid, uint64_t old, uint64_t ms)
{
	unsigned char k[16];
	int rc = mseq_move(t, mbox, uid, old, 0);
	if (!rc)
		rc = run_remove(t, mbox, uid);
	if (rc)
		return rc;
	seq_key(k, mbox, ms, uid);
	return db_put(t, DB_GONE, k, 16, "", 0, 0) < 0 ? ST_TEMP : ST_OK;
}

/* Schema 1 -> 2: build DB_RUN and DB_MSEQ from DB_MSG (one pass, in the
 * opening transaction). Expunges before the upgrade were never recorded:
 * each mailbox's DB_GONE floor starts at its highestmodseq, so a client
 * that last looked before the upgrade is told "stale", not "nothing". */
static int index_build(MDB_txn *txn, MDB_dbi *dbi)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint32_t mbox = 0, first = 0, count = 0;
	int rc = mdb_cursor_open(txn, dbi[DB_MBOX], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct mbox_rec r = {0};
		struct gone_hdr h = {0};
		unsigned char gk[16];
		MDB_val gkv = {16, gk}, hv = {sizeof h, &h};
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		h.floor = r.highestmodseq;
		seq_key(gk, r.id, 0, 0);
		if ((rc = mdb_put(txn, dbi[DB_GONE], &gkv, &hv, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, dbi[DB_MSG], &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct msg_rec r = {0};
		unsigned char sk[16], rk[8];
		MDB_val skv = {16, sk}, empty = {0, ""}, rkv = {8, rk}, cv = {4, &count};
		uint32_t m, uid;
		if (k.mv_size != 8)
			continue;
		m = get32(k.mv_data);
		uid = get32((unsigned char *)k.mv_data + 4);
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		seq_key(sk, m, r.modseq, uid);
		if ((rc = mdb_put(txn, dbi[DB_MSEQ], &skv, &empty, 0)))
			break;
		if (count && m == mbox && first + count == uid) {
			count++;
			continue;
		}
		if (count) {
			msg_key(rk, mbox, first);
			if ((rc = mdb_put(txn, dbi[DB_RUN], &rkv, &cv, 0)))
				break;
		}
		mbox = m;
		first = uid;
		count = 1;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	if (count) {
		unsigned char rk[8];
		MDB_val rkv = {8, rk}, cv = {4, &count};
		msg_key(rk, mbox, first);
		return mdb_put(txn, dbi[DB_RUN], &rkv, &cv, 0);
	}
	return 0;
}

/* A new message in mb: next UID, next modseq, counters. The caller saves
 * mb and a (the reference on the blob is the caller's too). */
static int msg_add(struct tx *t, struct acct_rec *a, struct mbox *mb, struct msg_rec *m,
		   uint32_t *uid_out)
{
	uint32_t uid = mb->r.uidnext;
	if (uid == UINT32_MAX)
		return ST_INVALID; /* RFC 3501 2.3.1.1: UIDs are 32-bit; never wrap */
	m->modseq = ++mb->r.highestmodseq;
	if (msg_put(t, mb->r.id, uid, m) || mseq_move(t, mb->r.id, uid, 0, m->modseq) ||
	    run_add(t, mb->r.id, uid))
		return ST_TEMP;
	mb->r.uidnext = uid + 1;
	mb->r.exists++;
	mb->r.size += m->size;
	if (!(m->flags & FL_SEEN))
		mb->r.unseen++;
	a->used += m->size;
	a->messages++;
	if (uid_out)
		*uid_out = uid;
	return ST_OK;
}

/* Take one message out of mb's counters and the account's usage. */
static void msg_uncount(struct acct_rec *a, struct mbox *mb, const struct msg_rec *m)
{
	mb->r.exists--;
	mb->r.size -= m->size;
	if (!(m->flags & FL_SEEN))
		mb->r.unseen--;
	a->used = a->used > m->size ? a->used - m->size : 0;
	if (a->messages)
		a->messages--;
}

/* Remove a message for good; drops its reference on the bytes unless
 * keep_ref (a move hands the reference over). */
static int msg_remove(struct tx *t, struct acct_rec *a, struct mbox *mb, uint32_t uid,
		      const struct msg_rec *m, int keep_ref)
{
	unsigned char k[8];
	msg_key(k, mb->r.id, uid);
	if (db_del(t, DB_MSG, k, 8) < 0)
		return ST_TEMP;
	/* The caller bumps highestmodseq once for the whole expunge. */
	if (msg_unindex(t, mb->r.id, uid, m->modseq, mb->r.highestmodseq + 1))
		return ST_TEMP;
	msg_uncount(a, mb, m);
	return keep_ref ? ST_OK : blob_ref(t, m->blob, -1);
}

/* Drop all messages of a mailbox (DELETE, account removal). */
static int mbox_purge(struct tx *t, struct acct_rec *a, struct mbox *mb)
{
	MDB_cursor *c;
	unsigned char k[8];
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MSG], &c), src = ST_OK;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (;;) {
		MDB_val key = {8, k}, v;
		struct msg_rec m;
		msg_key(k, mb->r.id, 0);
		rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
		if (rc || key.mv_size != 8 || get32(key.mv_data) != mb->r.id)
			break;
		memset(&m, 0, sizeof m);
		memcpy(&m, v.mv_data, v.mv_size < sizeof m ? v.mv_size : sizeof m);
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		msg_uncount(a, mb, &m);
		if ((src = blob_ref(t, m.blob, -1)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	if (!src) {
		unsigned char p[4];
		put32(p, mb->r.id);
		if (db_del_prefix(t, DB_RUN, p, 4) < 0 || db_del_prefix(t, DB_MSEQ, p, 4) < 0 ||
		    db_del_prefix(t, DB_GONE, p, 4) < 0)
			return ST_TEMP;
	}
	return src;
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
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &st->dbi[i]);
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
	if (ver < 2) {
		/* Version 1 had no mailbox indexes: build them once. */
		ver = SCHEMA_VERSION;
		v.mv_size = sizeof ver;
		v.mv_data = &ver;
		if ((rc = index_build(txn, st->dbi)) ||
		    (rc = mdb_put(txn, st->dbi[DB_META], &k, &v, 0))) {
			mdb_txn_abort(txn);
			snprintf(err, errlen, "store: upgrading to version 2: %s", mdb_strerror(rc));
			return -1;
		}
		log_info("store: upgraded to schema version %d (mailbox indexes)", SCHEMA_VERSION);
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

/* ================= accounts ================= */

struct user_args {
	char addr[STORE_ADDR_MAX + 1];
	const struct cred *cred;
	uint64_t quota;
	uint32_t id;
	struct account *out;
	void (*cb)(void *, const struct account *);
	void *arg;
};

static const struct {
	const char *name;
	int special;
} default_mboxes[] = {
	{"INBOX", MBOX_INBOX}, {"Drafts", MBOX_DRAFTS}, {"Sent", MBOX_SENT},
	{"Junk", MBOX_JUNK},   {"Trash", MBOX_TRASH},   {"Archive", MBOX_ARCHIVE},
};

static int op_user_add(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	MDB_val v;
	uint64_t id;
	uint32_t id32;
	int r;

	if ((r = addr_id(t, u->addr, &id32)) != ST_NOTFOUND)
		return r == ST_OK ? ST_EXISTS : r;
	r = db_get(t, DB_ALIAS, u->addr, strlen(u->addr), &v);
	if (r <= 0)
		return r < 0 ? ST_TEMP : ST_EXISTS;
	if (meta_next(t, "next_acct", &id) < 0)
		return ST_TEMP;
	memset(&a, 0, sizeof a);
	a.version = 1;
	a.id = (uint32_t)id;
	a.quota = QUOTA_DEFAULT;
	str_copy(a.addr, u->addr, sizeof a.addr);
	id32 = a.id;
	if (acct_put(t, &a) < 0 || cred_put(t, a.id, u->cred) < 0 ||
	    db_put(t, DB_ADDR, u->addr, strlen(u->addr), &id32, 4, 0) < 0)
		return ST_TEMP;
	for (size_t i = 0; i < ARRAY_LEN(default_mboxes); i++) {
		struct mbox mb;
		if (mbox_new(t, a.id, default_mboxes[i].name, default_mboxes[i].special, 1, &mb) < 0)
			return ST_TEMP;
	}
	u->id = a.id;
	tx_touch(t, a.id);
	return ST_OK;
}

int store_user_add(struct store *st, const char *addr, const struct cred *cred)
{
	struct user_args u = {.cred = cred};
	if (!cred || addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_user_add, &u);
}

static int op_user_set_cred(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	uint32_t id;
	int rc = addr_id(t, u->addr, &id);
	if (rc)
		return rc;
	if (cred_put(t, id, u->cred) < 0)
		return ST_TEMP;
	tx_touch(t, id);
	return ST_OK;
}

int store_user_set_cred(struct store *st, const char *addr, const struct cred *cred)
{
	struct user_args u = {.cred = cred};
	if (!cred || addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_user_set_cred, &u);
}

static int op_user_set_quota(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	int rc = acct_by_addr(t, u->addr, &a);
	if (rc)
		return rc;
	a.quota = u->quota;
	if (acct_put(t, &a) < 0)
		return ST_TEMP;
	tx_touch(t, a.id);
	return ST_OK;
}

int store_user_set_quota(struct store *st, const char *addr, uint64_t bytes)
{
	struct user_args u = {.quota = bytes};
	if (addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_user_set_quota, &u);
}

/* Names of all mailboxes of a user (malloc'ed array of fixed slots). */
static int mbox_names(struct tx *t, uint32_t user, char (**names)[STORE_MBOX_MAX + 1],
		      size_t *n)
{
	MDB_cursor *c;
	unsigned char k[4];
	size_t cap = 0;
	int rc;
	MDB_val key = {4, k}, v;

	*names = NULL;
	*n = 0;
	put32(k, user);
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MBOX], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		size_t nl = key.mv_size - 4;
		if (key.mv_size < 4 || get32(key.mv_data) != user)
			break;
		if (nl > STORE_MBOX_MAX)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		memcpy((*names)[*n], (const char *)key.mv_data + 4, nl);
		(*names)[(*n)++][nl] = 0;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		free(*names);
		*names = NULL;
		return ST_TEMP;
	}
	return ST_OK;
}

static int op_user_del(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	char(*names)[STORE_MBOX_MAX + 1];
	unsigned char k[4];
	size_t n;
	int rc = acct_by_addr(t, u->addr, &a);
	if (rc)
		return rc;
	if ((rc = mbox_names(t, a.id, &names, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		struct mbox mb;
		rc = mbox_get(t, a.id, names[i], &mb);
		if (!rc)
			rc = mbox_purge(t, &a, &mb);
		if (!rc && mbox_del_key(t, &mb) < 0)
			rc = ST_TEMP;
	}
	free(names);
	if (rc)
		return rc;
	put32(k, a.id);
	if (db_del_prefix(t, DB_TOMB, k, 4) < 0 || db_del(t, DB_ACCT, k, 4) < 0 ||
	    db_del(t, DB_CRED, k, 4) < 0 ||
	    db_del(t, DB_ADDR, u->addr, strlen(u->addr)) < 0)
		return ST_TEMP;
	tx_touch(t, a.id);
	return ST_OK;
}

int store_user_del(struct store *st, const char *addr)
{
	struct user_args u = {0};
	if (addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_user_del, &u);
}

static int user_export(struct tx *t, const struct acct_rec *a, struct account *out)
{
	struct cred c;
	int rc = cred_get(t, a->id, &c);
	if (!rc)
		acct_export(t->st, a, &c, out);
	return rc;
}

static int op_user_get(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	int rc = u->addr[0] ? acct_by_addr(t, u->addr, &a) : acct_get(t, u->id, &a);
	return rc ? rc : user_export(t, &a, u->out);
}

int store_user_get(struct store *st, const char *addr, struct account *out)
{
	struct user_args u = {.out = out};
	if (addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_read(st, op_user_get, &u);
}

int store_user_get_id(struct store *st, uint32_t id, struct account *out)
{
	struct user_args u = {.id = id, .out = out};
	if (!id)
		return ST_NOTFOUND;
	return tx_read(st, op_user_get, &u);
}

static int op_user_list(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_ACCT], &c), src = ST_OK;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !src;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct acct_rec a;
		struct account acc;
		memset(&a, 0, sizeof a);
		memcpy(&a, v.mv_data, v.mv_size < sizeof a ? v.mv_size : sizeof a);
		a.addr[sizeof a.addr - 1] = 0;
		if (!(src = user_export(t, &a, &acc)))
			u->cb(u->arg, &acc);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return src;
}

int store_user_list(struct store *st, void (*cb)(void *arg, const struct account *a), void *arg)
{
	struct user_args u = {.cb = cb, .arg = arg};
	return tx_read(st, op_user_list, &u);
}

/* ================= aliases ================= */

struct alias_args {
	char addr[STORE_ADDR_MAX + 1];
	char (*targets)[STORE_ADDR_MAX + 1];
	size_t n;
	void (*cb)(void *, const char *, const char *const *, size_t);
	void *arg;
};

/* Split an alias value (NUL-terminated targets) into at most
 * STORE_ALIAS_MAX pointers into it. */
static size_t alias_split(const MDB_val *v, const char **out)
{
	const char *p = v->mv_data, *end = p + v->mv_size;
	size_t n = 0;
	while (p < end && n < STORE_ALIAS_MAX) {
		size_t l = strnlen(p, (size_t)(end - p));
		if (p + l >= end)
			break; /* unterminated tail: ignore */
		if (l)
			out[n++] = p;
		p += l + 1;
	}
	return n;
}

static int op_alias_add(struct tx *t, void *arg)
{
	struct alias_args *a = arg;
	const char *old[STORE_ALIAS_MAX];
	char(*all)[STORE_ADDR_MAX + 1];
	size_t nold = 0, nall = 0, len = 0;
	uint32_t id;
	MDB_val v;
	char *p;
	int r;

	if ((r = addr_id(t, a->addr, &id)) != ST_NOTFOUND)
		return r == ST_OK ? ST_EXISTS : r;
	r = db_get(t, DB_ALIAS, a->addr, strlen(a->addr), &v);
	if (r < 0)
		return ST_TEMP;
	if (r == 0)
		nold = alias_split(&v, old);
	all = xmalloc(sizeof *all * (nold + a->n));
	for (size_t i = 0; i < nold + a->n; i++) {
		const char *s = i < nold ? old[i] : a->targets[i - nold];
		size_t j;
		for (j = 0; j < nall && strcmp(all[j], s); j++)
			;
		if (j < nall)
			continue;
		str_copy(all[nall++], s, sizeof *all);
		len += strlen(s) + 1;
	}
	if (nall > STORE_ALIAS_MAX) {
		free(all);
		return ST_INVALID;
	}
	p = db_reserve(t, DB_ALIAS, a->addr, strlen(a->addr), len, 0);
	for (size_t i = 0; p && i < nall; i++) {
		size_t l = strlen(all[i]) + 1;
		memcpy(p, all[i], l);
		p += l;
	}
	free(all);
	return p ? ST_OK : ST_TEMP;
}

int store_alias_add(struct store *st, const char *addr, const char *const *targets, size_t n)
{
	struct alias_args a = {0};
	int rc;
	if (addr_norm(addr, a.addr, 1) < 0 || !n || n > STORE_ALIAS_MAX)
		return ST_INVALID;
	a.targets = xmalloc(sizeof *a.targets * n);
	a.n = n;
	for (size_t i = 0; i < n; i++)
		if (addr_norm(targets[i], a.targets[i], 0) < 0) {
			free(a.targets);
			return ST_INVALID;
		}
	rc = tx_write(st, op_alias_add, &a);
	free(a.targets);
	return rc;
}

static int op_alias_del(struct tx *t, void *arg)
{
	struct alias_args *a = arg;
	int r = db_del(t, DB_ALIAS, a->addr, strlen(a->addr));
	return r < 0 ? ST_TEMP : r ? ST_NOTFOUND : ST_OK;
}

int store_alias_del(struct store *st, const char *addr)
{
	struct alias_args a = {0};
	if (addr_norm(addr, a.addr, 1) < 0)
		return ST_INVALID;
	return tx_write(st, op_alias_del, &a);
}

static int op_alias_list(struct tx *t, void *arg)
{
	struct alias_args *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_ALIAS], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const char *tg[STORE_ALIAS_MAX];
		char name[STORE_ADDR_MAX + 1];
		size_t n = alias_split(&v, tg);
		if (k.mv_size > STORE_ADDR_MAX)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = 0;
		a->cb(a->arg, name, tg, n);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return ST_OK;
}

int store_alias_list(struct store *st,
		     void (*cb)(void *arg, const char *addr, const char *const *targets, size_t n),
		     void *arg)
{
	struct alias_args a = {.cb = cb, .arg = arg};
	return tx_read(st, op_alias_list, &a);
}

/* ---- resolve ---- */

struct rctx {
	struct tx *t;
	struct resolved *out;
	char rcpt[STORE_ADDR_MAX + 1];
	char seen[RESOLVE_SEEN][STORE_ADDR_MAX + 1];
	size_t nseen;
};

static int seen_mark(struct rctx *c, const char *addr)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (strcmp(c->seen[i], addr) == 0)
			return 1;
	if (c->nseen == RESOLVE_SEEN)
		return 1; /* too much: treat like a loop */
	str_copy(c->seen[c->nseen++], addr, sizeof c->seen[0]);
	return 0;
}

static void add_user(struct resolved *r, uint32_t id)
{
	for (size_t i = 0; i < r->nusers; i++)
		if (r->users[i] == id)
			return;
	if (r->nusers < STORE_ALIAS_MAX)
		r->users[r->nusers++] = id;
}

static void add_external(struct resolved *r, const char *addr)
{
	for (size_t i = 0; i < r->nexternal; i++)
		if (strcmp(r->external[i], addr) == 0)
			return;
	if (r->nexternal < STORE_ALIAS_MAX)
		r->external[r->nexternal++] = xstrdup(addr);
}

/* Whether any account or alias lives in domain (the store's view of which
 * domains are local: it is not told the configured list). A linear scan;
 * only reached for alias targets that are neither account nor alias. */
static int domain_known(struct tx *t, const char *domain)
{
	static const int dbs[] = {DB_ADDR, DB_ALIAS};
	size_t dl = strlen(domain);
	int found = 0;
	for (size_t i = 0; i < ARRAY_LEN(dbs) && !found; i++) {
		MDB_cursor *c;
		MDB_val k, v;
		int rc = mdb_cursor_open(t->txn, t->st->dbi[dbs[i]], &c);
		if (rc) {
			tx_fail(t, rc);
			return 0;
		}
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !found;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
			found = k.mv_size > dl && memcmp((char *)k.mv_data + k.mv_size - dl, domain, dl) == 0 &&
				((char *)k.mv_data)[k.mv_size - dl - 1] == '@';
		mdb_cursor_close(c);
	}
	return found;
}

static int resolve_addr(struct rctx *c, const char *addr, int depth, int top);

/* Account or alias under exactly this address: 1 handled, 0 neither. */
static int resolve_exact(struct rctx *c, const char *addr, int depth)
{
	const char *tg[STORE_ALIAS_MAX];
	char(*copy)[STORE_ADDR_MAX + 1];
	uint32_t id;
	MDB_val v;
	size_t n;
	int r;

	if (addr_id(c->t, addr, &id) == ST_OK) {
		add_user(c->out, id);
		return 1;
	}
	r = db_get(c->t, DB_ALIAS, addr, strlen(addr), &v);
	if (r)
		return 0;
	if (seen_mark(c, addr))
		return 1; /* a loop: this branch adds nothing more */
	if (depth >= ALIAS_DEPTH) {
		log_warn("store: alias %s nested deeper than %d", addr, ALIAS_DEPTH);
		return 1;
	}
	/* Copy the targets out: the recursion reads the map again. */
	n = alias_split(&v, tg);
	copy = xmalloc(sizeof *copy * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		str_copy(copy[i], tg[i], sizeof copy[0]);
	for (size_t i = 0; i < n; i++)
		resolve_addr(c, copy[i], depth + 1, 0);
	free(copy);
	return 1;
}

/* Lookup order (mailbox.h): exact, user+tag without the tag, '@domain'. */
static int resolve_addr(struct rctx *c, const char *addr, int depth, int top)
{
	const char *at = strrchr(addr, '@'), *plus;
	char base[STORE_ADDR_MAX + 1];

	if (!at || c->t->mrc)
		return 0;
	if (resolve_exact(c, addr, depth))
		return 1;
	plus = memchr(addr, '+', (size_t)(at - addr));
	if (plus && plus > addr) {
		size_t l = (size_t)(plus - addr);
		memcpy(base, addr, l);
		str_copy(base + l, at, sizeof base - l);
		if (resolve_exact(c, base, depth))
			return 1;
	}
	if (resolve_exact(c, at, depth))
		return 1;
	if (!top && !domain_known(c->t, at + 1))
		add_external(c->out, addr);
	return 0;
}

static int op_resolve(struct tx *t, void *arg)
{
	struct rctx *c = arg;
	c->t = t;
	c->nseen = 0;
	store_resolved_free(c->out);
	resolve_addr(c, c->rcpt, 0, 1);
	return ST_OK;
}

int store_resolve(struct store *st, const char *rcpt, struct resolved *out)
{
	struct rctx *c;
	int rc;
	memset(out, 0, sizeof *out);
	c = xcalloc(1, sizeof *c);
	c->out = out;
	if (addr_norm(rcpt, c->rcpt, 0) < 0) {
		free(c);
		return ST_INVALID;
	}
	rc = tx_read(st, op_resolve, c);
	free(c);
	if (rc) {
		store_resolved_free(out);
		return rc;
	}
	return out->nusers || out->nexternal ? ST_OK : ST_NOTFOUND;
}

void store_resolved_free(struct resolved *r)
{
	for (size_t i = 0; i < r->nexternal; i++) {
		free(r->external[i]);
		r->external[i] = NULL;
	}
	r->nexternal = 0;
	r->nusers = 0;
}

/* ================= mailboxes ================= */

struct mbox_args {
	uint32_t user;
	char name[STORE_MBOX_MAX + 1];
	char name2[STORE_MBOX_MAX + 1];
	int special, on;
	struct mbox_info *out;
	void (*cb)(void *, const struct mbox_info *);
	void (*kwcb)(void *, int, const char *);
	void *arg;
};

static void mbox_export(const struct mbox *mb, struct mbox_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = mb->r.id;
	str_copy(out->name, mb->name, sizeof out->name);
	out->special = (int)mb->r.special;
	out->subscribed = (int)mb->r.subscribed;
	out->uidvalidity = mb->r.uidvalidity;
	out->uidnext = mb->r.uidnext;
	out->exists = mb->r.exists;
	out->unseen = mb->r.unseen;
	out->highestmodseq = mb->r.highestmodseq;
	out->size = mb->r.size;
}

static int op_mbox_list(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	MDB_cursor *c;
	unsigned char k[4];
	MDB_val key = {4, k}, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MBOX], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	put32(k, a->user);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct mbox mb;
		struct mbox_info info;
		if (key.mv_size < 4 || get32(key.mv_data) != a->user)
			break;
		if (mbox_decode(&mb, a->user, &key, &v) == ST_OK) {
			mbox_export(&mb, &info);
			a->cb(a->arg, &info);
		}
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return ST_OK;
}

int store_mbox_list(struct store *st, uint32_t user,
		    void (*cb)(void *arg, const struct mbox_info *m), void *arg)
{
	struct mbox_args a = {.user = user, .cb = cb, .arg = arg};
	return tx_read(st, op_mbox_list, &a);
}

static int op_mbox_get(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct mbox mb;
	int rc = mbox_get(t, a->user, a->name, &mb);
	if (!rc)
		mbox_export(&mb, a->out);
	return rc;
}

int store_mbox_get(struct store *st, uint32_t user, const char *name, struct mbox_info *out)
{
	struct mbox_args a = {.user = user, .out = out};
	if (mbox_norm(name, a.name) < 0)
		return ST_INVALID;
	return tx_read(st, op_mbox_get, &a);
}

static int op_mbox_create(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct acct_rec ac;
	struct mbox mb;
	int rc = acct_get(t, a->user, &ac);
	if (rc)
		return rc;
	rc = mbox_get(t, a->user, a->name, &mb);
	if (rc != ST_NOTFOUND)
		return rc == ST_OK ? ST_EXISTS : rc;
	if ((rc = mbox_make_parents(t, a->user, a->name)))
		return rc;
	if (mbox_new(t, a->user, a->name, a->special, 0, &mb) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_mbox_create(struct store *st, uint32_t user, const char *name, int special)
{
	struct mbox_args a = {.user = user, .special = special};
	if (!name || mbox_norm(name, a.name) < 0 || special < MBOX_NORMAL || special > MBOX_ARCHIVE)
		return ST_INVALID;
	return tx_write(st, op_mbox_create, &a);
}

static int op_mbox_delete(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct acct_rec ac;
	struct mbox mb;
	int rc = acct_get(t, a->user, &ac);
	if (!rc)
		rc = mbox_get(t, a->user, a->name, &mb);
	if (!rc)
		rc = mbox_purge(t, &ac, &mb);
	if (rc)
		return rc;
	if (mbox_del_key(t, &mb) < 0 || acct_put(t, &ac) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

/* Inferior mailboxes stay (RFC 3501 6.3.4 allows a server to keep them;
 * they simply have no parent until one is created again). */
int store_mbox_delete(struct store *st, uint32_t user, const char *name)
{
	struct mbox_args a = {.user = user};
	if (!name || mbox_norm(name, a.name) < 0 || strcmp(a.name, "INBOX") == 0)
		return ST_INVALID;
	return tx_write(st, op_mbox_delete, &a);
}

/* RFC 3501 6.3.5 for INBOX: its record (id, UIDVALIDITY, UIDs, messages)
 * moves to the new name untouched, and a fresh empty INBOX with a new
 * UIDVALIDITY (UIDs going on above the old ones) takes its place. INBOX's
 * inferiors stay where they are. */
static int rename_inbox(struct tx *t, struct mbox_args *a, struct mbox *old)
{
	struct mbox mb = *old, fresh;
	str_copy(mb.name, a->name2, sizeof mb.name);
	mb.r.special = MBOX_NORMAL;
	if (mbox_del_key(t, old) < 0 || mbox_put(t, &mb) < 0 ||
	    mbox_new(t, a->user, "INBOX", MBOX_INBOX, (int)old->r.subscribed, &fresh) < 0)
		return ST_TEMP;
	return ST_OK;
}

/* Whether name is base or below it ("base/..."). */
static int name_under(const char *name, const char *base)
{
	size_t n = strlen(base);
	return strncmp(name, base, n) == 0 && (name[n] == 0 || name[n] == '/');
}

static int rename_tree(struct tx *t, struct mbox_args *a)
{
	char(*names)[STORE_MBOX_MAX + 1];
	size_t n, ol = strlen(a->name), nl = strlen(a->name2);
	int rc = mbox_names(t, a->user, &names, &n);
	if (rc)
		return rc;
	/* Check every new name first, so a clash changes nothing. */
	for (size_t i = 0; i < n && !rc; i++) {
		struct mbox mb;
		char nn[STORE_MBOX_MAX + 1];
		if (!name_under(names[i], a->name) || (strcmp(a->name, "INBOX") == 0 && names[i][ol]))
			continue;
		if (nl + strlen(names[i]) - ol > MBOX_NAME_LIM) {
			rc = ST_INVALID;
			break;
		}
		snprintf(nn, sizeof nn, "%s%s", a->name2, names[i] + ol);
		rc = mbox_get(t, a->user, nn, &mb);
		rc = rc == ST_NOTFOUND ? ST_OK : rc == ST_OK ? ST_EXISTS : rc;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		struct mbox mb;
		if (!name_under(names[i], a->name))
			continue;
		if ((rc = mbox_get(t, a->user, names[i], &mb)))
			break;
		if (strcmp(names[i], "INBOX") == 0) {
			rc = rename_inbox(t, a, &mb);
			break; /* INBOX's inferiors do not move */
		}
		if (mbox_del_key(t, &mb) < 0) {
			rc = ST_TEMP;
			break;
		}
		snprintf(mb.name, sizeof mb.name, "%s%s", a->name2, names[i] + ol);
		if (mbox_put(t, &mb) < 0)
			rc = ST_TEMP;
	}
	free(names);
	return rc;
}

static int op_mbox_rename(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct mbox mb;
	int rc = mbox_get(t, a->user, a->name, &mb);
	if (rc)
		return rc;
	rc = mbox_get(t, a->user, a->name2, &mb);
	if (rc != ST_NOTFOUND)
		return rc == ST_OK ? ST_EXISTS : rc;
	if ((rc = rename_tree(t, a)) || (rc = mbox_make_parents(t, a->user, a->name2)))
		return rc;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_mbox_rename(struct store *st, uint32_t user, const char *oldname, const char *newname)
{
	struct mbox_args a = {.user = user};
	if (!oldname || !newname || mbox_norm(oldname, a.name) < 0 ||
	    mbox_norm(newname, a.name2) < 0)
		return ST_INVALID;
	if (strcmp(a.name2, "INBOX") == 0 || strcmp(a.name, a.name2) == 0)
		return ST_EXISTS;
	if (name_under(a.name2, a.name) && strcmp(a.name, "INBOX") != 0)
		return ST_INVALID; /* into its own subtree */
	return tx_write(st, op_mbox_rename, &a);
}

static int op_mbox_subscribe(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct mbox mb;
	int rc = mbox_get(t, a->user, a->name, &mb);
	if (rc)
		return rc;
	mb.r.subscribed = a->on ? 1 : 0;
	if (mbox_put(t, &mb) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_mbox_subscribe(struct store *st, uint32_t user, const char *name, int on)
{
	struct mbox_args a = {.user = user, .on = on};
	if (!name || mbox_norm(name, a.name) < 0)
		return ST_INVALID;
	return tx_write(st, op_mbox_subscribe, &a);
}

static int op_mbox_keywords(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct mbox mb;
	int rc = mbox_get(t, a->user, a->name, &mb);
	for (uint32_t i = 0; !rc && i < mb.r.nkw; i++)
		a->kwcb(a->arg, (int)i, mb.kw[i]);
	return rc;
}

int store_mbox_keywords(struct store *st, uint32_t user, const char *mbox,
			void (*cb)(void *arg, int index, const char *name), void *arg)
{
	struct mbox_args a = {.user = user, .kwcb = cb, .arg = arg};
	if (mbox_norm(mbox, a.name) < 0)
		return ST_INVALID;
	return tx_read(st, op_mbox_keywords, &a);
}

/* ================= messages ================= */

struct msg_args {
	uint32_t user;
	char mbox[STORE_MBOX_MAX + 1];
	char dst[STORE_MBOX_MAX + 1];
	const struct msg_in *m;
	const uint32_t *users, *uids;
	size_t n;
	int *rc;
	uint32_t *uid_out, *uidvalidity, *new_uids;
	uint64_t size, blob, off;
	uint32_t uid;
	int op, move;
	uint32_t flags;
	const char *const *kws;
	size_t nkw;
	int (*cb)(void *, const struct msg_info *);
	void *arg;
	struct msg_info *out;
	void *buf;
	long nread;
};

static void msg_export(uint32_t uid, const struct msg_rec *r, struct msg_info *out)
{
	out->uid = uid;
	out->flags = r->flags;
	out->keywords = r->keywords;
	out->modseq = r->modseq;
	out->size = r->size;
	out->internaldate = r->internaldate;
	out->blob = r->blob;
}

/* One recipient of a delivery; the blob is written on the first success. */
static int deliver_one(struct tx *t, struct msg_args *a, uint32_t user, uint64_t size,
		       int64_t date, uint32_t *uid)
{
	struct acct_rec ac;
	struct mbox mb;
	struct msg_rec r = {0};
	int rc = acct_get(t, user, &ac);
	if (!rc)
		rc = quota_fits(t->st, &ac, size);
	if (!rc) {
		rc = mbox_get(t, user, a->mbox, &mb);
		if (rc == ST_NOTFOUND && strcmp(a->mbox, "INBOX") != 0)
			rc = mbox_get(t, user, "INBOX", &mb); /* no such folder: INBOX */
	}
	if (!rc && !a->blob)
		rc = blob_write(t, a->m, &a->blob);
	if (rc)
		return rc;
	/* Keywords that do not fit the table are dropped, not refused: the
	 * message matters more than its labels. */
	if (kw_mask(&mb, a->m->keywords, a->m->nkeywords, 1, &r.keywords))
		r.keywords = 0;
	r.flags = a->m->flags & FL_ALL;
	r.size = size;
	r.internaldate = date;
	r.blob = a->blob;
	if ((rc = msg_add(t, &ac, &mb, &r, uid)))
		return rc;
	if (mbox_put(t, &mb) < 0 || acct_put(t, &ac) < 0)
		return ST_TEMP;
	tx_touch(t, user);
	return ST_OK;
}

static int op_deliver(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	uint64_t size = msg_in_size(a->m);
	int64_t date = a->m->internaldate ? a->m->internaldate : now_s();
	uint32_t refs = 0;

	a->blob = 0;
	for (size_t i = 0; i < a->n; i++) {
		uint32_t uid = 0;
		int rc = deliver_one(t, a, a->users[i], size, date, &uid);
		if (rc == ST_TEMP)
			return ST_TEMP;
		if (rc == ST_OK)
			refs++;
		if (a->rc)
			a->rc[i] = rc;
		if (a->uid_out)
			a->uid_out[i] = rc == ST_OK ? uid : 0;
	}
	if (a->blob && refs) {
		struct blob_rec b = {size, refs, CHUNK_SIZE};
		if (blob_meta_put(t, a->blob, &b, MDB_APPEND) < 0)
			return ST_TEMP;
	} else if (a->blob) {
		unsigned char k[8];
		put64(k, a->blob);
		if (db_del_prefix(t, DB_CHUNK, k, 8) < 0)
			return ST_TEMP;
	}
	return ST_OK;
}

int store_deliver(struct store *st, const uint32_t *users, size_t n, const char *mbox,
		  const struct msg_in *m, int *rc, uint32_t *uid_out)
{
	struct msg_args a = {.users = users, .n = n, .m = m, .rc = rc, .uid_out = uid_out};
	int r;
	if (!m || (m->hdrlen && !m->hdr) || mbox_norm(mbox, a.mbox) < 0) {
		for (size_t i = 0; rc && i < n; i++)
			rc[i] = ST_INVALID;
		return ST_TEMP;
	}
	r = tx_write_grouped(st, op_deliver, &a);
	if (r != ST_OK)
		for (size_t i = 0; i < n; i++) {
			if (rc)
				rc[i] = ST_TEMP;
			if (uid_out)
				uid_out[i] = 0;
		}
	return r == ST_OK ? ST_OK : ST_TEMP;
}

static int op_append(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct acct_rec ac;
	struct mbox mb;
	struct msg_rec r = {0};
	struct blob_rec b = {0, 1, CHUNK_SIZE};
	int rc = acct_get(t, a->user, &ac);
	if (!rc)
		rc = mbox_get(t, a->user, a->mbox, &mb);
	if (!rc)
		rc = kw_mask(&mb, a->m->keywords, a->m->nkeywords, 1, &r.keywords);
	if (!rc)
		rc = quota_fits(t->st, &ac, a->size);
	if (!rc && mb.r.uidnext == UINT32_MAX)
		rc = ST_INVALID; /* refuse before writing: see group commit */
	if (!rc)
		rc = blob_write(t, a->m, &r.blob);
	if (rc)
		return rc;
	r.flags = a->m->flags & FL_ALL;
	r.size = b.size = a->size;
	r.internaldate = a->m->internaldate ? a->m->internaldate : now_s();
	if ((rc = msg_add(t, &ac, &mb, &r, &a->uid)))
		return rc;
	if (blob_meta_put(t, r.blob, &b, MDB_APPEND) < 0 || mbox_put(t, &mb) < 0 ||
	    acct_put(t, &ac) < 0)
		return ST_TEMP;
	if (a->uidvalidity)
		*a->uidvalidity = mb.r.uidvalidity;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_append(struct store *st, uint32_t user, const char *mbox, const struct msg_in *m,
		 uint32_t *uidvalidity, uint32_t *uid)
{
	struct msg_args a = {.user = user, .m = m, .uidvalidity = uidvalidity};
	int rc;
	if (!m || (m->hdrlen && !m->hdr) || mbox_norm(mbox, a.mbox) < 0)
		return ST_INVALID;
	a.size = msg_in_size(m);
	rc = tx_write_grouped(st, op_append, &a);
	if (uid)
		*uid = rc == ST_OK ? a.uid : 0;
	return rc;
}

/* MULTIAPPEND: op_append for each message in one transaction. op_append
 * refuses before it writes, so a refusal of the first message leaves the
 * transaction clean; a later one has the batch drop this request (ST_TEMP
 * makes the leader abort and re-run the others without it) and reports its
 * own reason afterwards. */
struct many_args {
	struct msg_args a;
	const struct msg_in *m;
	size_t n;
	uint32_t *uids;
	int refused;
};

static int op_append_many(struct tx *t, void *arg)
{
	struct many_args *ma = arg;
	for (size_t i = 0; i < ma->n; i++) {
		ma->a.m = &ma->m[i];
		ma->a.size = msg_in_size(&ma->m[i]);
		int rc = op_append(t, &ma->a);
		if (rc != ST_OK) {
			if (i == 0 || rc == ST_TEMP)
				return rc;
			ma->refused = rc;
			return ST_TEMP;
		}
		ma->uids[i] = ma->a.uid;
	}
	return ST_OK;
}

int store_append_many(struct store *st, uint32_t user, const char *mbox, const struct msg_in *m,
		      size_t n, uint32_t *uidvalidity, uint32_t *uids)
{
	struct many_args *ma;
	int rc;
	if (!m || !n || !uids)
		return ST_INVALID;
	for (size_t i = 0; i < n; i++)
		if (m[i].hdrlen && !m[i].hdr)
			return ST_INVALID;
	ma = xcalloc(1, sizeof *ma);
	ma->a.user = user;
	ma->a.uidvalidity = uidvalidity;
	ma->m = m;
	ma->n = n;
	ma->uids = uids;
	if (mbox_norm(mbox, ma->a.mbox) < 0) {
		free(ma);
		return ST_INVALID;
	}
	rc = tx_write_grouped(st, op_append_many, ma);
	if (rc != ST_OK && ma->refused)
		rc = ma->refused;
	if (rc != ST_OK)
		memset(uids, 0, n * sizeof *uids);
	free(ma);
	return rc;
}

static int op_quota_check(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct acct_rec ac;
	int rc = acct_get(t, a->user, &ac);
	return rc ? rc : quota_fits(t->st, &ac, a->size);
}

int store_quota_check(struct store *st, uint32_t user, uint64_t size)
{
	struct msg_args a = {.user = user, .size = size};
	return tx_read(st, op_quota_check, &a);
}

static int op_msg_list(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct mbox mb;
	MDB_cursor *c;
	unsigned char k[8];
	MDB_val key = {8, k}, v;
	int rc = mbox_get(t, a->user, a->mbox, &mb);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MSG], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	msg_key(k, mb.r.id, a->uid ? a->uid : 1);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct msg_rec r = {0};
		struct msg_info info;
		if (key.mv_size != 8 || get32(key.mv_data) != mb.r.id)
			break;
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		msg_export(get32((unsigned char *)key.mv_data + 4), &r, &info);
		if (a->cb(a->arg, &info))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return ST_OK;
}

int store_msg_list(struct store *st, uint32_t user, const char *mbox, uint32_t uid_min,
		   int (*cb)(void *arg, const struct msg_info *m), void *arg)
{
	struct msg_args a = {.user = user, .uid = uid_min, .cb = cb, .arg = arg};
	if (mbox_norm(mbox, a.mbox) < 0)
		return ST_INVALID;
	return tx_read(st, op_msg_list, &a);
}

struct idx_args {
	uint32_t user;
	char mbox[STORE_MBOX_MAX + 1];
	const uint32_t *uids;
	size_t n;
	struct msg_info *out;
	unsigned char *found;
	struct uid_run *runs;
	uint64_t since;
	int (*cb)(void *, uint32_t, const struct msg_info *);
	void *arg;
	struct mbox_info *info;
	int stale, stopped;
	uint32_t uid;
};

static int op_msg_get_many(struct tx *t, void *arg)
{
	struct idx_args *a = arg;
	struct mbox mb;
	MDB_cursor *c;
	int rc = mbox_get(t, a->user, a->mbox, &mb), have = 0;
	uint32_t at = 0;
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MSG], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (size_t i = 0; i < a->n; i++) {
		unsigned char k[8];
		MDB_val key = {8, k}, v;
		uint32_t want = a->uids[i];
		a->found[i] = 0;
		/* Neighbours are the common case (1:*): step instead of seeking. */
		rc = MDB_NOTFOUND;
		if (have && at < want && want - at <= 8) {
			while ((rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) == 0 &&
			       key.mv_size == 8 && get32(key.mv_data) == mb.r.id &&
			       get32((unsigned char *)key.mv_data + 4) < want)
				;
		} else if (!have || at != want) {
			msg_key(k, mb.r.id, want);
			rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
		} else {
			rc = mdb_cursor_get(c, &key, &v, MDB_GET_CURRENT);
		}
		if (rc && rc != MDB_NOTFOUND) {
			tx_fail(t, rc);
			break;
		}
		have = rc == 0 && key.mv_size == 8 && get32(key.mv_data) == mb.r.id;
		if (!have)
			continue; /* past the mailbox: seek again next time */
		at = get32((unsigned char *)key.mv_data + 4);
		if (at == want) {
			struct msg_rec r = {0};
			memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
			msg_export(want, &r, &a->out[i]);
			a->found[i] = 1;
		}
	}
	mdb_cursor_close(c);
	return t->mrc ? ST_TEMP : ST_OK;
}

int store_msg_get_many(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		       size_t n, struct msg_info *out, unsigned char *found)
{
	struct idx_args a = {.user = user, .uids = uids, .n = n, .out = out, .found = found};
	if (mbox_norm(mbox, a.mbox) < 0 || (n && (!uids || !out || !found)))
		return ST_INVALID;
	return n ? tx_read(st, op_msg_get_many, &a) : ST_OK;
}

static int op_msg_runs(struct tx *t, void *arg)
{
	struct idx_args *a = arg;
	struct mbox mb;
	MDB_cursor *c;
	unsigned char k[8];
	MDB_val key = {8, k}, v;
	size_t cap = 0;
	int rc = mbox_get(t, a->user, a->mbox, &mb);
	if (rc)
		return rc;
	if (a->info)
		mbox_export(&mb, a->info);
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_RUN], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	msg_key(k, mb.r.id, 0);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		uint32_t count;
		if (key.mv_size != 8 || get32(key.mv_data) != mb.r.id || v.mv_size != 4)
			break;
		memcpy(&count, v.mv_data, 4);
		if (a->n == cap) {
			cap = cap ? cap * 2 : 8;
			a->runs = xrealloc(a->runs, cap * sizeof *a->runs);
		}
		a->runs[a->n].first = get32((unsigned char *)key.mv_data + 4);
		a->runs[a->n].count = count;
		a->n++;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_msg_runs(struct store *st, uint32_t user, const char *mbox, struct uid_run **runs,
		   size_t *n, struct mbox_info *info)
{
	struct idx_args a = {.user = user, .info = info};
	int rc;
	*runs = NULL;
	*n = 0;
	if (mbox_norm(mbox, a.mbox) < 0)
		return ST_INVALID;
	rc = tx_read(st, op_msg_runs, &a);
	*runs = a.runs;
	*n = rc == ST_OK ? a.n : 0;
	return rc;
}

/* Walk db (DB_GONE or DB_MSEQ) from (mbox, since + 1). */
static int changes_walk(struct tx *t, struct idx_args *a, uint32_t mbox, int db)
{
	MDB_cursor *c;
	unsigned char k[16];
	MDB_val key = {16, k}, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[db], &c), stop = 0;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	seq_key(k, mbox, a->since + 1, 0);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		uint32_t uid;
		if (key.mv_size != 16 || get32(key.mv_data) != mbox)
			break;
		uid = get32((unsigned char *)key.mv_data + 12);
		if (db == DB_GONE) {
			stop = a->cb(a->arg, uid, NULL);
		} else {
			struct msg_rec r;
			struct msg_info mi;
			if (msg_get(t, mbox, uid, &r))
				continue; /* cannot happen: indexed with the message */
			msg_export(uid, &r, &mi);
			stop = a->cb(a->arg, uid, &mi);
		}
	}
	mdb_cursor_close(c);
	a->stopped = stop;
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return t->mrc ? ST_TEMP : ST_OK;
}

static int op_msg_changes(struct tx *t, void *arg)
{
	struct idx_args *a = arg;
	struct mbox mb;
	struct gone_hdr h;
	int rc = mbox_get(t, a->user, a->mbox, &mb);
	if (rc)
		return rc;
	if (a->info)
		mbox_export(&mb, a->info);
	if (a->since >= mb.r.highestmodseq)
		return ST_OK;
	if ((rc = gone_hdr_get(t, mb.r.id, &h)))
		return rc;
	if (a->since < h.floor) {
		a->stale = 1;
		return ST_OK;
	}
	if ((rc = changes_walk(t, a, mb.r.id, DB_GONE)) || a->stopped)
		return rc;
	return changes_walk(t, a, mb.r.id, DB_MSEQ);
}

int store_msg_changes(struct store *st, uint32_t user, const char *mbox, uint64_t since,
		      int (*cb)(void *arg, uint32_t uid, const struct msg_info *m), void *arg,
		      struct mbox_info *info, int *stale)
{
	struct idx_args a = {.user = user, .since = since, .cb = cb, .arg = arg, .info = info};
	int rc;
	*stale = 0;
	if (mbox_norm(mbox, a.mbox) < 0 || !cb)
		return ST_INVALID;
	rc = tx_read(st, op_msg_changes, &a);
	*stale = a.stale;
	return rc;
}

static int op_first_unseen(struct tx *t, void *arg)
{
	struct idx_args *a = arg;
	struct mbox mb;
	MDB_cursor *c;
	unsigned char k[8];
	MDB_val key = {8, k}, v;
	int rc = mbox_get(t, a->user, a->mbox, &mb);
	a->uid = 0;
	if (rc || !mb.r.unseen)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_MSG], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	msg_key(k, mb.r.id, mb.r.unseen_low);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct msg_rec r = {0};
		if (key.mv_size != 8 || get32(key.mv_data) != mb.r.id)
			break;
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		if (!(r.flags & FL_SEEN)) {
			a->uid = get32((unsigned char *)key.mv_data + 4);
			break;
		}
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_msg_first_unseen(struct store *st, uint32_t user, const char *mbox, uint32_t *uid)
{
	struct idx_args a = {.user = user};
	int rc;
	*uid = 0;
	if (mbox_norm(mbox, a.mbox) < 0)
		return ST_INVALID;
	rc = tx_read(st, op_first_unseen, &a);
	*uid = a.uid;
	return rc;
}

static int op_msg_get(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct mbox mb;
	struct msg_rec r;
	int rc = mbox_get(t, a->user, a->mbox, &mb);
	if (!rc)
		rc = msg_get(t, mb.r.id, a->uid, &r);
	if (!rc)
		msg_export(a->uid, &r, a->out);
	return rc;
}

int store_msg_get(struct store *st, uint32_t user, const char *mbox, uint32_t uid,
		  struct msg_info *out)
{
	struct msg_args a = {.user = user, .uid = uid, .out = out};
	if (mbox_norm(mbox, a.mbox) < 0)
		return ST_INVALID;
	return tx_read(st, op_msg_get, &a);
}

static int op_msg_read(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct blob_rec b;
	unsigned char *out = a->buf, k[12];
	size_t done = 0;
	int rc = blob_meta_get(t, a->blob, &b);
	if (rc)
		return rc;
	if (!b.chunk)
		return ST_TEMP;
	while (done < a->n && a->off + done < b.size) {
		uint64_t pos = a->off + done;
		uint64_t no = pos / b.chunk, in = pos % b.chunk;
		MDB_val v;
		size_t n;
		int r = db_get(t, DB_CHUNK, k, chunk_key(k, a->blob, (uint32_t)no), &v);
		if (r)
			return r < 0 ? ST_TEMP : ST_NOTFOUND;
		if (in >= v.mv_size)
			return ST_TEMP;
		n = v.mv_size - (size_t)in;
		if (n > a->n - done)
			n = a->n - done;
		memcpy(out + done, (const char *)v.mv_data + in, n);
		done += n;
	}
	a->nread = (long)done;
	return ST_OK;
}

long store_msg_read(struct store *st, uint64_t blob, uint64_t off, void *buf, size_t n)
{
	struct msg_args a = {.blob = blob, .off = off, .buf = buf, .n = n};
	if (n > LONG_MAX)
		a.n = LONG_MAX;
	if (!n)
		return 0;
	return tx_read(st, op_msg_read, &a) == ST_OK ? a.nread : -1;
}

static int op_msg_flags(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct mbox mb;
	uint64_t mask;
	uint32_t fl = a->flags & FL_ALL, nkw = 0;
	int rc = mbox_get(t, a->user, a->mbox, &mb), changed = 0;
	if (!rc) {
		nkw = mb.r.nkw;
		rc = kw_mask(&mb, a->kws, a->nkw, a->op != FLAGS_DEL, &mask);
	}
	for (size_t i = 0; !rc && i < a->n; i++) {
		struct msg_rec r;
		uint32_t nf;
		uint64_t nk;
		rc = msg_get(t, mb.r.id, a->uids[i], &r);
		if (rc == ST_NOTFOUND) {
			rc = ST_OK;
			continue;
		}
		if (rc)
			break;
		nf = a->op == FLAGS_SET ? fl : a->op == FLAGS_ADD ? r.flags | fl : r.flags & ~fl;
		nk = a->op == FLAGS_SET ? mask : a->op == FLAGS_ADD ? r.keywords | mask :
									r.keywords & ~mask;
		if (nf == r.flags && nk == r.keywords)
			continue;
		if ((r.flags ^ nf) & FL_SEEN)
			mb.r.unseen += nf & FL_SEEN ? -1u : 1u;
		if ((r.flags & FL_SEEN) && !(nf & FL_SEEN) && a->uids[i] < mb.r.unseen_low)
			mb.r.unseen_low = a->uids[i];
		r.flags = nf;
		r.keywords = nk;
		uint64_t old = r.modseq;
		r.modseq = ++mb.r.highestmodseq; /* RFC 7162 3.1: each change */
		rc = msg_put(t, mb.r.id, a->uids[i], &r);
		if (!rc)
			rc = mseq_move(t, mb.r.id, a->uids[i], old, r.modseq);
		changed = 1;
	}
	if (rc)
		return rc;
	if (!changed && nkw == mb.r.nkw)
		return ST_OK; /* nothing to write: no commit, no wake-up */
	if (mbox_put(t, &mb) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_msg_flags(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		    size_t n, int op, uint32_t flags, const char *const *keywords, size_t nkw)
{
	struct msg_args a = {.user = user, .uids = uids, .n = n, .op = op, .flags = flags,
			     .kws = keywords, .nkw = nkw};
	if (mbox_norm(mbox, a.mbox) < 0 || op < FLAGS_SET || op > FLAGS_DEL ||
	    (nkw && !keywords) || (n && !uids))
		return ST_INVALID;
	return tx_write(st, op_msg_flags, &a);
}

static int op_expunge(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct acct_rec ac;
	struct mbox mb;
	size_t removed = 0;
	int rc = acct_get(t, a->user, &ac);
	if (!rc)
		rc = mbox_get(t, a->user, a->mbox, &mb);
	for (size_t i = 0; !rc && i < a->n; i++) {
		struct msg_rec r;
		rc = msg_get(t, mb.r.id, a->uids[i], &r);
		if (rc == ST_NOTFOUND) {
			rc = ST_OK;
			continue;
		}
		if (!rc && !(rc = msg_remove(t, &ac, &mb, a->uids[i], &r, 0)))
			removed++;
	}
	if (rc)
		return rc;
	if (!removed)
		return ST_OK;
	mb.r.highestmodseq++; /* RFC 7162 3.2.10: an expunge is a change too */
	if ((rc = gone_count(t, mb.r.id, removed)))
		return rc;
	if (mbox_put(t, &mb) < 0 || acct_put(t, &ac) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_msg_expunge(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		      size_t n)
{
	struct msg_args a = {.user = user, .uids = uids, .n = n};
	if (mbox_norm(mbox, a.mbox) < 0 || (n && !uids))
		return ST_INVALID;
	return tx_write(st, op_expunge, &a);
}

/* Keyword bits of src's table re-expressed in dst's (names differ in
 * position per mailbox); a name dst has no room for is dropped. */
static uint64_t kw_remap(const struct mbox *src, struct mbox *dst, uint64_t bits)
{
	uint64_t out = 0;
	if (src == dst)
		return bits;
	for (uint32_t i = 0; i < src->r.nkw; i++) {
		int ix;
		if (!(bits & (1ULL << i)))
			continue;
		ix = kw_index(dst, src->kw[i], 1);
		if (ix >= 0)
			out |= 1ULL << ix;
	}
	return out;
}

static int copy_msgs(struct tx *t, struct msg_args *a, struct acct_rec *ac, struct mbox *s,
		     struct mbox *d, struct msg_rec *recs, unsigned char *found)
{
	uint64_t total = 0;
	size_t moved = 0;
	int rc = ST_OK;

	for (size_t i = 0; i < a->n && !rc; i++) {
		rc = msg_get(t, s->r.id, a->uids[i], &recs[i]);
		found[i] = rc == ST_OK;
		if (rc == ST_NOTFOUND)
			rc = ST_OK;
		if (found[i])
			total += recs[i].size;
	}
	if (rc)
		return rc;
	/* RFC 3501 6.4.7: COPY is all or nothing, quota included. */
	if (!a->move && (rc = quota_fits(t->st, ac, total)))
		return rc;
	/* Moving: take the sources out first; a UID listed twice is found
	 * gone the second time and skipped. The reference moves along. */
	for (size_t i = 0; a->move && i < a->n; i++) {
		unsigned char k[8];
		int r;
		if (!found[i])
			continue;
		msg_key(k, s->r.id, a->uids[i]);
		if ((r = db_del(t, DB_MSG, k, 8)) < 0)
			return ST_TEMP;
		found[i] = r == 0;
		if (found[i]) {
			if (msg_unindex(t, s->r.id, a->uids[i], recs[i].modseq,
					s->r.highestmodseq + 1))
				return ST_TEMP;
			msg_uncount(ac, s, &recs[i]);
			moved++;
		}
	}
	if (moved) {
		s->r.highestmodseq++;
		if ((rc = gone_count(t, s->r.id, moved)))
			return rc;
	}
	for (size_t i = 0; i < a->n; i++) {
		uint32_t uid = 0;
		if (found[i]) {
			recs[i].keywords = kw_remap(s, d, recs[i].keywords);
			if (!a->move && (rc = blob_ref(t, recs[i].blob, +1)))
				return rc;
			if ((rc = msg_add(t, ac, d, &recs[i], &uid)))
				return rc;
		}
		if (a->new_uids)
			a->new_uids[i] = uid;
	}
	return ST_OK;
}

static int op_copy(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	struct acct_rec ac;
	struct mbox s, dbuf, *d = &s;
	struct msg_rec *recs;
	unsigned char *found;
	int rc = acct_get(t, a->user, &ac);
	if (!rc)
		rc = mbox_get(t, a->user, a->mbox, &s);
	if (!rc && strcmp(a->mbox, a->dst) != 0) {
		d = &dbuf;
		rc = mbox_get(t, a->user, a->dst, d);
	}
	if (rc)
		return rc;
	recs = xmalloc(sizeof *recs * (a->n ? a->n : 1));
	found = xmalloc(a->n ? a->n : 1);
	rc = copy_msgs(t, a, &ac, &s, d, recs, found);
	free(recs);
	free(found);
	if (rc)
		return rc;
	if (mbox_put(t, d) < 0 || (d != &s && mbox_put(t, &s) < 0) || acct_put(t, &ac) < 0)
		return ST_TEMP;
	if (a->uidvalidity)
		*a->uidvalidity = d->r.uidvalidity;
	tx_touch(t, a->user);
	return ST_OK;
}

int store_msg_copy(struct store *st, uint32_t user, const char *src, const char *dst,
		   const uint32_t *uids, size_t n, int move, uint32_t *dst_uidvalidity,
		   uint32_t *new_uids)
{
	struct msg_args a = {.user = user, .uids = uids, .n = n, .move = move,
			     .uidvalidity = dst_uidvalidity, .new_uids = new_uids};
	if (!src || !dst || mbox_norm(src, a.mbox) < 0 || mbox_norm(dst, a.dst) < 0 ||
	    (n && !uids))
		return ST_INVALID;
	return tx_write(st, op_copy, &a);
}

/* ================= outbound queue ================= */

struct queue_args {
	char from[STORE_ADDR_MAX + 1];
	char (*rcpts)[STORE_ADDR_MAX + 1];
	size_t n;
	const struct msg_in *m;
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

static int op_queue_add(struct tx *t, void *arg)
{
	struct queue_args *a = arg;
	struct queue_rec q = {0};
	struct blob_rec b = {msg_in_size(a->m), 1, CHUNK_SIZE};
	size_t len = sizeof q + strlen(a->from) + 2;
	unsigned char k[8], dk[16];
	char *p;
	int rc = blob_write(t, a->m, &q.blob);
	if (rc)
		return rc;
	if (blob_meta_put(t, q.blob, &b, MDB_APPEND) < 0 || meta_next(t, "next_queue", &a->id) < 0)
		return ST_TEMP;
	q.version = 1;
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
	*p = 0; /* last_error */
	qdue_key(dk, q.next_try, a->id);
	if (db_put(t, DB_QDUE, dk, 16, "", 0, 0) < 0)
		return ST_TEMP;
	t->touch_queue = 1;
	return ST_OK;
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
	rc = tx_write(st, op_queue_add, &a);
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
		     char *const *rcpts, size_t n, const char *err)
{
	unsigned char k[8], dk[16];
	size_t len = sizeof *q, l;
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
	return queue_put(t, c->e.id, &c->q, c->e.from, c->e.rcpts, c->e.nrcpts, err);
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
	static const int idx[] = {DB_RUN, DB_MSEQ, DB_GONE};
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
