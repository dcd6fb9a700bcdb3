/*
 * mailbox_verify.c — the store seen from outside the running server:
 * the compacting copy `brev backup` puts in its archive, and the
 * consistency check of `brev verify`.
 *
 * Both open DATADIR/store read-only in an environment of their own
 * (MDB_RDONLY: no write transaction, no pend_sweep, nothing a running
 * `brev serve` could notice except one reader slot) and look at one
 * snapshot: a single read transaction. LMDB lets a reader and the server's
 * writers run side by side, so both are safe while brev serves.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox_int.h"
#include "util.h"

/* The sub-databases this file reads, by their LMDB names (mailbox.c's
 * db_names). Tables it does not know (a later full-text index, ...) are
 * copied by the backup like everything else and ignored by verify. */
enum {
	V_META,
	V_ACCT,
	V_MBOX,
	V_MSG,
	V_BLOB,
	V_CHUNK,
	V_QUEUE,
	V_RUN,
	V_MSEQ,
	V_GONE,
	V_PEND,
	V_N
};
static const char *const v_names[V_N] = {"meta",  "acct", "mbox", "msg",  "blob", "chunk",
					 "queue", "run",  "mseq", "gone", "pend"};

struct snap {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi[V_N];
};

static void snap_close(struct snap *s)
{
	if (s->txn)
		mdb_txn_abort(s->txn);
	if (s->env)
		mdb_env_close(s->env);
	memset(s, 0, sizeof *s);
}

/* Open DATADIR/store read-only and begin one read transaction. */
static int snap_open(struct snap *s, const char *datadir, char *err, size_t errlen)
{
	char dir[PATH_MAX], data[PATH_MAX];
	int rc;
	memset(s, 0, sizeof *s);
	if (path_join(dir, sizeof dir, datadir, "store") < 0 ||
	    path_join(data, sizeof data, dir, "data.mdb") < 0) {
		snprintf(err, errlen, "store: path too long");
		return -1;
	}
	/* LMDB would create an empty environment where there is none. */
	if (access(data, R_OK) < 0) {
		snprintf(err, errlen, "store: %s: %s", data, strerror(errno));
		return -1;
	}
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 64)) ||
	    (rc = mdb_env_open(s->env, dir, MDB_RDONLY, 0600))) {
		snprintf(err, errlen, "store: %s: %s", dir, mdb_strerror(rc));
		snap_close(s);
		return -1;
	}
	for (int tries = 0;; tries++) {
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->txn);
		/* The server grew the map since we opened: adopt its size. */
		if (rc == MDB_MAP_RESIZED && tries < 3 && mdb_env_set_mapsize(s->env, 0) == 0)
			continue;
		break;
	}
	if (rc) {
		s->txn = NULL;
		snprintf(err, errlen, "store: %s", mdb_strerror(rc));
		snap_close(s);
		return -1;
	}
	for (int i = 0; i < V_N; i++) {
		rc = mdb_dbi_open(s->txn, v_names[i], 0, &s->dbi[i]);
		if (rc) {
			snprintf(err, errlen, "store: table %s: %s", v_names[i], mdb_strerror(rc));
			snap_close(s);
			return -1;
		}
	}
	return 0;
}

static uint64_t snap_schema(struct snap *s)
{
	MDB_val k = {7, "version"}, v;
	uint64_t ver = 0;
	if (mdb_get(s->txn, s->dbi[V_META], &k, &v) == 0 && v.mv_size == sizeof ver)
		memcpy(&ver, v.mv_data, sizeof ver);
	return ver;
}

int store_backup_copy(const char *datadir, int fd, uint64_t *schema, char *err, size_t errlen)
{
	struct snap s;
	int rc;
	if (snap_open(&s, datadir, err, errlen) < 0)
		return -1;
	*schema = snap_schema(&s);
	/* mdb_env_copyfd2 takes its own read transaction; ours, begun
	 * before it, only read the schema version, and is ended first so
	 * the copy is the one snapshot that matters. */
	mdb_txn_abort(s.txn);
	s.txn = NULL;
	for (int tries = 0;; tries++) {
		rc = mdb_env_copyfd2(s.env, fd, MDB_CP_COMPACT);
		/* The server grew the map since our open: adopt, start over. */
		if (rc != MDB_MAP_RESIZED || tries == 3 || mdb_env_set_mapsize(s.env, 0) ||
		    lseek(fd, 0, SEEK_SET) < 0 || ftruncate(fd, 0) < 0)
			break;
	}
	if (rc)
		snprintf(err, errlen, "store copy: %s", mdb_strerror(rc));
	snap_close(&s);
	return rc ? -1 : 0;
}

/* ================= verify ================= */

struct v_mbox {
	uint32_t id, user, uidnext, exists, unseen;
	uint64_t size, hms;
	uint32_t seen_msgs, seen_unseen; /* counted from msg */
	uint64_t seen_size, seen_hms;
	char name[64]; /* for the report; cut */
};

struct v_acct {
	uint32_t id, messages;
	uint64_t used, sum_used, sum_messages;
};

struct v_run {
	uint32_t mbox, first, count;
};

struct vstate {
	struct snap s;
	FILE *out;
	unsigned long problems;
	struct v_mbox *mb;
	size_t nmb, capmb;
	struct v_acct *ac;
	size_t nac, capac;
	uint64_t *refs; /* blob ids, once per referencing message or queue entry */
	size_t nrefs, caprefs;
	struct v_run *runs;
	size_t nruns, capruns;
	size_t nmsgs;
	size_t run_at, ref_at; /* merge positions while walking DB_RUN, DB_BLOB */
};

static void problem(struct vstate *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vstate *v, const char *fmt, ...)
{
	va_list ap;
	v->problems++;
	if (v->problems > 10000)
		return; /* counted, not printed: the first ten thousand say enough */
	fputs("verify: ", v->out);
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->out);
}

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 64;                                              \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr));                            \
		}                                                                                  \
	} while (0)

static int cmp_mb(const void *a, const void *b)
{
	uint32_t x = ((const struct v_mbox *)a)->id, y = ((const struct v_mbox *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmp_ac(const void *a, const void *b)
{
	uint32_t x = ((const struct v_acct *)a)->id, y = ((const struct v_acct *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct v_mbox *find_mb(struct vstate *v, uint32_t id)
{
	struct v_mbox key = {.id = id};
	return bsearch(&key, v->mb, v->nmb, sizeof *v->mb, cmp_mb);
}

static struct v_acct *find_ac(struct vstate *v, uint32_t id)
{
	struct v_acct key = {.id = id};
	return bsearch(&key, v->ac, v->nac, sizeof *v->ac, cmp_ac);
}

/* Walk one table: fn(v, key, value) for each record; LMDB errors count as
 * problems (a damaged page). */
static void walk(struct vstate *v, int db, void (*fn)(struct vstate *, MDB_val *, MDB_val *))
{
	MDB_cursor *c;
	MDB_val k, d;
	int rc = mdb_cursor_open(v->s.txn, v->s.dbi[db], &c);
	if (rc) {
		problem(v, "table %s: %s", v_names[db], mdb_strerror(rc));
		return;
	}
	for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT))
		fn(v, &k, &d);
	if (rc != MDB_NOTFOUND)
		problem(v, "table %s: %s", v_names[db], mdb_strerror(rc));
	mdb_cursor_close(c);
}

static void on_acct(struct vstate *v, MDB_val *k, MDB_val *d)
{
	struct acct_rec a;
	if (k->mv_size != 4 || d->mv_size < offsetof(struct acct_rec, addr)) {
		problem(v, "account record of %zu bytes under a %zu-byte key", d->mv_size,
			k->mv_size);
		return;
	}
	memset(&a, 0, sizeof a);
	memcpy(&a, d->mv_data, d->mv_size < sizeof a ? d->mv_size : sizeof a);
	GROW(v->ac, v->nac, v->capac);
	v->ac[v->nac++] =
	    (struct v_acct){.id = get32(k->mv_data), .messages = a.messages, .used = a.used};
}

static void on_mbox(struct vstate *v, MDB_val *k, MDB_val *d)
{
	struct mbox_rec r;
	struct v_mbox *m;
	size_t nl;
	if (k->mv_size < 5 || d->mv_size < sizeof r) {
		problem(v, "mailbox record of %zu bytes under a %zu-byte key", d->mv_size,
			k->mv_size);
		return;
	}
	memcpy(&r, d->mv_data, sizeof r);
	GROW(v->mb, v->nmb, v->capmb);
	m = &v->mb[v->nmb++];
	memset(m, 0, sizeof *m);
	m->id = r.id;
	m->user = get32(k->mv_data);
	m->uidnext = r.uidnext;
	m->exists = r.exists;
	m->unseen = r.unseen;
	m->size = r.size;
	m->hms = r.highestmodseq;
	nl = k->mv_size - 4 < sizeof m->name - 1 ? k->mv_size - 4 : sizeof m->name - 1;
	memcpy(m->name, (const char *)k->mv_data + 4, nl);
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)m->name[i] < 0x20 || m->name[i] == 0x7f)
			m->name[i] = '?';
}

/* The message walk runs in (mailbox, uid) order: the runs of consecutive
 * UIDs come out in the order DB_RUN keeps them. */
static void on_msg(struct vstate *v, MDB_val *k, MDB_val *d)
{
	struct msg_rec r;
	uint32_t mbox, uid;
	struct v_mbox *m;
	struct v_acct *a;
	unsigned char key[16];
	MDB_val mk = {16, key}, mv;
	if (k->mv_size != 8 || d->mv_size < offsetof(struct msg_rec, savedate)) {
		problem(v, "message record of %zu bytes under a %zu-byte key", d->mv_size,
			k->mv_size);
		return;
	}
	memset(&r, 0, sizeof r);
	memcpy(&r, d->mv_data, d->mv_size < sizeof r ? d->mv_size : sizeof r);
	mbox = get32(k->mv_data);
	uid = get32((const unsigned char *)k->mv_data + 4);
	if (!(m = find_mb(v, mbox))) {
		problem(v, "message uid %u of mailbox id %u: no such mailbox", uid, mbox);
	} else {
		if (uid >= m->uidnext)
			problem(v, "mailbox %u \"%s\": uid %u not below uidnext %u", mbox, m->name,
				uid, m->uidnext);
		m->seen_msgs++;
		m->seen_size += r.size;
		if (!(r.flags & FL_SEEN))
			m->seen_unseen++;
		if (r.modseq > m->seen_hms)
			m->seen_hms = r.modseq;
		if ((a = find_ac(v, m->user))) {
			a->sum_used += r.size;
			a->sum_messages++;
		}
	}
	v->nmsgs++;
	GROW(v->refs, v->nrefs, v->caprefs);
	v->refs[v->nrefs++] = r.blob;
	/* The modseq index must hold this exact (mailbox, modseq, uid). */
	put32(key, mbox);
	put64(key + 4, r.modseq);
	put32(key + 12, uid);
	if (mdb_get(v->s.txn, v->s.dbi[V_MSEQ], &mk, &mv) != 0)
		problem(v, "mailbox %u: uid %u (modseq %llu) missing from the modseq index", mbox,
			uid, (unsigned long long)r.modseq);
	if (v->nruns && v->runs[v->nruns - 1].mbox == mbox &&
	    (uint64_t)v->runs[v->nruns - 1].first + v->runs[v->nruns - 1].count == uid) {
		v->runs[v->nruns - 1].count++;
	} else {
		GROW(v->runs, v->nruns, v->capruns);
		v->runs[v->nruns++] = (struct v_run){mbox, uid, 1};
	}
}

static void on_queue(struct vstate *v, MDB_val *k, MDB_val *d)
{
	struct queue_rec q;
	if (d->mv_size < sizeof q) {
		problem(v, "queue record of %zu bytes", d->mv_size);
		return;
	}
	memcpy(&q, d->mv_data, sizeof q);
	GROW(v->refs, v->nrefs, v->caprefs);
	v->refs[v->nrefs++] = q.blob;
}

static void on_run(struct vstate *v, MDB_val *k, MDB_val *d)
{
	uint32_t mbox, first, count;
	if (k->mv_size != 8 || d->mv_size != 4) {
		problem(v, "run index record of %zu bytes under a %zu-byte key", d->mv_size,
			k->mv_size);
		return;
	}
	mbox = get32(k->mv_data);
	first = get32((const unsigned char *)k->mv_data + 4);
	memcpy(&count, d->mv_data, 4);
	/* Expected runs before this one are missing from the index. */
	while (v->run_at < v->nruns &&
	       (v->runs[v->run_at].mbox < mbox ||
		(v->runs[v->run_at].mbox == mbox && v->runs[v->run_at].first < first))) {
		problem(v, "mailbox %u: run index lacks uids %u..%u", v->runs[v->run_at].mbox,
			v->runs[v->run_at].first,
			v->runs[v->run_at].first + v->runs[v->run_at].count - 1);
		v->run_at++;
	}
	if (v->run_at < v->nruns && v->runs[v->run_at].mbox == mbox &&
	    v->runs[v->run_at].first == first) {
		if (v->runs[v->run_at].count != count)
			problem(v,
				"mailbox %u: run index says uids %u..+%u, the messages are %u..+%u",
				mbox, first, count, first, v->runs[v->run_at].count);
		v->run_at++;
	} else {
		problem(v, "mailbox %u: run index names uids %u..+%u that are not messages", mbox,
			first, count);
	}
}

static void on_mseq(struct vstate *v, MDB_val *k, MDB_val *d)
{
	unsigned char key[8];
	MDB_val mk = {8, key}, mv;
	struct msg_rec r;
	uint32_t mbox, uid;
	uint64_t modseq;
	if (k->mv_size != 16) {
		problem(v, "modseq index key of %zu bytes", k->mv_size);
		return;
	}
	mbox = get32(k->mv_data);
	modseq = get64((const unsigned char *)k->mv_data + 4);
	uid = get32((const unsigned char *)k->mv_data + 12);
	put32(key, mbox);
	put32(key + 4, uid);
	if (mdb_get(v->s.txn, v->s.dbi[V_MSG], &mk, &mv) != 0) {
		problem(v, "mailbox %u: modseq index names uid %u, not a message", mbox, uid);
		return;
	}
	memset(&r, 0, sizeof r);
	memcpy(&r, mv.mv_data, mv.mv_size < sizeof r ? mv.mv_size : sizeof r);
	if (r.modseq != modseq)
		problem(v, "mailbox %u: modseq index has uid %u at %llu, the message is at %llu",
			mbox, uid, (unsigned long long)modseq, (unsigned long long)r.modseq);
}

static void on_gone(struct vstate *v, MDB_val *k, MDB_val *d)
{
	unsigned char key[8];
	MDB_val mk = {8, key}, mv;
	uint32_t mbox, uid;
	struct v_mbox *m;
	if (k->mv_size != 16) {
		problem(v, "expunge index key of %zu bytes", k->mv_size);
		return;
	}
	mbox = get32(k->mv_data);
	uid = get32((const unsigned char *)k->mv_data + 12);
	if (get64((const unsigned char *)k->mv_data + 4) == 0 && uid == 0)
		return; /* the {floor, count} header */
	put32(key, mbox);
	put32(key + 4, uid);
	if (mdb_get(v->s.txn, v->s.dbi[V_MSG], &mk, &mv) == 0)
		problem(v, "mailbox %u: uid %u is both a message and expunged", mbox, uid);
	if ((m = find_mb(v, mbox)) && uid >= m->uidnext)
		problem(v, "mailbox %u: expunged uid %u not below uidnext %u", mbox, uid,
			m->uidnext);
}

/* A blob's chunks: 0..n-1, each the record's chunk size but the last,
 * together its size. Reference count: the messages and queue entries that
 * name it (a blob being staged, in DB_PEND, belongs to no one yet). */
static void on_blob(struct vstate *v, MDB_val *k, MDB_val *d)
{
	struct blob_rec b;
	uint64_t id, total = 0, n = 0;
	uint32_t refs = 0;
	MDB_cursor *c;
	MDB_val ck, cd, pk = {8, k->mv_data}, pv;
	unsigned char key[12];
	int rc, staged;
	if (k->mv_size != 8 || d->mv_size < sizeof b) {
		problem(v, "blob record of %zu bytes under a %zu-byte key", d->mv_size, k->mv_size);
		return;
	}
	memcpy(&b, d->mv_data, sizeof b);
	id = get64(k->mv_data);
	staged = mdb_get(v->s.txn, v->s.dbi[V_PEND], &pk, &pv) == 0;
	while (v->ref_at < v->nrefs && v->refs[v->ref_at] < id) {
		problem(v, "blob %llu: referenced but missing",
			(unsigned long long)v->refs[v->ref_at]);
		uint64_t gone = v->refs[v->ref_at];
		while (v->ref_at < v->nrefs && v->refs[v->ref_at] == gone)
			v->ref_at++;
	}
	while (v->ref_at < v->nrefs && v->refs[v->ref_at] == id) {
		refs++;
		v->ref_at++;
	}
	if (!staged && refs != b.refs)
		problem(v, "blob %llu: reference count %u, referenced by %u",
			(unsigned long long)id, b.refs, refs);
	if (mdb_cursor_open(v->s.txn, v->s.dbi[V_CHUNK], &c))
		return;
	put64(key, id);
	put32(key + 8, 0);
	ck.mv_size = sizeof key;
	ck.mv_data = key;
	for (rc = mdb_cursor_get(c, &ck, &cd, MDB_SET_RANGE);
	     rc == 0 && ck.mv_size == 12 && get64(ck.mv_data) == id;
	     rc = mdb_cursor_get(c, &ck, &cd, MDB_NEXT)) {
		uint32_t no = get32((const unsigned char *)ck.mv_data + 8);
		if (no != n) {
			problem(v, "blob %llu: chunk %llu missing", (unsigned long long)id,
				(unsigned long long)n);
			n = no;
		}
		total += cd.mv_size;
		n++;
	}
	mdb_cursor_close(c);
	if (total != b.size && !staged)
		problem(v, "blob %llu: chunks hold %llu bytes, the record says %llu",
			(unsigned long long)id, (unsigned long long)total,
			(unsigned long long)b.size);
}

int store_verify(const char *datadir, FILE *out, unsigned long *problems, char *err, size_t errlen)
{
	struct vstate v;
	memset(&v, 0, sizeof v);
	v.out = out;
	if (snap_open(&v.s, datadir, err, errlen) < 0)
		return -1;
	if (snap_schema(&v.s) > 3)
		fprintf(
		    out,
		    "verify: store schema version %llu is newer than this brev; checking what it "
		    "knows\n",
		    (unsigned long long)snap_schema(&v.s));
	walk(&v, V_ACCT, on_acct);
	qsort(v.ac, v.nac, sizeof *v.ac, cmp_ac);
	walk(&v, V_MBOX, on_mbox);
	qsort(v.mb, v.nmb, sizeof *v.mb, cmp_mb);
	for (size_t i = 0; i < v.nmb; i++) {
		if (i && v.mb[i].id == v.mb[i - 1].id)
			problem(&v, "mailbox id %u used twice", v.mb[i].id);
		if (!find_ac(&v, v.mb[i].user))
			problem(&v, "mailbox %u \"%s\": no such account %u", v.mb[i].id,
				v.mb[i].name, v.mb[i].user);
	}
	walk(&v, V_MSG, on_msg);
	walk(&v, V_QUEUE, on_queue);
	v.run_at = 0;
	walk(&v, V_RUN, on_run);
	for (; v.run_at < v.nruns; v.run_at++)
		problem(&v, "mailbox %u: run index lacks uids %u..%u", v.runs[v.run_at].mbox,
			v.runs[v.run_at].first,
			v.runs[v.run_at].first + v.runs[v.run_at].count - 1);
	walk(&v, V_MSEQ, on_mseq);
	walk(&v, V_GONE, on_gone);
	qsort(v.refs, v.nrefs, sizeof *v.refs, cmp_u64);
	v.ref_at = 0;
	walk(&v, V_BLOB, on_blob);
	while (v.ref_at < v.nrefs) {
		uint64_t gone = v.refs[v.ref_at];
		problem(&v, "blob %llu: referenced but missing", (unsigned long long)gone);
		while (v.ref_at < v.nrefs && v.refs[v.ref_at] == gone)
			v.ref_at++;
	}
	for (size_t i = 0; i < v.nmb; i++) {
		struct v_mbox *m = &v.mb[i];
		if (m->exists != m->seen_msgs || m->unseen != m->seen_unseen ||
		    m->size != m->seen_size)
			problem(&v,
				"mailbox %u \"%s\": counters say %u messages, %u unseen, %llu "
				"bytes; the "
				"records are %u, %u, %llu",
				m->id, m->name, m->exists, m->unseen, (unsigned long long)m->size,
				m->seen_msgs, m->seen_unseen, (unsigned long long)m->seen_size);
		if (m->seen_hms > m->hms)
			problem(
			    &v,
			    "mailbox %u \"%s\": a message has modseq %llu above highestmodseq %llu",
			    m->id, m->name, (unsigned long long)m->seen_hms,
			    (unsigned long long)m->hms);
	}
	for (size_t i = 0; i < v.nac; i++) {
		struct v_acct *a = &v.ac[i];
		if (a->used != a->sum_used || a->messages != a->sum_messages)
			problem(&v,
				"account %u: quota usage says %llu bytes in %u messages, its "
				"mailboxes hold "
				"%llu bytes in %llu",
				a->id, (unsigned long long)a->used, a->messages,
				(unsigned long long)a->sum_used,
				(unsigned long long)a->sum_messages);
	}
	*problems = v.problems;
	snprintf(err, errlen, "%zu accounts, %zu mailboxes, %zu message records", v.nac, v.nmb,
		 v.nmsgs);
	free(v.mb);
	free(v.ac);
	free(v.refs);
	free(v.runs);
	snap_close(&v.s);
	return 0;
}
