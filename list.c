/*
 * list.c — mailing lists at SMTP time (list.h, docs/lists.md).
 *
 * A post to LIST@D is checked at the end of DATA, before the 250: who may
 * post (the From address or the envelope sender must be an enabled member;
 * announce: the owner), the size, loops (the post already carries this
 * list's List-Id or X-Loop, or too many Received fields). It is then
 * rewritten once for everyone (the RFC 2369/2919 fields, Precedence: list,
 * X-Loop, and for an author whose domain publishes DMARC p=quarantine or
 * p=reject a From of the list's own) and DKIM-signed by the list's domain,
 * and queued: entries of LIST_BATCH members each, flagged QF_VERP, whose
 * delivery gives every member its own envelope sender
 * LIST-bounces+member=domain@D (queue.c). Only after those commits is the
 * client told 250: nothing acknowledged is lost.
 */
#include "list.h"
#include "config.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "journal.h"
#include "list_addr.h"
#include "log.h"
#include "smtp.h"
#include "spool.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int list_rcpt(struct store *st, const char *addr, struct list_to *to, char *why, size_t cap)
{
	struct list_info li;
	char list[STORE_ADDR_MAX + 1], member[STORE_ADDR_MAX + 1];
	int kind = LIST_TO_POST, rc;

	str_copy(list, addr, sizeof list);
	member[0] = 0;
	rc = store_list_get(st, list, &li);
	if (rc == ST_NOTFOUND || rc == ST_INVALID) {
		if (list_addr_parse(addr, list, sizeof list, &kind, member, sizeof member) < 0)
			return 0;
		rc = store_list_get(st, list, &li);
		if (rc == ST_NOTFOUND || rc == ST_INVALID)
			return 0;
	}
	if (rc != ST_OK) {
		snprintf(why, cap, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		return -1;
	}
	if (to->list[0] && (strcmp(to->list, list) || to->kind != kind)) {
		snprintf(why, cap, "452 4.5.3 <%s>: One mailing list per message, please send it "
			 "again for this one", addr);
		return -1;
	}
	str_copy(to->list, list, sizeof to->list);
	str_copy(to->member, member, sizeof to->member);
	to->kind = kind;
	return 1;
}

/* ---- reading the post ---- */

/* Fields a post loses: brev writes its own list fields, and Return-Path
 * belongs to the final delivery. */
static const char *const replaced[] = {
    "Return-Path",    "List-Id",	"List-Post",	 "List-Help",
    "List-Subscribe", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Archive",
    "List-Owner",     "Precedence",
};
/* ... and with a DMARC rewrite also these: the author's signature no
 * longer matches the From it signed. */
static const char *const rewritten[] = {"From", "Reply-To", "Sender", "DKIM-Signature"};

static int field_in(const struct dkim_msg *m, size_t i, const char *const *names, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (dkim_field_is(m, i, names[k]))
			return 1;
	return 0;
}

struct dmarc_ask {
	struct dmarc_rec r;
	int found;
};

static void dmarc_txt(void *arg, const char *txt, size_t len)
{
	struct dmarc_ask *a = arg;
	struct dmarc_rec r;
	if (dmarc_parse(txt, len, &r) == 0) {
		a->found++;
		a->r = r;
	}
}

/* 1 when the author's domain asks receivers to quarantine or reject mail
 * that fails DMARC (RFC 7489 6.6.3: the domain's record, else its
 * organisational domain's, whose sp= then applies). A post relayed by a
 * list fails DMARC there (the list's server is not in the author's SPF,
 * and the author's signature may break), so its From must become ours.
 * A DNS failure counts as strict: a rewritten From is always safe. */
static int dmarc_strict(const char *domain, const char *id)
{
	char name[300], org[256], why[200];
	struct dmarc_ask a = {0};
	int sub = 0;
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	int rc = dns_txt(name, dmarc_txt, &a, why, sizeof why);
	if (rc == DNS_OK && a.found != 1) {
		dmarc_org_domain(domain, org, sizeof org);
		if (strcmp(org, domain)) {
			memset(&a, 0, sizeof a);
			snprintf(name, sizeof name, "_dmarc.%s", org);
			rc = dns_txt(name, dmarc_txt, &a, why, sizeof why);
			sub = 1;
		}
	}
	if (rc == DNS_TEMP) {
		log_info("list id=%s DMARC of %s unknown (%s): From rewritten", id, domain, why);
		return 1;
	}
	if (a.found != 1)
		return 0;
	return (sub ? a.r.sp : a.r.p) >= DMARC_P_QUARANTINE;
}

struct collect {
	char **addr;
	size_t n, cap;
};

static void collect_cb(void *arg, const struct list_member *m)
{
	struct collect *c = arg;
	if (m->disabled)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->addr = xrealloc(c->addr, c->cap * sizeof *c->addr);
	}
	c->addr[c->n++] = xstrdup(m->addr);
}

static int is_member(struct store *st, const char *list, const char *a)
{
	struct list_member m;
	return a[0] && store_list_member(st, list, a, &m) == ST_OK && !m.disabled;
}

/* The body after the header's empty line, behind a new empty line, in a
 * spool of its own (the rewritten header goes in front). NULL on failure. */
static struct spool *body_copy(struct spool *sp, uint64_t off)
{
	struct spool *o = spool_new(0);
	char buf[65536];
	uint64_t size = spool_size(sp);
	if (spool_write(o, "\r\n", 2) < 0)
		goto bad;
	while (off < size) {
		long got = spool_read_at(sp, off, buf, sizeof buf);
		if (got <= 0 || spool_write(o, buf, (size_t)got) < 0)
			goto bad;
		off += (uint64_t)got;
	}
	return o;
bad:
	spool_free(&o);
	return NULL;
}

/* ---- bounces ---- */

#define DSN_READ_MAX 65536 /* bytes of a bounce read for its status fields */

/* 1 when the message is an RFC 3464 report with a recipient whose Action
 * is failed (a delay notice, an auto-reply or a challenge is not a
 * bounce); its Status or Diagnostic-Code into why. Only the first
 * DSN_READ_MAX bytes are read: the report part comes first in practice. */
static int dsn_failed(struct spool *sp, char *why, size_t cap)
{
	char *b = xmalloc(DSN_READ_MAX + 1);
	long n = spool_read_at(sp, 0, b, DSN_READ_MAX);
	int report = 0, failed = 0;
	str_copy(why, "delivery failed", cap);
	if (n < 0)
		n = 0;
	b[n] = 0;
	for (char *p = b; p && *p;) {
		char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l && p[l - 1] == '\r')
			l--;
		if (l > 22 && !strncasecmp(p, "Content-Type:", 13) &&
		    memmem(p, l, "delivery-status", 15))
			report = 1;
		if (l >= 14 && !strncasecmp(p, "Action:", 7)) {
			const char *v = p + 7;
			while (*v == ' ' || *v == '\t')
				v++;
			if (!strncasecmp(v, "failed", 6))
				failed = 1;
		}
		if (l > 7 && (!strncasecmp(p, "Status:", 7) ||
			      !strncasecmp(p, "Diagnostic-Code:", 16))) {
			size_t k = l < cap ? l : cap - 1;
			/* keep the last one: Diagnostic-Code follows Status */
			for (size_t i = 0; i < k; i++)
				why[i] = (unsigned char)p[i] < ' ' ? ' ' : p[i];
			why[k] = 0;
		}
		p = e ? e + 1 : NULL;
	}
	free(b);
	return report && failed;
}

/* Queue a short text message from the list (From LIST-request@D, null
 * envelope sender: it can never bounce back into the list, nor make an
 * auto-reply loop), DKIM-signed by the list's domain. subject and text
 * are ours (text: CRLF lines). 0 or -1 (logged). */
static int list_mail(struct store *st, const struct config *cfg, const char *list,
		     const char *to, const char *subject, const char *text, const char *id)
{
	const char *at = strrchr(list, '@');
	char date[64], mid[80], tid[17];
	struct sbuf h = {0};
	struct spool *sp = spool_new(0);
	struct dkim_msg dm = {0};
	char *sig = NULL;
	int rc;
	smtp_date(date, sizeof date, time(NULL));
	smtp_make_id(tid);
	snprintf(mid, sizeof mid, "<%s.list@%s>", tid, at + 1);
	sbuf_printf(&h, "From: <%.*s-request%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
			"Message-ID: %s\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n",
		    (int)(at - list), list, at, to, subject, date, mid);
	if (spool_write(sp, "\r\n", 2) == 0 && spool_write(sp, text, strlen(text)) == 0 &&
	    dkim_msg_load(&dm, h.p, h.len, sp) == 0)
		sig = dkim_sign_domain(cfg->datadir, &dm, at + 1, time(NULL));
	if (sig) {
		struct sbuf s2 = {0};
		sbuf_add(&s2, sig, strlen(sig));
		sbuf_add(&s2, h.p, h.len);
		free(h.p);
		h = s2;
	}
	struct journal_in j = {tid, "from=<> proto=list-notice"};
	struct msg_in mi = {.hdr = h.p, .hdrlen = h.len, .body = sp, .journal = &j};
	rc = store_queue_add(st, "", &to, 1, &mi, NULL);
	if (rc != ST_OK)
		log_warn("list id=%s list=<%s>: mail to <%s> not queued: %s", id, list, to,
			 store_strerror(rc));
	else
		log_info("list id=%s list=<%s> mail to <%s> queued as %s: %s", id, list, to, tid,
			 subject);
	free(sig);
	free(h.p);
	dkim_msg_free(&dm);
	spool_free(&sp);
	return rc == ST_OK ? 0 : -1;
}

void list_bounce(struct store *st, const struct config *cfg, const char *list, const char *member,
		 const char *why, const char *id)
{
	char l[STORE_ADDR_MAX + 1], m2[STORE_ADDR_MAX + 1];
	uint32_t n = 0;
	int kind, off = 0, rc;
	struct list_info li;
	if (list_addr_parse(list, l, sizeof l, &kind, m2, sizeof m2) < 0 || kind != LIST_TO_BOUNCES)
		str_copy(l, list, sizeof l);
	rc = store_list_bounce(st, l, member, (uint32_t)cfg->lists_bounce_limit, &n, &off);
	if (rc != ST_OK) {
		log_info("list id=%s list=<%s> bounce for <%s> not counted: %s", id, l, member,
			 store_strerror(rc));
		return;
	}
	log_info("list id=%s list=<%s> bounce %u of %lld for <%s>%s: %s", id, l, n,
		 cfg->lists_bounce_limit, member, off ? ", disabled" : "", why);
	if (!off || store_list_get(st, l, &li) != ST_OK || !li.owner[0])
		return;
	char subj[600], text[2048];
	snprintf(subj, sizeof subj, "%s: %s disabled after %u bounces", l, member, n);
	snprintf(text, sizeof text,
		 "%s is no longer sent the posts of %s: mail to it failed %u times\r\n"
		 "(lists.bounce_limit). The last failure:\r\n\r\n  %s\r\n\r\n"
		 "To send to it again: brev list sub %s %s\r\n",
		 member, l, n, why, l, member);
	list_mail(st, cfg, l, li.owner, subj, text, id);
}

/* ---- requests by mail: LIST-request@, LIST+subscribe@, LIST+unsubscribe@ ---- */

/* A reply the list may send (rate-limited per list and address: a flood
 * of requests naming a third party gets it LIST_REPLIES_MAX mails a day,
 * not one each). */
static void reply_limited(struct store *st, const struct config *cfg, const char *list,
			  const char *to, const char *subject, const char *text, const char *id)
{
	int ok = 0;
	if (store_list_reply_ok(st, list, to, (int64_t)time(NULL), LIST_REPLIES_MAX,
				LIST_REPLIES_WINDOW, &ok) != ST_OK || !ok) {
		log_info("list id=%s list=<%s> no reply to <%s>: %d replies in a day already", id,
			 list, to, LIST_REPLIES_MAX);
		return;
	}
	list_mail(st, cfg, list, to, subject, text, id);
}

static void help_text(const char *list, char *out, size_t cap)
{
	const char *at = strrchr(list, '@');
	snprintf(out, cap,
		 "This is the mailing list %s.\r\n\r\n"
		 "To join, send a message with the subject \"subscribe\" to\r\n"
		 "%.*s-request%s (or any message to %.*s+subscribe%s).\r\n"
		 "To leave, the subject \"unsubscribe\" (or mail to %.*s+unsubscribe%s).\r\n"
		 "Either is confirmed by a reply to the message you then get.\r\n",
		 list, (int)(at - list), list, at, (int)(at - list), list, at, (int)(at - list), list,
		 at);
}

/* Ask addr to confirm action ('s' or 'u') on list by replying. */
static void ask_confirm(struct store *st, const struct config *cfg, const char *list,
			const char *addr, char action, const char *id)
{
	unsigned char key[32];
	char tok[LIST_TOKEN_LEN + 1], subj[64], text[2048], date[64];
	const char *at = strrchr(list, '@');
	time_t exp = time(NULL) + LIST_TOKEN_LIFE;
	if (store_list_secret(st, key) != ST_OK) {
		log_warn("list id=%s list=<%s>: no token secret", id, list);
		return;
	}
	list_token_make(key, sizeof key, action, (long long)exp, list, addr, tok, sizeof tok);
	smtp_date(date, sizeof date, exp);
	snprintf(subj, sizeof subj, "confirm %s", tok);
	snprintf(text, sizeof text,
		 "Someone, perhaps you, asked to %s %s %s the mailing list %s.\r\n\r\n"
		 "To confirm, reply to this message keeping its subject, or send a message\r\n"
		 "to %.*s-request%s with the subject:\r\n\r\n  confirm %s\r\n\r\n"
		 "This works once, until %s. If you did not ask, do nothing.\r\n",
		 action == 's' ? "subscribe" : "unsubscribe", addr, action == 's' ? "to" : "from",
		 list, (int)(at - list), list, at, tok, date);
	reply_limited(st, cfg, list, addr, subj, text, id);
}

struct held_ids {
	uint64_t id[LIST_HELD_SCAN];
	size_t n;
};

static void held_id_cb(void *arg, uint64_t hid, int64_t created, const char *sender,
		       const char *bytes, size_t n)
{
	struct held_ids *h = arg;
	(void)created, (void)sender, (void)bytes, (void)n;
	if (h->n < LIST_HELD_SCAN)
		h->id[h->n++] = hid;
}

/* The owner's "confirm aTOKEN" / "confirm rTOKEN": approve or reject the
 * held post whose number the token was made for ("LIST#ID"); only from
 * the owner's address, once. */
static void moderate_confirm(struct store *st, const struct config *cfg, const char *list,
			     const char *addr, const char *tok, const unsigned char *key,
			     const char *id)
{
	struct held_ids *h = xcalloc(1, sizeof *h);
	char name[STORE_ADDR_MAX + 32], action = 0, why[512] = "";
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int r = -1;
	store_list_held_each(st, list, held_id_cb, h);
	for (i = 0; i < h->n && r != 0 && r != -2; i++) {
		snprintf(name, sizeof name, "%s#%llu", list, (unsigned long long)h->id[i]);
		r = list_token_check(key, 32, tok, name, addr, (long long)now, &action);
	}
	if (r != 0) {
		log_info("list id=%s list=<%s> from=<%s> moderation token refused: %s", id, list,
			 addr, r == -2 ? "expired" : "forged, not the owner, or no such held post");
		free(h);
		return;
	}
	uint64_t hid = h->id[i - 1];
	free(h);
	long long exp = 0;
	sscanf(tok + 1, "%8llx", &exp);
	if (store_list_token_use(st, tok, (int64_t)exp, now) != ST_OK) {
		log_info("list id=%s list=<%s> from=<%s> moderation token refused: used before", id,
			 list, addr);
		return;
	}
	if (action == 'r') {
		r = store_list_held_del(st, list, hid);
		log_info("list id=%s list=<%s> held post %llu rejected by <%s>: %s", id, list,
			 (unsigned long long)hid, addr, store_strerror(r));
		return;
	}
	if (list_approve(st, cfg, list, hid, why, sizeof why) < 0)
		log_info("list id=%s list=<%s> held post %llu not approved: %s", id, list,
			 (unsigned long long)hid, why);
}

static void do_confirm(struct store *st, const struct config *cfg, const char *list,
		       const char *addr, const char *tok, const char *id)
{
	unsigned char key[32];
	char action = 0, text[1024], subj[400];
	int64_t now = (int64_t)time(NULL);
	int r, added = 0, was = 0;
	if (store_list_secret(st, key) != ST_OK)
		return;
	if (tok[0] == 'a' || tok[0] == 'r' || tok[0] == 'A' || tok[0] == 'R') {
		moderate_confirm(st, cfg, list, addr, tok, key, id);
		return;
	}
	r = list_token_check(key, sizeof key, tok, list, addr, (long long)now, &action);
	if (r == -2) {
		snprintf(subj, sizeof subj, "%s: confirmation expired", list);
		help_text(list, text, sizeof text);
		reply_limited(st, cfg, list, addr, subj, text, id);
	}
	if (r < 0) {
		log_info("list id=%s list=<%s> from=<%s> token refused: %s", id, list, addr,
			 r == -2 ? "expired" : "forged, or for another address");
		return;
	}
	/* the expiry is in the token: keep it used that long */
	long long exp = 0;
	sscanf(tok + 1, "%8llx", &exp);
	r = store_list_token_use(st, tok, (int64_t)exp, now);
	if (r == ST_EXISTS) {
		log_info("list id=%s list=<%s> from=<%s> token refused: used before (replay)", id,
			 list, addr);
		return;
	}
	if (r != ST_OK)
		return;
	if (action == 's') {
		r = store_list_sub(st, list, addr, &added);
		snprintf(subj, sizeof subj, "Welcome to %s", list);
		snprintf(text, sizeof text,
			 "%s is now a member of %s: posts to it come to you, and you may\r\n"
			 "post by writing to %s.\r\n",
			 addr, list, list);
	} else {
		r = store_list_unsub(st, list, addr, &was);
		snprintf(subj, sizeof subj, "You have left %s", list);
		snprintf(text, sizeof text, "%s is no longer a member of %s.\r\n", addr, list);
		if (r == ST_NOTFOUND)
			r = ST_OK; /* gone meanwhile: the same result */
	}
	log_info("list id=%s list=<%s> %s <%s> by confirmation: %s", id, list,
		 action == 's' ? "subscribed" : "unsubscribed", addr, store_strerror(r));
	if (r == ST_OK)
		list_mail(st, cfg, list, addr, subj, text, id);
}

static void list_request(struct store *st, const struct config *cfg, const struct list_to *to,
			 const char *env_from, struct spool *body, const char *id)
{
	struct dkim_msg m = {0};
	struct list_info li;
	struct list_member mem;
	char subject[512] = "", v[1024], addr[STORE_ADDR_MAX + 1] = "", tok[LIST_TOKEN_LEN + 1];
	char text[2048], subj[400];
	char *first = NULL;
	int cmd, automatic = 0;
	long got = 0;
	if (!env_from[0]) {
		log_info("list id=%s list=<%s> request from the null sender dropped", id, to->list);
		return;
	}
	if (store_list_get(st, to->list, &li) != ST_OK || dkim_msg_load(&m, NULL, 0, body) < 0)
		return;
	for (size_t i = 0; i < m.nf; i++) {
		if (dkim_field_is(&m, i, "Subject"))
			dkim_field_value(&m, i, subject, sizeof subject);
		if (dkim_field_is(&m, i, "From") && !addr[0]) {
			dkim_field_value(&m, i, v, sizeof v);
			if (list_from_addr(v, addr, sizeof addr, NULL, 0) < 0)
				addr[0] = 0;
		}
		if (dkim_field_is(&m, i, "Auto-Submitted")) {
			dkim_field_value(&m, i, v, sizeof v);
			automatic = strncasecmp(v, "no", 2) != 0;
		}
	}
	if (!addr[0])
		str_copy(addr, env_from, sizeof addr);
	for (char *p = addr; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (automatic) { /* RFC 3834: never answer an automatic message */
		log_info("list id=%s list=<%s> automatic message from <%s> dropped", id, to->list,
			 addr);
		goto out;
	}
	first = xmalloc(LIST_REQUEST_READ + 1);
	got = spool_read_at(body, m.body_off, first, LIST_REQUEST_READ);
	if (got < 0)
		got = 0;
	first[got] = 0;
	cmd = list_cmd_parse(subject, first, (size_t)got, tok, sizeof tok);
	if (cmd != LIST_CMD_CONFIRM && to->kind == LIST_TO_SUB)
		cmd = LIST_CMD_SUBSCRIBE;
	if (cmd != LIST_CMD_CONFIRM && to->kind == LIST_TO_UNSUB)
		cmd = LIST_CMD_UNSUBSCRIBE;
	log_info("list id=%s list=<%s> request from <%s>: %s", id, to->list, addr,
		 cmd == LIST_CMD_SUBSCRIBE     ? "subscribe" :
		 cmd == LIST_CMD_UNSUBSCRIBE   ? "unsubscribe" :
		 cmd == LIST_CMD_CONFIRM       ? "confirm" :
		 cmd == LIST_CMD_HELP	       ? "help" : "none");
	int member = store_list_member(st, to->list, addr, &mem) == ST_OK;
	switch (cmd) {
	case LIST_CMD_CONFIRM:
		do_confirm(st, cfg, to->list, addr, tok, id);
		break;
	case LIST_CMD_SUBSCRIBE:
		if (member && !mem.disabled) {
			snprintf(subj, sizeof subj, "%s: you are a member already", to->list);
			snprintf(text, sizeof text, "%s is a member of %s already.\r\n", addr, to->list);
			reply_limited(st, cfg, to->list, addr, subj, text, id);
		} else if (li.policy == LIST_CLOSED) {
			snprintf(subj, sizeof subj, "%s: closed list", to->list);
			snprintf(text, sizeof text,
				 "Only the owner of %s adds members; write to %s.\r\n", to->list,
				 li.owner);
			reply_limited(st, cfg, to->list, addr, subj, text, id);
		} else if (li.policy == LIST_OPEN) {
			int added = 0, ok = 0;
			/* no confirmation, but the welcome is rate-limited too */
			if (store_list_sub(st, to->list, addr, &added) == ST_OK &&
			    store_list_reply_ok(st, to->list, addr, (int64_t)time(NULL),
						LIST_REPLIES_MAX, LIST_REPLIES_WINDOW, &ok) == ST_OK &&
			    ok) {
				snprintf(subj, sizeof subj, "Welcome to %s", to->list);
				snprintf(text, sizeof text, "%s is now a member of %s.\r\n", addr,
					 to->list);
				list_mail(st, cfg, to->list, addr, subj, text, id);
			}
		} else {
			ask_confirm(st, cfg, to->list, addr, 's', id);
		}
		break;
	case LIST_CMD_UNSUBSCRIBE:
		if (!member) {
			snprintf(subj, sizeof subj, "%s: not a member", to->list);
			snprintf(text, sizeof text, "%s is not a member of %s.\r\n", addr, to->list);
			reply_limited(st, cfg, to->list, addr, subj, text, id);
		} else {
			ask_confirm(st, cfg, to->list, addr, 'u', id);
		}
		break;
	default:
		snprintf(subj, sizeof subj, "%s: help", to->list);
		help_text(to->list, text, sizeof text);
		reply_limited(st, cfg, to->list, addr, subj, text, id);
		break;
	}
out:
	free(first);
	dkim_msg_free(&m);
}

/* Owner-facing words for one refused post, logged and in reply. */
static int refuse(char *reply, size_t cap, const char *id, const char *list, const char *from,
		  const char *why, const char *fmt, const char *arg)
{
	snprintf(reply, cap, fmt, arg);
	log_info("list id=%s list=<%s> from=<%s> refused: %s", id, list, from, why);
	return -1;
}

/* The archive (docs/lists.md "Archive"): the post as the members get it,
 * appended to mailbox "Lists/LIST" of the owner's account (each local
 * account the owner's address reaches), made and subscribed on first use.
 * After the post was queued: a failure here (the owner's quota) is logged
 * and does not refuse a post the members already have. */
static void archive(struct store *st, const struct list_info *li, const char *hdr, size_t hlen,
		    struct spool *body, const char *id)
{
	struct resolved r;
	char name[STORE_MBOX_MAX + 1];
	struct msg_in m = {.hdr = hdr, .hdrlen = hlen, .body = body};
	snprintf(name, sizeof name, "Lists/%s", li->addr);
	if (store_resolve(st, li->owner, &r) != ST_OK)
		return;
	for (size_t i = 0; i < r.nusers; i++) {
		uint32_t uid = 0;
		int rc = store_append(st, r.users[i], name, &m, NULL, &uid);
		if (rc == ST_NOTFOUND) {
			rc = store_mbox_create(st, r.users[i], name, 0);
			if (rc == ST_OK || rc == ST_EXISTS) {
				store_mbox_subscribe(st, r.users[i], name, 1);
				rc = store_append(st, r.users[i], name, &m, NULL, &uid);
			}
		}
		if (rc != ST_OK)
			log_warn("list id=%s list=<%s>: not archived for the owner: %s", id, li->addr,
				 store_strerror(rc));
		else
			log_info("list id=%s list=<%s> archived in %s uid=%u", id, li->addr, name,
				 uid);
	}
	store_resolved_free(&r);
}

/* Keep a post that needs the owner's approval, and tell the owner. 0 (the
 * poster gets 250: it is kept), or -1 with a reply. */
static int hold(struct store *st, const struct config *cfg, const struct list_info *li,
		const char *env_from, const char *author, const struct dkim_msg *m,
		const char *pre, size_t prelen, struct spool *body, const char *id, char *reply,
		size_t cap)
{
	uint64_t size = spool_size(body), hid = 0;
	char *buf = xmalloc(prelen + size + 1), subj[600], text[2048], s[300] = "";
	long got = size ? spool_read_at(body, 0, buf + prelen, size) : 0;
	int rc;
	memcpy(buf, pre, prelen);
	if (got < 0 || (uint64_t)got != size) {
		free(buf);
		snprintf(reply, cap, "451 4.3.0 Temporary failure reading the message");
		return -1;
	}
	rc = store_list_hold(st, li->addr, env_from, buf, prelen + size, &hid);
	free(buf);
	if (rc != ST_OK) {
		snprintf(reply, cap, "452 4.3.1 Insufficient system storage; try again later");
		return -1;
	}
	for (size_t i = 0; i < m->nf; i++)
		if (dkim_field_is(m, i, "Subject")) {
			dkim_field_value(m, i, s, sizeof s);
			for (char *p = s; *p; p++)
				if ((unsigned char)*p < ' ')
					*p = ' ';
			break;
		}
	log_info("list id=%s list=<%s> from=<%s> author=<%s> held as %llu for the owner", id,
		 li->addr, env_from, author, (unsigned long long)hid);
	/* tokens for the owner's reply: approve, and reject (list "LIST#ID") */
	unsigned char key[32];
	char name[STORE_ADDR_MAX + 32], ta[LIST_TOKEN_LEN + 1] = "", tr[LIST_TOKEN_LEN + 1] = "";
	time_t exp = time(NULL) + LIST_TOKEN_LIFE;
	const char *at = strrchr(li->addr, '@');
	snprintf(name, sizeof name, "%s#%llu", li->addr, (unsigned long long)hid);
	if (store_list_secret(st, key) == ST_OK) {
		list_token_make(key, sizeof key, 'a', (long long)exp, name, li->owner, ta, sizeof ta);
		list_token_make(key, sizeof key, 'r', (long long)exp, name, li->owner, tr, sizeof tr);
	}
	snprintf(subj, sizeof subj, "confirm %s (approve post %llu to %s from %s)", ta,
		 (unsigned long long)hid, li->addr, author[0] ? author : env_from);
	snprintf(text, sizeof text,
		 "A post to %s waits for your approval:\r\n\r\n"
		 "  From: %s\r\n  Subject: %s\r\n\r\n"
		 "To send it to the list, reply to this message keeping its subject.\r\n"
		 "To drop it, send %.*s-request%s the subject:\r\n\r\n  confirm %s\r\n\r\n"
		 "Or on the server:  brev list approve %s %llu\r\n"
		 "                   brev list reject %s %llu\r\n"
		 "Posts waiting:     brev list held %s\r\n",
		 li->addr, author[0] ? author : env_from, s, (int)(at - li->addr), li->addr, at, tr,
		 li->addr, (unsigned long long)hid, li->addr, (unsigned long long)hid, li->addr);
	list_mail(st, cfg, li->addr, li->owner, subj, text, id);
	return 0;
}

static int post(struct store *st, const struct config *cfg, const struct list_to *to,
		const char *env_from, const char *pre, size_t prelen, struct spool *body,
		const char *id, char *reply, size_t cap, int approved);

int list_data(struct store *st, const struct config *cfg, const struct list_to *to,
	      const char *env_from, const char *pre, size_t prelen, struct spool *body,
	      const char *id, char *reply, size_t cap)
{
	if (to->kind == LIST_TO_REQUEST || to->kind == LIST_TO_SUB || to->kind == LIST_TO_UNSUB) {
		list_request(st, cfg, to, env_from, body, id);
		return 0;
	}
	return post(st, cfg, to, env_from, pre, prelen, body, id, reply, cap, 0);
}

int list_approve(struct store *st, const struct config *cfg, const char *list, uint64_t hid,
		 char *reply, size_t cap)
{
	struct list_to to = {.kind = LIST_TO_POST};
	char sender[STORE_ADDR_MAX + 1], *bytes = NULL, id[17];
	size_t n = 0;
	int rc = store_list_held_get(st, list, hid, &bytes, &n, sender, sizeof sender);
	if (rc != ST_OK) {
		snprintf(reply, cap, "%s", rc == ST_NOTFOUND ? "no such held post" : store_strerror(rc));
		return -1;
	}
	struct spool *sp = spool_new(0);
	str_copy(to.list, list, sizeof to.list);
	for (char *p = to.list; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	smtp_make_id(id);
	if (spool_write(sp, bytes, n) < 0) {
		snprintf(reply, cap, "cannot stage the post");
		rc = -1;
	} else {
		rc = post(st, cfg, &to, sender, "", 0, sp, id, reply, cap, 1);
	}
	/* Distributed (or refused for good: a loop, too big): it goes. A
	 * store failure keeps it for another try. */
	if ((rc == 0 || reply[0] == '5') && store_list_held_del(st, list, hid) != ST_OK)
		log_warn("list id=%s list=<%s>: held post %llu not removed", id, list,
			 (unsigned long long)hid);
	if (rc == 0)
		log_info("list id=%s list=<%s> held post %llu approved", id, list,
			 (unsigned long long)hid);
	spool_free(&sp);
	free(bytes);
	return rc;
}

static int post(struct store *st, const struct config *cfg, const struct list_to *to,
		const char *env_from, const char *pre, size_t prelen, struct spool *body,
		const char *id, char *reply, size_t cap, int approved)
{
	struct list_info li;
	struct dkim_msg m = {0}, m2 = {0};
	struct collect c = {0};
	struct sbuf h = {0};
	struct spool *nb = NULL;
	char author[STORE_ADDR_MAX + 1] = "", name[200] = "", v[1024], lid[300];
	char bounces[STORE_ADDR_MAX + 1], *sig = NULL;
	const char *lat = strrchr(to->list, '@');
	int hops = 0, rewrite = 0, rc = -1, qrc = ST_OK;
	size_t queued = 0;

	reply[0] = 0;
	if (to->kind == LIST_TO_BOUNCES) {
		char why[200];
		/* taken whatever it is (refusing a bounce makes another one);
		 * counted when it is a DSN saying a delivery failed */
		if (!to->member[0])
			log_info("list id=%s list=<%s> bounce without a member address dropped", id,
				 to->list);
		else if (!dsn_failed(body, why, sizeof why))
			log_info("list id=%s list=<%s> mail for <%s>'s bounce address is no failure "
				 "report: dropped",
				 id, to->list, to->member);
		else
			list_bounce(st, cfg, to->list, to->member, why, id);
		return 0;
	}
	if (store_list_get(st, to->list, &li) != ST_OK) {
		snprintf(reply, cap, "451 4.3.0 <%s>: Temporary lookup failure", to->list);
		return -1;
	}
	if (spool_size(body) + prelen > LIST_SIZE_MAX) {
		char lim[32];
		snprintf(lim, sizeof lim, "%u", LIST_SIZE_MAX);
		return refuse(reply, cap, id, to->list, env_from, "too big",
			      "552 5.3.4 Posts to this list are limited to %s bytes", lim);
	}
	if (dkim_msg_load(&m, NULL, 0, body) < 0)
		return refuse(reply, cap, id, to->list, env_from, "header too large",
			      "552 5.3.4 %s", "Header section too large for a list post");
	list_id(to->list, lid, sizeof lid);
	for (size_t i = 0; i < m.nf; i++) {
		if (dkim_field_is(&m, i, "Received"))
			hops++;
		if (dkim_field_is(&m, i, "List-Id") || dkim_field_is(&m, i, "X-Loop")) {
			dkim_field_value(&m, i, v, sizeof v);
			if (strcasestr(v, dkim_field_is(&m, i, "X-Loop") ? to->list : lid)) {
				rc = refuse(reply, cap, id, to->list, env_from, "loop",
					    "554 5.4.6 This message has been through %s already: "
					    "mail loop",
					    to->list);
				goto out;
			}
		}
		if (dkim_field_is(&m, i, "From") && !author[0]) {
			dkim_field_value(&m, i, v, sizeof v);
			if (list_from_addr(v, author, sizeof author, name, sizeof name) < 0)
				author[0] = 0;
		}
	}
	if (hops > LIST_HOPS_MAX) {
		rc = refuse(reply, cap, id, to->list, env_from, "too many hops",
			    "554 5.4.6 Too many Received: fields for a list post (%s)", "loop?");
		goto out;
	}
	if (!env_from[0]) {
		rc = refuse(reply, cap, id, to->list, env_from, "null sender",
			    "550 5.7.1 <%s>: Bounces are not distributed to a list", to->list);
		goto out;
	}
	/* who may post */
	int owner = !strcmp(author, li.owner) || !strcasecmp(env_from, li.owner);
	int member = is_member(st, to->list, author) || is_member(st, to->list, env_from);
	if (li.posting == LIST_POST_ANNOUNCE && !owner && !approved) {
		rc = refuse(reply, cap, id, to->list, env_from, "not the owner",
			    "550 5.7.1 <%s>: Only the list's owner may post to it", to->list);
		goto out;
	}
	if (!approved && !owner &&
	    (li.posting == LIST_POST_MODERATED || (li.posting == LIST_POST_MEMBERS && !member))) {
		rc = hold(st, cfg, &li, env_from, author, &m, pre, prelen, body, id, reply, cap);
		goto out;
	}
	if (author[0]) {
		const char *aat = strrchr(author, '@');
		rewrite = dmarc_strict(aat + 1, id);
	}
	/* the rewritten header: ours in front, the list's fields, the post's */
	sbuf_add(&h, pre, prelen);
	sbuf_printf(&h, "List-Id: %s\r\n", lid);
	sbuf_printf(&h, "List-Post: <mailto:%s>\r\n", to->list);
	sbuf_printf(&h, "List-Help: <mailto:%.*s-request%s?subject=help>\r\n",
		    (int)(lat - to->list), to->list, lat);
	sbuf_printf(&h, "List-Subscribe: <mailto:%.*s-request%s?subject=subscribe>\r\n",
		    (int)(lat - to->list), to->list, lat);
	sbuf_printf(&h, "List-Unsubscribe: <mailto:%.*s-request%s?subject=unsubscribe>\r\n",
		    (int)(lat - to->list), to->list, lat);
	sbuf_printf(&h, "Precedence: list\r\n");
	sbuf_printf(&h, "X-Loop: %s\r\n", to->list);
	if (rewrite) {
		char disp[256];
		size_t o = 0;
		/* a quoted display name: drop what would end or escape the quotes */
		for (const char *p = name[0] ? name : author; *p && o + 1 < 160; p++)
			if (*p != '"' && *p != '\\')
				disp[o++] = *p;
		disp[o] = 0;
		sbuf_printf(&h, "From: \"%s via %.*s\" <%s>\r\n", disp, (int)(lat - to->list),
			    to->list, to->list);
		sbuf_printf(&h, "Reply-To: <%s>\r\n", author);
		sbuf_printf(&h, "X-Original-From: <%s>\r\n", author);
	}
	for (size_t i = 0; i < m.nf; i++) {
		if (field_in(&m, i, replaced, ARRAY_LEN(replaced)) ||
		    (rewrite && field_in(&m, i, rewritten, ARRAY_LEN(rewritten))))
			continue;
		sbuf_add(&h, m.hdr + m.f[i].off, m.f[i].len);
	}
	if (!(nb = body_copy(body, m.body_off))) {
		snprintf(reply, cap, "451 4.3.0 Temporary failure writing the message");
		goto out;
	}
	/* DKIM by the list's domain over exactly what is queued */
	if (dkim_msg_load(&m2, h.p, h.len, nb) == 0)
		sig = dkim_sign_domain(cfg->datadir, &m2, lat + 1, time(NULL));
	if (!sig)
		log_info("list id=%s list=<%s>: not DKIM-signed (no key for %s)", id, to->list,
			 lat + 1);
	if (sig) {
		struct sbuf s2 = {0};
		sbuf_add(&s2, sig, strlen(sig));
		sbuf_add(&s2, h.p, h.len);
		free(h.p);
		h = s2;
	}
	if (store_list_members(st, to->list, collect_cb, &c) != ST_OK) {
		snprintf(reply, cap, "451 4.3.0 <%s>: Temporary lookup failure", to->list);
		goto out;
	}
	snprintf(bounces, sizeof bounces, "%.*s-bounces%s", (int)(lat - to->list), to->list, lat);
	{
		char acc[300];
		struct journal_in j = {id, acc};
		snprintf(acc, sizeof acc, "from=<%s> list=<%s> members=%zu size=%llu", env_from,
			 to->list, c.n, (unsigned long long)(h.len + spool_size(nb)));
		for (size_t k = 0; k < c.n && qrc == ST_OK; k += LIST_BATCH) {
			size_t n = c.n - k < LIST_BATCH ? c.n - k : LIST_BATCH;
			struct msg_in mi = {.hdr = h.p,
					    .hdrlen = h.len,
					    .body = nb,
					    .journal = &j,
					    .queue_flags = QF_VERP};
			uint64_t qid;
			qrc = store_queue_add(st, bounces, (const char *const *)c.addr + k, n, &mi,
					      &qid);
			if (qrc == ST_OK)
				queued += n;
			j.accepted = NULL; /* once */
		}
	}
	/* A batch failing after earlier ones committed: the client is told to
	 * try again, and its retry sends those members a second copy: a
	 * duplicate, never a loss (as smtp_commit's queue entries). */
	if (qrc != ST_OK) {
		log_warn("list id=%s list=<%s>: %zu of %zu members queued, then: %s", id, to->list,
			 queued, c.n, store_strerror(qrc));
		snprintf(reply, cap, "452 4.3.1 Insufficient system storage; try again later");
		goto out;
	}
	log_info("list id=%s list=<%s> from=<%s> author=<%s> post to %zu member(s)%s%s", id,
		 to->list, env_from, author, queued, rewrite ? " from rewritten (DMARC)" : "",
		 sig ? " signed" : "");
	archive(st, &li, h.p, h.len, nb, id);
	rc = 0;
out:
	for (size_t k = 0; k < c.n; k++)
		free(c.addr[k]);
	free(c.addr);
	free(sig);
	free(h.p);
	spool_free(&nb);
	dkim_msg_free(&m);
	dkim_msg_free(&m2);
	return rc;
}
