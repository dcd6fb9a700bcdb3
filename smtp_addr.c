/*
 * smtp_addr.c — the strict parsers of the SMTP server: command lines, the
 * MAIL/RCPT/BDAT arguments, reverse- and forward-paths (RFC 5321 4.1.2,
 * with RFC 6531's UTF-8 additions), EHLO names, and the AUTH policy.
 *
 * Everything here is a pure function over bytes from the network: no
 * allocation, every length checked before use, and no leniency that could
 * let an address mean one thing to this parser and another to a store
 * lookup or the next MTA. Whether an address is local, known or allowed is
 * decided by smtp.c; this file only says what it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "smtp.h"
#include "util.h"

/* ---- character classes ---- */

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 3.2.3 atext (ASCII part). */
static int is_atext(int c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 5321 4.1.2 qtextSMTP (ASCII part): %d32-33 / %d35-91 / %d93-126. */
static int is_qtext(int c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

int smtp_utf8_len(const unsigned char *s, size_t n)
{
	/* RFC 3629 4: no overlong forms, no surrogates, nothing above U+10FFFF. */
	if (n == 0)
		return 0;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	int len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)len > n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* Length of a UTF8-non-ascii sequence at s, 0 if none (ASCII or malformed). */
static int utf8_nonascii(const char *s, size_t n)
{
	if (n == 0 || (unsigned char)s[0] < 0x80)
		return 0;
	return smtp_utf8_len((const unsigned char *)s, n);
}

/* ---- domains ---- */

/* Scan a Domain at s: sub-domain *("." sub-domain), each sub-domain
 * Let-dig [Ldh-str] (RFC 5321 4.1.2) or a U-label (RFC 6531 3.3, checked
 * here only for UTF-8 well-formedness). Returns the octets it spans (it
 * stops before the first octet that cannot continue the domain), 0 if
 * there is no valid domain there. A trailing dot is not part of a Domain. */
static size_t domain_span(const char *s, size_t n, int *utf8)
{
	size_t i = 0, end = 0;
	for (;;) {
		size_t start = i;
		int last_ldh = 0; /* last octet was '-' */
		while (i < n) {
			int c = (unsigned char)s[i];
			int u = utf8_nonascii(s + i, n - i);
			if (u) {
				*utf8 = 1;
				i += (size_t)u;
				last_ldh = 0;
			} else if (is_alpha(c) || is_digit(c)) {
				i++;
				last_ldh = 0;
			} else if (c == '-' && i > start) {
				i++;
				last_ldh = 1;
			} else
				break;
		}
		if (i == start || last_ldh || i - start > SMTP_LABEL_MAX)
			return 0;
		end = i;
		if (i < n && s[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	return end;
}

int smtp_domain_ok(const char *s, size_t n, int utf8)
{
	int u = 0;
	if (n == 0 || n > SMTP_DOMAIN_MAX || domain_span(s, n, &u) != n)
		return 0;
	return utf8 || !u;
}

/* RFC 5321 4.1.3 IPv4-address-literal: Snum 3("." Snum), Snum 0..255. */
static int ipv4_ok(const char *s, size_t n)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		int v = 0, digits = 0;
		while (i < n && is_digit((unsigned char)s[i]) && digits < 3) {
			v = v * 10 + (s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return 0;
	}
	return i == n;
}

/* RFC 5321 4.1.3 IPv6-addr, all four forms, by counting groups. */
static int ipv6_ok(const char *s, size_t n)
{
	int groups = 0, dcolon = 0;
	size_t i = 0;
	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dcolon = 1;
		i = 2;
	} else if (n >= 1 && s[0] == ':')
		return 0;
	while (i < n) {
		size_t start = i;
		while (i < n && i - start < 5 && strchr("0123456789abcdefABCDEF", s[i]) && s[i])
			i++;
		if (i < n && s[i] == '.') {
			/* IPv4 tail: counts as two groups and ends the address. */
			if (!ipv4_ok(s + start, n - start))
				return 0;
			groups += 2;
			i = n;
			break;
		}
		if (i == start || i - start > 4)
			return 0;
		groups++;
		if (i == n)
			break;
		if (s[i] != ':')
			return 0;
		i++;
		if (i < n && s[i] == ':') {
			if (dcolon)
				return 0;
			dcolon = 1;
			i++;
			if (i == n)
				break;
		} else if (i == n)
			return 0; /* trailing single colon */
	}
	return dcolon ? groups <= 7 : groups == 8;
}

/* An address literal "[...]" at s: returns its length with brackets, 0 if
 * invalid. General-address-literal tags other than IPv6 are not accepted
 * (none is registered, RFC 5321 4.1.3). */
static size_t literal_span(const char *s, size_t n)
{
	if (n < 3 || s[0] != '[')
		return 0;
	size_t close = 1;
	while (close < n && close < 64 && s[close] != ']')
		close++;
	if (close >= n || s[close] != ']')
		return 0;
	const char *in = s + 1;
	size_t len = close - 1;
	if (len > 5 && str_ncasecmp_ascii(in, "IPv6:", 5) == 0) {
		if (!ipv6_ok(in + 5, len - 5))
			return 0;
	} else if (!ipv4_ok(in, len))
		return 0;
	return close + 1;
}

/* ---- local parts ---- */

/* Is s[0..n) a Dot-string (RFC 5321 4.1.2, atext widened by RFC 6531)? */
static int dot_string_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return 0;
	for (;;) {
		size_t start = i;
		while (i < n) {
			int u = utf8_nonascii(s + i, n - i);
			if (u)
				i += (size_t)u;
			else if (is_atext((unsigned char)s[i]))
				i++;
			else
				break;
		}
		if (i == start)
			return 0;
		if (i == n)
			return 1;
		if (s[i] != '.')
			return 0;
		i++;
	}
}

/* Scan a Local-part at s into the canonical form (cap octets in out).
 * Returns the octets consumed, 0 on syntax error, (size_t)-1 if too long. */
static size_t local_part(const char *s, size_t n, char *out, size_t cap, size_t *outlen,
			 unsigned *flags)
{
	size_t i = 0, o = 0;
	if (n > 0 && s[0] == '"') {
		/* Quoted-string: collect the unescaped content first. */
		char raw[SMTP_LOCAL_MAX + 1];
		size_t r = 0;
		i = 1;
		for (;;) {
			if (i >= n)
				return 0;
			int c = (unsigned char)s[i];
			int u = utf8_nonascii(s + i, n - i);
			if (c == '"')
				break;
			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= n || s[i + 1] < 32 || s[i + 1] > 126)
					return 0;
				c = (unsigned char)s[i + 1];
				i += 2;
			} else if (u) {
				if (r + (size_t)u > SMTP_LOCAL_MAX)
					return (size_t)-1;
				memcpy(raw + r, s + i, (size_t)u);
				r += (size_t)u;
				i += (size_t)u;
				*flags |= SA_UTF8;
				continue;
			} else if (is_qtext(c))
				i++;
			else
				return 0;
			if (r + 1 > SMTP_LOCAL_MAX)
				return (size_t)-1;
			raw[r++] = (char)c;
		}
		i++; /* closing quote */
		if (i > SMTP_LOCAL_MAX + 2)
			return (size_t)-1;
		if (dot_string_ok(raw, r)) {
			/* RFC 5321 4.1.2: a Quoted-string that is a Dot-string
			 * means the Dot-string; one spelling per mailbox. */
			memcpy(out, raw, r);
			o = r;
		} else {
			*flags |= SA_QUOTED;
			out[o++] = '"';
			for (size_t k = 0; k < r; k++) {
				if (o + 3 > cap)
					return (size_t)-1;
				if (raw[k] == '"' || raw[k] == '\\')
					out[o++] = '\\';
				out[o++] = raw[k];
			}
			out[o++] = '"';
		}
	} else {
		while (i < n) {
			int u = utf8_nonascii(s + i, n - i);
			if (u) {
				*flags |= SA_UTF8;
				i += (size_t)u;
			} else if (is_atext((unsigned char)s[i]) || s[i] == '.')
				i++;
			else
				break;
		}
		if (i > SMTP_LOCAL_MAX)
			return (size_t)-1;
		if (!dot_string_ok(s, i))
			return 0;
		memcpy(out, s, i);
		o = i;
	}
	*outlen = o;
	return i;
}

/* ---- paths ---- */

/* A-d-l ":" (RFC 5321 4.1.2 source route, obsolete: accepted, ignored,
 * 3.6.1 and Appendix C). Returns octets consumed, 0 on error. */
static size_t route_span(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		int u = 0;
		if (i >= n || s[i] != '@')
			return 0;
		i++;
		size_t d = domain_span(s + i, n - i, &u);
		if (d == 0)
			return 0;
		i += d;
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == ':')
			return i + 1;
		return 0;
	}
}

int smtp_path_parse(const char *s, size_t n, unsigned opts, struct smtp_addr *out, size_t *used)
{
	size_t i = 0, len = 0;
	int brackets = !(opts & SP_NO_BRACKETS), u = 0;
	memset(out, 0, sizeof *out);
	if (brackets) {
		if (n < 2 || s[0] != '<')
			return SMTP_ADDR_SYNTAX;
		i = 1;
		if (s[1] == '>') {
			if (!(opts & SP_NULL_OK))
				return SMTP_ADDR_SYNTAX;
			out->flags = SA_NULL;
			*used = 2;
			return SMTP_ADDR_OK;
		}
		if (s[1] == '@') {
			size_t r = route_span(s + 1, n - 1);
			if (r == 0)
				return SMTP_ADDR_SYNTAX;
			out->flags |= SA_ROUTE;
			i += r;
		}
		/* RFC 5321 4.1.1.3: "Postmaster" without a domain. */
		if ((opts & SP_POSTMASTER_OK) && !(out->flags & SA_ROUTE) && n - i >= 11 &&
		    str_ncasecmp_ascii(s + i, "postmaster>", 11) == 0) {
			str_copy(out->addr, "postmaster", sizeof out->addr);
			out->dom = strlen(out->addr);
			out->flags |= SA_POSTMASTER;
			*used = i + 11;
			return SMTP_ADDR_OK;
		}
	}
	size_t l = local_part(s + i, n - i, out->addr, STORE_ADDR_MAX, &len, &out->flags);
	if (l == (size_t)-1)
		return SMTP_ADDR_TOOLONG;
	if (l == 0)
		return SMTP_ADDR_SYNTAX;
	i += l;
	if (i >= n || s[i] != '@')
		return SMTP_ADDR_SYNTAX;
	i++;
	size_t d;
	if (i < n && s[i] == '[') {
		d = literal_span(s + i, n - i);
		out->flags |= SA_LITERAL;
	} else {
		d = domain_span(s + i, n - i, &u);
		if (u)
			out->flags |= SA_UTF8;
	}
	if (d == 0)
		return SMTP_ADDR_SYNTAX;
	if (d > SMTP_DOMAIN_MAX || len + 1 + d > STORE_ADDR_MAX)
		return SMTP_ADDR_TOOLONG;
	out->addr[len] = '@';
	out->dom = len + 1;
	memcpy(out->addr + out->dom, s + i, d);
	out->addr[out->dom + d] = 0;
	/* Domains compare case-insensitively (RFC 5321 2.4); keep one form.
	 * Only ASCII is folded: U-labels are left as sent. */
	for (char *p = out->addr + out->dom; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	i += d;
	if (brackets) {
		if (i >= n || s[i] != '>')
			return SMTP_ADDR_SYNTAX;
		i++;
	}
	*used = i;
	return SMTP_ADDR_OK;
}

int smtp_addr_routing_chars(const struct smtp_addr *a)
{
	/* '%' (the "percent hack"), '!' (UUCP bang paths) and a quoted '@'
	 * are how older MTAs were talked into relaying (RFC 5321 3.6.1 and
	 * Appendix C). A mailbox of ours never needs them. */
	for (size_t i = 0; i + 1 < a->dom; i++)
		if (a->addr[i] == '%' || a->addr[i] == '!' || a->addr[i] == '@')
			return 1;
	return 0;
}

/* ---- commands ---- */

static const char *const verb_names[SV_NVERBS] = {
    [SV_UNKNOWN] = "?", [SV_HELO] = "HELO",	    [SV_EHLO] = "EHLO", [SV_MAIL] = "MAIL",
    [SV_RCPT] = "RCPT", [SV_DATA] = "DATA",	    [SV_BDAT] = "BDAT", [SV_RSET] = "RSET",
    [SV_NOOP] = "NOOP", [SV_QUIT] = "QUIT",	    [SV_VRFY] = "VRFY", [SV_EXPN] = "EXPN",
    [SV_HELP] = "HELP", [SV_STARTTLS] = "STARTTLS", [SV_AUTH] = "AUTH",
};

const char *smtp_verb_name(int verb)
{
	return verb > 0 && verb < SV_NVERBS ? verb_names[verb] : "?";
}

int smtp_cmd_parse(const char *line, size_t n, struct smtp_cmd *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 32 && c != '\t') || c == 127)
			return -1;
	}
	size_t v = 0;
	while (v < n && is_alpha((unsigned char)line[v]))
		v++;
	out->verb = SV_UNKNOWN;
	out->arg = "";
	out->arglen = 0;
	if (v < n && line[v] != ' ')
		return 0; /* "MAIL:" and the like: not a verb */
	for (int k = 1; k < SV_NVERBS; k++)
		if (strlen(verb_names[k]) == v && str_ncasecmp_ascii(line, verb_names[k], v) == 0)
			out->verb = k;
	size_t a = v;
	while (a < n && line[a] == ' ')
		a++;
	size_t e = n;
	while (e > a && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	out->arg = line + a;
	out->arglen = e - a;
	return 0;
}

/* One esmtp-param (RFC 5321 4.1.2): keyword and optional value spans. */
struct param {
	const char *kw, *val;
	size_t kwlen, vallen;
};

/* Parse " param param..." after a path. Returns the count, -1 on syntax. */
static int params_parse(const char *s, size_t n, struct param *p, int max)
{
	size_t i = 0;
	int np = 0;
	while (i < n) {
		if (s[i] != ' ')
			return -1;
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		if (np == max)
			return -1;
		struct param *q = &p[np++];
		q->kw = s + i;
		if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]))
			return -1;
		while (i < n && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
				 s[i] == '-'))
			i++;
		q->kwlen = (size_t)(s + i - q->kw);
		q->val = NULL;
		q->vallen = 0;
		if (i < n && s[i] == '=') {
			i++;
			q->val = s + i;
			/* esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 adds UTF-8 */
			while (i < n) {
				unsigned char c = (unsigned char)s[i];
				int u = utf8_nonascii(s + i, n - i);
				if (u)
					i += (size_t)u;
				else if (c >= 33 && c <= 126 && c != '=')
					i++;
				else
					break;
			}
			q->vallen = (size_t)(s + i - q->val);
			if (q->vallen == 0)
				return -1;
		}
		if (i < n && s[i] != ' ')
			return -1;
	}
	return np;
}

static int kw_is(const struct param *p, const char *kw)
{
	return p->kwlen == strlen(kw) && str_ncasecmp_ascii(p->kw, kw, p->kwlen) == 0;
}

static int val_is(const struct param *p, const char *v)
{
	return p->val && p->vallen == strlen(v) && str_ncasecmp_ascii(p->val, v, p->vallen) == 0;
}

/* "FROM:" / "TO:" then optional spaces (RFC 5321 says none; common
 * clients send one, and accepting it changes no meaning). */
static size_t prefix_skip(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	if (n < k || str_ncasecmp_ascii(s, prefix, k) != 0)
		return 0;
	while (k < n && s[k] == ' ')
		k++;
	return k;
}

#define PARAMS_MAX 8

static int mail_params(struct smtp_mail *m, const struct param *p, int np, const char **err)
{
	int seen_size = 0, seen_body = 0, seen_utf8 = 0, seen_auth = 0;
	for (int k = 0; k < np; k++) {
		if (kw_is(&p[k], "SIZE")) {
			/* RFC 1870: size-value = 1*20DIGIT */
			if (seen_size++ || !p[k].val || p[k].vallen > 20)
				goto bad;
			uint64_t v = 0;
			for (size_t j = 0; j < p[k].vallen; j++) {
				int c = (unsigned char)p[k].val[j];
				if (!is_digit(c))
					goto bad;
				if (v > (UINT64_MAX - 9) / 10)
					v = UINT64_MAX;
				else
					v = v * 10 + (uint64_t)(c - '0');
			}
			m->size = v;
			m->has_size = 1;
		} else if (kw_is(&p[k], "BODY")) {
			/* RFC 6152; BINARYMIME (RFC 3030) is not offered. */
			if (seen_body++)
				goto bad;
			if (val_is(&p[k], "7BIT"))
				m->body = BODY_7BIT;
			else if (val_is(&p[k], "8BITMIME"))
				m->body = BODY_8BITMIME;
			else {
				*err = "555 5.5.4 BODY type not supported";
				return -1;
			}
		} else if (kw_is(&p[k], "SMTPUTF8")) {
			if (seen_utf8++ || p[k].val)
				goto bad;
			m->smtputf8 = 1;
		} else if (kw_is(&p[k], "AUTH")) {
			/* RFC 4954 5: the submitter's identity from a trusted
			 * relay; we trust no one this way, so it is ignored. */
			if (seen_auth++ || !p[k].val)
				goto bad;
		} else {
			*err = "555 5.5.4 Unsupported MAIL parameter";
			return -1;
		}
	}
	return 0;
bad:
	*err = "501 5.5.4 Bad MAIL parameter";
	return -1;
}

int smtp_mail_parse(const char *arg, size_t n, struct smtp_mail *m, const char **err)
{
	struct param p[PARAMS_MAX];
	size_t used = 0;
	memset(m, 0, sizeof *m);
	size_t k = prefix_skip(arg, n, "FROM:");
	if (k == 0) {
		*err = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	int rc = smtp_path_parse(arg + k, n - k, SP_NULL_OK, &m->from, &used);
	if (rc == SMTP_ADDR_TOOLONG) {
		*err = "553 5.1.7 Sender address too long";
		return -1;
	}
	if (rc != SMTP_ADDR_OK) {
		*err = "501 5.1.7 Bad sender address syntax";
		return -1;
	}
	int np = params_parse(arg + k + used, n - k - used, p, PARAMS_MAX);
	if (np < 0) {
		*err = "501 5.5.4 Bad MAIL parameters";
		return -1;
	}
	if (mail_params(m, p, np, err) < 0)
		return -1;
	if ((m->from.flags & SA_UTF8) && !m->smtputf8) {
		/* RFC 6531 3.4 */
		*err = "553 5.6.7 Non-ASCII sender address needs SMTPUTF8";
		return -1;
	}
	return 0;
}

int smtp_rcpt_parse(const char *arg, size_t n, int utf8_ok, struct smtp_addr *a, const char **err)
{
	struct param p[PARAMS_MAX];
	size_t used = 0;
	size_t k = prefix_skip(arg, n, "TO:");
	if (k == 0) {
		*err = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	int rc = smtp_path_parse(arg + k, n - k, SP_POSTMASTER_OK, a, &used);
	if (rc == SMTP_ADDR_TOOLONG) {
		*err = "553 5.1.3 Recipient address too long";
		return -1;
	}
	if (rc != SMTP_ADDR_OK) {
		*err = "501 5.1.3 Bad recipient address syntax";
		return -1;
	}
	int np = params_parse(arg + k + used, n - k - used, p, PARAMS_MAX);
	if (np < 0) {
		*err = "501 5.5.4 Bad RCPT parameters";
		return -1;
	}
	if (np > 0) {
		/* DSN (RFC 3461) is not offered, so NOTIFY/ORCPT are unknown. */
		*err = "555 5.5.4 Unsupported RCPT parameter";
		return -1;
	}
	if ((a->flags & SA_UTF8) && !utf8_ok) {
		*err = "553 5.6.7 Non-ASCII recipient address needs SMTPUTF8";
		return -1;
	}
	return 0;
}

int smtp_bdat_parse(const char *arg, size_t n, uint64_t *size, int *last)
{
	/* RFC 3030 2: bdat-cmd = "BDAT" SP chunk-size [SP end-marker] */
	size_t i = 0;
	uint64_t v = 0;
	while (i < n && is_digit((unsigned char)arg[i])) {
		if (i >= 18)
			return -1; /* beyond any size we could take */
		v = v * 10 + (uint64_t)(arg[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	*size = v;
	*last = 0;
	if (i == n)
		return 0;
	if (arg[i] != ' ')
		return -1;
	while (i < n && arg[i] == ' ')
		i++;
	if (n - i == 4 && str_ncasecmp_ascii(arg + i, "LAST", 4) == 0) {
		*last = 1;
		return 0;
	}
	return -1;
}

int smtp_helo_ok(const char *s, size_t n)
{
	if (n == 0 || n > SMTP_HELO_MAX)
		return 0;
	if (s[0] == '[')
		return literal_span(s, n) == n;
	/* Not only a Domain: clients announce names with '_' and the like.
	 * Anything that cannot break the Received: field's syntax is taken. */
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' && c != '_')
			return 0;
	}
	return 1;
}

int smtp_auth_allowed(int kind, int is_tls, int is_loopback)
{
	if (kind != LK_SUBMISSION && kind != LK_SUBMISSIONS)
		return 0;
	return is_tls || is_loopback;
}

/* ---- RFC 5322 address lists ---- */

#define ALIST_TOK_MAX 1024 /* one address or display name */

struct alist {
	char tok[ALIST_TOK_MAX + 1]; /* outside <>: an addr-spec or a phrase */
	size_t len;
	char angle[ALIST_TOK_MAX + 1];
	size_t alen;
	int over, has_angle, after_angle, phrase_at;
	const char *domain;
	int strict, odd;
	int (*cb)(void *arg, const char *addr);
	void *arg;
	int count;
};

static void alist_add(char *t, size_t *len, int *over, char c)
{
	if (*len >= ALIST_TOK_MAX)
		*over = 1;
	else
		t[(*len)++] = c;
}

/* End of one element (comma, semicolon, end of the field). */
static int alist_emit(struct alist *a)
{
	char *t = a->has_angle ? a->angle : a->tok;
	size_t n = a->has_angle ? a->alen : a->len;
	int rc = 0;
	t[n] = 0;
	/* A phrase with a bare '@' before an angle address ("bob@x <a@y>")
	 * is not RFC 5322: readers disagree on which address it is. */
	if (a->has_angle && a->phrase_at)
		a->odd = 1;
	/* obs-route in an angle address: "<@a,@b:user@c>" */
	if (a->has_angle && n > 0 && t[0] == '@') {
		char *colon = strchr(t, ':');
		if (colon) {
			n -= (size_t)(colon + 1 - t);
			t = colon + 1;
		}
	}
	if (a->over)
		a->odd = 1;
	if (n > 0 && !a->over) {
		char addr[ALIST_TOK_MAX + SMTP_DOMAIN_MAX + 2];
		if (!memchr(t, '@', n) && a->domain)
			snprintf(addr, sizeof addr, "%s@%s", t, a->domain);
		else
			snprintf(addr, sizeof addr, "%s", t);
		a->count++;
		rc = a->cb(a->arg, addr);
	}
	a->len = a->alen = 0;
	a->has_angle = a->after_angle = a->over = a->phrase_at = 0;
	return rc;
}

/* Skip a comment starting at v[i] == '(' (nested, quoted-pairs). */
static size_t alist_comment(const char *v, size_t n, size_t i, int *odd)
{
	int depth = 0;
	for (; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		else if (v[i] == '(')
			depth++;
		else if (v[i] == ')' && --depth == 0)
			return i + 1;
	}
	*odd = 1;
	return n;
}

static int alist_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int smtp_addr_list(const char *v, size_t n, const char *domain, int strict,
		   int (*cb)(void *arg, const char *addr), void *arg)
{
	struct alist *a = xcalloc(1, sizeof *a);
	a->domain = domain;
	a->strict = strict;
	a->cb = cb;
	a->arg = arg;
	int in_angle = 0, rc = 0;
	size_t i = 0;
	while (i < n && rc == 0) {
		char c = v[i];
		char *t = in_angle ? a->angle : a->tok;
		size_t *len = in_angle ? &a->alen : &a->len;
		if (c == '(') {
			i = alist_comment(v, n, i, &a->odd);
			continue;
		}
		if (c == '"') {
			/* a quoted string is copied whole, quotes and all */
			if (a->after_angle)
				a->odd = 1;
			alist_add(t, len, &a->over, c);
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					alist_add(t, len, &a->over, v[i++]);
				alist_add(t, len, &a->over, v[i]);
			}
			if (i < n)
				alist_add(t, len, &a->over, '"');
			else
				a->odd = 1;
			i++;
			continue;
		}
		i++;
		if (in_angle) {
			if (c == '>') {
				in_angle = 0;
				a->after_angle = 1;
			} else if (c == '<')
				a->odd = 1;
			else if (!alist_wsp(c))
				alist_add(t, len, &a->over, c);
		} else if (c == '<') {
			/* a second angle address in one element */
			if (a->has_angle)
				a->odd = 1;
			in_angle = 1;
			a->has_angle = 1;
			a->alen = 0;
		} else if (c == ',' || c == ';') {
			rc = alist_emit(a);
		} else if (c == ':') {
			if (a->after_angle)
				a->odd = 1;
			a->len = 0; /* a group's display name */
			a->phrase_at = 0;
		} else if (!alist_wsp(c)) {
			if (a->after_angle || c == '>')
				a->odd = 1; /* text after "<addr>" */
			if (c == '@')
				a->phrase_at = 1;
			alist_add(t, len, &a->over, c);
		}
	}
	if (in_angle)
		a->odd = 1;
	if (rc == 0)
		rc = alist_emit(a);
	int count = a->count, odd = a->odd;
	free(a);
	if (rc)
		return -1;
	return strict && odd ? -2 : count;
}
