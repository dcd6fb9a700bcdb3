/*
 * mailbox_grey.c — greylisting's table (mailbox.h "greylisting", docs/
 * store.md "Greylisting"). DB_GREY keys are a kind byte ('T' triplet,
 * 'K' known pair) and a 64-bit FNV-1a hash of the case-folded strings
 * joined by NULs: fixed 9-byte keys whatever the address lengths (two
 * 254-byte addresses would not fit LMDB's 511-byte key), and a collision
 * can at worst let one message through undelayed. The key "P" holds the
 * time of the last sweep.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "mailbox_int.h"
#include "util.h"

struct grey_rec {
	int64_t first;  /* first attempt (triplet) or first message (known) */
	int64_t passed; /* triplet: when it passed, 0 = still waiting */
	int64_t last;   /* last attempt / message */
};

#define GREY_SWEEP_EVERY 3600

size_t store_grey_max = GREY_MAX;

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)tolower((unsigned char)*s);
		h *= 0x100000001b3ULL;
	}
	return h * 0x100000001b3ULL; /* the NUL between strings (h ^= 0) */
}

static void grey_key(unsigned char *k, char kind, const char *a, const char *b, const char *c)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv(h, a);
	h = fnv(h, b);
	if (c)
		h = fnv(h, c);
	k[0] = (unsigned char)kind;
	put64(k + 1, h);
}

static int expired(char kind, const struct grey_rec *r, int64_t now)
{
	if (kind == 'K')
		return now - r->last > GREY_KNOWN_LIFE;
	if (kind == 'T')
		return r->passed ? now - r->last > GREY_PASSED_LIFE : now - r->first > GREY_PENDING_LIFE;
	return 0;
}

static size_t entries(struct tx *t)
{
	MDB_stat ms;
	if (mdb_stat(t->txn, t->st->dbi[DB_GREY], &ms))
		return store_grey_max; /* unknown: behave as full */
	return ms.ms_entries;
}

/* Delete every expired entry; -1 on failure. */
static int sweep(struct tx *t, int64_t now, size_t *removed)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;
	size_t n = 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_GREY], &c))) {
		tx_fail(t, rc);
		return -1;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;) {
		struct grey_rec r;
		if (k.mv_size == 9 && v.mv_size == sizeof r) {
			memcpy(&r, v.mv_data, sizeof r);
			if (expired(((const char *)k.mv_data)[0], &r, now)) {
				if ((rc = mdb_cursor_del(c, 0)))
					break;
				n++;
			}
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND && rc != EINVAL) {
		tx_fail(t, rc);
		return -1;
	}
	unsigned char pk[1] = {'P'};
	if (db_put(t, DB_GREY, pk, 1, &now, sizeof now, 0) < 0)
		return -1;
	if (removed)
		*removed += n;
	return 0;
}

/* The opportunistic sweep before a new entry: hourly, or when full. */
static int maybe_sweep(struct tx *t, int64_t now)
{
	unsigned char pk[1] = {'P'};
	MDB_val v;
	int64_t last = 0;
	int g = db_get(t, DB_GREY, pk, 1, &v);
	if (g < 0)
		return -1;
	if (g == 0 && v.mv_size == sizeof last)
		memcpy(&last, v.mv_data, sizeof last);
	if (now - last >= GREY_SWEEP_EVERY || now < last || entries(t) >= store_grey_max)
		return sweep(t, now, NULL);
	return 0;
}

struct grey_args {
	const char *net, *from, *rcpt;
	int64_t now, delay;
	int verdict;
	size_t removed, left;
};

static int op_check(struct tx *t, void *arg)
{
	struct grey_args *a = arg;
	unsigned char k[9];
	MDB_val v;
	struct grey_rec r;
	/* known pair: the recipient wrote to this sender */
	grey_key(k, 'K', a->rcpt, a->from, NULL);
	int g = db_get(t, DB_GREY, k, 9, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size == sizeof r) {
		memcpy(&r, v.mv_data, sizeof r);
		if (!expired('K', &r, a->now)) {
			a->verdict = GREY_KNOWN;
			return ST_OK;
		}
	}
	grey_key(k, 'T', a->net, a->from, a->rcpt);
	g = db_get(t, DB_GREY, k, 9, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size == sizeof r) {
		memcpy(&r, v.mv_data, sizeof r);
		if (!expired('T', &r, a->now)) {
			if (!r.passed && a->now - r.first < a->delay) {
				a->verdict = GREY_WAIT; /* too early: the timer is not restarted */
				return ST_OK;
			}
			if (!r.passed)
				r.passed = a->now;
			r.last = a->now;
			a->verdict = GREY_PASS;
			return db_put(t, DB_GREY, k, 9, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
		}
	}
	/* new (or forgotten) triplet */
	if (maybe_sweep(t, a->now) < 0)
		return ST_TEMP;
	if (g != 0 && entries(t) >= store_grey_max) {
		a->verdict = GREY_PASS; /* full of live entries: never delay */
		return ST_OK;
	}
	r = (struct grey_rec){.first = a->now, .passed = 0, .last = a->now};
	a->verdict = GREY_WAIT;
	return db_put(t, DB_GREY, k, 9, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_grey_check(struct store *st, const char *net, const char *from, const char *rcpt,
		     int64_t now, int64_t delay, int *verdict)
{
	struct grey_args a = {.net = net, .from = from, .rcpt = rcpt, .now = now, .delay = delay};
	int rc = tx_write(st, op_check, &a);
	*verdict = rc == ST_OK ? a.verdict : GREY_PASS;
	return rc;
}

int grey_known_put(struct tx *t, const char *local, const char *remote, int64_t now)
{
	unsigned char k[9];
	MDB_val v;
	struct grey_rec r = {.first = now, .last = now};
	/* stored under the direction it is looked up: mail from remote to local */
	grey_key(k, 'K', local, remote, NULL);
	int g = db_get(t, DB_GREY, k, 9, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size == sizeof r) {
		memcpy(&r, v.mv_data, sizeof r);
		r.last = now;
	} else {
		if (maybe_sweep(t, now) < 0)
			return ST_TEMP;
		if (entries(t) >= store_grey_max)
			return ST_OK; /* full: the sender may be greylisted once */
	}
	return db_put(t, DB_GREY, k, 9, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

static int op_known(struct tx *t, void *arg)
{
	struct grey_args *a = arg;
	return grey_known_put(t, a->rcpt, a->from, a->now);
}

static int op_known_get(struct tx *t, void *arg)
{
	struct grey_args *a = arg;
	unsigned char k[9];
	MDB_val v;
	struct grey_rec r;
	grey_key(k, 'K', a->rcpt, a->from, NULL);
	int g = db_get(t, DB_GREY, k, 9, &v);
	if (g < 0)
		return ST_TEMP;
	a->verdict = 0;
	if (g == 0 && v.mv_size == sizeof r) {
		memcpy(&r, v.mv_data, sizeof r);
		a->verdict = !expired('K', &r, a->now);
	}
	return ST_OK;
}

int store_grey_known(struct store *st, const char *local, const char *remote, int64_t now,
		     int *known)
{
	struct grey_args a = {.rcpt = local, .from = remote, .now = now};
	int rc = tx_read(st, op_known_get, &a);
	*known = rc == ST_OK && a.verdict;
	return rc;
}

int store_grey_known_add(struct store *st, const char *local, const char *remote, int64_t now)
{
	struct grey_args a = {.rcpt = local, .from = remote, .now = now};
	return tx_write(st, op_known, &a);
}

static int op_prune(struct tx *t, void *arg)
{
	struct grey_args *a = arg;
	a->removed = 0;
	if (sweep(t, a->now, &a->removed) < 0)
		return ST_TEMP;
	a->left = entries(t) - 1; /* not the sweep time */
	return ST_OK;
}

int store_grey_prune(struct store *st, int64_t now, size_t *removed, size_t *left)
{
	struct grey_args a = {.now = now};
	int rc = tx_write(st, op_prune, &a);
	if (removed)
		*removed = a.removed;
	if (left)
		*left = a.left;
	return rc;
}
