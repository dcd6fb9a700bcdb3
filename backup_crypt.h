/*
 * backup_crypt.h — `brev backup --encrypt`: the backup's tar stream sealed
 * with a passphrase (docs/backup.md), with OpenSSL's libcrypto, which the
 * binary already links (no new library).
 *
 * The format: a 36-byte header — "BREVENC1", log2 N, r, p, a zero byte
 * (scrypt's cost, RFC 7914), a 16-byte salt, an 8-byte nonce prefix —
 * then the tar in chunks of BCRYPT_CHUNK bytes, each sealed with
 * AES-256-GCM under the key scrypt derives from the passphrase and salt:
 * nonce = prefix || 32-bit chunk number, additional data one byte, 1 for
 * the last chunk (always shorter than BCRYPT_CHUNK, possibly empty) and 0
 * for the others. So a changed byte anywhere, chunks reordered, dropped or
 * cut off, or a wrong passphrase are each refused: a wrong passphrase or
 * a changed header at the first chunk, the rest where it happens. The
 * reader refuses scrypt costs beyond BCRYPT_LOG2N_MAX (a hostile file
 * cannot make restore take gigabytes).
 */
#ifndef BREV_BACKUP_CRYPT_H
#define BREV_BACKUP_CRYPT_H

#include <stddef.h>
#include <sys/types.h>

#define BCRYPT_MAGIC	  "BREVENC1"
#define BCRYPT_HEADER	  36
#define BCRYPT_CHUNK	  65536
#define BCRYPT_LOG2N	  16 /* 64 MiB and about 0.2 s per derivation on a Pi 4 */
#define BCRYPT_LOG2N_MIN  10
#define BCRYPT_LOG2N_MAX  18 /* 256 MiB: what a Pi can spare */
#define BCRYPT_PASS_MAX	  1024

struct bcrypt;

/* A writer to fd: the header goes out at once. NULL with err. */
struct bcrypt *bcrypt_writer(int fd, const char *pass, int log2n, char *err, size_t errlen);
/* 0, or -1 with errno (a write failed). */
int bcrypt_write(struct bcrypt *b, const void *p, size_t n);
/* Seal and write the last chunk. 0 or -1 with errno. */
int bcrypt_finish(struct bcrypt *b);

/* A reader of fd: reads the first bytes; *encrypted says whether they are
 * this format. Not encrypted: the reader gives the stream as it is (those
 * bytes first). Encrypted: the passphrase from pass_file, else asked on
 * the terminal (bcrypt_passphrase). NULL with err on a short or bad
 * header or no passphrase. */
struct bcrypt *bcrypt_reader(int fd, const char *pass_file, int *encrypted, char *err,
			     size_t errlen);
/* Up to n bytes of the plain stream; 0 at its (authenticated) end; -1
 * with the reason in bcrypt_error(). */
ssize_t bcrypt_read(struct bcrypt *b, void *p, size_t n);
const char *bcrypt_error(const struct bcrypt *b);

void bcrypt_free(struct bcrypt **b);

/* The passphrase: the first line of file (a mode-0600 file, for scripts),
 * or asked on /dev/tty (twice when confirm). 0 or -1 with err. */
int bcrypt_passphrase(const char *file, int confirm, char *out, size_t cap, char *err,
		      size_t errlen);

#endif
