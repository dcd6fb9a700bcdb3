/*
 * mailbox_list.c — the store's mailing lists (docs/lists.md, docs/store.md
 * "Mailing lists"): the list records (DB_LIST) and their members (DB_LMEM).
 *
 * A list lives in the same name space as accounts and aliases: its
 * address and its two own addresses (LIST-request@, LIST-bounces@) may not
 * be taken by either, and neither may take them later (addr_owner in
 * mailbox_acct.c is the one check all three use). Members are keyed by
 * list + NUL + member, so a list's members are one cursor range in address
 * order: a list of 10,000 members is walked without loading it.
 */
#include "mailbox_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define LMEM_DISABLED 1u

struct list_rec {
	uint32_t version, policy, posting, pad;
	int64_t created;
	/* followed by owner\0 */
};

struct lmem_rec {
	uint32_t version, flags, bounces, pad;
	int64_t since;
};

struct list_args {
	char addr[STORE_ADDR_MAX + 1];
	char member[STORE_ADDR_MAX + 1];
	char owner[STORE_ADDR_MAX + 1];
	int policy, posting;
	struct list_clash *clash;
	struct list_info *info;
	void (*cb)(void *, const struct list_info *);
	void (*mcb)(void *, const struct list_member *);
	struct list_member *m;
	uint32_t limit, count;
	int64_t now, expiry, window;
	const char *tok;
	unsigned char *secret;
	const char *bytes;
	size_t n;
	char **out;
	uint64_t id;
	void (*hcb)(void *, uint64_t, int64_t, const char *, const char *, size_t);
	void *arg;
	int flag; /* sub: added; unsub: the list exists */
};

/* The member key list\0member into k (at most 2 * STORE_ADDR_MAX + 1 <=
 * 509 bytes: within LMDB's 511-byte key limit). */
static size_t lmem_key(unsigned char *k, const char *list, const char *member)
{
	size_t a = strlen(list), b = strlen(member);
	memcpy(k, list, a);
	k[a] = 0;
	memcpy(k + a + 1, member, b);
	return a + 1 + b;
}

static void list_read(const char *addr, const MDB_val *v, struct list_info *out)
{
	struct list_rec r;
	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	memcpy(&r, v->mv_data, v->mv_size < sizeof r ? v->mv_size : sizeof r);
	str_copy(out->addr, addr, sizeof out->addr);
	if (v->mv_size > sizeof r) {
		size_t l = strnlen((const char *)v->mv_data + sizeof r, v->mv_size - sizeof r);
		if (l > STORE_ADDR_MAX)
			l = STORE_ADDR_MAX;
		memcpy(out->owner, (const char *)v->mv_data + sizeof r, l);
		out->owner[l] = 0;
	}
	out->policy = (int)r.policy;
	out->posting = (int)r.posting;
	out->created = r.created;
}

/* Walk the members of list: cb (may be NULL) with each; the count in *n. */
static int lmem_walk(struct tx *t, const char *list, void (*cb)(void *, const struct list_member *),
		     void *arg, uint32_t *n)
{
	unsigned char k0[STORE_ADDR_MAX + 2];
	size_t pl = strlen(list) + 1;
	MDB_cursor *c;
	MDB_val k = {pl, k0}, v;
	int rc;

	memcpy(k0, list, pl); /* with its NUL: the prefix of every member key */
	*n = 0;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_LMEM], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size > pl && !memcmp(k.mv_data, k0, pl);
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		(*n)++;
		if (cb) {
			struct list_member m;
			struct lmem_rec r;
			size_t ml = k.mv_size - pl;
			memset(&r, 0, sizeof r);
			memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
			if (ml > STORE_ADDR_MAX)
				ml = STORE_ADDR_MAX;
			memcpy(m.addr, (const char *)k.mv_data + pl, ml);
			m.addr[ml] = 0;
			m.since = r.since;
			m.bounces = r.bounces;
			m.disabled = !!(r.flags & LMEM_DISABLED);
			cb(arg, &m);
		}
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

static const char *owner_name(int o)
{
	return o == ADDR_ACCOUNT ? "an account" : o == ADDR_ALIAS ? "an alias" : "a mailing list";
}

static int op_list_add(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	const char *at = strrchr(a->addr, '@');
	static const char *const own[] = {"", "-request", "-bounces"};
	struct list_rec r;
	size_t ol = strlen(a->owner) + 1;
	unsigned char *p;

	for (size_t i = 0; i < ARRAY_LEN(own); i++) {
		char x[STORE_ADDR_MAX + 1];
		int o;
		snprintf(x, sizeof x, "%.*s%s%s", (int)(at - a->addr), a->addr, own[i], at);
		if ((o = addr_owner(t, x)) < 0)
			return ST_TEMP;
		if (o != ADDR_FREE) {
			a->clash->what = owner_name(o);
			str_copy(a->clash->addr, x, sizeof a->clash->addr);
			return ST_EXISTS;
		}
	}
	memset(&r, 0, sizeof r);
	r.version = 1;
	r.policy = (uint32_t)a->policy;
	r.posting = (uint32_t)a->posting;
	r.created = now_s();
	p = db_reserve(t, DB_LIST, a->addr, strlen(a->addr), sizeof r + ol, 0);
	if (!p)
		return ST_TEMP;
	memcpy(p, &r, sizeof r);
	memcpy(p + sizeof r, a->owner, ol);
	return ST_OK;
}

int store_list_add(struct store *st, const char *addr, const char *owner, int policy,
		   int posting, struct list_clash *clash)
{
	struct list_args a = {.policy = policy, .posting = posting, .clash = clash};
	const char *at;
	memset(clash, 0, sizeof *clash);
	if (addr_norm(addr, a.addr, 0) < 0 || addr_norm(owner, a.owner, 0) < 0)
		return ST_INVALID;
	if (policy < LIST_OPEN || policy > LIST_CLOSED || posting < LIST_POST_MEMBERS ||
	    posting > LIST_POST_ANNOUNCE)
		return ST_INVALID;
	at = strrchr(a.addr, '@');
	/* '+' is the list's own separator (LIST+subscribe@, LIST-bounces+m=d@),
	 * and LIST-bounces@ must fit in an address. */
	if (memchr(a.addr, '+', (size_t)(at - a.addr)) || strlen(a.addr) + 8 > STORE_ADDR_MAX)
		return ST_INVALID;
	return tx_write(st, op_list_add, &a);
}

static int op_list_del(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	int r = db_del(t, DB_LIST, a->addr, strlen(a->addr));
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	/* the members' and held posts' prefix is the address with its NUL */
	return db_del_prefix(t, DB_LMEM, (const unsigned char *)a->addr, strlen(a->addr) + 1) < 0 ||
			       db_del_prefix(t, DB_LHELD, (const unsigned char *)a->addr,
					     strlen(a->addr) + 1) < 0 ?
		       ST_TEMP : ST_OK;
}

int store_list_del(struct store *st, const char *addr)
{
	struct list_args a = {0};
	if (addr_norm(addr, a.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_list_del, &a);
}

static int op_list_get(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	MDB_val v;
	int r = db_get(t, DB_LIST, a->addr, strlen(a->addr), &v);
	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	list_read(a->addr, &v, a->info);
	return lmem_walk(t, a->addr, NULL, NULL, &a->info->members);
}

int store_list_get(struct store *st, const char *addr, struct list_info *out)
{
	struct list_args a = {.info = out};
	if (addr_norm(addr, a.addr, 0) < 0)
		return ST_INVALID;
	return tx_read(st, op_list_get, &a);
}

static int op_list_each(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_LIST], &c), src = ST_OK;
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !src;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct list_info li;
		char addr[STORE_ADDR_MAX + 1];
		size_t l = k.mv_size > STORE_ADDR_MAX ? STORE_ADDR_MAX : k.mv_size;
		memcpy(addr, k.mv_data, l);
		addr[l] = 0;
		list_read(addr, &v, &li);
		if (!(src = lmem_walk(t, addr, NULL, NULL, &li.members)))
			a->cb(a->arg, &li);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return src;
}

int store_list_each(struct store *st, void (*cb)(void *arg, const struct list_info *l), void *arg)
{
	struct list_args a = {.cb = cb, .arg = arg};
	return tx_read(st, op_list_each, &a);
}

static int op_list_sub(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[2 * STORE_ADDR_MAX + 2];
	size_t kl = lmem_key(k, a->addr, a->member);
	struct lmem_rec r;
	MDB_val v;
	int g = db_get(t, DB_LIST, a->addr, strlen(a->addr), &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	if ((g = db_get(t, DB_LMEM, k, kl, &v)) < 0)
		return ST_TEMP;
	a->flag = g == 1;
	memset(&r, 0, sizeof r);
	if (g == 0) {
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
		if (!(r.flags & LMEM_DISABLED) && !r.bounces)
			return ST_OK; /* already a member, nothing to change */
		r.flags &= ~LMEM_DISABLED;
		r.bounces = 0;
	} else {
		r.version = 1;
		r.since = now_s();
	}
	return db_put(t, DB_LMEM, k, kl, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_list_sub(struct store *st, const char *list, const char *member, int *added)
{
	struct list_args a = {0};
	int rc;
	*added = 0;
	if (addr_norm(list, a.addr, 0) < 0 || addr_norm(member, a.member, 0) < 0)
		return ST_INVALID;
	rc = tx_write(st, op_list_sub, &a);
	*added = rc == ST_OK && a.flag;
	return rc;
}

static int op_list_unsub(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[2 * STORE_ADDR_MAX + 2];
	size_t kl = lmem_key(k, a->addr, a->member);
	MDB_val v;
	int g = db_get(t, DB_LIST, a->addr, strlen(a->addr), &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	a->flag = 1;
	g = db_del(t, DB_LMEM, k, kl);
	return g < 0 ? ST_TEMP : g ? ST_NOTFOUND : ST_OK;
}

int store_list_unsub(struct store *st, const char *list, const char *member, int *was_list)
{
	struct list_args a = {0};
	int rc;
	*was_list = 0;
	if (addr_norm(list, a.addr, 0) < 0 || addr_norm(member, a.member, 0) < 0)
		return ST_INVALID;
	rc = tx_write(st, op_list_unsub, &a);
	*was_list = a.flag;
	return rc;
}

static int op_list_members(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	uint32_t n;
	MDB_val v;
	int g = db_get(t, DB_LIST, a->addr, strlen(a->addr), &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	return lmem_walk(t, a->addr, a->mcb, a->arg, &n);
}

int store_list_members(struct store *st, const char *list,
		       void (*cb)(void *arg, const struct list_member *m), void *arg)
{
	struct list_args a = {.mcb = cb, .arg = arg};
	if (addr_norm(list, a.addr, 0) < 0)
		return ST_INVALID;
	return tx_read(st, op_list_members, &a);
}

static int op_list_member(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[2 * STORE_ADDR_MAX + 2];
	size_t kl = lmem_key(k, a->addr, a->member);
	struct lmem_rec r;
	MDB_val v;
	int g = db_get(t, DB_LMEM, k, kl, &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	memset(&r, 0, sizeof r);
	memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
	str_copy(a->m->addr, a->member, sizeof a->m->addr);
	a->m->since = r.since;
	a->m->bounces = r.bounces;
	a->m->disabled = !!(r.flags & LMEM_DISABLED);
	return ST_OK;
}

int store_list_member(struct store *st, const char *list, const char *member,
		      struct list_member *out)
{
	struct list_args a = {.m = out};
	if (addr_norm(list, a.addr, 0) < 0 || addr_norm(member, a.member, 0) < 0)
		return ST_NOTFOUND;
	return tx_read(st, op_list_member, &a);
}

static int op_list_bounce(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[2 * STORE_ADDR_MAX + 2];
	size_t kl = lmem_key(k, a->addr, a->member);
	struct lmem_rec r;
	MDB_val v;
	int g = db_get(t, DB_LMEM, k, kl, &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	memset(&r, 0, sizeof r);
	memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
	if (r.bounces < UINT32_MAX)
		r.bounces++;
	a->count = r.bounces;
	a->flag = 0;
	if (!(r.flags & LMEM_DISABLED) && r.bounces >= a->limit) {
		r.flags |= LMEM_DISABLED;
		a->flag = 1;
	}
	return db_put(t, DB_LMEM, k, kl, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_list_bounce(struct store *st, const char *list, const char *member, uint32_t limit,
		      uint32_t *count, int *disabled_now)
{
	struct list_args a = {.limit = limit ? limit : 1};
	int rc;
	*count = 0;
	*disabled_now = 0;
	if (addr_norm(list, a.addr, 0) < 0 || addr_norm(member, a.member, 0) < 0)
		return ST_NOTFOUND;
	rc = tx_write(st, op_list_bounce, &a);
	if (rc == ST_OK) {
		*count = a.count;
		*disabled_now = a.flag;
	}
	return rc;
}

/* ---- confirmation tokens and automatic replies ---- */

struct lrate_rec {
	int64_t start;    /* unix seconds the window began */
	uint32_t count, pad;
};

static int op_list_secret(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	MDB_val v;
	int g = db_get(t, DB_META, "list_secret", 11, &v);
	if (g < 0)
		return ST_TEMP;
	if (g == 0 && v.mv_size == 32) {
		memcpy(a->secret, v.mv_data, 32);
		return ST_OK;
	}
	random_bytes(a->secret, 32);
	return db_put(t, DB_META, "list_secret", 11, a->secret, 32, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_list_secret(struct store *st, unsigned char out[32])
{
	struct list_args a = {.secret = out};
	return tx_write(st, op_list_secret, &a);
}

static int op_list_token_use(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[64];
	size_t kl = strlen(a->tok);
	MDB_cursor *c;
	MDB_val ck = {1, "U"}, cv;
	int g, rc, n = 0;
	if (kl + 1 > sizeof k)
		return ST_INVALID;
	k[0] = 'U';
	for (size_t i = 0; i < kl; i++)
		k[1 + i] = (unsigned char)(a->tok[i] >= 'A' && a->tok[i] <= 'Z' ? a->tok[i] + 32 :
										  a->tok[i]);
	if ((g = db_get(t, DB_LTOK, k, kl + 1, &cv)) <= 0)
		return g < 0 ? ST_TEMP : ST_EXISTS;
	if (db_put(t, DB_LTOK, k, kl + 1, &a->expiry, sizeof a->expiry, 0) < 0)
		return ST_TEMP;
	/* forget a few expired ones: the table stays as small as the tokens
	 * used in the last days */
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_LTOK], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &ck, &cv, MDB_SET_RANGE);
	     rc == 0 && n < 16 && ck.mv_size && *(const char *)ck.mv_data == 'U';
	     rc = mdb_cursor_get(c, &ck, &cv, MDB_NEXT), n++) {
		int64_t e = 0;
		memcpy(&e, cv.mv_data, cv.mv_size < sizeof e ? cv.mv_size : sizeof e);
		if (e < a->now && (rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_list_token_use(struct store *st, const char *tok, int64_t expiry, int64_t now)
{
	struct list_args a = {.tok = tok, .expiry = expiry, .now = now};
	return tx_write(st, op_list_token_use, &a);
}

static int op_list_reply_ok(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[2 * STORE_ADDR_MAX + 3];
	size_t kl = 1 + lmem_key(k + 1, a->addr, a->member);
	struct lrate_rec r = {0};
	MDB_val v;
	int g;
	k[0] = 'R';
	if ((g = db_get(t, DB_LTOK, k, kl, &v)) < 0)
		return ST_TEMP;
	if (g == 0)
		memcpy(&r, v.mv_data, v.mv_size < sizeof r ? v.mv_size : sizeof r);
	if (g || a->now - r.start >= a->window || a->now < r.start) {
		r.start = a->now;
		r.count = 0;
	}
	if (r.count >= a->limit) {
		a->flag = 0;
		return ST_OK;
	}
	r.count++;
	a->flag = 1;
	return db_put(t, DB_LTOK, k, kl, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_list_reply_ok(struct store *st, const char *list, const char *addr, int64_t now,
			uint32_t max, int64_t window, int *ok)
{
	struct list_args a = {.now = now, .limit = max, .window = window};
	int rc;
	*ok = 0;
	if (addr_norm(list, a.addr, 0) < 0 || addr_norm(addr, a.member, 0) < 0)
		return ST_INVALID;
	rc = tx_write(st, op_list_reply_ok, &a);
	*ok = rc == ST_OK && a.flag;
	return rc;
}

/* ---- held posts ---- */

static size_t held_key(unsigned char *k, const char *list, uint64_t id)
{
	size_t l = strlen(list) + 1;
	memcpy(k, list, l);
	put64(k + l, id);
	return l + 8;
}

static int op_list_hold(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[STORE_ADDR_MAX + 10];
	size_t sl = strlen(a->member) + 1, kl;
	int64_t now = now_s();
	MDB_val v;
	char *p;
	int g = db_get(t, DB_LIST, a->addr, strlen(a->addr), &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	if (meta_next(t, "next_held", &a->id) < 0)
		return ST_TEMP;
	kl = held_key(k, a->addr, a->id);
	if (!(p = db_reserve(t, DB_LHELD, k, kl, sizeof now + sl + a->n, 0)))
		return ST_TEMP;
	memcpy(p, &now, sizeof now);
	memcpy(p + sizeof now, a->member, sl);
	memcpy(p + sizeof now + sl, a->bytes, a->n);
	return ST_OK;
}

int store_list_hold(struct store *st, const char *list, const char *sender, const char *bytes,
		    size_t n, uint64_t *id)
{
	struct list_args a = {.bytes = bytes, .n = n};
	int rc;
	*id = 0;
	if (addr_norm(list, a.addr, 0) < 0)
		return ST_INVALID;
	str_copy(a.member, sender ? sender : "", sizeof a.member);
	rc = tx_write(st, op_list_hold, &a);
	if (rc == ST_OK)
		*id = a.id;
	return rc;
}

/* A held record's parts; -1 when malformed. */
static int held_split(const MDB_val *v, int64_t *created, const char **sender,
		      const char **bytes, size_t *n)
{
	const char *p = v->mv_data;
	size_t sl;
	if (v->mv_size < sizeof *created + 1)
		return -1;
	memcpy(created, p, sizeof *created);
	sl = strnlen(p + sizeof *created, v->mv_size - sizeof *created);
	if (sl == v->mv_size - sizeof *created || sl > STORE_ADDR_MAX)
		return -1;
	*sender = p + sizeof *created;
	*bytes = *sender + sl + 1;
	*n = v->mv_size - sizeof *created - sl - 1;
	return 0;
}

static int op_list_held_get(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[STORE_ADDR_MAX + 10];
	size_t kl = held_key(k, a->addr, a->id), n;
	const char *sender, *bytes;
	int64_t created;
	MDB_val v;
	int g = db_get(t, DB_LHELD, k, kl, &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	if (held_split(&v, &created, &sender, &bytes, &n) < 0)
		return ST_NOTFOUND;
	str_copy(a->member, sender, sizeof a->member);
	*a->out = xmalloc(n + 1);
	memcpy(*a->out, bytes, n);
	(*a->out)[n] = 0;
	a->n = n;
	return ST_OK;
}

int store_list_held_get(struct store *st, const char *list, uint64_t id, char **bytes,
			size_t *n, char *sender, size_t cap)
{
	struct list_args a = {.id = id, .out = bytes};
	int rc;
	*bytes = NULL;
	*n = 0;
	if (addr_norm(list, a.addr, 0) < 0)
		return ST_NOTFOUND;
	rc = tx_read(st, op_list_held_get, &a);
	if (rc == ST_OK) {
		*n = a.n;
		str_copy(sender, a.member, cap);
	} else {
		free(*bytes); /* a run that was repeated */
		*bytes = NULL;
	}
	return rc;
}

static int op_list_held_del(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[STORE_ADDR_MAX + 10];
	size_t kl = held_key(k, a->addr, a->id);
	int g = db_del(t, DB_LHELD, k, kl);
	return g < 0 ? ST_TEMP : g ? ST_NOTFOUND : ST_OK;
}

int store_list_held_del(struct store *st, const char *list, uint64_t id)
{
	struct list_args a = {.id = id};
	if (addr_norm(list, a.addr, 0) < 0)
		return ST_NOTFOUND;
	return tx_write(st, op_list_held_del, &a);
}

static int op_list_held_each(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k0[STORE_ADDR_MAX + 2];
	size_t pl = strlen(a->addr) + 1;
	MDB_cursor *c;
	MDB_val k = {pl, k0}, v;
	int rc;
	memcpy(k0, a->addr, pl);
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_LHELD], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == pl + 8 && !memcmp(k.mv_data, k0, pl);
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const char *sender, *bytes;
		int64_t created;
		size_t n;
		if (held_split(&v, &created, &sender, &bytes, &n) == 0)
			a->hcb(a->arg, get64((const unsigned char *)k.mv_data + pl), created, sender,
			       bytes, n);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

int store_list_held_each(struct store *st, const char *list,
			 void (*cb)(void *arg, uint64_t id, int64_t created, const char *sender,
				    const char *bytes, size_t n),
			 void *arg)
{
	struct list_args a = {.hcb = cb, .arg = arg};
	if (addr_norm(list, a.addr, 0) < 0)
		return ST_NOTFOUND;
	return tx_read(st, op_list_held_each, &a);
}
