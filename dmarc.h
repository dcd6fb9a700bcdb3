/*
 * dmarc.h — DMARC (RFC 7489) for messages arriving on port 25: policy
 * record discovery (the From domain, then its organisational domain),
 * identifier alignment of SPF and DKIM (relaxed or strict), and the
 * policy with sp= and pct=. What the policy does to the message is
 * authres.c's decision (auth.dmarc_reject).
 *
 * The organisational domain comes from a small built-in list of two-label
 * public suffixes (co.uk, com.au, ...) and otherwise the last two labels;
 * see docs/auth-mail.md for why there is no full public suffix list.
 */
#ifndef BREV_DMARC_H
#define BREV_DMARC_H

#include <stddef.h>

struct dkim_result;

enum dmarc_res { DMARC_NONE = 0, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
enum dmarc_policy { DMARC_P_NONE = 0, DMARC_P_QUARANTINE, DMARC_P_REJECT };
const char *dmarc_res_name(int res);
const char *dmarc_policy_name(int p);

struct dmarc_rec {
	int p, sp;	 /* enum dmarc_policy */
	int pct;	 /* 0..100 */
	int adkim, aspf; /* 1 = strict */
};
/* Parse a record "v=DMARC1; p=...". 0, or -1 when it is not a DMARC
 * record or has no valid p= (6.6.3). */
int dmarc_parse(const char *txt, size_t n, struct dmarc_rec *r);

/* The organisational domain of d (lower case) into out. */
void dmarc_org_domain(const char *d, char *out, size_t cap);
/* The domain of the single address in a From field value (RFC 5322
 * 3.4; comments, display names, angle brackets). 0, or -1 when there is
 * no address or more than one. */
int dmarc_from_domain(const char *value, char *out, size_t cap);

struct dmarc_result {
	int res;	/* enum dmarc_res */
	int policy;	/* what the record asks for this domain (p or sp) */
	int applied;	/* the policy after the pct= sample (6.6.4) */
	char from[256]; /* header.from */
	char why[128];
};
/* Evaluate for the From domain: spf is the SPF result for spf_domain (the
 * MAIL FROM or HELO domain), dk the DKIM results. DNS failures give
 * DMARC_TEMPERROR, never a FAIL. */
int dmarc_check(const char *from_domain, int spf, const char *spf_domain,
		const struct dkim_result *dk, size_t ndk, struct dmarc_result *out);

#endif
