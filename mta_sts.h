/*
 * mta_sts.h — outbound MTA-STS (RFC 8461): a recipient domain's policy,
 * found through its _mta-sts TXT record, fetched over verified HTTPS
 * (httpc.c) and cached in DATADIR/mta-sts/ for its max_age. queue.c asks
 * for the policy of each domain it delivers to and applies it
 * (docs/delivery.md).
 */
#ifndef BREV_MTA_STS_H
#define BREV_MTA_STS_H

#include <stddef.h>
#include <time.h>

#include "dns.h"

struct tls_client;
struct config;

enum sts_mode { STS_NONE = 0, STS_TESTING = 1, STS_ENFORCE = 2 };

#define STS_MX_MAX     16
#define STS_ID_MAX     32		/* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */
#define STS_POLICY_MAX (64 * 1024)	/* RFC 8461 3.3: 64 KiB is plenty */
#define STS_MAX_AGE    31557600		/* RFC 8461 3.2: at most a year */

struct sts_policy {
	int mode; /* enum sts_mode; STS_NONE also when there is no policy */
	char mx[STS_MX_MAX][DNS_NAME_MAX + 1]; /* lower case, "*.x.test" allowed */
	size_t nmx;
	long max_age;
	char id[STS_ID_MAX + 1]; /* of the TXT record the policy was fetched for */
	time_t fetched;
};

/* The policy text (RFC 8461 3.2) into p (mode, mx, max_age; id and fetched
 * untouched). Lines end in CRLF or LF; unknown keys are ignored; more than
 * STS_MX_MAX mx lines, a version other than STSv1, an unknown mode, or a
 * missing version, mode, max_age (or mx, unless mode is none) is -1. */
int sts_policy_parse(const char *text, size_t len, struct sts_policy *p);
/* The TXT record (RFC 8461 3.1): 1 with its id when it is an STSv1 record,
 * 0 when it is some other TXT record, -1 when it starts as one but is bad. */
int sts_txt_parse(const char *txt, size_t len, char id[STS_ID_MAX + 1]);
/* Does an MX host name match one of the policy's mx patterns (RFC 8461
 * 4.1: case-insensitive; "*." matches exactly one leftmost label)? */
int sts_mx_match(const struct sts_policy *p, const char *host);

/* The policy in force for a recipient domain (RFC 8461 5.1), into p:
 * a cached, unexpired policy whose id is the TXT record's; else a fresh
 * fetch (cached on success); else, when the TXT record is missing or the
 * fetch fails, an unexpired cached one; else mode STS_NONE. note gets a
 * line for the log when something went wrong (empty otherwise). tlsc
 * verifies the policy host's certificate. Thread-safe. */
void sts_lookup(const struct config *cfg, struct tls_client *tlsc, const char *domain,
		struct sts_policy *p, char *note, size_t notelen);

#endif
