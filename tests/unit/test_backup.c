/*
 * test_backup.c — the backup archive's pieces (backup.c): ustar headers
 * written and parsed (octal and base-256 sizes, checksum, name bounds,
 * refused member types), member names, the manifest's text form and its
 * parser's refusals, and backup_read over archives built here: whole,
 * cut at every point, one byte altered anywhere, a member missing,
 * added, or named twice. The commands end to end are t-74-backup.
 */
/* deps: backup backup_crypt mailbox_verify util log */
#include <stdlib.h>
#include <string.h>

#include <bearssl_hash.h>

#include "../../backup.h"
#include "harness.h"

TEST(tar_round_trip)
{
	static const uint64_t sizes[] = {
	    0, 1, 511, 512, 65536, (1ULL << 33) - 1, 1ULL << 33, 50000000000ULL};
	unsigned char h[512];
	struct tar_ent e;
	char err[256];
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		CHECK_EQ_INT(tar_header(h, "store/data.mdb", sizes[i], 0600, 1700000000), 0);
		CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), 0);
		CHECK_EQ_STR(e.name, "store/data.mdb");
		CHECK(e.size == sizes[i]);
		CHECK_EQ_INT(e.mode, 0600);
	}
	/* a 99-byte name fits, 100 does not (the NUL stays) */
	char name[101];
	memset(name, 'a', 100);
	name[99] = 0;
	CHECK_EQ_INT(tar_header(h, name, 1, 0600, 0), 0);
	CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(e.name), 99);
	name[99] = 'a';
	name[100] = 0;
	CHECK_EQ_INT(tar_header(h, name, 1, 0600, 0), -1);
	CHECK_EQ_INT(tar_header(h, "", 1, 0600, 0), -1);
}

TEST(tar_refusals)
{
	unsigned char h[512], z[512] = {0};
	struct tar_ent e;
	char err[256];
	CHECK_EQ_INT(tar_parse(z, &e, err, sizeof err), 1);
	CHECK_EQ_INT(tar_header(h, "brev.conf", 10, 0600, 0), 0);
	h[0] ^= 1; /* checksum no longer matches */
	CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), -1);
	CHECK(strstr(err, "checksum") != NULL);
	/* a directory or symlink member: refused even with a right checksum */
	for (int t = 0; t < 2; t++) {
		unsigned sum = 0;
		char cs[8];
		CHECK_EQ_INT(tar_header(h, "x", 0, 0600, 0), 0);
		h[156] = t ? '2' : '5';
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf(cs, sizeof cs, "%06o", sum);
		memcpy(h + 148, cs, 7);
		CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), -1);
		CHECK(strstr(err, "only regular files") != NULL);
	}
	/* a size whose padding would wrap around 2^64: refused */
	CHECK_EQ_INT(tar_header(h, "x", UINT64_MAX, 0600, 0), 0);
	CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), -1);
	CHECK(strstr(err, "2^62") != NULL);
	CHECK_EQ_INT(tar_header(h, "x", 0, 0600, 0), 0);
	memcpy(h + 257, "garbo", 5);
	CHECK_EQ_INT(tar_parse(h, &e, err, sizeof err), -1);
}

TEST(paths)
{
	CHECK(backup_path_ok("brev.conf"));
	CHECK(backup_path_ok("dkim/example.test.brev202612-ed.key"));
	CHECK(!backup_path_ok(""));
	CHECK(!backup_path_ok("/etc/passwd"));
	CHECK(!backup_path_ok("../x"));
	CHECK(!backup_path_ok("a/../x"));
	CHECK(!backup_path_ok("a/./x"));
	CHECK(!backup_path_ok("a//x"));
	CHECK(!backup_path_ok("a/"));
	CHECK(!backup_path_ok("sp ace"));
	CHECK(!backup_path_ok("new\nline"));
}

static struct manifest *sample(void)
{
	struct manifest *m = calloc(1, sizeof *m);
	strcpy(m->version, "0.1.0");
	m->schema = 3;
	m->created = 1700000000;
	m->n = 2;
	strcpy(m->files[0].path, "store/data.mdb");
	m->files[0].size = 1000;
	m->files[0].mode = 0600;
	memset(m->files[0].sha, 0xab, 32);
	strcpy(m->files[1].path, "ca.pem");
	m->files[1].size = 7;
	m->files[1].mode = 0644;
	return m;
}

TEST(manifest_round_trip)
{
	struct manifest *m = sample(), *p = calloc(1, sizeof *p);
	char err[256], *s = manifest_format(m);
	CHECK_EQ_INT(manifest_parse(s, strlen(s), p, err, sizeof err), 0);
	CHECK_EQ_STR(p->version, "0.1.0");
	CHECK(p->schema == 3 && p->created == 1700000000 && p->n == 2);
	CHECK_EQ_STR(p->files[1].path, "ca.pem");
	CHECK(p->files[0].size == 1000 && p->files[1].mode == 0644);
	CHECK(memcmp(p->files[0].sha, m->files[0].sha, 32) == 0);
	/* cut anywhere before its last byte: refused */
	for (size_t n = 0; n < strlen(s); n++)
		CHECK_EQ_INT(manifest_parse(s, n, p, err, sizeof err), -1);
	free(s);
	free(m);
	free(p);
}

TEST(manifest_refusals)
{
#define H "brev-backup 1\nbrev 0.1.0\nschema 3\ncreated 1700000000\n"
	static const char *const bad[] = {
	    "brev-backup 2\nbrev 0.1.0\nschema 3\ncreated 1\nend\n",
	    "tar\nend\n",
	    "brev-backup 1\nend\n",		      /* no brev/schema/created */
	    "brev-backup 1\nbrev 1\nschema 3\nend\n", /* no created */
	    H "brev 0.2.0\nend\n",		      /* twice */
	    H "created 4611686018427387904\nend\n",
	    H "end\nfile 600 1 " /* after end */
	      "0000000000000000000000000000000000000000000000000000000000000000 x\n",
	    H "file 600 1 00 x\nend\n",
	    H "file 600 1 "
	      "000000000000000000000000000000000000000000000000000000000000000g x\nend\n",
	    H "file 600 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 ../x\nend\n",
	    H "file 999 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\nend\n",
	    H "file 600 -1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\nend\n",
	    H "file 600 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\nfile 600 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\nend\n",
	    H "file 600 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 "
	      "brev-backup.manifest\nend\n",
	    H "what 1\nend\n",
	    H "file 600 18446744073709551615 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\nend\n",
	    H "file 600 1 "
	      "0000000000000000000000000000000000000000000000000000000000000000 x\n", /* no end */
	    H "end\0\n",
	};
	struct manifest *p = calloc(1, sizeof *p);
	char err[256];
	/* the header alone is a valid, empty manifest */
	CHECK_EQ_INT(manifest_parse(H "end\n", strlen(H "end\n"), p, err, sizeof err), 0);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t len = strlen(bad[i]) + (i == sizeof bad / sizeof *bad - 1 ? 2 : 0);
		CHECK_EQ_INT(manifest_parse(bad[i], len, p, err, sizeof err), -1);
	}
	/* a line longer than the parser's bound */
	char *big = malloc(2000);
	strcpy(big, H "what ");
	memset(big + strlen(big), 'v', 1000);
	strcpy(big + strlen(H "what ") + 1000, "\nend\n");
	CHECK_EQ_INT(manifest_parse(big, strlen(big), p, err, sizeof err), -1);
	free(big);
	free(p);
}

/* ---- whole archives in memory ---- */

struct buf {
	unsigned char *p;
	size_t len, cap, pos;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void member(struct buf *b, const char *name, const void *data, size_t n)
{
	unsigned char h[512], z[512] = {0};
	tar_header(h, name, n, 0600, 0);
	put(b, h, 512);
	put(b, data, n);
	put(b, z, (512 - n % 512) % 512);
}

static ssize_t mem_rd(void *ctx, void *p, size_t n)
{
	struct buf *b = ctx;
	if (n > b->len - b->pos)
		n = b->len - b->pos;
	memcpy(p, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

/* Two files' archive; skip: leave member i out; dup: write member i twice. */
static struct buf archive(int skip, int dup, int extra)
{
	static const char *const names[2] = {"brev.conf", "dkim/d.key"};
	const char *data[2] = {"hostname = x\n", NULL};
	static char big[1500];
	struct manifest *m = calloc(1, sizeof *m);
	struct buf b = {0};
	unsigned char z[1024] = {0};
	char *text;
	memset(big, 'k', sizeof big);
	data[1] = big;
	strcpy(m->version, "t");
	for (int i = 0; i < 2; i++) {
		size_t n = i ? sizeof big : strlen(data[0]);
		br_sha256_context sc;
		strcpy(m->files[i].path, names[i]);
		m->files[i].size = n;
		m->files[i].mode = 0600;
		br_sha256_init(&sc);
		br_sha256_update(&sc, data[i], n);
		br_sha256_out(&sc, m->files[i].sha);
	}
	m->n = 2;
	text = manifest_format(m);
	member(&b, BACKUP_MANIFEST, text, strlen(text));
	for (int i = 0; i < 2; i++) {
		if (i == skip)
			continue;
		member(&b, names[i], data[i], i ? sizeof big : strlen(data[0]));
		if (i == dup)
			member(&b, names[i], data[i], i ? sizeof big : strlen(data[0]));
	}
	if (extra)
		member(&b, "extra", "x", 1);
	put(&b, z, 1024);
	free(text);
	free(m);
	return b;
}

TEST(read_archives)
{
	struct manifest *m = calloc(1, sizeof *m);
	char err[256];
	struct buf b = archive(-1, -1, 0);
	CHECK_EQ_INT(backup_read(mem_rd, &b, -1, m, err, sizeof err), 0);
	CHECK(m->n == 2 && m->files[0].seen && m->files[1].seen);
	/* cut anywhere: refused */
	size_t full = b.len;
	for (size_t n = 0; n < full; n += 97) {
		b.len = n;
		b.pos = 0;
		CHECK_EQ_INT(backup_read(mem_rd, &b, -1, m, err, sizeof err), -1);
	}
	/* one flipped bit anywhere but the padding and the unused header
	 * fields GNU tar ignores too: refused */
	b.len = full;
	int refused = 0, tried = 0;
	for (size_t i = 0; i < full - 1024; i += 13) {
		b.p[i] ^= 0x10;
		b.pos = 0;
		tried++;
		refused += backup_read(mem_rd, &b, -1, m, err, sizeof err) == -1;
		b.p[i] ^= 0x10;
	}
	/* every byte of every member's data and of every header's checked
	 * fields is covered; only padding zeros may flip unseen */
	CHECK(refused > tried / 2);
	/* the data of the second file: always refused as altered */
	size_t at = b.len - 1024 - 512 - 100;
	b.p[at] ^= 1;
	b.pos = 0;
	CHECK_EQ_INT(backup_read(mem_rd, &b, -1, m, err, sizeof err), -1);
	CHECK(strstr(err, "SHA-256 does not match") != NULL);
	free(b.p);

	static const int cases[][3] = {{0, -1, 0}, {1, -1, 0}, {-1, 0, 0}, {-1, -1, 1}};
	static const char *const why[] = {"not in the archive", "not in the archive", "twice",
					  "not in the manifest"};
	for (size_t i = 0; i < 4; i++) {
		b = archive(cases[i][0], cases[i][1], cases[i][2]);
		CHECK_EQ_INT(backup_read(mem_rd, &b, -1, m, err, sizeof err), -1);
		CHECK(strstr(err, why[i]) != NULL);
		free(b.p);
	}
	free(m);
}

TEST_MAIN()
