/*
 * imap_parse.c — reading one IMAP command (RFC 9051 2.2, 4, 9): tag, name,
 * and arguments as a tree of atoms, strings and lists, with literals
 * {n}, {n+} (RFC 7888 LITERAL+) and ~{n} (RFC 3516 literal8); sequence
 * sets; modified UTF-7 mailbox names (RFC 3501 5.1.3).
 *
 * Every byte comes from the peer: the line length, the number of tokens,
 * the nesting depth, each literal, the number of literals and the whole
 * command are bounded before anything is buffered, and each literal is
 * judged (command, state, sizes so far) before its "+" goes out or a byte of
 * it is read. Before login only LOGIN/AUTHENTICATE/ID take literals, a few
 * KiB each. APPEND messages go to one spool per command (at most one temp
 * file), each bounded by limits.message_size and all of them by that plus
 * a little per message. A refused non-synchronizing literal (RFC 7888 4:
 * its bytes are already on the way) is swallowed after login, bounded, and
 * ends the connection before it, so literal bytes are never read as commands.
 * The reader pulls its bytes through struct imap_in so tests and the fuzzer
 * can drive it without a connection.
 */
#include "imap.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"
#include "util.h"

void iarg_free(struct iarg **ap)
{
	struct iarg *a = *ap, *next;

	while (a) {
		next = a->next;
		iarg_free(&a->kids);
		free(a->s);
		free(a);
		a = next;
	}
	*ap = NULL;
}

void imap_cmd_clear(struct imap_cmd *cmd)
{
	iarg_free(&cmd->args);
	spool_free(&cmd->spool);
	memset(cmd, 0, sizeof *cmd);
}

struct iarg *iarg_nth(const struct iarg *list, size_t i)
{
	struct iarg *a;
	if (!list || list->type != IA_LIST)
		return NULL;
	for (a = list->kids; a && i; a = a->next)
		i--;
	return a;
}

const char *iarg_str(const struct iarg *a)
{
	if (!a || a->type == IA_LIST || !a->s)
		return NULL;
	return a->s;
}

int iarg_is_atom(const struct iarg *a, const char *upper)
{
	return a && a->type == IA_ATOM && str_casecmp_ascii(a->s, upper) == 0;
}

/* RFC 9051 9: ATOM-CHAR is any CHAR except atom-specials; we also take
 * ']' (resp-specials) and 8-bit bytes inside atoms for UTF-8 names. */
static int atom_char(unsigned char c)
{
	return c > ' ' && c != 127 && c != '(' && c != ')' && c != '{' && c != '"';
}

static int tag_char(unsigned char c)
{
	return c > ' ' && c < 127 && !strchr("(){%*\"\\+", c);
}

struct rdr {
	struct imap_in *in;
	struct imap_cmd *cmd;
	char *line;
	size_t len, pos;
	/* APPEND-like commands: the index of the first argument after which
	 * top-level literals are messages (1 for APPEND after the mailbox
	 * name, 2 for REPLACE after the number and mailbox; 0 otherwise). */
	size_t append;
	/* What each open list is, for the literals that are messages: the
	 * list of "UTF8 (literal8)" (RFC 6855 4) or of "CATENATE (...)"
	 * (RFC 4469 5, with "UTF8 (literal8)" parts inside, RFC 6855 4). */
	int lkind[IMAP_DEPTH_MAX + 1];
	uint64_t cat_bytes; /* TEXT bytes of the current CATENATE list */
	int preauth_lits;   /* before login: this command may carry small literals */
	int tail_done;      /* the current line's closing literal was dealt with */
	struct iarg *stack[IMAP_DEPTH_MAX + 1];
	struct iarg *tail[IMAP_DEPTH_MAX + 1];
	int depth;
};

static int bad(struct rdr *r, const char *why)
{
	str_copy(r->cmd->err, why, sizeof r->cmd->err);
	return 1;
}

static struct iarg *push(struct rdr *r, int type)
{
	struct iarg *a = xcalloc(1, sizeof *a);
	struct iarg *list = r->stack[r->depth];

	a->type = type;
	if (r->tail[r->depth])
		r->tail[r->depth]->next = a;
	else
		list->kids = a;
	r->tail[r->depth] = a;
	list->nkids++;
	r->cmd->ntok++;
	return a;
}

/* Close after the answer: the input cannot be brought back in step. */
static int fatal(struct rdr *r)
{
	r->cmd->fatal = 1;
	return 1;
}

/* Does the line end in a literal announcement "{n}", "{n+}" (or "~{...}")?
 * n saturates, so an absurd length is simply too large. */
static int tail_literal(const char *l, size_t len, uint64_t *n, int *nonsync)
{
	size_t i;
	if (len < 3 || l[len - 1] != '}')
		return 0;
	i = len - 1;
	*nonsync = l[i - 1] == '+';
	if (*nonsync)
		i--;
	size_t end = i;
	while (i > 0 && isdigit((unsigned char)l[i - 1]))
		i--;
	if (i == end || i == 0 || l[i - 1] != '{')
		return 0;
	*n = 0;
	for (size_t k = i; k < end; k++)
		*n = *n > UINT64_MAX / 20 ? UINT64_MAX : *n * 10 + (uint64_t)(l[k] - '0');
	return 1;
}

/* A non-synchronizing literal we refused is on its way (RFC 7888 4). After
 * login, swallow it and the rest of the command (lines, and more literals
 * of the same command), bounded in bytes and count, so the next line read
 * is a new command. Before login, or beyond the bounds: close instead.
 * 0 drained, 1 fatal, -1 connection gone. */
static int drain(struct rdr *r, uint64_t n)
{
	char buf[4096];
	uint64_t budget = r->in->big_max + IMAP_CMD_MAX;
	int nonsync = 1;

	r->tail_done = 1;
	if (r->in->preauth)
		return fatal(r);
	for (size_t lits = 0; lits <= IMAP_APPEND_MSGS_MAX; lits++) {
		if (!nonsync)
			return 0; /* a synchronizing one waits for a "+" that never comes */
		if (n > budget)
			return fatal(r);
		budget -= n;
		while (n > 0) {
			size_t k = n > sizeof buf ? sizeof buf : (size_t)n;
			if (r->in->read_n(r->in->arg, buf, k) < 0)
				return -1;
			n -= k;
		}
		char *line;
		ssize_t len = r->in->getline(r->in->arg, &line, IMAP_LINE_MAX);
		if (len == -1)
			return -1;
		if (len < 0)
			return fatal(r); /* its end unseen: it may announce more */
		if (!tail_literal(line, (size_t)len, &n, &nonsync))
			return 0;
	}
	return fatal(r);
}

static int literal_cmd_ok(const char *name)
{
	return strcmp(name, "LOGIN") == 0 || strcmp(name, "AUTHENTICATE") == 0 ||
	       strcmp(name, "ID") == 0;
}

/* Why a literal of n bytes may not be taken now; NULL if it may. */
static const char *literal_refusal(struct rdr *r, uint64_t n, int spooled)
{
	struct imap_cmd *c = r->cmd;

	if (c->ntok >= IMAP_ARGS_MAX)
		return "Too many arguments";
	if (r->in->preauth) {
		if (!r->preauth_lits)
			return "Literal not allowed before login";
		if (n > IMAP_PREAUTH_LITERAL_MAX || c->nlit >= IMAP_PREAUTH_LITERALS ||
		    c->bytes + n > IMAP_PREAUTH_CMD_MAX)
			return "Literal too large before login";
		return NULL;
	}
	if (spooled) {
		if (c->nspooled >= IMAP_APPEND_MSGS_MAX)
			return "Too many messages in one APPEND";
		/* One message up to the limit; all of them up to the limit
		 * plus a little each (RFC 3502 has no bound of its own). */
		if (n > r->in->big_max ||
		    c->spooled + n > r->in->big_max + (c->nspooled + 1) * (uint64_t)IMAP_APPEND_SLACK) {
			c->no = 1;
			return "[TOOBIG] Message too large";
		}
		return NULL;
	}
	if (c->nlit >= IMAP_LITERALS_MAX)
		return "Too many literals";
	if (n > IMAP_LITERAL_SMALL || c->bytes + n > IMAP_CMD_MAX)
		return "Literal too large";
	return NULL;
}

enum { LK_PLAIN, LK_UTF8, LK_CAT };

/* Is a literal here one of an APPEND's (or REPLACE's) messages, or a part
 * of one? Every top-level literal after the mailbox name; the one inside
 * "UTF8 (~{n})" (RFC 6855 4, which Thunderbird uses once UTF8=ACCEPT is
 * enabled); and inside "CATENATE (...)" each "TEXT {n}" and the one in
 * "UTF8 (~{n})" (RFC 4469 5, RFC 6855 4). *in_cat: a CATENATE part. */
static int message_literal(struct rdr *r, int *in_cat)
{
	if (!r->append)
		return 0;
	if (r->depth == 0)
		return r->stack[0]->nkids >= r->append;
	int k = r->lkind[r->depth];
	*in_cat = r->lkind[1] == LK_CAT;
	if (k == LK_UTF8)
		return r->stack[r->depth]->nkids == 0;
	if (k == LK_CAT)
		return iarg_is_atom(r->tail[r->depth], "TEXT");
	*in_cat = 0;
	return 0;
}

/* The kind of the list opened after `before` at the current depth. */
static int list_kind(const struct rdr *r, const struct iarg *before)
{
	if (!r->append)
		return LK_PLAIN;
	if (r->depth == 0 && r->stack[0]->nkids >= r->append)
		return iarg_is_atom(before, "UTF8")	 ? LK_UTF8
		       : iarg_is_atom(before, "CATENATE") ? LK_CAT
							  : LK_PLAIN;
	if (r->depth == 1 && r->lkind[1] == LK_CAT && iarg_is_atom(before, "UTF8"))
		return LK_UTF8;
	return LK_PLAIN;
}

/* "{n}" / "{n+}" / "~{n}" at the end of the line; r->pos at '{'. */
static int literal(struct rdr *r, int binary)
{
	const char *p = r->line + r->pos + 1;
	struct imap_cmd *c = r->cmd;
	uint64_t n = 0;
	int digits = 0, nonsync = 0;

	while (isdigit((unsigned char)*p)) {
		if (n > UINT64_MAX / 20)
			return bad(r, "Literal length out of range");
		n = n * 10 + (uint64_t)(*p++ - '0');
		digits++;
	}
	if (*p == '+') {
		nonsync = 1;
		p++;
	}
	if (!digits || *p != '}' || p + 1 != r->line + r->len)
		return bad(r, "Bad literal syntax");
	int in_cat = 0;
	int spooled = message_literal(r, &in_cat);
	const char *why = literal_refusal(r, n, spooled);
	/* RFC 4469 5: the parts of one CATENATE message together are one
	 * message: refused before a byte is read when they alone pass the
	 * limit (URL parts are added and checked before assembly). */
	if (!why && in_cat && r->cat_bytes + n > r->in->big_max) {
		c->no = 1;
		why = "[TOOBIG] Message too large";
	}
	if (why) {
		bad(r, why);
		r->tail_done = 1;
		if (!nonsync)
			return 1; /* no "+": the client sends nothing more */
		return drain(r, n) < 0 ? -1 : 1;
	}
	if (!nonsync)
		r->in->cont(r->in->arg);
	struct iarg *a = push(r, IA_STRING);
	a->literal = 1 + binary;
	a->len = (size_t)n;
	if (spooled) {
		if (!c->spool)
			c->spool = spool_new(SPOOL_MEM_DEFAULT);
		a->spooled = 1;
		a->off = c->spooled;
		if (n && r->in->read_spool(r->in->arg, c->spool, n) < 0)
			return -1;
		c->spooled += n;
		c->nspooled++;
		if (in_cat)
			r->cat_bytes += n;
	} else {
		a->s = xmalloc((size_t)n + 1);
		if (n && r->in->read_n(r->in->arg, a->s, (size_t)n) < 0)
			return -1;
		a->s[n] = 0;
		c->bytes += n;
		c->nlit++;
	}
	/* The command goes on with the next line. */
	r->tail_done = 0;
	ssize_t len = r->in->getline(r->in->arg, &r->line, IMAP_LINE_MAX);
	if (len == -1)
		return -1;
	if (len == -2) {
		r->tail_done = 1;
		bad(r, "Line too long");
		return fatal(r);
	}
	r->len = (size_t)len;
	r->pos = 0;
	c->bytes += r->len;
	if (c->bytes > (r->in->preauth ? IMAP_PREAUTH_CMD_MAX : IMAP_CMD_MAX))
		return bad(r, "Command too long");
	return 0;
}

static int quoted(struct rdr *r)
{
	struct sbuf b = {0};
	size_t i = r->pos + 1;

	for (; i < r->len && r->line[i] != '"'; i++) {
		if (r->line[i] == '\\') {
			if (i + 1 >= r->len || (r->line[i + 1] != '"' && r->line[i + 1] != '\\')) {
				sbuf_free(&b);
				return bad(r, "Bad escape in quoted string");
			}
			i++;
		}
		if (r->line[i] == 0) {
			sbuf_free(&b);
			return bad(r, "NUL in quoted string");
		}
		sbuf_add(&b, r->line + i, 1);
	}
	if (i >= r->len) {
		sbuf_free(&b);
		return bad(r, "Unterminated quoted string");
	}
	sbuf_add(&b, NULL, 0);
	struct iarg *a = push(r, IA_STRING);
	a->s = b.p;
	a->len = b.len;
	r->pos = i + 1;
	return 0;
}

/* Fetch items whose "[...]" section may hold spaces and parentheses. */
static int section_item(const char *p, size_t n)
{
	static const char *const items[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
					    "BINARY.SIZE"};
	for (size_t i = 0; i < ARRAY_LEN(items); i++)
		if (strlen(items[i]) == n && str_ncasecmp_ascii(p, items[i], n) == 0)
			return 1;
	return 0;
}

/* An atom. '[' is an ATOM-CHAR (RFC 9051 9: only ']' is a resp-special),
 * so "a[b" is an atom and so is the mailbox name "x|[}". After a fetch
 * item's name (BODY[HEADER.FIELDS (A B)]) the '[' ... ']' part may hold
 * spaces and parentheses, and "<p.n>" follows it. */
static int atom(struct rdr *r)
{
	size_t i = r->pos;
	int br = 0;
	const char *open = memchr(r->line + r->pos, '[', r->len - r->pos);
	size_t plain = r->pos;
	while (plain < r->len && atom_char((unsigned char)r->line[plain]) && r->line[plain] != ')')
		plain++;
	if (!open || (size_t)(open - r->line) >= plain ||
	    !section_item(r->line + r->pos, (size_t)(open - (r->line + r->pos))))
		i = plain; /* no section: '[' and ']' are atom characters */

	while (i < r->len) {
		unsigned char c = (unsigned char)r->line[i];
		if (c == '[')
			br++;
		else if (c == ']' && br)
			br--;
		else if (!br && (!atom_char(c) || c == ')'))
			break;
		else if (br && (c < ' ' || c == 127))
			return bad(r, "Control character in argument");
		if (br > 4)
			return bad(r, "Nesting too deep");
		i++;
	}
	if (br)
		return bad(r, "Missing ]");
	if (i == r->pos)
		return bad(r, "Unexpected character");
	struct iarg *a = push(r, IA_ATOM);
	a->s = xstrndup(r->line + r->pos, i - r->pos);
	a->len = i - r->pos;
	r->pos = i;
	return 0;
}

static int args(struct rdr *r)
{
	int rc;

	for (;;) {
		while (r->pos < r->len && r->line[r->pos] == ' ')
			r->pos++;
		if (r->pos >= r->len) {
			if (r->depth > 0)
				return bad(r, "Missing )");
			return 0;
		}
		if (r->cmd->ntok >= IMAP_ARGS_MAX)
			return bad(r, "Too many arguments");
		char c = r->line[r->pos];
		if (c == '(') {
			if (r->depth >= IMAP_DEPTH_MAX)
				return bad(r, "Nesting too deep");
			const struct iarg *before = r->tail[r->depth];
			int kind = list_kind(r, before);
			if (kind == LK_CAT)
				r->cat_bytes = 0;
			struct iarg *l = push(r, IA_LIST);
			r->depth++;
			r->lkind[r->depth] = kind;
			r->stack[r->depth] = l;
			r->tail[r->depth] = NULL;
			r->pos++;
		} else if (c == ')') {
			if (r->depth == 0)
				return bad(r, "Unexpected )");
			r->lkind[r->depth] = LK_PLAIN;
			r->depth--;
			r->pos++;
		} else if (c == '"') {
			if ((rc = quoted(r)) != 0)
				return rc;
		} else if (c == '{') {
			if ((rc = literal(r, 0)) != 0)
				return rc;
		} else if (c == '~' && r->pos + 1 < r->len && r->line[r->pos + 1] == '{') {
			r->pos++;
			if ((rc = literal(r, 1)) != 0)
				return rc;
		} else {
			if ((rc = atom(r)) != 0)
				return rc;
		}
	}
}

static size_t word(const char *l, size_t len, size_t pos, char *out, size_t cap, int tag)
{
	size_t k = 0;
	while (pos < len && l[pos] != ' ') {
		unsigned char c = (unsigned char)l[pos];
		if ((tag && !tag_char(c)) || (!tag && !isalnum(c) && c != '-') || k + 1 >= cap)
			return 0;
		out[k++] = (char)toupper(c);
		pos++;
	}
	out[k] = 0;
	return k;
}

static int read_cmd(struct rdr *r);

int imap_cmd_read(struct imap_in *in, struct imap_cmd *cmd)
{
	struct rdr r = {.in = in, .cmd = cmd};
	uint64_t n;
	int nonsync;

	memset(cmd, 0, sizeof *cmd);
	str_copy(cmd->tag, "*", sizeof cmd->tag);
	int rc = read_cmd(&r);
	/* Refused somewhere before the literal that ends this line: its bytes
	 * are on their way all the same if it is non-synchronizing. */
	if (rc == 1 && !r.tail_done && r.line &&
	    tail_literal(r.line, r.len, &n, &nonsync) && nonsync && drain(&r, n) < 0)
		return -1;
	return rc;
}

/* Tag, name, arguments. */
static int read_cmd(struct rdr *r)
{
	struct imap_in *in = r->in;
	struct imap_cmd *cmd = r->cmd;
	ssize_t len;
	size_t k;

	len = in->getline(in->arg, &r->line, IMAP_LINE_MAX);
	if (len == -1)
		return -1;
	if (len == -2) {
		/* Consumed to its end, which we never saw: it may announce a
		 * literal whose bytes would then be read as commands. */
		r->line = NULL;
		bad(r, "Line too long");
		return fatal(r);
	}
	r->len = (size_t)len;
	cmd->bytes = r->len;
	if (r->len == 0)
		return bad(r, "Empty command line");
	/* The tag as the client wrote it (case kept). */
	for (k = 0; k < r->len && r->line[k] != ' '; k++)
		if (!tag_char((unsigned char)r->line[k]) || k >= IMAP_TAG_MAX)
			return bad(r, "Invalid tag");
	memcpy(cmd->tag, r->line, k);
	cmd->tag[k] = 0;
	if (k == r->len || k + 1 == r->len)
		return bad(r, "Missing command");
	r->pos = k + 1;
	size_t n = word(r->line, r->len, r->pos, cmd->name, sizeof cmd->name, 0);
	if (!n)
		return bad(r, "Invalid command name");
	r->pos += n;
	if (strcmp(cmd->name, "UID") == 0 && r->pos < r->len) {
		char sub[20];
		size_t m = word(r->line, r->len, r->pos + 1, sub, sizeof sub, 0);
		if (!m)
			return bad(r, "Invalid UID command");
		strcat(cmd->name, " ");
		strcat(cmd->name, sub);
		r->pos += 1 + m;
	}
	if (r->pos < r->len && r->line[r->pos] != ' ')
		return bad(r, "Invalid command name");
	r->append = strcmp(cmd->name, "APPEND") == 0	  ? 1
		    : strcmp(cmd->name, "REPLACE") == 0 ||
			      strcmp(cmd->name, "UID REPLACE") == 0
			  ? 2
			  : 0;
	r->preauth_lits = literal_cmd_ok(cmd->name);
	cmd->args = xcalloc(1, sizeof *cmd->args);
	cmd->args->type = IA_LIST;
	r->stack[0] = cmd->args;
	return args(r);
}

/* ---------------------------------------------------------- seqsets */

static int seq_num(const char **sp, uint32_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (*s == '*') {
		*out = 0;
		*sp = s + 1;
		return 0;
	}
	if (!isdigit((unsigned char)*s) || *s == '0')
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (uint64_t)(*s++ - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	*sp = s;
	return 0;
}

int seqset_parse(const char *s, struct seqset *out)
{
	size_t cap = 0;

	out->r = NULL;
	out->n = 0;
	if (!s || !*s)
		return -1;
	for (;;) {
		uint32_t lo, hi;
		if (seq_num(&s, &lo) < 0)
			goto bad;
		hi = lo;
		if (*s == ':') {
			s++;
			if (seq_num(&s, &hi) < 0)
				goto bad;
		}
		if (out->n == IMAP_SEQ_RANGES_MAX)
			goto bad;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->r = xrealloc(out->r, cap * sizeof *out->r);
		}
		out->r[out->n][0] = lo;
		out->r[out->n][1] = hi;
		out->n++;
		if (*s == 0)
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	seqset_free(out);
	return -1;
}

static int range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

void seqset_resolve(struct seqset *s, uint32_t star)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint32_t lo = s->r[i][0] ? s->r[i][0] : star;
		uint32_t hi = s->r[i][1] ? s->r[i][1] : star;
		if (lo > hi) { /* RFC 9051 9: "2:4" and "4:2" are the same */
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		s->r[i][0] = lo;
		s->r[i][1] = hi;
	}
	if (s->n)
		qsort(s->r, s->n, sizeof *s->r, range_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (k && (uint64_t)s->r[i][0] <= (uint64_t)s->r[k - 1][1] + 1) {
			if (s->r[i][1] > s->r[k - 1][1])
				s->r[k - 1][1] = s->r[i][1];
		} else {
			s->r[k][0] = s->r[i][0];
			s->r[k][1] = s->r[i][1];
			k++;
		}
	}
	s->n = k;
}

int seqset_contains(const struct seqset *s, uint32_t v)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v < s->r[mid][0])
			hi = mid;
		else if (v > s->r[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void seqset_free(struct seqset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

/* ------------------------------------------------------ LIST patterns */

/* A pattern as a little automaton run over the name once: state i means
 * "pattern[0..i) matched so far". A set of states is kept instead of
 * backtracking, so no input takes more than len(name) * len(pattern)
 * steps. Runs of wildcards are folded first ("%*" is "*", "%%" is "%"),
 * so a wildcard state only ever reaches the next state by matching empty. */
int imap_wild_match(const char *pattern, const char *name)
{
	char p[IMAP_PATTERN_MAX + 1];
	unsigned char a[IMAP_PATTERN_MAX + 2], b[IMAP_PATTERN_MAX + 2];
	unsigned char *cur = a, *nxt = b;
	size_t m = 0;

	for (const char *q = pattern; *q; q++) {
		int wild = *q == '*' || *q == '%';
		if (wild && m && (p[m - 1] == '*' || p[m - 1] == '%')) {
			if (*q == '*')
				p[m - 1] = '*';
			continue;
		}
		if (m == IMAP_PATTERN_MAX)
			return 0;
		p[m++] = *q;
	}
	memset(cur, 0, m + 1);
	cur[0] = 1;
	if (m && (p[0] == '*' || p[0] == '%'))
		cur[1] = 1;
	for (const unsigned char *n = (const unsigned char *)name; *n; n++) {
		int any = 0;
		memset(nxt, 0, m + 1);
		for (size_t i = 0; i < m; i++) {
			if (!cur[i])
				continue;
			if (p[i] == '*' || (p[i] == '%' && *n != '/'))
				nxt[i] = 1;
			else if ((unsigned char)p[i] == *n)
				nxt[i + 1] = 1;
		}
		/* Empty matches: a wildcard state also stands in the next one. */
		for (size_t i = 0; i < m; i++) {
			if (nxt[i] && (p[i] == '*' || p[i] == '%'))
				nxt[i + 1] = 1;
			any |= nxt[i];
		}
		if (!any && !nxt[m])
			return 0;
		unsigned char *t = cur;
		cur = nxt;
		nxt = t;
	}
	return cur[m];
}

/* ------------------------------------------------------ modified UTF-7 */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64idx(int c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;
	return p ? (int)(p - b64chars) : -1;
}

static int put_utf8(uint32_t cp, char *out, size_t cap, size_t *k)
{
	char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*k + n >= cap)
		return -1;
	memcpy(out + *k, tmp, n);
	*k += n;
	return 0;
}

int mutf7_decode(const char *in, char *out, size_t cap)
{
	size_t k = 0;

	while (*in) {
		unsigned char c = (unsigned char)*in;
		if (c >= 0x80 || c < 0x20)
			return -1;
		if (c != '&') {
			if (k + 1 >= cap)
				return -1;
			out[k++] = (char)c;
			in++;
			continue;
		}
		in++;
		if (*in == '-') { /* "&-" is "&" */
			if (k + 1 >= cap)
				return -1;
			out[k++] = '&';
			in++;
			continue;
		}
		uint32_t acc = 0, hi_sur = 0;
		int bits = 0, units = 0;
		while (*in && *in != '-') {
			int v = b64idx((unsigned char)*in++);
			if (v < 0)
				return -1;
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 16) {
				bits -= 16;
				uint32_t u = (acc >> bits) & 0xffff;
				units++;
				if (hi_sur) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					u = 0x10000 + ((hi_sur - 0xd800) << 10) + (u - 0xdc00);
					hi_sur = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi_sur = u;
					continue;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				}
				/* RFC 3501 5.1.3: printable ASCII must not be encoded. */
				if (u >= 0x20 && u < 0x7f)
					return -1;
				if (put_utf8(u, out, cap, &k) < 0)
					return -1;
			}
		}
		if (*in != '-' || hi_sur || units == 0 || bits >= 6 ||
		    (acc & ((1u << bits) - 1)) != 0)
			return -1;
		in++;
	}
	if (k >= cap)
		return -1;
	out[k] = 0;
	return 0;
}

static void flush_b64(struct sbuf *out, const uint16_t *u, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;
	sbuf_add(out, "&", 1);
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 16) | u[i];
		bits += 16;
		while (bits >= 6) {
			bits -= 6;
			sbuf_add(out, &b64chars[(acc >> bits) & 0x3f], 1);
		}
	}
	if (bits)
		sbuf_add(out, &b64chars[(acc << (6 - bits)) & 0x3f], 1);
	sbuf_add(out, "-", 1);
}

void mutf7_encode(const char *s, struct sbuf *out)
{
	uint16_t units[STORE_MBOX_MAX * 2];
	size_t nu = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (nu) {
				flush_b64(out, units, nu);
				nu = 0;
			}
			if (*p == '&')
				sbuf_add(out, "&-", 2);
			else
				sbuf_add(out, p, 1);
			p++;
			continue;
		}
		uint32_t cp;
		int len;
		if (*p < 0x80) {
			cp = *p;
			len = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			len = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			len = 3;
		} else {
			cp = *p & 0x07;
			len = 4;
		}
		for (int i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				len = i;
				cp = 0xfffd;
				break;
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		p += len;
		if (nu + 2 > ARRAY_LEN(units))
			continue;
		if (cp >= 0x10000 && cp <= 0x10ffff) {
			cp -= 0x10000;
			units[nu++] = (uint16_t)(0xd800 + (cp >> 10));
			units[nu++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			units[nu++] = (uint16_t)(cp > 0xffff ? 0xfffd : cp);
		}
	}
	if (nu)
		flush_b64(out, units, nu);
}
