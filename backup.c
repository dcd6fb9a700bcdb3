/*
 * backup.c — the backup archive: a ustar writer and reader, the manifest,
 * and the three commands built on them (backup.h, docs/backup.md).
 *
 * Why the store goes through a temporary file: the manifest comes first
 * and holds every member's size and SHA-256, and a tar header holds its
 * member's size, so both must be known before the first byte of the store
 * is written. LMDB's compacting copy (mailbox_verify.c) goes to an
 * unlinked file in DATADIR/tmp, is hashed, then streamed into the archive
 * in 64 KiB pieces: memory stays constant, disk needs room for one
 * compacted copy beside the store.
 */
#include "backup.h"
#include "backup_crypt.h"

#include <bearssl_hash.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "util.h"

#define BUF (64 * 1024)

/* ================= ustar ================= */

static void octal(char *dst, size_t width, uint64_t v)
{
	/* width-1 digits, zero-padded, then NUL */
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		dst[i] = (char)('0' + (v & 7));
	dst[width - 1] = 0;
}

static unsigned header_sum(const unsigned char h[512])
{
	unsigned s = 0;
	for (int i = 0; i < 512; i++)
		s += (i >= 148 && i < 156) ? ' ' : h[i];
	return s;
}

int tar_header(unsigned char h[512], const char *name, uint64_t size, unsigned mode, int64_t mtime)
{
	size_t nl = strlen(name);
	if (nl == 0 || nl > BACKUP_NAME_MAX)
		return -1;
	memset(h, 0, 512);
	memcpy(h, name, nl);
	octal((char *)h + 100, 8, mode & 07777);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	if (size < (1ULL << 33)) {
		octal((char *)h + 124, 12, size);
	} else {
		/* base-256: high bit of the first byte, then big-endian */
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	}
	octal((char *)h + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "brev", 4);
	memcpy(h + 297, "brev", 4);
	octal((char *)h + 148, 7, header_sum(h));
	h[155] = ' ';
	return 0;
}

/* An octal field: digits, then spaces or NULs; -1 if anything else. */
static int parse_octal(const unsigned char *f, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < width && f[i] == ' ')
		i++;
	if (i == width || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] != ' ' && f[i] != 0)
			return -1;
	*out = v;
	return 0;
}

int tar_parse(const unsigned char h[512], struct tar_ent *e, char *err, size_t errlen)
{
	uint64_t sum, mode;
	size_t nl;
	int zero = 1;
	for (int i = 0; i < 512 && zero; i++)
		zero = h[i] == 0;
	if (zero)
		return 1;
	if (parse_octal(h + 148, 8, &sum) < 0 || sum != header_sum(h)) {
		snprintf(err, errlen, "tar header checksum wrong");
		return -1;
	}
	if (memcmp(h + 257, "ustar", 5) != 0) {
		snprintf(err, errlen, "not a ustar header");
		return -1;
	}
	if (h[156] != '0' && h[156] != 0) {
		snprintf(err, errlen, "member of type '%c': only regular files belong in a backup",
			 h[156] >= 0x20 && h[156] < 0x7f ? h[156] : '?');
		return -1;
	}
	if (h[345] != 0) {
		snprintf(err, errlen, "member name with a prefix: not written by brev");
		return -1;
	}
	nl = strnlen((const char *)h, 100);
	if (nl == 0 || nl > BACKUP_NAME_MAX) {
		snprintf(err, errlen, "member name empty or too long");
		return -1;
	}
	memcpy(e->name, h, nl);
	e->name[nl] = 0;
	if (parse_octal(h + 100, 8, &mode) < 0) {
		snprintf(err, errlen, "%s: bad mode field", e->name);
		return -1;
	}
	e->mode = (unsigned)(mode & 0777);
	if (h[124] == 0x80) {
		uint64_t v = 0;
		for (int i = 125; i < 128; i++)
			if (h[i]) {
				snprintf(err, errlen, "%s: size beyond 2^64", e->name);
				return -1;
			}
		for (int i = 128; i < 136; i++)
			v = v << 8 | h[i];
		e->size = v;
	} else if (parse_octal(h + 124, 12, &e->size) < 0) {
		snprintf(err, errlen, "%s: bad size field", e->name);
		return -1;
	}
	/* Bounded so that size + padding can never wrap. */
	if (e->size > BACKUP_SIZE_MAX) {
		snprintf(err, errlen, "%s: size beyond 2^62", e->name);
		return -1;
	}
	return 0;
}

/* ================= the manifest ================= */

int backup_path_ok(const char *p)
{
	size_t n = strlen(p), start = 0;
	if (n == 0 || n > BACKUP_NAME_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			size_t len = i - start;
			if (len == 0 || (len == 1 && p[start] == '.') ||
			    (len == 2 && p[start] == '.' && p[start + 1] == '.'))
				return 0;
			start = i + 1;
			continue;
		}
		unsigned char c = (unsigned char)p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+' || c == '@'))
			return 0;
	}
	return 1;
}

static void hex(char *out, const unsigned char *b, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

char *manifest_format(const struct manifest *m)
{
	size_t cap = 256 + m->n * (BACKUP_NAME_MAX + 120), len;
	char *s = xmalloc(cap), h[65];
	len = (size_t)snprintf(s, cap, "brev-backup 1\nbrev %s\nschema %llu\ncreated %lld\n",
			       m->version, (unsigned long long)m->schema, (long long)m->created);
	for (size_t i = 0; i < m->n; i++) {
		hex(h, m->files[i].sha, 32);
		len +=
		    (size_t)snprintf(s + len, cap - len, "file %03o %llu %s %s\n", m->files[i].mode,
				     (unsigned long long)m->files[i].size, h, m->files[i].path);
	}
	snprintf(s + len, cap - len, "end\n");
	return s;
}

static int unhex(unsigned char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return s[2 * n] == 0 ? 0 : -1;
}

/* A decimal number filling the whole token. */
static int num(const char *s, uint64_t *out, int base)
{
	char *end;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen)
{
	char line[512];
	size_t pos = 0, lineno = 0;
	int ended = 0, have = 0; /* bits: brev, schema, created lines seen */
	memset(m, 0, sizeof *m);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll;
		char *tok[6];
		int nt = 0;
		uint64_t v;
		lineno++;
		if (!nl) {
			snprintf(err, errlen, "manifest line %zu: not terminated", lineno);
			return -1;
		}
		ll = (size_t)(nl - (buf + pos));
		if (ll >= sizeof line || memchr(buf + pos, 0, ll)) {
			snprintf(err, errlen, "manifest line %zu: too long or binary", lineno);
			return -1;
		}
		memcpy(line, buf + pos, ll);
		line[ll] = 0;
		pos += ll + 1;
		if (ended) {
			snprintf(err, errlen, "manifest: text after its end line");
			return -1;
		}
		for (char *p = line, *save = NULL; nt < 6 && (p = strtok_r(p, " ", &save));
		     p = NULL)
			tok[nt++] = p;
		if (lineno == 1) {
			if (nt != 2 || strcmp(tok[0], "brev-backup") || strcmp(tok[1], "1")) {
				snprintf(err, errlen,
					 "not a brev backup manifest (or a newer format)");
				return -1;
			}
		} else if (nt == 2 && !strcmp(tok[0], "brev") && !(have & 1) &&
			   strlen(tok[1]) < sizeof m->version) {
			str_copy(m->version, tok[1], sizeof m->version);
			have |= 1;
		} else if (nt == 2 && !strcmp(tok[0], "schema") && !(have & 2) &&
			   num(tok[1], &v, 10) == 0) {
			m->schema = v;
			have |= 2;
		} else if (nt == 2 && !strcmp(tok[0], "created") && !(have & 4) &&
			   num(tok[1], &v, 10) == 0 && !(v >> 62)) {
			m->created = (int64_t)v;
			have |= 4;
		} else if (nt == 5 && !strcmp(tok[0], "file")) {
			struct backup_file *f;
			uint64_t mode;
			if (m->n == BACKUP_FILES_MAX) {
				snprintf(err, errlen, "manifest: more than %d files",
					 BACKUP_FILES_MAX);
				return -1;
			}
			f = &m->files[m->n];
			if (num(tok[1], &mode, 8) < 0 || mode > 0777 ||
			    num(tok[2], &f->size, 10) < 0 || f->size > BACKUP_SIZE_MAX ||
			    strlen(tok[3]) != 64 || unhex(f->sha, tok[3], 32) < 0 ||
			    !backup_path_ok(tok[4]) || !strcmp(tok[4], BACKUP_MANIFEST)) {
				snprintf(err, errlen, "manifest line %zu: bad file line", lineno);
				return -1;
			}
			for (size_t i = 0; i < m->n; i++)
				if (!strcmp(m->files[i].path, tok[4])) {
					snprintf(err, errlen, "manifest: %s named twice", tok[4]);
					return -1;
				}
			f->mode = (unsigned)mode;
			str_copy(f->path, tok[4], sizeof f->path);
			m->n++;
		} else if (nt == 1 && !strcmp(tok[0], "end")) {
			ended = 1;
		} else {
			snprintf(err, errlen, "manifest line %zu: not understood", lineno);
			return -1;
		}
	}
	if (!ended) {
		snprintf(err, errlen, "manifest: no end line (cut short)");
		return -1;
	}
	if (have != 7) {
		snprintf(err, errlen, "manifest: no brev, schema or created line");
		return -1;
	}
	return 0;
}

/* ================= reading ================= */

/* Exactly n bytes, or -1 with err ("cut short" at the end of input). */
static int rd_full(backup_rd rd, void *ctx, void *buf, size_t n, const char *what, char *err,
		   size_t errlen)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = rd(ctx, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "reading %s: %s", what, strerror(errno));
			return -1;
		}
		if (r == 0) {
			snprintf(err, errlen, "backup cut short in %s", what);
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf = (const char *)buf + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create the directories above path under dirfd. */
static int mkparents(int dirfd, const char *path)
{
	char p[BACKUP_NAME_MAX + 1];
	str_copy(p, path, sizeof p);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(dirfd, p, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

int backup_read(backup_rd rd, void *ctx, int dirfd, struct manifest *m, char *err, size_t errlen)
{
	unsigned char h[512];
	struct tar_ent e;
	char *text, what[BACKUP_NAME_MAX + 32];
	unsigned char *buf;
	int rc;

	if (rd_full(rd, ctx, h, 512, "the first header", err, errlen) < 0)
		return -1;
	if ((rc = tar_parse(h, &e, err, errlen)) != 0 || strcmp(e.name, BACKUP_MANIFEST) != 0) {
		if (rc >= 0)
			snprintf(err, errlen, "not a brev backup: the first member is not %s",
				 BACKUP_MANIFEST);
		return -1;
	}
	if (e.size > BACKUP_MANIFEST_MAX) {
		snprintf(err, errlen, "manifest of %llu bytes: too large",
			 (unsigned long long)e.size);
		return -1;
	}
	text = xmalloc((size_t)e.size + 512);
	if (rd_full(rd, ctx, text, (size_t)((e.size + 511) & ~511ULL), "the manifest", err,
		    errlen) < 0 ||
	    manifest_parse(text, (size_t)e.size, m, err, errlen) < 0) {
		free(text);
		return -1;
	}
	free(text);

	buf = xmalloc(BUF);
	for (;;) {
		struct backup_file *f = NULL;
		br_sha256_context sc;
		unsigned char sha[32];
		uint64_t left;
		int fd = -1;
		if (rd_full(rd, ctx, h, 512, "a member header", err, errlen) < 0)
			goto fail;
		if ((rc = tar_parse(h, &e, err, errlen)) < 0)
			goto fail;
		if (rc == 1) /* end of archive: a second zero block must follow */
			break;
		for (size_t i = 0; i < m->n && !f; i++)
			if (!strcmp(m->files[i].path, e.name))
				f = &m->files[i];
		if (!f || f->seen) {
			snprintf(err, errlen, "%s: %s", e.name,
				 f ? "twice in the archive" : "not in the manifest");
			goto fail;
		}
		if (e.size != f->size) {
			snprintf(err, errlen, "%s: %llu bytes, the manifest says %llu", e.name,
				 (unsigned long long)e.size, (unsigned long long)f->size);
			goto fail;
		}
		if (dirfd >= 0) {
			if (mkparents(dirfd, f->path) < 0 ||
			    (fd = openat(dirfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					 f->mode & 0700 ? f->mode : 0600)) < 0) {
				snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
				goto fail;
			}
		}
		snprintf(what, sizeof what, "%s", f->path);
		br_sha256_init(&sc);
		for (left = (e.size + 511) & ~511ULL; left;) {
			size_t n = left < BUF ? (size_t)left : BUF;
			uint64_t done = ((e.size + 511) & ~511ULL) - left;
			size_t data =
			    done >= e.size ? 0 : (e.size - done < n ? (size_t)(e.size - done) : n);
			if (rd_full(rd, ctx, buf, n, what, err, errlen) < 0) {
				if (fd >= 0)
					close(fd);
				goto fail;
			}
			br_sha256_update(&sc, buf, data);
			if (fd >= 0 && data && write_all(fd, buf, data) < 0) {
				snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
				close(fd);
				goto fail;
			}
			left -= n;
		}
		br_sha256_out(&sc, sha);
		if (fd >= 0) {
			if (fsync(fd) < 0 || close(fd) < 0) {
				snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
				goto fail;
			}
		}
		if (memcmp(sha, f->sha, 32) != 0) {
			snprintf(err, errlen, "%s: SHA-256 does not match the manifest (altered)",
				 f->path);
			goto fail;
		}
		f->seen = 1;
	}
	if (rd_full(rd, ctx, h, 512, "the end of the archive", err, errlen) < 0)
		goto fail;
	for (int i = 0; i < 512; i++)
		if (h[i]) {
			snprintf(err, errlen, "a single zero block ends the archive");
			goto fail;
		}
	for (size_t i = 0; i < m->n; i++)
		if (!m->files[i].seen) {
			snprintf(err, errlen, "%s: in the manifest but not in the archive",
				 m->files[i].path);
			goto fail;
		}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* The backup's bytes through backup_crypt.c: as they are, or opened with
 * the passphrase when they are sealed. */
static ssize_t bc_rd(void *ctx, void *buf, size_t n)
{
	ssize_t r = bcrypt_read(ctx, buf, n);
	if (r < 0 && bcrypt_error(ctx))
		errno = EBADMSG;
	return r;
}

/* Read the whole backup (into dirfd, or only checked when -1); its
 * passphrase from pass_file or the terminal if it is encrypted. */
static int read_backup(int fd, const char *pass_file, int dirfd, struct manifest *m, char *err,
		       size_t errlen)
{
	int enc;
	struct bcrypt *b = bcrypt_reader(fd, pass_file, &enc, err, errlen);
	if (!b)
		return -1;
	int rc = backup_read(bc_rd, b, dirfd, m, err, errlen);
	if (rc < 0 && bcrypt_error(b))
		snprintf(err, errlen, "%s", bcrypt_error(b));
	bcrypt_free(&b);
	return rc;
}

static int open_in(const char *file, char *err, size_t errlen)
{
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
	return fd;
}

int backup_check(const char *file, const char *pass_file, char *err, size_t errlen)
{
	struct manifest *m = xmalloc(sizeof *m);
	uint64_t total = 0;
	int fd = open_in(file, err, errlen), rc;
	if (fd < 0) {
		free(m);
		return -1;
	}
	rc = read_backup(fd, pass_file, -1, m, err, errlen);
	if (fd > 0)
		close(fd);
	if (rc == 0) {
		for (size_t i = 0; i < m->n; i++)
			total += m->files[i].size;
		snprintf(err, errlen,
			 "%zu files, %llu bytes, every checksum matches (brev %s, schema %llu)",
			 m->n, (unsigned long long)total, m->version,
			 (unsigned long long)m->schema);
	}
	free(m);
	return rc;
}

/* Remove a tree we created (a failed restore's staging directory). */
static void rm_tree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	if (fd < 0) {
		unlinkat(dirfd, name, 0);
		return;
	}
	if ((d = fdopendir(fd))) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				rm_tree(fd, de->d_name);
		closedir(d);
	} else {
		close(fd);
	}
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;
	if (!d)
		return -1;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

int restore_run(const char *file, const char *datadir, const char *pass_file, char *err,
		size_t errlen)
{
	char parent[PATH_MAX], base[NAME_MAX + 1], stage[NAME_MAX + 40];
	const char *slash;
	struct stat st;
	struct manifest *m;
	int exists, pfd, sfd, in, rc;
	uint64_t total = 0;

	str_copy(parent, datadir, sizeof parent);
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = 0;
	slash = strrchr(parent, '/');
	if (strlen(slash ? slash + 1 : parent) > NAME_MAX - 24 || !*(slash ? slash + 1 : parent)) {
		snprintf(err, errlen, "%s: not a usable directory name", datadir);
		return -1;
	}
	str_copy(base, slash ? slash + 1 : parent, sizeof base);
	if (slash == parent)
		parent[1] = 0;
	else if (slash)
		*(char *)slash = 0;
	else
		str_copy(parent, ".", sizeof parent);

	exists = stat(datadir, &st) == 0;
	if (exists && (!S_ISDIR(st.st_mode) || dir_empty(datadir) != 1)) {
		snprintf(err, errlen,
			 "%s exists and is not an empty directory: restore only into a new one",
			 datadir);
		return -1;
	}
	if (!exists && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", datadir, strerror(errno));
		return -1;
	}
	if (mkdir_p(parent, 0700) < 0 ||
	    (pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", parent, strerror(errno));
		return -1;
	}
	snprintf(stage, sizeof stage, ".%s.restore-%ld", base, (long)getpid());
	if (mkdirat(pfd, stage, 0700) < 0 ||
	    (sfd = openat(pfd, stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s/%s: %s", parent, stage, strerror(errno));
		close(pfd);
		return -1;
	}
	if ((in = open_in(file, err, errlen)) < 0) {
		close(sfd);
		rm_tree(pfd, stage);
		close(pfd);
		return -1;
	}
	m = xmalloc(sizeof *m);
	rc = read_backup(in, pass_file, sfd, m, err, errlen);
	if (in > 0)
		close(in);
	/* Only a backup read to its end with every checksum right becomes
	 * DATADIR: one rename, so there is never half a DATADIR. */
	if (rc == 0 && fsync(sfd) < 0) {
		snprintf(err, errlen, "%s: %s", stage, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && exists && rmdir(datadir) < 0) {
		snprintf(err, errlen, "%s: %s", datadir, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && renameat(pfd, stage, pfd, base) < 0) {
		snprintf(err, errlen, "%s: %s", datadir, strerror(errno));
		rc = -1;
	}
	close(sfd);
	if (rc < 0) {
		rm_tree(pfd, stage);
	} else {
		fsync(pfd);
		for (size_t i = 0; i < m->n; i++)
			total += m->files[i].size;
		char when[32] = "?";
		time_t t = (time_t)m->created;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(err, errlen,
			 "%zu files, %llu bytes restored into %s (backup of %s by brev %s)", m->n,
			 (unsigned long long)total, datadir, when, m->version);
	}
	close(pfd);
	free(m);
	return rc;
}

/* ================= writing ================= */

/* Hash fd from its start to its end; the size in *size. */
static int hash_fd(int fd, unsigned char sha[32], uint64_t *size, unsigned char *buf)
{
	br_sha256_context sc;
	ssize_t r;
	uint64_t n = 0;
	br_sha256_init(&sc);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((r = read(fd, buf, BUF)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		br_sha256_update(&sc, buf, (size_t)r);
		n += (size_t)r;
	}
	br_sha256_out(&sc, sha);
	*size = n;
	return 0;
}

/* Copy exactly f->size bytes of fd (from its start) as f's member,
 * checking they still hash to f->sha: a file rewritten between the
 * manifest and its member fails the backup rather than lying. */
/* Where the backup goes: a file descriptor, sealed or not. */
struct bout {
	int fd;
	struct bcrypt *enc;
};

static int bwrite(struct bout *o, const void *p, size_t n)
{
	return o->enc ? bcrypt_write(o->enc, p, n) : write_all(o->fd, p, n);
}

static int put_member(struct bout *out, int fd, const struct backup_file *f, int64_t mtime,
		      unsigned char *buf, char *err, size_t errlen)
{
	unsigned char h[512], sha[32];
	br_sha256_context sc;
	uint64_t left = f->size;
	if (tar_header(h, f->path, f->size, f->mode, mtime) < 0 || bwrite(out, h, 512) < 0)
		goto werr;
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto rerr;
	br_sha256_init(&sc);
	while (left) {
		ssize_t r = read(fd, buf, left < BUF ? (size_t)left : BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s shrank during the backup: run it again", f->path);
			return -1;
		}
		br_sha256_update(&sc, buf, (size_t)r);
		if (bwrite(out, buf, (size_t)r) < 0)
			goto werr;
		left -= (size_t)r;
	}
	br_sha256_out(&sc, sha);
	if (memcmp(sha, f->sha, 32) != 0) {
		snprintf(err, errlen, "%s changed during the backup: run it again", f->path);
		return -1;
	}
	memset(h, 0, sizeof h);
	if (f->size % 512 && bwrite(out, h, 512 - f->size % 512) < 0)
		goto werr;
	return 0;
rerr:
	snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
	return -1;
werr:
	snprintf(err, errlen, "writing the backup: %s", strerror(errno));
	return -1;
}

/* Every regular file of DATADIR but the store (copied through LMDB), tmp/
 * (messages in transit), logs, sockets and fetch/'s progress files; up to
 * 8 directories deep. */
static int collect(struct manifest *m, const char *datadir, const char *rel, int depth,
		   unsigned char *buf, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX], r[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int rc = 0;
	if (snprintf(dir, sizeof dir, "%s%s%s", datadir, *rel ? "/" : "", rel) >= (int)sizeof dir ||
	    !(d = opendir(dir))) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		size_t nl = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!*rel && (!strcmp(de->d_name, "store") || !strcmp(de->d_name, "tmp")))
			continue;
		if (nl > 4 && !strcmp(de->d_name + nl - 4, ".log"))
			continue;
		/* brev fetch's progress is left out: restored beside an older or
		 * newer store it would skip or repeat messages; without it the
		 * next run checks what the account has (fetch.c). */
		if (!strcmp(rel, "fetch") && nl > 6 &&
		    (!strcmp(de->d_name + nl - 6, ".state") || !strcmp(de->d_name + nl - 5, ".lock")))
			continue;
		if (snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >=
			(int)sizeof r ||
		    snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
			snprintf(err, errlen, "%s/%s: name too long", dir, de->d_name);
			rc = -1;
			break;
		}
		if (lstat(path, &st) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (depth >= 8) {
				snprintf(err, errlen, "%s: directories nested too deep", path);
				rc = -1;
			} else {
				rc = collect(m, datadir, r, depth + 1, buf, err, errlen);
			}
		} else if (S_ISREG(st.st_mode)) {
			struct backup_file *f;
			int fd;
			if (!backup_path_ok(r)) {
				snprintf(err, errlen,
					 "%s: a name brev does not back up (rename or remove it)",
					 path);
				rc = -1;
			} else if (m->n == BACKUP_FILES_MAX) {
				snprintf(err, errlen, "more than %d files in %s", BACKUP_FILES_MAX,
					 datadir);
				rc = -1;
			} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
				rc = -1;
			} else {
				f = &m->files[m->n++];
				memset(f, 0, sizeof *f);
				str_copy(f->path, r, sizeof f->path);
				f->mode = st.st_mode & 0777;
				if (hash_fd(fd, f->sha, &f->size, buf) < 0) {
					snprintf(err, errlen, "%s: %s", path, strerror(errno));
					rc = -1;
				}
				close(fd);
			}
		}
	}
	closedir(d);
	return rc;
}

/* The compacted copy: an unlinked file in DATADIR/tmp (DATADIR itself
 * when there is no tmp/: root running the backup must not create a
 * directory the server's unprivileged user could not write to). */
static int store_tmp(const char *datadir, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd;
	if (path_join(dir, sizeof dir, datadir, "tmp") < 0) {
		snprintf(err, errlen, "%s/tmp: path too long", datadir);
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		str_copy(dir, datadir, sizeof dir);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (snprintf(path, sizeof path, "%s/backup-XXXXXX", dir) >= (int)sizeof path ||
	    (fd = mkostemp(path, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	unlink(path);
	return fd;
}

int backup_run(const char *datadir, const char *dest, const char *version, const char *pass,
	       char *err, size_t errlen)
{
	struct manifest *m = xmalloc(sizeof *m);
	unsigned char *buf = xmalloc(BUF), h[1024];
	char part[PATH_MAX] = "", *text = NULL;
	struct backup_file *sf;
	int sfd = -1, out = -1, rc = -1;
	struct bout bo = {-1, NULL};
	uint64_t total = 0;
	int64_t now = (int64_t)time(NULL);

	memset(m, 0, sizeof *m);
	str_copy(m->version, version, sizeof m->version);
	m->created = now;
	/* The store first: its snapshot is the moment the backup stands for. */
	if ((sfd = store_tmp(datadir, err, errlen)) < 0)
		goto out;
	if (store_backup_copy(datadir, sfd, &m->schema, err, errlen) < 0)
		goto out;
	sf = &m->files[m->n++];
	str_copy(sf->path, "store/data.mdb", sizeof sf->path);
	sf->mode = 0600;
	if (hash_fd(sfd, sf->sha, &sf->size, buf) < 0) {
		snprintf(err, errlen, "store copy: %s", strerror(errno));
		goto out;
	}
	if (collect(m, datadir, "", 0, buf, err, errlen) < 0)
		goto out;

	if (!strcmp(dest, "-")) {
		out = 1;
	} else {
		if (snprintf(part, sizeof part, "%s.part", dest) >= (int)sizeof part) {
			snprintf(err, errlen, "%s: name too long", dest);
			goto out;
		}
		if ((out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
			snprintf(err, errlen, "%s: %s", part, strerror(errno));
			part[0] = 0;
			goto out;
		}
	}
	bo.fd = out;
	if (pass && !(bo.enc = bcrypt_writer(out, pass, BCRYPT_LOG2N, err, errlen)))
		goto out;
	text = manifest_format(m);
	{
		struct backup_file mf = {.size = strlen(text), .mode = 0600};
		size_t pad = (512 - mf.size % 512) % 512;
		str_copy(mf.path, BACKUP_MANIFEST, sizeof mf.path);
		memset(h, 0, sizeof h);
		if (tar_header(h, mf.path, mf.size, mf.mode, now) < 0 ||
		    bwrite(&bo, h, 512) < 0 || bwrite(&bo, text, mf.size) < 0 ||
		    (memset(h, 0, 512), bwrite(&bo, h, pad)) < 0) {
			snprintf(err, errlen, "writing the backup: %s", strerror(errno));
			goto out;
		}
	}
	if (put_member(&bo, sfd, sf, now, buf, err, errlen) < 0)
		goto out;
	total = sf->size;
	for (size_t i = 1; i < m->n; i++) {
		char path[PATH_MAX];
		int fd;
		if (path_join(path, sizeof path, datadir, m->files[i].path) < 0 ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			snprintf(err, errlen, "%s: %s (removed during the backup?)",
				 m->files[i].path, strerror(errno));
			goto out;
		}
		rc = put_member(&bo, fd, &m->files[i], now, buf, err, errlen);
		close(fd);
		if (rc < 0)
			goto out;
		rc = -1;
		total += m->files[i].size;
	}
	memset(h, 0, sizeof h);
	if (bwrite(&bo, h, 1024) < 0 || (bo.enc && bcrypt_finish(bo.enc) < 0)) {
		snprintf(err, errlen, "writing the backup: %s", strerror(errno));
		goto out;
	}
	if (out != 1) {
		if (fsync(out) < 0 || close(out) < 0) {
			out = -1;
			snprintf(err, errlen, "%s: %s", part, strerror(errno));
			goto out;
		}
		out = -1;
		if (rename(part, dest) < 0) {
			snprintf(err, errlen, "%s: %s", dest, strerror(errno));
			goto out;
		}
		part[0] = 0;
	}
	snprintf(err, errlen,
		 "%zu files, %llu bytes (store %llu bytes compacted, schema %llu) to %s", m->n,
		 (unsigned long long)total, (unsigned long long)sf->size,
		 (unsigned long long)m->schema, strcmp(dest, "-") ? dest : "stdout");
	rc = 0;
out:
	bcrypt_free(&bo.enc);
	if (out > 1)
		close(out);
	if (part[0])
		unlink(part);
	if (sfd >= 0)
		close(sfd);
	free(text);
	free(buf);
	free(m);
	return rc;
}

/* ================= the command line ================= */

int backup_cli(const char *cmd, int argc, char **argv, const char *datadir, const char *version)
{
	char err[1024], conf[PATH_MAX], pass[BCRYPT_PASS_MAX];
	const char *pass_file = NULL, *args[3];
	int encrypt = 0, n = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--encrypt") && !strcmp(cmd, "backup"))
			encrypt = 1;
		else if (!strcmp(argv[i], "--passphrase-file") && i + 1 < argc)
			pass_file = argv[++i];
		else if (n < 3)
			args[n++] = argv[i];
		else
			n = 4;
	}
	err[0] = 0;
	if (!strcmp(cmd, "backup")) {
		if (n != 1 || (pass_file && !encrypt))
			fatal("usage: brev backup DEST|- [--encrypt [--passphrase-file FILE]]");
		if (path_join(conf, sizeof conf, datadir, "brev.conf") < 0 ||
		    access(conf, F_OK) < 0)
			fatal("%s is not initialised: nothing to back up", datadir);
		if (encrypt && bcrypt_passphrase(pass_file, 1, pass, sizeof pass, err, sizeof err) < 0)
			fatal("backup: %s", err);
		int rc = backup_run(datadir, args[0], version, encrypt ? pass : NULL, err, sizeof err);
		explicit_bzero(pass, sizeof pass);
		if (rc < 0)
			fatal("backup: %s", err);
		fprintf(stderr, "brev: backup: %s%s\n", err, encrypt ? " (encrypted)" : "");
		return 0;
	}
	if (!strcmp(cmd, "restore")) {
		if (n != 2)
			fatal("usage: brev restore FILE|- DATADIR [--passphrase-file FILE]");
		if (restore_run(args[0], args[1], pass_file, err, sizeof err) < 0)
			fatal("restore: %s", err);
		fprintf(stderr, "brev: restore: %s\n", err);
		return 0;
	}
	/* verify [DATADIR] | verify --backup FILE [--passphrase-file FILE] */
	if (n == 2 && !strcmp(args[0], "--backup")) {
		if (backup_check(args[1], pass_file, err, sizeof err) < 0)
			fatal("verify: %s: %s", args[1], err);
		printf("verify: %s: %s\n", args[1], err);
		return 0;
	}
	if (n > 1 || pass_file || (n == 1 && args[0][0] == '-'))
		fatal("usage: brev verify [DATADIR] | brev verify --backup FILE [--passphrase-file FILE]");
	{
		const char *dir = n == 1 ? args[0] : datadir;
		unsigned long problems = 0;
		if (store_verify(dir, stdout, &problems, err, sizeof err) < 0)
			fatal("verify: %s", err);
		printf("verify: %s: %s; %lu problem%s\n", dir, err, problems,
		       problems == 1 ? "" : "s");
		fflush(stdout);
		return problems ? 1 : 0;
	}
}
