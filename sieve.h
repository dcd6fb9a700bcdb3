/*
 * sieve.h — the Sieve language (RFC 5228 and extensions): compile a script
 * once, run it on one message for one local recipient, get the actions.
 *
 * The interpreter is pure: no store, no network, no clock other than
 * env->now. Storing, redirect sending, vacation replies, duplicate and
 * vacation records and SMTP-time rejects belong to the caller (delivery).
 *
 * Shared by sieve-lang (owner: parser, interpreter) and sieve-serve
 * (ManageSieve, storage, delivery). Fields may be added, never removed or
 * renamed.
 */
#ifndef BREV_SIEVE_H
#define BREV_SIEVE_H

#include <stddef.h>
#include <stdint.h>

/* Limits. Every one is checked before the thing it bounds is buffered;
 * going over one fails sieve_compile with "line N: ..." or makes sieve_run
 * end in an implicit keep with out->err set. */
#define SIEVE_SCRIPT_MAX	(1024 * 1024) /* script bytes */
#define SIEVE_STRING_MAX	(64 * 1024)   /* one string literal / text: block, bytes */
#define SIEVE_NEST_MAX		32	      /* nested blocks and tests (allof(not(anyof(...)))) */
#define SIEVE_NODES_MAX		20000	      /* commands + tests + arguments in one script */
#define SIEVE_LIST_MAX		1024	      /* strings in one string list */
#define SIEVE_REGEX_MAX		512	      /* bytes of one :regex pattern */
#define SIEVE_REGEX_INPUT_MAX	(64 * 1024)   /* bytes of one value a :regex is run on */
#define SIEVE_ACTIONS_MAX	64	      /* actions in one run */
#define SIEVE_REDIRECTS_MAX	4	      /* redirects in one run */
#define SIEVE_STEPS_MAX		200000	    /* interpreter steps (tests evaluated + comparisons) */
#define SIEVE_VARS_MAX		128	    /* distinct variables */
#define SIEVE_VAR_MAX		(16 * 1024) /* bytes of one variable value */
#define SIEVE_INCLUDE_DEPTH_MAX 4	    /* nested include */
#define SIEVE_INCLUDES_MAX	16 /* include commands run in one run (each compiles its script) */
#define SIEVE_BODY_MAX		(1024 * 1024) /* decoded body bytes the body test looks at */
#define SIEVE_EDITS_MAX		32	      /* addheader/deleteheader commands run in one run */

struct sieve_script; /* compiled, immutable after sieve_compile; may be shared across threads */

/* 0 ok, *out owned by the caller (sieve_free). -1 with err = "line N:
 * message" (the first error) and *out NULL. */
int sieve_compile(const char *src, size_t len, struct sieve_script **out, char *err, size_t errlen);
void sieve_free(struct sieve_script *s);

/* The message and its envelope as seen at delivery of ONE local recipient.
 * All pointers are borrowed for the duration of sieve_run. */
struct sieve_msg {
	const char *data;
	size_t len;	      /* the whole RFC 5322 message as it will be stored */
	const char *env_from; /* MAIL FROM address, "" for <> */
	const char *env_to; /* this recipient's address as given in RCPT TO (may contain +detail) */
	const char *user;   /* the account's address */
};

/* What the interpreter may ask the caller (any callback may be NULL =
 * "no" / "not found"). */
struct sieve_env {
	void *ctx;
	int (*mailbox_exists)(void *ctx, const char *mbox); /* 1 yes, 0 no */
	/* RFC 7352: 1 seen within seconds, 0 not; the CALLER records id
	 * (from sieve_result.dup_ids) after delivery. */
	int (*duplicate_check)(void *ctx, const char *id, int64_t seconds);
	/* RFC 6609 include :personal NAME: the script text (borrowed until
	 * sieve_run returns), or NULL. */
	const char *(*script)(void *ctx, const char *name, size_t *len);
	int64_t now;		   /* unix seconds (date/currentdate) */
	const char *domain, *host; /* environment extension */
};

enum sieve_kind {
	SIEVE_KEEP,
	SIEVE_FILEINTO,
	SIEVE_REDIRECT,
	SIEVE_REJECT,
	SIEVE_EREJECT,
	SIEVE_DISCARD,
	SIEVE_VACATION
};

struct sieve_action {
	enum sieve_kind kind;
	char *mailbox; /* FILEINTO (UTF-8); NULL for KEEP ("INBOX" implied) */
	int create;
	char **flags; /* KEEP/FILEINTO: imap4flags at the time of the action */
	size_t nflags;
	char *address; /* REDIRECT */
	int copy;      /* :copy (FILEINTO/REDIRECT) */
	char *text;    /* REJECT/EREJECT reason */
	/* VACATION: emitted ONLY when the message-side RFC 3834 / RFC 5230
	 * 4.5 conditions hold (not Auto-Submitted, no List-* / Precedence
	 * bulk|list|junk, sender not MAILER-DAEMON / owner-* / *-request, the
	 * user (or an :addresses entry) is an explicit To/Cc recipient). The
	 * caller checks and records "one reply per (handle, sender) per
	 * seconds" and builds and sends the reply. */
	char *vac_to; /* the address to reply to (the envelope sender) */
	char *vac_from, *vac_subject, *vac_reason,
	    *vac_handle; /* handle: given or derived (5230 4.2) */
	int vac_mime;
	int64_t vac_seconds; /* :days converted, or :seconds */
	char *dup_id;	     /* unused (ids are in sieve_result.dup_ids) */
};

struct sieve_result {
	struct sieve_action *a; /* in order; an implicit keep appears as SIEVE_KEEP */
	size_t n;
	char **dup_ids; /* duplicate ids the caller must record after delivery */
	int64_t *dup_secs;
	size_t ndup;
	/* editheader (RFC 5293): the whole message with its header as the
	 * script left it, to be stored and redirected instead of
	 * sieve_msg.data; NULL when the script edited nothing. Owned by the
	 * result. */
	char *edited;
	size_t edited_len;
	char err[256]; /* non-empty: a run-time error/limit happened; the result
			  is then exactly one implicit SIEVE_KEEP (mail is never lost) */
};

/* 0, or -1 with out->err set and out holding exactly one implicit keep.
 * out is always initialised and must be released by sieve_result_free. */
int sieve_run(const struct sieve_script *s, const struct sieve_msg *m, const struct sieve_env *env,
	      struct sieve_result *out);
void sieve_result_free(struct sieve_result *r);

#endif
