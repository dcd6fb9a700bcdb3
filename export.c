/*
 * export.c — `brev export ADDRESS DEST [--format mbox|maildir] [--mailbox
 * NAME]`: an account's mailboxes as mbox files (mboxrd) or a Maildir++
 * tree, flags, keywords and INTERNALDATE kept, laid out so that `brev
 * import DEST` gives every message back byte for byte (docs/migrate.md).
 *
 * mbox: one file per mailbox, "a/b" in DEST/a.sbd/b (Thunderbird's
 * layout), each message as
 *   From MAILER-DAEMON <INTERNALDATE, asctime, UTC>
 *   Status: / X-Status: / X-Keywords:   (mboxfmt.c strips them on import)
 *   the message, every ^>*From  line given one more '>' (mboxrd)
 *   a newline if the message lacks a final one, then the blank separator.
 * Maildir: INBOX in DEST/{cur,new,tmp}, "a/b" in DEST/.a.b, flags in the
 * ":2," suffix, keywords as letters listed in dovecot-keywords, mtime =
 * INTERNALDATE. Memory: 1,024 message records at a time.
 */
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "mboxfmt.h"
#include "util.h"

#define CHUNK	 1024
#define READ_BUF 65536

struct names {
	char **v;
	size_t n, cap;
};

static void add_name(void *arg, const struct mbox_info *m)
{
	struct names *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = xstrdup(m->name);
}

struct chunk {
	struct msg_info m[CHUNK];
	size_t n;
};

static int take(void *arg, const struct msg_info *m)
{
	struct chunk *c = arg;
	c->m[c->n++] = *m;
	return c->n == CHUNK;
}

struct kwtab {
	char name[STORE_KEYWORDS][MBOXFMT_KW_LEN + 1];
};

static void kw_cb(void *arg, int i, const char *name)
{
	struct kwtab *k = arg;
	if (i >= 0 && i < STORE_KEYWORDS)
		str_copy(k->name[i], name, sizeof k->name[i]);
}

static int fwrite_cb(void *arg, const char *p, size_t n)
{
	return fwrite(p, 1, n, arg) == n ? 0 : -1;
}

struct ex {
	struct store *st;
	uint32_t user;
	int maildir;
	uint64_t msgs;
	int errors;
	char *buf;
};

static int err_line(struct ex *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int err_line(struct ex *x, const char *fmt, ...)
{
	va_list ap;
	fputs("brev: export: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	x->errors++;
	return -1;
}

/* One message into an mbox stream. */
static int mbox_msg(struct ex *x, FILE *f, const struct msg_info *m, const struct kwtab *kw)
{
	struct mboxfmt_esc e;
	struct tm tm;
	time_t t = (time_t)m->internaldate;
	char date[64];
	uint64_t off = 0;
	long got;
	char last = '\n';
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(f, "From MAILER-DAEMON %s\n", date);
	fprintf(f, "Status: %s\n", m->flags & FL_SEEN ? "RO" : "O");
	if (m->flags & (FL_ANSWERED | FL_FLAGGED | FL_DRAFT | FL_DELETED))
		fprintf(f, "X-Status: %s%s%s%s\n", m->flags & FL_ANSWERED ? "A" : "",
			m->flags & FL_FLAGGED ? "F" : "", m->flags & FL_DRAFT ? "T" : "",
			m->flags & FL_DELETED ? "D" : "");
	if (m->keywords) {
		fputs("X-Keywords:", f);
		for (int i = 0; i < STORE_KEYWORDS; i++)
			if ((m->keywords >> i & 1) && kw->name[i][0])
				fprintf(f, " %s", kw->name[i]);
		fputc('\n', f);
	}
	mboxfmt_esc_init(&e, fwrite_cb, f);
	while ((got = store_msg_read(x->st, m->blob, off, x->buf, READ_BUF)) > 0) {
		if (mboxfmt_esc_feed(&e, x->buf, (size_t)got) < 0)
			return -1;
		last = x->buf[got - 1];
		off += (uint64_t)got;
	}
	if (got < 0 || mboxfmt_esc_end(&e) < 0)
		return -1;
	if (last != '\n')
		fputc('\n', f);
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

static int maildir_msg(struct ex *x, const char *dir, const struct msg_info *m)
{
	char p[PATH_MAX + 256], suf[64];
	uint32_t bits = 0;
	uint64_t off = 0;
	long got;
	int fd, r = 0;
	for (int i = 0; i < 26; i++)
		if (m->keywords >> i & 1)
			bits |= 1u << i;
	mboxfmt_maildir_suffix(m->flags, bits, suf);
	snprintf(p, sizeof p, "%s/cur/%lld.M%uP%d.brev%s", dir, (long long)m->internaldate, m->uid,
		 (int)getpid(), suf);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return err_line(x, "%s: %s", p, strerror(errno));
	while ((got = store_msg_read(x->st, m->blob, off, x->buf, READ_BUF)) > 0) {
		if (write(fd, x->buf, (size_t)got) != got) {
			r = err_line(x, "%s: %s", p, strerror(errno));
			break;
		}
		off += (uint64_t)got;
	}
	if (got < 0)
		r = err_line(x, "%s: reading the store failed", p);
	struct timespec ts[2] = {{m->internaldate, 0}, {m->internaldate, 0}};
	futimens(fd, ts);
	close(fd);
	return r;
}

static int mkdirs_for(const char *file)
{
	char d[PATH_MAX], *s;
	str_copy(d, file, sizeof d);
	if ((s = strrchr(d, '/')))
		*s = '\0';
	return s ? mkdir_p(d, 0700) : 0;
}

static int export_one(struct ex *x, const char *name, const char *dest, int single)
{
	struct kwtab *kw = xcalloc(1, sizeof *kw);
	struct chunk *c = xmalloc(sizeof *c);
	char path[PATH_MAX];
	FILE *f = NULL;
	uint32_t next = 1;
	int rc, r = 0;
	store_mbox_keywords(x->st, x->user, name, kw_cb, kw);
	if (!x->maildir) {
		if (single) {
			str_copy(path, dest, sizeof path);
		} else {
			/* "a/b/c" -> DEST/a.sbd/b.sbd/c */
			size_t o = (size_t)snprintf(path, sizeof path, "%s/", dest);
			for (const char *s = name; *s && o + 8 < sizeof path; s++) {
				if (*s == '/') {
					memcpy(path + o, ".sbd/", 5);
					o += 5;
				} else {
					path[o++] = *s;
				}
			}
			path[o] = '\0';
		}
		int fd;
		mkdirs_for(path);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
		    !(f = fdopen(fd, "w"))) {
			r = err_line(x, "%s: %s", path, strerror(errno));
			goto out;
		}
	} else {
		if (!strcmp(name, "INBOX") || single) {
			str_copy(path, dest, sizeof path);
		} else if (strchr(name, '.')) {
			r = err_line(x,
				     "mailbox %s: a '.' cannot be written in a Maildir++ folder "
				     "name: not exported",
				     name);
			goto out;
		} else {
			size_t o = (size_t)snprintf(path, sizeof path, "%s/.%s", dest, name);
			for (char *s = path + o - strlen(name); *s; s++)
				if (*s == '/')
					*s = '.';
		}
		static const char *const sub[] = {"cur", "new", "tmp"};
		for (size_t i = 0; i < 3; i++) {
			char p[PATH_MAX + 256];
			snprintf(p, sizeof p, "%s/%s", path, sub[i]);
			if (mkdir_p(p, 0700) < 0) {
				r = err_line(x, "%s: %s", p, strerror(errno));
				goto out;
			}
		}
		struct sbuf b = {0};
		for (int i = 0; i < 26; i++)
			if (kw->name[i][0])
				sbuf_printf(&b, "%d %s\n", i, kw->name[i]);
		for (int i = 26; i < STORE_KEYWORDS; i++)
			if (kw->name[i][0])
				err_line(
				    x,
				    "mailbox %s: keyword %s: Maildir has letters for 26 keywords "
				    "only: dropped",
				    name, kw->name[i]);
		if (b.len) {
			char p[PATH_MAX + 256];
			snprintf(p, sizeof p, "%s/dovecot-keywords", path);
			file_write_atomic(p, b.p, b.len, 0600);
		}
		sbuf_free(&b);
	}
	for (;;) {
		c->n = 0;
		if ((rc = store_msg_list(x->st, x->user, name, next, take, c)) != ST_OK) {
			r = err_line(x, "mailbox %s: %s", name, store_strerror(rc));
			break;
		}
		for (size_t i = 0; i < c->n && !r; i++) {
			r = x->maildir ? maildir_msg(x, path, &c->m[i])
				       : mbox_msg(x, f, &c->m[i], kw);
			if (r < 0 && !x->maildir)
				err_line(x, "%s: %s", path, strerror(errno));
			x->msgs++;
		}
		if (r || c->n < CHUNK)
			break;
		next = c->m[c->n - 1].uid + 1;
	}
out:
	if (f && (fclose(f) != 0) && !r)
		r = err_line(x, "%s: %s", path, strerror(errno));
	free(kw);
	free(c);
	return r;
}

int export_main(struct store *st, int argc, char **argv)
{
	const char *addr = NULL, *dest = NULL, *only = NULL, *fmt = "mbox";
	struct names l = {0};
	struct account acct;
	struct ex x = {0};
	int rc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mailbox") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			fmt = argv[++i];
		else if (!addr)
			addr = argv[i];
		else if (!dest)
			dest = argv[i];
		else
			addr = NULL, i = argc;
	}
	if (!addr || !dest || (strcmp(fmt, "mbox") && strcmp(fmt, "maildir"))) {
		fprintf(stderr, "brev: usage: brev export ADDRESS DEST [--format mbox|maildir] "
				"[--mailbox NAME]\n");
		return 1;
	}
	if ((rc = store_user_get(st, addr, &acct)) != ST_OK) {
		fprintf(stderr, "brev: export: %s: %s\n", addr, store_strerror(rc));
		return 1;
	}
	x.st = st;
	x.user = acct.id;
	x.maildir = !strcmp(fmt, "maildir");
	x.buf = xmalloc(READ_BUF);
	if (only) {
		struct mbox_info mi;
		if ((rc = store_mbox_get(st, acct.id, only, &mi)) != ST_OK) {
			fprintf(stderr, "brev: export: mailbox %s: %s\n", only, store_strerror(rc));
			free(x.buf);
			return 1;
		}
		export_one(&x, mi.name, dest, 1);
	} else {
		if (mkdir_p(dest, 0700) < 0) {
			fprintf(stderr, "brev: export: %s: %s\n", dest, strerror(errno));
			free(x.buf);
			return 1;
		}
		store_mbox_list(st, acct.id, add_name, &l);
		for (size_t i = 0; i < l.n; i++)
			export_one(&x, l.v[i], dest, 0);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	free(x.buf);
	printf("exported %llu message%s of %s to %s (%s)%s\n", (unsigned long long)x.msgs,
	       x.msgs == 1 ? "" : "s", acct.addr, dest, fmt, x.errors ? " with errors" : "");
	return x.errors ? 1 : 0;
}
