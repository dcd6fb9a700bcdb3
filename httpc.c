/*
 * httpc.c — the small HTTPS client brev needs for ACME (acme.c) and
 * MTA-STS policies (mta_sts.c): one request per connection (Connection:
 * close), the server's certificate always verified (chain and name), the
 * host name resolved through dns.c (the static binary has no NSS), every
 * part of the response bounded: at most HTTPC_HEAD_LINES header lines of
 * HTTPC_LINE_MAX, a body of at most the caller's max, framed by
 * Content-Length or chunked encoding (a body that ends with the connection
 * is refused), no redirects followed.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "dns.h"
#include "httpc.h"
#include "tls.h"
#include "util.h"

#define HTTPC_TIMEOUT_MS 15000 /* connect, and each read or write wait */
#define HTTPC_HEAD_LINES 64    /* response header lines */
#define HTTPC_LINE_MAX	 8192  /* one header line */

/* https://host[:port]/path only: ACME requires TLS (RFC 8555 6.1). */
int httpc_url_parse(const char *s, struct httpc_url *u)
{
	size_t n;
	const char *p;
	if (!s || strncmp(s, "https://", 8) != 0)
		return -1;
	s += 8;
	n = strcspn(s, ":/?#");
	if (n == 0 || n >= sizeof u->host)
		return -1;
	memcpy(u->host, s, n);
	u->host[n] = 0;
	str_lower(u->host);
	s += n;
	u->port = 443;
	if (*s == ':') {
		long long v;
		char num[8];
		n = strcspn(s + 1, "/?#");
		if (n == 0 || n >= sizeof num)
			return -1;
		memcpy(num, s + 1, n);
		num[n] = 0;
		if (parse_int(num, 1, 65535, &v) < 0)
			return -1;
		u->port = (int)v;
		s += 1 + n;
	}
	p = *s == '/' ? s : "/";
	if (strlen(p) >= sizeof u->path)
		return -1;
	for (const char *q = p; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return -1; /* nothing that could split the request line */
	str_copy(u->path, p, sizeof u->path);
	if (u->path[strcspn(u->path, "#")])
		u->path[strcspn(u->path, "#")] = 0;
	return 0;
}

void httpc_resp_clear(struct httpc_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

static int tcp_connect(const struct sockaddr_storage *sa, unsigned len)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e = 0;
	socklen_t el = sizeof e;
	struct pollfd p;
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS)
		goto fail;
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, HTTPC_TIMEOUT_MS) <= 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
		goto fail;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}

/* The server's addresses: an IP literal as it is, a name through dns.c. */
static int resolve(const char *host, int port, struct dns_addr *out, size_t *n, char *err,
		   size_t errlen)
{
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	memset(out, 0, sizeof *out * DNS_ADDR_MAX);
	*n = 0;
	s4 = (struct sockaddr_in *)&out[0].sa;
	s6 = (struct sockaddr_in6 *)&out[0].sa;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		out[0].len = sizeof *s4;
		*n = 1;
	} else if (dns_addrs(host, out, DNS_ADDR_MAX, n, err, errlen) != DNS_OK || *n == 0) {
		if (*n == 0 && !*err)
			snprintf(err, errlen, "%.200s: no address", host);
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		if (out[i].sa.ss_family == AF_INET6) {
			s6 = (struct sockaddr_in6 *)&out[i].sa;
			s6->sin6_port = htons((uint16_t)port);
		} else {
			s4 = (struct sockaddr_in *)&out[i].sa;
			s4->sin_port = htons((uint16_t)port);
		}
	}
	return 0;
}

/* Header lines until the blank one: the ones ACME needs, and the body's
 * framing. -1 with err. */
static int read_head(struct conn *c, struct httpc_resp *r, long long *clen, int *chunked, char *err,
		     size_t errlen)
{
	char *line;
	ssize_t n = conn_getline(c, &line, HTTPC_LINE_MAX, NULL);
	if (n < 0 || sscanf(line, "HTTP/1.%*1[01] %3d", &r->status) != 1 || r->status < 100) {
		snprintf(err, errlen, "no HTTP response");
		return -1;
	}
	*clen = -1;
	*chunked = 0;
	for (int i = 0;; i++) {
		char *v;
		if (i == HTTPC_HEAD_LINES) {
			snprintf(err, errlen, "too many header lines");
			return -1;
		}
		n = conn_getline(c, &line, HTTPC_LINE_MAX, NULL);
		if (n < 0) {
			snprintf(err, errlen, n == -2 ? "header line too long" : "response cut short");
			return -1;
		}
		if (n == 0)
			return 0;
		v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = 0;
		v = str_trim(v);
		if (!str_casecmp_ascii(line, "replay-nonce"))
			str_copy(r->nonce, v, sizeof r->nonce);
		else if (!str_casecmp_ascii(line, "location"))
			str_copy(r->location, v, sizeof r->location);
		else if (!str_casecmp_ascii(line, "content-length")) {
			if (parse_int(v, 0, 1LL << 40, clen) < 0) {
				snprintf(err, errlen, "bad Content-Length");
				return -1;
			}
		} else if (!str_casecmp_ascii(line, "transfer-encoding"))
			*chunked = strstr(v, "chunked") != NULL;
	}
}

static int body_add(struct httpc_resp *r, size_t max, size_t *cap, const void *p, size_t n,
		    char *err, size_t errlen)
{
	if (n > max - r->len) {
		snprintf(err, errlen, "response larger than %zu bytes", max);
		return -1;
	}
	if (r->len + n + 1 > *cap) {
		*cap = r->len + n + 1;
		r->body = xrealloc(r->body, *cap);
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = 0;
	return 0;
}

static int read_body(struct conn *c, struct httpc_resp *r, size_t max, long long clen, int chunked,
		     char *err, size_t errlen)
{
	size_t cap = 0;
	char buf[4096], *line;
	ssize_t n;

	if (body_add(r, max, &cap, "", 0, err, errlen) < 0)
		return -1;
	if (!chunked && clen >= 0) {
		if ((unsigned long long)clen > max) {
			snprintf(err, errlen, "response larger than %zu bytes", max);
			return -1;
		}
		r->body = xrealloc(r->body, (size_t)clen + 1);
		if (clen && conn_read_n(c, r->body, (size_t)clen) < 0) {
			snprintf(err, errlen, "response body cut short");
			return -1;
		}
		r->len = (size_t)clen;
		r->body[r->len] = 0;
		return 0;
	}
	if (!chunked) {
		/* RFC 9112 6.3 allows a body that ends when the server closes;
		 * ACME servers send a length, and refusing the rest keeps the
		 * reading bounded and simple. */
		snprintf(err, errlen, "response without Content-Length or chunked encoding");
		return -1;
	}
	for (;;) { /* RFC 9112 7.1 */
		unsigned long long sz;
		char *end;
		n = conn_getline(c, &line, 1024, NULL);
		if (n < 0) {
			snprintf(err, errlen, "bad chunk");
			return -1;
		}
		errno = 0;
		sz = strtoull(line, &end, 16);
		if (end == line || errno) {
			snprintf(err, errlen, "bad chunk size");
			return -1;
		}
		if (sz == 0)
			break;
		if (sz > max - r->len) {
			snprintf(err, errlen, "response larger than %zu bytes", max);
			return -1;
		}
		while (sz) {
			size_t k = sz < sizeof buf ? (size_t)sz : sizeof buf;
			if (conn_read_n(c, buf, k) < 0 || body_add(r, max, &cap, buf, k, err, errlen) < 0) {
				if (!*err)
					snprintf(err, errlen, "response body cut short");
				return -1;
			}
			sz -= k;
		}
		if (conn_getline(c, &line, 16, NULL) != 0) {
			snprintf(err, errlen, "bad chunk end");
			return -1;
		}
	}
	for (int i = 0; i < HTTPC_HEAD_LINES; i++) /* trailers */
		if (conn_getline(c, &line, HTTPC_LINE_MAX, NULL) <= 0)
			return 0;
	return 0;
}

int httpc_request(struct tls_client *tlsc, const char *method, const char *urls,
		  const char *body, const char *ctype, size_t max, struct httpc_resp *r, char *err,
		  size_t errlen)
{
	struct httpc_url u;
	struct dns_addr addrs[DNS_ADDR_MAX];
	size_t naddr = 0;
	struct conn *c = NULL;
	long long clen;
	int chunked, fd = -1, ret = -1;
	char why[256] = "";

	memset(r, 0, sizeof *r);
	if (httpc_url_parse(urls, &u) < 0) {
		snprintf(err, errlen, "not an https URL: %.200s", urls ? urls : "(none)");
		return -1;
	}
	if (resolve(u.host, u.port, addrs, &naddr, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", u.host, why);
		return -1;
	}
	for (size_t i = 0; i < naddr && fd < 0; i++)
		fd = tcp_connect(&addrs[i].sa, addrs[i].len);
	if (fd < 0) {
		snprintf(err, errlen, "%s:%d: cannot connect", u.host, u.port);
		return -1;
	}
	c = conn_new(fd, u.host, u.port, "");
	conn_set_timeout(c, HTTPC_TIMEOUT_MS);
	if (conn_tls_connect(c, tlsc, u.host) < 0) {
		snprintf(err, errlen, "%s:%d: TLS handshake failed", u.host, u.port);
		goto out;
	}
	if (!conn_tls_verified(c)) {
		snprintf(err, errlen, "%s:%d: certificate not verified (%s)", u.host, u.port,
			 tls_verify_reason(conn_tls_verify_error(c)));
		goto out;
	}
	conn_printf(c,
		    "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: brev\r\nAccept: */*\r\nConnection: close\r\n",
		    method, u.path, u.host, u.port);
	if (body)
		conn_printf(c, "Content-Type: %s\r\nContent-Length: %zu\r\n",
			    ctype ? ctype : "application/octet-stream", strlen(body));
	conn_puts(c, "\r\n");
	if (body)
		conn_puts(c, body);
	if (conn_flush(c) < 0) {
		snprintf(err, errlen, "%s:%d: write failed", u.host, u.port);
		goto out;
	}
	if (read_head(c, r, &clen, &chunked, why, sizeof why) < 0 ||
	    (strcmp(method, "HEAD") != 0 &&
	     read_body(c, r, max, clen, chunked, why, sizeof why) < 0)) {
		snprintf(err, errlen, "%s %.200s: %s", method, urls, why);
		httpc_resp_clear(r);
		goto out;
	}
	ret = 0;
out:
	conn_free(&c);
	return ret;
}

