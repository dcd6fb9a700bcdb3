/*
 * managesieve_parse.c — ManageSieve (RFC 5804 section 4) command syntax:
 * an atom naming the command, then arguments separated by spaces, each a
 * quoted string (at most 1024 octets, "\\" and "\"" the only escapes, no
 * CR, LF or NUL), a literal ("{n+}" or "{n}", CRLF, n octets), or for
 * HAVESPACE a number. A pure function of its buffer: the session in
 * managesieve.c collects the bytes, bounded, and does all the I/O.
 */
#include "managesieve.h"

#include <ctype.h>
#include <string.h>

enum { A_STR = 1, A_NUM = 2 };

static const struct {
	const char *name;
	int min, max;
	unsigned char kind[MS_ARGS_MAX];
} verbs[MS_NVERBS] = {
    [MS_AUTHENTICATE] = {"AUTHENTICATE", 1, 2, {A_STR, A_STR}},
    [MS_STARTTLS] = {"STARTTLS", 0, 0, {0}},
    [MS_LOGOUT] = {"LOGOUT", 0, 0, {0}},
    [MS_CAPABILITY] = {"CAPABILITY", 0, 0, {0}},
    [MS_HAVESPACE] = {"HAVESPACE", 2, 2, {A_STR, A_NUM}},
    [MS_PUTSCRIPT] = {"PUTSCRIPT", 2, 2, {A_STR, A_STR}},
    [MS_LISTSCRIPTS] = {"LISTSCRIPTS", 0, 0, {0}},
    [MS_SETACTIVE] = {"SETACTIVE", 1, 1, {A_STR}},
    [MS_GETSCRIPT] = {"GETSCRIPT", 1, 1, {A_STR}},
    [MS_DELETESCRIPT] = {"DELETESCRIPT", 1, 1, {A_STR}},
    [MS_RENAMESCRIPT] = {"RENAMESCRIPT", 2, 2, {A_STR, A_STR}},
    [MS_CHECKSCRIPT] = {"CHECKSCRIPT", 1, 1, {A_STR}},
    [MS_NOOP] = {"NOOP", 0, 1, {A_STR}},
    [MS_UNAUTHENTICATE] = {"UNAUTHENTICATE", 0, 0, {0}},
};

const char *managesieve_verb_name(int verb)
{
	return verb >= 0 && verb < MS_NVERBS ? verbs[verb].name : "?";
}

int managesieve_literal_tail(const char *line, size_t len, uint64_t *n, int *plus)
{
	size_t i, digits;
	uint64_t v = 0;
	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	*plus = line[i - 1] == '+';
	if (*plus)
		i--;
	for (digits = 0; i > 0 && isdigit((unsigned char)line[i - 1]); i--)
		digits++;
	if (i == 0 || line[i - 1] != '{' || digits == 0)
		return 0;
	if (digits > 10)
		return -1;
	for (size_t j = i; j < i + digits; j++)
		v = v * 10 + (uint64_t)(line[j] - '0');
	if (v > 0xffffffffu)
		return -1;
	*n = v;
	return 1;
}

/* The cursor over the buffer: p is the next octet, e the end. */
struct cur {
	char *p, *e;
};

/* A line end: CRLF or LF. */
static int eol(struct cur *c)
{
	if (c->p < c->e && *c->p == '\r')
		c->p++;
	if (c->p < c->e && *c->p == '\n') {
		c->p++;
		return 0;
	}
	return -1;
}

static int quoted(struct cur *c, struct ms_arg *a)
{
	char *start = c->p, *out = start; /* unescaped in place, from the opening quote on */
	for (c->p++; c->p < c->e; c->p++) {
		char ch = *c->p;
		if (ch == '"') {
			c->p++;
			a->len = (size_t)(out - start);
			if (a->len > MS_QUOTED_MAX)
				return -1;
			*out = '\0'; /* where the closing quote (or earlier) was */
			a->s = start;
			return 0;
		}
		if (ch == '\r' || ch == '\n' || ch == '\0')
			return -1;
		if (ch == '\\') {
			if (++c->p == c->e || (*c->p != '\\' && *c->p != '"'))
				return -1;
			ch = *c->p;
		}
		*out++ = ch;
	}
	return -1;
}

/* "{n+}" or "{n}", CRLF, n octets. The octets stay where they are; their
 * NUL goes into the octet after them (a SP or the line end), which the
 * caller writes only once it has looked at that octet (*term). */
static int literal(struct cur *c, struct ms_arg *a, char *term)
{
	uint64_t n = 0;
	int digits = 0;
	c->p++; /* '{' */
	while (c->p < c->e && isdigit((unsigned char)*c->p)) {
		if (++digits > 10)
			return -1;
		n = n * 10 + (uint64_t)(*c->p++ - '0');
	}
	if (!digits || n > 0xffffffffu)
		return -1;
	if (c->p < c->e && *c->p == '+')
		c->p++;
	if (c->p == c->e || *c->p++ != '}' || eol(c) < 0)
		return -1;
	if ((uint64_t)(c->e - c->p) < n)
		return -1;
	a->s = c->p;
	a->len = (size_t)n;
	c->p += n;
	*term = 1; /* the caller NUL-terminates after looking at *c->p */
	return 0;
}

static int number(struct cur *c, struct ms_arg *a)
{
	uint64_t v = 0;
	int digits = 0;
	char *start = c->p;
	while (c->p < c->e && isdigit((unsigned char)*c->p)) {
		if (++digits > 10)
			return -1;
		v = v * 10 + (uint64_t)(*c->p++ - '0');
	}
	if (!digits || v > 0xffffffffu)
		return -1;
	a->num = (uint32_t)v;
	a->s = start;
	a->len = (size_t)(c->p - start);
	return 0;
}

/* One argument of the given kind. Leaves c->p on what follows it; *end_at
 * gets where its NUL goes once the following octet has been read. */
static int arg(struct cur *c, int kind, struct ms_arg *a, char **end_at)
{
	char lit = 0;
	int rc;
	if (c->p == c->e)
		return -1;
	if (kind == A_NUM)
		rc = number(c, a);
	else if (*c->p == '"')
		rc = quoted(c, a);
	else if (*c->p == '{')
		rc = literal(c, a, &lit);
	else
		return -1;
	*end_at = rc == 0 && (kind == A_NUM || lit) ? c->p : NULL;
	return rc;
}

/* The arguments up to the final line end, NUL-terminating each. */
static int args(struct cur *c, const unsigned char *kinds, int max, struct ms_arg *out, int *argc)
{
	char *pending = NULL;
	*argc = 0;
	for (;;) {
		char *at = c->p;
		if (at < c->e && *at != ' ') {
			/* the line end */
			if (eol(c) < 0 || c->p != c->e)
				return -1;
			if (pending)
				*pending = '\0';
			return 0;
		}
		if (at == c->e)
			return -1; /* no line end */
		if (*argc == max)
			return -1;
		c->p++;
		if (pending)
			*pending = '\0';
		pending = NULL;
		if (arg(c, kinds[*argc], &out[*argc], &pending) < 0)
			return -1;
		(*argc)++;
	}
}

int managesieve_parse(char *buf, size_t len, struct ms_cmd *cmd)
{
	struct cur c = {buf, buf + len};
	size_t n = 0;
	int v;
	memset(cmd, 0, sizeof *cmd);
	cmd->verb = -1;
	buf[len] = '\0';
	while (c.p < c.e && isalpha((unsigned char)*c.p)) {
		if (n + 1 < sizeof cmd->keyword)
			cmd->keyword[n] = (char)toupper((unsigned char)*c.p);
		n++;
		c.p++;
	}
	if (n == 0 || n >= sizeof cmd->keyword || (c.p < c.e && *c.p != ' ' && *c.p != '\r' &&
						    *c.p != '\n')) {
		cmd->keyword[0] = '\0';
		return MS_PARSE_SYNTAX;
	}
	for (v = 0; v < MS_NVERBS; v++)
		if (!strcmp(cmd->keyword, verbs[v].name))
			break;
	if (v == MS_NVERBS)
		return MS_PARSE_UNKNOWN;
	if (args(&c, verbs[v].kind, verbs[v].max, cmd->argv, &cmd->argc) < 0 ||
	    cmd->argc < verbs[v].min)
		return MS_PARSE_SYNTAX;
	cmd->verb = v;
	return MS_PARSE_OK;
}

int managesieve_parse_string(char *buf, size_t len, struct ms_arg *out)
{
	struct cur c = {buf, buf + len};
	char *pending = NULL;
	memset(out, 0, sizeof *out);
	buf[len] = '\0';
	if (arg(&c, A_STR, out, &pending) < 0 || eol(&c) < 0 || c.p != c.e)
		return -1;
	if (pending)
		*pending = '\0';
	return 0;
}
