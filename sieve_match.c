/*
 * sieve_match.c — Sieve comparators (RFC 4790: i;octet, i;ascii-casemap,
 * i;ascii-numeric) and match types (RFC 5228 2.7 :is/:contains/:matches,
 * RFC 5231 :value/:count, draft-ietf-sieve-regex :regex) with the match
 * groups of RFC 5229 3.2.
 *
 * Bounded: a :matches pattern has at most SV_GLOB_STARS '*' wildcards and
 * its backtracking remembers failed (pattern, text) positions, so it costs
 * at most pattern x text steps; a :regex pattern is refused when it could
 * backtrack catastrophically (see sv_regex_check) and runs on at most
 * SIEVE_REGEX_INPUT_MAX bytes of the value.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"
#include "util.h"

#define SV_GLOB_STARS 64

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* i;ascii-numeric (RFC 4790 9.1): the leading digits as a number; a string
 * without them is positive infinity, equal to any other such string. */
static int cmp_numeric(const char *a, const char *b)
{
	int da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
	if (!da || !db)
		return da ? -1 : db ? 1 : 0;
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	size_t la = 0, lb = 0;
	while (a[la] >= '0' && a[la] <= '9')
		la++;
	while (b[lb] >= '0' && b[lb] <= '9')
		lb++;
	if (la != lb)
		return la < lb ? -1 : 1;
	int c = memcmp(a, b, la);
	return c < 0 ? -1 : c > 0;
}

int sv_cmp(int cmp, const char *a, const char *b)
{
	if (cmp == CMP_NUMERIC)
		return cmp_numeric(a, b);
	for (;; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;
		if (cmp == CMP_CASEMAP) {
			x = lower(x);
			y = lower(y);
		}
		if (x != y || !x)
			return x < y ? -1 : x > y;
	}
}

static int ch_eq(int cmp, int x, int y)
{
	if (cmp == CMP_CASEMAP)
		return lower((unsigned char)x) == lower((unsigned char)y);
	return x == y;
}

static int contains(int cmp, const char *v, const char *k)
{
	size_t n = strlen(v), m = strlen(k);
	if (m > n)
		return 0;
	for (size_t i = 0; i + m <= n; i++) {
		size_t j = 0;
		while (j < m && ch_eq(cmp, v[i + j], k[j]))
			j++;
		if (j == m)
			return 1;
	}
	return 0;
}

/* ---- :matches ---- */
struct glob {
	const char *p, *t;
	size_t np, nt;
	int cmp;
	unsigned char *failed; /* (np+1) x (nt+1) bits, or NULL */
	const char *cap_s[SV_GROUPS * 8];
	size_t cap_n[SV_GROUPS * 8];
	int ncap;
};

static size_t utf8_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return l > n ? n : l;
}

static int memo_get(struct glob *g, size_t i, size_t j)
{
	size_t k = i * (g->nt + 1) + j;
	return g->failed && (g->failed[k / 8] >> (k % 8) & 1);
}

static void memo_set(struct glob *g, size_t i, size_t j)
{
	size_t k = i * (g->nt + 1) + j;
	if (g->failed)
		g->failed[k / 8] |= (unsigned char)(1 << (k % 8));
}

/* Wildcards take as little as they can, left to right (Pigeonhole does the
 * same; RFC 5229 leaves the choice open). cap = index of the next group. */
static int glob_at(struct glob *g, size_t i, size_t j, int cap)
{
	size_t i0 = i, j0 = j;
	while (i < g->np) {
		char c = g->p[i];
		if (c == '*') {
			for (size_t k = j; k <= g->nt; k++) {
				if (memo_get(g, i + 1, k))
					continue;
				if (glob_at(g, i + 1, k, cap + 1)) {
					if (cap < (int)ARRAY_LEN(g->cap_s)) {
						g->cap_s[cap] = g->t + j;
						g->cap_n[cap] = k - j;
					}
					return 1;
				}
				memo_set(g, i + 1, k);
				if (k < g->nt)
					k += utf8_len(g->t + k, g->nt - k) - 1;
			}
			return 0;
		}
		if (j >= g->nt)
			return 0;
		if (c == '?') {
			size_t l = utf8_len(g->t + j, g->nt - j);
			if (cap < (int)ARRAY_LEN(g->cap_s)) {
				g->cap_s[cap] = g->t + j;
				g->cap_n[cap] = l;
			}
			cap++;
			j += l;
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < g->np)
			c = g->p[++i];
		if (!ch_eq(g->cmp, c, g->t[j]))
			return 0;
		i++;
		j++;
	}
	(void)i0;
	(void)j0;
	if (j == g->nt) {
		g->ncap = cap;
		return 1;
	}
	return 0;
}

static void set_group(struct sv_groups *gr, int i, const char *s, size_t n)
{
	if (i >= SV_GROUPS)
		return;
	free(gr->g[i]);
	gr->g[i] = xstrndup(s, n);
	if (i + 1 > gr->n)
		gr->n = i + 1;
}

static int glob_match(int cmp, const char *v, const char *k, struct sv_groups *gr, char *err,
		      size_t errlen)
{
	struct glob g = {.p = k, .t = v, .np = strlen(k), .nt = strlen(v), .cmp = cmp};
	int stars = 0;
	for (size_t i = 0; i < g.np; i++) {
		if (k[i] == '\\')
			i++;
		else if (k[i] == '*')
			stars++;
	}
	if (stars > SV_GLOB_STARS) {
		snprintf(err, errlen, ":matches pattern with more than %d '*'", SV_GLOB_STARS);
		return -1;
	}
	size_t bits = (g.np + 1) * (g.nt + 1);
	if (stars > 1) {
		if (bits > 64u * 1024 * 1024) {
			snprintf(err, errlen, ":matches pattern and value too large together");
			return -1;
		}
		g.failed = xcalloc(bits / 8 + 1, 1);
	}
	int r = glob_at(&g, 0, 0, 1);
	free(g.failed);
	if (r && gr) {
		sv_groups_clear(gr);
		set_group(gr, 0, v, g.nt);
		for (int i = 1; i < g.ncap && i < SV_GROUPS; i++)
			set_group(gr, i, g.cap_s[i], g.cap_n[i]);
	}
	return r;
}

/* ---- :regex ---- */
/* The rule: no back-references (\1..\9), no quantifier on a group that
 * itself holds a quantifier or an alternation ("(a+)+", "(a|aa)*"), no
 * {n,m} bound above 100, at most SIEVE_REGEX_MAX bytes. Together these
 * keep glibc's matcher polynomial. */
int sv_regex_check(const char *re, char *err, size_t errlen)
{
	size_t n = strlen(re);
	if (n > SIEVE_REGEX_MAX) {
		snprintf(err, errlen, "regex longer than %d bytes", SIEVE_REGEX_MAX);
		return -1;
	}
	int stack_q[64] = {0}, depth = 0, last_group_q = 0;
	int in_class = 0, prev_quant = 0;
	long bound_sum = 0;
	for (size_t i = 0; i < n; i++) {
		char c = re[i];
		if (in_class) {
			if (c == ']')
				in_class = 0;
			continue;
		}
		int quant = c == '*' || c == '+' || c == '?' || c == '{';
		if (quant && prev_quant) { /* "a++", "a*{2}": glibc's regcomp blows up */
			snprintf(err, errlen,
				 "regex with a quantifier on a quantifier is not allowed");
			return -1;
		}
		prev_quant = quant;
		if (c == '\\' && i + 1 < n) {
			if (re[i + 1] >= '1' && re[i + 1] <= '9') {
				snprintf(err, errlen, "regex back-references are not allowed");
				return -1;
			}
			i++;
			last_group_q = 0;
			continue;
		}
		if (c == '[') {
			in_class = 1;
			if (i + 1 < n && re[i + 1] == '^')
				i++;
			if (i + 1 < n && re[i + 1] == ']')
				i++;
			last_group_q = 0;
			continue;
		}
		if (c == '(') {
			if (depth == 64) {
				snprintf(err, errlen, "regex nested too deeply");
				return -1;
			}
			stack_q[depth++] = 0;
			last_group_q = 0;
			continue;
		}
		if (c == ')') {
			last_group_q = depth ? stack_q[--depth] | 2 : 0;
			if (depth && (last_group_q & 1))
				stack_q[depth - 1] |= 1;
			continue;
		}
		if (c == '|') {
			if (depth)
				stack_q[depth - 1] |= 1;
			last_group_q = 0;
			continue;
		}
		if (quant) {
			if (c == '{') {
				long lo = strtol(re + i + 1, NULL, 10);
				const char *comma = strchr(re + i, ',');
				const char *close = strchr(re + i, '}');
				long hi = comma && close && comma < close
					      ? strtol(comma + 1, NULL, 10)
					      : lo;
				/* glibc's matcher costs about the sum of the
				 * bounds times the input: bound the sum */
				bound_sum += lo > hi ? lo : hi;
				if (lo > 100 || hi > 100 || bound_sum > 100) {
					snprintf(err, errlen,
						 "regex repetition bounds above 100 in all");
					return -1;
				}
				if (close)
					i = (size_t)(close - re);
			}
			if ((last_group_q & 3) == 3) {
				snprintf(
				    err, errlen,
				    "regex with a quantified group that holds a quantifier or '|' "
				    "(catastrophic backtracking) is not allowed");
				return -1;
			}
			if (depth)
				stack_q[depth - 1] |= 1;
			last_group_q = 0;
			continue;
		}
		last_group_q = 0;
	}
	regex_t rx;
	int rc = regcomp(&rx, re, REG_EXTENDED);
	if (rc) {
		char m[128];
		regerror(rc, &rx, m, sizeof m);
		snprintf(err, errlen, "bad regex: %s", m);
		return -1;
	}
	regfree(&rx);
	return 0;
}

static int regex_match(int cmp, const char *v, const char *k, struct sv_groups *gr, char *err,
		       size_t errlen)
{
	if (sv_regex_check(k, err, errlen))
		return -1;
	regex_t rx;
	if (regcomp(&rx, k, REG_EXTENDED | (cmp == CMP_CASEMAP ? REG_ICASE : 0)))
		return -1; /* checked above */
	size_t n = strlen(v);
	char *cut = NULL;
	if (n > SIEVE_REGEX_INPUT_MAX)
		v = cut = xstrndup(v, SIEVE_REGEX_INPUT_MAX);
	regmatch_t m[SV_GROUPS];
	int r = regexec(&rx, v, SV_GROUPS, m, 0) == 0;
	if (r && gr) {
		sv_groups_clear(gr);
		for (int i = 0; i < SV_GROUPS; i++)
			if (m[i].rm_so >= 0)
				set_group(gr, i, v + m[i].rm_so, (size_t)(m[i].rm_eo - m[i].rm_so));
			else
				set_group(gr, i, "", 0);
	}
	regfree(&rx);
	free(cut);
	return r;
}

static int rel_ok(int rel, int c)
{
	switch (rel) {
	case REL_GT:
		return c > 0;
	case REL_GE:
		return c >= 0;
	case REL_LT:
		return c < 0;
	case REL_LE:
		return c <= 0;
	case REL_EQ:
		return c == 0;
	default:
		return c != 0;
	}
}

int sv_match(int mt, int rel, int cmp, const char *value, const char *key, struct sv_groups *gr,
	     char *err, size_t errlen)
{
	switch (mt) {
	case MT_IS:
		return sv_cmp(cmp, value, key) == 0;
	case MT_CONTAINS:
		return contains(cmp, value, key);
	case MT_MATCHES:
		return glob_match(cmp, value, key, gr, err, errlen);
	case MT_REGEX:
		return regex_match(cmp, value, key, gr, err, errlen);
	default: /* :value and :count (the count arrives as the value) */
		return rel_ok(rel, sv_cmp(cmp, value, key));
	}
}

void sv_groups_clear(struct sv_groups *g)
{
	for (int i = 0; i < SV_GROUPS; i++) {
		free(g->g[i]);
		g->g[i] = NULL;
	}
	g->n = 0;
}
