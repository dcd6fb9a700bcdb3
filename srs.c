/*
 * srs.c — the Sender Rewriting Scheme (srs.h has the forms and the
 * contracts): rewriting the envelope sender of forwarded mail, undoing it
 * for the bounces that come back, and the secret in DATADIR/srs.secret.
 *
 * Which mail gets rewritten, and where the bounces go next, is decided by
 * the callers (smtp_msg.c at the commit, smtp.c at RCPT, queue_dsn.c for
 * our own bounces): this file only knows the address forms.
 */
#include "srs.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "util.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const char *srs_strerror(int rc)
{
	switch (rc) {
	case SRS_OK:
		return "ok";
	case SRS_NOT:
		return "not an SRS address";
	case SRS_SYNTAX:
		return "malformed SRS address";
	case SRS_BADHASH:
		return "SRS hash does not match (forged or damaged address)";
	case SRS_EXPIRED:
		return "SRS address expired";
	case SRS_TOOLONG:
		return "rewritten address would be too long";
	case SRS_NOKEY:
		return "no SRS secret";
	}
	return "?";
}

unsigned srs_today(void)
{
	return (unsigned)(time(NULL) / 86400);
}

static int b32_value(int c)
{
	if (c >= 'a' && c <= 'z')
		c -= 'a' - 'A';
	const char *p = c ? strchr(b32, c) : NULL;
	return p ? (int)(p - b32) : -1;
}

static int is_sep(int c)
{
	return c == '=' || c == '+' || c == '-';
}

/* HMAC-SHA256 of the lower-cased text with key i, as SRS_HASH_LEN base32
 * characters (the first 30 bits of the MAC) in out (NUL-terminated). */
static void srs_hash(const struct srs_keys *k, size_t i, const char *text, size_t n,
		     char out[SRS_HASH_LEN + 1])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];
	br_hmac_key_init(&kc, &br_sha256_vtable, k->key[i], k->len[i]);
	br_hmac_init(&hc, &kc, 0);
	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)text[j];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		br_hmac_update(&hc, &c, 1);
	}
	br_hmac_out(&hc, mac);
	uint64_t bits = 0;
	for (int j = 0; j < 5; j++)
		bits = bits << 8 | mac[j];
	for (int j = 0; j < SRS_HASH_LEN; j++)
		out[j] = b32[(bits >> (40 - 5 * (j + 1))) & 31];
	out[SRS_HASH_LEN] = 0;
}

/* 1 if the SRS_HASH_LEN characters at h match text's hash under any key
 * (case-insensitive; every key is tried, so timing says nothing about
 * which character was wrong). */
static int hash_ok(const struct srs_keys *k, const char *h, const char *text, size_t n)
{
	int ok = 0;
	for (size_t i = 0; i < k->n; i++) {
		char want[SRS_HASH_LEN + 1];
		unsigned diff = 0;
		srs_hash(k, i, text, n, want);
		for (int j = 0; j < SRS_HASH_LEN; j++) {
			int v = b32_value((unsigned char)h[j]);
			diff |= v < 0 ? 1u : (unsigned)(b32[v] ^ want[j]);
		}
		ok |= diff == 0;
	}
	return ok;
}

/* Split "local@domain" at its last '@'. -1 if there is none, or either
 * side is empty, or the address is over STORE_ADDR_MAX. */
static int split(const char *addr, size_t *at)
{
	size_t n = strnlen(addr, STORE_ADDR_MAX + 1);
	const char *p;
	if (n > STORE_ADDR_MAX || !(p = strrchr(addr, '@')) || p == addr || !p[1])
		return -1;
	*at = (size_t)(p - addr);
	return 0;
}

/* A local part we can carry inside ours: printable ASCII, not quoted. */
static int local_plain(const char *s, size_t n)
{
	if (n == 0 || s[0] == '"')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '@')
			return 0;
	return 1;
}

/* A domain we can carry inside a local part: LDH labels only (the '='
 * that separates the fields must not occur in it). */
static int domain_plain(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* Write local "@" domain into out, checking SRS_LOCAL_MAX and the sizes. */
static int emit(char *out, size_t cap, const char *local, size_t llen, const char *domain)
{
	size_t dlen = strlen(domain);
	if (llen > SRS_LOCAL_MAX || llen + 1 + dlen > STORE_ADDR_MAX || llen + 1 + dlen >= cap)
		return SRS_TOOLONG;
	memcpy(out, local, llen);
	out[llen] = '@';
	memcpy(out + llen + 1, domain, dlen + 1);
	return SRS_OK;
}

int srs_forward_k(const struct srs_keys *k, const char *from, const char *domain, unsigned day,
		  char *out, size_t cap)
{
	char text[2 * STORE_ADDR_MAX + 8], hash[SRS_HASH_LEN + 1], local[STORE_ADDR_MAX + 32];
	size_t at;
	int n;
	if (!from[0] || split(from, &at) < 0 || !local_plain(from, at) ||
	    !domain_plain(from + at + 1))
		return SRS_NOT;
	if (k->n == 0)
		return SRS_NOKEY;
	if (strlen(domain) > STORE_ADDR_MAX)
		return SRS_TOOLONG;
	if (at > 4 && str_ncasecmp_ascii(from, "SRS", 3) == 0 &&
	    (from[3] == '0' || from[3] == '1') && is_sep((unsigned char)from[4])) {
		/* Already rewritten by another forwarder: SRS1 names the
		 * first forwarder, whose own check then applies. */
		const char *fwd = from + at + 1, *rest = from + 4;
		size_t restlen = at - 4;
		if (from[3] == '1') {
			/* SRS1=HHH=fwd1=rest: keep fwd1 and rest, re-sign. */
			const char *p = memchr(from + 5, '=', at - 5), *q;
			if (!p || !(q = memchr(p + 1, '=', (size_t)(from + at - p - 1))) ||
			    q == p + 1)
				return SRS_NOT;
			fwd = p + 1;
			rest = q + 1;
			restlen = (size_t)(from + at - rest);
			if (restlen == 0)
				return SRS_NOT;
			n = snprintf(text, sizeof text, "1=%.*s=%.*s", (int)(q - fwd), fwd,
				     (int)restlen, rest);
			if (n < 0 || (size_t)n >= sizeof text)
				return SRS_TOOLONG;
			srs_hash(k, 0, text, (size_t)n, hash);
			n = snprintf(local, sizeof local, "SRS1=%s=%.*s=%.*s", hash, (int)(q - fwd),
				     fwd, (int)restlen, rest);
		} else {
			n = snprintf(text, sizeof text, "1=%s=%.*s", fwd, (int)restlen, rest);
			if (n < 0 || (size_t)n >= sizeof text)
				return SRS_TOOLONG;
			srs_hash(k, 0, text, (size_t)n, hash);
			n = snprintf(local, sizeof local, "SRS1=%s=%s=%.*s", hash, fwd,
				     (int)restlen, rest);
		}
	} else {
		char tt[3] = {b32[(day >> 5) & 31], b32[day & 31], 0};
		n = snprintf(text, sizeof text, "0=%s=%s=%.*s", tt, from + at + 1, (int)at, from);
		if (n < 0 || (size_t)n >= sizeof text)
			return SRS_TOOLONG;
		srs_hash(k, 0, text, (size_t)n, hash);
		n = snprintf(local, sizeof local, "SRS0=%s=%s=%s=%.*s", hash, tt, from + at + 1,
			     (int)at, from);
	}
	if (n < 0 || (size_t)n >= sizeof local)
		return SRS_TOOLONG;
	return emit(out, cap, local, (size_t)n, domain);
}

/* The next '='-terminated field of s[*pos..end): its start and length;
 * -1 if no '=' follows. */
static int field(const char *s, size_t end, size_t *pos, const char **f, size_t *flen)
{
	const char *e = memchr(s + *pos, '=', end - *pos);
	if (!e)
		return -1;
	*f = s + *pos;
	*flen = (size_t)(e - *f);
	*pos = (size_t)(e - s) + 1;
	return 0;
}

static int reverse_srs0(const struct srs_keys *k, const char *a, size_t at, unsigned day, char *out,
			size_t cap)
{
	const char *h, *tt, *dom;
	size_t hl, tl, dl, pos = 5;
	char text[2 * STORE_ADDR_MAX + 8];
	if (field(a, at, &pos, &h, &hl) < 0 || field(a, at, &pos, &tt, &tl) < 0 ||
	    field(a, at, &pos, &dom, &dl) < 0 || hl != SRS_HASH_LEN || tl != 2 || dl == 0 ||
	    pos >= at)
		return SRS_SYNTAX;
	int hi = b32_value((unsigned char)tt[0]), lo = b32_value((unsigned char)tt[1]);
	if (hi < 0 || lo < 0)
		return SRS_SYNTAX;
	int n = snprintf(text, sizeof text, "0=%.2s=%.*s=%.*s", tt, (int)dl, dom, (int)(at - pos),
			 a + pos);
	if (n < 0 || (size_t)n >= sizeof text)
		return SRS_SYNTAX;
	if (!hash_ok(k, h, text, (size_t)n))
		return SRS_BADHASH;
	/* Days since signing, modulo the 1024-day cycle of TT: a date in the
	 * future shows up as a huge age and is refused with the old ones. */
	unsigned age = (day - (unsigned)(hi << 5 | lo)) & 1023;
	if (age > SRS_MAX_AGE_DAYS)
		return SRS_EXPIRED;
	char dbuf[STORE_ADDR_MAX + 1];
	memcpy(dbuf, dom, dl);
	dbuf[dl] = 0;
	return emit(out, cap, a + pos, at - pos, dbuf) == SRS_OK ? SRS_OK : SRS_SYNTAX;
}

static int reverse_srs1(const struct srs_keys *k, const char *a, size_t at, char *out, size_t cap)
{
	const char *h, *fwd;
	size_t hl, fl, pos = 5;
	char text[2 * STORE_ADDR_MAX + 8], local[STORE_ADDR_MAX + 8], dbuf[STORE_ADDR_MAX + 1];
	if (field(a, at, &pos, &h, &hl) < 0 || field(a, at, &pos, &fwd, &fl) < 0 ||
	    hl != SRS_HASH_LEN || fl == 0 || pos >= at)
		return SRS_SYNTAX;
	int n = snprintf(text, sizeof text, "1=%.*s=%.*s", (int)fl, fwd, (int)(at - pos), a + pos);
	if (n < 0 || (size_t)n >= sizeof text)
		return SRS_SYNTAX;
	if (!hash_ok(k, h, text, (size_t)n))
		return SRS_BADHASH;
	n = snprintf(local, sizeof local, "SRS0%.*s", (int)(at - pos), a + pos);
	if (n < 0 || (size_t)n >= sizeof local)
		return SRS_SYNTAX;
	memcpy(dbuf, fwd, fl);
	dbuf[fl] = 0;
	return emit(out, cap, local, (size_t)n, dbuf) == SRS_OK ? SRS_OK : SRS_SYNTAX;
}

int srs_reverse_k(const struct srs_keys *k, const char *addr, unsigned day, char *out, size_t cap)
{
	size_t at;
	if (split(addr, &at) < 0 || at < 5 || str_ncasecmp_ascii(addr, "SRS", 3) != 0 ||
	    (addr[3] != '0' && addr[3] != '1') || !is_sep((unsigned char)addr[4]))
		return SRS_NOT;
	if (addr[3] == '0')
		return reverse_srs0(k, addr, at, day, out, cap);
	return reverse_srs1(k, addr, at, out, cap);
}

/* ---- the secret ---- */

static void keys_parse(struct srs_keys *k, size_t len)
{
	char *p = k->buf, *end = k->buf + len;
	k->n = 0;
	while (p < end && k->n < SRS_KEYS_MAX) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n && p[0] != '#') {
			k->key[k->n] = p;
			k->len[k->n++] = n;
		}
		p = e + 1;
	}
}

/* Make DATADIR/srs.secret if it is missing: written to a private temp
 * file, then link()ed into place, which never replaces a secret another
 * process made meanwhile (that one wins, and both use it). */
static int secret_create(const char *path)
{
	char tmp[PATH_MAX], hex[65];
	unsigned char raw[32];
	uint32_t r;
	random_bytes(raw, sizeof raw);
	random_bytes(&r, sizeof r);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[64] = '\n';
	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld.%08x", path, (long)getpid(), r) >= (int)sizeof tmp)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int ok = write(fd, hex, sizeof hex) == (ssize_t)sizeof hex && fsync(fd) == 0;
	close(fd);
	if (ok && link(tmp, path) < 0 && errno != EEXIST)
		ok = 0;
	unlink(tmp);
	if (ok)
		log_info("srs: created %s", path);
	return ok ? 0 : -1;
}

int srs_keys_load(const char *datadir, int create, struct srs_keys *k)
{
	char path[PATH_MAX];
	k->n = 0;
	if (path_join(path, sizeof path, datadir, SRS_SECRET_FILE) < 0)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create && attempt == 0) {
			if (secret_create(path) < 0) {
				log_warn("srs: cannot create %s: %s", path, strerror(errno));
				return -1;
			}
			continue;
		}
		if (fd < 0) {
			if (errno != ENOENT || create)
				log_warn("srs: cannot read %s: %s", path, strerror(errno));
			return -1;
		}
		ssize_t n = read(fd, k->buf, SRS_SECRET_FILE_MAX);
		close(fd);
		if (n < 0) {
			log_warn("srs: cannot read %s: %s", path, strerror(errno));
			return -1;
		}
		k->buf[n] = 0;
		keys_parse(k, (size_t)n);
		if (k->n == 0) {
			log_warn("srs: %s holds no secret", path);
			return -1;
		}
		return 0;
	}
	return -1;
}

int srs_forward(const char *datadir, const char *from, const char *domain, char *out, size_t cap)
{
	struct srs_keys k; /* 4 KiB: connection threads have 256 KiB of stack */
	if (!from[0])
		return SRS_NOT;
	if (srs_keys_load(datadir, 1, &k) < 0)
		return SRS_NOKEY;
	return srs_forward_k(&k, from, domain, srs_today(), out, cap);
}

int srs_reverse(const char *datadir, const char *addr, char *out, size_t cap)
{
	struct srs_keys k; /* 4 KiB: connection threads have 256 KiB of stack */
	size_t at;
	if (split(addr, &at) < 0 || at < 5 || str_ncasecmp_ascii(addr, "SRS", 3) != 0)
		return SRS_NOT;
	/* No secret means we never signed anything: every SRS address here
	 * is forged (srs_reverse_k then answers SRS_BADHASH or SRS_SYNTAX). */
	srs_keys_load(datadir, 0, &k);
	return srs_reverse_k(&k, addr, srs_today(), out, cap);
}

int srs_rcpt(const char *datadir, const char *addr, int null_sender, char *out, size_t cap,
	     char *reply, size_t rcap)
{
	int rc = srs_reverse(datadir, addr, out, cap);
	if (rc == SRS_NOT)
		return 0;
	if (rc == SRS_EXPIRED)
		snprintf(reply, rcap,
			 "550 5.1.1 <%s>: SRS address expired (older than %d days): bounce not "
			 "forwarded",
			 addr, SRS_MAX_AGE_DAYS);
	else if (rc != SRS_OK)
		snprintf(reply, rcap, "550 5.1.1 <%s>: Invalid SRS address: %s", addr,
			 srs_strerror(rc));
	else if (!null_sender)
		snprintf(reply, rcap,
			 "550 5.7.1 <%s>: SRS addresses take only bounces (MAIL FROM:<>)", addr);
	else
		return 1;
	return -1;
}
