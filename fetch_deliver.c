/*
 * fetch_deliver.c — a message that a continuous source (`brev fetch add
 * ... --every`) finds in the old server's INBOX arrives like mail over
 * SMTP (docs/migrate.md): through the spam filter (spam_verdict.c) and the
 * account's Sieve script, stored by smtp_commit with its own commit, so a
 * user who keeps the old provider as a fallback gets its mail filed the
 * same way. A one-shot migration (a source without --every) and the other
 * folders keep their flags and dates through import.c's sink instead.
 *
 * What differs from SMTP: nobody waits for a reply, so a message every
 * recipient would refuse as spam goes to Junk, and one the script rejects
 * is not stored and logged (the old server accepted it long ago; there is
 * no one to answer 550 to). The envelope sender is the message's
 * Return-Path, which the old server wrote, else none.
 */
#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "mailbox.h"
#include "smtp.h"
#include "spam_verdict.h"
#include "spool.h"
#include "util.h"

/* The address in the message's first Return-Path field, or "". */
static void return_path(struct spool *sp, char *out, size_t cap)
{
	char head[8192];
	long n = spool_read_at(sp, 0, head, sizeof head - 1);
	out[0] = '\0';
	if (n <= 0)
		return;
	head[n] = '\0';
	for (char *l = head; l && *l && *l != '\r' && *l != '\n';) {
		if (!str_ncasecmp_ascii(l, "Return-Path:", 12)) {
			char *lt = strchr(l, '<'), *gt = lt ? strchr(lt, '>') : NULL;
			char *eol = strchr(l, '\n');
			if (lt && gt && (!eol || gt < eol) && (size_t)(gt - lt - 1) < cap &&
			    memchr(lt, '@', (size_t)(gt - lt)) && !memchr(lt, ' ', (size_t)(gt - lt))) {
				memcpy(out, lt + 1, (size_t)(gt - lt - 1));
				out[gt - lt - 1] = '\0';
			}
			return;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
}

int fetch_deliver(const struct fetch_dl *dl, struct spool *sp, char *err, size_t errlen)
{
	char id[17], from[256], date[64];
	struct smtp_rcptset set = {0};
	struct smtp_outcome o;
	struct spam_verdict v;
	struct sbuf hdr = {0};
	time_t now = time(NULL);
	struct tm tm;
	smtp_make_id(id);
	return_path(sp, from, sizeof from);
	struct spam_verdict_in in = {dl->st, dl->cfg, &dl->user, 1, 0, from, "fetch", id, NULL, NULL};
	spam_verdict(&in, sp, &v);
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sbuf_printf(&hdr, "Return-Path: <%s>\r\n", from);
	size_t rp = hdr.len;
	sbuf_printf(&hdr, "Received: from %s\r\n\tby %s with %s (brev fetch) id %s\r\n\tfor <%s>; %s\r\n",
		    dl->host, dl->cfg->hostname[0] ? dl->cfg->hostname : "localhost",
		    dl->pop3 ? "POP3" : "IMAP", id, dl->addr, date);
	if (v.fields)
		sbuf_puts(&hdr, v.fields);
	unsigned char junk = v.reject || (v.junk && v.junk[0]);
	smtp_rcptset_add_user_as(&set, dl->user, dl->addr);
	set.junk = junk ? &junk : NULL;
	char via[300];
	snprintf(via, sizeof via, "fetch=%.200s", dl->host);
	int rc = smtp_commit(dl->st, dl->cfg, from, &set, hdr.p, hdr.len, hdr.p + rp, hdr.len - rp, sp,
			     id, via, &o);
	set.junk = NULL;
	smtp_rcptset_free(&set);
	sbuf_free(&hdr);
	spam_verdict_free(&v);
	if (rc != ST_OK) {
		snprintf(err, errlen, "storing failed: %s", store_strerror(rc));
		return -1;
	}
	if (o.rejected) {
		log_info("fetch id=%s from=<%s> to=<%s>: rejected by the account's Sieve script (%s); "
			 "not stored",
			 id, from, dl->addr, o.reject);
		return 0;
	}
	if (o.quota || o.toobig || o.gone) {
		snprintf(err, errlen, "%s refused the message (%s)", dl->addr,
			 o.gone ? "no such account" : "over quota");
		return -1;
	}
	log_info("fetch id=%s from=<%s> to=<%s> host=%s delivered%s", id, from, dl->addr, dl->host,
		 junk ? " (Junk)" : "");
	return 0;
}
