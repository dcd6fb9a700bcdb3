/*
 * http_autoconfig.c — the documents mail clients and other mail servers
 * fetch to configure themselves, built from brev.conf on each request:
 *
 *   - Thunderbird autoconfig: Mozilla's ISPDB clientConfig v1.1, the
 *     listeners that are on, implicit TLS first (RFC 8314 5.1);
 *   - Outlook Autodiscover, the "POX" form (request schema 2006, response
 *     schema 2006a): one IMAP, one POP3 and one SMTP <Protocol>;
 *   - Apple's configuration profile (.mobileconfig) for one account:
 *     its IMAP and SMTP settings, no password;
 *   - the MTA-STS policy (RFC 8461 3.2) and its id for `brev dns`.
 *
 * Deliberately not here: routing, methods, body reading, TLS-only rules
 * (http.c), and the DNS records (dnsrec.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_autoconfig.h"
#include "log.h"
#include "util.h"

#define MTA_STS_MAX_AGE 604800 /* one week, RFC 8461 3.2's suggested range */
#define ADDR_MAX	254

unsigned autoconf_listen_port(const char *v)
{
	char w[300], err[128];
	struct sockaddr_storage ss;
	unsigned len;
	size_t n;

	if (!v)
		return 0;
	v += strspn(v, " \t");
	n = strcspn(v, " \t");
	if (n == 0 || n >= sizeof w)
		return 0;
	memcpy(w, v, n);
	w[n] = 0;
	if (addr_parse(w, &ss, &len, err, sizeof err) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Text into XML character data or an attribute value. */
static void xml_esc(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fputc(s[i], f);
		}
	}
}

static void xml_str(FILE *f, const char *s)
{
	xml_esc(f, s, strlen(s));
}

/* The memstream's text, once closed. */
static char *finish(FILE *f, char **buf)
{
	if (fclose(f) != 0)
		fatal("out of memory");
	return *buf;
}

/* One <incomingServer>/<outgoingServer>, when its listener is on. */
static void tb_server(FILE *f, const struct config *cfg, const char *el, const char *type,
		      const char *listen, const char *socket)
{
	unsigned port = autoconf_listen_port(listen);
	if (!port)
		return;
	fprintf(f, "    <%s type=\"%s\">\n      <hostname>", el, type);
	xml_str(f, cfg->hostname);
	fprintf(f,
		"</hostname>\n      <port>%u</port>\n      <socketType>%s</socketType>\n"
		"      <username>%%EMAILADDRESS%%</username>\n"
		"      <authentication>password-cleartext</authentication>\n    </%s>\n",
		port, socket, el);
}

char *autoconf_thunderbird(const struct config *cfg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	const char *d = cfg->domains, *first = NULL;
	size_t firstn = 0;

	if (!f)
		fatal("out of memory");
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n", f);
	for (;;) { /* the provider is named after the first domain */
		d += strspn(d, " \t");
		size_t n = strcspn(d, " \t");
		if (!n)
			break;
		if (!first) {
			first = d;
			firstn = n;
			fputs("  <emailProvider id=\"", f);
			xml_esc(f, d, n);
			fputs("\">\n", f);
		}
		fputs("    <domain>", f);
		xml_esc(f, d, n);
		fputs("</domain>\n", f);
		d += n;
	}
	if (!first) {
		fputs("  <emailProvider id=\"", f);
		xml_str(f, cfg->hostname);
		fputs("\">\n", f);
		first = cfg->hostname;
		firstn = strlen(first);
	}
	fputs("    <displayName>", f);
	xml_esc(f, first, firstn);
	fputs(" (brev)</displayName>\n    <displayShortName>", f);
	xml_esc(f, first, firstn);
	fputs("</displayShortName>\n", f);
	/* RFC 8314 5.1: implicit TLS listed first, so it is preferred */
	tb_server(f, cfg, "incomingServer", "imap", cfg->listen_imaps, "SSL");
	tb_server(f, cfg, "incomingServer", "imap", cfg->listen_imap, "STARTTLS");
	tb_server(f, cfg, "incomingServer", "pop3", cfg->listen_pop3s, "SSL");
	tb_server(f, cfg, "incomingServer", "pop3", cfg->listen_pop3, "STARTTLS");
	tb_server(f, cfg, "outgoingServer", "smtp", cfg->listen_submissions, "SSL");
	tb_server(f, cfg, "outgoingServer", "smtp", cfg->listen_submission, "STARTTLS");
	fputs("  </emailProvider>\n</clientConfig>\n", f);
	return finish(f, &buf);
}

/* ---- Apple's configuration profile ---- */

/* A version-4-shaped UUID derived from the account and what it is for, so
 * the same account gets the same profile identifiers each time (iOS then
 * replaces an installed profile instead of adding a second). */
static void profile_uuid(const char *addr, const char *what, char out[37])
{
	unsigned char h[16];
	uint64_t a = 1469598103934665603ULL, b = 1099511628211ULL ^ 0x9e3779b97f4a7c15ULL;
	for (const char *p = addr; *p; p++) {
		a = (a ^ (unsigned char)*p) * 1099511628211ULL;
		b = (b ^ (unsigned char)*p) * 0x100000001b3ULL + 7;
	}
	for (const char *p = what; *p; p++) {
		a = (a ^ (unsigned char)*p) * 1099511628211ULL;
		b = (b ^ (unsigned char)*p) * 0x100000001b3ULL + 7;
	}
	for (int i = 0; i < 8; i++) {
		h[i] = (unsigned char)(a >> (8 * i));
		h[8 + i] = (unsigned char)(b >> (8 * i));
	}
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
		 h[13], h[14], h[15]);
}

static void pl_str(FILE *f, const char *key, const char *val)
{
	fputs("\t\t\t<key>", f);
	xml_str(f, key);
	fputs("</key>\n\t\t\t<string>", f);
	xml_str(f, val);
	fputs("</string>\n", f);
}

static void pl_int(FILE *f, const char *key, unsigned v)
{
	fprintf(f, "\t\t\t<key>%s</key>\n\t\t\t<integer>%u</integer>\n", key, v);
}

static void pl_bool(FILE *f, const char *key, int v)
{
	fprintf(f, "\t\t\t<key>%s</key>\n\t\t\t<%s/>\n", key, v ? "true" : "false");
}

char *autoconf_mobileconfig(const struct config *cfg, const char *addr, size_t *len)
{
	char *buf = NULL, u1[37], u2[37], rid[ADDR_MAX + 64];
	unsigned in = autoconf_listen_port(cfg->listen_imaps), out = autoconf_listen_port(cfg->listen_submissions);
	int in_tls = 1, out_tls = 1;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		fatal("out of memory");
	if (!in) { /* implicit TLS off: STARTTLS, which the profile calls SSL too */
		in = autoconf_listen_port(cfg->listen_imap);
		in_tls = in != 0;
	}
	if (!out) {
		out = autoconf_listen_port(cfg->listen_submission);
		out_tls = out != 0;
	}
	profile_uuid(addr, "profile", u1);
	profile_uuid(addr, "mail", u2);
	snprintf(rid, sizeof rid, "brev.%s", cfg->hostname);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	      "<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n\t<array>\n\t\t<dict>\n",
	      f);
	pl_str(f, "EmailAccountDescription", addr);
	pl_str(f, "EmailAccountName", addr);
	pl_str(f, "EmailAccountType", "EmailTypeIMAP");
	pl_str(f, "EmailAddress", addr);
	pl_str(f, "IncomingMailServerAuthentication", "EmailAuthPassword");
	pl_str(f, "IncomingMailServerHostName", cfg->hostname);
	pl_int(f, "IncomingMailServerPortNumber", in);
	pl_bool(f, "IncomingMailServerUseSSL", in_tls);
	pl_str(f, "IncomingMailServerUsername", addr);
	pl_str(f, "OutgoingMailServerAuthentication", "EmailAuthPassword");
	pl_str(f, "OutgoingMailServerHostName", cfg->hostname);
	pl_int(f, "OutgoingMailServerPortNumber", out);
	pl_bool(f, "OutgoingMailServerUseSSL", out_tls);
	pl_str(f, "OutgoingMailServerUsername", addr);
	pl_bool(f, "OutgoingPasswordSameAsIncomingPassword", 1);
	pl_str(f, "PayloadDescription", "Mail on brev");
	pl_str(f, "PayloadDisplayName", addr);
	snprintf(rid, sizeof rid, "brev.%s.mail.%s", cfg->hostname, addr);
	pl_str(f, "PayloadIdentifier", rid);
	pl_str(f, "PayloadType", "com.apple.mail.managed");
	pl_str(f, "PayloadUUID", u2);
	pl_int(f, "PayloadVersion", 1);
	pl_bool(f, "PreventAppSheet", 0);
	pl_bool(f, "PreventMove", 0);
	pl_bool(f, "SMIMEEnabled", 0);
	fputs("\t\t</dict>\n\t</array>\n", f);
	/* the profile itself: one level up, the same indentation rules */
	fputs("\t<key>PayloadDisplayName</key>\n\t<string>", f);
	xml_str(f, addr);
	fputs(" (brev)</string>\n\t<key>PayloadIdentifier</key>\n\t<string>", f);
	snprintf(rid, sizeof rid, "brev.%s.%s", cfg->hostname, addr);
	xml_str(f, rid);
	fprintf(f, "</string>\n\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n"
		   "\t<key>PayloadType</key>\n\t<string>Configuration</string>\n"
		   "\t<key>PayloadUUID</key>\n\t<string>%s</string>\n"
		   "\t<key>PayloadVersion</key>\n\t<integer>1</integer>\n</dict>\n</plist>\n",
		u1);
	return finish(f, &buf);
}

/* The first listener of the pair that is on: implicit TLS preferred. */
static void ad_protocol(FILE *f, const struct config *cfg, const char *type, const char *tls,
			const char *starttls, const char *login)
{
	unsigned port = autoconf_listen_port(tls);
	const char *enc = "SSL";
	if (!port) {
		port = autoconf_listen_port(starttls);
		enc = "TLS";
	}
	if (!port)
		return;
	fprintf(f, "      <Protocol>\n        <Type>%s</Type>\n        <Server>", type);
	xml_str(f, cfg->hostname);
	fprintf(f, "</Server>\n        <Port>%u</Port>\n        <LoginName>", port);
	xml_str(f, login);
	fprintf(f,
		"</LoginName>\n        <DomainRequired>off</DomainRequired>\n"
		"        <SPA>off</SPA>\n        <SSL>on</SSL>\n"
		"        <Encryption>%s</Encryption>\n        <AuthRequired>on</AuthRequired>\n"
		"      </Protocol>\n",
		enc);
}

/* The <EMailAddress> of the request into out: 0, or -1 when there is
 * none or it is not a plausible address (entities are not decoded: a
 * real address has none). */
static int request_address(const char *body, size_t len, char *out, size_t cap)
{
	static const char open[] = "<EMailAddress>", close[] = "</EMailAddress>";
	const char *end = body + len, *p = memmem(body, len, open, sizeof open - 1), *q;
	size_t n;

	if (!p)
		return -1;
	p += sizeof open - 1;
	q = memmem(p, (size_t)(end - p), close, sizeof close - 1);
	if (!q)
		return -1;
	while (p < q && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r' || q[-1] == '\n'))
		q--;
	n = (size_t)(q - p);
	if (n == 0 || n > ADDR_MAX || n >= cap || !memchr(p, '@', n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '&' || c == '"')
			return -1;
	}
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

char *autoconf_autodiscover(const struct config *cfg, const char *body, size_t len, size_t *outlen)
{
	char addr[ADDR_MAX + 1], *buf = NULL;
	FILE *f;

	if (request_address(body, len, addr, sizeof addr) < 0)
		return NULL;
	if (!(f = open_memstream(&buf, outlen)))
		fatal("out of memory");
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	      "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/"
	      "responseschema/2006\">\n"
	      "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
	      "responseschema/2006a\">\n"
	      "    <Account>\n      <AccountType>email</AccountType>\n"
	      "      <Action>settings</Action>\n",
	      f);
	ad_protocol(f, cfg, "IMAP", cfg->listen_imaps, cfg->listen_imap, addr);
	ad_protocol(f, cfg, "POP3", cfg->listen_pop3s, cfg->listen_pop3, addr);
	ad_protocol(f, cfg, "SMTP", cfg->listen_submissions, cfg->listen_submission, addr);
	fputs("    </Account>\n  </Response>\n</Autodiscover>\n", f);
	return finish(f, &buf);
}

size_t autoconf_mta_sts_policy(const struct config *cfg, char *buf, size_t cap)
{
	static const char *const modes[] = {"none", "testing", "enforce"};
	int n;

	if (cfg->tls_mta_sts <= 0 || cfg->tls_mta_sts > 2)
		return 0;
	/* RFC 8461 3.2: CRLF-separated key/value pairs; mx is the name the
	 * MX records point to (brev dns publishes MX -> hostname). */
	n = snprintf(buf, cap, "version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %d\r\n",
		     modes[cfg->tls_mta_sts], cfg->hostname, MTA_STS_MAX_AGE);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void autoconf_mta_sts_id(const struct config *cfg, char *out, size_t cap)
{
	char pol[1024];
	size_t n = autoconf_mta_sts_policy(cfg, pol, sizeof pol);
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: not security, a change detector */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)pol[i]) * 0x100000001b3ull;
	snprintf(out, cap, "%016llx", (unsigned long long)h);
}
