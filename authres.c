/*
 * authres.c — where mail authentication meets the SMTP server and `brev
 * sendmail`. For a message arriving on port 25: SPF for the MAIL FROM
 * domain (the HELO name for <>), every DKIM signature, DMARC for the From
 * domain; one Authentication-Results field (RFC 8601) naming this host,
 * after removing any that arrived claiming to come from it (RFC 8601 5);
 * and the action the DMARC policy asks for. For submitted mail: Date and
 * Message-ID when the client left them out (RFC 6409 8.2, 8.3), then the
 * DKIM signatures of the From domain.
 *
 * The checks themselves are spf.c, dkim.c and dmarc.c; this file decides
 * what the verdicts mean: only a DMARC fail with p=reject (and
 * auth.dmarc_reject) refuses a message, p=quarantine files it into Junk,
 * and everything else is recorded for the spam filter that comes later.
 */
#include "authres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim.h"
#include "dmarc.h"
#include "log.h"
#include "smtp.h"
#include "spf.h"
#include "spool.h"
#include "util.h"

/* ---- the Authentication-Results field ---- */


/* Text safe inside an RFC 5322 comment: printable ASCII without
 * parentheses or backslash; bounded. */
static void comment_text(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 1 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c >= 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\')
			out[o++] = (char)c;
	}
	out[o] = 0;
}

/* A property value (RFC 8601 2.2 pvalue): an address or domain made only of
 * characters that need no quoting, else just the domain. */
static void pvalue(const char *addr, char *out, size_t cap)
{
	static const char ok[] = "!#$%&'*+-/=?^_`{|}~.@";
	const char *p = addr;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(ok, *p)))
			break;
	if (!*p && *addr) {
		str_copy(out, addr, cap);
		return;
	}
	const char *at = strrchr(addr, '@');
	str_copy(out, at ? at + 1 : "unknown", cap);
}

int authres_claims(const char *v, size_t n, const char *host)
{
	size_t i = 0, hl = strlen(host);
	int depth = 0;
	/* leading CFWS */
	for (; i < n; i++) {
		char c = v[i];
		if (depth) {
			if (c == '\\')
				i++;
			else
				depth += c == '(' ? 1 : c == ')' ? -1 : 0;
		} else if (c == '(')
			depth = 1;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
	}
	/* 2.2: authserv-id = value, a token or a quoted-string; a reader
	 * takes "mx.example" as mx.example, so the quotes must not hide it */
	if (i < n && v[i] == '"') {
		char id[256];
		size_t k = 0;
		for (i++; i < n && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < n)
				i++;
			if (k + 1 >= sizeof id)
				return 0; /* longer than any host name */
			id[k++] = v[i];
		}
		return i < n && k == hl && hl > 0 && str_ncasecmp_ascii(id, host, hl) == 0;
	}
	size_t s = i;
	while (i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '(')
		i++;
	return i - s == hl && hl > 0 && str_ncasecmp_ascii(v + s, host, hl) == 0;
}

/* The one From field's domain; -1 when there is not exactly one. */
static int from_domain(const struct dkim_msg *m, char *out, size_t cap)
{
	int found = 0;
	char v[1024];
	for (size_t i = 0; i < m->nf; i++) {
		if (!dkim_field_is(m, i, "From"))
			continue;
		if (found++)
			return -1;
		dkim_field_value(m, i, v, sizeof v);
	}
	return found == 1 ? dmarc_from_domain(v, out, cap) : -1;
}

/* Reading the header section field by field straight from the spool, with
 * no bound on the number or size of fields: removal must not depend on the
 * header fitting the DKIM reader's limits (a forger would pad past them). */
#define AR_PEEK 4096 /* bytes of a field kept to judge it */
struct hreader {
	struct spool *sp;
	uint64_t off; /* spool offset of buf[0] */
	char buf[8192];
	size_t len, pos;
};

static int hr_byte(struct hreader *r)
{
	if (r->pos == r->len) {
		r->off += r->len;
		long got = spool_read_at(r->sp, r->off, r->buf, sizeof r->buf);
		r->len = got > 0 ? (size_t)got : 0;
		r->pos = 0;
		if (!r->len)
			return -1;
	}
	return (unsigned char)r->buf[r->pos++];
}

static int hr_peek(struct hreader *r)
{
	int c = hr_byte(r);
	if (c >= 0)
		r->pos--;
	return c;
}

/* The next field: its start and length, its first AR_PEEK bytes in f
 * (*kept of them). 0 at the empty line or the end of the message. */
static int hr_field(struct hreader *r, uint64_t *start, uint64_t *len, char *f, size_t *kept)
{
	int c = hr_peek(r);
	*start = r->off + r->pos;
	*kept = 0;
	if (c < 0 || c == '\r' || c == '\n')
		return 0;
	uint64_t n = 0;
	for (;;) {
		while ((c = hr_byte(r)) >= 0) {
			if (*kept < AR_PEEK)
				f[(*kept)++] = (char)c;
			n++;
			if (c == '\n')
				break;
		}
		c = hr_peek(r);
		if (c != ' ' && c != '\t')
			break; /* a field goes on over folded lines (RFC 5322 2.2.3) */
	}
	*len = n;
	return 1;
}

/* Whether a field, of which f holds the first kept of len bytes, is an
 * A-R field to remove: one claiming host, or one too long to read, which
 * RFC 8601 5 allows removing too. */
static int forged(const char *f, size_t kept, uint64_t len, const char *host)
{
	static const char name[] = "Authentication-Results";
	size_t nl = sizeof name - 1, i = nl;
	if (kept < nl || str_ncasecmp_ascii(f, name, nl) != 0)
		return 0;
	while (i < kept && (f[i] == ' ' || f[i] == '\t'))
		i++;
	if (i >= kept || f[i] != ':')
		return 0;
	return len > kept || authres_claims(f + i + 1, kept - i - 1, host);
}

/* Append n bytes of src from off to out; -1 on a read or write error. */
static int copy_range(struct spool *out, struct spool *src, uint64_t off, uint64_t n)
{
	char buf[16384];
	while (n > 0) {
		long got = spool_read_at(src, off, buf, n < sizeof buf ? (size_t)n : sizeof buf);
		if (got <= 0)
			return -1;
		spool_write(out, buf, (size_t)got);
		off += (uint64_t)got;
		n -= (uint64_t)got;
	}
	return spool_error(out) ? -1 : 0;
}

/* A copy of the message without the A-R fields that claim host; NULL when
 * there are none, and on a spool error (the spool then fails the commit
 * too). */
static struct spool *strip_ours(struct spool *sp, const char *host)
{
	struct hreader r = {.sp = sp};
	char *f = xmalloc(AR_PEEK);
	uint64_t start, len, copied = 0;
	size_t kept;
	struct spool *out = NULL;
	int bad = 0;
	while (!bad && hr_field(&r, &start, &len, f, &kept)) {
		if (!forged(f, kept, len, host))
			continue;
		if (!out)
			out = spool_new(SPOOL_MEM_DEFAULT);
		char v[120];
		size_t vl = kept < sizeof v ? kept : sizeof v - 1;
		memcpy(v, f, vl);
		v[vl] = 0;
		v[strcspn(v, "\r\n")] = 0;
		log_info("authres: removed a forged Authentication-Results field: %s", v);
		bad = copy_range(out, sp, copied, start - copied) < 0;
		copied = start + len;
	}
	free(f);
	if (out && (bad || copy_range(out, sp, copied, spool_size(sp) - copied) < 0))
		spool_free(&out);
	return out;
}

static void ar_spf(struct sbuf *b, const struct authres_in *in, int res, const char *why)
{
	char c[160], pv[300];
	comment_text(why, c, sizeof c);
	sbuf_printf(b, ";\r\n\tspf=%s", spf_res_name(res));
	if (c[0])
		sbuf_printf(b, " (%s)", c);
	if (in->mail_from[0]) {
		pvalue(in->mail_from, pv, sizeof pv);
		sbuf_printf(b, " smtp.mailfrom=%s", pv);
	} else {
		pvalue(in->helo[0] ? in->helo : "unknown", pv, sizeof pv);
		sbuf_printf(b, " smtp.helo=%s", pv);
	}
}

static void ar_dkim(struct sbuf *b, const struct dkim_result *r, size_t n, int loaded)
{
	char c[160];
	if (n == 0) {
		sbuf_printf(b, ";\r\n\tdkim=%s", loaded ? "none" : "permerror (header too large)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		comment_text(r[i].why, c, sizeof c);
		sbuf_printf(b, ";\r\n\tdkim=%s", dkim_res_name(r[i].res));
		if (c[0])
			sbuf_printf(b, " (%s)", c);
		if (r[i].d[0])
			sbuf_printf(b, " header.d=%s", r[i].d);
		if (r[i].s[0])
			sbuf_printf(b, " header.s=%s", r[i].s);
		if (r[i].res == DKIM_PASS || r[i].res == DKIM_FAIL)
			sbuf_printf(b, " header.a=%s",
				  r[i].alg == DKIM_ED25519_SHA256 ? "ed25519-sha256"
								  : "rsa-sha256");
		/* RFC 6008: the start of b= tells several signatures apart */
		if (r[i].b[0])
			sbuf_printf(b, " header.b=\"%s\"", r[i].b);
	}
}

static int decide(const struct authres_in *in, const struct dmarc_result *d)
{
	if (d->res != DMARC_FAIL)
		return AUTHRES_ACCEPT;
	if (d->applied == DMARC_P_REJECT)
		return in->dmarc_reject ? AUTHRES_REJECT : AUTHRES_JUNK;
	return d->applied == DMARC_P_QUARANTINE ? AUTHRES_JUNK : AUTHRES_ACCEPT;
}

void authres_inbound(const struct authres_in *in, struct authres_out *out)
{
	struct dkim_msg m;
	struct dkim_result dk[DKIM_SIGS_MAX];
	struct dmarc_result dm = {0};
	struct sbuf b = {0};
	char spf_why[256] = "", from[256], spf_dom[SMTP_DOMAIN_MAX + 1], sender[600];
	size_t ndk = 0;
	memset(out, 0, sizeof *out);
	/* The machine's own address is this host talking to itself (cron,
	 * scripts, a local MUA): nothing to authenticate, as OpenDKIM's and
	 * OpenDMARC's default of ignoring 127.0.0.1. Other loopback addresses
	 * (127.0.0.2 ...) are checked like any peer. */
	if (strcmp(in->ip, "127.0.0.1") == 0 || strcmp(in->ip, "::1") == 0 ||
	    strcmp(in->ip, "::ffff:127.0.0.1") == 0) {
		sbuf_printf(&b, "Authentication-Results: %s; none (local client)\r\n", in->hostname);
		out->field = b.p;
		str_copy(out->summary, "auth=local", sizeof out->summary);
		out->stripped = strip_ours(in->sp, in->hostname);
		return;
	}
	int loaded = dkim_msg_load(&m, NULL, 0, in->sp) == 0;

	/* SPF (RFC 7208 2.4): MAIL FROM, or the HELO identity for <> */
	const char *at = strrchr(in->mail_from, '@');
	if (in->mail_from[0] && at) {
		str_copy(spf_dom, at + 1, sizeof spf_dom);
		str_copy(sender, in->mail_from, sizeof sender);
	} else {
		str_copy(spf_dom, in->helo, sizeof spf_dom);
		snprintf(sender, sizeof sender, "postmaster@%s", spf_dom);
	}
	int spf = spf_dom[0] && spf_dom[0] != '['
		      ? spf_check(in->ip, spf_dom, sender, in->helo, spf_why, sizeof spf_why)
		      : SPF_NONE;

	if (loaded)
		ndk = dkim_verify(&m, dk, DKIM_SIGS_MAX, dkim_txt_dns, NULL, time(NULL));
	if (loaded && from_domain(&m, from, sizeof from) == 0)
		dmarc_check(from, spf, spf_dom, dk, ndk, &dm);
	else
		dm.res = DMARC_PERMERROR;

	sbuf_printf(&b, "Authentication-Results: %s", in->hostname);
	ar_spf(&b, in, spf, spf_why);
	ar_dkim(&b, dk, ndk, loaded);
	sbuf_printf(&b, ";\r\n\tdmarc=%s", dmarc_res_name(dm.res));
	if (dm.res == DMARC_PASS || dm.res == DMARC_FAIL)
		sbuf_printf(&b, " (p=%s)", dmarc_policy_name(dm.policy));
	else if (dm.res == DMARC_PERMERROR)
		sbuf_printf(&b, loaded ? " (not exactly one From address)" : " (header too large)");
	if (dm.from[0])
		sbuf_printf(&b, " header.from=%s", dm.from);
	sbuf_add(&b, "\r\n", 2);
	out->field = b.p;
	/* A header too large to read cannot show what its From domain asks
	 * for; padding one must not dodge a p=reject: Junk. */
	out->action = loaded ? decide(in, &dm) : AUTHRES_JUNK;
	int best = ndk ? dk[0].res : DKIM_NONE;
	for (size_t i = 0; i < ndk; i++)
		if (dk[i].res == DKIM_PASS)
			best = DKIM_PASS;
	snprintf(out->summary, sizeof out->summary, "spf=%s dkim=%s dmarc=%s%s", spf_res_name(spf),
		 dkim_res_name(best), dmarc_res_name(dm.res),
		 out->action == AUTHRES_REJECT ? " action=reject"
		 : out->action == AUTHRES_JUNK ? " action=junk"
					       : "");
	out->stripped = strip_ours(in->sp, in->hostname);
	if (loaded)
		dkim_msg_free(&m);
}

void authres_out_free(struct authres_out *out)
{
	free(out->field);
	out->field = NULL;
	spool_free(&out->stripped);
}

/* ---- submission ---- */

static int has_field(const struct dkim_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nf; i++)
		if (dkim_field_is(m, i, name))
			return 1;
	return 0;
}

char *authres_submission(const char *datadir, const char *hostname, const char *mail_from,
			 const char *id, const char *pre, size_t prelen, struct spool *sp,
			 int add_missing)
{
	struct dkim_msg m;
	struct sbuf extra = {0}, all = {0};
	char dom[256];
	sbuf_add(&extra, "", 0);
	sbuf_add(&all, "", 0);
	if (dkim_msg_load(&m, pre, prelen, sp) < 0) {
		log_warn("submission id=%s: header too large to sign", id);
		free(extra.p);
		return all.p;
	}
	if (add_missing) {
		char date[64];
		if (!has_field(&m, "Date")) {
			smtp_date(date, sizeof date, time(NULL));
			sbuf_printf(&extra, "Date: %s\r\n", date);
		}
		if (!has_field(&m, "Message-ID"))
			sbuf_printf(&extra, "Message-ID: <%s@%s>\r\n", id, hostname);
	}
	if (extra.len) {
		/* sign what will be sent: the added fields, then pre + sp */
		sbuf_add(&extra, pre ? pre : "", pre ? prelen : 0);
		dkim_msg_free(&m);
		if (dkim_msg_load(&m, extra.p, extra.len, sp) < 0) {
			free(extra.p);
			return all.p;
		}
		extra.len -= pre ? prelen : 0;
		extra.p[extra.len] = 0;
	}
	/* The From domain signs (that is what DMARC aligns with); else the
	 * envelope sender's domain, when it has a key. */
	char sel[80];
	const char *at = strrchr(mail_from, '@');
	if (from_domain(&m, dom, sizeof dom) < 0 || dkim_keys_active(datadir, dom, sel, sizeof sel))
		str_copy(dom, at ? at + 1 : "", sizeof dom);
	char *sig = dom[0] ? dkim_sign_domain(datadir, &m, dom, time(NULL)) : NULL;
	if (sig)
		sbuf_add(&all, sig, strlen(sig));
	else
		log_debug("submission id=%s: not signed (no DKIM key for %s)", id,
			  dom[0] ? dom : "the sender");
	sbuf_add(&all, extra.p, extra.len);
	free(sig);
	free(extra.p);
	dkim_msg_free(&m);
	return all.p;
}
