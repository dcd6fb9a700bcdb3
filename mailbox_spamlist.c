/*
 * mailbox_spamlist.c — an account's allow and block lists of senders
 * (mailbox.h "spam lists", docs/spam.md "Allow and block lists"). Kept in
 * DB_BSTAT beside the classifier's counts, under the account's 4-byte key
 * range, so deleting the account deletes them: key = user, the kind byte
 * ('A' allow, 'B' block) and the lower-cased pattern; the value is empty.
 * (The classifier's own record there is the bare 4-byte user key.)
 */
#include <string.h>

#include "mailbox_int.h"
#include "util.h"

struct list_args {
	uint32_t user;
	int kind, on, found;
	char pat[STORE_ADDR_MAX + 1];
	const char *cand[STORE_ADDR_MAX / 2 + 2]; /* most specific first */
	size_t ncand;
	void (*cb)(void *, int, const char *);
	void *arg;
	size_t n;
};

static size_t list_key(unsigned char *k, uint32_t user, int kind, const char *pat)
{
	size_t l = strlen(pat);
	put32(k, user);
	k[4] = (unsigned char)kind;
	memcpy(k + 5, pat, l);
	return 5 + l;
}

int spam_list_pattern(const char *in, char *out, size_t cap)
{
	const char *p = in[0] == '@' ? in + 1 : in;
	size_t l = strlen(p), at = 0;
	if (l == 0 || l >= cap || l > STORE_ADDR_MAX)
		return -1;
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' || c == ';')
			return -1;
		at += c == '@';
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
	}
	out[l] = 0;
	const char *dom = at ? strrchr(out, '@') + 1 : out;
	if (at > 1 || (at && out[0] == '@') || !*dom || dom[0] == '.' || out[l - 1] == '.' ||
	    !strchr(dom, '.') || strstr(dom, ".."))
		return -1;
	return 0;
}

static int count_kind(struct tx *t, struct list_args *a)
{
	MDB_cursor *c;
	MDB_val k, v;
	unsigned char pre[4];
	put32(pre, a->user);
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_BSTAT], &c);
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	k.mv_data = pre;
	k.mv_size = 4;
	a->n = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, pre, 4) == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size > 5) {
			const unsigned char *kb = k.mv_data;
			if (a->cb) {
				char pat[STORE_ADDR_MAX + 1];
				size_t l = k.mv_size - 5 < STORE_ADDR_MAX ? k.mv_size - 5 : STORE_ADDR_MAX;
				memcpy(pat, kb + 5, l);
				pat[l] = 0;
				a->cb(a->arg, kb[4], pat);
			}
			a->n++;
		}
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

static int op_set(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[5 + STORE_ADDR_MAX];
	size_t kl;
	/* one kind per pattern: allowing a blocked pattern moves it */
	for (int kind = SPAM_LIST_ALLOW; kind <= SPAM_LIST_BLOCK; kind++) {
		kl = list_key(k, a->user, kind, a->pat);
		int d = db_del(t, DB_BSTAT, k, kl);
		if (d < 0)
			return ST_TEMP;
		a->found |= d == 0;
	}
	if (!a->on)
		return a->found ? ST_OK : ST_NOTFOUND;
	if (count_kind(t, a) < 0)
		return ST_TEMP;
	if (a->n >= SPAM_LIST_MAX)
		return ST_LIMIT;
	kl = list_key(k, a->user, a->kind, a->pat);
	return db_put(t, DB_BSTAT, k, kl, "", 0, 0) < 0 ? ST_TEMP : ST_OK;
}

int store_spam_list_set(struct store *st, uint32_t user, int kind, const char *pattern, int on)
{
	struct list_args a = {.user = user, .kind = kind, .on = on};
	if (spam_list_pattern(pattern, a.pat, sizeof a.pat) < 0 ||
	    (on && kind != SPAM_LIST_ALLOW && kind != SPAM_LIST_BLOCK))
		return ST_INVALID;
	return tx_write(st, op_set, &a);
}

static int op_each(struct tx *t, void *arg)
{
	return count_kind(t, arg) < 0 ? ST_TEMP : ST_OK;
}

int store_spam_list_each(struct store *st, uint32_t user,
			 void (*cb)(void *arg, int kind, const char *pattern), void *arg)
{
	struct list_args a = {.user = user, .cb = cb, .arg = arg};
	return tx_read(st, op_each, &a);
}

static int op_match(struct tx *t, void *arg)
{
	struct list_args *a = arg;
	unsigned char k[5 + STORE_ADDR_MAX];
	MDB_val v;
	a->found = 0;
	for (size_t i = 0; i < a->ncand && !a->found; i++)
		for (int kind = SPAM_LIST_BLOCK; kind >= SPAM_LIST_ALLOW && !a->found; kind--) {
			int g = db_get(t, DB_BSTAT, k, list_key(k, a->user, kind, a->cand[i]), &v);
			if (g < 0)
				return ST_TEMP;
			if (g == 0)
				a->found = kind;
		}
	return ST_OK;
}

int store_spam_list_match(struct store *st, uint32_t user, const char *sender, int *kind)
{
	struct list_args a = {.user = user};
	*kind = 0;
	if (!sender || !*sender || spam_list_pattern(sender, a.pat, sizeof a.pat) < 0 ||
	    !strchr(a.pat, '@'))
		return ST_OK; /* the null sender, or nothing a list can name */
	/* the address, then its domain and each parent domain with a dot */
	a.cand[a.ncand++] = a.pat;
	for (const char *d = strrchr(a.pat, '@') + 1; d && strchr(d, '.');
	     d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL)
		if (a.ncand < ARRAY_LEN(a.cand))
			a.cand[a.ncand++] = d;
	int rc = tx_read(st, op_match, &a);
	*kind = rc == ST_OK ? a.found : 0;
	return rc;
}
