/*
 * dkim.h — DKIM (RFC 6376) signing and verification, RSA-SHA256 and
 * Ed25519-SHA256 (RFC 8463), and the key files brev keeps for its domains.
 *
 * dkim.c holds the pure parts: the tag-list parser (3.2), header and body
 * canonicalisation (3.4, simple and relaxed), the signature itself and its
 * verification. dkim_keys.c holds key generation and the files in
 * DATADIR/dkim/ (see docs/auth-mail.md), and signing for a local domain.
 * Cryptography is libcrypto's EVP (OpenSSL 3, already linked for ldns):
 * BearSSL has no Ed25519.
 *
 * Everything that reads a message is bounded: DKIM_HDR_MAX bytes of header
 * section, DKIM_FIELDS_MAX fields, DKIM_SIGS_MAX signatures verified, and
 * every tag value by the field it sits in. Thread-safe: no shared state.
 */
#ifndef BREV_DKIM_H
#define BREV_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct spool;

#define DKIM_HDR_MAX	(256 * 1024) /* header section bytes looked at */
#define DKIM_FIELDS_MAX 1000	     /* header fields looked at */
#define DKIM_SIGS_MAX	5	     /* DKIM-Signature fields verified per message */
#define DKIM_TAGS_MAX	32	     /* tags in one tag-list */
#define DKIM_KEYREC_MAX 4096	     /* a key record (TXT strings joined) */

/* ---- tag lists (RFC 6376 3.2) ---- */

struct dkim_tag {
	const char *name; /* points into the input */
	size_t nlen;
	const char *val; /* value without surrounding white space; may be "" */
	size_t vlen;
	size_t voff, vend; /* [voff, vend) of the value in the input (for b=) */
};
/* Parse a tag-list s[0..n). Up to cap tags into t, *nt set. -1 on a syntax
 * error, a duplicate tag name, or more than cap tags. */
int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *t, size_t cap, size_t *nt);
/* The tag called name (case-sensitive, 3.2), or NULL. */
const struct dkim_tag *dkim_tag_get(const struct dkim_tag *t, size_t nt, const char *name);

/* ---- canonicalisation (RFC 6376 3.4) ---- */

enum dkim_canon { DKIM_SIMPLE = 0, DKIM_RELAXED = 1 };

/* One header field as it is hashed. field[0..n) is the raw field, name
 * through the final CRLF (folding included). Writes at most cap bytes to
 * out; returns the canonical length (> cap means it did not fit). */
size_t dkim_canon_header(const char *field, size_t n, int canon, char *out, size_t cap);

/* The body, as a push canonicaliser: bytes in, canonical bytes to sink.
 * Lines end in CRLF; trailing empty lines are held back and dropped at the
 * end (3.4.3, 3.4.4). */
struct dkim_body {
	int canon;
	int wsp;	/* relaxed: white space seen, not yet written */
	int cr;		/* a CR waits to see whether LF follows */
	int line_has;	/* the current line has content */
	int any;	/* anything written at all */
	uint64_t empty; /* empty lines held back */
	void (*sink)(void *arg, const char *p, size_t n);
	void *arg;
};
void dkim_body_init(struct dkim_body *b, int canon, void (*sink)(void *, const char *, size_t),
		    void *arg);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t n);
void dkim_body_end(struct dkim_body *b);

/* ---- a message as DKIM sees it ---- */

struct dkim_field {
	size_t off, len; /* the raw field in hdr, through its CRLF */
	size_t nlen;	 /* the length of its name */
};
/* The message is pre[0..prelen) followed by the spool's bytes: pre holds
 * header fields the caller adds in front (trace fields, Message-ID, ...). */
struct dkim_msg {
	char *hdr; /* the header section, without the empty line */
	size_t hlen;
	struct dkim_field *f;
	size_t nf;
	struct spool *sp;
	uint64_t body_off; /* in the spool: first byte after the empty line */
};
/* 0, or -1 when the header section is over DKIM_HDR_MAX or has more than
 * DKIM_FIELDS_MAX fields (then nothing is signed or verified). A message
 * without an empty line has an empty body. dkim_msg_free releases it. */
int dkim_msg_load(struct dkim_msg *m, const char *pre, size_t prelen, struct spool *sp);
void dkim_msg_free(struct dkim_msg *m);
/* 1 if field i is called name (ASCII case-insensitive). */
int dkim_field_is(const struct dkim_msg *m, size_t i, const char *name);
/* The value of field i unfolded into out (NUL-terminated, cut at cap). */
void dkim_field_value(const struct dkim_msg *m, size_t i, char *out, size_t cap);

/* ---- keys ---- */

enum dkim_alg { DKIM_RSA_SHA256 = 0, DKIM_ED25519_SHA256 = 1 };

struct dkim_key;
/* Make a new key (RSA-2048 or Ed25519) into a PKCS#8 PEM file of mode
 * 0600. 0, or -1 with err. */
int dkim_key_new(const char *path, int alg, char *err, size_t errlen);
/* Load a private key file. NULL with err. */
struct dkim_key *dkim_key_load(const char *path, char *err, size_t errlen);
void dkim_key_free(struct dkim_key **k);
int dkim_key_alg(const struct dkim_key *k);
/* The key's TXT record text "v=DKIM1; k=rsa; p=BASE64" into out. Returns
 * the length, 0 if it did not fit. */
size_t dkim_key_record(const struct dkim_key *k, char *out, size_t cap);

/* ---- signing ---- */

/* A complete "DKIM-Signature: ...\r\n" field (malloc'ed) for the message,
 * relaxed/relaxed, over the fields of DKIM_SIGN_FIELDS that are present
 * (every instance) plus one more "from" (oversigning: no From can be
 * added later). NULL with err. */
char *dkim_sign(const struct dkim_msg *m, const struct dkim_key *k, const char *domain,
		const char *selector, time_t now, char *err, size_t errlen);

/* ---- verification ---- */

enum dkim_res {
	DKIM_NONE = 0, /* no signature */
	DKIM_PASS,
	DKIM_FAIL,	/* the signature or the body hash does not match */
	DKIM_NEUTRAL,	/* syntactically valid but not acceptable (RFC 8601 2.7.1) */
	DKIM_POLICY,	/* acceptable crypto but a policy says no (rsa-sha1, small key) */
	DKIM_TEMPERROR, /* the key could not be fetched now */
	DKIM_PERMERROR, /* malformed signature or key record */
};
const char *dkim_res_name(int res);

struct dkim_result {
	int res;
	int alg; /* enum dkim_alg when known */
	char d[256];
	char s[64];
	char b[16]; /* the first 8 characters of b= (RFC 6008 header.b) */
	char why[128];
};
/* Key look-up: the TXT record at name into out (NUL-terminated). Returns a
 * dns_rc (DNS_OK, DNS_TEMP, DNS_PERM). dkim_txt_dns goes through dns.c. */
typedef int (*dkim_txt_fn)(void *arg, const char *name, char *out, size_t cap);
int dkim_txt_dns(void *arg, const char *name, char *out, size_t cap);

/* Verify every DKIM-Signature field (the first DKIM_SIGS_MAX, top down).
 * Returns how many results were written to r (at most cap); 0 means no
 * signature (dkim=none). */
size_t dkim_verify(const struct dkim_msg *m, struct dkim_result *r, size_t cap, dkim_txt_fn fn,
		   void *arg, time_t now);

/* ---- DATADIR/dkim (dkim_keys.c) ---- */

/* Make a new selector for domain: "brevYYYYMM" (a "-N" suffix when that is
 * taken), an RSA key DOMAIN.SELECTOR.key and an Ed25519 key
 * DOMAIN.SELECTOR-ed.key (selector SELECTOR-ed), both 0600, and make it the
 * active one (DOMAIN.selector). The selector goes to sel. 0 or -1 with err. */
int dkim_keys_new(const char *datadir, const char *domain, char *sel, size_t selcap, char *err,
		  size_t errlen);
/* The active selector of domain; 0, or -1 if the domain has no key. */
int dkim_keys_active(const char *datadir, const char *domain, char *sel, size_t cap);
/* The TXT record text of one selector's key (sel may name the -ed one). */
size_t dkim_keys_record(const char *datadir, const char *domain, const char *sel, char *out,
			size_t cap);
/* Sign m for domain with its active keys (RSA, then Ed25519 when present):
 * the DKIM-Signature fields (malloc'ed, to go in front of the message), or
 * NULL when the domain has no key or signing failed (logged). */
char *dkim_sign_domain(const char *datadir, const struct dkim_msg *m, const char *domain,
		       time_t now);

#endif
