/*
 * config.c — brev.conf. One table below names every key with its type,
 * default, limits and help text; parsing, validation, `-o` overrides and the
 * commented file that `brev init` writes are all driven by it, so a key
 * cannot exist in one place and be missing in another.
 *
 * What this file does not do: decide what a key means at run time (that is
 * the module that reads the field).
 */
#include "config.h"
#include "log.h"
#include "spam.h"
#include "util.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum cfg_type {
	T_STR,      /* free text */
	T_HOST,     /* a DNS host name */
	T_DOMAINS,  /* space separated DNS names */
	T_LISTEN,   /* space separated ADDR:PORT, or empty */
	T_RESOLVER, /* space separated ADDR[:PORT] */
	T_HOSTPORT, /* host:port or empty */
	T_INT,
	T_SIZE,     /* 50M */
	T_DURATION, /* 5d */
	T_RETRY,    /* list of durations */
	T_BOOL,
	T_LEVEL,
	T_MAPSIZE,
	T_ADDRS,    /* space separated local@domain or @domain, or empty */
	T_STRENGTH, /* spam.strength: off, lenient, normal, strict */
	T_SOCKET,   /* unix:/path, ADDR:PORT or localhost:PORT (util.h sock_spec_parse), or empty */
	T_CHOICE,   /* one word of `choices`; the field is its index */
};

struct cfg_key {
	const char *name;
	int type;
	size_t off;
	const char *def;
	long long min, max;   /* T_INT / T_SIZE / T_DURATION bounds (0,0 = none) */
	const char *help;
};

#define F(field) offsetof(struct config, field)

#if SIZE_MAX > 0xffffffffu
#define MAP_DEFAULT "64G"
#else
#define MAP_DEFAULT "1G"
#endif

static const struct cfg_key keys[] = {
	{"hostname", T_HOST, F(hostname), "", 0, 0,
	 "Name used in the SMTP greeting and EHLO (default: the machine's name)"},
	{"domains", T_DOMAINS, F(domains), "localhost", 0, 0,
	 "Domains whose mail is delivered into this store (space separated)"},
	{"listen.smtp", T_LISTEN, F(listen_smtp), "127.0.0.1:2525", 0, 0,
	 "Inbound MX; a real MX uses 0.0.0.0:25 [::]:25"},
	{"listen.submission", T_LISTEN, F(listen_submission), "127.0.0.1:2587", 0, 0,
	 "Submission with STARTTLS, AUTH required (standard port 587)"},
	{"listen.submissions", T_LISTEN, F(listen_submissions), "127.0.0.1:2465", 0, 0,
	 "Submission with implicit TLS (standard port 465)"},
	{"submission.shared_senders", T_ADDRS, F(submission_shared), "", 0, 0,
	 "Addresses (or @domain) any user may put in From/Sender and MAIL FROM on submission"},
	{"listen.imap", T_LISTEN, F(listen_imap), "127.0.0.1:2143", 0, 0,
	 "IMAP with STARTTLS (standard port 143)"},
	{"listen.imaps", T_LISTEN, F(listen_imaps), "127.0.0.1:2993", 0, 0,
	 "IMAP with implicit TLS (standard port 993)"},
	{"listen.pop3", T_LISTEN, F(listen_pop3), "127.0.0.1:2110", 0, 0,
	 "POP3 with STLS (standard port 110)"},
	{"listen.pop3s", T_LISTEN, F(listen_pop3s), "127.0.0.1:2995", 0, 0,
	 "POP3 with implicit TLS (standard port 995)"},
	{"listen.http", T_LISTEN, F(listen_http), "127.0.0.1:2080", 0, 0,
	 "HTTP (standard port 80); from other hosts than this one it only redirects to https"},
	{"listen.https", T_LISTEN, F(listen_https), "127.0.0.1:2443", 0, 0,
	 "HTTPS, implicit TLS (standard port 443)"},
	{"http.session_idle", T_DURATION, F(session_idle), "1d", 1, 365LL * 86400,
	 "A web login (browser session) ends after this long without a request"},
	{"listen.managesieve", T_LISTEN, F(listen_managesieve), "127.0.0.1:4190", 0, 0,
	 "ManageSieve (RFC 5804) with STARTTLS: Sieve scripts from mail clients (port 4190)"},
	{"tls.cert", T_STR, F(tls_cert), "cert.pem", 0, 0,
	 "PEM certificate chain, leaf first (relative to DATADIR)"},
	{"tls.key", T_STR, F(tls_key), "key.pem", 0, 0, "PEM private key (relative to DATADIR)"},
	{"tls.acme", T_STR, F(tls_acme), "", 0, 0,
	 "ACME directory URL to obtain and renew the certificate from, e.g. "
	 "https://acme-v02.api.letsencrypt.org/directory (empty: off; docs/tls.md)"},
	{"tls.acme_email", T_STR, F(tls_acme_email), "", 0, 0,
	 "Contact address given to the ACME server for the account"},
	{"tls.acme_names", T_STR, F(tls_acme_names), "", 0, 0,
	 "More names for the ACME certificate besides hostname (space separated)"},
	{"tls.acme_ca", T_STR, F(tls_acme_ca), "", 0, 0,
	 "PEM file of the CA(s) the ACME server's own certificate must chain to (relative to "
	 "DATADIR; empty: the system's trust store)"},
	{"tls.mta_sts", T_CHOICE, F(tls_mta_sts), "none", 0, 0,
	 "MTA-STS policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt: none (not "
	 "served), testing or enforce (RFC 8461)"},
	{"dns.resolver", T_RESOLVER, F(dns_resolver), "", 0, 0,
	 "Recursive resolvers ADDR[:PORT], space separated (empty: /etc/resolv.conf)"},
	{"delivery.port", T_INT, F(delivery_port), "25", 1, 65535,
	 "Port used to reach remote MX hosts"},
	{"delivery.relay", T_HOSTPORT, F(delivery_relay), "", 0, 0,
	 "Optional smarthost host:port (empty: direct MX delivery)"},
	{"delivery.relay_user", T_STR, F(delivery_relay_user), "", 0, 0,
	 "User name for the smarthost"},
	{"delivery.relay_password_file", T_STR, F(delivery_relay_password_file), "", 0, 0,
	 "File holding the smarthost password (relative to DATADIR)"},
	{"delivery.relay_ca", T_STR, F(delivery_relay_ca), "", 0, 0,
	 "PEM file of the CA(s) the smarthost's certificate must chain to (relative to DATADIR; "
	 "empty: the system's trust store)"},
	{"delivery.relay_fingerprint", T_STR, F(delivery_relay_fingerprint), "", 0, 0,
	 "SHA-256 fingerprint(s) of the smarthost's certificate, instead of a CA (AB:CD:...)"},
	{"delivery.tls_ca", T_STR, F(delivery_tls_ca), "", 0, 0,
	 "PEM file of the CA(s) MX certificates and MTA-STS policy hosts are verified against "
	 "(relative to DATADIR; empty: the system's trust store)"},
	{"delivery.retry", T_RETRY, F(retry), "5m 10m 30m 1h 2h 4h 8h", 0, 0,
	 "Retry intervals; the last one repeats until delivery.max_age"},
	{"delivery.delay_notice", T_DURATION, F(delivery_delay_notice), "4h", 0, 60LL * 86400,
	 "Tell the sender once when a message has waited this long (0: never)"},
	{"delivery.max_age", T_DURATION, F(delivery_max_age), "5d", 60, 60LL * 86400, 
	 "Then an undeliverable message bounces"},
	{"limits.message_size", T_SIZE, F(message_size), "50M", 1024, 1LL << 31,
	 "Largest message accepted (SMTP SIZE, IMAP APPEND)"},
	{"limits.connections", T_INT, F(connections), "200", 1, 100000,
	 "Concurrent client connections"},
	{"limits.timeout_preauth", T_DURATION, F(timeout_preauth), "30s", 1, 3600,
	 "Before login: the TLS handshake, the MX's first command, each submission/IMAP/POP3 command"},
	{"limits.timeout_imap", T_DURATION, F(timeout_imap), "30m", 1, 86400,
	 "IMAP autologout after login (RFC 9051 asks for at least 30 minutes)"},
	{"limits.timeout_pop3", T_DURATION, F(timeout_pop3), "10m", 1, 86400,
	 "POP3 inactivity time-out after login (RFC 1939 asks for at least 10 minutes)"},
	{"quota.default", T_SIZE, F(quota_default), "0", 0, 0,
	 "Per-account storage limit (0: none)"},
	{"quota.messages", T_INT, F(quota_messages), "0", 0, 4294967295LL,
	 "Per-account limit on the number of messages, all mailboxes together (0: none)"},
	{"store.map_size", T_MAPSIZE, F(map_size), MAP_DEFAULT, 0, 0,
	 "Initial LMDB map size; it grows on demand"},
	{"log.level", T_LEVEL, F(log_level), "info", 0, 0, "error, warn, info or debug"},
	{"log.file", T_STR, F(log_file), "", 0, 0,
	 "Append the log to this file (relative to DATADIR) instead of stderr; reopened on SIGHUP"},
	{"log.keep", T_DURATION, F(log_keep), "30d", 1, 3650LL * 86400,
	 "How long the delivery journal behind `brev log` keeps its events"},
	{"user", T_STR, F(user), "", 0, 0,
	 "Unprivileged user to run as after binding, when started as root (default: brev; serve refuses to run as root without one)"},
	{"auth.dmarc_reject", T_BOOL, F(dmarc_reject), "yes", 0, 0,
	 "Honour DMARC p=reject with 550 5.7.1 on the inbound port"},
	{"spam.strength", T_STRENGTH, F(spam_strength), "normal", 0, 0,
	 "Spam filter on the inbound port: off, lenient, normal or strict (docs/spam.md); per account with `brev user set ADDRESS spam=...`"},
	{"spam.dnsbl", T_STR, F(spam_dnsbl), "", 0, 0,
	 "DNS blocklists for the client address on the inbound port: zone[=points] ... (docs/spam.md)"},
	{"spam.uribl", T_STR, F(spam_uribl), "", 0, 0,
	 "URI blocklists for the host names of links in a message: zone[=points] ... (docs/spam.md)"},
	{"spam.pregreet", T_INT, F(spam_pregreet), "300", 0, 5000,
	 "Milliseconds the inbound port waits before its greeting; a client that talks first gets PREGREET points (0: no wait)"},
	{"spam.check_loopback", T_BOOL, F(spam_check_loopback), "no", 0, 0,
	 "Apply the blocklists and the greeting pause to clients on 127.0.0.0/8 and ::1 too (tests)"},
	{"spam.greylist_delay", T_DURATION, F(spam_greylist_delay), "1m", 0, 86400,
	 "Greylisting at strength normal and strict: how long an unknown sender must wait before its retry is accepted (0: no greylisting)"},
	{"virus.clamd", T_SOCKET, F(virus_clamd), "", 0, 0,
	 "clamd socket for virus scanning: unix:/run/clamav/clamd.ctl or 127.0.0.1:3310 (empty: off)"},
	{"virus.on_error", T_CHOICE, F(virus_on_error), "tempfail", 0, 0,
	 "When clamd gives no verdict: tempfail (451, the sender retries) or accept (deliver with "
	 "X-Virus-Scanned: no)"},
	{"lists.bounce_limit", T_INT, F(lists_bounce_limit), "5", 1, 1000,
	 "Bounces after which a mailing list member is disabled and the owner told (docs/lists.md)"},
};

/* The words of each T_CHOICE key, "a|b|c": the field gets 0, 1, 2. */
static const struct {
	const char *key, *words;
} choices[] = {
    {"virus.on_error", "tempfail|accept"},
    {"tls.mta_sts", "none|testing|enforce"},
};

static const char *choices_of(const struct cfg_key *k)
{
	for (size_t i = 0; i < ARRAY_LEN(choices); i++)
		if (strcmp(choices[i].key, k->name) == 0)
			return choices[i].words;
	return "";
}

static const struct cfg_key *key_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int valid_dns_name(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '-' && ch != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* A bound of k in the unit its values are written in: 1K, 2G; 60s, 5m,
 * 2h, 60d (seconds below two minutes, as a person reads "at least 60s"). */
static void format_bound(const struct cfg_key *k, long long v, char *buf, size_t cap)
{
	if (k->type == T_SIZE) {
		static const char units[] = "TGMK";
		for (int i = 0; i < 4; i++) {
			long long u = 1LL << (10 * (4 - i));
			if (v >= u && v % u == 0) {
				snprintf(buf, cap, "%lld%c", v / u, units[i]);
				return;
			}
		}
	} else if (k->type == T_DURATION) {
		if (v >= 86400 && v % 86400 == 0)
			snprintf(buf, cap, "%lldd", v / 86400);
		else if (v >= 3600 && v % 3600 == 0)
			snprintf(buf, cap, "%lldh", v / 3600);
		else if (v >= 120 && v % 60 == 0)
			snprintf(buf, cap, "%lldm", v / 60);
		else
			snprintf(buf, cap, "%llds", v);
		return;
	}
	snprintf(buf, cap, "%lld", v);
}

/* A value that parsed but lies outside k's bounds: say which bound and the
 * whole range, in the key's own units ("at least 60s"). Returns -1. */
static int range_error(const struct cfg_key *k, const char *v, int below, char *err, size_t errlen)
{
	char lo[32], hi[32];
	const char *what = k->type == T_DURATION ? (below ? "too short" : "too long")
						  : (below ? "too small" : "too large");

	format_bound(k, k->min, lo, sizeof lo);
	format_bound(k, k->max, hi, sizeof hi);
	if (!k->max) { /* no upper bound */
		snprintf(err, errlen, "%s = %s is %s: at least %s", k->name, v, what, lo);
		return -1;
	}
	snprintf(err, errlen, "%s = %s is %s: %s %s (the range is %s to %s)", k->name, v, what,
		 below ? "at least" : "at most", below ? lo : hi, lo, hi);
	return -1;
}

/* Check each space-separated word of v with fn; report the first bad one. */
static int each_word(const char *v, int (*fn)(const char *w, char *err, size_t errlen), char *err,
		     size_t errlen)
{
	char *copy = xstrdup(v), *save = NULL, *w;
	int rc = 0;
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		if (fn(w, err, errlen)) {
			rc = -1;
			break;
		}
	free(copy);
	return rc;
}

static int check_listen(const char *w, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned len;
	return addr_parse(w, &ss, &len, err, errlen);
}

static int check_resolver(const char *w, char *err, size_t errlen)
{
	char buf[80];
	struct sockaddr_storage ss;
	unsigned len;
	/* ADDR alone means port 53. */
	if (w[0] != '[' && strchr(w, ':') == strrchr(w, ':') && !strchr(w, ':'))
		snprintf(buf, sizeof buf, "%s:53", w);
	else if (w[0] != '[' && strchr(w, ':') != strrchr(w, ':'))
		snprintf(buf, sizeof buf, "[%s]:53", w); /* bare IPv6 */
	else
		snprintf(buf, sizeof buf, "%s", w);
	return addr_parse(buf, &ss, &len, err, errlen);
}

static int check_domain(const char *w, char *err, size_t errlen)
{
	if (valid_dns_name(w))
		return 0;
	snprintf(err, errlen, "'%s' is not a domain name", w);
	return -1;
}

/* A submission.shared_senders entry: "local@domain" or "@domain". */
static int check_sender(const char *w, char *err, size_t errlen)
{
	const char *at = strrchr(w, '@');
	if (at && valid_dns_name(at + 1) && !strchr(w, '<') && !strchr(w, '>') &&
	    strchr(w, '@') == at)
		return 0;
	snprintf(err, errlen, "'%s' is not an address (local@domain) or @domain", w);
	return -1;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

static int parse_retry(struct config *c, const char *v, char *err, size_t errlen)
{
	char *copy = xstrdup(v), *save = NULL, *w;
	int n = 0, rc = 0;
	for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		int64_t d;
		if (n == CFG_RETRY_MAX) {
			snprintf(err, errlen, "more than %d retry intervals", CFG_RETRY_MAX);
			rc = -1;
			break;
		}
		if (parse_duration(w, &d) || d < 1) {
			snprintf(err, errlen, "'%s' is not a duration (like 30s, 5m, 2h, 1d)", w);
			rc = -1;
			break;
		}
		c->retry[n++] = d;
	}
	free(copy);
	if (rc == 0 && n == 0) {
		snprintf(err, errlen, "needs at least one interval");
		rc = -1;
	}
	if (rc == 0)
		c->nretry = n;
	return rc;
}

static int apply(struct config *c, const struct cfg_key *k, const char *v, char *err, size_t errlen)
{
	void *field = (char *)c + k->off;
	long long iv;
	uint64_t sz;
	int64_t dur;
	int lvl;

	switch (k->type) {
	case T_STR:
		set_str(field, v);
		return 0;
	case T_HOST:
		if (*v && !valid_dns_name(v)) {
			snprintf(err, errlen, "'%s' is not a host name", v);
			return -1;
		}
		if (*v)
			str_copy(field, v, sizeof c->hostname);
		else
			local_hostname(field, sizeof c->hostname);
		str_lower(field);
		return 0;
	case T_DOMAINS:
		if (v[strspn(v, " \t")] == 0) {
			snprintf(err, errlen, "needs at least one domain");
			return -1;
		}
		if (each_word(v, check_domain, err, errlen))
			return -1;
		set_str(field, v);
		str_lower(*(char **)field);
		return 0;
	case T_LISTEN:
		if (each_word(v, check_listen, err, errlen))
			return -1;
		set_str(field, v);
		return 0;
	case T_ADDRS:
		if (each_word(v, check_sender, err, errlen))
			return -1;
		set_str(field, v);
		return 0;
	case T_SOCKET:
		if (*v) {
			struct sockaddr_storage ss;
			unsigned len;
			if (sock_spec_parse(v, &ss, &len, err, errlen) < 0)
				return -1;
		}
		set_str(field, v);
		return 0;
	case T_CHOICE:
		lvl = 0; /* the index of the word */
		for (const char *w = choices_of(k), *end;; w = end + 1, lvl++) {
			end = w + strcspn(w, "|");
			if ((size_t)(end - w) == strlen(v) && strncmp(w, v, strlen(v)) == 0) {
				*(int *)field = lvl;
				return 0;
			}
			if (!*end)
				break;
		}
		snprintf(err, errlen, "'%s' is not one of %s", v, choices_of(k));
		return -1;
	case T_RESOLVER:
		if (each_word(v, check_resolver, err, errlen))
			return -1;
		set_str(field, v);
		return 0;
	case T_HOSTPORT:
		if (*v) {
			const char *colon = strrchr(v, ':');
			char host[256];
			if (!colon || parse_int(colon + 1, 1, 65535, &iv) ||
			    (size_t)(colon - v) >= sizeof host) {
				snprintf(err, errlen, "'%s': expected HOST:PORT", v);
				return -1;
			}
			memcpy(host, v, (size_t)(colon - v));
			host[colon - v] = 0;
			if (!valid_dns_name(host) && host[0] != '[') {
				snprintf(err, errlen, "'%s' is not a host name", host);
				return -1;
			}
		}
		set_str(field, v);
		return 0;
	case T_INT:
		if (parse_int(v, LLONG_MIN, LLONG_MAX, &iv)) {
			snprintf(err, errlen, "'%s' is not a whole number", v);
			return -1;
		}
		if (iv < k->min || iv > k->max)
			return range_error(k, v, iv < k->min, err, errlen);
		*(long long *)field = iv;
		return 0;
	case T_SIZE:
		if (parse_size(v, &sz)) {
			snprintf(err, errlen, "'%s' is not a size (like 50M)", v);
			return -1;
		}
		if (k->max && (sz < (uint64_t)k->min || sz > (uint64_t)k->max))
			return range_error(k, v, sz < (uint64_t)k->min, err, errlen);
		*(uint64_t *)field = sz;
		return 0;
	case T_MAPSIZE:
		if (parse_size(v, &sz) || sz < (1ULL << 20)) {
			snprintf(err, errlen, "'%s' is not a size of at least 1M", v);
			return -1;
		}
		/* On 32-bit, LMDB takes a size_t: 4 GiB would wrap to 0 and a map
		 * much above ~1.75 GiB cannot be mapped at all. */
		if (sizeof(size_t) == 4 && sz > (1ULL << 30) * 3 / 2) {
			snprintf(err, errlen, "'%s' is too large for a 32-bit system (at most 1536M)", v);
			return -1;
		}
		*(uint64_t *)field = sz;
		return 0;
	case T_DURATION:
		if (parse_duration(v, &dur)) {
			snprintf(err, errlen, "'%s' is not a duration (like 30s, 5m, 2h, 5d)", v);
			return -1;
		}
		if (dur < k->min || (k->max && dur > k->max))
			return range_error(k, v, dur < k->min, err, errlen);
		*(int64_t *)field = dur;
		return 0;
	case T_RETRY:
		return parse_retry(c, v, err, errlen);
	case T_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
			*(int *)field = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
			 !strcmp(v, "0"))
			*(int *)field = 0;
		else {
			snprintf(err, errlen, "'%s' is not yes or no", v);
			return -1;
		}
		return 0;
	case T_STRENGTH:
		if ((lvl = spam_strength_parse(v, 0)) < 0) {
			snprintf(err, errlen, "'%s' is not one of off, lenient, normal, strict", v);
			return -1;
		}
		*(int *)field = lvl;
		return 0;
	case T_LEVEL:
		lvl = log_level_parse(v);
		if (lvl < 0) {
			snprintf(err, errlen, "'%s' is not one of error, warn, info, debug", v);
			return -1;
		}
		*(int *)field = lvl;
		return 0;
	}
	snprintf(err, errlen, "internal: bad key type");
	return -1;
}

void config_defaults(struct config *c, const char *datadir)
{
	char err[256];
	memset(c, 0, sizeof *c);
	str_copy(c->datadir, datadir, sizeof c->datadir);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (apply(c, &keys[i], keys[i].def, err, sizeof err))
			fatal("default of %s: %s", keys[i].name, err); /* broken table */
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = key_find(key);
	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	return apply(c, k, value, err, errlen);
}

/* One "key = value" line. 0 ok or blank, -1 with err. */
static int parse_line(struct config *c, char *line, char *err, size_t errlen)
{
	char *eq, *key, *val;
	line = str_trim(line);
	if (*line == 0 || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value'");
		return -1;
	}
	*eq = 0;
	key = str_trim(line);
	val = str_trim(eq + 1);
	return config_set(c, key, val, err, errlen);
}

int config_load(struct config *c, const char *datadir, char *const *overrides, int noverrides,
		char *err, size_t errlen)
{
	char path[PATH_MAX], why[512];
	size_t len;
	char *text;

	config_defaults(c, datadir);
	if (path_join(path, sizeof path, datadir, "brev.conf") < 0) {
		snprintf(err, errlen, "data directory path too long");
		return -1;
	}
	text = file_read(path, 1 << 20, &len);
	if (text) {
		char *line = text;
		int lineno = 0;
		if (memchr(text, 0, len)) {
			snprintf(err, errlen, "brev.conf: contains a NUL byte");
			free(text);
			return -1;
		}
		while (line && *line) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			lineno++;
			if (parse_line(c, line, why, sizeof why)) {
				snprintf(err, errlen, "brev.conf:%d: %s", lineno, why);
				free(text);
				return -1;
			}
			line = nl ? nl + 1 : NULL;
		}
		free(text);
	}
	for (int i = 0; i < noverrides; i++) {
		char *copy = xstrdup(overrides[i]), *eq = strchr(copy, '=');
		int rc;
		if (!eq) {
			snprintf(err, errlen, "-o %s: expected KEY=VALUE", overrides[i]);
			free(copy);
			return -1;
		}
		*eq = 0;
		rc = config_set(c, str_trim(copy), str_trim(eq + 1), why, sizeof why);
		if (rc)
			snprintf(err, errlen, "-o %s: %s", str_trim(copy), why);
		free(copy);
		if (rc)
			return -1;
	}
	return 0;
}

void config_free(struct config *c)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		int t = keys[i].type;
		if (t == T_STR || t == T_DOMAINS || t == T_LISTEN || t == T_RESOLVER ||
		    t == T_HOSTPORT || t == T_ADDRS || t == T_SOCKET) {
			char **f = (char **)((char *)c + keys[i].off);
			free(*f);
			*f = NULL;
		}
	}
}

char *config_render_default(const char *domain, const char *hostname, int public)
{
	size_t cap = 16384, n = 0;
	char *out = xmalloc(cap);
#define OUT(...) n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__)
	OUT("# brev.conf — written by `brev init`.\n"
	    "# Every key is optional; the commented lines show the defaults.\n"
	    "# Syntax: key = value. Unknown keys and bad values stop `brev serve`.\n\n");
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		OUT("# %s\n#%s = %s\n\n", keys[i].help, keys[i].name,
		    keys[i].type == T_HOST && !*keys[i].def ? "" : keys[i].def);
	OUT("# --- settings chosen at init ---\n");
	if (domain)
		OUT("domains = %s\n", domain);
	if (hostname)
		OUT("hostname = %s\n", hostname);
	if (public) {
		OUT("listen.smtp = 0.0.0.0:25 [::]:25\n");
		OUT("listen.submission = 0.0.0.0:587 [::]:587\n");
		OUT("listen.submissions = 0.0.0.0:465 [::]:465\n");
		OUT("listen.imap = 0.0.0.0:143 [::]:143\n");
		OUT("listen.imaps = 0.0.0.0:993 [::]:993\n");
		OUT("listen.pop3 = 0.0.0.0:110 [::]:110\n");
		OUT("listen.pop3s = 0.0.0.0:995 [::]:995\n");
		OUT("listen.http = 0.0.0.0:80 [::]:80\n");
		OUT("listen.https = 0.0.0.0:443 [::]:443\n");
		OUT("listen.managesieve = 0.0.0.0:4190 [::]:4190\n");
	}
#undef OUT
	return out;
}

int config_domain_is_local(const struct config *c, const char *domain)
{
	size_t dl = strlen(domain);
	const char *p = c->domains;
	if (dl && domain[dl - 1] == '.')
		dl--;
	while (p && *p) {
		size_t wl;
		while (*p == ' ' || *p == '\t')
			p++;
		wl = strcspn(p, " \t");
		if (wl && wl == dl && str_ncasecmp_ascii(p, domain, dl) == 0)
			return 1;
		p += wl;
	}
	return 0;
}

int config_path(const struct config *c, const char *rel, char *out, size_t cap)
{
	return path_join(out, cap, c->datadir, rel);
}
