/*
 * smtp_msg.c — what happens to a message once its bytes are in a spool,
 * shared by the SMTP server and `brev sendmail`: trace fields (Received:,
 * RFC 5321 4.4 with RFC 3848 / RFC 6531 protocol names), the Received:
 * loop count, the recipient set (local accounts and remote addresses,
 * without duplicates), and the commit into the store.
 *
 * The commit is two store calls: store_queue_add for the remote recipients
 * and one store_deliver for every local account (the bytes stored once).
 * Both are synced before they return, so a caller may promise delivery
 * (SMTP 250, sendmail exit 0) as soon as smtp_commit returns ST_OK.
 * Local copies the store refused (quota) while others took the message are
 * bounced to the sender with a DSN (queue_dsn.c), in a third commit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "mailbox.h"
#include "message.h"
#include "queue.h"
#include "sieve_deliver.h"
#include "smtp.h"
#include "spool.h"
#include "srs.h"
#include "util.h"

void smtp_date(char *out, size_t cap, time_t t)
{
	/* Fixed English names: RFC 5322 3.3 is not locale dependent. */
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %d %s %d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void smtp_make_id(char out[17])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned char r[16];
	random_bytes(r, sizeof r);
	for (int i = 0; i < 16; i++)
		out[i] = digits[r[i] % 36];
	out[16] = 0;
}

const char *smtp_proto_name(int ehlo, int tls, int auth, int utf8)
{
	if (utf8) {
		/* RFC 6531 3.7.3 */
		static const char *const u[] = {"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"};
		return u[(tls ? 2 : 0) + (auth ? 1 : 0)];
	}
	if (!ehlo)
		return "SMTP";
	/* RFC 3848 */
	static const char *const e[] = {"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"};
	return e[(tls ? 2 : 0) + (auth ? 1 : 0)];
}

size_t smtp_received(char *out, size_t cap, const struct smtp_trace *t)
{
	char date[64], peer[80], tls[256] = "", rcpt[STORE_ADDR_MAX + 16] = "";
	smtp_date(date, sizeof date, t->when);
	/* RFC 5321 4.1.3: an IPv6 address literal carries the "IPv6:" tag. */
	snprintf(peer, sizeof peer, "%s%s", strchr(t->peer, ':') ? "IPv6:" : "", t->peer);
	if (t->tls_version)
		snprintf(tls, sizeof tls, "\r\n\t(using %s with cipher %s)", t->tls_version,
			 t->tls_cipher ? t->tls_cipher : "unknown");
	if (t->for_rcpt)
		snprintf(rcpt, sizeof rcpt, "\r\n\tfor <%s>", t->for_rcpt);
	int n =
	    snprintf(out, cap,
		     "Received: from %s (%s [%s])%s\r\n"
		     "\tby %s (brev) with %s id %s%s;\r\n"
		     "\t%s\r\n",
		     t->helo ? t->helo : "unknown", t->rdns && t->rdns[0] ? t->rdns : "unknown", peer,
		     tls, t->by, t->proto, t->id, rcpt, date);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

int smtp_has_nul(struct spool *sp)
{
	char buf[16384];
	uint64_t off = 0;
	long got;
	while ((got = spool_read_at(sp, off, buf, sizeof buf)) > 0) {
		if (memchr(buf, 0, (size_t)got))
			return 1;
		off += (uint64_t)got;
	}
	return 0;
}

/* Whether the address a is ip's (ss). */
static int addr_same(const struct dns_addr *a, const struct sockaddr_storage *ss)
{
	if (a->sa.ss_family != ss->ss_family)
		return 0;
	if (ss->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)&a->sa)->sin_addr,
			      &((const struct sockaddr_in *)ss)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
		      &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0;
}

static enum smtp_rdns fcrdns_lookup(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char name[DNS_NAME_MAX + 1], why[256];
	struct dns_addr a[DNS_ADDR_MAX];
	size_t n = 0;
	int rc = dns_ptr(ss, name, sizeof name, why, sizeof why);
	if (rc == DNS_TEMP)
		return SMTP_RDNS_UNKNOWN;
	if (rc != DNS_OK || !name[0])
		return SMTP_RDNS_NONE;
	if (!smtp_domain_ok(name, strlen(name), 0))
		return SMTP_RDNS_MISMATCH;
	rc = dns_addrs(name, a, DNS_ADDR_MAX, &n, why, sizeof why);
	if (rc == DNS_TEMP)
		return SMTP_RDNS_UNKNOWN;
	for (size_t i = 0; rc == DNS_OK && i < n; i++)
		if (addr_same(&a[i], ss)) {
			str_copy(out, name, cap);
			str_lower(out);
			return SMTP_RDNS_OK;
		}
	return SMTP_RDNS_MISMATCH;
}

enum smtp_rdns smtp_fcrdns(const char *ip, int ms, char *out, size_t cap)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	out[0] = 0;
	/* The machine's own address is this host talking to itself: no DNS
	 * (as authres.c treats it). Other loopback addresses are looked up
	 * like any peer. */
	if (strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0 ||
	    strcmp(ip, "::ffff:127.0.0.1") == 0) {
		str_copy(out, "localhost", cap);
		return SMTP_RDNS_OK;
	}
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return SMTP_RDNS_NONE;
	if (ms > 0)
		dns_thread_timeout(ms);
	enum smtp_rdns r = fcrdns_lookup(&ss, out, cap);
	if (ms > 0)
		dns_thread_timeout(0);
	return r;
}

/* Bound on how much of a message is searched for its header's end. */
#define RECEIVED_SCAN_MAX (4u << 20)

int smtp_count_received(struct spool *sp, int max)
{
	static const char pfx[] = "received:";
	char buf[8192];
	uint64_t off = 0;
	size_t col = 0, match = 0;
	int count = 0, first_cr = 0;
	while (off < RECEIVED_SCAN_MAX) {
		long got = spool_read_at(sp, off, buf, sizeof buf);
		if (got <= 0)
			break;
		for (long i = 0; i < got; i++) {
			char c = buf[i];
			if (c == '\n') {
				if (col == 0 || (col == 1 && first_cr))
					return count; /* the empty line ends the header */
				col = match = 0;
				first_cr = 0;
				continue;
			}
			if (col == 0)
				first_cr = c == '\r';
			if (col < sizeof pfx - 1 && match == col && (c | 0x20) == pfx[col] &&
			    (pfx[col] != ':' || c == ':')) {
				if (++match == sizeof pfx - 1 && ++count > max)
					return count;
			}
			col++;
		}
		off += (uint64_t)got;
	}
	return count;
}

/* ---- who may send as whom (submission) ---- */

/* An entry of submission.shared_senders: "addr" or "@domain". */
static int shared_sender(const struct config *cfg, const char *addr)
{
	const char *p = cfg->submission_shared ? cfg->submission_shared : "";
	const char *at = strrchr(addr, '@');
	size_t al = strlen(addr), dl = at ? strlen(at) : 0;
	while (*p) {
		p += strspn(p, " \t");
		size_t wl = strcspn(p, " \t");
		if (wl && ((wl == al && str_ncasecmp_ascii(p, addr, al) == 0) ||
			   (p[0] == '@' && wl == dl && str_ncasecmp_ascii(p, at, dl) == 0)))
			return 1;
		p += wl;
	}
	return 0;
}

int smtp_sender_owned(struct store *st, const struct config *cfg, uint32_t uid, const char *user,
		      const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at || at[1] == '[')
		return 0;
	if (shared_sender(cfg, addr))
		return 1;
	if (!config_domain_is_local(cfg, at + 1))
		return 0;
	if (str_casecmp_ascii(addr, user) == 0)
		return 1;
	struct resolved *r = xcalloc(1, sizeof *r);
	int ok = 0;
	if (store_resolve(st, addr, r) == ST_OK)
		for (size_t i = 0; i < r->nusers; i++)
			ok |= r->users[i] == uid;
	store_resolved_free(r);
	free(r);
	return ok;
}

/* The header section of the message in sp (through the empty line), at
 * most max octets: 0, or -1 when it is longer or cannot be read. */
static int header_read(struct spool *sp, size_t max, struct sbuf *out)
{
	char buf[16384];
	uint64_t off = 0;
	out->max = max + sizeof buf;
	for (;;) {
		long got = spool_read_at(sp, off, buf, sizeof buf);
		if (got < 0)
			return -1;
		if (got == 0)
			return 0; /* all header */
		size_t from = out->len >= 3 ? out->len - 3 : 0;
		sbuf_add(out, buf, (size_t)got);
		if (out->over)
			return -1;
		off += (uint64_t)got;
		if (out->len >= 2 && out->p[0] == '\r' && out->p[1] == '\n')
			return 0; /* no header at all */
		for (size_t i = from; i + 3 <= out->len; i++)
			if (memcmp(out->p + i, "\n\r\n", 3) == 0) {
				out->len = i + 3;
				return 0;
			}
		if (out->len > max)
			return -1;
	}
}

struct owner_walk {
	struct store *st;
	const struct config *cfg;
	uint32_t uid;
	const char *user;
	char *bad;
	size_t cap;
	int refused;
};

static int owner_check(void *arg, const char *text)
{
	struct owner_walk *w = arg;
	struct smtp_addr a;
	size_t used, n = strlen(text);
	if (smtp_path_parse(text, n, SP_NO_BRACKETS, &a, &used) != 0 || used != n ||
	    !smtp_sender_owned(w->st, w->cfg, w->uid, w->user, a.addr)) {
		str_copy(w->bad, text, w->cap);
		w->refused = 1;
		return 1; /* the first one is enough */
	}
	return 0;
}

static int owner_none(void *arg, const char *text)
{
	return 0;
}

int smtp_header_senders(struct store *st, const struct config *cfg, uint32_t uid,
			const char *user, struct spool *sp, char *bad, size_t cap)
{
	struct sbuf h = {0};
	struct owner_walk w = {st, cfg, uid, user, bad, cap, 0};
	const char *name, *val;
	size_t pos = 0, nlen, vlen;
	int rc = 0;
	bad[0] = 0;
	if (header_read(sp, SMTP_HEADER_CHECK_MAX, &h) < 0) {
		sbuf_free(&h);
		return SMTP_SENDERS_TOOBIG;
	}
	while (rc == 0 && mime_hdr_next(h.p ? h.p : "", h.len, &pos, &name, &nlen, &val, &vlen)) {
		int from = nlen == 4 && str_ncasecmp_ascii(name, "From", 4) == 0;
		int sender = nlen == 6 && str_ncasecmp_ascii(name, "Sender", 6) == 0;
		if (!from && !sender)
			continue;
		/* Unclear first: its "addresses" are not worth naming. */
		if (smtp_addr_list(val, vlen, NULL, 1, owner_none, NULL) < 0) {
			str_copy(bad, from ? "From" : "Sender", cap);
			rc = SMTP_SENDERS_UNCLEAR;
		} else if (smtp_addr_list(val, vlen, NULL, 1, owner_check, &w) < 0 || w.refused)
			rc = SMTP_SENDERS_NOTOWNED;
	}
	sbuf_free(&h);
	return rc;
}

/* ---- resolving a recipient ---- */

struct oldest {
	const char *dom;
	uint32_t id;
	int found;
};

static void oldest_cb(void *arg, const struct account *a)
{
	struct oldest *o = arg;
	const char *at = strrchr(a->addr, '@');
	if (at && str_casecmp_ascii(at + 1, o->dom) == 0 && (!o->found || a->id < o->id)) {
		o->id = a->id;
		o->found = 1;
	}
}

/* postmaster@dom, else the oldest account of dom. */
static int postmaster_of(struct store *st, const char *dom, struct resolved *r)
{
	char pm[STORE_ADDR_MAX + 1];
	if ((size_t)snprintf(pm, sizeof pm, "postmaster@%s", dom) < sizeof pm) {
		int rc = store_resolve(st, pm, r);
		if (rc != ST_NOTFOUND && rc != ST_INVALID)
			return rc;
	}
	struct oldest o = {dom, 0, 0};
	int rc = store_user_list(st, oldest_cb, &o);
	if (rc != ST_OK)
		return rc;
	if (!o.found)
		return ST_NOTFOUND;
	memset(r, 0, sizeof *r);
	r->users[r->nusers++] = o.id;
	return ST_OK;
}

int smtp_resolve(struct store *st, const struct config *cfg, const char *addr, struct resolved *r)
{
	int rc = store_resolve(st, addr, r);
	const char *at = strrchr(addr, '@');
	if (rc != ST_NOTFOUND || !at || (size_t)(at - addr) != 10 ||
	    str_ncasecmp_ascii(addr, "postmaster", 10) != 0 ||
	    !config_domain_is_local(cfg, at + 1))
		return rc;
	/* RFC 5321 4.5.1: postmaster of every local domain works. Ours, then
	 * the configured domains in order: a domain added to `domains` after
	 * its accounts, or with none yet, still reaches someone. */
	if ((rc = postmaster_of(st, at + 1, r)) != ST_NOTFOUND)
		return rc;
	const char *p = cfg->domains ? cfg->domains : "";
	while (*p) {
		char dom[SMTP_DOMAIN_MAX + 1];
		p += strspn(p, " \t");
		size_t n = strcspn(p, " \t");
		if (n && n < sizeof dom) {
			memcpy(dom, p, n);
			dom[n] = 0;
			if ((rc = postmaster_of(st, dom, r)) != ST_NOTFOUND)
				return rc;
		}
		p += n;
	}
	return ST_NOTFOUND;
}

/* ---- local domains ---- */

void smtp_first_domain(const char *domains, char *out, size_t cap)
{
	const char *p = domains ? domains : "";
	p += strspn(p, " \t");
	size_t n = strcspn(p, " \t");
	if (n >= cap)
		n = 0;
	memcpy(out, p, n);
	out[n] = 0;
}

int smtp_login_addr(const char *domains, const char *login, char *out, size_t cap)
{
	size_t n = strlen(login);
	if (n == 0 || n > STORE_ADDR_MAX)
		return -1;
	if (strchr(login, '@')) {
		if (str_copy(out, login, cap) >= cap)
			return -1;
		str_lower(out);
		return 0;
	}
	/* A bare local part only names an account when there is one domain. */
	const char *p = domains ? domains : "";
	p += strspn(p, " \t");
	size_t d = strcspn(p, " \t");
	if (d == 0 || p[d + strspn(p + d, " \t")] != 0)
		return -1;
	if ((size_t)snprintf(out, cap, "%s@%.*s", login, (int)d, p) >= cap)
		return -1;
	str_lower(out);
	return 0;
}

/* ---- recipient set ---- */

void smtp_rcptset_add_user_as(struct smtp_rcptset *r, uint32_t id, const char *rcpt)
{
	for (size_t i = 0; i < r->nusers; i++)
		if (r->users[i] == id)
			return;
	if (r->nusers == r->capusers) {
		r->capusers = r->capusers ? 2 * r->capusers : 16;
		r->users = xrealloc(r->users, r->capusers * sizeof *r->users);
		r->rcpt = xrealloc(r->rcpt, r->capusers * sizeof *r->rcpt);
	}
	r->rcpt[r->nusers] = rcpt ? xstrdup(rcpt) : NULL;
	r->users[r->nusers++] = id;
}

void smtp_rcptset_add_user(struct smtp_rcptset *r, uint32_t id)
{
	smtp_rcptset_add_user_as(r, id, NULL);
}

void smtp_rcptset_add_fwd(struct smtp_rcptset *r, const char *addr, const char *via)
{
	/* The first way an address was reached wins: named by the client
	 * itself, it keeps the sender as given. */
	for (size_t i = 0; i < r->next; i++)
		if (str_casecmp_ascii(r->ext[i], addr) == 0)
			return;
	if (r->next == r->capext) {
		r->capext = r->capext ? 2 * r->capext : 16;
		r->ext = xrealloc(r->ext, r->capext * sizeof *r->ext);
		r->via = xrealloc(r->via, r->capext * sizeof *r->via);
	}
	r->via[r->next] = via ? xstrdup(via) : NULL;
	r->ext[r->next++] = xstrdup(addr);
}

void smtp_rcptset_add_ext(struct smtp_rcptset *r, const char *addr)
{
	smtp_rcptset_add_fwd(r, addr, NULL);
}

void smtp_rcptset_clear(struct smtp_rcptset *r)
{
	for (size_t i = 0; i < r->next; i++) {
		free(r->ext[i]);
		free(r->via[i]);
	}
	for (size_t i = 0; i < r->nusers; i++)
		free(r->rcpt[i]);
	r->next = 0;
	r->nusers = 0;
	r->junk = NULL;
	r->writer = NULL;
}

void smtp_rcptset_free(struct smtp_rcptset *r)
{
	smtp_rcptset_clear(r);
	free(r->ext);
	free(r->via);
	free(r->users);
	free(r->rcpt);
	memset(r, 0, sizeof *r);
}

/* ---- commit ---- */

static void log_refused(const char *id, const char *who, int rc)
{
	log_warn("smtp id=%s rcpt=%s refused: %s", id, who, store_strerror(rc));
}

/* What the DSN says about one refused account (RFC 3463). */
static void refusal_words(int rc, const char **status, const char **why)
{
	switch (rc) {
	case ST_QUOTA:
		*status = "5.2.2";
		*why = "The recipient's mailbox is full: the message could not be stored.";
		break;
	case ST_TOOBIG:
		*status = "5.2.2";
		*why = "The message is larger than the recipient's whole mailbox quota.";
		break;
	default:
		*status = "5.1.1";
		*why = "The recipient's mailbox was removed while the message arrived.";
		break;
	}
}

#define BOUNCE_HDR_MAX (64 * 1024) /* original header returned in a DSN */

/* pre + the header of body (up to, without, its empty line), at most
 * BOUNCE_HDR_MAX bytes cut at a line end; malloc'ed. */
static char *orig_header(const char *pre, size_t prelen, struct spool *body, size_t *len)
{
	size_t max = BOUNCE_HDR_MAX, n = prelen < max ? prelen : max, i;
	char *h = xmalloc(max + 1);
	uint64_t off = 0;
	memcpy(h, pre, n);
	while (n < max) {
		long got = spool_read_at(body, off, h + n, max - n);
		if (got <= 0)
			break;
		off += (uint64_t)got;
		n += (size_t)got;
	}
	/* line by line from the body's first: stop at the empty line, or at
	 * the last complete line when the header does not fit */
	i = prelen < n ? prelen : n;
	while (i < n && h[i] != '\n' && !(h[i] == '\r' && i + 1 < n && h[i + 1] == '\n')) {
		const char *nl = memchr(h + i, '\n', n - i);
		if (!nl)
			break;
		i = (size_t)(nl - h) + 1;
	}
	h[i] = 0;
	*len = i;
	return h;
}

/* docs/smtp.md: copies refused at the end of DATA while the message was
 * taken for others bounce (one DSN for all of them) instead of vanishing. */
static void bounce_refused(struct store *st, const struct config *cfg, const char *from,
			   const char *hdr, size_t hlen, struct spool *body, const char *id,
			   const struct dsn_rcpt *rr, size_t n)
{
	size_t ohlen;
	char *oh = orig_header(hdr, hlen, body, &ohlen);
	struct dsn d = {.action = DSN_FAILED,
			.reporting_mta = cfg->hostname[0] ? cfg->hostname : "localhost",
			.orig_from = from,
			.arrival = (int64_t)time(NULL),
			.rcpts = rr,
			.nrcpts = n,
			.orig_headers = oh,
			.orig_hlen = ohlen,
			.orig_id = id};
	if (dsn_send(st, cfg, &d) < 0)
		log_warn("smtp id=%s bounce to <%s> for %zu refused recipient(s) not stored", id,
			 from, n);
	else if (from[0])
		log_info("smtp id=%s bounced %zu refused recipient(s) to <%s>", id, n, from);
	free(oh);
}

/* The envelope sender for remote recipient i: the SRS address of its
 * alias's domain when an alias forwards it and the sender is from outside
 * (docs/smtp.md, "Forwarding and SRS"); otherwise from itself. A sender
 * SRS cannot carry (quoted, too long) is kept, and the copy may then fail
 * SPF at the receiver, as it did before SRS. */
static const char *fwd_sender(const struct config *cfg, const char *from,
			      const struct smtp_rcptset *r, size_t i, const char *id, char *buf,
			      size_t cap)
{
	const char *at = strrchr(from, '@');
	if (!cfg || !r->via[i] || !from[0] || !at || config_domain_is_local(cfg, at + 1))
		return from;
	int rc = srs_forward(cfg->datadir, from, r->via[i], buf, cap);
	if (rc == SRS_OK)
		return buf;
	if (rc != SRS_NOT)
		log_warn("smtp id=%s forward to <%s>: sender <%s> kept: %s", id, r->ext[i], from,
			 srs_strerror(rc));
	return from;
}

/* Queue r's remote recipients: one entry per distinct envelope sender
 * (usually one; two when a client's own recipients and forwarded copies
 * share a transaction, more with aliases of several domains). Should a
 * later entry fail, the earlier ones stay queued and the client's retry
 * sends them twice: a duplicate, never a loss. */
static int queue_remote(struct store *st, const struct config *cfg, const char *from,
			const struct smtp_rcptset *r, const struct msg_in *m, const char *id,
			struct smtp_outcome *o)
{
	char(*senders)[STORE_ADDR_MAX + 1] = xcalloc(r->next, sizeof *senders);
	const char **to = xcalloc(r->next, sizeof *to);
	unsigned char *done = xcalloc(r->next, 1);
	int rc = ST_OK;
	/* Every entry carries the tracking id; "accepted" is journalled once. */
	struct msg_in later = *m;
	struct journal_in jlater = {0};
	if (m->journal) {
		jlater = *m->journal;
		jlater.accepted = NULL;
		later.journal = &jlater;
	}
	for (size_t i = 0; i < r->next; i++)
		str_copy(senders[i], fwd_sender(cfg, from, r, i, id, senders[i], sizeof senders[i]),
			 sizeof senders[i]);
	for (size_t i = 0; rc == ST_OK && i < r->next; i++) {
		size_t n = 0;
		uint64_t qid;
		if (done[i])
			continue;
		for (size_t j = i; j < r->next; j++)
			if (!done[j] && strcmp(senders[i], senders[j]) == 0) {
				done[j] = 1;
				to[n++] = r->ext[j];
			}
		struct msg_in mi = *(o->queued ? &later : m);
		/* a forwarded copy (SRS sender) is not the user writing */
		mi.known_local = r->writer && strcmp(senders[i], from) == 0 ? r->writer : NULL;
		rc = store_queue_add(st, senders[i], to, n, &mi, &qid);
		if (rc == ST_OK && o->queued == 0)
			o->queue_id = qid;
		if (rc == ST_OK)
			o->queued += n;
		if (rc == ST_OK && strcmp(senders[i], from) != 0)
			log_info("smtp id=%s forwarded with SRS sender <%s> to %zu recipient(s)", id,
				 senders[i], n);
	}
	free(senders);
	free(to);
	free(done);
	return rc;
}

int smtp_commit(struct store *st, const struct config *cfg, const char *from,
		const struct smtp_rcptset *r, const char *hdr_local, size_t hlen_local,
		const char *hdr_queue, size_t hlen_queue, struct spool *body, const char *id,
		const char *via, struct smtp_outcome *o)
{
	return smtp_commit_mbox(st, cfg, from, r, NULL, hdr_local, hlen_local, hdr_queue,
				hlen_queue, body, id, via, o);
}

/* The value of header field `name` in the header h (unfolded, cut to
 * cap), or "" when absent. */
static void header_value(const char *h, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), o = 0;
	out[0] = 0;
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(h + i, '\n', len - i);
		size_t end = eol ? (size_t)(eol - h) : len;
		if (end - i > nl && h[i + nl] == ':' && strncasecmp(h + i, name, nl) == 0) {
			for (size_t j = i + nl + 1;; j = end + 1) {
				for (; j < end && o + 1 < cap; j++)
					if (h[j] != '\r' && (o || (h[j] != ' ' && h[j] != '\t')))
						out[o++] = h[j] == '\t' ? ' ' : h[j];
				/* continuation lines start with WSP */
				if (end + 1 >= len || (h[end + 1] != ' ' && h[end + 1] != '\t'))
					break;
				eol = memchr(h + end + 1, '\n', len - end - 1);
				end = eol ? (size_t)(eol - h) : len;
			}
			out[o] = 0;
			return;
		}
		i = end + 1;
	}
}

/* The detail of the journal's "accepted" event: malloc'ed. */
static char *accepted_detail(const char *from, const struct smtp_rcptset *r, const char *hdr,
			     size_t hlen, struct spool *body, const char *via)
{
	char msgid[512], *d = xmalloc(JOURNAL_DETAIL_MAX + 1);
	size_t ohlen;
	char *oh = orig_header(hdr, hlen, body, &ohlen);
	header_value(oh, ohlen, "Message-ID", msgid, sizeof msgid);
	free(oh);
	snprintf(d, JOURNAL_DETAIL_MAX + 1, "from=<%s> size=%llu msgid=%s rcpts=%zu%s%s", from,
		 (unsigned long long)(hlen + spool_size(body)), msgid[0] ? msgid : "-",
		 r->nusers + r->next, via ? " " : "", via ? via : "");
	return d;
}

/* Accounts whose `mbox` is gone (a deleted Junk) get the message in INBOX:
 * never lose mail over a folder. */
static int redeliver_inbox(struct store *st, const struct smtp_rcptset *r, const struct msg_in *m,
			   int *rcs)
{
	uint32_t *again = xcalloc(r->nusers, sizeof *again);
	int *rc2 = xcalloc(r->nusers, sizeof *rc2);
	size_t n = 0;
	int rc = ST_OK;
	struct msg_in m2 = *m;
	struct journal_in j2;
	if (m->journal) { /* the first commit said "accepted" already */
		j2 = *m->journal;
		j2.accepted = NULL;
		m2.journal = &j2;
	}
	m2.junk = NULL; /* indexed like r->users, not like `again` */
	m = &m2;
	for (size_t i = 0; i < r->nusers; i++)
		if (rcs[i] == ST_NOTFOUND)
			again[n++] = r->users[i];
	if (n > 0)
		rc = store_deliver(st, again, n, NULL, m, rc2, NULL);
	for (size_t i = 0, k = 0; rc == ST_OK && i < r->nusers && k < n; i++)
		if (rcs[i] == ST_NOTFOUND)
			rcs[i] = rc2[k++];
	free(again);
	free(rc2);
	return rc;
}

/* The accounts of r that refused (rcs[i] != ST_OK): logged, and bounced
 * when the message was taken for someone else. */
static void refused(struct store *st, const struct config *cfg, const char *from,
		    const struct smtp_rcptset *r, const int *rcs, const char *hdr, size_t hlen,
		    struct spool *body, const char *id, const struct smtp_outcome *o)
{
	struct dsn_rcpt *rr = xcalloc(r->nusers, sizeof *rr);
	struct account *acc = xcalloc(r->nusers, sizeof *acc);
	size_t n = 0;
	for (size_t i = 0; i < r->nusers; i++) {
		if (rcs[i] == ST_OK)
			continue;
		if (store_user_get_id(st, r->users[i], &acc[n]) != ST_OK)
			str_copy(acc[n].addr, "?", sizeof acc[n].addr);
		log_refused(id, acc[n].addr, rcs[i]);
		rr[n].addr = acc[n].addr;
		refusal_words(rcs[i], &rr[n].status, &rr[n].why);
		n++;
	}
	/* Every copy refused and nothing queued: the client is told (452/552)
	 * and keeps the message; no DSN then. */
	if (n && cfg && (o->delivered || o->queued))
		bounce_refused(st, cfg, from, hdr, hlen, body, id, rr, n);
	else if (n && (o->delivered || o->queued))
		log_warn("smtp id=%s %zu refused copies dropped (no configuration to bounce)", id,
			 n);
	free(rr);
	free(acc);
}

static int smtp_commit_tracked(struct store *st, const struct config *cfg, const char *from,
			       const struct smtp_rcptset *r, const char *mbox,
			       const char *hdr_local, size_t hlen_local, const char *hdr_queue,
			       size_t hlen_queue, struct spool *body, const char *id,
			       const struct journal_in *jq, const struct journal_in *jl,
			       struct smtp_outcome *o);
static int smtp_commit_sieve(struct store *st, const struct config *cfg, const char *from,
			     const struct smtp_rcptset *r, const char *mbox, const char *hdr_local,
			     size_t hlen_local, const char *hdr_queue, size_t hlen_queue,
			     struct spool *body, const char *id, const struct journal_in *jq,
			     const struct journal_in *jl, struct smtp_outcome *o,
			     struct sieve_plan *plan);

/* Some local accounts' scripts rejected the message while it was taken for
 * others: the sender gets one DSN with their reasons (RFC 5429 2.1: "at
 * SMTP time when possible", and with other recipients it is not). */
static void bounce_rejected(struct store *st, const struct config *cfg, const char *from,
			    const struct smtp_rcptset *r, const struct sieve_plan *plan,
			    const char *hdr, size_t hlen, struct spool *body, const char *id,
			    const struct smtp_outcome *o)
{
	struct dsn_rcpt *rr = xcalloc(r->nusers, sizeof *rr);
	struct account *acc = xcalloc(r->nusers, sizeof *acc);
	size_t n = 0;
	for (size_t i = 0; i < r->nusers; i++) {
		const char *why = sieve_plan_reject(plan, i);
		if (!why)
			continue;
		if (store_user_get_id(st, r->users[i], &acc[n]) != ST_OK)
			str_copy(acc[n].addr, "?", sizeof acc[n].addr);
		log_info("smtp id=%s to=<%s> rejected by the recipient's Sieve script: %s", id,
			 acc[n].addr, why);
		rr[n].addr = acc[n].addr;
		rr[n].status = "5.7.1";
		rr[n].why = why;
		n++;
	}
	if (n && cfg && (o->delivered || o->queued))
		bounce_refused(st, cfg, from, hdr, hlen, body, id, rr, n);
	for (size_t i = 0; i < n; i++)
		explicit_bzero(&acc[i].cred, sizeof acc[i].cred);
	free(rr);
	free(acc);
}

int smtp_commit_mbox(struct store *st, const struct config *cfg, const char *from,
		     const struct smtp_rcptset *r, const char *mbox, const char *hdr_local,
		     size_t hlen_local, const char *hdr_queue, size_t hlen_queue,
		     struct spool *body, const char *id, const char *via, struct smtp_outcome *o)
{
	char *acc = accepted_detail(from, r, hdr_queue, hlen_queue, body, via);
	/* the first commit carries "accepted", each its own deliveries */
	struct journal_in jq = {id, acc}, jl = {id, r->next > 0 ? NULL : acc};
	int rc = smtp_commit_tracked(st, cfg, from, r, mbox, hdr_local, hlen_local, hdr_queue,
				     hlen_queue, body, id, &jq, &jl, o);
	free(acc);
	return rc;
}

static int smtp_commit_tracked(struct store *st, const struct config *cfg, const char *from,
			       const struct smtp_rcptset *r, const char *mbox,
			       const char *hdr_local, size_t hlen_local, const char *hdr_queue,
			       size_t hlen_queue, struct spool *body, const char *id,
			       const struct journal_in *jq, const struct journal_in *jl,
			       struct smtp_outcome *o)
{
	memset(o, 0, sizeof *o);
	/* Sieve first (docs/sieve.md "At delivery"): reject/ereject must be
	 * known before anything is queued or stored. */
	struct sieve_plan *plan =
	    r->nusers ? sieve_plan_make(st, cfg, from, r->users, (const char *const *)r->rcpt,
					r->nusers, hdr_local, hlen_local, body, id)
		      : NULL;
	for (size_t i = 0; plan && i < r->nusers; i++)
		if (sieve_plan_reject(plan, i) && o->rejected++ == 0)
			str_copy(o->reject, sieve_plan_reject(plan, i), sizeof o->reject);
	if (o->rejected && o->rejected == r->nusers && r->next == 0) {
		/* every recipient refused it: the SMTP reply says so (550 5.7.1),
		 * nothing is stored */
		sieve_plan_free(&plan);
		return ST_OK;
	}
	int rc0 = smtp_commit_sieve(st, cfg, from, r, mbox, hdr_local, hlen_local, hdr_queue,
				    hlen_queue, body, id, jq, jl, o, plan);
	if (rc0 == ST_OK && o->rejected)
		bounce_rejected(st, cfg, from, r, plan, hdr_queue, hlen_queue, body, id, o);
	sieve_plan_free(&plan);
	return rc0;
}

static int smtp_commit_sieve(struct store *st, const struct config *cfg, const char *from,
			     const struct smtp_rcptset *r, const char *mbox, const char *hdr_local,
			     size_t hlen_local, const char *hdr_queue, size_t hlen_queue,
			     struct spool *body, const char *id, const struct journal_in *jq,
			     const struct journal_in *jl, struct smtp_outcome *o,
			     struct sieve_plan *plan)
{
	/* Remote first: if queueing fails nothing was stored and the client
	 * may retry without anyone getting a copy twice. */
	if (r->next > 0) {
		struct msg_in m = {
		    .hdr = hdr_queue, .hdrlen = hlen_queue, .body = body, .journal = jq};
		int rc = queue_remote(st, cfg, from, r, &m, id, o);
		if (rc != ST_OK) {
			log_warn("smtp id=%s queueing failed: %s", id, store_strerror(rc));
			return rc;
		}
	}
	if (r->nusers > 0 && sieve_plan_redirect(plan) != ST_OK) {
		log_warn("smtp id=%s a Sieve redirect could not be queued%s", id,
			 o->queued ? " (remote part already queued)" : "");
		return ST_TEMP;
	}
	if (r->nusers > 0) {
		/* editheader: those users' copies are other bytes, stored by a
		 * commit of their own below (they get nothing in the shared one) */
		struct deliver_place *shared = NULL;
		const struct deliver_place *pl = sieve_plan_place(plan);
		for (size_t i = 0; i < r->nusers; i++) {
			const char *e;
			size_t el;
			if (!sieve_plan_edited(plan, i, &e, &el))
				continue;
			if (!shared) {
				shared = xcalloc(r->nusers, sizeof *shared);
				memcpy(shared, pl, r->nusers * sizeof *shared);
			}
			shared[i].n = 0;
		}
		struct msg_in m = {.hdr = hdr_local,
				   .hdrlen = hlen_local,
				   .body = body,
				   .journal = jl,
				   .junk = r->junk,
				   .place = shared ? shared : pl};
		int *rcs = xcalloc(r->nusers, sizeof *rcs);
		int rc = store_deliver(st, r->users, r->nusers, mbox, &m, rcs, NULL);
		for (size_t i = 0; rc == ST_OK && shared && i < r->nusers; i++) {
			const char *e;
			size_t el;
			struct journal_in j2 = {jl ? jl->id : NULL, NULL};
			if (!sieve_plan_edited(plan, i, &e, &el))
				continue;
			struct msg_in me = {.hdr = e,
					    .hdrlen = el,
					    .journal = jl ? &j2 : NULL,
					    .junk = r->junk ? &r->junk[i] : NULL,
					    .place = &pl[i]};
			rc = store_deliver(st, &r->users[i], 1, mbox, &me, &rcs[i], NULL);
		}
		free(shared);
		if (rc == ST_OK && mbox)
			rc = redeliver_inbox(st, r, &m, rcs);
		if (rc != ST_OK) {
			free(rcs);
			log_warn("smtp id=%s delivery failed: %s%s", id, store_strerror(rc),
				 o->queued ? " (remote part already queued)" : "");
			return rc;
		}
		sieve_plan_after(plan, rcs);
		for (size_t i = 0; i < r->nusers; i++) {
			if (sieve_plan_reject(plan, i))
				continue; /* stored nothing; counted in o->rejected */
			switch (rcs[i]) {
			case ST_OK:
				o->delivered++;
				break;
			case ST_QUOTA:
				o->quota++;
				break;
			case ST_TOOBIG:
				o->toobig++;
				break;
			default:
				o->gone++;
				break;
			}
		}
		if (o->delivered < r->nusers)
			refused(st, cfg, from, r, rcs, hdr_queue, hlen_queue, body, id, o);
		free(rcs);
	}
	return ST_OK;
}
