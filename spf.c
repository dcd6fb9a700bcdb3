/*
 * spf.c — RFC 7208 check_host(): record selection (4.5), the term parser
 * (4.6, 12), mechanisms all/include/a/mx/ptr/ip4/ip6/exists, the redirect
 * modifier, macros (7) and the processing limits (4.6.4). A record is
 * parsed completely before anything is evaluated, so a syntax error
 * anywhere is a permerror whatever comes first (4.6).
 *
 * DNS answers map as follows (dns.h): DNS_TEMP is temperror at once (the
 * result can only be known later); DNS_PERM (NXDOMAIN, no such records) is
 * a "void" look-up for a, mx and exists (4.6.4: more than two make the
 * check permerror); PTR failures only make ptr not match (5.5).
 * What the results mean for delivery is authres.c's business.
 */
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "util.h"

#define SPF_TERMS_MAX 64
#define SPF_DEPTH_MAX 10
#define SPF_NAME_MAX  253

const char *spf_res_name(int res)
{
	static const char *const n[] = {"none",	    "neutral",	 "pass",     "fail",
					"softfail", "temperror", "permerror"};
	return res >= 0 && res < (int)(sizeof n / sizeof n[0]) ? n[res] : "permerror";
}

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_REDIRECT, M_EXP };

struct term {
	int mech;
	int qual;	 /* SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL */
	const char *arg; /* domain-spec or address, NULL if none */
	size_t alen;
	int cidr4, cidr6; /* prefix lengths, -1 if not given */
	uint8_t addr[16];
};

struct ctx {
	int family; /* AF_INET or AF_INET6 */
	uint8_t ip[16];
	char ipstr[64];
	const char *sender, *helo;
	int lookups, voids;
	char *why;
	size_t whylen;
};

static void why(struct ctx *c, const char *fmt, const char *a)
{
	if (c->why)
		snprintf(c->why, c->whylen, fmt, a);
}

/* ---- macros (RFC 7208 7) ---- */

static int is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

/* The value of one macro letter into v. -1 if the letter is not allowed. */
static int macro_value(char l, int exp, const struct ctx *c, const char *domain, char *v,
		       size_t cap)
{
	const char *s = c->sender, *at = strrchr(s, '@');
	switch (tolower((unsigned char)l)) {
	case 's':
		snprintf(v, cap, "%s", s);
		return 0;
	case 'l':
		if (!at || at == s)
			snprintf(v, cap, "postmaster");
		else
			snprintf(v, cap, "%.*s", (int)(at - s), s);
		return 0;
	case 'o':
		snprintf(v, cap, "%s", at ? at + 1 : s);
		return 0;
	case 'd':
		snprintf(v, cap, "%s", domain);
		return 0;
	case 'i':
		if (c->family == AF_INET) {
			snprintf(v, cap, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2], c->ip[3]);
		} else {
			/* 7.3: dot-separated nibbles */
			size_t o = 0;
			for (int k = 0; k < 16 && o + 4 < cap; k++) {
				o += (size_t)snprintf(v + o, cap - o, "%s%x.%x", k ? "." : "",
						      c->ip[k] >> 4, c->ip[k] & 15);
			}
		}
		return 0;
	case 'p':
		/* 7.3: discouraged; "unknown" is what a checker may use. */
		snprintf(v, cap, "unknown");
		return 0;
	case 'v':
		snprintf(v, cap, "%s", c->family == AF_INET ? "in-addr" : "ip6");
		return 0;
	case 'h':
		snprintf(v, cap, "%s", c->helo && *c->helo ? c->helo : "unknown");
		return 0;
	case 'c':
		if (!exp)
			return -1;
		snprintf(v, cap, "%s", c->ipstr);
		return 0;
	case 'r':
		if (!exp)
			return -1;
		snprintf(v, cap, "unknown");
		return 0;
	case 't':
		if (!exp)
			return -1;
		snprintf(v, cap, "0");
		return 0;
	default:
		return -1;
	}
}

/* Split v on delims, keep the rightmost `keep` parts (0 = all), reversed
 * first when rev; joined with '.' into out at *o. */
static void macro_transform(const char *v, const char *delims, size_t nd, long keep, int rev,
			    char *out, size_t cap, size_t *o)
{
	const char *part[128];
	size_t plen[128], np = 0, s = 0, n = strlen(v);
	for (size_t i = 0; i <= n && np < 128; i++) {
		int d = i == n;
		if (!d) {
			if (nd == 0)
				d = v[i] == '.';
			else
				d = memchr(delims, v[i], nd) != NULL;
		}
		if (d) {
			part[np] = v + s;
			plen[np++] = i - s;
			s = i + 1;
		}
	}
	if (rev)
		for (size_t i = 0; i < np / 2; i++) {
			const char *t = part[i];
			size_t tl = plen[i];
			part[i] = part[np - 1 - i], plen[i] = plen[np - 1 - i];
			part[np - 1 - i] = t, plen[np - 1 - i] = tl;
		}
	size_t first = keep > 0 && (size_t)keep < np ? np - (size_t)keep : 0;
	for (size_t i = first; i < np; i++) {
		if (i > first && *o + 1 < cap)
			out[(*o)++] = '.';
		for (size_t k = 0; k < plen[i] && *o + 1 < cap; k++)
			out[(*o)++] = part[i][k];
	}
}

static int expand(const struct ctx *c, const char *domain, const char *spec, size_t n, int exp,
		  char *out, size_t cap)
{
	size_t o = 0;
	char v[1024];
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)spec[i];
		if (ch != '%') {
			if (ch < 0x21 || ch > 0x7e)
				return -1;
			if (o + 1 < cap)
				out[o++] = (char)ch;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		char k = spec[i + 1];
		if (k == '%' || k == '_' || k == '-') {
			const char *lit = k == '%' ? "%" : k == '_' ? " " : "%20";
			for (; *lit && o + 1 < cap; lit++)
				out[o++] = *lit;
			i += 2;
			continue;
		}
		if (k != '{' || i + 2 >= n)
			return -1;
		size_t j = i + 2;
		char letter = spec[j++];
		long keep = 0;
		int digits = 0, rev = 0;
		while (j < n && isdigit((unsigned char)spec[j]) && digits < 4) {
			keep = keep * 10 + (spec[j++] - '0');
			digits++;
		}
		if (digits && keep == 0)
			return -1; /* 7.1: zero parts is a syntax error */
		if (j < n && (spec[j] == 'r' || spec[j] == 'R')) {
			rev = 1;
			j++;
		}
		size_t ds = j;
		while (j < n && is_delim(spec[j]))
			j++;
		if (j >= n || spec[j] != '}')
			return -1;
		if (macro_value(letter, exp, c, domain, v, sizeof v) < 0)
			return -1;
		macro_transform(v, spec + ds, j - ds, keep, rev, out, cap, &o);
		i = j + 1;
	}
	out[o < cap ? o : cap - 1] = 0;
	return 0;
}

/* ---- the record ---- */

static int name_char(char ch, int first)
{
	return isalpha((unsigned char)ch) ||
	       (!first && (isdigit((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.'));
}

/* One prefix length at the end of s[0..*len): "/N" (ip4) or "//N" (ip6,
 * dbl). Shortens *len past it. 0 (found or absent) or -1 (bad value). */
static int cidr_tail(const char *s, size_t *len, int dbl, int max, int *out)
{
	size_t k = *len;
	while (k > 0 && isdigit((unsigned char)s[k - 1]))
		k--;
	size_t nd = *len - k;
	if (nd == 0 || k == 0 || s[k - 1] != '/')
		return 0;
	int two = k >= 2 && s[k - 2] == '/';
	if (two != dbl)
		return 0;
	/* ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), likewise ip6 */
	if (nd > 3 || (nd > 1 && s[k] == '0'))
		return -1;
	int v = atoi(s + k);
	if (v > max)
		return -1;
	*out = v;
	*len = k - 1 - (size_t)two;
	return 0;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
static int parse_cidr(const char *s, size_t *n, int *c4, int *c6)
{
	*c4 = *c6 = -1;
	if (cidr_tail(s, n, 1, 128, c6) < 0 || cidr_tail(s, n, 0, 32, c4) < 0)
		return -1;
	return 0;
}

static int parse_ip(const char *s, size_t n, int family, uint8_t *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return inet_pton(family, tmp, out) == 1 ? 0 : -1;
}

static const struct {
	const char *name;
	int mech;
} mechs[] = {
    {"all", M_ALL}, {"include", M_INCLUDE}, {"a", M_A},	    {"mx", M_MX},
    {"ptr", M_PTR}, {"ip4", M_IP4},	    {"ip6", M_IP6}, {"exists", M_EXISTS},
};

/* One term s[0..n). 0, or -1 (permerror). Unknown modifiers are kept out
 * (*t->mech = -1). */
static int parse_term(const char *s, size_t n, struct term *t)
{
	memset(t, 0, sizeof *t);
	t->cidr4 = t->cidr6 = -1;
	t->qual = SPF_PASS;
	size_t i = 0;
	if (n && strchr("+-~?", s[0])) {
		t->qual = s[0] == '+'	? SPF_PASS
			  : s[0] == '-' ? SPF_FAIL
			  : s[0] == '~' ? SPF_SOFTFAIL
					: SPF_NEUTRAL;
		i = 1;
	}
	size_t ns = i;
	if (i >= n || !name_char(s[i], 1))
		return -1;
	while (i < n && name_char(s[i], 0))
		i++;
	size_t nl = i - ns;
	if (i < n && s[i] == '=') {
		/* modifier = name "=" macro-string (4.6.1) */
		if (ns != 0)
			return -1;
		t->arg = s + i + 1;
		t->alen = n - i - 1;
		if (nl == 8 && str_ncasecmp_ascii(s, "redirect", 8) == 0)
			t->mech = M_REDIRECT;
		else if (nl == 3 && str_ncasecmp_ascii(s, "exp", 3) == 0)
			t->mech = M_EXP;
		else
			t->mech = -1;
		return 0;
	}
	t->mech = -2;
	for (size_t k = 0; k < sizeof mechs / sizeof mechs[0]; k++)
		if (strlen(mechs[k].name) == nl &&
		    str_ncasecmp_ascii(s + ns, mechs[k].name, nl) == 0)
			t->mech = mechs[k].mech;
	if (t->mech == -2)
		return -1; /* 5: an unknown mechanism is a permerror */
	size_t rest = n - i;
	const char *r = s + i;
	if (t->mech == M_A || t->mech == M_MX) {
		if (parse_cidr(r, &rest, &t->cidr4, &t->cidr6) < 0)
			return -1;
	}
	if (rest > 0) {
		if (r[0] != ':' || rest == 1)
			return -1;
		t->arg = r + 1;
		t->alen = rest - 1;
	}
	switch (t->mech) {
	case M_ALL:
		return t->arg ? -1 : 0;
	case M_INCLUDE:
	case M_EXISTS:
		return t->arg ? 0 : -1;
	case M_IP4:
	case M_IP6: {
		if (!t->arg)
			return -1;
		size_t al = t->alen;
		int four = t->mech == M_IP4;
		const char *slash = memchr(t->arg, '/', al);
		if (slash) {
			size_t dl = al - (size_t)(slash + 1 - t->arg);
			if (dl == 0 || dl > 3)
				return -1;
			for (size_t k = 0; k < dl; k++)
				if (!isdigit((unsigned char)slash[1 + k]))
					return -1;
			int v = atoi(slash + 1);
			if (v > (four ? 32 : 128))
				return -1;
			if (four)
				t->cidr4 = v;
			else
				t->cidr6 = v;
			al = (size_t)(slash - t->arg);
		}
		return parse_ip(t->arg, al, four ? AF_INET : AF_INET6, t->addr);
	}
	default:
		return 0;
	}
}

struct record {
	struct term t[SPF_TERMS_MAX];
	size_t n;
	const struct term *redirect;
};

static int parse_record(const char *rec, size_t n, struct record *r)
{
	size_t i = 6; /* "v=spf1" */
	r->n = 0;
	r->redirect = NULL;
	int exp = 0;
	while (i < n) {
		if (rec[i] != ' ')
			return -1;
		while (i < n && rec[i] == ' ')
			i++;
		size_t s = i;
		while (i < n && rec[i] != ' ')
			i++;
		if (i == s)
			break;
		if (r->n == SPF_TERMS_MAX)
			return -1;
		struct term *t = &r->t[r->n];
		if (parse_term(rec + s, i - s, t) < 0)
			return -1;
		if (t->mech == M_REDIRECT) {
			if (r->redirect)
				return -1; /* 6: at most once */
			r->redirect = t;
		} else if (t->mech == M_EXP) {
			if (exp++)
				return -1;
		}
		r->n++;
	}
	return 0;
}

/* "v=spf1" followed by a space or the end (4.5). */
static int is_spf1(const char *s, size_t n)
{
	return n >= 6 && str_ncasecmp_ascii(s, "v=spf1", 6) == 0 && (n == 6 || s[6] == ' ');
}

/* ---- evaluation ---- */

static int prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rem = bits % 8;
	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return (a[full] & mask) == (b[full] & mask);
}

static int addr_match(const struct ctx *c, const struct dns_addr *a, const struct term *t)
{
	const struct sockaddr_storage *ss = &a->sa;
	if (ss->ss_family != c->family)
		return 0;
	if (c->family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		return prefix_match((const uint8_t *)&s4->sin_addr, c->ip,
				    t->cidr4 >= 0 ? t->cidr4 : 32);
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	return prefix_match((const uint8_t *)&s6->sin6_addr, c->ip, t->cidr6 >= 0 ? t->cidr6 : 128);
}

static int check_host(struct ctx *c, const char *domain, int depth);

/* A domain-spec to a name: expanded, then (4.8) cut to 253 octets by
 * dropping labels on the left. -1: permerror. */
static int target(struct ctx *c, const char *domain, const struct term *t, char *out, size_t cap)
{
	char buf[2048];
	if (!t->arg) {
		str_copy(out, domain, cap);
		return 0;
	}
	if (expand(c, domain, t->arg, t->alen, 0, buf, sizeof buf) < 0)
		return -1;
	char *p = buf;
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '.')
		p[--n] = 0;
	while (n > SPF_NAME_MAX) {
		char *dot = strchr(p, '.');
		if (!dot)
			return -1;
		n -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, p, n + 1);
	return 0;
}

/* Count a term that queries DNS (4.6.4). */
static int count_lookup(struct ctx *c)
{
	if (++c->lookups > SPF_LOOKUP_MAX) {
		why(c, "%s", "more than 10 DNS-querying terms");
		return -1;
	}
	return 0;
}

static int count_void(struct ctx *c)
{
	if (++c->voids > SPF_VOID_MAX) {
		why(c, "%s", "more than 2 void look-ups");
		return -1;
	}
	return 0;
}

/* Returns 1 match, 0 no match, or -SPF_TEMPERROR / -SPF_PERMERROR. */
static int mech_a(struct ctx *c, const char *name, const struct term *t, int exists)
{
	struct dns_addr a[DNS_ADDR_MAX];
	size_t n = 0;
	char w[256];
	int rc = dns_addrs(name, a, DNS_ADDR_MAX, &n, w, sizeof w);
	if (rc == DNS_TEMP) {
		why(c, "DNS failure for %s", name);
		return -SPF_TEMPERROR;
	}
	if (rc != DNS_OK || n == 0)
		return count_void(c) < 0 ? -SPF_PERMERROR : 0;
	for (size_t i = 0; i < n; i++) {
		if (exists) {
			if (a[i].sa.ss_family == AF_INET)
				return 1; /* 5.7: any A record */
		} else if (addr_match(c, &a[i], t))
			return 1;
	}
	return 0;
}

static int mech_mx(struct ctx *c, const char *name, const struct term *t)
{
	struct dns_mx *mx = xcalloc(1, sizeof *mx);
	int rc = dns_mx(name, mx), res = 0;
	if (rc == DNS_TEMP) {
		why(c, "DNS failure for the MX of %s", name);
		res = -SPF_TEMPERROR;
	} else if (rc != DNS_OK || mx->implicit || mx->null_mx) {
		/* 5.4: no MX records, no fallback to A */
		res = count_void(c) < 0 ? -SPF_PERMERROR : 0;
	} else if (mx->nhosts > SPF_MX_MAX) {
		why(c, "more than 10 MX names at %s", name);
		res = -SPF_PERMERROR;
	} else {
		for (size_t h = 0; h < mx->nhosts && !res; h++)
			for (size_t i = 0; i < mx->hosts[h].naddrs && !res; i++)
				res = addr_match(c, &mx->hosts[h].addrs[i], t);
	}
	free(mx);
	return res;
}

/* 5.5: the validated PTR name must be name or a subdomain of it. */
static int mech_ptr(struct ctx *c, const char *name)
{
	struct sockaddr_storage ss = {0};
	char host[DNS_NAME_MAX + 1], w[256];
	struct dns_addr a[DNS_ADDR_MAX];
	size_t n = 0;
	if (c->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, c->ip, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, c->ip, 16);
	}
	if (dns_ptr(&ss, host, sizeof host, w, sizeof w) != DNS_OK)
		return 0;
	size_t hl = strlen(host), nl = strlen(name);
	int under =
	    (hl == nl && str_casecmp_ascii(host, name) == 0) ||
	    (hl > nl && host[hl - nl - 1] == '.' && str_casecmp_ascii(host + hl - nl, name) == 0);
	if (!under || dns_addrs(host, a, DNS_ADDR_MAX, &n, w, sizeof w) != DNS_OK)
		return 0;
	struct term exact = {.cidr4 = -1, .cidr6 = -1};
	for (size_t i = 0; i < n; i++)
		if (addr_match(c, &a[i], &exact))
			return 1;
	return 0;
}

static int ip_match(const struct ctx *c, const struct term *t)
{
	int four = t->mech == M_IP4;
	if (c->family != (four ? AF_INET : AF_INET6))
		return 0;
	int bits = four ? (t->cidr4 >= 0 ? t->cidr4 : 32) : (t->cidr6 >= 0 ? t->cidr6 : 128);
	return prefix_match(t->addr, c->ip, bits);
}

/* One mechanism: 1 match, 0 not, or -SPF_* for an error result. */
static int mech_eval(struct ctx *c, const char *domain, const struct term *t, int depth)
{
	char name[SPF_NAME_MAX + 1];
	if (t->mech == M_ALL)
		return 1;
	if (t->mech == M_IP4 || t->mech == M_IP6)
		return ip_match(c, t);
	if (count_lookup(c) < 0)
		return -SPF_PERMERROR;
	if (target(c, domain, t, name, sizeof name) < 0) {
		why(c, "bad domain-spec in the record of %s", domain);
		return -SPF_PERMERROR;
	}
	switch (t->mech) {
	case M_INCLUDE: {
		int r = check_host(c, name, depth + 1);
		/* 5.2: the included result decides only whether it matched */
		if (r == SPF_PASS)
			return 1;
		if (r == SPF_TEMPERROR)
			return -SPF_TEMPERROR;
		if (r == SPF_PERMERROR || r == SPF_NONE) {
			if (r == SPF_NONE)
				why(c, "include:%s has no SPF record", name);
			return -SPF_PERMERROR;
		}
		return 0;
	}
	case M_A:
		return mech_a(c, name, t, 0);
	case M_EXISTS:
		return mech_a(c, name, t, 1);
	case M_MX:
		return mech_mx(c, name, t);
	case M_PTR:
		return mech_ptr(c, name);
	default:
		return -SPF_PERMERROR;
	}
}

struct txtsel {
	char *rec;
	size_t n;
	int count;
};

static void txt_cb(void *arg, const char *txt, size_t len)
{
	struct txtsel *s = arg;
	if (!is_spf1(txt, len))
		return;
	if (s->count++ == 0 && len < SPF_RECORD_MAX) {
		memcpy(s->rec, txt, len);
		s->rec[len] = 0;
		s->n = len;
	}
}

/* A name check_host accepts (4.3): LDH labels, no empty ones. */
static int domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0;
	if (n == 0 || n > SPF_NAME_MAX || d[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)d[i];
		if (ch == '.') {
			if (lab == 0 || lab > 63)
				return 0;
			lab = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			lab++;
		} else {
			return 0;
		}
	}
	return lab <= 63;
}

static int check_host(struct ctx *c, const char *domain, int depth)
{
	struct txtsel sel = {.rec = xmalloc(SPF_RECORD_MAX)};
	struct record *r = xmalloc(sizeof *r);
	char w[256];
	int res = SPF_NEUTRAL;
	if (depth > SPF_DEPTH_MAX || !domain_ok(domain)) {
		why(c, "%s is not a domain name", domain);
		res = depth > SPF_DEPTH_MAX ? SPF_PERMERROR : SPF_NONE;
		goto out;
	}
	int rc = dns_txt(domain, txt_cb, &sel, w, sizeof w);
	if (rc == DNS_TEMP) {
		why(c, "DNS failure for the TXT of %s", domain);
		res = SPF_TEMPERROR;
		goto out;
	}
	if (sel.count == 0) {
		why(c, "no SPF record at %s", domain);
		res = SPF_NONE;
		goto out;
	}
	if (sel.count > 1 || sel.n == 0 || parse_record(sel.rec, sel.n, r) < 0) {
		why(c, sel.count > 1 ? "several SPF records at %s" : "SPF syntax error at %s",
		    domain);
		res = SPF_PERMERROR;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct term *t = &r->t[i];
		if (t->mech < 0 || t->mech == M_REDIRECT || t->mech == M_EXP)
			continue;
		int m = mech_eval(c, domain, t, depth);
		if (m < 0) {
			res = -m;
			goto out;
		}
		if (m == 1) {
			res = t->qual;
			why(c, "matched in the record of %s", domain);
			goto out;
		}
	}
	if (r->redirect) {
		char name[SPF_NAME_MAX + 1];
		if (count_lookup(c) < 0) {
			res = SPF_PERMERROR;
			goto out;
		}
		if (target(c, domain, r->redirect, name, sizeof name) < 0) {
			res = SPF_PERMERROR;
			goto out;
		}
		res = check_host(c, name, depth + 1);
		if (res == SPF_NONE)
			res = SPF_PERMERROR; /* 6.1 */
		goto out;
	}
	why(c, "no mechanism matched at %s", domain);
	res = SPF_NEUTRAL;
out:
	free(sel.rec);
	free(r);
	return res;
}

static int ctx_init(struct ctx *c, const char *ip, const char *sender, const char *helo)
{
	memset(c, 0, sizeof *c);
	c->sender = sender;
	c->helo = helo;
	str_copy(c->ipstr, ip, sizeof c->ipstr);
	if (inet_pton(AF_INET, ip, c->ip) == 1) {
		c->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, c->ip) != 1)
		return -1;
	c->family = AF_INET6;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(c->ip, mapped, 12) == 0) {
		/* an IPv4 client seen through an IPv6 socket */
		memmove(c->ip, c->ip + 12, 4);
		c->family = AF_INET;
		snprintf(c->ipstr, sizeof c->ipstr, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
			 c->ip[3]);
	}
	return 0;
}

int spf_check(const char *ip, const char *domain, const char *sender, const char *helo, char *w,
	      size_t whylen)
{
	struct ctx c;
	char dom[SPF_NAME_MAX + 2], snd[600];
	if (w && whylen)
		w[0] = 0;
	if (ctx_init(&c, ip, sender, helo) < 0) {
		if (w)
			snprintf(w, whylen, "not an IP address: %s", ip);
		return SPF_NONE;
	}
	c.why = w;
	c.whylen = whylen;
	str_copy(dom, domain, sizeof dom);
	size_t dl = strlen(dom);
	if (dl && dom[dl - 1] == '.')
		dom[dl - 1] = 0;
	/* 4.3: a sender without a local part is postmaster@domain */
	const char *at = strrchr(sender, '@');
	if (!at || at == sender) {
		snprintf(snd, sizeof snd, "postmaster@%s", dom);
		c.sender = snd;
	}
	return check_host(&c, dom, 0);
}

int spf_expand(const char *spec, size_t n, const char *ip, const char *sender, const char *domain,
	       const char *helo, int exp, char *out, size_t cap)
{
	struct ctx c;
	if (ctx_init(&c, ip, sender, helo) < 0)
		return -1;
	return expand(&c, domain, spec, n, exp, out, cap);
}

int spf_record_check(const char *rec, size_t n)
{
	struct record *r = xmalloc(sizeof *r);
	struct ctx c;
	char out[SPF_NAME_MAX + 1];
	int rc = -1;
	ctx_init(&c, "2001:db8::1", "user@example.com", "helo.example.com");
	if (!is_spf1(rec, n) || parse_record(rec, n, r) < 0)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const struct term *t = &r->t[i];
		if (t->mech == M_EXP || t->mech < 0) {
			char big[2048];
			if (expand(&c, "example.com", t->arg, t->alen, 0, big, sizeof big) < 0 &&
			    t->mech == M_EXP)
				goto out;
			continue;
		}
		if (t->arg && t->mech != M_IP4 && t->mech != M_IP6 &&
		    target(&c, "example.com", t, out, sizeof out) < 0)
			goto out;
	}
	rc = 0;
out:
	free(r);
	return rc;
}
