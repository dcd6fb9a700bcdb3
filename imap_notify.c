/*
 * imap_notify.c — NOTIFY (RFC 5465): which changes a session asked to hear
 * of, and telling it as they happen, during IDLE and between commands.
 *
 * It learns of changes the way IDLE does: the store's per-account change
 * hub (store_watch_open's eventfd, woken after every commit that touches
 * the account, in this process or, through control.sock, another one).
 * There is no per-mailbox poll: after a wake-up the session reads the
 * account's mailbox records once (store_mbox_list: one cursor over the
 * account's mailboxes, their counters are kept in the records) and
 * compares them with what it last told the client, matched by mailbox id
 * (ids survive RENAME and are never reused). So a burst of changes costs
 * one read and yields one STATUS per mailbox, and the state a session
 * keeps is that one list: bounded by the account's mailboxes, never by
 * how many changes happened.
 *
 * The selected mailbox stays imap_sync.c's: a SELECTED or SELECTED-DELAYED
 * filter with message events lets imap_sync run between commands too, and
 * its MessageNew fetch-att list answers new messages after EXISTS. Other
 * mailboxes get STATUS (message events) and LIST (MailboxName,
 * SubscriptionChange). A client that stops reading is noticed before its
 * socket would block us (conn_unsent): it gets NOTIFICATIONOVERFLOW and
 * NOTIFY is off (RFC 5465 5.8), as after NOTIFY NONE.
 */
#include "imap.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "server.h"
#include "util.h"

#define NOTIFY_GROUPS_MAX  16	       /* event groups of one NOTIFY SET */
#define NOTIFY_NAMES_MAX   1000	       /* SUBTREE/MAILBOXES names in all */
#define NOTIFY_FETCH_MAX   32	       /* MessageNew fetch-att items */
#define NOTIFY_MBOX_MAX	   (2 * IMAP_MBOX_MAX) /* mailboxes followed (CREATE stops at 1,000) */
#define NOTIFY_BACKLOG_MAX (64 * 1024) /* unsent bytes a client may leave */
#define NOTIFY_STALL_MS	   2000	       /* how long it may take to catch up */
#define NOTIFY_PERIOD_MS   60000       /* a look even without a wake-up */

enum { EV_NEW = 1, EV_EXPUNGE = 2, EV_FLAGS = 4, EV_NAME = 8, EV_SUB = 16 };
enum { F_SELECTED, F_DELAYED, F_INBOXES, F_PERSONAL, F_SUBSCRIBED, F_SUBTREE, F_MAILBOXES };

/* The events brev can tell, for BADEVENT (RFC 5465 3.1). */
#define NOTIFY_SUPPORTED "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

struct nf_group {
	int filter;
	unsigned ev;
	char **names; /* SUBTREE/MAILBOXES, UTF-8 */
	size_t nnames;
};

struct nf_mbox {
	uint32_t id;
	char *name;
	int subscribed;
	uint32_t uidvalidity, uidnext, exists, unseen;
	uint64_t hms;
};

struct imap_notify {
	struct nf_group g[NOTIFY_GROUPS_MAX];
	size_t ng;
	int sel;	    /* the SELECTED(-DELAYED) group, -1 none */
	struct iarg *fetch; /* its MessageNew fetch-att atoms (an IA_LIST), or NULL */
	struct nf_mbox *m;  /* the account's mailboxes as last told, by id */
	size_t nm;
};

/* ---- state ---- */

static void mboxes_free(struct nf_mbox **m, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*m)[i].name);
	free(*m);
	*m = NULL;
	*n = 0;
}

static void notify_state_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;
	if (!n)
		return;
	for (size_t i = 0; i < n->ng; i++) {
		for (size_t k = 0; k < n->g[i].nnames; k++)
			free(n->g[i].names[k]);
		free(n->g[i].names);
	}
	iarg_free(&n->fetch);
	mboxes_free(&n->m, &n->nm);
	free(n);
	*np = NULL;
}

void imap_notify_free(struct imap_session *s)
{
	notify_state_free(&s->notify);
}

struct list_ctx {
	struct nf_mbox *m;
	size_t n, cap;
};

static void list_cb(void *arg, const struct mbox_info *mi)
{
	struct list_ctx *x = arg;
	if (x->n >= NOTIFY_MBOX_MAX)
		return;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 32;
		x->m = xrealloc(x->m, x->cap * sizeof *x->m);
	}
	struct nf_mbox *m = &x->m[x->n++];
	m->id = mi->id;
	m->name = xstrdup(mi->name);
	m->subscribed = mi->subscribed;
	m->uidvalidity = mi->uidvalidity;
	m->uidnext = mi->uidnext;
	m->exists = mi->exists;
	m->unseen = mi->unseen;
	m->hms = mi->highestmodseq;
}

static int id_cmp(const void *a, const void *b)
{
	const struct nf_mbox *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The account's mailboxes now, sorted by id. */
static int mboxes_read(struct imap_session *s, struct list_ctx *x)
{
	memset(x, 0, sizeof *x);
	int rc = store_mbox_list(s->srv->store, s->acct.id, list_cb, x);
	if (rc != ST_OK) {
		mboxes_free(&x->m, &x->n);
		return rc;
	}
	if (x->n)
		qsort(x->m, x->n, sizeof *x->m, id_cmp);
	return ST_OK;
}

/* ---- which events a mailbox has ---- */

static int under(const char *name, const char *base)
{
	size_t n = strlen(base);
	return strncmp(name, base, n) == 0 && (name[n] == 0 || name[n] == '/');
}

static int group_matches(const struct nf_group *g, const char *name, int subscribed)
{
	switch (g->filter) {
	case F_INBOXES:
		return strcmp(name, "INBOX") == 0; /* brev delivers into INBOX only */
	case F_PERSONAL:
		return 1;
	case F_SUBSCRIBED:
		return subscribed;
	case F_SUBTREE:
		for (size_t i = 0; i < g->nnames; i++)
			if (under(name, g->names[i]))
				return 1;
		return 0;
	case F_MAILBOXES:
		for (size_t i = 0; i < g->nnames; i++)
			if (strcmp(name, g->names[i]) == 0)
				return 1;
		return 0;
	}
	return 0;
}

/* The events of the first group that matches a mailbox other than the
 * selected one (RFC 5465 6: a client should not name a mailbox twice; if
 * it does, the first group wins). */
static unsigned events_for(const struct imap_notify *n, const char *name, int subscribed)
{
	for (size_t i = 0; i < n->ng; i++)
		if ((int)i != n->sel && group_matches(&n->g[i], name, subscribed))
			return n->g[i].ev;
	return 0;
}

static int is_selected(const struct imap_session *s, const char *name)
{
	return s->state == IS_SELECTED && strcmp(s->mbox, name) == 0;
}

/* ---- output, bounded ---- */

/* The client has left more than it may unread: wait a little for it to
 * catch up (a client that reads drains a loopback or LAN socket in
 * milliseconds), then give up. Never more than half the socket's send
 * buffer, so the overflow line itself still goes out without blocking. */
static int behind(struct imap_session *s)
{
	size_t room = 0, unsent = conn_unsent(s->c, &room);
	size_t limit = NOTIFY_BACKLOG_MAX;
	if (room && room / 2 < limit)
		limit = room / 2;
	if (unsent <= limit)
		return 0;
	conn_flush(s->c);
	for (int waited = 0; waited < NOTIFY_STALL_MS; waited += 20) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (conn_unsent(s->c, NULL) <= limit / 2)
			return 0;
		if (conn_error(s->c))
			return 1;
	}
	return 1;
}

/* RFC 5465 5.8: the server may stop notifying a client it cannot keep up
 * with; it then says so and acts as after NOTIFY NONE. */
static void overflow(struct imap_session *s)
{
	log_info("imap id=%lu user=%s: NOTIFY overflow, client not reading; NOTIFY off", s->id,
		 s->user);
	imap_notify_free(s);
	imap_out(s, "* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off");
	conn_flush(s->c);
}

/* One notification line; 0, or -1 after an overflow (NOTIFY is off). */
static int tell(struct imap_session *s, const struct sbuf *b)
{
	if (behind(s)) {
		overflow(s);
		return -1;
	}
	imap_put(s, b);
	conn_flush(s->c);
	return 0;
}

static void status_line(struct imap_session *s, struct sbuf *b, const struct nf_mbox *m)
{
	sbuf_puts(b, "* STATUS ");
	imap_mbox_out(s, b, m->name);
	sbuf_printf(b, " (MESSAGES %u UIDNEXT %u UIDVALIDITY %u", m->exists, m->uidnext,
		    m->uidvalidity);
	if (s->condstore)
		sbuf_printf(b, " HIGHESTMODSEQ %llu", (unsigned long long)m->hms);
	sbuf_puts(b, ")\r\n");
}

/* RFC 5465 5.4, 5.5: LIST with the mailbox's state (RFC 5258 attributes,
 * OLDNAME for a rename). */
static void list_line(struct imap_session *s, struct sbuf *b, const char *attrs, const char *name,
		      const char *oldname)
{
	sbuf_printf(b, "* LIST (%s) \"/\" ", attrs);
	imap_mbox_out(s, b, name);
	if (oldname) {
		sbuf_puts(b, " (\"OLDNAME\" (");
		imap_mbox_out(s, b, oldname);
		sbuf_puts(b, "))");
	}
	sbuf_puts(b, "\r\n");
}

/* What changed in one mailbox that is in both lists. */
static void diff_one(struct imap_session *s, struct sbuf *b, const struct nf_mbox *o,
		     const struct nf_mbox *m)
{
	const struct imap_notify *n = s->notify;
	unsigned ev = events_for(n, m->name, m->subscribed);
	if (strcmp(o->name, m->name) != 0 &&
	    ((ev | events_for(n, o->name, o->subscribed)) & EV_NAME))
		list_line(s, b, m->subscribed ? "\\Subscribed" : "", m->name, o->name);
	if (o->subscribed != m->subscribed && (ev & EV_SUB))
		list_line(s, b, m->subscribed ? "\\Subscribed" : "", m->name, NULL);
	if (!(ev & EV_NEW) || is_selected(s, m->name))
		return;
	int fresh = m->uidnext != o->uidnext || m->uidvalidity != o->uidvalidity;
	int gone = (uint64_t)m->exists < (uint64_t)o->exists + (m->uidnext - o->uidnext) ||
		   m->uidvalidity != o->uidvalidity;
	int flags = !fresh && !gone && (m->hms != o->hms || m->unseen != o->unseen);
	if (fresh || gone || (flags && (ev & EV_FLAGS)))
		status_line(s, b, m);
}

/* Compare the account's mailboxes with what the client was last told and
 * tell it, in order: deletions, then per mailbox (by id) rename,
 * subscription and STATUS, then creations. */
static void poll_others(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct list_ctx now;
	struct sbuf b = {0};
	int stop = 0;

	if (!n || mboxes_read(s, &now) != ST_OK)
		return;
	size_t i = 0, j = 0;
	for (; !stop && (i < n->nm || j < now.n); b.len = 0) {
		const struct nf_mbox *o = i < n->nm ? &n->m[i] : NULL;
		const struct nf_mbox *m = j < now.n ? &now.m[j] : NULL;
		if (o && (!m || o->id < m->id)) { /* deleted */
			if (events_for(n, o->name, o->subscribed) & EV_NAME)
				list_line(s, &b, "\\NonExistent", o->name, NULL);
			i++;
		} else if (m && (!o || m->id < o->id)) { /* created */
			if (events_for(n, m->name, m->subscribed) & EV_NAME)
				list_line(s, &b, m->subscribed ? "\\Subscribed" : "", m->name,
					  NULL);
			j++;
		} else {
			diff_one(s, &b, o, m);
			i++;
			j++;
		}
		if (b.len && tell(s, &b) < 0)
			stop = 1; /* NOTIFY is off: n is gone */
	}
	sbuf_free(&b);
	if (stop) {
		mboxes_free(&now.m, &now.n);
		return;
	}
	mboxes_free(&n->m, &n->nm);
	n->m = now.m;
	n->nm = now.n;
}

/* ---- the selected mailbox ---- */

static int sel_push(const struct imap_session *s)
{
	const struct imap_notify *n = s->notify;
	return n && n->sel >= 0 && (n->g[n->sel].ev & EV_NEW) && s->state == IS_SELECTED;
}

int imap_notify_expunge_ok(const struct imap_session *s, const char *name, int allowed)
{
	const struct imap_notify *n = s->notify;
	static const char *const held[] = {"FETCH",	"STORE",     "SEARCH",	   "COPY",
					   "UID FETCH", "UID STORE", "UID SEARCH", "UID COPY"};
	if (!allowed || !n || n->sel < 0 || n->g[n->sel].filter != F_DELAYED)
		return allowed;
	/* RFC 5465 5.2, SELECTED-DELAYED: expunges wait for a command that
	 * cannot be confused by them, also after the UID commands (which RFC
	 * 9051 would allow). */
	for (size_t i = 0; i < ARRAY_LEN(held); i++)
		if (strcmp(name, held[i]) == 0)
			return 0;
	return 1;
}

static int stop_if_behind(struct imap_session *s)
{
	conn_flush(s->c);
	if (!s->notify)
		return 1;
	if (behind(s)) {
		overflow(s);
		return 1;
	}
	return 0;
}

void imap_notify_new(struct imap_session *s, const uint32_t *uids, size_t n)
{
	if (!n || !sel_push(s) || !s->notify->fetch)
		return;
	/* The list goes with the state it belongs to if an overflow frees it. */
	struct iarg *items = s->notify->fetch;
	s->notify->fetch = NULL;
	imap_fetch_items_out(s, items, uids, n, stop_if_behind);
	if (s->notify)
		s->notify->fetch = items;
	else
		iarg_free(&items);
}

/* Between commands: the selected mailbox (if asked for) and the others. */
static void push(struct imap_session *s)
{
	if (sel_push(s)) {
		if (behind(s)) {
			overflow(s);
			return;
		}
		imap_sync(s, s->notify->g[s->notify->sel].filter == F_SELECTED);
		if (s->state == IS_LOGOUT)
			return;
	}
	poll_others(s);
	conn_flush(s->c);
}

void imap_notify_poll(struct imap_session *s)
{
	if (s->notify && s->state != IS_LOGOUT)
		poll_others(s);
}

static void drain(int fd)
{
	uint64_t v;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (fd >= 0 && poll(&p, 1, 0) == 1)
		(void)!read(fd, &v, sizeof v);
}

void imap_notify_wait(struct imap_session *s, int ms)
{
	int64_t deadline = now_ms() + ms;
	while (s->notify && s->state != IS_LOGOUT && !conn_error(s->c)) {
		int64_t left = deadline - now_ms();
		if (left <= 0) { /* the autologout, as a command read's time-out */
			s->state = IS_LOGOUT;
			s->reason = "timeout";
			return;
		}
		int w = conn_wait(s->c, s->watchfd,
				  (int)(left > NOTIFY_PERIOD_MS ? NOTIFY_PERIOD_MS : left));
		if (w == 1 || w < 0)
			return;
		if (w == 2)
			drain(s->watchfd);
		push(s); /* after a wake-up, or a periodic look for a lost one */
	}
}

/* ---- the command ---- */

static const char *const events_known[] = {
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "MailboxName",
    "SubscriptionChange",
    "AnnotationChange",
    "MailboxMetadataChange",
    "ServerMetadataChange",
};

/* Copy a fetch-att list (atoms only, as imap_fetch_items_ok checked). */
static struct iarg *atoms_dup(const struct iarg *l)
{
	struct iarg *c = xcalloc(1, sizeof *c), **tail = &c->kids;
	c->type = IA_LIST;
	for (const struct iarg *k = l->kids; k; k = k->next) {
		struct iarg *a = xcalloc(1, sizeof *a);
		a->type = IA_ATOM;
		a->s = xstrdup(k->s);
		a->len = strlen(a->s);
		*tail = a;
		tail = &a->next;
		c->nkids++;
	}
	return c;
}

struct parse {
	struct imap_notify *n;
	const char *bad; /* BAD text */
	int badevent;	 /* NO [BADEVENT] */
	size_t nnames;
};

static void parse_events(struct imap_session *s, struct parse *p, struct nf_group *g,
			 const struct iarg *a)
{
	if (iarg_is_atom(a, "NONE")) /* RFC 5465 6: no events for these */
		return;
	if (a->type != IA_LIST || !a->kids) {
		p->bad = "Invalid NOTIFY events";
		return;
	}
	for (const struct iarg *e = a->kids; e && !p->bad; e = e->next) {
		size_t k;
		if (e->type != IA_ATOM) {
			p->bad = "Invalid NOTIFY event";
			return;
		}
		for (k = 0; k < ARRAY_LEN(events_known); k++)
			if (str_casecmp_ascii(e->s, events_known[k]) == 0)
				break;
		switch (k) {
		case 0:
			g->ev |= EV_NEW;
			if (e->next && e->next->type == IA_LIST) {
				e = e->next;
				/* RFC 5465 5.1: fetch attributes belong to the
				 * selected mailbox only. */
				if (g->filter != F_SELECTED && g->filter != F_DELAYED)
					p->bad = "MessageNew fetch attributes only for SELECTED";
				else if (!e->kids || e->nkids > NOTIFY_FETCH_MAX ||
					 imap_fetch_items_ok(e) < 0)
					p->bad = "Invalid MessageNew fetch attributes";
				else if (!p->n->fetch)
					p->n->fetch = atoms_dup(e);
			}
			break;
		case 1:
			g->ev |= EV_EXPUNGE;
			break;
		case 2:
			g->ev |= EV_FLAGS;
			break;
		case 3:
			g->ev |= EV_NAME;
			break;
		case 4:
			g->ev |= EV_SUB;
			break;
		default:
			/* RFC 5465 3.1: an event we cannot tell (METADATA,
			 * ANNOTATE, or one we never heard of) is NO [BADEVENT]. */
			p->badevent = 1;
		}
	}
	if (p->bad)
		return;
	/* RFC 5465 5: MessageNew and MessageExpunge go together, and
	 * FlagChange needs both; anything else is BAD. */
	if (!(g->ev & EV_NEW) != !(g->ev & EV_EXPUNGE))
		p->bad = "MessageNew and MessageExpunge go together";
	else if ((g->ev & EV_FLAGS) && !(g->ev & EV_NEW))
		p->bad = "FlagChange needs MessageNew and MessageExpunge";
}

static void parse_names(struct imap_session *s, struct parse *p, struct nf_group *g,
			const struct iarg *a)
{
	const struct iarg *one = a, *first = a && a->type == IA_LIST ? a->kids : a;
	if (!a || (a->type == IA_LIST && !a->kids)) {
		p->bad = "Missing mailbox names";
		return;
	}
	for (const struct iarg *k = first; k && !p->bad;
	     k = one->type == IA_LIST ? k->next : NULL) {
		char name[STORE_MBOX_MAX + 1];
		if (k->type == IA_LIST || imap_mbox_arg(s, k, name, sizeof name) < 0) {
			p->bad = "Invalid mailbox name";
			return;
		}
		if (++p->nnames > NOTIFY_NAMES_MAX) {
			p->bad = "Too many mailbox names";
			return;
		}
		g->names = xrealloc(g->names, (g->nnames + 1) * sizeof *g->names);
		g->names[g->nnames++] = xstrdup(name);
	}
}

static void parse_group(struct imap_session *s, struct parse *p, const struct iarg *a)
{
	static const char *const filters[] = {"SELECTED", "SELECTED-DELAYED", "INBOXES",
					      "PERSONAL", "SUBSCRIBED",	      "SUBTREE",
					      "MAILBOXES"};
	struct imap_notify *n = p->n;
	const struct iarg *f = a->type == IA_LIST ? a->kids : NULL;
	size_t k;
	if (!f || f->type != IA_ATOM) {
		p->bad = "Invalid NOTIFY event group";
		return;
	}
	for (k = 0; k < ARRAY_LEN(filters); k++)
		if (str_casecmp_ascii(f->s, filters[k]) == 0)
			break;
	if (k == ARRAY_LEN(filters)) {
		p->bad = "Unknown NOTIFY filter";
		return;
	}
	if (n->ng == NOTIFY_GROUPS_MAX) {
		p->bad = "Too many NOTIFY event groups";
		return;
	}
	struct nf_group *g = &n->g[n->ng++];
	g->filter = (int)k;
	const struct iarg *ev = f->next;
	if (k == F_SUBTREE || k == F_MAILBOXES) {
		parse_names(s, p, g, ev);
		ev = ev ? ev->next : NULL;
	}
	if (p->bad)
		return;
	if (!ev || ev->next) {
		p->bad = "Invalid NOTIFY event group";
		return;
	}
	for (size_t i = 0; i + 1 < n->ng; i++) {
		int fi = n->g[i].filter;
		int same = fi == (int)k || ((fi == F_SELECTED || fi == F_DELAYED) &&
					    (k == F_SELECTED || k == F_DELAYED));
		if (same && k != F_SUBTREE && k != F_MAILBOXES) {
			p->bad = "A NOTIFY filter may appear once";
			return;
		}
	}
	if (k == F_SELECTED || k == F_DELAYED)
		n->sel = (int)n->ng - 1;
	parse_events(s, p, g, ev);
}

/* RFC 5465 3.1 STATUS: where message events are asked for, the state now. */
static void initial_status(struct imap_session *s)
{
	struct sbuf b = {0};
	struct imap_notify *n = s->notify;
	for (size_t i = 0; s->notify && i < n->nm; i++, b.len = 0) {
		const struct nf_mbox *m = &n->m[i];
		if ((events_for(n, m->name, m->subscribed) & EV_NEW) && !is_selected(s, m->name)) {
			status_line(s, &b, m);
			imap_put(s, &b);
		}
	}
	sbuf_free(&b);
}

void imap_cmd_notify(struct imap_session *s)
{
	const struct iarg *a = iarg_nth(s->cmd.args, 0);
	if (iarg_is_atom(a, "NONE") && !a->next) {
		imap_notify_free(s);
		imap_tagged(s, "OK", "NOTIFY completed");
		return;
	}
	if (!iarg_is_atom(a, "SET") || !a->next) {
		imap_tagged(s, "BAD", "NOTIFY SET or NONE");
		return;
	}
	struct parse p = {.n = xcalloc(1, sizeof *p.n)};
	p.n->sel = -1;
	int status = 0;
	a = a->next;
	if (iarg_is_atom(a, "STATUS")) {
		status = 1;
		a = a->next;
	}
	if (!a)
		p.bad = "Missing NOTIFY event groups";
	for (; a && !p.bad; a = a->next)
		parse_group(s, &p, a);
	if (p.bad || p.badevent) {
		notify_state_free(&p.n);
		/* RFC 5465 3.1: on an error the old NOTIFY settings stay. */
		if (p.bad)
			imap_tagged(s, "BAD", "%s", p.bad);
		else
			imap_tagged(s, "NO", "[BADEVENT (" NOTIFY_SUPPORTED ")] Unsupported event");
		return;
	}
	struct list_ctx now;
	if (mboxes_read(s, &now) != ST_OK) {
		notify_state_free(&p.n);
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	imap_notify_free(s);
	s->notify = p.n;
	s->notify->m = now.m;
	s->notify->nm = now.n;
	if (status)
		initial_status(s);
	imap_tagged(s, "OK", "NOTIFY completed");
}
