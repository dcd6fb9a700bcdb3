/*
 * imap_mbox.c — the IMAP commands on mailboxes rather than messages:
 * CREATE (with USE, RFC 6154), DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE,
 * LIST/LSUB (LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE)
 * and STATUS. Split from imap.c (STYLE: a protocol by concern past ~1,500
 * lines); the session, the command table and the selected state stay
 * there.
 */
#include "imap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "objid.h"
#include "server.h"
#include "util.h"

/* More hierarchy levels than IMAP_MBOX_DEPTH: each level is a parent LIST
 * has to show, so depth times count is what a LIST costs. */
static int too_deep(const char *name)
{
	int levels = 1;
	for (const char *p = name; *p; p++)
		levels += *p == '/';
	return levels > IMAP_MBOX_DEPTH;
}

static void count_mbox(void *arg, const struct mbox_info *m)
{
	(void)m;
	(*(size_t *)arg)++;
}

void imap_cmd_create(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	int special = MBOX_NORMAL;
	/* RFC 6154 3 (CREATE-SPECIAL-USE): CREATE name (USE (\Sent)). A
	 * mailbox keeps one role of five; anything else in USE is refused with
	 * [USEATTR] and nothing is created. */
	const struct iarg *opt = iarg_nth(s->cmd.args, 1);
	if (opt && opt->type == IA_LIST && iarg_is_atom(opt->kids, "USE") && opt->kids->next &&
	    opt->kids->next->type == IA_LIST) {
		static const char *const roles[] = {NULL,     NULL,	 "\\Drafts", "\\Sent",
						    "\\Junk", "\\Trash", "\\Archive"};
		int nuse = 0, known = 1;
		for (const struct iarg *u = opt->kids->next->kids; u; u = u->next) {
			int role = 0;
			for (int i = 2; i < 7; i++)
				if (iarg_is_atom(u, roles[i]))
					role = i;
			if (!role)
				known = 0;
			else if (role != special)
				nuse++;
			special = role ? role : special;
		}
		if (!known || nuse > 1) {
			imap_tagged(s, "NO", "[USEATTR] %s", !known ? "Special-use attribute not supported"
								    : "Only one special use per mailbox");
			return;
		}
	}
	size_t count = 0;
	store_mbox_list(s->srv->store, s->acct.id, count_mbox, &count);
	if (too_deep(name)) {
		imap_tagged(s, "NO", "[LIMIT] Mailbox hierarchy too deep");
		return;
	}
	if (count >= IMAP_MBOX_MAX) {
		imap_tagged(s, "NO", "[LIMIT] Too many mailboxes");
		return;
	}
	int rc = store_mbox_create(s->srv->store, s->acct.id, name, special);
	/* A subscription kept from a deleted mailbox of this name is its. */
	if (rc == ST_OK && store_sub_keep(s->srv->store, s->acct.id, name, 0) == ST_OK)
		store_mbox_subscribe(s->srv->store, s->acct.id, name, 1);
	struct mbox_info mi;
	if (rc == ST_OK && store_mbox_get(s->srv->store, s->acct.id, name, &mi) == ST_OK) {
		char id[OBJID_MAX]; /* RFC 8474 4.1 */
		objid_mailbox(id, mi.id);
		imap_tagged(s, "OK", "[MAILBOXID (%s)] CREATE completed", id);
	} else if (rc == ST_OK)
		imap_tagged(s, "OK", "CREATE completed");
	else
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
}

void imap_cmd_delete(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	if (s->state == IS_SELECTED && strcmp(name, s->mbox) == 0) {
		imap_unselect(s);
		imap_out(s, "* OK [CLOSED] Mailbox deleted");
	}
	struct mbox_info before;
	int subscribed = store_mbox_get(s->srv->store, s->acct.id, name, &before) == ST_OK &&
			 before.subscribed;
	int rc = store_mbox_delete(s->srv->store, s->acct.id, name);
	/* RFC 3501 6.3.6 / RFC 5258: the subscription stays (\NonExistent). */
	if (rc == ST_OK && subscribed)
		store_sub_keep(s->srv->store, s->acct.id, name, 1);
	if (rc == ST_OK)
		imap_tagged(s, "OK", "DELETE completed");
	else
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
}

void imap_cmd_rename(struct imap_session *s)
{
	char a[STORE_MBOX_MAX + 1], b[STORE_MBOX_MAX + 1];
	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), a, sizeof a) < 0 ||
	    imap_mbox_arg(s, iarg_nth(s->cmd.args, 1), b, sizeof b) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	if (too_deep(b)) {
		imap_tagged(s, "NO", "[LIMIT] Mailbox hierarchy too deep");
		return;
	}
	int rc = store_mbox_rename(s->srv->store, s->acct.id, a, b);
	size_t al = strlen(a);
	if (rc == ST_OK && s->state == IS_SELECTED) {
		/* Our own selected mailbox (or one of its superiors) moved: follow
		 * it, UIDs and all (other sessions on it get BYE at their next
		 * look). INBOX's inferiors stay where they are. */
		if (strcmp(s->mbox, a) == 0) {
			str_copy(s->mbox, b, sizeof s->mbox);
		} else if (strcmp(a, "INBOX") != 0 && strncmp(s->mbox, a, al) == 0 &&
			   s->mbox[al] == '/') {
			char moved[STORE_MBOX_MAX + 1];
			if (snprintf(moved, sizeof moved, "%s%s", b, s->mbox + al) <
			    (int)sizeof moved)
				str_copy(s->mbox, moved, sizeof s->mbox);
		}
	}
	if (rc == ST_OK)
		imap_tagged(s, "OK", "RENAME completed");
	else
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
}

void imap_cmd_subscribe(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	int on = strcmp(s->cmd.name, "SUBSCRIBE") == 0;
	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	int rc = store_mbox_subscribe(s->srv->store, s->acct.id, name, on);
	if (!on)
		store_sub_keep(s->srv->store, s->acct.id, name, 0); /* one kept after DELETE */
	if (rc == ST_OK || (!on && rc == ST_NOTFOUND))
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
	else
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
}

/* ---- LIST ---- */

struct lbox {
	struct mbox_info mi;
	int exists;
};
struct lctx {
	struct lbox *v;
	size_t n, cap;
};

/* Duplicates (a parent that is also a mailbox, a parent of several) go
 * after sorting: adding stays O(1), so LIST costs O(n log n), not O(n^2). */
static void lbox_add(struct lctx *l, const struct mbox_info *mi, int exists)
{
	if (l->n >= IMAP_LIST_MAX)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n].mi = *mi;
	l->v[l->n].exists = exists;
	l->n++;
}

static void lbox_cb(void *arg, const struct mbox_info *mi)
{
	lbox_add(arg, mi, 1);
}

/* A subscription whose mailbox was deleted: no mailbox, subscribed. */
static void lbox_kept_cb(void *arg, const char *name)
{
	struct mbox_info mi;
	memset(&mi, 0, sizeof mi);
	str_copy(mi.name, name, sizeof mi.name);
	mi.subscribed = 1;
	lbox_add(arg, &mi, 0);
}

/* INBOX first, then by name; of equal names the mailbox before the parent. */
static int lbox_cmp(const void *a, const void *b)
{
	const struct lbox *x = a, *y = b;
	int xi = strcmp(x->mi.name, "INBOX") == 0, yi = strcmp(y->mi.name, "INBOX") == 0;
	if (xi != yi)
		return yi - xi;
	int c = strcmp(x->mi.name, y->mi.name);
	if (c)
		return c;
	return x->exists != y->exists ? y->exists - x->exists : y->mi.subscribed - x->mi.subscribed;
}

static void lbox_sort_unique(struct lctx *l)
{
	size_t k = 0;
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, lbox_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (k && strcmp(l->v[k - 1].mi.name, l->v[i].mi.name) == 0)
			continue;
		if (k != i)
			l->v[k] = l->v[i];
		k++;
	}
	l->n = k;
}

/* The index of the first name under "name/" in the sorted list (INBOX
 * aside), or l->n: a binary search. */
static size_t first_child(const struct lctx *l, const char *name)
{
	char key[STORE_MBOX_MAX + 2];
	size_t n = strlen(name), lo = 0, hi = l->n;
	if (n + 1 >= sizeof key)
		return l->n;
	memcpy(key, name, n);
	key[n] = '/';
	key[n + 1] = 0;
	if (lo < hi && strcmp(l->v[0].mi.name, "INBOX") == 0)
		lo = 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(l->v[mid].mi.name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Sorted (INBOX aside): the names under "name/" are one run, found by a
 * binary search for its first possible member. */
static int has_children(const struct lctx *l, const char *name)
{
	size_t i = first_child(l, name), n = strlen(name);
	return i < l->n && strncmp(l->v[i].mi.name, name, n) == 0 && l->v[i].mi.name[n] == '/';
}


/* A subscribed mailbox below name (RFC 5258 CHILDINFO, RFC 3501 6.3.9's
 * LSUB parents): the run of names under "name/". */
static int has_subscribed_child(const struct lctx *l, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = first_child(l, name);
	     i < l->n && strncmp(l->v[i].mi.name, name, n) == 0 && l->v[i].mi.name[n] == '/'; i++)
		if (l->v[i].mi.subscribed) /* kept subscriptions too (RFC 5258 3.5) */
			return 1;
	return 0;
}

static void status_items(struct imap_session *s, const struct iarg *items, const char *name,
			 struct sbuf *b);

void imap_cmd_list(struct imap_session *s)
{
	int lsub = strcmp(s->cmd.name, "LSUB") == 0;
	struct iarg *a = s->cmd.args->kids;
	int sel_sub = 0, sel_special = 0, ret_sub = lsub, ret_children = 1;
	const struct iarg *ret_status = NULL;
	char ref[STORE_MBOX_MAX + 1], pat[STORE_MBOX_MAX * 2 + 2];
	const char *pats[32];
	size_t npats = 0;

	int extended = 0; /* LIST-EXTENDED syntax used: \NonExistent, else \Noselect */
	int recursive = 0;
	if (a && a->type == IA_LIST && !lsub) { /* RFC 5258 selection options */
		extended = 1;
		for (struct iarg *o = a->kids; o; o = o->next) {
			if (iarg_is_atom(o, "SUBSCRIBED"))
				sel_sub = ret_sub = 1;
			else if (iarg_is_atom(o, "SPECIAL-USE"))
				sel_special = 1;
			else if (iarg_is_atom(o, "RECURSIVEMATCH"))
				recursive = 1;
			else if (!iarg_is_atom(o, "REMOTE")) {
				imap_tagged(s, "BAD", "Unknown LIST selection option");
				return;
			}
		}
		/* RFC 5258 3: RECURSIVEMATCH only beside an option (other than
		 * REMOTE) whose matches it can report on. */
		if (recursive && !sel_sub && !sel_special) {
			imap_tagged(s, "BAD", "RECURSIVEMATCH needs another selection option");
			return;
		}
		a = a->next;
	}
	if (!a || !iarg_str(a) || !a->next) {
		imap_tagged(s, "BAD", "LIST needs a reference and a pattern");
		return;
	}
	if (imap_mbox_arg(s, a, ref, sizeof ref) < 0 && *iarg_str(a)) {
		imap_tagged(s, "BAD", "Invalid reference");
		return;
	}
	if (!*iarg_str(a))
		ref[0] = 0;
	a = a->next;
	if (a->type == IA_LIST && !lsub) {
		for (struct iarg *p = a->kids; p && npats < ARRAY_LEN(pats); p = p->next)
			if (iarg_str(p))
				pats[npats++] = iarg_str(p);
	} else if (iarg_str(a)) {
		pats[npats++] = iarg_str(a);
	}
	if (npats == 0) {
		imap_tagged(s, "BAD", "Invalid pattern");
		return;
	}
	a = a->next;
	if (a && iarg_is_atom(a, "RETURN") && a->next && a->next->type == IA_LIST) {
		extended = 1;
		for (struct iarg *o = a->next->kids; o; o = o->next) {
			if (iarg_is_atom(o, "SUBSCRIBED"))
				ret_sub = 1;
			else if (iarg_is_atom(o, "CHILDREN") || iarg_is_atom(o, "SPECIAL-USE"))
				ret_children = 1;
			else if (iarg_is_atom(o, "STATUS") && o->next && o->next->type == IA_LIST)
				ret_status = (o = o->next);
			else {
				imap_tagged(s, "BAD", "Unknown LIST return option");
				return;
			}
		}
	} else if (a) {
		imap_tagged(s, "BAD", "Unexpected LIST argument");
		return;
	}
	/* RFC 9051 6.3.9: LIST "" "" asks for the delimiter. */
	if (npats == 1 && !*pats[0]) {
		imap_out(s, "* %s (\\Noselect) \"/\" \"\"", lsub ? "LSUB" : "LIST");
		imap_tagged(s, "OK", "%s completed", s->cmd.name);
		return;
	}
	struct lctx l = {0};
	if (store_mbox_list(s->srv->store, s->acct.id, lbox_cb, &l) != ST_OK) {
		free(l.v);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	/* Subscriptions kept after their mailbox was deleted: for the
	 * subscribed view only (RFC 5258 3.1: they do not exist). */
	if ((sel_sub || lsub) &&
	    store_sub_kept(s->srv->store, s->acct.id, lbox_kept_cb, &l) != ST_OK) {
		free(l.v);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	/* Parents that are not mailboxes themselves still show (\NonExistent). */
	size_t real = l.n;
	struct mbox_info pm;
	memset(&pm, 0, sizeof pm);
	for (size_t i = 0; i < real; i++) {
		str_copy(pm.name, l.v[i].mi.name, sizeof pm.name);
		char *slash;
		while ((slash = strrchr(pm.name, '/')) != NULL) {
			*slash = 0;
			lbox_add(&l, &pm, 0);
		}
	}
	lbox_sort_unique(&l);
	static const char *const roles[] = {"",	      "",	 "\\Drafts", "\\Sent",
					    "\\Junk", "\\Trash", "\\Archive"};
	for (size_t i = 0; i < l.n; i++) {
		const struct lbox *m = &l.v[i];
		int match = 0, pct = 0; /* pct: matched by a pattern without '*' */
		for (size_t p = 0; p < npats && !match; p++) {
			/* A parent that is no mailbox shows for '%' (RFC 3501
			 * 6.3.8); with '*' its children speak for it. */
			int star = strchr(pats[p], '*') != NULL;
			if (!m->exists && star)
				continue;
			char dec[STORE_MBOX_MAX + 1];
			const char *pp = pats[p];
			if (!s->utf8 && mutf7_decode(pp, dec, sizeof dec) == 0)
				pp = dec;
			if ((size_t)snprintf(pat, sizeof pat, "%s%s", ref, pp) >= sizeof pat)
				continue; /* longer than any name it could match */
			if (str_ncasecmp_ascii(pat, "INBOX", 5) == 0 && (!pat[5] || pat[5] == '/'))
				memcpy(pat, "INBOX", 5);
			match = imap_wild_match(pat, m->mi.name);
			pct = match && !star;
		}
		if (!match)
			continue;
		int subscribed = m->mi.subscribed; /* a parent's is 0; a kept one's 1 */
		/* RFC 5258 3.5: (SUBSCRIBED RECURSIVEMATCH) also returns a name
		 * whose child is subscribed, with CHILDINFO ("SUBSCRIBED");
		 * RFC 3501 6.3.9: LSUB with '%' returns such a name \Noselect. */
		int childinfo = sel_sub && recursive && has_subscribed_child(&l, m->mi.name);
		int lsub_parent = lsub && !subscribed && pct && has_subscribed_child(&l, m->mi.name);
		if ((sel_sub || lsub) && !subscribed && !childinfo && !lsub_parent)
			continue;
		if (sel_special && !(m->exists && m->mi.special > MBOX_INBOX))
			continue;
		struct sbuf b = {0};
		sbuf_printf(&b, "* %s (", lsub ? "LSUB" : "LIST");
		int first = 1;
#define ATTR(x)                                                                                    \
	do {                                                                                       \
		if (!first)                                                                        \
			sbuf_puts(&b, " ");                                                        \
		sbuf_puts(&b, x);                                                                  \
		first = 0;                                                                         \
	} while (0)
		if (!m->exists)
			ATTR(lsub || !extended ? "\\Noselect" : "\\NonExistent");
		else if (lsub_parent)
			ATTR("\\Noselect");
		if (ret_children && !lsub)
			ATTR(has_children(&l, m->mi.name) ? "\\HasChildren" : "\\HasNoChildren");
		if (m->exists && m->mi.special > MBOX_INBOX && m->mi.special < 7)
			ATTR(roles[m->mi.special]);
		if (ret_sub && !lsub && subscribed)
			ATTR("\\Subscribed");
#undef ATTR
		sbuf_puts(&b, ") \"/\" ");
		imap_mbox_out(s, &b, m->mi.name);
		if (childinfo)
			sbuf_puts(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		sbuf_puts(&b, "\r\n");
		if (ret_status && m->exists)
			status_items(s, ret_status, m->mi.name, &b);
		imap_put(s, &b);
		sbuf_free(&b);
	}
	free(l.v);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

struct stat_ctx {
	uint32_t deleted;
};

static int count_deleted(void *arg, const struct msg_info *m)
{
	struct stat_ctx *c = arg;
	if (m->flags & FL_DELETED)
		c->deleted++;
	return 0;
}

/* STATUS RECENT (RFC 3501 6.3.10): the messages no session has yet had
 * as \Recent, those from the mailbox's recent boundary on. */
static uint32_t unclaimed_recent(struct imap_session *s, const char *name)
{
	uint32_t from = 0, n = 0;
	struct uid_run *runs = NULL;
	size_t nruns = 0;
	if (store_mbox_recent(s->srv->store, s->acct.id, name, 0, &from) == ST_OK &&
	    store_msg_runs(s->srv->store, s->acct.id, name, &runs, &nruns, NULL) == ST_OK)
		for (size_t i = 0; i < nruns; i++) {
			uint64_t end = (uint64_t)runs[i].first + runs[i].count; /* [first, end) */
			if (end > from)
				n += (uint32_t)(end - (runs[i].first > from ? runs[i].first : from));
		}
	free(runs);
	return n;
}

/* "* STATUS name (ITEM n ...)\r\n" into b; empty if the mailbox is gone. */
static void status_items(struct imap_session *s, const struct iarg *items, const char *name,
			 struct sbuf *b)
{
	struct mbox_info mi;
	if (store_mbox_get(s->srv->store, s->acct.id, name, &mi) != ST_OK)
		return;
	sbuf_puts(b, "* STATUS ");
	imap_mbox_out(s, b, name);
	sbuf_puts(b, " (");
	int first = 1;
	for (const struct iarg *it = items->kids; it; it = it->next) {
		if (!first)
			sbuf_puts(b, " ");
		first = 0;
		if (iarg_is_atom(it, "MESSAGES"))
			sbuf_printf(b, "MESSAGES %u", mi.exists);
		else if (iarg_is_atom(it, "UIDNEXT"))
			sbuf_printf(b, "UIDNEXT %u", mi.uidnext);
		else if (iarg_is_atom(it, "UIDVALIDITY"))
			sbuf_printf(b, "UIDVALIDITY %u", mi.uidvalidity);
		else if (iarg_is_atom(it, "UNSEEN"))
			sbuf_printf(b, "UNSEEN %u", mi.unseen);
		else if (iarg_is_atom(it, "RECENT"))
			sbuf_printf(b, "RECENT %u", unclaimed_recent(s, name));
		else if (iarg_is_atom(it, "SIZE"))
			sbuf_printf(b, "SIZE %llu", (unsigned long long)mi.size);
		else if (iarg_is_atom(it, "HIGHESTMODSEQ")) /* RFC 7162 3.1.6 */
			sbuf_printf(b, "HIGHESTMODSEQ %llu", (unsigned long long)mi.highestmodseq);
		else if (iarg_is_atom(it, "APPENDLIMIT")) /* RFC 7889 4: as advertised */
			sbuf_printf(b, "APPENDLIMIT %llu", (unsigned long long)s->in.big_max);
		else if (iarg_is_atom(it, "MAILBOXID")) { /* RFC 8474 4.3 */
			char id[OBJID_MAX];
			objid_mailbox(id, mi.id);
			sbuf_printf(b, "MAILBOXID (%s)", id);
		} else if (iarg_is_atom(it, "DELETED")) {
			struct stat_ctx c = {0};
			store_msg_list(s->srv->store, s->acct.id, name, 1, count_deleted, &c);
			sbuf_printf(b, "DELETED %u", c.deleted);
		} else if (iarg_is_atom(it, "DELETED-STORAGE")) /* RFC 9208 4.3, octets */
			sbuf_printf(b, "DELETED-STORAGE %llu",
				    (unsigned long long)imap_quota_deleted_storage(s, name));
		else
			first = 1;
	}
	sbuf_puts(b, ")\r\n");
}

static int status_items_ok(const struct iarg *items)
{
	static const char *const ok[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
					 "RECENT",   "SIZE",	"DELETED", "HIGHESTMODSEQ",
					 "DELETED-STORAGE", "APPENDLIMIT", "MAILBOXID"};
	if (!items || items->type != IA_LIST || !items->kids)
		return 0;
	for (const struct iarg *it = items->kids; it; it = it->next) {
		int good = 0;
		for (size_t i = 0; i < ARRAY_LEN(ok); i++)
			good |= iarg_is_atom(it, ok[i]);
		if (!good)
			return 0;
	}
	return 1;
}

void imap_cmd_status(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	const struct iarg *items = iarg_nth(s->cmd.args, 1);
	struct sbuf b = {0};

	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0 ||
	    !status_items_ok(items)) {
		imap_tagged(s, "BAD", "STATUS needs a mailbox and a list of known items");
		return;
	}
	for (const struct iarg *it = items->kids; it; it = it->next)
		if (iarg_is_atom(it, "HIGHESTMODSEQ"))
			imap_condstore_on(s); /* RFC 7162 3.1: CONDSTORE-enabling */
	imap_sync(s, 0);
	status_items(s, items, name, &b);
	if (!b.len) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	imap_put(s, &b);
	sbuf_free(&b);
	imap_tagged(s, "OK", "STATUS completed");
}
