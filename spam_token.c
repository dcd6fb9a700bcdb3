/*
 * spam_token.c — the tokenizer of spam_token.h. What matters for a
 * classifier is that the same message always gives the same tokens, that
 * hostile input cannot make it slow or big (every loop is over the bounded
 * buffer, the token count is capped), and that the words it picks are the
 * ones a reader sees: so encodings are undone and HTML is reduced to text
 * before words are cut.
 */
#include "spam_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "spam.h"
#include "util.h"

struct tk {
	spam_token_fn cb;
	void *arg;
	size_t count;
};

static void emit(struct tk *t, const char *s, size_t n)
{
	if (t->count >= SPAM_TOKENS_MAX || n == 0)
		return;
	t->count++;
	t->cb(t->arg, s, n);
}

/* prefix + word, lower-cased, as one token */
static void emit_word(struct tk *t, const char *prefix, const char *w, size_t n)
{
	char buf[64];
	size_t pl = strlen(prefix), k = pl;
	if (n < 3)
		return;
	memcpy(buf, prefix, pl);
	if (n > SPAM_WORD_MAX) {
		/* one token for a blob: its first byte and its length in tens */
		char c = w[0] >= 'A' && w[0] <= 'Z' ? (char)(w[0] + 32) : w[0];
		size_t tens = n / 10 > 99 ? 99 : n / 10;
		memcpy(buf + k, "long:", 5);
		k += 5;
		buf[k++] = c;
		buf[k++] = ':';
		if (tens >= 10)
			buf[k++] = (char)('0' + tens / 10);
		buf[k++] = (char)('0' + tens % 10);
		emit(t, buf, k);
		return;
	}
	for (size_t i = 0; i < n; i++)
		buf[k++] = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] + 32) : w[i];
	emit(t, buf, k);
}

static int word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || c == '\'' || c == '$' || c == '-' || c == '_';
}

static int edge_char(unsigned char c) /* may not start or end a word */
{
	return c == '\'' || c == '-' || c == '_';
}

static void words(struct tk *t, const char *prefix, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && t->count < SPAM_TOKENS_MAX) {
		while (i < n && !word_char((unsigned char)s[i]))
			i++;
		size_t b = i;
		while (i < n && word_char((unsigned char)s[i]))
			i++;
		size_t e = i;
		while (b < e && edge_char((unsigned char)s[b]))
			b++;
		while (e > b && edge_char((unsigned char)s[e - 1]))
			e--;
		emit_word(t, prefix, s + b, e - b);
	}
}

static int ci_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++) {
		char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
		if (c != p[i])
			return 0;
	}
	return 1;
}

/* "url:host" and "url:last.two" for every http(s):// in s */
static void urls(struct tk *t, const char *s, size_t n)
{
	for (size_t i = 0; i + 8 < n && t->count < SPAM_TOKENS_MAX; i++) {
		if (s[i] != 'h' && s[i] != 'H')
			continue;
		size_t k;
		if (ci_prefix(s + i, n - i, "http://"))
			k = i + 7;
		else if (ci_prefix(s + i, n - i, "https://"))
			k = i + 8;
		else
			continue;
		char buf[64];
		size_t b = 4;
		memcpy(buf, "url:", 4);
		size_t h = k;
		while (h < n && b < sizeof buf - 1) {
			unsigned char c = (unsigned char)s[h];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-'))
				break;
			buf[b++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
			h++;
		}
		while (b > 4 && buf[b - 1] == '.')
			b--;
		if (b > 4) {
			emit(t, buf, b);
			size_t dots = 0, j = b;
			while (j > 4 && !(buf[j - 1] == '.' && ++dots == 2))
				j--;
			if (dots == 2) { /* the registered-looking domain as well */
				char d[64];
				memcpy(d, "url:", 4);
				memcpy(d + 4, buf + j, b - j);
				emit(t, d, 4 + b - j);
			}
		}
		i = h > i ? h - 1 : i;
	}
}

/* HTML to text: tags and comments become spaces, script/style contents
 * are dropped, &amp; &lt; &gt; &quot; &nbsp; and numeric ASCII entities
 * are decoded. Links are taken from the raw HTML by urls() before. */
static void html_text(struct sbuf *out, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] == '<') {
			size_t e;
			if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
				const char *c = memmem(s + i + 4, n - i - 4, "-->", 3);
				e = c ? (size_t)(c - s) + 3 : n;
			} else {
				const char *c = memchr(s + i, '>', n - i);
				e = c ? (size_t)(c - s) + 1 : n;
				const char *skip = ci_prefix(s + i, n - i, "<script")  ? "</script"
						   : ci_prefix(s + i, n - i, "<style") ? "</style"
										       : NULL;
				if (skip) { /* to the closing tag, case-insensitively */
					size_t j = e;
					while (j < n && !ci_prefix(s + j, n - j, skip))
						j++;
					const char *c2 = j < n ? memchr(s + j, '>', n - j) : NULL;
					e = c2 ? (size_t)(c2 - s) + 1 : n;
				}
			}
			sbuf_add(out, " ", 1);
			i = e;
		} else if (s[i] == '&') {
			static const struct {
				const char *name;
				char c;
			} ent[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
				   {"&quot;", '"'}, {"&nbsp;", ' '}, {"&#39;", '\''}};
			size_t j;
			for (j = 0; j < ARRAY_LEN(ent); j++)
				if (ci_prefix(s + i, n - i, ent[j].name)) {
					sbuf_add(out, &ent[j].c, 1);
					i += strlen(ent[j].name);
					break;
				}
			if (j == ARRAY_LEN(ent)) {
				sbuf_add(out, "&", 1);
				i++;
			}
		} else {
			size_t j = i;
			while (j < n && s[j] != '<' && s[j] != '&')
				j++;
			sbuf_add(out, s + i, j - i);
			i = j;
		}
	}
}

static int ci_eq(const char *a, const char *b)
{
	return a && str_casecmp_ascii(a, b) == 0;
}

/* Which fields a message has says much about the software that wrote it
 * ("field:x-mailer"); the words of the fields people and their programs
 * fill in, and the hosts of Received, say more. Our own trace fields are
 * not there when a message is judged, only when a stored one is trained,
 * so they count on neither side. */
static void header_tokens(struct tk *t, const char *h, size_t len)
{
	static const char *const keep[] = {"subject", "from",	  "to",	      "cc",
					   "reply-to", "content-type", "x-mailer", "user-agent",
					   "received", "message-id"};
	size_t pos = 0, nl, vl;
	const char *name, *val;
	while (mime_hdr_next(h, len, &pos, &name, &nl, &val, &vl) && t->count < SPAM_TOKENS_MAX) {
		if (nl > 0 && nl <= 30) { /* printable names only (RFC 5322 2.2) */
			char f[40] = "field:";
			size_t i = 0;
			for (; i < nl && name[i] > ' ' && name[i] <= '~'; i++)
				f[6 + i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
			if (i == nl)
				emit(t, f, 6 + nl);
		}
		for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
			if (nl != strlen(keep[i]) || !ci_prefix(name, nl, keep[i]))
				continue;
			char prefix[24];
			snprintf(prefix, sizeof prefix, "%s:", keep[i]);
			char *v = mime_decode_words(val, vl);
			words(t, prefix, v, strlen(v));
			urls(t, v, strlen(v));
			free(v);
		}
	}
}

static void ext_token(struct tk *t, const char *name)
{
	if (!name)
		return;
	const char *dot = strrchr(name, '.');
	size_t n = dot ? strlen(dot + 1) : 0;
	if (n == 0 || n > 8)
		return;
	char buf[16] = "ext:";
	for (size_t i = 0; i < n; i++)
		buf[4 + i] =
		    dot[1 + i] >= 'A' && dot[1 + i] <= 'Z' ? (char)(dot[1 + i] + 32) : dot[1 + i];
	emit(t, buf, 4 + n);
}

static void part_tokens(struct tk *t, const char *msg, size_t len, const struct mime_part *p,
			int depth)
{
	for (; p && t->count < SPAM_TOKENS_MAX; p = p->next) {
		if (p->hdr_off < len && p != NULL && depth > 0 && p->is_message) {
			uint64_t hl =
			    p->hdr_size < len - p->hdr_off ? p->hdr_size : len - p->hdr_off;
			header_tokens(t, msg + p->hdr_off, (size_t)hl);
		}
		if (p->children) {
			if (depth < MIME_DEPTH_MAX)
				part_tokens(t, msg, len, p->children, depth + 1);
			continue;
		}
		int text = !p->type || ci_eq(p->type, "text");
		if (!text) {
			char buf[64];
			snprintf(buf, sizeof buf, "part:%.25s/%.25s", p->type,
				 p->subtype ? p->subtype : "");
			for (char *c = buf; *c; c++)
				*c = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
			emit(t, buf, strlen(buf));
			ext_token(t, mime_param(p->dparams, p->ndparams, "filename"));
			ext_token(t, mime_param(p->params, p->nparams, "name"));
			continue;
		}
		if (p->body_off >= len)
			continue;
		size_t bl =
		    (size_t)(p->body_size < len - p->body_off ? p->body_size : len - p->body_off);
		struct sbuf dec = {0}, utf = {0};
		mime_decode_body(&dec, msg + p->body_off, bl, mime_cte(p));
		mime_to_utf8(&utf, dec.p ? dec.p : "", dec.len,
			     mime_param(p->params, p->nparams, "charset"));
		sbuf_free(&dec);
		const char *s = utf.p ? utf.p : "";
		urls(t, s, utf.len);
		if (ci_eq(p->subtype, "html")) {
			struct sbuf txt = {0};
			html_text(&txt, s, utf.len);
			words(t, "", txt.p ? txt.p : "", txt.len);
			sbuf_free(&txt);
		} else {
			words(t, "", s, utf.len);
		}
		sbuf_free(&utf);
	}
}

void spam_tokenize(const char *msg, size_t len, spam_token_fn cb, void *arg)
{
	struct tk t = {cb, arg, 0};
	if (len > SPAM_PREFIX_MAX)
		len = SPAM_PREFIX_MAX;
	struct msg_mem b;
	struct msg_src src;
	msg_src_buf(&src, &b, msg, len);
	struct mime_part *root = mime_parse(&src);
	if (root->hdr_off < len) {
		uint64_t hl =
		    root->hdr_size < len - root->hdr_off ? root->hdr_size : len - root->hdr_off;
		if (hl > MIME_HDR_MAX)
			hl = MIME_HDR_MAX;
		header_tokens(&t, msg + root->hdr_off, (size_t)hl);
	}
	part_tokens(&t, msg, len, root, 0);
	mime_free(&root);
}

uint64_t spam_token_hash(const char *tok, size_t n)
{
	/* FNV-1a, then a final mix so close strings spread over the key space */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)tok[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct hv {
	uint64_t *h;
	size_t n, cap;
};

static void collect(void *arg, const char *tok, size_t n)
{
	struct hv *v = arg;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 256;
		v->h = xrealloc(v->h, v->cap * sizeof *v->h);
	}
	v->h[v->n++] = spam_token_hash(tok, n);
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

size_t spam_token_hashes(const char *msg, size_t len, uint64_t **out)
{
	struct hv v = {0};
	spam_tokenize(msg, len, collect, &v);
	if (v.n)
		qsort(v.h, v.n, sizeof *v.h, cmp64);
	size_t k = 0;
	for (size_t i = 0; i < v.n; i++)
		if (k == 0 || v.h[k - 1] != v.h[i])
			v.h[k++] = v.h[i];
	*out = v.h;
	return k;
}
