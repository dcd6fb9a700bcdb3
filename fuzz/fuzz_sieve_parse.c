/*
 * fuzz_sieve_parse.c — the Sieve lexer and parser (sieve_parse.c, with the
 * regex check of sieve_match.c): the input is a script.
 *
 * Properties: no crash, no overrun, no leak (ASan); sieve_compile either
 * succeeds or fails with an error that starts "line N: ".
 */
/* deps: sieve_parse sieve_match util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	struct sieve_script *s;
	char err[256];
	if (sieve_compile((const char *)data, size, &s, err, sizeof err) == 0)
		sieve_free(s);
	else if (strncmp(err, "line ", 5) != 0)
		abort();
	return 0;
}
