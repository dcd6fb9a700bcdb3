/*
 * mailbox_msg.c — the store's messages: their bytes (chunked,
 * reference-counted blobs), their records, the per-mailbox indexes (UID
 * runs, modseq order, expunged UIDs) and every message operation: deliver,
 * append, list, get, read, flags, expunge, copy/move, purge. Mailbox
 * records and keyword tables are mailbox_mbox.c's, accounts and quotas
 * mailbox_acct.c's, transactions and group commit mailbox.c's
 * (mailbox_int.h).
 */
#include "mailbox_int.h"
#include "fts.h"
#include "journal.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL_ALL          (FL_SEEN | FL_ANSWERED | FL_FLAGGED | FL_DELETED | FL_DRAFT)

/* ---- blobs: message bytes, chunked, reference-counted ---- */

static size_t chunk_key(unsigned char *k, uint64_t blob, uint32_t no)
{
	put64(k, blob);
	put32(k + 8, no);
	return 12;
}

int blob_meta_get(struct tx *t, uint64_t blob, struct blob_rec *b)
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

int blob_meta_put(struct tx *t, uint64_t blob, const struct blob_rec *b, unsigned flags)
{
	unsigned char k[8];
	put64(k, blob);
	return db_put(t, DB_BLOB, k, 8, b, sizeof *b, flags);
}

uint64_t msg_in_size(const struct msg_in *m)
{
	uint64_t body = m->body ? (m->body_len ? m->body_len : spool_size(m->body)) : 0;
	return (uint64_t)(m->hdr ? m->hdrlen : 0) + body;
}

/* Copy chunks first.. of blob id from the message (at byte off) straight
 * from the spool into space LMDB reserved (no whole-message buffer), at
 * most max chunks; *end gets the offset reached. */
int chunks_write(struct tx *t, const struct msg_in *m, uint64_t id, uint32_t first, uint64_t off,
		 uint32_t max, unsigned flags, uint64_t *end)
{
	uint64_t size = msg_in_size(m);
	size_t hl = m->hdr ? m->hdrlen : 0;
	unsigned char k[12];

	for (uint32_t no = first; off < size && no - first < max; no++) {
		size_t n = size - off < CHUNK_SIZE ? (size_t)(size - off) : CHUNK_SIZE, done = 0;
		unsigned char *p = db_reserve(t, DB_CHUNK, k, chunk_key(k, id, no), n, flags);
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
	*end = off;
	return ST_OK;
}

/* Take a staged blob for the message being stored: its DB_PEND record goes
 * in this transaction (so an abort gives it back). */
static int blob_claim(struct tx *t, uint64_t blob)
{
	unsigned char k[8];
	int r;
	put64(k, blob);
	r = db_del(t, DB_PEND, k, 8);
	if (r == 1)
		log_error("store: staged message bytes %llu are gone", (unsigned long long)blob);
	return r ? ST_TEMP : ST_OK;
}

/* A new blob's chunks. Blob ids only grow, so every chunk key of a blob
 * written inside the transaction is the largest yet: MDB_APPEND skips the
 * search. The blob record is written by the caller once the reference
 * count is known (with blob_meta_put's flags for `staged`). */
int blob_write(struct tx *t, const struct msg_in *m, uint64_t staged, uint64_t *id_out)
{
	uint64_t id, end;
	int rc;

	if (staged) {
		if ((rc = blob_claim(t, staged)))
			return rc;
		*id_out = staged;
		return ST_OK;
	}
	if (meta_next(t, "next_blob", &id) < 0)
		return ST_TEMP;
	if ((rc = chunks_write(t, m, id, 0, 0, UINT32_MAX, MDB_APPEND, &end)))
		return rc;
	*id_out = id;
	return ST_OK;
}

int blob_ref(struct tx *t, uint64_t blob, int delta)
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
		if (db_del_prefix(t, DB_CHUNK, k, 8) < 0 || db_del(t, DB_BLOB, k, 8) < 0 ||
		    fts_drop(t, blob) != ST_OK)
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

/* The run of mbox with the largest first UID <= uid: 1 found, 0 none,
 * -1 failure (the transaction is failed). */
static int run_find(struct tx *t, uint32_t mbox, uint32_t uid, uint32_t *first, uint32_t *count)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_RUN], &c), found;
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	found = run_seek(t, c, mbox, uid, first, count) == 0;
	mdb_cursor_close(c);
	return t->mrc ? -1 : found;
}

/* uid is above every UID in mbox: extend the last run or start one. */
static int run_add(struct tx *t, uint32_t mbox, uint32_t uid)
{
	uint32_t first, count;
	int found = run_find(t, mbox, uid, &first, &count);
	if (found < 0)
		return ST_TEMP;
	if (found && first + count == uid)
		return run_put(t, mbox, first, count + 1);
	return run_put(t, mbox, uid, 1);
}

/* Take uid out of its run (split it when uid is inside). */
static int run_remove(struct tx *t, uint32_t mbox, uint32_t uid)
{
	uint32_t first, count;
	int rc, found = run_find(t, mbox, uid, &first, &count);
	if (found < 0)
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

/* Message uid (modseq old, bytes blob) leaves mbox at modseq ms. The
 * expunge record keeps the blob (u64be), so JMAP's Email/changes can name
 * the Email that went; records written before it are empty. */
static int msg_unindex(struct tx *t, uint32_t mbox, uint32_t uid, uint64_t old, uint64_t ms,
		       uint64_t blob)
{
	unsigned char k[16], b[8];
	int rc = mseq_move(t, mbox, uid, old, 0);
	if (!rc)
		rc = run_remove(t, mbox, uid);
	if (rc)
		return rc;
	seq_key(k, mbox, ms, uid);
	put64(b, blob);
	return db_put(t, DB_GONE, k, 16, b, 8, 0) < 0 ? ST_TEMP : ST_OK;
}

/* Schema 1 -> 2: build DB_RUN and DB_MSEQ from DB_MSG (one pass, in the
 * opening transaction). Expunges before the upgrade were never recorded:
 * each mailbox's DB_GONE floor starts at its highestmodseq, so a client
 * that last looked before the upgrade is told "stale", not "nothing". */
int index_build(MDB_txn *txn, MDB_dbi *dbi)
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
	/* RFC 8514: every way into a mailbox (delivery, APPEND, COPY, MOVE)
	 * comes through here, and each gives the message a new save date. */
	m->savedate = now_s();
	if (msg_put(t, mb->r.id, uid, m) || mseq_move(t, mb->r.id, uid, 0, m->modseq) ||
	    run_add(t, mb->r.id, uid) || place_put(t, mb->user, m->blob, mb->r.id, uid))
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
	if (msg_unindex(t, mb->r.id, uid, m->modseq, mb->r.highestmodseq + 1, m->blob) ||
	    place_del(t, mb->user, m->blob, mb->r.id, uid))
		return ST_TEMP;
	msg_uncount(a, mb, m);
	return keep_ref ? ST_OK : blob_ref(t, m->blob, -1);
}

/* Drop all messages of a mailbox (DELETE, account removal). */
int mbox_purge(struct tx *t, struct acct_rec *a, struct mbox *mb)
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
		uint32_t uid;
		msg_key(k, mb->r.id, 0);
		rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
		if (rc || key.mv_size != 8 || get32(key.mv_data) != mb->r.id)
			break;
		memset(&m, 0, sizeof m);
		memcpy(&m, v.mv_data, v.mv_size < sizeof m ? v.mv_size : sizeof m);
		uid = get32((unsigned char *)key.mv_data + 4); /* key is gone after the del */
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		if ((src = place_del(t, mb->user, m.blob, mb->r.id, uid)))
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
	uint64_t staged;             /* blob_stage's blob, or 0 */
	const struct fts_terms *ft;  /* the new blob's words (fts_msg_terms) */
	int fts_merge;               /* enough words pending: merge after the commit */
	uint32_t uid;
	int op, move;
	uint32_t flags;
	const char *const *kws;
	size_t nkw;
	int (*cb)(void *, const struct msg_info *);
	void *arg;
	int cond;                      /* store_msg_flags_if */
	uint64_t unchangedsince;
	unsigned char *failed;
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
	out->savedate = r->savedate ? r->savedate : r->internaldate;
	out->blob = r->blob;
}

/* The account's \Junk mailbox into mb (msg_in.junk): the one marked
 * \Junk, else one named Junk, else a new "Junk" marked \Junk. */
static int junk_mbox(struct tx *t, uint32_t user, struct mbox *mb)
{
	char(*names)[STORE_MBOX_MAX + 1];
	size_t n;
	int rc = mbox_get(t, user, "Junk", mb);
	if (rc == ST_OK && mb->r.special == MBOX_JUNK)
		return ST_OK; /* the usual case: the one `user add` made */
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return rc;
	if ((rc = mbox_names(t, user, &names, &n)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = mbox_get(t, user, names[i], mb)))
			break;
		if (mb->r.special == MBOX_JUNK) {
			free(names);
			return ST_OK;
		}
	}
	free(names);
	if (rc)
		return rc;
	rc = mbox_get(t, user, "Junk", mb);
	if (rc != ST_NOTFOUND)
		return rc;
	return mbox_new(t, user, "Junk", MBOX_JUNK, 1, mb) < 0 ? ST_TEMP : ST_OK;
}

/* The mailbox one copy goes to: the target's (created when it asks and
 * the name is valid), else the delivery's mbox or Junk; a mailbox that
 * is not there means INBOX (never lose mail over a folder). */
static int target_mbox(struct tx *t, struct msg_args *a, uint32_t user, int junk,
		       const struct deliver_target *tg, struct mbox *mb)
{
	char name[STORE_MBOX_MAX + 1];
	int rc;
	if (tg && tg->mbox && mbox_norm(tg->mbox, name) == 0) {
		rc = mbox_get(t, user, name, mb);
		if (rc == ST_NOTFOUND && tg->create)
			rc = mbox_new(t, user, name, 0, 1, mb) < 0 ? ST_TEMP : ST_OK;
	} else if (junk && !(tg && tg->mbox)) {
		return junk_mbox(t, user, mb);
	} else {
		str_copy(name, a->mbox, sizeof name);
		rc = mbox_get(t, user, name, mb);
	}
	if (rc == ST_NOTFOUND && strcmp(name, "INBOX") != 0)
		rc = mbox_get(t, user, "INBOX", mb); /* no such folder: INBOX */
	return rc;
}

/* Add names to a keyword mask; those that do not fit are dropped. */
static void kw_more(struct mbox *mb, const char *const *names, size_t n, uint64_t *mask)
{
	uint64_t more = 0;
	if (n && kw_mask(mb, names, n, 1, &more) == ST_OK)
		*mask |= more;
}

/* One copy for one recipient (tg NULL: the delivery's mbox or Junk); the
 * blob is written on the first success. */
static int deliver_one(struct tx *t, struct msg_args *a, uint32_t user, int junk,
		       const struct deliver_target *tg, uint64_t size, int64_t date, uint32_t *uid)
{
	struct acct_rec ac;
	struct mbox mb;
	struct msg_rec r = {0};
	int rc = acct_get(t, user, &ac);
	if (!rc)
		rc = quota_fits(t->st, &ac, size, 1);
	if (!rc)
		rc = target_mbox(t, a, user, junk, tg, &mb);
	if (!rc && !a->blob)
		rc = blob_write(t, a->m, a->staged, &a->blob);
	if (rc)
		return rc;
	/* Keywords that do not fit the table are dropped, not refused: the
	 * message matters more than its labels. */
	if (kw_mask(&mb, a->m->keywords, a->m->nkeywords, 1, &r.keywords))
		r.keywords = 0;
	if (tg)
		kw_more(&mb, tg->keywords, tg->nkeywords, &r.keywords);
	r.flags = (a->m->flags | (tg ? tg->flags : 0)) & FL_ALL;
	r.size = size;
	r.internaldate = date;
	r.blob = a->blob;
	if ((rc = msg_add(t, &ac, &mb, &r, uid)))
		return rc;
	if (mbox_put(t, &mb) < 0 || acct_put(t, &ac) < 0)
		return ST_TEMP;
	tx_touch(t, user);
	if (a->m->journal) {
		char d[STORE_ADDR_MAX + STORE_MBOX_MAX + 32];
		snprintf(d, sizeof d, "to=<%s> folder=%s", ac.addr, mb.name);
		return journal_put(t, a->m->journal->id, "stored", d);
	}
	return ST_OK;
}

/* The journal records of op_deliver other than "stored" (journal.h). */
static int deliver_journal(struct tx *t, const struct msg_args *a, uint32_t user, int rc)
{
	const struct journal_in *j = a->m->journal;
	struct acct_rec ac;
	char d[STORE_ADDR_MAX + 64];
	if (!j)
		return ST_OK;
	if (user == 0)
		return j->accepted ? journal_put(t, j->id, "accepted", j->accepted) : ST_OK;
	if (acct_get(t, user, &ac) != ST_OK)
		snprintf(ac.addr, sizeof ac.addr, "account %u", user);
	snprintf(d, sizeof d, "to=<%s> reason=%s", ac.addr, store_strerror(rc));
	return journal_put(t, j->id, "refused", d);
}

static int op_deliver(struct tx *t, void *arg)
{
	struct msg_args *a = arg;
	uint64_t size = msg_in_size(a->m);
	int64_t date = a->m->internaldate ? a->m->internaldate : now_s();
	uint32_t refs = 0;

	a->blob = 0;
	if (deliver_journal(t, a, 0, 0))
		return ST_TEMP;
	for (size_t i = 0; i < a->n; i++) {
		uint32_t uid = 0;
		int junk = a->m->junk && a->m->junk[i];
		const struct deliver_place *pl = a->m->place ? &a->m->place[i] : NULL;
		int rc = ST_OK, stored = 0;
		if (!pl) {
			rc = deliver_one(t, a, a->users[i], junk, NULL, size, date, &uid);
			stored = rc == ST_OK;
		}
		/* Sieve's copies: the user's rc is ST_OK when one of them (or
		 * none, a discard) went in, else the first failure. */
		for (size_t j = 0; pl && j < pl->n; j++) {
			uint32_t u = 0;
			int r1 = deliver_one(t, a, a->users[i], junk, &pl->t[j], size, date, &u);
			if (r1 == ST_TEMP)
				return ST_TEMP;
			if (r1 == ST_OK && !stored++)
				uid = u;
			if (r1 != ST_OK && j == 0)
				rc = r1;
		}
		if (pl && stored)
			rc = ST_OK;
		if (rc == ST_TEMP || (rc != ST_OK && deliver_journal(t, a, a->users[i], rc)))
			return ST_TEMP;
		refs += (uint32_t)stored;
		if (a->rc)
			a->rc[i] = rc;
		if (a->uid_out)
			a->uid_out[i] = rc == ST_OK ? uid : 0;
	}
	if (a->blob && refs) {
		struct blob_rec b = {size, refs, CHUNK_SIZE};
		if (blob_meta_put(t, a->blob, &b, a->staged ? 0 : MDB_APPEND) < 0 ||
		    fts_put(t, a->blob, a->ft, &a->fts_merge) != ST_OK)
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
	struct fts_terms ft;
	fts_msg_terms(m, &ft); /* before the writer lock is taken */
	a.ft = &ft;
	if (blob_stage(st, m, STAGE_MIN, &a.staged) != ST_OK)
		r = ST_TEMP;
	else
		r = tx_write_grouped(st, op_deliver, &a, a.staged ? 0 : msg_in_size(m));
	fts_terms_free(&ft);
	if (r == ST_OK && a.fts_merge)
		fts_merge(st, NULL); /* a failure leaves them pending, still found */
	/* Not claimed: every recipient refused it, or the write failed. */
	if (a.staged && (r != ST_OK || !a.blob))
		blob_unstage(st, a.staged);
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
		rc = quota_fits(t->st, &ac, a->size, 1);
	if (!rc && mb.r.uidnext == UINT32_MAX)
		rc = ST_INVALID; /* refuse before writing: see group commit */
	if (!rc)
		rc = blob_write(t, a->m, a->staged, &r.blob);
	if (rc)
		return rc;
	r.flags = a->m->flags & FL_ALL;
	r.size = b.size = a->size;
	r.internaldate = a->m->internaldate ? a->m->internaldate : now_s();
	if ((rc = msg_add(t, &ac, &mb, &r, &a->uid)))
		return rc;
	if (blob_meta_put(t, r.blob, &b, a->staged ? 0 : MDB_APPEND) < 0 || mbox_put(t, &mb) < 0 ||
	    acct_put(t, &ac) < 0 || fts_put(t, r.blob, a->ft, &a->fts_merge) != ST_OK)
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
	if (blob_stage(st, m, STAGE_MIN, &a.staged) != ST_OK)
		return ST_TEMP;
	struct fts_terms ft;
	fts_msg_terms(m, &ft); /* before the writer lock is taken */
	a.ft = &ft;
	rc = tx_write_grouped(st, op_append, &a, a.staged ? 0 : a.size);
	fts_terms_free(&ft);
	if (rc == ST_OK && a.fts_merge)
		fts_merge(st, NULL); /* a failure leaves them pending, still found */
	if (a.staged && rc != ST_OK)
		blob_unstage(st, a.staged);
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
	uint64_t *staged;            /* per message, 0 when copied inline */
	struct fts_terms *ft;        /* per message */
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
		ma->a.staged = ma->staged[i];
		ma->a.ft = &ma->ft[i];
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
	uint64_t inline_bytes = 0;
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
	/* The messages together may be large even when each is not: stage
	 * every one that would take the inline bytes past STAGE_MIN. */
	ma->staged = xcalloc(n, sizeof *ma->staged);
	rc = ST_OK;
	for (size_t i = 0; i < n && rc == ST_OK; i++) {
		uint64_t size = msg_in_size(&m[i]);
		if (size > STAGE_MIN || inline_bytes + size > STAGE_MIN)
			rc = blob_stage(st, &m[i], 0, &ma->staged[i]);
		if (!ma->staged[i])
			inline_bytes += size;
	}
	ma->ft = xcalloc(n, sizeof *ma->ft);
	for (size_t i = 0; i < n && rc == ST_OK; i++)
		fts_msg_terms(&m[i], &ma->ft[i]);
	if (rc == ST_OK)
		rc = tx_write_grouped(st, op_append_many, ma, inline_bytes);
	for (size_t i = 0; i < n; i++)
		fts_terms_free(&ma->ft[i]);
	free(ma->ft);
	if (rc == ST_OK && ma->a.fts_merge)
		fts_merge(st, NULL);
	for (size_t i = 0; rc != ST_OK && i < n; i++)
		blob_unstage(st, ma->staged[i]);
	free(ma->staged);
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
	return rc ? rc : quota_fits(t->st, &ac, a->size, 1);
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
	/* store_msg_changes_blob's callback, instead of cb */
	int (*cb_blob)(void *, uint32_t, const struct msg_info *, uint64_t);
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
			uint64_t blob = v.mv_size == 8 ? get64(v.mv_data) : 0;
			stop = a->cb_blob ? a->cb_blob(a->arg, uid, NULL, blob) : a->cb(a->arg, uid, NULL);
		} else {
			struct msg_rec r;
			struct msg_info mi;
			if (msg_get(t, mbox, uid, &r))
				continue; /* cannot happen: indexed with the message */
			msg_export(uid, &r, &mi);
			stop = a->cb_blob ? a->cb_blob(a->arg, uid, &mi, mi.blob)
					  : a->cb(a->arg, uid, &mi);
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

int store_msg_changes_blob(struct store *st, uint32_t user, const char *mbox, uint64_t since,
			   int (*cb)(void *arg, uint32_t uid, const struct msg_info *m,
				     uint64_t blob),
			   void *arg, struct mbox_info *info, int *stale)
{
	struct idx_args a = {.user = user, .since = since, .cb_blob = cb, .arg = arg, .info = info};
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
	if (a->cond && a->n)
		memset(a->failed, 0, a->n); /* the op may run again (tx_write) */
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
		if (a->cond && r.modseq > a->unchangedsince) {
			a->failed[i] = 1; /* RFC 7162 3.1.3: changed since: leave it */
			continue;
		}
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

int store_msg_flags_if(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		       size_t n, int op, uint32_t flags, const char *const *keywords, size_t nkw,
		       uint64_t unchangedsince, unsigned char *failed)
{
	struct msg_args a = {.user = user, .uids = uids, .n = n, .op = op, .flags = flags,
			     .kws = keywords, .nkw = nkw, .cond = 1,
			     .unchangedsince = unchangedsince, .failed = failed};
	if (mbox_norm(mbox, a.mbox) < 0 || op < FLAGS_SET || op > FLAGS_DEL ||
	    (nkw && !keywords) || (n && (!uids || !failed)))
		return ST_INVALID;
	int rc = tx_write(st, op_msg_flags, &a);
	if (rc != ST_OK && n)
		memset(failed, 0, n);
	return rc;
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

/* REPLACE (RFC 8508): the old message out of src and the new one into dst
 * in one transaction. The expunge goes first so that the new message's
 * quota check sees the old one's bytes freed; a refusal of the append
 * aborts the transaction, expunge and all (tx_write, not the group commit,
 * whose batch could not undo half of it). */
struct replace_args {
	struct msg_args ex, ap;
};

static int op_replace(struct tx *t, void *arg)
{
	struct replace_args *r = arg;
	int rc = op_expunge(t, &r->ex);
	return rc ? rc : op_append(t, &r->ap);
}

int store_msg_replace(struct store *st, uint32_t user, const char *src, uint32_t old_uid,
		      const char *dst, const struct msg_in *m, uint32_t *uidvalidity,
		      uint32_t *uid)
{
	struct replace_args r = {.ex = {.user = user, .uids = &old_uid, .n = 1},
				 .ap = {.user = user, .m = m, .uidvalidity = uidvalidity}};
	int rc;
	if (uid)
		*uid = 0;
	if (!m || (m->hdrlen && !m->hdr) || mbox_norm(src, r.ex.mbox) < 0 ||
	    mbox_norm(dst, r.ap.mbox) < 0)
		return ST_INVALID;
	r.ap.size = msg_in_size(m);
	if (blob_stage(st, m, STAGE_MIN, &r.ap.staged) != ST_OK)
		return ST_TEMP;
	rc = tx_write(st, op_replace, &r);
	if (r.ap.staged && rc != ST_OK)
		blob_unstage(st, r.ap.staged);
	if (uid && rc == ST_OK)
		*uid = r.ap.uid;
	return rc;
}

/* Keyword bits of src's table re-expressed in dst's (names differ in
 * position per mailbox). A name dst has no room for is ST_LIMIT: COPY and
 * MOVE keep every keyword or fail whole (RFC 3501 6.4.7), as STORE does. */
static int kw_remap(const struct mbox *src, struct mbox *dst, uint64_t *bits)
{
	uint64_t out = 0;
	if (src == dst)
		return ST_OK;
	for (uint32_t i = 0; i < src->r.nkw; i++) {
		int ix;
		if (!(*bits & (1ULL << i)))
			continue;
		ix = kw_index(dst, src->kw[i], 1);
		if (ix < 0)
			return ST_LIMIT;
		out |= 1ULL << ix;
	}
	*bits = out;
	return ST_OK;
}

static int copy_msgs(struct tx *t, struct msg_args *a, struct acct_rec *ac, struct mbox *s,
		     struct mbox *d, struct msg_rec *recs, unsigned char *found)
{
	uint64_t total = 0;
	uint32_t nfound = 0;
	size_t moved = 0;
	int rc = ST_OK;

	for (size_t i = 0; i < a->n && !rc; i++) {
		rc = msg_get(t, s->r.id, a->uids[i], &recs[i]);
		found[i] = rc == ST_OK;
		if (rc == ST_NOTFOUND)
			rc = ST_OK;
		if (found[i]) {
			total += recs[i].size;
			nfound++;
		}
	}
	if (rc)
		return rc;
	/* RFC 3501 6.4.7: COPY is all or nothing, quota included. */
	if (!a->move && (rc = quota_fits(t->st, ac, total, nfound)))
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
					s->r.highestmodseq + 1, recs[i].blob) ||
			    place_del(t, s->user, recs[i].blob, s->r.id, a->uids[i]))
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
			if ((rc = kw_remap(s, d, &recs[i].keywords)))
				return rc;
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
