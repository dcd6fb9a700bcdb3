/*
 * jmap_int.h — what jmap.c shares with the files that hold the data types'
 * methods (jmap_mailbox.c, ...): the request being processed, the error
 * setter and the account-id check. Private to jmap*.c.
 */
#ifndef BREV_JMAP_INT_H
#define BREV_JMAP_INT_H

#include <jansson.h>

#include "jmap.h"
#include <stddef.h>
#include <stdint.h>

struct server;
struct account;
struct msg_info;
struct mbox_info;

#define JMAP_CAP_CORE	 "urn:ietf:params:jmap:core"
#define JMAP_CAP_MAIL	 "urn:ietf:params:jmap:mail"
#define JMAP_CAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define JMAP_CAP_VACATION   "urn:ietf:params:jmap:vacationresponse"
#define JMAP_MAX_OBJECTS 500 /* maxObjectsInGet / maxObjectsInSet */

/* One request's state while its calls run. */
struct jreq {
	const struct server *srv;
	const struct account *a;
	json_t *using;	   /* the request's "using" */
	json_t *responses; /* methodResponses so far */
	size_t used;	   /* their serialized size */
	const char *err;   /* a method-level error type, set by a failing step */
	/* A second response the method adds after its own, under the same call
	 * id (owned; RFC 8621 7.5's implicit Email/set), or NULL. */
	json_t *follow;
	const char *follow_name;
	/* RFC 8620 5.3: creation id -> the id it became, for "#creationId"
	 * references later in the request (and the response's createdIds) */
	json_t *created_ids;
	char desc[160];
};

/* Set the method-level error the call ends with; returns -1. */
int jmap_error(struct jreq *r, const char *type, const char *desc);
/* "A" and the account's store id in hex. */
void jmap_account_id(const struct account *a, char *buf, size_t cap);
/* The call's accountId must be the authenticated account's: 0, or -1 with
 * invalidArguments (missing, not a string) or accountNotFound set. */
int jmap_check_account(struct jreq *r, json_t *args);

/* A method's handler: its response arguments, or NULL with r->err set. */
typedef json_t *(*jmap_fn)(struct jreq *r, json_t *args);

/* jmap_upload.c: the bytes of user's uploaded blob blob_id ("U" + 16
 * hex) in a new spool (free it), or NULL when there is none (never made,
 * another account's, expired) or it is larger than max. */
struct spool;
struct spool *jmap_upload_load(const struct server *srv, uint32_t user, const char *blob_id,
			       uint64_t max);

/* jmap_mailbox.c: RFC 8621 2.1 and 2.3 */
/* An account's mailboxes as store_mbox_list gives them (free v).
 * jmap_mboxes_collect is its callback; jmap_mboxes_load reads r's account,
 * 0 or -1 with serverFail set (l empty). */
struct jmap_mboxes {
	struct mbox_info *v;
	size_t n, cap;
};
void jmap_mboxes_collect(void *arg, const struct mbox_info *m);
int jmap_mboxes_load(struct jreq *r, struct jmap_mboxes *l);
json_t *jmap_mailbox_get(struct jreq *r, json_t *args);
json_t *jmap_mailbox_query(struct jreq *r, json_t *args);
/* RFC 8621 2.5: create, update (name, parentId, isSubscribed), destroy */
json_t *jmap_mailbox_set(struct jreq *r, json_t *args);
/* jmap_email.c: RFC 8621 4.4 and 4.2, the basics */
json_t *jmap_email_query(struct jreq *r, json_t *args);
json_t *jmap_email_get(struct jreq *r, json_t *args);
/* RFC 8621 4.6: create (jmap_compose.c), keywords, mailboxIds, destroy */
json_t *jmap_email_set(struct jreq *r, json_t *args);
/* RFC 8621 4.8: uploaded blobs (jmap_upload_load) into messages */
json_t *jmap_email_import(struct jreq *r, json_t *args);
/* For EmailSubmission (jmap_submit.c): the Email with id eid, its first
 * place's message into *m and mailbox into *mi: 0, or -1 when the account
 * has no such Email. */
int jmap_email_locate(struct jreq *r, const struct jmap_mboxes *l, const char *eid,
		      struct msg_info *m, const struct mbox_info **mi);
/* One Email/set update (a PatchObject): NULL when done, else its SetError. */
json_t *jmap_email_update(struct jreq *r, const struct jmap_mboxes *l, const char *eid,
			  json_t *patch);
/* The Email state (what Email/get gives) of the mailboxes in l. */
void jmap_email_state(const struct jmap_mboxes *l, char *buf, size_t cap);
/* The Mailbox state of the mailboxes in l (what Mailbox/get gives). */
void jmap_mailbox_state_of(const struct jmap_mboxes *l, char *buf, size_t cap);
/* jmap_body.c: the Email/get properties read from the parsed message.
 * jmap_body_prop: 1 if name is one of them. jmap_body_props adds those
 * want names (an array; null: none) to o. */
struct jmap_body_opts {
	int text, html, all; /* fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues */
	size_t max;	     /* maxBodyValueBytes, 0: no cut */
	uint64_t budget;     /* raw bytes all values of one Email/get may still read */
};
#define JMAP_BODY_VALUES_MAX (16 * 1024 * 1024) /* raw part bytes one Email/get decodes */
int jmap_body_prop(const char *name);
/* Email/query's FilterCondition on the message's text (RFC 8621 4.4.1):
 * jmap_filter_cond says whether name is one brev takes (text, from, to,
 * cc, bcc, subject, body); jmap_filter_match whether the message (blob,
 * size bytes) matches every such condition of filter (ASCII
 * case-insensitive substrings of the decoded text, as IMAP SEARCH). */
int jmap_filter_cond(const char *name);
int jmap_filter_match(struct jreq *r, uint64_t blob, uint64_t size, json_t *filter);
/* RFC 8621 5.1: the SearchSnippet of one Email for filter's text, subject
 * and body conditions (HTML-escaped, matches in <mark>). */
json_t *jmap_snippet(struct jreq *r, uint64_t blob, uint64_t size, const char *email_id,
		     json_t *filter);
json_t *jmap_snippet_get(struct jreq *r, json_t *args);
void jmap_body_props(struct jreq *r, uint64_t blob, uint64_t size, json_t *want,
		     struct jmap_body_opts *opt, json_t *o);
/* jmap_compose.c: the message of an Email/set create c: NULL with *out
 * (a new spool, for email_new), or the SetError. */
json_t *jmap_compose(struct jreq *r, json_t *c, struct spool **out);
/* RFC 3339 UTCDate (RFC 8620 1.4) into unix seconds: 0 or -1. */
int jmap_utc_date(const char *s, int64_t *t);
/* jmap_changes.c: RFC 8620 5.2 for Email and Mailbox; RFC 8621 3.1 */
json_t *jmap_email_changes(struct jreq *r, json_t *args);
json_t *jmap_mailbox_changes(struct jreq *r, json_t *args);
json_t *jmap_thread_get(struct jreq *r, json_t *args);
/* jmap_submit.c: RFC 8621 6.1 and 7.5 */
json_t *jmap_identity_get(struct jreq *r, json_t *args);
json_t *jmap_submission_set(struct jreq *r, json_t *args);
/* jmap_vacation.c: RFC 8621 8, kept as the Sieve script "jmap-vacation" */
json_t *jmap_vacation_get(struct jreq *r, json_t *args);
json_t *jmap_vacation_set(struct jreq *r, json_t *args);

/* The account's Email / Mailbox state (what Email/get and Mailbox/get
 * give) into buf: 0, or -1 when the store could not be read. */
int jmap_email_state_get(const struct server *srv, uint32_t user, char *buf, size_t cap);
int jmap_mailbox_state_get(const struct server *srv, uint32_t user, char *buf, size_t cap);
/* The account's capability object for urn:ietf:params:jmap:mail. */
json_t *jmap_mail_account_capability(const struct server *srv);

#endif
