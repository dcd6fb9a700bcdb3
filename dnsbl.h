/*
 * dnsbl.h — DNS blocklists (issue 14, docs/spam.md "The tests"): the
 * client's address against spam.dnsbl, the host names of a message's links
 * against spam.uribl. Each listing adds one named test to a spam_result
 * (spam.h); nothing here ever refuses mail: a look-up that fails or times
 * out (DNSBL_TIMEOUT_MS, one try per resolver) adds nothing and is logged.
 * A zone that does not answer is not asked again for the same message, and
 * one check (all zones of a connection, or of a message's links) asks
 * nothing more after DNSBL_BUDGET_MS: the client is waiting.
 *
 * A list is "zone[=points] ..." separated by spaces or commas, at most
 * DNSBL_ZONES_MAX zones; a zone without points weighs DNSBL_POINTS. A zone
 * lists a name when it has an A record in 127.0.0.0/8 outside
 * 127.255.255.0/24 (what Spamhaus answers to a refused query). The test is
 * "DNSBL_" or "URIBL_" and the zone upper-cased, other characters '_', cut
 * to SPAM_NAME_MAX. Thread-safe (dns.h).
 */
#ifndef BREV_DNSBL_H
#define BREV_DNSBL_H

#include <stddef.h>

struct spam_result;

#define DNSBL_ZONES_MAX	 8
#define DNSBL_POINTS	 3.0
#define DNSBL_TIMEOUT_MS 1500
#define DNSBL_BUDGET_MS	 5000
#define URIBL_HOSTS_MAX	 20 /* distinct link hosts looked up per message */

/* 0 if list is a valid blocklist list, or -1 with a reason. */
int dnsbl_list_check(const char *list, char *err, size_t errlen);

/* The client address (IPv4 or IPv6 text) against each zone of list:
 * reversed octets (RFC 5782 2.1) or nibbles (2.4) under the zone. */
void dnsbl_check(const char *list, const char *ip, struct spam_result *r);

/* id names the message in log lines. The first URIBL_HOSTS_MAX distinct link host names of msg
 * (spam_token.h's "url:" tokens: each host and its last two labels; IP literals left out) as
 * HOST.ZONE against each zone of list. */
void uribl_check(const char *list, const char *msg, size_t len, const char *id,
		 struct spam_result *r);

#endif
