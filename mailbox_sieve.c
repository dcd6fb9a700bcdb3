/*
 * mailbox_sieve.c — the Sieve table (mailbox.h "Sieve scripts", docs/
 * store.md "Sieve"). One sub-database, DB_SIEVE, keyed by the account id
 * (u32 big-endian, so an account's entries are one range that user del
 * drops with one prefix delete) and a kind byte:
 *   'A'              -> the active script's name (absent: none active)
 *   'S' + name       -> the script's text
 *   'V' + u64be hash -> int64 expiry: a vacation reply was sent
 *   'D' + u64be hash -> int64 expiry: a duplicate id was seen
 * Scripts are not compiled here: the store keeps bytes, the callers
 * (ManageSieve, `brev sieve`) check them with sieve_compile first.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_int.h"
#include "util.h"

#define KEY_MAX (4 + 1 + STORE_SIEVE_NAME)

static size_t key_make(unsigned char *k, uint32_t user, char kind, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	put32(k, user);
	k[4] = (unsigned char)kind;
	if (n)
		memcpy(k + 5, name, n);
	return 5 + n;
}

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i], need, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (unsigned j = 1; j <= need; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int store_sieve_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > STORE_SIEVE_NAME)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return 0;
	/* RFC 5804 1.6: UTF-8 (Net-Unicode); also no "." or ".." (file names). */
	if (!utf8_ok((const unsigned char *)name, n) || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	return 1;
}

/* ---- scripts ---- */

struct sv_args {
	uint32_t user;
	const char *name, *to;
	const char *src;
	size_t len;
	uint64_t size;
	/* out */
	char *out, *out_name;
	size_t out_len;
	int active;
	struct sieve_script_info *list;
	size_t n;
};

/* The active script's name into buf (empty when none); -1 on failure. */
static int active_name(struct tx *t, uint32_t user, char *buf)
{
	unsigned char k[KEY_MAX];
	MDB_val v;
	int g = db_get(t, DB_SIEVE, k, key_make(k, user, 'A', NULL), &v);
	buf[0] = '\0';
	if (g < 0)
		return -1;
	if (g == 0 && v.mv_size <= STORE_SIEVE_NAME) {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
	}
	return 0;
}

/* Count the account's scripts; *has set when `name` is one of them. */
static int count_scripts(struct tx *t, uint32_t user, const char *name, size_t *n, int *has)
{
	unsigned char k[KEY_MAX];
	size_t kl = key_make(k, user, 'S', NULL);
	MDB_cursor *c;
	MDB_val key = {kl, k}, v;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[DB_SIEVE], &c);
	*n = 0;
	*has = 0;
	if (rc) {
		tx_fail(t, rc);
		return -1;
	}
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		if (key.mv_size < kl || memcmp(key.mv_data, k, kl))
			break;
		(*n)++;
		if (name && key.mv_size - kl == strlen(name) &&
		    !memcmp((const char *)key.mv_data + kl, name, key.mv_size - kl))
			*has = 1;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

static int space_check(struct tx *t, struct sv_args *a)
{
	size_t n;
	int has;
	if (!store_sieve_name_ok(a->name) || a->size > STORE_SIEVE_SIZE)
		return ST_INVALID;
	if (count_scripts(t, a->user, a->name, &n, &has) < 0)
		return ST_TEMP;
	return !has && n >= STORE_SIEVE_SCRIPTS ? ST_LIMIT : ST_OK;
}

static int op_space(struct tx *t, void *arg)
{
	return space_check(t, arg);
}

static int op_put(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX];
	int rc = space_check(t, a);
	if (rc)
		return rc;
	if (db_put(t, DB_SIEVE, k, key_make(k, a->user, 'S', a->name), a->src, a->len, 0) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

static int op_get(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX];
	char act[STORE_SIEVE_NAME + 1];
	MDB_val v;
	int g;
	if (!store_sieve_name_ok(a->name))
		return ST_NOTFOUND;
	g = db_get(t, DB_SIEVE, k, key_make(k, a->user, 'S', a->name), &v);
	if (g < 0 || active_name(t, a->user, act) < 0)
		return ST_TEMP;
	if (g)
		return ST_NOTFOUND;
	free(a->out); /* a retried transaction */
	a->out = xmalloc(v.mv_size + 1);
	memcpy(a->out, v.mv_data, v.mv_size);
	a->out[v.mv_size] = '\0';
	a->out_len = v.mv_size;
	a->active = !strcmp(act, a->name);
	return ST_OK;
}

static int op_list(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX];
	size_t kl = key_make(k, a->user, 'S', NULL);
	char act[STORE_SIEVE_NAME + 1];
	MDB_cursor *c;
	MDB_val key = {kl, k}, v;
	int rc;
	free(a->list);
	a->list = NULL;
	a->n = 0;
	if (active_name(t, a->user, act) < 0)
		return ST_TEMP;
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_SIEVE], &c))) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	a->list = xcalloc(STORE_SIEVE_SCRIPTS + 1, sizeof *a->list);
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0 && a->n <= STORE_SIEVE_SCRIPTS;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		struct sieve_script_info *e = &a->list[a->n];
		size_t nl = key.mv_size - kl;
		if (key.mv_size < kl || memcmp(key.mv_data, k, kl))
			break;
		if (nl > STORE_SIEVE_NAME)
			continue;
		memcpy(e->name, (const char *)key.mv_data + kl, nl);
		e->name[nl] = '\0';
		e->size = (uint32_t)v.mv_size;
		e->active = !strcmp(e->name, act);
		a->n++;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		tx_fail(t, rc);
		return ST_TEMP;
	}
	return ST_OK;
}

static int op_activate(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX], ak[KEY_MAX];
	size_t akl = key_make(ak, a->user, 'A', NULL);
	MDB_val v;
	int g;
	if (!a->name || !a->name[0])
		return db_del(t, DB_SIEVE, ak, akl) < 0 ? ST_TEMP : ST_OK;
	if (!store_sieve_name_ok(a->name))
		return ST_NOTFOUND;
	g = db_get(t, DB_SIEVE, k, key_make(k, a->user, 'S', a->name), &v);
	if (g)
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	if (db_put(t, DB_SIEVE, ak, akl, a->name, strlen(a->name), 0) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

static int op_delete(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX];
	char act[STORE_SIEVE_NAME + 1];
	int d;
	if (!store_sieve_name_ok(a->name))
		return ST_NOTFOUND;
	if (active_name(t, a->user, act) < 0)
		return ST_TEMP;
	/* RFC 5804 2.10: the active script cannot be deleted. */
	if (!strcmp(act, a->name))
		return ST_INVALID;
	d = db_del(t, DB_SIEVE, k, key_make(k, a->user, 'S', a->name));
	if (d)
		return d < 0 ? ST_TEMP : ST_NOTFOUND;
	tx_touch(t, a->user);
	return ST_OK;
}

static int op_rename(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	unsigned char k[KEY_MAX], nk[KEY_MAX], ak[KEY_MAX];
	size_t kl, nkl, akl, len;
	char act[STORE_SIEVE_NAME + 1];
	MDB_val v;
	char *copy;
	int g;
	if (!store_sieve_name_ok(a->name))
		return ST_NOTFOUND;
	if (!store_sieve_name_ok(a->to))
		return ST_INVALID;
	kl = key_make(k, a->user, 'S', a->name);
	nkl = key_make(nk, a->user, 'S', a->to);
	if ((g = db_get(t, DB_SIEVE, k, kl, &v)))
		return g < 0 ? ST_TEMP : ST_NOTFOUND;
	if (!strcmp(a->name, a->to))
		return ST_OK;
	/* copy out: v points into the map, which the puts below may change */
	len = v.mv_size;
	copy = xmalloc(len + 1);
	memcpy(copy, v.mv_data, len);
	g = db_get(t, DB_SIEVE, nk, nkl, &v);
	if (g <= 0) {
		free(copy);
		return g < 0 ? ST_TEMP : ST_EXISTS;
	}
	g = db_put(t, DB_SIEVE, nk, nkl, copy, len, 0);
	free(copy);
	if (g < 0 || db_del(t, DB_SIEVE, k, kl) < 0 || active_name(t, a->user, act) < 0)
		return ST_TEMP;
	akl = key_make(ak, a->user, 'A', NULL);
	if (!strcmp(act, a->name) && db_put(t, DB_SIEVE, ak, akl, a->to, strlen(a->to), 0) < 0)
		return ST_TEMP;
	tx_touch(t, a->user);
	return ST_OK;
}

static int op_active(struct tx *t, void *arg)
{
	struct sv_args *a = arg;
	char act[STORE_SIEVE_NAME + 1];
	int rc;
	if (active_name(t, a->user, act) < 0)
		return ST_TEMP;
	if (!act[0])
		return ST_NOTFOUND;
	a->name = act;
	rc = op_get(t, a);
	a->name = NULL;
	if (rc == ST_OK) {
		free(a->out_name);
		a->out_name = xstrdup(act);
	}
	return rc;
}

int store_sieve_put(struct store *st, uint32_t user, const char *name, const char *src, size_t len)
{
	struct sv_args a = {.user = user, .name = name, .src = src, .len = len, .size = len};
	return tx_write(st, op_put, &a);
}

int store_sieve_space(struct store *st, uint32_t user, const char *name, uint64_t size)
{
	struct sv_args a = {.user = user, .name = name, .size = size};
	return tx_read(st, op_space, &a);
}

int store_sieve_get(struct store *st, uint32_t user, const char *name, char **src, size_t *len,
		    int *active)
{
	struct sv_args a = {.user = user, .name = name};
	int rc = tx_read(st, op_get, &a);
	if (rc != ST_OK) {
		free(a.out);
		*src = NULL;
		*len = 0;
		return rc;
	}
	*src = a.out;
	*len = a.out_len;
	if (active)
		*active = a.active;
	return ST_OK;
}

int store_sieve_list(struct store *st, uint32_t user, struct sieve_script_info **out, size_t *n)
{
	struct sv_args a = {.user = user};
	int rc = tx_read(st, op_list, &a);
	if (rc != ST_OK || a.n == 0) {
		free(a.list);
		a.list = NULL;
		a.n = 0;
	}
	*out = a.list;
	*n = a.n;
	return rc;
}

int store_sieve_activate(struct store *st, uint32_t user, const char *name)
{
	struct sv_args a = {.user = user, .name = name};
	return tx_write(st, op_activate, &a);
}

int store_sieve_delete(struct store *st, uint32_t user, const char *name)
{
	struct sv_args a = {.user = user, .name = name};
	return tx_write(st, op_delete, &a);
}

int store_sieve_rename(struct store *st, uint32_t user, const char *from, const char *to)
{
	struct sv_args a = {.user = user, .name = from, .to = to};
	return tx_write(st, op_rename, &a);
}

int store_sieve_active(struct store *st, uint32_t user, char **name, char **src, size_t *len)
{
	struct sv_args a = {.user = user};
	int rc = tx_read(st, op_active, &a);
	if (rc != ST_OK) {
		free(a.out);
		free(a.out_name);
		*name = *src = NULL;
		*len = 0;
		return rc;
	}
	*name = a.out_name;
	*src = a.out;
	*len = a.out_len;
	return ST_OK;
}

/* ---- vacation and duplicate records ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)tolower((unsigned char)*s);
		h *= 0x100000001b3ULL;
	}
	return h * 0x100000001b3ULL; /* the NUL between strings */
}

static size_t rec_key(unsigned char *k, uint32_t user, char kind, const char *a, const char *b)
{
	uint64_t h = fnv(0xcbf29ce484222325ULL, a);
	if (b)
		h = fnv(h, b);
	put32(k, user);
	k[4] = (unsigned char)kind;
	put64(k + 5, h);
	return 13;
}

struct rec_args {
	uint32_t user;
	const char *a, *b;
	char kind;
	int64_t now, seconds;
	int result;
};

/* Remove the account's expired 'V' and 'D' records; *live gets the rest. */
static int rec_sweep(struct tx *t, uint32_t user, int64_t now, size_t *live)
{
	unsigned char k[5];
	MDB_cursor *c;
	MDB_val key = {5, k}, v;
	int rc;
	*live = 0;
	put32(k, user);
	k[4] = 'D'; /* 'D' < 'S' < 'V': walk from 'D' and skip the scripts */
	if ((rc = mdb_cursor_open(t->txn, t->st->dbi[DB_SIEVE], &c))) {
		tx_fail(t, rc);
		return -1;
	}
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;) {
		const unsigned char *kd = key.mv_data;
		int64_t exp;
		if (key.mv_size < 5 || get32(kd) != user)
			break;
		if (key.mv_size == 13 && (kd[4] == 'D' || kd[4] == 'V') && v.mv_size == sizeof exp) {
			memcpy(&exp, v.mv_data, sizeof exp);
			if (exp <= now) {
				/* MDB_NEXT after a delete steps to the key
				 * that followed it (as mailbox_grey.c's sweep) */
				if ((rc = mdb_cursor_del(c, 0)))
					break;
				rc = mdb_cursor_get(c, &key, &v, MDB_NEXT);
				continue;
			}
			(*live)++;
		}
		rc = mdb_cursor_get(c, &key, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND && rc != EINVAL) {
		tx_fail(t, rc);
		return -1;
	}
	return 0;
}

/* Whether the record is there and live: 1, 0, or -1 on failure. */
static int rec_live(struct tx *t, const unsigned char *k, int64_t now)
{
	MDB_val v;
	int64_t exp;
	int g = db_get(t, DB_SIEVE, k, 13, &v);
	if (g)
		return g < 0 ? -1 : 0;
	if (v.mv_size != sizeof exp)
		return 0;
	memcpy(&exp, v.mv_data, sizeof exp);
	return exp > now;
}

/* kind 'V': take a vacation slot (result = send). 'D' with seconds > 0:
 * record; 'D' with seconds == 0: look (result = seen). */
static int op_rec(struct tx *t, void *arg)
{
	struct rec_args *a = arg;
	unsigned char k[13];
	size_t live;
	int64_t exp;
	int l;
	rec_key(k, a->user, a->kind, a->a, a->b);
	l = rec_live(t, k, a->now);
	if (l < 0)
		return ST_TEMP;
	if (a->kind == 'D' && a->seconds <= 0) {
		a->result = l;
		return ST_OK;
	}
	if (a->kind == 'V' && l) {
		a->result = 0;
		return ST_OK;
	}
	if (rec_sweep(t, a->user, a->now, &live) < 0)
		return ST_TEMP;
	if (live >= STORE_SIEVE_RECORDS && !l) {
		a->result = 0; /* full: no reply (vacation), not recorded (duplicate) */
		return ST_OK;
	}
	exp = a->now + a->seconds;
	if (db_put(t, DB_SIEVE, k, 13, &exp, sizeof exp, 0) < 0)
		return ST_TEMP;
	a->result = 1;
	return ST_OK;
}

int store_vacation_take(struct store *st, uint32_t user, const char *handle, const char *sender,
			int64_t now, int64_t seconds, int *send)
{
	struct rec_args a = {.user = user, .a = handle, .b = sender, .kind = 'V', .now = now,
			     .seconds = seconds > 0 ? seconds : 1};
	int rc = tx_write(st, op_rec, &a);
	*send = rc == ST_OK && a.result;
	return rc;
}

int store_dup_seen(struct store *st, uint32_t user, const char *id, int64_t now, int *seen)
{
	struct rec_args a = {.user = user, .a = id, .kind = 'D', .now = now};
	int rc = tx_read(st, op_rec, &a);
	*seen = rc == ST_OK && a.result;
	return rc;
}

int store_dup_record(struct store *st, uint32_t user, const char *id, int64_t now, int64_t seconds)
{
	struct rec_args a = {.user = user, .a = id, .kind = 'D', .now = now,
			     .seconds = seconds > 0 ? seconds : 1};
	return tx_write(st, op_rec, &a);
}

int sieve_forget_user(struct tx *t, uint32_t user)
{
	unsigned char k[4];
	put32(k, user);
	return db_del_prefix(t, DB_SIEVE, k, 4) < 0 ? ST_TEMP : ST_OK;
}
