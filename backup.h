/*
 * backup.h — `brev backup`, `brev restore`, `brev verify --backup`: one
 * ustar stream (written and read by brev itself) whose first member is a
 * manifest naming every other member with its size and SHA-256
 * (docs/backup.md).
 *
 * Contract: every function returns 0 on success and -1 with a one-line
 * reason in err; none keeps more than a few blocks of a member in memory.
 * Every byte of a backup being read is treated as hostile: names, sizes,
 * the manifest's lines are bounded and checked before use.
 */
#ifndef BREV_BACKUP_H
#define BREV_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BACKUP_MANIFEST	    "brev-backup.manifest" /* the first member */
#define BACKUP_NAME_MAX	    99			   /* ustar name field, NUL kept */
#define BACKUP_FILES_MAX    4096		   /* members a manifest may name */
#define BACKUP_MANIFEST_MAX (1 << 20)		   /* bytes of the manifest */
#define BACKUP_SIZE_MAX	    (1ULL << 62) /* bytes of one member: size + padding never wraps */

/* ---- ustar ---- */

/* Fill a 512-byte header for a regular file. Sizes of 8 GiB and more use
 * the base-256 size field GNU tar and libarchive read. -1 if the name does
 * not fit. */
int tar_header(unsigned char h[512], const char *name, uint64_t size, unsigned mode, int64_t mtime);

struct tar_ent {
	char name[BACKUP_NAME_MAX + 1];
	uint64_t size;
	unsigned mode;
};
/* Parse a header: 0 and *e filled for a regular file; 1 for an all-zero
 * block (end of archive); -1 with err for anything else (bad checksum,
 * not ustar, not a regular file, a name with a prefix). */
int tar_parse(const unsigned char h[512], struct tar_ent *e, char *err, size_t errlen);

/* ---- the manifest ---- */

struct backup_file {
	char path[BACKUP_NAME_MAX + 1];
	uint64_t size;
	unsigned mode;
	unsigned char sha[32];
	int seen; /* restore: its member was read and matched */
};

struct manifest {
	char version[32]; /* the brev that wrote it */
	uint64_t schema;  /* the store's schema version */
	int64_t created;  /* unix seconds */
	size_t n;
	struct backup_file files[BACKUP_FILES_MAX];
};

/* A member name brev writes and accepts: relative, components of
 * [A-Za-z0-9._+@-], none empty, "." or "..", at most BACKUP_NAME_MAX bytes. */
int backup_path_ok(const char *p);
/* Text form of m (NUL-terminated, malloc'd) into *out. */
char *manifest_format(const struct manifest *m);
/* Parse len bytes; -1 with err on anything unexpected. */
int manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen);

/* ---- reading a backup ---- */

/* Where the bytes come from: fills buf with up to n bytes, 0 at the end,
 * -1 on error (errno). */
typedef ssize_t (*backup_rd)(void *ctx, void *buf, size_t n);
/* Read a whole backup: the manifest, then every member, each checked
 * against the manifest (name, size, SHA-256) and written under dirfd
 * (directories created) when dirfd >= 0; then the end-of-archive blocks.
 * -1 with what is wrong in err (truncated, checksum mismatch, member
 * missing or not in the manifest, ...). m receives the manifest. */
int backup_read(backup_rd rd, void *ctx, int dirfd, struct manifest *m, char *err, size_t errlen);

/* ---- the commands (main.c parses the command line) ---- */

/* `brev backup DEST` ("-": stdout) of an initialised DATADIR; prints its
 * summary line on stderr. */
/* pass: seal it with this passphrase (backup_crypt.h), or NULL. */
int backup_run(const char *datadir, const char *dest, const char *version, const char *pass,
	       char *err, size_t errlen);
/* `brev restore FILE DATADIR` ("-": stdin): only into a missing or empty
 * DATADIR; nothing is left behind on failure. */
/* An encrypted backup's passphrase comes from pass_file, else the
 * terminal; a plain backup needs none. */
int restore_run(const char *file, const char *datadir, const char *pass_file, char *err,
		size_t errlen);
/* `brev verify --backup FILE`: every checksum; nothing written. */
int backup_check(const char *file, const char *pass_file, char *err, size_t errlen);
/* main.c's entry for `backup`, `restore` and `verify` (argv[0] is the
 * command): the exit status; errors end in fatal(), one line on stderr. */
int backup_cli(const char *cmd, int argc, char **argv, const char *datadir, const char *version);

#endif
