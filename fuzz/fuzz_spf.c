/*
 * fuzz_spf.c — the SPF record parser and macro expander (spf.c), no DNS:
 * the input as a record (with and without "v=spf1 " in front) and as a
 * macro-string with both IPv4 and IPv6 contexts.
 *
 * Properties: no crash, no overrun (ASan), and a successful expansion is
 * NUL-terminated within its buffer.
 */
/* deps: spf dns util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	const char *s = (const char *)data;
	char *rec = malloc(size + 8);
	memcpy(rec, "v=spf1 ", 7);
	memcpy(rec + 7, s, size);
	spf_record_check(rec, size + 7);
	spf_record_check(s, size);
	char out[300];
	const char *ips[] = {"192.0.2.3", "2001:db8::cb01"};
	for (int i = 0; i < 2; i++) {
		memset(out, 'x', sizeof out);
		if (spf_expand(s, size, ips[i], "strong-bad@email.example.com", "email.example.com",
			       "helo.example", i, out, sizeof out) == 0 &&
		    !memchr(out, 0, sizeof out))
			abort();
	}
	free(rec);
	return 0;
}
