/*
 * sendmail.h — `brev sendmail`: the subset of sendmail(8) that cron, mail
 * scripts and MUAs without SMTP use. One message on stdin, recipients from
 * the arguments and/or (-t) the To/Cc/Bcc fields; local recipients are
 * stored at once, remote ones queued, both committed before exit 0.
 */
#ifndef BREV_SENDMAIL_H
#define BREV_SENDMAIL_H

#include <stddef.h>
#include <stdio.h>

struct config;
struct store;

/* argv[0] is the command name ("sendmail"); the options follow:
 *   -t          recipients also from To/Cc/Bcc (Bcc fields removed)
 *   -f FROM     envelope sender (also -fFROM, -r FROM); "<>" = null sender
 *   -F NAME     full name for an added From: field
 *   -i, -oi     a line with a single "." does not end the message
 *   -odi -odb -oem -oep -oee -om -B TYPE -N DSN -R RET -V ID -v -bm -U
 *               accepted and ignored (what cron and MUAs pass)
 * Returns the exit status: 0 once every copy is committed, 1 with a line on
 * stderr otherwise. */
int sendmail_main(const struct config *cfg, struct store *st, int argc, char **argv);
/* The same reading the message from `in` (tests). */
int sendmail_run(const struct config *cfg, struct store *st, int argc, char **argv, FILE *in);

/* Addresses of an RFC 5322 address-list field value (3.4: display names,
 * angle addresses, groups, comments, quoted strings). Each address is
 * passed to cb as a NUL-terminated string; addresses without '@' get
 * "@domain" when domain is not NULL. Returns the count, or -1 if cb
 * returned non-zero (which stops the walk). */
int sendmail_addr_list(const char *v, size_t n, const char *domain,
		       int (*cb)(void *arg, const char *addr), void *arg);

#endif
