/*
 * sieve_parse.c — Sieve scripts (RFC 5228 section 8 grammar) to a syntax
 * tree: the lexer (quoted strings, text: blocks with dot-stuffing, numbers
 * with K/M/G, tags, both comment forms, RFC 5228 2.4.2.4 encoded
 * characters), the recursive-descent parser, and the checks that make a
 * script either valid or refused with "line N: message": every command and
 * test known, its arguments of the right kind, its extension required, and
 * every limit of sieve.h (size, nesting, nodes, strings, regexes).
 *
 * Running the tree is sieve.c's job; this file never looks at a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"
#include "util.h"

/* ---- arena: a compiled script is freed in one go ---- */
struct sv_arena {
	struct sv_arena *next;
	size_t used, cap;
	_Alignas(16) char mem[];
};

static void *arena_alloc(struct sv_arena **ap, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct sv_arena *a = *ap;
	if (!a || a->used + n > a->cap) {
		size_t cap = n > 16384 ? n : 16384;
		struct sv_arena *b = xmalloc(sizeof *b + cap);
		b->next = a;
		b->used = 0;
		b->cap = cap;
		*ap = a = b;
	}
	void *p = a->mem + a->used;
	a->used += n;
	memset(p, 0, n);
	return p;
}

static void arena_free(struct sv_arena *a)
{
	while (a) {
		struct sv_arena *n = a->next;
		free(a);
		a = n;
	}
}

/* ---- lexer ---- */
enum { T_EOF, T_ID, T_TAG, T_NUM, T_STR, T_PUNCT };

struct parser {
	const char *p, *end;
	int line;
	int tok, tline;
	char punct;
	struct sbuf text; /* T_ID / T_TAG / T_STR value */
	int64_t num;
	int depth, nodes;
	int seen_other; /* a non-require command was seen */
	struct sieve_script *s;
	char *err;
	size_t errlen;
	int failed;
};

static int perr(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parser *ps, int line, const char *fmt, ...)
{
	if (ps->failed)
		return -1;
	ps->failed = 1;
	int k = snprintf(ps->err, ps->errlen, "line %d: ", line);
	if (k >= 0 && (size_t)k < ps->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err + k, ps->errlen - k, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int add_text(struct parser *ps, const char *s, size_t n)
{
	if (ps->text.len + n > SIEVE_STRING_MAX)
		return perr(ps, ps->line, "string longer than %d bytes", SIEVE_STRING_MAX);
	sbuf_add(&ps->text, s, n);
	return 0;
}

static int skip_space(struct parser *ps)
{
	for (;;) {
		if (ps->p >= ps->end)
			return 0;
		char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
		} else if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
			int l0 = ps->line;
			ps->p += 2;
			for (;;) {
				if (ps->p + 1 >= ps->end)
					return perr(ps, l0, "unterminated /* comment");
				if (ps->p[0] == '*' && ps->p[1] == '/')
					break;
				if (*ps->p == '\n')
					ps->line++;
				ps->p++;
			}
			ps->p += 2;
		} else {
			return 0;
		}
	}
}

/* RFC 5228 8.1: "text:" then optional white space/comment, CRLF, lines,
 * "." CRLF; a line starting with ".." loses one dot. */
static int lex_text(struct parser *ps)
{
	int l0 = ps->line;
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p >= ps->end || *ps->p != '\n')
		return perr(ps, l0, "text: must be followed by a line break");
	ps->p++;
	ps->line++;
	for (;;) {
		if (ps->p >= ps->end)
			return perr(ps, l0, "text: block without the ending \".\" line");
		const char *nl = memchr(ps->p, '\n', ps->end - ps->p);
		const char *le = nl ? nl : ps->end;
		size_t n = le - ps->p;
		if (n && ps->p[n - 1] == '\r')
			n--;
		if (n == 1 && ps->p[0] == '.') {
			ps->p = nl ? nl + 1 : ps->end;
			ps->line++;
			return 0;
		}
		const char *s = ps->p;
		if (n >= 2 && s[0] == '.' && s[1] == '.') {
			s++;
			n--;
		}
		if (add_text(ps, s, n) || add_text(ps, "\r\n", 2))
			return -1;
		if (!nl)
			return perr(ps, l0, "text: block without the ending \".\" line");
		ps->p = nl + 1;
		ps->line++;
	}
}

static int lex_quoted(struct parser *ps)
{
	int l0 = ps->line;
	ps->p++;
	for (;;) {
		if (ps->p >= ps->end)
			return perr(ps, l0, "unterminated string");
		char c = *ps->p++;
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (ps->p >= ps->end)
				return perr(ps, l0, "unterminated string");
			c = *ps->p++;
		}
		if (c == '\n')
			ps->line++;
		if (add_text(ps, &c, 1))
			return -1;
	}
}

static int next(struct parser *ps)
{
	if (skip_space(ps))
		return -1;
	ps->text.len = 0;
	ps->tline = ps->line;
	if (ps->p >= ps->end) {
		ps->tok = T_EOF;
		return 0;
	}
	char c = *ps->p;
	if (is_alpha(c) || c == ':') {
		const char *s = ps->p + (c == ':');
		const char *e = s;
		while (e < ps->end && (is_alpha(*e) || is_digit(*e)))
			e++;
		if (e == s)
			return perr(ps, ps->line, "':' without a tag name");
		if (e - s > 128)
			return perr(ps, ps->line, "identifier too long");
		sbuf_add(&ps->text, s, e - s);
		sbuf_add(&ps->text, "", 1);
		ps->text.len--;
		ps->p = e;
		ps->tok = c == ':' ? T_TAG : T_ID;
		if (ps->tok == T_ID && !strcmp(ps->text.p, "text") && ps->p < ps->end &&
		    *ps->p == ':') {
			ps->p++;
			ps->text.len = 0;
			if (lex_text(ps))
				return -1;
			ps->tok = T_STR;
		}
		return 0;
	}
	if (is_digit(c)) {
		uint64_t v = 0;
		while (ps->p < ps->end && is_digit(*ps->p)) {
			v = v * 10 + (*ps->p++ - '0');
			if (v > (1ull << 40))
				return perr(ps, ps->line, "number too large");
		}
		if (ps->p < ps->end) {
			int sh = 0;
			switch (*ps->p) {
			case 'K':
			case 'k':
				sh = 10;
				break;
			case 'M':
			case 'm':
				sh = 20;
				break;
			case 'G':
			case 'g':
				sh = 30;
				break;
			}
			if (sh) {
				ps->p++;
				v <<= sh;
			}
		}
		ps->num = (int64_t)v;
		ps->tok = T_NUM;
		return 0;
	}
	if (c == '"') {
		if (lex_quoted(ps))
			return -1;
		ps->tok = T_STR;
		return 0;
	}
	if (strchr("[](){},;", c)) {
		ps->p++;
		ps->punct = c;
		ps->tok = T_PUNCT;
		return 0;
	}
	return perr(ps, ps->line, "unexpected character '%c'", c >= 32 && c < 127 ? c : '?');
}

static int is_punct(struct parser *ps, char c)
{
	return ps->tok == T_PUNCT && ps->punct == c;
}

/* RFC 5228 2.4.2.4: "${hex:41 42}" and "${unicode:263a}" in a string, when
 * encoded-character is required. A malformed sequence stays as written. */
static void put_utf8(struct sbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sbuf_add(b, u, n);
}

static int decode_encoded(const char *s, size_t n, size_t *used, struct sbuf *out)
{
	int uni;
	size_t i;
	if (n > 6 && !str_ncasecmp_ascii(s, "${hex:", 6)) {
		uni = 0;
		i = 6;
	} else if (n > 10 && !str_ncasecmp_ascii(s, "${unicode:", 10)) {
		uni = 1;
		i = 10;
	} else {
		return -1;
	}
	struct sbuf tmp = {0};
	int count = 0;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i < n && s[i] == '}')
			break;
		uint32_t v = 0;
		int digits = 0;
		while (i < n && hex_value((unsigned char)s[i]) >= 0) {
			v = v * 16 + (uint32_t)hex_value((unsigned char)s[i++]);
			if (++digits > 8)
				goto bad;
		}
		if (!digits || (!uni && digits > 2))
			goto bad;
		if (uni) {
			if ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
				goto bad;
			put_utf8(&tmp, v);
		} else {
			char ch = (char)v;
			sbuf_add(&tmp, &ch, 1);
		}
		count++;
		if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
		    s[i] != '}')
			goto bad;
	}
	(void)count;
	sbuf_add(out, tmp.p, tmp.len);
	sbuf_free(&tmp);
	*used = i + 1;
	return 0;
bad:
	sbuf_free(&tmp);
	return -1;
}

static char *make_string(struct parser *ps)
{
	const char *s = ps->text.p ? ps->text.p : "";
	size_t n = ps->text.len;
	char *r;
	if (ps->s->ext & (1u << SX_ENCODED) && memmem(s, n, "${", 2)) {
		struct sbuf o = {0};
		for (size_t i = 0; i < n;) {
			size_t used;
			if (s[i] == '$' && !decode_encoded(s + i, n - i, &used, &o)) {
				i += used;
			} else {
				sbuf_add(&o, s + i, 1);
				i++;
			}
		}
		r = arena_alloc(&ps->s->arena, o.len + 1);
		if (o.len)
			memcpy(r, o.p, o.len);
		sbuf_free(&o);
	} else {
		r = arena_alloc(&ps->s->arena, n + 1);
		if (n)
			memcpy(r, s, n);
	}
	return r; /* a NUL byte inside (from ${hex:00}) ends the string: documented */
}

/* ---- parser ---- */
static int count_node(struct parser *ps)
{
	if (++ps->nodes > SIEVE_NODES_MAX)
		return perr(ps, ps->tline, "script has more than %d commands, tests and arguments",
			    SIEVE_NODES_MAX);
	return 0;
}

static struct sv_arg *parse_strlist(struct parser *ps)
{
	struct sv_arg *a = arena_alloc(&ps->s->arena, sizeof *a);
	a->type = SA_STR;
	a->line = ps->tline;
	if (ps->tok == T_STR) {
		a->s = arena_alloc(&ps->s->arena, sizeof(char *));
		a->s[0] = make_string(ps);
		a->ns = 1;
		return next(ps) ? NULL : a;
	}
	a->islist = 1;
	int cap = 0;
	if (next(ps))
		return NULL;
	for (;;) {
		if (ps->tok != T_STR) {
			perr(ps, ps->tline, "expected a string in the string list");
			return NULL;
		}
		if (a->ns == SIEVE_LIST_MAX) {
			perr(ps, ps->tline, "string list longer than %d", SIEVE_LIST_MAX);
			return NULL;
		}
		if (a->ns == cap) {
			cap = cap ? cap * 2 : 4;
			char **ns = arena_alloc(&ps->s->arena, cap * sizeof *ns);
			if (a->ns)
				memcpy(ns, a->s, a->ns * sizeof *ns);
			a->s = ns;
		}
		a->s[a->ns++] = make_string(ps);
		if (count_node(ps) || next(ps))
			return NULL;
		if (is_punct(ps, ']'))
			break;
		if (!is_punct(ps, ',')) {
			perr(ps, ps->tline, "expected ',' or ']' in the string list");
			return NULL;
		}
		if (next(ps))
			return NULL;
	}
	return next(ps) ? NULL : a;
}

static struct sv_node *parse_test(struct parser *ps);
static struct sv_node *parse_commands(struct parser *ps, int inblock);

/* arguments := *argument [ test / test-list ] */
static int parse_args(struct parser *ps, struct sv_node *n)
{
	struct sv_arg **tail = &n->args;
	for (;;) {
		struct sv_arg *a = NULL;
		if (ps->tok == T_TAG || ps->tok == T_NUM) {
			a = arena_alloc(&ps->s->arena, sizeof *a);
			a->line = ps->tline;
			if (ps->tok == T_TAG) {
				a->type = SA_TAG;
				a->tag = make_string(ps);
			} else {
				a->type = SA_NUM;
				a->num = ps->num;
			}
			if (next(ps))
				return -1;
		} else if (ps->tok == T_STR || is_punct(ps, '[')) {
			if (!(a = parse_strlist(ps)))
				return -1;
		} else {
			break;
		}
		if (count_node(ps))
			return -1;
		*tail = a;
		tail = &a->next;
	}
	if (ps->tok == T_ID) {
		if (!(n->tests = parse_test(ps)))
			return -1;
	} else if (is_punct(ps, '(')) {
		if (++ps->depth > SIEVE_NEST_MAX)
			return perr(ps, ps->tline, "nested deeper than %d", SIEVE_NEST_MAX);
		struct sv_node **tt = &n->tests;
		do {
			if (next(ps))
				return -1;
			struct sv_node *t = parse_test(ps);
			if (!t)
				return -1;
			*tt = t;
			tt = &t->next;
		} while (is_punct(ps, ','));
		if (!is_punct(ps, ')'))
			return perr(ps, ps->tline, "expected ',' or ')' in the test list");
		ps->depth--;
		if (next(ps))
			return -1;
		n->id = -2; /* marks "has a test list" until validation */
	}
	return 0;
}

static struct sv_node *new_node(struct parser *ps)
{
	if (count_node(ps))
		return NULL;
	struct sv_node *n = arena_alloc(&ps->s->arena, sizeof *n);
	n->line = ps->tline;
	n->id = -1;
	return n;
}

static int validate(struct parser *ps, struct sv_node *n, const char *name, int is_test,
		    int has_list);

static struct sv_node *parse_test(struct parser *ps)
{
	if (ps->tok != T_ID) {
		perr(ps, ps->tline, "expected a test");
		return NULL;
	}
	if (++ps->depth > SIEVE_NEST_MAX) {
		perr(ps, ps->tline, "nested deeper than %d", SIEVE_NEST_MAX);
		return NULL;
	}
	struct sv_node *n = new_node(ps);
	if (!n)
		return NULL;
	char name[130];
	snprintf(name, sizeof name, "%s", ps->text.p);
	if (next(ps) || parse_args(ps, n))
		return NULL;
	int has_list = n->id == -2;
	n->id = -1;
	ps->depth--;
	if (validate(ps, n, name, 1, has_list))
		return NULL;
	return n;
}

/* ---- the command and test table ---- */
#define MATCHTAGS "comparator is contains matches regex count value "
struct spec {
	const char *name;
	int id, ext, test, block, tests; /* tests: 0 none, 1 one, 2 a list */
	const char *pos; /* 's' string, 'l' string list, 'n' number; '?' first optional */
	const char *tags;
};
static const struct spec specs[] = {
    {"require", SC_REQUIRE, -1, 0, 0, 0, "l", ""},
    {"if", SC_IF, -1, 0, 1, 1, "", ""},
    {"elsif", SC_ELSIF, -1, 0, 1, 1, "", ""},
    {"else", SC_ELSE, -1, 0, 1, 0, "", ""},
    {"stop", SC_STOP, -1, 0, 0, 0, "", ""},
    {"keep", SC_KEEP, -1, 0, 0, 0, "", "flags "},
    {"discard", SC_DISCARD, -1, 0, 0, 0, "", ""},
    {"redirect", SC_REDIRECT, -1, 0, 0, 0, "s", "copy "},
    {"fileinto", SC_FILEINTO, SX_FILEINTO, 0, 0, 0, "s", "copy create flags "},
    {"reject", SC_REJECT, SX_REJECT, 0, 0, 0, "s", ""},
    {"ereject", SC_EREJECT, SX_EREJECT, 0, 0, 0, "s", ""},
    {"setflag", SC_SETFLAG, SX_IMAP4FLAGS, 0, 0, 0, "?sl", ""},
    {"addflag", SC_ADDFLAG, SX_IMAP4FLAGS, 0, 0, 0, "?sl", ""},
    {"removeflag", SC_REMOVEFLAG, SX_IMAP4FLAGS, 0, 0, 0, "?sl", ""},
    {"set", SC_SET, SX_VARIABLES, 0, 0, 0, "ss",
     "lower upper lowerfirst upperfirst quotewildcard length "},
    {"vacation", SC_VACATION, SX_VACATION, 0, 0, 0, "s",
     "days seconds subject from addresses mime handle "},
    {"include", SC_INCLUDE, SX_INCLUDE, 0, 0, 0, "s", "personal global once optional "},
    {"return", SC_RETURN, SX_INCLUDE, 0, 0, 0, "", ""},
    {"addheader", SC_ADDHEADER, SX_EDITHEADER, 0, 0, 0, "ss", "last "},
    {"deleteheader", SC_DELETEHEADER, SX_EDITHEADER, 0, 0, 0, "sL", MATCHTAGS "index last "},
    {"address", ST_ADDRESS, -1, 1, 0, 0, "ll",
     MATCHTAGS "all localpart domain user detail index last "},
    {"envelope", ST_ENVELOPE, SX_ENVELOPE, 1, 0, 0, "ll",
     MATCHTAGS "all localpart domain user detail "},
    {"header", ST_HEADER, -1, 1, 0, 0, "ll", MATCHTAGS "index last "},
    {"exists", ST_EXISTS, -1, 1, 0, 0, "l", ""},
    {"size", ST_SIZE, -1, 1, 0, 0, "n", "over under "},
    {"allof", ST_ALLOF, -1, 1, 0, 2, "", ""},
    {"anyof", ST_ANYOF, -1, 1, 0, 2, "", ""},
    {"not", ST_NOT, -1, 1, 0, 1, "", ""},
    {"true", ST_TRUE, -1, 1, 0, 0, "", ""},
    {"false", ST_FALSE, -1, 1, 0, 0, "", ""},
    {"hasflag", ST_HASFLAG, SX_IMAP4FLAGS, 1, 0, 0, "?ll", MATCHTAGS},
    {"string", ST_STRING, SX_VARIABLES, 1, 0, 0, "ll", MATCHTAGS},
    {"body", ST_BODY, SX_BODY, 1, 0, 0, "l", MATCHTAGS "raw content text "},
    {"date", ST_DATE, SX_DATE, 1, 0, 0, "ssl", MATCHTAGS "zone originalzone index last "},
    {"currentdate", ST_CURRENTDATE, SX_DATE, 1, 0, 0, "sl", MATCHTAGS "zone "},
    {"mailboxexists", ST_MAILBOXEXISTS, SX_MAILBOX, 1, 0, 0, "l", ""},
    {"environment", ST_ENVIRONMENT, SX_ENVIRONMENT, 1, 0, 0, "sl", MATCHTAGS},
    {"duplicate", ST_DUPLICATE, SX_DUPLICATE, 1, 0, 0, "", "handle header uniqueid seconds last "},
};

static const struct {
	const char *name;
	int ext;
} exts[] = {
    {"fileinto", SX_FILEINTO},
    {"reject", SX_REJECT},
    {"ereject", SX_EREJECT},
    {"envelope", SX_ENVELOPE},
    {"encoded-character", SX_ENCODED},
    {"copy", SX_COPY},
    {"imap4flags", SX_IMAP4FLAGS},
    {"variables", SX_VARIABLES},
    {"body", SX_BODY},
    {"relational", SX_RELATIONAL},
    {"subaddress", SX_SUBADDRESS},
    {"vacation", SX_VACATION},
    {"vacation-seconds", SX_VACSECONDS},
    {"date", SX_DATE},
    {"index", SX_INDEX},
    {"regex", SX_REGEX},
    {"environment", SX_ENVIRONMENT},
    {"duplicate", SX_DUPLICATE},
    {"include", SX_INCLUDE},
    {"mailbox", SX_MAILBOX},
    {"editheader", SX_EDITHEADER},
    {"comparator-i;ascii-numeric", SX_NUMERIC},
    {"comparator-i;octet", -1},
    {"comparator-i;ascii-casemap", -1},
};

/* Tags that take an argument, and its kind. */
static int tag_param(const char *tag)
{
	static const char *const s[] = {"comparator", "subject", "from",   "handle",  "value",
					"count",      "zone",	 "header", "uniqueid"};
	static const char *const l[] = {"addresses", "flags", "content"};
	static const char *const n[] = {"days", "seconds", "index"};
	for (size_t i = 0; i < ARRAY_LEN(s); i++)
		if (!strcmp(tag, s[i]))
			return 's';
	for (size_t i = 0; i < ARRAY_LEN(l); i++)
		if (!strcmp(tag, l[i]))
			return 'l';
	for (size_t i = 0; i < ARRAY_LEN(n); i++)
		if (!strcmp(tag, n[i]))
			return 'n';
	return 0;
}

static int tag_ext(int id, const char *tag)
{
	if (!strcmp(tag, "copy"))
		return SX_COPY;
	if (!strcmp(tag, "create"))
		return SX_MAILBOX;
	if (!strcmp(tag, "flags"))
		return SX_IMAP4FLAGS;
	if (!strcmp(tag, "count") || !strcmp(tag, "value"))
		return SX_RELATIONAL;
	if (!strcmp(tag, "regex"))
		return SX_REGEX;
	if (!strcmp(tag, "user") || !strcmp(tag, "detail"))
		return SX_SUBADDRESS;
	if (id == SC_DELETEHEADER || id == SC_ADDHEADER) /* RFC 5293 defines its own :index/:last */
		return -1;
	if (!strcmp(tag, "index") || (!strcmp(tag, "last") && id != ST_DUPLICATE))
		return SX_INDEX;
	if (!strcmp(tag, "seconds") && id == SC_VACATION)
		return SX_VACSECONDS;
	return -1;
}

static int has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	if (!n || strchr(w, ' ')) /* found by fuzz_sieve_run: "" ran past the list's end */
		return 0;
	for (const char *p = list; (p = strstr(p, w)); p++)
		if ((p == list || p[-1] == ' ') && p[n] == ' ')
			return 1;
	return 0;
}

static const char *ext_name(int ext)
{
	for (size_t i = 0; i < ARRAY_LEN(exts); i++)
		if (exts[i].ext == ext)
			return exts[i].name;
	return "?";
}

static int need(struct parser *ps, int line, int ext, const char *what)
{
	if (ext >= 0 && !(ps->s->ext & (1u << ext)))
		return perr(ps, line, "%s requires the \"%s\" extension (require \"%s\";)", what,
			    ext_name(ext), ext_name(ext));
	return 0;
}

static int check_tags(struct parser *ps, struct sv_node *n, const struct spec *sp)
{
	int nmatch = 0, npart = 0, ncmp = 0, nsize = 0, nbody = 0, nmod = 0;
	for (struct sv_arg *a = n->args; a; a = a->next) {
		if (a->type != SA_TAG)
			continue;
		if (!has_word(sp->tags, a->tag))
			return perr(ps, a->line, "%s: unknown tag :%s", sp->name, a->tag);
		char what[80];
		snprintf(what, sizeof what, "tag :%s", a->tag);
		if (need(ps, a->line, tag_ext(sp->id, a->tag), what))
			return -1;
		nmatch += has_word("is contains matches regex count value ", a->tag);
		npart += has_word("all localpart domain user detail ", a->tag);
		ncmp += !strcmp(a->tag, "comparator");
		nsize += has_word("over under ", a->tag);
		nbody += has_word("raw content text ", a->tag);
		nmod += has_word("days seconds ", a->tag) + 0 * nmod;
		for (struct sv_arg *b = n->args; b != a; b = b->next)
			if (b->type == SA_TAG && !strcmp(b->tag, a->tag))
				return perr(ps, a->line, "%s: tag :%s given twice", sp->name,
					    a->tag);
		if (a->param && a->param->type == SA_STR) {
			const char *v = a->param->s[0];
			if (!strcmp(a->tag, "comparator")) {
				if (!strcmp(v, "i;ascii-numeric")) {
					if (need(ps, a->line, SX_NUMERIC,
						 "comparator i;ascii-numeric"))
						return -1;
				} else if (strcmp(v, "i;octet") && strcmp(v, "i;ascii-casemap")) {
					return perr(ps, a->line, "unknown comparator \"%s\"", v);
				}
			}
			if ((!strcmp(a->tag, "count") || !strcmp(a->tag, "value")) &&
			    !has_word("gt ge lt le eq ne ", v))
				return perr(ps, a->line, "unknown relational operator \"%s\"", v);
		}
	}
	if (nmatch > 1 || npart > 1 || ncmp > 1 || nbody > 1 || nmod > 1)
		return perr(ps, n->line, "%s: conflicting tags", sp->name);
	if (sp->id == ST_SIZE && nsize != 1)
		return perr(ps, n->line, "size needs exactly one of :over and :under");
	return 0;
}

/* Move each tag's parameter under it and collect the positional
 * arguments; check their number and kinds against the spec. */
static int check_args(struct parser *ps, struct sv_node *n, const struct spec *sp)
{
	struct sv_arg *prev = NULL;
	int seen_pos = 0;
	for (struct sv_arg *a = n->args; a; prev = a, a = a->next) {
		if (a->type == SA_TAG) {
			if (seen_pos)
				return perr(ps, a->line, "%s: tag :%s after a positional argument",
					    sp->name, a->tag);
			int k = tag_param(a->tag);
			if (!k)
				continue;
			struct sv_arg *p = a->next;
			if (!p || p->type == SA_TAG || (k == 'n') != (p->type == SA_NUM) ||
			    (k == 's' && p->islist))
				return perr(ps, a->line, "%s: tag :%s needs a %s argument",
					    sp->name, a->tag,
					    k == 'n'   ? "number"
					    : k == 's' ? "string"
						       : "string list");
			a->param = p;
			a->next = p->next;
			p->next = NULL;
			continue;
		}
		(void)prev;
		seen_pos = 1;
		if (n->npos == 4)
			return perr(ps, a->line, "%s: too many arguments", sp->name);
		n->pos[n->npos++] = a;
	}
	const char *pos = sp->pos;
	int npos = (int)strlen(pos);
	int shift = 0;
	if (npos && pos[npos - 1] == 'L' && n->npos == npos - 1)
		npos--; /* an optional last string list (deleteheader's value patterns) */
	if (pos[0] == '?') {
		pos++;
		npos--;
		if (n->npos == npos - 1)
			shift = 1;
	}
	if (n->npos != npos - shift)
		return perr(ps, n->line, "%s: expected %d argument%s, got %d", sp->name,
			    npos - shift, npos - shift == 1 ? "" : "s", n->npos);
	for (int i = 0; i < n->npos; i++) {
		char k = pos[i + shift];
		struct sv_arg *a = n->pos[i];
		if ((k == 'n') != (a->type == SA_NUM) || (k == 's' && a->islist))
			return perr(ps, a->line, "%s: argument %d must be a %s", sp->name, i + 1,
				    k == 'n'   ? "number"
				    : k == 's' ? "string"
					       : "string list");
	}
	if (shift) { /* keep the optional variable argument in pos[0]: shift right */
		for (int i = n->npos; i > 0; i--)
			n->pos[i] = n->pos[i - 1];
		n->pos[0] = NULL;
		n->npos++;
	}
	return check_tags(ps, n, sp);
}

static int do_require(struct parser *ps, struct sv_node *n)
{
	struct sv_arg *a = n->pos[0];
	if (ps->seen_other)
		return perr(ps, n->line, "require must come before other commands");
	for (int i = 0; i < a->ns; i++) {
		size_t k = 0;
		while (k < ARRAY_LEN(exts) && strcmp(exts[k].name, a->s[i]))
			k++;
		if (k == ARRAY_LEN(exts))
			return perr(ps, a->line, "unsupported extension \"%s\"", a->s[i]);
		if (exts[k].ext >= 0)
			ps->s->ext |= 1u << exts[k].ext;
	}
	if (ps->s->ext & (1u << SX_VACSECONDS))
		ps->s->ext |= 1u << SX_VACATION; /* RFC 6131 3: implies vacation */
	return 0;
}

static int has_var(const char *s)
{
	return strstr(s, "${") != NULL;
}

static int validate(struct parser *ps, struct sv_node *n, const char *name, int is_test,
		    int has_list)
{
	const struct spec *sp = NULL;
	for (size_t i = 0; i < ARRAY_LEN(specs); i++)
		if (!strcmp(specs[i].name, name))
			sp = &specs[i];
	if (!sp || sp->test != is_test)
		return perr(ps, n->line, "unknown %s \"%s\"", is_test ? "test" : "command", name);
	n->id = sp->id;
	if (need(ps, n->line, sp->ext, name))
		return -1;
	if (sp->tests == 2 && !has_list)
		return perr(ps, n->line, "%s needs a test list in parentheses", name);
	if (sp->tests == 1 && (has_list || !n->tests || n->tests->next))
		return perr(ps, n->line, "%s needs exactly one test", name);
	if (!sp->tests && n->tests)
		return perr(ps, n->line, "%s takes no test", name);
	if (check_args(ps, n, sp))
		return -1;
	struct sv_arg *mt = sv_tag(n, "regex");
	struct sv_arg *keys = n->npos ? n->pos[n->npos - 1] : NULL;
	if (n->id == SC_DELETEHEADER)
		keys = n->npos == 2 ? n->pos[1] : NULL;
	if (mt && keys) {
		for (int i = 0; i < keys->ns; i++)
			if (!has_var(keys->s[i])) {
				char e[200];
				if (sv_regex_check(keys->s[i], e, sizeof e))
					return perr(ps, keys->line, "%s", e);
			}
	}
	if (n->id == ST_DATE || n->id == ST_CURRENTDATE) {
		const char *part = n->pos[n->npos - 2]->s[0];
		if (!has_var(part) &&
		    !has_word("year month day date julian hour minute second time iso8601 std11 "
			      "zone weekday ",
			      part))
			return perr(ps, n->line, "unknown date part \"%s\"", part);
	}
	return 0;
}

static struct sv_node *parse_command(struct parser *ps)
{
	struct sv_node *n = new_node(ps);
	if (!n)
		return NULL;
	char name[130];
	snprintf(name, sizeof name, "%s", ps->text.p);
	if (next(ps) || parse_args(ps, n))
		return NULL;
	int has_list = n->id == -2;
	n->id = -1;
	if (validate(ps, n, name, 0, has_list))
		return NULL;
	if (n->id == SC_REQUIRE) {
		if (do_require(ps, n))
			return NULL;
	} else {
		ps->seen_other = 1;
	}
	int wants_block = n->id == SC_IF || n->id == SC_ELSIF || n->id == SC_ELSE;
	if (wants_block) {
		if (!is_punct(ps, '{')) {
			perr(ps, ps->tline, "%s needs a block { ... }", name);
			return NULL;
		}
		if (++ps->depth > SIEVE_NEST_MAX) {
			perr(ps, ps->tline, "nested deeper than %d", SIEVE_NEST_MAX);
			return NULL;
		}
		if (next(ps))
			return NULL;
		n->block = parse_commands(ps, 1);
		if (ps->failed)
			return NULL;
		ps->depth--;
		if (next(ps)) /* past '}' */
			return NULL;
	} else {
		if (is_punct(ps, '{')) {
			perr(ps, ps->tline, "%s takes no block", name);
			return NULL;
		}
		if (!is_punct(ps, ';')) {
			perr(ps, ps->tline, "expected ';' after %s", name);
			return NULL;
		}
		if (next(ps))
			return NULL;
	}
	return n;
}

static struct sv_node *parse_commands(struct parser *ps, int inblock)
{
	struct sv_node *first = NULL, **tail = &first;
	int prev = -1;
	for (;;) {
		if (ps->tok == T_EOF) {
			if (inblock)
				perr(ps, ps->tline, "missing '}'");
			return first;
		}
		if (is_punct(ps, '}')) {
			if (!inblock)
				perr(ps, ps->tline, "unexpected '}'");
			return first;
		}
		if (ps->tok != T_ID) {
			perr(ps, ps->tline, "expected a command");
			return NULL;
		}
		struct sv_node *n = parse_command(ps);
		if (!n)
			return NULL;
		if ((n->id == SC_ELSIF || n->id == SC_ELSE) && prev != SC_IF && prev != SC_ELSIF) {
			perr(ps, n->line, "%s without a preceding if",
			     n->id == SC_ELSE ? "else" : "elsif");
			return NULL;
		}
		if (n->id == SC_REQUIRE && inblock) {
			perr(ps, n->line, "require must come before other commands");
			return NULL;
		}
		prev = n->id;
		*tail = n;
		tail = &n->next;
	}
}

struct sv_arg *sv_tag(const struct sv_node *n, const char *tag)
{
	for (struct sv_arg *a = n->args; a; a = a->next)
		if (a->type == SA_TAG && !strcmp(a->tag, tag))
			return a;
	return NULL;
}

int sieve_compile(const char *src, size_t len, struct sieve_script **out, char *err, size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = 0;
	struct parser ps = {.p = src, .end = src + len, .line = 1, .err = err, .errlen = errlen};
	if (len > SIEVE_SCRIPT_MAX)
		return perr(&ps, 1, "script longer than %d bytes", SIEVE_SCRIPT_MAX);
	struct sieve_script *s = xcalloc(1, sizeof *s);
	ps.s = s;
	if (next(&ps) == 0)
		s->cmds = parse_commands(&ps, 0);
	sbuf_free(&ps.text);
	if (ps.failed) {
		sieve_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void sieve_free(struct sieve_script *s)
{
	if (!s)
		return;
	arena_free(s->arena);
	free(s);
}
