/*
 * jmap_upload.c — JMAP blob upload (RFC 8620 6.1) and the uploaded blobs'
 * life. An upload is kept as a file DATADIR/uploads/<account hex>-<id hex>
 * (the store holds only mail: an upload is not mail until Email/import
 * makes it a message), written under a temporary name and renamed, so a
 * blob is whole or absent. Its blobId is "U" and the 16 hex digits of a
 * random 64-bit id.
 *
 * Life: an upload is kept UPLOAD_LIFE (24 hours, RFC 8620 6: at least one
 * hour) whether or not it was used (Email/import may use it again); expired
 * ones are deleted at the next upload. Bounds per account: UPLOAD_FILES_MAX
 * blobs and UPLOAD_BYTES_FACTOR times maxSizeUpload bytes kept at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "jmap.h"
#include "jmap_int.h"
#include "log.h"
#include "mailbox.h"
#include "server.h"
#include "spool.h"
#include "util.h"

#define UPLOAD_LIFE	    (24 * 3600)
#define UPLOAD_FILES_MAX    64
#define UPLOAD_BYTES_FACTOR 4
#define UPLOAD_PIECE	    (64 * 1024)

static void upload_dir(const struct server *srv, char *buf, size_t cap)
{
	path_join(buf, cap, srv->cfg->datadir, "uploads");
}

/* Delete expired uploads (every account's); count user's live ones. */
static void sweep(const char *dir, uint32_t user, time_t now, size_t *n, uint64_t *bytes)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char prefix[16], path[PATH_MAX];
	struct stat sb;

	*n = 0;
	*bytes = 0;
	if (!d)
		return;
	snprintf(prefix, sizeof prefix, "%x-", user);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || path_join(path, sizeof path, dir, e->d_name) < 0 ||
		    lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (now - sb.st_mtime > UPLOAD_LIFE || now < sb.st_mtime - 60) {
			unlink(path);
			continue;
		}
		if (!strncmp(e->d_name, prefix, strlen(prefix)) && !strchr(e->d_name, '.')) {
			(*n)++;
			*bytes += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
}

static void upload_error(struct jmap_reply *out, int status, const char *type, const char *detail)
{
	char urn[96];
	json_t *j;
	snprintf(urn, sizeof urn, "urn:ietf:params:jmap:error:%s", type);
	j = json_pack("{s:s, s:i, s:s}", "type", urn, "status", status, "detail", detail);
	out->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!out->body)
		fatal("out of memory");
	out->len = strlen(out->body);
	out->status = status;
	out->type = "application/problem+json";
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy the spool into a new file at path: 0 or -1. */
static int write_file(const char *path, struct spool *body)
{
	char *buf = xmalloc(UPLOAD_PIECE);
	uint64_t off = 0, size = spool_size(body);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = fd < 0 ? -1 : 0;

	while (rc == 0 && off < size) {
		long n = spool_read_at(body, off, buf, UPLOAD_PIECE);
		if (n <= 0 || write_all(fd, buf, (size_t)n) < 0)
			rc = -1;
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (fd >= 0 && close(fd) < 0)
		rc = -1;
	free(buf);
	return rc;
}

void jmap_upload(const struct server *srv, const struct account *a, const char *type,
		 struct spool *body, struct jmap_reply *out)
{
	char dir[PATH_MAX], name[64], path[PATH_MAX], tmp[PATH_MAX], acc[32], blob[24];
	uint64_t id, size = spool_size(body), bytes,
		 limit = (uint64_t)srv->cfg->message_size * UPLOAD_BYTES_FACTOR;
	size_t n;
	json_t *j;

	upload_dir(srv, dir, sizeof dir);
	if (mkdir_p(dir, 0700) < 0) {
		log_error("jmap: cannot make %s: %s", dir, strerror(errno));
		upload_error(out, 500, "serverFail", "cannot keep the upload");
		return;
	}
	sweep(dir, a->id, time(NULL), &n, &bytes);
	if (n >= UPLOAD_FILES_MAX || bytes + size > limit) {
		upload_error(out, 413, "overQuota",
			     "too many uploads kept: use them or wait for them to expire");
		return;
	}
	random_bytes(&id, sizeof id);
	snprintf(name, sizeof name, "%x-%016llx", a->id, (unsigned long long)id);
	path_join(path, sizeof path, dir, name);
	if (strlen(path) + 5 > sizeof tmp) {
		upload_error(out, 500, "serverFail", "cannot keep the upload");
		return;
	}
	memcpy(tmp, path, strlen(path));
	memcpy(tmp + strlen(path), ".tmp", 5);
	if (write_file(tmp, body) < 0 || rename(tmp, path) < 0) {
		log_error("jmap: cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		upload_error(out, 500, "serverFail", "cannot keep the upload");
		return;
	}
	jmap_account_id(a, acc, sizeof acc);
	snprintf(blob, sizeof blob, "U%016llx", (unsigned long long)id);
	j = json_pack("{s:s, s:s, s:s, s:I}", "accountId", acc, "blobId", blob, "type", type,
		      "size", (json_int_t)size);
	out->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!out->body)
		fatal("out of memory");
	out->len = strlen(out->body);
	out->status = 201; /* RFC 8620 6.1 */
	out->type = "application/json";
}

struct spool *jmap_upload_load(const struct server *srv, uint32_t user, const char *blob_id,
			       uint64_t max)
{
	char dir[PATH_MAX], name[64], path[PATH_MAX], *buf;
	struct spool *sp;
	struct stat sb;
	int fd;
	ssize_t n;

	if (!blob_id || blob_id[0] != 'U' || strlen(blob_id) != 17 ||
	    strspn(blob_id + 1, "0123456789abcdef") != 16)
		return NULL;
	upload_dir(srv, dir, sizeof dir);
	snprintf(name, sizeof name, "%x-%s", user, blob_id + 1);
	path_join(path, sizeof path, dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max ||
	    time(NULL) - sb.st_mtime > UPLOAD_LIFE) {
		close(fd);
		return NULL;
	}
	sp = spool_new(SPOOL_MEM_DEFAULT);
	buf = xmalloc(UPLOAD_PIECE);
	while ((n = read(fd, buf, UPLOAD_PIECE)) > 0)
		spool_write(sp, buf, (size_t)n);
	free(buf);
	close(fd);
	if (n < 0 || spool_error(sp))
		spool_free(&sp);
	return sp;
}
