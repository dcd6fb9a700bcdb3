/*
 * websess.c — browser sessions (websess.h): random tokens from
 * getrandom(2), the cookie's SHA-256 as the store's key (a copy of the
 * store, such as a backup, holds no cookie that would log its reader in),
 * the idle rule. What a request must carry and what it gets back is
 * http.c's.
 */
#include <bearssl.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "websess.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static void token_key(const char *token, unsigned char key[STORE_SESS_KEY])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, token, strlen(token));
	br_sha256_out(&h, key);
}

int websess_create(struct store *st, uint32_t user, int64_t idle, char token[WEBSESS_TOKEN + 1],
		   char csrf[WEBSESS_CSRF + 1])
{
	unsigned char raw[WEBSESS_TOKEN / 2], key[STORE_SESS_KEY];
	struct store_sess s = {.user = user};
	int64_t now = (int64_t)time(NULL);
	int rc;

	random_bytes(raw, sizeof raw);
	hex(raw, sizeof raw, token);
	random_bytes(raw, sizeof raw);
	hex(raw, sizeof raw, csrf);
	explicit_bzero(raw, sizeof raw);
	str_copy(s.csrf, csrf, sizeof s.csrf);
	s.created = s.used = now;
	token_key(token, key);
	rc = store_sess_put(st, key, &s, now - idle);
	explicit_bzero(&s, sizeof s);
	return rc;
}

int websess_check(struct store *st, const char *token, int64_t idle, struct store_sess *out)
{
	unsigned char key[STORE_SESS_KEY];
	int64_t now = (int64_t)time(NULL), every = idle / 4 < 60 ? idle / 4 : 60;
	int rc;

	if (strlen(token) != WEBSESS_TOKEN)
		return 0;
	token_key(token, key);
	rc = store_sess_get(st, key, out);
	if (rc == ST_NOTFOUND)
		return 0;
	if (rc != ST_OK)
		return -1;
	if (now - out->used > idle) {
		store_sess_del(st, key); /* expired: gone for good */
		return 0;
	}
	/* The last use is a write: not at every request of a busy page. */
	if (now - out->used >= every && now != out->used) {
		rc = store_sess_touch(st, key, now);
		if (rc == ST_NOTFOUND)
			return 0; /* ended meanwhile (logout, password change) */
		if (rc == ST_OK)
			out->used = now;
	}
	return 1;
}

int websess_end(struct store *st, const char *token)
{
	unsigned char key[STORE_SESS_KEY];
	token_key(token, key);
	return store_sess_del(st, key);
}

int websess_csrf_ok(const struct store_sess *s, const char *given)
{
	size_t n = strlen(s->csrf);
	unsigned diff = 0;
	if (n != WEBSESS_CSRF || strlen(given) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(s->csrf[i] ^ given[i]);
	return diff == 0;
}
