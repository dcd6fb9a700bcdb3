/*
 * queue_dsn.c — delivery status notifications (RFC 3464) for the outbound
 * queue: a bounce when a recipient failed for good, a delay notice when a
 * message has waited for hours. A DSN is multipart/report (RFC 6522) with
 * three parts: words a person can read (what happened, what the remote
 * server said), the machine-readable message/delivery-status, and the
 * original message's header (text/rfc822-headers: the bytes of the body
 * are not sent back, they may be large and the sender has them).
 *
 * A DSN is sent with the null reverse-path (RFC 5321 4.5.5), so a DSN that
 * cannot be delivered is never answered by another (dsn_send refuses the
 * null sender). A local sender gets it in INBOX at once; a remote one (mail
 * forwarded by an alias) through the queue.
 *
 * Every DSN is DKIM-signed (issue 9, docs/auth-mail.md) through the same
 * helper as submitted mail, with the key of a local domain chosen by
 * dsn_key_domain: the From address is MAILER-DAEMON@hostname, and a key of
 * the domain the host name lies in aligns with it under DMARC's relaxed
 * rule (RFC 7489 3.1.1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authres.h"
#include "config.h"
#include "journal.h"
#include "log.h"
#include "mailbox.h"
#include "queue.h"
#include "smtp.h"
#include "spool.h"
#include "srs.h"
#include "util.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* A string literal, its length counted by the compiler (a hand-counted
 * length once put a NUL byte into every DSN). */
#define BUF_LIT(b, lit) buf_add((b), "" lit, sizeof(lit) - 1)

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Text that goes into a header field or a DSN field: printable ASCII
 * only, so a hostile reply cannot inject fields or lines. */
static void clean(char *out, size_t cap, const char *in)
{
	size_t j = 0;
	for (size_t i = 0; in && in[i] && j + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[j] = 0;
}

void dsn_duration(int64_t secs, char *out, size_t cap)
{
	/* The two largest units that are not zero, truncated to the minute
	 * past a minute: "1 hour", "2 days and 3 hours", "45 seconds". */
	static const struct {
		int64_t len;
		const char *name;
	} unit[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	size_t used = 0;
	int parts = 0;
	if (secs < 0)
		secs = 0;
	if (secs >= 60)
		secs -= secs % 60;
	out[0] = 0;
	for (size_t i = 0; i < ARRAY_LEN(unit) && parts < 2; i++) {
		int64_t n = secs / unit[i].len;
		if (!n) {
			if (parts)
				break; /* "1 day and 5 minutes" reads as more exact than it is */
			continue;
		}
		secs -= n * unit[i].len;
		int w = snprintf(out + used, cap - used, "%s%lld %s%s", parts ? " and " : "",
				 (long long)n, unit[i].name, n == 1 ? "" : "s");
		if (w < 0 || (size_t)w >= cap - used)
			break;
		used += (size_t)w;
		parts++;
	}
	if (!parts)
		str_copy(out, "0 seconds", cap);
}

static void human_part(struct buf *b, const struct dsn *d)
{
	char who[STORE_ADDR_MAX + 1], txt[1024];
	buf_printf(b, "This is the mail system at %s.\r\n\r\n", d->reporting_mta);
	if (d->action == DSN_FAILED) {
		buf_printf(b,
			   "Your message could not be delivered to %s. It was not sent "
			   "and will not be tried again.\r\n\r\n",
			   d->nrcpts == 1 ? "this recipient" : "these recipients");
	} else {
		char until[64], waited[64];
		smtp_date(until, sizeof until, (time_t)d->retry_until);
		dsn_duration((int64_t)time(NULL) - d->arrival, waited, sizeof waited);
		buf_printf(b,
			   "Your message has not been delivered yet to %s after %s of "
			   "trying. Nothing needs to be done: it stays in the queue and "
			   "will be tried again until %s. You will get another message "
			   "only if it fails for good.\r\n\r\n",
			   d->nrcpts == 1 ? "this recipient" : "these recipients", waited, until);
	}
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		clean(who, sizeof who, r->addr);
		clean(txt, sizeof txt, r->why);
		buf_printf(b, "<%s>:\r\n    %s\r\n", who, txt);
		if (r->diag) {
			clean(txt, sizeof txt, r->diag);
			buf_printf(b, "    The server %s answered: %s\r\n",
				   r->remote_mta ? r->remote_mta : "(unknown)", txt);
		}
		BUF_LIT(b, "\r\n");
	}
	BUF_LIT(b, "The header of your message is attached below.\r\n");
}

static void status_part(struct buf *b, const struct dsn *d)
{
	char date[64], v[1024];
	smtp_date(date, sizeof date, (time_t)d->arrival);
	buf_printf(b, "Reporting-MTA: dns; %s\r\n", d->reporting_mta);
	buf_printf(b, "Arrival-Date: %s\r\n", date);
	smtp_date(date, sizeof date, time(NULL));
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];
		BUF_LIT(b, "\r\n");
		clean(v, sizeof v, r->addr);
		buf_printf(b, "Final-Recipient: rfc822; %s\r\n", v);
		buf_printf(b, "Action: %s\r\n", d->action == DSN_FAILED ? "failed" : "delayed");
		clean(v, sizeof v, r->status);
		buf_printf(b, "Status: %s\r\n", v);
		if (r->remote_mta) {
			clean(v, sizeof v, r->remote_mta);
			buf_printf(b, "Remote-MTA: dns; %s\r\n", v);
		}
		if (r->diag) {
			clean(v, sizeof v, r->diag);
			buf_printf(b, "Diagnostic-Code: smtp; %s\r\n", v);
		}
		buf_printf(b, "Last-Attempt-Date: %s\r\n", date);
		if (d->action == DSN_DELAYED) {
			char until[64];
			smtp_date(until, sizeof until, (time_t)d->retry_until);
			buf_printf(b, "Will-Retry-Until: %s\r\n", until);
		}
	}
}

/* The original header, with bare LFs made CRLF and without its final
 * empty line. */
static void headers_part(struct buf *b, const struct dsn *d)
{
	const char *h = d->orig_headers;
	size_t n = d->orig_hlen;
	if (!h || !n) {
		BUF_LIT(b, "\r\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r'))
			BUF_LIT(b, "\r");
		buf_add(b, h + i, 1);
	}
	if (h[n - 1] != '\n')
		BUF_LIT(b, "\r\n");
}

char *dsn_render(const struct dsn *d, size_t *len)
{
	struct buf b = {0};
	char date[64], id[17], bnd[17], to[STORE_ADDR_MAX + 1], oid[JOURNAL_ID_MAX + 1];
	clean(oid, sizeof oid, d->orig_id ? d->orig_id : "");
	smtp_date(date, sizeof date, time(NULL));
	smtp_make_id(id);
	smtp_make_id(bnd);
	clean(to, sizeof to, d->orig_from);
	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->reporting_mta);
	buf_printf(&b, "To: <%s>\r\n", to);
	buf_printf(&b, "Subject: %s\r\n",
		   d->action == DSN_FAILED ? "Undelivered Mail Returned to Sender"
					   : "Delayed Mail (still being retried)");
	buf_printf(&b, "Date: %s\r\n", date);
	buf_printf(&b, "Message-ID: <%s.dsn@%s>\r\n", id, d->reporting_mta);
	/* the original's tracking id (journal.h), so a bounce leads to its log */
	if (oid[0])
		buf_printf(&b, "X-Brev-Original-Id: %s\r\n", oid);
	/* RFC 3834 5: automatic responses say so, and nobody answers them. */
	BUF_LIT(&b, "Auto-Submitted: auto-replied\r\n");
	BUF_LIT(&b, "MIME-Version: 1.0\r\n");
	buf_printf(&b,
		   "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		   "\tboundary=\"%s/%s\"\r\n\r\n",
		   bnd, d->reporting_mta);
	BUF_LIT(&b, "This is a MIME-encapsulated message.\r\n\r\n");
	buf_printf(&b, "--%s/%s\r\n", bnd, d->reporting_mta);
	BUF_LIT(&b, "Content-Description: Notification\r\n");
	BUF_LIT(&b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	human_part(&b, d);
	if (oid[0])
		buf_printf(&b, "\r\nThe message's id at %s is %s (`brev log %s` there shows its\r\n"
			   "history).\r\n", d->reporting_mta, oid, oid);
	buf_printf(&b, "\r\n--%s/%s\r\n", bnd, d->reporting_mta);
	BUF_LIT(&b, "Content-Description: Delivery report\r\n");
	BUF_LIT(&b, "Content-Type: message/delivery-status\r\n\r\n");
	status_part(&b, d);
	buf_printf(&b, "\r\n--%s/%s\r\n", bnd, d->reporting_mta);
	BUF_LIT(&b, "Content-Description: Undelivered Message Headers\r\n");
	BUF_LIT(&b, "Content-Type: text/rfc822-headers\r\n\r\n");
	headers_part(&b, d);
	buf_printf(&b, "\r\n--%s/%s--\r\n", bnd, d->reporting_mta);
	*len = b.len;
	return b.p;
}

char *dsn_orig_headers(struct store *st, uint64_t blob, size_t max, size_t *len)
{
	char *h = xmalloc(max + 1);
	size_t n = 0;
	while (n < max) {
		long got = store_msg_read(st, blob, n, h + n, max - n < 8192 ? max - n : 8192);
		if (got < 0) {
			free(h);
			return NULL;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	h[n] = 0;
	/* Up to and including the empty line that ends the header. */
	for (size_t i = 0; i < n; i++) {
		if (h[i] != '\n')
			continue;
		if (i + 1 < n && h[i + 1] == '\n') {
			n = i + 1;
			break;
		}
		if (i + 2 < n && h[i + 1] == '\r' && h[i + 2] == '\n') {
			n = i + 1;
			break;
		}
	}
	/* Cut a header longer than max at its last complete line. */
	if (n == max) {
		while (n > 0 && h[n - 1] != '\n')
			n--;
	}
	h[n] = 0;
	*len = n;
	return h;
}

static int domain_of(const char *addr, const struct config *cfg)
{
	const char *at = strrchr(addr, '@');
	return at && config_domain_is_local(cfg, at + 1);
}

void dsn_key_domain(const struct config *cfg, const char *mta, const char *orig_from, char *out,
		    size_t cap)
{
	const char *at = orig_from ? strrchr(orig_from, '@') : NULL;
	/* the host name itself, or the nearest local domain above it */
	for (const char *p = mta; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
		if (config_domain_is_local(cfg, p)) {
			str_copy(out, p, cap);
			str_lower(out);
			return;
		}
	}
	if (at && config_domain_is_local(cfg, at + 1)) {
		str_copy(out, at + 1, cap);
		str_lower(out);
		return;
	}
	smtp_first_domain(cfg->domains, out, cap);
}

/* The DKIM-Signature fields for text (a whole rendered DSN), malloc'ed,
 * "" when there is no key. */
static char *dsn_sign(const struct config *cfg, const struct dsn *d, const char *text, size_t len)
{
	char dom[256], signer[300], id[17];
	struct spool *sp = spool_new(len + 1);
	char *sig;
	dsn_key_domain(cfg, d->reporting_mta, d->orig_from, dom, sizeof dom);
	/* authres_submission signs for the From domain (the host name) when
	 * it has a key, else for the domain of this "sender" */
	snprintf(signer, sizeof signer, "MAILER-DAEMON@%s", dom);
	smtp_make_id(id);
	if (spool_write(sp, text, len) < 0 || spool_error(sp)) {
		spool_free(&sp);
		return xstrdup("");
	}
	sig = authres_submission(cfg->datadir, d->reporting_mta, signer, id, NULL, 0, sp, 0);
	spool_free(&sp);
	return sig;
}

int dsn_send(struct store *st, const struct config *cfg, const struct dsn *d)
{
	struct msg_in m = {0};
	size_t len, slen;
	char *text, *sig, tid[17], acc[JOURNAL_DETAIL_MAX + 1];
	struct journal_in j = {tid, acc};
	int rc;
	if (!d->orig_from || !d->orig_from[0])
		return 0; /* never bounce a bounce */
	/* the DSN is a message of its own, tracked like any other */
	smtp_make_id(tid);
	snprintf(acc, sizeof acc, "from=<> to=<%s> proto=dsn %s-of=%s", d->orig_from,
		 d->action == DSN_FAILED ? "bounce" : "delay", d->orig_id ? d->orig_id : "-");
	m.journal = &j;
	text = dsn_render(d, &len);
	/* the signature goes in front of the DSN it signs */
	sig = dsn_sign(cfg, d, text, len);
	slen = strlen(sig);
	sig = xrealloc(sig, slen + len + 1);
	memcpy(sig + slen, text, len + 1);
	free(text);
	text = sig;
	len += slen;
	m.hdr = text;
	m.hdrlen = len;
	/* Our own SRS address (a forwarded copy failed): the bounce goes on
	 * to the sender it stands for, as one arriving from outside would. */
	char srs_to[STORE_ADDR_MAX + 1];
	if (domain_of(d->orig_from, cfg) &&
	    srs_reverse(cfg->datadir, d->orig_from, srs_to, sizeof srs_to) == SRS_OK) {
		const char *to = srs_to;
		rc = store_queue_add(st, "", &to, 1, &m, NULL);
	} else if (domain_of(d->orig_from, cfg)) {
		struct resolved r;
		rc = store_resolve(st, d->orig_from, &r);
		if (rc == ST_OK && r.nusers) {
			int *rcs = xcalloc(r.nusers, sizeof *rcs);
			rc = store_deliver(st, r.users, r.nusers, "INBOX", &m, rcs, NULL);
			for (size_t i = 0; rc == ST_OK && i < r.nusers; i++)
				if (rcs[i] != ST_OK)
					log_warn("queue: DSN to %s not stored for one account: %s",
						 d->orig_from, store_strerror(rcs[i]));
			free(rcs);
		} else if (rc == ST_OK || rc == ST_NOTFOUND) {
			log_warn("queue: no local account for %s: DSN dropped", d->orig_from);
			rc = ST_OK;
		}
		store_resolved_free(&r);
	} else {
		const char *to = d->orig_from;
		rc = store_queue_add(st, "", &to, 1, &m, NULL);
	}
	free(text);
	if (rc != ST_OK) {
		log_warn("queue: DSN to %s not stored: %s", d->orig_from, store_strerror(rc));
		return -1;
	}
	log_info("queue id=%s: %s notice for %zu recipient(s) of id=%s sent to %s", tid,
		 d->action == DSN_FAILED ? "bounce" : "delay", d->nrcpts,
		 d->orig_id ? d->orig_id : "-", d->orig_from);
	return 0;
}
