/* fuzz_dns.c — DNS answer processing (dns.c's dns_answer_parse): ldns's
 * wire parser, then our header/question checks, rcode mapping, CNAME walk
 * and MX/TXT/A/AAAA/PTR extraction. The input is one answer packet. It is
 * checked as the answer to its own question (so the fuzzer gets past the
 * question check) and as the answer to "bob.test MX". Output invariants:
 * host names are short, lower case, plain LDH; the caps hold; IPv6
 * addresses come before IPv4; TXT text is NUL-terminated at its length. */
/* deps: dns util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../dns.h"

static void check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[n - 1] == '.' || s[0] == '.')
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			abort();
	}
}

static void record_cb(void *arg, const char *txt, size_t len)
{
	if (txt[len] != 0 || len > 65535)
		abort();
	(void)arg;
}

static void check_mx(const struct dns_mx *mx, int rc)
{
	if (mx->nhosts > DNS_MX_MAX || (rc == DNS_OK && mx->null_mx))
		abort();
	if (memchr(mx->why, 0, sizeof mx->why) == NULL)
		abort();
	for (size_t i = 0; i < mx->nhosts; i++) {
		const struct dns_mx_host *h = &mx->hosts[i];
		int seen4 = 0;
		check_name(h->name);
		if (h->naddrs > DNS_ADDR_MAX)
			abort();
		if (i > 0 && h->pref < mx->hosts[i - 1].pref)
			abort();
		for (size_t k = 0; k < h->naddrs; k++) {
			int fam = h->addrs[k].sa.ss_family;
			if (fam != AF_INET && fam != AF_INET6)
				abort();
			if (fam == AF_INET)
				seen4 = 1;
			else if (seen4)
				abort();
		}
	}
}

/* The packet's own question as text, if it is a plain name. */
static int own_question(const uint8_t *d, size_t n, char *name, size_t cap, uint16_t *type)
{
	size_t i = 12, o = 0;

	while (i < n && d[i] != 0) {
		size_t l = d[i++];
		if (l > 63 || i + l > n || o + l + 2 > cap)
			return -1;
		if (o)
			name[o++] = '.';
		memcpy(name + o, d + i, l);
		o += l;
		i += l;
	}
	if (o == 0 || i + 3 > n)
		return -1;
	name[o] = 0;
	*type = (uint16_t)(d[i + 1] << 8 | d[i + 2]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx mx;
	char why[256], qname[300];
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0, qtype;
	int rc;

	rc =
	    dns_answer_parse(data, size, "bob.test", 15, id, &mx, record_cb, NULL, why, sizeof why);
	if (rc < DNS_OK || rc > DNS_PERM)
		abort();
	check_mx(&mx, rc);
	if (own_question(data, size, qname, sizeof qname, &qtype) == 0) {
		rc = dns_answer_parse(data, size, qname, qtype, id, &mx, record_cb, NULL, why,
				      sizeof why);
		if (rc < DNS_OK || rc > DNS_PERM || memchr(why, 0, sizeof why) == NULL)
			abort();
		if (qtype == 15)
			check_mx(&mx, rc);
	}
	return 0;
}
