/*
 * dnsbl.c — DNS and URI blocklist look-ups (dnsbl.h; RFC 5782).
 */
#include "dnsbl.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "spam.h"
#include "spam_token.h"
#include "util.h"

struct zone {
	char name[DNS_NAME_MAX + 1];
	double points;
};

static int sep(int c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* The zones of list into z; -1 with err on a bad entry. */
static int zones_parse(const char *list, struct zone *z, size_t *n, char *err, size_t errlen)
{
	const char *p = list ? list : "";
	*n = 0;
	for (;;) {
		while (sep((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		size_t len = 0;
		while (p[len] && !sep((unsigned char)p[len]))
			len++;
		char w[DNS_NAME_MAX + 32];
		if (len >= sizeof w) {
			snprintf(err, errlen, "blocklist entry too long");
			return -1;
		}
		memcpy(w, p, len);
		w[len] = 0;
		p += len;
		if (*n >= DNSBL_ZONES_MAX) {
			snprintf(err, errlen, "more than %d blocklists", DNSBL_ZONES_MAX);
			return -1;
		}
		struct zone *o = &z[*n];
		o->points = DNSBL_POINTS;
		char *eq = strchr(w, '=');
		if (eq) {
			char *end;
			*eq = 0;
			o->points = strtod(eq + 1, &end);
			if (end == eq + 1 || *end || !(o->points >= -100 && o->points <= 100)) {
				snprintf(err, errlen,
					 "'%s' is not a number of points (-100 to 100)", eq + 1);
				return -1;
			}
		}
		size_t zl = strlen(w);
		while (zl && w[zl - 1] == '.')
			w[--zl] = 0;
		int ok = zl > 0 && zl < DNS_NAME_MAX - 80 && w[0] != '.' && !strstr(w, "..");
		for (size_t i = 0; ok && i < zl; i++) {
			unsigned char c = (unsigned char)w[i];
			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		}
		if (!ok) {
			snprintf(err, errlen, "'%s' is not a DNS zone", w);
			return -1;
		}
		memcpy(o->name, w, zl + 1);
		(*n)++;
	}
}

int dnsbl_list_check(const char *list, char *err, size_t errlen)
{
	struct zone z[DNSBL_ZONES_MAX];
	size_t n;
	return zones_parse(list, z, &n, err, errlen);
}

/* "a.b" into out (cap bytes); -1 when it does not fit a DNS name. */
static int join(char *out, size_t cap, const char *a, const char *b)
{
	size_t al = strlen(a), bl = strlen(b);
	if (al + 1 + bl > DNS_NAME_MAX || al + 1 + bl >= cap)
		return -1;
	memcpy(out, a, al);
	out[al] = '.';
	memcpy(out + al + 1, b, bl + 1);
	return 0;
}

static void test_name(const char *prefix, const char *zone, char *out)
{
	size_t i = strlen(prefix), j = 0;
	memcpy(out, prefix, i);
	for (; zone[j] && i < SPAM_NAME_MAX; j++, i++) {
		unsigned char c = (unsigned char)zone[j];
		out[i] = c >= 'a' && c <= 'z'				    ? (char)(c - 32)
			 : (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? (char)c
									    : '_';
	}
	out[i] = 0;
}

/* 1 listed, 0 not listed, -1 no answer (logged after the prefix ctx) or
 * the check's time budget (until `end`, now_ms() time) spent. */
static int listed(const char *name, const char *ctx, int64_t end)
{
	uint32_t a[8];
	size_t n;
	char why[256];
	if (now_ms() >= end) {
		log_info("%s %s: not asked, the check's %d ms are spent", ctx, name,
			 DNSBL_BUDGET_MS);
		return -1;
	}
	int rc = dns_a(name, DNSBL_TIMEOUT_MS, a, 8, &n, why, sizeof why);
	if (rc == DNS_TEMP) {
		log_info("%s %s: no answer, not counted (%s)", ctx, name, why);
		return -1;
	}
	for (size_t i = 0; rc == DNS_OK && i < n; i++)
		if ((a[i] >> 24) == 127 && (a[i] >> 8) != 0x7fffff)
			return 1;
	return 0;
}

void dnsbl_check(const char *list, const char *ip, struct spam_result *r)
{
	struct zone z[DNSBL_ZONES_MAX];
	size_t nz;
	char err[256], rev[80], name[DNS_NAME_MAX + 1 + 80], test[SPAM_NAME_MAX + 1];
	unsigned char b[16];

	int64_t end = now_ms() + DNSBL_BUDGET_MS;
	if (zones_parse(list, z, &nz, err, sizeof err) < 0 || nz == 0)
		return;
	if (inet_pton(AF_INET, ip, b) == 1)
		snprintf(rev, sizeof rev, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
	else if (inet_pton(AF_INET6, ip, b) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(b, mapped, 12) == 0)
			snprintf(rev, sizeof rev, "%u.%u.%u.%u", b[15], b[14], b[13], b[12]);
		else {
			static const char hex[] = "0123456789abcdef";
			char *o = rev;
			for (int i = 15; i >= 0; i--) {
				*o++ = hex[b[i] & 15];
				*o++ = '.';
				*o++ = hex[b[i] >> 4];
				*o++ = '.';
			}
			o[-1] = 0;
		}
	} else
		return;
	for (size_t i = 0; i < nz; i++) {
		if (join(name, sizeof name, rev, z[i].name) == 0 &&
		    listed(name, "smtp dnsbl", end) == 1) {
			test_name("DNSBL_", z[i].name, test);
			spam_add(r, test, z[i].points);
			log_info("smtp dnsbl %s listed in %s", ip, z[i].name);
		}
	}
}

struct hosts {
	char h[URIBL_HOSTS_MAX][DNS_NAME_MAX + 1];
	size_t n;
};

static void host_tok(void *arg, const char *tok, size_t n)
{
	struct hosts *hs = arg;
	if (hs->n >= URIBL_HOSTS_MAX || n <= 4 || memcmp(tok, "url:", 4) != 0)
		return;
	tok += 4;
	n -= 4;
	if (n > DNS_NAME_MAX - 80 || !memchr(tok, '.', n))
		return;
	int letter = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tok[i];
		if ((c >= 'a' && c <= 'z') || c == '-' || c == '_')
			letter = 1;
		else if (!(c >= '0' && c <= '9') && c != '.')
			return; /* not a plain DNS name (IDN bytes, a port, ...) */
	}
	if (!letter || tok[0] == '.' || tok[n - 1] == '.')
		return; /* an IP literal, or not a name */
	for (size_t i = 0; i < hs->n; i++)
		if (strlen(hs->h[i]) == n && memcmp(hs->h[i], tok, n) == 0)
			return;
	memcpy(hs->h[hs->n], tok, n);
	hs->h[hs->n++][n] = 0;
}

void uribl_check(const char *list, const char *msg, size_t len, const char *id,
		 struct spam_result *r)
{
	struct zone z[DNSBL_ZONES_MAX];
	size_t nz;
	char err[256], name[2 * DNS_NAME_MAX + 2], test[SPAM_NAME_MAX + 1], ctx[64];

	snprintf(ctx, sizeof ctx, "smtp id=%s uribl", id);
	if (zones_parse(list, z, &nz, err, sizeof err) < 0 || nz == 0)
		return;
	struct hosts *hs = calloc(1, sizeof *hs);
	if (!hs)
		return;
	int64_t end = now_ms() + DNSBL_BUDGET_MS;
	spam_tokenize(msg, len, host_tok, hs);
	for (size_t i = 0; i < nz; i++)
		for (size_t j = 0; j < hs->n; j++) {
			int l = join(name, sizeof name, hs->h[j], z[i].name) == 0
				    ? listed(name, ctx, end)
				    : 0;
			if (l == 1) {
				test_name("URIBL_", z[i].name, test);
				spam_add(r, test, z[i].points);
				log_info("smtp id=%s uribl %s listed in %s", id, hs->h[j],
					 z[i].name);
			}
			if (l != 0)
				break; /* one test per zone; a silent zone is not asked again */
		}
	free(hs);
}
