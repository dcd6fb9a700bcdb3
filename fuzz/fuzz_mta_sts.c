/*
 * fuzz_mta_sts.c — the MTA-STS policy and TXT record parsers (mta_sts.c):
 * the input as a policy body (as httpc.c hands it over: bytes, not a
 * string) and as a TXT record.
 *
 * Properties: no crash, no overrun (ASan); an accepted policy has a known
 * mode, max_age within 0..STS_MAX_AGE, at most STS_MX_MAX mx names, each
 * NUL-terminated, lower case, and an mx for every mode but none; every
 * listed name matches itself; an accepted TXT id is 1..32 letters and
 * digits.
 */
/* deps: mta_sts httpc conn tls dns util log config spool */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy p;
	char id[STS_ID_MAX + 1];
	char *copy = malloc(size ? size : 1);
	if (size)
		memcpy(copy, data, size); /* exact length: an overrun shows */
	memset(&p, 0, sizeof p);
	if (sts_policy_parse(copy, size, &p) == 0) {
		if (p.mode < STS_NONE || p.mode > STS_ENFORCE || p.max_age < 0 ||
		    p.max_age > STS_MAX_AGE || p.nmx > STS_MX_MAX ||
		    (p.mode != STS_NONE && p.nmx == 0))
			abort();
		for (size_t i = 0; i < p.nmx; i++) {
			size_t n = strnlen(p.mx[i], sizeof p.mx[i]);
			if (n == 0 || n > DNS_NAME_MAX)
				abort();
			for (size_t k = 0; k < n; k++)
				if (isupper((unsigned char)p.mx[i][k]))
					abort();
			if (p.mx[i][0] != '*' && !sts_mx_match(&p, p.mx[i]))
				abort();
		}
	}
	if (sts_txt_parse(copy, size, id) == 1) {
		size_t n = strnlen(id, sizeof id);
		if (n == 0 || n > STS_ID_MAX)
			abort();
		for (size_t k = 0; k < n; k++)
			if (!isalnum((unsigned char)id[k]))
				abort();
	}
	free(copy);
	return 0;
}
