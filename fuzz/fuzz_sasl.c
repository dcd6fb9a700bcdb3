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
 * final answer. And the oracle of issue 24: SASL_DONE only when the
 * client really proved "pencil" (PLAIN and LOGIN sent exactly it, CRAM-MD5
 * and SCRAM's proofs recomputed here with OpenSSL, not sasl.c's BearSSL,
 * from the messages the client sent), with an authzid that is empty or the
 * authcid itself, and sasl_user() the authcid.
 */
/* deps: sasl util log */
#include <crypt.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- the oracle: what SASL_DONE must mean ---- */

#define PW "pencil"

static void hmac(const char *md, const void *key, size_t kl, const void *d, size_t dl,
		 uint8_t *out)
{
	size_t ol;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, kl, d, dl, out, 64, &ol))
		abort();
}

/* RFC 5802 5.1 saslname: "=2C" is ',', "=3D" is '='; -1 on another '='. */
static int saslname(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o + 1 >= cap)
			return -1;
		if (p[i] != '=') {
			out[o++] = p[i];
		} else if (i + 2 < n && !memcmp(p + i, "=2C", 3)) {
			out[o++] = ',', i += 2;
		} else if (i + 2 < n && !memcmp(p + i, "=3D", 3)) {
			out[o++] = '=', i += 2;
		} else {
			return -1;
		}
	}
	out[o] = 0;
	return 0;
}

/* SCRAM-SHA-256 (RFC 5802 3, 7677): is m2 the right client-final for
 * client-first m1, with the server-first the harness fixed? */
static int scram_ok(const char *m1, size_t n1, const char *m2, size_t n2, const char *user)
{
	char authz[300], name[300], sfirst[600], cb[200];
	const char *e1 = m1 + n1;
	if (n1 < 3 || (m1[0] != 'n' && m1[0] != 'y') || m1[1] != ',')
		return 0;
	const char *a = m1 + 2, *c = memchr(a, ',', (size_t)(e1 - a));
	if (!c || (c > a && (c - a < 2 || memcmp(a, "a=", 2) ||
			     saslname(a + 2, (size_t)(c - a - 2), authz, sizeof authz))))
		return 0;
	if (c == a)
		authz[0] = 0;
	const char *bare = c + 1;
	size_t gs2 = (size_t)(bare - m1);
	if (e1 - bare < 2 || memcmp(bare, "n=", 2))
		return 0;
	const char *u = bare + 2, *ue = memchr(u, ',', (size_t)(e1 - u));
	if (!ue || saslname(u, (size_t)(ue - u), name, sizeof name) || e1 - ue < 4 ||
	    memcmp(ue, ",r=", 3))
		return 0;
	const char *cn = ue + 3, *cne = memchr(cn, ',', (size_t)(e1 - cn));
	if (!cne)
		cne = e1;
	/* authzid empty or the user; sasl_user() the user */
	if ((authz[0] && strcmp(authz, name)) || strcmp(user, name))
		return 0;
	char nonce[300];
	int nl = snprintf(nonce, sizeof nonce, "%.*sSRVNONCE", (int)(cne - cn), cn);
	int sl = snprintf(sfirst, sizeof sfirst, "r=%s,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", nonce);
	if (nl < 0 || nl >= (int)sizeof nonce || sl < 0 || sl >= (int)sizeof sfirst)
		return 0;
	/* client-final: c=base64(gs2-header),r=cnonce+snonce[,ext],p=proof */
	int cbl = EVP_EncodeBlock((unsigned char *)cb, (const unsigned char *)m1, (int)gs2);
	size_t at = 2 + (size_t)cbl + 3;
	if (n2 < at + (size_t)nl + 1 || memcmp(m2, "c=", 2) || memcmp(m2 + 2, cb, (size_t)cbl) ||
	    memcmp(m2 + 2 + cbl, ",r=", 3) || memcmp(m2 + at, nonce, (size_t)nl) ||
	    m2[at + nl] != ',')
		return 0;
	/* the proof is the last attribute */
	size_t pp = n2;
	while (pp > at && m2[pp - 1] != ',')
		pp--;
	if (pp == at || n2 - pp < 2 || memcmp(m2 + pp, "p=", 2))
		return 0;
	uint8_t salt[16], salted[32], ckey[32], stored[32], csig[32], proof[32], got[33];
	unsigned int dl;
	if (b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt) != 16 ||
	    !PKCS5_PBKDF2_HMAC(PW, 6, salt, 16, 4096, EVP_sha256(), 32, salted))
		abort();
	hmac("SHA256", salted, 32, "Client Key", 10, ckey);
	if (!EVP_Digest(ckey, 32, stored, &dl, EVP_sha256(), NULL))
		abort();
	/* AuthMessage = client-first-bare (all of it) "," server-first ","
	 * client-final-without-proof */
	size_t bl = (size_t)(e1 - bare), wl = pp - 1, ml = bl + 1 + (size_t)sl + 1 + wl;
	char *am = malloc(ml);
	memcpy(am, bare, bl);
	am[bl] = ',';
	memcpy(am + bl + 1, sfirst, (size_t)sl);
	am[bl + 1 + sl] = ',';
	memcpy(am + bl + 2 + sl, m2, wl);
	hmac("SHA256", stored, 32, am, ml, csig);
	free(am);
	for (int i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ csig[i];
	return b64_decode(m2 + pp + 2, n2 - pp - 2, got, sizeof got) == 32 &&
	       !memcmp(got, proof, 32);
}

/* Whether SASL_DONE after messages msg[0..k] (NULL: none sent) is right. */
static int done_ok(int mech, char **msg, const long *len, int k, const char *user)
{
	const char *m = msg[k];
	long n = len[k];
	if (!m || !user)
		return 0;
	switch (mech) {
	case SASL_PLAIN: {
		/* [authzid] NUL authcid NUL "pencil", nothing more */
		const char *z = m, *n1 = memchr(m, 0, (size_t)n);
		if (!n1)
			return 0;
		const char *c = n1 + 1, *n2 = memchr(c, 0, (size_t)(m + n - c));
		if (!n2 || m + n - (n2 + 1) != 6 || memcmp(n2 + 1, PW, 6))
			return 0;
		size_t zl = (size_t)(n1 - z), cl = (size_t)(n2 - c);
		return (zl == 0 || (zl == cl && !memcmp(z, c, cl))) && strlen(user) == cl &&
		       !memcmp(user, c, cl);
	}
	case SASL_LOGIN:
		/* user name, then exactly the password */
		return k >= 1 && msg[k - 1] && n == 6 && !memcmp(m, PW, 6) &&
		       (long)strlen(user) == len[k - 1] && !memcmp(user, msg[k - 1], (size_t)len[k - 1]);
	case SASL_CRAM_MD5: {
		/* user SP hex(HMAC-MD5(pencil, challenge)) */
		uint8_t d[16];
		char hex[33];
		hmac("MD5", PW, 6, "<1.2@h>", 7, d);
		for (int i = 0; i < 16; i++)
			sprintf(hex + 2 * i, "%02x", d[i]);
		size_t ul = strlen(user);
		return (size_t)n == ul + 33 && !memcmp(m, user, ul) && m[ul] == ' ' &&
		       !strncasecmp(m + ul + 1, hex, 32);
	}
	default:
		return k >= 1 && msg[k - 1] && scram_ok(msg[k - 1], (size_t)len[k - 1], m, (size_t)n, user);
	}
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
	char *msg[8] = {0}; /* what each step's mechanism got, decoded */
	long len[8] = {0};
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
			msg[k] = malloc(n + 1);
			if (!(flags & 2)) {
				memcpy(msg[k], p, n);
				len[k] = (long)n;
			} else {
				len[k] = k == 0 && !strcmp(in, "=")
						 ? 0
						 : b64_decode(in, strlen(in), msg[k], n + 1);
			}
			p += n + 1;
			first = 0;
		}
		rc = sasl_step(s, in, out, outcap);
		if (rc == SASL_DONE && (len[k] < 0 || !done_ok(mech, msg, len, k, sasl_user(s))))
			abort(); /* authenticated without the password, or as another */
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
	for (int k = 0; k < 8; k++)
		free(msg[k]);
	sasl_free(&s);
	free(out);
	return 0;
}
