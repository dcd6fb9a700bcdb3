/*
 * mailbox_mbox.c — the store's mailboxes: names (validation, INBOX's
 * case), records with their keyword tables, UIDVALIDITY and the tombstones
 * that keep UIDs growing under a re-used name; create, delete, rename,
 * subscribe, list. The messages inside a mailbox and its indexes are
 * mailbox_msg.c's; transactions are mailbox.c's (mailbox_int.h).
 */
#include "mailbox_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MBOX_NAME_LIM   (511 - 4)   /* LMDB key limit minus the user id */

/* ---- validation ---- */

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
int mbox_norm(const char *in, char *out)
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

int mbox_get(struct tx *t, uint32_t user, const char *name, struct mbox *mb)
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

int mbox_put(struct tx *t, const struct mbox *mb)
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
int mbox_del_key(struct tx *t, const struct mbox *mb)
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

int mbox_new(struct tx *t, uint32_t user, const char *name, int special, int subscribed,
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
int kw_index(struct mbox *mb, const char *name, int add)
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

int kw_mask(struct mbox *mb, const char *const *kws, size_t n, int add, uint64_t *mask)
{
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		int ix;
		if (!kws[i] || !keyword_ok(kws[i]))
			return ST_INVALID;
		ix = kw_index(mb, kws[i], add);
		if (ix == -2)
			return ST_LIMIT;
		if (ix >= 0)
			*mask |= 1ULL << ix;
	}
	return ST_OK;
}

/* Names of all mailboxes of a user (malloc'ed array of fixed slots). */
int mbox_names(struct tx *t, uint32_t user, char (**names)[STORE_MBOX_MAX + 1], size_t *n)
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

void mbox_export(const struct mbox *mb, struct mbox_info *out)
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
	if (mbox_del_key(t, &mb) < 0 || recent_forget(t, mb.r.id) < 0 || acct_put(t, &ac) < 0)
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

/* \Recent for IMAP4rev1 (RFC 3501 2.3.2): one number per mailbox, the
 * lowest UID no session has been told of as recent yet, kept in DB_META as
 * "recent/" + the mailbox id (ids are never reused; deleting the mailbox or
 * its account deletes the entry: recent_forget). Self-contained on purpose:
 * the mailbox record and its schema stay as they are. Missing means 1:
 * nothing was claimed yet. */
struct recent_args {
	uint32_t user, upto, from;
	int write;
	char name[STORE_MBOX_MAX + 1];
};

static int recent_key(char *k, uint32_t id)
{
	return snprintf(k, 24, "recent/%08x", id);
}

int recent_forget(struct tx *t, uint32_t mbox_id)
{
	char k[24];
	int kl = recent_key(k, mbox_id);
	return db_del(t, DB_META, k, (size_t)kl) < 0 ? -1 : 0;
}

static int op_mbox_recent(struct tx *t, void *arg)
{
	struct recent_args *a = arg;
	struct mbox mb;
	char k[24];
	MDB_val v;
	uint64_t b = 1;
	int rc = mbox_get(t, a->user, a->name, &mb);
	if (rc)
		return rc;
	int kl = recent_key(k, mb.r.id);
	int r = db_get(t, DB_META, k, (size_t)kl, &v);
	if (r < 0)
		return ST_TEMP;
	if (r == 0 && v.mv_size == sizeof b)
		memcpy(&b, v.mv_data, sizeof b);
	a->from = (uint32_t)b;
	if (!a->write || a->upto <= b)
		return ST_OK;
	b = a->upto;
	return db_put(t, DB_META, k, (size_t)kl, &b, sizeof b, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_mbox_recent(struct store *st, uint32_t user, const char *name, uint32_t upto,
		      uint32_t *from)
{
	struct recent_args a = {.user = user, .upto = upto};
	if (!name || mbox_norm(name, a.name) < 0)
		return ST_INVALID;
	int rc = tx_read(st, op_mbox_recent, &a);
	if (rc == ST_OK && upto > a.from) {
		a.write = 1; /* reads again: another session may have claimed meanwhile */
		rc = tx_write(st, op_mbox_recent, &a);
	}
	*from = a.from;
	return rc;
}

/* Subscriptions that outlive their mailbox (RFC 3501 6.3.6, RFC 5258
 * \NonExistent): a subscription is otherwise a flag of the mailbox record,
 * which DELETE removes. Kept in DB_META as "sub/" + the account id (8 hex)
 * + "/" + the name, value u64 1, so the mailbox record and its schema stay
 * as they are; LMDB's key limit leaves room for names up to 498 bytes
 * (longer ones are not kept: ST_INVALID). */
#define SUB_PREFIX_LEN 13 /* "sub/xxxxxxxx/" */

struct sub_args {
	uint32_t user;
	int on;
	char key[SUB_PREFIX_LEN + STORE_MBOX_MAX + 1];
	size_t kl;
	void (*cb)(void *arg, const char *name);
	void *arg;
};

static int sub_key(struct sub_args *a, uint32_t user, const char *name)
{
	int n = snprintf(a->key, sizeof a->key, "sub/%08x/%s", user, name ? name : "");
	if (n < 0 || (size_t)n >= sizeof a->key || n > 511)
		return -1;
	a->kl = (size_t)n;
	return 0;
}

int sub_forget_all(struct tx *t, uint32_t user)
{
	struct sub_args a;
	sub_key(&a, user, "");
	return db_del_prefix(t, DB_META, (const unsigned char *)a.key, a.kl);
}

static int op_sub_keep(struct tx *t, void *arg)
{
	struct sub_args *a = arg;
	MDB_val v;
	int r = db_get(t, DB_META, a->key, a->kl, &v);
	if (r < 0)
		return ST_TEMP;
	if (a->on > 0) {
		uint64_t one = 1;
		return db_put(t, DB_META, a->key, a->kl, &one, sizeof one, 0) < 0 ? ST_TEMP : ST_OK;
	}
	if (r == 1)
		return ST_NOTFOUND;
	if (a->on == 0 && db_del(t, DB_META, a->key, a->kl) < 0)
		return ST_TEMP;
	return ST_OK;
}

int store_sub_keep(struct store *st, uint32_t user, const char *name, int on)
{
	struct sub_args a = {.user = user, .on = on};
	char norm[STORE_MBOX_MAX + 1];
	if (!name || mbox_norm(name, norm) < 0 || sub_key(&a, user, norm) < 0)
		return ST_INVALID;
	return on < 0 ? tx_read(st, op_sub_keep, &a) : tx_write(st, op_sub_keep, &a);
}

static int op_sub_kept(struct tx *t, void *arg)
{
	struct sub_args *a = arg;
	MDB_cursor *c;
	MDB_val key = {a->kl, a->key}, v;
	char name[STORE_MBOX_MAX + 1];
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_META], &c);
	if (rc) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		if (key.mv_size < a->kl || memcmp(key.mv_data, a->key, a->kl) != 0)
			break;
		size_t n = key.mv_size - a->kl;
		if (n == 0 || n > STORE_MBOX_MAX)
			continue;
		memcpy(name, (const char *)key.mv_data + a->kl, n);
		name[n] = 0;
		a->cb(a->arg, name);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		tx_fail(t, rc);
	return ST_OK;
}

int store_sub_kept(struct store *st, uint32_t user, void (*cb)(void *arg, const char *name),
		   void *arg)
{
	struct sub_args a = {.user = user, .cb = cb, .arg = arg};
	sub_key(&a, user, "");
	return tx_read(st, op_sub_kept, &a);
}

/* Tests only (mailbox.h): the end of the UID space without 2^32 messages. */
static int op_set_uidnext(struct tx *t, void *arg)
{
	struct mbox_args *a = arg;
	struct mbox mb;
	int rc = mbox_get(t, a->user, a->name, &mb);
	if (rc)
		return rc;
	mb.r.uidnext = (uint32_t)a->on;
	return mbox_put(t, &mb) < 0 ? ST_TEMP : ST_OK;
}

int store_test_set_uidnext(struct store *st, uint32_t user, const char *mbox, uint32_t uidnext)
{
	struct mbox_args a = {.user = user, .on = (int)uidnext};
	if (mbox_norm(mbox, a.name) < 0)
		return ST_INVALID;
	return tx_write(st, op_set_uidnext, &a);
}
