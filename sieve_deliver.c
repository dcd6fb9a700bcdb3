/*
 * sieve_deliver.c — Sieve at local delivery (sieve_deliver.h, docs/sieve.md
 * "At delivery"). For each local recipient with an active script: compile
 * it, run it on the message as it will be stored (header with the spam
 * verdict + body), and turn the actions into copies (deliver_place for
 * store_deliver's one commit), a reject reason, and the side effects after
 * the commit: redirects and vacation replies through the queue (or straight
 * into a local account), duplicate ids recorded. sieve.c decides; this file
 * does. Anything that goes wrong here ends in the implicit keep for that
 * recipient and a log line: a script never loses a message.
 */
#include "sieve_deliver.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authres.h"
#include "config.h"
#include "log.h"
#include "mailbox.h"
#include "sasl.h"
#include "sieve.h"
#include "smtp.h"
#include "spool.h"
#include "util.h"

#define REJECT_TEXT_MAX 400
#define INCLUDES_MAX	 (SIEVE_INCLUDE_DEPTH_MAX * 8)

struct user_plan {
	uint32_t user;
	char addr[STORE_ADDR_MAX + 1];
	const char *rcpt;             /* RCPT TO that reached it (borrowed), or NULL */
	int ran;                      /* a script ran: res is set */
	struct sieve_result res;
	struct deliver_target *t;     /* the copies */
	size_t nt;
	const char **kw;              /* every target's keyword names, in one array */
	char *reject;
	const struct sieve_action **redirect;
	size_t nredirect;
	const struct sieve_action **vacation;
	size_t nvacation;
};

struct sieve_plan {
	struct store *st;
	const struct config *cfg;
	char *from;
	char id[32];
	const char *hdr; /* borrowed until sieve_plan_after */
	size_t hlen;
	struct spool *body;
	char *msg;       /* header + body as the script sees it */
	size_t mlen;
	int whole;       /* msg is the whole message (not cut at SIEVE_DELIVER_MAX) */
	size_t n;
	struct user_plan *u;
	struct deliver_place *place;
	int64_t now;
};

/* ---- the message's header fields ---- */

/* The end of the header section of msg (the offset of the empty line's
 * first byte, or len). */
static size_t header_end(const char *msg, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(msg + i, '\n', len - i);
		if (!nl)
			return len;
		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			return i;
		i = (size_t)(nl - msg) + 1;
	}
	return len;
}

/* Calls fn(arg, name, namelen, value-with-folds, vlen) for each field of
 * the header section; stops when fn returns non-zero. */
static void each_field(const char *msg, size_t len,
		       int (*fn)(void *, const char *, size_t, const char *, size_t), void *arg)
{
	size_t end = header_end(msg, len);
	for (size_t i = 0; i < end;) {
		size_t s = i, colon;
		const char *nl;
		/* the field runs to the next line not starting with WSP */
		for (;;) {
			nl = memchr(msg + i, '\n', end - i);
			i = nl ? (size_t)(nl - msg) + 1 : end;
			if (i >= end || (msg[i] != ' ' && msg[i] != '\t'))
				break;
		}
		for (colon = s; colon < i && msg[colon] != ':'; colon++)
			;
		if (colon < i && fn(arg, msg + s, colon - s, msg + colon + 1, i - colon - 1))
			return;
	}
}

struct field_find {
	const char *name;
	char *out;
	size_t cap;
	size_t count;       /* fields of that name */
	const char *equals; /* count only values equal to this (addresses) */
};

/* Unfold and trim a field value into out. */
static void unfold(const char *v, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		char c = v[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\t')
			c = ' ';
		if (c == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		out[o++] = c;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static int find_cb(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	struct field_find *f = arg;
	char buf[1024];
	if (strlen(f->name) != nl || strncasecmp(name, f->name, nl))
		return 0;
	if (f->equals) {
		char *p = buf;
		unfold(v, vl, buf, sizeof buf);
		if (*p == '<')
			p++;
		p[strcspn(p, ">")] = '\0';
		if (!strcasecmp(p, f->equals))
			f->count++;
		return 0;
	}
	f->count++;
	if (f->out && f->count == 1)
		unfold(v, vl, f->out, f->cap);
	return 0;
}

/* The first `name` field's value into out ("" when absent); the number of
 * such fields. */
static size_t field(const struct sieve_plan *p, const char *name, char *out, size_t cap)
{
	struct field_find f = {name, out, cap, 0, NULL};
	if (out)
		out[0] = '\0';
	each_field(p->msg, p->mlen, find_cb, &f);
	return f.count;
}

/* ---- running the script ---- */

struct run_ctx {
	struct sieve_plan *p;
	struct user_plan *u;
	char *inc[INCLUDES_MAX];
	int ninc;
};

static int cb_mailbox_exists(void *ctx, const char *mbox)
{
	struct run_ctx *c = ctx;
	struct mbox_info mi;
	return store_mbox_get(c->p->st, c->u->user, mbox, &mi) == ST_OK;
}

static int cb_duplicate(void *ctx, const char *id, int64_t seconds)
{
	struct run_ctx *c = ctx;
	int seen = 0;
	(void)seconds; /* the record carries its own expiry */
	store_dup_seen(c->p->st, c->u->user, id, c->p->now, &seen);
	return seen;
}

/* RFC 6609 include :personal: another of the account's scripts. */
static const char *cb_script(void *ctx, const char *name, size_t *len)
{
	struct run_ctx *c = ctx;
	char *src;
	if (c->ninc == INCLUDES_MAX ||
	    store_sieve_get(c->p->st, c->u->user, name, &src, len, NULL) != ST_OK)
		return NULL;
	c->inc[c->ninc++] = src;
	return src;
}

/* The message the script sees: header + body, cut at SIEVE_DELIVER_MAX. */
static int load_message(struct sieve_plan *p)
{
	uint64_t bsize = p->body ? spool_size(p->body) : 0;
	size_t want = p->hlen + (size_t)bsize, got;
	if (want > SIEVE_DELIVER_MAX)
		want = SIEVE_DELIVER_MAX;
	p->msg = xmalloc(want + 1);
	got = p->hlen < want ? p->hlen : want;
	memcpy(p->msg, p->hdr, got);
	while (got < want) {
		long r = spool_read_at(p->body, got - p->hlen, p->msg + got, want - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	p->msg[got] = '\0';
	p->mlen = got;
	p->whole = got == p->hlen + bsize;
	return 0;
}

/* An IMAP keyword atom (RFC 3501 flag-keyword), else it is dropped. */
static int atom_ok(const char *s)
{
	if (!*s || strlen(s) > 128)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("(){%*\"\\]", *s))
			return 0;
	return 1;
}

static uint32_t system_flag(const char *f)
{
	static const struct {
		const char *name;
		uint32_t flag;
	} sys[] = {{"\\Seen", FL_SEEN}, {"\\Answered", FL_ANSWERED}, {"\\Flagged", FL_FLAGGED},
		   {"\\Deleted", FL_DELETED}, {"\\Draft", FL_DRAFT}};
	for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
		if (!strcasecmp(f, sys[i].name))
			return sys[i].flag;
	return 0;
}

/* Add a copy for a KEEP (mbox NULL) or FILEINTO action; one copy per
 * mailbox (RFC 5228 4.1: the same mailbox is filed into once), flags
 * joined. */
static void add_target(struct user_plan *u, const char *mbox, int create, char **flags,
		       size_t nflags, size_t *kwn)
{
	struct deliver_target *t = NULL;
	for (size_t i = 0; i < u->nt; i++) {
		const char *m = u->t[i].mbox;
		if ((!m && !mbox) || (m && mbox && !strcmp(m, mbox)))
			t = &u->t[i];
	}
	if (!t) {
		t = &u->t[u->nt++];
		memset(t, 0, sizeof *t);
		t->mbox = mbox;
		t->create = create;
		t->keywords = &u->kw[*kwn];
	}
	for (size_t i = 0; i < nflags; i++) {
		uint32_t f = system_flag(flags[i]);
		if (f)
			t->flags |= f;
		else if (atom_ok(flags[i]) && t->keywords == &u->kw[*kwn - t->nkeywords])
			u->kw[(*kwn)++] = flags[i], t->nkeywords++;
	}
}

/* A redirect would loop: this account already delivered it, or it has
 * passed too many hops. */
static int redirect_loops(const struct sieve_plan *p, const struct user_plan *u)
{
	struct field_find f = {"Delivered-To", NULL, 0, 0, u->addr};
	each_field(p->msg, p->mlen, find_cb, &f);
	return f.count > 0 || field(p, "Received", NULL, 0) > SIEVE_REDIRECT_HOPS;
}

/* One reject line for SMTP and DSNs: printable ASCII, bounded. */
static char *reject_line(const char *text)
{
	char *out = xmalloc(REJECT_TEXT_MAX + 1);
	size_t o = 0;
	for (const unsigned char *s = (const unsigned char *)(text ? text : ""); *s && o < REJECT_TEXT_MAX;
	     s++)
		out[o++] = *s == '\r' || *s == '\n' || *s == '\t' ? ' ' : *s < 0x20 || *s >= 0x7f ? '?' : (char)*s;
	while (o && out[o - 1] == ' ')
		o--;
	if (!o)
		o = (size_t)snprintf(out, REJECT_TEXT_MAX + 1, "Message rejected by the recipient's filter");
	out[o] = '\0';
	return out;
}

/* Turn u->res into copies, a reject, redirects and vacation replies. */
static void plan_actions(struct sieve_plan *p, struct user_plan *u)
{
	size_t kwn = 0, nkw = 0;
	for (size_t i = 0; i < u->res.n; i++)
		nkw += u->res.a[i].nflags;
	u->t = xcalloc(u->res.n + 1, sizeof *u->t);
	u->kw = xcalloc(nkw + 1, sizeof *u->kw);
	u->redirect = xcalloc(u->res.n + 1, sizeof *u->redirect);
	u->vacation = xcalloc(u->res.n + 1, sizeof *u->vacation);
	for (size_t i = 0; i < u->res.n; i++) {
		const struct sieve_action *a = &u->res.a[i];
		switch (a->kind) {
		case SIEVE_KEEP:
			add_target(u, NULL, 0, a->flags, a->nflags, &kwn);
			break;
		case SIEVE_FILEINTO: {
			struct mbox_info mi;
			const char *mb = a->mailbox;
			if (!a->create && store_mbox_get(p->st, u->user, mb, &mi) != ST_OK) {
				log_warn("sieve id=%s user=%s fileinto \"%s\": no such mailbox; kept in INBOX",
					 p->id, u->addr, mb);
				mb = "INBOX";
			}
			add_target(u, mb, a->create, a->flags, a->nflags, &kwn);
			break;
		}
		case SIEVE_REDIRECT:
			if (redirect_loops(p, u)) {
				log_warn("sieve id=%s user=%s redirect to <%s> refused: mail loop "
					 "(Delivered-To or Received count); kept",
					 p->id, u->addr, a->address);
				add_target(u, NULL, 0, NULL, 0, &kwn);
			} else {
				u->redirect[u->nredirect++] = a;
			}
			break;
		case SIEVE_REJECT:
		case SIEVE_EREJECT:
			if (!u->reject)
				u->reject = reject_line(a->text);
			break;
		case SIEVE_VACATION:
			u->vacation[u->nvacation++] = a;
			break;
		case SIEVE_DISCARD:
			break;
		}
	}
	/* A reject stores nothing (RFC 5429 2.1: it cancels the implicit keep;
	 * sieve.c does not combine it with keep or fileinto). */
	if (u->reject)
		u->nt = 0;
}

static void run_user(struct sieve_plan *p, struct user_plan *u)
{
	char *name = NULL, *src = NULL, err[256];
	size_t len = 0;
	struct sieve_script *sc = NULL;
	struct run_ctx c = {p, u, {0}, 0};
	struct sieve_env env = {.ctx = &c,
				.mailbox_exists = cb_mailbox_exists,
				.duplicate_check = cb_duplicate,
				.script = cb_script,
				.now = p->now,
				.domain = p->cfg ? p->cfg->domains : "",
				.host = p->cfg ? p->cfg->hostname : ""};
	char dom[256];
	struct account a;
	/* most accounts have no script: one look-up, nothing else */
	int rc = store_sieve_active(p->st, u->user, &name, &src, &len);
	if (rc == ST_NOTFOUND)
		return;
	if (store_user_get_id(p->st, u->user, &a) == ST_OK)
		str_copy(u->addr, a.addr, sizeof u->addr);
	explicit_bzero(&a, sizeof a);
	if (rc != ST_OK) {
		log_warn("sieve id=%s user=%s cannot read the active script: %s; implicit keep",
			 p->id, u->addr, store_strerror(rc));
		return;
	}
	if (!p->msg)
		load_message(p);
	struct sieve_msg m = {p->msg, p->mlen, p->from, u->rcpt ? u->rcpt : u->addr, u->addr};
	if (p->cfg) {
		smtp_first_domain(p->cfg->domains, dom, sizeof dom);
		env.domain = dom;
	}
	if (sieve_compile(src, len, &sc, err, sizeof err) < 0) {
		log_warn("sieve id=%s user=%s script \"%s\" does not compile (%s); implicit keep",
			 p->id, u->addr, name, err);
		goto out;
	}
	u->ran = 1;
	if (sieve_run(sc, &m, &env, &u->res) < 0 || u->res.err[0])
		log_warn("sieve id=%s user=%s script \"%s\": %s; implicit keep", p->id, u->addr, name,
			 u->res.err[0] ? u->res.err : "run-time error");
	plan_actions(p, u);
	if (u->res.edited && !p->whole)
		log_warn("sieve id=%s user=%s editheader not applied: the message is over %u bytes",
			 p->id, u->addr, SIEVE_DELIVER_MAX);
	log_info("sieve id=%s user=%s script=\"%s\" copies=%zu redirects=%zu vacation=%zu%s%s", p->id,
		 u->addr, name, u->nt, u->nredirect, u->nvacation, u->reject ? " reject=" : "",
		 u->reject ? u->reject : "");
out:
	sieve_free(sc);
	for (int i = 0; i < c.ninc; i++)
		free(c.inc[i]);
	free(name);
	free(src);
}

struct sieve_plan *sieve_plan_make(struct store *st, const struct config *cfg, const char *from,
				   const uint32_t *users, const char *const *rcpts, size_t n,
				   const char *hdr, size_t hlen, struct spool *body, const char *id)
{
	struct sieve_plan *p;
	size_t ran = 0;
	if (n == 0)
		return NULL;
	p = xcalloc(1, sizeof *p);
	p->st = st;
	p->cfg = cfg;
	p->from = xstrdup(from ? from : "");
	str_copy(p->id, id ? id : "-", sizeof p->id);
	p->hdr = hdr ? hdr : "";
	p->hlen = hdr ? hlen : 0;
	p->body = body;
	p->n = n;
	p->now = (int64_t)time(NULL);
	p->u = xcalloc(n, sizeof *p->u);
	for (size_t i = 0; i < n; i++) {
		struct user_plan *u = &p->u[i];
		u->user = users[i];
		u->rcpt = rcpts ? rcpts[i] : NULL;
		str_copy(u->addr, "?", sizeof u->addr);
		run_user(p, u);
		ran += (size_t)u->ran;
	}
	if (!ran) {
		sieve_plan_free(&p);
		return NULL;
	}
	/* The users without a script: one copy where it would have gone. */
	p->place = xcalloc(n, sizeof *p->place);
	for (size_t i = 0; i < n; i++) {
		struct user_plan *u = &p->u[i];
		if (!u->ran) {
			u->t = xcalloc(1, sizeof *u->t);
			u->nt = 1;
		}
		p->place[i].t = u->t;
		p->place[i].n = u->nt;
	}
	return p;
}

const struct deliver_place *sieve_plan_place(const struct sieve_plan *p)
{
	return p ? p->place : NULL;
}

/* The script edited the header and the edit applies (the whole message). */
static int edit_applies(const struct sieve_plan *p, const struct user_plan *u)
{
	return u->ran && u->res.edited && !u->reject && p->whole;
}

int sieve_plan_edited(const struct sieve_plan *p, size_t i, const char **msg, size_t *len)
{
	const struct user_plan *u;
	if (!p || i >= p->n)
		return 0;
	u = &p->u[i];
	if (!edit_applies(p, u) || !u->nt) /* nothing stored: nothing to store apart */
		return 0;
	*msg = u->res.edited;
	*len = u->res.edited_len;
	return 1;
}

const char *sieve_plan_reject(const struct sieve_plan *p, size_t i)
{
	return p && i < p->n ? p->u[i].reject : NULL;
}

/* ---- after the commit: redirects, vacation, duplicate records ---- */

/* Hand a new message to `to`: into the INBOX of a local account (no
 * script runs on it: an auto-reply to a local sender cannot start a loop
 * of scripts), else into the queue with envelope sender `from`. */
static int send_to(struct sieve_plan *p, const char *from, const char *to, const struct msg_in *m)
{
	const char *at = strrchr(to, '@');
	int rc;
	if (p->cfg && at && config_domain_is_local(p->cfg, at + 1)) {
		struct resolved r;
		rc = store_resolve(p->st, to, &r);
		if (rc == ST_OK && r.nusers) {
			int *rcs = xcalloc(r.nusers, sizeof *rcs);
			rc = store_deliver(p->st, r.users, r.nusers, "INBOX", m, rcs, NULL);
			free(rcs);
		} else if (rc == ST_OK && r.nexternal) {
			const char *const *ext = (const char *const *)r.external;
			rc = store_queue_add(p->st, from, ext, r.nexternal, m, NULL);
		}
		store_resolved_free(&r);
		return rc;
	}
	return store_queue_add(p->st, from, &to, 1, m, NULL);
}

static int do_redirect(struct sieve_plan *p, struct user_plan *u, const struct sieve_action *a)
{
	/* RFC 9228 Delivered-To: marks that this account passed it on, which
	 * is what stops a redirect loop between accounts (redirect_loops). */
	size_t dl = strlen(u->addr) + 18, el = 0;
	const char *e = NULL;
	int edited = edit_applies(p, u);
	if (edited) {
		e = u->res.edited;
		el = u->res.edited_len;
	}
	char *hdr = xmalloc(dl + (edited ? el : p->hlen) + 1);
	int rc;
	snprintf(hdr, dl + 1, "Delivered-To: %s\r\n", u->addr);
	dl = strlen(hdr);
	memcpy(hdr + dl, edited ? e : p->hdr, edited ? el : p->hlen);
	/* editheader: the message as the script left it (RFC 5293 8) */
	struct msg_in m = {.hdr = hdr,
			   .hdrlen = dl + (edited ? el : p->hlen),
			   .body = edited ? NULL : p->body};
	/* The original envelope sender, as Pigeonhole does (docs/sieve.md). */
	rc = send_to(p, p->from, a->address, &m);
	if (rc != ST_OK)
		log_warn("sieve id=%s user=%s redirect to <%s> failed: %s", p->id, u->addr, a->address,
			 store_strerror(rc));
	else
		log_info("sieve id=%s user=%s redirected to <%s>", p->id, u->addr, a->address);
	free(hdr);
	return rc;
}

int sieve_plan_redirect(struct sieve_plan *p)
{
	for (size_t i = 0; p && i < p->n; i++) {
		struct user_plan *u = &p->u[i];
		for (size_t k = 0; u->ran && !u->reject && k < u->nredirect; k++)
			if (do_redirect(p, u, u->redirect[k]) != ST_OK)
				return ST_TEMP;
	}
	return ST_OK;
}

/* A header value without line breaks or controls. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static int ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Subject as a header value: as it is when ASCII, else one RFC 2047
 * B-encoded word per up to 45 bytes (whole UTF-8 sequences). */
static void subject_field(struct sbuf *b, const char *subj)
{
	size_t n = strlen(subj);
	sbuf_puts(b, "Subject: ");
	if (ascii(subj)) {
		sbuf_add(b, subj, n);
	} else {
		for (size_t i = 0; i < n;) {
			size_t k = n - i > 45 ? 45 : n - i;
			char enc[B64_ENCLEN(45) + 1];
			while (i + k < n && k > 1 && ((unsigned char)subj[i + k] & 0xc0) == 0x80)
				k--;
			b64_encode(subj + i, k, enc);
			sbuf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", enc);
			i += k;
		}
	}
	sbuf_puts(b, "\r\n");
}

/* Text with every line break made CRLF. */
static void add_crlf(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' && s[1] == '\n')
			continue;
		if (*s == '\n' || *s == '\r')
			sbuf_add(b, "\r\n", 2);
		else
			sbuf_add(b, s, 1);
	}
}

/* Whether :from names an address that reaches this account (its own, or
 * an alias of it): brev signs the reply for the From domain, so a script
 * must not make it speak for someone else. */
static int from_is_ours(struct sieve_plan *p, const struct user_plan *u, const char *from)
{
	char addr[STORE_ADDR_MAX + 1];
	const char *lt = strrchr(from, '<');
	struct resolved r;
	int ok = 0;
	str_copy(addr, lt ? lt + 1 : from, sizeof addr);
	addr[strcspn(addr, ">")] = '\0';
	if (!strcasecmp(addr, u->addr))
		return 1;
	if (store_resolve(p->st, addr, &r) != ST_OK)
		return 0;
	for (size_t i = 0; i < r.nusers; i++)
		ok |= r.users[i] == u->user;
	store_resolved_free(&r);
	return ok;
}

/* RFC 3834 / RFC 5230 5: the reply, signed, then sent. */
static void do_vacation(struct sieve_plan *p, struct user_plan *u, const struct sieve_action *a)
{
	char subj[1024], msgid[1000], refs[2000], from[STORE_ADDR_MAX * 2 + 8], to[STORE_ADDR_MAX + 1];
	char tid[17];
	struct sbuf b = {0};
	int send = 0, rc;
	const char *handle = a->vac_handle ? a->vac_handle : "";
	if (!a->vac_to || !a->vac_to[0])
		return;
	str_copy(to, a->vac_to, sizeof to);
	clean(to);
	/* one reply per (handle, sender) per period: checked and recorded now */
	rc = store_vacation_take(p->st, u->user, handle, to, p->now, a->vac_seconds, &send);
	if (rc != ST_OK || !send) {
		log_info("sieve id=%s user=%s vacation to <%s>: %s", p->id, u->addr, to,
			 rc != ST_OK ? "store busy, not sent" : "already answered in this period");
		return;
	}
	field(p, "Message-ID", msgid, sizeof msgid);
	field(p, "References", refs, sizeof refs);
	if (a->vac_subject && a->vac_subject[0]) {
		str_copy(subj, a->vac_subject, sizeof subj);
	} else {
		char orig[900];
		field(p, "Subject", orig, sizeof orig);
		snprintf(subj, sizeof subj, "Auto: %s", orig);
	}
	clean(subj);
	str_copy(from, a->vac_from && a->vac_from[0] ? a->vac_from : u->addr, sizeof from);
	clean(from);
	if (strcmp(from, u->addr) && !from_is_ours(p, u, from)) {
		log_warn("sieve id=%s user=%s vacation :from \"%s\" does not reach this account; "
			 "replying from %s", p->id, u->addr, from, u->addr);
		str_copy(from, u->addr, sizeof from);
	}
	sbuf_printf(&b, "From: %s\r\nTo: <%s>\r\n", from, to);
	subject_field(&b, subj);
	if (msgid[0]) {
		sbuf_printf(&b, "In-Reply-To: %s\r\n", msgid);
		sbuf_printf(&b, "References: %s%s%s\r\n", refs, refs[0] ? " " : "", msgid);
	}
	sbuf_puts(&b, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	if (!a->vac_mime)
		sbuf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: 8bit\r\n\r\n");
	add_crlf(&b, a->vac_reason ? a->vac_reason : "");
	if (b.len < 2 || memcmp(b.p + b.len - 2, "\r\n", 2))
		sbuf_puts(&b, "\r\n");
	if (b.over) {
		sbuf_free(&b);
		return;
	}
	/* Date and Message-ID added, DKIM-signed by the From domain's key */
	struct spool *sp = spool_new(b.len + 1);
	char *sig = NULL;
	smtp_make_id(tid);
	if (spool_write(sp, b.p, b.len) == 0 && !spool_error(sp) && p->cfg)
		sig = authres_submission(p->cfg->datadir, p->cfg->hostname, u->addr, tid, NULL, 0, sp,
					 1);
	spool_free(&sp);
	size_t sl = sig ? strlen(sig) : 0;
	char *text = xmalloc(sl + b.len + 1);
	memcpy(text, sig ? sig : "", sl);
	memcpy(text + sl, b.p, b.len + 1);
	struct msg_in m = {.hdr = text, .hdrlen = sl + b.len};
	/* RFC 3834 3.3 / RFC 5230 5.1: the null envelope sender */
	rc = send_to(p, "", to, &m);
	if (rc != ST_OK)
		log_warn("sieve id=%s user=%s vacation reply to <%s> failed: %s", p->id, u->addr, to,
			 store_strerror(rc));
	else
		log_info("sieve id=%s user=%s vacation reply sent to <%s>", p->id, u->addr, to);
	free(text);
	free(sig);
	sbuf_free(&b);
}

void sieve_plan_after(struct sieve_plan *p, const int *rcs)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct user_plan *u = &p->u[i];
		if (!u->ran || (rcs && rcs[i] != ST_OK) || u->reject)
			continue;
		for (size_t k = 0; k < u->nvacation; k++)
			do_vacation(p, u, u->vacation[k]);
		for (size_t k = 0; k < u->res.ndup; k++)
			if (store_dup_record(p->st, u->user, u->res.dup_ids[k], p->now,
					     u->res.dup_secs[k]) != ST_OK)
				log_warn("sieve id=%s user=%s duplicate id not recorded", p->id,
					 u->addr);
	}
}

void sieve_plan_free(struct sieve_plan **pp)
{
	struct sieve_plan *p = *pp;
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct user_plan *u = &p->u[i];
		if (u->ran)
			sieve_result_free(&u->res);
		free(u->t);
		free(u->kw);
		free(u->reject);
		free(u->redirect);
		free(u->vacation);
	}
	free(p->u);
	free(p->place);
	free(p->msg);
	free(p->from);
	free(p);
	*pp = NULL;
}
