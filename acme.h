/*
 * acme.h — the ACME client (RFC 8555) that obtains and renews the server
 * certificate from tls.acme (a directory URL), answering http-01 challenges
 * on brev's own http listener. docs/tls.md describes the whole cycle.
 *
 * Files, in DATADIR/acme/: account-key.pem (ECDSA P-256, made once),
 * account.url (the account's URL), key.pem + cert.pem (the certificate
 * being served). Nothing there is replaced until a new chain has been
 * downloaded and checked against its key: a failure at any step keeps the
 * certificate in use.
 */
#ifndef BREV_ACME_H
#define BREV_ACME_H

#include <stddef.h>
#include <time.h>

struct server;

#define ACME_BODY_MAX	(256 * 1024) /* largest response body accepted */
#define ACME_TOKEN_MAX	128	     /* a challenge token (RFC 8555 8.1: 128 bits base64url) */
#define ACME_KEYAUTH_MAX (ACME_TOKEN_MAX + 1 + 43)

/* DATADIR/acme/cert.pem and key.pem as paths, when tls.acme is set and
 * they exist and belong together (then serve those instead of tls.cert).
 * 1, or 0 (use tls.cert / tls.key). */
int acme_current(const char *datadir, char *cert, char *key, size_t cap);

/* The dates of DATADIR/acme/cert.pem and when it is due for renewal
 * (two thirds of its lifetime). 0, or -1 when there is none. */
int acme_dates(const char *datadir, time_t *not_before, time_t *not_after, time_t *due);

/* Start the renewal thread when tls.acme is set (no-op otherwise). It runs
 * at once when there is no ACME certificate yet, else when two thirds of the
 * current one's lifetime have passed; after a failure it retries after 1
 * minute, doubling up to a day. srv->tls gets the new pair on success.
 * 0 or -1. datadir is kept (absolute, or the process's working directory). */
int acme_start(struct server *srv, const char *datadir);
/* Run the renewal now (`brev cert renew` through control.sock). */
void acme_renew_now(void);
void acme_stop(void);

/* For http.c: the key authorization for a pending http-01 token, into out
 * (NUL-terminated). Its length, or 0 when the token is not pending. */
size_t acme_challenge(const char *token, char *out, size_t cap);

#endif
