/*
 * jmap_mailbox.c — JMAP Mailbox/get and Mailbox/query (RFC 8621 2.1, 2.3)
 * over the store's mailboxes: the same mailboxes, names and counts IMAP
 * shows. A mailbox's id is IMAP's MAILBOXID (objid.h); its role comes
 * from its SPECIAL-USE; its name is the last part of the IMAP name when
 * the parent exists (parentId), else the whole IMAP name.
 *
 * The Mailbox state is a digest of every mailbox's id, name, subscription,
 * counts and HIGHESTMODSEQ: it changes whenever anything Mailbox/get
 * shows does (Mailbox/changes, which needs a history, is not here).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "objid.h"
#include "server.h"
#include "util.h"

void jmap_mboxes_collect(void *arg, const struct mbox_info *m)
{
	struct jmap_mboxes *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = *m;
}

/* All the account's mailboxes, or -1 with serverFail set. */
int jmap_mboxes_load(struct jreq *r, struct jmap_mboxes *l)
{
	memset(l, 0, sizeof *l);
	if (store_mbox_list(r->srv->store, r->a->id, jmap_mboxes_collect, l) != ST_OK) {
		free(l->v);
		l->v = NULL;
		return jmap_error(r, "serverFail", "the store could not be read");
	}
	return 0;
}

static void state_of(const struct jmap_mboxes *l, char *buf, size_t cap);

int jmap_mailbox_state_get(const struct server *srv, uint32_t user, char *buf, size_t cap)
{
	struct jmap_mboxes l = {0};
	int rc = store_mbox_list(srv->store, user, jmap_mboxes_collect, &l);
	if (rc == ST_OK)
		state_of(&l, buf, cap);
	free(l.v);
	return rc == ST_OK ? 0 : -1;
}

static const char *role_of(int special)
{
	switch (special) {
	case MBOX_INBOX:
		return "inbox";
	case MBOX_DRAFTS:
		return "drafts";
	case MBOX_SENT:
		return "sent";
	case MBOX_JUNK:
		return "junk";
	case MBOX_TRASH:
		return "trash";
	case MBOX_ARCHIVE:
		return "archive";
	}
	return NULL;
}

/* FNV-1a, 64 bits: the state digest (not a security property). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* A mailbox's two hashes in the state: its properties (name, hence
 * parentId; subscription; role) and its counts (with HIGHESTMODSEQ, so a
 * flag change is a change of the mailbox too, as it always was). */
static uint32_t props_hash(const struct mbox_info *m)
{
	uint64_t f = (uint64_t)m->subscribed << 32 | (uint64_t)m->special;
	uint64_t h = fnv(0xcbf29ce484222325ULL, &f, sizeof f);
	return (uint32_t)(fnv(h, m->name, strlen(m->name) + 1) >> 16);
}

static uint32_t counts_hash(const struct mbox_info *m)
{
	uint64_t f[3] = {m->highestmodseq, m->exists, m->unseen};
	return (uint32_t)(fnv(0xcbf29ce484222325ULL, f, sizeof f) >> 16);
}

/* The Mailbox state: "m" then, for each mailbox, "-ID.PROPS.COUNTS" (hex;
 * the two hashes above), which Mailbox/changes compares with the list of
 * now. An account whose list does not fit gets "h" and a digest. */
static void state_of(const struct jmap_mboxes *l, char *buf, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = 1;
	buf[0] = 'm';
	buf[1] = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct mbox_info *m = &l->v[i];
		uint64_t f[5] = {m->id, m->highestmodseq, m->exists, m->unseen,
				 (uint64_t)m->subscribed << 32 | (uint64_t)m->special};
		h = fnv(h, f, sizeof f);
		h = fnv(h, m->name, strlen(m->name) + 1);
		if (n < cap) {
			int w = snprintf(buf + n, cap - n, "-%x.%x.%x", m->id, props_hash(m),
					 counts_hash(m));
			n = w < 0 || (size_t)w >= cap - n ? cap : n + (size_t)w;
		}
	}
	if (n >= cap)
		snprintf(buf, cap, "h%016llx", (unsigned long long)h);
}

void jmap_mailbox_state_of(const struct jmap_mboxes *l, char *buf, size_t cap)
{
	state_of(l, buf, cap);
}

/* RFC 8621 2: the same string IMAP's OBJECTID gives as MAILBOXID. */
static void mbox_id(const struct mbox_info *m, char buf[OBJID_MAX])
{
	objid_mailbox(buf, m->id);
}

/* The mailbox whose IMAP name is the first n bytes of name, or NULL. */
static const struct mbox_info *by_name(const struct jmap_mboxes *l, const char *name, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].name) == n && strncmp(l->v[i].name, name, n) == 0)
			return &l->v[i];
	return NULL;
}

static const struct mbox_info *parent_of(const struct jmap_mboxes *l, const struct mbox_info *m)
{
	const char *slash = strrchr(m->name, '/');
	return slash ? by_name(l, m->name, (size_t)(slash - m->name)) : NULL;
}

static const char *leaf_name(const struct jmap_mboxes *l, const struct mbox_info *m)
{
	return parent_of(l, m) ? strrchr(m->name, '/') + 1 : m->name;
}

static const char *const props[] = {
    "id",	    "name",	    "parentId",	     "role",	 "sortOrder",	 "totalEmails",
    "unreadEmails", "totalThreads", "unreadThreads", "myRights", "isSubscribed",
};

static json_t *to_json(const struct jmap_mboxes *l, const struct mbox_info *m)
{
	const struct mbox_info *p = parent_of(l, m);
	const char *role = role_of(m->special);
	char id[OBJID_MAX], pid[OBJID_MAX];
	int inbox = m->special == MBOX_INBOX;

	mbox_id(m, id);
	if (p)
		mbox_id(p, pid);
	/* No threads yet: each message counts as its own thread. */
	return json_pack(
	    "{s:s, s:s, s:o, s:o, s:i, s:I, s:I, s:I, s:I, s:{s:b, s:b, s:b, s:b, s:b, "
	    "s:b, s:b, s:b, s:b}, s:b}",
	    "id", id, "name", leaf_name(l, m), "parentId", p ? json_string(pid) : json_null(),
	    "role", role ? json_string(role) : json_null(), "sortOrder", inbox ? 0 : 10,
	    "totalEmails", (json_int_t)m->exists, "unreadEmails", (json_int_t)m->unseen,
	    "totalThreads", (json_int_t)m->exists, "unreadThreads", (json_int_t)m->unseen,
	    "myRights", "mayReadItems", 1, "mayAddItems", 1, "mayRemoveItems", 1, "maySetSeen", 1,
	    "maySetKeywords", 1, "mayCreateChild", 1, "mayRename", !inbox, "mayDelete", !inbox,
	    "maySubmit", 1, "isSubscribed", m->subscribed);
}

static const struct mbox_info *by_id(const struct jmap_mboxes *l, const char *id)
{
	char buf[OBJID_MAX];
	for (size_t i = 0; i < l->n; i++) {
		mbox_id(&l->v[i], buf);
		if (strcmp(buf, id) == 0)
			return &l->v[i];
	}
	return NULL;
}

/* Keep only the requested properties (and id, always). */
static int pick(json_t *obj, json_t *want)
{
	const char *k;
	json_t *v, *tmp;
	if (!want || json_is_null(want))
		return 0;
	json_object_foreach_safe(obj, tmp, k, v)
	{
		size_t i;
		json_t *w;
		int keep = strcmp(k, "id") == 0;
		json_array_foreach(want, i, w) if (strcmp(json_string_value(w), k) == 0) keep = 1;
		if (!keep)
			json_object_del(obj, k);
	}
	return 0;
}

/* properties: null or known names only. */
static int check_props(struct jreq *r, json_t *want)
{
	size_t i;
	json_t *w;
	if (!want || json_is_null(want))
		return 0;
	if (!json_is_array(want))
		return jmap_error(r, "invalidArguments", "properties is not an array");
	json_array_foreach(want, i, w)
	{
		int known = 0;
		if (!json_is_string(w))
			return jmap_error(r, "invalidArguments", "properties holds a non-string");
		for (size_t p = 0; p < ARRAY_LEN(props); p++)
			known |= strcmp(props[p], json_string_value(w)) == 0;
		if (!known)
			return jmap_error(r, "invalidArguments", "unknown property");
	}
	return 0;
}

json_t *jmap_mailbox_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *want = json_object_get(args, "properties");
	json_t *list, *notfound, *v;
	struct jmap_mboxes l;
	char state[JMAP_STATE_MAX], acc[16];
	size_t i;

	if (jmap_check_account(r, args) < 0 || check_props(r, want) < 0)
		return NULL;
	if (ids && !json_is_null(ids)) {
		if (!json_is_array(ids))
			return jmap_error(r, "invalidArguments", "ids is not an array"), NULL;
		if (json_array_size(ids) > JMAP_MAX_OBJECTS)
			return jmap_error(r, "requestTooLarge", "more ids than maxObjectsInGet"),
			       NULL;
		json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
		    r, "invalidArguments", "ids holds a non-string"),
		    NULL;
	}
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	if (!ids || json_is_null(ids)) {
		for (i = 0; i < l.n; i++) {
			json_t *o = to_json(&l, &l.v[i]);
			pick(o, want);
			json_array_append_new(list, o);
		}
	} else {
		json_array_foreach(ids, i, v)
		{
			const struct mbox_info *m = by_id(&l, json_string_value(v));
			if (!m) {
				json_array_append(notfound, v);
				continue;
			}
			json_t *o = to_json(&l, m);
			pick(o, want);
			json_array_append_new(list, o);
		}
	}
	state_of(&l, state, sizeof state);
	jmap_account_id(r->a, acc, sizeof acc);
	free(l.v);
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", state, "list", list,
			 "notFound", notfound);
}

/* ---- Mailbox/query ---- */

struct cond {
	int has_parent, has_role, has_any_role, has_sub, has_name;
	const char *parent; /* NULL: top level */
	const char *role;   /* NULL: no role */
	int any_role, sub;
	const char *name;
};

static int parse_filter(struct jreq *r, json_t *f, struct cond *c)
{
	const char *k;
	json_t *v;
	memset(c, 0, sizeof *c);
	if (!f || json_is_null(f))
		return 0;
	if (!json_is_object(f))
		return jmap_error(r, "invalidArguments", "filter is not an object");
	json_object_foreach(f, k, v)
	{
		if (!strcmp(k, "parentId") && (json_is_string(v) || json_is_null(v))) {
			c->has_parent = 1;
			c->parent = json_string_value(v);
		} else if (!strcmp(k, "role") && (json_is_string(v) || json_is_null(v))) {
			c->has_role = 1;
			c->role = json_string_value(v);
		} else if (!strcmp(k, "hasAnyRole") && json_is_boolean(v)) {
			c->has_any_role = 1;
			c->any_role = json_is_true(v);
		} else if (!strcmp(k, "isSubscribed") && json_is_boolean(v)) {
			c->has_sub = 1;
			c->sub = json_is_true(v);
		} else if (!strcmp(k, "name") && json_is_string(v)) {
			c->has_name = 1;
			c->name = json_string_value(v);
		} else
			return jmap_error(r, "unsupportedFilter", k); /* also FilterOperator */
	}
	return 0;
}

/* ASCII case-insensitive substring (the i;ascii-casemap collation). */
static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (str_ncasecmp_ascii(p, needle, n) == 0)
			return 1;
	return n == 0;
}

static int matches(const struct jmap_mboxes *l, const struct mbox_info *m, const struct cond *c)
{
	const struct mbox_info *p = parent_of(l, m);
	const char *role = role_of(m->special);
	char pid[OBJID_MAX];

	if (c->has_parent) {
		if (p)
			mbox_id(p, pid);
		if (c->parent ? !p || strcmp(pid, c->parent) != 0 : p != NULL)
			return 0;
	}
	if (c->has_role && (c->role ? !role || strcmp(role, c->role) != 0 : role != NULL))
		return 0;
	if (c->has_any_role && c->any_role != (role != NULL))
		return 0;
	if (c->has_sub && c->sub != !!m->subscribed)
		return 0;
	if (c->has_name && !contains(leaf_name(l, m), c->name))
		return 0;
	return 1;
}

/* sort: null, or one comparator on name or sortOrder */
static int parse_sort(struct jreq *r, json_t *s, int *by_name_, int *asc)
{
	json_t *c;
	const char *prop;
	int isasc = 1;
	*by_name_ = 0;
	*asc = 1;
	if (!s || json_is_null(s))
		return 0;
	if (!json_is_array(s) || json_array_size(s) > 1)
		return jmap_error(r, "unsupportedSort", "one comparator at most");
	if (json_array_size(s) == 0)
		return 0;
	c = json_array_get(s, 0);
	if (json_unpack(c, "{s:s, s?b}", "property", &prop, "isAscending", &isasc) < 0)
		return jmap_error(r, "invalidArguments", "a Comparator has a property");
	if (strcmp(prop, "name") && strcmp(prop, "sortOrder"))
		return jmap_error(r, "unsupportedSort", prop);
	*by_name_ = strcmp(prop, "name") == 0;
	*asc = isasc;
	return 0;
}

static const struct jmap_mboxes *sort_list;
static int sort_by_name, sort_asc;

static int cmp_mbox(const void *a, const void *b)
{
	const struct mbox_info *x = *(const struct mbox_info *const *)a;
	const struct mbox_info *y = *(const struct mbox_info *const *)b;
	int d;
	if (sort_by_name)
		d = strcmp(leaf_name(sort_list, x), leaf_name(sort_list, y));
	else
		d = (x->special != MBOX_INBOX) - (y->special != MBOX_INBOX);
	if (!d)
		d = x->id < y->id ? -1 : x->id > y->id;
	return sort_asc ? d : -d;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

json_t *jmap_mailbox_query(struct jreq *r, json_t *args)
{
	struct cond c;
	struct jmap_mboxes l;
	const struct mbox_info **hits;
	json_int_t position = 0, limit = -1;
	int byname, asc, total = 0;
	size_t n = 0;
	json_t *ids, *out, *v;
	char state[JMAP_STATE_MAX], acc[16], id[OBJID_MAX];

	if (jmap_check_account(r, args) < 0 ||
	    parse_filter(r, json_object_get(args, "filter"), &c) < 0 ||
	    parse_sort(r, json_object_get(args, "sort"), &byname, &asc) < 0)
		return NULL;
	if ((v = json_object_get(args, "position")) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return jmap_error(r, "invalidArguments", "position"), NULL;
		position = json_integer_value(v);
	}
	if ((v = json_object_get(args, "limit")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return jmap_error(r, "invalidArguments", "limit"), NULL;
		limit = json_integer_value(v);
	}
	if ((v = json_object_get(args, "anchor")) && !json_is_null(v))
		return jmap_error(r, "unsupportedFilter", "anchor is not supported"), NULL;
	if ((v = json_object_get(args, "sortAsTree")) && json_is_true(v))
		return jmap_error(r, "unsupportedSort", "sortAsTree"), NULL;
	if ((v = json_object_get(args, "filterAsTree")) && json_is_true(v))
		return jmap_error(r, "unsupportedFilter", "filterAsTree"), NULL;
	total = json_is_true(json_object_get(args, "calculateTotal"));
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	hits = xcalloc(l.n + 1, sizeof *hits);
	for (size_t i = 0; i < l.n; i++)
		if (matches(&l, &l.v[i], &c))
			hits[n++] = &l.v[i];
	/* qsort has no argument: one sort at a time */
	pthread_mutex_lock(&sort_lock);
	sort_list = &l;
	sort_by_name = byname;
	sort_asc = asc;
	qsort(hits, n, sizeof *hits, cmp_mbox);
	pthread_mutex_unlock(&sort_lock);
	/* RFC 8620 5.5: a negative position counts from the end */
	if (position < 0)
		position = (json_int_t)n + position < 0 ? 0 : (json_int_t)n + position;
	ids = json_array();
	for (size_t i = (size_t)position;
	     i < n && (limit < 0 || (json_int_t)(i - (size_t)position) < limit); i++) {
		mbox_id(hits[i], id);
		json_array_append_new(ids, json_string(id));
	}
	state_of(&l, state, sizeof state);
	jmap_account_id(r->a, acc, sizeof acc);
	out = json_pack("{s:s, s:s, s:b, s:I, s:o}", "accountId", acc, "queryState", state,
			"canCalculateChanges", 0, "position", position, "ids", ids);
	if (total)
		json_object_set_new(out, "total", json_integer((json_int_t)n));
	free(hits);
	free(l.v);
	return out;
}

json_t *jmap_mail_account_capability(const struct server *srv)
{
	return json_pack("{s:n, s:n, s:i, s:I, s:[s], s:b}", "maxMailboxesPerEmail",
			 "maxMailboxDepth", "maxSizeMailboxName", STORE_MBOX_MAX,
			 "maxSizeAttachmentsPerEmail", (json_int_t)srv->cfg->message_size,
			 "emailQuerySortOptions", "receivedAt", "mayCreateTopLevelMailbox", 1);
}

/* ---- Mailbox/set (RFC 8621 2.5): create, rename/move, subscribe, destroy ----
 *
 * Each change is the IMAP command's store call (CREATE, RENAME, SUBSCRIBE,
 * DELETE), so IMAP sees it as it sees another session's. The IMAP name is
 * the parent's name, "/", and the JMAP name. A destroy takes the
 * mailbox's copies of its messages with it (RFC 8621 2.5: with
 * onDestroyRemoveEmails; an Email also in another mailbox stays there). */

/* Read the mailboxes again after a change: NULL, or serverFail (the
 * list is then empty, so later entries are notFound). */
static json_t *reload(struct jreq *r, struct jmap_mboxes *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
	if (store_mbox_list(r->srv->store, r->a->id, jmap_mboxes_collect, l) == ST_OK)
		return NULL;
	free(l->v);
	memset(l, 0, sizeof *l);
	return json_pack("{s:s}", "type", "serverFail");
}

static json_t *mset_error(const char *type, const char *prop)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (prop)
		json_object_set_new(e, "properties", json_pack("[s]", prop));
	return e;
}

/* The IMAP name for JMAP name under parent (NULL: top level) into out:
 * NULL, or the SetError. A name a client gives has no "/"; a kept one
 * (keep_slash) may: an IMAP "A/B" whose "A" does not exist is named
 * "A/B" at the top level. */
static json_t *imap_name(json_t *name, const struct mbox_info *parent, char *out, size_t cap,
			 int keep_slash)
{
	const char *n = json_string_value(name);
	int len;
	if (!n || !*n || (!keep_slash && strchr(n, '/')))
		return mset_error("invalidProperties", "name");
	len = parent ? snprintf(out, cap, "%s/%s", parent->name, n) : snprintf(out, cap, "%s", n);
	if (len < 0 || (size_t)len >= cap)
		return mset_error("invalidProperties", "name");
	return NULL;
}

/* parentId: null (top level) or a mailbox, or "#c" for one created
 * earlier in this call. 0, or -1 when it names none. */
static int parent_arg(const struct jmap_mboxes *l, json_t *created, json_t *v,
		      const struct mbox_info **out)
{
	const char *id = json_string_value(v);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (id && id[0] == '#')
		id = json_string_value(json_object_get(json_object_get(created, id + 1), "id"));
	return id && (*out = by_id(l, id)) ? 0 : -1;
}

/* Only name, parentId, isSubscribed may be given (role and sortOrder
 * only as they are): the failing property, or NULL. */
static const char *mset_props(json_t *o, const struct mbox_info *m)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (!strcmp(k, "name") || !strcmp(k, "parentId"))
			continue;
		if (!strcmp(k, "isSubscribed") && json_is_boolean(v))
			continue;
		if (!strcmp(k, "role") &&
		    (json_is_null(v) ? !m || !role_of(m->special)
				     : m && role_of(m->special) && json_is_string(v) &&
					   !strcmp(json_string_value(v), role_of(m->special))))
			continue;
		return k;
	}
	return NULL;
}

static json_t *mbox_create(struct jreq *r, struct jmap_mboxes *l, json_t *created, json_t *o,
			   const char **id_out, char *idbuf)
{
	const struct mbox_info *parent;
	char name[STORE_MBOX_MAX + 1];
	const char *bad;
	json_t *e;
	int rc;
	if (!json_is_object(o))
		return mset_error("invalidProperties", NULL);
	if ((bad = mset_props(o, NULL)))
		return mset_error("invalidProperties", bad);
	if (parent_arg(l, created, json_object_get(o, "parentId"), &parent) < 0)
		return mset_error("invalidProperties", "parentId");
	if ((e = imap_name(json_object_get(o, "name"), parent, name, sizeof name, 0)))
		return e;
	rc = store_mbox_create(r->srv->store, r->a->id, name, 0);
	if (rc == ST_EXISTS)
		return mset_error("alreadyExists", "name");
	if (rc == ST_INVALID)
		return mset_error("invalidProperties", "name");
	if (!rc && json_is_true(json_object_get(o, "isSubscribed")))
		rc = store_mbox_subscribe(r->srv->store, r->a->id, name, 1);
	if (rc)
		return mset_error("serverFail", NULL);
	if ((e = reload(r, l)))
		return e;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name)) {
			mbox_id(&l->v[i], idbuf);
			*id_out = idbuf;
		}
	return NULL;
}

static json_t *mbox_update(struct jreq *r, struct jmap_mboxes *l, json_t *created, const char *id,
			   json_t *o)
{
	const struct mbox_info *m = by_id(l, id), *parent;
	char name[STORE_MBOX_MAX + 1], old[STORE_MBOX_MAX + 1];
	json_t *v, *e, *leaf;
	const char *bad;
	int rc = ST_OK, sub;
	if (!m)
		return mset_error("notFound", NULL);
	if (!json_is_object(o))
		return mset_error("invalidPatch", NULL);
	if ((bad = mset_props(o, m)))
		return mset_error("invalidProperties", bad);
	snprintf(old, sizeof old, "%s", m->name);
	sub = m->subscribed;
	if ((v = json_object_get(o, "parentId"))) {
		if (parent_arg(l, created, v, &parent) < 0)
			return mset_error("invalidProperties", "parentId");
	} else
		parent = parent_of(l, m);
	leaf = json_object_get(o, "name") ? json_incref(json_object_get(o, "name"))
					  : json_string(leaf_name(l, m));
	e = imap_name(leaf, parent, name, sizeof name, !json_object_get(o, "name"));
	json_decref(leaf);
	if (e)
		return e;
	if (strcmp(name, old)) {
		size_t ol = strlen(old);
		if (m->special == MBOX_INBOX)
			return mset_error("forbidden", "name");
		/* a mailbox cannot go under itself */
		if (!strncmp(name, old, ol) && name[ol] == '/')
			return mset_error("invalidProperties", "parentId");
		rc = store_mbox_rename(r->srv->store, r->a->id, old, name);
		if (rc == ST_EXISTS)
			return mset_error("alreadyExists", "name");
		if (rc == ST_INVALID)
			return mset_error("invalidProperties", "name");
	}
	if (!rc && (v = json_object_get(o, "isSubscribed")) && json_is_true(v) != sub)
		rc = store_mbox_subscribe(r->srv->store, r->a->id, name, json_is_true(v));
	if (rc)
		return mset_error("serverFail", NULL);
	return reload(r, l);
}

static json_t *mbox_destroy(struct jreq *r, struct jmap_mboxes *l, const char *id, int remove)
{
	const struct mbox_info *m = by_id(l, id);
	size_t nl;
	int rc;
	if (!m)
		return mset_error("notFound", NULL);
	if (m->special == MBOX_INBOX)
		return mset_error("forbidden", NULL);
	nl = strlen(m->name);
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->v[i].name, m->name, nl) && l->v[i].name[nl] == '/')
			return mset_error("mailboxHasChild", NULL);
	if (m->exists && !remove)
		return mset_error("mailboxHasEmail", NULL);
	rc = store_mbox_delete(r->srv->store, r->a->id, m->name);
	if (rc && rc != ST_NOTFOUND)
		return mset_error("serverFail", NULL);
	return reload(r, l);
}

json_t *jmap_mailbox_set(struct jreq *r, json_t *args)
{
	json_t *create = json_object_get(args, "create"), *update = json_object_get(args, "update"),
	       *destroy = json_object_get(args, "destroy"),
	       *ifin = json_object_get(args, "ifInState"),
	       *rm = json_object_get(args, "onDestroyRemoveEmails");
	json_t *created, *notcre, *updated, *notupd, *destroyed, *notdes, *v;
	struct jmap_mboxes l;
	char old[JMAP_STATE_MAX], now[JMAP_STATE_MAX], acc[16], idbuf[OBJID_MAX];
	const char *k;
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if ((create && !json_is_null(create) && !json_is_object(create)) ||
	    (update && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy && !json_is_null(destroy) && !json_is_array(destroy)) ||
	    (ifin && !json_is_null(ifin) && !json_is_string(ifin)) || (rm && !json_is_boolean(rm)))
		return jmap_error(r, "invalidArguments",
				  "create, update, destroy, ifInState, onDestroyRemoveEmails"),
		       NULL;
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInSet"), NULL;
	json_array_foreach(destroy, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "destroy holds a non-string"),
	    NULL;
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	state_of(&l, old, sizeof old);
	if (ifin && json_is_string(ifin) && strcmp(json_string_value(ifin), old)) {
		free(l.v);
		return jmap_error(r, "stateMismatch", "ifInState is not the current state"), NULL;
	}
	created = json_object();
	notcre = json_object();
	updated = json_object();
	notupd = json_object();
	destroyed = json_array();
	notdes = json_object();
	/* RFC 8620 5.3: creates, then updates, then destroys */
	json_object_foreach(create, k, v)
	{
		const char *id = NULL;
		json_t *e = mbox_create(r, &l, created, v, &id, idbuf);
		if (!e && !id)
			e = mset_error("serverFail", NULL);
		if (e)
			json_object_set_new(notcre, k, e);
		else if (by_id(&l, id))
			json_object_set_new(created, k, to_json(&l, by_id(&l, id)));
		else /* deleted over IMAP in between */
			json_object_set_new(notcre, k, mset_error("serverFail", NULL));
	}
	json_object_foreach(update, k, v)
	{
		json_t *e = mbox_update(r, &l, created, k, v);
		json_object_set_new(e ? notupd : updated, k, e ? e : json_null());
	}
	json_array_foreach(destroy, i, v)
	{
		json_t *e = mbox_destroy(r, &l, json_string_value(v), json_is_true(rm));
		if (e)
			json_object_set_new(notdes, json_string_value(v), e);
		else
			json_array_append(destroyed, v);
	}
	state_of(&l, now, sizeof now);
	free(l.v);
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "accountId", acc,
			 "oldState", old, "newState", now, "created", created, "notCreated", notcre,
			 "updated", updated, "notUpdated", notupd, "destroyed", destroyed,
			 "notDestroyed", notdes);
}
