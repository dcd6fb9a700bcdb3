/*
 * fuzz_seqset.c — sequence-set parsing and resolving (imap_parse.c): the
 * input is the set text; the first byte also picks the '*' value. The set
 * is then applied to a session view (imap_view.c) whose UID runs come from
 * the input bytes too, and checked against a brute-force walk.
 */
/* deps: imap_parse imap_view message message_text spool util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

/* A view of up to 64 runs made from the input; every selection by
 * number and by UID must equal the brute-force answer. */
static void check_view(const uint8_t *data, size_t size, const char *text)
{
	struct uid_run runs[64];
	size_t n = 0;
	uint32_t uid = 1;
	struct imap_view v = {0};
	for (size_t i = 0; i + 1 < size && n < 64; i += 2) {
		uid += data[i] % 7;             /* a hole before the run, maybe none */
		runs[n].first = uid;
		runs[n].count = 1 + data[i + 1] % 9;
		uid += runs[n].count;
		n++;
	}
	view_set(&v, runs, n);
	for (int by_uid = 0; by_uid < 2; by_uid++) {
		struct seqset set;
		struct imap_ref *r;
		if (seqset_parse(text, &set) != 0)
			break;
		seqset_resolve(&set, by_uid ? view_max(&v) : v.count);
		size_t got = view_select(&v, &set, by_uid, &r), k = 0;
		for (uint32_t q = 1; q <= v.count; q++) {
			uint32_t u = view_uid(&v, q);
			if (view_seq(&v, u) != q)
				abort(); /* the two lookups disagree */
			if (!seqset_contains(&set, by_uid ? u : q))
				continue;
			if (k >= got || r[k].seq != q || r[k].uid != u)
				abort(); /* view_select missed or invented a message */
			k++;
		}
		if (k != got)
			abort();
		free(r);
		seqset_free(&set);
	}
	view_free(&v);
}

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
		check_view(data, size, s);
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
