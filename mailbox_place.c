/*
 * mailbox_place.c — the store's index from a message's bytes to where they
 * are: DB_PLACE, key u32be user + u64be blob + u32be mailbox id + u32be
 * uid, empty value, one entry per message record.
 *
 * Why: brev's EMAILID and JMAP Email id name the blob (objid.h), since a
 * COPY or MOVE keeps the blob; a JMAP Email/get by id, or an Email/set on
 * it, must then find every (mailbox, uid) holding that blob in the
 * account, without reading every message. The user leads the key so one
 * account never sees another's places of a shared blob (a delivery to
 * several local recipients stores the bytes once).
 *
 * place_put/place_del run in the write transaction of the message change
 * they index (msg_add, msg_remove, MOVE's source removal, mbox_purge in
 * mailbox_msg.c), so DB_PLACE never disagrees with DB_MSG. The message
 * record itself is unchanged. Schema 4 builds the table once from DB_MSG
 * and DB_MBOX (place_build, in the opening transaction).
 */
#include "mailbox_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define PLACE_KEY 20

static void place_key(unsigned char *k, uint32_t user, uint64_t blob, uint32_t mbox, uint32_t uid)
{
	put32(k, user);
	put64(k + 4, blob);
	put32(k + 12, mbox);
	put32(k + 16, uid);
}

int place_put(struct tx *t, uint32_t user, uint64_t blob, uint32_t mbox, uint32_t uid)
{
	unsigned char k[PLACE_KEY];
	place_key(k, user, blob, mbox, uid);
	return db_put(t, DB_PLACE, k, sizeof k, "", 0, 0) < 0 ? ST_TEMP : ST_OK;
}

int place_del(struct tx *t, uint32_t user, uint64_t blob, uint32_t mbox, uint32_t uid)
{
	unsigned char k[PLACE_KEY];
	place_key(k, user, blob, mbox, uid);
	/* Not there is no failure: the index only ever loses what it had. */
	return db_del(t, DB_PLACE, k, sizeof k) < 0 ? ST_TEMP : ST_OK;
}

struct owner {
	uint32_t mbox, user;
};

static int cmp_owner(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;
	return x->mbox < y->mbox ? -1 : x->mbox > y->mbox;
}

/* Schema 3 -> 4: one DB_PLACE entry per DB_MSG record. The mailbox's owner
 * comes from DB_MBOX (key u32be user + name, record with the id). */
int place_build(MDB_txn *txn, MDB_dbi *dbi)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct owner *o = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_open(txn, dbi[DB_MBOX], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct mbox_rec r = {0};
		if (k.mv_size < 4)
			continue;
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			o = xrealloc(o, cap * sizeof *o);
		}
		o[n].mbox = r.id;
		o[n++].user = get32(k.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto out;
	if (n)
		qsort(o, n, sizeof *o, cmp_owner);
	if ((rc = mdb_cursor_open(txn, dbi[DB_MSG], &c)))
		goto out;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct msg_rec r = {0};
		struct owner key, *own;
		unsigned char pk[PLACE_KEY];
		MDB_val pkv = {PLACE_KEY, pk}, empty = {0, ""};
		if (k.mv_size != 8)
			continue;
		key.mbox = get32(k.mv_data);
		own = n ? bsearch(&key, o, n, sizeof *o, cmp_owner) : NULL;
		if (!own)
			continue; /* a message of no mailbox: nothing can look for it */
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		place_key(pk, own->user, r.blob, key.mbox, get32((unsigned char *)k.mv_data + 4));
		if ((rc = mdb_put(txn, dbi[DB_PLACE], &pkv, &empty, 0)))
			break;
	}
	mdb_cursor_close(c);
out:
	free(o);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ================= public ================= */

struct places_args {
	uint32_t user;
	uint64_t blob;
	struct msg_place *out;
	size_t max, n;
};

static int op_places(struct tx *t, void *arg)
{
	struct places_args *a = arg;
	MDB_cursor *c;
	unsigned char k[PLACE_KEY];
	MDB_val key = {PLACE_KEY, k}, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_PLACE], &c);
	a->n = 0;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	place_key(k, a->user, a->blob, 0, 0);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		const unsigned char *p = key.mv_data;
		if (key.mv_size != PLACE_KEY || memcmp(p, k, 12))
			break;
		if (a->n < a->max) {
			a->out[a->n].mbox_id = get32(p + 12);
			a->out[a->n].uid = get32(p + 16);
		}
		a->n++;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_msg_places(struct store *st, uint32_t user, uint64_t blob, struct msg_place *out,
		     size_t max, size_t *n)
{
	struct places_args a = {.user = user, .blob = blob, .out = out, .max = max};
	int rc;
	if (max && !out)
		return ST_INVALID;
	rc = tx_read(st, op_places, &a);
	*n = rc == ST_OK ? a.n : 0;
	return rc;
}
