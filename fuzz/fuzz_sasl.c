/*
 * fuzz_sasl.c — every SASL mechanism (sasl.c) driven with fuzzed responses
 * against a fixed lookup.
 *
 * Input: byte 0 picks the mechanism, byte 1 holds flags, the rest is split
 * at '\n' into up to 8 client responses.
 *   flags bit 0: no initial response (the first step gets NULL)
 *   flags bit 1: pass the responses as text, unencoded (exercises base64
 *                rejection, "=" and "*"); otherwise they are base64'd here,
 *                so the fuzzer works on the mechanisms' own grammar
 *   flags bits 2-4: the caller's output capacity (tiny ones included)
 * Any user name maps to user "user", password "pencil"; its yescrypt cost is
 * lowered so PLAIN/LOGIN run fast. The CRAM-MD5 challenge is "<1.2@h>" and
 * the SCRAM server nonce "SRVNONCE" (salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096),
 * so seeds in fuzz/corpus/sasl/ can reach SASL_DONE.
 *
 * Checked: out is NUL-terminated within the capacity and SASL_OUT_MAX;
 * sasl_user() is set exactly after SASL_DONE; nothing continues after a
 * final answer.
 */
/* deps: sasl util log */
#include <crypt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cred fixed;

static void init(void)
{
	static int done;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	uint8_t salt[16];
	if (done)
		return;
	done = 1;
	log_set_level(L_ERROR);
	if (cred_make(&fixed, "pencil") < 0)
		abort();
	if (b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt) != 16 ||
	    sasl_test_cred_scram(&fixed, "pencil", salt, 4096) < 0)
		abort();
	memset(&cd, 0, sizeof cd);
	if (!crypt_gensalt_rn("$y$", 1, NULL, 0, setting, sizeof setting))
		abort();
	const char *h = crypt_r("pencil", setting, &cd);
	if (!h || strlen(h) >= sizeof fixed.crypt)
		abort();
	strcpy(fixed.crypt, h);
}

static int lookup(void *arg, const char *user, struct cred *out)
{
	(void)arg;
	if (!user[0])
		abort(); /* sasl.c must never look up an empty name */
	*out = fixed;
	return 0;
}

static const size_t caps[8] = {SASL_OUT_MAX + 1, 1, 2, 5, 13, 64, 200, 4096};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > SASL_IN_MAX)
		return 0;
	init();
	int mech = data[0] % SASL_NMECH, flags = data[1];
	size_t outcap = caps[(flags >> 2) & 7];
	char *out = malloc(outcap);
	struct sasl_session *s = sasl_new(mech, "h", lookup, NULL);
	if (mech == SASL_CRAM_MD5 && sasl_test_set_nonce(s, "<1.2@h>") < 0)
		abort();
	if (mech == SASL_SCRAM_SHA_256 && sasl_test_set_nonce(s, "SRVNONCE") < 0)
		abort();

	const uint8_t *p = data + 2, *end = data + size;
	int rc = SASL_CONTINUE, first = 1;
	for (int k = 0; k < 8 && rc == SASL_CONTINUE; k++) {
		char *in = NULL;
		if (first && (flags & 1)) {
			first = 0;
		} else {
			if (p > end)
				break;
			const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl ? nl : end) - p);
			if (flags & 2) {
				in = malloc(n + 1);
				memcpy(in, p, n);
				in[n] = 0;
			} else {
				in = malloc(B64_ENCLEN(n) + 1);
				b64_encode(p, n, in);
				if (n == 1 && p[0] == '*')
					strcpy(in, "*");
			}
			p += n + 1;
			first = 0;
		}
		rc = sasl_step(s, in, out, outcap);
		free(in);
		size_t ol = strnlen(out, outcap);
		if (ol >= outcap || ol > SASL_OUT_MAX)
			abort();
		if ((rc == SASL_DONE) != (sasl_user(s) != NULL))
			abort();
		if (rc != SASL_CONTINUE && rc != SASL_DONE && out[0])
			abort();
		if (rc < SASL_CONTINUE || rc > SASL_CANCEL)
			abort();
	}
	if (rc != SASL_CONTINUE && rc != SASL_DONE && sasl_step(s, "", out, outcap) != SASL_BAD)
		abort(); /* over is over */
	if (rc == SASL_DONE && sasl_step(s, "", out, outcap) != SASL_DONE)
		abort(); /* the empty answer to SCRAM's "v=" */
	sasl_free(&s);
	free(out);
	return 0;
}
