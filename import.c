/*
 * import.c — `brev import ADDRESS PATH [--mailbox NAME]`: mbox files,
 * Maildir / Maildir++ trees and folders of .eml files into an account.
 *
 * What it owns: walking the source, the batches given to the store, the
 * duplicate check that makes a re-run resume, progress and the summary.
 * Parsing the formats is mboxfmt.c's; the store's atomicity is the store's.
 *
 * Memory does not grow with the input: a message's bytes go through one
 * spool shared by a batch (256 messages or 4 MiB, the store's own group
 * commit bounds), which spills to DATADIR/tmp past 1 MiB; a message larger
 * than limits.message_size is refused while it streams past. What grows
 * is the duplicate table: 20 bytes per message already in the target
 * mailbox, and a folder's file names while its Maildir is read.
 *
 * Resuming: each batch is one commit (store_append_many: all or nothing),
 * so a killed import leaves whole messages only. Before a mailbox is
 * filled, the SHA-256 of every message it already holds is computed from
 * the stored bytes (derived, not stored: no new table, no change to the
 * message record) into a multiset; a source message whose digest is in it
 * uses up one copy and is skipped. The k-th identical copy in a source is
 * therefore imported only when the mailbox holds fewer than k: a re-run
 * imports exactly what is missing. Cost: a re-run reads the mailbox once.
 */
#include "migrate.h"

#include <dirent.h>
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

#include <openssl/evp.h>

#include "mailbox.h"
#include "mboxfmt.h"
#include "spool.h"
#include "util.h"

#define BATCH_N	    256
#define BATCH_BYTES (4u << 20)
#define READ_BUF    65536
#define DIGEST_LEN  16

/* ---- the duplicate multiset: digest -> copies in the mailbox ---- */

struct dslot {
	unsigned char d[DIGEST_LEN];
	uint32_t count; /* 0: empty slot */
};

struct dtab {
	struct dslot *s;
	size_t cap, used;
};

static struct dslot *dt_find(struct dtab *t, const unsigned char *d)
{
	size_t i;
	memcpy(&i, d, sizeof i);
	for (i &= t->cap - 1;; i = (i + 1) & (t->cap - 1))
		if (!t->s[i].count || !memcmp(t->s[i].d, d, DIGEST_LEN))
			return &t->s[i];
}

static void dt_add(struct dtab *t, const unsigned char *d)
{
	if ((t->used + 1) * 2 > t->cap) {
		struct dtab n = {xcalloc(t->cap ? t->cap * 2 : 1024, sizeof *n.s),
				 t->cap ? t->cap * 2 : 1024, 0};
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].count) {
				*dt_find(&n, t->s[i].d) = t->s[i];
				n.used++;
			}
		free(t->s);
		*t = n;
	}
	struct dslot *s = dt_find(t, d);
	if (!s->count) {
		memcpy(s->d, d, DIGEST_LEN);
		t->used++;
	}
	s->count++;
}

/* Use up one stored copy of d: 1 if there was one (a duplicate). Slots are
 * never emptied, so probing stays valid; a count of 0 reads as empty only
 * for slots never used, hence the UINT32_MAX sentinel below. */
static int dt_take(struct dtab *t, const unsigned char *d)
{
	if (!t->cap)
		return 0;
	struct dslot *s = dt_find(t, d);
	if (!s->count || s->count == UINT32_MAX)
		return 0;
	s->count = s->count == 1 ? UINT32_MAX : s->count - 1;
	return 1;
}

/* ---- the import ---- */

struct imp {
	struct store *st;
	uint32_t user;
	uint64_t max_size;
	char mbox[STORE_MBOX_MAX + 1]; /* the target; "" = none chosen */
	int mbox_bad;		       /* it could not be created: skip */
	struct dtab tab;
	/* the batch */
	struct spool *sp;
	struct msg_in msgs[BATCH_N];
	struct mboxfmt_meta *metas; /* BATCH_N */
	size_t n;
	/* the message being read */
	const char *src;
	uint64_t cur_off, cur_start;
	int64_t cur_date;
	EVP_MD_CTX *md;
	int failed; /* fatal: stop */
	/* figures */
	uint64_t imported, dups, refused, bytes_in, total, in_bytes_imported;
	int64_t t0, last;
	int tty, kw_warned;
	int quiet;     /* a sink for brev fetch: no progress lines */
	int no_dedupe; /* set_mailbox loads no digests (fetch knows what it has) */
	const char *who; /* "import" or "fetch", in messages */
};

static void progress(struct imp *im, int force)
{
	int64_t now = now_ms();
	if (im->quiet)
		return;
	if (!force && now - im->last < (im->tty ? 250 : 5000))
		return;
	im->last = now;
	double secs = (double)(now - im->t0) / 1000.0;
	double rate = secs > 0 ? (double)(im->imported + im->dups) / secs : 0;
	double mbs = secs > 0 ? (double)im->bytes_in / secs / 1e6 : 0;
	char eta[32] = "?";
	if (mbs > 0 && im->total >= im->bytes_in)
		snprintf(eta, sizeof eta, "%.0fs", (double)(im->total - im->bytes_in) / 1e6 / mbs);
	fprintf(stderr, "%simport: %llu messages, %.1f/%.1f MB, %.0f msg/s, ETA %s%s",
		im->tty ? "\r" : "", (unsigned long long)(im->imported + im->dups),
		(double)im->bytes_in / 1e6, (double)im->total / 1e6, rate, eta,
		im->tty ? "\033[K" : "\n");
}

static void say(struct imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct imp *im, const char *fmt, ...)
{
	va_list ap;
	if (im->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "brev: %s: ", im->who ? im->who : "import");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int flush(struct imp *im)
{
	uint32_t uv, uids[BATCH_N];
	int rc;
	if (im->n == 0 || im->failed) {
		spool_reset(im->sp);
		im->n = 0;
		return im->failed ? -1 : 0;
	}
	rc = store_append_many(im->st, im->user, im->mbox, im->msgs, im->n, &uv, uids);
	if (rc == ST_LIMIT) {
		/* The mailbox's keyword table (64 names) is full: keep the mail. */
		if (!im->kw_warned++)
			say(im, "%s: more keywords than a mailbox holds (%d): some dropped",
			    im->mbox, STORE_KEYWORDS);
		for (size_t i = 0; i < im->n; i++)
			im->msgs[i].nkeywords = 0;
		rc = store_append_many(im->st, im->user, im->mbox, im->msgs, im->n, &uv, uids);
	}
	if (rc != ST_OK) {
		say(im, "storing into %s: %s (the messages before are stored; run again to resume)",
		    im->mbox, store_strerror(rc));
		im->failed = 1;
		return -1;
	}
	im->imported += im->n;
	im->n = 0;
	spool_reset(im->sp);
	return 0;
}

struct blist {
	uint64_t *b;
	size_t n, cap;
};

static int collect_blob(void *arg, const struct msg_info *m)
{
	struct blist *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->b = xrealloc(l->b, l->cap * sizeof *l->b);
	}
	l->b[l->n++] = m->blob;
	return 0;
}

static void digest_final(EVP_MD_CTX *md, unsigned char *out)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned len;
	EVP_DigestFinal_ex(md, full, &len);
	memcpy(out, full, DIGEST_LEN);
}

/* Make name the target: create it if needed, and load its digests. */
static int set_mailbox(struct imp *im, const char *name, int special)
{
	struct blist l = {0};
	char *buf;
	int rc;
	if (!strcmp(im->mbox, name))
		return im->mbox_bad ? -1 : 0;
	if (flush(im) < 0)
		return -1;
	str_copy(im->mbox, name, sizeof im->mbox);
	im->mbox_bad = 0;
	free(im->tab.s);
	memset(&im->tab, 0, sizeof im->tab);
	rc = store_mbox_create(im->st, im->user, name, special);
	if (rc != ST_OK && rc != ST_EXISTS) {
		say(im, "mailbox %s: %s: its messages are not imported", name, store_strerror(rc));
		im->mbox_bad = 1;
		im->refused++;
		return -1;
	}
	if (im->no_dedupe)
		return 0;
	if ((rc = store_msg_list(im->st, im->user, name, 1, collect_blob, &l)) != ST_OK) {
		say(im, "mailbox %s: %s", name, store_strerror(rc));
		im->failed = 1;
		free(l.b);
		return -1;
	}
	buf = xmalloc(READ_BUF);
	for (size_t i = 0; i < l.n; i++) {
		unsigned char d[DIGEST_LEN];
		uint64_t off = 0;
		long got;
		EVP_DigestInit_ex(im->md, EVP_sha256(), NULL);
		while ((got = store_msg_read(im->st, l.b[i], off, buf, READ_BUF)) > 0) {
			EVP_DigestUpdate(im->md, buf, (size_t)got);
			off += (uint64_t)got;
		}
		digest_final(im->md, d);
		dt_add(&im->tab, d);
	}
	free(buf);
	free(l.b);
	return 0;
}

/* The message events, shared by the mbox splitter and whole files. */
static int msg_begin(void *arg, uint64_t off, int64_t date)
{
	struct imp *im = arg;
	im->cur_off = off;
	im->cur_date = date;
	im->cur_start = spool_size(im->sp);
	EVP_DigestInit_ex(im->md, EVP_sha256(), NULL);
	return 0;
}

static int msg_data(void *arg, const char *p, size_t n)
{
	struct imp *im = arg;
	if (spool_write(im->sp, p, n) < 0) {
		say(im, "writing the spool in DATADIR/tmp: %s", strerror(errno));
		im->failed = 1;
		return -1;
	}
	EVP_DigestUpdate(im->md, p, n);
	return 0;
}

static int msg_end(void *arg, const struct mboxfmt_meta *meta, const char *err)
{
	struct imp *im = arg;
	unsigned char d[DIGEST_LEN];
	if (err) {
		say(im, "%s, offset %llu: refused: %s", im->src, (unsigned long long)im->cur_off,
		    err);
		im->refused++;
		return 0;
	}
	digest_final(im->md, d);
	uint64_t len = spool_size(im->sp) - im->cur_start;
	if (len == 0) {         /* body_len 0 would mean the whole spool */
		say(im, "%s, offset %llu: refused: empty message", im->src,
		    (unsigned long long)im->cur_off);
		im->refused++;
		return 0;
	}
	if (dt_take(&im->tab, d)) {
		im->dups++;
		return 0;
	}
	struct mboxfmt_meta *m = &im->metas[im->n];
	*m = *meta;
	for (size_t i = 0; i < m->nkw; i++)
		m->kw[i] = m->kwbuf + (meta->kw[i] - meta->kwbuf);
	im->msgs[im->n] = (struct msg_in){
	    .body = im->sp,
	    .body_off = im->cur_start,
	    .body_len = len,
	    .internaldate = im->cur_date,
	    .flags = meta->flags,
	    .keywords = m->kw,
	    .nkeywords = m->nkw,
	};
	im->n++;
	im->in_bytes_imported += len;
	if (im->n == BATCH_N || spool_size(im->sp) >= BATCH_BYTES)
		return flush(im);
	return 0;
}

/* ---- sources ---- */

static int import_mbox(struct imp *im, const char *path, const char *mbox, int special)
{
	struct mboxfmt_hooks h = {im, msg_begin, msg_data, msg_end};
	struct mboxfmt_split *s;
	char *buf;
	ssize_t got;
	int fd, r = 0;
	if (set_mailbox(im, mbox, special) < 0)
		return im->failed ? -1 : 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		say(im, "%s: %s", path, strerror(errno));
		im->refused++;
		return 0;
	}
	s = xmalloc(sizeof *s);
	buf = xmalloc(READ_BUF);
	mboxfmt_split_init(s, &h, im->max_size);
	im->src = path;
	while ((got = read(fd, buf, READ_BUF)) > 0) {
		im->bytes_in += (uint64_t)got;
		if (mboxfmt_feed(s, buf, (size_t)got) < 0)
			break;
		progress(im, 0);
	}
	if (got < 0) {
		say(im, "%s: %s", path, strerror(errno));
		im->failed = 1;
	}
	if (!im->failed && mboxfmt_finish(s) < 0)
		r = -1;
	close(fd);
	free(buf);
	free(s);
	return im->failed ? -1 : r;
}

/* One file, one message (Maildir, .eml). */
static int import_file(struct imp *im, const char *path, uint32_t flags,
		       const struct mboxfmt_meta *kw)
{
	struct mboxfmt_meta meta = {0};
	struct stat sb;
	char *buf;
	ssize_t got;
	uint64_t off = 0;
	const char *err = NULL;
	char why[96];
	int fd;
	im->src = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
		say(im, "%s: %s", path, strerror(errno));
		im->refused++;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	msg_begin(im, 0, sb.st_mtime);
	if (sb.st_size == 0)
		err = "empty file";
	else if (im->max_size && (uint64_t)sb.st_size > im->max_size)
		err = "larger than limits.message_size";
	buf = xmalloc(READ_BUF);
	while (!err && (got = read(fd, buf, READ_BUF)) != 0) {
		const char *z;
		if (got < 0) {
			snprintf(why, sizeof why, "read: %s", strerror(errno));
			err = why;
		} else if ((z = memchr(buf, '\0', (size_t)got))) {
			snprintf(why, sizeof why, "NUL byte at offset %llu",
				 (unsigned long long)(off + (uint64_t)(z - buf)));
			err = why;
		} else if (msg_data(im, buf, (size_t)got) < 0) {
			break;
		}
		off += got > 0 ? (uint64_t)got : 0;
	}
	im->bytes_in += (uint64_t)sb.st_size;
	close(fd);
	free(buf);
	if (im->failed)
		return -1;
	if (kw)
		meta = *kw;
	for (size_t i = 0; i < meta.nkw; i++)
		meta.kw[i] = meta.kwbuf + (kw->kw[i] - kw->kwbuf);
	meta.flags = flags;
	msg_end(im, &meta, err);
	progress(im, 0);
	return im->failed ? -1 : 0;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && str_casecmp_ascii(s + a - b, suf) == 0;
}

/* Numbers inside names compare as numbers (strverscmp): Maildir names
 * start "SECONDS.M<usec>P<pid>..." (Dovecot) or "SECONDS.PID_SEQ..."
 * (mbsync), whose parts are not zero-padded, so byte order would put
 * M99999 after M100000 within one second. */
static int cmp_str(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, in the source's order as far as the names tell it (so
 * UIDs follow it). */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_str);
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_maildir(const char *dir)
{
	char p[PATH_MAX + 256];
	snprintf(p, sizeof p, "%s/cur", dir);
	if (is_dir(p))
		return 1;
	snprintf(p, sizeof p, "%s/new", dir);
	return is_dir(p);
}

/* Dovecot's dovecot-keywords: "N name" lines, N = the letter 'a' + N. */
static void read_keywords(const char *dir, char names[26][MBOXFMT_KW_LEN + 1])
{
	char p[PATH_MAX + 256], line[512];
	FILE *f;
	memset(names, 0, 26 * (MBOXFMT_KW_LEN + 1));
	snprintf(p, sizeof p, "%s/dovecot-keywords", dir);
	if (!(f = fopen(p, "re")))
		return;
	while (fgets(line, sizeof line, f)) {
		char *sp = strchr(line, ' ');
		long long i;
		if (!sp)
			continue;
		*sp = '\0';
		str_trim(sp + 1);
		if (parse_int(line, 0, 25, &i) == 0)
			str_copy(names[i], sp + 1, MBOXFMT_KW_LEN + 1);
	}
	fclose(f);
}

static int import_maildir(struct imp *im, const char *dir, const char *mbox, int special)
{
	static const char *const sub[] = {"cur", "new"};
	char kwn[26][MBOXFMT_KW_LEN + 1];
	if (set_mailbox(im, mbox, special) < 0)
		return im->failed ? -1 : 0;
	read_keywords(dir, kwn);
	for (size_t s = 0; s < 2; s++) {
		char d[PATH_MAX + 256], p[PATH_MAX + 512];
		size_t n;
		snprintf(d, sizeof d, "%s/%s", dir, sub[s]);
		char **v = list_dir(d, &n);
		for (size_t i = 0; i < n && !im->failed; i++) {
			struct mboxfmt_meta meta = {0};
			uint32_t flags, bits;
			struct stat sb;
			if (v[i][0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", d, v[i]);
			if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
			if (mboxfmt_maildir_flags(v[i], &flags, &bits) < 0) {
				say(im,
				    "%s: refused: malformed Maildir file name (flags after ':' "
				    "must "
				    "be \":2,\" and letters)",
				    p);
				im->refused++;
				im->bytes_in += (uint64_t)sb.st_size;
				continue;
			}
			for (int k = 0; k < 26; k++)
				if ((bits & (1u << k)) && kwn[k][0])
					mboxfmt_kw_add(&meta, kwn[k], strlen(kwn[k]));
			import_file(im, p, flags, &meta);
		}
		free_list(v, n);
	}
	return im->failed ? -1 : 0;
}

static void child_name(const char *base, const char *name, char *out, size_t cap, int *special)
{
	if (!base[0]) {
		migrate_map_name(name, out, cap, special);
	} else {
		snprintf(out, cap, "%s/%s", base, name);
		*special = MBOX_NORMAL;
	}
}

static int peek_from(const char *path, struct stat *sb)
{
	char b[5];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;
	if (fd < 0)
		return 0;
	got = read(fd, b, 5);
	close(fd);
	(void)sb;
	return got == 5 && !memcmp(b, "From ", 5);
}

static int walk(struct imp *im, const char *dir, const char *base, int special, int depth);

static int walk_entry(struct imp *im, const char *dir, const char *name, const char *base,
		      int maildir, int depth)
{
	char p[PATH_MAX + 256], mb[STORE_MBOX_MAX + 64];
	const char *root = base[0] ? base : "INBOX";
	struct stat sb;
	int special;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	if (stat(p, &sb) < 0)
		return 0;
	if (S_ISDIR(sb.st_mode)) {
		if (maildir &&
		    (!strcmp(name, "cur") || !strcmp(name, "new") || !strcmp(name, "tmp")))
			return 0;
		if (name[0] == '.') {
			/* Maildir++: ".Sub.Folder" beside the root's cur/new */
			char lv[STORE_MBOX_MAX + 1], *dot;
			if (!maildir || !is_maildir(p))
				return 0;
			str_copy(lv, name + 1, sizeof lv);
			if ((dot = strchr(lv, '.')))
				*dot = '\0';
			child_name(base, lv, mb, sizeof mb, &special);
			if (dot) {
				size_t l = strlen(mb);
				snprintf(mb + l, sizeof mb - l, "/%s", dot + 1);
				for (char *c = mb + l + 1; *c; c++)
					if (*c == '.')
						*c = '/';
			}
			return import_maildir(im, p, mb, special);
		}
		char nm[NAME_MAX + 1];
		str_copy(nm, name, sizeof nm);
		if (has_suffix(nm, ".sbd")) /* Thunderbird: the children of mbox "X" */
			nm[strlen(nm) - 4] = '\0';
		child_name(base, nm, mb, sizeof mb, &special);
		return depth < 32 ? walk(im, p, mb, special, depth + 1) : 0;
	}
	if (!S_ISREG(sb.st_mode) || name[0] == '.' || maildir)
		return 0;
	if (has_suffix(name, ".eml")) {
		if (set_mailbox(im, root, base[0] ? MBOX_NORMAL : MBOX_INBOX) < 0)
			return im->failed ? -1 : 0;
		return import_file(im, p, 0, NULL);
	}
	char nm[NAME_MAX + 1];
	str_copy(nm, name, sizeof nm);
	if (has_suffix(nm, ".mbox"))
		nm[strlen(nm) - 5] = '\0';
	if (sb.st_size == 0 || peek_from(p, &sb)) {
		child_name(base, nm, mb, sizeof mb, &special);
		if (sb.st_size == 0) /* an empty folder (Thunderbird's empty Trash) */
			return set_mailbox(im, mb, special) < 0 && im->failed ? -1 : 0;
		return import_mbox(im, p, mb, special);
	}
	if (!has_suffix(name, ".msf") && !has_suffix(name, ".dat") && !has_suffix(name, ".html") &&
	    !has_suffix(name, ".json"))
		say(im, "%s: not mail (neither an mbox nor a .eml file): left alone", p);
	return 0;
}

/* A folder: its own Maildir (if it is one), then its entries. */
static int walk(struct imp *im, const char *dir, const char *base, int special, int depth)
{
	size_t n;
	int maildir = is_maildir(dir);
	if (maildir &&
	    import_maildir(im, dir, base[0] ? base : "INBOX", base[0] ? special : MBOX_INBOX) < 0)
		return -1;
	char **v = list_dir(dir, &n);
	for (size_t i = 0; i < n && !im->failed; i++)
		walk_entry(im, dir, v[i], base, maildir, depth);
	free_list(v, n);
	return im->failed ? -1 : 0;
}

/* The input size, for the ETA. */
static uint64_t input_size(const char *path, int depth)
{
	struct stat sb;
	uint64_t sum = 0;
	size_t n;
	if (stat(path, &sb) < 0)
		return 0;
	if (!S_ISDIR(sb.st_mode))
		return S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	if (depth > 34)
		return 0;
	char **v = list_dir(path, &n);
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX + 256];
		snprintf(p, sizeof p, "%s/%s", path, v[i]);
		sum += input_size(p, depth + 1);
	}
	free_list(v, n);
	return sum;
}

void migrate_map_name(const char *name, char *out, size_t cap, int *special)
{
	static const struct {
		const char *from, *to;
		int special;
	} map[] = {
	    {"Inbox", "INBOX", MBOX_INBOX},
	    {"Sent", "Sent", MBOX_SENT},
	    {"Sent Items", "Sent", MBOX_SENT},
	    {"Sent Messages", "Sent", MBOX_SENT},
	    {"Sent Mail", "Sent", MBOX_SENT},
	    {"Gesendet", "Sent", MBOX_SENT},
	    {"Junk", "Junk", MBOX_JUNK},
	    {"Spam", "Junk", MBOX_JUNK},
	    {"Junk E-mail", "Junk", MBOX_JUNK},
	    {"Trash", "Trash", MBOX_TRASH},
	    {"Deleted Items", "Trash", MBOX_TRASH},
	    {"Deleted Messages", "Trash", MBOX_TRASH},
	    {"Papierkorb", "Trash", MBOX_TRASH},
	    {"Drafts", "Drafts", MBOX_DRAFTS},
	    {"Entwürfe", "Drafts", MBOX_DRAFTS},
	    {"Archive", "Archive", MBOX_ARCHIVE},
	    {"Archives", "Archive", MBOX_ARCHIVE},
	};
	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (!str_casecmp_ascii(name, map[i].from)) {
			str_copy(out, map[i].to, cap);
			*special = map[i].special;
			return;
		}
	str_copy(out, name, cap);
	*special = MBOX_NORMAL;
}

int import_main(struct store *st, uint64_t max_size, int argc, char **argv)
{
	struct imp im = {0};
	struct account acct;
	const char *addr = NULL, *path = NULL, *base = "";
	struct stat sb;
	int rc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mailbox") && i + 1 < argc)
			base = argv[++i];
		else if (!addr)
			addr = argv[i];
		else if (!path)
			path = argv[i];
		else
			addr = NULL, i = argc;
	}
	if (!addr || !path) {
		fprintf(stderr, "brev: usage: brev import ADDRESS PATH [--mailbox NAME]\n");
		return 1;
	}
	if ((rc = store_user_get(st, addr, &acct)) != ST_OK) {
		fprintf(stderr, "brev: import: %s: %s\n", addr, store_strerror(rc));
		return 1;
	}
	if (stat(path, &sb) < 0) {
		fprintf(stderr, "brev: import: %s: %s\n", path, strerror(errno));
		return 1;
	}
	im.st = st;
	im.user = acct.id;
	im.max_size = max_size;
	im.sp = spool_new(1 << 20);
	im.metas = xcalloc(BATCH_N, sizeof *im.metas);
	im.md = EVP_MD_CTX_new();
	im.tty = isatty(2);
	im.t0 = now_ms();
	im.last = im.t0;
	im.total = input_size(path, 0);
	if (S_ISDIR(sb.st_mode)) {
		walk(&im, path, base, MBOX_NORMAL, 0);
	} else if (sb.st_size == 0) {
		say(&im, "%s: refused: empty file", path);
		im.refused++;
	} else if (peek_from(path, &sb)) {
		import_mbox(&im, path, base[0] ? base : "INBOX",
			    base[0] ? MBOX_NORMAL : MBOX_INBOX);
	} else if (has_suffix(path, ".eml")) {
		if (set_mailbox(&im, base[0] ? base : "INBOX", MBOX_NORMAL) == 0)
			import_file(&im, path, 0, NULL);
	} else {
		say(&im, "%s: refused: not an mbox (does not start with \"From \") nor a .eml file",
		    path);
		im.refused++;
	}
	flush(&im);
	progress(&im, 1);
	if (im.tty)
		fputc('\n', stderr);
	printf("imported %llu message%s (%.1f MB) into %s; %llu skipped as already there; "
	       "%llu refused\n",
	       (unsigned long long)im.imported, im.imported == 1 ? "" : "s",
	       (double)im.in_bytes_imported / 1e6, acct.addr, (unsigned long long)im.dups,
	       (unsigned long long)im.refused);
	spool_free(&im.sp);
	free(im.metas);
	free(im.tab.s);
	EVP_MD_CTX_free(im.md);
	return im.failed || im.refused ? 1 : 0;
}

/* ---- the sink: the same batches for brev fetch (fetch_*.c) ---- */

struct import_sink {
	struct imp im;
};

struct import_sink *import_sink_new(struct store *st, uint32_t user, uint64_t max_size)
{
	struct import_sink *s = xcalloc(1, sizeof *s);
	s->im.st = st;
	s->im.user = user;
	s->im.max_size = max_size;
	s->im.sp = spool_new(1 << 20);
	s->im.metas = xcalloc(BATCH_N, sizeof *s->im.metas);
	s->im.md = EVP_MD_CTX_new();
	s->im.quiet = 1;
	s->im.who = "fetch";
	s->im.t0 = s->im.last = now_ms();
	return s;
}

int import_sink_mailbox(struct import_sink *s, const char *name, int special, int dedupe)
{
	if (s->im.failed)
		return -1;
	if (!strcmp(s->im.mbox, name) && !s->im.mbox_bad && (!dedupe) == s->im.no_dedupe)
		return 0;
	if (flush(&s->im) < 0)
		return -1;
	s->im.mbox[0] = '\0'; /* reload: dedupe may have changed */
	s->im.no_dedupe = !dedupe;
	return set_mailbox(&s->im, name, special);
}

int import_sink_begin(struct import_sink *s, int64_t date)
{
	if (s->im.failed || s->im.mbox_bad)
		return -1;
	s->im.src = s->im.mbox;
	return msg_begin(&s->im, 0, date);
}

int import_sink_data(struct import_sink *s, const char *p, size_t n)
{
	s->im.bytes_in += n;
	return msg_data(&s->im, p, n);
}

int import_sink_end_at(struct import_sink *s, const struct mboxfmt_meta *meta, int64_t date,
		       const char *err)
{
	if (date > 0)
		s->im.cur_date = date;
	return msg_end(&s->im, meta, err) < 0 || s->im.failed ? -1 : 0;
}

uint64_t import_sink_max_size(const struct import_sink *s)
{
	return s->im.max_size;
}

size_t import_sink_pending(const struct import_sink *s)
{
	return s->im.n;
}

int import_sink_flush(struct import_sink *s)
{
	return flush(&s->im);
}

void import_sink_counts(const struct import_sink *s, uint64_t *imported, uint64_t *dups,
			uint64_t *refused)
{
	*imported = s->im.imported;
	*dups = s->im.dups;
	*refused = s->im.refused;
}

void import_sink_free(struct import_sink **sp)
{
	struct import_sink *s = *sp;
	if (!s)
		return;
	spool_free(&s->im.sp);
	free(s->im.metas);
	free(s->im.tab.s);
	EVP_MD_CTX_free(s->im.md);
	free(s);
	*sp = NULL;
}
