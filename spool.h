/*
 * spool.h — a byte buffer for one message in transit that stays in memory up
 * to a threshold and then spills to an unlinked temporary file, so a 50 MB
 * DATA costs the server a few hundred KiB of RAM per connection.
 *
 * Not thread-safe; one owner. spool_free() sets the pointer to NULL.
 */
#ifndef BREV_SPOOL_H
#define BREV_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_MEM_DEFAULT (256 * 1024)

struct spool;

/* Temporary files go to dir (O_TMPFILE, falling back to mkstemp+unlink).
 * Set once at start-up; default "/tmp". */
void spool_set_dir(const char *dir);

struct spool *spool_new(size_t mem_max);
void spool_free(struct spool **sp);
/* Forget the contents; keep the allocation. */
void spool_reset(struct spool *sp);
/* Append n bytes. 0 on success, -1 on I/O error (sticky). */
int spool_write(struct spool *sp, const void *buf, size_t n);
uint64_t spool_size(const struct spool *sp);
/* Copy up to n bytes at offset off into buf; returns the count (0 at the
 * end), -1 on I/O error. */
long spool_read_at(struct spool *sp, uint64_t off, void *buf, size_t n);
/* If the whole content is in memory, its address; else NULL. */
const void *spool_mem(const struct spool *sp);
int spool_error(const struct spool *sp);

#endif
