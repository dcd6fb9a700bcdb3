/*
 * fuzz_backup_crypt.c — the sealed backup stream (backup_crypt.c) from a
 * hostile file: the input, as the bytes of an "encrypted backup", is read
 * through bcrypt_reader/bcrypt_read with a fixed passphrase; it must end
 * in an error or the stream's end, never a crash or a read past a chunk.
 * An input starting with 0x00 is instead the plain text of a round trip:
 * sealed with the cheapest scrypt cost the reader takes, then read back,
 * which must give exactly the input (the oracle).
 */
/* deps: backup_crypt util log */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../backup_crypt.h"
#include "../util.h"

static char pass_file[] = "/dev/shm/brev-fuzz-bcrypt.XXXXXX";

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	int fd = mkstemp(pass_file);
	if (fd < 0 || write(fd, "fuzz passphrase\n", 16) != 16)
		abort();
	close(fd);
}

static int memfd_of(const uint8_t *p, size_t n)
{
	int fd = memfd_create("in", 0);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	unsigned char buf[70000];
	int enc;
	setup();
	if (size > 0 && data[0] == 0) { /* round trip */
		int fd = memfd_create("out", 0);
		struct bcrypt *w = bcrypt_writer(fd, "fuzz passphrase", BCRYPT_LOG2N_MIN, err, sizeof err);
		if (!w || bcrypt_write(w, data + 1, size - 1) < 0 || bcrypt_finish(w) < 0)
			abort();
		bcrypt_free(&w);
		lseek(fd, 0, SEEK_SET);
		struct bcrypt *r = bcrypt_reader(fd, pass_file, &enc, err, sizeof err);
		if (!r || !enc)
			abort();
		size_t got = 0;
		ssize_t k;
		while ((k = bcrypt_read(r, buf, sizeof buf)) > 0) {
			if (got + (size_t)k > size - 1 || memcmp(buf, data + 1 + got, (size_t)k))
				abort();
			got += (size_t)k;
		}
		if (k < 0 || got != size - 1)
			abort();
		bcrypt_free(&r);
		close(fd);
		return 0;
	}
	int fd = memfd_of(data, size);
	struct bcrypt *r = bcrypt_reader(fd, pass_file, &enc, err, sizeof err);
	if (r) {
		size_t total = 0;
		ssize_t k;
		while ((k = bcrypt_read(r, buf, sizeof buf)) > 0)
			if ((total += (size_t)k) > size + BCRYPT_HEADER)
				abort(); /* more out than came in */
		bcrypt_free(&r);
	}
	close(fd);
	return 0;
}
