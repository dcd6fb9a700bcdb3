/*
 * message_text.c — a message's text for SEARCH: transfer decodings
 * (base64, quoted-printable), charsets to UTF-8, RFC 2047 encoded words in
 * header fields, and the case-insensitive substring search over a MIME
 * tree's headers and text parts. Split from message.c (STYLE: ~1,500
 * lines), which parses the tree and renders ENVELOPE/BODYSTRUCTURE.
 */
#include "message.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------------------------------------------------------- decoding */

static void b64_dec(struct sbuf *out, const char *in, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=')
			break;
		int v = b64_value((unsigned char)in[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char c = (char)((acc >> bits) & 0xff);
			sbuf_add(out, &c, 1);
		}
	}
}

/* RFC 2045 6.7; rfc2047 turns '_' into a space (RFC 2047 4.2). */
static void qp_dec(struct sbuf *out, const char *in, size_t n, int rfc2047)
{
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '=' && i + 2 < n + 0 && hex_value((unsigned char)in[i + 1]) >= 0 &&
		    hex_value((unsigned char)in[i + 2]) >= 0) {
			c = (char)(hex_value((unsigned char)in[i + 1]) * 16 +
				   hex_value((unsigned char)in[i + 2]));
			i += 2;
		} else if (c == '=' && !rfc2047) {
			/* soft line break: "=" then optional white space then CRLF */
			size_t j = i + 1;
			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < n && in[j] == '\r')
				j++;
			if (j < n && in[j] == '\n') {
				i = j;
				continue;
			}
			if (j >= n) {
				i = j;
				continue;
			}
		} else if ((c == ' ' || c == '\t') && !rfc2047) {
			/* RFC 2045 6.7 rule 3: white space at the end of an
			 * encoded line was added on the way; delete it. */
			size_t j = i;
			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < n && in[j] != '\n' && (in[j] != '\r' || (j + 1 < n && in[j + 1] != '\n')))
				sbuf_add(out, in + i, j - i);
			i = j - 1;
			continue;
		} else if (c == '_' && rfc2047) {
			c = ' ';
		}
		sbuf_add(out, &c, 1);
	}
}

void mime_decode_body(struct sbuf *out, const char *in, size_t n, int enc)
{
	if (enc == CTE_BASE64)
		b64_dec(out, in, n);
	else if (enc == CTE_QP)
		qp_dec(out, in, n, 0);
	else
		sbuf_add(out, in, n);
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Windows-1252 0x80-0x9F (the WHATWG / Unicode published mapping); 0 marks
 * the five unassigned bytes (81 8D 8F 90 9D). Every other byte >= 0xA0 is
 * the Latin-1 code point. */
static const unsigned short cp1252_80[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017d, 0,
    0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178};

/* ISO-8859-15 differs from ISO-8859-1 in eight bytes (ISO/IEC 8859-15:1999). */
static unsigned latin9(unsigned char b)
{
	switch (b) {
	case 0xa4: return 0x20ac; /* EURO SIGN */
	case 0xa6: return 0x0160; /* S WITH CARON */
	case 0xa8: return 0x0161; /* s with caron */
	case 0xb4: return 0x017d; /* Z WITH CARON */
	case 0xb8: return 0x017e; /* z with caron */
	case 0xbc: return 0x0152; /* LIGATURE OE */
	case 0xbd: return 0x0153; /* ligature oe */
	case 0xbe: return 0x0178; /* Y WITH DIAERESIS */
	default: return b;
	}
}

enum single_byte { SB_NONE, SB_LATIN1, SB_LATIN9, SB_CP1252 };

static enum single_byte single_byte_charset(const char *cs)
{
	if (!cs)
		return SB_NONE;
	if (str_casecmp_ascii(cs, "iso-8859-1") == 0 || str_casecmp_ascii(cs, "latin1") == 0)
		return SB_LATIN1;
	if (str_casecmp_ascii(cs, "iso-8859-15") == 0)
		return SB_LATIN9;
	if (str_casecmp_ascii(cs, "windows-1252") == 0 || str_casecmp_ascii(cs, "cp1252") == 0)
		return SB_CP1252;
	return SB_NONE;
}

/* One byte >= 0x80 of a single-byte charset as UTF-8 ('?' if unassigned). */
static void single_byte_put(struct sbuf *out, unsigned char b, enum single_byte sb)
{
	unsigned cp = b;
	if (sb == SB_LATIN9)
		cp = latin9(b);
	else if (sb == SB_CP1252 && b < 0xa0)
		cp = cp1252_80[b - 0x80];
	if (cp == 0) {
		sbuf_add(out, "?", 1);
	} else if (cp < 0x800) {
		char u[2] = {(char)(0xc0 | (cp >> 6)), (char)(0x80 | (cp & 0x3f))};
		sbuf_add(out, u, 2);
	} else {
		char u[3] = {(char)(0xe0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3f)),
			     (char)(0x80 | (cp & 0x3f))};
		sbuf_add(out, u, 3);
	}
}

void mime_to_utf8(struct sbuf *out, const char *in, size_t n, const char *cs)
{
	enum single_byte sb = single_byte_charset(cs);
	const unsigned char *s = (const unsigned char *)in;

	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			size_t j = i + 1; /* a run of ASCII in one add */
			while (j < n && s[j] < 0x80)
				j++;
			sbuf_add(out, s + i, j - i);
			i = j;
		} else if (sb != SB_NONE) {
			single_byte_put(out, s[i], sb);
			i++;
		} else {
			size_t l = utf8_len(s + i, n - i);
			if (l) {
				sbuf_add(out, s + i, l);
				i += l;
			} else {
				sbuf_add(out, "?", 1);
				i++;
			}
		}
	}
}

/* One "=?charset?X?text?=" at s (length n): its end, or 0. */
static size_t encoded_word(const char *s, size_t n, struct sbuf *out)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	const char *cs = s + 2, *e = s + n;
	const char *q1 = memchr(cs, '?', (size_t)(e - cs));
	if (!q1 || q1 + 3 >= e || q1[2] != '?')
		return 0;
	char enc = (char)toupper((unsigned char)q1[1]);
	if (enc != 'Q' && enc != 'B')
		return 0;
	const char *txt = q1 + 3, *end = txt;
	while (end + 1 < e && !(end[0] == '?' && end[1] == '='))
		end++;
	if (end + 1 >= e)
		return 0;
	for (const char *p = txt; p < end; p++)
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			return 0;
	char charset[64];
	size_t cl = (size_t)(q1 - cs);
	if (cl == 0 || cl >= sizeof charset)
		return 0;
	memcpy(charset, cs, cl);
	charset[cl] = 0;
	char *star = strchr(charset, '*'); /* RFC 2231 5: language */
	if (star)
		*star = 0;
	struct sbuf raw = {0};
	if (enc == 'B')
		b64_dec(&raw, txt, (size_t)(end - txt));
	else
		qp_dec(&raw, txt, (size_t)(end - txt), 1);
	mime_to_utf8(out, raw.p ? raw.p : "", raw.len, charset);
	sbuf_free(&raw);
	return (size_t)(end + 2 - s);
}

char *mime_decode_words(const char *v, size_t n)
{
	struct sbuf out = {0};
	size_t i = 0;
	int last_was_word = 0;

	while (i < n) {
		size_t w = encoded_word(v + i, n - i, &out);
		if (w) {
			i += w;
			last_was_word = 1;
			/* RFC 2047 6.2: white space between encoded words goes. */
			size_t j = i;
			while (j < n &&
			       (v[j] == ' ' || v[j] == '\t' || v[j] == '\r' || v[j] == '\n'))
				j++;
			if (j < n && j > i && v[j] == '=' && j + 1 < n && v[j + 1] == '?') {
				struct sbuf probe = {0};
				if (encoded_word(v + j, n - j, &probe))
					i = j;
				sbuf_free(&probe);
			}
			continue;
		}
		(void)last_was_word;
		if (v[i] == '\r' || v[i] == '\n') {
			i++;
			continue;
		}
		size_t start = i;
		while (i < n && !(v[i] == '=' && i + 1 < n && v[i + 1] == '?') && v[i] != '\r' &&
		       v[i] != '\n')
			i++;
		if (i == start)
			i++;
		mime_to_utf8(&out, v + start, i - start, "utf-8");
	}
	sbuf_add(&out, NULL, 0);
	return out.p;
}

int mime_contains(const char *hay, size_t n, const char *needle, size_t m)
{
	if (m == 0)
		return 1;
	if (m > n)
		return 0;
	int first = tolower((unsigned char)needle[0]);
	for (size_t i = 0; i + m <= n; i++) {
		if (tolower((unsigned char)hay[i]) != first)
			continue;
		size_t k = 1;
		while (k < m &&
		       tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
			k++;
		if (k == m)
			return 1;
	}
	return 0;
}

/* --------------------------------------------------------- text search */

static int read_range(const struct msg_src *src, uint64_t off, uint64_t n, struct sbuf *out)
{
	char buf[16384];
	while (n > 0) {
		size_t want = n > sizeof buf ? sizeof buf : (size_t)n;
		long got = src->read(src->arg, off, buf, want);
		if (got <= 0)
			return -1;
		sbuf_add(out, buf, (size_t)got);
		off += (uint64_t)got;
		n -= (uint64_t)got;
	}
	return 0;
}

/* A message node's header fields as the text SEARCH TEXT looks at: one
 * "name: decoded value\n" line per field, from the first MIME_HDR_MAX bytes. */
static void header_text(const struct mime_part *p, const struct msg_src *src, struct sbuf *dec)
{
	struct sbuf h = {0};
	size_t pos = 0, nl, vl;
	const char *name, *val;
	uint64_t n = p->hdr_size > MIME_HDR_MAX ? MIME_HDR_MAX : p->hdr_size;

	if (read_range(src, p->hdr_off, n, &h) == 0 && h.p) {
		while (mime_hdr_next(h.p, h.len, &pos, &name, &nl, &val, &vl)) {
			char *d = mime_decode_words(val, vl);
			sbuf_add(dec, name, nl);
			sbuf_puts(dec, ": ");
			sbuf_puts(dec, d);
			sbuf_puts(dec, "\n");
			free(d);
		}
	}
	sbuf_free(&h);
}

/* A text entity's body, transfer-decoded and converted to UTF-8. */
static void body_text(const struct mime_part *p, const struct msg_src *src, struct sbuf *txt)
{
	struct sbuf raw = {0}, dec = {0};

	if (read_range(src, p->body_off, p->body_size, &raw) == 0) {
		mime_decode_body(&dec, raw.p ? raw.p : "", raw.len, mime_cte(p));
		mime_to_utf8(txt, dec.p ? dec.p : "", dec.len,
			     mime_param(p->params, p->nparams, "charset"));
	}
	sbuf_free(&raw);
	sbuf_free(&dec);
}

struct text_walk {
	const struct msg_src *src;
	int headers;
	uint64_t budget;              /* body bytes still allowed */
	int truncated;
	int (*cb)(void *arg, const char *text, size_t n);
	void *arg;
};

static int text_walk(struct text_walk *w, const struct mime_part *p)
{
	struct sbuf t = {0};
	int stop = 0;

	if (w->headers && p->is_message) {
		header_text(p, w->src, &t);
		stop = t.p && w->cb(w->arg, t.p, t.len);
		sbuf_free(&t);
		if (stop)
			return 1;
	}
	if (p->multipart || p->rfc822) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			if (text_walk(w, c))
				return 1;
		return 0;
	}
	if (p->type && str_casecmp_ascii(p->type, "text") != 0 &&
	    str_casecmp_ascii(p->type, "message") != 0)
		return 0;
	if (p->body_size > w->budget) {
		w->truncated = 1;
		return 0;
	}
	w->budget -= p->body_size;
	body_text(p, w->src, &t);
	stop = t.p && w->cb(w->arg, t.p, t.len);
	sbuf_free(&t);
	return stop;
}

int mime_text_each(const struct mime_part *root, const struct msg_src *src, int headers,
		   uint64_t budget, int (*cb)(void *arg, const char *text, size_t n), void *arg)
{
	struct text_walk w = {.src = src, .headers = headers, .budget = budget, .cb = cb, .arg = arg};
	text_walk(&w, root);
	return w.truncated;
}

struct needle {
	const char *s;
	size_t n;
	int hit;
};

static int needle_cb(void *arg, const char *text, size_t n)
{
	struct needle *nd = arg;
	nd->hit = mime_contains(text, n, nd->s, nd->n);
	return nd->hit;
}

int mime_search_text(const struct mime_part *p, const struct msg_src *src, const char *needle,
		     int headers)
{
	struct needle nd = {needle, strlen(needle), 0};
	mime_text_each(p, src, headers, UINT64_MAX, needle_cb, &nd);
	return nd.hit;
}
