/*
 * fuzz_seqset.c — sequence-set parsing and resolving (imap_parse.c): the
 * input is the set text; the first byte also picks the '*' value.
 */
/* deps: imap_parse message spool util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct seqset set;
	memcpy(s, data, size);
	s[size] = 0;
	if (seqset_parse(s, &set) == 0) {
		uint32_t star = size ? (uint32_t)data[0] * 1000003u : 0;
		seqset_resolve(&set, star);
		for (size_t i = 1; i < set.n; i++)
			if (set.r[i][0] <= set.r[i - 1][1])
				abort(); /* resolved ranges must be sorted and disjoint */
		(void)seqset_contains(&set, star);
		seqset_free(&set);
	}
	char out[1024];
	if (mutf7_decode(s, out, sizeof out) == 0) {
		struct sbuf b = {0};
		mutf7_encode(out, &b);
		char back[1024];
		if (mutf7_decode(b.p ? b.p : "", back, sizeof back) != 0 || strcmp(back, out) != 0)
			abort(); /* encode(decode(x)) must decode to the same name */
		sbuf_free(&b);
	}
	free(s);
	return 0;
}
