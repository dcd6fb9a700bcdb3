/*
 * smtp.h — the pieces of the SMTP server that are pure functions or shared
 * with `brev sendmail`: the RFC 5321 command and address parser
 * (smtp_addr.c), the trace header and recipient bookkeeping and the commit
 * of one message into the store (smtp_msg.c). The session itself
 * (smtp_serve) is declared in server.h and lives in smtp.c.
 *
 * Parsers take the input with its length (no NUL needed), never allocate,
 * and fail on anything outside the grammar: every byte they see came from
 * the network.
 */
#ifndef BREV_SMTP_H
#define BREV_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mailbox.h"

struct config;
struct spool;
struct store;

/* RFC 5321 4.5.3.1 size limits. */
#define SMTP_LOCAL_MAX	  64   /* local part */
#define SMTP_DOMAIN_MAX	  255  /* domain */
#define SMTP_LABEL_MAX	  63   /* one DNS label */
#define SMTP_CMD_MAX	  512  /* command line including CRLF */
#define SMTP_TEXT_MAX	  1000 /* text line including CRLF */
#define SMTP_RCPT_MAX	  100  /* recipients per message (4.5.3.1.8) */
#define SMTP_HELO_MAX	  255
#define SMTP_RECEIVED_MAX 30 /* more Received: fields than this is a loop */

/* ---- addresses (RFC 5321 4.1.2, RFC 6531 3.3) ---- */

enum smtp_addr_flag {
	SA_NULL = 1 << 0,	/* the null reverse-path <> */
	SA_QUOTED = 1 << 1,	/* local part kept as a Quoted-string */
	SA_LITERAL = 1 << 2,	/* domain is an address literal [..] */
	SA_UTF8 = 1 << 3,	/* non-ASCII octets in the address */
	SA_ROUTE = 1 << 4,	/* a source route was given (and dropped) */
	SA_POSTMASTER = 1 << 5, /* RCPT TO:<Postmaster> without a domain */
};

/* Parse options. */
enum smtp_path_opt {
	SP_NULL_OK = 1 << 0,	   /* "<>" allowed (MAIL) */
	SP_POSTMASTER_OK = 1 << 1, /* "<Postmaster>" allowed (RCPT) */
	SP_NO_BRACKETS = 1 << 2,   /* a bare Mailbox, no <> (sendmail arguments) */
};

struct smtp_addr {
	/* Canonical form: "local@domain", the domain lower-cased (ASCII), a
	 * quoted local part reduced to a Dot-string when it is one, otherwise
	 * re-quoted minimally. "" for <>, "postmaster" for SA_POSTMASTER. */
	char addr[STORE_ADDR_MAX + 1];
	size_t dom;	/* offset of the domain in addr (after the '@') */
	unsigned flags; /* enum smtp_addr_flag */
};

enum smtp_addr_rc {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_SYNTAX = -1,	/* not a Path / Mailbox */
	SMTP_ADDR_TOOLONG = -2, /* over the RFC 5321 4.5.3.1 limits */
};

/* Parse a Path ("<" [A-d-l ":"] Mailbox ">") at s[0..n). On success fills
 * *out, sets *used to the octets consumed (through '>') and returns 0.
 * UTF-8 (RFC 6531) is accepted when well-formed and flagged SA_UTF8: the
 * caller decides whether the transaction allows it. */
int smtp_path_parse(const char *s, size_t n, unsigned opts, struct smtp_addr *out, size_t *used);
/* The domain part of a parsed address ("" for <> and Postmaster). */
static inline const char *smtp_addr_domain(const struct smtp_addr *a)
{
	return a->addr + a->dom;
}
/* 1 if the local part contains characters that have meant routing to some
 * MTA ('%', '!', or a quoted '@'): never accepted for local delivery. */
int smtp_addr_routing_chars(const struct smtp_addr *a);
/* 1 if s[0..n) is a valid Domain (LDH labels; U-labels when utf8). */
int smtp_domain_ok(const char *s, size_t n, int utf8);
/* Length of the well-formed UTF-8 sequence at s (1..4), 0 if malformed. */
int smtp_utf8_len(const unsigned char *s, size_t n);

/* Walk the addresses of an RFC 5322 address-list field value (3.4:
 * display names, angle addresses, groups, comments, quoted strings; the
 * value as stored, RFC 2047 words left encoded: they only ever sit in
 * display names). Each address goes to cb as a NUL-terminated string,
 * without its angle brackets; one without '@' gets "@domain" when domain
 * is not NULL. Returns the count; -1 if cb returned non-zero (which stops
 * the walk); with strict, -2 for a value readers could take two ways
 * (two angle addresses in one element, text after "<addr>", an unquoted
 * '@' in a display name, an unclosed quote, comment or bracket, an
 * element over 1024 octets), after the whole walk. */
int smtp_addr_list(const char *v, size_t n, const char *domain, int strict,
		   int (*cb)(void *arg, const char *addr), void *arg);

/* ---- commands ---- */

enum smtp_verb {
	SV_UNKNOWN = 0,
	SV_HELO,
	SV_EHLO,
	SV_MAIL,
	SV_RCPT,
	SV_DATA,
	SV_BDAT,
	SV_RSET,
	SV_NOOP,
	SV_QUIT,
	SV_VRFY,
	SV_EXPN,
	SV_HELP,
	SV_STARTTLS,
	SV_AUTH,
	SV_NVERBS
};
const char *smtp_verb_name(int verb);

struct smtp_cmd {
	int verb;	 /* enum smtp_verb */
	const char *arg; /* after the verb and its space(s); "" if none */
	size_t arglen;
};
/* Split a command line (without CRLF). -1 if it contains a NUL or a
 * control character other than TAB; verb SV_UNKNOWN for anything else. */
int smtp_cmd_parse(const char *line, size_t n, struct smtp_cmd *out);

enum smtp_body { BODY_7BIT = 0, BODY_8BITMIME };

struct smtp_mail {
	struct smtp_addr from;
	uint64_t size; /* SIZE= hint, 0 if none (UINT64_MAX if absurd) */
	int has_size;
	int body;     /* enum smtp_body */
	int smtputf8; /* SMTPUTF8 parameter given */
};
/* "FROM:<path> [params]" of MAIL. 0, or -1 with *err set to the complete
 * reply line (without CRLF) to send. */
int smtp_mail_parse(const char *arg, size_t n, struct smtp_mail *out, const char **err);
/* "TO:<path> [params]" of RCPT; utf8_ok: the transaction has SMTPUTF8. */
int smtp_rcpt_parse(const char *arg, size_t n, int utf8_ok, struct smtp_addr *out,
		    const char **err);
/* "chunk-size [LAST]" of BDAT. 0 or -1 (syntax). */
int smtp_bdat_parse(const char *arg, size_t n, uint64_t *size, int *last);
/* The EHLO/HELO argument: a Domain or an address literal, or at least a
 * harmless token (printable ASCII without parentheses, brackets only as a
 * literal) so it can go into a Received: field unchanged. */
int smtp_helo_ok(const char *s, size_t n);

/* Whether AUTH may be offered and used (RFC 4954 4, DESIGN §7): never on
 * the MX port; on submission only inside TLS or from loopback, so PLAIN and
 * LOGIN (offered whenever AUTH is) never cross a network in clear text. */
int smtp_auth_allowed(int kind, int is_tls, int is_loopback);

/* ---- trace fields ---- */

/* RFC 5322 3.3 date-time in UTC: "Mon, 2 Jan 2006 15:04:05 +0000". */
void smtp_date(char *out, size_t cap, time_t t);
/* A random message / queue id: 16 characters [0-9A-Z]. */
void smtp_make_id(char out[17]);

struct smtp_trace {
	const char *helo;	 /* EHLO/HELO name, NULL if none */
	const char *peer;	 /* client address */
	const char *rdns;	 /* its forward-confirmed name, NULL or "" if none */
	const char *by;		 /* our host name */
	const char *proto;	 /* "ESMTPSA"... (RFC 3848, RFC 6531) */
	const char *tls_version; /* NULL when not TLS */
	const char *tls_cipher;
	const char *id;
	const char *for_rcpt; /* the one recipient, else NULL */
	time_t when;
};
/* "Received: from HELO (RDNS or unknown [PEER])\r\n\t(using V with cipher C)\r\n\t
 * by BY (brev) with PROTO id ID\r\n\tfor <R>; DATE\r\n". Returns the length,
 * or 0 if it does not fit cap. */
size_t smtp_received(char *out, size_t cap, const struct smtp_trace *t);
/* Forward-confirmed reverse DNS of the address ip (text): its PTR name,
 * if that name's A/AAAA records include ip. Returns SMTP_RDNS_OK with the
 * name (lower case) in out; otherwise out is "" (the Received field then
 * says "unknown") and the result says why: no PTR record (NONE), a PTR
 * name that is not a host name or whose addresses do not include ip
 * (MISMATCH), or no answer (UNKNOWN: a time-out or server failure, which
 * says nothing about the client). 127.0.0.1 and ::1 are "localhost"
 * without a look-up. ms > 0: each look-up waits at most ms, one try per
 * server (dns_thread_timeout); 0: dns.c's shared time-outs. */
enum smtp_rdns { SMTP_RDNS_OK, SMTP_RDNS_NONE, SMTP_RDNS_MISMATCH, SMTP_RDNS_UNKNOWN };
enum smtp_rdns smtp_fcrdns(const char *ip, int ms, char *out, size_t cap);
/* The RFC 3848 / RFC 6531 "with" keyword for a session. */
const char *smtp_proto_name(int ehlo, int tls, int auth, int utf8);
/* Count Received: fields in the header section of the message in sp (stops
 * at the first empty line, or after max+1 found). */
int smtp_count_received(struct spool *sp, int max);

/* ---- who may send as whom (submission, docs/smtp.md) ---- */

/* 1 if the account uid (address user) may send as addr (canonical, not
 * the null sender): addr is listed in submission.shared_senders (itself
 * or "@its-domain"), or it is in a local domain and is the account's
 * own address or resolves to it (alias, user+tag, a catch-all). Never an
 * address literal. */
int smtp_sender_owned(struct store *st, const struct config *cfg, uint32_t uid, const char *user,
		      const char *addr);

#define SMTP_HEADER_CHECK_MAX (1u << 20) /* header section read for the check */
enum {
	SMTP_SENDERS_OK = 0,
	SMTP_SENDERS_NOTOWNED = -1, /* bad: the first address not owned */
	SMTP_SENDERS_UNCLEAR = -2,  /* bad: the field readers could take two ways */
	SMTP_SENDERS_TOOBIG = -3,   /* the header section is over the bound */
};
/* Every address of every From and Sender field in the header of the
 * message in sp must pass smtp_sender_owned (a message without either
 * field passes: nothing is claimed). Returns an SMTP_SENDERS_* value,
 * with what was wrong in bad[0..cap). */
int smtp_header_senders(struct store *st, const struct config *cfg, uint32_t uid,
			const char *user, struct spool *sp, char *bad, size_t cap);

/* store_resolve, and for postmaster@ a local domain (RFC 5321 4.5.1)
 * that resolves to nothing: postmaster of that domain, else its oldest
 * account, else the same for each domain of `domains` in order. */
int smtp_resolve(struct store *st, const struct config *cfg, const char *addr, struct resolved *r);

/* 1 if the message in sp holds a NUL octet: never valid in SMTP DATA
 * without BINARYMIME (RFC 5321 2.3.8, RFC 6152), never sendable in an
 * IMAP {n} literal (RFC 9051 4.3). */
int smtp_has_nul(struct spool *sp);

/* ---- local domains ---- */

/* The first domain of a space-separated `domains` list ("" if none). */
void smtp_first_domain(const char *domains, char *out, size_t cap);
/* A login name as an account address: "user@domain" as given (lower-cased),
 * or a bare "user" completed with the domain when `domains` holds exactly
 * one. 0, or -1 if it cannot be one. */
int smtp_login_addr(const char *domains, const char *login, char *out, size_t cap);

/* ---- recipients and commit ---- */

/* The targets of one message: local account ids and remote addresses, each
 * without duplicates. Callers bound the number of adds. A remote address
 * an alias forwards to carries the alias's domain in via[i] (NULL for a
 * recipient the client named itself): the commit rewrites the sender of
 * those copies with SRS (srs.h) in that domain. */
struct smtp_rcptset {
	uint32_t *users;
	char **rcpt;      /* per user: the RCPT TO address that first reached it
			   * (Sieve's envelope "to", with its +detail), or NULL */
	size_t nusers, capusers;
	char **ext, **via;
	size_t next, capext;
	/* Per user (same index as users), or NULL: file that account's copy
	 * into its \Junk mailbox (the spam filter's verdict, mailbox.h's
	 * msg_in.junk). Not owned: the caller sets it for one commit;
	 * smtp_rcptset_clear forgets it. */
	const unsigned char *junk;
	/* The logged-in user's envelope sender when the user wrote this
	 * message (submission), or NULL: the remote recipients it is queued
	 * for become known senders of that address in the queue's own commit
	 * (mailbox.h's msg_in.known_local). Not owned, as junk. */
	const char *writer;
};
void smtp_rcptset_add_user(struct smtp_rcptset *r, uint32_t id);
/* The same, remembering the RCPT TO address that reached the account. */
void smtp_rcptset_add_user_as(struct smtp_rcptset *r, uint32_t id, const char *rcpt);
void smtp_rcptset_add_ext(struct smtp_rcptset *r, const char *addr);
/* addr reached through an alias of domain via (ours). */
void smtp_rcptset_add_fwd(struct smtp_rcptset *r, const char *addr, const char *via);
/* Forget every entry; keeps the allocations. */
void smtp_rcptset_clear(struct smtp_rcptset *r);
void smtp_rcptset_free(struct smtp_rcptset *r);

struct smtp_outcome {
	size_t delivered; /* local accounts that got the message */
	size_t quota;	  /* refused: over quota now */
	size_t toobig;	  /* refused: can never fit */
	size_t gone;	  /* refused: account vanished meanwhile */
	size_t queued;	  /* remote recipients queued */
	uint64_t queue_id;
	/* Sieve reject/ereject (sieve_deliver.h): local accounts whose script
	 * refused the message. When every recipient is local and refused it,
	 * nothing was stored and `reject` holds the first reason, for a 550
	 * 5.7.1 at SMTP time; otherwise the refusing accounts got nothing and
	 * the sender a DSN with their reasons. */
	size_t rejected;
	char reject[408];
};
/* Queue the remote recipients (hdr_queue + body) then store the message
 * once for every local account (hdr_local + body), each committed before
 * return. ST_OK (then see *o; refused accounts are logged), or ST_TEMP when
 * a commit failed (nothing must be promised). id is the tracking id of the
 * log lines and the delivery journal (journal.h): the commits carry its
 * "accepted" event (from, size, Message-ID, recipients, then `via`: how it
 * came in, e.g. "client=IP proto=ESMTPSA"; may be NULL).
 * Forwarded copies (via set) of a sender from outside our domains are
 * queued with the SRS sender of their alias's domain (srs.h; needs cfg),
 * so one message may become several queue entries (o->queue_id is the
 * first; each carries the tracking id, the "accepted" event only once).
 * When the message was taken for someone (o->delivered or o->queued) and
 * cfg is not NULL, the accounts that refused it (quota) are bounced to
 * `from` with one DSN (dsn_send, 5.2.2; docs/smtp.md). */
int smtp_commit(struct store *st, const struct config *cfg, const char *from,
		const struct smtp_rcptset *r,
		const char *hdr_local, size_t hlen_local, const char *hdr_queue, size_t hlen_queue,
		struct spool *body, const char *id, const char *via, struct smtp_outcome *o);
/* The same with the local copies filed into mailbox `mbox` (NULL = INBOX;
 * "Junk" for DMARC quarantine); an account without that mailbox gets the
 * message in INBOX. */
int smtp_commit_mbox(struct store *st, const struct config *cfg, const char *from,
		     const struct smtp_rcptset *r, const char *mbox, const char *hdr_local, size_t hlen_local,
		     const char *hdr_queue, size_t hlen_queue, struct spool *body, const char *id,
		     const char *via, struct smtp_outcome *o);

#endif
