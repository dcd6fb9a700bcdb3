/*
 * message_preview.c — preview text (preview.h): choosing the part,
 * reducing HTML to text, folding white space, cutting at a character
 * boundary. Decoding itself is message_text.c's (mime_decode_body,
 * mime_to_utf8); this file only decides what to show.
 */
#include "preview.h"

#include <string.h>

#include "util.h"

static int is_type(const struct mime_part *p, const char *type, const char *sub)
{
	const char *t = p->type ? p->type : "text", *s = p->subtype ? p->subtype : "plain";
	if (!p->type && p->subtype) /* a subtype without type: take it as given */
		t = "text";
	return str_casecmp_ascii(t, type) == 0 && (!sub || str_casecmp_ascii(s, sub) == 0);
}

static int is_attachment(const struct mime_part *p)
{
	return p->disp && str_casecmp_ascii(p->disp, "attachment") == 0;
}

/* The part to preview: depth first, the first text/plain or text/html
 * leaf that is not an attachment; inside multipart/alternative the plain
 * one is preferred. message/rfc822 parts are attachments: not entered. */
static const struct mime_part *pick(const struct mime_part *p, int depth)
{
	if (depth > MIME_DEPTH_MAX)
		return NULL;
	if (p->multipart) {
		int alt = p->subtype && str_casecmp_ascii(p->subtype, "alternative") == 0;
		const struct mime_part *html = NULL;
		for (const struct mime_part *c = p->children; c; c = c->next) {
			const struct mime_part *got = pick(c, depth + 1);
			if (!got)
				continue;
			if (!alt || is_type(got, "text", "plain"))
				return got;
			if (!html)
				html = got;
		}
		return html;
	}
	if (p->rfc822 || is_attachment(p))
		return NULL;
	if (is_type(p, "text", "plain") || is_type(p, "text", "html"))
		return p;
	return NULL;
}

/* One Unicode character from s (n > 0 bytes): its length, or 0 for a byte
 * that starts no valid UTF-8 sequence. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong or surrogate */
	return len;
}

static void put_cp(struct sbuf *b, unsigned cp)
{
	char u[4];
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		sbuf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 4);
	}
}

/* "&amp;" and friends at s (n bytes, s[0] == '&'): appends the character
 * and returns the bytes used, or 0 when it is no entity we know. */
static size_t entity(const char *s, size_t n, struct sbuf *out)
{
	static const struct {
		const char *name;
		unsigned cp;
	} named[] = {{"amp", '&'},	 {"lt", '<'},	    {"gt", '>'},       {"quot", '"'},
		     {"apos", '\''},	 {"nbsp", ' '},	    {"copy", 0xa9},    {"reg", 0xae},
		     {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"rsquo", 0x2019},
		     {"lsquo", 0x2018},	 {"rdquo", 0x201d}, {"ldquo", 0x201c}, {"euro", 0x20ac},
		     {"zwnj", 0x200c}};
	size_t end = 1;
	while (end < n && end < 12 && s[end] != ';')
		end++;
	if (end >= n || s[end] != ';' || end == 1)
		return 0;
	if (s[1] == '#') {
		unsigned long cp = 0;
		int hex = end > 2 && (s[2] == 'x' || s[2] == 'X');
		size_t i = hex ? 3 : 2;
		if (i == end)
			return 0;
		for (; i < end; i++) {
			int v = hex ? hex_value((unsigned char)s[i])
				    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
			if (v < 0)
				return 0;
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
			if (cp > 0x10ffff)
				cp = 0xfffd;
		}
		put_cp(out, (unsigned)cp);
		return end + 1;
	}
	for (size_t k = 0; k < ARRAY_LEN(named); k++)
		if (strlen(named[k].name) == end - 1 &&
		    memcmp(s + 1, named[k].name, end - 1) == 0) {
			put_cp(out, named[k].cp);
			return end + 1;
		}
	return 0;
}

/* Whether the tag at s (after '<') is name (case-insensitively), followed
 * by white space, '>' or '/'. */
static int tag_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n < k || str_ncasecmp_ascii(s, name, k) != 0)
		return 0;
	return n == k || s[k] == '>' || s[k] == ' ' || s[k] == '\t' || s[k] == '\r' ||
	       s[k] == '\n' || s[k] == '/';
}

/* HTML to text: tags become a space, comments and the content of
 * <head>, <style>, <script> and <title> go, entities are decoded. */
static void html_text(const char *s, size_t n, struct sbuf *out)
{
	static const char *const skip[] = {"head", "style", "script", "title"};
	size_t i = 0;
	while (i < n) {
		if (s[i] == '&') {
			size_t used = entity(s + i, n - i, out);
			if (used) {
				i += used;
				continue;
			}
		}
		if (s[i] != '<') {
			sbuf_add(out, s + i, 1);
			i++;
			continue;
		}
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = e ? (size_t)(e - s) + 3 : n;
			continue;
		}
		const char *closer = NULL;
		for (size_t k = 0; k < ARRAY_LEN(skip); k++)
			if (tag_is(s + i + 1, n - i - 1, skip[k]))
				closer = skip[k];
		const char *gt = memchr(s + i, '>', n - i);
		i = gt ? (size_t)(gt - s) + 1 : n;
		if (closer) { /* to the matching "</name" */
			while (i < n && !(s[i] == '<' && i + 1 < n && s[i + 1] == '/' &&
					  tag_is(s + i + 2, n - i - 2, closer)))
				i++;
			gt = i < n ? memchr(s + i, '>', n - i) : NULL;
			i = gt ? (size_t)(gt - s) + 1 : n;
		}
		sbuf_add(out, " ", 1);
	}
}

/* White space and controls folded, trimmed, cut at PREVIEW_CHARS
 * characters, invalid UTF-8 replaced. */
static void fold_cut(const char *s, size_t n, struct sbuf *out)
{
	size_t chars = 0, i = 0;
	int space = 0;
	while (i < n && chars < PREVIEW_CHARS) {
		unsigned char c = (unsigned char)s[i];
		size_t len = utf8_char((const unsigned char *)s + i, n - i);
		int ws = c < 0x20 || c == 0x7f || c == ' ';
		/* U+00A0 (no-break space) and U+200B..U+200D fold too */
		if (len == 2 && c == 0xc2 && (unsigned char)s[i + 1] == 0xa0)
			ws = 1;
		if (len == 3 && c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
		    (unsigned char)s[i + 2] >= 0x8b && (unsigned char)s[i + 2] <= 0x8d)
			ws = 1;
		if (ws) {
			space = 1;
			i += len ? len : 1;
			continue;
		}
		if (space && chars > 0) {
			sbuf_add(out, " ", 1);
			if (++chars == PREVIEW_CHARS)
				break;
		}
		space = 0;
		if (len)
			sbuf_add(out, s + i, len);
		else
			put_cp(out, 0xfffd);
		chars++;
		i += len ? len : 1;
	}
}

int mime_preview(const struct mime_part *root, const struct msg_src *src, struct sbuf *out)
{
	const struct mime_part *p = pick(root, 0);
	if (!p)
		return 0;
	uint64_t want = p->body_size > PREVIEW_READ_MAX ? PREVIEW_READ_MAX : p->body_size;
	struct sbuf raw = {0}, dec = {0}, txt = {0}, plain = {0};
	char buf[16384];
	uint64_t off = p->body_off, left = want;
	while (left > 0) {
		long got =
		    src->read(src->arg, off, buf, left < sizeof buf ? (size_t)left : sizeof buf);
		if (got <= 0)
			break;
		sbuf_add(&raw, buf, (size_t)got);
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	mime_decode_body(&dec, raw.p ? raw.p : "", raw.len, mime_cte(p));
	mime_to_utf8(&txt, dec.p ? dec.p : "", dec.len,
		     mime_param(p->params, p->nparams, "charset"));
	const struct sbuf *use = &txt;
	if (is_type(p, "text", "html")) {
		html_text(txt.p ? txt.p : "", txt.len, &plain);
		use = &plain;
	}
	fold_cut(use->p ? use->p : "", use->len, out);
	sbuf_free(&raw);
	sbuf_free(&dec);
	sbuf_free(&txt);
	sbuf_free(&plain);
	return 1;
}
