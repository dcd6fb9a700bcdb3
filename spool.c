/*
 * spool.c — message bytes in transit: memory first, then a temp file.
 * Used by conn_read_dot() for SMTP DATA and by APPEND; mailbox.c copies from
 * it into LMDB in bounded pieces.
 */
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spool {
	unsigned char *mem;
	size_t mem_len, mem_cap, mem_max;
	int fd;           /* -1 until spilled */
	uint64_t size;
	int err;
};

static char spool_dir[PATH_MAX] = "/tmp";

void spool_set_dir(const char *dir)
{
	str_copy(spool_dir, dir, sizeof spool_dir);
}

struct spool *spool_new(size_t mem_max)
{
	struct spool *sp = xcalloc(1, sizeof *sp);
	sp->mem_max = mem_max ? mem_max : SPOOL_MEM_DEFAULT;
	sp->fd = -1;
	return sp;
}

void spool_free(struct spool **spp)
{
	struct spool *sp = *spp;
	if (!sp)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->mem);
	free(sp);
	*spp = NULL;
}

void spool_reset(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->mem_len = 0;
	sp->size = 0;
	sp->err = 0;
}

static int spool_open_file(void)
{
	char path[PATH_MAX];
	int fd = open(spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (snprintf(path, sizeof path, "%s/spool.XXXXXX", spool_dir) >= (int)sizeof path)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
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

int spool_write(struct spool *sp, const void *buf, size_t n)
{
	if (sp->err)
		return -1;
	if (n == 0)
		return 0;
	if (sp->fd < 0 && sp->mem_len + n <= sp->mem_max) {
		if (sp->mem_len + n > sp->mem_cap) {
			size_t cap = sp->mem_cap ? sp->mem_cap : 4096;
			while (cap < sp->mem_len + n)
				cap *= 2;
			if (cap > sp->mem_max)
				cap = sp->mem_max;
			sp->mem = xrealloc(sp->mem, cap);
			sp->mem_cap = cap;
		}
		memcpy(sp->mem + sp->mem_len, buf, n);
		sp->mem_len += n;
		sp->size += n;
		return 0;
	}
	if (sp->fd < 0) {
		sp->fd = spool_open_file();
		if (sp->fd < 0 || write_all(sp->fd, sp->mem, sp->mem_len) < 0) {
			sp->err = errno ? errno : EIO;
			return -1;
		}
	}
	if (write_all(sp->fd, buf, n) < 0) {
		sp->err = errno ? errno : EIO;
		return -1;
	}
	sp->size += n;
	return 0;
}

uint64_t spool_size(const struct spool *sp)
{
	return sp->size;
}

long spool_read_at(struct spool *sp, uint64_t off, void *buf, size_t n)
{
	if (off >= sp->size)
		return 0;
	if (n > sp->size - off)
		n = (size_t)(sp->size - off);
	if (n > LONG_MAX)
		n = LONG_MAX;
	if (sp->fd < 0) {
		memcpy(buf, sp->mem + off, n);
		return (long)n;
	}
	for (;;) {
		ssize_t r = pread(sp->fd, buf, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : (long)r;
	}
}

const void *spool_mem(const struct spool *sp)
{
	return sp->fd < 0 ? sp->mem : NULL;
}

int spool_error(const struct spool *sp)
{
	return sp->err;
}
