/*
 * message.c — RFC 5322 header fields and the MIME tree (RFC 2045/2046) of a
 * stored message, and what IMAP makes of them: ENVELOPE, BODYSTRUCTURE,
 * section lookup.
 *
 * The parser reads the message once, front to back, in bounded chunks
 * through a msg_src. It never keeps a body; per entity it keeps offsets
 * and the few header fields IMAP reports. Rendering of ENVELOPE and
 * BODYSTRUCTURE follows RFC 9051 7.5.2 in the shape Dovecot gives (text
 * parts get ("charset" "us-ascii") when they name none, an unknown
 * Content-Transfer-Encoding reads "7bit", sender/reply-to default to from,
 * a body line count is its number of LFs, the CRLF before a boundary
 * belongs to the boundary, RFC 2046 5.1.1).
 *
 * What it leaves to others: reading the store (the caller's msg_src),
 * decoding and searching text (message_text.c) and IMAP framing beyond
 * strings (imap_fetch.c).
 */
#include "message.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------- IMAP strings */

void mbuf_imap_string(struct sbuf *b, const char *s, size_t n, int utf8)
{
	int quotable = n <= 4096;

	if (!s) {
		sbuf_puts(b, "NIL");
		return;
	}
	for (size_t i = 0; i < n && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c == '\r' || c == '\n' || (c >= 0x80 && !utf8))
			quotable = 0;
	}
	if (!quotable) {
		sbuf_printf(b, "{%zu}\r\n", n);
		sbuf_add(b, s, n);
		return;
	}
	sbuf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sbuf_add(b, "\\", 1);
		sbuf_add(b, s + i, 1);
	}
	sbuf_add(b, "\"", 1);
}

static void mbuf_str(struct sbuf *b, const char *s, int utf8)
{
	mbuf_imap_string(b, s, s ? strlen(s) : 0, utf8);
}

/* ------------------------------------------------------------- sources */

static long mem_read(void *arg, uint64_t off, void *buf, size_t n)
{
	const struct msg_mem *m = arg;
	if (off >= m->n)
		return 0;
	if (n > m->n - off)
		n = m->n - off;
	memcpy(buf, m->p + off, n);
	return (long)n;
}

/* The memsrc lives inside the msg_src's arg slot: tests and fuzzers keep
 * the msg_src on their stack, so we allocate nothing. */
static __thread struct msg_mem memsrc_slot[4];
static __thread unsigned memsrc_next;

void msg_src_buf(struct msg_src *s, struct msg_mem *m, const void *buf, size_t n)
{
	m->p = buf;
	m->n = n;
	s->read = mem_read;
	s->arg = m;
	s->size = n;
}

void msg_src_mem(struct msg_src *s, const void *buf, size_t n)
{
	msg_src_buf(s, &memsrc_slot[memsrc_next++ % 4], buf, n);
}

/* -------------------------------------------------------- line reader */

#define RD_BUF 16384

struct rd {
	const struct msg_src *src;
	uint64_t off;         /* message offset of buf[0] */
	size_t start, end;
	int eof, bol;
	char buf[RD_BUF];
};

static uint64_t rd_pos(const struct rd *r)
{
	return r->off + r->start;
}

/* The next line, or the next RD_BUF bytes of a longer one. *bol says
 * whether the chunk starts a line. 0 at the end of the message. */
static size_t rd_line(struct rd *r, const char **line, int *bol)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl || r->eof || (r->start == 0 && r->end == RD_BUF)) {
			size_t n = nl ? (size_t)(nl - (r->buf + r->start)) + 1 : r->end - r->start;
			if (n == 0)
				return 0;
			*line = r->buf + r->start;
			*bol = r->bol;
			r->start += n;
			r->bol = nl != NULL;
			return n;
		}
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->off += r->start;
		r->end -= r->start;
		r->start = 0;
		uint64_t at = r->off + r->end;
		size_t want = RD_BUF - r->end;
		if (at >= r->src->size) {
			r->eof = 1;
			continue;
		}
		if (want > r->src->size - at)
			want = (size_t)(r->src->size - at);
		long got = r->src->read(r->src->arg, at, r->buf + r->end, want);
		if (got <= 0)
			r->eof = 1;
		else
			r->end += (size_t)got;
	}
}

/* ------------------------------------------------------------- parser */

struct mp {
	struct rd rd;
	char *bnd[MIME_DEPTH_MAX + 1];
	size_t bndlen[MIME_DEPTH_MAX + 1];
	int nbnd;
	int nparts;
	uint64_t lf;          /* LFs consumed so far */
	int last_nl;          /* line-end length of the last consumed line */
	int hit;              /* boundary index that ended the entity, -1 = EOF */
	int hit_close;
	uint64_t hit_off, hit_lf;
	int hit_prev_nl;
	struct sbuf hdr;
};

static int line_nl(const char *l, size_t n)
{
	if (n >= 2 && l[n - 1] == '\n' && l[n - 2] == '\r')
		return 2;
	return n >= 1 && l[n - 1] == '\n' ? 1 : 0;
}

/* RFC 2046 5.1.1: "--" boundary, optionally "--", then only white space.
 * Innermost first, so an outer boundary ends every inner entity. */
static int is_boundary(struct mp *m, const char *l, size_t n, int *close)
{
	if (n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	while (n > 2 && (l[n - 1] == '\n' || l[n - 1] == '\r' || l[n - 1] == ' ' ||
			 l[n - 1] == '\t'))
		n--;
	for (int i = m->nbnd - 1; i >= 0; i--) {
		size_t bl = m->bndlen[i];
		if (n - 2 < bl || memcmp(l + 2, m->bnd[i], bl) != 0)
			continue;
		const char *rest = l + 2 + bl;
		size_t rn = n - 2 - bl;
		if (rn == 0) {
			*close = 0;
			return i;
		}
		if (rn >= 2 && rest[0] == '-' && rest[1] == '-') {
			*close = 1;
			return i;
		}
	}
	return -1;
}

static void consumed(struct mp *m, const char *l, size_t n)
{
	if (n && l[n - 1] == '\n')
		m->lf++;
	m->last_nl = line_nl(l, n);
}

/* Read lines until a boundary of the stack (sets hit*) or the end. */
static void skip_to_boundary(struct mp *m)
{
	const char *l;
	int bol, close = 0;
	size_t n;

	while ((n = rd_line(&m->rd, &l, &bol)) > 0) {
		int b = bol ? is_boundary(m, l, n, &close) : -1;
		if (b >= 0) {
			m->hit = b;
			m->hit_close = close;
			m->hit_off = rd_pos(&m->rd) - n;
			m->hit_lf = m->lf;
			m->hit_prev_nl = m->last_nl;
			consumed(m, l, n);
			return;
		}
		consumed(m, l, n);
	}
	m->hit = -1;
}

/* RFC 822 comments and white space. */
static const char *skip_cfws(const char *s, const char *e)
{
	while (s < e) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			s++;
		} else if (*s == '(') {
			int depth = 0;
			while (s < e) {
				if (*s == '\\' && s + 1 < e)
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')' && --depth == 0) {
					s++;
					break;
				}
				s++;
			}
		} else {
			break;
		}
	}
	return s;
}

static int is_tspecial(int c)
{
	return c <= ' ' || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* A token or quoted string (RFC 2045 5.1); malloc'ed, NULL if none. */
static char *get_word(const char **sp, const char *e, int allow_slash)
{
	const char *s = skip_cfws(*sp, e);
	struct sbuf b = {0};

	if (s < e && *s == '"') {
		s++;
		while (s < e && *s != '"') {
			if (*s == '\\' && s + 1 < e)
				s++;
			if (*s != '\r' && *s != '\n')
				sbuf_add(&b, s, 1);
			s++;
		}
		if (s < e)
			s++;
		sbuf_add(&b, NULL, 0);
	} else {
		const char *t = s;
		while (s < e && (!is_tspecial((unsigned char)*s) || (allow_slash && *s == '/') ||
				 (unsigned char)*s >= 0x80))
			s++;
		if (s == t) {
			*sp = s;
			return NULL;
		}
		sbuf_add(&b, t, (size_t)(s - t));
	}
	*sp = s;
	return b.p;
}

/* "name*0*" -> base "name", index 0, extended 1. */
static void split_2231(char *name, int *index, int *ext)
{
	size_t n = strlen(name);
	*index = -1;
	*ext = 0;
	if (n && name[n - 1] == '*') {
		*ext = 1;
		name[--n] = 0;
	}
	char *star = strchr(name, '*');
	if (star && star[1] && strspn(star + 1, "0123456789") == strlen(star + 1)) {
		*index = atoi(star + 1);
		*star = 0;
	}
}

static void add_param(struct mime_param **pp, int *np, char *name, char *value)
{
	if (*np >= MIME_PARAMS_MAX) {
		free(name);
		free(value);
		return;
	}
	*pp = xrealloc(*pp, sizeof **pp * (size_t)(*np + 1));
	(*pp)[*np].name = name;
	(*pp)[*np].value = value;
	(*np)++;
}

/* RFC 2231 3: merge "name*0", "name*1"... (in index order) into one
 * parameter; extended pieces keep their charset'lang'%XX form under the
 * name "name*", as Dovecot reports them. */
static void params_parse(const char *s, const char *e, struct mime_param **out, int *nout)
{
	struct raw {
		char *name, *value;
		int index, ext;
	} raw[MIME_PARAMS_MAX];
	int nraw = 0;

	for (;;) {
		s = skip_cfws(s, e);
		if (s >= e || *s != ';')
			break;
		s++;
		char *name = get_word(&s, e, 0);
		s = skip_cfws(s, e);
		if (!name || s >= e || *s != '=') {
			free(name);
			while (s < e && *s != ';')
				s++;
			continue;
		}
		s++;
		char *value = get_word(&s, e, 1);
		if (!value)
			value = xstrdup("");
		if (nraw == MIME_PARAMS_MAX) {
			free(name);
			free(value);
			continue;
		}
		str_lower(name);
		raw[nraw].name = name;
		raw[nraw].value = value;
		split_2231(name, &raw[nraw].index, &raw[nraw].ext);
		nraw++;
	}
	for (int i = 0; i < nraw; i++) {
		if (!raw[i].name)
			continue;
		if (raw[i].index < 0) {
			struct sbuf nb = {0};
			sbuf_puts(&nb, raw[i].name);
			if (raw[i].ext)
				sbuf_puts(&nb, "*");
			add_param(out, nout, nb.p, raw[i].value);
			free(raw[i].name);
			raw[i].name = NULL;
			continue;
		}
		/* Continuations: gather every piece of this name in index order. */
		struct sbuf v = {0};
		int ext = 0;
		for (int idx = 0; idx < MIME_PARAMS_MAX; idx++) {
			int found = 0;
			for (int j = i; j < nraw; j++) {
				if (raw[j].name && raw[j].index == idx &&
				    strcmp(raw[j].name, raw[i].name) == 0) {
					sbuf_puts(&v, raw[j].value);
					ext |= raw[j].ext;
					found = 1;
					if (j != i) {
						free(raw[j].name);
						free(raw[j].value);
						raw[j].name = NULL;
					}
					break;
				}
			}
			if (!found)
				break;
		}
		sbuf_add(&v, NULL, 0);
		struct sbuf nb = {0};
		sbuf_puts(&nb, raw[i].name);
		if (ext)
			sbuf_puts(&nb, "*");
		add_param(out, nout, nb.p, v.p);
		free(raw[i].name);
		free(raw[i].value);
		raw[i].name = NULL;
	}
	for (int i = 0; i < nraw; i++)
		if (raw[i].name) {
			free(raw[i].name);
			free(raw[i].value);
		}
}

static char *trimmed(const char *v, size_t n)
{
	char *u = mime_unfold(v, n);
	size_t a = 0, z = strlen(u);
	while (u[a] == ' ' || u[a] == '\t')
		a++;
	while (z > a && (u[z - 1] == ' ' || u[z - 1] == '\t'))
		z--;
	memmove(u, u + a, z - a);
	u[z - a] = 0;
	return u;
}

static void set_once(char **slot, const char *v, size_t n)
{
	if (!*slot)
		*slot = trimmed(v, n);
}

static void parse_ctype(struct mime_part *p, const char *v, size_t n)
{
	const char *s = v, *e = v + n;
	char *type = get_word(&s, e, 0), *sub = NULL;

	s = skip_cfws(s, e);
	if (type && s < e && *s == '/') {
		s++;
		sub = get_word(&s, e, 0);
	}
	if (!type || !sub) {
		/* RFC 2045 5.2: an invalid Content-Type means text/plain. */
		free(type);
		free(sub);
		return;
	}
	p->type = type;
	p->subtype = sub;
	params_parse(s, e, &p->params, &p->nparams);
}

static void parse_disp(struct mime_part *p, const char *v, size_t n)
{
	const char *s = v, *e = v + n;
	char *d = get_word(&s, e, 0);
	if (!d)
		return;
	p->disp = d;
	params_parse(s, e, &p->dparams, &p->ndparams);
}

static const char *const env_names[ENV_NFIELDS] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static void parse_fields(struct mime_part *p, const char *h, size_t len)
{
	size_t pos = 0, nl, vl;
	const char *name, *val;

	while (mime_hdr_next(h, len, &pos, &name, &nl, &val, &vl)) {
		char nm[32];
		if (nl >= sizeof nm)
			continue;
		memcpy(nm, name, nl);
		nm[nl] = 0;
		str_lower(nm);
		if (strcmp(nm, "content-type") == 0) {
			if (!p->type)
				parse_ctype(p, val, vl);
		} else if (strcmp(nm, "content-transfer-encoding") == 0) {
			const char *s = val;
			if (!p->cte)
				p->cte = get_word(&s, val + vl, 0);
		} else if (strcmp(nm, "content-id") == 0) {
			set_once(&p->id, val, vl);
		} else if (strcmp(nm, "content-description") == 0) {
			set_once(&p->descr, val, vl);
		} else if (strcmp(nm, "content-md5") == 0) {
			set_once(&p->md5, val, vl);
		} else if (strcmp(nm, "content-language") == 0) {
			set_once(&p->lang, val, vl);
		} else if (strcmp(nm, "content-location") == 0) {
			set_once(&p->loc, val, vl);
		} else if (strcmp(nm, "content-disposition") == 0) {
			if (!p->disp)
				parse_disp(p, val, vl);
		} else if (p->is_message) {
			for (int i = 0; i < ENV_NFIELDS; i++)
				if (strcmp(nm, env_names[i]) == 0 && !p->env[i]) {
					char *u = mime_unfold(val, vl);
					size_t z = strlen(u);
					while (z && (u[z - 1] == ' ' || u[z - 1] == '\t'))
						u[--z] = 0;
					p->env[i] = u;
				}
		}
	}
}

static int ci_eq(const char *a, const char *b)
{
	return a && str_casecmp_ascii(a, b) == 0;
}

static void classify(struct mime_part *p, int in_digest)
{
	if (!p->type && in_digest) {
		p->type = xstrdup("message");
		p->subtype = xstrdup("rfc822");
	}
	if (ci_eq(p->type, "multipart") && mime_param(p->params, p->nparams, "boundary") &&
	    *mime_param(p->params, p->nparams, "boundary"))
		p->multipart = 1;
	if (ci_eq(p->type, "message") && ci_eq(p->subtype, "rfc822"))
		p->rfc822 = 1;
}

static struct mime_part *new_part(struct mp *m, struct mime_part *parent)
{
	struct mime_part *p = xcalloc(1, sizeof *p);
	m->nparts++;
	p->parent = parent;
	if (parent) {
		struct mime_part **tail = &parent->children;
		while (*tail)
			tail = &(*tail)->next;
		*tail = p;
		parent->nchildren++;
	}
	return p;
}

/* The entity's header: up to the empty line, a boundary, or the end. */
static void parse_header(struct mp *m, struct mime_part *p)
{
	const char *l;
	int bol, close = 0;
	size_t n;

	p->hdr_off = rd_pos(&m->rd);
	m->hdr.len = 0;
	m->hit = -2;
	while ((n = rd_line(&m->rd, &l, &bol)) > 0) {
		int b = bol ? is_boundary(m, l, n, &close) : -1;
		if (b >= 0) {
			m->hit = b;
			m->hit_close = close;
			m->hit_off = rd_pos(&m->rd) - n;
			m->hit_lf = m->lf;
			m->hit_prev_nl = 0;
			consumed(m, l, n);
			p->hdr_size = m->hit_off - p->hdr_off;
			p->body_off = m->hit_off;
			return;
		}
		consumed(m, l, n);
		if (m->hdr.len + n <= MIME_HDR_MAX)
			sbuf_add(&m->hdr, l, n);
		if (bol && (n == 1 || (n == 2 && l[0] == '\r' && l[1] == '\n')))
			break;
	}
	p->hdr_size = rd_pos(&m->rd) - p->hdr_off;
	p->body_off = rd_pos(&m->rd);
	if (n == 0)
		m->hit = -1;
}

static void parse_entity(struct mp *m, struct mime_part *p, int depth, int in_digest);

static void parse_multipart(struct mp *m, struct mime_part *p, int depth)
{
	const char *b = mime_param(p->params, p->nparams, "boundary");
	int own = m->nbnd;
	int digest = ci_eq(p->subtype, "digest");

	m->bnd[own] = xstrdup(b);
	m->bndlen[own] = strlen(b);
	m->nbnd++;
	skip_to_boundary(m); /* the preamble */
	while (m->hit == own && !m->hit_close) {
		if (m->nparts >= MIME_PARTS_MAX) {
			/* Too many parts: the rest is read as one body. */
			skip_to_boundary(m);
			continue;
		}
		struct mime_part *c = new_part(m, p);
		parse_entity(m, c, depth + 1, digest);
	}
	m->nbnd--;
	free(m->bnd[own]);
	if (m->hit == own) /* closed: the epilogue runs to a parent's boundary */
		skip_to_boundary(m);
}

static void parse_entity(struct mp *m, struct mime_part *p, int depth, int in_digest)
{
	uint64_t lf0;

	parse_header(m, p);
	parse_fields(p, m->hdr.p ? m->hdr.p : "", m->hdr.len);
	classify(p, in_digest);
	lf0 = m->lf;
	if (m->hit != -2) {
		/* The header ran into a boundary or the end: no body. */
		p->body_size = 0;
		p->body_lines = 0;
		if (p->multipart || p->rfc822)
			p->multipart = p->rfc822 = 0;
		return;
	}
	if (p->multipart && depth < MIME_DEPTH_MAX && m->nbnd < MIME_DEPTH_MAX) {
		parse_multipart(m, p, depth);
	} else if (p->rfc822 && depth < MIME_DEPTH_MAX && m->nparts < MIME_PARTS_MAX) {
		p->multipart = 0;
		struct mime_part *c = new_part(m, p);
		c->is_message = 1;
		parse_entity(m, c, depth + 1, 0);
	} else {
		p->multipart = p->rfc822 = 0;
		skip_to_boundary(m);
	}
	if (m->hit >= 0) {
		uint64_t end = m->hit_off, lines = m->hit_lf - lf0;
		if (m->hit_prev_nl && end >= p->body_off + (uint64_t)m->hit_prev_nl) {
			end -= (uint64_t)m->hit_prev_nl;
			lines--;
		}
		p->body_size = end > p->body_off ? end - p->body_off : 0;
		p->body_lines = lines;
	} else {
		p->body_size = rd_pos(&m->rd) - p->body_off;
		p->body_lines = m->lf - lf0;
	}
}

struct mime_part *mime_parse(const struct msg_src *src)
{
	struct mp *m = xcalloc(1, sizeof *m);
	struct mime_part *root;

	m->rd.src = src;
	m->rd.bol = 1;
	root = new_part(m, NULL);
	root->is_message = 1;
	parse_entity(m, root, 0, 0);
	sbuf_free(&m->hdr);
	free(m);
	return root;
}

static void params_free(struct mime_param *p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

void mime_free(struct mime_part **rootp)
{
	struct mime_part *p = *rootp, *c, *next;

	if (!p)
		return;
	for (c = p->children; c; c = next) {
		next = c->next;
		mime_free(&c);
	}
	free(p->type);
	free(p->subtype);
	params_free(p->params, p->nparams);
	params_free(p->dparams, p->ndparams);
	free(p->cte);
	free(p->id);
	free(p->descr);
	free(p->md5);
	free(p->lang);
	free(p->loc);
	free(p->disp);
	for (int i = 0; i < ENV_NFIELDS; i++)
		free(p->env[i]);
	free(p);
	*rootp = NULL;
}

const struct mime_part *mime_section(const struct mime_part *root, const uint32_t *nums, size_t n)
{
	const struct mime_part *msg = root, *part = root;

	for (size_t i = 0; i < n; i++) {
		if (nums[i] == 0)
			return NULL;
		if (msg->multipart) {
			part = msg->children;
			for (uint32_t k = 1; part && k < nums[i]; k++)
				part = part->next;
			if (!part)
				return NULL;
		} else if (nums[i] == 1) {
			part = msg;
		} else {
			return NULL;
		}
		if (i + 1 < n) {
			if (part->rfc822 && part->children)
				msg = part->children;
			else if (part->multipart && part != msg)
				msg = part;
			else
				return NULL;
		}
	}
	return part;
}

/* ----------------------------------------------------------- headers */

int mime_hdr_next(const char *h, size_t len, size_t *pos, const char **name, size_t *namelen,
		  const char **val, size_t *vallen)
{
	size_t i = *pos;

	while (i < len) {
		size_t ls = i;
		if (h[i] == '\n' || (h[i] == '\r' && i + 1 < len && h[i + 1] == '\n'))
			return 0; /* the empty line ends the header */
		size_t c = ls;
		while (c < len && h[c] != ':' && h[c] != '\n')
			c++;
		/* The value runs over continuation lines (RFC 5322 2.2.3). */
		size_t e = c;
		for (;;) {
			while (e < len && h[e] != '\n')
				e++;
			if (e + 1 < len && (h[e + 1] == ' ' || h[e + 1] == '\t')) {
				e++;
				continue;
			}
			break;
		}
		size_t next = e < len ? e + 1 : len;
		if (c < len && h[c] == ':' && c > ls) {
			size_t nz = c;
			while (nz > ls && (h[nz - 1] == ' ' || h[nz - 1] == '\t'))
				nz--;
			size_t vs = c + 1;
			while (vs < e && (h[vs] == ' ' || h[vs] == '\t'))
				vs++;
			size_t ve = e;
			if (ve > vs && h[ve - 1] == '\r')
				ve--;
			if (ve < vs)
				ve = vs;
			*name = h + ls;
			*namelen = nz - ls;
			*val = h + vs;
			*vallen = ve - vs;
			*pos = next;
			return 1;
		}
		i = next; /* not a field: skip the line */
	}
	*pos = i;
	return 0;
}

char *mime_unfold(const char *v, size_t n)
{
	char *u = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] != '\r' && v[i] != '\n')
			u[k++] = v[i];
	u[k] = 0;
	return u;
}

/* --------------------------------------------------------- addresses */

enum { TK_ATOM, TK_QSTR, TK_COMMENT, TK_DLIT, TK_SPECIAL };
struct tok {
	int type;
	char *s;
};
#define ADDR_TOKENS_MAX 4096

static int tokenize(const char *s, struct tok **out)
{
	const char *e = s + strlen(s);
	struct tok *t = NULL;
	int n = 0;

	while (s < e && n < ADDR_TOKENS_MAX) {
		struct sbuf b = {0};
		int type;
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			s++;
			continue;
		}
		if (*s == '"') {
			type = TK_QSTR;
			for (s++; s < e && *s != '"'; s++) {
				if (*s == '\\' && s + 1 < e)
					s++;
				sbuf_add(&b, s, 1);
			}
			if (s < e)
				s++;
		} else if (*s == '(') {
			int depth = 0;
			type = TK_COMMENT;
			for (; s < e; s++) {
				if (*s == '\\' && s + 1 < e) {
					sbuf_add(&b, ++s, 1);
					continue;
				}
				if (*s == '(' && depth++ == 0)
					continue;
				if (*s == ')' && --depth == 0) {
					s++;
					break;
				}
				sbuf_add(&b, s, 1);
			}
		} else if (*s == '[') {
			type = TK_DLIT;
			while (s < e && *s != ']')
				sbuf_add(&b, s++, 1);
			if (s < e)
				sbuf_add(&b, s++, 1);
		} else if (strchr("<>@,;:)", *s)) {
			type = TK_SPECIAL;
			sbuf_add(&b, s++, 1);
		} else {
			type = TK_ATOM;
			while (s < e && !strchr(" \t\r\n\"(<>@,;:[)", *s))
				sbuf_add(&b, s++, 1);
		}
		sbuf_add(&b, NULL, 0);
		t = xrealloc(t, sizeof *t * (size_t)(n + 1));
		t[n].type = type;
		t[n].s = b.p;
		n++;
	}
	*out = t;
	return n;
}

static int is_sp(const struct tok *t, char c)
{
	return t->type == TK_SPECIAL && t->s[0] == c;
}

/* Addresses are written as ENVELOPE's structures, or (ADDR_TEXT, for
 * SEARCH) as the plain text those structures stand for:
 * "name <adl:mailbox@host>, group: ...;". */
#define ADDR_TEXT (-1)
/* Only the first address (ENVELOPE's first structure, a group's name
 * included), as "name\0mailbox\0host\0" in b: mime_addr_first. */
#define ADDR_FIRST (-2)

static void emit_addr(struct sbuf *b, const char *name, const char *adl, const char *mbox,
		      const char *host, int utf8)
{
	if (utf8 == ADDR_FIRST) {
		if (b->len)
			return;
		sbuf_puts(b, name ? name : "");
		sbuf_add(b, "", 1);
		sbuf_puts(b, mbox ? mbox : "");
		sbuf_add(b, "", 1);
		sbuf_puts(b, host ? host : "");
		sbuf_add(b, "", 1);
		return;
	}
	if (utf8 == ADDR_TEXT) {
		if (b->len)
			sbuf_puts(b, b->p[b->len - 1] == ':' ? " " : ", ");
		if (name && *name) {
			sbuf_puts(b, name);
			sbuf_puts(b, " ");
		}
		sbuf_puts(b, "<");
		if (adl && *adl) {
			sbuf_puts(b, adl);
			sbuf_puts(b, ":");
		}
		sbuf_puts(b, mbox);
		if (host && *host) {
			sbuf_puts(b, "@");
			sbuf_puts(b, host);
		}
		sbuf_puts(b, ">");
		return;
	}
	sbuf_puts(b, "(");
	mbuf_str(b, name && *name ? name : NULL, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, adl && *adl ? adl : NULL, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, mbox, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, host && *host ? host : NULL, utf8);
	sbuf_puts(b, ")");
}

/* One address from tokens [a, z): phrase <route:addr> or addr-spec (comment). */
static int one_address(struct sbuf *b, struct tok *t, int a, int z, int utf8)
{
	struct sbuf name = {0}, adl = {0}, local = {0}, host = {0}, comment = {0};
	int lt = -1, i, at = -1;

	for (i = a; i < z; i++)
		if (is_sp(&t[i], '<')) {
			lt = i;
			break;
		}
	if (lt >= 0) {
		for (i = a; i < lt; i++) {
			if (t[i].type == TK_COMMENT)
				continue;
			if (name.len)
				sbuf_puts(&name, " ");
			sbuf_puts(&name, t[i].s);
		}
		i = lt + 1;
		/* obs-route: "@a,@b:" (RFC 5322 4.4) */
		int colon = -1;
		for (int j = i; j < z && !is_sp(&t[j], '>'); j++)
			if (is_sp(&t[j], ':'))
				colon = j;
		if (colon >= 0) {
			for (int j = i; j < colon; j++)
				if (t[j].type != TK_COMMENT)
					sbuf_puts(&adl, t[j].s);
			i = colon + 1;
		}
		int gt = i;
		while (gt < z && !is_sp(&t[gt], '>'))
			gt++;
		a = i;
		z = gt;
	}
	for (i = a; i < z; i++) {
		if (t[i].type == TK_COMMENT) {
			if (!comment.len)
				sbuf_puts(&comment, t[i].s);
			continue;
		}
		if (is_sp(&t[i], '>'))
			break;
		if (at < 0 && is_sp(&t[i], '@')) {
			at = i;
			continue;
		}
		sbuf_puts(at < 0 ? &local : &host, t[i].s);
	}
	int ok = local.len > 0;
	if (ok) {
		const char *nm = name.len ? name.p : (lt < 0 && comment.len ? comment.p : NULL);
		emit_addr(b, nm, adl.p, local.p, host.p, utf8);
	}
	sbuf_free(&name);
	sbuf_free(&adl);
	sbuf_free(&local);
	sbuf_free(&host);
	sbuf_free(&comment);
	return ok;
}

/* RFC 9051 7.5.2 address list, or NIL. Groups (RFC 5322 3.4) give
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL). */
static void addr_list(struct sbuf *b, const char *v, int utf8)
{
	struct tok *t = NULL;
	int n, start, in_group = 0, count = 0, angle = 0;
	size_t mark = b->len;

	if (!v) {
		sbuf_puts(b, "NIL");
		return;
	}
	n = tokenize(v, &t);
	int text = utf8 < 0; /* ADDR_TEXT or ADDR_FIRST: no parentheses */
	if (!text)
		sbuf_puts(b, "(");
	start = 0;
	for (int i = 0; i <= n; i++) {
		if (i < n && is_sp(&t[i], '<'))
			angle = 1;
		else if (i < n && is_sp(&t[i], '>'))
			angle = 0;
		if (i < n && angle)
			continue;
		if (i < n && is_sp(&t[i], ':') && !in_group) {
			struct sbuf gn = {0};
			for (int j = start; j < i; j++)
				if (t[j].type != TK_COMMENT) {
					if (gn.len)
						sbuf_puts(&gn, " ");
					sbuf_puts(&gn, t[j].s);
				}
			if (utf8 == ADDR_TEXT) {
				sbuf_puts(b, b->len ? ", " : "");
				sbuf_puts(b, gn.p ? gn.p : "");
				sbuf_puts(b, ":");
			} else {
				emit_addr(b, NULL, NULL, gn.p ? gn.p : "", NULL, utf8);
			}
			sbuf_free(&gn);
			in_group = 1;
			count++;
			start = i + 1;
			continue;
		}
		if (i == n || is_sp(&t[i], ',') || is_sp(&t[i], ';')) {
			if (i > start)
				count += one_address(b, t, start, i, utf8);
			if (i < n && is_sp(&t[i], ';') && in_group) {
				if (utf8 != ADDR_FIRST)
					sbuf_puts(b, text ? ";" : "(NIL NIL NIL NIL)");
				in_group = 0;
			}
			start = i + 1;
		}
	}
	if (in_group && utf8 != ADDR_FIRST)
		sbuf_puts(b, text ? ";" : "(NIL NIL NIL NIL)");
	if (!text)
		sbuf_puts(b, ")");
	if (!count) {
		b->len = mark;
		if (!text)
			sbuf_puts(b, "NIL");
	}
	for (int i = 0; i < n; i++)
		free(t[i].s);
	free(t);
}

char *mime_addr_text(const char *v, size_t n)
{
	char *u = mime_unfold(v, n);
	struct sbuf b = {0};
	addr_list(&b, u, ADDR_TEXT);
	free(u);
	sbuf_add(&b, NULL, 0);
	char *d = mime_decode_words(b.p, b.len);
	sbuf_free(&b);
	return d;
}

int mime_addr_first(const char *v, size_t n, char **name, char **mbox, char **host)
{
	char *u = mime_unfold(v, n);
	struct sbuf b = {0};
	addr_list(&b, u, ADDR_FIRST);
	free(u);
	*name = *mbox = *host = NULL;
	if (!b.len) {
		sbuf_free(&b);
		return -1;
	}
	const char *p = b.p;
	*name = mime_decode_words(p, strlen(p));
	p += strlen(p) + 1;
	*mbox = xstrdup(p);
	p += strlen(p) + 1;
	*host = xstrdup(p);
	sbuf_free(&b);
	return 0;
}

void mime_envelope(struct sbuf *b, const struct mime_part *m, int utf8)
{
	const char *from = m->env[ENV_FROM];

	sbuf_puts(b, "(");
	mbuf_str(b, m->env[ENV_DATE], utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, m->env[ENV_SUBJECT], utf8);
	sbuf_puts(b, " ");
	addr_list(b, from, utf8);
	sbuf_puts(b, " ");
	/* RFC 9051 7.5.2: sender and reply-to default to from. */
	addr_list(b, m->env[ENV_SENDER] && *m->env[ENV_SENDER] ? m->env[ENV_SENDER] : from, utf8);
	sbuf_puts(b, " ");
	addr_list(b, m->env[ENV_REPLY_TO] && *m->env[ENV_REPLY_TO] ? m->env[ENV_REPLY_TO] : from,
		  utf8);
	for (int i = ENV_TO; i <= ENV_BCC; i++) {
		sbuf_puts(b, " ");
		addr_list(b, m->env[i], utf8);
	}
	sbuf_puts(b, " ");
	mbuf_str(b, m->env[ENV_IN_REPLY_TO], utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, m->env[ENV_MESSAGE_ID], utf8);
	sbuf_puts(b, ")");
}

/* ----------------------------------------------------- bodystructure */

static void params_out(struct sbuf *b, const struct mime_param *p, int n, int add_charset,
		       int utf8)
{
	if (!n && !add_charset) {
		sbuf_puts(b, "NIL");
		return;
	}
	sbuf_puts(b, "(");
	if (add_charset)
		sbuf_puts(b, "\"charset\" \"us-ascii\"");
	for (int i = 0; i < n; i++) {
		if (i || add_charset)
			sbuf_puts(b, " ");
		mbuf_str(b, p[i].name, utf8);
		sbuf_puts(b, " ");
		mbuf_str(b, p[i].value, utf8);
	}
	sbuf_puts(b, ")");
}

static void lang_out(struct sbuf *b, const char *lang, int utf8)
{
	char *items[32];
	int n = 0;

	if (!lang || !*lang) {
		sbuf_puts(b, "NIL");
		return;
	}
	const char *s = lang, *e = lang + strlen(lang);
	while (n < 32) {
		char *w = get_word(&s, e, 0);
		if (!w)
			break;
		items[n++] = w;
		s = skip_cfws(s, e);
		if (s < e && *s == ',')
			s++;
		else
			break;
	}
	if (n == 0) {
		sbuf_puts(b, "NIL");
	} else if (n == 1) {
		mbuf_str(b, items[0], utf8);
	} else {
		sbuf_puts(b, "(");
		for (int i = 0; i < n; i++) {
			if (i)
				sbuf_puts(b, " ");
			mbuf_str(b, items[i], utf8);
		}
		sbuf_puts(b, ")");
	}
	for (int i = 0; i < n; i++)
		free(items[i]);
}

static void ext_common(struct sbuf *b, const struct mime_part *p, int utf8)
{
	sbuf_puts(b, " ");
	if (p->disp) {
		sbuf_puts(b, "(");
		mbuf_str(b, p->disp, utf8);
		sbuf_puts(b, " ");
		params_out(b, p->dparams, p->ndparams, 0, utf8);
		sbuf_puts(b, ")");
	} else {
		sbuf_puts(b, "NIL");
	}
	sbuf_puts(b, " ");
	lang_out(b, p->lang, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, p->loc, utf8);
}

static const char *cte_name(const struct mime_part *p)
{
	static const char *const known[] = {"7bit", "8bit", "binary", "quoted-printable", "base64"};
	if (p->cte)
		for (size_t i = 0; i < ARRAY_LEN(known); i++)
			if (str_casecmp_ascii(p->cte, known[i]) == 0)
				return p->cte;
	return "7bit";
}

static void single_out(struct sbuf *b, const struct mime_part *p, int ext, int utf8)
{
	const char *type = p->type ? p->type : "text";
	const char *sub = p->type ? p->subtype : "plain";
	int text = str_casecmp_ascii(type, "text") == 0;
	int add_cs = text && !mime_param(p->params, p->nparams, "charset");

	sbuf_puts(b, "(");
	mbuf_str(b, type, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, sub, utf8);
	sbuf_puts(b, " ");
	params_out(b, p->params, p->nparams, add_cs, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, p->id, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, p->descr, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, cte_name(p), utf8);
	sbuf_printf(b, " %llu", (unsigned long long)p->body_size);
	if (p->rfc822 && p->children) {
		sbuf_puts(b, " ");
		mime_envelope(b, p->children, utf8);
		sbuf_puts(b, " ");
		mime_bodystructure(b, p->children, ext, utf8);
		sbuf_printf(b, " %llu", (unsigned long long)p->body_lines);
	} else if (text) {
		sbuf_printf(b, " %llu", (unsigned long long)p->body_lines);
	}
	if (ext) {
		sbuf_puts(b, " ");
		mbuf_str(b, p->md5, utf8);
		ext_common(b, p, utf8);
	}
	sbuf_puts(b, ")");
}

void mime_bodystructure(struct sbuf *b, const struct mime_part *p, int ext, int utf8)
{
	if (!p->multipart) {
		single_out(b, p, ext, utf8);
		return;
	}
	sbuf_puts(b, "(");
	if (!p->children) {
		/* RFC 9051 needs at least one body: report an empty text part. */
		sbuf_puts(b, ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
				   "NIL NIL NIL NIL)"
				 : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	}
	for (const struct mime_part *c = p->children; c; c = c->next)
		mime_bodystructure(b, c, ext, utf8);
	sbuf_puts(b, " ");
	mbuf_str(b, p->subtype, utf8);
	if (ext) {
		sbuf_puts(b, " ");
		params_out(b, p->params, p->nparams, 0, utf8);
		ext_common(b, p, utf8);
	}
	sbuf_puts(b, ")");
}

/* ---------------------------------------------------------- decoding */

const char *mime_param(const struct mime_param *p, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (str_casecmp_ascii(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

int mime_cte(const struct mime_part *p)
{
	const char *c = cte_name(p);
	if (str_casecmp_ascii(c, "base64") == 0)
		return CTE_BASE64;
	if (str_casecmp_ascii(c, "quoted-printable") == 0)
		return CTE_QP;
	if (str_casecmp_ascii(c, "8bit") == 0)
		return CTE_8BIT;
	if (str_casecmp_ascii(c, "binary") == 0)
		return CTE_BINARY;
	return CTE_7BIT;
}
