/*
 * jmap_email.c — the first of JMAP's Email methods (RFC 8621 4.4, 4.2):
 * Email/query by mailbox, sorted by receivedAt, and Email/get of the
 * properties the store answers without parsing bodies (id, blobId,
 * threadId, mailboxIds, keywords from the IMAP flags, size, receivedAt)
 * and the Subject header.
 *
 * An Email's id is IMAP's EMAILID (objid.h): "E" and the message's blob
 * id. COPY and MOVE keep the blob, so a message in several mailboxes is
 * one Email whose mailboxIds name them all (RFC 8621 4.1.1), and a move
 * keeps the id; Email/get finds the messages through the store's blob
 * index (store_msg_places). Each Email is its own thread ("T" + the Email
 * id) until threads are built.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "message.h"
#include "objid.h"
#include "server.h"
#include "util.h"

#define EMAIL_QUERY_MAX	 1000	     /* ids in one Email/query answer */
#define EMAIL_HEADER_MAX (64 * 1024) /* header bytes read for Subject */

struct hit {
	int64_t date;
	uint32_t mbox, uid;
	const struct mbox_info *mi;
	struct msg_info m;
};

struct hits {
	struct hit *v;
	size_t n, cap;
	const struct mbox_info *mi;
};

static int collect_msg(void *arg, const struct msg_info *m)
{
	struct hits *h = arg;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xrealloc(h->v, h->cap * sizeof *h->v);
	}
	h->v[h->n].date = m->internaldate;
	h->v[h->n].mbox = h->mi->id;
	h->v[h->n].uid = m->uid;
	h->v[h->n].mi = h->mi;
	h->v[h->n].m = *m;
	h->n++;
	return 0;
}

struct mlist {
	struct mbox_info *v;
	size_t n, cap;
};

static void collect_mbox(void *arg, const struct mbox_info *m)
{
	struct mlist *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = *m;
}

#define EMAIL_PLACES_MAX 64 /* mailboxIds shown for one Email */

static void email_id(uint64_t blob, char buf[OBJID_MAX])
{
	objid_email(buf, blob);
}

/* A digest of the mailboxes' ids and HIGHESTMODSEQ, UIDNEXT and counts:
 * it changes whenever a message is added, removed or changes flags. */
static void email_state(const struct mlist *l, char *buf, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < l->n; i++) {
		uint64_t f[4] = {l->v[i].id, l->v[i].highestmodseq, l->v[i].uidnext,
				 l->v[i].exists};
		const unsigned char *b = (const unsigned char *)f;
		for (size_t k = 0; k < sizeof f; k++)
			h = (h ^ b[k]) * 0x100000001b3ULL;
	}
	snprintf(buf, cap, "%016llx", (unsigned long long)h);
}

static int load_mboxes(struct jreq *r, struct mlist *l)
{
	memset(l, 0, sizeof *l);
	if (store_mbox_list(r->srv->store, r->a->id, collect_mbox, l) != ST_OK) {
		free(l->v);
		l->v = NULL;
		return jmap_error(r, "serverFail", "the store could not be read");
	}
	return 0;
}

static const struct mbox_info *mbox_by_id(const struct mlist *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

static const struct mbox_info *mbox_by_jid(const struct mlist *l, const char *jid)
{
	uint32_t id;
	if (!jid || objid_mailbox_parse(jid, &id) < 0)
		return NULL;
	return mbox_by_id(l, id);
}

/* Whether blob was seen before; adds it. An open-addressing set of cap
 * (a power of two, more than the number of adds) slots; 0 is empty, and
 * blob ids start at 1. */
static int blob_seen(uint64_t *set, size_t cap, uint64_t blob)
{
	size_t i = (size_t)((blob * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
	while (set[i]) {
		if (set[i] == blob)
			return 1;
		i = (i + 1) & (cap - 1);
	}
	set[i] = blob;
	return 0;
}

static int sort_asc;

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	int d = x->date < y->date ? -1 : x->date > y->date;
	if (!d)
		d = x->mbox < y->mbox ? -1 : x->mbox > y->mbox;
	if (!d)
		d = x->uid < y->uid ? -1 : x->uid > y->uid;
	return sort_asc ? d : -d;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

json_t *jmap_email_query(struct jreq *r, json_t *args)
{
	json_t *filter = json_object_get(args, "filter"), *sort = json_object_get(args, "sort"), *v;
	const struct mbox_info *in = NULL;
	struct mlist l;
	struct hits h = {0};
	json_int_t position = 0, limit = EMAIL_QUERY_MAX;
	int asc = 0, capped = 0;
	json_t *ids, *out;
	char state[32], acc[16], id[32];

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (filter && !json_is_null(filter)) {
		const char *k;
		if (!json_is_object(filter))
			return jmap_error(r, "invalidArguments", "filter is not an object"), NULL;
		json_object_foreach(
		    filter, k, v) if (strcmp(k, "inMailbox") ||
				      !json_is_string(v)) return jmap_error(r, "unsupportedFilter",
									    k),
		    NULL;
	}
	if (sort && !json_is_null(sort)) {
		const char *prop;
		int isasc = 0;
		if (!json_is_array(sort) || json_array_size(sort) > 1)
			return jmap_error(r, "unsupportedSort", "one comparator at most"), NULL;
		if (json_array_size(sort) == 1) {
			if (json_unpack(json_array_get(sort, 0), "{s:s, s?b}", "property", &prop,
					"isAscending", &isasc) < 0)
				return jmap_error(r, "invalidArguments",
						  "a Comparator has a property"),
				       NULL;
			if (strcmp(prop, "receivedAt"))
				return jmap_error(r, "unsupportedSort", prop), NULL;
			/* RFC 8620 5.5: isAscending defaults to true */
			asc = json_object_get(json_array_get(sort, 0), "isAscending") ? isasc : 1;
		}
	}
	if ((v = json_object_get(args, "position")) && !json_is_null(v)) {
		if (!json_is_integer(v))
			return jmap_error(r, "invalidArguments", "position"), NULL;
		position = json_integer_value(v);
	}
	if ((v = json_object_get(args, "limit")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return jmap_error(r, "invalidArguments", "limit"), NULL;
		limit = json_integer_value(v);
		if (limit > EMAIL_QUERY_MAX) {
			limit = EMAIL_QUERY_MAX;
			capped = 1;
		}
	}
	if ((v = json_object_get(args, "anchor")) && !json_is_null(v))
		return jmap_error(r, "unsupportedFilter", "anchor is not supported"), NULL;
	if (json_is_true(json_object_get(args, "collapseThreads")))
		return jmap_error(r, "unsupportedFilter", "collapseThreads"), NULL;
	if (load_mboxes(r, &l) < 0)
		return NULL;
	if (filter && json_object_get(filter, "inMailbox")) {
		in = mbox_by_jid(&l, json_string_value(json_object_get(filter, "inMailbox")));
		if (!in) {
			free(l.v);
			return jmap_error(r, "invalidArguments", "inMailbox: no such mailbox"),
			       NULL;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		if (in && l.v[i].id != in->id)
			continue;
		h.mi = &l.v[i];
		if (store_msg_list(r->srv->store, r->a->id, l.v[i].name, 1, collect_msg, &h) !=
		    ST_OK) {
			free(h.v);
			free(l.v);
			return jmap_error(r, "serverFail", "the store could not be read"), NULL;
		}
	}
	pthread_mutex_lock(&sort_lock);
	sort_asc = asc;
	qsort(h.v, h.n, sizeof *h.v, cmp_hit);
	pthread_mutex_unlock(&sort_lock);
	/* One Email per blob: a message copied to other mailboxes (or twice
	 * into one) is listed once, where it sorts first. */
	{
		size_t cap = 16, k = 0;
		uint64_t *set;
		while (cap < 2 * h.n)
			cap *= 2;
		set = xcalloc(cap, sizeof *set);
		for (size_t i = 0; i < h.n; i++)
			if (!blob_seen(set, cap, h.v[i].m.blob))
				h.v[k++] = h.v[i];
		h.n = k;
		free(set);
	}
	if (position < 0)
		position = (json_int_t)h.n + position < 0 ? 0 : (json_int_t)h.n + position;
	ids = json_array();
	for (size_t i = (size_t)position; i < h.n && (json_int_t)(i - (size_t)position) < limit;
	     i++) {
		email_id(h.v[i].m.blob, id);
		json_array_append_new(ids, json_string(id));
	}
	email_state(&l, state, sizeof state);
	jmap_account_id(r->a, acc, sizeof acc);
	out = json_pack("{s:s, s:s, s:b, s:I, s:o}", "accountId", acc, "queryState", state,
			"canCalculateChanges", 0, "position", position, "ids", ids);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(out, "total", json_integer((json_int_t)h.n));
	if (capped)
		json_object_set_new(out, "limit", json_integer(EMAIL_QUERY_MAX));
	free(h.v);
	free(l.v);
	return out;
}

/* ---- Email/get ---- */

static const char *const props[] = {"id",	"blobId", "threadId",	"mailboxIds",
				    "keywords", "size",	  "receivedAt", "subject"};

static int wanted(json_t *want, const char *p)
{
	size_t i;
	json_t *w;
	if (!want || json_is_null(want))
		return 1;
	if (!strcmp(p, "id"))
		return 1;
	json_array_foreach(want, i, w) if (!strcmp(json_string_value(w), p)) return 1;
	return 0;
}

/* RFC 8621 4.1.1: the IMAP system flags as keywords. */
static json_t *keywords_of(uint32_t flags)
{
	json_t *k = json_object();
	if (flags & FL_SEEN)
		json_object_set_new(k, "$seen", json_true());
	if (flags & FL_FLAGGED)
		json_object_set_new(k, "$flagged", json_true());
	if (flags & FL_ANSWERED)
		json_object_set_new(k, "$answered", json_true());
	if (flags & FL_DRAFT)
		json_object_set_new(k, "$draft", json_true());
	return k;
}

/* The Subject header field, decoded (RFC 8621 4.1.3 "asText"), or NULL. */
static json_t *subject_of(struct jreq *r, uint64_t blob)
{
	char *buf = xmalloc(EMAIL_HEADER_MAX);
	long n = store_msg_read(r->srv->store, blob, 0, buf, EMAIL_HEADER_MAX);
	size_t pos = 0, len, nl, vl;
	const char *name, *val;
	json_t *out = json_null();

	if (n <= 0) {
		free(buf);
		return out;
	}
	len = (size_t)n;
	/* the header ends at the first empty line */
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
				       (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))) {
			len = i + 1;
			break;
		}
	while (mime_hdr_next(buf, len, &pos, &name, &nl, &val, &vl) == 1)
		if (nl == 7 && str_ncasecmp_ascii(name, "subject", 7) == 0) {
			char *unf = mime_unfold(val, vl),
			     *dec = mime_decode_words(unf, strlen(unf));
			char *t = dec;
			while (*t == ' ' || *t == '\t')
				t++;
			json_decref(out);
			out = json_string(t); /* NULL if not UTF-8: stays null */
			if (!out)
				out = json_null();
			free(unf);
			free(dec);
			break;
		}
	free(buf);
	return out;
}

/* The Email of m, which is in mailbox mi, and, when it is in several,
 * in all of places[0..np) (mailboxIds). */
static json_t *email_json(struct jreq *r, const struct mlist *l, const struct msg_info *m,
			  const struct msg_place *places, size_t np, json_t *want)
{
	char id[OBJID_MAX], tid[OBJID_MAX + 1], blob[24], mid[OBJID_MAX], date[32];
	json_t *o = json_object();
	time_t t = (time_t)m->internaldate;
	struct tm tm;

	email_id(m->blob, id);
	json_object_set_new(o, "id", json_string(id));
	if (wanted(want, "blobId")) {
		snprintf(blob, sizeof blob, "B%llx", (unsigned long long)m->blob);
		json_object_set_new(o, "blobId", json_string(blob));
	}
	if (wanted(want, "threadId")) {
		snprintf(tid, sizeof tid, "T%s", id);
		json_object_set_new(o, "threadId", json_string(tid));
	}
	if (wanted(want, "mailboxIds")) {
		json_t *ids = json_object();
		for (size_t i = 0; i < np; i++)
			if (mbox_by_id(l, places[i].mbox_id)) {
				objid_mailbox(mid, places[i].mbox_id);
				json_object_set_new(ids, mid, json_true());
			}
		json_object_set_new(o, "mailboxIds", ids);
	}
	if (wanted(want, "keywords"))
		json_object_set_new(o, "keywords", keywords_of(m->flags));
	if (wanted(want, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)m->size));
	if (wanted(want, "receivedAt")) {
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "receivedAt", json_string(date));
	}
	if (wanted(want, "subject"))
		json_object_set_new(o, "subject", subject_of(r, m->blob));
	return o;
}

/* The Email with id s: its first place's message (lowest mailbox id, then
 * UID: the flags, size and date shown) and all its places. 0, or -1 when
 * there is no such Email in the account. */
static int email_find(struct jreq *r, const struct mlist *l, const char *s, struct msg_info *m,
		      struct msg_place *places, size_t *np)
{
	uint64_t blob;
	size_t n;
	if (objid_email_parse(s, &blob) < 0 ||
	    store_msg_places(r->srv->store, r->a->id, blob, places, EMAIL_PLACES_MAX, &n) != ST_OK)
		return -1;
	if (n > EMAIL_PLACES_MAX)
		n = EMAIL_PLACES_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct mbox_info *mi = mbox_by_id(l, places[i].mbox_id);
		/* a place committed after the mailbox list was read is skipped */
		if (mi &&
		    store_msg_get(r->srv->store, r->a->id, mi->name, places[i].uid, m) == ST_OK) {
			*np = n;
			return 0;
		}
	}
	return -1;
}

json_t *jmap_email_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *want = json_object_get(args, "properties");
	json_t *list, *notfound, *v;
	struct mlist l;
	char state[32], acc[16];
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (!json_is_array(ids)) /* null would be every message of the account */
		return jmap_error(r, "invalidArguments", "ids: a list of Email ids is required"),
		       NULL;
	if (json_array_size(ids) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more ids than maxObjectsInGet"), NULL;
	json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "ids holds a non-string"),
	    NULL;
	if (want && !json_is_null(want)) {
		json_t *w;
		if (!json_is_array(want))
			return jmap_error(r, "invalidArguments", "properties is not an array"),
			       NULL;
		json_array_foreach(want, i, w)
		{
			int known = 0;
			for (size_t p = 0; p < ARRAY_LEN(props); p++)
				known |=
				    json_is_string(w) && !strcmp(props[p], json_string_value(w));
			if (!known)
				return jmap_error(r, "invalidArguments",
						  "unknown or unimplemented property"),
				       NULL;
		}
	}
	if (load_mboxes(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v)
	{
		struct msg_info m;
		struct msg_place places[EMAIL_PLACES_MAX];
		size_t np;
		if (email_find(r, &l, json_string_value(v), &m, places, &np) < 0) {
			json_array_append(notfound, v);
			continue;
		}
		json_array_append_new(list, email_json(r, &l, &m, places, np, want));
	}
	email_state(&l, state, sizeof state);
	jmap_account_id(r->a, acc, sizeof acc);
	free(l.v);
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", state, "list", list,
			 "notFound", notfound);
}
