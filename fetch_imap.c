/*
 * fetch_imap.c — copying an IMAP server's folders into an account, with
 * flags, keywords and INTERNALDATE (the mirror of `brev export`), and only
 * what is new on the next run (fetch.h).
 *
 * Per folder: EXAMINE (SELECT with --delete), the UIDs above the last one
 * stored (UID FETCH n:* (UID): one line each, so no line grows with the
 * folder), then the messages in UID order, FETCH_CHUNK per command, each
 * streamed from its literal into import.c's sink. After each batch the
 * sink commits, the folder's last UID is recorded (fetch.c's N.state). A
 * new UIDVALIDITY starts the folder over, with the duplicate check on.
 *
 * Everything from the server is hostile: lines are bounded by conn.c, a
 * literal by limits.message_size (a larger one is read past and counted as
 * refused), the UID list by the EXISTS count and FETCH_UIDS_MAX, a name by
 * its buffer.
 */
#include "fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "imap.h"
#include "log.h"
#include "mailbox.h"
#include "mboxfmt.h"
#include "migrate.h"
#include "spool.h"
#include "util.h"

#define FETCH_CHUNK	 256
#define FETCH_UIDS_MAX	 (10u << 20)
#define LIT_NAME_MAX	 1024
#define READ_CHUNK	 65536

struct ic {
	struct conn *c;
	const struct fetch_src *src;
	struct import_sink *sink;
	const struct fetch_dl *dl; /* deliver the INBOX (continuous source), or NULL */
	struct fetch_state *st;
	struct fetch_stats *out;
	uint64_t done, bytes; /* this folder's messages and bytes read, for the progress line */
	unsigned tag;
	char *line; /* the last line read (conn's buffer) */
	ssize_t len;
};

static int fail(struct ic *ic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ic *ic, const char *fmt, ...)
{
	va_list ap;
	if (!ic->out->err[0]) {
		va_start(ap, fmt);
		vsnprintf(ic->out->err, sizeof ic->out->err, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int getline_(struct ic *ic)
{
	ic->len = conn_getline(ic->c, &ic->line, CONN_LINE_MAX, NULL);
	if (ic->len == -2)
		return fail(ic, "%s sent a line over %d bytes", ic->src->host, CONN_LINE_MAX);
	if (ic->len < 0)
		return fail(ic, "%s: connection lost%s", ic->src->host,
			    fetch_stopping ? " (brev is stopping)" : "");
	return 0;
}

static int send_cmd(struct ic *ic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_cmd(struct ic *ic, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return fail(ic, "command too long");
	ic->tag++;
	if (conn_printf(ic->c, "f%u %s\r\n", ic->tag, buf) < 0 || conn_flush(ic->c) < 0)
		return fail(ic, "%s: connection lost", ic->src->host);
	return 0;
}

/* The line is this command's tagged reply: 1 OK, -1 NO/BAD (err set), 0 not. */
static int tagged(struct ic *ic, const char *what)
{
	char t[16];
	int tl = snprintf(t, sizeof t, "f%u ", ic->tag);
	if (ic->len < tl || memcmp(ic->line, t, (size_t)tl))
		return 0;
	const char *p = ic->line + tl;
	if (!str_ncasecmp_ascii(p, "OK", 2))
		return 1;
	return fail(ic, "%s: %s: %.160s", ic->src->host, what, p);
}

/* Read to the tagged reply, giving each untagged line to cb (may be NULL). */
static int wait_ok(struct ic *ic, const char *what, int (*cb)(struct ic *, void *), void *arg)
{
	for (;;) {
		if (getline_(ic) < 0)
			return -1;
		int t = tagged(ic, what);
		if (t)
			return t > 0 ? 0 : -1;
		if (cb && ic->line[0] == '*' && cb(ic, arg) < 0)
			return -1;
	}
}

/* IMAP quoted string (RFC 9051 4.3) or atom at *pp into out; 0 or -1. */
static int astring(const char **pp, char *out, size_t cap)
{
	const char *p = *pp;
	size_t o = 0;
	while (*p == ' ')
		p++;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (o + 1 >= cap)
				return -1;
			out[o++] = *p;
		}
		if (*p != '"')
			return -1;
		p++;
	} else {
		for (; *p && *p != ' ' && *p != ')' && *p != '('; p++) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = *p;
		}
		if (o == 0)
			return -1;
	}
	out[o] = '\0';
	*pp = p;
	return 0;
}

/* A quoted string for a command: refuses what cannot be quoted. */
static int quote(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	if (cap < 3)
		return -1;
	out[o++] = '"';
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || o + 4 >= cap)
			return -1;
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/* ---- LIST ---- */

struct folder {
	char name[512]; /* the server's, as sent */
	char delim;
	int special, noselect;
};

struct folders {
	struct folder *v;
	size_t n;
};

static int on_list(struct ic *ic, void *arg)
{
	struct folders *fs = arg;
	const char *p = ic->line;
	char lit[LIT_NAME_MAX + 1];
	if (str_ncasecmp_ascii(p, "* LIST (", 8))
		return 0;
	if (fs->n >= FETCH_FOLDERS_MAX)
		return fail(ic, "%s lists more than %d folders", ic->src->host, FETCH_FOLDERS_MAX);
	struct folder f = {0};
	p += 8;
	const char *close = strchr(p, ')');
	if (!close)
		return fail(ic, "%s: bad LIST reply", ic->src->host);
	static const struct {
		const char *attr;
		int special;
	} su[] = {{"\\Sent", MBOX_SENT},   {"\\Junk", MBOX_JUNK},	  {"\\Trash", MBOX_TRASH},
		  {"\\Drafts", MBOX_DRAFTS}, {"\\Archive", MBOX_ARCHIVE}};
	for (const char *a = p; a < close;) {
		size_t l = strcspn(a, " )");
		for (size_t i = 0; i < sizeof su / sizeof su[0]; i++)
			if (l == strlen(su[i].attr) && !str_ncasecmp_ascii(a, su[i].attr, l))
				f.special = su[i].special;
		if ((l == 9 && !str_ncasecmp_ascii(a, "\\Noselect", 9)) ||
		    (l == 12 && !str_ncasecmp_ascii(a, "\\NonExistent", 12)))
			f.noselect = 1;
		a += l;
		while (*a == ' ')
			a++;
	}
	p = close + 1;
	char d[8];
	if (astring(&p, d, sizeof d) < 0)
		return fail(ic, "%s: bad LIST delimiter", ic->src->host);
	f.delim = str_casecmp_ascii(d, "NIL") ? d[0] : '\0';
	while (*p == ' ')
		p++;
	size_t n;
	if (*p == '{' && (n = strtoul(p + 1, NULL, 10)) > 0) { /* a literal name */
		if (n > LIT_NAME_MAX || conn_read_n(ic->c, lit, n) < 0)
			return fail(ic, "%s: bad LIST name literal", ic->src->host);
		lit[n] = '\0';
		if (strlen(lit) != n || n >= sizeof f.name || getline_(ic) < 0)
			return fail(ic, "%s: bad LIST name literal", ic->src->host);
		str_copy(f.name, lit, sizeof f.name);
	} else if (astring(&p, f.name, sizeof f.name) < 0) {
		return fail(ic, "%s: bad LIST name", ic->src->host);
	}
	fs->v = xrealloc(fs->v, (fs->n + 1) * sizeof *fs->v);
	fs->v[fs->n++] = f;
	return 0;
}

/* brev's name and special use for a server folder. */
static void map_folder(const struct folder *f, char *out, size_t cap, int *special)
{
	char utf8[STORE_MBOX_MAX * 2 + 1];
	if (!str_casecmp_ascii(f->name, "INBOX")) {
		str_copy(out, "INBOX", cap);
		*special = MBOX_INBOX;
		return;
	}
	if (mutf7_decode(f->name, utf8, sizeof utf8) < 0)
		str_copy(utf8, f->name, sizeof utf8);
	for (char *q = utf8; *q; q++)
		if (f->delim && *q == f->delim)
			*q = '/';
		else if (*q == '/')
			*q = '_';
	static const char *const names[] = {"", "INBOX", "Drafts", "Sent", "Junk", "Trash",
					    "Archive"};
	if (f->special) {
		str_copy(out, names[f->special], cap);
		*special = f->special;
		return;
	}
	if (!strchr(utf8, '/')) {
		migrate_map_name(utf8, out, cap, special);
		return;
	}
	str_copy(out, utf8, cap);
	*special = MBOX_NORMAL;
}

/* ---- one folder ---- */

struct sel {
	uint32_t uidvalidity, exists;
	uint32_t *uids;
	size_t n;
	uint32_t above;
};

static int on_select(struct ic *ic, void *arg)
{
	struct sel *s = arg;
	const char *p;
	unsigned long v;
	if ((p = strstr(ic->line, "[UIDVALIDITY ")) && sscanf(p + 13, "%lu", &v) == 1)
		s->uidvalidity = (uint32_t)v;
	else if (sscanf(ic->line, "* %lu EXISTS", &v) == 1)
		s->exists = (uint32_t)v;
	return 0;
}

static int on_uid(struct ic *ic, void *arg)
{
	struct sel *s = arg;
	const char *p = strstr(ic->line, "UID ");
	unsigned long v;
	if (!strstr(ic->line, " FETCH (") || !p || sscanf(p + 4, "%lu", &v) != 1)
		return 0;
	if (v <= s->above) /* n:* always names the last message */
		return 0;
	if (s->n >= FETCH_UIDS_MAX || s->n > (size_t)s->exists + 1024)
		return fail(ic, "%s: more FETCH replies than messages", ic->src->host);
	if ((s->n & (s->n - 1)) == 0)
		s->uids = xrealloc(s->uids, (s->n ? s->n * 2 : 64) * sizeof *s->uids);
	s->uids[s->n++] = (uint32_t)v;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* What a FETCH reply says about a message (before or after its literal). */
struct fm {
	uint32_t uid;
	int64_t date;
	struct mboxfmt_meta meta;
	int has_body;
	uint64_t lit; /* the BODY[] literal's size */
};

/* Parse FETCH items from p; stops at "BODY[] {n}" (sets has_body, lit). */
static void fetch_items(const char *p, struct fm *m)
{
	while (*p) {
		while (*p == ' ' || *p == '(' || *p == ')')
			p++;
		if (!str_ncasecmp_ascii(p, "UID ", 4)) {
			m->uid = (uint32_t)strtoul(p + 4, (char **)&p, 10);
		} else if (!str_ncasecmp_ascii(p, "FLAGS (", 7)) {
			p += 7;
			while (*p && *p != ')') {
				size_t l = strcspn(p, " )");
				static const struct {
					const char *n;
					uint32_t f;
				} fl[] = {{"\\Seen", FL_SEEN},	   {"\\Answered", FL_ANSWERED},
					  {"\\Flagged", FL_FLAGGED}, {"\\Deleted", FL_DELETED},
					  {"\\Draft", FL_DRAFT}};
				if (*p == '\\') {
					for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
						if (l == strlen(fl[i].n) &&
						    !str_ncasecmp_ascii(p, fl[i].n, l))
							m->meta.flags |= fl[i].f;
				} else if (l) {
					mboxfmt_kw_add(&m->meta, p, l);
				}
				p += l;
				while (*p == ' ')
					p++;
			}
		} else if (!str_ncasecmp_ascii(p, "INTERNALDATE \"", 14)) {
			char d[40];
			const char *q = strchr(p + 14, '"');
			if (!q)
				return;
			size_t l = (size_t)(q - p - 14);
			if (l < sizeof d) {
				memcpy(d, p + 14, l);
				d[l] = '\0';
				int64_t t = imap_parse_datetime(d);
				if (t > 0)
					m->date = t;
			}
			p = q + 1;
		} else if (!str_ncasecmp_ascii(p, "BODY[] {", 8)) {
			m->has_body = 1;
			m->lit = strtoull(p + 8, NULL, 10);
			return;
		} else {
			/* an item we did not ask for: skip its name and simple value */
			p += strcspn(p, " ");
			while (*p == ' ')
				p++;
			if (*p == '(') {
				const char *q = strchr(p, ')');
				p = q ? q + 1 : p + strlen(p);
			} else {
				p += strcspn(p, " )");
			}
		}
	}
}

/* Stream a literal of n bytes into the sink, or into sp when delivering;
 * refuse it (read past) when too large or holding a NUL: 1. */
static int body_literal(struct ic *ic, struct fm *m, char *buf, struct spool *sp)
{
	uint64_t left = m->lit, max = import_sink_max_size(ic->sink);
	const char *err = NULL;
	if (m->lit == 0)
		err = "empty message";
	else if (max && m->lit > max)
		err = "larger than limits.message_size";
	if (!sp && import_sink_begin(ic->sink, m->date) < 0)
		return fail(ic, "storing failed");
	while (left > 0) {
		size_t n = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
		if (conn_read_n(ic->c, buf, n) < 0)
			return fail(ic, "%s: connection lost in a message", ic->src->host);
		if (!err && memchr(buf, '\0', n))
			err = "NUL byte in the message";
		if (!err && (sp ? spool_write(sp, buf, n) < 0 : import_sink_data(ic->sink, buf, n) < 0))
			return fail(ic, "storing failed");
		left -= n;
	}
	return err ? 1 : 0;
}

static int do_folder(struct ic *ic, const struct folder *f, char *buf)
{
	char q[1100], bname[STORE_MBOX_MAX + 1];
	int special;
	struct sel s = {0};
	struct fetch_folder *ff = fetch_state_folder(ic->st, f->name);
	if (!ff)
		return fail(ic, "too many folders");
	map_folder(f, bname, sizeof bname, &special);
	if (quote(f->name, q, sizeof q) < 0)
		return 0; /* a name that cannot be sent back: leave it */
	if (send_cmd(ic, "%s %s", ic->src->delete ? "SELECT" : "EXAMINE", q) < 0 ||
	    wait_ok(ic, "SELECT", on_select, &s) < 0)
		return -1;
	/* A continuous source's INBOX arrives as new mail (fetch_deliver.c). */
	int deliver = ic->dl && special == MBOX_INBOX;
	if (s.uidvalidity != ff->uidvalidity) { /* new, or renumbered: start over */
		ff->uidvalidity = s.uidvalidity;
		ff->last_uid = 0;
		ff->inflight = 1;
	}
	if (s.exists == 0)
		return 0;
	s.above = ff->last_uid;
	if (send_cmd(ic, "UID FETCH %lu:* (UID)", (unsigned long)ff->last_uid + 1) < 0 ||
	    wait_ok(ic, "UID FETCH", on_uid, &s) < 0) {
		free(s.uids);
		return -1;
	}
	if (s.n == 0)
		return 0;
	qsort(s.uids, s.n, sizeof *s.uids, cmp_u32);
	ic->done = ic->bytes = 0;
	int rc = -1, was = ff->inflight;
	struct spool *sp = NULL;
	ff->inflight = !deliver;
	if (fetch_state_save(ic->src, ic->st) < 0 ||
	    (!deliver && import_sink_mailbox(ic->sink, bname, special, was) < 0)) {
		fail(ic, "mailbox %s could not be used", bname);
		goto out;
	}
	for (size_t i = 0; i < s.n; i += FETCH_CHUNK) {
		size_t e = i + FETCH_CHUNK < s.n ? i + FETCH_CHUNK : s.n;
		if (fetch_stopping) {
			fail(ic, "brev is stopping");
			goto out;
		}
		if (send_cmd(ic, "UID FETCH %lu:%lu (UID FLAGS INTERNALDATE BODY.PEEK[])",
			     (unsigned long)s.uids[i], (unsigned long)s.uids[e - 1]) < 0)
			goto out;
		for (;;) {
			struct fm m = {0};
			if (getline_(ic) < 0)
				goto out;
			int t = tagged(ic, "UID FETCH");
			if (t < 0)
				goto out;
			if (t > 0)
				break;
			if (ic->line[0] != '*' || !strstr(ic->line, " FETCH ("))
				continue;
			fetch_items(strstr(ic->line, " FETCH (") + 8, &m);
			if (!m.has_body)
				continue; /* a flag change from elsewhere */
			ic->done++;
			ic->bytes += m.lit;
			fetch_progress(bname, ic->done, s.n, ic->bytes, 0);
			if (deliver) {
				spool_free(&sp);
				sp = spool_new(1 << 20);
			}
			int refused = body_literal(ic, &m, buf, deliver ? sp : NULL);
			if (refused < 0 || getline_(ic) < 0) /* the items after it, and ")" */
				goto out;
			fetch_items(ic->line, &m);
			if (m.uid == 0 || m.uid <= ff->last_uid) {
				fail(ic, "%s: a message without a new UID", ic->src->host);
				goto out;
			}
			if (deliver) {
				char why[200];
				if (refused) {
					ic->out->refused++;
				} else if (fetch_deliver(ic->dl, sp, why, sizeof why) < 0) {
					fail(ic, "UID %lu: %s", (unsigned long)m.uid, why);
					goto out;
				} else {
					ic->out->delivered++;
				}
				ff->last_uid = m.uid;
				if (fetch_state_save(ic->src, ic->st) < 0) {
					fail(ic, "saving the progress failed");
					goto out;
				}
				continue;
			}
			if (import_sink_end_at(ic->sink, &m.meta, m.date,
					       refused ? "refused (too large, empty or NUL bytes)"
						       : NULL) < 0) {
				fail(ic, "storing into %s failed", bname);
				goto out;
			}
			ff->last_uid = m.uid;
			if (import_sink_pending(ic->sink) == 0 && fetch_state_save(ic->src, ic->st) < 0) {
				fail(ic, "saving the progress failed");
				goto out;
			}
		}
	}
	fetch_progress(bname, ic->done, s.n, ic->bytes, 1);
	if (import_sink_flush(ic->sink) < 0) {
		fail(ic, "storing into %s failed", bname);
		goto out;
	}
	ff->inflight = 0;
	if (fetch_state_save(ic->src, ic->st) < 0) {
		fail(ic, "saving the progress failed");
		goto out;
	}
	/* Stored and recorded: now it may go from the server. */
	if (ic->src->delete &&
	    (send_cmd(ic, "UID STORE %lu:%lu +FLAGS.SILENT (\\Deleted)", (unsigned long)s.uids[0],
		      (unsigned long)ff->last_uid) < 0 ||
	     wait_ok(ic, "UID STORE", NULL, NULL) < 0 || send_cmd(ic, "EXPUNGE") < 0 ||
	     wait_ok(ic, "EXPUNGE", NULL, NULL) < 0))
		goto out;
	rc = 0;
out:
	spool_free(&sp);
	free(s.uids);
	return rc;
}

int fetch_imap_run(const struct fetch_src *src, struct import_sink *sink, const struct fetch_dl *dl,
		   struct fetch_state *st, struct fetch_stats *out)
{
	struct conn *c = fetch_connect(src, out->err, sizeof out->err);
	if (!c)
		return -1;
	int rc = fetch_imap_session(c, src, sink, dl, st, out);
	fetch_close(&c);
	return rc;
}

int fetch_imap_session(struct conn *c, const struct fetch_src *src, struct import_sink *sink,
		       const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out)
{
	struct ic ic = {.c = c, .src = src, .sink = sink, .dl = dl, .st = st, .out = out};
	struct folders fs = {0};
	char u[600], pw[1100];
	int rc = -1;
	if (src->implicit && !src->plain && fetch_tls(ic.c, src, out->err, sizeof out->err) < 0)
		goto out;
	if (getline_(&ic) < 0)
		goto out;
	if (str_ncasecmp_ascii(ic.line, "* OK", 4)) {
		fail(&ic, "%s: no IMAP greeting: %.100s", src->host, ic.line);
		goto out;
	}
	if (!src->implicit && !src->plain && (send_cmd(&ic, "STARTTLS") < 0 || wait_ok(&ic, "STARTTLS", NULL, NULL) < 0 ||
			       fetch_tls(ic.c, src, out->err, sizeof out->err) < 0))
		goto out;
	if (quote(src->user, u, sizeof u) < 0 || quote(src->password, pw, sizeof pw) < 0) {
		fail(&ic, "the user name or password cannot be sent with LOGIN");
		goto out;
	}
	rc = send_cmd(&ic, "LOGIN %s %s", u, pw);
	explicit_bzero(pw, sizeof pw);
	if (rc < 0 || wait_ok(&ic, "LOGIN", NULL, NULL) < 0) {
		rc = -1;
		goto out;
	}
	rc = -1;
	if (src->all_folders) {
		if (send_cmd(&ic, "LIST \"\" \"*\"") < 0 || wait_ok(&ic, "LIST", on_list, &fs) < 0)
			goto out;
	} else {
		fs.v = xcalloc(1, sizeof *fs.v);
		str_copy(fs.v[0].name, "INBOX", sizeof fs.v[0].name);
		fs.n = 1;
	}
	char *buf = xmalloc(READ_CHUNK);
	rc = 0;
	for (size_t i = 0; i < fs.n && rc == 0; i++)
		if (!fs.v[i].noselect)
			rc = do_folder(&ic, &fs.v[i], buf);
	free(buf);
	if (rc == 0 && send_cmd(&ic, "LOGOUT") == 0)
		wait_ok(&ic, "LOGOUT", NULL, NULL);
out:
	/* What was read is kept, and recorded (its folder stays "in flight"). */
	if (rc < 0 && import_sink_pending(sink) && import_sink_flush(sink) == 0)
		fetch_state_save(src, st);
	free(fs.v);
	return rc;
}
