/*
 * spam_verdict.h — the content verdict for one message and its local
 * recipients (docs/spam.md): the content tests and URI blocklists
 * (spam.c, dnsbl.c), then per account its Bayes classifier, known senders
 * and allow/block lists, and one action per recipient at that account's
 * strength. Used by the SMTP session (smtp.c, before the 250) and by
 * brev fetch's continuous mode (fetch_deliver.c): the same message gets
 * the same score whichever way it arrived.
 */
#ifndef BREV_SPAM_VERDICT_H
#define BREV_SPAM_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "spam.h"

struct config;
struct spool;
struct store;

struct spam_verdict_in {
	struct store *st;
	const struct config *cfg;
	const uint32_t *users; /* the local accounts */
	size_t nusers;
	int ext;		  /* also remote (forwarded) recipients: brev.conf's strength */
	const char *from;	  /* the envelope sender ("" for <>) */
	const char *who, *id;	  /* for the log lines: "smtp", "fetch"; the tracking id */
	const struct spam_result *pre; /* tests made before the message (connect, HELO), or NULL */
	const char *auth_summary; /* SPF/DKIM/DMARC results (authres.h), or NULL */
};

struct spam_verdict {
	int on;		      /* 0: every recipient has the filter off; nothing else is set */
	int reject;	      /* every recipient would refuse it (550 before acceptance) */
	double reject_score;  /* the score to name in that refusal */
	char *fields;	      /* X-Spam-Score / X-Spam-Status to add (malloc'ed) */
	unsigned char *junk;  /* per local user, 1: file into Junk; NULL when none */
};

/* Decide for body (the message as stored). Returns in *out; free it with
 * spam_verdict_free. */
void spam_verdict(const struct spam_verdict_in *in, struct spool *body, struct spam_verdict *out);
void spam_verdict_free(struct spam_verdict *v);

#endif
