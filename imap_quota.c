/*
 * imap_quota.c — QUOTA (RFC 9208) over the store's per-account storage
 * quota: GETQUOTAROOT, GETQUOTA, a SETQUOTA that answers NO, and the
 * STATUS DELETED-STORAGE item that QUOTA=RES-STORAGE requires (RFC 9208
 * 5.1).
 *
 * What brev has to offer, and so what it advertises (docs/imap.md "QUOTA"):
 *  - One quota root per account, named "" (the empty string): every
 *    mailbox of the account is under it, as every message counts against
 *    the one limit (docs/store.md "Accounts, quotas, aliases").
 *  - One resource, STORAGE, in units of 1024 octets: the usage rounded up
 *    (a 1-octet message is not "nothing"), the limit rounded down (never
 *    promise room the store will refuse).
 *  - A second resource, MESSAGE (RFC 9208 5.2): the account's number of
 *    messages against quota.messages. A QUOTA response lists only the
 *    resources that have a limit (a resource is reported with both).
 *  - An account without any limit has no quota root at all: RFC 9208's
 *    quota-list needs at least one resource with a limit, and "zero or
 *    more" roots per mailbox is allowed, so GETQUOTAROOT names none and
 *    GETQUOTA "" is NO.
 *  - No QUOTASET: brev has no administrator accounts (every account is
 *    an ordinary user; limits come from brev.conf, read by the operator's
 *    `brev serve`). SETQUOTA is checked for syntax and answered NO.
 */
#include "imap.h"

#include <string.h>

#include "server.h"
#include "util.h"

#define QUOTA_ROOT "" /* the one root of every account with a limit */

/* The account's usage and limits, read now (s->acct is from the login
 * and its counters are stale). 0 or a store error. */
static int quota_read(struct imap_session *s, struct account *a)
{
	return store_user_get_id(s->srv->store, s->acct.id, a);
}

static int quota_any(const struct account *a)
{
	return a->quota_effective || a->msg_quota;
}

/* "* QUOTA "" (STORAGE used limit MESSAGE used limit)": storage in KiB
 * (RFC 9208 5.1), messages counted (5.2); each only when it has a limit. */
static void quota_line(struct sbuf *b, const struct account *a)
{
	const char *sp = "";
	sbuf_printf(b, "* QUOTA \"%s\" (", QUOTA_ROOT);
	if (a->quota_effective) {
		sbuf_printf(b, "STORAGE %llu %llu",
			    (unsigned long long)(a->used / 1024 + (a->used % 1024 != 0)),
			    (unsigned long long)(a->quota_effective / 1024));
		sp = " ";
	}
	if (a->msg_quota)
		sbuf_printf(b, "%sMESSAGE %u %u", sp, a->messages, a->msg_quota);
	sbuf_puts(b, ")\r\n");
}

/* GETQUOTAROOT mailbox (RFC 9208 4.2.2): the mailbox's roots, then a
 * QUOTA line for each. */
void imap_cmd_getquotaroot(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	struct mbox_info mi;
	struct account ac;
	int rc;

	if (s->cmd.args->nkids != 1 ||
	    imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "GETQUOTAROOT needs one mailbox name");
		return;
	}
	if ((rc = store_mbox_get(s->srv->store, s->acct.id, name, &mi)) != ST_OK ||
	    (rc = quota_read(s, &ac)) != ST_OK) {
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
		return;
	}
	struct sbuf b = {0};
	sbuf_puts(&b, "* QUOTAROOT ");
	imap_mbox_out(s, &b, name);
	if (quota_any(&ac)) {
		sbuf_puts(&b, " \"" QUOTA_ROOT "\"\r\n");
		quota_line(&b, &ac);
	} else {
		sbuf_puts(&b, "\r\n");
	}
	imap_put(s, &b);
	sbuf_free(&b);
	imap_tagged(s, "OK", "GETQUOTAROOT completed");
}

/* GETQUOTA root (RFC 9208 4.2.1). */
void imap_cmd_getquota(struct imap_session *s)
{
	const struct iarg *a = iarg_nth(s->cmd.args, 0);
	const char *root = iarg_str(a);
	struct account ac;
	int rc;

	if (s->cmd.args->nkids != 1 || !root || (a->literal && strlen(root) != a->len)) {
		imap_tagged(s, "BAD", "GETQUOTA needs one quota root name");
		return;
	}
	if (strcmp(root, QUOTA_ROOT) != 0) {
		imap_tagged(s, "NO", "No such quota root");
		return;
	}
	if ((rc = quota_read(s, &ac)) != ST_OK) {
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
		return;
	}
	if (!quota_any(&ac)) {
		imap_tagged(s, "NO", "No such quota root: this account has no quota");
		return;
	}
	struct sbuf b = {0};
	quota_line(&b, &ac);
	imap_put(s, &b);
	sbuf_free(&b);
	imap_tagged(s, "OK", "GETQUOTA completed");
}

/* setquota-list (RFC 9208 9): "(" [resource-name SP number64 *(SP ...)] ")". */
static int setquota_list_ok(const struct iarg *l)
{
	if (!l || l->type != IA_LIST)
		return 0;
	for (const struct iarg *r = l->kids; r; r = r->next->next) {
		if (r->type != IA_ATOM || !r->s[0] || !r->next || r->next->type != IA_ATOM)
			return 0;
		const char *n = r->next->s;
		size_t len = strlen(n);
		if (!len || len > 19 || strspn(n, "0123456789") != len ||
		    (len == 19 && strcmp(n, "9223372036854775807") > 0))
			return 0; /* number64: 0 .. 2^63-1 */
	}
	return 1;
}

/* SETQUOTA root list (RFC 9208 4.1.1): not offered (no QUOTASET). A
 * well-formed one is NO, so a client learns the limit stays as it is. */
void imap_cmd_setquota(struct imap_session *s)
{
	const struct iarg *a = iarg_nth(s->cmd.args, 0);
	if (s->cmd.args->nkids != 2 || !iarg_str(a) || a->type == IA_LIST ||
	    !setquota_list_ok(iarg_nth(s->cmd.args, 1))) {
		imap_tagged(s, "BAD", "SETQUOTA needs a quota root and a list of resource limits");
		return;
	}
	imap_tagged(s, "NO", "[NOPERM] Quotas are set by the server's administrator");
}

static int sum_deleted(void *arg, const struct msg_info *m)
{
	uint64_t *sum = arg;
	if (m->flags & FL_DELETED)
		*sum += m->size;
	return 0;
}

uint64_t imap_quota_deleted_storage(struct imap_session *s, const char *name)
{
	uint64_t sum = 0;
	store_msg_list(s->srv->store, s->acct.id, name, 1, sum_deleted, &sum);
	return sum;
}
