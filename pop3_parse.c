/*
 * pop3_parse.c — the parts of POP3 that need no connection: the command
 * parser and the RETR/TOP output filter (contracts in pop3.h). pop3.c owns
 * the session, the states and every reply; this file decides only what a
 * line says and which bytes a message becomes on the wire.
 */
#include "pop3.h"

#include <string.h>

/* Arguments each command takes (RFC 1939 sections 5-7, RFC 2449 section 5,
 * RFC 2595 section 4, RFC 5034 section 4). APOP is parsed so that it can be
 * refused by name; it is not offered. */
static const struct {
	const char *name;
	int min, max;
} verbs[POP3_NVERBS] = {
    [POP3_USER] = {"USER", 1, 1}, [POP3_PASS] = {"PASS", 1, 1}, [POP3_APOP] = {"APOP", 2, 2},
    [POP3_QUIT] = {"QUIT", 0, 0}, [POP3_STAT] = {"STAT", 0, 0}, [POP3_LIST] = {"LIST", 0, 1},
    [POP3_RETR] = {"RETR", 1, 1}, [POP3_DELE] = {"DELE", 1, 1}, [POP3_NOOP] = {"NOOP", 0, 0},
    [POP3_RSET] = {"RSET", 0, 0}, [POP3_TOP] = {"TOP", 2, 2},	[POP3_UIDL] = {"UIDL", 0, 1},
    [POP3_CAPA] = {"CAPA", 0, 0}, [POP3_STLS] = {"STLS", 0, 0}, [POP3_AUTH] = {"AUTH", 0, 2},
};

const char *pop3_verb_name(int verb)
{
	return verb >= 0 && verb < POP3_NVERBS ? verbs[verb].name : "?";
}

/* RFC 2449 section 3: keywords are 3 or 4 printable letters, case-
 * insensitive. Returns the keyword length or -1. */
static int parse_keyword(const char *s, char kw[5])
{
	int n = 0;

	while (s[n] && s[n] != ' ') {
		char ch = s[n];
		if (n == 4 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			return -1;
		kw[n++] = (char)(ch & ~0x20);
	}
	kw[n] = '\0';
	return n >= 3 ? n : -1;
}

/* Split space-separated arguments in place. Runs of spaces count as one
 * (some clients send a trailing space); more than POP3_ARG_MAX is an error. */
static int split_args(char *p, struct pop3_cmd *cmd)
{
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (cmd->argc == POP3_ARG_MAX)
			return -1;
		cmd->argv[cmd->argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return 0;
}

int pop3_parse(const char *line, size_t len, struct pop3_cmd *cmd)
{
	int kwlen;
	char *p;

	cmd->verb = -1;
	cmd->argc = 0;
	cmd->argv[0] = cmd->argv[1] = NULL;
	cmd->keyword[0] = '\0';
	cmd->buf[0] = '\0';
	if (len > POP3_LINE_MAX - 2)
		return POP3_PARSE_SYNTAX;
	/* Control characters (NUL, CR, LF, TAB, DEL) have no place in a
	 * command; octets >= 0x80 may be in a password. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch == 0x7f)
			return POP3_PARSE_SYNTAX;
	}
	memcpy(cmd->buf, line, len);
	cmd->buf[len] = '\0';

	kwlen = parse_keyword(cmd->buf, cmd->keyword);
	if (kwlen < 0) {
		cmd->keyword[0] = '\0';
		return POP3_PARSE_SYNTAX;
	}
	for (int v = 0; v < POP3_NVERBS; v++)
		if (strcmp(cmd->keyword, verbs[v].name) == 0)
			cmd->verb = v;
	if (cmd->verb < 0)
		return POP3_PARSE_UNKNOWN;

	p = cmd->buf + kwlen;
	if (cmd->verb == POP3_PASS) {
		/* RFC 1939 section 7: the argument is everything after the
		 * one space, spaces included. */
		if (p[0] != ' ' || p[1] == '\0')
			return POP3_PARSE_SYNTAX;
		cmd->argv[cmd->argc++] = p + 1;
		return POP3_PARSE_OK;
	}
	if (split_args(p, cmd) < 0 || cmd->argc < verbs[cmd->verb].min ||
	    cmd->argc > verbs[cmd->verb].max)
		return POP3_PARSE_SYNTAX;
	return POP3_PARSE_OK;
}

int pop3_parse_num(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 10)
			return -1;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (n == 0 || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---- the RETR/TOP filter ---- */

void pop3_filter_init(struct pop3_filter *f, int64_t top)
{
	memset(f, 0, sizeof *f);
	f->top = top;
	f->in_header = 1;
	f->bol = 1;
}

int pop3_filter_done(const struct pop3_filter *f)
{
	return f->done;
}

static int put(struct pop3_filter *f, const char *p, size_t n, pop3_emit_fn emit, void *arg)
{
	if (n == 0)
		return 0;
	if (n >= 2) {
		f->last[0] = p[n - 2];
		f->last[1] = p[n - 1];
	} else {
		f->last[0] = f->last[1];
		f->last[1] = p[0];
	}
	f->out += n;
	return emit(arg, p, n);
}

/* A line just ended at '\n' (its length before the '\n' was linelen, and
 * cr says the byte before was '\r'). Count it against TOP's limit. */
static void line_ended(struct pop3_filter *f, int cr)
{
	int empty = f->linelen == 0 || (f->linelen == 1 && cr);

	if (f->in_header) {
		if (empty)
			f->in_header = 0;
	} else {
		f->body_lines++;
	}
	if (!f->in_header && f->top >= 0 && f->body_lines >= (uint64_t)f->top)
		f->done = 1;
	f->linelen = 0;
}

int pop3_filter_feed(struct pop3_filter *f, const void *in, size_t n, pop3_emit_fn emit, void *arg)
{
	const char *p = in;
	size_t start = 0;

	if (f->done)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (f->bol && p[i] == '.') {
			/* RFC 1939 section 3: byte-stuff the termination octet. */
			if (put(f, p + start, i - start, emit, arg) < 0 ||
			    put(f, ".", 1, emit, arg) < 0)
				return -1;
			start = i;
		}
		f->bol = 0;
		if (p[i] == '\n') {
			line_ended(f, f->cr);
			f->bol = 1;
			if (f->done)
				return put(f, p + start, i + 1 - start, emit, arg);
		} else {
			f->linelen++;
		}
		f->cr = p[i] == '\r';
	}
	return put(f, p + start, n - start, emit, arg);
}

int pop3_filter_end(struct pop3_filter *f, pop3_emit_fn emit, void *arg)
{
	if (f->out > 0 && !(f->last[0] == '\r' && f->last[1] == '\n'))
		return put(f, "\r\n", 2, emit, arg);
	return 0;
}
