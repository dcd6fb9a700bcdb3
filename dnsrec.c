/*
 * dnsrec.c — `brev dns DOMAIN` and `brev dkim new DOMAIN`.
 *
 * `brev dns` prints the records a domain needs for brev to receive mail
 * and for its mail to be accepted elsewhere: MX, A/AAAA of the host name,
 * the client SRV records (RFC 6186), SPF, DKIM, DMARC, and (as a comment: it lives in the address owner's
 * reverse zone) the PTR. The output is a zone-file fragment with absolute
 * names, so it can be pasted into a provider's panel record by record or
 * served as it is (tests feed it to nsd). Then every record is looked up
 * through dns.c and marked present/correct, different or missing, in
 * comment lines, so the whole output stays a valid zone file.
 *
 * A server whose port 25 listens only on loopback cannot be reached by
 * other mail servers: it gets a warning instead of an A record naming
 * 127.0.0.1. The look-ups say what they are doing on a terminal, give up on
 * the remaining ones once the resolver has not answered, and the command
 * exits 1 when any record could not be checked.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authres.h"
#include "config.h"
#include "dkim.h"
#include "dns.h"
#include "http_autoconfig.h"
#include "util.h"

#define TTL	   3600
#define SPF_TEXT   "v=spf1 mx -all"
#define DMARC_TEXT "v=DMARC1; p=quarantine; adkim=r; aspf=r"
#define ADDRS_MAX  8

struct host_addrs {
	struct sockaddr_storage a[ADDRS_MAX];
	size_t n;
	int wildcard; /* some listener is on 0.0.0.0 or :: */
	size_t nloop; /* listeners on loopback (127.0.0.0/8, ::1): left out of a[] */
	char loop[64]; /* the first of them, for the warning */
};

static int is_loopback(const struct sockaddr_storage *ss)
{
	static const uint8_t one[16] = {[15] = 1};
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, one, 16) == 0;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap);

/* The addresses listen.smtp names (without ports), wildcards aside. */
static void listen_addrs(const struct config *cfg, struct host_addrs *h)
{
	char *copy = xstrdup(cfg->listen_smtp ? cfg->listen_smtp : ""), *save = NULL, *w;
	memset(h, 0, sizeof *h);
	for (w = strtok_r(copy, " \t", &save); w && h->n < ADDRS_MAX;
	     w = strtok_r(NULL, " \t", &save)) {
		struct sockaddr_storage ss;
		unsigned len;
		char err[128];
		if (addr_parse(w, &ss, &len, err, sizeof err) < 0)
			continue;
		static const uint8_t zero[16];
		if ((ss.ss_family == AF_INET &&
		     ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
		    (ss.ss_family == AF_INET6 &&
		     memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, zero, 16) == 0)) {
			h->wildcard = 1;
			continue;
		}
		if (is_loopback(&ss)) {
			if (h->nloop++ == 0)
				addr_text(&ss, h->loop, sizeof h->loop);
			continue;
		}
		h->a[h->n++] = ss;
	}
	free(copy);
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out,
			  (socklen_t)cap);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out,
			  (socklen_t)cap);
}

/* The reverse name of an address (RFC 1035 3.5, RFC 3596 2.5). */
static void reverse_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	size_t o = 0;
	if (ss->ss_family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
		snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa.", b[3], b[2], b[1], b[0]);
		return;
	}
	const uint8_t *b = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	for (int i = 15; i >= 0 && o + 5 < cap; i--)
		o += (size_t)snprintf(out + o, cap - o, "%x.%x.", b[i] & 15, b[i] >> 4);
	snprintf(out + o, cap - o, "ip6.arpa.");
}

/* A TXT record's text as <character-string>s of at most 255 octets
 * (RFC 1035 3.3.14); the text has no quotes or backslashes. */
static void print_txt(FILE *out, const char *owner, const char *text)
{
	size_t n = strlen(text);
	fprintf(out, "%s\t%d\tIN\tTXT\t", owner, TTL);
	for (size_t i = 0; i < n; i += 255)
		fprintf(out, "%s\"%.*s\"", i ? " " : "", (int)(n - i < 255 ? n - i : 255),
			text + i);
	fputc('\n', out);
}

/* ---- checks ---- */

/* How the look-ups went: shown as they run (on a terminal), and the
 * command's exit status. */
static struct {
	int tty;	   /* stderr is a terminal: show progress there */
	int step, nsteps;  /* look-ups done, planned */
	int unchecked;	   /* records that could not be checked */
	int dead;	   /* the resolver did not answer: skip the rest */
	char first_why[256];
} ck;

/* Before a look-up: 1 to go ahead, 0 when the resolver is known dead (the
 * line for it is printed here). */
static int check_begin(FILE *out, const char *what, const char *name)
{
	ck.step++;
	if (ck.dead) {
		fprintf(out, ";   %-6s not checked: the resolver did not answer\n", what);
		ck.unchecked++;
		return 0;
	}
	if (ck.tty)
		fprintf(stderr, "\rbrev dns: looking up %s %.60s (%d/%d)...\033[K", what, name, ck.step,
			ck.nsteps);
	return 1;
}

/* After a look-up that answered DNS_TEMP. */
static void check_temp(const char *why)
{
	ck.unchecked++;
	if (!ck.first_why[0])
		str_copy(ck.first_why, why, sizeof ck.first_why);
	if (strstr(why, "timed out"))
		ck.dead = 1;
}

struct txt_find {
	const char *prefix;
	char found[DKIM_KEYREC_MAX];
	int count;
};

static void txt_cb(void *arg, const char *txt, size_t len)
{
	struct txt_find *f = arg;
	size_t pl = strlen(f->prefix);
	if (len < pl || str_ncasecmp_ascii(txt, f->prefix, pl) != 0)
		return;
	if (f->count++ == 0 && len < sizeof f->found) {
		memcpy(f->found, txt, len);
		f->found[len] = 0;
	}
}

/* "present, correct" / "present, different: ..." / "missing" / "?" */
static void check_txt(FILE *out, const char *what, const char *name, const char *prefix,
		      const char *want, int exact)
{
	struct txt_find f = {.prefix = prefix};
	char why[256];
	int rc;
	if (!check_begin(out, what, name))
		return;
	rc = dns_txt(name, txt_cb, &f, why, sizeof why);
	if (rc == DNS_TEMP) {
		fprintf(out, ";   %-6s could not check: %s\n", what, why);
		check_temp(why);
	}
	else if (f.count == 0)
		fprintf(out, ";   %-6s MISSING at %s\n", what, name);
	else if (f.count > 1)
		fprintf(out, ";   %-6s WRONG: %d records at %s (there must be one)\n", what,
			f.count, name);
	else if (!exact || strcmp(f.found, want) == 0)
		fprintf(out, ";   %-6s present, correct\n", what);
	else
		fprintf(out, ";   %-6s present, DIFFERENT: %.200s\n", what, f.found);
}

static void check_mx(FILE *out, const char *domain, const char *host)
{
	struct dns_mx *mx;
	int rc, ours = 0;
	if (!check_begin(out, "MX", domain))
		return;
	mx = xcalloc(1, sizeof *mx);
	rc = dns_mx(domain, mx);
	for (size_t i = 0; rc == DNS_OK && i < mx->nhosts; i++)
		ours |= str_casecmp_ascii(mx->hosts[i].name, host) == 0;
	if (rc == DNS_TEMP) {
		fprintf(out, ";   MX     could not check: %s\n", mx->why);
		check_temp(mx->why);
	}
	else if (rc != DNS_OK || mx->implicit)
		fprintf(out, ";   MX     MISSING for %s\n", domain);
	else if (ours)
		fprintf(out, ";   MX     present, correct\n");
	else
		fprintf(out, ";   MX     present, DIFFERENT: points to %s\n", mx->hosts[0].name);
	free(mx);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static void check_addrs(FILE *out, const char *host, const struct host_addrs *h)
{
	struct dns_addr a[DNS_ADDR_MAX];
	size_t n = 0;
	char why[256], t[64];
	int rc;
	if (!check_begin(out, "A", host))
		return;
	rc = dns_addrs(host, a, DNS_ADDR_MAX, &n, why, sizeof why);
	if (rc == DNS_TEMP) {
		fprintf(out, ";   A      could not check: %s\n", why);
		check_temp(why);
		return;
	}
	if (rc != DNS_OK || n == 0) {
		fprintf(out, ";   A      MISSING for %s\n", host);
		return;
	}
	for (size_t i = 0; i < h->n; i++) {
		int found = 0;
		for (size_t k = 0; k < n; k++)
			found |= same_addr(&h->a[i], &a[k].sa);
		addr_text(&h->a[i], t, sizeof t);
		fprintf(out, ";   %-6s %s %s\n", h->a[i].ss_family == AF_INET ? "A" : "AAAA", t,
			found ? "present, correct" : "MISSING");
	}
	if (h->n == 0)
		fprintf(out, ";   A      present (%zu address%s)\n", n, n == 1 ? "" : "es");
}

static void check_ptr(FILE *out, const char *host, const struct host_addrs *h)
{
	char name[DNS_NAME_MAX + 1], why[256], t[64];
	for (size_t i = 0; i < h->n; i++) {
		addr_text(&h->a[i], t, sizeof t);
		if (!check_begin(out, "PTR", t))
			continue;
		int rc = dns_ptr(&h->a[i], name, sizeof name, why, sizeof why);
		if (rc == DNS_TEMP) {
			fprintf(out, ";   PTR    %s could not check: %s\n", t, why);
			check_temp(why);
		}
		else if (rc != DNS_OK)
			fprintf(out, ";   PTR    %s MISSING\n", t);
		else if (str_casecmp_ascii(name, host) == 0)
			fprintf(out, ";   PTR    %s present, correct\n", t);
		else
			fprintf(out, ";   PTR    %s present, DIFFERENT: %s\n", t, name);
	}
}

/* ---- the command ---- */

static int domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* The port of a listen.* value's first address, 0 when it is off or bad. */
static unsigned listen_port(const char *v)
{
	char w[300], err[128];
	struct sockaddr_storage ss;
	unsigned len;
	if (!v)
		return 0;
	size_t n = strcspn(v + strspn(v, " \t"), " \t");
	if (n == 0 || n >= sizeof w)
		return 0;
	memcpy(w, v + strspn(v, " \t"), n);
	w[n] = 0;
	if (addr_parse(w, &ss, &len, err, sizeof err) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Service records (RFC 6186, with RFC 8314 5.1's preference for implicit
 * TLS: priority 0 for TLS ports, 10 for STARTTLS ones) so that mail apps
 * that look them up find the servers from an address alone. A listener that
 * is off gets the "." target RFC 6186 3.4 uses for "not offered". */
static void print_srv(FILE *out, const struct config *cfg, const char *domain,
		      const char *host)
{
	static const struct {
		const char *svc;
		int prio;
		size_t off;
	} s[] = {
		{"_submissions", 0, offsetof(struct config, listen_submissions)},
		{"_submission", 10, offsetof(struct config, listen_submission)},
		{"_imaps", 0, offsetof(struct config, listen_imaps)},
		{"_imap", 10, offsetof(struct config, listen_imap)},
		{"_pop3s", 0, offsetof(struct config, listen_pop3s)},
		{"_pop3", 10, offsetof(struct config, listen_pop3)},
	};
	fprintf(out, "; Client settings (RFC 6186, RFC 8314): mail apps find the servers for\n"
		     "; %s from these. The ports are brev's listeners; if a router forwards\n"
		     "; other public ports to them, publish those instead.\n",
		domain);
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		unsigned port = listen_port(*(char *const *)((const char *)cfg + s[i].off));
		if (port)
			fprintf(out, "%s._tcp.%s.\t%d\tIN\tSRV\t%d 1 %u %s.\n", s[i].svc, domain,
				TTL, s[i].prio, port, host);
		else
			fprintf(out, "%s._tcp.%s.\t%d\tIN\tSRV\t0 0 0 .\n", s[i].svc, domain, TTL);
	}
}

/* MTA-STS (RFC 8461 3.1) and TLS-RPT (RFC 8460 3) when tls.mta_sts is
 * testing or enforce: the policy host name, the record announcing the
 * policy (its id a hash of the policy, so it changes when the policy
 * does) and where reports go. sts/tlsrpt get the TXT texts ("" when off). */
static void print_mta_sts(FILE *out, const struct config *cfg, const char *domain,
			  const char *host, char *sts, char *tlsrpt)
{
	char id[32], owner[300];
	sts[0] = tlsrpt[0] = 0;
	if (cfg->tls_mta_sts == 0)
		return;
	autoconf_mta_sts_id(cfg, id, sizeof id);
	snprintf(sts, 64, "v=STSv1; id=%s", id);
	snprintf(tlsrpt, 600, "v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
	fprintf(out, "; MTA-STS: senders fetch https://mta-sts.%s/.well-known/mta-sts.txt\n"
		     "; from brev's https listener (port 443) and require TLS to %s\n",
		domain, host);
	fprintf(out, "mta-sts.%s.\t%d\tIN\tCNAME\t%s.\n", domain, TTL, host);
	snprintf(owner, sizeof owner, "_mta-sts.%s.", domain);
	print_txt(out, owner, sts);
	fprintf(out, "; TLS-RPT: where senders report failed TLS towards %s\n", domain);
	snprintf(owner, sizeof owner, "_smtp._tls.%s.", domain);
	print_txt(out, owner, tlsrpt);
}

struct sel_rec {
	char owner[300];
	char text[DKIM_KEYREC_MAX];
};

int dnsrec_main(const struct config *cfg, const char *domain, FILE *out)
{
	struct host_addrs h;
	char host[256], t[64], rev[128], sel[80], ed[96], dmarc[300], sts[64], tlsrpt[600];
	struct sel_rec *k = xcalloc(2, sizeof *k);
	size_t nk = 0;
	if (!domain_ok(domain)) {
		fprintf(stderr, "brev: dns: '%s' is not a domain name\n", domain);
		free(k);
		return 1;
	}
	str_copy(host, cfg->hostname[0] ? cfg->hostname : domain, sizeof host);
	str_lower(host);
	listen_addrs(cfg, &h);
	if (!config_domain_is_local(cfg, domain))
		fprintf(out, "; note: %s is not in `domains`; brev will not accept mail for it\n",
			domain);
	fprintf(out,
		"; DNS records for %s (brev dns). Names are absolute; each line can be\n"
		"; entered in a DNS provider's panel or served as part of the zone.\n",
		domain);
	fprintf(out, "%s.\t%d\tIN\tMX\t10 %s.\n", domain, TTL, host);
	for (size_t i = 0; i < h.n; i++) {
		addr_text(&h.a[i], t, sizeof t);
		fprintf(out, "%s.\t%d\tIN\t%s\t%s\n", host, TTL,
			h.a[i].ss_family == AF_INET ? "A" : "AAAA", t);
	}
	if (h.n == 0 && !h.wildcard && h.nloop) {
		/* 127.0.0.1 in public DNS would send other servers' mail to
		 * themselves: say what is wrong instead. */
		fprintf(out,
			"; WARNING: listen.smtp is on loopback only (%s): no other mail server can\n"
			"; reach this brev. Listen on a public address first (brev init --public,\n"
			"; or listen.smtp = 0.0.0.0:25), then publish the address records.\n",
			h.loop);
		fprintf(stderr,
			"brev: dns: warning: listen.smtp is on loopback only (%s); other mail servers "
			"cannot reach it\n",
			h.loop);
	}
	if (h.n == 0)
		fprintf(out,
			"; %s.\t%d\tIN\tA\t<this server's public IPv4 address>\n"
			"; %s.\t%d\tIN\tAAAA\t<its public IPv6 address, if it has one>\n",
			host, TTL, host, TTL);
	print_srv(out, cfg, domain, host);
	fprintf(out, "; SPF: only the hosts named by MX send mail for %s\n", domain);
	snprintf(dmarc, sizeof dmarc, "%s.", domain);
	print_txt(out, dmarc, SPF_TEXT);
	if (dkim_keys_active(cfg->datadir, domain, sel, sizeof sel) == 0) {
		snprintf(ed, sizeof ed, "%s-ed", sel);
		const char *sels[2] = {sel, ed};
		for (int i = 0; i < 2; i++) {
			snprintf(k[nk].owner, sizeof k[nk].owner, "%s._domainkey.%s.", sels[i],
				 domain);
			if (dkim_keys_record(cfg->datadir, domain, sels[i], k[nk].text,
					     sizeof k[nk].text))
				nk++;
		}
		fprintf(out, "; DKIM: the public key%s brev signs with (selector %s)\n",
			nk > 1 ? "s" : "", sel);
		for (size_t i = 0; i < nk; i++)
			print_txt(out, k[i].owner, k[i].text);
	} else {
		fprintf(out, "; DKIM: no key for %s yet; make one with: brev dkim new %s\n", domain,
			domain);
	}
	fprintf(out, "; DMARC: receivers put mail failing SPF and DKIM alignment in spam;\n"
		     "; change to p=reject once everything you send passes\n");
	snprintf(dmarc, sizeof dmarc, "_dmarc.%s.", domain);
	print_txt(out, dmarc, DMARC_TEXT);
	print_mta_sts(out, cfg, domain, host, sts, tlsrpt);
	fprintf(out, "; PTR: not in your zone; ask whoever gives you the address (your ISP or\n"
		     "; hosting provider) for:\n");
	for (size_t i = 0; i < h.n; i++) {
		reverse_name(&h.a[i], rev, sizeof rev);
		fprintf(out, ";   %s\t%d\tIN\tPTR\t%s.\n", rev, TTL, host);
	}
	if (h.n == 0)
		fprintf(out, ";   <reverse name of the server's address>\tPTR\t%s.\n", host);

	fprintf(out, ";\n; what DNS says now (dns.resolver):\n");
	memset(&ck, 0, sizeof ck);
	ck.tty = isatty(2);
	ck.nsteps = 4 + (int)nk + (int)h.n + (sts[0] ? 2 : 0);
	check_mx(out, domain, host);
	check_addrs(out, host, &h);
	snprintf(dmarc, sizeof dmarc, "%s", domain);
	check_txt(out, "SPF", dmarc, "v=spf1", SPF_TEXT, 0);
	for (size_t i = 0; i < nk; i++) {
		char name[300];
		snprintf(name, sizeof name, "%.*s", (int)strlen(k[i].owner) - 1, k[i].owner);
		check_txt(out, "DKIM", name, "v=DKIM1", k[i].text, 1);
	}
	snprintf(dmarc, sizeof dmarc, "_dmarc.%s", domain);
	check_txt(out, "DMARC", dmarc, "v=DMARC1", DMARC_TEXT, 0);
	if (sts[0]) {
		snprintf(dmarc, sizeof dmarc, "_mta-sts.%s", domain);
		check_txt(out, "MTASTS", dmarc, "v=STSv1", sts, 0);
		snprintf(dmarc, sizeof dmarc, "_smtp._tls.%s", domain);
		check_txt(out, "TLSRPT", dmarc, "v=TLSRPTv1", tlsrpt, 0);
	}
	check_ptr(out, host, &h);
	free(k);
	if (ck.tty)
		fprintf(stderr, "\r\033[K");
	fflush(out);
	if (ck.unchecked) {
		fprintf(stderr,
			"brev: dns: could not check %d record%s (%s); the records above are still the "
			"ones to publish\n",
			ck.unchecked, ck.unchecked == 1 ? "" : "s",
			ck.dead ? "the resolver did not answer" : ck.first_why);
		return 1;
	}
	return 0;
}

int dkim_cmd_new(const struct config *cfg, const char *domain, FILE *out)
{
	char sel[80], err[256], rec[DKIM_KEYREC_MAX], owner[400];
	if (dkim_keys_new(cfg->datadir, domain, sel, sizeof sel, err, sizeof err) < 0) {
		fprintf(stderr, "brev: dkim new: %s\n", err);
		return 1;
	}
	fprintf(out, "; new DKIM selector %s for %s, signing from now on; publish:\n", sel, domain);
	for (int i = 0; i < 2; i++) {
		char s[96];
		snprintf(s, sizeof s, i ? "%s-ed" : "%s", sel);
		snprintf(owner, sizeof owner, "%s._domainkey.%s.", s, domain);
		if (dkim_keys_record(cfg->datadir, domain, s, rec, sizeof rec))
			print_txt(out, owner, rec);
	}
	fprintf(out, "; keep the old selector's record until mail signed with it has arrived\n");
	return 0;
}
