/*
 * sieve_deliver.h — Sieve at local delivery (docs/sieve.md "At delivery"):
 * run each local recipient's active script on the message as it will be
 * stored, and turn the actions into
 *   - where the copies go (msg_in.place for store_deliver's one commit),
 *   - who refuses the message (reject/ereject, answered at SMTP time),
 *   - what happens once the commit returned: redirects and vacation replies
 *     queued, duplicate ids recorded.
 * sieve.c stays pure; this file does the side effects. A script that
 * cannot be read, compiled or run, or that hits a limit, means the implicit
 * keep for that recipient and one log line: no script loses a message.
 */
#ifndef BREV_SIEVE_DELIVER_H
#define BREV_SIEVE_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct spool;
struct deliver_place;

/* The message the script sees: header + body up to this many bytes (a
 * larger message is cut there, so `size` and `body` see the first
 * SIEVE_DELIVER_MAX bytes; headers are seen whole up to it). */
#define SIEVE_DELIVER_MAX (4u << 20)
/* Redirect loop protection: a message already carrying this account's
 * Delivered-To, or more Received fields than this, is not redirected
 * again (kept instead). */
#define SIEVE_REDIRECT_HOPS 25

struct sieve_plan;

/*
 * Before the commit: users/n the local accounts (the order of store_deliver),
 * rcpts (NULL, or per user the RCPT TO address that reached it, NULL for
 * the account's own address) the envelope "to" the script sees,
 * hdr + body the message as it will be stored (the spam verdict's
 * X-Spam-Status included), junk the spam verdict per user (NULL: none),
 * from the envelope sender ("" for <>), id the tracking id for logs. NULL
 * when no account has an active script: deliver as without Sieve.
 */
struct sieve_plan *sieve_plan_make(struct store *st, const struct config *cfg, const char *from,
				   const uint32_t *users, const char *const *rcpts, size_t n,
				   const char *hdr, size_t hlen, struct spool *body, const char *id);
/* Where each user's copies go (for msg_in.place); valid while p lives. */
const struct deliver_place *sieve_plan_place(const struct sieve_plan *p);
/* editheader (RFC 5293): 1 with *msg and *len (valid while p lives) when user
 * i's script edited the header and its copies must be those bytes (stored
 * by a commit of their own); 0 when the stored message is the shared one.
 * Edits of a message larger than SIEVE_DELIVER_MAX are not applied (the
 * script saw only part of it; logged). */
int sieve_plan_edited(const struct sieve_plan *p, size_t i, const char **msg, size_t *len);
/* User i's reject/ereject reason (one line, printable ASCII, at most 400
 * bytes), or NULL. A rejecting user's place stores nothing. */
const char *sieve_plan_reject(const struct sieve_plan *p, size_t i);
/* Before the local commit (like the remote recipients: if queueing fails
 * nothing was stored and the client retries): queue every redirect, each
 * its own commit. ST_OK, or ST_TEMP when one could not be queued. */
int sieve_plan_redirect(struct sieve_plan *p);
/* After a commit that returned ST_OK, rcs[i] each user's result: for the
 * users that got the message (rcs[i] == ST_OK, or NULL for all), queue the
 * vacation replies and record the duplicate ids. Failures are logged; the
 * delivery stands. */
void sieve_plan_after(struct sieve_plan *p, const int *rcs);
void sieve_plan_free(struct sieve_plan **p);

#endif
