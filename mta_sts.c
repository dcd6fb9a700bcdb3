/*
 * mta_sts.c — outbound MTA-STS (RFC 8461): the TXT record and policy
 * parsers, MX matching, and the look-up with its cache.
 *
 * The cache is one file per domain in DATADIR/mta-sts/ ("FETCHED ID" on
 * the first line, the policy text after it), kept for the policy's
 * max_age. It is what makes MTA-STS worth having: an attacker who strips
 * the TXT record or blocks the policy fetch later meets the cached policy
 * (RFC 8461 5.1, 10.2). What is done with a policy is queue.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "httpc.h"
#include "log.h"
#include "mta_sts.h"
#include "util.h"

/* ---- parsers ---- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

int sts_txt_parse(const char *txt, size_t len, char id[STS_ID_MAX + 1])
{
	/* RFC 8461 3.1: "v=STSv1" first, then ";"-separated fields; id is
	 * required, 1 to 32 letters and digits; other fields are ignored */
	const char *p = txt, *end = txt + len;
	int have_id = 0;
	if (len < 7 || memcmp(txt, "v=STSv1", 7) != 0)
		return 0;
	p += 7;
	while (p < end && is_wsp(*p))
		p++;
	if (p < end && *p != ';')
		return -1;
	while (p < end) {
		const char *f, *fe;
		p++; /* ';' */
		while (p < end && is_wsp(*p))
			p++;
		f = p;
		while (p < end && *p != ';')
			p++;
		fe = p;
		while (fe > f && is_wsp(fe[-1]))
			fe--;
		if (fe - f > 3 && memcmp(f, "id=", 3) == 0) {
			size_t n = (size_t)(fe - f - 3);
			if (n > STS_ID_MAX || have_id)
				return -1;
			for (size_t i = 0; i < n; i++)
				if (!((f[3 + i] >= '0' && f[3 + i] <= '9') ||
				      (f[3 + i] >= 'a' && f[3 + i] <= 'z') ||
				      (f[3 + i] >= 'A' && f[3 + i] <= 'Z')))
					return -1;
			memcpy(id, f + 3, n);
			id[n] = 0;
			have_id = 1;
		}
	}
	return have_id ? 1 : -1;
}

/* A host name or "*.name": letters, digits, '-', '_', labels of 1 to 63
 * octets, one trailing dot allowed. */
static int name_ok(const char *s, size_t n)
{
	size_t label = 0;
	if (n > 1 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX)
		return 0;
	if (s[0] == '*') {
		if (n < 3 || s[1] != '.')
			return 0;
		s += 2;
		n -= 2;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0;
}

int sts_policy_parse(const char *text, size_t len, struct sts_policy *p)
{
	const char *s = text, *end = text + len;
	int have_version = 0, have_mode = 0, have_age = 0;

	p->mode = STS_NONE;
	p->nmx = 0;
	p->max_age = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *le = nl ? nl : end;
		const char *k = s, *colon, *v, *ve;
		s = nl ? nl + 1 : end;
		if (le > k && le[-1] == '\r')
			le--;
		if (le == k)
			continue;
		colon = memchr(k, ':', (size_t)(le - k));
		if (!colon)
			return -1;
		v = colon + 1;
		while (v < le && is_wsp(*v))
			v++;
		ve = le;
		while (ve > v && is_wsp(ve[-1]))
			ve--;
		size_t kn = (size_t)(colon - k), vn = (size_t)(ve - v);
		if (kn == 7 && memcmp(k, "version", 7) == 0) {
			if (vn != 5 || memcmp(v, "STSv1", 5) != 0)
				return -1;
			have_version = 1;
		} else if (kn == 4 && memcmp(k, "mode", 4) == 0) {
			if (vn == 7 && memcmp(v, "enforce", 7) == 0)
				p->mode = STS_ENFORCE;
			else if (vn == 7 && memcmp(v, "testing", 7) == 0)
				p->mode = STS_TESTING;
			else if (vn == 4 && memcmp(v, "none", 4) == 0)
				p->mode = STS_NONE;
			else
				return -1;
			have_mode = 1;
		} else if (kn == 7 && memcmp(k, "max_age", 7) == 0) {
			long age = 0;
			if (vn == 0 || vn > 10)
				return -1;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				age = age * 10 + (v[i] - '0');
			}
			p->max_age = age > STS_MAX_AGE ? STS_MAX_AGE : age;
			have_age = 1;
		} else if (kn == 2 && memcmp(k, "mx", 2) == 0) {
			if (p->nmx == STS_MX_MAX || !name_ok(v, vn))
				return -1;
			memcpy(p->mx[p->nmx], v, vn);
			p->mx[p->nmx][vn] = 0;
			if (vn > 1 && p->mx[p->nmx][vn - 1] == '.')
				p->mx[p->nmx][vn - 1] = 0;
			str_lower(p->mx[p->nmx]);
			p->nmx++;
		}
	}
	if (!have_version || !have_mode || !have_age || (p->mode != STS_NONE && p->nmx == 0))
		return -1;
	return 0;
}

int sts_mx_match(const struct sts_policy *p, const char *host)
{
	char h[DNS_NAME_MAX + 1];
	size_t n = str_copy(h, host, sizeof h);
	if (n && h[n - 1] == '.')
		h[--n] = 0;
	str_lower(h);
	for (size_t i = 0; i < p->nmx; i++) {
		const char *m = p->mx[i];
		if (m[0] == '*' && m[1] == '.') {
			/* one label, then the rest exactly */
			const char *dot = strchr(h, '.');
			if (dot && dot > h && strcmp(dot + 1, m + 2) == 0)
				return 1;
		} else if (strcmp(h, m) == 0)
			return 1;
	}
	return 0;
}

/* ---- the cache: DATADIR/mta-sts/DOMAIN ---- */

static int cache_path(const struct config *cfg, const char *domain, char *out, size_t cap)
{
	char dir[4096];
	if (!name_ok(domain, strlen(domain)) || domain[0] == '*' || domain[0] == '.')
		return -1; /* the name becomes a file name: no '/', no ".." */
	config_path(cfg, "mta-sts", dir, sizeof dir);
	if (mkdir_p(dir, 0700) < 0)
		return -1;
	return path_join(out, cap, dir, domain);
}

static int cache_read(const struct config *cfg, const char *domain, struct sts_policy *p)
{
	char path[4400], *text, *nl;
	size_t len;
	long long fetched;
	int ret = -1;
	if (cache_path(cfg, domain, path, sizeof path) < 0)
		return -1;
	text = file_read(path, STS_POLICY_MAX + 128, &len);
	if (!text)
		return -1;
	nl = memchr(text, '\n', len);
	if (nl && sscanf(text, "%lld %32[0-9A-Za-z]", &fetched, p->id) == 2 &&
	    sts_policy_parse(nl + 1, len - (size_t)(nl + 1 - text), p) == 0) {
		p->fetched = (time_t)fetched;
		ret = 0;
	}
	free(text);
	return ret;
}

static void cache_write(const struct config *cfg, const char *domain,
			const struct sts_policy *p, const char *text, size_t len)
{
	char path[4400];
	struct sbuf b = {0};
	if (cache_path(cfg, domain, path, sizeof path) < 0)
		return;
	sbuf_printf(&b, "%lld %s\n", (long long)p->fetched, p->id);
	sbuf_add(&b, text, len);
	if (file_write_atomic(path, b.p, b.len, 0600) < 0)
		log_warn("mta-sts: cannot cache the policy of %s: %s", domain, strerror(errno));
	sbuf_free(&b);
}

/* ---- the look-up ---- */

struct txt_found {
	int n;	  /* STSv1 records seen */
	int bad;  /* one of them did not parse */
	char id[STS_ID_MAX + 1];
};

static void txt_cb(void *arg, const char *txt, size_t len)
{
	struct txt_found *f = arg;
	char id[STS_ID_MAX + 1];
	int r = sts_txt_parse(txt, len, id);
	if (r == 0)
		return;
	f->n++;
	if (r < 0)
		f->bad = 1;
	else
		str_copy(f->id, id, sizeof f->id);
}

static int fetch(struct tls_client *tlsc, const char *domain, struct sts_policy *p,
		 char **text, size_t *len, char *err, size_t errlen)
{
	char url[DNS_NAME_MAX + 64];
	struct httpc_resp r;
	/* RFC 8461 3.3: this URL, HTTPS with a valid certificate for the
	 * host, no redirects followed */
	snprintf(url, sizeof url, "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
	if (httpc_request(tlsc, "GET", url, NULL, NULL, STS_POLICY_MAX, &r, err, errlen) < 0)
		return -1;
	if (r.status != 200) {
		snprintf(err, errlen, "%.200s: HTTP %d", url, r.status);
		httpc_resp_clear(&r);
		return -1;
	}
	if (sts_policy_parse(r.body, r.len, p) < 0) {
		snprintf(err, errlen, "%.200s: not a valid STSv1 policy", url);
		httpc_resp_clear(&r);
		return -1;
	}
	*text = r.body;
	*len = r.len;
	r.body = NULL;
	httpc_resp_clear(&r);
	return 0;
}

void sts_lookup(const struct config *cfg, struct tls_client *tlsc, const char *domain,
		struct sts_policy *p, char *note, size_t notelen)
{
	struct sts_policy cached, fresh;
	struct txt_found f = {0};
	char name[DNS_NAME_MAX + 16], why[300] = "";
	time_t now = time(NULL);
	int have_cache, rc;

	memset(p, 0, sizeof *p);
	memset(&cached, 0, sizeof cached);
	memset(&fresh, 0, sizeof fresh);
	note[0] = 0;
	have_cache = cache_read(cfg, domain, &cached) == 0 && cached.fetched + cached.max_age > now;
	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	rc = dns_txt(name, txt_cb, &f, why, sizeof why);
	if (rc != DNS_OK || f.n != 1 || f.bad) {
		/* RFC 8461 3.1: none or several records, or a bad one: no new
		 * policy; 5.1: a cached one still applies */
		if (have_cache)
			*p = cached;
		if (rc == DNS_TEMP)
			snprintf(note, notelen, "mta-sts: %s: TXT look-up failed (%s)%s", domain, why,
				 have_cache ? "; using the cached policy" : "");
		return;
	}
	if (have_cache && strcmp(cached.id, f.id) == 0) {
		*p = cached;
		return;
	}
	{
		char *text = NULL;
		size_t len = 0;
		if (fetch(tlsc, domain, &fresh, &text, &len, why, sizeof why) == 0) {
			str_copy(fresh.id, f.id, sizeof fresh.id);
			fresh.fetched = now;
			cache_write(cfg, domain, &fresh, text, len);
			free(text);
			*p = fresh;
			return;
		}
	}
	snprintf(note, notelen, "mta-sts: %s: policy fetch failed (%s)%s", domain, why,
		 have_cache ? "; using the cached policy" : "; no policy applies");
	if (have_cache)
		*p = cached;
}
