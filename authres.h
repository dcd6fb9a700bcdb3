/*
 * authres.h — mail authentication where the SMTP server and `brev
 * sendmail` meet it: the checks on a message arriving on port 25 (SPF,
 * DKIM, DMARC) summed up in one Authentication-Results field (RFC 8601)
 * plus what to do with the message; and, for submitted mail, the Date and
 * Message-ID fields the client left out and the DKIM signatures.
 * `brev dns` (dnsrec.c) and `brev dkim new` are declared here too.
 */
#ifndef BREV_AUTHRES_H
#define BREV_AUTHRES_H

#include <stddef.h>
#include <stdio.h>

struct config;
struct spool;

enum authres_action {
	AUTHRES_ACCEPT = 0, /* deliver as usual */
	AUTHRES_JUNK,	    /* DMARC p=quarantine failed: into Junk */
	AUTHRES_REJECT,	    /* DMARC p=reject failed and auth.dmarc_reject: 550 5.7.1 */
};

struct authres_in {
	const char *hostname;  /* our authserv-id */
	const char *ip;	       /* the client's address as text */
	const char *helo;      /* EHLO/HELO name ("" if none) */
	const char *mail_from; /* envelope sender, "" for <> */
	struct spool *sp;      /* the message as received */
	int dmarc_reject;      /* auth.dmarc_reject */
};

struct authres_out {
	char *field;		/* "Authentication-Results: ...\r\n", malloc'ed */
	int action;		/* enum authres_action */
	char summary[256];	/* "spf=pass dkim=pass dmarc=pass" for the log */
	struct spool *stripped; /* when A-R fields claiming our host were
				   removed: the message to store instead */
};
/* Run every check on the message. Always fills out (free with
 * authres_out_free); DNS trouble only ever gives temperror verdicts. */
void authres_inbound(const struct authres_in *in, struct authres_out *out);
void authres_out_free(struct authres_out *out);

/* The authserv-id of an Authentication-Results value (RFC 8601 2.2: a token
 * or a quoted-string, after comments): 1 if it is host (ASCII
 * case-insensitive). */
int authres_claims(const char *value, size_t n, const char *host);

/* Submission: the fields to put in front of pre + sp, which together are
 * the message as submitted (pre may be NULL). With add_missing, Date and
 * Message-ID (<id@hostname>) are added when absent; then the message is
 * signed with the DKIM key of the From domain (or else of the envelope
 * sender's domain) when DATADIR/dkim has one. Returns malloc'ed text (""
 * when there is nothing to add). */
char *authres_submission(const char *datadir, const char *hostname, const char *mail_from,
			 const char *id, const char *pre, size_t prelen, struct spool *sp,
			 int add_missing);

/* `brev dns DOMAIN`: the records to publish, then what DNS says about each.
 * Returns the exit status. */
int dnsrec_main(const struct config *cfg, const char *domain, FILE *out);
/* `brev dkim new DOMAIN`: a new active selector; prints its record. */
int dkim_cmd_new(const struct config *cfg, const char *domain, FILE *out);

#endif
