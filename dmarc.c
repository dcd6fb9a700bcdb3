/*
 * dmarc.c — RFC 7489: the policy record (6.1, 6.3, 6.6.3 discovery), the
 * organisational domain (3.2, with a small built-in suffix list instead of
 * the full Public Suffix List), alignment (3.1) and the result (6.6.2),
 * with the pct= sampling of 6.6.4. The tag-list syntax is DKIM's (6.4
 * refers to RFC 6376 3.2), so dkim_tags_parse reads it.
 */
#include "dmarc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "dns.h"
#include "spf.h"
#include "util.h"

const char *dmarc_res_name(int res)
{
	static const char *const n[] = {"none", "pass", "fail", "temperror", "permerror"};
	return res >= 0 && res < (int)ARRAY_LEN(n) ? n[res] : "permerror";
}

const char *dmarc_policy_name(int p)
{
	return p == DMARC_P_REJECT ? "reject" : p == DMARC_P_QUARANTINE ? "quarantine" : "none";
}

static int tag_eq(const struct dkim_tag *t, const char *v)
{
	return t && t->vlen == strlen(v) && str_ncasecmp_ascii(t->val, v, t->vlen) == 0;
}

static int policy_of(const struct dkim_tag *t)
{
	return tag_eq(t, "none")	 ? DMARC_P_NONE
	       : tag_eq(t, "quarantine") ? DMARC_P_QUARANTINE
	       : tag_eq(t, "reject")	 ? DMARC_P_REJECT
					 : -1;
}

int dmarc_parse(const char *txt, size_t n, struct dmarc_rec *r)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t nt;
	if (dkim_tags_parse(txt, n, t, ARRAY_LEN(t), &nt) < 0 || nt == 0)
		return -1;
	/* 6.4: v=DMARC1 must come first */
	if (t[0].nlen != 1 || t[0].name[0] != 'v' || !tag_eq(&t[0], "DMARC1"))
		return -1;
	const struct dkim_tag *p = dkim_tag_get(t, nt, "p"), *sp = dkim_tag_get(t, nt, "sp"),
			      *pct = dkim_tag_get(t, nt, "pct"), *ad = dkim_tag_get(t, nt, "adkim"),
			      *as = dkim_tag_get(t, nt, "aspf");
	r->p = policy_of(p);
	if (r->p < 0)
		return -1;
	r->sp = sp && policy_of(sp) >= 0 ? policy_of(sp) : r->p;
	r->pct = 100;
	if (pct) {
		char tmp[8];
		long long v;
		if (pct->vlen > 0 && pct->vlen < sizeof tmp) {
			memcpy(tmp, pct->val, pct->vlen);
			tmp[pct->vlen] = 0;
			if (parse_int(tmp, 0, 100, &v) == 0)
				r->pct = (int)v;
		}
	}
	r->adkim = tag_eq(ad, "s");
	r->aspf = tag_eq(as, "s");
	return 0;
}

/* Public suffixes of two labels that mail domains commonly sit under. */
static const char *const suffix2[] = {
    "co.uk",  "org.uk", "ac.uk",  "gov.uk", "me.uk",  "ltd.uk", "plc.uk", "net.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz",	"org.nz", "net.nz",
    "co.jp",  "ne.jp",	"or.jp",  "ac.jp",  "go.jp",  "com.br", "net.br", "org.br",
    "com.cn", "net.cn", "org.cn", "co.in",  "net.in", "org.in", "co.za",  "org.za",
    "com.mx", "com.tr", "co.kr",  "or.kr",  "com.tw", "com.hk", "com.sg", "com.ar",
    "co.il",  "com.pl", "co.at",  "or.at",  "com.es", "co.id",	"com.my", "com.ua",
};

void dmarc_org_domain(const char *d, char *out, size_t cap)
{
	char low[256];
	str_copy(low, d, sizeof low);
	str_lower(low);
	size_t n = strlen(low);
	while (n && low[n - 1] == '.')
		low[--n] = 0;
	/* labels needed: one more than the public suffix */
	int need = 2;
	for (size_t i = 0; i < ARRAY_LEN(suffix2); i++) {
		size_t sl = strlen(suffix2[i]);
		if (n > sl && low[n - sl - 1] == '.' && strcmp(low + n - sl, suffix2[i]) == 0)
			need = 3;
	}
	const char *p = low + n;
	int labels = 0;
	while (p > low) {
		p--;
		if (*p == '.' && ++labels == need) {
			p++;
			break;
		}
	}
	str_copy(out, p, cap);
}

int dmarc_from_domain(const char *v, char *out, size_t cap)
{
	char clean[1024];
	size_t o = 0;
	int depth = 0, quoted = 0, ats = 0;
	/* drop comments and quoted strings; count the addresses */
	for (size_t i = 0; v[i] && o + 1 < sizeof clean; i++) {
		char c = v[i];
		if (c == '\\' && v[i + 1] && (quoted || depth)) {
			i++;
			continue;
		}
		if (quoted) {
			quoted = c != '"';
			continue;
		}
		if (depth) {
			depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '"') {
			quoted = 1;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		ats += c == '@';
		clean[o++] = c;
	}
	clean[o] = 0;
	if (ats != 1)
		return -1;
	char *at = strchr(clean, '@') + 1;
	size_t n = strcspn(at, "> \t\r\n,;");
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, at, n);
	out[n] = 0;
	str_lower(out);
	while (n && out[n - 1] == '.')
		out[--n] = 0;
	return n ? 0 : -1;
}

/* ---- discovery (6.6.3) ---- */

struct recs {
	char txt[1024];
	int count;
};

static void txt_cb(void *arg, const char *txt, size_t len)
{
	struct recs *r = arg;
	if (len < 8 || str_ncasecmp_ascii(txt, "v=DMARC1", 8) != 0)
		return;
	if (r->count++ == 0 && len < sizeof r->txt) {
		memcpy(r->txt, txt, len);
		r->txt[len] = 0;
	}
}

/* DNS_OK with *rec filled, DNS_PERM (no usable record), DNS_TEMP. */
static int fetch(const char *domain, struct dmarc_rec *rec)
{
	char name[300], why[256];
	struct recs r = {0};
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	int rc = dns_txt(name, txt_cb, &r, why, sizeof why);
	if (rc == DNS_TEMP)
		return DNS_TEMP;
	/* 6.6.3: several records, or none that parses: no policy */
	if (r.count != 1 || dmarc_parse(r.txt, strlen(r.txt), rec) < 0)
		return DNS_PERM;
	return DNS_OK;
}

static int aligned(const char *a, const char *from, int strict)
{
	if (!a || !*a)
		return 0;
	if (str_casecmp_ascii(a, from) == 0)
		return 1;
	if (strict)
		return 0;
	char oa[256], of[256];
	dmarc_org_domain(a, oa, sizeof oa);
	dmarc_org_domain(from, of, sizeof of);
	return strcmp(oa, of) == 0;
}

int dmarc_check(const char *from_domain, int spf, const char *spf_domain,
		const struct dkim_result *dk, size_t ndk, struct dmarc_result *out)
{
	struct dmarc_rec rec;
	char org[256];
	int sub = 0;
	memset(out, 0, sizeof *out);
	str_copy(out->from, from_domain, sizeof out->from);
	int rc = fetch(from_domain, &rec);
	if (rc == DNS_PERM) {
		dmarc_org_domain(from_domain, org, sizeof org);
		if (str_casecmp_ascii(org, from_domain) != 0) {
			rc = fetch(org, &rec);
			sub = 1;
		}
	}
	if (rc == DNS_TEMP) {
		out->res = DMARC_TEMPERROR;
		str_copy(out->why, "DNS failure fetching the policy", sizeof out->why);
		return out->res;
	}
	if (rc != DNS_OK) {
		out->res = DMARC_NONE;
		str_copy(out->why, "no policy", sizeof out->why);
		return out->res;
	}
	out->policy = sub ? rec.sp : rec.p;
	int pass = spf == SPF_PASS && aligned(spf_domain, from_domain, rec.aspf);
	int temp = spf == SPF_TEMPERROR;
	for (size_t i = 0; i < ndk && !pass; i++) {
		if (dk[i].res == DKIM_PASS && aligned(dk[i].d, from_domain, rec.adkim))
			pass = 1;
		temp |= dk[i].res == DKIM_TEMPERROR;
	}
	if (pass) {
		out->res = DMARC_PASS;
		return out->res;
	}
	if (temp) {
		/* an aligned pass might have come with DNS working: no verdict */
		out->res = DMARC_TEMPERROR;
		str_copy(out->why, "SPF or DKIM could not be checked now", sizeof out->why);
		return out->res;
	}
	out->res = DMARC_FAIL;
	str_copy(out->why, "no aligned SPF or DKIM pass", sizeof out->why);
	/* 6.6.4: outside the pct= sample the next weaker policy applies */
	out->applied = out->policy;
	if (rec.pct < 100 && (int)random_uniform(100) >= rec.pct && out->applied > DMARC_P_NONE)
		out->applied--;
	return out->res;
}
