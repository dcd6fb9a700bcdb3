/*
 * fuzz_srs.c — the SRS address forms (srs.c), no files: the input as an
 * address to reverse, and as a sender to rewrite (its first byte picks the
 * day; the rest, NUL-terminated, is the address).
 *
 * Properties: no crash, no overrun (ASan); a reversal never yields an
 * address over STORE_ADDR_MAX; every rewrite reverses (with the same key,
 * on the same day) to the sender it was made from, lower case aside —
 * SRS0 directly, SRS1 to the SRS0 address of the first forwarder. (That
 * another key refuses it is test_srs's: with 30 bits of hash a fuzzer's
 * millions of inputs would find a chance collision now and then.)
 */
/* deps: srs util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"
#include "srs.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srs_keys key(const char *s)
{
	struct srs_keys k = {0};
	k.key[0] = s;
	k.len[0] = strlen(s);
	k.n = 1;
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 600)
		return 0;
	struct srs_keys k = key("fuzz-key");
	unsigned day = 20000 + data[0];
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	if (srs_reverse_k(&k, s, day, out, sizeof out) == SRS_OK && strlen(out) > STORE_ADDR_MAX)
		abort();
	if (srs_forward_k(&k, s, "fwd.test", day, out, sizeof out) == SRS_OK) {
		if (strlen(out) > STORE_ADDR_MAX)
			abort();
		if (srs_reverse_k(&k, out, day, back, sizeof back) != SRS_OK)
			abort();
		if (strncmp(out, "SRS0", 4) == 0 && str_casecmp_ascii(back, s) != 0)
			abort();
		/* SRS1: back is the first forwarder's SRS0 address; the
		 * original local part after its "SRS0"/"SRS1" prefix and the
		 * separator survives at the end of it */
		if (strncmp(out, "SRS1", 4) == 0 && strncmp(back, "SRS0", 4) != 0)
			abort();
	}
	free(s);
	return 0;
}
