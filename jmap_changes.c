/*
 * jmap_changes.c — what changed since a state (RFC 8620 5.2): Email/changes
 * and Mailbox/changes, and Thread/get (RFC 8621 3.1).
 *
 * The states carry what is needed (jmap_email.c, jmap_mailbox.c): the
 * Email state lists each mailbox's id, HIGHESTMODSEQ and UIDNEXT; the
 * Mailbox state each mailbox's id and two hashes (its properties, its
 * counts). Nothing is kept on the server, so a state stays usable across
 * restarts, for as long as the store remembers the expunges after it.
 *
 * Email/changes walks, in each mailbox, the messages whose MODSEQ is above
 * the state's and the UIDs expunged since (store_msg_changes_blob, the
 * index IMAP's QRESYNC uses, which keeps each expunged message's blob, that
 * is its Email id). An Email existed at the state when one of its places
 * (mailbox, UID) did: a UID below the mailbox's UIDNEXT of then. So an
 * Email with such a place, now or among the expunged, was there: it is
 * updated if it has a place now, else destroyed; one without is created
 * (or was created and destroyed in between, and is not mentioned).
 *
 * Threads: brev does not group messages into threads yet; each Email is
 * its own thread, "T" + its id (as Email/get's threadId says).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmap_int.h"
#include "mailbox.h"
#include "objid.h"
#include "server.h"
#include "util.h"

#define CHANGES_MAX 100000 /* candidate messages walked for one Email/changes */

struct snap {
	uint32_t id, a, b; /* Email: uidnext in a; Mailbox: the two hashes */
	uint64_t modseq;
};

/* Parse a state ("e" or "m" and "-ID.X.Y" items). NULL when it is not one
 * brev makes (or an "h" digest): cannotCalculateChanges. */
static struct snap *snap_parse(const char *s, char kind, size_t *n)
{
	size_t cap = 0;
	struct snap *v = NULL;
	*n = 0;
	if (!s || s[0] != kind)
		return NULL;
	for (s++; *s;) {
		unsigned id, b;
		unsigned long long x;
		int used = 0;
		if (sscanf(s, "-%x.%llx.%x%n", &id, &x, &b, &used) != 3 || used == 0 ||
		    (s[used] && s[used] != '-') || *n >= 100000) {
			free(v);
			return NULL;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[*n].id = id;
		v[*n].modseq = x;
		v[*n].a = (uint32_t)x;
		v[*n].b = b;
		(*n)++;
		s += used;
	}
	if (!v)
		v = xmalloc(sizeof *v); /* an account without mailboxes */
	return v;
}

static const struct snap *snap_find(const struct snap *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

static int get_max(struct jreq *r, json_t *args, json_int_t *max)
{
	json_t *m = json_object_get(args, "maxChanges"), *s = json_object_get(args, "sinceState");
	*max = 0;
	if (!json_is_string(s))
		return jmap_error(r, "invalidArguments", "sinceState");
	if (m && !json_is_null(m)) {
		if (!json_is_integer(m) || json_integer_value(m) <= 0)
			return jmap_error(r, "invalidArguments", "maxChanges must be positive");
		*max = json_integer_value(m);
	}
	return 0;
}

static json_t *ids_json(const uint64_t *v, size_t n, char kind)
{
	json_t *a = json_array();
	char id[OBJID_MAX];
	for (size_t i = 0; i < n; i++) {
		if (kind == 'E')
			objid_email(id, v[i]);
		else
			objid_mailbox(id, (uint32_t)v[i]);
		json_array_append_new(a, json_string(id));
	}
	return a;
}

static json_t *changes_reply(struct jreq *r, const char *old, const char *now, json_t *cr,
			     json_t *up, json_t *de)
{
	char acc[16];
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "accountId", acc, "oldState", old,
			 "newState", now, "hasMoreChanges", 0, "created", cr, "updated", up,
			 "destroyed", de);
}

/* ---- Email/changes ---- */

struct cand {
	uint64_t blob;
	int old; /* a place of it existed at the state */
};

struct walk {
	struct cand *v;
	size_t n, cap;
	uint32_t uidnext; /* the mailbox's UIDNEXT at the state */
	int fail;	  /* an expunge without its blob, or too many */
};

static int walk_cb(void *arg, uint32_t uid, const struct msg_info *m, uint64_t blob)
{
	struct walk *w = arg;
	(void)m;
	if (!blob || w->n >= CHANGES_MAX) {
		w->fail = 1;
		return 1;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->v = xrealloc(w->v, w->cap * sizeof *w->v);
	}
	w->v[w->n].blob = blob;
	w->v[w->n].old = uid < w->uidnext;
	w->n++;
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct cand *)a)->blob, y = ((const struct cand *)b)->blob;
	return x < y ? -1 : x > y;
}

static void push(uint64_t **v, size_t *n, uint64_t x)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = x;
}

json_t *jmap_email_changes(struct jreq *r, json_t *args)
{
	const char *since;
	char now[JMAP_STATE_MAX];
	struct jmap_mboxes l;
	struct snap *s;
	size_t ns, i;
	struct walk w = {0};
	uint64_t *cr = NULL, *up = NULL, *de = NULL;
	size_t ncr = 0, nup = 0, nde = 0;
	json_int_t max;
	json_t *out = NULL;

	if (jmap_check_account(r, args) < 0 || get_max(r, args, &max) < 0)
		return NULL;
	since = json_string_value(json_object_get(args, "sinceState"));
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	jmap_email_state(&l, now, sizeof now);
	if (!(s = snap_parse(since, 'e', &ns))) {
		free(l.v);
		return jmap_error(r, "cannotCalculateChanges", "not a state brev can start from"),
		       NULL;
	}
	/* a mailbox deleted since took its expunge records with it: unless it
	 * never held a message (UIDNEXT 1), what it held is unknown */
	for (i = 0; i < ns && !w.fail; i++) {
		size_t k;
		for (k = 0; k < l.n && l.v[k].id != s[i].id; k++)
			;
		if (k == l.n && s[i].b > 1)
			w.fail = 1;
	}
	for (i = 0; i < l.n && !w.fail; i++) {
		const struct snap *o = snap_find(s, ns, l.v[i].id);
		uint64_t ms = o ? o->modseq : 0;
		int stale = 0, rc;
		if (o && l.v[i].highestmodseq == ms)
			continue;
		w.uidnext = o ? o->b : 0;
		rc = store_msg_changes_blob(r->srv->store, r->a->id, l.v[i].name, ms, walk_cb, &w,
					    NULL, &stale);
		if (rc == ST_NOTFOUND)
			continue; /* deleted after the list was read: the next state tells */
		if (rc != ST_OK) {
			free(s);
			free(w.v);
			free(l.v);
			return jmap_error(r, "serverFail", "the store could not be read"), NULL;
		}
		if (stale)
			w.fail = 1;
	}
	if (w.fail) {
		free(s);
		free(w.v);
		free(l.v);
		return jmap_error(r, "cannotCalculateChanges",
				  "the changes since that state are no longer known"),
		       NULL;
	}
	if (w.n) /* qsort must not get NULL, even for nothing */
		qsort(w.v, w.n, sizeof *w.v, cand_cmp);
	for (i = 0; i < w.n;) {
		uint64_t blob = w.v[i].blob;
		int old = 0, have = 0;
		struct msg_place pl[64];
		size_t np = 0;
		for (; i < w.n && w.v[i].blob == blob; i++)
			old |= w.v[i].old;
		if (store_msg_places(r->srv->store, r->a->id, blob, pl, 64, &np) != ST_OK)
			np = 0;
		for (size_t k = 0; k < np && k < 64; k++) {
			const struct snap *o = snap_find(s, ns, pl[k].mbox_id);
			have = 1;
			if (o && pl[k].uid < o->b)
				old = 1;
		}
		if (old && have)
			push(&up, &nup, blob);
		else if (old)
			push(&de, &nde, blob);
		else if (have)
			push(&cr, &ncr, blob);
	}
	free(s);
	free(w.v);
	free(l.v);
	if (max && (json_int_t)(ncr + nup + nde) > max)
		jmap_error(r, "cannotCalculateChanges", "more changes than maxChanges");
	else
		out = changes_reply(r, since, now, ids_json(cr, ncr, 'E'), ids_json(up, nup, 'E'),
				    ids_json(de, nde, 'E'));
	free(cr);
	free(up);
	free(de);
	return out;
}

/* ---- Mailbox/changes ---- */

json_t *jmap_mailbox_changes(struct jreq *r, json_t *args)
{
	const char *since;
	char now[JMAP_STATE_MAX];
	struct jmap_mboxes l;
	struct snap *s, *c;
	size_t ns, nc, i;
	uint64_t *cr = NULL, *up = NULL, *de = NULL;
	size_t ncr = 0, nup = 0, nde = 0;
	int props = 0;
	json_int_t max;
	json_t *out = NULL;

	if (jmap_check_account(r, args) < 0 || get_max(r, args, &max) < 0)
		return NULL;
	since = json_string_value(json_object_get(args, "sinceState"));
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	jmap_mailbox_state_of(&l, now, sizeof now);
	free(l.v);
	if (!(s = snap_parse(since, 'm', &ns)) || !(c = snap_parse(now, 'm', &nc))) {
		free(s);
		return jmap_error(r, "cannotCalculateChanges", "not a state brev can start from"),
		       NULL;
	}
	for (i = 0; i < nc; i++) {
		const struct snap *o = snap_find(s, ns, c[i].id);
		if (!o)
			push(&cr, &ncr, c[i].id);
		else if (o->a != c[i].a || o->b != c[i].b) {
			push(&up, &nup, c[i].id);
			props |= o->a != c[i].a;
		}
	}
	for (i = 0; i < ns; i++)
		if (!snap_find(c, nc, s[i].id))
			push(&de, &nde, s[i].id);
	free(s);
	free(c);
	if (max && (json_int_t)(ncr + nup + nde) > max)
		jmap_error(r, "cannotCalculateChanges", "more changes than maxChanges");
	else {
		out = changes_reply(r, since, now, ids_json(cr, ncr, 'M'), ids_json(up, nup, 'M'),
				    ids_json(de, nde, 'M'));
		/* RFC 8621 2.2: only counts changed: say which */
		json_object_set_new(out, "updatedProperties",
				    props || !nup
					? json_null()
					: json_pack("[s, s, s, s]", "totalEmails", "unreadEmails",
						    "totalThreads", "unreadThreads"));
	}
	free(cr);
	free(up);
	free(de);
	return out;
}

/* ---- Thread/get ---- */

json_t *jmap_thread_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *list, *notfound, *v;
	struct jmap_mboxes l;
	char state[JMAP_STATE_MAX], acc[16];
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (!json_is_array(ids))
		return jmap_error(r, "invalidArguments", "ids must be a list (there is no list of "
							 "all threads)"),
		       NULL;
	if (json_array_size(ids) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInGet"), NULL;
	json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "ids holds a non-string"),
	    NULL;
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v)
	{
		const char *t = json_string_value(v);
		uint64_t blob;
		struct msg_place pl[1];
		size_t np = 0;
		if (t[0] == 'T' && objid_email_parse(t + 1, &blob) == 0 &&
		    store_msg_places(r->srv->store, r->a->id, blob, pl, 1, &np) == ST_OK && np)
			json_array_append_new(list, json_pack("{s:s, s:[s]}", "id", t, "emailIds",
							      t + 1));
		else
			json_array_append(notfound, v);
	}
	jmap_email_state(&l, state, sizeof state);
	free(l.v);
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", state, "list", list,
			 "notFound", notfound);
}

/* ---- SearchSnippet/get (RFC 8621 5.1) ---- */

json_t *jmap_snippet_get(struct jreq *r, json_t *args)
{
	json_t *filter = json_object_get(args, "filter"), *ids = json_object_get(args, "emailIds");
	json_t *list, *notfound, *v;
	struct jmap_mboxes l;
	const char *k;
	char acc[16];
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (!json_is_array(ids))
		return jmap_error(r, "invalidArguments", "emailIds must be a list"), NULL;
	if (json_array_size(ids) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInGet"), NULL;
	json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "emailIds holds a non-string"),
	    NULL;
	if (filter && !json_is_null(filter) && !json_is_object(filter))
		return jmap_error(r, "invalidArguments", "filter"), NULL;
	json_object_foreach(filter, k, v) if (!json_is_string(v) ||
					      (strcmp(k, "inMailbox") && !jmap_filter_cond(k))) return jmap_error(r, "unsupportedFilter", k),
	    NULL;
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v)
	{
		struct msg_info m;
		const struct mbox_info *mi;
		if (jmap_email_locate(r, &l, json_string_value(v), &m, &mi) < 0)
			json_array_append(notfound, v);
		else
			json_array_append_new(
			    list, jmap_snippet(r, m.blob, m.size, json_string_value(v), filter));
	}
	free(l.v);
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:o, s:o}", "accountId", acc, "list", list, "notFound", notfound);
}
