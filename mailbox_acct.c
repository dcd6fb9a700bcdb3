/*
 * mailbox_acct.c — the store's accounts: the account records and their
 * credentials (opaque blobs, read by sasl.c), quotas, aliases, and
 * store_resolve(), which turns a recipient address into local accounts and
 * external addresses. Transactions, mailboxes and messages are the other
 * mailbox*.c files' (mailbox_int.h); creating an account's default
 * mailboxes and purging them on removal goes through mailbox_mbox.c and
 * mailbox_msg.c.
 */
#include "mailbox_int.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define ALIAS_DEPTH     8           /* alias -> alias -> ... */
#define RESOLVE_SEEN    64          /* addresses expanded per resolve */

/* ---- validation ---- */

/* local@domain (or '@domain' when catchall), lower-cased into out. */
int addr_norm(const char *in, char *out, int catchall)
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

/* ---- accounts ---- */

int acct_get(struct tx *t, uint32_t id, struct acct_rec *a)
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

int acct_put(struct tx *t, const struct acct_rec *a)
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

int quota_fits(struct store *st, const struct acct_rec *a, uint64_t size, uint32_t nmsg)
{
	uint64_t lim = quota_limit(st, a);
	uint32_t mlim = atomic_load(&st->msg_quota);
	if (lim && size > lim)
		return ST_TOOBIG;
	if (lim && (a->used > lim || size > lim - a->used))
		return ST_QUOTA;
	/* The count is checked like the bytes, in the transaction that adds
	 * the messages; an account already past a lowered limit takes none. */
	if (mlim && nmsg && (a->messages >= mlim || nmsg > mlim - a->messages))
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
	out->msg_quota = atomic_load(&st->msg_quota);
	out->spam = (int)a->spam;
	out->cred = *c;
}

/* A list's own suffixes: mail for LIST-request@ and LIST-bounces(+x)@ is
 * the list's, so neither may become an account or an alias. */
static const char *const list_suffix[] = {"-request", "-bounces"};

int addr_owner(struct tx *t, const char *addr)
{
	const char *at = strrchr(addr, '@');
	uint32_t id;
	MDB_val v;
	int r;

	if ((r = addr_id(t, addr, &id)) != ST_NOTFOUND)
		return r == ST_OK ? ADDR_ACCOUNT : -1;
	if ((r = db_get(t, DB_ALIAS, addr, strlen(addr), &v)) <= 0)
		return r < 0 ? -1 : ADDR_ALIAS;
	if ((r = db_get(t, DB_LIST, addr, strlen(addr), &v)) <= 0)
		return r < 0 ? -1 : ADDR_LIST;
	for (size_t i = 0; at && i < ARRAY_LEN(list_suffix); i++) {
		size_t sl = strlen(list_suffix[i]), ll = (size_t)(at - addr);
		char base[STORE_ADDR_MAX + 1];
		if (ll <= sl || memcmp(at - sl, list_suffix[i], sl))
			continue;
		memcpy(base, addr, ll - sl);
		str_copy(base + ll - sl, at, sizeof base - (ll - sl));
		if ((r = db_get(t, DB_LIST, base, strlen(base), &v)) <= 0)
			return r < 0 ? -1 : ADDR_LIST;
	}
	return ADDR_FREE;
}

/* ================= accounts ================= */

/* ---- browser sessions (DB_SESS) ---- */

struct sess_rec {
	uint32_t version, user;
	int64_t created, used;
	char csrf[STORE_SESS_CSRF + 1];
};

#define SESS_VERSION 1

/* Delete the sessions of user (every account when user is 0) and, when
 * stale > 0, every session last used before stale. A linear walk: the
 * table holds only sessions that are live (put sweeps it), a few per
 * person who uses the web UI. */
static int sess_sweep(struct tx *t, uint32_t user, int64_t stale)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_SESS], &c))) {
		tx_fail(t, rc);
		return -1;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct sess_rec r;
		int drop = v.mv_size != sizeof r; /* not ours: cannot be valid */
		if (!drop) {
			memcpy(&r, v.mv_data, sizeof r);
			drop = (user && r.user == user) || (stale > 0 && r.used < stale);
		}
		if (drop && (rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

struct sess_args {
	const unsigned char *key;
	const struct store_sess *in;
	struct store_sess *out;
	int64_t stale, now;
};

static int op_sess_put(struct tx *t, void *arg)
{
	struct sess_args *a = arg;
	struct acct_rec acct;
	struct sess_rec r = {.version = SESS_VERSION};
	int rc = acct_get(t, a->in->user, &acct);
	if (rc)
		return rc;
	if (sess_sweep(t, 0, a->stale) < 0)
		return ST_TEMP;
	r.user = a->in->user;
	r.created = a->in->created;
	r.used = a->in->used;
	str_copy(r.csrf, a->in->csrf, sizeof r.csrf);
	return db_put(t, DB_SESS, a->key, STORE_SESS_KEY, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_sess_put(struct store *st, const unsigned char *key, const struct store_sess *s,
		   int64_t stale)
{
	struct sess_args a = {.key = key, .in = s, .stale = stale};
	return tx_write(st, op_sess_put, &a);
}

static int sess_read(struct tx *t, const unsigned char *key, struct sess_rec *r)
{
	MDB_val v;
	int g = db_get(t, DB_SESS, key, STORE_SESS_KEY, &v);
	if (g < 0)
		return ST_TEMP;
	if (g > 0 || v.mv_size != sizeof *r)
		return ST_NOTFOUND;
	memcpy(r, v.mv_data, sizeof *r);
	return r->version == SESS_VERSION ? ST_OK : ST_NOTFOUND;
}

static int op_sess_get(struct tx *t, void *arg)
{
	struct sess_args *a = arg;
	struct sess_rec r;
	int rc = sess_read(t, a->key, &r);
	if (rc)
		return rc;
	a->out->user = r.user;
	a->out->created = r.created;
	a->out->used = r.used;
	r.csrf[STORE_SESS_CSRF] = 0;
	str_copy(a->out->csrf, r.csrf, sizeof a->out->csrf);
	return ST_OK;
}

int store_sess_get(struct store *st, const unsigned char *key, struct store_sess *out)
{
	struct sess_args a = {.key = key, .out = out};
	return tx_read(st, op_sess_get, &a);
}

static int op_sess_touch(struct tx *t, void *arg)
{
	struct sess_args *a = arg;
	struct sess_rec r;
	int rc = sess_read(t, a->key, &r);
	if (rc)
		return rc;
	r.used = a->now;
	return db_put(t, DB_SESS, a->key, STORE_SESS_KEY, &r, sizeof r, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_sess_touch(struct store *st, const unsigned char *key, int64_t now)
{
	struct sess_args a = {.key = key, .now = now};
	return tx_write(st, op_sess_touch, &a);
}

static int op_sess_del(struct tx *t, void *arg)
{
	struct sess_args *a = arg;
	int d = db_del(t, DB_SESS, a->key, STORE_SESS_KEY);
	return d < 0 ? ST_TEMP : d ? ST_NOTFOUND : ST_OK;
}

int store_sess_del(struct store *st, const unsigned char *key)
{
	struct sess_args a = {.key = key};
	return tx_write(st, op_sess_del, &a);
}

struct user_args {
	char addr[STORE_ADDR_MAX + 1];
	const struct cred *cred;
	uint64_t quota;
	int spam;
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

/* RFC 5321 4.5.1: postmaster@domain must work. The first account of a
 * domain also gets it, as an ordinary alias (`brev alias` changes it),
 * unless the domain already has a postmaster account or alias. */
static int postmaster_default(struct tx *t, const char *addr)
{
	char pm[STORE_ADDR_MAX + 1];
	const char *at = strrchr(addr, '@');
	uint32_t id;
	MDB_val v;
	int r;
	if (!at || 10 + strlen(at) >= sizeof pm)
		return ST_OK; /* too long to have a postmaster alias: resolve falls back */
	memcpy(pm, "postmaster", 10);
	str_copy(pm + 10, at, sizeof pm - 10);
	if (strcmp(pm, addr) == 0 || addr_id(t, pm, &id) != ST_NOTFOUND)
		return ST_OK;
	if ((r = db_get(t, DB_ALIAS, pm, strlen(pm), &v)) <= 0)
		return r < 0 ? ST_TEMP : ST_OK;
	return db_put(t, DB_ALIAS, pm, strlen(pm), addr, strlen(addr) + 1, 0) < 0 ? ST_TEMP : ST_OK;
}

static int op_user_add(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	uint64_t id;
	uint32_t id32;
	int r;

	if ((r = addr_owner(t, u->addr)) != ADDR_FREE)
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
	return postmaster_default(t, u->addr);
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
	/* a new password ends every browser session of the account, in the
	 * same commit (docs/http.md) */
	if (cred_put(t, id, u->cred) < 0 || sess_sweep(t, id, 0) < 0)
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

static int op_user_set_spam(struct tx *t, void *arg)
{
	struct user_args *u = arg;
	struct acct_rec a;
	int rc = acct_by_addr(t, u->addr, &a);
	if (rc)
		return rc;
	a.spam = (uint32_t)u->spam;
	if (acct_put(t, &a) < 0)
		return ST_TEMP;
	tx_touch(t, a.id);
	return ST_OK;
}

int store_user_set_spam(struct store *st, const char *addr, int strength)
{
	struct user_args u = {.spam = strength};
	if (strength < 0 || strength > 4 /* SPAM_STRICT */ || addr_norm(addr, u.addr, 0) < 0)
		return ST_INVALID;
	return tx_write(st, op_user_set_spam, &u);
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
		if (!rc && (mbox_del_key(t, &mb) < 0 || recent_forget(t, mb.r.id) < 0))
			rc = ST_TEMP;
	}
	free(names);
	if (rc)
		return rc;
	put32(k, a.id);
	/* In the same commit: DB_META's kept subscriptions (sub/<id>/...) and
	 * \Recent marks (recent/<mailbox id>, just above) go with the account. */
	if (sub_forget_all(t, a.id) < 0 || bayes_forget_user(t, a.id) != ST_OK ||
	    sess_sweep(t, a.id, 0) < 0 ||
	    sieve_forget_user(t, a.id) != ST_OK ||
	    db_del_prefix(t, DB_TOMB, k, 4) < 0 ||
	    db_del(t, DB_ACCT, k, 4) < 0 ||
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
	int mode;		    /* ALIAS_ADD, ALIAS_SET; -1: store_alias_add */
	struct alias_change *chg;   /* the checked update's report, or NULL */
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

/* ---- loops, checked when an alias is changed through store_alias_update ---- */

#define CYCLE_VISITS 1024 /* aliases looked at per check: bounds the work */

struct cycle_walk {
	struct tx *t;
	const char *addr;		      /* the alias being changed */
	char (*seen)[STORE_ADDR_MAX + 1];     /* aliases already explored */
	size_t nseen;
	char path[ALIAS_DEPTH * 2 + 2][STORE_ADDR_MAX + 1]; /* the addresses from addr down */
	size_t depth;
};

/* The alias that mail for x expands through, in store_resolve's order:
 * the exact address (an account ends it), x without its +tag, then the
 * domain's catch-all. 1 with the alias's name in key, 0 if none. The alias
 * being changed counts as existing even before its first commit. */
static int alias_key_of(struct cycle_walk *w, const char *x, char *key)
{
	const char *at = strrchr(x, '@'), *plus;
	char cand[3][STORE_ADDR_MAX + 1];
	size_t nc = 0;
	uint32_t id;
	MDB_val v;

	if (!at)
		return 0;
	str_copy(cand[nc++], x, sizeof cand[0]);
	plus = memchr(x, '+', (size_t)(at - x));
	if (plus && plus > x) {
		size_t l = (size_t)(plus - x);
		memcpy(cand[nc], x, l);
		str_copy(cand[nc++] + l, at, sizeof cand[0] - l);
	}
	str_copy(cand[nc++], at, sizeof cand[0]);
	for (size_t i = 0; i < nc; i++) {
		if (cand[i][0] != '@' && addr_id(w->t, cand[i], &id) == ST_OK)
			return 0;
		if (!strcmp(cand[i], w->addr) || db_get(w->t, DB_ALIAS, cand[i], strlen(cand[i]), &v) == 0) {
			str_copy(key, cand[i], STORE_ADDR_MAX + 1);
			return 1;
		}
	}
	return 0;
}

/* Depth-first from targets: 1 when one of them leads back to w->addr. */
static int cycle_from(struct cycle_walk *w, char (*targets)[STORE_ADDR_MAX + 1], size_t n)
{
	for (size_t i = 0; i < n && !w->t->mrc; i++) {
		char key[STORE_ADDR_MAX + 1], (*next)[STORE_ADDR_MAX + 1];
		const char *tg[STORE_ALIAS_MAX];
		size_t nn, j;
		MDB_val v;
		int found;

		if (!alias_key_of(w, targets[i], key))
			continue;
		str_copy(w->path[w->depth++], targets[i], sizeof w->path[0]);
		if (!strcmp(key, w->addr))
			return 1;
		for (j = 0; j < w->nseen && strcmp(w->seen[j], key); j++)
			;
		if (j < w->nseen || w->nseen == CYCLE_VISITS ||
		    w->depth >= ARRAY_LEN(w->path) - 1 ||
		    db_get(w->t, DB_ALIAS, key, strlen(key), &v) != 0) {
			w->depth--;
			continue;
		}
		str_copy(w->seen[w->nseen++], key, sizeof w->seen[0]);
		/* Copy the targets out: the walk reads the map again. */
		nn = alias_split(&v, tg);
		next = xmalloc(sizeof *next * (nn ? nn : 1));
		for (j = 0; j < nn; j++)
			str_copy(next[j], tg[j], sizeof next[0]);
		found = cycle_from(w, next, nn);
		free(next);
		if (found)
			return 1;
		w->depth--;
	}
	return 0;
}

/* Whether giving addr the members targets would close a loop; if so the
 * loop as "a -> b -> a" in out. Loops that do not pass through addr were
 * there before and are not this change's (store_resolve survives them). */
static int alias_find_cycle(struct tx *t, const char *addr, char (*targets)[STORE_ADDR_MAX + 1],
			    size_t n, char *out, size_t cap)
{
	struct cycle_walk *w = xcalloc(1, sizeof *w);
	size_t len;
	int found;

	w->t = t;
	w->addr = addr;
	w->seen = xmalloc(sizeof *w->seen * CYCLE_VISITS);
	found = cycle_from(w, targets, n);
	if (found && cap) {
		len = (size_t)snprintf(out, cap, "%s", addr);
		for (size_t i = 0; i < w->depth && len < cap; i++)
			len += (size_t)snprintf(out + len, cap - len, " -> %s", w->path[i]);
		if (len < cap && strcmp(w->path[w->depth - 1], addr))
			snprintf(out + len, cap - len, " -> %s", addr);
	}
	free(w->seen);
	free(w);
	return found;
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
	if (a->addr[0] != '@' && (r = addr_owner(t, a->addr)) == ADDR_LIST)
		return ST_EXISTS;
	if (r < 0)
		return ST_TEMP;
	r = db_get(t, DB_ALIAS, a->addr, strlen(a->addr), &v);
	if (r < 0)
		return ST_TEMP;
	if (r == 0)
		nold = alias_split(&v, old);
	if (a->chg)
		a->chg->before = nold, a->chg->existed = r == 0;
	if (a->mode == ALIAS_SET)
		nold = 0; /* replace: the old members are not kept */
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
	if (a->chg) {
		a->chg->after = nall;
		a->chg->added = nall - nold;
		if (alias_find_cycle(t, a->addr, all, nall, a->chg->cycle, sizeof a->chg->cycle)) {
			free(all);
			return t->mrc ? ST_TEMP : ST_INVALID;
		}
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

/* store_alias_add (mode -1: add, no loop check) and store_alias_update. */
static int alias_write(struct store *st, const char *addr, const char *const *targets, size_t n,
		       int mode, struct alias_change *chg)
{
	struct alias_args a = {.mode = mode, .chg = chg};
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

int store_alias_add(struct store *st, const char *addr, const char *const *targets, size_t n)
{
	return alias_write(st, addr, targets, n, -1, NULL);
}

int store_alias_update(struct store *st, const char *addr, const char *const *targets, size_t n,
		       int mode, struct alias_change *chg)
{
	memset(chg, 0, sizeof *chg);
	if (mode != ALIAS_ADD && mode != ALIAS_SET)
		return ST_INVALID;
	return alias_write(st, addr, targets, n, mode, chg);
}

/* Removes the member a->targets[0] from a->addr; the alias goes with its
 * last member. */
static int op_alias_del_member(struct tx *t, void *arg)
{
	struct alias_args *a = arg;
	const char *tg[STORE_ALIAS_MAX];
	size_t n, len = 0, left = 0, j;
	char *keep, *p;
	MDB_val v;
	int r = db_get(t, DB_ALIAS, a->addr, strlen(a->addr), &v);

	if (r)
		return r < 0 ? ST_TEMP : ST_NOTFOUND;
	n = alias_split(&v, tg);
	for (j = 0; j < n && strcmp(tg[j], a->targets[0]); j++)
		;
	if (j == n) {
		a->chg->existed = 1; /* the alias is there, the member is not */
		return ST_NOTFOUND;
	}
	a->chg->existed = 1;
	a->chg->before = n;
	keep = xmalloc(v.mv_size ? v.mv_size : 1);
	for (size_t i = 0; i < n; i++) {
		if (i == j)
			continue;
		memcpy(keep + len, tg[i], strlen(tg[i]) + 1);
		len += strlen(tg[i]) + 1;
		left++;
	}
	a->chg->after = left;
	if (!left) {
		free(keep);
		r = db_del(t, DB_ALIAS, a->addr, strlen(a->addr));
		return r < 0 ? ST_TEMP : ST_OK;
	}
	p = db_reserve(t, DB_ALIAS, a->addr, strlen(a->addr), len, 0);
	if (p)
		memcpy(p, keep, len);
	free(keep);
	return p ? ST_OK : ST_TEMP;
}

int store_alias_del_member(struct store *st, const char *addr, const char *member,
			   struct alias_change *chg)
{
	struct alias_args a = {.chg = chg};
	char m[1][STORE_ADDR_MAX + 1];

	memset(chg, 0, sizeof *chg);
	if (addr_norm(addr, a.addr, 1) < 0 || addr_norm(member, m[0], 0) < 0)
		return ST_INVALID;
	a.targets = m;
	a.n = 1;
	return tx_write(st, op_alias_del_member, &a);
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
