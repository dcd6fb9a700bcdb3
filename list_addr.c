/*
 * list_addr.c — a mailing list's addresses as text (list_addr.h).
 *
 * VERP (variable envelope return path): each member's copy leaves with its
 * own envelope sender, LIST-bounces+bob=example.net@DOMAIN, so a bounce
 * names its member by the address it comes back to, whatever the
 * bounce's own format. The member's '@' becomes the last '=' (a domain
 * never holds '='); its local part is kept as it is, '=' and '+' included.
 */
#include "list_addr.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define ADDR_MAX 254

static int plain_addr(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(a);
	if (!at || at == a || !at[1] || n > ADDR_MAX)
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f)
			return 0;
	return 1;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
	size_t l = strlen(suf);
	return n > l && memcmp(s + n - l, suf, l) == 0;
}

int list_addr_parse(const char *addr, char *list, size_t cap, int *kind, char *member,
		    size_t mcap)
{
	const char *at = strrchr(addr, '@'), *plus;
	size_t ll, bl;
	if (member && mcap)
		member[0] = 0;
	if (!plain_addr(addr) || cap <= ADDR_MAX)
		return -1;
	ll = (size_t)(at - addr);
	/* the tag starts at the first '+': a list's name has none */
	plus = memchr(addr, '+', ll);
	bl = plus ? (size_t)(plus - addr) : ll;
	if (ends_with(addr, bl, "-bounces")) {
		*kind = LIST_TO_BOUNCES;
		bl -= 8;
		if (plus && member && mcap) {
			/* local=domain between '+' and '@': the last '=' was the '@' */
			const char *v = plus + 1, *eq = NULL;
			for (const char *p = v; p < at; p++)
				if (*p == '=')
					eq = p;
			if (eq && eq > v && eq + 1 < at && (size_t)(at - v) < mcap) {
				memcpy(member, v, (size_t)(at - v));
				member[eq - v] = '@';
				member[at - v] = 0;
				if (!plain_addr(member) || strchr(strchr(member, '@') + 1, '=') ||
				    member[strlen(member) - 1] == '.')
					member[0] = 0;
			}
		}
	} else if (ends_with(addr, bl, "-request")) {
		*kind = LIST_TO_REQUEST;
		bl -= 8;
	} else if (plus && (size_t)(at - plus) == 10 && !memcmp(plus, "+subscribe", 10)) {
		*kind = LIST_TO_SUB;
	} else if (plus && (size_t)(at - plus) == 12 && !memcmp(plus, "+unsubscribe", 12)) {
		*kind = LIST_TO_UNSUB;
	} else {
		return -1;
	}
	if (!bl)
		return -1;
	snprintf(list, cap, "%.*s%s", (int)bl, addr, at);
	return 0;
}

int list_verp(const char *list, const char *member, char *out, size_t cap)
{
	const char *lat = strrchr(list, '@'), *mat = strrchr(member, '@');
	int n;
	if (!plain_addr(list) || !plain_addr(member))
		return -1;
	/* a '=' in the member's domain could not be told from the '@' */
	if (strchr(mat + 1, '='))
		goto plain;
	n = snprintf(out, cap, "%.*s-bounces+%.*s=%s%s", (int)(lat - list), list,
		     (int)(mat - member), member, mat + 1, lat);
	if (n > 0 && (size_t)n < cap && n <= ADDR_MAX)
		return 0;
plain:
	n = snprintf(out, cap, "%.*s-bounces%s", (int)(lat - list), list, lat);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int list_verp_bounces(const char *bounces, const char *member, char *out, size_t cap)
{
	char list[ADDR_MAX + 1], m[ADDR_MAX + 1];
	int kind;
	if (list_addr_parse(bounces, list, sizeof list, &kind, m, sizeof m) < 0 ||
	    kind != LIST_TO_BOUNCES)
		return -1;
	return list_verp(list, member, out, cap);
}

int list_id(const char *list, char *out, size_t cap)
{
	const char *at = strrchr(list, '@');
	int n;
	if (!plain_addr(list))
		return -1;
	n = snprintf(out, cap, "<%.*s.%s>", (int)(at - list), list, at + 1);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int list_from_addr(const char *value, char *out, size_t cap, char *name, size_t ncap)
{
	const char *lt = NULL, *gt, *s = value, *e;
	int inq = 0;
	size_t n;
	if (name && ncap)
		name[0] = 0;
	/* the last '<' outside a quoted string; a ',' or ';' there: several */
	for (const char *p = value; *p; p++) {
		if (*p == '\\' && inq && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			inq = !inq;
		else if (!inq && (*p == ',' || *p == ';' || *p == ':'))
			return -1;
		else if (!inq && *p == '<')
			lt = p;
	}
	if (lt) {
		if (!(gt = strchr(lt, '>')))
			return -1;
		s = lt + 1;
		e = gt;
		if (name && ncap) {
			const char *a = value, *b = lt;
			size_t o = 0;
			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			for (const char *p = a; p < b && o + 1 < ncap; p++)
				if (*p != '"' && *p != '\\' && (unsigned char)*p >= ' ')
					name[o++] = *p;
			name[o] = 0;
		}
	} else {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
	}
	n = (size_t)(e - s);
	if (!n || n >= cap || n > ADDR_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = 0;
	return plain_addr(out) ? 0 : -1;
}
