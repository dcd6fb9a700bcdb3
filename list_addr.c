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

#include <bearssl.h>
#include <strings.h>

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

/* ---- confirmation tokens ---- */

static int isalnum_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static void token_mac(const unsigned char *key, size_t keylen, char action, const char *hex,
		      const char *list, const char *addr, char out[21])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, key, keylen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, &action, 1);
	br_hmac_update(&hc, hex, 8);
	/* NUL separators: "ab" + "c@d" never hashes like "a" + "bc@d" */
	br_hmac_update(&hc, list, strlen(list) + 1);
	br_hmac_update(&hc, addr, strlen(addr) + 1);
	br_hmac_out(&hc, mac);
	for (int i = 0; i < 20; i++) {
		/* bits 5i .. 5i+4 of the MAC */
		unsigned bit = (unsigned)(5 * i), v = (unsigned)mac[bit / 8] << 8 | mac[bit / 8 + 1];
		out[i] = b32[(v >> (11 - bit % 8)) & 31];
	}
	out[20] = 0;
}

void list_token_make(const unsigned char *key, size_t keylen, char action, long long expiry,
		     const char *list, const char *addr, char *out, size_t cap)
{
	char hex[9], mac[21];
	snprintf(hex, sizeof hex, "%08llx", (unsigned long long)expiry & 0xffffffffULL);
	token_mac(key, keylen, action, hex, list, addr, mac);
	snprintf(out, cap, "%c%s%s", action, hex, mac);
}

int list_token_check(const unsigned char *key, size_t keylen, const char *tok, const char *list,
		     const char *addr, long long now, char *action)
{
	char t[LIST_TOKEN_LEN + 1], mac[21];
	unsigned diff = 0;
	unsigned long long exp = 0;
	if (strlen(tok) != LIST_TOKEN_LEN)
		return -1;
	for (int i = 0; i < LIST_TOKEN_LEN; i++)
		t[i] = (char)(tok[i] >= 'A' && tok[i] <= 'Z' ? tok[i] + 32 : tok[i]);
	t[LIST_TOKEN_LEN] = 0;
	if (t[0] != 's' && t[0] != 'u' && t[0] != 'a' && t[0] != 'r')
		return -1;
	for (int i = 1; i <= 8; i++) {
		char c = t[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		exp = exp << 4 | (unsigned)d;
	}
	token_mac(key, keylen, t[0], t + 1, list, addr, mac);
	for (int i = 0; i < 20; i++)
		diff |= (unsigned)(mac[i] ^ t[9 + i]);
	if (diff)
		return -1;
	if ((long long)exp < now)
		return -2;
	*action = t[0];
	return 0;
}

/* ---- commands ---- */

static int word_at(const char *p, const char *w)
{
	size_t l = strlen(w);
	return !strncasecmp(p, w, l) && !isalnum_ascii(p[l]);
}

/* The command starting at p (after white space), LIST_CMD_NONE if none. */
static int cmd_word(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (word_at(p, "subscribe") || word_at(p, "join"))
		return LIST_CMD_SUBSCRIBE;
	if (word_at(p, "unsubscribe") || word_at(p, "leave") || word_at(p, "remove"))
		return LIST_CMD_UNSUBSCRIBE;
	if (word_at(p, "help"))
		return LIST_CMD_HELP;
	return LIST_CMD_NONE;
}

/* "confirm TOKEN" anywhere in s[0..n): the token into token. */
static int find_confirm(const char *s, size_t n, char *token, size_t cap)
{
	for (size_t i = 0; i + 8 + LIST_TOKEN_LEN <= n; i++) {
		if ((i && isalnum_ascii(s[i - 1])) || strncasecmp(s + i, "confirm ", 8))
			continue;
		const char *t = s + i + 8;
		size_t k = 0;
		while (k < LIST_TOKEN_LEN && t + k < s + n && isalnum_ascii(t[k]))
			k++;
		if (k == LIST_TOKEN_LEN && (t + k == s + n || !isalnum_ascii(t[k])) &&
		    cap > LIST_TOKEN_LEN) {
			memcpy(token, t, LIST_TOKEN_LEN);
			token[LIST_TOKEN_LEN] = 0;
			return 1;
		}
	}
	return 0;
}

int list_cmd_parse(const char *subject, const char *body, size_t bodylen, char *token,
		   size_t cap)
{
	const char *s = subject ? subject : "";
	size_t sl = strlen(s);
	int c;
	if (cap)
		token[0] = 0;
	if (find_confirm(s, sl, token, cap))
		return LIST_CMD_CONFIRM;
	/* "Re: ", "Fwd: ", "AW: " and the like, then the command */
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		const char *colon = strchr(s, ':');
		if (colon && colon - s <= 4 && colon > s) {
			int word = 1;
			for (const char *p = s; p < colon; p++)
				word &= isalnum_ascii(*p);
			if (word) {
				s = colon + 1;
				continue;
			}
		}
		break;
	}
	if ((c = cmd_word(s, s + strlen(s))) != LIST_CMD_NONE)
		return c;
	/* the body's first non-empty line */
	for (size_t i = 0; body && i < bodylen;) {
		const char *e = memchr(body + i, '\n', bodylen - i);
		size_t l = e ? (size_t)(e - body - i) : bodylen - i;
		size_t k = 0;
		while (k < l && (body[i + k] == ' ' || body[i + k] == '\t' || body[i + k] == '\r'))
			k++;
		if (k < l) {
			if (find_confirm(body + i, l, token, cap))
				return LIST_CMD_CONFIRM;
			return cmd_word(body + i, body + i + l);
		}
		i += l + 1;
	}
	return LIST_CMD_NONE;
}
