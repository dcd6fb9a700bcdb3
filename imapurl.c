/*
 * imapurl.c — RFC 5092 IMAP URLs, the subset imapurl.h describes. A small
 * cursor parser over a bounded input; every field is bounded by its
 * buffer; nothing is allocated.
 */
#include "imapurl.h"

#include <string.h>

#include "util.h"

struct cur {
	const char *p, *e;
};

static int take_ci(struct cur *c, const char *word)
{
	size_t k = strlen(word);
	if ((size_t)(c->e - c->p) < k || str_ncasecmp_ascii(c->p, word, k) != 0)
		return 0;
	c->p += k;
	return 1;
}

/* Percent-decode up to a stop character into out (cap bytes with NUL).
 * A NUL octet, a bad escape or too long is -1. */
static int decoded(struct cur *c, const char *stops, char *out, size_t cap)
{
	size_t n = 0;
	while (c->p < c->e && !strchr(stops, *c->p)) {
		int ch = (unsigned char)*c->p;
		if (ch == '%') {
			if (c->e - c->p < 3 || hex_value((unsigned char)c->p[1]) < 0 ||
			    hex_value((unsigned char)c->p[2]) < 0)
				return -1;
			ch = hex_value((unsigned char)c->p[1]) * 16 +
			     hex_value((unsigned char)c->p[2]);
			c->p += 3;
		} else {
			if (ch <= ' ' || ch == 0x7f)
				return -1; /* RFC 3986: no raw space or controls */
			c->p++;
		}
		if (ch == 0 || n + 1 >= cap)
			return -1;
		out[n++] = (char)ch;
	}
	out[n] = 0;
	return 0;
}

/* A decimal in 1..max (min 0 when zero_ok). */
static int number(struct cur *c, uint64_t max, int zero_ok, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;
	while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start || (!zero_ok && v == 0))
		return -1;
	*out = v;
	return 0;
}

/* //[user[;AUTH=...]@]host[:port] up to the '/' of the path. */
static int authority(struct cur *c, struct imapurl *u)
{
	const char *slash = memchr(c->p, '/', (size_t)(c->e - c->p));
	const char *end = slash ? slash : c->e;
	const char *at = NULL;
	for (const char *q = c->p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		struct cur uc = {c->p, at};
		/* iuserinfo = enc-user [iauth] / iauth; ";AUTH=" is accepted and
		 * ignored (the session is authenticated already). */
		if (decoded(&uc, ";", u->user, sizeof u->user) < 0)
			return -1;
		if (uc.p < uc.e && !take_ci(&uc, ";AUTH="))
			return -1;
		c->p = at + 1;
	}
	struct cur hc = {c->p, end};
	if (decoded(&hc, ":", u->host, sizeof u->host) < 0 || !u->host[0])
		return -1;
	if (hc.p < hc.e) {
		uint64_t port;
		hc.p++;
		if (number(&hc, 65535, 0, &port) < 0 || hc.p != hc.e)
			return -1;
		u->port = (unsigned)port;
	}
	c->p = end;
	return 0;
}

int imapurl_parse(const char *s, size_t n, struct imapurl *u)
{
	struct cur c = {s, s + n};
	uint64_t v;

	memset(u, 0, sizeof *u);
	if (n == 0 || n > IMAPURL_MAX || memchr(s, '?', n))
		return -1;
	if (take_ci(&c, "imap://")) {
		u->absolute = 1;
		if (authority(&c, u) < 0 || c.p == c.e)
			return -1;
	}
	if (c.p < c.e && *c.p == '/') {
		c.p++;
		/* The name may hold the hierarchy separator '/': it ends at the
		 * first ';', and without ;UIDVALIDITY its last '/' is the one
		 * of "/;UID=". */
		if (decoded(&c, ";", u->mbox, sizeof u->mbox) < 0)
			return -1;
		size_t ml = strlen(u->mbox);
		if (take_ci(&c, ";UIDVALIDITY=")) {
			if (number(&c, UINT32_MAX, 0, &v) < 0 || !take_ci(&c, "/;UID="))
				return -1;
			u->uidvalidity = (uint32_t)v;
		} else if (ml > 0 && u->mbox[ml - 1] == '/' && take_ci(&c, ";UID=")) {
			u->mbox[--ml] = 0;
		} else {
			return -1;
		}
		if (!ml)
			return -1;
	} else if (!u->absolute && take_ci(&c, ";UID=")) {
		u->relative = 1;
	} else {
		return -1;
	}
	if (number(&c, UINT32_MAX, 0, &v) < 0)
		return -1;
	u->uid = (uint32_t)v;
	if (take_ci(&c, "/;SECTION=")) {
		if (decoded(&c, "/", u->section, sizeof u->section) < 0 || !u->section[0])
			return -1;
	}
	if (take_ci(&c, "/;PARTIAL=")) {
		u->partial = 1;
		if (number(&c, UINT64_MAX, 1, &u->partial_off) < 0)
			return -1;
		if (c.p < c.e && *c.p == '.') {
			c.p++;
			if (number(&c, UINT64_MAX, 0, &u->partial_len) < 0)
				return -1;
		}
	}
	return c.p == c.e ? 0 : -1; /* URLAUTH and anything else: refused */
}
