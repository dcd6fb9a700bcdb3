/* fuzz_jmap.c — a JMAP API request from its raw bytes (jmap.c): the
 * nesting bound before parsing, jansson, the request's shape, result
 * references with their JSON Pointer paths and "*", Core/echo, and every
 * error path, Email/set's patches, Mailbox/set. Oracles: the reply is always JSON with status 200
 * or 400, and a 400 is always problem details. The store is replaced by three fixed mailboxes
 * holding one message each (the store_* functions below): what is fuzzed is the request handling,
 * not LMDB. Email/import finds no upload (jmap_upload_load reads files that are not there);
 * EmailSubmission/set runs up to the commit, which is replaced too (smtp_* and authres below):
 * a local domain b.test whose addresses resolve to account 8, senders owned unless they
 * start with "x", every commit a delivery. VacationResponse/set writes its Sieve script into
 * an in-memory store of a few scripts (store_sieve_* below), emptied for each input. */
/* deps: jmap jmap_vacation sieve sieve_parse sieve_match jmap_mailbox jmap_email jmap_upload jmap_submit jmap_changes jmap_compose jmap_body message_preview thread spool smtp_addr objid message message_text util log */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../jmap.h"
#include "../mailbox.h"
#include "../server.h"
#include "../smtp.h"
#include "../util.h"

int store_mbox_list(struct store *st, uint32_t user,
		    void (*cb)(void *arg, const struct mbox_info *m), void *arg)
{
	static const struct mbox_info m[3] = {
	    {.id = 1, .name = "INBOX", .special = MBOX_INBOX, .subscribed = 1, .exists = 3},
	    {.id = 2, .name = "Work", .exists = 1, .unseen = 1},
	    {.id = 3, .name = "Work/Old", .special = MBOX_ARCHIVE},
	};
	(void)st;
	(void)user;
	for (int i = 0; i < 3; i++)
		cb(arg, &m[i]);
	return ST_OK;
}

static const char msg[] = "Subject: =?UTF-8?Q?hi_there?=\r\nFrom: a@b.test\r\n\r\nbody\r\n";

int store_msg_list(struct store *st, uint32_t user, const char *mbox, uint32_t uid_min,
		   int (*cb)(void *arg, const struct msg_info *m), void *arg)
{
	struct msg_info m = {.uid = 1,
			     .flags = FL_SEEN,
			     .keywords = 1,
			     .size = sizeof msg - 1,
			     .internaldate = 1700000000,
			     .blob = 5};
	(void)st, (void)user, (void)mbox, (void)uid_min;
	cb(arg, &m);
	return ST_OK;
}

int store_msg_get(struct store *st, uint32_t user, const char *mbox, uint32_t uid,
		  struct msg_info *out)
{
	struct msg_info m = {
	    .uid = 1, .size = sizeof msg - 1, .internaldate = 1700000000, .blob = 5};
	(void)st, (void)user, (void)mbox;
	if (uid != 1)
		return ST_NOTFOUND;
	*out = m;
	return ST_OK;
}

/* Blob 5 (E5) is UID 1 of INBOX and of Work. */
int store_msg_places(struct store *st, uint32_t user, uint64_t blob, struct msg_place *out,
		     size_t max, size_t *n)
{
	(void)st, (void)user;
	*n = 0;
	if (blob != 5)
		return ST_OK;
	for (uint32_t i = 0; i < 2; i++) {
		if (i < max)
			out[i] = (struct msg_place){.mbox_id = i + 1, .uid = 1};
		(*n)++;
	}
	return ST_OK;
}

/* Email/set's changes: accepted and forgotten, but ST_LIMIT for a keyword
 * named "full", to reach the SetError path. */
int store_msg_flags(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		    size_t n, int op, uint32_t flags, const char *const *keywords, size_t nkw)
{
	(void)st, (void)user, (void)mbox, (void)uids, (void)n, (void)op, (void)flags;
	for (size_t i = 0; i < nkw; i++)
		if (!strcmp(keywords[i], "full"))
			return ST_LIMIT;
	return ST_OK;
}

int store_msg_copy(struct store *st, uint32_t user, const char *src, const char *dst,
		   const uint32_t *uids, size_t n, int move, uint32_t *dst_uidvalidity,
		   uint32_t *new_uids)
{
	(void)st, (void)user, (void)src, (void)dst, (void)uids, (void)n, (void)move;
	(void)dst_uidvalidity, (void)new_uids;
	return ST_OK;
}

int store_msg_expunge(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		      size_t n)
{
	(void)st, (void)user, (void)mbox, (void)uids, (void)n;
	return ST_OK;
}

int store_mbox_keywords(struct store *st, uint32_t user, const char *mbox,
			void (*cb)(void *arg, int index, const char *name), void *arg)
{
	(void)st, (void)user, (void)mbox;
	cb(arg, 0, "Urgent");
	return ST_OK;
}

/* Mailbox/set's changes: "Work" exists already, the rest succeeds. */
int store_mbox_create(struct store *st, uint32_t user, const char *name, int special)
{
	(void)st, (void)user, (void)special;
	return !strcmp(name, "Work") ? ST_EXISTS : ST_OK;
}

int store_mbox_rename(struct store *st, uint32_t user, const char *oldname, const char *newname)
{
	(void)st, (void)user, (void)oldname;
	return !strcmp(newname, "Work") ? ST_EXISTS : ST_OK;
}

int store_mbox_subscribe(struct store *st, uint32_t user, const char *name, int on)
{
	(void)st, (void)user, (void)name, (void)on;
	return ST_OK;
}

int store_mbox_delete(struct store *st, uint32_t user, const char *name)
{
	(void)st, (void)user, (void)name;
	return ST_OK;
}

long store_msg_read(struct store *st, uint64_t blob, uint64_t off, void *buf, size_t n)
{
	(void)st, (void)blob;
	if (off >= sizeof msg - 1)
		return 0;
	if (n > sizeof msg - 1 - off)
		n = sizeof msg - 1 - off;
	memcpy(buf, msg + off, n);
	return (long)n;
}

/* Email/changes: in every mailbox, UID 1 (blob 5) changed and UID 2 (blob 6) expunged. */
int store_msg_changes_blob(struct store *st, uint32_t user, const char *mbox, uint64_t since,
			   int (*cb)(void *arg, uint32_t uid, const struct msg_info *m,
				     uint64_t blob),
			   void *arg, struct mbox_info *info, int *stale)
{
	struct msg_info m = {.uid = 1, .size = sizeof msg - 1, .blob = 5};
	(void)st, (void)user, (void)mbox, (void)info;
	*stale = since == 7; /* the expunges after modseq 7 are forgotten */
	if (*stale)
		return ST_OK;
	if (cb(arg, 2, NULL, 6))
		return ST_OK;
	cb(arg, 1, &m, 5);
	return ST_OK;
}

/* The full-text index: it cannot narrow (every message is read). */
int store_fts_candidates(struct store *st, const char *needle, struct store_fts *out)
{
	(void)st, (void)needle, (void)out;
	return ST_INVALID;
}

int store_fts_may_match(const struct store_fts *c, uint64_t blob)
{
	(void)c, (void)blob;
	return 1;
}

void store_fts_free(struct store_fts *c)
{
	(void)c;
}

int store_append(struct store *st, uint32_t user, const char *mbox, const struct msg_in *m,
		 uint32_t *uidvalidity, uint32_t *uid)
{
	(void)st, (void)user, (void)mbox, (void)m;
	*uidvalidity = 1;
	*uid = 1;
	return ST_OK;
}

int store_alias_list(struct store *st,
		     void (*cb)(void *arg, const char *addr, const char *const *targets, size_t n),
		     void *arg)
{
	static const char *const t[1] = {"alice@example.test"};
	(void)st;
	cb(arg, "sales@example.test", t, 1);
	cb(arg, "xother@example.test", t, 1);
	cb(arg, "@example.test", t, 1);
	return ST_OK;
}

void store_resolved_free(struct resolved *r)
{
	(void)r;
}

int config_domain_is_local(const struct config *c, const char *domain)
{
	(void)c;
	return !strcmp(domain, "b.test") || !strcmp(domain, "example.test");
}

int smtp_sender_owned(struct store *st, const struct config *cfg, uint32_t uid, const char *user,
		      const char *addr)
{
	(void)st, (void)cfg, (void)uid, (void)user;
	return addr[0] != 'x';
}

int smtp_header_senders(struct store *st, const struct config *cfg, uint32_t uid,
			const char *user, struct spool *sp, char *bad, size_t cap)
{
	(void)st, (void)cfg, (void)uid, (void)user, (void)sp;
	str_copy(bad, "", cap);
	return SMTP_SENDERS_OK;
}

int smtp_resolve(struct store *st, const struct config *cfg, const char *addr, struct resolved *r)
{
	(void)st, (void)cfg;
	if (addr[0] == 'x')
		return ST_NOTFOUND;
	r->users[0] = 8;
	r->nusers = 1;
	return ST_OK;
}

void smtp_rcptset_add_user(struct smtp_rcptset *r, uint32_t id)
{
	(void)r, (void)id;
}

void smtp_rcptset_add_ext(struct smtp_rcptset *r, const char *addr)
{
	(void)r, (void)addr;
}

void smtp_rcptset_add_fwd(struct smtp_rcptset *r, const char *addr, const char *via)
{
	(void)r, (void)addr, (void)via;
}

void smtp_rcptset_free(struct smtp_rcptset *r)
{
	(void)r;
}

void smtp_make_id(char out[17])
{
	strcpy(out, "0123456789ABCDEF");
}

void smtp_date(char *out, size_t cap, time_t t)
{
	(void)t;
	str_copy(out, "Thu, 1 Jan 2026 00:00:00 +0000", cap);
}

char *authres_submission(const char *datadir, const char *hostname, const char *mail_from,
			 const char *id, const char *pre, size_t prelen, struct spool *sp,
			 int add_missing)
{
	(void)datadir, (void)hostname, (void)mail_from, (void)id, (void)pre, (void)prelen, (void)sp;
	(void)add_missing;
	return xstrdup("");
}

int smtp_commit(struct store *st, const struct config *cfg, const char *from,
		const struct smtp_rcptset *r, const char *hdr_local, size_t hlen_local,
		const char *hdr_queue, size_t hlen_queue, struct spool *body, const char *id,
		const char *via, struct smtp_outcome *o)
{
	(void)st, (void)cfg, (void)from, (void)r, (void)hdr_local, (void)hlen_local;
	(void)hdr_queue, (void)hlen_queue, (void)body, (void)id, (void)via;
	memset(o, 0, sizeof *o);
	o->delivered = 1;
	return ST_OK;
}

/* ---- Sieve scripts: a few, in memory ---- */
#define FZ_SCRIPTS 4
static struct {
	char name[STORE_SIEVE_NAME + 1];
	char *src;
	size_t len;
} scripts[FZ_SCRIPTS];
static int active_script = -1;

static int script_find(const char *name)
{
	for (int i = 0; i < FZ_SCRIPTS; i++)
		if (scripts[i].src && !strcmp(scripts[i].name, name))
			return i;
	return -1;
}

static void scripts_reset(void)
{
	for (int i = 0; i < FZ_SCRIPTS; i++) {
		free(scripts[i].src);
		scripts[i].src = NULL;
	}
	active_script = -1;
}

int store_sieve_put(struct store *st, uint32_t user, const char *name, const char *src, size_t len)
{
	int i = script_find(name);
	(void)st;
	(void)user;
	if (len > STORE_SIEVE_SIZE || strlen(name) > STORE_SIEVE_NAME)
		return ST_INVALID;
	for (int k = 0; i < 0 && k < FZ_SCRIPTS; k++)
		if (!scripts[k].src)
			i = k;
	if (i < 0)
		return ST_LIMIT;
	free(scripts[i].src);
	scripts[i].src = xmalloc(len + 1);
	memcpy(scripts[i].src, src, len);
	scripts[i].src[len] = 0;
	scripts[i].len = len;
	strcpy(scripts[i].name, name);
	return ST_OK;
}

int store_sieve_get(struct store *st, uint32_t user, const char *name, char **src, size_t *len,
		    int *active)
{
	int i = script_find(name);
	(void)st;
	(void)user;
	if (i < 0)
		return ST_NOTFOUND;
	*src = xstrdup(scripts[i].src);
	*len = scripts[i].len;
	if (active)
		*active = i == active_script;
	return ST_OK;
}

int store_sieve_activate(struct store *st, uint32_t user, const char *name)
{
	(void)st;
	(void)user;
	if (!name || !*name) {
		active_script = -1;
		return ST_OK;
	}
	int i = script_find(name);
	if (i < 0)
		return ST_NOTFOUND;
	active_script = i;
	return ST_OK;
}

int store_sieve_active(struct store *st, uint32_t user, char **name, char **src, size_t *len)
{
	(void)st;
	(void)user;
	if (active_script < 0)
		return ST_NOTFOUND;
	*name = xstrdup(scripts[active_script].name);
	*src = xstrdup(scripts[active_script].src);
	*len = scripts[active_script].len;
	return ST_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static struct server srv;
	static struct account a;
	struct jmap_reply r;
	json_t *j;

	cfg.message_size = 1 << 20;
	srv.cfg = &cfg;
	a.id = 7;
	strcpy(a.addr, "alice@example.test");
	if (size > (1 << 20))
		return 0;
	scripts_reset();
	/* a script of the user's own, active: VacationResponse/set includes it */
	store_sieve_put(NULL, a.id, "rules", "keep;\n", 6);
	store_sieve_activate(NULL, a.id, "rules");
	jmap_api(&srv, &a, (const char *)data, size, &r);
	if (!r.body || (r.status != 200 && r.status != 400))
		abort();
	j = json_loadb(r.body, r.len, 0, NULL);
	if (!j)
		abort();
	if (r.status == 400 && (strcmp(r.type, "application/problem+json") != 0 ||
				!json_is_string(json_object_get(j, "type"))))
		abort();
	if (r.status == 200 && !json_is_array(json_object_get(j, "methodResponses")))
		abort();
	json_decref(j);
	free(r.body);
	return 0;
}
