/*
 * tray/msgparse.c — the text a notification shows, from hostile bytes.
 *
 * Owns: unfolding and RFC 2047 decoding of header values, splitting From:
 * into name and address, finding the first line of text in the first 2 KiB
 * of a message body (MIME multipart, base64, quoted-printable, charsets), and
 * fingerprint normalisation. Everything here is pure (no I/O, no globals) so
 * it can be tested by feeding it strings; every result is valid UTF-8 and
 * bounded to TRAY_FIELD_MAX characters. The IMAP side lives in imapc.c.
 */
#include "tray.h"

#include <ctype.h>
#include <string.h>

void tray_msg_free(struct tray_msg *m)
{
	if (!m)
		return;
	g_free(m->from_name);
	g_free(m->from_addr);
	g_free(m->subject);
	g_free(m->line);
	g_free(m);
}

/* Make s valid UTF-8, drop control characters, collapse white space and cut
 * it to TRAY_FIELD_MAX characters (with an ellipsis). Consumes s. */
static char *tidy(char *s)
{
	char *v = g_utf8_make_valid(s, -1);
	GString *o = g_string_new(NULL);
	int space = 0;
	glong n = 0;

	g_free(s);
	for (const char *p = v; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isspace(c) || g_unichar_iscntrl(c)) {
			space = o->len > 0;
			continue;
		}
		if (n + space >= TRAY_FIELD_MAX) {
			g_string_append(o, "…");
			break;
		}
		if (space)
			g_string_append_c(o, ' '), n++;
		space = 0;
		g_string_append_unichar(o, c);
		n++;
	}
	g_free(v);
	return g_string_free(o, FALSE);
}

/* Bytes in charset cs to UTF-8; unknown charsets and bad bytes fall back to
 * Latin-1-ish replacement through g_utf8_make_valid. New string. */
static char *to_utf8(const char *s, size_t len, const char *cs)
{
	char *r = NULL;

	if (cs && *cs && g_ascii_strcasecmp(cs, "utf-8") && g_ascii_strcasecmp(cs, "us-ascii"))
		r = g_convert_with_fallback(s, len, "UTF-8", cs, "?", NULL, NULL, NULL);
	if (!r)
		r = g_utf8_make_valid(s, len);
	return r;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = g_ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Quoted-printable (RFC 2045 6.7); in_header: RFC 2047 'Q' ('_' is space). */
static GString *qp_decode(const char *s, size_t len, int in_header)
{
	GString *o = g_string_sized_new(len);

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			g_string_append_c(o, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else if (s[i] == '=' && !in_header) {
			/* soft line break "=\r\n" or "=\n" */
			while (i + 1 < len && (s[i + 1] == ' ' || s[i + 1] == '\t'))
				i++;
			if (i + 1 < len && s[i + 1] == '\r')
				i++;
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else if (s[i] == '_' && in_header) {
			g_string_append_c(o, ' ');
		} else {
			g_string_append_c(o, s[i]);
		}
	}
	return o;
}

/* Base64 that tolerates line breaks and a cut-off tail (we only peek at the
 * first 2 KiB, so the last quantum is often incomplete). */
static GString *b64_decode(const char *s, size_t len)
{
	GString *o = g_string_sized_new(len);
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i], v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			g_string_append_c(o, (char)((acc >> bits) & 0xff));
		}
	}
	return o;
}

/* One encoded-word "=?cs?e?text?=" at s (RFC 2047 2); on success append
 * its UTF-8 to o and return its length, else 0. */
static size_t encoded_word(const char *s, size_t len, GString *o)
{
	const char *end = s + len, *cs, *q1, *q2, *q3;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	cs = s + 2;
	q1 = memchr(cs, '?', (size_t)(end - cs));
	if (!q1 || q1 + 3 >= end || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	for (q3 = q2 + 1; q3 + 1 < end; q3++)
		if (q3[0] == '?' && q3[1] == '=')
			break;
	if (q3 + 1 >= end)
		return 0;
	char *charset = g_strndup(cs, (size_t)(q1 - cs));
	char *star = strchr(charset, '*'); /* RFC 2231 5: language suffix */
	if (star)
		*star = 0;
	GString *raw;
	if (q1[1] == 'B' || q1[1] == 'b')
		raw = b64_decode(q2 + 1, (size_t)(q3 - q2 - 1));
	else if (q1[1] == 'Q' || q1[1] == 'q')
		raw = qp_decode(q2 + 1, (size_t)(q3 - q2 - 1), 1);
	else {
		g_free(charset);
		return 0;
	}
	char *u = to_utf8(raw->str, raw->len, charset);
	g_string_append(o, u);
	g_free(u);
	g_free(charset);
	g_string_free(raw, TRUE);
	return (size_t)(q3 + 2 - s);
}

char *tray_decode_header(const char *v, size_t len)
{
	GString *o = g_string_sized_new(len);
	size_t i = 0, pending_ws = 0, ws_start = 0;
	int last_was_word = 0;

	while (i < len) {
		GString *word = g_string_new(NULL);
		size_t n = encoded_word(v + i, len - i, word);
		if (n) {
			/* RFC 2047 6.2: white space between adjacent encoded-words
			 * is dropped; before one that follows plain text it stays. */
			if (pending_ws && !last_was_word)
				g_string_append_c(o, ' ');
			g_string_append_len(o, word->str, (gssize)word->len);
			g_string_free(word, TRUE);
			pending_ws = 0;
			i += n;
			last_was_word = 1;
			continue;
		}
		g_string_free(word, TRUE);
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
			if (!pending_ws)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		if (pending_ws)
			g_string_append_len(o, v + ws_start, (gssize)pending_ws);
		pending_ws = 0;
		last_was_word = 0;
		g_string_append_c(o, v[i]);
		i++;
	}
	return tidy(g_string_free(o, FALSE));
}

char *tray_header_get(const char *hdr, size_t len, const char *name)
{
	size_t nl = strlen(name), i = 0;

	while (i < len) {
		size_t e = i;
		while (e < len && hdr[e] != '\n')
			e++;
		if (e - i > nl && hdr[i + nl] == ':' &&
		    g_ascii_strncasecmp(hdr + i, name, nl) == 0) {
			GString *v = g_string_new(NULL);
			size_t s = i + nl + 1;
			/* RFC 5322 2.2.3: unfold continuation lines */
			for (;;) {
				size_t t = e;
				while (t > s && (hdr[t - 1] == '\r'))
					t--;
				g_string_append_len(v, hdr + s, (gssize)(t - s));
				if (e + 1 < len && (hdr[e + 1] == ' ' || hdr[e + 1] == '\t')) {
					s = e + 1;
					e = s;
					while (e < len && hdr[e] != '\n')
						e++;
					continue;
				}
				break;
			}
			return g_strstrip(g_string_free(v, FALSE));
		}
		i = e + 1;
	}
	return NULL;
}

/* Remove surrounding quotes and quoted-pair backslashes (RFC 5322 3.2.4). */
static char *unquote(const char *s, size_t len)
{
	GString *o = g_string_new(NULL);

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			continue;
		if (s[i] == '\\' && i + 1 < len)
			i++;
		g_string_append_c(o, s[i]);
	}
	return g_strstrip(g_string_free(o, FALSE));
}

void tray_parse_from(const char *from, char **name, char **addr)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	const char *lp, *rp;

	if (lt && gt) {
		*name = unquote(from, (size_t)(lt - from));
		*addr = g_strstrip(g_strndup(lt + 1, (size_t)(gt - lt - 1)));
	} else if ((lp = strchr(from, '(')) && (rp = strrchr(from, ')')) && rp > lp) {
		*name = g_strstrip(g_strndup(lp + 1, (size_t)(rp - lp - 1)));
		*addr = g_strstrip(g_strndup(from, (size_t)(lp - from)));
	} else {
		*name = g_strdup("");
		*addr = g_strstrip(g_strdup(from));
	}
	/* Only the first address of a list is shown. */
	char *comma = strchr(*addr, ',');
	if (comma)
		*comma = 0;
	*name = tidy(*name);
	*addr = tidy(*addr);
}

/* The value of parameter p in a Content-Type value (RFC 2045 5.1), or NULL. */
static char *ct_param(const char *ct, const char *p)
{
	size_t pl = strlen(p);

	for (const char *s = strchr(ct, ';'); s; s = strchr(s + 1, ';')) {
		const char *k = s + 1;
		while (*k == ' ' || *k == '\t')
			k++;
		if (g_ascii_strncasecmp(k, p, pl) || k[pl] != '=')
			continue;
		const char *v = k + pl + 1, *e;
		if (*v == '"') {
			v++;
			e = strchr(v, '"');
			if (!e)
				e = v + strlen(v);
		} else {
			for (e = v; *e && *e != ';' && *e != ' ' && *e != '\t'; e++)
				;
		}
		return g_strndup(v, (size_t)(e - v));
	}
	return NULL;
}

static int ct_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	if (!ct)
		return strcmp(type, "text/plain") == 0; /* RFC 2045 5.2 default */
	while (*ct == ' ')
		ct++;
	return g_ascii_strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* First non-blank line of UTF-8 text, skipping quoted ("> ") lines. */
static char *pick_line(const char *u)
{
	const char *p = u;

	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *l = g_strstrip(g_strndup(p, n));
		if (*l && l[0] != '>')
			return tidy(l);
		g_free(l);
		if (!e)
			break;
		p = e + 1;
	}
	return g_strdup("");
}

static char *leaf_line(const char *ctype, const char *cte, const char *text, size_t len)
{
	GString *raw;
	char *cs, *u, *r;

	if (cte && !g_ascii_strncasecmp(cte, "base64", 6))
		raw = b64_decode(text, len);
	else if (cte && !g_ascii_strncasecmp(cte, "quoted-printable", 16))
		raw = qp_decode(text, len, 0);
	else
		raw = g_string_new_len(text, (gssize)len);
	cs = ctype ? ct_param(ctype, "charset") : NULL;
	u = to_utf8(raw->str, raw->len, cs);
	r = pick_line(u);
	g_free(cs);
	g_free(u);
	g_string_free(raw, TRUE);
	return r;
}

/* Search a multipart body (as much of it as we have) for the first
 * text/plain part; depth bounds the nesting we follow. */
static char *multipart_line(const char *ctype, const char *text, size_t len, int depth)
{
	char *b = ct_param(ctype, "boundary"), *delim, *r = NULL;
	const char *p = text, *end = text + len;

	if (!b || !*b || strlen(b) > 70 || depth > 2) { /* RFC 2046 5.1.1: at most 70 */
		g_free(b);
		return g_strdup("");
	}
	delim = g_strconcat("--", b, NULL);
	size_t dl = strlen(delim);
	for (;;) {
		const char *d = g_strstr_len(p, end - p, delim);
		if (!d)
			break;
		const char *part = memchr(d, '\n', (size_t)(end - d));
		if (!part || (d + dl + 1 < end && d[dl] == '-' && d[dl + 1] == '-'))
			break;
		part++;
		/* the part's header ends at the first empty line */
		const char *hend = NULL, *body = NULL;
		for (const char *q = part; q < end; q++) {
			if (*q == '\n' && q + 1 < end &&
			    (q[1] == '\n' || (q[1] == '\r' && q + 2 < end && q[2] == '\n'))) {
				hend = q + 1;
				body = q[1] == '\n' ? q + 2 : q + 3;
				break;
			}
		}
		if (part < end && (*part == '\n' || *part == '\r')) { /* no header at all */
			hend = part;
			body = *part == '\n' ? part + 1 : part + 2;
		}
		if (!hend)
			break;
		const char *next = g_strstr_len(body, end - body, delim);
		const char *bend = next ? next : end;
		char *pct = tray_header_get(part, (size_t)(hend - part), "Content-Type");
		char *pcte =
		    tray_header_get(part, (size_t)(hend - part), "Content-Transfer-Encoding");
		if (ct_is(pct, "text/plain"))
			r = leaf_line(pct, pcte, body, (size_t)(bend - body));
		else if (pct && !g_ascii_strncasecmp(pct, "multipart/", 10))
			r = multipart_line(pct, body, (size_t)(bend - body), depth + 1);
		g_free(pct);
		g_free(pcte);
		if (r && *r)
			break;
		g_free(r);
		r = NULL;
		if (!next)
			break;
		p = next;
	}
	g_free(delim);
	g_free(b);
	return r ? r : g_strdup("");
}

char *tray_first_line(const char *ctype, const char *cte, const char *text, size_t len)
{
	if (ctype && !g_ascii_strncasecmp(ctype, "multipart/", 10))
		return multipart_line(ctype, text, len, 0);
	if (ctype && !ct_is(ctype, "text/plain") && g_ascii_strncasecmp(ctype, "text/", 5))
		return g_strdup("");
	return leaf_line(ctype, cte, text, len);
}

int tray_fingerprint_norm(const char *in, char out[65])
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == ':' || *p == ' ')
			continue;
		if (hexval(*p) < 0 || n >= 64)
			return -1;
		out[n++] = (char)g_ascii_tolower(*p);
	}
	out[n] = 0;
	return n == 64 ? 0 : -1;
}

char *tray_markup_escape(const char *s)
{
	return g_markup_escape_text(s, -1);
}
