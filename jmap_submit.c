/*
 * jmap_submit.c — sending mail over JMAP (RFC 8621 6, 7): Identity/get and
 * EmailSubmission/set create, with onSuccessUpdateEmail.
 *
 * Identities are not stored: an account has one for its own address and
 * one for each alias it may send as (the same rule as SMTP submission,
 * smtp_sender_owned); an identity's id is "I" and a 64-bit FNV-1a hash of
 * the address in hex, so it stays the same as long as the address does.
 *
 * A submission takes the Email's bytes as the store has them, drops its
 * Bcc fields (RFC 8621 7.5), prepends a Received field and the DKIM
 * signature (authres_submission, as SMTP submission and sendmail do) and
 * hands the message to smtp_commit, the commit SMTP and sendmail share:
 * remote recipients are queued, local ones get it delivered, both in
 * commits done before the answer. The envelope, when not given, is the
 * identity's address and every address of To, Cc and Bcc. From and Sender
 * must pass the submission rule (smtp_header_senders). Submissions are not
 * kept: once made they are final (undoStatus "final"), and
 * EmailSubmission/get, /changes and /query are not implemented.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authres.h"
#include "config.h"
#include "jmap_int.h"
#include "log.h"
#include "mailbox.h"
#include "message.h"
#include "objid.h"
#include "server.h"
#include "smtp.h"
#include "spool.h"
#include "util.h"

#define IDENTITIES_MAX	  256	       /* identities listed for one account */
#define SUBMIT_HEADER_MAX (1024 * 1024) /* header section read from the Email */
#define SUBMIT_PIECE	  (64 * 1024)

/* ---- identities ---- */

struct idlist {
	char (*addr)[STORE_ADDR_MAX + 1];
	size_t n;
};

static void identity_id(const char *addr, char out[24])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *p = addr; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 24, "I%016llx", (unsigned long long)h);
}

static void alias_cb(void *arg, const char *addr, const char *const *targets, size_t n)
{
	struct idlist *l = arg;
	(void)targets;
	(void)n;
	if (addr[0] != '@' && l->n < IDENTITIES_MAX)
		str_copy(l->addr[l->n++], addr, sizeof l->addr[0]);
}

/* The account's address, then the aliases it may send as. */
static int identities(struct jreq *r, struct idlist *l)
{
	size_t n, k = 1;
	l->addr = xcalloc(IDENTITIES_MAX, sizeof *l->addr);
	str_copy(l->addr[0], r->a->addr, sizeof l->addr[0]);
	l->n = 1;
	/* collected first: the owner check reads the store itself */
	if (store_alias_list(r->srv->store, alias_cb, l) != ST_OK) {
		free(l->addr);
		return jmap_error(r, "serverFail", "cannot read the aliases");
	}
	n = l->n;
	for (size_t i = 1; i < n; i++)
		if (strcmp(l->addr[i], r->a->addr) &&
		    smtp_sender_owned(r->srv->store, r->srv->cfg, r->a->id, r->a->addr, l->addr[i]))
			memmove(l->addr[k++], l->addr[i], sizeof l->addr[0]);
	l->n = k;
	return 0;
}

static json_t *identity_json(const char *addr)
{
	char id[24];
	identity_id(addr, id);
	return json_pack("{s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:b}", "id", id, "name", "", "email",
			 addr, "replyTo", "bcc", "textSignature", "", "htmlSignature", "", "mayDelete",
			 0);
}

json_t *jmap_identity_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *list, *notfound, *v;
	struct idlist l;
	char acc[16], id[24];
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (ids && !json_is_null(ids) && !json_is_array(ids))
		return jmap_error(r, "invalidArguments", "ids"), NULL;
	if (json_array_size(ids) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInGet"), NULL;
	json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "ids holds a non-string"),
	    NULL;
	if (identities(r, &l) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	if (!json_is_array(ids))
		for (i = 0; i < l.n; i++)
			json_array_append_new(list, identity_json(l.addr[i]));
	else
		json_array_foreach(ids, i, v)
		{
			size_t k;
			for (k = 0; k < l.n; k++) {
				identity_id(l.addr[k], id);
				if (!strcmp(id, json_string_value(v)))
					break;
			}
			if (k < l.n)
				json_array_append_new(list, identity_json(l.addr[k]));
			else
				json_array_append(notfound, v);
		}
	free(l.addr);
	jmap_account_id(r->a, acc, sizeof acc);
	/* identities change only with the aliases: the state is their digest */
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", "i1", "list", list,
			 "notFound", notfound);
}

/* ---- EmailSubmission/set ---- */

static json_t *set_error(const char *type, const char *desc)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (desc)
		json_object_set_new(e, "description", json_string(desc));
	return e;
}

static json_t *invalid(const char *prop)
{
	return json_pack("{s:s, s:[s]}", "type", "invalidProperties", "properties", prop);
}

/* The message's bytes into a new spool, or NULL. */
static struct spool *message_spool(struct jreq *r, const struct msg_info *m)
{
	struct spool *sp = spool_new(SPOOL_MEM_DEFAULT);
	char *buf = xmalloc(SUBMIT_PIECE);
	uint64_t off = 0;
	while (off < m->size) {
		long n = store_msg_read(r->srv->store, m->blob, off, buf, SUBMIT_PIECE);
		if (n <= 0 || spool_write(sp, buf, (size_t)n) < 0)
			break;
		off += (uint64_t)n;
	}
	free(buf);
	if (off != m->size || spool_error(sp))
		spool_free(&sp);
	return sp;
}

/* The header section (through its empty line) into *h: its length, or 0
 * when it has none within SUBMIT_HEADER_MAX. */
static size_t header_of(struct spool *sp, struct sbuf *h)
{
	char buf[8192];
	uint64_t off = 0;
	long n;
	while (h->len < SUBMIT_HEADER_MAX && (n = spool_read_at(sp, off, buf, sizeof buf)) > 0) {
		size_t from = h->len >= 3 ? h->len - 3 : 0;
		sbuf_add(h, buf, (size_t)n);
		off += (uint64_t)n;
		if (h->len >= 2 && h->p[0] == '\r' && h->p[1] == '\n')
			return 2;
		for (size_t i = from; i + 3 <= h->len; i++)
			if (!memcmp(h->p + i, "\n\r\n", 3))
				return i + 3;
	}
	return 0;
}

struct rcpts {
	char (*v)[STORE_ADDR_MAX + 1];
	size_t n;
	int bad;
};

static int rcpt_add(void *arg, const char *text)
{
	struct rcpts *rc = arg;
	struct smtp_addr a;
	size_t used, n = strlen(text);
	if (smtp_path_parse(text, n, SP_NO_BRACKETS, &a, &used) != 0 || used != n ||
	    (a.flags & SA_LITERAL)) {
		rc->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < rc->n; i++)
		if (!strcmp(rc->v[i], a.addr))
			return 0;
	if (rc->n == SMTP_RCPT_MAX) {
		rc->bad = 2;
		return 1;
	}
	str_copy(rc->v[rc->n++], a.addr, sizeof rc->v[0]);
	return 0;
}

/* A recipient into the set, as SMTP RCPT would route it: 0, or -1 when
 * it is a local address with no account or alias behind it. */
static int route(struct jreq *r, const char *addr, struct smtp_rcptset *set)
{
	const char *dom = strrchr(addr, '@');
	struct resolved *res;
	int rc;
	if (!dom || !config_domain_is_local(r->srv->cfg, dom + 1)) {
		smtp_rcptset_add_ext(set, addr);
		return 0;
	}
	res = xcalloc(1, sizeof *res);
	rc = smtp_resolve(r->srv->store, r->srv->cfg, addr, res);
	if (rc == ST_OK) {
		for (size_t i = 0; i < res->nusers; i++)
			smtp_rcptset_add_user(set, res->users[i]);
		for (size_t i = 0; i < res->nexternal; i++)
			smtp_rcptset_add_fwd(set, res->external[i], dom + 1);
	}
	store_resolved_free(res);
	free(res);
	return rc == ST_OK ? 0 : -1;
}

/* The envelope argument (RFC 8621 7.1): mailFrom and rcptTo, parameters
 * only null. NULL, or the name of the bad property. */
static const char *envelope_parse(json_t *env, char *from, size_t cap, struct rcpts *rc)
{
	json_t *mf = json_object_get(env, "mailFrom"), *rt = json_object_get(env, "rcptTo"), *v;
	json_t *e = json_object_get(mf, "email");
	struct smtp_addr a;
	size_t i, used;
	if (!json_is_object(env) || !json_is_object(mf) || !json_is_string(e) ||
	    !json_is_array(rt) || (json_object_get(mf, "parameters") &&
				   !json_is_null(json_object_get(mf, "parameters"))))
		return "envelope";
	if (json_string_length(e) == 0)
		from[0] = 0; /* the null reverse-path */
	else if (smtp_path_parse(json_string_value(e), json_string_length(e), SP_NO_BRACKETS, &a,
				 &used) ||
		 used != json_string_length(e))
		return "envelope";
	else
		str_copy(from, a.addr, cap);
	json_array_foreach(rt, i, v)
	{
		json_t *re = json_object_get(v, "email");
		if (!json_is_string(re) ||
		    (json_object_get(v, "parameters") && !json_is_null(json_object_get(v, "parameters"))))
			return "envelope";
		rcpt_add(rc, json_string_value(re));
	}
	return rc->bad ? "envelope" : NULL;
}

/* The header fields (h, hlen bytes, without the empty line) minus Bcc
 * (RFC 8621 7.5: never sent), each as it was written. */
static void without_bcc(const char *h, size_t hlen, struct sbuf *out)
{
	const char *name, *val;
	size_t pos = 0, start = 0, nlen, vlen;
	while (mime_hdr_next(h, hlen, &pos, &name, &nlen, &val, &vlen)) {
		if (!(nlen == 3 && str_ncasecmp_ascii(name, "Bcc", 3) == 0))
			sbuf_add(out, h + start, pos - start);
		start = pos;
	}
}

static int header_rcpts(const char *h, size_t hlen, struct rcpts *rc)
{
	const char *name, *val;
	size_t pos = 0, nlen, vlen;
	while (mime_hdr_next(h, hlen, &pos, &name, &nlen, &val, &vlen)) {
		if ((nlen == 2 && str_ncasecmp_ascii(name, "To", 2) == 0) ||
		    (nlen == 2 && str_ncasecmp_ascii(name, "Cc", 2) == 0) ||
		    (nlen == 3 && str_ncasecmp_ascii(name, "Bcc", 3) == 0))
			if (smtp_addr_list(val, vlen, NULL, 0, rcpt_add, rc) == -1)
				break;
	}
	return rc->bad;
}

/* One EmailSubmission create: NULL with *created, or the SetError. */
static json_t *submit_one(struct jreq *r, const struct jmap_mboxes *l, const struct idlist *ids,
			  json_t *c, json_t **created, char *email_id, size_t eid_cap)
{
	json_t *eid = json_object_get(c, "emailId"), *iid = json_object_get(c, "identityId"),
	       *env = json_object_get(c, "envelope"), *v;
	const char *k, *bad = NULL, *ident = NULL;
	char from[STORE_ADDR_MAX + 1], id[17], date[64], bad_addr[STORE_ADDR_MAX + 1], sid[24];
	const struct mbox_info *mi;
	struct msg_info m;
	struct spool *sp = NULL, *out = NULL;
	struct sbuf h = {0}, hdr = {0};
	struct rcpts rc = {0};
	struct smtp_rcptset set = {0};
	struct smtp_outcome o;
	json_t *err = NULL, *notfound;
	size_t hlen;
	char *sig = NULL;
	int src;

	if (!json_is_object(c))
		return set_error("invalidProperties", "not an EmailSubmission object");
	json_object_foreach(c, k, v) if (strcmp(k, "emailId") && strcmp(k, "identityId") &&
					 strcmp(k, "envelope")) bad = k;
	if (bad)
		return invalid(bad);
	if (!json_is_string(eid))
		return invalid("emailId");
	if (!json_is_string(iid))
		return invalid("identityId");
	for (size_t i = 0; i < ids->n && !ident; i++) {
		char x[24];
		identity_id(ids->addr[i], x);
		if (!strcmp(x, json_string_value(iid)))
			ident = ids->addr[i];
	}
	if (!ident)
		return invalid("identityId");
	/* RFC 8621 7.5: "#creationId" of an Email made earlier in the request */
	if (json_string_value(eid)[0] == '#') {
		eid = json_object_get(r->created_ids, json_string_value(eid) + 1);
		if (!json_is_string(eid))
			return invalid("emailId");
	}
	if (jmap_email_locate(r, l, json_string_value(eid), &m, &mi) < 0)
		return invalid("emailId");
	str_copy(email_id, json_string_value(eid), eid_cap);
	if (!(sp = message_spool(r, &m)))
		return set_error("serverFail", "cannot read the Email");
	rc.v = xcalloc(SMTP_RCPT_MAX, sizeof *rc.v);
	if (!(hlen = header_of(sp, &h))) {
		err = set_error("invalidEmail", "no header section within 1 MiB");
		goto out;
	}
	/* RFC 8621 7.5: without an envelope, the identity's address and the
	 * addresses of To, Cc and Bcc */
	if (env && !json_is_null(env)) {
		if ((bad = envelope_parse(env, from, sizeof from, &rc))) {
			err = invalid(bad);
			goto out;
		}
	} else {
		str_copy(from, ident, sizeof from);
		if (header_rcpts(h.p, hlen, &rc) == 2) {
			err = set_error("tooManyRecipients", NULL);
			goto out;
		}
	}
	if (rc.n == 0) {
		err = set_error("noRecipients", NULL);
		goto out;
	}
	if (from[0] &&
	    !smtp_sender_owned(r->srv->store, r->srv->cfg, r->a->id, r->a->addr, from)) {
		err = set_error("forbiddenMailFrom", from);
		goto out;
	}
	if (smtp_header_senders(r->srv->store, r->srv->cfg, r->a->id, r->a->addr, sp, bad_addr,
				sizeof bad_addr) != SMTP_SENDERS_OK) {
		err = set_error("forbiddenFrom", bad_addr);
		goto out;
	}
	notfound = json_array();
	for (size_t i = 0; i < rc.n; i++)
		if (route(r, rc.v[i], &set) < 0)
			json_array_append_new(notfound, json_string(rc.v[i]));
	if (json_array_size(notfound)) {
		err = json_pack("{s:s, s:o}", "type", "invalidRecipients", "invalidRecipients",
				notfound);
		goto out;
	}
	json_decref(notfound);
	/* the message as it is sent: Received, DKIM, the header minus Bcc, the body */
	smtp_make_id(id);
	smtp_date(date, sizeof date, time(NULL));
	sbuf_printf(&hdr, "Received: by %s (brev) with HTTP id %s;\r\n\t%s\r\n",
		    r->srv->cfg->hostname[0] ? r->srv->cfg->hostname : "localhost", id, date);
	out = spool_new(SPOOL_MEM_DEFAULT);
	{
		struct sbuf kept = {0};
		without_bcc(h.p, hlen - 2, &kept);
		spool_write(out, kept.p ? kept.p : "", kept.len);
		sbuf_free(&kept);
	}
	{
		char *buf = xmalloc(SUBMIT_PIECE);
		uint64_t off = hlen - 2;
		long n;
		while ((n = spool_read_at(sp, off, buf, SUBMIT_PIECE)) > 0) {
			spool_write(out, buf, (size_t)n);
			off += (uint64_t)n;
		}
		free(buf);
	}
	if (spool_error(out)) {
		err = set_error("serverFail", "cannot copy the Email");
		goto out;
	}
	sig = authres_submission(r->srv->cfg->datadir,
				 r->srv->cfg->hostname[0] ? r->srv->cfg->hostname : "localhost", from,
				 id, hdr.p, hdr.len, out, 0);
	sbuf_puts(&hdr, sig);
	{
		struct sbuf local = {0};
		char via[STORE_ADDR_MAX + 64];
		sbuf_printf(&local, "Return-Path: <%s>\r\n", from);
		size_t rp = local.len;
		sbuf_add(&local, hdr.p, hdr.len);
		snprintf(via, sizeof via, "proto=jmap user=%s", r->a->addr);
		src = smtp_commit(r->srv->store, r->srv->cfg, from, &set, local.p, local.len,
				  local.p + rp, local.len - rp, out, id, via, &o);
		sbuf_free(&local);
	}
	if (src != ST_OK) {
		err = set_error("serverFail", "the store could not take the message");
		goto out;
	}
	log_info("jmap submission id=%s user=%s from=<%s> rcpts=%zu delivered=%zu queued=%zu "
		 "refused=%zu",
		 id, r->a->addr, from, rc.n, o.delivered, o.queued, o.quota + o.toobig + o.gone);
	if (o.delivered == 0 && o.queued == 0) {
		err = set_error("forbiddenToSend", "every recipient refused the message (quota)");
		goto out;
	}
	snprintf(sid, sizeof sid, "S%s", id);
	{
		char when[32];
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		*created = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", sid, "emailId", email_id,
				     "identityId", json_string_value(iid), "sendAt", when,
				     "undoStatus", "final");
	}
out:
	free(sig);
	sbuf_free(&h);
	sbuf_free(&hdr);
	free(rc.v);
	spool_free(&sp);
	spool_free(&out);
	smtp_rcptset_free(&set);
	return err;
}

json_t *jmap_submission_set(struct jreq *r, json_t *args)
{
	json_t *create = json_object_get(args, "create"), *upd = json_object_get(args, "update"),
	       *des = json_object_get(args, "destroy"),
	       *onupd = json_object_get(args, "onSuccessUpdateEmail"),
	       *ondes = json_object_get(args, "onSuccessDestroyEmail"),
	       *ifin = json_object_get(args, "ifInState");
	json_t *created, *notcre, *eids, *v, *out, *notupd, *notdes;
	struct jmap_mboxes l;
	struct idlist ids;
	char acc[16];
	const char *k;
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if ((create && !json_is_null(create) && !json_is_object(create)) ||
	    (upd && !json_is_null(upd) && !json_is_object(upd)) ||
	    (des && !json_is_null(des) && !json_is_array(des)) ||
	    (onupd && !json_is_null(onupd) && !json_is_object(onupd)) ||
	    (ifin && !json_is_null(ifin) && !json_is_string(ifin)))
		return jmap_error(r, "invalidArguments",
				  "create, update, destroy, onSuccessUpdateEmail, ifInState"),
		       NULL;
	if (ondes && !json_is_null(ondes))
		return jmap_error(r, "invalidArguments", "onSuccessDestroyEmail is not supported"),
		       NULL;
	if (json_object_size(create) + json_object_size(upd) + json_array_size(des) >
	    JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInSet"), NULL;
	/* submissions are not kept: there is no state to match but the first */
	if (json_is_string(ifin) && strcmp(json_string_value(ifin), "s0"))
		return jmap_error(r, "stateMismatch", "ifInState is not the current state"), NULL;
	if (identities(r, &ids) < 0)
		return NULL;
	if (jmap_mboxes_load(r, &l) < 0) {
		free(ids.addr);
		return NULL;
	}
	created = json_object();
	notcre = json_object();
	eids = json_object(); /* creation id -> Email id, for onSuccessUpdateEmail */
	json_object_foreach(create, k, v)
	{
		json_t *c = NULL, *e;
		char eid[OBJID_MAX];
		e = submit_one(r, &l, &ids, v, &c, eid, sizeof eid);
		if (e)
			json_object_set_new(notcre, k, e);
		else {
			json_object_set_new(created, k, c);
			json_object_set_new(eids, k, json_string(eid));
		}
	}
	free(ids.addr);
	/* nothing can be changed or cancelled: every submission is final */
	notupd = json_object();
	json_object_foreach(upd, k, v) json_object_set_new(
	    notupd, k, set_error("cannotUnsend", "submissions are sent at once"));
	notdes = json_object();
	json_array_foreach(des, i, v) if (json_is_string(v)) json_object_set_new(
	    notdes, json_string_value(v), set_error("notFound", "submissions are not kept"));
	/* RFC 8621 7.5: onSuccessUpdateEmail, applied as an Email/set whose
	 * response follows this one */
	if (json_object_size(onupd)) {
		json_t *updated = json_object(), *notupdated = json_object();
		char old[JMAP_STATE_MAX], now[JMAP_STATE_MAX];
		jmap_email_state(&l, old, sizeof old);
		json_object_foreach(onupd, k, v)
		{
			/* "#creation id" of this call (submissions are not
			 * kept, so no other id can name one) */
			json_t *e, *cid = k[0] == '#' ? json_object_get(eids, k + 1) : NULL;
			if (!cid)
				continue; /* a submission that failed or is not this call's */
			e = jmap_email_update(r, &l, json_string_value(cid), v);
			json_object_set_new(e ? notupdated : updated, json_string_value(cid),
					    e ? e : json_null());
		}
		free(l.v);
		if (jmap_mboxes_load(r, &l) == 0) {
			jmap_email_state(&l, now, sizeof now);
			free(l.v);
		} else
			str_copy(now, old, sizeof now);
		jmap_account_id(r->a, acc, sizeof acc);
		r->follow = json_pack("{s:s, s:s, s:s, s:o, s:o}", "accountId", acc, "oldState", old,
				      "newState", now, "updated", updated, "notUpdated", notupdated);
		r->follow_name = "Email/set";
	} else
		free(l.v);
	json_decref(eids);
	jmap_account_id(r->a, acc, sizeof acc);
	out = json_pack("{s:s, s:s, s:s, s:o, s:o, s:n, s:o, s:[], s:o}", "accountId", acc,
			"oldState", "s0", "newState", "s0", "created", created, "notCreated", notcre,
			"updated", "notUpdated", notupd, "destroyed", "notDestroyed", notdes);
	return out;
}
