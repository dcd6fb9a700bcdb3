/*
 * sendmail.c — `brev sendmail`: read one message from stdin, complete its
 * header (Received, and Date/Message-ID/From when missing), and hand it to
 * the store: one store_deliver for every local account, store_queue_add for
 * remote recipients (smtp_commit in smtp_msg.c, shared with the SMTP
 * server). Exit 0 only after both commits.
 *
 * Unlike SMTP, this input is local: bare LF line ends are the norm and are
 * turned into CRLF here. The whole header section is kept in memory
 * (bounded by SENDMAIL_HDR_MAX) because -t must read To/Cc/Bcc and drop
 * Bcc; the body goes to a spool. The total is bounded by
 * limits.message_size. Whoever may run this can open the store, so the
 * envelope sender is not checked against the invoking user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authres.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "mailbox.h"
#include "sendmail.h"
#include "smtp.h"
#include "spool.h"
#include "util.h"

#define SENDMAIL_HDR_MAX  (1u << 20) /* header section kept in memory */
#define SENDMAIL_TOK_MAX  1024	     /* one recipient argument */
#define SENDMAIL_RCPT_MAX 1000


/* ---- RFC 5322 address lists (for -t) ---- */

int sendmail_addr_list(const char *v, size_t n, const char *domain,
		       int (*cb)(void *arg, const char *addr), void *arg)
{
	return smtp_addr_list(v, n, domain, 0, cb, arg);
}

/* ---- options ---- */

struct opts {
	int t;		  /* -t */
	int ignore_dots;  /* -i, -oi */
	const char *from; /* -f, -r */
	const char *fullname;
	int nargs; /* recipients in argv[first..] */
	int first;
};

static int usage(const char *why)
{
	fprintf(stderr, "brev: sendmail: %s\n", why);
	fprintf(stderr, "usage: brev sendmail [-t] [-i] [-f FROM] [-F NAME] [RCPT...]\n");
	return -1;
}

/* The value of "-xVALUE" or "-x VALUE". */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (argv[*i][2])
		return argv[*i] + 2;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		switch (a[1]) {
		case 't':
			if (a[2])
				return usage("unknown option");
			o->t = 1;
			break;
		case 'i':
			o->ignore_dots = 1;
			break;
		case 'f':
		case 'r':
			if (!(o->from = opt_value(argc, argv, &i)))
				return usage("-f needs an address");
			break;
		case 'F':
			if (!(o->fullname = opt_value(argc, argv, &i)))
				return usage("-F needs a name");
			break;
		case 'o':
			/* -oi is the only one with a meaning here; -odi, -oem,
			 * -oep, -om... (delivery and error modes) are moot. */
			if (a[2] == 'i' && a[3] == 0)
				o->ignore_dots = 1;
			break;
		case 'B':
		case 'N':
		case 'R':
		case 'V':
			if (!opt_value(argc, argv, &i))
				return usage("option needs a value");
			break;
		case 'b':
			if (strcmp(a, "-bm") != 0)
				return usage("only -bm mode is supported");
			break;
		case 'e':
		case 'v':
		case 'U':
		case 'G':
		case 'n':
			break;
		default:
			return usage("unknown option");
		}
	}
	o->first = i;
	o->nargs = argc - i;
	return 0;
}

/* ---- reading the message ---- */

struct reader {
	FILE *f;
	char buf[65536];
	size_t off, len;
	int eof;
};

/* The next piece of input: one line with its end — LF, CRLF, or a bare CR
 * (*eol = 1) — or as much of a longer line as fits the buffer. 0 at the
 * end. A bare CR is a line end like a bare LF: passed through, "\r.\r"
 * would reach other MTAs as an end of data some of them honour (the SMTP
 * smuggling class, issue 22), and no stored or sent line may hold one. */
static size_t rd_piece(struct reader *r, const char **p, int *eol)
{
	for (;;) {
		const char *s = r->buf + r->off;
		size_t avail = r->len - r->off, i = 0, n = 0;
		while (i < avail && s[i] != '\n' && s[i] != '\r')
			i++;
		if (i < avail && s[i] == '\n')
			n = i + 1;
		else if (i + 1 < avail) /* CR: with its LF, or alone */
			n = i + 1 + (s[i + 1] == '\n');
		else if (i < avail && r->eof)
			n = i + 1; /* a CR ends the input */
		if (n) {
			*p = s;
			*eol = 1;
			r->off += n;
			return n;
		}
		if (r->eof || (r->off == 0 && r->len == sizeof r->buf)) {
			/* a CR last in a full buffer waits for what follows it */
			n = avail - (!r->eof && avail > 1 && s[avail - 1] == '\r');
			*p = s;
			*eol = 0;
			r->off += n;
			return n;
		}
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
		size_t got = fread(r->buf + r->len, 1, sizeof r->buf - r->len, r->f);
		if (got == 0)
			r->eof = 1;
		r->len += got;
	}
}

/* Is this the start of a header field line (ftext+ ":")? RFC 5322 2.2 */
static int field_start(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] >= 33 && s[i] <= 126 && s[i] != ':')
		i++;
	return i > 0 && i < n && s[i] == ':';
}

struct message {
	struct sbuf hdr;	    /* the original header section, CRLF lines */
	struct spool *body; /* from the empty line on */
	uint64_t total;
};

static int body_write(struct message *m, const char *s, size_t n)
{
	m->total += n;
	return n ? spool_write(m->body, s, n) : 0;
}

/* Read stdin into m. 0, or -1 with a message printed. */
static int read_message(FILE *in, const struct opts *o, uint64_t limit, struct message *m)
{
	struct reader *r = xcalloc(1, sizeof *r);
	const char *p;
	int eol, bol = 1, in_body = 0, rc = 0, last_eol = 1;
	size_t n;
	r->f = in;
	m->hdr.max = SENDMAIL_HDR_MAX;
	while ((n = rd_piece(r, &p, &eol)) > 0) {
		/* the line without its end; CRLF, LF and CR all become CRLF */
		size_t len = n - (size_t)eol;
		if (eol && len > 0 && p[len] == '\n' && p[len - 1] == '\r')
			len--;
		if (bol && eol && !o->ignore_dots && len == 1 && p[0] == '.')
			break; /* sendmail(8): a lone dot ends the message */
		if (!in_body && bol) {
			int cont = len > 0 && (p[0] == ' ' || p[0] == '\t') && m->hdr.len > 0;
			if (eol && len == 0) {
				in_body = 1;
			} else if (!cont && !field_start(p, len)) {
				/* no header (or it ended without an empty line) */
				in_body = 1;
				body_write(m, "\r\n", 2);
			}
		}
		if (in_body) {
			body_write(m, p, len);
			if (eol)
				body_write(m, "\r\n", 2);
		} else {
			sbuf_add(&m->hdr, p, len);
			if (eol)
				sbuf_add(&m->hdr, "\r\n", 2);
			m->total += len + 2 * (size_t)eol;
		}
		if (memchr(p, 0, n)) {
			/* as SMTP refuses them (554 5.6.0): no IMAP client
			 * could be sent the message */
			fprintf(stderr, "brev: sendmail: the message contains NUL bytes\n");
			rc = -1;
			break;
		}
		bol = eol;
		last_eol = eol;
		if (m->total > limit) {
			fprintf(stderr,
				"brev: sendmail: message larger than limits.message_size\n");
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(in)) {
		fprintf(stderr, "brev: sendmail: reading the message failed\n");
		rc = -1;
	}
	if (rc == 0 && !last_eol) {
		/* the input did not end with a line end: complete the line */
		if (in_body)
			body_write(m, "\r\n", 2);
		else
			sbuf_add(&m->hdr, "\r\n", 2);
	}
	if (rc == 0 && !in_body)
		body_write(m, "\r\n", 2);
	if (rc == 0 && m->hdr.over) {
		fprintf(stderr, "brev: sendmail: header section too large\n");
		rc = -1;
	}
	if (rc == 0 && spool_error(m->body)) {
		fprintf(stderr, "brev: sendmail: cannot spool the message\n");
		rc = -1;
	}
	free(r);
	return rc;
}

/* ---- the header ---- */

/* Calls fn for each field of the header section h: name and whole field
 * (name through CRLF, continuation lines included). */
static void fields_each(const struct sbuf *h,
			void (*fn)(void *arg, const char *name, size_t nlen, const char *f,
				   size_t flen),
			void *arg)
{
	size_t i = 0;
	while (i < h->len) {
		size_t start = i;
		do {
			const char *nl = memchr(h->p + i, '\n', h->len - i);
			i = nl ? (size_t)(nl - h->p) + 1 : h->len;
		} while (i < h->len && (h->p[i] == ' ' || h->p[i] == '\t'));
		const char *colon = memchr(h->p + start, ':', i - start);
		size_t nlen = colon ? (size_t)(colon - (h->p + start)) : 0;
		fn(arg, h->p + start, nlen, h->p + start, i - start);
	}
}

struct hdr_scan {
	const struct opts *o;
	const char *domain;
	struct sbuf out; /* the header as it will be stored */
	int has_from, has_date, has_msgid;
	char **rcpts;
	size_t nrcpts;
	int bad;
};

static int name_is(const char *n, size_t len, const char *want)
{
	return len == strlen(want) && str_ncasecmp_ascii(n, want, len) == 0;
}

static int add_rcpt(void *arg, const char *addr)
{
	struct hdr_scan *h = arg;
	if (h->nrcpts >= SENDMAIL_RCPT_MAX) {
		h->bad = 1;
		return -1;
	}
	h->rcpts = xrealloc(h->rcpts, (h->nrcpts + 1) * sizeof *h->rcpts);
	h->rcpts[h->nrcpts++] = xstrdup(addr);
	return 0;
}

static void scan_field(void *arg, const char *name, size_t nlen, const char *f, size_t flen)
{
	struct hdr_scan *h = arg;
	int bcc = name_is(name, nlen, "Bcc");
	h->has_from |= name_is(name, nlen, "From");
	h->has_date |= name_is(name, nlen, "Date");
	h->has_msgid |= name_is(name, nlen, "Message-ID");
	if (h->o->t && (bcc || name_is(name, nlen, "To") || name_is(name, nlen, "Cc")))
		sendmail_addr_list(f + nlen + 1, flen - nlen - 1, h->domain, add_rcpt, h);
	if (!bcc) /* -t or not, Bcc never goes out (RFC 5322 3.6.3) */
		sbuf_add(&h->out, f, flen);
}

/* A display name as a quoted-string (RFC 5322 3.2.4). */
static void add_from(struct sbuf *b, const char *name, const char *addr)
{
	sbuf_puts(b, "From: ");
	if (name && *name) {
		sbuf_puts(b, "\"");
		for (const char *p = name; *p; p++) {
			if (*p == '"' || *p == '\\')
				sbuf_add(b, "\\", 1);
			if (*p != '\r' && *p != '\n')
				sbuf_add(b, p, 1);
		}
		sbuf_puts(b, "\" ");
	}
	sbuf_puts(b, "<");
	sbuf_puts(b, addr);
	sbuf_puts(b, ">\r\n");
}

/* ---- recipients ---- */

/* Put an address (already qualified) into the set; 0 or -1 (printed). */
static int route_rcpt(const struct config *cfg, struct store *st, const char *text,
		      struct smtp_rcptset *set)
{
	struct smtp_addr a;
	size_t used;
	if (smtp_path_parse(text, strlen(text), SP_NO_BRACKETS, &a, &used) != 0 ||
	    used != strlen(text)) {
		fprintf(stderr, "brev: sendmail: %s: not a valid address\n", text);
		return -1;
	}
	if (a.flags & SA_LITERAL) {
		/* the queue finds hosts by MX only: it would just bounce */
		fprintf(stderr, "brev: sendmail: %s: address literals are not accepted as "
				"recipients; use a domain name\n", a.addr);
		return -1;
	}
	if (!config_domain_is_local(cfg, smtp_addr_domain(&a))) {
		smtp_rcptset_add_ext(set, a.addr);
		return 0;
	}
	struct resolved *r = xcalloc(1, sizeof *r);
	int rc = smtp_addr_routing_chars(&a) ? ST_NOTFOUND : smtp_resolve(st, cfg, a.addr, r);
	if (rc == ST_OK) {
		for (size_t i = 0; i < r->nusers; i++)
			smtp_rcptset_add_user_as(set, r->users[i], a.addr);
		for (size_t i = 0; i < r->nexternal; i++)
			smtp_rcptset_add_fwd(set, r->external[i], smtp_addr_domain(&a));
	} else if (rc == ST_NOTFOUND)
		fprintf(stderr, "brev: sendmail: %s: no such local user\n", a.addr);
	else
		fprintf(stderr, "brev: sendmail: %s: %s\n", a.addr, store_strerror(rc));
	store_resolved_free(r);
	free(r);
	return rc == ST_OK ? 0 : -1;
}

/* One command-line argument: comma-separated addresses, bare names
 * completed with the first local domain. */
static int arg_rcpts(const char *arg, const char *domain, struct hdr_scan *h)
{
	char q[SENDMAIL_TOK_MAX];
	while (*arg) {
		size_t n = strcspn(arg, ",");
		char *one = xstrndup(arg, n);
		int rc = 0;
		str_trim(one);
		if (*one) {
			int len = strchr(one, '@') ? snprintf(q, sizeof q, "%s", one)
						   : snprintf(q, sizeof q, "%s@%s", one, domain);
			if (len < 0 || (size_t)len >= sizeof q) {
				fprintf(stderr, "brev: sendmail: %s: address too long\n", one);
				rc = -1;
			} else
				rc = add_rcpt(h, q);
		}
		free(one);
		if (rc < 0)
			return -1;
		arg += n;
		if (*arg == ',')
			arg++;
	}
	return 0;
}

/* ---- the command ---- */

static int sender_addr(const struct opts *o, const char *domain, char *out, size_t cap)
{
	char user[64];
	const char *f = o->from;
	if (f && (strcmp(f, "<>") == 0 || *f == 0)) {
		out[0] = 0; /* the null sender */
		return 0;
	}
	if (f && strchr(f, '@')) {
		struct smtp_addr a;
		size_t used, n = strlen(f);
		int br = f[0] == '<';
		if (smtp_path_parse(f, n, br ? 0 : SP_NO_BRACKETS, &a, &used) != 0 || used != n) {
			fprintf(stderr, "brev: sendmail: %s: not a valid sender address\n", f);
			return -1;
		}
		str_copy(out, a.addr, cap);
		return 0;
	}
	if (!f) {
		local_username(user, sizeof user);
		f = user;
	}
	if ((size_t)snprintf(out, cap, "%s@%s", f, domain) >= cap)
		return -1;
	return 0;
}

static int deliver(const struct config *cfg, struct store *st, const char *from, struct hdr_scan *h,
		   struct message *m, const char *id)
{
	struct smtp_rcptset set = {0};
	struct smtp_outcome o;
	int rc = 1;
	for (size_t i = 0; i < h->nrcpts; i++)
		if (route_rcpt(cfg, st, h->rcpts[i], &set) < 0)
			goto out;
	/* Return-Path for the local copies only (RFC 5321 4.4). */
	struct sbuf local = {.max = SENDMAIL_HDR_MAX + 4096};
	sbuf_puts(&local, "Return-Path: <");
	sbuf_puts(&local, from);
	sbuf_puts(&local, ">\r\n");
	size_t rp = local.len;
	/* DKIM: signed as it will be stored and sent (docs/auth-mail.md) */
	char *sig = authres_submission(cfg->datadir, cfg->hostname[0] ? cfg->hostname : "localhost",
				       from, id, h->out.p, h->out.len, m->body, 0);
	/* after our Received field (its continuation lines start with WSP) */
	size_t recv = 0;
	while (recv < h->out.len) {
		const char *nl = memchr(h->out.p + recv, '\n', h->out.len - recv);
		recv = nl ? (size_t)(nl - h->out.p) + 1 : h->out.len;
		if (recv < h->out.len && h->out.p[recv] != ' ' && h->out.p[recv] != '\t')
			break;
	}
	sbuf_add(&local, h->out.p, recv);
	sbuf_puts(&local, sig);
	free(sig);
	sbuf_add(&local, h->out.p + recv, h->out.len - recv);
	int src = smtp_commit(st, cfg, from, &set, local.p, local.len, local.p + rp, local.len - rp,
			      m->body, id, "proto=sendmail", &o);
	free(local.p);
	if (src != ST_OK) {
		fprintf(stderr, "brev: sendmail: cannot store the message: %s\n",
			store_strerror(src));
		goto out;
	}
	if (o.delivered == 0 && o.queued == 0 && o.rejected) {
		fprintf(stderr, "brev: sendmail: the recipient's filter rejected the message: %s\n",
			o.reject);
		goto out;
	}
	if (o.delivered == 0 && o.queued == 0) {
		fprintf(stderr, "brev: sendmail: every recipient refused the message (quota)\n");
		goto out;
	}
	if (o.quota + o.toobig + o.gone > 0)
		fprintf(stderr,
			"brev: sendmail: %zu local recipient(s) refused the message (quota)\n",
			o.quota + o.toobig + o.gone);
	/* The acceptance line belongs in the server's log, beside SMTP's
	 * (issue 23): sent over control.sock, which only processes that can
	 * open DATADIR reach. No server running: no log to write to. */
	char user[64], line[CONTROL_MSG_MAX];
	local_username(user, sizeof user);
	snprintf(line, sizeof line,
		 "sendmail id=%s user=%s from=<%s> rcpts=%zu size=%llu delivered=%zu queued=%zu", id,
		 user, from, h->nrcpts, (unsigned long long)m->total, o.delivered, o.queued);
	log_debug("%s", line);
	control_send(cfg->datadir, line);
	rc = 0;
out:
	smtp_rcptset_free(&set);
	return rc;
}

/* Received, then the original fields minus Bcc, then what is missing. */
static void build_header(const struct config *cfg, const struct opts *o, const char *from,
			 const char *id, struct message *m, struct hdr_scan *h)
{
	char date[64], user[64], host[256];
	smtp_date(date, sizeof date, time(NULL));
	local_username(user, sizeof user);
	str_copy(host, cfg->hostname[0] ? cfg->hostname : "localhost", sizeof host);
	h->out.max = SENDMAIL_HDR_MAX + 4096;
	sbuf_puts(&h->out, "Received: by ");
	sbuf_puts(&h->out, host);
	sbuf_puts(&h->out, " (brev sendmail, from userid ");
	sbuf_puts(&h->out, user);
	sbuf_puts(&h->out, ")\r\n\tid ");
	sbuf_puts(&h->out, id);
	sbuf_puts(&h->out, "; ");
	sbuf_puts(&h->out, date);
	sbuf_puts(&h->out, "\r\n");
	fields_each(&m->hdr, scan_field, h);
	if (!h->has_date) {
		sbuf_puts(&h->out, "Date: ");
		sbuf_puts(&h->out, date);
		sbuf_puts(&h->out, "\r\n");
	}
	if (!h->has_msgid) {
		sbuf_puts(&h->out, "Message-ID: <");
		sbuf_puts(&h->out, id);
		sbuf_puts(&h->out, "@");
		sbuf_puts(&h->out, host);
		sbuf_puts(&h->out, ">\r\n");
	}
	if (!h->has_from)
		add_from(&h->out, o->fullname, from[0] ? from : "MAILER-DAEMON");
}

int sendmail_run(const struct config *cfg, struct store *st, int argc, char **argv, FILE *in)
{
	struct opts o;
	struct message m = {0};
	struct hdr_scan h = {0};
	char domain[SMTP_DOMAIN_MAX + 1], from[STORE_ADDR_MAX + 1], id[17];
	int rc = 1;
	if (parse_opts(argc, argv, &o) < 0)
		return 1;
	smtp_first_domain(cfg->domains, domain, sizeof domain);
	if (!domain[0]) {
		fprintf(stderr, "brev: sendmail: no local domain configured\n");
		return 1;
	}
	if (sender_addr(&o, domain, from, sizeof from) < 0)
		return 1;
	h.o = &o;
	h.domain = domain;
	for (int i = o.first; i < argc; i++)
		if (arg_rcpts(argv[i], domain, &h) < 0)
			goto out;
	m.body = spool_new(SPOOL_MEM_DEFAULT);
	if (read_message(in, &o, cfg->message_size ? cfg->message_size : UINT64_MAX, &m) < 0)
		goto out;
	smtp_make_id(id);
	build_header(cfg, &o, from, id, &m, &h);
	if (h.bad || h.out.over) {
		fprintf(stderr, "brev: sendmail: too many recipients or header too large\n");
		goto out;
	}
	if (h.nrcpts == 0) {
		fprintf(stderr, "brev: sendmail: no recipients\n");
		goto out;
	}
	rc = deliver(cfg, st, from, &h, &m, id);
out:
	for (size_t i = 0; i < h.nrcpts; i++)
		free(h.rcpts[i]);
	free(h.rcpts);
	free(h.out.p);
	free(m.hdr.p);
	spool_free(&m.body);
	return rc;
}

int sendmail_main(const struct config *cfg, struct store *st, int argc, char **argv)
{
	return sendmail_run(cfg, st, argc, argv, stdin);
}
