/*
 * imap_replace.c — REPLACE and UID REPLACE (RFC 8508): a new version of a
 * message (a draft saved again, mostly) appended and the old one expunged
 * as one change. The message arguments are APPEND's (imap.c's
 * imap_append_groups, so UTF8 and CATENATE forms come along); the
 * atomicity is the store's (store_msg_replace: one commit, both or
 * neither). What the client is told afterwards is imap_sync's.
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util.h"

/* A message number or UID argument: one number, no set (RFC 8508 4:
 * seq-number). 0 when it is none. */
static uint32_t one_number(const struct iarg *a)
{
	long long v;
	if (!a || a->type != IA_ATOM || parse_int(a->s, 1, UINT32_MAX, &v) < 0)
		return 0;
	return (uint32_t)v;
}

void imap_cmd_replace(struct imap_session *s, int uid)
{
	const struct iarg *num = iarg_nth(s->cmd.args, 0), *mb = iarg_nth(s->cmd.args, 1);
	char dst[STORE_MBOX_MAX + 1];
	uint32_t n = one_number(num), old;
	size_t ng;

	if (!n) {
		imap_tagged(s, "BAD", "Invalid %s", uid ? "UID" : "message number");
		return;
	}
	if (imap_mbox_arg(s, mb, dst, sizeof dst) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	if (!mb->next) {
		imap_tagged(s, "BAD", "REPLACE needs a message");
		return;
	}
	if (uid) {
		old = view_seq(&s->view, n) ? n : 0;
	} else {
		if (n > s->view.count) { /* RFC 9051 7.1: a number not in use is BAD */
			imap_tagged(s, "BAD", "No such message number");
			return;
		}
		old = view_uid(&s->view, n);
	}
	struct imap_append_msg *g = imap_append_groups(s, mb->next, &ng);
	if (!g)
		return;
	if (ng != 1) {
		imap_tagged(s, "BAD", "REPLACE takes one message");
		goto out;
	}
	/* RFC 8508 3.3: nothing changes in a read-only mailbox, nor for a
	 * UID that is not there (nothing would be replaced). */
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if (!old) {
		imap_tagged(s, "NO", "No such message");
		goto out;
	}
	struct mbox_info mi;
	int rc = store_mbox_get(s->srv->store, s->acct.id, dst, &mi);
	if (rc != ST_OK) {
		imap_tagged(s, "NO", "%s",
			    rc == ST_NOTFOUND ? "[TRYCREATE] No such mailbox" : imap_store_no(rc));
		goto out;
	}
	struct msg_in m = {.body = g->body,
			   .body_off = g->off,
			   .body_len = g->len,
			   .internaldate = g->date,
			   .flags = g->flags,
			   .keywords = g->kw,
			   .nkeywords = g->nkw};
	uint32_t uidv = 0, newuid = 0;
	rc = store_msg_replace(s->srv->store, s->acct.id, s->mbox, old, dst, &m, &uidv, &newuid);
	if (rc != ST_OK) {
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
		goto out;
	}
	/* RFC 8508 3.2: APPENDUID in an untagged OK, then the EXISTS (if
	 * the new message is in this mailbox) and the EXPUNGE or VANISHED
	 * of the old one, then the tagged OK. */
	imap_out(s, "* OK [APPENDUID %u %u] Replacement message ready", uidv, newuid);
	imap_sync(s, 1);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
out:
	imap_append_free(g, ng);
}
