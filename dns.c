/*
 * dns.c — every DNS look-up brev makes: MX (with the implicit MX of RFC 5321
 * 5.1 and the null MX of RFC 7505), A/AAAA, TXT and PTR. It is the only file
 * that includes ldns. ldns builds the queries, parses the answers and does
 * the UDP/TCP exchange; this file decides what an answer means. It does not
 * cache, does not validate DNSSEC (it trusts the configured recursive
 * resolver) and leaves the choice of which address to connect to, and when
 * to retry, to the delivery code.
 *
 * The binary is static: nothing here may reach glibc's NSS or resolver.
 * The resolver list comes from dns.resolver or from the `nameserver` lines
 * of /etc/resolv.conf, parsed here; query names are turned into wire form
 * here, so ldns never resolves a name either.
 *
 * What an answer means (dma keeps a table like this; so do we):
 *
 *   what came back                                  result
 *   ----------------------------------------------  -------------------------------
 *   NOERROR, records of the asked type (after       DNS_OK
 *     following CNAMEs, at most DNS_CNAME_MAX)
 *   NOERROR, no such records (NODATA):
 *     MX                                            implicit MX: the domain itself,
 *                                                   preference 0 (RFC 5321 5.1)
 *     A/AAAA of an MX host                          that family has no address; a host
 *                                                   with neither is dropped (PERM)
 *     A+AAAA for dns_addrs, TXT, PTR                DNS_PERM ("no address", "no TXT")
 *   NXDOMAIN (also at the end of a CNAME chain)     DNS_PERM
 *   a single MX whose exchange is "." (RFC 7505)    DNS_PERM, null_mx = 1
 *   "." among other MX records                      that record is ignored
 *   SERVFAIL, REFUSED, FORMERR, NOTIMP, any other   DNS_TEMP (after the next server)
 *     rcode, a non-zero EDNS extended rcode
 *   no answer within timeout x tries                DNS_TEMP (after the next server)
 *   socket/send/connect error                       DNS_TEMP (after the next server)
 *   unparsable packet, wrong ID, QR clear, opcode   DNS_TEMP (after the next server)
 *     not QUERY, question not the one asked
 *   TC still set after the TCP fallback             DNS_TEMP
 *   CNAME chain longer than DNS_CNAME_MAX (loops)   DNS_TEMP
 *   query name not a host name (empty label,        DNS_PERM
 *     > 253 octets, characters outside LDH and _)
 *   record whose name is not a host name            record skipped
 *   MX hosts: at least one with an address          DNS_OK (PERM hosts dropped; TEMP
 *                                                   hosts kept with naddrs 0)
 *   MX hosts: none with an address, one TEMP        DNS_TEMP
 *   MX hosts: all PERM (or the implicit MX host)    DNS_PERM
 *   MX address look-ups past the time budget        that host TEMP
 *
 * Records whose owner, class or type do not answer the question are never
 * used, whatever section they sit in.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "log.h"
#include "util.h"

#define DNS_SERVERS_MAX 8
#define DNS_CNAME_MAX	8
/* DNS flag day 2020: a UDP size that avoids IP fragmentation. */
#define DNS_EDNS_SIZE 1232
/* Candidate MX records examined per answer are bounded by the packet
 * (64 KiB); only the best DNS_MX_MAX are kept. */

struct server {
	int family;
	uint8_t addr[16];
	uint16_t port;
	char text[80]; /* "127.0.0.1:5353", "[::1]:53": for messages */
};

/* Written by dns_init/dns_set_timeout at start-up, read-only afterwards. */
static struct server servers[DNS_SERVERS_MAX];
static size_t nservers;
static int timeout_ms = 3000;
/* dns_cancel: no new exchange starts, and the pipe, readable while
 * cancelled, ends a wait for a UDP answer at once. */
static atomic_int cancelled;
static int cancel_pipe[2] = {-1, -1};
static int ntries = 2;
/* dns_a's and dns_thread_timeout's own time-out for the look-ups of this
 * thread (0: the shared one): a blocklist or the reverse DNS at connect
 * must answer within a short wait, while MX and SPF look-ups keep theirs. */
static _Thread_local int tl_timeout_ms;
#define TIMEOUT_MS (tl_timeout_ms ? tl_timeout_ms : timeout_ms)
#define NTRIES	   (tl_timeout_ms ? 1 : ntries)

/* ---- resolver list ---------------------------------------------------- */

/* "ADDR", "ADDR:PORT", bare IPv6, "[IPv6]" or "[IPv6]:PORT". */
static int server_parse(const char *w, struct server *s, char *err, size_t errlen)
{
	char host[64];
	const char *h = w, *port = NULL;
	size_t hl;
	long long p = 53;

	memset(s, 0, sizeof *s);
	if (w[0] == '[') {
		const char *close = strchr(w, ']');
		if (!close || (close[1] != 0 && close[1] != ':'))
			goto bad;
		h = w + 1;
		hl = (size_t)(close - h);
		if (close[1] == ':')
			port = close + 2;
	} else if (strchr(w, ':') != strrchr(w, ':')) {
		hl = strlen(w); /* bare IPv6 */
	} else if (strchr(w, ':')) {
		hl = (size_t)(strchr(w, ':') - w);
		port = strchr(w, ':') + 1;
	} else {
		hl = strlen(w);
	}
	if (hl == 0 || hl >= sizeof host)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (port && parse_int(port, 1, 65535, &p))
		goto bad;
	s->port = (uint16_t)p;
	if (inet_pton(AF_INET, host, s->addr) == 1) {
		s->family = AF_INET;
		snprintf(s->text, sizeof s->text, "%s:%u", host, s->port);
	} else if (inet_pton(AF_INET6, host, s->addr) == 1) {
		s->family = AF_INET6;
		snprintf(s->text, sizeof s->text, "[%s]:%u", host, s->port);
	} else {
		goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "dns.resolver: '%s' is not ADDR[:PORT] (an IP address, not a name)",
		 w);
	return -1;
}

/* resolv.conf(5): only `nameserver ADDR` lines matter to us; search and
 * domain lines are ignored on purpose (mail domains are always absolute).
 * No nameserver line means the local machine, as with the C library. */
static int resolv_conf_read(struct server *out, size_t cap, size_t *n, char *err, size_t errlen)
{
	size_t len;
	char *buf = file_read("/etc/resolv.conf", 65536, &len), *save = NULL, *line;

	*n = 0;
	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line && *n < cap;
	     line = strtok_r(NULL, "\n", &save)) {
		char *wsave = NULL, *kw = strtok_r(line, " \t\r", &wsave), *addr;
		char e[160];
		if (!kw || strcmp(kw, "nameserver") != 0)
			continue;
		addr = strtok_r(NULL, " \t\r", &wsave);
		/* A bare address means port 53; a scoped IPv6 (fe80::1%eth0)
		 * cannot be expressed to ldns and is skipped. */
		if (!addr || strchr(addr, '%') || server_parse(addr, &out[*n], e, sizeof e)) {
			log_warn("dns: /etc/resolv.conf: skipping nameserver %s", addr ? addr : "");
			continue;
		}
		(*n)++;
	}
	free(buf);
	if (*n == 0)
		server_parse("127.0.0.1", &out[(*n)++], err, errlen);
	return 0;
}

int dns_init(const char *resolvers, char *err, size_t errlen)
{
	struct server list[DNS_SERVERS_MAX];
	size_t n = 0;

	if (!resolvers || !*resolvers) {
		resolv_conf_read(list, DNS_SERVERS_MAX, &n, err, errlen);
	} else {
		char *copy = xstrdup(resolvers), *save = NULL, *w;
		for (w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
			if (n == DNS_SERVERS_MAX) {
				snprintf(err, errlen, "dns.resolver: more than %d servers",
					 DNS_SERVERS_MAX);
				free(copy);
				return -1;
			}
			if (server_parse(w, &list[n], err, errlen)) {
				free(copy);
				return -1;
			}
			n++;
		}
		free(copy);
		if (n == 0) {
			snprintf(err, errlen, "dns.resolver: no server");
			return -1;
		}
	}
	memcpy(servers, list, n * sizeof list[0]);
	nservers = n;
	if (cancel_pipe[0] < 0 && pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		cancel_pipe[0] = cancel_pipe[1] = -1; /* stops then wait for the time-out */
	return 0;
}

void dns_cancel(int on)
{
	atomic_store(&cancelled, on);
	if (cancel_pipe[1] < 0)
		return;
	if (on) {
		(void)!write(cancel_pipe[1], "x", 1);
	} else {
		char buf[64];
		while (read(cancel_pipe[0], buf, sizeof buf) > 0)
			;
	}
}

void dns_set_timeout(int ms, int tries)
{
	timeout_ms = ms < 10 ? 10 : ms > 60000 ? 60000 : ms;
	ntries = tries < 1 ? 1 : tries > 10 ? 10 : tries;
}

void dns_thread_timeout(int ms)
{
	tl_timeout_ms = ms <= 0 ? 0 : ms < 10 ? 10 : ms > 60000 ? 60000 : ms;
}

/* A reason into a fixed buffer; long names just cut it short. */
__attribute__((format(printf, 3, 4))) static void whyf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* ---- names ------------------------------------------------------------ */

static int host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* A query name in wire form, built here (so ldns never parses text). One
 * trailing dot is allowed; labels are 1..63 octets of LDH or '_'
 * (RFC 1035 2.3.4, _ for SPF/DKIM/DMARC names). NULL if it is no name. */
static ldns_rdf *name_to_rdf(const char *name)
{
	uint8_t wire[DNS_NAME_MAX + 1];
	size_t len = strlen(name), w = 0, lab = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return NULL;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			size_t l = i - lab;
			if (l == 0 || l > 63)
				return NULL;
			wire[w++] = (uint8_t)l;
			memcpy(wire + w, name + lab, l);
			w += l;
			lab = i + 1;
		} else if (!host_char((unsigned char)name[i])) {
			return NULL;
		}
	}
	wire[w++] = 0;
	return ldns_dname_new_frm_data((uint16_t)w, wire);
}

/* A name from an answer as text: lower case, no trailing dot, "" for the
 * root. -1 for anything that is not a plain host name (escapes, spaces,
 * control bytes would otherwise reach logs and SMTP commands). */
static int rdf_to_name(const ldns_rdf *rdf, char *out, size_t cap)
{
	const uint8_t *d;
	size_t size, i = 0, o = 0;

	if (!rdf || cap == 0 || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return -1;
	d = ldns_rdf_data(rdf);
	size = ldns_rdf_size(rdf);
	while (i < size) {
		size_t l = d[i++];
		if (l == 0) {
			out[o] = 0;
			return i == size ? 0 : -1;
		}
		/* RFC 1035 2.3.4: labels of 63, names of 253 octets as text. */
		size_t grown = o + (o > 0) + l;
		if (l > 63 || i + l > size || grown > 253 || grown + 1 > cap)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < l; k++, i++) {
			unsigned char c = d[i];
			if (!host_char(c))
				return -1;
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	}
	return -1;
}

static const char *type_name(ldns_rr_type t)
{
	switch (t) {
	case LDNS_RR_TYPE_MX:
		return "MX";
	case LDNS_RR_TYPE_A:
		return "A";
	case LDNS_RR_TYPE_AAAA:
		return "AAAA";
	case LDNS_RR_TYPE_TXT:
		return "TXT";
	case LDNS_RR_TYPE_PTR:
		return "PTR";
	case LDNS_RR_TYPE_CNAME:
		return "CNAME";
	default:
		return "?";
	}
}

static const char *rcode_name(int rc)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
					    "NXRRSET", "NOTAUTH", "NOTZONE"};
	return rc >= 0 && (size_t)rc < ARRAY_LEN(names) ? names[rc] : "unknown rcode";
}

/* ---- one answer ------------------------------------------------------- */

struct question {
	const char *name; /* as the caller gave it, for messages */
	ldns_rdf *rdf;	  /* borrowed */
	ldns_rr_type type;
	uint16_t id;
};

struct answer {
	ldns_pkt *pkt;	   /* owned */
	ldns_rr_list *rrs; /* records answering the question: views into pkt */
	ldns_rdf *final;   /* owned: the name they belong to, after CNAMEs */
	int nodata;	   /* NOERROR and nothing of the type at final */
	int follow;	   /* the chain left this answer: ask again for final */
};

static void answer_free(struct answer *a)
{
	if (a->rrs)
		ldns_rr_list_free(a->rrs);
	if (a->pkt)
		ldns_pkt_free(a->pkt);
	if (a->final)
		ldns_rdf_deep_free(a->final);
	memset(a, 0, sizeof *a);
}

static int rr_is(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type)
{
	return ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	       ldns_rr_owner(rr) && ldns_rdf_get_type(ldns_rr_owner(rr)) == LDNS_RDF_TYPE_DNAME &&
	       ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* The header and question must be those of our query: a response (QR),
 * our ID, opcode QUERY, exactly our question. Anything else is not an
 * answer to us (RFC 1035 7.3; RFC 5452 9.1). */
static int header_check(const ldns_pkt *pkt, const struct question *q, char *why, size_t whylen)
{
	const ldns_rr *qr;

	if (!ldns_pkt_qr(pkt) || ldns_pkt_id(pkt) != q->id ||
	    ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY) {
		snprintf(why, whylen, "answer for %s %s is not a response to our query", q->name,
			 type_name(q->type));
		return DNS_TEMP;
	}
	if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR &&
	    ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NXDOMAIN) {
		snprintf(why, whylen, "%s %s: server failure (%s)", q->name, type_name(q->type),
			 rcode_name(ldns_pkt_get_rcode(pkt)));
		return DNS_TEMP;
	}
	if (ldns_pkt_edns_extended_rcode(pkt) != 0) {
		snprintf(why, whylen, "%s %s: server failure (extended rcode %u)", q->name,
			 type_name(q->type), ldns_pkt_edns_extended_rcode(pkt));
		return DNS_TEMP;
	}
	if (ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1 ||
	    !(qr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) || !rr_is(qr, q->rdf, q->type)) {
		snprintf(why, whylen, "answer for %s %s is for another question", q->name,
			 type_name(q->type));
		return DNS_TEMP;
	}
	if (ldns_pkt_tc(pkt)) {
		snprintf(why, whylen, "answer for %s %s was truncated", q->name,
			 type_name(q->type));
		return DNS_TEMP;
	}
	return DNS_OK;
}

/* Walk the answer section from the question name through CNAMEs and keep
 * the records of the asked type at the end of the chain. *hops counts
 * CNAMEs across re-queries. Takes ownership of pkt. */
static int answer_check(ldns_pkt *pkt, const struct question *q, int *hops, struct answer *a,
			char *why, size_t whylen)
{
	ldns_rr_list *an;
	int rc;

	memset(a, 0, sizeof *a);
	a->pkt = pkt;
	if ((rc = header_check(pkt, q, why, whylen)) != DNS_OK)
		return rc;
	if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
		snprintf(why, whylen, "%s: no such domain (NXDOMAIN)", q->name);
		return DNS_PERM;
	}
	an = ldns_pkt_answer(pkt);
	a->final = ldns_rdf_clone(q->rdf);
	a->rrs = ldns_rr_list_new();
	for (;;) {
		const ldns_rr *cname = NULL;
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (rr_is(rr, a->final, q->type))
				ldns_rr_list_push_rr(a->rrs, rr);
			else if (!cname && q->type != LDNS_RR_TYPE_CNAME &&
				 rr_is(rr, a->final, LDNS_RR_TYPE_CNAME) &&
				 ldns_rr_rd_count(rr) == 1 &&
				 ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) == LDNS_RDF_TYPE_DNAME)
				cname = rr;
		}
		if (ldns_rr_list_rr_count(a->rrs) > 0 || !cname)
			break;
		/* RFC 1034 3.6.2 / RFC 5321 5.1: follow, but bounded (loops). */
		if (++*hops > DNS_CNAME_MAX) {
			snprintf(why, whylen, "%s: CNAME chain longer than %d", q->name,
				 DNS_CNAME_MAX);
			return DNS_TEMP;
		}
		ldns_rdf_deep_free(a->final);
		a->final = ldns_rdf_clone(ldns_rr_rdf(cname, 0));
	}
	if (ldns_rr_list_rr_count(a->rrs) == 0) {
		if (ldns_dname_compare(a->final, q->rdf) != 0)
			a->follow = 1;
		else
			a->nodata = 1;
	}
	return DNS_OK;
}

/* ---- queries ---------------------------------------------------------- */

static uint16_t random_id(void)
{
	uint16_t id;
	random_bytes(&id, sizeof id);
	return id;
}

/*
 * ldns 1.8.3's ldns_wire2pkt leaks every TSIG record of the additional
 * section but the last, and the EDNS data of every OPT record but the last
 * (each replaces the one before without freeing it): a server, or anyone
 * who can spoof its answers, could make brev leak a little per look-up.
 * brev never signs a query, so a TSIG record in an answer means nothing,
 * and RFC 6891 6.1.1 makes a second OPT record a format error: such
 * answers are refused before ldns_wire2pkt sees them. The records are
 * walked with ldns's own ldns_wire2rr, record by record as ldns_wire2pkt
 * does, so that both find the same records (a walk by RDLENGTH does not:
 * ldns reads the fields of known types and may end elsewhere). -1 also for
 * what ldns cannot parse.
 */
static int wire_check(const uint8_t *w, size_t len)
{
	static const ldns_pkt_section sect[4] = {LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER,
						 LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL};
	size_t pos = LDNS_HEADER_SIZE;
	unsigned opt = 0;

	if (len < LDNS_HEADER_SIZE)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned count = (unsigned)w[4 + 2 * i] << 8 | w[5 + 2 * i];
		for (unsigned n = 0; n < count; n++) {
			ldns_rr *rr = NULL;
			if (ldns_wire2rr(&rr, w, len, &pos, sect[i]) != LDNS_STATUS_OK)
				return -1;
			ldns_rr_type type = ldns_rr_get_type(rr);
			ldns_rr_free(rr);
			if (sect[i] == LDNS_SECTION_ADDITIONAL &&
			    (type == LDNS_RR_TYPE_TSIG || (type == LDNS_RR_TYPE_OPT && ++opt > 1)))
				return -1;
		}
	}
	return 0;
}

static void server_sockaddr(const struct server *s, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (s->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(s->port);
		memcpy(&a->sin_addr, s->addr, 4);
		*len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(s->port);
		memcpy(&a->sin6_addr, s->addr, 16);
		*len = sizeof *a;
	}
}

static int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* One UDP try: the answer's bytes, or NULL (*timed_out, *stopped say why
 * when it was not a network error). Datagrams that cannot be the answer
 * (from another address than the server's, shorter than a header, not a
 * response, another ID) are ignored, as a spoofer's would be. */
static uint8_t *udp_try(ldns_buffer *qb, const struct sockaddr_storage *to, socklen_t tolen,
			size_t *len, int *timed_out, int *stopped)
{
	const uint8_t *q = ldns_buffer_begin(qb);
	struct timeval tv = {TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000};
	int64_t end = now_ms() + TIMEOUT_MS;
	uint8_t *wire = NULL;
	int fd = ldns_udp_bgsend2(qb, to, tolen, tv);

	if (fd < 0)
		return NULL;
	/* poll can call a datagram readable that recvfrom then drops (a bad
	 * checksum): the read must not block. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = cancel_pipe[0], .events = POLLIN}};
		int64_t left = end - now_ms();
		int n = poll(p, cancel_pipe[0] >= 0 ? 2 : 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*timed_out = n == 0;
			break;
		}
		if (cancel_pipe[0] >= 0 && p[1].revents) {
			*stopped = 1;
			break;
		}
		struct sockaddr_storage fr;
		socklen_t frlen = sizeof fr;
		errno = 0;
		wire = ldns_udp_read_wire(fd, len, &fr, &frlen);
		if (!wire && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (wire && (!same_sockaddr(&fr, to) || *len < 12 || wire[0] != q[0] ||
			     wire[1] != q[1] || !(wire[2] & 0x80))) {
			free(wire);
			wire = NULL;
			continue;
		}
		break;
	}
	close(fd);
	return wire;
}

/* One exchange with one server: 0 and *ans, or -1 with why. UDP, `ntries`
 * times; a truncated answer (TC) is asked again over TCP. */
static int exchange(const struct server *s, ldns_pkt *query, ldns_pkt **ans, char *why,
		    size_t whylen)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	ldns_buffer *qb = ldns_buffer_new(LDNS_MIN_BUFLEN);
	uint8_t *wire = NULL;
	size_t len = 0;
	int timed_out = 0, stopped = 0, rc = -1;
	ldns_status st;

	*ans = NULL;
	if (!qb || ldns_pkt2buffer_wire(qb, query) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "dns: out of memory");
		goto out;
	}
	server_sockaddr(s, &to, &tolen);
	for (int t = 0; t < NTRIES && !wire && !stopped; t++) {
		if (atomic_load(&cancelled))
			stopped = 1;
		else
			wire = udp_try(qb, &to, tolen, &len, &timed_out, &stopped);
	}
	if (wire && len >= 3 && (wire[2] & 0x02)) { /* TC: RFC 7766 */
		struct timeval tv = {TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000};
		free(wire);
		wire = NULL;
		if (ldns_tcp_send(&wire, qb, &to, tolen, tv, &len) != LDNS_STATUS_OK)
			wire = NULL;
	}
	if (!wire) {
		if (stopped)
			snprintf(why, whylen, "dns: the server is stopping");
		else if (timed_out)
			snprintf(why, whylen, "dns server %s timed out", s->text);
		else
			snprintf(why, whylen, "dns server %s: network error", s->text);
		goto out;
	}
	if (wire_check(wire, len) < 0) {
		snprintf(
		    why, whylen,
		    "dns server %s: unusable answer (malformed, a TSIG or a second OPT record)",
		    s->text);
		goto out;
	}
	if ((st = ldns_wire2pkt(ans, wire, len)) != LDNS_STATUS_OK) {
		*ans = NULL;
		snprintf(why, whylen, "dns server %s: unusable answer (%s)", s->text,
			 ldns_get_errorstr_by_id(st));
		goto out;
	}
	rc = 0;
out:
	free(wire);
	if (qb)
		ldns_buffer_free(qb);
	return rc;
}

/* Ask each server in turn until one gives an answer that is not TEMP. */
static int query_once(const struct question *q, int *hops, struct answer *a, char *why,
		      size_t whylen)
{
	int rc = DNS_TEMP;

	memset(a, 0, sizeof *a);
	if (nservers == 0) {
		snprintf(why, whylen, "dns: no resolver configured");
		return DNS_TEMP;
	}
	for (size_t i = 0; i < nservers; i++) {
		if (atomic_load(&cancelled)) {
			snprintf(why, whylen, "dns: the server is stopping");
			return DNS_TEMP;
		}
		ldns_pkt *query =
		    ldns_pkt_query_new(ldns_rdf_clone(q->rdf), q->type, LDNS_RR_CLASS_IN, LDNS_RD);
		ldns_pkt *ans;
		struct question qi = *q;
		int h = *hops;

		if (!query) {
			snprintf(why, whylen, "dns: out of memory");
			return DNS_TEMP;
		}
		qi.id = random_id();
		ldns_pkt_set_id(query, qi.id);
		ldns_pkt_set_edns_udp_size(query, DNS_EDNS_SIZE);
		if (exchange(&servers[i], query, &ans, why, whylen)) {
			ldns_pkt_free(query);
			continue;
		}
		ldns_pkt_free(query);
		rc = answer_check(ans, &qi, &h, a, why, whylen);
		log_debug("dns: %s %s via %s: %s", q->name, type_name(q->type), servers[i].text,
			  rc == DNS_OK ? "ok" : why);
		if (rc != DNS_TEMP) {
			*hops = h;
			return rc;
		}
		if (nservers > 1 && strlen(why) + strlen(servers[i].text) + 8 < whylen) {
			char tmp[256];
			snprintf(tmp, sizeof tmp, "%s (from %s)", why, servers[i].text);
			str_copy(why, tmp, whylen);
		}
		answer_free(a);
	}
	return DNS_TEMP;
}

/* A full look-up of (name, type): follows a CNAME chain that leaves an
 * answer by asking again, within the same DNS_CNAME_MAX budget. */
static int lookup(const char *name, ldns_rdf *rdf, ldns_rr_type type, struct answer *a, char *why,
		  size_t whylen)
{
	int hops = 0, rc;
	ldns_rdf *cur = ldns_rdf_clone(rdf);

	for (;;) {
		struct question q = {name, cur, type, 0};
		rc = query_once(&q, &hops, a, why, whylen);
		if (rc != DNS_OK || !a->follow)
			break;
		ldns_rdf_deep_free(cur);
		cur = a->final;
		a->final = NULL;
		answer_free(a);
	}
	ldns_rdf_deep_free(cur);
	return rc;
}

/* ---- extraction ------------------------------------------------------- */

static int rr_addr(const ldns_rr *rr, struct dns_addr *out)
{
	const ldns_rdf *rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;

	memset(out, 0, sizeof *out);
	if (!rd)
		return -1;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_get_type(rd) == LDNS_RDF_TYPE_A &&
	    ldns_rdf_size(rd) == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->sa;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, ldns_rdf_data(rd), 4);
		out->len = sizeof *s;
		return 0;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA &&
	    ldns_rdf_get_type(rd) == LDNS_RDF_TYPE_AAAA && ldns_rdf_size(rd) == 16) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->sa;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, ldns_rdf_data(rd), 16);
		out->len = sizeof *s;
		return 0;
	}
	return -1;
}

/* Addresses of one family, without duplicates, at most DNS_ADDR_MAX. */
struct addr_set {
	struct dns_addr a[DNS_ADDR_MAX];
	size_t n;
};

/* 0 if rr is a well-formed A/AAAA (kept unless full or a duplicate). */
static int addr_set_add(struct addr_set *set, const ldns_rr *rr)
{
	struct dns_addr ad;

	if (rr_addr(rr, &ad))
		return -1;
	for (size_t k = 0; k < set->n; k++)
		if (set->a[k].len == ad.len && memcmp(&set->a[k].sa, &ad.sa, ad.len) == 0)
			return 0;
	if (set->n < DNS_ADDR_MAX)
		set->a[set->n++] = ad;
	return 0;
}

/* IPv6 first, then IPv4. When both families have more than cap together,
 * each keeps at least half, so a broken IPv6 path cannot hide every IPv4
 * address. */
static size_t addr_merge(const struct addr_set *v6, const struct addr_set *v4, struct dns_addr *out,
			 size_t cap)
{
	size_t n6 = v6->n, n4 = v4->n, o = 0;

	if (n6 + n4 > cap) {
		size_t half = cap / 2;
		if (n6 > half && n4 > cap - half) {
			n6 = half;
			n4 = cap - half;
		} else if (n6 > half) {
			n6 = cap - n4;
		} else {
			n4 = cap - n6;
		}
	}
	for (size_t i = 0; i < n6; i++)
		out[o++] = v6->a[i];
	for (size_t i = 0; i < n4; i++)
		out[o++] = v4->a[i];
	return o;
}

/* A/AAAA records for host in a packet's additional section (RFC 1035
 * 4.1: a server adds the addresses of MX targets it knows). Returns which
 * families it held: 1 AAAA, 2 A. */
static int additional_addrs(const ldns_pkt *pkt, const char *host, struct addr_set *v6,
			    struct addr_set *v4)
{
	ldns_rdf *hr = name_to_rdf(host);
	ldns_rr_list *add = ldns_pkt_additional(pkt);
	int got = 0;

	for (size_t k = 0; hr && k < ldns_rr_list_rr_count(add); k++) {
		const ldns_rr *rr = ldns_rr_list_rr(add, k);
		if (rr_is(rr, hr, LDNS_RR_TYPE_AAAA) && addr_set_add(v6, rr) == 0)
			got |= 1;
		else if (rr_is(rr, hr, LDNS_RR_TYPE_A) && addr_set_add(v4, rr) == 0)
			got |= 2;
	}
	if (hr)
		ldns_rdf_deep_free(hr);
	return got;
}

/* One family of one host. NODATA is PERM for the family; *nx is set on
 * NXDOMAIN so the caller need not ask for the other family. */
static int family_lookup(const char *host, ldns_rdf *rdf, ldns_rr_type t, struct addr_set *set,
			 int *nx, char *why, size_t whylen)
{
	struct answer a;
	size_t before = set->n;
	int rc = lookup(host, rdf, t, &a, why, whylen);

	if (rc == DNS_OK) {
		for (size_t i = 0; i < ldns_rr_list_rr_count(a.rrs); i++)
			(void)addr_set_add(set, ldns_rr_list_rr(a.rrs, i));
		if (set->n == before) {
			snprintf(why, whylen, "%s: no %s record", host, type_name(t));
			rc = DNS_PERM;
		}
	} else if (rc == DNS_PERM && a.pkt && ldns_pkt_get_rcode(a.pkt) == LDNS_RCODE_NXDOMAIN) {
		*nx = 1;
	}
	answer_free(&a);
	return rc;
}

/* Addresses of host into v6/v4; got says which families the caller already
 * has. OK with at least one address; TEMP if a family failed temporarily
 * and none was found; PERM otherwise. */
static int host_addrs(const char *host, int got, struct addr_set *v6, struct addr_set *v4,
		      char *why, size_t whylen)
{
	ldns_rdf *rdf = name_to_rdf(host);
	int rc6 = DNS_OK, rc4 = DNS_OK, nx = 0;
	char why6[256] = "", why4[256] = "";

	if (!rdf) {
		snprintf(why, whylen, "'%s' is not a host name", host);
		return DNS_PERM;
	}
	if (!(got & 1))
		rc6 = family_lookup(host, rdf, LDNS_RR_TYPE_AAAA, v6, &nx, why6, sizeof why6);
	if (!(got & 2) && !nx)
		rc4 = family_lookup(host, rdf, LDNS_RR_TYPE_A, v4, &nx, why4, sizeof why4);
	ldns_rdf_deep_free(rdf);
	if (v6->n + v4->n > 0)
		return DNS_OK;
	if (rc6 == DNS_TEMP || rc4 == DNS_TEMP) {
		str_copy(why, rc6 == DNS_TEMP ? why6 : why4, whylen);
		return DNS_TEMP;
	}
	if (nx)
		str_copy(why, why6[0] ? why6 : why4, whylen);
	else
		snprintf(why, whylen, "%s: no address (no AAAA or A record)", host);
	return DNS_PERM;
}

/* ---- MX ----------------------------------------------------------------- */

/* One MX candidate while choosing the best DNS_MX_MAX. */
struct mx_cand {
	uint16_t pref;
	uint32_t key; /* random: equal preferences come out shuffled */
	char name[DNS_NAME_MAX + 1];
};

static int mx_cand_cmp(const void *pa, const void *pb)
{
	const struct mx_cand *a = pa, *b = pb;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* Keep the best DNS_MX_MAX by (preference, random key) however many
 * records came; a name seen twice keeps its better preference. */
static void mx_cand_add(struct mx_cand *c, size_t *n, uint16_t pref, const char *name)
{
	struct mx_cand nc = {.pref = pref};
	size_t worst = 0;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp(c[i].name, name) == 0) {
			if (pref < c[i].pref)
				c[i].pref = pref;
			return;
		}
	}
	random_bytes(&nc.key, sizeof nc.key);
	str_copy(nc.name, name, sizeof nc.name);
	if (*n < DNS_MX_MAX) {
		c[(*n)++] = nc;
		return;
	}
	for (size_t i = 1; i < *n; i++)
		if (mx_cand_cmp(&c[i], &c[worst]) > 0)
			worst = i;
	if (mx_cand_cmp(&nc, &c[worst]) < 0)
		c[worst] = nc;
}

/* The host list of an MX answer, without addresses: the MX records in
 * preference order (equal ones shuffled, RFC 5321 5.1), or the implicit MX
 * when there were none (NODATA). DNS_PERM for a null MX or when no record
 * names a usable host. */
static int mx_hosts(const struct answer *a, const char *domain, struct dns_mx *out)
{
	struct mx_cand cand[DNS_MX_MAX];
	size_t n = 0, nrec = 0, nroot = 0;

	if (a->nodata) {
		/* RFC 5321 5.1: no MX at all: the domain is its own MX, preference 0
		 * (after CNAMEs, the canonical name). */
		out->implicit = 1;
		if (rdf_to_name(a->final, out->hosts[0].name, sizeof out->hosts[0].name) ||
		    !out->hosts[0].name[0]) {
			str_copy(out->hosts[0].name, domain, sizeof out->hosts[0].name);
			str_lower(out->hosts[0].name);
		}
		out->nhosts = 1;
		return DNS_OK;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(a->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(a->rrs, i);
		char name[DNS_NAME_MAX + 1];
		if (ldns_rr_rd_count(rr) != 2 || ldns_rdf_size(ldns_rr_rdf(rr, 0)) != 2)
			continue;
		nrec++;
		if (rdf_to_name(ldns_rr_rdf(rr, 1), name, sizeof name))
			continue;
		if (name[0] == 0) {
			nroot++; /* RFC 7505: "." is no host */
			continue;
		}
		mx_cand_add(cand, &n, ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)), name);
	}
	if (nrec == 1 && nroot == 1) {
		out->null_mx = 1;
		snprintf(out->why, sizeof out->why, "%s does not accept mail (null MX, RFC 7505)",
			 domain);
		return DNS_PERM;
	}
	if (n == 0) {
		snprintf(out->why, sizeof out->why, "%s: no usable MX host name", domain);
		return DNS_PERM;
	}
	qsort(cand, n, sizeof cand[0], mx_cand_cmp);
	for (size_t i = 0; i < n; i++) {
		str_copy(out->hosts[i].name, cand[i].name, sizeof out->hosts[i].name);
		out->hosts[i].pref = cand[i].pref;
	}
	out->nhosts = n;
	return DNS_OK;
}

/* Addresses for every host, in order, within a time budget (a resolver
 * that answers MX but times out on every host must not hold a delivery
 * for DNS_MX_MAX x 2 x timeout). Hosts that failed for good are dropped;
 * RFC 5321 5.1: if none is usable, that is an error. */
static int mx_resolve(const struct answer *a, const char *domain, struct dns_mx *out)
{
	int64_t deadline = now_ms() + 4LL * (int64_t)nservers * ntries * timeout_ms;
	char first_perm[256] = "", first_temp[256] = "";
	size_t keep = 0, ok = 0;

	for (size_t i = 0; i < out->nhosts; i++) {
		struct dns_mx_host *h = &out->hosts[i];
		struct addr_set v6 = {.n = 0}, v4 = {.n = 0};
		char why[256];
		int got = additional_addrs(a->pkt, h->name, &v6, &v4);

		if (got == 0 && now_ms() > deadline) {
			h->addr_rc = DNS_TEMP;
			snprintf(why, sizeof why, "%s: not looked up (DNS time budget spent)",
				 h->name);
		} else {
			h->addr_rc = host_addrs(h->name, got, &v6, &v4, why, sizeof why);
		}
		h->naddrs = h->addr_rc == DNS_OK ? addr_merge(&v6, &v4, h->addrs, DNS_ADDR_MAX) : 0;
		if (h->addr_rc == DNS_PERM) {
			if (!first_perm[0])
				str_copy(first_perm, why, sizeof first_perm);
			continue;
		}
		if (h->addr_rc == DNS_TEMP && !first_temp[0])
			str_copy(first_temp, why, sizeof first_temp);
		ok += h->addr_rc == DNS_OK;
		if (keep != i)
			out->hosts[keep] = *h;
		keep++;
	}
	out->nhosts = keep;
	if (ok > 0) {
		out->why[0] = 0;
		return DNS_OK;
	}
	if (first_temp[0]) {
		whyf(out->why, sizeof out->why, "%s: no MX host address yet: %s", domain,
		     first_temp);
		return DNS_TEMP;
	}
	if (out->implicit)
		whyf(out->why, sizeof out->why, "%s: no MX record and no address (%s)", domain,
		     first_perm);
	else
		whyf(out->why, sizeof out->why, "%s: no MX host has an address (%s)", domain,
		     first_perm);
	return DNS_PERM;
}

int dns_mx(const char *domain, struct dns_mx *out)
{
	struct answer a = {0};
	ldns_rdf *rdf;
	int rc;

	memset(out, 0, sizeof *out);
	if (!(rdf = name_to_rdf(domain))) {
		snprintf(out->why, sizeof out->why, "'%s' is not a domain name", domain);
		return DNS_PERM;
	}
	rc = lookup(domain, rdf, LDNS_RR_TYPE_MX, &a, out->why, sizeof out->why);
	ldns_rdf_deep_free(rdf);
	if (rc == DNS_OK)
		rc = mx_hosts(&a, domain, out);
	if (rc == DNS_OK)
		rc = mx_resolve(&a, domain, out);
	answer_free(&a);
	if (rc != DNS_OK)
		log_debug("dns: MX %s: %s", domain, out->why);
	return rc;
}

int dns_addrs(const char *host, struct dns_addr *out, size_t cap, size_t *n, char *why,
	      size_t whylen)
{
	struct addr_set v6 = {.n = 0}, v4 = {.n = 0};
	int rc = host_addrs(host, 0, &v6, &v4, why, whylen);

	*n = rc == DNS_OK ? addr_merge(&v6, &v4, out, cap) : 0;
	return rc;
}

int dns_a(const char *name, int ms, uint32_t *out, size_t cap, size_t *n, char *why, size_t whylen)
{
	struct answer a = {0};
	ldns_rdf *rdf = name_to_rdf(name);
	int rc;

	*n = 0;
	if (!rdf) {
		snprintf(why, whylen, "'%s' is not a domain name", name);
		return DNS_PERM;
	}
	int saved = tl_timeout_ms;
	tl_timeout_ms = ms < 10 ? 10 : ms > 60000 ? 60000 : ms;
	rc = lookup(name, rdf, LDNS_RR_TYPE_A, &a, why, whylen);
	tl_timeout_ms = saved;
	ldns_rdf_deep_free(rdf);
	for (size_t i = 0; rc == DNS_OK && a.rrs && i < ldns_rr_list_rr_count(a.rrs); i++) {
		struct dns_addr d;
		if (*n < cap && rr_addr(ldns_rr_list_rr(a.rrs, i), &d) == 0 &&
		    d.sa.ss_family == AF_INET) {
			uint32_t v;
			memcpy(&v, &((struct sockaddr_in *)&d.sa)->sin_addr, 4);
			out[(*n)++] = ntohl(v);
		}
	}
	if (rc == DNS_OK && *n == 0) {
		snprintf(why, whylen, "%s: no A record", name);
		rc = DNS_PERM;
	}
	answer_free(&a);
	return rc;
}

/* ---- TXT, PTR ------------------------------------------------------------ */

/* RFC 1035 3.3.14 / RFC 7208 3.3: a TXT record is one or more
 * character-strings; SPF and DKIM read them joined without separators.
 * A record is at most 64 KiB (the packet bounds it). Returns the count. */
static size_t txt_each(const ldns_rr_list *rrs, void (*cb)(void *, const char *, size_t), void *arg)
{
	size_t count = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		size_t total = 0, o = 0;
		char *buf;
		int bad = 0;
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			const ldns_rdf *s = ldns_rr_rdf(rr, k);
			if (ldns_rdf_get_type(s) != LDNS_RDF_TYPE_STR || ldns_rdf_size(s) < 1 ||
			    ldns_rdf_size(s) != 1u + ldns_rdf_data(s)[0])
				bad = 1;
			else
				total += ldns_rdf_size(s) - 1;
		}
		if (bad || ldns_rr_rd_count(rr) == 0 || total > 65535)
			continue;
		buf = xmalloc(total + 1);
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			const ldns_rdf *s = ldns_rr_rdf(rr, k);
			memcpy(buf + o, ldns_rdf_data(s) + 1, ldns_rdf_size(s) - 1);
			o += ldns_rdf_size(s) - 1;
		}
		buf[o] = 0;
		if (cb)
			cb(arg, buf, o);
		free(buf);
		count++;
	}
	return count;
}

int dns_txt(const char *name, void (*cb)(void *arg, const char *txt, size_t len), void *arg,
	    char *why, size_t whylen)
{
	struct answer a = {0};
	ldns_rdf *rdf = name_to_rdf(name);
	int rc;

	if (!rdf) {
		snprintf(why, whylen, "'%s' is not a domain name", name);
		return DNS_PERM;
	}
	rc = lookup(name, rdf, LDNS_RR_TYPE_TXT, &a, why, whylen);
	ldns_rdf_deep_free(rdf);
	if (rc == DNS_OK && txt_each(a.rrs, cb, arg) == 0) {
		snprintf(why, whylen, "%s: no TXT record", name);
		rc = DNS_PERM;
	}
	answer_free(&a);
	return rc;
}

/* RFC 1035 3.5 (in-addr.arpa) and RFC 3596 2.5 (ip6.arpa). An IPv4-mapped
 * IPv6 address (a dual-stack listener's view of an IPv4 peer) is IPv4. */
static int ptr_name(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	const uint8_t *b;

	if (sa->ss_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		b = a6->s6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(a6)) {
			size_t o = 0;
			for (int i = 15; i >= 0; i--)
				o += (size_t)snprintf(out + o, cap - o, "%x.%x.", b[i] & 15,
						      b[i] >> 4);
			snprintf(out + o, cap - o, "ip6.arpa");
			return 0;
		}
		b += 12;
	} else {
		return -1;
	}
	snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	return 0;
}

/* The first PTR record naming a plain host; -1 if none. */
static int ptr_first(const ldns_rr_list *rrs, char *out, size_t cap)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		char name[DNS_NAME_MAX + 1];
		if (ldns_rr_rd_count(rr) == 1 &&
		    rdf_to_name(ldns_rr_rdf(rr, 0), name, sizeof name) == 0 && name[0] &&
		    strlen(name) < cap) {
			str_copy(out, name, cap);
			return 0;
		}
	}
	return -1;
}

int dns_ptr(const struct sockaddr_storage *sa, char *out, size_t cap, char *why, size_t whylen)
{
	char qname[80];
	struct answer a = {0};
	ldns_rdf *rdf;
	int rc;

	if (cap)
		out[0] = 0;
	if (ptr_name(sa, qname, sizeof qname) || !(rdf = name_to_rdf(qname))) {
		snprintf(why, whylen, "PTR: not an IPv4 or IPv6 address");
		return DNS_PERM;
	}
	rc = lookup(qname, rdf, LDNS_RR_TYPE_PTR, &a, why, whylen);
	ldns_rdf_deep_free(rdf);
	if (rc == DNS_OK && ptr_first(a.rrs, out, cap)) {
		snprintf(why, whylen, "%s: no PTR record", qname);
		rc = DNS_PERM;
	}
	answer_free(&a);
	return rc;
}

/* ---- the hook for tests and fuzzing ------------------------------------- */

static void hook_records(const struct answer *a, uint16_t qtype,
			 void (*cb)(void *, const char *, size_t), void *arg)
{
	for (size_t i = 0; cb && i < ldns_rr_list_rr_count(a->rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(a->rrs, i);
		char text[DNS_NAME_MAX + 1];
		struct dns_addr ad;
		if (qtype == LDNS_RR_TYPE_PTR || qtype == LDNS_RR_TYPE_CNAME) {
			if (ldns_rr_rd_count(rr) != 1 ||
			    rdf_to_name(ldns_rr_rdf(rr, 0), text, sizeof text))
				continue;
		} else if (rr_addr(rr, &ad) == 0) {
			const void *p =
			    ad.sa.ss_family == AF_INET
				? (const void *)&((struct sockaddr_in *)&ad.sa)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)&ad.sa)->sin6_addr;
			inet_ntop(ad.sa.ss_family, p, text, sizeof text);
		} else {
			continue;
		}
		cb(arg, text, strlen(text));
	}
}

int dns_answer_parse(const uint8_t *wire, size_t len, const char *qname, uint16_t qtype,
		     uint16_t id, struct dns_mx *mx,
		     void (*cb)(void *arg, const char *txt, size_t len), void *arg, char *why,
		     size_t whylen)
{
	struct question q = {qname, NULL, (ldns_rr_type)qtype, id};
	struct answer a = {0};
	ldns_pkt *pkt = NULL;
	ldns_status st;
	int hops = 0, rc;

	if (mx)
		memset(mx, 0, sizeof *mx);
	why[0] = 0;
	if (!(q.rdf = name_to_rdf(qname))) {
		snprintf(why, whylen, "'%s' is not a domain name", qname);
		return DNS_PERM;
	}
	if (wire_check(wire, len) < 0) {
		snprintf(why, whylen, "unusable answer (malformed, a TSIG or a second OPT record)");
		ldns_rdf_deep_free(q.rdf);
		return DNS_TEMP;
	}
	if ((st = ldns_wire2pkt(&pkt, wire, len)) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "unusable answer (%s)", ldns_get_errorstr_by_id(st));
		ldns_rdf_deep_free(q.rdf);
		return DNS_TEMP;
	}
	rc = answer_check(pkt, &q, &hops, &a, why, whylen);
	if (rc == DNS_OK && a.follow) {
		char t[DNS_NAME_MAX + 1];
		snprintf(why, whylen, "follow %s", rdf_to_name(a.final, t, sizeof t) ? "?" : t);
	} else if (rc == DNS_OK && qtype == LDNS_RR_TYPE_MX && mx) {
		rc = mx_hosts(&a, qname, mx);
		for (size_t i = 0; rc == DNS_OK && i < mx->nhosts; i++) {
			struct addr_set v6 = {.n = 0}, v4 = {.n = 0};
			struct dns_mx_host *h = &mx->hosts[i];
			(void)additional_addrs(a.pkt, h->name, &v6, &v4);
			h->naddrs = addr_merge(&v6, &v4, h->addrs, DNS_ADDR_MAX);
			h->addr_rc = h->naddrs ? DNS_OK : DNS_TEMP;
		}
		if (rc != DNS_OK)
			str_copy(why, mx->why, whylen);
	} else if (rc == DNS_OK && qtype == LDNS_RR_TYPE_TXT) {
		if (txt_each(a.rrs, cb, arg) == 0) {
			snprintf(why, whylen, "%s: no TXT record", qname);
			rc = DNS_PERM;
		}
	} else if (rc == DNS_OK) {
		hook_records(&a, qtype, cb, arg);
		if (a.nodata) {
			snprintf(why, whylen, "%s: no %s record", qname, type_name(q.type));
			rc = DNS_PERM;
		}
	}
	answer_free(&a);
	ldns_rdf_deep_free(q.rdf);
	return rc;
}
