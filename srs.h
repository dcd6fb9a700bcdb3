/*
 * srs.h — the Sender Rewriting Scheme for mail brev forwards to outside
 * addresses (an alias with an external target), so the receiver's SPF
 * check sees a sender in the alias's own domain (docs/smtp.md, "Forwarding
 * and SRS").
 *
 * Forms (the separator after SRS0/SRS1 may be '=', '+' or '-' on input;
 * brev writes '='; HHHHHH is SRS_HASH_LEN base32 characters of an
 * HMAC-SHA256, TT the day number modulo 1024 in two base32 characters,
 * both compared case-insensitively since some MTAs lower-case local parts):
 *
 *   SRS0=HHHHHH=TT=orig-domain=orig-local@alias-domain
 *       a sender from outside, forwarded once by us;
 *   SRS1=HHHHHH=first-fwd-domain==HHH=TT=orig-domain=orig-local@alias-domain
 *       a sender that already was another forwarder's SRS0 (or SRS1)
 *       address: the bounce goes straight back to the first forwarder,
 *       which checks its own hash and timestamp; we check only ours.
 *
 * The hash covers the lower-cased text it protects: "0=TT=domain=local"
 * for SRS0, "1=first-fwd-domain=rest" for SRS1 (rest: what followed
 * "SRS0" in the first forwarder's address, separator included).
 *
 * The secret lives in DATADIR/srs.secret (mode 600, created on first use
 * with 32 random bytes in hex): one secret per line, the first signs and
 * every line verifies, so a key can be rotated without breaking the
 * bounces of mail forwarded in the last SRS_MAX_AGE_DAYS days.
 *
 * Nothing here allocates; every input is bounded (addresses longer than
 * STORE_ADDR_MAX are refused). Thread-safe: the secret is read from the
 * file on every call.
 */
#ifndef BREV_SRS_H
#define BREV_SRS_H

#include <stddef.h>

#define SRS_HASH_LEN	    6  /* base32 characters: 30 bits */
#define SRS_MAX_AGE_DAYS    21 /* as postsrsd: older SRS0 addresses are refused */
#define SRS_SECRET_FILE	    "srs.secret"
#define SRS_KEYS_MAX	    8 /* lines of srs.secret used */
#define SRS_SECRET_FILE_MAX 4096
#define SRS_LOCAL_MAX	    64 /* RFC 5321 4.5.3.1.1: a longer rewrite is not made */

enum srs_rc {
	SRS_OK = 0,
	SRS_NOT = 1,	  /* not an SRS address / no rewrite applies */
	SRS_SYNTAX = -1,  /* looks like SRS0/SRS1 but is malformed */
	SRS_BADHASH = -2, /* the hash is not ours: forged or damaged */
	SRS_EXPIRED = -3, /* genuine, but older than SRS_MAX_AGE_DAYS */
	SRS_TOOLONG = -4, /* the rewritten address would exceed the limits */
	SRS_NOKEY = -5,	  /* srs.secret unreadable, empty, or not creatable */
};

/* Words for an srs_rc, for logs and replies. */
const char *srs_strerror(int rc);

struct srs_keys {
	const char *key[SRS_KEYS_MAX]; /* point into buf or the caller's memory */
	size_t len[SRS_KEYS_MAX];
	size_t n;
	char buf[SRS_SECRET_FILE_MAX + 1];
};

/* Read DATADIR/srs.secret into *k. With create, a missing file is made
 * first (mode 600; two processes racing both end up with the same file).
 * 0, or -1 (then no key; logged). */
int srs_keys_load(const char *datadir, int create, struct srs_keys *k);

/* The day number srs_forward_k/srs_reverse_k expect: time / 86400. */
unsigned srs_today(void);

/* Rewrite the envelope sender `from` ("local@domain", canonical) for
 * mail forwarded through `domain` (ours) on day `day`. SRS_OK with the
 * new address in out[0..cap); SRS_NOT when from is not rewritable (the
 * null sender, a quoted local part, non-ASCII, an address literal);
 * SRS_TOOLONG when the result would not fit SRS_LOCAL_MAX / STORE_ADDR_MAX
 * or cap; SRS_NOKEY when k has no key. Pure: no I/O. */
int srs_forward_k(const struct srs_keys *k, const char *from, const char *domain, unsigned day,
		  char *out, size_t cap);
/* Undo one rewrite of `addr` (an address in one of our domains): SRS_OK
 * with where a bounce goes in out (the original sender for SRS0, the first
 * forwarder's SRS0 address for SRS1); SRS_NOT when addr's local part does
 * not start with SRS0/SRS1 and a separator; otherwise the refusal
 * (SRS_SYNTAX, SRS_BADHASH, SRS_EXPIRED for SRS0 older than
 * SRS_MAX_AGE_DAYS or dated in the future). The hash is checked before the
 * date, so only a genuine address is ever called expired. Pure. */
int srs_reverse_k(const struct srs_keys *k, const char *addr, unsigned day, char *out, size_t cap);

/* The same with DATADIR's secret (created by srs_forward if missing) and
 * today's date. */
int srs_forward(const char *datadir, const char *from, const char *domain, char *out, size_t cap);
int srs_reverse(const char *datadir, const char *addr, char *out, size_t cap);

/* At RCPT on the MX, for an address in one of our domains: 0 if it is
 * not an SRS address (look it up as usual); 1 if it is a genuine SRS
 * address and the sender is null (a bounce: send it on to out); -1 if it
 * must be refused, with the whole reply line (without CRLF) in reply
 * (550 5.1.1 for forged, malformed and expired addresses, 550 5.7.1 for
 * a non-null sender: only bounces go back through an SRS address). */
int srs_rcpt(const char *datadir, const char *addr, int null_sender, char *out, size_t cap,
	     char *reply, size_t rcap);

#endif
