/*
 * spf.h — Sender Policy Framework (RFC 7208): check_host() for the MAIL
 * FROM domain (or the HELO name for the null sender) of a message arriving
 * on port 25. All look-ups go through dns.c; the RFC's limits hold: 10
 * terms that query DNS (include, a, mx, ptr, exists, redirect), 2 void
 * look-ups, 10 MX names. exp= is parsed and ignored (we never reject with
 * the sender's text). Thread-safe; no shared state.
 */
#ifndef BREV_SPF_H
#define BREV_SPF_H

#include <stddef.h>

enum spf_res {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};
const char *spf_res_name(int res);

#define SPF_LOOKUP_MAX 10 /* RFC 7208 4.6.4 */
#define SPF_VOID_MAX   2
#define SPF_MX_MAX     10
#define SPF_RECORD_MAX 4096 /* one record (TXT strings joined) */

/* check_host(ip, domain, sender) (RFC 7208 4). ip is the client's address
 * as text ("192.0.2.1", "2001:db8::1"); sender "local@domain" ("" local
 * part means postmaster); helo for %{h}. why (may be NULL) says what
 * decided. Returns an enum spf_res. */
int spf_check(const char *ip, const char *domain, const char *sender, const char *helo, char *why,
	      size_t whylen);

/* Parse a record (with "v=spf1") and expand the macros of every
 * domain-spec with a fixed context: 0 if the record is well-formed, -1 if
 * it is a permerror. No DNS. For tests and fuzzing. */
int spf_record_check(const char *rec, size_t n);
/* Expand a macro-string (RFC 7208 7) for ip/sender/domain/helo into out.
 * 0, or -1 on a syntax error. exp != 0 allows %{c} %{r} %{t}. */
int spf_expand(const char *spec, size_t n, const char *ip, const char *sender, const char *domain,
	       const char *helo, int exp, char *out, size_t cap);

#endif
