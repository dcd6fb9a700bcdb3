/*
 * fuzz_base64.c — the strict base64 decoder and the encoder (sasl.c).
 *
 * Properties checked on every input:
 *  - decoding never writes past cap (buffers are sized exactly, so ASan
 *    sees any overrun) and a smaller cap gives -1 or the same bytes;
 *  - strictness makes the encoding canonical: whatever decodes re-encodes
 *    to exactly the input text;
 *  - encoding the raw input and decoding it gives the input back.
 */
/* deps: sasl util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	size_t cap_sel = size ? data[0] : 0;
	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);

	/* decode with a cap that is always enough */
	size_t full_cap = size / 4 * 3;
	unsigned char *dec = malloc(full_cap ? full_cap : 1);
	long n = b64_decode(text, size, dec, full_cap);
	if (n >= 0) {
		if ((size_t)n > full_cap)
			abort();
		char *enc = malloc(B64_ENCLEN((size_t)n) + 1);
		if (b64_encode(dec, (size_t)n, enc) != size || memcmp(enc, text, size) != 0)
			abort(); /* not canonical */
		free(enc);
	}

	/* the same with a smaller cap */
	size_t cap = full_cap ? cap_sel % (full_cap + 1) : 0;
	unsigned char *small = malloc(cap ? cap : 1);
	long m = b64_decode(text, size, small, cap);
	if (n < 0 ? m != -1 : ((size_t)n <= cap ? (m != n || memcmp(small, dec, (size_t)n) != 0) : m != -1))
		abort();
	free(small);
	free(dec);

	/* raw bytes -> base64 -> the same bytes */
	char *enc = malloc(B64_ENCLEN(size) + 1);
	size_t e = b64_encode(data, size, enc);
	if (e != B64_ENCLEN(size) || enc[e] != 0)
		abort();
	unsigned char *back = malloc(size ? size : 1);
	if (b64_decode(enc, e, back, size) != (long)size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(enc);
	free(text);
	return 0;
}
