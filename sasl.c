/*
 * sasl.c — server-side authentication: strict base64 (RFC 4648), the
 * per-account credential (cred.h: yescrypt, HMAC-MD5 states, SCRAM keys),
 * the four SASL mechanisms PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and SCRAM-SHA-256
 * (RFC 5802, RFC 7677), and the slow-down of failed logins (per address,
 * per account name, and per known (name, address) pair).
 *
 * It leaves to the protocol modules the framing ("334 ", "+ "), the decision
 * whether plaintext mechanisms are allowed on this connection (they call
 * sasl_mech_list(plain_ok) and refuse PLAIN/LOGIN themselves off TLS and
 * loopback) and the store (reached only through the sasl_lookup_fn they
 * hand in). They hand in the peer address; the throttle's turn is taken
 * here, where the user name is known.
 *
 * Every response is hostile: its length is checked before decoding
 * (SASL_IN_MAX), every field has a bound, secrets are compared in constant
 * time and wiped after use, and an unknown user costs the same work as a
 * wrong password (the check runs against a dummy credential).
 *
 * Crypto comes from BearSSL (SHA-256, MD5, HMAC; PBKDF2 is written here) and
 * libcrypt (yescrypt). See docs/auth.md for what is stored and why.
 */
#include "sasl.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_LEN 255   /* RFC 4616: authcid/authzid up to 255 octets */
#define PASS_MAX_LEN 1024  /* longest password accepted anywhere */
#define DECODED_MAX (SASL_IN_MAX / 4 * 3)
#define SCRAM_ITER 8192    /* PBKDF2 rounds; RFC 7677 asks for >= 4096 */
#define SCRAM_NONCE_BYTES 24 /* server nonce: 24 random bytes, 32 base64 chars */
#define SCRAM_CNONCE_MAX 256
#define SCRAM_BARE_MAX 1024
#define SCRAM_GS2_MAX 1024
#define NONCE_MAX 512      /* forced or generated random part of a challenge */

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

/* Constant-time equality of two n-byte buffers: the time depends on n only. */
static int ct_eq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* ASCII control characters (RFC 3454 C.2.1) are refused in names and
 * passwords: they have no business there and would reach the logs. */
static int has_ctl(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f)
			return 1;
	return 0;
}

/* Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, <= U+10FFFF. */
static int utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i], len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* A user name as it may reach the lookup and the logs. */
static int name_ok(const char *p, size_t n)
{
	return n >= 1 && n <= NAME_MAX_LEN && !has_ctl(p, n) && utf8_ok(p, n);
}

/* ------------------------------------------------------------------ */
/* base64, RFC 4648 section 4, strict                                   */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = b64_chars[(v >> 6) & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (n - i) {
		uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = n - i == 2 ? b64_chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

/*
 * Strict: the length is a multiple of 4, only the alphabet, '=' only as one
 * or two final pad characters, and the bits a pad leaves over are zero
 * (RFC 4648 3.5: canonical encoding), so every input has one meaning.
 */
long b64_decode(const char *in, size_t n, void *out, size_t cap)
{
	unsigned char *o = out;
	size_t pad = 0, total, k = 0;
	if (n % 4)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	total = n / 4 * 3 - pad;
	if (total > cap || total > (size_t)0x7fffffff)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t last = i + 4 == n, body = last ? 4 - pad : 4;
		for (size_t j = 0; j < 4; j++) {
			v[j] = j < body ? b64_value((unsigned char)in[i + j]) : 0;
			if (v[j] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		if ((pad == 1 && last && (w & 0xff)) || (pad == 2 && last && (w & 0xffff)))
			return -1;
		o[k++] = (unsigned char)(w >> 16);
		if (body >= 3)
			o[k++] = (unsigned char)(w >> 8);
		if (body == 4)
			o[k++] = (unsigned char)w;
	}
	return (long)k;
}

/* ------------------------------------------------------------------ */
/* HMAC-SHA-256 and PBKDF2 (RFC 8018 5.2) over BearSSL                  */

static void hmac_sha256(const void *key, size_t klen, const void *d, size_t n, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, d, n);
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

/* One block is enough: SCRAM's SaltedPassword is exactly one SHA-256 output
 * (RFC 5802 2.2, Hi() is PBKDF2 with dkLen = hLen). */
static void pbkdf2_sha256(const char *pw, size_t pwlen, const uint8_t *salt, size_t slen,
			  uint32_t iter, uint8_t out[32])
{
	static const uint8_t one[4] = {0, 0, 0, 1};
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t u[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, pw, pwlen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, salt, slen);
	br_hmac_update(&hc, one, 4);
	br_hmac_out(&hc, u);
	memcpy(out, u, 32);
	for (uint32_t i = 1; i < iter; i++) {
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, u, 32);
		br_hmac_out(&hc, u);
		for (int j = 0; j < 32; j++)
			out[j] ^= u[j];
	}
	explicit_bzero(u, sizeof u);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

/* ------------------------------------------------------------------ */
/* the exchange loop shared by the protocols (sasl.h)                   */

int sasl_exchange(struct sasl_session *s, const char *in, int max_rounds, const struct sasl_io *io)
{
	char out[SASL_OUT_MAX + 1];
	int toolong, rc = SASL_BAD;

	out[0] = 0;
	for (int round = 0; round < max_rounds; round++) {
		rc = sasl_step(s, in, out, sizeof out);
		if (rc != SASL_CONTINUE)
			break;
		io->challenge(io->arg, out);
		if (!(in = io->response(io->arg, &toolong)))
			return toolong ? SASL_BAD : -1;
		rc = SASL_BAD; /* out of rounds */
	}
	if (rc == SASL_DONE && out[0]) {
		/* RFC 4954 4, RFC 5034 4: additional data with success goes
		 * in a challenge; the client answers with an empty line. */
		io->challenge(io->arg, out);
		if (!(in = io->response(io->arg, &toolong)))
			return toolong ? SASL_BAD : -1;
		if (strcmp(in, "*") == 0)
			return SASL_CANCEL;
		if (in[0])
			return SASL_BAD;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* credentials                                                          */

/*
 * yescrypt needs about 16 MiB for each hash it computes. A burst of logins
 * (or a wrong-password flood from many connections) would otherwise make
 * that many megabytes per thread: at most as many hashes run at once as
 * there are CPUs (2..8), the rest wait their turn, which costs them nothing
 * they would not lose to CPU contention anyway.
 */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hash_cond = PTHREAD_COND_INITIALIZER;
static int hash_running, hash_max;

static const char *crypt_bounded(const char *password, const char *setting,
				 struct crypt_data *cd)
{
	const char *h;
	pthread_mutex_lock(&hash_lock);
	if (!hash_max) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		hash_max = n < 2 ? 2 : n > 8 ? 8 : (int)n;
	}
	while (hash_running >= hash_max)
		pthread_cond_wait(&hash_cond, &hash_lock);
	hash_running++;
	pthread_mutex_unlock(&hash_lock);
	h = crypt_r(password, setting, cd);
	pthread_mutex_lock(&hash_lock);
	hash_running--;
	pthread_cond_signal(&hash_cond);
	pthread_mutex_unlock(&hash_lock);
	return h;
}

/* yescrypt at libcrypt's default cost, with a fresh salt from the kernel. */
static int make_crypt(struct cred *c, const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int rc = -1;
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof setting))
		return -1;
	cd = xcalloc(1, sizeof *cd);
	h = crypt_bounded(password, setting, cd);
	if (h && strncmp(h, "$y$", 3) == 0 && strlen(h) < sizeof c->crypt) {
		str_copy(c->crypt, h, sizeof c->crypt);
		rc = 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}

/*
 * RFC 2104: HMAC(K, m) = H(K^opad || H(K^ipad || m)), K padded to 64 bytes
 * (hashed first when longer). The MD5 chaining values after the single
 * K^ipad and K^opad blocks are all CRAM-MD5 needs (RFC 2195 section 2 notes
 * this storage form), so the password itself is not kept.
 */
static void cram_states(struct cred *c, const char *pw, size_t n)
{
	uint8_t key[64] = {0}, blk[64];
	br_md5_context m;
	if (n > 64) {
		br_md5_init(&m);
		br_md5_update(&m, pw, n);
		br_md5_out(&m, key);
	} else {
		memcpy(key, pw, n);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 64; i++)
			blk[i] = key[i] ^ (pass ? 0x5c : 0x36);
		br_md5_init(&m);
		br_md5_update(&m, blk, 64);
		br_md5_state(&m, pass ? c->cram_outer : c->cram_inner);
	}
	explicit_bzero(key, sizeof key);
	explicit_bzero(blk, sizeof blk);
	explicit_bzero(&m, sizeof m);
}

/* RFC 5802 3: SaltedPassword, ClientKey, StoredKey = H(ClientKey), ServerKey. */
static void scram_keys(struct cred *c, const char *pw, size_t n, const uint8_t salt[16],
		       uint32_t iter)
{
	uint8_t sp[32], ck[32];
	br_sha256_context h;
	pbkdf2_sha256(pw, n, salt, 16, iter, sp);
	hmac_sha256(sp, 32, "Client Key", 10, ck);
	br_sha256_init(&h);
	br_sha256_update(&h, ck, 32);
	br_sha256_out(&h, c->scram_stored);
	hmac_sha256(sp, 32, "Server Key", 10, c->scram_server);
	memcpy(c->scram_salt, salt, 16);
	c->scram_iter = iter;
	explicit_bzero(sp, sizeof sp);
	explicit_bzero(ck, sizeof ck);
}

/* Passwords: 1..PASS_MAX_LEN bytes without control characters. Non-ASCII is
 * kept as raw UTF-8 (docs/auth.md, "SASLprep"). */
static int password_ok(const char *pw, size_t *len)
{
	size_t n = pw ? strnlen(pw, PASS_MAX_LEN + 1) : 0;
	*len = n;
	return n >= 1 && n <= PASS_MAX_LEN && !has_ctl(pw, n);
}

int cred_make(struct cred *out, const char *password)
{
	uint8_t salt[16];
	size_t n;
	if (!out || !password_ok(password, &n))
		return -1;
	memset(out, 0, sizeof *out);
	out->version = CRED_VERSION;
	if (make_crypt(out, password) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	cram_states(out, password, n);
	random_bytes(salt, sizeof salt);
	scram_keys(out, password, n, salt, SCRAM_ITER);
	return 0;
}

int sasl_test_cred_scram(struct cred *c, const char *password, const uint8_t salt[16],
			 uint32_t iter)
{
	size_t n;
	if (!c || !password_ok(password, &n) || iter < 1)
		return -1;
	scram_keys(c, password, n, salt, iter);
	return 0;
}

int cred_check(const struct cred *c, const char *password)
{
	size_t hl = c ? strnlen(c->crypt, sizeof c->crypt) : 0;
	char setting[sizeof c->crypt];
	struct crypt_data *cd;
	const char *h;
	int ok = 0;
	if (!c || !password || hl == 0 || hl == sizeof c->crypt)
		return 0;
	memcpy(setting, c->crypt, hl + 1);
	cd = xcalloc(1, sizeof *cd);
	h = crypt_bounded(password, setting, cd);
	/* A failed crypt_r returns NULL or a string starting with '*'. */
	if (h && h[0] != '*' && strlen(h) == hl)
		ok = ct_eq(h, setting, hl);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

void cred_random_password(char *out, size_t cap)
{
	/* No 0/O, 1/l/I: readable off a screen or a phone. */
	static const char alpha[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	size_t n = 20, i;
	if (!out || cap == 0)
		return;
	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		out[i] = alpha[random_uniform(sizeof alpha - 1)];
	out[i] = 0;
}

/*
 * The dummy credential stands in for unknown users, so that "no such user"
 * costs a yescrypt run / the same HMACs as "wrong password" and cannot be
 * told apart by timing. The secret derives SCRAM salts for unknown names:
 * stable per name, so repeated probes do not reveal the user is unknown.
 */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static struct cred dummy;
static uint8_t dummy_secret[32];

static void dummy_init(void)
{
	char pw[32];
	cred_random_password(pw, sizeof pw);
	if (cred_make(&dummy, pw) < 0)
		fatal("sasl: cannot make the dummy credential (libcrypt without yescrypt?)");
	explicit_bzero(pw, sizeof pw);
	random_bytes(dummy_secret, sizeof dummy_secret);
}

/* Fill *c for user; 1 if the user is real, 0 if *c is the dummy. */
static int cred_for(sasl_lookup_fn lookup, void *arg, const char *user, struct cred *c)
{
	if (lookup && lookup(arg, user, c) == 0 && c->version == CRED_VERSION)
		return 1;
	pthread_once(&dummy_once, dummy_init);
	*c = dummy;
	uint8_t h[32];
	hmac_sha256(dummy_secret, sizeof dummy_secret, user, strlen(user), h);
	memcpy(c->scram_salt, h, sizeof c->scram_salt);
	c->scram_iter = SCRAM_ITER;
	return 0;
}

/* ------------------------------------------------------------------ */
/* mechanism names                                                      */

static const char *const mech_names[SASL_NMECH] = {"PLAIN", "LOGIN", "CRAM-MD5",
						    "SCRAM-SHA-256"};

int sasl_mech_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SASL_NMECH; i++)
		if (str_casecmp_ascii(name, mech_names[i]) == 0)
			return i;
	return -1;
}

const char *sasl_mech_list(int plain_ok)
{
	return plain_ok ? "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256" : "CRAM-MD5 SCRAM-SHA-256";
}

/* ------------------------------------------------------------------ */
/* sessions                                                             */

enum { RUNNING, SUCCEEDED, OVER };

struct sasl_session {
	int mech;
	int state;  /* RUNNING, SUCCEEDED, OVER */
	int steps;  /* sasl_step calls so far */
	int phase;  /* mechanism-specific progress */
	sasl_lookup_fn lookup;
	void *arg;
	char hostname[256];
	char user[NAME_MAX_LEN + 1];
	char nonce[NONCE_MAX + 1]; /* forced random part, if nonce_forced */
	int nonce_forced;
	char chal[NONCE_MAX + 300]; /* CRAM-MD5 challenge; SCRAM full nonce */
	size_t chal_len;
	/* SCRAM state between the two client messages (RFC 5802 3, AuthMessage) */
	char gs2[SCRAM_GS2_MAX + 1];
	size_t gs2_len;
	char bare[SCRAM_BARE_MAX + 1];
	size_t bare_len;
	char sfirst[SASL_OUT_MAX];
	size_t sfirst_len;
	struct cred cred;
	int known;
	char peer[64];   /* sasl_set_peer: the throttle's address; "" = none */
	int throttled;   /* the throttle refused the last attempt */
};

struct sasl_session *sasl_new(int mech, const char *hostname, sasl_lookup_fn lookup, void *arg)
{
	struct sasl_session *s;
	if (mech < 0 || mech >= SASL_NMECH)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->mech = mech;
	s->lookup = lookup;
	s->arg = arg;
	str_copy(s->hostname, hostname && *hostname ? hostname : "localhost", sizeof s->hostname);
	return s;
}

void sasl_free(struct sasl_session **sp)
{
	if (!sp || !*sp)
		return;
	explicit_bzero(*sp, sizeof **sp);
	free(*sp);
	*sp = NULL;
}

void sasl_set_peer(struct sasl_session *s, const char *peer)
{
	if (s)
		str_copy(s->peer, peer ? peer : "", sizeof s->peer);
}

int sasl_throttled(const struct sasl_session *s)
{
	return s && s->throttled;
}

const char *sasl_user(const struct sasl_session *s)
{
	return s && s->state == SUCCEEDED ? s->user : NULL;
}

int sasl_test_set_nonce(struct sasl_session *s, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	if (!s || n == 0 || n > NONCE_MAX)
		return -1;
	if (s->mech == SASL_SCRAM_SHA_256)
		for (size_t i = 0; i < n; i++)
			if (text[i] < 0x21 || text[i] > 0x7e || text[i] == ',')
				return -1;
	memcpy(s->nonce, text, n + 1);
	s->nonce_forced = 1;
	return 0;
}

/* Base64 of n bytes into out; -1 if it does not fit the caller's buffer. */
static int put_b64(char *out, size_t cap, const void *d, size_t n)
{
	if (B64_ENCLEN(n) >= cap || B64_ENCLEN(n) > SASL_OUT_MAX)
		return -1;
	b64_encode(d, n, out);
	return 0;
}

int cred_verify(sasl_lookup_fn lookup, void *arg, const char *peer, const char *user,
		const char *password)
{
	struct cred c;
	if (!user)
		user = "";
	if (peer && auth_gate(peer, user) < 0)
		return -1;
	int known = cred_for(lookup, arg, user, &c);
	int ok = cred_check(&c, password) && known;
	explicit_bzero(&c, sizeof c);
	if (peer)
		auth_note(peer, user, ok);
	return ok;
}

/* The throttle around CRAM-MD5 and SCRAM, whose checks are their own. */
static int gate(struct sasl_session *s, const char *user)
{
	if (s->peer[0] && auth_gate(s->peer, user) < 0) {
		s->throttled = 1;
		return -1;
	}
	return 0;
}

static void note(struct sasl_session *s, const char *user, int ok)
{
	if (s->peer[0])
		auth_note(s->peer, user, ok);
}

/* Check user/password for PLAIN and LOGIN. */
static int verify_password(struct sasl_session *s, const char *user, const char *pw)
{
	int rc = cred_verify(s->lookup, s->arg, s->peer[0] ? s->peer : NULL, user, pw);
	if (rc < 0)
		s->throttled = 1;
	if (rc != 1) {
		log_debug("sasl: %s failed for \"%s\"", mech_names[s->mech], user);
		return SASL_FAIL;
	}
	str_copy(s->user, user, sizeof s->user);
	return SASL_DONE;
}

/* ---- PLAIN, RFC 4616 2: [authzid] NUL authcid NUL passwd ---- */

static int plain_step(struct sasl_session *s, const char *m, long n, char *out, size_t cap)
{
	const char *authz, *authc, *pw, *nul1, *nul2;
	if (!m)  /* no initial response: empty challenge, read the message */
		return s->steps == 1 ? SASL_CONTINUE : SASL_BAD;
	nul1 = memchr(m, 0, (size_t)n);
	if (!nul1)
		return SASL_BAD;
	nul2 = memchr(nul1 + 1, 0, (size_t)(m + n - (nul1 + 1)));
	if (!nul2 || memchr(nul2 + 1, 0, (size_t)(m + n - (nul2 + 1))))
		return SASL_BAD;
	authz = m, authc = nul1 + 1, pw = nul2 + 1;
	size_t zl = (size_t)(nul1 - authz), cl = (size_t)(nul2 - authc),
	       pl = (size_t)(m + n - pw);
	if (zl > NAME_MAX_LEN || !name_ok(authc, cl) || pl < 1 || pl > PASS_MAX_LEN)
		return SASL_BAD;
	/* RFC 4616 2: we have no proxy authorization; an authzid other than
	 * the authcid itself is refused. */
	if (zl && (zl != cl || memcmp(authz, authc, cl) != 0)) {
		log_debug("sasl: PLAIN authzid differs from authcid, refused");
		return SASL_FAIL;
	}
	return verify_password(s, authc, pw);
}

/* ---- LOGIN, draft-murchison-sasl-login: "Username:", "Password:" ---- */

static int login_step(struct sasl_session *s, const char *m, long n, char *out, size_t cap)
{
	static const char uprompt[] = "Username:", pprompt[] = "Password:";
	if (s->phase == 0) {
		s->phase = 1;
		/* The initial response, if any, is the user name (draft 2.1). */
		if (!m)
			return put_b64(out, cap, uprompt, 9) < 0 ? SASL_BAD : SASL_CONTINUE;
	}
	if (!m)
		return SASL_BAD;
	if (s->phase == 1) {
		if (memchr(m, 0, (size_t)n) || !name_ok(m, (size_t)n))
			return SASL_BAD;
		memcpy(s->user, m, (size_t)n + 1);
		s->phase = 2;
		return put_b64(out, cap, pprompt, 9) < 0 ? SASL_BAD : SASL_CONTINUE;
	}
	if (memchr(m, 0, (size_t)n) || n > PASS_MAX_LEN)
		return SASL_BAD;
	char user[sizeof s->user];
	memcpy(user, s->user, sizeof user);
	s->user[0] = 0;
	return verify_password(s, user, m);
}

/* ---- CRAM-MD5, RFC 2195 ---- */

static int cram_challenge(struct sasl_session *s, char *out, size_t cap)
{
	int k;
	if (s->nonce_forced) {
		k = snprintf(s->chal, sizeof s->chal, "%s", s->nonce);
	} else {
		/* RFC 2195 2: a presumptively arbitrary string, starting with
		 * '<' and ending with '>', unique per challenge. */
		uint64_t r;
		random_bytes(&r, sizeof r);
		k = snprintf(s->chal, sizeof s->chal, "<%llu.%lld@%s>", (unsigned long long)r,
			     (long long)time(NULL), s->hostname);
	}
	if (k < 0 || (size_t)k >= sizeof s->chal)
		return SASL_BAD;
	s->chal_len = (size_t)k;
	return put_b64(out, cap, s->chal, s->chal_len) < 0 ? SASL_BAD : SASL_CONTINUE;
}

/* HMAC-MD5(password, challenge) resumed from the stored pad states. */
static void cram_digest(const struct cred *c, const char *chal, size_t n, uint8_t out[16])
{
	br_md5_context m;
	uint8_t inner[16];
	br_md5_init(&m);
	br_md5_set_state(&m, c->cram_inner, 64);
	br_md5_update(&m, chal, n);
	br_md5_out(&m, inner);
	br_md5_set_state(&m, c->cram_outer, 64);
	br_md5_update(&m, inner, 16);
	br_md5_out(&m, out);
	explicit_bzero(&m, sizeof m);
}

static int cram_step(struct sasl_session *s, const char *m, long n, char *out, size_t cap)
{
	if (s->phase == 0) {
		/* Server-first: an initial response must be empty (RFC 4422 4). */
		if (m && n > 0)
			return SASL_BAD;
		s->phase = 1;
		return cram_challenge(s, out, cap);
	}
	/* RFC 2195 2: user name, a space, 32 lower-case hex digits. */
	if (!m || n < 34 || memchr(m, 0, (size_t)n) || m[n - 33] != ' ')
		return SASL_BAD;
	size_t ul = (size_t)n - 33;
	uint8_t got[16], want[16];
	for (int i = 0; i < 16; i++) {
		int hi = hex_value((unsigned char)m[ul + 1 + 2 * i]);
		int lo = hex_value((unsigned char)m[ul + 2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return SASL_BAD;
		got[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!name_ok(m, ul))
		return SASL_BAD;
	char user[NAME_MAX_LEN + 1];
	memcpy(user, m, ul);
	user[ul] = 0;
	struct cred c;
	if (gate(s, user) < 0)
		return SASL_FAIL;
	int known = cred_for(s->lookup, s->arg, user, &c);
	cram_digest(&c, s->chal, s->chal_len, want);
	int ok = ct_eq(got, want, 16);
	explicit_bzero(&c, sizeof c);
	explicit_bzero(want, sizeof want);
	note(s, user, ok && known);
	if (!(ok && known)) {
		log_debug("sasl: CRAM-MD5 failed for \"%s\"", user);
		return SASL_FAIL;
	}
	memcpy(s->user, user, ul + 1);
	return SASL_DONE;
}

/* ---- SCRAM-SHA-256, RFC 5802 5 and 7, RFC 7677 ---- */

/* RFC 5802 5.1: saslname, with "=2C" for ',' and "=3D" for '='. Decodes
 * [p, p+n) into out (cap NAME_MAX_LEN+1); -1 on a bad escape or name. */
static int saslname_decode(const char *p, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '=') {
			if (n - i < 3 ||
			    (memcmp(p + i, "=2C", 3) != 0 && memcmp(p + i, "=3D", 3) != 0))
				return -1;
			c = p[i + 1] == '2' ? ',' : '=';
			i += 2;
		}
		if (k >= NAME_MAX_LEN)
			return -1;
		out[k++] = c;
	}
	out[k] = 0;
	return name_ok(out, k) ? 0 : -1;
}

/* Length of the attribute value starting at p (up to ',' or end). */
static size_t attr_len(const char *p, const char *end)
{
	const char *c = memchr(p, ',', (size_t)(end - p));
	return (size_t)((c ? c : end) - p);
}

/* Optional extensions: ("," ALPHA "=" 1*value-char)*, all ignored (5.1). */
static int scram_extensions(const char *p, const char *end)
{
	while (p < end) {
		if (*p != ',' || end - p < 4 || !((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z') ||
		    p[2] != '=')
			return -1;
		p += 3;
		size_t l = attr_len(p, end);
		if (l == 0)
			return -1;
		p += l;
	}
	return 0;
}

static int scram_server_nonce(struct sasl_session *s, char *dst, size_t cap)
{
	if (s->nonce_forced)
		return str_copy(dst, s->nonce, cap) < cap ? 0 : -1;
	uint8_t r[SCRAM_NONCE_BYTES];
	char b[B64_ENCLEN(SCRAM_NONCE_BYTES) + 1];
	random_bytes(r, sizeof r);
	b64_encode(r, sizeof r, b);
	/* ',' cannot occur in base64; '/' and '+' are printable: fine. */
	return str_copy(dst, b, cap) < cap ? 0 : -1;
}

/* gs2-header = gs2-cbind-flag "," [authzid] "," (RFC 5802 7). We do not
 * offer SCRAM-SHA-256-PLUS, so "p=" (client requires channel binding) is
 * refused; "y" (client could, but thinks we cannot) is right, as we indeed
 * cannot (RFC 5802 6). Saves the header for c= and returns the length
 * parsed, or -1. */
static long scram_gs2(struct sasl_session *s, const char *m, const char *end, char *authz)
{
	const char *p = m;
	if (end - p < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		return -1;
	p += 2;
	if (*p == 'a') {
		if (end - p < 3 || p[1] != '=')
			return -1;
		size_t l = attr_len(p + 2, end);
		if (saslname_decode(p + 2, l, authz) < 0)
			return -1;
		p += 2 + l;
	}
	if (p >= end || *p != ',' || (size_t)(p + 1 - m) > SCRAM_GS2_MAX)
		return -1;
	s->gs2_len = (size_t)(p + 1 - m);
	memcpy(s->gs2, m, s->gs2_len);
	return (long)s->gs2_len;
}

/* client-first-message-bare = username "," nonce ["," extensions]; a
 * leading reserved "m=" (mandatory extension) falls out as a bad name
 * attribute. Fills s->user and s->bare; returns the client nonce's length
 * (it starts at *cnonce), or -1. */
static long scram_bare(struct sasl_session *s, const char *p, const char *end,
		       const char **cnonce)
{
	const char *bare = p;
	size_t l;
	if ((size_t)(end - bare) > SCRAM_BARE_MAX || end - p < 2 || p[0] != 'n' || p[1] != '=')
		return -1;
	l = attr_len(p + 2, end);
	if (saslname_decode(p + 2, l, s->user) < 0)
		return -1;
	p += 2 + l;
	if (end - p < 4 || memcmp(p, ",r=", 3) != 0)
		return -1;
	p += 3;
	l = attr_len(p, end);
	if (l < 1 || l > SCRAM_CNONCE_MAX)
		return -1;
	for (size_t i = 0; i < l; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)  /* printable, and ',' ended it */
			return -1;
	if (scram_extensions(p + l, end) < 0)
		return -1;
	*cnonce = p;
	s->bare_len = (size_t)(end - bare);
	memcpy(s->bare, bare, s->bare_len);
	s->bare[s->bare_len] = 0;
	return (long)l;
}

/* server-first-message = "r=" cnonce snonce ",s=" salt ",i=" iterations */
static int scram_server_first(struct sasl_session *s, const char *cnonce, size_t cl,
			      char *out, size_t cap)
{
	char snonce[NONCE_MAX + 1], salt[B64_ENCLEN(16) + 1];
	int k;
	if (scram_server_nonce(s, snonce, sizeof snonce) < 0)
		return SASL_BAD;
	if (gate(s, s->user) < 0)
		return SASL_FAIL;
	s->known = cred_for(s->lookup, s->arg, s->user, &s->cred);
	b64_encode(s->cred.scram_salt, sizeof s->cred.scram_salt, salt);
	k = snprintf(s->chal, sizeof s->chal, "%.*s%s", (int)cl, cnonce, snonce);
	if (k < 0 || (size_t)k >= sizeof s->chal)
		return SASL_BAD;
	s->chal_len = (size_t)k;
	k = snprintf(s->sfirst, sizeof s->sfirst, "r=%s,s=%s,i=%lu", s->chal, salt,
		     (unsigned long)s->cred.scram_iter);
	if (k < 0 || (size_t)k >= sizeof s->sfirst)
		return SASL_BAD;
	s->sfirst_len = (size_t)k;
	s->phase = 1;
	return put_b64(out, cap, s->sfirst, s->sfirst_len) < 0 ? SASL_BAD : SASL_CONTINUE;
}

static int scram_first(struct sasl_session *s, const char *m, size_t n, char *out, size_t cap)
{
	const char *end = m + n, *cnonce;
	char authz[NAME_MAX_LEN + 1] = "";
	long g = scram_gs2(s, m, end, authz), cl;
	if (g < 0 || (cl = scram_bare(s, m + g, end, &cnonce)) < 0)
		return SASL_BAD;
	if (authz[0] && strcmp(authz, s->user) != 0) {
		log_debug("sasl: SCRAM authzid differs from the user name, refused");
		s->user[0] = 0;
		return SASL_FAIL;
	}
	return scram_server_first(s, cnonce, (size_t)cl, out, cap);
}

/* HMAC-SHA-256(key, AuthMessage), RFC 5802 3:
 * AuthMessage = client-first-bare "," server-first "," client-final-w/o-proof */
static void scram_sig(struct sasl_session *s, const uint8_t key[32], const char *fin,
		      size_t fin_len, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, key, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, s->bare, s->bare_len);
	br_hmac_update(&hc, ",", 1);
	br_hmac_update(&hc, s->sfirst, s->sfirst_len);
	br_hmac_update(&hc, ",", 1);
	br_hmac_update(&hc, fin, fin_len);
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

static int scram_final(struct sasl_session *s, const char *m, size_t n, char *out, size_t cap)
{
	const char *p = m, *end = m + n, *proof;
	char cb[B64_ENCLEN(SCRAM_GS2_MAX) + 1];
	size_t l, cbl;
	/* channel-binding: "c=" base64(gs2-header), nothing more without
	 * channel binding ("biws" for "n,,", 5.1). */
	cbl = b64_encode(s->gs2, s->gs2_len, cb);
	if (n < 2 || memcmp(p, "c=", 2) != 0)
		return SASL_BAD;
	p += 2;
	l = attr_len(p, end);
	if (l != cbl || memcmp(p, cb, l) != 0)
		return SASL_BAD;
	p += l;
	if (end - p < 3 || memcmp(p, ",r=", 3) != 0)
		return SASL_BAD;
	p += 3;
	l = attr_len(p, end);
	if (l != s->chal_len || memcmp(p, s->chal, l) != 0)
		return SASL_BAD;
	p += l;
	/* The proof is the last attribute: find the final ",p=". */
	for (proof = end; proof > p; proof--)
		if (proof[-1] == ',')
			break;
	if (proof == p || end - proof < 2 || memcmp(proof, "p=", 2) != 0)
		return SASL_BAD;
	if (scram_extensions(p, proof - 1) < 0)
		return SASL_BAD;
	uint8_t cproof[32], csig[32], ckey[32], stored[32], ssig[32];
	if (b64_decode(proof + 2, (size_t)(end - proof - 2), cproof, sizeof cproof) != 32)
		return SASL_BAD;
	size_t fin_len = (size_t)(proof - 1 - m);
	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
	 * it is right when H(ClientKey) == StoredKey. */
	scram_sig(s, s->cred.scram_stored, m, fin_len, csig);
	for (int i = 0; i < 32; i++)
		ckey[i] = cproof[i] ^ csig[i];
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, ckey, 32);
	br_sha256_out(&h, stored);
	int ok = ct_eq(stored, s->cred.scram_stored, 32) && s->known;
	explicit_bzero(ckey, sizeof ckey);
	note(s, s->user, ok);
	if (!ok) {
		log_debug("sasl: SCRAM-SHA-256 failed for \"%s\"", s->user);
		s->user[0] = 0;
		return SASL_FAIL;
	}
	/* server-final-message = "v=" base64(ServerSignature) */
	char fin[2 + B64_ENCLEN(32) + 1] = "v=";
	scram_sig(s, s->cred.scram_server, m, fin_len, ssig);
	b64_encode(ssig, sizeof ssig, fin + 2);
	if (put_b64(out, cap, fin, strlen(fin)) < 0)
		return SASL_BAD;
	s->phase = 2;
	return SASL_DONE;
}

static int scram_step(struct sasl_session *s, const char *m, long n, char *out, size_t cap)
{
	if (m && memchr(m, 0, (size_t)n))
		return SASL_BAD;  /* NUL is not a value-char anywhere (5.1) */
	if (s->phase == 0) {
		if (!m)  /* no initial response: empty challenge */
			return s->steps == 1 ? SASL_CONTINUE : SASL_BAD;
		return scram_first(s, m, (size_t)n, out, cap);
	}
	if (!m)
		return SASL_BAD;
	return scram_final(s, m, (size_t)n, out, cap);
}

/* ---- the step driver ---- */

/* After SASL_DONE with final data (SCRAM's "v="), the client answers with an
 * empty response; a protocol module may pass it in here and gets SASL_DONE
 * again. Anything else then is a protocol error. */
static int after_success(const char *in, char *out)
{
	out[0] = 0;
	if (in && strcmp(in, "*") == 0)
		return SASL_CANCEL;
	return in && (in[0] == 0 || strcmp(in, "=") == 0) ? SASL_DONE : SASL_BAD;
}

int sasl_step(struct sasl_session *s, const char *in, char *out, size_t outcap)
{
	char buf[DECODED_MAX + 1];
	const char *m = NULL;
	long n = 0;
	int rc;
	if (!s || !out || outcap == 0)
		return SASL_BAD;
	out[0] = 0;
	if (s->state == SUCCEEDED)
		return after_success(in, out);
	if (s->state == OVER)
		return SASL_BAD;
	s->steps++;
	if (in && strcmp(in, "*") == 0) {
		rc = SASL_CANCEL;  /* RFC 4954 4, RFC 3501 6.2.2, RFC 5034 4 */
		goto out;
	}
	if (in) {
		size_t len = strnlen(in, SASL_IN_MAX + 1);
		if (len > SASL_IN_MAX) {
			rc = SASL_BAD;
			goto out;
		}
		/* "=" is an empty initial response (RFC 4954 4, RFC 4959 3). */
		n = s->steps == 1 && strcmp(in, "=") == 0 ? 0
							  : b64_decode(in, len, buf, DECODED_MAX);
		if (n < 0) {
			explicit_bzero(buf, sizeof buf);  /* may hold part of a password */
			rc = SASL_BAD;
			goto out;
		}
		buf[n] = 0;
		m = buf;
	}
	switch (s->mech) {
	case SASL_PLAIN: rc = plain_step(s, m, n, out, outcap); break;
	case SASL_LOGIN: rc = login_step(s, m, n, out, outcap); break;
	case SASL_CRAM_MD5: rc = cram_step(s, m, n, out, outcap); break;
	default: rc = scram_step(s, m, n, out, outcap); break;
	}
	explicit_bzero(buf, (size_t)n + 1);
out:
	if (rc != SASL_CONTINUE && rc != SASL_DONE)
		out[0] = 0;
	if (rc == SASL_DONE)
		s->state = SUCCEEDED;
	else if (rc != SASL_CONTINUE)
		s->state = OVER;
	if (rc != SASL_CONTINUE)
		explicit_bzero(&s->cred, sizeof s->cred);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the failed-login slow-down                                           */

/*
 * Fixed tables of the most recent failing addresses and account names
 * (least recently failing evicted first), so a flood costs bounded memory.
 * The delay doubles with each failure in a row and is forgotten after
 * THROTTLE_FORGET_MS without failures. An account name is slowed after
 * ACCOUNT_FREE_FAILS, from whatever addresses: that is what stops guesses
 * spread over many addresses. A (name, address) pair that has logged in
 * before waits only on its own failures, so neither guesses from elsewhere
 * nor guesses from a shared address lock its owner out (docs/auth.md).
 *
 * The delay is a rate, not a per-connection pause: each count has a
 * "next allowed" time and every attempt takes the next turn (next =
 * max(now, next) + delay) and sleeps until it comes, so 100 parallel
 * connections from one address get one attempt per delay between them, not
 * 100 (and the password hash runs one at a time per address). A queue
 * longer than THROTTLE_QUEUE_MS is not joined: that attempt is refused after
 * the longest single delay. IPv6 addresses count per /64, what one host
 * usually has. Loopback is not exempt: a local proxy or a bouncer shares it
 * with whoever else is local.
 */
#define THROTTLE_SLOTS 256
#define THROTTLE_FORGET_MS (10 * 60 * 1000)
#define THROTTLE_QUEUE_MS (30 * 1000)
#define ACCOUNT_FREE_FAILS 3   /* failures an account name takes before it slows */
#define KNOWN_SLOTS 1024       /* (name, address) pairs that logged in */
#define KEY_MAX 64

struct throttle_slot {
	char key[KEY_MAX];
	unsigned fails;
	int64_t last_ms;
	int64_t next_ms;   /* the next attempt may start then */
};

struct known_pair {
	char key[KEY_MAX];
	int64_t ok_ms;     /* last success */
};

static pthread_mutex_t throttle_mu = PTHREAD_MUTEX_INITIALIZER;
/* addresses; account names ("n:") and known pairs' own slots ("p:") */
static struct throttle_slot addr_tab[THROTTLE_SLOTS], name_tab[THROTTLE_SLOTS];
static struct known_pair known[KNOWN_SLOTS];
static unsigned throttle_base_ms = 250, throttle_max_ms = 5000;
static unsigned throttle_queue_ms = THROTTLE_QUEUE_MS;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint8_t key_secret[32];

/* The table key: the address, an IPv6 one cut to its /64. */
static void throttle_key(const char *peer, char *key, size_t cap)
{
	unsigned char a[16];
	str_copy(key, peer ? peer : "", cap);
	if (strchr(key, ':') && inet_pton(AF_INET6, key, a) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
		memset(a + 8, 0, 8);
		if (!inet_ntop(AF_INET6, a, key, (socklen_t)cap))
			str_copy(key, peer, cap);
	}
}

static void key_init(void)
{
	random_bytes(key_secret, sizeof key_secret);
}

/* "n:" + keyed hash of the name (ASCII case folded), or with addr given
 * "p:" + keyed hash of (name, address): fixed size whatever was typed, and
 * nobody can aim a name at another's slot without the process secret. The
 * name is taken as typed, whether or not such an account exists: the
 * throttle must not itself tell known from unknown names. */
static void name_key(const char *name, const char *addr, char *key)
{
	uint8_t h[32];
	char buf[NAME_MAX_LEN + KEY_MAX + 2];
	size_t n = 0;
	pthread_once(&key_once, key_init);
	for (const char *p = name ? name : ""; *p && n < NAME_MAX_LEN; p++)
		buf[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
	if (addr) {
		buf[n++] = 0;
		for (const char *p = addr; *p && n < sizeof buf; p++)
			buf[n++] = *p;
	}
	hmac_sha256(key_secret, sizeof key_secret, buf, n, h);
	key[0] = addr ? 'p' : 'n';
	key[1] = ':';
	for (int i = 0; i < 16; i++)
		snprintf(key + 2 + 2 * i, 3, "%02x", h[i]);
}

/* The live slot for key, or NULL. Caller holds the mutex. */
static struct throttle_slot *slot_find(struct throttle_slot *tab, const char *key, int64_t now)
{
	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		struct throttle_slot *t = &tab[i];
		if (!t->key[0] || strcmp(t->key, key) != 0)
			continue;
		if (now - t->last_ms > THROTTLE_FORGET_MS && t->next_ms <= now) {
			memset(t, 0, sizeof *t);
			return NULL;
		}
		return t;
	}
	return NULL;
}

/* The slot for key, made (evicting the least recently failing) if need
 * be. Caller holds the mutex. */
static struct throttle_slot *slot_get(struct throttle_slot *tab, const char *key, int64_t now)
{
	struct throttle_slot *t = slot_find(tab, key, now);
	if (t)
		return t;
	t = &tab[0];
	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		if (!tab[i].key[0]) {
			t = &tab[i];
			break;
		}
		if (tab[i].last_ms < t->last_ms)
			t = &tab[i];
	}
	memset(t, 0, sizeof *t);
	str_copy(t->key, key, sizeof t->key);
	return t;
}

static void slot_fail(struct throttle_slot *t, int64_t now)
{
	if (t->fails < 1000)
		t->fails++;
	t->last_ms = now;
}

static void slot_clear(struct throttle_slot *tab, const char *key, int64_t now)
{
	struct throttle_slot *t = slot_find(tab, key, now);
	if (t)
		memset(t, 0, sizeof *t);
}

static int pair_known(const char *pk)
{
	for (int i = 0; i < KNOWN_SLOTS; i++)
		if (known[i].key[0] && strcmp(known[i].key, pk) == 0)
			return 1;
	return 0;
}

static void pair_remember(const char *pk, int64_t now)
{
	struct known_pair *k = &known[0];
	for (int i = 0; i < KNOWN_SLOTS; i++) {
		if (known[i].key[0] && strcmp(known[i].key, pk) == 0) {
			k = &known[i];
			break;
		}
		if (!known[i].key[0] || known[i].ok_ms < k->ok_ms)
			k = &known[i];
	}
	str_copy(k->key, pk, sizeof k->key);
	k->ok_ms = now;
}

static long delay_for(unsigned fails)
{
	if (fails == 0)
		return 0;
	uint64_t d = (uint64_t)throttle_base_ms << (fails - 1 > 20 ? 20 : fails - 1);
	return (long)(d > throttle_max_ms ? throttle_max_ms : d);
}

/* When slot t's next turn would start: now with no delay due. */
static int64_t turn_at(const struct throttle_slot *t, unsigned free_fails, int64_t now)
{
	if (!t || t->fails <= free_fails)
		return now;
	int64_t start = t->next_ms > now ? t->next_ms : now;
	return start + delay_for(t->fails - free_fails);
}

static void sleep_ms(int64_t d)
{
	struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
	while (d > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * One attempt's turn, with the mutex held: *at when it may start, and the
 * turns taken when take is set. A (name, address) pair that has logged in
 * before waits only on its own failures; anyone else on both the address's
 * and the account name's. -1 when a queue is longer than allowed.
 */
static int gate_locked(const char *peer, const char *name, int take, int64_t now, int64_t *at)
{
	char ak[KEY_MAX], nk[KEY_MAX], pk[KEY_MAX];
	throttle_key(peer, ak, sizeof ak);
	name_key(name, NULL, nk);
	name_key(name, ak, pk);
	if (pair_known(pk)) {
		struct throttle_slot *t = slot_find(name_tab, pk, now);
		*at = turn_at(t, 0, now);
		if (*at - now > (int64_t)throttle_queue_ms)
			return -1;
		if (take && t && t->fails)
			t->next_ms = *at;
		return 0;
	}
	struct throttle_slot *ta = slot_find(addr_tab, ak, now), *tn = slot_find(name_tab, nk, now);
	int64_t a_at = turn_at(ta, 0, now), n_at = turn_at(tn, ACCOUNT_FREE_FAILS, now);
	*at = a_at > n_at ? a_at : n_at;
	if (*at - now > (int64_t)throttle_queue_ms)
		return -1;
	if (take) {
		if (ta && ta->fails)
			ta->next_ms = a_at;
		if (tn && tn->fails > ACCOUNT_FREE_FAILS)
			tn->next_ms = n_at;
	}
	return 0;
}

int auth_gate(const char *peer, const char *name)
{
	int64_t now = now_ms(), at;
	pthread_mutex_lock(&throttle_mu);
	int rc = gate_locked(peer, name, 1, now, &at);
	pthread_mutex_unlock(&throttle_mu);
	if (rc < 0)
		at = now + throttle_max_ms; /* too many waiting: refuse, slowly */
	sleep_ms(at - now);
	return rc;
}

long auth_gate_delay_ms(const char *peer, const char *name)
{
	int64_t now = now_ms(), at;
	pthread_mutex_lock(&throttle_mu);
	int rc = gate_locked(peer, name, 0, now, &at);
	pthread_mutex_unlock(&throttle_mu);
	return rc < 0 ? -1 : (long)(at - now);
}

void auth_note(const char *peer, const char *name, int ok)
{
	char ak[KEY_MAX], nk[KEY_MAX], pk[KEY_MAX];
	int64_t now = now_ms();
	unsigned af, nf;
	throttle_key(peer, ak, sizeof ak);
	name_key(name, NULL, nk);
	name_key(name, ak, pk);
	pthread_mutex_lock(&throttle_mu);
	if (ok) {
		/* The account's own count is left to decay: an owner's success
		 * does not hand a guesser elsewhere a fresh allowance. The
		 * address's is forgotten at a first success from it (its own
		 * typos are forgiven), not when a user who is known there
		 * anyway logs in: that would reset a guesser sharing it. */
		if (!pair_known(pk))
			slot_clear(addr_tab, ak, now);
		slot_clear(name_tab, pk, now);
		pair_remember(pk, now);
		pthread_mutex_unlock(&throttle_mu);
		return;
	}
	struct throttle_slot *ta = slot_get(addr_tab, ak, now);
	slot_fail(ta, now);
	af = ta->fails;
	struct throttle_slot *tn = slot_get(name_tab, nk, now);
	slot_fail(tn, now);
	nf = tn->fails;
	if (pair_known(pk))
		slot_fail(slot_get(name_tab, pk, now), now);
	pthread_mutex_unlock(&throttle_mu);
	/* The address and counts only: never the password or what was typed. */
	log_warn("auth: failed login from %s (%u in a row; %u in a row for that user name)", ak, af,
		 nf);
}

/* ---- the address alone (the unit tests' view of the address part) ---- */

long auth_throttle_delay_ms(const char *peer)
{
	char key[KEY_MAX];
	int64_t now = now_ms();
	throttle_key(peer, key, sizeof key);
	pthread_mutex_lock(&throttle_mu);
	long d = (long)(turn_at(slot_find(addr_tab, key, now), 0, now) - now);
	pthread_mutex_unlock(&throttle_mu);
	return d;
}

int auth_throttle_wait(const char *peer)
{
	char key[KEY_MAX];
	int64_t now = now_ms(), at;
	int rc = 0;
	throttle_key(peer, key, sizeof key);
	pthread_mutex_lock(&throttle_mu);
	struct throttle_slot *t = slot_find(addr_tab, key, now);
	at = turn_at(t, 0, now);
	if (at - now > (int64_t)throttle_queue_ms) {
		at = now + throttle_max_ms; /* too many waiting: refuse, slowly */
		rc = -1;
	} else if (t && t->fails) {
		t->next_ms = at;
	}
	pthread_mutex_unlock(&throttle_mu);
	sleep_ms(at - now);
	return rc;
}

void auth_throttle_fail(const char *peer)
{
	char key[KEY_MAX];
	int64_t now = now_ms();
	unsigned fails;
	throttle_key(peer, key, sizeof key);
	pthread_mutex_lock(&throttle_mu);
	struct throttle_slot *t = slot_get(addr_tab, key, now);
	slot_fail(t, now);
	fails = t->fails;
	pthread_mutex_unlock(&throttle_mu);
	log_warn("auth: failed login from %s (%u in a row)", key, fails);
}

void auth_throttle_ok(const char *peer)
{
	char key[KEY_MAX];
	throttle_key(peer, key, sizeof key);
	pthread_mutex_lock(&throttle_mu);
	slot_clear(addr_tab, key, now_ms());
	pthread_mutex_unlock(&throttle_mu);
}

void auth_throttle_test_queue(unsigned ms)
{
	pthread_mutex_lock(&throttle_mu);
	throttle_queue_ms = ms ? ms : THROTTLE_QUEUE_MS;
	pthread_mutex_unlock(&throttle_mu);
}

void auth_throttle_test_config(unsigned base_ms, unsigned max_ms)
{
	pthread_mutex_lock(&throttle_mu);
	throttle_base_ms = base_ms;
	throttle_max_ms = max_ms;
	pthread_mutex_unlock(&throttle_mu);
}
