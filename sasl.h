/*
 * sasl.h — server-side SASL for SMTP, IMAP and POP3 (PLAIN RFC 4616, LOGIN,
 * CRAM-MD5 RFC 2195, SCRAM-SHA-256 RFC 7677), base64 (RFC 4648, strict),
 * password credentials (cred.h), and the failed-login slow-down.
 *
 * The protocol module does the framing ("334 ", "+ ", tags); this module
 * sees base64 text in and produces base64 text out.
 */
#ifndef BREV_SASL_H
#define BREV_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "cred.h"

/* ---- base64 ---- */
/* Encoded length for n input bytes, without NUL. */
#define B64_ENCLEN(n) ((((n) + 2) / 3) * 4)
/* Encode; out must hold B64_ENCLEN(n)+1. Returns the length. */
size_t b64_encode(const void *in, size_t n, char *out);
/* Decode strictly (padding required, no white space, no junk). Returns the
 * decoded length or -1; never writes more than cap bytes. */
long b64_decode(const char *in, size_t n, void *out, size_t cap);

/* ---- credentials ---- */
/* Make a credential from a password (yescrypt + CRAM + SCRAM). 0 or -1. */
int cred_make(struct cred *out, const char *password);
/* Constant-time check of a plaintext password. 1 = match, 0 = not. */
int cred_check(const struct cred *c, const char *password);
/* A random password for `user add --random`: 20 chars, unambiguous. */
void cred_random_password(char *out, size_t cap);

/* Look up a user's credential; fill *out and return 0, or -1 if unknown
 * (or not available now: the caller notes why in arg). Called from the
 * session's thread. */
typedef int (*sasl_lookup_fn)(void *arg, const char *user, struct cred *out);
/*
 * THE password check of every login path that sends a password: SASL PLAIN
 * and LOGIN, IMAP LOGIN, POP3 USER/PASS. It costs the same whether or not
 * the user exists: an unknown user is checked against a dummy yescrypt
 * hash (CRAM-MD5 and SCRAM use the same dummy credential inside sasl.c), so
 * timing cannot tell "no such user" from "wrong password" (issue 22).
 * With peer (the client's address, no port) it first waits its turn in the
 * throttle (auth_gate) and records the outcome (auth_note).
 * 1: the user exists and the password matches; 0 otherwise; -1 the
 * throttle refused the attempt without checking (answer "try later").
 */
int cred_verify(sasl_lookup_fn lookup, void *arg, const char *peer, const char *user,
		const char *password);

/* ---- mechanisms ---- */
enum sasl_mech { SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5, SASL_SCRAM_SHA_256, SASL_NMECH };
/* Parse a mechanism name (case-insensitive); -1 if unknown. */
int sasl_mech_parse(const char *name);
/* Space-separated mechanism names for CAPABILITY/EHLO/CAPA. Plaintext
 * mechanisms (PLAIN, LOGIN) only when plain_ok (TLS or loopback). */
const char *sasl_mech_list(int plain_ok);

enum sasl_step_rc {
	SASL_CONTINUE = 0,  /* send *out as a challenge, read the next response */
	SASL_DONE,          /* authenticated as sasl_user(); *out may hold final
			       server data (SCRAM: send as challenge, expect empty) */
	SASL_FAIL,          /* wrong credentials */
	SASL_BAD,           /* malformed input (bad base64, protocol violation) */
	SASL_CANCEL,        /* client sent "*" */
};

#define SASL_OUT_MAX 1024
#define SASL_IN_MAX 12288   /* longest base64 response accepted */

struct sasl_session;
struct sasl_session *sasl_new(int mech, const char *hostname, sasl_lookup_fn lookup, void *arg);
void sasl_free(struct sasl_session **sp);
/* One exchange. in: the client's base64 text (NULL at the start when there
 * is no initial response; "=" means an empty initial response). out gets
 * the base64 challenge (NUL-terminated, at most SASL_OUT_MAX). */
int sasl_step(struct sasl_session *s, const char *in, char *out, size_t outcap);
/* The authenticated (authorization) identity after SASL_DONE. */
const char *sasl_user(const struct sasl_session *s);
/* The client's address (no port): every mechanism then takes its turn in
 * the throttle once the user name is known and records the outcome. The
 * protocol modules always set it; without it there is no throttle. */
void sasl_set_peer(struct sasl_session *s, const char *peer);
/* After SASL_FAIL: 1 if the throttle refused the attempt unchecked. */
int sasl_throttled(const struct sasl_session *s);

/*
 * The whole challenge/response exchange after "AUTH MECH [initial]", the
 * same for SMTP (RFC 4954), POP3 (RFC 5034) and IMAP: at most max_rounds
 * challenges; additional data with success is sent as one more challenge
 * that the client must answer with an empty line ("*" cancels). The caller
 * supplies the framing and the I/O, so this module still does none:
 *   challenge(arg, b64)   send one challenge ("334 b64", "+ b64")
 *   response(arg, &long)  the client's next line (valid until the next
 *                         read), or NULL: *toolong set when the line was
 *                         over the limit (consumed), else the connection failed
 * Returns an enum sasl_step_rc, or -1 when the connection failed.
 */
struct sasl_io {
	void (*challenge)(void *arg, const char *b64);
	const char *(*response)(void *arg, int *toolong);
	void *arg;
};
int sasl_exchange(struct sasl_session *s, const char *initial, int max_rounds,
		  const struct sasl_io *io);

/* ---- slow-down of failed logins (docs/auth.md has the model) ---- */
/* Take the attempt's turn and sleep until it comes. Failures are counted
 * per client address (IPv6: per /64) and per account name as typed (known
 * or not); a (name, address) pair that has logged in before counts only
 * its own failures, so neither a guesser elsewhere nor one behind the same
 * address can lock its owner out. 0: go on. -1: too many attempts are
 * queued; it slept the longest delay and the caller refuses unchecked.
 * cred_verify and the SASL mechanisms call these; the modules do not. */
int auth_gate(const char *peer, const char *name);
/* Record the outcome of the check auth_gate let through. */
void auth_note(const char *peer, const char *name, int ok);
/* What auth_gate would sleep now in ms, or -1 if it would refuse. */
long auth_gate_delay_ms(const char *peer, const char *name);
/* The address's part alone (tests): its turn, a failure, a success. */
int auth_throttle_wait(const char *peer);
void auth_throttle_fail(const char *peer);
void auth_throttle_ok(const char *peer);

/* ---- for tests and fuzz targets only; never called by the server ---- */
/* Replace the random part of the session's next challenge: CRAM-MD5's whole
 * challenge text, or the server half of the SCRAM-SHA-256 nonce (appended to
 * the client's, so it must be printable ASCII without ','). Call right after
 * sasl_new. 0, or -1 if text is too long or unfit. */
int sasl_test_set_nonce(struct sasl_session *s, const char *text);
/* Recompute the SCRAM-SHA-256 fields of c for this salt and iteration count
 * (RFC 7677's example uses a fixed salt and i=4096). 0 or -1. */
int sasl_test_cred_scram(struct cred *c, const char *password, const uint8_t salt[16],
			 uint32_t iter);
/* Scale the slow-down: base_ms after the first failure, doubling, capped at
 * max_ms. The defaults are 250 and 5000. */
void auth_throttle_test_config(unsigned base_ms, unsigned max_ms);
/* The longest queue of turns an address may have (0: the default, 30 s). */
void auth_throttle_test_queue(unsigned ms);
/* What auth_throttle_wait(peer) would sleep now, in milliseconds. */
long auth_throttle_delay_ms(const char *peer);

#endif
