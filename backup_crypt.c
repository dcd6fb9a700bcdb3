/*
 * backup_crypt.c — the sealed backup stream (backup_crypt.h).
 *
 * Why these pieces: scrypt (RFC 7914) makes guessing the passphrase of a
 * stolen backup cost memory as well as time; AES-256-GCM per chunk with a
 * counter nonce and a last-chunk mark is the "STREAM" construction
 * (Hoang, Reyhanitabar, Rogaway, Vizár 2015), so a reader checks each
 * chunk before giving out its bytes and notices a stream cut at a chunk
 * boundary. Both come from libcrypto, already in the binary for DKIM and
 * the import's digests.
 */
#include "backup_crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

#define TAG 16

struct bcrypt {
	int fd, writing, encrypted;
	unsigned char key[32], prefix[8];
	uint32_t counter;
	EVP_CIPHER_CTX *ctx;
	unsigned char *buf; /* a chunk: plain (writer), or sealed then plain (reader) */
	size_t have, off;   /* writer: bytes in buf; reader: plain bytes in buf, next out */
	int done;	    /* reader: the last chunk was read */
	char err[160];
	unsigned char peek[BCRYPT_HEADER]; /* reader of a plain stream: its first bytes */
	size_t npeek, peek_off;
};

static int write_full(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read up to n bytes, short only at end of file. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (unsigned char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int derive(struct bcrypt *b, const char *pass, const unsigned char *salt, int log2n, int r,
		  int p)
{
	uint64_t n = (uint64_t)1 << log2n;
	uint64_t maxmem = 128 * (uint64_t)r * n + (16u << 20);
	return EVP_PBE_scrypt(pass, strlen(pass), salt, 16, n, (uint64_t)r, (uint64_t)p, maxmem,
			      b->key, sizeof b->key) == 1
		       ? 0
		       : -1;
}

static void nonce(const struct bcrypt *b, unsigned char iv[12])
{
	memcpy(iv, b->prefix, 8);
	iv[8] = (unsigned char)(b->counter >> 24);
	iv[9] = (unsigned char)(b->counter >> 16);
	iv[10] = (unsigned char)(b->counter >> 8);
	iv[11] = (unsigned char)b->counter;
}

/* ---- writing ---- */

struct bcrypt *bcrypt_writer(int fd, const char *pass, int log2n, char *err, size_t errlen)
{
	struct bcrypt *b = xcalloc(1, sizeof *b);
	unsigned char h[BCRYPT_HEADER] = BCRYPT_MAGIC;
	b->fd = fd;
	b->writing = 1;
	b->encrypted = 1;
	h[8] = (unsigned char)log2n;
	h[9] = 8; /* r */
	h[10] = 1; /* p */
	random_bytes(h + 12, 16);
	random_bytes(b->prefix, 8);
	memcpy(h + 28, b->prefix, 8);
	if (derive(b, pass, h + 12, log2n, 8, 1) < 0) {
		snprintf(err, errlen, "scrypt failed (out of memory?)");
		bcrypt_free(&b);
		return NULL;
	}
	b->ctx = EVP_CIPHER_CTX_new();
	b->buf = xmalloc(BCRYPT_CHUNK + TAG);
	if (write_full(fd, h, sizeof h) < 0) {
		snprintf(err, errlen, "writing: %s", strerror(errno));
		bcrypt_free(&b);
		return NULL;
	}
	return b;
}

/* Seal buf[0..have) as chunk number counter, last or not, and write it. */
static int seal(struct bcrypt *b, int last)
{
	unsigned char iv[12], out[BCRYPT_CHUNK + TAG], ad = (unsigned char)last;
	int l1 = 0, l2 = 0;
	if (b->counter == UINT32_MAX) {
		errno = EFBIG;
		return -1;
	}
	nonce(b, iv);
	if (EVP_EncryptInit_ex(b->ctx, EVP_aes_256_gcm(), NULL, b->key, iv) != 1 ||
	    EVP_EncryptUpdate(b->ctx, NULL, &l1, &ad, 1) != 1 ||
	    EVP_EncryptUpdate(b->ctx, out, &l1, b->buf, (int)b->have) != 1 ||
	    EVP_EncryptFinal_ex(b->ctx, out + l1, &l2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(b->ctx, EVP_CTRL_GCM_GET_TAG, TAG, out + l1 + l2) != 1) {
		errno = EIO;
		return -1;
	}
	b->counter++;
	b->have = 0;
	return write_full(b->fd, out, (size_t)(l1 + l2) + TAG);
}

int bcrypt_write(struct bcrypt *b, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n > 0) {
		if (b->have == BCRYPT_CHUNK && seal(b, 0) < 0)
			return -1;
		size_t k = BCRYPT_CHUNK - b->have < n ? BCRYPT_CHUNK - b->have : n;
		memcpy(b->buf + b->have, c, k);
		b->have += k;
		c += k;
		n -= k;
	}
	return 0;
}

int bcrypt_finish(struct bcrypt *b)
{
	/* The last chunk is shorter than a full one: a full buffer goes out
	 * as an ordinary chunk first, then an empty last one. */
	if (b->have == BCRYPT_CHUNK && seal(b, 0) < 0)
		return -1;
	return seal(b, 1);
}

/* ---- reading ---- */

struct bcrypt *bcrypt_reader(int fd, const char *pass_file, int *encrypted, char *err,
			     size_t errlen)
{
	char pass[BCRYPT_PASS_MAX];
	struct bcrypt *b = xcalloc(1, sizeof *b);
	ssize_t n;
	b->fd = fd;
	n = read_full(fd, b->peek, sizeof b->peek);
	if (n < 0) {
		snprintf(err, errlen, "reading: %s", strerror(errno));
		bcrypt_free(&b);
		return NULL;
	}
	b->npeek = (size_t)n;
	*encrypted = n >= 8 && !memcmp(b->peek, BCRYPT_MAGIC, 8);
	if (!*encrypted)
		return b; /* plain: the peeked bytes, then the rest */
	b->encrypted = 1;
	int log2n = b->peek[8], r = b->peek[9], p = b->peek[10];
	if (n < BCRYPT_HEADER || b->peek[11] != 0 || log2n < BCRYPT_LOG2N_MIN ||
	    log2n > BCRYPT_LOG2N_MAX || r < 1 || r > 16 || p < 1 || p > 4) {
		snprintf(err, errlen, "an encrypted backup with a damaged or unknown header");
		bcrypt_free(&b);
		return NULL;
	}
	if (bcrypt_passphrase(pass_file, 0, pass, sizeof pass, err, errlen) < 0) {
		bcrypt_free(&b);
		return NULL;
	}
	int d = derive(b, pass, b->peek + 12, log2n, r, p);
	OPENSSL_cleanse(pass, sizeof pass);
	if (d < 0) {
		snprintf(err, errlen, "scrypt failed (out of memory?)");
		bcrypt_free(&b);
		return NULL;
	}
	memcpy(b->prefix, b->peek + 28, 8);
	b->ctx = EVP_CIPHER_CTX_new();
	b->buf = xmalloc(BCRYPT_CHUNK + TAG + 1);
	return b;
}

/* Read and open the next chunk into buf. 0, or -1 with b->err. */
static int open_chunk(struct bcrypt *b)
{
	unsigned char iv[12], tag[TAG], ad;
	unsigned char *sealed = xmalloc(BCRYPT_CHUNK + TAG);
	int l1 = 0, l2 = 0, rc = -1;
	ssize_t n = read_full(b->fd, sealed, BCRYPT_CHUNK + TAG);
	if (n < 0) {
		snprintf(b->err, sizeof b->err, "reading: %s", strerror(errno));
		goto out;
	}
	if (n < TAG) {
		snprintf(b->err, sizeof b->err, "the encrypted backup is cut short");
		goto out;
	}
	ad = n < BCRYPT_CHUNK + TAG; /* a short chunk must be the last */
	memcpy(tag, sealed + n - TAG, TAG);
	nonce(b, iv);
	if (EVP_DecryptInit_ex(b->ctx, EVP_aes_256_gcm(), NULL, b->key, iv) != 1 ||
	    EVP_DecryptUpdate(b->ctx, NULL, &l1, &ad, 1) != 1 ||
	    EVP_DecryptUpdate(b->ctx, b->buf, &l1, sealed, (int)(n - TAG)) != 1 ||
	    EVP_CIPHER_CTX_ctrl(b->ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) != 1 ||
	    EVP_DecryptFinal_ex(b->ctx, b->buf + l1, &l2) != 1) {
		if (b->counter == 0)
			snprintf(b->err, sizeof b->err,
				 "wrong passphrase, or the encrypted backup is damaged at its start");
		else if (!ad)
			snprintf(b->err, sizeof b->err,
				 "the encrypted backup is damaged or cut short (chunk %lu)",
				 (unsigned long)b->counter);
		else
			snprintf(b->err, sizeof b->err,
				 "the encrypted backup is damaged or cut short at its end (chunk %lu)",
				 (unsigned long)b->counter);
		goto out;
	}
	b->counter++;
	b->have = (size_t)(l1 + l2);
	b->off = 0;
	b->done = ad;
	rc = 0;
out:
	free(sealed);
	return rc;
}

ssize_t bcrypt_read(struct bcrypt *b, void *p, size_t n)
{
	if (!b->encrypted) {
		if (b->peek_off < b->npeek) {
			size_t k = b->npeek - b->peek_off < n ? b->npeek - b->peek_off : n;
			memcpy(p, b->peek + b->peek_off, k);
			b->peek_off += k;
			return (ssize_t)k;
		}
		return read(b->fd, p, n);
	}
	if (b->err[0])
		return -1;
	while (b->off == b->have) {
		if (b->done)
			return 0;
		if (open_chunk(b) < 0)
			return -1;
	}
	size_t k = b->have - b->off < n ? b->have - b->off : n;
	memcpy(p, b->buf + b->off, k);
	b->off += k;
	return (ssize_t)k;
}

const char *bcrypt_error(const struct bcrypt *b)
{
	return b->err[0] ? b->err : NULL;
}

void bcrypt_free(struct bcrypt **bp)
{
	struct bcrypt *b = *bp;
	if (!b)
		return;
	OPENSSL_cleanse(b->key, sizeof b->key);
	if (b->buf) {
		OPENSSL_cleanse(b->buf, BCRYPT_CHUNK);
		free(b->buf);
	}
	EVP_CIPHER_CTX_free(b->ctx);
	free(b);
	*bp = NULL;
}

/* ---- the passphrase ---- */

static int ask(int tty, const char *prompt, char *out, size_t cap)
{
	struct termios old, quiet;
	size_t n = 0;
	char c;
	if (write_full(tty, prompt, strlen(prompt)) < 0)
		return -1;
	int echo_off = tcgetattr(tty, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(tty, TCSAFLUSH, &quiet);
	}
	while (read(tty, &c, 1) == 1 && c != '\n')
		if (n + 1 < cap)
			out[n++] = c;
	out[n] = '\0';
	if (echo_off)
		tcsetattr(tty, TCSAFLUSH, &old);
	(void)!write(tty, "\n", 1);
	return 0;
}

int bcrypt_passphrase(const char *file, int confirm, char *out, size_t cap, char *err,
		      size_t errlen)
{
	if (file) {
		size_t len;
		char *d = file_read(file, BCRYPT_PASS_MAX, &len);
		if (!d) {
			snprintf(err, errlen, "%.200s: %s", file, strerror(errno));
			return -1;
		}
		d[strcspn(d, "\r\n")] = '\0';
		str_copy(out, d, cap);
		OPENSSL_cleanse(d, len);
		free(d);
	} else {
		char again[BCRYPT_PASS_MAX];
		int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
		if (tty < 0) {
			snprintf(err, errlen, "no terminal to ask the passphrase on: give "
					      "--passphrase-file FILE");
			return -1;
		}
		int rc = ask(tty, "Backup passphrase: ", out, cap);
		if (rc == 0 && confirm && (rc = ask(tty, "Again: ", again, sizeof again)) == 0 &&
		    strcmp(out, again)) {
			snprintf(err, errlen, "the passphrases differ");
			rc = -1;
		}
		OPENSSL_cleanse(again, sizeof again);
		close(tty);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, errlen, "reading the passphrase failed");
			return -1;
		}
	}
	if (strlen(out) < 8) {
		snprintf(err, errlen, "a passphrase of at least 8 characters, please");
		return -1;
	}
	return 0;
}
