/*
 * mailbox_fts.c — the full-text index in the store: which blobs hold which
 * folded words (fts.h). A new blob's words are written in the same commit
 * as the message that brings it (delivery, APPEND; COPY and MOVE share the
 * blob and its words) as one record, marked pending; every FTS_MERGE_AT
 * pending blobs are merged into the word table in one transaction of
 * their own, so a delivery does not rewrite a page per word. Pending
 * blobs are candidates for every string. Words are dropped with the
 * blob's last reference. SEARCH asks for the blobs that may contain a
 * string; the index only narrows: IMAP SEARCH still confirms every
 * candidate on the message's bytes. docs/store.md "Full-text index" has
 * the layout and the reasoning.
 */
#include "mailbox_int.h"
#include "fts.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* More candidates than this and SEARCH might as well read every message. */
#define FTS_CAND_MAX (4u << 20)
/* Pending blobs that make the delivery that reaches them merge them into
 * DB_FTW, and the most one merge takes: about 100 words each, a few MiB
 * of pairs to sort. */
#define FTS_MERGE_AT  256
#define FTS_MERGE_MAX 1024

static const char k_from[] = "fts_from";

/* ---- writing ---- */

/* A message entering the store as a msg_src: hdr, then the spool part. */
static long msg_in_read(void *arg, uint64_t off, void *buf, size_t n)
{
	const struct msg_in *m = arg;
	uint64_t size = msg_in_size(m);
	size_t hl = m->hdr ? m->hdrlen : 0;
	if (off >= size)
		return 0;
	if (n > size - off)
		n = (size_t)(size - off);
	if (off < hl) {
		size_t k = hl - off < n ? hl - (size_t)off : n;
		memcpy(buf, m->hdr + off, k);
		return (long)k;
	}
	return spool_read_at(m->body, m->body_off + off - hl, buf, n);
}

void fts_msg_terms(const struct msg_in *m, struct fts_terms *out)
{
	struct msg_src src = {msg_in_read, (void *)m, msg_in_size(m)};
	fts_extract(&src, out);
}

int fts_put(struct tx *t, uint64_t blob, const struct fts_terms *ft, int *merge)
{
	unsigned char b[8];
	MDB_stat ms;
	if (!ft || !ft->n)
		return ST_OK; /* nothing to find: no entry is needed either */
	put64(b, blob);
	if (db_put(t, DB_FTB, b, 8, ft->buf, ft->len, 0) < 0 || db_put(t, DB_FTQ, b, 8, "", 0, 0) < 0)
		return ST_TEMP;
	if (merge && mdb_stat(t->txn, t->st->dbi[DB_FTQ], &ms) == 0 &&
	    ms.ms_entries >= FTS_MERGE_AT)
		*merge = 1;
	return ST_OK;
}

/* ---- merging pending blobs into the word table ---- */

struct pair {
	const char *w;                /* into the merge's copy of the words */
	uint32_t len;                 /* strlen(w) */
	uint64_t blob;
};

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;
	int c = memcmp(a->w, b->w, (a->len < b->len ? a->len : b->len) + 1);
	return c ? c : a->blob < b->blob ? -1 : a->blob > b->blob;
}

struct merge_args {
	struct sbuf words;            /* the blobs' word lists, copied */
	struct pair *pairs;
	size_t np, cap;
	size_t merged;
};

/* Copy the word lists of up to FTS_MERGE_MAX pending blobs and drop their
 * pending marks. */
static int merge_collect(struct tx *t, struct merge_args *a, uint64_t *ids, size_t *nids)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_FTQ], &c);
	*nids = 0;
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && *nids < FTS_MERGE_MAX;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (k.mv_size == 8)
			ids[(*nids)++] = get64(k.mv_data);
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	size_t kept = 0;
	for (size_t i = 0; i < *nids; i++) {
		unsigned char b[8];
		put64(b, ids[i]);
		if (db_del(t, DB_FTQ, b, 8) < 0)
			return t->mrc;
		if ((rc = db_get(t, DB_FTB, b, 8, &v)) < 0)
			return t->mrc;
		if (rc == 1)
			continue;
		ids[kept++] = ids[i];
		sbuf_add(&a->words, v.mv_data, v.mv_size);
		sbuf_add(&a->words, "", 1); /* an empty word ends each blob's list */
	}
	a->merged = *nids;
	*nids = kept;
	return 0;
}

static int op_merge(struct tx *t, void *arg)
{
	struct merge_args *a = arg;
	uint64_t *ids = xmalloc(FTS_MERGE_MAX * sizeof *ids);
	size_t nids, bi = 0;
	int rc;

	sbuf_free(&a->words);
	a->np = 0;
	a->merged = 0;
	if ((rc = merge_collect(t, a, ids, &nids)))
		goto out;
	/* (word, blob) pairs, sorted: each word's duplicate pages are then
	 * written once for the whole batch. */
	for (size_t off = 0; off < a->words.len && bi < nids;) {
		size_t l = strlen(a->words.p + off);
		if (l == 0) {
			bi++; /* the end of one blob's list */
			off++;
			continue;
		}
		if (a->np == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 4096;
			a->pairs = xrealloc(a->pairs, a->cap * sizeof *a->pairs);
		}
		a->pairs[a->np++] = (struct pair){a->words.p + off, (uint32_t)l, ids[bi]};
		off += l + 1;
	}
	if (a->np)
		qsort(a->pairs, a->np, sizeof *a->pairs, cmp_pair);
	/* One put per word: its blobs of the batch go in together
	 * (MDB_MULTIPLE, DB_FTW's values being fixed-size), which saves
	 * finding the word and its page again for every blob. */
	MDB_cursor *c = NULL;
	unsigned char *vals = NULL;
	size_t vcap = 0;
	if (a->np && (rc = mdb_cursor_open(t->txn, t->st->dbi[DB_FTW], &c)))
		goto out;
	for (size_t i = 0, j; i < a->np && !rc; i = j) {
		size_t nv = 0;
		for (j = i; j < a->np && a->pairs[j].len == a->pairs[i].len &&
			    !memcmp(a->pairs[j].w, a->pairs[i].w, a->pairs[i].len); j++) {
			if (nv == vcap) {
				vcap = vcap ? vcap * 2 : 256;
				vals = xrealloc(vals, vcap * 8);
			}
			if (!nv || a->pairs[j].blob != a->pairs[j - 1].blob)
				put64(vals + 8 * nv++, a->pairs[j].blob);
		}
		MDB_val k = {a->pairs[i].len, (void *)a->pairs[i].w};
		MDB_val v[2] = {{8, vals}, {nv, NULL}};
		rc = mdb_cursor_put(c, &k, v, MDB_MULTIPLE);
		if (rc == MDB_KEYEXIST)
			rc = 0;
	}
	free(vals);
	if (c)
		mdb_cursor_close(c);
out:
	free(ids);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int fts_merge(struct store *st, size_t *merged)
{
	struct merge_args a = {0};
	int rc = tx_write(st, op_merge, &a);
	if (merged)
		*merged = rc == ST_OK ? a.merged : 0;
	sbuf_free(&a.words);
	free(a.pairs);
	return rc;
}

static int op_pending(struct tx *t, void *arg)
{
	MDB_stat ms;
	int rc = mdb_stat(t->txn, t->st->dbi[DB_FTQ], &ms);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	*(size_t *)arg = ms.ms_entries;
	return ST_OK;
}

int store_fts_flush(struct store *st)
{
	size_t n = 0;
	int rc = tx_read(st, op_pending, &n);
	if (rc != ST_OK || n == 0)
		return rc; /* nothing pending: no write transaction */
	do
		rc = fts_merge(st, &n);
	while (rc == ST_OK && n == FTS_MERGE_MAX);
	return rc;
}

int fts_drop(struct tx *t, uint64_t blob)
{
	unsigned char b[8];
	MDB_val v;
	MDB_cursor *c;
	char *words;
	size_t len;
	int r, rc;

	put64(b, blob);
	r = db_del(t, DB_FTQ, b, 8);
	if (r < 0)
		return ST_TEMP;
	if (r == 0) /* still pending: nothing in DB_FTW yet */
		return db_del(t, DB_FTB, b, 8) < 0 ? ST_TEMP : ST_OK;
	r = db_get(t, DB_FTB, b, 8, &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_OK; /* not indexed (older than the index) */
	/* Copy: deleting from DB_FTW may move the pages v points into. */
	len = v.mv_size;
	words = xmalloc(len + 1);
	memcpy(words, v.mv_data, len);
	words[len] = 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_FTW], &c))) {
		free(words);
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (size_t off = 0; off < len && !rc; off += strlen(words + off) + 1) {
		MDB_val k = {strlen(words + off), words + off}, d = {8, b};
		rc = mdb_cursor_get(c, &k, &d, MDB_GET_BOTH);
		if (rc == 0)
			rc = mdb_cursor_del(c, 0);
		else if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	mdb_cursor_close(c);
	free(words);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return db_del(t, DB_FTB, b, 8) < 0 ? ST_TEMP : ST_OK;
}

int fts_open(MDB_txn *txn, MDB_dbi *dbi)
{
	MDB_val k = {sizeof k_from - 1, (void *)k_from}, nb = {9, "next_blob"}, v;
	uint64_t from = 1;
	int rc = mdb_get(txn, dbi[DB_META], &k, &v);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* First open by a brev with the index: every blob from the next one
	 * on is indexed when it is stored; older ones are read by SEARCH. */
	rc = mdb_get(txn, dbi[DB_META], &nb, &v);
	if (rc == 0 && v.mv_size == sizeof from)
		memcpy(&from, v.mv_data, sizeof from);
	else if (rc != MDB_NOTFOUND)
		return rc;
	v.mv_size = sizeof from;
	v.mv_data = &from;
	return mdb_put(txn, dbi[DB_META], &k, &v, 0);
}

/* ---- asking ---- */

struct cand_args {
	struct fts_plan p;
	struct store_fts *out;
	int over;
};

static void cand_add(struct cand_args *a, const unsigned char *d, size_t n)
{
	struct store_fts *o = a->out;
	if (o->n + n / 8 > FTS_CAND_MAX) {
		a->over = 1;
		return;
	}
	if (o->n + n / 8 > o->cap) {
		o->cap = (o->n + n / 8) * 2;
		o->blobs = xrealloc(o->blobs, o->cap * sizeof *o->blobs);
	}
	for (size_t i = 0; i + 8 <= n; i += 8)
		o->blobs[o->n++] = get64(d + i);
}

/* Every blob of the word under the cursor (DUPFIXED: a page at a time).
 * LMDB keeps a word with a single blob without a duplicate tree, and
 * MDB_GET_MULTIPLE then returns nothing: read that one directly. */
static int postings(MDB_cursor *c, struct cand_args *a)
{
	MDB_val k, d;
	size_t count = 0;
	int rc = mdb_cursor_count(c, &count);
	if (rc)
		return rc;
	if (count == 1) {
		rc = mdb_cursor_get(c, &k, &d, MDB_GET_CURRENT);
		if (rc == 0)
			cand_add(a, d.mv_data, d.mv_size);
		return rc;
	}
	rc = mdb_cursor_get(c, &k, &d, MDB_GET_MULTIPLE);
	while (rc == 0 && !a->over) {
		cand_add(a, d.mv_data, d.mv_size);
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_MULTIPLE);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int pending(struct tx *t, struct cand_args *a)
{
	MDB_cursor *q;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_FTQ], &q);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(q, &k, &v, MDB_FIRST); rc == 0 && !a->over;
	     rc = mdb_cursor_get(q, &k, &v, MDB_NEXT))
		if (k.mv_size == 8)
			cand_add(a, k.mv_data, 8);
	mdb_cursor_close(q);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int op_candidates(struct tx *t, void *arg)
{
	struct cand_args *a = arg;
	MDB_cursor *c;
	MDB_val k, d, v;
	int rc;

	a->out->n = 0;
	a->over = 0;
	a->out->from = 1;
	if ((rc = db_get(t, DB_META, k_from, sizeof k_from - 1, &v)) < 0)
		return ST_TEMP;
	if (rc == 0 && v.mv_size == sizeof a->out->from)
		memcpy(&a->out->from, v.mv_data, sizeof a->out->from);
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_FTW], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	/* Pending blobs are candidates for every needle. */
	if ((rc = pending(t, a)))
		goto out;
	/* Messages not indexed whole are candidates for every needle. */
	k.mv_size = 1;
	k.mv_data = FTS_PARTIAL;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET);
	rc = rc == 0 ? postings(c, a) : rc == MDB_NOTFOUND ? 0 : rc;
	if (rc || a->p.too_long)
		goto out;
	k.mv_size = a->p.l;
	k.mv_data = a->p.w;
	if (a->p.mode == FTS_EXACT) {
		rc = mdb_cursor_get(c, &k, &d, MDB_SET);
		rc = rc == 0 ? postings(c, a) : rc;
	} else if (a->p.mode == FTS_PREFIX) {
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		while (rc == 0 && !a->over && k.mv_size >= a->p.l &&
		       memcmp(k.mv_data, a->p.w, a->p.l) == 0) {
			if ((rc = postings(c, a)))
				break;
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
		}
	} else {
		rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
		while (rc == 0 && !a->over) {
			if (fts_plan_match(&a->p, k.mv_data, k.mv_size) && (rc = postings(c, a)))
				break;
			rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_cursor_close(c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

int store_fts_candidates(struct store *st, const char *needle, struct store_fts *out)
{
	struct cand_args *a = xcalloc(1, sizeof *a);
	int rc;

	memset(out, 0, sizeof *out);
	a->out = out;
	if (fts_plan(needle, strlen(needle), &a->p) < 0) {
		free(a);
		return ST_INVALID; /* not UTF-8, or no word in it */
	}
	rc = tx_read(st, op_candidates, a);
	if (rc == ST_OK && a->over)
		rc = ST_INVALID;
	free(a);
	if (rc != ST_OK) {
		store_fts_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->blobs, out->n, sizeof *out->blobs, cmp_u64);
	size_t k = 0;
	for (size_t i = 0; i < out->n; i++)
		if (!k || out->blobs[k - 1] != out->blobs[i])
			out->blobs[k++] = out->blobs[i];
	out->n = k;
	return ST_OK;
}

int store_fts_may_match(const struct store_fts *c, uint64_t blob)
{
	size_t lo = 0, hi = c->n;
	if (blob < c->from)
		return 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->blobs[mid] == blob)
			return 1;
		if (c->blobs[mid] < blob)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void store_fts_free(struct store_fts *c)
{
	free(c->blobs);
	memset(c, 0, sizeof *c);
}
