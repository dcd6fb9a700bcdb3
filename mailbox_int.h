/*
 * mailbox_int.h — private to the store: included by mailbox*.c and by
 * nothing else (everyone else has mailbox.h). Keeping it private keeps
 * <lmdb.h> inside the store's own files.
 *
 * Holds what the store's files share: the sub-databases (DB_*), the record
 * layouts, struct store and struct tx, and the helpers every operation
 * uses. Each helper's full contract is the comment at its definition; the
 * file that defines it is named above each group.
 */
#ifndef BREV_MAILBOX_INT_H
#define BREV_MAILBOX_INT_H

#include "mailbox.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 16 pages of 4 KiB minus LMDB's page header: one chunk fills its overflow
 * pages exactly instead of spilling 16 bytes into a 17th page. */
#define CHUNK_SIZE      (65536 - 16)
#define KW_MAX          128         /* bytes of one keyword name */

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
	DB_PEND,  /* u64be blob id -> struct pend_rec: a large message's bytes being
		   * staged (blob_stage), not yet part of any message */
	DB_JOURNAL, /* u64be sequence -> int64 time + id\0 event\0 detail\0
		     * (mailbox_journal.c) */
	DB_FTW,   /* folded word -> u64be blob ids (DUPSORT, DUPFIXED): the full-text
		   * index's postings (mailbox_fts.c) */
	DB_FTB,   /* u64be blob id -> its words, each NUL-terminated (to drop them) */
	DB_FTQ,   /* u64be blob id -> "": blobs whose words are not in DB_FTW yet */
	DB_BTOK,    /* u32be user + u64be token hash -> struct btok_rec
		     * (mailbox_spam.c: the Bayesian token database) */
	DB_BSTAT,   /* u32be user -> struct bstat_rec */
	DB_BTRAIN,  /* u32be user + u64be message key -> u32 trained direction */
	DB_PLACE, /* u32be user + u64be blob + u32be mailbox id + u32be uid -> "":
		   * where a blob's messages are (mailbox_place.c) */
	DB_GREY,    /* kind byte + u64be hash -> struct grey_rec (mailbox_grey.c) */
	DB_SESS,    /* SHA-256 of a web session's cookie -> struct sess_rec
		     * (mailbox_acct.c: browser sessions, docs/http.md) */
	DB_SIEVE,   /* u32be user + kind byte + name or u64be hash: Sieve scripts,
		     * the active name, vacation/duplicate records (mailbox_sieve.c) */
	DB_LIST,    /* lower-cased list address -> struct list_rec + owner\0 (mailbox_list.c) */
	DB_LMEM,    /* list address + \0 + member address -> struct lmem_rec */
	DB_LTOK,    /* 'U' + used confirmation token -> int64 expiry; 'R' + list + \0 +
		     * address -> struct lrate_rec (mailbox_list.c) */
	DB_LHELD,   /* list address + \0 + u64be id -> int64 created + sender\0 + the
		     * post's bytes: a post held for the owner (mailbox_list.c) */
	DB_N
};

/* ---- records (values are native-endian, like LMDB's own pages) ---- */

struct acct_rec {
	uint32_t version, id;
	uint64_t quota, used;
	uint32_t messages;
	uint32_t spam; /* enum spam_strength (was padding: 0 in old records,
			* which is SPAM_DEFAULT, "as brev.conf says") */
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

/* Schema 3 appended savedate; a record written before (48 bytes) reads
 * with savedate 0, "not recorded" (every reader copies what is there into
 * a zeroed struct). */
struct msg_rec {
	uint32_t flags, pad;
	uint64_t keywords, modseq, size;
	int64_t internaldate;
	uint64_t blob;
	int64_t savedate;     /* unix s the message entered this mailbox; 0: not recorded */
};

struct blob_rec {
	uint64_t size;
	uint32_t refs, chunk;
};

/* A blob whose chunks are being written in commits of their own before the
 * message that will hold it is stored (blob_stage). Whoever finds the
 * record of a process that is gone deletes the chunks (pend_sweep). */
struct pend_rec {
	int64_t pid;
	int64_t started;                 /* unix seconds, for people reading dumps */
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
	/* followed by from\0, nrcpts x rcpt\0, last_error\0, and (since the
	 * delivery journal; absent in older records) the tracking id\0 */
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
	_Atomic uint32_t msg_quota;   /* quota.messages; 0 = none */
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
	size_t gqueued;               /* requests in ghead (for the test gate) */
	/* Tests only (store_test_*): commits made by group commit, and the
	 * number of queued requests a leader waits for before it takes them. */
	_Atomic uint64_t commits;
	size_t gate;
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

typedef int (*op_fn)(struct tx *t, void *arg);

/* ---- keys ---- */

static inline void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static inline uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static inline int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- mailbox.c: thin LMDB wrappers, transactions ---- */

/* Remember the first LMDB/errno failure of the transaction. */
void tx_fail(struct tx *t, int rc);
/* Note that user's data changed: watchers are woken after the commit. */
void tx_touch(struct tx *t, uint32_t user);
/* db_get, db_del: 0 found/deleted, 1 not there, -1 failure (in t->mrc).
 * db_put, db_del_prefix: 0 or -1. db_reserve: the space to fill, NULL on
 * failure. Values from db_get point into the map until the txn ends. */
int db_get(struct tx *t, int db, const void *k, size_t kl, MDB_val *v);
int db_put(struct tx *t, int db, const void *k, size_t kl, const void *v, size_t vl,
	   unsigned flags);
void *db_reserve(struct tx *t, int db, const void *k, size_t kl, size_t vl, unsigned flags);
int db_del(struct tx *t, int db, const void *k, size_t kl);
int db_del_prefix(struct tx *t, int db, const unsigned char *prefix, size_t pl);
/* Next value of a persistent counter in DB_META (first is 1). */
int meta_next(struct tx *t, const char *name, uint64_t *out);
/* Run op in a write (committed with sync when op returns ST_OK) or a read
 * transaction; op may run more than once. tx_write_grouped() shares the
 * commit with other deliveries and APPENDs (group commit). */
int tx_write(struct store *st, op_fn op, void *arg);
int tx_read(struct store *st, op_fn op, void *arg);
int tx_write_grouped(struct store *st, op_fn op, void *arg, uint64_t bytes);
/* The bytes a batch writes in one transaction before its leader stops
 * taking more requests (tx_write_grouped's `bytes`: what the op copies). */
#define BATCH_BYTES     (4u << 20)
/* Give freed heap back to the system after a write of at least this many
 * bytes (malloc keeps it otherwise; docs/store.md "Memory"). */
#define TRIM_BYTES      (1u << 20)
void heap_trim(uint64_t bytes);
/* Staging (large messages, see STAGE_MIN below). blob_stage: stage m when
 * it is larger than min bytes (STAGE_MIN, as a rule); *blob gets its id (0
 * when m is small or empty and nothing was done). ST_OK or ST_TEMP
 * (nothing left behind). blob_unstage: delete a staged blob unless a
 * committed transaction claimed it. pend_sweep (at open): delete the staged
 * blobs of processes that are gone. */
int blob_stage(struct store *st, const struct msg_in *m, uint64_t min, uint64_t *blob);
void blob_unstage(struct store *st, uint64_t blob);
int pend_sweep(struct store *st);

/* ---- mailbox_acct.c: addresses, accounts, quota ---- */

/* What already answers to the lower-cased address addr: 0 nothing,
 * 1 an account, 2 an alias, 3 a mailing list or one of its own addresses
 * (LIST-request@, LIST-bounces@); -1 failure. Accounts, aliases and lists
 * share one name space: each refuses a name another holds. */
enum { ADDR_FREE, ADDR_ACCOUNT, ADDR_ALIAS, ADDR_LIST };
int addr_owner(struct tx *t, const char *addr);

/* addr_norm: 0, or -1 when invalid. acct_get, quota_fits: a store_rc.
 * acct_put: 0 or -1. */
int addr_norm(const char *in, char *out, int catchall);
int acct_get(struct tx *t, uint32_t id, struct acct_rec *a);
int acct_put(struct tx *t, const struct acct_rec *a);
/* Whether nmsg more messages of size bytes in all fit the account's limits:
 * ST_OK, ST_TOOBIG (the bytes alone exceed the storage limit), ST_QUOTA
 * (over the storage or the message-count limit now). */
int quota_fits(struct store *st, const struct acct_rec *a, uint64_t size, uint32_t nmsg);

/* ---- mailbox_mbox.c: mailbox names, records, keyword tables ---- */

/* mbox_norm: 0, or -1 when invalid. mbox_get, mbox_names, kw_mask: a
 * store_rc. mbox_put, mbox_del_key, mbox_new: 0 or -1. kw_index: the
 * keyword's index, -1 unknown, -2 table full. */
int mbox_norm(const char *in, char *out);
/* The DB_META entries that outlive a mailbox record, 0 or -1: recent_forget
 * drops a mailbox's \Recent mark (when the mailbox is deleted),
 * sub_forget_all an account's kept subscriptions (when it is deleted). */
int recent_forget(struct tx *t, uint32_t mbox_id);
int sub_forget_all(struct tx *t, uint32_t user);
int mbox_get(struct tx *t, uint32_t user, const char *name, struct mbox *mb);
int mbox_put(struct tx *t, const struct mbox *mb);
int mbox_del_key(struct tx *t, const struct mbox *mb);
int mbox_new(struct tx *t, uint32_t user, const char *name, int special, int subscribed,
	     struct mbox *mb);
int mbox_names(struct tx *t, uint32_t user, char (**names)[STORE_MBOX_MAX + 1], size_t *n);
void mbox_export(const struct mbox *mb, struct mbox_info *out);
int kw_index(struct mbox *mb, const char *name, int add);
int kw_mask(struct mbox *mb, const char *const *kws, size_t n, int add, uint64_t *mask);

/* ---- mailbox_msg.c: message bytes, mailbox contents and indexes ---- */

/* Messages above STAGE_MIN bytes are staged: their chunks go into the store
 * in commits of their own, STAGE_PIECE chunks (about 1 MiB) each, before
 * the transaction that stores the message claims them. No transaction then
 * holds more than BATCH_BYTES of message bytes in memory (an inline
 * message is at most STAGE_MIN, a MULTIAPPEND's inline part too). */
#define STAGE_MIN       (1u << 20)
#define STAGE_PIECE     16

/* A store_rc each, but blob_meta_put: 0 or -1. */
uint64_t msg_in_size(const struct msg_in *m);
/* The bytes of m as a new blob: written now in t, or, when staged is not
 * 0, the blob blob_stage() wrote, claimed (ST_TEMP if it is gone). */
int blob_write(struct tx *t, const struct msg_in *m, uint64_t staged, uint64_t *id_out);
/* Copy chunks first.. of blob id from m, starting at byte off, at most max
 * chunks, with mdb_put flags; *end gets the offset reached. */
int chunks_write(struct tx *t, const struct msg_in *m, uint64_t id, uint32_t first, uint64_t off,
		 uint32_t max, unsigned flags, uint64_t *end);
int blob_meta_get(struct tx *t, uint64_t blob, struct blob_rec *b);
/* flags: MDB_APPEND for a blob written in this transaction (the largest id
 * yet), 0 for a staged one (a larger id may have been stored since). */
int blob_meta_put(struct tx *t, uint64_t blob, const struct blob_rec *b, unsigned flags);
int blob_ref(struct tx *t, uint64_t blob, int delta);
int mbox_purge(struct tx *t, struct acct_rec *a, struct mbox *mb);
/* Schema 1 -> 2 (mailbox.c's open): an LMDB rc, not a store_rc. */
int index_build(MDB_txn *txn, MDB_dbi *dbi);

/* ---- mailbox_fts.c: the full-text index (fts.h has the words) ---- */

struct fts_terms;
/* The words of a message entering the store; read before its transaction,
 * so the writer lock is not held while it is parsed. */
void fts_msg_terms(const struct msg_in *m, struct fts_terms *out);
/* Index a new blob's words (pending until merged; *merge, if not NULL, is
 * set when enough are pending that the caller should call fts_merge after
 * its commit) / drop them with its last reference. A store_rc. fts_merge:
 * merge up to FTS_MERGE_MAX pending blobs into DB_FTW in a write
 * transaction of its own (not inside another); *merged gets how many.
 * fts_open (store_open): record from which blob on the index is complete,
 * the first time; an LMDB rc. */
int fts_put(struct tx *t, uint64_t blob, const struct fts_terms *ft, int *merge);
int fts_drop(struct tx *t, uint64_t blob);
int fts_merge(struct store *st, size_t *merged);
int fts_open(MDB_txn *txn, MDB_dbi *dbi);
/* ---- mailbox_spam.c ---- */

/* Delete an account's token database and training records (user del). */
int bayes_forget_user(struct tx *t, uint32_t user);
/* ---- mailbox_sieve.c ---- */

/* Delete an account's scripts and vacation/duplicate records (user del). */
int sieve_forget_user(struct tx *t, uint32_t user);
/* ---- mailbox_place.c: blob -> (mailbox, uid) index ---- */

/* Add or remove the DB_PLACE entry of message (mbox, uid) holding blob,
 * owned by user, in the transaction that adds or removes the message.
 * A store_rc. place_build (schema 3 -> 4, opening transaction): fill
 * DB_PLACE from DB_MSG; an LMDB rc. */
int place_put(struct tx *t, uint32_t user, uint64_t blob, uint32_t mbox, uint32_t uid);
int place_del(struct tx *t, uint32_t user, uint64_t blob, uint32_t mbox, uint32_t uid);
int place_build(MDB_txn *txn, MDB_dbi *dbi);

/* ---- mailbox_journal.c: the delivery journal (journal.h) ---- */

/* Append one event inside t (id, event, detail cut to their bounds).
 * A store_rc. */
int journal_put(struct tx *t, const char *id, const char *event, const char *detail);
/* mailbox_grey.c: record that local wrote to remote (a known pair) in t. */
int grey_known_put(struct tx *t, const char *local, const char *remote, int64_t now);

#endif
