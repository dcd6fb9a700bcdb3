/*
 * jmap_email.c — the first of JMAP's Email methods (RFC 8621 4.4, 4.2):
 * Email/query by mailbox, sorted by receivedAt, and Email/get of the
 * properties the store answers without parsing bodies (id, blobId,
 * threadId, mailboxIds, keywords from the IMAP flags, size, receivedAt)
 * and the Subject header; Email/set (keywords, mailboxes, destroy, and
 * create from the message jmap_compose.c builds) and Email/import of
 * uploaded blobs (jmap_upload.c).
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
#include "spool.h"
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

#define EMAIL_PLACES_MAX 64  /* mailboxIds shown for one Email */
#define KEYWORD_MAX	 128 /* bytes of a keyword: the store's bound (KW_MAX) */

static void email_id(uint64_t blob, char buf[OBJID_MAX])
{
	objid_email(buf, blob);
}

/* The Email state: "e" then, for each mailbox, "-ID.HIGHESTMODSEQ.UIDNEXT"
 * in hex. It changes whenever a message is added, removed or changes
 * flags, and it is what Email/changes starts from (jmap_changes.c): the
 * UIDs and MODSEQs after it are the changes. An account whose list does
 * not fit JMAP_STATE_MAX gets "h" and a digest of the same numbers, from
 * which changes cannot be told. */
static void email_state(const struct jmap_mboxes *l, char *buf, size_t cap)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = 1;
	buf[0] = 'e';
	buf[1] = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint64_t f[4] = {l->v[i].id, l->v[i].highestmodseq, l->v[i].uidnext,
				 l->v[i].exists};
		const unsigned char *b = (const unsigned char *)f;
		for (size_t k = 0; k < sizeof f; k++)
			h = (h ^ b[k]) * 0x100000001b3ULL;
		if (n < cap) {
			int w = snprintf(buf + n, cap - n, "-%x.%llx.%x", l->v[i].id,
					 (unsigned long long)l->v[i].highestmodseq, l->v[i].uidnext);
			n = w < 0 || (size_t)w >= cap - n ? cap : n + (size_t)w;
		}
	}
	if (n >= cap)
		snprintf(buf, cap, "h%016llx", (unsigned long long)h);
}

int jmap_email_state_get(const struct server *srv, uint32_t user, char *buf, size_t cap)
{
	struct jmap_mboxes l = {0};
	int rc = store_mbox_list(srv->store, user, jmap_mboxes_collect, &l);
	if (rc == ST_OK)
		email_state(&l, buf, cap);
	free(l.v);
	return rc == ST_OK ? 0 : -1;
}

int jmap_blob_lookup(const struct server *srv, const struct account *a, const char *acc_id,
		     const char *blob_id, uint64_t *blob, uint64_t *size)
{
	char acc[16], *end;
	struct msg_place p[1];
	struct jmap_mboxes l = {0};
	struct msg_info m;
	size_t n;
	int found = -1;
	jmap_account_id(a, acc, sizeof acc);
	/* "B" and lower-case hex without leading zeros, as blobId is made */
	if (strcmp(acc, acc_id) || blob_id[0] != 'B' || blob_id[1] < '1' ||
	    strspn(blob_id + 1, "0123456789abcdef") != strlen(blob_id + 1) ||
	    strlen(blob_id + 1) > 16)
		return -1;
	*blob = strtoull(blob_id + 1, &end, 16);
	if (store_msg_places(srv->store, a->id, *blob, p, 1, &n) != ST_OK || n == 0 ||
	    store_mbox_list(srv->store, a->id, jmap_mboxes_collect, &l) != ST_OK) {
		free(l.v);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].id == p[0].mbox_id &&
		    store_msg_get(srv->store, a->id, l.v[i].name, p[0].uid, &m) == ST_OK) {
			*size = m.size;
			found = 0;
		}
	free(l.v);
	return found;
}

static const struct mbox_info *mbox_by_id(const struct jmap_mboxes *l, uint32_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return &l->v[i];
	return NULL;
}

static const struct mbox_info *mbox_by_jid(const struct jmap_mboxes *l, const char *jid)
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
	struct jmap_mboxes l;
	struct hits h = {0};
	json_int_t position = 0, limit = EMAIL_QUERY_MAX;
	int asc = 0, capped = 0, texts = 0;
	json_t *ids, *out;
	char state[JMAP_STATE_MAX], acc[16], id[32];

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (filter && !json_is_null(filter)) {
		const char *k;
		if (!json_is_object(filter))
			return jmap_error(r, "invalidArguments", "filter is not an object"), NULL;
		json_object_foreach(filter, k, v)
		{
			if (!json_is_string(v) ||
			    (strcmp(k, "inMailbox") && !jmap_filter_cond(k)))
				return jmap_error(r, "unsupportedFilter", k), NULL;
			if (jmap_filter_cond(k))
				texts = 1;
		}
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
	if (jmap_mboxes_load(r, &l) < 0)
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
	/* qsort's array may not be NULL even for no elements (C11 7.1.4): an
	 * empty mailbox collects nothing and h.v stays NULL. */
	if (h.n) {
		pthread_mutex_lock(&sort_lock);
		sort_asc = asc;
		qsort(h.v, h.n, sizeof *h.v, cmp_hit);
		pthread_mutex_unlock(&sort_lock);
	}
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
	/* the text conditions: each remaining message read and parsed (the
	 * full-text index narrows "text" and "body" first) */
	if (texts) {
		struct store_fts fts = {0};
		const char *needle = json_string_value(json_object_get(filter, "text"));
		size_t k = 0;
		int narrowed = 0;
		if (!needle)
			needle = json_string_value(json_object_get(filter, "body"));
		if (needle && store_fts_candidates(r->srv->store, needle, &fts) == ST_OK)
			narrowed = 1;
		for (size_t i = 0; i < h.n; i++)
			if ((!narrowed || store_fts_may_match(&fts, h.v[i].m.blob)) &&
			    jmap_filter_match(r, h.v[i].m.blob, h.v[i].m.size, filter))
				h.v[k++] = h.v[i];
		h.n = k;
		if (narrowed)
			store_fts_free(&fts);
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

/* RFC 8621 4.1.1: IMAP's system flags are the keywords $seen, $flagged,
 * $answered, $draft; IMAP's own keywords are themselves, lower-cased
 * (JMAP keywords are case-insensitive and servers give them in lower
 * case). \Deleted and \Recent have no keyword. */
static const struct {
	const char *kw;
	uint32_t flag;
} sysflags[] = {
    {"$seen", FL_SEEN}, {"$flagged", FL_FLAGGED}, {"$answered", FL_ANSWERED}, {"$draft", FL_DRAFT}};

/* A mailbox's keyword table (store_mbox_keywords). */
struct kwtab {
	char name[STORE_KEYWORDS][KEYWORD_MAX + 1];
};

static void kw_cb(void *arg, int i, const char *name)
{
	struct kwtab *t = arg;
	if (i >= 0 && i < STORE_KEYWORDS)
		snprintf(t->name[i], sizeof t->name[i], "%s", name);
}

static json_t *keywords_of(struct jreq *r, const struct mbox_info *mi, const struct msg_info *m)
{
	json_t *k = json_object();
	for (size_t i = 0; i < ARRAY_LEN(sysflags); i++)
		if (m->flags & sysflags[i].flag)
			json_object_set_new(k, sysflags[i].kw, json_true());
	if (m->keywords) {
		struct kwtab *t = xcalloc(1, sizeof *t);
		if (store_mbox_keywords(r->srv->store, r->a->id, mi->name, kw_cb, t) == ST_OK)
			for (int i = 0; i < STORE_KEYWORDS; i++)
				if ((m->keywords >> i & 1) && t->name[i][0]) {
					for (char *c = t->name[i]; *c; c++)
						if (*c >= 'A' && *c <= 'Z')
							*c = (char)(*c - 'A' + 'a');
					json_object_set_new(k, t->name[i], json_true());
				}
		free(t);
	}
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
static json_t *email_json(struct jreq *r, const struct jmap_mboxes *l, const struct mbox_info *mi,
			  const struct msg_info *m, const struct msg_place *places, size_t np,
			  json_t *want)
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
		json_object_set_new(o, "keywords", keywords_of(r, mi, m));
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
static int email_find(struct jreq *r, const struct jmap_mboxes *l, const char *s, struct msg_info *m,
		      const struct mbox_info **mi_out, struct msg_place *places, size_t *np)
{
	uint64_t blob;
	size_t n;
	if (!s || objid_email_parse(s, &blob) < 0 ||
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
			*mi_out = mi;
			return 0;
		}
	}
	return -1;
}

json_t *jmap_email_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *want = json_object_get(args, "properties");
	json_t *list, *notfound, *v;
	struct jmap_body_opts bo;
	struct jmap_mboxes l;
	char state[JMAP_STATE_MAX], acc[16];
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
			int known = json_is_string(w) && jmap_body_prop(json_string_value(w));
			for (size_t p = 0; p < ARRAY_LEN(props); p++)
				known |=
				    json_is_string(w) && !strcmp(props[p], json_string_value(w));
			if (!known)
				return jmap_error(r, "invalidArguments",
						  "unknown or unimplemented property"),
				       NULL;
		}
	}
	{
		json_t *mx = json_object_get(args, "maxBodyValueBytes");
		if (mx && !json_is_null(mx) && (!json_is_integer(mx) || json_integer_value(mx) < 0))
			return jmap_error(r, "invalidArguments", "maxBodyValueBytes"), NULL;
		bo.max = json_is_integer(mx) ? (size_t)json_integer_value(mx) : 0;
		bo.text = json_is_true(json_object_get(args, "fetchTextBodyValues"));
		bo.html = json_is_true(json_object_get(args, "fetchHTMLBodyValues"));
		bo.all = json_is_true(json_object_get(args, "fetchAllBodyValues"));
		bo.budget = JMAP_BODY_VALUES_MAX;
	}
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v)
	{
		struct msg_info m;
		struct msg_place places[EMAIL_PLACES_MAX];
		const struct mbox_info *mi;
		size_t np;
		json_t *e;
		if (email_find(r, &l, json_string_value(v), &m, &mi, places, &np) < 0) {
			json_array_append(notfound, v);
			continue;
		}
		e = email_json(r, &l, mi, &m, places, np, want);
		jmap_body_props(r, m.blob, m.size, want, &bo, e);
		json_array_append_new(list, e);
	}
	email_state(&l, state, sizeof state);
	jmap_account_id(r->a, acc, sizeof acc);
	free(l.v);
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", state, "list", list,
			 "notFound", notfound);
}

/* ---- Email/set (RFC 8621 4.6): keywords, mailboxIds, destroy ----
 *
 * Every change goes through the store functions IMAP uses (STORE, COPY,
 * MOVE, EXPUNGE), so IMAP sessions see it as they see another session's:
 * IDLE wakes, MODSEQs move. An Email is all its copies: keywords are set
 * on every copy, destroy expunges every copy. */

/* A keyword JMAP may set (RFC 8621 4.1.1: 1-255 of %x21-%x7e but
 * ( ) { ] % * " \, lower-cased into out), and fits the store. */
static int keyword_norm(const char *k, char *out, size_t cap)
{
	size_t n = strlen(k);
	if (n == 0 || n > KEYWORD_MAX || n >= cap)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = k[i];
		if (i < n && (c < 0x21 || c > 0x7e || strchr("(){]%*\"\\", c)))
			return -1;
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return 0;
}

/* What one update asks for: keywords (set or patched) and mailboxes. */
struct email_patch {
	int kw_set;		 /* "keywords" replaces them all */
	json_t *kw_add, *kw_del; /* arrays of normalized names */
	int mb_set;		 /* "mailboxIds" replaces them all */
	json_t *mb_add, *mb_del; /* arrays of Mailbox ids */
};

static void patch_free(struct email_patch *p)
{
	json_decref(p->kw_add);
	json_decref(p->kw_del);
	json_decref(p->mb_add);
	json_decref(p->mb_del);
}

/* Parse an update's PatchObject: NULL, or the SetError's description. */
static const char *patch_parse(json_t *u, const struct jmap_mboxes *l, struct email_patch *p)
{
	const char *k;
	json_t *v;
	char kw[KEYWORD_MAX + 2];
	memset(p, 0, sizeof *p);
	p->kw_add = json_array();
	p->kw_del = json_array();
	p->mb_add = json_array();
	p->mb_del = json_array();
	json_object_foreach(u, k, v)
	{
		if (!strcmp(k, "keywords")) {
			const char *n;
			json_t *b;
			if (!json_is_object(v))
				return "keywords";
			p->kw_set = 1;
			json_object_foreach(v, n, b)
			{
				if (!json_is_true(b) || keyword_norm(n, kw, sizeof kw) < 0)
					return "keywords";
				json_array_append_new(p->kw_add, json_string(kw));
			}
		} else if (!strncmp(k, "keywords/", 9)) {
			if (p->kw_set || keyword_norm(k + 9, kw, sizeof kw) < 0 ||
			    !(json_is_true(v) || json_is_null(v)))
				return "keywords";
			json_array_append_new(json_is_true(v) ? p->kw_add : p->kw_del,
					      json_string(kw));
		} else if (!strcmp(k, "mailboxIds")) {
			const char *n;
			json_t *b;
			if (!json_is_object(v) || json_object_size(v) == 0)
				return "mailboxIds";
			p->mb_set = 1;
			json_object_foreach(v, n, b)
			{
				if (!json_is_true(b) || !mbox_by_jid(l, n))
					return "mailboxIds";
				json_array_append_new(p->mb_add, json_string(n));
			}
		} else if (!strncmp(k, "mailboxIds/", 11)) {
			if (p->mb_set || !mbox_by_jid(l, k + 11) ||
			    !(json_is_true(v) || json_is_null(v)))
				return "mailboxIds";
			json_array_append_new(json_is_true(v) ? p->mb_add : p->mb_del,
					      json_string(k + 11));
		} else
			return k; /* immutable or unknown: invalidProperties */
	}
	return NULL;
}

static int in_array(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), s)) return 1;
	return 0;
}

static const char *store_set_error(int rc)
{
	switch (rc) {
	case ST_QUOTA:
	case ST_TOOBIG:
		return "overQuota";
	case ST_LIMIT:
		return "tooManyKeywords";
	case ST_NOTFOUND:
		return "notFound";
	default:
		return "serverFail";
	}
}

/* Apply names (an array) with op to every place. */
static int keywords_apply(struct jreq *r, const struct jmap_mboxes *l, const struct msg_place *pl,
			  size_t np, int op, json_t *names)
{
	const char *kws[STORE_KEYWORDS + ARRAY_LEN(sysflags)];
	uint32_t flags = 0;
	size_t nkw = 0, i;
	json_t *v;
	json_array_foreach(names, i, v)
	{
		const char *n = json_string_value(v);
		int sys = 0;
		for (size_t f = 0; f < ARRAY_LEN(sysflags); f++)
			if (!strcmp(n, sysflags[f].kw)) {
				flags |= sysflags[f].flag;
				sys = 1;
			}
		if (!sys) {
			if (nkw == STORE_KEYWORDS)
				return ST_LIMIT;
			kws[nkw++] = n;
		}
	}
	if (!flags && !nkw && op != FLAGS_SET)
		return ST_OK;
	for (i = 0; i < np; i++) {
		const struct mbox_info *mi = mbox_by_id(l, pl[i].mbox_id);
		int rc;
		if (!mi)
			continue;
		rc = store_msg_flags(r->srv->store, r->a->id, mi->name, &pl[i].uid, 1, op, flags,
				     kws, nkw);
		if (rc != ST_OK)
			return rc;
	}
	return ST_OK;
}

/* Keywords: "keywords" replaces the JMAP-visible ones (IMAP \Deleted is
 * kept, as no keyword names it), "keywords/x" adds or removes one. */
static int email_set_keywords(struct jreq *r, const struct jmap_mboxes *l, const struct mbox_info *mi,
			      const struct msg_info *m, const struct msg_place *pl, size_t np,
			      struct email_patch *p)
{
	int rc;
	if (p->kw_set) {
		json_t *now = keywords_of(r, mi, m), *del = json_array(), *b;
		const char *k;
		json_object_foreach(now, k, b) if (!in_array(p->kw_add, k))
		    json_array_append_new(del, json_string(k));
		json_decref(now);
		rc = keywords_apply(r, l, pl, np, FLAGS_DEL, del);
		json_decref(del);
	} else
		rc = keywords_apply(r, l, pl, np, FLAGS_DEL, p->kw_del);
	return rc ? rc : keywords_apply(r, l, pl, np, FLAGS_ADD, p->kw_add);
}

/* Mailboxes: what leaves one mailbox for another is MOVEd (one commit,
 * the IMAP MOVE); further new mailboxes get a COPY of the first copy;
 * further left ones are EXPUNGEd. */
static int email_set_mailboxes(struct jreq *r, const struct jmap_mboxes *l, const struct msg_place *pl,
			       size_t np, struct email_patch *p)
{
	json_t *want = json_array(), *add = json_array(), *v;
	struct msg_place rem[EMAIL_PLACES_MAX];
	size_t nrem = 0, i, ai = 0;
	char id[OBJID_MAX];
	int rc = ST_OK;

	if (p->mb_set)
		json_array_extend(want, p->mb_add);
	else {
		for (i = 0; i < np; i++) {
			objid_mailbox(id, pl[i].mbox_id);
			if (!in_array(p->mb_del, id) && !in_array(want, id))
				json_array_append_new(want, json_string(id));
		}
		json_array_foreach(p->mb_add, i, v) if (!in_array(want, json_string_value(v)))
		    json_array_append(want, v);
	}
	if (json_array_size(want) == 0) {
		json_decref(want);
		json_decref(add);
		return ST_INVALID; /* RFC 8621 4.1.1: at least one mailbox */
	}
	for (i = 0; i < np; i++) {
		objid_mailbox(id, pl[i].mbox_id);
		if (!in_array(want, id))
			rem[nrem++] = pl[i];
	}
	json_array_foreach(want, i, v)
	{
		int have = 0;
		for (size_t k = 0; k < np; k++) {
			objid_mailbox(id, pl[k].mbox_id);
			have |= !strcmp(id, json_string_value(v));
		}
		if (!have)
			json_array_append(add, v);
	}
	/* copies first, from a copy that is still there */
	for (; json_array_size(add) - ai > nrem && !rc; ai++) {
		const struct mbox_info *s = mbox_by_id(l, pl[0].mbox_id),
				       *d = mbox_by_jid(l,
							json_string_value(json_array_get(add, ai)));
		rc = s && d ? store_msg_copy(r->srv->store, r->a->id, s->name, d->name, &pl[0].uid,
					     1, 0, NULL, NULL)
			    : ST_NOTFOUND;
	}
	for (i = 0; i < nrem && !rc; i++) {
		const struct mbox_info *s = mbox_by_id(l, rem[i].mbox_id);
		if (!s)
			continue;
		if (ai < json_array_size(add)) {
			const struct mbox_info *d =
			    mbox_by_jid(l, json_string_value(json_array_get(add, ai++)));
			rc = d ? store_msg_copy(r->srv->store, r->a->id, s->name, d->name,
						&rem[i].uid, 1, 1, NULL, NULL)
			       : ST_NOTFOUND;
		} else
			rc = store_msg_expunge(r->srv->store, r->a->id, s->name, &rem[i].uid, 1);
	}
	json_decref(want);
	json_decref(add);
	return rc;
}

static json_t *set_error(const char *type, const char *desc)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (desc)
		json_object_set_new(e, "description", json_string(desc));
	return e;
}

static json_t *email_update(struct jreq *r, const struct jmap_mboxes *l, const char *eid, json_t *u)
{
	struct msg_info m;
	struct msg_place pl[EMAIL_PLACES_MAX];
	const struct mbox_info *mi;
	struct email_patch p;
	const char *bad;
	size_t np;
	int rc;

	if (!json_is_object(u))
		return set_error("invalidPatch", "the patch is not an object");
	if (email_find(r, l, eid, &m, &mi, pl, &np) < 0)
		return set_error("notFound", NULL);
	if ((bad = patch_parse(u, l, &p))) {
		json_t *e = set_error("invalidProperties", NULL);
		json_object_set_new(e, "properties",
				    json_pack("[s]", !strncmp(bad, "keywords", 8) ? "keywords"
						     : !strncmp(bad, "mailboxIds", 10)
							 ? "mailboxIds"
							 : bad));
		patch_free(&p);
		return e;
	}
	rc = email_set_keywords(r, l, mi, &m, pl, np, &p);
	if (!rc && (p.mb_set || json_array_size(p.mb_add) || json_array_size(p.mb_del))) {
		/* the keywords are on every copy now, so copies carry them along */
		rc = email_set_mailboxes(r, l, pl, np, &p);
	}
	patch_free(&p);
	if (rc == ST_INVALID) {
		json_t *e = set_error("invalidProperties", "an Email is in at least one mailbox");
		json_object_set_new(e, "properties", json_pack("[s]", "mailboxIds"));
		return e;
	}
	return rc ? set_error(store_set_error(rc), NULL) : NULL;
}

static json_t *email_destroy(struct jreq *r, const struct jmap_mboxes *l, const char *eid)
{
	struct msg_info m;
	struct msg_place pl[EMAIL_PLACES_MAX];
	const struct mbox_info *mi;
	size_t np;
	if (email_find(r, l, eid, &m, &mi, pl, &np) < 0)
		return set_error("notFound", NULL);
	for (size_t i = 0; i < np; i++) {
		const struct mbox_info *s = mbox_by_id(l, pl[i].mbox_id);
		int rc =
		    s ? store_msg_expunge(r->srv->store, r->a->id, s->name, &pl[i].uid, 1) : ST_OK;
		if (rc)
			return set_error(store_set_error(rc), NULL);
	}
	return NULL;
}

static json_t *email_new(struct jreq *r, const struct jmap_mboxes *l, json_t *e,
			 struct spool *given, json_t **created);

json_t *jmap_email_set(struct jreq *r, json_t *args)
{
	json_t *create = json_object_get(args, "create"), *update = json_object_get(args, "update"),
	       *destroy = json_object_get(args, "destroy"),
	       *ifin = json_object_get(args, "ifInState");
	json_t *updated, *notupd, *destroyed, *notdes, *notcre, *created, *v, *out;
	struct jmap_mboxes l;
	char old[JMAP_STATE_MAX], now[JMAP_STATE_MAX], acc[16];
	const char *k;
	size_t i, n = 0;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if ((create && !json_is_null(create) && !json_is_object(create)) ||
	    (update && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy && !json_is_null(destroy) && !json_is_array(destroy)) ||
	    (ifin && !json_is_null(ifin) && !json_is_string(ifin)))
		return jmap_error(r, "invalidArguments", "create, update, destroy, ifInState"),
		       NULL;
	n = json_object_size(create) + json_object_size(update) + json_array_size(destroy);
	if (n > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInSet"), NULL;
	json_array_foreach(destroy, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "destroy holds a non-string"),
	    NULL;
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	email_state(&l, old, sizeof old);
	if (ifin && json_is_string(ifin) && strcmp(json_string_value(ifin), old)) {
		free(l.v);
		return jmap_error(r, "stateMismatch", "ifInState is not the current state"), NULL;
	}
	notcre = json_object();
	created = json_object();
	json_object_foreach(create, k, v)
	{
		struct spool *sp = NULL;
		json_t *c = NULL, *e = jmap_compose(r, v, &sp);
		if (!e)
			e = email_new(r, &l, v, sp, &c);
		if (e)
			json_object_set_new(notcre, k, e);
		else {
			json_object_set(r->created_ids, k, json_object_get(c, "id"));
			json_object_set_new(created, k, c);
		}
	}
	updated = json_object();
	notupd = json_object();
	json_object_foreach(update, k, v)
	{
		json_t *e = email_update(r, &l, k, v);
		json_object_set_new(e ? notupd : updated, k, e ? e : json_null());
	}
	destroyed = json_array();
	notdes = json_object();
	json_array_foreach(destroy, i, v)
	{
		json_t *e = email_destroy(r, &l, json_string_value(v));
		if (e)
			json_object_set_new(notdes, json_string_value(v), e);
		else
			json_array_append(destroyed, v);
	}
	free(l.v);
	if (jmap_mboxes_load(r, &l) < 0) {
		json_decref(notcre);
		json_decref(created);
		json_decref(updated);
		json_decref(notupd);
		json_decref(destroyed);
		json_decref(notdes);
		return NULL;
	}
	email_state(&l, now, sizeof now);
	free(l.v);
	jmap_account_id(r->a, acc, sizeof acc);
	out =
	    json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "accountId", acc, "oldState",
		      old, "newState", now, "created", created, "notCreated", notcre, "updated", updated,
		      "notUpdated", notupd, "destroyed", destroyed, "notDestroyed", notdes);
	return out;
}

/* ---- Email/import (RFC 8621 4.8) ---- */

/* RFC 3339 "UTCDate" (RFC 8620 1.4): YYYY-MM-DDTHH:MM:SSZ, optionally with
 * fractional seconds (dropped). 0 with *t, or -1. */
static int utc_date(const char *s, int64_t *t)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
		return -1;
	s += n;
	if (*s == '.' && s[1] >= '0' && s[1] <= '9')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if ((*s != 'Z' && *s != 'z') || s[1] || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60 || tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

/* One EmailImport object: NULL with *created, or the SetError. */
/* One new Email: an EmailImport object (given NULL: its blobId names an
 * upload), or an Email/set create whose message jmap_compose built (given;
 * freed here). Its mailboxIds, keywords and receivedAt decide where and
 * how it is stored. NULL with *created, or the SetError. */
static json_t *email_new(struct jreq *r, const struct jmap_mboxes *l, json_t *e,
			 struct spool *given, json_t **created)
{
	json_t *blob = json_object_get(e, "blobId"), *mbs = json_object_get(e, "mailboxIds"),
	       *kws = json_object_get(e, "keywords"), *when = json_object_get(e, "receivedAt"), *v;
	const char *kw_names[STORE_KEYWORDS], *k, *bad = NULL;
	char kwbuf[STORE_KEYWORDS][KEYWORD_MAX + 2], id[OBJID_MAX], tid[OBJID_MAX + 1], bid[24];
	const struct mbox_info *dst[EMAIL_PLACES_MAX];
	struct msg_in in = {0};
	struct msg_info m;
	struct spool *sp;
	size_t nkw = 0, nd = 0;
	uint32_t uidv, uid;
	int rc;

	if (!given) {
		if (!json_is_object(e))
			return set_error("invalidProperties", "not an EmailImport object");
		json_object_foreach(e, k, v) if (strcmp(k, "blobId") && strcmp(k, "mailboxIds") &&
						 strcmp(k, "keywords") &&
						 strcmp(k, "receivedAt")) bad = k;
		if (bad || !json_is_string(blob))
			return json_pack("{s:s, s:[s]}", "type", "invalidProperties", "properties",
					 bad ? bad : "blobId");
	}
	if (!json_is_object(mbs) || json_object_size(mbs) == 0 ||
	    json_object_size(mbs) > EMAIL_PLACES_MAX)
		bad = "mailboxIds";
	json_object_foreach(mbs, k, v)
	{
		const struct mbox_info *mi = mbox_by_jid(l, k);
		if (!json_is_true(v) || !mi || nd >= EMAIL_PLACES_MAX)
			bad = "mailboxIds";
		else
			dst[nd++] = mi;
	}
	if (kws && !json_is_null(kws) && !json_is_object(kws))
		bad = "keywords";
	json_object_foreach(kws, k, v)
	{
		char kw[KEYWORD_MAX + 2];
		int sys = 0;
		if (!json_is_true(v) || keyword_norm(k, kw, sizeof kw) < 0) {
			bad = "keywords";
			break;
		}
		for (size_t f = 0; f < ARRAY_LEN(sysflags); f++)
			if (!strcmp(kw, sysflags[f].kw)) {
				in.flags |= sysflags[f].flag;
				sys = 1;
			}
		if (!sys) {
			if (nkw == STORE_KEYWORDS) {
				spool_free(&given);
				return set_error("tooManyKeywords", NULL);
			}
			memcpy(kwbuf[nkw], kw, sizeof kw);
			kw_names[nkw] = kwbuf[nkw];
			nkw++;
		}
	}
	if (when && !json_is_null(when) &&
	    (!json_is_string(when) || utc_date(json_string_value(when), &in.internaldate) < 0))
		bad = "receivedAt";
	if (bad) {
		spool_free(&given);
		return json_pack("{s:s, s:[s]}", "type", "invalidProperties", "properties", bad);
	}
	sp = given ? given
		   : jmap_upload_load(r->srv, r->a->id, json_string_value(blob),
				      r->srv->cfg->message_size);
	if (!sp)
		return json_pack("{s:s, s:[s]}", "type", "blobNotFound", "notFound",
				 json_string_value(blob));
	if (spool_size(sp) == 0) {
		spool_free(&sp);
		return set_error("invalidEmail", "the blob is empty");
	}
	in.body = sp;
	in.keywords = kw_names;
	in.nkeywords = nkw;
	rc = store_append(r->srv->store, r->a->id, dst[0]->name, &in, &uidv, &uid);
	spool_free(&sp);
	if (rc == ST_OK)
		rc = store_msg_get(r->srv->store, r->a->id, dst[0]->name, uid, &m);
	/* the other mailboxes get copies, which keep the blob and so the id */
	for (size_t i = 1; i < nd && rc == ST_OK; i++)
		rc = store_msg_copy(r->srv->store, r->a->id, dst[0]->name, dst[i]->name, &uid, 1, 0,
				    NULL, NULL);
	if (rc != ST_OK)
		return set_error(store_set_error(rc), NULL);
	email_id(m.blob, id);
	snprintf(tid, sizeof tid, "T%s", id);
	snprintf(bid, sizeof bid, "B%llx", (unsigned long long)m.blob);
	*created = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "blobId", bid, "threadId", tid, "size",
			     (json_int_t)m.size);
	return NULL;
}

/* Email/import: uploaded blobs (jmap_upload.c) become messages, through
 * the same store_append IMAP APPEND uses. */
json_t *jmap_email_import(struct jreq *r, json_t *args)
{
	json_t *emails = json_object_get(args, "emails"), *ifin = json_object_get(args, "ifInState");
	json_t *created, *notcre, *v;
	struct jmap_mboxes l;
	char old[JMAP_STATE_MAX], now[JMAP_STATE_MAX], acc[16];
	const char *k;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (!json_is_object(emails) || (ifin && !json_is_null(ifin) && !json_is_string(ifin)))
		return jmap_error(r, "invalidArguments", "emails, ifInState"), NULL;
	if (json_object_size(emails) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInSet"), NULL;
	if (jmap_mboxes_load(r, &l) < 0)
		return NULL;
	email_state(&l, old, sizeof old);
	if (json_is_string(ifin) && strcmp(json_string_value(ifin), old)) {
		free(l.v);
		return jmap_error(r, "stateMismatch", "ifInState is not the current state"), NULL;
	}
	created = json_object();
	notcre = json_object();
	json_object_foreach(emails, k, v)
	{
		json_t *c = NULL, *e = email_new(r, &l, v, NULL, &c);
		if (e)
			json_object_set_new(notcre, k, e);
		else {
			json_object_set(r->created_ids, k, json_object_get(c, "id"));
			json_object_set_new(created, k, c);
		}
	}
	free(l.v);
	if (jmap_mboxes_load(r, &l) < 0) {
		json_decref(created);
		json_decref(notcre);
		return NULL;
	}
	email_state(&l, now, sizeof now);
	free(l.v);
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "accountId", acc, "oldState", old, "newState",
			 now, "created", created, "notCreated", notcre);
}

/* ---- for jmap_submit.c ---- */

int jmap_email_locate(struct jreq *r, const struct jmap_mboxes *l, const char *eid,
		      struct msg_info *m, const struct mbox_info **mi)
{
	struct msg_place places[EMAIL_PLACES_MAX];
	size_t np;
	return email_find(r, l, eid, m, mi, places, &np);
}

json_t *jmap_email_update(struct jreq *r, const struct jmap_mboxes *l, const char *eid,
			  json_t *patch)
{
	return email_update(r, l, eid, patch);
}

void jmap_email_state(const struct jmap_mboxes *l, char *buf, size_t cap)
{
	email_state(l, buf, cap);
}

int jmap_utc_date(const char *s, int64_t *t)
{
	return utc_date(s, t);
}
