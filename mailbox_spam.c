/*
 * mailbox_spam.c — the Bayesian classifier's token database (mailbox.h,
 * docs/store.md "Spam"). Three tables, all keyed by the account first so
 * an account's data is one key range (deleted with the account):
 *   DB_BTOK   user + token hash -> btok_rec: spam and ham message counts
 *             and the day the token was last trained;
 *   DB_BSTAT  user -> bstat_rec: trained message counts and times;
 *   DB_BTRAIN user + message key -> the direction it was trained, so each
 *             message counts at most once per direction and moving it out
 *             of Junk can take the spam training back.
 * Training is one write transaction (synced like every commit): the token
 * counts and the record that the message was trained change together.
 */
#include <stdlib.h>
#include <string.h>

#include "mailbox_int.h"
#include "util.h"

struct btok_rec {
	uint32_t spam, ham;
	uint32_t day; /* unix days of the last training that saw it */
	uint32_t pad;
};

struct bstat_rec {
	uint32_t version, nspam, nham, tokens;
	int64_t last_spam, last_ham;
	uint64_t pruned;
};

static void tok_key(unsigned char *k, uint32_t user, uint64_t h)
{
	put32(k, user);
	put64(k + 4, h);
}

static int stat_get(struct tx *t, uint32_t user, struct bstat_rec *s)
{
	unsigned char k[4];
	MDB_val v;
	put32(k, user);
	memset(s, 0, sizeof *s);
	int r = db_get(t, DB_BSTAT, k, 4, &v);
	if (r < 0)
		return ST_TEMP;
	if (r == 0)
		memcpy(s, v.mv_data, v.mv_size < sizeof *s ? v.mv_size : sizeof *s);
	s->version = 1;
	return ST_OK;
}

static void stat_export(const struct bstat_rec *r, struct bayes_stat *out)
{
	out->nspam = r->nspam;
	out->nham = r->nham;
	out->tokens = r->tokens;
	out->last_spam = r->last_spam;
	out->last_ham = r->last_ham;
	out->pruned = r->pruned;
}

struct bayes_args {
	uint32_t user;
	uint64_t key;
	int dir;
	const uint64_t *h;
	size_t n;
	struct bayes_count *out;
	struct bayes_stat *stat;
	int changed, trained;
};

static int op_counts(struct tx *t, void *arg)
{
	struct bayes_args *a = arg;
	struct bstat_rec s;
	if (stat_get(t, a->user, &s))
		return ST_TEMP;
	if (a->stat)
		stat_export(&s, a->stat);
	for (size_t i = 0; a->out && i < a->n; i++) {
		unsigned char k[12];
		MDB_val v;
		struct btok_rec r = {0};
		tok_key(k, a->user, a->h[i]);
		int g = db_get(t, DB_BTOK, k, 12, &v);
		if (g < 0)
			return ST_TEMP;
		if (g == 0)
			memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		a->out[i].spam = r.spam;
		a->out[i].ham = r.ham;
	}
	return ST_OK;
}

int store_bayes_counts(struct store *st, uint32_t user, const uint64_t *h, size_t n,
		       struct bayes_count *out, struct bayes_stat *stat)
{
	struct bayes_args a = {.user = user, .h = h, .n = n, .out = out, .stat = stat};
	return tx_read(st, op_counts, &a);
}

/* Add delta (+1/-1) to the dir count of every token; a token whose counts
 * both reach 0 is removed. */
static int tok_update(struct tx *t, struct bayes_args *a, int dir, int delta, struct bstat_rec *s)
{
	uint32_t day = (uint32_t)(now_s() / 86400);
	for (size_t i = 0; i < a->n; i++) {
		unsigned char k[12];
		MDB_val v;
		struct btok_rec r = {0};
		tok_key(k, a->user, a->h[i]);
		int g = db_get(t, DB_BTOK, k, 12, &v);
		if (g < 0)
			return ST_TEMP;
		if (g == 0)
			memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		else if (delta < 0)
			continue; /* pruned meanwhile: nothing to take back */
		else
			s->tokens++;
		uint32_t *c = dir == BAYES_SPAM ? &r.spam : &r.ham;
		if (delta > 0) {
			(*c)++;
			r.day = day;
		} else if (*c > 0) {
			(*c)--;
		}
		if (r.spam == 0 && r.ham == 0) {
			if (db_del(t, DB_BTOK, k, 12) < 0)
				return ST_TEMP;
			if (s->tokens)
				s->tokens--;
		} else if (db_put(t, DB_BTOK, k, 12, &r, sizeof r, 0) < 0) {
			return ST_TEMP;
		}
	}
	return ST_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Over BAYES_TOKENS_MAX: drop the tokens trained longest ago until 90% of
 * the bound is left. The days of all tokens are read once to find the
 * cut-off day; ties at that day go in key order. */
static int prune(struct tx *t, uint32_t user, struct bstat_rec *s)
{
	if (s->tokens <= BAYES_TOKENS_MAX)
		return ST_OK;
	MDB_cursor *c;
	unsigned char k[4];
	MDB_val key, v;
	size_t cap = s->tokens + 16, n = 0, target = BAYES_TOKENS_MAX / 10 * 9;
	uint32_t *days = xmalloc(cap * sizeof *days);
	int rc;
	put32(k, user);
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_BTOK], &c))) {
		free(days);
		tx_fail(t, rc);
		return ST_TEMP;
	}
	key.mv_size = 4;
	key.mv_data = k;
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0 && n < cap;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct btok_rec r = {0};
		if (key.mv_size != 12 || get32(key.mv_data) != user)
			break;
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		days[n++] = r.day;
	}
	/* the cut-off: the day of the drop-th oldest token */
	size_t drop = n > target ? n - target : 0;
	uint32_t cut = 0;
	if (drop) {
		qsort(days, n, sizeof *days, cmp_u32);
		cut = days[drop - 1];
	}
	free(days);
	size_t dropped = 0;
	key.mv_size = 4;
	key.mv_data = k;
	/* MDB_NEXT after mdb_cursor_del gives the entry after the deleted one,
	 * as op_journal_prune relies on */
	for (rc = drop ? mdb_cursor_get(c, &key, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
	     rc == 0 && dropped < drop; rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct btok_rec r = {0};
		if (key.mv_size != 12 || get32(key.mv_data) != user)
			break;
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		if (r.day <= cut) {
			if ((rc = mdb_cursor_del(c, 0)))
				break;
			dropped++;
		}
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	s->tokens -= (uint32_t)(dropped < s->tokens ? dropped : s->tokens);
	s->pruned += dropped;
	return ST_OK;
}

static int op_train(struct tx *t, void *arg)
{
	struct bayes_args *a = arg;
	struct bstat_rec s;
	unsigned char k[12];
	MDB_val v;
	uint32_t was = 0, dir = (uint32_t)a->dir;
	int rc;
	a->changed = 0;
	if ((rc = stat_get(t, a->user, &s)))
		return rc;
	tok_key(k, a->user, a->key);
	int g = db_get(t, DB_BTRAIN, k, 12, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size >= 4)
		memcpy(&was, v.mv_data, 4);
	if (was == dir)
		return ST_OK;
	if (was) { /* reverse the other direction first */
		if ((rc = tok_update(t, a, (int)was, -1, &s)))
			return rc;
		uint32_t *c = was == BAYES_SPAM ? &s.nspam : &s.nham;
		if (*c)
			(*c)--;
	}
	if ((rc = tok_update(t, a, a->dir, +1, &s)))
		return rc;
	if (dir == BAYES_SPAM) {
		s.nspam++;
		s.last_spam = now_s();
	} else {
		s.nham++;
		s.last_ham = now_s();
	}
	if ((rc = prune(t, a->user, &s)))
		return rc;
	unsigned char sk[4];
	put32(sk, a->user);
	if (db_put(t, DB_BTRAIN, k, 12, &dir, 4, 0) < 0 ||
	    db_put(t, DB_BSTAT, sk, 4, &s, sizeof s, 0) < 0)
		return ST_TEMP;
	a->changed = 1;
	return ST_OK;
}

int store_bayes_train(struct store *st, uint32_t user, uint64_t key, int dir, const uint64_t *h,
		      size_t n, int *changed)
{
	struct bayes_args a = {.user = user, .key = key, .dir = dir, .h = h, .n = n};
	if (dir != BAYES_SPAM && dir != BAYES_HAM)
		return ST_INVALID;
	int rc = tx_write(st, op_train, &a);
	if (changed)
		*changed = rc == ST_OK && a.changed;
	return rc;
}

static int op_trained(struct tx *t, void *arg)
{
	struct bayes_args *a = arg;
	unsigned char k[12];
	MDB_val v;
	uint32_t was = 0;
	tok_key(k, a->user, a->key);
	int g = db_get(t, DB_BTRAIN, k, 12, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size >= 4)
		memcpy(&was, v.mv_data, 4);
	a->trained = (int)was;
	return ST_OK;
}

int store_bayes_trained(struct store *st, uint32_t user, uint64_t key, int *dir)
{
	struct bayes_args a = {.user = user, .key = key};
	int rc = tx_read(st, op_trained, &a);
	*dir = rc == ST_OK ? a.trained : 0;
	return rc;
}

/* The account's classifier data, when the account is deleted. */
int bayes_forget_user(struct tx *t, uint32_t user)
{
	unsigned char k[4];
	put32(k, user);
	if (db_del_prefix(t, DB_BTOK, k, 4) < 0 || db_del_prefix(t, DB_BSTAT, k, 4) < 0 ||
	    db_del_prefix(t, DB_BTRAIN, k, 4) < 0)
		return ST_TEMP;
	return ST_OK;
}
