/*
 * dns.h — DNS look-ups through ldns; dns.c is the only file that includes
 * ldns. Every answer is OK, TEMP (retry later: SERVFAIL, time-out, network
 * error, truncated and unusable) or PERM (NXDOMAIN, no such host, null MX):
 * dns.c documents the full mapping table.
 *
 * Thread-safe: each call builds its own ldns resolver from the shared,
 * read-only resolver list. Every call is bounded in time (a few seconds per
 * server, a small number of tries).
 */
#ifndef BREV_DNS_H
#define BREV_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum dns_rc { DNS_OK = 0, DNS_TEMP = 1, DNS_PERM = 2 };

/* Resolvers: "ADDR[:PORT] ..." (dns.resolver), or NULL/"" to read
 * /etc/resolv.conf (nameserver lines only; parsed by dns.c, not by
 * glibc). Call once at start-up. 0 or -1 with err. */
int dns_init(const char *resolvers, char *err, size_t errlen);
/* on: every look-up fails at once (DNS_TEMP, "the server is stopping")
 * instead of waiting for its time-outs, one already waiting for a UDP
 * answer too (a TCP retry of a truncated answer runs to its end). For a
 * quick stop; 0 undoes it. */
void dns_cancel(int on);
/* Per-try time-out and number of tries (defaults 3000 ms, 2). For tests. */
void dns_set_timeout(int ms, int tries);
/* ms > 0: every later look-up of the calling thread waits at most ms per
 * try, with a single try per server, whatever dns_set_timeout says (checks
 * that run while a client waits: the reverse DNS at connect). 0 restores
 * the shared time-out. */
void dns_thread_timeout(int ms);

#define DNS_NAME_MAX 255
#define DNS_MX_MAX 16
#define DNS_ADDR_MAX 16

struct dns_addr {
	struct sockaddr_storage sa;     /* port 0 */
	unsigned len;
};

struct dns_mx_host {
	char name[DNS_NAME_MAX + 1];    /* no trailing dot, lower case */
	uint16_t pref;
	struct dns_addr addrs[DNS_ADDR_MAX];   /* IPv6 first, then IPv4 */
	size_t naddrs;
	int addr_rc;                    /* dns_rc of this host's A/AAAA look-up */
};

struct dns_mx {
	struct dns_mx_host hosts[DNS_MX_MAX];  /* preference order; equal
						  preferences in random order */
	size_t nhosts;
	int implicit;                   /* no MX: the domain's own A/AAAA (RFC 5321 5.1) */
	int null_mx;                    /* RFC 7505 "MX 0 ." */
	char why[256];                  /* for TEMP/PERM: what happened, in words */
};

/* Where mail for `domain` goes. DNS_OK with at least one host that has
 * addresses; DNS_PERM for NXDOMAIN, null MX (null_mx set), or no host with
 * an address that exists; DNS_TEMP otherwise. CNAME chains are followed
 * (bounded). Hosts whose address look-up failed for good are left out;
 * hosts that failed temporarily stay in order with naddrs 0 and addr_rc
 * DNS_TEMP (so a caller knows a better host may come back). */
int dns_mx(const char *domain, struct dns_mx *out);
/* A and AAAA of a host (IPv6 first). */
int dns_addrs(const char *host, struct dns_addr *out, size_t cap, size_t *n, char *why,
	      size_t whylen);
/* A records of name (host byte order, at most cap) with its own per-try
 * time-out of ms and a single try per server, whatever dns_set_timeout
 * says (DNS blocklists: a slow list must not hold a session). DNS_PERM
 * when there is none. */
int dns_a(const char *name, int ms, uint32_t *out, size_t cap, size_t *n, char *why,
	  size_t whylen);
/* TXT records of name, each record's strings concatenated; cb per record. */
int dns_txt(const char *name, void (*cb)(void *arg, const char *txt, size_t len), void *arg,
	    char *why, size_t whylen);
/* PTR of an address: first name into out (no trailing dot). */
int dns_ptr(const struct sockaddr_storage *sa, char *out, size_t cap, char *why, size_t whylen);

/* Test and fuzz hook, not for other modules: the answer processing every
 * look-up shares, fed one wire-format answer as if it had come back for a
 * query (qname, qtype, id): header and question checks, rcode mapping, the
 * CNAME chain inside the answer, record extraction. No query is sent. For
 * MX, mx gets the hosts with addresses from the additional section only
 * (addr_rc DNS_TEMP where it had none). For TXT, cb gets each record's
 * strings joined; for A, AAAA and PTR each address or name as text. A
 * chain that leaves the answer returns DNS_OK with why "follow NAME".
 * Returns the dns_rc; why says what happened. */
int dns_answer_parse(const uint8_t *wire, size_t len, const char *qname, uint16_t qtype,
		     uint16_t id, struct dns_mx *mx, void (*cb)(void *arg, const char *txt, size_t len),
		     void *arg, char *why, size_t whylen);

#endif
