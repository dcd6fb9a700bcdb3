/*
 * fuzz_backup.c — reading a backup (backup.c): the input as a whole
 * archive for backup_read (ustar headers, the manifest, members checked
 * against it, nothing written), and as manifest text for manifest_parse.
 *
 * Properties: no crash, no overrun, no unbounded allocation (ASan); an
 * archive accepted has every manifest file seen exactly once; a parsed
 * manifest's names all pass backup_path_ok, and its text form parses
 * back to the same files.
 */
/* deps: backup backup_crypt mailbox_verify util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t rd(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct manifest m, m2;
	struct src s = {data, size, 0};
	char err[256], *text;
	if (backup_read(rd, &s, -1, &m, err, sizeof err) == 0) {
		for (size_t i = 0; i < m.n; i++)
			if (!m.files[i].seen)
				abort();
	}
	if (manifest_parse((const char *)data, size, &m, err, sizeof err) == 0) {
		for (size_t i = 0; i < m.n; i++)
			if (!backup_path_ok(m.files[i].path))
				abort();
		text = manifest_format(&m);
		if (manifest_parse(text, strlen(text), &m2, err, sizeof err) != 0 || m2.n != m.n)
			abort();
		for (size_t i = 0; i < m.n; i++)
			if (strcmp(m.files[i].path, m2.files[i].path) ||
			    m.files[i].size != m2.files[i].size ||
			    memcmp(m.files[i].sha, m2.files[i].sha, 32))
				abort();
		free(text);
	}
	return 0;
}
