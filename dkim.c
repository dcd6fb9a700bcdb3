/*
 * dkim.c — DKIM signatures (RFC 6376) with RSA-SHA256 and Ed25519-SHA256
 * (RFC 8463): the tag-list parser, simple and relaxed canonicalisation, the
 * message's header section as a list of fields, signing and verification.
 * Key files and the choice of selector are dkim_keys.c's; what the verdicts
 * mean for delivery is authres.c's.
 *
 * The header section is held in memory (at most DKIM_HDR_MAX); the body is
 * streamed from the spool through the push canonicaliser into SHA-256, so a
 * 50 MB message costs a few KiB here. libcrypto's EVP does the public-key
 * work; the signature algorithms follow RFC 8301 (no rsa-sha1, RSA keys of
 * at least 1024 bits) and RFC 8463 (Ed25519 signs the SHA-256 of the data).
 */
#include "dkim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dns.h"
#include "log.h"
#include "sasl.h"
#include "spool.h"
#include "util.h"

#define SIG_MAX 1024 /* bytes of a decoded signature (RSA-8192) */
#define KEY_MAX 2048 /* bytes of a decoded public key */

/* The fields brev signs (issue 9; RFC 6376 5.4.1 recommends these). */
static const char *const sign_fields[] = {
    "from",	  "reply-to",	  "subject",	  "date",
    "to",	  "cc",		  "message-id",	  "in-reply-to",
    "references", "mime-version", "content-type", "content-transfer-encoding",
};

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* ---- tag lists (RFC 6376 3.2) ---- */

static int tag_name_char(int c, int first)
{
	if (isalpha(c))
		return 1;
	return !first && (isdigit(c) || c == '_');
}

/* VALCHAR = %x21-3A / %x3C-7E */
static int valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *t, size_t cap, size_t *nt)
{
	size_t i = 0;
	*nt = 0;
	for (;;) {
		while (i < n && is_fws((unsigned char)s[i]))
			i++;
		if (i == n)
			return 0; /* an empty list, or a trailing ';' */
		size_t ns = i;
		if (!tag_name_char((unsigned char)s[i], 1))
			return -1;
		while (i < n && tag_name_char((unsigned char)s[i], 0))
			i++;
		size_t nlen = i - ns;
		while (i < n && is_fws((unsigned char)s[i]))
			i++;
		if (i == n || s[i] != '=')
			return -1;
		size_t eq = ++i;
		while (i < n && is_fws((unsigned char)s[i]))
			i++;
		size_t vs = i, ve = i;
		/* tag-value = [ tval *( 1*(WSP / FWS) tval ) ] */
		while (i < n && s[i] != ';') {
			unsigned char c = (unsigned char)s[i];
			if (valchar(c))
				ve = i + 1;
			else if (!is_fws(c))
				return -1;
			i++;
		}
		for (size_t k = 0; k < *nt; k++)
			if (t[k].nlen == nlen && memcmp(t[k].name, s + ns, nlen) == 0)
				return -1; /* 3.2: a duplicate tag is an error */
		if (*nt == cap)
			return -1;
		t[*nt] = (struct dkim_tag){.name = s + ns,
					   .nlen = nlen,
					   .val = s + vs,
					   .vlen = ve - vs,
					   .voff = eq,
					   .vend = ve};
		(*nt)++;
		if (i == n)
			return 0;
		i++; /* ';' */
	}
}

const struct dkim_tag *dkim_tag_get(const struct dkim_tag *t, size_t nt, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; i < nt; i++)
		if (t[i].nlen == l && memcmp(t[i].name, name, l) == 0)
			return &t[i];
	return NULL;
}

static int tag_is(const struct dkim_tag *t, const char *v)
{
	return t && t->vlen == strlen(v) && memcmp(t->val, v, t->vlen) == 0;
}

/* ---- header canonicalisation (3.4.1, 3.4.2) ---- */

size_t dkim_canon_header(const char *field, size_t n, int canon, char *out, size_t cap)
{
	size_t o = 0;
#define OUT(ch)                                                                                    \
	do {                                                                                       \
		if (o < cap)                                                                       \
			out[o] = (ch);                                                             \
		o++;                                                                               \
	} while (0)
	if (canon == DKIM_SIMPLE) {
		for (size_t i = 0; i < n; i++)
			OUT(field[i]);
		return o;
	}
	/* The field without its final CRLF. */
	if (n >= 2 && field[n - 2] == '\r' && field[n - 1] == '\n')
		n -= 2;
	const char *colon = memchr(field, ':', n);
	size_t nl = colon ? (size_t)(colon - field) : n;
	while (nl > 0 && is_fws((unsigned char)field[nl - 1]))
		nl--;
	for (size_t i = 0; i < nl; i++)
		OUT((char)tolower((unsigned char)field[i]));
	OUT(':');
	if (colon) {
		int wsp = 0, started = 0;
		for (size_t i = (size_t)(colon - field) + 1; i < n; i++) {
			unsigned char c = (unsigned char)field[i];
			if (c == '\r' || c == '\n')
				continue; /* unfold */
			if (is_wsp(c)) {
				wsp = 1;
				continue;
			}
			if (wsp && started)
				OUT(' ');
			wsp = 0;
			started = 1;
			OUT((char)c);
		}
	}
	OUT('\r');
	OUT('\n');
#undef OUT
	return o;
}

/* ---- body canonicalisation (3.4.3, 3.4.4) ---- */

void dkim_body_init(struct dkim_body *b, int canon, void (*sink)(void *, const char *, size_t),
		    void *arg)
{
	memset(b, 0, sizeof *b);
	b->canon = canon;
	b->sink = sink;
	b->arg = arg;
}

static void body_put(struct dkim_body *b, const char *p, size_t n)
{
	b->any = 1;
	b->sink(b->arg, p, n);
}

static void body_flush_empty(struct dkim_body *b)
{
	static const char crlfs[] =
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";
	while (b->empty > 0) {
		uint64_t k = b->empty < 16 ? b->empty : 16;
		body_put(b, crlfs, (size_t)k * 2);
		b->empty -= k;
	}
}

static void body_content(struct dkim_body *b, const char *p, size_t n)
{
	if (!b->line_has)
		body_flush_empty(b);
	if (b->wsp)
		body_put(b, " ", 1);
	b->wsp = 0;
	b->line_has = 1;
	body_put(b, p, n);
}

static void body_eol(struct dkim_body *b)
{
	if (b->line_has)
		body_put(b, "\r\n", 2);
	else
		b->empty++;
	b->line_has = 0;
	b->wsp = 0;
}

void dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (b->cr) {
			b->cr = 0;
			if (p[i] == '\n') {
				body_eol(b);
				i++;
				continue;
			}
			body_content(b, "\r", 1); /* a bare CR is content */
		}
		if (p[i] == '\r') {
			b->cr = 1;
			i++;
			continue;
		}
		if (b->canon == DKIM_RELAXED && is_wsp((unsigned char)p[i])) {
			b->wsp = 1;
			i++;
			continue;
		}
		/* A run of ordinary bytes goes out in one piece. */
		size_t j = i + 1;
		while (j < n && p[j] != '\r' &&
		       !(b->canon == DKIM_RELAXED && is_wsp((unsigned char)p[j])))
			j++;
		body_content(b, p + i, j - i);
		i = j;
	}
}

void dkim_body_end(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = 0;
		body_content(b, "\r", 1);
	}
	/* A last line without CRLF gets one; trailing empty lines go. */
	if (b->line_has)
		body_put(b, "\r\n", 2);
	if (b->canon == DKIM_SIMPLE && !b->any)
		body_put(b, "\r\n", 2); /* 3.4.3: an empty body is one CRLF */
}

/* ---- the message's header section ---- */

static int add_field(struct dkim_msg *m, size_t start, size_t end)
{
	if (m->nf == DKIM_FIELDS_MAX)
		return -1;
	if (m->nf % 64 == 0)
		m->f = xrealloc(m->f, (m->nf + 64) * sizeof *m->f);
	const char *colon = memchr(m->hdr + start, ':', end - start);
	m->f[m->nf++] = (struct dkim_field){.off = start,
					    .len = end - start,
					    .nlen = colon ? (size_t)(colon - (m->hdr + start)) : 0};
	return 0;
}

/* Split hdr into fields: a line starting with WSP continues the field. */
static int split_fields(struct dkim_msg *m)
{
	size_t i = 0, start = 0;
	while (i < m->hlen) {
		const char *nl = memchr(m->hdr + i, '\n', m->hlen - i);
		i = nl ? (size_t)(nl - m->hdr) + 1 : m->hlen;
		if (i < m->hlen && is_wsp((unsigned char)m->hdr[i]))
			continue;
		if (add_field(m, start, i) < 0)
			return -1;
		start = i;
	}
	return 0;
}

int dkim_msg_load(struct dkim_msg *m, const char *pre, size_t prelen, struct spool *sp)
{
	struct sbuf b = {.max = DKIM_HDR_MAX};
	char chunk[8192];
	uint64_t off = 0;
	int bol = 1, cr_line = 0, found = 0;
	memset(m, 0, sizeof *m);
	m->sp = sp;
	sbuf_add(&b, pre, prelen);
	while (!found && !b.over) {
		long got = spool_read_at(sp, off, chunk, sizeof chunk);
		if (got <= 0)
			break;
		long i;
		for (i = 0; i < got; i++) {
			char c = chunk[i];
			if (c == '\n' && (bol || cr_line)) {
				found = 1;
				i++;
				break;
			}
			cr_line = bol && c == '\r';
			bol = c == '\n';
		}
		sbuf_add(&b, chunk, (size_t)i);
		if (found) /* keep the fields, not the empty line */
			b.len -= cr_line ? 2 : 1;
		off += (uint64_t)(found ? i : got);
	}
	m->hdr = b.p ? b.p : xstrdup("");
	m->hlen = b.len;
	m->body_off = found ? off : spool_size(sp);
	if (b.over || split_fields(m) < 0) {
		dkim_msg_free(m);
		return -1;
	}
	return 0;
}

void dkim_msg_free(struct dkim_msg *m)
{
	free(m->hdr);
	free(m->f);
	m->hdr = NULL;
	m->f = NULL;
	m->nf = m->hlen = 0;
}

/* Name of field i without trailing white space before the colon. */
static size_t field_name(const struct dkim_msg *m, size_t i, const char **name)
{
	size_t nl = m->f[i].nlen;
	*name = m->hdr + m->f[i].off;
	while (nl > 0 && is_wsp((unsigned char)(*name)[nl - 1]))
		nl--;
	return nl;
}

int dkim_field_is(const struct dkim_msg *m, size_t i, const char *name)
{
	const char *n;
	size_t nl = field_name(m, i, &n);
	return nl == strlen(name) && nl > 0 && str_ncasecmp_ascii(n, name, nl) == 0;
}

void dkim_field_value(const struct dkim_msg *m, size_t i, char *out, size_t cap)
{
	const char *f = m->hdr + m->f[i].off;
	size_t len = m->f[i].len, o = 0, k = m->f[i].nlen + 1;
	if (m->f[i].nlen == 0 && !memchr(f, ':', len))
		k = len;
	for (; k < len && o + 1 < cap; k++)
		if (f[k] != '\r' && f[k] != '\n')
			out[o++] = f[k];
	out[o] = 0;
	char *t = str_trim(out);
	memmove(out, t, strlen(t) + 1);
}

/* ---- hashing ---- */

struct hsink {
	EVP_MD_CTX *ctx;
	uint64_t left; /* l= */
};

static void hash_sink(void *arg, const char *p, size_t n)
{
	struct hsink *h = arg;
	if (n > h->left)
		n = (size_t)h->left;
	h->left -= n;
	if (n)
		EVP_DigestUpdate(h->ctx, p, n);
}

/* SHA-256 of the canonical body (the first `limit` bytes of it). */
static int body_hash(const struct dkim_msg *m, int canon, uint64_t limit, unsigned char out[32])
{
	struct hsink h = {.ctx = EVP_MD_CTX_new(), .left = limit};
	struct dkim_body b;
	char buf[16384];
	uint64_t off = m->body_off;
	long got;
	unsigned len = 0;
	int rc = -1;
	if (!h.ctx || EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) != 1)
		goto out;
	dkim_body_init(&b, canon, hash_sink, &h);
	while ((got = spool_read_at(m->sp, off, buf, sizeof buf)) > 0) {
		dkim_body_feed(&b, buf, (size_t)got);
		off += (uint64_t)got;
	}
	if (got < 0)
		goto out;
	dkim_body_end(&b);
	rc = EVP_DigestFinal_ex(h.ctx, out, &len) == 1 && len == 32 ? 0 : -1;
out:
	EVP_MD_CTX_free(h.ctx);
	return rc;
}

static void canon_add(struct sbuf *b, const char *f, size_t n, int canon)
{
	char small[2048];
	size_t need = dkim_canon_header(f, n, canon, small, sizeof small);
	if (need <= sizeof small) {
		sbuf_add(b, small, need);
		return;
	}
	char *big = xmalloc(need);
	dkim_canon_header(f, n, canon, big, need);
	sbuf_add(b, big, need);
	free(big);
}

/* The signed header fields in h= order (5.4.2: several instances are taken
 * from the bottom up; a name with no instance left contributes nothing). */
static void hash_fields(const struct dkim_msg *m, const char *h, size_t hlen, int canon,
			struct sbuf *out)
{
	char *used = xcalloc(m->nf ? m->nf : 1, 1);
	size_t i = 0;
	while (i < hlen) {
		while (i < hlen && (is_fws((unsigned char)h[i]) || h[i] == ':'))
			i++;
		size_t s = i;
		while (i < hlen && h[i] != ':' && !is_fws((unsigned char)h[i]))
			i++;
		if (i == s)
			break;
		for (size_t k = m->nf; k-- > 0;) {
			const char *n;
			size_t nl = field_name(m, k, &n);
			if (!used[k] && nl == i - s && str_ncasecmp_ascii(n, h + s, nl) == 0) {
				used[k] = 1;
				canon_add(out, m->hdr + m->f[k].off, m->f[k].len, canon);
				break;
			}
		}
	}
	free(used);
}

/* ---- keys ---- */

struct dkim_key {
	EVP_PKEY *pk;
	int alg;
};

int dkim_key_alg(const struct dkim_key *k)
{
	return k->alg;
}

int dkim_key_new(const char *path, int alg, char *err, size_t errlen)
{
	EVP_PKEY *pk = alg == DKIM_ED25519_SHA256
			   ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			   : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	int rc = -1;
	if (!pk) {
		snprintf(err, errlen, "key generation failed");
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "%s: cannot write the key", path);
		fclose(f);
		unlink(path);
		goto out;
	}
	fclose(f);
	rc = 0;
out:
	EVP_PKEY_free(pk);
	return rc;
}

struct dkim_key *dkim_key_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		return NULL;
	}
	int alg;
	if (EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) >= 1024)
		alg = DKIM_RSA_SHA256;
	else if (EVP_PKEY_is_a(pk, "ED25519"))
		alg = DKIM_ED25519_SHA256;
	else {
		snprintf(err, errlen, "%s: neither an RSA (1024+ bits) nor an Ed25519 key", path);
		EVP_PKEY_free(pk);
		return NULL;
	}
	struct dkim_key *k = xcalloc(1, sizeof *k);
	k->pk = pk;
	k->alg = alg;
	return k;
}

void dkim_key_free(struct dkim_key **k)
{
	if (!*k)
		return;
	EVP_PKEY_free((*k)->pk);
	free(*k);
	*k = NULL;
}

size_t dkim_key_record(const struct dkim_key *k, char *out, size_t cap)
{
	unsigned char der[KEY_MAX], *p = der;
	char b64[B64_ENCLEN(KEY_MAX) + 1];
	size_t len = sizeof der;
	if (k->alg == DKIM_ED25519_SHA256) {
		/* RFC 8463 4.2: the raw 32-byte public key */
		if (EVP_PKEY_get_raw_public_key(k->pk, der, &len) != 1)
			return 0;
	} else {
		/* SubjectPublicKeyInfo, what every verifier accepts */
		int n = i2d_PUBKEY(k->pk, NULL);
		if (n <= 0 || (size_t)n > sizeof der || i2d_PUBKEY(k->pk, &p) != n)
			return 0;
		len = (size_t)n;
	}
	b64_encode(der, len, b64);
	int n = snprintf(out, cap, "v=DKIM1; k=%s; p=%s",
			 k->alg == DKIM_ED25519_SHA256 ? "ed25519" : "rsa", b64);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Sign or verify data with pk: RSA over SHA-256 (PKCS #1 v1.5), Ed25519
 * over the SHA-256 of the data (RFC 8463 3). */
static int pk_digest(const void *data, size_t len, unsigned char dg[32])
{
	unsigned n = 0;
	return EVP_Digest(data, len, dg, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

static int pk_sign(EVP_PKEY *pk, int alg, const void *data, size_t len, unsigned char *sig,
		   size_t *siglen)
{
	unsigned char dg[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;
	if (!ctx)
		return -1;
	if (alg == DKIM_ED25519_SHA256)
		ok = pk_digest(data, len, dg) == 0 &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen, dg, sizeof dg) == 1;
	else
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
		     EVP_DigestSign(ctx, NULL, siglen, data, len) == 1 && *siglen <= SIG_MAX &&
		     EVP_DigestSign(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int pk_verify(EVP_PKEY *pk, int alg, const void *data, size_t len, const unsigned char *sig,
		     size_t siglen)
{
	unsigned char dg[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;
	if (!ctx)
		return -1;
	if (alg == DKIM_ED25519_SHA256)
		ok = pk_digest(data, len, dg) == 0 &&
		     EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, dg, sizeof dg) == 1;
	else
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---- signing ---- */

/* Append s with FWS before it when the line would pass ~76 columns. */
static void fold_add(struct sbuf *b, size_t *col, const char *s, size_t n)
{
	if (*col + n > 76 && *col > 1) {
		sbuf_puts(b, "\r\n\t");
		*col = 1;
	}
	sbuf_add(b, s, n);
	*col += n;
}

static void b64_folded(struct sbuf *b, size_t *col, const unsigned char *d, size_t n)
{
	char *t = xmalloc(B64_ENCLEN(n) + 1);
	size_t len = b64_encode(d, n, t);
	for (size_t i = 0; i < len;) {
		size_t room = *col < 76 ? 76 - *col : 0;
		if (room == 0) {
			sbuf_puts(b, "\r\n\t");
			*col = 1;
			continue;
		}
		size_t k = len - i < room ? len - i : room;
		sbuf_add(b, t + i, k);
		*col += k;
		i += k;
	}
	free(t);
}

/* "h=" value: every present instance of the sign list, then "from". */
static void sign_list(const struct dkim_msg *m, struct sbuf *h)
{
	for (size_t s = 0; s < ARRAY_LEN(sign_fields); s++)
		for (size_t i = 0; i < m->nf; i++)
			if (dkim_field_is(m, i, sign_fields[s])) {
				if (h->len)
					sbuf_puts(h, ":");
				sbuf_puts(h, sign_fields[s]);
			}
	if (h->len)
		sbuf_puts(h, ":");
	sbuf_puts(h, "from");
}

char *dkim_sign(const struct dkim_msg *m, const struct dkim_key *k, const char *domain,
		const char *selector, time_t now, char *err, size_t errlen)
{
	unsigned char bh[32], sig[SIG_MAX];
	size_t siglen = sizeof sig, col;
	char t[32];
	struct sbuf hl = {.max = 65536}, f = {.max = 131072}, data = {.max = 3 * DKIM_HDR_MAX};
	char *ret = NULL;
	if (body_hash(m, DKIM_RELAXED, UINT64_MAX, bh) < 0) {
		snprintf(err, errlen, "cannot read the message body");
		return NULL;
	}
	sign_list(m, &hl);
	sbuf_puts(&f, "DKIM-Signature: v=1; a=");
	sbuf_puts(&f, k->alg == DKIM_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256");
	sbuf_puts(&f, "; c=relaxed/relaxed; d=");
	sbuf_puts(&f, domain);
	sbuf_puts(&f, "; s=");
	sbuf_puts(&f, selector);
	snprintf(t, sizeof t, "; t=%lld;", (long long)now);
	sbuf_puts(&f, t);
	sbuf_puts(&f, "\r\n\th=");
	col = 3;
	for (size_t i = 0; i < hl.len;) {
		size_t n = strcspn(hl.p + i, ":");
		fold_add(&f, &col, hl.p + i, n + (hl.p[i + n] == ':'));
		i += n + (hl.p[i + n] == ':');
	}
	sbuf_puts(&f, ";\r\n\tbh=");
	col = 4;
	b64_folded(&f, &col, bh, sizeof bh);
	sbuf_puts(&f, ";\r\n\tb=");
	col = 3;
	size_t before_b = f.len;
	/* What is signed: the fields, then this field with b= empty and no
	 * final CRLF (3.7). */
	hash_fields(m, hl.p, hl.len, DKIM_RELAXED, &data);
	sbuf_puts(&f, "\r\n");
	canon_add(&data, f.p, f.len, DKIM_RELAXED);
	f.len = before_b;
	data.len -= 2;
	if (hl.over || f.over || data.over ||
	    pk_sign(k->pk, k->alg, data.p, data.len, sig, &siglen) < 0) {
		snprintf(err, errlen, "signing failed");
		goto out;
	}
	b64_folded(&f, &col, sig, siglen);
	sbuf_puts(&f, "\r\n");
	if (!f.over) {
		ret = f.p;
		f.p = NULL;
	}
out:
	free(hl.p);
	free(f.p);
	free(data.p);
	return ret;
}

/* ---- verification ---- */

const char *dkim_res_name(int res)
{
	static const char *const n[] = {"none",	  "pass",      "fail",	   "neutral",
					"policy", "temperror", "permerror"};
	return res >= 0 && res < (int)ARRAY_LEN(n) ? n[res] : "permerror";
}

/* Base64 with folding white space inside (3.5 b=, bh=; 3.6.1 p=). */
static long b64_fws(const char *s, size_t n, unsigned char *out, size_t cap)
{
	char *t = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_fws((unsigned char)s[i]))
			t[k++] = s[i];
	long r = k ? b64_decode(t, k, out, cap) : 0;
	free(t);
	return r;
}

static int set_res(struct dkim_result *r, int res, const char *why)
{
	r->res = res;
	str_copy(r->why, why, sizeof r->why);
	return res;
}

/* A DNS name made of LDH labels (and '_'), for d= and s=. */
static int dns_word_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* i= must be d= or one of its subdomains (3.5); with key flag t=s exactly d=. */
static int auid_ok(const struct dkim_tag *i, const char *d, int strict)
{
	if (!i)
		return 1;
	const char *at = memchr(i->val, '@', i->vlen);
	if (!at)
		return 0;
	size_t dl = strlen(d), il = i->vlen - (size_t)(at + 1 - i->val);
	const char *id = at + 1;
	if (il == dl)
		return str_ncasecmp_ascii(id, d, dl) == 0;
	if (strict || il < dl + 1)
		return 0;
	return id[il - dl - 1] == '.' && str_ncasecmp_ascii(id + il - dl, d, dl) == 0;
}

/* One value of a colon-separated list (h= of the key, s=) equal to v. */
static int list_has(const struct dkim_tag *t, const char *v)
{
	size_t vl = strlen(v), i = 0;
	while (i < t->vlen) {
		while (i < t->vlen && (is_fws((unsigned char)t->val[i]) || t->val[i] == ':'))
			i++;
		size_t s = i;
		while (i < t->vlen && t->val[i] != ':' && !is_fws((unsigned char)t->val[i]))
			i++;
		if (i - s == vl && str_ncasecmp_ascii(t->val + s, v, vl) == 0)
			return 1;
	}
	return 0;
}

/* The public key from a key record (3.6.1). Returns a dkim_res (PASS = ok). */
static int key_parse(const char *rec, int alg, EVP_PKEY **pk, int *strict, struct dkim_result *r)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t nt;
	unsigned char der[KEY_MAX];
	if (dkim_tags_parse(rec, strlen(rec), t, ARRAY_LEN(t), &nt) < 0)
		return set_res(r, DKIM_PERMERROR, "key record syntax");
	const struct dkim_tag *v = dkim_tag_get(t, nt, "v"), *k = dkim_tag_get(t, nt, "k"),
			      *p = dkim_tag_get(t, nt, "p"), *h = dkim_tag_get(t, nt, "h"),
			      *s = dkim_tag_get(t, nt, "s"), *fl = dkim_tag_get(t, nt, "t");
	if (v && !tag_is(v, "DKIM1"))
		return set_res(r, DKIM_PERMERROR, "key record version");
	if (!p)
		return set_res(r, DKIM_PERMERROR, "key record without p=");
	if (p->vlen == 0)
		return set_res(r, DKIM_PERMERROR, "key revoked");
	int kalg = !k || tag_is(k, "rsa") ? DKIM_RSA_SHA256
		   : tag_is(k, "ed25519") ? DKIM_ED25519_SHA256
					  : -1;
	if (kalg != alg)
		return set_res(r, DKIM_PERMERROR, "key type does not match a=");
	if (h && !list_has(h, "sha256"))
		return set_res(r, DKIM_PERMERROR, "key does not allow sha256");
	if (s && !list_has(s, "*") && !list_has(s, "email"))
		return set_res(r, DKIM_PERMERROR, "key not for email");
	*strict = fl && list_has(fl, "s");
	long n = b64_fws(p->val, p->vlen, der, sizeof der);
	if (n <= 0)
		return set_res(r, DKIM_PERMERROR, "key p= not base64");
	const unsigned char *q = der;
	if (alg == DKIM_ED25519_SHA256) {
		*pk = n == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32) : NULL;
	} else {
		/* SubjectPublicKeyInfo as everyone publishes, or the bare
		 * RSAPublicKey that RFC 6376 3.6.1 literally describes. */
		*pk = d2i_PUBKEY(NULL, &q, n);
		if (!*pk) {
			q = der;
			*pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
		}
		if (*pk && !EVP_PKEY_is_a(*pk, "RSA")) {
			EVP_PKEY_free(*pk);
			*pk = NULL;
		}
	}
	if (!*pk)
		return set_res(r, DKIM_PERMERROR, "key p= unusable");
	if (alg == DKIM_RSA_SHA256 && EVP_PKEY_get_bits(*pk) < 1024) {
		EVP_PKEY_free(*pk);
		*pk = NULL;
		return set_res(r, DKIM_POLICY, "RSA key under 1024 bits (RFC 8301)");
	}
	return DKIM_PASS;
}

struct sigtags {
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t nt;
	const struct dkim_tag *a, *b, *bh, *c, *d, *h, *i, *l, *q, *s, *x, *v;
};

/* Check the tags of one signature; fills r->d, r->s, r->alg. */
static int sig_tags(const char *val, size_t vlen, struct sigtags *g, struct dkim_result *r,
		    time_t now)
{
	if (dkim_tags_parse(val, vlen, g->t, ARRAY_LEN(g->t), &g->nt) < 0)
		return set_res(r, DKIM_PERMERROR, "signature syntax");
#define G(x) g->x = dkim_tag_get(g->t, g->nt, #x)
	G(a), G(b), G(bh), G(c), G(d), G(h), G(i), G(l), G(q), G(s), G(x), G(v);
#undef G
	if (!g->v || !g->a || !g->b || !g->bh || !g->d || !g->h || !g->s)
		return set_res(r, DKIM_PERMERROR, "signature lacks a required tag");
	if (g->d->vlen < sizeof r->d && dns_word_ok(g->d->val, g->d->vlen)) {
		memcpy(r->d, g->d->val, g->d->vlen);
		r->d[g->d->vlen] = 0;
		str_lower(r->d);
	}
	if (g->s->vlen < sizeof r->s && dns_word_ok(g->s->val, g->s->vlen)) {
		memcpy(r->s, g->s->val, g->s->vlen);
		r->s[g->s->vlen] = 0;
	}
	size_t bl = 0;
	for (size_t k = 0; k < g->b->vlen && bl < 8; k++)
		if (!is_fws((unsigned char)g->b->val[k]))
			r->b[bl++] = g->b->val[k];
	r->b[bl] = 0;
	if (!tag_is(g->v, "1"))
		return set_res(r, DKIM_PERMERROR, "signature version");
	if (!r->d[0] || !r->s[0])
		return set_res(r, DKIM_PERMERROR, "bad d= or s=");
	if (tag_is(g->a, "rsa-sha256"))
		r->alg = DKIM_RSA_SHA256;
	else if (tag_is(g->a, "ed25519-sha256"))
		r->alg = DKIM_ED25519_SHA256;
	else if (tag_is(g->a, "rsa-sha1"))
		return set_res(r, DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)");
	else
		return set_res(r, DKIM_NEUTRAL, "unknown algorithm");
	if (!list_has(g->h, "from"))
		return set_res(r, DKIM_PERMERROR, "From not signed");
	if (g->q && !list_has(g->q, "dns/txt"))
		return set_res(r, DKIM_PERMERROR, "unknown q=");
	if (g->i && !auid_ok(g->i, r->d, 0))
		return set_res(r, DKIM_PERMERROR, "i= not within d=");
	if (g->x) {
		long long x;
		char tmp[24];
		if (g->x->vlen == 0 || g->x->vlen >= sizeof tmp)
			return set_res(r, DKIM_PERMERROR, "bad x=");
		memcpy(tmp, g->x->val, g->x->vlen);
		tmp[g->x->vlen] = 0;
		if (parse_int(tmp, 0, 99999999999LL, &x) < 0)
			return set_res(r, DKIM_PERMERROR, "bad x=");
		if ((long long)now > x)
			return set_res(r, DKIM_PERMERROR, "signature expired");
	}
	return DKIM_PASS;
}

/* c= "header[/body]" (3.5); default simple/simple. */
static int canon_parse(const struct dkim_tag *c, int *hc, int *bc)
{
	*hc = *bc = DKIM_SIMPLE;
	if (!c)
		return 0;
	const char *slash = memchr(c->val, '/', c->vlen);
	size_t hl = slash ? (size_t)(slash - c->val) : c->vlen;
	for (int part = 0; part < 2; part++) {
		const char *s = part ? (slash ? slash + 1 : NULL) : c->val;
		size_t n = part ? (slash ? c->vlen - hl - 1 : 0) : hl;
		int *out = part ? bc : hc;
		if (!s)
			break;
		if (n == 6 && memcmp(s, "simple", 6) == 0)
			*out = DKIM_SIMPLE;
		else if (n == 7 && memcmp(s, "relaxed", 7) == 0)
			*out = DKIM_RELAXED;
		else
			return -1;
	}
	return 0;
}

static int verify_one(const struct dkim_msg *m, size_t fi, struct dkim_result *r, dkim_txt_fn fn,
		      void *arg, time_t now)
{
	const char *f = m->hdr + m->f[fi].off;
	size_t vstart = m->f[fi].nlen + 1, flen = m->f[fi].len;
	struct sigtags *g = xcalloc(1, sizeof *g);
	unsigned char bh[32], want[64], sig[SIG_MAX];
	char name[sizeof r->s + sizeof r->d + 16], *rec = xmalloc(DKIM_KEYREC_MAX);
	EVP_PKEY *pk = NULL;
	struct sbuf data = {.max = 3 * DKIM_HDR_MAX};
	int hc, bc, strict = 0;
	uint64_t limit = UINT64_MAX;
	long siglen, bhlen;
	if (sig_tags(f + vstart, flen - vstart, g, r, now) != DKIM_PASS)
		goto out;
	if (canon_parse(g->c, &hc, &bc) < 0) {
		set_res(r, DKIM_PERMERROR, "bad c=");
		goto out;
	}
	if (g->l) {
		char tmp[24];
		long long l;
		if (g->l->vlen == 0 || g->l->vlen >= sizeof tmp)
			goto bad_l;
		memcpy(tmp, g->l->val, g->l->vlen);
		tmp[g->l->vlen] = 0;
		if (parse_int(tmp, 0, (long long)1 << 62, &l) < 0)
			goto bad_l;
		limit = (uint64_t)l;
	}
	bhlen = b64_fws(g->bh->val, g->bh->vlen, want, sizeof want);
	siglen = b64_fws(g->b->val, g->b->vlen, sig, sizeof sig);
	if (bhlen != 32 || siglen <= 0) {
		set_res(r, DKIM_PERMERROR, "bad b= or bh=");
		goto out;
	}
	snprintf(name, sizeof name, "%s._domainkey.%s", r->s, r->d);
	int drc = fn(arg, name, rec, DKIM_KEYREC_MAX);
	if (drc == DNS_TEMP) {
		set_res(r, DKIM_TEMPERROR, "key look-up failed");
		goto out;
	}
	if (drc != DNS_OK) {
		set_res(r, DKIM_PERMERROR, "no key");
		goto out;
	}
	if (key_parse(rec, r->alg, &pk, &strict, r) != DKIM_PASS)
		goto out;
	if (strict && g->i && !auid_ok(g->i, r->d, 1)) {
		set_res(r, DKIM_PERMERROR, "i= must equal d= (key flag t=s)");
		goto out;
	}
	if (body_hash(m, bc, limit, bh) < 0) {
		set_res(r, DKIM_TEMPERROR, "cannot read the body");
		goto out;
	}
	if (memcmp(bh, want, 32) != 0) {
		set_res(r, DKIM_FAIL, "body hash mismatch");
		goto out;
	}
	/* 3.7: the signed fields, then this one with the b= value removed
	 * and without its final CRLF. */
	hash_fields(m, g->h->val, g->h->vlen, hc, &data);
	size_t bs = vstart + g->b->voff, be = vstart + g->b->vend;
	char *self = xmalloc(flen);
	memcpy(self, f, bs);
	memcpy(self + bs, f + be, flen - be);
	size_t selflen = flen - (be - bs);
	if (selflen < 2 || self[selflen - 2] != '\r') {
		self = xrealloc(self, selflen + 2);
		memcpy(self + selflen, "\r\n", 2);
		selflen += 2;
	}
	size_t before = data.len;
	canon_add(&data, self, selflen, hc);
	free(self);
	if (data.len >= before + 2)
		data.len -= 2; /* no CRLF after the signature field */
	if (data.over) {
		set_res(r, DKIM_PERMERROR, "header too large");
		goto out;
	}
	if (pk_verify(pk, r->alg, data.p, data.len, sig, (size_t)siglen) < 0)
		set_res(r, DKIM_FAIL, "signature mismatch");
	else
		set_res(r, DKIM_PASS, "");
	goto out;
bad_l:
	set_res(r, DKIM_PERMERROR, "bad l=");
out:
	EVP_PKEY_free(pk);
	free(data.p);
	free(rec);
	free(g);
	return r->res;
}

size_t dkim_verify(const struct dkim_msg *m, struct dkim_result *r, size_t cap, dkim_txt_fn fn,
		   void *arg, time_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nf && n < cap && n < DKIM_SIGS_MAX; i++) {
		if (!dkim_field_is(m, i, "DKIM-Signature"))
			continue;
		memset(&r[n], 0, sizeof r[n]);
		verify_one(m, i, &r[n], fn, arg, now);
		n++;
	}
	return n;
}

/* ---- key look-up through dns.c ---- */

struct txt_first {
	char *out;
	size_t cap;
	int got;
};

static void txt_cb(void *arg, const char *txt, size_t len)
{
	struct txt_first *t = arg;
	/* 3.6.2.2: several records make the result undefined; take the
	 * first that fits. */
	if (t->got || len >= t->cap)
		return;
	memcpy(t->out, txt, len);
	t->out[len] = 0;
	t->got = 1;
}

int dkim_txt_dns(void *arg, const char *name, char *out, size_t cap)
{
	struct txt_first t = {.out = out, .cap = cap};
	char why[256];
	int rc = dns_txt(name, txt_cb, &t, why, sizeof why);
	if (rc == DNS_OK && !t.got)
		return DNS_PERM;
	if (rc != DNS_OK)
		log_debug("dkim: %s: %s", name, why);
	return rc;
}
